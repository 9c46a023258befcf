//! The node's hot-state bridge (`--redis`): global chat across nodes, zone state (NPCs, loot) saved
//! every few seconds and restored when a zone starts, and `Session:<session id>` records.
//!
//! One thread runs a tokio runtime that owns the Redis side (`meridian-hotstate`). Workers never
//! wait on it, as with the persistence bridge:
//! - **Global chat**: a worker hands a line to [`GlobalChat::try_publish`] (limits checked on the
//!   spot, queued for the publisher task, never waits) and tells the sender at once when it is
//!   refused. Every line Redis delivers (this node's own included: one delivery path) is fanned out
//!   to every worker's bounded queue, and each worker sends it to all its sessions.
//! - **Zone state**: workers offer their zones' snapshots to the [`ZoneStateWriter`] (a map insert
//!   under a short mutex). A zone to start is held back by its worker until the bridge answered its
//!   load (within the link's one-second timeout): the zone restores its NPCs and loot before any
//!   player can join it.
//! - **Sessions**: opens and closes go over a bounded channel (`try_send`, drops counted); the
//!   bridge writes, refreshes and deletes the records. Each record carries the session's keys sealed
//!   with the cluster key; every zone-state interval the worker sends its sessions' resume hints
//!   (address, sequences, position), written with a TTL refresh. A zone load also reads the zone's
//!   session records (`ZoneSessions:<zone>`, one round trip), keeps those of the zone's newest owner
//!   before this one, and hands them to the worker, which offers them for resume before the zone
//!   ticks (PROTOCOL.md, "Session resume after failover").
//!
//! Redis down at start: the bridge keeps trying to subscribe; until then global chat is refused as
//! `unavailable`, zone loads answer `unavailable` (zones start from their initial state), and
//! session writes fail and are counted.

use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender},
    },
    time::Duration,
};

use anyhow::Context;

use crate::bridge_thread::{BridgeThread, bridge_runtime};
use meridian_hotstate::{
    GlobalChat, GlobalChatMessage, HotStateError, LootSnapshot, NpcSnapshot, RedisLink, ResumeHints, SessionRecord,
    SessionStore, ZoneSessions, ZoneSnapshot, ZoneStateStore, ZoneStateWriter,
};
use meridian_zone::{LootRecord, NpcRecord, ZoneStateExport};

/// Global chat lines one worker's queue holds; beyond it the fan-out drops and counts
/// (`meridian_global_chat_total{what="fanout_dropped"}`). A worker drains it every loop (≤ 2 ms).
pub const CHAT_FANOUT_QUEUE_MAX: usize = 4_096;
/// Session writes and zone loads waiting for the bridge; beyond it workers drop and count.
pub const HOT_REQUESTS_MAX: usize = 16_384;
/// Zone-load answers one worker's queue holds (a worker starts a handful of zones at once).
pub const ZONE_LOAD_ANSWERS_MAX: usize = 256;
/// Time between two attempts at subscribing to global chat while Redis is down.
const CHAT_CONNECT_RETRY: Duration = Duration::from_secs(1);
/// How often the counters go to the metrics recorder.
const METRICS_INTERVAL: Duration = Duration::from_secs(1);
/// Sessions the bridge keeps refreshing at most (one node's sessions fit many times over).
const LIVE_SESSIONS_MAX: usize = 262_144;

/// How the node uses Redis.
#[derive(Clone, Debug)]
pub struct HotSettings {
    /// `redis://host:port/` (`--redis`).
    pub redis_url: String,
    /// This node's registry id (`--node-id`), in session records and chat lines.
    pub node_id: String,
    /// How often each worker offers its zones' state (`--zone-state-interval-ms`; 5 s).
    pub zone_state_interval_ms: u64,
    /// TTL of `Session:<id>` without a refresh (`--session-ttl-s`; 60 s). Refreshed every third.
    pub session_ttl_s: u64,
}

impl HotSettings {
    pub fn new(redis_url: String, node_id: String) -> Self {
        Self {
            redis_url,
            node_id,
            zone_state_interval_ms: 5_000,
            session_ttl_s: 60,
        }
    }
}

