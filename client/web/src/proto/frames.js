// Payload plaintext (PROTOCOL.md §3): the ack header and up to 64 frames.

import { DecodeError, Writer, decodeWith } from './bytes.js';
import { SEALED_PLAINTEXT_BYTES_MAX } from './packet.js';

export const ACK_HEADER_BYTES = 12;
export const FRAMES_PER_PACKET_MAX = 64;
export const FRAGMENT_BYTES_MAX = 1024;
export const FRAGMENTS_PER_MESSAGE_MAX = 16;
export const UNRELIABLE_FRAME_HEADER_BYTES = 3;
export const FRAGMENT_FRAME_HEADER_BYTES = 7;
export const PING_FRAME_BYTES = 9;
export const PONG_FRAME_BYTES = 25;
/** 1158 − 12 − 3 = 1143. */
export const UNRELIABLE_MESSAGE_BYTES_MAX = SEALED_PLAINTEXT_BYTES_MAX - ACK_HEADER_BYTES - UNRELIABLE_FRAME_HEADER_BYTES;

export const FrameType = Object.freeze({ Unreliable: 1, Fragment: 2, Ping: 3, Pong: 4 });

/** Frames: {type:'unreliable', bytes} | {type:'fragment', messageId, index, count, bytes} | {type:'ping', sentUs} | {type:'pong', pingSentUs, pingReceivedUs, pongSentUs}. */
export function encodeFrame(w, frame) {
  switch (frame.type) {
    case 'unreliable':
      w.u8(FrameType.Unreliable).u16(frame.bytes.length).raw(frame.bytes);
      break;
    case 'fragment':
      w.u8(FrameType.Fragment).u16(frame.messageId).u8(frame.index).u8(frame.count).u16(frame.bytes.length).raw(frame.bytes);
      break;
    case 'ping':
      w.u8(FrameType.Ping).u64(frame.sentUs);
      break;
    case 'pong':
      w.u8(FrameType.Pong).u64(frame.pingSentUs).u64(frame.pingReceivedUs).u64(frame.pongSentUs);
      break;
    default:
      throw new Error(`unknown frame ${frame.type}`);
  }
}

export function encodePayload({ ackNewestPlusOne, ackBits, frames }) {
  const w = new Writer(64);
  w.u64(ackNewestPlusOne).u32(ackBits);
  for (const frame of frames) encodeFrame(w, frame);
  return w.finish();
}

/** `{ok, value: {ackNewestPlusOne, ackBits, frames}}` or `frame_truncated` / `frame_unknown_type` / `frame_bad_fragment` / `frame_too_many`. */
export function decodePayload(bytes) {
  return decodeWith(bytes, 'frame_truncated', (r) => {
    const ackNewestPlusOne = r.u64();
    const ackBits = r.u32();
    const frames = [];
    while (r.remaining() > 0) {
      if (frames.length === FRAMES_PER_PACKET_MAX) throw new DecodeError('frame_too_many');
      const type = r.u8();
      switch (type) {
        case FrameType.Unreliable: {
          const len = r.u16();
          frames.push({ type: 'unreliable', bytes: r.take(len) });
          break;
        }
        case FrameType.Fragment: {
          const messageId = r.u16();
          const index = r.u8();
          const count = r.u8();
          const len = r.u16();
          if (count < 1 || count > FRAGMENTS_PER_MESSAGE_MAX || index >= count || len > FRAGMENT_BYTES_MAX) {
            throw new DecodeError('frame_bad_fragment');
          }
          const data = r.take(len);
          if (index + 1 < count && len !== FRAGMENT_BYTES_MAX) throw new DecodeError('frame_bad_fragment');
          frames.push({ type: 'fragment', messageId, index, count, bytes: data });
          break;
        }
        case FrameType.Ping:
          frames.push({ type: 'ping', sentUs: r.u64() });
          break;
        case FrameType.Pong:
          frames.push({ type: 'pong', pingSentUs: r.u64(), pingReceivedUs: r.u64(), pongSentUs: r.u64() });
          break;
        default:
          throw new DecodeError('frame_unknown_type');
      }
    }
    return { ackNewestPlusOne, ackBits, frames };
  });
}
