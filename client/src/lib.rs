//! `meridian-client` is the client SDK: it connects with a connect token, keeps the clock in sync with
//! the server, sends inputs each tick with redundancy, predicts the local player and reconciles with
//! the authoritative state, and interpolates remote entities. It is sans-IO like `meridian-proto`,
//! which it wraps: the caller feeds datagrams and the time, calls `tick` at the zone's rate with the
//! player's move intent, and sends what `poll_transmit` hands back. One `GameClient` is one session;
//! the bot swarm runs thousands of them in one process, so every buffer here has a limit.
//!
//! Prediction uses the zone's own movement function (`meridian_zone::movement::apply_move`) on the
//! quantised direction the server will decode (`wire::move_direction`), so a client and a server with
//! the same `ZoneConfig` agree to the bit and corrections are zero unless the server knows something
//! the client does not.
//!
//! The protocol says everything the client needs (`schemas/PROTOCOL.md`, "Game messages"): our
//! entity comes in the `Joined` event (until then the player is not placed), every snapshot says which
//! of our input ticks the zone has passed (reconciliation replays only the later ones), and the client
//! acks every snapshot it applies, riding with the next tick's input, so the server sends deltas.
#![forbid(unsafe_code)]

pub mod dev_token;
pub mod interpolation;
pub mod prediction;
pub mod stats;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use meridian_proto::connection::{ConnectionStats, Received, SendError};
use meridian_proto::endpoint::{ClientConnection, ClientEvent, ClientState};
use meridian_proto::packet::PacketError;
use meridian_proto::snapshot::{EntityState, SnapshotError, SnapshotReceiver};
use thiserror::Error;
use wire::{
    CHAT_TEXT_BYTES_MAX, ClientMessage, INPUT_REDUNDANCY_MAX, InputMessage, MessageError, MoveInput, ProtoAction,
    ServerMessage,
};

pub use interpolation::{InterpolationStats, Interpolator};
/// Why a session ended (`GameEvent::Disconnected`): a server's Disconnect carries its reason.
pub use meridian_proto::endpoint::{ClientDisconnect, Transmit};
pub use meridian_proto::packet::DisconnectReason;
pub use meridian_proto::token::ClientToken;
pub use meridian_zone::{Action, ZoneConfig};
pub use prediction::{CorrectionStats, MovementModel, Predictor, Reconciliation};
pub use stats::Histogram;
pub use wire::{ChatChannel, ServerEvent};

/// Events kept for the application; older ones are dropped and counted when it does not poll.
pub const GAME_EVENTS_MAX: usize = 256;
/// Default inputs per datagram: two datagrams in a row may be lost without losing an input.
pub const INPUT_REDUNDANCY_DEFAULT: usize = 3;
/// Inputs remembered for placing the player (replaying the ones the server has not applied yet).
pub const SENT_INPUTS_MAX: usize = 64;
/// Default `ClientConfig::resume_patience_ms`: a node's death is noticed by its lease (a few
/// seconds), the zone restarts elsewhere within seconds more; 20 s covers that with room.
pub const RESUME_PATIENCE_MS_DEFAULT: u64 = 20_000;
/// A server silent this long is presumed away (a failover under way): from then on inputs go out
/// only every `SILENT_INPUT_EVERY_TICKS`-th tick (keep-alives go on), a trickle that keeps the
/// session's sequence moving instead of a full stream to nobody. Ten snapshot intervals: ordinary
/// loss never stops snapshots that long.
pub const SERVER_SILENT_AFTER_US: u64 = 500_000;
/// While the server is silent, one tick in this many sends its input.
pub const SILENT_INPUT_EVERY_TICKS: u32 = 10;

