//! The hot-state stores and global chat against a real Redis (the testkit's throwaway server).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use meridian_hotstate::{
    CHAT_MESSAGES_PER_WINDOW, CHAT_RECEIVE_QUEUE_MAX, ChatRefusal, GLOBAL_CHAT_CHANNEL, GlobalChat, GlobalChatMessage,
    GlobalChatReceiver, HotStateError, LootSnapshot, NpcSnapshot, REDIS_OP_TIMEOUT, RedisLink, ResumeHints,
    SessionRecord, SessionResume, SessionStore, ZoneSessions, ZoneSnapshot, ZoneStateStore, ZoneStateWriter,
};
use meridian_proto::messages::CHAT_TEXT_BYTES_MAX;
use meridian_testkit::Redis;

fn record(zone_id: u32, fencing_token: u64, node: &str) -> SessionRecord {
    SessionRecord {
        character_id: 9001,
        account_id: 17,
        node_id: node.into(),
        zone_id,
        session_id: 0xfeed_beef,
        fencing_token,
        resume: None,
    }
}

fn resumable(session_id: u64, zone_id: u32, fencing_token: u64, node: &str) -> SessionRecord {
    SessionRecord {
        session_id,
        resume: Some(SessionResume {
            sealed_keys: vec![0xa5; 120],
            hints: ResumeHints {
                client_address: Some("127.0.0.1:40000".parse().unwrap()),
                received_sequence: Some(12),
                sent_sequence: 30,
                position_m: Some([1.5, -2.0, 0.0]),
                entity: Some(7),
            },
        }),
        ..record(zone_id, fencing_token, node)
    }
}

fn zone(zone_id: u32, token: u64, tick: u64, npcs: usize, loot: usize) -> ZoneSnapshot {
    ZoneSnapshot {
        zone_id,
        layer: 0,
        tick,
        fencing_token: token,
        written_at_unix_ms: 1_700_000_000_000,
        npcs: (0..npcs)
            .map(|i| NpcSnapshot {
                npc_id: i as u32 + 1,
                kind: 3,
                health: 80,
                health_max: 100,
                position_m: [i as f32, 2.0 * i as f32, 0.0],
                yaw: 0.5,
                home_m: [i as f32, 0.0, 0.0],
                loot_item_id: 500,
                dead_until_tick: (i % 3 == 0).then_some(tick + 100),
            })
            .collect(),
        loot: (0..loot)
            .map(|i| LootSnapshot {
                loot_id: 10_000 + i as u32,
                item_id: 500,
                quantity: 2,
                claimed: false,
                position_m: [1.0, i as f32, 0.0],
                expires_tick: tick + 1200,
                key_epoch: token,
                key_serial: i as u64,
            })
            .collect(),
    }
}

