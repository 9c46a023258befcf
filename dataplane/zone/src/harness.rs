//! The deterministic harness: one zone and M simulated clients on simulated time, with per-client
//! latency, jitter and loss drawn from a seeded ChaCha RNG. Clients decode what they receive with the
//! protocol crate's `SnapshotReceiver`, ack it over the lossy uplink, predict their own movement and
//! render others with an interpolation delay (for lag-compensated shots). Same seed, same run.
//!
//! Reliable traffic (client events such as chat and inventory grants) is delivered with latency but
//! no loss, standing in for the reliable channel. Persistence events are collected for the test to
//! confirm (or delay, or repeat) by hand.

use std::collections::{BTreeMap, VecDeque};

use meridian_proto::snapshot::{EntityState, SnapshotReceiver};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::config::ZoneConfig;
use crate::input::{Action, MoveIntent, PlayerInput};
use crate::movement::{MoveRules, step};
use crate::zone::{ClientEvent, ClientId, PartyId, PersistenceEvent, Zone, ZoneInput, ZoneOutput};

/// Most simulated clients in one harness.
pub const HARNESS_CLIENTS_MAX: usize = 256;
/// Most datagrams in flight in either direction; past it the harness panics (a test bug).
pub const IN_FLIGHT_MAX: usize = 1 << 20;
/// Snapshots a client remembers for rendering with interpolation delay.
pub const RENDER_HISTORY_MAX: usize = 64;
/// Inputs each uplink datagram carries (the newest and the ones before it), as real clients send
/// redundantly against loss; the zone must apply each once.
pub const INPUT_REDUNDANCY: usize = 3;
/// Longest a harness drive loop may run.
pub const HARNESS_TICKS_MAX: u64 = 100_000;

/// One direction of a client's network path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    pub latency_us: u64,
    /// Each datagram gets an extra uniform delay in `0..=jitter_us`.
    pub jitter_us: u64,
    /// Probability a datagram is lost, in parts per million.
    pub loss_ppm: u32,
}

impl LinkProfile {
    pub const PERFECT: LinkProfile = LinkProfile {
        latency_us: 0,
        jitter_us: 0,
        loss_ppm: 0,
    };

    pub fn rtt_us(&self) -> u64 {
        2 * self.latency_us + self.jitter_us
    }
}

/// A simulated client.
#[derive(Debug)]
pub struct SimClient {
    pub id: ClientId,
    pub link: LinkProfile,
    pub receiver: SnapshotReceiver,
    pub entity: Option<u32>,
    /// Movement intent applied every tick (length ≤ 1 for honest clients).
    pub direction: [f32; 2],
    /// Where this client's prediction thinks it is (claimed in every input).
    pub predicted_m: Option<[f32; 3]>,
    /// One action to ride on the next input.
    pub next_action: Option<Action>,
    /// Overrides the claimed position of the next input (cheating tests).
    pub next_claim_m: Option<[f32; 3]>,
    pub events: Vec<ClientEvent>,
    pub snapshots_applied: u64,
    pub snapshot_errors: u64,
    client_tick: u32,
    recent_inputs: VecDeque<PlayerInput>,
    /// (arrival time, tick, world) of recent snapshots, oldest first.
    render_history: VecDeque<(u64, u32, BTreeMap<u32, EntityState>)>,
}

impl SimClient {
    /// Where this client draws `entity` at `now_us`, rendering `delay_us` in the past: interpolated
    /// between the snapshots that arrived around `now_us − delay_us`.
    pub fn rendered_position(&self, entity: u32, now_us: u64, delay_us: u64) -> Option<[f32; 3]> {
        let at = now_us.checked_sub(delay_us)?;
        let after = self.render_history.iter().position(|(arrival, _, _)| *arrival > at);
        let (before, after) = match after {
            Some(0) | None => {
                return self
                    .render_history
                    .back()
                    .and_then(|(_, _, world)| world.get(&entity))
                    .map(|s| s.position);
            }
            Some(index) => (&self.render_history[index - 1], &self.render_history[index]),
        };
        let a = before.2.get(&entity)?.position;
        let b = after.2.get(&entity)?.position;
        let t = (at - before.0) as f32 / (after.0 - before.0).max(1) as f32;
        Some([
            a[0] + (b[0] - a[0]) * t,
            a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t,
        ])
    }
}

#[derive(Debug)]
enum Downlink {
    Snapshot { bytes: Vec<u8> },
    Event(ClientEvent),
}

/// One zone, its clients and the network between them.
pub struct Harness {
    pub zone: Zone,
    pub clients: Vec<SimClient>,
    pub now_us: u64,
    /// Every persistence event the zone emitted, in order (the test plays persistence).
    pub persistence: Vec<PersistenceEvent>,
    /// Per (client, snapshot tick): the zone's own area-of-interest scan at that tick.
    pub aoi_log: BTreeMap<(ClientId, u32), Vec<u32>>,
    /// With AOI recording on: every applied snapshot whose world differed from the zone's AOI scan
    /// at that snapshot's tick, and how many were checked.
    pub aoi_mismatches: Vec<(ClientId, u32)>,
    pub aoi_checks: u64,
    /// Inputs the test injects directly (control plane, persistence confirms), applied next tick.
    pub control: Vec<ZoneInput>,
    rng: ChaCha8Rng,
    uplink: BTreeMap<(u64, u64), ZoneInput>,
    downlink: BTreeMap<(u64, u64), (usize, Downlink)>,
    sequence: u64,
    out: ZoneOutput,
    record_aoi: bool,
    datagrams_lost: u64,
}

