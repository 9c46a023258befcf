//! What the node's process-level tests share: an SDK player over real UDP with a dev token, stepped
//! by hand (receive, one input while connected, send, collect events).
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, GameEvent, MoveCommand};

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

pub struct Player {
    pub client: GameClient,
    pub socket: UdpSocket,
    pub events: Vec<GameEvent>,
}

impl Player {
    /// A player of `zone_id` whose dev token (sealed with `cluster_key`) names `server`.
    pub fn new(cluster_key: &[u8; 32], server: SocketAddr, session_id: u64, zone_id: u32) -> Self {
        let mut rng = SplitMix64(session_id);
        let token = dev_token::issue(cluster_key, session_id, zone_id, server, now_us() / 1_000_000, &mut rng);
        let client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Player {
            client,
            socket,
            events: Vec::new(),
        }
    }

    /// Reads what arrived, sends one standing-still input while connected, sends what is due and
    /// keeps the events.
    pub fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.client.handle(now_us(), from, &buf[..n]);
        }
        if self.client.is_connected() {
            let _ = self.client.tick(MoveCommand {
                direction: [0.0, 0.0],
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
}

/// Steps the players every `pause` until `done` or `timeout`.
pub fn run_until(players: &mut [Player], timeout: Duration, pause: Duration, done: impl Fn(&[Player]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for player in players.iter_mut() {
            player.step();
        }
        if done(players) {
            return true;
        }
        std::thread::sleep(pause);
    }
    false
}
