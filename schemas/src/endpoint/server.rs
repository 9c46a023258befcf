//! [`ServerEndpoint`]: one per worker socket. It answers handshakes, owns the session table, and
//! keeps every open session in a timer index so a packet leaves when it falls due.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::Hasher;
use std::net::SocketAddr;

use siphasher::sip::SipHasher24;

use super::{CHALLENGE_BYTES, HANDSHAKE_TIMEOUT_US, Transmit, read_connection_request};
use crate::connection::{CloseReason, Connection, Received, SendError, Side};
use crate::packet::{
    DisconnectReason, EDGE_KEY_BYTES, PacketError, PacketType, ReplayWindow, open_packet, read_packet_type,
    read_sealed_header, seal_packet,
};
use crate::token::{CLUSTER_KEY_BYTES, ConnectToken, TokenError};

// Export and import of a whole session (handoff across workers); a child of this module for the
// endpoint's private tables, kept in a file of its own.
#[path = "transfer.rs"]
pub(super) mod transfer;

/// Handshakes in progress per server endpoint; the oldest is dropped when full.
pub const PENDING_HANDSHAKES_MAX: usize = 1024;

/// Connections per server endpoint: a zone is sized for about 2,000 players and a worker may own
/// several zones.
pub const SERVER_CONNECTIONS_MAX: usize = 8192;

/// Lifecycle events (`Connected`, `Disconnected`) a server endpoint can hold. They are never
/// dropped: each session has at most one of each waiting, and a session's place in the table is
/// not reused until its `Disconnected` has been polled, so at most `2 × connections_max` wait.
pub const SERVER_EVENTS_MAX: usize = 2 * SERVER_CONNECTIONS_MAX;

/// Datagrams the endpoint queues itself (challenges, welcomes, disconnects) until `poll_transmit`;
/// beyond it they are dropped and counted (the client's resend or time-out recovers).
pub const SERVER_TRANSMITS_MAX: usize = PENDING_HANDSHAKES_MAX + SERVER_CONNECTIONS_MAX;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    /// Secret random bytes from the caller, used to make challenges unpredictable.
    pub challenge_key: [u8; 16],
    /// This server's public address; tokens not listing it are refused.
    pub public_address: SocketAddr,
    pub connections_max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Connected {
        session_id: u64,
        zone_id: u32,
        /// The token's character id (0 = none: dev tokens; the host then uses the session id).
        character_id: u64,
        address: SocketAddr,
    },
    /// A session another server served resumed here after a failover (`endpoint/resume.rs`): its
    /// first sealed packet opened under the keys of its record. Counts as a `Connected`: a
    /// `Disconnected` follows it.
    Resumed {
        session_id: u64,
        zone_id: u32,
        character_id: u64,
        address: SocketAddr,
    },
    /// Never dropped (see `SERVER_EVENTS_MAX`): every `Connected` is followed by one.
    Disconnected { session_id: u64, reason: CloseReason },
    /// Messages come from the sessions' own bounded queues (`RECEIVED_MESSAGES_MAX` each; what
    /// overflows is counted in `EndpointStats::received_messages_dropped`).
    Message { session_id: u64, message: Received },
}

/// A handshake began or was given up, for whoever keeps a per-session table outside the endpoint
/// in step with it before the session exists: the XDP edge must know a session's id and edge key
/// before the client's Response (the first sealed packet it sends) arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeEvent {
    /// A valid ConnectionRequest opened a pending handshake (once per session, not per retry).
    Started {
        session_id: u64,
        zone_id: u32,
        edge_key: [u8; EDGE_KEY_BYTES],
        address: SocketAddr,
    },
    /// The pending handshake expired or was evicted without becoming a session. A handshake that
    /// completes is followed by `ServerEvent::Connected` instead.
    Abandoned { session_id: u64 },
}

/// Handshake events kept for the caller; beyond this the newest are dropped and counted
/// (`EndpointStats::handshake_events_dropped`). Two per pending handshake.
pub const HANDSHAKE_EVENTS_MAX: usize = 2 * PENDING_HANDSHAKES_MAX;

