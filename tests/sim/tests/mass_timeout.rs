//! No lost lifecycle events: when every session of a full host goes silent at the same instant, all
//! of them time out in one protocol timer pass, and every one leaves its zone. (With the endpoint's
//! old event bound of 4,096 below its 8,192-session cap, half of them stayed in the zone forever.)

use meridian_client::MoveCommand;
use meridian_proto::endpoint::{CONNECTION_TIMEOUT_US, SERVER_CONNECTIONS_MAX};
use meridian_sim::{Link, Sim, SimConfig};
use meridian_zone::ZoneConfig;

/// Clients added per round of connecting (the endpoint holds 1,024 pending handshakes).
const CONNECT_BATCH: usize = 512;

#[test]
fn eight_thousand_sessions_time_out_at_once_and_every_one_leaves_its_zone() {
    // A cheap zone: 2 Hz, a world wide enough that few players see each other, tiny snapshots.
    let zone = ZoneConfig {
        tick_hz: 2,
        world_size_m: [4096.0, 4096.0],
        visible_entities_max: 4,
        ..ZoneConfig::default()
    };
    let config = SimConfig {
        zone,
        zone_ids: vec![1, 2],
        connections_max: SERVER_CONNECTIONS_MAX,
        spawn: Some(std::sync::Arc::new(|character_id: u64| {
            let i = character_id as f32;
            Some([(i * 37.0) % 4000.0 + 20.0, (i * 91.0) % 4000.0 + 20.0, 0.0])
        })),
        ..SimConfig::default()
    };
    let mut sim = Sim::new(3, config);
    let still = MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    };
    let link = Link {
        one_way_us: 5_000,
        ..Link::default()
    };
    while sim.clients.len() < SERVER_CONNECTIONS_MAX {
        let batch = CONNECT_BATCH.min(SERVER_CONNECTIONS_MAX - sim.clients.len());
        for _ in 0..batch {
            let zone_id = 1 + (sim.clients.len() % 2) as u32;
            sim.add_client(zone_id, link, still);
        }
        assert!(
            sim.run_until(20_000, |sim| sim.clients.iter().all(|c| c.client.is_connected())),
            "connect round"
        );
    }
    // Everyone joined a zone (some layers opened past the per-layer limit).
    assert!(
        sim.run_until(20_000, |sim| sim.clients.iter().all(|c| c.client.is_placed())),
        "not all placed"
    );
    let players = |sim: &Sim| -> usize {
        sim.host
            .zones()
            .map(|(_, layers)| layers.layers().iter().map(|l| l.player_count()).sum::<usize>())
            .sum()
    };
    assert_eq!(players(&sim), SERVER_CONNECTIONS_MAX);
    assert_eq!(sim.host.session_count(), SERVER_CONNECTIONS_MAX);
    let closed_before = sim.host.counters().sessions_closed;
    // Everyone goes away at the same instant, without a word.
    for client in &mut sim.clients {
        client.driven = false;
    }
    sim.run_ms(CONNECTION_TIMEOUT_US / 1_000 + 2_000);
    assert_eq!(sim.host.session_count(), 0, "sessions left behind");
    assert_eq!(
        sim.host.counters().sessions_closed - closed_before,
        SERVER_CONNECTIONS_MAX as u64
    );
    assert_eq!(players(&sim), 0, "players left behind in their zones");
}
