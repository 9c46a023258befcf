//! Game messages: everything a client and a server say to each other inside a connection's channels,
//! as two closed enums. [`ClientMessage`] goes up (inputs, actions, chat, snapshot acks),
//! [`ServerMessage`] comes down (snapshots carrying the newest applied input tick, and zone events).
//!
//! Inputs and snapshot acks travel on the unreliable channel; inputs repeat the last few ticks, so a
//! lost packet costs nothing as long as a later one arrives in time. Actions, chat and events travel
//! on the reliable ordered channel; snapshots on the unreliable one. The first byte of every message
//! is its type; the type bytes of the two directions do not overlap, so a byte string names its
//! direction too. All integers are little-endian; layouts and test vectors in `PROTOCOL.md` ("Game
//! messages"). Decoders are total, reject trailing bytes, and encodings are canonical (decoding then
//! encoding gives the same bytes), which the `messages` fuzz target checks.

use std::sync::Arc;

use thiserror::Error;

/// Ticks of input one input message carries at most (newest first).
pub const INPUT_REDUNDANCY_MAX: usize = 8;
/// Longest chat text in UTF-8 bytes, both directions.
pub const CHAT_TEXT_BYTES_MAX: usize = 256;
/// Bytes a snapshot message spends before its payload: the type and the applied input tick.
const SNAPSHOT_HEADER_BYTES: usize = 1 + 4;
/// Largest snapshot payload one `ServerMessage::Snapshot` carries: one unreliable message minus the
/// snapshot header. A zone's snapshot budget must not exceed it, or the channel refuses the message.
pub const SNAPSHOT_MESSAGE_BYTES_MAX: usize = crate::connection::UNRELIABLE_MESSAGE_BYTES_MAX - SNAPSHOT_HEADER_BYTES;

// Type bytes. Server types 1 (plain snapshot) and 2 (server chat) existed before the protocol was
// closed and were never sent by the node; they stay unused rather than being given new meanings.
const CLIENT_INPUT: u8 = 1;
const CLIENT_ACTION: u8 = 2;
const CLIENT_CHAT: u8 = 3;
const CLIENT_SNAPSHOT_ACK: u8 = 0x80;
const SERVER_SNAPSHOT: u8 = 0x81;
const SERVER_EVENT: u8 = 0x82;

const ACTION_ATTACK: u8 = 1;
const ACTION_PICK_UP: u8 = 2;
const ACTION_TRADE_OFFER: u8 = 3;
const ACTION_TRADE_ACCEPT: u8 = 4;

const EVENT_JOINED: u8 = 1;
const EVENT_JOIN_REFUSED: u8 = 2;
const EVENT_CHAT: u8 = 3;
const EVENT_DIED: u8 = 4;
const EVENT_RESPAWNED: u8 = 5;
const EVENT_ATTACK_RESULT: u8 = 6;
const EVENT_INVENTORY_GRANTED: u8 = 7;
const EVENT_PICK_UP_REFUSED: u8 = 8;
const EVENT_TRADE_OFFERED: u8 = 9;
const EVENT_TRADE_COMPLETED: u8 = 10;
const EVENT_TRADE_REFUSED: u8 = 11;

const MOVE_INPUT_BYTES: usize = 5;
/// "None" for the optional u32 fields (applied input tick, killer entity).
const NONE_U32: u32 = u32::MAX;

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
    #[error("chat text of {bytes} bytes exceeds the limit of {CHAT_TEXT_BYTES_MAX}")]
    ChatTooLong { bytes: usize },
    #[error("chat text is not UTF-8")]
    ChatNotUtf8,
    #[error("snapshot of {bytes} bytes exceeds the limit of {SNAPSHOT_MESSAGE_BYTES_MAX}")]
    SnapshotTooLarge { bytes: usize },
}

/// One tick of movement intent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MoveInput {
    /// Intent along the world's x and y axes (not relative to `yaw`), -127..=127 for -1.0..=1.0 of
    /// full speed (-128 reads as -127); see [`MoveInput::direction`].
    pub move_right: i8,
    pub move_forward: i8,
    /// Facing, a full turn in 65536 steps. It does not steer movement.
    pub yaw: u16,
    /// Bit 0 jump, bit 1 sprint, bit 2 crouch; others reserved (send 0). Version 1 servers ignore
    /// all of them.
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
    /// +1 per input message sent (wrapping). Informational: servers do not act on it.
    pub sequence: u32,
    /// The client's tick of `inputs[0]`; one client tick per zone tick, increasing by one.
    pub newest_tick: u32,
    /// 1..=INPUT_REDUNDANCY_MAX entries, newest first.
    pub inputs: Vec<MoveInput>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `aim`: the direction the client fired in (a unit vector, each axis × 32767, world axes), at
    /// where it drew the target; the server checks the shot against the target rewound to what the
    /// client saw (lag compensation). `[0, 0, 0]`: no aim; the server aims at the target's present
    /// position.
    Attack {
        target_id: u32,
        skill_id: u16,
        aim: [i16; 3],
    },
    PickUp {
        loot_id: u32,
    },
    /// Offers the player `target_id` a trade: everything this player holds of item `give_item`
    /// for everything the target holds of `want_item` (`0`: nothing on that side; not both).
    TradeOffer {
        target_id: u32,
        give_item: u32,
        want_item: u32,
    },
    /// Accepts the offer the player `from_id` made to this player.
    TradeAccept {
        from_id: u32,
    },
}

