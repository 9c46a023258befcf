//! Session resume after a failover, with every part real: etcd and Redis (testkit), one
//! `meridian-control assigner`, two `meridian-node serve --control --redis` processes, and SDK
//! clients over UDP on loopback. The zone's node is killed with `kill -9`; the assigner moves the
//! zone to the other node, which restores it and offers its sessions for resume; the clients, told
//! the new address (what anycast does by routing the VIP to the other PoP), go on there with the
//! same session and no new token. The test measures what a player loses across the failover.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{LEASE_TTL_S, binary, log_file, metrics_text, ticks_per_zone};
use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, GameEvent, MoveCommand};
use meridian_control::routes::get_route;
use meridian_hotstate::{RedisLink, SessionStore};
use meridian_testkit::{ChildGuard, Etcd, Redis, free_tcp_port, free_udp_port};

mod common;

const ZONE: u32 = 1;
const CLUSTER_KEY: [u8; 32] = [0x5c; 32];
/// Zone state and session hints are saved this often: the most a failover loses.
const SAVE_INTERVAL_MS: u64 = 500;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

struct TestNode {
    process: ChildGuard,
    game: SocketAddr,
    metrics: u16,
}

fn start_node(etcd: &str, redis: &str, node_id: &str) -> TestNode {
    let game: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let metrics = free_tcp_port();
    let process = ChildGuard(
        Command::new(binary("meridian-node"))
            .args(["serve", "--listen", &game.to_string(), "--io", "mmsg", "--workers", "2"])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
            .args([
                "--cluster-key-hex",
                &"5c".repeat(32),
                "--control",
                etcd,
                "--node-id",
                node_id,
            ])
            .args(["--lease-ttl-s", &LEASE_TTL_S.to_string(), "--duration-s", "120"])
            .args(["--redis", redis])
            .args(["--zone-state-interval-ms", &SAVE_INTERVAL_MS.to_string()])
            .stdout(Stdio::null())
            .stderr(log_file("resume", node_id))
            .spawn()
            .expect("start meridian-node"),
    );
    TestNode { process, game, metrics }
}

fn start_assigner(etcd: &str) -> ChildGuard {
    ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_meridian-control"))
            .args([
                "assigner",
                "--etcd",
                etcd,
                "--zones",
                &ZONE.to_string(),
                "--id",
                "resume-assigner",
            ])
            .args(["--lease-ttl-s", &LEASE_TTL_S.to_string(), "--duration-s", "120"])
            .stdout(Stdio::null())
            .stderr(log_file("resume", "assigner"))
            .spawn()
            .expect("start meridian-control"),
    )
}

/// Whether `zone` ticks on the node behind `metrics` over a short window.
fn ticks_zone(metrics: u16) -> bool {
    let before = ticks_per_zone(metrics).get(&ZONE).copied().unwrap_or(0.0);
    std::thread::sleep(Duration::from_millis(200));
    ticks_per_zone(metrics).get(&ZONE).copied().unwrap_or(0.0) > before
}

