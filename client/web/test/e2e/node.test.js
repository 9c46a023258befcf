// End to end against the real node over UDP: `meridian-node serve` standalone with a dev cluster key,
// a connect token issued here from the spec (§2: XChaCha20-Poly1305 under the cluster key), then the
// whole client: handshake, Joined, moving with inputs and seeing it in snapshots, zone chat echoed,
// a clean disconnect that frees the session on the node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Session, wallClockUs } from '../../src/session.js';
import { udpTransport } from '../../src/node/udp_transport.js';
import { TestNode, sleep } from '../helpers/node.js';

let node;
const until = (...args) => node.until(...args);
const metric = (name) => node.metric(name);

async function connect(zoneId, intent) {
  const transport = await udpTransport('127.0.0.1', node.gamePort);
  const events = [];
  const session = new Session(transport, node.token(zoneId), { onEvent: (e) => events.push(e), intent });
  return { session, events, client: session.client, transport };
}

before(async () => {
  node = await TestNode.start();
});

after(() => node?.stop());

test('a JS client joins the real node, moves, chats and disconnects cleanly', async () => {
  let direction = [0, 0];
  const { session, events, client } = await connect(1, () => ({ direction, yaw: 0 }));
  await until('connected', () => client.isConnected());
  const joined = await until('joined', () => events.find((e) => e.type === 'server' && e.event.kind === 'joined'));
  const entity = joined.event.entity;
  await until('placed', () => client.isPlaced());
  const start = client.serverWorld().get(entity).position.slice();
  assert.equal(client.serverWorld().get(entity).kind, 'player');
  await until('a clock-sync sample', () => client.rttUs() !== null);
  assert.ok(client.rttUs() < 50_000, `loopback rtt ${client.rttUs()} µs`);
  assert.ok(Math.abs(client.serverTimeUs(wallClockUs()) - wallClockUs()) < 100_000, 'server clock is wall-clock µs');

  // Move east (+x) for one second: 7 m/s at 20 Hz.
  direction = [1, 0];
  await sleep(1000);
  direction = [0, 0];
  await sleep(300);
  const moved = client.serverWorld().get(entity).position;
  assert.ok(moved[0] - start[0] > 4 && moved[0] - start[0] < 9, `moved ${moved[0] - start[0]} m east: ${start} → ${moved}`);
  assert.ok(Math.abs(moved[1] - start[1]) < 1e-9, 'no move north');
  // Prediction agrees with the server once inputs are applied (bit-exact step, 1/64 m quantisation).
  await until('prediction settled', () => {
    const p = client.predictedPosition();
    return Math.abs(p[0] - client.serverWorld().get(entity).position[0]) <= 1 / 64;
  });
  assert.equal(client.predictor.stats.corrections, 0, 'no reconciliation corrections with the same movement model');
  assert.ok(client.lastInputTick !== null && client.lastInputTick <= client.clientTick);

  // Zone chat comes back to the sender, with its own entity id.
  assert.ok(session.sendChat('hello from javascript').ok);
  const chat = await until('zone chat echo', () => client.chatLog.find((c) => c.text === 'hello from javascript'));
  assert.equal(chat.from, entity);
  assert.equal(chat.channel, 0);
  assert.equal(client.sendChat('').error, 'chat_empty');
  assert.equal(client.sendChat('x'.repeat(257)).error, 'chat_too_long');

  // Everything the node sent decoded: its delta snapshots against the baselines this client acked.
  assert.equal(client.counters.packetsDropped, 0, client.lastDrop);
  assert.equal(client.counters.messagesDropped, 0);
  assert.equal(client.counters.snapshotsDropped, 0);
  assert.ok(client.receiver.applied.delta > 20, `deltas ${JSON.stringify(client.receiver.applied)}`);
  assert.ok(client.receiver.applied.full <= 2, `full snapshots ${JSON.stringify(client.receiver.applied)}`);

  assert.equal(await metric('meridian_sessions'), 1);
  session.disconnect();
  assert.equal(client.state, 'disconnected');
  assert.deepEqual(client.disconnectReason, { kind: 'closed', close: { kind: 'local_disconnect', reason: 0 } });
  await until('the node freed the session', async () => (await metric('meridian_sessions')) === 0);
});

test('a token for a zone the node does not host ends with reason unknown_zone', async () => {
  const { events, client } = await connect(99);
  const ended = await until('disconnected', () => events.find((e) => e.type === 'disconnected'));
  assert.ok(events.some((e) => e.type === 'connected'), 'connected first, then refused (§1.3)');
  assert.deepEqual(ended.why, { kind: 'by_server', reason: 1 });
  assert.equal(client.state, 'disconnected');
});

test('two JS clients see each other move', async () => {
  let direction = [0, 0];
  const a = await connect(1, () => ({ direction, yaw: 0 }));
  const b = await connect(1);
  const entityOf = async (c) => (await until('joined', () => c.events.find((e) => e.type === 'server' && e.event.kind === 'joined'))).event.entity;
  const [ea, eb] = [await entityOf(a), await entityOf(b)];
  await until('b sees a', () => b.client.serverWorld().has(ea));
  const before = b.client.serverWorld().get(ea).position[1];
  direction = [0, 1];
  await sleep(600);
  direction = [0, 0];
  await until('b sees a move north', () => b.client.serverWorld().get(ea).position[1] - before > 2);
  const drawn = b.client.renderRemote(wallClockUs()).find((s) => s.id === ea);
  assert.ok(drawn, 'interpolated');
  assert.ok(!b.client.renderRemote(wallClockUs()).some((s) => s.id === eb), 'own entity is not among the remote ones');
  a.session.disconnect();
  b.session.disconnect();
});
