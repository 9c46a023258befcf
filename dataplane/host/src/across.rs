//! Handoff to and from zones on other hosts (another worker of the node; another node later): the
//! host that runs the old zone freezes the player at a tick boundary, takes its session out of the
//! endpoint and writes a **handoff ticket** (`schemas/fbs/control.fbs`: the player's state, its
//! pending inputs and last input tick, inventory, route, fencing tokens, plus the session's transport
//! state); the host that runs the new zone takes the ticket in (imports the session, admits the
//! player, whose first tick there is its next) and acknowledges. The caller carries the messages
//! between hosts ([`SessionHost::poll_handoff_message`]) and is the arbiter: each ticket ends in
//! exactly one of
//! - **commit**: the new host acknowledged and the caller's compare-and-swap on the session's route
//!   moved it to the new host ([`SessionHost::commit_handoff`] on the old host, which forgets the
//!   player, and [`SessionHost::confirm_handoff`] on the new one);
//! - **abort**: the deadline passed (the old host reports [`HandoffMessage::Expired`]) and the
//!   caller's compare-and-swap kept the route on the old host ([`SessionHost::abort_handoff`] puts the
//!   player back where it was, its session's send sequence advanced past anything the new host
//!   could have sealed; [`SessionHost::cancel_handoff`] removes the player from the new host if the
//!   ticket got there).
//!
//! The swap is the one decision both sides obey, so the player is never in two zones once it is
//! made, and never in none: between freeze and decision it is in the ticket, held by the old host.
//! The seam for the control plane is that swap: in-process the caller compares a route in memory;
//! across nodes it is etcd's transaction on `/meridian/routes/<session>`.
//!
//! Datagrams of a session in transit that still reach the old host are the caller's to forward
//! ([`SessionHost::handoff_forward`] says where); the caller re-points the session's route (its
//! worker forward table and the edge's session map) at the commit.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use meridian_proto::control::fbs::{HandoffTicket, InventoryItem, PendingInput, SessionRoute, Vec3};
use meridian_proto::control::{ControlError, decode_ticket, encode_ticket};
use meridian_proto::endpoint::{
    ImportError, SessionTransfer, TicketTransportError, transfer_from_ticket, transfer_to_ticket,
};
use meridian_proto::messages::ServerMessage;
use meridian_proto::packet::{DisconnectReason, read_sealed_header};
use meridian_zone::{AdmitRefusal, ClientId, FreezeRefusal, HandoffStateError, PlayerHandoff, ZoneInput};
use thiserror::Error;

use crate::{HANDOFF_PAUSE_BUCKETS, HandoffEvent, HandoffOutcome, HostDrop, HostError, Session, SessionHost, inputs};

/// Handoff messages kept for the caller between two polls (a worker polls every loop).
pub const HANDOFF_MESSAGES_MAX: usize = 1_024;
/// Ticks a ticket may wait for its commit before the old host reports it expired (200 ms at 20 Hz):
/// a worker hop takes microseconds, a node hop a round trip, so this is the stuck-peer bound.
pub const HANDOFF_DEADLINE_TICKS_DEFAULT: u64 = 4;

/// What a host hands the caller to carry to another host (or to decide on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoffMessage {
    /// For the host running `to_zone_id`: the encoded ticket (a control message).
    Ticket {
        ticket_id: u64,
        session_id: u64,
        from_zone_id: u32,
        to_zone_id: u32,
        bytes: Vec<u8>,
    },
    /// From the new host: the player is admitted there. The caller commits (swap the route, then
    /// `commit_handoff` on the old host, `confirm_handoff` here) or, if the old host aborted first,
    /// calls `cancel_handoff` here.
    Accepted {
        ticket_id: u64,
        session_id: u64,
        from_zone_id: u32,
        to_zone_id: u32,
    },
    /// From the old host: no commit by the deadline (repeated every tick until decided). The caller
    /// aborts (swap the route back, then `abort_handoff` here and `cancel_handoff` on the new host)
    /// unless the commit won the swap.
    Expired {
        ticket_id: u64,
        session_id: u64,
        to_zone_id: u32,
    },
}

