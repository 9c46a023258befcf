// Every test vector of schemas/PROTOCOL.md, byte for byte (section numbers in the test names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, hex } from '../../src/proto/bytes.js';
import { parseClientToken, sealConnectToken, openPrivateToken } from '../../src/proto/token.js';
import {
  connectionRequest, sealPacket, openPacket, PacketType, disconnectReasonFromPlaintext, disconnectReasonName, readSealedHeader,
} from '../../src/proto/packet.js';
import { encodePayload, decodePayload } from '../../src/proto/frames.js';
import { encodeClientMessage, decodeClientMessage, decodeServerMessage, aimDirection } from '../../src/proto/messages.js';
import { SnapshotReceiver } from '../../src/proto/snapshot.js';
import { clockSample } from '../../src/proto/clock.js';

const fill = (n, b) => new Uint8Array(n).fill(b);
const seq = (n, from) => Uint8Array.from({ length: n }, (_, i) => from + i);

const TOKEN_HEX = `
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
00000000000000000000000000000000000000000000000000`;

const SEALED_WITH_CHARACTER_HEX = `
ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c30d60
7c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850ab28
2f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b826c28
6ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da410a09
e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb501338241
56e17a19c039b51955cae84716577ff944a484662f5803f63ef169ee8cf8d328
c908e434be8526ec5d88be1e03eaba5e`;

const tokenFields = {
  sessionId: 0x0123456789abcdefn,
  zoneId: 7,
  expiresAtS: 1_700_000_030,
  clientToServerKey: fill(32, 0x11),
  serverToClientKey: fill(32, 0x22),
  edgeKey: fill(16, 0x33),
  addresses: [
    { family: 4, host: '203.0.113.5', port: 7777 },
    { family: 6, host: '2001:db8::1', port: 7778 },
  ],
};

test('§2 client token vector: sealing gives the 409 bytes and parsing gives the fields', () => {
  const token = sealConnectToken(seq(32, 0), seq(24, 0x80), tokenFields);
  assert.equal(hex(token), hex(fromHex(TOKEN_HEX)));
  const parsed = parseClientToken(fromHex(TOKEN_HEX));
  assert.ok(parsed.ok, parsed.error);
  const t = parsed.value;
  assert.equal(t.sessionId, 0x0123456789abcdefn);
  assert.equal(t.zoneId, 7);
  assert.equal(t.expiresAtS, 1_700_000_030);
  assert.deepEqual(t.clientToServerKey, fill(32, 0x11));
  assert.deepEqual(t.serverToClientKey, fill(32, 0x22));
  assert.deepEqual(t.edgeKey, fill(16, 0x33));
  assert.deepEqual(t.addresses, [
    { family: 4, host: '203.0.113.5', port: 7777 },
    { family: 6, host: '2001:db8:0:0:0:0:0:1', port: 7778 },
  ]);
  const opened = openPrivateToken(seq(32, 0), token);
  assert.ok(opened.ok);
  assert.equal(opened.value.characterId, 0n);
});

test('§2 character token vector: only the sealed part differs', () => {
  const token = sealConnectToken(seq(32, 0), seq(24, 0x80), { ...tokenFields, characterId: 0x1122334455667788n });
  assert.equal(hex(token.subarray(32, 240)), hex(fromHex(SEALED_WITH_CHARACTER_HEX)));
  assert.equal(hex(token.subarray(240)), hex(fromHex(TOKEN_HEX).subarray(240)));
  assert.equal(openPrivateToken(seq(32, 0), token).value.characterId, 0x1122334455667788n);
});

test('§2 client token errors', () => {
  const good = fromHex(TOKEN_HEX);
  assert.equal(parseClientToken(good.subarray(0, 408)).error, 'token_bad_length');
  const badCount = good.slice();
  badCount[240 + 92] = 5;
  assert.equal(parseClientToken(badCount).error, 'token_bad_address_count');
  const badFamily = good.slice();
  badFamily[240 + 93] = 5;
  assert.equal(parseClientToken(badFamily).error, 'token_bad_address_family');
  const badPadding = good.slice();
  badPadding[408] = 1;
  assert.equal(parseClientToken(badPadding).error, 'token_padding');
});

