// Packets (PROTOCOL.md §1): the two-byte header, the 1024-byte ConnectionRequest, and sealed packets
// (edge tag + ChaCha20-Poly1305). ChaCha20-Poly1305 comes from @noble/ciphers, an audited,
// dependency-free implementation: the one primitive a client must not hand-roll.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { DecodeError, Writer, decodeWith, err, ok } from './bytes.js';
import { siphash24 } from './siphash.js';

export const MAGIC = 0x4d;
export const VERSION = 1;
export const DATAGRAM_BYTES_MAX = 1200;
export const CONNECTION_REQUEST_BYTES = 1024;
export const SEALED_HEADER_BYTES = 26;
export const TAG_BYTES = 16;
export const SEALED_PLAINTEXT_BYTES_MAX = DATAGRAM_BYTES_MAX - SEALED_HEADER_BYTES - TAG_BYTES; // 1158
export const REPLAY_WINDOW_PACKETS = 256;

export const PacketType = Object.freeze({
  ConnectionRequest: 0,
  Challenge: 1,
  Response: 2,
  Payload: 3,
  Disconnect: 4,
});

export const DisconnectReason = Object.freeze({
  Unspecified: 0,
  UnknownZone: 1,
  ZoneFull: 2,
  ServerFull: 3,
  Kicked: 4,
  ShuttingDown: 5,
  TimedOut: 6,
  ZoneMoved: 7,
});
const REASON_NAMES = ['unspecified', 'unknown_zone', 'zone_full', 'server_full', 'kicked', 'shutting_down', 'timed_out', 'zone_moved'];

/** A reason's name; codes 8–255 read as `unspecified` (§1.4). */
export function disconnectReasonName(code) {
  return REASON_NAMES[code] ?? 'unspecified';
}

/** Decodes a Disconnect plaintext: empty reads as 0, bytes after the first are ignored, unknown codes read as 0. */
export function disconnectReasonFromPlaintext(plaintext) {
  const code = plaintext.length === 0 ? 0 : plaintext[0];
  return code < REASON_NAMES.length ? code : 0;
}

/** Checks magic, version and type and the length limits; `{ok, value: type}`. */
export function readPacketType(bytes) {
  if (bytes.length > DATAGRAM_BYTES_MAX) return err('too_long');
  if (bytes.length < 2) return err('too_short');
  if (bytes[0] !== MAGIC) return err('bad_magic');
  if (bytes[1] >> 4 !== VERSION) return err('bad_version');
  const type = bytes[1] & 0x0f;
  if (type > 4) return err('bad_type');
  return ok(type);
}

/** The clear header of a sealed packet (types 1–4). */
export function readSealedHeader(bytes) {
  const type = readPacketType(bytes);
  if (!type.ok) return type;
  if (type.value === PacketType.ConnectionRequest) {
    return bytes.length === CONNECTION_REQUEST_BYTES ? err('unexpected_packet') : err('bad_request_size');
  }
  if (bytes.length < SEALED_HEADER_BYTES + TAG_BYTES) return err('too_short');
  return decodeWith(bytes, 'too_short', (r) => {
    r.take(2);
    return { type: type.value, sessionId: r.u64big(), sequence: r.u64(), edgeTag: r.u64big() };
  });
}

/** The ConnectionRequest for a parsed client token: header, its first 240 bytes, zero padding. */
export function connectionRequest(token) {
  const out = new Uint8Array(CONNECTION_REQUEST_BYTES);
  out[0] = MAGIC;
  out[1] = (VERSION << 4) | PacketType.ConnectionRequest;
  out.set(token.bytes.subarray(0, 8 + 24 + 208), 2);
  return out;
}

function edgeTag(edgeKey, header18) {
  return siphash24(edgeKey, header18);
}

function nonceFor(sequence) {
  return new Writer(12).u32(0).u64(sequence).finish();
}

/** Seals a packet: header, edge tag over bytes 0..18, AEAD over the plaintext with bytes 0..26 as AD. */
export function sealPacket(type, sessionId, sequence, edgeKey, aeadKey, plaintext) {
  if (plaintext.length > SEALED_PLAINTEXT_BYTES_MAX) throw new Error(`plaintext of ${plaintext.length} bytes over ${SEALED_PLAINTEXT_BYTES_MAX}`);
  const head = new Writer(SEALED_HEADER_BYTES).u8(MAGIC).u8((VERSION << 4) | type).u64(sessionId).u64(sequence);
  head.u64(edgeTag(edgeKey, head.bytes.subarray(0, 18)));
  const header = head.finish();
  const sealed = chacha20poly1305(aeadKey, nonceFor(sequence), header).encrypt(plaintext);
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header);
  out.set(sealed, header.length);
  return out;
}

/** Checks the edge tag, then opens; `{ok, value: {type, sessionId, sequence, plaintext}}` or a §1.5 label. */
export function openPacket(bytes, edgeKey, aeadKey) {
  const header = readSealedHeader(bytes);
  if (!header.ok) return header;
  if (edgeTag(edgeKey, bytes.subarray(0, 18)) !== header.value.edgeTag) return err('bad_edge_tag');
  try {
    const plaintext = chacha20poly1305(aeadKey, nonceFor(header.value.sequence), bytes.subarray(0, SEALED_HEADER_BYTES)).decrypt(
      bytes.subarray(SEALED_HEADER_BYTES),
    );
    return ok({ ...header.value, plaintext });
  } catch {
    return err('bad_seal');
  }
}

/**
 * The receiver's replay window (§1.2): newest sequence + a 256-bit bitmap behind it. `check` before
 * opening, `mark` only after a successful open. Its `ackState` is the payload ack header (§3): the
 * newest + 1 and bits 1..32 of the bitmap.
 */
export class ReplayWindow {
  constructor() {
    this.newestPlusOne = 0;
    this.bits = new Uint8Array(REPLAY_WINDOW_PACKETS); // bits[age] = received
  }
  clone() {
    const c = new ReplayWindow();
    c.newestPlusOne = this.newestPlusOne;
    c.bits = this.bits.slice();
    return c;
  }
  check(sequence) {
    if (this.newestPlusOne === 0 || sequence >= this.newestPlusOne) return true;
    const age = this.newestPlusOne - 1 - sequence;
    return age < REPLAY_WINDOW_PACKETS && !this.bits[age];
  }
  mark(sequence) {
    if (this.newestPlusOne === 0 || sequence >= this.newestPlusOne) {
      const shift = this.newestPlusOne === 0 ? REPLAY_WINDOW_PACKETS : sequence + 1 - this.newestPlusOne;
      if (shift >= REPLAY_WINDOW_PACKETS) this.bits.fill(0);
      else {
        this.bits.copyWithin(shift, 0, REPLAY_WINDOW_PACKETS - shift);
        this.bits.fill(0, 0, shift);
      }
      this.newestPlusOne = sequence + 1;
      this.bits[0] = 1;
    } else {
      this.bits[this.newestPlusOne - 1 - sequence] = 1;
    }
  }
  ackState() {
    let ackBits = 0;
    for (let i = 0; i < 32; i++) if (this.bits[i + 1]) ackBits |= 1 << i;
    return { ackNewestPlusOne: this.newestPlusOne, ackBits: ackBits >>> 0 };
  }
}

export { DecodeError };
