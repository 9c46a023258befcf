//! A worker's part in handoffs across nodes: tickets, commits, ghosts and forwarded datagrams
//! travel over the node link ([`crate::node_link`]) addressed (node, worker); etcd decides each
//! ticket through the [`EtcdArbiter`], asked over a bounded queue and answered at a later loop, so
//! the worker keeps ticking while etcd thinks.
//!
//! - Old node: a ticket for a zone the game directory places on another node goes over the link,
//!   preceded by where the client's datagrams enter the cluster (`Relay`). Its deadline passing asks
//!   etcd to abort (the route CAS'd back to this node); etcd's answer — or the new node's `Committed`
//!   message, sent only after etcd committed — settles it. After a commit the session's datagrams
//!   that still reach this node go on to the new owner over the link.
//! - New node: a ticket from the link is taken in like a worker's; once admitted, etcd is asked to
//!   commit (the route CAS'd to this node at the ticket's route revision). Committed: the admission
//!   is confirmed and the old node told; aborted: the admission is cancelled before anyone else
//!   learns of it. An undecided answer (etcd unreachable) is asked again, never guessed: a commit
//!   may have landed without its answer.
//! - Without the edge the client keeps sending to the node it connected to, which forwards its
//!   datagrams here; replies go back over the link for that node to send from its address
//!   (counted fallback), so the client never changes address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use meridian_control::registry::GameDirectory;
use meridian_control::routes::Route;

use super::ZoneWorker;
use crate::handoff::{ArbiterAnswer, ArbiterRequest, ArbiterVerdict, EtcdArbiter, PeerHandoff};
use crate::node_link::NodeLink;
use crate::node_link::message::LinkMessage;

/// Sessions a worker forwards to or relays for other nodes, each; beyond it new ones are refused
/// (counted) until idle entries are swept.
pub const CROSS_ROUTES_MAX: usize = 65_536;
/// A forward route or relay unused this long is forgotten (the session has timed out by then).
const CROSS_IDLE_US: u64 = 10_000_000;
/// Ticks a ticket may wait for its commit once the worker hands players to other nodes (500 ms at
/// 20 Hz): a node hop is a link round trip plus etcd's commit (about four etcd round trips); with
/// the default 4 ticks, 131 of 990 cross-node tickets expired and were aborted under load (30
/// walkers, debug build, 2 shared cores). Only a stuck peer waits this long.
pub const CROSS_NODE_DEADLINE_TICKS: u64 = 10;
/// Wait before asking etcd again about a ticket it left undecided.
const REASK_US: u64 = 50_000;
/// Sessions of other nodes this node's edge forwards after an owner's announcement
/// ([`LinkMessage::EdgeOwner`]); beyond it new ones are refused (counted) and their packets, should
/// anycast bring them here, are dropped as unknown.
pub const EDGE_OWNERS_MAX: usize = 262_144;

fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// What one worker needs to hand players to and from other nodes (built by the node agent).
pub struct CrossNode {
    pub node_id: String,
    pub link: NodeLink,
    /// This worker's messages from other nodes (the sending node's id first).
    pub inbox: Receiver<(String, LinkMessage)>,
    /// Zone → node, worker and fencing token, from etcd.
    pub directory: GameDirectory,
    pub arbiter: EtcdArbiter,
    pub answers: Receiver<ArbiterAnswer>,
    state: CrossState,
}

/// Where the node agent leaves a worker's [`CrossNode`] once the link is up; the worker takes it
/// at its next loop.
pub type CrossNodeSlot = Arc<Mutex<Option<CrossNode>>>;

impl CrossNode {
    pub fn new(
        node_id: String,
        link: NodeLink,
        inbox: Receiver<(String, LinkMessage)>,
        directory: GameDirectory,
        arbiter: EtcdArbiter,
        answers: Receiver<ArbiterAnswer>,
    ) -> Self {
        Self {
            node_id,
            link,
            inbox,
            directory,
            arbiter,
            answers,
            state: CrossState::default(),
        }
    }
}

