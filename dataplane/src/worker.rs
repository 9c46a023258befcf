//! `ZoneWorker`: one thread, one socket in the node's `SO_REUSEPORT` group, one I/O backend
//! (io_uring or recvmmsg), and one [`SessionHost`] that owns this worker's sessions and zones.
//!
//! The worker only does I/O and timing around the host: each loop receives a batch (waiting at
//! most until the host's next wake-up), routes every datagram (a session whose zone another worker
//! owns is forwarded to it over a bounded queue), feeds the rest to the host, lets the host run what
//! is due at the real clock's `now`, and flushes every datagram the host has to send in one batch.
//! Nothing here blocks on anything but the socket wait. The same host runs under the deterministic
//! harness (`meridian-sim`), so the session path is tested without sockets or clocks.
//!
//! Routing: `SO_REUSEPORT` hashes a client's 4-tuple to some worker's socket, which need not own the
//! client's zone. The worker that first sees a connection request opens the token to learn the zone,
//! remembers `session → owning worker` in its own bounded table, and forwards that session's
//! datagrams from then on (the kernel keeps hashing the same 4-tuple to the same socket). Replies
//! leave from the owner's socket, which shares the address. The eBPF `sk_reuseport` program of the
//! edge issue replaces this with steering in the kernel.

use std::{
    collections::HashMap,
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, TrySendError},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use meridian_host::{
    HostConfig, HostCounters, RESUME_DEADLINE_US, ResumableSession, SessionEvent, SessionHost, SessionKeys, WorkClock,
};
use meridian_hotstate::{ResumeHints, SessionResume, ZoneSessions};

use crate::edge::{EdgeSessions, SessionEntry};
use crate::handoff::{HandoffArbiter, PeerHandoff};
use crate::hot::{HotLink, HotRequest, RestoreOutcome, SessionHintsUpdate, ZoneLoad, snapshot_of};
use crate::persistence::{BridgeLink, BridgeRequest, checkpoint_state};
use meridian_host::HandoffMessage;
use meridian_proto::{
    endpoint::{RESUMABLE_SESSIONS_MAX, Resumable, ServerConfig, read_connection_request},
    packet::{DisconnectReason, PacketType, read_packet_type, read_sealed_header},
    token::{CLUSTER_KEY_BYTES, ConnectToken},
};
use meridian_zone::{WorldLayout, ZoneConfig};

mod cross_node;
pub use cross_node::{CROSS_ROUTES_MAX, CrossNode, CrossNodeSlot};

use crate::{
    cpu_time::thread_cpu_ns,
    dgram_io::{self, DatagramIo, DatagramIoConfig, IoBackend},
    metrics::{DropReason, WorkerMetrics, ZoneMetrics},
};

/// Forwarded datagrams a worker's inbox holds; beyond it the sender drops and counts.
pub const FORWARD_QUEUE_DATAGRAMS: usize = 8192;
/// Routes (session → owning worker) one worker remembers for sessions it forwards.
pub const FORWARD_ROUTES_MAX: usize = 65_536;
/// A forward route unused this long is forgotten (the session has timed out by then).
const FORWARD_ROUTE_IDLE_US: u64 = 10_000_000;
/// Time between two sweeps of idle forward routes.
const ROUTE_SWEEP_INTERVAL_US: u64 = 1_000_000;
/// Longest a worker sleeps in one wait, so forwarded datagrams are picked up promptly.
const WAIT_MAX: Duration = Duration::from_millis(2);

/// A datagram handed from the worker that received it to the worker that owns its session.
pub struct Forwarded {
    pub bytes: Vec<u8>,
    pub from: SocketAddr,
    pub received_us: u64,
    /// A handoff message instead of a datagram (`bytes` empty): it shares the datagrams' queue so
    /// the inputs forwarded after a ticket arrive after it.
    pub handoff: Option<PeerHandoff>,
    /// Received by this node's own socket (or WebSocket gateway) from the client, not relayed to
    /// it by another node: only such a datagram shows the client entering the cluster here.
    pub direct: bool,
}

/// Zone commands a worker's queue holds (from the node agent); beyond it `Node` reports an error.
pub const ZONE_COMMANDS_MAX: usize = 256;

/// What a worker is told to do with a zone at run time (the control plane's assignments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZoneCommand {
    /// Serve `zone_id` under `fencing_token` (starts it, or raises the token of a served zone).
    Serve { zone_id: u32, fencing_token: u64 },
    /// Stop serving `zone_id` now; its sessions are told `reason`.
    Stop { zone_id: u32, reason: DisconnectReason },
    /// Spawn an NPC in the first layer of `zone_id` (admin and tests).
    SpawnNpc {
        zone_id: u32,
        home_m: [f32; 3],
        loot_item_id: u32,
    },
    /// Drop loot in the first layer of `zone_id` (admin and tests; NPC deaths drop their own).
    SpawnLoot {
        zone_id: u32,
        position_m: [f32; 3],
        item_id: u32,
        quantity: u16,
    },
}

/// Which worker owns each zone, shared by a node's workers: read to route a connection request to
/// the owner of its token's zone, written by the node when zones are assigned or taken away.
#[derive(Debug, Default)]
pub struct ZoneDirectory {
    owners: RwLock<HashMap<u32, usize>>,
    /// Sessions offered for resume after a failover → the worker that holds them: their first
    /// packet may reach any worker's socket and carries no token to route by.
    resumable: RwLock<HashMap<u64, usize>>,
}

/// Resumable sessions the directory routes at most: every worker's resumable table, full.
pub const RESUME_ROUTES_MAX: usize = 4 * RESUMABLE_SESSIONS_MAX;

impl ZoneDirectory {
    /// Routes `session_id`'s packets to `worker` until it resumes or expires. False: the table is
    /// full (the session resumes only if its packets reach that worker's socket anyway).
    pub fn set_resumable(&self, session_id: u64, worker: usize) -> bool {
        let Ok(mut resumable) = self.resumable.write() else {
            return false;
        };
        if resumable.len() >= RESUME_ROUTES_MAX && !resumable.contains_key(&session_id) {
            return false;
        }
        resumable.insert(session_id, worker);
        true
    }

    pub fn resumable_owner(&self, session_id: u64) -> Option<usize> {
        self.resumable.read().ok()?.get(&session_id).copied()
    }

    pub fn forget_resumable(&self, session_id: u64) {
        if let Ok(mut resumable) = self.resumable.write() {
            resumable.remove(&session_id);
        }
    }

    pub fn owner(&self, zone_id: u32) -> Option<usize> {
        self.owners.read().ok()?.get(&zone_id).copied()
    }

    pub fn set(&self, zone_id: u32, worker: usize) {
        if let Ok(mut owners) = self.owners.write() {
            owners.insert(zone_id, worker);
        }
    }

    pub fn remove(&self, zone_id: u32) -> Option<usize> {
        self.owners.write().ok()?.remove(&zone_id)
    }

    /// Every zone with its worker, in zone order.
    pub fn snapshot(&self) -> Vec<(u32, usize)> {
        let mut zones: Vec<(u32, usize)> = self
            .owners
            .read()
            .map(|owners| owners.iter().map(|(zone, worker)| (*zone, *worker)).collect())
            .unwrap_or_default();
        zones.sort_unstable();
        zones
    }
}

