//! Where a worker sends packets addressed to a WebSocket session: each open connection's bounded
//! outbound queue, found by its synthetic address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc::{Sender, error::TrySendError};

use super::WsCounters;

/// The open connections' outbound queues, shared by the gateway (which registers and removes
/// them) and every worker (which pushes, never waiting). A node always has one; it stays empty
/// without a gateway.
#[derive(Debug, Default)]
pub struct WsOutbound {
    queues: RwLock<HashMap<SocketAddr, Sender<Vec<u8>>>>,
    counters: Arc<WsCounters>,
}

/// What became of one packet for a WebSocket session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The connection's queue was full (a slow reader): dropped and counted as `slow_client`.
    Dropped,
    /// No such connection (closed meanwhile): dropped and counted.
    Gone,
}

impl WsOutbound {
    pub fn counters(&self) -> &Arc<WsCounters> {
        &self.counters
    }

    /// Queues `bytes` for the connection `to`. Never blocks: a full queue drops the packet (the
    /// next snapshot supersedes it; reliable messages are re-sent by the protocol).
    pub fn send(&self, to: SocketAddr, bytes: &[u8]) -> Delivery {
        let queues = self.queues.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(queue) = queues.get(&to) else {
            self.counters.sends_unrouted.fetch_add(1, Ordering::Relaxed);
            return Delivery::Gone;
        };
        match queue.try_send(bytes.to_vec()) {
            Ok(()) => Delivery::Queued,
            Err(TrySendError::Full(_)) => {
                self.counters.slow_client_drops.fetch_add(1, Ordering::Relaxed);
                Delivery::Dropped
            }
            Err(TrySendError::Closed(_)) => {
                self.counters.sends_unrouted.fetch_add(1, Ordering::Relaxed);
                Delivery::Gone
            }
        }
    }

    pub(crate) fn register(&self, addr: SocketAddr, queue: Sender<Vec<u8>>) {
        let mut queues = self.queues.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.insert(addr, queue);
    }

    pub(crate) fn unregister(&self, addr: SocketAddr) {
        let mut queues = self.queues.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.remove(&addr);
    }

    /// Connections with a registered queue.
    pub fn len(&self) -> usize {
        self.queues.read().map_or(0, |queues| queues.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_and_a_closed_one_is_gone() {
        let outbound = WsOutbound::default();
        let addr: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert_eq!(outbound.send(addr, b"x"), Delivery::Gone);
        let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
        outbound.register(addr, sender);
        assert_eq!(outbound.send(addr, b"a"), Delivery::Queued);
        assert_eq!(outbound.send(addr, b"b"), Delivery::Queued);
        assert_eq!(outbound.send(addr, b"c"), Delivery::Dropped);
        assert_eq!(receiver.try_recv().unwrap(), b"a");
        assert_eq!(outbound.counters.slow_client_drops.load(Ordering::Relaxed), 1);
        outbound.unregister(addr);
        assert_eq!(outbound.send(addr, b"d"), Delivery::Gone);
        assert_eq!(outbound.counters.sends_unrouted.load(Ordering::Relaxed), 2);
    }
}
