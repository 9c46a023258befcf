// src/proto/clock.js
var CLOCK_SAMPLES_MAX = 16;
var PING_RTT_MAX_US = 1e7;
function clockSample(t0, t1, t2, t3) {
  if (t2 < t1 || t3 < t0) return null;
  const rttUs = t3 - t0 - (t2 - t1);
  if (rttUs < 0 || rttUs > PING_RTT_MAX_US) return null;
  const offsetUs = Math.trunc((t1 - t0 + (t2 - t3)) / 2);
  return { rttUs, offsetUs };
}
var ClockSync = class {
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
};

// src/proto/bytes.js
var DecodeError = class extends Error {
  constructor(label) {
    super(label);
    this.label = label;
  }
};
var ok = (value) => ({ ok: true, value });
var err = (error) => ({ ok: false, error });
function decodeWith(bytes, truncatedLabel, decode) {
  try {
    if (!(bytes instanceof Uint8Array)) return err("not_bytes");
    return ok(decode(new Reader(bytes, truncatedLabel)));
  } catch (error) {
    if (error instanceof DecodeError) return err(error.label);
    return err(`internal: ${error && error.message}`);
  }
}
var Reader = class {
  constructor(bytes, truncatedLabel = "truncated") {
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
};
var Writer = class {
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
    this.bytes[this.length++] = v & 255;
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
};

// node_modules/@noble/ciphers/utils.js
function isBytes(a) {
  return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a && a.BYTES_PER_ELEMENT === 1;
}
var atitle = (title) => title ? `"${title}" ` : "";
function abool(value, title = "") {
  if (typeof value !== "boolean")
    throw new TypeError(atitle(title) + "expected boolean, got type=" + typeof value);
  return value;
}
function anumber(n, title = "") {
  if (typeof n !== "number")
    throw new TypeError(atitle(title) + "expected number, got " + typeof n);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(atitle(title) + "expected integer >= 0, got " + n);
  return n;
}
function abytes(value, length, title = "") {
  if (isBytes(value) && (length === void 0 || value.length === length))
    return value;
  if (length !== void 0)
    anumber(length, "length");
  const bytes = isBytes(value);
  const ofLen = length !== void 0 ? ` of length ${length}` : "";
  const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
  const message = atitle(title) + "expected Uint8Array" + ofLen + ", got " + got;
  if (!bytes)
    throw new TypeError(message);
  throw new RangeError(message);
}
var aobject = (value, label) => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError(label === "object" ? "expected valid options object" : `"${label}" expected object, got type=${typeof value}`);
};
function aexists(instance, checkFinished = true) {
  if (instance.destroyed)
    throw new Error("hash was destroyed");
  if (checkFinished && instance.finished)
    throw new Error("digest() was already called");
}
function aoutput(out, instance) {
  abytes(out, void 0, "output");
  const min = instance.outputLen;
  if (!(out.length >= min)) {
    throw new RangeError('"output" expected length >= ' + min);
  }
}
function u32(arr) {
  return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
}
function clean(...arrays) {
  for (let i = 0; i < arrays.length; i++) {
    arrays[i].fill(0);
  }
}
function createView(arr) {
  return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
}
var isLE = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
function byteSwap(word) {
  return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
}
function byteSwap32(arr) {
  for (let i = 0; i < arr.length; i++) {
    arr[i] = byteSwap(arr[i]);
  }
  return arr;
}
var swap32IfBE = isLE ? (u) => u : byteSwap32;
function overlapBytes(a, b) {
  if (!a.byteLength || !b.byteLength)
    return false;
  return a.buffer === b.buffer && // best we can do, may fail with an obscure Proxy
  a.byteOffset < b.byteOffset + b.byteLength && // a starts before b end
  b.byteOffset < a.byteOffset + a.byteLength;
}
function complexOverlapBytes(input, output) {
  if (overlapBytes(input, output) && input.byteOffset < output.byteOffset)
    throw new Error("complex overlap of input and output is not supported");
}
function checkOpts(defaults, opts) {
  aobject(defaults, "defaults");
  aobject(opts, "opts");
  const merged = Object.assign(defaults, opts);
  return merged;
}
function equalBytes(a, b) {
  a = abytes(a);
  b = abytes(b);
  if (a.length !== b.length)
    return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++)
    diff |= a[i] ^ b[i];
  return diff === 0;
}
function wrapMacConstructor(keyLen, macCons, fromMsg) {
  const mac = macCons;
  const getArgs = fromMsg || (() => []);
  const macC = (msg, key) => mac(key, ...getArgs(msg)).update(msg).digest();
  const tmp = mac(new Uint8Array(keyLen), ...getArgs(new Uint8Array(0)));
  macC.outputLen = tmp.outputLen;
  macC.blockLen = tmp.blockLen;
  macC.create = (key, ...args) => mac(key, ...args);
  return macC;
}
var wrapCipher = /* @__NO_SIDE_EFFECTS__ */ (params, constructor) => {
  function wrappedCipher(key, ...args) {
    abytes(key, void 0, "key");
    if (params.nonceLength !== void 0) {
      const nonce = args[0];
      abytes(nonce, params.varSizeNonce ? void 0 : params.nonceLength, "nonce");
    }
    const tagl = params.tagLength;
    const aadStart = params.nonceLength !== void 0 ? 1 : 0;
    if (!params.withAAD) {
      for (let i = aadStart; i < args.length; i++)
        if (isBytes(args[i]))
          throw new Error("AAD not supported");
    }
    if (params.withAAD && args[aadStart] !== void 0)
      abytes(args[aadStart], void 0, "AAD");
    const cipher = constructor(key, ...args);
    const checkOutput = (fnLength, output) => {
      if (output !== void 0) {
        if (fnLength !== 2)
          throw new Error("cipher output not supported");
        abytes(output, void 0, "output");
      }
    };
    let called = false;
    const wrCipher = {
      encrypt(data, output) {
        if (called)
          throw new Error("cannot encrypt() twice with same key + nonce");
        called = true;
        abytes(data, void 0, "data");
        checkOutput(cipher.encrypt.length, output);
        return cipher.encrypt(data, output);
      },
      decrypt(data, output) {
        abytes(data, void 0, "data");
        if (tagl && data.length < tagl)
          throw new Error('"ciphertext" expected length >= tagLength=' + tagl);
        checkOutput(cipher.decrypt.length, output);
        return cipher.decrypt(data, output);
      }
    };
    return wrCipher;
  }
  Object.assign(wrappedCipher, params);
  return wrappedCipher;
};
function getOutput(expectedLength, out, onlyAligned = true) {
  if (out === void 0)
    return new Uint8Array(expectedLength);
  abytes(out, expectedLength, "output");
  if (onlyAligned && !isAligned32(out))
    throw new Error("invalid output, must be aligned");
  return out;
}
function u64Lengths(dataLength, aadLength, isLE2) {
  anumber(dataLength);
  anumber(aadLength);
  abool(isLE2);
  const num = new Uint8Array(16);
  const view = createView(num);
  view.setBigUint64(0, BigInt(aadLength), isLE2);
  view.setBigUint64(8, BigInt(dataLength), isLE2);
  return num;
}
function isAligned32(bytes) {
  return bytes.byteOffset % 4 === 0;
}
function copyBytes(bytes) {
  return Uint8Array.from(abytes(bytes));
}

// node_modules/@noble/ciphers/_arx.js
var encodeStr = (str) => Uint8Array.from(str.split(""), (c) => c.charCodeAt(0));
var sigma16_32 = /* @__PURE__ */ (() => swap32IfBE(u32(encodeStr("expand 16-byte k"))))();
var sigma32_32 = /* @__PURE__ */ (() => swap32IfBE(u32(encodeStr("expand 32-byte k"))))();
function rotl(a, b) {
  return a << b | a >>> 32 - b;
}
var BLOCK_LEN = 64;
var BLOCK_LEN32 = 16;
var MAX_COUNTER = /* @__PURE__ */ (() => 2 ** 32 - 1)();
var U32_EMPTY = /* @__PURE__ */ Uint32Array.of();
function runCipher(core, sigma, key, nonce, data, output, counter, rounds) {
  const len = data.length;
  const block = new Uint8Array(BLOCK_LEN);
  const b32 = u32(block);
  const isAligned = isLE && isAligned32(data) && isAligned32(output);
  const d32 = isAligned ? u32(data) : U32_EMPTY;
  const o32 = isAligned ? u32(output) : U32_EMPTY;
  if (!isLE) {
    for (let pos = 0; pos < len; counter++) {
      core(sigma, key, nonce, b32, counter, rounds);
      swap32IfBE(b32);
      if (counter >= MAX_COUNTER)
        throw new Error("arx: counter overflow");
      const take = Math.min(BLOCK_LEN, len - pos);
      for (let j = 0, posj; j < take; j++) {
        posj = pos + j;
        output[posj] = data[posj] ^ block[j];
      }
      pos += take;
    }
    return;
  }
  for (let pos = 0; pos < len; counter++) {
    core(sigma, key, nonce, b32, counter, rounds);
    if (counter >= MAX_COUNTER)
      throw new Error("arx: counter overflow");
    const take = Math.min(BLOCK_LEN, len - pos);
    if (isAligned && take === BLOCK_LEN) {
      const pos32 = pos / 4;
      if (pos % 4 !== 0)
        throw new Error("arx: invalid block position");
      for (let j = 0, posj; j < BLOCK_LEN32; j++) {
        posj = pos32 + j;
        o32[posj] = d32[posj] ^ b32[j];
      }
      pos += BLOCK_LEN;
      continue;
    }
    for (let j = 0, posj; j < take; j++) {
      posj = pos + j;
      output[posj] = data[posj] ^ block[j];
    }
    pos += take;
  }
}
function createCipher(core, opts) {
  const { allowShortKeys, extendNonceFn, counterLength, counterRight, rounds } = checkOpts({ allowShortKeys: false, counterLength: 8, counterRight: false, rounds: 20 }, opts);
  if (typeof core !== "function")
    throw new Error("core must be a function");
  anumber(counterLength);
  anumber(rounds);
  abool(counterRight);
  abool(allowShortKeys);
  return (key, nonce, data, output, counter = 0) => {
    abytes(key, void 0, "key");
    abytes(nonce, void 0, "nonce");
    abytes(data, void 0, "data");
    const len = data.length;
    const hasOutput = output !== void 0;
    output = getOutput(len, output, false);
    if (hasOutput)
      complexOverlapBytes(data, output);
    anumber(counter);
    if (counter < 0 || counter >= MAX_COUNTER)
      throw new Error("arx: counter overflow");
    const toClean = [];
    let l = key.length;
    let k;
    let sigma;
    if (l === 32) {
      toClean.push(k = copyBytes(key));
      sigma = sigma32_32;
    } else if (l === 16 && allowShortKeys) {
      k = new Uint8Array(32);
      k.set(key);
      k.set(key, 16);
      sigma = sigma16_32;
      toClean.push(k);
    } else {
      abytes(key, 32, "arx key");
      throw new Error("invalid key size");
    }
    if (!isLE || !isAligned32(nonce))
      toClean.push(nonce = copyBytes(nonce));
    let k32 = u32(k);
    if (extendNonceFn) {
      if (nonce.length !== 24)
        throw new Error("arx: extended nonce must be 24 bytes");
      const n16 = nonce.subarray(0, 16);
      if (isLE)
        extendNonceFn(sigma, k32, u32(n16), k32);
      else {
        const sigmaRaw = swap32IfBE(Uint32Array.from(sigma));
        extendNonceFn(sigmaRaw, k32, u32(n16), k32);
        clean(sigmaRaw);
        swap32IfBE(k32);
      }
      nonce = nonce.subarray(16);
    } else if (!isLE)
      swap32IfBE(k32);
    const nonceNcLen = 16 - counterLength;
    if (nonceNcLen !== nonce.length)
      throw new Error(`arx: nonce must be ${nonceNcLen} or 16 bytes`);
    if (nonceNcLen !== 12) {
      const nc = new Uint8Array(12);
      nc.set(nonce, counterRight ? 0 : 12 - nonce.length);
      nonce = nc;
      toClean.push(nonce);
    }
    const n32 = swap32IfBE(u32(nonce));
    try {
      runCipher(core, sigma, k32, n32, data, output, counter, rounds);
      return output;
    } finally {
      clean(...toClean);
    }
  };
}

