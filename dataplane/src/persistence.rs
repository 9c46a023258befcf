//! The node's persistence bridge: the one place where the zone workers' persistence events meet
//! the economy's Postgres shards (`meridian-economy`).
//!
//! One thread runs a tokio runtime that owns the [`Economy`]. Workers never wait on it: they hand
//! their host's persistence events over a bounded channel (`try_send`; a full channel is counted
//! and costs nothing, since a zone re-sends a pick-up claim until it is answered) and pick answers
//! up from their own bounded channel between ticks, passing them to the host
//! (`SessionHost::handle_persistence_outcome`).
//!
//! **Pick-ups are CP.** A pick-up is pending state in the zone; the client sees `InventoryGranted`
//! only after the commit. The bridge applies it as `Operation::Loot` (one item row per pick-up:
//! `item_type` = the zone's item id, the quantity a stats field `{"quantity": q}`, a stack) under
//! `Fence { zone_id, token }` with the zone's idempotency key as text, so a retried claim is
//! replayed, never granted twice. An unreachable database (or an `apply` slower than
//! `apply_timeout_ms`) answers `Unavailable`: the player is refused with `persistence_unavailable`
//! and the loot is free again, while movement and combat go on untouched (they never touch this
//! path). A refusal by the database (a stale fencing token: another node owns the zone now) answers
//! `Rejected`. Kills are not persisted (no economy operation fits them; counted and dropped).
//!
//! **Trades** (a zone's two-step offer → accept) go the same way as one `Operation::Trade`: each
//! side's whole holding of the item type it offered changes hands, same-shard or two-phase commit
//! as the shard map decides; both players hear the outcome with its reason.
//!
//! **Characters** are created on first join (`create_character`, idempotent) with the token's
//! character id (or the session id for dev tokens), and again before a pick-up if that failed.
//!
//! **Checkpoints are write-behind.** Workers push their players' state into one shared
//! [`CheckpointQueue`] (a map insert under a short mutex; coalescing and drops counted), and one
//! task here flushes it every `checkpoint_interval_s` (`CheckpointQueue::run`). When a zone starts
//! (serve, including after a fail-over) the bridge raises the zone's fence to the new owner's
//! token and loads the zone's characters' last checkpoints into [`SpawnPositions`], which the
//! host's `SpawnRule` reads: a returning character appears where it was.

use crate::bridge_thread::{BridgeThread, bridge_runtime};
use meridian_events::{Event, EventIdSource, EventLog, EventType};
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, TrySendError},
    },
    time::Duration,
};

use anyhow::Context;
use meridian_economy::{
    CharacterState, CheckpointQueue, Economy, EconomyError, Fence, NewItem, Operation, Request, ShardMap,
};
use meridian_host::HostPersistenceEvent;
use meridian_zone::{IdempotencyKey, PersistenceEvent, PersistenceOutcome};

/// Requests the bridge's inbox holds; beyond it workers drop and count (`requests_dropped`).
pub const BRIDGE_REQUESTS_MAX: usize = 16_384;
/// Answers one worker's outbox holds; beyond it the bridge drops and counts (the zone retries).
pub const BRIDGE_ANSWERS_MAX: usize = 16_384;
/// Operations the bridge runs at once; the shards' pools bound the database side.
const IN_FLIGHT_MAX: usize = 256;
/// Attempts at loading a zone's checkpoints when the database is down at serve time (two minutes).
const LOAD_ATTEMPTS: u32 = 60;
/// Characters whose creation waits for the database at most; beyond it they are created on their
/// next join or pick-up instead.
const UNENSURED_MAX: usize = 65_536;
/// Time between two attempts at reaching the shards.
const CONNECT_RETRY: Duration = Duration::from_secs(1);
const LOAD_RETRY: Duration = Duration::from_secs(2);
/// Pending trades whose chosen items the bridge remembers; past it the memory is cleared (a trade
/// retried after that re-reads its items, which is still safe: a committed key is replayed).
const TRADE_ITEM_CHOICES_MAX: usize = 65_536;

