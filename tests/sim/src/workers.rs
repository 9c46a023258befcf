//! Several workers of one node, deterministic: one [`SessionHost`] per worker, each running some
//! zones, all behind one game address; SDK clients over the simulated network; and what the node
//! puts between the workers — the session routes (the edge's session map: which worker a session's
//! datagrams go to, at a revision) and bounded worker-to-worker queues with a latency, over which
//! tickets, acks and forwarded datagrams travel in order.
//!
//! The harness is the handoff's arbiter as a node is: the route is compared and swapped in one
//! step with the host call it guards (`accept_ticket` then the swap, or the swap then
//! `abort_handoff`), so no tick can run between them and a player is never seen in two zones.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, MoveCommand};
use meridian_host::{GhostBatch, HandoffMessage, HostConfig, RttSource, SessionHost};
use meridian_proto::endpoint::ServerConfig;
use meridian_zone::{WorldLayout, ZoneConfig};

use meridian_host::SpawnRule;

use crate::{CLIENT_POLL_US, CLUSTER_KEY, FIRST_SESSION, Link, START_US, SimClient};

/// Messages queued between workers at once; past it one is dropped and counted (the node's peer
/// queues have the same shape).
pub const PEER_QUEUE_MAX: usize = 8_192;
/// Sessions per worker in the harness: room for a full zone (2,000 players) on each.
pub const SIM_CONNECTIONS_MAX: usize = 4_096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Destination {
    Node,
    Client(usize),
}

#[derive(Clone, Debug)]
enum PeerMessage {
    Ticket {
        to: usize,
        bytes: Vec<u8>,
    },
    Accepted {
        to: usize,
        session_id: u64,
        ticket_id: u64,
    },
    Datagram {
        to: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Ghosts {
        to: usize,
        batch: GhostBatch,
    },
}

/// Counters of the harness's node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    pub peer_messages: u64,
    pub peer_dropped_queue_full: u64,
    pub datagrams_forwarded: u64,
    pub commits: u64,
    pub aborts: u64,
    /// Tickets taken in whose swap lost (the old worker had aborted): cancelled on the spot.
    pub cancels: u64,
    pub tickets_refused: u64,
    /// Times a check found a session placed in two zones (must stay 0).
    pub seen_in_two_zones: u64,
    /// Times a check found a session placed nowhere and in no ticket (must stay 0).
    pub seen_in_none: u64,
}

pub struct WorkersConfig {
    pub zone: ZoneConfig,
    /// `worker_zones[w]`: the zones worker `w` runs.
    pub worker_zones: Vec<Vec<u32>>,
    pub layout: WorldLayout,
    pub deadline_ticks: u64,
    pub peer_latency_us: u64,
    pub spawn: Option<SpawnRule>,
    /// Ghosts within this many metres of a border (`None`: no ghosts).
    pub ghost_margin_m: Option<f32>,
}

pub struct WorkersSim {
    pub now_us: u64,
    pub server_address: SocketAddr,
    pub hosts: Vec<SessionHost>,
    pub clients: Vec<SimClient>,
    pub counters: NodeCounters,
    /// Wall-clock nanoseconds spent inside each worker's `SessionHost` (datagrams, ticks, tickets,
    /// ghosts, transmits): the workers' CPU in this harness, for cost figures.
    pub host_busy_ns: Vec<u64>,
    /// The latency of the worker-to-worker queues (microseconds to seconds in real nodes); 0
    /// delivers within the step.
    pub peer_latency_us: u64,
    /// Extra delay per message in `0..=peer_jitter_us` (a busy worker picks its queue up late);
    /// the queue stays first in, first out.
    pub peer_jitter_us: u64,
    last_peer_arrival_us: u64,
    /// Session → (worker, revision): the edge's session map and the workers' forward tables.
    pub routes: BTreeMap<u64, (usize, u64)>,
    /// Simulated times at which each session's ticket was written (its freeze), per session.
    pub freezes_us: BTreeMap<u64, Vec<u64>>,
    /// Simulated times at which each session's handoff committed.
    pub commits_us: BTreeMap<u64, Vec<u64>>,
    zone_worker: BTreeMap<u32, usize>,
    /// Tickets written and not yet decided: ticket id → the route revision they were written at.
    tickets: BTreeMap<u64, u64>,
    in_flight: BTreeMap<(u64, u64), (Destination, SocketAddr, Vec<u8>)>,
    peer: BTreeMap<(u64, u64), PeerMessage>,
    sequence: u64,
    rng: SplitMix64,
    zone: ZoneConfig,
    next_client_tick_us: u64,
    next_client_poll_us: u64,
}

