//! The connection the stores share: one redis `ConnectionManager` (a multiplexed connection that
//! reconnects after an error), created on first use so a node can start while Redis is down, and
//! every command bounded by [`REDIS_OP_TIMEOUT`] so a dead Redis costs a caller one second at most.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};
use tokio::sync::OnceCell;

use crate::HotStateError;

/// Longest a command may take, connecting included. Redis answers a healthy loopback request in well
/// under a millisecond; a second is far beyond any healthy answer and short enough that a zone's
/// restore falls back quickly.
pub const REDIS_OP_TIMEOUT: Duration = Duration::from_millis(1000);
/// Longest one connection attempt may take. A refused connection fails at once; this bounds the
/// silent case (a blackholed host).
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest Redis may take to answer a command on an open connection.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_millis(800);
const _: () = assert!(REDIS_CONNECT_TIMEOUT.as_millis() < REDIS_OP_TIMEOUT.as_millis());

/// What the link has done, for metrics (`meridian_hotstate_redis_*_total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Commands (and scripts) sent.
    pub commands: u64,
    /// Commands that ended in [`HotStateError::Unavailable`] (refused, dropped, timed out).
    pub unavailable: u64,
    /// Of those, the ones cut by [`REDIS_OP_TIMEOUT`].
    pub timeouts: u64,
    /// Connection managers created (1 in steady state; more after a first connect failed).
    pub connects: u64,
}

#[derive(Default)]
struct AtomicCounters {
    commands: AtomicU64,
    unavailable: AtomicU64,
    timeouts: AtomicU64,
    connects: AtomicU64,
}

struct LinkInner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    counters: AtomicCounters,
}

/// A handle on one Redis server, cheap to clone and shared by every store of a process.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<LinkInner>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("server", &self.inner.client.get_connection_info().addr)
            .finish()
    }
}

impl RedisLink {
    /// Parses `url` (`redis://host:port/`); connects on first use, not here.
    pub fn new(url: &str) -> Result<Self, HotStateError> {
        let client = redis::Client::open(url).map_err(|error| HotStateError::InvalidArgument(error.to_string()))?;
        Ok(Self {
            inner: Arc::new(LinkInner {
                client,
                manager: OnceCell::new(),
                counters: AtomicCounters::default(),
            }),
        })
    }

    pub fn counters(&self) -> LinkCounters {
        let counters = &self.inner.counters;
        LinkCounters {
            commands: counters.commands.load(Ordering::Relaxed),
            unavailable: counters.unavailable.load(Ordering::Relaxed),
            timeouts: counters.timeouts.load(Ordering::Relaxed),
            connects: counters.connects.load(Ordering::Relaxed),
        }
    }

    /// The client, for the connections a manager cannot give (pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    async fn manager(&self) -> RedisResult<ConnectionManager> {
        let manager = self
            .inner
            .manager
            .get_or_try_init(|| async {
                self.inner.counters.connects.fetch_add(1, Ordering::Relaxed);
                // No retries inside the manager: its backoff grows to a minute, and requests wait on
                // a reconnect in progress. With none, a failed reconnect ends at once and the next
                // request starts another, so the link recovers as soon as Redis is back.
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_max_delay(100)
                    .set_connection_timeout(REDIS_CONNECT_TIMEOUT)
                    .set_response_timeout(REDIS_RESPONSE_TIMEOUT);
                ConnectionManager::new_with_config(self.inner.client.clone(), config).await
            })
            .await?;
        Ok(manager.clone())
    }

    /// Runs one command (or script) against the shared connection within [`REDIS_OP_TIMEOUT`],
    /// sorting the failure into `Unavailable` (retry later, fall back now) or `Redis` (a bug).
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, HotStateError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let counters = &self.inner.counters;
        counters.commands.fetch_add(1, Ordering::Relaxed);
        let attempt = async {
            let manager = self.manager().await?;
            op(manager).await
        };
        match tokio::time::timeout(REDIS_OP_TIMEOUT, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let error = classify(error);
                if matches!(error, HotStateError::Unavailable { .. }) {
                    counters.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                Err(error)
            }
            Err(_elapsed) => {
                counters.unavailable.fetch_add(1, Ordering::Relaxed);
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(HotStateError::Unavailable {
                    reason: format!("no answer within {} ms", REDIS_OP_TIMEOUT.as_millis()),
                })
            }
        }
    }
}

fn classify(error: RedisError) -> HotStateError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.is_unrecoverable_error()
    {
        HotStateError::Unavailable {
            reason: error.to_string(),
        }
    } else {
        HotStateError::Redis(error.to_string())
    }
}
