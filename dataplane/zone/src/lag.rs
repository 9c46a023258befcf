//! Lag compensation: every entity that can be shot keeps a ring of its recent positions, one per
//! tick, so a hit-scan shot is checked against where the target was when the shooter saw it.

/// Positions kept per entity. At the fastest tick rate (60 Hz) this is 1.07 s; at 20 Hz, 3.2 s.
pub const HISTORY_TICKS: usize = 64;

/// A fixed ring of the last `HISTORY_TICKS` positions of one entity, indexed by server tick.
#[derive(Debug, Clone)]
pub struct LagCompensationHistory {
    positions_m: [[f32; 3]; HISTORY_TICKS],
    /// Server tick of the newest entry, `None` until the first `record`.
    newest_tick: Option<u64>,
    /// How many entries are valid (saturates at `HISTORY_TICKS`).
    len: usize,
}

impl LagCompensationHistory {
    /// The ring, the newest entry's tick and how many entries are valid (for a handoff ticket).
    pub fn parts(&self) -> (&[[f32; 3]; HISTORY_TICKS], Option<u64>, usize) {
        (&self.positions_m, self.newest_tick, self.len)
    }

    /// A history carrying on from `parts` (a `len` beyond the ring is clamped).
    pub fn from_parts(positions_m: [[f32; 3]; HISTORY_TICKS], newest_tick: Option<u64>, len: usize) -> Self {
        Self {
            positions_m,
            newest_tick,
            len: if newest_tick.is_some() {
                len.min(HISTORY_TICKS)
            } else {
                0
            },
        }
    }
}

impl Default for LagCompensationHistory {
    fn default() -> Self {
        Self {
            positions_m: [[0.0; 3]; HISTORY_TICKS],
            newest_tick: None,
            len: 0,
        }
    }
}

impl LagCompensationHistory {
    /// Records the position at server tick `tick`. Ticks must be recorded in increasing order; a gap
    /// (the entity did not exist, or the zone dropped steps) is filled with the new position.
    pub fn record(&mut self, tick: u64, position_m: [f32; 3]) {
        match self.newest_tick {
            Some(newest) => {
                debug_assert!(tick > newest, "history ticks must increase");
                let gap = (tick - newest).min(HISTORY_TICKS as u64);
                for step in 1..=gap {
                    let slot = ((newest + step) % HISTORY_TICKS as u64) as usize;
                    self.positions_m[slot] = position_m;
                }
                self.len = (self.len + gap as usize).min(HISTORY_TICKS);
            }
            None => {
                self.positions_m[(tick % HISTORY_TICKS as u64) as usize] = position_m;
                self.len = 1;
            }
        }
        self.newest_tick = Some(tick);
    }

    /// Position at a fractional server tick, interpolated between the two recorded ticks around it.
    /// Times older than the history clamp to the oldest entry; newer clamp to the newest.
    pub fn position_at(&self, tick: f64) -> Option<[f32; 3]> {
        let newest = self.newest_tick?;
        let oldest = newest + 1 - self.len as u64;
        let clamped = tick.clamp(oldest as f64, newest as f64);
        let before = clamped.floor() as u64;
        let after = (before + 1).min(newest);
        let t = (clamped - before as f64) as f32;
        let a = self.positions_m[(before % HISTORY_TICKS as u64) as usize];
        let b = self.positions_m[(after % HISTORY_TICKS as u64) as usize];
        Some([
            a[0] + (b[0] - a[0]) * t,
            a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t,
        ])
    }
}

/// The server time the shooter was looking at when they fired at `fire_time_us` (the server's
/// estimate, e.g. arrival time − RTT/2): `fire_time − RTT/2 − interpolation delay`, never older than
/// `now_us − rewind_max_us`. Returns the view time and whether the rewind limit clamped it.
pub fn shooter_view_time_us(
    fire_time_us: u64,
    rtt_us: u64,
    interpolation_delay_us: u64,
    now_us: u64,
    rewind_max_us: u64,
) -> (u64, bool) {
    let wanted = fire_time_us.saturating_sub(rtt_us / 2 + interpolation_delay_us);
    let oldest = now_us.saturating_sub(rewind_max_us);
    if wanted < oldest {
        (oldest, true)
    } else {
        (wanted.min(now_us), false)
    }
}