/// The zones a node starts with (standalone mode): zone `z` belongs to worker `z % workers`.
#[derive(Debug, Clone)]
pub struct ZonePlan {
    pub zone_ids: Vec<u32>,
    pub workers: usize,
}

impl ZonePlan {
    pub fn owner(&self, zone_id: u32) -> Option<usize> {
        self.zone_ids
            .contains(&zone_id)
            .then(|| zone_id as usize % self.workers)
    }
}

/// Settings shared by the workers of a node.
#[derive(Clone)]
pub struct WorkerSettings {
    pub backend: IoBackend,
    pub io: DatagramIoConfig,
    pub server: ServerConfig,
    pub plan: ZonePlan,
    pub zone_config: ZoneConfig,
    /// The seamless world's layout (`NodeConfig::world`).
    pub world: Option<WorldLayout>,
}

/// What connects a worker to the node and its peers.
pub struct WorkerLinks {
    pub clock: WorkerClock,
    /// Datagrams other workers forward to this one.
    pub inbox: Receiver<Forwarded>,
    /// Every worker's inbox, by index.
    pub peers: Vec<SyncSender<Forwarded>>,
    pub gauges: Arc<WorkerGauges>,
    pub directory: Arc<ZoneDirectory>,
    pub commands: Receiver<ZoneCommand>,
    /// Where the host's session opens and closes go (the control-plane agent); `None`: nobody
    /// listens (standalone), they are drained and forgotten.
    pub session_events: Option<SyncSender<WorkerSessionEvent>>,
    /// This worker's handle on the edge's session map (`None`: no edge).
    pub edge_sessions: Option<EdgeSessions>,
    /// This worker's link to the persistence bridge (`None`: the node runs without an economy;
    /// persistence events are then dropped and counted, and pick-up claims stay pending in their
    /// zone, re-sent and never granted, as before the bridge existed).
    pub persistence: Option<BridgeLink>,
    /// This worker's link to the hot-state bridge (`None`: no `--redis`; global chat is refused
    /// as `global_chat_unavailable` and zones start from their initial state).
    pub hot: Option<HotLink>,
    /// The WebSocket gateway's outbound queues: packets to a synthetic address go there.
    pub ws: Arc<crate::ws::WsOutbound>,
    /// Decides each handoff ticket between this node's workers (commit or abort, once).
    pub arbiter: Arc<dyn HandoffArbiter>,
    /// Where the node agent leaves this worker's links to other nodes (`None`: single node).
    pub cross_node: Option<cross_node::CrossNodeSlot>,
}

/// How long a worker waits at start-up for the saved state of the zones it starts with: the
/// bridge's load is bounded by the Redis link's one-second timeout (plus a connect).
const STARTUP_LOAD_WAIT: Duration = Duration::from_secs(3);

/// A session opened or closed on a worker, for the node agent (routes) and later the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerSessionEvent {
    pub worker: usize,
    pub event: SessionEvent,
}

/// Session events queued between the workers and the agent. A full queue drops the event and
/// counts it (`meridian_session_events_dropped_total`): the route it would have written or deleted
/// then lags until the session's next event or the node's lease ends.
pub const SESSION_EVENTS_QUEUE_MAX: usize = 65_536;
/// Session events a worker raises itself and has not handed on yet; beyond it they are dropped and
/// counted (the record and route then wait for the session's next handoff or its hints refresh).
pub const RAISED_SESSION_EVENTS_MAX: usize = SESSION_EVENTS_QUEUE_MAX;

/// Live numbers a worker publishes for the node (and its dashboard) without locks.
#[derive(Debug, Default)]
pub struct WorkerGauges {
    pub sessions: AtomicU64,
    /// Zones this worker serves.
    pub zones: AtomicU64,
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    pub last_tick_work_us: AtomicU64,
    /// The longest tick work since the node agent last took it (`take_tick_work_max_us`): what the
    /// agent reports as the node's tick load.
    pub tick_work_max_us: AtomicU64,
    /// Players per zone this worker serves, refreshed every tick (read by the node agent).
    pub zone_players: std::sync::Mutex<std::collections::BTreeMap<u32, u32>>,
    /// The worker's last world snapshot, for `GET /world` (`crate::world_view`).
    pub world: crate::world_view::WorldSlot,
    /// Handoffs to other workers' zones this worker committed and aborted (the old side's count).
    pub handoffs_across: AtomicU64,
    pub handoffs_across_aborted: AtomicU64,
}

pub struct ZoneWorker {
    index: usize,
    io: Box<dyn DatagramIo>,
    host: SessionHost,
    /// To open connection requests' tokens for routing (the host opens them again to admit).
    cluster_key: [u8; CLUSTER_KEY_BYTES],
    directory: Arc<ZoneDirectory>,
    commands: Receiver<ZoneCommand>,
    routes: HashMap<u64, (usize, u64)>,
    inbox: Receiver<Forwarded>,
    peers: Vec<SyncSender<Forwarded>>,
    clock: WorkerClock,
    metrics: WorkerMetrics,
    /// Per hosted zone (in the host's order), one metrics set per layer.
    zone_metrics: Vec<(u32, Vec<ZoneMetrics>)>,
    gauges: Arc<WorkerGauges>,
    published: crate::dgram_io::DatagramIoStats,
    /// The host's counters as last published (metrics get the growth since).
    published_host: HostCounters,
    sends_queued: bool,
    next_route_sweep_us: u64,
    session_events: Option<SyncSender<WorkerSessionEvent>>,
    edge_sessions: Option<EdgeSessions>,
    persistence: Option<BridgeLink>,
    next_checkpoint_us: u64,
    hot: Option<HotLink>,
    next_zone_state_us: u64,
    /// Zones told to start, held back until the bridge answered their load (zone → token).
    pending_serves: HashMap<u32, u64>,
    ws: Arc<crate::ws::WsOutbound>,
    world: crate::world_view::WorldPublisher,
    arbiter: Arc<dyn HandoffArbiter>,
    /// Handoffs to and from other nodes (`cross_node`), once the agent has set them up.
    cross: Option<cross_node::CrossNode>,
    cross_slot: Option<cross_node::CrossNodeSlot>,
    /// Session events the worker raises itself (a session a handoff committed into one of its
    /// zones), handled after the host's like them; bounded by [`RAISED_SESSION_EVENTS_MAX`].
    raised_session_events: std::collections::VecDeque<SessionEvent>,
    /// Nonces for sealing session keys into records: 16 random bytes from the OS at start and a
    /// counter, so no two seals of this worker share one and no RNG is read per session.
    nonce_prefix: [u8; 16],
    nonce_counter: u64,
}

