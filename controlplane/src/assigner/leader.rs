//! The assigner service: campaign on the election, and while leader, read the cluster, plan and
//! apply fenced moves.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use etcd_client::{Client, Compare, CompareOp, GetOptions, LeaderKey, ResignOptions, Txn, TxnOp, TxnOpResponse};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::plan::{LiveNode, Move, ZoneAssigner};
use crate::registry::{
    ASSIGN_PREFIX, ASSIGNER_ELECTION, LOAD_PREFIX, LoadRecord, NODES_PREFIX, NodeRecord, Placement, RegistryError,
    ZoneId, assign_key, decode, encode, header_revision, keep_lease_alive, watch_prefix, zone_of_assign_key,
};

/// Pause before campaigning again after losing leadership or an etcd error, so a flapping etcd is
/// not hammered by every candidate at once.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

#[derive(Clone, Debug)]
pub struct AssignerConfig {
    /// The value the candidate campaigns with (shown by `etcdctl elect -l`); unique per process.
    pub candidate_id: String,
    pub zones: Vec<ZoneId>,
    pub moves_per_round_max: usize,
    /// The election lease: a standby takes over this long after the leader dies, plus etcd's
    /// expiry check (up to 500 ms). Shorter than the nodes' 3 s lease by default, so a standby leads
    /// again within one node lease TTL of the leader's death; 2 s is the shortest lease the keep-alive
    /// (every TTL/3, stop TTL − 500 ms after the last acknowledged one) handles.
    pub election_lease_ttl_s: i64,
    /// Re-plan at least this often for load changes; node joins and deaths re-plan at once.
    pub round_interval_ms: u64,
}

/// See [`AssignerConfig::election_lease_ttl_s`].
pub const ELECTION_LEASE_TTL_S_DEFAULT: i64 = 2;

