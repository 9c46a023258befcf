//! Bot swarm: N `GameClient`s in one process against a `meridian-node`, driven by a few threads, each
//! owning many bots with one nonblocking UDP socket per bot (the server sees N distinct addresses, as
//! with real players). Tokens come from the dev issuer (`meridian_client::dev_token`), sealed with the
//! cluster key given on the command line, until the control plane's auth API exists.
//!
//! Reports every `--report-s` seconds and at the end (one JSON object per line with `--json`): CCU,
//! RTT p50/p99 (clock sync), prediction corrections (count, p99 distance), bytes/s per connected
//! client down and up, and the server's tick-duration p99 scraped from the node's Prometheus
//! endpoint (`meridian_tick_duration_seconds`, summed over zones), and stalls: gaps of more than
//! 250 ms between a connected bot's snapshots (count, bots affected, longest gap).
//!
//! Misbehaving bots for the end-to-end test: `--garbage N` connect, then also send random datagrams
//! and random in-session messages; `--replay N` connect, then resend datagrams they captured a second
//! earlier; `--speedhack N` send three ticks of input per tick (time dilation: the proto's move input
//! cannot ask for more than full speed).
//!
//! Bots speak `meridian_proto::messages` through the client SDK: inputs and snapshot acks up,
//! snapshots (with the last applied input tick) and zone events down; a bot is "placed" once its
//! `Joined` event and a snapshot with its entity have arrived.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{
    ChatChannel, ClientConfig, GameClient, GameEvent, Histogram, MoveCommand, ServerEvent, ZoneConfig,
};
use meridian_perf::prom;
use meridian_perf::stall::SnapshotGaps;

/// Bots one process drives (sockets are file descriptors: raise `ulimit -n` above this).
const BOTS_MAX: usize = 20_000;
const THREADS_MAX: usize = 64;
/// Datagrams read per bot per loop pass, so one flooded socket cannot starve the others.
const RECV_PER_PASS_MAX: usize = 64;
/// Captured datagrams a replay bot keeps.
const REPLAY_CAPTURE_MAX: usize = 64;
/// Largest random datagram a garbage bot sends.
const GARBAGE_BYTES_MAX: usize = 1200;
/// Inputs a speed-hack bot sends per tick.
const SPEEDHACK_INPUTS_PER_TICK: usize = 3;
/// Readiness events fetched per `epoll_wait` call.
const EPOLL_EVENTS_MAX: usize = 1024;
/// Driver loop granularity.
const LOOP_SLEEP: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Movement {
    /// A new random direction every 1–3 s.
    RandomWalk,
    /// Everyone walks to `--target` and mills around it (crowding one AOI cell).
    Converge,
    /// Patrol edge to edge across the zone, pressing on its borders (future handoff path).
    CrossBorders,
}

#[derive(Parser, Debug)]
#[command(about = "Meridian bot swarm")]
struct Args {
    /// The node's game address (must be the address the node listens on: it is sealed in the token).
    #[arg(long, default_value = "127.0.0.1:7777")]
    server: SocketAddr,
    #[arg(long, default_value_t = 100)]
    bots: usize,
    /// Driver threads (each drives bots / threads bots).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 30)]
    duration_s: u64,
    /// Bots started per second (connection ramp).
    #[arg(long, default_value_t = 500)]
    ramp_per_s: u64,
    #[arg(long, value_enum, default_value_t = Movement::RandomWalk)]
    movement: Movement,
    /// Converge target "x,y" in metres.
    #[arg(long, default_value = "512,512")]
    target: String,
    /// 64 hex digits; the node's `--cluster-key-hex`.
    #[arg(long)]
    cluster_key_hex: String,
    /// Zones to join; with several (`1,2`), bot i joins the (i mod count)-th, so one swarm can load
    /// every zone of a node.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    zone_id: Vec<u32>,
    /// First session id (default: derived from the clock so reruns do not collide).
    #[arg(long)]
    session_base: Option<u64>,
    /// The node's metrics, e.g. http://127.0.0.1:9100/metrics.
    #[arg(long)]
    metrics_url: Option<String>,
    #[arg(long, default_value_t = 5)]
    report_s: u64,
    /// Print reports as JSON lines.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 0)]
    garbage: usize,
    #[arg(long, default_value_t = 0)]
    replay: usize,
    #[arg(long, default_value_t = 0)]
    speedhack: usize,
    /// Inputs per datagram.
    #[arg(long, default_value_t = meridian_client::INPUT_REDUNDANCY_DEFAULT)]
    redundancy: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Log in over HTTPS (e.g. https://127.0.0.1:8443): each bot registers, logs in, creates a
    /// character and asks to play, and connects with the connect token it gets, to the node it
    /// names. Without it bots mint dev tokens with the cluster key (pure packet benchmarks).
    #[arg(long)]
    login: Option<String>,
    /// The certificate to trust for `--login` (the login API's development certificate).
    #[arg(long)]
    login_ca: Option<std::path::PathBuf>,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 8)]
    login_concurrency: usize,
    /// Global chat latency probe: the first N honest bots each send a global chat line stamped with
    /// the wall clock every `--global-chat-interval-ms`; every bot that hears a stamped line records
    /// how long it took (bots and nodes must share a clock: one machine, or NTP-synced hosts).
    #[arg(long, default_value_t = 0)]
    global_chat_senders: usize,
    #[arg(long, default_value_t = 2000)]
    global_chat_interval_ms: u64,
    /// How long a bot waits for a silent server before its session times out (the SDK's
    /// `resume_patience_ms`). The swarm logs in again on a timeout, so it keeps the protocol's 5 s
    /// unless a test of session resume raises it.
    #[arg(long, default_value_t = 5_000)]
    resume_patience_ms: u64,
}

