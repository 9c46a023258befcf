//! In-process end-to-end: a `ServerEndpoint` and a `Zone` (glued the way the node glues them) against
//! several `GameClient`s over a simulated network with latency and seeded loss. No sockets, no
//! clocks: time advances in fixed steps, so every run of a seed is the same run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::prediction::{CORRECTION_EPSILON_M, distance_m};
use meridian_client::reference_server::{ReferenceServer, ReferenceServerConfig};
use meridian_client::wire::ServerEvent;
use meridian_client::wire::CHAT_TEXT_BYTES_MAX;
use meridian_client::{ClientConfig, ClientError, GameClient, GameEvent, MoveCommand};
use meridian_zone::ZoneConfig;

const START_US: u64 = 1_700_000_000 * 1_000_000;
const STEP_US: u64 = 5_000;
const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
const FIRST_SESSION: u64 = 1000;
const JITTER_US: u64 = 30_000;
/// Longest any drive loop runs.
const SIM_STEPS_MAX: u64 = 100_000;

#[derive(Clone, Copy)]
struct Link {
    one_way_us: u64,
    /// Extra uniform delay per datagram in `0..=jitter_us` (reorders datagrams).
    jitter_us: u64,
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
    server: ReferenceServer,
    bots: Vec<Bot>,
    in_flight: BTreeMap<(u64, u64), (Destination, SocketAddr, Vec<u8>)>,
    sequence: u64,
    rng: SplitMix64,
    /// (bot, client tick): every uplink datagram the bot sends right after that tick is lost.
    drop_uplink_after_tick: BTreeSet<(usize, u32)>,
    next_client_tick_us: u64,
    datagrams_lost: u64,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let server_address: SocketAddr = "10.0.0.1:7777".parse().unwrap();
        let server = ReferenceServer::new(START_US, ReferenceServerConfig {
            cluster_key: CLUSTER_KEY,
            public_address: server_address,
            zone: ZoneConfig::default(),
            connections_max: 64,
            spawn_m: Box::new(|session_id| Some([500.0 + 4.0 * (session_id - FIRST_SESSION) as f32, 500.0, 0.0])),
        })
        .unwrap();
        Self {
            now_us: START_US,
            server_address,
            server,
            bots: Vec::new(),
            in_flight: BTreeMap::new(),
            sequence: 0,
            rng: SplitMix64(seed),
            drop_uplink_after_tick: BTreeSet::new(),
            next_client_tick_us: START_US,
            datagrams_lost: 0,
        }
    }

    fn add_bot(&mut self, link: Link, command: MoveCommand) -> usize {
        let index = self.bots.len();
        let session_id = FIRST_SESSION + index as u64;
        let token = dev_token::issue(&CLUSTER_KEY, session_id, 1, self.server_address, self.now_us / 1_000_000, &mut self.rng);
        let client = GameClient::new(self.now_us, token, ClientConfig::default()).unwrap();
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
        let jitter_us = if link.jitter_us == 0 { 0 } else { self.rng.next_u64() % (link.jitter_us + 1) };
        self.in_flight.insert((self.now_us + link.one_way_us + jitter_us, self.sequence), (destination, from, bytes));
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
        self.server.tick(now);
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

    /// Turns every bot left by `degrees`.
    fn turn(&mut self, degrees: f32) {
        let (sin, cos) = degrees.to_radians().sin_cos();
        for bot in &mut self.bots {
            let [x, y] = bot.command.direction;
            bot.command.direction = [x * cos - y * sin, x * sin + y * cos];
        }
    }

    /// Runs until every bot is placed (it has its `Joined` event and a snapshot with its entity).
    /// Returns false if `ms_max` passes first.
    fn place_all(&mut self, ms_max: u64) -> bool {
        self.run_until(ms_max * 1_000 / STEP_US, Sim::all_placed)
    }
}

