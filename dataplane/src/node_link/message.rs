//! What travels in a node link frame: the workers' handoff messages ([`PeerHandoff`]) and
//! forwarded datagrams, addressed to a worker of the receiving node; the sender's node is the
//! link's authenticated peer id, so a (node, worker) pair names either end.
//!
//! A hand-rolled little codec (tag byte, fixed-width big-endian fields, length-prefixed bytes):
//! the frame is already authenticated, so decoding guards only against a peer of another version
//! (a clear error, never a panic). The ticket inside stays the flatbuffers bytes the host wrote.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use meridian_edge_common::EDGE_KEY_BYTES;
use meridian_host::GhostBatch;
use meridian_proto::snapshot::{EntityKind, EntityState};

use crate::handoff::PeerHandoff;

/// Ghosts one batch may carry on the link (the host's `GHOSTS_MAX` per zone fits).
pub const LINK_GHOSTS_MAX: usize = 4_096;

#[derive(Clone, Debug, PartialEq)]
pub enum LinkMessage {
    /// A client datagram for a session a worker of the receiving node owns (the sender's socket
    /// received it: the client's address has not changed).
    Datagram {
        to_worker: u32,
        from: SocketAddr,
        received_us: u64,
        bytes: Vec<u8>,
    },
    /// A datagram the receiving node sends to `to` from its own game address: the fallback without
    /// the edge, where the client still talks to the old node's address.
    Reply { to: SocketAddr, bytes: Vec<u8> },
    /// The ticket that follows is for a session whose client sends to `via_node`'s address (which
    /// then relays replies, without the edge); `via_node` = the receiver: it talks to it directly.
    Relay {
        to_worker: u32,
        client: SocketAddr,
        via_node: String,
    },
    /// A handoff message for worker `to_worker`; worker indices inside name the sender's workers.
    Handoff { to_worker: u32, handoff: PeerHandoff },
    /// The sender owns `session_id` since `epoch_us` (its clock when it took the session: opened,
    /// resumed or handed in): behind the shared address the receiver's edge forwards the session's
    /// packets to the sender, checked under `edge_key` — so a client whose packets anycast moves to
    /// any node keeps its session. A newer epoch wins.
    EdgeOwner {
        session_id: u64,
        edge_key: [u8; EDGE_KEY_BYTES],
        epoch_us: u64,
    },
    /// The session the sender owned since `epoch_us` ended: receivers forget its forwarding entry.
    EdgeGone { session_id: u64, epoch_us: u64 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("link message cut short")]
    Short,
    #[error("unknown link message tag {0} (a peer of another version?)")]
    UnknownTag(u8),
    #[error("link message has {0} trailing bytes")]
    Trailing(usize),
    #[error("link message field out of range: {0}")]
    OutOfRange(&'static str),
}

const TAG_DATAGRAM: u8 = 1;
const TAG_REPLY: u8 = 2;
const TAG_TICKET: u8 = 3;
const TAG_COMMITTED: u8 = 4;
const TAG_GHOSTS: u8 = 5;
const TAG_RELAY: u8 = 6;
const TAG_EDGE_OWNER: u8 = 7;
const TAG_EDGE_GONE: u8 = 8;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
    }
    fn addr(&mut self, addr: SocketAddr) {
        match addr.ip() {
            IpAddr::V4(ip) => {
                self.u8(4);
                self.0.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.u8(6);
                self.0.extend_from_slice(&ip.octets());
            }
        }
        self.u16(addr.port());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MessageError> {
        if self.0.len() < n {
            return Err(MessageError::Short);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, MessageError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MessageError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, MessageError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn f32(&mut self) -> Result<f32, MessageError> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, MessageError> {
        let len = self.u32()? as usize;
        Ok(self.take(len)?.to_vec())
    }
    fn addr(&mut self) -> Result<SocketAddr, MessageError> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(self.take(4)?).expect("4 bytes"))),
            6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(self.take(16)?).expect("16 bytes"))),
            _ => return Err(MessageError::OutOfRange("address family")),
        };
        Ok(SocketAddr::new(ip, self.u16()?))
    }
}

