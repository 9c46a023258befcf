//! Sessions opened and closed, for whoever keeps state outside the host in step with its sessions:
//! the node's control-plane agent writes each session's route under the node's lease when it opens
//! and deletes it when it closes; the edge keeps its session map in step.
//!
//! The queue is bounded: a caller that never polls (the deterministic harness, a standalone node)
//! must not grow it without limit. Beyond the bound the newest event is dropped and counted; what
//! depends on the events then only lags (a route left behind lives until its node's lease ends).

use std::collections::VecDeque;
use std::net::SocketAddr;

use meridian_proto::endpoint::SERVER_CONNECTIONS_MAX;

/// Events kept for the caller: an open and a close for every session the endpoint can hold.
pub const SESSION_EVENTS_MAX: usize = 2 * SERVER_CONNECTIONS_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// A valid ConnectionRequest started a handshake for `session_id`: the edge must accept the
    /// session's sealed packets (tagged with `edge_key`) from now on, before it is `Opened`.
    Handshaking {
        session_id: u64,
        zone_id: u32,
        edge_key: [u8; 16],
        address: SocketAddr,
    },
    /// The handshake expired or was evicted: the session never opened.
    HandshakeAbandoned { session_id: u64 },
    /// A session joined `zone_id` (its handshake completed and the zone admitted it).
    Opened {
        session_id: u64,
        zone_id: u32,
        address: SocketAddr,
    },
    /// A session another node served resumed here after a failover (no new login): for the route
    /// and the session record, like `Opened`, now under this node.
    Resumed {
        session_id: u64,
        zone_id: u32,
        address: SocketAddr,
    },
    /// A session that was opened (or resumed) has ended (timeout, disconnect, or its zone stopped).
    Closed { session_id: u64, zone_id: u32 },
}

#[derive(Debug, Default)]
pub(crate) struct SessionEvents {
    queue: VecDeque<SessionEvent>,
    pub(crate) dropped: u64,
}

impl SessionEvents {
    pub(crate) fn push(&mut self, event: SessionEvent) {
        if self.queue.len() >= SESSION_EVENTS_MAX {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(event);
    }

    pub(crate) fn pop(&mut self) -> Option<SessionEvent> {
        self.queue.pop_front()
    }
}