impl Harness {
    pub fn new(config: ZoneConfig, seed: u64) -> Self {
        let zone = Zone::new(config, 0, 1, 0).expect("harness config must be valid");
        Self {
            zone,
            clients: Vec::new(),
            now_us: 0,
            persistence: Vec::new(),
            aoi_log: BTreeMap::new(),
            aoi_mismatches: Vec::new(),
            aoi_checks: 0,
            control: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            uplink: BTreeMap::new(),
            downlink: BTreeMap::new(),
            sequence: 0,
            out: ZoneOutput::default(),
            record_aoi: false,
            datagrams_lost: 0,
        }
    }

    /// Record the zone's AOI scan for every snapshot (O(entities) per client per tick; small tests).
    pub fn record_aoi(&mut self, on: bool) {
        self.record_aoi = on;
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn datagrams_lost(&self) -> u64 {
        self.datagrams_lost
    }

    /// Adds a client that joins on the next tick at `spawn_m`. Returns its index.
    pub fn add_client(&mut self, link: LinkProfile, spawn_m: [f32; 3], party: Option<PartyId>) -> usize {
        assert!(self.clients.len() < HARNESS_CLIENTS_MAX);
        let index = self.clients.len();
        let id = ClientId(index as u32 + 1);
        self.control.push(ZoneInput::Join {
            client: id,
            character_id: 1000 + index as u64,
            party,
            spawn_m: Some(spawn_m),
            rtt_us: link.rtt_us(),
            entity: None,
        });
        self.clients.push(SimClient {
            id,
            link,
            receiver: SnapshotReceiver::new(),
            entity: None,
            direction: [0.0; 2],
            predicted_m: Some(spawn_m),
            next_action: None,
            next_claim_m: None,
            events: Vec::new(),
            snapshots_applied: 0,
            snapshot_errors: 0,
            client_tick: 0,
            recent_inputs: VecDeque::new(),
            render_history: VecDeque::new(),
        });
        index
    }

    fn delay(&mut self, link: LinkProfile) -> Option<u64> {
        if link.loss_ppm > 0 && self.rng.next_u32() % 1_000_000 < link.loss_ppm {
            self.datagrams_lost += 1;
            return None;
        }
        let jitter = if link.jitter_us > 0 {
            u64::from(self.rng.next_u32()) % (link.jitter_us + 1)
        } else {
            0
        };
        Some(link.latency_us + jitter)
    }

    fn send_up(&mut self, at_us: u64, input: ZoneInput) {
        self.sequence += 1;
        self.uplink.insert((at_us, self.sequence), input);
        assert!(self.uplink.len() <= IN_FLIGHT_MAX);
    }

    fn send_down(&mut self, at_us: u64, client: usize, message: Downlink) {
        self.sequence += 1;
        self.downlink.insert((at_us, self.sequence), (client, message));
        assert!(self.downlink.len() <= IN_FLIGHT_MAX);
    }

    /// One tick of simulated time: clients send, the zone ticks, datagrams are delivered.
    pub fn step(&mut self) {
        let interval = self.zone.config().tick_interval_us();
        self.now_us += interval;
        let now = self.now_us;
        let rules_speed = self.zone.config().player_speed_m_per_s;
        let dt_s = 1.0 / self.zone.config().tick_hz as f32;
        let world_size_m = self.zone.config().world_size_m;
        let colliders = self.zone.config().colliders.clone();
        let teleport_tolerance_m = self.zone.config().teleport_tolerance_m;

        // Clients with a player send this tick's input (with the previous ones, redundantly).
        for index in 0..self.clients.len() {
            let client = &mut self.clients[index];
            if client.entity.is_none() {
                continue;
            }
            let rules = MoveRules {
                speed_m_per_s: rules_speed,
                dt_s,
                world_size_m,
                colliders: &colliders,
                teleport_tolerance_m,
            };
            let predicted = client.predicted_m.map(|from| step(from, client.direction, &rules).0);
            client.predicted_m = predicted;
            let claimed = client.next_claim_m.take().or(predicted).unwrap_or([0.0; 3]);
            let input = PlayerInput {
                client_tick: client.client_tick,
                movement: Some(MoveIntent {
                    direction: client.direction,
                    yaw: 0.0,
                    claimed_position_m: Some(claimed),
                }),
                action: client.next_action.take(),
            };
            client.client_tick += 1;
            client.recent_inputs.push_back(input);
            while client.recent_inputs.len() > INPUT_REDUNDANCY {
                client.recent_inputs.pop_front();
            }
            let (id, link) = (client.id, client.link);
            let batch: Vec<PlayerInput> = client.recent_inputs.iter().cloned().collect();
            if let Some(delay) = self.delay(link) {
                for input in batch {
                    self.send_up(
                        now + delay,
                        ZoneInput::Input {
                            client: id,
                            input,
                            received_us: now + delay,
                        },
                    );
                }
            }
        }

        // The zone takes what has arrived by now and ticks.
        let mut inputs: Vec<ZoneInput> = std::mem::take(&mut self.control);
        while let Some(entry) = self.uplink.first_entry() {
            if entry.key().0 > now {
                break;
            }
            inputs.push(entry.remove());
        }
        self.zone.tick(now, None, inputs, &mut self.out);

        // Outputs go onto the downlink.
        let by_id: BTreeMap<ClientId, usize> = self.clients.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let snapshots: Vec<(ClientId, u32, Vec<u8>)> = self
            .out
            .snapshots
            .iter()
            .map(|s| (s.client, s.tick, s.bytes.clone()))
            .collect();
        for (client, tick, bytes) in snapshots {
            let Some(&index) = by_id.get(&client) else { continue };
            if self.record_aoi {
                let aoi = self.zone.area_of_interest(client);
                self.aoi_log.insert((client, tick), aoi);
            }
            if let Some(delay) = self.delay(self.clients[index].link) {
                self.send_down(now + delay, index, Downlink::Snapshot { bytes });
            }
        }
        let events: Vec<(ClientId, ClientEvent)> = self.out.client_events.drain(..).collect();
        for (client, event) in events {
            let Some(&index) = by_id.get(&client) else { continue };
            let latency = self.clients[index].link.latency_us;
            self.send_down(now + latency, index, Downlink::Event(event));
        }
        self.persistence.append(&mut self.out.persistence);
        // Snapshots older than the receivers' history can no longer arrive usefully: forget their AOI.
        let oldest = (self.zone.current_tick() as u32).saturating_sub(RENDER_HISTORY_MAX as u32);
        self.aoi_log.retain(|(_, tick), _| *tick >= oldest);

        // Deliver what has arrived at the clients by now; acks go back up (lossy).
        while let Some(entry) = self.downlink.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((arrival, _), (index, message)) = entry.remove_entry();
            match message {
                Downlink::Snapshot { bytes } => {
                    let client = &mut self.clients[index];
                    match client.receiver.apply(&bytes) {
                        Ok(tick) => {
                            client.snapshots_applied += 1;
                            if let Some(expected) = self.aoi_log.get(&(client.id, tick)) {
                                self.aoi_checks += 1;
                                if client.receiver.latest_tick() == Some(tick)
                                    && !client.receiver.world().keys().copied().eq(expected.iter().copied())
                                {
                                    self.aoi_mismatches.push((client.id, tick));
                                }
                            }
                            if client.receiver.latest_tick() == Some(tick) {
                                client
                                    .render_history
                                    .push_back((arrival, tick, client.receiver.world().clone()));
                                while client.render_history.len() > RENDER_HISTORY_MAX {
                                    client.render_history.pop_front();
                                }
                            }
                            let (id, link) = (client.id, client.link);
                            if let Some(delay) = self.delay(link) {
                                self.send_up(now + delay, ZoneInput::SnapshotAck { client: id, tick });
                            }
                        }
                        Err(_) => client.snapshot_errors += 1,
                    }
                }
                Downlink::Event(event) => {
                    let client = &mut self.clients[index];
                    if let ClientEvent::Joined { entity } = event {
                        client.entity = Some(entity);
                    }
                    client.events.push(event);
                }
            }
        }
    }

