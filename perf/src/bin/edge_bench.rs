//! `edge_bench`: what the XDP edge buys, measured on this machine in one run, each figure against a
//! baseline from the same run (needs root: it builds a two-namespace veth topology and loads XDP).
//!
//! 1. **Cost per rejected packet**: the node rejecting junk in user space (its worker thread's CPU
//!    time, from `/proc/<pid>/task/<tid>/schedstat`, ÷ datagrams it received) vs the XDP program
//!    rejecting the same frames (`BPF_PROG_TEST_RUN`, the kernel's mean time per run).
//! 2. **Harm of a flood**: bots play while a generator floods junk from thousands of spoofed
//!    sources as fast as it can; the bots' RTT p99 and the node's tick p99 (from its histogram,
//!    over the flood window) with the edge on, off, and with no flood.
//! 3. **Steering**: a swarm spread over two workers' zones; the workers' CPU per datagram with
//!    `sk_reuseport` steering (each datagram lands on its owner) vs without the edge (the kernel's
//!    hash lands about half on the wrong worker, which forwards them).
//!
//! Run: `cargo build --release --workspace && sudo target/release/edge_bench` (prints Markdown).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use meridian_node::edge::{Edge, EdgeConfig, SessionEntry};
use meridian_perf::frames::{ethernet_udp, ipv4_udp, sealed};
use meridian_perf::prom;
use meridian_testkit::{ChildGuard, TwoHosts};

#[derive(Parser)]
#[command(about = "XDP edge vs user space: cost per rejected packet, flood harm, steering")]
struct Args {
    /// Bots in the flood and steering runs.
    #[arg(long, default_value_t = 200)]
    bots: usize,
    /// Seconds of each flood / steering measurement window.
    #[arg(long, default_value_t = 12)]
    window_s: u64,
    /// Junk datagrams per kind in the cost measurement.
    #[arg(long, default_value_t = 200_000)]
    junk: u64,
}

const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const PORT: u16 = 7777;
const METRICS_PORT: u16 = 9100;

fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if !path.is_file() {
        bail!("{} missing: build the workspace first", path.display());
    }
    Ok(path)
}

/// A `meridian-node` in namespace b, its pid, and where its metrics are (from namespace a).
struct NodeProcess {
    _child: ChildGuard,
    pid: u32,
    metrics_url: String,
}

