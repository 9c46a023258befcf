//! The node's Prometheus metrics: names, help texts, histogram buckets, and the HTTP exporter.
//!
//! Hot loops never format labels: a worker resolves its metric handles once ([`WorkerMetrics`])
//! and publishes its locally accumulated counts once per tick.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::response::IntoResponse;

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use std::collections::HashMap;

use meridian_host::{DropCounts, HostDrop};
use meridian_zone::ZoneCounters;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

pub const TICK_DURATION: &str = "meridian_tick_duration_seconds";
pub const TICK_LATENESS: &str = "meridian_tick_lateness_seconds";
pub const LATE_TICKS: &str = "meridian_late_ticks_total";
pub const SKIPPED_TICKS: &str = "meridian_skipped_ticks_total";
pub const PACKETS_IN: &str = "meridian_packets_in_total";
pub const PACKETS_OUT: &str = "meridian_packets_out_total";
pub const BYTES_IN: &str = "meridian_bytes_in_total";
pub const BYTES_OUT: &str = "meridian_bytes_out_total";
pub const DROPS: &str = "meridian_drops_total";
pub const SESSIONS: &str = "meridian_sessions";
pub const AOI_ENTITIES: &str = "meridian_aoi_entities";
pub const SNAPSHOT_BYTES: &str = "meridian_snapshot_bytes";
pub const ZONE_PLAYERS: &str = "meridian_zone_players";
pub const ZONE_EVENTS: &str = "meridian_zone_events_total";
pub const SESSION_INPUTS: &str = "meridian_session_input_ticks_total";
pub const SESSION_EVENTS_DROPPED: &str = "meridian_session_events_dropped_total";
pub const HANDOFFS: &str = "meridian_handoffs_total";
/// Handoffs admitted, by the ticks between the player's last tick in the old zone and its first in
/// the new (`ticks` = 1, 2, 3, 4+; 1 is no snapshot missed).
pub const HANDOFF_PAUSE_TICKS: &str = "meridian_handoff_pause_ticks_total";
pub const FORWARDED: &str = "meridian_forwarded_datagrams_total";
pub const EDGE_MAP_ERRORS: &str = "meridian_edge_map_errors_total";
pub const EDGE_DECISIONS: &str = "meridian_edge_decisions_total";
pub const ROUTE_WRITES: &str = "meridian_route_writes_total";
pub const ROUTES_OWNED: &str = "meridian_routes_owned";
pub const WORLD_PUBLISH: &str = "meridian_world_publish_duration_seconds";
pub const WORLD_PUBLISH_SKIPPED: &str = "meridian_world_publishes_skipped_total";

/// Tick-duration buckets: fine below the 25 ms alarm, coarse up to a missed 100 ms.
const TICK_BUCKETS_S: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.25,
];
const COUNT_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 96.0, 128.0, 256.0];
const BYTES_BUCKETS: &[f64] = &[32.0, 64.0, 128.0, 256.0, 384.0, 512.0, 768.0, 1024.0, 1200.0];

/// Upkeep of the recorder's histograms (draining their buckets), as the exporter's own listener did.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    #[error("prometheus recorder: {0}")]
    Build(#[from] BuildError),
    #[error("binding the metrics listener {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the metrics listener's thread: {0}")]
    Thread(std::io::Error),
}

/// The running metrics listener. `GET /world` answers 503 until [`MetricsServer::serve_world`]
/// gives it the node's world (the node starts after the listener).
pub struct MetricsServer {
    world: Arc<OnceLock<crate::world_view::NodeWorld>>,
    local_addr: SocketAddr,
}