/// Prefix of the bots' stamped global chat lines: `gc:<sender wall clock, µs>`.
const GLOBAL_CHAT_PROBE_PREFIX: &str = "gc:";

/// Fresh logins a bot makes after its sessions ended, at most.
const RELOGINS_MAX: u32 = 3;
/// Re-login requests queued for the login thread; beyond it a bot asks again next tick.
const RELOGIN_QUEUE_MAX: usize = 1024;

/// A bot's connect token from the login API (or why it has none).
type Ticket = Result<meridian_perf::login::PlayTicket, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Honest,
    Garbage,
    Replay,
    SpeedHack,
}

struct Bot {
    client: Option<GameClient>,
    socket: UdpSocket,
    behaviour: Behaviour,
    start_at_us: u64,
    session_id: u64,
    zone_id: u32,
    direction: [f32; 2],
    next_turn_us: u64,
    patrol_sign: f32,
    captured: Vec<Vec<u8>>,
    capture_cursor: usize,
    connected_once: bool,
    /// Gaps between this bot's snapshots (stalls), from the moment it connected.
    gaps: SnapshotGaps,
    /// With `--login`: the ticket the login thread got for this bot, once it arrived.
    ticket: Option<Ticket>,
    /// With `--login`: a new ticket was asked for after the session ended (its zone moved or its
    /// node died), and how many times so far.
    relogin_pending: bool,
    relogins: u32,
    /// With `--global-chat-senders`: when this bot next sends a stamped global line (0: never).
    next_global_chat_us: u64,
}

impl Bot {
    /// Notes snapshot progress at `now_us` (see `SnapshotGaps::observe`): when the bot's socket had
    /// datagrams and on every tick for every bot that ever connected.
    fn track_snapshots(&mut self, now_us: u64, closing: bool) {
        if !self.connected_once {
            return;
        }
        let applied = self
            .client
            .as_ref()
            .map_or(0, |client| client.counters().snapshots_applied);
        self.gaps.observe(now_us, applied, closing);
    }
}

/// What one driver thread has seen so far (cumulative except the gauges).
#[derive(Clone, Debug, Default)]
struct ThreadReport {
    /// Logins (with `--login`): tickets received, failures, latency to the connect token.
    logins: u64,
    login_failures: u64,
    login_ms: Histogram,
    /// Sessions that ended and were replaced by a fresh login (a moved zone, a dead node).
    relogins: u64,
    /// Gauges.
    connected: u64,
    placed: u64,
    connecting: u64,
    disconnected: u64,
    /// Clock-sync RTT of each connected bot, sampled at the last report.
    rtt_us: Histogram,
    /// Cumulative.
    bytes_up: u64,
    bytes_down: u64,
    connected_bot_us: u64,
    reconciliations: u64,
    corrections: u64,
    correction_um: Histogram,
    snapshots: u64,
    /// Snapshots the client could not apply (e.g. a delta against a baseline it no longer has).
    snapshots_dropped: u64,
    datagrams_dropped: u64,
    send_errors: u64,
    garbage_sent: u64,
    replays_sent: u64,
    speedhack_inputs: u64,
    /// Driver loop pass durations, microseconds: when these approach the tick interval the swarm,
    /// not the server, is the bottleneck and the other figures are not the server's.
    loop_us: Histogram,
    /// Gauges over all bots: stalls (snapshot gaps > `meridian_perf::stall::STALL_US`), bots with
    /// at least one, and the longest gap, microseconds.
    stalls: u64,
    bots_stalled: u64,
    snapshot_gap_max_us: u64,
    /// Global chat probe: stamped lines sent, heard (one per listener), refusals heard, and the
    /// send-to-hear latency of every line heard, microseconds.
    global_chat_sent: u64,
    global_chat_heard: u64,
    global_chat_refused: u64,
    global_chat_us: Histogram,
}

impl ThreadReport {
    fn merge(&mut self, other: &ThreadReport) {
        self.logins += other.logins;
        self.relogins += other.relogins;
        self.login_failures += other.login_failures;
        self.login_ms.merge(&other.login_ms);
        self.connected += other.connected;
        self.placed += other.placed;
        self.connecting += other.connecting;
        self.disconnected += other.disconnected;
        self.rtt_us.merge(&other.rtt_us);
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.connected_bot_us += other.connected_bot_us;
        self.reconciliations += other.reconciliations;
        self.corrections += other.corrections;
        self.correction_um.merge(&other.correction_um);
        self.snapshots += other.snapshots;
        self.snapshots_dropped += other.snapshots_dropped;
        self.datagrams_dropped += other.datagrams_dropped;
        self.send_errors += other.send_errors;
        self.garbage_sent += other.garbage_sent;
        self.replays_sent += other.replays_sent;
        self.speedhack_inputs += other.speedhack_inputs;
        self.loop_us.merge(&other.loop_us);
        self.stalls += other.stalls;
        self.bots_stalled += other.bots_stalled;
        self.snapshot_gap_max_us = self.snapshot_gap_max_us.max(other.snapshot_gap_max_us);
        self.global_chat_sent += other.global_chat_sent;
        self.global_chat_heard += other.global_chat_heard;
        self.global_chat_refused += other.global_chat_refused;
        self.global_chat_us.merge(&other.global_chat_us);
    }
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

struct Plan {
    /// Bots wait for a login ticket instead of minting dev tokens.
    login: bool,
    /// With `--login`: where a driver thread asks for a bot's new ticket after its session ended
    /// (driver thread, bot index in that thread). Bounded; a full queue is retried next tick.
    relogin: Option<std::sync::mpsc::SyncSender<(usize, usize)>>,
    server: SocketAddr,
    cluster_key: [u8; 32],
    movement: Movement,
    target_m: [f32; 2],
    client_config: ClientConfig,
    end_us: u64,
    report_us: u64,
    global_chat_interval_us: u64,
}

fn unit(x: f32, y: f32) -> [f32; 2] {
    let length = (x * x + y * y).sqrt();
    if length < 1e-3 {
        [0.0, 0.0]
    } else {
        [x / length, y / length]
    }
}

impl Bot {
    fn command(&mut self, now_us: u64, plan: &Plan, rng: &mut SplitMix64) -> MoveCommand {
        let position = self
            .client
            .as_ref()
            .and_then(|client| client.predicted_position_m())
            .unwrap_or([0.0; 3]);
        let world = plan.client_config.zone.world_size_m;
        self.direction = match plan.movement {
            Movement::RandomWalk => {
                if now_us >= self.next_turn_us {
                    self.next_turn_us = now_us + 1_000_000 + rng.next_u64() % 2_000_000;
                    let angle = rng.next_f32() * std::f32::consts::TAU;
                    [angle.cos(), angle.sin()]
                } else {
                    self.direction
                }
            }
            Movement::Converge => {
                let (dx, dy) = (plan.target_m[0] - position[0], plan.target_m[1] - position[1]);
                if dx * dx + dy * dy > 4.0 {
                    unit(dx, dy)
                } else {
                    let angle = rng.next_f32() * std::f32::consts::TAU;
                    [angle.cos() * 0.3, angle.sin() * 0.3]
                }
            }
            Movement::CrossBorders => {
                if position[0] <= 1.0 {
                    self.patrol_sign = 1.0;
                } else if position[0] >= world[0] - 1.0 {
                    self.patrol_sign = -1.0;
                }
                [self.patrol_sign, 0.0]
            }
        };
        let direction = self.direction;
        MoveCommand {
            direction,
            yaw: direction[1].atan2(direction[0]),
        }
    }