/// Counters of a server endpoint (`ServerEndpoint::stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub connections: usize,
    pub pending_handshakes: usize,
    /// Lifecycle events waiting for `poll_event`.
    pub events_queued: usize,
    /// `Disconnected` events not yet polled: their sessions still hold a place in the table.
    pub disconnects_unpolled: usize,
    /// Pending handshakes dropped for a newer one (`PENDING_HANDSHAKES_MAX`).
    pub handshakes_evicted: u64,
    /// Pending handshakes that saw no valid response within `HANDSHAKE_TIMEOUT_US`.
    pub handshakes_expired: u64,
    /// Handshake events the caller did not poll in time (`HANDSHAKE_EVENTS_MAX`).
    pub handshake_events_dropped: u64,
    /// Endpoint datagrams dropped because `poll_transmit` was not called (`SERVER_TRANSMITS_MAX`).
    pub transmits_dropped: u64,
    /// Received messages dropped because the application did not poll them, over all sessions.
    pub received_messages_dropped: u64,
    /// Resumable sessions waiting for their client (`add_resumable`).
    pub resumables: usize,
    /// Sessions resumed after a failover.
    pub sessions_resumed: u64,
    /// Packets for a resumable session that did not open under its keys (the entry stays).
    pub resumes_bad_seal: u64,
    /// Resumable entries whose deadline passed unused.
    pub resumables_expired: u64,
    /// Resumable entries refused because the table was full (`RESUMABLE_SESSIONS_MAX`).
    pub resumables_refused: u64,
}

pub(super) struct PendingHandshake {
    address: SocketAddr,
    token: ConnectToken,
    challenge: [u8; CHALLENGE_BYTES],
    next_sequence: u64,
    started_us: u64,
}

pub(super) struct ServerSession {
    pub(super) address: SocketAddr,
    pub(super) connection: Connection,
    /// This session's key in `ServerEndpoint::timers` (`None`: closed, not listed).
    pub(super) timer_us: Option<u64>,
    /// Listed in `ServerEndpoint::readable`.
    pub(super) readable: bool,
}

/// Moves a session's entry in the timer index to its connection's current deadline.
pub(super) fn reschedule(timers: &mut BTreeSet<(u64, u64)>, session_id: u64, session: &mut ServerSession) {
    let due_us = session.connection.next_timeout_us();
    if due_us == session.timer_us {
        return;
    }
    if let Some(old_us) = session.timer_us {
        timers.remove(&(old_us, session_id));
    }
    if let Some(new_us) = due_us {
        timers.insert((new_us, session_id));
    }
    session.timer_us = due_us;
}

pub struct ServerEndpoint {
    pub(super) config: ServerConfig,
    pub(super) pending: BTreeMap<u64, PendingHandshake>,
    /// `(started_us, session_id)` of every pending handshake: expiry and eviction of the oldest.
    pending_by_start: BTreeSet<(u64, u64)>,
    pub(super) sessions: BTreeMap<u64, ServerSession>,
    /// `(deadline_us, session_id)` of every open session (`Connection::next_timeout_us`), so
    /// `poll_transmit`, `handle_timeout` and `poll_timeout` find due sessions without a sweep of the
    /// table. One entry per session: bounded by the table.
    pub(super) timers: BTreeSet<(u64, u64)>,
    /// Lifecycle events only; see `SERVER_EVENTS_MAX` for why they cannot overflow.
    events: VecDeque<ServerEvent>,
    handshake_events: VecDeque<HandshakeEvent>,
    /// Sessions with received messages to hand out; a subset of `sessions`.
    pub(super) readable: BTreeSet<u64>,
    transmits: VecDeque<Transmit>,
    challenge_counter: u64,
    pub(super) stats: EndpointStats,
    /// Reused by `handle_timeout`.
    due_scratch: Vec<u64>,
    /// Sessions offered for resume after a failover (`endpoint/resume.rs`), bounded by
    /// `RESUMABLE_SESSIONS_MAX`.
    pub(super) resumable: BTreeMap<u64, super::resume::ResumableEntry>,
    /// `(deadline_us, session_id)` of every resumable entry: expiry in order.
    pub(super) resumable_by_deadline: BTreeSet<(u64, u64)>,
}

impl ServerEndpoint {
    pub fn new(config: ServerConfig) -> Self {
        assert!(config.connections_max <= SERVER_CONNECTIONS_MAX);
        ServerEndpoint {
            config,
            pending: BTreeMap::new(),
            pending_by_start: BTreeSet::new(),
            sessions: BTreeMap::new(),
            timers: BTreeSet::new(),
            events: VecDeque::new(),
            handshake_events: VecDeque::new(),
            readable: BTreeSet::new(),
            transmits: VecDeque::new(),
            challenge_counter: 0,
            stats: EndpointStats::default(),
            due_scratch: Vec::new(),
            resumable: BTreeMap::new(),
            resumable_by_deadline: BTreeSet::new(),
        }
    }

