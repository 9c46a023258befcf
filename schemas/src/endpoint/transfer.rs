//! Carrying an established session from one [`ServerEndpoint`] to another: a player handed to a zone
//! on another worker (or node) keeps its connection — same session id, keys and client address, the
//! sequence numbers continuing, the replay window intact — so the client never reconnects and never
//! notices. The old endpoint forgets the session without a word (no Disconnect, no event); the new
//! one takes it over. Between the two the state travels in the handoff ticket's `transport` section
//! (`schemas/fbs/control.fbs`), which holds the session's keys: it goes only over the node's own
//! worker queues or the authenticated node-to-node channel, never to the control plane's store.
//!
//! A session taken back after an aborted handoff is imported with its send sequence advanced by
//! [`ABORT_SEQUENCE_GAP`]: the other endpoint may have sealed packets with the sequences after the
//! exported one, and a nonce must never be used twice under one key.

use std::net::SocketAddr;

use thiserror::Error;

use super::{ServerEndpoint, ServerSession, Transmit, reschedule};
use crate::connection::{Connection, TransferError, TransportState};
use crate::control::fbs::{ReliableMessage, SessionTransport};
use crate::packet::{AEAD_KEY_BYTES, EDGE_KEY_BYTES, REPLAY_WINDOW_PACKETS, ReplayWindow};

/// Packets an export seals from what the session had queued, at most.
const FLUSH_PACKETS_MAX: usize = 8;

/// How far a session taken back after an aborted handoff skips its send sequence: far more packets
/// than the other endpoint can have sent before the abort (a few ticks at one or two packets a tick).
pub const ABORT_SEQUENCE_GAP: u64 = 1 << 16;

/// One session as it leaves an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTransfer {
    pub address: SocketAddr,
    pub transport: TransportState,
}

