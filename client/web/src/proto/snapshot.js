// Snapshot payloads (PROTOCOL.md §5): an LSB-first bit reader, Exp-Golomb codes, and the receiver
// that decodes full and delta snapshots against the 32 newest decoded worlds. Decoding is
// transactional: on any error the receiver is unchanged.

import { DecodeError, err, ok } from './bytes.js';

export const TICK_BITS = 32;
export const BASELINE_AGE_BITS = 5;
export const POSITION_BITS = 20;
export const POSITION_Q_MAX = (1 << 20) - 1;
export const POSITION_UNITS_PER_M = 64;
export const POSITION_OFFSET_M = 8192;
export const YAW_BITS = 10;
export const VELOCITY_BITS = 12;
export const VELOCITY_UNITS_PER_M_S = 32;
export const VELOCITY_Q_MIN = -2048;
export const KIND_BITS = 2;
export const ENTRY_COUNT_BITS = 8;
export const SNAPSHOT_ENTITIES_MAX = 128;
export const SNAPSHOT_HISTORY_MAX = 32;
export const SNAPSHOT_TICK_US = 50_000;
export const EXP_GOLOMB_ZEROS_MAX = 40;
export const PAYLOAD_BYTES_MAX = 1200;

export const EntityKind = Object.freeze({ Player: 0, Npc: 1, Loot: 2 });
const KIND_NAMES = ['player', 'npc', 'loot'];

export class BitReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.bit = 0;
  }
  readBit() {
    if (this.bit >= this.bytes.length * 8) throw new DecodeError('truncated');
    const value = (this.bytes[this.bit >> 3] >> (this.bit & 7)) & 1;
    this.bit++;
    return value;
  }
  /** Up to 52 bits as a Number, LSB first. */
  readBits(width) {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < width; i++) {
      if (this.readBit()) value += scale;
      scale *= 2;
    }
    return value;
  }
  readExpGolomb(k) {
    let zeros = 0;
    while (this.readBit() === 0) {
      zeros++;
      if (zeros > EXP_GOLOMB_ZEROS_MAX) throw new DecodeError('exp_golomb_too_long');
    }
    const rest = this.readBits(zeros + k);
    return 2 ** (zeros + k) + rest - 2 ** k;
  }
  readSignedExpGolomb(k) {
    const u = this.readExpGolomb(k);
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }
  /** The rest of the last byte must be zero and no byte may follow. */
  finish() {
    const used = Math.ceil(this.bit / 8);
    if (used < this.bytes.length) throw new DecodeError('trailing_bytes');
    while (this.bit < this.bytes.length * 8) if (this.readBit()) throw new DecodeError('padding_not_zero');
  }
}

function readFullRecord(r) {
  const kind = r.readBits(KIND_BITS);
  if (kind === 3) throw new DecodeError('entity_kind_invalid');
  const position = [r.readBits(POSITION_BITS), r.readBits(POSITION_BITS), r.readBits(POSITION_BITS)];
  const yaw = r.readBits(YAW_BITS);
  const velocity = [0, 0, 0].map(() => r.readBits(VELOCITY_BITS) + VELOCITY_Q_MIN);
  const health = r.readBits(16);
  const flags = r.readBits(16);
  return { kind, position, yaw, velocity, health, flags };
}

function roundHalfAway(n, d) {
  return n >= 0 ? Math.floor((n + Math.floor(d / 2)) / d) : -Math.floor((-n + Math.floor(d / 2)) / d);
}

/** The codec's position prediction in units (integers, so both ends agree). */
export function predictedPosition(baseline, ageTicks, axis) {
  const numerator = baseline.velocity[axis] * ageTicks * SNAPSHOT_TICK_US * POSITION_UNITS_PER_M;
  return baseline.position[axis] + roundHalfAway(numerator, VELOCITY_UNITS_PER_M_S * 1_000_000);
}