/// How the node reaches the economy.
#[derive(Clone, Debug)]
pub struct PersistenceSettings {
    /// One connection string per shard, in shard order (`--economy-shards`).
    pub shard_urls: Vec<String>,
    /// Connections per shard.
    pub pool_size: usize,
    /// How often the checkpoint queue is flushed (`--checkpoint-interval-s`; 30 s by default).
    pub checkpoint_interval_s: u64,
    /// How often each worker pushes its players' state into the queue.
    pub checkpoint_push_interval_s: u64,
    /// Characters the checkpoint queue holds at most.
    pub checkpoint_capacity: usize,
    /// An `apply` slower than this answers `Unavailable` (its future is dropped: the pools end any
    /// transaction it left open, see `meridian_economy::db::pool`).
    pub apply_timeout_ms: u64,
    /// The game event log (`--kafka`): logins, kills, committed loot and trades are produced to it
    /// from this thread through its bounded buffer (never from the tick; a full buffer drops and
    /// counts). `None`: no event log.
    pub event_log: Option<meridian_events::EventLogConfig>,
}

impl PersistenceSettings {
    pub fn new(shard_urls: Vec<String>) -> Self {
        Self {
            shard_urls,
            pool_size: 8,
            checkpoint_interval_s: meridian_economy::checkpoint::CHECKPOINT_INTERVAL_S,
            checkpoint_push_interval_s: 5,
            checkpoint_capacity: 262_144,
            apply_timeout_ms: 3_000,
            event_log: None,
        }
    }
}

/// What a worker asks of the bridge.
#[derive(Debug)]
pub enum BridgeRequest {
    Event {
        worker: usize,
        event: HostPersistenceEvent,
    },
    /// A session opened: make sure its character exists.
    EnsureCharacter {
        character_id: u64,
        zone_id: u32,
    },
    /// A zone started on this node under `fencing_token`: raise its fence, load its checkpoints.
    ZoneStarted {
        zone_id: u32,
        fencing_token: Option<u64>,
    },
    /// A handoff was decided (recorded by the host the player left): logged as a `handoff` event,
    /// under the old zone's fencing token.
    Handoff {
        event: meridian_host::HandoffEvent,
        fencing_token: Option<u64>,
    },
}

/// The answer to one pick-up claim, for the worker that owns the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeAnswer {
    pub zone_id: u32,
    pub key: IdempotencyKey,
    pub outcome: PersistenceOutcome,
}

/// The bridge's counters (the worker side counts into them too).
#[derive(Debug, Default)]
pub struct PersistenceCounters {
    pub requests_dropped: AtomicU64,
    pub answers_dropped: AtomicU64,
    pub loot_committed: AtomicU64,
    pub loot_replayed: AtomicU64,
    pub loot_rejected: AtomicU64,
    pub loot_unavailable: AtomicU64,
    pub loot_duplicates_in_flight: AtomicU64,
    pub kills_ignored: AtomicU64,
    pub trades_committed: AtomicU64,
    pub trades_rejected: AtomicU64,
    pub trades_unavailable: AtomicU64,
    pub characters_created: AtomicU64,
    pub character_errors: AtomicU64,
    pub zones_loaded: AtomicU64,
    pub zone_load_failures: AtomicU64,
    pub characters_loaded: AtomicU64,
    /// Attempts at reaching and migrating the shards that failed (the node retries every second).
    pub connect_failures: AtomicU64,
}

/// Last known positions of characters (from checkpoints loaded at zone start, refreshed by each
/// worker's checkpoint pushes): what the host's `SpawnRule` reads.
#[derive(Debug, Default)]
pub struct SpawnPositions {
    positions: RwLock<HashMap<u64, [f32; 3]>>,
}

impl SpawnPositions {
    pub fn get(&self, character_id: u64) -> Option<[f32; 3]> {
        self.positions.read().ok()?.get(&character_id).copied()
    }

    pub fn set_many(&self, positions: impl IntoIterator<Item = (u64, [f32; 3])>) {
        if let Ok(mut map) = self.positions.write() {
            map.extend(positions);
        }
    }
}

/// A worker's handle on the bridge.
pub struct BridgeLink {
    pub requests: tokio::sync::mpsc::Sender<BridgeRequest>,
    pub answers: Receiver<BridgeAnswer>,
    pub checkpoints: Arc<CheckpointQueue>,
    pub spawn_positions: Arc<SpawnPositions>,
    pub counters: Arc<PersistenceCounters>,
    pub checkpoint_push_interval_us: u64,
}

