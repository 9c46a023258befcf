//! Global chat across nodes over Redis pub/sub.
//!
//! Why pub/sub and not the event log: a chat line must reach every node within a few milliseconds,
//! fan out to every node at once, and is worthless a minute later. Redis pub/sub is one hop with no
//! write to disk and delivers to every subscribed node; the event log persists, partitions and
//! batches (its consumers trade latency for durability), none of which chat wants. What pub/sub does
//! not give: delivery to a node whose subscription is down at that moment (the line is lost for its
//! players; at-most-once, said plainly) and replay.
//!
//! One delivery path: a node's own messages come back through its subscription like everyone else's
//! (never delivered locally as well), so every node sees every line once, in the one order Redis
//! publishes them.
//!
//! Refusals are explicit ([`ChatRefusal`]: empty, too long, rate limited, unavailable) so the node can
//! tell the sender; the limits run here before anything reaches Redis ([`ChatLimiter`], sans-IO).
//! Received messages go to a bounded queue ([`CHAT_RECEIVE_QUEUE_MAX`]); overflow is counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use meridian_proto::control::NODE_ID_BYTES_MAX;
use meridian_proto::messages::CHAT_TEXT_BYTES_MAX;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::HotStateError;
use crate::link::{REDIS_CONNECT_TIMEOUT, REDIS_OP_TIMEOUT, RedisLink};

/// The Redis channel every node publishes to and subscribes to.
pub const GLOBAL_CHAT_CHANNEL: &str = "meridian:chat:global";
/// Lines a player may send per window: five per ten seconds is a fast typist's conversation and
/// makes flooding one channel shared by every player of the world slow.
pub const CHAT_MESSAGES_PER_WINDOW: u32 = 5;
pub const CHAT_RATE_WINDOW_MS: u64 = 10_000;
/// Players whose rate state one limiter keeps (one node's players: `SERVER_CONNECTIONS_MAX` is
/// below this). Idle players' state is dropped first when it fills.
pub const LIMITER_PLAYERS_MAX: usize = 65_536;
/// Received lines waiting for the node to fan them out: a second of a busy world's chat (a few
/// hundred lines) many times over; overflow is counted, not waited for.
pub const CHAT_RECEIVE_QUEUE_MAX: usize = 4096;
/// Lines accepted by [`GlobalChat::try_publish`] waiting for the publisher task: at a few hundred
/// lines a second a node's queue holds seconds of chat; when Redis stalls it fills and further lines
/// are refused as unavailable instead of piling up.
pub const CHAT_PUBLISH_QUEUE_MAX: usize = 1024;
/// Lines the publisher sends in one pipeline (one round trip).
const PUBLISH_BATCH_MAX: usize = 64;
/// How often the subscriber pings its connection: a dead Redis is noticed within this plus the
/// op timeout even when the socket does not close.
const SUBSCRIBER_PING_PERIOD: Duration = Duration::from_secs(1);
/// Longest wait between resubscribe attempts while Redis is down.
const RESUBSCRIBE_BACKOFF_MAX: Duration = Duration::from_millis(1000);
const RESUBSCRIBE_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Wire format version of a published line (first byte).
const WIRE_VERSION: u8 = 1;
const WIRE_HEADER_BYTES: usize = 1 + 8 + 8 + 8 + 1;

/// Why a line was not sent. The node turns it into a message to the sender.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ChatRefusal {
    #[error("chat text is empty")]
    Empty,
    #[error("chat text of {bytes} bytes exceeds the limit of {limit}")]
    TooLong { bytes: usize, limit: usize },
    #[error("too many chat lines; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("global chat is unavailable")]
    Unavailable,
}

impl ChatRefusal {
    /// Stable label for metrics and for the refusal shown to the sender.
    pub fn label(&self) -> &'static str {
        match self {
            ChatRefusal::Empty => "empty",
            ChatRefusal::TooLong { .. } => "too_long",
            ChatRefusal::RateLimited { .. } => "rate_limited",
            ChatRefusal::Unavailable => "unavailable",
        }
    }
}

