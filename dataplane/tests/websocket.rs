//! The WebSocket gateway on a real node, over real TLS (a development certificate the test client
//! trusts) and plain WS on loopback: the Rust SDK client, carried one packet per binary message,
//! joins the same zone as a UDP SDK client; each sees the other move and their zone chat crosses.
//! Every limit is hit with the close code (or HTTP status) observed: an oversized message (1009),
//! a text message (1003), a message flood (1008), too many connections from one address (429),
//! slowloris handshakes (dropped at the timeout), and a reader that stopped reading (its packets
//! dropped and counted, the connection closed, everyone else unaffected).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Player, now_us};
use futures_util::{FutureExt, SinkExt, StreamExt};
use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, GameEvent, MoveCommand, ServerEvent};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_node::ws::{WsConfig, WsError, WsGateway, WsLimits, WsTls};
use meridian_zone::ZoneConfig;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::rustls;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{
    self, Message,
    http::StatusCode,
    protocol::frame::{
        Frame,
        coding::{CloseCode, Data, OpCode},
    },
};

const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
/// With two workers zone 1 belongs to worker 1, while a connection's first stop is worker 0: the
/// gateway's routing is exercised.
const ZONE: u32 = 1;
/// One input per zone tick (20 Hz by default): a client that ticks faster than the zone overflows
/// its input buffer, and an action (chat) riding on a dropped input is lost.
const STEP: Duration = Duration::from_millis(50);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Ws = WebSocketStream<Box<dyn Io>>;

struct TestNode {
    node: Node,
    gateway: WsGateway,
    /// The UDP game address (the token's server address, for both kinds of client).
    listen: SocketAddr,
}

