//! Interpolation of remote entities: they are drawn a fixed delay in the past (render time = server
//! time − `delay_us`), between the two buffered snapshots around that time, so a lost or late
//! snapshot does not make them jump.
//!
//! Snapshots carry the zone's tick, not a time. The zone steps at a fixed interval from an origin the
//! client does not know, so the client estimates it: each snapshot's arrival, converted to server
//! time with clock sync, minus its tick times the interval, is an upper bound on the origin (network
//! delay only ever makes it later); the smallest bound seen is the estimate, as in NTP's choice of the
//! fastest round trip.

use std::collections::{BTreeMap, VecDeque};

use meridian_proto::snapshot::EntityState;

/// Snapshots buffered for interpolation (1.6 s at 20 Hz, well beyond any sane delay).
pub const INTERPOLATION_SNAPSHOTS_MAX: usize = 32;

/// One buffered snapshot: its entities sorted by id. A flat vector rather than a map clone, so
/// buffering a snapshot is one copy into storage recycled from the snapshot it evicts (a bot swarm
/// buffers tens of thousands of snapshots a second; map clones were a tenth of its CPU).
#[derive(Clone, Debug)]
struct Buffered {
    tick: u32,
    world: Vec<EntityState>,
}

impl Buffered {
    fn get(&self, id: u32) -> Option<&EntityState> {
        self.world
            .binary_search_by_key(&id, |state| state.id)
            .ok()
            .map(|index| &self.world[index])
    }
}

/// Counters on how rendering went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterpolationStats {
    /// Renders whose time was past the newest snapshot (held at the newest instead).
    pub starved: u64,
    /// Renders whose time was before the oldest buffered snapshot.
    pub too_old: u64,
    pub interpolated: u64,
    /// Snapshots older than the newest buffered one (kept out of the buffer).
    pub out_of_order: u64,
}

#[derive(Clone, Debug)]
pub struct Interpolator {
    tick_interval_us: u64,
    delay_us: u64,
    buffer: VecDeque<Buffered>,
    /// Estimated server time of tick 0, microseconds (may be negative for a young clock).
    origin_us: Option<i64>,
    stats: InterpolationStats,
}

impl Interpolator {
    pub fn new(tick_interval_us: u64, delay_us: u64) -> Self {
        assert!(tick_interval_us > 0);
        Self {
            tick_interval_us,
            delay_us,
            buffer: VecDeque::with_capacity(INTERPOLATION_SNAPSHOTS_MAX),
            origin_us: None,
            stats: InterpolationStats::default(),
        }
    }

    pub fn stats(&self) -> InterpolationStats {
        self.stats
    }

    pub fn delay_us(&self) -> u64 {
        self.delay_us
    }

    /// Buffers the world of snapshot `tick`, which arrived at server time `arrival_server_us`.
    pub fn push(&mut self, tick: u32, world: &BTreeMap<u32, EntityState>, arrival_server_us: u64) {
        let bound = arrival_server_us as i64 - i64::from(tick) * self.tick_interval_us as i64;
        self.origin_us = Some(self.origin_us.map_or(bound, |origin| origin.min(bound)));
        if self.buffer.back().is_some_and(|newest| newest.tick >= tick) {
            self.stats.out_of_order += 1;
            return;
        }
        let mut storage = match self.buffer.len() {
            INTERPOLATION_SNAPSHOTS_MAX => self.buffer.pop_front().map(|evicted| evicted.world).unwrap_or_default(),
            _ => Vec::with_capacity(world.len()),
        };
        storage.clear();
        // The map iterates in id order, which `Buffered::get` relies on.
        storage.extend(world.values().copied());
        debug_assert!(storage.windows(2).all(|pair| pair[0].id < pair[1].id));
        self.buffer.push_back(Buffered { tick, world: storage });
    }

    /// The render time in (fractional) ticks for server time `server_now_us`.
    pub fn render_tick(&self, server_now_us: u64) -> Option<f64> {
        let origin = self.origin_us?;
        let at = server_now_us as i64 - self.delay_us as i64 - origin;
        Some(at as f64 / self.tick_interval_us as f64)
    }

