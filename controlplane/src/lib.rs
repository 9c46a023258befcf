//! `meridian-control` owns the control plane: the etcd registry of nodes (leases), the leader-elected
//! zone assigner, the handoff coordinator and failure detection, the HTTPS login API that issues
//! connect tokens, and the persistence service (Postgres for ACID inventories, Redis for hot session
//! and zone state, a Kafka event log). Built so far: `registry` (key layout, node agent, game
//! directory), `assigner` (sans-IO planner + leader-elected service with fenced moves), `routes`
//! (fenced session routes, handoff tickets) and `auth` (the HTTPS login API). Persistence is to come.
#![forbid(unsafe_code)]

pub mod assigner;
pub mod auth;
pub mod ops;
pub mod registry;
pub mod routes;
pub mod web;
