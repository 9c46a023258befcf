//! The node's hot state in a real Redis (the testkit's), with real nodes and SDK clients over UDP:
//! global chat across two nodes (every client on both hears a line exactly once; a flooder is told
//! it is rate limited), zone state saved by one node and restored by the next one serving the
//! zone, and a Redis outage (global chat refused as unavailable, zones keep ticking, a zone that
//! starts meanwhile reports `unavailable` and starts from its initial state).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::Player;
use meridian_client::GameEvent;
use meridian_hotstate::{RedisLink, ZoneStateStore};
use meridian_node::dgram_io::IoBackend;
use meridian_node::hot::HotSettings;
use meridian_node::node::{Node, NodeConfig};
use meridian_proto::messages::{ChatChannel, ClientMessage, ServerEvent};
use meridian_testkit::Redis;
use meridian_zone::ZoneConfig;

const CLUSTER_KEY: [u8; 32] = [0x5a; 32];

fn start_node(redis_url: &str, node_id: &str, zones: Vec<u32>, zone_state_interval_ms: u64) -> (Node, SocketAddr) {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones,
        zone_config: ZoneConfig::default(),
        session_events: false,
        edge: None,
        persistence: None,
        hot: Some(HotSettings {
            zone_state_interval_ms,
            ..HotSettings::new(redis_url.to_owned(), node_id.to_owned())
        }),
        world: None,
    })
    .unwrap();
    (node, listen)
}

impl Player {
    fn say_global(&mut self, text: &str) {
        let mut bytes = Vec::new();
        ClientMessage::Chat {
            channel: ChatChannel::Global,
            text: text.to_owned(),
        }
        .encode(&mut bytes);
        self.client.send_raw_reliable(&bytes).unwrap();
    }

    /// Global lines heard: (from_entity, text).
    fn global_lines(&self) -> Vec<(u32, String)> {
        self.events
            .iter()
            .filter_map(|event| match event {
                GameEvent::Server(ServerEvent::Chat {
                    channel: ChatChannel::Global,
                    from_entity,
                    text,
                }) => Some((*from_entity, text.to_string())),
                _ => None,
            })
            .collect()
    }

    fn heard(&self, text: &str) -> usize {
        self.global_lines().iter().filter(|(_, line)| line == text).count()
    }

    /// Refusals told by the server (`from_entity` 0).
    fn refusals(&self) -> Vec<String> {
        self.global_lines()
            .into_iter()
            .filter(|(from, _)| *from == meridian_host::GLOBAL_CHAT_SERVER_ENTITY)
            .map(|(_, text)| text)
            .collect()
    }
}

/// Steps the players every 10 ms until `done` or `timeout`.
fn run_until(players: &mut [Player], timeout: Duration, done: impl Fn(&[Player]) -> bool) -> bool {
    common::run_until(players, timeout, Duration::from_millis(10), done)
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn global_chat_reaches_every_client_on_both_nodes_once_and_a_flooder_is_refused() {
    let redis = Redis::start().expect("start redis");
    let (node_a, addr_a) = start_node(&redis.url(), "node-a", vec![1], 5_000);
    let (node_b, addr_b) = start_node(&redis.url(), "node-b", vec![2], 5_000);
    assert!(
        wait_for(Duration::from_secs(10), || node_a.global_chat().is_some()
            && node_b.global_chat().is_some()),
        "both nodes subscribe to global chat"
    );
    let mut players = vec![
        Player::new(&CLUSTER_KEY, addr_a, 1_001, 1),
        Player::new(&CLUSTER_KEY, addr_a, 1_002, 1),
        Player::new(&CLUSTER_KEY, addr_b, 2_001, 2),
        Player::new(&CLUSTER_KEY, addr_b, 2_002, 2),
    ];
    assert!(
        run_until(&mut players, Duration::from_secs(10), |p| p
            .iter()
            .all(|p| p.client.is_placed())),
        "every player is placed"
    );

    players[0].say_global("hello from a");
    assert!(
        run_until(&mut players, Duration::from_secs(5), |p| p
            .iter()
            .all(|p| p.heard("hello from a") >= 1)),
        "the line reaches every client on both nodes"
    );
    // Give a duplicate time to show up: none may.
    run_until(&mut players, Duration::from_millis(500), |_| false);
    for (index, player) in players.iter().enumerate() {
        assert_eq!(player.heard("hello from a"), 1, "player {index} hears the line once");
    }
    // The sender is named by its character id (a dev token's is its session id), on both nodes.
    let sender = meridian_host::global_chat_sender(1_001);
    assert!(
        players
            .iter()
            .all(|p| p.global_lines().contains(&(sender, "hello from a".to_owned())))
    );

    // A flooder on node B: five lines pass at once, the sixth is refused back to it, by name.
    for line in 0..6 {
        players[3].say_global(&format!("flood {line}"));
    }
    assert!(
        run_until(&mut players, Duration::from_secs(5), |p| !p[3].refusals().is_empty()
            && p.iter().all(|p| p.heard("flood 4") == 1)),
        "the flooder is told it is refused and the first five lines go through"
    );
    let refusals = players[3].refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].contains("rate_limited"), "{refusals:?}");
    run_until(&mut players, Duration::from_millis(500), |_| false);
    for player in &players {
        assert_eq!(player.heard("flood 5"), 0, "the refused line reaches nobody");
        for line in 0..5 {
            assert_eq!(player.heard(&format!("flood {line}")), 1);
        }
        // Only the flooder hears the refusal.
    }
    assert!(players[..3].iter().all(|p| p.refusals().is_empty()));
    let counters = node_b.hot_counters().unwrap();
    assert_eq!(counters.chat_refused_rate_limited.load(Ordering::Relaxed), 1);
    assert_eq!(
        node_a
            .hot_counters()
            .unwrap()
            .chat_fanout_dropped
            .load(Ordering::Relaxed),
        0
    );
    // Each node delivered each of the six lines to its two sessions.
    assert_eq!(counters.chat_delivered_sessions.load(Ordering::Relaxed), 12);
    node_a.stop().unwrap();
    node_b.stop().unwrap();
}

