//! A seeded random operation mix over a fixed set of characters, for the crash tests, the
//! `meridian-economy workload` subcommand and the trade figures. Operation `i`'s key is
//! `w<seed>-<i>` and its kind, initiator and counterparty come from `(seed, i)` alone, so a run
//! restarted after a crash retries the same keys on the same initiators' shards (the items it
//! picks are read from the current inventories and may differ; the key makes that harmless: the
//! first committed attempt wins, a later one replays it).
//!
//! Each operation is retried with the same key while the error is retryable (shard down, lock
//! timeout, in doubt), and repeated at random after it succeeded, checking that the repeat replays
//! the first outcome. A background task settles in-doubt transactions meanwhile, as a deployed
//! economy service would.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::SmallRng};
use uuid::Uuid;

use crate::{Economy, EconomyError, Fence, NewItem, Operation, Request};

/// Give up on one operation after retrying this long (a shard down for longer fails the run).
pub const OP_DEADLINE_S: u64 = 120;
const BACKOFF_MIN_MS: u64 = 10;
const BACKOFF_MAX_MS: u64 = 500;
/// In-doubt transactions younger than this are left to their coordinator.
pub const RECOVERY_MIN_AGE_MS: u64 = 3_000;
const RECOVERY_EVERY_MS: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Trades, mails, loots, destroys and bag moves; half the two-party ones across shards.
    Mixed,
    /// Gold-for-gold trades between two characters on one shard.
    SameShardTrades,
    /// Gold-for-gold trades between characters on different shards (two-phase commit).
    CrossShardTrades,
}

#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub seed: u64,
    /// Operation indices `first_op..first_op + ops`.
    pub first_op: u64,
    pub ops: u64,
    pub clients: usize,
    pub characters: Vec<i64>,
    /// Chance that a succeeded operation is sent again with its key.
    pub repeat_probability: f64,
    pub mix: Mix,
    pub fence: Fence,
}

#[derive(Debug, Clone, Default)]
pub struct WorkloadReport {
    pub applied: u64,
    /// First attempts that found the key already applied (a restarted run).
    pub replayed: u64,
    pub repeats: u64,
    /// A repeat that did not replay the first outcome: a dupe.
    pub repeat_mismatches: u64,
    pub rejected: BTreeMap<String, u64>,
    pub retries: u64,
    /// Operations still failing when their deadline passed.
    pub gave_up: u64,
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
}

impl WorkloadReport {
    fn merge(&mut self, other: WorkloadReport) {
        self.applied += other.applied;
        self.replayed += other.replayed;
        self.repeats += other.repeats;
        self.repeat_mismatches += other.repeat_mismatches;
        for (reason, count) in other.rejected {
            *self.rejected.entry(reason).or_default() += count;
        }
        self.retries += other.retries;
        self.gave_up += other.gave_up;
        self.latencies_us.extend(other.latencies_us);
    }

    /// The `q` quantile (0..=1) of the successful operations' latency.
    pub fn latency_quantile_us(&self, q: f64) -> u64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    pub fn summary(&self) -> String {
        let rejected: Vec<String> = self.rejected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "applied={} replayed={} repeats={} repeat_mismatches={} retries={} gave_up={} rejected[{}] \
             elapsed_ms={} ops_per_s={:.0} p50_us={} p99_us={}",
            self.applied,
            self.replayed,
            self.repeats,
            self.repeat_mismatches,
            self.retries,
            self.gave_up,
            rejected.join(" "),
            self.elapsed.as_millis(),
            (self.applied + self.replayed) as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.latency_quantile_us(0.5),
            self.latency_quantile_us(0.99),
        )
    }
}

fn rejection_name(error: &EconomyError) -> &'static str {
    match error {
        EconomyError::UnknownCharacter(_) => "unknown_character",
        EconomyError::CharacterMoved { .. } => "character_moved",
        EconomyError::UnknownItem(_) => "unknown_item",
        EconomyError::NotOwned { .. } => "not_owned",
        EconomyError::NegativeAmount(_) => "negative_amount",
        EconomyError::StatsTooLarge { .. } => "stats_too_large",
        EconomyError::SelfTrade(_) => "self_trade",
        EconomyError::StaleFence { .. } => "stale_fence",
        EconomyError::InsufficientFunds { .. } => "insufficient_funds",
        EconomyError::Invalid(_) => "invalid",
        EconomyError::Unavailable(_) => "unavailable",
        EconomyError::Conflict(_) => "conflict",
        EconomyError::InDoubt { .. } => "in_doubt",
        EconomyError::Database(_) => "database",
    }
}