impl WorkersSim {
    pub fn new(seed: u64, config: WorkersConfig) -> Self {
        let server_address: SocketAddr = "10.0.0.1:7777".parse().expect("literal address");
        let mut rng = SplitMix64(seed);
        let mut zone_worker = BTreeMap::new();
        let hosts = config
            .worker_zones
            .iter()
            .enumerate()
            .map(|(worker, zones)| {
                let mut challenge_key = [0u8; 16];
                rng.fill(&mut challenge_key);
                for &zone in zones {
                    zone_worker.insert(zone, worker);
                }
                let mut host = SessionHost::new(
                    HostConfig {
                        server: ServerConfig {
                            cluster_key: CLUSTER_KEY,
                            challenge_key,
                            public_address: server_address,
                            connections_max: SIM_CONNECTIONS_MAX,
                        },
                        zone: config.zone.clone(),
                        zone_ids: zones.clone(),
                        rtt_source: RttSource::Measured,
                        work_clock: None,
                        spawn: config.spawn.clone(),
                    },
                    START_US,
                )
                .expect("sim host config is valid");
                host.set_world_layout(config.layout.clone()).expect("layout fits");
                host.set_remote_handoffs(config.deadline_ticks)
                    .expect("the zone config has the cluster tick origin");
                if let Some(margin_m) = config.ghost_margin_m {
                    host.set_ghost_margin(margin_m);
                }
                host
            })
            .collect();
        Self {
            now_us: START_US,
            server_address,
            hosts,
            clients: Vec::new(),
            counters: NodeCounters::default(),
            host_busy_ns: vec![0; config.worker_zones.len()],
            peer_latency_us: config.peer_latency_us,
            peer_jitter_us: 0,
            last_peer_arrival_us: 0,
            routes: BTreeMap::new(),
            freezes_us: BTreeMap::new(),
            commits_us: BTreeMap::new(),
            zone_worker,
            tickets: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            peer: BTreeMap::new(),
            sequence: 0,
            rng,
            zone: config.zone,
            next_client_tick_us: START_US,
            next_client_poll_us: START_US,
        }
    }

    /// Adds a client of `zone_id`; its session's route starts on the worker running that zone.
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
        let [a, b, c, d] = (0xc612_0000u32 + index as u32).to_be_bytes();
        let address = SocketAddr::from(([a, b, c, d], 40_000));
        self.routes.insert(session_id, (self.zone_worker[&zone_id], 0));
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

    fn send(&mut self, destination: Destination, from: SocketAddr, bytes: Vec<u8>, link: Link) {
        if link.loss_ppm > 0 && self.rng.next_u64() % 1_000_000 < link.loss_ppm {
            return;
        }
        let jitter_us = if link.jitter_us == 0 {
            0
        } else {
            self.rng.next_u64() % (link.jitter_us + 1)
        };
        self.sequence += 1;
        self.in_flight.insert(
            (self.now_us + link.one_way_us + jitter_us, self.sequence),
            (destination, from, bytes),
        );
    }

