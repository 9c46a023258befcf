//! The node link: a bounded, authenticated, confidential channel between the nodes of a cluster,
//! for what crosses nodes in a handoff (tickets — which carry session keys —, commits, ghosts and
//! forwarded datagrams).
//!
//! TCP with length-prefixed frames sealed by ChaCha20-Poly1305 under a key derived per connection
//! from the cluster key ([`seal`] says how and why). Each node dials every peer it sends to; a
//! connection carries frames one way (dialer → listener), so each ordered pair of nodes has its own
//! connection, its own key and its own nonce counter, and neither side ever waits for the other's
//! writes.
//!
//! Bounded at every step, with counters per peer: [`NodeLink::send`] never blocks (a worker thread
//! calls it inside its loop) — a full send queue drops the frame and counts it; frames queued while
//! a peer is unreachable wait in that queue (up to its bound) and go out once it reconnects; a
//! frame lost with a broken connection is counted; received frames go to a bounded inbox (a
//! `std::sync::mpsc::sync_channel` the workers drain without async), a full inbox drops and counts.
//! A dialer reconnects with exponential backoff (`BACKOFF_MIN_MS` … `BACKOFF_MAX_MS`).
//!
//! Peers come from the registry: a node record's `link_addr` (see the node agent).

pub mod message;
pub mod seal;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use seal::{DialerHello, FrameOpener, FrameSealer, ListenerHello, PROOF_BYTES, SealError, Transcript};

/// Frames queued per peer before `send` drops (a handoff burst of a busy border, plus ghosts).
pub const LINK_SEND_QUEUE_FRAMES: usize = 8_192;
/// Received frames the inbox holds before the link drops (the workers drain it every loop).
pub const LINK_INBOX_FRAMES: usize = 16_384;
/// Largest frame plaintext: a ticket (transport state, jitter buffer, inventory) or a ghost batch
/// fits with room; a bigger length prefix is a broken or hostile peer and closes the connection.
pub const LINK_FRAME_BYTES_MAX: usize = 1 << 20;
/// Reconnect backoff, doubled per failure and reset by a completed hello.
pub const BACKOFF_MIN_MS: u64 = 50;
pub const BACKOFF_MAX_MS: u64 = 2_000;
/// Longest a hello may take (either side) before the connection is dropped.
pub const HELLO_TIMEOUT_MS: u64 = 2_000;
/// Accepted connections waiting for their hello at once; more are closed at once (counted).
pub const HELLOS_PENDING_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("node link cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("node id must be 1..={max} bytes", max = seal::NODE_ID_BYTES_MAX)]
    BadNodeId,
    #[error("no randomness for the hello: {0}")]
    Random(String),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("node link i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("peer's hello names node {got:?}, the registry says {expected:?} is there")]
    WrongPeer { expected: String, got: String },
    #[error("frame of {bytes} bytes is over the link's limit")]
    FrameTooLarge { bytes: usize },
    #[error("hello timed out")]
    HelloTimeout,
}

/// Why `send` did not queue a frame (both counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendRefused {
    /// No such peer known (not in the registry, or removed).
    UnknownPeer,
    /// The peer's send queue is full (it is slow or unreachable).
    QueueFull,
    /// Over `LINK_FRAME_BYTES_MAX`.
    TooLarge,
}

/// A frame received from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFrame {
    pub from_node: String,
    pub bytes: Vec<u8>,
}

/// One peer's numbers (the sending side's, plus what this node received from it).
#[derive(Debug, Default)]
pub struct PeerCounters {
    pub frames_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub frames_dropped_queue_full: AtomicU64,
    /// Written to a connection that broke before the peer could have read them (at most the
    /// frame in hand; the kernel's buffer is not known).
    pub frames_lost_disconnected: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub frames_received: AtomicU64,
    pub frames_dropped_inbox_full: AtomicU64,
}

/// Numbers of what reached the listener, whoever sent it.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    pub hellos_refused: AtomicU64,
    pub hellos_over_limit: AtomicU64,
    pub connections_closed_bad_frame: AtomicU64,
}