fn kill_hard(redis: Redis) {
    // SIGKILL, as a crash would: no goodbye on the sockets beyond what the kernel sends.
    let status = std::process::Command::new("kill")
        .args(["-9", &redis.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    drop(redis);
}

/// Receives lines until `count` arrived or `within` passed.
async fn receive(receiver: &mut GlobalChatReceiver, count: usize, within: Duration) -> Vec<GlobalChatMessage> {
    let deadline = tokio::time::Instant::now() + within;
    let mut lines = Vec::new();
    while lines.len() < count {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(line)) => lines.push(line),
            _ => break,
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_written_read_refreshed_and_expires() {
    let redis = Redis::start().expect("start redis");
    let link = RedisLink::new(&redis.url()).unwrap();
    let sessions = SessionStore::new(link.clone(), Duration::from_millis(2000));
    assert_eq!(sessions.get(1).await.unwrap(), None);

    sessions.put(1, &record(4, 10, "node-a")).await.unwrap();
    assert_eq!(sessions.get(1).await.unwrap(), Some(record(4, 10, "node-a")));
    let ttl = sessions.ttl_ms(1).await.unwrap().expect("a ttl");
    assert!(ttl > 1000 && ttl <= 2000, "ttl {ttl} ms");

    // Refreshing keeps it past its first expiry.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(sessions.refresh(1, 4, 10).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sessions.get(1).await.unwrap(), Some(record(4, 10, "node-a")));

    // Without a refresh it expires: Redis drops it, the store reports it gone.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(sessions.get(1).await.unwrap(), None);
    assert!(!sessions.refresh(1, 4, 10).await.unwrap());

    sessions.put(2, &record(4, 10, "node-a")).await.unwrap();
    assert!(sessions.delete(2, 4, 10).await.unwrap());
    assert_eq!(sessions.get(2).await.unwrap(), None);
    assert!(!sessions.delete(2, 4, 10).await.unwrap());
    assert_eq!(link.counters().unavailable, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_zone_owner_cannot_overwrite_refresh_or_end_a_session() {
    let redis = Redis::start().expect("start redis");
    let sessions = SessionStore::new(RedisLink::new(&redis.url()).unwrap(), Duration::from_secs(60));
    // Zone 4 failed over from token 10 (node-a) to token 12 (node-b).
    sessions.put(7, &record(4, 10, "node-a")).await.unwrap();
    sessions.put(7, &record(4, 12, "node-b")).await.unwrap();
    let fenced = HotStateError::Fenced {
        stored_zone: 4,
        stored_token: 12,
        offered_token: 10,
    };
    assert_eq!(sessions.put(7, &record(4, 10, "node-a")).await, Err(fenced.clone()));
    assert_eq!(sessions.refresh(7, 4, 10).await, Err(fenced.clone()));
    assert_eq!(sessions.delete(7, 4, 10).await, Err(fenced));
    assert_eq!(sessions.get(7).await.unwrap(), Some(record(4, 12, "node-b")));
    // The same owner rewrites freely; tokens compare exactly beyond 2^53 (strings, not Lua doubles).
    sessions.put(7, &record(4, 12, "node-b")).await.unwrap();
    sessions.put(8, &record(4, u64::MAX, "node-b")).await.unwrap();
    assert!(matches!(
        sessions.put(8, &record(4, u64::MAX - 1, "node-a")).await,
        Err(HotStateError::Fenced { .. })
    ));
    // A handoff to another zone (whatever its token) moves the session; the old zone's owner can no
    // longer keep it alive or end it.
    sessions.put(7, &record(5, 3, "node-c")).await.unwrap();
    assert!(matches!(
        sessions.refresh(7, 4, 12).await,
        Err(HotStateError::Fenced {
            stored_zone: 5,
            stored_token: 3,
            ..
        })
    ));
    assert!(sessions.refresh(7, 5, 3).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_state_is_restored_with_its_npcs_and_loot_and_stale_saves_are_fenced() {
    let redis = Redis::start().expect("start redis");
    let store = ZoneStateStore::new(RedisLink::new(&redis.url()).unwrap());
    assert_eq!(store.load(4).await.unwrap(), None);

    let first = zone(4, 20, 600, 50, 30);
    store.save(4, 20, &first).await.unwrap();
    // The next owner (a new process: a new link) restores exactly what was saved.
    let restorer = ZoneStateStore::new(RedisLink::new(&redis.url()).unwrap());
    assert_eq!(restorer.load(4).await.unwrap(), Some(first.clone()));

    // It saves under its newer token; the old owner's late save is refused and changes nothing.
    let second = zone(4, 21, 700, 48, 31);
    restorer.save(4, 21, &second).await.unwrap();
    assert_eq!(
        store.save(4, 20, &zone(4, 20, 650, 1, 1)).await,
        Err(HotStateError::Fenced {
            stored_zone: 4,
            stored_token: 21,
            offered_token: 20
        })
    );
    assert_eq!(store.load(4).await.unwrap(), Some(second));
    assert_eq!(store.stored_token(4).await.unwrap(), Some(21));
    // A snapshot that names another zone or token is a caller bug, refused before Redis.
    assert!(matches!(
        store.save(5, 21, &first).await,
        Err(HotStateError::InvalidArgument(_))
    ));

    // Garbage under the key is reported as corrupt, not decoded into a zone.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("HSET")
        .arg("ZoneState:9")
        .arg("token")
        .arg("1")
        .arg("state")
        .arg(&b"\x01\x02garbage"[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(store.load(9).await, Err(HotStateError::Corrupt { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_coalesces_to_the_newest_snapshot_and_stops_a_fenced_zone() {
    let redis = Redis::start().expect("start redis");
    let link = RedisLink::new(&redis.url()).unwrap();
    let store = ZoneStateStore::new(link.clone());
    let writer = ZoneStateWriter::spawn(store.clone(), Duration::from_millis(300));

    // Ten ticks' snapshots offered faster than the period: only the newest is written.
    let offered_at = Instant::now();
    for tick in 1..=10 {
        assert!(writer.offer(zone(1, 5, tick, 20, 5)));
    }
    assert!(writer.offer(zone(2, 5, 3, 2, 0)));
    assert!(
        offered_at.elapsed() < Duration::from_millis(50),
        "offer must not wait for Redis"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let counters = writer.counters();
    assert_eq!(counters.offered, 11);
    assert_eq!(counters.coalesced, 9);
    assert_eq!(counters.writes_ok, 2);
    assert_eq!(store.load(1).await.unwrap().map(|s| s.tick), Some(10));
    assert_eq!(store.load(2).await.unwrap().map(|s| s.tick), Some(3));

    // A newer owner takes zone 1: this writer's next save is fenced and its later offers refused.
    store.save(1, 6, &zone(1, 6, 50, 1, 1)).await.unwrap();
    assert!(writer.offer(zone(1, 5, 11, 20, 5)));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(writer.counters().writes_fenced, 1);
    assert!(!writer.offer(zone(1, 5, 12, 20, 5)));
    assert_eq!(writer.counters().refused_fenced, 1);
    assert_eq!(
        store.load(1).await.unwrap().map(|s| (s.tick, s.fencing_token)),
        Some((50, 6))
    );

    // Shutdown writes what is pending.
    assert!(writer.offer(zone(2, 5, 4, 2, 0)));
    writer.shutdown().await;
    assert_eq!(store.load(2).await.unwrap().map(|s| s.tick), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_unavailable_within_the_timeout_and_everything_recovers_on_the_same_port() {
    let redis = Redis::start().expect("start redis");
    let port = redis.port();
    let link = RedisLink::new(&redis.url()).unwrap();
    let sessions = SessionStore::new(link.clone(), Duration::from_secs(60));
    let store = ZoneStateStore::new(link.clone());
    let writer = ZoneStateWriter::spawn(store.clone(), Duration::from_millis(200));
    let (chat_a, mut inbox_a) = GlobalChat::connect(link.clone(), "node-a").await.unwrap();
    let (chat_b, mut inbox_b) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), "node-b")
        .await
        .unwrap();
    sessions.put(1, &record(4, 10, "node-a")).await.unwrap();
    store.save(4, 10, &zone(4, 10, 100, 5, 5)).await.unwrap();

    kill_hard(redis);

    // Every call answers Unavailable, within the op timeout (plus scheduling slack).
    let bound = REDIS_OP_TIMEOUT + Duration::from_millis(300);
    let started = Instant::now();
    assert!(matches!(sessions.get(1).await, Err(HotStateError::Unavailable { .. })));
    assert!(started.elapsed() < bound, "get took {:?}", started.elapsed());
    let started = Instant::now();
    assert!(matches!(store.load(4).await, Err(HotStateError::Unavailable { .. })));
    assert!(started.elapsed() < bound, "load took {:?}", started.elapsed());
    let started = Instant::now();
    assert!(matches!(
        sessions.put(2, &record(4, 10, "node-a")).await,
        Err(HotStateError::Unavailable { .. })
    ));
    assert!(started.elapsed() < bound, "put took {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(chat_a.publish(1, "anyone?").await, Err(ChatRefusal::Unavailable));
    assert!(started.elapsed() < bound, "publish took {:?}", started.elapsed());
    assert!(link.counters().unavailable >= 4, "{:?}", link.counters());
    assert_eq!(chat_a.counters().refused_unavailable, 1);

    // The writer keeps the newest snapshot and counts its failed rounds.
    assert!(writer.offer(zone(4, 10, 200, 5, 5)));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(writer.counters().writes_unavailable >= 1, "{:?}", writer.counters());
    assert_eq!(writer.pending_zones(), 1);
    // The subscriptions noticed (ping or closed socket).
    let deadline = Instant::now() + Duration::from_secs(3);
    while (chat_a.is_subscribed() || chat_b.is_subscribed()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!chat_a.is_subscribed() && !chat_b.is_subscribed());
    assert_eq!(chat_b.try_publish(2, "anyone there?"), Err(ChatRefusal::Unavailable));

    // A new Redis on the same port (empty: persistence is off): the same handles recover.
    let redis = Redis::start_on_port(port).expect("restart redis on the same port");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut recovered = false;
    while Instant::now() < deadline {
        if sessions.put(1, &record(4, 10, "node-a")).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "sessions did not recover: {:?}", link.counters());
    assert_eq!(sessions.get(1).await.unwrap(), Some(record(4, 10, "node-a")));
    // The writer's retained snapshot lands without a new offer.
    let deadline = Instant::now() + Duration::from_secs(3);
    while store.load(4).await.ok().flatten().is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.load(4).await.unwrap().map(|s| s.tick), Some(200));
    // Chat resubscribes, and lines flow both ways again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(chat_a.is_subscribed() && chat_b.is_subscribed()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(chat_a.is_subscribed() && chat_b.is_subscribed());
    chat_a.publish(1, "back").await.unwrap();
    chat_b.try_publish(2, "me too").unwrap();
    for inbox in [&mut inbox_a, &mut inbox_b] {
        let mut lines: Vec<String> = receive(inbox, 2, Duration::from_secs(2))
            .await
            .into_iter()
            .map(|l| l.text)
            .collect();
        lines.sort_unstable();
        assert_eq!(lines, ["back", "me too"]);
    }
    assert_eq!(chat_a.counters().subscriptions, 2);
    assert!(chat_a.counters().subscriptions_lost >= 1);
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_line_reaches_every_node_once() {
    let redis = Redis::start().expect("start redis");
    let nodes = ["node-a", "node-b", "node-c"];
    let mut chats = Vec::new();
    let mut inboxes = Vec::new();
    for node in nodes {
        // Each node its own link, as separate processes would have.
        let (chat, inbox) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), node)
            .await
            .unwrap();
        chats.push(chat);
        inboxes.push(inbox);
    }
    // Players on node a and node b each send some lines (within the rate).
    let mut sent = Vec::new();
    for (index, chat) in chats.iter().enumerate().take(2) {
        for player in 0..4u64 {
            for line in 0..3 {
                let text = format!("{}:{player}:{line}", nodes[index]);
                chat.publish(player + 100 * index as u64, &text).await.unwrap();
                sent.push(text);
            }
        }
    }
    // Node c's worker thread (no runtime) sends through the queue that never waits.
    let from_thread = chats[2].clone();
    let thread_lines = std::thread::spawn(move || {
        (0..3)
            .map(|line| {
                let text = format!("node-c:7:{line}");
                from_thread.try_publish(7, &text).unwrap();
                text
            })
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    sent.extend(thread_lines);
    for (node, inbox) in nodes.iter().zip(inboxes.iter_mut()) {
        let lines = receive(inbox, sent.len(), Duration::from_secs(3)).await;
        // Nothing more arrives afterwards (no duplicate through a second path).
        assert!(
            receive(inbox, 1, Duration::from_millis(300)).await.is_empty(),
            "{node} got extra lines"
        );
        let mut texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        texts.sort_unstable();
        let mut expected: Vec<&str> = sent.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(texts, expected, "{node} must get every line exactly once");
        // Each line names its origin and sender; (origin, id) is unique.
        let mut ids = HashMap::new();
        for line in &lines {
            assert!(line.text.starts_with(&line.origin_node));
            assert_eq!(
                line.text.split(':').nth(1).unwrap().parse::<u64>().unwrap(),
                line.from % 100
            );
            assert!(ids.insert((line.origin_node.clone(), line.id), ()).is_none());
        }
    }
    // A node's own lines came back through the subscription, once.
    assert_eq!(chats[0].counters().received, sent.len() as u64);
    assert_eq!(chats[0].counters().published, 12);
    assert_eq!(chats[2].counters().published, 3);
    assert_eq!(chats[2].counters().received_dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_refusals_carry_their_reason_and_refused_lines_go_nowhere() {
    let redis = Redis::start().expect("start redis");
    let (chat, mut inbox) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), "node-a")
        .await
        .unwrap();
    let (_other, mut other_inbox) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), "node-b")
        .await
        .unwrap();

    assert_eq!(chat.publish(1, "").await, Err(ChatRefusal::Empty));
    assert_eq!(chat.publish(1, "   ").await, Err(ChatRefusal::Empty));
    let long = "x".repeat(CHAT_TEXT_BYTES_MAX + 1);
    assert_eq!(
        chat.publish(1, &long).await,
        Err(ChatRefusal::TooLong {
            bytes: CHAT_TEXT_BYTES_MAX + 1,
            limit: CHAT_TEXT_BYTES_MAX
        })
    );
    chat.publish(1, &"y".repeat(CHAT_TEXT_BYTES_MAX)).await.unwrap();
    for line in 1..CHAT_MESSAGES_PER_WINDOW {
        chat.publish(1, &format!("line {line}")).await.unwrap();
    }
    let refusal = chat.publish(1, "one too many").await.unwrap_err();
    assert!(matches!(refusal, ChatRefusal::RateLimited { retry_after_ms } if retry_after_ms > 0));
    assert_eq!(refusal.label(), "rate_limited");
    // Another player on the same node is not limited by player 1.
    chat.publish(2, "hello").await.unwrap();

    let expected = CHAT_MESSAGES_PER_WINDOW as usize + 1;
    for inbox in [&mut inbox, &mut other_inbox] {
        let lines = receive(inbox, expected + 1, Duration::from_millis(800)).await;
        assert_eq!(lines.len(), expected, "only accepted lines are delivered");
        assert!(
            lines
                .iter()
                .all(|l| !l.text.is_empty() && l.text.len() <= CHAT_TEXT_BYTES_MAX)
        );
        assert!(!lines.iter().any(|l| l.text == "one too many"));
    }
    let counters = chat.counters();
    assert_eq!(counters.refused_empty, 2);
    assert_eq!(counters.refused_too_long, 1);
    assert_eq!(counters.refused_rate_limited, 1);
    assert_eq!(counters.published, expected as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_drain_its_inbox_drops_and_counts_never_blocks() {
    let redis = Redis::start().expect("start redis");
    let (chat_a, _inbox_a) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), "node-a")
        .await
        .unwrap();
    let (chat_b, mut inbox_b) = GlobalChat::connect(RedisLink::new(&redis.url()).unwrap(), "node-b")
        .await
        .unwrap();
    let lines = CHAT_RECEIVE_QUEUE_MAX + 100;
    for n in 0..lines {
        // Five lines per player stay within the rate.
        chat_a.publish((n / 5) as u64, &format!("line {n}")).await.unwrap();
    }
    // A payload that is not a chat line (another program on the channel) is counted, not delivered.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: u64 = redis::cmd("PUBLISH")
        .arg(GLOBAL_CHAT_CHANNEL)
        .arg("not a line")
        .query_async(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while chat_b.counters().received + chat_b.counters().received_invalid < lines as u64 + 1
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counters = chat_b.counters();
    assert_eq!(counters.received, lines as u64);
    assert_eq!(counters.received_invalid, 1);
    assert_eq!(counters.received_dropped, 100);
    // The queue holds the oldest lines, in publish order.
    let held = receive(&mut inbox_b, lines, Duration::from_millis(300)).await;
    assert_eq!(held.len(), CHAT_RECEIVE_QUEUE_MAX);
    assert_eq!(held[0].text, "line 0");
    assert_eq!(
        held[CHAT_RECEIVE_QUEUE_MAX - 1].text,
        format!("line {}", CHAT_RECEIVE_QUEUE_MAX - 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zones_resumable_sessions_load_in_one_call_with_their_sealed_keys_and_hints() {
    let redis = Redis::start().expect("start redis");
    let link = RedisLink::new(&redis.url()).unwrap();
    let sessions = SessionStore::new(link.clone(), Duration::from_secs(60));
    assert_eq!(sessions.load_zone(4).await.unwrap(), (vec![], 0));
    for id in 1..=3 {
        sessions.put(id, &resumable(id, 4, 10, "node-a")).await.unwrap();
    }
    sessions.put(9, &resumable(9, 5, 10, "node-a")).await.unwrap();
    let (mut loaded, corrupt) = sessions.load_zone(4).await.unwrap();
    loaded.sort_by_key(|record| record.session_id);
    assert_eq!(corrupt, 0);
    assert_eq!(
        loaded,
        (1..=3).map(|id| resumable(id, 4, 10, "node-a")).collect::<Vec<_>>()
    );
    // The keys are stored as hex of the sealed bytes, never anything else.
    let stored: String = redis::cmd("HGET")
        .arg("Session:1")
        .arg("keys")
        .query_async(
            &mut redis::Client::open(redis.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stored, "a5".repeat(120));

    // Hints move with the refresh.
    let hints = ResumeHints {
        client_address: Some("127.0.0.1:40001".parse().unwrap()),
        received_sequence: Some(500),
        sent_sequence: 800,
        position_m: Some([10.0, 20.0, 0.0]),
        entity: Some(8),
    };
    assert!(sessions.refresh_hints(2, 4, 10, &hints).await.unwrap());
    let refreshed = sessions.get(2).await.unwrap().unwrap();
    assert_eq!(refreshed.resume.unwrap().hints, hints);
    // A stale owner cannot write hints.
    sessions.put(3, &resumable(3, 4, 12, "node-b")).await.unwrap();
    assert!(matches!(
        sessions.refresh_hints(3, 4, 10, &hints).await,
        Err(HotStateError::Fenced { .. })
    ));

    // A session that leaves (deleted) or moves to another zone leaves the zone's set.
    assert!(sessions.delete(1, 4, 10).await.unwrap());
    sessions.put(2, &resumable(2, 5, 3, "node-c")).await.unwrap();
    let (loaded, _) = sessions.load_zone(4).await.unwrap();
    assert_eq!(loaded.iter().map(|r| r.session_id).collect::<Vec<_>>(), vec![3]);
    let mut zone5: Vec<u64> = sessions
        .load_zone(5)
        .await
        .unwrap()
        .0
        .iter()
        .map(|r| r.session_id)
        .collect();
    zone5.sort();
    assert_eq!(zone5, vec![2, 9]);

    // Selection: node-b (12) died; this node takes over under 14 and resumes 12's records only.
    sessions.put(20, &resumable(20, 4, 10, "zombie-a")).await.unwrap();
    let (loaded, _) = sessions.load_zone(4).await.unwrap();
    let selected = ZoneSessions::select(loaded, 14, None);
    assert_eq!(
        selected.usable.iter().map(|r| r.session_id).collect::<Vec<_>>(),
        vec![3]
    );
    assert_eq!(selected.stale, 1);

    // An expired record is dropped from the set on the next load.
    let short = SessionStore::new(link.clone(), Duration::from_millis(300));
    short.put(30, &resumable(30, 6, 1, "node-a")).await.unwrap();
    short.put(31, &resumable(31, 6, 1, "node-a")).await.unwrap();
    assert!(short.refresh(31, 6, 1).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(short.refresh(31, 6, 1).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (loaded, _) = short.load_zone(6).await.unwrap();
    assert_eq!(loaded.iter().map(|r| r.session_id).collect::<Vec<_>>(), vec![31]);
    // A record without keys (an old writer) loads but is not resumable.
    sessions.put(40, &record(7, 1, "node-a")).await.unwrap();
    let (loaded, _) = sessions.load_zone(7).await.unwrap();
    assert_eq!(ZoneSessions::select(loaded, 2, None).without_keys, 1);
}

/// A committed handoff moves the record to the new zone (written by the zone the player left):
/// the new zone's owner can refresh it, a takeover of the new zone finds it, the old zone's does
/// not; a move the new owner already made is left alone; a newer owner of the old zone fences it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_moves_the_record_to_the_new_zone_once_and_fenced() {
    let redis = Redis::start().expect("start redis");
    let link = RedisLink::new(&redis.url()).unwrap();
    let sessions = SessionStore::new(link.clone(), Duration::from_secs(60));
    sessions.put(1, &resumable(1, 4, 10, "node-a")).await.unwrap();
    let moved = sessions
        .move_zone(1, (4, 10), (5, 21), "node-b", Some([512.5, 3.0, 0.0]), Some(9))
        .await
        .unwrap();
    assert!(moved);
    let record = sessions.get(1).await.unwrap().unwrap();
    assert_eq!(
        (record.zone_id, record.fencing_token, record.node_id.as_str()),
        (5, 21, "node-b")
    );
    let resume = record.resume.clone().unwrap();
    assert_eq!(resume.sealed_keys, vec![0xa5; 120], "the keys travel with the session");
    assert_eq!(
        (resume.hints.position_m, resume.hints.entity),
        (Some([512.5, 3.0, 0.0]), Some(9))
    );
    assert_eq!(resume.hints.sent_sequence, 30, "sequence hints are kept");
    assert!(sessions.load_zone(4).await.unwrap().0.is_empty());
    let (zone5, _) = sessions.load_zone(5).await.unwrap();
    assert_eq!(zone5, vec![record.clone()]);
    // A takeover of zone 5 after node-b (21) died resumes it.
    assert_eq!(ZoneSessions::select(zone5, 30, Some(21)).usable.len(), 1);
    // The new owner refreshes it under its own token; the old zone's owner no longer can.
    assert!(sessions.refresh(1, 5, 21).await.unwrap());
    assert!(matches!(
        sessions.refresh(1, 4, 10).await,
        Err(HotStateError::Fenced { .. })
    ));
    // Repeating the move, or a move the new owner's own write beat, changes nothing.
    assert!(
        sessions
            .move_zone(1, (4, 10), (5, 21), "node-b", Some([0.0; 3]), Some(1))
            .await
            .unwrap()
    );
    assert_eq!(sessions.get(1).await.unwrap().unwrap(), record);
    // A newer owner of the old zone (it resumed the session there) fences a late move.
    sessions.put(2, &resumable(2, 4, 12, "node-c")).await.unwrap();
    assert!(matches!(
        sessions.move_zone(2, (4, 10), (5, 21), "node-b", None, None).await,
        Err(HotStateError::Fenced {
            stored_zone: 4,
            stored_token: 12,
            ..
        })
    ));
    // No record: nothing to move.
    assert!(
        !sessions
            .move_zone(3, (4, 10), (5, 21), "node-b", None, None)
            .await
            .unwrap()
    );
}
