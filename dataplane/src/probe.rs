//! The node liveness probe: a fixed 16-byte datagram a node answers with a 16-byte reply naming the
//! worker that served it. It exists so operators (and the README's main command) can check that a
//! node's UDP workers are up before the game protocol is in place; it is not part of the game wire.
//!
//! Layout (all integers little-endian):
//!
//! | offset | width | field                                   |
//! |--------|-------|-----------------------------------------|
//! | 0      | 4     | magic `b"MRDP"`                         |
//! | 4      | 1     | version, `1`                            |
//! | 5      | 1     | kind: `1` request, `2` reply            |
//! | 6      | 2     | request: zero; reply: worker index      |
//! | 8      | 8     | nonce chosen by the requester, echoed   |
//!
//! A reply is never larger than its request, so a spoofed source gains no amplification.
#![forbid(unsafe_code)]

/// Size of both the request and the reply.
/// The edge recognises probes by the same constants (`meridian-edge-common`), so it passes them.
pub const PROBE_BYTES: usize = meridian_edge_common::PROBE_BYTES;
const MAGIC: [u8; 4] = meridian_edge_common::PROBE_MAGIC;
const VERSION: u8 = 1;
const KIND_REQUEST: u8 = 1;
const KIND_REPLY: u8 = 2;

/// Why a datagram is not a valid probe request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("probe must be exactly {PROBE_BYTES} bytes, got {0}")]
    Length(usize),
    #[error("bad probe magic")]
    Magic,
    #[error("unsupported probe version {0}")]
    Version(u8),
    #[error("unexpected probe kind {0}")]
    Kind(u8),
}

/// A decoded probe reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReply {
    pub worker_index: u16,
    pub nonce: u64,
}

/// Encodes a probe request carrying `nonce`.
pub fn encode_request(nonce: u64) -> [u8; PROBE_BYTES] {
    encode(KIND_REQUEST, 0, nonce)
}

/// Answers a probe request: writes the reply into `reply` and returns its length, or an error for a
/// datagram that is not a request (the caller counts it and sends nothing).
pub fn answer(request: &[u8], worker_index: u16, reply: &mut [u8]) -> Result<usize, ProbeError> {
    let (kind, _, nonce) = decode(request)?;
    if kind != KIND_REQUEST {
        return Err(ProbeError::Kind(kind));
    }
    let bytes = encode(KIND_REPLY, worker_index, nonce);
    // Callers pass a datagram-sized buffer; a shorter one is a programming error.
    assert!(reply.len() >= PROBE_BYTES, "reply buffer shorter than a probe");
    reply[..PROBE_BYTES].copy_from_slice(&bytes);
    Ok(PROBE_BYTES)
}

/// Decodes a probe reply.
pub fn decode_reply(datagram: &[u8]) -> Result<ProbeReply, ProbeError> {
    let (kind, worker_index, nonce) = decode(datagram)?;
    if kind != KIND_REPLY {
        return Err(ProbeError::Kind(kind));
    }
    Ok(ProbeReply { worker_index, nonce })
}

fn encode(kind: u8, worker_index: u16, nonce: u64) -> [u8; PROBE_BYTES] {
    let mut out = [0u8; PROBE_BYTES];
    out[0..4].copy_from_slice(&MAGIC);
    out[4] = VERSION;
    out[5] = kind;
    out[6..8].copy_from_slice(&worker_index.to_le_bytes());
    out[8..16].copy_from_slice(&nonce.to_le_bytes());
    out
}

fn decode(datagram: &[u8]) -> Result<(u8, u16, u64), ProbeError> {
    let bytes: &[u8; PROBE_BYTES] = datagram.try_into().map_err(|_| ProbeError::Length(datagram.len()))?;
    if bytes[0..4] != MAGIC {
        return Err(ProbeError::Magic);
    }
    if bytes[4] != VERSION {
        return Err(ProbeError::Version(bytes[4]));
    }
    let worker_index = u16::from_le_bytes([bytes[6], bytes[7]]);
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&bytes[8..16]);
    Ok((bytes[5], worker_index, u64::from_le_bytes(nonce)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_answered_with_echoed_nonce_and_worker() {
        let mut reply = [0u8; 64];
        let n = answer(&encode_request(0xdead_beef_0102), 3, &mut reply).unwrap();
        assert_eq!(n, PROBE_BYTES);
        let decoded = decode_reply(&reply[..n]).unwrap();
        assert_eq!(
            decoded,
            ProbeReply {
                worker_index: 3,
                nonce: 0xdead_beef_0102
            }
        );
    }

    #[test]
    fn malformed_datagrams_are_rejected_with_a_reason() {
        let mut reply = [0u8; 64];
        assert_eq!(answer(b"short", 0, &mut reply), Err(ProbeError::Length(5)));
        let mut bad_magic = encode_request(1);
        bad_magic[0] = b'X';
        assert_eq!(answer(&bad_magic, 0, &mut reply), Err(ProbeError::Magic));
        let mut bad_version = encode_request(1);
        bad_version[4] = 9;
        assert_eq!(answer(&bad_version, 0, &mut reply), Err(ProbeError::Version(9)));
        // A reply sent back at a node is not answered (no reflection loops between nodes).
        let reply_datagram = encode(KIND_REPLY, 0, 1);
        assert_eq!(
            answer(&reply_datagram, 0, &mut reply),
            Err(ProbeError::Kind(KIND_REPLY))
        );
    }

    #[test]
    fn every_prefix_and_byte_change_gives_a_typed_answer() {
        let request = encode_request(42);
        let mut reply = [0u8; PROBE_BYTES];
        for len in 0..request.len() {
            assert_eq!(answer(&request[..len], 0, &mut reply), Err(ProbeError::Length(len)));
        }
        for i in 0..PROBE_BYTES {
            for b in [0u8, 1, 2, 0x7f, 0xff] {
                let mut m = request;
                m[i] = b;
                // Only the nonce and the worker field may change and still decode as a request.
                let accepted = answer(&m, 0, &mut reply).is_ok();
                assert_eq!(accepted, i >= 6 || m == request, "byte {i} = {b:#x}");
                let _ = decode_reply(&m);
            }
        }
    }
}