    pub fn connection_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn connection(&self, session_id: u64) -> Option<&Connection> {
        self.sessions.get(&session_id).map(|session| &session.connection)
    }

    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            connections: self.sessions.len(),
            pending_handshakes: self.pending.len(),
            events_queued: self.events.len(),
            resumables: self.resumable.len(),
            ..self.stats
        }
    }

    /// Whether another session fits: sessions whose `Disconnected` is still unpolled keep their
    /// place, which is what bounds the lifecycle events (`SERVER_EVENTS_MAX`).
    pub(super) fn has_room(&self) -> bool {
        self.sessions.len() + self.stats.disconnects_unpolled < self.config.connections_max
    }

    pub(super) fn push_event(&mut self, event: ServerEvent) {
        // Queued Connected events belong to live sessions or ones with a Disconnected queued after
        // them; live + unpolled-disconnected ≤ connections_max (`has_room`). So this never fires.
        assert!(
            self.events.len() < 2 * self.config.connections_max,
            "lifecycle events exceed twice the connection limit"
        );
        if matches!(event, ServerEvent::Disconnected { .. }) {
            self.stats.disconnects_unpolled += 1;
        }
        self.events.push_back(event);
    }

    fn push_transmit(&mut self, transmit: Transmit) {
        if self.transmits.len() >= SERVER_TRANSMITS_MAX {
            self.stats.transmits_dropped += 1;
            return;
        }
        self.transmits.push_back(transmit);
    }

    /// Forgets a closed (or disconnected) session and reports it.
    fn end_session(&mut self, session_id: u64, reason: CloseReason) {
        if let Some(session) = self.sessions.remove(&session_id) {
            if let Some(due_us) = session.timer_us {
                self.timers.remove(&(due_us, session_id));
            }
            if session.readable {
                self.readable.remove(&session_id);
            }
            self.push_event(ServerEvent::Disconnected { session_id, reason });
        }
    }

    /// Feeds one datagram. An `Err` means it was dropped; the data plane counts it by
    /// `PacketError::label`. Call `poll_transmit` afterwards: a reply may be due at once.
    pub fn handle(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        match read_packet_type(bytes)? {
            PacketType::ConnectionRequest => self.handle_request(now_us, from, bytes),
            PacketType::Response => self.handle_response(now_us, from, bytes),
            PacketType::Payload | PacketType::Disconnect => {
                let header = read_sealed_header(bytes)?;
                let session_id = header.session_id;
                let Some(session) = self.sessions.get_mut(&session_id) else {
                    return if header.packet_type == PacketType::Payload {
                        self.handle_resume(now_us, from, bytes, header)
                    } else {
                        Err(PacketError::UnknownSession { session_id })
                    };
                };
                if session.address != from {
                    return Err(PacketError::AddressMismatch { session_id });
                }
                let dropped_before = session.connection.stats().received_messages_dropped;
                let received = session.connection.receive(now_us, bytes);
                let dropped = session.connection.stats().received_messages_dropped - dropped_before;
                self.stats.received_messages_dropped += dropped;
                received?;
                if let Some(reason) = session.connection.closed() {
                    self.end_session(session_id, reason);
                } else {
                    if !session.readable {
                        session.readable = true;
                        self.readable.insert(session_id);
                    }
                    reschedule(&mut self.timers, session_id, session);
                }
                Ok(())
            }
            packet_type @ PacketType::Challenge => Err(PacketError::Unexpected { packet_type }),
        }
    }

    fn remove_pending(&mut self, session_id: u64) -> Option<PendingHandshake> {
        let pending = self.pending.remove(&session_id)?;
        self.pending_by_start.remove(&(pending.started_us, session_id));
        Some(pending)
    }

    pub(super) fn push_handshake_event(&mut self, event: HandshakeEvent) {
        if self.handshake_events.len() >= HANDSHAKE_EVENTS_MAX {
            self.stats.handshake_events_dropped += 1;
            return;
        }
        self.handshake_events.push_back(event);
    }

    /// The next handshake started or abandoned, in order; keep polling until `None`.
    pub fn poll_handshake_event(&mut self) -> Option<HandshakeEvent> {
        self.handshake_events.pop_front()
    }

    fn expire_handshakes(&mut self, now_us: u64) {
        while let Some(&(started_us, session_id)) = self.pending_by_start.first() {
            if now_us.saturating_sub(started_us) < HANDSHAKE_TIMEOUT_US {
                break;
            }
            self.remove_pending(session_id);
            self.stats.handshakes_expired += 1;
            self.push_handshake_event(HandshakeEvent::Abandoned { session_id });
        }
    }

    fn handle_request(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        let request = read_connection_request(bytes)?;
        crate::token::check_expiry(request.expires_at_s, now_us / 1_000_000)?;
        let token = ConnectToken::open(
            &self.config.cluster_key,
            request.expires_at_s,
            request.nonce,
            request.sealed_private,
        )?;
        if !token.server_addresses.contains(&self.config.public_address) {
            return Err(TokenError::WrongServer.into());
        }
        let session_id = token.session_id;
        if let Some(session) = self.sessions.get(&session_id) {
            return if session.address == from {
                Ok(()) // a retransmitted request; the connection's packets answer it
            } else {
                Err(PacketError::AddressMismatch { session_id })
            };
        }
        if !self.has_room() {
            return Err(PacketError::ServerFull {
                connections: self.sessions.len(),
            });
        }
        self.expire_handshakes(now_us);
        if let Some(pending) = self.pending.get(&session_id) {
            if pending.address != from {
                return Err(PacketError::AddressMismatch { session_id });
            }
        } else {
            if self.pending.len() >= PENDING_HANDSHAKES_MAX
                && let Some(&(_, oldest)) = self.pending_by_start.first()
            {
                self.remove_pending(oldest);
                self.stats.handshakes_evicted += 1;
                self.push_handshake_event(HandshakeEvent::Abandoned { session_id: oldest });
            }
            self.challenge_counter += 1;
            let challenge = self.challenge_bytes(session_id, now_us);
            let (zone_id, edge_key) = (token.zone_id, token.edge_key);
            self.pending.insert(
                session_id,
                PendingHandshake {
                    address: from,
                    token,
                    challenge,
                    next_sequence: 0,
                    started_us: now_us,
                },
            );
            self.pending_by_start.insert((now_us, session_id));
            self.push_handshake_event(HandshakeEvent::Started {
                session_id,
                zone_id,
                edge_key,
                address: from,
            });
        }
        let pending = self.pending.get_mut(&session_id).expect("just ensured");
        let mut out = Vec::new();
        seal_packet(
            PacketType::Challenge,
            session_id,
            pending.next_sequence,
            &pending.token.edge_key,
            &pending.token.server_to_client_key,
            &pending.challenge,
            &mut out,
        );
        pending.next_sequence += 1;
        assert!(
            out.len() <= bytes.len(),
            "a challenge must not be larger than its request"
        );
        self.push_transmit(Transmit {
            destination: from,
            bytes: out,
        });
        Ok(())
    }

    fn challenge_bytes(&self, session_id: u64, now_us: u64) -> [u8; CHALLENGE_BYTES] {
        let key0 = u64::from_le_bytes(self.config.challenge_key[0..8].try_into().expect("8 bytes"));
        let key1 = u64::from_le_bytes(self.config.challenge_key[8..16].try_into().expect("8 bytes"));
        let mut challenge = [0u8; CHALLENGE_BYTES];
        for (half, chunk) in challenge.chunks_mut(8).enumerate() {
            let mut hasher = SipHasher24::new_with_keys(key0, key1);
            hasher.write_u64(session_id);
            hasher.write_u64(now_us);
            hasher.write_u64(self.challenge_counter);
            hasher.write_u8(half as u8);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        challenge
    }

    fn handle_response(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        let header = read_sealed_header(bytes)?;
        let session_id = header.session_id;
        if self.sessions.contains_key(&session_id) {
            return Ok(()); // a retransmitted response; the connection's packets answer it
        }
        let pending = self
            .pending
            .get(&session_id)
            .ok_or(PacketError::UnknownSession { session_id })?;
        if pending.address != from {
            return Err(PacketError::AddressMismatch { session_id });
        }
        let mut plaintext = Vec::new();
        open_packet(
            bytes,
            &pending.token.edge_key,
            &pending.token.client_to_server_key,
            &mut plaintext,
        )?;
        if plaintext != pending.challenge {
            return Err(PacketError::BadChallenge);
        }
        if !self.has_room() {
            return Err(PacketError::ServerFull {
                connections: self.sessions.len(),
            });
        }
        let pending = self.remove_pending(session_id).expect("looked up above");
        let mut received = ReplayWindow::default();
        received.mark(header.sequence);
        let token = pending.token;
        let mut connection = Connection::new(
            Side::Server,
            session_id,
            token.server_to_client_key,
            token.client_to_server_key,
            token.edge_key,
            pending.next_sequence,
            received,
            now_us,
        );
        // The welcome packet: an ack-only payload, smaller than the response that caused it.
        let mut welcome = Vec::new();
        let sent = connection.poll_packet(now_us, &mut welcome);
        debug_assert!(sent);
        assert!(
            welcome.len() <= bytes.len(),
            "the welcome must not be larger than the response"
        );
        self.push_transmit(Transmit {
            destination: from,
            bytes: welcome,
        });
        let mut session = ServerSession {
            address: from,
            connection,
            timer_us: None,
            readable: false,
        };
        reschedule(&mut self.timers, session_id, &mut session);
        self.sessions.insert(session_id, session);
        self.push_event(ServerEvent::Connected {
            session_id,
            zone_id: token.zone_id,
            character_id: token.character_id,
            address: from,
        });
        Ok(())
    }

    /// Queues an unreliable message; `poll_transmit` sends it at once.
    pub fn send_unreliable(&mut self, session_id: u64, message: &[u8]) -> Result<(), SendError> {
        let session = self.sessions.get_mut(&session_id).ok_or(SendError::QueueFull)?;
        session.connection.send_unreliable(message)?;
        reschedule(&mut self.timers, session_id, session);
        Ok(())
    }

    /// Queues a reliable message; `poll_transmit` sends it as soon as the in-flight limit allows.
    pub fn send_reliable(&mut self, session_id: u64, message: &[u8]) -> Result<(), SendError> {
        let session = self.sessions.get_mut(&session_id).ok_or(SendError::QueueFull)?;
        session.connection.send_reliable(message)?;
        reschedule(&mut self.timers, session_id, session);
        Ok(())
    }

    /// Ends a session: one sealed `Disconnect` packet carrying `reason` is queued, the session is
    /// forgotten, and `Disconnected { reason: LocalDisconnect(reason) }` is reported.
    pub fn disconnect(&mut self, session_id: u64, reason: DisconnectReason) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        let mut out = Vec::new();
        session.connection.disconnect_packet(reason, &mut out);
        let destination = session.address;
        self.push_transmit(Transmit {
            destination,
            bytes: out,
        });
        self.end_session(session_id, CloseReason::LocalDisconnect(reason));
    }

    /// The earliest time `handle_timeout` or `poll_transmit` has work without new input (a packet
    /// due, a session or handshake timing out); at or before now means at once. `None`: nothing
    /// scheduled. Datagrams queued by `handle` and the `send_*` calls are not timers: call
    /// `poll_transmit` after those.
    pub fn poll_timeout(&self) -> Option<u64> {
        let sessions = self.timers.first().map(|(due_us, _)| *due_us);
        let handshakes = self
            .pending_by_start
            .first()
            .map(|(started_us, _)| started_us.saturating_add(HANDSHAKE_TIMEOUT_US));
        [sessions, handshakes, self.next_resumable_deadline_us()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Ends sessions that timed out (idle for `CONNECTION_TIMEOUT_US`, or a reliable message
    /// undelivered for `RELIABLE_DELIVERY_TIMEOUT_US`) and expires stale handshakes. Only sessions
    /// whose deadline has passed are visited. Resends and keep-alives are sent by `poll_transmit`.
    pub fn handle_timeout(&mut self, now_us: u64) {
        let mut due = std::mem::take(&mut self.due_scratch);
        due.clear();
        due.extend(
            self.timers
                .range(..=(now_us, u64::MAX))
                .map(|(_, session_id)| *session_id),
        );
        for &session_id in &due {
            let session = self
                .sessions
                .get_mut(&session_id)
                .expect("timers list only open sessions");
            if session.connection.handle_timeout(now_us) {
                let reason = session.connection.closed().expect("closed");
                self.end_session(session_id, reason);
            } else {
                reschedule(&mut self.timers, session_id, session);
            }
        }
        self.due_scratch = due;
        self.expire_handshakes(now_us);
        self.expire_resumables(now_us);
    }

    /// The next datagram to send, if any: handshake replies and disconnects first, then the
    /// packets of sessions whose deadline has passed, earliest first (queued messages count as due
    /// at once; keep-alives, resends, delayed acks and pings when their timers say). Call until
    /// `None`. A session found timed out on the way is ended and reported as in `handle_timeout`.
    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        if let Some(transmit) = self.transmits.pop_front() {
            return Some(transmit);
        }
        let mut out = Vec::new();
        while let Some(&(due_us, session_id)) = self.timers.first() {
            if due_us > now_us {
                return None;
            }
            let session = self
                .sessions
                .get_mut(&session_id)
                .expect("timers list only open sessions");
            session.connection.handle_timeout(now_us);
            let sent = session.connection.poll_packet(now_us, &mut out);
            if let Some(reason) = session.connection.closed() {
                self.end_session(session_id, reason);
                continue;
            }
            reschedule(&mut self.timers, session_id, session);
            if sent {
                return Some(Transmit {
                    destination: session.address,
                    bytes: out,
                });
            }
            // Nothing was due after all. `next_timeout_us` mirrors `poll_packet`, so the deadline
            // moved past now; if it did not, move it, or this loop would never end.
            if let Some(stuck_us) = session.timer_us.filter(|due_us| *due_us <= now_us) {
                debug_assert!(
                    false,
                    "session {session_id} due at {stuck_us} but sent nothing at {now_us}"
                );
                self.timers.remove(&(stuck_us, session_id));
                self.timers.insert((now_us + 1, session_id));
                session.timer_us = Some(now_us + 1);
            }
        }
        None
    }

    /// Lifecycle events first (in order), then received messages session by session.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if let Some(event) = self.events.pop_front() {
            if matches!(event, ServerEvent::Disconnected { .. }) {
                self.stats.disconnects_unpolled -= 1;
            }
            return Some(event);
        }
        while let Some(&session_id) = self.readable.first() {
            let session = self
                .sessions
                .get_mut(&session_id)
                .expect("readable lists only open sessions");
            if let Some(message) = session.connection.poll_received() {
                return Some(ServerEvent::Message { session_id, message });
            }
            session.readable = false;
            self.readable.remove(&session_id);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::tests::{NOW_US, client, client_address, connect, handshake, server, server_address};
    use crate::endpoint::{
        CONNECTION_REQUEST_BYTES, CONNECTION_TIMEOUT_US, ClientConnection, ClientDisconnect, ClientState,
        connection_request,
    };
    use crate::token::TOKEN_NONCE_BYTES;
    use crate::token::tests::{CLUSTER_KEY, sample_token};

    #[test]
    fn a_handshake_is_announced_once_with_its_edge_key_and_abandoned_when_it_expires() {
        let mut server = server();
        let token = sample_token(server_address());
        let sealed = token.seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        let mut client = ClientConnection::new(NOW_US, sealed, 0);
        let request = client.poll_transmit(NOW_US).expect("a connection request");
        server.handle(NOW_US, client_address(), &request.bytes).unwrap();
        // A retransmitted request does not announce the handshake again.
        server.handle(NOW_US + 1_000, client_address(), &request.bytes).unwrap();
        assert_eq!(
            server.poll_handshake_event(),
            Some(HandshakeEvent::Started {
                session_id: token.session_id,
                zone_id: token.zone_id,
                edge_key: token.edge_key,
                address: client_address(),
            })
        );
        assert_eq!(server.poll_handshake_event(), None);
        // No response: the handshake expires and is announced as abandoned.
        server.handle_timeout(NOW_US + HANDSHAKE_TIMEOUT_US + 1);
        assert_eq!(
            server.poll_handshake_event(),
            Some(HandshakeEvent::Abandoned {
                session_id: token.session_id
            })
        );
        assert_eq!(server.stats().handshake_events_dropped, 0);
        // A handshake that completes is not abandoned: Connected follows instead.
        let mut server = super::super::tests::server();
        let mut client = ClientConnection::new(NOW_US, token.seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]), 0);
        let now = handshake(&mut server, &mut client);
        server.handle_timeout(now + HANDSHAKE_TIMEOUT_US + 1);
        assert!(matches!(
            server.poll_handshake_event(),
            Some(HandshakeEvent::Started { .. })
        ));
        assert_eq!(server.poll_handshake_event(), None);
        assert!(matches!(server.poll_event(), Some(ServerEvent::Connected { .. })));
    }

    #[test]
    fn a_client_disconnect_frees_the_server_session_at_once() {
        let mut server = server();
        let token = sample_token(server_address()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        let mut client = ClientConnection::new(NOW_US, token, 0);
        assert!(client.disconnect().is_none(), "nothing to end before the handshake");
        let now = handshake(&mut server, &mut client);
        assert_eq!(server.connection_count(), 1);
        while server.poll_event().is_some() {}
        let bye = client.disconnect().expect("a disconnect packet");
        assert_eq!(
            client.state(),
            ClientState::Disconnected(ClientDisconnect::Closed(CloseReason::LocalDisconnect(
                DisconnectReason::Unspecified
            )))
        );
        server.handle(now, client_address(), &bye.bytes).unwrap();
        assert_eq!(server.connection_count(), 0, "freed without waiting for the timeout");
        assert!(matches!(
            server.poll_event(),
            Some(ServerEvent::Disconnected {
                reason: CloseReason::PeerDisconnected(DisconnectReason::Unspecified),
                ..
            })
        ));
        assert!(client.disconnect().is_none(), "only once");
    }

    #[test]
    fn queued_messages_go_at_once_and_timer_packets_exactly_when_due() {
        let mut server = server();
        let token = sample_token(server_address()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        let mut client = ClientConnection::new(NOW_US, token, 0);
        let now = handshake(&mut server, &mut client);
        let session_id = std::iter::from_fn(|| server.poll_event())
            .find_map(|event| match event {
                ServerEvent::Connected { session_id, .. } => Some(session_id),
                _ => None,
            })
            .expect("connected");
        // Off the 10 ms grid the handshake ran on.
        let quiet_from = now + 1_000;
        while server.poll_transmit(quiet_from).is_some() {}
        let deadline = server.poll_timeout().expect("an open session has a deadline");
        assert!(
            deadline > quiet_from,
            "nothing is due right after everything due was sent"
        );
        // A message queued before the deadline goes at once.
        let queued_at = quiet_from + 2_000;
        assert!(queued_at < deadline);
        server.send_unreliable(session_id, b"snapshot").unwrap();
        assert!(
            server.poll_timeout().unwrap() <= queued_at,
            "a queued message is due at once"
        );
        assert!(
            server.poll_transmit(queued_at).is_some(),
            "queued message sent without waiting"
        );
        assert!(server.poll_transmit(queued_at).is_none());
        // With nothing queued, the next packet is the keep-alive, due exactly KEEPALIVE_INTERVAL_US
        // after the last packet: poll_timeout names that time, and it leaves then, not a
        // microsecond earlier.
        let keepalive_at = server.poll_timeout().unwrap();
        assert_eq!(keepalive_at, queued_at + crate::connection::KEEPALIVE_INTERVAL_US);
        assert!(server.poll_transmit(keepalive_at - 1).is_none());
        assert!(server.poll_transmit(keepalive_at).is_some());
        // The client side names its deadlines too: its first packet (the welcome's ack and a clock
        // ping) is due at once, then nothing until the next deadline, when something is.
        assert!(client.poll_timeout().unwrap() <= now);
        while client.poll_transmit(now).is_some() {}
        let client_due = client.poll_timeout().expect("connected client has a deadline");
        assert!(client_due > now, "{client_due} <= {now}");
        assert!(client.poll_transmit(client_due - 1).is_none());
        assert!(client.poll_transmit(client_due).is_some());
    }

    #[test]
    fn the_readable_list_holds_each_session_once() {
        let mut server = server();
        let mut client = client(NOW_US);
        let mut now = connect(&mut server, &mut client, NOW_US);
        while server.poll_event().is_some() {}
        for _ in 0..50 {
            now += 1_000;
            client.send_unreliable(b"input").unwrap();
            let transmit = client.poll_transmit(now).unwrap();
            server.handle(now, client_address(), &transmit.bytes).unwrap();
        }
        assert_eq!(server.readable.len(), 1, "fifty packets, one entry");
        assert_eq!(std::iter::from_fn(|| server.poll_event()).count(), 50);
        assert!(server.readable.is_empty());
    }

    /// Connects `count` sessions (ids 1..=count) at `now`, each through a real handshake, without
    /// polling the server's events.
    fn connect_many(server: &mut ServerEndpoint, count: usize, now: u64) {
        for index in 0..count {
            let mut token = sample_token(server_address());
            token.session_id = index as u64 + 1;
            let mut nonce = [0; TOKEN_NONCE_BYTES];
            nonce[..8].copy_from_slice(&token.session_id.to_le_bytes());
            let mut client = ClientConnection::new(now, token.seal(&CLUSTER_KEY, nonce), 0);
            while client.state() != ClientState::Connected {
                let transmit = client.poll_transmit(now).expect("a handshake packet");
                server.handle(now, client_address(), &transmit.bytes).unwrap();
                while let Some(reply) = server.poll_transmit(now) {
                    client.handle(now, server_address(), &reply.bytes).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_mass_timeout_reports_every_session_and_no_event_is_lost() {
        let sessions = SERVER_CONNECTIONS_MAX;
        let mut server = ServerEndpoint::new(ServerConfig {
            connections_max: sessions,
            ..server().config
        });
        let started = std::time::Instant::now();
        connect_many(&mut server, sessions, NOW_US);
        eprintln!("{sessions} handshakes in {:?}", started.elapsed());
        assert_eq!(server.connection_count(), sessions);
        // Every client falls silent at once; one call times them all out. Nothing was polled, so
        // the queue holds both events of every session: the bound, exactly.
        server.handle_timeout(NOW_US + CONNECTION_TIMEOUT_US + 1);
        assert_eq!(server.connection_count(), 0);
        assert_eq!(server.stats().events_queued, 2 * sessions);
        assert_eq!(server.stats().disconnects_unpolled, sessions);
        let (mut connected, mut disconnected) = (BTreeSet::new(), BTreeSet::new());
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Connected { session_id, .. } => assert!(connected.insert(session_id)),
                ServerEvent::Disconnected {
                    session_id,
                    reason: CloseReason::TimedOut,
                } => {
                    assert!(connected.contains(&session_id), "Disconnected before Connected");
                    assert!(disconnected.insert(session_id));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(disconnected.len(), sessions, "every session left exactly once");
        assert_eq!(connected, disconnected);
        assert_eq!(server.stats().disconnects_unpolled, 0);
        assert_eq!(server.poll_timeout(), None, "nothing left to time");
    }

    #[test]
    fn a_session_keeps_its_place_until_its_disconnect_is_polled() {
        let mut server = ServerEndpoint::new(ServerConfig {
            connections_max: 1,
            ..server().config
        });
        connect_many(&mut server, 1, NOW_US);
        while server.poll_event().is_some() {}
        server.disconnect(1, DisconnectReason::Kicked);
        while server.poll_transmit(NOW_US).is_some() {}
        assert_eq!(server.connection_count(), 0);
        // The application has not heard that session 1 left (its player may still be in a zone),
        // so the place is not given away yet.
        let mut token = sample_token(server_address());
        token.session_id = 2;
        let request = connection_request(&token.seal(&CLUSTER_KEY, [2; TOKEN_NONCE_BYTES]));
        assert_eq!(
            server.handle(NOW_US, client_address(), &request),
            Err(PacketError::ServerFull { connections: 0 })
        );
        assert!(matches!(
            server.poll_event(),
            Some(ServerEvent::Disconnected { session_id: 1, .. })
        ));
        assert_eq!(server.handle(NOW_US, client_address(), &request), Ok(()));
    }

    #[test]
    fn bad_requests_are_refused_without_reply() {
        let mut server = server();
        let token = sample_token(server_address()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        let request = connection_request(&token);
        assert_eq!(request.len(), CONNECTION_REQUEST_BYTES);
        // Expired.
        let late = (token.token.expires_at_s + 1) * 1_000_000;
        assert!(matches!(
            server.handle(late, client_address(), &request),
            Err(PacketError::Token(TokenError::Expired { .. }))
        ));
        // Expiring further ahead than a token lives (a day).
        let mut far = sample_token(server_address());
        far.expires_at_s = NOW_US / 1_000_000 + 86_400;
        let far = far.seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        assert_eq!(
            server.handle(NOW_US, client_address(), &connection_request(&far)),
            Err(PacketError::Token(TokenError::ExpiryTooFar {
                expires_at_s: far.token.expires_at_s
            }))
        );
        // Wrong length.
        assert!(matches!(
            server.handle(NOW_US, client_address(), &request[..500]),
            Err(PacketError::BadRequestSize { bytes: 500 })
        ));
        // Sealed for another cluster.
        let foreign = sample_token(server_address()).seal(&[1; CLUSTER_KEY_BYTES], [9; TOKEN_NONCE_BYTES]);
        assert!(matches!(
            server.handle(NOW_US, client_address(), &connection_request(&foreign)),
            Err(PacketError::Token(TokenError::BadSeal))
        ));
        // For another server.
        let elsewhere = sample_token("10.9.9.9:1".parse().unwrap()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        let mut other = ServerEndpoint::new(ServerConfig {
            public_address: "10.0.0.2:7777".parse().unwrap(),
            ..server.config.clone()
        });
        assert!(matches!(
            other.handle(NOW_US, client_address(), &connection_request(&elsewhere)),
            Err(PacketError::Token(TokenError::WrongServer))
        ));
        // A response with a wrong challenge.
        server.handle(NOW_US, client_address(), &request).unwrap();
        let challenge = server.poll_transmit(NOW_US).unwrap();
        assert!(challenge.bytes.len() <= request.len());
        let mut forged = Vec::new();
        seal_packet(
            PacketType::Response,
            token.token.session_id,
            0,
            &token.token.edge_key,
            &token.token.client_to_server_key,
            &[0; 16],
            &mut forged,
        );
        assert_eq!(
            server.handle(NOW_US, client_address(), &forged),
            Err(PacketError::BadChallenge)
        );
        assert_eq!(server.poll_transmit(NOW_US), None);
        assert_eq!(server.connection_count(), 0);
    }

    #[test]
    fn idle_sessions_time_out() {
        let mut server = server();
        let mut client = client(NOW_US);
        let now = connect(&mut server, &mut client, NOW_US);
        server.poll_event();
        let deadline = now + CONNECTION_TIMEOUT_US + 1;
        assert!(server.poll_timeout().unwrap() <= deadline);
        server.handle_timeout(deadline - 1);
        while server.poll_transmit(deadline - 1).is_some() {}
        assert_eq!(server.connection_count(), 1, "not a microsecond early");
        server.handle_timeout(deadline);
        assert_eq!(
            server.poll_event(),
            Some(ServerEvent::Disconnected {
                session_id: 0xfeed_0000_0000_0001,
                reason: CloseReason::TimedOut
            })
        );
        assert_eq!(server.connection_count(), 0);
    }
}
