//! A node's side of the session routes: it writes the route of each session that connects to it
//! under its own lease (so the route lives exactly as long as the node, and a dead node's routes
//! vanish with its lease), deletes it when the session ends, and follows the routes that point at
//! it through a watch (the edge feeds its session map from that stream).
//!
//! Writes are batched: sessions open and close in bursts (a mass reconnect after a failover), and one
//! transaction of up to [`ROUTE_BATCH_OPS_MAX`] operations costs etcd one raft proposal instead of
//! one per session. Every put is fenced by its zone's token and every delete by the route's
//! revision as written (a route a handoff moved since is someone else's and is left alone). When a
//! batch's compare fails the batch is retried one operation at a time, so one stale zone does not
//! hold the others back.

use std::collections::{BTreeMap, HashMap};

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use tokio::sync::mpsc;

use super::{Route, RouteError, decode_route, session_of_route_key, zone_token_compare};
use crate::registry::{
    ROUTES_PREFIX, SessionId, WatchEvent, WatchItem, ZoneId, encode, header_revision, route_key, watch_prefix,
};

/// Operations per transaction at most. etcd refuses transactions with more than `--max-txn-ops`
/// (default 128) compares or operations; every operation here carries one compare at most.
pub const ROUTE_BATCH_OPS_MAX: usize = 64;
/// A route transaction gets this long; then its operations count as failed.
pub const ROUTE_TXN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Route changes buffered for the consumer of [`follow_node_routes`]; the follower waits when full.
pub const ROUTE_CHANGES_MAX: usize = 16_384;

/// What the node tells the writer about a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionChange {
    Opened {
        session: SessionId,
        zone: ZoneId,
        worker: u32,
    },
    Closed {
        session: SessionId,
    },
}

/// What one [`NodeRouteWriter::apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteWriteStats {
    pub puts: u64,
    pub deletes: u64,
    /// Puts refused because the zone's token is no longer current (the zone moved away).
    pub stale: u64,
    /// Closes of a route that moved since it was written (left to its new owner), or of a session
    /// whose route was never written.
    pub skipped: u64,
    /// Operations not done because etcd failed; the route is left to the lease.
    pub failed: u64,
    /// Transactions sent (etcd raft proposals).
    pub txns: u64,
}

impl RouteWriteStats {
    fn add(&mut self, other: RouteWriteStats) {
        self.puts += other.puts;
        self.deletes += other.deletes;
        self.stale += other.stale;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.txns += other.txns;
    }
}

/// Writes and deletes the routes of the sessions on one node, under the node's lease.
pub struct NodeRouteWriter {
    client: Client,
    node_id: String,
    lease_id: i64,
    /// Zone → the fencing token the node serves it under.
    tokens: HashMap<ZoneId, i64>,
    /// Session → (its zone, the revision its route was written at).
    written: HashMap<SessionId, (ZoneId, i64)>,
}

enum Op {
    Put { session: SessionId, route: Route },
    Delete { session: SessionId, revision: i64 },
}

impl Op {
    fn compare(&self) -> Compare {
        match self {
            Op::Put { route, .. } => zone_token_compare(route.zone, route.token),
            Op::Delete { session, revision } => Compare::mod_revision(route_key(*session), CompareOp::Equal, *revision),
        }
    }

    fn txn_op(&self, lease_id: i64) -> TxnOp {
        match self {
            Op::Put { session, route } => TxnOp::put(
                route_key(*session),
                encode(route),
                Some(PutOptions::new().with_lease(lease_id)),
            ),
            Op::Delete { session, .. } => TxnOp::delete(route_key(*session), None),
        }
    }
}

impl NodeRouteWriter {
    pub fn new(client: Client, node_id: String, lease_id: i64) -> Self {
        NodeRouteWriter {
            client,
            node_id,
            lease_id,
            tokens: HashMap::new(),
            written: HashMap::new(),
        }
    }

    /// The node serves `zone` under `token` (`None`: no longer serves it; its sessions were closed).
    pub fn set_zone_token(&mut self, zone: ZoneId, token: Option<i64>) {
        match token {
            Some(token) => self.tokens.insert(zone, token),
            None => self.tokens.remove(&zone),
        };
    }

    /// Replaces every zone token at once (zone → the token the node serves it under).
    pub fn set_zone_tokens(&mut self, tokens: HashMap<ZoneId, i64>) {
        self.tokens = tokens;
    }

    /// Routes this writer wrote and has not deleted.
    pub fn written(&self) -> usize {
        self.written.len()
    }