/// Steps per unit of an attack's aim axis.
const AIM_STEPS: f32 = 32_767.0;

/// Quantises a direction (any length; not finite or zero → no aim) into an attack's `aim`.
pub fn quantise_aim(direction: [f32; 3]) -> [i16; 3] {
    let length = (direction[0] * direction[0] + direction[1] * direction[1] + direction[2] * direction[2]).sqrt();
    if !length.is_finite() || length < 1e-6 {
        return [0; 3];
    }
    direction.map(|axis| (axis / length * AIM_STEPS).round().clamp(-AIM_STEPS, AIM_STEPS) as i16)
}

/// The direction an attack's `aim` encodes (unit length), or `None` for no aim.
pub fn aim_direction(aim: [i16; 3]) -> Option<[f32; 3]> {
    if aim == [0; 3] {
        return None;
    }
    let v = aim.map(|axis| f32::from(axis.max(-32_767)) / AIM_STEPS);
    let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    Some(v.map(|axis| axis / length))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ChatChannel {
    Zone = 0,
    Global = 1,
}

/// Everything a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    /// Unreliable, every tick.
    Input(InputMessage),
    /// Reliable. `client_tick`: the tick the client saw when it acted (for lag compensation).
    Action { client_tick: u32, action: Action },
    /// Reliable. `text` is 0..=`CHAT_TEXT_BYTES_MAX` bytes of UTF-8.
    Chat { channel: ChatChannel, text: String },
    /// Unreliable: the newest snapshot tick the client applied
    /// ([`crate::snapshot::SnapshotReceiver::latest_tick`]); the server deltas against it
    /// ([`crate::snapshot::SnapshotSender::on_ack`]). Without acks every snapshot is sent whole.
    SnapshotAck { tick: u32 },
}

/// Why a zone refused a join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    ZoneFull = 0,
    AlreadyJoined = 1,
    EntityLimit = 2,
}

/// Why a zone refused a pick-up (the loot stays on the ground unless it was taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PickUpRefusal {
    /// Farther than the pick-up range.
    OutOfRange = 0,
    /// Someone else claimed it first, or it is gone.
    AlreadyClaimed = 1,
    /// The inventory database cannot be reached: items are only granted once committed, so
    /// looting waits for it (movement and combat go on). Try again later.
    PersistenceUnavailable = 2,
    /// The database refused the grant (e.g. this server no longer owns the zone).
    Rejected = 3,
    /// Too many pick-ups are waiting for the database in this zone; try again shortly.
    Busy = 4,
}

impl PickUpRefusal {
    /// Stable label (metrics, logs).
    pub fn label(self) -> &'static str {
        match self {
            PickUpRefusal::OutOfRange => "out_of_range",
            PickUpRefusal::AlreadyClaimed => "already_claimed",
            PickUpRefusal::PersistenceUnavailable => "persistence_unavailable",
            PickUpRefusal::Rejected => "rejected",
            PickUpRefusal::Busy => "busy",
        }
    }
}

/// Why a trade did not happen (told to both players, or to the one whose offer or accept failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TradeRefusal {
    /// No such player or offer here (expired, withdrawn, or the player left).
    NotFound = 0,
    /// A side no longer holds what the offer names, or the offer names nothing.
    ItemsMissing = 1,
    /// One of the players is in another trade, or too many trades wait for the database.
    Busy = 2,
    /// The inventory database cannot be reached: trades wait for it. Try again later.
    PersistenceUnavailable = 3,
    /// The database refused the trade (items not owned there, a stale zone owner).
    Rejected = 4,
}

impl TradeRefusal {
    /// Stable label (metrics, logs).
    pub fn label(self) -> &'static str {
        match self {
            TradeRefusal::NotFound => "not_found",
            TradeRefusal::ItemsMissing => "items_missing",
            TradeRefusal::Busy => "busy",
            TradeRefusal::PersistenceUnavailable => "persistence_unavailable",
            TradeRefusal::Rejected => "rejected",
        }
    }
}

