//! Session resume after a failover (PROTOCOL.md, "Session resume after failover").
//!
//! A node that dies leaves its sessions' records in Redis. The node that takes the zone over opens
//! each record's keys (sealed with the cluster key: Redis never holds usable key material) and
//! installs the session here as *resumable*: [`ServerEndpoint::add_resumable`]. The client's next
//! sealed `Payload` for that session id, if it opens under the session's client→server key with a
//! sequence past the record's hint, makes the session `Connected` at once, from the packet's source
//! address: no handshake, the keys prove it. [`ServerEvent::Resumed`] tells the host.
//!
//! The table is bounded ([`RESUMABLE_SESSIONS_MAX`], what does not fit is counted) and every entry
//! expires at its deadline; an expired entry is announced as an abandoned handshake, so whoever
//! mirrors the endpoint's sessions (the XDP edge's session map) forgets it the same way.

use std::net::SocketAddr;

use chacha20poly1305::{AeadInOut, Key, KeyInit, Tag, XChaCha20Poly1305, XNonce};
use thiserror::Error;

use super::server::{ServerEndpoint, ServerEvent, ServerSession, reschedule};
use super::{HandshakeEvent, SERVER_CONNECTIONS_MAX};
use crate::connection::{Connection, RESUME_SEQUENCE_JUMP, Side};
use crate::packet::{
    AEAD_KEY_BYTES, AEAD_TAG_BYTES, EDGE_KEY_BYTES, PACKET_MAGIC, PROTOCOL_VERSION, PacketError, ReplayWindow,
    SealedHeader,
};
use crate::token::{CLUSTER_KEY_BYTES, TOKEN_NONCE_BYTES};

/// Resumable sessions one endpoint holds: a node taking zones over holds at most the sessions the
/// dead node's workers served for them, which is what one endpoint could serve.
pub const RESUMABLE_SESSIONS_MAX: usize = SERVER_CONNECTIONS_MAX;

/// How long a resumable session waits for its client by default: a client keeps its session for
/// `resume_patience_ms` (20 s in the SDK) of silence, and the zone moves within seconds, so 30 s
/// covers a client that noticed late without holding dead entries for long.
pub const RESUME_DEADLINE_US: u64 = 30_000_000;

/// Plaintext of the sealed keys: client→server key, server→client key, edge key.
pub const RESUME_KEYS_BYTES: usize = 2 * AEAD_KEY_BYTES + EDGE_KEY_BYTES;
/// Sealed keys as a session record stores them: nonce, ciphertext, tag.
pub const SEALED_RESUME_KEYS_BYTES: usize = TOKEN_NONCE_BYTES + RESUME_KEYS_BYTES + AEAD_TAG_BYTES;

/// Why sealed session keys did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ResumeKeysError {
    #[error("sealed session keys are {bytes} bytes, expected {SEALED_RESUME_KEYS_BYTES}")]
    BadLength { bytes: usize },
    /// Another cluster's key, another session's record, or altered bytes.
    #[error("sealed session keys do not open with the cluster key for this session")]
    BadSeal,
}

/// A session's keys, as the server side holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub client_to_server_key: [u8; AEAD_KEY_BYTES],
    pub server_to_client_key: [u8; AEAD_KEY_BYTES],
    pub edge_key: [u8; EDGE_KEY_BYTES],
}

impl std::fmt::Debug for SessionKeys {
    // Keys never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys { .. }")
    }
}

/// Binds the sealed keys to their session: a record's blob copied under another session id does
/// not open.
fn keys_aad(session_id: u64) -> [u8; 16] {
    let mut aad = [0u8; 16];
    aad[0] = PACKET_MAGIC;
    aad[1] = PROTOCOL_VERSION;
    aad[2..8].copy_from_slice(b"resume");
    aad[8..].copy_from_slice(&session_id.to_le_bytes());
    aad
}

