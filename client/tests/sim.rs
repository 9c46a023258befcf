//! In-process end-to-end: a `ServerEndpoint` and a `Zone` (glued the way the node glues them) against
//! several `GameClient`s over a simulated network with latency and seeded loss. No sockets, no
//! clocks: time advances in fixed steps, so every run of a seed is the same run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::prediction::{CORRECTION_EPSILON_M, distance_m};
use meridian_client::wire::{self, ClientMessage, JoinRefused, ServerEvent, ServerMessage};
use meridian_client::{ClientConfig, GameClient, GameEvent, MoveCommand};
use meridian_proto::connection::Received;
use meridian_proto::endpoint::{ServerConfig, ServerEndpoint, ServerEvent as EndpointEvent};
use meridian_zone::{ClientEvent as ZoneEvent, ClientId, JoinRefusal, MoveIntent, PlayerInput, Zone, ZoneConfig, ZoneInput, ZoneOutput};

const START_US: u64 = 1_700_000_000 * 1_000_000;
const STEP_US: u64 = 5_000;
const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
/// Longest any drive loop runs.
const SIM_STEPS_MAX: u64 = 100_000;

#[derive(Clone, Copy)]
struct Link {
    one_way_us: u64,
    loss_ppm: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Destination {
    Server,
    Client(usize),
}

struct Bot {
    client: GameClient,
    address: SocketAddr,
    link: Link,
    command: MoveCommand,
}

struct Sim {
    now_us: u64,
    server_address: SocketAddr,
    server: ServerEndpoint,
    zone: Zone,
    zone_out: ZoneOutput,
    bots: Vec<Bot>,
    in_flight: BTreeMap<(u64, u64), (Destination, SocketAddr, Vec<u8>)>,
    sequence: u64,
    rng: SplitMix64,
    sessions: BTreeMap<u64, ClientId>,
    addresses: BTreeMap<ClientId, u64>,
    /// Input ticks the server shim decoded, per client.
    inputs_seen: BTreeMap<ClientId, BTreeSet<u32>>,
    /// (bot, client tick): every uplink datagram the bot sends right after that tick is lost.
    drop_uplink_after_tick: BTreeSet<(usize, u32)>,
    next_client_tick_us: u64,
    datagrams_lost: u64,
    /// Speak the proposed wire extensions (Joined event, snapshot acks); off = today's proto only.
    extensions: bool,
}

impl Sim {
    fn new(seed: u64, extensions: bool) -> Self {
        let server_address: SocketAddr = "10.0.0.1:7777".parse().unwrap();
        let server = ServerEndpoint::new(ServerConfig {
            cluster_key: CLUSTER_KEY,
            challenge_key: [3; 16],
            public_address: server_address,
            connections_max: 64,
        });
        let zone = Zone::new(ZoneConfig::default(), 0, 1, START_US).unwrap();
        Self {
            now_us: START_US,
            server_address,
            server,
            zone,
            zone_out: ZoneOutput::default(),
            bots: Vec::new(),
            in_flight: BTreeMap::new(),
            sequence: 0,
            rng: SplitMix64(seed),
            sessions: BTreeMap::new(),
            addresses: BTreeMap::new(),
            inputs_seen: BTreeMap::new(),
            drop_uplink_after_tick: BTreeSet::new(),
            next_client_tick_us: START_US,
            datagrams_lost: 0,
            extensions,
        }
    }

    fn add_bot(&mut self, link: Link, command: MoveCommand) -> usize {
        let index = self.bots.len();
        let token = dev_token::issue(&CLUSTER_KEY, 1000 + index as u64, 1, self.server_address, self.now_us / 1_000_000, &mut self.rng);
        let config = ClientConfig { wire_extensions: self.extensions, ..ClientConfig::default() };
        let client = GameClient::new(self.now_us, token, config).unwrap();
        let address = SocketAddr::from(([192, 0, 2, 1 + index as u8], 40_000));
        self.bots.push(Bot { client, address, link, command });
        index
    }

    fn send(&mut self, destination: Destination, from: SocketAddr, bytes: Vec<u8>, link: Link) {
        if self.rng.next_u64() % 1_000_000 < link.loss_ppm {
            self.datagrams_lost += 1;
            return;
        }
        self.sequence += 1;
        self.in_flight.insert((self.now_us + link.one_way_us, self.sequence), (destination, from, bytes));
    }