pub async fn run(economy: Arc<Economy>, config: WorkloadConfig) -> WorkloadReport {
    assert!(config.clients > 0 && config.characters.len() >= 4);
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let recovery = {
        let economy = economy.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(RECOVERY_EVERY_MS)).await;
                match economy.recover(Duration::from_millis(RECOVERY_MIN_AGE_MS)).await {
                    Ok(report) if report.committed + report.rolled_back > 0 => {
                        tracing::info!(?report, "settled in-doubt transactions")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "recovery pass failed"),
                }
            }
        })
    };
    let config = Arc::new(config);
    let mut clients = Vec::new();
    for client in 0..config.clients {
        let economy = economy.clone();
        let config = config.clone();
        clients.push(tokio::spawn(async move {
            let mut report = WorkloadReport::default();
            let mut index = config.first_op + client as u64;
            while index < config.first_op + config.ops {
                run_one(&economy, &config, index, &mut report).await;
                index += config.clients as u64;
            }
            report
        }));
    }
    let mut report = WorkloadReport::default();
    for client in clients {
        report.merge(client.await.expect("workload client"));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = recovery.await;
    report.elapsed = started.elapsed();
    report
}

async fn run_one(economy: &Economy, config: &WorkloadConfig, index: u64, report: &mut WorkloadReport) {
    let seeded = || SmallRng::seed_from_u64(config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index);
    let mut rng = seeded();
    let deadline = Instant::now() + Duration::from_secs(OP_DEADLINE_S);
    let mut backoff_ms = BACKOFF_MIN_MS;
    let key = format!("w{}-{index}", config.seed);
    // The request is built once (reading inventories, retried if a shard is down) and then sent
    // unchanged until it commits or is rejected.
    let request = loop {
        match build_request(economy, config, &mut rng, &key).await {
            Ok(request) => break request,
            Err(_) if Instant::now() < deadline => {
                // Draw again from the start: the participants must depend on (seed, index) only,
                // however many attempts the inventory reads took (a dupe hunt found this).
                rng = seeded();
                report.retries += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
            }
            Err(_) => {
                report.gave_up += 1;
                return;
            }
        }
    };
    loop {
        let started = Instant::now();
        match economy.apply(&request).await {
            Ok(applied) => {
                report.latencies_us.push(started.elapsed().as_micros() as u64);
                if applied.replayed {
                    report.replayed += 1;
                } else {
                    report.applied += 1;
                }
                if rng.random_bool(config.repeat_probability) {
                    report.repeats += 1;
                    match economy.apply(&request).await {
                        Ok(repeat) if repeat.replayed && repeat.outcome == applied.outcome => {}
                        Ok(repeat) => {
                            tracing::error!(key, ?applied, ?repeat, "a repeat did not replay");
                            report.repeat_mismatches += 1;
                        }
                        // A shard going down between the two is not a dupe; the key is applied.
                        Err(error) if error.retryable() => {}
                        Err(error) => {
                            tracing::error!(key, %error, "a repeat was rejected after a success");
                            report.repeat_mismatches += 1;
                        }
                    }
                }
                return;
            }
            Err(error) if error.retryable() && Instant::now() < deadline => {
                report.retries += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
            }
            Err(error) if error.retryable() => {
                tracing::warn!(key, %error, "gave up");
                report.gave_up += 1;
                return;
            }
            Err(error) => {
                *report.rejected.entry(rejection_name(&error).to_owned()).or_default() += 1;
                return;
            }
        }
    }
}

/// A character from `candidates` other than `not`, on `shard` if given.
fn pick(rng: &mut SmallRng, economy: &Economy, candidates: &[i64], not: i64, shard: Option<usize>) -> i64 {
    let eligible: Vec<i64> = candidates
        .iter()
        .copied()
        .filter(|&c| c != not && shard.is_none_or(|s| economy.shard_of(c) == s))
        .collect();
    if eligible.is_empty() {
        return candidates.iter().copied().find(|&c| c != not).expect("two characters");
    }
    eligible[rng.random_range(0..eligible.len())]
}