/// What a zone tells one client on the reliable channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The client's own entity: what its snapshots call it. The only way a client learns it.
    Joined {
        entity: u32,
    },
    JoinRefused {
        reason: JoinRefused,
    },
    /// A chat line, including the sender's own (every listener gets it, the sender too).
    Chat {
        channel: ChatChannel,
        from_entity: u32,
        text: Arc<str>,
    },
    Died {
        killer_entity: Option<u32>,
    },
    Respawned,
    AttackResult {
        target: u32,
        hit: bool,
    },
    /// Persistence committed a pick-up: only now does the inventory view change.
    InventoryGranted {
        item_id: u32,
        quantity: u16,
    },
    PickUpRefused {
        loot: u32,
        reason: PickUpRefusal,
    },
    /// Player `from_entity` offers this player a trade (accept with `Action::TradeAccept`).
    TradeOffered {
        from_entity: u32,
        give_item: u32,
        want_item: u32,
    },
    /// The trade with `with_entity` committed: this player gave its holding of `gave_item` and got
    /// the other's holding of `got_item` (`0`: nothing).
    TradeCompleted {
        with_entity: u32,
        gave_item: u32,
        got_item: u32,
    },
    TradeRefused {
        with_entity: u32,
        reason: TradeRefusal,
    },
}

/// Everything a server sends. Borrows the snapshot payload, so the server encodes a zone's snapshot
/// into the outgoing message with one copy and the client decodes it without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// Unreliable. `last_input_tick`: the newest client input tick the zone has passed for this
    /// client (applied, or skipped as missing) when it took the snapshot; `None` before the first.
    /// `payload` is a snapshot (`crate::snapshot`), at most `SNAPSHOT_MESSAGE_BYTES_MAX` bytes.
    Snapshot {
        last_input_tick: Option<u32>,
        payload: &'a [u8],
    },
    /// Reliable.
    Event(ServerEvent),
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
    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.offset..];
        self.offset = self.bytes.len();
        rest
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
    fn optional_u32(&mut self) -> Result<Option<u32>, MessageError> {
        Ok(Some(self.u32()?).filter(|value| *value != NONE_U32))
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
    fn chat_text(&mut self) -> Result<&'a str, MessageError> {
        let length = usize::from(self.u16()?);
        if length > CHAT_TEXT_BYTES_MAX {
            return Err(MessageError::ChatTooLong { bytes: length });
        }
        std::str::from_utf8(self.take(length)?).map_err(|_| MessageError::ChatNotUtf8)
    }
}

fn write_optional_u32(out: &mut Vec<u8>, value: Option<u32>) {
    debug_assert_ne!(value, Some(NONE_U32), "u32::MAX is reserved for none");
    out.extend_from_slice(&value.unwrap_or(NONE_U32).to_le_bytes());
}

fn write_chat_text(out: &mut Vec<u8>, text: &str) {
    assert!(text.len() <= CHAT_TEXT_BYTES_MAX);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Checks user-typed chat text against the limit before it is put in a message.
pub fn check_chat_text(text: &str) -> Result<(), MessageError> {
    if text.len() > CHAT_TEXT_BYTES_MAX {
        return Err(MessageError::ChatTooLong { bytes: text.len() });
    }
    Ok(())
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
                    Action::Attack {
                        target_id,
                        skill_id,
                        aim,
                    } => {
                        out.push(ACTION_ATTACK);
                        out.extend_from_slice(&target_id.to_le_bytes());
                        out.extend_from_slice(&skill_id.to_le_bytes());
                        for axis in aim {
                            out.extend_from_slice(&axis.to_le_bytes());
                        }
                    }
                    Action::PickUp { loot_id } => {
                        out.push(ACTION_PICK_UP);
                        out.extend_from_slice(&loot_id.to_le_bytes());
                    }
                    Action::TradeOffer {
                        target_id,
                        give_item,
                        want_item,
                    } => {
                        out.push(ACTION_TRADE_OFFER);
                        out.extend_from_slice(&target_id.to_le_bytes());
                        out.extend_from_slice(&give_item.to_le_bytes());
                        out.extend_from_slice(&want_item.to_le_bytes());
                    }
                    Action::TradeAccept { from_id } => {
                        out.push(ACTION_TRADE_ACCEPT);
                        out.extend_from_slice(&from_id.to_le_bytes());
                    }
                }
            }
            ClientMessage::Chat { channel, text } => {
                out.push(CLIENT_CHAT);
                out.push(*channel as u8);
                write_chat_text(out, text);
            }
            ClientMessage::SnapshotAck { tick } => {
                out.push(CLIENT_SNAPSHOT_ACK);
                out.extend_from_slice(&tick.to_le_bytes());
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
                        aim: [reader.u16()? as i16, reader.u16()? as i16, reader.u16()? as i16],
                    },
                    ACTION_PICK_UP => Action::PickUp { loot_id: reader.u32()? },
                    ACTION_TRADE_OFFER => Action::TradeOffer {
                        target_id: reader.u32()?,
                        give_item: reader.u32()?,
                        want_item: reader.u32()?,
                    },
                    ACTION_TRADE_ACCEPT => Action::TradeAccept { from_id: reader.u32()? },
                    value => return Err(MessageError::UnknownAction { value }),
                };
                ClientMessage::Action { client_tick, action }
            }
            CLIENT_CHAT => ClientMessage::Chat {
                channel: reader.channel()?,
                text: reader.chat_text()?.to_owned(),
            },
            CLIENT_SNAPSHOT_ACK => ClientMessage::SnapshotAck { tick: reader.u32()? },
            value => return Err(MessageError::UnknownType { value }),
        };
        reader.finish()?;
        Ok(message)
    }
}