/// Per-player token bucket, sans-IO (time is an argument): [`CHAT_MESSAGES_PER_WINDOW`] lines at
/// once, then one more every `window / messages`.
#[derive(Debug, Default)]
pub struct ChatLimiter {
    /// Player → (credit in milliseconds of refill, time of the last update).
    buckets: HashMap<u64, (u64, u64)>,
}

/// Refill time that earns one line.
const LINE_COST_MS: u64 = CHAT_RATE_WINDOW_MS / CHAT_MESSAGES_PER_WINDOW as u64;
/// A full bucket (a burst of `CHAT_MESSAGES_PER_WINDOW` lines).
const BUCKET_CAPACITY_MS: u64 = LINE_COST_MS * CHAT_MESSAGES_PER_WINDOW as u64;
const _: () = assert!(LINE_COST_MS > 0);

impl ChatLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the text, then takes one line from the player's bucket at `now_ms`.
    pub fn check(&mut self, player: u64, text: &str, now_ms: u64) -> Result<(), ChatRefusal> {
        if text.trim().is_empty() {
            return Err(ChatRefusal::Empty);
        }
        if text.len() > CHAT_TEXT_BYTES_MAX {
            return Err(ChatRefusal::TooLong {
                bytes: text.len(),
                limit: CHAT_TEXT_BYTES_MAX,
            });
        }
        if !self.buckets.contains_key(&player) && self.buckets.len() >= LIMITER_PLAYERS_MAX {
            // Players whose bucket has refilled completely carry no state worth keeping.
            self.buckets
                .retain(|_, (credit, at)| credit.saturating_add(now_ms.saturating_sub(*at)) < BUCKET_CAPACITY_MS);
            if self.buckets.len() >= LIMITER_PLAYERS_MAX {
                return Err(ChatRefusal::RateLimited {
                    retry_after_ms: LINE_COST_MS,
                });
            }
        }
        let (credit, at) = self.buckets.entry(player).or_insert((BUCKET_CAPACITY_MS, now_ms));
        *credit = credit
            .saturating_add(now_ms.saturating_sub(*at))
            .min(BUCKET_CAPACITY_MS);
        *at = (*at).max(now_ms);
        if *credit < LINE_COST_MS {
            return Err(ChatRefusal::RateLimited {
                retry_after_ms: LINE_COST_MS - *credit,
            });
        }
        *credit -= LINE_COST_MS;
        Ok(())
    }

    /// Players with rate state.
    pub fn players(&self) -> usize {
        self.buckets.len()
    }
}

/// A global chat line as every node receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalChatMessage {
    /// The sender (character id).
    pub from: u64,
    pub text: String,
    /// The node the sender plays on.
    pub origin_node: String,
    /// Unique per origin node: `(origin_node, id)` identifies a line.
    pub id: u64,
    /// When the origin node published it (its wall clock; for latency figures).
    pub sent_at_unix_us: u64,
}

impl GlobalChatMessage {
    fn encode(&self) -> Vec<u8> {
        debug_assert!(self.origin_node.len() <= NODE_ID_BYTES_MAX);
        let mut out = Vec::with_capacity(WIRE_HEADER_BYTES + self.origin_node.len() + self.text.len());
        out.push(WIRE_VERSION);
        out.extend_from_slice(&self.from.to_le_bytes());
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.sent_at_unix_us.to_le_bytes());
        out.push(self.origin_node.len() as u8);
        out.extend_from_slice(self.origin_node.as_bytes());
        out.extend_from_slice(self.text.as_bytes());
        out
    }

    /// Total decoder: `None` for anything that is not a line this module wrote within the limits.
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != WIRE_VERSION || rest.len() < WIRE_HEADER_BYTES - 1 {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
        let (from, id, sent_at_unix_us) = (u64_at(0), u64_at(8), u64_at(16));
        let node_bytes = usize::from(rest[24]);
        let rest = &rest[25..];
        if node_bytes > NODE_ID_BYTES_MAX || rest.len() < node_bytes || rest.len() - node_bytes > CHAT_TEXT_BYTES_MAX {
            return None;
        }
        let origin_node = std::str::from_utf8(&rest[..node_bytes]).ok()?.to_owned();
        let text = std::str::from_utf8(&rest[node_bytes..]).ok()?.to_owned();
        Some(Self {
            from,
            text,
            origin_node,
            id,
            sent_at_unix_us,
        })
    }
}