    /// Steps `ticks` times.
    pub fn run(&mut self, ticks: u64) {
        assert!(ticks <= HARNESS_TICKS_MAX);
        for _ in 0..ticks {
            self.step();
        }
    }

    /// Steps until `done` holds (checked after each tick) or `ticks_max` ticks pass; returns whether
    /// it held.
    pub fn run_until(&mut self, ticks_max: u64, mut done: impl FnMut(&Harness) -> bool) -> bool {
        assert!(ticks_max <= HARNESS_TICKS_MAX);
        for _ in 0..ticks_max {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    /// Does client `index`'s world hold exactly the entities of the zone's AOI scan now, each at its
    /// current server state (as quantised by the codec)?
    pub fn client_converged(&self, index: usize) -> bool {
        let client = &self.clients[index];
        let expected = self.zone.area_of_interest(client.id);
        let world = client.receiver.world();
        if world.keys().copied().collect::<Vec<u32>>() != expected {
            return false;
        }
        world.values().all(|seen| {
            let Some(position) = self.zone.position(seen.id) else {
                return false;
            };
            let close = (0..3).all(|axis| (seen.position[axis] - position[axis]).abs() <= 1.0 / 32.0);
            close && self.zone.health(seen.id).is_none_or(|health| health == seen.health)
        })
    }
}