// node_modules/@noble/ciphers/_poly1305.js
function u8to16(a, i) {
  return a[i++] & 255 | (a[i++] & 255) << 8;
}
var Poly1305 = class {
  blockLen = 16;
  outputLen = 16;
  buffer = new Uint8Array(16);
  r = new Uint16Array(10);
  // Allocating 1 array with .subarray() here is slower than 3
  h = new Uint16Array(10);
  pad = new Uint16Array(8);
  pos = 0;
  finished = false;
  destroyed = false;
  // Can be speed-up using BigUint64Array, at the cost of complexity
  constructor(key) {
    key = copyBytes(abytes(key, 32, "key"));
    const t0 = u8to16(key, 0);
    const t1 = u8to16(key, 2);
    const t2 = u8to16(key, 4);
    const t3 = u8to16(key, 6);
    const t4 = u8to16(key, 8);
    const t5 = u8to16(key, 10);
    const t6 = u8to16(key, 12);
    const t7 = u8to16(key, 14);
    this.r[0] = t0 & 8191;
    this.r[1] = (t0 >>> 13 | t1 << 3) & 8191;
    this.r[2] = (t1 >>> 10 | t2 << 6) & 7939;
    this.r[3] = (t2 >>> 7 | t3 << 9) & 8191;
    this.r[4] = (t3 >>> 4 | t4 << 12) & 255;
    this.r[5] = t4 >>> 1 & 8190;
    this.r[6] = (t4 >>> 14 | t5 << 2) & 8191;
    this.r[7] = (t5 >>> 11 | t6 << 5) & 8065;
    this.r[8] = (t6 >>> 8 | t7 << 8) & 8191;
    this.r[9] = t7 >>> 5 & 127;
    for (let i = 0; i < 8; i++)
      this.pad[i] = u8to16(key, 16 + 2 * i);
  }
  process(data, offset, isLast = false) {
    const hibit = isLast ? 0 : 1 << 11;
    const { h, r } = this;
    const r0 = r[0];
    const r1 = r[1];
    const r2 = r[2];
    const r3 = r[3];
    const r4 = r[4];
    const r5 = r[5];
    const r6 = r[6];
    const r7 = r[7];
    const r8 = r[8];
    const r9 = r[9];
    const t0 = u8to16(data, offset + 0);
    const t1 = u8to16(data, offset + 2);
    const t2 = u8to16(data, offset + 4);
    const t3 = u8to16(data, offset + 6);
    const t4 = u8to16(data, offset + 8);
    const t5 = u8to16(data, offset + 10);
    const t6 = u8to16(data, offset + 12);
    const t7 = u8to16(data, offset + 14);
    let h0 = h[0] + (t0 & 8191);
    let h1 = h[1] + ((t0 >>> 13 | t1 << 3) & 8191);
    let h2 = h[2] + ((t1 >>> 10 | t2 << 6) & 8191);
    let h3 = h[3] + ((t2 >>> 7 | t3 << 9) & 8191);
    let h4 = h[4] + ((t3 >>> 4 | t4 << 12) & 8191);
    let h5 = h[5] + (t4 >>> 1 & 8191);
    let h6 = h[6] + ((t4 >>> 14 | t5 << 2) & 8191);
    let h7 = h[7] + ((t5 >>> 11 | t6 << 5) & 8191);
    let h8 = h[8] + ((t6 >>> 8 | t7 << 8) & 8191);
    let h9 = h[9] + (t7 >>> 5 | hibit);
    let c = 0;
    let d0 = c + h0 * r0 + h1 * (5 * r9) + h2 * (5 * r8) + h3 * (5 * r7) + h4 * (5 * r6);
    c = d0 >>> 13;
    d0 &= 8191;
    d0 += h5 * (5 * r5) + h6 * (5 * r4) + h7 * (5 * r3) + h8 * (5 * r2) + h9 * (5 * r1);
    c += d0 >>> 13;
    d0 &= 8191;
    let d1 = c + h0 * r1 + h1 * r0 + h2 * (5 * r9) + h3 * (5 * r8) + h4 * (5 * r7);
    c = d1 >>> 13;
    d1 &= 8191;
    d1 += h5 * (5 * r6) + h6 * (5 * r5) + h7 * (5 * r4) + h8 * (5 * r3) + h9 * (5 * r2);
    c += d1 >>> 13;
    d1 &= 8191;
    let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * (5 * r9) + h4 * (5 * r8);
    c = d2 >>> 13;
    d2 &= 8191;
    d2 += h5 * (5 * r7) + h6 * (5 * r6) + h7 * (5 * r5) + h8 * (5 * r4) + h9 * (5 * r3);
    c += d2 >>> 13;
    d2 &= 8191;
    let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * (5 * r9);
    c = d3 >>> 13;
    d3 &= 8191;
    d3 += h5 * (5 * r8) + h6 * (5 * r7) + h7 * (5 * r6) + h8 * (5 * r5) + h9 * (5 * r4);
    c += d3 >>> 13;
    d3 &= 8191;
    let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
    c = d4 >>> 13;
    d4 &= 8191;
    d4 += h5 * (5 * r9) + h6 * (5 * r8) + h7 * (5 * r7) + h8 * (5 * r6) + h9 * (5 * r5);
    c += d4 >>> 13;
    d4 &= 8191;
    let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
    c = d5 >>> 13;
    d5 &= 8191;
    d5 += h5 * r0 + h6 * (5 * r9) + h7 * (5 * r8) + h8 * (5 * r7) + h9 * (5 * r6);
    c += d5 >>> 13;
    d5 &= 8191;
    let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
    c = d6 >>> 13;
    d6 &= 8191;
    d6 += h5 * r1 + h6 * r0 + h7 * (5 * r9) + h8 * (5 * r8) + h9 * (5 * r7);
    c += d6 >>> 13;
    d6 &= 8191;
    let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
    c = d7 >>> 13;
    d7 &= 8191;
    d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * (5 * r9) + h9 * (5 * r8);
    c += d7 >>> 13;
    d7 &= 8191;
    let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
    c = d8 >>> 13;
    d8 &= 8191;
    d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * (5 * r9);
    c += d8 >>> 13;
    d8 &= 8191;
    let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
    c = d9 >>> 13;
    d9 &= 8191;
    d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
    c += d9 >>> 13;
    d9 &= 8191;
    c = (c << 2) + c | 0;
    c = c + d0 | 0;
    d0 = c & 8191;
    c = c >>> 13;
    d1 += c;
    h[0] = d0;
    h[1] = d1;
    h[2] = d2;
    h[3] = d3;
    h[4] = d4;
    h[5] = d5;
    h[6] = d6;
    h[7] = d7;
    h[8] = d8;
    h[9] = d9;
  }
  finalize() {
    const { h, pad } = this;
    const g = new Uint16Array(10);
    let c = h[1] >>> 13;
    h[1] &= 8191;
    for (let i = 2; i < 10; i++) {
      h[i] += c;
      c = h[i] >>> 13;
      h[i] &= 8191;
    }
    h[0] += c * 5;
    c = h[0] >>> 13;
    h[0] &= 8191;
    h[1] += c;
    c = h[1] >>> 13;
    h[1] &= 8191;
    h[2] += c;
    g[0] = h[0] + 5;
    c = g[0] >>> 13;
    g[0] &= 8191;
    for (let i = 1; i < 10; i++) {
      g[i] = h[i] + c;
      c = g[i] >>> 13;
      g[i] &= 8191;
    }
    g[9] -= 1 << 13;
    let mask = (c ^ 1) - 1;
    for (let i = 0; i < 10; i++)
      g[i] &= mask;
    mask = ~mask;
    for (let i = 0; i < 10; i++)
      h[i] = h[i] & mask | g[i];
    h[0] = (h[0] | h[1] << 13) & 65535;
    h[1] = (h[1] >>> 3 | h[2] << 10) & 65535;
    h[2] = (h[2] >>> 6 | h[3] << 7) & 65535;
    h[3] = (h[3] >>> 9 | h[4] << 4) & 65535;
    h[4] = (h[4] >>> 12 | h[5] << 1 | h[6] << 14) & 65535;
    h[5] = (h[6] >>> 2 | h[7] << 11) & 65535;
    h[6] = (h[7] >>> 5 | h[8] << 8) & 65535;
    h[7] = (h[8] >>> 8 | h[9] << 5) & 65535;
    let f2 = h[0] + pad[0];
    h[0] = f2 & 65535;
    for (let i = 1; i < 8; i++) {
      f2 = (h[i] + pad[i] | 0) + (f2 >>> 16) | 0;
      h[i] = f2 & 65535;
    }
    clean(g);
  }
  update(data) {
    aexists(this);
    abytes(data);
    data = copyBytes(data);
    const { buffer, blockLen } = this;
    const len = data.length;
    for (let pos = 0; pos < len; ) {
      const take = Math.min(blockLen - this.pos, len - pos);
      if (take === blockLen) {
        for (; blockLen <= len - pos; pos += blockLen)
          this.process(data, pos);
        continue;
      }
      buffer.set(data.subarray(pos, pos + take), this.pos);
      this.pos += take;
      pos += take;
      if (this.pos === blockLen) {
        this.process(buffer, 0, false);
        this.pos = 0;
      }
    }
    return this;
  }
  destroy() {
    this.destroyed = true;
    clean(this.h, this.r, this.buffer, this.pad);
  }
  digestInto(out) {
    aexists(this);
    aoutput(out, this);
    this.finished = true;
    const { buffer, h } = this;
    let { pos } = this;
    if (pos) {
      buffer[pos++] = 1;
      for (; pos < 16; pos++)
        buffer[pos] = 0;
      this.process(buffer, 0, true);
    }
    this.finalize();
    let opos = 0;
    for (let i = 0; i < 8; i++) {
      out[opos++] = h[i] >>> 0;
      out[opos++] = h[i] >>> 8;
    }
  }
  digest() {
    const { buffer, outputLen } = this;
    this.digestInto(buffer);
    const res = buffer.slice(0, outputLen);
    this.destroy();
    return res;
  }
};
var poly1305 = /* @__PURE__ */ wrapMacConstructor(32, (key) => new Poly1305(key));

// node_modules/@noble/ciphers/chacha.js
function chachaCore(s, k, n, out, cnt, rounds = 20) {
  let y00 = s[0], y01 = s[1], y02 = s[2], y03 = s[3], y04 = k[0], y05 = k[1], y06 = k[2], y07 = k[3], y08 = k[4], y09 = k[5], y10 = k[6], y11 = k[7], y12 = cnt, y13 = n[0], y14 = n[1], y15 = n[2];
  let x00 = y00, x01 = y01, x02 = y02, x03 = y03, x04 = y04, x05 = y05, x06 = y06, x07 = y07, x08 = y08, x09 = y09, x10 = y10, x11 = y11, x12 = y12, x13 = y13, x14 = y14, x15 = y15;
  for (let r = 0; r < rounds; r += 2) {
    x00 = x00 + x04 | 0;
    x12 = rotl(x12 ^ x00, 16);
    x08 = x08 + x12 | 0;
    x04 = rotl(x04 ^ x08, 12);
    x00 = x00 + x04 | 0;
    x12 = rotl(x12 ^ x00, 8);
    x08 = x08 + x12 | 0;
    x04 = rotl(x04 ^ x08, 7);
    x01 = x01 + x05 | 0;
    x13 = rotl(x13 ^ x01, 16);
    x09 = x09 + x13 | 0;
    x05 = rotl(x05 ^ x09, 12);
    x01 = x01 + x05 | 0;
    x13 = rotl(x13 ^ x01, 8);
    x09 = x09 + x13 | 0;
    x05 = rotl(x05 ^ x09, 7);
    x02 = x02 + x06 | 0;
    x14 = rotl(x14 ^ x02, 16);
    x10 = x10 + x14 | 0;
    x06 = rotl(x06 ^ x10, 12);
    x02 = x02 + x06 | 0;
    x14 = rotl(x14 ^ x02, 8);
    x10 = x10 + x14 | 0;
    x06 = rotl(x06 ^ x10, 7);
    x03 = x03 + x07 | 0;
    x15 = rotl(x15 ^ x03, 16);
    x11 = x11 + x15 | 0;
    x07 = rotl(x07 ^ x11, 12);
    x03 = x03 + x07 | 0;
    x15 = rotl(x15 ^ x03, 8);
    x11 = x11 + x15 | 0;
    x07 = rotl(x07 ^ x11, 7);
    x00 = x00 + x05 | 0;
    x15 = rotl(x15 ^ x00, 16);
    x10 = x10 + x15 | 0;
    x05 = rotl(x05 ^ x10, 12);
    x00 = x00 + x05 | 0;
    x15 = rotl(x15 ^ x00, 8);
    x10 = x10 + x15 | 0;
    x05 = rotl(x05 ^ x10, 7);
    x01 = x01 + x06 | 0;
    x12 = rotl(x12 ^ x01, 16);
    x11 = x11 + x12 | 0;
    x06 = rotl(x06 ^ x11, 12);
    x01 = x01 + x06 | 0;
    x12 = rotl(x12 ^ x01, 8);
    x11 = x11 + x12 | 0;
    x06 = rotl(x06 ^ x11, 7);
    x02 = x02 + x07 | 0;
    x13 = rotl(x13 ^ x02, 16);
    x08 = x08 + x13 | 0;
    x07 = rotl(x07 ^ x08, 12);
    x02 = x02 + x07 | 0;
    x13 = rotl(x13 ^ x02, 8);
    x08 = x08 + x13 | 0;
    x07 = rotl(x07 ^ x08, 7);
    x03 = x03 + x04 | 0;
    x14 = rotl(x14 ^ x03, 16);
    x09 = x09 + x14 | 0;
    x04 = rotl(x04 ^ x09, 12);
    x03 = x03 + x04 | 0;
    x14 = rotl(x14 ^ x03, 8);
    x09 = x09 + x14 | 0;
    x04 = rotl(x04 ^ x09, 7);
  }
  let oi = 0;
  out[oi++] = y00 + x00 | 0;
  out[oi++] = y01 + x01 | 0;
  out[oi++] = y02 + x02 | 0;
  out[oi++] = y03 + x03 | 0;
  out[oi++] = y04 + x04 | 0;
  out[oi++] = y05 + x05 | 0;
  out[oi++] = y06 + x06 | 0;
  out[oi++] = y07 + x07 | 0;
  out[oi++] = y08 + x08 | 0;
  out[oi++] = y09 + x09 | 0;
  out[oi++] = y10 + x10 | 0;
  out[oi++] = y11 + x11 | 0;
  out[oi++] = y12 + x12 | 0;
  out[oi++] = y13 + x13 | 0;
  out[oi++] = y14 + x14 | 0;
  out[oi++] = y15 + x15 | 0;
}
var chacha20 = /* @__PURE__ */ createCipher(chachaCore, {
  counterRight: false,
  counterLength: 4,
  allowShortKeys: false
});
var ZEROS16 = /* @__PURE__ */ new Uint8Array(16);
var updatePadded = (h, msg) => {
  h.update(msg);
  const leftover = msg.length % 16;
  if (leftover)
    h.update(ZEROS16.subarray(leftover));
};
var ZEROS32 = /* @__PURE__ */ new Uint8Array(32);
function computeTag(fn, key, nonce, ciphertext, AAD) {
  if (AAD !== void 0)
    abytes(AAD, void 0, "AAD");
  const authKey = fn(key, nonce, ZEROS32);
  const lengths = u64Lengths(ciphertext.length, AAD ? AAD.length : 0, true);
  const h = poly1305.create(authKey);
  if (AAD)
    updatePadded(h, AAD);
  updatePadded(h, ciphertext);
  h.update(lengths);
  const res = h.digest();
  clean(authKey, lengths);
  return res;
}
var _poly1305_aead = (xorStream) => (key, nonce, AAD) => {
  const tagLength = 16;
  return {
    encrypt(plaintext, output) {
      const plength = plaintext.length;
      output = getOutput(plength + tagLength, output, false);
      output.set(plaintext);
      const oPlain = output.subarray(0, -tagLength);
      xorStream(key, nonce, oPlain, oPlain, 1);
      const tag = computeTag(xorStream, key, nonce, oPlain, AAD);
      output.set(tag, plength);
      clean(tag);
      return output;
    },
    decrypt(ciphertext, output) {
      output = getOutput(ciphertext.length - tagLength, output, false);
      const data = ciphertext.subarray(0, -tagLength);
      const passedTag = ciphertext.subarray(-tagLength);
      const tag = computeTag(xorStream, key, nonce, data, AAD);
      if (!equalBytes(passedTag, tag)) {
        clean(tag);
        throw new Error("invalid tag");
      }
      output.set(ciphertext.subarray(0, -tagLength));
      xorStream(key, nonce, output, output, 1);
      clean(tag);
      return output;
    }
  };
};
var chacha20poly1305 = /* @__PURE__ */ wrapCipher(
  { blockSize: 64, nonceLength: 12, tagLength: 16, withAAD: true },
  /* @__PURE__ */ _poly1305_aead(chacha20)
);

