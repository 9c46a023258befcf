//! Processes for real: etcd (testkit), one `meridian-control assigner`, two `meridian-node serve
//! --control` nodes. The assigner spreads the zones over both nodes (each zone ticks on exactly one);
//! `kill -9` of one node → its zones tick on the other within the lease TTL plus the assigner's
//! reaction, measured from the nodes' own metrics.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{LEASE_TTL_S, log_file, ticks_per_zone};
use meridian_testkit::{ChildGuard, Etcd, free_tcp_port, free_udp_port};

mod common;

const ZONES: [u32; 4] = [1, 2, 3, 4];

/// A node of this test, its log in `<temp>/meridian-failover-<id>.log`.
fn start_node(etcd: &str, node_id: &str, metrics_port: u16) -> ChildGuard {
    let listen = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    common::start_node(
        etcd,
        node_id,
        listen,
        metrics_port,
        &"5c".repeat(32),
        2,
        log_file("failover", node_id),
    )
}

/// One `meridian-control assigner` for every zone of [`ZONES`], running at most `duration_s`.
fn start_assigner(etcd: &str, id: &str, duration_s: u64) -> ChildGuard {
    let zones = ZONES.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_meridian-control"))
            .args(["assigner", "--etcd", etcd, "--zones", &zones, "--id", id])
            .args([
                "--lease-ttl-s",
                &LEASE_TTL_S.to_string(),
                "--duration-s",
                &duration_s.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start meridian-control"),
    )
}

/// The zones whose tick count grows over `window` on the node behind `metrics_port`.
fn ticking_zones(metrics_port: u16, window: Duration) -> Vec<u32> {
    let before = ticks_per_zone(metrics_port);
    std::thread::sleep(window);
    let after = ticks_per_zone(metrics_port);
    after
        .iter()
        .filter(|(zone, count)| **count > before.get(zone).copied().unwrap_or(0.0))
        .map(|(zone, _)| *zone)
        .collect()
}

/// The zones ticking on each of two nodes over the same window.
fn ticking_on_both(metrics_a: u16, metrics_b: u16, window: Duration) -> (Vec<u32>, Vec<u32>) {
    let (before_a, before_b) = (ticks_per_zone(metrics_a), ticks_per_zone(metrics_b));
    std::thread::sleep(window);
    let grew = |before: &std::collections::BTreeMap<u32, f64>, after: std::collections::BTreeMap<u32, f64>| {
        after
            .into_iter()
            .filter(|(zone, count)| *count > before.get(zone).copied().unwrap_or(0.0))
            .map(|(zone, _)| zone)
            .collect::<Vec<u32>>()
    };
    (
        grew(&before_a, ticks_per_zone(metrics_a)),
        grew(&before_b, ticks_per_zone(metrics_b)),
    )
}

#[test]
fn a_killed_nodes_zones_tick_on_the_other_node_within_the_lease_ttl() {
    let etcd = Etcd::start().expect("etcd");
    let endpoint = etcd.endpoint();
    let _assigner = start_assigner(&endpoint, "test-assigner", 120);
    let (metrics_a, metrics_b) = (free_tcp_port(), free_tcp_port());
    let mut node_a = start_node(&endpoint, "node-a", metrics_a);
    let _node_b = start_node(&endpoint, "node-b", metrics_b);

    // Both nodes get zones; every zone ticks on exactly one of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (zones_a, zones_b) = loop {
        let (a, b) = ticking_on_both(metrics_a, metrics_b, Duration::from_millis(300));
        let mut all: Vec<u32> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        if !a.is_empty() && !b.is_empty() && all == ZONES {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "zones never spread over both nodes: a {a:?}, b {b:?}"
        );
    };
    // Two owners would show as one zone ticking on both nodes.
    assert!(
        zones_a.iter().all(|zone| !zones_b.contains(zone)),
        "a {zones_a:?}, b {zones_b:?}"
    );

    // kill -9 node a: its lease expires after the TTL, the assigner moves its zones to b.
    let killed_at = Instant::now();
    node_a.0.kill().unwrap();
    node_a.0.wait().unwrap();
    loop {
        let ticking = ticking_zones(metrics_b, Duration::from_millis(200));
        if zones_a.iter().all(|zone| ticking.contains(zone)) {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(LEASE_TTL_S + 7),
            "a's zones {zones_a:?} not ticking on b after {:?} (b ticks {ticking:?})",
            killed_at.elapsed()
        );
    }
    let failover = killed_at.elapsed();
    eprintln!("failover: node a killed -> its zones {zones_a:?} ticking on node b after {failover:?}");
    assert!(
        failover <= Duration::from_secs(LEASE_TTL_S + 3),
        "failover took {failover:?} with a {LEASE_TTL_S} s lease"
    );
}

/// The failover figure (`cargo test --release -p meridian-control --test node_failover --
/// --ignored --nocapture`, after `cargo build --release -p meridian-node`): 20 `kill -9`s, alternating
/// between the two nodes (the killed one restarts and gets zones back), each timed from the kill to
/// every one of the victim's zones ticking on the survivor. Prints p50 / p99 / max.
#[test]
#[ignore = "a figure (about 3 minutes), not a check"]
fn failover_figure_over_twenty_kills() {
    const KILLS: usize = 20;
    let etcd = Etcd::start().expect("etcd");
    let endpoint = etcd.endpoint();
    let _assigner = start_assigner(&endpoint, "figure-assigner", 600);
    let metrics = [free_tcp_port(), free_tcp_port()];
    let ids = ["node-a", "node-b"];
    let mut nodes = [
        start_node(&endpoint, ids[0], metrics[0]),
        start_node(&endpoint, ids[1], metrics[1]),
    ];
    let mut samples = Vec::new();
    for kill in 0..KILLS {
        let (victim, survivor) = (kill % 2, 1 - kill % 2);
        // Wait until the victim serves zones again (after its restart) and the zones are spread.
        let deadline = Instant::now() + Duration::from_secs(60);
        let victim_zones = loop {
            let (a, b) = ticking_on_both(metrics[0], metrics[1], Duration::from_millis(300));
            let (mine, theirs) = if victim == 0 { (a, b) } else { (b, a) };
            let mut all: Vec<u32> = mine.iter().chain(&theirs).copied().collect();
            all.sort_unstable();
            if !mine.is_empty() && all == ZONES && mine.iter().all(|zone| !theirs.contains(zone)) {
                break mine;
            }
            assert!(
                Instant::now() < deadline,
                "kill {kill}: zones never came back to {}",
                ids[victim]
            );
        };
        let killed_at = Instant::now();
        nodes[victim].0.kill().unwrap();
        nodes[victim].0.wait().unwrap();
        loop {
            let ticking = ticking_zones(metrics[survivor], Duration::from_millis(50));
            if victim_zones.iter().all(|zone| ticking.contains(zone)) {
                break;
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "kill {kill}: no failover"
            );
        }
        let failover = killed_at.elapsed();
        eprintln!(
            "kill {kill}: {} zones {victim_zones:?} on {} after {failover:?}",
            ids[victim], ids[survivor]
        );
        samples.push(failover);
        nodes[victim] = start_node(&endpoint, ids[victim], metrics[victim]);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "failover over {KILLS} kills, lease {LEASE_TTL_S} s: p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        samples[samples.len() - 1]
    );
}