fn start_node(hosts: &TwoHosts, workers: usize, edge: bool) -> anyhow::Result<NodeProcess> {
    let server = SocketAddr::from((hosts.b.addr, PORT));
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", hosts.ns_b().name()])
        .arg(binary("meridian-node")?)
        .args(["serve", "--listen", &server.to_string(), "--io", "mmsg"])
        .args([
            "--workers",
            &workers.to_string(),
            "--zones",
            "1,2",
            "--spawn-radius-m",
            "300",
        ])
        .args(["--cluster-key-hex", KEY_HEX, "--duration-s", "600"])
        .args(["--metrics-listen", &format!("0.0.0.0:{METRICS_PORT}")]);
    if edge {
        // The swarm shares namespace a's one address.
        command.args(["--xdp-iface", &hosts.b.interface, "--xdp-mode", "native"]);
        command.args(["--edge-source-pps", "1000000", "--edge-source-burst", "100000"]);
        command.args(["--edge-request-pps", "10000", "--edge-request-burst", "2000"]);
    }
    let log = std::fs::File::create(std::env::temp_dir().join("meridian-edge-bench-node.log"))?;
    let child = command.stdout(Stdio::null()).stderr(log).spawn()?;
    let pid = child.id();
    let node = NodeProcess {
        _child: ChildGuard(child),
        pid,
        metrics_url: format!("http://{}:{METRICS_PORT}/metrics", hosts.b.addr),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while scrape(hosts, &node).is_err() {
        if Instant::now() > deadline {
            bail!("the node did not start: see /tmp/meridian-edge-bench-node.log");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(node)
}

fn scrape(hosts: &TwoHosts, node: &NodeProcess) -> anyhow::Result<String> {
    let url = node.metrics_url.clone();
    Ok(hosts.ns_a().run(move || prom::scrape(&url))??)
}

/// CPU nanoseconds the node's zone-worker threads have run (schedstat: ns resolution).
fn worker_cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("zone-worker") {
            continue;
        }
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// A ConnectionRequest whose token is garbage (user space pays the token's AEAD open to find out).
fn garbage_request(nonce: u64) -> Vec<u8> {
    let mut payload = vec![0u8; 1024];
    payload[0] = 0x4d;
    payload[1] = 0x10;
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 20;
    payload[2..10].copy_from_slice(&expiry.to_le_bytes());
    payload[10..18].copy_from_slice(&nonce.to_le_bytes());
    payload
}

/// The junk kinds measured: (label, payload).
fn junk_kinds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("bad magic (64 B)", vec![0x4e; 64]),
        ("unknown session (66 B sealed)", sealed(0xdead, 1, &[1; 16], 24)),
        ("ConnectionRequest, garbage token (1024 B)", garbage_request(1)),
    ]
}

/// Sends raw IPv4 datagrams with `sendmmsg` in batches of 64 until `stop`, or `count` of them; returns
/// how many were sent. `pace` sleeps between batches (`None`: as fast as it goes).
fn blast(
    packets: &[Vec<u8>],
    destination: SocketAddrV4,
    count: Option<u64>,
    pace: Option<Duration>,
    stop: &AtomicBool,
) -> u64 {
    // SAFETY: plain socket(2) call; the descriptor is owned below and closed on return.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket (root needed)");
    let address = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: destination.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*destination.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut sent = 0u64;
    let mut next = 0usize;
    const BATCH: usize = 64;
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|count| sent < count) {
        let batch = count.map_or(BATCH, |count| BATCH.min((count - sent) as usize));
        let mut iovecs: Vec<libc::iovec> = (0..batch)
            .map(|i| {
                let packet = &packets[(next + i) % packets.len()];
                libc::iovec {
                    iov_base: packet.as_ptr() as *mut _,
                    iov_len: packet.len(),
                }
            })
            .collect();
        let mut headers: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .map(|iov| {
                // SAFETY: a zeroed msghdr is valid; the fields set point at live values above.
                let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
                header.msg_hdr.msg_name = &address as *const _ as *mut _;
                header.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        // SAFETY: headers point at iovecs, packets and address, all alive for the call.
        let n = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), batch as u32, 0) };
        if n > 0 {
            sent += n as u64;
            next += n as usize;
        }
        if let Some(pace) = pace {
            std::thread::sleep(pace);
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    sent
}

fn packets_in(text: &str) -> f64 {
    prom::sum(text, "meridian_packets_in_total", &[])
}

/// 1. ns per rejected packet, user space vs XDP.
fn reject_cost(hosts: &TwoHosts, args: &Args) -> anyhow::Result<()> {
    println!("\n### 1. Cost per rejected packet\n");
    println!("| junk | user space (node worker CPU ÷ datagrams) | XDP (`BPF_PROG_TEST_RUN`) | ratio |");
    println!("|---|---:|---:|---:|");
    let mut edge = Edge::load(EdgeConfig::for_port(PORT)).context("loading the edge (root)")?;
    edge.sessions().insert(
        42,
        SessionEntry {
            edge_key: [7; 16],
            worker: 0,
            zone: 1,
            ..Default::default()
        },
    )?;
    let node = start_node(hosts, 1, false)?;
    let destination = SocketAddrV4::new(hosts.b.addr, PORT);
    for (label, payload) in junk_kinds() {
        // Idle cost first (the worker ticks its zones), subtracted below.
        let idle_start = (worker_cpu_ns(node.pid), Instant::now());
        std::thread::sleep(Duration::from_secs(1));
        let idle_ns_per_s = (worker_cpu_ns(node.pid) - idle_start.0) as f64 / idle_start.1.elapsed().as_secs_f64();
        let before = (
            worker_cpu_ns(node.pid),
            packets_in(&scrape(hosts, &node)?),
            Instant::now(),
        );
        // Many sources, paced so the socket buffer does not overflow (each received datagram is
        // then one the node handled).
        let packets: Vec<Vec<u8>> = (0..4096u32)
            .map(|n| {
                ipv4_udp(
                    Ipv4Addr::new(10, 201, (n >> 8) as u8, n as u8),
                    destination,
                    0,
                    &payload,
                )
            })
            .collect();
        let stop = AtomicBool::new(false);
        let count = args.junk;
        hosts.ns_a().run(|| {
            blast(
                &packets,
                destination,
                Some(count),
                Some(Duration::from_micros(500)),
                &stop,
            )
        })?;
        std::thread::sleep(Duration::from_millis(500));
        let cpu = worker_cpu_ns(node.pid) - before.0;
        let received = packets_in(&scrape(hosts, &node)?) - before.1;
        let busy = cpu as f64 - idle_ns_per_s * before.2.elapsed().as_secs_f64();
        let user_ns = busy / received.max(1.0);
        let xdp_ns = edge
            .test_run(&ethernet_udp(PORT, 0, &payload), 1_000_000)?
            .per_run
            .as_nanos() as f64;
        println!(
            "| {label} | {user_ns:.0} ns ({received:.0} received) | {xdp_ns:.0} ns | {:.0}× |",
            user_ns / xdp_ns.max(1.0)
        );
    }
    Ok(())
}

/// The bots' interval reports (JSON lines) read as they come.
fn spawn_bots(
    hosts: &TwoHosts,
    node: &NodeProcess,
    bots: usize,
    duration_s: u64,
) -> anyhow::Result<(ChildGuard, std::sync::mpsc::Receiver<serde_json::Value>)> {
    let server = SocketAddr::from((hosts.b.addr, PORT));
    let mut child: Child = Command::new("ip")
        .args(["netns", "exec", hosts.ns_a().name()])
        .arg(binary("bots")?)
        .args([
            "--server",
            &server.to_string(),
            "--bots",
            &bots.to_string(),
            "--threads",
            "1",
        ])
        .args([
            "--duration-s",
            &duration_s.to_string(),
            "--report-s",
            "1",
            "--json",
            "--zone-id",
            "1,2",
        ])
        .args(["--cluster-key-hex", KEY_HEX, "--metrics-url", &node.metrics_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("bots stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(value);
            }
        }
    });
    Ok((ChildGuard(child), rx))
}

