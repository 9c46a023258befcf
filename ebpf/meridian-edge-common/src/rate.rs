//! The edge's two pieces of arithmetic that hold state across packets, kept free of maps and
//! clocks so the host tests step them: the token bucket and the sequence window.

use crate::{EDGE_REPLAY_MASK_BITS, EdgeConfig, EdgeCounter, RateBucket, RateLimit};

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

/// What the edge remembers of a session's sequences (the two fields of `SessionEntry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceWindow {
    /// Newest sequence passed plus one; 0: none yet (anything goes).
    pub seen: u64,
    /// Bit `i`: sequence `seen - 1 - i` passed.
    pub mask: u64,
}

/// The replay filter ahead of user space's 256-packet window. Returns the drop slot, or `None` to
/// pass.
#[inline(always)]
pub fn check_sequence(window: SequenceWindow, sequence: u64, config: &EdgeConfig) -> Option<EdgeCounter> {
    if window.seen == 0 {
        return None;
    }
    let newest = window.seen - 1;
    if sequence <= newest {
        let behind = newest - sequence;
        if behind < u64::from(EDGE_REPLAY_MASK_BITS) {
            if window.mask & (1u64 << behind) != 0 {
                return Some(EdgeCounter::DropReplayed);
            }
        } else if config.sequence_behind_max != 0 && behind > u64::from(config.sequence_behind_max) {
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

/// The window after passing `sequence`: the newest only moves forward; the mask slides with it and
/// marks `sequence`.
#[inline(always)]
pub fn advance_sequence(window: SequenceWindow, sequence: u64) -> SequenceWindow {
    if window.seen == 0 {
        return SequenceWindow {
            seen: sequence.saturating_add(1),
            mask: 1,
        };
    }
    let newest = window.seen - 1;
    if sequence > newest {
        let shift = sequence - newest;
        let mask = if shift >= u64::from(EDGE_REPLAY_MASK_BITS) {
            0
        } else {
            window.mask << shift
        };
        SequenceWindow {
            seen: sequence.saturating_add(1),
            mask: mask | 1,
        }
    } else {
        let behind = newest - sequence;
        let mask = if behind < u64::from(EDGE_REPLAY_MASK_BITS) {
            window.mask | (1u64 << behind)
        } else {
            window.mask
        };
        SequenceWindow { mask, ..window }
    }
}