impl AssignerConfig {
    pub fn new(candidate_id: impl Into<String>, zones: Vec<ZoneId>) -> Self {
        Self {
            candidate_id: candidate_id.into(),
            zones,
            moves_per_round_max: 4,
            election_lease_ttl_s: ELECTION_LEASE_TTL_S_DEFAULT,
            round_interval_ms: 2000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignerStatus {
    /// Campaigning: a hot standby.
    Standby,
    /// Holds the election; `key_revision` is its election key's create revision.
    Leader {
        key_revision: i64,
    },
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum AssignerError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// The election lease is gone: another candidate may lead now.
    #[error("election lease lost")]
    LeaseLost,
}

#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    moves_applied: AtomicU64,
    /// Moves whose transaction failed its compare: the zone changed since the read, or this
    /// candidate is no longer leader.
    moves_refused: AtomicU64,
}

/// A candidate for the assigner election; leads while elected. Dropping it is [`Self::kill`].
pub struct AssignerService {
    status: watch::Receiver<AssignerStatus>,
    stop: watch::Sender<bool>,
    counters: Arc<Counters>,
    task: Option<JoinHandle<()>>,
}

impl AssignerService {
    pub fn spawn(client: Client, config: AssignerConfig) -> Self {
        let (status_tx, status) = watch::channel(AssignerStatus::Standby);
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(client, config, status_tx, stop_rx, counters.clone()));
        Self {
            status,
            stop,
            counters,
            task: Some(task),
        }
    }

    pub fn status(&self) -> watch::Receiver<AssignerStatus> {
        self.status.clone()
    }

    pub fn rounds(&self) -> u64 {
        self.counters.rounds.load(Ordering::Relaxed)
    }

    pub fn moves_applied(&self) -> u64 {
        self.counters.moves_applied.load(Ordering::Relaxed)
    }

    pub fn moves_refused(&self) -> u64 {
        self.counters.moves_refused.load(Ordering::Relaxed)
    }

    /// Steps down cleanly: resigns and revokes the election lease, so a standby takes over at once.
    pub async fn resign(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops at once without telling etcd, as a crashed process would: the election lease expires
    /// after its TTL and only then does a standby take over.
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for AssignerService {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(
    mut client: Client,
    config: AssignerConfig,
    status: watch::Sender<AssignerStatus>,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    let ttl = Duration::from_secs(config.election_lease_ttl_s.max(1).unsigned_abs());
    let assigner = ZoneAssigner::new(config.moves_per_round_max);
    while !*stop.borrow() {
        status.send_replace(AssignerStatus::Standby);
        let lease_id = match client.lease_grant(config.election_lease_ttl_s, None).await {
            Ok(lease) => lease.id(),
            Err(error) => {
                tracing::debug!(%error, "election lease not granted; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let mut leader_key: Option<LeaderKey> = None;
        let outcome = tokio::select! {
            // No safety margin: losing the election lease only ends this candidate's leadership,
            // and its moves are fenced on the leader key anyway.
            _ = keep_lease_alive(client.clone(), lease_id, ttl, Instant::now(), Duration::ZERO) => {
                Err(AssignerError::LeaseLost)
            }
            _ = stop.wait_for(|s| *s) => Ok(()),
            result = async {
                let mut response = client
                    .election_client()
                    .campaign(ASSIGNER_ELECTION, config.candidate_id.clone(), lease_id)
                    .await?;
                let key = response.take_leader().ok_or(RegistryError::Unexpected { what: "campaign without leader key" })?;
                leader_key = Some(key.clone());
                status.send_replace(AssignerStatus::Leader { key_revision: key.rev() });
                tracing::info!(candidate = config.candidate_id, "assigner elected");
                lead(client.clone(), &config, &assigner, &key, &counters).await
            } => result,
        };
        if let Err(error) = &outcome {
            tracing::warn!(%error, candidate = config.candidate_id, "assigner leadership or campaign ended");
        }
        if let Some(key) = leader_key {
            let _ = client
                .election_client()
                .resign(Some(ResignOptions::new().with_leader(key)))
                .await;
        }
        let _ = client.lease_revoke(lease_id).await;
        if outcome.is_err() {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    status.send_replace(AssignerStatus::Stopped);
}

/// The cluster as one consistent read: live nodes, current assignment with each zone's revision.
struct Snapshot {
    revision: i64,
    nodes: Vec<LiveNode>,
    assignment: BTreeMap<ZoneId, Placement>,
    zone_revisions: BTreeMap<ZoneId, i64>,
}

async fn read_snapshot(client: &mut Client) -> Result<Snapshot, AssignerError> {
    let prefix = || Some(GetOptions::new().with_prefix());
    let txn = Txn::new().and_then([
        TxnOp::get(NODES_PREFIX, prefix()),
        TxnOp::get(LOAD_PREFIX, prefix()),
        TxnOp::get(ASSIGN_PREFIX, prefix()),
    ]);
    let response = client.txn(txn).await?;
    let revision = header_revision(response.header())?;
    let mut gets = response.op_responses().into_iter().filter_map(|r| match r {
        TxnOpResponse::Get(get) => Some(get),
        _ => None,
    });
    let (Some(nodes), Some(loads), Some(assigns)) = (gets.next(), gets.next(), gets.next()) else {
        return Err(RegistryError::Unexpected {
            what: "snapshot txn without three gets",
        }
        .into());
    };
    let mut load_by_node: BTreeMap<String, LoadRecord> = BTreeMap::new();
    for kv in loads.kvs() {
        let id = String::from_utf8_lossy(&kv.key()[LOAD_PREFIX.len()..]).into_owned();
        match decode::<LoadRecord>(kv.key(), kv.value()) {
            Ok(load) => {
                load_by_node.insert(id, load);
            }
            Err(error) => tracing::warn!(%error, "load record ignored"),
        }
    }
    let mut live = Vec::new();
    for kv in nodes.kvs() {
        match decode::<NodeRecord>(kv.key(), kv.value()) {
            Ok(record) => live.push(LiveNode {
                players_per_zone: load_by_node.remove(&record.id).unwrap_or_default().players_per_zone,
                id: record.id,
                workers: record.workers,
                capacity_players: record.capacity_players,
            }),
            // A node whose record we cannot read gets no zones; its own zones move away.
            Err(error) => tracing::warn!(%error, "node record ignored"),
        }
    }
    let mut assignment = BTreeMap::new();
    let mut zone_revisions = BTreeMap::new();
    for kv in assigns.kvs() {
        let Some(zone) = zone_of_assign_key(kv.key()) else {
            continue;
        };
        zone_revisions.insert(zone, kv.mod_revision());
        match decode::<Placement>(kv.key(), kv.value()) {
            Ok(placement) => {
                assignment.insert(zone, placement);
            }
            // Unreadable: planned as unassigned, and overwritten by the compare on its revision.
            Err(error) => tracing::warn!(%error, "assignment ignored"),
        }
    }
    Ok(Snapshot {
        revision,
        nodes: live,
        assignment,
        zone_revisions,
    })
}

/// Writes one move if the zone is still at `expected_revision` and `leader` still holds the election
/// (its key exists with the same create revision). Returns the zone's new fencing token, or `None`
/// when a compare failed: the zone changed since the read, or the caller was deposed.
pub async fn apply_move(
    client: &mut Client,
    leader: &LeaderKey,
    m: &Move,
    expected_revision: i64,
) -> Result<Option<i64>, AssignerError> {
    let key = assign_key(m.zone);
    let txn = Txn::new()
        .when([
            Compare::mod_revision(key.clone(), CompareOp::Equal, expected_revision),
            Compare::create_revision(leader.key(), CompareOp::Equal, leader.rev()),
        ])
        .and_then([TxnOp::put(key, encode(&m.to), None)]);
    let response = client.txn(txn).await?;
    if !response.succeeded() {
        return Ok(None);
    }
    Ok(Some(header_revision(response.header())?))
}

/// One round: read, plan, apply each move fenced on the zone's revision and on our leadership.
async fn round(
    client: &mut Client,
    config: &AssignerConfig,
    assigner: &ZoneAssigner,
    leader: &LeaderKey,
    counters: &Counters,
) -> Result<i64, AssignerError> {
    let snapshot = read_snapshot(client).await?;
    let moves = assigner.plan(&config.zones, &snapshot.nodes, &snapshot.assignment);
    counters.rounds.fetch_add(1, Ordering::Relaxed);
    for m in moves {
        // 0 = the key does not exist: etcd compares a missing key's revisions as 0.
        let expected = snapshot.zone_revisions.get(&m.zone).copied().unwrap_or(0);
        match apply_move(client, leader, &m, expected).await? {
            Some(token) => {
                counters.moves_applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(zone = m.zone, to = ?m.to, from = ?m.from, reason = ?m.reason, token, "zone assigned");
            }
            None => {
                counters.moves_refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    zone = m.zone,
                    "move refused by its compare (zone changed or leadership lost)"
                );
            }
        }
    }
    Ok(snapshot.revision)
}

async fn lead(
    mut client: Client,
    config: &AssignerConfig,
    assigner: &ZoneAssigner,
    leader: &LeaderKey,
    counters: &Counters,
) -> Result<(), AssignerError> {
    let revision = round(&mut client, config, assigner, leader, counters).await?;
    let mut nodes = watch_prefix(client.clone(), NODES_PREFIX.to_owned(), revision + 1);
    let mut ticker = tokio::time::interval(Duration::from_millis(config.round_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            item = nodes.recv() => {
                if item.is_none() {
                    return Ok(());
                }
                // A join or a death: drain what else arrived, then plan once.
                while nodes.try_recv().is_ok() {}
            }
            _ = ticker.tick() => {}
        }
        // Still leader? A round with a lost election key only produces refused moves, but reading
        // the key first saves the work and ends the term promptly.
        let held = client.get(leader.key(), None).await?;
        if held.kvs().first().map(|kv| kv.create_revision()) != Some(leader.rev()) {
            return Err(AssignerError::LeaseLost);
        }
        round(&mut client, config, assigner, leader, counters).await?;
    }
}