#[test]
fn zone_state_saved_by_one_node_is_restored_by_the_next() {
    let redis = Redis::start().expect("start redis");
    let store = ZoneStateStore::new(RedisLink::new(&redis.url()).unwrap());
    let runtime = rt();
    let (node_a, _) = start_node(&redis.url(), "node-a", vec![], 200);
    node_a.serve_zone(5, 0, 10).unwrap();
    assert!(wait_for(Duration::from_secs(5), || {
        node_a.hot_counters().unwrap().restores_missing.load(Ordering::Relaxed) == 1
    }));
    let homes = [[100.0, 100.0, 0.0], [200.0, 150.0, 0.0], [300.0, 300.0, 0.0]];
    for (index, home) in homes.iter().enumerate() {
        node_a.spawn_npc(5, *home, 40 + index as u32).unwrap();
    }
    let drops = [[10.0, 20.0, 0.0], [30.5, 40.25, 0.0]];
    for (index, position) in drops.iter().enumerate() {
        node_a.spawn_loot(5, *position, 7 + index as u32, 2).unwrap();
    }
    let (runtime, store) = (&runtime, &store);
    let saved = |token: u64, npcs: usize| {
        move || {
            runtime
                .block_on(store.load(5))
                .ok()
                .flatten()
                .is_some_and(|s| s.fencing_token == token && s.npcs.len() == npcs)
        }
    };
    assert!(wait_for(Duration::from_secs(5), saved(10, 3)), "node A saves its NPCs");
    let by_a = runtime.block_on(store.load(5)).unwrap().unwrap();
    assert_eq!(by_a.loot.len(), 2);
    node_a.stop().unwrap();

    // The zone fails over to node B (a newer token): it restores before it serves anyone, and
    // its own saves then carry what it restored.
    let (node_b, _) = start_node(&redis.url(), "node-b", vec![], 200);
    node_b.serve_zone(5, 1, 11).unwrap();
    assert!(wait_for(Duration::from_secs(5), || {
        node_b.hot_counters().unwrap().restores_restored.load(Ordering::Relaxed) == 1
    }));
    assert!(
        wait_for(Duration::from_secs(5), saved(11, 3)),
        "node B saves the restored NPCs"
    );
    let by_b = runtime.block_on(store.load(5)).unwrap().unwrap();
    let mut homes_b: Vec<_> = by_b.npcs.iter().map(|npc| (npc.home_m, npc.loot_item_id)).collect();
    homes_b.sort_by_key(|(_, item)| *item);
    assert_eq!(
        homes_b,
        homes
            .iter()
            .enumerate()
            .map(|(i, home)| (*home, 40 + i as u32))
            .collect::<Vec<_>>()
    );
    let mut loot_b: Vec<_> = by_b
        .loot
        .iter()
        .map(|drop| {
            (
                drop.position_m,
                drop.item_id,
                drop.quantity,
                drop.key_epoch,
                drop.key_serial,
            )
        })
        .collect();
    loot_b.sort_by_key(|drop| drop.1);
    let mut loot_a: Vec<_> = by_a
        .loot
        .iter()
        .map(|drop| {
            (
                drop.position_m,
                drop.item_id,
                drop.quantity,
                drop.key_epoch,
                drop.key_serial,
            )
        })
        .collect();
    loot_a.sort_by_key(|drop| drop.1);
    assert_eq!(loot_b, loot_a, "loot keeps its position, item and idempotency key");
    assert_eq!(loot_b[0].0, drops[0]);
    assert_eq!(loot_b[1].0, drops[1]);
    node_b.stop().unwrap();
}