async fn some_items(
    economy: &Economy,
    rng: &mut SmallRng,
    character: i64,
    max: usize,
) -> Result<Vec<Uuid>, EconomyError> {
    let inventory = economy.inventory(character).await?;
    let count = rng.random_range(0..=max.min(inventory.len()));
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let item = inventory[rng.random_range(0..inventory.len())].item_id;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

async fn build_request(
    economy: &Economy,
    config: &WorkloadConfig,
    rng: &mut SmallRng,
    key: &str,
) -> Result<Request, EconomyError> {
    // Draw everything that decides the participants first, from the seed alone.
    let characters = &config.characters;
    let initiator = characters[rng.random_range(0..characters.len())];
    let own_shard = economy.shard_of(initiator);
    let other_shard = (own_shard + 1) % economy.shard_map().len();
    let roll = rng.random_range(0..100u32);
    let cross = rng.random_bool(0.5);
    let counterparty_shard = match config.mix {
        Mix::SameShardTrades => own_shard,
        Mix::CrossShardTrades => other_shard,
        Mix::Mixed if cross => other_shard,
        Mix::Mixed => own_shard,
    };
    let counterparty = pick(rng, economy, characters, initiator, Some(counterparty_shard));
    let operation = match config.mix {
        Mix::SameShardTrades | Mix::CrossShardTrades => Operation::Trade {
            a: initiator,
            b: counterparty,
            a_items: Vec::new(),
            b_items: Vec::new(),
            a_gold: 1,
            b_gold: 1,
        },
        Mix::Mixed => match roll {
            0..35 => {
                let a_items = some_items(economy, rng, initiator, 2).await?;
                let b_items = some_items(economy, rng, counterparty, 2).await?;
                Operation::Trade {
                    a: initiator,
                    b: counterparty,
                    a_gold: rng.random_range(0..20),
                    b_gold: rng.random_range(if a_items.is_empty() && b_items.is_empty() { 1 } else { 0 }..20),
                    a_items,
                    b_items,
                }
            }
            35..55 => {
                let items = some_items(economy, rng, initiator, 2).await?;
                Operation::Mail {
                    from: initiator,
                    to: counterparty,
                    gold: rng.random_range(if items.is_empty() { 1 } else { 0 }..30),
                    items,
                }
            }
            55..70 => Operation::Loot {
                character: initiator,
                items: (0..rng.random_range(1..3))
                    .map(|n| NewItem {
                        item_type: rng.random_range(0..50),
                        bag: n,
                        stats: serde_json::json!({"roll": rng.random_range(0..1000)}),
                    })
                    .collect(),
                gold: rng.random_range(0..10),
            },
            70..82 => {
                let items = some_items(economy, rng, initiator, 1).await?;
                Operation::Destroy {
                    character: initiator,
                    item: items.first().copied().unwrap_or_else(Uuid::new_v4),
                }
            }
            _ => {
                let items = some_items(economy, rng, initiator, 1).await?;
                Operation::MoveBag {
                    character: initiator,
                    item: items.first().copied().unwrap_or_else(Uuid::new_v4),
                    bag: rng.random_range(0..16),
                }
            }
        },
    };
    Ok(Request {
        key: key.to_owned(),
        fence: config.fence,
        operation,
    })
}

/// Creates characters `1..=count` (those missing) with `items` items and `gold` each, through loot
/// keyed `seed-<id>`: idempotent, so a re-run changes nothing.
pub async fn seed(economy: &Economy, count: i64, items: usize, gold: i64, fence: Fence) -> Result<(), EconomyError> {
    for id in 1..=count {
        economy
            .create_character(id, id, &format!("character{id}"), fence.zone_id)
            .await?;
        let loot = Operation::Loot {
            character: id,
            items: (0..items)
                .map(|n| NewItem {
                    item_type: n as i32,
                    bag: 0,
                    stats: serde_json::json!({"seeded": true}),
                })
                .collect(),
            gold,
        };
        economy
            .apply(&Request {
                key: format!("seed-{id}"),
                fence,
                operation: loot,
            })
            .await?;
    }
    Ok(())
}
