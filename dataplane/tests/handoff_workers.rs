//! A running node with two workers and a seamless world: zone 1 on worker 1, zone 2 on worker 0.
//! SDK clients over real UDP walk back and forth across the border between them; each crossing is
//! a handoff by ticket between the workers (the session exported from one worker's endpoint and
//! imported into the other's, the player frozen and admitted). Checked: no reconnect, one stable
//! entity id, no prediction correction (one lost or doubled input would cause one), each zone
//! counts its players, and the node counts the committed handoffs.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, MoveCommand};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_zone::{TICK_EPOCH_US_DEFAULT, WorldLayout, ZoneConfig};

const CLUSTER_KEY: [u8; 32] = [0x35; 32];
const ZONE_SIDE_M: f32 = 512.0;
const WALKERS: u64 = 3;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn zone_players(node: &Node) -> (u32, u32) {
    let mut counts = (0, 0);
    for gauges in node.gauges() {
        let players = gauges.zone_players.lock().unwrap();
        counts.0 += players.get(&1).copied().unwrap_or(0);
        counts.1 += players.get(&2).copied().unwrap_or(0);
    }
    counts
}

struct Walker {
    client: GameClient,
    socket: UdpSocket,
    next_tick: Instant,
    direction: [f32; 2],
}

impl Walker {
    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.client.handle(now_us(), from, &buf[..n]);
        }
        if self.client.is_connected() && Instant::now() >= self.next_tick {
            self.next_tick += Duration::from_millis(50);
            let _ = self.client.tick(MoveCommand {
                direction: self.direction,
                yaw: 0.0,
            });
        }
        while let Some(transmit) = self.client.poll_transmit(now_us()) {
            let _ = self.socket.send_to(&transmit.bytes, transmit.destination);
        }
        while self.client.poll_event().is_some() {}
    }

    fn server_x(&self) -> Option<f32> {
        let entity = self.client.entity()?;
        self.client.server_world().get(&entity).map(|state| state.position[0])
    }
}

fn run_until(walkers: &mut [Walker], timeout: Duration, mut done: impl FnMut(&[Walker]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for walker in walkers.iter_mut() {
            walker.step();
        }
        if done(walkers) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn players_walk_between_zones_on_two_workers_without_reconnecting_or_losing_an_input() {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let world = WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap();
    let node = Node::start(NodeConfig {
        listen,
        // Zone z runs on worker z mod 2: zone 1 on worker 1, zone 2 on worker 0.
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1, 2],
        zone_config: ZoneConfig {
            // Players appear in zone 1, 20 m from the border with zone 2, 20 m apart.
            player_spawn_m: [ZONE_SIDE_M - 20.0, 256.0, 0.0],
            player_spawn_radius_m: 0.0,
            tick_epoch_us: Some(TICK_EPOCH_US_DEFAULT),
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: None,
        hot: None,
        world: Some(world),
    })
    .expect("node starts");
    let mut walkers: Vec<Walker> = (0..WALKERS)
        .map(|index| {
            let token = dev_token::issue(
                &CLUSTER_KEY,
                0x5000 + index,
                1,
                listen,
                now_us() / 1_000_000,
                &mut SplitMix64(7 + index),
            );
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_nonblocking(true).unwrap();
            Walker {
                client: GameClient::new(now_us(), token, ClientConfig::default()).unwrap(),
                socket,
                next_tick: Instant::now(),
                direction: [0.0, 0.0],
            }
        })
        .collect();
    assert!(
        run_until(&mut walkers, Duration::from_secs(10), |walkers| walkers
            .iter()
            .all(|w| w.client.is_placed() && w.server_x().is_some())),
        "not placed"
    );
    let entities: Vec<Option<u32>> = walkers.iter().map(|w| w.client.entity()).collect();
    assert!(
        run_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (3, 0)),
        "zone 1 never counted the players: {:?}",
        zone_players(&node)
    );
    const CYCLES: u32 = 3;
    for _ in 0..CYCLES {
        // East, past the border and its margin: zone 2, on the other worker, has them.
        for walker in &mut walkers {
            walker.direction = [1.0, 0.0];
        }
        assert!(
            run_until(&mut walkers, Duration::from_secs(20), |walkers| walkers
                .iter()
                .all(|w| w.server_x().is_some_and(|x| x > ZONE_SIDE_M + 10.0))),
            "never got past the border"
        );
        for walker in &mut walkers {
            walker.direction = [0.0, 0.0];
        }
        assert!(
            run_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (0, 3)),
            "zone 2 does not have the players: {:?}",
            zone_players(&node)
        );
        for walker in &mut walkers {
            walker.direction = [-1.0, 0.0];
        }
        assert!(
            run_until(&mut walkers, Duration::from_secs(20), |walkers| walkers
                .iter()
                .all(|w| w.server_x().is_some_and(|x| x < ZONE_SIDE_M - 10.0))),
            "never got back"
        );
        for walker in &mut walkers {
            walker.direction = [0.0, 0.0];
        }
        assert!(
            run_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (3, 0)),
            "zone 1 does not have the players back: {:?}",
            zone_players(&node)
        );
    }
    for (walker, entity) in walkers.iter().zip(&entities) {
        assert!(
            walker.client.is_connected(),
            "no reconnect: the same session throughout"
        );
        assert_eq!(
            walker.client.entity(),
            *entity,
            "one stable entity id across the handoffs"
        );
        assert_eq!(walker.client.corrections().corrections, 0, "an input lost or doubled");
    }
    // Ghosts: walker 0 stays in zone 1 by the border while the others cross into zone 2 on the
    // other worker; it keeps seeing them, under the ids they had all along.
    for walker in &mut walkers[1..] {
        walker.direction = [1.0, 0.0];
    }
    assert!(
        run_until(&mut walkers, Duration::from_secs(20), |walkers| walkers[1..]
            .iter()
            .all(|w| w.server_x().is_some_and(|x| x > ZONE_SIDE_M + 10.0))),
        "never got past the border"
    );
    for walker in &mut walkers {
        walker.direction = [0.0, 0.0];
    }
    assert!(
        run_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (1, 2)),
        "zone 2 does not have the two: {:?}",
        zone_players(&node)
    );
    let across: Vec<u32> = entities[1..].iter().map(|id| id.unwrap()).collect();
    assert!(
        run_until(&mut walkers, Duration::from_secs(2), |walkers| across
            .iter()
            .all(|id| walkers[0].client.server_world().contains_key(id))),
        "the stay-behind does not see across the border: {:?} of {across:?}",
        walkers[0].client.server_world().keys().collect::<Vec<_>>()
    );
    let sessions: u64 = node
        .gauges()
        .iter()
        .map(|g| g.sessions.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert_eq!(sessions, WALKERS);
    let across = |read: fn(&meridian_node::worker::WorkerGauges) -> u64| -> u64 {
        node.gauges().iter().map(|gauges| read(gauges)).sum()
    };
    let committed = across(|g| g.handoffs_across.load(std::sync::atomic::Ordering::Relaxed));
    let aborted = across(|g| g.handoffs_across_aborted.load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!((committed, aborted), (WALKERS * 2 * u64::from(CYCLES) + 2, 0));
    node.stop().unwrap();
}
