//! The node agent: what a `meridian-node` runs to take part in the cluster.
//!
//! It grants a lease, writes the node record and its load record under it, keeps the lease alive,
//! and turns the assignment prefix into a stream of [`AssignmentChange`]s for this node. Losing the
//! lease is reported as soon as it is known ([`LeaseState::Lost`] and [`AssignmentChange::LeaseLost`]),
//! from whichever comes first:
//! - the deletion of the node's own key, seen on a watch (a revoke or an expiry on the server);
//! - a keep-alive answered with TTL 0 (the server no longer knows the lease);
//! - the local deadline: no keep-alive acknowledged for `lease_ttl_s` minus [`LEASE_SAFETY_MARGIN`]
//!   since it was sent. The server cannot expire the lease earlier than the TTL after it *received*
//!   that keep-alive, which is after we sent it, so a node cut off from etcd stops serving before
//!   the assigner can see it gone and move its zones: two owners never tick the same zone.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::lease::{LeaseEnd, keep_lease_alive};
use super::{
    ASSIGN_PREFIX, LoadRecord, NODE_ID_BYTES_MAX, NodeRecord, Placement, RegistryError, WatchEvent, WatchItem, ZoneId,
    decode, encode, header_revision, load_key, node_key, watch_prefix, zone_of_assign_key,
};

/// The node stops serving this long before the earliest moment etcd could expire its lease: the
/// time its workers need to notice the flag and stop ticking (one tick is 16–50 ms; 500 ms leaves
/// room for a stalled scheduler on a loaded box).
pub const LEASE_SAFETY_MARGIN: Duration = Duration::from_millis(500);
/// A TTL below 2 s leaves less than 1.5 s between keep-alives and the stop deadline once the margin
/// is taken: too tight for a loaded etcd. etcd itself refuses TTLs it considers too short.
pub const LEASE_TTL_S_MIN: i64 = 2;
/// Assignment changes buffered for the node. The agent waits when it is full (nothing dropped);
/// [`NodeAgent::changes_waited`] counts those waits. 4,096 is more zones than a node hosts.
pub const ASSIGNMENT_CHANGES_MAX: usize = 4096;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub record: NodeRecord,
    /// Lease time-to-live; the node is declared dead this long after its last keep-alive.
    pub lease_ttl_s: i64,
    /// How often a changed load record is written (an unchanged one is not rewritten: the lease,
    /// not the load record, says the node is alive).
    pub load_interval_ms: u64,
}