#[derive(Clone, Debug)]
pub struct LinkConfig {
    pub node_id: String,
    /// Where peers dial this node (port 0: any; the bound address is returned).
    pub listen_addr: SocketAddr,
    pub cluster_key: [u8; 32],
}

struct Peer {
    addr: SocketAddr,
    queue: mpsc::Sender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    node_id: String,
    cluster_key: [u8; 32],
    peers: Mutex<HashMap<String, Peer>>,
    counters: Mutex<HashMap<String, Arc<PeerCounters>>>,
    listener: ListenerCounters,
    runtime: tokio::runtime::Handle,
}

impl Inner {
    fn counters(&self, peer: &str) -> Arc<PeerCounters> {
        let mut counters = self.counters.lock().expect("link counters lock");
        Arc::clone(counters.entry(peer.to_owned()).or_default())
    }
}

/// A node's end of the node link; clone it freely (workers hold one each).
#[derive(Clone)]
pub struct NodeLink {
    inner: Arc<Inner>,
}

fn random_nonce() -> Result<[u8; seal::HELLO_NONCE_BYTES], LinkError> {
    let mut nonce = [0u8; seal::HELLO_NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|error| LinkError::Random(error.to_string()))?;
    Ok(nonce)
}

async fn write_chunk(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), LinkError> {
    stream.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    stream.write_all(bytes).await?;
    Ok(())
}

/// Reads one length-prefixed chunk of at most `max` bytes.
async fn read_chunk(stream: &mut TcpStream, max: usize) -> Result<Vec<u8>, LinkError> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(LinkError::FrameTooLarge { bytes: len });
    }
    let mut bytes = vec![0u8; len];
    stream.read_exact(&mut bytes).await?;
    Ok(bytes)
}

const HELLO_BYTES_MAX: usize = 512;

impl NodeLink {
    /// Binds the listener and starts accepting peers on the current tokio runtime. Received frames
    /// go to `inbox` (bounded: make it with `LINK_INBOX_FRAMES`).
    pub async fn start(config: LinkConfig, inbox: SyncSender<LinkFrame>) -> Result<(Self, SocketAddr), LinkError> {
        if config.node_id.is_empty() || config.node_id.len() > seal::NODE_ID_BYTES_MAX {
            return Err(LinkError::BadNodeId);
        }
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| LinkError::Listen {
                addr: config.listen_addr,
                source,
            })?;
        let bound = listener.local_addr()?;
        let inner = Arc::new(Inner {
            node_id: config.node_id,
            cluster_key: config.cluster_key,
            peers: Mutex::new(HashMap::new()),
            counters: Mutex::new(HashMap::new()),
            listener: ListenerCounters::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        tokio::spawn(accept_loop(Arc::clone(&inner), listener, inbox));
        Ok((Self { inner }, bound))
    }

    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Adds a peer (or moves it to a new address: its queue starts afresh) and starts dialing it.
    /// Callable from any thread.
    pub fn set_peer(&self, node_id: &str, addr: SocketAddr) {
        if node_id == self.inner.node_id {
            return;
        }
        let mut peers = self.inner.peers.lock().expect("link peers lock");
        if peers.get(node_id).is_some_and(|peer| peer.addr == addr) {
            return;
        }
        let (queue, frames) = mpsc::channel(LINK_SEND_QUEUE_FRAMES);
        let counters = self.inner.counters(node_id);
        let task = self.inner.runtime.spawn(dial_loop(
            Arc::clone(&self.inner),
            node_id.to_owned(),
            addr,
            frames,
            counters,
        ));
        if let Some(old) = peers.insert(node_id.to_owned(), Peer { addr, queue, task }) {
            old.task.abort();
        }
    }

    /// Forgets a peer (it left the registry): its queue and connection go.
    pub fn remove_peer(&self, node_id: &str) {
        if let Some(peer) = self.inner.peers.lock().expect("link peers lock").remove(node_id) {
            peer.task.abort();
        }
    }

    /// The peers known, with their link addresses.
    pub fn peers(&self) -> Vec<(String, SocketAddr)> {
        let mut peers: Vec<_> = self
            .inner
            .peers
            .lock()
            .expect("link peers lock")
            .iter()
            .map(|(id, peer)| (id.clone(), peer.addr))
            .collect();
        peers.sort();
        peers
    }

    /// Queues a frame for `node_id` without waiting. Refusals are counted.
    pub fn send(&self, node_id: &str, bytes: Vec<u8>) -> Result<(), SendRefused> {
        if bytes.len() > LINK_FRAME_BYTES_MAX {
            metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => node_id.to_owned(), "reason" => "too_large").increment(1);
            return Err(SendRefused::TooLarge);
        }
        let peers = self.inner.peers.lock().expect("link peers lock");
        let Some(peer) = peers.get(node_id) else {
            metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => node_id.to_owned(), "reason" => "unknown_peer").increment(1);
            return Err(SendRefused::UnknownPeer);
        };
        match peer.queue.try_send(bytes) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.inner
                    .counters(node_id)
                    .frames_dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => node_id.to_owned(), "reason" => "queue_full").increment(1);
                Err(SendRefused::QueueFull)
            }
        }
    }

    /// One peer's counters (created on first use).
    pub fn counters(&self, node_id: &str) -> Arc<PeerCounters> {
        self.inner.counters(node_id)
    }

    pub fn listener_counters(&self) -> &ListenerCounters {
        &self.inner.listener
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(peers) = self.peers.get_mut() {
            for peer in peers.values() {
                peer.task.abort();
            }
        }
    }
}

