//! Seamless handoff between two zones of one session host: zones tile one world (a 2 × 1 grid of
//! 256 m squares), players walk back and forth across the border, and the host hands each from one
//! zone to the other at a tick boundary — same session, same keys, same entity id, no reconnect.
//! What is checked: no disconnect; no input lost or applied twice (the zone never extrapolated a
//! missing tick nor saw a copy, and the client's prediction never had to be corrected, which it
//! would be by one lost or doubled input); the pause the client sees (its last snapshot from the
//! old zone to its first from the new) in ticks; and no flapping along the border.

use meridian_client::MoveCommand;
use meridian_client::prediction::{CORRECTION_EPSILON_M, distance_m};
use meridian_sim::{FIRST_SESSION, Link, Sim, SimConfig};
use meridian_zone::{WorldLayout, ZoneConfig};

const ZONE_SIDE_M: f32 = 256.0;
const MARGIN_M: f32 = 4.0;
const ONE_WAY_US: u64 = 20_000;
const TICK_US: u64 = 50_000;

/// The world, its clients starting at x = `start_x(client index)`, y = 20 + 30 × index.
fn world(start_x: fn(u64) -> f32) -> (SimConfig, WorldLayout) {
    let layout = WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], MARGIN_M).unwrap();
    let config = SimConfig {
        zone: ZoneConfig {
            world_size_m: layout.world_size_m(),
            ..ZoneConfig::default()
        },
        zone_ids: vec![1, 2],
        spawn: Some(std::sync::Arc::new(move |character_id| {
            let index = (character_id - FIRST_SESSION) as f32;
            Some([start_x(character_id - FIRST_SESSION), 20.0 + 30.0 * index, 0.0])
        })),
        ..SimConfig::default()
    };
    (config, layout)
}

fn link() -> Link {
    Link {
        one_way_us: ONE_WAY_US,
        ..Link::default()
    }
}

fn walk(direction: [f32; 2]) -> MoveCommand {
    MoveCommand { direction, yaw: 0.0 }
}

/// What one client went through, watched after every simulated step.
#[derive(Default)]
struct Watch {
    zone: Option<u32>,
    entity: Option<u32>,
    /// Simulated times the host moved the session to another zone.
    handoffs_us: Vec<u64>,
    /// Simulated times the client applied a snapshot.
    snapshots_us: Vec<u64>,
    snapshots_applied: u64,
    entity_changes: u32,
}

fn observe(sim: &Sim, watches: &mut [Watch], clients: &[usize]) {
    for (watch, &index) in watches.iter_mut().zip(clients) {
        let client = &sim.clients[index];
        let zone = sim.host.client_of(client.session_id).map(|(zone, _)| zone);
        if watch.zone.is_some() && zone.is_some() && zone != watch.zone {
            watch.handoffs_us.push(sim.now_us);
        }
        watch.zone = zone.or(watch.zone);
        let entity = client.client.entity();
        if watch.entity.is_some() && entity != watch.entity {
            watch.entity_changes += 1;
        }
        watch.entity = entity.or(watch.entity);
        let applied = client.client.counters().snapshots_applied;
        if applied > watch.snapshots_applied {
            watch.snapshots_applied = applied;
            watch.snapshots_us.push(sim.now_us);
        }
    }
}

/// Runs `ms` of simulated time, observing after every step.
fn run_watched(sim: &mut Sim, ms: u64, watches: &mut [Watch], clients: &[usize]) {
    let end_us = sim.now_us + ms * 1_000;
    let mut steps = 0u64;
    while sim.now_us < end_us {
        sim.step();
        observe(sim, watches, clients);
        steps += 1;
        assert!(steps < meridian_sim::SIM_STEPS_MAX, "run did not end");
    }
}

/// The pause of each handoff in microseconds: from the last snapshot the old zone sent (in the tick
/// of the handoff, arriving one way later) to the first from the new zone.
fn pauses_us(watch: &Watch) -> Vec<u64> {
    watch
        .handoffs_us
        .iter()
        .filter_map(|&handoff_us| {
            let old_arrival = handoff_us + ONE_WAY_US;
            let last_old = watch.snapshots_us.iter().rev().find(|&&at| at <= old_arrival)?;
            let first_new = watch.snapshots_us.iter().find(|&&at| at > old_arrival)?;
            Some(first_new - last_old)
        })
        .collect()
}

