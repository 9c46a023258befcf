//! The gateway's per-connection and per-address limits, as plain state stepped by the caller's
//! clock (unit-tested without sockets).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Messages per second one connection may send, with a burst above the rate (a token bucket).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    last_us: u64,
}

impl TokenBucket {
    pub fn new(rate_per_s: u32, burst: u32, now_us: u64) -> Self {
        Self {
            rate_per_s: f64::from(rate_per_s),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last_us: now_us,
        }
    }

    /// Takes one token; false when the connection is over its rate.
    pub fn take(&mut self, now_us: u64) -> bool {
        let elapsed_s = now_us.saturating_sub(self.last_us) as f64 / 1e6;
        self.last_us = self.last_us.max(now_us);
        self.tokens = (self.tokens + elapsed_s * self.rate_per_s).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Connections (handshaking or open) per source address. Addresses are counted as the kernel gave
/// them, IPv4-mapped IPv6 folded onto IPv4 so a dual-stack listener counts one client once.
#[derive(Debug, Default)]
pub struct PerIpCounts {
    counts: Mutex<HashMap<IpAddr, u32>>,
}

/// One counted connection; dropping it uncounts it.
#[derive(Debug)]
pub struct IpSlot {
    owner: Arc<PerIpCounts>,
    ip: IpAddr,
    /// Connections from this address, this one included, when it was counted.
    pub count: u32,
}

impl PerIpCounts {
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> IpSlot {
        let ip = ip.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(ip).or_insert(0);
        *count += 1;
        IpSlot {
            owner: Arc::clone(self),
            ip,
            count: *count,
        }
    }

    pub fn count(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // The map holds only addresses with a live connection: it cannot grow without bound.
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_its_burst_then_its_rate() {
        let mut bucket = TokenBucket::new(10, 5, 0);
        assert_eq!((0..10).filter(|_| bucket.take(0)).count(), 5);
        // 100 ms later one more token (10/s).
        assert!(bucket.take(100_000));
        assert!(!bucket.take(100_000));
        // A long pause refills to the burst, not beyond.
        assert_eq!((0..10).filter(|_| bucket.take(60_000_000)).count(), 5);
    }

    #[test]
    fn per_ip_counts_follow_the_slots_and_forget_idle_addresses() {
        let counts = Arc::new(PerIpCounts::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let first = counts.acquire(ip);
        let second = counts.acquire(mapped);
        assert_eq!((first.count, second.count), (1, 2));
        assert_eq!(counts.count(ip), 2);
        drop(first);
        assert_eq!(counts.count(mapped), 1);
        drop(second);
        assert!(counts.counts.lock().unwrap().is_empty());
    }
}
