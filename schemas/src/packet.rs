//! The packet header, AEAD sealing, the edge tag and the replay window.
//!
//! Every packet starts with a magic byte and a version/type byte. A connection request carries a
//! sealed connect token and is padded to a fixed size; every other packet has a 26-byte clear header
//! (session id, sequence, edge tag) followed by a ChaCha20-Poly1305 ciphertext whose nonce is the
//! sequence number and whose associated data is the clear header. The edge tag is a keyed SipHash of
//! the first 18 header bytes with the session's edge key, so the XDP program can drop spoofed
//! packets without doing AEAD in the kernel. Byte layouts: `schemas/PROTOCOL.md` ("Packets").

use std::hash::Hasher;

use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use siphasher::sip::SipHasher24;
use thiserror::Error;

use crate::DATAGRAM_BYTES_MAX;

pub const PACKET_MAGIC: u8 = 0x4D; // 'M'
pub const PROTOCOL_VERSION: u8 = 1;
/// magic, version/type, session id, sequence, edge tag.
pub const SEALED_HEADER_BYTES: usize = 1 + 1 + 8 + 8 + 8;
/// Bytes the edge tag covers: magic, version/type, session id, sequence.
pub const EDGE_TAG_COVERED_BYTES: usize = 18;
pub const AEAD_TAG_BYTES: usize = 16;
pub const AEAD_KEY_BYTES: usize = 32;
pub const EDGE_KEY_BYTES: usize = 16;
/// Largest plaintext a sealed packet carries.
pub const SEALED_PLAINTEXT_BYTES_MAX: usize = DATAGRAM_BYTES_MAX - SEALED_HEADER_BYTES - AEAD_TAG_BYTES;
/// Sequence numbers remembered by the replay window.
pub const REPLAY_WINDOW_PACKETS: u64 = 256;

const _: () = assert!(REPLAY_WINDOW_PACKETS.is_multiple_of(64));

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    ConnectionRequest = 0,
    Challenge = 1,
    Response = 2,
    Payload = 3,
    Disconnect = 4,
}

impl PacketType {
    pub fn from_u8(value: u8) -> Option<PacketType> {
        match value {
            0 => Some(PacketType::ConnectionRequest),
            1 => Some(PacketType::Challenge),
            2 => Some(PacketType::Response),
            3 => Some(PacketType::Payload),
            4 => Some(PacketType::Disconnect),
            _ => None,
        }
    }
}

/// Why a packet was dropped. The data plane counts drops by this reason; none of them is retryable by
/// the receiver (the sender's retransmission, if any, is the retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum PacketError {
    #[error("packet of {bytes} bytes is shorter than its header")]
    TooShort { bytes: usize },
    #[error("packet of {bytes} bytes exceeds the datagram limit")]
    TooLong { bytes: usize },
    #[error("bad magic byte {value:#04x}")]
    BadMagic { value: u8 },
    #[error("unsupported protocol version {version}")]
    BadVersion { version: u8 },
    #[error("unknown packet type {value}")]
    BadType { value: u8 },
    #[error("connection request is {bytes} bytes, not the fixed size")]
    BadRequestSize { bytes: usize },
    #[error("edge tag does not match")]
    BadEdgeTag,
    #[error("AEAD authentication failed")]
    BadSeal,
    #[error("sequence {sequence} was already received or is older than the replay window")]
    Replayed { sequence: u64 },
    #[error("connect token: {0}")]
    Token(#[from] crate::token::TokenError),
    #[error("no session {session_id} for this packet")]
    UnknownSession { session_id: u64 },
    #[error("session {session_id} sent from an address it was not established on")]
    AddressMismatch { session_id: u64 },
    #[error("packet type {packet_type:?} is not expected in this state")]
    Unexpected { packet_type: PacketType },
    #[error("challenge response does not match")]
    BadChallenge,
    #[error("server is full ({connections} connections)")]
    ServerFull { connections: usize },
    #[error("payload: {0}")]
    Payload(#[from] crate::connection::FrameError),
}

impl PacketError {
    /// The stable metrics label of this drop reason (`drops_total{reason="…"}`): snake_case, one per
    /// variant, never reused for another meaning. Every label is in [`PACKET_ERROR_LABELS`] and in
    /// the "Drop reasons" table of `PROTOCOL.md`.
    pub fn label(&self) -> &'static str {
        match self {
            PacketError::TooShort { .. } => "too_short",
            PacketError::TooLong { .. } => "too_long",
            PacketError::BadMagic { .. } => "bad_magic",
            PacketError::BadVersion { .. } => "bad_version",
            PacketError::BadType { .. } => "bad_type",
            PacketError::BadRequestSize { .. } => "bad_request_size",
            PacketError::BadEdgeTag => "bad_edge_tag",
            PacketError::BadSeal => "bad_seal",
            PacketError::Replayed { .. } => "replayed",
            PacketError::Token(error) => error.label(),
            PacketError::UnknownSession { .. } => "unknown_session",
            PacketError::AddressMismatch { .. } => "address_mismatch",
            PacketError::Unexpected { .. } => "unexpected_packet",
            PacketError::BadChallenge => "bad_challenge",
            PacketError::ServerFull { .. } => "server_full",
            PacketError::Payload(error) => error.label(),
        }
    }
}

