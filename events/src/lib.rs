//! `meridian-events` owns the game event log: every kill, loot, trade, login and handoff becomes an
//! [`Event`] produced to one Kafka topic, keyed by player id, without ever making the zone tick wait.
//!
//! Shape: [`EventLog::try_log`] encodes the event and hands it to librdkafka's producer queue, which
//! **is** the bounded buffer (bounded by [`EventLogConfig::buffer_events_max`] and
//! [`EventLogConfig::buffer_bytes_max`]). The enqueue never blocks: a full buffer returns
//! [`TryLogError::BufferFull`] at once and counts a drop. A background thread (rdkafka's
//! `ThreadedProducer`) sends batches and runs the delivery callbacks that count deliveries and
//! failures. While the broker is down the queued events stay in the buffer (librdkafka retries with
//! backoff) until the broker answers again or [`EventLogConfig::delivery_timeout_ms`] passes.
//!
//! **Delivery is at-least-once.** An event the broker wrote but whose acknowledgement was lost is
//! sent again, so a consumer can see an event twice: every event carries a unique [`Event::id`] to
//! deduplicate on. The idempotent producer (which would remove those duplicates) is off on purpose:
//! its producer-id state lives in the broker, and a broker restarted without its state (the
//! in-memory test broker, a lost disk) turns the producer's next sequence number into a fatal error
//! for the whole producer — a lost log, where a duplicate is only a duplicate. Order per player is
//! the partition order, except that a batch retried after a failure can land after a later one;
//! consumers that need order use `timestamp_ms`.
//!
//! Why rdkafka (librdkafka) rather than rskafka: librdkafka brings the bounded, batching, retrying
//! producer queue this module needs (rskafka produces one request at a time and would need all of
//! that written here) and the consumer groups the tests and later consumers read with (rskafka has
//! none). The cost is a C library, built from the source rdkafka bundles (librdkafka 2.12; about a
//! minute of a clean build, with a C compiler and make, no cmake). Debian's `librdkafka-dev` 2.0.2
//! (linked dynamically, with rdkafka pinned to 0.33.2, the last version that accepts it) was tried
//! first and cannot talk to the test broker: it misreads the tagged fields at the end of the
//! broker's `ApiVersions` answer ("Read underflow … incorrect broker.version.fallback?"), a
//! tag-skipping bug of that librdkafka that later versions fixed. No compression codec is enabled:
//! events are small JSON objects, and a codec would add a C library to build.
//!
//! Files: `event.rs` (the event and its JSON encoding), `log.rs` (the producer, its counters and
//! configuration), `topic.rs` (creating the topic with the Kafka admin API).

#![forbid(unsafe_code)]

mod event;
mod log;
mod read;
mod topic;

pub use event::{DecodeError, Event, EventId, EventIdSource, EventType};
pub use log::{
    BUFFER_BYTES_DEFAULT, BUFFER_EVENTS_DEFAULT, DELIVERY_TIMEOUT_MS_DEFAULT, EventLog, EventLogConfig,
    EventLogCounters, EventLogError, LINGER_MS_DEFAULT, TryLogError,
};
pub use read::read_events;
pub use topic::create_topic;
