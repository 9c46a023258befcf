//! io_uring smoke test: a UDP echo over loopback served by the node's io_uring backend (multishot
//! recvmsg over a provided-buffer ring, batched SendMsg), the way a zone worker drives its socket.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use meridian_node::dgram_io::{DatagramIoConfig, DatagramIoStats, IoBackend, bind_reuseport, open};

const DATAGRAMS: u64 = 2_048;
const WINDOW: u64 = 32; // DATAGRAMS is a whole number of windows

#[test]
fn io_uring_udp_echo_over_loopback() {
    let stop = Arc::new(AtomicBool::new(false));
    let socket = bind_reuseport("127.0.0.1:0".parse().unwrap()).expect("bind");
    let server_addr: SocketAddr = socket.local_addr().unwrap();
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> DatagramIoStats {
            let mut io = open(IoBackend::IoUring, socket, &DatagramIoConfig::default()).expect("io_uring set-up");
            let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                io.recv_batch(Duration::from_millis(10), &mut |request, peer| {
                    // Echo everything except the word "ignore", which tests the no-reply path.
                    if request != b"ignore" {
                        replies.push((request.to_vec(), peer));
                    }
                })
                .expect("receive");
                for (reply, peer) in replies.drain(..) {
                    assert!(io.queue_send(&reply, peer));
                }
                io.flush().expect("flush");
            }
            io.stats().clone()
        })
    };

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    let mut echoed = 0u64;
    for window in 0..DATAGRAMS / WINDOW {
        let mut expected = Vec::new();
        for i in 0..WINDOW {
            // Varying sizes, including an empty datagram and ones near the 1200-byte MTU.
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
        // A batch may complete in any order; compare as multisets.
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "window {window}");
    }
    client.send_to(b"ignore", server_addr).unwrap();
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(client.recv_from(&mut buf).is_err(), "the handler declined to answer");

    stop.store(true, Ordering::Relaxed);
    let stats = worker.join().unwrap();
    assert_eq!(echoed, DATAGRAMS);
    assert_eq!(stats.datagrams_received, DATAGRAMS + 1);
    assert_eq!(stats.datagrams_sent, DATAGRAMS);
    assert_eq!(stats.send_errors, 0);
    assert_eq!(stats.recv_errors, 0);
}
