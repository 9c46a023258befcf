//! What handoffs cost a worker while a full zone plays: 2,000 SDK players (by default) on two workers (zone 1 |
//! zone 2, by ticket), first walking along the border (no crossing: the baseline), then the same
//! walk across it (every player crosses twice per cycle). The difference in the workers' CPU (time
//! inside their `SessionHost`s, measured in the same run) per handoff gives how many handoffs a
//! worker's spare tick budget sustains. Ignored by default (minutes in a debug build); run with
//! `cargo test --release -p meridian-sim --test handoff_capacity -- --ignored --nocapture`.

use meridian_client::MoveCommand;
use meridian_sim::workers::{WorkersConfig, WorkersSim};
use meridian_sim::{FIRST_SESSION, Link, START_US};
use meridian_zone::{WorldLayout, ZoneConfig};

const ZONE_SIDE_M: f32 = 1024.0;
/// Players (`HANDOFF_CAPACITY_PLAYERS` overrides, for a quick look).
fn players() -> usize {
    std::env::var("HANDOFF_CAPACITY_PLAYERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2_000)
}
/// Players stand in this many columns 8–24 m from the border on each side (even players west, in
/// zone 1; odd ones east, in zone 2), 3 m apart; a leg (35 m) takes each across the border and its
/// 4 m margin, and the two halves swap sides, so each worker keeps about half the players.
const COLUMNS: usize = 3;
const LEG_S: u64 = 5;

fn config() -> WorkersConfig {
    let layout = WorldLayout::new([0.0, 0.0], [ZONE_SIDE_M, ZONE_SIDE_M], 2, 1, vec![1, 2], 4.0).unwrap();
    WorkersConfig {
        zone: ZoneConfig {
            world_size_m: layout.world_size_m(),
            tick_epoch_us: Some(START_US - 1_234_567),
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        },
        worker_zones: vec![vec![1], vec![2]],
        layout,
        deadline_ticks: 4,
        peer_latency_us: 200,
        spawn: Some(std::sync::Arc::new(|character_id| {
            let index = (character_id - FIRST_SESSION) as usize;
            let (side, column, row) = (index % 2, (index / 2) % COLUMNS, index / 2 / COLUMNS);
            let from_border_m = 8.0 + 8.0 * column as f32;
            let x = if side == 0 {
                ZONE_SIDE_M - from_border_m
            } else {
                ZONE_SIDE_M + from_border_m
            };
            Some([x, 8.0 + 3.0 * row as f32, 0.0])
        })),
        ghost_margin_m: Some(32.0),
    }
}

/// Walks every player `legs` legs of `LEG_S` seconds, alternating `there` and its opposite (mirrored
/// for the players that started east); returns (host ns per worker spent, handoffs committed).
fn walk(sim: &mut WorkersSim, there: [f32; 2], legs: u32) -> (Vec<u64>, u64) {
    let busy_before = sim.host_busy_ns.clone();
    let commits_before = sim.counters.commits;
    for leg in 0..legs {
        let sign = if leg % 2 == 0 { 1.0 } else { -1.0 };
        for (index, client) in sim.clients.iter_mut().enumerate() {
            let side = if index % 2 == 0 { 1.0 } else { -1.0 };
            client.command = MoveCommand {
                direction: [there[0] * sign * side, there[1] * sign * side],
                yaw: 0.0,
            };
        }
        let until = sim.now_us + LEG_S * 1_000_000;
        assert!(sim.run_until(u64::MAX, |sim| sim.now_us >= until));
    }
    let busy = sim
        .host_busy_ns
        .iter()
        .zip(&busy_before)
        .map(|(now, before)| now - before)
        .collect();
    (busy, sim.counters.commits - commits_before)
}

#[test]
#[ignore = "a figure, not a check"]
fn figure_handoff_cost_with_2000_players() {
    let mut sim = WorkersSim::new(7, config());
    let players = players();
    for index in 0..players {
        // Arrivals in waves of 500 (a burst beyond the endpoint's 1,024 pending handshakes is a
        // login storm, not this figure).
        if index > 0 && index % 500 == 0 {
            let until = sim.now_us + 2_000_000;
            assert!(sim.run_until(u64::MAX, |sim| sim.now_us >= until));
        }
        sim.add_client(
            1 + (index % 2) as u32,
            Link {
                one_way_us: 10_000,
                ..Link::default()
            },
            MoveCommand {
                direction: [0.0, 0.0],
                yaw: 0.0,
            },
        );
    }
    assert!(sim.run_until(u64::MAX, |sim| sim.all_placed() || sim.now_us > START_US + 60_000_000));
    let placed = (0..sim.clients.len()).filter(|&i| sim.placement(i).is_some()).count();
    let connected = sim.clients.iter().filter(|c| c.client.is_connected()).count();
    assert!(
        sim.all_placed(),
        "not every player placed: {placed} placed, {connected} connected of {players}; first unconnected {:?}; opened, closed {:?}",
        sim.clients
            .iter()
            .find(|c| !c.client.is_connected())
            .map(|c| (c.client.state(), c.client.counters())),
        sim.hosts
            .iter()
            .map(|host| host.counters())
            .map(|c| (c.sessions_opened, c.sessions_closed))
            .collect::<Vec<_>>()
    );
    // Warm up, then the baseline: the same walk along the border (north, south).
    walk(&mut sim, [0.0, 1.0], 2);
    let legs = 4;
    let (along, along_handoffs) = walk(&mut sim, [0.0, 1.0], legs);
    let (across, across_handoffs) = walk(&mut sim, [1.0, 0.0], legs);
    let seconds = (legs as u64 * LEG_S) as f64;
    let ticks = seconds * 20.0;
    let per_tick_ms = |busy: &[u64]| busy.iter().map(|ns| *ns as f64 / 1e6 / ticks).collect::<Vec<_>>();
    let extra_ns: i64 = across.iter().sum::<u64>() as i64 - along.iter().sum::<u64>() as i64;
    let per_handoff_us = extra_ns as f64 / 1e3 / across_handoffs.max(1) as f64;
    let along_ms = per_tick_ms(&along);
    let across_ms = per_tick_ms(&across);
    // A worker's tick budget is 50 ms; what the baseline leaves, handoffs may use.
    let spare_ms = 50.0 - along_ms.iter().cloned().fold(0.0, f64::max);
    let sustainable_per_s = spare_ms * 1e3 / per_handoff_us.max(1e-3) * 20.0;
    println!(
        "{players} players on 2 workers, {seconds} s per phase: along the border {along_handoffs} handoffs, \
         host time per tick {along_ms:.2?} ms; across it {across_handoffs} handoffs ({:.0}/s), host time per tick \
         {across_ms:.2?} ms (ratio {:.2}); extra per handoff {per_handoff_us:.1} µs (both workers); \
         a worker's spare budget ({spare_ms:.1} ms per tick) sustains about {sustainable_per_s:.0} handoffs/s; \
         committed {}, aborted {}, corrections {}",
        across_handoffs as f64 / seconds,
        across.iter().sum::<u64>() as f64 / along.iter().sum::<u64>().max(1) as f64,
        sim.counters.commits,
        sim.counters.aborts,
        sim.clients
            .iter()
            .map(|c| c.client.corrections().corrections)
            .sum::<u64>(),
    );
    assert_eq!(along_handoffs, 0, "the baseline never crosses");
    assert!(across_handoffs >= players as u64, "every player crossed");
}
