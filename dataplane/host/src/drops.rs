//! What the session host refused or dropped, by stable reason label.
//!
//! Every datagram the endpoint rejects is counted under its `PacketError`'s label (`bad_seal`,
//! `replayed`, `token_expired`, …, listed in PROTOCOL.md), and every refusal the host makes itself
//! under one of [`HostDrop`]'s labels; the node exports both as `meridian_drops_total{reason}`.
//! Drops are rare next to traffic, except under a flood, where one hash of a short static string per
//! dropped datagram is still far below the cost of the AEAD open it replaced.
#![forbid(unsafe_code)]

use std::collections::HashMap;

/// Refusals the host makes (the endpoint's own are `PacketError` labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostDrop {
    /// A message inside an authenticated packet did not decode.
    BadMessage,
    /// A session's token named a zone this host does not run (the client gets a Disconnect saying so).
    UnknownZone,
    /// The zone (all its layers) is full.
    ZoneFull,
    /// A protocol send queue refused a message for a session.
    ChannelFull,
    /// A session had `PENDING_ACTIONS_MAX` actions waiting for its next input tick.
    ActionQueueFull,
    /// A zone's per-tick input queue was full.
    ZoneInputQueueFull,
    /// Global chat: the node runs without Redis (`--redis`), so nothing carries it.
    GlobalChatUnavailable,
    /// Global chat lines waiting for the node's chat bridge filled their queue.
    GlobalChatQueueFull,
}

impl HostDrop {
    pub const ALL: [HostDrop; 8] = [
        HostDrop::BadMessage,
        HostDrop::UnknownZone,
        HostDrop::ZoneFull,
        HostDrop::ChannelFull,
        HostDrop::ActionQueueFull,
        HostDrop::ZoneInputQueueFull,
        HostDrop::GlobalChatUnavailable,
        HostDrop::GlobalChatQueueFull,
    ];

    pub fn label(self) -> &'static str {
        match self {
            HostDrop::BadMessage => "bad_message",
            HostDrop::UnknownZone => "unknown_zone",
            HostDrop::ZoneFull => "zone_full",
            HostDrop::ChannelFull => "channel_full",
            HostDrop::ActionQueueFull => "action_queue_full",
            HostDrop::ZoneInputQueueFull => "zone_input_queue_full",
            HostDrop::GlobalChatUnavailable => "global_chat_unavailable",
            HostDrop::GlobalChatQueueFull => "global_chat_queue_full",
        }
    }
}

/// Counts by reason label. Monotonic: readers publish the growth since their last look.
#[derive(Debug, Default, Clone)]
pub struct DropCounts {
    by_label: HashMap<&'static str, u64>,
}

impl DropCounts {
    pub fn add(&mut self, label: &'static str, count: u64) {
        *self.by_label.entry(label).or_insert(0) += count;
    }

    pub fn get(&self, label: &str) -> u64 {
        self.by_label.get(label).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.by_label.values().sum()
    }

    /// Every reason seen so far with its count (no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.by_label.iter().map(|(label, count)| (*label, *count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_snake_case() {
        let mut labels: Vec<&str> = HostDrop::ALL.iter().map(|drop| drop.label()).collect();
        assert!(
            labels
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), HostDrop::ALL.len());
    }

    #[test]
    fn counts_accumulate_per_label() {
        let mut counts = DropCounts::default();
        counts.add("replayed", 2);
        counts.add(HostDrop::BadMessage.label(), 1);
        counts.add("replayed", 3);
        assert_eq!(counts.get("replayed"), 5);
        assert_eq!(counts.get("bad_message"), 1);
        assert_eq!(counts.get("bad_seal"), 0);
        assert_eq!(counts.total(), 6);
    }
}
