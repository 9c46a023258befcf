// Global chat (channel 1) against the real node: without a chat bridge it is refused and counted
// with no reply; with Redis every session hears it on channel 1 from the sender's character-derived
// id, the sender included, and a sender over the rate limit gets the server's refusal line (from 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../../src/session.js';
import { udpTransport } from '../../src/node/udp_transport.js';
import { ChatChannel } from '../../src/proto/messages.js';
import { TestNode, sleep } from '../helpers/node.js';

const nodes = [];
after(() => nodes.forEach((n) => n.stop()));

async function joined(node) {
  const events = [];
  const session = new Session(await udpTransport('127.0.0.1', node.gamePort), node.token(1), { onEvent: (e) => events.push(e) });
  await node.until('joined', () => events.some((e) => e.type === 'server' && e.event.kind === 'joined'));
  return session;
}

test('without a chat bridge, global chat is refused and counted, with no reply', async () => {
  const node = await TestNode.start();
  nodes.push(node);
  const session = await joined(node);
  assert.ok(session.sendChat('anyone?', ChatChannel.Global).ok);
  await node.until('the refusal counted', async () => (await node.metric('meridian_drops_total', 'reason="global_chat_unavailable"')) === 1);
  await sleep(200);
  assert.deepEqual(session.client.chatLog, [], 'no reply');
  session.disconnect();
});

test('with Redis, global chat reaches every session on channel 1, and a flooder is told', async () => {
  const node = await TestNode.start({ redis: true });
  nodes.push(node);
  const [a, b] = [await joined(node), await joined(node)];
  // The bridge subscribes in the background: say hello until the first line comes back.
  await node.until('the global chat bridge', async () => {
    a.sendChat('hello world', ChatChannel.Global);
    await sleep(200);
    return a.client.chatLog.some((c) => c.channel === 1 && c.text === 'hello world');
  }, 10_000);
  const heard = await node.until('b hears it', () => b.client.chatLog.find((c) => c.channel === 1 && c.text === 'hello world'));
  // A global line names its sender by the low 32 bits of its character id (at least 1), not by an
  // entity id; a dev token carries character 0, and the node plays the session id as the character.
  assert.equal(heard.from, Math.max(1, Number(a.client.token.sessionId & 0xffffffffn)));
  for (let i = 0; i < 6; i++) a.sendChat(`flood ${i}`, ChatChannel.Global);
  const refusal = await node.until('the refusal', () => a.client.chatLog.find((c) => c.channel === 1 && c.from === 0));
  assert.match(refusal.text, /^global chat refused: rate_limited: /);
  assert.ok(!b.client.chatLog.some((c) => c.from === 0), 'only the sender is told');
  a.disconnect();
  b.disconnect();
});
