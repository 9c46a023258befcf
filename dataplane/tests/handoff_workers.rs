//! A running node with two workers and a seamless world: zone 1 on worker 1, zone 2 on worker 0.
//! SDK clients over real UDP walk back and forth across the border between them; each crossing is
//! a handoff by ticket between the workers (the session exported from one worker's endpoint and
//! imported into the other's, the player frozen and admitted). Checked: no reconnect, one stable
//! entity id, no prediction correction (one lost or doubled input would cause one), each zone
//! counts its players, and the node counts the committed handoffs.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{Walker, walk_until, zone_players};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_zone::{TICK_EPOCH_US_DEFAULT, WorldLayout, ZoneConfig};

const CLUSTER_KEY: [u8; 32] = [0x35; 32];
const ZONE_SIDE_M: f32 = 512.0;
const WALKERS: u64 = 3;

/// A node with two workers and a seamless world: zone 1 on worker 1, zone 2 on worker 0 (zone z
/// runs on worker z mod 2); players appear in zone 1, 20 m from the border with zone 2.
fn start_world_node(hot: Option<meridian_node::hot::HotSettings>) -> (Node, SocketAddr) {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let world = WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1, 2],
        zone_config: ZoneConfig {
            player_spawn_m: [ZONE_SIDE_M - 20.0, 256.0, 0.0],
            player_spawn_radius_m: 0.0,
            tick_epoch_us: Some(TICK_EPOCH_US_DEFAULT),
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: None,
        hot,
        world: Some(world),
    })
    .expect("node starts");
    (node, listen)
}

#[test]
fn players_walk_between_zones_on_two_workers_without_reconnecting_or_losing_an_input() {
    let (node, listen) = start_world_node(None);
    let mut walkers: Vec<Walker> = (0..WALKERS)
        .map(|index| Walker::new(&CLUSTER_KEY, listen, 0x5000 + index, 1, 7 + index))
        .collect();
    assert!(
        walk_until(&mut walkers, Duration::from_secs(10), |walkers| walkers
            .iter()
            .all(|w| w.client.is_placed() && w.server_x().is_some())),
        "not placed"
    );
    let entities: Vec<Option<u32>> = walkers.iter().map(|w| w.client.entity()).collect();
    assert!(
        walk_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (3, 0)),
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
            walk_until(&mut walkers, Duration::from_secs(20), |walkers| walkers
                .iter()
                .all(|w| w.server_x().is_some_and(|x| x > ZONE_SIDE_M + 10.0))),
            "never got past the border"
        );
        for walker in &mut walkers {
            walker.direction = [0.0, 0.0];
        }
        assert!(
            walk_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (0, 3)),
            "zone 2 does not have the players: {:?}",
            zone_players(&node)
        );
        for walker in &mut walkers {
            walker.direction = [-1.0, 0.0];
        }
        assert!(
            walk_until(&mut walkers, Duration::from_secs(20), |walkers| walkers
                .iter()
                .all(|w| w.server_x().is_some_and(|x| x < ZONE_SIDE_M - 10.0))),
            "never got back"
        );
        for walker in &mut walkers {
            walker.direction = [0.0, 0.0];
        }
        assert!(
            walk_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (3, 0)),
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
        walk_until(&mut walkers, Duration::from_secs(20), |walkers| walkers[1..]
            .iter()
            .all(|w| w.server_x().is_some_and(|x| x > ZONE_SIDE_M + 10.0))),
        "never got past the border"
    );
    for walker in &mut walkers {
        walker.direction = [0.0, 0.0];
    }
    assert!(
        walk_until(&mut walkers, Duration::from_secs(5), |_| zone_players(&node) == (1, 2)),
        "zone 2 does not have the two: {:?}",
        zone_players(&node)
    );
    let across: Vec<u32> = entities[1..].iter().map(|id| id.unwrap()).collect();
    assert!(
        walk_until(&mut walkers, Duration::from_secs(2), |walkers| across
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

/// The session's Redis record follows its player across workers: after each handoff it names the
/// zone the player is in and its hints (position) keep refreshing there, so a takeover of that
/// zone after a crash would resume the player where it is, not where it logged in.
#[test]
fn the_session_record_follows_the_player_across_workers() {
    let redis = meridian_testkit::Redis::start().expect("start redis");
    let sessions = meridian_hotstate::SessionStore::new(
        meridian_hotstate::RedisLink::new(&redis.url()).unwrap(),
        Duration::from_secs(60),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (node, listen) = start_world_node(Some(meridian_node::hot::HotSettings {
        zone_state_interval_ms: 200,
        ..meridian_node::hot::HotSettings::new(redis.url(), "node-r".to_owned())
    }));
    let session_id = 0x5100;
    let mut walkers = vec![Walker::new(&CLUSTER_KEY, listen, session_id, 1, 5)];
    let record = || runtime.block_on(sessions.get(session_id)).unwrap();
    let record_at = |walkers: &mut Vec<Walker>, zone: u32, east: bool| {
        walk_until(walkers, Duration::from_secs(5), |_| {
            record().is_some_and(|record| {
                let x = record.resume.and_then(|resume| resume.hints.position_m).map(|p| p[0]);
                record.zone_id == zone
                    && x.is_some_and(|x| {
                        if east {
                            x > ZONE_SIDE_M + 10.0
                        } else {
                            x < ZONE_SIDE_M - 10.0
                        }
                    })
            })
        })
    };
    assert!(
        walk_until(&mut walkers, Duration::from_secs(10), |w| w[0].client.is_placed()),
        "not placed"
    );
    assert!(
        walk_until(&mut walkers, Duration::from_secs(5), |_| record()
            .is_some_and(|r| r.zone_id == 1)),
        "the record is written in zone 1"
    );
    for (direction, zone, east) in [([1.0, 0.0], 2, true), ([-1.0, 0.0], 1, false)] {
        walkers[0].direction = direction;
        assert!(
            walk_until(&mut walkers, Duration::from_secs(20), |w| w[0].server_x().is_some_and(
                |x| if east {
                    x > ZONE_SIDE_M + 12.0
                } else {
                    x < ZONE_SIDE_M - 12.0
                }
            )),
            "never crossed"
        );
        walkers[0].direction = [0.0, 0.0];
        assert!(
            record_at(&mut walkers, zone, east),
            "the record does not follow to zone {zone}: {:?}",
            record()
        );
    }
    let moved: Vec<u32> = runtime
        .block_on(sessions.load_zone(1))
        .unwrap()
        .0
        .iter()
        .map(|record| record.zone_id)
        .collect();
    assert_eq!(moved, vec![1], "zone 1's set names the session once");
    assert!(runtime.block_on(sessions.load_zone(2)).unwrap().0.is_empty());
    assert!(walkers[0].client.is_connected());
    node.stop().unwrap();
}
