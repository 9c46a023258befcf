// One session after the handshake (PROTOCOL.md §3): sequences, acks (delayed for unreliable-only
// packets), the reliable ordered channel with fragments, the unreliable channel, pings/pongs with
// clock sync, keep-alive and the idle and reliable-delivery timeouts. Sans-IO: the caller feeds
// packets with `receive(nowUs, bytes)` and sends what `pollPacket(nowUs)` returns, and asks
// `nextTimeoutUs()` when to call again.

import { ClockSync, clockSample } from './clock.js';
import {
  FRAGMENT_BYTES_MAX, FRAGMENT_FRAME_HEADER_BYTES, FRAMES_PER_PACKET_MAX, PING_FRAME_BYTES, PONG_FRAME_BYTES,
  UNRELIABLE_FRAME_HEADER_BYTES, UNRELIABLE_MESSAGE_BYTES_MAX, decodePayload, encodeFrame,
} from './frames.js';
import { err, ok, Writer } from './bytes.js';
import {
  PacketType, SEALED_PLAINTEXT_BYTES_MAX, disconnectReasonFromPlaintext, openPacket, readSealedHeader, sealPacket,
} from './packet.js';

export const SENT_PACKETS_TRACKED = 256;
export const ACK_BITS = 32;
export const UNRELIABLE_QUEUE_MAX = 64;
export const RELIABLE_QUEUE_MAX = 256;
export const RELIABLE_WINDOW_MESSAGES = 64;
export const RELIABLE_MESSAGE_BYTES_MAX = 16 * 1024;
export const RELIABLE_RECEIVE_BUFFER_BYTES_MAX = 64 * 1024;
export const RELIABLE_DELIVERY_TIMEOUT_US = 10_000_000;
export const RESEND_DELAY_MIN_US = 30_000;
export const KEEPALIVE_INTERVAL_US = 100_000;
export const ACK_DELAY_MAX_US = 60_000;
export const CONNECTION_TIMEOUT_US = 5_000_000;
export const CLOCK_PING_INTERVAL_US = 1_000_000;
export const SERVER_PING_INTERVAL_US = 250_000;
export const PINGS_OUTSTANDING_MAX = 4;
export const RECEIVED_MESSAGES_MAX = 512;

/** Why a connection closed: {kind:'reliable_timeout'|'timed_out'} | {kind:'peer_disconnected'|'local_disconnect', reason}. */

function smooth(stats, key, varKey, sample) {
  if (stats[key] === null) {
    stats[key] = sample;
    stats[varKey] = Math.floor(sample / 2);
  } else {
    stats[varKey] = Math.floor((3 * stats[varKey] + Math.abs(stats[key] - sample)) / 4);
    stats[key] = Math.floor((7 * stats[key] + sample) / 8);
  }
}

export class Connection {
  /**
   * `side`: 'client' | 'server'. `sendSequenceStart`: the first sequence of this side's payloads
   * (sequences continue from the handshake). `received`: the handshake's replay window.
   */
  constructor({ side, sessionId, sendKey, receiveKey, edgeKey, sendSequenceStart, received, nowUs }) {
    this.side = side;
    this.sessionId = sessionId;
    this.sendKey = sendKey;
    this.receiveKey = receiveKey;
    this.edgeKey = edgeKey;
    this.nextSequence = sendSequenceStart;
    this.sent = new Array(SENT_PACKETS_TRACKED).fill(null);
    this.lossCheckedThrough = sendSequenceStart;
    this.ackedFloor = sendSequenceStart;
    this.received = received;
    // Packets acked to the peer: like `received`, but a packet whose fragments could not all be
    // stored is not marked, so the peer resends them.
    this.acked = received.clone();
    this.ackDueUs = 0;
    this.unreliableQueue = [];
    this.reliableQueue = [];
    this.nextMessageId = 0;
    this.nextExpectedId = 0;
    this.reassembly = new Map();
    this.reassemblyBytes = 0;
    this.receivedMessages = [];
    this.pongOwed = null;
    this.pingsOutstanding = new Array(PINGS_OUTSTANDING_MAX).fill(null);
    this.nextPingSlot = 0;
    this.clock = new ClockSync();
    this.nextPingUs = side === 'client' ? nowUs : nowUs + 1;
    this.lastSentUs = nowUs;
    this.lastReceivedUs = nowUs;
    this.closed = null;
    this.stats = {
      rttSmoothedUs: null, rttVarianceUs: 0, pingRttUs: null, pingRttVarianceUs: 0, pongsIgnored: 0, packetLoss: 0,
      packetsSent: 0, packetsReceived: 0, receivedMessagesDropped: 0, fragmentsDropped: 0,
    };
  }