// src/proto/siphash.js
var MASK = (1n << 64n) - 1n;
var rotl2 = (x, b) => (x << b | x >> 64n - b) & MASK;
function readU64(bytes, at) {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = v << 8n | BigInt(bytes[at + i]);
  return v;
}
function siphash24(key, message) {
  if (key.length !== 16) throw new Error("siphash key must be 16 bytes");
  const k0 = readU64(key, 0);
  const k1 = readU64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = v0 + v1 & MASK;
    v1 = rotl2(v1, 13n);
    v1 ^= v0;
    v0 = rotl2(v0, 32n);
    v2 = v2 + v3 & MASK;
    v3 = rotl2(v3, 16n);
    v3 ^= v2;
    v0 = v0 + v3 & MASK;
    v3 = rotl2(v3, 21n);
    v3 ^= v0;
    v2 = v2 + v1 & MASK;
    v1 = rotl2(v1, 17n);
    v1 ^= v2;
    v2 = rotl2(v2, 32n);
  };
  const whole = message.length - message.length % 8;
  for (let at = 0; at < whole; at += 8) {
    const m = readU64(message, at);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  let last = BigInt(message.length & 255) << 56n;
  for (let i = message.length - 1; i >= whole; i--) last |= BigInt(message[i]) << BigInt(8 * (i - whole));
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xffn;
  round();
  round();
  round();
  round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK;
}

// src/proto/packet.js
var MAGIC = 77;
var VERSION = 1;
var DATAGRAM_BYTES_MAX = 1200;
var CONNECTION_REQUEST_BYTES = 1024;
var SEALED_HEADER_BYTES = 26;
var TAG_BYTES = 16;
var SEALED_PLAINTEXT_BYTES_MAX = DATAGRAM_BYTES_MAX - SEALED_HEADER_BYTES - TAG_BYTES;
var REPLAY_WINDOW_PACKETS = 256;
var PacketType = Object.freeze({
  ConnectionRequest: 0,
  Challenge: 1,
  Response: 2,
  Payload: 3,
  Disconnect: 4
});
var DisconnectReason = Object.freeze({
  Unspecified: 0,
  UnknownZone: 1,
  ZoneFull: 2,
  ServerFull: 3,
  Kicked: 4,
  ShuttingDown: 5,
  TimedOut: 6,
  ZoneMoved: 7
});
var REASON_NAMES = ["unspecified", "unknown_zone", "zone_full", "server_full", "kicked", "shutting_down", "timed_out", "zone_moved"];
function disconnectReasonName(code) {
  return REASON_NAMES[code] ?? "unspecified";
}
function disconnectReasonFromPlaintext(plaintext) {
  const code = plaintext.length === 0 ? 0 : plaintext[0];
  return code < REASON_NAMES.length ? code : 0;
}
function readPacketType(bytes) {
  if (bytes.length > DATAGRAM_BYTES_MAX) return err("too_long");
  if (bytes.length < 2) return err("too_short");
  if (bytes[0] !== MAGIC) return err("bad_magic");
  if (bytes[1] >> 4 !== VERSION) return err("bad_version");
  const type = bytes[1] & 15;
  if (type > 4) return err("bad_type");
  return ok(type);
}
function readSealedHeader(bytes) {
  const type = readPacketType(bytes);
  if (!type.ok) return type;
  if (type.value === PacketType.ConnectionRequest) {
    return bytes.length === CONNECTION_REQUEST_BYTES ? err("unexpected_packet") : err("bad_request_size");
  }
  if (bytes.length < SEALED_HEADER_BYTES + TAG_BYTES) return err("too_short");
  return decodeWith(bytes, "too_short", (r) => {
    r.take(2);
    return { type: type.value, sessionId: r.u64big(), sequence: r.u64(), edgeTag: r.u64big() };
  });
}
function connectionRequest(token) {
  const out = new Uint8Array(CONNECTION_REQUEST_BYTES);
  out[0] = MAGIC;
  out[1] = VERSION << 4 | PacketType.ConnectionRequest;
  out.set(token.bytes.subarray(0, 8 + 24 + 208), 2);
  return out;
}
function edgeTag(edgeKey, header18) {
  return siphash24(edgeKey, header18);
}
function nonceFor(sequence) {
  return new Writer(12).u32(0).u64(sequence).finish();
}
function sealPacket(type, sessionId, sequence, edgeKey, aeadKey, plaintext) {
  if (plaintext.length > SEALED_PLAINTEXT_BYTES_MAX) throw new Error(`plaintext of ${plaintext.length} bytes over ${SEALED_PLAINTEXT_BYTES_MAX}`);
  const head = new Writer(SEALED_HEADER_BYTES).u8(MAGIC).u8(VERSION << 4 | type).u64(sessionId).u64(sequence);
  head.u64(edgeTag(edgeKey, head.bytes.subarray(0, 18)));
  const header = head.finish();
  const sealed = chacha20poly1305(aeadKey, nonceFor(sequence), header).encrypt(plaintext);
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header);
  out.set(sealed, header.length);
  return out;
}
function openPacket(bytes, edgeKey, aeadKey) {
  const header = readSealedHeader(bytes);
  if (!header.ok) return header;
  if (edgeTag(edgeKey, bytes.subarray(0, 18)) !== header.value.edgeTag) return err("bad_edge_tag");
  try {
    const plaintext = chacha20poly1305(aeadKey, nonceFor(header.value.sequence), bytes.subarray(0, SEALED_HEADER_BYTES)).decrypt(
      bytes.subarray(SEALED_HEADER_BYTES)
    );
    return ok({ ...header.value, plaintext });
  } catch {
    return err("bad_seal");
  }
}
var ReplayWindow = class _ReplayWindow {
  constructor() {
    this.newestPlusOne = 0;
    this.bits = new Uint8Array(REPLAY_WINDOW_PACKETS);
  }
  clone() {
    const c = new _ReplayWindow();
    c.newestPlusOne = this.newestPlusOne;
    c.bits = this.bits.slice();
    return c;
  }
  check(sequence) {
    if (this.newestPlusOne === 0 || sequence >= this.newestPlusOne) return true;
    const age = this.newestPlusOne - 1 - sequence;
    return age < REPLAY_WINDOW_PACKETS && !this.bits[age];
  }
  mark(sequence) {
    if (this.newestPlusOne === 0 || sequence >= this.newestPlusOne) {
      const shift = this.newestPlusOne === 0 ? REPLAY_WINDOW_PACKETS : sequence + 1 - this.newestPlusOne;
      if (shift >= REPLAY_WINDOW_PACKETS) this.bits.fill(0);
      else {
        this.bits.copyWithin(shift, 0, REPLAY_WINDOW_PACKETS - shift);
        this.bits.fill(0, 0, shift);
      }
      this.newestPlusOne = sequence + 1;
      this.bits[0] = 1;
    } else {
      this.bits[this.newestPlusOne - 1 - sequence] = 1;
    }
  }
  ackState() {
    let ackBits = 0;
    for (let i = 0; i < 32; i++) if (this.bits[i + 1]) ackBits |= 1 << i;
    return { ackNewestPlusOne: this.newestPlusOne, ackBits: ackBits >>> 0 };
  }
};

// src/proto/frames.js
var ACK_HEADER_BYTES = 12;
var FRAMES_PER_PACKET_MAX = 64;
var FRAGMENT_BYTES_MAX = 1024;
var FRAGMENTS_PER_MESSAGE_MAX = 16;
var UNRELIABLE_FRAME_HEADER_BYTES = 3;
var FRAGMENT_FRAME_HEADER_BYTES = 7;
var PING_FRAME_BYTES = 9;
var PONG_FRAME_BYTES = 25;
var UNRELIABLE_MESSAGE_BYTES_MAX = SEALED_PLAINTEXT_BYTES_MAX - ACK_HEADER_BYTES - UNRELIABLE_FRAME_HEADER_BYTES;
var FrameType = Object.freeze({ Unreliable: 1, Fragment: 2, Ping: 3, Pong: 4 });
function encodeFrame(w, frame2) {
  switch (frame2.type) {
    case "unreliable":
      w.u8(FrameType.Unreliable).u16(frame2.bytes.length).raw(frame2.bytes);
      break;
    case "fragment":
      w.u8(FrameType.Fragment).u16(frame2.messageId).u8(frame2.index).u8(frame2.count).u16(frame2.bytes.length).raw(frame2.bytes);
      break;
    case "ping":
      w.u8(FrameType.Ping).u64(frame2.sentUs);
      break;
    case "pong":
      w.u8(FrameType.Pong).u64(frame2.pingSentUs).u64(frame2.pingReceivedUs).u64(frame2.pongSentUs);
      break;
    default:
      throw new Error(`unknown frame ${frame2.type}`);
  }
}
function decodePayload(bytes) {
  return decodeWith(bytes, "frame_truncated", (r) => {
    const ackNewestPlusOne = r.u64();
    const ackBits = r.u32();
    const frames = [];
    while (r.remaining() > 0) {
      if (frames.length === FRAMES_PER_PACKET_MAX) throw new DecodeError("frame_too_many");
      const type = r.u8();
      switch (type) {
        case FrameType.Unreliable: {
          const len = r.u16();
          frames.push({ type: "unreliable", bytes: r.take(len) });
          break;
        }
        case FrameType.Fragment: {
          const messageId = r.u16();
          const index = r.u8();
          const count = r.u8();
          const len = r.u16();
          if (count < 1 || count > FRAGMENTS_PER_MESSAGE_MAX || index >= count || len > FRAGMENT_BYTES_MAX) {
            throw new DecodeError("frame_bad_fragment");
          }
          const data = r.take(len);
          if (index + 1 < count && len !== FRAGMENT_BYTES_MAX) throw new DecodeError("frame_bad_fragment");
          frames.push({ type: "fragment", messageId, index, count, bytes: data });
          break;
        }
        case FrameType.Ping:
          frames.push({ type: "ping", sentUs: r.u64() });
          break;
        case FrameType.Pong:
          frames.push({ type: "pong", pingSentUs: r.u64(), pingReceivedUs: r.u64(), pongSentUs: r.u64() });
          break;
        default:
          throw new DecodeError("frame_unknown_type");
      }
    }
    return { ackNewestPlusOne, ackBits, frames };
  });
}

