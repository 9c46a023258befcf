//! The node link's cryptography, sans-IO: the key schedule, the hello that proves both ends hold the
//! cluster key, and the sealing of frames. Stepped in unit tests without sockets.
//!
//! Key derivation is keyed BLAKE2b (`Blake2bMac<U32>`, personalised per use). Why not HKDF: the
//! cluster key is already 32 uniformly random bytes, so HKDF's extract step adds nothing, and keyed
//! BLAKE2b is specified as a PRF (RFC 7693 §2.5) — one call per derived key, no extra crate (blake2
//! is already in the build through argon2).
//!
//! Hello (one TCP connection carries frames one way, dialer → listener; each node dials every peer):
//! 1. dialer → listener: `MAGIC`, dialer node id, 32 random bytes `nonce_d`;
//! 2. listener → dialer: listener node id, 32 random bytes `nonce_l`, `proof_l` = PRF("listener",
//!    transcript) — the dialer checks it before sending anything sealed;
//! 3. dialer → listener: `proof_d` = PRF("dialer", transcript) — the listener checks it before
//!    taking any frame.
//!
//! The transcript holds both ids and both nonces, so a proof cannot be replayed on another
//! connection, and the frame key (PRF("frames", transcript)) is fresh per connection: nonces are a
//! plain per-connection counter (ChaCha20-Poly1305, 96-bit nonce = counter), never reused under a
//! key. Each frame's length prefix is the AEAD's associated data; a frame out of order, replayed,
//! cut or altered fails to open and the connection is dropped.

use blake2::Blake2bMac;
use blake2::digest::{Mac, consts::U32};
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};

/// First bytes of a dialer's hello: protocol and version.
pub const MAGIC: &[u8; 8] = b"MRDNLNK1";
/// Random bytes each side adds to the transcript.
pub const HELLO_NONCE_BYTES: usize = 32;
/// A hello proof (keyed BLAKE2b-256).
pub const PROOF_BYTES: usize = 32;
/// Longest node id a hello carries (the registry's limit).
pub const NODE_ID_BYTES_MAX: usize = meridian_control::registry::NODE_ID_BYTES_MAX;
/// The AEAD tag each sealed frame ends with.
pub const TAG_BYTES: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("hello does not start with the node link's magic (another protocol or version)")]
    BadMagic,
    #[error("hello is malformed: {reason}")]
    MalformedHello { reason: &'static str },
    #[error("the peer's hello proof does not verify: it does not hold this cluster's key")]
    BadProof,
    #[error("frame does not open: altered, replayed, out of order or sealed under another key")]
    BadFrame,
    #[error("frame of {bytes} bytes is shorter than its tag")]
    ShortFrame { bytes: usize },
}

/// PRF(cluster key, label, parts): keyed BLAKE2b-256 personalised with `label` (≤ 16 bytes).
fn prf(cluster_key: &[u8; 32], label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Blake2bMac::<U32>::new_with_salt_and_personal(Some(cluster_key), &[], label)
        .expect("a 32-byte key and a label of at most 16 bytes are valid");
    for part in parts {
        // Length-prefixed so two transcripts never concatenate to the same bytes.
        Mac::update(&mut mac, &(part.len() as u32).to_be_bytes());
        Mac::update(&mut mac, part);
    }
    mac.finalize().into_bytes().into()
}

/// The dialer's first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialerHello {
    pub node_id: String,
    pub nonce: [u8; HELLO_NONCE_BYTES],
}

/// The listener's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerHello {
    pub node_id: String,
    pub nonce: [u8; HELLO_NONCE_BYTES],
    pub proof: [u8; PROOF_BYTES],
}

fn put_id(out: &mut Vec<u8>, id: &str) {
    out.push(id.len() as u8);
    out.extend_from_slice(id.as_bytes());
}

fn take_id(bytes: &[u8]) -> Result<(String, &[u8]), SealError> {
    let (&len, rest) = bytes
        .split_first()
        .ok_or(SealError::MalformedHello { reason: "no node id" })?;
    let len = len as usize;
    if len == 0 || rest.len() < len {
        return Err(SealError::MalformedHello {
            reason: "node id cut short or empty",
        });
    }
    let id = std::str::from_utf8(&rest[..len]).map_err(|_| SealError::MalformedHello {
        reason: "node id is not UTF-8",
    })?;
    Ok((id.to_owned(), &rest[len..]))
}

fn take_array<'a, const N: usize>(bytes: &'a [u8], reason: &'static str) -> Result<([u8; N], &'a [u8]), SealError> {
    if bytes.len() < N {
        return Err(SealError::MalformedHello { reason });
    }
    let (head, rest) = bytes.split_at(N);
    Ok((head.try_into().expect("split at N"), rest))
}