impl BridgeLink {
    /// Hands a request over without waiting; a full inbox is counted.
    pub fn send(&self, request: BridgeRequest) {
        if self.requests.try_send(request).is_err() {
            self.counters.requests_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The running bridge: its thread, and the links the workers take.
pub struct PersistenceBridge {
    thread: BridgeThread,
    pub counters: Arc<PersistenceCounters>,
    pub checkpoints: Arc<CheckpointQueue>,
    pub spawn_positions: Arc<SpawnPositions>,
}

impl PersistenceBridge {
    /// Starts the bridge thread, which connects to the shards (running their migrations) and keeps
    /// trying until they answer: a node starts while its database is down, its players move and
    /// fight, and pick-ups are refused as unavailable until the economy is reached. Returns one
    /// link per worker.
    pub fn start(settings: PersistenceSettings, workers: usize) -> anyhow::Result<(Self, Vec<BridgeLink>)> {
        anyhow::ensure!(!settings.shard_urls.is_empty(), "no economy shard");
        anyhow::ensure!(settings.checkpoint_interval_s > 0, "checkpoint interval must be > 0");
        let runtime = bridge_runtime("persistence")?;
        let map = ShardMap::new(1, settings.shard_urls.clone());
        let counters = Arc::new(PersistenceCounters::default());
        let checkpoints = Arc::new(CheckpointQueue::new(settings.checkpoint_capacity));
        let spawn_positions = Arc::new(SpawnPositions::default());
        let (request_sender, request_receiver) = tokio::sync::mpsc::channel(BRIDGE_REQUESTS_MAX);
        let mut answer_senders = Vec::with_capacity(workers);
        let mut links = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (sender, receiver) = std::sync::mpsc::sync_channel(BRIDGE_ANSWERS_MAX);
            answer_senders.push(sender);
            links.push(BridgeLink {
                requests: request_sender.clone(),
                answers: receiver,
                checkpoints: Arc::clone(&checkpoints),
                spawn_positions: Arc::clone(&spawn_positions),
                counters: Arc::clone(&counters),
                checkpoint_push_interval_us: settings.checkpoint_push_interval_s.max(1) * 1_000_000,
            });
        }
        // The producer does not need the broker up (librdkafka connects and reconnects by itself);
        // the topic is created in the background until the broker answers.
        let events = match &settings.event_log {
            None => None,
            Some(config) => {
                let log = EventLog::new(config).context("the event log's producer")?;
                let (bootstrap, topic) = (config.bootstrap_servers.clone(), config.topic.clone());
                std::thread::Builder::new()
                    .name("event-topic".into())
                    .spawn(move || ensure_topic(&bootstrap, &topic))
                    .context("spawning the topic creator")?;
                Some(log)
            }
        };
        let state = Arc::new(BridgeState {
            economy: tokio::sync::OnceCell::new(),
            map,
            pool_size: settings.pool_size,
            answers: answer_senders,
            counters: Arc::clone(&counters),
            spawn_positions: Arc::clone(&spawn_positions),
            ensured: std::sync::Mutex::new(HashSet::new()),
            unensured: std::sync::Mutex::new(HashMap::new()),
            in_flight: std::sync::Mutex::new(HashSet::new()),
            trade_items: std::sync::Mutex::new(HashMap::new()),
            apply_timeout: Duration::from_millis(settings.apply_timeout_ms),
            // Standalone zones have no fencing token and restart their key serials with the node:
            // their keys get this run's start time in front so two runs never share a key.
            run_id: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
            events,
            event_ids: std::sync::Mutex::new(EventIdSource::new()),
        });
        let queue = Arc::clone(&checkpoints);
        let interval = Duration::from_secs(settings.checkpoint_interval_s);
        let thread = BridgeThread::spawn("persistence", runtime, move |stop| {
            run(state, request_receiver, queue, interval, stop)
        })?;
        Ok((
            Self {
                thread,
                counters,
                checkpoints,
                spawn_positions,
            },
            links,
        ))
    }

    /// Flushes the checkpoint queue one last time and ends the thread (dropping does the same).
    pub fn stop(mut self) {
        self.thread.stop();
    }
}

/// The item ids each side of a trade gives.
type TradeSides = [Vec<uuid::Uuid>; 2];

struct BridgeState {
    /// Set once the shards were reached and migrated; until then every operation answers
    /// `Unavailable` (a node starts, and its players move, while the database is down).
    economy: tokio::sync::OnceCell<Economy>,
    map: ShardMap,
    pool_size: usize,
    answers: Vec<SyncSender<BridgeAnswer>>,
    counters: Arc<PersistenceCounters>,
    spawn_positions: Arc<SpawnPositions>,
    /// Characters known to exist (created or found) in this run.
    ensured: std::sync::Mutex<HashSet<u64>>,
    /// Characters whose creation failed (database down), with their zone: retried every second.
    unensured: std::sync::Mutex<HashMap<u64, u32>>,
    /// Claim keys being applied now: a zone's retry of one of them is skipped, not run twice.
    in_flight: std::sync::Mutex<HashSet<(u32, IdempotencyKey)>>,
    /// The items each pending trade names, by key (see `trade`).
    trade_items: std::sync::Mutex<HashMap<(u32, IdempotencyKey), TradeSides>>,
    apply_timeout: Duration,
    run_id: u64,
    events: Option<EventLog>,
    event_ids: std::sync::Mutex<EventIdSource>,
}

async fn run(
    state: Arc<BridgeState>,
    mut requests: tokio::sync::mpsc::Receiver<BridgeRequest>,
    checkpoints: Arc<CheckpointQueue>,
    interval: Duration,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let checkpoints_for_metrics = Arc::clone(&checkpoints);
    let connector = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            state.connect().await;
            // Then, for the rest of the run: create the characters a database outage left out.
            let mut ticker = tokio::time::interval(CONNECT_RETRY);
            loop {
                ticker.tick().await;
                let waiting: Vec<(u64, u32)> = match state.unensured.lock() {
                    Ok(mut waiting) => waiting.drain().collect(),
                    Err(_) => Vec::new(),
                };
                for (character_id, zone_id) in waiting {
                    let _ = state.ensure_character(character_id, zone_id).await;
                }
            }
        })
    };
    let flusher = {
        let state = Arc::clone(&state);
        let (flush_stop_sender, mut flush_stop) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // The queue keeps (and coalesces) states until the economy is there to take them.
            loop {
                if let Some(economy) = state.economy.get() {
                    checkpoints
                        .run(economy, interval, async {
                            let _ = (&mut flush_stop).await;
                        })
                        .await;
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(CONNECT_RETRY) => {}
                    _ = &mut flush_stop => return,
                }
            }
        });
        (task, flush_stop_sender)
    };
    let publisher = {
        let state = Arc::clone(&state);
        let checkpoints = Arc::clone(&checkpoints_for_metrics);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(METRICS_INTERVAL);
            loop {
                ticker.tick().await;
                publish_metrics(&state.counters, &checkpoints, state.events.as_ref());
            }
        })
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT_MAX));
    tokio::pin!(stop);
    loop {
        let request = tokio::select! {
            request = requests.recv() => request,
            _ = &mut stop => None,
        };
        let Some(request) = request else { break };
        // Waiting for a permit is the back-pressure: the inbox fills and workers count the drops.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            state.handle(request).await;
            drop(permit);
        });
    }
    let (task, flush_stop) = flusher;
    let _ = flush_stop.send(());
    let _ = task.await;
    connector.abort();
    publisher.abort();
    publish_metrics(&state.counters, &checkpoints_for_metrics, state.events.as_ref());
}

