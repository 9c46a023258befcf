//! Two real nodes behind one address hand a session to each other while the XDP edge flips
//! (issue 14, item 5): client ↔ router ↔ node 0, node 1 (`VipHosts`), the VIP on both nodes' `lo`,
//! the router delivering the VIP to the node of zone 1. etcd runs in the router namespace, the
//! assigner in this process (its runtime's threads inside the router namespace), and each node is
//! a real `meridian-node serve --control --link-listen --xdp-iface` in its own namespace.
//!
//! A real SDK client connects to the VIP at the border of zones 1 | 2 (spawn radius 0) and walks
//! east and west across it; each crossing is a cross-node handoff (ticket over the node link, the
//! route CAS'd in etcd, the edge flipped). Checked: the client never reconnects, hears everything
//! from the VIP, keeps getting snapshots, sees no prediction correction (an input lost or applied
//! twice would cause one); etcd's route follows the player after each leg; while the player is on
//! the node the router does not deliver to, the other node's edge forwards every datagram it sends
//! (`tx_forwarded`) and the owner's edge decapsulates each (`tunnel_decapsulated`). Then the router
//! moves the VIP to the owner (anycast moving) mid-session and the player walks back: the session
//! goes on, now forwarded the other way.
//!
//! A session that never handed off survives anycast moving the VIP to the other node: its owner
//! announced it over the node link when it opened, and the other node's edge forwards it.
//!
//! An aborted handoff behind the VIP (the VIP's node stopped 1.5 s) loses no input: the old node
//! plays what it forwarded while the ticket was open.
//!
//! Ignored: the pause figure (`vip_pause_figure`, `perf/RESULTS.md`).

use std::{
    future::Future,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use meridian_client::{ClientConfig, GameClient, MoveCommand, dev_token};
use meridian_control::{
    assigner::{AssignerConfig, AssignerService},
    registry::Placement,
    routes::get_route,
};
use meridian_node::edge::{PacketCounterProgram, XdpMode};
use meridian_testkit::{ChildGuard, Etcd, Netns, NetnsEtcd, VipHosts, enter_netns};

const PORT: u16 = 7777;
const LINK_PORT: u16 = 7700;
const METRICS_PORT: u16 = 9100;
const CLUSTER_KEY: [u8; 32] = [0x6d; 32];
const SESSION: u64 = 0x7a_0001;
const NODE_IDS: [&str; 2] = ["node-a", "node-b"];
/// Where zones 1 | 2 meet (zone side 512 m); spawn radius 0 puts the player on it.
const BORDER_X_M: f32 = 512.0;

fn binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join(name);
    assert!(
        path.is_file(),
        "{} missing: run `cargo test --workspace` (it builds every binary)",
        path.display()
    );
    path
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The node's metrics text in `ns` (empty if it does not answer).
fn metrics_text(ns: &Netns) -> String {
    ns.run(|| -> std::io::Result<String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, METRICS_PORT));
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    })
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default()
}

