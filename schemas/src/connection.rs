//! One established session: sequence numbers, acks, RTT and loss estimates, the unreliable channel,
//! the reliable ordered channel with fragmentation, and clock-sync pings. Both ends use it; the
//! endpoints (`endpoint.rs`) own the handshake and hand packets to it.
//!
//! Plaintext of a `Payload` packet: `ack_newest_plus_one: u64`, `ack_bits: u32`, then frames (see
//! `PROTOCOL.md`, "Payload frames"). Every queue here is bounded; what overflows is refused with a
//! typed error at the sender, or dropped (and resent) at the receiver.

use std::collections::VecDeque;

use thiserror::Error;

use crate::clock::{ClockSync, clock_sample};
use crate::packet::{
    AEAD_KEY_BYTES, DisconnectReason, EDGE_KEY_BYTES, PacketError, PacketType, ReplayWindow,
    SEALED_PLAINTEXT_BYTES_MAX, open_packet, seal_packet,
};

/// Sent packets remembered for acks and RTT.
pub const SENT_PACKETS_TRACKED: usize = 256;
/// Earlier packets acked by the bitfield after the newest one.
pub const ACK_BITS: u64 = 32;
pub const ACK_HEADER_BYTES: usize = 8 + 4;
pub const UNRELIABLE_QUEUE_MAX: usize = 64;
/// Largest unreliable message: one per packet, with the ack header and frame header.
pub const UNRELIABLE_MESSAGE_BYTES_MAX: usize = SEALED_PLAINTEXT_BYTES_MAX - ACK_HEADER_BYTES - 3;
pub const RELIABLE_QUEUE_MAX: usize = 256;
/// Messages in flight at once (ids `oldest_unacked..oldest_unacked + window`).
pub const RELIABLE_WINDOW_MESSAGES: u16 = 64;
pub const RELIABLE_MESSAGE_BYTES_MAX: usize = 16 * 1024;
pub const FRAGMENT_BYTES_MAX: usize = 1024;
pub const FRAGMENTS_PER_MESSAGE_MAX: usize = RELIABLE_MESSAGE_BYTES_MAX.div_ceil(FRAGMENT_BYTES_MAX);
/// Reassembly memory per connection. Room for one whole message is always kept for the message the
/// receiver waits for, so later messages can never starve it.
pub const RELIABLE_RECEIVE_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// A reliable message not fully acknowledged this long after it was first sent closes the connection:
/// the channel never blocks forever.
pub const RELIABLE_DELIVERY_TIMEOUT_US: u64 = 10_000_000;
pub const RESEND_DELAY_MIN_US: u64 = 30_000;
pub const KEEPALIVE_INTERVAL_US: u64 = 100_000;
/// An ack owed for a packet of unreliable frames only (inputs, snapshots) rides on the next packet
/// this end sends anyway and goes alone only once it has waited this long. Both ends of a game
/// session send every tick (50 ms at 20 Hz), so in steady state no packet is sent just to ack:
/// without the delay every received input or snapshot drew an ack-only packet back, doubling the
/// datagram rate both ways. Packets with reliable fragments or a client's clock ping are acked at
/// once (their sender's resend timer and clock sample depend on it). The reliable channel's RTT
/// estimate can therefore include up to this delay when it samples an unreliable packet's ack (it
/// only makes resends later); the ping RTT (`Connection::rtt_us`) does not, because a pong says how
/// long its ping was held.
pub const ACK_DELAY_MAX_US: u64 = 60_000;
/// A session that received no valid packet from its peer for this long is over
/// (`CloseReason::TimedOut`). Both ends send at least every `KEEPALIVE_INTERVAL_US`.
pub const CONNECTION_TIMEOUT_US: u64 = 5_000_000;
/// How often the client pings for clock sync; the server answers at once.
pub const CLOCK_PING_INTERVAL_US: u64 = 1_000_000;
/// How often the server pings each client to measure its round trip (lag compensation rewinds by
/// it). The ping rides on a packet the server sends anyway, so it costs 9 bytes, not a datagram;
/// the client answers in its next packet (it sends inputs every tick) and the pong says how long
/// the ping waited there, which is subtracted from the sample.
pub const SERVER_PING_INTERVAL_US: u64 = 250_000;
/// Pings remembered until answered: a pong counts only if it echoes the send time of one of them,
/// so a peer cannot make up samples (four client pings cover a 4 s round trip, four server pings 1 s).
pub const PINGS_OUTSTANDING_MAX: usize = 4;
/// Received messages waiting for the application.
pub const RECEIVED_MESSAGES_MAX: usize = 512;
pub const FRAMES_PER_PACKET_MAX: usize = 64;

const _: () = assert!(FRAGMENTS_PER_MESSAGE_MAX <= 32); // acked fragments fit a u32 mask
const _: () = assert!(ACK_DELAY_MAX_US < KEEPALIVE_INTERVAL_US);
// A server ping waits for a packet sent anyway; the keep-alive guarantees one in time.
const _: () = assert!(KEEPALIVE_INTERVAL_US < SERVER_PING_INTERVAL_US);
const _: () = assert!(RELIABLE_RECEIVE_BUFFER_BYTES_MAX >= 2 * RELIABLE_MESSAGE_BYTES_MAX);
const _: () = assert!((RELIABLE_WINDOW_MESSAGES as usize) < SENT_PACKETS_TRACKED);

const FRAME_UNRELIABLE: u8 = 0x01;
const FRAME_FRAGMENT: u8 = 0x02;
const FRAME_PING: u8 = 0x03;
const FRAME_PONG: u8 = 0x04;
const FRAGMENT_FRAME_HEADER_BYTES: usize = 1 + 2 + 1 + 1 + 2;
const UNRELIABLE_FRAME_HEADER_BYTES: usize = 1 + 2;
const PING_FRAME_BYTES: usize = 1 + 8;
const PONG_FRAME_BYTES: usize = 1 + 3 * 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum FrameError {
    #[error("payload truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown frame type {value:#04x} at byte {offset}")]
    UnknownFrame { value: u8, offset: usize },
    #[error("fragment {index} of {count} is invalid")]
    BadFragment { index: u8, count: u8 },
    #[error("more than {FRAMES_PER_PACKET_MAX} frames in one packet")]
    TooManyFrames,
}

