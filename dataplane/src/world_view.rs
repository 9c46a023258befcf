//! The node's live world view for operators: `GET /world` on the metrics listener.
//!
//! Each worker builds a bounded snapshot of its zones every [`WORLD_PUBLISH_INTERVAL_US`] — zone
//! rectangles, CCU, tick p99, NPC and loot counts, handoffs, and at most [`DOTS_PER_ZONE_MAX`]
//! player positions per zone — between ticks, from its own session host, and swaps it into its
//! [`WorldSlot`] with a `try_lock`: a worker never waits for an HTTP reader (a contended swap is
//! skipped and counted; the next one comes half a second later). The HTTP handler only clones the
//! last published `Arc` of each worker and serialises them ([`NodeWorld::view`]).
//!
//! Dots are downsampled by *bottom-k hashing*: the players whose hashed character id is smallest
//! are drawn. The choice is uniform over the population (the hash does not follow position or join
//! order) and stable from one snapshot to the next (a drawn player stays drawn unless a player with
//! a smaller hash joins), so the map's dots move rather than blink when a zone holds thousands.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use meridian_host::SessionHost;
use meridian_zone::{WorldLayout, ZoneConfig};
use serde::Serialize;

use crate::worker::WorkerGauges;

/// How often a worker publishes its world snapshot (the page polls about as often).
pub const WORLD_PUBLISH_INTERVAL_US: u64 = 500_000;
/// Player dots one zone's snapshot carries at most (the CCU is exact; only the dots are sampled).
pub const DOTS_PER_ZONE_MAX: usize = 500;
/// Tick work durations kept per zone for the p99: 10 s at the default 20 Hz.
pub const TICK_SAMPLES_MAX: usize = 200;

/// A zone's rectangle on the world's ground plane (x, y), metres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RectView {
    pub min_m: [f32; 2],
    pub max_m: [f32; 2],
}

/// One player drawn on the map.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Dot {
    pub character_id: u64,
    pub x_m: f32,
    pub y_m: f32,
}

/// One zone as a worker last saw it.
#[derive(Clone, Debug, Serialize)]
pub struct ZoneView {
    pub zone_id: u32,
    pub worker: usize,
    /// Where the zone lies in the seamless world (without a world layout: the zone's own world).
    pub rect: RectView,
    /// Players in the zone (every layer).
    pub players: u32,
    pub layers: u32,
    /// 99th percentile of the zone's tick work over its last [`TICK_SAMPLES_MAX`] ticks.
    pub tick_p99_us: u64,
    pub tick_samples: u32,
    pub npcs: u32,
    pub loot: u32,
    /// Players who arrived from / left for another zone since the worker started (seen between
    /// two snapshots; cumulative, so a reader flashes on the growth).
    pub handoffs_in: u64,
    pub handoffs_out: u64,
    /// How far a player sees: the AOI reaches this many metres around it.
    pub aoi_radius_m: f32,
    /// At most [`DOTS_PER_ZONE_MAX`] players (bottom-k by hashed character id).
    pub dots: Vec<Dot>,
}

/// The session host's handoff counters of one worker (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HandoffCounts {
    pub done: u64,
    pub aborted: u64,
    pub deferred: u64,
    pub resync: u64,
    pub elsewhere: u64,
}

/// One worker's published snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerView {
    pub worker: usize,
    /// Wall-clock time of the snapshot (ms since the Unix epoch).
    pub published_at_ms: u64,
    pub sessions: u64,
    pub handoffs: HandoffCounts,
    pub zones: Vec<ZoneView>,
}

/// Where a worker leaves its last snapshot for the HTTP handler.
#[derive(Debug, Default)]
pub struct WorldSlot {
    last: Mutex<Option<Arc<WorkerView>>>,
    /// Publishes skipped because a reader held the slot at that instant.
    pub skipped: std::sync::atomic::AtomicU64,
}

