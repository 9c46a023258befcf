//! Settles the two-phase transactions a crash left prepared: those whose gid has `commit` in its
//! coordinator's decision log are committed, every other one is rolled back after `abort` is logged
//! for it (so a coordinator still running cannot commit it afterwards).

use std::time::Duration;

use crate::{
    Economy, EconomyError,
    ops::log_decision,
    twopc::{Decision, GID_PREFIX, gid_coordinator},
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub committed: usize,
    pub rolled_back: usize,
    /// Prepared transactions left for a later run (their shard or coordinator was unreachable).
    pub unresolved: usize,
}

impl Economy {
    /// Resolves our prepared transactions older than `min_age` on every shard. `min_age` only
    /// protects the liveness of transactions still in flight (a live coordinator that loses the race
    /// rolls back): correctness never depends on it. Shards that cannot be reached are counted in
    /// `unresolved`.
    pub async fn recover(&self, min_age: Duration) -> Result<RecoveryReport, EconomyError> {
        let mut report = RecoveryReport::default();
        let pattern = format!("{GID_PREFIX}%");
        for shard in 0..self.pools.len() {
            let Ok(client) = self.client(shard).await else {
                report.unresolved += 1;
                continue;
            };
            let rows = match client
                .query(
                    "select gid from pg_prepared_xacts where gid like $1 and database = current_database() \
                     and prepared < now() - make_interval(secs => $2)",
                    &[&pattern, &min_age.as_secs_f64()],
                )
                .await
            {
                Ok(rows) => rows,
                Err(_) => {
                    report.unresolved += 1;
                    continue;
                }
            };
            for row in rows {
                let gid: String = row.get(0);
                let Some(coordinator) = gid_coordinator(&gid).filter(|&c| c < self.pools.len()) else {
                    tracing::warn!(%gid, "prepared transaction names no known coordinator shard");
                    report.unresolved += 1;
                    continue;
                };
                let decided = match self.client(coordinator).await {
                    Ok(coordinator_client) => log_decision(&coordinator_client, &gid, Decision::Abort, &[shard])
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                };
                let sql = match decided {
                    Some(Decision::Commit) => format!("COMMIT PREPARED '{gid}'"),
                    Some(Decision::Abort) => format!("ROLLBACK PREPARED '{gid}'"),
                    None => {
                        report.unresolved += 1;
                        continue;
                    }
                };
                match client.batch_execute(&sql).await {
                    Ok(()) if decided == Some(Decision::Commit) => report.committed += 1,
                    Ok(()) => report.rolled_back += 1,
                    // Settled concurrently (by the coordinator or another recovery): nothing to do.
                    Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_OBJECT) => {}
                    Err(_) => report.unresolved += 1,
                }
            }
        }
        Ok(report)
    }

    /// Prepared transactions of ours on every shard (in doubt or in flight).
    pub async fn prepared_count(&self) -> Result<usize, EconomyError> {
        let mut total = 0;
        let pattern = format!("{GID_PREFIX}%");
        for shard in 0..self.pools.len() {
            let client = self.client(shard).await?;
            let row = client
                .query_one(
                    "select count(*) from pg_prepared_xacts where gid like $1 and database = current_database()",
                    &[&pattern],
                )
                .await?;
            total += row.get::<_, i64>(0) as usize;
        }
        Ok(total)
    }
}
