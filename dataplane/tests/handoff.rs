//! A running node with a seamless world (two zones side by side on one worker): an SDK client over
//! real UDP walks east across the border and back; it is handed from zone 1 to zone 2 and back
//! without reconnecting, keeps its entity id, and each zone counts it while it is there.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, MoveCommand};
use meridian_node::dgram_io::IoBackend;
use meridian_node::node::{Node, NodeConfig};
use meridian_zone::{WorldLayout, ZoneConfig};

const CLUSTER_KEY: [u8; 32] = [0x33; 32];
const ZONE_SIDE_M: f32 = 512.0;

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

    fn run_until(&mut self, timeout: Duration, mut done: impl FnMut(&Walker) -> bool) -> bool {
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
}

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
    let token = dev_token::issue(
        &CLUSTER_KEY,
        0x4242,
        1,
        listen,
        now_us() / 1_000_000,
        &mut SplitMix64(5),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut walker = Walker {
        client: GameClient::new(now_us(), token, ClientConfig::default()).unwrap(),
        socket,
        next_tick: Instant::now(),
        direction: [0.0, 0.0],
    };
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
