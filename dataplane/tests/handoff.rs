//! A running node with a seamless world (two zones side by side on one worker): an SDK client over
//! real UDP walks east across the border and back; it is handed from zone 1 to zone 2 and back
//! without reconnecting, keeps its entity id, and each zone counts it while it is there.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Walker, zone_players};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_zone::{WorldLayout, ZoneConfig};

const CLUSTER_KEY: [u8; 32] = [0x33; 32];
const ZONE_SIDE_M: f32 = 512.0;

#[test]
fn a_player_walks_across_a_zone_border_and_back_without_reconnecting() {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let world = WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 1,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1, 2],
        zone_config: ZoneConfig {
            // Players appear in zone 1, 20 m from the border with zone 2.
            player_spawn_m: [ZONE_SIDE_M - 20.0, 256.0, 0.0],
            player_spawn_radius_m: 0.0,
            ..ZoneConfig::default()
        },
        session_events: false,
        edge: None,
        persistence: None,
        hot: None,
        world: Some(world),
    })
    .expect("node starts");
    let mut walker = Walker::new(&CLUSTER_KEY, listen, 0x4242, 1, 5);
    assert!(
        walker.run_until(Duration::from_secs(10), |w| w.client.is_placed()
            && w.server_x().is_some()),
        "not placed"
    );
    let entity = walker.client.entity();
    assert!(
        walker.run_until(Duration::from_secs(5), |_| zone_players(&node) == (1, 0)),
        "zone 1 never counted the player: {:?}",
        zone_players(&node)
    );
    // East, past the border and its margin: zone 2 has the player now.
    walker.direction = [1.0, 0.0];
    assert!(
        walker.run_until(Duration::from_secs(20), |w| w
            .server_x()
            .is_some_and(|x| x > ZONE_SIDE_M + 10.0)),
        "never got past the border: x = {:?}",
        walker.server_x()
    );
    walker.direction = [0.0, 0.0];
    assert!(
        walker.run_until(Duration::from_secs(5), |_| zone_players(&node) == (0, 1)),
        "zone 2 does not have the player: {:?}",
        zone_players(&node)
    );
    // And back west.
    walker.direction = [-1.0, 0.0];
    assert!(
        walker.run_until(Duration::from_secs(20), |w| w
            .server_x()
            .is_some_and(|x| x < ZONE_SIDE_M - 10.0)),
        "never got back: x = {:?}",
        walker.server_x()
    );
    walker.direction = [0.0, 0.0];
    assert!(
        walker.run_until(Duration::from_secs(5), |_| zone_players(&node) == (1, 0)),
        "zone 1 does not have the player back: {:?}",
        zone_players(&node)
    );
    assert!(
        walker.client.is_connected(),
        "no reconnect: the same session throughout"
    );
    assert_eq!(
        walker.client.entity(),
        entity,
        "one stable entity id across both handoffs"
    );
    let sessions: u64 = node.gauges().iter().map(|g| g.sessions.load(Ordering::Relaxed)).sum();
    assert_eq!(sessions, 1);
    node.stop().unwrap();
}
