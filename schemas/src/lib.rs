//! `meridian-proto` owns Meridian's wire: the packet header, connect tokens, AEAD sealing, the replay
//! window, acks and the reliable channel, clock sync, the bit-packed snapshot codec, and the
//! flatbuffers control messages (handoff tickets, zone checkpoints, node heartbeats). It is a sans-IO
//! crate in the manner of quinn-proto: callers feed it bytes and a time value and get back events and
//! bytes to send, so it never touches a socket, a thread or a clock. Every decoder in it is total:
//! any byte string gives `Ok` or a typed error. The byte-level specification lives in
//! `schemas/PROTOCOL.md`.
//!
//! Map: [`packet`] (header, AEAD, edge tag, replay window, drop labels, disconnect reasons) ·
//! [`token`] (connect tokens) · [`endpoint`] (handshake, server and client state machines, timers) ·
//! [`connection`] (acks, RTT/loss, pings, reliable and unreliable channels, fragmentation, frame
//! codec) · [`clock`] (clock sync) · [`messages`] (inputs, actions, chat) · [`snapshot`] (delta
//! snapshot codec, on [`bits`]) · [`control`] (flatbuffers).
#![forbid(unsafe_code)]

pub mod bits;
pub mod clock;
pub mod connection;
pub mod control;
pub mod endpoint;
pub mod messages;
pub mod packet;
pub mod snapshot;
pub mod token;

#[doc(hidden)]
pub mod fuzz_targets;

/// Largest UDP payload Meridian sends or accepts (fits a 1280-byte IPv6 minimum MTU with headroom).
pub const DATAGRAM_BYTES_MAX: usize = 1200;

/// Helpers for the spec test vectors (hex as PROTOCOL.md quotes it).
#[cfg(test)]
pub(crate) mod test_vectors {
    /// Bytes as lowercase hex, 32 bytes a line.
    pub(crate) fn hex_lines(bytes: &[u8]) -> String {
        bytes
            .chunks(32)
            .map(|line| line.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