impl ServerEvent {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerEvent::Joined { entity } => {
                out.push(EVENT_JOINED);
                out.extend_from_slice(&entity.to_le_bytes());
            }
            ServerEvent::JoinRefused { reason } => out.extend_from_slice(&[EVENT_JOIN_REFUSED, *reason as u8]),
            ServerEvent::Chat {
                channel,
                from_entity,
                text,
            } => {
                out.push(EVENT_CHAT);
                out.push(*channel as u8);
                out.extend_from_slice(&from_entity.to_le_bytes());
                // The zone relays nothing longer (it drops such chat); cut at a character boundary
                // rather than panic on the server if a caller ever passes more.
                let mut end = text.len().min(CHAT_TEXT_BYTES_MAX);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                write_chat_text(out, &text[..end]);
            }
            ServerEvent::Died { killer_entity } => {
                out.push(EVENT_DIED);
                write_optional_u32(out, *killer_entity);
            }
            ServerEvent::Respawned => out.push(EVENT_RESPAWNED),
            ServerEvent::AttackResult { target, hit } => {
                out.push(EVENT_ATTACK_RESULT);
                out.extend_from_slice(&target.to_le_bytes());
                out.push(u8::from(*hit));
            }
            ServerEvent::InventoryGranted { item_id, quantity } => {
                out.push(EVENT_INVENTORY_GRANTED);
                out.extend_from_slice(&item_id.to_le_bytes());
                out.extend_from_slice(&quantity.to_le_bytes());
            }
            ServerEvent::PickUpRefused { loot, reason } => {
                out.push(EVENT_PICK_UP_REFUSED);
                out.extend_from_slice(&loot.to_le_bytes());
                out.push(*reason as u8);
            }
            ServerEvent::TradeOffered {
                from_entity,
                give_item,
                want_item,
            } => {
                out.push(EVENT_TRADE_OFFERED);
                out.extend_from_slice(&from_entity.to_le_bytes());
                out.extend_from_slice(&give_item.to_le_bytes());
                out.extend_from_slice(&want_item.to_le_bytes());
            }
            ServerEvent::TradeCompleted {
                with_entity,
                gave_item,
                got_item,
            } => {
                out.push(EVENT_TRADE_COMPLETED);
                out.extend_from_slice(&with_entity.to_le_bytes());
                out.extend_from_slice(&gave_item.to_le_bytes());
                out.extend_from_slice(&got_item.to_le_bytes());
            }
            ServerEvent::TradeRefused { with_entity, reason } => {
                out.push(EVENT_TRADE_REFUSED);
                out.extend_from_slice(&with_entity.to_le_bytes());
                out.push(*reason as u8);
            }
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<ServerEvent, MessageError> {
        Ok(match reader.u8()? {
            EVENT_JOINED => ServerEvent::Joined { entity: reader.u32()? },
            EVENT_JOIN_REFUSED => ServerEvent::JoinRefused {
                reason: match reader.u8()? {
                    0 => JoinRefused::ZoneFull,
                    1 => JoinRefused::AlreadyJoined,
                    2 => JoinRefused::EntityLimit,
                    value => {
                        return Err(MessageError::UnknownValue {
                            what: "join refusal",
                            value,
                        });
                    }
                },
            },
            EVENT_CHAT => ServerEvent::Chat {
                channel: reader.channel()?,
                from_entity: reader.u32()?,
                text: Arc::from(reader.chat_text()?),
            },
            EVENT_DIED => ServerEvent::Died {
                killer_entity: reader.optional_u32()?,
            },
            EVENT_RESPAWNED => ServerEvent::Respawned,
            EVENT_ATTACK_RESULT => ServerEvent::AttackResult {
                target: reader.u32()?,
                hit: match reader.u8()? {
                    0 => false,
                    1 => true,
                    value => {
                        return Err(MessageError::UnknownValue {
                            what: "hit flag",
                            value,
                        });
                    }
                },
            },
            EVENT_INVENTORY_GRANTED => ServerEvent::InventoryGranted {
                item_id: reader.u32()?,
                quantity: reader.u16()?,
            },
            EVENT_PICK_UP_REFUSED => ServerEvent::PickUpRefused {
                loot: reader.u32()?,
                reason: match reader.u8()? {
                    0 => PickUpRefusal::OutOfRange,
                    1 => PickUpRefusal::AlreadyClaimed,
                    2 => PickUpRefusal::PersistenceUnavailable,
                    3 => PickUpRefusal::Rejected,
                    4 => PickUpRefusal::Busy,
                    value => {
                        return Err(MessageError::UnknownValue {
                            what: "pick-up refusal",
                            value,
                        });
                    }
                },
            },
            EVENT_TRADE_OFFERED => ServerEvent::TradeOffered {
                from_entity: reader.u32()?,
                give_item: reader.u32()?,
                want_item: reader.u32()?,
            },
            EVENT_TRADE_COMPLETED => ServerEvent::TradeCompleted {
                with_entity: reader.u32()?,
                gave_item: reader.u32()?,
                got_item: reader.u32()?,
            },
            EVENT_TRADE_REFUSED => ServerEvent::TradeRefused {
                with_entity: reader.u32()?,
                reason: match reader.u8()? {
                    0 => TradeRefusal::NotFound,
                    1 => TradeRefusal::ItemsMissing,
                    2 => TradeRefusal::Busy,
                    3 => TradeRefusal::PersistenceUnavailable,
                    4 => TradeRefusal::Rejected,
                    value => {
                        return Err(MessageError::UnknownValue {
                            what: "trade refusal",
                            value,
                        });
                    }
                },
            },
            value => return Err(MessageError::UnknownValue { what: "event", value }),
        })
    }
}

