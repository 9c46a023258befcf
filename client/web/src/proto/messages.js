// Game messages (PROTOCOL.md §4.1): what a client sends (input, action, chat, snapshot ack) and
// decodes (snapshot, event). Decoders reject trailing bytes and are total.

import { DecodeError, Writer, decodeWith } from './bytes.js';

export const CHAT_TEXT_BYTES_MAX = 256;
export const INPUT_REDUNDANCY_MAX = 8;
export const SNAPSHOT_MESSAGE_BYTES_MAX = 1138;
export const NO_INPUT_TICK = 0xffffffff;
export const NO_ENTITY = 0xffffffff;

export const ChatChannel = Object.freeze({ Zone: 0, Global: 1 });

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Encodes a client → server message. */
export function encodeClientMessage(m) {
  const w = new Writer(32);
  switch (m.type) {
    case 'input':
      if (m.inputs.length < 1 || m.inputs.length > INPUT_REDUNDANCY_MAX) throw new Error('1..=8 inputs');
      w.u8(0x01).u32(m.sequence).u32(m.newestTick).u8(m.inputs.length);
      for (const input of m.inputs) w.u8(input.moveRight).u8(input.moveForward).u16(input.yaw).u8(input.buttons ?? 0);
      break;
    case 'action':
      w.u8(0x02).u32(m.clientTick);
      switch (m.action.kind) {
        case 'attack':
          w.u8(1).u32(m.action.target).u16(m.action.skill);
          for (const a of m.action.aim) w.i16(a);
          break;
        case 'pick_up':
          w.u8(2).u32(m.action.loot);
          break;
        case 'trade_offer':
          w.u8(3).u32(m.action.target).u32(m.action.giveItem).u32(m.action.wantItem);
          break;
        case 'trade_accept':
          w.u8(4).u32(m.action.from);
          break;
        default:
          throw new Error(`unknown action ${m.action.kind}`);
      }
      break;
    case 'chat': {
      const text = utf8.encode(m.text);
      if (text.length > CHAT_TEXT_BYTES_MAX) throw new Error(`chat of ${text.length} bytes over ${CHAT_TEXT_BYTES_MAX}`);
      w.u8(0x03).u8(m.channel).u16(text.length).raw(text);
      break;
    }
    case 'snapshot_ack':
      w.u8(0x80).u32(m.tick);
      break;
    default:
      throw new Error(`unknown client message ${m.type}`);
  }
  return w.finish();
}

function readChat(r) {
  const channel = r.u8();
  if (channel > 1) throw new DecodeError('unknown_channel');
  const len = r.u16();
  if (len > CHAT_TEXT_BYTES_MAX) throw new DecodeError('chat_too_long');
  const raw = r.take(len);
  let text;
  try {
    text = utf8Strict.decode(raw);
  } catch {
    throw new DecodeError('chat_not_utf8');
  }
  return { channel, text };
}

function checkRange(value, max) {
  if (value > max) throw new DecodeError('unknown_value');
  return value;
}

function readEvent(r) {
  const kind = r.u8();
  switch (kind) {
    case 1:
      return { kind: 'joined', entity: r.u32() };
    case 2:
      return { kind: 'join_refused', reason: checkRange(r.u8(), 2) };
    case 3: {
      const channel = r.u8();
      if (channel > 1) throw new DecodeError('unknown_channel');
      const from = r.u32();
      const len = r.u16();
      if (len > CHAT_TEXT_BYTES_MAX) throw new DecodeError('chat_too_long');
      const raw = r.take(len);
      let text;
      try {
        text = utf8Strict.decode(raw);
      } catch {
        throw new DecodeError('chat_not_utf8');
      }
      return { kind: 'chat', channel, from, text };
    }
    case 4: {
      const killer = r.u32();
      return { kind: 'died', killer: killer === NO_ENTITY ? null : killer };
    }
    case 5:
      return { kind: 'respawned' };
    case 6:
      return { kind: 'attack_result', target: r.u32(), hit: checkRange(r.u8(), 1) === 1 };
    case 7:
      return { kind: 'inventory_granted', item: r.u32(), quantity: r.u16() };
    case 8:
      return { kind: 'pick_up_refused', loot: r.u32(), reason: checkRange(r.u8(), 4) };
    case 9:
      return { kind: 'trade_offered', from: r.u32(), giveItem: r.u32(), wantItem: r.u32() };
    case 10:
      return { kind: 'trade_completed', with: r.u32(), gaveItem: r.u32(), gotItem: r.u32() };
    case 11:
      return { kind: 'trade_refused', with: r.u32(), reason: checkRange(r.u8(), 4) };
    default:
      throw new DecodeError('unknown_value');
  }
}

