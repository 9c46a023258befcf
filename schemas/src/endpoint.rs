//! The sans-IO endpoints: [`ServerEndpoint`] (one per worker socket) and [`ClientConnection`].
//!
//! Both are state machines in the manner of quinn-proto: `handle(now, from, bytes)` feeds a datagram,
//! `poll_transmit(now)` hands back datagrams to send, `poll_event()` hands back what happened. Time
//! is microseconds since the Unix epoch (token expiry is wall-clock), passed in by the caller.
//!
//! Handshake (netcode.io model, no amplification: every packet the server sends before the client is
//! authenticated is smaller than the packet that caused it):
//! 1. client → server `ConnectionRequest` (fixed `CONNECTION_REQUEST_BYTES`, carries the sealed token);
//! 2. server → client `Challenge`, sealed with the server→client key, carrying 16 unpredictable bytes;
//! 3. client → server `Response`, sealed with the client→server key, echoing them;
//! 4. server → client `Payload` packets; the first one tells the client it is connected.

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hasher;
use std::net::SocketAddr;

use siphasher::sip::SipHasher24;

use crate::connection::{CloseReason, Connection, Received, SendError, Side};
use crate::packet::{
    PACKET_MAGIC, PacketError, PacketType, ReplayWindow, SEALED_HEADER_BYTES, open_packet, read_packet_type,
    read_sealed_header, seal_packet, version_and_type_byte,
};
use crate::token::{
    CLUSTER_KEY_BYTES, ClientToken, ConnectToken, TOKEN_NONCE_BYTES, TOKEN_PRIVATE_SEALED_BYTES, TokenError,
};

/// Connection requests are padded to this size so that no reply is larger than a request.
pub const CONNECTION_REQUEST_BYTES: usize = 1024;
pub const CHALLENGE_BYTES: usize = 16;
/// Handshakes in progress per server endpoint; the oldest is dropped when full.
pub const PENDING_HANDSHAKES_MAX: usize = 1024;
/// Connections per server endpoint: a zone is sized for about 2,000 players and a worker may own
/// several zones.
pub const SERVER_CONNECTIONS_MAX: usize = 8192;
pub const SERVER_EVENTS_MAX: usize = 4096;
pub const HANDSHAKE_RESEND_US: u64 = 100_000;
pub const HANDSHAKE_TIMEOUT_US: u64 = 5_000_000;
pub const CONNECTION_TIMEOUT_US: u64 = 5_000_000;

const REQUEST_TOKEN_START: usize = 2 + 8 + TOKEN_NONCE_BYTES;
const _: () = assert!(REQUEST_TOKEN_START + TOKEN_PRIVATE_SEALED_BYTES <= CONNECTION_REQUEST_BYTES);
const _: () = assert!(CONNECTION_REQUEST_BYTES <= crate::DATAGRAM_BYTES_MAX);

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Builds the fixed-size connection request for a token.
pub fn connection_request(token: &ClientToken) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONNECTION_REQUEST_BYTES);
    out.push(PACKET_MAGIC);
    out.push(version_and_type_byte(PacketType::ConnectionRequest));
    out.extend_from_slice(&token.token.expires_at_s.to_le_bytes());
    out.extend_from_slice(&token.nonce);
    out.extend_from_slice(&token.sealed_private);
    out.resize(CONNECTION_REQUEST_BYTES, 0);
    out
}

/// A parsed connection request (the token is still sealed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionRequest<'a> {
    pub expires_at_s: u64,
    pub nonce: &'a [u8; TOKEN_NONCE_BYTES],
    pub sealed_private: &'a [u8],
}