/// The sum of `name`'s samples whose labels contain `label`.
fn counter(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What a failure message shows of both nodes: their handoff, route, cross-node and edge series.
fn diagnosis(hosts: &VipHosts) -> String {
    let mut out = String::new();
    for (index, id) in NODE_IDS.iter().enumerate() {
        out.push_str(&format!("\n--- {id}:\n"));
        for line in metrics_text(hosts.node_ns(index)).lines().filter(|line| {
            !line.starts_with('#')
                && [
                    "handoff",
                    "route",
                    "cross_node",
                    "edge_decisions",
                    "session",
                    "zone_players",
                ]
                .iter()
                .any(|part| line.contains(part))
                && !line.ends_with(" 0")
        }) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One node's edge decisions that this test follows, from its metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct EdgeSeen {
    tx_forwarded: f64,
    tunnel_decapsulated: f64,
    pass_sealed: f64,
    pass_forward_failed: f64,
}

impl EdgeSeen {
    fn read(ns: &Netns) -> Self {
        let text = metrics_text(ns);
        let decision = |name: &str| counter(&text, "meridian_edge_decisions_total{", &format!("decision=\"{name}\""));
        Self {
            tx_forwarded: decision("tx_forwarded"),
            tunnel_decapsulated: decision("tunnel_decapsulated"),
            pass_sealed: decision("pass_sealed"),
            pass_forward_failed: decision("pass_forward_failed"),
        }
    }

    fn since(self, earlier: Self) -> Self {
        Self {
            tx_forwarded: self.tx_forwarded - earlier.tx_forwarded,
            tunnel_decapsulated: self.tunnel_decapsulated - earlier.tunnel_decapsulated,
            pass_sealed: self.pass_sealed - earlier.pass_sealed,
            pass_forward_failed: self.pass_forward_failed - earlier.pass_forward_failed,
        }
    }
}

/// The control plane as this process sees it: a tokio runtime whose threads all entered the
/// router namespace (where etcd listens), so the etcd client's connections, reconnects included,
/// start there; futures run as tasks on those threads, never on the test's own thread.
struct Control {
    runtime: tokio::runtime::Runtime,
    client: etcd_client::Client,
}

impl Control {
    fn new(router: &Netns, endpoint: &str) -> Self {
        let router = router.name().to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .on_thread_start(move || enter_netns(&router).expect("enter the router namespace"))
            .build()
            .unwrap();
        let endpoint = endpoint.to_owned();
        let client = runtime
            .block_on(runtime.spawn(etcd_client::Client::connect([endpoint], None)))
            .unwrap()
            .expect("connect etcd in the router namespace");
        Self { runtime, client }
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(self.runtime.spawn(future)).unwrap()
    }

    fn placement(&self, zone: u32) -> Option<Placement> {
        let mut client = self.client.clone();
        self.run(async move {
            let response = client.get(format!("/meridian/assign/{zone}"), None).await.ok()?;
            let kv = response.kvs().first()?;
            serde_json::from_slice::<Placement>(kv.value()).ok()
        })
    }

    /// The node and zone etcd routes `session` to.
    fn route(&self, session: u64) -> Option<(String, u32)> {
        let mut client = self.client.clone();
        self.run(async move { get_route(&mut client, session).await })
            .expect("read the route")
            .map(|(route, _)| (route.node, route.zone))
    }
}

/// `meridian-node serve` in node `index`'s namespace: on the VIP, under the control plane, the node
/// link and the edge on its underlay address. Its log: `<temp>/meridian-vip-handoff-<test>-<node>-<pid>.log`.
fn start_node(hosts: &VipHosts, index: usize, etcd: &str, test: &str) -> (ChildGuard, std::path::PathBuf) {
    let underlay = hosts.node_ends[index].addr.to_string();
    let log = std::env::temp_dir().join(format!(
        "meridian-vip-handoff-{test}-{}-{}.log",
        NODE_IDS[index],
        std::process::id()
    ));
    let child = Command::new("ip")
        .args(["netns", "exec", hosts.node_ns(index).name()])
        .arg(binary("meridian-node"))
        .args(["serve", "--listen", &format!("{}:{PORT}", hosts.vip)])
        .args(["--workers", "1", "--io", "mmsg"])
        .args(["--metrics-listen", &format!("127.0.0.1:{METRICS_PORT}")])
        .args(["--cluster-key-hex", &"6d".repeat(32)])
        .args(["--control", etcd, "--node-id", NODE_IDS[index], "--lease-ttl-s", "3"])
        .args(["--duration-s", "900", "--zones", "1,2", "--world-columns", "2"])
        .args(["--zone-size-m", "512", "--spawn-radius-m", "0"])
        .args(["--link-listen", &format!("{underlay}:{LINK_PORT}")])
        .args(["--underlay-addr", &underlay])
        .args(["--xdp-iface", &hosts.node_ends[index].interface, "--xdp-mode", "native"])
        .args(["--edge-underlay", &underlay])
        .env("RUST_LOG", "info,meridian_node=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start meridian-node");
    (ChildGuard(child), log)
}

/// Sets SO_NO_CHECK on `socket`: a veth leaves the UDP checksum to an offload it does not have,
/// and a packet the edge forwards with `XDP_TX` loses that state, so the owner would find a
/// half-computed checksum (see edge_forward.rs). The client sends none (0: "not computed").
fn send_without_udp_checksum(socket: &UdpSocket) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket the test owns, with a c_int option value of the right size.
    let set = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(socket),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "SO_NO_CHECK: {}", std::io::Error::last_os_error());
}

/// The SDK player in the client namespace: one input per 50 ms tick while connected, every
/// datagram's arrival time kept, every sender checked to be the VIP.
struct Player {
    client: GameClient,
    socket: UdpSocket,
    vip_port: SocketAddr,
    next_tick: Instant,
    direction: [f32; 2],
    arrivals: Vec<Instant>,
    /// Each newer snapshot applied: when, and its server tick (cluster-wide numbering, so a
    /// handoff that missed no snapshot shows consecutive ticks across it).
    snapshot_ticks: Vec<(Instant, u32)>,
}

