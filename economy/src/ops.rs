//! The inventory operations: loot, destroy, move between bags, trade, mail. Each runs as one
//! transaction (one shard) or one two-phase transaction (two shards), idempotent by key.
//!
//! **Locking: a consistent global lock order at READ COMMITTED, not SERIALIZABLE.** Every
//! operation takes its locks in one global order: the zone's fence row on each participant shard
//! (shard order, shared), then the characters (`ORDER BY id FOR UPDATE`, across shards in id
//! order), then the items (per shard in shard order, `ORDER BY item_id FOR UPDATE`). Two operations
//! can then never wait on each other in a cycle, *including across shards*, where no Postgres
//! deadlock detector sees both halves of the cycle and SERIALIZABLE's conflict tracking is per
//! server too: a serialization failure would only be detected on one shard, after the other had
//! possibly prepared, and every retry of a 2PC costs two round trips of prepare. Lock order makes
//! conflicting trades wait instead of fail, so a hot character costs latency, not retries.
//! `lock_timeout` (`LOCK_TIMEOUT_MS`) is the backstop: a transaction left prepared by a crashed
//! coordinator holds its locks until recovery settles it, and waiters give up with `Conflict`.
//!
//! The idempotency key is looked up on the **initiator's** shard (the looter, the destroyer, the
//! trade's first party, the mail's sender) after the characters are locked, so a concurrent repeat
//! waits for the first attempt and then replays its outcome. Keys are scoped to the initiator: a
//! client derives them from its own request ids. A rejected request (a typed error) writes nothing,
//! not even a ledger row: retrying it re-evaluates it.

use std::collections::{BTreeMap, VecDeque};

use deadpool_postgres::{Object, Pool};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::{
    EconomyError, ShardMap, db,
    twopc::{Command, Coordinator, Decision, Outcome as TxOutcome, Reply, new_gid},
};

/// Lock waits longer than this give up with `Conflict`. Trades hold their locks for a few
/// milliseconds; two seconds only expires behind an in-doubt transaction or a stalled shard.
pub const LOCK_TIMEOUT_MS: u64 = 2_000;
/// Item stats, serialised compactly (serde_json), at most this many bytes; the column's check
/// allows twice as much for jsonb's wider text form.
pub const ITEM_STATS_BYTES_MAX: usize = 1024;
/// Items one operation may create or move: bounds the arrays sent in one statement.
pub const ITEMS_PER_OPERATION_MAX: usize = 32;
/// Bags per character (the column's check: 0..=15).
pub const BAGS: i16 = 16;
/// Idempotency keys longer than this are refused (the column's check).
pub const KEY_BYTES_MAX: usize = 128;
/// Namespace of the item ids a loot creates (v5 of the key and the item's index in the loot).
const ITEM_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d65_7269_6469_616e_0000_0000_6974_656d);

/// The zone a write comes from and the fencing token its owner holds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    pub zone_id: i64,
    pub token: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    pub item_type: i32,
    pub bag: i16,
    pub stats: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// Creates `items` for `character` and credits `gold` (the only way currency enters).
    Loot {
        character: i64,
        items: Vec<NewItem>,
        gold: i64,
    },
    Destroy {
        character: i64,
        item: Uuid,
    },
    MoveBag {
        character: i64,
        item: Uuid,
        bag: i16,
    },
    /// `a` gives `a_items` and `a_gold` to `b`, and `b` gives `b_items` and `b_gold` to `a`, at once.
    Trade {
        a: i64,
        b: i64,
        a_items: Vec<Uuid>,
        b_items: Vec<Uuid>,
        a_gold: i64,
        b_gold: i64,
    },
    /// One-way: `from` sends `items` and `gold` to `to`.
    Mail {
        from: i64,
        to: i64,
        items: Vec<Uuid>,
        gold: i64,
    },
}

