//! Handoff across nodes, for real: etcd (testkit), the assigner (in-process, the library the
//! `meridian-control assigner` binary runs), two `meridian-node serve --control --link-listen`
//! processes on loopback, one seamless world of zones 1 | 2 whose zones the assigner spreads over
//! the two nodes. SDK clients connect to the node of zone 1 and walk back and forth across the
//! border: each crossing is a ticket over the node link, committed by etcd's compare-and-swap on
//! the session's route, and (no edge here) the client keeps talking to the node it connected to,
//! which forwards its datagrams and relays the replies.
//!
//! Checked: no reconnect (same session), one stable entity id, no prediction correction (an input
//! lost or applied twice would cause one), and etcd's route of each session names the node and
//! zone where its player ends.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Walker;
use etcd_client::Client;
use meridian_client::GameEvent;
use meridian_control::assigner::{AssignerConfig, AssignerService};
use meridian_control::registry::Placement;
use meridian_control::routes::get_route;
use meridian_economy::{Economy, Fence, ShardMap, workload::seed};
use meridian_testkit::{ChildGuard, Etcd, Postgres, Redis, free_tcp_port, free_udp_port};

const CLUSTER_KEY: [u8; 32] = [0x5c; 32];
const WALKERS: u64 = 3;
/// Where the world's zones meet (zone side 512 m): players spawn on it.
const BORDER_X_M: f32 = 512.0;

/// A node's metrics text (empty if it does not answer).
fn metrics_text(port: u16) -> String {
    use std::io::{Read, Write};
    let mut body = String::new();
    if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .is_ok()
        {
            let _ = stream.read_to_string(&mut body);
        }
    }
    body
}

