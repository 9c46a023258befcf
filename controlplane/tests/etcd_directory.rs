//! The game directory (zone → game address, what the login API tells a player) follows etcd: it
//! sees a node's zones once the node is registered and the zone assigned, and forgets them when the
//! node's lease ends or the zone moves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use etcd_client::Client;
use meridian_control::registry::{GameDirectory, NodeAgent, NodeConfig, NodeRecord, Placement, assign_key, encode};
use meridian_testkit::Etcd;

fn record(id: &str, game_addr: &str) -> NodeConfig {
    NodeConfig::new(NodeRecord {
        id: id.to_owned(),
        game_addr: game_addr.to_owned(),
        workers: 1,
        capacity_players: 100,
        build: "test".to_owned(),
        websocket: None,
        metrics_addr: None,
        link_addr: None,
        underlay_addr: None,
    })
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn the_directory_follows_assignments_and_node_leases() {
    let etcd = Etcd::start().expect("etcd");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = Client::connect([etcd.endpoint()], None).await.unwrap();
        let a: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:7002".parse().unwrap();
        let agent_a = NodeAgent::register(client.clone(), record("a", "127.0.0.1:7001"))
            .await
            .unwrap();
        let _agent_b = NodeAgent::register(client.clone(), record("b", "127.0.0.1:7002"))
            .await
            .unwrap();
        // Zone 1 was assigned before the directory started: the first read finds it.
        let placement = |node: &str| {
            encode(&Placement {
                node: node.into(),
                worker: 0,
            })
        };
        client.put(assign_key(1), placement("a"), None).await.unwrap();
        let (directory, _watches) = GameDirectory::start(client.clone()).await.unwrap();
        assert_eq!(directory.game_address(1), Some(a));
        assert_eq!(directory.game_address(2), None, "zone 2 is served by nobody");
        // Later changes arrive through the watches.
        client.put(assign_key(2), placement("b"), None).await.unwrap();
        eventually("zone 2 on b", || directory.game_address(2) == Some(b)).await;
        client.put(assign_key(1), placement("b"), None).await.unwrap();
        eventually("zone 1 moved to b", || directory.game_address(1) == Some(b)).await;
        client.put(assign_key(3), placement("a"), None).await.unwrap();
        eventually("zone 3 on a", || directory.game_address(3) == Some(a)).await;
        // Node a leaves (its lease is revoked): its zone has no address until it is reassigned.
        agent_a.leave().await.unwrap();
        eventually("a's zone without a server", || directory.game_address(3).is_none()).await;
        assert_eq!(directory.zones().into_iter().collect::<Vec<_>>(), vec![(1, b), (2, b)]);
    });
}
