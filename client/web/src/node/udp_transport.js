// The transport for Node: one UDP socket connected to the node's game address; each datagram is
// one protocol packet (the same bytes a browser sends as one binary WebSocket message).

import dgram from 'node:dgram';

export function udpTransport(host, port) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const transport = {
      onPacket: () => {},
      onClose: () => {},
      sent: 0,
      send(bytes) {
        transport.sent++;
        socket.send(bytes);
      },
      close() {
        try {
          socket.close();
        } catch {
          // already closed
        }
      },
    };
    socket.on('message', (message) => transport.onPacket(new Uint8Array(message.buffer, message.byteOffset, message.byteLength)));
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      // A connected UDP socket reports ICMP errors (ECONNREFUSED once the node is gone) as errors:
      // the session's own timeouts decide what that means, so they are only counted here.
      transport.errors = 0;
      socket.on('error', () => transport.errors++);
      resolve(transport);
    });
  });
}
