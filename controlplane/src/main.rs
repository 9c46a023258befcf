//! `meridian-control`: the control plane's processes. `assigner` campaigns for the zone-assigner
//! leadership in etcd and, while it leads, keeps every configured zone assigned to a live node (run
//! two or more: the others are hot standbys that take over within a lease TTL).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use meridian_control::assigner::{AssignerConfig, AssignerService, AssignerStatus};

#[derive(Parser)]
#[command(version, about = "Meridian control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Campaign for the assigner leadership; while leading, assign zones to live nodes.
    Assigner {
        /// etcd endpoints, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
        etcd: Vec<String>,
        /// The zones of the world.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        zones: Vec<u32>,
        /// This candidate's id (default: the hostname and the process id).
        #[arg(long)]
        id: Option<String>,
        /// Rebalancing moves per round at most (a dead node's zones always move at once).
        #[arg(long, default_value_t = 4)]
        moves_per_round_max: usize,
        /// Election lease TTL: a standby takes over at most this long (plus etcd's expiry check)
        /// after the leader dies.
        #[arg(long, default_value_t = 3)]
        lease_ttl_s: i64,
        /// Stop after this many seconds (default: until SIGTERM or SIGINT).
        #[arg(long)]
        duration_s: Option<u64>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("runtime")?;
    match Cli::parse().command {
        Command::Assigner {
            etcd,
            zones,
            id,
            moves_per_round_max,
            lease_ttl_s,
            duration_s,
        } => runtime.block_on(run_assigner(
            etcd,
            zones,
            id,
            moves_per_round_max,
            lease_ttl_s,
            duration_s,
        )),
    }
}

async fn run_assigner(
    etcd: Vec<String>,
    zones: Vec<u32>,
    id: Option<String>,
    moves_per_round_max: usize,
    lease_ttl_s: i64,
    duration_s: Option<u64>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!zones.is_empty(), "--zones lists no zone");
    let id = id.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "control".into());
        format!("{}-{}", host.trim(), std::process::id())
    });
    let client = etcd_client::Client::connect(etcd.clone(), None)
        .await
        .with_context(|| format!("connecting to etcd at {etcd:?}"))?;
    let config = AssignerConfig {
        moves_per_round_max,
        election_lease_ttl_s: lease_ttl_s,
        ..AssignerConfig::new(id.clone(), zones.clone())
    };
    let service = AssignerService::spawn(client, config);
    let mut status = service.status();
    tracing::info!(%id, ?zones, "assigner candidate campaigning");
    let deadline = async {
        match duration_s {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the assigner service ended");
                }
                let now = *status.borrow();
                tracing::info!(status = ?now, rounds = service.rounds(), moves = service.moves_applied(), "assigner status");
                if matches!(now, AssignerStatus::Stopped) {
                    anyhow::bail!("the assigner service stopped");
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate() => break,
            _ = &mut deadline => break,
        }
    }
    tracing::info!(
        rounds = service.rounds(),
        moves = service.moves_applied(),
        "assigner resigning"
    );
    service.resign().await;
    Ok(())
}

/// Resolves on SIGTERM (systemd's stop).
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
