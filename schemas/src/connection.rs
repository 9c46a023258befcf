//! One established session: sequence numbers, acks, RTT and loss estimates, the unreliable channel,
//! the reliable ordered channel with fragmentation, pings (the client's for clock sync, the
//! server's for its RTT estimate) and the timers that make packets due. Both ends use it; the
//! endpoints (`endpoint`) own the handshake and hand packets to it.
//!
//! Files: this one holds the `Connection` state machine (acks, RTT, pings, timers, packet
//! building); `frame` the payload's frame codec; `reliable` the reliable channel's
//! fragmenting, resending and reassembly.
//!
//! Plaintext of a `Payload` packet: `ack_newest_plus_one: u64`, `ack_bits: u32`, then frames (see
//! `PROTOCOL.md`, "Payload frames"). Every queue here is bounded; what overflows is refused with a
//! typed error at the sender, or dropped (and resent) at the receiver.

mod frame;
mod reliable;
mod transfer;

use std::collections::VecDeque;

use thiserror::Error;

use frame::{FRAGMENT_FRAME_HEADER_BYTES, PING_FRAME_BYTES, PONG_FRAME_BYTES, UNRELIABLE_FRAME_HEADER_BYTES};
pub use frame::{Frame, FrameError, Payload, decode_payload};
use reliable::{IncomingMessage, OutgoingMessage};
pub use transfer::{TransferError, TransportState};

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
/// How far past the session record's hint a server that resumes a session after a failover starts
/// sealing. The hint is refreshed every few seconds, so the dead server may have sent more since;
/// 2^32 packets is over two years at 60 packets per second, so the new server's sequences (and so
/// its AEAD nonces under the same key) never meet one the old server used. PROTOCOL.md, "Session
/// resume after failover".
pub const RESUME_SEQUENCE_JUMP: u64 = 1 << 32;
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