    fn send_all(&mut self, now_us: u64, report: &mut ThreadReport) {
        let Some(client) = self.client.as_mut() else { return };
        while let Some(transmit) = client.poll_transmit(now_us) {
            if self.behaviour == Behaviour::Replay && client.is_connected() {
                if self.captured.len() < REPLAY_CAPTURE_MAX {
                    self.captured.push(transmit.bytes.clone());
                } else {
                    self.captured[self.capture_cursor % REPLAY_CAPTURE_MAX] = transmit.bytes.clone();
                    self.capture_cursor += 1;
                }
            }
            match self.socket.send_to(&transmit.bytes, transmit.destination) {
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => report.send_errors += 1,
                Err(_) => report.send_errors += 1,
            }
        }
    }

    fn misbehave(&mut self, plan: &Plan, rng: &mut SplitMix64, report: &mut ThreadReport) {
        let Some(client) = self.client.as_mut() else { return };
        if !client.is_connected() {
            return;
        }
        match self.behaviour {
            Behaviour::Garbage => {
                let length = 1 + (rng.next_u64() as usize % GARBAGE_BYTES_MAX);
                let mut noise = vec![0u8; length];
                rng.fill(&mut noise);
                let _ = self.socket.send_to(&noise, plan.server);
                let mut message = vec![0u8; 1 + rng.next_u64() as usize % 64];
                rng.fill(&mut message);
                let _ = client.send_raw_unreliable(&message);
                report.garbage_sent += 2;
            }
            Behaviour::Replay => {
                // Resend the oldest captured datagram (about a second old at 20 Hz with 64 kept).
                if self.captured.len() == REPLAY_CAPTURE_MAX {
                    let old = &self.captured[self.capture_cursor % REPLAY_CAPTURE_MAX];
                    let _ = self.socket.send_to(old, plan.server);
                    report.replays_sent += 1;
                }
            }
            Behaviour::SpeedHack => report.speedhack_inputs += 1,
            Behaviour::Honest => {}
        }
    }
}

/// Readiness of one driver thread's bot sockets: an epoll set with every socket registered
/// (level-triggered, the bot's index as the key), so a pass reads only the sockets that have
/// datagrams instead of trying each bot's socket (at thousands of bots, the failed `recvfrom`
/// calls were most of the swarm's own CPU and crowded out the node it measures).
struct ReadySockets {
    epoll: std::os::fd::OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl ReadySockets {
    fn new(bots: &[Bot]) -> std::io::Result<Self> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain syscall; the result is checked before it is owned.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        for (index, bot) in bots.iter().enumerate() {
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: index as u64,
            };
            // SAFETY: both descriptors are open; `event` is a valid pointer for the call.
            if unsafe {
                libc::epoll_ctl(
                    epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    bot.socket.as_raw_fd(),
                    &raw mut event,
                )
            } < 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Self {
            epoll,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EPOLL_EVENTS_MAX],
        })
    }

    /// Indexes of bots whose sockets are readable now (never blocks), appended to `ready`.
    fn poll(&mut self, ready: &mut Vec<usize>) {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: `events` has room for `len` entries; timeout 0 never blocks.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as i32,
                    0,
                )
            };
            if n <= 0 {
                return;
            }
            ready.extend(self.events[..n as usize].iter().map(|event| event.u64 as usize));
            if (n as usize) < self.events.len() {
                return;
            }
            // A full batch: more may be ready. Level-triggered, so a socket already listed shows up
            // again only if it still holds data after this pass; stop once the list is long enough.
            if ready.len() >= 4 * self.events.len() {
                return;
            }
        }
    }
}