impl Operation {
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::Loot { .. } => "loot",
            Operation::Destroy { .. } => "destroy",
            Operation::MoveBag { .. } => "move_bag",
            Operation::Trade { .. } => "trade",
            Operation::Mail { .. } => "mail",
        }
    }

    /// The character whose shard holds the idempotency key (and coordinates a 2PC).
    pub fn initiator(&self) -> i64 {
        match self {
            Operation::Loot { character, .. }
            | Operation::Destroy { character, .. }
            | Operation::MoveBag { character, .. } => *character,
            Operation::Trade { a, .. } => *a,
            Operation::Mail { from, .. } => *from,
        }
    }

    /// Every character involved, initiator first.
    pub fn characters(&self) -> Vec<i64> {
        match self {
            Operation::Trade { a, b, .. } => vec![*a, *b],
            Operation::Mail { from, to, .. } => vec![*from, *to],
            other => vec![other.initiator()],
        }
    }

    /// `(giver, receiver, items, gold)` for every transfer in the operation.
    fn transfers(&self) -> Vec<(i64, i64, &[Uuid], i64)> {
        match self {
            Operation::Trade {
                a,
                b,
                a_items,
                b_items,
                a_gold,
                b_gold,
            } => vec![
                (*a, *b, a_items.as_slice(), *a_gold),
                (*b, *a, b_items.as_slice(), *b_gold),
            ],
            Operation::Mail { from, to, items, gold } => vec![(*from, *to, items.as_slice(), *gold)],
            _ => Vec::new(),
        }
    }

    /// The Rust-side checks; the database's constraints hold the same invariants.
    pub fn validate(&self) -> Result<(), EconomyError> {
        let amount = |gold: i64| {
            if gold < 0 {
                Err(EconomyError::NegativeAmount(gold))
            } else {
                Ok(())
            }
        };
        let item_count = |count: usize| {
            if count > ITEMS_PER_OPERATION_MAX {
                Err(EconomyError::Invalid(format!(
                    "{count} items in one operation (at most {ITEMS_PER_OPERATION_MAX})"
                )))
            } else {
                Ok(())
            }
        };
        let no_duplicates = |items: &[Uuid]| {
            let mut sorted = items.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != items.len() {
                Err(EconomyError::Invalid("an item listed twice".into()))
            } else {
                Ok(())
            }
        };
        let bag = |bag: i16| {
            if (0..BAGS).contains(&bag) {
                Ok(())
            } else {
                Err(EconomyError::Invalid(format!("bag {bag} (0..{BAGS})")))
            }
        };
        match self {
            Operation::Loot { items, gold, .. } => {
                amount(*gold)?;
                item_count(items.len())?;
                if items.is_empty() && *gold == 0 {
                    return Err(EconomyError::Invalid("an empty loot".into()));
                }
                for item in items {
                    bag(item.bag)?;
                    if item.item_type < 0 {
                        return Err(EconomyError::Invalid(format!("item type {}", item.item_type)));
                    }
                    let bytes = serde_json::to_vec(&item.stats).map_or(usize::MAX, |v| v.len());
                    if bytes > ITEM_STATS_BYTES_MAX {
                        return Err(EconomyError::StatsTooLarge {
                            bytes,
                            max: ITEM_STATS_BYTES_MAX,
                        });
                    }
                }
                Ok(())
            }
            Operation::Destroy { .. } => Ok(()),
            Operation::MoveBag { bag: to, .. } => bag(*to),
            Operation::Trade {
                a,
                b,
                a_items,
                b_items,
                a_gold,
                b_gold,
            } => {
                if a == b {
                    return Err(EconomyError::SelfTrade(*a));
                }
                amount(*a_gold)?;
                amount(*b_gold)?;
                item_count(a_items.len() + b_items.len())?;
                let mut all = a_items.clone();
                all.extend_from_slice(b_items);
                no_duplicates(&all)?;
                if all.is_empty() && *a_gold == 0 && *b_gold == 0 {
                    return Err(EconomyError::Invalid("an empty trade".into()));
                }
                Ok(())
            }
            Operation::Mail { from, to, items, gold } => {
                if from == to {
                    return Err(EconomyError::SelfTrade(*from));
                }
                amount(*gold)?;
                item_count(items.len())?;
                no_duplicates(items)?;
                if items.is_empty() && *gold == 0 {
                    return Err(EconomyError::Invalid("an empty mail".into()));
                }
                Ok(())
            }
        }
    }

    /// Ids of the items this operation (with this key) creates.
    pub fn created_item_ids(&self, key: &str) -> Vec<Uuid> {
        match self {
            Operation::Loot { items, .. } => (0..items.len())
                .map(|index| Uuid::new_v5(&ITEM_ID_NAMESPACE, format!("{key}/{index}").as_bytes()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub key: String,
    pub fence: Fence,
    pub operation: Operation,
}

/// What a committed operation did, stored in the ledger and returned to every repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpOutcome {
    pub created: Vec<Uuid>,
    /// `(character, balance)` after the operation, for each character involved.
    pub balances: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: OpOutcome,
    /// True when the key had already been applied: nothing changed now.
    pub replayed: bool,
    /// For a cross-shard operation: the gid of its two-phase transaction.
    pub gid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub item_id: Uuid,
    pub owner: i64,
    pub item_type: i32,
    pub bag: i16,
    pub stats: serde_json::Value,
    pub created_by_op: String,
}

fn item_from_row(row: &tokio_postgres::Row) -> Item {
    Item {
        item_id: row.get(0),
        owner: row.get(1),
        item_type: row.get(2),
        bag: row.get(3),
        stats: row.get(4),
        created_by_op: row.get(5),
    }
}

const ITEM_COLUMNS: &str = "item_id, owner_character, item_type, bag, stats, created_by_op";

/// One shard's open transaction.
pub(crate) struct Part {
    pub(crate) shard: usize,
    pub(crate) client: Object,
}

enum Body {
    Applied(OpOutcome),
    Replayed(OpOutcome),
}

/// Where a test makes the coordinator stop (`Economy::apply_crashing`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// Both participants prepared, no decision written.
    BeforeDecision,
    /// `commit` logged, no COMMIT PREPARED sent.
    AfterDecision,
    /// `commit` logged, one participant committed.
    AfterFirstCommit,
}

/// The economy over its shards.
pub struct Economy {
    pub(crate) map: ShardMap,
    pub(crate) pools: Vec<Pool>,
}

impl Economy {
    /// Pools over every shard of `map` (`pool_size` connections each); runs the migrations first.
    pub async fn connect(map: ShardMap, pool_size: usize) -> Result<Self, EconomyError> {
        for url in &map.urls {
            db::migrate(url).await?;
        }
        Self::connect_without_migrations(map, pool_size)
    }

    pub fn connect_without_migrations(map: ShardMap, pool_size: usize) -> Result<Self, EconomyError> {
        let pools = map
            .urls
            .iter()
            .map(|url| db::pool(url, pool_size))
            .collect::<Result<_, _>>()?;
        Ok(Self { map, pools })
    }

    pub fn shard_map(&self) -> &ShardMap {
        &self.map
    }

    pub fn shard_of(&self, character: i64) -> usize {
        self.map.shard_of(character)
    }

    pub(crate) async fn client(&self, shard: usize) -> Result<Object, EconomyError> {
        Ok(self.pools[shard].get().await?)
    }

    /// Creates a character with a zero balance on its shard; `false` if it already existed.
    pub async fn create_character(
        &self,
        id: i64,
        account_id: i64,
        name: &str,
        zone_id: i64,
    ) -> Result<bool, EconomyError> {
        let mut client = self.client(self.shard_of(id)).await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "insert into characters (id, account_id, name, last_zone) values ($1, $2, $3, $4) \
                 on conflict (id) do nothing",
                &[&id, &account_id, &name, &zone_id],
            )
            .await?;
        if inserted == 1 {
            tx.execute("insert into currency (character_id, balance) values ($1, 0)", &[&id])
                .await?;
        }
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// Creates characters `first..first + count` with zero balances, one batched statement per
    /// shard (test and figure set-up; `create_character` is the one-at-a-time path).
    pub async fn create_characters_bulk(&self, first: i64, count: i64, zone_id: i64) -> Result<(), EconomyError> {
        let mut per_shard: Vec<Vec<i64>> = vec![Vec::new(); self.pools.len()];
        for id in first..first + count {
            per_shard[self.shard_of(id)].push(id);
        }
        for (shard, ids) in per_shard.iter().enumerate() {
            let client = self.client(shard).await?;
            client
                .execute(
                    "insert into characters (id, account_id, name, last_zone) \
                     select id, id, 'c' || id, $2 from unnest($1::int8[]) as u(id) on conflict (id) do nothing",
                    &[ids, &zone_id],
                )
                .await?;
            client
                .execute(
                    "insert into currency (character_id, balance) select id, 0 from unnest($1::int8[]) as u(id) \
                     on conflict (character_id) do nothing",
                    &[ids],
                )
                .await?;
        }
        Ok(())
    }

    pub async fn balance(&self, character: i64) -> Result<i64, EconomyError> {
        let client = self.client(self.shard_of(character)).await?;
        let row = client
            .query_opt("select balance from currency where character_id = $1", &[&character])
            .await?;
        row.map(|row| row.get(0))
            .ok_or(EconomyError::UnknownCharacter(character))
    }

    pub async fn inventory(&self, character: i64) -> Result<Vec<Item>, EconomyError> {
        let client = self.client(self.shard_of(character)).await?;
        let rows = client
            .query(
                &format!("select {ITEM_COLUMNS} from items where owner_character = $1 order by item_id"),
                &[&character],
            )
            .await?;
        Ok(rows.iter().map(item_from_row).collect())
    }

    /// Raises the zone's fencing token on every shard (the control plane calls this when it
    /// reassigns the zone), so the old owner's writes are refused from now on.
    pub async fn raise_fence(&self, fence: Fence) -> Result<(), EconomyError> {
        for shard in 0..self.pools.len() {
            let client = self.client(shard).await?;
            client
                .execute(
                    "insert into zone_fences (zone_id, token) values ($1, $2) on conflict (zone_id) \
                     do update set token = greatest(zone_fences.token, excluded.token)",
                    &[&fence.zone_id, &fence.token],
                )
                .await?;
        }
        Ok(())
    }

    /// Applies `request` once. A repeat of a committed key returns the first outcome
    /// (`replayed = true`) and changes nothing.
    pub async fn apply(&self, request: &Request) -> Result<Applied, EconomyError> {
        self.apply_inner(request, None).await
    }

    /// For crash tests: applies `request` but, if it spans two shards, stops the two-phase commit
    /// at `crash` as a coordinator dying there would (the prepared transactions stay behind).
    #[doc(hidden)]
    pub async fn apply_crashing(&self, request: &Request, crash: CrashPoint) -> Result<Applied, EconomyError> {
        self.apply_inner(request, Some(crash)).await
    }

    async fn apply_inner(&self, request: &Request, crash: Option<CrashPoint>) -> Result<Applied, EconomyError> {
        if request.key.is_empty() || request.key.len() > KEY_BYTES_MAX {
            return Err(EconomyError::Invalid(format!("key of {} bytes", request.key.len())));
        }
        if request.fence.token < 0 || request.fence.zone_id < 0 {
            return Err(EconomyError::Invalid("negative zone or token".into()));
        }
        request.operation.validate()?;
        let mut shards: Vec<usize> = request
            .operation
            .characters()
            .iter()
            .map(|&c| self.shard_of(c))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        let mut parts = Vec::with_capacity(shards.len());
        for &shard in &shards {
            match self.begin(shard).await {
                Ok(part) => parts.push(part),
                Err(error) => {
                    for part in parts {
                        db::rollback(part.client).await;
                    }
                    return Err(error);
                }
            }
        }
        let body = self.body(&parts, request).await;
        let outcome = match body {
            Err(error) => {
                for part in parts {
                    db::rollback(part.client).await;
                }
                return Err(error);
            }
            Ok(Body::Replayed(outcome)) => {
                for part in parts {
                    db::rollback(part.client).await;
                }
                return Ok(Applied {
                    outcome,
                    replayed: true,
                    gid: None,
                });
            }
            Ok(Body::Applied(outcome)) => outcome,
        };
        if parts.len() == 1 {
            let part = parts.pop().expect("one part");
            if let Err(error) = part.client.batch_execute("COMMIT").await {
                // If the connection broke, the commit may or may not have happened: a retry with
                // the same key replays or applies, never both.
                drop(Object::take(part.client));
                return Err(error.into());
            }
            return Ok(Applied {
                outcome,
                replayed: false,
                gid: None,
            });
        }
        let coordinator_shard = self.shard_of(request.operation.initiator());
        let gid = new_gid(coordinator_shard);
        match self.two_phase(parts, gid.clone(), coordinator_shard, crash).await {
            TxOutcome::Committed { .. } => Ok(Applied {
                outcome,
                replayed: false,
                gid: Some(gid),
            }),
            TxOutcome::Aborted => Err(EconomyError::Unavailable(format!("{gid}: prepare failed, rolled back"))),
            TxOutcome::InDoubt => Err(EconomyError::InDoubt { gid }),
        }
    }

    async fn begin(&self, shard: usize) -> Result<Part, EconomyError> {
        let client = self.client(shard).await?;
        let begin = format!("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}");
        if let Err(error) = client.batch_execute(&begin).await {
            drop(Object::take(client));
            return Err(error.into());
        }
        Ok(Part { shard, client })
    }

    fn part<'a>(&self, parts: &'a [Part], character: i64) -> &'a Part {
        let shard = self.shard_of(character);
        parts.iter().find(|p| p.shard == shard).expect("a part per shard")
    }

    /// Locks, checks and writes on every participant; commits nothing.
    async fn body(&self, parts: &[Part], request: &Request) -> Result<Body, EconomyError> {
        let op = &request.operation;
        // 1. Fences, shard order (parts are sorted by shard).
        for part in parts {
            check_fence(&part.client, request.fence).await?;
        }
        // 2. Characters, global id order; consecutive characters on one shard in one statement.
        let mut characters = op.characters();
        characters.sort_unstable();
        characters.dedup();
        let mut run: Vec<i64> = Vec::new();
        for (index, &character) in characters.iter().enumerate() {
            run.push(character);
            let next_same_shard = characters
                .get(index + 1)
                .is_some_and(|&next| self.shard_of(next) == self.shard_of(character));
            if !next_same_shard {
                let part = self.part(parts, character);
                let rows = part
                    .client
                    .query(
                        "select id from characters where id = any($1) order by id for update",
                        &[&run],
                    )
                    .await?;
                for &wanted in &run {
                    if !rows.iter().any(|row| row.get::<_, i64>(0) == wanted) {
                        return Err(missing_character(&part.client, wanted).await);
                    }
                }
                run.clear();
            }
        }
        // 3. The key, on the initiator's shard.
        let home = self.part(parts, op.initiator());
        let previous = home
            .client
            .query_opt(
                "select outcome from operations where idempotency_key = $1",
                &[&request.key],
            )
            .await?;
        if let Some(row) = previous {
            let outcome: serde_json::Value = row.get(0);
            let outcome = serde_json::from_value(outcome)
                .map_err(|error| EconomyError::Database(format!("ledger outcome: {error}")))?;
            return Ok(Body::Replayed(outcome));
        }
        // 4. Items, per shard in shard order, each checked against its claimed owner.
        let mut claims: BTreeMap<usize, Vec<(Uuid, i64)>> = BTreeMap::new();
        match op {
            Operation::Destroy { character, item } | Operation::MoveBag { character, item, .. } => {
                claims
                    .entry(self.shard_of(*character))
                    .or_default()
                    .push((*item, *character));
            }
            _ => {
                for (giver, _, items, _) in op.transfers() {
                    for item in items {
                        claims.entry(self.shard_of(giver)).or_default().push((*item, giver));
                    }
                }
            }
        }
        let mut locked: BTreeMap<Uuid, Item> = BTreeMap::new();
        for (shard, claimed) in &claims {
            let part = parts.iter().find(|p| p.shard == *shard).expect("part");
            let ids: Vec<Uuid> = claimed.iter().map(|(id, _)| *id).collect();
            let rows = part
                .client
                .query(
                    &format!("select {ITEM_COLUMNS} from items where item_id = any($1) order by item_id for update"),
                    &[&ids],
                )
                .await?;
            for row in &rows {
                let item = item_from_row(row);
                locked.insert(item.item_id, item);
            }
            for (id, owner) in claimed {
                let item = locked.get(id).ok_or(EconomyError::UnknownItem(*id))?;
                if item.owner != *owner {
                    return Err(EconomyError::NotOwned {
                        item: *id,
                        character: *owner,
                    });
                }
            }
        }
        // 5. Funds (the characters' rows are locked, so balances cannot move under us).
        let mut balances: BTreeMap<i64, i64> = BTreeMap::new();
        for &character in &characters {
            let part = self.part(parts, character);
            let row = part
                .client
                .query_one("select balance from currency where character_id = $1", &[&character])
                .await?;
            balances.insert(character, row.get(0));
        }
        for (giver, _, _, gold) in op.transfers() {
            let balance = balances[&giver];
            if balance < gold {
                return Err(EconomyError::InsufficientFunds {
                    character: giver,
                    balance,
                    needed: gold,
                });
            }
        }
        // 6. Writes.
        let mut created = Vec::new();
        let mut minted = 0i64;
        match op {
            Operation::Loot { character, items, gold } => {
                let part = self.part(parts, *character);
                created = op.created_item_ids(&request.key);
                let types: Vec<i32> = items.iter().map(|i| i.item_type).collect();
                let bags: Vec<i16> = items.iter().map(|i| i.bag).collect();
                let stats: Vec<serde_json::Value> = items.iter().map(|i| i.stats.clone()).collect();
                part.client
                    .execute(
                        "insert into items (item_id, owner_character, item_type, bag, stats, created_by_op) \
                         select id, $2, t, b, s, $6 from unnest($1::uuid[], $3::int4[], $4::int2[], $5::jsonb[]) \
                         as u(id, t, b, s)",
                        &[&created, character, &types, &bags, &stats, &request.key],
                    )
                    .await?;
                add_balance(&part.client, *character, *gold).await?;
                *balances.get_mut(character).expect("locked") += gold;
                minted = *gold;
            }
            Operation::Destroy { character, item } => {
                let part = self.part(parts, *character);
                part.client
                    .execute("delete from items where item_id = $1", &[item])
                    .await?;
            }
            Operation::MoveBag { character, item, bag } => {
                let part = self.part(parts, *character);
                part.client
                    .execute("update items set bag = $2 where item_id = $1", &[item, bag])
                    .await?;
            }
            Operation::Trade { .. } | Operation::Mail { .. } => {
                for (giver, receiver, items, gold) in op.transfers() {
                    let from = self.part(parts, giver);
                    let to = self.part(parts, receiver);
                    if !items.is_empty() {
                        let ids = items.to_vec();
                        if from.shard == to.shard {
                            from.client
                                .execute(
                                    "update items set owner_character = $2 where item_id = any($1)",
                                    &[&ids, &receiver],
                                )
                                .await?;
                        } else {
                            let moved: Vec<&Item> = items.iter().map(|id| &locked[id]).collect();
                            from.client
                                .execute("delete from items where item_id = any($1)", &[&ids])
                                .await?;
                            insert_items(&to.client, &moved, receiver).await?;
                        }
                    }
                    if gold > 0 {
                        add_balance(&from.client, giver, -gold).await?;
                        add_balance(&to.client, receiver, gold).await?;
                        *balances.get_mut(&giver).expect("locked") -= gold;
                        *balances.get_mut(&receiver).expect("locked") += gold;
                    }
                }
            }
        }
        let outcome = OpOutcome {
            created,
            balances: op.characters().iter().map(|c| (*c, balances[c])).collect(),
        };
        let payload = serde_json::to_value(op).map_err(|e| EconomyError::Invalid(e.to_string()))?;
        let outcome_json = serde_json::to_value(&outcome).map_err(|e| EconomyError::Invalid(e.to_string()))?;
        let participants = parts.len() as i32;
        let initiator = op.initiator();
        for part in parts {
            let inserted = part
                .client
                .execute(
                    "insert into operations (idempotency_key, kind, initiator, characters, payload, outcome, \
                     zone_id, fencing_token, participants, minted) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &request.key,
                        &op.kind(),
                        &initiator,
                        &characters,
                        &payload,
                        &outcome_json,
                        &request.fence.zone_id,
                        &request.fence.token,
                        &participants,
                        &minted,
                    ],
                )
                .await;
            if let Err(error) = inserted {
                // The key is scoped to its initiator; a unique violation here means another
                // attempt is racing on another shard: retry, and the repeat replays.
                if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                    return Err(EconomyError::Conflict(format!(
                        "key {} applied concurrently",
                        request.key
                    )));
                }
                return Err(error.into());
            }
        }
        Ok(Body::Applied(outcome))
    }

    /// Drives the coordinator over the prepared participants.
    pub(crate) async fn two_phase(
        &self,
        mut parts: Vec<Part>,
        gid: String,
        coordinator_shard: usize,
        crash: Option<CrashPoint>,
    ) -> TxOutcome {
        let shards: Vec<usize> = parts.iter().map(|p| p.shard).collect();
        let mut coordinator = Coordinator::new(gid, shards, coordinator_shard);
        let mut queue: VecDeque<Command> = coordinator.start().into();
        let mut commits_run = 0;
        while let Some(command) = queue.pop_front() {
            let crashed = match (crash, &command) {
                (Some(CrashPoint::BeforeDecision), Command::LogDecision { .. }) => true,
                (Some(CrashPoint::AfterDecision), Command::CommitPrepared { .. }) => true,
                (Some(CrashPoint::AfterFirstCommit), Command::CommitPrepared { .. }) => commits_run == 1,
                _ => false,
            };
            if crashed {
                for part in parts {
                    drop(Object::take(part.client));
                }
                return TxOutcome::InDoubt;
            }
            if matches!(command, Command::CommitPrepared { .. }) {
                commits_run += 1;
            }
            let shard = command.shard();
            let reply = self.run_command(&mut parts, &command).await;
            queue.extend(coordinator.on_reply(shard, reply));
        }
        for part in parts {
            // Every participant is out of its transaction now (prepared, committed or rolled back);
            // a connection that broke on the way is discarded.
            if part.client.is_closed() {
                drop(Object::take(part.client));
            }
        }
        coordinator.outcome().unwrap_or(TxOutcome::InDoubt)
    }

    async fn run_command(&self, parts: &mut [Part], command: &Command) -> Reply {
        let shard = command.shard();
        let index = parts.iter().position(|p| p.shard == shard).expect("participant");
        match command {
            Command::Prepare { sql, .. } => match parts[index].client.batch_execute(sql).await {
                Ok(()) => Reply::Ok,
                Err(error) if error.code().is_some() => Reply::Failed,
                Err(_) => Reply::Unknown,
            },
            Command::LogDecision {
                gid,
                decision,
                participants,
                ..
            } => {
                let Ok(client) = self.usable_client(&mut parts[index]).await else {
                    return Reply::Unknown;
                };
                match log_decision(client, gid, *decision, participants).await {
                    Ok(Some(decided)) => Reply::Decided(decided),
                    Ok(None) | Err(_) => Reply::Unknown,
                }
            }
            Command::CommitPrepared { sql, .. } | Command::RollbackPrepared { sql, .. } => {
                let Ok(client) = self.usable_client(&mut parts[index]).await else {
                    return Reply::Unknown;
                };
                match client.batch_execute(sql).await {
                    Ok(()) => Reply::Ok,
                    Err(error) if error.code().is_some() => Reply::Failed,
                    Err(_) => Reply::Unknown,
                }
            }
        }
    }

    /// The participant's connection, or a fresh one if it broke.
    async fn usable_client<'a>(&self, part: &'a mut Part) -> Result<&'a Object, EconomyError> {
        if part.client.is_closed() {
            let fresh = self.client(part.shard).await?;
            let broken = std::mem::replace(&mut part.client, fresh);
            drop(Object::take(broken));
        }
        Ok(&part.client)
    }
}

