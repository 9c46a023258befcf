//! The `meridian-node` binary serves liveness probes on loopback from every worker.

use std::{
    net::UdpSocket,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use meridian_node::probe;

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn node_answers_probes_from_every_zone_worker() {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _node = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_meridian-node"))
            .args(["serve", "--listen", &addr, "--workers", "2", "--duration-s", "60"])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--cluster-key-hex", &"ab".repeat(32)])
            .stdout(Stdio::null())
            .spawn()
            .expect("start meridian-node"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut workers_seen = std::collections::BTreeSet::new();
    let mut nonce = 0u64;
    // Probe from many source ports; SO_REUSEPORT hashes them over both workers.
    while workers_seen.len() < 2 && Instant::now() < deadline {
        nonce += 1;
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        socket.send_to(&probe::encode_request(nonce), &addr).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            let reply = probe::decode_reply(&buf[..n]).expect("well-formed reply");
            assert_eq!(reply.nonce, nonce);
            assert_eq!(n, probe::PROBE_BYTES, "a reply is never larger than its request");
            workers_seen.insert(reply.worker_index);
        }
    }
    assert_eq!(
        workers_seen.into_iter().collect::<Vec<_>>(),
        vec![0, 1],
        "both workers answer"
    );

    // Garbage gets no answer (and does not kill the node: a later probe is still answered).
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    socket.send_to(b"not a probe at all", &addr).unwrap();
    let mut buf = [0u8; 64];
    assert!(socket.recv_from(&mut buf).is_err());
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    socket.send_to(&probe::encode_request(7), &addr).unwrap();
    let (n, _) = socket.recv_from(&mut buf).expect("still serving after garbage");
    assert_eq!(probe::decode_reply(&buf[..n]).unwrap().nonce, 7);
}