impl FrameError {
    /// Stable metrics label (see `PacketError::label`).
    pub fn label(&self) -> &'static str {
        match self {
            FrameError::Truncated { .. } => "frame_truncated",
            FrameError::UnknownFrame { .. } => "frame_unknown_type",
            FrameError::BadFragment { .. } => "frame_bad_fragment",
            FrameError::TooManyFrames => "frame_too_many",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum SendError {
    #[error("message of {bytes} bytes exceeds the channel's limit")]
    MessageTooLarge { bytes: usize },
    #[error("send queue is full")]
    QueueFull,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// A reliable message was not acknowledged within `RELIABLE_DELIVERY_TIMEOUT_US`.
    ReliableTimeout,
    /// Nothing valid arrived for `CONNECTION_TIMEOUT_US`.
    TimedOut,
    /// The peer sent a `Disconnect` with this reason.
    PeerDisconnected(DisconnectReason),
    /// This end sent a `Disconnect` with this reason.
    LocalDisconnect(DisconnectReason),
}

/// One decoded frame, borrowing the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Unreliable(&'a [u8]),
    Fragment {
        message_id: u16,
        index: u8,
        count: u8,
        bytes: &'a [u8],
    },
    /// A round-trip probe: the sender's clock when it sent the ping.
    Ping { sent_us: u64 },
    /// The answer to a ping: the ping's `sent_us` echoed, and the answering side's clock when the
    /// ping arrived and when the pong left (their difference is how long the ping was held).
    Pong {
        ping_sent_us: u64,
        ping_received_us: u64,
        pong_sent_us: u64,
    },
}

/// A decoded payload: the ack header and up to `FRAMES_PER_PACKET_MAX` frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub ack_newest_plus_one: u64,
    pub ack_bits: u32,
    pub frames: Vec<Frame<'a>>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], FrameError> {
        let end = self.offset.checked_add(count).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(FrameError::Truncated { offset: self.offset })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

/// Total decoder of a payload's plaintext.
pub fn decode_payload(bytes: &[u8]) -> Result<Payload<'_>, FrameError> {
    let mut cursor = Cursor { bytes, offset: 0 };
    let ack_newest_plus_one = cursor.u64()?;
    let ack_bits = cursor.u32()?;
    let mut frames = Vec::new();
    while cursor.offset < bytes.len() {
        if frames.len() == FRAMES_PER_PACKET_MAX {
            return Err(FrameError::TooManyFrames);
        }
        let offset = cursor.offset;
        let frame = match cursor.u8()? {
            FRAME_UNRELIABLE => {
                let length = cursor.u16()?;
                Frame::Unreliable(cursor.take(usize::from(length))?)
            }
            FRAME_FRAGMENT => {
                let message_id = cursor.u16()?;
                let index = cursor.u8()?;
                let count = cursor.u8()?;
                let length = usize::from(cursor.u16()?);
                if count == 0
                    || index >= count
                    || usize::from(count) > FRAGMENTS_PER_MESSAGE_MAX
                    || length > FRAGMENT_BYTES_MAX
                {
                    return Err(FrameError::BadFragment { index, count });
                }
                Frame::Fragment {
                    message_id,
                    index,
                    count,
                    bytes: cursor.take(length)?,
                }
            }
            FRAME_PING => Frame::Ping { sent_us: cursor.u64()? },
            FRAME_PONG => Frame::Pong {
                ping_sent_us: cursor.u64()?,
                ping_received_us: cursor.u64()?,
                pong_sent_us: cursor.u64()?,
            },
            value => return Err(FrameError::UnknownFrame { value, offset }),
        };
        frames.push(frame);
    }
    Ok(Payload {
        ack_newest_plus_one,
        ack_bits,
        frames,
    })
}

impl Frame<'_> {
    /// Appends this frame's bytes (the layout `decode_payload` reads).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Frame::Unreliable(bytes) => {
                out.push(FRAME_UNRELIABLE);
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Frame::Fragment {
                message_id,
                index,
                count,
                bytes,
            } => {
                out.push(FRAME_FRAGMENT);
                out.extend_from_slice(&message_id.to_le_bytes());
                out.push(index);
                out.push(count);
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Frame::Ping { sent_us } => {
                out.push(FRAME_PING);
                out.extend_from_slice(&sent_us.to_le_bytes());
            }
            Frame::Pong {
                ping_sent_us,
                ping_received_us,
                pong_sent_us,
            } => {
                out.push(FRAME_PONG);
                out.extend_from_slice(&ping_sent_us.to_le_bytes());
                out.extend_from_slice(&ping_received_us.to_le_bytes());
                out.extend_from_slice(&pong_sent_us.to_le_bytes());
            }
        }
    }
}

impl Payload<'_> {
    /// Appends the ack header and the frames: the plaintext of a `Payload` packet.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ack_newest_plus_one.to_le_bytes());
        out.extend_from_slice(&self.ack_bits.to_le_bytes());
        for frame in &self.frames {
            frame.encode(out);
        }
    }
}

#[derive(Clone, Debug, Default)]
struct SentPacket {
    sequence: u64,
    sent_us: u64,
    acked: bool,
    /// (message id, fragment index) carried.
    fragments: Vec<(u16, u8)>,
}

struct OutgoingMessage {
    id: u16,
    bytes: Vec<u8>,
    fragment_count: u8,
    acked_mask: u32,
    /// Last send time per fragment (None: never sent).
    fragment_sent_us: [Option<u64>; FRAGMENTS_PER_MESSAGE_MAX],
    first_sent_us: Option<u64>,
}

impl OutgoingMessage {
    fn fragment(&self, index: u8) -> &[u8] {
        let start = usize::from(index) * FRAGMENT_BYTES_MAX;
        let end = (start + FRAGMENT_BYTES_MAX).min(self.bytes.len());
        &self.bytes[start..end]
    }
    fn fully_acked(&self) -> bool {
        self.acked_mask.count_ones() == u32::from(self.fragment_count)
    }
}

struct IncomingMessage {
    id: u16,
    count: u8,
    fragments: [Option<Vec<u8>>; FRAGMENTS_PER_MESSAGE_MAX],
    bytes: usize,
}

/// Something the application takes from a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Unreliable(Vec<u8>),
    Reliable(Vec<u8>),
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ConnectionStats {
    /// Round trip from acks (RFC 6298 smoothing). Paces reliable resends; may include up to
    /// `ACK_DELAY_MAX_US` of the peer's ack delay.
    pub rtt_smoothed_us: Option<u64>,
    pub rtt_variance_us: u64,
    /// Round trip from this end's pings, the peer's hold time subtracted, smoothed the same way:
    /// what `Connection::rtt_us` returns.
    pub ping_rtt_us: Option<u64>,
    pub ping_rtt_variance_us: u64,
    /// Pongs that echoed no outstanding ping or had inconsistent times (not sampled).
    pub pongs_ignored: u64,
    /// Fraction of packets not acked within the ack window, smoothed.
    pub packet_loss: f32,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub received_messages_dropped: u64,
    pub fragments_dropped: u64,
}

/// RFC 6298 smoothing: the first sample sets `srtt = R`, `rttvar = R/2`; then
/// `rttvar = 3/4 rttvar + 1/4 |srtt − R|`, `srtt = 7/8 srtt + 1/8 R`.
fn smooth_rtt(smoothed_us: &mut Option<u64>, variance_us: &mut u64, sample_us: u64) {
    match *smoothed_us {
        None => {
            *smoothed_us = Some(sample_us);
            *variance_us = sample_us / 2;
        }
        Some(smoothed) => {
            *variance_us = (3 * *variance_us + smoothed.abs_diff(sample_us)) / 4;
            *smoothed_us = Some((7 * smoothed + sample_us) / 8);
        }
    }
}

/// Which side of the session this end is (decides the keys and how pings are sent and answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

