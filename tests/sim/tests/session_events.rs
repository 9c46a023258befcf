//! The host reports every session's handshake, open and close, exactly once each and in order, whatever ends
//! the session: a client that goes silent (timeout) or its zone being taken away. The node's agent
//! writes and deletes the session's route from these events, so a missing Closed would leave a route
//! behind and a duplicate Opened would rewrite one.

use std::collections::BTreeMap;

use meridian_client::{DisconnectReason, MoveCommand};
use meridian_host::SessionEvent;
use meridian_sim::{Link, Sim, SimConfig};

fn still() -> MoveCommand {
    MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    }
}

/// Drains the host's session events into (session → [events]).
fn drain(sim: &mut Sim, into: &mut BTreeMap<u64, Vec<SessionEvent>>) {
    while let Some(event) = sim.host.poll_session_event() {
        let session_id = match event {
            SessionEvent::Opened { session_id, .. }
            | SessionEvent::Resumed { session_id, .. }
            | SessionEvent::Closed { session_id, .. }
            | SessionEvent::Handshaking { session_id, .. }
            | SessionEvent::HandshakeAbandoned { session_id } => session_id,
        };
        into.entry(session_id).or_default().push(event);
    }
}

#[test]
fn every_session_opens_once_and_closes_once_whatever_ends_it() {
    let mut sim = Sim::new(7, SimConfig::default());
    let link = Link {
        one_way_us: 10_000,
        ..Link::default()
    };
    let now = sim.now_us;
    sim.host.serve_zone(5, 9, now).unwrap();
    let silent = sim.add_client(1, link, still());
    let stays = sim.add_client(1, link, still());
    let moved: Vec<usize> = (0..3).map(|_| sim.add_client(5, link, still())).collect();
    assert!(sim.run_until(10_000, Sim::all_placed), "not placed");
    let mut events = BTreeMap::new();
    drain(&mut sim, &mut events);
    assert_eq!(events.len(), 5, "one Opened per session: {events:?}");
    for (index, client) in sim.clients.iter().enumerate() {
        let zone_id = if moved.contains(&index) { 5 } else { 1 };
        let session = &events[&client.session_id];
        assert_eq!(session.len(), 2, "{session:?}");
        assert!(
            matches!(session[0], SessionEvent::Handshaking { session_id, zone_id: z, address, .. }
                if session_id == client.session_id && z == zone_id && address == client.address),
            "the handshake is announced first: {session:?}"
        );
        assert_eq!(
            session[1],
            SessionEvent::Opened {
                session_id: client.session_id,
                zone_id,
                address: client.address,
            }
        );
    }

    // Zone 5 is taken away: its three sessions close, the others do not.
    assert_eq!(sim.host.stop_zone(5, DisconnectReason::ZoneMoved), 3);
    // One client goes silent: the server times it out.
    sim.clients[silent].driven = false;
    sim.run_ms(15_000);
    drain(&mut sim, &mut events);
    for &index in moved.iter().chain([&silent]) {
        let client = &sim.clients[index];
        let zone_id = if index == silent { 1 } else { 5 };
        assert_eq!(
            events[&client.session_id].last(),
            Some(&SessionEvent::Closed {
                session_id: client.session_id,
                zone_id
            }),
            "client {index}"
        );
        assert_eq!(
            events[&client.session_id].len(),
            3,
            "client {index}: {:?}",
            events[&client.session_id]
        );
    }
    assert_eq!(
        events[&sim.clients[stays].session_id].len(),
        2,
        "the live session did not close"
    );
    assert_eq!(sim.host.counters().session_events_dropped, 0);
}
