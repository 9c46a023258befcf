//! The node's persistence bridge against two real Postgres shards (testkit): SDK clients over real
//! UDP pick up loot and the items exist in Postgres exactly once; a zone whose fence another owner
//! raised has its pick-ups refused as `rejected`; with the shards killed, pick-ups are refused as
//! `persistence_unavailable` while the client keeps moving and receiving snapshots, and once they
//! are back pick-ups work again; a character's position survives a node restart (write-behind
//! checkpoint, loaded when the zone starts, used by the spawn rule); a two-step trade between two
//! players on different shards commits once (two-phase commit) and both hear it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::wire::{PickUpRefusal, ServerEvent};
use meridian_client::{Action, ClientConfig, GameClient, GameEvent, MoveCommand};
use meridian_economy::{Economy, Fence, ShardMap};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_node::persistence::PersistenceSettings;
use meridian_proto::snapshot::EntityKind;
use meridian_proto::token::ConnectToken;
use meridian_testkit::Postgres;
use meridian_zone::ZoneConfig;

const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
/// Two-phase commit needs prepared-transaction slots (the economy's schema expects them).
const PG_SETTINGS: &[(&str, &str)] = &[("max_prepared_transactions", "64")];
const TICK: Duration = Duration::from_millis(50);

const ZONE_SIDE_M: f32 = 512.0;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// `count` Postgres servers, started side by side and restarted on this (the test's) thread: a
/// testkit server dies with the thread that started it.
fn start_shards(count: usize) -> Vec<Postgres> {
    let handles: Vec<_> = (0..count)
        .map(|_| std::thread::spawn(|| Postgres::start_with(PG_SETTINGS).map_err(|e| e.to_string())))
        .collect();
    handles
        .into_iter()
        .map(|handle| {
            let mut postgres = handle.join().unwrap().expect("postgres starts");
            postgres.kill().unwrap();
            postgres.restart().unwrap();
            postgres
        })
        .collect()
}

fn shard_urls(shards: &[Postgres]) -> Vec<String> {
    shards.iter().map(Postgres::connection_string).collect()
}

fn free_addr() -> SocketAddr {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}").parse().unwrap()
}

fn start_node(listen: SocketAddr, shards: &[Postgres], zones: Vec<u32>) -> Node {
    Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones,
        zone_config: ZoneConfig {
            // Claims are re-sent often, so retries meet the in-flight and committed keys.
            loot_confirm_retry_ticks: 2,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: Some(PersistenceSettings {
            checkpoint_interval_s: 1,
            checkpoint_push_interval_s: 1,
            apply_timeout_ms: 2_000,
            pool_size: 4,
            ..PersistenceSettings::new(shard_urls(shards))
        }),
        hot: None,
        world: None,
    })
    .expect("node starts")
}

fn economy(shards: &[Postgres]) -> (tokio::runtime::Runtime, Economy) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let economy = Economy::connect_without_migrations(ShardMap::new(1, shard_urls(shards)), 2).unwrap();
    (runtime, economy)
}

struct Player {
    client: GameClient,
    socket: UdpSocket,
    events: Vec<GameEvent>,
    direction: [f32; 2],
    next_tick: Instant,
}