    fn send_peer(&mut self, message: PeerMessage) {
        // No latency: handed over at once, within the step, before the workers after this one
        // have run their tick (a ticket can then reach a worker that has not run its freeze tick).
        if self.peer_latency_us == 0 {
            self.counters.peer_messages += 1;
            self.deliver_peer(message);
            return;
        }
        if self.peer.len() >= PEER_QUEUE_MAX {
            self.counters.peer_dropped_queue_full += 1;
            return;
        }
        self.counters.peer_messages += 1;
        self.sequence += 1;
        let jitter_us = match self.peer_jitter_us {
            0 => 0,
            jitter_us => self.rng.next_u64() % (jitter_us + 1),
        };
        let arrival_us = (self.now_us + self.peer_latency_us + jitter_us).max(self.last_peer_arrival_us);
        self.last_peer_arrival_us = arrival_us;
        self.peer.insert((arrival_us, self.sequence), message);
    }

    fn next_event_us(&self) -> u64 {
        let mut next = self
            .hosts
            .iter()
            .map(SessionHost::poll_timeout)
            .min()
            .unwrap_or(u64::MAX);
        if let Some((&(at, _), _)) = self.in_flight.first_key_value() {
            next = next.min(at);
        }
        if let Some((&(at, _), _)) = self.peer.first_key_value() {
            next = next.min(at);
        }
        next.min(self.next_client_tick_us)
            .min(self.next_client_poll_us)
            .max(self.now_us)
    }

    /// A datagram reaching the node: the edge steers it to its session's worker; a worker holding
    /// the session in transit forwards it behind the ticket.
    fn deliver_to_node(&mut self, from: SocketAddr, bytes: Vec<u8>) {
        let session = meridian_proto::packet::read_sealed_header(&bytes)
            .ok()
            .map(|header| header.session_id);
        let worker = session
            .and_then(|session_id| self.routes.get(&session_id))
            .map_or(0, |&(worker, _)| worker);
        // A connection request carries no clear session id: the kernel's hash picks a worker, which
        // forwards it to the zone's owner (here: the route the harness set at `add_client`).
        let worker = match session {
            Some(_) => worker,
            None => self.request_worker(&bytes).unwrap_or(worker),
        };
        let started = std::time::Instant::now();
        if let Some(zone_id) = self.hosts[worker].handoff_forward(&bytes, from) {
            self.host_busy_ns[worker] += started.elapsed().as_nanos() as u64;
            self.counters.datagrams_forwarded += 1;
            let to = self.zone_worker[&zone_id];
            self.send_peer(PeerMessage::Datagram { to, from, bytes });
            return;
        }
        self.hosts[worker].handle_datagram(self.now_us, from, &bytes);
        self.host_busy_ns[worker] += started.elapsed().as_nanos() as u64;
    }

    fn request_worker(&self, bytes: &[u8]) -> Option<usize> {
        let request = meridian_proto::endpoint::read_connection_request(bytes).ok()?;
        let token = meridian_proto::token::ConnectToken::open(
            &CLUSTER_KEY,
            request.expires_at_s,
            request.nonce,
            request.sealed_private,
        )
        .ok()?;
        self.zone_worker.get(&token.zone_id).copied()
    }

    fn deliver_peer(&mut self, message: PeerMessage) {
        let to = match &message {
            PeerMessage::Datagram { to, .. }
            | PeerMessage::Ghosts { to, .. }
            | PeerMessage::Ticket { to, .. }
            | PeerMessage::Accepted { to, .. } => *to,
        };
        let started = std::time::Instant::now();
        self.deliver_peer_untimed(message);
        if let Some(busy) = self.host_busy_ns.get_mut(to) {
            *busy += started.elapsed().as_nanos() as u64;
        }
    }