impl TestNode {
    fn start(tls: WsTls, limits: WsLimits) -> TestNode {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let node = Node::start(NodeConfig {
            listen,
            workers: 2,
            backend: IoBackend::Mmsg,
            cluster_key: CLUSTER_KEY,
            zones: vec![ZONE],
            zone_config: ZoneConfig::default(),
            session_events: false,
            edge: None,
            persistence: None,
            hot: None,
            world: None,
        })
        .unwrap();
        let gateway = node
            .start_websocket(WsConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls,
                public_url: None,
                limits,
            })
            .unwrap();
        TestNode { node, gateway, listen }
    }

    fn counter(&self, pick: impl Fn(&meridian_node::ws::WsCounters) -> &AtomicU64) -> u64 {
        pick(self.gateway.counters()).load(Ordering::Relaxed)
    }

    /// Waits (up to 5 s) for a counter to reach `value`: the gateway counts an outcome after the
    /// client has seen it.
    async fn wait_for(&self, name: &str, pick: impl Fn(&meridian_node::ws::WsCounters) -> &AtomicU64, value: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.counter(&pick) != value {
            assert!(
                Instant::now() < deadline,
                "{name} is {}, not {value}",
                self.counter(&pick)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn stop(self) {
        self.gateway.stop();
        self.node.stop().unwrap();
    }

    async fn connect(&self) -> Result<Ws, tungstenite::Error> {
        connect(self.gateway.local_addr(), self.gateway.dev_cert_pem(), None).await
    }
}

fn development_tls() -> WsTls {
    WsTls::Development {
        subject_alt_names: vec!["localhost".into()],
    }
}

fn tls_connector(cert_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tcp_connect(addr: SocketAddr, recv_buffer_bytes: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer_bytes {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    socket.connect(addr).await.unwrap()
}

/// A WebSocket client over TLS trusting `cert_pem` (or plain without one).
async fn connect(
    addr: SocketAddr,
    cert_pem: Option<&str>,
    recv_buffer_bytes: Option<u32>,
) -> Result<Ws, tungstenite::Error> {
    let tcp = tcp_connect(addr, recv_buffer_bytes).await;
    let (stream, scheme): (Box<dyn Io>, _) = match cert_pem {
        None => (Box::new(tcp), "ws"),
        Some(pem) => {
            let tls = tls_connector(pem)
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await?;
            (Box::new(tls), "wss")
        }
    };
    let url = format!("{scheme}://localhost:{}/", addr.port());
    let (ws, _response) = tokio_tungstenite::client_async(url, stream).await?;
    Ok(ws)
}

/// Reads until the server's close frame and returns its code (`None`: ended without one).
async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|frame| frame.code),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
    None
}

/// The SDK client carried over a WebSocket: each transmit one binary message, each binary message
/// one datagram `from` the token's server address.
struct WsPlayer {
    client: GameClient,
    ws: Ws,
    server: SocketAddr,
    events: Vec<GameEvent>,
    received: u64,
}

impl WsPlayer {
    fn new(ws: Ws, server: SocketAddr, session_id: u64) -> Self {
        let mut rng = SplitMix64(session_id);
        let token = dev_token::issue(&CLUSTER_KEY, session_id, ZONE, server, now_us() / 1_000_000, &mut rng);
        WsPlayer {
            client: GameClient::new(now_us(), token, ClientConfig::default()).unwrap(),
            ws,
            server,
            events: Vec::new(),
            received: 0,
        }
    }

    /// Takes what has arrived, then sends.
    async fn step(&mut self, direction: [f32; 2]) {
        // Polled once each (`now_or_never`): a zero timeout would wait for the timer driver's
        // next turn (about a millisecond) per client.
        loop {
            match self.ws.next().now_or_never() {
                None => break,
                Some(Some(Ok(Message::Binary(bytes)))) => {
                    self.received += 1;
                    let _ = self.client.handle(now_us(), self.server, &bytes);
                }
                Some(Some(Ok(Message::Close(frame)))) => panic!("the gateway closed the connection: {frame:?}"),
                Some(Some(Ok(_))) => {}
                Some(Some(Err(error))) => panic!("WebSocket error: {error}"),
                Some(None) => panic!("the WebSocket ended"),
            }
        }
        self.send(direction).await;
    }

    /// One input while connected and whatever else is due; nothing is read.
    async fn send(&mut self, direction: [f32; 2]) {
        if self.client.is_connected() {
            let _ = self.client.tick(MoveCommand { direction, yaw: 0.0 });
        }
        while let Some(transmit) = self.client.poll_transmit(now_us()) {
            self.ws.feed(Message::binary(transmit.bytes)).await.unwrap();
        }
        self.ws.flush().await.unwrap();
        while let Some(event) = self.client.poll_event() {
            self.events.push(event);
        }
    }
}

/// `common::Player::step` with a direction.
fn step_udp(player: &mut Player, direction: [f32; 2]) {
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = player.socket.recv_from(&mut buf) {
        let _ = player.client.handle(now_us(), from, &buf[..n]);
    }
    if player.client.is_connected() {
        let _ = player.client.tick(MoveCommand { direction, yaw: 0.0 });
    }
    while let Some(transmit) = player.client.poll_transmit(now_us()) {
        let _ = player.socket.send_to(&transmit.bytes, transmit.destination);
    }
    while let Some(event) = player.client.poll_event() {
        player.events.push(event);
    }
}

fn chat_from(events: &[GameEvent], entity: u32, text: &str) -> bool {
    events.iter().any(|event| {
        matches!(event, GameEvent::Server(ServerEvent::Chat { from_entity, text: line, .. })
            if *from_entity == entity && &**line == text)
    })
}

fn position_of(client: &GameClient, entity: u32) -> Option<[f32; 3]> {
    client.server_world().get(&entity).map(|state| state.position)
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Steps both players until `done` (or panics with `what` after `timeout`).
async fn play_until(
    ws: &mut WsPlayer,
    udp: &mut Player,
    directions: ([f32; 2], [f32; 2]),
    timeout: Duration,
    what: &str,
    done: impl Fn(&WsPlayer, &Player) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(ws, udp) {
        let chats = |events: &[GameEvent]| {
            events
                .iter()
                .filter(|event| matches!(event, GameEvent::Server(ServerEvent::Chat { .. })))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(
            Instant::now() < deadline,
            "timed out: {what}; chat seen by the browser {:?}, by the UDP client {:?}; udp {:?} {:?}",
            chats(&ws.events),
            chats(&udp.events),
            udp.client.counters(),
            udp.client.state()
        );
        ws.step(directions.0).await;
        step_udp(udp, directions.1);
        tokio::time::sleep(STEP).await;
    }
}

async fn browser_and_udp_play_together(node: &TestNode) {
    let ws = node.connect().await.unwrap();
    let mut browser = WsPlayer::new(ws, node.listen, 1_001);
    let mut udp = Player::new(&CLUSTER_KEY, node.listen, 1_002, ZONE);
    play_until(
        &mut browser,
        &mut udp,
        ([0.0; 2], [0.0; 2]),
        Duration::from_secs(10),
        "both joined and placed",
        |ws, udp| ws.client.is_placed() && udp.client.is_placed(),
    )
    .await;
    let browser_entity = browser.client.entity().unwrap();
    let udp_entity = udp.client.entity().unwrap();
    assert!(
        browser.events.iter().any(
            |event| matches!(event, GameEvent::Server(ServerEvent::Joined { entity }) if *entity == browser_entity)
        ),
        "the browser session got Joined"
    );
    play_until(
        &mut browser,
        &mut udp,
        ([0.0; 2], [0.0; 2]),
        Duration::from_secs(5),
        "each sees the other",
        |ws, udp| position_of(&ws.client, udp_entity).is_some() && position_of(&udp.client, browser_entity).is_some(),
    )
    .await;
    let browser_start = position_of(&udp.client, browser_entity).unwrap();
    let udp_start = position_of(&browser.client, udp_entity).unwrap();
    play_until(
        &mut browser,
        &mut udp,
        ([1.0, 0.0], [0.0, 1.0]),
        Duration::from_secs(10),
        "each sees the other move",
        |ws, udp| {
            position_of(&udp.client, browser_entity).is_some_and(|p| distance(p, browser_start) > 2.0)
                && position_of(&ws.client, udp_entity).is_some_and(|p| distance(p, udp_start) > 2.0)
        },
    )
    .await;
    udp.client.send_chat("hello from udp").unwrap();
    play_until(
        &mut browser,
        &mut udp,
        ([0.0; 2], [0.0; 2]),
        Duration::from_secs(5),
        "zone chat from the UDP client reaches the browser",
        |ws, _| chat_from(&ws.events, udp_entity, "hello from udp"),
    )
    .await;
    browser.client.send_chat("hello from the browser").unwrap();
    play_until(
        &mut browser,
        &mut udp,
        ([0.0; 2], [0.0; 2]),
        Duration::from_secs(5),
        "zone chat from the browser reaches the UDP client",
        |_, udp| chat_from(&udp.events, browser_entity, "hello from the browser"),
    )
    .await;
    assert!(browser.received > 0);
    node.wait_for("open", |c| &c.open, 1).await;
}

#[tokio::test]
async fn a_browser_session_over_wss_plays_beside_a_udp_client() {
    let node = TestNode::start(development_tls(), WsLimits::default());
    assert!(node.gateway.url().starts_with("wss://"), "{}", node.gateway.url());
    browser_and_udp_play_together(&node).await;
    node.wait_for("slow_client_drops", |c| &c.slow_client_drops, 0).await;
    node.wait_for("inbound_dropped", |c| &c.inbound_dropped, 0).await;
    // The browser's connection ended with it: its place is free again.
    node.wait_for("open", |c| &c.open, 0).await;
    node.stop();
}

#[tokio::test]
async fn plain_ws_serves_on_loopback_and_is_refused_elsewhere() {
    let node = TestNode::start(WsTls::Plain, WsLimits::default());
    assert!(node.gateway.url().starts_with("ws://"), "{}", node.gateway.url());
    assert!(node.gateway.dev_cert_pem().is_none());
    browser_and_udp_play_together(&node).await;
    let refused = node.node.start_websocket(WsConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: WsTls::Plain,
        public_url: None,
        limits: WsLimits::default(),
    });
    match refused {
        Err(error @ WsError::PlainNotLoopback(_)) => assert!(error.to_string().contains("loopback"), "{error}"),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("plain WebSocket on 0.0.0.0 was accepted"),
    }
    node.stop();
}

#[tokio::test]
async fn oversized_text_and_flooding_messages_are_closed_with_their_codes() {
    let node = TestNode::start(
        development_tls(),
        WsLimits {
            messages_per_s: 50,
            messages_burst: 50,
            ..WsLimits::default()
        },
    );
    let mut ws = node.connect().await.unwrap();
    // One byte above the largest packet (a datagram).
    ws.send(Message::binary(vec![0u8; meridian_proto::DATAGRAM_BYTES_MAX + 1]))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
    node.wait_for("closed_oversized", |c| &c.closed_oversized, 1).await;
    // Every frame small, the message they make too big: the message bound holds as well.
    let mut ws = node.connect().await.unwrap();
    let half = vec![0u8; meridian_proto::DATAGRAM_BYTES_MAX / 2 + 1];
    ws.send(Message::Frame(Frame::message(
        half.clone(),
        OpCode::Data(Data::Binary),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(half, OpCode::Data(Data::Continue), true)))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
    node.wait_for("closed_oversized", |c| &c.closed_oversized, 2).await;

    let mut ws = node.connect().await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Unsupported));
    node.wait_for("closed_text", |c| &c.closed_text, 1).await;

    // A packet's worth of bytes (refused by the host as garbage) 200 times at once: past the
    // burst of 50. The gateway may close before every message is written.
    let mut ws = node.connect().await.unwrap();
    for _ in 0..200 {
        if ws.feed(Message::binary(vec![7u8; 40])).await.is_err() {
            break;
        }
    }
    let _ = ws.flush().await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));
    node.wait_for("closed_rate", |c| &c.closed_rate, 1).await;
    // Only the ones within the burst reached a worker.
    assert!(
        node.counter(|c| &c.messages_in) <= 51,
        "{}",
        node.counter(|c| &c.messages_in)
    );
    node.stop();
}

