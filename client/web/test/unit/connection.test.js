// The connection state machine stepped in virtual time: a JS client Connection against a JS server
// Connection (both sides are the same code, as in the Rust crate), with delay and loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, ACK_DELAY_MAX_US } from '../../src/proto/connection.js';
import { ReplayWindow } from '../../src/proto/packet.js';

function pair(nowUs, clockOffsetUs = 0) {
  const make = (side, send, receive) => new Connection({
    side, sessionId: 9n, sendKey: new Uint8Array(32).fill(send), receiveKey: new Uint8Array(32).fill(receive),
    edgeKey: new Uint8Array(16).fill(3), sendSequenceStart: 0, received: new ReplayWindow(), nowUs: side === 'server' ? nowUs + clockOffsetUs : nowUs,
  });
  return [make('client', 1, 2), make('server', 2, 1)];
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Runs 1 ms steps; `each(step, now)` may queue messages; packets arrive `delayUs` later unless lost. */
function run(client, server, { steps, delayUs = 5_000, loss = 0, seed = 1, offsetUs = 0, each = () => {} }) {
  const random = lcg(seed);
  const inFlight = [];
  let sent = [0, 0];
  for (let step = 0; step < steps; step++) {
    const now = step * 1000;
    while (inFlight.length && inFlight[0].at <= now) {
      const p = inFlight.shift();
      const result = p.toServer ? server.receive(now + offsetUs, p.bytes) : client.receive(now, p.bytes);
      assert.ok(result.ok, result.error);
    }
    each(step, now);
    for (let b = client.pollPacket(now); b; b = client.pollPacket(now)) {
      sent[0]++;
      if (random() >= loss) inFlight.push({ at: now + delayUs, toServer: true, bytes: b });
    }
    for (let b = server.pollPacket(now + offsetUs); b; b = server.pollPacket(now + offsetUs)) {
      sent[1]++;
      if (random() >= loss) inFlight.push({ at: now + delayUs, toServer: false, bytes: b });
    }
    inFlight.sort((a, b) => a.at - b.at);
  }
  return sent;
}

test('reliable messages arrive once, in order, beside tick traffic with 10% loss', () => {
  const [client, server] = pair(0);
  const got = [];
  let next = 0;
  run(client, server, {
    steps: 20_000, loss: 0.1, seed: 7,
    each: (step) => {
      if (step % 50 === 0) client.sendUnreliable(Uint8Array.of(1));
      if (step % 50 === 20) {
        server.sendUnreliable(Uint8Array.of(2));
        if (next < 200) assert.ok(server.sendReliable(Uint8Array.of(next & 0xff, next >> 8)).ok), next++;
      }
      for (let m = client.pollReceived(); m; m = client.pollReceived()) if (m.reliable) got.push(m.bytes[0] | (m.bytes[1] << 8));
    },
  });
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  assert.equal(client.closed, null);
  assert.ok(client.stats.packetLoss > 0.02 && client.stats.packetLoss < 0.25, `loss ${client.stats.packetLoss}`);
});

test('a 5000-byte reliable message is fragmented and reassembled', () => {
  const [client, server] = pair(0);
  const message = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
  assert.ok(client.sendReliable(message).ok);
  let got = null;
  run(client, server, { steps: 2000, loss: 0.2, seed: 3, each: () => {
    const m = server.pollReceived();
    if (m) got = m;
  } });
  assert.ok(got?.reliable);
  assert.deepEqual(got.bytes, message);
  assert.equal(client.reliableQueue.length, 0, 'every fragment acked');
});

test('acks ride on tick traffic: about one packet per tick each way', () => {
  const [client, server] = pair(0);
  const sent = run(client, server, { steps: 100 * 50, each: (step) => {
    if (step % 50 === 0) client.sendUnreliable(Uint8Array.of(1));
    if (step % 50 === 20) server.sendUnreliable(Uint8Array.of(2));
    while (client.pollReceived() || server.pollReceived());
  } });
  assert.ok(sent[0] >= 100 && sent[0] <= 108, `client sent ${sent[0]}`);
  assert.ok(sent[1] >= 100 && sent[1] <= 108, `server sent ${sent[1]}`);
});

test('a lone unreliable packet is acked after the delay, a reliable one at once', () => {
  const [client, server] = pair(0);
  run(client, server, { steps: 200 });
  const now = 1_000_000;
  // Bring both sides up to date (keep-alives, pings) so only the new packet's ack is pending.
  while (server.pollPacket(now));
  for (let b = client.pollPacket(now); b; b = client.pollPacket(now)) server.receive(now, b);
  for (let b = server.pollPacket(now); b; b = server.pollPacket(now)) client.receive(now, b);
  client.sendUnreliable(Uint8Array.of(1));
  server.receive(now, client.pollPacket(now));
  assert.equal(server.pollPacket(now + ACK_DELAY_MAX_US - 1), null, 'the ack waits for traffic');
  assert.ok(server.pollPacket(now + ACK_DELAY_MAX_US), 'then goes alone');
  const later = now + ACK_DELAY_MAX_US + 1000;
  client.sendReliable(Uint8Array.of(1));
  server.receive(later, client.pollPacket(later));
  assert.ok(server.pollPacket(later), 'fragments are acked at once');
});

test('clock sync over the connection finds the server offset', () => {
  const [client, server] = pair(0, 250_000);
  run(client, server, { steps: 5000, offsetUs: 250_000, delayUs: 10_000 });
  assert.ok(Math.abs(client.clock.offsetUs() - 250_000) <= 1000, `offset ${client.clock.offsetUs()}`);
  assert.ok(Math.abs(client.clock.rttUs() - 20_000) <= 2000, `rtt ${client.clock.rttUs()}`);
});

test('replayed and tampered packets are dropped with their labels, and the session times out', () => {
  const [client, server] = pair(0);
  client.sendUnreliable(Uint8Array.of(1));
  const packet = client.pollPacket(0);
  assert.ok(server.receive(0, packet).ok);
  assert.equal(server.receive(0, packet).error, 'replayed');
  const tampered = client.pollPacket(200_000);
  tampered[tampered.length - 1] ^= 1;
  assert.equal(server.receive(0, tampered).error, 'bad_seal');
  assert.equal(client.handleTimeout(5_000_001), true);
  assert.deepEqual(client.closed, { kind: 'timed_out' });
  const [c2, s2] = pair(0);
  const bye = c2.disconnectPacket(6);
  assert.ok(s2.receive(0, bye).ok);
  assert.deepEqual(s2.closed, { kind: 'peer_disconnected', reason: 6 });
  assert.equal(c2.pollPacket(0), null, 'nothing is sent after a disconnect');
});

test('the replay window: 256 packets deep, marks only what it is told, ack state = newest + 32 bits', () => {
  const w = new ReplayWindow();
  assert.ok(w.check(0) && w.check(1000));
  assert.deepEqual(w.ackState(), { ackNewestPlusOne: 0, ackBits: 0 });
  w.mark(300);
  assert.ok(!w.check(300), 'marked');
  assert.ok(w.check(299) && w.check(45), 'within the window, not yet received');
  assert.ok(!w.check(44), '256 behind the newest is outside the window');
  w.mark(298);
  w.mark(268);
  assert.deepEqual(w.ackState(), { ackNewestPlusOne: 301, ackBits: ((1 << 1) | (1 << 31)) >>> 0 });
  w.mark(301 + 255); // far ahead: the old marks slide out of the 32 ack bits but stay in the window
  assert.deepEqual(w.ackState(), { ackNewestPlusOne: 557, ackBits: 0 });
  assert.ok(w.check(301), "255 behind, never received");
  assert.ok(!w.check(300), "256 behind: outside, even though it was received");
  w.mark(10_000);
  assert.ok(w.check(9_999) && !w.check(556), 'a jump beyond the window clears it');
});