// src/proto/connection.js
var SENT_PACKETS_TRACKED = 256;
var ACK_BITS = 32;
var UNRELIABLE_QUEUE_MAX = 64;
var RELIABLE_QUEUE_MAX = 256;
var RELIABLE_WINDOW_MESSAGES = 64;
var RELIABLE_MESSAGE_BYTES_MAX = 16 * 1024;
var RELIABLE_RECEIVE_BUFFER_BYTES_MAX = 64 * 1024;
var RELIABLE_DELIVERY_TIMEOUT_US = 1e7;
var RESEND_DELAY_MIN_US = 3e4;
var KEEPALIVE_INTERVAL_US = 1e5;
var ACK_DELAY_MAX_US = 6e4;
var CONNECTION_TIMEOUT_US = 5e6;
var CLOCK_PING_INTERVAL_US = 1e6;
var SERVER_PING_INTERVAL_US = 25e4;
var PINGS_OUTSTANDING_MAX = 4;
var RECEIVED_MESSAGES_MAX = 512;
function smooth(stats, key, varKey, sample) {
  if (stats[key] === null) {
    stats[key] = sample;
    stats[varKey] = Math.floor(sample / 2);
  } else {
    stats[varKey] = Math.floor((3 * stats[varKey] + Math.abs(stats[key] - sample)) / 4);
    stats[key] = Math.floor((7 * stats[key] + sample) / 8);
  }
}
var Connection = class {
  /**
   * `side`: 'client' | 'server'. `sendSequenceStart`: the first sequence of this side's payloads
   * (sequences continue from the handshake). `received`: the handshake's replay window.
   */
  constructor({ side, sessionId, sendKey, receiveKey, edgeKey, sendSequenceStart, received, nowUs }) {
    this.side = side;
    this.sessionId = sessionId;
    this.sendKey = sendKey;
    this.receiveKey = receiveKey;
    this.edgeKey = edgeKey;
    this.nextSequence = sendSequenceStart;
    this.sent = new Array(SENT_PACKETS_TRACKED).fill(null);
    this.lossCheckedThrough = sendSequenceStart;
    this.ackedFloor = sendSequenceStart;
    this.received = received;
    this.acked = received.clone();
    this.ackDueUs = 0;
    this.unreliableQueue = [];
    this.reliableQueue = [];
    this.nextMessageId = 0;
    this.nextExpectedId = 0;
    this.reassembly = /* @__PURE__ */ new Map();
    this.reassemblyBytes = 0;
    this.receivedMessages = [];
    this.pongOwed = null;
    this.pingsOutstanding = new Array(PINGS_OUTSTANDING_MAX).fill(null);
    this.nextPingSlot = 0;
    this.clock = new ClockSync();
    this.nextPingUs = side === "client" ? nowUs : nowUs + 1;
    this.lastSentUs = nowUs;
    this.lastReceivedUs = nowUs;
    this.closed = null;
    this.stats = {
      rttSmoothedUs: null,
      rttVarianceUs: 0,
      pingRttUs: null,
      pingRttVarianceUs: 0,
      pongsIgnored: 0,
      packetLoss: 0,
      packetsSent: 0,
      packetsReceived: 0,
      receivedMessagesDropped: 0,
      fragmentsDropped: 0
    };
  }
  close(reason) {
    if (!this.closed) this.closed = reason;
  }
  sendUnreliable(message) {
    if (message.length > UNRELIABLE_MESSAGE_BYTES_MAX) return err("message_too_large");
    if (this.unreliableQueue.length >= UNRELIABLE_QUEUE_MAX) return err("queue_full");
    this.unreliableQueue.push(message.slice());
    return ok(null);
  }
  sendReliable(message) {
    if (message.length === 0 || message.length > RELIABLE_MESSAGE_BYTES_MAX) return err("message_too_large");
    if (this.reliableQueue.length >= RELIABLE_QUEUE_MAX) return err("queue_full");
    const fragmentCount = Math.ceil(message.length / FRAGMENT_BYTES_MAX);
    this.reliableQueue.push({
      id: this.nextMessageId,
      bytes: message.slice(),
      fragmentCount,
      ackedMask: 0,
      fragmentSentUs: new Array(fragmentCount).fill(null),
      firstSentUs: null
    });
    this.nextMessageId = this.nextMessageId + 1 & 65535;
    return ok(null);
  }
  /** Next delivered message: {reliable: bool, bytes}. */
  pollReceived() {
    return this.receivedMessages.shift() ?? null;
  }
  /** Feeds one sealed Payload or Disconnect; `{ok}` or a drop label. */
  receive(nowUs, bytes) {
    const header = readSealedHeader(bytes);
    if (!header.ok) return header;
    const { type, sequence } = header.value;
    if (type !== PacketType.Payload && type !== PacketType.Disconnect) return err("unexpected_packet");
    if (!this.received.check(sequence)) return err("replayed");
    const opened = openPacket(bytes, this.edgeKey, this.receiveKey);
    if (!opened.ok) return opened;
    if (type === PacketType.Disconnect) {
      this.received.mark(sequence);
      this.close({ kind: "peer_disconnected", reason: disconnectReasonFromPlaintext(opened.value.plaintext) });
      return ok(null);
    }
    const payload = decodePayload(opened.value.plaintext);
    if (!payload.ok) return payload;
    this.received.mark(sequence);
    if (this.applyPayload(nowUs, payload.value)) this.acked.mark(sequence);
    return ok(null);
  }
  applyPayload(nowUs, payload) {
    let allStored = true;
    this.stats.packetsReceived++;
    this.lastReceivedUs = nowUs;
    const urgent = payload.frames.some((f2) => f2.type === "fragment" || f2.type === "ping" && this.side === "server");
    const dueUs = urgent ? nowUs : nowUs + ACK_DELAY_MAX_US;
    if (payload.frames.length > 0) this.ackDueUs = this.ackDueUs === null ? dueUs : Math.min(this.ackDueUs, dueUs);
    this.processAcks(nowUs, payload.ackNewestPlusOne, payload.ackBits);
    for (const frame2 of payload.frames) {
      switch (frame2.type) {
        case "unreliable":
          this.deliver({ reliable: false, bytes: frame2.bytes.slice() });
          break;
        case "fragment":
          allStored = this.receiveFragment(frame2) && allStored;
          break;
        case "ping":
          this.pongOwed = { pingSentUs: frame2.sentUs, receivedUs: nowUs };
          break;
        case "pong":
          this.onPong(nowUs, frame2);
          break;
      }
    }
    return allStored;
  }
  onPong(nowUs, { pingSentUs, pingReceivedUs, pongSentUs }) {
    const slot = this.pingsOutstanding.indexOf(pingSentUs);
    if (slot < 0) {
      this.stats.pongsIgnored++;
      return;
    }
    this.pingsOutstanding[slot] = null;
    const sample = clockSample(pingSentUs, pingReceivedUs, pongSentUs, nowUs);
    if (!sample) {
      this.stats.pongsIgnored++;
      return;
    }
    if (this.side === "client") this.clock.add(pingSentUs, pingReceivedUs, pongSentUs, nowUs);
    smooth(this.stats, "pingRttUs", "pingRttVarianceUs", sample.rttUs);
  }
  deliver(message) {
    if (this.receivedMessages.length >= RECEIVED_MESSAGES_MAX) {
      this.stats.receivedMessagesDropped++;
      return;
    }
    this.receivedMessages.push(message);
  }
  processAcks(nowUs, newestPlusOne, bits) {
    if (newestPlusOne === 0 || newestPlusOne > this.nextSequence) return;
    const newest = newestPlusOne - 1;
    this.ackedFloor = Math.max(this.ackedFloor, newestPlusOne);
    for (let age = 0; age <= ACK_BITS; age++) {
      const sequence = newest - age;
      if (sequence < 0) break;
      if (age > 0 && (bits >>> age - 1 & 1) === 0) continue;
      this.onPacketAcked(nowUs, sequence, age === 0);
    }
    const windowStart = Math.max(0, newest - ACK_BITS);
    const checkFrom = Math.max(this.lossCheckedThrough, windowStart - SENT_PACKETS_TRACKED);
    for (let sequence = checkFrom; sequence < windowStart; sequence++) {
      const slot = this.sent[sequence % SENT_PACKETS_TRACKED];
      if (slot && slot.sequence === sequence) this.stats.packetLoss += ((slot.acked ? 0 : 1) - this.stats.packetLoss) / 16;
    }
    this.lossCheckedThrough = Math.max(this.lossCheckedThrough, windowStart);
  }
  onPacketAcked(nowUs, sequence, newest) {
    const slot = this.sent[sequence % SENT_PACKETS_TRACKED];
    if (!slot || slot.sequence !== sequence || slot.acked) return;
    slot.acked = true;
    if (newest && nowUs >= slot.sentUs) smooth(this.stats, "rttSmoothedUs", "rttVarianceUs", nowUs - slot.sentUs);
    for (const [messageId, index] of slot.fragments) {
      const message = this.reliableQueue.find((m) => m.id === messageId);
      if (message) message.ackedMask |= 1 << index;
    }
    slot.fragments = [];
    while (this.reliableQueue.length && this.fullyAcked(this.reliableQueue[0])) this.reliableQueue.shift();
  }
  fullyAcked(message) {
    let n = 0;
    for (let i = 0; i < message.fragmentCount; i++) if (message.ackedMask >>> i & 1) n++;
    return n === message.fragmentCount;
  }
  resendDelayUs() {
    return this.stats.rttSmoothedUs === null ? 4 * RESEND_DELAY_MIN_US : Math.max(RESEND_DELAY_MIN_US, this.stats.rttSmoothedUs + 4 * this.stats.rttVarianceUs);
  }
  /** Stores a fragment; false when it was dropped for lack of room (the packet is then not acked). */
  receiveFragment({ messageId, index, count, bytes }) {
    const ahead = messageId - this.nextExpectedId & 65535;
    if (ahead >= RELIABLE_WINDOW_MESSAGES) return true;
    let message = this.reassembly.get(messageId);
    if (message && message.fragments[index]) return true;
    const limit = ahead === 0 ? RELIABLE_RECEIVE_BUFFER_BYTES_MAX : RELIABLE_RECEIVE_BUFFER_BYTES_MAX - RELIABLE_MESSAGE_BYTES_MAX;
    if (this.reassemblyBytes + bytes.length > limit) {
      this.stats.fragmentsDropped++;
      return false;
    }
    if (!message) {
      message = { count, fragments: new Array(count).fill(null), bytes: 0 };
      this.reassembly.set(messageId, message);
    }
    const consistent = message.count === count && (index + 1 === count || bytes.length === FRAGMENT_BYTES_MAX) && message.bytes + bytes.length <= RELIABLE_MESSAGE_BYTES_MAX;
    if (!consistent) {
      this.stats.fragmentsDropped++;
      return true;
    }
    message.fragments[index] = bytes.slice();
    message.bytes += bytes.length;
    this.reassemblyBytes += bytes.length;
    for (; ; ) {
      const head = this.reassembly.get(this.nextExpectedId);
      if (!head || head.fragments.some((f2) => f2 === null)) break;
      this.reassembly.delete(this.nextExpectedId);
      this.reassemblyBytes -= head.bytes;
      const whole = new Uint8Array(head.bytes);
      let at = 0;
      for (const f2 of head.fragments) {
        whole.set(f2, at);
        at += f2.length;
      }
      this.deliver({ reliable: true, bytes: whole });
      this.nextExpectedId = this.nextExpectedId + 1 & 65535;
    }
    return true;
  }
  *unackedFragments() {
    if (!this.reliableQueue.length) return;
    const oldest = this.reliableQueue[0].id;
    for (let position = 0; position < this.reliableQueue.length; position++) {
      const message = this.reliableQueue[position];
      if ((message.id - oldest & 65535) >= RELIABLE_WINDOW_MESSAGES) return;
      for (let index = 0; index < message.fragmentCount; index++) {
        if ((message.ackedMask >>> index & 1) === 0) yield { position, index, sentUs: message.fragmentSentUs[index] };
      }
    }
  }
  nextFragmentDueUs() {
    const delay = this.resendDelayUs();
    let due = null;
    for (const { sentUs } of this.unackedFragments()) {
      if (sentUs === null) return 0;
      due = due === null ? sentUs + delay : Math.min(due, sentUs + delay);
    }
    return due;
  }
  nextDueFragment(nowUs) {
    const delay = this.resendDelayUs();
    for (const f2 of this.unackedFragments()) if (f2.sentUs === null || nowUs - f2.sentUs >= delay) return f2;
    return null;
  }
  /** Fragments ride only within 32 packets of the newest acked one, so each can still be acked. */
  reliableAllowed() {
    return this.nextSequence < this.ackedFloor + ACK_BITS;
  }
  checkReliableTimeout(nowUs) {
    const first = this.reliableQueue[0]?.firstSentUs;
    if (first != null && nowUs - first > RELIABLE_DELIVERY_TIMEOUT_US) this.close({ kind: "reliable_timeout" });
  }
  nextSendUs() {
    if (this.unreliableQueue.length) return 0;
    let due = this.lastSentUs + KEEPALIVE_INTERVAL_US;
    if (this.ackDueUs !== null) due = Math.min(due, this.ackDueUs);
    if (this.side === "server" && this.pongOwed) due = Math.min(due, this.pongOwed.receivedUs);
    if (this.side === "client") due = Math.min(due, this.nextPingUs);
    if (this.reliableAllowed()) {
      const fragmentDue = this.nextFragmentDueUs();
      if (fragmentDue !== null) due = Math.min(due, fragmentDue);
    }
    return due;
  }
  /** When the caller must call `pollPacket`/`handleTimeout` next (µs), or null once closed. */
  nextTimeoutUs() {
    if (this.closed) return null;
    let due = Math.min(this.nextSendUs(), this.lastReceivedUs + CONNECTION_TIMEOUT_US + 1);
    const first = this.reliableQueue[0]?.firstSentUs;
    if (first != null) due = Math.min(due, first + RELIABLE_DELIVERY_TIMEOUT_US + 1);
    return due;
  }
  handleTimeout(nowUs) {
    if (nowUs - this.lastReceivedUs > CONNECTION_TIMEOUT_US) this.close({ kind: "timed_out" });
    this.checkReliableTimeout(nowUs);
    return this.closed !== null;
  }
  /** The next packet due at `nowUs`, or null. */
  pollPacket(nowUs) {
    if (this.closed) return null;
    this.checkReliableTimeout(nowUs);
    if (this.closed) return null;
    if (this.nextSendUs() > nowUs) return null;
    const reliableAllowed = this.reliableAllowed();
    const sequence = this.nextSequence++;
    const { ackNewestPlusOne, ackBits } = this.acked.ackState();
    const w = new Writer(256);
    w.u64(ackNewestPlusOne).u32(ackBits);
    let room = SEALED_PLAINTEXT_BYTES_MAX - w.length;
    let frames = 0;
    if (this.pongOwed) {
      encodeFrame(w, { type: "pong", pingSentUs: this.pongOwed.pingSentUs, pingReceivedUs: this.pongOwed.receivedUs, pongSentUs: nowUs });
      this.pongOwed = null;
      room -= PONG_FRAME_BYTES;
      frames++;
    }
    const front = this.unreliableQueue[0];
    const pingFits = this.side === "client" || !front || PING_FRAME_BYTES + UNRELIABLE_FRAME_HEADER_BYTES + front.length <= room;
    if (nowUs >= this.nextPingUs && pingFits) {
      encodeFrame(w, { type: "ping", sentUs: nowUs });
      room -= PING_FRAME_BYTES;
      frames++;
      this.pingsOutstanding[this.nextPingSlot] = nowUs;
      this.nextPingSlot = (this.nextPingSlot + 1) % PINGS_OUTSTANDING_MAX;
      this.nextPingUs = nowUs + (this.side === "client" ? CLOCK_PING_INTERVAL_US : SERVER_PING_INTERVAL_US);
    }
    const carried = [];
    while (reliableAllowed && frames < FRAMES_PER_PACKET_MAX) {
      const due = this.nextDueFragment(nowUs);
      if (!due) break;
      const message = this.reliableQueue[due.position];
      const bytes = message.bytes.subarray(due.index * FRAGMENT_BYTES_MAX, Math.min(message.bytes.length, (due.index + 1) * FRAGMENT_BYTES_MAX));
      if (FRAGMENT_FRAME_HEADER_BYTES + bytes.length > room) break;
      encodeFrame(w, { type: "fragment", messageId: message.id, index: due.index, count: message.fragmentCount, bytes });
      message.fragmentSentUs[due.index] = nowUs;
      if (message.firstSentUs === null) message.firstSentUs = nowUs;
      carried.push([message.id, due.index]);
      room -= FRAGMENT_FRAME_HEADER_BYTES + bytes.length;
      frames++;
    }
    while (frames < FRAMES_PER_PACKET_MAX && this.unreliableQueue.length) {
      const message = this.unreliableQueue[0];
      if (UNRELIABLE_FRAME_HEADER_BYTES + message.length > room) break;
      this.unreliableQueue.shift();
      encodeFrame(w, { type: "unreliable", bytes: message });
      room -= UNRELIABLE_FRAME_HEADER_BYTES + message.length;
      frames++;
    }
    this.sent[sequence % SENT_PACKETS_TRACKED] = { sequence, sentUs: nowUs, acked: false, fragments: carried };
    const packet = sealPacket(PacketType.Payload, this.sessionId, sequence, this.edgeKey, this.sendKey, w.finish());
    this.ackDueUs = null;
    this.lastSentUs = nowUs;
    this.stats.packetsSent++;
    return packet;
  }
  /** A Disconnect with `reason` (sent once, never resent); closes this side. */
  disconnectPacket(reason) {
    const sequence = this.nextSequence++;
    const packet = sealPacket(PacketType.Disconnect, this.sessionId, sequence, this.edgeKey, this.sendKey, Uint8Array.of(reason));
    this.close({ kind: "local_disconnect", reason });
    return packet;
  }
};