#[test]
fn walkers_cross_the_border_back_and_forth_with_no_reconnect_no_lost_or_doubled_input_and_a_one_tick_pause() {
    // 10 m west of the border, in zone 1.
    let (config, layout) = world(|_| 246.0);
    let mut sim = Sim::new(14, config);
    sim.host.set_world_layout(layout).unwrap();
    let clients: Vec<usize> = (0..6).map(|_| sim.add_client(1, link(), walk([0.0, 0.0]))).collect();
    assert!(sim.run_until(20_000, Sim::all_placed), "not placed");
    let mut watches: Vec<Watch> = clients.iter().map(|_| Watch::default()).collect();
    observe(&sim, &mut watches, &clients);
    let entities: Vec<Option<u32>> = clients
        .iter()
        .map(|&index| sim.clients[index].client.entity())
        .collect();

    // 3 s east (21 m: from 246 m to 267 m, past the border at 256 and its margin), 3 s west back:
    // two handoffs per cycle.
    const CYCLES: u32 = 12;
    for _ in 0..CYCLES {
        for direction in [[1.0, 0.0], [-1.0, 0.0]] {
            for &index in &clients {
                sim.clients[index].command = walk(direction);
            }
            run_watched(&mut sim, 3_000, &mut watches, &clients);
        }
    }
    for &index in &clients {
        sim.clients[index].command = walk([0.0, 0.0]);
    }
    run_watched(&mut sim, 1_000, &mut watches, &clients);

    let counters = sim.host.counters();
    let handoffs: usize = watches.iter().map(|watch| watch.handoffs_us.len()).sum();
    assert_eq!(handoffs as u64, counters.handoffs);
    assert_eq!(
        handoffs,
        clients.len() * 2 * CYCLES as usize,
        "every crossing handed off once"
    );
    assert_eq!(counters.handoffs_aborted, 0);
    assert_eq!(counters.handoff_resyncs, 0, "the new zone had the entity id free");
    // One record per handoff for the event log, alternating east and west for each player.
    let mut records: std::collections::BTreeMap<u64, Vec<(u32, u32)>> = Default::default();
    while let Some(event) = sim.host.poll_handoff_event() {
        assert_eq!(event.outcome, meridian_host::HandoffOutcome::Committed);
        assert!(!event.across);
        assert_eq!(
            event.character_id, event.session_id,
            "dev tokens: the session plays itself"
        );
        records
            .entry(event.session_id)
            .or_default()
            .push((event.from_zone, event.to_zone));
    }
    assert_eq!(records.len(), clients.len());
    for moves in records.values() {
        assert_eq!(moves.len(), 2 * CYCLES as usize);
        for (index, step) in moves.iter().enumerate() {
            assert_eq!(*step, if index % 2 == 0 { (1, 2) } else { (2, 1) });
        }
    }
    assert_eq!(counters.handoff_events_dropped, 0);
    assert!(
        counters.handoff_inputs_carried >= handoffs as u64,
        "every handoff carried the jitter buffer's inputs: {}",
        counters.handoff_inputs_carried
    );
    assert_eq!(counters.sessions_opened, clients.len() as u64);
    assert_eq!(counters.sessions_closed, 0, "no session ended");
    for (watch, (&index, entity)) in watches.iter().zip(clients.iter().zip(&entities)) {
        let client = &sim.clients[index].client;
        assert!(client.is_connected(), "client {index} disconnected");
        assert_eq!(watch.entity_changes, 0, "one stable entity id across the handoffs");
        assert_eq!(client.entity(), *entity);
        assert_eq!(sim.host_entity(index), *entity);
        assert_eq!(watch.zone, Some(1), "back where it started after whole cycles");
        // A lost or doubled input would move the server off the client's prediction.
        assert_eq!(
            client.corrections().corrections,
            0,
            "client {index}: prediction corrected across handoffs"
        );
        let server = sim.host_position(index, entity.unwrap()).unwrap();
        let predicted = client.predicted_position_m().unwrap();
        assert!(
            distance_m(server, predicted) < CORRECTION_EPSILON_M,
            "{server:?} vs {predicted:?}"
        );
    }
    for zone_id in [1, 2] {
        let zone = &sim.host.zone_layers(zone_id).unwrap().layers()[0];
        let zone_counters = zone.counters();
        assert_eq!(
            zone_counters.inputs_missing, 0,
            "zone {zone_id} extrapolated a missing input"
        );
        assert_eq!(zone_counters.inputs_duplicate, 0, "zone {zone_id} saw an input twice");
        assert_eq!(zone_counters.inputs_late, 0, "zone {zone_id} refused an input as late");
        assert_eq!(zone_counters.handoffs_in, (clients.len() * CYCLES as usize) as u64);
    }

    let pauses: Vec<u64> = watches.iter().flat_map(pauses_us).collect();
    assert_eq!(pauses.len(), handoffs);
    let worst_us = *pauses.iter().max().unwrap();
    let mean_us = pauses.iter().sum::<u64>() / pauses.len() as u64;
    println!(
        "handoffs {handoffs}; pause (last old-zone snapshot → first new-zone snapshot) mean {:.2} ticks, worst {:.2} ticks",
        mean_us as f64 / TICK_US as f64,
        worst_us as f64 / TICK_US as f64
    );
    assert!(
        worst_us <= TICK_US,
        "a handoff paused snapshots {worst_us} us: more than the one tick between any two snapshots"
    );
}

