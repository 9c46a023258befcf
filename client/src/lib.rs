//! `meridian-client` is the client SDK: it connects with a connect token, keeps the clock in sync with
//! the server, sends inputs each tick with redundancy, predicts the local player and reconciles with
//! the authoritative state, and interpolates remote entities. It is sans-IO like `meridian-proto`,
//! which it wraps: the caller feeds datagrams and the time, calls `tick` at the zone's rate with the
//! player's move intent, and sends what `poll_transmit` hands back. One `GameClient` is one session;
//! the bot swarm runs thousands of them in one process, so nothing here allocates per tick beyond the
//! codec's buffers, and every buffer has a limit.
//!
//! Prediction uses the zone's own movement function (`meridian_zone::movement::apply_move`), so a
//! client and a server with the same `ZoneConfig` agree to the bit and corrections are zero unless the
//! server knows something the client does not.
#![forbid(unsafe_code)]

pub mod dev_token;
pub mod interpolation;
pub mod prediction;
pub mod stats;
pub mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;

use meridian_proto::connection::{ConnectionStats, Received, SendError};
use meridian_proto::endpoint::{ClientConnection, ClientDisconnect, ClientEvent, ClientState};
use meridian_proto::packet::PacketError;
use meridian_proto::snapshot::{EntityState, SnapshotError, SnapshotReceiver};
use meridian_zone::PlayerInput;
use thiserror::Error;

pub use interpolation::{InterpolationStats, Interpolator};
pub use prediction::{CorrectionStats, MovementModel, Predictor, Reconciliation};
pub use stats::Histogram;
pub use wire::{ServerEvent, WireError};
pub use meridian_proto::endpoint::Transmit;
pub use meridian_proto::token::ClientToken;
pub use meridian_zone::{Action, ZoneConfig};

/// Events kept for the application; older ones are dropped and counted when it does not poll.
pub const GAME_EVENTS_MAX: usize = 256;
/// Default inputs per datagram: a datagram may be lost in two of every three ticks without losing an input.
pub const INPUT_REDUNDANCY_DEFAULT: usize = 3;

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
    /// Inputs each datagram carries (1..=`wire::INPUTS_PER_MESSAGE_MAX`).
    pub input_redundancy: usize,
    /// Remote entities are drawn this far in the past.
    pub interpolation_delay_us: u64,
    /// The zone's rules (tick rate, speed, world, colliders): prediction runs the same step.
    pub zone: ZoneConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let zone = ZoneConfig::default();
        Self { input_redundancy: INPUT_REDUNDANCY_DEFAULT, interpolation_delay_us: zone.interpolation_delay_us, zone }
    }
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), ClientError> {
        if !(1..=wire::INPUTS_PER_MESSAGE_MAX).contains(&self.input_redundancy) {
            return Err(ClientError::Config("input_redundancy outside 1..=INPUTS_PER_MESSAGE_MAX"));
        }
        self.zone.validate().map_err(|_| ClientError::Config("zone config invalid"))
    }
}

/// What the application hears about.
#[derive(Clone, Debug, PartialEq)]
pub enum GameEvent {
    Connected,
    Disconnected(ClientDisconnect),
    Server(ServerEvent),
}

/// The player's wish this tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoveCommand {
    /// Ground-plane direction, length ≤ 1 for an honest client (the server refuses longer ones).
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
    pub inputs_sent: u64,
    pub snapshots_applied: u64,
    pub snapshots_dropped: u64,
    pub messages_dropped: u64,
    pub events_dropped: u64,
}

