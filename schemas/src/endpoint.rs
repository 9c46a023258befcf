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
//!
//! Files: `handshake` (the request's layout, handshake limits and timers), `server`
//! ([`ServerEndpoint`]: handshakes, the session table, the timer index, lifecycle events), `client`
//! ([`ClientConnection`]), `resume` (sessions resumed on another server after a failover: sealed
//! session keys, the resumable table). The established session itself is `crate::connection::Connection`.

mod client;
mod handshake;
mod resume;
mod server;

use std::net::SocketAddr;

pub use client::{CLIENT_EVENTS_MAX, ClientConnection, ClientDisconnect, ClientEvent, ClientState};
pub use handshake::{
    CHALLENGE_BYTES, CONNECTION_REQUEST_BYTES, ConnectionRequest, HANDSHAKE_RESEND_US, HANDSHAKE_TIMEOUT_US,
    connection_request, read_connection_request,
};
pub use resume::{
    RESUMABLE_SESSIONS_MAX, RESUME_DEADLINE_US, RESUME_KEYS_BYTES, Resumable, ResumableRefusal, ResumeKeysError,
    SEALED_RESUME_KEYS_BYTES, SessionHints, SessionKeys,
};
pub use server::{
    EndpointStats, HANDSHAKE_EVENTS_MAX, HandshakeEvent, PENDING_HANDSHAKES_MAX, SERVER_CONNECTIONS_MAX,
    SERVER_EVENTS_MAX, SERVER_TRANSMITS_MAX, ServerConfig, ServerEndpoint, ServerEvent,
};

pub use crate::connection::CONNECTION_TIMEOUT_US;
pub use server::transfer::{
    ExportError, ImportError, SessionTransfer, TicketTransportError, transfer_from_ticket, transfer_to_ticket,
};

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub bytes: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{CloseReason, Received};
    use crate::packet::{DisconnectReason, PacketError};
    use crate::token::TOKEN_NONCE_BYTES;
    use crate::token::tests::{CLUSTER_KEY, sample_token};

    pub(super) const NOW_US: u64 = 1_000_000 * 1_000_000; // token expires at 1_000_030 s

    pub(super) fn server_address() -> SocketAddr {
        "10.0.0.1:7777".parse().unwrap()
    }

    pub(super) fn client_address() -> SocketAddr {
        "192.0.2.7:50000".parse().unwrap()
    }

    pub(super) fn server() -> ServerEndpoint {
        ServerEndpoint::new(ServerConfig {
            cluster_key: CLUSTER_KEY,
            challenge_key: [0x11; 16],
            public_address: server_address(),
            connections_max: 16,
        })
    }

    pub(super) fn client(now_us: u64) -> ClientConnection {
        let token = sample_token(server_address()).seal(&CLUSTER_KEY, [9; TOKEN_NONCE_BYTES]);
        ClientConnection::new(now_us, token, 0)
    }

    /// Runs client and server against each other; every server reply produced while handling a client
    /// datagram is checked against that datagram's size before the client's connection is trusted.
    pub(super) fn connect(server: &mut ServerEndpoint, client: &mut ClientConnection, mut now: u64) -> u64 {
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
                character_id: 0,
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
        server.disconnect(0xfeed_0000_0000_0001, DisconnectReason::Kicked);
        assert_eq!(
            server.poll_event(),
            Some(ServerEvent::Disconnected {
                session_id: 0xfeed_0000_0000_0001,
                reason: CloseReason::LocalDisconnect(DisconnectReason::Kicked)
            })
        );
        let bye = server.poll_transmit(now).unwrap();
        client.handle(now, server_address(), &bye.bytes).unwrap();
        // The client learns why.
        assert_eq!(
            client.state(),
            ClientState::Disconnected(ClientDisconnect::ByServer(DisconnectReason::Kicked))
        );
        assert_eq!(
            client.poll_event(),
            Some(ClientEvent::Disconnected(ClientDisconnect::ByServer(
                DisconnectReason::Kicked
            )))
        );
    }

    /// Runs the handshake on a lossless link in 10 ms steps; returns the time it ended.
    pub(super) fn handshake(server: &mut ServerEndpoint, client: &mut ClientConnection) -> u64 {
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
}
