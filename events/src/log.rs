//! The producer: a never-blocking `try_log` in front of librdkafka's bounded queue, and the counters
//! that say what became of every event.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    ClientConfig, ClientContext,
    config::RDKafkaLogLevel,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer},
};

use crate::event::Event;

/// Default bound of the buffer in events. A 2,000-player zone logging every kill and loot produces
/// on the order of a few thousand events a second, so 100,000 rides out a broker outage of tens of
/// seconds (a broker restart) without a drop; each buffered event costs its encoded size (~200
/// bytes) plus librdkafka's per-message overhead (~250 bytes), ~45 MB at the bound.
pub const BUFFER_EVENTS_DEFAULT: u32 = 100_000;
/// Default bound of the buffer in bytes, the second limit: whichever is reached first refuses new
/// events. Set above the event bound's typical footprint so that the event count is the usual limit,
/// and large payloads cannot make the buffer unbounded in memory.
pub const BUFFER_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// Default time an event may wait for the broker (queued, sent, retried) before it counts as
/// failed. Ten minutes: a broker outage shorter than that loses nothing that fit in the buffer.
pub const DELIVERY_TIMEOUT_MS_DEFAULT: u32 = 600_000;
/// Default time librdkafka waits to fill a batch. Small: events are tiny and the tick cares about
/// memory held, not request count; 5 ms still batches a tick's worth of events into one request.
pub const LINGER_MS_DEFAULT: u32 = 5;
/// Reconnect backoff ceiling while the broker is down. librdkafka's default (10 s) would leave the
/// buffer waiting up to 10 s after the broker is back; 1 s costs one connection attempt a second.
const RECONNECT_BACKOFF_MAX_MS: u32 = 1_000;
/// librdkafka's own cap on `queue.buffering.max.messages` (and a sane ceiling for a game node).
const BUFFER_EVENTS_LIMIT: u32 = 10_000_000;

/// Where and how to log.
#[derive(Clone, Debug)]
pub struct EventLogConfig {
    /// `host:port[,host:port…]` of the Kafka brokers.
    pub bootstrap_servers: String,
    /// The one topic every event goes to.
    pub topic: String,
    /// Names this producer in the broker's logs and metrics (`client.id`).
    pub client_id: String,
    /// Events queued or in flight at most; at the bound `try_log` drops and counts.
    pub buffer_events_max: u32,
    /// Bytes queued or in flight at most (rounded up to KiB, librdkafka's unit).
    pub buffer_bytes_max: u64,
    /// How long an event may wait for the broker before it counts as failed; 0 = forever.
    pub delivery_timeout_ms: u32,
    pub linger_ms: u32,
}

impl EventLogConfig {
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic: topic.into(),
            client_id: "meridian-events".into(),
            buffer_events_max: BUFFER_EVENTS_DEFAULT,
            buffer_bytes_max: BUFFER_BYTES_DEFAULT,
            delivery_timeout_ms: DELIVERY_TIMEOUT_MS_DEFAULT,
            linger_ms: LINGER_MS_DEFAULT,
        }
    }
}

/// Why the event log could not be created or flushed.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// A configuration value is out of range; the caller's fault, a retry does not help.
    #[error("invalid event log configuration: {0}")]
    InvalidConfig(String),
    /// librdkafka refused the configuration or could not start its threads.
    #[error("creating the Kafka producer: {0}")]
    Create(#[source] KafkaError),
    /// Events were still buffered when the flush timeout passed (the broker is down or slow); they
    /// stay buffered, and a later flush may succeed.
    #[error("{buffered} events still buffered after {timeout:?}: {source}")]
    FlushTimeout {
        buffered: u64,
        timeout: Duration,
        #[source]
        source: KafkaError,
    },
    /// Creating the topic failed (see [`crate::create_topic`]).
    #[error("creating topic {topic}: {reason}")]
    CreateTopic { topic: String, reason: String },
}

