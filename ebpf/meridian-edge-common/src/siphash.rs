//! SipHash-2-4 of the 18 bytes an edge tag covers (PROTOCOL.md §1.2), written out for a fixed
//! length so the eBPF program has no loop for the verifier to bound: two full 8-byte words, then
//! the last block (the 2 tail bytes and the length, 18, in the top byte), then finalisation.
//! User space uses the `siphasher` crate through `meridian_proto::packet::edge_tag`; this crate's
//! tests assert the two agree. It lives here, not in the eBPF crate, so the host can test it.

use crate::{EDGE_KEY_BYTES, EDGE_TAG_COVERED_BYTES};

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[inline(always)]
fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    round(v);
    round(v);
    v[0] ^= m;
}

#[inline(always)]
fn word(bytes: &[u8; EDGE_TAG_COVERED_BYTES], at: usize) -> u64 {
    u64::from_le_bytes([
        bytes[at],
        bytes[at + 1],
        bytes[at + 2],
        bytes[at + 3],
        bytes[at + 4],
        bytes[at + 5],
        bytes[at + 6],
        bytes[at + 7],
    ])
}

/// The edge tag of a sealed packet: SipHash-2-4 keyed with `edge_key` (k0 = bytes 0..8, k1 = bytes
/// 8..16, little-endian) over the packet's first 18 bytes.
#[inline(always)]
pub fn edge_tag(edge_key: &[u8; EDGE_KEY_BYTES], covered: &[u8; EDGE_TAG_COVERED_BYTES]) -> u64 {
    let k0 = u64::from_le_bytes([
        edge_key[0],
        edge_key[1],
        edge_key[2],
        edge_key[3],
        edge_key[4],
        edge_key[5],
        edge_key[6],
        edge_key[7],
    ]);
    let k1 = u64::from_le_bytes([
        edge_key[8],
        edge_key[9],
        edge_key[10],
        edge_key[11],
        edge_key[12],
        edge_key[13],
        edge_key[14],
        edge_key[15],
    ]);
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    compress(&mut v, word(covered, 0));
    compress(&mut v, word(covered, 8));
    let last = ((EDGE_TAG_COVERED_BYTES as u64) << 56) | u64::from(covered[16]) | (u64::from(covered[17]) << 8);
    compress(&mut v, last);
    v[2] ^= 0xff;
    round(&mut v);
    round(&mut v);
    round(&mut v);
    round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}
