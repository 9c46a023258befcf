//! `meridian-control`: the control plane's processes. `assigner` campaigns for the zone-assigner
//! leadership in etcd and, while it leads, keeps every configured zone assigned to a live node (run
//! two or more: the others are hot standbys that take over within a lease TTL). `auth` serves the
//! HTTPS login API: accounts and characters in Postgres, connect tokens for the node that serves the
//! character's zone (from etcd, or one fixed game address in standalone mode).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use meridian_control::assigner::{AssignerConfig, AssignerService, AssignerStatus};
use meridian_control::auth::{AuthConfig, AuthLimits, StaticZoneDirectory, TlsSource, ZoneDirectory};
use meridian_control::registry::GameDirectory;
use meridian_control::routes::PendingRoutes;

#[derive(Parser)]
#[command(version, about = "Meridian control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size difference between the subcommands costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Campaign for the assigner leadership; while leading, assign zones to live nodes.
    Assigner {
        /// etcd endpoints, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
        etcd: Vec<String>,
        /// The zones of the world.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        zones: Vec<u32>,
        /// This candidate's id (default: the hostname and the process id).
        #[arg(long)]
        id: Option<String>,
        /// Rebalancing moves per round at most (a dead node's zones always move at once).
        #[arg(long, default_value_t = 4)]
        moves_per_round_max: usize,
        /// Election lease TTL: a standby takes over this long (plus etcd's expiry check, up to
        /// 500 ms) after the leader dies. The default 2 s keeps the takeover within one node lease
        /// TTL (3 s).
        #[arg(long, default_value_t = meridian_control::assigner::ELECTION_LEASE_TTL_S_DEFAULT)]
        lease_ttl_s: i64,
        /// Stop after this many seconds (default: until SIGTERM or SIGINT).
        #[arg(long)]
        duration_s: Option<u64>,
    },
    /// Serve the HTTPS login API.
    Auth {
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        /// Postgres connection string (accounts, characters); migrations run at start.
        #[arg(long, env = "MERIDIAN_DATABASE_URL")]
        database_url: String,
        /// The cluster key connect tokens are sealed with (64 hex digits), shared with the nodes.
        #[arg(long, env = "MERIDIAN_CLUSTER_KEY_HEX")]
        cluster_key_hex: String,
        /// The secret the API's JWTs are signed with (at least 64 hex digits).
        #[arg(long, env = "MERIDIAN_JWT_SECRET_HEX")]
        jwt_secret_hex: String,
        /// etcd endpoints: players are sent to the node the control plane assigned their zone to.
        #[arg(long, value_delimiter = ',')]
        etcd: Vec<String>,
        /// Without `--etcd`: the one game address every zone is served at (a standalone node).
        #[arg(long)]
        game_addr: Option<std::net::SocketAddr>,
        /// With `--game-addr`: that node's WebSocket gateway URL (`wss://…`), named in play
        /// tickets for browsers. Under `--etcd` each node's record carries its own.
        #[arg(long, requires = "game_addr")]
        game_websocket: Option<String>,
        /// TLS certificate and key (PEM); without them a development certificate for localhost is
        /// generated (written to `--dev-cert-out` for clients to trust).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        #[arg(long)]
        tls_key: Option<std::path::PathBuf>,
        #[arg(long)]
        dev_cert_out: Option<std::path::PathBuf>,
        /// The zone new characters start in.
        #[arg(long, default_value_t = 1)]
        default_zone: u32,
        /// Per-client-IP limit on `/auth/*`: requests allowed at once, then one per refill period
        /// (a local bot swarm logs in from one address and needs more).
        #[arg(long, default_value_t = AuthLimits::default().ip_burst)]
        ip_burst: u32,
        #[arg(long, default_value_t = AuthLimits::default().ip_refill_ms)]
        ip_refill_ms: u64,
        /// Stop after this many seconds (default: until SIGTERM or SIGINT).
        #[arg(long)]
        duration_s: Option<u64>,
        /// Without `--etcd`: the standalone node's metrics listener (`host:port`), whose `/world`
        /// the operators' map at `/ops/` shows. With `--etcd` each node's advertised one is used.
        #[arg(long)]
        ops_node_metrics: Option<String>,
    },
    /// Make an account an operator (the world map at `/ops/`): an existing account is promoted, a
    /// missing one is created with the password from `MERIDIAN_OPERATOR_PASSWORD`. The public
    /// register endpoint only ever creates players.
    Operator {
        #[arg(long, env = "MERIDIAN_DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        name: String,
        /// Only needed to create the account.
        #[arg(long, env = "MERIDIAN_OPERATOR_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("runtime")?;
    match Cli::parse().command {
        Command::Assigner {
            etcd,
            zones,
            id,
            moves_per_round_max,
            lease_ttl_s,
            duration_s,
        } => runtime.block_on(run_assigner(
            etcd,
            zones,
            id,
            moves_per_round_max,
            lease_ttl_s,
            duration_s,
        )),
        Command::Auth {
            listen,
            database_url,
            cluster_key_hex,
            jwt_secret_hex,
            etcd,
            game_addr,
            game_websocket,
            tls_cert,
            tls_key,
            dev_cert_out,
            default_zone,
            ip_burst,
            ip_refill_ms,
            duration_s,
            ops_node_metrics,
        } => {
            let cluster_key: [u8; 32] = parse_hex(&cluster_key_hex)
                .and_then(|bytes| bytes.try_into().ok())
                .context("--cluster-key-hex must be 64 hex digits")?;
            let jwt_secret = parse_hex(&jwt_secret_hex)
                .filter(|secret| secret.len() >= 32)
                .context("--jwt-secret-hex must be at least 64 hex digits")?;
            let mut config = AuthConfig::new(listen, database_url, cluster_key, jwt_secret);
            config.default_zone_id = default_zone;
            config.limits.ip_burst = ip_burst;
            config.limits.ip_refill_ms = ip_refill_ms;
            if let (Some(cert_path), Some(key_path)) = (tls_cert, tls_key) {
                config.tls = TlsSource::Files { cert_path, key_path };
            }
            runtime.block_on(run_auth(
                config,
                etcd,
                game_addr,
                game_websocket,
                dev_cert_out,
                duration_s,
                ops_node_metrics,
            ))
        }
        Command::Operator {
            database_url,
            name,
            password,
        } => runtime.block_on(make_operator(database_url, name, password)),
    }
}

fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn run_auth(
    config: AuthConfig,
    etcd: Vec<String>,
    game_addr: Option<std::net::SocketAddr>,
    game_websocket: Option<String>,
    dev_cert_out: Option<std::path::PathBuf>,
    duration_s: Option<u64>,
    ops_node_metrics: Option<String>,
) -> anyhow::Result<()> {
    let mut ops_source = ops_node_metrics.map(|metrics_addr| meridian_control::ops::WorldSource::Static {
        node_id: "standalone".to_owned(),
        metrics_addr,
    });
    // The directory's watches live as long as this function.
    let mut _watches = None;
    let (directory, routes): (Arc<dyn ZoneDirectory>, _) = if !etcd.is_empty() {
        let client = etcd_client::Client::connect(etcd.clone(), None)
            .await
            .with_context(|| format!("connecting to etcd at {etcd:?}"))?;
        let (directory, watches) = GameDirectory::start(client.clone())
            .await
            .context("reading the zone directory")?;
        _watches = Some(watches);
        ops_source = Some(meridian_control::ops::WorldSource::Etcd(Box::new(client.clone())));
        (Arc::new(directory), Some(PendingRoutes::new(client)))
    } else {
        let address = game_addr.context("give --etcd (control plane) or --game-addr (one standalone node)")?;
        let directory = StaticZoneDirectory::new(address);
        let directory = match game_websocket {
            Some(url) => directory.with_websocket(url),
            None => directory,
        };
        (Arc::new(directory), None)
    };
    let ops = match ops_source {
        Some(source) => Some(
            meridian_control::ops::router(meridian_control::ops::OpsConfig {
                database_url: config.database_url.clone(),
                jwt_secret: config.jwt_secret.clone(),
                jwt_lifetime_s: config.jwt_lifetime_s,
                source,
            })
            .context("the operators' world map")?,
        ),
        None => None,
    };
    let server = meridian_control::auth::bind_with_routes(config, directory, routes)
        .await
        .context("starting the login API")?;
    let server = match ops {
        Some(ops) => server.merge_routes(ops),
        None => server,
    };
    if let (Some(path), Some(pem)) = (dev_cert_out, server.certificate_pem()) {
        std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(listen = %server.local_addr(), "login API serving (HTTPS)");
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate() => {}
            _ = async {
                match duration_s {
                    Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    };
    server.run(shutdown).await.context("login API")?;
    Ok(())
}

async fn run_assigner(
    etcd: Vec<String>,
    zones: Vec<u32>,
    id: Option<String>,
    moves_per_round_max: usize,
    lease_ttl_s: i64,
    duration_s: Option<u64>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!zones.is_empty(), "--zones lists no zone");
    let id = id.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "control".into());
        format!("{}-{}", host.trim(), std::process::id())
    });
    let client = etcd_client::Client::connect(etcd.clone(), None)
        .await
        .with_context(|| format!("connecting to etcd at {etcd:?}"))?;
    let config = AssignerConfig {
        moves_per_round_max,
        election_lease_ttl_s: lease_ttl_s,
        ..AssignerConfig::new(id.clone(), zones.clone())
    };
    let service = AssignerService::spawn(client, config);
    let mut status = service.status();
    tracing::info!(%id, ?zones, "assigner candidate campaigning");
    let deadline = async {
        match duration_s {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the assigner service ended");
                }
                let now = *status.borrow();
                tracing::info!(status = ?now, rounds = service.rounds(), moves = service.moves_applied(), "assigner status");
                if matches!(now, AssignerStatus::Stopped) {
                    anyhow::bail!("the assigner service stopped");
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate() => break,
            _ = &mut deadline => break,
        }
    }
    tracing::info!(
        rounds = service.rounds(),
        moves = service.moves_applied(),
        "assigner resigning"
    );
    service.resign().await;
    Ok(())
}

async fn make_operator(database_url: String, name: String, password: Option<String>) -> anyhow::Result<()> {
    meridian_control::auth::names::check_name(&name).map_err(|error| anyhow::anyhow!("--name: {}", error.message()))?;
    let hash = match &password {
        Some(password) => {
            meridian_control::auth::names::check_password(password)
                .map_err(|error| anyhow::anyhow!("the password: {}", error.message()))?;
            Some(
                meridian_control::auth::hash_password(meridian_control::auth::Argon2Cost::PRODUCTION, password)
                    .map_err(|error| anyhow::anyhow!("hashing the password: {error}"))?,
            )
        }
        None => None,
    };
    let change = meridian_control::ops::db::make_operator(&database_url, &name, hash.as_deref())
        .await
        .context("making the operator")?;
    println!("{name}: {change:?}");
    Ok(())
}

/// Resolves on SIGTERM (systemd's stop).
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