  close(reason) {
    if (!this.closed) this.closed = reason;
  }

  sendUnreliable(message) {
    if (message.length > UNRELIABLE_MESSAGE_BYTES_MAX) return err('message_too_large');
    if (this.unreliableQueue.length >= UNRELIABLE_QUEUE_MAX) return err('queue_full');
    this.unreliableQueue.push(message.slice());
    return ok(null);
  }

  sendReliable(message) {
    if (message.length === 0 || message.length > RELIABLE_MESSAGE_BYTES_MAX) return err('message_too_large');
    if (this.reliableQueue.length >= RELIABLE_QUEUE_MAX) return err('queue_full');
    const fragmentCount = Math.ceil(message.length / FRAGMENT_BYTES_MAX);
    this.reliableQueue.push({
      id: this.nextMessageId,
      bytes: message.slice(),
      fragmentCount,
      ackedMask: 0,
      fragmentSentUs: new Array(fragmentCount).fill(null),
      firstSentUs: null,
    });
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff;
    return ok(null);
  }

  /** Next delivered message: {reliable: bool, bytes}. */
  pollReceived() {
    return this.receivedMessages.shift() ?? null;
  }

  /** Feeds one sealed Payload or Disconnect; `{ok}` or a drop label. */
  receive(nowUs, bytes) {
    const header = readSealedHeader(bytes);
    if (!header.ok) return header;
    const { type, sequence } = header.value;
    if (type !== PacketType.Payload && type !== PacketType.Disconnect) return err('unexpected_packet');
    if (!this.received.check(sequence)) return err('replayed');
    const opened = openPacket(bytes, this.edgeKey, this.receiveKey);
    if (!opened.ok) return opened;
    if (type === PacketType.Disconnect) {
      this.received.mark(sequence);
      this.close({ kind: 'peer_disconnected', reason: disconnectReasonFromPlaintext(opened.value.plaintext) });
      return ok(null);
    }
    const payload = decodePayload(opened.value.plaintext);
    if (!payload.ok) return payload;
    this.received.mark(sequence);
    if (this.applyPayload(nowUs, payload.value)) this.acked.mark(sequence);
    return ok(null);
  }

  applyPayload(nowUs, payload) {
    let allStored = true;
    this.stats.packetsReceived++;
    this.lastReceivedUs = nowUs;
    const urgent = payload.frames.some((f) => f.type === 'fragment' || (f.type === 'ping' && this.side === 'server'));
    const dueUs = urgent ? nowUs : nowUs + ACK_DELAY_MAX_US;
    if (payload.frames.length > 0) this.ackDueUs = this.ackDueUs === null ? dueUs : Math.min(this.ackDueUs, dueUs);
    this.processAcks(nowUs, payload.ackNewestPlusOne, payload.ackBits);
    for (const frame of payload.frames) {
      switch (frame.type) {
        case 'unreliable':
          this.deliver({ reliable: false, bytes: frame.bytes.slice() });
          break;
        case 'fragment':
          allStored = this.receiveFragment(frame) && allStored;
          break;
        case 'ping':
          this.pongOwed = { pingSentUs: frame.sentUs, receivedUs: nowUs };
          break;
        case 'pong':
          this.onPong(nowUs, frame);
          break;
      }
    }
    return allStored;
  }