impl<'a> ServerMessage<'a> {
    /// Appends the encoding to `out`. Panics on a snapshot payload over `SNAPSHOT_MESSAGE_BYTES_MAX`
    /// (the zone's budget must keep below it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::Snapshot {
                last_input_tick,
                payload,
            } => {
                assert!(payload.len() <= SNAPSHOT_MESSAGE_BYTES_MAX);
                out.reserve(SNAPSHOT_HEADER_BYTES + payload.len());
                out.push(SERVER_SNAPSHOT);
                write_optional_u32(out, *last_input_tick);
                out.extend_from_slice(payload);
            }
            ServerMessage::Event(event) => {
                out.push(SERVER_EVENT);
                event.encode(out);
            }
        }
    }

    /// Total decoder; a snapshot's payload borrows from `bytes` (the snapshot codec checks it).
    pub fn decode(bytes: &'a [u8]) -> Result<ServerMessage<'a>, MessageError> {
        let mut reader = Reader { bytes, offset: 0 };
        let message = match reader.u8()? {
            SERVER_SNAPSHOT => {
                let last_input_tick = reader.optional_u32()?;
                let payload = reader.rest();
                if payload.len() > SNAPSHOT_MESSAGE_BYTES_MAX {
                    return Err(MessageError::SnapshotTooLarge { bytes: payload.len() });
                }
                ServerMessage::Snapshot {
                    last_input_tick,
                    payload,
                }
            }
            SERVER_EVENT => ServerMessage::Event(ServerEvent::decode(&mut reader)?),
            value => return Err(MessageError::UnknownType { value }),
        };
        reader.finish()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes, checks the decoder returns the message, refuses every proper prefix and one
    /// trailing byte, and returns the bytes.
    #[test]
    fn an_aim_survives_quantisation_to_a_thousandth_of_a_degree() {
        assert_eq!(quantise_aim([0.0, 0.0, 0.0]), [0; 3]);
        assert_eq!(quantise_aim([f32::NAN, 1.0, 0.0]), [0; 3]);
        assert_eq!(aim_direction([0; 3]), None);
        assert_eq!(
            quantise_aim([2.0, 0.0, 0.0]),
            [32_767, 0, 0],
            "any length: the direction counts"
        );
        for direction in [[0.6, -0.8, 0.0], [0.001, 0.9999995, 0.0], [-0.57735, 0.57735, 0.57735]] {
            let back = aim_direction(quantise_aim(direction)).unwrap();
            let dot = back[0] * direction[0] + back[1] * direction[1] + back[2] * direction[2];
            let norm = (direction[0] * direction[0] + direction[1] * direction[1] + direction[2] * direction[2]).sqrt();
            assert!(
                (dot / norm - 1.0).abs() < 1e-8 + 2e-9,
                "{direction:?} came back as {back:?}"
            );
        }
        // The most negative wire value reads as -1, like the move axes.
        assert_eq!(aim_direction([-32_768, 0, 0]), Some([-1.0, 0.0, 0.0]));
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
        assert!(
            ServerMessage::decode(&out).is_err(),
            "client bytes read as a server message"
        );
        out
    }

    /// Like `round_trip_client`. A snapshot's payload is opaque here, so a longer snapshot message is
    /// a longer payload rather than trailing bytes; its prefixes past the header are valid too.
    fn round_trip_server(message: ServerMessage<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(ServerMessage::decode(&out), Ok(message.clone()));
        let is_snapshot = matches!(message, ServerMessage::Snapshot { .. });
        let prefixes_refused = if is_snapshot { SNAPSHOT_HEADER_BYTES } else { out.len() };
        for cut in 0..prefixes_refused {
            assert!(
                ServerMessage::decode(&out[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        if !is_snapshot {
            let mut longer = out.clone();
            longer.push(0);
            assert_eq!(
                ServerMessage::decode(&longer),
                Err(MessageError::TrailingBytes { bytes: 1 })
            );
        }
        assert!(
            ClientMessage::decode(&out).is_err(),
            "server bytes read as a client message"
        );
        out
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
            .collect()
    }

    #[test]
    fn move_direction_is_clamped_to_unit_length() {
        let input = |move_right, move_forward| MoveInput {
            move_right,
            move_forward,
            ..MoveInput::default()
        };
        assert_eq!(input(0, 127).direction(), [0.0, 1.0]);
        assert_eq!(input(-128, 0).direction(), [-1.0, 0.0], "-128 reads as -127");
        let [x, y] = input(127, 127).direction();
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-6);
        let quarter = MoveInput {
            yaw: 16_384,
            ..MoveInput::default()
        };
        assert!((quarter.yaw_radians() - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
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
                aim: [32_767, -1, 0],
            },
        });
        round_trip_client(ClientMessage::Action {
            client_tick: 78,
            action: Action::PickUp { loot_id: 900 },
        });
        round_trip_client(ClientMessage::Action {
            client_tick: 78,
            action: Action::TradeOffer {
                target_id: 5,
                give_item: 0,
                want_item: 9,
            },
        });
        round_trip_client(ClientMessage::Action {
            client_tick: 78,
            action: Action::TradeAccept { from_id: 5 },
        });
        round_trip_client(ClientMessage::Chat {
            channel: ChatChannel::Global,
            text: "héllo".into(),
        });
        round_trip_client(ClientMessage::Chat {
            channel: ChatChannel::Zone,
            text: String::new(),
        });
        round_trip_client(ClientMessage::Chat {
            channel: ChatChannel::Zone,
            text: "é".repeat(128),
        });
        round_trip_client(ClientMessage::SnapshotAck { tick: u32::MAX });
    }

    #[test]
    fn server_messages_round_trip() {
        let payload = vec![0xa5; SNAPSHOT_MESSAGE_BYTES_MAX];
        round_trip_server(ServerMessage::Snapshot {
            last_input_tick: Some(0),
            payload: &payload,
        });
        round_trip_server(ServerMessage::Snapshot {
            last_input_tick: None,
            payload: &[],
        });
        for event in [
            ServerEvent::Joined { entity: 5 },
            ServerEvent::JoinRefused {
                reason: JoinRefused::ZoneFull,
            },
            ServerEvent::JoinRefused {
                reason: JoinRefused::AlreadyJoined,
            },
            ServerEvent::JoinRefused {
                reason: JoinRefused::EntityLimit,
            },
            ServerEvent::Chat {
                channel: ChatChannel::Global,
                from_entity: 2,
                text: Arc::from("gg ünïcode"),
            },
            ServerEvent::Chat {
                channel: ChatChannel::Zone,
                from_entity: 2,
                text: Arc::from(""),
            },
            ServerEvent::Died { killer_entity: None },
            ServerEvent::Died { killer_entity: Some(4) },
            ServerEvent::Respawned,
            ServerEvent::AttackResult { target: 1, hit: true },
            ServerEvent::AttackResult { target: 1, hit: false },
            ServerEvent::InventoryGranted {
                item_id: 77,
                quantity: 3,
            },
            ServerEvent::PickUpRefused {
                loot: 8,
                reason: PickUpRefusal::OutOfRange,
            },
            ServerEvent::PickUpRefused {
                loot: 8,
                reason: PickUpRefusal::Busy,
            },
            ServerEvent::TradeOffered {
                from_entity: 3,
                give_item: 42,
                want_item: 0,
            },
            ServerEvent::TradeCompleted {
                with_entity: 3,
                gave_item: 0,
                got_item: 42,
            },
            ServerEvent::TradeRefused {
                with_entity: 3,
                reason: TradeRefusal::Rejected,
            },
        ] {
            round_trip_server(ServerMessage::Event(event));
        }
    }

    #[test]
    fn snapshot_payload_is_borrowed_and_bounded() {
        let mut out = Vec::new();
        ServerMessage::Snapshot {
            last_input_tick: Some(9),
            payload: b"payload",
        }
        .encode(&mut out);
        let Ok(ServerMessage::Snapshot { payload, .. }) = ServerMessage::decode(&out) else {
            panic!("decodes")
        };
        assert!(
            std::ptr::eq(payload.as_ptr(), out[SNAPSHOT_HEADER_BYTES..].as_ptr()),
            "decoded in place"
        );
        let mut too_large = vec![SERVER_SNAPSHOT, 0, 0, 0, 0];
        too_large.resize(SNAPSHOT_HEADER_BYTES + SNAPSHOT_MESSAGE_BYTES_MAX + 1, 0);
        assert_eq!(
            ServerMessage::decode(&too_large),
            Err(MessageError::SnapshotTooLarge {
                bytes: SNAPSHOT_MESSAGE_BYTES_MAX + 1
            })
        );
        assert_eq!(SNAPSHOT_MESSAGE_BYTES_MAX, 1138, "the figure PROTOCOL.md gives");
    }

    #[test]
    fn chat_events_longer_than_the_limit_are_cut_at_a_character_boundary() {
        let text: Arc<str> = Arc::from(format!("{}é", "x".repeat(CHAT_TEXT_BYTES_MAX - 1)));
        let mut out = Vec::new();
        ServerMessage::Event(ServerEvent::Chat {
            channel: ChatChannel::Zone,
            from_entity: 1,
            text,
        })
        .encode(&mut out);
        let Ok(ServerMessage::Event(ServerEvent::Chat { text, .. })) = ServerMessage::decode(&out) else {
            panic!("decodes")
        };
        assert_eq!(&*text, "x".repeat(CHAT_TEXT_BYTES_MAX - 1));
    }

    #[test]
    fn bad_messages_are_typed_errors() {
        assert_eq!(ClientMessage::decode(&[]), Err(MessageError::Truncated { offset: 0 }));
        assert_eq!(ClientMessage::decode(&[9]), Err(MessageError::UnknownType { value: 9 }));
        assert_eq!(
            ClientMessage::decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
            Err(MessageError::BadInputCount { count: 9 })
        );
        assert_eq!(
            ClientMessage::decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(MessageError::BadInputCount { count: 0 })
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
        assert_eq!(check_chat_text(&"x".repeat(CHAT_TEXT_BYTES_MAX)), Ok(()));
        // The retired server types 1 (plain snapshot) and 2 (server chat) are not messages.
        assert_eq!(
            ServerMessage::decode(&[1, 2, 3]),
            Err(MessageError::UnknownType { value: 1 })
        );
        assert_eq!(
            ServerMessage::decode(&[2, 0]),
            Err(MessageError::UnknownType { value: 2 })
        );
        assert_eq!(
            ServerMessage::decode(&[0x82, 12]),
            Err(MessageError::UnknownValue {
                what: "event",
                value: 12
            })
        );
        assert_eq!(
            ServerMessage::decode(&[0x82, 2, 3]),
            Err(MessageError::UnknownValue {
                what: "join refusal",
                value: 3
            })
        );
        assert_eq!(
            ServerMessage::decode(&[0x82, 6, 0, 0, 0, 0, 2]),
            Err(MessageError::UnknownValue {
                what: "hit flag",
                value: 2
            })
        );
    }

    /// The test vectors of `PROTOCOL.md` ("Game messages"), as the same hex strings: each decodes to
    /// the value given and that value encodes to exactly these bytes.
    mod spec_vectors {
        use super::*;

        fn client(hex_bytes: &str, message: ClientMessage) {
            let bytes = round_trip_client(message);
            assert_eq!(hex(&bytes), hex(&unhex(hex_bytes)), "encoding of {bytes:?}");
        }

        fn server(hex_bytes: &str, message: ServerMessage<'_>) {
            let bytes = round_trip_server(message);
            assert_eq!(hex(&bytes), hex(&unhex(hex_bytes)), "encoding of {bytes:?}");
        }

        #[test]
        fn client_message_vectors() {
            client(
                "01 01000000 02000000 02 ff7f020101 00810000 00",
                ClientMessage::Input(InputMessage {
                    sequence: 1,
                    newest_tick: 2,
                    inputs: vec![
                        MoveInput {
                            move_right: -1,
                            move_forward: 127,
                            yaw: 0x0102,
                            buttons: 1,
                        },
                        MoveInput {
                            move_right: 0,
                            move_forward: -127,
                            yaw: 0,
                            buttons: 0,
                        },
                    ],
                }),
            );
            client(
                "02 07000000 01 05000000 0300 0080 ff7f 0000",
                ClientMessage::Action {
                    client_tick: 7,
                    action: Action::Attack {
                        target_id: 5,
                        skill_id: 3,
                        aim: [-32_768, 32_767, 0],
                    },
                },
            );
            client(
                "02 08000000 02 84030000",
                ClientMessage::Action {
                    client_tick: 8,
                    action: Action::PickUp { loot_id: 900 },
                },
            );
            client(
                "02 09000000 03 07000000 2a000000 00000000",
                ClientMessage::Action {
                    client_tick: 9,
                    action: Action::TradeOffer {
                        target_id: 7,
                        give_item: 42,
                        want_item: 0,
                    },
                },
            );
            client(
                "02 0a000000 04 07000000",
                ClientMessage::Action {
                    client_tick: 10,
                    action: Action::TradeAccept { from_id: 7 },
                },
            );
            client(
                "03 00 0300 686579",
                ClientMessage::Chat {
                    channel: ChatChannel::Zone,
                    text: "hey".into(),
                },
            );
            client(
                "03 01 0200 c3a9",
                ClientMessage::Chat {
                    channel: ChatChannel::Global,
                    text: "é".into(),
                },
            );
            client("80 04030201", ClientMessage::SnapshotAck { tick: 0x0102_0304 });
        }

        #[test]
        fn server_message_vectors() {
            server(
                "81 09000000 deadbeef",
                ServerMessage::Snapshot {
                    last_input_tick: Some(9),
                    payload: &[0xde, 0xad, 0xbe, 0xef],
                },
            );
            server(
                "81 ffffffff",
                ServerMessage::Snapshot {
                    last_input_tick: None,
                    payload: &[],
                },
            );
            server(
                "82 01 2a000000",
                ServerMessage::Event(ServerEvent::Joined { entity: 42 }),
            );
            server(
                "82 02 00",
                ServerMessage::Event(ServerEvent::JoinRefused {
                    reason: JoinRefused::ZoneFull,
                }),
            );
            server(
                "82 02 01",
                ServerMessage::Event(ServerEvent::JoinRefused {
                    reason: JoinRefused::AlreadyJoined,
                }),
            );
            server(
                "82 02 02",
                ServerMessage::Event(ServerEvent::JoinRefused {
                    reason: JoinRefused::EntityLimit,
                }),
            );
            server(
                "82 03 00 2a000000 0200 6869",
                ServerMessage::Event(ServerEvent::Chat {
                    channel: ChatChannel::Zone,
                    from_entity: 42,
                    text: "hi".into(),
                }),
            );
            server(
                "82 03 01 07000000 0000",
                ServerMessage::Event(ServerEvent::Chat {
                    channel: ChatChannel::Global,
                    from_entity: 7,
                    text: "".into(),
                }),
            );
            server(
                "82 04 07000000",
                ServerMessage::Event(ServerEvent::Died { killer_entity: Some(7) }),
            );
            server(
                "82 04 ffffffff",
                ServerMessage::Event(ServerEvent::Died { killer_entity: None }),
            );
            server("82 05", ServerMessage::Event(ServerEvent::Respawned));
            server(
                "82 06 07000000 01",
                ServerMessage::Event(ServerEvent::AttackResult { target: 7, hit: true }),
            );
            server(
                "82 06 07000000 00",
                ServerMessage::Event(ServerEvent::AttackResult { target: 7, hit: false }),
            );
            server(
                "82 07 e8030000 0500",
                ServerMessage::Event(ServerEvent::InventoryGranted {
                    item_id: 1000,
                    quantity: 5,
                }),
            );
            server(
                "82 08 0b000000 02",
                ServerMessage::Event(ServerEvent::PickUpRefused {
                    loot: 11,
                    reason: PickUpRefusal::PersistenceUnavailable,
                }),
            );
            server(
                "82 08 0b000000 01",
                ServerMessage::Event(ServerEvent::PickUpRefused {
                    loot: 11,
                    reason: PickUpRefusal::AlreadyClaimed,
                }),
            );
            server(
                "82 09 2a000000 e8030000 00000000",
                ServerMessage::Event(ServerEvent::TradeOffered {
                    from_entity: 42,
                    give_item: 1000,
                    want_item: 0,
                }),
            );
            server(
                "82 0a 07000000 00000000 e8030000",
                ServerMessage::Event(ServerEvent::TradeCompleted {
                    with_entity: 7,
                    gave_item: 0,
                    got_item: 1000,
                }),
            );
            server(
                "82 0b 07000000 03",
                ServerMessage::Event(ServerEvent::TradeRefused {
                    with_entity: 7,
                    reason: TradeRefusal::PersistenceUnavailable,
                }),
            );
        }
    }
}