impl MetricsServer {
    /// From now on `GET /world` answers the workers' last snapshots.
    pub fn serve_world(&self, world: crate::world_view::NodeWorld) {
        if self.world.set(world).is_err() {
            tracing::warn!("the world view was already set; keeping the first");
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Installs the global recorder and serves `GET /metrics` (Prometheus text) and `GET /world` (the
/// operators' world view, JSON: `crate::world_view`) on `listen`, from a thread of its own with a
/// single-threaded runtime: the workers never block on it. The exporter's own listener serves
/// only metrics, so the recorder is installed bare and axum (already in the build through
/// `meridian-control`) serves both paths.
pub fn install_exporter(listen: SocketAddr) -> Result<MetricsServer, ExporterError> {
    let listener =
        std::net::TcpListener::bind(listen).map_err(|source| ExporterError::Bind { addr: listen, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ExporterError::Bind { addr: listen, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ExporterError::Bind { addr: listen, source })?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(TICK_DURATION.into()), TICK_BUCKETS_S)?
        .set_buckets_for_metric(Matcher::Full(TICK_LATENESS.into()), TICK_BUCKETS_S)?
        .set_buckets_for_metric(Matcher::Full(AOI_ENTITIES.into()), COUNT_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(SNAPSHOT_BYTES.into()), BYTES_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(WORLD_PUBLISH.into()), TICK_BUCKETS_S)?
        .install_recorder()?;
    describe();
    let world: Arc<OnceLock<crate::world_view::NodeWorld>> = Arc::default();
    let router = {
        let (metrics_handle, world) = (handle.clone(), Arc::clone(&world));
        axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || {
                    let text = metrics_handle.render();
                    async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
                }),
            )
            .route(
                "/world",
                axum::routing::get(move || {
                    let answer = match world.get() {
                        Some(world) => {
                            axum::Json(serde_json::to_value(world.view()).unwrap_or_default()).into_response()
                        }
                        None => (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            axum::Json(
                                serde_json::json!({"error": "starting", "message": "the node's workers are starting"}),
                            ),
                        )
                            .into_response(),
                    };
                    async move { answer }
                }),
            )
            .fallback(|| async {
                (
                    axum::http::StatusCode::NOT_FOUND,
                    axum::Json(serde_json::json!({"error": "not_found", "message": "GET /metrics or /world"})),
                )
            })
    };
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "metrics listener runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(UPKEEP_INTERVAL).await;
                        handle.run_upkeep();
                    }
                });
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::error!(%error, "metrics listener");
                        return;
                    }
                };
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "metrics listener stopped");
                }
            });
        })
        .map_err(ExporterError::Thread)?;
    Ok(MetricsServer { world, local_addr })
}

fn describe() {
    describe_histogram!(
        TICK_DURATION,
        Unit::Seconds,
        "Work time of one zone tick (simulation, AOI, encoding)."
    );
    describe_histogram!(
        TICK_LATENESS,
        Unit::Seconds,
        "How late a worker picked up a tick after its deadline."
    );
    describe_counter!(
        SESSION_EVENTS_DROPPED,
        "Session open/close events the agent's full queue could not take (their routes lag)."
    );
    describe_counter!(
        HANDOFFS,
        "Players handed between zones at a border, by outcome (done, aborted, deferred, resync, elsewhere)."
    );
    describe_counter!(
        FORWARDED,
        "Datagrams a worker handed to the worker owning their session (the fallback when the edge does not steer)."
    );
    describe_counter!(
        EDGE_MAP_ERRORS,
        "Edge session map inserts or removes that failed (the session's packets may be dropped at the edge)."
    );
    describe_counter!(
        EDGE_DECISIONS,
        "Frames the XDP edge passed or dropped and datagrams its steering placed, by decision."
    );
    describe_counter!(
        ROUTE_WRITES,
        "Session route writes to etcd by the node agent, by op (put, delete) and outcome."
    );
    describe_gauge!(
        ROUTES_OWNED,
        "Session routes in etcd that point at this node (from the route watch)."
    );
    describe_histogram!(
        WORLD_PUBLISH,
        Unit::Seconds,
        "Time a worker spent building its world snapshot for GET /world (every 500 ms, between ticks)."
    );
    describe_counter!(
        WORLD_PUBLISH_SKIPPED,
        "World snapshots a worker dropped because GET /world was reading the previous one at that instant."
    );
    describe_counter!(
        LATE_TICKS,
        "Ticks picked up more than half a period after their deadline."
    );
    describe_counter!(
        SKIPPED_TICKS,
        "Tick deadlines jumped over after a long stall (never silently)."
    );
    describe_counter!(PACKETS_IN, "Datagrams received.");
    describe_counter!(PACKETS_OUT, "Datagrams sent.");
    describe_counter!(BYTES_IN, Unit::Bytes, "Datagram bytes received.");
    describe_counter!(BYTES_OUT, Unit::Bytes, "Datagram bytes sent.");
    describe_counter!(DROPS, "Datagrams or messages dropped, by reason.");
    describe_gauge!(SESSIONS, "Established sessions owned by the worker.");
    describe_histogram!(
        AOI_ENTITIES,
        "Mean entities per client snapshot, per tick and zone layer."
    );
    describe_histogram!(SNAPSHOT_BYTES, Unit::Bytes, "Bytes of one client's snapshot payload.");
    describe_gauge!(ZONE_PLAYERS, "Players in a zone.");
    describe_counter!(
        SESSION_INPUTS,
        "Client input ticks: passed to the zone once, or redundant copies of ticks already passed (expected)."
    );
    describe_counter!(ZONE_EVENTS, "Refusals, drops and degradations inside a zone, by event.");
}

