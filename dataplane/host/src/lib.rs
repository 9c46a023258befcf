//! `meridian-host` is the session host: the one server-side path between datagrams and zones. It
//! owns the protocol endpoint (handshakes, AEAD, acks, reliable channel), the session table (which
//! session is which client of which zone), input expansion (redundant input ticks → one zone input
//! per new tick), the zones' layers, and output delivery (snapshots on the unreliable channel,
//! events on the reliable one). It is sans-IO like `meridian-proto` and `meridian-zone`, in the
//! shape of quinn-proto's `Endpoint`: the caller feeds datagrams ([`SessionHost::handle_datagram`])
//! and the time ([`SessionHost::handle_timeout`] when [`SessionHost::poll_timeout`] says), and sends
//! what [`SessionHost::poll_transmit`] hands back. It never reads a clock or touches a socket.
//!
//! The node's worker wraps one host per thread with io_uring or recvmmsg I/O and a real clock; the
//! deterministic harness (`meridian-sim`) wraps one with a simulated network and simulated time and
//! drives SDK clients against it. Both therefore test and run the same code.
//!
//! Per session the host also measures what the zone needs to judge it: the round-trip time the
//! connection measures with its pings is fed to the zone (`ZoneInput::Rtt`) so lag compensation
//! rewinds by the session's real latency.
#![forbid(unsafe_code)]

pub mod across;
pub mod drops;
pub mod ghosts;
pub mod handoff_events;
pub mod inputs;
pub mod session_events;
pub mod tick;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use meridian_proto::connection::Received;
use meridian_proto::endpoint::{
    HandshakeEvent, RESUMABLE_SESSIONS_MAX, Resumable, ResumableRefusal, SEALED_RESUME_KEYS_BYTES, ServerConfig,
    ServerEndpoint, ServerEvent, SessionHints, Transmit,
};
use meridian_proto::messages::{ChatChannel, ClientMessage, ServerMessage};
use meridian_proto::packet::DisconnectReason;
pub use meridian_proto::packet::PACKET_ERROR_LABELS;
use meridian_proto::token::TOKEN_NONCE_BYTES;
use meridian_zone::{
    AdmitRefusal, ClientId, ConfigError, FreezeRefusal, IdempotencyKey, PersistenceEvent, PersistenceOutcome,
    RouteError, WorldLayout, Zone, ZoneConfig, ZoneInput, ZoneLayers, ZoneOutput,
};
use thiserror::Error;

pub use across::{HANDOFF_DEADLINE_TICKS_DEFAULT, HANDOFF_MESSAGES_MAX, HandoffMessage, TicketRefusal};
pub use drops::{DropCounts, HostDrop};
pub use ghosts::{GHOST_BATCHES_MAX, GhostBatch};
pub use handoff_events::{HANDOFF_EVENTS_MAX, HandoffEvent, HandoffOutcome};
/// Buckets of [`HostCounters::handoff_pause_ticks`]: 1, 2, 3, 4 or more ticks.
pub const HANDOFF_PAUSE_BUCKETS: usize = 4;
pub use inputs::{Expansion, PENDING_ACTIONS_MAX};
pub use meridian_proto::endpoint::{RESUME_DEADLINE_US, SessionKeys};
pub use session_events::{SESSION_EVENTS_MAX, SessionEvent};
pub use tick::{DueTick, TickSchedule};

/// Zones one host runs at most (a worker thread owns a handful).
pub const ZONES_PER_HOST_MAX: usize = 64;
/// Ticks between two refreshes of every session's RTT in its zone (the connection's estimate moves
/// slowly: its server pings go out every quarter second).
pub const RTT_REFRESH_TICKS: u64 = 5;
/// An RTT estimate is re-sent to the zone only when it moved at least this much.
pub const RTT_REPORT_STEP_US: u64 = 1_000;
/// Tick reports kept for the caller; beyond it the oldest are dropped and counted.
pub const TICK_REPORTS_MAX: usize = 4 * ZONES_PER_HOST_MAX;
/// Persistence events kept for the caller (the node's persistence bridge); beyond it the newest are
/// dropped and counted (`HostCounters::persistence_events_dropped`). Nothing is lost for good: a
/// zone re-sends a pick-up claim until it is answered.
pub const PERSISTENCE_EVENTS_MAX: usize = 8_192;
/// Global chat lines kept for the caller (the node's chat bridge) between two polls; a worker polls
/// every loop, so this is a burst of a whole host's players at once. Beyond it lines are refused
/// (`global_chat_queue_full`).
pub const GLOBAL_CHAT_OUT_MAX: usize = 1_024;

/// A global chat line a session sent, for the caller to carry to every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalChatLine {
    pub session_id: u64,
    pub character_id: u64,
    pub text: String,
}

/// The `from_entity` a global chat line carries to clients: entity ids are per zone and mean
/// nothing on another node, so a global line names its sender by the low 32 bits of the sender's
/// character id (never 0, which marks the server's own lines such as a refusal).
pub fn global_chat_sender(character_id: u64) -> u32 {
    (character_id as u32).max(1)
}

/// The `from_entity` of lines the server itself says on the global channel (a refusal).
pub const GLOBAL_CHAT_SERVER_ENTITY: u32 = 0;

/// A zone's persistence event, tagged with where it comes from: the zone and the fencing token its
/// owner holds (`None` in standalone mode), which the database checks against the zone's fence.
#[derive(Clone, Debug, PartialEq)]
pub struct HostPersistenceEvent {
    pub zone_id: u32,
    pub fencing_token: Option<u64>,
    pub event: PersistenceEvent,
}

/// Measures the host's own work. A zone's load shedding is fed the CPU time its tick took; the host
/// does not read clocks itself, so the caller passes functions (the node: the thread's CPU clock and
/// a monotonic clock; the harness: none, which leaves shedding to the zone's defaults).
#[derive(Clone, Copy, Debug)]
pub struct WorkClock {
    pub cpu_ns: fn() -> u64,
    pub wall_ns: fn() -> u64,
}

/// Where the RTT fed to the zone comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RttSource {
    /// The connection's measured, smoothed RTT (production).
    #[default]
    Measured,
    /// A fixed value for every session: for experiments and for the test that shows lag
    /// compensation needs the measured one.
    Fixed { rtt_us: u64 },
}

/// Where a joining character appears (`None`: the zone's spawn rule). Persistence later answers
/// with the character's last position; tests use it to stage a scene.
pub type SpawnRule = Arc<dyn Fn(u64) -> Option<[f32; 3]> + Send + Sync>;

