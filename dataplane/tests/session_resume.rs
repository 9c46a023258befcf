//! The node's side of a session resume after a failover, in-process with a real Redis: which
//! records a node taking a zone over offers for resume, and what a packet must prove to resume one.
//! Records are written the way a dead node left them (sealed keys, hints, its fencing token); the
//! client is raw sealed packets over UDP, so the test controls keys and sequences exactly. The whole
//! path with SDK clients, two node processes, etcd and the assigner is
//! `controlplane/tests/session_resume.rs`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use meridian_hotstate::{RedisLink, ResumeHints, SessionRecord, SessionResume, SessionStore};
use meridian_node::dgram_io::IoBackend;
use meridian_node::hot::HotSettings;
use meridian_node::node::{Node, NodeConfig};
use meridian_proto::connection::RESUME_SEQUENCE_JUMP;
use meridian_proto::endpoint::SessionKeys;
use meridian_proto::packet::{PacketType, read_sealed_header, seal_packet};
use meridian_testkit::Redis;
use meridian_zone::ZoneConfig;

const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
const ZONE: u32 = 4;
/// The dead owner's token; this node takes the zone over under `NEW_TOKEN`.
const OLD_TOKEN: u64 = 7;
const NEW_TOKEN: u64 = 9;
const RECEIVED_HINT: u64 = 40;
const SENT_HINT: u64 = 100;

fn keys(seed: u8) -> SessionKeys {
    SessionKeys {
        client_to_server_key: [seed; 32],
        server_to_client_key: [seed + 1; 32],
        edge_key: [seed + 2; 16],
    }
}

fn record(session_id: u64, token: u64, sealed_keys: Vec<u8>) -> SessionRecord {
    SessionRecord {
        character_id: session_id,
        account_id: 0,
        node_id: "dead-node".into(),
        zone_id: ZONE,
        session_id,
        fencing_token: token,
        resume: Some(SessionResume {
            sealed_keys,
            hints: ResumeHints {
                client_address: Some("127.0.0.1:9".parse().unwrap()),
                received_sequence: Some(RECEIVED_HINT),
                sent_sequence: SENT_HINT,
                position_m: Some([50.0, 60.0, 0.0]),
                entity: Some(3),
            },
        }),
    }
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A sealed Payload with no frames (an ack header only), as a client's keep-alive.
fn payload(session_id: u64, sequence: u64, keys: &SessionKeys) -> Vec<u8> {
    let mut out = Vec::new();
    seal_packet(
        PacketType::Payload,
        session_id,
        sequence,
        &keys.edge_key,
        &keys.client_to_server_key,
        &[0u8; 12],
        &mut out,
    );
    out
}

#[test]
fn only_the_dead_owners_records_are_offered_and_only_a_packet_under_their_keys_resumes() {
    let redis = Redis::start().expect("start redis");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = SessionStore::new(RedisLink::new(&redis.url()).unwrap(), Duration::from_secs(60));
    let good = keys(10);
    let put = |id: u64, record: SessionRecord| runtime.block_on(store.put(id, &record)).unwrap();
    // The dead owner's session: resumable.
    put(
        8_002,
        record(8_002, OLD_TOKEN, good.seal(&CLUSTER_KEY, 8_002, [1; 24]).to_vec()),
    );
    // A zombie of an older owner kept writing: stale.
    put(
        8_001,
        record(8_001, 5, keys(20).seal(&CLUSTER_KEY, 8_001, [2; 24]).to_vec()),
    );
    // Sealed with another cluster's key: does not open.
    put(
        8_003,
        record(8_003, OLD_TOKEN, keys(30).seal(&[0x11; 32], 8_003, [3; 24]).to_vec()),
    );
    // Another session's sealed keys copied under this id: does not open either.
    put(
        8_005,
        record(8_005, OLD_TOKEN, keys(40).seal(&CLUSTER_KEY, 8_006, [4; 24]).to_vec()),
    );
    // Written under a token newer than this node's: not touched.
    put(
        8_004,
        record(8_004, 12, keys(50).seal(&CLUSTER_KEY, 8_004, [5; 24]).to_vec()),
    );

    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![],
        zone_config: ZoneConfig::default(),
        session_events: false,
        edge: None,
        persistence: None,
        hot: Some(HotSettings::new(redis.url(), "node-b".into())),
        world: None,
    })
    .unwrap();
    // The zone's new owner is worker 1: a client's packet hashed to worker 0 is routed there.
    node.serve_zone(ZONE, 1, NEW_TOKEN).unwrap();
    let counters = node.hot_counters().unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || counters
            .resumables_offered
            .load(Ordering::Relaxed)
            == 1),
        "the dead owner's session is offered"
    );
    assert_eq!(counters.resumables_stale.load(Ordering::Relaxed), 1);
    assert_eq!(counters.resumables_bad_keys.load(Ordering::Relaxed), 2);
    assert_eq!(counters.resumables_newer.load(Ordering::Relaxed), 1);

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let resumed = || counters.sessions_resumed.load(Ordering::Relaxed);
    let sessions = || {
        node.gauges()
            .iter()
            .map(|gauges| gauges.sessions.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let mut buf = [0u8; 2048];

    // Under a wrong client→server key: dropped, nothing answered, the entry stays.
    let forged = SessionKeys {
        client_to_server_key: [0xee; 32],
        ..good.clone()
    };
    client
        .send_to(&payload(8_002, RECEIVED_HINT + 1, &forged), listen)
        .unwrap();
    // A packet the dead node may already have taken (at the hint): a replay.
    client.send_to(&payload(8_002, RECEIVED_HINT, &good), listen).unwrap();
    // A stale or foreign record's session: unknown.
    client.send_to(&payload(8_001, 1_000, &keys(20)), listen).unwrap();
    assert!(client.recv_from(&mut buf).is_err(), "no answer to refused packets");
    assert_eq!(resumed(), 0);
    assert_eq!(sessions(), 0);

    // The real client's next packet resumes at once and is answered past the nonce jump.
    client
        .send_to(&payload(8_002, RECEIVED_HINT + 1, &good), listen)
        .unwrap();
    let (n, from) = client.recv_from(&mut buf).expect("the resumed session answers");
    assert_eq!(from, listen);
    let header = read_sealed_header(&buf[..n]).unwrap();
    assert_eq!(header.session_id, 8_002);
    assert!(
        header.sequence >= SENT_HINT + RESUME_SEQUENCE_JUMP,
        "sequence {} reuses the old server's nonces",
        header.sequence
    );
    assert!(wait_for(Duration::from_secs(2), || resumed() == 1 && sessions() == 1));
    // The record now names this node under its token.
    assert!(wait_for(Duration::from_secs(2), || {
        runtime
            .block_on(store.get(8_002))
            .unwrap()
            .is_some_and(|record| record.node_id == "node-b" && record.fencing_token == NEW_TOKEN)
    }));
    node.stop().unwrap();
}
