// The browser transport: a WebSocket whose every binary message is exactly one protocol packet (the
// same bytes as a UDP datagram). Text messages are not part of the protocol and are ignored.

export function wsTransport(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const transport = {
      url,
      onPacket: () => {},
      onClose: () => {},
      closeInfo: null,
      send(bytes) {
        if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
      },
      close() {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'bye');
      },
    };
    ws.onopen = () => resolve(transport);
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
    ws.onmessage = (message) => {
      if (message.data instanceof ArrayBuffer) transport.onPacket(new Uint8Array(message.data));
    };
    ws.onclose = (event) => {
      transport.closeInfo = { code: event.code, reason: event.reason };
      transport.onClose(transport.closeInfo);
    };
  });
}