test('§1.1 connection request vector', () => {
  const token = parseClientToken(fromHex(TOKEN_HEX)).value;
  const request = connectionRequest(token);
  assert.equal(request.length, 1024);
  const expected = fromHex(`
4d101ef1536500000000808182838485868788898a8b8c8d8e8f909192939495
9697ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c3
0d607c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850
ab282f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b82
6c286ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da41
0a09e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb50133
824156e17a19c039b51955429f2143134cdb55a484662f5803f63ef169ee8cf8
d328ee83df5fb2dc43c349139b7eff18bbf1`);
  assert.equal(hex(request.subarray(0, 242)), hex(expected));
  assert.ok(request.subarray(242).every((b) => b === 0));
});

test('§1.2 sealed packet vector', () => {
  const packet = sealPacket(PacketType.Payload, 1n, 2, fill(16, 7), fill(32, 9), Uint8Array.of(0xaa));
  assert.equal(hex(packet), '4d1301000000000000000200000000000000f6aedc0c0a4818beb02108cd7e68c2301a4a8b7e815c4ef988');
  const opened = openPacket(packet, fill(16, 7), fill(32, 9));
  assert.ok(opened.ok);
  assert.equal(opened.value.sequence, 2);
  assert.deepEqual(opened.value.plaintext, Uint8Array.of(0xaa));
  const badTag = packet.slice();
  badTag[20] ^= 1;
  assert.equal(openPacket(badTag, fill(16, 7), fill(32, 9)).error, 'bad_edge_tag');
  const badSeal = packet.slice();
  badSeal[26] ^= 1;
  assert.equal(openPacket(badSeal, fill(16, 7), fill(32, 9)).error, 'bad_seal');
  assert.equal(openPacket(packet, fill(16, 7), fill(32, 8)).error, 'bad_seal');
});

test('§1.2/§1.4 disconnect packet vector and reasons', () => {
  const packet = sealPacket(PacketType.Disconnect, 0x0123456789abcdefn, 9, fill(16, 0x33), fill(32, 0x22), Uint8Array.of(5));
  assert.equal(hex(packet), '4d14efcdab89674523010900000000000000b3d4e88c5a4e5f0e4535bfc0db921e182251599ddaf14e517d');
  const opened = openPacket(packet, fill(16, 0x33), fill(32, 0x22));
  assert.equal(disconnectReasonName(disconnectReasonFromPlaintext(opened.value.plaintext)), 'shutting_down');
  assert.equal(disconnectReasonFromPlaintext(new Uint8Array()), 0);
  assert.equal(disconnectReasonFromPlaintext(Uint8Array.of(8)), 0);
  assert.equal(disconnectReasonFromPlaintext(Uint8Array.of(255, 1)), 0);
  assert.equal(disconnectReasonFromPlaintext(Uint8Array.of(7, 1)), 7);
});

test('§1.5 header checks', () => {
  assert.equal(readSealedHeader(new Uint8Array(1)).error, 'too_short');
  assert.equal(readSealedHeader(new Uint8Array(1201)).error, 'too_long');
  assert.equal(readSealedHeader(Uint8Array.of(0x4e, 0x13)).error, 'bad_magic');
  assert.equal(readSealedHeader(Uint8Array.of(0x4d, 0x23)).error, 'bad_version');
  assert.equal(readSealedHeader(Uint8Array.of(0x4d, 0x15)).error, 'bad_type');
  assert.equal(readSealedHeader(Uint8Array.of(0x4d, 0x10)).error, 'bad_request_size');
  assert.equal(readSealedHeader(Uint8Array.of(0x4d, 0x13, 0)).error, 'too_short');
});

