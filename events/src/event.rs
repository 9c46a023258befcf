//! One game event and its encoding on the topic.
//!
//! The record value is the event as a JSON object (readable with `kcat`, decodable by any consumer
//! without Meridian's code); the record key is the player id in decimal, so all of a player's events
//! land in one partition; the record timestamp is `timestamp_ms`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened. Serialised in snake case (`"kill"`, `"loot"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Kill,
    Death,
    Loot,
    Trade,
    Login,
    Logout,
    Handoff,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::Kill,
        EventType::Death,
        EventType::Loot,
        EventType::Trade,
        EventType::Login,
        EventType::Logout,
        EventType::Handoff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Kill => "kill",
            EventType::Death => "death",
            EventType::Loot => "loot",
            EventType::Trade => "trade",
            EventType::Login => "login",
            EventType::Logout => "logout",
            EventType::Handoff => "handoff",
        }
    }
}

/// A unique event id: what a consumer deduplicates on (delivery is at-least-once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A random (v4) id; costs a call to the OS random source. Hot paths use [`EventIdSource`].
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Hands out unique ids cheaply: a random 64-bit prefix drawn once, then a counter. Two sources
/// collide only if they draw the same prefix (one chance in 2^64 per pair), so every zone, worker or
/// process keeps its own source and the tick pays an increment per id, not a system call.
#[derive(Debug)]
pub struct EventIdSource {
    prefix: u64,
    next: u64,
}

impl EventIdSource {
    pub fn new() -> Self {
        Self {
            prefix: Uuid::new_v4().as_u64_pair().0,
            next: 0,
        }
    }

    pub fn next_id(&mut self) -> EventId {
        let id = EventId(Uuid::from_u64_pair(self.prefix, self.next));
        self.next += 1;
        id
    }
}

impl Default for EventIdSource {
    fn default() -> Self {
        Self::new()
    }
}

/// One game event, as logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event; the same event sent twice (a retry) has the same id.
    pub id: EventId,
    pub player_id: u64,
    pub event_type: EventType,
    /// Free-form details (victim, item, trade partner, …); `null` when there are none.
    pub payload: serde_json::Value,
    /// Wall-clock time of the event, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub zone_id: u32,
    /// The zone's fencing token when it logged the event: a consumer can discard events of a zone
    /// instance that had already been replaced (a lower token than one already seen for the zone).
    pub fencing_token: u64,
}

/// Why a record's value is not an event.
#[derive(Debug, thiserror::Error)]
#[error("record value is not a Meridian event: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

impl Event {
    /// The record value.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a struct of plain fields and a `Value` into a Vec cannot fail: every map key
        // is a string and no Serialize impl here returns an error.
        serde_json::to_vec(self).expect("an Event always serialises")
    }

    /// Decodes a record value written by [`Event::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The record key: the player id in decimal.
    pub fn key(&self) -> String {
        self.player_id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: EventType) -> Event {
        Event {
            id: EventId::random(),
            player_id: 42,
            event_type,
            payload: serde_json::json!({"item": 7, "count": 2}),
            timestamp_ms: 1_700_000_000_123,
            zone_id: 3,
            fencing_token: 9,
        }
    }

    #[test]
    fn encode_decode_round_trips_every_type() {
        for event_type in EventType::ALL {
            let original = event(event_type);
            let decoded = Event::decode(&original.encode()).unwrap();
            assert_eq!(decoded, original);
        }
    }

    #[test]
    fn wire_form_uses_snake_case_type_and_string_id() {
        let original = event(EventType::Handoff);
        let value: serde_json::Value = serde_json::from_slice(&original.encode()).unwrap();
        assert_eq!(value["event_type"], "handoff");
        assert_eq!(value["id"], original.id.to_string());
        assert_eq!(value["player_id"], 42);
        assert_eq!(original.key(), "42");
        for event_type in EventType::ALL {
            let json = serde_json::to_value(event_type).unwrap();
            assert_eq!(json, event_type.as_str());
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(Event::decode(b"not json").is_err());
        assert!(Event::decode(br#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn id_source_hands_out_distinct_ids() {
        let mut a = EventIdSource::new();
        let mut b = EventIdSource::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.next_id()));
            assert!(seen.insert(b.next_id()));
        }
    }
}
