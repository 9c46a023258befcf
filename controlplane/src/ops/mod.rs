//! The operators' live world map, served by the login API's HTTPS server.
//!
//! - `GET /operator/login` (public): the login page; `POST /operator/login` (public): name and
//!   password of an account whose role is `operator` → a JWT with that role (JSON, and a cookie
//!   scoped to `/ops`). A player account is refused with 403 `not_operator`. Limited per client
//!   IP (tower_governor, as `/auth/*`) and per account name (a failure window), with at most two
//!   password checks at once.
//! - Everything under `/ops/` needs that JWT (bearer header or cookie): 401 `unauthorized`
//!   without a valid one, 403 `not_operator` for a valid token without the role, as JSON.
//!   `GET /ops/` the map page, `GET /ops/map.js` its script, `GET /ops/world.json` the data
//!   ([`world`]: etcd's assignments joined with each node's `GET /world`).
//!
//! The page's files (`controlplane/ops-web/`) are embedded in the binary with `include_str!`: a
//! control-plane host needs nothing beside the binary, and the page always matches the JSON the
//! binary serves. Operators are made by `meridian-control operator` ([`db::make_operator`]), never
//! by the public register endpoint (it always creates players).
//!
//! Files: `access.rs` (operator JWTs, login, the `/ops/` guard), `db.rs` (the role column),
//! `world.rs` (the aggregate), this file (configuration and the router).
#![forbid(unsafe_code)]

pub mod access;
pub mod db;
pub mod world;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tower_governor::{GovernorError, GovernorLayer, governor::GovernorConfigBuilder};

use crate::auth::{Argon2Cost, limits::LoginFailures};
use access::{Failures, Operator, OpsKeys, Refusal, VERIFY_SLOTS};
pub use world::{WorldCache, WorldMap, WorldSource};

const LOGIN_HTML: &str = include_str!("../../ops-web/login.html");
const MAP_HTML: &str = include_str!("../../ops-web/index.html");
const MAP_JS: &str = include_str!("../../ops-web/map.js");

/// Postgres connections the operator login holds at most (operators log in rarely).
const POOL_SIZE: usize = 2;
/// Failed operator logins per account before it is locked out for the window.
const FAILURES_MAX: u32 = 5;
const FAILURE_WINDOW_S: u64 = 300;
/// Operator logins one client IP may try at once, then one per refill period.
const LOGIN_IP_BURST: u32 = 20;
const LOGIN_IP_REFILL_MS: u64 = 3_000;
/// Largest operator login body.
const BODY_BYTES_MAX: usize = 4 * 1024;

/// Why the operator routes could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(String),
}

/// What the operator routes need.
pub struct OpsConfig {
    /// The login API's database (accounts and their role).
    pub database_url: String,
    /// The login API's JWT secret: player tokens verify (and are refused as not operators).
    pub jwt_secret: Vec<u8>,
    pub jwt_lifetime_s: u64,
    pub source: WorldSource,
}

/// Shared by the operator handlers.
pub struct OpsState {
    pool: Pool,
    keys: OpsKeys,
    failures: Failures,
    verify_slots: Arc<tokio::sync::Semaphore>,
    dummy_hash: String,
    world: WorldCache,
}

/// The operator routes, ready for [`crate::auth::AuthServer::merge_routes`] (they set no fallback).
pub fn router(config: OpsConfig) -> Result<Router, OpsError> {
    let pg: tokio_postgres::Config = config
        .database_url
        .parse()
        .map_err(|error| OpsError::Config(format!("database url: {error}")))?;
    let pool = Pool::builder(Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    ))
    .max_size(POOL_SIZE)
    .runtime(Runtime::Tokio1)
    .wait_timeout(Some(std::time::Duration::from_secs(2)))
    .create_timeout(Some(std::time::Duration::from_secs(2)))
    .build()
    .map_err(|error| OpsError::Config(format!("database pool: {error}")))?;
    let keys = OpsKeys::new(&config.jwt_secret, config.jwt_lifetime_s)
        .map_err(|error| OpsError::Config(format!("jwt secret: {error}")))?;
    let dummy_hash = crate::auth::hash_password(Argon2Cost::PRODUCTION, "dummy password for unknown operators")
        .map_err(|error| OpsError::Config(format!("argon2: {error}")))?;
    let state = Arc::new(OpsState {
        pool,
        keys,
        failures: Failures {
            window: Mutex::new(LoginFailures::new(FAILURES_MAX, FAILURE_WINDOW_S)),
            started: Instant::now(),
        },
        verify_slots: Arc::new(tokio::sync::Semaphore::new(VERIFY_SLOTS)),
        dummy_hash,
        world: WorldCache::new(config.source),
    });
    // Per client IP, as the login API limits `/auth/*`: a burst, then one attempt per period.
    let governor = GovernorConfigBuilder::default()
        .per_millisecond(LOGIN_IP_REFILL_MS)
        .burst_size(LOGIN_IP_BURST)
        .finish()
        .ok_or_else(|| OpsError::Config("operator login rate limit".into()))?;
    let limited = GovernorLayer::new(Arc::new(governor)).error_handler(|error| match error {
        GovernorError::TooManyRequests { wait_time, .. } => Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many operator logins from this address; try again in {wait_time} s"),
        )
        .into_response(),
        other => {
            tracing::error!(error = %other, "operator login limiter failed");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error").into_response()
        }
    });
    Ok(Router::new()
        .route("/operator/login", axum::routing::post(access::login).layer(limited))
        .route("/operator/login", get(login_page))
        .route("/ops", get(map_page))
        .route("/ops/", get(map_page))
        .route("/ops/map.js", get(map_script))
        .route("/ops/world.json", get(world_json))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state))
}

/// Pages are never cached: a logged-out operator must not see a stale map from the cache.
const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

async fn login_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), NO_STORE],
        LOGIN_HTML,
    )
}

async fn map_page(_: Operator) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), NO_STORE], MAP_HTML)
}

async fn map_script(_: Operator) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), NO_STORE],
        MAP_JS,
    )
}

async fn world_json(State(state): State<Arc<OpsState>>, _: Operator) -> Result<impl IntoResponse, Refusal> {
    let map = state.world.get().await.map_err(|error| {
        tracing::warn!(%error, "ops: reading the world failed");
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "registry_unavailable", error)
    })?;
    let body = serde_json::to_vec(map.as_ref())
        .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error"))?;
    Ok(([(header::CONTENT_TYPE, "application/json"), NO_STORE], body))
}
