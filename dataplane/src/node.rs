//! A running node: its zone workers, their sockets and the queues between them.
#![forbid(unsafe_code)]

use std::{
    io::Read,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{SyncSender, TrySendError},
    },
    thread::JoinHandle,
};

use anyhow::Context;
use meridian_proto::packet::DisconnectReason;
use meridian_proto::{
    endpoint::{SERVER_CONNECTIONS_MAX, ServerConfig},
    token::CLUSTER_KEY_BYTES,
};
use meridian_zone::{WorldLayout, ZoneConfig};

use crate::{
    dgram_io::{DatagramIoConfig, IoBackend, bind_reuseport},
    edge::{Edge, EdgeConfig, EdgeCounts, EdgeError, EdgeSessions, XdpMode},
    hot::{HotBridge, HotCounters, HotSettings},
    persistence::{PersistenceBridge, PersistenceCounters, PersistenceSettings},
    worker::{
        FORWARD_QUEUE_DATAGRAMS, Forwarded, SESSION_EVENTS_QUEUE_MAX, WorkerClock, WorkerGauges, WorkerLinks,
        WorkerSessionEvent, WorkerSettings, ZONE_COMMANDS_MAX, ZoneCommand, ZoneDirectory, ZonePlan, ZoneWorker,
    },
};

/// Workers per node at most (worker indices travel as `u16`).
pub const WORKERS_MAX: usize = 256;
/// Receive buffer asked for per worker socket. Clients can tick in phase (a bot swarm, or players
/// whose queued inputs all land after a network hiccup), and then a worker gets a tick's inputs as
/// one burst: at the kernel default (~208 KiB, a few hundred datagrams) a burst from 500 bots
/// overflowed it and the kernel dropped inputs (`RcvbufErrors`) before the worker saw them. Linux
/// caps the request at `net.core.rmem_max` (Debian's default is 208 KiB): a capped buffer is logged
/// as a warning, so an operator sees that `sysctl net.core.rmem_max` must be raised.
pub const SOCKET_RECV_BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct NodeConfig {
    /// The game address: every worker binds it (`SO_REUSEPORT`); tokens must name it.
    pub listen: SocketAddr,
    pub workers: usize,
    pub backend: IoBackend,
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    /// Zones this node hosts; zone z runs on worker z mod workers.
    pub zones: Vec<u32>,
    /// Settings of every zone (its `zone_id` is replaced per zone).
    pub zone_config: ZoneConfig,
    /// Queue the workers' session opens and closes for [`Node::take_session_events`] (the
    /// control-plane agent); off in standalone mode.
    pub session_events: bool,
    /// Run behind the XDP edge (validation, rate limits, steering to the owning worker).
    pub edge: Option<EdgeSettings>,
    /// Persist pick-ups and checkpoints in the economy's shards (`None`: nothing is persisted;
    /// pick-up claims stay pending in their zone and are never granted, as before).
    pub persistence: Option<PersistenceSettings>,
    /// Hot state in Redis: global chat across nodes, zone state, session records (`None`: global
    /// chat is refused as unavailable, zones start from their initial state).
    pub hot: Option<HotSettings>,
    /// The seamless world: zones tile this grid and players crossing a border more than its
    /// margin are handed over without reconnecting — between zones of one worker today (a crossing
    /// into a zone of another worker is counted as `elsewhere` and waits). `None`: every zone is
    /// a world of its own (`zone_config.world_size_m`).
    pub world: Option<WorldLayout>,
}

/// Where and how the node runs its XDP edge.
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// The interface game traffic arrives on (in the node's network namespace).
    pub interface: String,
    pub mode: XdpMode,
    /// Rate limits and windows; its port range must cover the listen port.
    pub config: EdgeConfig,
}

pub struct Node {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<anyhow::Result<()>>>,
    gauges: Vec<Arc<WorkerGauges>>,
    directory: Arc<ZoneDirectory>,
    /// Each worker's zone command queue, by index.
    commands: Vec<SyncSender<ZoneCommand>>,
    session_events: std::sync::Mutex<Option<std::sync::mpsc::Receiver<WorkerSessionEvent>>>,
    /// The loaded, attached edge (`None`: the node runs without). Dropping it detaches both programs.
    edge: Option<std::sync::Mutex<Edge>>,
    persistence: Option<PersistenceBridge>,
    hot: Option<HotBridge>,
    /// Each worker's slot for its links to other nodes (`attach_cross_node`).
    cross_slots: Vec<crate::worker::CrossNodeSlot>,
    /// What the WebSocket gateway needs to put its sessions on the workers' path.
    ws_outbound: Arc<crate::ws::WsOutbound>,
    inboxes: Vec<SyncSender<Forwarded>>,
    clock: WorkerClock,
    cluster_key: [u8; CLUSTER_KEY_BYTES],
}

