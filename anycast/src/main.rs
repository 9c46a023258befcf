//! `meridian-anycast`: `agent` (announce the VIPs through BIRD while the local node is healthy),
//! `drain` (withdraw, wait for the sessions to end, then stop), `render` (inventory → per-host
//! configuration).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use meridian_anycast::agent::{self, AgentConfig};
use meridian_anycast::check::{scrape, sessions};
use meridian_anycast::health::HealthPolicy;
use meridian_anycast::render::{Inventory, VIP_PROTOCOL, render_to};

#[derive(Parser)]
#[command(about = "Health-driven anycast for Meridian PoPs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Probe the local node and make BIRD announce the VIPs only while it is healthy.
    Agent {
        /// The node's game address (its liveness probe).
        #[arg(long, default_value = "127.0.0.1:7777")]
        node: SocketAddr,
        /// The node's metrics address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        metrics: SocketAddr,
        #[arg(long, default_value = "/run/bird/bird.ctl")]
        bird_socket: PathBuf,
        #[arg(long, default_value = VIP_PROTOCOL)]
        vip_protocol: String,
        /// The drain marker (`meridian-anycast drain` creates it).
        #[arg(long, default_value = "/run/meridian/drain")]
        drain_file: PathBuf,
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Missed probes in a row before the VIPs are withdrawn.
        #[arg(long, default_value_t = HealthPolicy::default().probe_failures_max)]
        probe_failures_max: u32,
        #[arg(long, default_value_t = HealthPolicy::default().tick_p99_budget_ms)]
        tick_p99_budget_ms: f64,
        #[arg(long, default_value_t = HealthPolicy::default().over_budget_for_ms)]
        over_budget_for_ms: u64,
        /// Healthy checks in a row before withdrawn VIPs come back.
        #[arg(long, default_value_t = HealthPolicy::default().recoveries_needed)]
        recoveries_needed: u32,
    },
    /// Drain this PoP: withdraw the VIPs (the agent sees the marker), wait until the node's sessions
    /// have ended or the deadline passed, then exit (systemd or the operator then stops the node).
    Drain {
        #[arg(long, default_value = "/run/meridian/drain")]
        drain_file: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9100")]
        metrics: SocketAddr,
        #[arg(long, default_value_t = 300)]
        deadline_s: u64,
        /// Remove the marker instead (announce again once healthy).
        #[arg(long)]
        undo: bool,
    },
    /// Render every host's bird.conf, systemd units and node flags from the inventory.
    Render {
        #[arg(long)]
        inventory: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Agent {
            node,
            metrics,
            bird_socket,
            vip_protocol,
            drain_file,
            interval_ms,
            probe_failures_max,
            tick_p99_budget_ms,
            over_budget_for_ms,
            recoveries_needed,
        } => {
            anyhow::ensure!(
                probe_failures_max >= 1 && recoveries_needed >= 1,
                "thresholds must be at least 1"
            );
            anyhow::ensure!((20..=10_000).contains(&interval_ms), "--interval-ms must be 20..=10000");
            let config = AgentConfig {
                node,
                metrics,
                bird_socket,
                vip_protocol,
                drain_file,
                interval_ms,
                policy: HealthPolicy {
                    probe_failures_max,
                    tick_p99_budget_ms,
                    over_budget_for_ms,
                    recoveries_needed,
                },
            };
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing a signal handler")?;
            }
            tracing::info!(?config, "health agent running");
            agent::run(&config, &stop);
            Ok(())
        }
        Command::Drain {
            drain_file,
            metrics,
            deadline_s,
            undo,
        } => {
            if undo {
                match std::fs::remove_file(&drain_file) {
                    Ok(()) => println!("drain marker removed: the VIPs come back once the node is healthy"),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => println!("not draining"),
                    Err(error) => return Err(error).context("removing the drain marker"),
                }
                return Ok(());
            }
            if let Some(dir) = drain_file.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&drain_file, b"drain\n").with_context(|| format!("writing {}", drain_file.display()))?;
            println!("draining: the agent withdraws the VIPs; waiting for sessions to end (deadline {deadline_s} s)");
            let started = Instant::now();
            loop {
                let left = scrape(metrics, Duration::from_secs(2)).map(|text| sessions(&text));
                match left {
                    Ok(0.0) => {
                        println!(
                            "drained after {:.1} s: no session left",
                            started.elapsed().as_secs_f64()
                        );
                        return Ok(());
                    }
                    Ok(count) => println!("{count:.0} sessions left"),
                    Err(error) => {
                        println!("node metrics unreadable ({error}); treating as drained");
                        return Ok(());
                    }
                }
                if started.elapsed() >= Duration::from_secs(deadline_s) {
                    println!("deadline reached with sessions left: stopping anyway");
                    return Ok(());
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Command::Render { inventory, out } => {
            let text =
                std::fs::read_to_string(&inventory).with_context(|| format!("reading {}", inventory.display()))?;
            let inventory = Inventory::parse(&text)?;
            let written = render_to(&inventory, &out)?;
            println!("rendered {written} files under {}", out.display());
            Ok(())
        }
    }
}
