//! `meridian-economy` owns the persistent economy: characters, their items and currency on N
//! Postgres shards chosen by character id, the operations that change them (loot, destroy, move
//! between bags, trade, mail — each one transaction, idempotent by key, fenced by the zone's
//! token), two-phase commit for the operations that span two shards and the recovery of the ones a
//! crash left in doubt, the add-a-shard procedure, and the zones' write-behind checkpoints.
//!
//! Files: `ops.rs` (the operations, locking and idempotency; its doc says why lock order rather
//! than SERIALIZABLE), `twopc.rs` (the sans-IO 2PC coordinator), `recovery.rs` (settling in-doubt
//! transactions), `shard.rs` (`ShardMap`, jump hashing), `rebalance.rs` (moving characters to a new
//! shard), `checkpoint.rs` (the bounded checkpoint queue and its batched flush), `reconcile.rs`
//! (the invariants, checked across shards), `workload.rs` (the seeded operation mix the crash tests
//! and the binary run), `db.rs` (pools and migrations), `error.rs`.
//!
//! The invariants hold twice: as checks in Rust and as constraints in `migrations/` (one row per
//! item, balances `>= 0`, unique idempotency keys, fences that only go up).

pub mod checkpoint;
pub mod db;
mod error;
pub mod ops;
pub mod rebalance;
pub mod reconcile;
pub mod recovery;
pub mod shard;
pub mod twopc;
pub mod workload;

pub use checkpoint::{CharacterState, CheckpointCounters, CheckpointQueue, FlushReport, PushOutcome};
pub use error::EconomyError;
pub use ops::{Applied, Economy, Fence, Item, NewItem, OpOutcome, Operation, Request};
pub use reconcile::ReconcileReport;
pub use recovery::RecoveryReport;
pub use shard::ShardMap;
