//! `edge_cost`: nanoseconds per packet of the XDP edge program for its pass paths and each drop
//! path, measured by the kernel itself: `BPF_PROG_TEST_RUN` with a repeat count runs the real,
//! verified program (release-built eBPF, real maps) on one frame `--repeat` times and reports the
//! mean time per run. Needs root. Prints a Markdown table; each row also shows which counter the
//! runs landed in, so a row that measured the wrong path is visible.
//!
//! Rows that exercise the buckets run under a configuration whose bucket has a burst of one, so
//! all runs but the first take the drop path; the pass rows run under a configuration whose buckets
//! never empty (rate 10⁹/s) so the bucket update is still paid on every run.

use anyhow::{Context, bail};
use clap::Parser;
use meridian_node::edge::{Edge, EdgeConfig, EdgeCounter, RateLimit, SessionEntry};
use meridian_perf::frames::{ethernet_udp, sealed};

#[derive(Parser)]
#[command(about = "ns per packet of the XDP edge program under BPF_PROG_TEST_RUN")]
struct Args {
    /// Runs per path.
    #[arg(long, default_value_t = 1_000_000)]
    repeat: u32,
}

const PORT: u16 = 7777;
const SESSION: u64 = 42;
const EDGE_KEY: [u8; 16] = [7; 16];

/// Frames measured one per call for the paths a repeated frame cannot take.
const DISTINCT_FRAMES: u64 = 20_000;