    /// The node's glue: endpoint events become zone inputs.
    fn server_events_to_zone(&mut self, zone_inputs: &mut Vec<ZoneInput>) {
        while let Some(event) = self.server.poll_event() {
            match event {
                EndpointEvent::Connected { session_id, .. } => {
                    let client = ClientId(session_id as u32);
                    self.sessions.insert(session_id, client);
                    self.addresses.insert(client, session_id);
                    let index = (session_id - 1000) as f32;
                    zone_inputs.push(ZoneInput::Join {
                        client,
                        character_id: session_id,
                        party: None,
                        spawn_m: Some([500.0 + 4.0 * index, 500.0, 0.0]),
                        rtt_us: 0,
                    });
                }
                EndpointEvent::Disconnected { session_id, .. } => {
                    if let Some(client) = self.sessions.remove(&session_id) {
                        zone_inputs.push(ZoneInput::Leave { client });
                    }
                }
                EndpointEvent::Message { session_id, message } => {
                    let Some(&client) = self.sessions.get(&session_id) else { continue };
                    let (Received::Unreliable(bytes) | Received::Reliable(bytes)) = message;
                    if let Ok(tick) = wire::decode_snapshot_ack(&bytes) {
                        zone_inputs.push(ZoneInput::SnapshotAck { client, tick });
                        continue;
                    }
                    let Ok(message) = ClientMessage::decode(&bytes) else { continue };
                    let ClientMessage::Input(input) = message else { continue };
                    // MoveInput carries no claimed position: claim where the server has the player.
                    let claimed = self.zone.client_entity(client).and_then(|entity| self.zone.position(entity)).unwrap_or([0.0; 3]);
                    for (age, tick_input) in input.inputs.iter().enumerate() {
                        let client_tick = input.newest_tick.wrapping_sub(age as u32);
                        self.inputs_seen.entry(client).or_default().insert(client_tick);
                        let movement = MoveIntent {
                            direction: wire::move_direction(tick_input.move_right, tick_input.move_forward),
                            yaw: wire::yaw_radians(tick_input.yaw),
                            claimed_position_m: claimed,
                        };
                        let input = PlayerInput { client_tick, movement: Some(movement), action: None };
                        zone_inputs.push(ZoneInput::Input { client, input, received_us: self.now_us });
                    }
                }
            }
        }
    }

    /// The node's glue the other way: zone output becomes messages on the sessions.
    fn zone_output_to_server(&mut self) {
        let mut message = Vec::new();
        for snapshot in &self.zone_out.snapshots {
            let Some(&session_id) = self.addresses.get(&snapshot.client) else { continue };
            // The zone does not say which input it applied last; the client infers it.
            message.clear();
            ServerMessage::Snapshot(snapshot.bytes.clone()).encode(&mut message);
            let _ = self.server.send_unreliable(session_id, &message);
        }
        for (client, event) in &self.zone_out.client_events {
            if !self.extensions {
                break;
            }
            let Some(&session_id) = self.addresses.get(client) else { continue };
            let event = match event {
                ZoneEvent::Joined { entity } => ServerEvent::Joined { entity: *entity },
                ZoneEvent::JoinRefused { reason } => ServerEvent::JoinRefused {
                    reason: match reason {
                        JoinRefusal::ZoneFull => JoinRefused::ZoneFull,
                        JoinRefusal::AlreadyJoined => JoinRefused::AlreadyJoined,
                        JoinRefusal::EntityLimit => JoinRefused::EntityLimit,
                    },
                },
                ZoneEvent::Chat { from_entity, text } => ServerEvent::Chat { from_entity: *from_entity, text: text.clone() },
                ZoneEvent::Died { killer_entity } => ServerEvent::Died { killer_entity: *killer_entity },
                ZoneEvent::Respawned => ServerEvent::Respawned,
                _ => continue,
            };
            wire::encode_event(&event, &mut message);
            let _ = self.server.send_reliable(session_id, &message);
        }
    }

