//! The `sk_reuseport` steering program with real sockets (aya has no `BPF_PROG_TEST_RUN` for it):
//! two worker sockets share one address through `SO_REUSEPORT`, bound the way the node's workers
//! bind (`dgram_io::bind_reuseport`); sessions in the edge's map point at worker 0 or 1; sealed
//! datagrams from many client sockets (so many 4-tuples, which the kernel's hash would spread) all
//! land on their session's worker, and after a re-route in the map, on the new one. Requests and
//! unknown sessions fall back to the hash and are counted as such.

use std::{
    collections::HashMap,
    net::{SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

use meridian_node::{
    dgram_io::bind_reuseport,
    edge::{Edge, EdgeConfig, EdgeCounter, EdgeCounts, SessionEntry},
};
use meridian_proto::packet::{PacketType, seal_packet};

const CLIENTS: usize = 8;
const PER_CLIENT: u64 = 10;
const EDGE_KEY: [u8; 16] = [7; 16];

fn sealed(session: u64, sequence: u64) -> Vec<u8> {
    let mut out = Vec::new();
    seal_packet(
        PacketType::Payload,
        session,
        sequence,
        &EDGE_KEY,
        &[9; 32],
        &[1, 2, 3],
        &mut out,
    );
    out
}

fn entry(worker: u32) -> SessionEntry {
    SessionEntry {
        edge_key: EDGE_KEY,
        worker,
        zone: worker + 1,
        route_revision: 1,
        sequence_seen: 0,
        seen_mask: 0,
    }
}

/// Receives until `expected` datagrams arrived over both workers (or 5 s passed), then drains
/// whatever else is queued; returns, per worker, the session id of every datagram it got.
fn receive(workers: &[UdpSocket; 2], expected: usize) -> [Vec<u64>; 2] {
    let mut got: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 1500];
    let mut idle_rounds = 0;
    while Instant::now() < deadline {
        let mut any = false;
        for (worker, socket) in workers.iter().enumerate() {
            while let Ok(bytes) = socket.recv(&mut buf) {
                got[worker].push(u64::from_le_bytes(buf[2..10].try_into().unwrap()));
                assert!(bytes >= 10);
                any = true;
            }
        }
        if got[0].len() + got[1].len() >= expected {
            // A short grace period to catch any datagram that should not have come.
            idle_rounds += 1;
            if idle_rounds > 20 {
                break;
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    got
}

fn tally(ids: &[u64]) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(*id).or_default() += 1;
    }
    counts
}

fn send_round(clients: &[UdpSocket], to: SocketAddr, sessions: &[u64], sequence: &mut u64) {
    for client in clients {
        for _ in 0..PER_CLIENT {
            for &session in sessions {
                client.send_to(&sealed(session, *sequence), to).unwrap();
            }
            *sequence += 1;
        }
    }
}

fn delta(edge: &Edge, before: &EdgeCounts) -> EdgeCounts {
    edge.counters().unwrap().since(before)
}

#[test]
fn sessions_land_on_their_worker_and_follow_a_reroute() {
    let first = bind_reuseport("127.0.0.1:0".parse().unwrap()).expect("bind worker 0");
    let address = first.local_addr().unwrap();
    let second = bind_reuseport(address).expect("bind worker 1 to the same address");
    let workers = [first, second];
    for socket in &workers {
        socket.set_nonblocking(true).unwrap();
    }
    let mut edge = Edge::load(EdgeConfig::for_port(address.port())).expect("load the edge (root needed)");
    edge.attach_steering(&workers).expect("attach steering to the group");
    let (session_a, session_b, unknown) = (0xA0A0_u64, 0xB0B0_u64, 0xC0C0_u64);
    edge.sessions().insert(session_a, entry(0)).unwrap();
    edge.sessions().insert(session_b, entry(1)).unwrap();

    let clients: Vec<UdpSocket> = (0..CLIENTS).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let mut sequence = 0;
    let per_session = CLIENTS * PER_CLIENT as usize;

    // Every datagram of each session lands on its worker, whatever 4-tuple it came from.
    let before = edge.counters().unwrap();
    send_round(&clients, address, &[session_a, session_b], &mut sequence);
    let got = receive(&workers, 2 * per_session);
    assert_eq!(
        tally(&got[0]),
        HashMap::from([(session_a, per_session)]),
        "worker 0 got only session A"
    );
    assert_eq!(
        tally(&got[1]),
        HashMap::from([(session_b, per_session)]),
        "worker 1 got only session B"
    );
    assert_eq!(
        delta(&edge, &before).get(EdgeCounter::SteerSession),
        2 * per_session as u64
    );

    // Handoff: session A moves to worker 1; its next datagrams follow.
    assert!(edge.sessions().reroute(session_a, 1, 2, 2).unwrap());
    send_round(&clients, address, &[session_a, session_b], &mut sequence);
    let got = receive(&workers, 2 * per_session);
    assert!(got[0].is_empty(), "worker 0 owns nothing now, got {:?}", tally(&got[0]));
    assert_eq!(
        tally(&got[1]),
        HashMap::from([(session_a, per_session), (session_b, per_session)])
    );

    // Unknown sessions and ConnectionRequests are left to the kernel's hash: they arrive (on
    // either worker) and are counted as fallbacks.
    let before = edge.counters().unwrap();
    send_round(&clients, address, &[unknown], &mut sequence);
    let mut request = vec![0x4d, 0x10];
    request.resize(1024, 0);
    for client in &clients {
        client.send_to(&request, address).unwrap();
    }
    let got = receive(&workers, per_session + CLIENTS);
    assert_eq!(got[0].len() + got[1].len(), per_session + CLIENTS);
    let counts = delta(&edge, &before);
    assert_eq!(counts.get(EdgeCounter::SteerFallbackUnknownSession), per_session as u64);
    assert_eq!(counts.get(EdgeCounter::SteerFallbackRequest), CLIENTS as u64);
    assert_eq!(counts.get(EdgeCounter::SteerSession), 0);

    // A session pointing at a worker index with no socket falls back to the hash too.
    edge.sessions().insert(session_b, entry(5)).unwrap();
    let before = edge.counters().unwrap();
    clients[0].send_to(&sealed(session_b, sequence), address).unwrap();
    let got = receive(&workers, 1);
    assert_eq!(got[0].len() + got[1].len(), 1);
    assert_eq!(delta(&edge, &before).get(EdgeCounter::SteerFallbackNoSocket), 1);

    // Detached, the program no longer runs.
    edge.detach_steering().unwrap();
    let before = edge.counters().unwrap();
    clients[0].send_to(&sealed(session_a, sequence + 1), address).unwrap();
    let got = receive(&workers, 1);
    assert_eq!(got[0].len() + got[1].len(), 1);
    let counts = delta(&edge, &before);
    assert_eq!(
        counts.iter().map(|(_, count)| count).sum::<u64>(),
        0,
        "no steering decision after detach"
    );
}