pub struct Connection {
    pub session_id: u64,
    side: Side,
    send_key: [u8; AEAD_KEY_BYTES],
    receive_key: [u8; AEAD_KEY_BYTES],
    edge_key: [u8; EDGE_KEY_BYTES],
    next_sequence: u64,
    sent: Vec<SentPacket>,
    loss_checked_through: u64,
    /// Packets below this are acked or given up on; reliable fragments go only in packets less than
    /// `ACK_BITS` beyond it, so every packet carrying them can still be acked by the bitfield.
    acked_floor: u64,
    received: ReplayWindow,
    /// Packets acked to the peer: received, and every fragment in them stored. A packet whose
    /// fragment had no room is not acked, so its fragments are resent (never acked and lost).
    acked: ReplayWindow,
    /// When the ack owed for received packets must go out even alone (`None`: nothing owed).
    ack_due_us: Option<u64>,
    unreliable_queue: VecDeque<Vec<u8>>,
    reliable_queue: VecDeque<OutgoingMessage>,
    next_message_id: u16,
    next_expected_id: u16,
    reassembly: Vec<IncomingMessage>,
    reassembly_bytes: usize,
    received_messages: VecDeque<Received>,
    /// (ping's `sent_us`, when it arrived): answered in the next packet.
    pong_owed: Option<(u64, u64)>,
    /// Send times of this end's unanswered pings (a ring; the oldest is overwritten).
    pings_outstanding: [Option<u64>; PINGS_OUTSTANDING_MAX],
    next_ping_slot: usize,
    clock: ClockSync,
    next_ping_us: u64,
    last_sent_us: u64,
    last_received_us: u64,
    closed: Option<CloseReason>,
    stats: ConnectionStats,
    plaintext: Vec<u8>,
}

impl Connection {
    /// `send_sequence_start`: the first sequence this end seals with (the handshake used the ones
    /// before it under the same key).
    #[allow(clippy::too_many_arguments)] // each is a distinct handshake outcome; a struct would only rename them
    pub fn new(
        side: Side,
        session_id: u64,
        send_key: [u8; AEAD_KEY_BYTES],
        receive_key: [u8; AEAD_KEY_BYTES],
        edge_key: [u8; EDGE_KEY_BYTES],
        send_sequence_start: u64,
        received: ReplayWindow,
        now_us: u64,
    ) -> Self {
        Connection {
            session_id,
            side,
            send_key,
            receive_key,
            edge_key,
            next_sequence: send_sequence_start,
            sent: vec![SentPacket::default(); SENT_PACKETS_TRACKED],
            loss_checked_through: send_sequence_start,
            acked_floor: send_sequence_start,
            acked: received.clone(),
            received,
            // Due at once: the handshake's welcome packet is this ack.
            ack_due_us: Some(0),
            unreliable_queue: VecDeque::new(),
            reliable_queue: VecDeque::new(),
            next_message_id: 0,
            next_expected_id: 0,
            reassembly: Vec::new(),
            reassembly_bytes: 0,
            received_messages: VecDeque::new(),
            pong_owed: None,
            pings_outstanding: [None; PINGS_OUTSTANDING_MAX],
            next_ping_slot: 0,
            clock: ClockSync::default(),
            next_ping_us: match side {
                Side::Client => now_us,
                // Not in the welcome packet, which must stay smaller than the Response that caused
                // it (no amplification): the first packet after it carries the first ping.
                Side::Server => now_us.saturating_add(1),
            },
            last_sent_us: now_us,
            last_received_us: now_us,
            closed: None,
            stats: ConnectionStats::default(),
            plaintext: Vec::new(),
        }
    }

    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// Clock sync samples (client side: from its pings; the server's stays empty).
    pub fn clock(&self) -> &ClockSync {
        &self.clock
    }

    /// Smoothed round trip from this end's pings with the peer's hold time subtracted (server side:
    /// the server's pings, every `SERVER_PING_INTERVAL_US`; client side: its clock-sync pings).
    /// `None` until the first pong.
    pub fn rtt_us(&self) -> Option<u64> {
        self.stats.ping_rtt_us
    }

    pub fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    pub fn close(&mut self, reason: CloseReason) {
        if self.closed.is_none() {
            self.closed = Some(reason);
        }
    }

    pub fn last_received_us(&self) -> u64 {
        self.last_received_us
    }

    /// Queues an unreliable message for the next packet (snapshots, inputs).
    pub fn send_unreliable(&mut self, message: &[u8]) -> Result<(), SendError> {
        if message.len() > UNRELIABLE_MESSAGE_BYTES_MAX {
            return Err(SendError::MessageTooLarge { bytes: message.len() });
        }
        if self.unreliable_queue.len() >= UNRELIABLE_QUEUE_MAX {
            return Err(SendError::QueueFull);
        }
        self.unreliable_queue.push_back(message.to_vec());
        Ok(())
    }

    /// Queues a reliable ordered message (events, actions, chat), fragmented if needed.
    pub fn send_reliable(&mut self, message: &[u8]) -> Result<(), SendError> {
        if message.is_empty() || message.len() > RELIABLE_MESSAGE_BYTES_MAX {
            return Err(SendError::MessageTooLarge { bytes: message.len() });
        }
        if self.reliable_queue.len() >= RELIABLE_QUEUE_MAX {
            return Err(SendError::QueueFull);
        }
        let fragment_count = message.len().div_ceil(FRAGMENT_BYTES_MAX) as u8;
        self.reliable_queue.push_back(OutgoingMessage {
            id: self.next_message_id,
            bytes: message.to_vec(),
            fragment_count,
            acked_mask: 0,
            fragment_sent_us: [None; FRAGMENTS_PER_MESSAGE_MAX],
            first_sent_us: None,
        });
        self.next_message_id = self.next_message_id.wrapping_add(1);
        Ok(())
    }

    /// The next received message, in order for the reliable channel.
    pub fn poll_received(&mut self) -> Option<Received> {
        self.received_messages.pop_front()
    }

    fn resend_delay_us(&self) -> u64 {
        match self.stats.rtt_smoothed_us {
            Some(rtt) => (rtt + 4 * self.stats.rtt_variance_us).max(RESEND_DELAY_MIN_US),
            None => 4 * RESEND_DELAY_MIN_US,
        }
    }

    /// Processes a sealed `Payload` packet for this session (`bytes` already matched the session id).
    pub fn receive(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), PacketError> {
        let header = crate::packet::read_sealed_header(bytes)?;
        if header.packet_type == PacketType::Disconnect {
            self.received.check(header.sequence)?;
            open_packet(bytes, &self.edge_key, &self.receive_key, &mut self.plaintext)?;
            self.received.mark(header.sequence);
            self.close(CloseReason::PeerDisconnected(DisconnectReason::from_plaintext(&self.plaintext)));
            return Ok(());
        }
        if header.packet_type != PacketType::Payload {
            return Err(PacketError::Unexpected {
                packet_type: header.packet_type,
            });
        }
        self.received.check(header.sequence)?;
        let mut plaintext = std::mem::take(&mut self.plaintext);
        let result = open_packet(bytes, &self.edge_key, &self.receive_key, &mut plaintext).and_then(|_| {
            decode_payload(&plaintext).map_err(PacketError::from).map(|payload| {
                self.received.mark(header.sequence);
                if self.apply_payload(now_us, payload) {
                    self.acked.mark(header.sequence);
                }
            })
        });
        self.plaintext = plaintext;
        result
    }

