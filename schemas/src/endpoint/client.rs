//! [`ClientConnection`]: the client's side of one session, from the first `ConnectionRequest` to
//! the end.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::{CHALLENGE_BYTES, HANDSHAKE_RESEND_US, HANDSHAKE_TIMEOUT_US, Transmit, connection_request};
use crate::connection::{CloseReason, Connection, Received, SendError, Side};
use crate::packet::{
    DisconnectReason, PacketError, PacketType, ReplayWindow, open_packet, read_sealed_header, seal_packet,
};
use crate::token::ClientToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    SendingRequest,
    SendingResponse,
    Connected,
    Disconnected(ClientDisconnect),
}

/// Why a client's session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientDisconnect {
    TokenExpired,
    HandshakeTimedOut,
    /// The server ended the session and said why (`Disconnect` packet with a reason code).
    ByServer(DisconnectReason),
    /// Ended on this side: `TimedOut`, `ReliableTimeout` or `LocalDisconnect` (a server's
    /// `Disconnect` is `ByServer`, never `Closed(PeerDisconnected)`).
    Closed(CloseReason),
}

impl From<CloseReason> for ClientDisconnect {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::PeerDisconnected(reason) => ClientDisconnect::ByServer(reason),
            other => ClientDisconnect::Closed(other),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    Connected,
    /// The session moved to another server after a failover and goes on there (same session, same
    /// keys; PROTOCOL.md, "Session resume after failover"). Game state resynchronises: the new
    /// server has no acked snapshot baseline.
    Resumed,
    /// After every message received before the session ended.
    Disconnected(ClientDisconnect),
    Message(Received),
}

/// Lifecycle events a client can hold: one `Connected`, one `Resumed` (more while one waits are
/// dropped: the application needs to hear it once), one `Disconnected`. Messages are not queued
/// here but handed out from the connection's own bounded queue (`RECEIVED_MESSAGES_MAX`, overflow
/// counted in `ConnectionStats::received_messages_dropped`), so the client's events are bounded too.
pub const CLIENT_EVENTS_MAX: usize = 3;

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
    /// Silence tolerated once connected (`set_idle_timeout_us`).
    idle_timeout_us: u64,
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
            idle_timeout_us: crate::connection::CONNECTION_TIMEOUT_US,
        }
    }

    /// How long a connected session waits for a silent server before it ends as timed out (at
    /// least `CONNECTION_TIMEOUT_US`): longer lets it ride out a failover, keeping its session,
    /// keys and sequences (and sending keep-alives) until the zone's new server resumes it.
    pub fn set_idle_timeout_us(&mut self, idle_timeout_us: u64) {
        self.idle_timeout_us = idle_timeout_us;
        if let Some(connection) = &mut self.connection {
            connection.set_idle_timeout_us(idle_timeout_us);
        }
    }

    /// The server address packets go to and are accepted from.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }

    /// Sends to, and accepts packets only from, `server` from now on: the application's answer to
    /// a failover when the new server has another address. In a deployment behind anycast the
    /// address does not change (the VIP is routed to the other PoP) and nothing needs calling.
    pub fn set_server_addr(&mut self, server: SocketAddr) {
        self.server = server;
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
        let connection = self
            .connection
            .as_mut()
            .filter(|_| self.state == ClientState::Connected)?;
        let mut bytes = Vec::new();
        connection.disconnect_packet(DisconnectReason::Unspecified, &mut bytes);
        self.end(ClientDisconnect::Closed(CloseReason::LocalDisconnect(
            DisconnectReason::Unspecified,
        )));
        Some(Transmit {
            destination: self.server,
            bytes,
        })
    }

    fn end(&mut self, reason: ClientDisconnect) {
        if !matches!(self.state, ClientState::Disconnected(_)) {
            self.state = ClientState::Disconnected(reason);
            self.push_event(ClientEvent::Disconnected(reason));
        }
    }

    fn push_event(&mut self, event: ClientEvent) {
        // Connected once, Disconnected once, Resumed at most once while queued: no more fit.
        assert!(
            self.events.len() < CLIENT_EVENTS_MAX,
            "more than one Connected, Resumed and Disconnected"
        );
        self.events.push_back(event);
    }

    /// When `poll_transmit` next has something to do without new input (a handshake resend, a
    /// packet due, a timeout); at or before now means at once. `None` once disconnected.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            ClientState::SendingRequest | ClientState::SendingResponse => {
                let resend_us = self
                    .last_handshake_sent_us
                    .map_or(self.started_us, |sent_us| sent_us.saturating_add(HANDSHAKE_RESEND_US));
                let give_up_us = self.started_us.saturating_add(HANDSHAKE_TIMEOUT_US + 1);
                let mut due_us = resend_us.min(give_up_us);
                if self.state == ClientState::SendingRequest {
                    due_us = due_us.min(self.token.token.expires_at_s.saturating_mul(1_000_000));
                }
                Some(due_us)
            }
            ClientState::Connected => self.connection.as_ref().and_then(Connection::next_timeout_us),
            ClientState::Disconnected(_) => None,
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
                connection.set_idle_timeout_us(self.idle_timeout_us);
                self.connection = Some(connection);
                self.state = ClientState::Connected;
                self.push_event(ClientEvent::Connected);
                Ok(())
            }
            (ClientState::Connected, PacketType::Payload | PacketType::Disconnect) => {
                let connection = self.connection.as_mut().expect("connected");
                connection.receive(now_us, bytes)?;
                if connection.take_resumed() && !self.events.contains(&ClientEvent::Resumed) {
                    self.push_event(ClientEvent::Resumed);
                }
                let connection = self.connection.as_mut().expect("connected");
                if let Some(reason) = connection.closed() {
                    self.end(reason.into());
                }
                Ok(())
            }
            (_, packet_type) => Err(PacketError::Unexpected { packet_type }),
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
                connection.handle_timeout(now_us);
                let mut out = Vec::new();
                if connection.poll_packet(now_us, &mut out) {
                    return Some(Transmit {
                        destination: self.server,
                        bytes: out,
                    });
                }
                if let Some(reason) = connection.closed() {
                    self.end(reason.into());
                }
                None
            }
            ClientState::Disconnected(_) => None,
        }
    }

    /// `Connected`, then the messages in arrival order (reliable ones in order), then
    /// `Disconnected` once the messages received before the end are taken.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        if matches!(self.events.front(), Some(ClientEvent::Connected | ClientEvent::Resumed)) {
            return self.events.pop_front();
        }
        if let Some(message) = self.connection.as_mut().and_then(Connection::poll_received) {
            return Some(ClientEvent::Message(message));
        }
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
