//! The eBPF pipeline end to end: the XDP object built by the normal build is loaded with aya,
//! attached natively to a veth inside a namespace, and counts exactly the UDP datagrams sent to it.

use std::{net::UdpSocket, time::Duration};

use aya::programs::XdpMode;
use meridian_node::edge::PacketCounterProgram;
use meridian_testkit::TwoHosts;

const DATAGRAMS: u64 = 1000;
const PORT: u16 = 9_999;

#[test]
fn xdp_counter_on_veth_counts_every_udp_datagram_sent() {
    let hosts = TwoHosts::new().expect("create topology");
    let counter = hosts
        .ns_b()
        .run(|| PacketCounterProgram::attach(&hosts.b.interface, PORT, XdpMode::Driver))
        .unwrap()
        .expect("attach XDP natively to the veth");
    let receiver = hosts
        .ns_b()
        .run(|| UdpSocket::bind((hosts.b.addr, PORT)))
        .unwrap()
        .expect("bind");
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let sender = hosts
        .ns_a()
        .run(|| UdpSocket::bind((hosts.a.addr, 0)))
        .unwrap()
        .expect("bind");
    let mut buf = [0u8; 64];

    // Warm-up datagram: resolves ARP so no later datagram waits (or is dropped) in the neighbour
    // queue. It is counted too; the assertion uses the difference.
    sender.send_to(b"warm-up", (hosts.b.addr, PORT)).unwrap();
    receiver.recv_from(&mut buf).expect("warm-up datagram");
    let before = counter.counts().expect("read counters");
    assert_eq!(before.matched_udp, 1, "the warm-up datagram is counted once");

    // Datagrams to another port must not be counted as matched.
    sender.send_to(b"other port", (hosts.b.addr, PORT + 1)).unwrap();

    // Send in lock-step windows so the receiver's socket buffer never overflows.
    let mut received = 0u64;
    for window in 0..(DATAGRAMS / 50) {
        for i in 0..50u64 {
            let seq = window * 50 + i;
            sender.send_to(&seq.to_le_bytes(), (hosts.b.addr, PORT)).unwrap();
        }
        for _ in 0..50 {
            receiver.recv_from(&mut buf).expect("datagram passed by XDP");
            received += 1;
        }
    }
    let after = counter.counts().expect("read counters");
    assert_eq!(received, DATAGRAMS);
    assert_eq!(
        after.matched_udp - before.matched_udp,
        DATAGRAMS,
        "per-CPU counts {:?}",
        after.matched_udp_per_cpu
    );
    assert_eq!(after.matched_udp_per_cpu.iter().sum::<u64>(), after.matched_udp);
    assert!(
        after.other > before.other,
        "the other-port datagram is counted as other"
    );
}