#[test]
fn a_lost_input_datagram_loses_no_input() {
    let mut sim = Sim::new(1);
    let bot = sim.add_bot(Link { one_way_us: 20_000, jitter_us: 0, loss_ppm: 0 }, MoveCommand { direction: [1.0, 0.0], yaw: 0.0 });
    assert!(sim.run_until(400, Sim::all_placed), "bot never placed");
    let first_tick = sim.bots[bot].client.client_tick() + 1;
    // Lose the datagrams after two single ticks (redundancy 3 covers a run of up to 2).
    for lost in [first_tick + 10, first_tick + 20, first_tick + 21] {
        sim.drop_uplink_after_tick.insert((bot, lost));
    }
    sim.run_ms(3_000);
    let last_tick = sim.bots[bot].client.client_tick();
    let seen = sim.server.inputs_seen(FIRST_SESSION).expect("session known");
    let missing: Vec<u32> = (first_tick..=last_tick - 2).filter(|tick| !seen.contains(tick)).collect();
    assert!(missing.is_empty(), "inputs lost despite redundancy: {missing:?}");
    assert!(sim.datagrams_lost >= 3);
    assert_eq!(sim.server.zone().counters().inputs_missing, 0, "the zone never had to extrapolate");
    assert!(sim.server.zone().counters().inputs_duplicate > 0, "redundant copies were seen and applied once");
    // The zone moved the player exactly as the client predicted.
    let entity = sim.bots[bot].client.entity().unwrap();
    let predicted = sim.bots[bot].client.predicted_position_m().unwrap();
    let server = sim.server.zone().position(entity).unwrap();
    assert!(predicted[0] > server[0], "the prediction runs ahead of the server");
    assert_eq!(sim.bots[bot].client.corrections().corrections, 0);
}

