//! The figures (run on purpose, one run each: `cargo test -p meridian-economy --test figures --
//! --ignored --nocapture`): trades per second with 32 clients, same-shard against cross-shard
//! (two-phase commit), with p50/p99 latency; the wall time of one checkpoint of 100,000 characters
//! over two shards.

mod support;

use std::{sync::Arc, time::Instant};

use meridian_economy::{
    CharacterState, CheckpointQueue, Economy,
    workload::{self, Mix, WorkloadConfig},
};
use support::*;

const TRADE_CHARACTERS: i64 = 1_000;
const TRADES: u64 = 4_000;
const CHECKPOINT_CHARACTERS: i64 = 100_000;

#[test]
#[ignore = "figure: run on purpose"]
fn figures_trades_and_checkpoint() {
    let shards = start_shards(2);
    let map = shard_map(&shards);
    runtime().block_on(async {
        let economy = Arc::new(Economy::connect(map.clone(), 40).await.expect("connect"));
        workload::seed(&economy, TRADE_CHARACTERS, 0, 1_000, FENCE)
            .await
            .expect("seed");
        for (name, mix, first_op) in [
            ("same-shard", Mix::SameShardTrades, 0),
            ("cross-shard (2PC)", Mix::CrossShardTrades, TRADES),
        ] {
            let report = workload::run(
                economy.clone(),
                WorkloadConfig {
                    seed: 9,
                    first_op,
                    ops: TRADES,
                    clients: 32,
                    characters: (1..=TRADE_CHARACTERS).collect(),
                    repeat_probability: 0.0,
                    mix,
                    fence: FENCE,
                },
            )
            .await;
            assert_eq!(report.applied, TRADES, "{}", report.summary());
            eprintln!(
                "FIGURE trades {name}: 32 clients, {} trades in {} ms = {:.0} trades/s, p50 {} us, p99 {} us",
                report.applied,
                report.elapsed.as_millis(),
                report.applied as f64 / report.elapsed.as_secs_f64(),
                report.latency_quantile_us(0.5),
                report.latency_quantile_us(0.99),
            );
        }
        let reconcile = economy.reconcile().await.expect("reconcile");
        assert!(reconcile.ok(), "{:?}", reconcile.violations);

        economy
            .create_characters_bulk(1_000_000, CHECKPOINT_CHARACTERS, 2)
            .await
            .expect("characters");
        let queue = CheckpointQueue::new(CHECKPOINT_CHARACTERS as usize);
        for seq in 1..=2 {
            for id in 1_000_000..1_000_000 + CHECKPOINT_CHARACTERS {
                queue.push(CharacterState {
                    character_id: id,
                    zone_id: 2,
                    fencing_token: 0,
                    seq,
                    position: [id as f32, 2.0, 3.0],
                    stats: serde_json::json!({"hp": 100, "level": 7, "xp": id}),
                });
            }
            let started = Instant::now();
            let report = queue.flush(&economy).await.expect("flush");
            assert_eq!(report.written, CHECKPOINT_CHARACTERS as usize);
            eprintln!(
                "FIGURE checkpoint #{seq}: {} characters over 2 shards in {} ms",
                report.written,
                started.elapsed().as_millis()
            );
        }
    });
}