impl Player {
    fn new(server: SocketAddr, session_id: u64, character_id: u64, zone_id: u32) -> Self {
        let mut rng = SplitMix64(session_id);
        let issued = dev_token::issue(
            &CLUSTER_KEY,
            session_id,
            zone_id,
            server,
            now_us() / 1_000_000,
            &mut rng,
        );
        // What the login API's `play` does: the character id travels sealed in the token.
        let token = ConnectToken {
            character_id,
            ..issued.token.clone()
        }
        .seal(&CLUSTER_KEY, issued.nonce);
        let client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Player {
            client,
            socket,
            events: Vec::new(),
            direction: [0.0, 0.0],
            next_tick: Instant::now(),
        }
    }

    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.client.handle(now_us(), from, &buf[..n]);
        }
        // One input tick per zone tick.
        if self.client.is_connected() && Instant::now() >= self.next_tick {
            self.next_tick += TICK;
            let _ = self.client.tick(MoveCommand {
                direction: self.direction,
                yaw: 0.0,
            });
        }
        while let Some(transmit) = self.client.poll_transmit(now_us()) {
            let _ = self.socket.send_to(&transmit.bytes, transmit.destination);
        }
        while let Some(event) = self.client.poll_event() {
            self.events.push(event);
        }
    }

    fn run_until(&mut self, timeout: Duration, mut done: impl FnMut(&Player) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            self.step();
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// The server's view of our own position.
    fn server_position(&self) -> Option<[f32; 3]> {
        let entity = self.client.entity()?;
        self.client.server_world().get(&entity).map(|state| state.position)
    }

    fn loot_ids(&self) -> Vec<u32> {
        self.client
            .server_world()
            .values()
            .filter(|state| state.kind == EntityKind::Loot)
            .map(|state| state.id)
            .collect()
    }

    fn grants(&self) -> usize {
        self.events
            .iter()
            .filter(|event| matches!(event, GameEvent::Server(ServerEvent::InventoryGranted { .. })))
            .count()
    }

    fn refusals(&self, loot: u32) -> Vec<PickUpRefusal> {
        self.events
            .iter()
            .filter_map(|event| match event {
                GameEvent::Server(ServerEvent::PickUpRefused { loot: refused, reason }) if *refused == loot => {
                    Some(*reason)
                }
                _ => None,
            })
            .collect()
    }

    /// Drops loot at our feet and waits until we see it; returns its entity id.
    fn drop_loot_here(&mut self, node: &Node, zone_id: u32, item_id: u32, quantity: u16) -> u32 {
        let before = self.loot_ids();
        let position = self.server_position().expect("placed");
        node.spawn_loot(zone_id, position, item_id, quantity).unwrap();
        let mut loot = None;
        assert!(
            self.run_until(Duration::from_secs(5), |player| {
                loot = player.loot_ids().into_iter().find(|id| !before.contains(id));
                loot.is_some()
            }),
            "the loot never showed up in a snapshot"
        );
        loot.unwrap()
    }

    fn pick_up(&mut self, loot: u32) {
        self.client.send_action(&Action::PickUp { loot }).unwrap();
    }
}

fn join(listen: SocketAddr, session_id: u64, character_id: u64, zone_id: u32) -> Player {
    let mut player = Player::new(listen, session_id, character_id, zone_id);
    assert!(
        player.run_until(Duration::from_secs(10), |p| p.client.is_placed()
            && p.server_position().is_some()),
        "not placed"
    );
    player
}

#[test]
fn pick_ups_commit_exactly_once_and_are_refused_with_a_reason_while_the_database_is_down() {
    let mut shards = start_shards(2);
    let listen = free_addr();
    let node = start_node(listen, &shards, vec![1]);
    let (runtime, economy) = economy(&shards);
    let character = 4_242u64;
    let mut player = join(listen, 0x1111, character, 1);

    // A pick-up: granted once, after the commit; one item row in Postgres.
    let loot = player.drop_loot_here(&node, 1, 42, 3);
    player.pick_up(loot);
    assert!(
        player.run_until(Duration::from_secs(10), |p| p.grants() == 1),
        "no grant: {:?}",
        player.events
    );
    // Keep playing a while: the zone's retries (every 2 ticks) that were in flight meet the
    // committed key and replay; nothing is granted twice.
    player.run_until(Duration::from_millis(600), |_| false);
    assert_eq!(player.grants(), 1);
    let items = runtime.block_on(economy.inventory(character as i64)).unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].item_type, 42);
    assert_eq!(items[0].stats, serde_json::json!({"quantity": 3}));
    // A second pick-up of the same loot: it is gone.
    player.pick_up(loot);
    assert!(player.run_until(Duration::from_secs(5), |p| !p.refusals(loot).is_empty()));
    assert_eq!(player.refusals(loot), vec![PickUpRefusal::AlreadyClaimed]);

    // The database goes away: pick-ups are refused with the reason, movement goes on.
    for shard in &mut shards {
        shard.kill().unwrap();
    }
    let loot = player.drop_loot_here(&node, 1, 43, 1);
    player.pick_up(loot);
    assert!(
        player.run_until(Duration::from_secs(10), |p| !p.refusals(loot).is_empty()),
        "no refusal while the database is down"
    );
    assert_eq!(player.refusals(loot), vec![PickUpRefusal::PersistenceUnavailable]);
    let (start, snapshots) = (
        player.server_position().unwrap(),
        player.client.counters().snapshots_applied,
    );
    player.direction = [1.0, 0.0];
    player.run_until(Duration::from_secs(1), |_| false);
    player.direction = [0.0, 0.0];
    player.run_until(Duration::from_millis(300), |_| false);
    let moved = player.server_position().unwrap()[0] - start[0];
    assert!(moved > 1.0, "moved {moved} m while the database was down");
    // And back to the loot.
    player.direction = [-1.0, 0.0];
    player.run_until(Duration::from_secs(5), |p| {
        p.server_position()
            .is_some_and(|position| position[0] <= start[0] + 0.5)
    });
    player.direction = [0.0, 0.0];
    player.run_until(Duration::from_millis(300), |_| false);
    assert!(
        player.client.counters().snapshots_applied >= snapshots + 15,
        "snapshots stopped while the database was down"
    );
    assert!(player.grants() == 1);

    // It comes back: the same loot (still on the ground, free again) is granted.
    for shard in &mut shards {
        shard.restart().unwrap();
    }
    assert!(
        player.loot_ids().contains(&loot),
        "the refused loot stays on the ground"
    );
    let mut granted = false;
    for _ in 0..10 {
        player.pick_up(loot);
        if player.run_until(Duration::from_secs(3), |p| p.grants() == 2) {
            granted = true;
            break;
        }
    }
    assert!(granted, "pick-ups did not recover: {:?}", player.events);
    let items = runtime.block_on(economy.inventory(character as i64)).unwrap();
    let mut types: Vec<i32> = items.iter().map(|item| item.item_type).collect();
    types.sort_unstable();
    assert_eq!(types, vec![42, 43], "exactly the granted items, once each");
    let counters = node.persistence_counters().unwrap();
    assert!(counters.loot_unavailable.load(Ordering::Relaxed) >= 1);
    assert_eq!(counters.loot_rejected.load(Ordering::Relaxed), 0);
    node.stop().unwrap();
}

