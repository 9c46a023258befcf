//! Fencing when a node is cut off from etcd, over real processes: node A reaches etcd through a TCP
//! proxy the test controls, node B directly. When the proxy cuts A off, A must stop ticking its zones
//! on its own (it cannot hear that they were taken) **before** etcd expires its lease and the
//! assigner gives them to B: no zone ever ticks on two nodes. Measured from both nodes' metrics.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LEASE_TTL_S, log_file, ticks_per_zone};
use meridian_testkit::{ChildGuard, Etcd, free_tcp_port, free_udp_port};

mod common;

const ZONES: [u32; 4] = [1, 2, 3, 4];
/// Connections the proxy holds at most (a node's etcd client opens a few).
const PROXY_CONNECTIONS_MAX: usize = 64;

/// A TCP proxy to etcd that can cut every connection and refuse new ones (a partition).
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (cut_flag, open_list) = (Arc::clone(&cut), Arc::clone(&open));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut_flag.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                {
                    let mut open = open_list.lock().unwrap();
                    if open.len() >= PROXY_CONNECTIONS_MAX {
                        continue;
                    }
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, cut, open }
    }

    /// Cuts every connection and refuses new ones from now on.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A node of this test, its log in `<temp>/meridian-partition-<id>.log`.
fn start_node(etcd: &str, node_id: &str, metrics_port: u16) -> ChildGuard {
    let listen = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    common::start_node(
        etcd,
        node_id,
        listen,
        metrics_port,
        &"5c".repeat(32),
        2,
        log_file("partition", node_id),
    )
}

#[test]
fn a_node_cut_off_from_etcd_stops_its_zones_before_another_node_starts_them() {
    let etcd = Etcd::start().expect("etcd");
    let endpoint = etcd.endpoint();
    let proxy = Proxy::start(etcd.client_port());
    let zones = ZONES.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let _assigner = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_meridian-control"))
            .args([
                "assigner",
                "--etcd",
                &endpoint,
                "--zones",
                &zones,
                "--id",
                "partition-assigner",
            ])
            .args(["--lease-ttl-s", &LEASE_TTL_S.to_string(), "--duration-s", "120"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start meridian-control"),
    );
    let (metrics_a, metrics_b) = (free_tcp_port(), free_tcp_port());
    let _node_a = start_node(&format!("http://127.0.0.1:{}", proxy.port), "node-a", metrics_a);
    let _node_b = start_node(&endpoint, "node-b", metrics_b);

    // Wait until the zones are spread and note which tick on A.
    let deadline = Instant::now() + Duration::from_secs(30);
    let zones_a: Vec<u32> = loop {
        let (a0, b0) = (ticks_per_zone(metrics_a), ticks_per_zone(metrics_b));
        std::thread::sleep(Duration::from_millis(300));
        let (a1, b1) = (ticks_per_zone(metrics_a), ticks_per_zone(metrics_b));
        let grew = |before: &BTreeMap<u32, f64>, after: &BTreeMap<u32, f64>| -> Vec<u32> {
            after
                .iter()
                .filter(|(z, c)| **c > before.get(z).copied().unwrap_or(0.0))
                .map(|(z, _)| *z)
                .collect()
        };
        let (a, b) = (grew(&a0, &a1), grew(&b0, &b1));
        if !a.is_empty() && !b.is_empty() && a.len() + b.len() == ZONES.len() {
            break a;
        }
        assert!(Instant::now() < deadline, "zones never spread: a {a:?}, b {b:?}");
    };

    // Cut A off from etcd; watch both nodes every 50 ms.
    let cut_at = Instant::now();
    proxy.cut();
    let mut previous = (ticks_per_zone(metrics_a), ticks_per_zone(metrics_b));
    let mut a_last_tick: BTreeMap<u32, Duration> = BTreeMap::new();
    let mut b_first_tick: BTreeMap<u32, Duration> = BTreeMap::new();
    while cut_at.elapsed() < Duration::from_secs(15) && b_first_tick.len() < zones_a.len() {
        std::thread::sleep(Duration::from_millis(50));
        let now = (ticks_per_zone(metrics_a), ticks_per_zone(metrics_b));
        let at = cut_at.elapsed();
        for zone in &zones_a {
            if now.0.get(zone).copied().unwrap_or(0.0) > previous.0.get(zone).copied().unwrap_or(0.0) {
                a_last_tick.insert(*zone, at);
            }
            if now.1.get(zone).copied().unwrap_or(0.0) > previous.1.get(zone).copied().unwrap_or(0.0) {
                b_first_tick.entry(*zone).or_insert(at);
            }
        }
        previous = now;
    }
    for zone in &zones_a {
        let b_first = *b_first_tick
            .get(zone)
            .unwrap_or_else(|| panic!("zone {zone} never ticked on B"));
        let a_last = a_last_tick.get(zone).copied().unwrap_or(Duration::ZERO);
        eprintln!("zone {zone}: last tick on A (cut off) by {a_last:?}, first on B by {b_first:?}");
        // Sampled every 50 ms: A's last tick happened by `a_last`, B's first after the sample before
        // `b_first`; a full sample between them means they never overlapped.
        assert!(
            a_last + Duration::from_millis(50) < b_first,
            "zone {zone} ticked on A until {a_last:?} and on B from {b_first:?}: two owners"
        );
        assert!(
            a_last < Duration::from_secs(LEASE_TTL_S),
            "A kept ticking zone {zone} for {a_last:?}"
        );
    }
}