/// Offers the sessions the bridge chose from the zone's records for resume (keys opened with the
/// cluster key), counting what became of every record, and routes their packets to `worker`.
#[allow(clippy::too_many_arguments)] // the worker's parts it needs, borrowed apart from the worker
fn install_resumables(
    host: &mut SessionHost,
    link: &HotLink,
    directory: &ZoneDirectory,
    cluster_key: &[u8; CLUSTER_KEY_BYTES],
    worker: usize,
    now_us: u64,
    zone_id: u32,
    sessions: ZoneSessions,
) {
    let counters = &link.counters;
    counters
        .resumables_stale
        .fetch_add(sessions.stale as u64, Ordering::Relaxed);
    counters
        .resumables_newer
        .fetch_add(sessions.newer as u64, Ordering::Relaxed);
    counters
        .resumables_without_keys
        .fetch_add(sessions.without_keys as u64, Ordering::Relaxed);
    counters
        .resumables_corrupt
        .fetch_add(sessions.corrupt as u64, Ordering::Relaxed);
    let mut offered = 0;
    for record in sessions.usable {
        let Some(resume) = record.resume else { continue };
        let keys = match SessionKeys::open(cluster_key, record.session_id, &resume.sealed_keys) {
            Ok(keys) => keys,
            Err(error) => {
                counters.resumables_bad_keys.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(worker, zone_id, session_id = record.session_id, %error, "session record not resumable");
                continue;
            }
        };
        let session = ResumableSession {
            resumable: Resumable {
                session_id: record.session_id,
                zone_id,
                character_id: record.character_id,
                keys,
                client_address: resume.hints.client_address,
                received_hint: resume.hints.received_sequence,
                sent_hint: resume.hints.sent_sequence,
            },
            position_m: resume.hints.position_m,
            entity: resume.hints.entity,
            deadline_us: now_us + RESUME_DEADLINE_US,
        };
        match host.install_resumable(now_us, session) {
            Ok(()) => {
                directory.set_resumable(record.session_id, worker);
                offered += 1;
            }
            Err(error) => {
                counters.resumables_refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(worker, zone_id, session_id = record.session_id, %error, "resume offer refused");
            }
        }
    }
    counters.resumables_offered.fetch_add(offered, Ordering::Relaxed);
    tracing::info!(
        worker,
        zone_id,
        offered,
        stale = sessions.stale,
        newer = sessions.newer,
        "sessions of the zone offered for resume"
    );
}

/// Restores a just-started zone from the bridge's answer, counting and logging the outcome.
fn restore_zone(host: &mut SessionHost, link: &HotLink, worker: usize, load: &ZoneLoad) {
    let zone_id = load.zone_id;
    let mut outcome = load.outcome;
    if let Some(state) = &load.state
        && !host.restore_zone_state(zone_id, state)
    {
        outcome = RestoreOutcome::Missing;
    }
    link.counters.restores(outcome).fetch_add(1, Ordering::Relaxed);
    match (outcome, &load.state) {
        (RestoreOutcome::Restored, Some(state)) => tracing::info!(
            worker,
            zone_id,
            npcs = state.npcs.len(),
            loot = state.loot.len(),
            "zone state restored from redis"
        ),
        _ => tracing::warn!(
            worker,
            zone_id,
            outcome = outcome.label(),
            "zone state not restored; the zone starts from its initial state"
        ),
    }
}

fn random_nonce_prefix() -> anyhow::Result<[u8; 16]> {
    use std::io::Read;
    let mut prefix = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut prefix))
        .map_err(|error| anyhow::anyhow!("reading /dev/urandom: {error}"))?;
    Ok(prefix)
}

