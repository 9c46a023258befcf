//! Game messages carried in a connection's channels: what the client asks for and what the server
//! tells it besides snapshots.
//!
//! Inputs travel on the unreliable channel and carry the last `INPUT_REDUNDANCY_MAX` ticks each, so a
//! lost packet costs nothing as long as a later one arrives within that many ticks. Actions and chat
//! travel on the reliable ordered channel. All integers are little-endian; layouts in `PROTOCOL.md`
//! ("Game messages"). Decoders are total and reject trailing bytes.

use thiserror::Error;

/// Ticks of input each input message repeats (newest first).
pub const INPUT_REDUNDANCY_MAX: usize = 8;
pub const CHAT_TEXT_BYTES_MAX: usize = 256;
/// Largest snapshot payload a server message carries (one datagram's worth).
pub const SNAPSHOT_MESSAGE_BYTES_MAX: usize = crate::connection::UNRELIABLE_MESSAGE_BYTES_MAX - 1;

const CLIENT_INPUT: u8 = 1;
const CLIENT_ACTION: u8 = 2;
const CLIENT_CHAT: u8 = 3;
/// Type byte of a snapshot ack. Kept out of [`ClientMessage`] (whose users match it exhaustively) and
/// in the ≥ 0x80 range the client SDK proposed (`client/src/wire.rs`), with the same layout.
pub const SNAPSHOT_ACK_TYPE: u8 = 0x80;
pub const SNAPSHOT_ACK_BYTES: usize = 5;
const SERVER_SNAPSHOT: u8 = 1;
const SERVER_CHAT: u8 = 2;
const ACTION_ATTACK: u8 = 1;
const ACTION_PICK_UP: u8 = 2;
const MOVE_INPUT_BYTES: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum MessageError {
    #[error("message truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown {what} {value}")]
    UnknownValue { what: &'static str, value: u8 },
    #[error("{bytes} bytes after the end of the message")]
    TrailingBytes { bytes: usize },
    #[error("unknown message type {value}")]
    UnknownType { value: u8 },
    #[error("unknown action {value}")]
    UnknownAction { value: u8 },
    #[error("unknown chat channel {value}")]
    UnknownChannel { value: u8 },
    #[error("input message carries {count} ticks (1..={INPUT_REDUNDANCY_MAX} allowed)")]
    BadInputCount { count: u8 },
    #[error("chat text of {bytes} bytes exceeds the limit")]
    ChatTooLong { bytes: usize },
    #[error("chat text is not UTF-8")]
    ChatNotUtf8,
    #[error("snapshot of {bytes} bytes exceeds the limit")]
    SnapshotTooLarge { bytes: usize },
}

/// One tick of movement intent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MoveInput {
    /// Strafe and forward intent, -127..=127 for -1.0..=1.0 (the server clamps the vector's length).
    pub move_right: i8,
    pub move_forward: i8,
    /// Facing, a full turn in 65536 steps.
    pub yaw: u16,
    /// Bit 0 jump, bit 1 sprint, bit 2 crouch; others reserved.
    pub buttons: u8,
}

impl MoveInput {
    /// The ground-plane direction this input asks for: each axis ÷127 (-128 reads as -127), scaled
    /// down to length 1 if longer. The server moves by it and the client predicts with it, so both
    /// must call this one function.
    pub fn direction(&self) -> [f32; 2] {
        let x = f32::from(self.move_right.max(-127)) / 127.0;
        let y = f32::from(self.move_forward.max(-127)) / 127.0;
        let length = (x * x + y * y).sqrt();
        if length > 1.0 { [x / length, y / length] } else { [x, y] }
    }

    /// The facing in radians, `[0, 2π)`.
    pub fn yaw_radians(&self) -> f32 {
        f32::from(self.yaw) / 65_536.0 * std::f32::consts::TAU
    }
}