impl SessionTransfer {
    /// The same session to be taken back by the endpoint that exported it, after an aborted handoff:
    /// its send sequence skips [`ABORT_SEQUENCE_GAP`] so no nonce is sealed twice.
    pub fn taken_back(mut self) -> Self {
        self.transport.next_sequence += ABORT_SEQUENCE_GAP;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExportError {
    #[error("no open session {session_id}")]
    UnknownSession { session_id: u64 },
    #[error("session cannot be carried now: {0}")]
    NotReady(#[from] TransferError),
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ImportError {
    #[error("session {session_id} is already open here")]
    AlreadyOpen { session_id: u64 },
    #[error("the endpoint is full ({connections} sessions)")]
    Full { connections: usize },
    #[error("carried session refused: {0}")]
    Transport(#[from] TransferError),
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TicketTransportError {
    #[error("ticket has no transport section")]
    Missing,
    #[error("transport field {0} is missing or malformed")]
    Field(&'static str),
}

impl ServerEndpoint {
    /// Takes session `session_id` out of this endpoint for another to carry on: nothing is sent to
    /// the client and no event is raised; datagrams for it are refused here from now on (the caller
    /// re-points its route first, so they go to the new owner). Refused, and nothing changes, while
    /// a client message is half received. What the session has queued at `now_us` (the old zone's
    /// last snapshot) is sealed and queued for sending first, so it is not lost with the session.
    pub fn export_session(&mut self, session_id: u64, now_us: u64) -> Result<SessionTransfer, ExportError> {
        let session = self
            .sessions
            .get_mut(&session_id)
            .ok_or(ExportError::UnknownSession { session_id })?;
        session.connection.transfer_ready()?;
        // A few packets at most: the tick's snapshot and events (the loop is bounded regardless).
        let mut flushed = Vec::new();
        for _ in 0..FLUSH_PACKETS_MAX {
            let mut out = Vec::new();
            if !session.connection.poll_packet(now_us, &mut out) {
                break;
            }
            flushed.push(Transmit {
                destination: session.address,
                bytes: out,
            });
        }
        let transport = session.connection.export_transport()?;
        for transmit in flushed {
            self.push_transmit(transmit);
        }
        let session = self.sessions.remove(&session_id).expect("looked up above");
        if let Some(due_us) = session.timer_us {
            self.timers.remove(&(due_us, session_id));
        }
        self.readable.remove(&session_id);
        Ok(SessionTransfer {
            address: session.address,
            transport,
        })
    }

    /// Drops session `session_id` without a word to the client (a handoff cancelled: the session
    /// lives on at the endpoint it came from). False when it is not open here.
    pub fn forget_session(&mut self, session_id: u64) -> bool {
        let Some(session) = self.sessions.remove(&session_id) else {
            return false;
        };
        if let Some(due_us) = session.timer_us {
            self.timers.remove(&(due_us, session_id));
        }
        self.readable.remove(&session_id);
        true
    }

    /// Opens a session carried from another endpoint, at `now_us`. No `Connected` event: the caller
    /// already knows the session (it came with a ticket).
    pub fn import_session(&mut self, transfer: SessionTransfer, now_us: u64) -> Result<(), ImportError> {
        let session_id = transfer.transport.session_id;
        if self.sessions.contains_key(&session_id) || self.pending.contains_key(&session_id) {
            return Err(ImportError::AlreadyOpen { session_id });
        }
        if !self.has_room() {
            return Err(ImportError::Full {
                connections: self.sessions.len(),
            });
        }
        let connection = Connection::import_transport(transfer.transport, now_us)?;
        let mut session = ServerSession {
            address: transfer.address,
            connection,
            timer_us: None,
            readable: false,
        };
        reschedule(&mut self.timers, session_id, &mut session);
        self.sessions.insert(session_id, session);
        Ok(())
    }
}

const WINDOW_WORDS: usize = (REPLAY_WINDOW_PACKETS / 64) as usize;

fn window_to_ticket(window: &ReplayWindow) -> (u64, Vec<u64>) {
    let (newest_plus_one, bits) = window.parts();
    (newest_plus_one, bits.to_vec())
}

fn window_from_ticket(
    field: &'static str,
    newest_plus_one: u64,
    bits: Option<&Vec<u64>>,
) -> Result<ReplayWindow, TicketTransportError> {
    let bits: [u64; WINDOW_WORDS] = bits
        .map(Vec::as_slice)
        .ok_or(TicketTransportError::Field(field))?
        .try_into()
        .map_err(|_| TicketTransportError::Field(field))?;
    Ok(ReplayWindow::from_parts(newest_plus_one, bits))
}

fn key<const N: usize>(field: &'static str, bytes: Option<&Vec<u8>>) -> Result<[u8; N], TicketTransportError> {
    bytes
        .map(Vec::as_slice)
        .ok_or(TicketTransportError::Field(field))?
        .try_into()
        .map_err(|_| TicketTransportError::Field(field))
}

/// The ticket's transport section for `transfer` (the host adds its input-dedupe fields).
pub fn transfer_to_ticket(transfer: &SessionTransfer) -> SessionTransport {
    let transport = &transfer.transport;
    let (received_newest_plus_one, received_bits) = window_to_ticket(&transport.received);
    let (acked_newest_plus_one, acked_bits) = window_to_ticket(&transport.acked);
    SessionTransport {
        client_address: Some(transfer.address.to_string()),
        send_key: Some(transport.send_key.to_vec()),
        receive_key: Some(transport.receive_key.to_vec()),
        edge_key: Some(transport.edge_key.to_vec()),
        next_sequence: transport.next_sequence,
        received_newest_plus_one,
        received_bits: Some(received_bits),
        acked_newest_plus_one,
        acked_bits: Some(acked_bits),
        next_message_id: transport.next_message_id,
        next_expected_id: transport.next_expected_id,
        reliable_unacked: Some(
            transport
                .reliable_unacked
                .iter()
                .map(|(id, bytes)| ReliableMessage {
                    id: *id,
                    bytes: Some(bytes.clone()),
                })
                .collect(),
        ),
        rtt_us: transport.rtt_us.unwrap_or(0),
        input_newest_tick: 0,
        input_seen_bits: 0,
        input_seen_any: false,
    }
}

/// The session a ticket's transport section carries, for `session_id` (the ticket's).
pub fn transfer_from_ticket(
    session_id: u64,
    transport: Option<&SessionTransport>,
) -> Result<SessionTransfer, TicketTransportError> {
    let transport = transport.ok_or(TicketTransportError::Missing)?;
    let address: SocketAddr = transport
        .client_address
        .as_deref()
        .and_then(|text| text.parse().ok())
        .ok_or(TicketTransportError::Field("client_address"))?;
    let reliable_unacked = transport
        .reliable_unacked
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|message| {
            let bytes = message
                .bytes
                .clone()
                .ok_or(TicketTransportError::Field("reliable_unacked"))?;
            Ok((message.id, bytes))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SessionTransfer {
        address,
        transport: TransportState {
            session_id,
            send_key: key::<AEAD_KEY_BYTES>("send_key", transport.send_key.as_ref())?,
            receive_key: key::<AEAD_KEY_BYTES>("receive_key", transport.receive_key.as_ref())?,
            edge_key: key::<EDGE_KEY_BYTES>("edge_key", transport.edge_key.as_ref())?,
            next_sequence: transport.next_sequence,
            received: window_from_ticket(
                "received_bits",
                transport.received_newest_plus_one,
                transport.received_bits.as_ref(),
            )?,
            acked: window_from_ticket(
                "acked_bits",
                transport.acked_newest_plus_one,
                transport.acked_bits.as_ref(),
            )?,
            next_message_id: transport.next_message_id,
            next_expected_id: transport.next_expected_id,
            reliable_unacked,
            rtt_us: (transport.rtt_us != 0).then_some(transport.rtt_us),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::{NOW_US, client, client_address, connect, server, server_address};
    use super::*;
    use crate::connection::Received;
    use crate::endpoint::{ClientEvent, ServerEvent};

    /// Runs the client against whichever server owns the session now, `rounds` times 10 ms.
    fn exchange(
        server: &mut ServerEndpoint,
        client: &mut crate::endpoint::ClientConnection,
        now: &mut u64,
        rounds: u32,
    ) {
        for _ in 0..rounds {
            *now += 10_000;
            while let Some(transmit) = client.poll_transmit(*now) {
                let _ = server.handle(*now, client_address(), &transmit.bytes);
            }
            server.handle_timeout(*now);
            while let Some(transmit) = server.poll_transmit(*now) {
                client.handle(*now, server_address(), &transmit.bytes).unwrap();
            }
        }
    }

    #[test]
    fn a_session_moves_to_another_endpoint_through_the_ticket_with_no_reconnect() {
        let mut old = server();
        let mut new = server();
        let mut client = client(NOW_US);
        let mut now = connect(&mut old, &mut client, NOW_US);
        while old.poll_event().is_some() {}
        // Reliable traffic both ways, one server message left unacknowledged by moving at once.
        client.send_reliable(b"before").unwrap();
        exchange(&mut old, &mut client, &mut now, 5);
        let session_id = 0xfeed_0000_0000_0001;
        old.send_reliable(session_id, b"in flight").unwrap();
        assert!(
            matches!(
                old.export_session(session_id, now),
                Err(ExportError::NotReady(TransferError::ReassemblyInProgress))
            ),
            "a message the host has not taken yet stays here"
        );
        while old.poll_event().is_some() {}
        let transfer = old.export_session(session_id, now).unwrap();
        assert_eq!(old.connection_count(), 0);
        assert_eq!(old.poll_event(), None, "no event: the session moved, it did not end");
        let ticket = transfer_to_ticket(&transfer);
        let carried = transfer_from_ticket(session_id, Some(&ticket)).unwrap();
        assert_eq!(carried, transfer);
        new.import_session(carried, now).unwrap();
        assert_eq!(
            new.import_session(transfer.clone(), now),
            Err(ImportError::AlreadyOpen { session_id })
        );
        client.send_reliable(b"after").unwrap();
        exchange(&mut new, &mut client, &mut now, 10);
        let mut got = Vec::new();
        while let Some(event) = new.poll_event() {
            if let ServerEvent::Message {
                message: Received::Reliable(bytes),
                ..
            } = event
            {
                got.push(bytes);
            }
        }
        assert_eq!(
            got,
            vec![b"after".to_vec()],
            "the new endpoint continues the reliable ids"
        );
        let mut client_got = Vec::new();
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Message(Received::Reliable(bytes)) => client_got.push(bytes),
                ClientEvent::Disconnected(reason) => panic!("client disconnected: {reason:?}"),
                _ => {}
            }
        }
        assert_eq!(
            client_got,
            vec![b"in flight".to_vec()],
            "resent by the new endpoint, once"
        );
        assert_eq!(client.state(), crate::endpoint::ClientState::Connected);
        // Taken back after an abort: the sequence jumps, the client still accepts it.
        let back = new.export_session(session_id, now).unwrap().taken_back();
        old.import_session(back, now).unwrap();
        old.send_reliable(session_id, b"home").unwrap();
        exchange(&mut old, &mut client, &mut now, 10);
        assert_eq!(client.state(), crate::endpoint::ClientState::Connected);
        assert!(
            std::iter::from_fn(|| client.poll_event())
                .any(|event| event == ClientEvent::Message(Received::Reliable(b"home".to_vec())))
        );
        assert_eq!(
            transfer_from_ticket(session_id, None),
            Err(TicketTransportError::Missing)
        );
    }
}