/// Dials `addr` until told to stop (the peer removed), sending queued frames over each connection.
async fn dial_loop(
    inner: Arc<Inner>,
    peer_id: String,
    addr: SocketAddr,
    mut frames: mpsc::Receiver<Vec<u8>>,
    counters: Arc<PeerCounters>,
) {
    let mut backoff_ms = BACKOFF_MIN_MS;
    loop {
        let connected = tokio::time::timeout(Duration::from_millis(HELLO_TIMEOUT_MS), dial(&inner, &peer_id, addr))
            .await
            .unwrap_or(Err(LinkError::HelloTimeout));
        let (mut stream, mut sealer) = match connected {
            Ok(connection) => connection,
            Err(error) => {
                counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("meridian_node_link_connect_failures_total", "peer" => peer_id.clone()).increment(1);
                tracing::debug!(peer = %peer_id, %addr, %error, backoff_ms, "node link: dial failed");
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
                continue;
            }
        };
        backoff_ms = BACKOFF_MIN_MS;
        counters.connects.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("meridian_node_link_connects_total", "peer" => peer_id.clone()).increment(1);
        tracing::info!(peer = %peer_id, %addr, "node link: connected");
        // Send until the connection breaks; the frame in hand then is counted lost. The listener
        // never writes after its hello, so a readable stream means it closed: noticed here, before
        // the next frame is written into a dead connection (a frame written in the instant the
        // peer dies is lost uncounted; a ticket then expires and is aborted, never doubled).
        let mut probe = [0u8; 1];
        loop {
            let frame = tokio::select! {
                frame = frames.recv() => frame,
                _ = stream.read(&mut probe) => {
                    tracing::warn!(peer = %peer_id, "node link: peer closed the connection; reconnecting");
                    break;
                }
            };
            let Some(frame) = frame else {
                return;
            };
            let wire = sealer.seal(&frame);
            if let Err(error) = stream.write_all(&wire).await {
                counters.frames_lost_disconnected.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => peer_id.clone(), "reason" => "disconnected").increment(1);
                tracing::warn!(peer = %peer_id, %error, "node link: connection lost; reconnecting");
                break;
            }
            counters.frames_sent.fetch_add(1, Ordering::Relaxed);
            counters.bytes_sent.fetch_add(frame.len() as u64, Ordering::Relaxed);
            metrics::counter!("meridian_node_link_frames_sent_total", "peer" => peer_id.clone()).increment(1);
        }
    }
}