#[derive(Clone)]
pub struct HostConfig {
    pub server: ServerConfig,
    /// Settings of every zone; its `zone_id` is replaced per hosted zone.
    pub zone: ZoneConfig,
    /// The zones this host runs.
    pub zone_ids: Vec<u32>,
    pub rtt_source: RttSource,
    pub work_clock: Option<WorkClock>,
    pub spawn: Option<SpawnRule>,
}

#[derive(Debug, Error, PartialEq)]
pub enum HostError {
    #[error("a host runs at most {ZONES_PER_HOST_MAX} zones, got {zones}")]
    ZoneCount { zones: usize },
    #[error("zone {zone_id} listed twice")]
    DuplicateZone { zone_id: u32 },
    #[error("zone config: {0}")]
    Zone(#[from] ConfigError),
    #[error("the world layout spans {layout_m:?} m but the zones' world is {zones_m:?} m")]
    LayoutWorldSize { layout_m: [f32; 2], zones_m: [f32; 2] },
    #[error("handoffs to other hosts need the cluster tick origin (ZoneConfig::tick_epoch_us)")]
    NoTickOrigin,
}

/// One zone tick that ran, for the caller's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickReport {
    pub zone_id: u32,
    pub due: DueTick,
    /// Wall and CPU time of the zone's tick and delivery (0 without a `WorkClock`).
    pub work_wall_us: u64,
    pub work_cpu_us: u64,
}

/// Counters of the session path (drops are in [`DropCounts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounters {
    pub datagrams_handled: u64,
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    /// Input ticks passed to zones.
    pub input_ticks: u64,
    /// Redundant copies of input ticks already passed (expected: the redundancy at work).
    pub input_redundant: u64,
    pub snapshots_sent: u64,
    pub snapshot_bytes: u64,
    pub events_sent: u64,
    pub rtt_reports: u64,
    pub tick_reports_dropped: u64,
    /// Session events not kept because the caller did not poll them (see [`SESSION_EVENTS_MAX`]).
    pub session_events_dropped: u64,
    /// Handoff records the node did not take in time (`HANDOFF_EVENTS_MAX`): missing from the log.
    pub handoff_events_dropped: u64,
    /// Persistence events queued for the caller.
    pub persistence_events: u64,
    /// Persistence events not kept because the queue was full ([`PERSISTENCE_EVENTS_MAX`]).
    pub persistence_events_dropped: u64,
    /// Persistence answers passed to a zone.
    pub persistence_outcomes: u64,
    /// Persistence answers for a zone or layer this host does not run (any more).
    pub persistence_outcomes_unknown_zone: u64,
    /// Players handed from one hosted zone to another (same session, no reconnect).
    pub handoffs: u64,
    /// Handoffs the new zone refused (full, or its tick behind the old one's): the player went
    /// back to the zone it was leaving, at once.
    pub handoffs_aborted: u64,
    /// Border crossings put off to a later tick: the player was dead or awaited persistence.
    pub handoffs_deferred: u64,
    /// Handoffs whose entity id was taken in the new zone: the client was sent a new `Joined` and
    /// re-places itself (one resync).
    pub handoff_resyncs: u64,
    /// Border checks that found the player due in a zone this host does not run (handoffs across
    /// workers and nodes come later; the player stays and presses on the border).
    pub handoffs_elsewhere: u64,
    /// Inputs a handed-off player had received but not played (its jitter buffer) plus those routed
    /// to it since the old zone's last tick: all played by the new zone.
    pub handoff_inputs_carried: u64,
    /// Handoffs to a zone on another host (worker or node): tickets written (player frozen, session
    /// exported), and of those the ones committed (the new host took the player) and the ones taken
    /// back (no commit by the deadline: the player went back into its old zone).
    pub handoff_tickets_out: u64,
    pub handoffs_across: u64,
    pub handoffs_across_aborted: u64,
    /// Datagrams of a session in transit played in its old zone after its ticket aborted.
    pub handoff_datagrams_replayed: u64,
    /// Datagrams of a session in transit beyond [`across::HELD_DATAGRAMS_MAX`]: not kept for an abort.
    pub handoff_datagrams_not_kept: u64,
    /// Players admitted from a handoff, by the ticks between their last tick in the old zone and
    /// their first here (index 0: one tick, the ordinary gap between two snapshots — none missed;
    /// 1: two; 2: three; 3: four or more). The pause the server imposes, as a client would see it
    /// in its snapshots' ticks.
    pub handoff_pause_ticks: [u64; HANDOFF_PAUSE_BUCKETS],
    /// Tickets past their deadline reported to the caller (each then commits or aborts).
    pub handoffs_expired: u64,
    /// Tickets this host took in (player admitted, session imported), refused, and cancelled after
    /// taking them in (the old host had aborted first).
    pub handoff_tickets_in: u64,
    pub handoff_tickets_refused: u64,
    pub handoffs_cancelled: u64,
    /// Handoff messages not queued for the caller because [`HANDOFF_MESSAGES_MAX`] were waiting;
    /// a ticket is then not written at all (the player stays and tries again next tick).
    pub handoff_messages_dropped: u64,
    /// Datagrams of a session in transit the caller asked about, to forward to its new host.
    pub handoff_datagrams_forwarded: u64,
    /// Tickets that came in before this host ran their freeze tick and waited for it.
    pub handoff_tickets_parked: u64,
    /// Ghost batches for other hosts not queued ([`GHOST_BATCHES_MAX`] waiting), and ghosts a zone
    /// left out (`meridian_zone::GHOSTS_MAX`).
    pub ghost_batches_dropped: u64,
    pub ghosts_dropped: u64,
    /// Sessions offered for resume after a failover (`install_resumable`).
    pub resumables_installed: u64,
    /// Offers refused: zone not here, session live, or the table full.
    pub resumables_refused: u64,
    /// Sessions resumed here after a failover (their client came back without a new login).
    pub sessions_resumed: u64,
    /// Snapshot resyncs of resumed sessions: this node has no acked baseline for them, so each
    /// starts over with one full snapshot.
    pub resume_resyncs: u64,
}

/// A session another node served, to offer for resume (from its record, keys opened).
#[derive(Clone, Debug, PartialEq)]
pub struct ResumableSession {
    pub resumable: Resumable,
    /// Where the player was at the record's last refresh (`None`: the spawn rule places it).
    pub position_m: Option<[f32; 3]>,
    /// The player's entity id on the old node: kept when free in the zone here.
    pub entity: Option<u32>,
    /// Until when the session waits for its client (host time).
    pub deadline_us: u64,
}

