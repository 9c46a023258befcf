//! `meridian-economy`: migrations, seeding, the seeded workload, recovery of in-doubt two-phase
//! transactions, the reconciliation of the invariants (exit 1 when broken), and the figures.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use meridian_economy::{
    CharacterState, CheckpointQueue, Economy, Fence, ShardMap, db,
    workload::{self, Mix, WorkloadConfig},
};

#[derive(Parser)]
#[command(about = "Meridian economy: sharded Postgres inventories")]
struct Cli {
    /// A shard's connection string, in shard order (repeat for each shard).
    #[arg(
        long = "shard",
        required = true,
        env = "MERIDIAN_ECONOMY_SHARDS",
        value_delimiter = ','
    )]
    shards: Vec<String>,
    /// Connections per shard.
    #[arg(long, default_value_t = 40)]
    pool_size: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum MixArg {
    Mixed,
    SameShardTrades,
    CrossShardTrades,
}

#[derive(Subcommand)]
enum Cmd {
    /// Apply the schema migrations on every shard (idempotent).
    Migrate,
    /// Create characters 1..=N with items and gold (idempotent).
    Seed {
        #[arg(long, default_value_t = 64)]
        characters: i64,
        #[arg(long, default_value_t = 6)]
        items: usize,
        #[arg(long, default_value_t = 1000)]
        gold: i64,
    },
    /// Run the seeded operation mix; a re-run with the same seed retries the same keys.
    Workload {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 5000)]
        ops: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 64)]
        characters: i64,
        #[arg(long, default_value_t = 0.25)]
        repeat_probability: f64,
        #[arg(long, value_enum, default_value_t = MixArg::Mixed)]
        mix: MixArg,
    },
    /// Settle in-doubt two-phase transactions from the decision log.
    Recover {
        #[arg(long, default_value_t = 0)]
        min_age_ms: u64,
    },
    /// Check the invariants across shards; exit 1 if any is broken.
    Reconcile,
    /// Figure: wall time of one checkpoint of N characters (creates them first).
    CheckpointFigure {
        #[arg(long, default_value_t = 100_000)]
        characters: i64,
    },
}

const FENCE: Fence = Fence { zone_id: 1, token: 1 };

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let map = ShardMap::new(1, cli.shards.clone());
    match cli.command {
        Cmd::Migrate => {
            for url in &map.urls {
                db::migrate(url).await.with_context(|| format!("migrating {url}"))?;
            }
            println!("migrated {} shards", map.len());
        }
        Cmd::Seed {
            characters,
            items,
            gold,
        } => {
            let economy = Economy::connect(map, cli.pool_size).await?;
            workload::seed(&economy, characters, items, gold, FENCE).await?;
            println!("seeded {characters} characters");
        }
        Cmd::Workload {
            seed,
            ops,
            clients,
            characters,
            repeat_probability,
            mix,
        } => {
            let economy = Arc::new(Economy::connect_without_migrations(map, cli.pool_size)?);
            let config = WorkloadConfig {
                seed,
                first_op: 0,
                ops,
                clients,
                characters: (1..=characters).collect(),
                repeat_probability,
                mix: match mix {
                    MixArg::Mixed => Mix::Mixed,
                    MixArg::SameShardTrades => Mix::SameShardTrades,
                    MixArg::CrossShardTrades => Mix::CrossShardTrades,
                },
                fence: FENCE,
            };
            let report = workload::run(economy, config).await;
            println!("workload {}", report.summary());
            if report.repeat_mismatches > 0 || report.gave_up > 0 {
                bail!(
                    "{} repeat mismatches, {} operations gave up",
                    report.repeat_mismatches,
                    report.gave_up
                );
            }
        }
        Cmd::Recover { min_age_ms } => {
            let economy = Economy::connect_without_migrations(map, cli.pool_size)?;
            let report = economy.recover(Duration::from_millis(min_age_ms)).await?;
            println!(
                "recovered committed={} rolled_back={} unresolved={}",
                report.committed, report.rolled_back, report.unresolved
            );
            if report.unresolved > 0 {
                bail!("{} in-doubt transactions unresolved", report.unresolved);
            }
        }
        Cmd::Reconcile => {
            let economy = Economy::connect_without_migrations(map, cli.pool_size)?;
            let report = economy.reconcile().await?;
            println!(
                "reconcile characters={} items={} balance_total={} minted_total={} keys={} prepared={} violations={}",
                report.characters,
                report.items,
                report.balance_total,
                report.minted_total,
                report.keys,
                report.prepared,
                report.violations.len()
            );
            for violation in report.violations.iter().take(50) {
                println!("violation: {violation}");
            }
            if !report.ok() {
                std::process::exit(1);
            }
        }
        Cmd::CheckpointFigure { characters } => {
            let economy = Economy::connect(map.clone(), cli.pool_size).await?;
            economy.create_characters_bulk(1, characters, FENCE.zone_id).await?;
            let queue = CheckpointQueue::new(characters as usize);
            for id in 1..=characters {
                queue.push(CharacterState {
                    character_id: id,
                    zone_id: FENCE.zone_id,
                    fencing_token: FENCE.token,
                    seq: 1,
                    position: [id as f32, 2.0, 3.0],
                    stats: serde_json::json!({"hp": 100, "level": 7}),
                });
            }
            let started = std::time::Instant::now();
            let report = queue.flush(&economy).await?;
            let elapsed = started.elapsed();
            println!(
                "checkpoint characters={} shards={} written={} skipped={} wall_ms={}",
                characters,
                map.len(),
                report.written,
                report.skipped,
                elapsed.as_millis()
            );
        }
    }
    Ok(())
}