/// Why the client refused something; all are the caller's or the peer's fault, none retryable as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ClientError {
    #[error("packet dropped: {0}")]
    Packet(#[from] PacketError),
    #[error("game message dropped: {0}")]
    Message(#[from] MessageError),
    #[error("snapshot dropped: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("send refused: {0}")]
    Send(#[from] SendError),
    #[error("not connected")]
    NotConnected,
    #[error("config: {0}")]
    Config(&'static str),
    /// Refused before sending: the server would drop it (and its decoder rejects the message).
    #[error("chat text of {bytes} bytes exceeds the limit of {CHAT_TEXT_BYTES_MAX}")]
    ChatTooLong { bytes: usize },
    /// Refused before sending: the zone relays no empty chat.
    #[error("chat text is empty")]
    ChatEmpty,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Inputs each datagram carries (1..=`wire::INPUT_REDUNDANCY_MAX`).
    pub input_redundancy: usize,
    /// Remote entities are drawn this far in the past.
    pub interpolation_delay_us: u64,
    /// The zone's rules (tick rate, speed, world, colliders, jitter buffer): prediction runs the same step.
    pub zone: ZoneConfig,
    /// How long a connected client waits for a silent server before giving up (at least the
    /// protocol's 5 s idle timeout). Meanwhile it keeps its session, keys and sequences and keeps
    /// sending (keep-alives every 100 ms, inputs at the tick rate), so when the zone's new server
    /// resumes the session after a failover the game goes on without a new login
    /// (`GameEvent::Resumed`). PROTOCOL.md, "Session resume after failover".
    pub resume_patience_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let zone = ZoneConfig::default();
        Self {
            input_redundancy: INPUT_REDUNDANCY_DEFAULT,
            interpolation_delay_us: zone.interpolation_delay_us,
            zone,
            resume_patience_ms: RESUME_PATIENCE_MS_DEFAULT,
        }
    }
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), ClientError> {
        if !(1..=INPUT_REDUNDANCY_MAX).contains(&self.input_redundancy) {
            return Err(ClientError::Config("input_redundancy outside 1..=INPUT_REDUNDANCY_MAX"));
        }
        self.zone
            .validate()
            .map_err(|_| ClientError::Config("zone config invalid"))
    }
}

/// What the application hears about.
#[derive(Clone, Debug, PartialEq)]
pub enum GameEvent {
    Connected,
    Disconnected(ClientDisconnect),
    /// The session resumed on another server after a failover (same session, no new login). The
    /// world resynchronises: the snapshot state is dropped and rebuilt from the new server's first
    /// full snapshot, and the player is placed again once its `Joined` arrives.
    Resumed,
    /// Our entity (from the `Joined` event) is in a snapshot and the prediction is placed on it; again
    /// after a respawn.
    Placed {
        entity: u32,
    },
    /// Every zone event as the server sent it, `Joined` and chat included. Chat comes from every
    /// sender, ourselves too: our own line arrives back once the zone has relayed it.
    Server(ServerEvent),
}

/// The player's wish this tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoveCommand {
    /// Ground-plane direction in world axes (x, y); longer than 1 is scaled down by the server.
    pub direction: [f32; 2],
    pub yaw: f32,
}

/// Counters of one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCounters {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub datagrams_dropped: u64,
    pub input_messages_sent: u64,
    pub snapshot_acks_sent: u64,
    pub snapshots_applied: u64,
    pub snapshots_dropped: u64,
    pub messages_dropped: u64,
    pub events_dropped: u64,
    pub send_refused: u64,
    /// Sessions resumed on another server (each one snapshot resync).
    pub resumes: u64,
    /// Input messages not sent because the server was silent (`SERVER_SILENT_AFTER_US`).
    pub inputs_withheld: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct SentInput {
    tick: u32,
    direction: [f32; 2],
    yaw: f32,
}

/// One game session (see the crate docs).
pub struct GameClient {
    config: ClientConfig,
    connection: ClientConnection,
    receiver: SnapshotReceiver,
    predictor: Predictor,
    interpolator: Interpolator,
    entity: Option<u32>,
    /// Re-place the predictor from the next snapshot with our entity (joined, respawned).
    placement_pending: bool,
    client_tick: u32,
    input_sequence: u32,
    /// The newest `INPUT_REDUNDANCY_MAX` move inputs, oldest first.
    recent_inputs: VecDeque<MoveInput>,
    sent_inputs: VecDeque<SentInput>,
    last_acked_snapshot: Option<u32>,
    events: VecDeque<GameEvent>,
    counters: ClientCounters,
    last_reconciliation: Option<Reconciliation>,
    scratch: Vec<u8>,
    /// The newest time the caller passed (`handle`, `poll_transmit`): `tick` takes none.
    now_us: u64,
}

