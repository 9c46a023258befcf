//! A reference server for tests and development: one `ServerEndpoint` and one `Zone`, glued the way
//! the client SDK expects the node to glue them. It is sans-IO (datagrams and time in, datagrams
//! out), single-zone, single-threaded, and NOT the node: it exists so that the SDK and the bot swarm
//! can be tested end to end without sockets (`tests/sim.rs`) or without a node (`examples/
//! dev_server.rs`), and so that the glue the client relies on is written down as code:
//!
//! - `Connected` → `ZoneInput::Join`; `Disconnected` → `ZoneInput::Leave`;
//! - `ClientMessage::Input` → one `ZoneInput::Input` per carried tick (`newest_tick - age`), with
//!   `wire::move_direction` as the intent's direction (the zone refuses longer than 1) and the
//!   server's own position as the claim (the proto's input carries none);
//! - actions and chat → `ZoneInput::Input` with the action;
//! - zone snapshots → `ServerMessage::Snapshot` on the unreliable channel;
//! - with `extensions`: zone events → `wire` event messages (reliable), `0x80` acks → `SnapshotAck`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use meridian_proto::connection::Received;
use meridian_proto::endpoint::{ServerConfig, ServerEndpoint, ServerEvent as EndpointEvent, Transmit};
use meridian_proto::packet::PacketError;
use meridian_zone::{
    Action, ClientId, ConfigError, MoveIntent, PlayerInput, Zone, ZoneConfig, ZoneInput,
    ZoneOutput,
};

use meridian_proto::messages::SNAPSHOT_MESSAGE_BYTES_MAX;

use crate::wire::{self, ClientMessage, ProtoAction, ServerMessage};

/// Input ticks remembered per client for `inputs_seen` (oldest forgotten first).
pub const INPUT_TICKS_REMEMBERED_MAX: usize = 1024;
/// Zone inputs gathered between two ticks; more are dropped and counted.
pub const PENDING_ZONE_INPUTS_MAX: usize = 65_536;

pub struct ReferenceServerConfig {
    pub cluster_key: [u8; 32],
    /// The address clients' tokens name.
    pub public_address: SocketAddr,
    pub zone: ZoneConfig,
    pub connections_max: usize,
    /// Speak the proposed wire extensions (events, acks).
    pub extensions: bool,
    /// Where a session spawns (`None`: the zone's default spawn point).
    pub spawn_m: Box<dyn Fn(u64) -> Option<[f32; 3]> + Send>,
}

/// Drops and refusals, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReferenceCounters {
    pub datagrams_received: u64,
    pub datagrams_dropped: u64,
    pub dropped_replayed: u64,
    pub bad_messages: u64,
    pub zone_inputs_dropped: u64,
    pub sends_refused: u64,
    /// Zone snapshots larger than a proto snapshot message (not sent).
    pub snapshots_oversized: u64,
}

pub struct ReferenceServer {
    endpoint: ServerEndpoint,
    zone: Zone,
    out: ZoneOutput,
    extensions: bool,
    spawn_m: Box<dyn Fn(u64) -> Option<[f32; 3]> + Send>,
    next_client: u32,
    clients_by_session: BTreeMap<u64, ClientId>,
    sessions_by_client: BTreeMap<ClientId, u64>,
    pending: Vec<ZoneInput>,
    inputs_seen: BTreeMap<ClientId, BTreeSet<u32>>,
    counters: ReferenceCounters,
    scratch: Vec<u8>,
}