// src/proto/endpoint.js
var CHALLENGE_BYTES = 16;
var HANDSHAKE_RESEND_US = 1e5;
var HANDSHAKE_TIMEOUT_US = 5e6;
function fromClose(close) {
  return close.kind === "peer_disconnected" ? { kind: "by_server", reason: close.reason } : { kind: "closed", close };
}
var ClientConnection = class {
  /** `token`: a parsed client token (`parseClientToken(...).value`). */
  constructor(nowUs, token) {
    this.token = token;
    this.state = "sending_request";
    this.disconnect = null;
    this.challenge = null;
    this.nextSequence = 0;
    this.received = new ReplayWindow();
    this.startedUs = nowUs;
    this.lastHandshakeSentUs = null;
    this.connection = null;
    this.events = [];
  }
  end(why) {
    if (this.state === "disconnected") return;
    this.state = "disconnected";
    this.disconnect = why;
    this.events.push({ type: "disconnected", why });
  }
  pollEvent() {
    if (this.events[0]?.type === "connected") return this.events.shift();
    if (this.connection) {
      const message = this.connection.pollReceived();
      if (message) return { type: "message", ...message };
    }
    return this.events.shift() ?? null;
  }
  /** Ends the session: returns the Disconnect packet to send (reason 0, what a quitting player sends). */
  disconnectPacket() {
    if (this.state !== "connected") return null;
    const packet = this.connection.disconnectPacket(DisconnectReason.Unspecified);
    this.end({ kind: "closed", close: { kind: "local_disconnect", reason: DisconnectReason.Unspecified } });
    return packet;
  }
  pollTimeoutUs() {
    if (this.state === "sending_request" || this.state === "sending_response") {
      const resend = this.lastHandshakeSentUs === null ? this.startedUs : this.lastHandshakeSentUs + HANDSHAKE_RESEND_US;
      let due = Math.min(resend, this.startedUs + HANDSHAKE_TIMEOUT_US + 1);
      if (this.state === "sending_request") due = Math.min(due, this.token.expiresAtS * 1e6);
      return due;
    }
    if (this.state === "connected") return this.connection.nextTimeoutUs();
    return null;
  }
  /** Feeds one packet from the server; `{ok}` or a drop label (the packet is ignored). */
  handle(nowUs, bytes) {
    const header = readSealedHeader(bytes);
    if (!header.ok) return header;
    const { type, sessionId, sequence } = header.value;
    if (sessionId !== this.token.sessionId) return err("unknown_session");
    const handshaking = this.state === "sending_request" || this.state === "sending_response";
    if (handshaking && type === PacketType.Challenge) {
      if (!this.received.check(sequence)) return err("replayed");
      const opened = openPacket(bytes, this.token.edgeKey, this.token.serverToClientKey);
      if (!opened.ok) return opened;
      if (opened.value.plaintext.length !== CHALLENGE_BYTES) return err("bad_challenge");
      this.received.mark(sequence);
      this.challenge = opened.value.plaintext.slice();
      if (this.state === "sending_request") {
        this.state = "sending_response";
        this.lastHandshakeSentUs = null;
      }
      return ok(null);
    }
    if (this.state === "sending_response" && type === PacketType.Payload) {
      const connection = new Connection({
        side: "client",
        sessionId: this.token.sessionId,
        sendKey: this.token.clientToServerKey,
        receiveKey: this.token.serverToClientKey,
        edgeKey: this.token.edgeKey,
        sendSequenceStart: this.nextSequence,
        received: this.received.clone(),
        nowUs
      });
      const result = connection.receive(nowUs, bytes);
      if (!result.ok) return result;
      this.connection = connection;
      this.state = "connected";
      this.events.push({ type: "connected" });
      return ok(null);
    }
    if (this.state === "connected" && (type === PacketType.Payload || type === PacketType.Disconnect)) {
      const result = this.connection.receive(nowUs, bytes);
      if (this.connection.closed) this.end(fromClose(this.connection.closed));
      return result;
    }
    return err("unexpected_packet");
  }
  /** The next packet to send at `nowUs`, or null. */
  pollTransmit(nowUs) {
    if (this.state === "sending_request" || this.state === "sending_response") {
      if (this.state === "sending_request" && Math.floor(nowUs / 1e6) >= this.token.expiresAtS) {
        this.end({ kind: "token_expired" });
        return null;
      }
      if (nowUs - this.startedUs > HANDSHAKE_TIMEOUT_US) {
        this.end({ kind: "handshake_timed_out" });
        return null;
      }
      if (this.lastHandshakeSentUs !== null && nowUs - this.lastHandshakeSentUs < HANDSHAKE_RESEND_US) return null;
      this.lastHandshakeSentUs = nowUs;
      if (this.state === "sending_request") return connectionRequest(this.token);
      const t = this.token;
      return sealPacket(PacketType.Response, t.sessionId, this.nextSequence++, t.edgeKey, t.clientToServerKey, this.challenge);
    }
    if (this.state === "connected") {
      if (this.connection.handleTimeout(nowUs)) {
        this.end(fromClose(this.connection.closed));
        return null;
      }
      const packet = this.connection.pollPacket(nowUs);
      if (this.connection.closed) this.end(fromClose(this.connection.closed));
      return packet;
    }
    return null;
  }
};