#[test]
fn a_pick_up_under_a_stale_fencing_token_is_rejected() {
    let shards = start_shards(2);
    let listen = free_addr();
    let node = start_node(listen, &shards, Vec::new());
    let (runtime, economy) = economy(&shards);
    // The control plane gave zone 9 to this node under token 5.
    node.serve_zone(9, 0, 5).unwrap();
    let counters = node.persistence_counters().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.zones_loaded.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let character = 9_001u64;
    let mut player = join(listen, 0x2222, character, 9);
    let loot = player.drop_loot_here(&node, 9, 50, 1);
    player.pick_up(loot);
    assert!(player.run_until(Duration::from_secs(10), |p| p.grants() == 1));

    // Another node took the zone over (token 6): this node's writes are refused.
    runtime
        .block_on(economy.raise_fence(Fence { zone_id: 9, token: 6 }))
        .unwrap();
    let loot = player.drop_loot_here(&node, 9, 51, 1);
    player.pick_up(loot);
    assert!(player.run_until(Duration::from_secs(10), |p| !p.refusals(loot).is_empty()));
    assert_eq!(player.refusals(loot), vec![PickUpRefusal::Rejected]);
    let items = runtime.block_on(economy.inventory(character as i64)).unwrap();
    assert_eq!(items.len(), 1, "only the pick-up under the current token: {items:?}");
    assert_eq!(items[0].item_type, 50);
    assert!(counters.loot_rejected.load(Ordering::Relaxed) >= 1);
    node.stop().unwrap();
}