impl Player {
    fn new(hosts: &VipHosts, session: u64) -> Self {
        let vip_port = SocketAddr::V4(SocketAddrV4::new(hosts.vip, PORT));
        let client_addr = hosts.client.addr;
        let socket = hosts
            .client_ns()
            .run(|| UdpSocket::bind((client_addr, 0)))
            .unwrap()
            .unwrap();
        socket.set_nonblocking(true).unwrap();
        send_without_udp_checksum(&socket);
        let mut rng = dev_token::SplitMix64(session);
        let token = dev_token::issue(&CLUSTER_KEY, session, 1, vip_port, now_us() / 1_000_000, &mut rng);
        Self {
            client: GameClient::new(now_us(), token, ClientConfig::default()).unwrap(),
            socket,
            vip_port,
            next_tick: Instant::now(),
            direction: [0.0, 0.0],
            arrivals: Vec::new(),
            snapshot_ticks: Vec::new(),
        }
    }

    /// Takes in what arrived; `send`: one input when due and whatever the client has to send.
    fn step(&mut self, send: bool) {
        let mut buf = [0u8; 2048];
        while let Ok((bytes, from)) = self.socket.recv_from(&mut buf) {
            assert_eq!(from, self.vip_port, "everything the client hears comes from the VIP");
            self.arrivals.push(Instant::now());
            let _ = self.client.handle(now_us(), from, &buf[..bytes]);
            if let Some(tick) = self.client.server_tick()
                && self.snapshot_ticks.last().is_none_or(|(_, last)| tick > *last)
            {
                self.snapshot_ticks.push((Instant::now(), tick));
            }
        }
        if !send {
            return;
        }
        if self.client.is_connected() && Instant::now() >= self.next_tick {
            self.next_tick += Duration::from_millis(50);
            let _ = self.client.tick(MoveCommand {
                direction: self.direction,
                yaw: 0.0,
            });
        }
        while let Some(transmit) = self.client.poll_transmit(now_us()) {
            self.socket.send_to(&transmit.bytes, transmit.destination).unwrap();
        }
        while self.client.poll_event().is_some() {}
    }

    /// Steps every 2 ms for `duration`, calling `each` after every step.
    fn play(&mut self, duration: Duration, mut each: impl FnMut(&Player)) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.step(true);
            each(self);
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends nothing for `duration` (still reading): lets the nodes publish their edge counters
    /// (once a second) while no datagram of the client is in flight.
    fn hush(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.step(false);
            std::thread::sleep(Duration::from_millis(10));
        }
        // The input clock restarts: no burst of inputs to catch up on.
        self.next_tick = Instant::now();
    }

    fn server_x(&self) -> Option<f32> {
        let entity = self.client.entity()?;
        self.client.server_world().get(&entity).map(|state| state.position[0])
    }

    fn sent(&self) -> u64 {
        self.client.counters().datagrams_sent
    }
}

/// Lets the nodes publish their edge counters, plays standing still for 2 s, lets them publish
/// again, and checks where the session's datagrams went: with the router delivering the VIP to
/// `delivered` and the session owned by `owner`, either `delivered`'s edge forwarded every
/// datagram the client sent and `owner`'s decapsulated and passed each, or (the same node) it
/// passed each and the other node saw none. Snapshots keep coming all along.
fn still_window(player: &mut Player, hosts: &VipHosts, delivered: usize, owner: usize, phase: &str) {
    // Metrics are published once a second: 1.3 s without traffic leaves a publish after the last
    // datagram.
    let quiet = Duration::from_millis(1_300);
    player.hush(quiet);
    let other = 1 - owner;
    let before = (
        EdgeSeen::read(hosts.node_ns(owner)),
        EdgeSeen::read(hosts.node_ns(other)),
        player.sent(),
        player.client.counters().snapshots_applied,
    );
    player.play(Duration::from_secs(2), |_| {});
    let sent = player.sent() - before.2;
    let snapshots = player.client.counters().snapshots_applied - before.3;
    player.hush(quiet);
    let owner_seen = EdgeSeen::read(hosts.node_ns(owner)).since(before.0);
    let other_seen = EdgeSeen::read(hosts.node_ns(other)).since(before.1);
    let (owner_id, other_id) = (NODE_IDS[owner], NODE_IDS[other]);
    eprintln!(
        "{phase}: VIP on {}, session on {owner_id}: sent {sent}, snapshots {snapshots}; \
         {owner_id} edge {owner_seen:?}; {other_id} edge {other_seen:?}",
        NODE_IDS[delivered]
    );
    assert!(sent >= 30, "{phase}: the client played: {sent} datagrams in 2 s");
    assert!(snapshots >= 30, "{phase}: snapshots kept coming: {snapshots} in 2 s");
    assert!(player.client.is_connected(), "{phase}: no reconnect");
    let sent = sent as f64;
    assert_eq!(
        owner_seen.pass_sealed, sent,
        "{phase}: {owner_id} passed each: {owner_seen:?}"
    );
    assert_eq!(
        owner_seen.tx_forwarded, 0.0,
        "{phase}: {owner_id} owns it: {owner_seen:?}"
    );
    if delivered == owner {
        assert_eq!(
            owner_seen.tunnel_decapsulated, 0.0,
            "{phase}: straight to the owner: {owner_seen:?}"
        );
        assert_eq!(
            other_seen,
            EdgeSeen::default(),
            "{phase}: {other_id} is out of the path"
        );
    } else {
        assert_eq!(
            other_seen.tx_forwarded, sent,
            "{phase}: {other_id}'s edge forwarded every datagram of the session {owner_id} owns: {other_seen:?}"
        );
        assert_eq!(
            other_seen.pass_sealed + other_seen.pass_forward_failed,
            0.0,
            "{phase}: {other_id} passed none up: {other_seen:?}"
        );
        assert_eq!(
            owner_seen.tunnel_decapsulated, sent,
            "{phase}: {owner_id}'s edge decapsulated each: {owner_seen:?}"
        );
    }
}