struct FloodOutcome {
    rtt_p99_ms: f64,
    tick_p99_ms: f64,
    flood_pps: f64,
    disconnected: f64,
    stalls: f64,
}

/// Bots play; after they are all placed, a window of `window_s` is measured, with the flood on it
/// if `flood`.
fn flood_run(hosts: &TwoHosts, args: &Args, edge: bool, flood: bool) -> anyhow::Result<FloodOutcome> {
    let node = start_node(hosts, 2, edge)?;
    let (mut bots, reports) = spawn_bots(hosts, &node, args.bots, args.window_s + 20)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = reports.recv_timeout(Duration::from_secs(5))?;
        if report["placed"].as_u64() == Some(args.bots as u64) {
            break;
        }
        if Instant::now() > deadline {
            bail!("bots not all placed: {report}");
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    while reports.try_recv().is_ok() {}
    let destination = SocketAddrV4::new(hosts.b.addr, PORT);
    let kinds = junk_kinds();
    let packets: Vec<Vec<u8>> = (0..3 * 4096u32)
        .map(|n| {
            let source = Ipv4Addr::new(10, 201, (n >> 8) as u8 % 16, n as u8);
            ipv4_udp(source, destination, 0, &kinds[n as usize % kinds.len()].1)
        })
        .collect();
    let before = scrape(hosts, &node)?;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let generator = flood.then(|| {
        let (stop, sent, ns) = (Arc::clone(&stop), Arc::clone(&sent), hosts.ns_a().name().to_owned());
        std::thread::spawn(move || {
            let handle = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
            nix::sched::setns(&handle, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            sent.store(blast(&packets, destination, None, None, &stop), Ordering::Relaxed);
        })
    });
    let mut rtt_p99_us = Vec::new();
    let mut last = serde_json::Value::Null;
    while started.elapsed() < Duration::from_secs(args.window_s) {
        if let Ok(report) = reports.recv_timeout(Duration::from_secs(2)) {
            if let Some(p99) = report["rtt_us"]["p99"].as_f64() {
                rtt_p99_us.push(p99);
            }
            last = report;
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(generator) = generator {
        generator.join().map_err(|_| anyhow::anyhow!("generator panicked"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = scrape(hosts, &node)?;
    let window = prom::histogram_delta(
        &prom::histogram(&after, "meridian_tick_duration_seconds"),
        &prom::histogram(&before, "meridian_tick_duration_seconds"),
    );
    let _ = bots.0.kill();
    rtt_p99_us.sort_by(f64::total_cmp);
    Ok(FloodOutcome {
        // The median of the per-second p99s over the window (a single late report cannot decide it).
        rtt_p99_ms: rtt_p99_us.get(rtt_p99_us.len() / 2).copied().unwrap_or(f64::NAN) / 1000.0,
        tick_p99_ms: prom::quantile(&window, 0.99).unwrap_or(f64::NAN) * 1000.0,
        flood_pps: sent.load(Ordering::Relaxed) as f64 / elapsed,
        disconnected: last["disconnected"].as_f64().unwrap_or(f64::NAN),
        stalls: last["stalls"]["count"].as_f64().unwrap_or(f64::NAN),
    })
}

fn flood(hosts: &TwoHosts, args: &Args) -> anyhow::Result<()> {
    println!(
        "\n### 2. A flood while {} bots play ({} s windows)\n",
        args.bots, args.window_s
    );
    println!(
        "| run | flood sent | bots' RTT p99 (median of per-second p99s) | node tick p99 | bots cut off | stalls |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut rows = BTreeMap::new();
    for (label, edge, flood) in [
        ("no flood", false, false),
        ("flood, edge off", false, true),
        ("flood, edge on", true, true),
    ] {
        let outcome = flood_run(hosts, args, edge, flood)?;
        println!(
            "| {label} | {:.0} pps | {:.2} ms | {:.2} ms | {} | {} |",
            outcome.flood_pps, outcome.rtt_p99_ms, outcome.tick_p99_ms, outcome.disconnected, outcome.stalls
        );
        rows.insert(label, outcome);
    }
    let base = &rows["no flood"];
    for label in ["flood, edge off", "flood, edge on"] {
        let row = &rows[label];
        println!(
            "\n{label}: RTT p99 {:+.0} %, tick p99 {:+.0} % vs no flood",
            (row.rtt_p99_ms / base.rtt_p99_ms - 1.0) * 100.0,
            (row.tick_p99_ms / base.tick_p99_ms - 1.0) * 100.0
        );
    }
    Ok(())
}

/// 3. Worker CPU per datagram: steering vs forwarding.
fn steering(hosts: &TwoHosts, args: &Args) -> anyhow::Result<()> {
    println!(
        "\n### 3. Steering vs forwarding ({} bots over 2 workers' zones)\n",
        args.bots
    );
    println!("| run | datagrams received | forwarded between workers | worker CPU per datagram |");
    println!("|---|---:|---:|---:|");
    let mut per = Vec::new();
    for (label, edge) in [
        ("no edge (SO_REUSEPORT hash + forwarding)", false),
        ("edge (sk_reuseport steering)", true),
    ] {
        let node = start_node(hosts, 2, edge)?;
        let (mut bots, reports) = spawn_bots(hosts, &node, args.bots, args.window_s + 20)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let report = reports.recv_timeout(Duration::from_secs(5))?;
            if report["placed"].as_u64() == Some(args.bots as u64) {
                break;
            }
            if Instant::now() > deadline {
                bail!("bots not all placed");
            }
        }
        std::thread::sleep(Duration::from_secs(2));
        let before = (worker_cpu_ns(node.pid), scrape(hosts, &node)?);
        std::thread::sleep(Duration::from_secs(args.window_s));
        let after = (worker_cpu_ns(node.pid), scrape(hosts, &node)?);
        let received = packets_in(&after.1) - packets_in(&before.1);
        let forwarded = prom::sum(&after.1, "meridian_forwarded_datagrams_total", &[])
            - prom::sum(&before.1, "meridian_forwarded_datagrams_total", &[]);
        let ns = (after.0 - before.0) as f64 / received.max(1.0);
        println!("| {label} | {received:.0} | {forwarded:.0} | {ns:.0} ns |");
        per.push(ns);
        let _ = bots.0.kill();
    }
    println!(
        "\nsteering / forwarding: {:.2}× the worker CPU per datagram",
        per[1] / per[0]
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let hosts = TwoHosts::new().context("creating the namespaces (root needed)")?;
    // Routes back to the spoofed sources, so the reverse-path filter lets what the edge passes
    // reach the node (with the edge off: all of it).
    hosts
        .ns_b()
        .ip(&["route", "add", "10.201.0.0/16", "dev", &hosts.b.interface])?;
    println!(
        "edge_bench: {} bots, {} s windows, {} junk per kind",
        args.bots, args.window_s, args.junk
    );
    reject_cost(&hosts, &args)?;
    flood(&hosts, &args)?;
    steering(&hosts, &args)?;
    Ok(())
}
