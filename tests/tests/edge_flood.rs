//! The node behind its XDP edge in a network namespace, with real bots playing through it, while the
//! other namespace attacks: junk, spoofed session ids, wrong edge tags, replays of a live session's
//! own packets, and a ConnectionRequest flood from thousands of spoofed sources plus one source
//! hammering alone. Asserted:
//! * the bots are unaffected: all connected and placed to the end, none cut off, no snapshot stall;
//! * the edge counted each attack exactly as sent, by reason;
//! * user space saw none of the sealed junk (its drop counters for those reasons did not move) and,
//!   of the request flood, exactly what the edge's request budget let through (each then refused
//!   as a bad token).
//!
//! Processes: `meridian-node serve --xdp-iface …` in namespace b, `bots` in namespace a (both from
//! this workspace's target directory: run through `cargo test --workspace`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::{ClientConfig, GameClient, MoveCommand, dev_token};
use meridian_proto::packet::{PacketType, seal_packet};
use meridian_testkit::{ChildGuard, TwoHosts};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const CLUSTER_KEY: [u8; 32] = [0x42; 32];
const PORT: u16 = 7777;
const METRICS_PORT: u16 = 9100;
const BOTS: usize = 24;
const BOT_SESSION_BASE: u64 = 0x7000_0000;
const OWN_SESSION: u64 = 0x6000_0001;
/// Spoofed ConnectionRequests from distinct sources (10.201.0.0/16), sent as fast as possible.
const SPOOFED_REQUESTS: u32 = 4_000;
/// ConnectionRequests from one spoofed source (10.202.0.1).
const SINGLE_SOURCE_REQUESTS: u32 = 60;

fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join(name);
    assert!(
        path.is_file(),
        "{} missing: run `cargo test --workspace` (it builds every binary)",
        path.display()
    );
    path
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The node's metrics, scraped from inside its namespace, as (name{labels} → value) with the
/// `worker` label dropped and values summed over workers.
fn metrics(hosts: &TwoHosts) -> BTreeMap<String, f64> {
    let text = hosts
        .ns_b()
        .run(|| -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", METRICS_PORT))?;
            write!(stream, "GET /metrics HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            stream.read_to_string(&mut text)?;
            Ok(text)
        })
        .unwrap()
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else { continue };
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, labels)) => {
                let kept: Vec<&str> = labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|label| !label.starts_with("worker="))
                    .collect();
                if kept.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}{{{}}}", kept.join(","))
                }
            }
        };
        *out.entry(key).or_insert(0.0) += value;
    }
    out
}

fn edge(m: &BTreeMap<String, f64>, decision: &str) -> f64 {
    m.get(&format!("meridian_edge_decisions_total{{decision=\"{decision}\"}}"))
        .copied()
        .unwrap_or(0.0)
}

fn user_drop(m: &BTreeMap<String, f64>, reason: &str) -> f64 {
    m.get(&format!("meridian_drops_total{{reason=\"{reason}\"}}"))
        .copied()
        .unwrap_or(0.0)
}

fn token_drops(m: &BTreeMap<String, f64>) -> f64 {
    m.iter()
        .filter(|(key, _)| key.starts_with("meridian_drops_total{reason=\"token_"))
        .map(|(_, value)| value)
        .sum()
}

