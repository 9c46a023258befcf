//! `meridian-node`: serves a node's UDP workers, or probes a running node.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use meridian_node::{
    probe,
    uring_udp::{UdpWorkerStats, UringUdpConfig, UringUdpResponder, bind_reuseport},
};

#[derive(Parser)]
#[command(version, about = "Meridian node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node's UDP workers (one io_uring thread each, sharing the address via SO_REUSEPORT).
    Serve {
        #[arg(long, default_value = "127.0.0.1:7777")]
        listen: SocketAddr,
        /// Worker threads; default: one per core.
        #[arg(long)]
        workers: Option<usize>,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        duration_s: Option<u64>,
    },
    /// Send liveness probes to a node and print which worker answered each.
    Probe {
        addr: SocketAddr,
        #[arg(long, default_value_t = 4)]
        count: u64,
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { listen, workers, duration_s } => serve(listen, workers, duration_s),
        Command::Probe { addr, count, timeout_ms } => run_probe(addr, count, timeout_ms),
    }
}

fn serve(listen: SocketAddr, workers: Option<usize>, duration_s: Option<u64>) -> anyhow::Result<()> {
    let workers = workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    // Bind every socket before any worker starts, so a bind failure stops start-up cleanly.
    let mut sockets = Vec::new();
    for _ in 0..workers {
        sockets.push(bind_reuseport(listen).with_context(|| format!("binding {listen}"))?);
    }
    for (index, socket) in sockets.into_iter().enumerate() {
        let stop = Arc::clone(&stop);
        let stats = Arc::new(UdpWorkerStats::default());
        all_stats.push(Arc::clone(&stats));
        let worker_index = u16::try_from(index).context("too many workers")?;
        handles.push(
            std::thread::Builder::new()
                .name(format!("udp-worker-{index}"))
                .spawn(move || -> anyhow::Result<()> {
                    let mut responder =
                        UringUdpResponder::new(socket, &UringUdpConfig::default(), stats)
                            .context("setting up io_uring")?;
                    responder
                        .run(&stop, |request, _peer, reply| {
                            probe::answer(request, worker_index, reply).ok()
                        })
                        .context("io_uring loop")
                })?,
        );
    }
    tracing::info!(%listen, workers, "meridian-node serving liveness probes over io_uring");
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if handles.iter().any(|h| h.is_finished()) {
            break;
        }
        if duration_s.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    for (index, stats) in all_stats.iter().enumerate() {
        tracing::info!(
            worker = index,
            received = stats.datagrams_received.load(Ordering::Relaxed),
            sent = stats.datagrams_sent.load(Ordering::Relaxed),
            unanswered = stats.datagrams_unanswered.load(Ordering::Relaxed),
            "worker stopped"
        );
    }
    Ok(())
}

fn run_probe(addr: SocketAddr, count: u64, timeout_ms: u64) -> anyhow::Result<()> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
    let mut answered = 0;
    for nonce in 0..count {
        // A fresh source port per probe lets SO_REUSEPORT hash probes onto different workers.
        let socket = UdpSocket::bind(bind)?;
        socket.set_read_timeout(Some(Duration::from_millis(timeout_ms)))?;
        let started = std::time::Instant::now();
        socket.send_to(&probe::encode_request(nonce), addr)?;
        let mut buf = [0u8; 64];
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => match probe::decode_reply(&buf[..n]) {
                Ok(reply) if reply.nonce == nonce => {
                    answered += 1;
                    println!(
                        "probe {nonce}: worker {} at {from} answered in {:?}",
                        reply.worker_index,
                        started.elapsed()
                    );
                }
                Ok(reply) => println!("probe {nonce}: stale reply for nonce {}", reply.nonce),
                Err(e) => println!("probe {nonce}: malformed reply: {e}"),
            },
            Err(e) => println!("probe {nonce}: no reply within {timeout_ms} ms ({e})"),
        }
    }
    if answered != count {
        bail!("{answered} of {count} probes answered");
    }
    Ok(())
}
