// The GameClient stepped in virtual time against a scripted server: handshake, Joined, prediction
// agreeing with the server's step, reconciliation when the server knows a collider the client does
// not, interpolation of another entity, chat echo, clean disconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GameClient } from '../../src/proto/client.js';
import { sealConnectToken } from '../../src/proto/token.js';
import { step, movementModel } from '../../src/proto/prediction.js';
import { moveDirection, quantiseDirection } from '../../src/proto/messages.js';
import { ScriptedServer, fullSnapshot } from './helpers/scripted_server.js';
import { SnapshotReceiver } from '../../src/proto/snapshot.js';

const START_US = 1_700_000_000_000_000;
const clusterKey = new Uint8Array(32).fill(5);

function tokenBytes() {
  return sealConnectToken(clusterKey, new Uint8Array(24).fill(1), {
    sessionId: 77n, zoneId: 1, expiresAtS: START_US / 1e6 + 30,
    clientToServerKey: new Uint8Array(32).fill(1), serverToClientKey: new Uint8Array(32).fill(2), edgeKey: new Uint8Array(16).fill(3),
    addresses: [{ family: 4, host: '127.0.0.1', port: 7777 }],
  });
}

/** Runs `ms` of virtual time in 1 ms steps, 10 ms one-way delay; the client ticks at 20 Hz with `intent(ms)`. */
function play(client, server, { ms, intent = () => [0, 0], others = () => [], startMs = 0 }) {
  const inFlight = [];
  for (let t = startMs; t < startMs + ms; t++) {
    const now = START_US + t * 1000;
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const p = inFlight[i];
      if (p.at > now) continue;
      inFlight.splice(i, 1);
      if (p.toServer) server.receive(now, p.bytes);
      else client.handle(now, p.bytes);
    }
    if (t % 50 === 0 && client.isConnected()) client.tick({ direction: intent(t), yaw: 0 });
    if (t % 50 === 25 && server.connection) server.zoneTick(others(t));
    for (let b = client.pollTransmit(now); b; b = client.pollTransmit(now)) inFlight.push({ at: now + 10_000, toServer: true, bytes: b });
    for (const b of server.poll(now)) inFlight.push({ at: now + 10_000, toServer: false, bytes: b });
  }
  return startMs + ms;
}

test('connects, joins, predicts east movement exactly as the server steps it, and echoes chat', () => {
  const client = GameClient.create(START_US, tokenBytes()).value;
  const server = new ScriptedServer(clusterKey);
  let t = play(client, server, { ms: 500 });
  assert.equal(client.state, 'connected');
  assert.equal(client.entity, 42);
  assert.ok(client.isPlaced());
  assert.deepEqual(client.serverWorld().get(42).position, [512, 512, 0]);
  const events = [];
  for (let e = client.pollEvent(); e; e = client.pollEvent()) events.push(e.type === 'server' ? e.event.kind : e.type);
  assert.deepEqual(events.slice(0, 3), ['connected', 'joined', 'placed']);
  t = play(client, server, { ms: 1000, startMs: t, intent: () => [1, 0] });
  t = play(client, server, { ms: 300, startMs: t });
  assert.ok(Math.abs(server.position[0] - 519) < 0.01, `server at ${server.position}`);
  assert.deepEqual(client.predictedPosition(), server.position, 'bit-exact agreement');
  assert.equal(client.predictor.stats.corrections, 0);
  assert.ok(client.rttUs() >= 20_000 && client.rttUs() <= 21_000, `rtt ${client.rttUs()}`);
  assert.ok(client.sendChat('hi there').ok);
  t = play(client, server, { ms: 200, startMs: t });
  assert.deepEqual(server.chat, ['hi there']);
  assert.deepEqual(client.chatLog, [{ channel: 0, from: 42, text: 'hi there', own: true, server: false }]);
  const bye = client.disconnect();
  server.receive(START_US + t * 1000, bye);
  assert.deepEqual(server.ended, { kind: 'peer_disconnected', reason: 0 });
  assert.equal(client.state, 'disconnected');
});