/// Why [`SessionHost::install_resumable`] did not take a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ResumeRefusal {
    #[error("zone {zone_id} is not served by this host")]
    UnknownZone { zone_id: u32 },
    #[error("endpoint: {0}")]
    Endpoint(#[from] ResumableRefusal),
}

/// What a session's record needs refreshed: the resume hints of one live session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionResumeHints {
    pub session_id: u64,
    pub zone_id: u32,
    /// The zone's fencing token (`None`: standalone).
    pub fencing_token: Option<u64>,
    pub hints: SessionHints,
    pub position_m: Option<[f32; 3]>,
    pub entity: Option<u32>,
}

struct Session {
    zone: usize,
    client: ClientId,
    character_id: u64,
    inputs: inputs::SessionInputs,
    /// The RTT last reported to the zone.
    rtt_reported_us: Option<u64>,
    /// After an aborted handoff to another host: not tried again before this zone tick, so the
    /// backlog of the frozen ticks plays out and a peer that answers late is not asked every tick.
    handoff_retry_tick: u64,
}

struct HostedZone {
    zone_id: u32,
    /// The control plane's fencing token for this host's ownership of the zone (the assignment's
    /// etcd revision); `None` in standalone mode, where zones come from the command line.
    fencing_token: Option<u64>,
    layers: ZoneLayers,
    outputs: Vec<ZoneOutput>,
    last_work_us: Option<u64>,
}

pub struct SessionHost {
    /// The settings a zone served later (`serve_zone`) starts with.
    zone_config: ZoneConfig,
    endpoint: ServerEndpoint,
    zones: Vec<HostedZone>,
    sessions: HashMap<u64, Session>,
    clients: HashMap<ClientId, u64>,
    next_client: u32,
    schedule: TickSchedule,
    rtt_source: RttSource,
    work_clock: Option<WorkClock>,
    spawn: Option<SpawnRule>,
    drops: DropCounts,
    counters: HostCounters,
    tick_reports: VecDeque<TickReport>,
    persistence_events: VecDeque<HostPersistenceEvent>,
    session_events: session_events::SessionEvents,
    pub(crate) handoff_events: handoff_events::HandoffEvents,
    /// Whether global chat is carried (the caller polls the lines); off: refused as unavailable.
    global_chat: bool,
    global_chat_out: VecDeque<GlobalChatLine>,
    scratch: Vec<u8>,
    input_scratch: Vec<ZoneInput>,
    /// (zone, client, RTT) reports gathered in one pass over the sessions.
    rtt_scratch: Vec<(usize, ClientId, u64)>,
    /// How the hosted zones tile the world; `None`: every zone is a world of its own (no borders).
    layout: Option<WorldLayout>,
    /// (session, from zone index, to zone index) found due by one border pass.
    handoff_scratch: Vec<(u64, usize, usize)>,
    /// Handoffs to and from zones on other hosts.
    across: across::Across,
    ghosts: ghosts::Ghosts,
    /// Where each resumable session's player was (`install_resumable`); bounded like the endpoint's
    /// table, cleared when the session resumes or its entry expires.
    resume_positions: HashMap<u64, (Option<[f32; 3]>, Option<u32>)>,
}

impl SessionHost {
    pub fn new(config: HostConfig, now_us: u64) -> Result<Self, HostError> {
        let zones_count = config.zone_ids.len();
        // A host with no zone is allowed: a node's worker may own none and still answer probes and
        // refuse sessions for zones it does not run.
        if zones_count > ZONES_PER_HOST_MAX {
            return Err(HostError::ZoneCount { zones: zones_count });
        }
        config.zone.validate()?;
        let mut zones: Vec<HostedZone> = Vec::with_capacity(zones_count);
        for &zone_id in &config.zone_ids {
            if zones.iter().any(|zone| zone.zone_id == zone_id) {
                return Err(HostError::DuplicateZone { zone_id });
            }
            let zone_config = ZoneConfig {
                zone_id,
                ..config.zone.clone()
            };
            zones.push(HostedZone {
                zone_id,
                fencing_token: None,
                layers: ZoneLayers::new(zone_config, 1, now_us)?,
                outputs: Vec::new(),
                last_work_us: None,
            });
        }
        let period_us = config.zone.tick_interval_us();
        Ok(Self {
            zone_config: config.zone.clone(),
            endpoint: ServerEndpoint::new(config.server),
            zones,
            sessions: HashMap::new(),
            clients: HashMap::new(),
            next_client: 1,
            schedule: match config.zone.tick_epoch_us {
                Some(epoch_us) => TickSchedule::aligned(epoch_us, now_us, period_us, period_us / 2),
                None => TickSchedule::new(now_us, period_us, period_us / 2),
            },
            rtt_source: config.rtt_source,
            work_clock: config.work_clock,
            spawn: config.spawn,
            drops: DropCounts::default(),
            counters: HostCounters::default(),
            tick_reports: VecDeque::new(),
            persistence_events: VecDeque::new(),
            session_events: Default::default(),
            handoff_events: Default::default(),
            global_chat: false,
            global_chat_out: VecDeque::new(),
            scratch: Vec::with_capacity(2048),
            input_scratch: Vec::new(),
            rtt_scratch: Vec::new(),
            layout: None,
            handoff_scratch: Vec::new(),
            across: across::Across::default(),
            ghosts: ghosts::Ghosts::default(),
            resume_positions: HashMap::new(),
        })
    }

    /// Feeds one received datagram. A refused one is counted under its reason and forgotten.
    pub fn handle_datagram(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) {
        self.counters.datagrams_handled += 1;
        if let Err(error) = self.endpoint.handle(now_us, from, bytes) {
            self.drops.add(error.label(), 1);
            return;
        }
        self.drain_endpoint_events(now_us);
    }

    /// When the host next needs [`Self::handle_timeout`]: the next zone tick or protocol timer
    /// (a resend, a delayed ack, a keep-alive, a ping, an idle timeout), whichever is first.
    pub fn poll_timeout(&self) -> u64 {
        let tick_us = self.schedule.next_deadline_us();
        self.endpoint
            .poll_timeout()
            .map_or(tick_us, |timer_us| timer_us.min(tick_us))
    }