  onPong(nowUs, { pingSentUs, pingReceivedUs, pongSentUs }) {
    const slot = this.pingsOutstanding.indexOf(pingSentUs);
    if (slot < 0) {
      this.stats.pongsIgnored++;
      return;
    }
    this.pingsOutstanding[slot] = null;
    const sample = clockSample(pingSentUs, pingReceivedUs, pongSentUs, nowUs);
    if (!sample) {
      this.stats.pongsIgnored++;
      return;
    }
    if (this.side === 'client') this.clock.add(pingSentUs, pingReceivedUs, pongSentUs, nowUs);
    smooth(this.stats, 'pingRttUs', 'pingRttVarianceUs', sample.rttUs);
  }

  deliver(message) {
    if (this.receivedMessages.length >= RECEIVED_MESSAGES_MAX) {
      this.stats.receivedMessagesDropped++;
      return;
    }
    this.receivedMessages.push(message);
  }

  processAcks(nowUs, newestPlusOne, bits) {
    if (newestPlusOne === 0 || newestPlusOne > this.nextSequence) return;
    const newest = newestPlusOne - 1;
    this.ackedFloor = Math.max(this.ackedFloor, newestPlusOne);
    for (let age = 0; age <= ACK_BITS; age++) {
      const sequence = newest - age;
      if (sequence < 0) break;
      if (age > 0 && ((bits >>> (age - 1)) & 1) === 0) continue;
      this.onPacketAcked(nowUs, sequence, age === 0);
    }
    const windowStart = Math.max(0, newest - ACK_BITS);
    const checkFrom = Math.max(this.lossCheckedThrough, windowStart - SENT_PACKETS_TRACKED);
    for (let sequence = checkFrom; sequence < windowStart; sequence++) {
      const slot = this.sent[sequence % SENT_PACKETS_TRACKED];
      if (slot && slot.sequence === sequence) this.stats.packetLoss += ((slot.acked ? 0 : 1) - this.stats.packetLoss) / 16;
    }
    this.lossCheckedThrough = Math.max(this.lossCheckedThrough, windowStart);
  }

  onPacketAcked(nowUs, sequence, newest) {
    const slot = this.sent[sequence % SENT_PACKETS_TRACKED];
    if (!slot || slot.sequence !== sequence || slot.acked) return;
    slot.acked = true;
    if (newest && nowUs >= slot.sentUs) smooth(this.stats, 'rttSmoothedUs', 'rttVarianceUs', nowUs - slot.sentUs);
    for (const [messageId, index] of slot.fragments) {
      const message = this.reliableQueue.find((m) => m.id === messageId);
      if (message) message.ackedMask |= 1 << index;
    }
    slot.fragments = [];
    while (this.reliableQueue.length && this.fullyAcked(this.reliableQueue[0])) this.reliableQueue.shift();
  }

  fullyAcked(message) {
    let n = 0;
    for (let i = 0; i < message.fragmentCount; i++) if ((message.ackedMask >>> i) & 1) n++;
    return n === message.fragmentCount;
  }

  resendDelayUs() {
    return this.stats.rttSmoothedUs === null
      ? 4 * RESEND_DELAY_MIN_US
      : Math.max(RESEND_DELAY_MIN_US, this.stats.rttSmoothedUs + 4 * this.stats.rttVarianceUs);
  }

