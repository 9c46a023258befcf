// Byte helpers shared by the decoders. Every decoder in this directory is total: it returns a
// `{ ok: true, value }` or `{ ok: false, error }` result and never throws on any input (PROTOCOL.md
// conventions). Internally a `Reader` throws `DecodeError`, which `decodeWith` turns into a result,
// so one bounds check per read covers every layout.

export class DecodeError extends Error {
  constructor(label) {
    super(label);
    this.label = label;
  }
}

export const ok = (value) => ({ ok: true, value });
export const err = (error) => ({ ok: false, error });

/** Runs `decode(reader)` over `bytes`; any `DecodeError` (or unexpected exception) becomes an error result. */
export function decodeWith(bytes, truncatedLabel, decode) {
  try {
    if (!(bytes instanceof Uint8Array)) return err('not_bytes');
    return ok(decode(new Reader(bytes, truncatedLabel)));
  } catch (error) {
    if (error instanceof DecodeError) return err(error.label);
    return err(`internal: ${error && error.message}`);
  }
}

export class Reader {
  constructor(bytes, truncatedLabel = 'truncated') {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
    this.truncatedLabel = truncatedLabel;
  }
  remaining() {
    return this.bytes.length - this.offset;
  }
  need(n) {
    if (this.offset + n > this.bytes.length) throw new DecodeError(this.truncatedLabel);
  }
  u8() {
    this.need(1);
    return this.bytes[this.offset++];
  }
  i8() {
    this.need(1);
    return this.view.getInt8(this.offset++);
  }
  u16() {
    this.need(2);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  i16() {
    this.need(2);
    const v = this.view.getInt16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32() {
    this.need(4);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  /** u64 as a BigInt (ids, keys). */
  u64big() {
    this.need(8);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
  /** u64 as a Number: for times in µs and sequences, which stay far below 2^53. */
  u64() {
    return Number(this.u64big());
  }
  take(n) {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  rest() {
    return this.take(this.remaining());
  }
}

export class Writer {
  constructor(capacity = 64) {
    this.bytes = new Uint8Array(capacity);
    this.length = 0;
  }
  grow(n) {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }
  u8(v) {
    this.grow(1);
    this.bytes[this.length++] = v & 0xff;
    return this;
  }
  u16(v) {
    this.grow(2);
    new DataView(this.bytes.buffer).setUint16(this.length, v, true);
    this.length += 2;
    return this;
  }
  i16(v) {
    this.grow(2);
    new DataView(this.bytes.buffer).setInt16(this.length, v, true);
    this.length += 2;
    return this;
  }
  u32(v) {
    this.grow(4);
    new DataView(this.bytes.buffer).setUint32(this.length, v >>> 0, true);
    this.length += 4;
    return this;
  }
  /** Accepts a Number or a BigInt. */
  u64(v) {
    this.grow(8);
    new DataView(this.bytes.buffer).setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
    return this;
  }
  raw(bytes) {
    this.grow(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }
  finish() {
    return this.bytes.slice(0, this.length);
  }
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Parses hex, ignoring whitespace (so spec blocks can be pasted as they are). */
export function fromHex(text) {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error('bad hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
