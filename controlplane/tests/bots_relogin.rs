//! Players survive their node's death by logging in again: a bot swarm logged in over HTTPS plays on
//! the node that serves zone 1; that node is `kill -9`ed; the control plane moves the zone to the
//! other node; every bot's session times out, the bot logs in again, gets a token for the new owner
//! and plays there. Everything is a real process (etcd, Postgres, assigner, login API, two nodes,
//! the bots binary).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{binary, log_file, sessions, start_assigner, start_auth};
use meridian_testkit::{ChildGuard, Etcd, Postgres, free_tcp_port, free_udp_port};

mod common;
use serde_json::Value;

const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d72656c6f67696e2d746573742d6b65792d303030303030";
const BOTS: u32 = 12;

fn start_node(etcd: &str, node_id: &str, metrics_port: u16) -> ChildGuard {
    let listen = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    common::start_node(
        etcd,
        node_id,
        listen,
        metrics_port,
        CLUSTER_KEY_HEX,
        1,
        log_file("relogin", node_id),
    )
}

#[test]
fn bots_log_in_again_and_play_on_the_new_owner_after_their_node_is_killed() {
    let etcd = Etcd::start().expect("etcd");
    let postgres = Postgres::start().expect("postgres");
    let endpoint = etcd.endpoint();
    let _assigner = start_assigner(&endpoint, "1", "relogin");
    let metrics = [free_tcp_port(), free_tcp_port()];
    let mut nodes = [
        start_node(&endpoint, "node-a", metrics[0]),
        start_node(&endpoint, "node-b", metrics[1]),
    ];
    let (_auth, auth_port, cert) = start_auth(&endpoint, &postgres.connection_string(), CLUSTER_KEY_HEX, "relogin");
    let deadline = Instant::now() + Duration::from_secs(60);
    let bots = Command::new(binary("bots"))
        .args([
            "--bots",
            &BOTS.to_string(),
            "--threads",
            "1",
            "--duration-s",
            "40",
            "--report-s",
            "1",
            "--json",
        ])
        .args([
            "--cluster-key-hex",
            CLUSTER_KEY_HEX,
            "--login",
            &format!("https://127.0.0.1:{auth_port}"),
        ])
        .args(["--login-ca", cert.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(log_file("relogin", "bots"))
        .spawn()
        .unwrap();
    let mut bots = ChildGuard(bots);
    // Every bot plays on one node (zone 1's owner); kill that node.
    let owner = loop {
        let counts = [sessions(metrics[0]), sessions(metrics[1])];
        if let Some(owner) = (0..2).find(|&node| counts[node] >= f64::from(BOTS)) {
            break owner;
        }
        assert!(
            Instant::now() < deadline,
            "the bots never all joined: sessions {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    nodes[owner].0.kill().unwrap();
    nodes[owner].0.wait().unwrap();
    let killed_at = Instant::now();
    // They come back on the other node.
    let survivor = 1 - owner;
    while sessions(metrics[survivor]) < f64::from(BOTS) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(28),
            "bots not back after {:?}: {} sessions on the survivor",
            killed_at.elapsed(),
            sessions(metrics[survivor])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "all {BOTS} bots playing on the surviving node {:?} after the kill",
        killed_at.elapsed()
    );
    // The swarm's own account of it.
    let mut output = String::new();
    bots.0.stdout.take().unwrap().read_to_string(&mut output).unwrap();
    let _ = bots.0.wait();
    let last: Value = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .next_back()
        .expect("a report from the swarm");
    assert_eq!(last["login"]["failed"], 0, "{last}");
    assert!(last["login"]["relogins"].as_u64().unwrap() >= u64::from(BOTS), "{last}");
    assert_eq!(last["placed"], u64::from(BOTS), "{last}");
}
