//! `ZoneWorker`: one thread, one socket in the node's `SO_REUSEPORT` group, one I/O backend
//! (io_uring or recvmmsg), one protocol endpoint, and the zones this worker owns.
//!
//! Each loop: receive a batch (waiting at most until the next tick deadline), route every datagram
//! (a session whose zone another worker owns is forwarded to it over a bounded queue), turn protocol
//! events into zone inputs, run the zone ticks that are due on the drift-free schedule, hand
//! snapshots and events to the sessions, and flush every datagram the endpoint has to send in one
//! batch. Nothing here blocks on anything but the socket wait.
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
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, TrySendError},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use meridian_proto::{
    connection::Received,
    endpoint::{ServerConfig, ServerEndpoint, ServerEvent, read_connection_request},
    messages::{
        ClientMessage, SNAPSHOT_ACK_TYPE, decode_snapshot_ack, encode_event, encode_snapshot_with_input_tick,
    },
    packet::{DisconnectReason, PacketType, read_packet_type, read_sealed_header},
    token::{CLUSTER_KEY_BYTES, ConnectToken},
};
use meridian_zone::{ClientId, ZoneConfig, ZoneInput, ZoneLayers, ZoneOutput};

use crate::{
    cpu_time::thread_cpu_ns,
    dgram_io::{self, DatagramIo, DatagramIoConfig, IoBackend},
    metrics::{DropReason, WorkerMetrics, ZoneMetrics},
    session_glue,
    tick::TickSchedule,
};

/// Forwarded datagrams a worker's inbox holds; beyond it the sender drops and counts.
pub const FORWARD_QUEUE_DATAGRAMS: usize = 8192;
/// Routes (session → owning worker) one worker remembers for sessions it forwards.
pub const FORWARD_ROUTES_MAX: usize = 65_536;
/// A forward route unused this long is forgotten (the session has timed out by then).
const FORWARD_ROUTE_IDLE_US: u64 = 10_000_000;
/// Ticks between two sweeps of idle forward routes.
const ROUTE_SWEEP_TICKS: u64 = 20;
/// Longest a worker sleeps in one wait, so forwarded datagrams are picked up promptly.
const WAIT_MAX: Duration = Duration::from_millis(2);

/// A datagram handed from the worker that received it to the worker that owns its session.
pub struct Forwarded {
    pub bytes: Vec<u8>,
    pub from: SocketAddr,
    pub received_us: u64,
}

/// What zones exist and which worker owns each: zone `z` belongs to worker `z % workers`.
#[derive(Debug, Clone)]
pub struct ZonePlan {
    pub zone_ids: Vec<u32>,
    pub workers: usize,
}