/// Every label [`PacketError::label`] can return (tokens' and frames' included), so a metrics
/// exporter can register them all up front and a dashboard shows zeros instead of gaps.
pub const PACKET_ERROR_LABELS: &[&str] = &[
    "too_short",
    "too_long",
    "bad_magic",
    "bad_version",
    "bad_type",
    "bad_request_size",
    "bad_edge_tag",
    "bad_seal",
    "replayed",
    "unknown_session",
    "address_mismatch",
    "unexpected_packet",
    "bad_challenge",
    "server_full",
    "token_bad_length",
    "token_bad_seal",
    "token_expired",
    "token_expiry_too_far",
    "token_bad_address_count",
    "token_bad_address_family",
    "token_padding",
    "wrong_server",
    "frame_truncated",
    "frame_unknown_type",
    "frame_bad_fragment",
    "frame_too_many",
];

/// Why a session was ended, carried as the one-byte plaintext of a sealed `Disconnect` packet so the
/// other side (a player's client, above all) learns why. Closed: a byte this version does not know
/// decodes as `Unspecified`, so a newer peer's reasons never make a `Disconnect` undecodable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DisconnectReason {
    /// No reason given; also what a client sends when its player quits.
    #[default]
    Unspecified = 0,
    /// The token's zone is not hosted by this node.
    UnknownZone = 1,
    /// The zone refused the player (its session table or entity budget is full).
    ZoneFull = 2,
    /// The node has no room for another session.
    ServerFull = 3,
    /// Removed by an operator or by policy.
    Kicked = 4,
    /// The node is shutting down; reconnect through the control plane.
    ShuttingDown = 5,
    /// The sender heard nothing from the peer for too long.
    TimedOut = 6,
    /// The control plane moved the session's zone to another node (or this node lost it); log in
    /// again for a token that names the new owner.
    ZoneMoved = 7,
}

impl DisconnectReason {
    /// Total decoder: unknown codes are `Unspecified` (forward compatible).
    pub fn from_u8(value: u8) -> DisconnectReason {
        match value {
            1 => DisconnectReason::UnknownZone,
            2 => DisconnectReason::ZoneFull,
            3 => DisconnectReason::ServerFull,
            4 => DisconnectReason::Kicked,
            5 => DisconnectReason::ShuttingDown,
            6 => DisconnectReason::TimedOut,
            7 => DisconnectReason::ZoneMoved,
            _ => DisconnectReason::Unspecified,
        }
    }

    /// The reason of a `Disconnect` packet's plaintext: its first byte; empty is `Unspecified`, and
    /// bytes after the first are ignored (room for later versions to say more).
    pub fn from_plaintext(plaintext: &[u8]) -> DisconnectReason {
        plaintext
            .first()
            .map_or(DisconnectReason::Unspecified, |byte| DisconnectReason::from_u8(*byte))
    }
}

