//! The edge's two pieces of arithmetic that hold state across packets, kept free of maps and
//! clocks so the host tests step them: the token bucket and the sequence window.

use crate::{EdgeConfig, EdgeCounter, RateBucket, RateLimit};

const NS_PER_S: u64 = 1_000_000_000;

impl RateBucket {
    /// Brings the credit up to `now_ns` and takes one packet's worth if there is enough. A zeroed
    /// bucket (a new source, or the budget map's initial entry) fills to `burst` on first use,
    /// because its `updated_ns` is 0. A clock reading older than `updated_ns` (another CPU got
    /// there first) refills nothing rather than wrapping.
    #[inline(always)]
    pub fn take(&mut self, now_ns: u64, limit: RateLimit) -> bool {
        if limit.rate_per_s == 0 {
            return true;
        }
        let cost_ns = NS_PER_S / u64::from(limit.rate_per_s);
        let burst = if limit.burst == 0 { 1 } else { u64::from(limit.burst) };
        let cap_ns = cost_ns * burst;
        let elapsed_ns = now_ns.saturating_sub(self.updated_ns);
        let mut credit_ns = self.credit_ns.saturating_add(elapsed_ns);
        if credit_ns > cap_ns {
            credit_ns = cap_ns;
        }
        if now_ns > self.updated_ns {
            self.updated_ns = now_ns;
        }
        if credit_ns >= cost_ns {
            self.credit_ns = credit_ns - cost_ns;
            true
        } else {
            self.credit_ns = credit_ns;
            false
        }
    }
}

/// The cheap replay filter ahead of user space's 256-packet window: `sequence_seen` is the newest
/// sequence passed plus one (0: none yet, anything goes). Returns the drop slot, or `None` to pass.
#[inline(always)]
pub fn check_sequence(sequence_seen: u64, sequence: u64, config: &EdgeConfig) -> Option<EdgeCounter> {
    if sequence_seen == 0 {
        return None;
    }
    let newest = sequence_seen - 1;
    if sequence < newest {
        let behind = newest - sequence;
        if config.sequence_behind_max != 0 && behind > u64::from(config.sequence_behind_max) {
            return Some(EdgeCounter::DropReplayed);
        }
    } else {
        let ahead = sequence - newest;
        if config.sequence_ahead_max != 0 && ahead > u64::from(config.sequence_ahead_max) {
            return Some(EdgeCounter::DropSequenceAhead);
        }
    }
    None
}

/// `sequence_seen` after passing `sequence`: it only moves forward.
#[inline(always)]
pub fn advance_sequence(sequence_seen: u64, sequence: u64) -> u64 {
    let next = sequence.saturating_add(1);
    if next > sequence_seen { next } else { sequence_seen }
}
