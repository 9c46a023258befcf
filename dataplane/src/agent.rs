//! The node agent: a node run with `--control` registers in etcd under a lease, heartbeats its load,
//! and serves exactly the zones the control plane assigns to it — starting a zone on the worker the
//! assignment names under the assignment's fencing token, stopping it at once when the assignment is
//! revoked or the node's lease is lost (its sessions are told `ZoneMoved`). After a lost lease it
//! registers again for a fresh one (the assigner then gives it zones anew). The registry logic is
//! `meridian_control::registry`; this module only connects it to the running [`Node`].
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use meridian_control::registry::{AssignmentChange, LoadRecord, NodeAgent, NodeConfig, NodeRecord};
use meridian_control::routes::{NodeRouteChange, NodeRouteWriter, RouteWriteStats, SessionChange, follow_node_routes};
use meridian_host::SessionEvent;
use meridian_proto::packet::DisconnectReason;

use crate::metrics::{ROUTE_WRITES, ROUTES_OWNED};
use crate::node::Node;
use crate::worker::WorkerSessionEvent;

/// How often the agent writes the node's load and checks for shutdown.
pub const LOAD_INTERVAL_MS: u64 = 1_000;
/// Longest wait for a connection to etcd, so a stop is never stuck behind an unreachable etcd.
pub const ETCD_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Wait before registering again after the lease was lost or etcd could not be reached.
pub const REGISTER_RETRY_MS: u64 = 1_000;
/// Session opens and closes are gathered this long and written as one batch (one etcd transaction
/// per 64 routes instead of one per session).
pub const ROUTE_FLUSH_MS: u64 = 20;
/// Session events taken per flush at most, so a burst is written over a few flushes rather than
/// holding the agent's loop (assignment changes and the lease come first).
pub const ROUTE_FLUSH_EVENTS_MAX: usize = 4_096;

/// What the agent registers the node as.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub etcd_endpoints: Vec<String>,
    pub node_id: String,
    /// The address clients send game datagrams to (the node's listen address as clients see it).
    pub game_addr: String,
    pub workers: u32,
    pub capacity_players: u32,
    pub lease_ttl_s: i64,
    /// The node's WebSocket gateway URL for browsers (`None`: no gateway).
    pub websocket_url: Option<String>,
    /// Where the node serves `/metrics` and `/world`, advertised in its registry record.
    pub metrics_addr: Option<String>,
    /// Hand players to and from other nodes over the node link (`None`: this node takes no part in
    /// handoffs across nodes).
    pub link: Option<LinkSettings>,
    /// Advertised in the registry record: filled in by [`run`] once the link listens.
    pub link_addr: Option<String>,
    pub underlay_addr: Option<String>,
}

/// The node link of a node under the control plane.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// Where peers dial this node (port 0: any free port; the bound address is advertised).
    pub listen: std::net::SocketAddr,
    /// The node's underlay IPv4 address, advertised for edge forwarding (`None`: no edge).
    pub underlay_addr: Option<std::net::Ipv4Addr>,
    pub cluster_key: [u8; 32],
}

/// How often the agent reads the node link's peers from the game directory.
pub const LINK_PEERS_REFRESH_MS: u64 = 250;