/// What a worker asks of the bridge.
#[derive(Debug)]
pub enum HotRequest {
    /// A session opened on this node: write its record.
    SessionOpened { session_id: u64, record: SessionRecord },
    /// Resume hints of a worker's live sessions: written with a TTL refresh, fenced like it.
    SessionHints(Vec<SessionHintsUpdate>),
    /// A session closed: delete its record.
    SessionClosed {
        session_id: u64,
        zone_id: u32,
        fencing_token: u64,
    },
    /// A handoff this node let go of committed to a zone on another node: move the record there
    /// (see `SessionStore::move_zone`), so a takeover of that zone finds it even if the new owner
    /// died before writing it.
    SessionMoved(SessionMove),
    /// Load the zone's saved state (answered on the worker's `zone_loads`).
    LoadZone {
        worker: usize,
        zone_id: u32,
        fencing_token: u64,
    },
}

/// Where a committed handoff took a session: the old zone (and the token it was held under), the
/// new zone, its owner's token and node, and where the frozen player stood.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionMove {
    pub session_id: u64,
    pub from: (u32, u64),
    pub to: (u32, u64),
    pub to_node: String,
    pub position_m: Option<[f32; 3]>,
    pub entity: Option<u32>,
}

/// One session's hints for its record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionHintsUpdate {
    pub session_id: u64,
    pub zone_id: u32,
    pub fencing_token: u64,
    pub hints: ResumeHints,
}

/// How a zone's start went (`meridian_zone_state_restores_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreOutcome {
    Restored,
    /// Nothing saved for the zone.
    Missing,
    /// Redis did not answer.
    Unavailable,
    /// The saved state belongs to a newer owner of the zone (this node's token is stale).
    Fenced,
    /// What Redis holds cannot be read.
    Corrupt,
}

impl RestoreOutcome {
    pub fn label(self) -> &'static str {
        match self {
            RestoreOutcome::Restored => "restored",
            RestoreOutcome::Missing => "missing",
            RestoreOutcome::Unavailable => "unavailable",
            RestoreOutcome::Fenced => "fenced",
            RestoreOutcome::Corrupt => "corrupt",
        }
    }
}

/// The bridge's answer to a zone load.
#[derive(Debug)]
pub struct ZoneLoad {
    pub zone_id: u32,
    pub fencing_token: u64,
    pub outcome: RestoreOutcome,
    /// The state to restore (`Some` only when `outcome` is `Restored`).
    pub state: Option<ZoneStateExport>,
    /// The zone's session records chosen for resume (`None`: not read, Redis unavailable).
    pub sessions: Option<ZoneSessions>,
}

/// Counters of the bridge and the workers' side of it.
#[derive(Debug, Default)]
pub struct HotCounters {
    pub requests_dropped: AtomicU64,
    pub chat_fanout_dropped: AtomicU64,
    pub chat_delivered_sessions: AtomicU64,
    pub chat_refused_empty: AtomicU64,
    pub chat_refused_too_long: AtomicU64,
    pub chat_refused_rate_limited: AtomicU64,
    pub chat_refused_unavailable: AtomicU64,
    pub chat_refusals_undelivered: AtomicU64,
    pub sessions_written: AtomicU64,
    pub sessions_refreshed: AtomicU64,
    pub sessions_deleted: AtomicU64,
    /// Records moved to the zone a handoff to another node committed to.
    pub sessions_moved: AtomicU64,
    pub session_errors: AtomicU64,
    pub restores_restored: AtomicU64,
    pub restores_missing: AtomicU64,
    pub restores_unavailable: AtomicU64,
    pub restores_fenced: AtomicU64,
    pub restores_corrupt: AtomicU64,
    pub zone_load_answers_dropped: AtomicU64,
    pub hints_written: AtomicU64,
    /// Session records a zone load read for resume, by what became of them.
    pub resumables_offered: AtomicU64,
    pub resumables_stale: AtomicU64,
    pub resumables_newer: AtomicU64,
    pub resumables_without_keys: AtomicU64,
    pub resumables_corrupt: AtomicU64,
    /// Sealed keys that did not open with this node's cluster key.
    pub resumables_bad_keys: AtomicU64,
    /// Offers the host refused (zone gone, session live, table full).
    pub resumables_refused: AtomicU64,
    /// Sessions resumed on this node (`meridian_sessions_resumed_total`).
    pub sessions_resumed: AtomicU64,
}