/// Why [`EventLog::try_log`] did not take an event. The event is dropped and counted either way;
/// the tick ignores this unless it wants to log it.
#[derive(Debug, thiserror::Error)]
pub enum TryLogError {
    /// The buffer is at its bound (the broker is down or slower than the game): counted in
    /// `dropped_full`.
    #[error("event buffer full; event dropped")]
    BufferFull,
    /// librdkafka refused the event for another reason (e.g. larger than `message.max.bytes`):
    /// counted in `rejected`. Retrying the same event does not help.
    #[error("event refused by the producer: {0}")]
    Rejected(#[source] KafkaError),
}

/// What became of the events given to [`EventLog::try_log`], since the log was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventLogCounters {
    /// Taken into the buffer.
    pub queued: u64,
    /// Acknowledged by the broker.
    pub delivered: u64,
    /// Refused because the buffer was full.
    pub dropped_full: u64,
    /// Refused for another reason at `try_log` (too large, …).
    pub rejected: u64,
    /// Taken, then given up on (delivery timeout, permanent broker error, purged at drop).
    pub failed: u64,
    /// In the buffer now (queued or in flight): `queued - delivered - failed`.
    pub buffered: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    delivered: AtomicU64,
    dropped_full: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// Runs on librdkafka's threads: counts deliveries and routes librdkafka's logs to `tracing`.
struct LogContext {
    counters: Arc<Counters>,
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Broker-down errors repeat once per reconnect attempt while the broker is away; the
        // buffer and its counters are what matter then, so these stay at `info`.
        tracing::info!(target: "librdkafka", %error, "{reason}");
    }
}

impl ProducerContext for LogContext {
    type DeliveryOpaque = ();

    fn delivery(&self, delivery_result: &DeliveryResult<'_>, _: ()) {
        match delivery_result {
            Ok(_) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "event delivery failed");
            }
        }
    }
}

/// The event log producer. `Send + Sync`: one per node, shared by its workers. Dropping it gives up
/// on whatever is still buffered (librdkafka purges its queue): call [`EventLog::flush`] first on an
/// orderly shutdown.
pub struct EventLog {
    producer: ThreadedProducer<LogContext>,
    counters: Arc<Counters>,
    topic: String,
}

