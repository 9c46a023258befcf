//! The economy's errors: whose fault, and whether a retry with the same key can help.

use uuid::Uuid;

/// Why an operation was refused or failed. Every variant but the last four is a rejection of the
/// request itself: nothing was written, and retrying the same request gives the same answer until
/// the state it depends on changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EconomyError {
    #[error("unknown character {0}")]
    UnknownCharacter(i64),
    #[error("character {character} moved to shard {to_shard} (shard map version {map_version})")]
    CharacterMoved {
        character: i64,
        to_shard: usize,
        map_version: i64,
    },
    #[error("unknown item {0}")]
    UnknownItem(Uuid),
    #[error("item {item} is not owned by character {character}")]
    NotOwned { item: Uuid, character: i64 },
    #[error("negative amount {0}")]
    NegativeAmount(i64),
    #[error("stats of {bytes} bytes exceed the limit of {max} bytes")]
    StatsTooLarge { bytes: usize, max: usize },
    #[error("character {0} cannot trade or mail with itself")]
    SelfTrade(i64),
    #[error("stale fencing token {token} for zone {zone_id} (current {current})")]
    StaleFence { zone_id: i64, token: i64, current: i64 },
    #[error("character {character} has {balance}, needs {needed}")]
    InsufficientFunds { character: i64, balance: i64, needed: i64 },
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The shard could not be reached (or no pooled connection came in time). Retry later with the
    /// same key: "if the database is down, you can't trade".
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Lost a lock wait (lock_timeout) or a deadlock check. Retry with the same key.
    #[error("conflict, retry: {0}")]
    Conflict(String),
    /// A cross-shard transaction was prepared but its decision could not be recorded or read; the
    /// recovery task settles it. Retry with the same key after recovery.
    #[error("two-phase transaction {gid} in doubt")]
    InDoubt { gid: String },
    #[error("database error: {0}")]
    Database(String),
}

impl EconomyError {
    /// A retry with the same idempotency key may succeed later.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            EconomyError::Unavailable(_)
                | EconomyError::Conflict(_)
                | EconomyError::InDoubt { .. }
                | EconomyError::CharacterMoved { .. }
        )
    }
}

impl From<tokio_postgres::Error> for EconomyError {
    fn from(error: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match error.code() {
            Some(code)
                if *code == SqlState::LOCK_NOT_AVAILABLE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::QUERY_CANCELED =>
            {
                EconomyError::Conflict(error.to_string())
            }
            Some(code)
                if *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::TOO_MANY_CONNECTIONS =>
            {
                EconomyError::Unavailable(error.to_string())
            }
            Some(_) => EconomyError::Database(error.to_string()),
            // No SQLSTATE: the connection itself failed or closed.
            None => EconomyError::Unavailable(error.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for EconomyError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        EconomyError::Unavailable(error.to_string())
    }
}
