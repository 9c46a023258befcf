//! Game messages on the session's channels, as the client SDK speaks them.
//!
//! PROVISIONAL: `meridian-proto` is getting a `messages` module (inputs with redundancy, actions,
//! chat, events). Until it lands this module is the codec, and both the SDK and its in-process tests
//! use it; when it lands, the bodies here become calls into it and the types stay. Every decoder is
//! total: any byte string gives `Ok` or a `WireError`.
//!
//! Layout (little endian):
//! - client → server, unreliable: `0x01 Inputs`: snapshot ack `u32` (`u32::MAX` = none), count `u8`
//!   (1..=`INPUTS_PER_MESSAGE_MAX`, oldest first), then per input: client tick `u32`, has-move `u8`,
//!   and if 1: direction x, y, yaw, claimed x, y, z as `f32`.
//! - client → server, reliable: `0x02 Action`: client tick `u32`, then `0x01 Attack` target `u32`,
//!   direction 3×`f32` | `0x02 PickUp` loot `u32` | `0x03 Chat` length `u16`, UTF-8 text.
//! - server → client, unreliable: `0x81 Snapshot`: last applied input tick `u32` (`u32::MAX` =
//!   none yet), then the `SnapshotSender` payload.
//! - server → client, reliable: `0x82 Event`: `0x01 Joined` entity `u32` | `0x02 JoinRefused` reason
//!   `u8` | `0x03 Chat` from `u32`, length `u16`, text | `0x04 Died` killer `u32` (`u32::MAX` = none)
//!   | `0x05 Respawned` | `0x06 AttackResult` target `u32`, hit `u8` | `0x07 InventoryGranted` item
//!   `u32`, quantity `u16` | `0x08 PickUpRefused` loot `u32`.

use std::sync::Arc;

use meridian_zone::input::CHAT_BYTES_MAX;
use meridian_zone::{Action, MoveIntent, PlayerInput};
use thiserror::Error;

/// Most inputs one datagram carries (the newest and the ones before it).
pub const INPUTS_PER_MESSAGE_MAX: usize = 8;
pub const TAG_INPUTS: u8 = 0x01;
pub const TAG_ACTION: u8 = 0x02;
pub const TAG_SNAPSHOT: u8 = 0x81;
pub const TAG_EVENT: u8 = 0x82;
const NONE_U32: u32 = u32::MAX;
const INPUT_BYTES_MAX: usize = 4 + 1 + 6 * 4;
/// Largest inputs message.
pub const INPUTS_MESSAGE_BYTES_MAX: usize = 1 + 4 + 1 + INPUTS_PER_MESSAGE_MAX * INPUT_BYTES_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("message truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown message tag {tag:#04x}")]
    UnknownTag { tag: u8 },
    #[error("unknown {what} kind {kind:#04x}")]
    UnknownKind { what: &'static str, kind: u8 },
    #[error("{count} inputs in one message (1..={INPUTS_PER_MESSAGE_MAX})")]
    InputCount { count: usize },
    #[error("chat text of {bytes} bytes (limit {CHAT_BYTES_MAX}) or not UTF-8")]
    BadChat { bytes: usize },
    #[error("{extra} trailing bytes")]
    Trailing { extra: usize },
}

/// Why the zone refused a join (mirrors `meridian_zone::JoinRefusal` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    ZoneFull,
    AlreadyJoined,
    EntityLimit,
}

/// A reliable server event.
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

/// An unreliable snapshot message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMessage<'a> {
    /// The last client input tick the zone applied for this client, if the server says.
    pub last_input_tick: Option<u32>,
    pub payload: &'a [u8],
}