/// The clear header of a sealed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedHeader {
    pub packet_type: PacketType,
    pub session_id: u64,
    pub sequence: u64,
    pub edge_tag: u64,
}

/// Reads magic, version and type: the checks the XDP program makes first.
pub fn read_packet_type(bytes: &[u8]) -> Result<PacketType, PacketError> {
    if bytes.len() > DATAGRAM_BYTES_MAX {
        return Err(PacketError::TooLong { bytes: bytes.len() });
    }
    if bytes.len() < 2 {
        return Err(PacketError::TooShort { bytes: bytes.len() });
    }
    if bytes[0] != PACKET_MAGIC {
        return Err(PacketError::BadMagic { value: bytes[0] });
    }
    let version = bytes[1] >> 4;
    if version != PROTOCOL_VERSION {
        return Err(PacketError::BadVersion { version });
    }
    PacketType::from_u8(bytes[1] & 0x0f).ok_or(PacketError::BadType { value: bytes[1] & 0x0f })
}

pub fn version_and_type_byte(packet_type: PacketType) -> u8 {
    (PROTOCOL_VERSION << 4) | packet_type as u8
}

/// Parses the clear header of a sealed packet (any type but `ConnectionRequest`).
pub fn read_sealed_header(bytes: &[u8]) -> Result<SealedHeader, PacketError> {
    let packet_type = read_packet_type(bytes)?;
    if packet_type == PacketType::ConnectionRequest {
        return Err(PacketError::Unexpected { packet_type });
    }
    if bytes.len() < SEALED_HEADER_BYTES + AEAD_TAG_BYTES {
        return Err(PacketError::TooShort { bytes: bytes.len() });
    }
    Ok(SealedHeader {
        packet_type,
        session_id: u64::from_le_bytes(bytes[2..10].try_into().expect("8 bytes")),
        sequence: u64::from_le_bytes(bytes[10..18].try_into().expect("8 bytes")),
        edge_tag: u64::from_le_bytes(bytes[18..26].try_into().expect("8 bytes")),
    })
}

/// SipHash-2-4 keyed with the session's edge key (two little-endian u64 halves) over the first
/// `EDGE_TAG_COVERED_BYTES` header bytes.
pub fn edge_tag(edge_key: &[u8; EDGE_KEY_BYTES], covered: &[u8]) -> u64 {
    debug_assert_eq!(covered.len(), EDGE_TAG_COVERED_BYTES);
    let key0 = u64::from_le_bytes(edge_key[0..8].try_into().expect("8 bytes"));
    let key1 = u64::from_le_bytes(edge_key[8..16].try_into().expect("8 bytes"));
    let mut hasher = SipHasher24::new_with_keys(key0, key1);
    hasher.write(covered);
    hasher.finish()
}

/// Checks a sealed packet's edge tag: what the XDP program does, without decrypting.
pub fn verify_edge_tag(edge_key: &[u8; EDGE_KEY_BYTES], bytes: &[u8]) -> Result<SealedHeader, PacketError> {
    let header = read_sealed_header(bytes)?;
    if edge_tag(edge_key, &bytes[..EDGE_TAG_COVERED_BYTES]) != header.edge_tag {
        return Err(PacketError::BadEdgeTag);
    }
    Ok(header)
}

fn aead_nonce(sequence: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&sequence.to_le_bytes());
    Nonce::from(nonce)
}

