//! The WebSocket gateway: browser sessions on the node's one session path.
//!
//! A browser carries exactly the protocol packets a UDP client sends, one packet per binary
//! WebSocket message (the same bytes as one datagram). The gateway gives each connection a
//! synthetic peer address ([`addr`]) and hands its messages to the worker that owns the session,
//! over that worker's bounded inbox, exactly as a worker forwards a datagram of a session another
//! worker owns (the owner of a ConnectionRequest's token zone; the same worker for the rest of the
//! connection). The worker's transmit path sees the synthetic address and pushes the packet onto
//! the connection's bounded outbound queue ([`outbound`]) instead of the UDP socket. Sessions,
//! zones, AOI, snapshots and chat are the host's, the same as for UDP: there is no second server.
//!
//! Library: tokio-tungstenite 0.29. It is the version axum 0.8's `ws` feature uses, so an axum
//! page of the control plane or the node can add WebSockets without a second copy in Cargo.lock;
//! it enforces frame and message size limits while reading the header (before the payload is
//! buffered), and its accept callback answers a refusal with a real HTTP status (429, 503).
//! fastwebsockets is leaner per frame but needs hyper's upgrade machinery or a hand-written
//! handshake for the same.
//!
//! Limits, each with a clear close and a counter ([`WsCounters`], `meridian_ws_*`): a message
//! above the largest packet (close 1009), more messages per second than the rate allows (1008), a
//! text message (1003), too many connections from one address (HTTP 429 at the upgrade), a full
//! gateway (HTTP 503), TLS and upgrade not done within the handshake timeout (the TCP connection
//! is dropped: slowloris), an idle connection (1001). A slow reader's queue drops packets
//! (`slow_client`); a connection whose writes stay blocked past the stuck timeout is closed.
//!
//! Files: `mod.rs` (configuration, counters, the accept loop), `connection.rs` (one connection:
//! handshake, reader, writer), `addr.rs` (synthetic addresses), `outbound.rs` (the queues the
//! workers push to), `limits.rs` (rate and per-address state), `tls.rs` (rustls with ring).
#![forbid(unsafe_code)]

pub mod addr;
mod connection;
pub mod limits;
pub mod outbound;
pub mod tls;

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use meridian_proto::{
    DATAGRAM_BYTES_MAX,
    endpoint::read_connection_request,
    token::{CLUSTER_KEY_BYTES, ConnectToken},
};
use tokio::sync::oneshot;

pub use addr::{SyntheticAddrs, is_synthetic};
pub use outbound::{Delivery, WsOutbound};
pub use tls::WsTls;

use crate::bridge_thread::{BridgeThread, bridge_runtime};
use crate::worker::{Forwarded, WorkerClock, ZoneDirectory};

/// Errors starting the gateway.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error(
        "plain WebSocket (no TLS) is only allowed on a loopback address, and {0} is not one: give a certificate and key, or use the development certificate"
    )]
    PlainNotLoopback(SocketAddr),
    #[error("WebSocket TLS: {0}")]
    Tls(String),
    #[error("binding the WebSocket listener {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("starting the WebSocket gateway: {0}")]
    Start(String),
    #[error("invalid WebSocket limit: {0}")]
    Limits(&'static str),
}

/// The gateway's limits (see the module documentation for what each does when hit).
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Largest message (and frame) accepted: one packet, so the largest datagram.
    pub message_bytes_max: usize,
    /// Messages (any kind) per second per connection; an SDK client sends its inputs and acks
    /// at its tick rate (60/s or less), so twice that leaves room.
    pub messages_per_s: u32,
    pub messages_burst: u32,
    /// Connections (handshaking or open) from one address; more get HTTP 429. Players behind one
    /// NAT share an address, hence not 1.
    pub connections_per_ip_max: u32,
    /// Open connections in all; more get HTTP 503.
    pub connections_max: u64,
    /// Connections still in TLS or the upgrade; more are dropped at accept (a flood: answering
    /// would cost the work the bound is there to save).
    pub handshakes_max: u64,
    /// TLS and the HTTP upgrade must be done within this (slowloris).
    pub handshake_timeout_ms: u64,
    /// Packets queued for one connection; more are dropped (`slow_client`).
    pub outbound_queue_packets: usize,
    /// A write blocked this long (the browser stopped reading) closes the connection.
    pub stuck_timeout_ms: u64,
    /// A connection that sends nothing this long is closed (1001); clients send inputs or
    /// keep-alives many times a second while playing.
    pub idle_timeout_ms: u64,
    /// The kernel send buffer of each connection (`None`: the kernel's autotuning, up to
    /// `net.ipv4.tcp_wmem`'s maximum, megabytes). A fixed one bounds the kernel memory a browser
    /// that stopped reading can hold, and lets the stuck timeout find it in seconds; a game
    /// session sends tens of KB/s, far below what 64 KiB carries at any sane round trip.
    pub tcp_send_buffer_bytes: Option<usize>,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            message_bytes_max: DATAGRAM_BYTES_MAX,
            messages_per_s: 120,
            messages_burst: 240,
            connections_per_ip_max: 32,
            connections_max: 10_000,
            handshakes_max: 1_024,
            handshake_timeout_ms: 3_000,
            outbound_queue_packets: 64,
            stuck_timeout_ms: 5_000,
            idle_timeout_ms: 15_000,
            tcp_send_buffer_bytes: Some(64 * 1024),
        }
    }
}

