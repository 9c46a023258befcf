//! The maps the `edge` and `steer` programs share (one object, so one instance of each). Names
//! and types are `meridian-edge-common`'s; user space finds them by those names.

use aya_ebpf::{
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray, ReusePortSockArray},
};
use meridian_edge_common::{
    EDGE_COUNTER_SLOTS, EDGE_SESSIONS_MAX, EDGE_SOURCES_MAX, EdgeConfig, RateBucket, STEER_WORKERS_MAX, SessionKey,
    SessionValue, SourceKey,
};

#[map(name = "EDGE_CONFIG")]
pub static EDGE_CONFIG: Array<EdgeConfig> = Array::with_max_entries(1, 0);

#[map(name = "EDGE_SESSIONS")]
pub static EDGE_SESSIONS: LruHashMap<SessionKey, SessionValue> = LruHashMap::with_max_entries(EDGE_SESSIONS_MAX, 0);

#[map(name = "EDGE_SOURCE_BUCKETS")]
pub static EDGE_SOURCE_BUCKETS: LruHashMap<SourceKey, RateBucket> = LruHashMap::with_max_entries(EDGE_SOURCES_MAX, 0);

#[map(name = "EDGE_REQUEST_BUCKETS")]
pub static EDGE_REQUEST_BUCKETS: LruHashMap<SourceKey, RateBucket> = LruHashMap::with_max_entries(EDGE_SOURCES_MAX, 0);

#[map(name = "EDGE_REQUEST_BUDGET")]
pub static EDGE_REQUEST_BUDGET: Array<RateBucket> = Array::with_max_entries(1, 0);

#[map(name = "EDGE_COUNTERS")]
pub static EDGE_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(EDGE_COUNTER_SLOTS, 0);

#[map(name = "STEER_SOCKETS")]
pub static STEER_SOCKETS: ReusePortSockArray = ReusePortSockArray::with_max_entries(STEER_WORKERS_MAX, 0);
