//! The node link over real loopback TCP: frames arrive in order and sealed; a node without the
//! cluster key is refused at the hello; a restarted peer is reconnected to (with backoff) and the
//! frames queued meanwhile arrive; a full send queue drops and counts.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use meridian_node::node_link::{
    LINK_INBOX_FRAMES, LINK_SEND_QUEUE_FRAMES, LinkConfig, LinkFrame, NodeLink, SendRefused,
};

const KEY: [u8; 32] = [42; 32];

async fn start(node_id: &str, key: [u8; 32], addr: SocketAddr) -> (NodeLink, SocketAddr, Receiver<LinkFrame>) {
    let (inbox, frames) = sync_channel(LINK_INBOX_FRAMES);
    let (link, bound) = NodeLink::start(
        LinkConfig {
            node_id: node_id.to_owned(),
            listen_addr: addr,
            cluster_key: key,
        },
        inbox,
    )
    .await
    .expect("link starts");
    (link, bound, frames)
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Waits (without blocking the runtime) for `n` frames.
async fn take(frames: &Receiver<LinkFrame>, n: usize, within: Duration) -> Vec<LinkFrame> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        match frames.try_recv() {
            Ok(frame) => got.push(frame),
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_cross_in_order_both_ways() {
    let (a, a_addr, a_frames) = start("node-a", KEY, any_port()).await;
    let (b, b_addr, b_frames) = start("node-b", KEY, any_port()).await;
    a.set_peer("node-b", b_addr);
    b.set_peer("node-a", a_addr);
    for i in 0..1_000u32 {
        a.send("node-b", i.to_be_bytes().to_vec()).unwrap();
    }
    b.send("node-a", b"ticket".to_vec()).unwrap();
    let got = take(&b_frames, 1_000, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1_000);
    for (i, frame) in got.iter().enumerate() {
        assert_eq!(frame.from_node, "node-a");
        assert_eq!(frame.bytes, (i as u32).to_be_bytes(), "in order, none lost or doubled");
    }
    let back = take(&a_frames, 1, Duration::from_secs(5)).await;
    assert_eq!(back[0].bytes, b"ticket");
    assert_eq!(back[0].from_node, "node-b");
    assert_eq!(a.counters("node-b").frames_sent.load(Ordering::Relaxed), 1_000);
    assert_eq!(b.counters("node-a").frames_received.load(Ordering::Relaxed), 1_000);
    assert_eq!(a.send("node-c", vec![1]), Err(SendRefused::UnknownPeer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_cluster_key_is_refused() {
    let (_b, b_addr, b_frames) = start("node-b", KEY, any_port()).await;
    let (stranger, _, _) = start("node-x", [1; 32], any_port()).await;
    stranger.set_peer("node-b", b_addr);
    stranger.send("node-b", b"forged ticket".to_vec()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b_frames.try_recv().is_err(), "nothing from a stranger is delivered");
    assert!(_b.listener_counters().hellos_refused.load(Ordering::Relaxed) >= 1);
    let counters = stranger.counters("node-b");
    assert_eq!(
        counters.connects.load(Ordering::Relaxed),
        0,
        "the stranger's hello fails too"
    );
    assert!(counters.connect_failures.load(Ordering::Relaxed) >= 1);
    assert_eq!(counters.frames_sent.load(Ordering::Relaxed), 0);

    // A peer that answers under another name than the registry's is refused by the dialer.
    let (a, _, _) = start("node-a", KEY, any_port()).await;
    a.set_peer("node-c", b_addr);
    a.send("node-c", b"x".to_vec()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.counters("node-c").connects.load(Ordering::Relaxed), 0);
    assert!(b_frames.try_recv().is_err());
}

#[test]
fn a_restarted_peer_is_reconnected_and_queued_frames_arrive() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (a, _, _a_frames) = runtime.block_on(start("node-a", KEY, any_port()));
    // node-b on its own runtime, so dropping the runtime kills it like a crashed process.
    let b_runtime = tokio::runtime::Runtime::new().unwrap();
    let (_b, b_addr, b_frames) = b_runtime.block_on(start("node-b", KEY, any_port()));
    a.set_peer("node-b", b_addr);
    a.send("node-b", b"before".to_vec()).unwrap();
    let got = runtime.block_on(take(&b_frames, 1, Duration::from_secs(5)));
    assert_eq!(got[0].bytes, b"before");
    drop(b_runtime);
    drop(_b);
    // The dialer notices the closed connection before it writes into it.
    std::thread::sleep(Duration::from_millis(100));
    // While node-b is down: frames wait in the queue.
    for i in 0..10u8 {
        a.send("node-b", vec![i]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let b_runtime = tokio::runtime::Runtime::new().unwrap();
    let (_b, _, b_frames) = b_runtime.block_on(start("node-b", KEY, b_addr));
    let got = runtime.block_on(take(&b_frames, 10, Duration::from_secs(5)));
    let counters = a.counters("node-b");
    let lost = counters.frames_lost_disconnected.load(Ordering::Relaxed) as usize;
    assert_eq!(got.len() + lost, 10, "every frame arrives or is counted lost");
    assert_eq!(
        lost, 0,
        "a closed connection is noticed before a frame is written into it"
    );
    let bytes: Vec<u8> = got.iter().map(|frame| frame.bytes[0]).collect();
    assert!(bytes.windows(2).all(|w| w[0] < w[1]), "in order: {bytes:?}");
    assert!(counters.connects.load(Ordering::Relaxed) >= 2, "reconnected");
    assert!(
        counters.connect_failures.load(Ordering::Relaxed) >= 1,
        "dialed while it was down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_send_queue_drops_and_counts() {
    // Nobody listens at this address: the dialer backs off, the queue fills.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = unused.local_addr().unwrap();
    drop(unused);
    let (a, _, _) = start("node-a", KEY, any_port()).await;
    a.set_peer("node-b", dead);
    let mut refused = 0;
    for _ in 0..LINK_SEND_QUEUE_FRAMES + 25 {
        if a.send("node-b", vec![0; 8]) == Err(SendRefused::QueueFull) {
            refused += 1;
        }
    }
    assert_eq!(refused, 25);
    assert_eq!(
        a.counters("node-b").frames_dropped_queue_full.load(Ordering::Relaxed),
        25
    );
    assert_eq!(
        a.send("node-b", vec![0; meridian_node::node_link::LINK_FRAME_BYTES_MAX + 1]),
        Err(SendRefused::TooLarge)
    );
}