impl SessionKeys {
    /// Seals with the cluster key (XChaCha20-Poly1305, the connect token's AEAD) and the session id
    /// as associated data. `nonce` must be fresh random bytes (this crate reads no RNG): the
    /// 24-byte nonce makes random choice safe.
    pub fn seal(
        &self,
        cluster_key: &[u8; CLUSTER_KEY_BYTES],
        session_id: u64,
        nonce: [u8; TOKEN_NONCE_BYTES],
    ) -> [u8; SEALED_RESUME_KEYS_BYTES] {
        let mut plaintext = [0u8; RESUME_KEYS_BYTES];
        plaintext[..AEAD_KEY_BYTES].copy_from_slice(&self.client_to_server_key);
        plaintext[AEAD_KEY_BYTES..2 * AEAD_KEY_BYTES].copy_from_slice(&self.server_to_client_key);
        plaintext[2 * AEAD_KEY_BYTES..].copy_from_slice(&self.edge_key);
        let cipher = XChaCha20Poly1305::new(&Key::from(*cluster_key));
        let tag = cipher
            .encrypt_inout_detached(
                &XNonce::from(nonce),
                &keys_aad(session_id),
                plaintext.as_mut_slice().into(),
            )
            .expect("80 bytes are within AEAD limits");
        let mut sealed = [0u8; SEALED_RESUME_KEYS_BYTES];
        sealed[..TOKEN_NONCE_BYTES].copy_from_slice(&nonce);
        sealed[TOKEN_NONCE_BYTES..TOKEN_NONCE_BYTES + RESUME_KEYS_BYTES].copy_from_slice(&plaintext);
        sealed[TOKEN_NONCE_BYTES + RESUME_KEYS_BYTES..].copy_from_slice(tag.as_slice());
        sealed
    }

    /// Opens what [`SessionKeys::seal`] made for `session_id`.
    pub fn open(
        cluster_key: &[u8; CLUSTER_KEY_BYTES],
        session_id: u64,
        sealed: &[u8],
    ) -> Result<SessionKeys, ResumeKeysError> {
        if sealed.len() != SEALED_RESUME_KEYS_BYTES {
            return Err(ResumeKeysError::BadLength { bytes: sealed.len() });
        }
        let nonce: [u8; TOKEN_NONCE_BYTES] = sealed[..TOKEN_NONCE_BYTES].try_into().expect("24 bytes");
        let mut plaintext = [0u8; RESUME_KEYS_BYTES];
        plaintext.copy_from_slice(&sealed[TOKEN_NONCE_BYTES..TOKEN_NONCE_BYTES + RESUME_KEYS_BYTES]);
        let tag =
            Tag::try_from(&sealed[TOKEN_NONCE_BYTES + RESUME_KEYS_BYTES..]).map_err(|_| ResumeKeysError::BadSeal)?;
        XChaCha20Poly1305::new(&Key::from(*cluster_key))
            .decrypt_inout_detached(
                &XNonce::from(nonce),
                &keys_aad(session_id),
                plaintext.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| ResumeKeysError::BadSeal)?;
        Ok(SessionKeys {
            client_to_server_key: plaintext[..AEAD_KEY_BYTES].try_into().expect("32 bytes"),
            server_to_client_key: plaintext[AEAD_KEY_BYTES..2 * AEAD_KEY_BYTES]
                .try_into()
                .expect("32 bytes"),
            edge_key: plaintext[2 * AEAD_KEY_BYTES..].try_into().expect("16 bytes"),
        })
    }
}

/// A session another server served, offered for resume (from its opened session record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumable {
    pub session_id: u64,
    pub zone_id: u32,
    pub character_id: u64,
    pub keys: SessionKeys,
    /// Where the client was (a hint: the resumed session binds to the address its packet comes from).
    pub client_address: Option<SocketAddr>,
    /// Newest client→server sequence the old server had seen when the record was last refreshed
    /// (`None`: none recorded). Only later sequences resume.
    pub received_hint: Option<u64>,
    /// Next server→client sequence the old server would have sealed with at that time.
    pub sent_hint: u64,
}