impl HotCounters {
    pub fn restores(&self, outcome: RestoreOutcome) -> &AtomicU64 {
        match outcome {
            RestoreOutcome::Restored => &self.restores_restored,
            RestoreOutcome::Missing => &self.restores_missing,
            RestoreOutcome::Unavailable => &self.restores_unavailable,
            RestoreOutcome::Fenced => &self.restores_fenced,
            RestoreOutcome::Corrupt => &self.restores_corrupt,
        }
    }

    pub fn chat_refusals(&self, label: &str) -> Option<&AtomicU64> {
        Some(match label {
            "empty" => &self.chat_refused_empty,
            "too_long" => &self.chat_refused_too_long,
            "rate_limited" => &self.chat_refused_rate_limited,
            "unavailable" => &self.chat_refused_unavailable,
            _ => return None,
        })
    }
}

/// A worker's handle on the bridge.
pub struct HotLink {
    /// Set once the node is subscribed to global chat (`None` until Redis first answered).
    pub chat: Arc<OnceLock<GlobalChat>>,
    /// Global chat lines for this worker's sessions.
    pub lines: Receiver<Arc<GlobalChatMessage>>,
    pub requests: tokio::sync::mpsc::Sender<HotRequest>,
    pub zone_loads: Receiver<ZoneLoad>,
    pub writer: Arc<ZoneStateWriter>,
    pub counters: Arc<HotCounters>,
    pub node_id: String,
    pub zone_state_interval_us: u64,
}