  /** Stores a fragment; false when it was dropped for lack of room (the packet is then not acked). */
  receiveFragment({ messageId, index, count, bytes }) {
    const ahead = (messageId - this.nextExpectedId) & 0xffff;
    if (ahead >= RELIABLE_WINDOW_MESSAGES) return true; // delivered already (a resend), or beyond the window
    let message = this.reassembly.get(messageId);
    if (message && message.fragments[index]) return true;
    // 16 KiB of the buffer is kept for the next message to deliver, so later ones cannot starve it.
    const limit = ahead === 0 ? RELIABLE_RECEIVE_BUFFER_BYTES_MAX : RELIABLE_RECEIVE_BUFFER_BYTES_MAX - RELIABLE_MESSAGE_BYTES_MAX;
    if (this.reassemblyBytes + bytes.length > limit) {
      this.stats.fragmentsDropped++;
      return false;
    }
    if (!message) {
      message = { count, fragments: new Array(count).fill(null), bytes: 0 };
      this.reassembly.set(messageId, message);
    }
    const consistent = message.count === count && (index + 1 === count || bytes.length === FRAGMENT_BYTES_MAX)
      && message.bytes + bytes.length <= RELIABLE_MESSAGE_BYTES_MAX;
    if (!consistent) {
      this.stats.fragmentsDropped++;
      return true;
    }
    message.fragments[index] = bytes.slice();
    message.bytes += bytes.length;
    this.reassemblyBytes += bytes.length;
    for (;;) {
      const head = this.reassembly.get(this.nextExpectedId);
      if (!head || head.fragments.some((f) => f === null)) break;
      this.reassembly.delete(this.nextExpectedId);
      this.reassemblyBytes -= head.bytes;
      const whole = new Uint8Array(head.bytes);
      let at = 0;
      for (const f of head.fragments) {
        whole.set(f, at);
        at += f.length;
      }
      this.deliver({ reliable: true, bytes: whole });
      this.nextExpectedId = (this.nextExpectedId + 1) & 0xffff;
    }
    return true;
  }

  *unackedFragments() {
    if (!this.reliableQueue.length) return;
    const oldest = this.reliableQueue[0].id;
    for (let position = 0; position < this.reliableQueue.length; position++) {
      const message = this.reliableQueue[position];
      if (((message.id - oldest) & 0xffff) >= RELIABLE_WINDOW_MESSAGES) return;
      for (let index = 0; index < message.fragmentCount; index++) {
        if (((message.ackedMask >>> index) & 1) === 0) yield { position, index, sentUs: message.fragmentSentUs[index] };
      }
    }
  }

  nextFragmentDueUs() {
    const delay = this.resendDelayUs();
    let due = null;
    for (const { sentUs } of this.unackedFragments()) {
      if (sentUs === null) return 0;
      due = due === null ? sentUs + delay : Math.min(due, sentUs + delay);
    }
    return due;
  }

  nextDueFragment(nowUs) {
    const delay = this.resendDelayUs();
    for (const f of this.unackedFragments()) if (f.sentUs === null || nowUs - f.sentUs >= delay) return f;
    return null;
  }

  /** Fragments ride only within 32 packets of the newest acked one, so each can still be acked. */
  reliableAllowed() {
    return this.nextSequence < this.ackedFloor + ACK_BITS;
  }

  checkReliableTimeout(nowUs) {
    const first = this.reliableQueue[0]?.firstSentUs;
    if (first != null && nowUs - first > RELIABLE_DELIVERY_TIMEOUT_US) this.close({ kind: 'reliable_timeout' });
  }

  nextSendUs() {
    if (this.unreliableQueue.length) return 0;
    let due = this.lastSentUs + KEEPALIVE_INTERVAL_US;
    if (this.ackDueUs !== null) due = Math.min(due, this.ackDueUs);
    if (this.side === 'server' && this.pongOwed) due = Math.min(due, this.pongOwed.receivedUs);
    if (this.side === 'client') due = Math.min(due, this.nextPingUs);
    if (this.reliableAllowed()) {
      const fragmentDue = this.nextFragmentDueUs();
      if (fragmentDue !== null) due = Math.min(due, fragmentDue);
    }
    return due;
  }

  /** When the caller must call `pollPacket`/`handleTimeout` next (µs), or null once closed. */
  nextTimeoutUs() {
    if (this.closed) return null;
    let due = Math.min(this.nextSendUs(), this.lastReceivedUs + CONNECTION_TIMEOUT_US + 1);
    const first = this.reliableQueue[0]?.firstSentUs;
    if (first != null) due = Math.min(due, first + RELIABLE_DELIVERY_TIMEOUT_US + 1);
    return due;
  }

