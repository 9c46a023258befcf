// Interpolation of remote entities (PROTOCOL.md §4.5): drawn `delayUs` (100 ms) in the past, between
// the two snapshots around that time. A snapshot's time is estimated on the client's own clock as
// `tick · interval + base`, with `base` the lowest `arrival − tick · interval` seen recently (the
// least-delayed arrival is the best estimate of when the tick was sent), so jitter does not shake
// the picture and the clock offset cancels out.

export const INTERPOLATION_SNAPSHOTS_MAX = 32;

export class Interpolator {
  constructor(tickIntervalUs = 50_000, delayUs = 100_000) {
    this.tickIntervalUs = tickIntervalUs;
    this.delayUs = delayUs;
    this.snapshots = []; // {tick, world (Map id → state)}, ascending tick
    this.bases = []; // recent arrival − tick · interval
  }

  push(tick, world, arrivalUs) {
    const last = this.snapshots[this.snapshots.length - 1];
    if (last && tick <= last.tick) return;
    if (last && tick - last.tick > 64) {
      this.snapshots = []; // a jump (another zone, a long stall): start over
      this.bases = [];
    }
    this.snapshots.push({ tick, world });
    if (this.snapshots.length > INTERPOLATION_SNAPSHOTS_MAX) this.snapshots.shift();
    this.bases.push(arrivalUs - tick * this.tickIntervalUs);
    if (this.bases.length > 40) this.bases.shift(); // two seconds at 20 Hz: follows clock drift
  }

  timeOf(tick) {
    return tick * this.tickIntervalUs + Math.min(...this.bases);
  }

  /** Remote entities as drawn at client time `nowUs`: [{...state, position}] (own entity excluded). */
  sample(nowUs, ownEntity) {
    if (!this.snapshots.length) return [];
    const renderUs = nowUs - this.delayUs;
    let older = this.snapshots[0];
    let newer = null;
    for (const s of this.snapshots) {
      if (this.timeOf(s.tick) <= renderUs) older = s;
      else {
        newer = s;
        break;
      }
    }
    if (this.timeOf(older.tick) > renderUs) newer = null; // before the oldest: hold it
    const t0 = this.timeOf(older.tick);
    const alpha = newer ? Math.min(1, Math.max(0, (renderUs - t0) / (this.timeOf(newer.tick) - t0))) : 0;
    const out = [];
    for (const [id, a] of older.world) {
      if (id === ownEntity) continue;
      const b = newer?.world.get(id);
      const position = b ? a.position.map((p, i) => p + (b.position[i] - p) * alpha) : a.position;
      out.push({ ...a, position });
    }
    return out;
  }
}