/// What the chat has done, for metrics (`meridian_global_chat_*_total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChatCounters {
    pub published: u64,
    pub refused_empty: u64,
    pub refused_too_long: u64,
    pub refused_rate_limited: u64,
    pub refused_unavailable: u64,
    pub received: u64,
    /// Received lines dropped because the node's queue was full (or gone).
    pub received_dropped: u64,
    /// Published payloads that were not a line this module wrote.
    pub received_invalid: u64,
    /// Subscriptions made (1 at connect, one more after each recovery).
    pub subscriptions: u64,
    /// Subscriptions lost (Redis went away).
    pub subscriptions_lost: u64,
    /// Lines accepted by `try_publish` that the publisher task could not hand to Redis (lost; the
    /// sender had been told nothing was wrong, so `try_publish` refuses while this is recent).
    pub publish_failed: u64,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    refused_empty: AtomicU64,
    refused_too_long: AtomicU64,
    refused_rate_limited: AtomicU64,
    refused_unavailable: AtomicU64,
    received: AtomicU64,
    received_dropped: AtomicU64,
    received_invalid: AtomicU64,
    subscriptions: AtomicU64,
    subscriptions_lost: AtomicU64,
    publish_failed: AtomicU64,
}

/// State shared with the subscriber task (no reference back to the `GlobalChat`).
struct Shared {
    counters: Counters,
    subscribed: AtomicBool,
    /// False after the publisher task's last batch failed, until one succeeds.
    publisher_healthy: AtomicBool,
}

struct Inner {
    link: RedisLink,
    node_id: String,
    limiter: Mutex<ChatLimiter>,
    started: Instant,
    next_id: AtomicU64,
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Vec<u8>>,
    subscriber: JoinHandle<()>,
    publisher: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.subscriber.abort();
        self.publisher.abort();
    }
}

/// One node's handle on global chat; clone it freely (the subscriber stops when the last clone
/// drops).
#[derive(Clone)]
pub struct GlobalChat {
    inner: Arc<Inner>,
}

/// The lines every node receives, in Redis' order; the node fans each out to its players.
pub struct GlobalChatReceiver {
    receiver: mpsc::Receiver<GlobalChatMessage>,
}

impl GlobalChatReceiver {
    /// The next line; `None` once the `GlobalChat` is gone.
    pub async fn recv(&mut self) -> Option<GlobalChatMessage> {
        self.receiver.recv().await
    }

    /// The next line if one is waiting (for a worker thread's loop, which must not wait).
    pub fn try_recv(&mut self) -> Option<GlobalChatMessage> {
        self.receiver.try_recv().ok()
    }
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
}

