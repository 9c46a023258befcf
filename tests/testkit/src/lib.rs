//! `meridian-testkit` is the support crate every Meridian integration test uses. It starts
//! throwaway **real** services from the installed binaries — PostgreSQL (`initdb` + `postgres`),
//! etcd and Redis — each on free loopback ports in its own temporary directory, waits until each
//! answers, and stops them and deletes their data when the handle drops, including when the test
//! panics (and, through `PR_SET_PDEATHSIG`, when the test process dies outright; the data directories
//! such a killed process leaves behind are deleted by the next run). It also builds
//! network-namespace topologies (uniquely named namespaces joined by veth pairs, addressed from
//! 10.251.0.0/16, a range used only inside those namespaces) and removes them on drop; leftovers of
//! a killed run are removed by the next run. No test depends on a service that happens to be
//! running on the machine.
//!
//! Calls block; async tests call them before entering their runtime or from `spawn_blocking`.

mod netns;
mod process;
mod services;
mod tools;

pub use netns::enter_netns;
pub use netns::{Netns, TwoHosts, VethEnd, remove_leftover_namespaces};
pub use netns::{VipHosts, veth_pair};
pub use services::Kafka;
pub use services::{Etcd, Postgres, Redis, remove_leftover_dirs};
pub use services::{NETNS_ETCD_CLIENT_PORT, NetnsEtcd};
pub use tools::{ChildGuard, free_tcp_port, free_udp_port};

use std::time::Duration;

/// How long a service may take to answer after start before the start counts as failed.
pub const SERVICE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a service or topology could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("binary {name} not found (searched {searched}); run the README's set-up")]
    BinaryNotFound { name: &'static str, searched: String },
    #[error("`{command}` failed with {status}: {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{service} did not answer within {timeout:?} after {attempts} attempts; log tail:\n{log_tail}")]
    NotReady {
        service: &'static str,
        timeout: Duration,
        attempts: u32,
        log_tail: String,
    },
    #[error("system call failed: {0}")]
    Nix(#[from] nix::Error),
}

pub type Result<T> = std::result::Result<T, TestkitError>;

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}
