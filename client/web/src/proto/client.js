// A game session, sans-IO (the JavaScript counterpart of the Rust SDK's GameClient, written from
// PROTOCOL.md): handshake and connection, inputs each tick with redundancy, snapshot decoding and
// acks, prediction and reconciliation of our entity, interpolation of the others, chat, events.
// The caller feeds packets (`handle`), calls `tick` at the zone's rate, and sends whatever
// `pollTransmit` returns until it returns null; `pollTimeoutUs` says when to poll again.

import { ClientConnection } from './endpoint.js';
import {
  CHAT_TEXT_BYTES_MAX, ChatChannel, INPUT_REDUNDANCY_MAX, decodeServerMessage, encodeClientMessage, moveDirection,
  quantiseDirection, quantiseYaw,
} from './messages.js';
import { disconnectReasonName } from './packet.js';
import { Interpolator } from './interpolation.js';
import { Predictor, movementModel } from './prediction.js';
import { SnapshotReceiver } from './snapshot.js';
import { err, ok } from './bytes.js';
import { parseClientToken } from './token.js';

export const GAME_EVENTS_MAX = 256;
export const INPUT_REDUNDANCY_DEFAULT = 3;
export const CHAT_LOG_MAX = 200;

/** A readable line for why a session ended. */
export function describeDisconnect(why) {
  if (!why) return '';
  switch (why.kind) {
    case 'by_server':
      return `disconnected by the server: ${disconnectReasonName(why.reason)}`;
    case 'closed':
      return why.close.kind === 'local_disconnect' ? 'disconnected' : `connection ${why.close.kind.replace('_', ' ')}`;
    default:
      return why.kind.replace(/_/g, ' ');
  }
}

export class GameClient {
  /** `token`: the 409 client-token bytes. `config`: {inputRedundancy, tickHz, interpolationDelayUs, zone: movementModel args}. */
  static create(nowUs, tokenBytes, config = {}) {
    const parsed = parseClientToken(tokenBytes);
    if (!parsed.ok) return parsed;
    return ok(new GameClient(nowUs, parsed.value, config));
  }

  constructor(nowUs, token, config = {}) {
    this.token = token;
    this.inputRedundancy = config.inputRedundancy ?? INPUT_REDUNDANCY_DEFAULT;
    const tickHz = config.zone?.tickHz ?? 20;
    this.tickIntervalUs = Math.floor(1_000_000 / tickHz);
    this.endpoint = new ClientConnection(nowUs, token);
    this.receiver = new SnapshotReceiver();
    this.predictor = new Predictor(movementModel(config.zone));
    this.interpolator = new Interpolator(this.tickIntervalUs, config.interpolationDelayUs ?? 100_000);
    this.entity = null;
    this.placementPending = false;
    this.clientTick = 0;
    this.inputSequence = 0;
    this.recentInputs = []; // newest last, ≤ 8
    this.sentInputs = []; // {tick, direction}, ≤ 64
    this.lastAckedSnapshot = null;
    this.lastInputTick = null;
    this.events = [];
    this.chatLog = [];
    this.counters = {
      bytesSent: 0, bytesReceived: 0, packetsSent: 0, packetsReceived: 0, packetsDropped: 0, snapshotsApplied: 0,
      snapshotsDropped: 0, messagesDropped: 0, eventsDropped: 0, inputsSent: 0, snapshotAcksSent: 0,
    };
    this.lastDrop = null;
  }

  get state() {
    return this.endpoint.state;
  }
  get disconnectReason() {
    return this.endpoint.disconnect;
  }
  isConnected() {
    return this.endpoint.state === 'connected';
  }
  isPlaced() {
    return this.entity !== null && this.predictor.position !== null && !this.placementPending;
  }
  predictedPosition() {
    return this.predictor.position;
  }
  serverWorld() {
    return this.receiver.world;
  }
  latestTick() {
    return this.receiver.latestTick;
  }
  rttUs() {
    return this.endpoint.connection?.clock.rttUs() ?? null;
  }
  serverTimeUs(nowUs) {
    return this.endpoint.connection?.clock.serverTimeUs(nowUs) ?? null;
  }
  connectionStats() {
    return this.endpoint.connection?.stats ?? null;
  }
  /** Remote entities (everything but our own) as drawn at `nowUs`. */
  renderRemote(nowUs) {
    return this.interpolator.sample(nowUs, this.entity);
  }

  pushEvent(event) {
    if (this.events.length >= GAME_EVENTS_MAX) {
      this.events.shift();
      this.counters.eventsDropped++;
    }
    this.events.push(event);
  }
  pollEvent() {
    return this.events.shift() ?? null;
  }