const PAYLOAD_PLAIN = `
040000000000000005000000010200686902000000010400636861740300401e
18240a06000460b91c18240a0600b07c1d18240a0600f0181e18240a0600`;
const PAYLOAD_SEALED = `
4d13efcdab89674523010500000000000000feb2891b40695d0fd4b5032524c6
95181cbe726c92b5f19787742a7de911dd777acd776be5c9948798875708fd36
36b71c5c4310a60715476d9cee178cb07ccdaac5edf0aed9273d4c0b2760f117
5f29180140c1f07c`;

test('§3 payload packet vector: frames and the sealed packet', () => {
  const text = new TextEncoder();
  const payload = {
    ackNewestPlusOne: 4,
    ackBits: 0b101,
    frames: [
      { type: 'unreliable', bytes: text.encode('hi') },
      { type: 'fragment', messageId: 0, index: 0, count: 1, bytes: text.encode('chat') },
      { type: 'ping', sentUs: 1_700_000_000_000_000 },
      { type: 'pong', pingSentUs: 1_699_999_999_900_000, pingReceivedUs: 1_699_999_999_950_000, pongSentUs: 1_699_999_999_990_000 },
    ],
  };
  const plain = encodePayload(payload);
  assert.equal(plain.length, 62);
  assert.equal(hex(plain), hex(fromHex(PAYLOAD_PLAIN)));
  const decoded = decodePayload(plain);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, payload);
  const sealed = sealPacket(PacketType.Payload, 0x0123456789abcdefn, 5, fill(16, 0x33), fill(32, 0x11), plain);
  assert.equal(hex(sealed), hex(fromHex(PAYLOAD_SEALED)));
});

test('§3 frame decoder errors', () => {
  assert.equal(decodePayload(new Uint8Array(11)).error, 'frame_truncated');
  assert.equal(decodePayload(Uint8Array.of(...new Uint8Array(12), 9)).error, 'frame_unknown_type');
  assert.equal(decodePayload(Uint8Array.of(...new Uint8Array(12), 2, 0, 0, 1, 1, 0, 0)).error, 'frame_bad_fragment');
  assert.equal(decodePayload(Uint8Array.of(...new Uint8Array(12), 2, 0, 0, 0, 17, 0, 0)).error, 'frame_bad_fragment');
  assert.equal(decodePayload(Uint8Array.of(...new Uint8Array(12), 2, 0, 0, 0, 2, 1, 0, 0)).error, 'frame_bad_fragment');
  const many = Uint8Array.of(...new Uint8Array(12), ...Array.from({ length: 65 }, () => [1, 0, 0]).flat());
  assert.equal(decodePayload(many).error, 'frame_too_many');
});

const C2S = [
  [{ type: 'input', sequence: 1, newestTick: 2, inputs: [{ moveRight: -1, moveForward: 127, yaw: 0x0102, buttons: 1 }, { moveRight: 0, moveForward: -127, yaw: 0, buttons: 0 }] }, '01 01000000 02000000 02 ff7f020101 0081000000'],
  [{ type: 'action', clientTick: 7, action: { kind: 'attack', target: 5, skill: 3, aim: [-32768, 32767, 0] } }, '02 07000000 01 05000000 0300 0080 ff7f 0000'],
  [{ type: 'action', clientTick: 8, action: { kind: 'pick_up', loot: 900 } }, '02 08000000 02 84030000'],
  [{ type: 'action', clientTick: 9, action: { kind: 'trade_offer', target: 7, giveItem: 42, wantItem: 0 } }, '02 09000000 03 07000000 2a000000 00000000'],
  [{ type: 'action', clientTick: 10, action: { kind: 'trade_accept', from: 7 } }, '02 0a000000 04 07000000'],
  [{ type: 'chat', channel: 0, text: 'hey' }, '03 00 0300 686579'],
  [{ type: 'chat', channel: 1, text: 'é' }, '03 01 0200 c3a9'],
  [{ type: 'snapshot_ack', tick: 0x01020304 }, '80 04030201'],
];

test('§4.10 client → server message vectors', () => {
  for (const [message, bytes] of C2S) {
    const expected = fromHex(bytes);
    assert.equal(hex(encodeClientMessage(message)), hex(expected), JSON.stringify(message));
    assert.deepEqual(decodeClientMessage(expected).value, message);
  }
});