impl ReferenceServer {
    /// The zone's snapshot budget is capped at what one proto snapshot message carries
    /// (`SNAPSHOT_MESSAGE_BYTES_MAX`, below the zone's default budget of one datagram).
    pub fn new(now_us: u64, mut config: ReferenceServerConfig) -> Result<Self, ConfigError> {
        config.zone.snapshot_budget_bytes = config.zone.snapshot_budget_bytes.min(SNAPSHOT_MESSAGE_BYTES_MAX);
        let zone = Zone::new(config.zone, 0, 1, now_us)?;
        // Challenge secret: derived from the cluster key (a dev server; the node uses its RNG).
        let mut challenge_key = [0u8; 16];
        challenge_key.copy_from_slice(&config.cluster_key[..16]);
        challenge_key[0] ^= 0x5c;
        let endpoint = ServerEndpoint::new(ServerConfig {
            cluster_key: config.cluster_key,
            challenge_key,
            public_address: config.public_address,
            connections_max: config.connections_max,
        });
        Ok(Self {
            endpoint,
            zone,
            out: ZoneOutput::default(),
            extensions: config.extensions,
            spawn_m: config.spawn_m,
            next_client: 1,
            clients_by_session: BTreeMap::new(),
            sessions_by_client: BTreeMap::new(),
            pending: Vec::new(),
            inputs_seen: BTreeMap::new(),
            counters: ReferenceCounters::default(),
            scratch: Vec::new(),
        })
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    pub fn counters(&self) -> ReferenceCounters {
        self.counters
    }

    pub fn connection_count(&self) -> usize {
        self.endpoint.connection_count()
    }

    pub fn client_of(&self, session_id: u64) -> Option<ClientId> {
        self.clients_by_session.get(&session_id).copied()
    }

    /// The input ticks decoded for `session_id` (the newest `INPUT_TICKS_REMEMBERED_MAX`).
    pub fn inputs_seen(&self, session_id: u64) -> Option<&BTreeSet<u32>> {
        self.client_of(session_id).and_then(|client| self.inputs_seen.get(&client))
    }

    /// Feeds one datagram; the endpoint's events are taken at once.
    pub fn handle(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        self.counters.datagrams_received += 1;
        if let Err(error) = self.endpoint.handle(now_us, from, bytes) {
            self.counters.datagrams_dropped += 1;
            if matches!(error, PacketError::Replayed { .. }) {
                self.counters.dropped_replayed += 1;
            }
            return Err(error);
        }
        self.take_events(now_us);
        Ok(())
    }

    fn push(&mut self, input: ZoneInput) {
        if self.pending.len() >= PENDING_ZONE_INPUTS_MAX {
            self.counters.zone_inputs_dropped += 1;
            return;
        }
        self.pending.push(input);
    }

    fn take_events(&mut self, now_us: u64) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                EndpointEvent::Connected { session_id, .. } => {
                    let client = ClientId(self.next_client);
                    self.next_client += 1;
                    self.clients_by_session.insert(session_id, client);
                    self.sessions_by_client.insert(client, session_id);
                    let spawn_m = (self.spawn_m)(session_id);
                    self.push(ZoneInput::Join { client, character_id: session_id, party: None, spawn_m, rtt_us: 0 });
                }
                EndpointEvent::Disconnected { session_id, .. } => {
                    if let Some(client) = self.clients_by_session.remove(&session_id) {
                        self.sessions_by_client.remove(&client);
                        self.inputs_seen.remove(&client);
                        self.push(ZoneInput::Leave { client });
                    }
                }
                EndpointEvent::Message { session_id, message } => {
                    let Some(&client) = self.clients_by_session.get(&session_id) else { continue };
                    let (Received::Unreliable(bytes) | Received::Reliable(bytes)) = message;
                    self.on_message(now_us, client, &bytes);
                }
            }
        }
    }

    fn on_message(&mut self, now_us: u64, client: ClientId, bytes: &[u8]) {
        if let (true, Ok(tick)) = (self.extensions, wire::decode_snapshot_ack(bytes)) {
            self.push(ZoneInput::SnapshotAck { client, tick });
            return;
        }
        let Ok(message) = ClientMessage::decode(bytes) else {
            self.counters.bad_messages += 1;
            return;
        };
        match message {
            ClientMessage::Input(input) => {
                for (age, tick_input) in input.inputs.iter().enumerate() {
                    let client_tick = input.newest_tick.wrapping_sub(age as u32);
                    let seen = self.inputs_seen.entry(client).or_default();
                    seen.insert(client_tick);
                    if seen.len() > INPUT_TICKS_REMEMBERED_MAX {
                        seen.pop_first();
                    }
                    let movement = MoveIntent {
                        direction: wire::move_direction(tick_input.move_right, tick_input.move_forward),
                        yaw: wire::yaw_radians(tick_input.yaw),
                        // Like the node: the wire input carries no position to claim.
                        claimed_position_m: None,
                    };
                    let input = PlayerInput { client_tick, movement: Some(movement), action: None };
                    self.push(ZoneInput::Input { client, input, received_us: now_us });
                }
            }
            ClientMessage::Action { client_tick, action } => {
                let action = match action {
                    // The proto's attack names a skill, not a direction: aim straight at the target.
                    ProtoAction::Attack { target_id, .. } => {
                        let direction = self.aim(client, target_id);
                        Action::Attack { target: target_id, direction }
                    }
                    ProtoAction::PickUp { loot_id } => Action::PickUp { loot: loot_id },
                };
                let input = PlayerInput { client_tick, movement: None, action: Some(action) };
                self.push(ZoneInput::Input { client, input, received_us: now_us });
            }
            ClientMessage::Chat { text, .. } => {
                // Chat rides on an input of its own; the zone's jitter buffer wants a tick, so it
                // takes the newest one the client sent.
                let client_tick = self.inputs_seen.get(&client).and_then(|seen| seen.last().copied()).unwrap_or(0);
                let input = PlayerInput { client_tick, movement: None, action: Some(Action::Chat { text: Arc::from(text) }) };
                self.push(ZoneInput::Input { client, input, received_us: now_us });
            }
            #[allow(unreachable_patterns)]
            _ => self.counters.bad_messages += 1,
        }
    }

    fn aim(&self, client: ClientId, target: u32) -> [f32; 3] {
        let from = self.zone.client_entity(client).and_then(|entity| self.zone.position(entity));
        let to = self.zone.position(target);
        match (from, to) {
            (Some(from), Some(to)) => {
                let delta = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
                let length = (delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]).sqrt().max(1e-6);
                [delta[0] / length, delta[1] / length, delta[2] / length]
            }
            _ => [1.0, 0.0, 0.0],
        }
    }

    /// Runs the zone's due steps and hands its output to the sessions. Call every millisecond or so.
    pub fn tick(&mut self, now_us: u64) {
        self.take_events(now_us);
        let inputs = std::mem::take(&mut self.pending);
        self.zone.tick(now_us, None, inputs, &mut self.out);
        for snapshot in &self.out.snapshots {
            let Some(&session_id) = self.sessions_by_client.get(&snapshot.client) else { continue };
            let limit = if self.extensions { wire::EXT_SNAPSHOT_PAYLOAD_BYTES_MAX } else { SNAPSHOT_MESSAGE_BYTES_MAX };
            if snapshot.bytes.len() > limit {
                self.counters.snapshots_oversized += 1;
                continue;
            }
            self.scratch.clear();
            if self.extensions {
                wire::encode_snapshot_with_input_tick(snapshot.last_input_tick, &snapshot.bytes, &mut self.scratch);
            } else {
                // Plain snapshots do not say which input was applied last; the client infers it.
                ServerMessage::Snapshot(snapshot.bytes.clone()).encode(&mut self.scratch);
            }
            if self.endpoint.send_unreliable(session_id, &self.scratch).is_err() {
                self.counters.sends_refused += 1;
            }
        }
        if self.extensions {
            for (client, event) in &self.out.client_events {
                let Some(&session_id) = self.sessions_by_client.get(client) else { continue };
                self.scratch.clear();
                wire::encode_event(&event.to_wire(), &mut self.scratch);
                if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                    self.counters.sends_refused += 1;
                }
            }
        }
        self.endpoint.handle_timeout(now_us);
        self.take_events(now_us);
    }

    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        self.endpoint.poll_transmit(now_us)
    }
}