    fn deliver_peer_untimed(&mut self, message: PeerMessage) {
        let now = self.now_us;
        match message {
            PeerMessage::Datagram { to, from, bytes } => {
                if let Some(zone_id) = self.hosts[to].handoff_forward(&bytes, from) {
                    let next = self.zone_worker[&zone_id];
                    self.send_peer(PeerMessage::Datagram { to: next, from, bytes });
                } else {
                    self.hosts[to].handle_datagram(now, from, &bytes);
                }
            }
            PeerMessage::Ghosts { to, batch } => self.hosts[to].accept_ghosts(batch),
            PeerMessage::Ticket { to, bytes, .. } => {
                if self.hosts[to].accept_ticket(now, &bytes).is_err() {
                    self.counters.tickets_refused += 1;
                    return; // the old worker's deadline aborts it
                }
                // Taken in now, or parked until the worker's next tick: decided on `Accepted`.
                self.drain_handoff_messages(to);
            }
            PeerMessage::Accepted {
                to,
                session_id,
                ticket_id,
            } => {
                assert!(
                    self.hosts[to].commit_handoff(session_id, ticket_id),
                    "a committed ticket is held until its ack"
                );
            }
        }
    }

    /// Carries and decides what worker `worker`'s host asked for.
    fn drain_handoff_messages(&mut self, worker: usize) {
        while let Some(message) = self.hosts[worker].poll_handoff_message() {
            match message {
                HandoffMessage::Ticket {
                    ticket_id,
                    session_id,
                    to_zone_id,
                    bytes,
                    ..
                } => {
                    let revision = self.routes[&session_id].1;
                    self.tickets.insert(ticket_id, revision);
                    self.freezes_us.entry(session_id).or_default().push(self.now_us);
                    let to = self.zone_worker[&to_zone_id];
                    self.send_peer(PeerMessage::Ticket { to, bytes });
                }
                HandoffMessage::Accepted {
                    ticket_id,
                    session_id,
                    from_zone_id,
                    ..
                } => {
                    let from = self.zone_worker[&from_zone_id];
                    let revision = self.tickets.remove(&ticket_id).unwrap_or(u64::MAX);
                    // The swap: the route still names the old worker at the ticket's revision.
                    if self.routes.get(&session_id) == Some(&(from, revision)) {
                        self.routes.insert(session_id, (worker, revision + 1));
                        self.counters.commits += 1;
                        self.commits_us.entry(session_id).or_default().push(self.now_us);
                        assert!(self.hosts[worker].confirm_handoff(session_id, ticket_id));
                        self.send_peer(PeerMessage::Accepted {
                            to: from,
                            session_id,
                            ticket_id,
                        });
                    } else {
                        assert!(self.hosts[worker].cancel_handoff(session_id, ticket_id));
                        self.counters.cancels += 1;
                    }
                }
                HandoffMessage::Expired {
                    ticket_id, session_id, ..
                } => {
                    let (owner, revision) = self.routes[&session_id];
                    if owner == worker {
                        // The swap the other way: the route stays here, at a new revision, so a
                        // ticket still on its way loses.
                        self.routes.insert(session_id, (worker, revision + 1));
                        assert!(self.hosts[worker].abort_handoff(self.now_us, session_id, ticket_id));
                        self.tickets.remove(&ticket_id);
                        self.counters.aborts += 1;
                    }
                    // Else the new worker committed first: its ack is on the way.
                }
            }
        }
    }