// src/proto/messages.js
var CHAT_TEXT_BYTES_MAX = 256;
var INPUT_REDUNDANCY_MAX = 8;
var SNAPSHOT_MESSAGE_BYTES_MAX = 1138;
var NO_INPUT_TICK = 4294967295;
var NO_ENTITY = 4294967295;
var ChatChannel = Object.freeze({ Zone: 0, Global: 1 });
var utf8 = new TextEncoder();
var utf8Strict = new TextDecoder("utf-8", { fatal: true });
function encodeClientMessage(m) {
  const w = new Writer(32);
  switch (m.type) {
    case "input":
      if (m.inputs.length < 1 || m.inputs.length > INPUT_REDUNDANCY_MAX) throw new Error("1..=8 inputs");
      w.u8(1).u32(m.sequence).u32(m.newestTick).u8(m.inputs.length);
      for (const input of m.inputs) w.u8(input.moveRight).u8(input.moveForward).u16(input.yaw).u8(input.buttons ?? 0);
      break;
    case "action":
      w.u8(2).u32(m.clientTick);
      switch (m.action.kind) {
        case "attack":
          w.u8(1).u32(m.action.target).u16(m.action.skill);
          for (const a of m.action.aim) w.i16(a);
          break;
        case "pick_up":
          w.u8(2).u32(m.action.loot);
          break;
        case "trade_offer":
          w.u8(3).u32(m.action.target).u32(m.action.giveItem).u32(m.action.wantItem);
          break;
        case "trade_accept":
          w.u8(4).u32(m.action.from);
          break;
        default:
          throw new Error(`unknown action ${m.action.kind}`);
      }
      break;
    case "chat": {
      const text = utf8.encode(m.text);
      if (text.length > CHAT_TEXT_BYTES_MAX) throw new Error(`chat of ${text.length} bytes over ${CHAT_TEXT_BYTES_MAX}`);
      w.u8(3).u8(m.channel).u16(text.length).raw(text);
      break;
    }
    case "snapshot_ack":
      w.u8(128).u32(m.tick);
      break;
    default:
      throw new Error(`unknown client message ${m.type}`);
  }
  return w.finish();
}
function checkRange(value, max) {
  if (value > max) throw new DecodeError("unknown_value");
  return value;
}
function readEvent(r) {
  const kind = r.u8();
  switch (kind) {
    case 1:
      return { kind: "joined", entity: r.u32() };
    case 2:
      return { kind: "join_refused", reason: checkRange(r.u8(), 2) };
    case 3: {
      const channel = r.u8();
      if (channel > 1) throw new DecodeError("unknown_channel");
      const from = r.u32();
      const len = r.u16();
      if (len > CHAT_TEXT_BYTES_MAX) throw new DecodeError("chat_too_long");
      const raw = r.take(len);
      let text;
      try {
        text = utf8Strict.decode(raw);
      } catch {
        throw new DecodeError("chat_not_utf8");
      }
      return { kind: "chat", channel, from, text };
    }
    case 4: {
      const killer = r.u32();
      return { kind: "died", killer: killer === NO_ENTITY ? null : killer };
    }
    case 5:
      return { kind: "respawned" };
    case 6:
      return { kind: "attack_result", target: r.u32(), hit: checkRange(r.u8(), 1) === 1 };
    case 7:
      return { kind: "inventory_granted", item: r.u32(), quantity: r.u16() };
    case 8:
      return { kind: "pick_up_refused", loot: r.u32(), reason: checkRange(r.u8(), 4) };
    case 9:
      return { kind: "trade_offered", from: r.u32(), giveItem: r.u32(), wantItem: r.u32() };
    case 10:
      return { kind: "trade_completed", with: r.u32(), gaveItem: r.u32(), gotItem: r.u32() };
    case 11:
      return { kind: "trade_refused", with: r.u32(), reason: checkRange(r.u8(), 4) };
    default:
      throw new DecodeError("unknown_value");
  }
}
function noTrailing(r) {
  if (r.remaining() !== 0) throw new DecodeError("trailing_bytes");
}
function decodeServerMessage(bytes) {
  return decodeWith(bytes, "truncated", (r) => {
    const type = r.u8();
    if (type === 129) {
      const tick = r.u32();
      const payload = r.rest();
      if (payload.length > SNAPSHOT_MESSAGE_BYTES_MAX) throw new DecodeError("snapshot_too_large");
      return { type: "snapshot", lastInputTick: tick === NO_INPUT_TICK ? null : tick, payload };
    }
    if (type === 130) {
      const event = readEvent(r);
      noTrailing(r);
      return { type: "event", event };
    }
    throw new DecodeError("unknown_type");
  });
}
function moveDirection(moveRight, moveForward) {
  const f2 = Math.fround;
  const x = f2(Math.max(moveRight, -127) / 127);
  const y = f2(Math.max(moveForward, -127) / 127);
  const length = f2(Math.sqrt(f2(f2(x * x) + f2(y * y))));
  return length > 1 ? [f2(x / length), f2(y / length)] : [x, y];
}
function quantiseDirection(direction) {
  const axis = (v) => {
    if (!Number.isFinite(v)) return 0;
    const scaled = Math.fround(Math.min(1, Math.max(-1, v)) * 127);
    return Math.sign(scaled) * Math.round(Math.abs(scaled));
  };
  return [axis(direction[0]), axis(direction[1])];
}
function quantiseYaw(yaw) {
  if (!Number.isFinite(yaw)) return 0;
  const turns = yaw / (2 * Math.PI);
  return Math.floor((turns - Math.floor(turns)) * 65536) & 65535;
}

// src/proto/interpolation.js
var INTERPOLATION_SNAPSHOTS_MAX = 32;
var Interpolator = class {
  constructor(tickIntervalUs = 5e4, delayUs = 1e5) {
    this.tickIntervalUs = tickIntervalUs;
    this.delayUs = delayUs;
    this.snapshots = [];
    this.bases = [];
  }
  push(tick, world, arrivalUs) {
    const last = this.snapshots[this.snapshots.length - 1];
    if (last && tick <= last.tick) return;
    if (last && tick - last.tick > 64) {
      this.snapshots = [];
      this.bases = [];
    }
    this.snapshots.push({ tick, world });
    if (this.snapshots.length > INTERPOLATION_SNAPSHOTS_MAX) this.snapshots.shift();
    this.bases.push(arrivalUs - tick * this.tickIntervalUs);
    if (this.bases.length > 40) this.bases.shift();
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
    if (this.timeOf(older.tick) > renderUs) newer = null;
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
};

// src/proto/prediction.js
var f = Math.fround;
var F32_EPSILON = 2 ** -23;
function movementModel({ speedMPerS = 7, tickHz = 20, worldSizeM = [1024, 1024], colliders = [] } = {}) {
  return { speedMPerS: f(speedMPerS), dtS: f(1 / tickHz), worldSizeM: worldSizeM.map(f), colliders };
}
function inside(c, x, y) {
  return x > c.minM[0] && x < c.maxM[0] && y > c.minM[1] && y < c.maxM[1];
}
function step(model, from, direction) {
  const reach = f(model.speedMPerS * model.dtS);
  const position = from.map(f);
  for (let axis = 0; axis < 2; axis++) {
    const size = model.worldSizeM[axis];
    const wanted = f(position[axis] + f(direction[axis] * reach));
    const bounded = Math.min(Math.max(wanted, 0), f(size - f(F32_EPSILON * size)));
    const candidate = position.slice();
    candidate[axis] = bounded;
    if (!model.colliders.some((c) => inside(c, candidate[0], candidate[1]))) position[axis] = bounded;
  }
  return position;
}
var Predictor = class {
  constructor(model) {
    this.model = model;
    this.position = null;
    this.pending = [];
    this.stats = { reconciliations: 0, corrections: 0, correctionMaxM: 0, lastCorrectionM: 0 };
  }
  /** Places the player at the server's position; the caller replays the inputs after `lastInputTick`. */
  place(position) {
    this.position = position.map(f);
    this.pending = [];
  }
  predict(tick, direction) {
    if (!this.position) return;
    this.position = step(this.model, this.position, direction);
    this.pending.push({ tick, direction, after: this.position });
    if (this.pending.length > 64) this.pending.shift();
  }
  /**
   * The server says our entity is at `serverPosition` after our input `lastInputTick` (null: none
   * yet): reset to it and replay the later inputs. Returns the correction in metres (how far the
   * prediction for that tick was from the server).
   */
  reconcile(serverPosition, lastInputTick) {
    if (!this.position) return 0;
    let predictedThen = null;
    if (lastInputTick !== null) {
      while (this.pending.length && this.pending[0].tick <= lastInputTick) {
        const done = this.pending.shift();
        if (done.tick === lastInputTick) predictedThen = done.after;
      }
    }
    let position = serverPosition.map(f);
    const error = predictedThen ? Math.hypot(predictedThen[0] - position[0], predictedThen[1] - position[1]) : 0;
    const corrected = predictedThen !== null && predictedThen.some((p, axis) => Math.abs(p - position[axis]) * 64 > 1 + 1e-9);
    if (!corrected && predictedThen) position = predictedThen;
    for (const input of this.pending) {
      position = step(this.model, position, input.direction);
      input.after = position;
    }
    this.position = position;
    this.stats.reconciliations++;
    if (corrected) {
      this.stats.corrections++;
      this.stats.correctionMaxM = Math.max(this.stats.correctionMaxM, error);
    }
    this.stats.lastCorrectionM = corrected ? error : 0;
    return corrected ? error : 0;
  }
};

// src/proto/snapshot.js
var TICK_BITS = 32;
var BASELINE_AGE_BITS = 5;
var POSITION_BITS = 20;
var POSITION_Q_MAX = (1 << 20) - 1;
var POSITION_UNITS_PER_M = 64;
var POSITION_OFFSET_M = 8192;
var YAW_BITS = 10;
var VELOCITY_BITS = 12;
var VELOCITY_UNITS_PER_M_S = 32;
var VELOCITY_Q_MIN = -2048;
var KIND_BITS = 2;
var ENTRY_COUNT_BITS = 8;
var SNAPSHOT_ENTITIES_MAX = 128;
var SNAPSHOT_HISTORY_MAX = 32;
var SNAPSHOT_TICK_US = 5e4;
var EXP_GOLOMB_ZEROS_MAX = 40;
var PAYLOAD_BYTES_MAX = 1200;
var EntityKind = Object.freeze({ Player: 0, Npc: 1, Loot: 2 });
var KIND_NAMES = ["player", "npc", "loot"];
var BitReader = class {
  constructor(bytes) {
    this.bytes = bytes;
    this.bit = 0;
  }
  readBit() {
    if (this.bit >= this.bytes.length * 8) throw new DecodeError("truncated");
    const value = this.bytes[this.bit >> 3] >> (this.bit & 7) & 1;
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
      if (zeros > EXP_GOLOMB_ZEROS_MAX) throw new DecodeError("exp_golomb_too_long");
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
    if (used < this.bytes.length) throw new DecodeError("trailing_bytes");
    while (this.bit < this.bytes.length * 8) if (this.readBit()) throw new DecodeError("padding_not_zero");
  }
};
function readFullRecord(r) {
  const kind = r.readBits(KIND_BITS);
  if (kind === 3) throw new DecodeError("entity_kind_invalid");
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
function predictedPosition(baseline, ageTicks, axis) {
  const numerator = baseline.velocity[axis] * ageTicks * SNAPSHOT_TICK_US * POSITION_UNITS_PER_M;
  return baseline.position[axis] + roundHalfAway(numerator, VELOCITY_UNITS_PER_M_S * 1e6);
}
function readUpdate(r, baseline, age) {
  const fields = r.readBit() ? 1 : r.readBits(5);
  const state = { ...baseline, position: baseline.position.slice(), velocity: baseline.velocity.slice() };
  if (fields & 1) {
    for (let axis = 0; axis < 3; axis++) {
      const position = predictedPosition(baseline, age, axis) + r.readSignedExpGolomb(0);
      if (position < 0 || position > POSITION_Q_MAX) throw new DecodeError("position_out_of_range");
      state.position[axis] = position;
    }
  }
  if (fields & 2) state.yaw = r.readBits(YAW_BITS);
  if (fields & 4) state.velocity = [0, 0, 0].map(() => r.readBits(VELOCITY_BITS) + VELOCITY_Q_MIN);
  if (fields & 8) state.health = r.readBits(16);
  if (fields & 16) state.flags = r.readBits(16);
  return state;
}
function decodeSnapshot(history, payload) {
  try {
    if (!(payload instanceof Uint8Array)) return err("not_bytes");
    if (payload.length > PAYLOAD_BYTES_MAX) return err("payload_too_large");
    const r = new BitReader(payload);
    const tick = r.readBits(TICK_BITS);
    let baseline = /* @__PURE__ */ new Map();
    let age = 0;
    if (r.readBit()) {
      age = r.readBits(BASELINE_AGE_BITS) + 1;
      if (tick < age) return err("baseline_before_tick_zero");
      const found = history.get(tick - age);
      if (!found) return err("baseline_unknown");
      baseline = found;
    }
    const world = /* @__PURE__ */ new Map();
    const ids = [...baseline.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const previous = baseline.get(id);
      if (!r.readBit()) world.set(id, previous);
      else if (!r.readBit()) world.set(id, readUpdate(r, previous, age));
      else if (!r.readBit()) {
      } else world.set(id, readFullRecord(r));
    }
    const entries = r.readBits(ENTRY_COUNT_BITS);
    if (world.size + entries > SNAPSHOT_ENTITIES_MAX) return err("too_many_entities");
    let previousId = null;
    for (let i = 0; i < entries; i++) {
      const gap = r.readExpGolomb(2);
      const id = previousId === null ? gap : previousId + gap + 1;
      if (id > 4294967295) return err("entity_id_overflow");
      if (baseline.has(id)) return err("entry_in_baseline");
      world.set(id, readFullRecord(r));
      previousId = id;
    }
    r.finish();
    return ok({ tick, world: new Map([...world.entries()].sort((a, b) => a[0] - b[0])) });
  } catch (error) {
    if (error instanceof DecodeError) return err(error.label);
    return err(`internal: ${error && error.message}`);
  }
}
function dequantise(id, q) {
  return {
    id,
    kind: KIND_NAMES[q.kind],
    position: q.position.map((u) => u / POSITION_UNITS_PER_M - POSITION_OFFSET_M),
    yaw: q.yaw / 1024 * 2 * Math.PI,
    velocity: q.velocity.map((u) => u / VELOCITY_UNITS_PER_M_S),
    health: q.health,
    flags: q.flags
  };
}
var SnapshotReceiver = class {
  constructor() {
    this.history = /* @__PURE__ */ new Map();
    this.latestTick = null;
    this.world = /* @__PURE__ */ new Map();
  }
  /** `{ok, value: tick}`; on error nothing changes. */
  apply(payload) {
    const decoded = decodeSnapshot(this.history, payload);
    if (!decoded.ok) return decoded;
    const { tick, world } = decoded.value;
    this.history.set(tick, world);
    if (this.history.size > SNAPSHOT_HISTORY_MAX) this.history.delete(Math.min(...this.history.keys()));
    const stored = this.history.has(tick);
    if (stored && (this.latestTick === null || tick > this.latestTick)) {
      this.latestTick = tick;
      this.world = new Map([...world].map(([id, q]) => [id, dequantise(id, q)]));
    }
    return ok(tick);
  }
};

// src/proto/token.js
var CLIENT_TOKEN_BYTES = 409;
var TOKEN_SEALED_BYTES = 208;
var TOKEN_NONCE_BYTES = 24;
var ADDRESS_SLOTS = 4;
function readFields(r) {
  const sessionId = r.u64big();
  const zoneId = r.u32();
  const clientToServerKey = r.take(32).slice();
  const serverToClientKey = r.take(32).slice();
  const edgeKey = r.take(16).slice();
  const count = r.u8();
  if (count < 1 || count > ADDRESS_SLOTS) throw new DecodeError("token_bad_address_count");
  const addresses = [];
  for (let slot = 0; slot < ADDRESS_SLOTS; slot++) {
    const family = r.u8();
    const ip = r.take(16);
    const port = r.u16();
    if (slot >= count) {
      if (family !== 0 || port !== 0 || ip.some((b) => b !== 0)) throw new DecodeError("token_padding");
      continue;
    }
    if (family === 4) {
      if (ip.subarray(4).some((b) => b !== 0)) throw new DecodeError("token_padding");
      addresses.push({ family: 4, host: Array.from(ip.subarray(0, 4)).join("."), port });
    } else if (family === 6) {
      const groups = [];
      for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8 | ip[i + 1]).toString(16));
      addresses.push({ family: 6, host: groups.join(":"), port });
    } else {
      throw new DecodeError("token_bad_address_family");
    }
  }
  return { sessionId, zoneId, clientToServerKey, serverToClientKey, edgeKey, addresses };
}
function parseClientToken(bytes) {
  return decodeWith(bytes, "token_bad_length", (r) => {
    if (bytes.length !== CLIENT_TOKEN_BYTES) throw new DecodeError("token_bad_length");
    const expiresAtS = r.u64();
    const nonce = r.take(TOKEN_NONCE_BYTES).slice();
    const sealed = r.take(TOKEN_SEALED_BYTES).slice();
    const fields = readFields(r);
    return { bytes: bytes.slice(), expiresAtS, nonce, sealed, ...fields };
  });
}