impl GameClient {
    /// Starts connecting to the token's first server address at client time `now_us`.
    pub fn new(now_us: u64, token: ClientToken, config: ClientConfig) -> Result<Self, ClientError> {
        config.validate()?;
        let model = MovementModel::from_zone(&config.zone);
        let interpolator = Interpolator::new(config.zone.tick_interval_us(), config.interpolation_delay_us);
        let mut connection = ClientConnection::new(now_us, token, 0);
        connection.set_idle_timeout_us(config.resume_patience_ms.saturating_mul(1_000));
        Ok(Self {
            connection,
            receiver: SnapshotReceiver::new(),
            predictor: Predictor::new(model),
            interpolator,
            entity: None,
            placement_pending: false,
            client_tick: 0,
            input_sequence: 0,
            recent_inputs: VecDeque::with_capacity(INPUT_REDUNDANCY_MAX),
            sent_inputs: VecDeque::with_capacity(SENT_INPUTS_MAX),
            last_acked_snapshot: None,
            events: VecDeque::new(),
            counters: ClientCounters::default(),
            last_reconciliation: None,
            scratch: Vec::with_capacity(64),
            now_us,
            config,
        })
    }

    pub fn state(&self) -> ClientState {
        self.connection.state()
    }

    pub fn is_connected(&self) -> bool {
        self.connection.state() == ClientState::Connected
    }

    /// Our entity in the zone, once known.
    pub fn entity(&self) -> Option<u32> {
        self.entity
    }

    /// Whether our entity is known and the prediction placed.
    pub fn is_placed(&self) -> bool {
        self.entity.is_some() && self.predictor.position_m().is_some() && !self.placement_pending
    }

    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    pub fn corrections(&self) -> &CorrectionStats {
        self.predictor.stats()
    }

    pub fn last_reconciliation(&self) -> Option<Reconciliation> {
        self.last_reconciliation
    }

    pub fn interpolation_stats(&self) -> InterpolationStats {
        self.interpolator.stats()
    }

    pub fn connection_stats(&self) -> Option<ConnectionStats> {
        self.connection.connection().map(|connection| connection.stats())
    }

    /// Round trip from clock sync (lowest of the recent samples).
    pub fn rtt_us(&self) -> Option<i64> {
        self.connection
            .connection()
            .and_then(|connection| connection.clock().rtt_us())
    }

    /// The server's clock at client time `now_us`.
    pub fn server_time_us(&self, now_us: u64) -> Option<u64> {
        self.connection
            .connection()
            .and_then(|connection| connection.clock().server_time_us(now_us))
    }

    /// The server tick of the newest snapshot applied (ticks count from the cluster's tick origin, so
    /// zones on other workers or nodes number them alike: a handoff that missed no snapshot shows
    /// consecutive ticks across it).
    pub fn server_tick(&self) -> Option<u32> {
        self.receiver.latest_tick()
    }

    /// The newest authoritative world (our area of interest), as decoded.
    pub fn server_world(&self) -> &BTreeMap<u32, EntityState> {
        self.receiver.world()
    }

    /// Where our player is drawn: the prediction.
    pub fn predicted_position_m(&self) -> Option<[f32; 3]> {
        self.predictor.position_m()
    }

    /// Remote entities as drawn at client time `now_us` (interpolated `interpolation_delay_us` back).
    ///
    /// The render clock is the client's own: snapshot times are estimated from arrivals on the same
    /// clock, so render time = server time − delay with the clock offset cancelled out.
    pub fn render_remote(&mut self, now_us: u64, out: &mut Vec<EntityState>) {
        self.interpolator.sample(now_us, self.entity, out);
    }

    /// Where a remote entity is drawn at client time `now_us`.
    pub fn render_position(&mut self, entity: u32, now_us: u64) -> Option<[f32; 3]> {
        self.interpolator.position(entity, now_us)
    }

