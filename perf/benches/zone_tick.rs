//! Zone tick benchmark (issue 4): one core, one full `Zone::tick` (inputs, movement, AOI, priority and
//! snapshot encoding for every client) with every player moving every tick and acking every snapshot.
//! Scenarios: 1k/2k/5k/10k players uniform over 1 km × 1 km, and 2,000 players in one 50 m circle.
//! Criterion reports the median; `zone_tick_report` prints p99 and bytes per client per second.
//!
//!     CARGO_TARGET_DIR=/work/target-zone cargo bench -p meridian-perf --bench zone_tick

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use meridian_zone::load::{Layout, TickLoad};

const WARM_UP_TICKS: usize = 20;

fn scenarios() -> Vec<(&'static str, usize, Layout)> {
    let uniform = Layout::Uniform { side_m: 1000.0 };
    vec![
        ("uniform_1k", 1_000, uniform),
        ("uniform_2k", 2_000, uniform),
        ("uniform_5k", 5_000, uniform),
        ("uniform_10k", 10_000, uniform),
        (
            "world_boss_2k_50m",
            2_000,
            Layout::Circle {
                center_m: [512.0, 512.0],
                radius_m: 50.0,
            },
        ),
    ]
}

fn zone_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("zone_tick");
    // Flat sampling: a 10k tick takes hundreds of ms on this box, so linear sampling would run for
    // minutes. Each sample is a few whole ticks.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, players, layout) in scenarios() {
        let mut load = TickLoad::new(players, layout, 0x5eed);
        for _ in 0..WARM_UP_TICKS {
            load.prepare();
            load.tick();
            load.deliver();
        }
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    load.prepare();
                    let start = Instant::now();
                    std::hint::black_box(load.tick());
                    timed += start.elapsed();
                    load.deliver();
                }
                timed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, zone_tick);
criterion_main!(benches);