  handleTimeout(nowUs) {
    if (nowUs - this.lastReceivedUs > CONNECTION_TIMEOUT_US) this.close({ kind: 'timed_out' });
    this.checkReliableTimeout(nowUs);
    return this.closed !== null;
  }

  /** The next packet due at `nowUs`, or null. */
  pollPacket(nowUs) {
    if (this.closed) return null;
    this.checkReliableTimeout(nowUs);
    if (this.closed) return null;
    if (this.nextSendUs() > nowUs) return null;
    const reliableAllowed = this.reliableAllowed();
    const sequence = this.nextSequence++;
    const { ackNewestPlusOne, ackBits } = this.acked.ackState();
    const w = new Writer(256);
    w.u64(ackNewestPlusOne).u32(ackBits);
    let room = SEALED_PLAINTEXT_BYTES_MAX - w.length;
    let frames = 0;
    if (this.pongOwed) {
      encodeFrame(w, { type: 'pong', pingSentUs: this.pongOwed.pingSentUs, pingReceivedUs: this.pongOwed.receivedUs, pongSentUs: nowUs });
      this.pongOwed = null;
      room -= PONG_FRAME_BYTES;
      frames++;
    }
    const front = this.unreliableQueue[0];
    const pingFits = this.side === 'client' || !front || PING_FRAME_BYTES + UNRELIABLE_FRAME_HEADER_BYTES + front.length <= room;
    if (nowUs >= this.nextPingUs && pingFits) {
      encodeFrame(w, { type: 'ping', sentUs: nowUs });
      room -= PING_FRAME_BYTES;
      frames++;
      this.pingsOutstanding[this.nextPingSlot] = nowUs;
      this.nextPingSlot = (this.nextPingSlot + 1) % PINGS_OUTSTANDING_MAX;
      this.nextPingUs = nowUs + (this.side === 'client' ? CLOCK_PING_INTERVAL_US : SERVER_PING_INTERVAL_US);
    }
    const carried = [];
    while (reliableAllowed && frames < FRAMES_PER_PACKET_MAX) {
      const due = this.nextDueFragment(nowUs);
      if (!due) break;
      const message = this.reliableQueue[due.position];
      const bytes = message.bytes.subarray(due.index * FRAGMENT_BYTES_MAX, Math.min(message.bytes.length, (due.index + 1) * FRAGMENT_BYTES_MAX));
      if (FRAGMENT_FRAME_HEADER_BYTES + bytes.length > room) break;
      encodeFrame(w, { type: 'fragment', messageId: message.id, index: due.index, count: message.fragmentCount, bytes });
      message.fragmentSentUs[due.index] = nowUs;
      if (message.firstSentUs === null) message.firstSentUs = nowUs;
      carried.push([message.id, due.index]);
      room -= FRAGMENT_FRAME_HEADER_BYTES + bytes.length;
      frames++;
    }
    while (frames < FRAMES_PER_PACKET_MAX && this.unreliableQueue.length) {
      const message = this.unreliableQueue[0];
      if (UNRELIABLE_FRAME_HEADER_BYTES + message.length > room) break;
      this.unreliableQueue.shift();
      encodeFrame(w, { type: 'unreliable', bytes: message });
      room -= UNRELIABLE_FRAME_HEADER_BYTES + message.length;
      frames++;
    }
    this.sent[sequence % SENT_PACKETS_TRACKED] = { sequence, sentUs: nowUs, acked: false, fragments: carried };
    const packet = sealPacket(PacketType.Payload, this.sessionId, sequence, this.edgeKey, this.sendKey, w.finish());
    this.ackDueUs = null;
    this.lastSentUs = nowUs;
    this.stats.packetsSent++;
    return packet;
  }

  /** A Disconnect with `reason` (sent once, never resent); closes this side. */
  disconnectPacket(reason) {
    const sequence = this.nextSequence++;
    const packet = sealPacket(PacketType.Disconnect, this.sessionId, sequence, this.edgeKey, this.sendKey, Uint8Array.of(reason));
    this.close({ kind: 'local_disconnect', reason });
    return packet;
  }
}
