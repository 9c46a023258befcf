//! A prefix watch that outlives its gRPC stream.
//!
//! An etcd-client watch ends (or errors) when the server restarts or the connection drops, and does
//! not come back by itself. This task re-creates it from the revision after the last event it
//! delivered, so the consumer sees every change exactly once and in order across the break. If the
//! revision it needs was compacted away, it says so ([`WatchItem::Compacted`]) and the consumer
//! re-reads the prefix (events in between are lost for good, a snapshot is the only truth left).

use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::mpsc;

/// Events buffered between the watch task and its consumer. The task waits when the buffer is
/// full (etcd and HTTP/2 flow control hold the rest), so nothing is dropped; 1,024 covers a burst
/// of a whole node's zones moving at once with room to spare.
pub const WATCH_CHANNEL_EVENTS: usize = 1024;
/// First wait before re-creating a broken watch; doubles up to [`WATCH_RETRY_BACKOFF_MAX`].
const WATCH_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// An etcd restart on one box takes about a second; polling faster than this only adds load.
const WATCH_RETRY_BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        mod_revision: i64,
    },
    Delete {
        key: Vec<u8>,
        mod_revision: i64,
    },
}

impl WatchEvent {
    pub fn key(&self) -> &[u8] {
        match self {
            WatchEvent::Put { key, .. } | WatchEvent::Delete { key, .. } => key,
        }
    }

    pub fn mod_revision(&self) -> i64 {
        match self {
            WatchEvent::Put { mod_revision, .. } | WatchEvent::Delete { mod_revision, .. } => *mod_revision,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    Event(WatchEvent),
    /// The history from the requested revision is gone; the consumer must re-read the prefix.
    /// The watch continues from `compact_revision`.
    Compacted {
        compact_revision: i64,
    },
}

/// Watches every key under `prefix` from `from_revision` (inclusive) until the receiver is dropped.
/// `from_revision` is typically the revision of the read the consumer started from, plus one.
pub fn watch_prefix(client: Client, prefix: String, from_revision: i64) -> mpsc::Receiver<WatchItem> {
    let (tx, rx) = mpsc::channel(WATCH_CHANNEL_EVENTS);
    tokio::spawn(async move {
        tokio::select! {
            () = run(client, prefix, from_revision, &tx) => {}
            () = tx.closed() => {}
        }
    });
    rx
}

async fn run(mut client: Client, prefix: String, from_revision: i64, tx: &mpsc::Sender<WatchItem>) {
    let mut next_revision = from_revision;
    let mut backoff = WATCH_RETRY_BACKOFF_MIN;
    loop {
        let options = WatchOptions::new().with_prefix().with_start_revision(next_revision);
        let mut stream = match client.watch(prefix.as_bytes(), Some(options)).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, prefix, "watch could not be created; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(WATCH_RETRY_BACKOFF_MAX);
                continue;
            }
        };
        loop {
            let response = match stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) | Err(_) => break,
            };
            backoff = WATCH_RETRY_BACKOFF_MIN;
            if response.canceled() {
                if response.compact_revision() > 0 {
                    next_revision = response.compact_revision();
                    let item = WatchItem::Compacted {
                        compact_revision: next_revision,
                    };
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                break;
            }
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let item = match event.event_type() {
                    EventType::Put => WatchEvent::Put {
                        key: kv.key().to_vec(),
                        value: kv.value().to_vec(),
                        mod_revision: kv.mod_revision(),
                    },
                    EventType::Delete => WatchEvent::Delete {
                        key: kv.key().to_vec(),
                        mod_revision: kv.mod_revision(),
                    },
                };
                next_revision = kv.mod_revision() + 1;
                if tx.send(WatchItem::Event(item)).await.is_err() {
                    return;
                }
            }
        }
        tracing::debug!(
            prefix,
            next_revision,
            "watch broke; re-creating it from the last revision"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(WATCH_RETRY_BACKOFF_MAX);
    }
}
