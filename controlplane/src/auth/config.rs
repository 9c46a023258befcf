//! Configuration of the login API.

use std::{net::SocketAddr, path::PathBuf};

use meridian_proto::token::CLUSTER_KEY_BYTES;

/// The shortest JWT secret accepted: HS256 keys shorter than the hash output weaken it.
pub const JWT_SECRET_BYTES_MIN: usize = 32;

/// argon2id cost. Memory in KiB, passes, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Cost {
    /// OWASP's password storage recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
    pub const PRODUCTION: Argon2Cost = Argon2Cost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// Cheap cost for tests only: the smallest memory argon2 accepts for one lane, one pass.
    pub const TEST_ONLY: Argon2Cost = Argon2Cost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

/// Brute-force and load limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthLimits {
    /// Requests to `/auth/*` one client IP may send in a burst...
    pub ip_burst: u32,
    /// ...after which it gets one more every `ip_refill_ms`.
    pub ip_refill_ms: u64,
    /// Failed logins an account name may take within `account_failure_window_s` before logins for
    /// it are refused with 429 until the window ends.
    pub account_failures_max: u32,
    pub account_failure_window_s: u64,
    /// Password hashes computed at once (each holds `memory_kib` and one core for its duration).
    pub hash_concurrency: usize,
    /// Requests that may wait for a hashing slot; beyond this the API answers 503 `busy`.
    pub hash_waiters_max: usize,
    /// Postgres connections in the pool.
    pub db_pool_size: usize,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            ip_burst: 20,
            ip_refill_ms: 500,
            account_failures_max: 5,
            account_failure_window_s: 300,
            hash_concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hash_waiters_max: 256,
            db_pool_size: 16,
        }
    }
}

/// Where the server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// A self-signed certificate made at start for these names (DNS names or IP literals). For
    /// development and tests: clients must trust [`crate::auth::AuthServer::certificate_pem`].
    Development { subject_alt_names: Vec<String> },
    /// PEM files (certificate chain, private key): production.
    Files { cert_path: PathBuf, key_path: PathBuf },
}

/// Everything the login API needs. No `Debug`: it holds the cluster key and the JWT secret.
#[derive(Clone)]
pub struct AuthConfig {
    pub listen_addr: SocketAddr,
    /// `postgres://user@host:port/db`.
    pub database_url: String,
    /// The key game servers open connect tokens with.
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    /// HS256 secret of the API's JWTs; at least [`JWT_SECRET_BYTES_MIN`] bytes.
    pub jwt_secret: Vec<u8>,
    pub jwt_lifetime_s: u64,
    pub argon2: Argon2Cost,
    pub limits: AuthLimits,
    pub tls: TlsSource,
    /// The zone a new character starts in.
    pub default_zone_id: u32,
    /// Returned by `/auth/login` as `gateway`: where the client reaches the game (the edge or, in
    /// standalone mode, the node).
    pub gateway: String,
}

impl AuthConfig {
    /// A configuration with production costs and limits and a development certificate.
    pub fn new(
        listen_addr: SocketAddr,
        database_url: impl Into<String>,
        cluster_key: [u8; CLUSTER_KEY_BYTES],
        jwt_secret: Vec<u8>,
    ) -> Self {
        AuthConfig {
            listen_addr,
            database_url: database_url.into(),
            cluster_key,
            jwt_secret,
            jwt_lifetime_s: 3600,
            argon2: Argon2Cost::PRODUCTION,
            limits: AuthLimits::default(),
            tls: TlsSource::Development {
                subject_alt_names: vec!["localhost".into(), "127.0.0.1".into()],
            },
            default_zone_id: 1,
            gateway: String::new(),
        }
    }
}