#[test]
fn walking_along_the_border_inside_the_margin_does_not_flap() {
    // Either side of the border, each within the margin of the other zone's side.
    let (config, layout) = world(|index| if index == 0 { 253.0 } else { 259.0 });
    let mut sim = Sim::new(15, config);
    sim.host.set_world_layout(layout).unwrap();
    let west_side = sim.add_client(1, link(), walk([0.0, 0.0]));
    let east_side = sim.add_client(2, link(), walk([0.0, 0.0]));
    let walkers = [west_side, east_side];
    assert!(
        sim.run_until(20_000, |sim| walkers
            .iter()
            .all(|&index| sim.clients[index].client.is_placed())),
        "not placed"
    );
    let mut watches = vec![Watch::default(), Watch::default()];
    observe(&sim, &mut watches, &walkers);
    // Zig-zag north along the border: 1 s legs of ±5.6 m across it, each walker staying within
    // the margin of the other zone's side (253 ↔ 258.6 m and 259 ↔ 253.4 m).
    let mut crossings = [0u32; 2];
    for leg in 0..60 {
        let across = if leg % 2 == 0 { 0.8 } else { -0.8 };
        sim.clients[west_side].command = walk([across, 0.6]);
        sim.clients[east_side].command = walk([-across, 0.6]);
        let sides_before: Vec<bool> = walkers.iter().map(|&index| x_of(&sim, index) < ZONE_SIDE_M).collect();
        run_watched(&mut sim, 1_000, &mut watches, &walkers);
        for (slot, &index) in walkers.iter().enumerate() {
            if (x_of(&sim, index) < ZONE_SIDE_M) != sides_before[slot] {
                crossings[slot] += 1;
            }
        }
    }
    assert!(
        crossings.iter().all(|&count| count >= 50),
        "they did cross the border: {crossings:?}"
    );
    assert_eq!(sim.host.counters().handoffs, 0, "no handoff inside the margin");
    assert_eq!(sim.host.client_of(sim.clients[west_side].session_id).unwrap().0, 1);
    assert_eq!(sim.host.client_of(sim.clients[east_side].session_id).unwrap().0, 2);
    // One more step past the margin and the west walker goes over.
    sim.clients[west_side].command = walk([1.0, 0.0]);
    sim.clients[east_side].command = walk([0.0, 0.0]);
    run_watched(&mut sim, 2_000, &mut watches, &walkers);
    assert_eq!(sim.host.counters().handoffs, 1);
    assert_eq!(sim.host.client_of(sim.clients[west_side].session_id).unwrap().0, 2);
    assert!(sim.clients[west_side].client.is_connected());
}

fn x_of(sim: &Sim, index: usize) -> f32 {
    let entity = sim.host_entity(index).unwrap();
    sim.host_position(index, entity).unwrap()[0]
}

#[test]
fn handoffs_over_a_jittery_duplicating_network_still_apply_every_input_once() {
    let (config, layout) = world(|_| 246.0);
    let mut sim = Sim::new(16, config);
    sim.host.set_world_layout(layout).unwrap();
    // Jitter reorders datagrams (inputs of one tick arrive after the next's, some during the move);
    // duplicates send copies. The jitter buffer (2 ticks) absorbs 30 ms of jitter.
    let rough = Link {
        one_way_us: ONE_WAY_US,
        jitter_us: 30_000,
        duplicate_ppm: 50_000,
        ..Link::default()
    };
    let clients: Vec<usize> = (0..6).map(|_| sim.add_client(1, rough, walk([0.0, 0.0]))).collect();
    assert!(sim.run_until(20_000, Sim::all_placed), "not placed");
    let mut watches: Vec<Watch> = clients.iter().map(|_| Watch::default()).collect();
    observe(&sim, &mut watches, &clients);
    const CYCLES: u32 = 8;
    for _ in 0..CYCLES {
        for direction in [[1.0, 0.0], [-1.0, 0.0]] {
            for &index in &clients {
                sim.clients[index].command = walk(direction);
            }
            run_watched(&mut sim, 3_000, &mut watches, &clients);
        }
    }
    for &index in &clients {
        sim.clients[index].command = walk([0.0, 0.0]);
    }
    run_watched(&mut sim, 1_000, &mut watches, &clients);
    let counters = sim.host.counters();
    assert_eq!(counters.handoffs, (clients.len() * 2 * CYCLES as usize) as u64);
    assert_eq!(counters.sessions_closed, 0);
    assert!(sim.network.datagrams_duplicated > 0);
    let mut applied = 0;
    for zone_id in [1, 2] {
        let zone_counters = sim.host.zone_layers(zone_id).unwrap().layers()[0].counters().clone();
        assert_eq!(zone_counters.inputs_duplicate, 0, "zone {zone_id} saw an input twice");
        assert_eq!(
            zone_counters.inputs_missing, 0,
            "zone {zone_id} extrapolated a missing input"
        );
        assert_eq!(zone_counters.inputs_late, 0, "zone {zone_id} refused an input as late");
        applied += zone_counters.inputs_applied;
    }
    let sent: u64 = clients
        .iter()
        .map(|&index| u64::from(sim.clients[index].client.client_tick()))
        .sum();
    println!(
        "inputs applied {applied}, client ticks {sent}, carried {}",
        counters.handoff_inputs_carried
    );
    for (watch, &index) in watches.iter().zip(&clients) {
        let client = &sim.clients[index].client;
        assert!(client.is_connected());
        assert_eq!(watch.entity_changes, 0);
        assert_eq!(
            client.corrections().corrections,
            0,
            "client {index}: an input lost or doubled"
        );
    }
}

