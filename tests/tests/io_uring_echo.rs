//! io_uring smoke test: a UDP echo over loopback served by `meridian-node`'s io_uring responder.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{Arc, atomic::{AtomicBool, Ordering}},
    time::Duration,
};

use meridian_node::uring_udp::{UdpWorkerStats, UringUdpConfig, UringUdpResponder, bind_reuseport};

const DATAGRAMS: u64 = 2_048; // a whole number of windows
const WINDOW: u64 = 32;

#[test]
fn io_uring_udp_echo_over_loopback() {
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(UdpWorkerStats::default());
    let socket = bind_reuseport("127.0.0.1:0".parse().unwrap()).expect("bind");
    let server_addr: SocketAddr = socket.local_addr().unwrap();
    let worker = {
        let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
        std::thread::spawn(move || {
            let mut responder = UringUdpResponder::new(socket, &UringUdpConfig::default(), stats)
                .expect("io_uring set-up");
            responder.run(&stop, |request, _peer, reply| {
                // Echo everything except the word "ignore", which tests the no-reply path.
                if request == b"ignore" {
                    return None;
                }
                reply[..request.len()].copy_from_slice(request);
                Some(request.len())
            })
        })
    };

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    let mut echoed = 0u64;
    for window in 0..DATAGRAMS / WINDOW {
        let mut expected = Vec::new();
        for i in 0..WINDOW {
            // Varying sizes, including an empty datagram and one near the 1200-byte MTU.
            let seq = window * WINDOW + i;
            let len = (seq as usize * 37) % 1200;
            let payload: Vec<u8> = (0..len).map(|b| (b as u64 ^ seq) as u8).collect();
            client.send_to(&payload, server_addr).unwrap();
            expected.push(payload);
        }
        let mut got = Vec::new();
        for _ in 0..WINDOW {
            let (n, from) = client.recv_from(&mut buf).expect("echo within 5 s");
            assert_eq!(from, server_addr);
            got.push(buf[..n].to_vec());
            echoed += 1;
        }
        // Several recv slots may complete in any order; compare as multisets.
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "window {window}");
    }
    client.send_to(b"ignore", server_addr).unwrap();
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(client.recv_from(&mut buf).is_err(), "the handler declined to answer");

    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap().expect("responder stops cleanly");
    assert_eq!(echoed, DATAGRAMS);
    assert_eq!(stats.datagrams_received.load(Ordering::Relaxed), DATAGRAMS + 1);
    assert_eq!(stats.datagrams_sent.load(Ordering::Relaxed), DATAGRAMS);
    assert_eq!(stats.datagrams_unanswered.load(Ordering::Relaxed), 1);
    assert_eq!(stats.send_errors.load(Ordering::Relaxed), 0);
}