#[derive(Default)]
struct CrossState {
    /// Session → (node, worker) that owns it now, with the last use.
    remote_routes: HashMap<u64, (String, u32, u64)>,
    /// Client address → the node its datagrams enter by, which sends our replies, with the last use.
    relays: HashMap<SocketAddr, (String, u64)>,
    /// Old side: tickets sent to another node, not settled.
    sent: HashMap<(u64, u64), Sent>,
    /// New side: tickets taken in from another node, not settled.
    taken: HashMap<(u64, u64), Taken>,
    /// Where each taken ticket's client enters the cluster (told just before the ticket).
    relay_of_next_ticket: Option<(SocketAddr, String)>,
    /// Sessions another node announced it owns (node, epoch), which this node's edge forwards there.
    edge_owners: HashMap<u64, (String, u64)>,
}

struct Sent {
    owner: Route,
    to: Route,
    /// When etcd was last asked to abort (0: not asked since the last answer).
    asked_us: u64,
}

struct Taken {
    from_node: String,
    from_worker: u32,
    /// Admitted: the route to commit to (None until the host accepted the ticket).
    to: Option<Route>,
    asked_us: u64,
    /// After an undecided answer: not asked again before this.
    retry_at_us: u64,
    /// The session's edge entry before the ticket made it local, restored if the ticket aborts:
    /// `None` none, `Some(None)` local already (it entered the cluster here and was handed away
    /// without a forward target), `Some(Some(owner))` forwarded to `owner`.
    entry_before: Option<Option<std::net::Ipv4Addr>>,
}

/// Test-only crash points: `MERIDIAN_HANDOFF_FAILPOINT=<step>` aborts the process (no clean-up, as
/// `kill -9`) the first time a cross-node handoff reaches `step`: `frozen` (old node, ticket written,
/// not sent), `ticket_sent` (old node, ticket on the link), `committed` (new node, etcd committed,
/// neither side told), `route_flipped` (old node, learnt the commit, forgot the player), `resumed`
/// (new node, admission confirmed, old node told). `<step>:stall` instead stops the worker there
/// for [`FAILPOINT_STALL`] after creating the file named by `MERIDIAN_HANDOFF_FAILPOINT_MARK`, so a
/// test can `kill -9` the *other* node at that step. Read once; unset in production.
pub const FAILPOINT_ENV: &str = "MERIDIAN_HANDOFF_FAILPOINT";
/// Where a stalled failpoint says it stalled.
pub const FAILPOINT_MARK_ENV: &str = "MERIDIAN_HANDOFF_FAILPOINT_MARK";
/// How long a `:stall` failpoint stops the worker.
pub const FAILPOINT_STALL: std::time::Duration = std::time::Duration::from_secs(3);

fn failpoint(step: &str) {
    static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    static STALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Some(armed) = ARMED.get_or_init(|| std::env::var(FAILPOINT_ENV).ok()).as_deref() else {
        return;
    };
    if armed == step {
        tracing::error!(step, "handoff failpoint: aborting the process");
        std::process::abort();
    }
    if armed.strip_suffix(":stall") == Some(step) && !STALLED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::error!(step, "handoff failpoint: stalling the worker");
        if let Ok(mark) = std::env::var(FAILPOINT_MARK_ENV) {
            let _ = std::fs::write(mark, step);
        }
        std::thread::sleep(FAILPOINT_STALL);
    }
}

/// The session's edge key, from the ticket's transport section.
fn edge_key(ticket: &[u8]) -> Option<[u8; meridian_edge_common::EDGE_KEY_BYTES]> {
    let ticket = meridian_proto::control::decode_ticket(ticket).ok()?;
    ticket.transport?.edge_key?.as_slice().try_into().ok()
}

fn client_address(ticket: &[u8]) -> Option<SocketAddr> {
    let ticket = meridian_proto::control::decode_ticket(ticket).ok()?;
    ticket.transport?.client_address?.parse().ok()
}