#[test]
fn a_characters_position_survives_a_node_restart() {
    let shards = start_shards(2);
    let listen = free_addr();
    let (runtime, economy) = economy(&shards);
    let character = 31_337u64;
    let node = start_node(listen, &shards, vec![1]);
    let mut player = join(listen, 0x3333, character, 1);
    let start = player.server_position().unwrap();
    player.direction = [0.0, 1.0];
    player.run_until(Duration::from_millis(1_500), |_| false);
    player.direction = [0.0, 0.0];
    player.run_until(Duration::from_millis(300), |_| false);
    let end = player.server_position().unwrap();
    assert!(end[1] - start[1] > 3.0, "moved from {start:?} to {end:?}");
    // Wait for a checkpoint with the final position (pushed every 1 s, flushed every 1 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut saved = None;
    while Instant::now() < deadline {
        player.step();
        let states = runtime.block_on(economy.load_characters(1)).unwrap();
        saved = states
            .into_iter()
            .find(|state| state.character_id == character as i64 && state.seq > 0)
            .map(|state| state.position);
        if saved.is_some_and(|position| (position[1] - end[1]).abs() < 0.1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let saved = saved.expect("a checkpoint was written");
    assert!(
        (saved[1] - end[1]).abs() < 0.1,
        "checkpoint {saved:?}, player at {end:?}"
    );
    drop(player);
    node.stop().unwrap();

    // A new node (a restart, or the zone's next owner) loads the checkpoint when the zone starts.
    let listen = free_addr();
    let node = start_node(listen, &shards, vec![1]);
    let counters = node.persistence_counters().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.zones_loaded.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(counters.characters_loaded.load(Ordering::Relaxed) >= 1);
    let player = join(listen, 0x4444, character, 1);
    let spawned = player.server_position().unwrap();
    let distance = ((spawned[0] - saved[0]).powi(2) + (spawned[1] - saved[1]).powi(2)).sqrt();
    assert!(distance < 0.5, "spawned at {spawned:?}, last checkpoint {saved:?}");
    // A character never seen before spawns at the zone's spawn point as usual.
    let newcomer = join(listen, 0x5555, 77_777, 1);
    let fresh = newcomer.server_position().unwrap();
    assert!(((fresh[0] - start[0]).powi(2) + (fresh[1] - start[1]).powi(2)).sqrt() < 0.5);
    node.stop().unwrap();
}

#[test]
fn a_two_step_trade_across_two_shards_commits_once_and_both_players_hear_it() {
    let shards = start_shards(2);
    let listen = free_addr();
    let node = start_node(listen, &shards, vec![1]);
    let (runtime, economy) = economy(&shards);
    // Two characters on different shards: the trade is a two-phase commit.
    let map = ShardMap::new(1, shard_urls(&shards));
    let seller = (5_000u64..).find(|id| map.shard_of(*id as i64) == 0).unwrap();
    let buyer = (seller + 1..).find(|id| map.shard_of(*id as i64) == 1).unwrap();
    let mut a = join(listen, 0x6666, seller, 1);
    let mut b = join(listen, 0x7777, buyer, 1);

    // Each picks something up first (the zone trades what its players hold).
    let loot = a.drop_loot_here(&node, 1, 70, 2);
    a.pick_up(loot);
    assert!(a.run_until(Duration::from_secs(10), |p| p.grants() == 1));
    let loot = b.drop_loot_here(&node, 1, 80, 1);
    b.pick_up(loot);
    assert!(b.run_until(Duration::from_secs(10), |p| p.grants() == 1));

    let (a_entity, b_entity) = (a.client.entity().unwrap(), b.client.entity().unwrap());
    a.client
        .send_action(&Action::TradeOffer {
            target: b_entity,
            give_item: 70,
            want_item: 80,
        })
        .unwrap();
    let offered = |p: &Player| {
        p.events.iter().any(|event| {
            matches!(event, GameEvent::Server(ServerEvent::TradeOffered { from_entity, give_item: 70, want_item: 80 }) if *from_entity == a_entity)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !offered(&b) && Instant::now() < deadline {
        a.step();
        b.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(offered(&b), "the offer never reached the other player");
    b.client.send_action(&Action::TradeAccept { from: a_entity }).unwrap();
    let completed = |p: &Player| {
        p.events
            .iter()
            .filter(|event| matches!(event, GameEvent::Server(ServerEvent::TradeCompleted { .. })))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while (completed(&a) == 0 || completed(&b) == 0) && Instant::now() < deadline {
        a.step();
        b.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        a.events.contains(&GameEvent::Server(ServerEvent::TradeCompleted {
            with_entity: b_entity,
            gave_item: 70,
            got_item: 80,
        })),
        "{:?}",
        a.events
    );
    assert!(b.events.contains(&GameEvent::Server(ServerEvent::TradeCompleted {
        with_entity: a_entity,
        gave_item: 80,
        got_item: 70,
    })));
    // The zone re-sends the trade until answered; keep playing: it is never applied twice.
    for _ in 0..60 {
        a.step();
        b.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!((completed(&a), completed(&b)), (1, 1));
    let a_items = runtime.block_on(economy.inventory(seller as i64)).unwrap();
    let b_items = runtime.block_on(economy.inventory(buyer as i64)).unwrap();
    assert_eq!(a_items.iter().map(|i| i.item_type).collect::<Vec<_>>(), vec![80]);
    assert_eq!(b_items.iter().map(|i| i.item_type).collect::<Vec<_>>(), vec![70]);
    let counters = node.persistence_counters().unwrap();
    assert_eq!(counters.trades_committed.load(Ordering::Relaxed), 1);
    node.stop().unwrap();
}

#[test]
fn a_node_starts_while_the_database_is_down_and_persists_once_it_is_back() {
    let mut shards = start_shards(2);
    for shard in &mut shards {
        shard.kill().unwrap();
    }
    let listen = free_addr();
    let node = start_node(listen, &shards, vec![1]);
    let character = 55_555u64;
    let mut player = join(listen, 0x8888, character, 1);
    let loot = player.drop_loot_here(&node, 1, 60, 1);
    player.pick_up(loot);
    assert!(player.run_until(Duration::from_secs(10), |p| !p.refusals(loot).is_empty()));
    assert_eq!(player.refusals(loot), vec![PickUpRefusal::PersistenceUnavailable]);
    let counters = node.persistence_counters().unwrap();
    assert!(counters.connect_failures.load(Ordering::Relaxed) >= 1);

    for shard in &mut shards {
        shard.restart().unwrap();
    }
    let mut granted = false;
    for _ in 0..10 {
        player.pick_up(loot);
        if player.run_until(Duration::from_secs(3), |p| p.grants() == 1) {
            granted = true;
            break;
        }
    }
    assert!(granted, "no grant once the database was back: {:?}", player.events);
    let (runtime, economy) = economy(&shards);
    let items = runtime.block_on(economy.inventory(character as i64)).unwrap();
    assert_eq!(items.iter().map(|i| i.item_type).collect::<Vec<_>>(), vec![60]);
    node.stop().unwrap();
}

/// The event log (Kafka protocol, the testkit's tansu broker): a player who joins is logged as a
/// login, a committed pick-up as one loot event and a walk across a zone border (zones on two
/// workers, by ticket) as one handoff event, read back with a consumer group; the tick never waited
/// on the broker (the log is produced from the persistence bridge's thread).
#[test]
fn a_login_a_committed_pick_up_and_a_handoff_are_read_back_from_the_event_log() {
    let kafka = meridian_testkit::Kafka::start().expect("the Kafka broker (infra/setup.sh builds tansu)");
    let shards = start_shards(2);
    let listen = free_addr();
    let topic = "meridian.events.test";
    let node = Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1, 2],
        zone_config: ZoneConfig {
            loot_confirm_retry_ticks: 2,
            // Players appear in zone 1, 10 m from its border with zone 2.
            player_spawn_m: [ZONE_SIDE_M - 10.0, 256.0, 0.0],
            player_spawn_radius_m: 0.0,
            tick_epoch_us: Some(meridian_zone::TICK_EPOCH_US_DEFAULT),
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: Some(PersistenceSettings {
            event_log: Some(meridian_events::EventLogConfig::new(kafka.bootstrap(), topic)),
            ..PersistenceSettings::new(shard_urls(&shards))
        }),
        hot: None,
        world: Some(
            meridian_zone::WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap(),
        ),
    })
    .expect("node starts");
    let character = 7_070u64;
    let mut player = join(listen, 0x7070, character, 1);
    let loot = player.drop_loot_here(&node, 1, 42, 2);
    player.pick_up(loot);
    assert!(
        player.run_until(Duration::from_secs(10), |p| p.grants() == 1),
        "no grant: {:?}",
        player.events
    );
    player.direction = [1.0, 0.0];
    assert!(
        player.run_until(Duration::from_secs(20), |p| p
            .server_position()
            .is_some_and(|position| position[0] > ZONE_SIDE_M + 10.0)),
        "never crossed into zone 2: {:?}",
        player.server_position()
    );
    player.direction = [0.0, 0.0];
    let events = meridian_events::read_events(&kafka.bootstrap(), topic, "test-reader", 3, Duration::from_secs(30))
        .expect("reading the log");
    let of = |kind: meridian_events::EventType| {
        events
            .iter()
            .filter(|event| event.event_type == kind && event.player_id == character)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(meridian_events::EventType::Login).len(), 1, "{events:?}");
    let loots = of(meridian_events::EventType::Loot);
    assert_eq!(loots.len(), 1, "{events:?}");
    assert_eq!(loots[0].payload["item_id"], 42);
    assert_eq!(loots[0].payload["quantity"], 2);
    assert_eq!(loots[0].zone_id, 1);
    let handoffs = of(meridian_events::EventType::Handoff);
    assert_eq!(handoffs.len(), 1, "{events:?}");
    assert_eq!(handoffs[0].zone_id, 1, "logged by the zone the player left");
    assert_eq!(handoffs[0].payload["from_zone"], 1);
    assert_eq!(handoffs[0].payload["to_zone"], 2);
    assert_eq!(handoffs[0].payload["outcome"], "committed");
    assert_eq!(
        handoffs[0].payload["across"], true,
        "zones 1 and 2 run on different workers"
    );
    node.stop().unwrap();
}