/// Nanoseconds of a monotonic clock, for the host's tick timing.
fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Microseconds since the Unix epoch, advanced by the monotonic clock (tokens expire in wall-clock
/// time; the tick schedule must never jump).
#[derive(Clone, Copy)]
pub struct WorkerClock {
    epoch_us_at_start: u64,
    start: Instant,
}

impl WorkerClock {
    pub fn new() -> Self {
        let epoch_us_at_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Self {
            epoch_us_at_start,
            start: Instant::now(),
        }
    }

    pub fn now_us(&self) -> u64 {
        self.epoch_us_at_start + self.start.elapsed().as_micros() as u64
    }
}

impl Default for WorkerClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ZoneWorker {
    /// Builds worker `index` on its own thread (the I/O backend is not `Send`). It starts with the
    /// zones of `settings.plan` it owns; the node sends it others (and takes them away) through
    /// `links.commands`.
    pub fn new(index: usize, socket: UdpSocket, settings: &WorkerSettings, links: WorkerLinks) -> anyhow::Result<Self> {
        let WorkerLinks {
            clock,
            inbox,
            peers,
            gauges,
            directory,
            commands,
            session_events,
            edge_sessions,
            persistence,
            hot,
            ws,
            arbiter,
            cross_node: cross_slot,
        } = links;
        let io = dgram_io::open(settings.backend, socket, &settings.io)?;
        let now_us = clock.now_us();
        let zone_ids: Vec<u32> = settings
            .plan
            .zone_ids
            .iter()
            .copied()
            .filter(|&zone| settings.plan.owner(zone) == Some(index))
            .collect();
        let host = SessionHost::new(
            HostConfig {
                server: settings.server.clone(),
                zone: settings.zone_config.clone(),
                zone_ids: zone_ids.clone(),
                rtt_source: Default::default(),
                work_clock: Some(WorkClock {
                    cpu_ns: thread_cpu_ns,
                    wall_ns: monotonic_ns,
                }),
                // A returning character appears where its last checkpoint left it.
                spawn: persistence.as_ref().map(|link| {
                    let positions = Arc::clone(&link.spawn_positions);
                    let rule: meridian_host::SpawnRule = Arc::new(move |character_id| positions.get(character_id));
                    rule
                }),
            },
            now_us,
        )?;
        let mut host = host;
        if let Some(world) = &settings.world {
            host.set_world_layout(world.clone())?;
            // With the cluster tick origin, a player crossing into another worker's zone goes
            // there by ticket; without it the crossing waits (counted `elsewhere`).
            if settings.zone_config.tick_epoch_us.is_some() {
                host.set_remote_handoffs(meridian_host::HANDOFF_DEADLINE_TICKS_DEFAULT)?;
            }
            host.set_ghost_margin(
                settings
                    .zone_config
                    .aoi_cell_m
                    .min(crate::handoff::GHOST_MARGIN_M_DEFAULT),
            );
        }
        if let Some(link) = &persistence {
            for &zone_id in &zone_ids {
                link.send(BridgeRequest::ZoneStarted {
                    zone_id,
                    fencing_token: None,
                });
            }
        }
        let next_checkpoint_us = now_us + persistence.as_ref().map_or(0, |link| link.checkpoint_push_interval_us);
        let next_zone_state_us = now_us + hot.as_ref().map_or(0, |link| link.zone_state_interval_us);
        let mut host = host;
        if let Some(link) = &hot {
            host.set_global_chat(true);
            // The zones this worker starts with restore before the worker runs (no player is
            // connected yet); standalone zones have no fencing token and save under 0.
            for &zone_id in &zone_ids {
                link.send(HotRequest::LoadZone {
                    worker: index,
                    zone_id,
                    fencing_token: 0,
                });
            }
            let deadline = Instant::now() + STARTUP_LOAD_WAIT;
            let mut waiting = zone_ids.len();
            while waiting > 0 {
                let Ok(load) = link
                    .zone_loads
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                else {
                    break;
                };
                waiting -= 1;
                restore_zone(&mut host, link, index, &load);
                if let Some(sessions) = load.sessions {
                    install_resumables(
                        &mut host,
                        link,
                        &directory,
                        &settings.server.cluster_key,
                        index,
                        clock.now_us(),
                        load.zone_id,
                        sessions,
                    );
                }
            }
            for _ in 0..waiting {
                link.counters
                    .restores(RestoreOutcome::Unavailable)
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(worker = index, "zone state load unanswered at start; initial state");
            }
        }
        Ok(Self {
            index,
            io,
            host,
            cluster_key: settings.server.cluster_key,
            directory,
            commands,
            routes: HashMap::new(),
            inbox,
            peers,
            clock,
            metrics: WorkerMetrics::new(index),
            zone_metrics: zone_ids.into_iter().map(|zone| (zone, Vec::new())).collect(),
            gauges,
            published: Default::default(),
            published_host: HostCounters::default(),
            sends_queued: false,
            next_route_sweep_us: now_us + ROUTE_SWEEP_INTERVAL_US,
            session_events,
            edge_sessions,
            persistence,
            next_checkpoint_us,
            hot,
            next_zone_state_us,
            pending_serves: HashMap::new(),
            ws,
            world: crate::world_view::WorldPublisher::new(index, settings.world.clone()),
            arbiter,
            cross: None,
            cross_slot,
            raised_session_events: Default::default(),
            nonce_prefix: random_nonce_prefix()?,
            nonce_counter: 0,
        })
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut batch: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(1024);
        let mut spare: Vec<Vec<u8>> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let now_us = self.clock.now_us();
            let wait = Duration::from_micros(self.host.poll_timeout().saturating_sub(now_us)).min(WAIT_MAX);
            // Copy the batch out of the I/O buffers so handling can borrow the whole worker.
            self.io.recv_batch(wait, &mut |bytes, from| {
                let mut owned = spare.pop().unwrap_or_default();
                owned.clear();
                owned.extend_from_slice(bytes);
                batch.push((owned, from));
            })?;
            // Commands before the datagrams: a zone the node was just told to serve (and whose
            // directory entry already routes requests here) must be known, or pending its
            // restore, when its first connection request is handled.
            while let Ok(command) = self.commands.try_recv() {
                self.apply(command);
            }
            let now_us = self.clock.now_us();
            for (bytes, from) in batch.drain(..) {
                self.route(now_us, bytes.as_slice(), from);
                spare.push(bytes);
            }
            while let Ok(forwarded) = self.inbox.try_recv() {
                if let Some(handoff) = forwarded.handoff {
                    self.on_peer_handoff(self.clock.now_us(), handoff);
                    continue;
                }
                if self.held_for_restore(&forwarded.bytes) {
                    continue;
                }
                // A session that moved on from here (or is in transit) is forwarded again.
                if self.forward_moved(forwarded.received_us, &forwarded.bytes, forwarded.from) {
                    continue;
                }
                if forwarded.direct {
                    self.handle_direct(forwarded.received_us, forwarded.from, &forwarded.bytes);
                } else {
                    self.host
                        .handle_datagram(forwarded.received_us, forwarded.from, &forwarded.bytes);
                }
            }
            self.exchange_cross_node(self.clock.now_us());
            let now_us = self.clock.now_us();
            if now_us >= self.host.poll_timeout() {
                self.host.handle_timeout(now_us);
                self.record_ticks();
            }
            self.exchange_handoffs(now_us);
            self.exchange_persistence(now_us);
            self.exchange_hot(now_us);
            // A route lives FORWARD_ROUTE_IDLE_US unused; a sweep once a second is plenty.
            if now_us >= self.next_route_sweep_us {
                self.forget_idle_routes(now_us);
                self.next_route_sweep_us = now_us + ROUTE_SWEEP_INTERVAL_US;
            }
            self.forward_session_events();
            self.forward_handoff_events();
            self.transmit();
            self.publish();
            self.world.maybe_publish(self.clock.now_us(), &self.host, &self.gauges);
        }
        // A clean stop checkpoints everyone once more: the bridge flushes the queue after the
        // workers have joined, so a restarted node puts players exactly where they stopped.
        if self.persistence.is_some() {
            self.next_checkpoint_us = 0;
            self.exchange_persistence(self.clock.now_us());
        }
        Ok(())
    }

    /// Hands the zones' persistence events to the bridge, passes its answers back to the host, and
    /// every `checkpoint_push_interval` pushes every player's state into the checkpoint queue.
    /// Nothing here waits: sends are `try_send`, the queue push is a map insert.
    fn exchange_persistence(&mut self, now_us: u64) {
        let Some(link) = &self.persistence else {
            let mut unbridged = 0;
            while self.host.poll_persistence_event().is_some() {
                unbridged += 1;
            }
            if unbridged > 0 {
                metrics::counter!("meridian_persistence_events_unbridged_total").increment(unbridged);
            }
            return;
        };
        while let Some(event) = self.host.poll_persistence_event() {
            link.send(BridgeRequest::Event {
                worker: self.index,
                event,
            });
        }
        while let Ok(answer) = link.answers.try_recv() {
            self.host
                .handle_persistence_outcome(answer.zone_id, answer.key, answer.outcome);
        }
        if now_us >= self.next_checkpoint_us {
            self.next_checkpoint_us = now_us + link.checkpoint_push_interval_us;
            let now_ms = now_us / 1_000;
            let mut positions = Vec::new();
            for (zone_id, fencing_token, player) in self.host.player_states() {
                link.checkpoints
                    .push(checkpoint_state(zone_id, fencing_token, &player, now_ms));
                positions.push((player.character_id, player.position_m));
            }
            // A character that leaves and comes back during this run spawns where it last was.
            link.spawn_positions.set_many(positions);
        }
    }

    /// Global chat out (refusals told at once) and in (to every session), zone loads answered,
    /// and every `zone_state_interval` the zones' state offered to the writer. Nothing waits.
    fn exchange_hot(&mut self, now_us: u64) {
        let Some(link) = &self.hot else {
            return;
        };
        while let Some(line) = self.host.poll_global_chat() {
            let sent = match link.chat.get() {
                Some(chat) => chat.try_publish(line.character_id, &line.text),
                None => Err(meridian_hotstate::ChatRefusal::Unavailable),
            };
            if let Err(refusal) = sent {
                if let Some(counter) = link.counters.chat_refusals(refusal.label()) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                let text = format!("global chat refused: {}: {refusal}", refusal.label());
                if !self.host.refuse_global_chat(line.session_id, &text) {
                    link.counters.chat_refusals_undelivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        while let Ok(line) = link.lines.try_recv() {
            let sessions = self.host.deliver_global_chat(line.from, &line.text);
            link.counters
                .chat_delivered_sessions
                .fetch_add(sessions as u64, Ordering::Relaxed);
        }
        let loads: Vec<ZoneLoad> = link.zone_loads.try_iter().collect();
        for mut load in loads {
            // A zone stopped (or re-served under another token) meanwhile: this answer is stale.
            if self.pending_serves.get(&load.zone_id) != Some(&load.fencing_token) {
                continue;
            }
            self.pending_serves.remove(&load.zone_id);
            let sessions = load.sessions.take();
            let (zone_id, fencing_token) = (load.zone_id, load.fencing_token);
            self.start_zone(zone_id, fencing_token, Some(load));
            // Offered before the zone's first tick: a resumed player is placed by that tick.
            if let (Some(sessions), Some(link)) = (sessions, &self.hot)
                && self.host.zone_token(zone_id) == Some(fencing_token)
            {
                install_resumables(
                    &mut self.host,
                    link,
                    &self.directory,
                    &self.cluster_key,
                    self.index,
                    self.clock.now_us(),
                    zone_id,
                    sessions,
                );
            }
        }
        let Some(link) = &self.hot else {
            return;
        };
        if now_us >= self.next_zone_state_us {
            self.next_zone_state_us = now_us + link.zone_state_interval_us;
            let now_ms = now_us / 1_000;
            for (zone_id, fencing_token, state) in self.host.zone_states() {
                link.writer
                    .offer(snapshot_of(zone_id, fencing_token.unwrap_or(0), &state, now_ms));
            }
            // The sessions' resume hints go with the zone state: what a resume loses is one
            // interval at most, for both.
            let updates: Vec<SessionHintsUpdate> = self
                .host
                .session_ids()
                .filter_map(|session_id| self.host.session_resume_hints(session_id))
                .map(|hints| SessionHintsUpdate {
                    session_id: hints.session_id,
                    zone_id: hints.zone_id,
                    fencing_token: hints.fencing_token.unwrap_or(0),
                    hints: ResumeHints {
                        client_address: Some(hints.hints.address),
                        received_sequence: hints.hints.received_newest,
                        sent_sequence: hints.hints.next_sent,
                        position_m: hints.position_m,
                        entity: hints.entity,
                    },
                })
                .collect();
            if !updates.is_empty() {
                link.send(HotRequest::SessionHints(updates));
            }
        }
    }

    /// A handoff committed `session_id` into one of this worker's zones: its route (zone, worker,
    /// token) and its session record (keys, hints, under that zone's token) are rewritten as for a
    /// session opened here, so the record's hints keep refreshing and a takeover of the zone finds it.
    pub(crate) fn raise_session_moved_here(&mut self, session_id: u64) {
        let Some(hints) = self.host.session_resume_hints(session_id) else {
            return;
        };
        if self.raised_session_events.len() >= RAISED_SESSION_EVENTS_MAX {
            metrics::counter!("meridian_worker_raised_session_events_dropped_total").increment(1);
            return;
        }
        self.raised_session_events.push_back(SessionEvent::Opened {
            session_id,
            zone_id: hints.zone_id,
            address: hints.hints.address,
        });
    }

    /// Keeps the edge's session map in step with the host (a session is let through from its
    /// handshake until it closes) and hands the opens and closes to the agent (or forgets them in
    /// standalone mode).
    fn forward_session_events(&mut self) {
        while let Some((event, raised)) = self
            .host
            .poll_session_event()
            .map(|event| (event, false))
            .or_else(|| self.raised_session_events.pop_front().map(|event| (event, true)))
        {
            // A handed-off session's character was made at its login.
            if let (
                Some(link),
                SessionEvent::Opened {
                    session_id, zone_id, ..
                },
                false,
            ) = (&self.persistence, event, raised)
                && let Some(character_id) = self.host.character_of(session_id)
            {
                link.send(BridgeRequest::EnsureCharacter { character_id, zone_id });
            }
            if let SessionEvent::Resumed { session_id, .. } | SessionEvent::HandshakeAbandoned { session_id } = event {
                self.directory.forget_resumable(session_id);
            }
            if let Some(link) = &self.hot {
                match event {
                    SessionEvent::Opened {
                        session_id, zone_id, ..
                    }
                    | SessionEvent::Resumed {
                        session_id, zone_id, ..
                    } => {
                        self.nonce_counter += 1;
                        let mut nonce = [0u8; 24];
                        nonce[..16].copy_from_slice(&self.nonce_prefix);
                        nonce[16..].copy_from_slice(&self.nonce_counter.to_le_bytes());
                        let resume = self
                            .host
                            .seal_session_keys(session_id, nonce)
                            .zip(self.host.session_resume_hints(session_id))
                            .map(|(sealed, hints)| SessionResume {
                                sealed_keys: sealed.to_vec(),
                                hints: ResumeHints {
                                    client_address: Some(hints.hints.address),
                                    received_sequence: hints.hints.received_newest,
                                    sent_sequence: hints.hints.next_sent,
                                    position_m: hints.position_m,
                                    entity: hints.entity,
                                },
                            });
                        if let SessionEvent::Resumed { .. } = event {
                            link.counters.sessions_resumed.fetch_add(1, Ordering::Relaxed);
                        }
                        let record = meridian_hotstate::SessionRecord {
                            character_id: self.host.character_of(session_id).unwrap_or(session_id),
                            // The connect token carries no account id: the login service's record
                            // has it; 0 here means "see the login".
                            account_id: 0,
                            node_id: link.node_id.clone(),
                            zone_id,
                            session_id,
                            fencing_token: self.host.zone_token(zone_id).unwrap_or(0),
                            resume,
                        };
                        link.send(HotRequest::SessionOpened { session_id, record });
                    }
                    SessionEvent::Closed { session_id, zone_id } => link.send(HotRequest::SessionClosed {
                        session_id,
                        zone_id,
                        fencing_token: self.host.zone_token(zone_id).unwrap_or(0),
                    }),
                    _ => {}
                }
            }
            // Behind the shared address every other node's edge learns who owns the session.
            match event {
                SessionEvent::Opened { session_id, .. } | SessionEvent::Resumed { session_id, .. } => {
                    self.announce_edge_owner(session_id)
                }
                SessionEvent::Closed { session_id, .. } => self.announce_edge_gone(session_id),
                SessionEvent::Handshaking { .. } | SessionEvent::HandshakeAbandoned { .. } => {}
            }
            if let Some(edge) = &mut self.edge_sessions {
                let outcome = match event {
                    SessionEvent::Handshaking {
                        session_id,
                        zone_id,
                        edge_key,
                        ..
                    } => edge.insert(
                        session_id,
                        SessionEntry {
                            edge_key,
                            worker: self.index as u32,
                            zone: zone_id,
                            route_revision: self.host.zone_token(zone_id).unwrap_or(0),
                            sequence_seen: 0,
                            seen_mask: 0,
                        },
                    ),
                    SessionEvent::Closed { session_id, .. } | SessionEvent::HandshakeAbandoned { session_id } => {
                        edge.remove(session_id).map(|_| ())
                    }
                    // Resumed sessions were let through from their resume offer (`Handshaking`).
                    SessionEvent::Opened { .. } | SessionEvent::Resumed { .. } => Ok(()),
                };
                if let Err(error) = outcome {
                    self.metrics.edge_map_errors.increment(1);
                    tracing::debug!(%error, "edge session map update failed");
                }
            }
            let Some(sender) = &self.session_events else {
                continue;
            };
            let event = WorkerSessionEvent {
                worker: self.index,
                event,
            };
            if sender.try_send(event).is_err() {
                self.metrics.session_events_dropped.increment(1);
            }
        }
    }

    /// Hands each decided handoff to the persistence bridge for the event log (or forgets it when
    /// the node logs no events: the host's queue must still be drained).
    fn forward_handoff_events(&mut self) {
        while let Some(event) = self.host.poll_handoff_event() {
            // Between two zones of this host the player is here now (across hosts the new side
            // raises it when its commit is confirmed).
            if !event.across && event.outcome == meridian_host::HandoffOutcome::Committed {
                self.raise_session_moved_here(event.session_id);
            }
            if let Some(link) = &self.persistence {
                let fencing_token = self.host.zone_token(event.from_zone);
                link.send(BridgeRequest::Handoff { event, fencing_token });
            }
        }
    }

    /// Starts or stops a zone as the node agent says.
    fn apply(&mut self, command: ZoneCommand) {
        match command {
            ZoneCommand::Serve { zone_id, fencing_token } => {
                let served = self.host.zone_layers(zone_id).is_some();
                match &self.hot {
                    // A new zone waits for its saved state (answered within the link's timeout):
                    // it restores before it ticks for anyone.
                    Some(link) if !served => {
                        self.pending_serves.insert(zone_id, fencing_token);
                        link.send(HotRequest::LoadZone {
                            worker: self.index,
                            zone_id,
                            fencing_token,
                        });
                    }
                    _ => self.start_zone(zone_id, fencing_token, None),
                }
            }
            ZoneCommand::SpawnNpc {
                zone_id,
                home_m,
                loot_item_id,
            } => {
                let npc = self.host.spawn_npc(zone_id, 0, home_m, loot_item_id);
                tracing::debug!(worker = self.index, zone_id, ?npc, "spawned NPC");
            }
            ZoneCommand::SpawnLoot {
                zone_id,
                position_m,
                item_id,
                quantity,
            } => {
                let loot = self.host.spawn_loot(zone_id, 0, position_m, item_id, quantity);
                tracing::debug!(worker = self.index, zone_id, ?loot, "spawned loot");
            }
            ZoneCommand::Stop { zone_id, reason } => {
                self.pending_serves.remove(&zone_id);
                let ended = self.host.stop_zone(zone_id, reason);
                if let Ok(mut zone_players) = self.gauges.zone_players.lock() {
                    zone_players.remove(&zone_id);
                }
                self.zone_metrics.retain(|(zone, _)| *zone != zone_id);
                tracing::info!(
                    worker = self.index,
                    zone_id,
                    sessions_ended = ended,
                    ?reason,
                    "stopped zone"
                );
            }
        }
        self.gauges
            .zones
            .store(self.zone_metrics.len() as u64, Ordering::Relaxed);
    }

    /// Starts (or re-tokens) a zone on the host, restoring its saved state when `load` has one.
    fn start_zone(&mut self, zone_id: u32, fencing_token: u64, load: Option<ZoneLoad>) {
        match self.host.serve_zone(zone_id, fencing_token, self.clock.now_us()) {
            Ok(()) => {
                if let (Some(link), Some(load)) = (&self.hot, &load) {
                    restore_zone(&mut self.host, link, self.index, load);
                }
                if let Some(link) = &self.persistence {
                    link.send(BridgeRequest::ZoneStarted {
                        zone_id,
                        fencing_token: Some(fencing_token),
                    });
                }
                if !self.zone_metrics.iter().any(|(zone, _)| *zone == zone_id) {
                    self.zone_metrics.push((zone_id, Vec::new()));
                }
                tracing::info!(worker = self.index, zone_id, fencing_token, "serving zone");
            }
            Err(error) => tracing::error!(worker = self.index, zone_id, %error, "cannot serve zone"),
        }
        self.gauges
            .zones
            .store(self.zone_metrics.len() as u64, Ordering::Relaxed);
    }

    /// Sends a datagram to its owner, or handles it here.
    fn route(&mut self, now_us: u64, bytes: &[u8], from: SocketAddr) {
        if bytes.len() == crate::probe::PROBE_BYTES {
            // Liveness probes are answered by whichever worker receives them.
            let mut reply = [0u8; crate::probe::PROBE_BYTES];
            if let Ok(n) = crate::probe::answer(bytes, self.index as u16, &mut reply) {
                self.queue_send(&reply[..n], from);
                return;
            }
        }
        match self.owner_of(now_us, bytes) {
            Some(owner) if owner != self.index => {
                let forwarded = Forwarded {
                    bytes: bytes.to_vec(),
                    from,
                    received_us: now_us,
                    handoff: None,
                    direct: true,
                };
                match self.peers[owner].try_send(forwarded) {
                    // Counted: with the edge's steering on, forwarding is only the fallback (requests
                    // and sessions the edge could not steer).
                    Ok(()) => self.metrics.forwarded.increment(1),
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        self.metrics.drop_counter(DropReason::ForwardQueueFull).increment(1);
                    }
                }
            }
            _ if self.held_for_restore(bytes) => {}
            _ if self.forward_moved(now_us, bytes, from) => {}
            _ => self.handle_direct(now_us, from, bytes),
        }
    }

    /// A connection request for a zone that waits for its saved state is ignored (and counted),
    /// not refused: the client re-sends its request every 100 ms and is admitted once the zone has
    /// restored (within the Redis link's one-second timeout), instead of being told `UnknownZone`.
    fn held_for_restore(&self, bytes: &[u8]) -> bool {
        if self.pending_serves.is_empty() || read_packet_type(bytes).ok() != Some(PacketType::ConnectionRequest) {
            return false;
        }
        let Ok(request) = read_connection_request(bytes) else {
            return false;
        };
        let Ok(token) = ConnectToken::open(
            &self.cluster_key,
            request.expires_at_s,
            request.nonce,
            request.sealed_private,
        ) else {
            return false;
        };
        let held = self.pending_serves.contains_key(&token.zone_id);
        if held {
            metrics::counter!("meridian_connection_requests_held_total").increment(1);
        }
        held
    }

    /// Which worker owns the session this datagram belongs to, if known.
    fn owner_of(&mut self, now_us: u64, bytes: &[u8]) -> Option<usize> {
        match read_packet_type(bytes).ok()? {
            PacketType::ConnectionRequest => {
                let request = read_connection_request(bytes).ok()?;
                let token = ConnectToken::open(
                    &self.cluster_key,
                    request.expires_at_s,
                    request.nonce,
                    request.sealed_private,
                )
                .ok()?;
                let owner = self.directory.owner(token.zone_id)?;
                if owner != self.index {
                    if self.routes.len() >= FORWARD_ROUTES_MAX {
                        self.forget_idle_routes(now_us);
                    }
                    if self.routes.len() < FORWARD_ROUTES_MAX {
                        self.routes.insert(token.session_id, (owner, now_us));
                    }
                }
                Some(owner)
            }
            _ => {
                let header = read_sealed_header(bytes).ok()?;
                if let Some(route) = self.routes.get_mut(&header.session_id) {
                    route.1 = now_us;
                    return Some(route.0);
                }
                // A session offered for resume on another worker: its first packet has no route.
                let owner = self.directory.resumable_owner(header.session_id)?;
                if owner != self.index && self.routes.len() < FORWARD_ROUTES_MAX {
                    self.routes.insert(header.session_id, (owner, now_us));
                }
                Some(owner)
            }
        }
    }

    fn forget_idle_routes(&mut self, now_us: u64) {
        self.routes
            .retain(|_, (_, last_us)| now_us.saturating_sub(*last_us) < FORWARD_ROUTE_IDLE_US);
    }

    /// A datagram of a session frozen here in a ticket goes after the ticket to the new zone's
    /// worker. True: forwarded (or dropped, counted, on a full queue).
    fn forward_moved(&mut self, now_us: u64, bytes: &[u8], from: SocketAddr) -> bool {
        let in_transit_to = self.host.handoff_forward(bytes, from);
        let owner = match in_transit_to {
            Some(zone_id) => self.directory.owner(zone_id),
            None => {
                // Moved on by a committed handoff: the route the commit left here, kept alive by
                // use (as `owner_of` does): a client whose packets keep arriving here (the kernel's
                // hash, or a WebSocket connection's first worker) must not lose its session when the
                // route would otherwise be swept FORWARD_ROUTE_IDLE_US after the commit.
                let Ok(header) = read_sealed_header(bytes) else {
                    return false;
                };
                self.routes.get_mut(&header.session_id).map(|route| {
                    route.1 = now_us;
                    route.0
                })
            }
        };
        if owner.is_none()
            && self.cross.is_some()
            && let Ok(header) = read_sealed_header(bytes)
            && self.forward_across(now_us, header.session_id, in_transit_to, bytes, from)
        {
            return true;
        }
        let Some(owner) = owner.filter(|owner| *owner != self.index) else {
            return false;
        };
        self.send_peer(
            owner,
            Forwarded {
                bytes: bytes.to_vec(),
                from,
                received_us: now_us,
                handoff: None,
                direct: false,
            },
        );
        true
    }

    fn send_peer(&mut self, worker: usize, forwarded: Forwarded) -> bool {
        match self.peers[worker].try_send(forwarded) {
            Ok(()) => {
                self.metrics.forwarded.increment(1);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.drop_counter(DropReason::ForwardQueueFull).increment(1);
                false
            }
        }
    }

    /// Carries the host's handoff messages: tickets to the new zone's worker; expired tickets are
    /// aborted when the arbiter agrees (else the commit is on its way).
    fn exchange_handoffs(&mut self, now_us: u64) {
        // Border entities for neighbouring zones on other workers: one batch per pair per tick.
        while let Some(batch) = self.host.poll_ghost_batch() {
            let Some(owner) = self.directory.owner(batch.to_zone_id) else {
                self.ghosts_across(batch);
                continue;
            };
            self.send_peer(
                owner,
                Forwarded {
                    bytes: Vec::new(),
                    from: SocketAddr::from(([0, 0, 0, 0], 0)),
                    received_us: now_us,
                    handoff: Some(PeerHandoff::Ghosts(batch)),
                    direct: false,
                },
            );
        }
        while let Some(message) = self.host.poll_handoff_message() {
            match message {
                HandoffMessage::Ticket {
                    ticket_id,
                    session_id,
                    to_zone_id,
                    bytes,
                    from_zone_id,
                } => {
                    // No owner or a full queue: the ticket expires and is aborted.
                    let Some(owner) = self.directory.owner(to_zone_id) else {
                        self.ticket_across(session_id, ticket_id, from_zone_id, to_zone_id, bytes);
                        continue;
                    };
                    self.send_peer(
                        owner,
                        Forwarded {
                            bytes: Vec::new(),
                            from: SocketAddr::from(([0, 0, 0, 0], 0)),
                            received_us: now_us,
                            handoff: Some(PeerHandoff::Ticket {
                                from_worker: self.index,
                                session_id,
                                ticket_id,
                                bytes,
                            }),
                            direct: false,
                        },
                    );
                }
                HandoffMessage::Accepted {
                    ticket_id,
                    session_id,
                    from_zone_id,
                    ..
                } => self.commit_accepted(now_us, session_id, ticket_id, from_zone_id),
                HandoffMessage::Expired {
                    ticket_id, session_id, ..
                } => {
                    if self.expired_across(now_us, session_id, ticket_id) {
                        continue;
                    }
                    if self.arbiter.abort(session_id, ticket_id) {
                        self.host.abort_handoff(now_us, session_id, ticket_id);
                        self.arbiter.settled(session_id, ticket_id);
                        self.routes.remove(&session_id);
                    }
                }
            }
        }
    }

    fn on_peer_handoff(&mut self, now_us: u64, handoff: PeerHandoff) {
        match handoff {
            PeerHandoff::Ghosts(batch) => self.host.accept_ghosts(batch),
            PeerHandoff::Ticket {
                from_worker,
                session_id,
                bytes,
                ..
            } => {
                if let Err(refusal) = self.host.accept_ticket(now_us, &bytes) {
                    tracing::debug!(worker = self.index, session_id, from_worker, %refusal, "handoff ticket refused");
                }
                // Taken in now or after this worker's next tick: `commit_accepted` decides.
                self.exchange_handoffs(now_us);
            }
            PeerHandoff::Committed {
                to_worker,
                session_id,
                ticket_id,
            } => {
                self.host.commit_handoff(session_id, ticket_id);
                self.arbiter.settled(session_id, ticket_id);
                // Datagrams still reaching this worker (other workers' forward routes, packets
                // before the edge flipped) go on to the new owner.
                if self.routes.len() < FORWARD_ROUTES_MAX {
                    self.routes.insert(session_id, (to_worker, now_us));
                }
            }
        }
    }

    /// The host took a ticket in: commit it with the arbiter (then tell the old worker) or, if the
    /// old worker aborted first, cancel the admission before any tick runs.
    fn commit_accepted(&mut self, now_us: u64, session_id: u64, ticket_id: u64, from_zone_id: u32) {
        if self.accepted_across(now_us, session_id, ticket_id) {
            return;
        }
        let Some(from_worker) = self.directory.owner(from_zone_id) else {
            self.host.cancel_handoff(session_id, ticket_id);
            return;
        };
        if !self.arbiter.commit(session_id, ticket_id) {
            // The old worker aborted first: it serves the player again.
            self.host.cancel_handoff(session_id, ticket_id);
            return;
        }
        self.host.confirm_handoff(session_id, ticket_id);
        self.raise_session_moved_here(session_id);
        // The session's datagrams belong here now: no forward route, and the edge steers
        // them to this worker's socket.
        self.routes.remove(&session_id);
        if let Some(edge) = &mut self.edge_sessions {
            let zone = self.host.client_of(session_id).map_or(0, |(zone, _)| zone);
            let revision = self.host.zone_token(zone).unwrap_or(0);
            if edge.reroute(session_id, self.index as u32, zone, revision).is_err() {
                self.metrics.edge_map_errors.increment(1);
            }
        }
        self.send_peer(
            from_worker,
            Forwarded {
                bytes: Vec::new(),
                from: SocketAddr::from(([0, 0, 0, 0], 0)),
                received_us: now_us,
                handoff: Some(PeerHandoff::Committed {
                    to_worker: self.index,
                    session_id,
                    ticket_id,
                }),
                direct: false,
            },
        );
    }

    /// Records the ticks the host ran: lateness, duration, and each zone layer's numbers.
    fn record_ticks(&mut self) {
        while let Some(report) = self.host.poll_tick_report() {
            self.metrics.tick_lateness.record(report.due.lateness_us as f64 / 1e6);
            if report.due.late {
                self.metrics.late_ticks.increment(1);
                self.gauges.late_ticks.fetch_add(1, Ordering::Relaxed);
            }
            self.gauges.ticks.fetch_add(1, Ordering::Relaxed);
            self.gauges
                .last_tick_work_us
                .store(report.work_wall_us, Ordering::Relaxed);
            self.gauges
                .tick_work_max_us
                .fetch_max(report.work_wall_us, Ordering::Relaxed);
            self.world.record_tick(report.zone_id, report.work_wall_us);
            let Some(layers) = self.host.zone_layers(report.zone_id) else {
                continue;
            };
            let Some((_, metrics)) = self.zone_metrics.iter_mut().find(|(zone, _)| *zone == report.zone_id) else {
                continue;
            };
            while metrics.len() < layers.layers().len() {
                metrics.push(ZoneMetrics::new(report.zone_id, metrics.len() as u32));
            }
            for (layer, metrics) in layers.layers().iter().zip(metrics.iter_mut()) {
                metrics.tick_duration.record(report.work_wall_us as f64 / 1e6);
                metrics.players.set(layer.player_count() as f64);
                metrics.publish(layer.counters());
            }
            let players: usize = layers.layers().iter().map(|layer| layer.player_count()).sum();
            if let Ok(mut zone_players) = self.gauges.zone_players.lock() {
                zone_players.insert(report.zone_id, players as u32);
            }
        }
    }

    fn queue_send(&mut self, bytes: &[u8], to: SocketAddr) {
        // A WebSocket session's packet goes to its connection's bounded queue (a full one drops
        // and counts it as `slow_client`), never to the UDP socket.
        if crate::ws::is_synthetic(to) {
            self.ws.send(to, bytes);
            return;
        }
        // A refused send is counted by the I/O backend (`sends_dropped_queue_full`) and published.
        self.io.queue_send(bytes, to);
        self.sends_queued = true;
    }

    /// Queues every datagram the endpoint has due and flushes them in one batch.
    fn transmit(&mut self) {
        let now_us = self.clock.now_us();
        while let Some(transmit) = self.host.poll_transmit(now_us) {
            if self.cross.is_some() && self.relay_reply(now_us, &transmit.bytes, transmit.destination) {
                continue;
            }
            self.queue_send(&transmit.bytes, transmit.destination);
        }
        if self.sends_queued {
            self.sends_queued = false;
            if self.io.flush().is_err() {
                self.metrics.drop_counter(DropReason::SendError).increment(1);
            }
        }
    }

    /// Publishes the I/O counters' growth since the last call.
    fn publish(&mut self) {
        let stats = self.io.stats().clone();
        let p = &self.published;
        self.metrics
            .packets_in
            .increment(stats.datagrams_received - p.datagrams_received);
        self.metrics
            .packets_out
            .increment(stats.datagrams_sent - p.datagrams_sent);
        self.metrics.bytes_in.increment(stats.bytes_received - p.bytes_received);
        self.metrics.bytes_out.increment(stats.bytes_sent - p.bytes_sent);
        self.metrics
            .drop_counter(DropReason::Truncated)
            .increment(stats.recv_truncated - p.recv_truncated);
        self.metrics
            .drop_counter(DropReason::SendError)
            .increment(stats.send_errors - p.send_errors);
        self.metrics
            .drop_counter(DropReason::SendQueueFull)
            .increment(stats.sends_dropped_queue_full - p.sends_dropped_queue_full);
        self.metrics.publish_session_drops(self.host.drops());
        let (host, before) = (self.host.counters(), self.published_host);
        self.metrics
            .inputs_passed
            .increment(host.input_ticks - before.input_ticks);
        self.metrics
            .inputs_redundant
            .increment(host.input_redundant - before.input_redundant);
        for (outcome, now, then) in [
            ("done", host.handoffs, before.handoffs),
            ("aborted", host.handoffs_aborted, before.handoffs_aborted),
            ("deferred", host.handoffs_deferred, before.handoffs_deferred),
            ("resync", host.handoff_resyncs, before.handoff_resyncs),
            ("elsewhere", host.handoffs_elsewhere, before.handoffs_elsewhere),
            ("across_committed", host.handoffs_across, before.handoffs_across),
            (
                "across_aborted",
                host.handoffs_across_aborted,
                before.handoffs_across_aborted,
            ),
            ("across_expired", host.handoffs_expired, before.handoffs_expired),
            ("ticket_taken", host.handoff_tickets_in, before.handoff_tickets_in),
            (
                "ticket_refused",
                host.handoff_tickets_refused,
                before.handoff_tickets_refused,
            ),
            ("ticket_cancelled", host.handoffs_cancelled, before.handoffs_cancelled),
        ] {
            if now > then {
                metrics::counter!(crate::metrics::HANDOFFS, "worker" => self.index.to_string(), "outcome" => outcome)
                    .increment(now - then);
            }
        }
        for (what, now, then) in [
            (
                "replayed_after_abort",
                host.handoff_datagrams_replayed,
                before.handoff_datagrams_replayed,
            ),
            (
                "not_kept",
                host.handoff_datagrams_not_kept,
                before.handoff_datagrams_not_kept,
            ),
        ] {
            if now > then {
                metrics::counter!("meridian_handoff_datagrams_total", "what" => what).increment(now - then);
            }
        }
        for (bucket, label) in ["1", "2", "3", "4+"].into_iter().enumerate() {
            let added = host.handoff_pause_ticks[bucket] - before.handoff_pause_ticks[bucket];
            if added > 0 {
                metrics::counter!(crate::metrics::HANDOFF_PAUSE_TICKS, "ticks" => label).increment(added);
            }
        }
        let snapshots = host.snapshots_sent - before.snapshots_sent;
        if snapshots > 0 {
            // The mean snapshot size since the last look (one sample per loop, not per snapshot).
            let bytes = host.snapshot_bytes - before.snapshot_bytes;
            self.metrics.snapshot_bytes.record(bytes as f64 / snapshots as f64);
        }
        self.gauges
            .handoffs_across
            .store(host.handoffs_across, Ordering::Relaxed);
        self.gauges
            .handoffs_across_aborted
            .store(host.handoffs_across_aborted, Ordering::Relaxed);
        self.published_host = host;
        // The resumable table (sessions offered after a failover), per worker.
        let endpoint = self.host.endpoint().stats();
        let worker = self.index.to_string();
        metrics::gauge!("meridian_session_resumables", "worker" => worker.clone()).set(endpoint.resumables as f64);
        for (outcome, value) in [
            ("resumed", endpoint.sessions_resumed),
            ("bad_seal", endpoint.resumes_bad_seal),
            ("expired", endpoint.resumables_expired),
            ("refused", endpoint.resumables_refused),
        ] {
            metrics::counter!("meridian_session_resume_outcomes_total", "worker" => worker.clone(), "outcome" => outcome)
                .absolute(value);
        }
        let sessions = self.host.session_count();
        self.metrics.sessions.set(sessions as f64);
        self.gauges.sessions.store(sessions as u64, Ordering::Relaxed);
        self.published = stats;
    }
}