fn drive(
    mut bots: Vec<Bot>,
    plan: Arc<Plan>,
    seed: u64,
    shared: Arc<Mutex<ThreadReport>>,
    stop: Arc<AtomicBool>,
    tickets: Option<Receiver<(usize, Ticket)>>,
    thread: usize,
) {
    let mut rng = SplitMix64(seed);
    let mut report = ThreadReport::default();
    let tick_us = plan.client_config.zone.tick_interval_us();
    let mut next_tick_us = wall_us();
    let mut next_report_us = wall_us();
    let mut last_loop_us = wall_us();
    let mut buffer = vec![0u8; 2048];
    let mut bytes_base = vec![(0u64, 0u64); bots.len()];
    let mut sockets = ReadySockets::new(&bots).expect("epoll set for the bot sockets");
    let mut ready: Vec<usize> = Vec::with_capacity(bots.len());
    // Bots start in index order (their ramp slots increase with the index).
    let mut next_to_start = 0;
    // Connected bots, recounted each tick (for the per-client byte rates).
    let mut connected = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = wall_us();
        if now >= plan.end_us {
            break;
        }
        // Start the bots whose ramp slot has come (and, logging in, whose ticket arrived).
        if let Some(tickets) = &tickets {
            while let Ok((index, ticket)) = tickets.try_recv() {
                let bot = &mut bots[index];
                if !bot.relogin_pending {
                    bot.ticket = Some(ticket);
                    continue;
                }
                // A new session for a bot whose session ended: start it at once.
                bot.relogin_pending = false;
                match ticket {
                    Ok(ticket) => {
                        report.relogins += 1;
                        report.login_ms.record(ticket.latency.as_millis() as u64);
                        bot.client = GameClient::new(now, ticket.token, plan.client_config.clone()).ok();
                        bytes_base[index] = (0, 0);
                    }
                    Err(_) => report.login_failures += 1,
                }
            }
        }
        let first_started = next_to_start;
        while let Some(bot) = bots.get_mut(next_to_start).filter(|bot| now >= bot.start_at_us) {
            let token = if plan.login {
                match bot.ticket.take() {
                    None => break, // its login is still under way
                    Some(Err(error)) => {
                        report.login_failures += 1;
                        if report.login_failures <= 3 {
                            eprintln!("bot login failed: {error}");
                        }
                        next_to_start += 1;
                        continue;
                    }
                    Some(Ok(ticket)) => {
                        report.logins += 1;
                        report.login_ms.record(ticket.latency.as_millis() as u64);
                        ticket.token
                    }
                }
            } else {
                dev_token::issue(
                    &plan.cluster_key,
                    bot.session_id,
                    bot.zone_id,
                    plan.server,
                    now / 1_000_000,
                    &mut rng,
                )
            };
            bot.client = GameClient::new(now, token, plan.client_config.clone()).ok();
            if bot.client.is_none() {
                break; // retried next pass; the bots after it wait their turn
            }
            next_to_start += 1;
        }
        // Receive, from the sockets that have something.
        ready.clear();
        sockets.poll(&mut ready);
        ready.sort_unstable();
        ready.dedup();
        for &index in &ready {
            let bot = &mut bots[index];
            for _ in 0..RECV_PER_PASS_MAX {
                match bot.socket.recv_from(&mut buffer) {
                    Ok((length, from)) => {
                        // Datagrams before the bot's client exists are stray; drop them.
                        if let Some(client) = bot.client.as_mut() {
                            let _ = client.handle(now, from, &buffer[..length]);
                        }
                    }
                    Err(_) => break,
                }
            }
            if let Some(client) = bot.client.as_mut() {
                while let Some(event) = client.poll_event() {
                    note_global_chat(&event, wall_us(), &mut report);
                }
            }
            bot.track_snapshots(now, false);
        }
        // Tick.
        let ticking = now >= next_tick_us;
        if ticking {
            next_tick_us += tick_us;
            if next_tick_us < now {
                next_tick_us = now + tick_us; // fell behind: skip ticks rather than burst
            }
            for (index, bot) in bots.iter_mut().enumerate() {
                let connected = bot.client.as_ref().is_some_and(|client| client.is_connected());
                bot.connected_once |= connected;
                // Logged-in bots whose session ended (zone moved, node gone) log in again, as a
                // player's client would, at most `RELOGINS_MAX` times.
                let ended = bot.client.as_ref().is_some_and(|client| {
                    matches!(client.state(), meridian_proto::endpoint::ClientState::Disconnected(_))
                });
                if ended
                    && !bot.relogin_pending
                    && bot.relogins < RELOGINS_MAX
                    && let Some(relogin) = &plan.relogin
                    && relogin.try_send((thread, index)).is_ok()
                {
                    bot.relogin_pending = true;
                    bot.relogins += 1;
                    bot.client = None;
                }
                bot.track_snapshots(now, false);
                if !connected {
                    continue;
                }
                let command = bot.command(now, &plan, &mut rng);
                if let Some(client) = bot.client.as_mut() {
                    let _ = if bot.behaviour == Behaviour::SpeedHack {
                        // The proto's move input cannot ask for more than full speed (the server
                        // clamps its length), so the hack is time dilation: three ticks of input per tick.
                        client.tick_time_dilated(command, SPEEDHACK_INPUTS_PER_TICK)
                    } else {
                        client.tick(command)
                    };
                }
                bot.misbehave(&plan, &mut rng, &mut report);
                if bot.next_global_chat_us != 0 && now >= bot.next_global_chat_us {
                    bot.next_global_chat_us = now + plan.global_chat_interval_us;
                    let line = format!("{GLOBAL_CHAT_PROBE_PREFIX}{}", wall_us());
                    if let Some(client) = bot.client.as_mut()
                        && client.send_chat_on(ChatChannel::Global, &line).is_ok()
                    {
                        report.global_chat_sent += 1;
                    }
                }
            }
        }
        // Send: on a tick every bot (inputs, and the connections' timers: handshake resends,
        // keep-alives, at tick granularity); between ticks only the bots that just received (acks,
        // handshake replies), and bots started this pass.
        if ticking {
            for bot in bots.iter_mut() {
                bot.send_all(now, &mut report);
            }
        } else {
            for index in ready.iter().copied().chain(first_started..next_to_start) {
                bots[index].send_all(now, &mut report);
            }
        }
        if ticking {
            connected = bots
                .iter()
                .filter(|bot| bot.client.as_ref().is_some_and(|client| client.is_connected()))
                .count() as u64;
        }
        report.connected_bot_us += connected * now.saturating_sub(last_loop_us);
        last_loop_us = now;
        report.loop_us.record(wall_us().saturating_sub(now));
        if now >= next_report_us {
            next_report_us = now + plan.report_us.min(1_000_000);
            publish(&bots, &mut bytes_base, &mut report, &shared);
        }
        std::thread::sleep(LOOP_SLEEP);
    }
    let end = wall_us();
    for bot in bots.iter_mut() {
        bot.track_snapshots(end, true);
    }
    publish(&bots, &mut bytes_base, &mut report, &shared);
    // Leave cleanly, so the node frees the sessions now rather than after its idle timeout.
    for bot in bots.iter_mut() {
        if let Some(bye) = bot.client.as_mut().and_then(GameClient::disconnect) {
            let _ = bot.socket.send_to(&bye.bytes, bye.destination);
        }
    }
}