/// The client's recent inputs: `inputs[i]` is for tick `newest_tick - i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMessage {
    /// Increments per input message sent (detects loss and reordering).
    pub sequence: u32,
    pub newest_tick: u32,
    /// 1..=INPUT_REDUNDANCY_MAX entries, newest first.
    pub inputs: Vec<MoveInput>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Attack { target_id: u32, skill_id: u16 },
    PickUp { loot_id: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ChatChannel {
    Zone = 0,
    Global = 1,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Input(InputMessage),
    /// `client_tick`: the tick the client saw when it acted (for lag compensation).
    Action {
        client_tick: u32,
        action: Action,
    },
    Chat {
        channel: ChatChannel,
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// A snapshot payload (`snapshot.rs`).
    Snapshot(Vec<u8>),
    Chat {
        channel: ChatChannel,
        sender_id: u32,
        text: String,
    },
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], MessageError> {
        let end = self.offset.checked_add(count).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(MessageError::Truncated { offset: self.offset })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, MessageError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MessageError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn finish(self) -> Result<(), MessageError> {
        match self.bytes.len() - self.offset {
            0 => Ok(()),
            bytes => Err(MessageError::TrailingBytes { bytes }),
        }
    }
    fn channel(&mut self) -> Result<ChatChannel, MessageError> {
        match self.u8()? {
            0 => Ok(ChatChannel::Zone),
            1 => Ok(ChatChannel::Global),
            value => Err(MessageError::UnknownChannel { value }),
        }
    }
    fn chat_text(&mut self) -> Result<String, MessageError> {
        let length = usize::from(self.u16()?);
        if length > CHAT_TEXT_BYTES_MAX {
            return Err(MessageError::ChatTooLong { bytes: length });
        }
        let text = std::str::from_utf8(self.take(length)?).map_err(|_| MessageError::ChatNotUtf8)?;
        Ok(text.to_owned())
    }
}

fn write_chat_text(out: &mut Vec<u8>, text: &str) {
    assert!(text.len() <= CHAT_TEXT_BYTES_MAX);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

impl ClientMessage {
    /// Appends the encoding to `out`. Panics on values outside the limits (caller bugs); user text
    /// must be checked with [`check_chat_text`] first.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::Input(input) => {
                assert!(!input.inputs.is_empty());
                assert!(input.inputs.len() <= INPUT_REDUNDANCY_MAX);
                out.push(CLIENT_INPUT);
                out.extend_from_slice(&input.sequence.to_le_bytes());
                out.extend_from_slice(&input.newest_tick.to_le_bytes());
                out.push(input.inputs.len() as u8);
                for tick_input in &input.inputs {
                    out.push(tick_input.move_right as u8);
                    out.push(tick_input.move_forward as u8);
                    out.extend_from_slice(&tick_input.yaw.to_le_bytes());
                    out.push(tick_input.buttons);
                }
            }
            ClientMessage::Action { client_tick, action } => {
                out.push(CLIENT_ACTION);
                out.extend_from_slice(&client_tick.to_le_bytes());
                match action {
                    Action::Attack { target_id, skill_id } => {
                        out.push(ACTION_ATTACK);
                        out.extend_from_slice(&target_id.to_le_bytes());
                        out.extend_from_slice(&skill_id.to_le_bytes());
                    }
                    Action::PickUp { loot_id } => {
                        out.push(ACTION_PICK_UP);
                        out.extend_from_slice(&loot_id.to_le_bytes());
                    }
                }
            }
            ClientMessage::Chat { channel, text } => {
                out.push(CLIENT_CHAT);
                out.push(*channel as u8);
                write_chat_text(out, text);
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<ClientMessage, MessageError> {
        let mut reader = Reader { bytes, offset: 0 };
        let message = match reader.u8()? {
            CLIENT_INPUT => {
                let sequence = reader.u32()?;
                let newest_tick = reader.u32()?;
                let count = reader.u8()?;
                if count == 0 || usize::from(count) > INPUT_REDUNDANCY_MAX {
                    return Err(MessageError::BadInputCount { count });
                }
                let mut inputs = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    let raw = reader.take(MOVE_INPUT_BYTES)?;
                    inputs.push(MoveInput {
                        move_right: raw[0] as i8,
                        move_forward: raw[1] as i8,
                        yaw: u16::from_le_bytes([raw[2], raw[3]]),
                        buttons: raw[4],
                    });
                }
                ClientMessage::Input(InputMessage {
                    sequence,
                    newest_tick,
                    inputs,
                })
            }
            CLIENT_ACTION => {
                let client_tick = reader.u32()?;
                let action = match reader.u8()? {
                    ACTION_ATTACK => Action::Attack {
                        target_id: reader.u32()?,
                        skill_id: reader.u16()?,
                    },
                    ACTION_PICK_UP => Action::PickUp { loot_id: reader.u32()? },
                    value => return Err(MessageError::UnknownAction { value }),
                };
                ClientMessage::Action { client_tick, action }
            }
            CLIENT_CHAT => ClientMessage::Chat {
                channel: reader.channel()?,
                text: reader.chat_text()?,
            },
            value => return Err(MessageError::UnknownType { value }),
        };
        reader.finish()?;
        Ok(message)
    }
}

/// Appends a snapshot ack (client → server, unreliable): the newest snapshot tick the client applied,
/// [`crate::snapshot::SnapshotReceiver::latest_tick`]. The server passes it to
/// [`crate::snapshot::SnapshotSender::on_ack`]; without acks every snapshot is sent whole.
pub fn encode_snapshot_ack(tick: u32, out: &mut Vec<u8>) {
    out.push(SNAPSHOT_ACK_TYPE);
    out.extend_from_slice(&tick.to_le_bytes());
}

/// Total decoder of a snapshot ack; `UnknownType` if `bytes` is some other message.
pub fn decode_snapshot_ack(bytes: &[u8]) -> Result<u32, MessageError> {
    let mut reader = Reader { bytes, offset: 0 };
    match reader.u8()? {
        SNAPSHOT_ACK_TYPE => {}
        value => return Err(MessageError::UnknownType { value }),
    }
    let tick = reader.u32()?;
    reader.finish()?;
    Ok(tick)
}

/// Server → client, unreliable: a snapshot payload preceded by the newest client input tick the zone
/// has applied for this client (`u32::MAX`: none yet), so the client reconciles without guessing.
pub const SNAPSHOT_WITH_INPUT_TICK_TYPE: u8 = 0x81;
/// Server → client, reliable: one zone event (`ServerEvent`).
pub const EVENT_TYPE: u8 = 0x82;
/// Largest snapshot payload a `SNAPSHOT_WITH_INPUT_TICK_TYPE` message carries.
pub const SNAPSHOT_WITH_INPUT_TICK_PAYLOAD_BYTES_MAX: usize = crate::connection::UNRELIABLE_MESSAGE_BYTES_MAX - 5;
const NO_TICK: u32 = u32::MAX;

/// Why a zone refused a join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    ZoneFull = 0,
    AlreadyJoined = 1,
    EntityLimit = 2,
}

/// What a zone tells one client on the reliable channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The client's own entity: what its snapshots call it.
    Joined { entity: u32 },
    JoinRefused { reason: JoinRefused },
    Chat { from_entity: u32, text: std::sync::Arc<str> },
    Died { killer_entity: Option<u32> },
    Respawned,
    AttackResult { target: u32, hit: bool },
    /// Persistence committed a pick-up: only now does the inventory view change.
    InventoryGranted { item_id: u32, quantity: u16 },
    PickUpRefused { loot: u32 },
}

