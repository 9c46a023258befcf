// Connect tokens (PROTOCOL.md §2). A client only parses its 409-byte client token: the sealed part
// goes to the server untouched inside the ConnectionRequest, the clear copy gives the client its
// keys and the server's addresses. `sealConnectToken` issues a dev token exactly as the control plane
// does (XChaCha20-Poly1305 under the cluster key), for tests against a standalone node.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { DecodeError, Reader, Writer, decodeWith } from './bytes.js';

export const CLIENT_TOKEN_BYTES = 409;
export const TOKEN_PRIVATE_BYTES = 192;
export const TOKEN_SEALED_BYTES = 208;
export const TOKEN_NONCE_BYTES = 24;
export const TOKEN_FIELDS_BYTES = 169;
export const TOKEN_LIFETIME_S = 30;
export const ADDRESS_SLOTS = 4;

/** Reads the 169 field bytes shared by the private part and the client token's clear copy. */
function readFields(r) {
  const sessionId = r.u64big();
  const zoneId = r.u32();
  const clientToServerKey = r.take(32).slice();
  const serverToClientKey = r.take(32).slice();
  const edgeKey = r.take(16).slice();
  const count = r.u8();
  if (count < 1 || count > ADDRESS_SLOTS) throw new DecodeError('token_bad_address_count');
  const addresses = [];
  for (let slot = 0; slot < ADDRESS_SLOTS; slot++) {
    const family = r.u8();
    const ip = r.take(16);
    const port = r.u16();
    if (slot >= count) {
      if (family !== 0 || port !== 0 || ip.some((b) => b !== 0)) throw new DecodeError('token_padding');
      continue;
    }
    if (family === 4) {
      if (ip.subarray(4).some((b) => b !== 0)) throw new DecodeError('token_padding');
      addresses.push({ family: 4, host: Array.from(ip.subarray(0, 4)).join('.'), port });
    } else if (family === 6) {
      const groups = [];
      for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
      addresses.push({ family: 6, host: groups.join(':'), port });
    } else {
      throw new DecodeError('token_bad_address_family');
    }
  }
  return { sessionId, zoneId, clientToServerKey, serverToClientKey, edgeKey, addresses };
}

/** Parses a 409-byte client token; `{ok, value | error}` with the `token_*` labels of §1.5. */
export function parseClientToken(bytes) {
  return decodeWith(bytes, 'token_bad_length', (r) => {
    if (bytes.length !== CLIENT_TOKEN_BYTES) throw new DecodeError('token_bad_length');
    const expiresAtS = r.u64();
    const nonce = r.take(TOKEN_NONCE_BYTES).slice();
    const sealed = r.take(TOKEN_SEALED_BYTES).slice();
    const fields = readFields(r);
    return { bytes: bytes.slice(), expiresAtS, nonce, sealed, ...fields };
  });
}

function writeFields(w, t) {
  w.u64(t.sessionId).u32(t.zoneId).raw(t.clientToServerKey).raw(t.serverToClientKey).raw(t.edgeKey);
  if (t.addresses.length < 1 || t.addresses.length > ADDRESS_SLOTS) throw new Error('1..=4 addresses');
  w.u8(t.addresses.length);
  for (let slot = 0; slot < ADDRESS_SLOTS; slot++) {
    const a = t.addresses[slot];
    const ip = new Uint8Array(16);
    if (!a) {
      w.u8(0).raw(ip).u16(0);
      continue;
    }
    if (a.family === 4) {
      a.host.split('.').forEach((part, i) => (ip[i] = Number(part)));
    } else {
      ipv6Bytes(a.host, ip);
    }
    w.u8(a.family).raw(ip).u16(a.port);
  }
}

function ipv6Bytes(host, out) {
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
}

function associatedData(expiresAtS) {
  return new Writer(10).u8(0x4d).u8(0x01).u64(expiresAtS).finish();
}

/**
 * Seals a connect token as an issuer does and returns the 409-byte client token.
 * `t`: {sessionId (BigInt), zoneId, expiresAtS, clientToServerKey, serverToClientKey, edgeKey,
 * addresses: [{family, host, port}], characterId (BigInt, default 0)}.
 */
export function sealConnectToken(clusterKey, nonce, t) {
  const priv = new Writer(TOKEN_PRIVATE_BYTES);
  writeFields(priv, t);
  priv.u64(t.characterId ?? 0n);
  priv.raw(new Uint8Array(TOKEN_PRIVATE_BYTES - priv.length));
  const sealed = xchacha20poly1305(clusterKey, nonce, associatedData(t.expiresAtS)).encrypt(priv.finish());
  const out = new Writer(CLIENT_TOKEN_BYTES);
  out.u64(t.expiresAtS).raw(nonce).raw(sealed);
  writeFields(out, t);
  return out.finish();
}

/** Opens a sealed private part (what a server does); for tests. */
export function openPrivateToken(clusterKey, clientToken) {
  const r = new Reader(clientToken);
  const expiresAtS = r.u64();
  const nonce = r.take(TOKEN_NONCE_BYTES);
  const sealed = r.take(TOKEN_SEALED_BYTES);
  const plain = xchacha20poly1305(clusterKey, nonce, associatedData(expiresAtS)).decrypt(sealed);
  return decodeWith(plain, 'token_bad_length', (pr) => ({ ...readFields(pr), characterId: pr.u64big() }));
}