    /// Runs what is due at `now_us`: protocol timers (resends, keep-alives, timeouts) and every zone
    /// tick whose deadline passed, delivering the zones' output to the sessions.
    pub fn handle_timeout(&mut self, now_us: u64) {
        self.endpoint.handle_timeout(now_us);
        self.drain_endpoint_events(now_us);
        while let Some(due) = self.schedule.poll(now_us) {
            if due.index % RTT_REFRESH_TICKS == 0 {
                self.report_rtts();
            }
            for zone_index in 0..self.zones.len() {
                self.tick_zone(zone_index, now_us, due);
            }
            // Between two ticks of every zone: a player's last snapshot from the old zone went out
            // in this tick, its first from the new one goes out in the next.
            self.admit_parked(now_us);
            self.hand_off_across_borders(now_us);
            self.expire_handoffs();
            self.exchange_ghosts();
        }
        self.drain_endpoint_events(now_us);
    }

    /// The next datagram to send, if any is due at `now_us`.
    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        self.endpoint.poll_transmit(now_us)
    }

    /// The next report of a zone tick that ran (for metrics); keep polling until `None`.
    pub fn poll_tick_report(&mut self) -> Option<TickReport> {
        self.tick_reports.pop_front()
    }

    /// The next persistence event a zone produced (a pick-up claim, a kill), oldest first; keep
    /// polling until `None`. Answer claims with [`Self::handle_persistence_outcome`].
    pub fn poll_persistence_event(&mut self) -> Option<HostPersistenceEvent> {
        self.persistence_events.pop_front()
    }

    /// Persistence's answer to the event with `key` from zone `zone_id`: passed to the zone layer
    /// that made it (the key names the layer) as `ZoneInput::PersistenceConfirmed`, applied on its
    /// next tick. Late or repeated answers are harmless (the zone answers a claim once). Returns
    /// false when this host does not run that zone or layer (any more).
    pub fn handle_persistence_outcome(
        &mut self,
        zone_id: u32,
        key: IdempotencyKey,
        outcome: PersistenceOutcome,
    ) -> bool {
        let Some(zone) = self.zones.iter_mut().find(|zone| zone.zone_id == zone_id) else {
            self.counters.persistence_outcomes_unknown_zone += 1;
            return false;
        };
        if zone
            .layers
            .route_control(key.layer as usize, ZoneInput::PersistenceConfirmed { key, outcome })
            .is_err()
        {
            self.counters.persistence_outcomes_unknown_zone += 1;
            return false;
        }
        self.counters.persistence_outcomes += 1;
        true
    }

    /// The character a session plays (the token's character id, or its session id).
    pub fn character_of(&self, session_id: u64) -> Option<u64> {
        self.sessions.get(&session_id).map(|session| session.character_id)
    }

    /// The checkpointable state of every player of every zone: `(zone id, fencing token, state)`.
    pub fn player_states(&self) -> impl Iterator<Item = (u32, Option<u64>, meridian_zone::PlayerState)> + '_ {
        self.zones.iter().flat_map(|zone| {
            zone.layers.layers().iter().flat_map(move |layer| {
                layer
                    .player_states()
                    .map(move |state| (zone.zone_id, zone.fencing_token, state))
            })
        })
    }

    /// Carries global chat from now on (`true`: the caller polls [`Self::poll_global_chat`] and
    /// delivers lines with [`Self::deliver_global_chat`]); `false` (the default) refuses it as
    /// `global_chat_unavailable`.
    pub fn set_global_chat(&mut self, enabled: bool) {
        self.global_chat = enabled;
        if !enabled {
            self.global_chat_out.clear();
        }
    }

    /// The next global chat line a session sent, oldest first; keep polling until `None`.
    pub fn poll_global_chat(&mut self) -> Option<GlobalChatLine> {
        self.global_chat_out.pop_front()
    }

    /// Sends a global chat line from `from_character` to every session of this host, on the
    /// reliable channel. Returns the sessions it was queued for (a full channel is counted).
    pub fn deliver_global_chat(&mut self, from_character: u64, text: &str) -> usize {
        self.broadcast_global(global_chat_sender(from_character), text, None)
    }

    /// Tells one session its global chat line was refused: a global chat line from the server
    /// (`from_entity` [`GLOBAL_CHAT_SERVER_ENTITY`]) whose text says why. False: no such session
    /// or its channel is full.
    pub fn refuse_global_chat(&mut self, session_id: u64, text: &str) -> bool {
        self.broadcast_global(GLOBAL_CHAT_SERVER_ENTITY, text, Some(session_id)) == 1
    }

    fn broadcast_global(&mut self, from_entity: u32, text: &str, only: Option<u64>) -> usize {
        self.scratch.clear();
        ServerMessage::Event(meridian_proto::messages::ServerEvent::Chat {
            channel: ChatChannel::Global,
            from_entity,
            text: Arc::from(text),
        })
        .encode(&mut self.scratch);
        let mut sent = 0;
        let targets: Vec<u64> = match only {
            Some(session_id) => self
                .sessions
                .contains_key(&session_id)
                .then_some(session_id)
                .into_iter()
                .collect(),
            None => self.sessions.keys().copied().collect(),
        };
        for session_id in targets {
            if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                self.drops.add(HostDrop::ChannelFull.label(), 1);
                continue;
            }
            self.counters.events_sent += 1;
            sent += 1;
        }
        sent
    }

    /// Spawns an NPC wandering around `home_m` in layer `layer` of zone `zone_id` (admin and
    /// tests). `None` when the zone or layer is not here or the layer is full.
    pub fn spawn_npc(&mut self, zone_id: u32, layer: usize, home_m: [f32; 3], loot_item_id: u32) -> Option<u32> {
        let zone = self.zones.iter_mut().find(|zone| zone.zone_id == zone_id)?;
        zone.layers.layer_mut(layer)?.spawn_npc(home_m, loot_item_id).ok()
    }

    /// Every hosted zone's NPCs and loot (its first layer: the one every zone has; further layers
    /// are not saved), with the zone's fencing token.
    pub fn zone_states(&self) -> impl Iterator<Item = (u32, Option<u64>, meridian_zone::ZoneStateExport)> + '_ {
        self.zones.iter().filter_map(|zone| {
            let first = zone.layers.layers().first()?;
            Some((zone.zone_id, zone.fencing_token, first.export_state()))
        })
    }

    /// Adds saved NPCs and loot to the first layer of zone `zone_id` (right after it started).
    /// False when the zone is not here; an entity limit keeps what fit.
    pub fn restore_zone_state(&mut self, zone_id: u32, state: &meridian_zone::ZoneStateExport) -> bool {
        let Some(zone) = self.zones.iter_mut().find(|zone| zone.zone_id == zone_id) else {
            return false;
        };
        let Some(first) = zone.layers.layer_mut(0) else {
            return false;
        };
        let _ = first.restore_state(state);
        true
    }

    /// Offers a session another node served for resume: its client's next sealed packet makes it a
    /// session here at once (no handshake), placed at `position_m` (else the spawn rule), and
    /// reported as `SessionEvent::Resumed`. Call after the zone started (`serve_zone`) and before it
    /// ticks for anyone. Announced as `SessionEvent::Handshaking` so the edge lets it through.
    pub fn install_resumable(&mut self, now_us: u64, session: ResumableSession) -> Result<(), ResumeRefusal> {
        let zone_id = session.resumable.zone_id;
        let outcome = if self.zones.iter().any(|zone| zone.zone_id == zone_id) {
            let session_id = session.resumable.session_id;
            self.endpoint
                .add_resumable(now_us, session.resumable, session.deadline_us)
                .map(|()| {
                    debug_assert!(self.resume_positions.len() <= RESUMABLE_SESSIONS_MAX);
                    self.resume_positions
                        .insert(session_id, (session.position_m, session.entity));
                })
                .map_err(ResumeRefusal::from)
        } else {
            Err(ResumeRefusal::UnknownZone { zone_id })
        };
        match outcome {
            Ok(()) => self.counters.resumables_installed += 1,
            Err(_) => self.counters.resumables_refused += 1,
        }
        self.drain_endpoint_events(now_us);
        outcome
    }

    /// A live session's keys sealed with the cluster key for its record (`None`: no such session).
    /// `nonce`: fresh random bytes.
    pub fn seal_session_keys(
        &self,
        session_id: u64,
        nonce: [u8; TOKEN_NONCE_BYTES],
    ) -> Option<[u8; SEALED_RESUME_KEYS_BYTES]> {
        self.endpoint.seal_session_keys(session_id, nonce)
    }

    /// The resume hints of one live session.
    pub fn session_resume_hints(&self, session_id: u64) -> Option<SessionResumeHints> {
        let session = self.sessions.get(&session_id)?;
        let zone = &self.zones[session.zone];
        let entity = self.entity_of(session_id);
        let position_m = entity.and_then(|entity| self.zone_of(session_id)?.position(entity));
        Some(SessionResumeHints {
            session_id,
            zone_id: zone.zone_id,
            fencing_token: zone.fencing_token,
            hints: self.endpoint.session_hints(session_id)?,
            position_m,
            entity,
        })
    }

    /// The ids of every live session (for a periodic pass over their hints).
    pub fn session_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.sessions.keys().copied()
    }

    /// The next session opened or closed, in the order they happened; keep polling until `None`.
    pub fn poll_session_event(&mut self) -> Option<SessionEvent> {
        self.session_events.pop()
    }

    /// The next decided handoff (see [`HandoffEvent`] for who records which); keep polling until
    /// `None`.
    pub fn poll_handoff_event(&mut self) -> Option<HandoffEvent> {
        self.handoff_events.pop()
    }

    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    pub fn counters(&self) -> HostCounters {
        HostCounters {
            session_events_dropped: self.session_events.dropped,
            handoff_events_dropped: self.handoff_events.dropped,
            ..self.counters
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn endpoint(&self) -> &ServerEndpoint {
        &self.endpoint
    }

    pub fn schedule(&self) -> &TickSchedule {
        &self.schedule
    }

    /// Starts serving `zone_id` under the control plane's `fencing_token` (the assignment's revision),
    /// from the zone's initial state (checkpoints come with the persistence issue). Serving a zone
    /// already served only raises its token. The token is the zone's idempotency epoch, so the
    /// persistence events of two successive owners never share a key.
    pub fn serve_zone(&mut self, zone_id: u32, fencing_token: u64, now_us: u64) -> Result<(), HostError> {
        if let Some(zone) = self.zones.iter_mut().find(|zone| zone.zone_id == zone_id) {
            zone.fencing_token = Some(zone.fencing_token.map_or(fencing_token, |held| held.max(fencing_token)));
            return Ok(());
        }
        if self.zones.len() >= ZONES_PER_HOST_MAX {
            return Err(HostError::ZoneCount {
                zones: self.zones.len() + 1,
            });
        }
        let config = ZoneConfig {
            zone_id,
            ..self.zone_config.clone()
        };
        self.zones.push(HostedZone {
            zone_id,
            fencing_token: Some(fencing_token),
            layers: ZoneLayers::new(config, fencing_token, now_us)?,
            outputs: Vec::new(),
            last_work_us: None,
        });
        Ok(())
    }

    /// Makes the hosted zones tiles of one world: from the next tick on, a player more than the
    /// layout's handoff margin inside a neighbouring zone's rectangle is handed to that zone when
    /// this host runs it (same session, same keys, no reconnect). The zones must already simulate
    /// the layout's whole world (`ZoneConfig::world_size_m == layout.world_size_m()`), so movement
    /// is clamped to the world rather than to a zone.
    pub fn set_world_layout(&mut self, layout: WorldLayout) -> Result<(), HostError> {
        let layout_m = layout.world_size_m();
        if layout_m != self.zone_config.world_size_m {
            return Err(HostError::LayoutWorldSize {
                layout_m,
                zones_m: self.zone_config.world_size_m,
            });
        }
        self.layout = Some(layout);
        Ok(())
    }

    pub fn world_layout(&self) -> Option<&WorldLayout> {
        self.layout.as_ref()
    }

    /// Stops serving `zone_id` at once: its sessions get a Disconnect with `reason` (`ZoneMoved` when
    /// the control plane gave the zone to another node or this node lost its lease) and leave the
    /// session table; the zone's state is dropped. Returns the sessions ended.
    pub fn stop_zone(&mut self, zone_id: u32, reason: DisconnectReason) -> usize {
        let Some(index) = self.zones.iter().position(|zone| zone.zone_id == zone_id) else {
            return 0;
        };
        let ended: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.zone == index)
            .map(|(session_id, _)| *session_id)
            .collect();
        for session_id in &ended {
            if let Some(session) = self.sessions.remove(session_id) {
                self.clients.remove(&session.client);
                self.session_events.push(SessionEvent::Closed {
                    session_id: *session_id,
                    zone_id,
                });
            }
            // Its Disconnected event finds no session left and is ignored.
            self.endpoint.disconnect(*session_id, reason);
            self.counters.sessions_closed += 1;
        }
        let last = self.zones.len() - 1;
        self.zones.swap_remove(index);
        if index != last {
            for session in self.sessions.values_mut().filter(|session| session.zone == last) {
                session.zone = index;
            }
        }
        ended.len()
    }

    /// Drops loot in layer `layer` of zone `zone_id` (scripts and admin tools; NPC deaths drop loot
    /// on their own). Returns the loot's entity id, or `None` when the zone or layer is not here or
    /// the layer is full.
    pub fn spawn_loot(
        &mut self,
        zone_id: u32,
        layer: usize,
        position_m: [f32; 3],
        item_id: u32,
        quantity: u16,
    ) -> Option<u32> {
        let zone = self.zones.iter_mut().find(|zone| zone.zone_id == zone_id)?;
        zone.layers
            .layer_mut(layer)?
            .spawn_loot(position_m, item_id, quantity)
            .ok()
    }

    /// The fencing token this host serves `zone_id` under (`None`: not served, or standalone).
    pub fn zone_token(&self, zone_id: u32) -> Option<u64> {
        self.zones
            .iter()
            .find(|zone| zone.zone_id == zone_id)
            .and_then(|zone| zone.fencing_token)
    }

    /// The hosted zones' ids and layers.
    pub fn zones(&self) -> impl Iterator<Item = (u32, &ZoneLayers)> {
        self.zones.iter().map(|zone| (zone.zone_id, &zone.layers))
    }

    /// The zone client a session plays as, and its zone.
    pub fn client_of(&self, session_id: u64) -> Option<(u32, ClientId)> {
        let session = self.sessions.get(&session_id)?;
        Some((self.zones[session.zone].zone_id, session.client))
    }

    /// The layer (one zone instance) a session plays in.
    pub fn zone_of(&self, session_id: u64) -> Option<&Zone> {
        let session = self.sessions.get(&session_id)?;
        let layers = &self.zones[session.zone].layers;
        layers.layers().get(layers.layer_of(session.client)?)
    }

    /// The session's entity id in its zone (what its snapshots call it).
    pub fn entity_of(&self, session_id: u64) -> Option<u32> {
        let client = self.sessions.get(&session_id)?.client;
        self.zone_of(session_id)?.client_entity(client)
    }

    /// The layers of zone `zone_id`, if this host runs it.
    pub fn zone_layers(&self, zone_id: u32) -> Option<&ZoneLayers> {
        self.zones
            .iter()
            .find(|zone| zone.zone_id == zone_id)
            .map(|zone| &zone.layers)
    }

    fn drain_endpoint_events(&mut self, now_us: u64) {
        // Handshakes first: a session's Handshaking always precedes its Opened.
        while let Some(event) = self.endpoint.poll_handshake_event() {
            self.session_events.push(match event {
                HandshakeEvent::Started {
                    session_id,
                    zone_id,
                    edge_key,
                    address,
                } => SessionEvent::Handshaking {
                    session_id,
                    zone_id,
                    edge_key,
                    address,
                },
                HandshakeEvent::Abandoned { session_id } => {
                    // A resumable entry that expired is abandoned like a handshake.
                    self.resume_positions.remove(&session_id);
                    SessionEvent::HandshakeAbandoned { session_id }
                }
            });
        }
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                ServerEvent::Connected {
                    session_id,
                    zone_id,
                    character_id,
                    address,
                } => self.on_connected(session_id, zone_id, character_id, address),
                ServerEvent::Resumed {
                    session_id,
                    zone_id,
                    character_id,
                    address,
                } => self.on_resumed(session_id, zone_id, character_id, address),
                ServerEvent::Disconnected { session_id, .. } => self.on_disconnected(session_id),
                ServerEvent::Message {
                    session_id,
                    message: Received::Unreliable(bytes) | Received::Reliable(bytes),
                } => self.on_message(now_us, session_id, &bytes),
            }
        }
    }

    fn allocate_client(&mut self) -> ClientId {
        // Sessions are capped far below 2^32, so a free id is always a few steps away.
        loop {
            let client = ClientId(self.next_client);
            self.next_client = self.next_client.wrapping_add(1).max(1);
            if !self.clients.contains_key(&client) {
                return client;
            }
        }
    }

    fn on_resumed(&mut self, session_id: u64, zone_id: u32, character_id: u64, address: SocketAddr) {
        let (position_m, entity) = self.resume_positions.remove(&session_id).unwrap_or_default();
        if self.admit_session(session_id, zone_id, character_id, position_m, entity) {
            self.counters.sessions_resumed += 1;
            // The new zone has never sent this client a snapshot: its first is a full one.
            self.counters.resume_resyncs += 1;
            self.session_events.push(SessionEvent::Resumed {
                session_id,
                zone_id,
                address,
            });
        }
    }

    fn on_connected(&mut self, session_id: u64, zone_id: u32, token_character_id: u64, address: SocketAddr) {
        if self.admit_session(session_id, zone_id, token_character_id, None, None) {
            self.session_events.push(SessionEvent::Opened {
                session_id,
                zone_id,
                address,
            });
        }
    }

    /// Places a new session's player in its zone (at `position_m`, else where the spawn rule says;
    /// as `entity` when that id is free). False: refused (zone not here, zone full) and
    /// disconnected with the reason.
    fn admit_session(
        &mut self,
        session_id: u64,
        zone_id: u32,
        token_character_id: u64,
        position_m: Option<[f32; 3]>,
        entity: Option<u32>,
    ) -> bool {
        let Some(zone_index) = self.zones.iter().position(|zone| zone.zone_id == zone_id) else {
            self.drops.add(HostDrop::UnknownZone.label(), 1);
            self.endpoint.disconnect(session_id, DisconnectReason::UnknownZone);
            return false;
        };
        let client = self.allocate_client();
        // The login API's `play` seals the character id into the token; a dev token carries 0 and
        // the session plays as a character of its own (its session id).
        let character_id = if token_character_id != 0 {
            token_character_id
        } else {
            session_id
        };
        let spawn_m = position_m.or_else(|| self.spawn.as_ref().and_then(|spawn| spawn(character_id)));
        let rtt_us = session_rtt_us(&self.endpoint, self.rtt_source, session_id).unwrap_or(0);
        let layers = &mut self.zones[zone_index].layers;
        if layers
            .admit_keeping(client, character_id, None, spawn_m, rtt_us, entity)
            .is_err()
        {
            self.drops.add(HostDrop::ZoneFull.label(), 1);
            self.endpoint.disconnect(session_id, DisconnectReason::ZoneFull);
            return false;
        }
        self.sessions.insert(
            session_id,
            Session {
                zone: zone_index,
                client,
                character_id,
                inputs: inputs::SessionInputs::default(),
                rtt_reported_us: Some(rtt_us),
                handoff_retry_tick: 0,
            },
        );
        self.clients.insert(client, session_id);
        self.counters.sessions_opened += 1;
        true
    }

    fn on_disconnected(&mut self, session_id: u64) {
        let Some(session) = self.sessions.remove(&session_id) else {
            return;
        };
        self.clients.remove(&session.client);
        // A leave is never refused by the zone's input bound: every session leaves exactly once.
        let left = self.zones[session.zone]
            .layers
            .route(session.client, ZoneInput::Leave { client: session.client });
        debug_assert!(left.is_ok(), "a session's client is placed until it leaves");
        self.counters.sessions_closed += 1;
        self.session_events.push(SessionEvent::Closed {
            session_id,
            zone_id: self.zones[session.zone].zone_id,
        });
    }

    fn on_message(&mut self, now_us: u64, session_id: u64, bytes: &[u8]) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        let (zone_index, client) = (session.zone, session.client);
        let Ok(message) = ClientMessage::decode(bytes) else {
            self.drops.add(HostDrop::BadMessage.label(), 1);
            return;
        };
        let mut inputs = std::mem::take(&mut self.input_scratch);
        let accepted = match message {
            ClientMessage::Input(input) => {
                let expansion = session.inputs.on_input(client, &input, now_us, &mut inputs);
                self.counters.input_ticks += u64::from(expansion.passed);
                self.counters.input_redundant += u64::from(expansion.redundant);
                true
            }
            ClientMessage::Action { action, .. } => {
                let layers = &self.zones[zone_index].layers;
                let zone = layers.layer_of(client).and_then(|layer| layers.layers().get(layer));
                let own = zone.and_then(|zone| zone.client_entity(client).and_then(|entity| zone.position(entity)));
                let position_of = |entity: u32| zone.and_then(|zone| zone.position(entity));
                session.inputs.on_action(action, now_us, own, &position_of)
            }
            ClientMessage::Chat {
                channel: ChatChannel::Zone,
                text,
            } => session.inputs.on_chat(&text, now_us),
            ClientMessage::Chat {
                channel: ChatChannel::Global,
                text,
            } => {
                if !self.global_chat {
                    // No chat bridge on this node (no Redis): refused, visibly.
                    self.drops.add(HostDrop::GlobalChatUnavailable.label(), 1);
                } else if self.global_chat_out.len() >= GLOBAL_CHAT_OUT_MAX {
                    self.drops.add(HostDrop::GlobalChatQueueFull.label(), 1);
                } else {
                    self.global_chat_out.push_back(GlobalChatLine {
                        session_id,
                        character_id: session.character_id,
                        text,
                    });
                }
                true
            }
            ClientMessage::SnapshotAck { tick } => {
                inputs.push(ZoneInput::SnapshotAck { client, tick });
                true
            }
        };
        if !accepted {
            self.drops.add(HostDrop::ActionQueueFull.label(), 1);
        }
        for input in inputs.drain(..) {
            self.route(zone_index, client, input);
        }
        self.input_scratch = inputs;
    }

    fn route(&mut self, zone_index: usize, client: ClientId, input: ZoneInput) {
        match self.zones[zone_index].layers.route(client, input) {
            Ok(()) => {}
            Err(RouteError::QueueFull) => self.drops.add(HostDrop::ZoneInputQueueFull.label(), 1),
            // Sessions and placements come and go together; this would be a host bug.
            Err(RouteError::NotPlaced(_) | RouteError::NoLayer(_)) => {
                debug_assert!(false, "session without a placement")
            }
        }
    }

    /// Feeds every session's RTT to its zone when it moved by `RTT_REPORT_STEP_US` or more.
    fn report_rtts(&mut self) {
        let mut reports = std::mem::take(&mut self.rtt_scratch);
        for (session_id, session) in self.sessions.iter_mut() {
            let Some(rtt_us) = session_rtt_us(&self.endpoint, self.rtt_source, *session_id) else {
                continue;
            };
            if session
                .rtt_reported_us
                .is_some_and(|reported| reported.abs_diff(rtt_us) < RTT_REPORT_STEP_US)
            {
                continue;
            }
            session.rtt_reported_us = Some(rtt_us);
            reports.push((session.zone, session.client, rtt_us));
        }
        for (zone_index, client, rtt_us) in reports.drain(..) {
            self.counters.rtt_reports += 1;
            self.route(zone_index, client, ZoneInput::Rtt { client, rtt_us });
        }
        self.rtt_scratch = reports;
    }

    fn tick_zone(&mut self, zone_index: usize, now_us: u64, due: DueTick) {
        let started = self.work_clock.map(|clock| ((clock.wall_ns)(), (clock.cpu_ns)()));
        {
            let zone = &mut self.zones[zone_index];
            zone.layers.tick(now_us, zone.last_work_us, &mut zone.outputs);
        }
        self.deliver_outputs(zone_index);
        let (work_wall_us, work_cpu_us) = match (started, self.work_clock) {
            (Some((wall_ns, cpu_ns)), Some(clock)) => (
                (clock.wall_ns)().saturating_sub(wall_ns) / 1_000,
                (clock.cpu_ns)().saturating_sub(cpu_ns) / 1_000,
            ),
            _ => (0, 0),
        };
        let zone = &mut self.zones[zone_index];
        // Load shedding is fed the tick's CPU time, not its wall time: shedding shrinks the zone's
        // own work, which is what it can fix; time the thread spent preempted shows as lateness.
        zone.last_work_us = self.work_clock.map(|_| work_cpu_us);
        if self.tick_reports.len() >= TICK_REPORTS_MAX {
            self.tick_reports.pop_front();
            self.counters.tick_reports_dropped += 1;
        }
        self.tick_reports.push_back(TickReport {
            zone_id: zone.zone_id,
            due,
            work_wall_us,
            work_cpu_us,
        });
    }

    /// Hands a zone's snapshots (unreliable) and events (reliable) to the sessions, and its
    /// persistence events to the caller's queue.
    fn deliver_outputs(&mut self, zone_index: usize) {
        let zone = &mut self.zones[zone_index];
        for output in &zone.outputs {
            for event in &output.persistence {
                if self.persistence_events.len() >= PERSISTENCE_EVENTS_MAX {
                    self.counters.persistence_events_dropped += 1;
                    continue;
                }
                self.counters.persistence_events += 1;
                self.persistence_events.push_back(HostPersistenceEvent {
                    zone_id: zone.zone_id,
                    fencing_token: zone.fencing_token,
                    event: event.clone(),
                });
            }
            for snapshot in &output.snapshots {
                let Some(&session_id) = self.clients.get(&snapshot.client) else {
                    continue;
                };
                self.scratch.clear();
                ServerMessage::Snapshot {
                    last_input_tick: snapshot.last_input_tick,
                    payload: &snapshot.bytes,
                }
                .encode(&mut self.scratch);
                if self.endpoint.send_unreliable(session_id, &self.scratch).is_err() {
                    self.drops.add(HostDrop::ChannelFull.label(), 1);
                    continue;
                }
                self.counters.snapshots_sent += 1;
                self.counters.snapshot_bytes += snapshot.bytes.len() as u64;
            }
            for (client, event) in &output.client_events {
                let Some(&session_id) = self.clients.get(client) else {
                    continue;
                };
                self.scratch.clear();
                ServerMessage::Event(event.to_wire()).encode(&mut self.scratch);
                if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                    self.drops.add(HostDrop::ChannelFull.label(), 1);
                    continue;
                }
                self.counters.events_sent += 1;
            }
        }
    }
}