/// Starts the node link, the game directory, the etcd arbiter and the link's demultiplexer, and
/// hands every worker its part; returns the bound link address and what must live as long as them.
async fn start_cross_node(
    node: &Node,
    config: &AgentConfig,
    settings: &LinkSettings,
) -> anyhow::Result<(std::net::SocketAddr, Vec<Box<dyn std::any::Any + Send>>)> {
    use crate::node_link::{LINK_INBOX_FRAMES, LinkConfig, NodeLink, message::LinkMessage};
    let options =
        etcd_client::ConnectOptions::new().with_connect_timeout(Duration::from_millis(ETCD_CONNECT_TIMEOUT_MS));
    let client = etcd_client::Client::connect(config.etcd_endpoints.clone(), Some(options))
        .await
        .context("connecting to etcd for the node link")?;
    let (frames_in, frames) = std::sync::mpsc::sync_channel(LINK_INBOX_FRAMES);
    let (link, bound) = NodeLink::start(
        LinkConfig {
            node_id: config.node_id.clone(),
            listen_addr: settings.listen,
            cluster_key: settings.cluster_key,
        },
        frames_in,
    )
    .await
    .context("starting the node link")?;
    let (directory, directory_handle) = meridian_control::registry::GameDirectory::start(client.clone())
        .await
        .context("reading the game directory")?;
    let workers = node.worker_count();
    let (arbiter, answers) = crate::handoff::EtcdArbiter::start(&tokio::runtime::Handle::current(), client, workers);
    let (inboxes, receivers): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| std::sync::mpsc::sync_channel::<(String, LinkMessage)>(LINK_INBOX_FRAMES))
        .unzip();
    // Frames to the worker they name: a plain thread, as the workers' queues are std channels.
    std::thread::Builder::new()
        .name("node-link-demux".into())
        .spawn(move || {
            for frame in frames {
                let message = match LinkMessage::decode(&frame.bytes) {
                    Ok(message) => message,
                    Err(error) => {
                        metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => frame.from_node.clone(), "reason" => "undecodable").increment(1);
                        tracing::warn!(peer = %frame.from_node, %error, "node link: message dropped");
                        continue;
                    }
                };
                let worker = message.to_worker().unwrap_or(0) as usize;
                let Some(inbox) = inboxes.get(worker) else {
                    metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => frame.from_node.clone(), "reason" => "unknown_worker").increment(1);
                    continue;
                };
                if inbox.try_send((frame.from_node.clone(), message)).is_err() {
                    metrics::counter!("meridian_node_link_frames_dropped_total", "peer" => frame.from_node, "reason" => "worker_inbox_full").increment(1);
                }
            }
        })
        .context("starting the node link's demultiplexer")?;
    let links = receivers
        .into_iter()
        .zip(answers)
        .map(|(inbox, answers)| {
            crate::worker::CrossNode::new(
                config.node_id.clone(),
                link.clone(),
                inbox,
                directory.clone(),
                arbiter.clone(),
                answers,
            )
        })
        .collect();
    node.attach_cross_node(links)?;
    // Peers follow the registry: every live node that advertises a link address.
    let peers = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(LINK_PEERS_REFRESH_MS));
        loop {
            interval.tick().await;
            let live = directory.link_addresses();
            for (peer, addr) in &live {
                link.set_peer(peer, *addr);
            }
            for (peer, _) in link.peers() {
                if !live.contains_key(&peer) {
                    link.remove_peer(&peer);
                }
            }
        }
    });
    tracing::info!(%bound, "node link listening");
    Ok((bound, vec![Box::new(directory_handle), Box::new(AbortOnDrop(peers))]))
}

/// Runs the agent until `stop` is set (then leaves the registry, so the node's zones move at once).
/// Blocks the calling thread; it runs its own single-threaded async runtime.
pub fn run(node: Arc<Node>, config: AgentConfig, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("agent runtime")?;
    let session_events = node.take_session_events().map(|events| Arc::new(Mutex::new(events)));
    runtime.block_on(async move {
        let mut config = config;
        let mut _cross_node = Vec::new();
        if let Some(settings) = config.link.clone() {
            let (bound, keep) = start_cross_node(&node, &config, &settings).await?;
            config.link_addr = Some(bound.to_string());
            config.underlay_addr = settings.underlay_addr.map(|ip| ip.to_string());
            _cross_node = keep;
        }
        while !stop.load(Ordering::Relaxed) {
            match serve_one_lease(&node, &config, &stop, session_events.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    // Whatever went wrong, this node may no longer own anything.
                    stop_every_zone(&node);
                    tracing::warn!(%error, "control plane agent: registering again");
                    tokio::time::sleep(Duration::from_millis(REGISTER_RETRY_MS)).await;
                }
            }
        }
        Ok(())
    })
}