impl NodeConfig {
    pub fn new(record: NodeRecord) -> Self {
        Self {
            record,
            lease_ttl_s: 3,
            load_interval_ms: 1000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Held,
    /// Stop serving every zone now; this agent is finished (register again for a new lease).
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignmentChange {
    /// Serve `zone` on `worker`; every write on its behalf carries `token`. A second `Assigned` for
    /// a zone already served (a new worker or token) replaces the first.
    Assigned { zone: ZoneId, worker: u32, token: i64 },
    /// Stop serving `zone` now: another node holds a newer token, or the assignment was deleted.
    Revoked { zone: ZoneId },
    /// Stop serving every zone now. The last change this agent sends.
    LeaseLost,
}

pub struct NodeAgent {
    client: Client,
    node_id: String,
    lease_id: i64,
    lease_state: watch::Receiver<LeaseState>,
    load: watch::Sender<LoadRecord>,
    changes: Option<mpsc::Receiver<AssignmentChange>>,
    changes_waited: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl NodeAgent {
    /// Registers the node (lease, node record, empty load record) and starts the keep-alive, load
    /// and assignment tasks. Fails with [`RegistryError::NodeIdTaken`] while a live node holds the id.
    pub async fn register(mut client: Client, config: NodeConfig) -> Result<Self, RegistryError> {
        let id = &config.record.id;
        if id.is_empty() || id.len() > NODE_ID_BYTES_MAX || id.contains('/') {
            return Err(RegistryError::Config {
                reason: "node id must be 1..=128 bytes without '/'",
            });
        }
        if config.lease_ttl_s < LEASE_TTL_S_MIN {
            return Err(RegistryError::Config {
                reason: "lease_ttl_s below LEASE_TTL_S_MIN",
            });
        }
        let granted_at = Instant::now();
        let lease = client.lease_grant(config.lease_ttl_s, None).await?;
        let lease_id = lease.id();
        if lease_id == 0 {
            return Err(RegistryError::Unexpected { what: "lease id 0" });
        }
        let key = node_key(id);
        let put = |k: String, v: Vec<u8>| TxnOp::put(k, v, Some(PutOptions::new().with_lease(lease_id)));
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([
                put(key.clone(), encode(&config.record)),
                put(load_key(id), encode(&LoadRecord::default())),
            ]);
        if !client.txn(txn).await?.succeeded() {
            let _ = client.lease_revoke(lease_id).await;
            return Err(RegistryError::NodeIdTaken { node_id: id.clone() });
        }

        let (state_tx, state_rx) = watch::channel(LeaseState::Held);
        let state_tx = Arc::new(state_tx);
        let (load_tx, load_rx) = watch::channel(LoadRecord::default());
        let (changes_tx, changes_rx) = mpsc::channel(ASSIGNMENT_CHANGES_MAX);
        let changes_waited = Arc::new(AtomicU64::new(0));
        let ttl = Duration::from_secs(config.lease_ttl_s.unsigned_abs());
        let tasks = vec![
            tokio::spawn(keep_alive(client.clone(), lease_id, ttl, granted_at, state_tx.clone())),
            tokio::spawn(write_load(
                client.clone(),
                id.clone(),
                lease_id,
                Duration::from_millis(config.load_interval_ms),
                load_rx,
            )),
            tokio::spawn(follow_assignments(
                client.clone(),
                id.clone(),
                state_tx,
                changes_tx,
                changes_waited.clone(),
            )),
        ];
        Ok(Self {
            client,
            node_id: id.clone(),
            lease_id,
            lease_state: state_rx,
            load: load_tx,
            changes: Some(changes_rx),
            changes_waited,
            tasks,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn lease_id(&self) -> i64 {
        self.lease_id
    }

    /// Flips to [`LeaseState::Lost`] once, at the first sign the lease is gone.
    pub fn lease_state(&self) -> watch::Receiver<LeaseState> {
        self.lease_state.clone()
    }

    /// The assignment stream for this node (once; `None` afterwards). It starts with an `Assigned`
    /// for every zone the node holds at registration.
    pub fn take_changes(&mut self) -> Option<mpsc::Receiver<AssignmentChange>> {
        self.changes.take()
    }

    /// Times the agent waited because the node did not drain its change stream.
    pub fn changes_waited(&self) -> u64 {
        self.changes_waited.load(Ordering::Relaxed)
    }

    /// Publishes the node's load; written to etcd at the next load interval.
    pub fn report_load(&self, load: LoadRecord) {
        self.load.send_replace(load);
    }

    /// Leaves the cluster at once: revokes the lease, which deletes the node and load records, so
    /// the assigner moves the zones without waiting for the TTL.
    pub async fn leave(mut self) -> Result<(), RegistryError> {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.client.lease_revoke(self.lease_id).await?;
        Ok(())
    }
}

impl Drop for NodeAgent {
    /// Dropping the agent stops its tasks without revoking the lease: etcd expires it after the
    /// TTL, as when the process dies.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn keep_alive(
    client: Client,
    lease_id: i64,
    ttl: Duration,
    granted_at: Instant,
    state: Arc<watch::Sender<LeaseState>>,
) {
    match keep_lease_alive(client, lease_id, ttl, granted_at, LEASE_SAFETY_MARGIN).await {
        LeaseEnd::NotAcknowledged => {
            tracing::warn!(lease_id, "no keep-alive acknowledged before the deadline: lease lost")
        }
        LeaseEnd::Revoked => tracing::warn!(lease_id, "keep-alive answered TTL 0: lease lost"),
    }
    state.send_replace(LeaseState::Lost);
}

async fn write_load(
    mut client: Client,
    node_id: String,
    lease_id: i64,
    interval: Duration,
    mut load: watch::Receiver<LoadRecord>,
) {
    let key = load_key(&node_id);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !load.has_changed().unwrap_or(false) {
            continue;
        }
        let record = load.borrow_and_update().clone();
        let options = PutOptions::new().with_lease(lease_id);
        if let Err(error) = client.put(key.clone(), encode(&record), Some(options)).await {
            // Written again at the next change; a lost lease is the keep-alive task's to report.
            tracing::debug!(%error, "load record not written");
            load.mark_changed();
        }
    }
}

/// Sends `change`, counting a wait when the node is behind. `false` when the node dropped the stream.
async fn send_change(tx: &mpsc::Sender<AssignmentChange>, waited: &AtomicU64, change: AssignmentChange) -> bool {
    match tx.try_send(change) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
        Err(mpsc::error::TrySendError::Full(change)) => {
            waited.fetch_add(1, Ordering::Relaxed);
            tx.send(change).await.is_ok()
        }
    }
}

/// The zones this node holds, keyed by zone: (worker, token).
type Held = BTreeMap<ZoneId, (u32, i64)>;

/// Reads the whole assignment prefix; returns this node's zones and the revision of the read.
async fn read_assignments(client: &mut Client, node_id: &str) -> Result<(Held, i64), RegistryError> {
    let response = client.get(ASSIGN_PREFIX, Some(GetOptions::new().with_prefix())).await?;
    let revision = header_revision(response.header())?;
    let mut held = Held::new();
    for kv in response.kvs() {
        let Some(zone) = zone_of_assign_key(kv.key()) else {
            continue;
        };
        match decode::<Placement>(kv.key(), kv.value()) {
            Ok(placement) if placement.node == node_id => {
                held.insert(zone, (placement.worker, kv.mod_revision()));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "skipping assignment"),
        }
    }
    Ok((held, revision))
}

/// Sends the changes that turn `held` into `target`; `held` becomes `target`.
async fn converge(held: &mut Held, target: Held, tx: &mpsc::Sender<AssignmentChange>, waited: &AtomicU64) -> bool {
    for zone in held
        .keys()
        .filter(|z| !target.contains_key(z))
        .copied()
        .collect::<Vec<_>>()
    {
        held.remove(&zone);
        if !send_change(tx, waited, AssignmentChange::Revoked { zone }).await {
            return false;
        }
    }
    for (zone, (worker, token)) in target {
        if held.get(&zone) != Some(&(worker, token)) {
            held.insert(zone, (worker, token));
            if !send_change(tx, waited, AssignmentChange::Assigned { zone, worker, token }).await {
                return false;
            }
        }
    }
    true
}

async fn follow_assignments(
    mut client: Client,
    node_id: String,
    state: Arc<watch::Sender<LeaseState>>,
    tx: mpsc::Sender<AssignmentChange>,
    waited: Arc<AtomicU64>,
) {
    let mut lease = state.subscribe();
    let own_key = node_key(&node_id).into_bytes();
    let mut held = Held::new();
    // The first read is retried: etcd answered the registration a moment ago.
    let mut revision = loop {
        match read_assignments(&mut client, &node_id).await {
            Ok((target, revision)) => {
                if !converge(&mut held, target, &tx, &waited).await {
                    return;
                }
                break revision;
            }
            Err(error) => {
                tracing::debug!(%error, "assignment read failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let mut assignments = watch_prefix(client.clone(), ASSIGN_PREFIX.to_owned(), revision + 1);
    // The node's own key: its deletion is the fastest news of a revoked or expired lease.
    let mut own = watch_prefix(
        client.clone(),
        String::from_utf8_lossy(&own_key).into_owned(),
        revision + 1,
    );
    loop {
        tokio::select! {
            biased;
            changed = lease.changed() => {
                let lost = changed.is_err() || *lease.borrow() == LeaseState::Lost;
                if lost {
                    break;
                }
            }
            item = own.recv() => {
                if let Some(WatchItem::Event(WatchEvent::Delete { key, .. })) = &item
                    && *key == own_key
                {
                    tracing::warn!(node_id, "node record deleted: lease lost");
                    state.send_replace(LeaseState::Lost);
                    break;
                }
            }
            item = assignments.recv() => {
                let Some(item) = item else { break };
                let keep_going = match item {
                    WatchItem::Event(event) => apply_event(&node_id, &mut held, event, &tx, &waited).await,
                    WatchItem::Compacted { .. } => match read_assignments(&mut client, &node_id).await {
                        Ok((target, read_revision)) => {
                            revision = read_revision;
                            assignments = watch_prefix(client.clone(), ASSIGN_PREFIX.to_owned(), revision + 1);
                            converge(&mut held, target, &tx, &waited).await
                        }
                        Err(error) => {
                            // Without a snapshot the held set may be stale: stop serving everything
                            // rather than risk serving a zone that moved.
                            tracing::warn!(%error, "assignment resync failed; dropping every zone");
                            converge(&mut held, Held::new(), &tx, &waited).await
                        }
                    },
                };
                if !keep_going {
                    return;
                }
            }
        }
    }
    let _ = send_change(&tx, &waited, AssignmentChange::LeaseLost).await;
}

async fn apply_event(
    node_id: &str,
    held: &mut Held,
    event: WatchEvent,
    tx: &mpsc::Sender<AssignmentChange>,
    waited: &AtomicU64,
) -> bool {
    let Some(zone) = zone_of_assign_key(event.key()) else {
        return true;
    };
    let mine = match &event {
        WatchEvent::Put {
            key,
            value,
            mod_revision,
        } => match decode::<Placement>(key, value) {
            Ok(placement) if placement.node == node_id => Some((placement.worker, *mod_revision)),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "unreadable assignment treated as not ours");
                None
            }
        },
        WatchEvent::Delete { .. } => None,
    };
    match mine {
        Some((worker, token)) => {
            if held.get(&zone) == Some(&(worker, token)) {
                return true;
            }
            held.insert(zone, (worker, token));
            send_change(tx, waited, AssignmentChange::Assigned { zone, worker, token }).await
        }
        None => {
            if held.remove(&zone).is_none() {
                return true;
            }
            send_change(tx, waited, AssignmentChange::Revoked { zone }).await
        }
    }
}