impl EventLog {
    /// Creates the producer. Does not wait for the broker: events are buffered until it answers.
    pub fn new(config: &EventLogConfig) -> Result<Self, EventLogError> {
        if config.buffer_events_max == 0 || config.buffer_events_max > BUFFER_EVENTS_LIMIT {
            return Err(EventLogError::InvalidConfig(format!(
                "buffer_events_max {} not in 1..={BUFFER_EVENTS_LIMIT}",
                config.buffer_events_max
            )));
        }
        let buffer_kib = config.buffer_bytes_max.div_ceil(1024);
        if buffer_kib == 0 || buffer_kib > i32::MAX as u64 {
            return Err(EventLogError::InvalidConfig(format!(
                "buffer_bytes_max {} not in 1..={} KiB",
                config.buffer_bytes_max,
                i32::MAX
            )));
        }
        if config.topic.is_empty() {
            return Err(EventLogError::InvalidConfig("empty topic".into()));
        }
        let counters = Arc::new(Counters::default());
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("client.id", &config.client_id)
            .set("queue.buffering.max.messages", config.buffer_events_max.to_string())
            .set("queue.buffering.max.kbytes", buffer_kib.to_string())
            .set("message.timeout.ms", config.delivery_timeout_ms.to_string())
            .set("linger.ms", config.linger_ms.to_string())
            // Every in-sync replica has the event before it counts as delivered.
            .set("acks", "all")
            // At-least-once by design; the module doc says why not idempotence.
            .set("enable.idempotence", "false")
            .set("reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS.to_string())
            .create_with_context(LogContext {
                counters: Arc::clone(&counters),
            })
            .map_err(EventLogError::Create)?;
        Ok(Self {
            producer,
            counters,
            topic: config.topic.clone(),
        })
    }

    /// Hands `event` to the buffer and returns at once: it never waits for the broker, a lock held
    /// by a sender, or buffer space. The cost is encoding the event and one enqueue.
    pub fn try_log(&self, event: &Event) -> Result<(), TryLogError> {
        let value = event.encode();
        let key = event.key();
        let record = BaseRecord::to(&self.topic)
            .key(&key)
            .payload(&value)
            .timestamp(i64::try_from(event.timestamp_ms).unwrap_or(i64::MAX));
        // librdkafka copies key and value into its queue; the send never blocks (no
        // RD_KAFKA_MSG_F_BLOCK), and a full queue is an immediate QueueFull.
        match self.producer.send(record) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                Err(TryLogError::BufferFull)
            }
            Err((error, _)) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(TryLogError::Rejected(error))
            }
        }
    }

    pub fn counters(&self) -> EventLogCounters {
        EventLogCounters {
            queued: self.counters.queued.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            dropped_full: self.counters.dropped_full.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            buffered: self.buffered(),
        }
    }

    /// Events in the buffer now (queued or in flight). Counted here rather than read from
    /// librdkafka, whose out-queue length also counts its pending error and log events.
    pub fn buffered(&self) -> u64 {
        // `queued` is incremented after the enqueue returns, so a fast delivery can be counted
        // first: saturate rather than wrap.
        let done = self.counters.delivered.load(Ordering::Relaxed) + self.counters.failed.load(Ordering::Relaxed);
        self.counters.queued.load(Ordering::Relaxed).saturating_sub(done)
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits up to `timeout` until every buffered event is delivered or failed. Blocks: for
    /// shutdown and tests, never the tick.
    pub fn flush(&self, timeout: Duration) -> Result<(), EventLogError> {
        self.producer
            .flush(timeout)
            .map_err(|source| EventLogError::FlushTimeout {
                buffered: self.buffered(),
                timeout,
                source,
            })
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("topic", &self.topic)
            .field("counters", &self.counters())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, EventType};

    fn event(player_id: u64) -> Event {
        Event {
            id: EventId::random(),
            player_id,
            event_type: EventType::Loot,
            payload: serde_json::Value::Null,
            timestamp_ms: 1,
            zone_id: 1,
            fencing_token: 1,
        }
    }

    fn closed_port() -> u16 {
        // Bound and dropped at once: nothing listens there.
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Events that wait longer than the delivery timeout are given up on and counted as failed,
    /// which frees their room in the buffer.
    #[test]
    fn delivery_timeout_counts_failures_and_frees_the_buffer() {
        let mut config = EventLogConfig::new(format!("127.0.0.1:{}", closed_port()), "events");
        config.delivery_timeout_ms = 200;
        config.buffer_events_max = 10;
        let log = EventLog::new(&config).unwrap();
        for player in 0..10 {
            log.try_log(&event(player)).unwrap();
        }
        assert!(matches!(log.try_log(&event(10)), Err(TryLogError::BufferFull)));
        // flush returns once every event is delivered or failed.
        let _ = log.flush(Duration::from_secs(10));
        let counters = log.counters();
        assert_eq!(counters.failed, 10);
        assert_eq!(counters.delivered, 0);
        assert_eq!(counters.buffered, 0);
        assert!(log.try_log(&event(11)).is_ok(), "room again after the failures");
    }

    /// An event larger than the producer's message size limit is refused at once and counted.
    #[test]
    fn oversized_event_is_rejected_and_counted() {
        let config = EventLogConfig::new(format!("127.0.0.1:{}", closed_port()), "events");
        let log = EventLog::new(&config).unwrap();
        let mut big = event(1);
        big.payload = serde_json::Value::String("x".repeat(2 * 1024 * 1024));
        assert!(matches!(log.try_log(&big), Err(TryLogError::Rejected(_))));
        let counters = log.counters();
        assert_eq!(counters.rejected, 1);
        assert_eq!(counters.queued, 0);
    }

    #[test]
    fn rejects_out_of_range_config() {
        let mut config = EventLogConfig::new("127.0.0.1:1", "events");
        config.buffer_events_max = 0;
        assert!(matches!(EventLog::new(&config), Err(EventLogError::InvalidConfig(_))));
        let mut config = EventLogConfig::new("127.0.0.1:1", "events");
        config.buffer_bytes_max = 0;
        assert!(matches!(EventLog::new(&config), Err(EventLogError::InvalidConfig(_))));
        let config = EventLogConfig::new("127.0.0.1:1", "");
        assert!(matches!(EventLog::new(&config), Err(EventLogError::InvalidConfig(_))));
    }

    /// With no broker at all (a closed port), the buffer fills to exactly its bound, every further
    /// event is dropped and counted, and nothing waits.
    #[test]
    fn no_broker_fills_buffer_to_bound_then_drops() {
        let mut config = EventLogConfig::new(format!("127.0.0.1:{}", closed_port()), "events");
        config.buffer_events_max = 100;
        let log = EventLog::new(&config).unwrap();
        let mut full = 0;
        for player in 0..150 {
            match log.try_log(&event(player)) {
                Ok(()) => {}
                Err(TryLogError::BufferFull) => full += 1,
                Err(other) => panic!("unexpected {other}"),
            }
        }
        let counters = log.counters();
        assert_eq!(counters.queued, 100);
        assert_eq!(counters.dropped_full, 50);
        assert_eq!(full, 50);
        assert_eq!(counters.buffered, 100);
        assert_eq!(counters.delivered, 0);
        assert!(log.flush(Duration::from_millis(50)).is_err());
    }
}
