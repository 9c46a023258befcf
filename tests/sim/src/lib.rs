//! `meridian-sim` is the deterministic harness of the session path: one [`SessionHost`] (the code the
//! node runs) and N SDK [`GameClient`]s (the code games run) over a simulated network with latency,
//! jitter (which reorders), loss and duplication per link, on simulated time. Nothing reads a clock
//! or opens a socket, so a seed is a run: every randomized test takes one, and a seed that ever
//! failed becomes a named regression test. The model is quinn-proto's `Pair`, grown to many clients.
//!
//! Time advances from event to event: the host's next wake-up, the next datagram arrival, the next
//! client tick, and a client poll every `CLIENT_POLL_US` while clients are driven (the SDK has no
//! timer of its own to ask). Every drive loop is bounded.
#![forbid(unsafe_code)]

pub mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, MoveCommand};
use meridian_host::{HostConfig, RttSource, SessionHost, SpawnRule};
use meridian_proto::endpoint::ServerConfig;
use meridian_zone::ZoneConfig;

/// Simulated wall clock at the start: tokens carry Unix times.
pub const START_US: u64 = 1_700_000_000 * 1_000_000;
pub const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
/// Session ids are `FIRST_SESSION + client index`.
pub const FIRST_SESSION: u64 = 1000;
/// Clients are polled at least this often while driven.
pub const CLIENT_POLL_US: u64 = 1_000;
/// Longest any drive loop runs (simulated steps).
pub const SIM_STEPS_MAX: u64 = 2_000_000;
/// Uplink datagrams the tap keeps.
pub const TAP_DATAGRAMS_MAX: usize = 4096;
/// Datagrams in flight at once; past it the network drops (and counts) like a full router queue.
pub const IN_FLIGHT_MAX: usize = 1 << 20;

/// One direction-symmetric path between a client and the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Link {
    pub one_way_us: u64,
    /// Extra uniform delay per datagram in `0..=jitter_us`: datagrams overtake each other.
    pub jitter_us: u64,
    pub loss_ppm: u64,
    /// Chance that a datagram arrives twice (the copy with its own jitter).
    pub duplicate_ppm: u64,
}

impl Link {
    pub fn rtt_us(&self) -> u64 {
        2 * self.one_way_us
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Destination {
    Host,
    Client(usize),
}

pub struct SimClient {
    pub client: GameClient,
    pub session_id: u64,
    pub address: SocketAddr,
    pub link: Link,
    pub command: MoveCommand,
    /// Driven clients tick, read and send; a silenced one has gone away without a word.
    pub driven: bool,
}

/// What the harness builds the host from.
#[derive(Clone)]
pub struct SimConfig {
    pub zone: ZoneConfig,
    pub zone_ids: Vec<u32>,
    pub connections_max: usize,
    pub rtt_source: RttSource,
    pub spawn: Option<SpawnRule>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            zone: ZoneConfig::default(),
            zone_ids: vec![1],
            connections_max: 64,
            rtt_source: RttSource::Measured,
            spawn: None,
        }
    }
}

/// Network counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkCounters {
    pub datagrams_sent: u64,
    pub datagrams_lost: u64,
    pub datagrams_duplicated: u64,
    pub datagrams_dropped_queue_full: u64,
}

pub struct Sim {
    pub now_us: u64,
    pub server_address: SocketAddr,
    pub host: SessionHost,
    pub clients: Vec<SimClient>,
    pub network: NetworkCounters,
    /// (client, client tick): every uplink datagram the client sends right after that tick is lost.
    pub drop_uplink_after_tick: BTreeSet<(usize, u32)>,
    /// Clients whose next uplink datagram is lost (once each).
    pub lose_next_uplink: BTreeSet<usize>,
    /// When set, copies of the uplink datagrams sent (up to `TAP_DATAGRAMS_MAX`), for replay tests.
    pub uplink_tap: Option<Vec<(SocketAddr, Vec<u8>)>>,
    in_flight: BTreeMap<(u64, u64), (Destination, SocketAddr, Vec<u8>)>,
    flight_sequence: u64,
    rng: SplitMix64,
    zone: ZoneConfig,
    next_client_tick_us: u64,
    next_client_poll_us: u64,
}