/// What a server knows of one live session for its record: the hints refreshed with the TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionHints {
    pub address: SocketAddr,
    /// Newest client→server sequence received (`None`: none yet).
    pub received_newest: Option<u64>,
    /// Next server→client sequence.
    pub next_sent: u64,
}

/// Why `add_resumable` did not take an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ResumableRefusal {
    /// A live session (or handshake) already has this id: the session never left this endpoint.
    #[error("session {session_id} is live on this endpoint")]
    Live { session_id: u64 },
    #[error("the resumable table is full ({RESUMABLE_SESSIONS_MAX})")]
    Full,
}

pub(super) struct ResumableEntry {
    resumable: Resumable,
    deadline_us: u64,
}

impl ServerEndpoint {
    /// Offers a session for resume until `deadline_us`. Replaces an entry with the same id (a newer
    /// record). Announced as `HandshakeEvent::Started` (the edge must let the session's packets
    /// through) and, if it expires unused, as `HandshakeEvent::Abandoned`.
    pub fn add_resumable(
        &mut self,
        now_us: u64,
        resumable: Resumable,
        deadline_us: u64,
    ) -> Result<(), ResumableRefusal> {
        self.expire_resumables(now_us);
        let session_id = resumable.session_id;
        if self.sessions.contains_key(&session_id) || self.pending.contains_key(&session_id) {
            return Err(ResumableRefusal::Live { session_id });
        }
        if let Some(old) = self.resumable.remove(&session_id) {
            self.resumable_by_deadline.remove(&(old.deadline_us, session_id));
        } else if self.resumable.len() >= RESUMABLE_SESSIONS_MAX {
            self.stats.resumables_refused += 1;
            return Err(ResumableRefusal::Full);
        }
        self.push_handshake_event(HandshakeEvent::Started {
            session_id,
            zone_id: resumable.zone_id,
            edge_key: resumable.keys.edge_key,
            address: resumable
                .client_address
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        });
        self.resumable_by_deadline.insert((deadline_us, session_id));
        self.resumable
            .insert(session_id, ResumableEntry { resumable, deadline_us });
        Ok(())
    }

    /// Resumable sessions waiting for their client.
    pub fn resumable_count(&self) -> usize {
        self.resumable.len()
    }

    /// Whether `session_id` waits for its client here.
    pub fn is_resumable(&self, session_id: u64) -> bool {
        self.resumable.contains_key(&session_id)
    }

    /// The session's keys sealed with the cluster key for its record (`None`: no such session).
    pub fn seal_session_keys(
        &self,
        session_id: u64,
        nonce: [u8; TOKEN_NONCE_BYTES],
    ) -> Option<[u8; SEALED_RESUME_KEYS_BYTES]> {
        let session = self.sessions.get(&session_id)?;
        // The server's connection sends with the server→client key.
        let (send_key, receive_key, edge_key) = session.connection.keys();
        let keys = SessionKeys {
            client_to_server_key: receive_key,
            server_to_client_key: send_key,
            edge_key,
        };
        Some(keys.seal(&self.config.cluster_key, session_id, nonce))
    }

    /// Where a live session stands, for its record's hints.
    pub fn session_hints(&self, session_id: u64) -> Option<SessionHints> {
        let session = self.sessions.get(&session_id)?;
        let (received_newest, next_sent) = session.connection.sequences();
        Some(SessionHints {
            address: session.address,
            received_newest,
            next_sent,
        })
    }

    /// Drops entries whose deadline passed, announcing each as an abandoned handshake.
    pub(super) fn expire_resumables(&mut self, now_us: u64) {
        while let Some(&(deadline_us, session_id)) = self.resumable_by_deadline.first() {
            if deadline_us > now_us {
                break;
            }
            self.resumable_by_deadline.remove(&(deadline_us, session_id));
            self.resumable.remove(&session_id);
            self.stats.resumables_expired += 1;
            self.push_handshake_event(HandshakeEvent::Abandoned { session_id });
        }
    }

