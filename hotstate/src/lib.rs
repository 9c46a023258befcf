//! Meridian's hot state in Redis: what must survive a node failover without a database round trip,
//! and what crosses nodes faster than the event log.
//!
//! - [`SessionStore`] (`session.rs`): `Session:<token-id>` → character, account, node, zone, session
//!   id and the zone's fencing token, with a TTL; written at login, read by the node that takes a
//!   session over after a failover, refreshed while it plays; with the session's keys sealed with the
//!   cluster key and resume hints, indexed per zone (`ZoneSessions:<zone>`) for the zone's next owner.
//! - [`ZoneStateStore`] and [`ZoneStateWriter`] (`zone_state.rs`, `writer.rs`): `ZoneState:<zone>` →
//!   a flatbuffers blob of the zone's NPCs and loot ([`ZoneSnapshot`], `snapshot.rs`, schema
//!   `schemas/fbs/zone_state.fbs`), written every few seconds off the tick through a coalescing slot
//!   per zone, read back by the zone's next owner.
//! - [`GlobalChat`] (`chat.rs`): the global chat channel across nodes over Redis pub/sub, with
//!   per-player rate and length limits ([`ChatLimiter`], sans-IO).
//! - [`RedisLink`] (`link.rs`): the one connection every store shares, with bounded timeouts, so a
//!   dead Redis answers [`HotStateError::Unavailable`] within about a second instead of hanging.
//!
//! Every write that a stale owner could make is fenced by the zone's token (the control plane's
//! assignment revision) inside a Lua script, so the compare and the write are one atomic step on the
//! server: a WATCH/MULTI round trip would need a dedicated connection per transaction, which the
//! shared multiplexed connection cannot give.
#![forbid(unsafe_code)]

mod chat;
mod link;
mod session;
mod snapshot;
mod writer;
mod zone_state;

pub use chat::{
    CHAT_MESSAGES_PER_WINDOW, CHAT_PUBLISH_QUEUE_MAX, CHAT_RATE_WINDOW_MS, CHAT_RECEIVE_QUEUE_MAX, ChatCounters,
    ChatLimiter, ChatRefusal, GLOBAL_CHAT_CHANNEL, GlobalChat, GlobalChatMessage, GlobalChatReceiver,
    LIMITER_PLAYERS_MAX,
};
pub use link::{LinkCounters, REDIS_CONNECT_TIMEOUT, REDIS_OP_TIMEOUT, RedisLink};
pub use session::{
    ResumeHints, SESSION_KEY_PREFIX, SessionRecord, SessionResume, SessionStore, ZONE_SESSIONS_KEY_PREFIX,
    ZONE_SESSIONS_MAX, ZoneSessions,
};
pub use snapshot::{
    LootSnapshot, NpcSnapshot, SnapshotError, ZONE_STATE_BYTES_MAX, ZONE_STATE_LOOT_MAX, ZONE_STATE_NPCS_MAX,
    ZoneSnapshot,
};
pub use writer::{WRITER_ZONES_MAX, WriterCounters, ZoneStateWriter};
pub use zone_state::{ZONE_STATE_KEY_PREFIX, ZoneStateStore};

use thiserror::Error;

/// What a hot-state call can fail with. `Unavailable` is the only one a retry (later) can cure; the
/// caller falls back (a zone restores from Postgres or its initial state, a session needs a login).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HotStateError {
    /// Redis did not answer within the bounded timeouts, refused the connection, or dropped it.
    #[error("redis is unavailable: {reason}")]
    Unavailable { reason: String },
    /// A newer owner has written: the caller's token is stale (it must stop writing for this zone).
    #[error("fenced: the stored token {stored_token} (zone {stored_zone}) is newer than {offered_token}")]
    Fenced {
        stored_zone: u32,
        stored_token: u64,
        offered_token: u64,
    },
    /// What Redis holds under the key cannot be read back (a bug or a foreign writer).
    #[error("the value under {key} is invalid: {reason}")]
    Corrupt { key: String, reason: String },
    /// The caller passed something inconsistent (a snapshot for another zone or token).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A snapshot could not be encoded (over a limit).
    #[error("zone snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    /// Redis answered with an error that a retry will not fix (a script error, a wrong type).
    #[error("redis error: {0}")]
    Redis(String),
}

impl HotStateError {
    /// Stable label for metrics (`meridian_hotstate_errors_total{reason}`).
    pub fn label(&self) -> &'static str {
        match self {
            HotStateError::Unavailable { .. } => "unavailable",
            HotStateError::Fenced { .. } => "fenced",
            HotStateError::Corrupt { .. } => "corrupt",
            HotStateError::InvalidArgument(_) => "invalid_argument",
            HotStateError::Snapshot(_) => "snapshot",
            HotStateError::Redis(_) => "redis",
        }
    }
}

/// Fencing tokens travel as decimal strings and the scripts compare them as strings (length first),
/// because Lua numbers are doubles and would round tokens above 2^53.
fn token_arg(token: u64) -> String {
    token.to_string()
}
