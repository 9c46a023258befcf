//! `meridian-perf` holds Meridian's load generators (the bot swarm, the I/O cost harness), the live
//! dashboard of the README's main command, and the criterion benchmarks whose figures are recorded in
//! `perf/RESULTS.md`, always with the baseline measured in the same run. The library part is what
//! those binaries share: reading the node's Prometheus endpoint ([`prom`]), counting stalls as a
//! player sees them ([`stall`]) and logging bots in over HTTPS ([`login`]).
#![forbid(unsafe_code)]

pub mod frames;
pub mod login;
pub mod prom;
pub mod stall;
