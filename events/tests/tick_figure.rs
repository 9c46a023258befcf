//! The figure (run on purpose, one run: `cargo test --release -p meridian-events --test tick_figure
//! -- --ignored --nocapture`): the tick time of a 2,000-player zone (`meridian_zone::load::TickLoad`,
//! every player moving and acked every tick, 20 Hz) while every kill and loot of a busy zone is
//! logged, against logging off, side by side in one run (alternating 5 s windows, three rounds).
//! "Logging" here is the worst case: `try_log` called from the tick thread itself for 50 events a
//! tick (1,000/s; the node actually produces from its persistence bridge thread), into a real
//! broker (the testkit's tansu). Wall and the thread's own CPU time are both reported.

use std::time::{Duration, Instant};

use meridian_events::{Event, EventIdSource, EventLog, EventLogConfig, EventType, create_topic};
use meridian_testkit::Kafka;
use meridian_zone::load::{Layout, TickLoad};

const ZONE_PLAYERS: usize = 2_000;
const EVENTS_PER_TICK: u64 = 50;
const WINDOW: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;

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
fn figure_tick_time_with_every_kill_and_loot_logged_against_off() {
    let kafka = Kafka::start().expect("the broker (infra/setup.sh builds tansu)");
    let topic = "tick-figure";
    create_topic(&kafka.bootstrap(), topic, 3, 1, Duration::from_secs(10)).expect("topic");
    let log = EventLog::new(&EventLogConfig::new(kafka.bootstrap(), topic)).expect("producer");
    let mut ids = EventIdSource::new();
    let mut load = TickLoad::new(ZONE_PLAYERS, Layout::Uniform { side_m: 1_000.0 }, 7);
    for _ in 0..20 {
        load.prepare();
        load.tick();
        load.deliver();
    }
    let period = Duration::from_millis(50);
    let mut wall = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut tick = 0u64;
    for _ in 0..ROUNDS {
        for on in [false, true] {
            let window_end = Instant::now() + WINDOW;
            let mut next_tick = Instant::now();
            while Instant::now() < window_end {
                load.prepare();
                let (started, started_cpu) = (Instant::now(), thread_cpu_us());
                load.tick();
                load.deliver();
                if on {
                    for n in 0..EVENTS_PER_TICK {
                        let event = Event {
                            id: ids.next_id(),
                            player_id: (tick * EVENTS_PER_TICK + n) % ZONE_PLAYERS as u64,
                            event_type: if n % 2 == 0 { EventType::Kill } else { EventType::Loot },
                            payload: serde_json::json!({ "tick": tick, "n": n }),
                            timestamp_ms: 0,
                            zone_id: 1,
                            fencing_token: 7,
                        };
                        let _ = log.try_log(&event);
                    }
                }
                wall[on as usize].push(started.elapsed().as_micros() as u64);
                cpu[on as usize].push(thread_cpu_us().saturating_sub(started_cpu));
                tick += 1;
                next_tick += period;
                if let Some(rest) = next_tick.checked_duration_since(Instant::now()) {
                    std::thread::sleep(rest);
                }
            }
        }
    }
    log.flush(Duration::from_secs(30)).expect("flush");
    let counters = log.counters();
    let [off, on] = &mut wall;
    let [off_cpu, on_cpu] = &mut cpu;
    println!(
        "2,000-player zone tick, {} ticks per mode: logging off wall p50 {} / p99 {} µs, cpu p50 {} / p99 {} µs; \
         logging {EVENTS_PER_TICK} events/tick wall p50 {} / p99 {} µs, cpu p50 {} / p99 {} µs; \
         events queued {} delivered {} dropped {}",
        off.len(),
        quantile_us(off, 0.5),
        quantile_us(off, 0.99),
        quantile_us(off_cpu, 0.5),
        quantile_us(off_cpu, 0.99),
        quantile_us(on, 0.5),
        quantile_us(on, 0.99),
        quantile_us(on_cpu, 0.5),
        quantile_us(on_cpu, 0.99),
        counters.queued,
        counters.delivered,
        counters.dropped_full,
    );
    assert_eq!(counters.dropped_full, 0, "the buffer never filled");
    assert_eq!(
        counters.delivered, counters.queued,
        "everything logged reached the broker"
    );
}