impl SessionHost {
    /// Hands every player standing far enough inside a neighbouring zone to it, when this host runs
    /// that zone. Sessions are visited in id order so a seeded run is one run.
    fn hand_off_across_borders(&mut self, now_us: u64) {
        let Some(layout) = &self.layout else {
            return;
        };
        let mut due = std::mem::take(&mut self.handoff_scratch);
        for (&session_id, session) in &self.sessions {
            let zone = &self.zones[session.zone];
            let Some(position_m) = zone
                .layers
                .layer_of(session.client)
                .and_then(|layer| zone.layers.layers().get(layer))
                .and_then(|layer| layer.position(layer.client_entity(session.client)?))
            else {
                continue; // admitted this tick, not joined yet
            };
            let Some(target) = layout.handoff_target(zone.zone_id, position_m) else {
                continue;
            };
            match self.zones.iter().position(|zone| zone.zone_id == target) {
                Some(to) => due.push((session_id, session.zone, to)),
                None if self.across.enabled() => {
                    let tick = zone.layers.layers().first().map_or(0, |layer| layer.current_tick());
                    if tick < session.handoff_retry_tick {
                        continue;
                    }
                    // Another host's zone: marked by an index past the hosted zones, the zone id
                    // kept in the low bits of the list below.
                    due.push((session_id, session.zone, usize::MAX - target as usize));
                }
                None => self.counters.handoffs_elsewhere += 1,
            }
        }
        due.sort_unstable();
        for (session_id, from, to) in due.drain(..) {
            if to < self.zones.len() {
                self.hand_off(session_id, from, to);
            } else {
                self.hand_off_across(now_us, session_id, from, (usize::MAX - to) as u32);
            }
        }
        self.handoff_scratch = due;
    }

