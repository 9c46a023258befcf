// Clock sync (PROTOCOL.md §3 "Clock sync", §4.9): samples from the client's pings, the estimate is
// the offset of the lowest-RTT sample among the last 16.

export const CLOCK_SAMPLES_MAX = 16;
export const PING_RTT_MAX_US = 10_000_000;

/**
 * One sample from t0 (ping sent, client), t1/t2 (server receive/send), t3 (pong received, client),
 * all µs: `{rttUs, offsetUs}` (offset = server − client, truncated towards zero) or null if discarded.
 * Times are µs since 1970 (≈ 2^50), inside a double's exact integer range, so Number arithmetic is exact.
 */
export function clockSample(t0, t1, t2, t3) {
  if (t2 < t1 || t3 < t0) return null;
  const rttUs = t3 - t0 - (t2 - t1);
  if (rttUs < 0 || rttUs > PING_RTT_MAX_US) return null;
  const offsetUs = Math.trunc((t1 - t0 + (t2 - t3)) / 2);
  return { rttUs, offsetUs };
}

export class ClockSync {
  constructor() {
    this.samples = [];
  }
  add(t0, t1, t2, t3) {
    const sample = clockSample(t0, t1, t2, t3);
    if (!sample) return false;
    this.samples.push(sample);
    if (this.samples.length > CLOCK_SAMPLES_MAX) this.samples.shift();
    return true;
  }
  best() {
    let best = null;
    for (const s of this.samples) if (!best || s.rttUs < best.rttUs) best = s;
    return best;
  }
  /** Server minus client, µs; null before the first sample. */
  offsetUs() {
    return this.best()?.offsetUs ?? null;
  }
  rttUs() {
    return this.best()?.rttUs ?? null;
  }
  serverTimeUs(clientNowUs) {
    const offset = this.offsetUs();
    return offset === null ? null : clientNowUs + offset;
  }
}