test('placed from a quantised snapshot off the 1/64 m grid, a circling player is never corrected', () => {
  const client = GameClient.create(START_US, tokenBytes()).value;
  // Half a unit off on both axes: the worst start a placement can have.
  const server = new ScriptedServer(clusterKey, { spawn: [512 + 0.49 / 64, 512 - 0.49 / 64, 0] });
  let t = play(client, server, { ms: 500 });
  assert.notDeepEqual(client.predictedPosition(), server.position, 'placed at the rounded position');
  t = play(client, server, { ms: 5000, startMs: t, intent: (ms) => [Math.cos(ms / 700), Math.sin(ms / 700)] });
  assert.ok(client.predictor.stats.reconciliations > 80);
  assert.equal(client.predictor.stats.corrections, 0);
  const off = client.predictedPosition().map((p, i) => Math.abs(p - server.position[i]));
  assert.ok(off[0] <= 1 / 128 + 1e-6 && off[1] <= 1 / 128 + 1e-6, `${off}`);
});

test('a collider only the server knows: the client is corrected and converges to the server', () => {
  const client = GameClient.create(START_US, tokenBytes()).value;
  const server = new ScriptedServer(clusterKey, { colliders: [{ minM: [514, 500], maxM: [520, 520] }] });
  let t = play(client, server, { ms: 500 });
  t = play(client, server, { ms: 1000, startMs: t, intent: () => [1, 0] });
  t = play(client, server, { ms: 300, startMs: t });
  assert.ok(server.position[0] <= 514, `blocked at ${server.position}`);
  assert.ok(client.predictor.stats.corrections > 0, 'corrections counted');
  assert.deepEqual(client.predictedPosition(), server.position.map((p) => Math.round(p * 64) / 64), 'converged to the server (at snapshot resolution)');
});

test('another entity is interpolated 100 ms in the past between snapshots', () => {
  const client = GameClient.create(START_US, tokenBytes()).value;
  const server = new ScriptedServer(clusterKey);
  // An NPC walking east at 2 m/s.
  const npc = (t) => [{ id: 7, kind: 1, position: [500 + (2 * t) / 1000, 500, 0] }];
  const t = play(client, server, { ms: 2000, others: npc });
  const now = START_US + t * 1000;
  const drawn = client.renderRemote(now).find((e) => e.id === 7);
  assert.equal(drawn.kind, 'npc');
  const newest = client.serverWorld().get(7).position[0];
  assert.ok(drawn.position[0] < newest, 'drawn behind the newest snapshot');
  assert.ok(newest - drawn.position[0] > 0.1 && newest - drawn.position[0] < 0.5, `${newest} vs ${drawn.position[0]}`);
  // Drawn positions move smoothly: sampled every 10 ms they never go backwards.
  let previous = -Infinity;
  for (let dt = 0; dt < 200; dt += 10) {
    const x = client.renderRemote(now + dt * 1000).find((e) => e.id === 7).position[0];
    assert.ok(x >= previous, `went back at +${dt} ms`);
    previous = x;
  }
  assert.ok(!client.renderRemote(now).some((e) => e.id === 42), 'our own entity is not interpolated');
});

test('the movement step: world edge, diagonal speed, strict collider edges', () => {
  const model = movementModel();
  assert.deepEqual(step(model, [0.1, 5, 0], [-1, 0]), [0, 5, 0]);
  const edge = Math.fround(1024 - Math.fround(1024 * 2 ** -23));
  assert.deepEqual(step(model, [1023.9, 5, 0], [1, 0]), [edge, 5, 0]);
  const diagonal = moveDirection(...quantiseDirection([1, 1]));
  assert.ok(Math.abs(Math.hypot(...diagonal) - 1) < 1e-6);
  const walled = movementModel({ colliders: [{ minM: [10, 0], maxM: [20, 20] }] });
  assert.deepEqual(step(walled, [9.9, 5, 0], [1, 0]), [Math.fround(9.9), 5, 0].map(Math.fround), 'blocked on x');
  assert.deepEqual(step(walled, [9.9, 20, 0], [1, 0]), [Math.fround(Math.fround(9.9) + Math.fround(0.35)), 20, 0], 'the edge y = 20 is walkable');
  assert.deepEqual(quantiseDirection([-0.5 / 127, 0]), [-1, 0], 'half rounds away from zero');
});

test('the scripted server encodes snapshots the decoder reads back', () => {
  const receiver = new SnapshotReceiver();
  assert.ok(receiver.apply(fullSnapshot(3, [{ id: 1, position: [1, 2, 0] }, { id: 900, kind: 2, position: [3, 4, 0] }])).ok);
  assert.deepEqual([...receiver.world.keys()], [1, 900]);
  assert.equal(receiver.world.get(900).kind, 'loot');
});