    /// Returns whether every fragment was stored (or was a duplicate), i.e. the packet may be acked.
    fn apply_payload(&mut self, now_us: u64, payload: Payload<'_>) -> bool {
        let mut all_stored = true;
        self.stats.packets_received += 1;
        self.last_received_us = now_us;
        // Only packets with frames elicit an ack; acking ack-only packets would ping-pong forever.
        // A client's ping is answered (and so acked) at once: clock sync wants the shortest round
        // trip. A server's ping waits for the client's next packet; its pong reports the wait.
        let answers_pings_at_once = self.side == Side::Server;
        let urgent = payload.frames.iter().any(|frame| match frame {
            Frame::Fragment { .. } => true,
            Frame::Ping { .. } => answers_pings_at_once,
            Frame::Unreliable(_) | Frame::Pong { .. } => false,
        });
        let due_us = if urgent { now_us } else { now_us.saturating_add(ACK_DELAY_MAX_US) };
        if !payload.frames.is_empty() {
            self.ack_due_us = Some(self.ack_due_us.map_or(due_us, |due| due.min(due_us)));
        }
        self.process_acks(now_us, payload.ack_newest_plus_one, payload.ack_bits);
        for frame in payload.frames {
            match frame {
                Frame::Unreliable(bytes) => self.deliver(Received::Unreliable(bytes.to_vec())),
                Frame::Fragment {
                    message_id,
                    index,
                    count,
                    bytes,
                } => {
                    all_stored &= self.receive_fragment(message_id, index, count, bytes);
                }
                Frame::Ping { sent_us } => self.pong_owed = Some((sent_us, now_us)),
                Frame::Pong {
                    ping_sent_us,
                    ping_received_us,
                    pong_sent_us,
                } => self.on_pong(now_us, ping_sent_us, ping_received_us, pong_sent_us),
            }
        }
        all_stored
    }

    /// One round-trip sample: `now − ping_sent − (pong_sent − ping_received)`, i.e. the time on the
    /// wire without the time the peer held the ping. The peer can only make a sample smaller than
    /// the truth by overstating the hold (never below zero), not larger.
    fn on_pong(&mut self, now_us: u64, ping_sent_us: u64, ping_received_us: u64, pong_sent_us: u64) {
        let Some(slot) = self.pings_outstanding.iter().position(|sent| *sent == Some(ping_sent_us)) else {
            self.stats.pongs_ignored += 1;
            return;
        };
        self.pings_outstanding[slot] = None;
        let Some(sample) = clock_sample(ping_sent_us, ping_received_us, pong_sent_us, now_us) else {
            self.stats.pongs_ignored += 1;
            return;
        };
        if self.side == Side::Client {
            self.clock.add(ping_sent_us, ping_received_us, pong_sent_us, now_us);
        }
        smooth_rtt(
            &mut self.stats.ping_rtt_us,
            &mut self.stats.ping_rtt_variance_us,
            sample.rtt_us as u64,
        );
    }

    fn deliver(&mut self, received: Received) {
        if self.received_messages.len() >= RECEIVED_MESSAGES_MAX {
            self.stats.received_messages_dropped += 1;
            return;
        }
        self.received_messages.push_back(received);
    }

    fn process_acks(&mut self, now_us: u64, newest_plus_one: u64, bits: u32) {
        if newest_plus_one == 0 || newest_plus_one > self.next_sequence {
            return; // nothing acked yet, or an ack for packets never sent (ignored)
        }
        let newest = newest_plus_one - 1;
        self.acked_floor = self.acked_floor.max(newest_plus_one);
        for age in 0..=ACK_BITS {
            let Some(sequence) = newest.checked_sub(age) else { break };
            if age > 0 && bits >> (age - 1) & 1 == 0 {
                continue;
            }
            self.on_packet_acked(now_us, sequence, age == 0);
        }
        // Packets that left the ack window unacked are lost.
        let window_start = newest.saturating_sub(ACK_BITS);
        let check_from = self
            .loss_checked_through
            .max(window_start.saturating_sub(SENT_PACKETS_TRACKED as u64));
        for sequence in check_from..window_start {
            let slot = &self.sent[(sequence % SENT_PACKETS_TRACKED as u64) as usize];
            if slot.sequence == sequence {
                let lost = if slot.acked { 0.0 } else { 1.0 };
                self.stats.packet_loss += (lost - self.stats.packet_loss) / 16.0;
            }
        }
        self.loss_checked_through = self.loss_checked_through.max(window_start);
    }

    fn on_packet_acked(&mut self, now_us: u64, sequence: u64, newest: bool) {
        let slot_index = (sequence % SENT_PACKETS_TRACKED as u64) as usize;
        let slot = &mut self.sent[slot_index];
        if slot.sequence != sequence || slot.acked {
            return;
        }
        slot.acked = true;
        if newest && now_us >= slot.sent_us {
            let sample = now_us - slot.sent_us;
            smooth_rtt(&mut self.stats.rtt_smoothed_us, &mut self.stats.rtt_variance_us, sample);
        }
        let fragments = std::mem::take(&mut self.sent[slot_index].fragments);
        for (message_id, index) in &fragments {
            if let Some(message) = self.reliable_queue.iter_mut().find(|message| message.id == *message_id) {
                message.acked_mask |= 1 << index;
            }
        }
        self.sent[slot_index].fragments = fragments;
        self.sent[slot_index].fragments.clear();
        while self.reliable_queue.front().is_some_and(OutgoingMessage::fully_acked) {
            self.reliable_queue.pop_front();
        }
    }

    /// Stores one fragment. Returns false only when there was no room (the packet must not be acked);
    /// duplicates, already-delivered and inconsistent fragments return true and are dropped.
    fn receive_fragment(&mut self, message_id: u16, index: u8, count: u8, bytes: &[u8]) -> bool {
        let ahead = message_id.wrapping_sub(self.next_expected_id);
        if ahead >= RELIABLE_WINDOW_MESSAGES {
            return true; // already delivered (a resend) or beyond the window
        }
        let position = self.reassembly.iter().position(|message| message.id == message_id);
        let is_head = ahead == 0;
        // Later messages may not take the room the head message needs.
        let limit = if is_head {
            RELIABLE_RECEIVE_BUFFER_BYTES_MAX
        } else {
            RELIABLE_RECEIVE_BUFFER_BYTES_MAX - RELIABLE_MESSAGE_BYTES_MAX
        };
        let duplicate = position.is_some_and(|position| {
            self.reassembly[position]
                .fragments
                .get(usize::from(index))
                .is_some_and(Option::is_some)
        });
        if duplicate {
            return true;
        }
        if self.reassembly_bytes + bytes.len() > limit {
            self.stats.fragments_dropped += 1;
            return false;
        }
        let message = match position {
            Some(position) => &mut self.reassembly[position],
            None => {
                self.reassembly.push(IncomingMessage {
                    id: message_id,
                    count,
                    fragments: Default::default(),
                    bytes: 0,
                });
                self.reassembly.last_mut().expect("just pushed")
            }
        };
        let index_usize = usize::from(index);
        let consistent = message.count == count
            && (index + 1 == count || bytes.len() == FRAGMENT_BYTES_MAX)
            && message.bytes + bytes.len() <= RELIABLE_MESSAGE_BYTES_MAX;
        if !consistent {
            self.stats.fragments_dropped += 1;
            return true;
        }
        if message.fragments[index_usize].is_none() {
            message.fragments[index_usize] = Some(bytes.to_vec());
            message.bytes += bytes.len();
            self.reassembly_bytes += bytes.len();
        }
        debug_assert!(self.reassembly_bytes <= RELIABLE_RECEIVE_BUFFER_BYTES_MAX);
        // Deliver every complete message at the head, in order.
        loop {
            let head = self.next_expected_id;
            let Some(position) = self.reassembly.iter().position(|message| message.id == head) else {
                break;
            };
            let message = &self.reassembly[position];
            if message.fragments[..usize::from(message.count)]
                .iter()
                .any(Option::is_none)
            {
                break;
            }
            let message = self.reassembly.swap_remove(position);
            self.reassembly_bytes -= message.bytes;
            let mut whole = Vec::with_capacity(message.bytes);
            for fragment in message.fragments.into_iter().flatten() {
                whole.extend_from_slice(&fragment);
            }
            self.deliver(Received::Reliable(whole));
            self.next_expected_id = self.next_expected_id.wrapping_add(1);
        }
        true
    }

