//! The figures for `perf/RESULTS.md` (ignored; one run, release):
//! `cargo test --release -p meridian-hotstate --test figures -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_hotstate::{GlobalChat, LootSnapshot, NpcSnapshot, RedisLink, ZoneSnapshot, ZoneStateStore};
use meridian_testkit::Redis;

const PLAYERS_PER_NODE: u64 = 1_000;
/// Lines each player sends (within the 5-per-10-s rate), spread over the run.
const LINES_PER_PLAYER: u64 = 2;
const RUN: Duration = Duration::from_secs(10);

fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: run once in release"]
async fn global_chat_fan_out_latency_across_two_nodes() {
    let redis = Redis::start().expect("start redis");
    let nodes = ["node-a", "node-b"];
    let mut chats = Vec::new();
    let mut receivers = Vec::new();
    for node in nodes {
        let (chat, inbox) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), node)
            .await
            .unwrap();
        chats.push(chat);
        receivers.push(inbox);
    }
    let expected = PLAYERS_PER_NODE * LINES_PER_PLAYER * 2;
    // Each node fans every line out to its 1,000 players (a bounded mailbox each, as a session's
    // reliable channel would be) and measures publish → the last local player has it, for lines from
    // the other node.
    let mut fan_outs = Vec::new();
    for (index, mut inbox) in receivers.into_iter().enumerate() {
        let me = nodes[index];
        fan_outs.push(tokio::spawn(async move {
            let mut mailboxes: Vec<Vec<Arc<str>>> = (0..PLAYERS_PER_NODE).map(|_| Vec::with_capacity(64)).collect();
            let mut latencies_us = Vec::new();
            let mut received = 0;
            let deadline = tokio::time::Instant::now() + RUN + Duration::from_secs(5);
            while received < expected {
                let Ok(Some(line)) = tokio::time::timeout_at(deadline, inbox.recv()).await else {
                    break;
                };
                received += 1;
                let text: Arc<str> = line.text.into();
                for mailbox in &mut mailboxes {
                    if mailbox.len() == 64 {
                        mailbox.clear(); // the session drained it
                    }
                    mailbox.push(text.clone());
                }
                if line.origin_node != me {
                    latencies_us.push(unix_us().saturating_sub(line.sent_at_unix_us));
                }
            }
            (received, latencies_us)
        }));
    }
    // Senders: every player's lines at evenly spread instants over the run, per node.
    let started = Instant::now();
    let mut senders = Vec::new();
    for (index, chat) in chats.iter().enumerate() {
        let chat = chat.clone();
        senders.push(tokio::spawn(async move {
            let total = PLAYERS_PER_NODE * LINES_PER_PLAYER;
            let step = RUN / total as u32;
            let mut refused = 0u64;
            let mut in_flight = tokio::task::JoinSet::new();
            for n in 0..total {
                tokio::time::sleep_until((started + step * n as u32).into()).await;
                let chat = chat.clone();
                let player = (n % PLAYERS_PER_NODE) + 10_000 * index as u64;
                in_flight.spawn(async move { chat.publish(player, &format!("line {n} from {player}")).await });
            }
            while let Some(result) = in_flight.join_next().await {
                if result.unwrap().is_err() {
                    refused += 1;
                }
            }
            refused
        }));
    }
    for sender in senders {
        assert_eq!(sender.await.unwrap(), 0, "no line refused");
    }
    for (index, fan_out) in fan_outs.into_iter().enumerate() {
        let (received, mut latencies) = fan_out.await.unwrap();
        assert_eq!(received, expected, "{} received every line", nodes[index]);
        latencies.sort_unstable();
        println!(
            "global chat {}: {} lines from the other node ({:.0}/s both ways), publish → fanned out to {} players: \
             p50 {} µs, p99 {} µs, max {} µs; dropped {}",
            nodes[index],
            latencies.len(),
            expected as f64 / RUN.as_secs_f64(),
            PLAYERS_PER_NODE,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().unwrap(),
            chats[index].counters().received_dropped
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figure: run once in release"]
async fn zone_state_write_time_for_a_2000_entity_zone() {
    let redis = Redis::start().expect("start redis");
    let store = ZoneStateStore::new(RedisLink::new(&redis.url()).unwrap());
    let snapshot = |tick: u64| ZoneSnapshot {
        zone_id: 1,
        layer: 0,
        tick,
        fencing_token: 9,
        written_at_unix_ms: 0,
        npcs: (0..1_500)
            .map(|i| NpcSnapshot {
                npc_id: i + 1,
                kind: (i % 9) as u16,
                health: 100,
                health_max: 100,
                position_m: [i as f32, tick as f32, 0.0],
                yaw: 1.0,
                home_m: [i as f32, 0.0, 0.0],
                loot_item_id: 77,
                dead_until_tick: None,
            })
            .collect(),
        loot: (0..500)
            .map(|i| LootSnapshot {
                loot_id: 5_000 + i,
                item_id: 77,
                quantity: 1,
                claimed: false,
                position_m: [3.0, i as f32, 0.0],
                expires_tick: tick + 1_200,
                key_epoch: 9,
                key_serial: u64::from(i),
            })
            .collect(),
    };
    let mut bytes = 0;
    let (mut encode_us, mut save_us, mut load_us) = (Vec::new(), Vec::new(), Vec::new());
    for tick in 0..200 {
        let zone = snapshot(tick);
        let started = Instant::now();
        let blob = zone.encode().unwrap();
        encode_us.push(started.elapsed().as_micros() as u64);
        // Fields at their default are left out, so the size moves by a few bytes with the tick.
        bytes = bytes.max(blob.len());
        let started = Instant::now();
        store.save(1, 9, &zone).await.unwrap();
        save_us.push(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        assert_eq!(store.load(1).await.unwrap().unwrap().tick, tick);
        load_us.push(started.elapsed().as_micros() as u64);
    }
    for samples in [&mut encode_us, &mut save_us, &mut load_us] {
        samples.sort_unstable();
    }
    println!(
        "zone state, 1,500 NPCs + 500 loot = {bytes} bytes at most: encode p50 {} µs p99 {} µs; \
         save (encode + script) p50 {} µs p99 {} µs; load (read + decode) p50 {} µs p99 {} µs",
        percentile(&encode_us, 0.5),
        percentile(&encode_us, 0.99),
        percentile(&save_us, 0.5),
        percentile(&save_us, 0.99),
        percentile(&load_us, 0.5),
        percentile(&load_us, 0.99),
    );
}