/// Total decoder of a connection request's framing.
pub fn read_connection_request(bytes: &[u8]) -> Result<ConnectionRequest<'_>, PacketError> {
    let packet_type = read_packet_type(bytes)?;
    if packet_type != PacketType::ConnectionRequest {
        return Err(PacketError::Unexpected { packet_type });
    }
    if bytes.len() != CONNECTION_REQUEST_BYTES {
        return Err(PacketError::BadRequestSize { bytes: bytes.len() });
    }
    Ok(ConnectionRequest {
        expires_at_s: u64::from_le_bytes(bytes[2..10].try_into().expect("8 bytes")),
        nonce: bytes[10..REQUEST_TOKEN_START].try_into().expect("24 bytes"),
        sealed_private: &bytes[REQUEST_TOKEN_START..REQUEST_TOKEN_START + TOKEN_PRIVATE_SEALED_BYTES],
    })
}

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
        address: SocketAddr,
    },
    Disconnected {
        session_id: u64,
        reason: CloseReason,
    },
    Message {
        session_id: u64,
        message: Received,
    },
}

struct PendingHandshake {
    address: SocketAddr,
    token: ConnectToken,
    challenge: [u8; CHALLENGE_BYTES],
    next_sequence: u64,
    started_us: u64,
}

struct ServerSession {
    address: SocketAddr,
    connection: Connection,
    /// Listed in `ServerEndpoint::woken`.
    woken: bool,
}

/// How often a server endpoint checks every session for packets that only a timer makes due
/// (keep-alives every 100 ms, reliable resends after ≥ 30 ms, acks delayed up to 60 ms): such a
/// packet leaves at most this late. Packets due to traffic (a message queued, a packet received)
/// are found at once through the woken list.
pub const TIMER_SWEEP_INTERVAL_US: u64 = 5_000;

/// The first of `sessions` with a packet due at `now_us`, which is written to `out`: its id and
/// address.
fn first_due<'a>(
    sessions: impl Iterator<Item = (&'a u64, &'a mut ServerSession)>,
    now_us: u64,
    out: &mut Vec<u8>,
) -> Option<(u64, SocketAddr)> {
    for (session_id, session) in sessions {
        if session.connection.poll_packet(now_us, out) {
            return Some((*session_id, session.address));
        }
    }
    None
}

fn wake(woken: &mut VecDeque<u64>, session_id: u64, session: &mut ServerSession) {
    if !session.woken {
        session.woken = true;
        woken.push_back(session_id);
    }
}

pub struct ServerEndpoint {
    config: ServerConfig,
    pending: BTreeMap<u64, PendingHandshake>,
    sessions: BTreeMap<u64, ServerSession>,
    events: VecDeque<ServerEvent>,
    readable: VecDeque<u64>,
    transmits: VecDeque<Transmit>,
    /// Sessions that may have a packet due now: they received one or had a message queued. Each is
    /// listed once (`ServerSession::woken`), so the list never outgrows the session table.
    woken: VecDeque<u64>,
    /// When every session is next checked for packets its timers make due (keep-alives, resends,
    /// delayed acks); see `TIMER_SWEEP_INTERVAL_US`.
    next_sweep_us: u64,
    transmit_cursor: u64,
    challenge_counter: u64,
    events_dropped: u64,
}

impl ServerEndpoint {
    pub fn new(config: ServerConfig) -> Self {
        assert!(config.connections_max <= SERVER_CONNECTIONS_MAX);
        ServerEndpoint {
            config,
            pending: BTreeMap::new(),
            sessions: BTreeMap::new(),
            events: VecDeque::new(),
            readable: VecDeque::new(),
            transmits: VecDeque::new(),
            woken: VecDeque::new(),
            next_sweep_us: 0,
            transmit_cursor: 0,
            challenge_counter: 0,
            events_dropped: 0,
        }
    }

    pub fn connection_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn connection(&self, session_id: u64) -> Option<&Connection> {
        self.sessions.get(&session_id).map(|session| &session.connection)
    }

    fn push_event(&mut self, event: ServerEvent) {
        if self.events.len() >= SERVER_EVENTS_MAX {
            self.events_dropped += 1;
            return;
        }
        self.events.push_back(event);
    }