    pub fn step(&mut self) {
        self.now_us = self.next_event_us();
        let now = self.now_us;
        while let Some(entry) = self.peer.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let message = entry.remove();
            self.deliver_peer(message);
        }
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (destination, from, bytes) = entry.remove();
            match destination {
                Destination::Node => self.deliver_to_node(from, bytes),
                Destination::Client(index) => {
                    let _ = self.clients[index].client.handle(now, from, &bytes);
                }
            }
        }
        if now >= self.next_client_tick_us {
            self.next_client_tick_us += self.zone.tick_interval_us();
            for client in self.clients.iter_mut().filter(|client| client.driven) {
                if client.client.is_connected() {
                    client.client.tick(client.command).expect("a connected client ticks");
                }
            }
        }
        for worker in 0..self.hosts.len() {
            let started = std::time::Instant::now();
            if now >= self.hosts[worker].poll_timeout() {
                self.hosts[worker].handle_timeout(now);
            }
            self.drain_handoff_messages(worker);
            while let Some(batch) = self.hosts[worker].poll_ghost_batch() {
                let to = self.zone_worker[&batch.to_zone_id];
                self.send_peer(PeerMessage::Ghosts { to, batch });
            }
            self.host_busy_ns[worker] += started.elapsed().as_nanos() as u64;
            while let Some(transmit) = self.hosts[worker].poll_transmit(now) {
                let Some(index) = self.index_of(transmit.destination) else {
                    continue;
                };
                let link = self.clients[index].link;
                self.send(Destination::Client(index), self.server_address, transmit.bytes, link);
            }
        }
        if now >= self.next_client_poll_us {
            self.next_client_poll_us = now + CLIENT_POLL_US;
        }
        for index in 0..self.clients.len() {
            while let Some(transmit) = self.clients[index].client.poll_transmit(now) {
                let (address, link) = (self.clients[index].address, self.clients[index].link);
                self.send(Destination::Node, address, transmit.bytes, link);
            }
        }
        self.check_placement();
    }

    /// Every connected session is placed in exactly one zone, or frozen in exactly one ticket.
    fn check_placement(&mut self) {
        for client in &self.clients {
            if !client.client.is_placed() {
                continue;
            }
            let placed = self
                .hosts
                .iter()
                .filter(|host| host.client_of(client.session_id).is_some())
                .count();
            let frozen = self
                .hosts
                .iter()
                .filter(|host| host.is_in_transit(client.session_id))
                .count();
            if placed > 1 {
                self.counters.seen_in_two_zones += 1;
            }
            if placed == 0 && frozen == 0 {
                self.counters.seen_in_none += 1;
            }
        }
    }

    fn index_of(&self, address: SocketAddr) -> Option<usize> {
        let std::net::IpAddr::V4(ip) = address.ip() else {
            return None;
        };
        let index = u32::from_be_bytes(ip.octets()).checked_sub(0xc612_0000)? as usize;
        (index < self.clients.len() && self.clients[index].address == address).then_some(index)
    }

    pub fn run_until(&mut self, steps_max: u64, mut done: impl FnMut(&WorkersSim) -> bool) -> bool {
        for _ in 0..steps_max {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    /// Runs `ms` of simulated time, calling `watch` after every step.
    pub fn run_ms_watched(&mut self, ms: u64, mut watch: impl FnMut(&WorkersSim)) {
        let end_us = self.now_us + ms * 1_000;
        let mut steps = 0u64;
        while self.next_event_us() <= end_us {
            self.step();
            watch(self);
            steps += 1;
            assert!(steps <= crate::SIM_STEPS_MAX, "run did not end");
        }
        self.now_us = end_us;
    }

    pub fn all_placed(&self) -> bool {
        self.clients.iter().all(|client| client.client.is_placed())
    }

    /// The worker and zone whose host has the session placed.
    pub fn placement(&self, index: usize) -> Option<(usize, u32)> {
        let session_id = self.clients[index].session_id;
        self.hosts
            .iter()
            .enumerate()
            .find_map(|(worker, host)| host.client_of(session_id).map(|(zone, _)| (worker, zone)))
    }

    /// The client's entity id and position as the host that has it placed sees them.
    pub fn host_entity_position(&self, index: usize) -> Option<(u32, [f32; 3])> {
        let session_id = self.clients[index].session_id;
        self.hosts.iter().find_map(|host| {
            let entity = host.entity_of(session_id)?;
            Some((entity, host.zone_of(session_id)?.position(entity)?))
        })
    }

    /// Datagrams the edge would steer right now: the set of sessions routed to `worker`.
    pub fn sessions_on(&self, worker: usize) -> BTreeSet<u64> {
        self.routes
            .iter()
            .filter(|(_, (owner, _))| *owner == worker)
            .map(|(session_id, _)| *session_id)
            .collect()
    }
}
