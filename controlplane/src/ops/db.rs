//! The operator role in Postgres (`accounts.role`, migration V2).

use deadpool_postgres::Pool;
use tokio_postgres::NoTls;

use super::OpsError;

/// The role column's value for operators (the other one is `player`).
pub const OPERATOR_ROLE: &str = "operator";

/// (id, password hash, role) of the account whose name matches case-insensitively.
pub async fn find_account(pool: &Pool, name: &str) -> Result<Option<(i64, String, String)>, OpsError> {
    let client = pool
        .get()
        .await
        .map_err(|error| OpsError::Database(error.to_string()))?;
    let row = client
        .query_opt(
            "select id, password_hash, role from accounts where lower(name) = lower($1)",
            &[&name],
        )
        .await
        .map_err(|error| OpsError::Database(error.to_string()))?;
    Ok(row.map(|row| (row.get(0), row.get(1), row.get(2))))
}

/// What [`make_operator`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorChange {
    /// A new account was created with the operator role.
    Created,
    /// An existing account (its password unchanged) was given the operator role.
    Promoted,
}

/// Makes `name` an operator: an existing account is promoted (its password stays), a missing one
/// is created with `password_hash` (`None`: refused, a new account needs a password). Runs the
/// migrations first, as the login API does at start.
pub async fn make_operator(
    database_url: &str,
    name: &str,
    password_hash: Option<&str>,
) -> Result<OperatorChange, OpsError> {
    crate::auth::migrate_database(database_url)
        .await
        .map_err(|error| OpsError::Database(error.to_string()))?;
    let (client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .map_err(|error| OpsError::Database(format!("connecting: {error}")))?;
    let connection = tokio::spawn(connection);
    let promoted = client
        .execute(
            "update accounts set role = $2 where lower(name) = lower($1)",
            &[&name, &OPERATOR_ROLE],
        )
        .await
        .map_err(|error| OpsError::Database(error.to_string()))?;
    let change = if promoted > 0 {
        OperatorChange::Promoted
    } else {
        let hash = password_hash
            .ok_or_else(|| OpsError::Config(format!("no account named {name}: give a password to create it")))?;
        client
            .execute(
                "insert into accounts (name, password_hash, role) values ($1, $2, $3)",
                &[&name, &hash, &OPERATOR_ROLE],
            )
            .await
            .map_err(|error| OpsError::Database(error.to_string()))?;
        OperatorChange::Created
    };
    drop(client);
    let _ = connection.await;
    Ok(change)
}