/// How often the bridge's counters go to the metrics recorder.
const METRICS_INTERVAL: Duration = Duration::from_secs(1);

/// The bridge's and the checkpoint queue's counters as Prometheus counters
/// (`meridian_persistence_total{what}`, `meridian_checkpoint_total{what}`).
fn publish_metrics(counters: &PersistenceCounters, checkpoints: &CheckpointQueue, events: Option<&EventLog>) {
    if let Some(log) = events {
        let c = log.counters();
        for (what, value) in [
            ("queued", c.queued),
            ("delivered", c.delivered),
            ("dropped_full", c.dropped_full),
            ("rejected", c.rejected),
            ("failed", c.failed),
        ] {
            metrics::counter!("meridian_events_total", "what" => what).absolute(value);
        }
        metrics::gauge!("meridian_events_buffered").set(c.buffered as f64);
    }
    let bridge = [
        ("requests_dropped", &counters.requests_dropped),
        ("answers_dropped", &counters.answers_dropped),
        ("loot_committed", &counters.loot_committed),
        ("loot_replayed", &counters.loot_replayed),
        ("loot_rejected", &counters.loot_rejected),
        ("loot_unavailable", &counters.loot_unavailable),
        ("loot_duplicates_in_flight", &counters.loot_duplicates_in_flight),
        ("kills_ignored", &counters.kills_ignored),
        ("trades_committed", &counters.trades_committed),
        ("trades_rejected", &counters.trades_rejected),
        ("trades_unavailable", &counters.trades_unavailable),
        ("characters_created", &counters.characters_created),
        ("character_errors", &counters.character_errors),
        ("zones_loaded", &counters.zones_loaded),
        ("zone_load_failures", &counters.zone_load_failures),
        ("characters_loaded", &counters.characters_loaded),
        ("connect_failures", &counters.connect_failures),
    ];
    for (what, value) in bridge {
        metrics::counter!("meridian_persistence_total", "what" => what).absolute(value.load(Ordering::Relaxed));
    }
    let queue = checkpoints.counters();
    for (what, value) in [
        ("pushed", queue.pushed),
        ("coalesced", queue.coalesced),
        ("dropped", queue.dropped),
        ("written", queue.written),
        ("skipped", queue.skipped),
        ("flush_failures", queue.flush_failures),
    ] {
        metrics::counter!("meridian_checkpoint_total", "what" => what).absolute(value);
    }
    metrics::gauge!("meridian_checkpoint_queue_characters").set(checkpoints.len() as f64);
}