impl ZonePlan {
    pub fn owner(&self, zone_id: u32) -> Option<usize> {
        self.zone_ids.contains(&zone_id).then(|| zone_id as usize % self.workers)
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
}

/// Live numbers a worker publishes for the node (and its dashboard) without locks.
#[derive(Debug, Default)]
pub struct WorkerGauges {
    pub sessions: AtomicU64,
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    pub last_tick_work_us: AtomicU64,
}

/// A client of one of this worker's zones.
struct Session {
    zone_id: u32,
    client: ClientId,
    inputs: session_glue::SessionInputs,
}

struct HostedZone {
    zone_id: u32,
    layers: ZoneLayers,
    outputs: Vec<ZoneOutput>,
    last_work_us: Option<u64>,
    metrics: Vec<ZoneMetrics>,
}

pub struct ZoneWorker {
    index: usize,
    io: Box<dyn DatagramIo>,
    endpoint: ServerEndpoint,
    /// To open connection requests' tokens for routing (the endpoint opens them again to admit).
    cluster_key: [u8; CLUSTER_KEY_BYTES],
    plan: ZonePlan,
    zones: Vec<HostedZone>,
    sessions: HashMap<u64, Session>,
    clients: HashMap<ClientId, u64>,
    next_client: u32,
    routes: HashMap<u64, (usize, u64)>,
    inbox: Receiver<Forwarded>,
    peers: Vec<SyncSender<Forwarded>>,
    schedule: TickSchedule,
    clock: WorkerClock,
    metrics: WorkerMetrics,
    gauges: Arc<WorkerGauges>,
    published: crate::dgram_io::DatagramIoStats,
    scratch: Vec<u8>,
    input_scratch: Vec<ZoneInput>,
    sends_queued: bool,
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
        let epoch_us_at_start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Self { epoch_us_at_start, start: Instant::now() }
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
    /// Builds worker `index` on its own thread (the I/O backend is not `Send`).
    pub fn new(
        index: usize,
        socket: UdpSocket,
        settings: &WorkerSettings,
        clock: WorkerClock,
        inbox: Receiver<Forwarded>,
        peers: Vec<SyncSender<Forwarded>>,
        gauges: Arc<WorkerGauges>,
    ) -> anyhow::Result<Self> {
        let io = dgram_io::open(settings.backend, socket, &settings.io)?;
        let now_us = clock.now_us();
        let mut zones = Vec::new();
        for &zone_id in &settings.plan.zone_ids {
            if settings.plan.owner(zone_id) == Some(index) {
                let config = ZoneConfig { zone_id, ..settings.zone_config.clone() };
                zones.push(HostedZone {
                    zone_id,
                    layers: ZoneLayers::new(config, 1, now_us)?,
                    outputs: Vec::new(),
                    last_work_us: None,
                    metrics: Vec::new(),
                });
            }
        }
        let period_us = settings.zone_config.tick_interval_us();
        Ok(Self {
            index,
            io,
            endpoint: ServerEndpoint::new(settings.server.clone()),
            cluster_key: settings.server.cluster_key,
            plan: settings.plan.clone(),
            zones,
            sessions: HashMap::new(),
            clients: HashMap::new(),
            next_client: 1,
            routes: HashMap::new(),
            inbox,
            peers,
            schedule: TickSchedule::new(now_us, period_us, period_us / 2),
            clock,
            metrics: WorkerMetrics::new(index),
            gauges,
            published: Default::default(),
            scratch: Vec::with_capacity(2048),
            input_scratch: Vec::new(),
            sends_queued: false,
        })
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut batch: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(1024);
        let mut spare: Vec<Vec<u8>> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let now_us = self.clock.now_us();
            let wait = Duration::from_micros(self.schedule.wait_us(now_us)).min(WAIT_MAX);
            // Copy the batch out of the I/O buffers so handling can borrow the whole worker.
            self.io.recv_batch(wait, &mut |bytes, from| {
                let mut owned = spare.pop().unwrap_or_default();
                owned.clear();
                owned.extend_from_slice(bytes);
                batch.push((owned, from));
            })?;
            let now_us = self.clock.now_us();
            for (bytes, from) in batch.drain(..) {
                self.route(now_us, bytes.as_slice(), from);
                spare.push(bytes);
            }
            while let Ok(forwarded) = self.inbox.try_recv() {
                self.handle_local(forwarded.received_us, &forwarded.bytes, forwarded.from);
            }
            self.drain_endpoint_events(now_us);
            while let Some(due) = self.schedule.poll(self.clock.now_us()) {
                self.metrics.tick_lateness.record(due.lateness_us as f64 / 1e6);
                if due.late {
                    self.metrics.late_ticks.increment(1);
                    self.gauges.late_ticks.fetch_add(1, Ordering::Relaxed);
                }
                self.tick_zones();
                self.endpoint.handle_timeout(self.clock.now_us());
                self.drain_endpoint_events(self.clock.now_us());
                // Once a second is plenty: a route lives FORWARD_ROUTE_IDLE_US unused.
                if due.index % ROUTE_SWEEP_TICKS == 0 {
                    self.forget_idle_routes(self.clock.now_us());
                }
            }
            self.transmit();
            self.publish();
        }
        Ok(())
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
                let forwarded = Forwarded { bytes: bytes.to_vec(), from, received_us: now_us };
                match self.peers[owner].try_send(forwarded) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        self.metrics.drop_counter(DropReason::ForwardQueueFull).increment(1);
                    }
                }
            }
            _ => self.handle_local(now_us, bytes, from),
        }
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
                let owner = self.plan.owner(token.zone_id)?;
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
                let route = self.routes.get_mut(&header.session_id)?;
                route.1 = now_us;
                Some(route.0)
            }
        }
    }

    fn forget_idle_routes(&mut self, now_us: u64) {
        self.routes.retain(|_, (_, last_us)| now_us.saturating_sub(*last_us) < FORWARD_ROUTE_IDLE_US);
    }

    fn handle_local(&mut self, now_us: u64, bytes: &[u8], from: SocketAddr) {
        if self.endpoint.handle(now_us, from, bytes).is_err() {
            self.metrics.drop_counter(DropReason::Protocol).increment(1);
        }
    }

    fn drain_endpoint_events(&mut self, now_us: u64) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                ServerEvent::Connected { session_id, zone_id, .. } => self.on_connected(session_id, zone_id),
                ServerEvent::Disconnected { session_id, .. } => self.on_disconnected(session_id),
                ServerEvent::Message { session_id, message: Received::Unreliable(bytes) | Received::Reliable(bytes) } => {
                    self.on_message(now_us, session_id, &bytes)
                }
            }
        }
    }

    fn hosted_zone(&mut self, zone_id: u32) -> Option<&mut HostedZone> {
        self.zones.iter_mut().find(|z| z.zone_id == zone_id)
    }

    fn on_connected(&mut self, session_id: u64, zone_id: u32) {
        let client = ClientId(self.next_client);
        let rtt_us = self.endpoint.connection(session_id).and_then(|c| c.rtt_us()).unwrap_or(0);
        let Some(zone) = self.hosted_zone(zone_id) else {
            self.metrics.drop_counter(DropReason::UnknownZone).increment(1);
            self.endpoint.disconnect(session_id, DisconnectReason::UnknownZone);
            return;
        };
        // Character ids come from the login service once it exists; until then the session id.
        if zone.layers.admit(client, session_id, None, rtt_us).is_err() {
            self.metrics.drop_counter(DropReason::SessionTableFull).increment(1);
            self.endpoint.disconnect(session_id, DisconnectReason::ZoneFull);
            return;
        }
        self.next_client = self.next_client.wrapping_add(1).max(1);
        self.sessions.insert(session_id, Session { zone_id, client, inputs: Default::default() });
        self.clients.insert(client, session_id);
    }

    fn on_disconnected(&mut self, session_id: u64) {
        if let Some(session) = self.sessions.remove(&session_id) {
            self.clients.remove(&session.client);
            if let Some(zone) = self.hosted_zone(session.zone_id) {
                zone.layers.route(session.client, ZoneInput::Leave { client: session.client });
            }
        }
    }

    fn on_message(&mut self, now_us: u64, session_id: u64, bytes: &[u8]) {
        let Some(session) = self.sessions.get_mut(&session_id) else { return };
        if bytes.first() == Some(&SNAPSHOT_ACK_TYPE) {
            let client = session.client;
            let zone_id = session.zone_id;
            match decode_snapshot_ack(bytes) {
                Ok(tick) => {
                    if let Some(zone) = self.hosted_zone(zone_id) {
                        zone.layers.route(client, ZoneInput::SnapshotAck { client, tick });
                    }
                }
                Err(_) => self.metrics.drop_counter(DropReason::BadMessage).increment(1),
            }
            return;
        }
        let message = match ClientMessage::decode(bytes) {
            Ok(message) => message,
            Err(_) => {
                self.metrics.drop_counter(DropReason::BadMessage).increment(1);
                return;
            }
        };
        let (zone_id, client) = (session.zone_id, session.client);
        let mut inputs = std::mem::take(&mut self.input_scratch);
        let mut refused = false;
        if let Some(zone) = self.zones.iter_mut().find(|z| z.zone_id == zone_id) {
            if let Some(layer) = zone.layers.layer_of(client).and_then(|l| zone.layers.layers().get(l)) {
                refused = !session.inputs.on_message(layer, client, message, now_us, &mut inputs);
            }
            for input in inputs.drain(..) {
                zone.layers.route(client, input);
            }
        }
        if refused {
            self.metrics.drop_counter(DropReason::ActionQueueFull).increment(1);
        }
        self.input_scratch = inputs;
    }

    fn tick_zones(&mut self) {
        let now_us = self.clock.now_us();
        for zone_index in 0..self.zones.len() {
            let started = Instant::now();
            let cpu_started_ns = thread_cpu_ns();
            {
                let zone = &mut self.zones[zone_index];
                zone.layers.tick(now_us, zone.last_work_us, &mut zone.outputs);
            }
            self.deliver_outputs(zone_index);
            let work_us = started.elapsed().as_micros() as u64;
            let zone = &mut self.zones[zone_index];
            // Load shedding is fed the tick's CPU time, not its wall time: shedding shrinks the
            // zone's own work, which is what it can fix. Time the thread spent preempted (another
            // process on the core) inflates the wall time; shedding on it degraded every client
            // for the rest of a 20 s capacity run after one spike while doing nothing about the
            // cause. Preemption shows as tick lateness instead.
            zone.last_work_us = Some(thread_cpu_ns().saturating_sub(cpu_started_ns) / 1_000);
            while zone.metrics.len() < zone.layers.layers().len() {
                zone.metrics.push(ZoneMetrics::new(zone.zone_id, zone.metrics.len() as u32));
            }
            for (layer, metrics) in zone.layers.layers().iter().zip(&mut zone.metrics) {
                metrics.tick_duration.record(work_us as f64 / 1e6);
                metrics.players.set(layer.player_count() as f64);
                metrics.publish(layer.counters());
            }
            self.gauges.last_tick_work_us.store(work_us, Ordering::Relaxed);
        }
        self.gauges.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// Hands a zone's snapshots (unreliable) and events (reliable) to the sessions.
    fn deliver_outputs(&mut self, zone_index: usize) {
        let zone = &mut self.zones[zone_index];
        for output in &zone.outputs {
            for snapshot in &output.snapshots {
                let Some(&session_id) = self.clients.get(&snapshot.client) else { continue };
                self.metrics.snapshot_bytes.record(snapshot.bytes.len() as f64);
                self.scratch.clear();
                encode_snapshot_with_input_tick(snapshot.last_input_tick, &snapshot.bytes, &mut self.scratch);
                if self.endpoint.send_unreliable(session_id, &self.scratch).is_err() {
                    self.metrics.drop_counter(DropReason::ChannelFull).increment(1);
                }
            }
            for (client, event) in &output.client_events {
                let Some(&session_id) = self.clients.get(client) else { continue };
                self.scratch.clear();
                encode_event(&event.to_wire(), &mut self.scratch);
                if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                    self.metrics.drop_counter(DropReason::ChannelFull).increment(1);
                }
            }
        }
    }

    fn queue_send(&mut self, bytes: &[u8], to: SocketAddr) {
        // A refused send is counted by the I/O backend (`sends_dropped_queue_full`) and published.
        self.io.queue_send(bytes, to);
        self.sends_queued = true;
    }

    /// Queues every datagram the endpoint has due and flushes them in one batch.
    fn transmit(&mut self) {
        let now_us = self.clock.now_us();
        while let Some(transmit) = self.endpoint.poll_transmit(now_us) {
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
        self.metrics.packets_in.increment(stats.datagrams_received - p.datagrams_received);
        self.metrics.packets_out.increment(stats.datagrams_sent - p.datagrams_sent);
        self.metrics.bytes_in.increment(stats.bytes_received - p.bytes_received);
        self.metrics.bytes_out.increment(stats.bytes_sent - p.bytes_sent);
        self.metrics.drop_counter(DropReason::Truncated).increment(stats.recv_truncated - p.recv_truncated);
        self.metrics.drop_counter(DropReason::SendError).increment(stats.send_errors - p.send_errors);
        self.metrics
            .drop_counter(DropReason::SendQueueFull)
            .increment(stats.sends_dropped_queue_full - p.sends_dropped_queue_full);
        self.metrics.sessions.set(self.sessions.len() as f64);
        self.gauges.sessions.store(self.sessions.len() as u64, Ordering::Relaxed);
        self.published = stats;
    }
}

