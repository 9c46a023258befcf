//! A player's whole path through the control plane, every part a real process: etcd and Postgres
//! (testkit), `meridian-control assigner`, a `meridian-node serve --control` registered through etcd,
//! `meridian-control auth` (HTTPS). The player registers, logs in, creates a character, asks to play,
//! and connects with the returned connect token to the game address the login API named — the node
//! the control plane assigned the character's zone to — where it joins the zone.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::{binary, log_file, metrics_text, start_node};
use meridian_client::{ClientConfig, ClientToken, GameClient, MoveCommand};
use meridian_control::registry::{node_key, route_key};
use meridian_control::routes::{PENDING_LEASE_TTL_S, Route, decode_route};
use meridian_testkit::{ChildGuard, Etcd, Postgres, free_tcp_port, free_udp_port};
use serde_json::{Value, json};

mod common;

const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d746573742d636c75737465722d6b65792d303030303030";

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

#[test]
fn a_player_logs_in_over_https_and_joins_the_zone_on_the_node_the_control_plane_chose() {
    let etcd = Etcd::start().expect("etcd");
    let postgres = Postgres::start().expect("postgres");
    let endpoint = etcd.endpoint();
    let _assigner = ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["assigner", "--etcd", &endpoint, "--zones", "1,2", "--duration-s", "120"])
            .stdout(Stdio::null())
            .stderr(log_file("login-to-play", "assigner"))
            .spawn()
            .unwrap(),
    );
    let game_port = free_udp_port();
    let game_addr: SocketAddr = format!("127.0.0.1:{game_port}").parse().unwrap();
    let metrics_port = free_tcp_port();
    let _node = start_node(
        &endpoint,
        "node-1",
        game_addr,
        metrics_port,
        CLUSTER_KEY_HEX,
        2,
        log_file("login-to-play", "node"),
    );
    let auth_port = free_tcp_port();
    let cert_path = std::env::temp_dir().join(format!("meridian-login-to-play-{auth_port}.pem"));
    let _auth = ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["auth", "--listen", &format!("127.0.0.1:{auth_port}")])
            .args(["--database-url", &postgres.connection_string()])
            .args([
                "--cluster-key-hex",
                CLUSTER_KEY_HEX,
                "--jwt-secret-hex",
                &"ab".repeat(32),
            ])
            .args([
                "--etcd",
                &endpoint,
                "--dev-cert-out",
                cert_path.to_str().unwrap(),
                "--duration-s",
                "120",
            ])
            .stdout(Stdio::null())
            .stderr(log_file("login-to-play", "auth"))
            .spawn()
            .unwrap(),
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (token, server) = runtime.block_on(async {
        // The dev certificate appears once the API is up.
        let deadline = Instant::now() + Duration::from_secs(60);
        let pem = loop {
            if let Ok(pem) = std::fs::read(&cert_path).map(String::from_utf8) {
                break pem.unwrap();
            }
            assert!(Instant::now() < deadline, "the login API did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
            .build()
            .unwrap();
        let base = format!("https://localhost:{auth_port}");
        let post = |path: &str, body: Value, bearer: Option<String>| {
            let mut request = client.post(format!("{base}{path}")).json(&body);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            request.send()
        };
        let credentials = json!({"name": "ayla", "password": "correct horse battery"});
        let response = post("/auth/register", credentials.clone(), None).await.unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let login: Value = post("/auth/login", credentials, None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwt = login["token"].as_str().expect("a JWT").to_owned();
        let character: Value = post("/characters", json!({"name": "Ayla"}), Some(jwt.clone()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = character["id"].as_i64().expect("a character id");
        // The zone is served once the assigner has placed it on the registered node.
        loop {
            let response = post(&format!("/characters/{id}/play"), json!({}), Some(jwt.clone()))
                .await
                .unwrap();
            if response.status() == 200 {
                let play: Value = response.json().await.unwrap();
                let token = base64::engine::general_purpose::STANDARD
                    .decode(play["connect_token"].as_str().unwrap())
                    .unwrap();
                let server: SocketAddr = play["server"].as_str().unwrap().parse().unwrap();
                break (ClientToken::from_bytes(&token).unwrap(), server);
            }
            assert_eq!(
                response.status(),
                503,
                "only 'no node serves the zone yet' may be retried"
            );
            assert!(Instant::now() < deadline, "the zone was never served");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(
        server, game_addr,
        "the login API sends the player to the node serving the zone"
    );
    let session = token.token.session_id;

    // The login wrote the session's route, fenced by the zone's token, under a short pending lease.
    let mut etcd_client = runtime
        .block_on(etcd_client::Client::connect([endpoint.as_str()], None))
        .unwrap();
    let read_route = |client: &mut etcd_client::Client| -> Option<(Route, i64, i64)> {
        let response = runtime.block_on(client.get(route_key(session), None)).unwrap();
        let kv = response.kvs().first()?;
        Some((
            decode_route(kv.key(), kv.value()).unwrap(),
            kv.lease(),
            kv.mod_revision(),
        ))
    };
    let (route, pending_lease, _) = read_route(&mut etcd_client).expect("the login wrote the route");
    assert_eq!(route.node, "node-1");
    assert_eq!(route.zone, token.token.zone_id);
    let assignment = runtime
        .block_on(etcd_client.get(meridian_control::registry::assign_key(route.zone), None))
        .unwrap();
    assert_eq!(
        route.token,
        assignment.kvs()[0].mod_revision(),
        "the route carries the zone's fencing token"
    );
    let ttl = runtime
        .block_on(etcd_client.lease_time_to_live(pending_lease, None))
        .unwrap();
    assert!(
        ttl.ttl() > 0 && ttl.ttl() <= PENDING_LEASE_TTL_S,
        "pending lease TTL {}",
        ttl.ttl()
    );
    let node_lease = runtime
        .block_on(etcd_client.get(node_key("node-1"), None))
        .unwrap()
        .kvs()[0]
        .lease();

    // Play: connect with the token to that address and join the zone.
    let mut client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.is_placed() {
        assert!(Instant::now() < deadline, "the player never joined its zone");
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = client.handle(now_us(), from, &buf[..n]);
        }
        if client.is_connected() {
            client
                .tick(MoveCommand {
                    direction: [0.0, 0.0],
                    yaw: 0.0,
                })
                .unwrap();
        }
        while let Some(transmit) = client.poll_transmit(now_us()) {
            socket.send_to(&transmit.bytes, transmit.destination).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(client.entity().is_some());

    // Connected: the node rewrote the route under its own lease (it now lives as long as the node),
    // and its route watch counts it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (route, lease, _) = read_route(&mut etcd_client).expect("route");
        if lease == node_lease && metrics_text(metrics_port).contains("meridian_routes_owned 1") {
            assert_eq!(route.node, "node-1");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never took the route over (lease {lease})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The player leaves: the node deletes the route.
    if let Some(transmit) = client.disconnect() {
        socket.send_to(&transmit.bytes, transmit.destination).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_route(&mut etcd_client).is_some() || !metrics_text(metrics_port).contains("meridian_routes_owned 0") {
        assert!(Instant::now() < deadline, "the route outlived the session");
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = metrics_text(metrics_port);
    assert!(
        metrics.contains(r#"meridian_route_writes_total{op="put",outcome="ok"} 1"#)
            && metrics.contains(r#"meridian_route_writes_total{op="delete",outcome="ok"} 1"#),
        "{metrics}"
    );
}
