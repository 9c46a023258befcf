//! The figure (run on purpose, one run: `cargo test --release -p meridian-economy --test
//! checkpoint_tick_figure -- --ignored --nocapture`): the tick time of a 2,000-player zone (`meridian_zone::load::TickLoad`,
//! every player moving and acked every tick) on this machine while write-behind checkpoints of
//! 100,000 characters flush to two Postgres shards, against the same zone with checkpoints off,
//! side by side in one run: alternating windows of each, so drift (thermal, the other tenant of the
//! machine) hits both alike. The zone's thread pushes its own players into the queue once a second
//! (what a worker does); another thread pushes the other 98,000 characters (the node's other
//! zones) and one task flushes the queue back to back, the worst case of the 30 s cadence. The
//! tick's CPU time is printed beside its wall time: on a small machine shared with the Postgres
//! servers, the difference is preemption, not work the checkpoints add to the tick.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use meridian_economy::{CharacterState, CheckpointQueue, Economy};
use meridian_zone::load::{Layout, TickLoad};
use support::*;

const CHARACTERS: i64 = 100_000;
const ZONE_PLAYERS: usize = 2_000;
const WINDOW: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;

fn state(id: i64, seq: i64) -> CharacterState {
    CharacterState {
        character_id: id,
        zone_id: 1,
        fencing_token: 0,
        seq,
        position: [id as f32, 2.0, 3.0],
        stats: serde_json::json!({"health": 100}),
    }
}

/// This thread's CPU time: the tick's own work, without the time it sat preempted by Postgres or
/// the flusher on this 2-core machine.
fn thread_cpu_us() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant Linux supports.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

fn quantile_us(samples: &mut [u64], q: f64) -> u64 {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

#[test]
#[ignore = "figure: run on purpose"]
fn figure_tick_time_with_checkpoints_flushing_against_off() {
    let shards = start_shards(2);
    let map = shard_map(&shards);
    let runtime = runtime();
    let economy = Arc::new(runtime.block_on(Economy::connect(map, 8)).expect("connect"));
    runtime
        .block_on(economy.create_characters_bulk(1, CHARACTERS, 1))
        .expect("characters");
    let queue = Arc::new(CheckpointQueue::new(CHARACTERS as usize * 2));
    let flushing = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(1));
    let flush_ms = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let written = Arc::new(AtomicU64::new(0));

    // The rest of the node: pushes the other characters and flushes back to back while on.
    let flusher = {
        let (economy, queue, flushing, done, seq, flush_ms, written) = (
            economy.clone(),
            queue.clone(),
            flushing.clone(),
            done.clone(),
            seq.clone(),
            flush_ms.clone(),
            written.clone(),
        );
        let handle = runtime.handle().clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if !flushing.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let round = seq.fetch_add(1, Ordering::Relaxed) as i64;
                for id in ZONE_PLAYERS as i64 + 1..=CHARACTERS {
                    queue.push(state(id, round));
                }
                let started = Instant::now();
                let report = handle.block_on(queue.flush(&economy)).expect("flush");
                written.fetch_add(report.written as u64, Ordering::Relaxed);
                flush_ms.lock().unwrap().push(started.elapsed().as_millis() as u64);
            }
        })
    };

    let mut load = TickLoad::new(ZONE_PLAYERS, Layout::Uniform { side_m: 1_000.0 }, 7);
    for _ in 0..20 {
        load.prepare();
        load.tick();
        load.deliver();
    }
    let period = Duration::from_millis(50);
    let (mut off_us, mut on_us) = (Vec::new(), Vec::new());
    let (mut off_cpu_us, mut on_cpu_us) = (Vec::new(), Vec::new());
    let mut late_ticks = [0u64; 2];
    for _round in 0..ROUNDS {
        for on in [false, true] {
            flushing.store(on, Ordering::Relaxed);
            let window_end = Instant::now() + WINDOW;
            let mut next_tick = Instant::now();
            let mut next_push = Instant::now();
            while Instant::now() < window_end {
                load.prepare();
                let started = Instant::now();
                let started_cpu_us = thread_cpu_us();
                load.tick();
                load.deliver();
                if on && Instant::now() >= next_push {
                    // The zone's own players, as a worker pushes them (inside the timed work).
                    next_push += Duration::from_secs(1);
                    let round = seq.load(Ordering::Relaxed) as i64;
                    for index in 0..ZONE_PLAYERS as i64 {
                        queue.push(state(index + 1, round));
                    }
                }
                let work_us = started.elapsed().as_micros() as u64;
                if on { &mut on_us } else { &mut off_us }.push(work_us);
                let cpu_us = thread_cpu_us().saturating_sub(started_cpu_us);
                if on { &mut on_cpu_us } else { &mut off_cpu_us }.push(cpu_us);
                next_tick += period;
                let now = Instant::now();
                if now < next_tick {
                    std::thread::sleep(next_tick - now);
                } else {
                    late_ticks[usize::from(on)] += 1;
                    next_tick = now;
                }
            }
        }
    }
    flushing.store(false, Ordering::Relaxed);
    done.store(true, Ordering::Relaxed);
    flusher.join().unwrap();
    let mut flushes = flush_ms.lock().unwrap().clone();
    assert!(!flushes.is_empty(), "no flush ran");
    let counters = queue.counters();
    eprintln!(
        "FIGURE tick of a {ZONE_PLAYERS}-player zone, checkpoints off: {} ticks, p50 {} us, p99 {} us, max {} us, late {}",
        off_us.len(),
        quantile_us(&mut off_us, 0.5),
        quantile_us(&mut off_us, 0.99),
        quantile_us(&mut off_us, 1.0),
        late_ticks[0],
    );
    eprintln!(
        "FIGURE tick of a {ZONE_PLAYERS}-player zone, checkpoints of {CHARACTERS} characters flushing back to back: \
         {} ticks, p50 {} us, p99 {} us, max {} us, late {}",
        on_us.len(),
        quantile_us(&mut on_us, 0.5),
        quantile_us(&mut on_us, 0.99),
        quantile_us(&mut on_us, 1.0),
        late_ticks[1],
    );
    eprintln!(
        "FIGURE tick CPU time (the thread's own work, preemption excluded): off p50 {} us, p99 {} us; \
         flushing p50 {} us, p99 {} us",
        quantile_us(&mut off_cpu_us, 0.5),
        quantile_us(&mut off_cpu_us, 0.99),
        quantile_us(&mut on_cpu_us, 0.5),
        quantile_us(&mut on_cpu_us, 0.99),
    );
    eprintln!(
        "FIGURE checkpoint flushes meanwhile: {} flushes of ~{CHARACTERS} characters, p50 {} ms, max {} ms; \
         {} rows written, {} pushes coalesced",
        flushes.len(),
        quantile_us(&mut flushes, 0.5),
        quantile_us(&mut flushes, 1.0),
        written.load(Ordering::Relaxed),
        counters.coalesced,
    );
}
