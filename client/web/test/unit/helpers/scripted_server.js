// A minimal server for stepping a GameClient in virtual time: the server side of the handshake
// (§1.3), a Connection, a zone of one player that plays the client's inputs with the §4.8 step, and
// full (baseline-less) snapshots with the last input tick. Only what the client tests need.

import { Connection } from '../../../src/proto/connection.js';
import { ReplayWindow, PacketType, openPacket, readPacketType, readSealedHeader, sealPacket } from '../../../src/proto/packet.js';
import { openPrivateToken } from '../../../src/proto/token.js';
import { decodeClientMessage, moveDirection } from '../../../src/proto/messages.js';
import { movementModel, step } from '../../../src/proto/prediction.js';
import { Writer } from '../../../src/proto/bytes.js';

class BitWriter {
  constructor() {
    this.bits = [];
  }
  write(value, width) {
    for (let i = 0; i < width; i++) this.bits.push(Math.floor(value / 2 ** i) % 2);
  }
  expGolomb(v, k) {
    const w = v + 2 ** k;
    const n = Math.floor(Math.log2(w)) + 1;
    const z = n - 1 - k;
    this.write(0, z);
    this.write(1, 1);
    this.write(w % 2 ** (z + k), z + k);
  }
  bytes() {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((b, i) => (out[i >> 3] |= b << (i & 7)));
    return out;
  }
}

const quantise = (m) => Math.round((m + 8192) * 64);

/** A full snapshot (no baseline) of `entities` [{id, kind, position}], ascending ids. */
export function fullSnapshot(tick, entities) {
  const w = new BitWriter();
  w.write(tick, 32);
  w.write(0, 1);
  w.write(entities.length, 8);
  let previous = null;
  for (const e of entities) {
    w.expGolomb(previous === null ? e.id : e.id - previous - 1, 2);
    previous = e.id;
    w.write(e.kind ?? 0, 2);
    for (const p of e.position) w.write(quantise(p), 20);
    w.write(0, 10);
    for (let i = 0; i < 3; i++) w.write(2048, 12);
    w.write(100, 16);
    w.write(0, 16);
  }
  return w.bytes();
}

export class ScriptedServer {
  constructor(clusterKey, { entity = 42, spawn = [512, 512, 0], colliders = [] } = {}) {
    this.clusterKey = clusterKey;
    this.entity = entity;
    this.position = spawn.map(Math.fround);
    this.model = movementModel({ colliders });
    this.inputs = new Map(); // client tick → direction
    this.lastInputTick = null;
    this.tick = 0;
    this.connection = null;
    this.chat = [];
    this.outbox = [];
    this.ended = null;
  }

  receive(nowUs, bytes) {
    const type = readPacketType(bytes);
    if (!type.ok) return;
    if (type.value === PacketType.ConnectionRequest) {
      const opened = openPrivateToken(this.clusterKey, bytes.subarray(2));
      if (!opened.ok || this.token) return;
      this.token = opened.value;
      this.challenge = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
      this.outbox.push(sealPacket(PacketType.Challenge, this.token.sessionId, 0, this.token.edgeKey, this.token.serverToClientKey, this.challenge));
      return;
    }
    const header = readSealedHeader(bytes).value;
    if (header.type === PacketType.Response && !this.connection) {
      const opened = openPacket(bytes, this.token.edgeKey, this.token.clientToServerKey);
      if (!opened.ok || opened.value.plaintext.some((b, i) => b !== this.challenge[i])) return;
      const received = new ReplayWindow();
      received.mark(header.sequence);
      this.connection = new Connection({
        side: 'server', sessionId: this.token.sessionId, sendKey: this.token.serverToClientKey, receiveKey: this.token.clientToServerKey,
        edgeKey: this.token.edgeKey, sendSequenceStart: 1, received, nowUs,
      });
      this.outbox.push(this.connection.pollPacket(nowUs)); // the welcome: ack-only
      this.connection.sendReliable(Uint8Array.of(0x82, 1, ...new Writer(4).u32(this.entity).finish()));
      return;
    }
    if (!this.connection) return;
    this.connection.receive(nowUs, bytes);
    if (this.connection.closed) this.ended = this.connection.closed;
    for (let m = this.connection.pollReceived(); m; m = this.connection.pollReceived()) {
      const message = decodeClientMessage(m.bytes);
      if (!message.ok) continue;
      const v = message.value;
      if (v.type === 'input') {
        v.inputs.forEach((input, i) => {
          const tick = v.newestTick - i;
          if (this.lastInputTick === null || tick > this.lastInputTick) this.inputs.set(tick, moveDirection(input.moveRight, input.moveForward));
        });
      } else if (v.type === 'chat') {
        this.chat.push(v.text);
        const text = new TextEncoder().encode(v.text);
        this.connection.sendReliable(Uint8Array.of(0x82, 3, 0, ...new Writer(4).u32(this.entity).finish(), text.length & 0xff, text.length >> 8, ...text));
      }
    }
  }

  /** One zone tick: plays the next client tick's input (if it arrived) and sends a snapshot. */
  zoneTick(others = []) {
    const next = this.lastInputTick === null ? Math.min(...this.inputs.keys()) : this.lastInputTick + 1;
    if (this.inputs.has(next)) {
      this.position = step(this.model, this.position, this.inputs.get(next));
      this.inputs.delete(next);
      this.lastInputTick = next;
    }
    this.tick++;
    const entities = [{ id: this.entity, kind: 0, position: this.position }, ...others].sort((a, b) => a.id - b.id);
    const last = this.lastInputTick ?? 0xffffffff;
    this.connection.sendUnreliable(Uint8Array.of(0x81, ...new Writer(4).u32(last).finish(), ...fullSnapshot(this.tick, entities)));
  }

  poll(nowUs) {
    const out = this.outbox.splice(0);
    if (this.connection) for (let p = this.connection.pollPacket(nowUs); p; p = this.connection.pollPacket(nowUs)) out.push(p);
    return out;
  }
}
