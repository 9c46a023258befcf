//! A fixed-size log-linear histogram (HDR style, ~6% resolution) for latencies and distances. It is
//! mergeable, so the bot swarm adds up many clients' histograms and reads quantiles once. Values are
//! integers in the caller's unit (microseconds for RTT, micrometres for correction distances).

/// Sub-buckets per power of two (mantissa bits = 4 → 16 sub-buckets, ≤ 6.25% relative error).
const SUB_BUCKET_BITS: u32 = 4;
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
/// Powers of two covered: values up to 2^48 (78 hours in microseconds, 281 km in micrometres);
/// larger values land in the last bucket.
const MAGNITUDES: usize = 48;
pub const HISTOGRAM_BUCKETS: usize = MAGNITUDES * SUB_BUCKETS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    buckets: Box<[u64; HISTOGRAM_BUCKETS]>,
    count: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: Box::new([0; HISTOGRAM_BUCKETS]),
            count: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros(); // ≥ SUB_BUCKET_BITS
    let shift = magnitude - SUB_BUCKET_BITS;
    let sub = ((value >> shift) as usize) & (SUB_BUCKETS - 1);
    let index = (shift as usize + 1) * SUB_BUCKETS + sub;
    index.min(HISTOGRAM_BUCKETS - 1)
}

/// Largest value that falls in `index`.
fn bucket_upper(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let shift = (index / SUB_BUCKETS - 1) as u32;
    let sub = (index % SUB_BUCKETS) as u64;
    ((SUB_BUCKETS as u64 + sub + 1) << shift) - 1
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.buckets[bucket_of(value)] += 1;
        self.count += 1;
        self.max = self.max.max(value);
        self.sum += u128::from(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The smallest bucket bound with at least `q` of the samples at or below it (never above `max`).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            seen += bucket;
            if seen >= rank {
                return Some(bucket_upper(index).min(self.max));
            }
        }
        Some(self.max)
    }

    pub fn clear(&mut self) {
        self.buckets.fill(0);
        self.count = 0;
        self.max = 0;
        self.sum = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut previous = 0;
        for value in [0u64, 1, 15, 16, 17, 31, 32, 1000, 65_535, 1 << 30, u64::MAX] {
            let index = bucket_of(value);
            assert!(index >= previous, "bucket order broken at {value}");
            previous = index;
            if index < HISTOGRAM_BUCKETS - 1 {
                assert!(
                    bucket_upper(index) >= value,
                    "{value} above its bucket bound {}",
                    bucket_upper(index)
                );
            }
        }
    }

    #[test]
    fn quantiles_are_within_resolution() {
        let mut histogram = Histogram::default();
        for value in 1..=10_000u64 {
            histogram.record(value);
        }
        let p50 = histogram.quantile(0.5).unwrap() as f64;
        let p99 = histogram.quantile(0.99).unwrap() as f64;
        assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.07, "p50 {p50}");
        assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.07, "p99 {p99}");
        assert_eq!(histogram.quantile(1.0), Some(10_000));
        let mut other = Histogram::default();
        other.record(50_000);
        histogram.merge(&other);
        assert_eq!(histogram.count(), 10_001);
        assert_eq!(histogram.max(), 50_000);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
