//! End to end over loopback: the real `meridian-node` binary (io_uring workers, sessions, zone,
//! metrics endpoint) started as its own process, and real clients — two SDK clients driven here,
//! which must see each other and chat, and the `bots` binary with well-behaved and misbehaving bots
//! (garbage, replayed packets, speed hack). Misbehaviour must be dropped or corrected and counted,
//! while the well-behaved clients stay connected and keep seeing the world; at the end the node is
//! stopped with SIGTERM and must exit cleanly.
//!
//! The node binary belongs to another package, so Cargo gives this test no `CARGO_BIN_EXE_` path
//! for it: it is found beside the `bots` binary in the same target directory, where
//! `cargo test --workspace` (what `make test` runs) has built it. `MERIDIAN_NODE_BIN` overrides.

use std::{
    net::{SocketAddr, TcpListener, UdpSocket},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use meridian_client::{ClientConfig, GameClient, GameEvent, MoveCommand, dev_token, wire::ServerEvent};
use meridian_node::probe;

const CLUSTER_KEY: [u8; 32] = [0x42; 32];
const ZONE_ID: u32 = 1;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// One SDK client on its own nonblocking socket.
struct Player {
    client: GameClient,
    socket: UdpSocket,
    server: SocketAddr,
}

impl Player {
    fn new(server: SocketAddr, session_id: u64, seed: u64) -> Self {
        let mut rng = dev_token::SplitMix64(seed);
        let token = dev_token::issue(
            &CLUSTER_KEY,
            session_id,
            ZONE_ID,
            server,
            now_us() / 1_000_000,
            &mut rng,
        );
        let client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Player { client, socket, server }
    }

    /// Receives what arrived, runs one client tick with `direction`, sends what is due.
    fn step(&mut self, direction: [f32; 2], events: &mut Vec<GameEvent>) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.client.handle(now_us(), from, &buf[..n]);
        }
        if self.client.is_connected() {
            let _ = self.client.tick(MoveCommand { direction, yaw: 0.0 });
        }
        while let Some(transmit) = self.client.poll_transmit(now_us()) {
            assert_eq!(transmit.destination, self.server);
            let _ = self.socket.send_to(&transmit.bytes, transmit.destination);
        }
        while let Some(event) = self.client.poll_event() {
            events.push(event);
        }
    }
}

fn node_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MERIDIAN_NODE_BIN") {
        return path.into();
    }
    let bots = PathBuf::from(env!("CARGO_BIN_EXE_bots"));
    let node = bots.with_file_name("meridian-node");
    assert!(
        node.is_file(),
        "{} is missing: run the workspace's tests (`cargo test --workspace`, as `make test` does) or \
         `cargo build -p meridian-node` first, or set MERIDIAN_NODE_BIN",
        node.display()
    );
    // `cargo test -p meridian-perf` alone does not rebuild another package's binary: refuse to
    // test a node older than its sources rather than pass on stale code.
    let built = std::fs::metadata(&node)
        .and_then(|m| m.modified())
        .expect("node binary mtime");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["dataplane/src", "dataplane/zone/src", "schemas/src"] {
        if let Some(newer) = newest_file(&root.join(dir)).filter(|(modified, _)| *modified > built) {
            panic!(
                "{} is older than {}: rebuild it (`cargo build -p meridian-node`) or run `cargo test --workspace`",
                node.display(),
                newer.1.display()
            );
        }
    }
    node
}

/// The most recently modified file under `dir`, recursively.
fn newest_file(dir: &std::path::Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_file(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|modified| (modified, path))
        };
        if let Some(candidate) = candidate.filter(|c| newest.as_ref().is_none_or(|n| c.0 > n.0)) {
            newest = Some(candidate);
        }
    }
    newest
}