    /// The two snapshots around `render_tick` and the fraction between them.
    fn bracket(&mut self, render_tick: f64) -> Option<(&Buffered, &Buffered, f32)> {
        let newest = self.buffer.back()?;
        if render_tick >= f64::from(newest.tick) {
            if render_tick > f64::from(newest.tick) {
                self.stats.starved += 1;
            }
            let newest = self.buffer.back()?;
            return Some((newest, newest, 0.0));
        }
        let after = self
            .buffer
            .iter()
            .position(|snapshot| f64::from(snapshot.tick) > render_tick)?;
        if after == 0 {
            self.stats.too_old += 1;
            let oldest = self.buffer.front()?;
            return Some((oldest, oldest, 0.0));
        }
        self.stats.interpolated += 1;
        let (a, b) = (&self.buffer[after - 1], &self.buffer[after]);
        let fraction = ((render_tick - f64::from(a.tick)) / f64::from(b.tick - a.tick)) as f32;
        Some((a, b, fraction))
    }

    /// Where `entity` is drawn at server time `server_now_us`.
    pub fn position(&mut self, entity: u32, server_now_us: u64) -> Option<[f32; 3]> {
        let render_tick = self.render_tick(server_now_us)?;
        let (a, b, fraction) = self.bracket(render_tick)?;
        let from = a.get(entity)?;
        let to = b.get(entity)?;
        Some(lerp3(from.position, to.position, fraction))
    }

    /// Every entity present in both snapshots around the render time, interpolated, except `skip`
    /// (the local player, which prediction draws).
    pub fn sample(&mut self, server_now_us: u64, skip: Option<u32>, out: &mut Vec<EntityState>) {
        out.clear();
        let Some(render_tick) = self.render_tick(server_now_us) else {
            return;
        };
        let Some((a, b, fraction)) = self.bracket(render_tick) else {
            return;
        };
        for to in &b.world {
            if Some(to.id) == skip {
                continue;
            }
            let Some(from) = a.get(to.id) else { continue };
            out.push(EntityState {
                position: lerp3(from.position, to.position, fraction),
                yaw: lerp_angle(from.yaw, to.yaw, fraction),
                velocity: lerp3(from.velocity, to.velocity, fraction),
                ..*to
            });
        }
    }
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Interpolates along the shorter way round.
fn lerp_angle(a: f32, b: f32, t: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let mut delta = (b - a) % tau;
    if delta > tau / 2.0 {
        delta -= tau;
    } else if delta < -tau / 2.0 {
        delta += tau;
    }
    a + delta * t
}

#[cfg(test)]
mod tests {
    use meridian_proto::snapshot::EntityKind;

    use super::*;

    fn world(entries: &[(u32, [f32; 3])]) -> BTreeMap<u32, EntityState> {
        entries
            .iter()
            .map(|(id, position)| {
                (
                    *id,
                    EntityState {
                        id: *id,
                        kind: EntityKind::Player,
                        position: *position,
                        yaw: 0.0,
                        velocity: [0.0; 3],
                        health: 100,
                        flags: 0,
                    },
                )
            })
            .collect()
    }

    const INTERVAL_US: u64 = 50_000;
    const DELAY_US: u64 = 100_000;
    /// Server time of tick 0.
    const ORIGIN_US: u64 = 1_000_000_000;

