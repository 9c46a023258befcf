//! `meridian-node` is the per-host data plane. It owns the sockets and the io_uring worker threads,
//! (later) the session table and the node agent that mirrors etcd routes into BPF maps, the loading
//! of the kernel-side edge program, and the metrics endpoint. The game logic lives in the sans-IO
//! crates (`meridian-proto`, `meridian-zone`); this crate is the thin layer that moves their bytes.
//!
//! Pieces: [`node`] starts a node's [`worker`]s — one thread, one `SO_REUSEPORT` socket and one
//! [`dgram_io`] backend (io_uring multishot receive, or recvmmsg/sendmmsg) each — around one
//! sans-IO session host (`meridian-host`: endpoint, sessions, zones, tick schedule) each;
//! [`metrics`] is the Prometheus side;
//! [`probe`] is the liveness probe any worker answers; [`cpu_time`] reads CPU-time clocks; [`edge`] loads and attaches the XDP object
//! built from `ebpf/` and reads its counters; [`persistence`] bridges the zones' pick-ups and
//! checkpoints to the economy's Postgres shards (`--economy-shards`).
//! [`ws`] is the WebSocket gateway: browser sessions on the same workers and session hosts.

pub mod agent;
pub mod bridge_thread;
pub mod cpu_time;
pub mod dgram_io;
pub mod edge;
pub mod handoff;
pub mod hot;
pub mod metrics;
pub mod node;
pub mod node_link;
pub mod persistence;
pub mod probe;
pub mod worker;
pub mod world_view;
pub mod ws;