/// Why the node's own I/O layer dropped something. The session host's refusals (every protocol
/// and message error, by its own stable label) are exported under the same metric, see
/// [`WorkerMetrics::publish_session_drops`]. The label values are stable (dashboards use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The forward queue to the worker owning the session was full.
    ForwardQueueFull,
    /// The send queue of the I/O backend was full.
    SendQueueFull,
    /// A send failed in the kernel.
    SendError,
    /// Received datagram longer than the I/O layer accepts.
    Truncated,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::ForwardQueueFull,
        DropReason::SendQueueFull,
        DropReason::SendError,
        DropReason::Truncated,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::ForwardQueueFull => "forward_queue_full",
            DropReason::SendQueueFull => "send_queue_full",
            DropReason::SendError => "send_error",
            DropReason::Truncated => "truncated",
        }
    }
}

/// Every label the session host may count a drop under, registered up front so a dashboard sees
/// zeros rather than missing series.
pub fn session_drop_labels() -> impl Iterator<Item = &'static str> {
    HostDrop::ALL
        .into_iter()
        .map(HostDrop::label)
        .chain(meridian_host::PACKET_ERROR_LABELS.iter().copied())
}

/// One worker's metric handles, resolved once.
pub struct WorkerMetrics {
    pub packets_in: Counter,
    pub packets_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub late_ticks: Counter,
    pub skipped_ticks: Counter,
    pub tick_lateness: Histogram,
    pub sessions: Gauge,
    pub snapshot_bytes: Histogram,
    pub inputs_passed: Counter,
    pub inputs_redundant: Counter,
    pub session_events_dropped: Counter,
    pub forwarded: Counter,
    pub edge_map_errors: Counter,
    drops: Vec<Counter>,
    worker_label: String,
    session_drops: HashMap<&'static str, (Counter, u64)>,
}

impl WorkerMetrics {
    pub fn new(worker: usize) -> Self {
        let w = worker.to_string();
        Self {
            packets_in: counter!(PACKETS_IN, "worker" => w.clone()),
            packets_out: counter!(PACKETS_OUT, "worker" => w.clone()),
            bytes_in: counter!(BYTES_IN, "worker" => w.clone()),
            bytes_out: counter!(BYTES_OUT, "worker" => w.clone()),
            late_ticks: counter!(LATE_TICKS, "worker" => w.clone()),
            skipped_ticks: counter!(SKIPPED_TICKS, "worker" => w.clone()),
            tick_lateness: histogram!(TICK_LATENESS, "worker" => w.clone()),
            sessions: gauge!(SESSIONS, "worker" => w.clone()),
            snapshot_bytes: histogram!(SNAPSHOT_BYTES, "worker" => w.clone()),
            inputs_passed: counter!(SESSION_INPUTS, "worker" => w.clone(), "kind" => "passed"),
            inputs_redundant: counter!(SESSION_INPUTS, "worker" => w.clone(), "kind" => "redundant"),
            session_events_dropped: counter!(SESSION_EVENTS_DROPPED, "worker" => w.clone()),
            forwarded: counter!(FORWARDED, "worker" => w.clone()),
            edge_map_errors: counter!(EDGE_MAP_ERRORS, "worker" => w.clone()),
            drops: DropReason::ALL
                .iter()
                .map(|r| counter!(DROPS, "worker" => w.clone(), "reason" => r.label()))
                .collect(),
            session_drops: session_drop_labels()
                .map(|label| (label, (counter!(DROPS, "worker" => w.clone(), "reason" => label), 0)))
                .collect(),
            worker_label: w,
        }
    }

    /// Publishes the growth of the session host's drop counts since the last call, one series per
    /// reason label.
    pub fn publish_session_drops(&mut self, drops: &DropCounts) {
        for (label, count) in drops.iter() {
            let worker = &self.worker_label;
            let (counter, published) = self
                .session_drops
                .entry(label)
                .or_insert_with(|| (counter!(DROPS, "worker" => worker.clone(), "reason" => label), 0));
            counter.increment(count.saturating_sub(*published));
            *published = count;
        }
    }