impl BridgeState {
    /// Connects to the shards (running their migrations), retrying until it succeeds.
    async fn connect(&self) {
        loop {
            match Economy::connect(self.map.clone(), self.pool_size).await {
                Ok(economy) => {
                    let _ = self.economy.set(economy);
                    tracing::info!(shards = self.map.len(), "economy connected");
                    return;
                }
                Err(error) => {
                    self.counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "economy unreachable; pick-ups and trades are refused until it is back");
                    tokio::time::sleep(CONNECT_RETRY).await;
                }
            }
        }
    }

    fn economy(&self) -> Result<&Economy, EconomyError> {
        self.economy
            .get()
            .ok_or_else(|| EconomyError::Unavailable("the economy's shards have not been reached yet".into()))
    }

    async fn handle(&self, request: BridgeRequest) {
        match request {
            BridgeRequest::Event { worker, event } => self.on_event(worker, event).await,
            BridgeRequest::EnsureCharacter { character_id, zone_id } => {
                // A session opened: the player logged in to this zone.
                self.log_event(
                    EventType::Login,
                    character_id,
                    serde_json::json!({ "zone_id": zone_id }),
                    zone_id,
                    None,
                );
                let _ = self.ensure_character(character_id, zone_id).await;
            }
            BridgeRequest::ZoneStarted { zone_id, fencing_token } => self.on_zone_started(zone_id, fencing_token).await,
            BridgeRequest::Handoff { event, fencing_token } => self.log_event(
                EventType::Handoff,
                event.character_id,
                serde_json::json!({
                    "session_id": event.session_id,
                    "from_zone": event.from_zone,
                    "to_zone": event.to_zone,
                    "outcome": event.outcome.label(),
                    "across": event.across,
                }),
                event.from_zone,
                fencing_token,
            ),
        }
    }

    async fn ensure_character(&self, character_id: u64, zone_id: u32) -> Result<(), EconomyError> {
        if self.ensured.lock().is_ok_and(|ensured| ensured.contains(&character_id)) {
            return Ok(());
        }
        // The login database owns accounts and names; the economy's copy only needs to exist.
        let created = match self.economy() {
            Ok(economy) => {
                economy
                    .create_character(character_id as i64, 0, &format!("c{character_id}"), i64::from(zone_id))
                    .await
            }
            Err(error) => Err(error),
        };
        match created {
            Ok(inserted) => {
                if inserted {
                    self.counters.characters_created.fetch_add(1, Ordering::Relaxed);
                }
                if let Ok(mut ensured) = self.ensured.lock() {
                    ensured.insert(character_id);
                }
                Ok(())
            }
            Err(error) => {
                self.counters.character_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, character_id, "creating the character failed");
                // Retried in the background: its checkpoints only land once the row exists.
                if let Ok(mut waiting) = self.unensured.lock()
                    && (waiting.len() < UNENSURED_MAX || waiting.contains_key(&character_id))
                {
                    waiting.insert(character_id, zone_id);
                }
                Err(error)
            }
        }
    }

    async fn on_event(&self, worker: usize, event: HostPersistenceEvent) {
        let HostPersistenceEvent {
            zone_id,
            fencing_token,
            event,
        } = event;
        let key = match &event {
            PersistenceEvent::LootPickup { key, .. } | PersistenceEvent::Trade { key, .. } => *key,
            PersistenceEvent::Kill {
                killer_character_id,
                victim_entity,
                victim_character_id,
                tick,
                ..
            } => {
                // Not an economy operation: logged (when there is an event log), not persisted.
                self.counters.kills_ignored.fetch_add(1, Ordering::Relaxed);
                if let Some(killer) = killer_character_id {
                    self.log_event(
                        EventType::Kill,
                        *killer,
                        serde_json::json!({
                            "victim_entity": victim_entity,
                            "victim_character_id": victim_character_id,
                            "tick": tick,
                        }),
                        zone_id,
                        fencing_token,
                    );
                }
                return;
            }
        };
        let inserted = self
            .in_flight
            .lock()
            .is_ok_and(|mut in_flight| in_flight.insert((zone_id, key)));
        if !inserted {
            self.counters.loot_duplicates_in_flight.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let is_trade = matches!(event, PersistenceEvent::Trade { .. });
        let logged = match &event {
            PersistenceEvent::LootPickup {
                character_id,
                item_id,
                quantity,
                ..
            } => Some((
                EventType::Loot,
                *character_id,
                serde_json::json!({ "item_id": item_id, "quantity": quantity }),
            )),
            PersistenceEvent::Trade {
                a_character_id,
                b_character_id,
                a_item,
                b_item,
                ..
            } => Some((
                EventType::Trade,
                *a_character_id,
                serde_json::json!({
                    "with_character_id": b_character_id,
                    "gave_item": a_item,
                    "got_item": b_item,
                }),
            )),
            PersistenceEvent::Kill { .. } => None,
        };
        let work = async {
            match event {
                PersistenceEvent::LootPickup {
                    key,
                    character_id,
                    item_id,
                    quantity,
                } => {
                    self.loot(zone_id, fencing_token, key, character_id, item_id, quantity)
                        .await
                }
                PersistenceEvent::Trade {
                    key,
                    a_character_id,
                    b_character_id,
                    a_item,
                    b_item,
                } => {
                    self.trade(
                        zone_id,
                        fencing_token,
                        key,
                        [a_character_id, b_character_id],
                        [a_item, b_item],
                    )
                    .await
                }
                PersistenceEvent::Kill { .. } => PersistenceOutcome::Rejected,
            }
        };
        let outcome = match tokio::time::timeout(self.apply_timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::debug!(zone_id, ?key, "operation timed out");
                PersistenceOutcome::Unavailable
            }
        };
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.remove(&(zone_id, key));
        }
        let counters = &self.counters;
        let counter = match (is_trade, outcome) {
            (false, PersistenceOutcome::Committed) => &counters.loot_committed,
            (false, PersistenceOutcome::Rejected) => &counters.loot_rejected,
            (false, PersistenceOutcome::Unavailable) => &counters.loot_unavailable,
            (true, PersistenceOutcome::Committed) => &counters.trades_committed,
            (true, PersistenceOutcome::Rejected) => &counters.trades_rejected,
            (true, PersistenceOutcome::Unavailable) => &counters.trades_unavailable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // Logged once, when it committed (a replayed key answers Committed again: the log is
        // at-least-once, and the event's payload and id let a consumer deduplicate by content).
        if outcome == PersistenceOutcome::Committed
            && let Some((event_type, player, payload)) = logged
        {
            self.log_event(event_type, player, payload, zone_id, fencing_token);
        }
        let answer = BridgeAnswer { zone_id, key, outcome };
        match self.answers.get(worker).map(|sender| sender.try_send(answer)) {
            Some(Ok(())) => {}
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                self.counters.answers_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Produces one event to the log, if there is one. Never waits: a full buffer is counted by the
    /// log and the event is gone.
    fn log_event(
        &self,
        event_type: EventType,
        player_id: u64,
        payload: serde_json::Value,
        zone_id: u32,
        fencing_token: Option<u64>,
    ) {
        let Some(log) = &self.events else { return };
        let Ok(id) = self.event_ids.lock().map(|mut ids| ids.next_id()) else {
            return;
        };
        let event = Event {
            id,
            player_id,
            event_type,
            payload,
            timestamp_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            zone_id,
            fencing_token: fencing_token.unwrap_or(0),
        };
        if let Err(error) = log.try_log(&event) {
            tracing::debug!(%error, "event not logged");
        }
    }

    /// The key's text: zone, layer, epoch (the owner's fencing token) and serial, and for a
    /// standalone zone (no token) this run's id.
    fn key_text(&self, key: IdempotencyKey, fencing_token: Option<u64>) -> String {
        let base = format!("z{}-l{}-e{}-s{}", key.zone_id, key.layer, key.epoch, key.serial);
        match fencing_token {
            Some(_) => base,
            None => format!("r{}-{base}", self.run_id),
        }
    }

    async fn loot(
        &self,
        zone_id: u32,
        fencing_token: Option<u64>,
        key: IdempotencyKey,
        character_id: u64,
        item_id: u32,
        quantity: u16,
    ) -> PersistenceOutcome {
        if let Err(error) = self.ensure_character(character_id, zone_id).await {
            return outcome_of(&error);
        }
        let request = Request {
            key: self.key_text(key, fencing_token),
            fence: Fence {
                zone_id: i64::from(zone_id),
                token: fencing_token.unwrap_or(0) as i64,
            },
            operation: Operation::Loot {
                character: character_id as i64,
                items: vec![NewItem {
                    item_type: item_id as i32,
                    bag: 0,
                    stats: serde_json::json!({ "quantity": quantity }),
                }],
                gold: 0,
            },
        };
        let applied = match self.economy() {
            Ok(economy) => economy.apply(&request).await,
            Err(error) => Err(error),
        };
        match applied {
            Ok(applied) => {
                if applied.replayed {
                    self.counters.loot_replayed.fetch_add(1, Ordering::Relaxed);
                }
                PersistenceOutcome::Committed
            }
            Err(error) => {
                tracing::debug!(%error, zone_id, character_id, "loot not applied");
                outcome_of(&error)
            }
        }
    }

    /// A zone's trade: each side gives every item it holds of its item type (`0`: nothing), as one
    /// `Operation::Trade` (one shard, or two-phase commit across two, as the shard map decides).
    /// The item ids are chosen once per key and remembered, so a retry of a committed trade names
    /// the same items and is replayed rather than re-evaluated against the moved items.
    async fn trade(
        &self,
        zone_id: u32,
        fencing_token: Option<u64>,
        key: IdempotencyKey,
        characters: [u64; 2],
        item_types: [u32; 2],
    ) -> PersistenceOutcome {
        for character in characters {
            if let Err(error) = self.ensure_character(character, zone_id).await {
                return outcome_of(&error);
            }
        }
        let chosen = self
            .trade_items
            .lock()
            .ok()
            .and_then(|items| items.get(&(zone_id, key)).cloned());
        let [a_items, b_items] = match chosen {
            Some(items) => items,
            None => {
                let mut sides: [Vec<uuid::Uuid>; 2] = [Vec::new(), Vec::new()];
                for (side, (character, item_type)) in characters.iter().zip(item_types).enumerate() {
                    if item_type == 0 {
                        continue;
                    }
                    let inventory = match self.economy() {
                        Ok(economy) => economy.inventory(*character as i64).await,
                        Err(error) => Err(error),
                    };
                    match inventory {
                        Ok(items) => {
                            sides[side] = items
                                .iter()
                                .filter(|item| item.item_type == item_type as i32)
                                .map(|item| item.item_id)
                                .collect();
                        }
                        Err(error) => return outcome_of(&error),
                    }
                }
                if let Ok(mut items) = self.trade_items.lock() {
                    if items.len() >= TRADE_ITEM_CHOICES_MAX {
                        items.clear();
                    }
                    items.insert((zone_id, key), sides.clone());
                }
                sides
            }
        };
        let request = Request {
            key: self.key_text(key, fencing_token),
            fence: Fence {
                zone_id: i64::from(zone_id),
                token: fencing_token.unwrap_or(0) as i64,
            },
            operation: Operation::Trade {
                a: characters[0] as i64,
                b: characters[1] as i64,
                a_items,
                b_items,
                a_gold: 0,
                b_gold: 0,
            },
        };
        let applied = match self.economy() {
            Ok(economy) => economy.apply(&request).await,
            Err(error) => Err(error),
        };
        let outcome = match applied {
            Ok(_) => PersistenceOutcome::Committed,
            Err(error) => {
                tracing::debug!(%error, zone_id, "trade not applied");
                outcome_of(&error)
            }
        };
        if outcome != PersistenceOutcome::Unavailable
            && let Ok(mut items) = self.trade_items.lock()
        {
            items.remove(&(zone_id, key));
        }
        outcome
    }

    async fn on_zone_started(&self, zone_id: u32, fencing_token: Option<u64>) {
        for attempt in 1..=LOAD_ATTEMPTS {
            match self.load_zone(zone_id, fencing_token).await {
                Ok(loaded) => {
                    self.counters.zones_loaded.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .characters_loaded
                        .fetch_add(loaded as u64, Ordering::Relaxed);
                    tracing::info!(zone_id, loaded, "zone checkpoints loaded");
                    return;
                }
                Err(error) => {
                    self.counters.zone_load_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, zone_id, attempt, "loading the zone's checkpoints failed");
                    tokio::time::sleep(LOAD_RETRY).await;
                }
            }
        }
    }

    async fn load_zone(&self, zone_id: u32, fencing_token: Option<u64>) -> Result<usize, EconomyError> {
        if let Some(token) = fencing_token {
            // This node owns the zone from now on: the previous owner's writes are refused.
            self.economy()?
                .raise_fence(Fence {
                    zone_id: i64::from(zone_id),
                    token: token as i64,
                })
                .await?;
        }
        let states = self.economy()?.load_characters(i64::from(zone_id)).await?;
        // Version 0: created, never checkpointed; the zone's own spawn rule places it.
        let positions: Vec<(u64, [f32; 3])> = states
            .iter()
            .filter(|state| state.seq > 0)
            .map(|state| (state.character_id as u64, state.position))
            .collect();
        let loaded = positions.len();
        self.spawn_positions.set_many(positions);
        Ok(loaded)
    }
}

