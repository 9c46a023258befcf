// Malformed input never throws out of a decoder: random bytes, truncations and bit flips of valid
// encodings all come back as error results (or values), never exceptions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex } from '../../src/proto/bytes.js';
import { parseClientToken } from '../../src/proto/token.js';
import { readSealedHeader, openPacket } from '../../src/proto/packet.js';
import { decodePayload } from '../../src/proto/frames.js';
import { decodeClientMessage, decodeServerMessage } from '../../src/proto/messages.js';
import { SnapshotReceiver, decodeSnapshot } from '../../src/proto/snapshot.js';
import { GameClient } from '../../src/proto/client.js';
import { ClientConnection } from '../../src/proto/endpoint.js';

function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

const SEEDS = [
  fromHex('01000000 060ea000 02142000 00020084 00088064 0000000f 6000810c 10000001 04400004 401e0000 80093c80 c0030800 80000020 00026000 000000'),
  fromHex('040000000000000005000000010200686902000000010400636861740300401e18240a06000460b91c18240a0600b07c1d18240a0600f0181e18240a0600'),
  fromHex('82 03 00 2a000000 0200 6869'),
  fromHex('01 01000000 02000000 02 ff7f020101 0081000000'),
  fromHex('4d1301000000000000000200000000000000f6aedc0c0a4818beb02108cd7e68c2301a4a8b7e815c4ef988'),
];

function mutations(random) {
  const out = [];
  for (const seed of SEEDS) {
    for (let cut = 0; cut <= seed.length; cut++) out.push(seed.subarray(0, cut));
    for (let i = 0; i < 200; i++) {
      const m = seed.slice();
      m[random() % m.length] ^= 1 << (random() % 8);
      out.push(m);
    }
  }
  for (let i = 0; i < 500; i++) out.push(Uint8Array.from({ length: random() % 80 }, () => random() & 0xff));
  return out;
}

test('decoders return results, never throw, on truncated, flipped and random input', () => {
  const random = lcg(42);
  const receiver = new SnapshotReceiver();
  receiver.apply(SEEDS[0]);
  const key16 = new Uint8Array(16).fill(7);
  const key32 = new Uint8Array(32).fill(9);
  let errors = 0;
  for (const bytes of mutations(random)) {
    for (const decode of [
      () => parseClientToken(bytes),
      () => readSealedHeader(bytes),
      () => openPacket(bytes, key16, key32),
      () => decodePayload(bytes),
      () => decodeClientMessage(bytes),
      () => decodeServerMessage(bytes),
      () => decodeSnapshot(receiver.history, bytes),
      () => receiver.apply(bytes),
    ]) {
      let result;
      assert.doesNotThrow(() => (result = decode()));
      assert.equal(typeof result.ok, 'boolean');
      if (!result.ok) {
        errors++;
        assert.equal(typeof result.error, 'string');
        assert.ok(!result.error.startsWith('internal'), result.error);
      }
    }
  }
  assert.ok(errors > 1000, `${errors} errors`);
});

test('a client fed garbage drops it and stays in its state', () => {
  const token = fromHex(`
1ef1536500000000808182838485868788898a8b8c8d8e8f9091929394959697
ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c30d60
7c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850ab28
2f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b826c28
6ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da410a09
e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb501338241
56e17a19c039b51955429f2143134cdb55a484662f5803f63ef169ee8cf8d328
ee83df5fb2dc43c349139b7eff18bbf1efcdab89674523010700000011111111
1111111111111111111111111111111111111111111111111111111122222222
2222222222222222222222222222222222222222222222222222222233333333
3333333333333333333333330204cb007105000000000000000000000000611e
0620010db8000000000000000000000001621e00000000000000000000000000
00000000000000000000000000000000000000000000000000`);
  const now = 1_700_000_000_000_000;
  const client = GameClient.create(now, token).value;
  const first = client.pollTransmit(now);
  assert.equal(first.length, 1024, 'a ConnectionRequest first');
  assert.equal(client.pollTransmit(now + 50_000), null, 'resent only after 100 ms');
  assert.equal(client.pollTransmit(now + 100_000).length, 1024);
  const random = lcg(5);
  for (const bytes of mutations(random)) {
    assert.doesNotThrow(() => client.handle(now, bytes));
  }
  assert.equal(client.state, 'sending_request');
  assert.equal(client.tick().error, 'not_connected');
  // The token expires at 1 700 000 030 s: the client gives up then.
  assert.equal(client.pollTransmit(1_700_000_030_000_000), null);
  assert.deepEqual(client.disconnectReason, { kind: 'token_expired' });
  const lone = new ClientConnection(now, client.token);
  lone.pollTransmit(now);
  assert.equal(lone.pollTransmit(now + 5_000_001), null);
  assert.deepEqual(lone.disconnect, { kind: 'handshake_timed_out' });
});