#[derive(Clone, Debug, Default)]
struct SentPacket {
    sequence: u64,
    sent_us: u64,
    acked: bool,
    /// (message id, fragment index) carried.
    fragments: Vec<(u16, u8)>,
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
    /// Silence after which the connection closes (`CONNECTION_TIMEOUT_US` unless a client waiting
    /// for its session to resume after a failover raised it: `set_idle_timeout_us`).
    idle_timeout_us: u64,
    /// The next reliable fragment received names the head of the receive stream (see
    /// `resync_reliable_receive`).
    reliable_resync: bool,
    /// Set when the peer's sequences leapt (`notice_resume`); taken by `take_resumed`.
    resumed: bool,
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
            // No slot names a sequence this connection sent: the handshake's packets (sent before
            // the connection existed) are acked too, and a default slot (sequence 0, sent at time 0)
            // took that ack for a packet sent at the epoch, an RTT sample of the whole Unix time
            // that kept the resend delay at minutes for the first minute of every session.
            sent: vec![
                SentPacket {
                    sequence: u64::MAX,
                    ..SentPacket::default()
                };
                SENT_PACKETS_TRACKED
            ],
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
            idle_timeout_us: CONNECTION_TIMEOUT_US,
            reliable_resync: false,
            resumed: false,
        }
    }

    /// How long the peer may stay silent before the connection closes as `TimedOut` (at least
    /// `CONNECTION_TIMEOUT_US`). A reliable message then also waits as long for its ack (at least
    /// `RELIABLE_DELIVERY_TIMEOUT_US`): a client riding out a failover must not give up on a
    /// message it queued while the server was away.
    pub fn set_idle_timeout_us(&mut self, idle_timeout_us: u64) {
        self.idle_timeout_us = idle_timeout_us.max(CONNECTION_TIMEOUT_US);
    }

    pub fn idle_timeout_us(&self) -> u64 {
        self.idle_timeout_us
    }

    pub(crate) fn reliable_timeout_us(&self) -> u64 {
        self.idle_timeout_us.max(RELIABLE_DELIVERY_TIMEOUT_US)
    }

    /// After a session resumed on another server (PROTOCOL.md, "Session resume after failover"),
    /// the peer's reliable message ids continue from where they were while this end's stream
    /// starts elsewhere: the next reliable fragment received becomes the head of the stream, and
    /// reassembly restarts. Messages in flight across the failover may be lost; order holds after.
    pub fn resync_reliable_receive(&mut self) {
        self.reliable_resync = true;
        self.reassembly.clear();
        self.reassembly_bytes = 0;
    }

    /// A server that resumed this session after a failover seals from at least
    /// `RESUME_SEQUENCE_JUMP` past what the old server had sent (authenticated: called only after
    /// the packet opened), so a client that sees its server's sequence leap knows its session moved
    /// and resynchronises the reliable stream the new server starts afresh.
    fn notice_resume(&mut self, sequence: u64) {
        let (newest_plus_one, _) = self.received.ack_state();
        if self.side == Side::Client
            && newest_plus_one > 0
            && sequence >= newest_plus_one.saturating_add(RESUME_SEQUENCE_JUMP / 2)
        {
            self.resync_reliable_receive();
            self.resumed = true;
        }
    }

    /// Whether the peer resumed the session on another server since the last call (client side).
    pub fn take_resumed(&mut self) -> bool {
        std::mem::take(&mut self.resumed)
    }

    /// Newest sequence received from the peer (`None`: none yet) and the next sequence this end
    /// seals with: the hints a session record carries so another server can resume the session.
    pub fn sequences(&self) -> (Option<u64>, u64) {
        let (newest_plus_one, _) = self.received.ack_state();
        (newest_plus_one.checked_sub(1), self.next_sequence)
    }

    /// The session's keys (this end's send key, receive key, edge key), for sealing into a resume
    /// record with the cluster key; never leaves the process in the clear.
    pub(crate) fn keys(&self) -> ([u8; AEAD_KEY_BYTES], [u8; AEAD_KEY_BYTES], [u8; EDGE_KEY_BYTES]) {
        (self.send_key, self.receive_key, self.edge_key)
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

    /// The next received message, in order for the reliable channel.
    pub fn poll_received(&mut self) -> Option<Received> {
        self.received_messages.pop_front()
    }

    /// Processes a sealed `Payload` packet for this session (`bytes` already matched the session id).
    pub fn receive(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), PacketError> {
        let header = crate::packet::read_sealed_header(bytes)?;
        if header.packet_type == PacketType::Disconnect {
            self.received.check(header.sequence)?;
            open_packet(bytes, &self.edge_key, &self.receive_key, &mut self.plaintext)?;
            self.received.mark(header.sequence);
            self.close(CloseReason::PeerDisconnected(DisconnectReason::from_plaintext(
                &self.plaintext,
            )));
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
                self.notice_resume(header.sequence);
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
        let due_us = if urgent {
            now_us
        } else {
            now_us.saturating_add(ACK_DELAY_MAX_US)
        };
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
        let Some(slot) = self
            .pings_outstanding
            .iter()
            .position(|sent| *sent == Some(ping_sent_us))
        else {
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
        if self.reliable_allowed()
            && let Some(fragment_due_us) = self.next_fragment_due_us()
        {
            due = due.min(fragment_due_us);
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
            .min(self.last_received_us.saturating_add(self.idle_timeout_us + 1));
        if let Some(first_sent_us) = self.reliable_queue.front().and_then(|message| message.first_sent_us) {
            due = due.min(first_sent_us.saturating_add(self.reliable_timeout_us() + 1));
        }
        Some(due)
    }

    /// Closes the connection if the peer has been silent for `CONNECTION_TIMEOUT_US`
    /// (`TimedOut`) or a reliable message went unacknowledged for `RELIABLE_DELIVERY_TIMEOUT_US`
    /// (`ReliableTimeout`). Returns whether the connection is closed.
    pub fn handle_timeout(&mut self, now_us: u64) -> bool {
        if now_us.saturating_sub(self.last_received_us) > self.idle_timeout_us {
            self.close(CloseReason::TimedOut);
        }
        self.check_reliable_timeout(now_us);
        self.closed.is_some()
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
            Side::Server => self
                .unreliable_queue
                .front()
                .is_none_or(|message| PING_FRAME_BYTES + UNRELIABLE_FRAME_HEADER_BYTES + message.len() <= room),
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

    /// Datagrams between a test pair: (deliver at, to the server?, bytes), in send order.
    pub(super) type InFlight = VecDeque<(u64, bool, Vec<u8>)>;

    /// Hands every datagram due by `now_us` to its receiver.
    pub(super) fn deliver_due(in_flight: &mut InFlight, now_us: u64, client: &mut Connection, server: &mut Connection) {
        while in_flight.front().is_some_and(|(at, _, _)| *at <= now_us) {
            let (_, to_server, bytes) = in_flight.pop_front().unwrap();
            let receiver = if to_server { &mut *server } else { &mut *client };
            receiver.receive(now_us, &bytes).unwrap();
        }
    }

    pub(super) fn pair(now_us: u64) -> (Connection, Connection) {
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

    #[test]
    fn acks_of_handshake_packets_do_not_poison_the_rtt_estimate() {
        // As after a handshake: each end already sent sequence 0 (Challenge, Response) outside the
        // connection, and each received the other's.
        let start_us = 1_700_000_000 * 1_000_000;
        let mut window = ReplayWindow::default();
        window.mark(0);
        let mut client = Connection::new(Side::Client, 9, [1; 32], [2; 32], [3; 16], 1, window.clone(), start_us);
        let mut server = Connection::new(Side::Server, 9, [2; 32], [1; 32], [3; 16], 1, window, start_us);
        let mut packet = Vec::new();
        let mut now_us = start_us;
        for _ in 0..4 {
            client.send_unreliable(b"input").unwrap();
            server.send_unreliable(b"snapshot").unwrap();
            assert!(client.poll_packet(now_us, &mut packet));
            now_us += 20_000;
            server.receive(now_us, &packet).unwrap();
            assert!(server.poll_packet(now_us, &mut packet));
            now_us += 20_000;
            client.receive(now_us, &packet).unwrap();
        }
        for (side, rtt) in [
            ("client", client.stats().rtt_smoothed_us),
            ("server", server.stats().rtt_smoothed_us),
        ] {
            let rtt = rtt.expect("acks measured");
            assert!(rtt <= 40_000, "{side}: ack RTT {rtt} us (the epoch leaked in)");
        }
        assert!(
            client.resend_delay_us() <= 100_000,
            "resend delay {}",
            client.resend_delay_us()
        );
    }

    /// Both ends send one unreliable message per 50 ms tick, out of phase, over a 5 ms link, and
    /// both are polled every millisecond. Returns the packets each end sent over `ticks`.
    fn tick_traffic(client: &mut Connection, server: &mut Connection, start_us: u64, ticks: u64) -> (u64, u64) {
        let mut packet = Vec::new();
        let mut in_flight = InFlight::new();
        let (mut from_client, mut from_server) = (0, 0);
        for step in 0..ticks * 50 {
            let now = start_us + step * 1_000;
            deliver_due(&mut in_flight, now, client, server);
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
        assert!(
            (ticks..=ticks + 8).contains(&from_client),
            "client sent {from_client} packets in {ticks} ticks"
        );
        assert!(
            (ticks..=ticks + 8).contains(&from_server),
            "server sent {from_server} packets in {ticks} ticks"
        );
        // Nothing went unacknowledged on the way: each side's newest packets were acked.
        assert!(client.stats().rtt_smoothed_us.is_some() && server.stats().rtt_smoothed_us.is_some());
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
        assert!(
            !server.poll_packet(now + ACK_DELAY_MAX_US - 1, &mut packet),
            "the ack waits for traffic"
        );
        assert!(
            server.poll_packet(now + ACK_DELAY_MAX_US, &mut packet),
            "then goes alone"
        );
        let later = now + ACK_DELAY_MAX_US + 1_000;
        client.receive(later, &packet).unwrap();
        client.send_reliable(b"chat").unwrap();
        assert!(client.poll_packet(later, &mut packet));
        server.receive(later, &packet).unwrap();
        assert!(
            server.poll_packet(later, &mut packet),
            "reliable fragments are acked at once"
        );
    }

    /// Steps both ends on simulated time (10 ms steps, 20 ms one-way delay); `lose(n)` decides whether
    /// the n-th packet is dropped.
    pub(super) fn drive(
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
        let mut in_flight = InFlight::new();
        for _ in 0..steps {
            now += 10_000;
            deliver_due(&mut in_flight, now, client, server);
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
        let mut in_flight = InFlight::new();
        for step in 0..10_000u64 {
            let now = step * 1_000;
            deliver_due(&mut in_flight, now, &mut client, &mut server);
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
        assert!(
            (98_000..=102_000).contains(&client_rtt),
            "client ping rtt {client_rtt} us"
        );
        assert_eq!(server.stats().pongs_ignored, 0);
        // 10 s of 250 ms pings: about 40 samples, all on packets sent anyway (one per tick each
        // way plus the client's clock pings).
        assert!(
            server.stats().packets_sent <= 200 + 12,
            "server sent {}",
            server.stats().packets_sent
        );
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
        assert_eq!(
            now,
            CONNECTION_TIMEOUT_US + 1,
            "closed the microsecond the timeout passed"
        );
    }
}