/// Writes a sealed packet into `out` (cleared first): header, ciphertext of `plaintext`, tag.
pub fn seal_packet(
    packet_type: PacketType,
    session_id: u64,
    sequence: u64,
    edge_key: &[u8; EDGE_KEY_BYTES],
    aead_key: &[u8; AEAD_KEY_BYTES],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    assert!(packet_type != PacketType::ConnectionRequest);
    assert!(plaintext.len() <= SEALED_PLAINTEXT_BYTES_MAX);
    out.clear();
    out.push(PACKET_MAGIC);
    out.push(version_and_type_byte(packet_type));
    out.extend_from_slice(&session_id.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    let tag = edge_tag(edge_key, &out[..EDGE_TAG_COVERED_BYTES]);
    out.extend_from_slice(&tag.to_le_bytes());
    debug_assert_eq!(out.len(), SEALED_HEADER_BYTES);
    out.extend_from_slice(plaintext);
    let cipher = ChaCha20Poly1305::new(&Key::from(*aead_key));
    let (header, body) = out.split_at_mut(SEALED_HEADER_BYTES);
    let aead_tag = cipher
        .encrypt_inout_detached(&aead_nonce(sequence), header, body.into())
        .expect("plaintext within ChaCha20-Poly1305 limits");
    out.extend_from_slice(aead_tag.as_slice());
    debug_assert!(out.len() <= DATAGRAM_BYTES_MAX);
}

/// Opens a sealed packet whose header was already read: checks the edge tag and the AEAD tag and
/// writes the plaintext into `plaintext` (cleared first). Does not check replay.
pub fn open_packet(
    bytes: &[u8],
    edge_key: &[u8; EDGE_KEY_BYTES],
    aead_key: &[u8; AEAD_KEY_BYTES],
    plaintext: &mut Vec<u8>,
) -> Result<SealedHeader, PacketError> {
    let header = verify_edge_tag(edge_key, bytes)?;
    let (aad, rest) = bytes.split_at(SEALED_HEADER_BYTES);
    let (ciphertext, aead_tag) = rest.split_at(rest.len() - AEAD_TAG_BYTES);
    plaintext.clear();
    plaintext.extend_from_slice(ciphertext);
    let tag = Tag::try_from(aead_tag).map_err(|_| PacketError::BadSeal)?;
    let cipher = ChaCha20Poly1305::new(&Key::from(*aead_key));
    cipher
        .decrypt_inout_detached(&aead_nonce(header.sequence), aad, plaintext.as_mut_slice().into(), &tag)
        .map_err(|_| PacketError::BadSeal)?;
    Ok(header)
}

/// Which of the last `REPLAY_WINDOW_PACKETS` sequence numbers were received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Newest sequence accepted plus one (0: none yet).
    newest_plus_one: u64,
    /// Bit `i` (word `i / 64`): sequence `newest - i` was received.
    received: [u64; (REPLAY_WINDOW_PACKETS / 64) as usize],
}

impl ReplayWindow {
    /// Newest sequence + 1 (0: none yet) and the received bits (word `i` bit `j`: sequence
    /// `newest - 64·i - j`), to carry a session to another server in a handoff.
    pub fn parts(&self) -> (u64, [u64; (REPLAY_WINDOW_PACKETS / 64) as usize]) {
        (self.newest_plus_one, self.received)
    }

    pub fn from_parts(newest_plus_one: u64, received: [u64; (REPLAY_WINDOW_PACKETS / 64) as usize]) -> Self {
        Self {
            newest_plus_one,
            received,
        }
    }

    /// Whether `sequence` would be accepted (checked before the AEAD open, marked after it).
    pub fn check(&self, sequence: u64) -> Result<(), PacketError> {
        if self.newest_plus_one == 0 || sequence >= self.newest_plus_one {
            return Ok(());
        }
        let age = self.newest_plus_one - 1 - sequence;
        if age >= REPLAY_WINDOW_PACKETS || self.bit(age) {
            return Err(PacketError::Replayed { sequence });
        }
        Ok(())
    }

    /// Records `sequence` as received. Call only after `check` and a successful open.
    pub fn mark(&mut self, sequence: u64) {
        debug_assert!(self.check(sequence).is_ok());
        if self.newest_plus_one == 0 || sequence >= self.newest_plus_one {
            let shift = if self.newest_plus_one == 0 {
                REPLAY_WINDOW_PACKETS
            } else {
                sequence + 1 - self.newest_plus_one
            };
            self.shift(shift);
            self.newest_plus_one = sequence + 1;
            self.set_bit(0);
        } else {
            self.set_bit(self.newest_plus_one - 1 - sequence);
        }
    }

