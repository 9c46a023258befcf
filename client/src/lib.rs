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
//! What the wire does not (yet) say, the client infers (see `wire` for the proposed extensions):
//! - which entity is ours: from the `Joined` event if the server sends it, otherwise by recognising
//!   the one player entity whose velocity follows our inputs, through a turn, for `IDENTIFY_STREAK`
//!   snapshots (a client that never turns is never placed);
//! - which input the server applied last: from the extended snapshot if present, otherwise from
//!   positions (`Predictor::reconcile_unacked`); when placing the player, the inputs still in flight
//!   are estimated from the RTT and the zone's input jitter buffer and replayed.
#![forbid(unsafe_code)]

pub mod dev_token;
pub mod interpolation;
pub mod prediction;
pub mod stats;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use meridian_proto::connection::{ConnectionStats, Received, SendError};
use meridian_proto::endpoint::{ClientConnection, ClientDisconnect, ClientEvent, ClientState};
use meridian_proto::packet::PacketError;
use meridian_proto::snapshot::{EntityKind, EntityState, SNAPSHOT_ENTITIES_MAX, SnapshotError, SnapshotReceiver};
use thiserror::Error;
use wire::{ChatChannel, ClientMessage, Downlink, INPUT_REDUNDANCY_MAX, InputMessage, MoveInput, ProtoAction};

pub use interpolation::{InterpolationStats, Interpolator};
pub use meridian_proto::endpoint::Transmit;
pub use meridian_proto::token::ClientToken;
pub use meridian_zone::{Action, ZoneConfig};
pub use prediction::{CorrectionStats, MovementModel, Predictor, Reconciliation};
pub use stats::Histogram;
pub use wire::{ServerEvent, WireError};

/// Events kept for the application; older ones are dropped and counted when it does not poll.
pub const GAME_EVENTS_MAX: usize = 256;
/// Default inputs per datagram: two datagrams in a row may be lost without losing an input.
pub const INPUT_REDUNDANCY_DEFAULT: usize = 3;
/// Inputs remembered for placing the player (replaying the ones the server has not applied yet).
pub const SENT_INPUTS_MAX: usize = 64;
/// Consecutive snapshots a player entity's velocity must follow our inputs (through at least one
/// turn) to be taken as ours.
pub const IDENTIFY_STREAK: u8 = 5;
/// Ticks beyond RTT and a full jitter buffer that an input may still be in flight.
pub const IN_FLIGHT_SLACK_TICKS: u32 = 4;
/// Velocity match tolerance for self-identification (the codec's resolution is 1/32 m/s).
pub const IDENTIFY_VELOCITY_TOLERANCE_M_PER_S: f32 = 0.15;
/// Recent inputs whose velocity may show in a snapshot (RTT plus the zone's jitter buffer).
pub const IDENTIFY_INPUTS_WINDOW: usize = 16;