impl DialerHello {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_id(&mut out, &self.node_id);
        out.extend_from_slice(&self.nonce);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SealError> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(SealError::BadMagic)?;
        let (node_id, rest) = take_id(rest)?;
        let (nonce, rest) = take_array::<HELLO_NONCE_BYTES>(rest, "dialer nonce cut short")?;
        if !rest.is_empty() {
            return Err(SealError::MalformedHello {
                reason: "trailing bytes after the dialer's hello",
            });
        }
        Ok(Self { node_id, nonce })
    }
}

impl ListenerHello {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.node_id.len() + HELLO_NONCE_BYTES + PROOF_BYTES);
        put_id(&mut out, &self.node_id);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.proof);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SealError> {
        let (node_id, rest) = take_id(bytes)?;
        let (nonce, rest) = take_array::<HELLO_NONCE_BYTES>(rest, "listener nonce cut short")?;
        let (proof, rest) = take_array::<PROOF_BYTES>(rest, "listener proof cut short")?;
        if !rest.is_empty() {
            return Err(SealError::MalformedHello {
                reason: "trailing bytes after the listener's hello",
            });
        }
        Ok(Self { node_id, nonce, proof })
    }
}

/// Both hellos' contents: what the proofs and the frame key are bound to.
#[derive(Clone, Debug)]
pub struct Transcript {
    pub dialer_id: String,
    pub dialer_nonce: [u8; HELLO_NONCE_BYTES],
    pub listener_id: String,
    pub listener_nonce: [u8; HELLO_NONCE_BYTES],
}

impl Transcript {
    fn derive(&self, cluster_key: &[u8; 32], label: &[u8]) -> [u8; 32] {
        prf(
            cluster_key,
            label,
            &[
                MAGIC,
                self.dialer_id.as_bytes(),
                &self.dialer_nonce,
                self.listener_id.as_bytes(),
                &self.listener_nonce,
            ],
        )
    }

    pub fn listener_proof(&self, cluster_key: &[u8; 32]) -> [u8; PROOF_BYTES] {
        self.derive(cluster_key, b"mrdn-link-listen")
    }

    pub fn dialer_proof(&self, cluster_key: &[u8; 32]) -> [u8; PROOF_BYTES] {
        self.derive(cluster_key, b"mrdn-link-dialer")
    }

    /// Checks a proof in constant time (a timing leak would let a stranger forge one byte by byte).
    pub fn verify(expected: &[u8; PROOF_BYTES], got: &[u8]) -> Result<(), SealError> {
        use subtle_free_eq::ct_eq;
        if ct_eq(expected, got) {
            Ok(())
        } else {
            Err(SealError::BadProof)
        }
    }

    /// The frame key of this connection (dialer → listener).
    pub fn frame_key(&self, cluster_key: &[u8; 32]) -> [u8; 32] {
        self.derive(cluster_key, b"mrdn-link-frames")
    }
}

mod subtle_free_eq {
    /// Constant-time equality of two byte strings of the proof's length.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

fn frame_nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::from(nonce)
}

/// Seals the frames of one direction of one connection: counter nonces from 0.
pub struct FrameSealer {
    cipher: ChaCha20Poly1305,
    counter: u64,
}

impl FrameSealer {
    pub fn new(frame_key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(*frame_key)),
            counter: 0,
        }
    }

    /// The wire form of one frame: `u32` big-endian length of what follows, the ciphertext, the
    /// tag. The length is the associated data.
    pub fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let sealed_len = (plaintext.len() + TAG_BYTES) as u32;
        let mut out = Vec::with_capacity(4 + sealed_len as usize);
        out.extend_from_slice(&sealed_len.to_be_bytes());
        out.extend_from_slice(plaintext);
        let nonce = frame_nonce(self.counter);
        self.counter += 1;
        let (prefix, body) = out.split_at_mut(4);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, prefix, body.into())
            .expect("a frame under 4 GiB seals");
        out.extend_from_slice(&tag);
        out
    }
}

/// Opens the frames of one direction of one connection, in order.
pub struct FrameOpener {
    cipher: ChaCha20Poly1305,
    counter: u64,
}