/// Connects and runs the dialer's side of the hello.
async fn dial(inner: &Inner, peer_id: &str, addr: SocketAddr) -> Result<(TcpStream, FrameSealer), LinkError> {
    let mut stream = TcpStream::connect(addr).await?;
    // Tickets are small and latency matters more than segment count.
    stream.set_nodelay(true)?;
    let hello = DialerHello {
        node_id: inner.node_id.clone(),
        nonce: random_nonce()?,
    };
    write_chunk(&mut stream, &hello.encode()).await?;
    let answer = ListenerHello::decode(&read_chunk(&mut stream, HELLO_BYTES_MAX).await?)?;
    if answer.node_id != peer_id {
        return Err(LinkError::WrongPeer {
            expected: peer_id.to_owned(),
            got: answer.node_id,
        });
    }
    let transcript = Transcript {
        dialer_id: hello.node_id,
        dialer_nonce: hello.nonce,
        listener_id: answer.node_id,
        listener_nonce: answer.nonce,
    };
    Transcript::verify(&transcript.listener_proof(&inner.cluster_key), &answer.proof)?;
    write_chunk(&mut stream, &transcript.dialer_proof(&inner.cluster_key)).await?;
    Ok((stream, FrameSealer::new(&transcript.frame_key(&inner.cluster_key))))
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, inbox: SyncSender<LinkFrame>) {
    let pending = Arc::new(tokio::sync::Semaphore::new(HELLOS_PENDING_MAX));
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(BACKOFF_MIN_MS)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            inner.listener.hellos_over_limit.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let inner = Arc::clone(&inner);
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let hello = tokio::time::timeout(Duration::from_millis(HELLO_TIMEOUT_MS), answer(&inner, &mut stream))
                .await
                .unwrap_or(Err(LinkError::HelloTimeout));
            drop(permit);
            match hello {
                Ok((peer_id, opener)) => receive(&inner, stream, peer_id, opener, inbox).await,
                Err(error) => {
                    inner.listener.hellos_refused.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("meridian_node_link_hellos_refused_total").increment(1);
                    tracing::warn!(%from, %error, "node link: hello refused");
                }
            }
        });
    }
}

/// The listener's side of the hello: the dialer's id and the opener of its frames.
async fn answer(inner: &Inner, stream: &mut TcpStream) -> Result<(String, FrameOpener), LinkError> {
    stream.set_nodelay(true)?;
    let hello = DialerHello::decode(&read_chunk(stream, HELLO_BYTES_MAX).await?)?;
    let ours = ListenerHello {
        node_id: inner.node_id.clone(),
        nonce: random_nonce()?,
        proof: [0; PROOF_BYTES],
    };
    let transcript = Transcript {
        dialer_id: hello.node_id.clone(),
        dialer_nonce: hello.nonce,
        listener_id: ours.node_id.clone(),
        listener_nonce: ours.nonce,
    };
    let ours = ListenerHello {
        proof: transcript.listener_proof(&inner.cluster_key),
        ..ours
    };
    write_chunk(stream, &ours.encode()).await?;
    let proof = read_chunk(stream, PROOF_BYTES).await?;
    Transcript::verify(&transcript.dialer_proof(&inner.cluster_key), &proof)?;
    Ok((
        hello.node_id,
        FrameOpener::new(&transcript.frame_key(&inner.cluster_key)),
    ))
}

async fn receive(
    inner: &Inner,
    mut stream: TcpStream,
    peer_id: String,
    mut opener: FrameOpener,
    inbox: SyncSender<LinkFrame>,
) {
    let counters = inner.counters(&peer_id);
    loop {
        let sealed = match read_chunk(&mut stream, LINK_FRAME_BYTES_MAX + seal::TAG_BYTES).await {
            Ok(sealed) => sealed,
            Err(LinkError::Io(_)) => return, // closed: the dialer reconnects
            Err(error) => {
                inner
                    .listener
                    .connections_closed_bad_frame
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer_id, %error, "node link: closing connection");
                return;
            }
        };
        let bytes = match opener.open(sealed) {
            Ok(bytes) => bytes,
            Err(error) => {
                inner
                    .listener
                    .connections_closed_bad_frame
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer_id, %error, "node link: closing connection");
                return;
            }
        };
        counters.frames_received.fetch_add(1, Ordering::Relaxed);
        match inbox.try_send(LinkFrame {
            from_node: peer_id.clone(),
            bytes,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.frames_dropped_inbox_full.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => peer_id.clone(), "reason" => "inbox_full").increment(1);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}
