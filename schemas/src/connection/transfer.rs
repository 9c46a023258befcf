//! A server connection's state as plain data, to carry the session to another server (a worker or
//! node taking over a handed-off player) with no reconnect: the keys, the next send sequence, the
//! replay window, what was acknowledged, the reliable channel's ids and its unacknowledged messages,
//! the RTT estimate. What is left behind and why:
//! - the sent-packet ring (which of our packets carried which fragments): the new server resends
//!   every unacknowledged reliable message whole under its id, and the client delivers an id once;
//! - the unreliable queue: emptied every poll; a snapshot in it would be stale by the next tick;
//! - partly reassembled client messages: a session is exported only when there are none
//!   ([`Connection::transfer_ready`]); the host puts the handoff off a tick otherwise;
//! - clock sync and ping slots: the new server pings afresh (its pong times are its own clock).

use thiserror::Error;

use super::{Connection, OutgoingMessage, Side};
use crate::connection::FRAGMENTS_PER_MESSAGE_MAX;
use crate::packet::{AEAD_KEY_BYTES, EDGE_KEY_BYTES, ReplayWindow};

/// A server connection's carried state (see the module comment for what is not carried).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportState {
    pub session_id: u64,
    pub send_key: [u8; AEAD_KEY_BYTES],
    pub receive_key: [u8; AEAD_KEY_BYTES],
    pub edge_key: [u8; EDGE_KEY_BYTES],
    pub next_sequence: u64,
    pub received: ReplayWindow,
    pub acked: ReplayWindow,
    pub next_message_id: u16,
    pub next_expected_id: u16,
    /// Reliable messages not fully acknowledged, oldest first: (id, bytes).
    pub reliable_unacked: Vec<(u16, Vec<u8>)>,
    pub rtt_us: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TransferError {
    #[error("only a server connection is carried to another server")]
    NotServer,
    #[error("the client's reliable message is partly received: export after it completes")]
    ReassemblyInProgress,
    #[error("the connection is closed")]
    Closed,
    #[error("carried reliable messages break the channel's limits")]
    ReliableLimits,
}

impl Connection {
    /// Whether [`Self::export_transport`] would succeed now.
    pub fn transfer_ready(&self) -> Result<(), TransferError> {
        if self.side != Side::Server {
            return Err(TransferError::NotServer);
        }
        if self.closed.is_some() {
            return Err(TransferError::Closed);
        }
        if !self.reassembly.is_empty() || !self.received_messages.is_empty() {
            return Err(TransferError::ReassemblyInProgress);
        }
        Ok(())
    }

    /// The state another server resumes this connection from ([`Self::import_transport`]).
    pub fn export_transport(&self) -> Result<TransportState, TransferError> {
        self.transfer_ready()?;
        Ok(TransportState {
            session_id: self.session_id,
            send_key: self.send_key,
            receive_key: self.receive_key,
            edge_key: self.edge_key,
            next_sequence: self.next_sequence,
            received: self.received.clone(),
            acked: self.acked.clone(),
            next_message_id: self.next_message_id,
            next_expected_id: self.next_expected_id,
            reliable_unacked: self
                .reliable_queue
                .iter()
                .map(|message| (message.id, message.bytes.clone()))
                .collect(),
            rtt_us: self.stats.ping_rtt_us,
        })
    }

    /// A server connection carrying on from `state` at `now_us`: the next packet it seals continues
    /// the sequence, the client's old packets are still refused as replays, and the unacknowledged
    /// reliable messages go out again at once.
    pub fn import_transport(state: TransportState, now_us: u64) -> Result<Self, TransferError> {
        if state.reliable_unacked.len() > super::RELIABLE_QUEUE_MAX
            || state
                .reliable_unacked
                .iter()
                .any(|(_, bytes)| bytes.is_empty() || bytes.len() > super::RELIABLE_MESSAGE_BYTES_MAX)
        {
            return Err(TransferError::ReliableLimits);
        }
        let mut connection = Connection::new(
            Side::Server,
            state.session_id,
            state.send_key,
            state.receive_key,
            state.edge_key,
            state.next_sequence,
            state.received,
            now_us,
        );
        connection.acked = state.acked;
        connection.next_message_id = state.next_message_id;
        connection.next_expected_id = state.next_expected_id;
        connection.reliable_queue = state
            .reliable_unacked
            .into_iter()
            .map(|(id, bytes)| OutgoingMessage {
                id,
                fragment_count: bytes.len().div_ceil(super::FRAGMENT_BYTES_MAX) as u8,
                bytes,
                acked_mask: 0,
                fragment_sent_us: [None; FRAGMENTS_PER_MESSAGE_MAX],
                first_sent_us: None,
            })
            .collect();
        connection.stats.ping_rtt_us = state.rtt_us;
        // Nothing is owed at once: the client's packets are acknowledged as they come.
        connection.ack_due_us = None;
        Ok(connection)
    }
}
