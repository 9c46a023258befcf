//! Adding a shard: moving the characters the new map sends elsewhere, each in its own two-phase
//! transaction, so a character (with its items, currency and ledger rows) is on exactly one shard
//! at every commit point: never on both (duplication), never on neither (loss).
//!
//! The procedure (tested in `tests/rebalance.rs`):
//! 1. Start the new Postgres and apply the migrations (`Economy::connect` with the new map does).
//! 2. `ShardMap::with_shard` gives the next map (same shards, one appended, version + 1). Jump
//!    hashing moves only characters that now map to the new shard.
//! 3. `Economy::move_characters` (an economy on the new map) moves every character whose shard
//!    changed. Per character: lock its row on the old shard, copy row, currency, items and the
//!    ledger rows naming it to the new shard, delete them from the old one and leave a
//!    `moved_characters` tombstone there, then prepare both and commit through the decision log.
//!    A crash in between is settled by `recover` like any cross-shard trade; re-running the move
//!    skips characters already moved, so the procedure is idempotent.
//! 4. Economy instances still on the old map get `CharacterMoved { map_version }` (retryable) for
//!    moved characters and switch to the new map; ledger rows are copied, so a key retried
//!    through the new map replays instead of applying twice.

use crate::{
    Economy, EconomyError,
    ops::{Item, Part},
    twopc::{Outcome, new_gid},
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoveReport {
    pub moved: usize,
    pub items: usize,
    /// Characters whose move did not commit (shard down, lock timeout): run the move again.
    pub failed: usize,
}

impl Economy {
    /// Moves every character not on the shard this economy's map assigns it.
    pub async fn move_characters(&self) -> Result<MoveReport, EconomyError> {
        let mut report = MoveReport::default();
        for shard in 0..self.pools.len() {
            let client = self.client(shard).await?;
            let ids: Vec<i64> = client
                .query("select id from characters order by id", &[])
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect();
            drop(client);
            for id in ids {
                let target = self.shard_of(id);
                if target == shard {
                    continue;
                }
                match self.move_character(id, shard, target).await {
                    Ok(Some(items)) => {
                        report.moved += 1;
                        report.items += items;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(id, %error, "character move failed");
                        report.failed += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// `Ok(None)`: the character was no longer on `from`.
    async fn move_character(&self, id: i64, from: usize, to: usize) -> Result<Option<usize>, EconomyError> {
        let mut parts = Vec::new();
        for shard in [from.min(to), from.max(to)] {
            let client = self.client(shard).await?;
            client
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = {}",
                    crate::ops::LOCK_TIMEOUT_MS
                ))
                .await?;
            parts.push(Part { shard, client });
        }
        let result = self.move_body(&parts, id, from, to).await;
        let items = match result {
            Ok(Some(items)) => items,
            other => {
                for part in parts {
                    crate::db::rollback(part.client).await;
                }
                return other;
            }
        };
        match self.two_phase(parts, new_gid(from), from, None).await {
            Outcome::Committed { .. } => Ok(Some(items)),
            Outcome::Aborted => Err(EconomyError::Unavailable(format!(
                "moving character {id}: prepare failed"
            ))),
            Outcome::InDoubt => Err(EconomyError::InDoubt {
                gid: format!("move of character {id}"),
            }),
        }
    }

    async fn move_body(&self, parts: &[Part], id: i64, from: usize, to: usize) -> Result<Option<usize>, EconomyError> {
        let source = &parts.iter().find(|p| p.shard == from).expect("source").client;
        let target = &parts.iter().find(|p| p.shard == to).expect("target").client;
        let Some(character) = source
            .query_opt(
                "select id, account_id, name, last_zone, position_x, position_y, position_z, stats, version, \
                 created_at from characters where id = $1 for update",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let balance: i64 = source
            .query_one("select balance from currency where character_id = $1", &[&id])
            .await?
            .get(0);
        let items: Vec<Item> = source
            .query(
                "select item_id, owner_character, item_type, bag, stats, created_by_op from items \
                 where owner_character = $1 order by item_id for update",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| Item {
                item_id: row.get(0),
                owner: row.get(1),
                item_type: row.get(2),
                bag: row.get(3),
                stats: row.get(4),
                created_by_op: row.get(5),
            })
            .collect();
        target
            .execute(
                "insert into characters (id, account_id, name, last_zone, position_x, position_y, position_z, \
                 stats, version, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &character.get::<_, i64>(0),
                    &character.get::<_, i64>(1),
                    &character.get::<_, String>(2),
                    &character.get::<_, i64>(3),
                    &character.get::<_, f32>(4),
                    &character.get::<_, f32>(5),
                    &character.get::<_, f32>(6),
                    &character.get::<_, serde_json::Value>(7),
                    &character.get::<_, i64>(8),
                    &character.get::<_, std::time::SystemTime>(9),
                ],
            )
            .await?;
        target
            .execute(
                "insert into currency (character_id, balance) values ($1, $2)",
                &[&id, &balance],
            )
            .await?;
        let item_refs: Vec<&Item> = items.iter().collect();
        crate::ops::insert_items(target, &item_refs, id).await?;
        // The ledger rows naming the character go with it (copies: other characters' shards keep
        // theirs), so a key retried through the new map replays.
        let ledger = source
            .query(
                "select idempotency_key, kind, initiator, characters, payload, outcome, zone_id, fencing_token, \
                 participants, minted, at from operations where $1 = any(characters)",
                &[&id],
            )
            .await?;
        for row in &ledger {
            target
                .execute(
                    "insert into operations (idempotency_key, kind, initiator, characters, payload, outcome, \
                     zone_id, fencing_token, participants, minted, at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (idempotency_key) do nothing",
                    &[
                        &row.get::<_, String>(0),
                        &row.get::<_, String>(1),
                        &row.get::<_, i64>(2),
                        &row.get::<_, Vec<i64>>(3),
                        &row.get::<_, serde_json::Value>(4),
                        &row.get::<_, serde_json::Value>(5),
                        &row.get::<_, i64>(6),
                        &row.get::<_, i64>(7),
                        &row.get::<_, i32>(8),
                        &row.get::<_, i64>(9),
                        &row.get::<_, std::time::SystemTime>(10),
                    ],
                )
                .await?;
        }
        source
            .execute("delete from items where owner_character = $1", &[&id])
            .await?;
        source
            .execute("delete from currency where character_id = $1", &[&id])
            .await?;
        source.execute("delete from characters where id = $1", &[&id]).await?;
        source
            .execute(
                "insert into moved_characters (character_id, to_shard, map_version) values ($1, $2, $3) \
                 on conflict (character_id) do update set to_shard = excluded.to_shard, \
                 map_version = excluded.map_version, at = now()",
                &[&id, &(to as i32), &self.map.version],
            )
            .await?;
        // A character moved back to a shard it once left is no longer "moved" there.
        target
            .execute("delete from moved_characters where character_id = $1", &[&id])
            .await?;
        Ok(Some(items.len()))
    }
}
