//! `meridian-node` is the per-host data plane. It owns the sockets and the io_uring worker threads,
//! (later) the session table and the node agent that mirrors etcd routes into BPF maps, the loading
//! of the kernel-side edge program, and the metrics endpoint. The game logic lives in the sans-IO
//! crates (`meridian-proto`, `meridian-zone`); this crate is the thin layer that moves their bytes.
//!
//! What exists today: [`uring_udp`], an io_uring-driven UDP responder (one ring and one socket per
//! worker, workers grouped with `SO_REUSEPORT`); [`probe`], the node's liveness probe datagram, the
//! one thing a node answers until the game protocol lands; and [`edge`], which loads and attaches
//! the XDP object built from `ebpf/` and reads its counters.

pub mod dgram_io;
pub mod edge;
pub mod metrics;
pub mod probe;
pub mod session_glue;
pub mod tick;
pub mod worker;
pub mod uring_udp;
