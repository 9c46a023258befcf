//! One WebSocket connection: TLS and the upgrade within the handshake timeout, then a reader that
//! hands each packet to the owning worker and a writer that drains the connection's bounded
//! outbound queue, until either side ends or a limit closes it.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use meridian_proto::packet::{PacketType, read_packet_type, read_sealed_header};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{
    Error as TungsteniteError, Message,
    handshake::server::{ErrorResponse, Request, Response},
    http::StatusCode,
    protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
};

use super::{
    Router, SyntheticAddrs, WsCounters, WsLimits, WsOutbound, limits::IpSlot, limits::PerIpCounts, limits::TokenBucket,
};
use crate::worker::Forwarded;

/// What every connection task shares.
pub(crate) struct Shared {
    pub limits: WsLimits,
    pub counters: Arc<WsCounters>,
    pub outbound: Arc<WsOutbound>,
    pub router: Router,
    pub addrs: SyntheticAddrs,
    pub per_ip: Arc<PerIpCounts>,
    pub handshaking: AtomicU64,
}

/// Longest wait to write a close frame before the connection is dropped anyway.
const CLOSE_WRITE: Duration = Duration::from_millis(500);
/// Queued packets written per flush at most (one syscall for a burst, a bounded one).
const WRITE_BATCH_PACKETS: usize = 64;

/// A connection counted as handshaking until dropped.
pub(crate) struct HandshakeSlot(Arc<Shared>);

impl HandshakeSlot {
    pub fn acquire(shared: &Arc<Shared>) -> Option<Self> {
        let before = shared.handshaking.fetch_add(1, Ordering::Relaxed);
        let slot = HandshakeSlot(Arc::clone(shared));
        (before < shared.limits.handshakes_max).then_some(slot)
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.0.handshaking.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An open connection: counted in `open` and registered for the workers' sends until dropped.
struct OpenConnection {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.shared.outbound.unregister(self.addr);
        self.shared.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    handshake: HandshakeSlot,
) {
    let deadline = Instant::now() + Duration::from_millis(shared.limits.handshake_timeout_ms);
    // Counted from the TCP accept on, so handshakes that never finish count against the address.
    let ip_slot = shared.per_ip.acquire(peer.ip());
    match acceptor {
        None => upgrade_and_run(shared, tcp, peer, ip_slot, handshake, deadline).await,
        Some(acceptor) => match timeout_at(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => upgrade_and_run(shared, stream, peer, ip_slot, handshake, deadline).await,
            Ok(Err(error)) => {
                WsCounters::add(&shared.counters.handshake_failures, 1);
                tracing::debug!(%peer, %error, "WebSocket TLS handshake failed");
            }
            Err(_) => {
                WsCounters::add(&shared.counters.handshake_timeouts, 1);
                tracing::debug!(%peer, "WebSocket TLS handshake timed out");
            }
        },
    }
}

fn refusal(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_string()));
    *response.status_mut() = status;
    response
}

async fn upgrade_and_run<S>(
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
    ip_slot: IpSlot,
    handshake: HandshakeSlot,
    deadline: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let limits = &shared.limits;
    let over_per_ip = ip_slot.count > limits.connections_per_ip_max;
    let mut admitted = false;
    // The error type is tungstenite's (an HTTP response), fixed by its `Callback` trait.
    #[allow(clippy::result_large_err)]
    // Any path and no Origin check: a session is authorised by the connect token in its first
    // packet, not by cookies, so a page of another origin gains nothing by connecting.
    let callback = |_request: &Request, response: Response| {
        if over_per_ip {
            return Err(refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too many WebSocket connections from this address",
            ));
        }
        if shared.counters.open.fetch_add(1, Ordering::Relaxed) >= limits.connections_max {
            shared.counters.open.fetch_sub(1, Ordering::Relaxed);
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the WebSocket gateway is full; try again later",
            ));
        }
        admitted = true;
        Ok(response)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.message_bytes_max))
        .max_frame_size(Some(limits.message_bytes_max))
        // Small buffers: thousands of connections each hold one; a packet is at most 1,200 bytes.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(64 * 1024);
    let upgraded = timeout_at(
        deadline,
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)),
    )
    .await;
    drop(handshake);
    let websocket = match upgraded {
        Ok(Ok(websocket)) => websocket,
        outcome => {
            if admitted {
                shared.counters.open.fetch_sub(1, Ordering::Relaxed);
            }
            match outcome {
                Ok(Err(TungsteniteError::Http(response))) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    WsCounters::add(&shared.counters.refused_per_ip, 1);
                    tracing::debug!(%peer, "WebSocket refused: too many connections from this address");
                }
                Ok(Err(TungsteniteError::Http(response))) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    WsCounters::add(&shared.counters.refused_full, 1);
                    tracing::debug!(%peer, "WebSocket refused: the gateway is full");
                }
                Ok(Err(error)) => {
                    WsCounters::add(&shared.counters.handshake_failures, 1);
                    tracing::debug!(%peer, %error, "WebSocket upgrade failed");
                }
                _ => {
                    WsCounters::add(&shared.counters.handshake_timeouts, 1);
                    tracing::debug!(%peer, "WebSocket upgrade timed out");
                }
            }
            return;
        }
    };
    WsCounters::add(&shared.counters.accepted, 1);
    let addr = shared.addrs.allocate();
    let (queue_sender, queue) = mpsc::channel(limits.outbound_queue_packets);
    shared.outbound.register(addr, queue_sender);
    let _open = OpenConnection {
        shared: Arc::clone(&shared),
        addr,
    };
    tracing::debug!(%peer, session_addr = %addr, "WebSocket connection open");
    let (sink, stream) = websocket.split();
    let (close_sender, close_receiver) = oneshot::channel();
    let mut writer = pin!(write_loop(&shared, sink, queue, close_receiver));
    tokio::select! {
        close = read_loop(&shared, stream, addr) => {
            if let Some(frame) = close {
                let _ = close_sender.send(frame);
            } else {
                drop(close_sender);
            }
            let _ = timeout(CLOSE_WRITE, writer).await;
        }
        () = &mut writer => {}
    }
    drop(ip_slot);
    tracing::debug!(%peer, session_addr = %addr, "WebSocket connection closed");
}

