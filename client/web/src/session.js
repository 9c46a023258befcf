// Drives a GameClient over a transport with real timers: the one place with I/O besides the
// transports themselves. Transport interface: `send(bytes)`, `onPacket = (bytes) => …`,
// `onClose = (why) => …` (optional), `close()`. One protocol packet per message either way.

import { GameClient } from './proto/client.js';

/** Catch-up ticks run at once after a late timer; a longer stall (a background tab) is skipped. */
export const CATCH_UP_TICKS_MAX = 3;

/** Wall-clock µs (the token expiry check compares with Unix seconds). */
export function wallClockUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class Session {
  /** `options`: {tickHz, onEvent(event), intent() → {direction, yaw}, clock() → µs}. */
  constructor(transport, tokenBytes, options = {}) {
    this.transport = transport;
    this.clock = options.clock ?? wallClockUs;
    this.onEvent = options.onEvent ?? (() => {});
    this.intent = options.intent ?? (() => ({ direction: [0, 0], yaw: 0 }));
    const created = GameClient.create(this.clock(), tokenBytes, { zone: { tickHz: options.tickHz ?? 20 } });
    if (!created.ok) throw new Error(`bad connect token: ${created.error}`);
    this.client = created.value;
    this.tickMs = 1000 / (options.tickHz ?? 20);
    this.timer = null;
    this.ticker = null;
    this.stopped = false;
    transport.onPacket = (bytes) => {
      this.client.handle(this.clock(), bytes);
      this.drainEvents();
      this.flush();
    };
    transport.onClose = () => this.stop();
    this.flush();
  }

  drainEvents() {
    for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) {
      if (e.type === 'connected' && !this.ticker) {
        this.ticksStartMs = performance.now();
        this.ticksDone = 0;
        this.ticker = setInterval(() => this.tick(), this.tickMs);
      }
      this.onEvent(e);
      if (e.type === 'disconnected') this.stop();
    }
  }

  /**
   * Runs the client ticks due by the clock, not one per timer callback: timers fire late and drift,
   * and a client that sends fewer ticks than the zone plays has ticks played as missing (§4.3).
   */
  tick() {
    if (!this.client.isConnected()) return;
    let due = Math.floor((performance.now() - this.ticksStartMs) / this.tickMs) + 1 - this.ticksDone;
    if (due > CATCH_UP_TICKS_MAX) {
      this.ticksDone += due - CATCH_UP_TICKS_MAX;
      due = CATCH_UP_TICKS_MAX;
    }
    const intent = this.intent();
    for (let i = 0; i < due; i++) {
      this.client.tick(intent);
      this.ticksDone++;
    }
    this.flush();
  }

  /** Sends every due packet and re-arms the timer for the next due time. */
  flush() {
    if (this.stopped) return;
    const now = this.clock();
    for (let packet = this.client.pollTransmit(now); packet; packet = this.client.pollTransmit(now)) this.transport.send(packet);
    this.drainEvents();
    if (this.stopped) return;
    clearTimeout(this.timer);
    const due = this.client.pollTimeoutUs();
    if (due !== null) this.timer = setTimeout(() => this.flush(), Math.max(0, Math.min(1000, (due - this.clock()) / 1000)));
  }

  sendChat(text, channel = 0) {
    const r = this.client.sendChat(text, channel);
    this.flush();
    return r;
  }

  disconnect() {
    const packet = this.client.disconnect();
    if (packet) this.transport.send(packet);
    this.drainEvents();
    this.stop();
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.transport.close?.();
  }
}