test('§4.1 aim: −32768 on the wire reads as −32767', () => {
  const decoded = decodeClientMessage(fromHex('02 07000000 01 05000000 0300 0080 ff7f 0000'));
  assert.ok(decoded.ok);
  assert.deepEqual(aimDirection(decoded.value.action.aim), [-1, 1, 0]);
});

const S2C = [
  ['81 09000000 deadbeef', { type: 'snapshot', lastInputTick: 9, payload: fromHex('deadbeef') }],
  ['81 ffffffff', { type: 'snapshot', lastInputTick: null, payload: new Uint8Array() }],
  ['82 01 2a000000', { type: 'event', event: { kind: 'joined', entity: 42 } }],
  ['82 02 00', { type: 'event', event: { kind: 'join_refused', reason: 0 } }],
  ['82 02 01', { type: 'event', event: { kind: 'join_refused', reason: 1 } }],
  ['82 02 02', { type: 'event', event: { kind: 'join_refused', reason: 2 } }],
  ['82 03 00 2a000000 0200 6869', { type: 'event', event: { kind: 'chat', channel: 0, from: 42, text: 'hi' } }],
  ['82 03 01 07000000 0000', { type: 'event', event: { kind: 'chat', channel: 1, from: 7, text: '' } }],
  ['82 04 07000000', { type: 'event', event: { kind: 'died', killer: 7 } }],
  ['82 04 ffffffff', { type: 'event', event: { kind: 'died', killer: null } }],
  ['82 05', { type: 'event', event: { kind: 'respawned' } }],
  ['82 06 07000000 01', { type: 'event', event: { kind: 'attack_result', target: 7, hit: true } }],
  ['82 06 07000000 00', { type: 'event', event: { kind: 'attack_result', target: 7, hit: false } }],
  ['82 07 e8030000 0500', { type: 'event', event: { kind: 'inventory_granted', item: 1000, quantity: 5 } }],
  ['82 08 0b000000 02', { type: 'event', event: { kind: 'pick_up_refused', loot: 11, reason: 2 } }],
  ['82 08 0b000000 01', { type: 'event', event: { kind: 'pick_up_refused', loot: 11, reason: 1 } }],
  ['82 09 2a000000 e8030000 00000000', { type: 'event', event: { kind: 'trade_offered', from: 42, giveItem: 1000, wantItem: 0 } }],
  ['82 0a 07000000 00000000 e8030000', { type: 'event', event: { kind: 'trade_completed', with: 7, gaveItem: 0, gotItem: 1000 } }],
  ['82 0b 07000000 03', { type: 'event', event: { kind: 'trade_refused', with: 7, reason: 3 } }],
];

test('§4.10 server → client message and event vectors', () => {
  for (const [bytes, message] of S2C) {
    const decoded = decodeServerMessage(fromHex(bytes));
    assert.ok(decoded.ok, `${bytes}: ${decoded.error}`);
    assert.deepEqual(decoded.value, message, bytes);
  }
});

test('§4.1 message decoder errors', () => {
  const cases = [
    ['', 'truncated'],
    ['01', 'unknown_type'],
    ['02 00', 'unknown_type'],
    ['82 01 2a000000 00', 'trailing_bytes'],
    ['82 01 2a', 'truncated'],
    ['82 0c', 'unknown_value'],
    ['82 02 03', 'unknown_value'],
    ['82 06 07000000 02', 'unknown_value'],
    ['82 03 02 2a000000 0000', 'unknown_channel'],
    ['82 03 00 2a000000 0101', 'chat_too_long'],
    ['82 03 00 2a000000 0100 ff', 'chat_not_utf8'],
  ];
  for (const [bytes, error] of cases) assert.equal(decodeServerMessage(fromHex(bytes)).error, error, bytes);
  const tooLarge = new Uint8Array(5 + 1139);
  tooLarge[0] = 0x81;
  assert.equal(decodeServerMessage(tooLarge).error, 'snapshot_too_large');
  assert.equal(decodeClientMessage(fromHex('01 00000000 00000000 00')).error, 'bad_input_count');
  assert.equal(decodeClientMessage(fromHex('01 00000000 00000000 09')).error, 'bad_input_count');
  assert.equal(decodeClientMessage(fromHex('02 00000000 05')).error, 'unknown_action');
});