function readUpdate(r, baseline, age) {
  const fields = r.readBit() ? 1 : r.readBits(5);
  const state = { ...baseline, position: baseline.position.slice(), velocity: baseline.velocity.slice() };
  if (fields & 1) {
    for (let axis = 0; axis < 3; axis++) {
      const position = predictedPosition(baseline, age, axis) + r.readSignedExpGolomb(0);
      if (position < 0 || position > POSITION_Q_MAX) throw new DecodeError('position_out_of_range');
      state.position[axis] = position;
    }
  }
  if (fields & 2) state.yaw = r.readBits(YAW_BITS);
  if (fields & 4) state.velocity = [0, 0, 0].map(() => r.readBits(VELOCITY_BITS) + VELOCITY_Q_MIN);
  if (fields & 8) state.health = r.readBits(16);
  if (fields & 16) state.flags = r.readBits(16);
  return state;
}

/** Decodes one payload against `history` (Map tick → Map id → quantised state); returns {tick, world}. */
export function decodeSnapshot(history, payload) {
  try {
    if (!(payload instanceof Uint8Array)) return err('not_bytes');
    if (payload.length > PAYLOAD_BYTES_MAX) return err('payload_too_large');
    const r = new BitReader(payload);
    const tick = r.readBits(TICK_BITS);
    let baseline = new Map();
    let age = 0;
    if (r.readBit()) {
      age = r.readBits(BASELINE_AGE_BITS) + 1;
      if (tick < age) return err('baseline_before_tick_zero');
      const found = history.get(tick - age);
      if (!found) return err('baseline_unknown');
      baseline = found;
    }
    const world = new Map();
    const ids = [...baseline.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const previous = baseline.get(id);
      if (!r.readBit()) world.set(id, previous);
      else if (!r.readBit()) world.set(id, readUpdate(r, previous, age));
      else if (!r.readBit()) {
        // removed
      } else world.set(id, readFullRecord(r));
    }
    const entries = r.readBits(ENTRY_COUNT_BITS);
    if (world.size + entries > SNAPSHOT_ENTITIES_MAX) return err('too_many_entities');
    let previousId = null;
    for (let i = 0; i < entries; i++) {
      const gap = r.readExpGolomb(2);
      const id = previousId === null ? gap : previousId + gap + 1;
      if (id > 0xffffffff) return err('entity_id_overflow');
      if (baseline.has(id)) return err('entry_in_baseline');
      world.set(id, readFullRecord(r));
      previousId = id;
    }
    r.finish();
    return ok({ tick, delta: age > 0, world: new Map([...world.entries()].sort((a, b) => a[0] - b[0])) });
  } catch (error) {
    if (error instanceof DecodeError) return err(error.label);
    return err(`internal: ${error && error.message}`);
  }
}

/** A quantised state in world units: metres, radians, m/s. */
export function dequantise(id, q) {
  return {
    id,
    kind: KIND_NAMES[q.kind],
    position: q.position.map((u) => u / POSITION_UNITS_PER_M - POSITION_OFFSET_M),
    yaw: (q.yaw / 1024) * 2 * Math.PI,
    velocity: q.velocity.map((u) => u / VELOCITY_UNITS_PER_M_S),
    health: q.health,
    flags: q.flags,
  };
}

/** The client half of §5: the 32 newest decoded worlds, and the newest one as the visible world. */
export class SnapshotReceiver {
  constructor() {
    this.history = new Map();
    this.latestTick = null;
    this.world = new Map(); // id → dequantised state
    this.applied = { full: 0, delta: 0 };
  }
  /** `{ok, value: tick}`; on error nothing changes. */
  apply(payload) {
    const decoded = decodeSnapshot(this.history, payload);
    if (!decoded.ok) return decoded;
    const { tick, world, delta } = decoded.value;
    this.applied[delta ? 'delta' : 'full']++;
    this.history.set(tick, world);
    if (this.history.size > SNAPSHOT_HISTORY_MAX) this.history.delete(Math.min(...this.history.keys()));
    const stored = this.history.has(tick);
    if (stored && (this.latestTick === null || tick > this.latestTick)) {
      this.latestTick = tick;
      this.world = new Map([...world].map(([id, q]) => [id, dequantise(id, q)]));
    }
    return ok(tick);
  }
}
