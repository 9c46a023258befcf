//! `TickLoad`: a zone full of scripted players on a perfect network, for benchmarks and load reports.
//! Every player moves every tick and acks every snapshot, so each tick does the full work: inputs,
//! movement, AOI, priority and snapshot encoding for every client. Client-side work (choosing the
//! next input) is done in `prepare`, outside what a benchmark should time.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::config::{PLAYERS_PER_ZONE_MAX, ZoneConfig};
use crate::input::{MoveIntent, PlayerInput};
use crate::movement::{MoveRules, step};
use crate::zone::{ClientId, Zone, ZoneInput, ZoneOutput};

/// Where the players stand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// Uniformly over a `side_m` × `side_m` square.
    Uniform { side_m: f32 },
    /// Uniformly in a circle (a world-boss fight); players that walk out turn back in.
    Circle { center_m: [f32; 2], radius_m: f32 },
}

struct ScriptedPlayer {
    id: ClientId,
    client_tick: u32,
    direction: [f32; 2],
    predicted_m: [f32; 3],
    ack: Option<u32>,
}

/// What one tick sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickSent {
    pub snapshots: usize,
    pub bytes: usize,
}

pub struct TickLoad {
    pub zone: Zone,
    layout: Layout,
    players: Vec<ScriptedPlayer>,
    rng: ChaCha8Rng,
    now_us: u64,
    inputs: Vec<ZoneInput>,
    out: ZoneOutput,
}

impl TickLoad {
    /// A zone sized to hold `players` in one instance (the benchmark measures one zone's tick; in
    /// production layering would split it), with everyone joined and the first snapshot sent.
    pub fn new(players: usize, layout: Layout, seed: u64) -> Self {
        Self::with_config(players, layout, seed, ZoneConfig::default())
    }

    /// Like `new` with a base config (e.g. another AOI cell size); the world size and population
    /// limit are set for the load.
    pub fn with_config(players: usize, layout: Layout, seed: u64, base: ZoneConfig) -> Self {
        assert!(players > 0 && players <= PLAYERS_PER_ZONE_MAX - 8);
        let config = ZoneConfig {
            world_size_m: [1024.0, 1024.0],
            players_per_layer_max: players,
            ..base
        };
        let mut zone = Zone::new(config, 0, 1, 0).expect("load config is valid");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut inputs = Vec::with_capacity(players);
        let mut scripted = Vec::with_capacity(players);
        for index in 0..players {
            let spawn = random_spawn(&mut rng, layout);
            let id = ClientId(index as u32 + 1);
            inputs.push(ZoneInput::Join {
                client: id,
                character_id: index as u64,
                party: None,
                spawn_m: Some(spawn),
                rtt_us: 50_000,
                entity: None,
            });
            scripted.push(ScriptedPlayer {
                id,
                client_tick: 0,
                direction: random_direction(&mut rng),
                predicted_m: spawn,
                ack: None,
            });
        }
        let mut out = ZoneOutput::default();
        zone.tick(0, None, inputs.drain(..), &mut out);
        Self {
            zone,
            layout,
            players: scripted,
            rng,
            now_us: 0,
            inputs,
            out,
        }
    }

    /// Client side of the next tick: each player picks its move (and acks the last snapshot).
    pub fn prepare(&mut self) {
        let config = self.zone.config();
        let rules = MoveRules {
            speed_m_per_s: config.player_speed_m_per_s,
            dt_s: 1.0 / config.tick_hz as f32,
            world_size_m: config.world_size_m,
            colliders: &config.colliders,
            teleport_tolerance_m: config.teleport_tolerance_m,
        };
        self.inputs.clear();
        for player in &mut self.players {
            if self.rng.next_u32().is_multiple_of(40) {
                player.direction = random_direction(&mut self.rng);
            }
            if let Layout::Circle { center_m, radius_m } = self.layout {
                let dx = player.predicted_m[0] - center_m[0];
                let dy = player.predicted_m[1] - center_m[1];
                let distance = (dx * dx + dy * dy).sqrt();
                if distance > radius_m {
                    player.direction = [-dx / distance, -dy / distance];
                }
            }
            let (to, blocked) = step(player.predicted_m, player.direction, &rules);
            if blocked {
                player.direction = [-player.direction[0], -player.direction[1]];
            }
            player.predicted_m = to;
            self.inputs.push(ZoneInput::Input {
                client: player.id,
                input: PlayerInput {
                    client_tick: player.client_tick,
                    movement: Some(MoveIntent {
                        direction: player.direction,
                        yaw: 0.0,
                        claimed_position_m: Some(to),
                    }),
                    action: None,
                },
                received_us: self.now_us,
            });
            player.client_tick += 1;
            if let Some(tick) = player.ack.take() {
                self.inputs.push(ZoneInput::SnapshotAck {
                    client: player.id,
                    tick,
                });
            }
        }
    }

    /// The server side of one tick: what a benchmark times. Load shedding stays off.
    pub fn tick(&mut self) -> TickSent {
        self.tick_with_feedback(None)
    }

    /// Like `tick`, passing the caller's measurement of the previous tick's work so the zone's load
    /// shedding can react (the zone reads no clock; the caller does).
    pub fn tick_with_feedback(&mut self, last_tick_work_us: Option<u64>) -> TickSent {
        self.now_us += self.zone.config().tick_interval_us();
        self.zone
            .tick(self.now_us, last_tick_work_us, self.inputs.drain(..), &mut self.out);
        TickSent {
            snapshots: self.out.snapshots.len(),
            bytes: self.out.snapshots.iter().map(|s| s.bytes.len()).sum(),
        }
    }