impl HotLink {
    /// Hands a request over without waiting; a full inbox is counted.
    pub fn send(&self, request: HotRequest) {
        if self.requests.try_send(request).is_err() {
            self.counters.requests_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The running bridge.
pub struct HotBridge {
    thread: BridgeThread,
    pub counters: Arc<HotCounters>,
    pub chat: Arc<OnceLock<GlobalChat>>,
    pub writer: Arc<ZoneStateWriter>,
}

impl HotBridge {
    /// Starts the bridge thread; it subscribes to global chat in the background (retrying while
    /// Redis is down). Returns one link per worker.
    pub fn start(settings: HotSettings, workers: usize) -> anyhow::Result<(Self, Vec<HotLink>)> {
        let link = RedisLink::new(&settings.redis_url).context("--redis")?;
        let runtime = bridge_runtime("hotstate")?;
        let interval = Duration::from_millis(settings.zone_state_interval_ms.max(100));
        // The writer's task runs on the bridge's runtime.
        let writer = {
            let _entered = runtime.enter();
            Arc::new(ZoneStateWriter::spawn(ZoneStateStore::new(link.clone()), interval))
        };
        let counters = Arc::new(HotCounters::default());
        let chat = Arc::new(OnceLock::new());
        let (request_sender, request_receiver) = tokio::sync::mpsc::channel(HOT_REQUESTS_MAX);
        let mut fanout = Vec::with_capacity(workers);
        let mut load_answers = Vec::with_capacity(workers);
        let mut links = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (line_sender, line_receiver) = std::sync::mpsc::sync_channel(CHAT_FANOUT_QUEUE_MAX);
            let (load_sender, load_receiver) = std::sync::mpsc::sync_channel(ZONE_LOAD_ANSWERS_MAX);
            fanout.push(line_sender);
            load_answers.push(load_sender);
            links.push(HotLink {
                chat: Arc::clone(&chat),
                lines: line_receiver,
                requests: request_sender.clone(),
                zone_loads: load_receiver,
                writer: Arc::clone(&writer),
                counters: Arc::clone(&counters),
                node_id: settings.node_id.clone(),
                zone_state_interval_us: interval.as_micros() as u64,
            });
        }
        let state = Arc::new(BridgeState {
            sessions: SessionStore::new(link.clone(), Duration::from_secs(settings.session_ttl_s.max(1))),
            zones: ZoneStateStore::new(link.clone()),
            counters: Arc::clone(&counters),
            load_answers,
            live: std::sync::Mutex::new(HashMap::new()),
        });
        let (chat_handle, writer_handle) = (Arc::clone(&chat), Arc::clone(&writer));
        let refresh = Duration::from_secs(settings.session_ttl_s.max(3) / 3);
        let node_id = settings.node_id.clone();
        let thread = BridgeThread::spawn("hotstate", runtime, move |stop| {
            run(
                state,
                link,
                node_id,
                chat_handle,
                fanout,
                request_receiver,
                refresh,
                writer_handle,
                stop,
            )
        })?;
        Ok((
            Self {
                thread,
                counters,
                chat,
                writer,
            },
            links,
        ))
    }

    /// Ends the bridge thread (pending zone states get no last write: the next owner restores
    /// the newest one written, at most one interval old). Dropping does the same.
    pub fn stop(mut self) {
        self.thread.stop();
    }
}

struct BridgeState {
    sessions: SessionStore,
    zones: ZoneStateStore,
    counters: Arc<HotCounters>,
    load_answers: Vec<SyncSender<ZoneLoad>>,
    /// Open sessions (id → zone, token), refreshed periodically.
    live: std::sync::Mutex<HashMap<u64, (u32, u64)>>,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: Arc<BridgeState>,
    link: RedisLink,
    node_id: String,
    chat: Arc<OnceLock<GlobalChat>>,
    fanout: Vec<SyncSender<Arc<GlobalChatMessage>>>,
    mut requests: tokio::sync::mpsc::Receiver<HotRequest>,
    refresh: Duration,
    writer: Arc<ZoneStateWriter>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let chat_for_metrics = Arc::clone(&chat);
    let chat_task = {
        let counters = Arc::clone(&state.counters);
        tokio::spawn(async move {
            let mut receiver = loop {
                match GlobalChat::connect(link.clone(), &node_id).await {
                    Ok((handle, receiver)) => {
                        let _ = chat.set(handle);
                        tracing::info!("global chat subscribed");
                        break receiver;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "global chat not subscribed yet; retrying");
                        tokio::time::sleep(CHAT_CONNECT_RETRY).await;
                    }
                }
            };
            while let Some(line) = receiver.recv().await {
                let line = Arc::new(line);
                for worker in &fanout {
                    if worker.try_send(Arc::clone(&line)).is_err() {
                        counters.chat_fanout_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let refresher = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(refresh);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let live: Vec<(u64, (u32, u64))> = match state.live.lock() {
                    Ok(live) => live.iter().map(|(id, at)| (*id, *at)).collect(),
                    Err(_) => Vec::new(),
                };
                for (session_id, (zone_id, token)) in live {
                    match state.sessions.refresh(session_id, zone_id, token).await {
                        Ok(_) => state.counters.sessions_refreshed.fetch_add(1, Ordering::Relaxed),
                        Err(_) => state.counters.session_errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }
        })
    };
    let publisher = {
        let counters = Arc::clone(&state.counters);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(METRICS_INTERVAL);
            loop {
                ticker.tick().await;
                publish_metrics(&counters, &writer, chat_for_metrics.get());
            }
        })
    };
    tokio::pin!(stop);
    loop {
        let request = tokio::select! {
            request = requests.recv() => request,
            _ = &mut stop => None,
        };
        let Some(request) = request else { break };
        let state = Arc::clone(&state);
        // Each request on its own task: a zone load must not wait behind session writes.
        tokio::spawn(async move { state.handle(request).await });
    }
    chat_task.abort();
    refresher.abort();
    publisher.abort();
}

impl BridgeState {
    async fn handle(&self, request: HotRequest) {
        match request {
            HotRequest::SessionOpened { session_id, record } => match self.sessions.put(session_id, &record).await {
                Ok(()) => {
                    self.counters.sessions_written.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut live) = self.live.lock()
                        && live.len() < LIVE_SESSIONS_MAX
                    {
                        live.insert(session_id, (record.zone_id, record.fencing_token));
                    }
                }
                Err(error) => {
                    self.counters.session_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(session_id, %error, "session record not written");
                }
            },
            HotRequest::SessionHints(updates) => {
                for update in updates {
                    match self
                        .sessions
                        .refresh_hints(update.session_id, update.zone_id, update.fencing_token, &update.hints)
                        .await
                    {
                        Ok(_) => self.counters.hints_written.fetch_add(1, Ordering::Relaxed),
                        Err(_) => self.counters.session_errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }
            HotRequest::SessionClosed {
                session_id,
                zone_id,
                fencing_token,
            } => {
                if let Ok(mut live) = self.live.lock() {
                    live.remove(&session_id);
                }
                match self.sessions.delete(session_id, zone_id, fencing_token).await {
                    Ok(_) => self.counters.sessions_deleted.fetch_add(1, Ordering::Relaxed),
                    Err(_) => self.counters.session_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
            HotRequest::SessionMoved(moved) => {
                // This node no longer refreshes it: the new zone's owner does.
                if let Ok(mut live) = self.live.lock() {
                    live.remove(&moved.session_id);
                }
                match self
                    .sessions
                    .move_zone(
                        moved.session_id,
                        moved.from,
                        moved.to,
                        &moved.to_node,
                        moved.position_m,
                        moved.entity,
                    )
                    .await
                {
                    Ok(_) => self.counters.sessions_moved.fetch_add(1, Ordering::Relaxed),
                    Err(error) => {
                        tracing::debug!(session_id = moved.session_id, %error, "session record not moved");
                        self.counters.session_errors.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            HotRequest::LoadZone {
                worker,
                zone_id,
                fencing_token,
            } => {
                // Both reads at once: with Redis down each waits out the link's timeout, and the
                // zone is held until both answered.
                let (zone_state, zone_sessions) =
                    tokio::join!(self.zones.load(zone_id), self.sessions.load_zone(zone_id));
                let (outcome, state, state_token) = match zone_state {
                    Ok(None) => (RestoreOutcome::Missing, None, None),
                    Ok(Some(snapshot)) if snapshot.fencing_token > fencing_token => {
                        (RestoreOutcome::Fenced, None, Some(snapshot.fencing_token))
                    }
                    Ok(Some(snapshot)) => (
                        RestoreOutcome::Restored,
                        Some(export_of(&snapshot)),
                        Some(snapshot.fencing_token),
                    ),
                    Err(HotStateError::Unavailable { .. }) => (RestoreOutcome::Unavailable, None, None),
                    Err(_) => (RestoreOutcome::Corrupt, None, None),
                };
                let sessions = match zone_sessions {
                    Ok((records, corrupt)) => {
                        let mut chosen = ZoneSessions::select(records, fencing_token, state_token);
                        chosen.corrupt += corrupt;
                        Some(chosen)
                    }
                    Err(error) => {
                        tracing::warn!(zone_id, %error, "session records not read; no session of the zone resumes");
                        None
                    }
                };
                let answer = ZoneLoad {
                    zone_id,
                    fencing_token,
                    outcome,
                    state,
                    sessions,
                };
                if self.load_answers[worker].try_send(answer).is_err() {
                    self.counters.zone_load_answers_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The writer's form of a zone's exported state.
pub fn snapshot_of(zone_id: u32, fencing_token: u64, state: &ZoneStateExport, now_ms: u64) -> ZoneSnapshot {
    ZoneSnapshot {
        zone_id,
        layer: 0,
        tick: state.tick,
        fencing_token,
        written_at_unix_ms: now_ms,
        npcs: state
            .npcs
            .iter()
            .map(|npc| NpcSnapshot {
                npc_id: npc.entity,
                kind: 0,
                health: npc.health,
                health_max: npc.health_max,
                position_m: npc.position_m,
                yaw: npc.yaw,
                home_m: npc.home_m,
                loot_item_id: npc.loot_item_id,
                dead_until_tick: npc.dead_for_ticks.map(|ticks| state.tick + ticks),
            })
            .collect(),
        loot: state
            .loot
            .iter()
            .map(|drop| LootSnapshot {
                loot_id: drop.entity,
                item_id: drop.item_id,
                quantity: drop.quantity,
                claimed: drop.claimed,
                position_m: drop.position_m,
                expires_tick: state.tick + drop.expires_in_ticks,
                key_epoch: drop.key_epoch,
                key_serial: drop.key_serial,
            })
            .collect(),
    }
}

/// The zone's form of a saved snapshot.
pub fn export_of(snapshot: &ZoneSnapshot) -> ZoneStateExport {
    let tick = snapshot.tick;
    ZoneStateExport {
        tick,
        npcs: snapshot
            .npcs
            .iter()
            .map(|npc| NpcRecord {
                entity: npc.npc_id,
                health: npc.health,
                health_max: npc.health_max,
                position_m: npc.position_m,
                yaw: npc.yaw,
                home_m: npc.home_m,
                loot_item_id: npc.loot_item_id,
                dead_for_ticks: npc.dead_until_tick.map(|until| until.saturating_sub(tick)),
            })
            .collect(),
        loot: snapshot
            .loot
            .iter()
            .map(|drop| LootRecord {
                entity: drop.loot_id,
                item_id: drop.item_id,
                quantity: drop.quantity,
                claimed: drop.claimed,
                position_m: drop.position_m,
                expires_in_ticks: drop.expires_tick.saturating_sub(tick),
                key_epoch: drop.key_epoch,
                key_serial: drop.key_serial,
            })
            .collect(),
    }
}

/// The counters as Prometheus counters: `meridian_global_chat_total{what}`,
/// `meridian_zone_state_total{what}` (the writer), `meridian_zone_state_restores_total{outcome}`,
/// `meridian_hot_sessions_total{what}`.
pub fn publish_metrics(counters: &HotCounters, writer: &ZoneStateWriter, chat: Option<&GlobalChat>) {
    let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
    for (what, value) in [
        ("refused_empty", load(&counters.chat_refused_empty)),
        ("refused_too_long", load(&counters.chat_refused_too_long)),
        ("refused_rate_limited", load(&counters.chat_refused_rate_limited)),
        ("refused_unavailable", load(&counters.chat_refused_unavailable)),
        ("refusals_undelivered", load(&counters.chat_refusals_undelivered)),
        ("fanout_dropped", load(&counters.chat_fanout_dropped)),
        ("delivered_sessions", load(&counters.chat_delivered_sessions)),
    ] {
        metrics::counter!("meridian_global_chat_total", "what" => what).absolute(value);
    }
    if let Some(chat) = chat {
        let c = chat.counters();
        for (what, value) in [
            ("published", c.published),
            ("received", c.received),
            ("received_dropped", c.received_dropped),
            ("received_invalid", c.received_invalid),
            ("publish_failed", c.publish_failed),
            ("subscriptions", c.subscriptions),
            ("subscriptions_lost", c.subscriptions_lost),
        ] {
            metrics::counter!("meridian_global_chat_total", "what" => what).absolute(value);
        }
    }
    let w = writer.counters();
    for (what, value) in [
        ("offered", w.offered),
        ("coalesced", w.coalesced),
        ("refused_full", w.refused_full),
        ("refused_fenced", w.refused_fenced),
        ("writes_ok", w.writes_ok),
        ("writes_unavailable", w.writes_unavailable),
        ("writes_deferred", w.writes_deferred),
        ("writes_fenced", w.writes_fenced),
        ("writes_failed", w.writes_failed),
    ] {
        metrics::counter!("meridian_zone_state_total", "what" => what).absolute(value);
    }
    for outcome in [
        RestoreOutcome::Restored,
        RestoreOutcome::Missing,
        RestoreOutcome::Unavailable,
        RestoreOutcome::Fenced,
        RestoreOutcome::Corrupt,
    ] {
        metrics::counter!("meridian_zone_state_restores_total", "outcome" => outcome.label())
            .absolute(load(counters.restores(outcome)));
    }
    for (what, value) in [
        ("written", load(&counters.sessions_written)),
        ("refreshed", load(&counters.sessions_refreshed)),
        ("deleted", load(&counters.sessions_deleted)),
        ("moved", load(&counters.sessions_moved)),
        ("errors", load(&counters.session_errors)),
        ("hints_written", load(&counters.hints_written)),
        ("requests_dropped", load(&counters.requests_dropped)),
    ] {
        metrics::counter!("meridian_hot_sessions_total", "what" => what).absolute(value);
    }
    metrics::counter!("meridian_sessions_resumed_total").absolute(load(&counters.sessions_resumed));
    for (outcome, value) in [
        ("offered", load(&counters.resumables_offered)),
        ("stale", load(&counters.resumables_stale)),
        ("newer", load(&counters.resumables_newer)),
        ("without_keys", load(&counters.resumables_without_keys)),
        ("corrupt", load(&counters.resumables_corrupt)),
        ("bad_keys", load(&counters.resumables_bad_keys)),
        ("refused", load(&counters.resumables_refused)),
    ] {
        metrics::counter!("meridian_session_resumables_total", "outcome" => outcome).absolute(value);
    }
}