#[tokio::test]
async fn connections_beyond_the_per_address_limit_get_429() {
    let node = TestNode::start(
        development_tls(),
        WsLimits {
            connections_per_ip_max: 3,
            ..WsLimits::default()
        },
    );
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(node.connect().await.unwrap());
    }
    match node.connect().await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            let body = response.body().clone().unwrap_or_default();
            assert!(String::from_utf8_lossy(&body).contains("too many"), "{body:?}");
        }
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("a fourth connection from one address was accepted"),
    }
    node.wait_for("refused_per_ip", |c| &c.refused_per_ip, 1).await;
    node.wait_for("open", |c| &c.open, 3).await;
    // A closed connection frees its place.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match node.connect().await {
            Ok(ws) => {
                open.push(ws);
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("the freed place was not given again: {error}"),
        }
    }
    node.stop();
}

#[tokio::test]
async fn a_full_gateway_answers_503() {
    let node = TestNode::start(
        development_tls(),
        WsLimits {
            connections_max: 2,
            ..WsLimits::default()
        },
    );
    let _open = [node.connect().await.unwrap(), node.connect().await.unwrap()];
    match node.connect().await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("a third connection was accepted by a gateway bounded to two"),
    }
    node.wait_for("refused_full", |c| &c.refused_full, 1).await;
    node.wait_for("open", |c| &c.open, 2).await;
    node.stop();
}