    /// Perfect network: every client receives its snapshot and will ack it with its next input.
    pub fn deliver(&mut self) {
        for snapshot in &self.out.snapshots {
            // Client ids are 1 + the player's index (see `new`).
            let player = &mut self.players[snapshot.client.0 as usize - 1];
            debug_assert_eq!(player.id, snapshot.client);
            player.ack = Some(snapshot.tick);
        }
    }

    pub fn players(&self) -> usize {
        self.players.len()
    }

    /// FNV-1a over the last tick's snapshots (client, tick, bytes) folded into `digest`: two builds
    /// that send the same bytes give the same digest, so an encoder change can be checked end to end.
    pub fn fold_snapshot_digest(&self, mut digest: u64) -> u64 {
        let mut eat = |bytes: &[u8]| {
            for &byte in bytes {
                digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for snapshot in &self.out.snapshots {
            eat(&snapshot.client.0.to_le_bytes());
            eat(&snapshot.tick.to_le_bytes());
            eat(&snapshot.bytes);
        }
        digest
    }
}

fn random_unit(rng: &mut ChaCha8Rng) -> f32 {
    rng.next_u32() as f32 / u32::MAX as f32
}

fn random_direction(rng: &mut ChaCha8Rng) -> [f32; 2] {
    let angle = random_unit(rng) * std::f32::consts::TAU;
    [angle.cos(), angle.sin()]
}

fn random_spawn(rng: &mut ChaCha8Rng, layout: Layout) -> [f32; 3] {
    match layout {
        Layout::Uniform { side_m } => [random_unit(rng) * side_m, random_unit(rng) * side_m, 0.0],
        Layout::Circle { center_m, radius_m } => {
            let angle = random_unit(rng) * std::f32::consts::TAU;
            let reach = random_unit(rng).sqrt() * radius_m;
            [
                center_m[0] + angle.cos() * reach,
                center_m[1] + angle.sin() * reach,
                0.0,
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest of every snapshot byte a seeded load sends over `ticks`.
    fn snapshot_digest(players: usize, layout: Layout, ticks: usize) -> u64 {
        let mut load = TickLoad::new(players, layout, 0x5eed);
        let mut digest = 0xcbf2_9ce4_8422_2325u64;
        for _ in 0..ticks {
            load.prepare();
            load.tick();
            digest = load.fold_snapshot_digest(digest);
            load.deliver();
        }
        digest
    }

    /// Pins the bytes the zone sends: the encoder was rewritten for speed with the promise of the
    /// same bytes (checked then against the old encoder with these digests), and this keeps that
    /// promise checked. A spread crowd takes the whole-view path, a 300-player crowd in a 50 m circle
    /// (views of 300 > 128) the ranked one. An intended change of the wire or the encoder updates
    /// the constants and says so in PROTOCOL.md. The crowd's digest changed once on purpose: the
    /// default snapshot budget went from 1200 B (more than one snapshot message can carry; the node
    /// clamped it) to `SNAPSHOT_BUDGET_BYTES_MAX`, 1138 B, what the node always sent.
    #[test]
    fn snapshot_bytes_are_pinned() {
        let spread = snapshot_digest(400, Layout::Uniform { side_m: 1000.0 }, 20);
        let crowd = snapshot_digest(
            300,
            Layout::Circle {
                center_m: [512.0, 512.0],
                radius_m: 50.0,
            },
            20,
        );
        assert_eq!(
            format!("{spread:016x} {crowd:016x}"),
            "a612b0b8d3a0448f 12cb36ddbc8cdf35"
        );
    }

    #[test]
    fn every_player_gets_a_snapshot_every_tick_and_nobody_is_flagged() {
        let mut load = TickLoad::new(200, Layout::Uniform { side_m: 1000.0 }, 3);
        for _ in 0..10 {
            load.prepare();
            let sent = load.tick();
            load.deliver();
            assert_eq!(sent.snapshots, 200);
            assert!(sent.bytes > 0);
        }
        let counters = load.zone.counters();
        assert_eq!(counters.moves_rejected_teleport, 0);
        assert_eq!(counters.inputs_late + counters.inputs_duplicate, 0);
        assert!(counters.inputs_applied >= 200 * 8);
    }

    #[test]
    fn feedback_over_budget_engages_load_shedding_and_halves_snapshots() {
        let mut load = TickLoad::new(100, Layout::Uniform { side_m: 200.0 }, 5);
        let mut snapshots = Vec::new();
        for _ in 0..6 {
            load.prepare();
            snapshots.push(load.tick_with_feedback(Some(60_000)).snapshots);
            load.deliver();
        }
        assert_eq!(load.zone.shed_level(), crate::shedding::SHED_LEVEL_MAX);
        assert_eq!(snapshots[0], 100);
        assert_eq!(snapshots[5], 50, "{snapshots:?}");
    }

    #[test]
    fn world_boss_players_stay_in_the_circle() {
        let center_m = [512.0, 512.0];
        let mut load = TickLoad::new(
            100,
            Layout::Circle {
                center_m,
                radius_m: 50.0,
            },
            4,
        );
        for _ in 0..100 {
            load.prepare();
            load.tick();
            load.deliver();
        }
        for entity in load.zone.entity_ids() {
            let at = load.zone.position(entity).unwrap();
            let distance = ((at[0] - center_m[0]).powi(2) + (at[1] - center_m[1]).powi(2)).sqrt();
            assert!(distance < 52.0, "{at:?}");
        }
        assert!(
            load.zone.counters().aoi_overflow_entities == 0,
            "100 players fit in the visible cap"
        );
    }
}