    /// Applies `changes` in order (an open and a close of one session in the same batch cancel out).
    pub async fn apply(&mut self, changes: &[SessionChange]) -> RouteWriteStats {
        let mut stats = RouteWriteStats::default();
        let mut ops: Vec<Op> = Vec::new();
        // Sessions opened in this batch, by position in `ops`, so a close in the same batch cancels.
        let mut pending: BTreeMap<SessionId, usize> = BTreeMap::new();
        let mut cancelled = vec![];
        for change in changes {
            match *change {
                SessionChange::Opened { session, zone, worker } => {
                    let Some(&token) = self.tokens.get(&zone) else {
                        stats.stale += 1;
                        continue;
                    };
                    let route = Route {
                        node: self.node_id.clone(),
                        worker,
                        zone,
                        token,
                    };
                    pending.insert(session, ops.len());
                    ops.push(Op::Put { session, route });
                }
                SessionChange::Closed { session } => {
                    if let Some(index) = pending.remove(&session) {
                        cancelled.push(index);
                        stats.skipped += 1;
                    } else if let Some((_, revision)) = self.written.remove(&session) {
                        ops.push(Op::Delete { session, revision });
                    } else {
                        stats.skipped += 1;
                    }
                }
            }
        }
        cancelled.sort_unstable();
        for index in cancelled.into_iter().rev() {
            ops.remove(index);
        }
        for chunk in ops.chunks(ROUTE_BATCH_OPS_MAX) {
            let outcome = self.apply_chunk(chunk).await;
            stats.add(outcome);
        }
        stats
    }