    /// Moves one session's player from zone `from` to zone `to` (indices) at a tick boundary.
    fn hand_off(&mut self, session_id: u64, from: usize, to: usize) {
        let Some((client, character_id)) = self
            .sessions
            .get(&session_id)
            .map(|session| (session.client, session.character_id))
        else {
            return;
        };
        let source_tick = self.zone_tick(from, client);
        let (handoff, carried) = match self.zones[from].layers.freeze(client) {
            Ok(frozen) => frozen,
            Err(FreezeRefusal::UnknownClient) => return,
            Err(FreezeRefusal::Dead | FreezeRefusal::AwaitingPersistence) => {
                self.counters.handoffs_deferred += 1;
                return;
            }
        };
        let old_entity = handoff.entity;
        let in_transit = (handoff.pending_inputs() + carried.len()) as u64;
        // A zone whose ticks are behind the old one's would send snapshots the client takes for
        // old ones and ignores: refuse, and the player stays where it was.
        let target_tick = self.zones[to].layers.layers().first().map(|layer| layer.current_tick());
        let mut event = HandoffEvent {
            session_id,
            character_id,
            from_zone: self.zones[from].zone_id,
            to_zone: self.zones[to].zone_id,
            outcome: HandoffOutcome::Committed,
            across: false,
        };
        let admitted = if target_tick < source_tick {
            Err(Box::new(meridian_zone::RefusedHandoff {
                handoff,
                carried,
                refusal: AdmitRefusal::ZoneFull,
            }))
        } else {
            self.zones[to].layers.admit_frozen(handoff, carried)
        };
        match admitted {
            Ok((_, entity)) => {
                self.counters.handoffs += 1;
                // Admitted at the tick boundary it was frozen at: its next tick is the next one.
                self.counters.handoff_pause_ticks[0] += 1;
                self.counters.handoff_inputs_carried += in_transit;
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    session.zone = to;
                }
                if entity != old_entity {
                    self.counters.handoff_resyncs += 1;
                    self.scratch.clear();
                    ServerMessage::Event(meridian_proto::messages::ServerEvent::Joined { entity })
                        .encode(&mut self.scratch);
                    if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                        self.drops.add(HostDrop::ChannelFull.label(), 1);
                    }
                }
            }
            Err(refused) => {
                self.counters.handoffs_aborted += 1;
                event.outcome = HandoffOutcome::Aborted;
                let refused = *refused;
                // Back into the zone it was leaving, which just let it go: its id and room are free.
                if self.zones[from]
                    .layers
                    .admit_frozen(refused.handoff, refused.carried)
                    .is_err()
                {
                    debug_assert!(false, "the old zone takes back the player it just froze");
                    self.endpoint.disconnect(session_id, DisconnectReason::ZoneFull);
                }
            }
        }
        self.handoff_events.push(event);
    }

    /// The current tick of the layer `client` plays in, in zone `index`.
    fn zone_tick(&self, index: usize, client: ClientId) -> Option<u64> {
        let layers = &self.zones[index].layers;
        layers
            .layer_of(client)
            .and_then(|layer| layers.layers().get(layer))
            .map(|layer| layer.current_tick())
    }
}

/// The RTT the zone judges a session by.
fn session_rtt_us(endpoint: &ServerEndpoint, source: RttSource, session_id: u64) -> Option<u64> {
    match source {
        RttSource::Fixed { rtt_us } => Some(rtt_us),
        // Measured from the server's own pings, the client's hold before its pong excluded (an
        // ack-based estimate would include up to a tick of the client's ack delay).
        RttSource::Measured => endpoint
            .connection(session_id)
            .and_then(|connection| connection.rtt_us()),
    }
}