/// Why a host would not take a ticket in; nothing changed on it.
#[derive(Debug, Error)]
pub enum TicketRefusal {
    #[error("ticket unreadable: {0}")]
    Malformed(#[from] ControlError),
    #[error("ticket's session state unreadable: {0}")]
    Transport(#[from] TicketTransportError),
    #[error("ticket's player state unreadable: {0}")]
    Player(#[from] HandoffStateError),
    #[error("zone {zone_id} is not run here")]
    UnknownZone { zone_id: u32 },
    #[error("zone's tick {zone_tick} is behind the ticket's freeze tick {freeze_tick} (clocks apart?)")]
    TickBehind { zone_tick: u64, freeze_tick: u64 },
    #[error("ticket's deadline tick {deadline_tick} passed (zone at {zone_tick})")]
    DeadlinePassed { zone_tick: u64, deadline_tick: u64 },
    #[error("session refused: {0}")]
    Session(#[from] ImportError),
    #[error("zone refused the player: {0:?}")]
    Admit(AdmitRefusal),
    #[error("{HANDOFF_MESSAGES_MAX} handoff messages wait for the caller")]
    QueueFull,
}

/// A player frozen here, in a ticket not decided yet: everything to put it back.
struct Held {
    ticket_id: u64,
    from_zone_id: u32,
    to_zone_id: u32,
    deadline_tick: u64,
    character_id: u64,
    handoff: PlayerHandoff,
    transfer: SessionTransfer,
    seen: Option<(u32, u64)>,
    rtt_reported_us: Option<u64>,
    expired_reported: bool,
    /// The tick the player was frozen after.
    freeze_tick: u64,
    /// Copies of the session's datagrams forwarded to the new zone while the ticket was open, to
    /// play here if it aborts (at most [`HELD_DATAGRAMS_MAX`]).
    forwarded: Vec<(SocketAddr, Vec<u8>)>,
}

/// Datagrams of one session in transit kept for an abort (about 0.6 s of a 20 Hz client with
/// acks): beyond it the oldest are kept and the rest counted (`handoff_datagrams_not_kept`).
pub const HELD_DATAGRAMS_MAX: usize = 32;
/// Ticks a player whose handoff to another host aborted stays before the next try (one second at
/// 20 Hz).
pub const HANDOFF_RETRY_BACKOFF_TICKS: u64 = 20;

#[derive(Default)]
pub(crate) struct Across {
    /// `None`: handoffs to zones elsewhere are off (counted `handoffs_elsewhere`).
    deadline_ticks: Option<u64>,
    /// By session id.
    held: BTreeMap<u64, Held>,
    /// Sessions taken in by ticket and not yet confirmed or cancelled: session id → ticket id.
    accepted: BTreeMap<u64, u64>,
    messages: VecDeque<HandoffMessage>,
    /// Tickets that came in before this host ran their freeze tick: taken in right after it.
    parked: Vec<Vec<u8>>,
}

impl Across {
    pub(crate) fn enabled(&self) -> bool {
        self.deadline_ticks.is_some()
    }
}

fn quantised(input: &meridian_zone::PlayerInput) -> PendingInput {
    let movement = input.movement.as_ref();
    let axis = |index: usize| movement.map_or(0, |m| (m.direction[index] * 127.0).round().clamp(-127.0, 127.0) as i8);
    let yaw = movement.map_or(0.0, |m| m.yaw);
    PendingInput {
        client_tick: input.client_tick,
        yaw: ((yaw / std::f32::consts::TAU).rem_euclid(1.0) * 65_536.0) as u16,
        move_right: axis(0),
        move_forward: axis(1),
        buttons: 0,
    }
}

impl SessionHost {
    /// Hands players crossing into zones this host does not run to the hosts that run them, by
    /// ticket; a ticket not committed within `deadline_ticks` is reported expired. Needs the
    /// cluster tick origin (`ZoneConfig::tick_epoch_us`): the deadline and the new zone's admission
    /// are in cluster ticks.
    pub fn set_remote_handoffs(&mut self, deadline_ticks: u64) -> Result<(), HostError> {
        if self.zone_config.tick_epoch_us.is_none() {
            return Err(HostError::NoTickOrigin);
        }
        self.across.deadline_ticks = Some(deadline_ticks.max(1));
        Ok(())
    }

    /// The next handoff message for the caller to carry or decide on; keep polling until `None`.
    pub fn poll_handoff_message(&mut self) -> Option<HandoffMessage> {
        self.across.messages.pop_front()
    }

    /// Whether `session_id` is frozen here in a ticket not decided yet.
    pub fn is_in_transit(&self, session_id: u64) -> bool {
        self.across.held.contains_key(&session_id)
    }

    /// For a datagram that reached this host: the zone its session is in transit to (forward the
    /// datagram to the host running it), or `None` (feed it to [`Self::handle_datagram`]).
    pub fn handoff_forward(&mut self, bytes: &[u8], from: SocketAddr) -> Option<u32> {
        if self.across.held.is_empty() {
            return None;
        }
        let session_id = read_sealed_header(bytes).ok()?.session_id;
        let held = self.across.held.get_mut(&session_id)?;
        // A copy stays here: if the ticket aborts, the player's inputs of the frozen ticks play
        // in its old zone instead of being lost with the new one.
        // Only payloads (inputs, acks, messages): a handshake packet still in flight right after the
        // player joined is not the session's to replay.
        let payload =
            meridian_proto::packet::read_packet_type(bytes).ok() == Some(meridian_proto::packet::PacketType::Payload);
        if payload && held.forwarded.len() < HELD_DATAGRAMS_MAX {
            held.forwarded.push((from, bytes.to_vec()));
        } else if payload {
            self.counters.handoff_datagrams_not_kept += 1;
        }
        self.counters.handoff_datagrams_forwarded += 1;
        Some(held.to_zone_id)
    }

    /// Freezes `session_id`'s player in zone index `from` and writes its ticket for `to_zone_id`.
    pub(crate) fn hand_off_across(&mut self, now_us: u64, session_id: u64, from: usize, to_zone_id: u32) {
        let Some(deadline_ticks) = self.across.deadline_ticks else {
            return;
        };
        if self.across.messages.len() >= crate::across::HANDOFF_MESSAGES_MAX {
            self.counters.handoff_messages_dropped += 1;
            return;
        }
        let Some(session) = self.sessions.get(&session_id) else {
            return;
        };
        let client = session.client;
        // Actions wait for the next input tick here and a half-received client message would be
        // left behind: put the handoff off a tick.
        let ready = self
            .endpoint
            .connection(session_id)
            .is_some_and(|connection| connection.transfer_ready().is_ok());
        if session.inputs.has_pending_actions() || !ready {
            self.counters.handoffs_deferred += 1;
            return;
        }
        let Some(freeze_tick) = self.zone_tick(from, client) else {
            return;
        };
        let (mut handoff, carried) = match self.zones[from].layers.freeze(client) {
            Ok(frozen) => frozen,
            Err(FreezeRefusal::UnknownClient) => return,
            Err(FreezeRefusal::Dead | FreezeRefusal::AwaitingPersistence) => {
                self.counters.handoffs_deferred += 1;
                return;
            }
        };
        // Inputs routed to it since its zone's last tick join its jitter buffer, as the zone would
        // have done on its next tick; acks and RTT reports start afresh in the new zone.
        for input in carried {
            if let ZoneInput::Input { input, received_us, .. } = input {
                let _ = handoff.inputs.offer(input, received_us);
            }
        }
        let transfer = match self.endpoint.export_session(session_id, now_us) {
            Ok(transfer) => transfer,
            Err(_) => {
                debug_assert!(false, "checked ready above");
                let _ = self.zones[from].layers.admit_frozen(handoff, Vec::new());
                return;
            }
        };
        let session = self.sessions.remove(&session_id).expect("looked up above");
        self.clients.remove(&session.client);
        // Unique per session and freeze: a session is frozen at most once a tick.
        let ticket_id = session_id.rotate_left(24) ^ freeze_tick;
        let from_zone = &self.zones[from];
        let deadline_tick = freeze_tick + deadline_ticks;
        let mut transport = transfer_to_ticket(&transfer);
        let seen = session.inputs.seen_window();
        if let Some((newest, below)) = seen {
            transport.input_seen_any = true;
            transport.input_newest_tick = newest;
            transport.input_seen_bits = below;
        }
        let buffer = handoff.inputs.state();
        let ticket = HandoffTicket {
            ticket_id,
            session_id,
            player_entity_id: handoff.entity,
            from_zone_id: from_zone.zone_id,
            to_zone_id,
            from_assignment_revision: from_zone.fencing_token.unwrap_or(0) as i64,
            freeze_tick: freeze_tick as u32,
            position: Some(Vec3 {
                x: handoff.position_m[0],
                y: handoff.position_m[1],
                z: handoff.position_m[2],
            }),
            yaw: handoff.yaw,
            velocity: Some(Vec3 {
                x: handoff.velocity_m_per_s[0],
                y: handoff.velocity_m_per_s[1],
                z: handoff.velocity_m_per_s[2],
            }),
            health: handoff.health,
            flags: 0,
            inventory: Some(
                handoff
                    .inventory
                    .iter()
                    .map(|(&item, &count)| InventoryItem {
                        item_id: u64::from(item),
                        template_id: item,
                        count,
                    })
                    .collect(),
            ),
            // The zone's exact encoding: what the new zone resumes from.
            extra_state: Some(handoff.encode_state()),
            last_input_tick: handoff.last_input_tick().unwrap_or(0),
            pending_inputs: Some(buffer.queued.iter().map(|(input, _)| quantised(input)).collect()),
            // Committed inventory changes the zone's view had seen; the new zone goes on from it.
            inventory_version: handoff.inventory_version,
            route: Some(Box::new(SessionRoute {
                node_id: None,
                worker: 0,
                zone_id: from_zone.zone_id,
                revision: 0,
            })),
            to_assignment_revision: 0,
            character_id: session.character_id,
            deadline_tick,
            transport: Some(Box::new(transport)),
        };
        let from_zone_id = from_zone.zone_id;
        let bytes = match encode_ticket(&ticket) {
            Ok(bytes) => bytes,
            Err(_) => {
                // Within every limit by construction; put everything back if not.
                debug_assert!(false, "a ticket the host wrote breaks the control limits");
                self.restore(session_id, session, handoff, transfer);
                return;
            }
        };
        self.across.held.insert(
            session_id,
            Held {
                ticket_id,
                from_zone_id,
                to_zone_id,
                deadline_tick,
                character_id: session.character_id,
                handoff,
                transfer,
                seen,
                rtt_reported_us: session.rtt_reported_us,
                expired_reported: false,
                freeze_tick,
                forwarded: Vec::new(),
            },
        );
        self.counters.handoff_tickets_out += 1;
        self.across.messages.push_back(HandoffMessage::Ticket {
            ticket_id,
            session_id,
            from_zone_id,
            to_zone_id,
            bytes,
        });
    }

    /// Puts a session and its player back as they were before a freeze (an encode that failed).
    fn restore(&mut self, session_id: u64, session: Session, handoff: PlayerHandoff, transfer: SessionTransfer) {
        let zone = session.zone;
        let _ = self.endpoint.import_session(transfer, 0);
        let _ = self.zones[zone].layers.admit_frozen(handoff, Vec::new());
        self.clients.insert(session.client, session_id);
        self.sessions.insert(session_id, session);
    }

    /// Reports tickets past their deadline, every tick until the caller decides them (an arbiter
    /// that could not answer once is asked again; one whose commit won waits for the commit).
    pub(crate) fn expire_handoffs(&mut self) {
        if self.across.held.is_empty() {
            return;
        }
        for (&session_id, held) in self.across.held.iter_mut() {
            let Some(zone) = self.zones.iter().find(|zone| zone.zone_id == held.from_zone_id) else {
                continue;
            };
            let tick = zone.layers.layers().first().map_or(0, |layer| layer.current_tick());
            if tick <= held.deadline_tick {
                continue;
            }
            if self.across.messages.len() >= HANDOFF_MESSAGES_MAX {
                self.counters.handoff_messages_dropped += 1;
                break; // reported on a later tick
            }
            if !held.expired_reported {
                held.expired_reported = true;
                self.counters.handoffs_expired += 1;
            }
            self.across.messages.push_back(HandoffMessage::Expired {
                ticket_id: held.ticket_id,
                session_id,
                to_zone_id: held.to_zone_id,
            });
        }
    }

    /// Takes a ticket in at `now_us`: imports the session, admits the player into the ticket's zone
    /// (its first tick there is this host's next) and queues [`HandoffMessage::Accepted`]. A ticket
    /// written in a tick this host has not run yet waits for it (counted `handoff_tickets_parked`);
    /// its `Accepted` then comes out of that tick's [`Self::handle_timeout`].
    pub fn accept_ticket(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), TicketRefusal> {
        let result = self.take_ticket(now_us, bytes);
        if result.is_err() {
            self.counters.handoff_tickets_refused += 1;
        }
        result
    }

    fn take_ticket(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), TicketRefusal> {
        if self.across.messages.len() >= HANDOFF_MESSAGES_MAX {
            return Err(TicketRefusal::QueueFull);
        }
        let ticket = decode_ticket(bytes)?;
        let zone_id = ticket.to_zone_id;
        let zone_index = self
            .zones
            .iter()
            .position(|zone| zone.zone_id == zone_id)
            .ok_or(TicketRefusal::UnknownZone { zone_id })?;
        let zone_tick = self.zones[zone_index]
            .layers
            .layers()
            .first()
            .map_or(0, |layer| layer.current_tick());
        let freeze_tick = u64::from(ticket.freeze_tick);
        // One tick of slack: the ticket may come in before this host ran the tick it was written in
        // (workers tick on one schedule, but on their own threads). It waits for that tick: the
        // player's first tick here must come after its last one there.
        if zone_tick + 1 < freeze_tick {
            return Err(TicketRefusal::TickBehind { zone_tick, freeze_tick });
        }
        if zone_tick < freeze_tick {
            if self.across.parked.len() >= HANDOFF_MESSAGES_MAX {
                return Err(TicketRefusal::QueueFull);
            }
            self.across.parked.push(bytes.to_vec());
            self.counters.handoff_tickets_parked += 1;
            return Ok(());
        }
        if zone_tick > ticket.deadline_tick {
            return Err(TicketRefusal::DeadlinePassed {
                zone_tick,
                deadline_tick: ticket.deadline_tick,
            });
        }
        let session_id = ticket.session_id;
        let transport = ticket.transport.as_deref();
        let transfer = transfer_from_ticket(session_id, transport)?;
        let seen = transport
            .filter(|transport| transport.input_seen_any)
            .map(|transport| (transport.input_newest_tick, transport.input_seen_bits));
        let client = self.allocate_client();
        let handoff = PlayerHandoff::decode_state(client, ticket.extra_state.as_deref().unwrap_or_default())?;
        let rtt_us = handoff.rtt_us;
        if self.sessions.contains_key(&session_id) {
            return Err(ImportError::AlreadyOpen { session_id }.into());
        }
        self.endpoint.import_session(transfer, now_us)?;
        let entity = match self.zones[zone_index].layers.admit_frozen(handoff, Vec::new()) {
            Ok((_, entity)) => entity,
            Err(refused) => {
                self.endpoint.forget_session(session_id);
                return Err(TicketRefusal::Admit(refused.refusal));
            }
        };
        self.sessions.insert(
            session_id,
            Session {
                zone: zone_index,
                client,
                character_id: ticket.character_id,
                inputs: inputs::SessionInputs::resume(seen),
                rtt_reported_us: Some(rtt_us),
                handoff_retry_tick: 0,
            },
        );
        self.clients.insert(client, session_id);
        if entity != ticket.player_entity_id {
            // Its id is taken here: the client is told its new one (one resync, counted).
            self.counters.handoff_resyncs += 1;
            self.scratch.clear();
            ServerMessage::Event(meridian_proto::messages::ServerEvent::Joined { entity }).encode(&mut self.scratch);
            if self.endpoint.send_reliable(session_id, &self.scratch).is_err() {
                self.drops.add(HostDrop::ChannelFull.label(), 1);
            }
        }
        self.across.accepted.insert(session_id, ticket.ticket_id);
        self.counters.handoff_tickets_in += 1;
        // Its last tick was `freeze_tick` there; its first here is the next one this zone runs.
        let pause_ticks = (zone_tick + 1)
            .saturating_sub(freeze_tick)
            .clamp(1, HANDOFF_PAUSE_BUCKETS as u64);
        self.counters.handoff_pause_ticks[pause_ticks as usize - 1] += 1;
        self.across.messages.push_back(HandoffMessage::Accepted {
            ticket_id: ticket.ticket_id,
            session_id,
            from_zone_id: ticket.from_zone_id,
            to_zone_id: zone_id,
        });
        Ok(())
    }

    /// Takes in the tickets parked until this tick (right after it ran).
    pub(crate) fn admit_parked(&mut self, now_us: u64) {
        if self.across.parked.is_empty() {
            return;
        }
        for bytes in std::mem::take(&mut self.across.parked) {
            let _ = self.accept_ticket(now_us, &bytes);
        }
    }

    /// Old host: the caller's route swap committed `ticket_id`; the player is the new host's.
    /// False when no such ticket is held (already decided).
    pub fn commit_handoff(&mut self, session_id: u64, ticket_id: u64) -> bool {
        if self
            .across
            .held
            .get(&session_id)
            .is_none_or(|held| held.ticket_id != ticket_id)
        {
            return false;
        }
        let held = self.across.held.remove(&session_id).expect("looked up above");
        self.counters.handoffs_across += 1;
        self.handoff_events.push(HandoffEvent {
            session_id,
            character_id: held.character_id,
            from_zone: held.from_zone_id,
            to_zone: held.to_zone_id,
            outcome: HandoffOutcome::Committed,
            across: true,
        });
        true
    }

    /// Old host: where a player frozen in a ticket stands (position, entity id, the zone it left),
    /// for the session record the commit moves; `None` when no such ticket is held.
    pub fn held_player(&self, session_id: u64, ticket_id: u64) -> Option<([f32; 3], u32, u32)> {
        let held = self.across.held.get(&session_id)?;
        (held.ticket_id == ticket_id).then_some((held.handoff.position_m, held.handoff.entity, held.from_zone_id))
    }

    /// New host: the commit of a ticket it took in is final.
    pub fn confirm_handoff(&mut self, session_id: u64, ticket_id: u64) -> bool {
        if self.across.accepted.get(&session_id) != Some(&ticket_id) {
            return false;
        }
        self.across.accepted.remove(&session_id);
        true
    }

    /// Old host: the caller's route swap aborted `ticket_id`; the player goes back into the zone it
    /// left and its session is open here again (send sequence advanced). False when no such ticket is
    /// held.
    pub fn abort_handoff(&mut self, now_us: u64, session_id: u64, ticket_id: u64) -> bool {
        if self
            .across
            .held
            .get(&session_id)
            .is_none_or(|held| held.ticket_id != ticket_id)
        {
            return false;
        }
        let held = self.across.held.remove(&session_id).expect("looked up above");
        self.counters.handoffs_across_aborted += 1;
        self.handoff_events.push(HandoffEvent {
            session_id,
            character_id: held.character_id,
            from_zone: held.from_zone_id,
            to_zone: held.to_zone_id,
            outcome: HandoffOutcome::Aborted,
            across: true,
        });
        let zone_index = self.zones.iter().position(|zone| zone.zone_id == held.from_zone_id);
        let imported = self.endpoint.import_session(held.transfer.taken_back(), now_us);
        let Some(zone_index) = zone_index.filter(|_| imported.is_ok()) else {
            // The zone stopped meanwhile (its sessions ended with it): this one ends too.
            if imported.is_ok() {
                self.endpoint.disconnect(session_id, DisconnectReason::ZoneMoved);
            }
            return true;
        };
        let client = held.handoff.client;
        let client = if self.clients.contains_key(&client) {
            self.allocate_client()
        } else {
            client
        };
        let mut handoff = held.handoff;
        handoff.client = client;
        // The ticks it spent frozen are the server's delay: its backlog plays back faster.
        let zone_tick = self.zones[zone_index]
            .layers
            .layers()
            .first()
            .map_or(held.freeze_tick, |layer| layer.current_tick());
        let frozen_ticks = zone_tick.saturating_sub(held.freeze_tick).min(u64::from(u32::MAX)) as u32;
        handoff.inputs.grant_catch_up(frozen_ticks);
        if self.zones[zone_index].layers.admit_frozen(handoff, Vec::new()).is_err() {
            debug_assert!(false, "the old zone takes back the player it froze");
            self.endpoint.disconnect(session_id, DisconnectReason::ZoneFull);
            return true;
        }
        self.sessions.insert(
            session_id,
            Session {
                zone: zone_index,
                client,
                character_id: held.character_id,
                inputs: inputs::SessionInputs::resume(held.seen),
                rtt_reported_us: held.rtt_reported_us,
                handoff_retry_tick: zone_tick + HANDOFF_RETRY_BACKOFF_TICKS,
            },
        );
        self.clients.insert(client, session_id);
        // What the client sent while the ticket was open (forwarded to the new zone, which never
        // got to keep it): played here now, under the session's own replay window and input dedupe,
        // so a copy that comes back from the other side later is refused as seen.
        for (from, bytes) in held.forwarded {
            self.counters.handoff_datagrams_replayed += 1;
            self.handle_datagram(now_us, from, &bytes);
        }
        true
    }

    /// New host: a ticket it took in lost the route swap (the old host aborted first): the player and
    /// its session leave this host without a word to the client, which the old host serves again.
    pub fn cancel_handoff(&mut self, session_id: u64, ticket_id: u64) -> bool {
        if self.across.accepted.get(&session_id) != Some(&ticket_id) {
            return false;
        }
        self.across.accepted.remove(&session_id);
        let Some(session) = self.sessions.remove(&session_id) else {
            return false;
        };
        self.clients.remove(&session.client);
        let layers = &mut self.zones[session.zone].layers;
        if layers.freeze(session.client).is_err() {
            // Dead or awaiting persistence here already: it leaves the usual way.
            let _ = layers.route(session.client, ZoneInput::Leave { client: session.client });
        }
        self.endpoint.forget_session(session_id);
        self.counters.handoffs_cancelled += 1;
        true
    }

    /// The players of zone `zone_id` frozen here in undecided tickets, as ghosts.
    pub(crate) fn in_transit_ghosts(
        &self,
        zone_id: u32,
    ) -> impl Iterator<Item = meridian_proto::snapshot::EntityState> + '_ {
        self.across
            .held
            .values()
            .filter(move |held| held.from_zone_id == zone_id)
            .map(|held| meridian_proto::snapshot::EntityState {
                id: held.handoff.entity,
                kind: meridian_proto::snapshot::EntityKind::Player,
                position: held.handoff.position_m,
                yaw: held.handoff.yaw,
                velocity: held.handoff.velocity_m_per_s,
                health: held.handoff.health,
                flags: 0,
            })
    }

    /// Tickets frozen here and not decided yet.
    pub fn handoffs_in_transit(&self) -> usize {
        self.across.held.len()
    }

    /// The zone client ids of the players in transit (for tests that count players).
    pub fn in_transit_clients(&self) -> impl Iterator<Item = (u64, ClientId)> + '_ {
        self.across
            .held
            .iter()
            .map(|(&session_id, held)| (session_id, held.handoff.client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostConfig;
    use meridian_proto::endpoint::ServerConfig;
    use meridian_zone::ZoneConfig;

    const EPOCH_US: u64 = 1_000_000_000;

    fn new_host(now_us: u64, tick_epoch_us: Option<u64>) -> SessionHost {
        SessionHost::new(
            HostConfig {
                server: ServerConfig {
                    cluster_key: [1; 32],
                    challenge_key: [2; 16],
                    public_address: "10.0.0.1:7777".parse().unwrap(),
                    connections_max: 8,
                },
                zone: ZoneConfig {
                    tick_epoch_us,
                    ..ZoneConfig::default()
                },
                zone_ids: vec![2],
                rtt_source: Default::default(),
                work_clock: None,
                spawn: None,
            },
            now_us,
        )
        .unwrap()
    }

    fn ticket(to_zone_id: u32, freeze_tick: u32, deadline_tick: u64) -> Vec<u8> {
        encode_ticket(&HandoffTicket {
            ticket_id: 7,
            session_id: 99,
            player_entity_id: 5,
            from_zone_id: 1,
            to_zone_id,
            from_assignment_revision: 0,
            freeze_tick,
            position: None,
            yaw: 0.0,
            velocity: None,
            health: 100,
            flags: 0,
            inventory: None,
            extra_state: None,
            last_input_tick: 0,
            pending_inputs: None,
            inventory_version: 0,
            route: None,
            to_assignment_revision: 0,
            character_id: 99,
            deadline_tick,
            transport: None,
        })
        .unwrap()
    }

    #[test]
    fn bad_late_early_and_misaddressed_tickets_are_refused_with_their_reason_and_change_nothing() {
        // 100 ticks after the cluster's origin.
        let now = EPOCH_US + 100 * 50_000;
        let mut host = new_host(now, Some(EPOCH_US));
        host.set_remote_handoffs(HANDOFF_DEADLINE_TICKS_DEFAULT).unwrap();
        assert!(matches!(
            host.accept_ticket(now, b"junk"),
            Err(TicketRefusal::Malformed(_))
        ));
        assert!(matches!(
            host.accept_ticket(now, &ticket(9, 100, 104)),
            Err(TicketRefusal::UnknownZone { zone_id: 9 })
        ));
        assert!(matches!(
            host.accept_ticket(now, &ticket(2, 90, 94)),
            Err(TicketRefusal::DeadlinePassed {
                zone_tick: 100,
                deadline_tick: 94
            })
        ));
        assert!(matches!(
            host.accept_ticket(now, &ticket(2, 105, 109)),
            Err(TicketRefusal::TickBehind {
                zone_tick: 100,
                freeze_tick: 105
            })
        ));
        assert!(matches!(
            host.accept_ticket(now, &ticket(2, 100, 104)),
            Err(TicketRefusal::Transport(TicketTransportError::Missing))
        ));
        let counters = host.counters();
        assert_eq!((counters.handoff_tickets_refused, counters.handoff_tickets_in), (5, 0));
        assert_eq!(host.session_count(), 0);
        assert_eq!(host.poll_handoff_message(), None);
        // Without the cluster tick origin there is no handoff to other hosts.
        let mut plain = new_host(now, None);
        assert_eq!(plain.set_remote_handoffs(4), Err(HostError::NoTickOrigin));
    }
}