#[test]
fn bots_connect_move_predict_and_see_each_other() {
    let mut sim = Sim::new(7);
    let directions = [[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8], [0.0, -1.0]];
    for (index, direction) in directions.iter().enumerate() {
        let link = Link { one_way_us: 30_000 + 10_000 * index as u64, jitter_us: JITTER_US, loss_ppm: 20_000 };
        sim.add_bot(link, MoveCommand { direction: *direction, yaw: 0.0 });
    }
    assert!(sim.place_all(5_000), "not all bots placed");
    for (index, bot) in sim.bots.iter().enumerate() {
        let client = sim.server.client_of(FIRST_SESSION + index as u64).unwrap();
        assert_eq!(bot.client.entity(), sim.server.zone().client_entity(client), "bot {index} took another entity for itself");
    }
    for bot in &mut sim.bots {
        while let Some(event) = bot.client.poll_event() {
            match event {
                GameEvent::Connected => {}
                GameEvent::Server(ServerEvent::Joined { .. }) | GameEvent::Placed { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // Move for 1.5 s, turning left every half second (they stay within each other's area of interest).
    for _ in 0..3 {
        sim.run_ms(500);
        sim.turn(90.0);
    }
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
            let actual = sim.server.zone().position(*other).unwrap();
            let lag_m = distance_m(rendered, actual);
            let lag_max_m = speed * 0.4;
            assert!(lag_m > 0.1 && lag_m < lag_max_m, "bot {index} draws {other} {lag_m} m from the server position");
        }
        let rtt_us = bot.client.rtt_us().expect("clock synced");
        let link_rtt_us = 2 * bot.link.one_way_us as i64;
        let slack_us = 2 * (JITTER_US + STEP_US) as i64;
        assert!((link_rtt_us..=link_rtt_us + slack_us).contains(&rtt_us), "bot {index} rtt {rtt_us}");
        let offset = bot.client.server_time_us(now).unwrap() as i64 - now as i64;
        assert!(offset.abs() <= slack_us / 2, "same clock on both sides, offset {offset}");
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
        let server = sim.server.zone().position(entity).unwrap();
        assert!(distance_m(predicted, server) < CORRECTION_EPSILON_M, "bot {index}: predicted {predicted:?}, server {server:?}");
        for other in &entities {
            if *other != entity {
                let rendered = bot.client.render_position(*other, now).unwrap();
                assert!(distance_m(rendered, sim.server.zone().position(*other).unwrap()) < 0.02, "settled remote drawn where it is");
            }
        }
        let corrections = bot.client.corrections();
        assert!(corrections.reconciliations > 50, "bot {index} reconciled {} times", corrections.reconciliations);
        // With 2% loss the zone may skip an input and extrapolate: small corrections are allowed,
        // large ones would mean reconciliation is broken.
        let p99_um = corrections.distance_um.quantile(0.99).unwrap_or(0);
        assert!(p99_um < 1_000_000, "bot {index} correction p99 {p99_um} um");
        assert!(bot.client.counters().snapshots_applied > 50);
        assert_eq!(corrections.corrections, 0, "bot {index}: placed from Joined, the prediction never disagreed");
        let counters = bot.client.counters();
        assert!(counters.snapshot_acks_sent * 2 > counters.snapshots_applied, "acks are on by default: {counters:?}");
    }
    // Acked snapshots are deltas: four entities moving at a steady velocity cost a few bits each,
    // where sent whole (no ack) each would cost its 140-bit record and id every tick.
    let counters = sim.server.zone().counters();
    let mean_snapshot_bytes = counters.snapshot_bytes / counters.snapshots_sent;
    let whole_snapshot_bytes = (32 + 1 + 8 + 4 * (140 + 5)) / 8;
    assert!(mean_snapshot_bytes * 4 < whole_snapshot_bytes, "mean snapshot {mean_snapshot_bytes} B");
}

/// The server drops chat over the limit (its decoder refuses the message) and the zone drops empty
/// chat, both without telling the sender: the client refuses both before anything is sent. (That the
/// sender hears its own line back is the zone's rule, tested in `meridian_zone`; this reference server
/// rides chat on an input tick the zone already holds, so the zone mostly refuses it as a duplicate.)
#[test]
fn over_long_and_empty_chat_is_refused_by_the_client() {
    let mut sim = Sim::new(3);
    let link = Link { one_way_us: 20_000, jitter_us: 0, loss_ppm: 0 };
    let speaker = sim.add_bot(link, MoveCommand { direction: [0.0, 0.0], yaw: 0.0 });
    assert!(sim.place_all(5_000), "bot never placed");
    let client = &mut sim.bots[speaker].client;
    let too_long = "é".repeat(CHAT_TEXT_BYTES_MAX / 2) + "x";
    assert_eq!(client.send_chat(&too_long), Err(ClientError::ChatTooLong { bytes: CHAT_TEXT_BYTES_MAX + 1 }));
    assert_eq!(client.send_chat(""), Err(ClientError::ChatEmpty));
    sim.run_ms(500);
    assert_eq!(sim.server.counters().bad_messages, 0, "the over-long line never reached the server's decoder");
    sim.bots[speaker].client.send_chat(&"é".repeat(CHAT_TEXT_BYTES_MAX / 2)).expect("the longest line is accepted");
}

/// A crowd walking in step, then turning each its own way: every bot takes the entity the server
/// gave it for its own (not a neighbour walking in step), and predicts it with few corrections.
#[test]
fn a_crowd_in_step_knows_its_own_entities() {
    let mut sim = Sim::new(11);
    for index in 0..24u64 {
        let link = Link { one_way_us: 20_000 + 2_000 * index, jitter_us: 10_000, loss_ppm: 10_000 };
        sim.add_bot(link, MoveCommand { direction: [1.0, 0.0], yaw: 0.0 });
    }
    // Everyone walks east for 1 s, then each turns by its own angle.
    sim.run_ms(1_000);
    for (index, bot) in sim.bots.iter_mut().enumerate() {
        let angle = (index as f32 * 15.0).to_radians();
        bot.command.direction = [angle.cos(), angle.sin()];
    }
    assert!(sim.place_all(5_000), "not all bots placed");
    for (index, bot) in sim.bots.iter().enumerate() {
        let client = sim.server.client_of(FIRST_SESSION + index as u64).unwrap();
        assert_eq!(bot.client.entity(), sim.server.zone().client_entity(client), "bot {index} took another entity for itself");
    }
    sim.run_ms(2_000);
    for (index, bot) in sim.bots.iter().enumerate() {
        let corrections = bot.client.corrections();
        assert!(corrections.corrections <= 2, "bot {index}: {corrections:?}");
    }
}
