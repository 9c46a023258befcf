//! Zone tick report (issue 4): runs each scenario for a number of ticks on one core and prints the
//! tick time median / p99 / max (wall), the mean thread CPU time per tick (the box is shared: wall
//! time includes waiting for a core), bytes per client per second and snapshot fill. Complements the
//! criterion bench (`perf/benches/zone_tick.rs`), which only gives the median.
//!
//!     CARGO_TARGET_DIR=/work/target-zone cargo run --release -p meridian-perf --bin zone_tick_report -- [ticks] [filter]
//!
//! `filter` keeps only scenarios whose name contains it (e.g. `10k`, `boss`). With
//! `MERIDIAN_SNAPSHOT_DIGEST=1` it also prints a digest of every snapshot byte sent in the measured
//! ticks, so two builds can be checked to send the same bytes.

use std::time::Instant;

use meridian_zone::ZoneConfig;
use meridian_zone::load::{Layout, TickLoad};

const WARM_UP_TICKS: usize = 20;
const TICKS_DEFAULT: usize = 200;
const TICKS_MAX: usize = 100_000;

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns on CPU). On a shared box the
/// wall time of a tick includes time spent waiting for a core; this does not. The kernel updates it
/// at scheduler ticks, so it is only used as a total over all measured ticks (mean CPU per tick).
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn percentile(sorted_us: &[u64], fraction: f64) -> u64 {
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    sorted_us[index.min(sorted_us.len() - 1)]
}

fn main() {
    let ticks: usize = std::env::args()
        .nth(1)
        .map_or(TICKS_DEFAULT, |arg| arg.parse().expect("ticks: a number"));
    assert!(ticks > 0 && ticks <= TICKS_MAX);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let print_digest = std::env::var_os("MERIDIAN_SNAPSHOT_DIGEST").is_some_and(|value| value == "1");
    let uniform = Layout::Uniform { side_m: 1000.0 };
    let boss = Layout::Circle {
        center_m: [512.0, 512.0],
        radius_m: 50.0,
    };
    let default_cells = ZoneConfig::default();
    // What-if: 16 m cells (AOI 48 m square instead of 96 m) and a 32-entity view cap.
    let small_aoi = ZoneConfig {
        aoi_cell_m: 16.0,
        visible_entities_max: 32,
        ..ZoneConfig::default()
    };
    // (name, players, layout, feed the measured tick time back so load shedding engages, config)
    let scenarios = [
        ("uniform 1k / 1 km^2", 1_000, uniform, false, &default_cells),
        ("uniform 2k / 1 km^2", 2_000, uniform, false, &default_cells),
        ("uniform 5k / 1 km^2", 5_000, uniform, false, &default_cells),
        ("uniform 10k / 1 km^2", 10_000, uniform, false, &default_cells),
        ("world boss 2k / 50 m circle", 2_000, boss, false, &default_cells),
        ("uniform 10k, shedding on", 10_000, uniform, true, &default_cells),
        ("world boss 2k, shedding on", 2_000, boss, true, &default_cells),
        ("what-if uniform 10k, 16m/32", 10_000, uniform, false, &small_aoi),
        ("what-if world boss 2k, 16m/32", 2_000, boss, false, &small_aoi),
    ];
    println!("ticks per scenario: {ticks} (after {WARM_UP_TICKS} warm-up), 20 Hz, all players moving, all acking");
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>11} {:>12} {:>10} {:>10} {:>6}",
        "scenario", "median ms", "p99 ms", "max ms", "cpu mean ms", "B/client/s", "ents/snap", "overflow/c", "shed"
    );
    for (name, players, layout, shedding, config) in scenarios {
        if !name.contains(filter.as_str()) {
            continue;
        }
        let mut load = TickLoad::with_config(players, layout, 0x5eed, config.clone());
        let mut last_work_us = None;
        for _ in 0..WARM_UP_TICKS {
            load.prepare();
            let start = Instant::now();
            load.tick_with_feedback(last_work_us);
            last_work_us = shedding.then(|| start.elapsed().as_micros() as u64);
            load.deliver();
        }
        let before = load.zone.counters().clone();
        let mut samples_us = Vec::with_capacity(ticks);
        let cpu_start_ns = thread_cpu_ns();
        let mut bytes = 0usize;
        let mut snapshots = 0usize;
        let mut digest = 0xcbf2_9ce4_8422_2325u64;
        for _ in 0..ticks {
            load.prepare();
            let start = Instant::now();
            let sent = load.tick_with_feedback(last_work_us);
            let work_us = start.elapsed().as_micros() as u64;
            samples_us.push(work_us);
            last_work_us = shedding.then_some(work_us);
            if print_digest {
                digest = load.fold_snapshot_digest(digest);
            }
            load.deliver();
            bytes += sent.bytes;
            snapshots += sent.snapshots;
        }
        let after = load.zone.counters();
        // Includes the untimed client-side `prepare`/`deliver` work, so it is an upper bound.
        let cpu_mean_ms = match (cpu_start_ns, thread_cpu_ns()) {
            (Some(before), Some(after)) => (after - before) as f64 / 1e6 / ticks as f64,
            _ => f64::NAN,
        };
        samples_us.sort_unstable();
        let tick_hz = load.zone.config().tick_hz as f64;
        // Per client per second of game time: with shedding, clients get fewer snapshots.
        let bytes_per_client_s = bytes as f64 / (ticks as f64 * load.players() as f64) * tick_hz;
        let entities = (after.snapshot_entities_sent - before.snapshot_entities_sent) as f64 / snapshots.max(1) as f64;
        let overflow = (after.aoi_overflow_entities - before.aoi_overflow_entities) as f64 / snapshots.max(1) as f64;
        println!(
            "{:<30} {:>9.2} {:>9.2} {:>9.2} {:>11.2} {:>12.0} {:>10.1} {:>10.1} {:>6}",
            name,
            percentile(&samples_us, 0.5) as f64 / 1000.0,
            percentile(&samples_us, 0.99) as f64 / 1000.0,
            *samples_us.last().unwrap() as f64 / 1000.0,
            cpu_mean_ms,
            bytes_per_client_s,
            entities,
            overflow,
            load.zone.shed_level(),
        );
        if print_digest {
            println!("{:<30} snapshot digest {digest:016x}", "");
        }
    }
}
