// SipHash-2-4 (Aumasson & Bernstein), 64-bit output, written from the algorithm's description: the
// edge tag of every sealed packet (PROTOCOL.md §1.2) is SipHash-2-4 of its first 18 bytes. BigInt
// arithmetic keeps it short and obviously correct; a client tags a few dozen packets a second, so
// speed does not matter here. Checked against the reference vectors in test/unit/siphash.test.js.

const MASK = (1n << 64n) - 1n;

const rotl = (x, b) => ((x << b) | (x >> (64n - b))) & MASK;

function readU64(bytes, at) {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

/** SipHash-2-4 of `message` under the 16-byte `key` (k0 = key[0..8], k1 = key[8..16], both LE); a u64 BigInt. */
export function siphash24(key, message) {
  if (key.length !== 16) throw new Error('siphash key must be 16 bytes');
  const k0 = readU64(key, 0);
  const k1 = readU64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n);
    v1 ^= v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n);
    v3 ^= v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n);
    v3 ^= v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n);
    v1 ^= v2;
    v2 = rotl(v2, 32n);
  };
  const whole = message.length - (message.length % 8);
  for (let at = 0; at < whole; at += 8) {
    const m = readU64(message, at);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  // Last block: the remaining bytes, zero-filled, with the message length (mod 256) in the top byte.
  let last = BigInt(message.length & 0xff) << 56n;
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
