//! Binding and serving: start-up (pool, migrations, certificate, listener), the router, shutdown.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    response::IntoResponse,
    routing::{get, post},
};
use axum_server::tls_rustls::RustlsConfig;
use tower_governor::{GovernorError, GovernorLayer, governor::GovernorConfigBuilder};

use crate::routes::PendingRoutes;

use super::{
    config::{AuthConfig, JWT_SECRET_BYTES_MIN},
    db,
    directory::ZoneDirectory,
    error::{ApiError, AuthError},
    handlers::{self, AppState},
    jwt::JwtKeys,
    limits::LoginFailures,
    password::{self, HashSlots},
    tls,
};

/// Largest request body: every request is a name and a password or less; 16 KiB leaves room and
/// stops a client from making the server buffer megabytes.
pub const BODY_BYTES_MAX: usize = 16 * 1024;
/// How often idle per-IP buckets are dropped: the per-IP map holds only addresses seen recently.
const IP_BUCKET_PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// A new connection must send its first complete request within this (the TLS handshake has its
/// own 10 s bound in axum-server): a client that opens connections and sends nothing, or a byte at
/// a time, holds a socket and memory for no more than this.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections get this long to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A bound, ready login API: the database is migrated, the certificate loaded, the port taken.
pub struct AuthServer {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    tls: RustlsConfig,
    certificate_pem: Option<String>,
    router: Router,
    prune_ip_buckets: Box<dyn Fn() + Send + Sync>,
}

/// Connects to Postgres, applies the migrations, loads or makes the certificate and binds
/// `config.listen_addr` (port 0 picks a free one; see [`AuthServer::local_addr`]).
pub async fn bind(config: AuthConfig, directory: Arc<dyn ZoneDirectory>) -> Result<AuthServer, AuthError> {
    bind_with_routes(config, directory, None).await
}

/// [`bind`], and `POST /characters/{id}/play` writes the session's route to the registry through
/// `routes` (the control plane; `None`: standalone, no registry).
pub async fn bind_with_routes(
    config: AuthConfig,
    directory: Arc<dyn ZoneDirectory>,
    routes: Option<PendingRoutes>,
) -> Result<AuthServer, AuthError> {
    if config.jwt_secret.len() < JWT_SECRET_BYTES_MIN {
        return Err(AuthError::Config(format!(
            "jwt secret is {} bytes; at least {JWT_SECRET_BYTES_MIN} needed",
            config.jwt_secret.len()
        )));
    }
    let limits = config.limits;
    if limits.ip_burst == 0 || limits.ip_refill_ms == 0 {
        return Err(AuthError::Config("ip_burst and ip_refill_ms must be positive".into()));
    }
    if limits.account_failures_max == 0 || limits.account_failure_window_s == 0 {
        return Err(AuthError::Config(
            "account_failures_max and account_failure_window_s must be positive".into(),
        ));
    }
    if limits.hash_concurrency == 0 || limits.db_pool_size == 0 {
        return Err(AuthError::Config(
            "hash_concurrency and db_pool_size must be positive".into(),
        ));
    }
    let dummy_hash = password::hash_password(config.argon2, "dummy password for unknown names")
        .map_err(|error| AuthError::Config(format!("argon2 cost: {error}")))?;

    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, limits.db_pool_size)?;
    let (tls, certificate_pem) = tls::load(&config.tls).await?;

    let state = Arc::new(AppState {
        pool,
        jwt: JwtKeys::new(&config.jwt_secret, config.jwt_lifetime_s)
            .map_err(|error| AuthError::Config(format!("jwt secret: {error}")))?,
        cluster_key: config.cluster_key,
        argon2: config.argon2,
        hash_slots: Arc::new(HashSlots::new(limits.hash_concurrency, limits.hash_waiters_max)),
        failures: Mutex::new(LoginFailures::new(
            limits.account_failures_max,
            limits.account_failure_window_s,
        )),
        started: Instant::now(),
        directory,
        routes,
        default_zone_id: config.default_zone_id,
        gateway: config.gateway.clone(),
        dummy_hash,
    });

    let governor = GovernorConfigBuilder::default()
        .per_millisecond(limits.ip_refill_ms)
        .burst_size(limits.ip_burst)
        .finish()
        .ok_or_else(|| AuthError::Config("per-IP rate limit".into()))?;
    let limiter = governor.limiter().clone();
    let governor_layer = GovernorLayer::new(Arc::new(governor)).error_handler(|error| match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            ApiError::rate_limited(wait_time, "too many requests from this address; try again later").into_response()
        }
        other => {
            tracing::error!(error = %other, "per-IP limiter failed");
            ApiError::internal().into_response()
        }
    });

    let auth_routes = Router::new()
        .route("/auth/register", post(handlers::register))
        .route("/auth/login", post(handlers::login))
        .layer(governor_layer);
    let router = Router::new()
        .route(
            "/characters",
            get(handlers::list_characters).post(handlers::create_character),
        )
        .route("/characters/{id}/play", post(handlers::play))
        .with_state(state.clone())
        .merge(auth_routes.with_state(state))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX));

    let listener = std::net::TcpListener::bind(config.listen_addr).map_err(|source| AuthError::Bind {
        addr: config.listen_addr,
        source,
    })?;
    listener.set_nonblocking(true).map_err(|source| AuthError::Bind {
        addr: config.listen_addr,
        source,
    })?;
    let local_addr = listener.local_addr().map_err(|source| AuthError::Bind {
        addr: config.listen_addr,
        source,
    })?;
    Ok(AuthServer {
        listener,
        local_addr,
        tls,
        certificate_pem,
        router,
        prune_ip_buckets: Box::new(move || {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }),
    })
}

impl AuthServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `routes` beside the login API (e.g. the operators' `crate::ops::router`). `routes`
    /// must not set a fallback of its own (the API's answers unknown paths).
    pub fn merge_routes(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    /// The development certificate (PEM) clients must trust; `None` with production files.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Serves HTTPS until `shutdown` completes, then lets open requests finish (a few seconds).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), AuthError> {
        let handle = axum_server::Handle::new();
        let shutdown_handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            shutdown_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        });
        let prune = self.prune_ip_buckets;
        let pruner = tokio::spawn(async move {
            let mut interval = tokio::time::interval(IP_BUCKET_PRUNE_INTERVAL);
            loop {
                interval.tick().await;
                prune();
            }
        });
        tracing::info!(addr = %self.local_addr, "login API listening (HTTPS)");
        let result = axum_server::from_tcp_rustls(self.listener, self.tls)
            .map_err(AuthError::Serve)?
            .handle(handle)
            .first_request_timeout(FIRST_REQUEST_TIMEOUT)
            .serve(self.router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .map_err(AuthError::Serve);
        pruner.abort();
        result
    }
}

/// [`bind`] then [`AuthServer::run`]: what the `meridian-control` binary calls.
pub async fn serve(
    config: AuthConfig,
    directory: Arc<dyn ZoneDirectory>,
    routes: Option<PendingRoutes>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AuthError> {
    bind_with_routes(config, directory, routes).await?.run(shutdown).await
}
