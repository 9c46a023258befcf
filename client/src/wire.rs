//! Game messages as the client SDK speaks them: `meridian_proto::messages` (what the node decodes)
//! plus the few extensions the client needs that the proto does not carry yet.
//!
//! From the proto: `ClientMessage::Input` (the last N ticks of `MoveInput`, newest first),
//! `ClientMessage::Action`, `ClientMessage::Chat` up; `ServerMessage::Snapshot` and
//! `ServerMessage::Chat` down.
//!
//! Extensions (type bytes ≥ 0x80, so they never collide with the proto's; PROPOSED for
//! `meridian_proto::messages`, which the node would then speak):
//! - server → client, reliable, `0x82 Event`: the zone's `ClientEvent`s, above all `Joined { entity }`
//!   (without it the client cannot know which entity it is, and falls back to recognising itself by
//!   its velocity, see `GameClient`);
//! - server → client, unreliable, `0x81 Snapshot`: last applied input tick `u32` (`u32::MAX` = none),
//!   then the snapshot payload (without it reconciliation infers the tick from positions);
//! - client → server, unreliable, `0x80 SnapshotAck`: tick `u32` (without acks the server never gets a
//!   baseline and every snapshot is sent whole). Sent only when `ClientConfig::wire_extensions` is on,
//!   since today's node counts unknown message types as bad messages.
//!
//! Layout of events: `0x01 Joined` entity `u32` | `0x02 JoinRefused` reason `u8` | `0x03 Chat` from
//! `u32`, length `u16`, text | `0x04 Died` killer `u32` (`u32::MAX` = none) | `0x05 Respawned` |
//! `0x06 AttackResult` target `u32`, hit `u8` | `0x07 InventoryGranted` item `u32`, quantity `u16` |
//! `0x08 PickUpRefused` loot `u32`. Little endian; decoders are total and reject trailing bytes.
//!
//! Movement quantisation: a `MoveInput` carries the direction as two `i8` in -127..=127. The client
//! predicts with exactly what the server will use, `move_direction` (÷127, then scaled down to length
//! 1 if longer: the proto says the server clamps the vector's length); the node must apply the same.

use std::sync::Arc;

pub use meridian_proto::messages::{
    Action as ProtoAction, ChatChannel, ClientMessage, INPUT_REDUNDANCY_MAX, InputMessage, MessageError, MoveInput,
    ServerMessage,
};
use thiserror::Error;

pub const TAG_EXT_SNAPSHOT_ACK: u8 = 0x80;
pub const TAG_EXT_SNAPSHOT: u8 = 0x81;
pub const TAG_EXT_EVENT: u8 = 0x82;
/// Largest snapshot payload an extended snapshot message carries (one unreliable message minus the
/// 5-byte header): the zone's `snapshot_budget_bytes` must not exceed it, or the connection refuses
/// the message as too large.
pub const EXT_SNAPSHOT_PAYLOAD_BYTES_MAX: usize = meridian_proto::connection::UNRELIABLE_MESSAGE_BYTES_MAX - 5;
/// Longest chat text in an extension event (the proto's chat limit).
pub const EVENT_CHAT_BYTES_MAX: usize = meridian_proto::messages::CHAT_TEXT_BYTES_MAX;
const NONE_U32: u32 = u32::MAX;
const AXIS_STEPS: f32 = 127.0;
const YAW_STEPS: f32 = 65_536.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("proto message: {0}")]
    Message(#[from] MessageError),
    #[error("extension message truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown {what} kind {kind:#04x}")]
    UnknownKind { what: &'static str, kind: u8 },
    #[error("chat text of {bytes} bytes over the limit or not UTF-8")]
    BadChat { bytes: usize },
    #[error("{extra} trailing bytes")]
    Trailing { extra: usize },
    #[error("server message type {kind} not supported by this SDK")]
    Unsupported { kind: u8 },
}

/// Why the zone refused a join (mirrors `meridian_zone::JoinRefusal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    ZoneFull,
    AlreadyJoined,
    EntityLimit,
}

