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

/// An SDK player over real UDP walking in `direction`: one input per 50 ms tick while connected,
/// the arrival time of every datagram from the server kept (pause figures read the gaps).
pub struct Walker {
    pub session_id: u64,
    pub client: GameClient,
    pub socket: UdpSocket,
    pub next_tick: Instant,
    pub direction: [f32; 2],
    pub arrivals: Vec<Instant>,
    /// The session's lifecycle as the client saw it: `Connected`, `Resumed`, `Disconnected`.
    pub lifecycle: Vec<GameEvent>,
    /// Each newer snapshot applied: when, and its server tick.
    pub snapshot_ticks: Vec<(Instant, u32)>,
}

impl Walker {
    /// A walker of `zone_id` whose dev token (sealed with `cluster_key`, naming `server`) draws its
    /// keys from `seed`.
    pub fn new(cluster_key: &[u8; 32], server: SocketAddr, session_id: u64, zone_id: u32, seed: u64) -> Self {
        let token = dev_token::issue(
            cluster_key,
            session_id,
            zone_id,
            server,
            now_us() / 1_000_000,
            &mut SplitMix64(seed),
        );
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Walker {
            session_id,
            client: GameClient::new(now_us(), token, ClientConfig::default()).expect("a client"),
            socket,
            next_tick: Instant::now(),
            direction: [0.0, 0.0],
            arrivals: Vec::new(),
            lifecycle: Vec::new(),
            snapshot_ticks: Vec::new(),
        }
    }

    pub fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.arrivals.push(Instant::now());
            let _ = self.client.handle(now_us(), from, &buf[..n]);
            if let Some(tick) = self.client.server_tick()
                && self.snapshot_ticks.last().is_none_or(|(_, last)| tick > *last)
            {
                self.snapshot_ticks.push((Instant::now(), tick));
            }
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
        while let Some(event) = self.client.poll_event() {
            if matches!(
                event,
                GameEvent::Connected | GameEvent::Resumed | GameEvent::Disconnected(_)
            ) {
                self.lifecycle.push(event);
            }
        }
    }

    /// Steps this walker every 5 ms until `done` or `timeout`.
    pub fn run_until(&mut self, timeout: Duration, mut done: impl FnMut(&Walker) -> bool) -> bool {
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

    /// Where the server last placed this walker's entity, east-west.
    pub fn server_x(&self) -> Option<f32> {
        let entity = self.client.entity()?;
        self.client.server_world().get(&entity).map(|state| state.position[0])
    }
}

/// Steps the walkers every 2 ms until `done` or `timeout`.
pub fn walk_until(walkers: &mut [Walker], timeout: Duration, mut done: impl FnMut(&[Walker]) -> bool) -> bool {
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

/// Players the node's workers count in zones 1 and 2.
pub fn zone_players(node: &meridian_node::node::Node) -> (u32, u32) {
    let mut counts = (0, 0);
    for gauges in node.gauges() {
        let players = gauges.zone_players.lock().unwrap();
        counts.0 += players.get(&1).copied().unwrap_or(0);
        counts.1 += players.get(&2).copied().unwrap_or(0);
    }
    counts
}
