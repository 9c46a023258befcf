//! Zones come and go at the control plane's word: a host starts serving a zone under a fencing token,
//! and when the zone is taken away its sessions are told why (`ZoneMoved`) at once and nothing of it
//! keeps ticking; the other zones do not notice.

use meridian_client::{ClientDisconnect, DisconnectReason, GameEvent, MoveCommand};
use meridian_sim::{Link, Sim, SimConfig};

fn still() -> MoveCommand {
    MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    }
}

fn disconnect_reason(sim: &mut Sim, index: usize) -> Option<ClientDisconnect> {
    let mut reason = None;
    while let Some(event) = sim.clients[index].client.poll_event() {
        if let GameEvent::Disconnected(why) = event {
            reason = Some(why);
        }
    }
    reason
}

#[test]
fn a_zone_served_under_a_token_and_taken_away_ends_its_sessions_with_zone_moved() {
    let mut sim = Sim::new(41, SimConfig::default());
    let link = Link {
        one_way_us: 15_000,
        ..Link::default()
    };
    let now = sim.now_us;
    sim.host.serve_zone(5, 42, now).unwrap();
    assert_eq!(sim.host.zone_token(5), Some(42));
    assert_eq!(
        sim.host.zone_token(1),
        None,
        "zones from the command line carry no token"
    );
    // A lower token never replaces a higher one.
    sim.host.serve_zone(5, 41, now).unwrap();
    assert_eq!(sim.host.zone_token(5), Some(42));
    let stays = sim.add_client(1, link, still());
    let moves = sim.add_client(5, link, still());
    assert!(sim.run_until(10_000, Sim::all_placed), "not placed");
    assert!(sim.host.zone_layers(5).is_some());

    assert_eq!(sim.host.stop_zone(5, DisconnectReason::ZoneMoved), 1);
    assert!(sim.host.zone_layers(5).is_none(), "the zone is gone at once");
    assert_eq!(sim.host.zone_token(5), None);
    sim.run_ms(500);
    assert_eq!(
        disconnect_reason(&mut sim, moves),
        Some(ClientDisconnect::ByServer(DisconnectReason::ZoneMoved))
    );
    assert!(!sim.clients[moves].client.is_connected());
    assert!(sim.clients[stays].client.is_connected(), "zone 1 did not notice");
    assert_eq!(sim.host.session_count(), 1);
    let before = sim.host.counters().snapshots_sent;
    sim.run_ms(500);
    assert!(sim.host.counters().snapshots_sent > before, "zone 1 keeps ticking");

    // A new session for zone 5 is now refused as an unknown zone.
    let late = sim.add_client(5, link, still());
    sim.run_ms(500);
    assert_eq!(
        disconnect_reason(&mut sim, late),
        Some(ClientDisconnect::ByServer(DisconnectReason::UnknownZone))
    );
    // Served again (a newer assignment), it starts afresh under the new token.
    let now = sim.now_us;
    sim.host.serve_zone(5, 77, now).unwrap();
    assert_eq!(sim.host.zone_token(5), Some(77));
    let back = sim.add_client(5, link, still());
    assert!(
        sim.run_until(10_000, |sim| sim.clients[back].client.is_placed()),
        "not placed after re-serve"
    );
}