/// One registration: serves assignments until the lease is lost (an error) or `stop` (Ok).
async fn serve_one_lease(
    node: &Node,
    config: &AgentConfig,
    stop: &AtomicBool,
    session_events: Option<Arc<Mutex<Receiver<WorkerSessionEvent>>>>,
) -> anyhow::Result<()> {
    // A connect timeout only: a request timeout would also cut the long-lived keep-alive and watch
    // streams.
    let options =
        etcd_client::ConnectOptions::new().with_connect_timeout(Duration::from_millis(ETCD_CONNECT_TIMEOUT_MS));
    let client = etcd_client::Client::connect(config.etcd_endpoints.clone(), Some(options))
        .await
        .context("connecting to etcd")?;
    let record = NodeRecord {
        id: config.node_id.clone(),
        game_addr: config.game_addr.clone(),
        workers: config.workers,
        capacity_players: config.capacity_players,
        build: concat!("meridian-node ", env!("CARGO_PKG_VERSION")).to_string(),
        websocket: config.websocket_url.clone(),
        metrics_addr: config.metrics_addr.clone(),
        link_addr: config.link_addr.clone(),
        underlay_addr: config.underlay_addr.clone(),
    };
    let registry_config = NodeConfig {
        lease_ttl_s: config.lease_ttl_s,
        load_interval_ms: LOAD_INTERVAL_MS,
        ..NodeConfig::new(record)
    };
    let mut agent = NodeAgent::register(client.clone(), registry_config)
        .await
        .context("registering the node")?;
    let mut changes = agent.take_changes().context("assignment changes already taken")?;
    tracing::info!(node_id = %config.node_id, lease = agent.lease_id(), "registered with the control plane");
    // Route writes run in their own task: an etcd that stops answering must never delay this loop,
    // which is what stops the zones when the lease is lost.
    let tokens: Arc<Mutex<HashMap<u32, i64>>> = Arc::default();
    let writer = session_events.map(|events| {
        let routes = NodeRouteWriter::new(client.clone(), config.node_id.clone(), agent.lease_id());
        AbortOnDrop(tokio::spawn(write_routes(routes, events, Arc::clone(&tokens))))
    });
    let mut routed = follow_node_routes(client, config.node_id.clone());
    // The edge steers by its session map; a route that names another worker (a handoff) moves the
    // session's next packet there.
    let mut edge = node
        .edge_sessions()
        .transpose()
        .context("a handle on the edge's session map")?;
    let mut routed_sessions: HashSet<u64> = HashSet::new();
    let mut load_interval = tokio::time::interval(Duration::from_millis(LOAD_INTERVAL_MS));
    let set_token = |zone: u32, token: Option<i64>| {
        if let Ok(mut tokens) = tokens.lock() {
            match token {
                Some(token) => tokens.insert(zone, token),
                None => tokens.remove(&zone),
            };
        }
    };
    loop {
        if writer.as_ref().is_some_and(|task| task.0.is_finished()) {
            anyhow::bail!("the route writer ended");
        }
        tokio::select! {
            change = changes.recv() => match change {
                Some(AssignmentChange::Assigned { zone, worker, token }) => {
                    set_token(zone, Some(token));
                    if let Err(error) = node.serve_zone(zone, worker as usize, token.max(0) as u64) {
                        tracing::error!(zone, worker, %error, "cannot serve an assigned zone");
                    }
                }
                Some(AssignmentChange::Revoked { zone }) => {
                    set_token(zone, None);
                    if let Err(error) = node.stop_zone(zone, DisconnectReason::ZoneMoved) {
                        tracing::error!(zone, %error, "cannot stop a revoked zone");
                    }
                }
                Some(AssignmentChange::LeaseLost) | None => {
                    stop_every_zone(node);
                    anyhow::bail!("lease lost: every zone stopped");
                }
            },
            change = routed.recv() => {
                // The routes pointing at this node, as etcd says (the edge's session map follows
                // the same stream).
                match change {
                    Some(NodeRouteChange::Routed { session, route }) => {
                        routed_sessions.insert(session);
                        if let Some(edge) = &mut edge
                            && let Err(error) = edge.reroute(session, route.worker, route.zone, route.token.max(0) as u64)
                        {
                            tracing::warn!(%error, session, "re-routing a session at the edge failed");
                        }
                    }
                    Some(NodeRouteChange::Unrouted { session }) => {
                        routed_sessions.remove(&session);
                    }
                    None => anyhow::bail!("the route watch ended"),
                }
                metrics::gauge!(ROUTES_OWNED).set(routed_sessions.len() as f64);
            }
            _ = load_interval.tick() => {
                if stop.load(Ordering::Relaxed) {
                    stop_every_zone(node);
                    agent.leave().await.context("leaving the registry")?;
                    return Ok(());
                }
                agent.report_load(load_of(node));
            }
        }
    }
}