/// Waits for the server to end a connection; returns how long it took.
async fn time_until_dropped(stream: &mut (impl AsyncRead + Unpin)) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server kept a stalled handshake open for 5 s"),
        }
    }
}

#[tokio::test]
async fn slowloris_handshakes_are_dropped_at_the_timeout() {
    let node = TestNode::start(
        development_tls(),
        WsLimits {
            handshake_timeout_ms: 500,
            ..WsLimits::default()
        },
    );
    let addr = node.gateway.local_addr();
    // TCP open, nothing sent.
    let mut silent = tcp_connect(addr, None).await;
    let waited = time_until_dropped(&mut silent).await;
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // TLS done, then half an HTTP upgrade request.
    let tcp = tcp_connect(addr, None).await;
    let mut tls = tls_connector(node.gateway.dev_cert_pem().unwrap())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let waited = time_until_dropped(&mut tls).await;
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    node.wait_for("handshake_timeouts", |c| &c.handshake_timeouts, 2).await;
    node.wait_for("open", |c| &c.open, 0).await;
    // The gateway still serves.
    let ws = node.connect().await.unwrap();
    drop(ws);
    node.stop();
}

#[tokio::test]
async fn a_reader_that_stops_reading_loses_packets_and_is_closed_alone() {
    let node = TestNode::start(
        development_tls(),
        WsLimits {
            outbound_queue_packets: 8,
            stuck_timeout_ms: 1_000,
            tcp_send_buffer_bytes: Some(4 * 1024),
            ..WsLimits::default()
        },
    );
    // NPCs around the spawn point fill every snapshot (tens of KB/s to each player).
    let home = ZoneConfig::default().player_spawn_m;
    for i in 0..40 {
        let offset = i as f32 * 0.5;
        node.node
            .spawn_npc(ZONE, [home[0] + offset, home[1] - offset, home[2]], 0)
            .unwrap();
    }
    let cert = node.gateway.dev_cert_pem().unwrap().to_string();
    let addr = node.gateway.local_addr();
    // The slow one's kernel receive buffer is small, so its TCP window closes quickly.
    let slow_ws = connect(addr, Some(&cert), Some(4 * 1024)).await.unwrap();
    let mut slow = WsPlayer::new(slow_ws, node.listen, 2_001);
    let mut browser = WsPlayer::new(node.connect().await.unwrap(), node.listen, 2_002);
    let mut udp = Player::new(&CLUSTER_KEY, node.listen, 2_003, ZONE);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(slow.client.is_placed() && browser.client.is_placed() && udp.client.is_placed()) {
        assert!(Instant::now() < deadline, "all three placed");
        slow.step([0.0; 2]).await;
        browser.step([0.0; 2]).await;
        step_udp(&mut udp, [0.0; 2]);
        tokio::time::sleep(STEP).await;
    }
    node.wait_for("slow_client_drops", |c| &c.slow_client_drops, 0).await;
    // The slow one goes on sending its inputs but reads nothing more.
    let (browser_before, udp_before) = (browser.received, udp.client.counters().datagrams_received);
    let deadline = Instant::now() + Duration::from_secs(4);
    while node.counter(|c| &c.closed_stuck) == 0 {
        assert!(
            Instant::now() < deadline,
            "the stuck reader was not closed (drops so far: {})",
            node.counter(|c| &c.slow_client_drops)
        );
        let _ = tokio::time::timeout(Duration::from_millis(5), slow.send([0.0; 2])).await;
        browser.step([0.0; 2]).await;
        step_udp(&mut udp, [0.0; 2]);
        tokio::time::sleep(STEP).await;
    }
    let drops = node.counter(|c| &c.slow_client_drops);
    assert!(drops > 0, "the full queue dropped packets");
    // Memory stayed bounded: what the slow connection held is its queue (8 packets), the
    // tungstenite write buffer and the 4 KiB kernel buffer; everything beyond was dropped.
    // Only the stuck connection was closed.
    node.wait_for("open", |c| &c.open, 1).await;
    // The others kept playing all along (snapshots at 20 Hz: dozens in the stuck period).
    for _ in 0..25 {
        browser.step([0.0; 2]).await;
        step_udp(&mut udp, [0.0; 2]);
        tokio::time::sleep(STEP).await;
    }
    assert!(browser.client.is_connected() && udp.client.is_connected());
    assert!(
        browser.received - browser_before > 40,
        "{}",
        browser.received - browser_before
    );
    assert!(udp.client.counters().datagrams_received - udp_before > 40);
    node.stop();
}