/// A reliable server event (extension `0x82`, mirrors `meridian_zone::ClientEvent`).
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    Joined { entity: u32 },
    JoinRefused { reason: JoinRefused },
    Chat { from_entity: u32, text: Arc<str> },
    Died { killer_entity: Option<u32> },
    Respawned,
    AttackResult { target: u32, hit: bool },
    InventoryGranted { item_id: u32, quantity: u16 },
    PickUpRefused { loot: u32 },
}

/// Anything the server sends, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Downlink {
    Snapshot { last_input_tick: Option<u32>, payload: Vec<u8> },
    Chat { channel: ChatChannel, sender_id: u32, text: String },
    Event(ServerEvent),
}

/// The direction the server applies for a move input: ÷127 per axis, scaled to length ≤ 1.
pub fn move_direction(right: i8, forward: i8) -> [f32; 2] {
    MoveInput { move_right: right, move_forward: forward, ..MoveInput::default() }.direction()
}

/// Quantises a wished direction (x → `move_right`, y → `move_forward`, ground plane, world axes).
pub fn quantise_direction(direction: [f32; 2]) -> (i8, i8) {
    let axis = |value: f32| if value.is_finite() { (value.clamp(-1.0, 1.0) * AXIS_STEPS).round() as i8 } else { 0 };
    (axis(direction[0]), axis(direction[1]))
}

pub fn quantise_yaw(yaw: f32) -> u16 {
    if !yaw.is_finite() {
        return 0;
    }
    let turns = yaw / std::f32::consts::TAU;
    ((turns - turns.floor()) * YAW_STEPS) as u32 as u16
}

pub fn yaw_radians(yaw: u16) -> f32 {
    MoveInput { yaw, ..MoveInput::default() }.yaw_radians()
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], WireError> {
        let end = self.offset.checked_add(count).filter(|end| *end <= self.bytes.len()).ok_or(WireError::Truncated { offset: self.offset })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn optional_u32(&mut self) -> Result<Option<u32>, WireError> {
        Ok(Some(self.u32()?).filter(|value| *value != NONE_U32))
    }
    fn text(&mut self) -> Result<Arc<str>, WireError> {
        let length = usize::from(self.u16()?);
        if length > EVENT_CHAT_BYTES_MAX {
            return Err(WireError::BadChat { bytes: length });
        }
        let bytes = self.take(length)?;
        std::str::from_utf8(bytes).map(Arc::from).map_err(|_| WireError::BadChat { bytes: length })
    }
    fn finish(&self) -> Result<(), WireError> {
        match self.bytes.len() - self.offset {
            0 => Ok(()),
            extra => Err(WireError::Trailing { extra }),
        }
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(EVENT_CHAT_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..end]);
}

/// Decodes a server message: the proto's, or an extension.
pub fn decode_downlink(bytes: &[u8]) -> Result<Downlink, WireError> {
    match bytes.first() {
        Some(&TAG_EXT_SNAPSHOT) => {
            let mut reader = Reader { bytes, offset: 1 };
            let last_input_tick = reader.optional_u32()?;
            Ok(Downlink::Snapshot { last_input_tick, payload: bytes[reader.offset..].to_vec() })
        }
        Some(&TAG_EXT_EVENT) => decode_event(bytes).map(Downlink::Event),
        _ => match ServerMessage::decode(bytes)? {
            ServerMessage::Snapshot(payload) => Ok(Downlink::Snapshot { last_input_tick: None, payload }),
            ServerMessage::Chat { channel, sender_id, text } => Ok(Downlink::Chat { channel, sender_id, text }),
            // The proto is growing (events); what this SDK does not know yet it drops and counts.
            #[allow(unreachable_patterns)]
            _ => Err(WireError::Unsupported { kind: bytes[0] }),
        },
    }
}

