//! `meridian-node`: serves a node's UDP workers, or probes a running node.

use std::{
    io::IsTerminal,
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use meridian_node::{
    dgram_io::IoBackend,
    edge::{EdgeConfig, RateLimit, XdpMode},
    hot::HotSettings,
    metrics,
    node::{EdgeSettings, Node, NodeConfig},
    persistence::PersistenceSettings,
    probe,
    ws::{WsConfig, WsLimits, WsTls},
};
use meridian_proto::token::CLUSTER_KEY_BYTES;
use meridian_zone::ZoneConfig;

#[derive(Parser)]
#[command(version, about = "Meridian node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum IoFlag {
    /// io_uring: multishot recvmsg over a provided-buffer ring, batched sends.
    Uring,
    /// Portable: recvmmsg / sendmmsg.
    Mmsg,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size difference between the subcommands costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the node: zone workers (one thread and one socket each, sharing the address via
    /// SO_REUSEPORT) serving game sessions, and the Prometheus metrics endpoint.
    Serve {
        #[arg(long, default_value = "127.0.0.1:7777")]
        listen: SocketAddr,
        /// Worker threads; default: one per core.
        #[arg(long)]
        workers: Option<usize>,
        #[arg(long, value_enum, default_value = "uring")]
        io: IoFlag,
        /// Where `GET /metrics` is served.
        #[arg(long, default_value = "127.0.0.1:9100")]
        metrics_listen: SocketAddr,
        /// The cluster key connect tokens are sealed with (64 hex digits).
        #[arg(long, env = "MERIDIAN_CLUSTER_KEY_HEX")]
        cluster_key_hex: String,
        /// Zones this node hosts; zone z runs on worker z mod workers.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        zones: Vec<u32>,
        #[arg(long, default_value_t = 20)]
        tick_hz: u32,
        /// The cluster's tick origin (Unix seconds): tick n of every zone on every node is due at
        /// this instant + n ticks, so zones agree on tick numbers (node clocks kept by NTP). Every
        /// node of a cluster must be given the same value.
        #[arg(long, default_value_t = meridian_zone::TICK_EPOCH_US_DEFAULT / 1_000_000)]
        tick_epoch_unix_s: u64,
        /// New players spawn within this radius (m) of the zone's spawn point, each at a point
        /// fixed by its character id; 0 puts everyone on the one point (a world-boss crowd).
        #[arg(long, default_value_t = 0.0)]
        spawn_radius_m: f32,
        /// Stop after this many seconds (default: until SIGTERM or SIGINT, which stop it cleanly).
        #[arg(long)]
        duration_s: Option<u64>,
        /// Run under the control plane: etcd endpoints (comma-separated, e.g.
        /// http://127.0.0.1:2379). The node registers, heartbeats and serves exactly the zones
        /// assigned to it; `--zones` is then ignored. Without it the node is standalone.
        #[arg(long, value_delimiter = ',')]
        control: Vec<String>,
        /// This node's id in the registry (default: the hostname and the game port).
        #[arg(long)]
        node_id: Option<String>,
        /// The game address clients are told to use (default: `--listen`).
        #[arg(long)]
        advertise: Option<SocketAddr>,
        /// Players this node accepts in total (the assigner balances by it; 0 drains the node).
        #[arg(long, default_value_t = 4_000)]
        capacity_players: u32,
        /// Registry lease TTL: the node counts as dead this long after its last keep-alive.
        #[arg(long, default_value_t = 3)]
        lease_ttl_s: i64,
        /// With `--control`: listen for the node link here (TCP; port 0: any) and hand players to
        /// and from zones on other nodes (tickets, commits by etcd, ghosts, forwarded datagrams).
        #[arg(long)]
        link_listen: Option<SocketAddr>,
        /// With `--link-listen`: this node's underlay IPv4 address, advertised for edge forwarding.
        #[arg(long)]
        underlay_addr: Option<std::net::Ipv4Addr>,
        /// Run behind the XDP edge on this interface (the one game traffic arrives on, in this
        /// network namespace): malformed, unknown-session, badly tagged, replayed and over-rate
        /// packets are dropped in the kernel and sessions are steered to their zone's worker.
        #[arg(long)]
        xdp_iface: Option<String>,
        /// How XDP attaches: `native` (the driver; veth and most NICs), `skb` (generic, any
        /// interface, slower), `off` (no edge even with `--xdp-iface`).
        #[arg(long, value_enum, default_value = "native")]
        xdp_mode: XdpModeFlag,
        /// Edge: sealed packets per second one source address may send (many players behind one
        /// NAT share it: a client sends 20-60 a second).
        #[arg(long, default_value_t = EdgeConfig::for_port(0).source.rate_per_s)]
        edge_source_pps: u32,
        /// Edge: burst of sealed packets one source may send above its rate.
        #[arg(long, default_value_t = EdgeConfig::for_port(0).source.burst)]
        edge_source_burst: u32,
        /// Edge: ConnectionRequests per second one source address may send (a client resends one
        /// every 100 ms while it waits; a NAT or a bot swarm on one address needs more).
        #[arg(long, default_value_t = EdgeConfig::for_port(0).request_source.rate_per_s)]
        edge_request_pps: u32,
        /// Edge: burst of ConnectionRequests one source may send above its rate.
        #[arg(long, default_value_t = EdgeConfig::for_port(0).request_source.burst)]
        edge_request_burst: u32,
        /// Edge: this node's underlay IPv4 address (its own address on the uplink, not the VIP).
        /// With it the edge forwards the packets of sessions another node behind the same VIP owns
        /// (IP-in-IP in XDP) and decapsulates what other nodes forward here (infra/README.md).
        #[arg(long)]
        edge_underlay: Option<std::net::Ipv4Addr>,
        /// Persist pick-ups, trades and checkpoints in the economy: one Postgres connection string
        /// per shard, comma-separated, in shard order (migrations run when the shards are first
        /// reached; until then pick-ups and trades are refused as unavailable while play goes on).
        /// Without it nothing is persisted: pick-up claims stay pending in their zone and are
        /// never granted.
        #[arg(long, value_delimiter = ',')]
        economy_shards: Vec<String>,
        /// How often the write-behind checkpoint queue is flushed to the shards.
        #[arg(long, default_value_t = meridian_economy::checkpoint::CHECKPOINT_INTERVAL_S)]
        checkpoint_interval_s: u64,
        /// How often each worker pushes its players' state (position, stats) into the queue.
        #[arg(long, default_value_t = 5)]
        checkpoint_push_interval_s: u64,
        /// The game event log: Kafka bootstrap servers (`host:port,...`). Logins, kills and
        /// committed loot and trades are produced to `--event-topic` through a bounded buffer
        /// (a full buffer drops and counts; the tick never waits). Rides the persistence bridge:
        /// needs `--economy-shards`.
        #[arg(long, requires = "economy_shards")]
        kafka: Option<String>,
        #[arg(long, default_value = "meridian.events")]
        event_topic: String,
        /// Hot state in Redis (`redis://host:port`): global chat across every node subscribed to
        /// the same Redis, each zone's NPCs and loot saved every `--zone-state-interval-ms` and
        /// restored when the zone starts here, and `Session:<id>` records. Without it global chat
        /// is refused and zones start from their initial state.
        #[arg(long)]
        redis: Option<String>,
        /// How often each zone's NPCs and loot are offered to the Redis writer.
        #[arg(long, default_value_t = 5_000)]
        zone_state_interval_ms: u64,
        /// TTL of a `Session:<id>` record in Redis (refreshed every third of it while connected).
        #[arg(long, default_value_t = 60)]
        session_ttl_s: u64,
        /// A seamless world: `--zones` tile a grid of this many columns (row-major), each zone
        /// `--zone-size-m` square; players crossing a border are handed over without reconnecting
        /// (between zones of one worker; `--workers 1` keeps every zone on one). 0: each zone is a
        /// world of its own.
        #[arg(long, default_value_t = 0)]
        world_columns: u32,
        #[arg(long, default_value_t = 512.0)]
        zone_size_m: f32,
        /// How far past a border a player walks before the handoff (so walking along it does not
        /// flap).
        #[arg(long, default_value_t = 4.0)]
        handoff_margin_m: f32,
        /// Serve browsers here: a WebSocket gateway (WSS) carrying the same packets as UDP, one
        /// per binary message, into the same workers. Without it the node has no gateway.
        #[arg(long)]
        ws_listen: Option<SocketAddr>,
        /// The gateway's certificate chain and key (PEM). Without them (and without
        /// `--ws-plain`) a self-signed development certificate for localhost is made at start
        /// (written to `--ws-dev-cert-out` for clients to trust).
        #[arg(long, requires_all = ["ws_listen", "ws_tls_key"])]
        ws_tls_cert: Option<std::path::PathBuf>,
        #[arg(long, requires = "ws_tls_cert")]
        ws_tls_key: Option<std::path::PathBuf>,
        /// Plain WebSocket without TLS: development only, refused unless `--ws-listen` is a
        /// loopback address.
        #[arg(long, requires = "ws_listen", conflicts_with = "ws_tls_cert")]
        ws_plain: bool,
        /// Where the development certificate's PEM is written.
        #[arg(long, requires = "ws_listen")]
        ws_dev_cert_out: Option<std::path::PathBuf>,
        /// The URL browsers are told (the registry record, play tickets); default
        /// `wss://<ws-listen>/`.
        #[arg(long, requires = "ws_listen")]
        ws_public_url: Option<String>,
        /// Gateway limits: messages per second per connection, and connections per address.
        #[arg(long, default_value_t = meridian_node::ws::WsLimits::default().messages_per_s)]
        ws_messages_per_s: u32,
        #[arg(long, default_value_t = meridian_node::ws::WsLimits::default().connections_per_ip_max)]
        ws_connections_per_ip: u32,
    },
    /// Send liveness probes to a node and print which worker answered each.
    Probe {
        addr: SocketAddr,
        #[arg(long, default_value_t = 4)]
        count: u64,
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
}

fn main() -> anyhow::Result<()> {
    // Logs go to stderr: stdout is for what a command prints (probe results), and a supervisor
    // or script can route the two apart. Colour only on a terminal: a log file or journal gets
    // plain text, not escape codes.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            workers,
            io,
            metrics_listen,
            cluster_key_hex,
            zones,
            tick_hz,
            tick_epoch_unix_s,
            spawn_radius_m,
            duration_s,
            control,
            node_id,
            advertise,
            capacity_players,
            lease_ttl_s,
            link_listen,
            underlay_addr,
            xdp_iface,
            xdp_mode,
            edge_source_pps,
            edge_source_burst,
            edge_request_pps,
            edge_request_burst,
            edge_underlay,
            economy_shards,
            checkpoint_interval_s,
            checkpoint_push_interval_s,
            kafka,
            event_topic,
            redis,
            zone_state_interval_ms,
            session_ttl_s,
            world_columns,
            zone_size_m,
            handoff_margin_m,
            ws_listen,
            ws_tls_cert,
            ws_tls_key,
            ws_plain,
            ws_dev_cert_out,
            ws_public_url,
            ws_messages_per_s,
            ws_connections_per_ip,
        } => {
            let world = if world_columns == 0 {
                None
            } else {
                let columns = world_columns;
                let rows = (zones.len() as u32).div_ceil(columns);
                anyhow::ensure!(
                    columns * rows == zones.len() as u32,
                    "--zones ({}) must fill a {columns}-column grid",
                    zones.len()
                );
                Some(
                    meridian_zone::WorldLayout::new(
                        [0.0, 0.0],
                        [zone_size_m, zone_size_m],
                        columns,
                        rows,
                        zones.clone(),
                        handoff_margin_m,
                    )
                    .context("the world layout")?,
                )
            };
            let node_id = node_id.unwrap_or_else(|| default_node_id(listen));
            let hot = redis.map(|redis_url| HotSettings {
                zone_state_interval_ms,
                session_ttl_s,
                ..HotSettings::new(redis_url, node_id.clone())
            });
            let persistence = (!economy_shards.is_empty()).then(|| PersistenceSettings {
                checkpoint_interval_s,
                checkpoint_push_interval_s,
                event_log: kafka.map(|bootstrap| meridian_events::EventLogConfig {
                    client_id: node_id.clone(),
                    ..meridian_events::EventLogConfig::new(bootstrap, event_topic)
                }),
                ..PersistenceSettings::new(economy_shards)
            });
            let ws = ws_listen.map(|listen| {
                let tls = match (ws_tls_cert, ws_tls_key) {
                    (Some(cert_path), Some(key_path)) => WsTls::Files { cert_path, key_path },
                    _ if ws_plain => WsTls::Plain,
                    _ => WsTls::Development {
                        subject_alt_names: vec!["localhost".into(), listen.ip().to_string()],
                    },
                };
                let limits = WsLimits {
                    messages_per_s: ws_messages_per_s,
                    messages_burst: ws_messages_per_s.saturating_mul(2),
                    connections_per_ip_max: ws_connections_per_ip,
                    ..WsLimits::default()
                };
                WsFlags {
                    config: WsConfig {
                        listen,
                        tls,
                        public_url: ws_public_url,
                        limits,
                    },
                    dev_cert_out: ws_dev_cert_out,
                }
            });
            let cluster_key = parse_key_hex(&cluster_key_hex).context("--cluster-key-hex must be 64 hex digits")?;
            let backend = match io {
                IoFlag::Uring => IoBackend::IoUring,
                IoFlag::Mmsg => IoBackend::Mmsg,
            };
            let zone_config = ZoneConfig {
                tick_hz,
                player_spawn_radius_m: spawn_radius_m,
                tick_epoch_us: Some(tick_epoch_unix_s.saturating_mul(1_000_000)),
                // One id per entity in the whole world: handoffs keep ids, ghosts carry them.
                entity_ids_by_zone: true,
                ..ZoneConfig::default()
            };
            let control = (!control.is_empty()).then(|| ControlFlags {
                etcd_endpoints: control,
                node_id,
                advertise: advertise.unwrap_or(listen),
                capacity_players,
                lease_ttl_s,
                link_listen,
                underlay_addr,
            });
            let edge = match (xdp_iface, xdp_mode) {
                (None, _) | (_, XdpModeFlag::Off) => None,
                (Some(interface), mode) => Some(EdgeSettings {
                    interface,
                    mode: match mode {
                        XdpModeFlag::Skb => XdpMode::Skb,
                        _ => XdpMode::Driver,
                    },
                    config: EdgeConfig {
                        source: RateLimit {
                            rate_per_s: edge_source_pps,
                            burst: edge_source_burst,
                        },
                        request_source: RateLimit {
                            rate_per_s: edge_request_pps,
                            burst: edge_request_burst,
                        },
                        underlay_ipv4: edge_underlay.map_or([0; 4], |address| address.octets()),
                        ..EdgeConfig::for_port(listen.port())
                    },
                }),
            };
            serve(
                world,
                listen,
                workers,
                backend,
                metrics_listen,
                cluster_key,
                zones,
                zone_config,
                duration_s,
                control,
                edge,
                persistence,
                hot,
                ws,
            )
        }
        Command::Probe {
            addr,
            count,
            timeout_ms,
        } => run_probe(addr, count, timeout_ms),
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum XdpModeFlag {
    Native,
    Skb,
    Off,
}

/// `--ws-listen` and the flags that go with it.
struct WsFlags {
    config: WsConfig,
    dev_cert_out: Option<std::path::PathBuf>,
}

/// `--control` and the flags that go with it.
struct ControlFlags {
    etcd_endpoints: Vec<String>,
    node_id: String,
    advertise: SocketAddr,
    capacity_players: u32,
    lease_ttl_s: i64,
    link_listen: Option<SocketAddr>,
    underlay_addr: Option<std::net::Ipv4Addr>,
}

fn default_node_id(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "node".into());
    format!("{}-{}", host.trim(), listen.port())
}

fn parse_key_hex(hex: &str) -> Option<[u8; CLUSTER_KEY_BYTES]> {
    let hex = hex.trim();
    if hex.len() != 2 * CLUSTER_KEY_BYTES {
        return None;
    }
    let mut key = [0u8; CLUSTER_KEY_BYTES];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    world: Option<meridian_zone::WorldLayout>,
    listen: SocketAddr,
    workers: Option<usize>,
    backend: IoBackend,
    metrics_listen: SocketAddr,
    cluster_key: [u8; CLUSTER_KEY_BYTES],
    zones: Vec<u32>,
    zone_config: ZoneConfig,
    duration_s: Option<u64>,
    control: Option<ControlFlags>,
    edge: Option<EdgeSettings>,
    persistence: Option<PersistenceSettings>,
    hot: Option<HotSettings>,
    ws: Option<WsFlags>,
) -> anyhow::Result<()> {
    // A stop signal sets a flag the main loop polls: the workers then finish their tick, say
    // nothing more and join, and the exit status is 0 (systemd's and the tests' clean stop).
    let stop_requested = Arc::new(AtomicBool::new(false));
    // A second signal while the stop hangs exits at once (status 1): the conditional exit is
    // registered first, so it sees the flag the first signal set.
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop_requested))
            .context("installing signal handlers")?;
        signal_hook::flag::register(signal, Arc::clone(&stop_requested)).context("installing signal handlers")?;
    }
    let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let exporter = metrics::install_exporter(metrics_listen).context("starting the metrics endpoint")?;
    zone_config.validate().context("zone settings")?;
    let (tick_hz, spawn_radius_m) = (zone_config.tick_hz, zone_config.player_spawn_radius_m);
    // Under the control plane the node starts with no zone and serves what it is assigned.
    let zones = if control.is_some() { Vec::new() } else { zones };
    let world_size_m = world.as_ref().map(meridian_zone::WorldLayout::world_size_m);
    let node = Arc::new(Node::start(NodeConfig {
        listen,
        workers,
        backend,
        cluster_key,
        zones: zones.clone(),
        zone_config,
        session_events: control.is_some(),
        edge,
        persistence,
        hot,
        world,
    })?);
    // The gateway before the agent: the node's registry record names its URL.
    let gateway = match ws {
        None => None,
        Some(flags) => {
            let gateway = node
                .start_websocket(flags.config)
                .context("starting the WebSocket gateway")?;
            if let (Some(path), Some(pem)) = (flags.dev_cert_out, gateway.dev_cert_pem()) {
                std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(path = %path.display(), "WebSocket development certificate written");
            }
            Some(gateway)
        }
    };
    let websocket_url = gateway.as_ref().map(|gateway| gateway.url().to_string());
    exporter.serve_world(meridian_node::world_view::NodeWorld::new(
        control.as_ref().map(|flags| flags.node_id.clone()),
        control.as_ref().map_or(listen, |flags| flags.advertise).to_string(),
        world_size_m,
        node.gauges(),
    ));
    let agent_stop = Arc::new(AtomicBool::new(false));
    let agent = match control {
        None => None,
        Some(flags) => {
            let config = meridian_node::agent::AgentConfig {
                etcd_endpoints: flags.etcd_endpoints,
                node_id: flags.node_id,
                game_addr: flags.advertise.to_string(),
                workers: workers as u32,
                capacity_players: flags.capacity_players,
                lease_ttl_s: flags.lease_ttl_s,
                websocket_url: websocket_url.clone(),
                metrics_addr: Some(exporter.local_addr().to_string()),
                link: flags.link_listen.map(|listen| meridian_node::agent::LinkSettings {
                    listen,
                    underlay_addr: flags.underlay_addr,
                    cluster_key,
                }),
                link_addr: None,
                underlay_addr: None,
            };
            tracing::info!(node_id = %config.node_id, etcd = ?config.etcd_endpoints, "running under the control plane");
            let (node, stop) = (Arc::clone(&node), Arc::clone(&agent_stop));
            Some(
                std::thread::Builder::new()
                    .name("control-agent".into())
                    .spawn(move || meridian_node::agent::run(node, config, stop))?,
            )
        }
    };
    tracing::info!(%listen, workers, ?backend, %metrics_listen, ?zones, tick_hz, spawn_radius_m, "meridian-node serving");
    let started = std::time::Instant::now();
    let mut edge_published = std::time::Instant::now();
    while node.running()
        && !stop_requested.load(Ordering::Relaxed)
        && duration_s.is_none_or(|d| started.elapsed() < Duration::from_secs(d))
    {
        std::thread::sleep(Duration::from_millis(50));
        if edge_published.elapsed() >= Duration::from_secs(1) {
            edge_published = std::time::Instant::now();
            metrics::publish_edge_counts(&node);
        }
    }
    // The agent leaves the registry first (the zones move at once instead of after the lease TTL).
    agent_stop.store(true, Ordering::Relaxed);
    // No new browser packets once the node stops.
    if let Some(gateway) = gateway {
        gateway.stop();
    }
    if let Some(agent) = agent {
        match agent.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "control plane agent"),
            Err(_) => tracing::warn!("control plane agent panicked"),
        }
    }
    let node =
        Arc::try_unwrap(node).map_err(|_| anyhow::anyhow!("the node is still shared after the agent stopped"))?;
    if !node.running() {
        let error = node
            .stop()
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("a zone worker stopped on its own"));
        return Err(error.context("a zone worker stopped"));
    }
    tracing::info!(
        signalled = stop_requested.load(Ordering::Relaxed),
        "meridian-node stopping"
    );
    let gauges = node.gauges();
    node.stop()?;
    for (index, g) in gauges.iter().enumerate() {
        tracing::info!(
            worker = index,
            sessions = g.sessions.load(Ordering::Relaxed),
            ticks = g.ticks.load(Ordering::Relaxed),
            late_ticks = g.late_ticks.load(Ordering::Relaxed),
            "worker stopped"
        );
    }
    Ok(())
}

fn run_probe(addr: SocketAddr, count: u64, timeout_ms: u64) -> anyhow::Result<()> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
    let mut answered = 0;
    for nonce in 0..count {
        // A fresh source port per probe lets SO_REUSEPORT hash probes onto different workers.
        let socket = UdpSocket::bind(bind)?;
        socket.set_read_timeout(Some(Duration::from_millis(timeout_ms)))?;
        let started = std::time::Instant::now();
        socket.send_to(&probe::encode_request(nonce), addr)?;
        let mut buf = [0u8; 64];
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => match probe::decode_reply(&buf[..n]) {
                Ok(reply) if reply.nonce == nonce => {
                    answered += 1;
                    println!(
                        "probe {nonce}: worker {} at {from} answered in {:?}",
                        reply.worker_index,
                        started.elapsed()
                    );
                }
                Ok(reply) => println!("probe {nonce}: stale reply for nonce {}", reply.nonce),
                Err(e) => println!("probe {nonce}: malformed reply: {e}"),
            },
            Err(e) => println!("probe {nonce}: no reply within {timeout_ms} ms ({e})"),
        }
    }
    if answered != count {
        bail!("{answered} of {count} probes answered");
    }
    Ok(())
}