/// A browser session walks from zone 1 (worker 1) into zone 2 (worker 0): a handoff by ticket
/// between the workers, with no reconnect. Its messages keep entering at worker 1 (its connection's
/// first owner), which forwards them after the session; it then stands in zone 2 past the
/// forwarding route's idle time (10 s) and still plays.
#[tokio::test]
async fn a_browser_session_crosses_into_another_workers_zone_and_keeps_playing() {
    const SIDE_M: f32 = 512.0;
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let world = meridian_zone::WorldLayout::new([0.0, 0.0], [SIDE_M, SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap();
    let node = Node::start(NodeConfig {
        listen,
        // Zone z runs on worker z mod 2: zone 1 on worker 1, zone 2 on worker 0.
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1, 2],
        zone_config: ZoneConfig {
            player_spawn_m: [SIDE_M - 10.0, 256.0, 0.0],
            player_spawn_radius_m: 0.0,
            tick_epoch_us: Some(meridian_zone::TICK_EPOCH_US_DEFAULT),
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: None,
        hot: None,
        world: Some(world),
    })
    .unwrap();
    let gateway = node
        .start_websocket(WsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: development_tls(),
            public_url: None,
            limits: WsLimits::default(),
        })
        .unwrap();
    let ws = connect(gateway.local_addr(), gateway.dev_cert_pem(), None)
        .await
        .unwrap();
    let mut browser = WsPlayer::new(ws, listen, 7_001);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !browser.client.is_placed() {
        assert!(Instant::now() < deadline, "placed in zone 1");
        browser.step([0.0; 2]).await;
        tokio::time::sleep(STEP).await;
    }
    let entity = browser.client.entity().unwrap();
    let server_x = |browser: &WsPlayer| position_of(&browser.client, entity).map(|p| p[0]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server_x(&browser).is_none_or(|x| x < SIDE_M + 8.0) {
        assert!(
            Instant::now() < deadline,
            "walked into zone 2 (x = {:?})",
            server_x(&browser)
        );
        browser.step([1.0, 0.0]).await;
        tokio::time::sleep(STEP).await;
    }
    let committed: u64 = node
        .gauges()
        .iter()
        .map(|gauges| gauges.handoffs_across.load(Ordering::Relaxed))
        .sum();
    assert_eq!(committed, 1, "one handoff between the workers");
    // Standing in zone 2 past the forward route's idle time (10 s), then walking: the inputs still
    // reach the session (the snapshots alone would go on for the 5 s session timeout).
    let stood = Instant::now();
    while stood.elapsed() < Duration::from_secs(11) {
        browser.step([0.0; 2]).await;
        tokio::time::sleep(STEP).await;
    }
    let server_y = |browser: &WsPlayer| position_of(&browser.client, entity).map(|p| p[1]).unwrap();
    let y_before = server_y(&browser);
    let deadline = Instant::now() + Duration::from_secs(3);
    while server_y(&browser) < y_before + 2.0 {
        assert!(
            Instant::now() < deadline,
            "inputs 11 s after the handoff moved nobody (y {} -> {})",
            y_before,
            server_y(&browser)
        );
        browser.step([0.0, 1.0]).await;
        tokio::time::sleep(STEP).await;
    }
    assert!(browser.client.is_connected(), "no reconnect");
    assert_eq!(browser.client.entity(), Some(entity), "one entity all along");
    assert!(
        !browser
            .events
            .iter()
            .any(|event| matches!(event, GameEvent::Disconnected(_)))
    );
    let zone_2_players: u32 = node
        .gauges()
        .iter()
        .map(|gauges| gauges.zone_players.lock().unwrap().get(&2).copied().unwrap_or(0))
        .sum();
    assert_eq!(zone_2_players, 1);
    gateway.stop();
    node.stop().unwrap();
}

/// Counts the bytes a stream carries (under TLS: what goes on the TCP connection).
struct Counted<S> {
    inner: S,
    bytes: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.bytes
            .fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.bytes.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// CPU time (ns) of this process's threads whose name starts with one of `prefixes`.
fn threads_cpu_ns(prefixes: &[&str]) -> u64 {
    let ticks_per_s = 100; // USER_HZ on Linux
    let mut total_ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        if !prefixes.iter().any(|prefix| name.starts_with(prefix)) {
            continue;
        }
        // After the name: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        total_ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total_ticks * 1_000_000_000 / ticks_per_s
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A direction that walks each client in a slow circle (snapshots carry movement).
fn circling(index: usize, started: Instant) -> [f32; 2] {
    let angle = started.elapsed().as_secs_f32() * 0.5 + index as f32;
    [angle.cos(), angle.sin()]
}

/// The figure: server CPU per message for WebSocket vs UDP sessions, same node, consecutive phases
/// at the same load (N clients each, default 100, for S seconds, default 10), and bytes per second
/// per client. Run: `cargo test --release -p meridian-node --test websocket -- --ignored
/// --nocapture figure` (MERIDIAN_WS_FIGURE_CLIENTS, MERIDIAN_WS_FIGURE_S).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a figure, not a check: run by hand"]
async fn figure_cpu_per_message_websocket_vs_udp() {
    let clients: usize = env_or("MERIDIAN_WS_FIGURE_CLIENTS", 100);
    let seconds: u64 = env_or("MERIDIAN_WS_FIGURE_S", 10);
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 1,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![ZONE],
        zone_config: ZoneConfig {
            player_spawn_radius_m: 30.0,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: None,
        hot: None,
        world: None,
    })
    .unwrap();
    let gateway = node
        .start_websocket(WsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: development_tls(),
            public_url: None,
            limits: WsLimits {
                connections_per_ip_max: clients as u32 + 8,
                ..WsLimits::default()
            },
        })
        .unwrap();
    let workers = ["zone-worker"];
    let gateway_threads = ["ws-gateway"];

    // UDP phase.
    let mut udp: Vec<Player> = (0..clients)
        .map(|i| Player::new(&CLUSTER_KEY, listen, 10_000 + i as u64, ZONE))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !udp.iter().all(|p| p.client.is_placed()) {
        assert!(Instant::now() < deadline, "UDP clients placed");
        for player in &mut udp {
            step_udp(player, [0.0; 2]);
        }
        tokio::time::sleep(STEP).await;
    }
    let udp_messages = |udp: &[Player]| -> (u64, u64) {
        udp.iter().fold((0, 0), |(m, b), p| {
            let c = p.client.counters();
            (
                m + c.datagrams_sent + c.datagrams_received,
                b + c.bytes_sent + c.bytes_received,
            )
        })
    };
    let (messages_before, bytes_before) = udp_messages(&udp);
    let cpu_before = threads_cpu_ns(&workers);
    let started = Instant::now();
    let mut next = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for (i, player) in udp.iter_mut().enumerate() {
            step_udp(player, circling(i, started));
        }
        rounds += 1;
        next += STEP;
        tokio::time::sleep_until(next.into()).await;
    }
    println!(
        "UDP phase: {:.1} client rounds/s, per client {:.1} packets/s sent",
        rounds as f64 / started.elapsed().as_secs_f64(),
        udp.iter().map(|p| p.client.counters().input_messages_sent).sum::<u64>() as f64
            / started.elapsed().as_secs_f64()
            / clients as f64
    );
    let elapsed_s = started.elapsed().as_secs_f64();
    let udp_cpu_ns = threads_cpu_ns(&workers) - cpu_before;
    let (messages_after, bytes_after) = udp_messages(&udp);
    let (udp_msgs, udp_bytes) = (messages_after - messages_before, bytes_after - bytes_before);
    let udp_datagrams_per_s = udp_msgs as f64 / elapsed_s / clients as f64;
    println!(
        "UDP: {clients} clients, {elapsed_s:.1} s: worker CPU {:.3} s, {udp_msgs} packets -> {:.2} us/packet; {:.0} B/s per client (UDP payload), {:.0} B/s with IPv4+UDP headers",
        udp_cpu_ns as f64 / 1e9,
        udp_cpu_ns as f64 / 1e3 / udp_msgs as f64,
        udp_bytes as f64 / elapsed_s / clients as f64,
        udp_bytes as f64 / elapsed_s / clients as f64 + 28.0 * udp_datagrams_per_s,
    );
    for player in &mut udp {
        if let Some(transmit) = player.client.disconnect() {
            let _ = player.socket.send_to(&transmit.bytes, transmit.destination);
        }
    }
    drop(udp);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // WebSocket phase (TLS), same node.
    let wire_bytes = Arc::new(AtomicU64::new(0));
    let cert = gateway.dev_cert_pem().unwrap().to_string();
    let mut browsers = Vec::new();
    for i in 0..clients {
        let tcp = tcp_connect(gateway.local_addr(), None).await;
        let counted = Counted {
            inner: tcp,
            bytes: Arc::clone(&wire_bytes),
        };
        let tls = tls_connector(&cert)
            .connect(ServerName::try_from("localhost").unwrap(), counted)
            .await
            .unwrap();
        let url = format!("wss://localhost:{}/", gateway.local_addr().port());
        let (ws, _) = tokio_tungstenite::client_async(url, Box::new(tls) as Box<dyn Io>)
            .await
            .unwrap();
        browsers.push(WsPlayer::new(ws, listen, 20_000 + i as u64));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !browsers.iter().all(|p| p.client.is_placed()) {
        assert!(Instant::now() < deadline, "WebSocket clients placed");
        for browser in &mut browsers {
            browser.step([0.0; 2]).await;
        }
        tokio::time::sleep(STEP).await;
    }
    let ws_messages = |browsers: &[WsPlayer]| -> (u64, u64) {
        browsers.iter().fold((0, 0), |(m, b), p| {
            let c = p.client.counters();
            (
                m + c.datagrams_sent + c.datagrams_received,
                b + c.bytes_sent + c.bytes_received,
            )
        })
    };
    let (messages_before, bytes_before) = ws_messages(&browsers);
    let wire_before = wire_bytes.load(Ordering::Relaxed);
    let (worker_before, gateway_before) = (threads_cpu_ns(&workers), threads_cpu_ns(&gateway_threads));
    let started = Instant::now();
    let mut next = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for (i, browser) in browsers.iter_mut().enumerate() {
            browser.step(circling(i, started)).await;
        }
        rounds += 1;
        next += STEP;
        tokio::time::sleep_until(next.into()).await;
    }
    println!(
        "WebSocket phase: {:.1} client rounds/s",
        rounds as f64 / started.elapsed().as_secs_f64()
    );
    let elapsed_s = started.elapsed().as_secs_f64();
    let worker_ns = threads_cpu_ns(&workers) - worker_before;
    let gateway_ns = threads_cpu_ns(&gateway_threads) - gateway_before;
    let (messages_after, bytes_after) = ws_messages(&browsers);
    let (ws_msgs, ws_bytes) = (messages_after - messages_before, bytes_after - bytes_before);
    let wire = wire_bytes.load(Ordering::Relaxed) - wire_before;
    println!(
        "WebSocket (TLS): {clients} clients, {elapsed_s:.1} s: worker CPU {:.3} s + gateway CPU {:.3} s, {ws_msgs} packets -> {:.2} us/packet ({:.2} worker + {:.2} gateway); {:.0} B/s per client (packets), {:.0} B/s on TCP (TLS + WebSocket framing)",
        worker_ns as f64 / 1e9,
        gateway_ns as f64 / 1e9,
        (worker_ns + gateway_ns) as f64 / 1e3 / ws_msgs as f64,
        worker_ns as f64 / 1e3 / ws_msgs as f64,
        gateway_ns as f64 / 1e3 / ws_msgs as f64,
        ws_bytes as f64 / elapsed_s / clients as f64,
        wire as f64 / elapsed_s / clients as f64,
    );
    println!(
        "gateway counters: slow_client drops {}, inbound drops {}",
        gateway.counters().slow_client_drops.load(Ordering::Relaxed),
        gateway.counters().inbound_dropped.load(Ordering::Relaxed)
    );
    drop(browsers);
    gateway.stop();
    node.stop().unwrap();
}