impl WsLimits {
    fn validate(&self) -> Result<(), WsError> {
        if self.message_bytes_max < DATAGRAM_BYTES_MAX {
            return Err(WsError::Limits("message_bytes_max is below the largest packet"));
        }
        if self.messages_per_s == 0 || self.messages_burst == 0 {
            return Err(WsError::Limits("messages_per_s and messages_burst must be above 0"));
        }
        if self.connections_per_ip_max == 0 || self.connections_max == 0 || self.handshakes_max == 0 {
            return Err(WsError::Limits("connection bounds must be above 0"));
        }
        if self.outbound_queue_packets == 0 {
            return Err(WsError::Limits("outbound_queue_packets must be above 0"));
        }
        if self.handshake_timeout_ms == 0 || self.stuck_timeout_ms == 0 || self.idle_timeout_ms == 0 {
            return Err(WsError::Limits("timeouts must be above 0"));
        }
        Ok(())
    }
}

/// Where and how the gateway listens.
#[derive(Debug, Clone)]
pub struct WsConfig {
    pub listen: SocketAddr,
    pub tls: WsTls,
    /// The URL browsers are told (the node's registry record, the play ticket); default
    /// `wss://<listen>/` (`ws://` when plain).
    pub public_url: Option<String>,
    pub limits: WsLimits,
}

/// The gateway's counters (published as `meridian_ws_*` once a second).
#[derive(Debug, Default)]
pub struct WsCounters {
    /// Open connections now.
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    pub refused_per_ip: AtomicU64,
    pub refused_full: AtomicU64,
    pub refused_handshakes_full: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub closed_oversized: AtomicU64,
    pub closed_text: AtomicU64,
    pub closed_rate: AtomicU64,
    pub closed_stuck: AtomicU64,
    pub closed_idle: AtomicU64,
    /// Packets dropped because a connection's outbound queue was full.
    pub slow_client_drops: AtomicU64,
    /// Packets for a connection that had closed.
    pub sends_unrouted: AtomicU64,
    /// Inbound packets the owning worker's full inbox could not take.
    pub inbound_dropped: AtomicU64,
    pub messages_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// Help texts of the gateway's Prometheus series.
fn describe() {
    metrics::describe_gauge!("meridian_ws_connections", "Open WebSocket connections.");
    metrics::describe_counter!(
        "meridian_ws_connections_accepted_total",
        "WebSocket connections upgraded."
    );
    metrics::describe_counter!(
        "meridian_ws_refused_total",
        "WebSocket connections refused before or during the upgrade, by reason (per_ip: HTTP 429, full: 503, handshakes_full, handshake_timeout, handshake_failed)."
    );
    metrics::describe_counter!(
        "meridian_ws_closes_total",
        "WebSocket connections the gateway closed for a limit, by reason and close code."
    );
    metrics::describe_counter!(
        "meridian_ws_dropped_total",
        "Packets dropped at the gateway: slow_client (a full outbound queue), unrouted (connection gone), inbound_queue_full (the worker's inbox)."
    );
    metrics::describe_counter!(
        "meridian_ws_messages_total",
        "Binary WebSocket messages (one packet each), by direction."
    );
    metrics::describe_counter!(
        "meridian_ws_bytes_total",
        metrics::Unit::Bytes,
        "Packet bytes carried over WebSockets, by direction."
    );
}

impl WsCounters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the Prometheus series to the counts so far.
    fn publish(&self) {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        metrics::gauge!("meridian_ws_connections").set(get(&self.open) as f64);
        metrics::counter!("meridian_ws_connections_accepted_total").absolute(get(&self.accepted));
        for (reason, counter) in [
            ("per_ip", &self.refused_per_ip),
            ("full", &self.refused_full),
            ("handshakes_full", &self.refused_handshakes_full),
            ("handshake_timeout", &self.handshake_timeouts),
            ("handshake_failed", &self.handshake_failures),
        ] {
            metrics::counter!("meridian_ws_refused_total", "reason" => reason).absolute(get(counter));
        }
        for (reason, code, counter) in [
            ("oversized", "1009", &self.closed_oversized),
            ("text", "1003", &self.closed_text),
            ("rate", "1008", &self.closed_rate),
            ("idle", "1001", &self.closed_idle),
            ("stuck", "none", &self.closed_stuck),
        ] {
            metrics::counter!("meridian_ws_closes_total", "reason" => reason, "code" => code).absolute(get(counter));
        }
        for (reason, counter) in [
            ("slow_client", &self.slow_client_drops),
            ("unrouted", &self.sends_unrouted),
            ("inbound_queue_full", &self.inbound_dropped),
        ] {
            metrics::counter!("meridian_ws_dropped_total", "reason" => reason).absolute(get(counter));
        }
        for (direction, messages, bytes) in [
            ("in", &self.messages_in, &self.bytes_in),
            ("out", &self.messages_out, &self.bytes_out),
        ] {
            metrics::counter!("meridian_ws_messages_total", "direction" => direction).absolute(get(messages));
            metrics::counter!("meridian_ws_bytes_total", "direction" => direction).absolute(get(bytes));
        }
    }
}

