//! Postgres: the pool, the embedded migrations, and every statement the API runs (parameterised).

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, error::SqlState};

use super::error::AuthError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How long a request waits for a pooled connection before it is answered `busy`: the pool is
/// the bounded queue in front of Postgres.
const POOL_WAIT_MS: u64 = 2_000;
/// Serialises migrations when several control-plane instances start at once (refinery does not
/// lock). Any constant unique to this schema.
const MIGRATION_LOCK_ID: i64 = 0x6d65_7269_6469_616e; // "meridian"
/// Characters one account may own.
pub const CHARACTERS_PER_ACCOUNT_MAX: i64 = 8;

pub fn pool(database_url: &str, size: usize) -> Result<Pool, AuthError> {
    let config: tokio_postgres::Config = database_url
        .parse()
        .map_err(|error| AuthError::Config(format!("database url: {error}")))?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_millis(POOL_WAIT_MS)))
        .create_timeout(Some(std::time::Duration::from_millis(POOL_WAIT_MS)))
        .build()
        .map_err(|error| AuthError::Config(format!("database pool: {error}")))
}

/// Applies the embedded migrations not yet applied (idempotent), under an advisory lock.
pub async fn migrate(database_url: &str) -> Result<(), AuthError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .map_err(|error| AuthError::Database(format!("connecting for migrations: {error}")))?;
    let connection = tokio::spawn(connection);
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK_ID])
        .await
        .map_err(|error| AuthError::Migrations(error.to_string()))?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    // The lock goes with the session anyway; unlocking just frees it sooner.
    let _ = client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK_ID])
        .await;
    drop(client);
    let _ = connection.await;
    let report = report.map_err(|error| AuthError::Migrations(error.to_string()))?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    Ok(())
}

/// A statement's failure as the handlers need it.
#[derive(Debug)]
pub enum DbError {
    /// A unique constraint: the name is taken.
    Conflict,
    /// No pooled connection within `POOL_WAIT_MS`.
    Busy,
    /// Anything else: logged, answered `internal`.
    Other(String),
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            DbError::Conflict
        } else {
            DbError::Other(error.to_string())
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Timeout(_) => DbError::Busy,
            other => DbError::Other(other.to_string()),
        }
    }
}

pub struct Character {
    pub id: i64,
    pub name: String,
    pub zone_id: u32,
    pub created_at_s: i64,
}

pub async fn insert_account(pool: &Pool, name: &str, password_hash: &str) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "insert into accounts (name, password_hash) values ($1, $2) returning id",
            &[&name, &password_hash],
        )
        .await?;
    Ok(row.get(0))
}

/// (id, password hash) of the account whose name matches case-insensitively.
pub async fn find_account(pool: &Pool, name: &str) -> Result<Option<(i64, String)>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "select id, password_hash from accounts where lower(name) = lower($1)",
            &[&name],
        )
        .await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

fn character(row: &tokio_postgres::Row) -> Character {
    let zone_id: i64 = row.get(2);
    Character {
        id: row.get(0),
        name: row.get(1),
        // The column's check constraint keeps it in u32 range.
        zone_id: u32::try_from(zone_id).unwrap_or(u32::MAX),
        created_at_s: row.get(3),
    }
}

const CHARACTER_COLUMNS: &str = "id, name, zone_id, extract(epoch from created_at)::int8";

pub async fn list_characters(pool: &Pool, account_id: i64) -> Result<Vec<Character>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("select {CHARACTER_COLUMNS} from characters where account_id = $1 order by id"),
            &[&account_id],
        )
        .await?;
    Ok(rows.iter().map(character).collect())
}

/// `Ok(None)`: the account already has [`CHARACTERS_PER_ACCOUNT_MAX`] characters.
pub async fn insert_character(
    pool: &Pool,
    account_id: i64,
    name: &str,
    zone_id: u32,
) -> Result<Option<Character>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!(
                "insert into characters (account_id, name, zone_id) \
                 select $1, $2, $3 where (select count(*) from characters where account_id = $1) < $4 \
                 returning {CHARACTER_COLUMNS}"
            ),
            &[&account_id, &name, &i64::from(zone_id), &CHARACTERS_PER_ACCOUNT_MAX],
        )
        .await?;
    Ok(row.as_ref().map(character))
}

/// The character if it belongs to `account_id` (another account's character is as absent as a
/// missing one).
pub async fn find_character(pool: &Pool, account_id: i64, character_id: i64) -> Result<Option<Character>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("select {CHARACTER_COLUMNS} from characters where id = $1 and account_id = $2"),
            &[&character_id, &account_id],
        )
        .await?;
    Ok(row.as_ref().map(character))
}