/// Extension: a snapshot with the last applied input tick (server side; used by tests and proposed
/// for the node).
pub fn encode_ext_snapshot(last_input_tick: Option<u32>, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_EXT_SNAPSHOT);
    out.extend_from_slice(&last_input_tick.unwrap_or(NONE_U32).to_le_bytes());
    out.extend_from_slice(payload);
}

pub fn encode_snapshot_ack(tick: u32, out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_EXT_SNAPSHOT_ACK);
    out.extend_from_slice(&tick.to_le_bytes());
}

/// Extension: the acked snapshot tick, if `bytes` is a snapshot ack.
pub fn decode_snapshot_ack(bytes: &[u8]) -> Result<u32, WireError> {
    let mut reader = Reader { bytes, offset: 0 };
    match reader.u8()? {
        TAG_EXT_SNAPSHOT_ACK => {}
        kind => return Err(WireError::UnknownKind { what: "uplink extension", kind }),
    }
    let tick = reader.u32()?;
    reader.finish()?;
    Ok(tick)
}

pub fn encode_event(event: &ServerEvent, out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_EXT_EVENT);
    match event {
        ServerEvent::Joined { entity } => {
            out.push(0x01);
            out.extend_from_slice(&entity.to_le_bytes());
        }
        ServerEvent::JoinRefused { reason } => {
            out.push(0x02);
            out.push(match reason {
                JoinRefused::ZoneFull => 0,
                JoinRefused::AlreadyJoined => 1,
                JoinRefused::EntityLimit => 2,
            });
        }
        ServerEvent::Chat { from_entity, text } => {
            out.push(0x03);
            out.extend_from_slice(&from_entity.to_le_bytes());
            put_text(out, text);
        }
        ServerEvent::Died { killer_entity } => {
            out.push(0x04);
            out.extend_from_slice(&killer_entity.unwrap_or(NONE_U32).to_le_bytes());
        }
        ServerEvent::Respawned => out.push(0x05),
        ServerEvent::AttackResult { target, hit } => {
            out.push(0x06);
            out.extend_from_slice(&target.to_le_bytes());
            out.push(u8::from(*hit));
        }
        ServerEvent::InventoryGranted { item_id, quantity } => {
            out.push(0x07);
            out.extend_from_slice(&item_id.to_le_bytes());
            out.extend_from_slice(&quantity.to_le_bytes());
        }
        ServerEvent::PickUpRefused { loot } => {
            out.push(0x08);
            out.extend_from_slice(&loot.to_le_bytes());
        }
    }
}