/// An IPv4/UDP datagram with the given source, for a raw socket (the kernel fills the IP checksum,
/// total length and id; a UDP checksum of 0 means none, which IPv4 allows).
fn spoofed_datagram(source: Ipv4Addr, destination: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(28 + payload.len());
    let total = (28 + payload.len()) as u16;
    packet.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    packet.extend_from_slice(&source.octets());
    packet.extend_from_slice(&destination.ip().octets());
    let udp_length = (8 + payload.len()) as u16;
    packet.extend_from_slice(&40_000u16.to_be_bytes());
    packet.extend_from_slice(&destination.port().to_be_bytes());
    packet.extend_from_slice(&udp_length.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    packet
}

/// What the attacker sent, by the edge decision it must land in.
#[derive(Debug, Default)]
struct Sent {
    bad_magic: u64,
    unknown_session: u64,
    bad_edge_tag: u64,
    replayed: u64,
    requests: u64,
    single_source_requests: u64,
}

#[test]
fn bots_play_unharmed_through_the_edge_while_junk_floods_and_every_drop_is_counted_by_reason() {
    let hosts = TwoHosts::new().expect("create topology");
    // Routes back to the spoofed sources through the veth, so the stack's reverse-path filter
    // lets through whatever the edge passes (the edge itself runs before it).
    for prefix in ["10.201.0.0/16", "10.202.0.0/16"] {
        hosts
            .ns_b()
            .ip(&["route", "add", prefix, "dev", &hosts.b.interface])
            .unwrap();
    }
    let server = SocketAddr::from((hosts.b.addr, PORT));
    let key_hex = hex(&CLUSTER_KEY);
    let node_log = std::fs::File::create(std::env::temp_dir().join("meridian-edge-flood-node.log")).unwrap();
    let _node = ChildGuard(
        Command::new("ip")
            .args(["netns", "exec", hosts.ns_b().name()])
            .arg(binary("meridian-node"))
            .args([
                "serve",
                "--listen",
                &server.to_string(),
                "--workers",
                "2",
                "--io",
                "mmsg",
            ])
            .args(["--zones", "1,2", "--cluster-key-hex", &key_hex, "--duration-s", "90"])
            .args(["--metrics-listen", &format!("127.0.0.1:{METRICS_PORT}")])
            .args(["--xdp-iface", &hosts.b.interface, "--xdp-mode", "native"])
            // Every bot shares namespace a's one address: a NAT of 24 players.
            .args(["--edge-source-pps", "100000", "--edge-source-burst", "20000"])
            .stdout(Stdio::null())
            .stderr(node_log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics(&hosts).contains_key("meridian_sessions") {
        assert!(
            Instant::now() < deadline,
            "the node did not start (see meridian-edge-flood-node.log)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let bots_out = std::env::temp_dir().join("meridian-edge-flood-bots.jsonl");
    let mut bots = ChildGuard(
        Command::new("ip")
            .args(["netns", "exec", hosts.ns_a().name()])
            .arg(binary("bots"))
            .args([
                "--server",
                &server.to_string(),
                "--bots",
                &BOTS.to_string(),
                "--threads",
                "1",
            ])
            .args(["--duration-s", "22", "--report-s", "1", "--json", "--zone-id", "1,2"])
            .args([
                "--cluster-key-hex",
                &key_hex,
                "--session-base",
                &BOT_SESSION_BASE.to_string(),
            ])
            .stdout(std::fs::File::create(&bots_out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while metrics(&hosts).get("meridian_sessions").copied().unwrap_or(0.0) < BOTS as f64 {
        assert!(Instant::now() < deadline, "the bots did not all connect");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The attacker's own legitimate session, whose packets it will replay.
    let (before, sent) = hosts.ns_a().run(|| attack(&hosts, server)).unwrap();
    // The node publishes the edge counters once a second.
    std::thread::sleep(Duration::from_millis(1_500));
    let after = metrics(&hosts);
    let delta = |f: &dyn Fn(&BTreeMap<String, f64>) -> f64| f(&after) - f(&before);
    eprintln!("sent: {sent:?}");
    for decision in [
        "drop_bad_magic",
        "drop_unknown_session",
        "drop_bad_edge_tag",
        "drop_replayed",
        "pass_request",
        "drop_request_budget",
        "drop_rate_limited_request_source",
        "pass_sealed",
    ] {
        eprintln!("edge {decision}: +{}", delta(&|m| edge(m, decision)));
    }

    assert_eq!(delta(&|m| edge(m, "drop_bad_magic")), sent.bad_magic as f64);
    assert_eq!(delta(&|m| edge(m, "drop_unknown_session")), sent.unknown_session as f64);
    assert_eq!(delta(&|m| edge(m, "drop_bad_edge_tag")), sent.bad_edge_tag as f64);
    assert_eq!(delta(&|m| edge(m, "drop_replayed")), sent.replayed as f64);
    let requests_passed = delta(&|m| edge(m, "pass_request"));
    assert_eq!(
        requests_passed
            + delta(&|m| edge(m, "drop_request_budget"))
            + delta(&|m| edge(m, "drop_rate_limited_request_source")),
        (sent.requests + sent.single_source_requests) as f64,
        "every ConnectionRequest got one decision"
    );
    assert!(
        delta(&|m| edge(m, "drop_rate_limited_request_source")) >= (sent.single_source_requests - 10) as f64,
        "one source gets its burst of 10 and no more"
    );
    assert!(
        requests_passed < sent.requests as f64 / 2.0,
        "the node-wide budget held most of the spoofed flood back: {requests_passed} passed"
    );
    // User space: nothing of the sealed junk, and exactly the requests the budget let through.
    for reason in ["bad_magic", "unknown_session", "bad_edge_tag", "replayed"] {
        assert_eq!(delta(&|m| user_drop(m, reason)), 0.0, "user space saw {reason} junk");
    }
    assert_eq!(
        delta(&token_drops),
        requests_passed,
        "each request the edge passed was refused in user space as a bad token"
    );

    // The bots played on unharmed to the end.
    let status = bots.0.wait().unwrap();
    assert!(status.success(), "bots exited with {status}");
    let reports = std::fs::read_to_string(&bots_out).unwrap();
    let last = reports.lines().last().expect("a final report");
    let report: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(report["ccu"], BOTS, "{last}");
    assert_eq!(report["placed"], BOTS, "{last}");
    assert_eq!(report["disconnected"], 0, "no bot was cut off: {last}");
    assert_eq!(report["stalls"]["count"], 0, "no bot stalled: {last}");
}

/// Runs in namespace a: connects its own session, then sends every kind of junk while keeping that
/// session alive (its recorded packets are replayed). Returns the node's metrics just before the
/// attack and what was sent.
fn attack(hosts: &TwoHosts, server: SocketAddr) -> (BTreeMap<String, f64>, Sent) {
    let mut rng = dev_token::SplitMix64(7);
    let token = dev_token::issue(&CLUSTER_KEY, OWN_SESSION, 1, server, now_us() / 1_000_000, &mut rng);
    let mut client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
    let socket = UdpSocket::bind((hosts.a.addr, 0)).unwrap();
    socket.set_nonblocking(true).unwrap();
    let still = MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    };
    let mut recorded: Vec<Vec<u8>> = Vec::new();
    let mut buf = [0u8; 2048];
    let mut drive = |client: &mut GameClient, recorded: &mut Vec<Vec<u8>>| {
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = client.handle(now_us(), from, &buf[..n]);
        }
        if client.is_connected() {
            let _ = client.tick(still);
        }
        while let Some(transmit) = client.poll_transmit(now_us()) {
            socket.send_to(&transmit.bytes, transmit.destination).unwrap();
            // Sealed packets only (a ConnectionRequest replayed is a request, not a replay).
            if transmit.bytes[1] & 0x0f != 0 {
                recorded.push(transmit.bytes);
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.is_placed() {
        assert!(Instant::now() < deadline, "the attacker's own session did not connect");
        drive(&mut client, &mut recorded);
        std::thread::sleep(Duration::from_millis(20));
    }
    // Play a moment so there are packets to replay.
    for _ in 0..150 {
        drive(&mut client, &mut recorded);
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = metrics(hosts);
    let junk = UdpSocket::bind((hosts.a.addr, 0)).unwrap();
    let mut sent = Sent::default();
    let wrong_key = [0x99u8; 16];
    let aead = [0x11u8; 32];
    let sealed = |session: u64, sequence: u64, key: &[u8; 16]| {
        let mut out = Vec::new();
        seal_packet(
            PacketType::Payload,
            session,
            sequence,
            key,
            &aead,
            &[0xAA; 24],
            &mut out,
        );
        out
    };
    // Replay only packets the session sent at least 40 newer ones after (each is then certainly a
    // copy the edge passed before, not one still in flight).
    let replayable = recorded.len().saturating_sub(40);
    assert!(
        replayable > 20,
        "too few packets recorded to replay: {}",
        recorded.len()
    );
    let mut replay_index = 0;
    let started = Instant::now();
    let mut step = 0u64;
    while started.elapsed() < Duration::from_secs(4) {
        step += 1;
        drive(&mut client, &mut recorded);
        for i in 0..5u64 {
            junk.send_to(&[0x4e; 64], server).unwrap();
            sent.bad_magic += 1;
            junk.send_to(&sealed(0xdead_0000 + step * 8 + i, step, &wrong_key), server)
                .unwrap();
            sent.unknown_session += 1;
            let bot = BOT_SESSION_BASE + (step + i) % BOTS as u64;
            junk.send_to(&sealed(bot, step, &wrong_key), server).unwrap();
            sent.bad_edge_tag += 1;
        }
        for _ in 0..2 {
            junk.send_to(&recorded[replay_index % replayable], server).unwrap();
            replay_index += 1;
            sent.replayed += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The ConnectionRequest flood: from thousands of spoofed sources, then from one.
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW))).unwrap();
    let destination = SocketAddrV4::new(hosts.b.addr, server.port());
    let request = |nonce: u32| {
        let mut payload = vec![0u8; 1024];
        payload[0] = 0x4d;
        payload[1] = 0x10;
        // A plausible expiry, so the token is refused for its seal, not its time.
        payload[2..10].copy_from_slice(&(now_us() / 1_000_000 + 20).to_le_bytes());
        payload[10..14].copy_from_slice(&nonce.to_le_bytes());
        payload
    };
    let target = SockAddr::from(destination);
    for n in 0..SPOOFED_REQUESTS {
        let source = Ipv4Addr::new(10, 201, (n >> 8) as u8, n as u8);
        raw.send_to(&spoofed_datagram(source, destination, &request(n)), &target)
            .unwrap();
        sent.requests += 1;
    }
    for n in 0..SINGLE_SOURCE_REQUESTS {
        raw.send_to(
            &spoofed_datagram(Ipv4Addr::new(10, 202, 0, 1), destination, &request(n)),
            &target,
        )
        .unwrap();
        sent.single_source_requests += 1;
    }
    // Keep the own session alive a moment more, then leave cleanly.
    for _ in 0..10 {
        drive(&mut client, &mut recorded);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        client.is_connected(),
        "the attacker's own session survived its own attack"
    );
    (before, sent)
}