    /// A window that has seen every sequence up to and including `sequence`: only later ones pass.
    /// A server resuming a session after a failover starts here from the record's hint, so nothing
    /// the old server may have accepted is accepted again.
    pub fn through(sequence: u64) -> ReplayWindow {
        ReplayWindow {
            newest_plus_one: sequence.saturating_add(1),
            received: [u64::MAX; (REPLAY_WINDOW_PACKETS / 64) as usize],
        }
    }

    /// The ack header for this window: newest sequence plus one (0: none yet) and a bitfield whose bit
    /// `i` says sequence `newest - 1 - i` was received.
    pub fn ack_state(&self) -> (u64, u32) {
        (self.newest_plus_one, (self.received[0] >> 1) as u32)
    }

    fn bit(&self, age: u64) -> bool {
        self.received[(age / 64) as usize] >> (age % 64) & 1 == 1
    }

    fn set_bit(&mut self, age: u64) {
        self.received[(age / 64) as usize] |= 1 << (age % 64);
    }

    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW_PACKETS {
            self.received = Default::default();
            return;
        }
        for _ in 0..by {
            // Shifts by one bit across words; `by` is below the window size, a few hundred at most.
            let mut carry = 0;
            for word in self.received.iter_mut() {
                let next_carry = *word >> 63;
                *word = (*word << 1) | carry;
                carry = next_carry;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDGE_KEY: [u8; EDGE_KEY_BYTES] = [7; EDGE_KEY_BYTES];
    const AEAD_KEY: [u8; AEAD_KEY_BYTES] = [9; AEAD_KEY_BYTES];

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let mut packet = Vec::new();
        seal_packet(
            PacketType::Payload,
            0x1122_3344_5566_7788,
            42,
            &EDGE_KEY,
            &AEAD_KEY,
            b"hello",
            &mut packet,
        );
        assert_eq!(packet.len(), SEALED_HEADER_BYTES + 5 + AEAD_TAG_BYTES);
        let mut plaintext = Vec::new();
        let header = open_packet(&packet, &EDGE_KEY, &AEAD_KEY, &mut plaintext).unwrap();
        assert_eq!(header.session_id, 0x1122_3344_5566_7788);
        assert_eq!(header.sequence, 42);
        assert_eq!(plaintext, b"hello");
        // Any flipped bit is caught: in the covered header by the edge tag, elsewhere by the AEAD.
        for index in 0..packet.len() {
            let mut tampered = packet.clone();
            tampered[index] ^= 0x01;
            let result = open_packet(&tampered, &EDGE_KEY, &AEAD_KEY, &mut plaintext);
            assert!(result.is_err(), "flip at byte {index} went unnoticed");
        }
        let mut tampered = packet.clone();
        tampered[12] ^= 1; // sequence: edge tag catches it without decrypting
        assert_eq!(verify_edge_tag(&EDGE_KEY, &tampered), Err(PacketError::BadEdgeTag));
        assert_eq!(
            open_packet(&packet, &[8; EDGE_KEY_BYTES], &AEAD_KEY, &mut plaintext),
            Err(PacketError::BadEdgeTag)
        );
        assert_eq!(
            open_packet(&packet, &EDGE_KEY, &[1; AEAD_KEY_BYTES], &mut plaintext),
            Err(PacketError::BadSeal)
        );
    }

    /// One value of every variant, nested ones included. The match below has no wildcard, so a new
    /// variant does not compile until it is listed here (and so gets its label checked).
    fn every_packet_error() -> Vec<PacketError> {
        use crate::connection::FrameError;
        use crate::token::TokenError;
        let errors = vec![
            PacketError::TooShort { bytes: 1 },
            PacketError::TooLong { bytes: 1201 },
            PacketError::BadMagic { value: 0 },
            PacketError::BadVersion { version: 2 },
            PacketError::BadType { value: 9 },
            PacketError::BadRequestSize { bytes: 3 },
            PacketError::BadEdgeTag,
            PacketError::BadSeal,
            PacketError::Replayed { sequence: 4 },
            PacketError::Token(TokenError::BadLength { bytes: 1, expected: 2 }),
            PacketError::Token(TokenError::BadSeal),
            PacketError::Token(TokenError::Expired { expires_at_s: 5 }),
            PacketError::Token(TokenError::ExpiryTooFar { expires_at_s: 5 }),
            PacketError::Token(TokenError::BadAddressCount { count: 0 }),
            PacketError::Token(TokenError::BadAddressFamily { family: 5 }),
            PacketError::Token(TokenError::PaddingNotZero),
            PacketError::Token(TokenError::WrongServer),
            PacketError::UnknownSession { session_id: 6 },
            PacketError::AddressMismatch { session_id: 6 },
            PacketError::Unexpected {
                packet_type: PacketType::Challenge,
            },
            PacketError::BadChallenge,
            PacketError::ServerFull { connections: 7 },
            PacketError::Payload(FrameError::Truncated { offset: 8 }),
            PacketError::Payload(FrameError::UnknownFrame { value: 9, offset: 8 }),
            PacketError::Payload(FrameError::BadFragment { index: 1, count: 1 }),
            PacketError::Payload(FrameError::TooManyFrames),
        ];
        for error in &errors {
            match error {
                PacketError::TooShort { .. }
                | PacketError::TooLong { .. }
                | PacketError::BadMagic { .. }
                | PacketError::BadVersion { .. }
                | PacketError::BadType { .. }
                | PacketError::BadRequestSize { .. }
                | PacketError::BadEdgeTag
                | PacketError::BadSeal
                | PacketError::Replayed { .. }
                | PacketError::UnknownSession { .. }
                | PacketError::AddressMismatch { .. }
                | PacketError::Unexpected { .. }
                | PacketError::BadChallenge
                | PacketError::ServerFull { .. } => {}
                PacketError::Token(
                    TokenError::BadLength { .. }
                    | TokenError::BadSeal
                    | TokenError::Expired { .. }
                    | TokenError::ExpiryTooFar { .. }
                    | TokenError::BadAddressCount { .. }
                    | TokenError::BadAddressFamily { .. }
                    | TokenError::PaddingNotZero
                    | TokenError::WrongServer,
                ) => {}
                PacketError::Payload(
                    FrameError::Truncated { .. }
                    | FrameError::UnknownFrame { .. }
                    | FrameError::BadFragment { .. }
                    | FrameError::TooManyFrames,
                ) => {}
            }
        }
        errors
    }

    #[test]
    fn every_drop_reason_has_a_unique_registered_snake_case_label() {
        let errors = every_packet_error();
        let labels: Vec<&str> = errors.iter().map(PacketError::label).collect();
        let unique: std::collections::BTreeSet<&str> = labels.iter().copied().collect();
        assert_eq!(unique.len(), labels.len(), "two variants share a label: {labels:?}");
        let registered: std::collections::BTreeSet<&str> = PACKET_ERROR_LABELS.iter().copied().collect();
        assert_eq!(
            registered.len(),
            PACKET_ERROR_LABELS.len(),
            "PACKET_ERROR_LABELS lists a label twice"
        );
        assert_eq!(
            unique, registered,
            "PACKET_ERROR_LABELS and the variants' labels differ"
        );
        for label in PACKET_ERROR_LABELS {
            let snake = !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_lowercase())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !label.contains("__")
                && !label.ends_with('_');
            assert!(snake, "label {label:?} is not snake_case");
        }
        // The documented table lists every label (PROTOCOL.md, "Drop reasons").
        let spec = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"));
        for label in PACKET_ERROR_LABELS {
            assert!(
                spec.contains(&format!("`{label}`")),
                "PROTOCOL.md does not document `{label}`"
            );
        }
    }