    pub fn poll_event(&mut self) -> Option<GameEvent> {
        self.events.pop_front()
    }

    fn push_event(&mut self, event: GameEvent) {
        if self.events.len() >= GAME_EVENTS_MAX {
            self.events.pop_front();
            self.counters.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    /// Feeds one datagram from `from`. An error means it (or a message in it) was dropped; the client
    /// goes on.
    pub fn handle(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), ClientError> {
        self.counters.datagrams_received += 1;
        self.counters.bytes_received += bytes.len() as u64;
        self.now_us = self.now_us.max(now_us);
        if let Err(error) = self.connection.handle(now_us, from, bytes) {
            self.counters.datagrams_dropped += 1;
            return Err(error.into());
        }
        let mut first_error = None;
        while let Some(event) = self.connection.poll_event() {
            let result = match event {
                ClientEvent::Connected => {
                    self.push_event(GameEvent::Connected);
                    Ok(())
                }
                ClientEvent::Disconnected(reason) => {
                    self.push_event(GameEvent::Disconnected(reason));
                    Ok(())
                }
                ClientEvent::Resumed => {
                    self.resync();
                    self.push_event(GameEvent::Resumed);
                    Ok(())
                }
                ClientEvent::Message(Received::Unreliable(message) | Received::Reliable(message)) => {
                    self.on_message(now_us, &message)
                }
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn on_message(&mut self, now_us: u64, message: &[u8]) -> Result<(), ClientError> {
        let message = ServerMessage::decode(message).inspect_err(|_| self.counters.messages_dropped += 1)?;
        match message {
            ServerMessage::Snapshot {
                last_input_tick,
                payload,
            } => self.on_snapshot(now_us, last_input_tick, payload),
            ServerMessage::Event(event) => {
                match event {
                    ServerEvent::Joined { entity } => {
                        self.entity = Some(entity);
                        self.placement_pending = true;
                    }
                    ServerEvent::Respawned => self.placement_pending = true,
                    _ => {}
                }
                self.push_event(GameEvent::Server(event));
                Ok(())
            }
        }
    }

    fn on_snapshot(&mut self, now_us: u64, last_input_tick: Option<u32>, payload: &[u8]) -> Result<(), ClientError> {
        let tick = self
            .receiver
            .apply(payload)
            .inspect_err(|_| self.counters.snapshots_dropped += 1)?;
        self.counters.snapshots_applied += 1;
        if self.receiver.latest_tick() != Some(tick) {
            return Ok(()); // older than what we have: kept only as a possible delta baseline
        }
        self.interpolator.push(tick, self.receiver.world(), now_us);
        let Some(own) = self.entity.and_then(|entity| self.receiver.world().get(&entity)) else {
            return Ok(());
        };
        let position = own.position;
        if self.placement_pending || self.predictor.position_m().is_none() {
            self.place(position, last_input_tick);
            return Ok(());
        }
        self.last_reconciliation = Some(self.predictor.reconcile(position, last_input_tick));
        Ok(())
    }

    /// Places the player at the server's position and replays the inputs the server has not applied:
    /// those after `last_input_tick` (all we remember when it is `None`: none applied yet).
    fn place(&mut self, position_m: [f32; 3], last_input_tick: Option<u32>) {
        self.placement_pending = false;
        self.predictor.place(position_m, last_input_tick);
        for index in 0..self.sent_inputs.len() {
            let input = self.sent_inputs[index];
            if last_input_tick.is_none_or(|applied| input.tick > applied) {
                self.predictor.predict(input.tick, input.direction, input.yaw);
            }
        }
        if let Some(entity) = self.entity {
            self.push_event(GameEvent::Placed { entity });
        }
    }

    /// One client tick at the zone's rate: predicts `command` locally and sends this tick's input
    /// with the previous `input_redundancy - 1` ones.
    pub fn tick(&mut self, command: MoveCommand) -> Result<(), ClientError> {
        self.tick_inputs(command, 1)
    }

    /// A time-dilation cheat for misbehaving bots (never for a real client): sends `inputs_per_tick`
    /// new inputs this tick, as if the client's clock ran that much faster.
    pub fn tick_time_dilated(&mut self, command: MoveCommand, inputs_per_tick: usize) -> Result<(), ClientError> {
        self.tick_inputs(command, inputs_per_tick.clamp(1, INPUT_REDUNDANCY_MAX))
    }

    fn tick_inputs(&mut self, command: MoveCommand, count: usize) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        let (move_right, move_forward) = wire::quantise_direction(command.direction);
        let yaw_steps = wire::quantise_yaw(command.yaw);
        let direction = wire::move_direction(move_right, move_forward);
        let yaw = wire::yaw_radians(yaw_steps);
        for _ in 0..count {
            self.client_tick = self.client_tick.wrapping_add(1);
            if self.is_placed() {
                self.predictor.predict(self.client_tick, direction, yaw);
            }
            if self.sent_inputs.len() == SENT_INPUTS_MAX {
                self.sent_inputs.pop_front();
            }
            self.sent_inputs.push_back(SentInput {
                tick: self.client_tick,
                direction,
                yaw,
            });
            if self.recent_inputs.len() == INPUT_REDUNDANCY_MAX {
                self.recent_inputs.pop_front();
            }
            self.recent_inputs.push_back(MoveInput {
                move_right,
                move_forward,
                yaw: yaw_steps,
                buttons: 0,
            });
        }
        if self.server_silent() && !self.client_tick.is_multiple_of(SILENT_INPUT_EVERY_TICKS) {
            self.counters.inputs_withheld += 1;
            return Ok(());
        }
        let carried = self.config.input_redundancy.max(count).min(self.recent_inputs.len());
        let inputs: Vec<MoveInput> = self.recent_inputs.iter().rev().take(carried).copied().collect();
        let message = ClientMessage::Input(InputMessage {
            sequence: self.input_sequence,
            newest_tick: self.client_tick,
            inputs,
        });
        self.input_sequence = self.input_sequence.wrapping_add(1);
        self.scratch.clear();
        message.encode(&mut self.scratch);
        self.connection
            .send_unreliable(&self.scratch)
            .inspect_err(|_| self.counters.send_refused += 1)?;
        self.counters.input_messages_sent += 1;
        // Queued right behind the input, so both leave in the same datagram.
        let latest = self.receiver.latest_tick();
        if let (true, Some(tick)) = (latest != self.last_acked_snapshot, latest) {
            self.scratch.clear();
            ClientMessage::SnapshotAck { tick }.encode(&mut self.scratch);
            self.connection
                .send_unreliable(&self.scratch)
                .inspect_err(|_| self.counters.send_refused += 1)?;
            self.counters.snapshot_acks_sent += 1;
            self.last_acked_snapshot = latest;
        }
        Ok(())
    }

    /// Sends a discrete action on the reliable channel, stamped with the current client tick.
    /// Attacks go as skill 0 with their direction as the aim: aim where the target is *drawn*
    /// ([`GameClient::render_position`]), and the server judges the shot against what this client
    /// saw. Chat goes as [`GameClient::send_chat`].
    pub fn send_action(&mut self, action: &Action) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        let message = match action {
            Action::Attack { target, direction } => ClientMessage::Action {
                client_tick: self.client_tick,
                action: ProtoAction::Attack {
                    target_id: *target,
                    skill_id: 0,
                    aim: meridian_proto::messages::quantise_aim(*direction),
                },
            },
            Action::PickUp { loot } => ClientMessage::Action {
                client_tick: self.client_tick,
                action: ProtoAction::PickUp { loot_id: *loot },
            },
            Action::Chat { text } => return self.send_chat(text),
            Action::TradeOffer {
                target,
                give_item,
                want_item,
            } => ClientMessage::Action {
                client_tick: self.client_tick,
                action: ProtoAction::TradeOffer {
                    target_id: *target,
                    give_item: *give_item,
                    want_item: *want_item,
                },
            },
            Action::TradeAccept { from } => ClientMessage::Action {
                client_tick: self.client_tick,
                action: ProtoAction::TradeAccept { from_id: *from },
            },
        };
        self.send_reliable(&message)
    }

    /// Sends a line of zone chat. Text over `CHAT_TEXT_BYTES_MAX` bytes of UTF-8, or empty, is
    /// refused here (the server would drop it). Everyone in the zone hears it, we too: it comes back
    /// as `GameEvent::Server(ServerEvent::Chat { from_entity: <our entity>, .. })` once relayed, which
    /// is how a sender sees it was accepted (the zone also drops chat over its rate limit).
    pub fn send_chat(&mut self, text: &str) -> Result<(), ClientError> {
        self.send_chat_on(ChatChannel::Zone, text)
    }

    /// Sends a line of chat on `channel`: `Zone` as [`GameClient::send_chat`]; `Global` reaches
    /// every player on every node when the node carries global chat (it echoes the line back to the
    /// sender too), or comes back as a refusal event saying why (rate, length, unavailable).
    pub fn send_chat_on(&mut self, channel: ChatChannel, text: &str) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        if text.len() > CHAT_TEXT_BYTES_MAX {
            return Err(ClientError::ChatTooLong { bytes: text.len() });
        }
        if text.is_empty() {
            return Err(ClientError::ChatEmpty);
        }
        self.send_reliable(&ClientMessage::Chat {
            channel,
            text: text.to_owned(),
        })
    }

    fn send_reliable(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.scratch.clear();
        message.encode(&mut self.scratch);
        self.connection
            .send_reliable(&self.scratch)
            .inspect_err(|_| self.counters.send_refused += 1)?;
        Ok(())
    }

    /// Sends to, and accepts packets only from, `server` from now on. For a failover where the zone's
    /// new server has another address (tests, a deployment without anycast); behind anycast the
    /// VIP is routed to the other PoP and the address does not change.
    pub fn set_server_addr(&mut self, server: SocketAddr) {
        self.connection.set_server_addr(server);
    }

    /// The server address in use.
    pub fn server_addr(&self) -> SocketAddr {
        self.connection.server_addr()
    }

    /// Drops what the old server's snapshots built: the new one has its own ticks and entity ids
    /// and starts with a full snapshot. The prediction is placed again from the `Joined` event.
    fn resync(&mut self) {
        self.counters.resumes += 1;
        self.receiver = SnapshotReceiver::new();
        self.interpolator = Interpolator::new(self.config.zone.tick_interval_us(), self.config.interpolation_delay_us);
        self.entity = None;
        self.placement_pending = true;
        self.last_acked_snapshot = None;
    }

    /// Ends the session cleanly: the returned datagram tells the server to free the session now.
    pub fn disconnect(&mut self) -> Option<Transmit> {
        self.connection.disconnect()
    }

    /// Sends raw bytes on the unreliable channel (misbehaving bots; never for a real client).
    pub fn send_raw_unreliable(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.connection.send_unreliable(bytes)?;
        Ok(())
    }

    /// Sends raw bytes on the reliable channel (tests of what the server refuses; never for a real
    /// client).
    pub fn send_raw_reliable(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.connection.send_reliable(bytes)?;
        Ok(())
    }

    /// Whether the server has sent nothing valid for `SERVER_SILENT_AFTER_US`.
    pub fn server_silent(&self) -> bool {
        self.connection.connection().is_some_and(|connection| {
            self.now_us.saturating_sub(connection.last_received_us()) > SERVER_SILENT_AFTER_US
        })
    }

    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        self.now_us = self.now_us.max(now_us);
        let transmit = self.connection.poll_transmit(now_us);
        // A timeout or expiry found while polling surfaces as an event too.
        while let Some(event) = self.connection.poll_event() {
            if let ClientEvent::Disconnected(reason) = event {
                self.push_event(GameEvent::Disconnected(reason));
            }
        }
        let transmit = transmit?;
        self.counters.datagrams_sent += 1;
        self.counters.bytes_sent += transmit.bytes.len() as u64;
        Some(transmit)
    }

    /// The newest input tick sent.
    pub fn client_tick(&self) -> u32 {
        self.client_tick
    }
}