impl ZoneWorker {
    /// Takes the cross-node links the agent left in the slot (once).
    pub(super) fn take_cross_node(&mut self) {
        if self.cross.is_some() {
            return;
        }
        if let Some(slot) = &self.cross_slot
            && let Ok(mut slot) = slot.try_lock()
        {
            self.cross = slot.take();
            if self.cross.is_some() && self.host.set_remote_handoffs(CROSS_NODE_DEADLINE_TICKS).is_err() {
                tracing::warn!(
                    worker = self.index,
                    "no cluster tick origin: handoffs across nodes wait at the border"
                );
            }
        }
    }

    fn link_send(&mut self, node: &str, message: LinkMessage) -> bool {
        let Some(cross) = &self.cross else {
            return false;
        };
        match cross.link.send(node, message.encode()) {
            Ok(()) => {
                metrics::counter!("meridian_cross_node_messages_total", "direction" => "out").increment(1);
                true
            }
            // Counted by the link; a lost ticket expires and is aborted.
            Err(_) => false,
        }
    }

    /// Old side: a ticket for a zone on another node. False: no other node has it (expires).
    pub(super) fn ticket_across(
        &mut self,
        session_id: u64,
        ticket_id: u64,
        from_zone_id: u32,
        to_zone_id: u32,
        bytes: Vec<u8>,
    ) -> bool {
        let Some(cross) = &self.cross else {
            return false;
        };
        let Some(to) = cross.directory.locate(to_zone_id).and_then(|server| server.route) else {
            return false;
        };
        if to.node == cross.node_id {
            return false;
        }
        let owner = Route {
            node: cross.node_id.clone(),
            worker: self.index as u32,
            zone: from_zone_id,
            token: self.host.zone_token(from_zone_id).unwrap_or(0) as i64,
        };
        failpoint("frozen");
        // The client keeps talking to the node it entered by (this one, or the one relaying for us).
        if let Some(client) = client_address(&bytes) {
            let via = cross
                .state
                .relays
                .get(&client)
                .map_or_else(|| cross.node_id.clone(), |(node, _)| node.clone());
            self.link_send(
                &to.node,
                LinkMessage::Relay {
                    to_worker: to.worker,
                    client,
                    via_node: via,
                },
            );
        }
        let to_node = to.node.clone();
        let sent = self.link_send(
            &to.node,
            LinkMessage::Handoff {
                to_worker: to.worker,
                handoff: PeerHandoff::Ticket {
                    from_worker: self.index,
                    session_id,
                    ticket_id,
                    bytes,
                },
            },
        );
        if let Some(cross) = &mut self.cross {
            cross
                .state
                .sent
                .insert((session_id, ticket_id), Sent { owner, to, asked_us: 0 });
        }
        if sent {
            failpoint("ticket_sent");
        } else {
            tracing::debug!(session_id, ticket_id, node = %to_node, "cross-node ticket not sent; it expires and aborts");
        }
        true
    }

    /// Old side: a ticket sent across passed its deadline: etcd is asked to abort (once per
    /// answer). True: the ticket is a cross-node one (handled here).
    pub(super) fn expired_across(&mut self, now_us: u64, session_id: u64, ticket_id: u64) -> bool {
        let index = self.index;
        let Some(cross) = &mut self.cross else {
            return false;
        };
        let Some(sent) = cross.state.sent.get_mut(&(session_id, ticket_id)) else {
            return false;
        };
        // Expired repeats every tick: ask once per answer (an undecided answer clears it).
        if sent.asked_us == 0 {
            let request = ArbiterRequest::Abort {
                session_id,
                ticket_id,
                owner: sent.owner.clone(),
                to: sent.to.clone(),
            };
            if cross.arbiter.ask(index, request).is_ok() {
                sent.asked_us = now_us.max(1);
            }
        }
        true
    }