    fn step(&mut self) {
        self.now_us += STEP_US;
        let now = self.now_us;
        // Deliver.
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (destination, from, bytes) = entry.remove();
            match destination {
                Destination::Server => {
                    let _ = self.server.handle(now, from, &bytes);
                }
                Destination::Client(index) => {
                    let _ = self.bots[index].client.handle(now, from, &bytes);
                }
            }
        }
        // Clients tick at the zone's rate.
        let client_tick = now >= self.next_client_tick_us;
        if client_tick {
            self.next_client_tick_us += ZoneConfig::default().tick_interval_us();
            for bot in &mut self.bots {
                if bot.client.is_connected() {
                    bot.client.tick(bot.command).unwrap();
                }
            }
        }
        // Server: endpoint → zone → endpoint.
        let mut zone_inputs = Vec::new();
        self.server_events_to_zone(&mut zone_inputs);
        self.zone.tick(now, None, zone_inputs, &mut self.zone_out);
        self.zone_output_to_server();
        self.server.update(now);
        while let Some(transmit) = self.server.poll_transmit(now) {
            let Some(index) = self.bots.iter().position(|bot| bot.address == transmit.destination) else { continue };
            let link = self.bots[index].link;
            self.send(Destination::Client(index), self.server_address, transmit.bytes, link);
        }
        for index in 0..self.bots.len() {
            let dropped = client_tick && self.drop_uplink_after_tick.contains(&(index, self.bots[index].client.client_tick()));
            while let Some(transmit) = self.bots[index].client.poll_transmit(now) {
                assert_eq!(transmit.destination, self.server_address);
                if dropped {
                    self.datagrams_lost += 1;
                    continue;
                }
                let (address, link) = (self.bots[index].address, self.bots[index].link);
                self.send(Destination::Server, address, transmit.bytes, link);
            }
        }
    }

