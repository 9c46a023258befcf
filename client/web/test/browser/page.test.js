// The page in headless Chromium against the real node: it takes a play ticket from `#ticket=`,
// connects over a WebSocket (through the test relay that stands in for the gateway), moves, sees a
// UDP client (the same sans-IO client in Node) move, exchanges zone chat with it, draws both on its
// canvas, and disconnects. A screenshot is saved and the canvas's pixels are checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from '../../src/session.js';
import { udpTransport } from '../../src/node/udp_transport.js';
import { TestNode, sleep } from '../helpers/node.js';
import { startRelay } from '../helpers/ws_relay.js';
import { Chromium } from '../helpers/chromium.js';

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');
let node;
let relay;
let browser;

before(async () => {
  node = await TestNode.start();
  relay = await startRelay(node.gamePort);
  browser = await Chromium.launch();
});

after(() => {
  browser?.close();
  relay?.close();
  node?.stop();
});

test('the page plays over a WebSocket beside a UDP client: moves, sees it, chats, draws, disconnects', async () => {
  // The UDP client first, standing still.
  let botDirection = [0, 0];
  const botEvents = [];
  const bot = new Session(await udpTransport('127.0.0.1', node.gamePort), node.token(1), {
    onEvent: (e) => botEvents.push(e), intent: () => ({ direction: botDirection, yaw: 0 }),
  });
  const botEntity = (await node.until('bot joined', () => botEvents.find((e) => e.type === 'server' && e.event.kind === 'joined'))).event.entity;

  const ticket = {
    connect_token: Buffer.from(node.token(1)).toString('base64'),
    server: `127.0.0.1:${node.gamePort}`,
    zone_id: 1,
    expires_at_s: Math.floor(Date.now() / 1000) + 30,
    websocket: `ws://127.0.0.1:${relay.port}/play`,
  };
  const hash = Buffer.from(JSON.stringify(ticket)).toString('base64');
  const page = await browser.open(`http://127.0.0.1:${relay.port}/index.html#ticket=${encodeURIComponent(hash)}`);
  const until = (what, expression, timeoutMs = 8000) => node.until(what, () => page.evaluate(expression).catch(() => null), timeoutMs);

  await until('the page connected and joined', "window.meridian && window.meridian.state() === 'connected' && window.meridian.entity() !== null && window.meridian.position() !== null");
  const entity = await page.evaluate('window.meridian.entity()');
  assert.notEqual(entity, botEntity);
  const status = await page.evaluate('window.meridian.status()');
  assert.ok(status.rttMs !== null && status.rttMs < 100, `rtt ${status.rttMs}`);
  assert.ok(status.tick > 0);
  await node.until('the bot sees the browser player', () => bot.client.serverWorld().has(entity));
  await until('the page sees the bot', `window.meridian.others().some((o) => o.id === ${botEntity} && o.kind === 'player')`);

  // The browser walks east for a second; the bot sees it arrive ~7 m further.
  const start = await page.evaluate('window.meridian.position()');
  await page.evaluate("window.meridian.move('d', 1000)");
  await sleep(300);
  const end = await page.evaluate('window.meridian.serverPosition()');
  assert.ok(end[0] - start[0] > 4 && end[0] - start[0] < 9, `browser moved ${end[0] - start[0]} m`);
  const seen = bot.client.serverWorld().get(entity).position;
  assert.ok(Math.abs(seen[0] - end[0]) < 0.5, `bot sees it at ${seen[0]}, page at ${end[0]}`);

  // The bot walks north; the browser draws it moving (interpolated).
  const botBefore = (await page.evaluate(`window.meridian.others().find((o) => o.id === ${botEntity}).position`))[1];
  botDirection = [0, 1];
  await sleep(800);
  botDirection = [0, 0];
  await until('the page sees the bot move north', `window.meridian.others().find((o) => o.id === ${botEntity}).position[1] - ${botBefore} > 3`);

  // Zone chat both ways.
  assert.deepEqual(await page.evaluate("window.meridian.sendChat('hello from the browser')"), { ok: true, value: null });
  await node.until('the bot hears the browser', () => bot.client.chatLog.find((c) => c.text === 'hello from the browser' && c.from === entity));
  assert.ok(bot.sendChat('hello from udp').ok);
  await until('the browser hears the bot', `window.meridian.chatLog().some((c) => c.text === 'hello from udp' && c.from === ${botEntity})`);
  await until('the chat box shows it', "document.getElementById('chat-log').textContent.includes('hello from udp')");

  // The canvas: our green dot at the centre, the bot as a blue player dot somewhere.
  const pixels = await page.evaluate(`(() => {
    const c = document.getElementById('view');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const at = (x, y) => Array.from(data.slice((y * c.width + x) * 4, (y * c.width + x) * 4 + 3));
    let blue = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] === 0x00 && data[i + 1] === 0x74 && data[i + 2] === 0xd9) blue++;
    return { centre: at(c.width / 2, c.height / 2), blue };
  })()`);
  assert.deepEqual(pixels.centre, [0x2e, 0xcc, 0x40], 'our player is drawn at the centre');
  assert.ok(pixels.blue > 30, `the other player is drawn (${pixels.blue} blue pixels)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const png = await page.screenshot();
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  writeFileSync(path.join(ARTIFACTS, 'browser-client.png'), png);

  assert.equal(await node.metric('meridian_sessions'), 2);
  await page.evaluate('window.meridian.disconnect()');
  assert.equal(await page.evaluate('window.meridian.state()'), 'disconnected');
  await node.until('the node freed the browser session', async () => (await node.metric('meridian_sessions')) === 1);
  assert.ok(relay.stats.toNode > 20 && relay.stats.fromNode > 20, JSON.stringify(relay.stats));
  assert.deepEqual(page.consoleErrors(), []);
  bot.disconnect();
});
