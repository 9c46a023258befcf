//! `ws_bots`: N SDK clients playing over a node's WebSocket gateway (WSS, one protocol packet per
//! binary message, as the browser client does) for the "WebSocket sessions one node holds" figure.
//! Each client connects, joins with a dev token sealed with the cluster key, random-walks at one
//! input per zone tick and reads every snapshot. Once all are placed it measures the node's tick
//! p99 over a window (`meridian_tick_duration_seconds` scraped at both ends) and prints one JSON
//! line; the driver's own lateness (inputs sent more than half a tick late) says whether the
//! driver, not the node, was the limit.
//!
//!   ws_bots --bots 500 --gateway 127.0.0.1:7443 --ca /tmp/ws-cert.pem --server 127.0.0.1:7777 \
//!     --cluster-key-hex <key> --zone-id 1,2 --metrics-url http://127.0.0.1:9100/metrics

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientConfig, GameClient, MoveCommand};
use meridian_perf::prom;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "SDK clients over a node's WebSocket gateway (WSS), with the node's tick p99")]
struct Args {
    #[arg(long)]
    bots: usize,
    /// The gateway's address (`--ws-listen`).
    #[arg(long)]
    gateway: SocketAddr,
    /// The gateway's certificate (PEM, `--ws-dev-cert-out`), trusted for `localhost`.
    #[arg(long)]
    ca: std::path::PathBuf,
    /// The node's game address: the one the connect tokens name.
    #[arg(long)]
    server: SocketAddr,
    #[arg(long)]
    cluster_key_hex: String,
    #[arg(long, value_delimiter = ',', default_value = "1")]
    zone_id: Vec<u32>,
    /// Session ids from here (apart from the UDP swarm's).
    #[arg(long, default_value_t = 1 << 40)]
    session_base: u64,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 200)]
    connects_per_s: u64,
    /// The measured window, once every client is placed.
    #[arg(long, default_value_t = 20)]
    measure_s: u64,
    #[arg(long)]
    metrics_url: String,
    /// Zone tick interval (one input each).
    #[arg(long, default_value_t = 50)]
    tick_ms: u64,
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Default)]
struct Counters {
    placed: AtomicU64,
    failed: AtomicU64,
    closed: AtomicU64,
    inputs: AtomicU64,
    /// Inputs sent more than half a tick after they were due.
    late_inputs: AtomicU64,
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cluster_key = dev_token::parse_cluster_key_hex(&args.cluster_key_hex).context("--cluster-key-hex")?;
    let pem = std::fs::read(&args.ca).with_context(|| format!("reading {}", args.ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.context("the --ca PEM")?)
            .context("the --ca certificate")?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let counters = Arc::new(Counters::default());
    let tick = Duration::from_millis(args.tick_ms);
    runtime.block_on(async {
        let started = Instant::now();
        for index in 0..args.bots {
            let counters = Arc::clone(&counters);
            let connector = connector.clone();
            let zone_id = args.zone_id[index % args.zone_id.len()];
            let session_id = args.session_base + index as u64;
            let (gateway, server) = (args.gateway, args.server);
            tokio::spawn(async move {
                if let Err(error) = play(
                    connector,
                    gateway,
                    server,
                    cluster_key,
                    session_id,
                    zone_id,
                    tick,
                    &counters,
                )
                .await
                {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("ws bot {session_id}: {error:#}");
                }
            });
            tokio::time::sleep(Duration::from_micros(1_000_000 / args.connects_per_s.max(1))).await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while counters.placed.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed) < args.bots as u64 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} of {} placed",
                counters.placed.load(Ordering::Relaxed),
                args.bots
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ramp_s = started.elapsed().as_secs_f64();
        // Let the ramp's handshakes settle before the window opens.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before_text = prom::scrape(&args.metrics_url)?;
        let before = prom::histogram(&before_text, "meridian_tick_duration_seconds");
        let (inputs0, late0, msgs0, bytes0) = (
            counters.inputs.load(Ordering::Relaxed),
            counters.late_inputs.load(Ordering::Relaxed),
            counters.messages_in.load(Ordering::Relaxed),
            counters.bytes_in.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_secs(args.measure_s)).await;
        let after_text = prom::scrape(&args.metrics_url)?;
        let window = prom::histogram_delta(&prom::histogram(&after_text, "meridian_tick_duration_seconds"), &before);
        let inputs = counters.inputs.load(Ordering::Relaxed) - inputs0;
        let late = counters.late_inputs.load(Ordering::Relaxed) - late0;
        let seconds = args.measure_s as f64;
        let json = format!(
            "{{\"ws_bots\":{},\"placed\":{},\"failed\":{},\"closed\":{},\"ramp_s\":{:.1},\"window_s\":{},\
             \"node_sessions\":{},\"node_ws_connections\":{},\"tick_p50_s\":{},\"tick_p99_s\":{},\"ticks\":{},\
             \"ws_dropped\":{},\"driver_inputs_per_s\":{:.0},\"driver_late_input_share\":{:.4},\
             \"ws_messages_in_per_client_per_s\":{:.1},\"ws_bytes_in_per_client_per_s\":{:.0}}}",
            args.bots,
            counters.placed.load(Ordering::Relaxed),
            counters.failed.load(Ordering::Relaxed),
            counters.closed.load(Ordering::Relaxed),
            ramp_s,
            args.measure_s,
            prom::sum(&after_text, "meridian_sessions", &[]),
            prom::sum(&after_text, "meridian_ws_connections", &[]),
            prom::quantile(&window, 0.5).map_or("null".into(), |q| q.to_string()),
            prom::quantile(&window, 0.99).map_or("null".into(), |q| q.to_string()),
            window.last().map_or(0.0, |b| b.1),
            prom::sum(&after_text, "meridian_ws_dropped_total", &[]),
            inputs as f64 / seconds,
            if inputs == 0 { 0.0 } else { late as f64 / inputs as f64 },
            (counters.messages_in.load(Ordering::Relaxed) - msgs0) as f64 / seconds / args.bots.max(1) as f64,
            (counters.bytes_in.load(Ordering::Relaxed) - bytes0) as f64 / seconds / args.bots.max(1) as f64,
        );
        println!("{json}");
        anyhow::Ok(())
    })?;
    // The clients' tasks end with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn play(
    connector: tokio_rustls::TlsConnector,
    gateway: SocketAddr,
    server: SocketAddr,
    cluster_key: [u8; 32],
    session_id: u64,
    zone_id: u32,
    tick: Duration,
    counters: &Counters,
) -> anyhow::Result<()> {
    let tcp = tokio::net::TcpStream::connect(gateway).await.context("TCP connect")?;
    tcp.set_nodelay(true)?;
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await
        .context("TLS handshake")?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{}/", gateway.port()), tls)
        .await
        .context("WebSocket handshake")?;
    let mut rng = SplitMix64(session_id);
    let token = dev_token::issue(
        &cluster_key,
        session_id,
        zone_id,
        server,
        now_us() / 1_000_000,
        &mut rng,
    );
    let mut client = GameClient::new(now_us(), token, ClientConfig::default())?;
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut placed = false;
    let mut direction = [0.0f32, 0.0];
    let mut next_turn = Instant::now();
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    counters.messages_in.fetch_add(1, Ordering::Relaxed);
                    counters.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    let _ = client.handle(now_us(), server, &bytes);
                }
                Some(Ok(Message::Close(frame))) => {
                    counters.closed.fetch_add(1, Ordering::Relaxed);
                    anyhow::bail!("the gateway closed: {frame:?}");
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    counters.closed.fetch_add(1, Ordering::Relaxed);
                    anyhow::bail!("WebSocket: {error}");
                }
                None => {
                    counters.closed.fetch_add(1, Ordering::Relaxed);
                    anyhow::bail!("the WebSocket ended");
                }
            },
            due = interval.tick() => {
                if client.is_connected() {
                    if Instant::now() >= next_turn {
                        let angle = (rng.next_u64() % 360) as f32 * std::f32::consts::PI / 180.0;
                        direction = [angle.cos(), angle.sin()];
                        next_turn = Instant::now() + Duration::from_secs(2);
                    }
                    let _ = client.tick(MoveCommand { direction, yaw: 0.0 });
                    counters.inputs.fetch_add(1, Ordering::Relaxed);
                    if due.elapsed() > tick / 2 {
                        counters.late_inputs.fetch_add(1, Ordering::Relaxed);
                    }
                }
                while let Some(transmit) = client.poll_transmit(now_us()) {
                    ws.send(Message::Binary(transmit.bytes.into())).await.context("send")?;
                }
                if !placed && client.is_placed() {
                    placed = true;
                    counters.placed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