    /// Whether anything is due now (a packet would be built).
    fn wants_to_send(&self, now_us: u64) -> bool {
        self.ack_due_us.is_some_and(|due| now_us >= due)
            || (self.side == Side::Server && self.pong_owed.is_some())
            || !self.unreliable_queue.is_empty()
            || (self.side == Side::Client && now_us >= self.next_ping_us)
            || now_us.saturating_sub(self.last_sent_us) >= KEEPALIVE_INTERVAL_US
            || (self.reliable_allowed() && self.next_due_fragment(now_us).is_some())
    }

    /// The earliest time `wants_to_send` becomes true if nothing else happens (at or before now:
    /// already due; `0` for work that was queued). Mirrors `wants_to_send` term by term.
    fn next_send_us(&self) -> u64 {
        let mut due = self.last_sent_us.saturating_add(KEEPALIVE_INTERVAL_US);
        if let Some(ack_due_us) = self.ack_due_us {
            due = due.min(ack_due_us);
        }
        if let (Side::Server, Some((_, received_us))) = (self.side, self.pong_owed) {
            due = due.min(received_us);
        }
        if !self.unreliable_queue.is_empty() {
            return 0;
        }
        if self.side == Side::Client {
            due = due.min(self.next_ping_us);
        }
        if self.reliable_allowed() {
            if let Some(fragment_due_us) = self.next_fragment_due_us() {
                due = due.min(fragment_due_us);
            }
        }
        due
    }

    /// When the first unacknowledged fragment in the window is (re)sendable: `0` if one was never
    /// sent. Mirrors `next_due_fragment`.
    fn next_fragment_due_us(&self) -> Option<u64> {
        let resend_delay_us = self.resend_delay_us();
        let oldest = self.reliable_queue.front()?.id;
        let mut due: Option<u64> = None;
        for message in &self.reliable_queue {
            if message.id.wrapping_sub(oldest) >= RELIABLE_WINDOW_MESSAGES {
                break;
            }
            for index in 0..message.fragment_count {
                if message.acked_mask >> index & 1 == 1 {
                    continue;
                }
                match message.fragment_sent_us[usize::from(index)] {
                    None => return Some(0),
                    Some(sent_us) => {
                        let resend_us = sent_us.saturating_add(resend_delay_us);
                        due = Some(due.map_or(resend_us, |due| due.min(resend_us)));
                    }
                }
            }
        }
        due
    }

    /// When this connection next needs `poll_packet` (a packet falls due: delayed ack, pong, queued
    /// message, ping, keep-alive, resend) or `handle_timeout` (idle or reliable-delivery timeout).
    /// A time at or before now means at once. `None` once closed. Changes only when something is
    /// queued, a packet is received or sent, or time passes one of these deadlines, so a caller
    /// re-reads it after each of those.
    pub fn next_timeout_us(&self) -> Option<u64> {
        if self.closed.is_some() {
            return None;
        }
        let mut due = self
            .next_send_us()
            .min(self.last_received_us.saturating_add(CONNECTION_TIMEOUT_US + 1));
        if let Some(first_sent_us) = self.reliable_queue.front().and_then(|message| message.first_sent_us) {
            due = due.min(first_sent_us.saturating_add(RELIABLE_DELIVERY_TIMEOUT_US + 1));
        }
        Some(due)
    }

    /// Closes the connection if the peer has been silent for `CONNECTION_TIMEOUT_US`
    /// (`TimedOut`) or a reliable message went unacknowledged for `RELIABLE_DELIVERY_TIMEOUT_US`
    /// (`ReliableTimeout`). Returns whether the connection is closed.
    pub fn handle_timeout(&mut self, now_us: u64) -> bool {
        if now_us.saturating_sub(self.last_received_us) > CONNECTION_TIMEOUT_US {
            self.close(CloseReason::TimedOut);
        }
        self.check_reliable_timeout(now_us);
        self.closed.is_some()
    }

    fn check_reliable_timeout(&mut self, now_us: u64) {
        if let Some(first_sent_us) = self.reliable_queue.front().and_then(|message| message.first_sent_us) {
            if now_us.saturating_sub(first_sent_us) > RELIABLE_DELIVERY_TIMEOUT_US {
                self.close(CloseReason::ReliableTimeout);
            }
        }
    }

    /// Whether the next packet may carry reliable fragments (in-flight limit, see `acked_floor`).
    fn reliable_allowed(&self) -> bool {
        self.next_sequence < self.acked_floor + ACK_BITS
    }

