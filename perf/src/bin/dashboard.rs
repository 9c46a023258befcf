//! `dashboard`: the live view of the README's main command. It reads the bot swarm's JSON reports
//! on stdin (`bots --json | dashboard ...`) and scrapes the node's metrics endpoint, and shows CCU,
//! server tick p50/p99, packets per second in and out, bytes per client and prediction corrections:
//! as a terminal UI, or with `--headless` as one line per interval and a final JSON summary.
//! It ends when the swarm's stdin closes (or on `q` in the UI).

use std::{
    io::BufRead,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use meridian_perf::prom;
use ratatui::{
    crossterm::event::{self, Event, KeyCode},
    layout::{Constraint, Layout},
    style::{Style, Stylize},
    text::Line,
    widgets::{Block, Paragraph, Row, Table},
};
use serde_json::Value;

#[derive(Parser)]
struct Args {
    /// A node's metrics; repeat for each node of a cluster (the dashboard shows their sum, the worst
    /// tick).
    #[arg(long, default_value = "http://127.0.0.1:9100/metrics")]
    metrics_url: Vec<String>,
    /// Print lines instead of drawing a terminal UI.
    #[arg(long)]
    headless: bool,
    #[arg(long, default_value_t = 1.0)]
    interval_s: f64,
}

/// Node-side figures over one interval, from two scrapes.
#[derive(Clone, Debug, Default)]
struct NodeWindow {
    sessions: f64,
    pps_in: f64,
    pps_out: f64,
    bytes_out_per_s: f64,
    tick_p50_ms: Option<f64>,
    tick_p99_ms: Option<f64>,
    late_ticks: f64,
    drops: f64,
    /// Every drop reason with a count, since the node started (`meridian_drops_total{reason}`).
    drops_by_reason: std::collections::BTreeMap<String, f64>,
    /// The XDP edge's decisions, since the node started (`meridian_edge_decisions_total{decision}`;
    /// empty when the node runs without the edge).
    edge_decisions: std::collections::BTreeMap<String, f64>,
    /// Border handoffs by outcome (`meridian_handoffs_total{outcome}`; empty without a world).
    handoffs: std::collections::BTreeMap<String, f64>,
    /// Admitted handoffs by their pause in ticks (`meridian_handoff_pause_ticks_total{ticks}`).
    handoff_pause_ticks: std::collections::BTreeMap<String, f64>,
}

struct NodeScraper {
    url: String,
    last: Option<(Instant, String)>,
}

impl NodeScraper {
    fn window(&mut self) -> Result<NodeWindow, prom::ScrapeError> {
        let text = prom::scrape(&self.url)?;
        let now = Instant::now();
        let mut window = NodeWindow {
            sessions: prom::sum(&text, "meridian_sessions", &[]),
            late_ticks: prom::sum(&text, "meridian_late_ticks_total", &[]),
            drops: prom::sum(&text, "meridian_drops_total", &[]),
            drops_by_reason: prom::sum_by_label(&text, "meridian_drops_total", "reason"),
            edge_decisions: prom::sum_by_label(&text, "meridian_edge_decisions_total", "decision"),
            handoffs: prom::sum_by_label(&text, "meridian_handoffs_total", "outcome"),
            handoff_pause_ticks: prom::sum_by_label(&text, "meridian_handoff_pause_ticks_total", "ticks"),
            ..NodeWindow::default()
        };
        if let Some((then, before)) = &self.last {
            let dt = now.duration_since(*then).as_secs_f64().max(1e-3);
            let rate = |name: &str| (prom::sum(&text, name, &[]) - prom::sum(before, name, &[])).max(0.0) / dt;
            window.pps_in = rate("meridian_packets_in_total");
            window.pps_out = rate("meridian_packets_out_total");
            window.bytes_out_per_s = rate("meridian_bytes_out_total");
            let ticks = prom::histogram_delta(
                &prom::histogram(&text, "meridian_tick_duration_seconds"),
                &prom::histogram(before, "meridian_tick_duration_seconds"),
            );
            window.tick_p50_ms = prom::quantile(&ticks, 0.5).map(|s| s * 1e3);
            window.tick_p99_ms = prom::quantile(&ticks, 0.99).map(|s| s * 1e3);
        }
        self.last = Some((now, text));
        Ok(window)
    }
}

impl NodeWindow {
    /// Several nodes as one cluster: counts and rates add up, the tick is the worst node's.
    fn merge(windows: Vec<NodeWindow>) -> NodeWindow {
        let add = |into: &mut std::collections::BTreeMap<String, f64>,
                   from: &std::collections::BTreeMap<String, f64>| {
            for (key, value) in from {
                *into.entry(key.clone()).or_insert(0.0) += value;
            }
        };
        let worst = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        windows.into_iter().fold(NodeWindow::default(), |mut sum, window| {
            sum.sessions += window.sessions;
            sum.pps_in += window.pps_in;
            sum.pps_out += window.pps_out;
            sum.bytes_out_per_s += window.bytes_out_per_s;
            sum.tick_p50_ms = worst(sum.tick_p50_ms, window.tick_p50_ms);
            sum.tick_p99_ms = worst(sum.tick_p99_ms, window.tick_p99_ms);
            sum.late_ticks += window.late_ticks;
            sum.drops += window.drops;
            add(&mut sum.drops_by_reason, &window.drops_by_reason);
            add(&mut sum.edge_decisions, &window.edge_decisions);
            add(&mut sum.handoffs, &window.handoffs);
            add(&mut sum.handoff_pause_ticks, &window.handoff_pause_ticks);
            sum
        })
    }
}

/// The latest swarm report (JSON line from `bots --json`).
#[derive(Clone, Debug, Default)]
struct SwarmView {
    report: Option<Value>,
    finished: bool,
}

fn number(report: &Option<Value>, path: &[&str]) -> Option<f64> {
    let mut value = report.as_ref()?;
    for key in path {
        value = value.get(key)?;
    }
    value.as_f64()
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn rows(node: &NodeWindow, swarm: &SwarmView) -> Vec<(&'static str, String)> {
    let r = &swarm.report;
    vec![
        (
            "CCU (bots connected / sessions)",
            format!("{} / {}", fmt(number(r, &["ccu"]), 0), node.sessions),
        ),
        (
            "server tick p50 / p99 (ms)",
            format!("{} / {}", fmt(node.tick_p50_ms, 2), fmt(node.tick_p99_ms, 2)),
        ),
        (
            "packets/s in / out",
            format!("{:.0} / {:.0}", node.pps_in, node.pps_out),
        ),
        (
            "bytes/s per client down / up",
            format!(
                "{} / {}",
                fmt(number(r, &["bytes_per_s_per_client", "down"]), 0),
                fmt(number(r, &["bytes_per_s_per_client", "up"]), 0)
            ),
        ),
        (
            "RTT p50 / p99 (µs)",
            format!(
                "{} / {}",
                fmt(number(r, &["rtt_us", "p50"]), 0),
                fmt(number(r, &["rtt_us", "p99"]), 0)
            ),
        ),
        (
            "prediction corrections (count, p99 m)",
            format!(
                "{} , {}",
                fmt(number(r, &["corrections", "count"]), 0),
                fmt(number(r, &["corrections", "p99_m"]), 3)
            ),
        ),
        (
            "stalls > 250 ms (count, bots, longest ms)",
            format!(
                "{} , {} , {}",
                fmt(number(r, &["stalls", "count"]), 0),
                fmt(number(r, &["stalls", "bots"]), 0),
                fmt(number(r, &["stalls", "gap_max_ms"]), 0)
            ),
        ),
        (
            "HTTPS logins (ok, failed, p50 / p99 ms)",
            format!(
                "{} , {} , {} / {}",
                fmt(number(r, &["login", "ok"]), 0),
                fmt(number(r, &["login", "failed"]), 0),
                fmt(number(r, &["login", "p50_ms"]), 0),
                fmt(number(r, &["login", "p99_ms"]), 0)
            ),
        ),
        (
            "late ticks / drops (total)",
            format!("{:.0} / {:.0}", node.late_ticks, node.drops),
        ),
        ("drops by reason", drops_by_reason_line(node)),
        ("edge (XDP) drops", edge_line(node)),
        ("handoffs (in a worker, by ticket, aborted)", handoff_line(node)),
        ("handoff pause (ticks: share)", handoff_pause_line(node)),
    ]
}

/// Border handoffs: between zones of one worker, by ticket (another worker or node; counted once,
/// by the side the player left), and aborted (the player stayed where it was).
fn handoff_line(node: &NodeWindow) -> String {
    if node.handoffs.is_empty() {
        return "none".to_string();
    }
    let count = |outcome: &str| node.handoffs.get(outcome).copied().unwrap_or(0.0);
    format!(
        "{:.0} , {:.0} , {:.0}",
        count("done"),
        count("across_committed"),
        count("aborted") + count("across_aborted")
    )
}

/// Admitted handoffs by the ticks the player missed: `1` is the ordinary gap between snapshots.
fn handoff_pause_line(node: &NodeWindow) -> String {
    let total: f64 = node.handoff_pause_ticks.values().sum();
    if total <= 0.0 {
        return "none".to_string();
    }
    ["1", "2", "3", "4+"]
        .iter()
        .map(|ticks| {
            let count = node.handoff_pause_ticks.get(*ticks).copied().unwrap_or(0.0);
            format!("{ticks}: {:.1}%", 100.0 * count / total)
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// The edge's drops, largest first, and how much it passed; "off" without an edge.
fn edge_line(node: &NodeWindow) -> String {
    if node.edge_decisions.is_empty() {
        return "off".to_string();
    }
    let passed: f64 = node
        .edge_decisions
        .iter()
        .filter(|(decision, _)| decision.starts_with("pass_sealed") || decision.starts_with("pass_request"))
        .map(|(_, count)| count)
        .sum();
    let mut drops: Vec<(&str, f64)> = node
        .edge_decisions
        .iter()
        .filter_map(|(decision, count)| Some((decision.strip_prefix("drop_")?, *count)))
        .filter(|(_, count)| *count > 0.0)
        .collect();
    drops.sort_by(|a, b| b.1.total_cmp(&a.1));
    let drops: Vec<String> = drops
        .iter()
        .map(|(reason, count)| format!("{reason} {count:.0}"))
        .collect();
    format!(
        "{} (game packets passed {passed:.0})",
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join(", ")
        }
    )
}

/// `reason count` pairs, largest first, for the one-line view.
fn drops_by_reason_line(node: &NodeWindow) -> String {
    if node.drops_by_reason.is_empty() {
        return "none".to_string();
    }
    let mut reasons: Vec<(&String, &f64)> = node.drops_by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.total_cmp(a.1));
    reasons
        .iter()
        .map(|(reason, count)| format!("{reason} {count:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary_json(node: &NodeWindow, swarm: &SwarmView, elapsed_s: f64) -> String {
    serde_json::json!({
        "elapsed_s": elapsed_s,
        "ccu": number(&swarm.report, &["ccu"]),
        "sessions": node.sessions,
        "tick_p50_ms": node.tick_p50_ms,
        "tick_p99_ms": node.tick_p99_ms,
        "pps_in": node.pps_in,
        "pps_out": node.pps_out,
        "bytes_per_s_per_client_down": number(&swarm.report, &["bytes_per_s_per_client", "down"]),
        "bytes_per_s_per_client_up": number(&swarm.report, &["bytes_per_s_per_client", "up"]),
        "rtt_p99_us": number(&swarm.report, &["rtt_us", "p99"]),
        "corrections": number(&swarm.report, &["corrections", "count"]),
        "correction_p99_m": number(&swarm.report, &["corrections", "p99_m"]),
        "stalls": number(&swarm.report, &["stalls", "count"]),
        "bots_stalled": number(&swarm.report, &["stalls", "bots"]),
        "snapshot_gap_max_ms": number(&swarm.report, &["stalls", "gap_max_ms"]),
        "logins": number(&swarm.report, &["login", "ok"]),
        "login_failures": number(&swarm.report, &["login", "failed"]),
        "login_p99_ms": number(&swarm.report, &["login", "p99_ms"]),
        "late_ticks": node.late_ticks,
        "drops": node.drops,
        "drops_by_reason": node.drops_by_reason,
        "edge_decisions": node.edge_decisions,
        "handoffs": node.handoffs,
        "handoff_pause_ticks": node.handoff_pause_ticks,
    })
    .to_string()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let interval = Duration::from_secs_f64(args.interval_s.max(0.1));
    // Swarm reports arrive on stdin; a thread hands them over (bounded: only the latest matters).
    let (tx, rx) = mpsc::sync_channel::<Option<Value>>(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && tx.send(Some(value)).is_err()
            {
                return;
            }
        }
        let _ = tx.send(None);
    });
    let mut scrapers: Vec<NodeScraper> = args
        .metrics_url
        .iter()
        .map(|url| NodeScraper {
            url: url.clone(),
            last: None,
        })
        .collect();
    let mut swarm = SwarmView::default();
    let mut node = NodeWindow::default();
    // The summary describes the run, not the idle window after the swarm left: it uses the last
    // window in which the node served sessions.
    let mut last_active = NodeWindow::default();
    let started = Instant::now();
    let mut terminal = (!args.headless).then(ratatui::init);
    let result = (|| -> anyhow::Result<()> {
        loop {
            let tick_started = Instant::now();
            while let Ok(message) = rx.try_recv() {
                match message {
                    Some(report) => swarm.report = Some(report),
                    None => swarm.finished = true,
                }
            }
            let scraped: Result<Vec<NodeWindow>, prom::ScrapeError> =
                scrapers.iter_mut().map(NodeScraper::window).collect();
            let scrape_error = match scraped {
                Ok(windows) => {
                    node = NodeWindow::merge(windows);
                    if node.pps_out > 0.0 && node.sessions > 0.0 {
                        last_active = node.clone();
                    }
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            let elapsed_s = started.elapsed().as_secs_f64();
            match terminal.as_mut() {
                Some(terminal) => {
                    terminal.draw(|frame| {
                        let [table_area, status_area] =
                            Layout::vertical([Constraint::Min(9), Constraint::Length(3)]).areas(frame.area());
                        let table = Table::new(
                            rows(&node, &swarm)
                                .into_iter()
                                .map(|(k, v)| Row::new(vec![k.to_string(), v])),
                            [Constraint::Length(40), Constraint::Min(20)],
                        )
                        .block(Block::bordered().title(format!(" Meridian local cluster — {elapsed_s:.0} s ").bold()));
                        frame.render_widget(table, table_area);
                        let status = scrape_error.clone().unwrap_or_else(|| "q to quit".into());
                        frame.render_widget(
                            Paragraph::new(Line::from(status))
                                .style(Style::new().dim())
                                .block(Block::bordered()),
                            status_area,
                        );
                    })?;
                    if event::poll(interval.saturating_sub(tick_started.elapsed()))?
                        && let Event::Key(key) = event::read()?
                        && key.code == KeyCode::Char('q')
                    {
                        return Ok(());
                    }
                }
                None => {
                    let line: Vec<String> = rows(&node, &swarm)
                        .into_iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    println!("[{elapsed_s:>6.1} s] {}", line.join(" | "));
                    if let Some(e) = &scrape_error {
                        println!("[{elapsed_s:>6.1} s] metrics: {e}");
                    }
                    std::thread::sleep(interval.saturating_sub(tick_started.elapsed()));
                }
            }
            if swarm.finished {
                return Ok(());
            }
        }
    })();
    if terminal.is_some() {
        ratatui::restore();
    }
    result.context("dashboard")?;
    println!(
        "{}",
        summary_json(&last_active, &swarm, started.elapsed().as_secs_f64())
    );
    Ok(())
}
