//! The HTTPS login API: accounts, characters, and the connect tokens that let a client into a zone.
//!
//! `POST /auth/register` and `POST /auth/login` (a JWT for the rest of the API), `GET /characters`,
//! `POST /characters`, `POST /characters/{id}/play` (a connect token sealed with the cluster key for
//! the character's zone and the game address that serves it, from a [`ZoneDirectory`]). Accounts and
//! characters live in Postgres; passwords are argon2id hashes. Every error is a JSON body
//! `{"error": "<stable_code>", "message": "..."}` with its status, and never carries an internal
//! detail (SQL text, a driver error): those are logged and answered as `internal`.
//!
//! TLS only, with rustls on the `ring` provider: a development certificate is made at start when no
//! certificate path is given. Brute force is limited per client IP (a token bucket, tower_governor)
//! and per account name (a small failure window of our own, [`limits::LoginFailures`]).
//!
//! Files: `config.rs` (the configuration), `error.rs` (start-up errors and API errors),
//! `db.rs` (pool, migrations, statements), `password.rs` (argon2id, bounded hashing slots),
//! `jwt.rs`, `limits.rs` (per-account failure window, sans-IO), `names.rs` (input rules),
//! `directory.rs` ([`ZoneDirectory`]), `tls.rs`, `handlers.rs` (the endpoints), `server.rs`
//! (bind and serve).
#![forbid(unsafe_code)]

mod config;
mod db;
mod directory;
mod error;
mod handlers;
mod jwt;
pub mod limits;
pub mod names;
mod password;
mod server;
mod tls;

pub use config::{Argon2Cost, AuthConfig, AuthLimits, TlsSource};
pub use db::migrate as migrate_database;
pub use directory::{StaticZoneDirectory, ZoneDirectory, ZoneServer};
pub use error::AuthError;
pub use password::{hash_password, verify_password};
pub use server::{AuthServer, bind, bind_with_routes, serve};
