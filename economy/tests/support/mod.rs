//! Shared by the economy's integration tests: real Postgres shards with two-phase commit enabled.
#![allow(dead_code)]

use meridian_economy::{Economy, Fence, NewItem, Operation, Request, ShardMap};
use meridian_testkit::Postgres;

/// Two-phase commit needs prepared-transaction slots (Postgres' default is 0).
pub const PG_SETTINGS: &[(&str, &str)] = &[("max_prepared_transactions", "64")];

/// `count` Postgres servers started side by side.
pub fn start_shards(count: usize) -> Vec<Postgres> {
    let handles: Vec<_> = (0..count)
        .map(|_| std::thread::spawn(|| Postgres::start_with(PG_SETTINGS).map_err(|e| e.to_string())))
        .collect();
    // The servers die with the thread that spawned them (PR_SET_PDEATHSIG): restart them from this
    // thread so they live as long as the test.
    let mut shards = Vec::new();
    for handle in handles {
        let mut postgres = handle.join().expect("start thread").expect("postgres starts");
        postgres.kill().expect("stop");
        postgres.restart().expect("restart on the test's thread");
        shards.push(postgres);
    }
    shards
}

pub fn shard_map(shards: &[Postgres]) -> ShardMap {
    ShardMap::new(1, shards.iter().map(Postgres::connection_string).collect())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The first `count` character ids (from 1) that map to `shard`.
pub fn ids_on(map: &ShardMap, shard: usize, count: usize) -> Vec<i64> {
    (1..).filter(|&id| map.shard_of(id) == shard).take(count).collect()
}

pub const FENCE: Fence = Fence { zone_id: 1, token: 1 };

pub fn request(key: impl Into<String>, operation: Operation) -> Request {
    Request {
        key: key.into(),
        fence: FENCE,
        operation,
    }
}

pub fn sword() -> NewItem {
    NewItem {
        item_type: 7,
        bag: 0,
        stats: serde_json::json!({"damage": 12, "rarity": "rare"}),
    }
}

/// Creates `characters` and gives each `items` items and `gold` through loot (keys `seed-<id>`).
pub async fn seed(economy: &Economy, characters: &[i64], items: usize, gold: i64) {
    for &id in characters {
        economy
            .create_character(id, 1000 + id, &format!("hero{id}"), 1)
            .await
            .expect("create character");
        let loot = Operation::Loot {
            character: id,
            items: (0..items).map(|_| sword()).collect(),
            gold,
        };
        economy
            .apply(&request(format!("seed-{id}"), loot))
            .await
            .expect("seed loot");
    }
}
