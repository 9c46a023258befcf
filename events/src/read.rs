//! Reading the log back: a consumer group from the earliest offset, for operators' tools and the
//! tests that check what a node logged against what its players did.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use crate::{Event, EventLogError};

/// Reads `topic` with consumer group `group` from the earliest offset until `expected` distinct
/// events (by id) were read or `timeout` passed; returns them deduplicated, in the order read.
/// Records that are not events are skipped.
pub fn read_events(
    bootstrap_servers: &str,
    topic: &str,
    group: &str,
    expected: usize,
    timeout: Duration,
) -> Result<Vec<Event>, EventLogError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("session.timeout.ms", "6000")
        .create()
        .map_err(EventLogError::Create)?;
    consumer.subscribe(&[topic]).map_err(EventLogError::Create)?;
    let deadline = Instant::now() + timeout;
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    while seen.len() < expected && Instant::now() < deadline {
        // Errors here are transient (a rebalance, a broker not ready yet): keep polling.
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Some(event) = message.payload().and_then(|bytes| Event::decode(bytes).ok()) else {
            continue;
        };
        if seen.insert(event.id) {
            events.push(event);
        }
    }
    Ok(events)
}