    /// New side: the host admitted a ticket that came from another node: ask etcd to commit. True:
    /// it is a cross-node ticket (handled here).
    pub(super) fn accepted_across(&mut self, now_us: u64, session_id: u64, ticket_id: u64) -> bool {
        let index = self.index;
        let zone = self.host.client_of(session_id).map(|(zone, _)| zone);
        let token = zone.and_then(|zone| self.host.zone_token(zone)).unwrap_or(0);
        let Some(cross) = &mut self.cross else {
            return false;
        };
        let Some(taken) = cross.state.taken.get_mut(&(session_id, ticket_id)) else {
            return false;
        };
        let Some(zone) = zone else {
            return true;
        };
        let to = Route {
            node: cross.node_id.clone(),
            worker: index as u32,
            zone,
            token: token as i64,
        };
        taken.to = Some(to.clone());
        if cross
            .arbiter
            .ask(
                index,
                ArbiterRequest::Commit {
                    session_id,
                    ticket_id,
                    to,
                },
            )
            .is_ok()
        {
            taken.asked_us = now_us.max(1);
        }
        true
    }

    /// A ghost batch for a zone on another node. False: no other node has it.
    pub(super) fn ghosts_across(&mut self, batch: meridian_host::GhostBatch) -> bool {
        let Some(cross) = &self.cross else {
            return false;
        };
        let Some(to) = cross.directory.locate(batch.to_zone_id).and_then(|server| server.route) else {
            return false;
        };
        if to.node == cross.node_id {
            return false;
        }
        self.link_send(
            &to.node,
            LinkMessage::Handoff {
                to_worker: to.worker,
                handoff: PeerHandoff::Ghosts(batch),
            },
        )
    }

    /// A datagram of a session in transit to, or committed to, another node goes there. True:
    /// forwarded (or dropped, counted).
    pub(super) fn forward_across(
        &mut self,
        now_us: u64,
        session_id: u64,
        in_transit_to: Option<u32>,
        bytes: &[u8],
        from: SocketAddr,
    ) -> bool {
        let Some(cross) = &mut self.cross else {
            return false;
        };
        let target = match in_transit_to {
            Some(zone) => cross
                .directory
                .locate(zone)
                .and_then(|server| server.route)
                .filter(|route| route.node != cross.node_id)
                .map(|route| (route.node, route.worker)),
            // Offered here for resume (the owner it moved to died and this node took the zone
            // over): the session is this node's again.
            None if self.directory.resumable_owner(session_id).is_some() => {
                cross.state.remote_routes.remove(&session_id);
                None
            }
            None => cross.state.remote_routes.get_mut(&session_id).map(|route| {
                route.2 = now_us;
                (route.0.clone(), route.1)
            }),
        };
        let Some((node, worker)) = target else {
            return false;
        };
        self.link_send(
            &node,
            LinkMessage::Datagram {
                to_worker: worker,
                from,
                received_us: now_us,
                bytes: bytes.to_vec(),
            },
        );
        metrics::counter!("meridian_cross_node_forwarded_datagrams_total").increment(1);
        true
    }

    /// Handles a datagram this node's own socket (or gateway) received from the client. If this
    /// worker relays the session's replies through the node the client entered by, and the packet
    /// authenticates and is newer than any seen (the session's newest received sequence moves),
    /// the client enters the cluster here now (anycast moved it, or that node died): replies go
    /// straight back from here. Junk, requests, another session's packets and replays from that
    /// address change nothing, so a copied packet cannot turn a session's replies away.
    pub(super) fn handle_direct(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) {
        let probe = self.relay_probe(bytes, from);
        self.host.handle_datagram(now_us, from, bytes);
        let Some((session_id, newest_before)) = probe else {
            return;
        };
        let newest_after = self
            .host
            .session_resume_hints(session_id)
            .and_then(|hints| hints.hints.received_newest);
        if newest_after > newest_before
            && let Some(cross) = &mut self.cross
            && cross.state.relays.remove(&from).is_some()
        {
            metrics::counter!("meridian_cross_node_relays_ended_total").increment(1);
        }
    }

    /// The session of a datagram from a client this worker relays for, and its newest received
    /// sequence before the datagram is handled.
    fn relay_probe(&self, bytes: &[u8], from: SocketAddr) -> Option<(u64, Option<u64>)> {
        let cross = self.cross.as_ref()?;
        if cross.state.relays.is_empty() || !cross.state.relays.contains_key(&from) {
            return None;
        }
        let header = meridian_proto::packet::read_sealed_header(bytes).ok()?;
        let hints = self.host.session_resume_hints(header.session_id)?;
        Some((header.session_id, hints.hints.received_newest))
    }