/// Writes `decision` for `gid` unless one is already recorded; returns the recorded one.
pub(crate) async fn log_decision(
    client: &Object,
    gid: &str,
    decision: Decision,
    participants: &[usize],
) -> Result<Option<Decision>, tokio_postgres::Error> {
    let participants: Vec<i32> = participants.iter().map(|&s| s as i32).collect();
    let row = client
        .query_opt(
            "with inserted as (insert into twopc_decisions (gid, decision, participants) values ($1, $2, $3) \
             on conflict (gid) do nothing returning decision) \
             select decision from inserted union all select decision from twopc_decisions where gid = $1 limit 1",
            &[&gid, &decision.as_str(), &participants],
        )
        .await?;
    Ok(row.and_then(|row| Decision::parse(row.get::<_, &str>(0))))
}

/// Takes the zone's fence row shared (or raises it) inside the operation's transaction.
async fn check_fence(client: &Object, fence: Fence) -> Result<(), EconomyError> {
    let current = client
        .query_opt(
            "select token from zone_fences where zone_id = $1 for share",
            &[&fence.zone_id],
        )
        .await?;
    let current: Option<i64> = current.map(|row| row.get(0));
    match current {
        Some(current) if current == fence.token => Ok(()),
        Some(current) if current > fence.token => Err(EconomyError::StaleFence {
            zone_id: fence.zone_id,
            token: fence.token,
            current,
        }),
        _ => {
            let row = client
                .query_one(
                    "insert into zone_fences (zone_id, token) values ($1, $2) on conflict (zone_id) \
                     do update set token = greatest(zone_fences.token, excluded.token) returning token",
                    &[&fence.zone_id, &fence.token],
                )
                .await?;
            let current: i64 = row.get(0);
            if current > fence.token {
                return Err(EconomyError::StaleFence {
                    zone_id: fence.zone_id,
                    token: fence.token,
                    current,
                });
            }
            Ok(())
        }
    }
}

