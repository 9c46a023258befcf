//! The node registry in etcd: the key layout every control-plane module shares, the records stored
//! under it, a watch that survives etcd restarts, and the [`NodeAgent`] a `meridian-node` runs to
//! register itself, keep its lease alive, heartbeat its load and learn which zones it serves.
//!
//! # Key layout
//!
//! All values are JSON (readable with `etcdctl get --prefix /meridian/`).
//!
//! | key | value | lifetime |
//! |---|---|---|
//! | `/meridian/nodes/<node_id>` | [`NodeRecord`]: id, game address, workers, capacity, build | the node's lease |
//! | `/meridian/load/<node_id>` | [`LoadRecord`]: players per zone, tick p99 | the node's lease |
//! | `/meridian/assign/<zone_id>` | [`Placement`]: node id, worker | until the assigner moves it |
//! | `/meridian/routes/<session_id>` | [`crate::routes::Route`]: node, worker, zone, fencing token | until the session ends |
//! | `/meridian/handoff/<ticket_id>` | [`crate::routes::Ticket`] | until the coordinator deletes it |
//! | `/meridian/election/assigner/…` | the candidate's id (etcd's election API) | the candidate's lease |
//!
//! The **fencing token** of a zone is the `mod_revision` of its `/meridian/assign/<zone_id>` key:
//! etcd gives every write a new, cluster-wide increasing revision, so the newest assignment always
//! carries the largest token and a writer holding an older one is refused by a transaction that
//! compares the key's `mod_revision` (`crate::routes::put_route`, the assigner's own moves).
//! Assignments are *not* under a node's lease: when a node dies its zones stay recorded as its own
//! until the assigner moves them, so nobody else serves them before the move, and the dead node
//! stopped on its own side when it lost its lease ([`NodeAgent`]).
//!
//! Files: `mod.rs` (layout, records, errors), `watch.rs` (the resilient prefix watch),
//! `agent.rs` (the node agent), `directory.rs` (zone → game address for the login API), `lease.rs` (keeping a lease alive, also
//! for the assigner's election).

mod agent;
mod directory;
mod lease;
mod watch;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use agent::{AssignmentChange, LeaseState, NodeAgent, NodeConfig};
pub use directory::{DirectoryHandle, GameDirectory};
pub use lease::{LeaseEnd, keep_lease_alive};
pub use watch::{WatchEvent, WatchItem, watch_prefix};

/// The root of every key Meridian writes.
pub const ROOT: &str = "/meridian/";
pub const NODES_PREFIX: &str = "/meridian/nodes/";
pub const LOAD_PREFIX: &str = "/meridian/load/";
pub const ASSIGN_PREFIX: &str = "/meridian/assign/";
pub const ROUTES_PREFIX: &str = "/meridian/routes/";
pub const HANDOFF_PREFIX: &str = "/meridian/handoff/";
/// The election name the assigner candidates campaign on.
pub const ASSIGNER_ELECTION: &str = "/meridian/election/assigner";

/// Node ids become etcd key segments; a longer id is a configuration mistake, not a real name.
pub const NODE_ID_BYTES_MAX: usize = 128;

pub type ZoneId = u32;
pub type SessionId = u64;

pub fn node_key(node_id: &str) -> String {
    format!("{NODES_PREFIX}{node_id}")
}

pub fn load_key(node_id: &str) -> String {
    format!("{LOAD_PREFIX}{node_id}")
}

pub fn assign_key(zone: ZoneId) -> String {
    format!("{ASSIGN_PREFIX}{zone}")
}

pub fn route_key(session: SessionId) -> String {
    format!("{ROUTES_PREFIX}{session}")
}

pub fn handoff_key(ticket_id: &str) -> String {
    format!("{HANDOFF_PREFIX}{ticket_id}")
}

/// Parses the zone id out of an `/meridian/assign/<zone_id>` key.
pub fn zone_of_assign_key(key: &[u8]) -> Option<ZoneId> {
    std::str::from_utf8(key).ok()?.strip_prefix(ASSIGN_PREFIX)?.parse().ok()
}

/// A node's registration, written under its lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    /// The UDP address clients send game datagrams to.
    pub game_addr: String,
    /// Zone worker threads; a [`Placement`] names one of `0..workers`.
    pub workers: u32,
    /// Players the node accepts in total; 0 = draining (the assigner gives it no zones).
    pub capacity_players: u32,
    /// Build identifier (version + commit), so the operator sees mixed versions during a rollout.
    pub build: String,
    /// The node's WebSocket gateway (`wss://…`) for browsers; `None`: the node has none. Absent
    /// in records written before the gateway existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<String>,
    /// Where the node serves `GET /metrics` and `GET /world` (the operators' map reads the latter);
    /// absent in records of nodes from before it was advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<String>,
    /// Where peers dial the node link (TCP; handoff tickets, commits, ghosts and forwarded
    /// datagrams between nodes); absent: the node takes no part in handoffs across nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_addr: Option<String>,
    /// The node's underlay IPv4 address, where another node's edge encapsulates a session's
    /// datagrams to it (`EdgeSessions::forward`); absent: no edge forwarding to this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_addr: Option<String>,
}

/// A node's load heartbeat, written under its lease.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadRecord {
    pub players_per_zone: BTreeMap<ZoneId, u32>,
    pub tick_p99_us: u32,
}

/// Which node and worker serve a zone: the value of `/meridian/assign/<zone_id>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    pub node: String,
    pub worker: u32,
}

/// What went wrong talking to etcd or reading what it holds.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// etcd refused or could not be reached; retrying later can help.
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// A value under `key` is not the JSON this version writes (another version or a hand edit).
    #[error("malformed value under {key}: {source}")]
    Malformed { key: String, source: serde_json::Error },
    /// A live node already registered this id (a restart within the old lease's TTL): retry after
    /// the TTL.
    #[error("node id {node_id} is registered by a live node")]
    NodeIdTaken { node_id: String },
    /// The configuration cannot work (caller's fault; retrying does not help).
    #[error("bad configuration: {reason}")]
    Config { reason: &'static str },
    /// etcd granted a lease id of 0 or answered without a header: a server bug, not retryable here.
    #[error("unexpected etcd answer: {what}")]
    Unexpected { what: &'static str },
}

/// Decodes a JSON value read from `key`.
pub fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], value: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(value).map_err(|source| RegistryError::Malformed {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

/// Encodes a record; the records above cannot fail to serialise (no maps with non-string keys
/// other than integers, which serde_json writes as strings).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("registry records always serialise")
}

/// The etcd revision a response was served at.
pub(crate) fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<i64, RegistryError> {
    header.map(|h| h.revision()).ok_or(RegistryError::Unexpected {
        what: "response without header",
    })
}