impl GlobalChat {
    /// Subscribes to the global channel (waiting for the subscription, so every line published after
    /// this returns is received) and starts the subscriber task, which resubscribes after Redis comes
    /// back. `node_id`: at most `NODE_ID_BYTES_MAX` bytes. Call inside a tokio runtime.
    pub async fn connect(link: RedisLink, node_id: &str) -> Result<(GlobalChat, GlobalChatReceiver), HotStateError> {
        if node_id.len() > NODE_ID_BYTES_MAX {
            return Err(HotStateError::InvalidArgument(format!(
                "node id of {} bytes exceeds {NODE_ID_BYTES_MAX}",
                node_id.len()
            )));
        }
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            subscribed: AtomicBool::new(false),
            publisher_healthy: AtomicBool::new(true),
        });
        let (sender, receiver) = mpsc::channel(CHAT_RECEIVE_QUEUE_MAX);
        let (ready_tx, mut ready_rx) = watch::channel(false);
        let subscriber = tokio::spawn(subscribe_loop(link.client().clone(), shared.clone(), sender, ready_tx));
        let ready = tokio::time::timeout(REDIS_OP_TIMEOUT * 2, ready_rx.wait_for(|&ready| ready)).await;
        if !matches!(ready, Ok(Ok(_))) {
            subscriber.abort();
            return Err(HotStateError::Unavailable {
                reason: "could not subscribe to global chat".into(),
            });
        }
        let (outbox, outbox_receiver) = mpsc::channel(CHAT_PUBLISH_QUEUE_MAX);
        let publisher = tokio::spawn(publish_loop(link.clone(), shared.clone(), outbox_receiver));
        // Ids start at the connect time in microseconds: a restarted node does not reuse the ids of
        // its previous run (unless its clock went back), without storing anything.
        let chat = GlobalChat {
            inner: Arc::new(Inner {
                link,
                node_id: node_id.to_owned(),
                limiter: Mutex::new(ChatLimiter::new()),
                started: Instant::now(),
                next_id: AtomicU64::new(unix_us()),
                shared,
                outbox,
                subscriber,
                publisher,
            }),
        };
        Ok((chat, GlobalChatReceiver { receiver }))
    }

    /// Sends a line from `from_player` to every node (this one included: it comes back through the
    /// subscription). Refused with a reason when empty, too long, over the player's rate, or when
    /// Redis does not take it within the op timeout.
    pub async fn publish(&self, from_player: u64, text: &str) -> Result<(), ChatRefusal> {
        let inner = &self.inner;
        let counters = &inner.shared.counters;
        let payload = self.accept(from_player, text)?;
        let published: Result<u64, HotStateError> = inner
            .link
            .run(|mut conn| async move {
                redis::cmd("PUBLISH")
                    .arg(GLOBAL_CHAT_CHANNEL)
                    .arg(payload)
                    .query_async(&mut conn)
                    .await
            })
            .await;
        match published {
            Ok(_receivers) => {
                counters.published.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                tracing::debug!(%error, "global chat publish failed");
                counters.refused_unavailable.fetch_add(1, Ordering::Relaxed);
                Err(ChatRefusal::Unavailable)
            }
        }
    }

    /// Like [`GlobalChat::publish`] but never waits (for a worker thread outside the runtime): the
    /// line is checked, then queued for the publisher task. Refused as `Unavailable` when the queue
    /// is full, the subscription is down, or the publisher's last batch failed (Redis is away); a
    /// queued line that then fails to publish is lost and counted (`publish_failed`).
    pub fn try_publish(&self, from_player: u64, text: &str) -> Result<(), ChatRefusal> {
        let inner = &self.inner;
        let counters = &inner.shared.counters;
        let healthy =
            inner.shared.subscribed.load(Ordering::Relaxed) && inner.shared.publisher_healthy.load(Ordering::Relaxed);
        if !healthy {
            counters.refused_unavailable.fetch_add(1, Ordering::Relaxed);
            return Err(ChatRefusal::Unavailable);
        }
        let payload = self.accept(from_player, text)?;
        if inner.outbox.try_send(payload).is_err() {
            counters.refused_unavailable.fetch_add(1, Ordering::Relaxed);
            return Err(ChatRefusal::Unavailable);
        }
        Ok(())
    }

    /// Applies the limits and builds the wire line.
    fn accept(&self, from_player: u64, text: &str) -> Result<Vec<u8>, ChatRefusal> {
        let inner = &self.inner;
        let counters = &inner.shared.counters;
        let now_ms = u64::try_from(inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let checked = inner
            .limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .check(from_player, text, now_ms);
        if let Err(refusal) = checked {
            let counter = match refusal {
                ChatRefusal::Empty => &counters.refused_empty,
                ChatRefusal::TooLong { .. } => &counters.refused_too_long,
                ChatRefusal::RateLimited { .. } => &counters.refused_rate_limited,
                ChatRefusal::Unavailable => &counters.refused_unavailable,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        let message = GlobalChatMessage {
            from: from_player,
            text: text.to_owned(),
            origin_node: inner.node_id.clone(),
            id: inner.next_id.fetch_add(1, Ordering::Relaxed),
            sent_at_unix_us: unix_us(),
        };
        Ok(message.encode())
    }

    pub fn counters(&self) -> ChatCounters {
        let c = &self.inner.shared.counters;
        ChatCounters {
            published: c.published.load(Ordering::Relaxed),
            refused_empty: c.refused_empty.load(Ordering::Relaxed),
            refused_too_long: c.refused_too_long.load(Ordering::Relaxed),
            refused_rate_limited: c.refused_rate_limited.load(Ordering::Relaxed),
            refused_unavailable: c.refused_unavailable.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            received_dropped: c.received_dropped.load(Ordering::Relaxed),
            received_invalid: c.received_invalid.load(Ordering::Relaxed),
            subscriptions: c.subscriptions.load(Ordering::Relaxed),
            subscriptions_lost: c.subscriptions_lost.load(Ordering::Relaxed),
            publish_failed: c.publish_failed.load(Ordering::Relaxed),
        }
    }

    /// Whether the subscription is up now (lines published while it is down never reach this node).
    pub fn is_subscribed(&self) -> bool {
        self.inner.shared.subscribed.load(Ordering::Relaxed)
    }

    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }
}

/// Publishes what `try_publish` queued, up to [`PUBLISH_BATCH_MAX`] lines per round trip, in order.
async fn publish_loop(link: RedisLink, shared: Arc<Shared>, mut outbox: mpsc::Receiver<Vec<u8>>) {
    let counters = &shared.counters;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH_MAX);
    while outbox.recv_many(&mut batch, PUBLISH_BATCH_MAX).await > 0 {
        let lines = batch.len() as u64;
        let mut pipeline = redis::pipe();
        for payload in batch.drain(..) {
            pipeline.cmd("PUBLISH").arg(GLOBAL_CHAT_CHANNEL).arg(payload).ignore();
        }
        let sent: Result<(), HotStateError> = link
            .run(|mut conn| async move { pipeline.query_async(&mut conn).await })
            .await;
        match sent {
            Ok(()) => {
                counters.published.fetch_add(lines, Ordering::Relaxed);
                shared.publisher_healthy.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                counters.publish_failed.fetch_add(lines, Ordering::Relaxed);
                shared.publisher_healthy.store(false, Ordering::Relaxed);
                tracing::warn!(%error, lines, "global chat lines lost: redis unavailable");
            }
        }
    }
}

