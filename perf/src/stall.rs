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

/// How long after a player crosses a zone border the pause is looked for: the handoff happens
/// once it is the margin (4 m) past the border, about 0.6 s later at walking speed.
pub const BORDER_WINDOW_US: u64 = 1_000_000;

/// The pause a player sees around a zone border: the longest gap between its snapshots within
/// [`BORDER_WINDOW_US`] after its own position (as the server last placed it) crossed the border.
/// The handoff (last snapshot from the old zone → first from the new) falls in that window, so this
/// bounds its pause from above; a client with no handoff in the window reports its ordinary gap.
#[derive(Clone, Debug)]
pub struct BorderPauses {
    border_x_m: f32,
    side_east: Option<bool>,
    applied: u64,
    last_snapshot_us: Option<u64>,
    /// An open window: when it ends and the longest gap in it so far.
    window: Option<(u64, u64)>,
}

impl BorderPauses {
    pub fn new(border_x_m: f32) -> Self {
        Self {
            border_x_m,
            side_east: None,
            applied: 0,
            last_snapshot_us: None,
            window: None,
        }
    }

    /// Notes the client at `now_us`: snapshots applied so far and its server position's x. Returns
    /// the pause of a window that closed (its longest gap, microseconds).
    pub fn observe(&mut self, now_us: u64, applied: u64, x_m: Option<f32>) -> Option<u64> {
        let mut closed = None;
        if let Some((end_us, gap_max_us)) = self.window
            && now_us > end_us
        {
            closed = Some(gap_max_us);
            self.window = None;
        }
        if applied <= self.applied {
            return closed;
        }
        self.applied = applied;
        if let (Some(last_us), Some((_, gap_max_us))) = (self.last_snapshot_us, self.window.as_mut()) {
            *gap_max_us = (*gap_max_us).max(now_us.saturating_sub(last_us));
        }
        self.last_snapshot_us = Some(now_us);
        let Some(x_m) = x_m else { return closed };
        let east = x_m >= self.border_x_m;
        if self.side_east.is_some_and(|was_east| was_east != east) && self.window.is_none() {
            self.window = Some((now_us + BORDER_WINDOW_US, 0));
        }
        self.side_east = Some(east);
        closed
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

    #[test]
    fn the_longest_gap_in_the_second_after_a_crossing_is_the_border_pause() {
        let mut pauses = BorderPauses::new(512.0);
        // West of the border, a snapshot every 50 ms.
        assert_eq!(pauses.observe(0, 1, Some(500.0)), None);
        assert_eq!(pauses.observe(50_000, 2, Some(511.0)), None);
        // Crossing: the window opens; gaps of 50, 120 (the handoff) and 50 ms follow.
        assert_eq!(pauses.observe(100_000, 3, Some(512.5)), None);
        assert_eq!(pauses.observe(150_000, 4, Some(513.0)), None);
        assert_eq!(pauses.observe(270_000, 5, Some(517.0)), None);
        assert_eq!(pauses.observe(320_000, 6, Some(518.0)), None);
        // Looks without a new snapshot change nothing; the window closes after one second.
        assert_eq!(pauses.observe(900_000, 6, None), None);
        assert_eq!(pauses.observe(1_100_001, 6, None), Some(120_000));
        // Walking on east: no new window.
        assert_eq!(pauses.observe(1_200_000, 7, Some(530.0)), None);
        assert_eq!(pauses.observe(2_300_000, 8, Some(531.0)), None);
    }
}
