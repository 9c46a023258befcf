//! The economy's invariants, checked across every shard from the ledger: no item with two owners,
//! no item lost from a committed operation and none from nowhere, currency conserved (the sum of
//! balances is what loot minted), every key applied at most once (on exactly the shards that took
//! part), no character on a shard the map does not send it to, no prepared transaction left.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::{Economy, EconomyError, OpOutcome, Operation};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub items: usize,
    pub characters: usize,
    pub balance_total: i64,
    pub minted_total: i64,
    /// Distinct idempotency keys in the ledger.
    pub keys: usize,
    pub prepared: usize,
    pub violations: Vec<String>,
}

impl ReconcileReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

struct LedgerRow {
    participants: i32,
    payload: serde_json::Value,
    outcome: serde_json::Value,
    minted: i64,
    shards: Vec<usize>,
}

impl Economy {
    /// Reads every shard (run it with the workload stopped: a consistent cut across shards is not
    /// taken) and lists every broken invariant.
    pub async fn reconcile(&self) -> Result<ReconcileReport, EconomyError> {
        let mut report = ReconcileReport::default();
        let mut owners: HashMap<Uuid, (usize, i64, String)> = HashMap::new();
        let mut ledger: HashMap<String, LedgerRow> = HashMap::new();
        for shard in 0..self.pools.len() {
            let client = self.client(shard).await?;
            for row in client.query("select id from characters", &[]).await? {
                let id: i64 = row.get(0);
                report.characters += 1;
                if self.shard_of(id) != shard {
                    report.violations.push(format!(
                        "character {id} on shard {shard}, the map says {}",
                        self.shard_of(id)
                    ));
                }
            }
            for row in client
                .query("select item_id, owner_character, created_by_op from items", &[])
                .await?
            {
                let id: Uuid = row.get(0);
                report.items += 1;
                if let Some((other_shard, other_owner, _)) = owners.insert(id, (shard, row.get(1), row.get(2))) {
                    report.violations.push(format!(
                        "item {id} has two owners: {other_owner} on shard {other_shard} and {} on shard {shard}",
                        row.get::<_, i64>(1)
                    ));
                }
            }
            let row = client
                .query_one("select coalesce(sum(balance), 0)::int8, count(*) from currency", &[])
                .await?;
            report.balance_total += row.get::<_, i64>(0);
            for row in client
                .query(
                    "select idempotency_key, participants, payload, outcome, minted from operations",
                    &[],
                )
                .await?
            {
                let key: String = row.get(0);
                let entry = ledger.entry(key.clone()).or_insert_with(|| LedgerRow {
                    participants: row.get(1),
                    payload: row.get(2),
                    outcome: row.get(3),
                    minted: row.get(4),
                    shards: Vec::new(),
                });
                entry.shards.push(shard);
                if entry.payload != row.get::<_, serde_json::Value>(2) {
                    report
                        .violations
                        .push(format!("key {key}: payloads differ between shards"));
                }
            }
        }
        report.prepared = self.prepared_count().await?;
        if report.prepared > 0 {
            report
                .violations
                .push(format!("{} prepared transactions left in doubt", report.prepared));
        }
        report.keys = ledger.len();
        let mut created: HashSet<Uuid> = HashSet::new();
        let mut destroyed: HashSet<Uuid> = HashSet::new();
        for (key, row) in &ledger {
            report.minted_total += row.minted;
            // More shards than participants: ledger rows copied along with a moved character.
            if row.shards.len() < row.participants as usize {
                report.violations.push(format!(
                    "key {key}: on shards {:?}, expected on {} (half-applied)",
                    row.shards, row.participants
                ));
            }
            let operation: Operation = match serde_json::from_value(row.payload.clone()) {
                Ok(operation) => operation,
                Err(error) => {
                    report
                        .violations
                        .push(format!("key {key}: payload unreadable: {error}"));
                    continue;
                }
            };
            let outcome: OpOutcome = match serde_json::from_value(row.outcome.clone()) {
                Ok(outcome) => outcome,
                Err(error) => {
                    report
                        .violations
                        .push(format!("key {key}: outcome unreadable: {error}"));
                    continue;
                }
            };
            match operation {
                Operation::Loot { .. } => {
                    for id in outcome.created {
                        if !created.insert(id) {
                            report.violations.push(format!("item {id} created twice"));
                        }
                    }
                }
                Operation::Destroy { item, .. } if !destroyed.insert(item) => {
                    report.violations.push(format!("item {item} destroyed twice"));
                }
                _ => {}
            }
        }
        for id in &created {
            let exists = owners.contains_key(id);
            if exists && destroyed.contains(id) {
                report
                    .violations
                    .push(format!("item {id} destroyed by a committed key but exists"));
            }
            if !exists && !destroyed.contains(id) {
                report
                    .violations
                    .push(format!("item {id} created by a committed key is lost"));
            }
        }
        for id in &destroyed {
            if !created.contains(id) {
                report.violations.push(format!("item {id} destroyed but never created"));
            }
        }
        for (id, (shard, _, key)) in &owners {
            if !created.contains(id) {
                report.violations.push(format!(
                    "item {id} on shard {shard} (created by {key}) has no committed creation"
                ));
            }
        }
        if report.balance_total != report.minted_total {
            report.violations.push(format!(
                "currency not conserved: balances sum to {}, loot minted {}",
                report.balance_total, report.minted_total
            ));
        }
        Ok(report)
    }
}