#[test]
fn with_redis_down_global_chat_is_refused_as_unavailable_and_zones_keep_ticking() {
    let redis = Redis::start().expect("start redis");
    let (node, addr) = start_node(&redis.url(), "node-a", vec![1], 200);
    assert!(wait_for(Duration::from_secs(10), || node.global_chat().is_some()));
    let mut players = vec![Player::new(&CLUSTER_KEY, addr, 3_001, 1)];
    assert!(run_until(&mut players, Duration::from_secs(10), |p| p[0]
        .client
        .is_placed()));
    players[0].say_global("before");
    assert!(run_until(&mut players, Duration::from_secs(5), |p| p[0]
        .heard("before")
        == 1));

    let status = std::process::Command::new("kill")
        .args(["-9", &redis.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(redis);

    // Once the node notices (its subscriber pings every second), lines are refused as unavailable.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut refused = false;
    while Instant::now() < deadline && !refused {
        players[0].say_global("during");
        refused = run_until(&mut players, Duration::from_millis(1_500), |p| {
            p[0].refusals().iter().any(|r| r.contains("unavailable"))
        });
    }
    assert!(refused, "refusals: {:?}", players[0].refusals());
    assert!(
        node.hot_counters()
            .unwrap()
            .chat_refused_unavailable
            .load(Ordering::Relaxed)
            >= 1
    );
    // The zone keeps ticking and the player stays connected.
    let ticks = |node: &Node| {
        node.gauges()
            .iter()
            .map(|g| g.ticks.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let before = ticks(&node);
    run_until(&mut players, Duration::from_secs(1), |_| false);
    assert!(ticks(&node) >= before + 10, "zones tick on");
    assert!(players[0].client.is_connected());

    // A zone starting now cannot load its state: it says so and starts from its initial state.
    node.serve_zone(6, 0, 30).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || node
            .hot_counters()
            .unwrap()
            .restores_unavailable
            .load(Ordering::Relaxed)
            == 1),
        "restore reports unavailable"
    );
    let mut late = vec![Player::new(&CLUSTER_KEY, addr, 3_002, 6)];
    assert!(
        run_until(&mut late, Duration::from_secs(10), |p| p[0].client.is_placed()),
        "the zone serves players from its initial state"
    );
    node.stop().unwrap();
}

#[test]
fn a_session_has_a_redis_record_while_it_plays() {
    let redis = Redis::start().expect("start redis");
    let sessions = meridian_hotstate::SessionStore::new(RedisLink::new(&redis.url()).unwrap(), Duration::from_secs(60));
    let runtime = rt();
    let (node, addr) = start_node(&redis.url(), "node-s", vec![], 5_000);
    node.serve_zone(4, 0, 77).unwrap();
    let mut players = vec![Player::new(&CLUSTER_KEY, addr, 4_001, 4)];
    assert!(run_until(&mut players, Duration::from_secs(10), |p| p[0]
        .client
        .is_placed()));
    let record = || runtime.block_on(sessions.get(4_001)).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || record().is_some()),
        "the record is written"
    );
    let written = record().unwrap();
    assert_eq!(
        (
            written.character_id,
            written.node_id.as_str(),
            written.zone_id,
            written.session_id,
            written.fencing_token
        ),
        (4_001, "node-s", 4, 4_001, 77)
    );
    let ttl_ms = runtime.block_on(sessions.ttl_ms(4_001)).unwrap().unwrap();
    assert!(ttl_ms > 50_000 && ttl_ms <= 60_000, "ttl {ttl_ms} ms");

    if let Some(transmit) = players[0].client.disconnect() {
        players[0]
            .socket
            .send_to(&transmit.bytes, transmit.destination)
            .unwrap();
    }
    assert!(
        wait_for(Duration::from_secs(5), || record().is_none()),
        "the record is deleted at close"
    );
    assert_eq!(node.hot_counters().unwrap().sessions_deleted.load(Ordering::Relaxed), 1);
    node.stop().unwrap();
}