/// One game session (see the crate docs).
pub struct GameClient {
    config: ClientConfig,
    connection: ClientConnection,
    receiver: SnapshotReceiver,
    predictor: Predictor,
    interpolator: Interpolator,
    entity: Option<u32>,
    /// Re-place the predictor from the next snapshot (joined, respawned).
    reset_pending: bool,
    client_tick: u32,
    recent_inputs: VecDeque<PlayerInput>,
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
            reset_pending: false,
            client_tick: 0,
            recent_inputs: VecDeque::with_capacity(config.input_redundancy),
            events: VecDeque::new(),
            counters: ClientCounters::default(),
            last_reconciliation: None,
            scratch: Vec::with_capacity(wire::INPUTS_MESSAGE_BYTES_MAX),
            config,
        })
    }

    pub fn state(&self) -> ClientState {
        self.connection.state()
    }

    pub fn is_connected(&self) -> bool {
        self.connection.state() == ClientState::Connected
    }

    /// Our entity in the zone, once joined.
    pub fn entity(&self) -> Option<u32> {
        self.entity
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

    /// The newest authoritative world (our AOI), as decoded.
    pub fn server_world(&self) -> &std::collections::BTreeMap<u32, EntityState> {
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
                ClientEvent::Message(Received::Unreliable(message)) => self.on_snapshot(now_us, &message),
                ClientEvent::Message(Received::Reliable(message)) => self.on_event(&message),
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn on_snapshot(&mut self, now_us: u64, message: &[u8]) -> Result<(), ClientError> {
        let snapshot = wire::decode_snapshot(message).inspect_err(|_| self.counters.messages_dropped += 1)?;
        let tick = self.receiver.apply(snapshot.payload).inspect_err(|_| self.counters.snapshots_dropped += 1)?;
        self.counters.snapshots_applied += 1;
        if self.receiver.latest_tick() != Some(tick) {
            return Ok(()); // older than what we have: kept only as a possible delta baseline
        }
        self.interpolator.push(tick, self.receiver.world(), now_us);
        let Some(own) = self.entity.and_then(|entity| self.receiver.world().get(&entity)) else { return Ok(()) };
        let position = own.position;
        if self.reset_pending {
            self.predictor.reset(position);
            self.reset_pending = false;
            return Ok(());
        }
        self.last_reconciliation = Some(match snapshot.last_input_tick {
            Some(acked) => self.predictor.reconcile(position, Some(acked)),
            None => self.predictor.reconcile_unacked(position, tick),
        });
        Ok(())
    }

    fn on_event(&mut self, message: &[u8]) -> Result<(), ClientError> {
        let event = wire::decode_event(message).inspect_err(|_| self.counters.messages_dropped += 1)?;
        match event {
            ServerEvent::Joined { entity } => {
                self.entity = Some(entity);
                self.reset_pending = true;
            }
            ServerEvent::Respawned => self.reset_pending = true,
            _ => {}
        }
        self.push_event(GameEvent::Server(event));
        Ok(())
    }

    /// One client tick at the zone's rate: predicts `command` locally and queues this tick's input
    /// with the previous `input_redundancy - 1` ones and the snapshot ack. Before the player is placed
    /// nothing is sent (the zone would refuse inputs from a client that has not joined).
    pub fn tick(&mut self, command: MoveCommand) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        if self.entity.is_none() || self.predictor.position_m().is_none() {
            return Ok(());
        }
        self.client_tick = self.client_tick.wrapping_add(1);
        let intent = self.predictor.predict(self.client_tick, command.direction, command.yaw);
        if self.recent_inputs.len() == self.config.input_redundancy {
            self.recent_inputs.pop_front();
        }
        self.recent_inputs.push_back(PlayerInput { client_tick: self.client_tick, movement: Some(intent), action: None });
        let inputs = self.recent_inputs.make_contiguous();
        wire::encode_inputs(inputs, self.receiver.latest_tick(), &mut self.scratch);
        self.connection.send_unreliable(&self.scratch)?;
        self.counters.inputs_sent += 1;
        Ok(())
    }

    /// Sends a discrete action (attack, pick-up, chat) on the reliable channel, stamped with the
    /// current client tick.
    pub fn send_action(&mut self, action: &Action) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        wire::encode_action(self.client_tick, action, &mut self.scratch);
        self.connection.send_reliable(&self.scratch)?;
        Ok(())
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

    pub fn client_tick(&self) -> u32 {
        self.client_tick
    }
}