/// The largest step in server ticks between two consecutive snapshots applied in `[from, to]`
/// (1: none missed).
fn largest_tick_step(snapshot_ticks: &[(Instant, u32)], from: Instant, to: Instant) -> u32 {
    snapshot_ticks
        .windows(2)
        .filter(|pair| pair[1].0 >= from && pair[0].0 <= to)
        .map(|pair| pair[1].1 - pair[0].1)
        .max()
        .unwrap_or(0)
}

/// The longest gap between two datagrams from the server that overlaps `[from, to]`, in ms.
fn longest_gap_ms(arrivals: &[Instant], from: Instant, to: Instant) -> f64 {
    arrivals
        .windows(2)
        .filter(|pair| pair[1] >= from && pair[0] <= to)
        .map(|pair| (pair[1] - pair[0]).as_secs_f64() * 1e3)
        .fold(0.0, f64::max)
}

/// The topology, etcd, the assigner and both nodes, with zones 1 and 2 on different nodes and
/// the router delivering the VIP to the node of zone 1. Fields drop in order: nodes first.
struct Cluster {
    _nodes: Vec<ChildGuard>,
    /// Both nodes' log paths, for failure messages.
    logs: String,
    /// `home`: the node of zone 1 (where the VIP goes first); `away`: the node of zone 2.
    home: usize,
    away: usize,
    _assigner: AssignerService,
    control: Control,
    _etcd: NetnsEtcd,
    _router_xdp: Vec<PacketCounterProgram>,
    hosts: VipHosts,
}