  /** Feeds one packet. An error result means it (or a message in it) was dropped; the session goes on. */
  handle(nowUs, bytes) {
    this.counters.packetsReceived++;
    this.counters.bytesReceived += bytes.length;
    const result = this.endpoint.handle(nowUs, bytes);
    if (!result.ok) {
      this.counters.packetsDropped++;
      this.lastDrop = result.error;
      return result;
    }
    let firstError = null;
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === 'connected') this.pushEvent({ type: 'connected' });
      else if (e.type === 'disconnected') this.pushEvent({ type: 'disconnected', why: e.why });
      else {
        const r = this.onMessage(nowUs, e.bytes);
        if (!r.ok && !firstError) firstError = r;
      }
    }
    return firstError ?? ok(null);
  }

  onMessage(nowUs, bytes) {
    const decoded = decodeServerMessage(bytes);
    if (!decoded.ok) {
      this.counters.messagesDropped++;
      return decoded;
    }
    const message = decoded.value;
    if (message.type === 'snapshot') return this.onSnapshot(nowUs, message.lastInputTick, message.payload);
    const event = message.event;
    if (event.kind === 'joined') {
      this.entity = event.entity;
      this.placementPending = true;
    } else if (event.kind === 'respawned') {
      this.placementPending = true;
    } else if (event.kind === 'chat') {
      // On the global channel `from` is a character-derived id (0: the server), not an entity (§4.4).
      const own = event.channel === ChatChannel.Zone && event.from === this.entity;
      const server = event.channel === ChatChannel.Global && event.from === 0;
      this.chatLog.push({ channel: event.channel, from: event.from, text: event.text, own, server });
      if (this.chatLog.length > CHAT_LOG_MAX) this.chatLog.shift();
    }
    this.pushEvent({ type: 'server', event });
    return ok(null);
  }

  onSnapshot(nowUs, lastInputTick, payload) {
    const applied = this.receiver.apply(payload);
    if (!applied.ok) {
      this.counters.snapshotsDropped++;
      return applied;
    }
    this.counters.snapshotsApplied++;
    const tick = applied.value;
    if (this.receiver.latestTick !== tick) return ok(null); // older: kept only as a baseline
    this.lastInputTick = lastInputTick;
    this.interpolator.push(tick, this.receiver.world, nowUs);
    const own = this.entity === null ? null : this.receiver.world.get(this.entity);
    if (!own) return ok(null);
    if (this.placementPending || this.predictor.position === null) {
      this.place(own.position, lastInputTick);
      return ok(null);
    }
    this.predictor.reconcile(own.position, lastInputTick);
    return ok(null);
  }

  place(position, lastInputTick) {
    this.placementPending = false;
    this.predictor.place(position);
    for (const input of this.sentInputs) {
      if (lastInputTick === null || input.tick > lastInputTick) this.predictor.predict(input.tick, input.direction);
    }
    this.pushEvent({ type: 'placed', entity: this.entity });
  }

  /**
   * One client tick at the zone's rate: predicts `command` ({direction: [x, y] world axes, yaw}) and
   * queues this tick's input (with the previous ones) and, if a newer snapshot was applied, its ack.
   */
  tick(command = { direction: [0, 0], yaw: 0 }) {
    if (!this.isConnected()) return err('not_connected');
    const [moveRight, moveForward] = quantiseDirection(command.direction);
    const yaw = quantiseYaw(command.yaw ?? 0);
    const direction = moveDirection(moveRight, moveForward);
    this.clientTick = (this.clientTick + 1) >>> 0;
    if (this.isPlaced()) this.predictor.predict(this.clientTick, direction);
    this.sentInputs.push({ tick: this.clientTick, direction });
    if (this.sentInputs.length > 64) this.sentInputs.shift();
    this.recentInputs.push({ moveRight, moveForward, yaw, buttons: 0 });
    if (this.recentInputs.length > INPUT_REDUNDANCY_MAX) this.recentInputs.shift();
    const inputs = this.recentInputs.slice(-this.inputRedundancy).reverse();
    const sent = this.endpoint.connection.sendUnreliable(
      encodeClientMessage({ type: 'input', sequence: this.inputSequence, newestTick: this.clientTick, inputs }),
    );
    this.inputSequence = (this.inputSequence + 1) >>> 0;
    if (!sent.ok) return sent;
    this.counters.inputsSent++;
    const latest = this.receiver.latestTick;
    if (latest !== null && latest !== this.lastAckedSnapshot) {
      const acked = this.endpoint.connection.sendUnreliable(encodeClientMessage({ type: 'snapshot_ack', tick: latest }));
      if (!acked.ok) return acked;
      this.lastAckedSnapshot = latest;
      this.counters.snapshotAcksSent++;
    }
    return ok(null);
  }

  /** Sends a chat line: channel 'zone' (0) or 'global' (1). Empty or over 256 bytes of UTF-8 is refused here. */
  sendChat(text, channel = ChatChannel.Zone) {
    if (!this.isConnected()) return err('not_connected');
    const bytes = new TextEncoder().encode(text);
    if (bytes.length === 0) return err('chat_empty');
    if (bytes.length > CHAT_TEXT_BYTES_MAX) return err('chat_too_long');
    return this.endpoint.connection.sendReliable(encodeClientMessage({ type: 'chat', channel, text }));
  }

  /** Sends an action ({kind:'attack', target, aim} | {kind:'pick_up', loot} | trade_*) stamped with the client tick. */
  sendAction(action) {
    if (!this.isConnected()) return err('not_connected');
    const full = action.kind === 'attack' ? { skill: 0, aim: [0, 0, 0], ...action } : action;
    return this.endpoint.connection.sendReliable(encodeClientMessage({ type: 'action', clientTick: this.clientTick, action: full }));
  }

  /** Ends the session cleanly: the returned packet (send it) tells the server to free the session now. */
  disconnect() {
    const packet = this.endpoint.disconnectPacket();
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === 'disconnected') this.pushEvent({ type: 'disconnected', why: e.why });
    }
    if (packet) this.count(packet);
    return packet;
  }

  count(packet) {
    this.counters.packetsSent++;
    this.counters.bytesSent += packet.length;
  }

  pollTransmit(nowUs) {
    const packet = this.endpoint.pollTransmit(nowUs);
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      if (e.type === 'disconnected') this.pushEvent({ type: 'disconnected', why: e.why });
      else if (e.type === 'message') this.onMessage(nowUs, e.bytes);
    }
    if (packet) this.count(packet);
    return packet;
  }

  pollTimeoutUs() {
    return this.endpoint.pollTimeoutUs();
  }
}
