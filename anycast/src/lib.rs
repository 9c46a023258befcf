//! `meridian-anycast`: what puts a PoP's game VIPs on the Internet and takes them off.
//!
//! Every PoP announces the same VIP prefixes over BGP (BIRD 2); routers send each player to the
//! nearest PoP that announces. A PoP must announce only while its node can serve, so a small health
//! agent next to each node drives BIRD through its control socket: it enables the `protocol
//! static` holding the VIP routes while the node is healthy and disables it — BGP withdraws at once —
//! when the node stops answering its probe, runs its ticks over budget for too long, or is drained
//! by an operator.
//!
//! Files: `health.rs` (the decision, a pure state machine stepped in unit tests), `check.rs` (the
//! probe and the metrics), `bird.rs` (BIRD's control protocol), `agent.rs` (the loop), `render.rs`
//! (inventory → bird.conf, systemd units and node flags per host).
#![forbid(unsafe_code)]

pub mod agent;
pub mod bird;
pub mod check;
pub mod health;
pub mod render;
