//! Stalls as a player sees them: a connected client that goes `STALL_US` without a new snapshot
//! sees a frozen world. The bot swarm keeps one [`SnapshotGaps`] per bot.

/// A gap between snapshots longer than this is a stall (five ticks at 20 Hz).
pub const STALL_US: u64 = 250_000;

/// The gaps between one client's snapshots, from the moment it connected.
#[derive(Clone, Debug, Default)]
pub struct SnapshotGaps {
    /// When the current gap began (the last snapshot, or the connection); `None` before connecting.
    since_us: Option<u64>,
    /// Snapshots applied when last looked.
    applied: u64,
    /// The current gap has already been counted as a stall.
    stalled_now: bool,
    stalls: u64,
    gap_max_us: u64,
}

impl SnapshotGaps {
    /// Notes the client's progress at `now_us`, given how many snapshots it has applied so far.
    /// Call it whenever its datagrams are handled and on every tick once it has connected (also
    /// after its session died: a dead session is a frozen world); the first call starts the clock.
    /// A gap counts as one stall as soon as a look finds it past `STALL_US`, or when the snapshot
    /// ending it arrives if no look saw it before. `closing` (the end of a run) folds the gap still
    /// open into the longest gap.
    pub fn observe(&mut self, now_us: u64, applied: u64, closing: bool) {
        let Some(since_us) = self.since_us else {
            self.since_us = Some(now_us);
            self.applied = applied;
            return;
        };
        let gap = now_us.saturating_sub(since_us);
        let stalled = gap > STALL_US && !self.stalled_now;
        self.stalls += u64::from(stalled);
        if applied > self.applied {
            self.gap_max_us = self.gap_max_us.max(gap);
            self.applied = applied;
            self.since_us = Some(now_us);
            self.stalled_now = false;
            return;
        }
        self.stalled_now |= stalled;
        if closing {
            self.gap_max_us = self.gap_max_us.max(gap);
        }
    }

    /// Stalls so far (each gap counted once).
    pub fn stalls(&self) -> u64 {
        self.stalls
    }

    /// The longest gap between snapshots seen so far, microseconds.
    pub fn gap_max_us(&self) -> u64 {
        self.gap_max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK_US: u64 = 50_000;

    #[test]
    fn steady_snapshots_are_no_stall() {
        let mut gaps = SnapshotGaps::default();
        for tick in 0..100 {
            gaps.observe(tick * TICK_US, tick, false);
        }
        assert_eq!(gaps.stalls(), 0);
        assert_eq!(gaps.gap_max_us(), TICK_US);
    }

    #[test]
    fn a_long_gap_counts_once_while_it_lasts() {
        let mut gaps = SnapshotGaps::default();
        gaps.observe(0, 0, false);
        gaps.observe(TICK_US, 1, false);
        // Looks every tick find the gap growing past the limit: one stall, counted before it ends.
        for tick in 2..20 {
            gaps.observe(tick * TICK_US, 1, false);
        }
        assert_eq!(gaps.stalls(), 1, "counted while it lasts");
        gaps.observe(20 * TICK_US, 2, false);
        assert_eq!(gaps.stalls(), 1, "and not again when it ends");
        assert_eq!(gaps.gap_max_us(), 19 * TICK_US);
    }

    #[test]
    fn a_gap_no_look_saw_counts_when_its_snapshot_arrives() {
        let mut gaps = SnapshotGaps::default();
        gaps.observe(0, 0, false);
        gaps.observe(TICK_US, 1, false);
        // The client's loop was blocked: the next look is the snapshot ending a 327 ms gap.
        gaps.observe(TICK_US + 327_000, 2, false);
        assert_eq!(gaps.stalls(), 1);
        assert_eq!(gaps.gap_max_us(), 327_000);
    }

    #[test]
    fn a_client_that_never_gets_a_snapshot_stalls() {
        let mut gaps = SnapshotGaps::default();
        gaps.observe(0, 0, false); // connected
        gaps.observe(300_000, 0, false);
        assert_eq!(gaps.stalls(), 1);
        gaps.observe(2_000_000, 0, true);
        assert_eq!(gaps.stalls(), 1);
        assert_eq!(gaps.gap_max_us(), 2_000_000, "the open gap counts at the end");
    }
}