/// Subscribes, forwards lines until the connection dies, and starts over with a bounded backoff.
async fn subscribe_loop(
    client: redis::Client,
    shared: Arc<Shared>,
    sender: mpsc::Sender<GlobalChatMessage>,
    ready: watch::Sender<bool>,
) {
    let counters = &shared.counters;
    let mut backoff = RESUBSCRIBE_BACKOFF_MIN;
    loop {
        let subscribed = async {
            let mut pubsub = tokio::time::timeout(REDIS_CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .ok()?
                .ok()?;
            tokio::time::timeout(REDIS_OP_TIMEOUT, pubsub.subscribe(GLOBAL_CHAT_CHANNEL))
                .await
                .ok()?
                .ok()?;
            Some(pubsub)
        }
        .await;
        if let Some(pubsub) = subscribed {
            backoff = RESUBSCRIBE_BACKOFF_MIN;
            counters.subscriptions.fetch_add(1, Ordering::Relaxed);
            shared.subscribed.store(true, Ordering::Relaxed);
            // Redis answers again: let `try_publish` queue lines again after a failed batch.
            shared.publisher_healthy.store(true, Ordering::Relaxed);
            ready.send_replace(true);
            let (mut sink, mut stream) = pubsub.split();
            let mut ping = tokio::time::interval(SUBSCRIBER_PING_PERIOD);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping.tick().await; // the first tick is immediate
            loop {
                tokio::select! {
                    message = stream.next() => {
                        let Some(message) = message else { break };
                        match GlobalChatMessage::decode(message.get_payload_bytes()) {
                            Some(line) => {
                                counters.received.fetch_add(1, Ordering::Relaxed);
                                if sender.try_send(line).is_err() {
                                    counters.received_dropped.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            None => {
                                counters.received_invalid.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    _ = ping.tick() => {
                        // A subscribed RESP2 connection answers PING with an array, not +PONG.
                        let pong = tokio::time::timeout(REDIS_OP_TIMEOUT, sink.ping::<redis::Value>()).await;
                        if !matches!(pong, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            shared.subscribed.store(false, Ordering::Relaxed);
            counters.subscriptions_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("global chat subscription lost; resubscribing");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESUBSCRIBE_BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_gets_a_burst_then_one_line_per_refill() {
        let mut limiter = ChatLimiter::new();
        for _ in 0..CHAT_MESSAGES_PER_WINDOW {
            limiter.check(1, "hi", 0).unwrap();
        }
        assert_eq!(
            limiter.check(1, "hi", 0),
            Err(ChatRefusal::RateLimited {
                retry_after_ms: LINE_COST_MS
            })
        );
        // Another player is not affected.
        limiter.check(2, "hi", 0).unwrap();
        assert_eq!(
            limiter.check(1, "hi", LINE_COST_MS - 500),
            Err(ChatRefusal::RateLimited { retry_after_ms: 500 })
        );
        limiter.check(1, "hi", LINE_COST_MS).unwrap();
        assert!(limiter.check(1, "hi", LINE_COST_MS).is_err());
        // A long silence refills the burst, never more.
        let later = LINE_COST_MS + 10 * CHAT_RATE_WINDOW_MS;
        for _ in 0..CHAT_MESSAGES_PER_WINDOW {
            limiter.check(1, "hi", later).unwrap();
        }
        assert!(limiter.check(1, "hi", later).is_err());
    }

    #[test]
    fn empty_and_too_long_are_refused_without_using_the_rate() {
        let mut limiter = ChatLimiter::new();
        assert_eq!(limiter.check(1, "", 0), Err(ChatRefusal::Empty));
        assert_eq!(limiter.check(1, " \t ", 0), Err(ChatRefusal::Empty));
        let long = "é".repeat(CHAT_TEXT_BYTES_MAX / 2 + 1);
        assert_eq!(
            limiter.check(1, &long, 0),
            Err(ChatRefusal::TooLong {
                bytes: long.len(),
                limit: CHAT_TEXT_BYTES_MAX
            })
        );
        let longest = "x".repeat(CHAT_TEXT_BYTES_MAX);
        for _ in 0..CHAT_MESSAGES_PER_WINDOW {
            limiter.check(1, &longest, 0).unwrap();
        }
    }

    #[test]
    fn the_limiter_forgets_idle_players_when_full() {
        let mut limiter = ChatLimiter::new();
        for player in 0..LIMITER_PLAYERS_MAX as u64 {
            limiter.check(player, "hi", 0).unwrap();
        }
        // Everyone is mid-window: a newcomer is refused rather than growing the table.
        assert!(matches!(
            limiter.check(u64::MAX, "hi", 1),
            Err(ChatRefusal::RateLimited { .. })
        ));
        assert_eq!(limiter.players(), LIMITER_PLAYERS_MAX);
        // Once their buckets refill, their state goes and the newcomer fits.
        limiter.check(u64::MAX, "hi", LINE_COST_MS).unwrap();
        assert_eq!(limiter.players(), 1);
    }

    #[test]
    fn the_wire_line_round_trips_and_garbage_is_refused() {
        let line = GlobalChatMessage {
            from: 42,
            text: "hello, world".into(),
            origin_node: "node-a".into(),
            id: 7,
            sent_at_unix_us: 123,
        };
        assert_eq!(GlobalChatMessage::decode(&line.encode()), Some(line.clone()));
        let bytes = line.encode();
        for length in 0..WIRE_HEADER_BYTES + line.origin_node.len() {
            assert_eq!(
                GlobalChatMessage::decode(&bytes[..length]),
                None,
                "prefix of {length} bytes"
            );
        }
        let mut bad_utf8 = bytes.clone();
        *bad_utf8.last_mut().unwrap() = 0xff;
        assert_eq!(GlobalChatMessage::decode(&bad_utf8), None);
        let mut too_long = bytes;
        too_long.extend(std::iter::repeat_n(b'x', CHAT_TEXT_BYTES_MAX));
        assert_eq!(GlobalChatMessage::decode(&too_long), None);
    }
}