    /// Feeds one datagram. An `Err` means it was dropped; the data plane counts it by reason.
    pub fn handle(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        match read_packet_type(bytes)? {
            PacketType::ConnectionRequest => self.handle_request(now_us, from, bytes),
            PacketType::Response => self.handle_response(now_us, from, bytes),
            PacketType::Payload | PacketType::Disconnect => {
                let header = read_sealed_header(bytes)?;
                let session = self
                    .sessions
                    .get_mut(&header.session_id)
                    .ok_or(PacketError::UnknownSession {
                        session_id: header.session_id,
                    })?;
                if session.address != from {
                    return Err(PacketError::AddressMismatch {
                        session_id: header.session_id,
                    });
                }
                session.connection.receive(now_us, bytes)?;
                if let Some(reason) = session.connection.closed() {
                    self.sessions.remove(&header.session_id);
                    self.push_event(ServerEvent::Disconnected {
                        session_id: header.session_id,
                        reason,
                    });
                } else {
                    if self.readable.back() != Some(&header.session_id) {
                        self.readable.push_back(header.session_id);
                    }
                    wake(&mut self.woken, header.session_id, session);
                }
                Ok(())
            }
            packet_type @ PacketType::Challenge => Err(PacketError::Unexpected { packet_type }),
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
        if self.sessions.len() >= self.config.connections_max {
            return Err(PacketError::ServerFull {
                connections: self.sessions.len(),
            });
        }
        self.pending
            .retain(|_, pending| now_us.saturating_sub(pending.started_us) < HANDSHAKE_TIMEOUT_US);
        if let Some(pending) = self.pending.get(&session_id) {
            if pending.address != from {
                return Err(PacketError::AddressMismatch { session_id });
            }
        } else {
            if self.pending.len() >= PENDING_HANDSHAKES_MAX {
                let oldest = self
                    .pending
                    .iter()
                    .min_by_key(|(_, pending)| pending.started_us)
                    .map(|(id, _)| *id);
                if let Some(oldest) = oldest {
                    self.pending.remove(&oldest);
                }
            }
            self.challenge_counter += 1;
            let challenge = self.challenge_bytes(session_id, now_us);
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
        self.transmits.push_back(Transmit {
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
        if self.sessions.len() >= self.config.connections_max {
            return Err(PacketError::ServerFull {
                connections: self.sessions.len(),
            });
        }
        let pending = self.pending.remove(&session_id).expect("looked up above");
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
        self.transmits.push_back(Transmit {
            destination: from,
            bytes: welcome,
        });
        self.sessions.insert(
            session_id,
            ServerSession {
                address: from,
                connection,
                woken: false,
            },
        );
        self.push_event(ServerEvent::Connected {
            session_id,
            zone_id: token.zone_id,
            address: from,
        });
        Ok(())
    }

    pub fn send_unreliable(&mut self, session_id: u64, message: &[u8]) -> Result<(), SendError> {
        match self.sessions.get_mut(&session_id) {
            Some(session) => {
                session.connection.send_unreliable(message)?;
                wake(&mut self.woken, session_id, session);
                Ok(())
            }
            None => Err(SendError::QueueFull),
        }
    }

    pub fn send_reliable(&mut self, session_id: u64, message: &[u8]) -> Result<(), SendError> {
        match self.sessions.get_mut(&session_id) {
            Some(session) => {
                session.connection.send_reliable(message)?;
                wake(&mut self.woken, session_id, session);
                Ok(())
            }
            None => Err(SendError::QueueFull),
        }
    }

    /// Ends a session: one sealed `Disconnect` packet is queued, the session is forgotten.
    pub fn disconnect(&mut self, session_id: u64) {
        if let Some(mut session) = self.sessions.remove(&session_id) {
            let mut out = Vec::new();
            session.connection.disconnect_packet(&mut out);
            self.transmits.push_back(Transmit {
                destination: session.address,
                bytes: out,
            });
            self.push_event(ServerEvent::Disconnected {
                session_id,
                reason: CloseReason::LocalDisconnect,
            });
        }
    }

    /// Times out idle sessions and closed ones. Call once per tick.
    pub fn update(&mut self, now_us: u64) {
        let mut ended = Vec::new();
        for (session_id, session) in &mut self.sessions {
            if now_us.saturating_sub(session.connection.last_received_us()) > CONNECTION_TIMEOUT_US {
                session.connection.close(CloseReason::TimedOut);
            }
            if let Some(reason) = session.connection.closed() {
                ended.push((*session_id, reason));
            }
        }
        for (session_id, reason) in ended {
            self.sessions.remove(&session_id);
            self.push_event(ServerEvent::Disconnected { session_id, reason });
        }
        self.pending
            .retain(|_, pending| now_us.saturating_sub(pending.started_us) < HANDSHAKE_TIMEOUT_US);
    }

    /// The next datagram to send, if any: handshake replies first, then the packets of sessions
    /// that received or were given something, then — at most every `TIMER_SWEEP_INTERVAL_US` —
    /// whatever the other sessions' timers made due. A worker polls after every receive burst;
    /// checking every session each time cost a scan of the whole table per burst.
    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        if let Some(transmit) = self.transmits.pop_front() {
            return Some(transmit);
        }
        let mut out = Vec::new();
        while let Some(&session_id) = self.woken.front() {
            if let Some(session) = self.sessions.get_mut(&session_id) {
                if session.connection.poll_packet(now_us, &mut out) {
                    // Left at the front: it may have more to send.
                    return Some(Transmit { destination: session.address, bytes: out });
                }
                session.woken = false;
            }
            self.woken.pop_front();
        }
        if now_us < self.next_sweep_us {
            return None;
        }
        let cursor = self.transmit_cursor;
        // From the cursor to the end, then wrap around, so no session starves the others.
        let due = first_due(self.sessions.range_mut(cursor..), now_us, &mut out)
            .or_else(|| first_due(self.sessions.range_mut(..cursor), now_us, &mut out));
        match due {
            Some((session_id, destination)) => {
                self.transmit_cursor = session_id;
                Some(Transmit { destination, bytes: out })
            }
            None => {
                self.next_sweep_us = now_us.saturating_add(TIMER_SWEEP_INTERVAL_US);
                None
            }
        }
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        while let Some(session_id) = self.readable.front().copied() {
            if let Some(message) = self
                .sessions
                .get_mut(&session_id)
                .and_then(|session| session.connection.poll_received())
            {
                return Some(ServerEvent::Message { session_id, message });
            }
            self.readable.pop_front();
        }
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    SendingRequest,
    SendingResponse,
    Connected,
    Disconnected(ClientDisconnect),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientDisconnect {
    TokenExpired,
    HandshakeTimedOut,
    Closed(CloseReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    Connected,
    Disconnected(ClientDisconnect),
    Message(Received),
}

pub struct ClientConnection {
    token: ClientToken,
    server: SocketAddr,
    state: ClientState,
    challenge: Option<[u8; CHALLENGE_BYTES]>,
    next_sequence: u64,
    received: ReplayWindow,
    started_us: u64,
    last_handshake_sent_us: Option<u64>,
    connection: Option<Connection>,
    events: VecDeque<ClientEvent>,
}

impl ClientConnection {
    /// Starts connecting to `token.token.server_addresses[server_index]`.
    pub fn new(now_us: u64, token: ClientToken, server_index: usize) -> Self {
        let server = token.token.server_addresses[server_index];
        ClientConnection {
            token,
            server,
            state: ClientState::SendingRequest,
            challenge: None,
            next_sequence: 0,
            received: ReplayWindow::default(),
            started_us: now_us,
            last_handshake_sent_us: None,
            connection: None,
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    /// Ends the session cleanly: returns one sealed `Disconnect` packet for the server (which then
    /// frees the session at once instead of after `CONNECTION_TIMEOUT_US`). `None` if not connected.
    pub fn disconnect(&mut self) -> Option<Transmit> {
        let connection = self.connection.as_mut().filter(|_| self.state == ClientState::Connected)?;
        let mut bytes = Vec::new();
        connection.disconnect_packet(&mut bytes);
        self.end(ClientDisconnect::Closed(CloseReason::LocalDisconnect));
        Some(Transmit { destination: self.server, bytes })
    }

    fn end(&mut self, reason: ClientDisconnect) {
        if !matches!(self.state, ClientState::Disconnected(_)) {
            self.state = ClientState::Disconnected(reason);
            self.events.push_back(ClientEvent::Disconnected(reason));
        }
    }

    pub fn handle(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) -> Result<(), PacketError> {
        if from != self.server {
            return Err(PacketError::AddressMismatch {
                session_id: self.token.token.session_id,
            });
        }
        let header = read_sealed_header(bytes)?;
        let token = &self.token.token;
        if header.session_id != token.session_id {
            return Err(PacketError::UnknownSession {
                session_id: header.session_id,
            });
        }
        match (self.state, header.packet_type) {
            (ClientState::SendingRequest | ClientState::SendingResponse, PacketType::Challenge) => {
                self.received.check(header.sequence)?;
                let mut plaintext = Vec::new();
                open_packet(bytes, &token.edge_key, &token.server_to_client_key, &mut plaintext)?;
                let challenge: [u8; CHALLENGE_BYTES] = plaintext.try_into().map_err(|_| PacketError::BadChallenge)?;
                self.received.mark(header.sequence);
                self.challenge = Some(challenge);
                if self.state == ClientState::SendingRequest {
                    self.state = ClientState::SendingResponse;
                    self.last_handshake_sent_us = None; // answer at once
                }
                Ok(())
            }
            (ClientState::SendingResponse, PacketType::Payload) => {
                let mut connection = Connection::new(
                    Side::Client,
                    token.session_id,
                    token.client_to_server_key,
                    token.server_to_client_key,
                    token.edge_key,
                    self.next_sequence,
                    self.received.clone(),
                    now_us,
                );
                connection.receive(now_us, bytes)?;
                self.connection = Some(connection);
                self.state = ClientState::Connected;
                self.events.push_back(ClientEvent::Connected);
                self.drain_messages();
                Ok(())
            }
            (ClientState::Connected, PacketType::Payload | PacketType::Disconnect) => {
                let connection = self.connection.as_mut().expect("connected");
                connection.receive(now_us, bytes)?;
                if let Some(reason) = connection.closed() {
                    self.end(ClientDisconnect::Closed(reason));
                }
                self.drain_messages();
                Ok(())
            }
            (_, packet_type) => Err(PacketError::Unexpected { packet_type }),
        }
    }

    fn drain_messages(&mut self) {
        if let Some(connection) = self.connection.as_mut() {
            while let Some(message) = connection.poll_received() {
                self.events.push_back(ClientEvent::Message(message));
            }
        }
    }

    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Transmit> {
        if matches!(self.state, ClientState::SendingRequest | ClientState::SendingResponse) {
            if now_us / 1_000_000 >= self.token.token.expires_at_s && self.state == ClientState::SendingRequest {
                self.end(ClientDisconnect::TokenExpired);
                return None;
            }
            if now_us.saturating_sub(self.started_us) > HANDSHAKE_TIMEOUT_US {
                self.end(ClientDisconnect::HandshakeTimedOut);
                return None;
            }
        }
        match self.state {
            ClientState::SendingRequest | ClientState::SendingResponse => {
                if self
                    .last_handshake_sent_us
                    .is_some_and(|sent| now_us.saturating_sub(sent) < HANDSHAKE_RESEND_US)
                {
                    return None;
                }
                self.last_handshake_sent_us = Some(now_us);
                let bytes = if self.state == ClientState::SendingRequest {
                    connection_request(&self.token)
                } else {
                    let token = &self.token.token;
                    let mut out = Vec::new();
                    let challenge = self.challenge.expect("challenge received");
                    seal_packet(
                        PacketType::Response,
                        token.session_id,
                        self.next_sequence,
                        &token.edge_key,
                        &token.client_to_server_key,
                        &challenge,
                        &mut out,
                    );
                    self.next_sequence += 1;
                    out
                };
                Some(Transmit {
                    destination: self.server,
                    bytes,
                })
            }
            ClientState::Connected => {
                let connection = self.connection.as_mut().expect("connected");
                if now_us.saturating_sub(connection.last_received_us()) > CONNECTION_TIMEOUT_US {
                    connection.close(CloseReason::TimedOut);
                }
                let mut out = Vec::new();
                if connection.poll_packet(now_us, &mut out) {
                    return Some(Transmit {
                        destination: self.server,
                        bytes: out,
                    });
                }
                if let Some(reason) = connection.closed() {
                    self.end(ClientDisconnect::Closed(reason));
                }
                None
            }
            ClientState::Disconnected(_) => None,
        }
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    pub fn send_unreliable(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.connection
            .as_mut()
            .ok_or(SendError::QueueFull)?
            .send_unreliable(message)
    }

    pub fn send_reliable(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.connection
            .as_mut()
            .ok_or(SendError::QueueFull)?
            .send_reliable(message)
    }
}

const _: () = assert!(SEALED_HEADER_BYTES + CHALLENGE_BYTES + crate::packet::AEAD_TAG_BYTES < CONNECTION_REQUEST_BYTES);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{CLUSTER_KEY, sample_token};

    const NOW_US: u64 = 1_000_000 * 1_000_000; // token expires at 1_000_030 s

    fn server_address() -> SocketAddr {
        "10.0.0.1:7777".parse().unwrap()
    }

    fn client_address() -> SocketAddr {
        "192.0.2.7:50000".parse().unwrap()
    }

    fn server() -> ServerEndpoint {
        ServerEndpoint::new(ServerConfig {
            cluster_key: CLUSTER_KEY,
            challenge_key: [0x11; 16],
            public_address: server_address(),
            connections_max: 16,
        })
    }

    fn client(now_us: u64) -> ClientConnection {
        let token = sample_token(server_address()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        ClientConnection::new(now_us, token, 0)
    }

    /// Runs client and server against each other; every server reply produced while handling a client
    /// datagram is checked against that datagram's size before the client's connection is trusted.
    fn connect(server: &mut ServerEndpoint, client: &mut ClientConnection, mut now: u64) -> u64 {
        for _ in 0..20 {
            now += 10_000;
            while let Some(transmit) = client.poll_transmit(now) {
                let request_len = transmit.bytes.len();
                let _ = server.handle(now, client_address(), &transmit.bytes);
                while let Some(reply) = server.poll_transmit(now) {
                    if client.state() != ClientState::Connected {
                        assert!(
                            reply.bytes.len() <= request_len,
                            "amplification: {} > {}",
                            reply.bytes.len(),
                            request_len
                        );
                    }
                    assert_eq!(reply.destination, client_address());
                    client.handle(now, server_address(), &reply.bytes).unwrap();
                }
            }
            if client.state() == ClientState::Connected {
                return now;
            }
        }
        panic!("no connection after 20 steps: {:?}", client.state());
    }

    #[test]
    fn handshake_connects_without_amplification_and_carries_messages() {
        let mut server = server();
        let mut client = client(NOW_US);
        let now = connect(&mut server, &mut client, NOW_US);
        assert_eq!(client.poll_event(), Some(ClientEvent::Connected));
        assert_eq!(
            server.poll_event(),
            Some(ServerEvent::Connected {
                session_id: 0xfeed_0000_0000_0001,
                zone_id: 17,
                address: client_address()
            })
        );
        client.send_reliable(b"attack 42").unwrap();
        client.send_unreliable(b"input").unwrap();
        let transmit = client.poll_transmit(now).unwrap();
        server.handle(now, client_address(), &transmit.bytes).unwrap();
        let mut messages = Vec::new();
        while let Some(event) = server.poll_event() {
            messages.push(event);
        }
        assert!(messages.contains(&ServerEvent::Message {
            session_id: 0xfeed_0000_0000_0001,
            message: Received::Reliable(b"attack 42".to_vec())
        }));
        assert!(messages.contains(&ServerEvent::Message {
            session_id: 0xfeed_0000_0000_0001,
            message: Received::Unreliable(b"input".to_vec())
        }));
        // The same datagram again is a replay.
        assert!(matches!(
            server.handle(now, client_address(), &transmit.bytes),
            Err(PacketError::Replayed { .. })
        ));
        // From another address it is refused before decryption.
        assert!(matches!(
            server.handle(now, "192.0.2.8:1".parse().unwrap(), &transmit.bytes),
            Err(PacketError::AddressMismatch { .. })
        ));
        server.send_reliable(0xfeed_0000_0000_0001, b"you hit").unwrap();
        let reply = server.poll_transmit(now).unwrap();
        client.handle(now, server_address(), &reply.bytes).unwrap();
        assert_eq!(
            client.poll_event(),
            Some(ClientEvent::Message(Received::Reliable(b"you hit".to_vec())))
        );
        server.disconnect(0xfeed_0000_0000_0001);
        let bye = server.poll_transmit(now).unwrap();
        client.handle(now, server_address(), &bye.bytes).unwrap();
        assert_eq!(
            client.state(),
            ClientState::Disconnected(ClientDisconnect::Closed(CloseReason::PeerDisconnected))
        );
    }

    /// Runs the handshake on a lossless link in 10 ms steps; returns the time it ended.
    fn handshake(server: &mut ServerEndpoint, client: &mut ClientConnection) -> u64 {
        let mut now = NOW_US;
        while client.state() != ClientState::Connected && now < NOW_US + 1_000_000 {
            while let Some(transmit) = client.poll_transmit(now) {
                server.handle(now, client_address(), &transmit.bytes).unwrap();
            }
            while let Some(reply) = server.poll_transmit(now) {
                client.handle(now, server_address(), &reply.bytes).unwrap();
            }
            now += 10_000;
        }
        now
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
        assert_eq!(client.state(), ClientState::Disconnected(ClientDisconnect::Closed(CloseReason::LocalDisconnect)));
        server.handle(now, client_address(), &bye.bytes).unwrap();
        assert_eq!(server.connection_count(), 0, "freed without waiting for the timeout");
        assert!(matches!(server.poll_event(), Some(ServerEvent::Disconnected { .. })));
        assert!(client.disconnect().is_none(), "only once");
    }

    #[test]
    fn queued_messages_go_at_once_and_timer_packets_at_the_next_sweep() {
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
        // Off the 10 ms grid the handshake ran on, so timer deadlines (set on that grid) fall
        // between sweeps.
        let quiet_from = now + 1_000;
        while server.poll_transmit(quiet_from).is_some() {}
        // A sweep just found nothing; a message queued 2 ms later still goes at once.
        let queued_at = quiet_from + 2_000;
        server.send_unreliable(session_id, b"snapshot").unwrap();
        assert!(server.poll_transmit(queued_at).is_some(), "queued message sent without waiting for a sweep");
        assert!(server.poll_transmit(queued_at).is_none());
        // With nothing queued, the next packet is one a timer made due (the keep-alive, 100 ms
        // after the message, off the sweep grid), and it is found by a sweep: sweeps run every
        // TIMER_SWEEP_INTERVAL_US from the last one, even though this polls every millisecond.
        let mut timer_packet_at = None;
        for step in 3..=200 {
            let at = quiet_from + step * 1_000;
            if server.poll_transmit(at).is_some() {
                timer_packet_at = Some(at);
                break;
            }
        }
        let at = timer_packet_at.expect("a timer-driven packet within 200 ms");
        assert!(at - quiet_from <= crate::connection::KEEPALIVE_INTERVAL_US + TIMER_SWEEP_INTERVAL_US, "sent {} µs after", at - quiet_from);
        assert_eq!((at - quiet_from) % TIMER_SWEEP_INTERVAL_US, 0, "sent only by a sweep");
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
        server.update(now + CONNECTION_TIMEOUT_US + 1);
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
