//! The host's persistence path on simulated time: a pick-up becomes a persistence event in the
//! host's queue, tagged with its zone and fencing token (none in standalone mode) and played by the
//! session's character (the session id for a dev token); the client sees nothing until an answer
//! comes back through `handle_persistence_outcome`, and then exactly one grant or one refusal with
//! its reason; answers for a zone the host does not run are counted and ignored.

use meridian_client::{Action, GameEvent, MoveCommand, ServerEvent};
use meridian_host::HostPersistenceEvent;
use meridian_proto::messages::PickUpRefusal;
use meridian_sim::{FIRST_SESSION, Link, Sim, SimConfig};
use meridian_zone::{PersistenceEvent, PersistenceOutcome};

fn still() -> MoveCommand {
    MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    }
}

fn drain(sim: &mut Sim, index: usize, events: &mut Vec<GameEvent>) {
    while let Some(event) = sim.clients[index].client.poll_event() {
        events.push(event);
    }
}

/// Drops loot at the client's feet and has it picked up; returns the loot and the claim the host queued.
fn claim(sim: &mut Sim, item_id: u32, events: &mut Vec<GameEvent>) -> (u32, HostPersistenceEvent) {
    let entity = sim.host_entity(0).unwrap();
    let at = sim.host_position(0, entity).unwrap();
    let loot = sim.host.spawn_loot(1, 0, at, item_id, 2).expect("loot spawned");
    sim.run_ms(200);
    drain(sim, 0, events);
    sim.clients[0].client.send_action(&Action::PickUp { loot }).unwrap();
    let mut queued = None;
    for _ in 0..100 {
        sim.run_ms(50);
        if let Some(event) = sim.host.poll_persistence_event() {
            queued = Some(event);
            break;
        }
    }
    (loot, queued.expect("the pick-up reached the host's persistence queue"))
}

#[test]
fn a_pick_up_waits_in_the_hosts_queue_and_the_answer_decides_what_the_client_sees() {
    let mut sim = Sim::new(3, SimConfig::default());
    sim.add_client(1, Link::default(), still());
    assert!(sim.run_until(200_000, |sim| sim.all_placed()));
    let mut events = Vec::new();

    let (_, queued) = claim(&mut sim, 42, &mut events);
    assert_eq!(queued.zone_id, 1);
    assert_eq!(queued.fencing_token, None, "standalone zone");
    let key = match queued.event {
        PersistenceEvent::LootPickup {
            key,
            character_id,
            item_id: 42,
            quantity: 2,
        } => {
            assert_eq!(character_id, FIRST_SESSION, "a dev token plays its session id");
            key
        }
        other => panic!("{other:?}"),
    };
    // Unanswered: nothing granted, and the zone re-sends the same claim.
    sim.run_ms(3_000);
    drain(&mut sim, 0, &mut events);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, GameEvent::Server(ServerEvent::InventoryGranted { .. })))
    );
    let mut retries = 0;
    while let Some(event) = sim.host.poll_persistence_event() {
        assert!(matches!(event.event, PersistenceEvent::LootPickup { key: k, .. } if k == key));
        retries += 1;
    }
    assert!(retries >= 1, "the claim is re-sent while unanswered");

    assert!(
        sim.host
            .handle_persistence_outcome(1, key, PersistenceOutcome::Committed)
    );
    assert!(
        sim.host
            .handle_persistence_outcome(1, key, PersistenceOutcome::Committed)
    );
    assert!(
        !sim.host
            .handle_persistence_outcome(9, key, PersistenceOutcome::Committed)
    );
    sim.run_ms(500);
    drain(&mut sim, 0, &mut events);
    let grants = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                GameEvent::Server(ServerEvent::InventoryGranted {
                    item_id: 42,
                    quantity: 2
                })
            )
        })
        .count();
    assert_eq!(grants, 1, "{events:?}");
    let counters = sim.host.counters();
    assert_eq!(counters.persistence_outcomes, 2);
    assert_eq!(counters.persistence_outcomes_unknown_zone, 1);
    assert!(counters.persistence_events >= 2);
    assert_eq!(counters.persistence_events_dropped, 0);

    // The database unreachable: the client is told why, and the loot is free again.
    let (loot, queued) = claim(&mut sim, 43, &mut events);
    let PersistenceEvent::LootPickup { key, .. } = queued.event else {
        panic!("{queued:?}")
    };
    assert!(
        sim.host
            .handle_persistence_outcome(1, key, PersistenceOutcome::Unavailable)
    );
    sim.run_ms(500);
    drain(&mut sim, 0, &mut events);
    assert!(events.contains(&GameEvent::Server(ServerEvent::PickUpRefused {
        loot,
        reason: PickUpRefusal::PersistenceUnavailable
    })));
    while sim.host.poll_persistence_event().is_some() {}
    sim.clients[0].client.send_action(&Action::PickUp { loot }).unwrap();
    let mut again = None;
    for _ in 0..100 {
        sim.run_ms(50);
        if let Some(event) = sim.host.poll_persistence_event() {
            again = Some(event);
            break;
        }
    }
    match again.expect("claimed again").event {
        PersistenceEvent::LootPickup { key: same, .. } => {
            assert_eq!(same, key, "the loot's key, so a late commit replays")
        }
        other => panic!("{other:?}"),
    }
}