/// What the zone is told for an economy error.
fn outcome_of(error: &EconomyError) -> PersistenceOutcome {
    if error.retryable() {
        PersistenceOutcome::Unavailable
    } else {
        PersistenceOutcome::Rejected
    }
}

/// One player's checkpoint, as a worker pushes it. `seq` is the wall clock in milliseconds: it
/// grows across node restarts, so a restarted zone's checkpoints are never taken for older ones.
pub fn checkpoint_state(
    zone_id: u32,
    fencing_token: Option<u64>,
    player: &meridian_zone::PlayerState,
    now_ms: u64,
) -> CharacterState {
    CharacterState {
        character_id: player.character_id as i64,
        zone_id: i64::from(zone_id),
        fencing_token: fencing_token.unwrap_or(0) as i64,
        seq: now_ms as i64,
        position: player.position_m,
        stats: serde_json::json!({ "health": player.health }),
    }
}

/// Creates the event topic, retrying every 5 s until the broker answers (an existing topic counts
/// as created). Runs on its own thread: the bridge never waits for the broker.
fn ensure_topic(bootstrap: &str, topic: &str) {
    loop {
        match meridian_events::create_topic(bootstrap, topic, 3, 1, Duration::from_secs(5)) {
            Ok(()) => {
                tracing::info!(topic, "event topic ready");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, topic, "creating the event topic failed; retrying");
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    }
}
