import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siphash24 } from '../../src/proto/siphash.js';
import { hex, Writer } from '../../src/proto/bytes.js';
import { SIPHASH24_VECTORS } from './siphash_vectors.js';

test('siphash24 matches the 64 reference vectors', () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.equal(SIPHASH24_VECTORS.length, 64);
  for (let n = 0; n < 64; n++) {
    const message = Uint8Array.from({ length: n }, (_, i) => i);
    const out = hex(new Writer(8).u64(siphash24(key, message)).finish());
    assert.equal(out, SIPHASH24_VECTORS[n], `message of ${n} bytes`);
  }
});

test('siphash24 depends on every key byte', () => {
  const message = new Uint8Array(18);
  const base = siphash24(new Uint8Array(16), message);
  for (let i = 0; i < 16; i++) {
    const key = new Uint8Array(16);
    key[i] = 1;
    assert.notEqual(siphash24(key, message), base, `key byte ${i}`);
  }
});