    pub fn drop_counter(&self, reason: DropReason) -> &Counter {
        // `ALL` lists the reasons in declaration order (checked by a test), so the discriminant is
        // the index.
        &self.drops[reason as usize]
    }
}

/// The zone counters exported as `meridian_zone_events_total{event=...}`: what an operator needs to
/// see refused (cheats), late, dropped or degraded.
fn exported_zone_events(c: &ZoneCounters) -> [(&'static str, u64); 15] {
    [
        ("move_rejected_speed_hack", c.moves_rejected_speed_hack),
        ("move_rejected_teleport", c.moves_rejected_teleport),
        ("move_rejected_malformed", c.moves_rejected_malformed),
        ("input_late", c.inputs_late),
        ("input_duplicate", c.inputs_duplicate),
        ("input_missing", c.inputs_missing),
        ("input_too_far_ahead", c.inputs_too_far_ahead),
        ("input_dropped_backlog", c.inputs_dropped_backlog),
        ("step_dropped", c.steps_dropped),
        ("tick_over_budget", c.ticks_over_budget),
        ("tick_shedding", c.ticks_shedding),
        ("snapshot_skipped_shedding", c.snapshots_skipped_shedding),
        ("aoi_overflow_entity", c.aoi_overflow_entities),
        ("snapshot_entity_left_out", c.snapshot_entities_left_out),
        ("chat_dropped_rate", c.chat_dropped_rate),
    ]
}

/// One zone layer's metric handles.
pub struct ZoneMetrics {
    pub tick_duration: Histogram,
    pub players: Gauge,
    aoi_entities: Histogram,
    events: Vec<Counter>,
    published: ZoneCounters,
}

impl ZoneMetrics {
    pub fn new(zone_id: u32, layer: u32) -> Self {
        let (z, l) = (zone_id.to_string(), layer.to_string());
        let events = exported_zone_events(&ZoneCounters::default())
            .iter()
            .map(|(event, _)| counter!(ZONE_EVENTS, "zone" => z.clone(), "layer" => l.clone(), "event" => *event))
            .collect();
        Self {
            tick_duration: histogram!(TICK_DURATION, "zone" => z.clone(), "layer" => l.clone()),
            aoi_entities: histogram!(AOI_ENTITIES, "zone" => z.clone(), "layer" => l.clone()),
            players: gauge!(ZONE_PLAYERS, "zone" => z, "layer" => l),
            events,
            published: ZoneCounters::default(),
        }
    }

    /// Publishes the growth of the zone's counters since the last call, and the mean number of
    /// entities per snapshot sent since then.
    pub fn publish(&mut self, counters: &ZoneCounters) {
        let now = exported_zone_events(counters);
        let before = exported_zone_events(&self.published);
        for ((counter, (_, now)), (_, before)) in self.events.iter().zip(now).zip(before) {
            counter.increment(now.saturating_sub(before));
        }
        let snapshots = counters.snapshots_sent.saturating_sub(self.published.snapshots_sent);
        if snapshots > 0 {
            let entities = counters
                .snapshot_entities_sent
                .saturating_sub(self.published.snapshot_entities_sent);
            self.aoi_entities.record(entities as f64 / snapshots as f64);
        }
        self.published = counters.clone();
    }
}

/// Publishes the edge's decision counters (summed over CPUs) as `meridian_edge_decisions_total`
/// with a `decision` label (`pass_*`, `drop_*`, `steer_*`). No edge: nothing.
pub fn publish_edge_counts(node: &crate::node::Node) {
    match node.edge_counts() {
        None => {}
        Some(Ok(counts)) => {
            for (decision, count) in counts.iter() {
                counter!(EDGE_DECISIONS, "decision" => decision.label()).absolute(count);
            }
        }
        Some(Err(error)) => tracing::warn!(%error, "reading the edge counters failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_are_listed_in_declaration_order_with_distinct_labels() {
        for (index, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, index, "{reason:?}");
        }
        let mut labels: Vec<_> = DropReason::ALL.iter().map(|r| r.label()).collect();
        labels.extend(session_drop_labels());
        let listed = labels.len();
        labels.sort();
        labels.dedup();
        assert_eq!(
            labels.len(),
            listed,
            "a node drop label collides with a session host label"
        );
    }
}