/// Why the client refused something; all are the caller's or the peer's fault, none retryable as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ClientError {
    #[error("packet dropped: {0}")]
    Packet(#[from] PacketError),
    #[error("game message dropped: {0}")]
    Wire(#[from] WireError),
    #[error("snapshot dropped: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("send refused: {0}")]
    Send(#[from] SendError),
    #[error("not connected")]
    NotConnected,
    #[error("config: {0}")]
    Config(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Inputs each datagram carries (1..=`wire::INPUT_REDUNDANCY_MAX`).
    pub input_redundancy: usize,
    /// Remote entities are drawn this far in the past.
    pub interpolation_delay_us: u64,
    /// The zone's rules (tick rate, speed, world, colliders, jitter buffer): prediction runs the same step.
    pub zone: ZoneConfig,
    /// Send the proposed extension messages up (snapshot acks). Off against today's node.
    pub wire_extensions: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let zone = ZoneConfig::default();
        Self {
            input_redundancy: INPUT_REDUNDANCY_DEFAULT,
            interpolation_delay_us: zone.interpolation_delay_us,
            zone,
            wire_extensions: false,
        }
    }
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), ClientError> {
        if !(1..=INPUT_REDUNDANCY_MAX).contains(&self.input_redundancy) {
            return Err(ClientError::Config("input_redundancy outside 1..=INPUT_REDUNDANCY_MAX"));
        }
        self.zone.validate().map_err(|_| ClientError::Config("zone config invalid"))
    }
}

/// What the application hears about.
#[derive(Clone, Debug, PartialEq)]
pub enum GameEvent {
    Connected,
    Disconnected(ClientDisconnect),
    /// Our entity is known and placed (from `Joined` or recognised by its movement).
    Placed { entity: u32, identified_by_movement: bool },
    Chat { channel: ChatChannel, sender_id: u32, text: String },
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
    pub snapshots_applied: u64,
    pub snapshots_dropped: u64,
    pub messages_dropped: u64,
    pub events_dropped: u64,
    pub send_refused: u64,
}

/// How long a player entity's velocity has followed our inputs, and through how many turns.
#[derive(Clone, Copy, Debug, PartialEq)]
struct IdentifyStreak {
    snapshots: u8,
    turns: u8,
    velocity: [f32; 2],
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
    identified_by_movement: bool,
    /// Re-place the predictor from the next snapshot with our entity (joined, respawned, identified).
    placement_pending: bool,
    client_tick: u32,
    input_sequence: u32,
    /// The newest `INPUT_REDUNDANCY_MAX` move inputs, oldest first.
    recent_inputs: VecDeque<MoveInput>,
    sent_inputs: VecDeque<SentInput>,
    /// Self-identification: player entity → consecutive snapshots its velocity followed our inputs.
    identify_streaks: BTreeMap<u32, IdentifyStreak>,
    last_acked_snapshot: Option<u32>,
    events: VecDeque<GameEvent>,
    counters: ClientCounters,
    last_reconciliation: Option<Reconciliation>,
    scratch: Vec<u8>,
}

impl GameClient {
    /// Starts connecting to the token's first server address at client time `now_us`.
    pub fn new(now_us: u64, token: ClientToken, config: ClientConfig) -> Result<Self, ClientError> {
        config.validate()?;
        let model = MovementModel::from_zone(&config.zone);
        let interpolator = Interpolator::new(config.zone.tick_interval_us(), config.interpolation_delay_us);
        Ok(Self {
            connection: ClientConnection::new(now_us, token, 0),
            receiver: SnapshotReceiver::new(),
            predictor: Predictor::new(model),
            interpolator,
            entity: None,
            identified_by_movement: false,
            placement_pending: false,
            client_tick: 0,
            input_sequence: 0,
            recent_inputs: VecDeque::with_capacity(INPUT_REDUNDANCY_MAX),
            sent_inputs: VecDeque::with_capacity(SENT_INPUTS_MAX),
            identify_streaks: BTreeMap::new(),
            last_acked_snapshot: None,
            events: VecDeque::new(),
            counters: ClientCounters::default(),
            last_reconciliation: None,
            scratch: Vec::with_capacity(64),
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
        self.connection.connection().and_then(|connection| connection.clock().rtt_us())
    }

    /// The server's clock at client time `now_us`.
    pub fn server_time_us(&self, now_us: u64) -> Option<u64> {
        self.connection.connection().and_then(|connection| connection.clock().server_time_us(now_us))
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
        let downlink = wire::decode_downlink(message).inspect_err(|_| self.counters.messages_dropped += 1)?;
        match downlink {
            Downlink::Snapshot { last_input_tick, payload } => self.on_snapshot(now_us, last_input_tick, &payload),
            Downlink::Chat { channel, sender_id, text } => {
                self.push_event(GameEvent::Chat { channel, sender_id, text });
                Ok(())
            }
            Downlink::Event(event) => {
                match event {
                    ServerEvent::Joined { entity } => {
                        self.entity = Some(entity);
                        self.identified_by_movement = false;
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
        let tick = self.receiver.apply(payload).inspect_err(|_| self.counters.snapshots_dropped += 1)?;
        self.counters.snapshots_applied += 1;
        if self.receiver.latest_tick() != Some(tick) {
            return Ok(()); // older than what we have: kept only as a possible delta baseline
        }
        self.interpolator.push(tick, self.receiver.world(), now_us);
        if self.entity.is_none() {
            self.identify();
        }
        let Some(own) = self.entity.and_then(|entity| self.receiver.world().get(&entity)) else { return Ok(()) };
        let position = own.position;
        if self.placement_pending || self.predictor.position_m().is_none() {
            self.place(position, last_input_tick, tick);
            return Ok(());
        }
        self.last_reconciliation = Some(match last_input_tick {
            Some(acked) => self.predictor.reconcile(position, Some(acked)),
            None => {
                let (estimate, max) = self.in_flight_estimate();
                self.predictor.reconcile_unacked(position, tick, estimate, max)
            }
        });
        Ok(())
    }

    /// Recognises our entity as the only player whose velocity has followed our recent inputs for
    /// `IDENTIFY_STREAK` snapshots in a row.
    fn identify(&mut self) {
        let speed = self.predictor.model().speed_m_per_s;
        let recent: Vec<[f32; 2]> = self
            .sent_inputs
            .iter()
            .rev()
            .take(IDENTIFY_INPUTS_WINDOW)
            .map(|input| [input.direction[0] * speed, input.direction[1] * speed])
            .collect();
        let world = self.receiver.world();
        let follows = |state: &EntityState| {
            let velocity = state.velocity;
            let moving = velocity[0].hypot(velocity[1]) > 2.0 * IDENTIFY_VELOCITY_TOLERANCE_M_PER_S;
            moving
                && recent.iter().any(|expected| {
                    (velocity[0] - expected[0]).hypot(velocity[1] - expected[1]) < IDENTIFY_VELOCITY_TOLERANCE_M_PER_S
                })
        };
        self.identify_streaks.retain(|id, _| world.get(id).is_some_and(&follows));
        for state in world.values().filter(|state| state.kind == EntityKind::Player && follows(state)) {
            if self.identify_streaks.len() >= SNAPSHOT_ENTITIES_MAX && !self.identify_streaks.contains_key(&state.id) {
                break;
            }
            let velocity = [state.velocity[0], state.velocity[1]];
            let streak = self.identify_streaks.entry(state.id).or_insert(IdentifyStreak { snapshots: 0, turns: 0, velocity });
            let turned = (velocity[0] - streak.velocity[0]).hypot(velocity[1] - streak.velocity[1]) > IDENTIFY_VELOCITY_TOLERANCE_M_PER_S;
            streak.snapshots = streak.snapshots.saturating_add(1);
            streak.turns = streak.turns.saturating_add(u8::from(turned));
            streak.velocity = velocity;
        }
        // Another player walking our way matches until we turn: a turn it follows too is unlikely.
        let mut ready = self.identify_streaks.iter().filter(|(_, streak)| streak.snapshots >= IDENTIFY_STREAK && streak.turns >= 1);
        if let (Some((&entity, _)), None) = (ready.next(), ready.next()) {
            self.entity = Some(entity);
            self.identified_by_movement = true;
            self.placement_pending = true;
            self.identify_streaks.clear();
        }
    }

    /// Places the player at the server's position and replays the inputs the server has not applied:
    /// those after `last_input_tick` if known, else the ones sent within the last RTT plus the zone's
    /// jitter-buffer depth.
    fn place(&mut self, position_m: [f32; 3], last_input_tick: Option<u32>, server_tick: u32) {
        self.placement_pending = false;
        let in_flight = match last_input_tick {
            Some(acked) => self.sent_inputs.iter().filter(|input| input.tick > acked).count(),
            None => (self.in_flight_estimate().0 as usize).min(self.sent_inputs.len()),
        };
        let start = self.sent_inputs.len() - in_flight;
        let believed_acked = match start {
            0 => self.sent_inputs.front().map_or(self.client_tick, |first| first.tick.wrapping_sub(1)),
            _ => self.sent_inputs[start - 1].tick,
        };
        self.predictor.reset_believing(position_m, believed_acked, server_tick);
        for index in start..self.sent_inputs.len() {
            let input = self.sent_inputs[index];
            self.predictor.predict(input.tick, input.direction, input.yaw);
        }
        if let Some(entity) = self.entity {
            self.push_event(GameEvent::Placed { entity, identified_by_movement: self.identified_by_movement });
        }
    }

    /// How many of our newest inputs the server has most likely not applied when a snapshot arrives,
    /// and at most: one RTT of inputs plus the zone's jitter buffer (which may hold up to twice its
    /// depth plus one before the zone catches up), plus `IN_FLIGHT_SLACK_TICKS` for tick phase and
    /// late server ticks.
    fn in_flight_estimate(&self) -> (u32, u32) {
        let interval_us = self.config.zone.tick_interval_us() as i64;
        let rtt_ticks = self.rtt_us().map_or(0, |rtt| (rtt.max(0) + interval_us - 1) / interval_us) as u32;
        let jitter_ticks = self.config.zone.input_jitter_ticks;
        (rtt_ticks + jitter_ticks, rtt_ticks + 2 * jitter_ticks + 1 + IN_FLIGHT_SLACK_TICKS)
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
            } else {
                self.predictor.remember(self.client_tick, direction, yaw);
            }
            if self.sent_inputs.len() == SENT_INPUTS_MAX {
                self.sent_inputs.pop_front();
            }
            self.sent_inputs.push_back(SentInput { tick: self.client_tick, direction, yaw });
            if self.recent_inputs.len() == INPUT_REDUNDANCY_MAX {
                self.recent_inputs.pop_front();
            }
            self.recent_inputs.push_back(MoveInput { move_right, move_forward, yaw: yaw_steps, buttons: 0 });
        }
        let carried = self.config.input_redundancy.max(count).min(self.recent_inputs.len());
        let inputs: Vec<MoveInput> = self.recent_inputs.iter().rev().take(carried).copied().collect();
        let message = ClientMessage::Input(InputMessage { sequence: self.input_sequence, newest_tick: self.client_tick, inputs });
        self.input_sequence = self.input_sequence.wrapping_add(1);
        self.scratch.clear();
        message.encode(&mut self.scratch);
        self.connection.send_unreliable(&self.scratch).inspect_err(|_| self.counters.send_refused += 1)?;
        self.counters.input_messages_sent += 1;
        let latest = self.receiver.latest_tick();
        let ack_due = self.config.wire_extensions && latest != self.last_acked_snapshot;
        if let (true, Some(tick)) = (ack_due, latest) {
            self.scratch.clear();
            wire::encode_snapshot_ack(tick, &mut self.scratch);
            self.connection.send_unreliable(&self.scratch).inspect_err(|_| self.counters.send_refused += 1)?;
            self.last_acked_snapshot = latest;
        }
        Ok(())
    }

    /// Sends a discrete action on the reliable channel, stamped with the current client tick.
    /// Attacks go as skill 0 (the proto's attack carries a skill, not a direction).
    pub fn send_action(&mut self, action: &Action) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        let message = match action {
            Action::Attack { target, .. } => {
                ClientMessage::Action { client_tick: self.client_tick, action: ProtoAction::Attack { target_id: *target, skill_id: 0 } }
            }
            Action::PickUp { loot } => ClientMessage::Action { client_tick: self.client_tick, action: ProtoAction::PickUp { loot_id: *loot } },
            Action::Chat { text } => {
                meridian_proto::messages::check_chat_text(text).map_err(WireError::from)?;
                ClientMessage::Chat { channel: ChatChannel::Zone, text: text.to_string() }
            }
        };
        self.scratch.clear();
        message.encode(&mut self.scratch);
        self.connection.send_reliable(&self.scratch).inspect_err(|_| self.counters.send_refused += 1)?;
        Ok(())
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

    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
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