#[test]
fn a_taken_entity_id_is_replaced_once_and_the_client_replaces_itself() {
    let (config, layout) = world(|index| if index == 0 { 246.0 } else { 300.0 });
    let mut sim = Sim::new(17, config);
    sim.host.set_world_layout(layout).unwrap();
    let walker = sim.add_client(1, link(), walk([0.0, 0.0]));
    let resident = sim.add_client(2, link(), walk([0.0, 0.0]));
    assert!(sim.run_until(20_000, Sim::all_placed), "not placed");
    // Both are entity 1 of their own zone.
    assert_eq!(sim.host_entity(walker), Some(1));
    assert_eq!(sim.host_entity(resident), Some(1));
    sim.clients[walker].command = walk([1.0, 0.0]);
    sim.run_ms(3_000);
    sim.clients[walker].command = walk([0.0, 0.0]);
    sim.run_ms(1_000);
    let counters = sim.host.counters();
    assert_eq!((counters.handoffs, counters.handoff_resyncs), (1, 1));
    let renamed = sim.host_entity(walker).unwrap();
    assert_ne!(renamed, 1);
    let client = &sim.clients[walker].client;
    assert!(client.is_connected());
    assert_eq!(client.entity(), Some(renamed), "told its new id");
    assert!(client.is_placed());
    let server = sim.host_position(walker, renamed).unwrap();
    assert!(distance_m(server, client.predicted_position_m().unwrap()) < CORRECTION_EPSILON_M);
}

/// Walkers in zone 1 cross into zone 2, which this host started serving 3.31 s after zone 1;
/// returns (handoffs, aborted, zone 1's tick, zone 2's tick).
fn cross_into_a_zone_started_later(tick_epoch_us: Option<u64>) -> (u64, u64, u64, u64) {
    let (mut config, layout) = world(|_| 246.0);
    config.zone.tick_epoch_us = tick_epoch_us;
    config.zone_ids = vec![1];
    let mut sim = Sim::new(18, config);
    sim.host.set_world_layout(layout).unwrap();
    let clients: Vec<usize> = (0..3).map(|_| sim.add_client(1, link(), walk([0.0, 0.0]))).collect();
    assert!(sim.run_until(20_000, Sim::all_placed), "not placed");
    sim.run_ms(3_310);
    sim.host.serve_zone(2, 7, sim.now_us).unwrap();
    for &index in &clients {
        sim.clients[index].command = walk([1.0, 0.0]);
    }
    sim.run_ms(3_000);
    let counters = sim.host.counters();
    let tick_of = |zone_id| sim.host.zone_layers(zone_id).unwrap().layers()[0].current_tick();
    (counters.handoffs, counters.handoffs_aborted, tick_of(1), tick_of(2))
}

#[test]
fn a_zone_started_later_shares_the_cluster_tick_numbers_and_takes_handoffs() {
    // The cluster's tick origin: any instant, here not on a tick of the host's own start.
    let epoch_us = meridian_sim::START_US - 1_234_567;
    let (handoffs, aborted, tick_1, tick_2) = cross_into_a_zone_started_later(Some(epoch_us));
    assert_eq!(tick_1, tick_2, "one tick number for both zones at one time");
    assert_eq!((handoffs, aborted), (3, 0), "every walker handed over, none refused");
    // Without the shared origin the later zone counts from its own start and is 66 ticks behind:
    // the host refuses every handoff into it (what the shared origin fixes).
    let (handoffs, aborted, tick_1, tick_2) = cross_into_a_zone_started_later(None);
    assert!(tick_2 < tick_1);
    assert_eq!(handoffs, 0);
    assert!(aborted >= 3, "refused as behind: {aborted}");
}
