//! The token buckets in their maps (the arithmetic is `RateBucket::take`, host-tested in
//! `meridian-edge-common`). Updates are plain loads and stores on the map value: two CPUs taking a
//! token from one bucket at the same instant may both succeed, so a bucket can overshoot by at
//! most one packet per CPU per refill. That is the price of no lock on the packet path.

use aya_ebpf::{helpers::bpf_ktime_get_ns, maps::LruHashMap};
use meridian_edge_common::{RateBucket, RateLimit, SourceKey};

use crate::maps::EDGE_REQUEST_BUDGET;

#[inline(always)]
pub fn now_ns() -> u64 {
    // SAFETY: a helper without arguments or memory effects.
    unsafe { bpf_ktime_get_ns() }
}

/// Takes a token from `source`'s bucket in `buckets`, creating a full bucket for a new source.
#[inline(always)]
pub fn take_source(buckets: &LruHashMap<SourceKey, RateBucket>, key: &SourceKey, limit: RateLimit, now: u64) -> bool {
    if limit.rate_per_s == 0 {
        return true;
    }
    match buckets.get_ptr_mut(key) {
        // SAFETY: the pointer is the map's value for `key`, valid for this run (LRU values are
        // preallocated; a concurrent eviction can at worst make this update land on a recycled
        // entry, i.e. one bucket off by one packet).
        Some(bucket) => unsafe { (*bucket).take(now, limit) },
        None => {
            let mut bucket = RateBucket::default();
            let passed = bucket.take(now, limit);
            // A full map evicts its least recently used source; failure leaves the source
            // unlimited for this one packet, which is not worth a drop.
            let _ = buckets.insert(key, &bucket, 0);
            passed
        }
    }
}

/// Takes a token from the node-wide ConnectionRequest budget.
#[inline(always)]
pub fn take_request_budget(limit: RateLimit, now: u64) -> bool {
    match EDGE_REQUEST_BUDGET.get_ptr_mut(0) {
        // SAFETY: entry 0 of a one-entry array always exists; see the module doc on concurrency.
        Some(bucket) => unsafe { (*bucket).take(now, limit) },
        None => true,
    }
}
