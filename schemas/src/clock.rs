//! Clock sync, NTP style: the client stamps a ping with its clock (`t0`), the server answers with its
//! receive and send times (`t1`, `t2`), the client stamps the pong's arrival (`t3`).
//! `rtt = (t3 - t0) - (t2 - t1)`, `offset = ((t1 - t0) + (t2 - t3)) / 2` (server minus client).
//! The estimate is the offset of the lowest-RTT sample among the last `CLOCK_SAMPLES_MAX`: queueing
//! delay only ever adds to RTT, so the fastest round trip is the least skewed one.

/// Samples remembered.
pub const CLOCK_SAMPLES_MAX: usize = 16;
/// Round trips longer than this are discarded as useless (and as a bound on arithmetic).
pub const CLOCK_RTT_MAX_US: i64 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    pub rtt_us: i64,
    pub offset_us: i64,
}

/// One NTP exchange as four timestamps (microseconds on each side's own clock).
pub fn clock_sample(
    client_send_us: u64,
    server_receive_us: u64,
    server_send_us: u64,
    client_receive_us: u64,
) -> Option<ClockSample> {
    let t0 = i128::from(client_send_us);
    let t1 = i128::from(server_receive_us);
    let t2 = i128::from(server_send_us);
    let t3 = i128::from(client_receive_us);
    let rtt = (t3 - t0) - (t2 - t1);
    if t2 < t1 || t3 < t0 || !(0..=i128::from(CLOCK_RTT_MAX_US)).contains(&rtt) {
        return None;
    }
    let offset = ((t1 - t0) + (t2 - t3)) / 2;
    Some(ClockSample {
        rtt_us: rtt as i64,
        offset_us: i64::try_from(offset).ok()?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct ClockSync {
    samples: [Option<ClockSample>; CLOCK_SAMPLES_MAX],
    next_slot: usize,
}

impl ClockSync {
    /// Adds one exchange; returns false (and keeps nothing) if the timestamps are inconsistent.
    pub fn add(
        &mut self,
        client_send_us: u64,
        server_receive_us: u64,
        server_send_us: u64,
        client_receive_us: u64,
    ) -> bool {
        let Some(sample) = clock_sample(client_send_us, server_receive_us, server_send_us, client_receive_us) else {
            return false;
        };
        self.samples[self.next_slot] = Some(sample);
        self.next_slot = (self.next_slot + 1) % CLOCK_SAMPLES_MAX;
        true
    }

    fn best(&self) -> Option<ClockSample> {
        self.samples
            .iter()
            .flatten()
            .min_by_key(|sample| sample.rtt_us)
            .copied()
    }

    /// Server clock minus client clock, microseconds.
    pub fn offset_us(&self) -> Option<i64> {
        self.best().map(|sample| sample.offset_us)
    }

    /// Lowest round trip among the samples.
    pub fn rtt_us(&self) -> Option<i64> {
        self.best().map(|sample| sample.rtt_us)
    }

    /// The server's clock now, given the client's.
    pub fn server_time_us(&self, client_now_us: u64) -> Option<u64> {
        let offset = self.offset_us()?;
        u64::try_from(i128::from(client_now_us) + i128::from(offset)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_exchange_gives_exact_offset() {
        // Server 1 s ahead; 20 ms each way; 1 ms processing.
        let sample = clock_sample(1_000_000, 2_020_000, 2_021_000, 1_041_000).unwrap();
        assert_eq!(
            sample,
            ClockSample {
                rtt_us: 40_000,
                offset_us: 1_000_000
            }
        );
        assert_eq!(clock_sample(10, 5, 4, 20), None, "server send before receive");
        assert_eq!(clock_sample(10, 5, 6, 9), None, "client receive before send");
    }

    #[test]
    fn converges_within_a_few_ms_under_jitter() {
        let true_offset_us: i64 = 3_456_789;
        let mut random = 0x5eed_u64;
        let mut next = || {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            random
        };
        let mut clock = ClockSync::default();
        let mut client_now: u64 = 50_000_000;
        for _ in 0..CLOCK_SAMPLES_MAX {
            // 30 ms base each way plus 0..40 ms of independent jitter, skewed towards small values
            // like queueing delay; 0..3 ms server processing.
            let mut jitter = || (next() % 200) * (next() % 200);
            let up = 30_000 + jitter();
            let down = 30_000 + jitter();
            let processing = next() % 3_000;
            let t0 = client_now;
            let t1 = (t0 + up) as i64 + true_offset_us;
            let t2 = t1 + processing as i64;
            let t3 = t0 + up + processing + down;
            assert!(clock.add(t0, t1 as u64, t2 as u64, t3));
            client_now += 100_000;
        }
        let error_us = (clock.offset_us().unwrap() - true_offset_us).abs();
        assert!(error_us <= 3_000, "offset error {error_us} us");
        assert!(clock.rtt_us().unwrap() >= 30_000);
        let server_now = clock.server_time_us(client_now).unwrap() as i64;
        assert!((server_now - (client_now as i64 + true_offset_us)).abs() <= 3_000);
    }
}