    /// A datagram for a client whose datagrams enter by another node goes there to be sent (the
    /// fallback without the edge). True: relayed.
    pub(super) fn relay_reply(&mut self, now_us: u64, bytes: &[u8], to: SocketAddr) -> bool {
        let Some(cross) = &mut self.cross else {
            return false;
        };
        let Some((node, last_us)) = cross.state.relays.get_mut(&to) else {
            return false;
        };
        *last_us = now_us;
        let node = node.clone();
        metrics::counter!("meridian_cross_node_relayed_replies_total").increment(1);
        self.link_send(
            &node,
            LinkMessage::Reply {
                to,
                bytes: bytes.to_vec(),
            },
        );
        true
    }

    /// This node took `session_id` (opened, resumed, or handed in from another node): every peer's
    /// edge learns to forward its packets here, so wherever anycast delivers them they reach this
    /// node (the edge key goes along: the forwarding edge checks the session's tag and replay window
    /// as the owner's does). Only behind the edge.
    pub(super) fn announce_edge_owner(&mut self, session_id: u64) {
        let (Some(edge), Some(cross)) = (&self.edge_sessions, &self.cross) else {
            return;
        };
        let Ok(Some(entry)) = edge.get(session_id) else {
            return;
        };
        let message = LinkMessage::EdgeOwner {
            session_id,
            edge_key: entry.edge_key,
            epoch_us: unix_us(),
        };
        Self::broadcast(cross, message, "edge_owner");
    }

    /// The session this node owned ended: the peers forget their forwarding entries.
    pub(super) fn announce_edge_gone(&mut self, session_id: u64) {
        let (Some(_), Some(cross)) = (&self.edge_sessions, &self.cross) else {
            return;
        };
        let message = LinkMessage::EdgeGone {
            session_id,
            epoch_us: unix_us(),
        };
        Self::broadcast(cross, message, "edge_gone");
    }

    fn broadcast(cross: &CrossNode, message: LinkMessage, what: &'static str) {
        let bytes = message.encode();
        for (peer, _) in cross.link.peers() {
            // A full queue is counted by the link; the peer's entry then waits for the next announcement.
            if cross.link.send(&peer, bytes.clone()).is_ok() {
                metrics::counter!("meridian_cross_node_messages_total", "direction" => "out").increment(1);
                metrics::counter!("meridian_edge_announcements_total", "what" => what, "direction" => "out")
                    .increment(1);
            }
        }
    }

    /// Another node owns `session_id` since `epoch_us`: unless this node holds it (its entry is local),
    /// the edge forwards its packets to that node's underlay address. An older announcement than
    /// the one already applied is ignored (announcements from different nodes may cross).
    fn learn_edge_owner(&mut self, from_node: String, session_id: u64, edge_key: [u8; 16], epoch_us: u64) {
        let (Some(edge), Some(cross)) = (&mut self.edge_sessions, &mut self.cross) else {
            return;
        };
        let outcome = (|| {
            let Some(underlay) = cross.directory.underlay_address(&from_node) else {
                return "unknown_node";
            };
            let existing = match edge.forward_target(session_id) {
                Ok(Some(None)) => return "held_here",
                Ok(existing) => existing,
                Err(_) => return "map_error",
            };
            match cross.state.edge_owners.get(&session_id) {
                Some((_, known)) if *known > epoch_us => return "stale",
                None if cross.state.edge_owners.len() >= EDGE_OWNERS_MAX => return "full",
                _ => {}
            }
            if existing.is_none() {
                let entry = crate::edge::SessionEntry {
                    edge_key,
                    worker: 0,
                    zone: 0,
                    route_revision: 0,
                    sequence_seen: 0,
                    seen_mask: 0,
                };
                if edge.insert(session_id, entry).is_err() {
                    return "map_error";
                }
            }
            if edge.forward(session_id, underlay).is_err() {
                return "map_error";
            }
            cross.state.edge_owners.insert(session_id, (from_node, epoch_us));
            "applied"
        })();
        metrics::counter!("meridian_edge_announcements_total", "what" => "edge_owner", "direction" => "in", "outcome" => outcome)
            .increment(1);
    }