impl LinkMessage {
    /// The worker of the receiving node it is for (`None`: any worker; a reply leaves from any
    /// socket of the node's address).
    pub fn to_worker(&self) -> Option<u32> {
        match self {
            LinkMessage::Datagram { to_worker, .. }
            | LinkMessage::Relay { to_worker, .. }
            | LinkMessage::Handoff { to_worker, .. } => Some(*to_worker),
            LinkMessage::Reply { .. } | LinkMessage::EdgeOwner { .. } | LinkMessage::EdgeGone { .. } => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        match self {
            LinkMessage::Datagram {
                to_worker,
                from,
                received_us,
                bytes,
            } => {
                w.u8(TAG_DATAGRAM);
                w.u32(*to_worker);
                w.addr(*from);
                w.u64(*received_us);
                w.bytes(bytes);
            }
            LinkMessage::Reply { to, bytes } => {
                w.u8(TAG_REPLY);
                w.addr(*to);
                w.bytes(bytes);
            }
            LinkMessage::Relay {
                to_worker,
                client,
                via_node,
            } => {
                w.u8(TAG_RELAY);
                w.u32(*to_worker);
                w.addr(*client);
                w.bytes(via_node.as_bytes());
            }
            LinkMessage::EdgeOwner {
                session_id,
                edge_key,
                epoch_us,
            } => {
                w.u8(TAG_EDGE_OWNER);
                w.u64(*session_id);
                w.0.extend_from_slice(edge_key);
                w.u64(*epoch_us);
            }
            LinkMessage::EdgeGone { session_id, epoch_us } => {
                w.u8(TAG_EDGE_GONE);
                w.u64(*session_id);
                w.u64(*epoch_us);
            }
            LinkMessage::Handoff { to_worker, handoff } => match handoff {
                PeerHandoff::Ticket {
                    from_worker,
                    session_id,
                    ticket_id,
                    bytes,
                } => {
                    w.u8(TAG_TICKET);
                    w.u32(*to_worker);
                    w.u32(*from_worker as u32);
                    w.u64(*session_id);
                    w.u64(*ticket_id);
                    w.bytes(bytes);
                }
                PeerHandoff::Committed {
                    to_worker: new_worker,
                    session_id,
                    ticket_id,
                } => {
                    w.u8(TAG_COMMITTED);
                    w.u32(*to_worker);
                    w.u32(*new_worker as u32);
                    w.u64(*session_id);
                    w.u64(*ticket_id);
                }
                PeerHandoff::Ghosts(batch) => {
                    w.u8(TAG_GHOSTS);
                    w.u32(*to_worker);
                    w.u32(batch.from_zone_id);
                    w.u32(batch.to_zone_id);
                    w.u64(batch.tick);
                    let ghosts = &batch.ghosts[..batch.ghosts.len().min(LINK_GHOSTS_MAX)];
                    w.u32(ghosts.len() as u32);
                    for ghost in ghosts {
                        w.u32(ghost.id);
                        w.u8(ghost.kind as u8);
                        for v in ghost.position {
                            w.f32(v);
                        }
                        w.f32(ghost.yaw);
                        for v in ghost.velocity {
                            w.f32(v);
                        }
                        w.u16(ghost.health);
                        w.u16(ghost.flags);
                    }
                }
            },
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader(bytes);
        let message = match r.u8()? {
            TAG_DATAGRAM => LinkMessage::Datagram {
                to_worker: r.u32()?,
                from: r.addr()?,
                received_us: r.u64()?,
                bytes: r.bytes()?,
            },
            TAG_REPLY => LinkMessage::Reply {
                to: r.addr()?,
                bytes: r.bytes()?,
            },
            TAG_RELAY => LinkMessage::Relay {
                to_worker: r.u32()?,
                client: r.addr()?,
                via_node: String::from_utf8(r.bytes()?).map_err(|_| MessageError::OutOfRange("node id"))?,
            },
            TAG_EDGE_OWNER => LinkMessage::EdgeOwner {
                session_id: r.u64()?,
                edge_key: r.take(EDGE_KEY_BYTES)?.try_into().expect("edge key bytes"),
                epoch_us: r.u64()?,
            },
            TAG_EDGE_GONE => LinkMessage::EdgeGone {
                session_id: r.u64()?,
                epoch_us: r.u64()?,
            },
            TAG_TICKET => LinkMessage::Handoff {
                to_worker: r.u32()?,
                handoff: PeerHandoff::Ticket {
                    from_worker: r.u32()? as usize,
                    session_id: r.u64()?,
                    ticket_id: r.u64()?,
                    bytes: r.bytes()?,
                },
            },
            TAG_COMMITTED => LinkMessage::Handoff {
                to_worker: r.u32()?,
                handoff: PeerHandoff::Committed {
                    to_worker: r.u32()? as usize,
                    session_id: r.u64()?,
                    ticket_id: r.u64()?,
                },
            },
            TAG_GHOSTS => {
                let to_worker = r.u32()?;
                let from_zone_id = r.u32()?;
                let to_zone_id = r.u32()?;
                let tick = r.u64()?;
                let count = r.u32()? as usize;
                if count > LINK_GHOSTS_MAX {
                    return Err(MessageError::OutOfRange("ghost count"));
                }
                let mut ghosts = Vec::with_capacity(count);
                for _ in 0..count {
                    ghosts.push(EntityState {
                        id: r.u32()?,
                        kind: EntityKind::from_u8(r.u8()?).ok_or(MessageError::OutOfRange("entity kind"))?,
                        position: [r.f32()?, r.f32()?, r.f32()?],
                        yaw: r.f32()?,
                        velocity: [r.f32()?, r.f32()?, r.f32()?],
                        health: r.u16()?,
                        flags: r.u16()?,
                    });
                }
                LinkMessage::Handoff {
                    to_worker,
                    handoff: PeerHandoff::Ghosts(GhostBatch {
                        from_zone_id,
                        to_zone_id,
                        tick,
                        ghosts,
                    }),
                }
            }
            tag => return Err(MessageError::UnknownTag(tag)),
        };
        if !r.0.is_empty() {
            return Err(MessageError::Trailing(r.0.len()));
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<LinkMessage> {
        vec![
            LinkMessage::Datagram {
                to_worker: 3,
                from: "10.0.0.7:40001".parse().unwrap(),
                received_us: 1_700_000_000_123_456,
                bytes: vec![1, 2, 3],
            },
            LinkMessage::Reply {
                to: "[2001:db8::1]:5000".parse().unwrap(),
                bytes: vec![9; 1200],
            },
            LinkMessage::Relay {
                to_worker: 1,
                client: "10.0.0.7:40001".parse().unwrap(),
                via_node: "node-a".into(),
            },
            LinkMessage::EdgeOwner {
                session_id: 0x1234_5678_9abc,
                edge_key: [7; EDGE_KEY_BYTES],
                epoch_us: 1_790_000_000_000_000,
            },
            LinkMessage::EdgeGone {
                session_id: 0x1234_5678_9abc,
                epoch_us: 1_790_000_000_000_001,
            },
            LinkMessage::Handoff {
                to_worker: 1,
                handoff: PeerHandoff::Ticket {
                    from_worker: 0,
                    session_id: u64::MAX,
                    ticket_id: 77,
                    bytes: vec![0xAB; 900],
                },
            },
            LinkMessage::Handoff {
                to_worker: 0,
                handoff: PeerHandoff::Committed {
                    to_worker: 1,
                    session_id: 5,
                    ticket_id: 77,
                },
            },
            LinkMessage::Handoff {
                to_worker: 2,
                handoff: PeerHandoff::Ghosts(GhostBatch {
                    from_zone_id: 1,
                    to_zone_id: 2,
                    tick: 12_345,
                    ghosts: vec![EntityState {
                        id: 65_537,
                        kind: EntityKind::Player,
                        position: [255.5, 10.25, 0.0],
                        yaw: 1.5,
                        velocity: [-3.0, 0.5, 0.0],
                        health: 100,
                        flags: 2,
                    }],
                }),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in samples() {
            assert_eq!(LinkMessage::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn a_cut_unknown_or_padded_message_is_refused() {
        for message in samples() {
            let bytes = message.encode();
            for cut in 0..bytes.len() {
                assert!(
                    LinkMessage::decode(&bytes[..cut]).is_err(),
                    "cut at {cut} of {message:?}"
                );
            }
            let mut padded = bytes.clone();
            padded.push(0);
            assert_eq!(LinkMessage::decode(&padded), Err(MessageError::Trailing(1)));
        }
        assert_eq!(LinkMessage::decode(&[99]), Err(MessageError::UnknownTag(99)));
        let ghosts = samples()
            .into_iter()
            .find(|message| {
                matches!(
                    message,
                    LinkMessage::Handoff {
                        handoff: PeerHandoff::Ghosts(_),
                        ..
                    }
                )
            })
            .expect("a ghost batch sample");
        let mut bad_kind = ghosts.encode();
        // tag, to_worker, from, to, tick, count, id → the kind byte.
        bad_kind[1 + 4 + 4 + 4 + 8 + 4 + 4] = 9;
        assert_eq!(
            LinkMessage::decode(&bad_kind),
            Err(MessageError::OutOfRange("entity kind"))
        );
    }
}