/// The sum of a counter's samples whose labels contain `label`.
fn counter(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A node of these tests, its log in `<temp>/meridian-handoff-nodes-<failpoint>-<id>.log`; with
/// `failpoint`, armed to abort at that handoff step.
fn start_node(
    etcd: &str,
    node_id: &str,
    listen: SocketAddr,
    metrics_port: u16,
    failpoint: Option<&str>,
    redis: Option<&str>,
    economy: Option<&str>,
) -> ChildGuard {
    let log = std::fs::File::create(std::env::temp_dir().join(format!(
        "meridian-handoff-nodes-{}-{node_id}.log",
        failpoint.unwrap_or("none").replace(':', "-")
    )))
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_meridian-node"));
    if let Some(step) = failpoint {
        command.env("MERIDIAN_HANDOFF_FAILPOINT", step);
        command.env("MERIDIAN_HANDOFF_FAILPOINT_MARK", stall_mark(node_id));
    }
    command.args([
        "serve",
        "--listen",
        &listen.to_string(),
        "--io",
        "mmsg",
        "--workers",
        "1",
    ]);
    if let Some(redis) = redis {
        // Session records (and zone state) saved every 500 ms: what a resume loses at most.
        command.args(["--redis", redis, "--zone-state-interval-ms", "500"]);
    }
    if let Some(economy) = economy {
        // Characters, inventories and checkpoints in Postgres (one shard).
        command.args(["--economy-shards", economy, "--checkpoint-interval-s", "1"]);
    }
    ChildGuard(
        command
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--cluster-key-hex", &"5c".repeat(32)])
            .args(["--control", etcd, "--node-id", node_id, "--lease-ttl-s", "3"])
            .args(["--duration-s", "900", "--zones", "1,2", "--world-columns", "2"])
            .args(["--zone-size-m", "512", "--spawn-radius-m", "0"])
            .args(["--link-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info,meridian_node=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start meridian-node"),
    )
}

/// The file a node's `<step>:stall` failpoint creates when it stalls.
fn stall_mark(node_id: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("meridian-failpoint-{}-{node_id}", std::process::id()))
}

fn run_for(walkers: &mut [Walker], duration: Duration) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        for walker in walkers.iter_mut() {
            walker.step();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The placement of both zones, once the assigner has put them on two different nodes.
fn placements(runtime: &tokio::runtime::Runtime, client: &Client) -> Option<(Placement, Placement)> {
    placements_any(runtime, client).filter(|(one, two)| one.node != two.node)
}

/// etcd, the in-process assigner of zones 1 and 2 (the library `meridian-control assigner` runs)
/// and a runtime for this test's own etcd calls. Fields drop in order: the assigner first.
struct Control {
    _assigner: AssignerService,
    client: Client,
    runtime: tokio::runtime::Runtime,
    endpoint: String,
    _etcd: Etcd,
}

impl Control {
    fn start(assigner_id: &str) -> Control {
        let etcd = Etcd::start().expect("etcd");
        let endpoint = etcd.endpoint();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(Client::connect([endpoint.clone()], None))
            .expect("connect etcd");
        let assigner = runtime
            .block_on(async { AssignerService::spawn(client.clone(), AssignerConfig::new(assigner_id, vec![1, 2])) });
        Control {
            _assigner: assigner,
            client,
            runtime,
            endpoint,
            _etcd: etcd,
        }
    }

    /// Zones 1 and 2 once the assigner has spread them over both nodes, read again after 2 s (the
    /// assigner may still have been moving a zone at the first read; the nodes learn each other's
    /// link address and the assignments meanwhile).
    fn spread_zones(&self) -> (Placement, Placement) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let first = loop {
            if let Some(placed) = placements(&self.runtime, &self.client) {
                break placed;
            }
            assert!(Instant::now() < deadline, "the zones never spread over both nodes");
            std::thread::sleep(Duration::from_millis(200));
        };
        std::thread::sleep(Duration::from_secs(2));
        placements(&self.runtime, &self.client).unwrap_or(first)
    }
}

#[test]
fn players_walk_between_zones_on_two_nodes_without_reconnecting_or_losing_an_input() {
    let control = Control::start("test-assigner");
    let (endpoint, runtime, client) = (&control.endpoint, &control.runtime, &control.client);
    let listen_a: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let listen_b: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let (metrics_a, metrics_b) = (free_tcp_port(), free_tcp_port());
    let _node_a = start_node(endpoint, "node-a", listen_a, metrics_a, None, None, None);
    let _node_b = start_node(endpoint, "node-b", listen_b, metrics_b, None, None, None);
    let (zone1, zone2) = control.spread_zones();
    let address_of = |node: &str| if node == "node-a" { listen_a } else { listen_b };
    let metrics_of = |node: &str| if node == "node-a" { metrics_a } else { metrics_b };
    let route_of = |session: u64| {
        let mut etcd_client = client.clone();
        runtime
            .block_on(get_route(&mut etcd_client, session))
            .unwrap()
            .map(|(route, _)| (route.node, route.zone))
    };
    let mut routes_checked = 0;
    let server = address_of(&zone1.node);
    eprintln!("zone 1 on {}, zone 2 on {}", zone1.node, zone2.node);

    let mut walkers: Vec<Walker> = (0..WALKERS)
        .map(|index| Walker::new(&CLUSTER_KEY, server, 0x7000 + index, 1, 11 + index))
        .collect();
    let connect_deadline = Instant::now() + Duration::from_secs(10);
    while !walkers
        .iter()
        .all(|w| w.client.is_connected() && w.client.entity().is_some())
    {
        assert!(Instant::now() < connect_deadline, "clients never connected");
        run_for(&mut walkers, Duration::from_millis(20));
    }
    run_for(&mut walkers, Duration::from_millis(500));
    let entities: Vec<Option<u32>> = walkers.iter().map(|w| w.client.entity()).collect();

    // Back and forth across the border (7 m/s, 4 m handoff margin): 2 s east, then 4 s legs.
    let mut crossings = vec![0u32; walkers.len()];
    let mut sides: Vec<Option<bool>> = walkers.iter().map(|w| w.server_x().map(|x| x > BORDER_X_M)).collect();
    let legs = 5;
    for leg in 0..=legs {
        let east = leg % 2 == 0;
        for walker in walkers.iter_mut() {
            walker.direction = if east { [1.0, 0.0] } else { [-1.0, 0.0] };
        }
        let leg_s = if leg == 0 { 2.0 } else { 4.0 };
        let leg_end = Instant::now() + Duration::from_secs_f32(leg_s);
        while Instant::now() < leg_end {
            run_for(&mut walkers, Duration::from_millis(50));
            for (index, walker) in walkers.iter().enumerate() {
                let side = walker.server_x().map(|x| x > BORDER_X_M);
                if side.is_some() && side != sides[index] {
                    crossings[index] += 1;
                    sides[index] = side;
                }
            }
        }
        // Past the margin on the leg's side: etcd's route names the node and zone there.
        let (zone, placement) = if east { (2, &zone2) } else { (1, &zone1) };
        for walker in &walkers {
            if leg > 0 {
                assert_eq!(
                    route_of(walker.session_id),
                    Some((placement.node.clone(), zone)),
                    "session {:#x} after leg {leg} at x = {:?}: etcd's route follows the player",
                    walker.session_id,
                    walker.server_x()
                );
                routes_checked += 1;
            }
        }
    }
    // Stand still and let the last handoff settle.
    for walker in walkers.iter_mut() {
        walker.direction = [0.0, 0.0];
    }
    run_for(&mut walkers, Duration::from_secs(2));
    let committed = |node: &str| {
        counter(
            &metrics_text(metrics_of(node)),
            "meridian_handoffs_total",
            "outcome=\"across_committed\"",
        )
    };
    let (from_a, from_b) = (committed(&zone1.node), committed(&zone2.node));
    eprintln!(
        "crossings seen by the clients: {crossings:?}; routes checked {routes_checked}; committed across by the old node: {} {from_a}, {} {from_b}",
        zone1.node, zone2.node
    );
    assert!(
        from_a >= (WALKERS * 3) as f64 && from_b >= (WALKERS * 2) as f64,
        "every crossing is a committed handoff between the nodes"
    );

    for (index, walker) in walkers.iter().enumerate() {
        assert!(
            walker.client.is_connected(),
            "walker {index}: no reconnect, the same session"
        );
        assert_eq!(
            walker.client.entity(),
            entities[index],
            "walker {index}: one stable entity id"
        );
        assert_eq!(
            walker.client.corrections().corrections,
            0,
            "walker {index}: an input lost or applied twice"
        );
        assert!(
            crossings[index] >= 4,
            "walker {index} crossed only {} times",
            crossings[index]
        );
        // etcd's route names where the player is.
        let x = walker.server_x().expect("a position");
        let (zone, placement) = if x > BORDER_X_M { (2, &zone2) } else { (1, &zone1) };
        let mut etcd_client = client.clone();
        let (route, _) = runtime
            .block_on(get_route(&mut etcd_client, walker.session_id))
            .unwrap()
            .expect("a route");
        assert_eq!(
            (route.node.as_str(), route.zone),
            (placement.node.as_str(), zone),
            "walker {index} at x = {x}: etcd's route follows the player"
        );
    }

    // Ghosts across nodes: walker 0 stays in zone 1 by the border while the others walk into zone
    // 2 on the other node; each side sees the other under the ids they had all along, placed where
    // they are (the ghosts come over the node link every tick).
    for walker in walkers[1..].iter_mut() {
        walker.direction = [1.0, 0.0];
    }
    let ids: Vec<u32> = entities.iter().map(|id| id.expect("an entity")).collect();
    let seen_across = |walkers: &[Walker]| {
        let observer = walkers[0].server_x().is_some_and(|x| x < BORDER_X_M);
        let across = walkers[1..]
            .iter()
            .all(|walker| walker.server_x().is_some_and(|x| x > BORDER_X_M + 8.0));
        let ghosts_east = ids[1..].iter().all(|id| {
            walkers[0]
                .client
                .server_world()
                .get(id)
                .is_some_and(|ghost| ghost.position[0] > BORDER_X_M + 8.0)
        });
        let ghost_west = walkers[1..].iter().all(|walker| {
            walker
                .client
                .server_world()
                .get(&ids[0])
                .is_some_and(|ghost| ghost.position[0] < BORDER_X_M)
        });
        observer && across && ghosts_east && ghost_west
    };
    let ghost_deadline = Instant::now() + Duration::from_secs(6);
    let mut seen = false;
    while !seen && Instant::now() < ghost_deadline {
        run_for(&mut walkers, Duration::from_millis(50));
        seen = seen_across(&walkers);
        if walkers[1].server_x().is_some_and(|x| x > BORDER_X_M + 20.0) {
            for walker in walkers[1..].iter_mut() {
                walker.direction = [0.0, 0.0];
            }
        }
    }
    assert!(
        seen,
        "across the nodes' border each side sees the other: observer at {:?} sees {:?}",
        walkers[0].server_x(),
        ids[1..]
            .iter()
            .map(|id| walkers[0].client.server_world().get(id).map(|ghost| ghost.position[0]))
            .collect::<Vec<_>>()
    );
    let ghost_batches = counter(
        &metrics_text(metrics_of(&zone1.node)),
        "meridian_cross_node_messages_total",
        "direction=\"in\"",
    );
    assert!(ghost_batches > 0.0, "the node link carried messages in");
}

/// Players in each zone on a node, from its metrics.
fn zone_players(metrics_port: u16) -> (f64, f64) {
    let text = metrics_text(metrics_port);
    (
        counter(&text, "meridian_zone_players{", "zone=\"1\""),
        counter(&text, "meridian_zone_players{", "zone=\"2\""),
    )
}

/// The chaos player's character (a dev token's character is its session id) and its items.
const CHAOS_CHARACTER: i64 = 5;
const CHAOS_ITEMS: usize = 3;

/// One Postgres shard for every chaos run, characters 1..=5 seeded with 3 items each.
struct Inventories {
    _postgres: Postgres,
    url: String,
    runtime: tokio::runtime::Runtime,
    economy: Economy,
}

impl Inventories {
    fn seeded() -> Self {
        let postgres = Postgres::start().expect("postgres");
        let url = postgres.connection_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let economy = runtime
            .block_on(Economy::connect(ShardMap::new(1, vec![url.clone()]), 2))
            .expect("economy");
        runtime
            .block_on(seed(
                &economy,
                CHAOS_CHARACTER,
                CHAOS_ITEMS,
                100,
                Fence { zone_id: 1, token: 0 },
            ))
            .expect("seed");
        Inventories {
            _postgres: postgres,
            url,
            runtime,
            economy,
        }
    }

    /// A character's items as (id, type), in id order.
    fn of(&self, character: i64) -> Vec<(String, i32)> {
        let mut items: Vec<(String, i32)> = self
            .runtime
            .block_on(self.economy.inventory(character))
            .expect("inventory")
            .into_iter()
            .map(|item| (item.item_id.to_string(), item.item_type))
            .collect();
        items.sort();
        items
    }
}

/// What one chaos run found.
struct ChaosOutcome {
    line: String,
    /// Metres the player's server position went back (movement the crash lost).
    lost_m: f32,
}

/// One chaos run: both nodes armed with `step` (each step happens on one side only: `frozen`,
/// `ticket_sent`, `route_flipped` on the old node, `committed`, `resumed` on the new one), with
/// Redis for the session records; one player walks from zone 1 into zone 2; the armed node aborts
/// there (as `kill -9`) — or, with `kill_other`, stalls there while the test kills the *other*
/// node with SIGKILL; the dead node's zone fails over to the survivor. The player must end in exactly one
/// zone on the survivor, in the same session (kept, or resumed from its record: no new handshake),
/// with the same entity id, and etcd's route must name where it is.
fn chaos_run(step: &str, kill_other: bool, inventories: &Inventories) -> ChaosOutcome {
    let control = Control::start("chaos-assigner");
    let redis = Redis::start().expect("redis");
    let (endpoint, runtime, client) = (&control.endpoint, &control.runtime, &control.client);
    let listen = [
        format!("127.0.0.1:{}", free_udp_port()).parse::<SocketAddr>().unwrap(),
        format!("127.0.0.1:{}", free_udp_port()).parse::<SocketAddr>().unwrap(),
    ];
    let metrics = [free_tcp_port(), free_tcp_port()];
    let ids = ["node-a", "node-b"];
    let redis_url = redis.url();
    let armed = if kill_other {
        format!("{step}:stall")
    } else {
        step.to_owned()
    };
    for id in ids {
        let _ = std::fs::remove_file(stall_mark(id));
    }
    let mut nodes: Vec<ChildGuard> = (0..2)
        .map(|i| {
            start_node(
                endpoint,
                ids[i],
                listen[i],
                metrics[i],
                Some(&armed),
                Some(&redis_url),
                Some(&inventories.url),
            )
        })
        .collect();
    let (zone1, zone2) = control.spread_zones();
    let index_of = |node: &str| ids.iter().position(|id| *id == node).unwrap();
    let (old, new) = (index_of(&zone1.node), index_of(&zone2.node));
    // A dev token's character is its session id: a character seeded with items in Postgres.
    let session_id = CHAOS_CHARACTER as u64;
    let inventory_before = inventories.of(CHAOS_CHARACTER);
    assert_eq!(inventory_before.len(), CHAOS_ITEMS, "the seeded inventory");
    let mut walkers = vec![Walker::new(&CLUSTER_KEY, listen[old], session_id, 1, 99)];
    let connect_deadline = Instant::now() + Duration::from_secs(10);
    while !(walkers[0].client.is_connected() && walkers[0].client.entity().is_some()) {
        assert!(Instant::now() < connect_deadline, "client never connected");
        run_for(&mut walkers, Duration::from_millis(20));
    }
    // Stand a second so the record has been written and refreshed once.
    run_for(&mut walkers, Duration::from_secs(1));
    let entity = walkers[0].client.entity();
    // East across the border until a node dies (the crossing is 4 m past it, ~0.6 s at 7 m/s).
    walkers[0].direction = [1.0, 0.0];
    let exited = |nodes: &mut Vec<ChildGuard>| -> Vec<usize> {
        (0..2)
            .filter(|&i| matches!(nodes[i].0.try_wait(), Ok(Some(_))))
            .collect()
    };
    let walk_deadline = Instant::now() + Duration::from_secs(4);
    let mut killed = Vec::new();
    while killed.is_empty() && Instant::now() < walk_deadline {
        run_for(&mut walkers, Duration::from_millis(10));
        if kill_other {
            // The node that reached the step stalls there; the other one dies now.
            if let Some(stalled) = (0..2).find(|&i| stall_mark(ids[i]).exists()) {
                nodes[1 - stalled].0.kill().expect("SIGKILL");
                let _ = nodes[1 - stalled].0.wait();
            }
        }
        killed = exited(&mut nodes);
    }
    // The last position the client heard of before the crash.
    let seen_at_kill = walkers[0].server_x();
    walkers[0].direction = [0.0, 0.0];
    assert_eq!(killed.len(), 1, "step {step}: exactly one node hits the failpoint");
    let (killed, survivor) = (killed[0], 1 - killed[0]);
    let step_side = if matches!(step, "committed" | "resumed") {
        new
    } else {
        old
    };
    assert_eq!(
        killed,
        if kill_other { 1 - step_side } else { step_side },
        "step {step} happens on the expected side"
    );
    // The client talks to the node it connected to; if that one died, the shared address now
    // leads to the survivor (what anycast does by itself; told here, as the SDK allows).
    if killed == old {
        walkers[0].client.set_server_addr(listen[survivor]);
    }
    // The dead node's zone fails over to the survivor (lease TTL + the assigner's reaction).
    let failover_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        run_for(&mut walkers, Duration::from_millis(200));
        if let Some((one, two)) = placements_any(runtime, client)
            && one.node == ids[survivor]
            && two.node == ids[survivor]
        {
            break;
        }
        assert!(Instant::now() < failover_deadline, "step {step}: no failover");
    }
    // Served again: snapshots arrive and the survivor counts the player in one zone.
    let served_deadline = Instant::now() + Duration::from_secs(10);
    let players = loop {
        let before = walkers[0].arrivals.len();
        run_for(&mut walkers, Duration::from_millis(500));
        let players = zone_players(metrics[survivor]);
        if walkers[0].arrivals.len() > before + 5 && walkers[0].client.is_placed() && players.0 + players.1 == 1.0 {
            break players;
        }
        assert!(
            Instant::now() < served_deadline,
            "step {step}: the player is not served again on {} (zones 1, 2: {players:?}; lifecycle {:?})",
            ids[survivor],
            walkers[0].lifecycle
        );
    };
    // Stays so: never a second copy, never gone.
    run_for(&mut walkers, Duration::from_secs(1));
    let players_after = zone_players(metrics[survivor]);
    assert_eq!(players_after, players, "step {step}: the player stays in one zone");
    let zone = if players.0 == 1.0 { 1 } else { 2 };
    let walker = &walkers[0];
    assert!(walker.client.is_connected(), "step {step}: the session lives");
    assert_eq!(
        walker
            .lifecycle
            .iter()
            .filter(|event| **event == GameEvent::Connected)
            .count(),
        1,
        "step {step}: one handshake only (no reconnect, no new login): {:?}",
        walker.lifecycle
    );
    assert!(
        !walker
            .lifecycle
            .iter()
            .any(|event| matches!(event, GameEvent::Disconnected(_))),
        "step {step}: the session never ended"
    );
    assert_eq!(walker.client.entity(), entity, "step {step}: the same entity id");
    let resumed = walker.lifecycle.contains(&GameEvent::Resumed);
    // etcd's route names the survivor and the zone the player is in.
    let route_deadline = Instant::now() + Duration::from_secs(3);
    let route = loop {
        let mut etcd_client = client.clone();
        let route = runtime
            .block_on(get_route(&mut etcd_client, session_id))
            .unwrap()
            .map(|(route, _)| (route.node, route.zone));
        if route == Some((ids[survivor].to_owned(), zone)) || Instant::now() > route_deadline {
            break route;
        }
        run_for(&mut walkers, Duration::from_millis(100));
    };
    assert_eq!(
        route,
        Some((ids[survivor].to_owned(), zone)),
        "step {step}: etcd's route follows the player"
    );
    let ticket: Option<String> = runtime.block_on(async {
        let mut etcd_client = client.clone();
        let response = etcd_client
            .get("/meridian/handoff/", Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .unwrap();
        assert!(response.kvs().len() <= 1, "step {step}: one ticket at most");
        response.kvs().first().map(|kv| {
            let ticket: serde_json::Value = serde_json::from_slice(kv.value()).unwrap();
            ticket["state"].as_str().unwrap_or("?").to_owned()
        })
    });
    // Inventory intact: the database holds exactly what it held before (no item lost or doubled by
    // the crash, the handoff or the resume).
    assert_eq!(
        inventories.of(CHAOS_CHARACTER),
        inventory_before,
        "step {step}: the inventory is intact"
    );
    let now_x = walkers[0].server_x().expect("a position");
    let lost_m = seen_at_kill.map_or(0.0, |x| (x - now_x).max(0.0));
    for node in &mut nodes {
        let _ = node.0.kill();
    }
    ChaosOutcome {
        line: format!(
            "step {step:13} {} {} ({}): etcd ticket {ticket:?}; player in zone {zone} on {} ({}), x {:.1} → {now_x:.1}: lost {lost_m:.1} m",
            if kill_other { "other killed:" } else { "killed:" },
            ids[killed],
            if killed == old { "old" } else { "new" },
            ids[survivor],
            if resumed {
                "resumed from its record"
            } else {
                "kept live"
            },
            seen_at_kill.unwrap_or(f32::NAN),
        ),
        lost_m,
    }
}

/// Both zones' placements, wherever they are.
fn placements_any(runtime: &tokio::runtime::Runtime, client: &Client) -> Option<(Placement, Placement)> {
    let client = client.clone();
    runtime.block_on(async move {
        let get = |zone: u32| {
            let mut client = client.clone();
            async move {
                let response = client.get(format!("/meridian/assign/{zone}"), None).await.ok()?;
                let kv = response.kvs().first()?;
                serde_json::from_slice::<Placement>(kv.value()).ok()
            }
        };
        Some((get(1).await?, get(2).await?))
    })
}

/// Chaos: at each step of a cross-node handoff, the node where the step happens dies (`abort`, as
/// `kill -9`), and then — the step's node stalled there — the other node is killed with SIGKILL.
/// At every step the player ends in exactly one zone on the survivor, in its session, with its
/// entity id; etcd's route names where. Printed per step: kept live or resumed from its
/// session record, and how much movement the crash lost (bounded by the record's save interval and
/// the failover's silence: asserted under 8 m, a 7 m/s walker's second plus the interval).
#[test]
fn a_node_killed_at_each_handoff_step_leaves_the_player_in_exactly_one_zone() {
    let inventories = Inventories::seeded();
    let mut outcomes = Vec::new();
    for kill_other in [false, true] {
        for step in ["frozen", "ticket_sent", "committed", "route_flipped", "resumed"] {
            outcomes.push(chaos_run(step, kill_other, &inventories));
        }
    }
    for outcome in &outcomes {
        eprintln!("{}", outcome.line);
    }
    for outcome in &outcomes {
        assert!(outcome.lost_m < 8.0, "{}", outcome.line);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The cross-node pause figure (`cargo test -p meridian-node --test handoff_nodes_e2e -- --ignored
/// --nocapture pause_figure`; `HANDOFF_FIGURE_WALKERS` and `HANDOFF_FIGURE_S` size it): walkers
/// cross the border between the two nodes every 4 s; the pause of a handoff is the longest gap
/// between two snapshots applied in the 1.5 s after the client saw its player cross the
/// border, in milliseconds and in server ticks (1 = no snapshot missed) (the handoff happens 4 m, ~0.6 s, past it), against 50 ms between snapshots at 20 Hz.
/// Inputs lost or applied twice show as prediction corrections.
#[test]
#[ignore = "a figure, not a check"]
fn pause_figure() {
    let walkers_n: u64 = std::env::var("HANDOFF_FIGURE_WALKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let duration_s: u64 = std::env::var("HANDOFF_FIGURE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let control = Control::start("figure-assigner");
    let endpoint = &control.endpoint;
    let listen_a: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let listen_b: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let (metrics_a, metrics_b) = (free_tcp_port(), free_tcp_port());
    let _node_a = start_node(endpoint, "node-a", listen_a, metrics_a, None, None, None);
    let _node_b = start_node(endpoint, "node-b", listen_b, metrics_b, None, None, None);
    let (zone1, _zone2) = control.spread_zones();
    let server = if zone1.node == "node-a" { listen_a } else { listen_b };
    let mut walkers: Vec<Walker> = (0..walkers_n)
        .map(|index| Walker::new(&CLUSTER_KEY, server, 0xA000 + index, 1, 31 + index))
        .collect();
    let connect_deadline = Instant::now() + Duration::from_secs(20);
    while !walkers
        .iter()
        .all(|w| w.client.is_connected() && w.client.entity().is_some())
    {
        assert!(Instant::now() < connect_deadline, "clients never connected");
        run_for(&mut walkers, Duration::from_millis(20));
    }
    run_for(&mut walkers, Duration::from_millis(500));
    let mut crossings: Vec<Vec<Instant>> = vec![Vec::new(); walkers.len()];
    let mut sides: Vec<Option<bool>> = walkers.iter().map(|w| w.server_x().map(|x| x > BORDER_X_M)).collect();
    let end = Instant::now() + Duration::from_secs(duration_s);
    let mut leg = 0;
    while Instant::now() < end {
        let east = leg % 2 == 0;
        for walker in walkers.iter_mut() {
            walker.direction = if east { [1.0, 0.0] } else { [-1.0, 0.0] };
        }
        let leg_end = Instant::now() + Duration::from_secs_f32(if leg == 0 { 2.0 } else { 4.0 });
        while Instant::now() < leg_end {
            run_for(&mut walkers, Duration::from_millis(10));
            for (index, walker) in walkers.iter().enumerate() {
                let side = walker.server_x().map(|x| x > BORDER_X_M);
                if side.is_some() && side != sides[index] {
                    crossings[index].push(Instant::now());
                    sides[index] = side;
                }
            }
        }
        leg += 1;
    }
    for walker in walkers.iter_mut() {
        walker.direction = [0.0, 0.0];
    }
    run_for(&mut walkers, Duration::from_secs(2));
    let mut pauses_ms = Vec::new();
    let mut pauses_ticks = Vec::new();
    let mut gaps_ms = Vec::new();
    for (walker, crossed) in walkers.iter().zip(&crossings) {
        for pair in walker.snapshot_ticks.windows(2) {
            gaps_ms.push((pair[1].0 - pair[0].0).as_secs_f64() * 1e3);
        }
        for &at in crossed {
            let window_end = at + Duration::from_millis(1_500);
            let around = || {
                walker
                    .snapshot_ticks
                    .windows(2)
                    .filter(move |pair| pair[1].0 >= at && pair[0].0 <= window_end)
            };
            let pause = around()
                .map(|pair| (pair[1].0 - pair[0].0).as_secs_f64() * 1e3)
                .fold(0.0, f64::max);
            pauses_ticks.push(around().map(|pair| pair[1].1 - pair[0].1).max().unwrap_or(0));
            pauses_ms.push(pause);
        }
    }
    pauses_ms.sort_by(f64::total_cmp);
    pauses_ticks.sort_unstable();
    gaps_ms.sort_by(f64::total_cmp);
    let ticks_p = |p: f64| {
        pauses_ticks
            .get(((pauses_ticks.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
    };
    let corrections: u64 = walkers.iter().map(|w| w.client.corrections().corrections).sum();
    let connected = walkers.iter().filter(|w| w.client.is_connected()).count();
    let committed = counter(
        &metrics_text(metrics_a),
        "meridian_handoffs_total",
        "outcome=\"across_committed\"",
    ) + counter(
        &metrics_text(metrics_b),
        "meridian_handoffs_total",
        "outcome=\"across_committed\"",
    );
    let aborted = counter(
        &metrics_text(metrics_a),
        "meridian_handoffs_total",
        "outcome=\"across_aborted\"",
    ) + counter(
        &metrics_text(metrics_b),
        "meridian_handoffs_total",
        "outcome=\"across_aborted\"",
    ) + 0.0;
    let server_pauses: Vec<f64> = ["1", "2", "3", "4+"]
        .iter()
        .map(|ticks| {
            let label = format!("ticks=\"{ticks}\"");
            counter(&metrics_text(metrics_a), "meridian_handoff_pause_ticks_total", &label)
                + counter(&metrics_text(metrics_b), "meridian_handoff_pause_ticks_total", &label)
        })
        .collect();
    eprintln!("the nodes' own count of admitted handoffs by pause in ticks (1, 2, 3, 4+): {server_pauses:?}");
    eprintln!(
        "cross-node handoffs: {} crossings seen by {walkers_n} clients over {duration_s} s; nodes committed {committed}, aborted {aborted}; \
         pause p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; in server ticks p50 {:?}, p99 {:?}, max {:?} \
         (all snapshot gaps: p50 {:.1} ms, p99 {:.1} ms); \
         corrections (inputs lost or doubled) {corrections}; clients connected {connected}/{walkers_n}",
        pauses_ms.len(),
        percentile(&pauses_ms, 0.5),
        percentile(&pauses_ms, 0.99),
        pauses_ms.last().copied().unwrap_or(f64::NAN),
        ticks_p(0.5),
        ticks_p(0.99),
        pauses_ticks.last(),
        percentile(&gaps_ms, 0.5),
        percentile(&gaps_ms, 0.99),
    );
}
