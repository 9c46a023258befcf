//! Drift-free tick scheduling for zone workers.
//!
//! Tick `n` is due at `start + n × period`, computed from one monotonic start instant, never from
//! when the previous sleep ended; so a slow tick delays the next wake-up but never shifts the whole
//! schedule. A wake-up later than `late_after_us` past its deadline is counted as late; the tick
//! still runs (the zone itself catches up on missed fixed steps, bounded, and counts any it drops).
//! Pure: time is an argument, so tests step it deterministically.
#![forbid(unsafe_code)]

/// One due tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueTick {
    /// Index of the tick since the schedule started.
    pub index: u64,
    /// How long after its deadline the tick was picked up.
    pub lateness_us: u64,
    /// Whether the lateness exceeded the late threshold.
    pub late: bool,
}

/// The fixed-rate schedule of one worker.
#[derive(Debug, Clone)]
pub struct TickSchedule {
    start_us: u64,
    period_us: u64,
    late_after_us: u64,
    next_index: u64,
    late_ticks: u64,
    skipped_ticks: u64,
}

/// At most this many overdue deadlines are handed out back to back; beyond it the schedule jumps
/// forward and counts the deadlines it jumped over (`skipped_ticks`), so a stall cannot turn into
/// an endless burst of catch-up ticks.
pub const OVERDUE_TICKS_MAX: u64 = 4;

impl TickSchedule {
    /// `late_after_us` is the lateness from which a tick counts as late (e.g. half a period).
    pub fn new(start_us: u64, period_us: u64, late_after_us: u64) -> Self {
        assert!(period_us > 0, "tick period must be positive");
        Self {
            start_us,
            period_us,
            late_after_us,
            next_index: 0,
            late_ticks: 0,
            skipped_ticks: 0,
        }
    }

    /// A schedule on the cluster's tick origin: deadline `n` is `epoch_us + n × period`, and the first
    /// handed out is the first at or after `now_us`; so `DueTick::index` is the cluster-wide tick
    /// number, the same on every worker and node whose clock agrees.
    pub fn aligned(epoch_us: u64, now_us: u64, period_us: u64, late_after_us: u64) -> Self {
        let mut schedule = Self::new(epoch_us, period_us, late_after_us);
        schedule.next_index = now_us.saturating_sub(epoch_us).div_ceil(period_us);
        schedule
    }

    pub fn period_us(&self) -> u64 {
        self.period_us
    }

    /// When the next tick is due.
    pub fn next_deadline_us(&self) -> u64 {
        self.start_us + self.next_index * self.period_us
    }

    /// How long to wait from `now_us` until the next deadline (zero when it is due).
    pub fn wait_us(&self, now_us: u64) -> u64 {
        self.next_deadline_us().saturating_sub(now_us)
    }

    /// Hands out the next due tick at `now_us`, or `None` if none is due yet.
    pub fn poll(&mut self, now_us: u64) -> Option<DueTick> {
        let deadline = self.next_deadline_us();
        if now_us < deadline {
            return None;
        }
        let overdue = (now_us - deadline) / self.period_us;
        if overdue > OVERDUE_TICKS_MAX {
            let skip = overdue - OVERDUE_TICKS_MAX;
            self.skipped_ticks += skip;
            self.next_index += skip;
        }
        let deadline = self.next_deadline_us();
        let lateness_us = now_us - deadline;
        let late = lateness_us > self.late_after_us;
        if late {
            self.late_ticks += 1;
        }
        let index = self.next_index;
        self.next_index += 1;
        Some(DueTick {
            index,
            lateness_us,
            late,
        })
    }

    pub fn late_ticks(&self) -> u64 {
        self.late_ticks
    }

    pub fn skipped_ticks(&self) -> u64 {
        self.skipped_ticks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_from_the_start_not_from_the_last_wake_up() {
        let mut schedule = TickSchedule::new(1_000, 50_000, 25_000);
        // Every wake-up is 3 ms late; a sleep-based loop would drift by 3 ms per tick.
        for n in 0..100u64 {
            let deadline = 1_000 + n * 50_000;
            assert_eq!(schedule.next_deadline_us(), deadline);
            assert_eq!(schedule.poll(deadline - 1), None, "not due before its deadline");
            let due = schedule.poll(deadline + 3_000).unwrap();
            assert_eq!(
                due,
                DueTick {
                    index: n,
                    lateness_us: 3_000,
                    late: false
                }
            );
        }
        assert_eq!(schedule.next_deadline_us(), 1_000 + 100 * 50_000);
        assert_eq!(schedule.late_ticks(), 0);
    }

    #[test]
    fn a_slow_tick_is_counted_late_and_the_schedule_recovers() {
        let mut schedule = TickSchedule::new(0, 50_000, 25_000);
        assert_eq!(schedule.poll(0).unwrap().index, 0);
        // Tick 0's work took 120 ms: ticks 1 and 2 are overdue, both run, both late.
        let t1 = schedule.poll(120_000).unwrap();
        assert_eq!((t1.index, t1.lateness_us, t1.late), (1, 70_000, true));
        let t2 = schedule.poll(120_000).unwrap();
        assert_eq!((t2.index, t2.lateness_us, t2.late), (2, 20_000, false));
        assert_eq!(schedule.poll(120_000), None);
        assert_eq!(schedule.wait_us(120_000), 30_000);
        assert_eq!(schedule.late_ticks(), 1);
        assert_eq!(schedule.skipped_ticks(), 0);
    }

    #[test]
    fn aligned_schedules_started_apart_agree_on_tick_numbers() {
        let epoch = 1_000_000;
        let mut early = TickSchedule::aligned(epoch, epoch + 7_000, 50_000, 25_000);
        let mut late = TickSchedule::aligned(epoch, epoch + 3_210_000, 50_000, 25_000);
        assert_eq!(early.next_deadline_us(), epoch + 50_000);
        assert_eq!(late.next_deadline_us(), epoch + 65 * 50_000);
        while early.next_deadline_us() < late.next_deadline_us() {
            early.poll(early.next_deadline_us()).unwrap();
        }
        let now = late.next_deadline_us();
        assert_eq!(early.poll(now).unwrap().index, 65);
        assert_eq!(late.poll(now).unwrap().index, 65);
        // On a deadline exactly: that tick is handed out, not skipped.
        assert_eq!(
            TickSchedule::aligned(epoch, epoch + 100_000, 50_000, 25_000).next_deadline_us(),
            epoch + 100_000
        );
        // Before the epoch: tick 0 is the epoch itself.
        assert_eq!(
            TickSchedule::aligned(epoch, 0, 50_000, 25_000).next_deadline_us(),
            epoch
        );
    }

    #[test]
    fn a_long_stall_skips_visibly_instead_of_bursting() {
        let mut schedule = TickSchedule::new(0, 50_000, 25_000);
        schedule.poll(0).unwrap();
        // A 1 s stall: 20 deadlines passed; only OVERDUE_TICKS_MAX + 1 are handed out.
        let mut handed_out = 0;
        while schedule.poll(1_000_000).is_some() {
            handed_out += 1;
        }
        assert_eq!(handed_out, OVERDUE_TICKS_MAX + 1);
        // Deadlines 1..=20 passed: each was either handed out or counted as skipped.
        assert_eq!(schedule.skipped_ticks() + handed_out, 20);
        assert_eq!(schedule.next_deadline_us(), 1_050_000);
    }
}