    /// The earliest deadline of a resumable entry.
    pub(super) fn next_resumable_deadline_us(&self) -> Option<u64> {
        self.resumable_by_deadline.first().map(|(deadline_us, _)| *deadline_us)
    }

    /// A sealed `Payload` for a session id with no live session: resumes it if it is resumable and
    /// the packet proves the keys. A refused packet leaves the entry in place (a forger cannot use
    /// it up); only the deadline ends it.
    pub(super) fn handle_resume(
        &mut self,
        now_us: u64,
        from: SocketAddr,
        bytes: &[u8],
        header: SealedHeader,
    ) -> Result<(), PacketError> {
        self.expire_resumables(now_us);
        let session_id = header.session_id;
        let entry = self
            .resumable
            .get(&session_id)
            .ok_or(PacketError::UnknownSession { session_id })?;
        if !self.has_room() {
            return Err(PacketError::ServerFull {
                connections: self.sessions.len(),
            });
        }
        let resumable = &entry.resumable;
        let received = resumable
            .received_hint
            .map_or_else(ReplayWindow::default, ReplayWindow::through);
        // Nonce argument: the old server sealed s→c packets up to some sequence past `sent_hint`
        // (the hint is refreshed every few seconds, the server may have sent more since). Starting
        // `RESUME_SEQUENCE_JUMP` past it, this server never seals under a nonce the old one used.
        let send_start = resumable.sent_hint.saturating_add(RESUME_SEQUENCE_JUMP);
        let mut connection = Connection::new(
            Side::Server,
            session_id,
            resumable.keys.server_to_client_key,
            resumable.keys.client_to_server_key,
            resumable.keys.edge_key,
            send_start,
            received,
            now_us,
        );
        if let Err(error) = connection.receive(now_us, bytes) {
            if matches!(error, PacketError::BadSeal | PacketError::BadEdgeTag) {
                self.stats.resumes_bad_seal += 1;
            }
            return Err(error);
        }
        let entry = self.resumable.remove(&session_id).expect("looked up above");
        self.resumable_by_deadline.remove(&(entry.deadline_us, session_id));
        self.stats.sessions_resumed += 1;
        let mut session = ServerSession {
            address: from,
            connection,
            timer_us: None,
            readable: true,
        };
        reschedule(&mut self.timers, session_id, &mut session);
        self.sessions.insert(session_id, session);
        self.readable.insert(session_id);
        self.push_event(ServerEvent::Resumed {
            session_id,
            zone_id: entry.resumable.zone_id,
            character_id: entry.resumable.character_id,
            address: from,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Received;
    use crate::endpoint::tests::{NOW_US, client, client_address, connect, server, server_address};
    use crate::endpoint::{ClientConnection, ClientEvent, ClientState};
    use crate::token::tests::CLUSTER_KEY;

    const SESSION: u64 = 0xfeed_0000_0000_0001;

    fn keys() -> SessionKeys {
        SessionKeys {
            client_to_server_key: [1; AEAD_KEY_BYTES],
            server_to_client_key: [2; AEAD_KEY_BYTES],
            edge_key: [3; EDGE_KEY_BYTES],
        }
    }

    #[test]
    fn sealed_keys_open_only_with_the_cluster_key_for_their_session() {
        let sealed = keys().seal(&CLUSTER_KEY, 42, [7; TOKEN_NONCE_BYTES]);
        assert_eq!(SessionKeys::open(&CLUSTER_KEY, 42, &sealed), Ok(keys()));
        // No key byte is in the clear.
        assert!(
            !sealed
                .windows(AEAD_KEY_BYTES)
                .any(|window| window == [1; AEAD_KEY_BYTES])
        );
        assert!(
            !sealed
                .windows(AEAD_KEY_BYTES)
                .any(|window| window == [2; AEAD_KEY_BYTES])
        );
        assert_eq!(
            SessionKeys::open(&CLUSTER_KEY, 43, &sealed),
            Err(ResumeKeysError::BadSeal),
            "another session's record"
        );
        assert_eq!(
            SessionKeys::open(&[9; CLUSTER_KEY_BYTES], 42, &sealed),
            Err(ResumeKeysError::BadSeal),
            "another cluster"
        );
        let mut altered = sealed;
        altered[TOKEN_NONCE_BYTES + 3] ^= 1;
        assert_eq!(
            SessionKeys::open(&CLUSTER_KEY, 42, &altered),
            Err(ResumeKeysError::BadSeal)
        );
        assert_eq!(
            SessionKeys::open(&CLUSTER_KEY, 42, &sealed[1..]),
            Err(ResumeKeysError::BadLength {
                bytes: SEALED_RESUME_KEYS_BYTES - 1
            })
        );
        // A fresh nonce gives other bytes for the same keys.
        assert_ne!(sealed, keys().seal(&CLUSTER_KEY, 42, [8; TOKEN_NONCE_BYTES]));
        assert_eq!(format!("{:?}", keys()), "SessionKeys { .. }");
    }

    /// A connected client and server A; returns the resumable entry A's record would give B.
    fn session_on_a() -> (ServerEndpoint, ClientConnection, u64, Resumable) {
        let mut a = server();
        let mut client = client(NOW_US);
        let mut now = connect(&mut a, &mut client, NOW_US);
        while a.poll_event().is_some() {}
        // Some traffic both ways, so the hints are past the handshake.
        for _ in 0..5 {
            now += 20_000;
            client.send_unreliable(b"input").unwrap();
            while let Some(transmit) = client.poll_transmit(now) {
                a.handle(now, client_address(), &transmit.bytes).unwrap();
            }
            a.send_reliable(SESSION, b"event").unwrap();
            while let Some(transmit) = a.poll_transmit(now) {
                client.handle(now, server_address(), &transmit.bytes).unwrap();
            }
        }
        while a.poll_event().is_some() {}
        while client.poll_event().is_some() {}
        let sealed = a.seal_session_keys(SESSION, [5; TOKEN_NONCE_BYTES]).unwrap();
        let hints = a.session_hints(SESSION).unwrap();
        assert_eq!(hints.address, client_address());
        let resumable = Resumable {
            session_id: SESSION,
            zone_id: 17,
            character_id: 99,
            keys: SessionKeys::open(&CLUSTER_KEY, SESSION, &sealed).unwrap(),
            client_address: Some(hints.address),
            received_hint: hints.received_newest,
            sent_hint: hints.next_sent,
        };
        (a, client, now, resumable)
    }

    fn server_b() -> ServerEndpoint {
        ServerEndpoint::new(super::super::ServerConfig {
            public_address: "10.0.0.2:7777".parse().unwrap(),
            ..server().config
        })
    }

    #[test]
    fn a_resumable_session_connects_on_its_first_sealed_packet_and_carries_on() {
        let (_a, mut client, mut now, resumable) = session_on_a();
        let hint = resumable.sent_hint;
        let mut b = server_b();
        b.add_resumable(now, resumable, now + RESUME_DEADLINE_US).unwrap();
        assert!(matches!(
            b.poll_handshake_event(),
            Some(HandshakeEvent::Started {
                session_id: SESSION,
                zone_id: 17,
                ..
            })
        ));
        // The client now reaches B (anycast moved the VIP; here it is told the address).
        let b_address: SocketAddr = "10.0.0.2:7777".parse().unwrap();
        client.set_server_addr(b_address);
        let moved_client: SocketAddr = "192.0.2.7:50001".parse().unwrap();
        now += 20_000;
        client.send_unreliable(b"input after failover").unwrap();
        let transmit = client.poll_transmit(now).unwrap();
        assert_eq!(transmit.destination, b_address);
        b.handle(now, moved_client, &transmit.bytes).unwrap();
        assert_eq!(
            b.poll_event(),
            Some(ServerEvent::Resumed {
                session_id: SESSION,
                zone_id: 17,
                character_id: 99,
                address: moved_client,
            })
        );
        assert_eq!(
            b.poll_event(),
            Some(ServerEvent::Message {
                session_id: SESSION,
                message: Received::Unreliable(b"input after failover".to_vec())
            })
        );
        assert_eq!(b.stats().sessions_resumed, 1);
        assert_eq!(b.resumable_count(), 0);
        assert_eq!(b.connection_count(), 1);
        // B seals far past what A had sent: no nonce of A's is reused.
        let (_, next_sent) = b.connection(SESSION).unwrap().sequences();
        assert!(next_sent >= hint + RESUME_SEQUENCE_JUMP);
        // B's reliable stream starts at id 0 while the client expected A's next id: the client
        // resyncs on the sequence leap and gets B's messages, and says it resumed.
        b.send_reliable(SESSION, b"welcome back").unwrap();
        let mut delivered = Vec::new();
        while let Some(transmit) = b.poll_transmit(now) {
            assert_eq!(transmit.destination, moved_client);
            client.handle(now, b_address, &transmit.bytes).unwrap();
        }
        while let Some(event) = client.poll_event() {
            delivered.push(event);
        }
        assert_eq!(
            delivered,
            vec![
                ClientEvent::Resumed,
                ClientEvent::Message(Received::Reliable(b"welcome back".to_vec()))
            ]
        );
        assert_eq!(client.state(), ClientState::Connected);
        // And the client's reliable messages reach B in order from whatever id they carry.
        client.send_reliable(b"chat 1").unwrap();
        client.send_reliable(b"chat 2").unwrap();
        now += 20_000;
        while let Some(transmit) = client.poll_transmit(now) {
            b.handle(now, moved_client, &transmit.bytes).unwrap();
        }
        let messages: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
        assert_eq!(
            messages,
            vec![
                ServerEvent::Message {
                    session_id: SESSION,
                    message: Received::Reliable(b"chat 1".to_vec())
                },
                ServerEvent::Message {
                    session_id: SESSION,
                    message: Received::Reliable(b"chat 2".to_vec())
                },
            ]
        );
    }

    #[test]
    fn a_patient_client_outlasts_the_idle_timeout_and_still_gives_up_in_the_end() {
        let (_a, mut client, now, _) = session_on_a();
        client.set_idle_timeout_us(20_000_000);
        // The server went silent at `now`; the client keeps sending well past 5 s.
        let mut at = now;
        let mut sent = 0;
        while at < now + 19_000_000 {
            at += 100_000;
            while client.poll_transmit(at).is_some() {
                sent += 1;
            }
        }
        assert_eq!(client.state(), ClientState::Connected, "still waiting after 19 s");
        assert!(sent >= 150, "keep-alives go on: {sent}");
        while client.poll_transmit(now + 20_000_001).is_some() {}
        assert_eq!(
            client.state(),
            ClientState::Disconnected(crate::endpoint::ClientDisconnect::Closed(
                crate::connection::CloseReason::TimedOut
            ))
        );
    }

    #[test]
    fn a_packet_under_a_wrong_key_is_dropped_and_leaves_the_entry() {
        let (_a, mut client, now, mut resumable) = session_on_a();
        let genuine = resumable.keys.clone();
        resumable.keys.client_to_server_key = [0xee; AEAD_KEY_BYTES];
        let mut b = server_b();
        b.add_resumable(now, resumable.clone(), now + RESUME_DEADLINE_US)
            .unwrap();
        client.send_unreliable(b"input").unwrap();
        let transmit = client.poll_transmit(now + 1).unwrap();
        assert_eq!(
            b.handle(now + 1, client_address(), &transmit.bytes),
            Err(PacketError::BadSeal)
        );
        assert_eq!(b.stats().resumes_bad_seal, 1);
        assert_eq!(b.poll_event(), None);
        assert!(b.is_resumable(SESSION), "a forged packet does not use the entry up");
        // The same packet with the right keys installed resumes.
        resumable.keys = genuine;
        b.add_resumable(now, resumable, now + RESUME_DEADLINE_US).unwrap();
        assert_eq!(b.handle(now + 1, client_address(), &transmit.bytes), Ok(()));
        assert!(matches!(b.poll_event(), Some(ServerEvent::Resumed { .. })));
    }

    #[test]
    fn a_replayed_packet_from_before_the_hint_does_not_resume() {
        let mut a = server();
        let mut client = client(NOW_US);
        let now = connect(&mut a, &mut client, NOW_US);
        client.send_unreliable(b"old").unwrap();
        let old = client.poll_transmit(now).unwrap();
        a.handle(now, client_address(), &old.bytes).unwrap();
        let sealed = a.seal_session_keys(SESSION, [5; TOKEN_NONCE_BYTES]).unwrap();
        let hints = a.session_hints(SESSION).unwrap();
        let mut b = server_b();
        b.add_resumable(
            now,
            Resumable {
                session_id: SESSION,
                zone_id: 17,
                character_id: 0,
                keys: SessionKeys::open(&CLUSTER_KEY, SESSION, &sealed).unwrap(),
                client_address: None,
                received_hint: hints.received_newest,
                sent_hint: hints.next_sent,
            },
            now + RESUME_DEADLINE_US,
        )
        .unwrap();
        assert!(matches!(
            b.handle(now, client_address(), &old.bytes),
            Err(PacketError::Replayed { .. })
        ));
        assert!(b.is_resumable(SESSION));
    }

    #[test]
    fn an_expired_entry_refuses_and_is_abandoned() {
        let (_a, mut client, now, resumable) = session_on_a();
        let mut b = server_b();
        b.add_resumable(now, resumable, now + 1_000_000).unwrap();
        assert!(matches!(b.poll_handshake_event(), Some(HandshakeEvent::Started { .. })));
        assert_eq!(b.poll_timeout(), Some(now + 1_000_000), "the deadline is a timer");
        b.handle_timeout(now + 1_000_000);
        assert_eq!(
            b.poll_handshake_event(),
            Some(HandshakeEvent::Abandoned { session_id: SESSION })
        );
        client.send_unreliable(b"late").unwrap();
        let transmit = client.poll_transmit(now + 1_000_001).unwrap();
        assert_eq!(
            b.handle(now + 1_000_001, client_address(), &transmit.bytes),
            Err(PacketError::UnknownSession { session_id: SESSION })
        );
        assert_eq!(b.stats().resumables_expired, 1);
        assert_eq!(b.stats().sessions_resumed, 0);
    }

    #[test]
    fn the_table_is_bounded_and_a_live_session_is_not_offered() {
        let (mut a, _client, now, resumable) = session_on_a();
        assert_eq!(
            a.add_resumable(now, resumable.clone(), now + RESUME_DEADLINE_US),
            Err(ResumableRefusal::Live { session_id: SESSION })
        );
        let mut b = server_b();
        for index in 0..RESUMABLE_SESSIONS_MAX as u64 {
            let entry = Resumable {
                session_id: index + 1_000_000,
                ..resumable.clone()
            };
            b.add_resumable(now, entry, now + RESUME_DEADLINE_US).unwrap();
        }
        assert_eq!(
            b.add_resumable(now, resumable, now + RESUME_DEADLINE_US),
            Err(ResumableRefusal::Full)
        );
        assert_eq!(b.stats().resumables_refused, 1);
        assert_eq!(b.resumable_count(), RESUMABLE_SESSIONS_MAX);
    }
}
