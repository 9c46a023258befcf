//! A development server: `ReferenceServer` (one endpoint, one zone) on a UDP socket, with a tiny
//! Prometheus endpoint exposing `meridian_tick_duration_seconds`, so the SDK and the bot swarm can
//! be exercised without a node. Not the node; not for production.
//!
//! cargo run -p meridian-client --example dev_server -- --listen 127.0.0.1:7777 \
//!     --cluster-key-hex <64 hex> [--metrics-listen 127.0.0.1:9100] [--duration-s 60]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meridian_client::dev_token::parse_cluster_key_hex;
use meridian_client::reference_server::{ReferenceServer, ReferenceServerConfig};
use meridian_client::ZoneConfig;

/// Upper bounds of the tick-duration histogram, seconds.
const TICK_BUCKETS_S: [f64; 10] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const DATAGRAMS_PER_PASS_MAX: usize = 4096;

#[derive(Default)]
struct TickHistogram {
    buckets: [u64; TICK_BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

fn wall_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn serve_metrics(listener: TcpListener, histogram: Arc<Mutex<TickHistogram>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let mut body = String::from("# TYPE meridian_tick_duration_seconds histogram\n");
        {
            let histogram = histogram.lock().expect("histogram lock");
            let mut cumulative = 0;
            for (bound, count) in TICK_BUCKETS_S.iter().zip(histogram.buckets.iter()) {
                cumulative += count;
                body.push_str(&format!("meridian_tick_duration_seconds_bucket{{zone=\"1\",le=\"{bound}\"}} {cumulative}\n"));
            }
            body.push_str(&format!("meridian_tick_duration_seconds_bucket{{zone=\"1\",le=\"+Inf\"}} {}\n", histogram.count));
            body.push_str(&format!("meridian_tick_duration_seconds_sum{{zone=\"1\"}} {}\n", histogram.sum_s));
            body.push_str(&format!("meridian_tick_duration_seconds_count{{zone=\"1\"}} {}\n", histogram.count));
        }
        let _ = write!(stream, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:7777".into()).parse()?;
    let key = arg(&args, "--cluster-key-hex").and_then(|hex| parse_cluster_key_hex(&hex)).ok_or("--cluster-key-hex: 64 hex digits")?;
    let duration = arg(&args, "--duration-s").map(|s| s.parse::<u64>()).transpose()?.map(Duration::from_secs);
    let histogram = Arc::new(Mutex::new(TickHistogram::default()));
    if let Some(metrics) = arg(&args, "--metrics-listen") {
        let listener = TcpListener::bind(metrics.parse::<SocketAddr>()?)?;
        let histogram = histogram.clone();
        std::thread::spawn(move || serve_metrics(listener, histogram));
    }
    let socket = UdpSocket::bind(listen)?;
    socket.set_nonblocking(true)?;
    let mut server = ReferenceServer::new(wall_us(), ReferenceServerConfig {
        cluster_key: key,
        public_address: listen,
        zone: ZoneConfig::default(),
        connections_max: 8192,
        spawn_m: Box::new(|session_id| Some([256.0 + (session_id % 512) as f32, 256.0 + (session_id / 512 % 512) as f32, 0.0])),
    })?;
    let started = Instant::now();
    let mut last_print = Instant::now();
    let mut buffer = vec![0u8; 2048];
    let tick_interval_us = ZoneConfig::default().tick_interval_us();
    let mut last_step_count = 0;
    while duration.is_none_or(|d| started.elapsed() < d) {
        let now = wall_us();
        for _ in 0..DATAGRAMS_PER_PASS_MAX {
            match socket.recv_from(&mut buffer) {
                Ok((length, from)) => {
                    let _ = server.handle(now, from, &buffer[..length]);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break,
            }
        }
        let work = Instant::now();
        server.tick(now);
        let steps = server.zone().counters().steps;
        if steps != last_step_count {
            last_step_count = steps;
            let seconds = work.elapsed().as_secs_f64();
            let mut histogram = histogram.lock().expect("histogram lock");
            let bucket = TICK_BUCKETS_S.iter().position(|bound| seconds <= *bound);
            if let Some(bucket) = bucket {
                histogram.buckets[bucket] += 1;
            }
            histogram.count += 1;
            histogram.sum_s += seconds;
        }
        while let Some(transmit) = server.poll_transmit(now) {
            let _ = socket.send_to(&transmit.bytes, transmit.destination);
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            last_print = Instant::now();
            let counters = server.zone().counters();
            println!(
                "connections {} players {} | zone inputs applied {} late {} dup {} too-far-ahead {} missing {} speedhack {} | server {:?}",
                server.connection_count(),
                server.zone().player_count(),
                counters.inputs_applied,
                counters.inputs_late,
                counters.inputs_duplicate,
                counters.inputs_too_far_ahead,
                counters.inputs_missing,
                counters.moves_rejected_speed_hack,
                server.counters(),
            );
        }
        std::thread::sleep(Duration::from_micros(tick_interval_us.min(1_000)));
    }
    Ok(())
}