impl WorldSlot {
    /// Swaps `view` in unless a reader holds the slot right now (never waits; counted).
    pub fn publish(&self, view: WorkerView) {
        match self.last.try_lock() {
            Ok(mut last) => *last = Some(Arc::new(view)),
            Err(_) => {
                self.skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    pub fn last(&self) -> Option<Arc<WorkerView>> {
        self.last.lock().ok()?.clone()
    }
}

/// The tick work durations of one zone, a ring of the last [`TICK_SAMPLES_MAX`].
#[derive(Debug, Default)]
struct TickRing {
    samples_us: Vec<u64>,
    next: usize,
}

impl TickRing {
    fn push(&mut self, work_us: u64) {
        if self.samples_us.len() < TICK_SAMPLES_MAX {
            self.samples_us.push(work_us);
        } else {
            self.samples_us[self.next] = work_us;
        }
        self.next = (self.next + 1) % TICK_SAMPLES_MAX;
    }

    fn p99_us(&self) -> u64 {
        percentile(&self.samples_us, 0.99)
    }
}

/// The `q` quantile (nearest rank) of `samples`; 0 when empty.
fn percentile(samples: &[u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// SplitMix64's finaliser: spreads consecutive character ids over the whole range.
fn spread(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// At most `max` of `dots`: the ones with the smallest hashed character id, in id order.
pub fn sample_dots(mut dots: Vec<Dot>, max: usize) -> Vec<Dot> {
    if dots.len() > max {
        if max == 0 {
            return Vec::new();
        }
        dots.select_nth_unstable_by_key(max - 1, |dot| spread(dot.character_id));
        dots.truncate(max);
    }
    dots.sort_unstable_by_key(|dot| dot.character_id);
    dots
}

/// What a worker's host holds for one zone, read between ticks.
#[derive(Clone, Debug, Default)]
pub struct ZoneReading {
    pub zone_id: u32,
    pub layers: u32,
    pub npcs: u32,
    pub loot: u32,
    pub aoi_radius_m: f32,
    pub world_size_m: [f32; 2],
    /// Every player: (character id, position).
    pub players: Vec<(u64, [f32; 3])>,
}

/// Builds a worker's snapshots (owned by the worker; not shared).
pub struct WorldPublisher {
    worker: usize,
    layout: Option<WorldLayout>,
    next_publish_us: u64,
    ticks: HashMap<u32, TickRing>,
    /// The zone each character was in at the last snapshot (players of this worker only).
    zone_of: HashMap<u64, u32>,
    /// Per zone: (arrived, left).
    handoffs: BTreeMap<u32, (u64, u64)>,
}

impl WorldPublisher {
    pub fn new(worker: usize, layout: Option<WorldLayout>) -> Self {
        WorldPublisher {
            worker,
            layout,
            next_publish_us: 0,
            ticks: HashMap::new(),
            zone_of: HashMap::new(),
            handoffs: BTreeMap::new(),
        }
    }

    /// One zone tick's work time (from the host's tick report).
    pub fn record_tick(&mut self, zone_id: u32, work_us: u64) {
        self.ticks.entry(zone_id).or_default().push(work_us);
    }

    /// Publishes a snapshot into `gauges.world` when one is due (every
    /// [`WORLD_PUBLISH_INTERVAL_US`]). Call between ticks.
    pub fn maybe_publish(&mut self, now_us: u64, host: &SessionHost, gauges: &WorkerGauges) {
        if now_us < self.next_publish_us {
            return;
        }
        self.next_publish_us = now_us + WORLD_PUBLISH_INTERVAL_US;
        let started = std::time::Instant::now();
        let readings = read_host(host);
        let counters = host.counters();
        let handoffs = HandoffCounts {
            done: counters.handoffs,
            aborted: counters.handoffs_aborted,
            deferred: counters.handoffs_deferred,
            resync: counters.handoff_resyncs,
            elsewhere: counters.handoffs_elsewhere,
        };
        let view = self.compose(now_us / 1_000, host.session_count() as u64, handoffs, readings);
        let skipped_before = gauges.world.skipped.load(std::sync::atomic::Ordering::Relaxed);
        gauges.world.publish(view);
        // What the snapshot costs the worker between its ticks, and the publishes a reader's
        // lock made it skip: an operator can see both.
        let worker = self.worker.to_string();
        metrics::histogram!(crate::metrics::WORLD_PUBLISH, "worker" => worker.clone())
            .record(started.elapsed().as_secs_f64());
        if gauges.world.skipped.load(std::sync::atomic::Ordering::Relaxed) > skipped_before {
            metrics::counter!(crate::metrics::WORLD_PUBLISH_SKIPPED, "worker" => worker).increment(1);
        }
    }

    /// The snapshot of `readings` (pure: the worker's host is read by [`read_host`]).
    pub fn compose(
        &mut self,
        now_ms: u64,
        sessions: u64,
        handoffs: HandoffCounts,
        readings: Vec<ZoneReading>,
    ) -> WorkerView {
        let mut seen = HashMap::with_capacity(self.zone_of.len());
        for reading in &readings {
            for (character_id, _) in &reading.players {
                if let Some(&before) = self.zone_of.get(character_id)
                    && before != reading.zone_id
                {
                    self.handoffs.entry(before).or_default().1 += 1;
                    self.handoffs.entry(reading.zone_id).or_default().0 += 1;
                }
                seen.insert(*character_id, reading.zone_id);
            }
        }
        self.zone_of = seen;
        // Zones no longer served forget their tick samples.
        self.ticks
            .retain(|zone_id, _| readings.iter().any(|reading| reading.zone_id == *zone_id));
        let zones = readings
            .into_iter()
            .map(|reading| {
                let rect = self
                    .layout
                    .as_ref()
                    .and_then(|layout| layout.rect_of(reading.zone_id))
                    .map_or(
                        RectView {
                            min_m: [0.0, 0.0],
                            max_m: reading.world_size_m,
                        },
                        |rect| RectView {
                            min_m: rect.min_m,
                            max_m: rect.max_m,
                        },
                    );
                let ring = self.ticks.get(&reading.zone_id);
                let (handoffs_in, handoffs_out) = self.handoffs.get(&reading.zone_id).copied().unwrap_or_default();
                let dots = reading
                    .players
                    .iter()
                    .map(|(character_id, position_m)| Dot {
                        character_id: *character_id,
                        x_m: position_m[0],
                        y_m: position_m[1],
                    })
                    .collect();
                ZoneView {
                    zone_id: reading.zone_id,
                    worker: self.worker,
                    rect,
                    players: reading.players.len() as u32,
                    layers: reading.layers,
                    tick_p99_us: ring.map_or(0, TickRing::p99_us),
                    tick_samples: ring.map_or(0, |ring| ring.samples_us.len() as u32),
                    npcs: reading.npcs,
                    loot: reading.loot,
                    handoffs_in,
                    handoffs_out,
                    aoi_radius_m: reading.aoi_radius_m,
                    dots: sample_dots(dots, DOTS_PER_ZONE_MAX),
                }
            })
            .collect();
        WorkerView {
            worker: self.worker,
            published_at_ms: now_ms,
            sessions,
            handoffs,
            zones,
        }
    }
}

/// How far a player of a zone with `config` surely sees: its interest area is the square of cells
/// within `aoi_radius_cells` (Chebyshev) of its own cell, so everything within that many cell widths
/// of the player is in it wherever the player stands in its cell (corners reach further). That
/// circle is what the map draws around a selected player.
pub fn aoi_radius_m(config: &ZoneConfig) -> f32 {
    config.aoi_cell_m * config.aoi_radius_cells as f32
}

/// Everything the snapshot needs from the host, per zone (all layers).
pub fn read_host(host: &SessionHost) -> Vec<ZoneReading> {
    let mut readings: Vec<ZoneReading> = host
        .zones()
        .map(|(zone_id, layers)| {
            let mut reading = ZoneReading {
                zone_id,
                layers: layers.layers().len() as u32,
                ..ZoneReading::default()
            };
            for layer in layers.layers() {
                let state = layer.export_state();
                reading.npcs += state.npcs.len() as u32;
                reading.loot += state.loot.len() as u32;
                reading.aoi_radius_m = aoi_radius_m(layer.config());
                reading.world_size_m = layer.config().world_size_m;
            }
            reading
        })
        .collect();
    for (zone_id, _, player) in host.player_states() {
        if let Some(reading) = readings.iter_mut().find(|reading| reading.zone_id == zone_id) {
            reading.players.push((player.character_id, player.position_m));
        }
    }
    readings
}

/// The node's whole view, as `GET /world` answers it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeWorldView {
    /// The node's registry id (`None`: standalone).
    pub node_id: Option<String>,
    pub game_addr: String,
    /// The seamless world's size (`None`: every zone is a world of its own).
    pub world_size_m: Option<[f32; 2]>,
    pub dots_per_zone_max: usize,
    pub workers: Vec<Arc<WorkerView>>,
}

/// What the metrics listener reads to answer `GET /world`.
pub struct NodeWorld {
    node_id: Option<String>,
    game_addr: String,
    world_size_m: Option<[f32; 2]>,
    gauges: Vec<Arc<WorkerGauges>>,
}

impl NodeWorld {
    pub fn new(
        node_id: Option<String>,
        game_addr: String,
        world_size_m: Option<[f32; 2]>,
        gauges: Vec<Arc<WorkerGauges>>,
    ) -> Self {
        NodeWorld {
            node_id,
            game_addr,
            world_size_m,
            gauges,
        }
    }

    /// The workers' last snapshots (a worker that has not published yet is left out).
    pub fn view(&self) -> NodeWorldView {
        NodeWorldView {
            node_id: self.node_id.clone(),
            game_addr: self.game_addr.clone(),
            world_size_m: self.world_size_m,
            dots_per_zone_max: DOTS_PER_ZONE_MAX,
            workers: self.gauges.iter().filter_map(|gauges| gauges.world.last()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(character_id: u64) -> Dot {
        Dot {
            character_id,
            x_m: character_id as f32,
            y_m: 0.0,
        }
    }

    #[test]
    fn dots_are_bounded_and_the_sample_is_stable_as_players_come_and_go() {
        let all: Vec<Dot> = (1..=5_000).map(dot).collect();
        let first = sample_dots(all.clone(), DOTS_PER_ZONE_MAX);
        assert_eq!(first.len(), DOTS_PER_ZONE_MAX);
        let mut ids: Vec<u64> = first.iter().map(|d| d.character_id).collect();
        ids.dedup();
        assert_eq!(ids.len(), DOTS_PER_ZONE_MAX, "no player drawn twice");
        // Uniform over the population, not the first 500 ids.
        assert!(ids.iter().filter(|id| **id > 2_500).count() > 150, "{ids:?}");
        // A hundred players not drawn leave: every drawn player is still drawn.
        let drawn: std::collections::HashSet<u64> = ids.iter().copied().collect();
        let fewer: Vec<Dot> = all
            .iter()
            .copied()
            .filter(|d| drawn.contains(&d.character_id) || d.character_id % 7 != 0)
            .collect();
        assert!(fewer.len() < all.len());
        let second = sample_dots(fewer, DOTS_PER_ZONE_MAX);
        assert_eq!(second, first);
        // Few players: all of them.
        assert_eq!(sample_dots((1..=20).map(dot).collect(), DOTS_PER_ZONE_MAX).len(), 20);
    }

    #[test]
    fn tick_p99_covers_the_last_samples_only() {
        let mut ring = TickRing::default();
        for _ in 0..TICK_SAMPLES_MAX {
            ring.push(50_000);
        }
        assert_eq!(ring.p99_us(), 50_000);
        for i in 0..TICK_SAMPLES_MAX as u64 {
            ring.push(1_000 + i);
        }
        // The slow ticks have rotated out; p99 of 1000..1199 by nearest rank is the 198th.
        assert_eq!(ring.p99_us(), 1_000 + 197);
        assert_eq!(percentile(&[], 0.99), 0);
    }

    fn reading(zone_id: u32, players: &[u64]) -> ZoneReading {
        ZoneReading {
            zone_id,
            layers: 1,
            world_size_m: [1024.0, 512.0],
            players: players.iter().map(|id| (*id, [1.0, 2.0, 0.0])).collect(),
            ..ZoneReading::default()
        }
    }

    #[test]
    fn a_player_seen_in_another_zone_counts_as_a_handoff_both_ways() {
        let layout = WorldLayout::new([0.0, 0.0], [512.0, 512.0], 2, 1, vec![1, 2], 4.0).unwrap();
        let mut publisher = WorldPublisher::new(0, Some(layout));
        publisher.record_tick(1, 3_000);
        let view = publisher.compose(
            1,
            3,
            HandoffCounts::default(),
            vec![reading(1, &[10, 11]), reading(2, &[12])],
        );
        assert_eq!(view.zones[0].handoffs_in + view.zones[0].handoffs_out, 0);
        assert_eq!(view.zones[0].tick_p99_us, 3_000);
        assert_eq!(
            view.zones[1].rect,
            RectView {
                min_m: [512.0, 0.0],
                max_m: [1024.0, 512.0]
            }
        );
        // 11 crossed from zone 1 into zone 2; 10 left the worker (not a handoff).
        let view = publisher.compose(
            2,
            2,
            HandoffCounts::default(),
            vec![reading(1, &[]), reading(2, &[11, 12])],
        );
        assert_eq!((view.zones[0].handoffs_in, view.zones[0].handoffs_out), (0, 1));
        assert_eq!((view.zones[1].handoffs_in, view.zones[1].handoffs_out), (1, 0));
        assert_eq!(view.zones[1].players, 2);
        assert_eq!(view.zones[1].dots.len(), 2);
        // Without a layout a zone spans its own world.
        let mut alone = WorldPublisher::new(1, None);
        let view = alone.compose(3, 0, HandoffCounts::default(), vec![reading(7, &[])]);
        assert_eq!(view.zones[0].rect.max_m, [1024.0, 512.0]);
        assert_eq!(view.zones[0].worker, 1);
    }

    #[test]
    fn a_busy_slot_skips_the_publish_instead_of_waiting() {
        let slot = WorldSlot::default();
        let view = WorkerView {
            worker: 0,
            published_at_ms: 1,
            sessions: 0,
            handoffs: HandoffCounts::default(),
            zones: Vec::new(),
        };
        slot.publish(view.clone());
        assert_eq!(slot.last().map(|v| v.published_at_ms), Some(1));
        let held = slot.last.lock().unwrap();
        slot.publish(WorkerView {
            published_at_ms: 2,
            ..view
        });
        drop(held);
        assert_eq!(slot.skipped.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(slot.last().map(|v| v.published_at_ms), Some(1));
    }
}