// src/proto/client.js
var GAME_EVENTS_MAX = 256;
var INPUT_REDUNDANCY_DEFAULT = 3;
var CHAT_LOG_MAX = 200;
function describeDisconnect(why) {
  if (!why) return "";
  switch (why.kind) {
    case "by_server":
      return `disconnected by the server: ${disconnectReasonName(why.reason)}`;
    case "closed":
      return why.close.kind === "local_disconnect" ? "disconnected" : `connection ${why.close.kind.replace("_", " ")}`;
    default:
      return why.kind.replace(/_/g, " ");
  }
}
var GameClient = class _GameClient {
  /** `token`: the 409 client-token bytes. `config`: {inputRedundancy, tickHz, interpolationDelayUs, zone: movementModel args}. */
  static create(nowUs, tokenBytes, config = {}) {
    const parsed = parseClientToken(tokenBytes);
    if (!parsed.ok) return parsed;
    return ok(new _GameClient(nowUs, parsed.value, config));
  }
  constructor(nowUs, token, config = {}) {
    this.token = token;
    this.inputRedundancy = config.inputRedundancy ?? INPUT_REDUNDANCY_DEFAULT;
    const tickHz = config.zone?.tickHz ?? 20;
    this.tickIntervalUs = Math.floor(1e6 / tickHz);
    this.endpoint = new ClientConnection(nowUs, token);
    this.receiver = new SnapshotReceiver();
    this.predictor = new Predictor(movementModel(config.zone));
    this.interpolator = new Interpolator(this.tickIntervalUs, config.interpolationDelayUs ?? 1e5);
    this.entity = null;
    this.placementPending = false;
    this.clientTick = 0;
    this.inputSequence = 0;
    this.recentInputs = [];
    this.sentInputs = [];
    this.lastAckedSnapshot = null;
    this.lastInputTick = null;
    this.events = [];
    this.chatLog = [];
    this.counters = {
      bytesSent: 0,
      bytesReceived: 0,
      packetsSent: 0,
      packetsReceived: 0,
      packetsDropped: 0,
      snapshotsApplied: 0,
      snapshotsDropped: 0,
      messagesDropped: 0,
      eventsDropped: 0,
      inputsSent: 0,
      snapshotAcksSent: 0
    };
    this.lastDrop = null;
  }
  get state() {
    return this.endpoint.state;
  }
  get disconnectReason() {
    return this.endpoint.disconnect;
  }
  isConnected() {
    return this.endpoint.state === "connected";
  }
  isPlaced() {
    return this.entity !== null && this.predictor.position !== null && !this.placementPending;
  }
  predictedPosition() {
    return this.predictor.position;
  }
  serverWorld() {
    return this.receiver.world;
  }
  latestTick() {
    return this.receiver.latestTick;
  }
  rttUs() {
    return this.endpoint.connection?.clock.rttUs() ?? null;
  }
  serverTimeUs(nowUs) {
    return this.endpoint.connection?.clock.serverTimeUs(nowUs) ?? null;
  }
  connectionStats() {
    return this.endpoint.connection?.stats ?? null;
  }
  /** Remote entities (everything but our own) as drawn at `nowUs`. */
  renderRemote(nowUs) {
    return this.interpolator.sample(nowUs, this.entity);
  }
  pushEvent(event) {
    if (this.events.length >= GAME_EVENTS_MAX) {
      this.events.shift();
      this.counters.eventsDropped++;
    }
    this.events.push(event);
  }
  pollEvent() {
    return this.events.shift() ?? null;
  }
  /** Feeds one packet. An error result means it (or a message in it) was dropped; the session goes on. */
  handle(nowUs, bytes) {
    this.counters.packetsReceived++;
    this.counters.bytesReceived += bytes.length;
    const result = this.endpoint.handle(nowUs, bytes);
    if (!result.ok) {
      this.counters.packetsDropped++;
      this.lastDrop = result.error;
      return result;
    }
    let firstError = null;
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === "connected") this.pushEvent({ type: "connected" });
      else if (e.type === "disconnected") this.pushEvent({ type: "disconnected", why: e.why });
      else {
        const r = this.onMessage(nowUs, e.bytes);
        if (!r.ok && !firstError) firstError = r;
      }
    }
    return firstError ?? ok(null);
  }
  onMessage(nowUs, bytes) {
    const decoded = decodeServerMessage(bytes);
    if (!decoded.ok) {
      this.counters.messagesDropped++;
      return decoded;
    }
    const message = decoded.value;
    if (message.type === "snapshot") return this.onSnapshot(nowUs, message.lastInputTick, message.payload);
    const event = message.event;
    if (event.kind === "joined") {
      this.entity = event.entity;
      this.placementPending = true;
    } else if (event.kind === "respawned") {
      this.placementPending = true;
    } else if (event.kind === "chat") {
      const own = event.channel === ChatChannel.Zone && event.from === this.entity;
      const server = event.channel === ChatChannel.Global && event.from === 0;
      this.chatLog.push({ channel: event.channel, from: event.from, text: event.text, own, server });
      if (this.chatLog.length > CHAT_LOG_MAX) this.chatLog.shift();
    }
    this.pushEvent({ type: "server", event });
    return ok(null);
  }
  onSnapshot(nowUs, lastInputTick, payload) {
    const applied = this.receiver.apply(payload);
    if (!applied.ok) {
      this.counters.snapshotsDropped++;
      return applied;
    }
    this.counters.snapshotsApplied++;
    const tick = applied.value;
    if (this.receiver.latestTick !== tick) return ok(null);
    this.lastInputTick = lastInputTick;
    this.interpolator.push(tick, this.receiver.world, nowUs);
    const own = this.entity === null ? null : this.receiver.world.get(this.entity);
    if (!own) return ok(null);
    if (this.placementPending || this.predictor.position === null) {
      this.place(own.position, lastInputTick);
      return ok(null);
    }
    this.predictor.reconcile(own.position, lastInputTick);
    return ok(null);
  }
  place(position, lastInputTick) {
    this.placementPending = false;
    this.predictor.place(position);
    for (const input of this.sentInputs) {
      if (lastInputTick === null || input.tick > lastInputTick) this.predictor.predict(input.tick, input.direction);
    }
    this.pushEvent({ type: "placed", entity: this.entity });
  }
  /**
   * One client tick at the zone's rate: predicts `command` ({direction: [x, y] world axes, yaw}) and
   * queues this tick's input (with the previous ones) and, if a newer snapshot was applied, its ack.
   */
  tick(command = { direction: [0, 0], yaw: 0 }) {
    if (!this.isConnected()) return err("not_connected");
    const [moveRight, moveForward] = quantiseDirection(command.direction);
    const yaw = quantiseYaw(command.yaw ?? 0);
    const direction = moveDirection(moveRight, moveForward);
    this.clientTick = this.clientTick + 1 >>> 0;
    if (this.isPlaced()) this.predictor.predict(this.clientTick, direction);
    this.sentInputs.push({ tick: this.clientTick, direction });
    if (this.sentInputs.length > 64) this.sentInputs.shift();
    this.recentInputs.push({ moveRight, moveForward, yaw, buttons: 0 });
    if (this.recentInputs.length > INPUT_REDUNDANCY_MAX) this.recentInputs.shift();
    const inputs = this.recentInputs.slice(-this.inputRedundancy).reverse();
    const sent = this.endpoint.connection.sendUnreliable(
      encodeClientMessage({ type: "input", sequence: this.inputSequence, newestTick: this.clientTick, inputs })
    );
    this.inputSequence = this.inputSequence + 1 >>> 0;
    if (!sent.ok) return sent;
    this.counters.inputsSent++;
    const latest = this.receiver.latestTick;
    if (latest !== null && latest !== this.lastAckedSnapshot) {
      const acked = this.endpoint.connection.sendUnreliable(encodeClientMessage({ type: "snapshot_ack", tick: latest }));
      if (!acked.ok) return acked;
      this.lastAckedSnapshot = latest;
      this.counters.snapshotAcksSent++;
    }
    return ok(null);
  }
  /** Sends a chat line: channel 'zone' (0) or 'global' (1). Empty or over 256 bytes of UTF-8 is refused here. */
  sendChat(text, channel = ChatChannel.Zone) {
    if (!this.isConnected()) return err("not_connected");
    const bytes = new TextEncoder().encode(text);
    if (bytes.length === 0) return err("chat_empty");
    if (bytes.length > CHAT_TEXT_BYTES_MAX) return err("chat_too_long");
    return this.endpoint.connection.sendReliable(encodeClientMessage({ type: "chat", channel, text }));
  }
  /** Sends an action ({kind:'attack', target, aim} | {kind:'pick_up', loot} | trade_*) stamped with the client tick. */
  sendAction(action) {
    if (!this.isConnected()) return err("not_connected");
    const full = action.kind === "attack" ? { skill: 0, aim: [0, 0, 0], ...action } : action;
    return this.endpoint.connection.sendReliable(encodeClientMessage({ type: "action", clientTick: this.clientTick, action: full }));
  }
  /** Ends the session cleanly: the returned packet (send it) tells the server to free the session now. */
  disconnect() {
    const packet = this.endpoint.disconnectPacket();
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === "disconnected") this.pushEvent({ type: "disconnected", why: e.why });
    }
    if (packet) this.count(packet);
    return packet;
  }
  count(packet) {
    this.counters.packetsSent++;
    this.counters.bytesSent += packet.length;
  }
  pollTransmit(nowUs) {
    const packet = this.endpoint.pollTransmit(nowUs);
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === "disconnected") this.pushEvent({ type: "disconnected", why: e.why });
      else if (e.type === "message") this.onMessage(nowUs, e.bytes);
    }
    if (packet) this.count(packet);
    return packet;
  }
  pollTimeoutUs() {
    return this.endpoint.pollTimeoutUs();
  }
};