    /// The announcing owner's session ended: its forwarding entry here goes (if no newer owner's
    /// announcement replaced it).
    fn forget_edge_owner(&mut self, from_node: &str, session_id: u64, epoch_us: u64) {
        let (Some(edge), Some(cross)) = (&mut self.edge_sessions, &mut self.cross) else {
            return;
        };
        let applies = cross
            .state
            .edge_owners
            .get(&session_id)
            .is_some_and(|(node, known)| node == from_node && *known <= epoch_us);
        if !applies {
            return;
        }
        cross.state.edge_owners.remove(&session_id);
        if matches!(edge.forward_target(session_id), Ok(Some(Some(_)))) && edge.remove(session_id).is_err() {
            self.metrics.edge_map_errors.increment(1);
        }
    }

    /// Takes in what other nodes sent and what etcd answered.
    pub(super) fn exchange_cross_node(&mut self, now_us: u64) {
        self.take_cross_node();
        let Some(cross) = &self.cross else {
            return;
        };
        let messages: Vec<(String, LinkMessage)> = cross.inbox.try_iter().collect();
        let answers: Vec<ArbiterAnswer> = cross.answers.try_iter().collect();
        for (from_node, message) in messages {
            metrics::counter!("meridian_cross_node_messages_total", "direction" => "in").increment(1);
            self.on_link_message(now_us, from_node, message);
        }
        for answer in answers {
            self.on_arbiter_answer(now_us, answer);
        }
        self.reask_undecided(now_us);
        if let Some(cross) = &mut self.cross {
            let state = &mut cross.state;
            if state.remote_routes.len() + state.relays.len() > CROSS_ROUTES_MAX {
                state
                    .remote_routes
                    .retain(|_, route| now_us.saturating_sub(route.2) < CROSS_IDLE_US);
                state
                    .relays
                    .retain(|_, relay| now_us.saturating_sub(relay.1) < CROSS_IDLE_US);
            }
        }
    }