impl FrameOpener {
    pub fn new(frame_key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(*frame_key)),
            counter: 0,
        }
    }

    /// Opens the `sealed` bytes that followed a length prefix of `sealed.len()`.
    pub fn open(&mut self, mut sealed: Vec<u8>) -> Result<Vec<u8>, SealError> {
        if sealed.len() < TAG_BYTES {
            return Err(SealError::ShortFrame { bytes: sealed.len() });
        }
        let prefix = (sealed.len() as u32).to_be_bytes();
        let tag_at = sealed.len() - TAG_BYTES;
        let tag = Tag::try_from(&sealed[tag_at..]).map_err(|_| SealError::BadFrame)?;
        sealed.truncate(tag_at);
        self.cipher
            .decrypt_inout_detached(&frame_nonce(self.counter), &prefix, sealed.as_mut_slice().into(), &tag)
            .map_err(|_| SealError::BadFrame)?;
        self.counter += 1;
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn transcript() -> Transcript {
        Transcript {
            dialer_id: "node-a".into(),
            dialer_nonce: [1; 32],
            listener_id: "node-b".into(),
            listener_nonce: [2; 32],
        }
    }

    #[test]
    fn hellos_round_trip_and_refuse_garbage() {
        let hello = DialerHello {
            node_id: "node-a".into(),
            nonce: [9; 32],
        };
        assert_eq!(DialerHello::decode(&hello.encode()), Ok(hello.clone()));
        let mut other = hello.encode();
        other[0] ^= 1;
        assert_eq!(DialerHello::decode(&other), Err(SealError::BadMagic));
        let cut = &hello.encode()[..20];
        assert!(matches!(
            DialerHello::decode(cut),
            Err(SealError::MalformedHello { .. })
        ));
        let answer = ListenerHello {
            node_id: "node-b".into(),
            nonce: [3; 32],
            proof: [4; 32],
        };
        assert_eq!(ListenerHello::decode(&answer.encode()), Ok(answer.clone()));
        let mut long = answer.encode();
        long.push(0);
        assert!(matches!(
            ListenerHello::decode(&long),
            Err(SealError::MalformedHello { .. })
        ));
    }

    #[test]
    fn proofs_bind_the_key_the_role_and_the_transcript() {
        let t = transcript();
        let proof = t.listener_proof(&KEY);
        assert_eq!(Transcript::verify(&proof, &proof), Ok(()));
        assert_eq!(
            Transcript::verify(&t.listener_proof(&KEY), &t.dialer_proof(&KEY)),
            Err(SealError::BadProof),
            "a listener's proof is no dialer's proof (no reflection)"
        );
        assert_eq!(
            Transcript::verify(&proof, &t.listener_proof(&[8; 32])),
            Err(SealError::BadProof),
            "another cluster's key proves nothing here"
        );
        let mut replayed = transcript();
        replayed.dialer_nonce[0] ^= 1;
        assert_eq!(
            Transcript::verify(&proof, &replayed.listener_proof(&KEY)),
            Err(SealError::BadProof),
            "a proof from another connection's hello does not verify"
        );
        assert_ne!(t.frame_key(&KEY), replayed.frame_key(&KEY), "fresh key per connection");
        assert_eq!(Transcript::verify(&proof, &proof[..31]), Err(SealError::BadProof));
    }

    #[test]
    fn frames_open_in_order_once_and_only_unaltered() {
        let key = transcript().frame_key(&KEY);
        let mut sealer = FrameSealer::new(&key);
        let mut opener = FrameOpener::new(&key);
        let first = sealer.seal(b"ticket with session keys");
        let second = sealer.seal(b"");
        assert_eq!(
            u32::from_be_bytes(first[..4].try_into().unwrap()) as usize,
            first.len() - 4
        );
        assert!(
            !first.windows(7).any(|w| w == b"session"),
            "the plaintext does not show on the wire"
        );
        // Out of order: the second frame under the first's nonce does not open.
        assert_eq!(opener.open(second[4..].to_vec()), Err(SealError::BadFrame));
        assert_eq!(opener.open(first[4..].to_vec()).unwrap(), b"ticket with session keys");
        // Replayed: the counter moved on.
        assert_eq!(opener.open(first[4..].to_vec()), Err(SealError::BadFrame));
        assert_eq!(opener.open(second[4..].to_vec()).unwrap(), b"");
        let mut altered = sealer.seal(b"abc");
        altered[5] ^= 0x40;
        assert_eq!(opener.open(altered[4..].to_vec()), Err(SealError::BadFrame));
        assert_eq!(opener.open(vec![0; 3]), Err(SealError::ShortFrame { bytes: 3 }));
        let mut stranger = FrameOpener::new(&[0; 32]);
        let mut fresh = FrameSealer::new(&key);
        assert_eq!(stranger.open(fresh.seal(b"x")[4..].to_vec()), Err(SealError::BadFrame));
    }
}
