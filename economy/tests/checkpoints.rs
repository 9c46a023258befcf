//! Write-behind checkpoints against two real shards: one batched write per shard, fencing and
//! sequence checks, the queue coalescing while the database is down (pushes never wait), the
//! states kept and written when it returns, and a zone's start loading its characters.

mod support;

use std::time::{Duration, Instant};

use meridian_economy::{CharacterState, CheckpointQueue, Economy, Fence, PushOutcome};
use support::*;

fn state(character_id: i64, zone_id: i64, token: i64, seq: i64) -> CharacterState {
    CharacterState {
        character_id,
        zone_id,
        fencing_token: token,
        seq,
        position: [seq as f32, 1.0, 2.0],
        stats: serde_json::json!({"hp": seq}),
    }
}

#[test]
fn checkpoints_batch_fence_coalesce_and_survive_a_database_outage() {
    let mut shards = start_shards(2);
    let map = shard_map(&shards);
    let runtime = runtime();
    let economy = runtime.block_on(async {
        let economy = Economy::connect(map.clone(), 4).await.expect("connect");
        economy.create_characters_bulk(1, 200, 5).await.expect("characters");
        economy
    });
    let queue = CheckpointQueue::new(200);
    runtime.block_on(async {
        for id in 1..=200 {
            assert_eq!(queue.push(state(id, 5, 1, 10)), PushOutcome::Queued);
        }
        let report = queue.flush(&economy).await.expect("flush");
        assert_eq!(report.written, 200);
        let loaded = economy.load_characters(5).await.expect("load");
        assert_eq!(loaded.len(), 200, "both shards read");
        assert_eq!(loaded[0].position, [10.0, 1.0, 2.0]);
        assert_eq!(loaded[0].stats, serde_json::json!({"hp": 10}));
        assert_eq!(loaded[0].seq, 10);

        // An older sequence is not written over a newer one; a stale fence is not written at all.
        economy
            .raise_fence(Fence { zone_id: 5, token: 2 })
            .await
            .expect("raise");
        queue.push(state(1, 5, 2, 9)); // older
        queue.push(state(2, 5, 1, 11)); // the zone's previous owner
        queue.push(state(3, 5, 2, 11)); // fine
        let report = queue.flush(&economy).await.expect("flush");
        assert_eq!((report.written, report.skipped), (1, 2));
        let loaded = economy.load_characters(5).await.expect("load");
        let seq_of = |id: i64| loaded.iter().find(|s| s.character_id == id).unwrap().seq;
        assert_eq!((seq_of(1), seq_of(2), seq_of(3)), (10, 10, 11));
        // A character checkpointed from another zone moves to that zone's list.
        queue.push(state(4, 6, 0, 12));
        queue.flush(&economy).await.expect("flush");
        assert_eq!(economy.load_characters(6).await.unwrap().len(), 1);
    });

    // The database goes away: pushes still return at once and coalesce per character; the flush
    // fails and keeps the newest states for the next one.
    shards[1].kill().expect("kill shard 1");
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for seq in 20..70 {
        for id in 1..=200 {
            let push = Instant::now();
            queue.push(state(id, 5, 2, seq));
            slowest = slowest.max(push.elapsed());
        }
    }
    let counters = queue.counters();
    assert_eq!(queue.len(), 200, "one state per character, however many pushes");
    assert!(counters.coalesced >= 49 * 200, "{counters:?}");
    // Waiting on the dead shard would take a connection attempt (seconds); a push is a map insert.
    // The bound is that difference, generous enough for a loaded CI machine (a 5 ms bound failed at
    // 8 ms under load).
    assert!(slowest < Duration::from_millis(500), "a push waited {slowest:?}");
    eprintln!("10,000 pushes in {:?}, slowest {slowest:?}", started.elapsed());
    runtime.block_on(async {
        assert!(queue.flush(&economy).await.is_err(), "shard 1 is down");
        assert_eq!(queue.counters().flush_failures, 1);
        let on_shard_1 = (1..=200).filter(|&id| map.shard_of(id) == 1).count();
        assert_eq!(queue.len(), on_shard_1, "shard 0 written, shard 1's states kept");
    });
    shards[1].restart().expect("restart shard 1");
    let on_shard_1 = (1..=200).filter(|&id| map.shard_of(id) == 1).count();
    runtime.block_on(async {
        // The pool's broken connections are replaced on the next checkout.
        let mut report = None;
        for _ in 0..20 {
            match queue.flush(&economy).await {
                Ok(flushed) => {
                    report = Some(flushed);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        let report = report.expect("flush after the shard returned");
        assert_eq!(report.written, on_shard_1, "{report:?}");
        let loaded = economy.load_characters(5).await.expect("load");
        assert!(
            loaded.iter().all(|s| s.seq == 69),
            "the newest state of each character won"
        );
    });
}