impl Sim {
    pub fn new(seed: u64, config: SimConfig) -> Self {
        let server_address: SocketAddr = "10.0.0.1:7777".parse().expect("literal address");
        let mut challenge_key = [0u8; 16];
        let mut rng = SplitMix64(seed);
        rng.fill(&mut challenge_key);
        let host = SessionHost::new(
            HostConfig {
                server: ServerConfig {
                    cluster_key: CLUSTER_KEY,
                    challenge_key,
                    public_address: server_address,
                    connections_max: config.connections_max,
                },
                zone: config.zone.clone(),
                zone_ids: config.zone_ids,
                rtt_source: config.rtt_source,
                work_clock: None,
                spawn: config.spawn,
            },
            START_US,
        )
        .expect("sim host config is valid");
        Self {
            now_us: START_US,
            server_address,
            host,
            clients: Vec::new(),
            network: NetworkCounters::default(),
            drop_uplink_after_tick: BTreeSet::new(),
            uplink_tap: None,
            lose_next_uplink: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            flight_sequence: 0,
            rng,
            zone: config.zone,
            next_client_tick_us: START_US,
            next_client_poll_us: START_US,
        }
    }

    /// Adds a client of `zone_id` behind `link`; it connects on the next steps.
    pub fn add_client(&mut self, zone_id: u32, link: Link, command: MoveCommand) -> usize {
        let index = self.clients.len();
        let session_id = FIRST_SESSION + index as u64;
        let token = dev_token::issue(
            &CLUSTER_KEY,
            session_id,
            zone_id,
            self.server_address,
            self.now_us / 1_000_000,
            &mut self.rng,
        );
        let config = ClientConfig {
            zone: self.zone.clone(),
            ..ClientConfig::default()
        };
        let client = GameClient::new(self.now_us, token, config).expect("default client config is valid");
        // 198.18.0.0/15 (benchmarking range): room for 2^17 distinct client addresses.
        let [a, b, c, d] = (0xc612_0000u32 + index as u32).to_be_bytes();
        let address = SocketAddr::from(([a, b, c, d], 40_000));
        self.clients.push(SimClient {
            client,
            session_id,
            address,
            link,
            command,
            driven: true,
        });
        index
    }

    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }

    fn send(&mut self, destination: Destination, from: SocketAddr, bytes: Vec<u8>, link: Link) {
        self.network.datagrams_sent += 1;
        if self.rng.next_u64() % 1_000_000 < link.loss_ppm {
            self.network.datagrams_lost += 1;
            return;
        }
        let copies = if self.rng.next_u64() % 1_000_000 < link.duplicate_ppm {
            2
        } else {
            1
        };
        for copy in 0..copies {
            if self.in_flight.len() >= IN_FLIGHT_MAX {
                self.network.datagrams_dropped_queue_full += 1;
                return;
            }
            if copy > 0 {
                self.network.datagrams_duplicated += 1;
            }
            let jitter_us = if link.jitter_us == 0 {
                0
            } else {
                self.rng.next_u64() % (link.jitter_us + 1)
            };
            self.flight_sequence += 1;
            let arrival_us = self.now_us + link.one_way_us + jitter_us;
            self.in_flight
                .insert((arrival_us, self.flight_sequence), (destination, from, bytes.clone()));
        }
    }

    fn any_driven(&self) -> bool {
        self.clients.iter().any(|client| client.driven)
    }

    /// When something next happens.
    fn next_event_us(&self) -> u64 {
        let mut next = self.host.poll_timeout();
        if let Some((&(arrival_us, _), _)) = self.in_flight.first_key_value() {
            next = next.min(arrival_us);
        }
        if self.any_driven() {
            next = next.min(self.next_client_tick_us).min(self.next_client_poll_us);
        }
        next.max(self.now_us)
    }

    /// Advances to the next event and handles everything due then.
    pub fn step(&mut self) {
        self.now_us = self.next_event_us();
        let now = self.now_us;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (destination, from, bytes) = entry.remove();
            match destination {
                Destination::Host => self.host.handle_datagram(now, from, &bytes),
                Destination::Client(index) => {
                    let client = &mut self.clients[index];
                    if client.driven {
                        // A refused datagram is the client's business (it counts it); the
                        // harness only carries bytes.
                        let _ = client.client.handle(now, from, &bytes);
                    }
                }
            }
        }
        let client_tick = self.any_driven() && now >= self.next_client_tick_us;
        if client_tick {
            self.next_client_tick_us += self.zone.tick_interval_us();
            for client in self.clients.iter_mut().filter(|client| client.driven) {
                if client.client.is_connected() {
                    client.client.tick(client.command).expect("a connected client ticks");
                }
            }
        }
        if now >= self.host.poll_timeout() {
            self.host.handle_timeout(now);
        }
        while let Some(transmit) = self.host.poll_transmit(now) {
            let Some(index) = self.index_of(transmit.destination) else {
                continue;
            };
            let link = self.clients[index].link;
            self.send(Destination::Client(index), self.server_address, transmit.bytes, link);
        }
        if now >= self.next_client_poll_us {
            self.next_client_poll_us = now + CLIENT_POLL_US;
        }
        for index in 0..self.clients.len() {
            if !self.clients[index].driven {
                continue;
            }
            let tick = self.clients[index].client.client_tick();
            let lost = client_tick && self.drop_uplink_after_tick.contains(&(index, tick));
            while let Some(transmit) = self.clients[index].client.poll_transmit(now) {
                assert_eq!(
                    transmit.destination, self.server_address,
                    "clients only talk to the host"
                );
                let (address, link) = (self.clients[index].address, self.clients[index].link);
                // The tap sees what leaves the client, lost on the way or not (as a sniffer would).
                if let Some(tap) = self.uplink_tap.as_mut().filter(|tap| tap.len() < TAP_DATAGRAMS_MAX) {
                    tap.push((address, transmit.bytes.clone()));
                }
                if lost || self.lose_next_uplink.remove(&index) {
                    self.network.datagrams_lost += 1;
                    continue;
                }
                self.send(Destination::Host, address, transmit.bytes, link);
            }
        }
    }

    /// Hands `bytes` to the host now, as if they arrived from `from` (an attacker, a replay).
    pub fn inject(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.host.handle_datagram(self.now_us, from, bytes);
    }

    fn index_of(&self, address: SocketAddr) -> Option<usize> {
        let [a, b, c, d] = match address.ip() {
            std::net::IpAddr::V4(ip) => ip.octets(),
            std::net::IpAddr::V6(_) => return None,
        };
        let index = u32::from_be_bytes([a, b, c, d]).checked_sub(0xc612_0000)? as usize;
        (index < self.clients.len() && self.clients[index].address == address).then_some(index)
    }

    /// Steps until `done` or `steps_max` steps; returns whether `done` was reached.
    pub fn run_until(&mut self, steps_max: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        assert!(steps_max <= SIM_STEPS_MAX);
        for _ in 0..steps_max {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    /// Runs `ms` of simulated time.
    pub fn run_ms(&mut self, ms: u64) {
        let end_us = self.now_us + ms * 1_000;
        let mut steps = 0;
        while self.next_event_us() <= end_us {
            self.step();
            steps += 1;
            assert!(
                steps <= SIM_STEPS_MAX,
                "run_ms({ms}) did not end within {SIM_STEPS_MAX} steps"
            );
        }
        self.now_us = end_us;
    }

    pub fn all_placed(&self) -> bool {
        self.clients.iter().all(|client| client.client.is_placed())
    }

    /// The client's entity as the host knows it.
    pub fn host_entity(&self, index: usize) -> Option<u32> {
        self.host.entity_of(self.clients[index].session_id)
    }

    /// Where the host has an entity of the client's layer.
    pub fn host_position(&self, index: usize, entity: u32) -> Option<[f32; 3]> {
        self.host.zone_of(self.clients[index].session_id)?.position(entity)
    }

    /// Turns every client's movement left by `degrees`.
    pub fn turn(&mut self, degrees: f32) {
        let (sin, cos) = degrees.to_radians().sin_cos();
        for client in &mut self.clients {
            let [x, y] = client.command.direction;
            client.command.direction = [x * cos - y * sin, x * sin + y * cos];
        }
    }
}
