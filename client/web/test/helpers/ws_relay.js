// Test-only stand-in for the WebSocket gateway: serves client/web as static files and relays each
// binary WebSocket message on `/play` to the node as one UDP datagram (and each datagram back as one
// binary message), which is the contract the browser client relies on. A minimal RFC 6455 server
// (no extensions, unfragmented messages) so the browser test needs no dependency; the real gateway
// lives in the node.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(opcode, payload) {
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x80 | opcode, length]) : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
  return Buffer.concat([head, payload]);
}

export async function startRelay(gamePort) {
  const stats = { connections: 0, toNode: 0, fromNode: 0 };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = path.normalize(path.join(WEB_ROOT, url.pathname === '/' ? 'index.html' : url.pathname));
    if (!file.startsWith(WEB_ROOT) || !(file.endsWith('.html') || file.includes(`${path.sep}dist${path.sep}`))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.on('upgrade', (req, socket) => {
    if (req.url !== '/play') return socket.destroy();
    const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    stats.connections++;
    const udp = dgram.createSocket('udp4');
    udp.connect(gamePort, '127.0.0.1');
    udp.on('message', (datagram) => {
      stats.fromNode++;
      if (!socket.destroyed) socket.write(frame(2, datagram));
    });
    const close = () => {
      try {
        udp.close();
      } catch {
        // closed already
      }
    };
    socket.on('close', close);
    socket.on('error', close);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (buffered.length < 2) return;
        const opcode = buffered[0] & 0x0f;
        let length = buffered[1] & 0x7f;
        let at = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          at = 4;
        } else if (length === 127) {
          socket.destroy(); // no protocol packet is that large
          return;
        }
        if (buffered.length < at + 4 + length) return;
        const mask = buffered.subarray(at, at + 4);
        const payload = Buffer.from(buffered.subarray(at + 4, at + 4 + length));
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
        buffered = buffered.subarray(at + 4 + length);
        if (opcode === 2) {
          stats.toNode++;
          udp.send(payload);
        } else if (opcode === 8) {
          socket.end(frame(8, payload.subarray(0, 2)));
          return;
        } else if (opcode === 9) {
          socket.write(frame(10, payload));
        }
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    stats,
    close: () => {
      server.closeAllConnections?.();
      server.close();
    },
  };
}
