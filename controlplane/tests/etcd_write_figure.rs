//! Figure (ignored; run once, release): the etcd writes the control plane needs per session and per
//! handoff, measured end to end against real processes, and the write rate etcd sustains on this
//! machine, measured in the same run. `perf/RESULTS.md` turns them into a 100,000-CCU budget.
//!
//! A "write" here is a raft proposal etcd commits (`etcd_server_proposals_committed_total` from
//! etcd's own /metrics): what bounds etcd's throughput, whatever a transaction holds. Lease
//! keep-alives are not proposals in etcd 3.4 (the leader renews leases without raft).
//!
//! Run: `cargo test --release -p meridian-control --test etcd_write_figure -- --ignored --nocapture`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{binary, log_file, metrics_text, sessions, start_assigner, start_auth, start_node};
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};
use meridian_control::registry::{assign_key, route_key};
use meridian_control::routes::{Route, commit_owner, open_ticket};
use meridian_testkit::{ChildGuard, Etcd, Postgres, free_tcp_port, free_udp_port};

mod common;

const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d6669677572652d746573742d6b65792d30303030303030";
const BOTS: u32 = 300;

/// etcd's committed proposals so far, from its /metrics endpoint.
fn proposals(endpoint: &str) -> f64 {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("etcd metrics");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("etcd_server_proposals_committed_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("etcd_server_proposals_committed_total")
}

/// Proposals per second over `window` while nothing but the given processes run.
fn background_rate(endpoint: &str, window: Duration) -> f64 {
    let before = proposals(endpoint);
    std::thread::sleep(window);
    (proposals(endpoint) - before) / window.as_secs_f64()
}

/// The fenced route write (compare the zone's assignment revision, put the route) from `tasks`
/// concurrent clients for `window`, `puts_per_txn` routes per transaction: transactions/s and
/// routes/s etcd sustains.
async fn write_capacity(endpoint: &str, tasks: usize, puts_per_txn: usize, window: Duration) -> (f64, f64) {
    let mut client = Client::connect([endpoint], None).await.unwrap();
    let lease = client.lease_grant(60, None).await.unwrap().id();
    let token = client
        .put(assign_key(900), "{}", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let route = serde_json::to_vec(&Route {
        node: "capacity".into(),
        worker: 0,
        zone: 900,
        token,
    })
    .unwrap();
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (mut client, route) = (client.clone(), route.clone());
        handles.push(tokio::spawn(async move {
            let mut txns = 0u64;
            let mut session = (task as u64) << 40;
            while Instant::now() < deadline {
                let puts: Vec<TxnOp> = (0..puts_per_txn)
                    .map(|_| {
                        session += 1;
                        TxnOp::put(
                            route_key(session),
                            route.clone(),
                            Some(PutOptions::new().with_lease(lease)),
                        )
                    })
                    .collect();
                let txn = Txn::new()
                    .when([Compare::mod_revision(assign_key(900), CompareOp::Equal, token)])
                    .and_then(puts);
                assert!(client.txn(txn).await.unwrap().succeeded());
                txns += 1;
            }
            txns
        }));
    }
    let mut txns = 0;
    for handle in handles {
        txns += handle.await.unwrap();
    }
    client.lease_revoke(lease).await.unwrap();
    let seconds = window.as_secs_f64();
    (txns as f64 / seconds, (txns as usize * puts_per_txn) as f64 / seconds)
}

#[test]
#[ignore = "a figure (about a minute), not a check"]
fn etcd_writes_per_session_and_etcd_capacity() {
    let etcd = Etcd::start().expect("etcd");
    let postgres = Postgres::start().expect("postgres");
    let endpoint = etcd.endpoint();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 1. What etcd sustains here (nothing else running).
    for (tasks, puts) in [(1, 1), (16, 1), (64, 1), (16, 64)] {
        let (txns_s, routes_s) = runtime.block_on(write_capacity(&endpoint, tasks, puts, Duration::from_secs(5)));
        println!(
            "etcd capacity: {tasks:>2} clients x {puts:>2} routes/txn: {txns_s:>8.0} txn/s = {routes_s:>8.0} routes/s"
        );
    }

    // 2. A handoff's writes: open a ticket, commit the new owner.
    let handoffs = 200;
    let before = proposals(&endpoint);
    runtime.block_on(async {
        let mut client = Client::connect([endpoint.as_str()], None).await.unwrap();
        let token = client
            .put(assign_key(901), "{}", None)
            .await
            .unwrap()
            .header()
            .unwrap()
            .revision();
        for session in 0..handoffs {
            let to = Route {
                node: "b".into(),
                worker: 1,
                zone: 901,
                token,
            };
            let ticket = format!("t{session}");
            open_ticket(&mut client, &ticket, session, to, u64::MAX).await.unwrap();
            commit_owner(&mut client, &ticket, 0).await.unwrap();
        }
    });
    let per_handoff = (proposals(&endpoint) - before - 1.0) / handoffs as f64;
    println!("per handoff (open + commit): {per_handoff:.2} proposals");

    // 3. A session's writes, end to end: login (route under the pending lease), connect (route
    //    under the node's lease), leave (route deleted), with real processes.
    let _assigner = start_assigner(&endpoint, "1,2", "etcd-figure");
    let metrics_port = free_tcp_port();
    let game_addr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let _node = start_node(
        &endpoint,
        "node-1",
        game_addr,
        metrics_port,
        CLUSTER_KEY_HEX,
        2,
        log_file("etcd-figure", "node"),
    );
    let (_auth, auth_port, cert) = start_auth(&endpoint, &postgres.connection_string(), CLUSTER_KEY_HEX, "etcd-figure");
    std::thread::sleep(Duration::from_secs(3));
    let background = background_rate(&endpoint, Duration::from_secs(10));
    println!("background (assigner + 1 node + login API, idle): {background:.2} proposals/s");

    let before = proposals(&endpoint);
    let started = Instant::now();
    let mut bots = ChildGuard(
        Command::new(binary("bots"))
            .args(["--bots", &BOTS.to_string(), "--threads", "1", "--duration-s", "25"])
            .args(["--cluster-key-hex", CLUSTER_KEY_HEX])
            .args(["--login", &format!("https://127.0.0.1:{auth_port}")])
            .args(["--login-ca", cert.to_str().unwrap(), "--login-concurrency", "8"])
            .stdout(Stdio::null())
            .stderr(log_file("etcd-figure", "bots"))
            .spawn()
            .unwrap(),
    );
    let mut peak = 0.0f64;
    while bots.0.try_wait().unwrap().is_none() {
        peak = peak.max(sessions(metrics_port));
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every route gone again (the bots said goodbye; the node deleted their routes).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics_text(metrics_port).contains("meridian_routes_owned 0") {
        assert!(Instant::now() < deadline, "routes left behind");
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let spent = proposals(&endpoint) - before - background * elapsed;
    let metrics = metrics_text(metrics_port);
    println!("sessions: {BOTS} bots, peak {peak} on the node; node route metrics:");
    for line in metrics
        .lines()
        .filter(|line| line.starts_with("meridian_route_writes_total"))
    {
        println!("  {line}");
    }
    println!(
        "per session (login + connect + leave): {:.2} proposals ({spent:.0} over {elapsed:.1} s, background removed)",
        spent / f64::from(BOTS)
    );
    assert!(peak >= f64::from(BOTS), "not every bot joined");
}
