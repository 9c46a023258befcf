//! Zone assignment: which node and worker serve each zone.
//!
//! The decision is a pure function (`plan.rs`, [`ZoneAssigner`]): live nodes with their capacity
//! and reported load, the current assignment and the configured zones in; a bounded list of moves
//! out. The leader loop (`leader.rs`, [`AssignerService`]) runs it only while it holds the etcd
//! election, re-planning whenever the node set changes and every `round_interval_ms` for load, and
//! applies each move in a transaction that compares the zone key's `mod_revision` (the fencing
//! token it read) and that the leader's own election key still exists, so a deposed leader's late
//! write fails instead of overwriting its successor's.

mod leader;
mod plan;

pub use leader::{
    AssignerConfig, AssignerError, AssignerService, AssignerStatus, ELECTION_LEASE_TTL_S_DEFAULT, apply_move,
};
pub use plan::{
    LiveNode, Move, MoveReason, REBALANCE_GAIN_MIN_PERMILLE, ZONE_BASE_COST_PLAYERS, ZONES_MAX, ZoneAssigner,
};
