//! One record per decided handoff, for the node's event log (`handoff` events in Kafka): which
//! player moved from which zone to which, and whether it went through. Bounded: the log is
//! best-effort (a full queue drops the record and counts it), the handoff itself never waits.

use std::collections::VecDeque;

/// Records waiting for the node to take them; past it a record is dropped and counted.
pub const HANDOFF_EVENTS_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoffOutcome {
    /// The player plays in `to_zone` now.
    Committed,
    /// The new zone refused it or its ticket was not committed in time: it stayed in `from_zone`.
    Aborted,
}

impl HandoffOutcome {
    pub fn label(self) -> &'static str {
        match self {
            HandoffOutcome::Committed => "committed",
            HandoffOutcome::Aborted => "aborted",
        }
    }
}

/// A handoff this host decided: in-host ones when they happen, ones to another host (worker or
/// node) on the old side when the route swap decided the ticket — so each handoff is recorded once,
/// by the host the player left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffEvent {
    pub session_id: u64,
    /// The character the session plays (the session id for dev tokens).
    pub character_id: u64,
    pub from_zone: u32,
    pub to_zone: u32,
    pub outcome: HandoffOutcome,
    /// Whether the new zone is on another host (by ticket) rather than on this one.
    pub across: bool,
}

#[derive(Debug, Default)]
pub(crate) struct HandoffEvents {
    queue: VecDeque<HandoffEvent>,
    pub(crate) dropped: u64,
}

impl HandoffEvents {
    pub(crate) fn push(&mut self, event: HandoffEvent) {
        if self.queue.len() >= HANDOFF_EVENTS_MAX {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(event);
    }

    pub(crate) fn pop(&mut self) -> Option<HandoffEvent> {
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(session_id: u64) -> HandoffEvent {
        HandoffEvent {
            session_id,
            character_id: session_id,
            from_zone: 1,
            to_zone: 2,
            outcome: HandoffOutcome::Committed,
            across: false,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_keeps_order() {
        let mut events = HandoffEvents::default();
        for session in 0..HANDOFF_EVENTS_MAX as u64 + 3 {
            events.push(event(session));
        }
        assert_eq!(events.dropped, 3);
        for session in 0..HANDOFF_EVENTS_MAX as u64 {
            assert_eq!(events.pop(), Some(event(session)));
        }
        assert_eq!(events.pop(), None);
    }
}