    fn on_link_message(&mut self, now_us: u64, from_node: String, message: LinkMessage) {
        match message {
            LinkMessage::Datagram {
                from,
                received_us,
                bytes,
                ..
            } => {
                if self.held_for_restore(&bytes) || self.forward_moved(received_us, &bytes, from) {
                    return;
                }
                self.host.handle_datagram(received_us, from, &bytes);
            }
            LinkMessage::Reply { to, bytes } => self.queue_send(&bytes, to),
            LinkMessage::EdgeOwner {
                session_id,
                edge_key,
                epoch_us,
            } => self.learn_edge_owner(from_node, session_id, edge_key, epoch_us),
            LinkMessage::EdgeGone { session_id, epoch_us } => self.forget_edge_owner(&from_node, session_id, epoch_us),
            LinkMessage::Relay { client, via_node, .. } => {
                if let Some(cross) = &mut self.cross {
                    cross.state.relay_of_next_ticket = Some((client, via_node));
                }
            }
            LinkMessage::Handoff { handoff, .. } => match handoff {
                PeerHandoff::Ghosts(batch) => self.host.accept_ghosts(batch),
                PeerHandoff::Ticket {
                    from_worker,
                    session_id,
                    ticket_id,
                    bytes,
                } => {
                    let Some(cross) = &mut self.cross else {
                        return;
                    };
                    let relay = cross.state.relay_of_next_ticket.take();
                    cross.state.taken.insert(
                        (session_id, ticket_id),
                        Taken {
                            from_node: from_node.clone(),
                            from_worker: from_worker as u32,
                            to: None,
                            asked_us: 0,
                            retry_at_us: 0,
                            entry_before: None,
                        },
                    );
                    match self.host.accept_ticket(now_us, &bytes) {
                        Ok(()) => {
                            // Behind the edge: the session's entry is in this node's map before the
                            // commit, so its packets pass here the moment the old node forwards them.
                            if let Some(edge) = &mut self.edge_sessions
                                && let Some(edge_key) = edge_key(&bytes)
                            {
                                let zone = self.host.client_of(session_id).map_or(0, |(zone, _)| zone);
                                let entry_before = edge.forward_target(session_id).ok().flatten();
                                if let Some(cross) = &mut self.cross
                                    && let Some(taken) = cross.state.taken.get_mut(&(session_id, ticket_id))
                                {
                                    taken.entry_before = entry_before;
                                }
                                let entry = crate::edge::SessionEntry {
                                    edge_key,
                                    worker: self.index as u32,
                                    zone,
                                    route_revision: self.host.zone_token(zone).unwrap_or(0),
                                    sequence_seen: 0,
                                    seen_mask: 0,
                                };
                                if edge.insert(session_id, entry).is_err() {
                                    self.metrics.edge_map_errors.increment(1);
                                }
                            }
                            if let (Some((client, via)), Some(cross)) = (relay, &mut self.cross) {
                                // The client sends to the node it entered by; this node answers it
                                // directly only when both share one game address (a VIP: its packets
                                // reach here through the edge); otherwise that node sends our
                                // replies from its address, or the client would drop them.
                                let shared_address = cross.directory.node_game_address(&via).is_some()
                                    && cross.directory.node_game_address(&via)
                                        == cross.directory.node_game_address(&cross.node_id);
                                if via == cross.node_id || shared_address {
                                    cross.state.relays.remove(&client);
                                } else {
                                    cross.state.relays.insert(client, (via, now_us));
                                }
                            }
                            // The session's datagrams belong here (or on their way here) now.
                            if let Some(cross) = &mut self.cross {
                                cross.state.remote_routes.remove(&session_id);
                            }
                        }
                        Err(refusal) => {
                            tracing::debug!(worker = self.index, session_id, from_node, %refusal, "cross-node ticket refused");
                            if let Some(cross) = &mut self.cross {
                                cross.state.taken.remove(&(session_id, ticket_id));
                            }
                        }
                    }
                    self.exchange_handoffs(now_us);
                }
                PeerHandoff::Committed {
                    to_worker,
                    session_id,
                    ticket_id,
                } => {
                    // Sent by the new node only after etcd committed: settle as etcd would answer.
                    self.settle_sent(now_us, session_id, ticket_id, true, Some((from_node, to_worker as u32)));
                }
            },
        }
    }

    /// Old side: a sent ticket's fate is known.
    fn settle_sent(
        &mut self,
        now_us: u64,
        session_id: u64,
        ticket_id: u64,
        committed: bool,
        owner: Option<(String, u32)>,
    ) {
        let Some(cross) = &mut self.cross else {
            return;
        };
        let Some(sent) = cross.state.sent.remove(&(session_id, ticket_id)) else {
            return;
        };
        if committed {
            let held = self.host.held_player(session_id, ticket_id);
            self.host.commit_handoff(session_id, ticket_id);
            // The record follows the session to the new zone now, written from here: if the new
            // node died between etcd's commit and its own write, whoever takes its zone over still
            // finds the session there and resumes it.
            if let (Some(link), Some((position_m, entity, from_zone))) = (&self.hot, held) {
                link.send(crate::hot::HotRequest::SessionMoved(crate::hot::SessionMove {
                    session_id,
                    from: (from_zone, sent.owner.token.max(0) as u64),
                    to: (sent.to.zone, sent.to.token.max(0) as u64),
                    to_node: sent.to.node.clone(),
                    position_m: Some(position_m),
                    entity: Some(entity),
                }));
            }
            failpoint("route_flipped");
            let (node, worker) = owner.unwrap_or((sent.to.node, sent.to.worker));
            // Behind the edge: the session's packets go IP-in-IP to the new node, which answers from
            // the shared address; without its underlay address they keep coming up here and are
            // forwarded over the link (the fallback).
            if let (Some(edge), Some(cross)) = (&mut self.edge_sessions, &self.cross)
                && let Some(underlay) = cross.directory.underlay_address(&node)
                && edge.forward(session_id, underlay).is_err()
            {
                self.metrics.edge_map_errors.increment(1);
            }
            if let Some(cross) = &mut self.cross
                && cross.state.remote_routes.len() < CROSS_ROUTES_MAX
            {
                cross.state.remote_routes.insert(session_id, (node, worker, now_us));
            }
        } else {
            self.host.abort_handoff(now_us, session_id, ticket_id);
        }
    }