fn close_frame(code: CloseCode, reason: String) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// Reads until the peer ends or a limit is hit; returns the close frame to send for a limit.
async fn read_loop<T>(shared: &Shared, mut stream: T, addr: SocketAddr) -> Option<CloseFrame>
where
    T: Stream<Item = Result<Message, TungsteniteError>> + Unpin,
{
    let (limits, counters, router) = (&shared.limits, &shared.counters, &shared.router);
    let mut bucket = TokenBucket::new(limits.messages_per_s, limits.messages_burst, router.clock.now_us());
    // The worker that owns this connection's session: set by its ConnectionRequest. Until then
    // (or for a request naming no zone served here) worker 0's host answers, as the receiving
    // worker does for a UDP datagram nobody owns.
    let mut owner: Option<usize> = None;
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    loop {
        let message = match timeout(idle, stream.next()).await {
            Err(_) => {
                WsCounters::add(&counters.closed_idle, 1);
                return Some(close_frame(CloseCode::Away, "nothing received for too long".into()));
            }
            Ok(None) => return None,
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(TungsteniteError::Capacity(_)))) => {
                WsCounters::add(&counters.closed_oversized, 1);
                return Some(close_frame(
                    CloseCode::Size,
                    format!("a message is one packet of at most {} bytes", limits.message_bytes_max),
                ));
            }
            Ok(Some(Err(_))) => return None,
        };
        let now_us = router.clock.now_us();
        if !matches!(message, Message::Close(_)) && !bucket.take(now_us) {
            WsCounters::add(&counters.closed_rate, 1);
            return Some(close_frame(
                CloseCode::Policy,
                format!("more than {} messages per second", limits.messages_per_s),
            ));
        }
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Text(_) => {
                WsCounters::add(&counters.closed_text, 1);
                return Some(close_frame(
                    CloseCode::Unsupported,
                    "binary messages only: one protocol packet each".into(),
                ));
            }
            Message::Close(_) => return None,
            // Pings are answered by the library; pongs and raw frames carry nothing for us.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        WsCounters::add(&counters.messages_in, 1);
        WsCounters::add(&counters.bytes_in, bytes.len() as u64);
        if read_packet_type(&bytes).ok() == Some(PacketType::ConnectionRequest) {
            if let Some(worker) = router.request_owner(&bytes) {
                owner = Some(worker);
            }
        } else if owner.is_none()
            && let Ok(header) = read_sealed_header(&bytes)
        {
            // A session resuming after a failover starts with a sealed packet, no token: the
            // worker holding its resume offer, as the workers' own routing finds it.
            owner = router.directory.resumable_owner(header.session_id);
        }
        let worker = owner.unwrap_or(0);
        let forwarded = Forwarded {
            bytes: bytes.to_vec(),
            from: addr,
            received_us: now_us,
            handoff: None,
            direct: true,
        };
        if router.peers[worker].try_send(forwarded).is_err() {
            WsCounters::add(&counters.inbound_dropped, 1);
        }
    }
}

/// Writes queued packets (in batches, one flush each) until the queue or the connection ends, a
/// close is asked for, or a write stays blocked past the stuck timeout.
async fn write_loop<K>(
    shared: &Shared,
    mut sink: K,
    mut queue: mpsc::Receiver<Vec<u8>>,
    mut close: oneshot::Receiver<CloseFrame>,
) where
    K: Sink<Message, Error = TungsteniteError> + Unpin,
{
    let counters = &shared.counters;
    let stuck = Duration::from_millis(shared.limits.stuck_timeout_ms);
    loop {
        tokio::select! {
            biased;
            frame = &mut close => {
                if let Ok(frame) = frame {
                    let _ = timeout(CLOSE_WRITE, sink.send(Message::Close(Some(frame)))).await;
                }
                return;
            }
            packet = queue.recv() => {
                let Some(first) = packet else { return };
                let batch = async {
                    let (mut messages, mut bytes) = (1u64, first.len() as u64);
                    sink.feed(Message::binary(first)).await?;
                    while (messages as usize) < WRITE_BATCH_PACKETS {
                        let Ok(next) = queue.try_recv() else { break };
                        messages += 1;
                        bytes += next.len() as u64;
                        sink.feed(Message::binary(next)).await?;
                    }
                    sink.flush().await?;
                    Ok::<_, TungsteniteError>((messages, bytes))
                };
                match timeout(stuck, batch).await {
                    Ok(Ok((messages, bytes))) => {
                        WsCounters::add(&counters.messages_out, messages);
                        WsCounters::add(&counters.bytes_out, bytes);
                    }
                    Ok(Err(_)) => return,
                    Err(_) => {
                        WsCounters::add(&counters.closed_stuck, 1);
                        return;
                    }
                }
            }
        }
    }
}
