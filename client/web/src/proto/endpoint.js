// The client's side of the handshake (PROTOCOL.md §1.3) and, once connected, its Connection.
// States: 'sending_request' → 'sending_response' → 'connected' → 'disconnected'.

import { Connection } from './connection.js';
import { err, ok } from './bytes.js';
import { DisconnectReason, PacketType, ReplayWindow, connectionRequest, openPacket, readSealedHeader, sealPacket } from './packet.js';

export const CHALLENGE_BYTES = 16;
export const HANDSHAKE_RESEND_US = 100_000;
export const HANDSHAKE_TIMEOUT_US = 5_000_000;

/**
 * Why a client session ended: {kind:'token_expired'} | {kind:'handshake_timed_out'} |
 * {kind:'by_server', reason} | {kind:'closed', close: {kind:'reliable_timeout'|'timed_out'|'local_disconnect', reason?}}.
 */
function fromClose(close) {
  return close.kind === 'peer_disconnected' ? { kind: 'by_server', reason: close.reason } : { kind: 'closed', close };
}

export class ClientConnection {
  /** `token`: a parsed client token (`parseClientToken(...).value`). */
  constructor(nowUs, token) {
    this.token = token;
    this.state = 'sending_request';
    this.disconnect = null; // why, once 'disconnected'
    this.challenge = null;
    this.nextSequence = 0;
    this.received = new ReplayWindow();
    this.startedUs = nowUs;
    this.lastHandshakeSentUs = null;
    this.connection = null;
    this.events = []; // {type:'connected'} | {type:'disconnected', why} | {type:'message', reliable, bytes}
  }

  end(why) {
    if (this.state === 'disconnected') return;
    this.state = 'disconnected';
    this.disconnect = why;
    this.events.push({ type: 'disconnected', why });
  }

  pollEvent() {
    // Connected comes before the messages of the welcome packet; Disconnected after the last message.
    if (this.events[0]?.type === 'connected') return this.events.shift();
    if (this.connection) {
      const message = this.connection.pollReceived();
      if (message) return { type: 'message', ...message };
    }
    return this.events.shift() ?? null;
  }

  /** Ends the session: returns the Disconnect packet to send (reason 0, what a quitting player sends). */
  disconnectPacket() {
    if (this.state !== 'connected') return null;
    const packet = this.connection.disconnectPacket(DisconnectReason.Unspecified);
    this.end({ kind: 'closed', close: { kind: 'local_disconnect', reason: DisconnectReason.Unspecified } });
    return packet;
  }

  pollTimeoutUs() {
    if (this.state === 'sending_request' || this.state === 'sending_response') {
      const resend = this.lastHandshakeSentUs === null ? this.startedUs : this.lastHandshakeSentUs + HANDSHAKE_RESEND_US;
      let due = Math.min(resend, this.startedUs + HANDSHAKE_TIMEOUT_US + 1);
      if (this.state === 'sending_request') due = Math.min(due, this.token.expiresAtS * 1_000_000);
      return due;
    }
    if (this.state === 'connected') return this.connection.nextTimeoutUs();
    return null;
  }

  /** Feeds one packet from the server; `{ok}` or a drop label (the packet is ignored). */
  handle(nowUs, bytes) {
    const header = readSealedHeader(bytes);
    if (!header.ok) return header;
    const { type, sessionId, sequence } = header.value;
    if (sessionId !== this.token.sessionId) return err('unknown_session');
    const handshaking = this.state === 'sending_request' || this.state === 'sending_response';
    if (handshaking && type === PacketType.Challenge) {
      if (!this.received.check(sequence)) return err('replayed');
      const opened = openPacket(bytes, this.token.edgeKey, this.token.serverToClientKey);
      if (!opened.ok) return opened;
      if (opened.value.plaintext.length !== CHALLENGE_BYTES) return err('bad_challenge');
      this.received.mark(sequence);
      this.challenge = opened.value.plaintext.slice();
      if (this.state === 'sending_request') {
        this.state = 'sending_response';
        this.lastHandshakeSentUs = null; // answer at once
      }
      return ok(null);
    }
    if (this.state === 'sending_response' && type === PacketType.Payload) {
      const connection = new Connection({
        side: 'client',
        sessionId: this.token.sessionId,
        sendKey: this.token.clientToServerKey,
        receiveKey: this.token.serverToClientKey,
        edgeKey: this.token.edgeKey,
        sendSequenceStart: this.nextSequence,
        received: this.received.clone(),
        nowUs,
      });
      const result = connection.receive(nowUs, bytes);
      if (!result.ok) return result;
      this.connection = connection;
      this.state = 'connected';
      this.events.push({ type: 'connected' });
      return ok(null);
    }
    if (this.state === 'connected' && (type === PacketType.Payload || type === PacketType.Disconnect)) {
      const result = this.connection.receive(nowUs, bytes);
      if (this.connection.closed) this.end(fromClose(this.connection.closed));
      return result;
    }
    return err('unexpected_packet');
  }

  /** The next packet to send at `nowUs`, or null. */
  pollTransmit(nowUs) {
    if (this.state === 'sending_request' || this.state === 'sending_response') {
      if (this.state === 'sending_request' && Math.floor(nowUs / 1_000_000) >= this.token.expiresAtS) {
        this.end({ kind: 'token_expired' });
        return null;
      }
      if (nowUs - this.startedUs > HANDSHAKE_TIMEOUT_US) {
        this.end({ kind: 'handshake_timed_out' });
        return null;
      }
      if (this.lastHandshakeSentUs !== null && nowUs - this.lastHandshakeSentUs < HANDSHAKE_RESEND_US) return null;
      this.lastHandshakeSentUs = nowUs;
      if (this.state === 'sending_request') return connectionRequest(this.token);
      const t = this.token;
      return sealPacket(PacketType.Response, t.sessionId, this.nextSequence++, t.edgeKey, t.clientToServerKey, this.challenge);
    }
    if (this.state === 'connected') {
      if (this.connection.handleTimeout(nowUs)) {
        this.end(fromClose(this.connection.closed));
        return null;
      }
      const packet = this.connection.pollPacket(nowUs);
      if (this.connection.closed) this.end(fromClose(this.connection.closed));
      return packet;
    }
    return null;
  }
}