    fn run_until(&mut self, steps_max: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        assert!(steps_max <= SIM_STEPS_MAX);
        for _ in 0..steps_max {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    fn run_ms(&mut self, ms: u64) {
        let steps = ms * 1_000 / STEP_US;
        assert!(steps <= SIM_STEPS_MAX);
        for _ in 0..steps {
            self.step();
        }
    }

    fn all_placed(&self) -> bool {
        self.bots.iter().all(|bot| bot.client.is_placed())
    }
}

#[test]
fn a_lost_input_datagram_loses_no_input() {
    let mut sim = Sim::new(1, true);
    let bot = sim.add_bot(Link { one_way_us: 20_000, loss_ppm: 0 }, MoveCommand { direction: [1.0, 0.0], yaw: 0.0 });
    assert!(sim.run_until(400, Sim::all_placed), "bot never placed");
    let first_tick = sim.bots[bot].client.client_tick() + 1;
    // Lose the datagrams after two single ticks (redundancy 3 covers a run of up to 2).
    for lost in [first_tick + 10, first_tick + 20, first_tick + 21] {
        sim.drop_uplink_after_tick.insert((bot, lost));
    }
    sim.run_ms(3_000);
    let last_tick = sim.bots[bot].client.client_tick();
    let client = ClientId(1000);
    let seen = &sim.inputs_seen[&client];
    let missing: Vec<u32> = (first_tick..=last_tick - 2).filter(|tick| !seen.contains(tick)).collect();
    assert!(missing.is_empty(), "inputs lost despite redundancy: {missing:?}");
    assert!(sim.datagrams_lost >= 3);
    assert_eq!(sim.zone.counters().inputs_missing, 0, "the zone never had to extrapolate");
    assert!(sim.zone.counters().inputs_duplicate > 0, "redundant copies were seen and applied once");
    // The zone moved the player exactly as the client predicted.
    let entity = sim.bots[bot].client.entity().unwrap();
    let predicted = sim.bots[bot].client.predicted_position_m().unwrap();
    let server = sim.zone.position(entity).unwrap();
    assert!(predicted[0] > server[0], "the prediction runs ahead of the server");
    assert_eq!(sim.bots[bot].client.corrections().corrections, 0);
}

#[test]
fn bots_connect_move_predict_and_see_each_other_with_wire_extensions() {
    swarm(7, true);
}

/// Today's proto only: no `Joined` event (bots recognise themselves by their movement), no snapshot
/// acks (every snapshot is sent whole), no last applied input tick.
#[test]
fn bots_connect_move_predict_and_see_each_other_with_todays_proto() {
    swarm(8, false);
}

fn swarm(seed: u64, extensions: bool) {
    let mut sim = Sim::new(seed, extensions);
    let directions = [[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8], [0.0, -1.0]];
    for (index, direction) in directions.iter().enumerate() {
        let link = Link { one_way_us: 30_000 + 10_000 * index as u64, loss_ppm: 20_000 };
        sim.add_bot(link, MoveCommand { direction: *direction, yaw: 0.0 });
    }
    assert!(sim.run_until(1_000, Sim::all_placed), "not all bots placed");
    for bot in &mut sim.bots {
        while let Some(event) = bot.client.poll_event() {
            match event {
                GameEvent::Connected => {}
                GameEvent::Server(ServerEvent::Joined { .. }) => assert!(extensions),
                GameEvent::Placed { identified_by_movement, .. } => assert_eq!(identified_by_movement, !extensions),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // Move for 1.5 s (they stay within each other's area of interest).
    sim.run_ms(1_500);
    let now = sim.now_us;
    let entities: Vec<u32> = sim.bots.iter().map(|bot| bot.client.entity().unwrap()).collect();
    let speed = ZoneConfig::default().player_speed_m_per_s;
    for (index, bot) in sim.bots.iter_mut().enumerate() {
        for (other_index, other) in entities.iter().enumerate() {
            assert!(bot.client.server_world().contains_key(other), "bot {index} does not see entity {other}");
            if other_index == index {
                continue;
            }
            // Drawn in the past: behind the server's position by about speed × (delay + latency).
            let rendered = bot.client.render_position(*other, now).unwrap_or_else(|| panic!("bot {index} cannot render {other}"));
            let actual = sim.zone.position(*other).unwrap();
            let lag_m = distance_m(rendered, actual);
            let lag_max_m = speed * 0.4;
            assert!(lag_m > 0.1 && lag_m < lag_max_m, "bot {index} draws {other} {lag_m} m from the server position");
        }
        let rtt_us = bot.client.rtt_us().expect("clock synced");
        let link_rtt_us = 2 * bot.link.one_way_us as i64;
        assert!((link_rtt_us..=link_rtt_us + 2 * STEP_US as i64).contains(&rtt_us), "bot {index} rtt {rtt_us}");
        let offset = bot.client.server_time_us(now).unwrap() as i64 - now as i64;
        assert!(offset.abs() <= STEP_US as i64, "same clock on both sides, offset {offset}");
    }
    // Stop and settle: the prediction must end exactly where the server has the player.
    for bot in &mut sim.bots {
        bot.command = MoveCommand { direction: [0.0, 0.0], yaw: 0.0 };
    }
    sim.run_ms(1_500);
    let now = sim.now_us;
    for (index, bot) in sim.bots.iter_mut().enumerate() {
        let entity = bot.client.entity().unwrap();
        let predicted = bot.client.predicted_position_m().unwrap();
        let server = sim.zone.position(entity).unwrap();
        assert!(distance_m(predicted, server) < CORRECTION_EPSILON_M, "bot {index}: predicted {predicted:?}, server {server:?}");
        for other in &entities {
            if *other != entity {
                let rendered = bot.client.render_position(*other, now).unwrap();
                assert!(distance_m(rendered, sim.zone.position(*other).unwrap()) < 0.02, "settled remote drawn where it is");
            }
        }
        let corrections = bot.client.corrections();
        assert!(corrections.reconciliations > 50, "bot {index} reconciled {} times", corrections.reconciliations);
        // With 2% loss the zone may skip an input and extrapolate: small corrections are allowed,
        // large ones would mean reconciliation is broken.
        let p99_um = corrections.distance_um.quantile(0.99).unwrap_or(0);
        assert!(p99_um < 1_000_000, "bot {index} correction p99 {p99_um} um");
        assert!(bot.client.counters().snapshots_applied > 50);
        if extensions {
            assert_eq!(corrections.corrections, 0, "bot {index}: placed from Joined, the prediction never disagreed");
        } else {
            // Placement estimates the inputs in flight; a wrong estimate shows (once) when it stops.
            assert!(corrections.corrections <= 2, "bot {index}: {} corrections", corrections.corrections);
        }
    }
}