function noTrailing(r) {
  if (r.remaining() !== 0) throw new DecodeError('trailing_bytes');
}

/** Decodes a server → client message: `{type:'snapshot', lastInputTick (null = none), payload}` or `{type:'event', event}`. */
export function decodeServerMessage(bytes) {
  return decodeWith(bytes, 'truncated', (r) => {
    const type = r.u8();
    if (type === 0x81) {
      const tick = r.u32();
      const payload = r.rest();
      if (payload.length > SNAPSHOT_MESSAGE_BYTES_MAX) throw new DecodeError('snapshot_too_large');
      return { type: 'snapshot', lastInputTick: tick === NO_INPUT_TICK ? null : tick, payload };
    }
    if (type === 0x82) {
      const event = readEvent(r);
      noTrailing(r);
      return { type: 'event', event };
    }
    throw new DecodeError('unknown_type');
  });
}

/** Decodes a client → server message (tests and tools; a client never receives these). */
export function decodeClientMessage(bytes) {
  return decodeWith(bytes, 'truncated', (r) => {
    const type = r.u8();
    let m;
    switch (type) {
      case 0x01: {
        const sequence = r.u32();
        const newestTick = r.u32();
        const count = r.u8();
        if (count < 1 || count > INPUT_REDUNDANCY_MAX) throw new DecodeError('bad_input_count');
        const inputs = [];
        for (let i = 0; i < count; i++) inputs.push({ moveRight: r.i8(), moveForward: r.i8(), yaw: r.u16(), buttons: r.u8() });
        m = { type: 'input', sequence, newestTick, inputs };
        break;
      }
      case 0x02: {
        const clientTick = r.u32();
        const kind = r.u8();
        let action;
        if (kind === 1) action = { kind: 'attack', target: r.u32(), skill: r.u16(), aim: [r.i16(), r.i16(), r.i16()] };
        else if (kind === 2) action = { kind: 'pick_up', loot: r.u32() };
        else if (kind === 3) action = { kind: 'trade_offer', target: r.u32(), giveItem: r.u32(), wantItem: r.u32() };
        else if (kind === 4) action = { kind: 'trade_accept', from: r.u32() };
        else throw new DecodeError('unknown_action');
        m = { type: 'action', clientTick, action };
        break;
      }
      case 0x03:
        m = { type: 'chat', ...readChat(r) };
        break;
      case 0x80:
        m = { type: 'snapshot_ack', tick: r.u32() };
        break;
      default:
        throw new DecodeError('unknown_type');
    }
    noTrailing(r);
    return m;
  });
}

/** A move input's direction as the server applies it (`MoveInput::direction`, f32 arithmetic). */
export function moveDirection(moveRight, moveForward) {
  const f = Math.fround;
  const x = f(Math.max(moveRight, -127) / 127);
  const y = f(Math.max(moveForward, -127) / 127);
  const length = f(Math.sqrt(f(f(x * x) + f(y * y))));
  return length > 1 ? [f(x / length), f(y / length)] : [x, y];
}

/** Quantises a wished direction in world axes to the i8 steps of an input. */
export function quantiseDirection(direction) {
  // Rust's f32::round rounds half away from zero; Math.round would round −0.5 up.
  const axis = (v) => {
    if (!Number.isFinite(v)) return 0;
    const scaled = Math.fround(Math.min(1, Math.max(-1, v)) * 127);
    return Math.sign(scaled) * Math.round(Math.abs(scaled));
  };
  return [axis(direction[0]), axis(direction[1])];
}

/** Radians → yaw in 1/65536 turn. */
export function quantiseYaw(yaw) {
  if (!Number.isFinite(yaw)) return 0;
  const turns = yaw / (2 * Math.PI);
  return Math.floor((turns - Math.floor(turns)) * 65536) & 0xffff;
}

/** An aim as the server reads it: each axis ÷ 32767, `-32768` reading as `-32767`; all zero = none. */
export function aimDirection(aim) {
  if (aim.every((a) => a === 0)) return null;
  return aim.map((a) => Math.max(a, -32767) / 32767);
}

/** A unit direction → aim axes (× 32767, rounded half away from zero). */
export function quantiseAim(direction) {
  return direction.map((v) => {
    if (!Number.isFinite(v)) return 0;
    const scaled = Math.min(1, Math.max(-1, v)) * 32767;
    return Math.sign(scaled) * Math.round(Math.abs(scaled));
  });
}