impl Cluster {
    /// `test`: names the nodes' logs (`<temp>/meridian-vip-handoff-<test>-<node>-<pid>.log`).
    fn start(test: &str) -> Self {
        let hosts = VipHosts::new(2).expect("create the topology (root needed)");
        // A veth delivers XDP_TX frames (the edge's forwarded packets) to its peer only when the
        // peer runs NAPI, which an XDP program turns on (a NIC needs nothing; without it the
        // frames vanish, counted as forwarded): each router end gets the counting program, which
        // passes everything.
        let router_xdp: Vec<PacketCounterProgram> = hosts
            .router_ends
            .iter()
            .map(|end| {
                let interface = end.interface.clone();
                hosts
                    .router_ns()
                    .run(|| PacketCounterProgram::attach(&interface, PORT, XdpMode::Driver))
                    .unwrap()
                    .expect("attach a pass-through program on the router's end of a node's link")
            })
            .collect();
        let etcd = Etcd::start_in(hosts.router_ns(), hosts.router_ends[0].addr).expect("etcd in the router namespace");
        let control = Control::new(hosts.router_ns(), etcd.endpoint());
        let assigner_client = control.client.clone();
        let assigner = control.run(async move {
            AssignerService::spawn(assigner_client, AssignerConfig::new("vip-assigner", vec![1, 2]))
        });
        let (node_a, log_a) = start_node(&hosts, 0, etcd.endpoint(), test);
        let (node_b, log_b) = start_node(&hosts, 1, etcd.endpoint(), test);
        let logs = format!("node logs: {} {}", log_a.display(), log_b.display());

        // The assigner spreads zones 1 and 2 over the two nodes.
        let deadline = Instant::now() + Duration::from_secs(30);
        let (zone1, zone2) = loop {
            if let (Some(one), Some(two)) = (control.placement(1), control.placement(2))
                && one.node != two.node
            {
                break (one.node, two.node);
            }
            assert!(
                Instant::now() < deadline,
                "the zones never spread over both nodes ({logs})"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let index_of = |node: &str| NODE_IDS.iter().position(|id| *id == node).unwrap();
        let (home, away) = (index_of(&zone1), index_of(&zone2));
        hosts.route_vip_to(home).unwrap();
        eprintln!("{test}: zone 1 on {zone1} (the VIP's node), zone 2 on {zone2}");
        // Both nodes learn each other's link and underlay addresses and the assignments; their
        // metrics answer once they serve.
        let deadline = Instant::now() + Duration::from_secs(20);
        while [home, away]
            .iter()
            .any(|&node| !metrics_text(hosts.node_ns(node)).contains("meridian_edge_decisions_total"))
        {
            assert!(Instant::now() < deadline, "a node's edge never reported ({logs})");
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(2));
        Self {
            _nodes: vec![node_a, node_b],
            logs,
            home,
            away,
            _assigner: assigner,
            control,
            _etcd: etcd,
            _router_xdp: router_xdp,
            hosts,
        }
    }

    /// A player of zone 1 connected through the VIP and placed.
    fn connect(&self, session: u64) -> Player {
        let mut player = Player::new(&self.hosts, session);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(player.client.is_connected() && player.client.entity().is_some()) {
            assert!(Instant::now() < deadline, "the client never connected ({})", self.logs);
            player.play(Duration::from_millis(20), |_| {});
        }
        player.play(Duration::from_millis(500), |_| {});
        player
    }
}

#[test]
fn a_session_handed_between_two_real_nodes_behind_one_vip_flips_the_edge_and_never_reconnects() {
    let cluster = Cluster::start("legs");
    let (hosts, control, logs) = (&cluster.hosts, &cluster.control, &cluster.logs);
    let (home, away) = (cluster.home, cluster.away);
    let (zone1, zone2) = (NODE_IDS[home].to_owned(), NODE_IDS[away].to_owned());
    let mut player = cluster.connect(SESSION);
    let entity = player.client.entity();
    let start_x = player.server_x().expect("placed");
    assert!(
        (start_x - BORDER_X_M).abs() < 1.0,
        "spawned on the border, at x = {start_x}"
    );

    // Back and forth across the border (7 m/s, 4 m handoff margin): 2 s east, then 4 s legs,
    // ending east (on the away node).
    let mut crossings: Vec<Instant> = Vec::new();
    let mut side = player.server_x().map(|x| x > BORDER_X_M);
    let legs = 6;
    for leg in 0..=legs {
        let east = leg % 2 == 0;
        player.direction = if east { [1.0, 0.0] } else { [-1.0, 0.0] };
        let leg_s = if leg == 0 { 2.0 } else { 4.0 };
        player.play(Duration::from_secs_f32(leg_s), |player| {
            let now_side = player.server_x().map(|x| x > BORDER_X_M);
            if now_side.is_some() && now_side != side {
                crossings.push(Instant::now());
                side = now_side;
            }
        });
        let (zone, node) = if east { (2, &zone2) } else { (1, &zone1) };
        assert_eq!(
            control.route(SESSION),
            Some((node.clone(), zone)),
            "after leg {leg} at x = {:?}, connected {}: etcd's route follows the player ({logs}){}",
            player.server_x(),
            player.client.is_connected(),
            diagnosis(hosts)
        );
        assert!(player.client.is_connected(), "leg {leg}: no reconnect");
    }
    player.direction = [0.0, 0.0];

    // On the away node, standing still: the home node's edge forwards every datagram the client
    // sends and passes none up; the away node's edge decapsulates each.
    still_window(&mut player, hosts, home, away, "after the legs");

    // Anycast moves: the router now delivers the VIP to the away node, the session's owner. Its
    // edge passes the session's datagrams straight up; the home node is out of the path.
    hosts.route_vip_to(away).unwrap();
    still_window(&mut player, hosts, away, away, "VIP moved to the owner");

    // Back west into zone 1 while the VIP stays on the away node: handed back to the home node,
    // the away node's edge now forwards to it.
    player.direction = [-1.0, 0.0];
    player.play(Duration::from_secs(4), |player| {
        let now_side = player.server_x().map(|x| x > BORDER_X_M);
        if now_side.is_some() && now_side != side {
            crossings.push(Instant::now());
            side = now_side;
        }
    });
    player.direction = [0.0, 0.0];
    assert_eq!(
        control.route(SESSION),
        Some((zone1.clone(), 1)),
        "back west at x = {:?} with the VIP on {zone2}: etcd's route follows the player ({logs}){}",
        player.server_x(),
        diagnosis(hosts)
    );
    still_window(&mut player, hosts, away, home, "handed back, VIP on the other node");

    let handoffs_committed: f64 = [home, away]
        .iter()
        .map(|&node| {
            counter(
                &metrics_text(hosts.node_ns(node)),
                "meridian_handoffs_total",
                "outcome=\"across_committed\"",
            )
        })
        .sum();
    let pauses_ms: Vec<f64> = crossings
        .iter()
        .map(|&at| longest_gap_ms(&player.arrivals, at, at + Duration::from_millis(1_500)))
        .collect();
    let pauses_ticks: Vec<u32> = crossings
        .iter()
        .map(|&at| largest_tick_step(&player.snapshot_ticks, at, at + Duration::from_millis(1_500)))
        .collect();
    eprintln!(
        "crossings seen by the client {}; handoffs committed across nodes {handoffs_committed}; \
         longest gap between datagrams in the 1.5 s after each crossing (ms): {pauses_ms:.0?}, \
         in server ticks: {pauses_ticks:?}",
        crossings.len()
    );
    assert!(
        crossings.len() >= legs + 2,
        "the player crossed the border on every leg and once more: {} crossings",
        crossings.len()
    );
    assert!(
        handoffs_committed >= crossings.len() as f64,
        "every crossing is a committed handoff between the nodes: {handoffs_committed}"
    );
    assert!(player.client.is_connected(), "no reconnect: the same session");
    assert_eq!(player.client.entity(), entity, "one stable entity id");
    assert_eq!(
        player.client.corrections().corrections,
        0,
        "no prediction correction: no input lost or applied twice"
    );
    let longest_ms = longest_gap_ms(
        &player.arrivals,
        crossings[0] - Duration::from_secs(1),
        *crossings.last().unwrap() + Duration::from_secs(1),
    );
    assert!(
        longest_ms < 1_000.0,
        "snapshots kept coming across the handoffs: longest gap {longest_ms:.0} ms"
    );
    // Every run here so far missed none (1 everywhere); one missed snapshot is left to a loaded
    // machine.
    assert!(
        pauses_ticks.iter().all(|&ticks| (1..=2).contains(&ticks)),
        "at most one snapshot missed across each handoff: {pauses_ticks:?}"
    );
}

/// Anycast moves while a session has never left the node it connected to: the router delivers the
/// VIP to the other node, whose edge has never held the session. The session goes on there
/// (forwarded to its owner) as it does after a handoff: the owner announced it over the node link
/// when it opened (`EdgeOwner`: session, edge key, epoch), so every peer's edge forwards it.
#[test]
fn a_session_that_never_handed_off_survives_the_vip_moving_to_the_other_node() {
    let cluster = Cluster::start("moved");
    let (hosts, home, away) = (&cluster.hosts, cluster.home, cluster.away);
    let session = SESSION + 1;
    let mut player = cluster.connect(session);
    player.play(Duration::from_secs(1), |_| {});
    hosts.route_vip_to(away).unwrap();
    let before = player.client.counters();
    let away_before = EdgeSeen::read(hosts.node_ns(away));
    player.play(Duration::from_secs(3), |_| {});
    player.hush(Duration::from_millis(1_300));
    let dropped_unknown = counter(
        &metrics_text(hosts.node_ns(away)),
        "meridian_edge_decisions_total{",
        "decision=\"drop_unknown_session\"",
    );
    let away_seen = EdgeSeen::read(hosts.node_ns(away)).since(away_before);
    let sent = player.sent() - before.datagrams_sent;
    eprintln!(
        "VIP moved to {} while {} owns the session: sent {sent}; {} edge {away_seen:?}, dropped as unknown {dropped_unknown}; route {:?}",
        NODE_IDS[away],
        NODE_IDS[home],
        NODE_IDS[away],
        cluster.control.route(session)
    );
    let snapshots = player.client.counters().snapshots_applied - before.snapshots_applied;
    assert!(player.client.is_connected(), "no reconnect");
    assert!(snapshots >= 40, "snapshots kept coming: {snapshots} in 3 s");
    assert_eq!(player.client.corrections().corrections, 0, "no input lost");
    assert_eq!(
        away_seen.tx_forwarded, sent as f64,
        "{}'s edge forwards the session's datagrams to its owner {} (dropped as unknown: {dropped_unknown})",
        NODE_IDS[away], NODE_IDS[home]
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The pause figure behind the VIP (`VIP_FIGURE_WALKERS=N VIP_FIGURE_S=T cargo test -p
/// meridian-tests --test vip_handoff -- --ignored --nocapture vip_pause_figure`): N players connect
/// through the VIP to the node of zone 1 and walk across the border every 3 s for T s; each
/// crossing is a cross-node handoff with the edge flipping (the router keeps delivering the VIP to
/// the node of zone 1, whose edge forwards the players on zone 2 to its owner). The pause of a
/// handoff is the longest gap between datagrams from the server in the 1.5 s after the client saw
/// its player cross (the handoff happens 4 m, ~0.6 s, past the border), against 50 ms between
/// snapshots at 20 Hz. Inputs lost or applied twice show as prediction corrections.
#[test]
#[ignore = "a figure, not a check"]
fn vip_pause_figure() {
    let walkers: u64 = std::env::var("VIP_FIGURE_WALKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let duration_s: u64 = std::env::var("VIP_FIGURE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let cluster = Cluster::start("figure");
    let (hosts, home, away) = (&cluster.hosts, cluster.home, cluster.away);
    let step_all =
        |players: &mut [Player], duration: Duration, sides: &mut [Option<bool>], crossings: &mut [Vec<Instant>]| {
            let until = Instant::now() + duration;
            while Instant::now() < until {
                for (index, player) in players.iter_mut().enumerate() {
                    player.step(true);
                    let side = player.server_x().map(|x| x > BORDER_X_M);
                    if side.is_some() && sides[index].is_some() && side != sides[index] {
                        crossings[index].push(Instant::now());
                    }
                    if side.is_some() {
                        sides[index] = side;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        };
    let mut players: Vec<Player> = (0..walkers)
        .map(|index| Player::new(hosts, SESSION + 0x100 + index))
        .collect();
    let mut sides = vec![None; players.len()];
    let mut crossings: Vec<Vec<Instant>> = vec![Vec::new(); players.len()];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !players
        .iter()
        .all(|p| p.client.is_connected() && p.client.entity().is_some())
    {
        assert!(Instant::now() < deadline, "clients never connected ({})", cluster.logs);
        step_all(&mut players, Duration::from_millis(20), &mut sides, &mut crossings);
    }
    step_all(&mut players, Duration::from_millis(500), &mut sides, &mut crossings);
    let edge_before = (EdgeSeen::read(hosts.node_ns(home)), EdgeSeen::read(hosts.node_ns(away)));
    let end = Instant::now() + Duration::from_secs(duration_s);
    let mut leg = 0;
    while Instant::now() < end {
        let east = leg % 2 == 0;
        for player in players.iter_mut() {
            player.direction = if east { [1.0, 0.0] } else { [-1.0, 0.0] };
        }
        let leg_s = if leg == 0 { 1.5 } else { 3.0 };
        step_all(&mut players, Duration::from_secs_f32(leg_s), &mut sides, &mut crossings);
        leg += 1;
    }
    for player in players.iter_mut() {
        player.direction = [0.0, 0.0];
    }
    step_all(&mut players, Duration::from_secs(2), &mut sides, &mut crossings);
    for player in players.iter_mut() {
        player.hush(Duration::from_millis(1_300));
    }
    let (home_seen, away_seen) = (
        EdgeSeen::read(hosts.node_ns(home)).since(edge_before.0),
        EdgeSeen::read(hosts.node_ns(away)).since(edge_before.1),
    );
    let mut pauses_ms = Vec::new();
    let mut gaps_ms = Vec::new();
    for (player, crossed) in players.iter().zip(&crossings) {
        for pair in player.arrivals.windows(2) {
            gaps_ms.push((pair[1] - pair[0]).as_secs_f64() * 1e3);
        }
        for &at in crossed {
            pauses_ms.push(longest_gap_ms(&player.arrivals, at, at + Duration::from_millis(1_500)));
        }
    }
    let mut pauses_ticks: Vec<u32> = players
        .iter()
        .zip(&crossings)
        .flat_map(|(player, crossed)| {
            crossed
                .iter()
                .map(|&at| largest_tick_step(&player.snapshot_ticks, at, at + Duration::from_millis(1_500)))
        })
        .collect();
    pauses_ticks.sort_unstable();
    let ticks_p = |p: f64| pauses_ticks.get(((pauses_ticks.len().max(1) - 1) as f64 * p).round() as usize);
    pauses_ms.sort_by(f64::total_cmp);
    gaps_ms.sort_by(f64::total_cmp);
    let outcome = |label: &str| -> f64 {
        (0..2)
            .map(|node| {
                counter(
                    &metrics_text(hosts.node_ns(node)),
                    "meridian_handoffs_total",
                    &format!("outcome=\"{label}\""),
                )
            })
            .sum::<f64>()
            // An empty f64 sum is -0.0.
            + 0.0
    };
    let corrections: u64 = players.iter().map(|p| p.client.corrections().corrections).sum();
    let connected = players.iter().filter(|p| p.client.is_connected()).count();
    eprintln!(
        "behind the VIP: {} crossings seen by {walkers} clients over {duration_s} s; nodes committed {}, aborted {}; \
         pause p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; in server ticks p50 {:?}, p99 {:?}, max {:?} (all datagram gaps: p50 {:.1} ms, p99 {:.1} ms); \
         corrections (inputs lost or doubled) {corrections}; clients connected {connected}/{walkers}; \
         {} edge (VIP) {home_seen:?}; {} edge {away_seen:?}",
        pauses_ms.len(),
        outcome("across_committed"),
        outcome("across_aborted"),
        percentile(&pauses_ms, 0.5),
        percentile(&pauses_ms, 0.99),
        pauses_ms.last().copied().unwrap_or(f64::NAN),
        ticks_p(0.5),
        ticks_p(0.99),
        pauses_ticks.last(),
        percentile(&gaps_ms, 0.5),
        percentile(&gaps_ms, 0.99),
        NODE_IDS[home],
        NODE_IDS[away],
    );
}

/// An aborted handoff behind the VIP: the player walks from the away node back towards the home
/// node (the VIP's), and the home node stops (SIGSTOP, as a stalled process) just before the
/// ticket leaves, for 1.5 s: the away node's tickets expire and are aborted (the player stays
/// there, the edge keeps forwarding to it), and once the home node runs again the next ticket
/// commits. The session survives and ends on the home node; no datagram is dropped as unknown at
/// either edge; and no input is lost: the client sees no prediction correction.
///
/// (Before the old host kept the datagrams it forwarded while the ticket was open and played
/// them after the abort, this lost the frozen ticks' movement: 9 corrections per aborted ticket.)
#[test]
fn an_aborted_handoff_behind_the_vip_loses_no_input() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let cluster = Cluster::start("aborted");
    let (hosts, home, away) = (&cluster.hosts, cluster.home, cluster.away);
    let session = SESSION + 2;
    let mut player = cluster.connect(session);
    player.direction = [1.0, 0.0];
    player.play(Duration::from_secs(2), |_| {});
    assert_eq!(
        cluster.control.route(session),
        Some((NODE_IDS[away].to_owned(), 2)),
        "handed to the away node first"
    );
    // West, until 2.5 m before the handoff point (border − margin = 508 m), about 0.35 s.
    player.direction = [-1.0, 0.0];
    let deadline = Instant::now() + Duration::from_secs(5);
    while player.server_x().is_none_or(|x| x > 510.5) {
        assert!(Instant::now() < deadline, "never neared the border");
        player.play(Duration::from_millis(10), |_| {});
    }
    let home_pid = Pid::from_raw(cluster._nodes[home].0.id() as i32);
    kill(home_pid, Signal::SIGSTOP).unwrap();
    player.play(Duration::from_millis(1_500), |_| {});
    kill(home_pid, Signal::SIGCONT).unwrap();
    player.play(Duration::from_secs(3), |_| {});
    player.direction = [0.0, 0.0];
    player.play(Duration::from_secs(1), |_| {});
    let outcome = |node: usize, label: &str| {
        counter(
            &metrics_text(hosts.node_ns(node)),
            "meridian_handoffs_total",
            &format!("outcome=\"{label}\""),
        ) + 0.0
    };
    let unknown = |node: usize| {
        counter(
            &metrics_text(hosts.node_ns(node)),
            "meridian_edge_decisions_total{",
            "decision=\"drop_unknown_session\"",
        ) + 0.0
    };
    let aborted = outcome(away, "across_aborted");
    let corrections = player.client.corrections().corrections;
    eprintln!(
        "aborted by {}: {aborted}; refused by {}: {}; dropped as unknown {} / {}; corrections {corrections}; route {:?}",
        NODE_IDS[away],
        NODE_IDS[home],
        outcome(home, "ticket_refused"),
        unknown(home),
        unknown(away),
        cluster.control.route(session)
    );
    assert!(aborted >= 1.0, "the stall aborted a ticket: {}", diagnosis(hosts));
    assert!(player.client.is_connected(), "no reconnect");
    assert_eq!(
        cluster.control.route(session),
        Some((NODE_IDS[home].to_owned(), 1)),
        "the next ticket committed: the player is on the home node"
    );
    assert_eq!(
        (unknown(home), unknown(away)),
        (0.0, 0.0),
        "no datagram dropped as unknown"
    );
    assert_eq!(
        corrections,
        0,
        "no input lost around the aborted handoff{}",
        diagnosis(hosts)
    );
}