/// Records a stamped global chat line heard (its latency) or a refusal of ours.
fn note_global_chat(event: &GameEvent, now_wall_us: u64, report: &mut ThreadReport) {
    let GameEvent::Server(ServerEvent::Chat {
        channel: ChatChannel::Global,
        from_entity,
        text,
    }) = event
    else {
        return;
    };
    if *from_entity == meridian_host::GLOBAL_CHAT_SERVER_ENTITY {
        report.global_chat_refused += 1;
    } else if let Some(sent_us) = text
        .strip_prefix(GLOBAL_CHAT_PROBE_PREFIX)
        .and_then(|stamp| stamp.parse::<u64>().ok())
    {
        report.global_chat_heard += 1;
        report.global_chat_us.record(now_wall_us.saturating_sub(sent_us));
    }
}

/// Folds the bots' state into the thread's report and publishes it.
fn publish(bots: &[Bot], bytes_base: &mut [(u64, u64)], report: &mut ThreadReport, shared: &Mutex<ThreadReport>) {
    report.connected = 0;
    report.placed = 0;
    report.connecting = 0;
    report.disconnected = 0;
    report.rtt_us.clear();
    report.reconciliations = 0;
    report.corrections = 0;
    report.correction_um.clear();
    report.snapshots = 0;
    report.snapshots_dropped = 0;
    report.datagrams_dropped = 0;
    report.stalls = 0;
    report.bots_stalled = 0;
    report.snapshot_gap_max_us = 0;
    for (bot, base) in bots.iter().zip(bytes_base.iter_mut()) {
        let Some(client) = bot.client.as_ref() else { continue };
        let counters = client.counters();
        // A bot that logged in again has a fresh client whose counters start at zero.
        report.bytes_up += counters.bytes_sent.saturating_sub(base.0);
        report.bytes_down += counters.bytes_received.saturating_sub(base.1);
        *base = (counters.bytes_sent, counters.bytes_received);
        report.snapshots += counters.snapshots_applied;
        report.snapshots_dropped += counters.snapshots_dropped;
        report.datagrams_dropped += counters.datagrams_dropped;
        report.stalls += bot.gaps.stalls();
        report.bots_stalled += u64::from(bot.gaps.stalls() > 0);
        report.snapshot_gap_max_us = report.snapshot_gap_max_us.max(bot.gaps.gap_max_us());
        // Prediction and RTT figures are the honest bots' (cheaters are corrected by design).
        let honest = bot.behaviour == Behaviour::Honest;
        if honest {
            let corrections = client.corrections();
            report.reconciliations += corrections.reconciliations;
            report.corrections += corrections.corrections;
            report.correction_um.merge(&corrections.distance_um);
        }
        if client.is_connected() {
            report.connected += 1;
            report.placed += u64::from(client.is_placed());
            if let (true, Some(rtt)) = (honest, client.rtt_us()) {
                report.rtt_us.record(rtt.max(0) as u64);
            }
        } else if bot.connected_once || matches!(client.state(), meridian_proto::endpoint::ClientState::Disconnected(_))
        {
            report.disconnected += 1;
        } else {
            report.connecting += 1;
        }
    }
    *shared.lock().expect("report lock") = report.clone();
}

/// The largest finite bucket bound (what an infinite quantile is reported as in JSON).
fn largest_finite_bound(buckets: &[(f64, f64)]) -> Option<f64> {
    buckets.iter().rev().map(|(le, _)| *le).find(|le| le.is_finite())
}

/// Server tick p99: (seconds, whether it lies above every finite bucket).
#[derive(Clone, Copy, Debug, PartialEq)]
struct TickP99 {
    seconds: f64,
    above_buckets: bool,
}

fn tick_p99(buckets: &[(f64, f64)]) -> Option<TickP99> {
    let p99 = prom::quantile(buckets, 0.99)?;
    if p99.is_finite() {
        return Some(TickP99 {
            seconds: p99,
            above_buckets: false,
        });
    }
    Some(TickP99 {
        seconds: largest_finite_bound(buckets)?,
        above_buckets: true,
    })
}

const TICK_METRIC: &str = "meridian_tick_duration_seconds";