test('§5 snapshot vector: tick 7, one player', () => {
  const receiver = new SnapshotReceiver();
  const applied = receiver.apply(fromHex('07000000 02 0c 00 00 08 00 80 00 00 08 00 00 02 20 00 92 01 04 00 00'));
  assert.ok(applied.ok, applied.error);
  assert.equal(applied.value, 7);
  assert.deepEqual([...receiver.world.values()], [
    { id: 5, kind: 'player', position: [0, 0, 0], yaw: 0, velocity: [0, 0, 0], health: 100, flags: 1 },
  ]);
});

test('§5.1 delta snapshot vector: baseline tick 1, delta tick 2', () => {
  const receiver = new SnapshotReceiver();
  const tick1 = fromHex(`01000000 060ea000 02142000 00020084 00088064 0000000f 6000810c 10000001 04400004 401e0000
80093c80 c0030800 80000020 00026000 000000`);
  const tick2 = fromHex('02000000 411fd402 b00002c0 02085480 00000800 00022000 92010000 00');
  assert.equal(tick2.length, 29);
  // Without tick 1 the delta cannot be decoded, and the receiver stays as it was.
  assert.equal(receiver.apply(tick2).error, 'baseline_unknown');
  assert.equal(receiver.latestTick, null);
  assert.ok(receiver.apply(tick1).ok);
  const one = receiver.world;
  assert.deepEqual([...one.keys()], [3, 7, 9]);
  assert.deepEqual(one.get(3).position, [10, 20, 0]);
  assert.deepEqual(one.get(3).velocity, [2, 0, 0]);
  assert.equal(one.get(7).kind, 'npc');
  assert.equal(one.get(7).yaw, Math.PI);
  assert.equal(one.get(9).kind, 'loot');
  assert.equal(encodeClientMessage({ type: 'snapshot_ack', tick: receiver.latestTick }).join(','), '128,1,0,0,0');
  const applied = receiver.apply(tick2);
  assert.ok(applied.ok, applied.error);
  const two = receiver.world;
  assert.deepEqual([...two.keys()], [3, 7, 12]);
  assert.deepEqual(two.get(3).position, [10.09375, 20, 0]);
  assert.equal(two.get(7).health, 45);
  assert.deepEqual(two.get(7).position, [12, 25, 0]);
  assert.deepEqual(two.get(12), { id: 12, kind: 'player', position: [11, 21, 0], yaw: 0, velocity: [0, 0, 0], health: 100, flags: 0 });
  // A second copy of tick 1 arriving late is kept as a baseline but does not change the world.
  assert.ok(receiver.apply(tick1).ok);
  assert.equal(receiver.latestTick, 2);
  // Trailing byte and non-zero padding are refused.
  assert.equal(new SnapshotReceiver().apply(Uint8Array.of(...tick1, 0)).error, 'trailing_bytes');
  const padded = tick1.slice();
  padded[padded.length - 1] |= 0x80;
  assert.equal(new SnapshotReceiver().apply(padded).error, 'padding_not_zero');
});

test('§4.9 clock sync arithmetic vectors', () => {
  const t0 = 1_700_000_000_000_000;
  assert.deepEqual(clockSample(t0, t0 + 280_000, t0 + 282_000, t0 + 42_000), { rttUs: 40_000, offsetUs: 260_000 });
  assert.deepEqual(clockSample(1000, 500, 501, 1002), { rttUs: 1, offsetUs: -500 });
  assert.equal(clockSample(1000, 502, 501, 1002), null, 't2 < t1');
  assert.equal(clockSample(1000, 500, 501, 999), null, 't3 < t0');
  assert.equal(clockSample(0, 0, 0, 10_000_001), null, 'rtt over 10 s');
});