// src/session.js
function wallClockUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1e3);
}
var Session = class {
  /** `options`: {tickHz, onEvent(event), intent() → {direction, yaw}, clock() → µs}. */
  constructor(transport, tokenBytes, options = {}) {
    this.transport = transport;
    this.clock = options.clock ?? wallClockUs;
    this.onEvent = options.onEvent ?? (() => {
    });
    this.intent = options.intent ?? (() => ({ direction: [0, 0], yaw: 0 }));
    const created = GameClient.create(this.clock(), tokenBytes, { zone: { tickHz: options.tickHz ?? 20 } });
    if (!created.ok) throw new Error(`bad connect token: ${created.error}`);
    this.client = created.value;
    this.tickMs = 1e3 / (options.tickHz ?? 20);
    this.timer = null;
    this.ticker = null;
    this.stopped = false;
    transport.onPacket = (bytes) => {
      this.client.handle(this.clock(), bytes);
      this.drainEvents();
      this.flush();
    };
    transport.onClose = () => this.stop();
    this.flush();
  }
  drainEvents() {
    for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) {
      if (e.type === "connected" && !this.ticker) this.ticker = setInterval(() => this.tick(), this.tickMs);
      this.onEvent(e);
      if (e.type === "disconnected") this.stop();
    }
  }
  tick() {
    if (!this.client.isConnected()) return;
    this.client.tick(this.intent());
    this.flush();
  }
  /** Sends every due packet and re-arms the timer for the next due time. */
  flush() {
    if (this.stopped) return;
    const now = this.clock();
    for (let packet = this.client.pollTransmit(now); packet; packet = this.client.pollTransmit(now)) this.transport.send(packet);
    this.drainEvents();
    if (this.stopped) return;
    clearTimeout(this.timer);
    const due = this.client.pollTimeoutUs();
    if (due !== null) this.timer = setTimeout(() => this.flush(), Math.max(0, Math.min(1e3, (due - this.clock()) / 1e3)));
  }
  sendChat(text, channel = 0) {
    const r = this.client.sendChat(text, channel);
    this.flush();
    return r;
  }
  disconnect() {
    const packet = this.client.disconnect();
    if (packet) this.transport.send(packet);
    this.drainEvents();
    this.stop();
  }
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.transport.close?.();
  }
};

// src/web/api.js
async function call(base, path, { method = "GET", body, jwt: jwt2 } = {}) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (jwt2) headers.Authorization = `Bearer ${jwt2}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body ? JSON.stringify(body) : void 0 });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
  }
  if (!response.ok) {
    const message = json?.message ?? json?.error ?? (text || response.statusText);
    throw new Error(`${method} ${path}: ${response.status} ${message}`);
  }
  return json;
}
var api = {
  register: (base, name, password) => call(base, "/auth/register", { method: "POST", body: { name, password } }),
  login: (base, name, password) => call(base, "/auth/login", { method: "POST", body: { name, password } }),
  characters: (base, jwt2) => call(base, "/characters", { jwt: jwt2 }),
  createCharacter: (base, jwt2, name) => call(base, "/characters", { method: "POST", jwt: jwt2, body: { name } }),
  play: (base, jwt2, id) => call(base, `/characters/${id}/play`, { method: "POST", jwt: jwt2 })
};
function base64Bytes(text) {
  const clean2 = text.replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  const padded = clean2 + "=".repeat((4 - clean2.length % 4) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}
function ticketFromHash(hash) {
  const match = /(?:^#|&)ticket=([^&]+)/.exec(hash);
  if (!match) return null;
  return JSON.parse(new TextDecoder().decode(base64Bytes(decodeURIComponent(match[1]))));
}

// src/web/view.js
var CELL_M = 32;
var VIEW_M = 104;
var COLOURS = { self: "#2ecc40", player: "#0074d9", npc: "#ff4136", loot: "#ffdc00" };
function draw(canvas, { self, others, entity }) {
  const ctx = canvas.getContext("2d");
  const size = Math.min(canvas.width, canvas.height);
  const scale = size / VIEW_M;
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!self) {
    ctx.fillStyle = "#aaa";
    ctx.font = "16px sans-serif";
    ctx.fillText("waiting for the world\u2026", 20, 30);
    return;
  }
  const toScreen = ([x, y]) => [canvas.width / 2 + (x - self[0]) * scale, canvas.height / 2 - (y - self[1]) * scale];
  const cx = Math.floor(self[0] / CELL_M);
  const cy = Math.floor(self[1] / CELL_M);
  ctx.strokeStyle = "#333";
  ctx.lineWidth = 1;
  for (let i = -1; i <= 2; i++) {
    const [x0, y0] = toScreen([(cx + i) * CELL_M, (cy - 1) * CELL_M]);
    const [x1, y1] = toScreen([(cx + i) * CELL_M, (cy + 2) * CELL_M]);
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    const [a0, b0] = toScreen([(cx - 1) * CELL_M, (cy + i) * CELL_M]);
    const [a1, b1] = toScreen([(cx + 2) * CELL_M, (cy + i) * CELL_M]);
    ctx.beginPath();
    ctx.moveTo(a0, b0);
    ctx.lineTo(a1, b1);
    ctx.stroke();
  }
  ctx.font = "10px monospace";
  for (const e of others) {
    const [sx2, sy2] = toScreen(e.position);
    ctx.fillStyle = COLOURS[e.kind] ?? "#fff";
    ctx.beginPath();
    if (e.kind === "npc") {
      ctx.moveTo(sx2, sy2 - 7);
      ctx.lineTo(sx2 + 6, sy2 + 5);
      ctx.lineTo(sx2 - 6, sy2 + 5);
      ctx.closePath();
      ctx.fill();
    } else if (e.kind === "loot") {
      ctx.fillRect(sx2 - 4, sy2 - 4, 8, 8);
    } else {
      ctx.arc(sx2, sy2, 6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.fillStyle = "#ccc";
    ctx.fillText(String(e.id), sx2 + 8, sy2 - 6);
  }
  const [sx, sy] = toScreen(self);
  ctx.fillStyle = COLOURS.self;
  ctx.beginPath();
  ctx.arc(sx, sy, 8, 0, 2 * Math.PI);
  ctx.fill();
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 2;
  ctx.stroke();
  ctx.fillStyle = "#fff";
  ctx.fillText(`${entity} (you)`, sx + 10, sy - 8);
}

// src/web/ws_transport.js
function wsTransport(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const transport = {
      url,
      onPacket: () => {
      },
      onClose: () => {
      },
      closeInfo: null,
      send(bytes) {
        if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
      },
      close() {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1e3, "bye");
      }
    };
    ws.onopen = () => resolve(transport);
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
    ws.onmessage = (message) => {
      if (message.data instanceof ArrayBuffer) transport.onPacket(new Uint8Array(message.data));
    };
    ws.onclose = (event) => {
      transport.closeInfo = { code: event.code, reason: event.reason };
      transport.onClose(transport.closeInfo);
    };
  });
}

// src/web/main.js
var $ = (id) => document.getElementById(id);
var apiBase = new URLSearchParams(location.search).get("api") ?? "";
var session = null;
var connectionState = "logged_out";
var lastError = "";
var keys = /* @__PURE__ */ new Set();
var scripted = null;
function setError(message) {
  lastError = message;
  $("error").textContent = message;
}
function intent() {
  if (scripted && performance.now() < scripted.until) return { direction: scripted.direction, yaw: 0 };
  scripted = null;
  const x = (keys.has("d") ? 1 : 0) - (keys.has("a") ? 1 : 0);
  const y = (keys.has("w") ? 1 : 0) - (keys.has("s") ? 1 : 0);
  return { direction: [x, y], yaw: x || y ? Math.atan2(y, x) : 0 };
}
function client() {
  return session?.client ?? null;
}
function chatLine(c) {
  const li = document.createElement("li");
  li.textContent = `[${c.channel === 1 ? "global" : "zone"}] ${c.own ? "you" : c.server ? "server" : `#${c.from}`}: ${c.text}`;
  $("chat-log").append(li);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}
function onEvent(e) {
  if (e.type === "connected") connectionState = "connected";
  else if (e.type === "disconnected") {
    connectionState = "disconnected";
    $("status-reason").textContent = describeDisconnect(e.why);
  } else if (e.type === "server") {
    if (e.event.kind === "chat") chatLine(client().chatLog[client().chatLog.length - 1]);
    else if (e.event.kind === "join_refused") setError(`join refused (reason ${e.event.reason}); log in again later`);
    else if (e.event.kind === "died") $("status-reason").textContent = "you died";
    else if (e.event.kind === "respawned") $("status-reason").textContent = "";
  }
}
async function play(ticket) {
  if (!ticket.websocket) throw new Error("the play ticket has no websocket URL (is the WebSocket gateway enabled?)");
  session?.disconnect();
  connectionState = "connecting";
  $("login").hidden = true;
  $("game").hidden = false;
  const transport = await wsTransport(ticket.websocket);
  session = new Session(transport, base64Bytes(ticket.connect_token), { onEvent, intent });
  const ended = session;
  const stop = transport.onClose;
  transport.onClose = (info) => {
    stop(info);
    if (session === ended && connectionState !== "disconnected") {
      connectionState = "disconnected";
      $("status-reason").textContent = `WebSocket closed (${info?.code} ${info?.reason ?? ""})`;
    }
  };
}
var jwt = null;
async function refreshCharacters() {
  const { characters } = await api.characters(apiBase, jwt);
  const list = $("characters");
  list.replaceChildren();
  for (const c of characters) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = `Play ${c.name} (zone ${c.zone_id})`;
    button.onclick = () => api.play(apiBase, jwt, c.id).then(play).catch((e) => setError(e.message));
    li.append(button);
    list.append(li);
  }
  $("characters-box").hidden = false;
}
function wireForms() {
  const credentials = () => [$("name").value, $("password").value];
  $("register").onclick = (e) => {
    e.preventDefault();
    api.register(apiBase, ...credentials()).then(() => setError("registered: now log in")).catch((x) => setError(x.message));
  };
  $("login-form").onsubmit = (e) => {
    e.preventDefault();
    api.login(apiBase, ...credentials()).then((r) => {
      jwt = r.token;
      connectionState = "logged_in";
      setError("");
      return refreshCharacters();
    }).catch((x) => setError(x.message));
  };
  $("new-character").onsubmit = (e) => {
    e.preventDefault();
    api.createCharacter(apiBase, jwt, $("character-name").value).then(refreshCharacters).catch((x) => setError(x.message));
  };
  $("chat-form").onsubmit = (e) => {
    e.preventDefault();
    const text = $("chat-text").value;
    const r = session?.sendChat(text, Number($("chat-channel").value));
    if (r && !r.ok) setError(`chat not sent: ${r.error}`);
    else $("chat-text").value = "";
  };
  $("leave").onclick = () => session?.disconnect();
  const movementKey = (e) => {
    const k = e.key.toLowerCase();
    return ["w", "a", "s", "d"].includes(k) && document.activeElement?.tagName !== "INPUT" ? k : null;
  };
  addEventListener("keydown", (e) => {
    const k = movementKey(e);
    if (k) keys.add(k);
  });
  addEventListener("keyup", (e) => {
    const k = movementKey(e);
    if (k) keys.delete(k);
  });
  addEventListener("blur", () => keys.clear());
}
function status() {
  const c = client();
  const rtt = c?.rttUs();
  const position = c?.predictedPosition();
  return {
    state: c ? c.state : connectionState,
    rttMs: rtt == null ? null : rtt / 1e3,
    tick: c?.latestTick() ?? null,
    entity: c?.entity ?? null,
    position: position ? position.slice() : null,
    error: lastError
  };
}
function frame() {
  const c = client();
  const s = status();
  $("status").textContent = `${s.state} \xB7 rtt ${s.rttMs == null ? "\u2013" : s.rttMs.toFixed(1)} ms \xB7 tick ${s.tick ?? "\u2013"} \xB7 entity ${s.entity ?? "\u2013"} \xB7 ${s.position ? `(${s.position[0].toFixed(1)}, ${s.position[1].toFixed(1)})` : ""}`;
  if (c) draw($("view"), { self: c.isPlaced() ? c.predictedPosition() : null, others: c.renderRemote(wallClockUs()), entity: c.entity });
  requestAnimationFrame(frame);
}
var DIRECTIONS = { w: [0, 1], s: [0, -1], a: [-1, 0], d: [1, 0], up: [0, 1], down: [0, -1], left: [-1, 0], right: [1, 0] };
window.meridian = {
  status,
  state: () => status().state,
  entity: () => client()?.entity ?? null,
  position: () => status().position,
  serverPosition: () => {
    const c = client();
    return c?.entity == null ? null : c.serverWorld().get(c.entity)?.position ?? null;
  },
  others: () => client() ? client().renderRemote(wallClockUs()).map((e) => ({ id: e.id, kind: e.kind, position: e.position })) : [],
  chatLog: () => (client()?.chatLog ?? []).map((c) => ({ ...c })),
  sendChat: (text, channel = 0) => session?.sendChat(text, channel) ?? { ok: false, error: "not_connected" },
  /** Holds a direction ('w'|'a'|'s'|'d' or [x, y]) for `ms`; resolves when done. */
  move: (dir, ms) => {
    scripted = { direction: Array.isArray(dir) ? dir : DIRECTIONS[dir], until: performance.now() + ms };
    return new Promise((resolve) => setTimeout(resolve, ms));
  },
  disconnect: () => session?.disconnect(),
  play: (ticket) => play(ticket)
};
wireForms();
requestAnimationFrame(frame);
try {
  const ticket = ticketFromHash(location.hash);
  if (ticket) play(ticket).catch((e) => setError(e.message));
} catch (e) {
  setError(`bad #ticket: ${e.message}`);
}
/*! Bundled license information:

@noble/ciphers/utils.js:
  (*! noble-ciphers - MIT License (c) 2023 Paul Miller (paulmillr.com) *)
*/