/// The node process. Dropping it (a failed assertion) kills it; it also dies with this process
/// (`PR_SET_PDEATHSIG`), so no test run leaves a node behind.
struct NodeProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProcess {
    fn start(listen: SocketAddr, metrics_port: u16) -> Self {
        let log = std::env::temp_dir().join(format!("meridian-e2e-node-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(node_binary());
        command
            .args([
                "serve",
                "--listen",
                &listen.to_string(),
                "--workers",
                "2",
                "--io",
                "uring",
                "--zones",
                "1",
            ])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--cluster-key-hex", &"42".repeat(32)])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        // SAFETY: only prctl, which is async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start meridian-node");
        NodeProcess {
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a worker answers a liveness probe and the metrics endpoint serves.
    fn wait_ready(&mut self, listen: SocketAddr, metrics_port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut nonce = 0;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("meridian-node exited early ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "meridian-node not ready in 20 s:\n{}",
                self.log()
            );
            nonce += 1;
            let _ = socket.send_to(&probe::encode_request(nonce), listen);
            let mut buf = [0u8; 64];
            let answered = socket
                .recv_from(&mut buf)
                .is_ok_and(|(n, _)| probe::decode_reply(&buf[..n]).is_ok());
            if answered && std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_ok() {
                return;
            }
        }
    }

    /// SIGTERM, then the exit status within `grace`, or `None` if it had to be killed.
    fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            // A failed run keeps the node's log and shows its end.
            let log = self.log();
            let tail = &log[log.len().saturating_sub(4096)..];
            eprintln!("meridian-node log kept at {}; its end:\n{tail}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A child process killed if the test fails before it is waited for.
struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    fn wait_with_output(mut self) -> std::process::Output {
        self.0
            .take()
            .expect("waited once")
            .wait_with_output()
            .expect("child finished")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scrape(metrics_port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).expect("metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

/// Sum of every sample of `name` whose labels contain all of `labels`.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn bots_and_clients_play_on_a_real_node_and_misbehaviour_is_contained() {
    let metrics_port = free_tcp_port();
    let server: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let mut node = NodeProcess::start(server, metrics_port);
    node.wait_ready(server, metrics_port);

    // The swarm: 12 well-behaved bots and 2 of each kind of misbehaving bot, for 8 s.
    let bots = KillOnDrop(Some(
        Command::new(env!("CARGO_BIN_EXE_bots"))
            .args(["--server", &server.to_string(), "--cluster-key-hex", &"42".repeat(32)])
            .args(["--bots", "18", "--garbage", "2", "--replay", "2", "--speedhack", "2"])
            .args([
                "--duration-s",
                "8",
                "--report-s",
                "4",
                "--json",
                "--threads",
                "1",
                "--session-base",
                "1000000",
            ])
            .args(["--metrics-url", &format!("http://127.0.0.1:{metrics_port}/metrics")])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start bots"),
    ));

    // Meanwhile two SDK clients walk towards each other, and A says hello.
    let mut a = Player::new(server, 1, 11);
    let mut b = Player::new(server, 2, 22);
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut chat_sent = false;
    let mut saw_each_other = false;
    while started.elapsed() < Duration::from_secs(8) {
        a.step([1.0, 0.0], &mut events_a);
        b.step([-1.0, 0.0], &mut events_b);
        if a.client.is_placed() && b.client.is_placed() && !chat_sent {
            a.client.send_chat("hello from a").unwrap();
            chat_sent = true;
        }
        if let (Some(ea), Some(eb)) = (a.client.entity(), b.client.entity()) {
            saw_each_other |= a.client.server_world().contains_key(&eb) && b.client.server_world().contains_key(&ea);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = bots.wait_with_output();
    assert!(output.status.success(), "bots exited with {}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let final_report = stdout
        .lines()
        .rev()
        .find(|l| l.contains("\"report\":\"final\""))
        .expect("final JSON report");

    // The SDK clients: connected, placed, saw each other, chatted.
    assert!(
        a.client.is_connected() && b.client.is_connected(),
        "the well-behaved clients stay connected"
    );
    assert!(a.client.is_placed() && b.client.is_placed());
    assert!(saw_each_other, "both clients had the other in their decoded world");
    let a_entity = a.client.entity().unwrap();
    assert!(
        events_b.iter().any(|e| matches!(
            e,
            GameEvent::Server(ServerEvent::Chat { from_entity, text, .. }) if *from_entity == a_entity && &**text == "hello from a"
        )),
        "b heard a's chat: {events_b:?}"
    );
    // Clock sync ran. (Not a latency check: this loop polls every 50 ms, which the RTT sample
    // includes; the estimator's accuracy is tested in meridian-proto under simulated jitter.)
    assert!(
        a.client.rtt_us().is_some_and(|rtt| (0..1_000_000).contains(&rtt)),
        "rtt {:?}",
        a.client.rtt_us()
    );

    // The swarm: every bot connected, snapshots flowed, and the misbehaviour was really sent.
    let json = |key: &str| -> f64 {
        let start = final_report
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} in {final_report}"));
        let rest = &final_report[start + key.len() + 3..];
        // `null` (e.g. no tick samples scraped) reads as NaN, which fails the checks below with
        // the whole report in the message.
        rest.split([',', '}']).next().unwrap().parse().unwrap_or(f64::NAN)
    };
    assert_eq!(json("ccu"), 18.0, "{final_report}");
    assert_eq!(json("placed"), 18.0, "every bot got an entity: {final_report}");
    assert_eq!(json("disconnected"), 0.0, "no bot was cut off: {final_report}");
    assert!(json("snapshots") > 0.0, "{final_report}");
    // The bots predicted their own movement and reconciled it with the server's snapshots.
    assert!(json("reconciliations") > 0.0, "{final_report}");
    // The swarm scraped the node's tick histogram from its metrics endpoint.
    assert!(json("server_tick_p99_s") > 0.0, "{final_report}");
    assert!(
        json("garbage_sent") > 0.0 && json("replays_sent") > 0.0 && json("speedhack_inputs") > 0.0,
        "{final_report}"
    );

    // The node counted and contained it.
    let text = scrape(metrics_port);
    // Each kind of misbehaviour shows under its own drop reason: random datagrams fail at the first
    // byte, random messages inside a sealed packet fail to decode, replays hit the replay window.
    for reason in ["bad_magic", "bad_message", "replayed"] {
        let dropped = metric_sum(&text, "meridian_drops_total", &[&format!("reason=\"{reason}\"")]);
        assert!(dropped > 0.0, "no drop counted as {reason}");
    }
    // Redundant input copies (every bot sends each tick three times) are the session host's
    // business: counted as redundant, never shown to the zone as duplicates.
    let redundant = metric_sum(&text, "meridian_session_input_ticks_total", &["kind=\"redundant\""]);
    assert!(redundant > 0.0, "redundant input copies counted");
    let duplicates = metric_sum(&text, "meridian_zone_events_total", &["event=\"input_duplicate\""]);
    assert_eq!(duplicates, 0.0, "redundant copies reached the zone as duplicates");
    // The speed hack sends more inputs than ticks: the surplus is refused or dropped, never played.
    let refused = metric_sum(&text, "meridian_zone_events_total", &["event=\"input_too_far_ahead\""])
        + metric_sum(
            &text,
            "meridian_zone_events_total",
            &["event=\"input_dropped_backlog\""],
        );
    assert!(refused > 0.0, "speed-hack surplus inputs refused");
    assert!(
        metric_sum(&text, "meridian_tick_duration_seconds_count", &[]) > 100.0,
        "the zone ticked"
    );

    // Clean disconnects: the bots said goodbye when they finished; the two clients do now. The node
    // frees every session at once (its idle timeout is 5 s).
    for player in [&mut a, &mut b] {
        let bye = player.client.disconnect().expect("connected clients can disconnect");
        player.socket.send_to(&bye.bytes, bye.destination).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut sessions = f64::NAN;
    while Instant::now() < deadline {
        sessions = metric_sum(&scrape(metrics_port), "meridian_sessions", &[]);
        if sessions == 0.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sessions, 0.0, "sessions freed by clean disconnects");

    // SIGTERM stops the node cleanly: every worker joins and reports, exit status 0.
    let status = node.terminate(Duration::from_secs(10));
    let log = node.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "clean exit on SIGTERM, got {status:?}:\n{log}"
    );
    assert_eq!(
        log.matches("worker stopped").count(),
        2,
        "both workers stopped and reported:\n{log}"
    );
}