/// Does a ray from `origin` along `direction` (any length > 0) pass within `radius_m` of `center`
/// no further than `range_m` from the origin?
pub fn ray_hits_sphere(origin: [f32; 3], direction: [f32; 3], range_m: f32, center: [f32; 3], radius_m: f32) -> bool {
    let len = (direction[0] * direction[0] + direction[1] * direction[1] + direction[2] * direction[2]).sqrt();
    if !(len.is_finite() && len > 0.0) {
        return false;
    }
    let d = [direction[0] / len, direction[1] / len, direction[2] / len];
    let oc = [center[0] - origin[0], center[1] - origin[1], center[2] - origin[2]];
    let along = oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2];
    if along < -radius_m || along > range_m + radius_m {
        return false;
    }
    let along_clamped = along.clamp(0.0, range_m);
    let closest = [
        d[0] * along_clamped - oc[0],
        d[1] * along_clamped - oc[1],
        d[2] * along_clamped - oc[2],
    ];
    closest[0] * closest[0] + closest[1] * closest[1] + closest[2] * closest[2] <= radius_m * radius_m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_between_recorded_ticks() {
        let mut history = LagCompensationHistory::default();
        for tick in 10..20u64 {
            history.record(tick, [tick as f32, 0.0, 0.0]);
        }
        assert_eq!(history.position_at(12.0), Some([12.0, 0.0, 0.0]));
        assert_eq!(history.position_at(12.5), Some([12.5, 0.0, 0.0]));
        // Older than the history clamps to the oldest entry, newer to the newest.
        assert_eq!(history.position_at(3.0), Some([10.0, 0.0, 0.0]));
        assert_eq!(history.position_at(40.0), Some([19.0, 0.0, 0.0]));
    }

    #[test]
    fn ring_keeps_only_the_last_history_ticks() {
        let mut history = LagCompensationHistory::default();
        for tick in 0..(HISTORY_TICKS as u64 * 3) {
            history.record(tick, [tick as f32, 0.0, 0.0]);
        }
        let newest = HISTORY_TICKS as u64 * 3 - 1;
        let oldest = newest + 1 - HISTORY_TICKS as u64;
        assert_eq!(history.position_at(oldest as f64), Some([oldest as f32, 0.0, 0.0]));
        assert_eq!(history.position_at(0.0), Some([oldest as f32, 0.0, 0.0]));
    }

    #[test]
    fn gaps_are_filled_with_the_new_position() {
        let mut history = LagCompensationHistory::default();
        history.record(1, [1.0, 0.0, 0.0]);
        history.record(4, [4.0, 0.0, 0.0]);
        assert_eq!(history.position_at(2.0), Some([4.0, 0.0, 0.0]));
        assert_eq!(history.position_at(1.0), Some([1.0, 0.0, 0.0]));
    }

    #[test]
    fn empty_history_has_no_position() {
        assert_eq!(LagCompensationHistory::default().position_at(5.0), None);
    }

    #[test]
    fn view_time_is_half_rtt_plus_interpolation_bounded_by_rewind_limit() {
        assert_eq!(
            shooter_view_time_us(1_000_000, 150_000, 100_000, 1_000_000, 200_000),
            (825_000, false)
        );
        assert_eq!(
            shooter_view_time_us(1_000_000, 400_000, 100_000, 1_000_000, 200_000),
            (800_000, true)
        );
        // Fired a while before `now` (waited in the jitter buffer): the limit counts from now.
        assert_eq!(
            shooter_view_time_us(950_000, 150_000, 100_000, 1_000_000, 200_000),
            (800_000, true)
        );
    }

    #[test]
    fn ray_sphere() {
        let o = [0.0, 1.0, 0.0];
        assert!(ray_hits_sphere(o, [1.0, 0.0, 0.0], 50.0, [10.0, 1.0, 0.3], 0.5));
        assert!(!ray_hits_sphere(o, [1.0, 0.0, 0.0], 50.0, [10.0, 1.0, 0.8], 0.5));
        assert!(
            !ray_hits_sphere(o, [1.0, 0.0, 0.0], 5.0, [10.0, 1.0, 0.0], 0.5),
            "out of range"
        );
        assert!(
            !ray_hits_sphere(o, [-1.0, 0.0, 0.0], 50.0, [10.0, 1.0, 0.0], 0.5),
            "behind"
        );
        assert!(
            !ray_hits_sphere(o, [0.0, 0.0, 0.0], 50.0, [10.0, 1.0, 0.0], 0.5),
            "no direction"
        );
    }
}