/// The sum of a metric's samples whose line starts with `prefix`.
fn metric(metrics: u16, prefix: &str) -> f64 {
    metrics_text(metrics)
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The node's `meridian_session_resume_outcomes_total{outcome}`, over its workers.
fn resume_outcome(metrics: u16, outcome: &str) -> f64 {
    metrics_text(metrics)
        .lines()
        .filter(|line| line.starts_with("meridian_session_resume_outcomes_total{"))
        .filter(|line| line.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Player {
    session_id: u64,
    client: GameClient,
    socket: UdpSocket,
    events: Vec<GameEvent>,
    direction: [f32; 2],
}

impl Player {
    fn new(server: SocketAddr, session_id: u64) -> Self {
        let mut rng = SplitMix64(session_id);
        let token = dev_token::issue(&CLUSTER_KEY, session_id, ZONE, server, now_us() / 1_000_000, &mut rng);
        let client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Player {
            session_id,
            client,
            socket,
            events: Vec::new(),
            direction: [0.0, 0.0],
        }
    }

    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.client.handle(now_us(), from, &buf[..n]);
        }
        if self.client.is_connected() {
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

    /// Our position as the server's newest snapshot says.
    fn server_position(&self) -> Option<[f32; 3]> {
        let entity = self.client.entity()?;
        Some(self.client.server_world().get(&entity)?.position)
    }
}

/// Steps every player at the zone's tick rate until `done` or `timeout`.
fn run(players: &mut [Player], timeout: Duration, done: impl Fn(&[Player]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for player in players.iter_mut() {
            player.step();
        }
        if done(players) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(16));
    }
    false
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[test]
fn players_of_a_killed_node_resume_on_the_zones_new_node_without_a_new_login() {
    let etcd = Etcd::start().expect("etcd");
    let redis = Redis::start().expect("redis");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sessions = SessionStore::new(RedisLink::new(&redis.url()).unwrap(), Duration::from_secs(60));
    let endpoint = etcd.endpoint();
    let _assigner = start_assigner(&endpoint);
    // Node A alone first, so the zone is A's; B joins once A serves it.
    let mut node_a = start_node(&endpoint, &redis.url(), "node-a");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ticks_zone(node_a.metrics) {
        assert!(Instant::now() < deadline, "zone {ZONE} never served by node a");
    }
    let node_b = start_node(&endpoint, &redis.url(), "node-b");

    let mut players: Vec<Player> = (0..3).map(|i| Player::new(node_a.game, 7_001 + i)).collect();
    assert!(
        run(&mut players, Duration::from_secs(15), |p| p
            .iter()
            .all(|p| p.client.is_placed())),
        "players never placed on node a"
    );
    // Each walks its own way, long enough for the position to change and be saved.
    for (index, player) in players.iter_mut().enumerate() {
        player.direction = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]][index];
    }
    run(&mut players, Duration::from_millis(1_500), |_| false);
    let token_a = runtime
        .block_on(sessions.get(players[0].session_id))
        .unwrap()
        .expect("a record on node a")
        .fencing_token;

    // kill -9 node A while the players walk.
    let at_kill: Vec<[f32; 3]> = players.iter().map(|p| p.server_position().unwrap()).collect();
    let ticks_at_kill: Vec<u32> = players.iter().map(|p| p.client.client_tick()).collect();
    let entities: Vec<u32> = players.iter().map(|p| p.client.entity().unwrap()).collect();
    node_a.process.0.kill().unwrap();
    node_a.process.0.wait().unwrap();
    let killed_at = Instant::now();
    // What A saved last: the records' hints (A can no longer refresh them).
    let saved: Vec<[f32; 3]> = players
        .iter()
        .map(|p| {
            let record = runtime
                .block_on(sessions.get(p.session_id))
                .unwrap()
                .expect("record kept");
            assert_eq!(record.node_id, "node-a");
            let resume = record.resume.expect("the record is resumable");
            assert_eq!(
                resume.sealed_keys.len(),
                meridian_proto::endpoint::SEALED_RESUME_KEYS_BYTES
            );
            resume.hints.position_m.expect("a saved position")
        })
        .collect();
    for player in players.iter_mut() {
        player.direction = [0.0, 0.0];
    }
    // The players keep their sessions (resume patience) while the zone moves to B, sending a
    // trickle of inputs to the silent server.
    let inputs_before = players[0].client.counters().input_messages_sent;
    let moved = run(&mut players, Duration::from_secs(LEASE_TTL_S + 10), |_| {
        ticks_zone(node_b.metrics)
    });
    assert!(moved, "zone {ZONE} never moved to node b");
    let zone_moved_after = killed_at.elapsed();
    let inputs_sent = players[0].client.counters().input_messages_sent - inputs_before;
    let inputs_per_s = inputs_sent as f64 / zone_moved_after.as_secs_f64();
    assert!(
        players[0].client.counters().inputs_withheld > 0 && inputs_per_s < 20.0,
        "{inputs_per_s} inputs/s to a dead server"
    );
    assert!(
        players.iter().all(|p| p.client.is_connected()),
        "a client gave up before the zone moved"
    );

    // Anycast would route the same address to B; here the clients are told B's address.
    for player in players.iter_mut() {
        player.client.set_server_addr(node_b.game);
    }
    let resumed = run(&mut players, Duration::from_secs(10), |p| {
        p.iter()
            .all(|p| p.events.contains(&GameEvent::Resumed) && p.client.is_placed())
    });
    let resumed_after = killed_at.elapsed();
    assert!(
        resumed,
        "not every player resumed: {:?}",
        players
            .iter()
            .map(|p| (p.session_id, p.events.len()))
            .collect::<Vec<_>>()
    );
    for player in &players {
        assert!(
            !player.events.iter().any(|e| matches!(e, GameEvent::Disconnected(_))),
            "session {} ended",
            player.session_id
        );
        assert_eq!(
            player.events.iter().filter(|e| **e == GameEvent::Connected).count(),
            1,
            "one handshake only: no new token, no new login"
        );
        assert_eq!(player.client.counters().resumes, 1);
    }
    // The same entity ids (free in the restored zone), so the game's references to them hold.
    assert_eq!(
        players.iter().map(|p| p.client.entity().unwrap()).collect::<Vec<_>>(),
        entities
    );
    // Placed where A last saved them (the record's position), not at the spawn point.
    let at_resume: Vec<[f32; 3]> = players.iter().map(|p| p.server_position().unwrap()).collect();
    for index in 0..players.len() {
        assert!(
            distance(at_resume[index], saved[index]) < 0.5,
            "player {index} placed at {:?}, saved at {:?}",
            at_resume[index],
            saved[index]
        );
    }
    let lost_m: Vec<f32> = (0..players.len()).map(|i| distance(at_kill[i], at_resume[i])).collect();
    let zone_config = meridian_zone::ZoneConfig::default();
    let speed_m_per_s = zone_config.player_speed_m_per_s;
    let tick_s = zone_config.tick_interval_us() as f32 / 1e6;
    eprintln!(
        "resume: zone moved {zone_moved_after:?} after the kill, players resumed {resumed_after:?} after it; \
         position lost per player {lost_m:?} m (≈ {:?} ms of walking at {speed_m_per_s} m/s; saves every \
         {SAVE_INTERVAL_MS} ms), that is ≈ {:?} zone ticks of movement input; input ticks sent by the kill \
         {ticks_at_kill:?}; {inputs_per_s:.1} input messages/s while the server was silent",
        lost_m
            .iter()
            .map(|m| (m / speed_m_per_s * 1000.0).round())
            .collect::<Vec<_>>(),
        lost_m
            .iter()
            .map(|m| (m / (speed_m_per_s * tick_s)).round())
            .collect::<Vec<_>>()
    );
    for lost in &lost_m {
        assert!(
            *lost <= speed_m_per_s * (SAVE_INTERVAL_MS as f32 / 1000.0 + 0.3),
            "lost {lost} m: more than one save interval of walking"
        );
    }

    // Their inputs move them on B.
    for player in players.iter_mut() {
        player.direction = [0.0, -1.0];
    }
    let start: Vec<[f32; 3]> = at_resume.clone();
    assert!(
        run(&mut players, Duration::from_secs(5), |p| p.iter().zip(&start).all(
            |(p, s)| p.server_position().is_some_and(|now| s[1] - now[1] > 1.0)
        )),
        "inputs do not move the resumed players on node b"
    );

    // B counts them, its zone has them, their routes and records name B under its newer token.
    assert!(
        run(&mut players, Duration::from_secs(5), |_| {
            metric(node_b.metrics, "meridian_sessions_resumed_total") == 3.0
                && metric(node_b.metrics, "meridian_zone_players{") == 3.0
                && resume_outcome(node_b.metrics, "resumed") == 3.0
                && resume_outcome(node_b.metrics, "bad_seal") == 0.0
        }),
        "node b's metrics: resumed {}, zone players {}",
        metric(node_b.metrics, "meridian_sessions_resumed_total"),
        metric(node_b.metrics, "meridian_zone_players{")
    );
    let mut etcd_client = runtime
        .block_on(etcd_client::Client::connect([endpoint.as_str()], None))
        .unwrap();
    for player in &players {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let route = runtime
                .block_on(get_route(&mut etcd_client, player.session_id))
                .unwrap();
            if route.as_ref().is_some_and(|(route, _)| route.node == "node-b") {
                break;
            }
            assert!(Instant::now() < deadline, "route of {}: {route:?}", player.session_id);
            std::thread::sleep(Duration::from_millis(100));
        }
        let record = runtime.block_on(sessions.get(player.session_id)).unwrap().unwrap();
        assert_eq!(record.node_id, "node-b");
        assert!(record.fencing_token > token_a);
    }
}