    async fn apply_chunk(&mut self, chunk: &[Op]) -> RouteWriteStats {
        let mut stats = RouteWriteStats::default();
        // Compares are deduplicated: many sessions of one zone share its token compare.
        let mut compares: Vec<Compare> = Vec::new();
        let mut zones_compared: Vec<(ZoneId, i64)> = Vec::new();
        for op in chunk {
            if let Op::Put { route, .. } = op {
                if zones_compared.contains(&(route.zone, route.token)) {
                    continue;
                }
                zones_compared.push((route.zone, route.token));
            }
            compares.push(op.compare());
        }
        let txn = Txn::new()
            .when(compares)
            .and_then(chunk.iter().map(|op| op.txn_op(self.lease_id)).collect::<Vec<_>>());
        stats.txns += 1;
        // Bounded: a partitioned etcd must not hold the writer (the lease cleans up what is lost).
        let answer = match tokio::time::timeout(ROUTE_TXN_TIMEOUT, self.client.txn(txn)).await {
            Ok(answer) => answer.map_err(|error| error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        match answer {
            Ok(response) if response.succeeded() => {
                let revision = header_revision(response.header()).unwrap_or(0);
                for op in chunk {
                    self.record(op, revision, &mut stats);
                }
            }
            Ok(_) if chunk.len() > 1 => {
                // Some compare failed: find which, one operation at a time.
                for op in chunk {
                    let single = Box::pin(self.apply_chunk(std::slice::from_ref(op))).await;
                    stats.add(single);
                }
            }
            Ok(_) => match chunk[0] {
                Op::Put { .. } => stats.stale += 1,
                Op::Delete { .. } => stats.skipped += 1,
            },
            Err(error) => {
                tracing::warn!(%error, ops = chunk.len(), "route writes failed; the lease will clean up");
                stats.failed += chunk.len() as u64;
            }
        }
        stats
    }

    fn record(&mut self, op: &Op, revision: i64, stats: &mut RouteWriteStats) {
        match op {
            Op::Put { session, route } => {
                self.written.insert(*session, (route.zone, revision));
                stats.puts += 1;
            }
            Op::Delete { .. } => stats.deletes += 1,
        }
    }
}

/// A change to the routes that point at one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeRouteChange {
    /// The session is routed to this node (new, or its worker, zone or token changed).
    Routed { session: SessionId, route: Route },
    /// The session's route was deleted or now points at another node.
    Unrouted { session: SessionId },
}

/// Follows every route that points at `node_id`: first one `Routed` per existing route, then the
/// changes as etcd's watch reports them (never polled; survives etcd restarts; a compacted history
/// re-reads the prefix and reports the difference). Ends when the receiver is dropped.
pub fn follow_node_routes(client: Client, node_id: String) -> mpsc::Receiver<NodeRouteChange> {
    let (tx, rx) = mpsc::channel(ROUTE_CHANGES_MAX);
    tokio::spawn(async move {
        let mut client = client;
        let mut ours: HashMap<SessionId, Route> = HashMap::new();
        let mut revision = loop {
            match read_node_routes(&mut client, &node_id).await {
                Ok((routes, revision)) => {
                    if !report_difference(&mut ours, routes, &tx).await {
                        return;
                    }
                    break revision;
                }
                Err(error) => {
                    tracing::warn!(%error, "reading routes failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        };
        loop {
            let mut events = watch_prefix(client.clone(), ROUTES_PREFIX.to_owned(), revision + 1);
            while let Some(item) = events.recv().await {
                match item {
                    WatchItem::Event(event) => {
                        revision = event.mod_revision();
                        if let Some(change) = apply_event(&mut ours, &node_id, &event)
                            && tx.send(change).await.is_err()
                        {
                            return;
                        }
                    }
                    WatchItem::Compacted { .. } => break,
                }
            }
            if tx.is_closed() {
                return;
            }
            // Compacted (or the watch ended): re-read and report what changed meanwhile.
            match read_node_routes(&mut client, &node_id).await {
                Ok((routes, read_revision)) => {
                    if !report_difference(&mut ours, routes, &tx).await {
                        return;
                    }
                    revision = read_revision;
                }
                Err(error) => {
                    tracing::warn!(%error, "re-reading routes failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    });
    rx
}

async fn read_node_routes(client: &mut Client, node_id: &str) -> Result<(HashMap<SessionId, Route>, i64), RouteError> {
    let response = client.get(ROUTES_PREFIX, Some(GetOptions::new().with_prefix())).await?;
    let revision = header_revision(response.header())?;
    let mut routes = HashMap::new();
    for kv in response.kvs() {
        let Some(session) = session_of_route_key(kv.key()) else {
            continue;
        };
        match decode_route(kv.key(), kv.value()) {
            Ok(route) if route.node == node_id => {
                routes.insert(session, route);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "unreadable route"),
        }
    }
    Ok((routes, revision))
}

async fn report_difference(
    ours: &mut HashMap<SessionId, Route>,
    now: HashMap<SessionId, Route>,
    tx: &mpsc::Sender<NodeRouteChange>,
) -> bool {
    let gone: Vec<SessionId> = ours.keys().filter(|s| !now.contains_key(s)).copied().collect();
    for session in gone {
        ours.remove(&session);
        if tx.send(NodeRouteChange::Unrouted { session }).await.is_err() {
            return false;
        }
    }
    for (session, route) in now {
        if ours.get(&session) != Some(&route) {
            ours.insert(session, route.clone());
            if tx.send(NodeRouteChange::Routed { session, route }).await.is_err() {
                return false;
            }
        }
    }
    true
}

/// The change one watch event makes to the routes pointing at `node_id`, if any.
fn apply_event(ours: &mut HashMap<SessionId, Route>, node_id: &str, event: &WatchEvent) -> Option<NodeRouteChange> {
    let session = session_of_route_key(event.key())?;
    match event {
        WatchEvent::Put { key, value, .. } => match decode_route(key, value) {
            Ok(route) if route.node == node_id => {
                if ours.get(&session) == Some(&route) {
                    return None;
                }
                ours.insert(session, route.clone());
                Some(NodeRouteChange::Routed { session, route })
            }
            Ok(_) => ours.remove(&session).map(|_| NodeRouteChange::Unrouted { session }),
            Err(error) => {
                tracing::warn!(%error, "unreadable route");
                None
            }
        },
        WatchEvent::Delete { .. } => ours.remove(&session).map(|_| NodeRouteChange::Unrouted { session }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(session: SessionId, node: &str) -> WatchEvent {
        WatchEvent::Put {
            key: route_key(session).into_bytes(),
            value: encode(&Route {
                node: node.into(),
                worker: 0,
                zone: 1,
                token: 5,
            }),
            mod_revision: 9,
        }
    }

    #[test]
    fn only_routes_to_this_node_are_reported_and_moving_away_unroutes() {
        let mut ours = HashMap::new();
        assert!(
            apply_event(&mut ours, "a", &put(1, "b")).is_none(),
            "another node's route"
        );
        assert!(matches!(
            apply_event(&mut ours, "a", &put(1, "a")),
            Some(NodeRouteChange::Routed { session: 1, .. })
        ));
        assert!(apply_event(&mut ours, "a", &put(1, "a")).is_none(), "unchanged");
        assert_eq!(
            apply_event(&mut ours, "a", &put(1, "b")),
            Some(NodeRouteChange::Unrouted { session: 1 }),
            "a handoff moved it away"
        );
        assert!(matches!(
            apply_event(&mut ours, "a", &put(2, "a")),
            Some(NodeRouteChange::Routed { session: 2, .. })
        ));
        let delete = WatchEvent::Delete {
            key: route_key(2).into_bytes(),
            mod_revision: 10,
        };
        assert_eq!(
            apply_event(&mut ours, "a", &delete),
            Some(NodeRouteChange::Unrouted { session: 2 })
        );
        assert!(ours.is_empty());
    }
}