/// How the gateway finds the worker that owns a connection's session: the rule the workers'
/// forwarding uses (a ConnectionRequest goes to the owner of its token's zone).
pub(crate) struct Router {
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    pub directory: Arc<ZoneDirectory>,
    /// Every worker's inbox, by index.
    pub peers: Vec<SyncSender<Forwarded>>,
    pub clock: WorkerClock,
}

impl Router {
    /// The worker owning the zone of a ConnectionRequest's token (`None`: not a valid request, or
    /// a zone this node does not serve; the caller's default worker then answers it).
    fn request_owner(&self, bytes: &[u8]) -> Option<usize> {
        let request = read_connection_request(bytes).ok()?;
        let token = ConnectToken::open(
            &self.cluster_key,
            request.expires_at_s,
            request.nonce,
            request.sealed_private,
        )
        .ok()?;
        self.directory.owner(token.zone_id)
    }
}

/// A running gateway; stopping (or dropping) it closes the listener and every connection.
pub struct WsGateway {
    thread: BridgeThread,
    local_addr: SocketAddr,
    url: String,
    dev_cert_pem: Option<String>,
    counters: Arc<WsCounters>,
}

/// Refreshing the Prometheus series more often buys nothing (scrapes are seconds apart).
const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

impl WsGateway {
    pub(crate) fn start(config: WsConfig, outbound: Arc<WsOutbound>, router: Router) -> Result<Self, WsError> {
        config.limits.validate()?;
        describe();
        if matches!(config.tls, WsTls::Plain) && !config.listen.ip().is_loopback() {
            return Err(WsError::PlainNotLoopback(config.listen));
        }
        let (tls, dev_cert_pem) = tls::server_config(&config.tls)?;
        let listener = StdTcpListener::bind(config.listen).map_err(|source| WsError::Bind {
            addr: config.listen,
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| WsError::Bind {
            addr: config.listen,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|error| WsError::Start(format!("a non-blocking listener: {error}")))?;
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local_addr}/"));
        let counters = Arc::clone(outbound.counters());
        let shared = Arc::new(connection::Shared {
            limits: config.limits.clone(),
            counters: Arc::clone(&counters),
            outbound,
            router,
            addrs: SyntheticAddrs::default(),
            per_ip: Arc::default(),
            handshaking: AtomicU64::new(0),
        });
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let runtime = bridge_runtime("ws-gateway").map_err(|error| WsError::Start(format!("{error:#}")))?;
        let thread = BridgeThread::spawn("ws-gateway", runtime, move |stop| {
            accept_loop(listener, shared, acceptor, stop)
        })
        .map_err(|error| WsError::Start(format!("{error:#}")))?;
        tracing::info!(%local_addr, %url, "WebSocket gateway listening");
        Ok(WsGateway {
            thread,
            local_addr,
            url,
            dev_cert_pem,
            counters,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL browsers connect to (`wss://…`, or `ws://…` for plain on loopback).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The development certificate's PEM (`None` with certificate files or plain).
    pub fn dev_cert_pem(&self) -> Option<&str> {
        self.dev_cert_pem.as_deref()
    }

    pub fn counters(&self) -> &Arc<WsCounters> {
        &self.counters
    }

    pub fn stop(mut self) {
        self.thread.stop();
    }
}

async fn accept_loop(
    listener: StdTcpListener,
    shared: Arc<connection::Shared>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "WebSocket listener");
            return;
        }
    };
    let mut publish = tokio::time::interval(PUBLISH_INTERVAL);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = publish.tick() => shared.counters.publish(),
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(%error, "WebSocket accept");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Some(handshake) = connection::HandshakeSlot::acquire(&shared) else {
                    WsCounters::add(&shared.counters.refused_handshakes_full, 1);
                    continue;
                };
                // Packets are small and latency-bound: no Nagle delay.
                let _ = tcp.set_nodelay(true);
                if let Some(bytes) = shared.limits.tcp_send_buffer_bytes {
                    let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(bytes);
                }
                tokio::spawn(connection::serve(Arc::clone(&shared), tcp, peer, acceptor.clone(), handshake));
            }
        }
    }
    shared.counters.publish();
}
