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

/// Cross-node decisions waiting for the etcd arbiter's task; past it `EtcdArbiter::ask` refuses
/// (counted) and the worker asks again at its next tick (an expired ticket repeats every tick).
pub const ARBITER_REQUESTS_MAX: usize = 4_096;
/// Answers waiting for one worker to take them (it drains them every loop).
pub const ARBITER_ANSWERS_MAX: usize = 4_096;
/// Transactions the etcd arbiter runs at once.
pub const ARBITER_IN_FLIGHT_MAX: usize = 256;
/// Attempts per request when etcd is unreachable or contended, `ARBITER_RETRY_MS` apart; then the
/// answer is `Undecided` and nothing changed (the player stays frozen on the old node, in one zone).
pub const ARBITER_ATTEMPTS_MAX: u32 = 5;
pub const ARBITER_RETRY_MS: u64 = 20;
/// A ticket's wall-clock deadline in etcd: only a bound on a commit stuck in flight (the old owner
/// aborts by its tick deadline with `abort_to_owner`, which ignores it).
pub const ARBITER_TICKET_DEADLINE_MS: u64 = 10_000;

/// What a worker asks the etcd arbiter about a ticket crossing nodes. Both sides name the same
/// `to`; the first request opens the etcd ticket (idempotent) at the route's revision then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArbiterRequest {
    /// New owner: the player is admitted here; move the session's route to `to`.
    Commit {
        session_id: u64,
        ticket_id: u64,
        to: meridian_control::routes::Route,
    },
    /// Old owner: the ticket's deadline passed; keep the session's route at `owner`.
    Abort {
        session_id: u64,
        ticket_id: u64,
        owner: meridian_control::routes::Route,
        to: meridian_control::routes::Route,
    },
}

impl ArbiterRequest {
    fn ids(&self) -> (u64, u64) {
        match self {
            ArbiterRequest::Commit {
                session_id, ticket_id, ..
            }
            | ArbiterRequest::Abort {
                session_id, ticket_id, ..
            } => (*session_id, *ticket_id),
        }
    }
}

/// etcd's verdict on a ticket, the same for whoever asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArbiterVerdict {
    /// The route moved to the new owner.
    Committed,
    /// The old owner kept the route.
    Aborted,
    /// Not decided (etcd unreachable, or the commit found the ticket past its wall-clock deadline,
    /// or the old owner's token is stale): ask again; nothing changed.
    Undecided { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArbiterAnswer {
    pub session_id: u64,
    pub ticket_id: u64,
    pub verdict: ArbiterVerdict,
}

/// Why `ask` did not queue a request (counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskRefused {
    QueueFull,
    UnknownWorker,
}

/// The etcd ticket id of a worker ticket (unique per session and freeze tick).
pub fn etcd_ticket_id(session_id: u64, ticket_id: u64) -> String {
    format!("{session_id}-{ticket_id}")
}

