//! `meridian-control` owns the control plane: the etcd registry of nodes (leases), the leader-elected
//! zone assigner, the handoff coordinator and failure detection, the HTTPS login API that issues
//! connect tokens, and the persistence service (Postgres for ACID inventories, Redis for hot session
//! and zone state, a Kafka event log). Nothing is implemented here yet; the crate exists so the
//! workspace has the shape described in `docs/ARCHITECTURE.md` and the test harness can grow against
//! it.
#![forbid(unsafe_code)]
pub mod auth;