/// Appends a snapshot message carrying the applied input tick. Panics on a payload over
/// `SNAPSHOT_WITH_INPUT_TICK_PAYLOAD_BYTES_MAX` (the zone's budget must keep below it).
pub fn encode_snapshot_with_input_tick(last_input_tick: Option<u32>, payload: &[u8], out: &mut Vec<u8>) {
    assert!(payload.len() <= SNAPSHOT_WITH_INPUT_TICK_PAYLOAD_BYTES_MAX);
    out.push(SNAPSHOT_WITH_INPUT_TICK_TYPE);
    out.extend_from_slice(&last_input_tick.unwrap_or(NO_TICK).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Total decoder: `(last applied input tick, snapshot payload)`.
pub fn decode_snapshot_with_input_tick(bytes: &[u8]) -> Result<(Option<u32>, &[u8]), MessageError> {
    let mut reader = Reader { bytes, offset: 0 };
    match reader.u8()? {
        SNAPSHOT_WITH_INPUT_TICK_TYPE => {}
        value => return Err(MessageError::UnknownType { value }),
    }
    let tick = Some(reader.u32()?).filter(|tick| *tick != NO_TICK);
    let payload = &bytes[reader.offset..];
    if payload.len() > SNAPSHOT_WITH_INPUT_TICK_PAYLOAD_BYTES_MAX {
        return Err(MessageError::SnapshotTooLarge { bytes: payload.len() });
    }
    Ok((tick, payload))
}

/// Appends an event message. Chat text longer than `CHAT_TEXT_BYTES_MAX` is cut at a character
/// boundary (the zone enforces the same limit on what it relays).
pub fn encode_event(event: &ServerEvent, out: &mut Vec<u8>) {
    out.push(EVENT_TYPE);
    match event {
        ServerEvent::Joined { entity } => {
            out.push(1);
            out.extend_from_slice(&entity.to_le_bytes());
        }
        ServerEvent::JoinRefused { reason } => out.extend_from_slice(&[2, *reason as u8]),
        ServerEvent::Chat { from_entity, text } => {
            out.push(3);
            out.extend_from_slice(&from_entity.to_le_bytes());
            let mut end = text.len().min(CHAT_TEXT_BYTES_MAX);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            write_chat_text(out, &text[..end]);
        }
        ServerEvent::Died { killer_entity } => {
            out.push(4);
            out.extend_from_slice(&killer_entity.unwrap_or(NO_TICK).to_le_bytes());
        }
        ServerEvent::Respawned => out.push(5),
        ServerEvent::AttackResult { target, hit } => {
            out.push(6);
            out.extend_from_slice(&target.to_le_bytes());
            out.push(u8::from(*hit));
        }
        ServerEvent::InventoryGranted { item_id, quantity } => {
            out.push(7);
            out.extend_from_slice(&item_id.to_le_bytes());
            out.extend_from_slice(&quantity.to_le_bytes());
        }
        ServerEvent::PickUpRefused { loot } => {
            out.push(8);
            out.extend_from_slice(&loot.to_le_bytes());
        }
    }
}

/// Total decoder of an event message.
pub fn decode_event(bytes: &[u8]) -> Result<ServerEvent, MessageError> {
    let mut reader = Reader { bytes, offset: 0 };
    match reader.u8()? {
        EVENT_TYPE => {}
        value => return Err(MessageError::UnknownType { value }),
    }
    let event = match reader.u8()? {
        1 => ServerEvent::Joined { entity: reader.u32()? },
        2 => ServerEvent::JoinRefused {
            reason: match reader.u8()? {
                0 => JoinRefused::ZoneFull,
                1 => JoinRefused::AlreadyJoined,
                2 => JoinRefused::EntityLimit,
                value => return Err(MessageError::UnknownValue { what: "join refusal", value }),
            },
        },
        3 => ServerEvent::Chat { from_entity: reader.u32()?, text: std::sync::Arc::from(reader.chat_text()?) },
        4 => ServerEvent::Died { killer_entity: Some(reader.u32()?).filter(|id| *id != NO_TICK) },
        5 => ServerEvent::Respawned,
        6 => ServerEvent::AttackResult {
            target: reader.u32()?,
            hit: match reader.u8()? {
                0 => false,
                1 => true,
                value => return Err(MessageError::UnknownValue { what: "hit flag", value }),
            },
        },
        7 => ServerEvent::InventoryGranted { item_id: reader.u32()?, quantity: reader.u16()? },
        8 => ServerEvent::PickUpRefused { loot: reader.u32()? },
        value => return Err(MessageError::UnknownValue { what: "event", value }),
    };
    reader.finish()?;
    Ok(event)
}

/// Checks user-typed chat text against the limit before it is put in a message.
pub fn check_chat_text(text: &str) -> Result<(), MessageError> {
    if text.len() > CHAT_TEXT_BYTES_MAX {
        return Err(MessageError::ChatTooLong { bytes: text.len() });
    }
    Ok(())
}

impl ServerMessage {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::Snapshot(payload) => {
                assert!(payload.len() <= SNAPSHOT_MESSAGE_BYTES_MAX);
                out.push(SERVER_SNAPSHOT);
                out.extend_from_slice(payload);
            }
            ServerMessage::Chat {
                channel,
                sender_id,
                text,
            } => {
                out.push(SERVER_CHAT);
                out.push(*channel as u8);
                out.extend_from_slice(&sender_id.to_le_bytes());
                write_chat_text(out, text);
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<ServerMessage, MessageError> {
        let mut reader = Reader { bytes, offset: 0 };
        let message = match reader.u8()? {
            SERVER_SNAPSHOT => {
                let payload = &bytes[1..];
                if payload.len() > SNAPSHOT_MESSAGE_BYTES_MAX {
                    return Err(MessageError::SnapshotTooLarge { bytes: payload.len() });
                }
                reader.offset = bytes.len();
                ServerMessage::Snapshot(payload.to_vec())
            }
            SERVER_CHAT => {
                let channel = reader.channel()?;
                let sender_id = reader.u32()?;
                ServerMessage::Chat {
                    channel,
                    sender_id,
                    text: reader.chat_text()?,
                }
            }
            value => return Err(MessageError::UnknownType { value }),
        };
        reader.finish()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_input_tick_snapshots_round_trip_and_reject_prefixes() {
        let events = [
            ServerEvent::Joined { entity: 5 },
            ServerEvent::JoinRefused { reason: JoinRefused::EntityLimit },
            ServerEvent::Chat { from_entity: 2, text: std::sync::Arc::from("gg ünïcode") },
            ServerEvent::Died { killer_entity: None },
            ServerEvent::Died { killer_entity: Some(4) },
            ServerEvent::Respawned,
            ServerEvent::AttackResult { target: 1, hit: true },
            ServerEvent::InventoryGranted { item_id: 77, quantity: 3 },
            ServerEvent::PickUpRefused { loot: 8 },
        ];
        for event in events {
            let mut out = Vec::new();
            encode_event(&event, &mut out);
            assert_eq!(decode_event(&out), Ok(event));
            for end in 0..out.len() {
                assert!(decode_event(&out[..end]).is_err(), "prefix {end} accepted");
            }
            out.push(0);
            assert_eq!(decode_event(&out), Err(MessageError::TrailingBytes { bytes: 1 }));
        }
        let mut out = Vec::new();
        encode_snapshot_with_input_tick(Some(9), b"payload", &mut out);
        assert_eq!(out[..5], [0x81, 9, 0, 0, 0], "type, then the tick little-endian");
        assert_eq!(decode_snapshot_with_input_tick(&out), Ok((Some(9), &b"payload"[..])));
        out.clear();
        encode_snapshot_with_input_tick(None, b"", &mut out);
        assert_eq!(decode_snapshot_with_input_tick(&out), Ok((None, &b""[..])));
        assert_eq!(decode_event(&[EVENT_TYPE, 9]), Err(MessageError::UnknownValue { what: "event", value: 9 }));
    }

    #[test]
    fn move_direction_is_clamped_to_unit_length() {
        let input = |move_right, move_forward| MoveInput { move_right, move_forward, ..MoveInput::default() };
        assert_eq!(input(0, 127).direction(), [0.0, 1.0]);
        assert_eq!(input(-128, 0).direction(), [-1.0, 0.0], "-128 reads as -127");
        let [x, y] = input(127, 127).direction();
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-6);
        let quarter = MoveInput { yaw: 16_384, ..MoveInput::default() };
        assert!((quarter.yaw_radians() - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
    }

    fn round_trip_client(message: ClientMessage) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(ClientMessage::decode(&out), Ok(message));
        for cut in 0..out.len() {
            assert!(
                ClientMessage::decode(&out[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        let mut longer = out.clone();
        longer.push(0);
        assert_eq!(
            ClientMessage::decode(&longer),
            Err(MessageError::TrailingBytes { bytes: 1 })
        );
        out
    }

    #[test]
    fn client_messages_round_trip() {
        let inputs = (0..INPUT_REDUNDANCY_MAX)
            .map(|i| MoveInput {
                move_right: -(i as i8),
                move_forward: 127,
                yaw: 1000 * i as u16,
                buttons: 0b10,
            })
            .collect();
        round_trip_client(ClientMessage::Input(InputMessage {
            sequence: 9,
            newest_tick: 1234,
            inputs,
        }));
        round_trip_client(ClientMessage::Action {
            client_tick: 77,
            action: Action::Attack {
                target_id: 5,
                skill_id: 3,
            },
        });
        round_trip_client(ClientMessage::Action {
            client_tick: 78,
            action: Action::PickUp { loot_id: 900 },
        });
        round_trip_client(ClientMessage::Chat {
            channel: ChatChannel::Global,
            text: "héllo".into(),
        });
    }

    /// Test vector quoted in PROTOCOL.md ("Game messages").
    #[test]
    fn input_test_vector() {
        let bytes = round_trip_client(ClientMessage::Input(InputMessage {
            sequence: 1,
            newest_tick: 2,
            inputs: vec![MoveInput {
                move_right: -1,
                move_forward: 127,
                yaw: 0x0102,
                buttons: 1,
            }],
        }));
        assert_eq!(bytes, [0x01, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0x7f, 0x02, 0x01, 0x01]);
    }

    #[test]
    fn bad_client_messages_are_typed_errors() {
        assert_eq!(ClientMessage::decode(&[]), Err(MessageError::Truncated { offset: 0 }));
        assert_eq!(ClientMessage::decode(&[9]), Err(MessageError::UnknownType { value: 9 }));
        assert_eq!(
            ClientMessage::decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
            Err(MessageError::BadInputCount { count: 9 })
        );
        assert_eq!(
            ClientMessage::decode(&[2, 0, 0, 0, 0, 7]),
            Err(MessageError::UnknownAction { value: 7 })
        );
        assert_eq!(
            ClientMessage::decode(&[3, 2, 0, 0]),
            Err(MessageError::UnknownChannel { value: 2 })
        );
        assert_eq!(
            ClientMessage::decode(&[3, 0, 0xff, 0xff]),
            Err(MessageError::ChatTooLong { bytes: 0xffff })
        );
        assert_eq!(
            ClientMessage::decode(&[3, 0, 1, 0, 0xff]),
            Err(MessageError::ChatNotUtf8)
        );
        assert_eq!(
            check_chat_text(&"x".repeat(CHAT_TEXT_BYTES_MAX + 1)),
            Err(MessageError::ChatTooLong {
                bytes: CHAT_TEXT_BYTES_MAX + 1
            })
        );
    }

    #[test]
    fn snapshot_ack_round_trips_and_is_not_a_client_message() {
        let mut out = Vec::new();
        encode_snapshot_ack(0x0102_0304, &mut out);
        assert_eq!(out, [0x80, 0x04, 0x03, 0x02, 0x01]);
        assert_eq!(out.len(), SNAPSHOT_ACK_BYTES);
        assert_eq!(decode_snapshot_ack(&out), Ok(0x0102_0304));
        assert_eq!(
            decode_snapshot_ack(&out[..4]),
            Err(MessageError::Truncated { offset: 1 })
        );
        assert_eq!(
            decode_snapshot_ack(&[0x80, 0, 0, 0, 0, 0]),
            Err(MessageError::TrailingBytes { bytes: 1 })
        );
        assert_eq!(decode_snapshot_ack(&[1]), Err(MessageError::UnknownType { value: 1 }));
        assert_eq!(
            ClientMessage::decode(&out),
            Err(MessageError::UnknownType { value: 0x80 })
        );
    }

    #[test]
    fn server_messages_round_trip() {
        for message in [
            ServerMessage::Snapshot(vec![1, 2, 3]),
            ServerMessage::Chat {
                channel: ChatChannel::Zone,
                sender_id: 4,
                text: "gg".into(),
            },
        ] {
            let mut out = Vec::new();
            message.encode(&mut out);
            assert_eq!(ServerMessage::decode(&out), Ok(message));
        }
        assert!(matches!(
            ServerMessage::decode(&vec![1; SNAPSHOT_MESSAGE_BYTES_MAX + 2]),
            Err(MessageError::SnapshotTooLarge { .. })
        ));
    }
}
