//! `meridian-perf` holds Meridian's load generators (the bot swarm, the packet blaster) and the
//! criterion benchmarks whose figures are recorded in `perf/RESULTS.md`, always as ratios against a
//! baseline measured in the same run. Nothing is implemented here yet; the first figures arrive with
//! the protocol and zone issues.
#![forbid(unsafe_code)]