async fn missing_character(client: &Object, character: i64) -> EconomyError {
    let moved = client
        .query_opt(
            "select to_shard, map_version from moved_characters where character_id = $1",
            &[&character],
        )
        .await;
    match moved {
        Ok(Some(row)) => EconomyError::CharacterMoved {
            character,
            to_shard: row.get::<_, i32>(0) as usize,
            map_version: row.get(1),
        },
        Ok(None) => EconomyError::UnknownCharacter(character),
        Err(error) => error.into(),
    }
}

async fn add_balance(client: &Object, character: i64, delta: i64) -> Result<(), EconomyError> {
    client
        .execute(
            "update currency set balance = balance + $2 where character_id = $1",
            &[&character, &delta],
        )
        .await?;
    Ok(())
}

/// Inserts items (moved from another shard) owned by `owner`, keeping their ids and history.
pub(crate) async fn insert_items(client: &Object, items: &[&Item], owner: i64) -> Result<(), EconomyError> {
    let ids: Vec<Uuid> = items.iter().map(|i| i.item_id).collect();
    let types: Vec<i32> = items.iter().map(|i| i.item_type).collect();
    let bags: Vec<i16> = items.iter().map(|i| i.bag).collect();
    let stats: Vec<serde_json::Value> = items.iter().map(|i| i.stats.clone()).collect();
    let created: Vec<&str> = items.iter().map(|i| i.created_by_op.as_str()).collect();
    client
        .execute(
            "insert into items (item_id, owner_character, item_type, bag, stats, created_by_op) \
             select id, $2, t, b, s, c from unnest($1::uuid[], $3::int4[], $4::int2[], $5::jsonb[], $6::text[]) \
             as u(id, t, b, s, c)",
            &[&ids, &owner, &types, &bags, &stats, &created],
        )
        .await?;
    Ok(())
}