/// Aborts the task when the lease it works under ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every [`ROUTE_FLUSH_MS`], writes the routes of the sessions opened and deletes those of the
/// sessions closed since the last flush, under the node's lease.
async fn write_routes(
    mut routes: NodeRouteWriter,
    events: Arc<Mutex<Receiver<WorkerSessionEvent>>>,
    tokens: Arc<Mutex<HashMap<u32, i64>>>,
) {
    let mut flush = tokio::time::interval(Duration::from_millis(ROUTE_FLUSH_MS));
    let mut batch = Vec::new();
    loop {
        flush.tick().await;
        batch.clear();
        if let Ok(events) = events.lock() {
            batch.extend(
                events
                    .try_iter()
                    .take(ROUTE_FLUSH_EVENTS_MAX)
                    .filter_map(session_change),
            );
        }
        if batch.is_empty() {
            continue;
        }
        if let Ok(tokens) = tokens.lock() {
            routes.set_zone_tokens(tokens.clone());
        }
        publish_route_writes(routes.apply(&batch).await);
    }
}

/// The route change a session event makes (handshakes do not touch routes: the login wrote one).
fn session_change(event: WorkerSessionEvent) -> Option<SessionChange> {
    match event.event {
        // A resumed session's route is written under this node's lease, like a new one.
        SessionEvent::Opened {
            session_id, zone_id, ..
        }
        | SessionEvent::Resumed {
            session_id, zone_id, ..
        } => Some(SessionChange::Opened {
            session: session_id,
            zone: zone_id,
            worker: event.worker as u32,
        }),
        SessionEvent::Closed { session_id, .. } => Some(SessionChange::Closed { session: session_id }),
        SessionEvent::Handshaking { .. } | SessionEvent::HandshakeAbandoned { .. } => None,
    }
}

fn publish_route_writes(stats: RouteWriteStats) {
    for (op, outcome, count) in [
        ("put", "ok", stats.puts),
        ("put", "stale", stats.stale),
        ("delete", "ok", stats.deletes),
        ("delete", "skipped", stats.skipped),
        ("any", "failed", stats.failed),
        ("txn", "sent", stats.txns),
    ] {
        if count > 0 {
            metrics::counter!(ROUTE_WRITES, "op" => op, "outcome" => outcome).increment(count);
        }
    }
}

/// Stops every zone the node serves (a lost lease: another node may own them any moment now).
fn stop_every_zone(node: &Node) {
    for (zone, _) in node.zones() {
        if let Err(error) = node.stop_zone(zone, DisconnectReason::ZoneMoved) {
            tracing::error!(zone, %error, "cannot stop a zone");
        }
    }
}

/// Players per zone and the longest tick work since the last report (reported as the tick p99: an
/// upper bound of it over the interval).
fn load_of(node: &Node) -> LoadRecord {
    let mut players_per_zone = BTreeMap::new();
    let mut tick_work_max_us = 0;
    for gauges in node.gauges() {
        if let Ok(zone_players) = gauges.zone_players.lock() {
            players_per_zone.extend(zone_players.iter().map(|(zone, players)| (*zone, *players)));
        }
        tick_work_max_us = tick_work_max_us.max(gauges.tick_work_max_us.swap(0, Ordering::Relaxed));
    }
    LoadRecord {
        players_per_zone,
        tick_p99_us: tick_work_max_us.min(u64::from(u32::MAX)) as u32,
    }
}