/// An inputs message as the server decodes it.
#[derive(Clone, Debug, PartialEq)]
pub struct InputsMessage {
    pub snapshot_ack: Option<u32>,
    pub inputs: Vec<PlayerInput>,
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
    fn f32(&mut self) -> Result<f32, WireError> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn optional_u32(&mut self) -> Result<Option<u32>, WireError> {
        Ok(Some(self.u32()?).filter(|value| *value != NONE_U32))
    }
    fn text(&mut self) -> Result<Arc<str>, WireError> {
        let length = usize::from(self.u16()?);
        if length > CHAT_BYTES_MAX {
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
    // Longer texts are cut at a character boundary; the zone would drop them anyway.
    let mut end = text.len().min(CHAT_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..end]);
}

/// Encodes inputs (oldest first, at most `INPUTS_PER_MESSAGE_MAX`) and a snapshot ack.
pub fn encode_inputs(inputs: &[PlayerInput], snapshot_ack: Option<u32>, out: &mut Vec<u8>) {
    assert!((1..=INPUTS_PER_MESSAGE_MAX).contains(&inputs.len()));
    out.clear();
    out.push(TAG_INPUTS);
    out.extend_from_slice(&snapshot_ack.unwrap_or(NONE_U32).to_le_bytes());
    out.push(inputs.len() as u8);
    for input in inputs {
        out.extend_from_slice(&input.client_tick.to_le_bytes());
        match &input.movement {
            None => out.push(0),
            Some(intent) => {
                out.push(1);
                let numbers = [intent.direction[0], intent.direction[1], intent.yaw];
                for value in numbers.iter().chain(intent.claimed_position_m.iter()) {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
        }
    }
    debug_assert!(out.len() <= INPUTS_MESSAGE_BYTES_MAX);
}

pub fn decode_inputs(bytes: &[u8]) -> Result<InputsMessage, WireError> {
    let mut reader = Reader { bytes, offset: 0 };
    let tag = reader.u8()?;
    if tag != TAG_INPUTS {
        return Err(WireError::UnknownTag { tag });
    }
    let snapshot_ack = reader.optional_u32()?;
    let count = usize::from(reader.u8()?);
    if !(1..=INPUTS_PER_MESSAGE_MAX).contains(&count) {
        return Err(WireError::InputCount { count });
    }
    let mut inputs = Vec::with_capacity(count);
    for _ in 0..count {
        let client_tick = reader.u32()?;
        let movement = match reader.u8()? {
            0 => None,
            1 => Some(MoveIntent {
                direction: [reader.f32()?, reader.f32()?],
                yaw: reader.f32()?,
                claimed_position_m: [reader.f32()?, reader.f32()?, reader.f32()?],
            }),
            kind => return Err(WireError::UnknownKind { what: "movement", kind }),
        };
        inputs.push(PlayerInput { client_tick, movement, action: None });
    }
    reader.finish()?;
    Ok(InputsMessage { snapshot_ack, inputs })
}

pub fn encode_action(client_tick: u32, action: &Action, out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_ACTION);
    out.extend_from_slice(&client_tick.to_le_bytes());
    match action {
        Action::Attack { target, direction } => {
            out.push(0x01);
            out.extend_from_slice(&target.to_le_bytes());
            for value in direction {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        Action::PickUp { loot } => {
            out.push(0x02);
            out.extend_from_slice(&loot.to_le_bytes());
        }
        Action::Chat { text } => {
            out.push(0x03);
            put_text(out, text);
        }
    }
}

/// Decodes an action message into the input it rides on (no movement).
pub fn decode_action(bytes: &[u8]) -> Result<PlayerInput, WireError> {
    let mut reader = Reader { bytes, offset: 0 };
    let tag = reader.u8()?;
    if tag != TAG_ACTION {
        return Err(WireError::UnknownTag { tag });
    }
    let client_tick = reader.u32()?;
    let action = match reader.u8()? {
        0x01 => Action::Attack { target: reader.u32()?, direction: [reader.f32()?, reader.f32()?, reader.f32()?] },
        0x02 => Action::PickUp { loot: reader.u32()? },
        0x03 => Action::Chat { text: reader.text()? },
        kind => return Err(WireError::UnknownKind { what: "action", kind }),
    };
    reader.finish()?;
    Ok(PlayerInput { client_tick, movement: None, action: Some(action) })
}

pub fn encode_snapshot(last_input_tick: Option<u32>, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_SNAPSHOT);
    out.extend_from_slice(&last_input_tick.unwrap_or(NONE_U32).to_le_bytes());
    out.extend_from_slice(payload);
}

pub fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotMessage<'_>, WireError> {
    let mut reader = Reader { bytes, offset: 0 };
    let tag = reader.u8()?;
    if tag != TAG_SNAPSHOT {
        return Err(WireError::UnknownTag { tag });
    }
    let last_input_tick = reader.optional_u32()?;
    Ok(SnapshotMessage { last_input_tick, payload: &bytes[reader.offset..] })
}

pub fn encode_event(event: &ServerEvent, out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG_EVENT);
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
    let tag = reader.u8()?;
    if tag != TAG_EVENT {
        return Err(WireError::UnknownTag { tag });
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
    fn messages_round_trip() {
        let inputs: Vec<PlayerInput> = (7..10)
            .map(|tick| PlayerInput {
                client_tick: tick,
                movement: (tick != 8).then_some(MoveIntent { direction: [0.6, -0.8], yaw: 1.5, claimed_position_m: [1.0, 2.0, 3.0] }),
                action: None,
            })
            .collect();
        let mut out = Vec::new();
        encode_inputs(&inputs, Some(41), &mut out);
        assert_eq!(decode_inputs(&out), Ok(InputsMessage { snapshot_ack: Some(41), inputs }));
        let actions = [
            Action::Attack { target: 3, direction: [1.0, 0.0, 0.0] },
            Action::PickUp { loot: 9 },
            Action::Chat { text: Arc::from("hello ünïcode") },
        ];
        for action in actions {
            encode_action(12, &action, &mut out);
            assert_eq!(decode_action(&out), Ok(PlayerInput { client_tick: 12, movement: None, action: Some(action) }));
        }
        let events = [
            ServerEvent::Joined { entity: 5 },
            ServerEvent::JoinRefused { reason: JoinRefused::EntityLimit },
            ServerEvent::Chat { from_entity: 2, text: Arc::from("gg") },
            ServerEvent::Died { killer_entity: None },
            ServerEvent::Died { killer_entity: Some(4) },
            ServerEvent::Respawned,
            ServerEvent::AttackResult { target: 1, hit: true },
            ServerEvent::InventoryGranted { item_id: 77, quantity: 3 },
            ServerEvent::PickUpRefused { loot: 8 },
        ];
        for event in events {
            encode_event(&event, &mut out);
            assert_eq!(decode_event(&out), Ok(event));
        }
        encode_snapshot(None, b"payload", &mut out);
        assert_eq!(decode_snapshot(&out), Ok(SnapshotMessage { last_input_tick: None, payload: b"payload" }));
    }

    #[test]
    fn decoders_are_total_on_every_prefix_and_on_noise() {
        let mut out = Vec::new();
        let input = PlayerInput { client_tick: 1, movement: Some(MoveIntent { direction: [1.0, 0.0], yaw: 0.0, claimed_position_m: [0.0; 3] }), action: None };
        encode_inputs(&[input], None, &mut out);
        for end in 0..out.len() {
            assert!(decode_inputs(&out[..end]).is_err(), "prefix {end} accepted");
        }
        let mut trailing = out.clone();
        trailing.push(0);
        assert_eq!(decode_inputs(&trailing), Err(WireError::Trailing { extra: 1 }));
        let mut state = 0x1234_5678_9abc_def0_u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 64) as usize;
            let noise: Vec<u8> = (0..length).map(|i| (state >> (i % 8 * 8)) as u8 ^ i as u8).collect();
            let _ = decode_inputs(&noise);
            let _ = decode_action(&noise);
            let _ = decode_event(&noise);
            let _ = decode_snapshot(&noise);
        }
        assert_eq!(decode_inputs(&[TAG_INPUTS, 0, 0, 0, 0, 0]), Err(WireError::InputCount { count: 0 }));
    }
}