/// The kernel's mean time per run over `count` calls of one run each, frame `i` from `make(i)`.
fn mean_single_runs(edge: &Edge, count: u64, make: impl Fn(u64) -> Vec<u8>) -> anyhow::Result<f64> {
    let mut total_ns = 0u128;
    for i in 0..count {
        total_ns += edge.test_run(&make(i), 1)?.per_run.as_nanos();
    }
    Ok(total_ns as f64 / count as f64)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    const UNLIMITED: RateLimit = RateLimit {
        rate_per_s: 1_000_000_000,
        burst: u32::MAX,
    };
    const STRICT: RateLimit = RateLimit {
        rate_per_s: 1,
        burst: 1,
    };
    let open = EdgeConfig {
        source: UNLIMITED,
        request_source: UNLIMITED,
        request_budget: UNLIMITED,
        ..EdgeConfig::for_port(PORT)
    };
    let mut edge = Edge::load(open).context("loading the edge (needs root)")?;
    edge.sessions().insert(
        SESSION,
        SessionEntry {
            edge_key: EDGE_KEY,
            worker: 0,
            zone: 1,
            route_revision: 1,
            sequence_seen: 0,
            seen_mask: 0,
        },
    )?;
    // The window's newest becomes 100 000 (the replay and ahead rows measure against it).
    let newest = 100_000;
    edge.test_run(&ethernet_udp(PORT, 0, &sealed(SESSION, newest, &EDGE_KEY, 64)), 1)?;

    let mut request = vec![0x4d, 0x10];
    request.resize(1024, 0);
    let mut bad_magic = sealed(SESSION, newest, &EDGE_KEY, 64);
    bad_magic[0] = 0;
    let mut bad_version = bad_magic.clone();
    bad_version[0] = 0x4d;
    bad_version[1] = 0x23;
    let mut bad_type = bad_version.clone();
    bad_type[1] = 0x1f;
    let arp = {
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
        frame.resize(42, 0);
        frame
    };
    let rows: Vec<(&str, Vec<u8>, EdgeCounter, EdgeConfig)> = vec![
        ("ARP (not IP)", arp, EdgeCounter::PassNotIp, open),
        (
            "UDP to another port",
            ethernet_udp(PORT + 1, 0, &[0; 100]),
            EdgeCounter::PassOtherPort,
            open,
        ),
        (
            "sealed, 64 B plaintext (full check)",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest, &EDGE_KEY, 64)),
            EdgeCounter::PassSealed,
            open,
        ),
        (
            "sealed, 1158 B plaintext",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest, &EDGE_KEY, 1158)),
            EdgeCounter::PassSealed,
            open,
        ),
        (
            "ConnectionRequest",
            ethernet_udp(PORT, 0, &request),
            EdgeCounter::PassRequest,
            open,
        ),
        (
            "first fragment",
            ethernet_udp(PORT, 0x2000, &[0; 100]),
            EdgeCounter::DropFragment,
            open,
        ),
        (
            "too long (1201 B)",
            ethernet_udp(PORT, 0, &[0x4d; 1201]),
            EdgeCounter::DropTooLong,
            open,
        ),
        (
            "too short (41 B sealed)",
            ethernet_udp(PORT, 0, &sealed(SESSION, 1, &EDGE_KEY, 0)[..41]),
            EdgeCounter::DropTooShort,
            open,
        ),
        (
            "bad magic",
            ethernet_udp(PORT, 0, &bad_magic),
            EdgeCounter::DropBadMagic,
            open,
        ),
        (
            "bad version",
            ethernet_udp(PORT, 0, &bad_version),
            EdgeCounter::DropBadVersion,
            open,
        ),
        (
            "bad type",
            ethernet_udp(PORT, 0, &bad_type),
            EdgeCounter::DropBadType,
            open,
        ),
        (
            "bad request size (1023 B)",
            ethernet_udp(PORT, 0, &request[..1023]),
            EdgeCounter::DropBadRequestSize,
            open,
        ),
        (
            "unknown session",
            ethernet_udp(PORT, 0, &sealed(SESSION + 1, 0, &EDGE_KEY, 64)),
            EdgeCounter::DropUnknownSession,
            open,
        ),
        (
            "bad edge tag",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest, &[8; 16], 64)),
            EdgeCounter::DropBadEdgeTag,
            open,
        ),
        (
            "replayed (5000 behind)",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest - 5_000, &EDGE_KEY, 64)),
            EdgeCounter::DropReplayed,
            open,
        ),
        (
            "replayed (a copy of the newest: the seen mask)",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest, &EDGE_KEY, 64)),
            EdgeCounter::DropReplayed,
            open,
        ),
        (
            "sequence far ahead",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest + 1_000_000, &EDGE_KEY, 64)),
            EdgeCounter::DropSequenceAhead,
            open,
        ),
        (
            "rate-limited source",
            ethernet_udp(PORT, 0, &sealed(SESSION, newest, &EDGE_KEY, 64)),
            EdgeCounter::DropRateLimitedSource,
            EdgeConfig { source: STRICT, ..open },
        ),
        (
            "rate-limited request source",
            ethernet_udp(PORT, 0, &request),
            EdgeCounter::DropRateLimitedRequestSource,
            EdgeConfig {
                request_source: STRICT,
                ..open
            },
        ),
        (
            "request budget spent",
            ethernet_udp(PORT, 0, &request),
            EdgeCounter::DropRequestBudget,
            EdgeConfig {
                request_budget: STRICT,
                ..open
            },
        ),
    ];

    println!(
        "XDP edge program under BPF_PROG_TEST_RUN, {} runs per path",
        args.repeat
    );
    println!();
    println!("| path | verdict | counter | share of runs | ns/packet |");
    println!("|---|---|---|---|---|");
    // The per-call overhead of a single run (what a `repeat = 1` figure carries on top of the
    // program): ARP once per call vs ARP repeated.
    let arp_frame = rows[0].1.clone();
    let single_call_ns = mean_single_runs(&edge, DISTINCT_FRAMES, |_| arp_frame.clone())?;
    let arp_repeated_ns = edge.test_run(&arp_frame, args.repeat)?.per_run.as_nanos() as f64;
    let call_overhead_ns = (single_call_ns - arp_repeated_ns).max(0.0);
    let next_sequence = std::cell::Cell::new(newest + 1);
    for (name, frame, expected, config) in rows {
        edge.set_config(config)?;
        let before = edge.counters()?;
        if expected == EdgeCounter::PassSealed || expected == EdgeCounter::DropRateLimitedSource {
            // A repeated sealed frame is a replay after its first run (the edge remembers the 64
            // newest sequences), so these paths run on distinct frames, one per call, and the
            // call overhead measured above is taken off.
            let plaintext = if name.contains("1158") { 1158 } else { 64 };
            // Each frame one sequence past the newest so far: a new newest every time.
            let start = next_sequence.get();
            next_sequence.set(start + DISTINCT_FRAMES);
            let mean = mean_single_runs(&edge, DISTINCT_FRAMES, |i| {
                ethernet_udp(PORT, 0, &sealed(SESSION, start + i, &EDGE_KEY, plaintext))
            })?;
            let delta = edge.counters()?.since(&before);
            let share = delta.get(expected) as f64 / DISTINCT_FRAMES as f64;
            if share < 0.99 {
                bail!(
                    "{name}: only {:.1} % of runs counted as {}",
                    share * 100.0,
                    expected.label()
                );
            }
            println!(
                "| {name} (distinct frames, one per call, call overhead {call_overhead_ns:.0} ns removed) | {} | {} | {:.2} % | {:.0} |",
                if expected.is_drop() { "Drop" } else { "Pass" },
                expected.label(),
                share * 100.0,
                (mean - call_overhead_ns).max(0.0)
            );
            let _ = frame;
            continue;
        }
        let outcome = edge.test_run(&frame, args.repeat)?;
        let delta = edge.counters()?.since(&before);
        let share = delta.get(expected) as f64 / f64::from(args.repeat);
        if share < 0.99 {
            bail!(
                "{name}: only {:.1} % of runs counted as {}",
                share * 100.0,
                expected.label()
            );
        }
        println!(
            "| {name} | {:?} | {} | {:.2} % | {} |",
            outcome.action,
            expected.label(),
            share * 100.0,
            outcome.per_run.as_nanos()
        );
    }
    Ok(())
}