fn json_opt(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or("null".to_string(), |v| format!("{v:.6}"))
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    args: &Args,
    label: &str,
    elapsed_s: f64,
    total: &ThreadReport,
    window_bytes: (u64, u64, u64),
    tick_p99: Option<TickP99>,
    scrape_error: Option<&str>,
) {
    let (up, down, bot_us) = window_bytes;
    let client_s = bot_us as f64 / 1e6;
    let per_client = |bytes: u64| if client_s > 0.0 { bytes as f64 / client_s } else { 0.0 };
    let rtt_p50 = total.rtt_us.quantile(0.5);
    let rtt_p99 = total.rtt_us.quantile(0.99);
    let correction_p99_m = total.correction_um.quantile(0.99).map(|um| um as f64 / 1e6);
    if args.json {
        println!(
            "{{\"report\":\"{label}\",\"elapsed_s\":{elapsed_s:.3},\"process_cpu_s\":{:.3},\"bots\":{},\"ccu\":{},\"placed\":{},\"connecting\":{},\"disconnected\":{},\
             \"rtt_us\":{{\"p50\":{},\"p99\":{}}},\
             \"corrections\":{{\"count\":{},\"reconciliations\":{},\"p99_m\":{},\"max_m\":{:.6}}},\
             \"bytes_per_s_per_client\":{{\"down\":{:.1},\"up\":{:.1}}},\
             \"server_tick_p99_s\":{},\"server_tick_p99_above_buckets\":{},\"scrape_error\":{},\
             \"snapshots\":{},\"snapshots_dropped\":{},\"datagrams_dropped\":{},\"send_errors\":{},\"driver_loop_us\":{{\"p99\":{},\"max\":{}}},\"stalls\":{{\"count\":{},\"bots\":{},\"gap_max_ms\":{:.1}}},\
             \"login\":{{\"ok\":{},\"failed\":{},\"relogins\":{},\"p50_ms\":{},\"p99_ms\":{}}},\"global_chat\":{{\"sent\":{},\"heard\":{},\"refused\":{},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}},\
             \"misbehaving\":{{\"garbage_bots\":{},\"garbage_sent\":{},\"replay_bots\":{},\"replays_sent\":{},\"speedhack_bots\":{},\"speedhack_inputs\":{}}}}}",
            // What the swarm costs the machine it shares with the node (all threads).
            meridian_node::cpu_time::process_cpu_ns() as f64 / 1e9,
            args.bots,
            total.connected,
            total.placed,
            total.connecting,
            total.disconnected,
            rtt_p50.map_or("null".into(), |v| v.to_string()),
            rtt_p99.map_or("null".into(), |v| v.to_string()),
            total.corrections,
            total.reconciliations,
            json_opt(correction_p99_m),
            total.correction_um.max() as f64 / 1e6,
            per_client(down),
            per_client(up),
            json_opt(tick_p99.map(|p99| p99.seconds)),
            tick_p99.is_some_and(|p99| p99.above_buckets),
            scrape_error.map_or("null".into(), |e| format!("{:?}", e)),
            total.snapshots,
            total.snapshots_dropped,
            total.datagrams_dropped,
            total.send_errors,
            total.loop_us.quantile(0.99).unwrap_or(0),
            total.loop_us.max(),
            total.stalls,
            total.bots_stalled,
            total.snapshot_gap_max_us as f64 / 1e3,
            total.logins,
            total.login_failures,
            total.relogins,
            total.login_ms.quantile(0.5).map_or("null".into(), |v| v.to_string()),
            total.login_ms.quantile(0.99).map_or("null".into(), |v| v.to_string()),
            total.global_chat_sent,
            total.global_chat_heard,
            total.global_chat_refused,
            total
                .global_chat_us
                .quantile(0.5)
                .map_or("null".into(), |v| v.to_string()),
            total
                .global_chat_us
                .quantile(0.99)
                .map_or("null".into(), |v| v.to_string()),
            total.global_chat_us.max(),
            args.garbage,
            total.garbage_sent,
            args.replay,
            total.replays_sent,
            args.speedhack,
            total.speedhack_inputs,
        );
    } else {
        println!(
            "[{label} {elapsed_s:6.1}s] ccu {}/{} (placed {}, connecting {}, gone {}) | rtt p50 {} p99 {} us | corrections {} of {} (p99 {} m) | per client down {:.0} B/s up {:.0} B/s | server tick p99 {} | driver loop p99 {} us | stalls {} ({} bots, longest gap {:.0} ms){}",
            total.connected,
            args.bots,
            total.placed,
            total.connecting,
            total.disconnected,
            rtt_p50.map_or("-".into(), |v| v.to_string()),
            rtt_p99.map_or("-".into(), |v| v.to_string()),
            total.corrections,
            total.reconciliations,
            json_opt(correction_p99_m),
            per_client(down),
            per_client(up),
            tick_p99.map_or("-".into(), |p99| format!(
                "{}{:.3} ms",
                if p99.above_buckets { ">" } else { "" },
                p99.seconds * 1e3
            )),
            total.loop_us.quantile(0.99).unwrap_or(0),
            total.stalls,
            total.bots_stalled,
            total.snapshot_gap_max_us as f64 / 1e3,
            scrape_error.map_or(String::new(), |e| format!(" (scrape: {e})")),
        );
        if total.global_chat_sent > 0 || total.global_chat_heard > 0 {
            println!(
                "[{label} {elapsed_s:6.1}s] global chat: sent {} heard {} refused {} | latency p50 {} p99 {} max {} us",
                total.global_chat_sent,
                total.global_chat_heard,
                total.global_chat_refused,
                total.global_chat_us.quantile(0.5).map_or("-".into(), |v| v.to_string()),
                total
                    .global_chat_us
                    .quantile(0.99)
                    .map_or("-".into(), |v| v.to_string()),
                total.global_chat_us.max(),
            );
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.bots == 0 || args.bots > BOTS_MAX {
        bail!("--bots must be in 1..={BOTS_MAX}");
    }
    if args.garbage + args.replay + args.speedhack > args.bots {
        bail!("--garbage + --replay + --speedhack exceed --bots");
    }
    if args.threads == 0 || args.threads > THREADS_MAX {
        bail!("--threads must be in 1..={THREADS_MAX}");
    }
    if args.zone_id.is_empty() {
        bail!("--zone-id needs at least one zone");
    }
    let cluster_key =
        dev_token::parse_cluster_key_hex(&args.cluster_key_hex).context("--cluster-key-hex must be 64 hex digits")?;
    let (tx, ty) = args.target.split_once(',').context("--target is x,y")?;
    let target_m = [tx.trim().parse::<f32>()?, ty.trim().parse::<f32>()?];
    let client_config = ClientConfig {
        input_redundancy: args.redundancy,
        resume_patience_ms: args.resume_patience_ms,
        zone: ZoneConfig {
            zone_id: args.zone_id[0],
            ..ZoneConfig::default()
        },
        ..ClientConfig::default()
    };
    client_config.validate().context("client config")?;
    let start_us = wall_us();
    let (relogin_sender, relogin_receiver) = match args.login {
        Some(_) => {
            let (sender, receiver) = std::sync::mpsc::sync_channel(RELOGIN_QUEUE_MAX);
            (Some(sender), Some(receiver))
        }
        None => (None, None),
    };
    let plan = Arc::new(Plan {
        login: args.login.is_some(),
        relogin: relogin_sender,
        server: args.server,
        cluster_key,
        movement: args.movement,
        target_m,
        client_config,
        end_us: start_us + args.duration_s * 1_000_000,
        report_us: args.report_s.max(1) * 1_000_000,
        global_chat_interval_us: args.global_chat_interval_ms.max(1) * 1_000,
    });
    let session_base = args.session_base.unwrap_or(start_us << 8);
    let ramp_gap_us = 1_000_000 / args.ramp_per_s.max(1);
    let bind: SocketAddr = if args.server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let mut per_thread: Vec<Vec<Bot>> = (0..args.threads).map(|_| Vec::new()).collect();
    let mut rng = SplitMix64(args.seed);
    for index in 0..args.bots {
        let socket = UdpSocket::bind(bind).with_context(|| format!("socket for bot {index} (raise ulimit -n?)"))?;
        socket.set_nonblocking(true)?;
        let behaviour = if index < args.garbage {
            Behaviour::Garbage
        } else if index < args.garbage + args.replay {
            Behaviour::Replay
        } else if index < args.garbage + args.replay + args.speedhack {
            Behaviour::SpeedHack
        } else {
            Behaviour::Honest
        };
        // Probe senders are the first honest bots; their lines are spread over one interval and
        // start a few seconds after the bot does (once it has joined).
        let honest_index = index.saturating_sub(args.garbage + args.replay + args.speedhack);
        let next_global_chat_us = if behaviour == Behaviour::Honest && honest_index < args.global_chat_senders {
            let spread_us =
                honest_index as u64 * args.global_chat_interval_ms.max(1) * 1_000 / args.global_chat_senders as u64;
            start_us + index as u64 * ramp_gap_us + 3_000_000 + spread_us
        } else {
            0
        };
        per_thread[index % args.threads].push(Bot {
            client: None,
            socket,
            behaviour,
            start_at_us: start_us + index as u64 * ramp_gap_us,
            session_id: session_base.wrapping_add(index as u64),
            zone_id: args.zone_id[index % args.zone_id.len()],
            direction: [0.0, 0.0],
            next_turn_us: 0,
            patrol_sign: if rng.next_u64().is_multiple_of(2) { 1.0 } else { -1.0 },
            captured: Vec::new(),
            capture_cursor: 0,
            connected_once: false,
            gaps: SnapshotGaps::default(),
            ticket: None,
            relogin_pending: false,
            relogins: 0,
            next_global_chat_us,
        });
    }
    // With --login, one thread logs the bots in (in start order, a few at a time) and hands each
    // driver thread its bots' tickets.
    let mut ticket_receivers: Vec<Option<Receiver<(usize, Ticket)>>> = (0..args.threads).map(|_| None).collect();
    if let Some(base) = args.login.clone() {
        let ca = match &args.login_ca {
            Some(path) => Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
            None => None,
        };
        let client = meridian_perf::login::LoginClient::new(&base, ca.as_deref())?;
        let mut senders = Vec::new();
        for receiver in ticket_receivers.iter_mut() {
            let (sender, ticket_receiver) = std::sync::mpsc::sync_channel(args.bots);
            senders.push(sender);
            *receiver = Some(ticket_receiver);
        }
        let (bots_count, threads, concurrency) = (args.bots, args.threads, args.login_concurrency.max(1));
        let tag = args.session_base.unwrap_or(start_us / 1_000_000);
        let relogins = relogin_receiver.context("a re-login queue with --login")?;
        std::thread::Builder::new().name("bots-login".into()).spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let mut in_flight = tokio::task::JoinSet::new();
                for index in 0..bots_count {
                    while in_flight.len() >= concurrency {
                        in_flight.join_next().await;
                    }
                    let (client, sender) = (client.clone(), senders[index % threads].clone());
                    in_flight.spawn(async move {
                        let name = format!("bot-{tag}-{index}");
                        let ticket = client
                            .play(&name, &format!("{name} password"))
                            .await
                            .map_err(|e| e.to_string());
                        let _ = sender.send((index / threads, ticket));
                    });
                }
                // Then log in again the bots whose sessions ended, until every driver thread is done
                // (the queue's sender lives in the plan they share).
                loop {
                    while in_flight.try_join_next().is_some() {}
                    match relogins.try_recv() {
                        Ok((thread, local)) => {
                            while in_flight.len() >= concurrency {
                                in_flight.join_next().await;
                            }
                            let index = local * threads + thread;
                            let (client, sender) = (client.clone(), senders[thread].clone());
                            in_flight.spawn(async move {
                                let name = format!("bot-{tag}-{index}");
                                let ticket = client
                                    .play(&name, &format!("{name} password"))
                                    .await
                                    .map_err(|e| e.to_string());
                                let _ = sender.send((local, ticket));
                            });
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                    }
                }
                while in_flight.join_next().await.is_some() {}
            });
        })?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut shared = Vec::new();
    let mut handles = Vec::new();
    for ((thread, bots), tickets) in per_thread.into_iter().enumerate().zip(ticket_receivers) {
        let report = Arc::new(Mutex::new(ThreadReport::default()));
        shared.push(report.clone());
        let (plan, stop) = (plan.clone(), stop.clone());
        let seed = args.seed.wrapping_mul(0x9e37_79b9).wrapping_add(thread as u64 + 1);
        handles.push(
            std::thread::Builder::new()
                .name(format!("bots-{thread}"))
                .spawn(move || drive(bots, plan, seed, report, stop, tickets, thread))?,
        );
    }
    let gather = |shared: &[Arc<Mutex<ThreadReport>>]| {
        let mut total = ThreadReport::default();
        for report in shared {
            total.merge(&report.lock().expect("report lock"));
        }
        total
    };
    let mut previous = ThreadReport::default();
    let mut previous_buckets: Vec<(f64, f64)> = Vec::new();
    let mut next_report = Instant::now() + Duration::from_secs(args.report_s.max(1));
    while wall_us() < plan.end_us {
        std::thread::sleep(
            Duration::from_millis(100).min(Duration::from_micros(plan.end_us.saturating_sub(wall_us()).max(1))),
        );
        if Instant::now() < next_report {
            continue;
        }
        next_report += Duration::from_secs(args.report_s.max(1));
        let total = gather(&shared);
        let (tick_p99, error) = match args.metrics_url.as_deref().map(prom::scrape) {
            None => (None, None),
            Some(Ok(text)) => {
                let buckets = prom::histogram(&text, TICK_METRIC);
                let window = prom::histogram_delta(&buckets, &previous_buckets);
                previous_buckets = buckets;
                (tick_p99(&window), None)
            }
            Some(Err(error)) => (None, Some(error.to_string())),
        };
        let window = (
            total.bytes_up - previous.bytes_up,
            total.bytes_down - previous.bytes_down,
            total.connected_bot_us - previous.connected_bot_us,
        );
        print_report(
            &args,
            "interval",
            (wall_us() - start_us) as f64 / 1e6,
            &total,
            window,
            tick_p99,
            error.as_deref(),
        );
        previous = total;
    }
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().map_err(|_| anyhow::anyhow!("a driver thread panicked"))?;
    }
    let total = gather(&shared);
    let (tick_p99, error) = match args.metrics_url.as_deref().map(prom::scrape) {
        None => (None, None),
        Some(Ok(text)) => (tick_p99(&prom::histogram(&text, TICK_METRIC)), None),
        Some(Err(error)) => (None, Some(error.to_string())),
    };
    let window = (total.bytes_up, total.bytes_down, total.connected_bot_us);
    print_report(
        &args,
        "final",
        (wall_us() - start_us) as f64 / 1e6,
        &total,
        window,
        tick_p99,
        error.as_deref(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = "# TYPE meridian_tick_duration_seconds histogram\n\
meridian_tick_duration_seconds_bucket{zone=\"1\",le=\"0.001\"} 90\n\
meridian_tick_duration_seconds_bucket{zone=\"1\",le=\"0.005\"} 99\n\
meridian_tick_duration_seconds_bucket{zone=\"1\",le=\"0.025\"} 100\n\
meridian_tick_duration_seconds_bucket{zone=\"1\",le=\"+Inf\"} 100\n\
meridian_tick_duration_seconds_bucket{zone=\"2\",le=\"0.001\"} 0\n\
meridian_tick_duration_seconds_bucket{zone=\"2\",le=\"0.005\"} 0\n\
meridian_tick_duration_seconds_bucket{zone=\"2\",le=\"0.025\"} 100\n\
meridian_tick_duration_seconds_bucket{zone=\"2\",le=\"+Inf\"} 100\n\
meridian_tick_duration_seconds_sum{zone=\"1\"} 0.2\n\
meridian_tick_duration_seconds_count{zone=\"1\"} 100\n\
meridian_tick_lateness_seconds_bucket{zone=\"1\",le=\"0.001\"} 5\n";

    #[test]
    fn prometheus_histogram_is_summed_over_zones_and_read_at_p99() {
        let buckets = prom::histogram(EXPOSITION, TICK_METRIC);
        assert_eq!(
            buckets,
            vec![(0.001, 90.0), (0.005, 99.0), (0.025, 200.0), (f64::INFINITY, 200.0)]
        );
        assert_eq!(prom::quantile(&buckets, 0.99), Some(0.025));
        assert_eq!(prom::quantile(&buckets, 0.4), Some(0.001));
        let earlier = vec![(0.001, 90.0), (0.005, 99.0), (0.025, 100.0), (f64::INFINITY, 100.0)];
        let window = prom::histogram_delta(&buckets, &earlier);
        assert_eq!(
            prom::quantile(&window, 0.5),
            Some(0.025),
            "only zone 2's slow ticks in the window"
        );
        assert_eq!(prom::quantile(&[], 0.99), None);
        let slow = vec![(0.001, 1.0), (0.1, 2.0), (f64::INFINITY, 100.0)];
        assert_eq!(
            tick_p99(&slow),
            Some(TickP99 {
                seconds: 0.1,
                above_buckets: true
            })
        );
        assert_eq!(
            tick_p99(&buckets),
            Some(TickP99 {
                seconds: 0.025,
                above_buckets: false
            })
        );
    }
}