    fn on_arbiter_answer(&mut self, now_us: u64, answer: ArbiterAnswer) {
        let ArbiterAnswer {
            session_id,
            ticket_id,
            verdict,
        } = answer;
        let key = (session_id, ticket_id);
        let Some(cross) = &mut self.cross else {
            return;
        };
        if let Some(sent) = cross.state.sent.get_mut(&key) {
            match verdict {
                ArbiterVerdict::Committed => self.settle_sent(now_us, session_id, ticket_id, true, None),
                ArbiterVerdict::Aborted => self.settle_sent(now_us, session_id, ticket_id, false, None),
                ArbiterVerdict::Undecided { reason } => {
                    tracing::debug!(session_id, ticket_id, reason, "abort undecided; asking again");
                    sent.asked_us = 0;
                }
            }
            return;
        }
        let Some(taken) = cross.state.taken.get_mut(&key) else {
            return;
        };
        match verdict {
            ArbiterVerdict::Committed => {
                failpoint("committed");
                let taken = cross.state.taken.remove(&key).expect("looked up above");
                self.host.confirm_handoff(session_id, ticket_id);
                // The session is this node's now: its route (under this node's lease, deleted when
                // it ends here) and its session record follow, as for a session opened here.
                self.raise_session_moved_here(session_id);
                self.link_send(
                    &taken.from_node,
                    LinkMessage::Handoff {
                        to_worker: taken.from_worker,
                        handoff: PeerHandoff::Committed {
                            to_worker: self.index,
                            session_id,
                            ticket_id,
                        },
                    },
                );
                failpoint("resumed");
            }
            ArbiterVerdict::Aborted => {
                let taken = cross.state.taken.remove(&key).expect("looked up above");
                self.host.cancel_handoff(session_id, ticket_id);
                // The entry inserted before the commit names a session this node does not own: it is
                // what it was before the ticket — forwarding, local (its client still sends here and
                // is passed up to be forwarded over the link), or gone.
                if let Some(edge) = &mut self.edge_sessions {
                    let restored = match taken.entry_before {
                        Some(Some(owner)) => edge.forward(session_id, owner).map(|_| ()),
                        Some(None) => Ok(()),
                        None => edge.remove(session_id).map(|_| ()),
                    };
                    if restored.is_err() {
                        self.metrics.edge_map_errors.increment(1);
                    }
                }
            }
            // Never guessed: a commit may have landed without its answer. Asked again shortly.
            ArbiterVerdict::Undecided { reason } => {
                tracing::debug!(session_id, ticket_id, reason, "commit undecided; asking again");
                taken.asked_us = 0;
                taken.retry_at_us = now_us + REASK_US;
            }
        }
    }

    /// New side: admitted tickets whose commit etcd left undecided are asked again.
    fn reask_undecided(&mut self, now_us: u64) {
        let index = self.index;
        let Some(cross) = &mut self.cross else {
            return;
        };
        for ((session_id, ticket_id), taken) in cross.state.taken.iter_mut() {
            let Some(to) = &taken.to else {
                continue;
            };
            if taken.asked_us != 0 || now_us < taken.retry_at_us {
                continue;
            }
            let request = ArbiterRequest::Commit {
                session_id: *session_id,
                ticket_id: *ticket_id,
                to: to.clone(),
            };
            if cross.arbiter.ask(index, request).is_ok() {
                taken.asked_us = now_us.max(1);
            }
        }
    }
}