/// The arbiter of tickets that cross nodes: a task on the node agent's tokio runtime. A worker asks
/// with [`EtcdArbiter::ask`] (never waits) and takes answers from its own bounded queue at its next
/// loop, ticking meanwhile: a worker never waits on etcd inside its loop.
///
/// etcd decides each ticket once: commit = `commit_owner` (compare-and-swap of the route at the
/// ticket's route revision), abort = `abort_to_owner` (the same compare, writing the old owner back):
/// exactly one transaction succeeds, whichever side asks first, and after any crash the route in
/// etcd says who owns the session. Workers of one node keep the in-memory [`LocalArbiter`]: a
/// worker hop is microseconds and both workers die together, so etcd adds only latency there (the
/// route is written afterwards by the node's route writer, as today).
#[derive(Clone)]
pub struct EtcdArbiter {
    requests: tokio::sync::mpsc::Sender<(usize, ArbiterRequest)>,
    workers: usize,
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub answers_dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EtcdArbiter {
    /// Starts the task on `runtime`; one answer queue per worker, in worker order.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        client: etcd_client::Client,
        workers: usize,
    ) -> (Self, Vec<std::sync::mpsc::Receiver<ArbiterAnswer>>) {
        let (requests, mut incoming) = tokio::sync::mpsc::channel::<(usize, ArbiterRequest)>(ARBITER_REQUESTS_MAX);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| std::sync::mpsc::sync_channel(ARBITER_ANSWERS_MAX))
            .unzip();
        let answers_dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let dropped = std::sync::Arc::clone(&answers_dropped);
        runtime.spawn(async move {
            let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(ARBITER_IN_FLIGHT_MAX));
            while let Some((worker, request)) = incoming.recv().await {
                let Ok(permit) = std::sync::Arc::clone(&in_flight).acquire_owned().await else {
                    return;
                };
                let mut client = client.clone();
                let reply: std::sync::mpsc::SyncSender<ArbiterAnswer> = senders[worker].clone();
                let dropped = std::sync::Arc::clone(&dropped);
                tokio::spawn(async move {
                    let (session_id, ticket_id) = request.ids();
                    let verdict = decide(&mut client, &request).await;
                    drop(permit);
                    metrics::counter!("meridian_handoff_arbiter_verdicts_total", "verdict" => match verdict {
                        ArbiterVerdict::Committed => "committed",
                        ArbiterVerdict::Aborted => "aborted",
                        ArbiterVerdict::Undecided { .. } => "undecided",
                    })
                    .increment(1);
                    let answer = ArbiterAnswer {
                        session_id,
                        ticket_id,
                        verdict,
                    };
                    if reply.try_send(answer).is_err() {
                        dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        metrics::counter!("meridian_handoff_arbiter_answers_dropped_total").increment(1);
                    }
                });
            }
        });
        (
            Self {
                requests,
                workers,
                refused: Default::default(),
                answers_dropped,
            },
            receivers,
        )
    }

    /// Queues a request from `worker` without waiting; its answer comes on that worker's queue.
    pub fn ask(&self, worker: usize, request: ArbiterRequest) -> Result<(), AskRefused> {
        if worker >= self.workers {
            return Err(AskRefused::UnknownWorker);
        }
        self.requests.try_send((worker, request)).map_err(|_| {
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("meridian_handoff_arbiter_requests_refused_total").increment(1);
            AskRefused::QueueFull
        })
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One request to a verdict, retrying what a retry can fix.
async fn decide(client: &mut etcd_client::Client, request: &ArbiterRequest) -> ArbiterVerdict {
    use meridian_control::routes::{
        AbortOutcome, CommitOutcome, RouteError, abort_to_owner, commit_owner, open_ticket,
    };
    let (session_id, ticket_id) = request.ids();
    let id = etcd_ticket_id(session_id, ticket_id);
    let to = match request {
        ArbiterRequest::Commit { to, .. } | ArbiterRequest::Abort { to, .. } => to.clone(),
    };
    let mut last_error = String::new();
    for attempt in 0..ARBITER_ATTEMPTS_MAX {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ARBITER_RETRY_MS)).await;
        }
        let opened = open_ticket(
            client,
            &id,
            session_id,
            to.clone(),
            unix_ms() + ARBITER_TICKET_DEADLINE_MS,
        )
        .await;
        if let Err(error) = opened {
            last_error = error.to_string();
            continue;
        }
        let verdict = match request {
            ArbiterRequest::Commit { .. } => match commit_owner(client, &id, unix_ms()).await {
                Ok(CommitOutcome::Committed { .. } | CommitOutcome::AlreadyCommitted { .. }) => {
                    Ok(ArbiterVerdict::Committed)
                }
                // The old owner won the route, or another handoff moved it: not ours.
                Err(RouteError::TicketAborted { .. } | RouteError::RouteChanged { .. }) => Ok(ArbiterVerdict::Aborted),
                Err(error) => Err(error),
            },
            ArbiterRequest::Abort { owner, .. } => match abort_to_owner(client, &id, owner).await {
                Ok(AbortOutcome::Aborted | AbortOutcome::AlreadyAborted) => Ok(ArbiterVerdict::Aborted),
                Ok(AbortOutcome::NotExpired) => Err(RouteError::Contended { ticket_id: id.clone() }),
                Err(RouteError::TicketCommitted { .. }) => Ok(ArbiterVerdict::Committed),
                Err(error) => Err(error),
            },
        };
        match verdict {
            Ok(verdict) => return verdict,
            // Decided-not-by-us states a retry cannot change: report them undecided at once.
            Err(
                error @ (RouteError::TicketExpired { .. }
                | RouteError::StaleToken { .. }
                | RouteError::TicketConflict { .. }),
            ) => {
                return ArbiterVerdict::Undecided {
                    reason: error.to_string(),
                };
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    ArbiterVerdict::Undecided { reason: last_error }
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
