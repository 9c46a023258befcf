//! Pools and migrations, one of each per shard (the login API's style: `controlplane/src/auth/db.rs`).

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::EconomyError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How long an operation waits for a pooled connection before it is refused as unavailable: the
/// pool is the bounded queue in front of each shard.
pub const POOL_WAIT_MS: u64 = 2_000;
/// Serialises migrations when several economy instances start at once (refinery does not lock).
const MIGRATION_LOCK_ID: i64 = 0x6d65_7269_6563_6f6e; // "meriecon"

pub fn pool(database_url: &str, size: usize) -> Result<Pool, EconomyError> {
    let mut config: tokio_postgres::Config = database_url
        .parse()
        .map_err(|error| EconomyError::Invalid(format!("database url: {error}")))?;
    // The recycling `ROLLBACK` below warns ("there is no transaction in progress") on every clean
    // checkout; the driver logs each notice. Notices below errors are not wanted on these
    // connections (the operations report failures as errors, never as notices).
    let options = match config.get_options() {
        Some(existing) => format!("{existing} -c client_min_messages=error"),
        None => "-c client_min_messages=error".to_owned(),
    };
    config.options(options);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A caller may drop an operation's future mid-transaction (the node bridge puts a
            // timeout around `apply`): its connection then comes back to the pool inside an open
            // transaction. `Fast` hands it out as it is, and `Clean`/`Verified` would too (their
            // statements run fine inside a transaction). A plain `ROLLBACK` ends any open
            // transaction (outside one it is only a warning), so every connection handed out starts
            // clean; it costs one round trip per checkout.
            recycling_method: RecyclingMethod::Custom("ROLLBACK".to_owned()),
        },
    );
    let wait = Some(std::time::Duration::from_millis(POOL_WAIT_MS));
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(wait)
        .create_timeout(wait)
        .recycle_timeout(wait)
        .build()
        .map_err(|error| EconomyError::Invalid(format!("database pool: {error}")))
}

/// Applies the embedded migrations not yet applied (idempotent), under an advisory lock.
pub async fn migrate(database_url: &str) -> Result<(), EconomyError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let connection = tokio::spawn(connection);
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK_ID])
        .await?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    let _ = client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK_ID])
        .await;
    drop(client);
    let _ = connection.await;
    let report = report.map_err(|error| EconomyError::Database(format!("migrations: {error}")))?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    Ok(())
}

/// Ends whatever transaction `client` is in; a connection whose rollback fails is taken out of
/// the pool (dropped, so the server aborts it) rather than handed to the next operation mid-transaction.
pub async fn rollback(client: Object) {
    if client.batch_execute("ROLLBACK").await.is_err() {
        drop(Object::take(client));
    }
}