    #[test]
    fn disconnect_reasons_round_trip_and_unknown_codes_are_unspecified() {
        for code in 0..=7u8 {
            assert_eq!(DisconnectReason::from_u8(code) as u8, code);
        }
        assert_eq!(DisconnectReason::from_u8(8), DisconnectReason::Unspecified);
        assert_eq!(DisconnectReason::from_u8(255), DisconnectReason::Unspecified);
        assert_eq!(DisconnectReason::from_plaintext(&[]), DisconnectReason::Unspecified);
        assert_eq!(
            DisconnectReason::from_plaintext(&[5, 99]),
            DisconnectReason::ShuttingDown
        );
    }

    /// PROTOCOL.md, "Disconnect packet".
    #[test]
    fn disconnect_packet_test_vector() {
        let mut packet = Vec::new();
        seal_packet(
            PacketType::Disconnect,
            0x0123_4567_89ab_cdef,
            9,
            &[0x33; EDGE_KEY_BYTES],
            &[0x22; AEAD_KEY_BYTES],
            &[DisconnectReason::ShuttingDown as u8],
            &mut packet,
        );
        let hex: String = packet.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, DISCONNECT_PACKET_VECTOR_HEX);
        assert!(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md")).contains(DISCONNECT_PACKET_VECTOR_HEX),
            "PROTOCOL.md quotes the Disconnect packet"
        );
        let mut plaintext = Vec::new();
        open_packet(
            &packet,
            &[0x33; EDGE_KEY_BYTES],
            &[0x22; AEAD_KEY_BYTES],
            &mut plaintext,
        )
        .unwrap();
        assert_eq!(
            DisconnectReason::from_plaintext(&plaintext),
            DisconnectReason::ShuttingDown
        );
    }
    const DISCONNECT_PACKET_VECTOR_HEX: &str =
        "4d14efcdab89674523010900000000000000b3d4e88c5a4e5f0e4535bfc0db921e182251599ddaf14e517d";

    /// Test vector quoted in PROTOCOL.md ("Sealed packet").
    #[test]
    fn sealed_packet_test_vector() {
        let mut packet = Vec::new();
        seal_packet(PacketType::Payload, 1, 2, &EDGE_KEY, &AEAD_KEY, &[0xAA], &mut packet);
        let hex: String = packet.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, SEALED_PACKET_VECTOR_HEX);
    }
    const SEALED_PACKET_VECTOR_HEX: &str =
        "4d1301000000000000000200000000000000f6aedc0c0a4818beb02108cd7e68c2301a4a8b7e815c4ef988";

    #[test]
    fn header_checks_are_total() {
        assert_eq!(read_packet_type(&[]), Err(PacketError::TooShort { bytes: 0 }));
        assert_eq!(read_packet_type(&[0, 0x13]), Err(PacketError::BadMagic { value: 0 }));
        assert_eq!(
            read_packet_type(&[PACKET_MAGIC, 0x23]),
            Err(PacketError::BadVersion { version: 2 })
        );
        assert_eq!(
            read_packet_type(&[PACKET_MAGIC, 0x1f]),
            Err(PacketError::BadType { value: 15 })
        );
        assert_eq!(read_packet_type(&[PACKET_MAGIC, 0x13]), Ok(PacketType::Payload));
        assert_eq!(
            read_sealed_header(&[PACKET_MAGIC, 0x13, 0, 0]),
            Err(PacketError::TooShort { bytes: 4 })
        );
        assert!(matches!(
            read_packet_type(&vec![0; DATAGRAM_BYTES_MAX + 1]),
            Err(PacketError::TooLong { .. })
        ));
    }

    #[test]
    fn replay_window_accepts_each_sequence_once() {
        let mut window = ReplayWindow::default();
        for sequence in [5u64, 3, 4, 10, 9, 300, 299, 45, 1000] {
            assert_eq!(window.check(sequence), Ok(()), "first {sequence}");
            window.mark(sequence);
            assert_eq!(window.check(sequence), Err(PacketError::Replayed { sequence }));
        }
        // 1000 - 256 = 744 is the oldest still tracked.
        assert!(window.check(744).is_err());
        assert!(window.check(745).is_ok());
        assert!(window.check(1001).is_ok());
        assert!(window.check(10).is_err());
    }
}