    fn next_due_fragment(&self, now_us: u64) -> Option<(usize, u8)> {
        let resend_delay_us = self.resend_delay_us();
        let oldest = self.reliable_queue.front()?.id;
        for (position, message) in self.reliable_queue.iter().enumerate() {
            if message.id.wrapping_sub(oldest) >= RELIABLE_WINDOW_MESSAGES {
                break;
            }
            for index in 0..message.fragment_count {
                if message.acked_mask >> index & 1 == 1 {
                    continue;
                }
                match message.fragment_sent_us[usize::from(index)] {
                    None => return Some((position, index)),
                    Some(sent_us) if now_us.saturating_sub(sent_us) >= resend_delay_us => {
                        return Some((position, index));
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }

    /// Builds the next sealed packet into `out` if one is due. Returns false when nothing is due or the
    /// connection is closed. Also closes the connection when a reliable message timed out.
    pub fn poll_packet(&mut self, now_us: u64, out: &mut Vec<u8>) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.check_reliable_timeout(now_us);
        if self.closed.is_some() {
            return false;
        }
        debug_assert_eq!(
            self.wants_to_send(now_us),
            self.next_send_us() <= now_us,
            "next_send_us disagrees with wants_to_send"
        );
        if !self.wants_to_send(now_us) {
            return false;
        }
        let reliable_allowed = self.reliable_allowed();
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let mut plaintext = std::mem::take(&mut self.plaintext);
        plaintext.clear();
        let (ack_newest_plus_one, ack_bits) = self.acked.ack_state();
        plaintext.extend_from_slice(&ack_newest_plus_one.to_le_bytes());
        plaintext.extend_from_slice(&ack_bits.to_le_bytes());
        let mut room = SEALED_PLAINTEXT_BYTES_MAX - plaintext.len();
        let mut frames = 0;
        if let Some((ping_sent_us, ping_received_us)) = self.pong_owed.take() {
            Frame::Pong {
                ping_sent_us,
                ping_received_us,
                pong_sent_us: now_us,
            }
            .encode(&mut plaintext);
            room -= PONG_FRAME_BYTES;
            frames += 1;
        }
        // The server's ping only rides along, and steps aside for a full-size unreliable message
        // rather than push it into a packet of its own.
        let ping_fits = match self.side {
            Side::Client => true,
            Side::Server => self.unreliable_queue.front().is_none_or(|message| {
                PING_FRAME_BYTES + UNRELIABLE_FRAME_HEADER_BYTES + message.len() <= room
            }),
        };
        if now_us >= self.next_ping_us && ping_fits {
            Frame::Ping { sent_us: now_us }.encode(&mut plaintext);
            room -= PING_FRAME_BYTES;
            frames += 1;
            self.pings_outstanding[self.next_ping_slot] = Some(now_us);
            self.next_ping_slot = (self.next_ping_slot + 1) % PINGS_OUTSTANDING_MAX;
            self.next_ping_us = now_us
                + match self.side {
                    Side::Client => CLOCK_PING_INTERVAL_US,
                    Side::Server => SERVER_PING_INTERVAL_US,
                };
        }
        let slot_index = (sequence % SENT_PACKETS_TRACKED as u64) as usize;
        let mut carried = std::mem::take(&mut self.sent[slot_index].fragments);
        carried.clear();
        // Reliable fragments first (oldest message first), then unreliable messages.
        while reliable_allowed && frames < FRAMES_PER_PACKET_MAX {
            let Some((position, index)) = self.next_due_fragment(now_us) else {
                break;
            };
            let message = &mut self.reliable_queue[position];
            let fragment_len = message.fragment(index).len();
            if FRAGMENT_FRAME_HEADER_BYTES + fragment_len > room {
                break;
            }
            Frame::Fragment {
                message_id: message.id,
                index,
                count: message.fragment_count,
                bytes: message.fragment(index),
            }
            .encode(&mut plaintext);
            message.fragment_sent_us[usize::from(index)] = Some(now_us);
            message.first_sent_us.get_or_insert(now_us);
            carried.push((message.id, index));
            room -= FRAGMENT_FRAME_HEADER_BYTES + fragment_len;
            frames += 1;
        }
        while frames < FRAMES_PER_PACKET_MAX {
            let Some(message) = self.unreliable_queue.front() else {
                break;
            };
            if UNRELIABLE_FRAME_HEADER_BYTES + message.len() > room {
                break;
            }
            let message = self.unreliable_queue.pop_front().expect("front exists");
            Frame::Unreliable(&message).encode(&mut plaintext);
            room -= UNRELIABLE_FRAME_HEADER_BYTES + message.len();
            frames += 1;
        }
        debug_assert!(plaintext.len() <= SEALED_PLAINTEXT_BYTES_MAX);
        self.sent[slot_index] = SentPacket {
            sequence,
            sent_us: now_us,
            acked: false,
            fragments: carried,
        };
        seal_packet(
            PacketType::Payload,
            self.session_id,
            sequence,
            &self.edge_key,
            &self.send_key,
            &plaintext,
            out,
        );
        self.plaintext = plaintext;
        self.ack_due_us = None;
        self.last_sent_us = now_us;
        self.stats.packets_sent += 1;
        true
    }

    /// A sealed `Disconnect` packet carrying `reason` (one byte), and closes this end. Sent once,
    /// never retransmitted: if it is lost the peer times out instead.
    pub fn disconnect_packet(&mut self, reason: DisconnectReason, out: &mut Vec<u8>) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        seal_packet(
            PacketType::Disconnect,
            self.session_id,
            sequence,
            &self.edge_key,
            &self.send_key,
            &[reason as u8],
            out,
        );
        self.close(CloseReason::LocalDisconnect(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(now_us: u64) -> (Connection, Connection) {
        let client = Connection::new(
            Side::Client,
            9,
            [1; 32],
            [2; 32],
            [3; 16],
            0,
            ReplayWindow::default(),
            now_us,
        );
        let server = Connection::new(
            Side::Server,
            9,
            [2; 32],
            [1; 32],
            [3; 16],
            0,
            ReplayWindow::default(),
            now_us,
        );
        (client, server)
    }

    /// Both ends send one unreliable message per 50 ms tick, out of phase, over a 5 ms link, and
    /// both are polled every millisecond. Returns the packets each end sent over `ticks`.
    fn tick_traffic(client: &mut Connection, server: &mut Connection, start_us: u64, ticks: u64) -> (u64, u64) {
        let mut packet = Vec::new();
        let mut in_flight: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
        let (mut from_client, mut from_server) = (0, 0);
        for step in 0..ticks * 50 {
            let now = start_us + step * 1_000;
            while in_flight.front().is_some_and(|(at, _, _)| *at <= now) {
                let (_, to_server, bytes) = in_flight.pop_front().unwrap();
                let receiver = if to_server { &mut *server } else { &mut *client };
                receiver.receive(now, &bytes).unwrap();
            }
            if step % 50 == 0 {
                client.send_unreliable(b"input").unwrap();
            }
            if step % 50 == 20 {
                server.send_unreliable(b"snapshot").unwrap();
            }
            while client.poll_packet(now, &mut packet) {
                from_client += 1;
                in_flight.push_back((now + 5_000, true, packet.clone()));
            }
            while server.poll_packet(now, &mut packet) {
                from_server += 1;
                in_flight.push_back((now + 5_000, false, packet.clone()));
            }
        }
        (from_client, from_server)
    }

    #[test]
    fn acks_ride_on_tick_traffic_instead_of_packets_of_their_own() {
        let (mut client, mut server) = pair(0);
        let ticks = 100;
        let (from_client, from_server) = tick_traffic(&mut client, &mut server, 0, ticks);
        // One packet per tick each way; the extras are the handshake ack and the clock pings
        // (one a second) and their pongs. Acking every packet on its own would double both.
        assert!((ticks..=ticks + 8).contains(&from_client), "client sent {from_client} packets in {ticks} ticks");
        assert!((ticks..=ticks + 8).contains(&from_server), "server sent {from_server} packets in {ticks} ticks");
        // Nothing went unacknowledged on the way: each side's newest packets were acked.
        assert!(client.stats().rtt_smoothed_us.is_some() && server.stats().rtt_smoothed_us.is_some());
    }

    #[test]
    fn reliable_events_keep_flowing_beside_tick_traffic_with_delayed_acks_and_loss() {
        // Inputs up and snapshots down every 50 ms tick (their acks delayed), plus one reliable
        // event per server tick for 200 ticks, 10 % loss each way, 5 ms links: every event arrives,
        // in order, the sender's queue drains and neither end gives up.
        let (mut client, mut server) = pair(0);
        let mut random = 0x9e37_79b9_7f4a_7c15_u64;
        let mut lose = move || {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            random.is_multiple_of(10)
        };
        let mut packet = Vec::new();
        let mut in_flight: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
        let (mut sent, mut received) = (0u32, Vec::new());
        for step in 0..400 * 50 {
            let now = step * 1_000;
            while in_flight.front().is_some_and(|(at, _, _)| *at <= now) {
                let (_, to_server, bytes) = in_flight.pop_front().unwrap();
                let receiver = if to_server { &mut server } else { &mut client };
                receiver.receive(now, &bytes).unwrap();
            }
            if step % 50 == 0 {
                client.send_unreliable(b"input").unwrap();
            }
            if step % 50 == 20 {
                server.send_unreliable(b"snapshot").unwrap();
                if sent < 200 {
                    server.send_reliable(&sent.to_le_bytes()).unwrap();
                    sent += 1;
                }
            }
            while client.poll_packet(now, &mut packet) {
                if !lose() {
                    in_flight.push_back((now + 5_000, true, packet.clone()));
                }
            }
            while server.poll_packet(now, &mut packet) {
                if !lose() {
                    in_flight.push_back((now + 5_000, false, packet.clone()));
                }
            }
            while let Some(message) = client.poll_received() {
                if let Received::Reliable(bytes) = message {
                    received.push(u32::from_le_bytes(bytes.try_into().unwrap()));
                }
            }
        }
        assert_eq!(received, (0..200).collect::<Vec<u32>>(), "every event once, in order");
        assert!(server.reliable_queue.is_empty(), "all acknowledged");
        assert!(server.closed().is_none() && client.closed().is_none());
    }

    #[test]
    fn a_lone_unreliable_packet_is_acked_after_the_delay_and_a_reliable_one_at_once() {
        let (mut client, mut server) = pair(0);
        let mut packet = Vec::new();
        // Settle the handshake acks and the first clock ping.
        tick_traffic(&mut client, &mut server, 0, 2);
        let now = 10_000_000;
        while server.poll_packet(now, &mut packet) {}
        while client.poll_packet(now, &mut packet) {
            server.receive(now, &packet).unwrap();
        }
        while server.poll_packet(now, &mut packet) {
            client.receive(now, &packet).unwrap();
        }
        client.send_unreliable(b"input").unwrap();
        assert!(client.poll_packet(now, &mut packet));
        server.receive(now, &packet).unwrap();
        assert!(!server.poll_packet(now + ACK_DELAY_MAX_US - 1, &mut packet), "the ack waits for traffic");
        assert!(server.poll_packet(now + ACK_DELAY_MAX_US, &mut packet), "then goes alone");
        let later = now + ACK_DELAY_MAX_US + 1_000;
        client.receive(later, &packet).unwrap();
        client.send_reliable(b"chat").unwrap();
        assert!(client.poll_packet(later, &mut packet));
        server.receive(later, &packet).unwrap();
        assert!(server.poll_packet(later, &mut packet), "reliable fragments are acked at once");
    }

    /// Steps both ends on simulated time (10 ms steps, 20 ms one-way delay); `lose(n)` decides whether
    /// the n-th packet is dropped.
    fn drive(
        client: &mut Connection,
        server: &mut Connection,
        start_us: u64,
        steps: u64,
        lose: &mut dyn FnMut(u64) -> bool,
    ) -> u64 {
        let mut now = start_us;
        let mut packet = Vec::new();
        let mut packet_number = 0;
        // (deliver at, to the server?, bytes)
        let mut in_flight: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
        for _ in 0..steps {
            now += 10_000;
            while in_flight.front().is_some_and(|(deliver_at, _, _)| *deliver_at <= now) {
                let (_, to_server, bytes) = in_flight.pop_front().unwrap();
                let receiver = if to_server { &mut *server } else { &mut *client };
                receiver.receive(now, &bytes).unwrap();
            }
            while client.poll_packet(now, &mut packet) {
                packet_number += 1;
                if !lose(packet_number) {
                    in_flight.push_back((now + 20_000, true, packet.clone()));
                }
            }
            while server.poll_packet(now, &mut packet) {
                packet_number += 1;
                if !lose(packet_number) {
                    in_flight.push_back((now + 20_000, false, packet.clone()));
                }
            }
        }
        now
    }

    #[test]
    fn reliable_messages_arrive_in_order_despite_loss() {
        let (mut client, mut server) = pair(0);
        let messages: Vec<Vec<u8>> = (0..40u32)
            .map(|i| vec![i as u8; 1 + (i as usize * 997) % 5000])
            .collect();
        for message in &messages {
            client.send_reliable(message).unwrap();
        }
        client.send_unreliable(b"input").unwrap();
        // A third of all packets, pseudo-randomly (periodic loss can resonate with the send pattern).
        let mut random = 0x2545_f491_4f6c_dd1d_u64;
        let mut lose = |_: u64| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            random.is_multiple_of(3)
        };
        drive(&mut client, &mut server, 0, 600, &mut lose);
        let mut reliable = Vec::new();
        let mut unreliable = 0;
        while let Some(received) = server.poll_received() {
            match received {
                Received::Reliable(bytes) => reliable.push(bytes),
                Received::Unreliable(_) => unreliable += 1,
            }
        }
        assert_eq!(reliable.len(), messages.len());
        assert!(reliable == messages, "reliable messages differ or are out of order");
        assert!(unreliable <= 1);
        assert!(client.reliable_queue.is_empty(), "all acked");
        assert_eq!(server.reassembly_bytes, 0);
        let stats = client.stats();
        assert!(stats.packet_loss > 0.1, "loss estimate {}", stats.packet_loss);
        let rtt = stats.rtt_smoothed_us.unwrap();
        // 40 ms of path delay; lost ack packets delay some acks (no ack-delay field, see PROTOCOL.md).
        assert!((40_000..=100_000).contains(&rtt), "rtt {rtt}");
    }

    #[test]
    fn limits_are_enforced() {
        let (mut client, _) = pair(0);
        assert_eq!(
            client.send_reliable(&vec![0; RELIABLE_MESSAGE_BYTES_MAX + 1]),
            Err(SendError::MessageTooLarge {
                bytes: RELIABLE_MESSAGE_BYTES_MAX + 1
            })
        );
        assert_eq!(
            client.send_unreliable(&vec![0; UNRELIABLE_MESSAGE_BYTES_MAX + 1]),
            Err(SendError::MessageTooLarge {
                bytes: UNRELIABLE_MESSAGE_BYTES_MAX + 1
            })
        );
        for _ in 0..RELIABLE_QUEUE_MAX {
            client.send_reliable(b"x").unwrap();
        }
        assert_eq!(client.send_reliable(b"x"), Err(SendError::QueueFull));
    }

    #[test]
    fn undeliverable_reliable_message_closes_instead_of_blocking() {
        let (mut client, mut server) = pair(0);
        client.send_reliable(b"never arrives").unwrap();
        let mut lose_all = |_: u64| true;
        drive(&mut client, &mut server, 0, 1_200, &mut lose_all);
        assert_eq!(client.closed(), Some(CloseReason::ReliableTimeout));
    }

    #[test]
    fn clock_sync_runs_over_the_connection() {
        let (mut client, mut server) = pair(0);
        let mut lose_none = |_: u64| false;
        drive(&mut client, &mut server, 0, 300, &mut lose_none);
        // Both clocks are the same simulated clock here, delays symmetric: offset ~ 0.
        let offset = client.clock().offset_us().unwrap();
        assert!(offset.abs() <= 10_000, "offset {offset}");
    }

    #[test]
    fn server_measures_rtt_without_the_clients_hold_time() {
        // 50 ms each way: a 100 ms round trip. The server sends a snapshot every 50 ms tick at
        // phase 0; the client sends its input at phase 40. A server ping rides on a snapshot,
        // arrives at phase 0 and waits 40 ms for the client's next packet: a round trip measured
        // from acks (or without subtracting the hold) is 140 ms.
        let (mut client, mut server) = pair(0);
        let mut packet = Vec::new();
        let mut in_flight: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
        for step in 0..10_000u64 {
            let now = step * 1_000;
            while in_flight.front().is_some_and(|(at, _, _)| *at <= now) {
                let (_, to_server, bytes) = in_flight.pop_front().unwrap();
                let receiver = if to_server { &mut server } else { &mut client };
                receiver.receive(now, &bytes).unwrap();
            }
            if step % 50 == 0 {
                server.send_unreliable(b"snapshot").unwrap();
            }
            if step % 50 == 40 {
                client.send_unreliable(b"input").unwrap();
            }
            while client.poll_packet(now, &mut packet) {
                in_flight.push_back((now + 50_000, true, packet.clone()));
            }
            while server.poll_packet(now, &mut packet) {
                in_flight.push_back((now + 50_000, false, packet.clone()));
            }
        }
        let rtt = server.rtt_us().expect("the server has ping samples");
        assert!((98_000..=102_000).contains(&rtt), "server ping rtt {rtt} us");
        // The hold was real: the ack-based estimate, which cannot subtract it, sees it.
        let ack_rtt = server.stats().rtt_smoothed_us.unwrap();
        assert!(ack_rtt >= 130_000, "ack rtt {ack_rtt} us");
        // The client's own pings are answered at once and give the same round trip.
        let client_rtt = client.rtt_us().expect("the client has ping samples");
        assert!((98_000..=102_000).contains(&client_rtt), "client ping rtt {client_rtt} us");
        assert_eq!(server.stats().pongs_ignored, 0);
        // 10 s of 250 ms pings: about 40 samples, all on packets sent anyway (one per tick each
        // way plus the client's clock pings).
        assert!(server.stats().packets_sent <= 200 + 12, "server sent {}", server.stats().packets_sent);
    }

    #[test]
    fn a_pong_for_no_outstanding_ping_is_ignored() {
        let (_, mut server) = pair(0);
        let mut packet = Vec::new();
        // A pong claiming a ping sent long ago (it would make a 10 s round trip).
        let mut plaintext = Vec::new();
        Payload {
            ack_newest_plus_one: 0,
            ack_bits: 0,
            frames: vec![Frame::Pong {
                ping_sent_us: 0,
                ping_received_us: 5,
                pong_sent_us: 6,
            }],
        }
        .encode(&mut plaintext);
        seal_packet(PacketType::Payload, 9, 0, &[3; 16], &[1; 32], &plaintext, &mut packet);
        server.receive(10_000_000, &packet).unwrap();
        assert_eq!(server.rtt_us(), None);
        assert_eq!(server.stats().pongs_ignored, 1);
    }

    #[test]
    fn next_timeout_names_the_moment_a_packet_falls_due() {
        let (mut client, mut server) = pair(0);
        let mut packet = Vec::new();
        assert_eq!(server.next_timeout_us(), Some(0), "the welcome ack is due at once");
        assert!(server.poll_packet(0, &mut packet));
        client.receive(0, &packet).unwrap();
        while client.poll_packet(0, &mut packet) {
            server.receive(0, &packet).unwrap();
        }
        while server.poll_packet(0, &mut packet) {}
        // Nothing queued: the keep-alive is next, exactly one interval after the last packet.
        let due = server.next_timeout_us().unwrap();
        assert_eq!(due, KEEPALIVE_INTERVAL_US);
        assert!(!server.poll_packet(due - 1, &mut packet));
        assert!(server.poll_packet(due, &mut packet));
        // A reliable message is due at once, its resend after the resend delay.
        server.send_reliable(b"event").unwrap();
        assert_eq!(server.next_timeout_us(), Some(0));
        assert!(server.poll_packet(due, &mut packet));
        let resend = server.next_timeout_us().unwrap();
        assert_eq!(resend, due + server.resend_delay_us());
        assert!(!server.poll_packet(resend - 1, &mut packet));
        assert!(server.poll_packet(resend, &mut packet));
        // Silence: after the keep-alives, the idle deadline closes it through handle_timeout.
        let mut now = resend;
        while let Some(at) = server.next_timeout_us() {
            now = at;
            if !server.handle_timeout(now) {
                while server.poll_packet(now, &mut packet) {}
            }
        }
        assert_eq!(server.closed(), Some(CloseReason::TimedOut));
        assert_eq!(now, CONNECTION_TIMEOUT_US + 1, "closed the microsecond the timeout passed");
    }

    fn hex_lines(bytes: &[u8]) -> String {
        bytes
            .chunks(32)
            .map(|line| line.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The payload of the PROTOCOL.md test vector ("Payload packet").
    fn vector_payload() -> Payload<'static> {
        Payload {
            ack_newest_plus_one: 4,
            ack_bits: 0b101,
            frames: vec![
                Frame::Unreliable(b"hi"),
                Frame::Fragment {
                    message_id: 0,
                    index: 0,
                    count: 1,
                    bytes: b"chat",
                },
                Frame::Ping {
                    sent_us: 1_700_000_000_000_000,
                },
                Frame::Pong {
                    ping_sent_us: 1_699_999_999_900_000,
                    ping_received_us: 1_699_999_999_950_000,
                    pong_sent_us: 1_699_999_999_990_000,
                },
            ],
        }
    }

    /// PROTOCOL.md, "Payload packet": plaintext and sealed bytes, and both decode back.
    #[test]
    fn payload_packet_test_vector() {
        let mut plaintext = Vec::new();
        vector_payload().encode(&mut plaintext);
        let mut packet = Vec::new();
        seal_packet(PacketType::Payload, 0x0123_4567_89ab_cdef, 5, &[0x33; 16], &[0x11; 32], &plaintext, &mut packet);
        let compact = |vector: &str| vector.split_whitespace().collect::<String>();
        assert_eq!(hex_lines(&plaintext).replace('\n', ""), compact(PAYLOAD_PLAINTEXT_VECTOR_HEX));
        assert_eq!(hex_lines(&packet).replace('\n', ""), compact(PAYLOAD_PACKET_VECTOR_HEX));
        let spec: String = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
            .split_whitespace()
            .collect();
        assert!(spec.contains(&compact(PAYLOAD_PLAINTEXT_VECTOR_HEX)), "PROTOCOL.md quotes the plaintext");
        assert!(spec.contains(&compact(PAYLOAD_PACKET_VECTOR_HEX)), "PROTOCOL.md quotes the packet");
        assert_eq!(decode_payload(&plaintext), Ok(vector_payload()));
        let mut opened = Vec::new();
        open_packet(&packet, &[0x33; 16], &[0x11; 32], &mut opened).unwrap();
        assert_eq!(opened, plaintext);
    }
    const PAYLOAD_PLAINTEXT_VECTOR_HEX: &str = "\
040000000000000005000000010200686902000000010400636861740300401e
18240a06000460b91c18240a0600b07c1d18240a0600f0181e18240a0600";
    const PAYLOAD_PACKET_VECTOR_HEX: &str = "\
4d13efcdab89674523010500000000000000feb2891b40695d0fd4b5032524c6
95181cbe726c92b5f19787742a7de911dd777acd776be5c9948798875708fd36
36b71c5c4310a60715476d9cee178cb07ccdaac5edf0aed9273d4c0b2760f117
5f29180140c1f07c";

    #[test]
    fn payload_decoder_is_total() {
        assert_eq!(decode_payload(&[]), Err(FrameError::Truncated { offset: 0 }));
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&[FRAME_FRAGMENT, 0, 0, 3, 2, 0, 0]);
        assert_eq!(
            decode_payload(&bytes),
            Err(FrameError::BadFragment { index: 3, count: 2 })
        );
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&[FRAME_UNRELIABLE, 5, 0, 1]);
        assert_eq!(decode_payload(&bytes), Err(FrameError::Truncated { offset: 15 }));
        let mut bytes = vec![0u8; 12];
        bytes.push(0x77);
        assert_eq!(
            decode_payload(&bytes),
            Err(FrameError::UnknownFrame {
                value: 0x77,
                offset: 12
            })
        );
        let mut bytes = vec![0u8; 12];
        bytes.extend(std::iter::repeat_n([FRAME_UNRELIABLE, 0, 0], FRAMES_PER_PACKET_MAX + 1).flatten());
        assert_eq!(decode_payload(&bytes), Err(FrameError::TooManyFrames));
    }
}
