//! Game messages as the client SDK speaks them, all defined in `meridian_proto::messages` (layouts in
//! `schemas/PROTOCOL.md`): inputs, actions and chat up, snapshot acks (`0x80`) up; snapshots
//! (plain, or `0x81` with the last input tick the zone applied), chat and zone events (`0x82`, above
//! all `Joined { entity }`) down. This module adds the client's view of them: `Downlink`, one decoded
//! server message of any kind, and the quantisation of the player's wish into a `MoveInput`
//! (`MoveInput::direction` is the rule both the server and the prediction apply).

pub use meridian_proto::messages::{
    JoinRefused, ServerEvent, decode_event, decode_snapshot_ack, decode_snapshot_with_input_tick, encode_event,
    encode_snapshot_ack, encode_snapshot_with_input_tick,
};
pub use meridian_proto::messages::{
    Action as ProtoAction, ChatChannel, ClientMessage, INPUT_REDUNDANCY_MAX, InputMessage, MessageError, MoveInput,
    ServerMessage,
};
use thiserror::Error;

pub const TAG_EXT_SNAPSHOT_ACK: u8 = meridian_proto::messages::SNAPSHOT_ACK_TYPE;
pub const TAG_EXT_SNAPSHOT: u8 = meridian_proto::messages::SNAPSHOT_WITH_INPUT_TICK_TYPE;
pub const TAG_EXT_EVENT: u8 = meridian_proto::messages::EVENT_TYPE;
/// Largest snapshot payload an extended snapshot message carries (one unreliable message minus the
/// 5-byte header): the zone's `snapshot_budget_bytes` must not exceed it, or the connection refuses
/// the message as too large.
pub const EXT_SNAPSHOT_PAYLOAD_BYTES_MAX: usize = meridian_proto::messages::SNAPSHOT_WITH_INPUT_TICK_PAYLOAD_BYTES_MAX;
const AXIS_STEPS: f32 = 127.0;
const YAW_STEPS: f32 = 65_536.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("proto message: {0}")]
    Message(#[from] MessageError),
    #[error("server message type {kind} not supported by this SDK")]
    Unsupported { kind: u8 },
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

pub fn decode_downlink(bytes: &[u8]) -> Result<Downlink, WireError> {
    match bytes.first() {
        Some(&TAG_EXT_SNAPSHOT) => {
            let (last_input_tick, payload) = decode_snapshot_with_input_tick(bytes)?;
            Ok(Downlink::Snapshot { last_input_tick, payload: payload.to_vec() })
        }
        Some(&TAG_EXT_EVENT) => Ok(Downlink::Event(decode_event(bytes)?)),
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_message_kind_decodes_to_its_downlink() {
        // The codecs themselves are tested in `meridian_proto::messages`; this checks the dispatch.
        let mut out = Vec::new();
        for event in [ServerEvent::Joined { entity: 5 }, ServerEvent::JoinRefused { reason: JoinRefused::EntityLimit }] {
            out.clear();
            encode_event(&event, &mut out);
            assert_eq!(decode_downlink(&out), Ok(Downlink::Event(event)));
            for end in 0..out.len() {
                assert!(decode_downlink(&out[..end]).is_err(), "prefix {end} accepted");
            }
        }
        out.clear();
        encode_snapshot_with_input_tick(Some(9), b"payload", &mut out);
        assert_eq!(decode_downlink(&out), Ok(Downlink::Snapshot { last_input_tick: Some(9), payload: b"payload".to_vec() }));
        out.clear();
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
