//! The agent's two looks at the local node: its liveness probe (the node's own UDP probe on the
//! game port, answered by a worker: it proves the workers run and the socket receives) and its
//! Prometheus metrics (the tick duration histogram, the session count).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use meridian_node::probe;

/// Metrics text read at most (the node's page is a few hundred KiB with many zones).
pub const METRICS_BYTES_MAX: u64 = 8 * 1024 * 1024;
const TICK_HISTOGRAM: &str = "meridian_tick_duration_seconds_bucket";

/// Sends one probe to `node` and waits up to `timeout` for its answer.
pub fn probe_once(node: SocketAddr, nonce: u64, timeout: Duration) -> bool {
    let bind: SocketAddr = if node.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .expect("literal");
    let Ok(socket) = UdpSocket::bind(bind) else {
        return false;
    };
    if socket.set_read_timeout(Some(timeout)).is_err() || socket.send_to(&probe::encode_request(nonce), node).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    while let Ok((n, _)) = socket.recv_from(&mut buf) {
        if probe::decode_reply(&buf[..n]).is_ok_and(|reply| reply.nonce == nonce) {
            return true;
        }
    }
    false
}

/// `GET http://host:port/metrics` (plain HTTP/1.0, as the node serves it).
pub fn scrape(metrics: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&metrics, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {metrics}\r\n\r\n")?;
    let mut text = String::new();
    stream.take(METRICS_BYTES_MAX).read_to_string(&mut text)?;
    Ok(text)
}

/// The tick histogram's cumulative bucket counts, summed over every series (worker, zone, layer),
/// by upper bound.
pub fn tick_buckets(text: &str) -> BTreeMap<u64, f64> {
    let mut buckets = BTreeMap::new();
    for line in text.lines().filter(|line| line.starts_with(TICK_HISTOGRAM)) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some(le) = series.split("le=\"").nth(1).and_then(|rest| rest.split('"').next()) else {
            continue;
        };
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        let (Ok(count), false) = (value.parse::<f64>(), bound.is_nan()) else {
            continue;
        };
        // Keyed by the bound's bits so the map orders them (all bounds are positive).
        *buckets.entry(bound.to_bits()).or_insert(0.0) += count;
    }
    buckets
}

/// The p99 in milliseconds of the ticks between two scrapes (`None`: no tick ran). The upper
/// bound of the bucket holding the 99th percentile: the histogram's resolution.
pub fn tick_p99_ms(before: &BTreeMap<u64, f64>, now: &BTreeMap<u64, f64>) -> Option<f64> {
    let window: Vec<(f64, f64)> = now
        .iter()
        .map(|(bits, count)| (f64::from_bits(*bits), count - before.get(bits).copied().unwrap_or(0.0)))
        .collect();
    let total = window.last()?.1;
    if total <= 0.0 {
        return None;
    }
    window
        .iter()
        .find(|(_, cumulative)| *cumulative >= 0.99 * total)
        .map(|(bound, _)| bound * 1000.0)
}

/// `meridian_sessions` summed over workers.
pub fn sessions(text: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with("meridian_sessions"))
        .filter(|line| {
            line.as_bytes()
                .get("meridian_sessions".len())
                .is_some_and(|b| *b == b' ' || *b == b'{')
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"0.005\"} 90
meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"0.05\"} 100
meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"+Inf\"} 100
meridian_sessions{worker=\"0\"} 3
meridian_sessions{worker=\"1\"} 4
meridian_sessions_total 99
";

    #[test]
    fn the_p99_of_the_window_between_two_scrapes() {
        let before = tick_buckets(BEFORE);
        // 100 more ticks: 50 under 5 ms, 48 under 50 ms, 2 slower.
        let now = tick_buckets(
            "meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"0.005\"} 140
meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"0.05\"} 198
meridian_tick_duration_seconds_bucket{worker=\"0\",zone=\"1\",le=\"+Inf\"} 200
",
        );
        assert_eq!(
            tick_p99_ms(&before, &now),
            Some(f64::INFINITY),
            "2 % above 50 ms: p99 is in +Inf"
        );
        assert_eq!(tick_p99_ms(&before, &before), None, "no tick in the window");
        assert_eq!(sessions(BEFORE), 7.0, "meridian_sessions only, summed over workers");
    }
}