pub fn decode_event(bytes: &[u8]) -> Result<ServerEvent, WireError> {
    let mut reader = Reader { bytes, offset: 0 };
    match reader.u8()? {
        TAG_EXT_EVENT => {}
        kind => return Err(WireError::UnknownKind { what: "event message", kind }),
    }
    let event = match reader.u8()? {
        0x01 => ServerEvent::Joined { entity: reader.u32()? },
        0x02 => ServerEvent::JoinRefused {
            reason: match reader.u8()? {
                0 => JoinRefused::ZoneFull,
                1 => JoinRefused::AlreadyJoined,
                2 => JoinRefused::EntityLimit,
                kind => return Err(WireError::UnknownKind { what: "join refusal", kind }),
            },
        },
        0x03 => ServerEvent::Chat { from_entity: reader.u32()?, text: reader.text()? },
        0x04 => ServerEvent::Died { killer_entity: reader.optional_u32()? },
        0x05 => ServerEvent::Respawned,
        0x06 => ServerEvent::AttackResult {
            target: reader.u32()?,
            hit: match reader.u8()? {
                0 => false,
                1 => true,
                kind => return Err(WireError::UnknownKind { what: "hit flag", kind }),
            },
        },
        0x07 => ServerEvent::InventoryGranted { item_id: reader.u32()?, quantity: reader.u16()? },
        0x08 => ServerEvent::PickUpRefused { loot: reader.u32()? },
        kind => return Err(WireError::UnknownKind { what: "event", kind }),
    };
    reader.finish()?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_messages_round_trip_and_proto_ones_pass_through() {
        let mut out = Vec::new();
        let events = [
            ServerEvent::Joined { entity: 5 },
            ServerEvent::JoinRefused { reason: JoinRefused::EntityLimit },
            ServerEvent::Chat { from_entity: 2, text: Arc::from("gg ünïcode") },
            ServerEvent::Died { killer_entity: None },
            ServerEvent::Died { killer_entity: Some(4) },
            ServerEvent::Respawned,
            ServerEvent::AttackResult { target: 1, hit: true },
            ServerEvent::InventoryGranted { item_id: 77, quantity: 3 },
            ServerEvent::PickUpRefused { loot: 8 },
        ];
        for event in events {
            encode_event(&event, &mut out);
            assert_eq!(decode_downlink(&out), Ok(Downlink::Event(event)));
            for end in 0..out.len() {
                assert!(decode_downlink(&out[..end]).is_err(), "prefix {end} accepted");
            }
        }
        encode_ext_snapshot(Some(9), b"payload", &mut out);
        assert_eq!(decode_downlink(&out), Ok(Downlink::Snapshot { last_input_tick: Some(9), payload: b"payload".to_vec() }));
        encode_snapshot_ack(41, &mut out);
        assert_eq!(decode_snapshot_ack(&out), Ok(41));
        out.clear();
        ServerMessage::Snapshot(vec![1, 2, 3]).encode(&mut out);
        assert_eq!(decode_downlink(&out), Ok(Downlink::Snapshot { last_input_tick: None, payload: vec![1, 2, 3] }));
        out.clear();
        ServerMessage::Chat { channel: ChatChannel::Zone, sender_id: 3, text: "hi".into() }.encode(&mut out);
        assert_eq!(decode_downlink(&out), Ok(Downlink::Chat { channel: ChatChannel::Zone, sender_id: 3, text: "hi".into() }));
        assert_eq!(decode_downlink(&[]), Err(WireError::Message(MessageError::Truncated { offset: 0 })));
    }

    #[test]
    fn decoders_are_total_on_noise() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        for round in 0..20_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 48) as usize;
            let mut noise: Vec<u8> = (0..length).map(|i| (state >> (i % 8 * 8)) as u8 ^ i as u8).collect();
            if let Some(first) = noise.first_mut() {
                *first = [TAG_EXT_EVENT, TAG_EXT_SNAPSHOT, TAG_EXT_SNAPSHOT_ACK, 1, 2][round as usize % 5];
            }
            let _ = decode_downlink(&noise);
            let _ = decode_snapshot_ack(&noise);
        }
    }

    #[test]
    fn quantised_directions_are_what_the_server_applies() {
        assert_eq!(quantise_direction([1.0, 0.0]), (127, 0));
        assert_eq!(move_direction(127, 0), [1.0, 0.0]);
        assert_eq!(quantise_direction([f32::NAN, 5.0]), (0, 127));
        // A full diagonal is longer than 1 and is scaled back to the speed limit.
        let diagonal = move_direction(127, 127);
        let length = (diagonal[0] * diagonal[0] + diagonal[1] * diagonal[1]).sqrt();
        assert!((length - 1.0).abs() < 1e-6, "{length}");
        let (x, y) = quantise_direction([0.6, -0.8]);
        let applied = move_direction(x, y);
        assert!((applied[0] - 0.6).abs() < 0.005 && (applied[1] + 0.8).abs() < 0.005, "{applied:?}");
        assert!(applied[0] * applied[0] + applied[1] * applied[1] <= 1.0 + 1e-6);
        assert_eq!(move_direction(-128, 0), [-1.0, 0.0]);
        let yaw = yaw_radians(quantise_yaw(-std::f32::consts::FRAC_PI_2));
        assert!((yaw - 1.5 * std::f32::consts::PI).abs() < 1e-3, "{yaw}");
    }
}