impl Node {
    /// Hands each worker its links to other nodes (the node agent does, once the node link is
    /// up); a worker takes its own at its next loop. `links` in worker order.
    pub fn attach_cross_node(&self, links: Vec<crate::worker::CrossNode>) -> anyhow::Result<()> {
        anyhow::ensure!(links.len() == self.cross_slots.len(), "one cross-node link per worker");
        for (slot, links) in self.cross_slots.iter().zip(links) {
            *slot
                .lock()
                .map_err(|_| anyhow::anyhow!("a worker's cross-node slot is poisoned"))? = Some(links);
        }
        Ok(())
    }

    /// How many workers the node runs.
    pub fn worker_count(&self) -> usize {
        self.cross_slots.len()
    }

    /// Binds the sockets and starts the workers. Metrics go to whatever recorder is installed.
    pub fn start(config: NodeConfig) -> anyhow::Result<Node> {
        anyhow::ensure!(
            (1..=WORKERS_MAX).contains(&config.workers),
            "workers must be 1..={WORKERS_MAX}"
        );
        let mut zone_config = config.zone_config.clone();
        if let Some(world) = &config.world {
            // Every zone simulates in world coordinates: its bounds are the world's.
            zone_config.world_size_m = world.world_size_m();
        }
        zone_config.validate().context("zone configuration")?;
        let mut challenge_key = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut challenge_key))
            .context("reading /dev/urandom")?;
        let settings = WorkerSettings {
            backend: config.backend,
            io: DatagramIoConfig::default(),
            server: ServerConfig {
                cluster_key: config.cluster_key,
                challenge_key,
                public_address: config.listen,
                connections_max: SERVER_CONNECTIONS_MAX,
            },
            plan: ZonePlan {
                zone_ids: config.zones.clone(),
                workers: config.workers,
            },
            zone_config,
            world: config.world.clone(),
        };
        // Bind every socket before any worker starts, so a bind failure stops start-up cleanly.
        let sockets = (0..config.workers)
            .map(|_| bind_reuseport(config.listen).with_context(|| format!("binding {}", config.listen)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for socket in &sockets {
            let socket = socket2::SockRef::from(socket);
            socket
                .set_recv_buffer_size(SOCKET_RECV_BUFFER_BYTES)
                .context("setting SO_RCVBUF")?;
            let obtained = socket.recv_buffer_size().context("reading SO_RCVBUF")?;
            // Linux doubles the size it grants (room for its own bookkeeping) and reports that.
            if obtained < 2 * SOCKET_RECV_BUFFER_BYTES {
                tracing::warn!(
                    asked = SOCKET_RECV_BUFFER_BYTES,
                    obtained,
                    "socket receive buffer capped by net.core.rmem_max; raise it to absorb input bursts"
                );
            } else {
                tracing::debug!(obtained, "socket receive buffer");
            }
        }
        // The edge goes on before any worker reads: from its first datagram, a session's packets
        // are steered to the worker that owns its zone.
        let mut edge = match &config.edge {
            None => None,
            Some(settings) => {
                anyhow::ensure!(
                    (settings.config.port_first..=settings.config.port_last).contains(&config.listen.port()),
                    "the edge's port range does not cover the listen port {}",
                    config.listen.port()
                );
                let mut edge = Edge::load(settings.config).context("loading the XDP edge")?;
                edge.attach_xdp(&settings.interface, settings.mode)
                    .with_context(|| format!("attaching XDP to {} ({:?})", settings.interface, settings.mode))?;
                edge.attach_steering(&sockets)
                    .context("attaching sk_reuseport steering")?;
                tracing::info!(interface = %settings.interface, mode = ?settings.mode, "XDP edge attached, steering on");
                Some(edge)
            }
        };
        // The economy before the workers: a zone's first pick-up already has somewhere to go.
        let (persistence, mut bridge_links) = match &config.persistence {
            None => (None, Vec::new()),
            Some(settings) => {
                let (bridge, links) = PersistenceBridge::start(settings.clone(), config.workers)?;
                tracing::info!(shards = settings.shard_urls.len(), "persistence bridge started");
                (Some(bridge), links.into_iter().map(Some).collect())
            }
        };
        bridge_links.resize_with(config.workers, || None);
        let (hot, mut hot_links) = match &config.hot {
            None => (None, Vec::new()),
            Some(settings) => {
                let (bridge, links) = HotBridge::start(settings.clone(), config.workers)?;
                tracing::info!(redis = %settings.redis_url, node_id = %settings.node_id, "hot-state bridge started");
                (Some(bridge), links.into_iter().map(Some).collect())
            }
        };
        hot_links.resize_with(config.workers, || None);
        let mut hot_links = hot_links.into_iter();
        let mut bridge_links = bridge_links.into_iter();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..config.workers)
            .map(|_| std::sync::mpsc::sync_channel::<Forwarded>(FORWARD_QUEUE_DATAGRAMS))
            .unzip();
        let stop = Arc::new(AtomicBool::new(false));
        let clock = WorkerClock::new();
        let directory = Arc::new(ZoneDirectory::default());
        let arbiter: Arc<dyn crate::handoff::HandoffArbiter> = Arc::new(crate::handoff::LocalArbiter::default());
        let cross_slots: Vec<crate::worker::CrossNodeSlot> = (0..config.workers).map(|_| Arc::default()).collect();
        for &zone_id in &settings.plan.zone_ids {
            if let Some(worker) = settings.plan.owner(zone_id) {
                directory.set(zone_id, worker);
            }
        }
        let (session_sender, session_receiver) = if config.session_events {
            let (sender, receiver) = std::sync::mpsc::sync_channel(SESSION_EVENTS_QUEUE_MAX);
            (Some(sender), Some(receiver))
        } else {
            (None, None)
        };
        let mut handles = Vec::new();
        let mut gauges = Vec::new();
        let mut commands = Vec::new();
        let ws_outbound = Arc::new(crate::ws::WsOutbound::default());
        for ((index, socket), inbox) in sockets.into_iter().enumerate().zip(receivers) {
            let (stop, settings) = (Arc::clone(&stop), settings.clone());
            let (command_sender, command_receiver) = std::sync::mpsc::sync_channel(ZONE_COMMANDS_MAX);
            commands.push(command_sender);
            let worker_gauges = Arc::new(WorkerGauges::default());
            gauges.push(Arc::clone(&worker_gauges));
            let edge_sessions = match &mut edge {
                Some(edge) => Some(edge.sessions().try_clone().context("a session map handle")?),
                None => None,
            };
            let links = WorkerLinks {
                clock,
                inbox,
                peers: senders.clone(),
                gauges: worker_gauges,
                directory: Arc::clone(&directory),
                commands: command_receiver,
                session_events: session_sender.clone(),
                edge_sessions,
                persistence: bridge_links.next().flatten(),
                hot: hot_links.next().flatten(),
                ws: Arc::clone(&ws_outbound),
                arbiter: Arc::clone(&arbiter),
                cross_node: Some(Arc::clone(&cross_slots[index])),
            };
            handles.push(std::thread::Builder::new().name(format!("zone-worker-{index}")).spawn(
                move || -> anyhow::Result<()> {
                    let mut worker = ZoneWorker::new(index, socket, &settings, links)?;
                    worker.run(&stop)
                },
            )?);
        }
        Ok(Node {
            stop,
            handles,
            gauges,
            directory,
            commands,
            session_events: std::sync::Mutex::new(session_receiver),
            edge: edge.map(std::sync::Mutex::new),
            cross_slots,
            persistence,
            hot,
            ws_outbound,
            inboxes: senders,
            clock,
            cluster_key: config.cluster_key,
        })
    }

    /// Starts the WebSocket gateway: browser sessions on the workers' session path (see
    /// [`crate::ws`]). Stop it before the node.
    pub fn start_websocket(&self, config: crate::ws::WsConfig) -> Result<crate::ws::WsGateway, crate::ws::WsError> {
        let router = crate::ws::Router {
            cluster_key: self.cluster_key,
            directory: Arc::clone(&self.directory),
            peers: self.inboxes.clone(),
            clock: self.clock,
        };
        crate::ws::WsGateway::start(config, Arc::clone(&self.ws_outbound), router)
    }

    /// The WebSocket gateway's counters (zero without a gateway).
    pub fn ws_counters(&self) -> Arc<crate::ws::WsCounters> {
        Arc::clone(self.ws_outbound.counters())
    }

    /// The hot-state bridge's counters (`None`: no `--redis`).
    pub fn hot_counters(&self) -> Option<Arc<HotCounters>> {
        self.hot.as_ref().map(|bridge| Arc::clone(&bridge.counters))
    }

    /// The global chat handle once subscribed (`None`: no `--redis`, or not subscribed yet).
    pub fn global_chat(&self) -> Option<meridian_hotstate::GlobalChat> {
        self.hot.as_ref()?.chat.get().cloned()
    }

    /// The zone-state writer's counters (`None`: no `--redis`).
    pub fn zone_state_writer_counters(&self) -> Option<meridian_hotstate::WriterCounters> {
        self.hot.as_ref().map(|bridge| bridge.writer.counters())
    }

    /// Spawns an NPC wandering around `home_m` in the first layer of `zone_id` (admin and tests).
    pub fn spawn_npc(&self, zone_id: u32, home_m: [f32; 3], loot_item_id: u32) -> anyhow::Result<()> {
        let worker = self
            .directory
            .owner(zone_id)
            .ok_or_else(|| anyhow::anyhow!("zone {zone_id} is not served here"))?;
        self.send(
            worker,
            ZoneCommand::SpawnNpc {
                zone_id,
                home_m,
                loot_item_id,
            },
        )
    }

    /// The persistence bridge's counters (`None`: no economy).
    pub fn persistence_counters(&self) -> Option<Arc<PersistenceCounters>> {
        self.persistence.as_ref().map(|bridge| Arc::clone(&bridge.counters))
    }

    /// The shared checkpoint queue (`None`: no economy).
    pub fn checkpoints(&self) -> Option<Arc<meridian_economy::CheckpointQueue>> {
        self.persistence.as_ref().map(|bridge| Arc::clone(&bridge.checkpoints))
    }

    /// False once any worker has ended (an error or a panic; `stop` reports which).
    pub fn running(&self) -> bool {
        !self.handles.iter().any(|h| h.is_finished())
    }

    pub fn gauges(&self) -> Vec<Arc<WorkerGauges>> {
        self.gauges.clone()
    }

    /// The workers' session opens and closes (once; `None` afterwards or when
    /// `NodeConfig::session_events` was off).
    pub fn take_session_events(&self) -> Option<std::sync::mpsc::Receiver<WorkerSessionEvent>> {
        self.session_events.lock().ok()?.take()
    }

    /// The edge's decision counters (`None`: no edge).
    pub fn edge_counts(&self) -> Option<Result<EdgeCounts, EdgeError>> {
        let edge = self.edge.as_ref()?.lock().ok()?;
        Some(edge.counters())
    }

    /// A handle on the edge's session map, for re-routing sessions (`None`: no edge).
    pub fn edge_sessions(&self) -> Option<Result<EdgeSessions, EdgeError>> {
        let mut edge = self.edge.as_ref()?.lock().ok()?;
        Some(edge.sessions().try_clone())
    }

    /// Every zone this node serves, with its worker.
    pub fn zones(&self) -> Vec<(u32, usize)> {
        self.directory.snapshot()
    }

    /// Serves `zone_id` on `worker` under the control plane's `fencing_token`. A zone already served
    /// by another worker of this node is stopped there first (its sessions are told `ZoneMoved`).
    pub fn serve_zone(&self, zone_id: u32, worker: usize, fencing_token: u64) -> anyhow::Result<()> {
        anyhow::ensure!(worker < self.commands.len(), "worker {worker} out of range");
        if let Some(previous) = self.directory.owner(zone_id).filter(|previous| *previous != worker) {
            self.stop_zone(zone_id, DisconnectReason::ZoneMoved)?;
            tracing::info!(zone_id, from = previous, to = worker, "zone moves between workers");
        }
        self.send(worker, ZoneCommand::Serve { zone_id, fencing_token })?;
        self.directory.set(zone_id, worker);
        Ok(())
    }

    /// Drops loot at `position_m` in the first layer of `zone_id` (admin and tests).
    pub fn spawn_loot(&self, zone_id: u32, position_m: [f32; 3], item_id: u32, quantity: u16) -> anyhow::Result<()> {
        let worker = self
            .directory
            .owner(zone_id)
            .ok_or_else(|| anyhow::anyhow!("zone {zone_id} is not served here"))?;
        self.send(
            worker,
            ZoneCommand::SpawnLoot {
                zone_id,
                position_m,
                item_id,
                quantity,
            },
        )
    }

    /// Stops serving `zone_id` at once (its sessions are told `reason`). Not served: nothing to do.
    pub fn stop_zone(&self, zone_id: u32, reason: DisconnectReason) -> anyhow::Result<()> {
        // Out of the directory first: new connection requests for it are no longer routed to it.
        let Some(worker) = self.directory.remove(zone_id) else {
            return Ok(());
        };
        self.send(worker, ZoneCommand::Stop { zone_id, reason })
    }

    fn send(&self, worker: usize, command: ZoneCommand) -> anyhow::Result<()> {
        self.commands[worker].try_send(command).map_err(|error| match error {
            TrySendError::Full(_) => anyhow::anyhow!("worker {worker}'s zone command queue is full"),
            TrySendError::Disconnected(_) => anyhow::anyhow!("worker {worker} has stopped"),
        })
    }

    /// Stops every worker and returns the first error one of them hit.
    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for handle in self.handles {
            let outcome = handle
                .join()
                .map_err(|_| anyhow::anyhow!("worker panicked"))
                .and_then(|r| r);
            if result.is_ok() {
                result = outcome;
            }
        }
        // After the workers: their last checkpoint pushes are in the queue the bridge flushes.
        if let Some(bridge) = self.persistence {
            bridge.stop();
        }
        if let Some(bridge) = self.hot {
            bridge.stop();
        }
        result
    }
}
