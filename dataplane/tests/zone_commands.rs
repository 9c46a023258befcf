//! A running node serves and stops zones when told (what the control plane's agent does): a client
//! of a zone the node does not serve is refused with `UnknownZone`; once the zone is served on a
//! worker under a fencing token, clients join it over real UDP (whichever worker the kernel hashes
//! them to); when it is taken away they are told `ZoneMoved` at once.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::Player;
use meridian_client::{ClientDisconnect, DisconnectReason, GameEvent};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_zone::ZoneConfig;

const CLUSTER_KEY: [u8; 32] = [0x3c; 32];

impl Player {
    fn disconnect_reason(&self) -> Option<ClientDisconnect> {
        self.events.iter().find_map(|event| match event {
            GameEvent::Disconnected(reason) => Some(*reason),
            _ => None,
        })
    }
}

/// Steps the players every 20 ms until `done` or `timeout`.
fn run_until(players: &mut [Player], timeout: Duration, done: impl Fn(&[Player]) -> bool) -> bool {
    common::run_until(players, timeout, Duration::from_millis(20), done)
}

#[test]
fn a_node_serves_and_stops_zones_when_told() {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let node = Node::start(NodeConfig {
        listen,
        workers: 2,
        backend: IoBackend::Mmsg,
        cluster_key: CLUSTER_KEY,
        zones: vec![1],
        zone_config: ZoneConfig::default(),
        session_events: true,
        edge: None,
        persistence: None,
        hot: None,
        world: None,
    })
    .unwrap();
    assert_eq!(node.zones(), vec![(1, 1)]);

    let mut early = vec![Player::new(&CLUSTER_KEY, listen, 100, 9)];
    assert!(
        run_until(&mut early, Duration::from_secs(5), |p| p[0]
            .disconnect_reason()
            .is_some()),
        "zone 9 is not served: refused"
    );
    assert_eq!(
        early[0].disconnect_reason(),
        Some(ClientDisconnect::ByServer(DisconnectReason::UnknownZone))
    );

    node.serve_zone(9, 0, 1_234).unwrap();
    assert_eq!(node.zones(), vec![(1, 1), (9, 0)]);
    // Several players from different source ports: some land on the other worker and are forwarded.
    let mut players: Vec<Player> = (0..6).map(|i| Player::new(&CLUSTER_KEY, listen, 200 + i, 9)).collect();
    assert!(
        run_until(&mut players, Duration::from_secs(10), |p| p
            .iter()
            .all(|p| p.client.is_placed())),
        "players of the newly served zone were not placed"
    );

    // Moving the zone to the other worker ends its sessions there (the players would log in again).
    node.serve_zone(9, 1, 1_300).unwrap();
    assert_eq!(node.zones(), vec![(1, 1), (9, 1)]);
    assert!(
        run_until(&mut players, Duration::from_secs(5), |p| p
            .iter()
            .all(|p| p.disconnect_reason().is_some())),
        "sessions of the moved zone were not ended"
    );
    for player in &players {
        assert_eq!(
            player.disconnect_reason(),
            Some(ClientDisconnect::ByServer(DisconnectReason::ZoneMoved))
        );
    }
    let mut again = vec![Player::new(&CLUSTER_KEY, listen, 300, 9)];
    assert!(
        run_until(&mut again, Duration::from_secs(10), |p| p[0].client.is_placed()),
        "not placed on the new worker"
    );

    node.stop_zone(9, DisconnectReason::ZoneMoved).unwrap();
    assert_eq!(node.zones(), vec![(1, 1)]);
    assert!(run_until(&mut again, Duration::from_secs(5), |p| p[0]
        .disconnect_reason()
        .is_some()));
    assert_eq!(
        again[0].disconnect_reason(),
        Some(ClientDisconnect::ByServer(DisconnectReason::ZoneMoved))
    );
    node.stop().unwrap();
}
