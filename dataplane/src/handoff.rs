//! Handoffs between the workers of a node: what travels between them (a ticket, then its commit)
//! and who decides each ticket's fate.
//!
//! A ticket goes to the new zone's worker over the same bounded queue as forwarded datagrams, so
//! the datagrams the old worker forwards after writing it (inputs that reach it during the flip)
//! arrive behind it, never before. The new worker admits the player and then asks the
//! [`HandoffArbiter`] to commit; the old worker, when the ticket's deadline passes, asks it to
//! abort. The arbiter answers each ticket once, first come first served: whichever side wins, the
//! other obeys (the new worker cancels its admission on the spot, or the old worker forgets the
//! frozen player), so the player is never in two zones and never in none.
//!
//! [`LocalArbiter`] decides in memory, which is enough for workers of one node. The control plane's
//! compare-and-swap on `/meridian/routes/<session>` (issue 14's cross-node handoff) is another
//! implementation of the same trait: commit = swap the route to the new owner at the ticket's
//! revision, abort = bump the route's revision on the old owner.

use std::collections::HashMap;
use std::sync::Mutex;

/// Tickets decided and not yet learnt by both sides, per node; past it a decision is refused
/// (the ticket then waits for its deadline and is decided then).
pub const DECISIONS_MAX: usize = 65_536;

/// What one worker sends another about a handoff, in the forward queue.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerHandoff {
    /// Old worker → new: the encoded ticket.
    Ticket {
        from_worker: usize,
        session_id: u64,
        ticket_id: u64,
        bytes: Vec<u8>,
    },
    /// New worker → old: the ticket committed; forget the frozen player, forward stragglers.
    Committed {
        to_worker: usize,
        session_id: u64,
        ticket_id: u64,
    },
    /// One tick of a zone's border entities for a neighbouring zone on the receiving worker.
    Ghosts(meridian_host::GhostBatch),
}

/// Ghosts within this many metres of a border are shown next door: one AOI cell (32 m by
/// default), the farthest a neighbour's client can see across.
pub const GHOST_MARGIN_M_DEFAULT: f32 = 32.0;

/// Who decides whether a ticket commits or aborts. Each ticket is decided once; both calls return
/// whether the caller's outcome is the decision.
pub trait HandoffArbiter: Send + Sync {
    /// The new owner admitted the player: move the session to it. True: committed.
    fn commit(&self, session_id: u64, ticket_id: u64) -> bool;
    /// The old owner's deadline passed: keep the session there. True: aborted.
    fn abort(&self, session_id: u64, ticket_id: u64) -> bool;
    /// The old owner learnt the outcome: the decision may be forgotten.
    fn settled(&self, session_id: u64, ticket_id: u64);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Commit,
    Abort,
}

/// The in-memory arbiter of one node's workers.
#[derive(Debug, Default)]
pub struct LocalArbiter {
    /// By (session, ticket): a ticket id is unique per session (session and freeze tick).
    decisions: Mutex<HashMap<(u64, u64), Decision>>,
}

impl LocalArbiter {
    fn decide(&self, session_id: u64, ticket_id: u64, wanted: Decision) -> bool {
        let Ok(mut decisions) = self.decisions.lock() else {
            return false;
        };
        if let Some(decided) = decisions.get(&(session_id, ticket_id)) {
            return *decided == wanted;
        }
        if decisions.len() >= DECISIONS_MAX {
            return false;
        }
        decisions.insert((session_id, ticket_id), wanted);
        true
    }
}

impl HandoffArbiter for LocalArbiter {
    fn commit(&self, session_id: u64, ticket_id: u64) -> bool {
        self.decide(session_id, ticket_id, Decision::Commit)
    }

    fn abort(&self, session_id: u64, ticket_id: u64) -> bool {
        self.decide(session_id, ticket_id, Decision::Abort)
    }

    fn settled(&self, session_id: u64, ticket_id: u64) {
        if let Ok(mut decisions) = self.decisions.lock() {
            decisions.remove(&(session_id, ticket_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ticket_is_decided_once_first_come_first_served() {
        let arbiter = LocalArbiter::default();
        assert!(arbiter.commit(1, 10));
        assert!(!arbiter.abort(1, 10), "committed already");
        assert!(arbiter.commit(1, 10), "asking again gets the same answer");
        assert!(arbiter.abort(2, 20));
        assert!(!arbiter.commit(2, 20), "aborted already");
        assert!(
            arbiter.abort(3, 10),
            "another session's ticket with the same id is its own"
        );
        arbiter.settled(1, 10);
        arbiter.settled(2, 20);
        arbiter.settled(3, 10);
        assert!(arbiter.decisions.lock().unwrap().is_empty());
    }
}
