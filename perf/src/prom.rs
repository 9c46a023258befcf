//! Reading a node's Prometheus text exposition: a plain HTTP/1.0 scrape, counters summed over label
//! sets, and histogram quantiles at bucket resolution. Small on purpose: the node's endpoint is
//! ours and plain HTTP on loopback.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest exposition read; a node's is a few tens of KiB.
const SCRAPE_BYTES_MAX: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("metrics url must look like http://host:port/path")]
    BadUrl,
    #[error("metrics endpoint: {0}")]
    Io(#[from] std::io::Error),
    #[error("metrics endpoint answered: {0}")]
    Status(String),
}

/// `GET url` and return the body.
pub fn scrape(url: &str) -> Result<String, ScrapeError> {
    let rest = url.strip_prefix("http://").ok_or(ScrapeError::BadUrl)?;
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(host, path)| (host, path));
    let address = host.to_socket_addrs()?.next().ok_or(ScrapeError::BadUrl)?;
    let mut stream = TcpStream::connect_timeout(&address, SCRAPE_TIMEOUT)?;
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
    write!(
        stream,
        "GET /{path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.take(SCRAPE_BYTES_MAX).read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| ScrapeError::Status("no header end".into()))?;
    if head.split(' ').nth(1) != Some("200") {
        return Err(ScrapeError::Status(head.lines().next().unwrap_or("").to_string()));
    }
    Ok(body.to_string())
}

/// Sum of a counter or gauge over every label set whose labels contain all of `labels`.
pub fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sums of a counter per value of one label (`label`), over every other label, for the values whose
/// sum is not zero; in label order.
pub fn sum_by_label(text: &str, name: &str, label: &str) -> std::collections::BTreeMap<String, f64> {
    let key = format!("{label}=\"");
    let mut sums = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name).filter(|rest| rest.starts_with('{')) else {
            continue;
        };
        let Some(start) = rest.find(&key).map(|at| at + key.len()) else {
            continue;
        };
        let Some(value) = rest[start..].find('"').map(|end| &rest[start..start + end]) else {
            continue;
        };
        let Some(count) = line.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()) else {
            continue;
        };
        *sums.entry(value.to_string()).or_insert(0.0) += count;
    }
    sums.retain(|_, sum| *sum != 0.0);
    sums
}

/// Cumulative bucket counts of one histogram, summed over label sets: `(le, count)`, ascending.
pub fn histogram(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|line| line.starts_with(&prefix)) {
        let Some(le) = line.split("le=\"").nth(1).and_then(|rest| rest.split('"').next()) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else if let Ok(le) = le.parse() {
            le
        } else {
            continue;
        };
        let Some(count) = line.rsplit(' ').next().and_then(|value| value.parse::<f64>().ok()) else {
            continue;
        };
        match buckets.iter_mut().find(|(bound, _)| *bound == le) {
            Some(bucket) => bucket.1 += count,
            None => buckets.push((le, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// Bucket-wise difference between two scrapes (the window between them).
pub fn histogram_delta(now: &[(f64, f64)], before: &[(f64, f64)]) -> Vec<(f64, f64)> {
    now.iter()
        .map(|(le, count)| {
            let old = before.iter().find(|(bound, _)| bound == le).map_or(0.0, |(_, c)| *c);
            (*le, (count - old).max(0.0))
        })
        .collect()
}

/// The `q` quantile as the upper bound of the first bucket reaching it (Prometheus' resolution);
/// infinite when it lies above every finite bucket, `None` for an empty histogram.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets.iter().find(|(_, count)| *count >= q * total).map(|(le, _)| *le)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE t histogram
t_bucket{zone=\"1\",le=\"0.001\"} 50
t_bucket{zone=\"1\",le=\"0.01\"} 98
t_bucket{zone=\"1\",le=\"+Inf\"} 100
t_bucket{zone=\"2\",le=\"0.001\"} 0
t_bucket{zone=\"2\",le=\"0.01\"} 0
t_bucket{zone=\"2\",le=\"+Inf\"} 100
c_total{worker=\"0\",reason=\"a\"} 3
c_total{worker=\"1\",reason=\"a\"} 4
c_total{worker=\"1\",reason=\"b\"} 5
g 7
";

    #[test]
    fn histograms_sum_over_labels_and_give_bucket_quantiles() {
        let buckets = histogram(TEXT, "t");
        assert_eq!(buckets, vec![(0.001, 50.0), (0.01, 98.0), (f64::INFINITY, 200.0)]);
        assert_eq!(quantile(&buckets, 0.25), Some(0.001));
        assert_eq!(quantile(&buckets, 0.49), Some(0.01));
        assert_eq!(quantile(&buckets, 0.99), Some(f64::INFINITY));
        assert_eq!(quantile(&[], 0.5), None);
        let delta = histogram_delta(&buckets, &[(0.001, 50.0), (0.01, 90.0), (f64::INFINITY, 100.0)]);
        assert_eq!(delta, vec![(0.001, 0.0), (0.01, 8.0), (f64::INFINITY, 100.0)]);
    }

    #[test]
    fn counters_sum_over_matching_labels() {
        assert_eq!(sum(TEXT, "c_total", &[]), 12.0);
        assert_eq!(sum(TEXT, "c_total", &["reason=\"a\""]), 7.0);
        assert_eq!(sum(TEXT, "g", &[]), 7.0);
        let by_reason = sum_by_label(TEXT, "c_total", "reason");
        assert_eq!(
            by_reason.into_iter().collect::<Vec<_>>(),
            vec![("a".to_string(), 7.0), ("b".to_string(), 5.0)]
        );
        assert!(sum_by_label(TEXT, "c_total", "zone").is_empty());
        assert_eq!(sum(TEXT, "c", &[]), 0.0, "a prefix of another name matches nothing");
    }
}
