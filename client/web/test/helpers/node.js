// Starts the real node (`meridian-node serve`, standalone, dev cluster key) on free loopback ports
// for the end-to-end tests, and issues dev connect tokens for it from the spec (§2).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hex } from '../../src/proto/bytes.js';
import { sealConnectToken, TOKEN_LIFETIME_S } from '../../src/proto/token.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const NODE_BIN = process.env.MERIDIAN_NODE_BIN ?? path.resolve(here, '../../../../target/debug/meridian-node');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freeUdpPort() {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  socket.close();
  return port;
}

export async function freeTcpPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class TestNode {
  /** `redis: true` also starts a throwaway redis-server and gives it to the node (global chat). */
  static async start({ zones = [1], redis = false } = {}) {
    assert.ok(existsSync(NODE_BIN), `${NODE_BIN} missing: run cargo build -p meridian-node`);
    const node = new TestNode();
    node.clusterKey = new Uint8Array(randomBytes(32));
    node.gamePort = await freeUdpPort();
    node.metricsPort = await freeTcpPort();
    node.log = '';
    const extra = [];
    if (redis) {
      const redisPort = await freeTcpPort();
      node.redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      extra.push('--redis', `redis://127.0.0.1:${redisPort}`);
    }
    node.child = spawn(NODE_BIN, [
      'serve', '--listen', `127.0.0.1:${node.gamePort}`, '--workers', '1', '--io', 'mmsg',
      '--metrics-listen', `127.0.0.1:${node.metricsPort}`, '--zones', zones.join(','), ...extra,
    ], { env: { ...process.env, MERIDIAN_CLUSTER_KEY_HEX: hex(node.clusterKey), RUST_LOG: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    node.child.stdout.on('data', (d) => (node.log += d));
    node.child.stderr.on('data', (d) => (node.log += d));
    await node.until('the metrics endpoint', async () => (await node.metric('meridian_sessions').catch(() => null)) !== null, 20_000);
    return node;
  }

  /** The value of the first sample of `name` whose labels include `labels` (e.g. `reason="x"`). */
  async metric(name, labels = '') {
    const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels));
    return line ? Number(line.split(' ').pop()) : null;
  }

  async until(what, check, timeoutMs = 5000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nnode log:\n${this.log.slice(-3000)}`);
      await sleep(20);
    }
  }

  /** A dev connect token (409 bytes) for `zoneId` on this node, sealed under its cluster key. */
  token(zoneId = 1) {
    return sealConnectToken(this.clusterKey, new Uint8Array(randomBytes(24)), {
      sessionId: BigInt(`0x${hex(randomBytes(8))}`) & ((1n << 63n) - 1n),
      zoneId,
      expiresAtS: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S,
      clientToServerKey: new Uint8Array(randomBytes(32)),
      serverToClientKey: new Uint8Array(randomBytes(32)),
      edgeKey: new Uint8Array(randomBytes(16)),
      addresses: [{ family: 4, host: '127.0.0.1', port: this.gamePort }],
    });
  }

  stop() {
    this.child?.kill('SIGTERM');
    this.redis?.kill('SIGTERM');
  }
}