    #[test]
    fn interpolates_at_the_right_fraction() {
        let mut interpolator = Interpolator::new(INTERVAL_US, DELAY_US);
        // Snapshots 10 and 11 arrive 20 ms after they were made.
        interpolator.push(
            10,
            &world(&[(7, [0.0, 0.0, 0.0])]),
            ORIGIN_US + 10 * INTERVAL_US + 20_000,
        );
        interpolator.push(
            11,
            &world(&[(7, [10.0, 4.0, 0.0])]),
            ORIGIN_US + 11 * INTERVAL_US + 20_000,
        );
        // The origin estimate is off by the one-way delay (20 ms) of the fastest arrival.
        // Render time = now − 100 ms; pick now so that render time is tick 10 + 30% (after the 20 ms).
        let now = ORIGIN_US + 20_000 + 10 * INTERVAL_US + DELAY_US + 15_000;
        let position = interpolator.position(7, now).unwrap();
        assert!((position[0] - 3.0).abs() < 1e-4, "{position:?}");
        assert!((position[1] - 1.2).abs() < 1e-4, "{position:?}");
        let mut sampled = Vec::new();
        interpolator.sample(now, None, &mut sampled);
        assert_eq!(sampled.len(), 1);
        assert_eq!(sampled[0].position, position);
        interpolator.sample(now, Some(7), &mut sampled);
        assert!(sampled.is_empty(), "the local player is skipped");
        assert_eq!(interpolator.stats().interpolated, 3);
    }

    #[test]
    fn a_faster_arrival_tightens_the_origin_and_late_snapshots_are_not_buffered() {
        let mut interpolator = Interpolator::new(INTERVAL_US, DELAY_US);
        interpolator.push(20, &world(&[(1, [0.0; 3])]), ORIGIN_US + 20 * INTERVAL_US + 60_000);
        interpolator.push(
            21,
            &world(&[(1, [5.0, 0.0, 0.0])]),
            ORIGIN_US + 21 * INTERVAL_US + 5_000,
        );
        interpolator.push(
            19,
            &world(&[(1, [-5.0, 0.0, 0.0])]),
            ORIGIN_US + 21 * INTERVAL_US + 9_000,
        );
        assert_eq!(interpolator.stats().out_of_order, 1);
        // Render exactly halfway between 20 and 21 with the tightened (5 ms) origin.
        let now = ORIGIN_US + 5_000 + 20 * INTERVAL_US + INTERVAL_US / 2 + DELAY_US;
        let position = interpolator.position(1, now).unwrap();
        assert!((position[0] - 2.5).abs() < 1e-4, "{position:?}");
    }

    #[test]
    fn starved_and_too_old_renders_hold_the_edge_snapshots() {
        let mut interpolator = Interpolator::new(INTERVAL_US, DELAY_US);
        assert_eq!(interpolator.position(1, ORIGIN_US), None, "nothing buffered");
        interpolator.push(5, &world(&[(1, [1.0, 0.0, 0.0])]), ORIGIN_US + 5 * INTERVAL_US);
        interpolator.push(6, &world(&[(1, [2.0, 0.0, 0.0])]), ORIGIN_US + 6 * INTERVAL_US);
        let far_future = ORIGIN_US + 100 * INTERVAL_US;
        assert_eq!(interpolator.position(1, far_future), Some([2.0, 0.0, 0.0]));
        assert_eq!(interpolator.stats().starved, 1);
        assert_eq!(interpolator.position(1, ORIGIN_US + DELAY_US), Some([1.0, 0.0, 0.0]));
        assert_eq!(interpolator.stats().too_old, 1);
        // An entity missing from one side is not drawn between them.
        interpolator.push(7, &world(&[(2, [0.0; 3])]), ORIGIN_US + 7 * INTERVAL_US);
        assert_eq!(
            interpolator.position(2, ORIGIN_US + 6 * INTERVAL_US + INTERVAL_US / 2 + DELAY_US),
            None
        );
    }

    #[test]
    fn buffer_is_bounded_and_angles_take_the_short_way() {
        let mut interpolator = Interpolator::new(INTERVAL_US, DELAY_US);
        for tick in 0..(INTERPOLATION_SNAPSHOTS_MAX as u32 * 2) {
            interpolator.push(
                tick,
                &world(&[(1, [tick as f32, 0.0, 0.0])]),
                ORIGIN_US + u64::from(tick) * INTERVAL_US,
            );
        }
        assert_eq!(interpolator.buffer.len(), INTERPOLATION_SNAPSHOTS_MAX);
        let halfway = lerp_angle(3.0, -3.0, 0.5);
        assert!(
            (halfway.abs() - std::f32::consts::PI).abs() < 0.01,
            "went through pi, got {halfway}"
        );
    }
}
