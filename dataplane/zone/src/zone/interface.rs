//! What crosses the zone's boundary: the inputs it is fed, the events and datagrams it returns,
//! its errors and its counters.

use std::sync::Arc;

use thiserror::Error;

use crate::config::ENTITIES_PER_ZONE_MAX;
use crate::input::PlayerInput;
pub use meridian_proto::messages::{PickUpRefusal, TradeRefusal};

/// A client session in this zone (assigned by the node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

/// A party of players who must share a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyId(pub u32);

/// Identifies one persistence effect so that retries and duplicate deliveries apply it once.
/// `epoch` is the zone owner's assignment revision, so keys never repeat across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdempotencyKey {
    pub zone_id: u32,
    pub layer: u32,
    pub epoch: u64,
    pub serial: u64,
}

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Player,
    Npc,
    Loot,
}

/// Everything the zone is told between ticks.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneInput {
    Join {
        client: ClientId,
        character_id: u64,
        party: Option<PartyId>,
        spawn_m: Option<[f32; 3]>,
        rtt_us: u64,
        /// The entity id to keep when it is free here (a session resumed after a failover keeps
        /// the id its client knows); `None` or taken: a new one.
        entity: Option<u32>,
    },
    Leave {
        client: ClientId,
    },
    /// A client input, with the server time its datagram was received (the node's receive timestamp;
    /// lag compensation measures back from it).
    Input {
        client: ClientId,
        input: PlayerInput,
        received_us: u64,
    },
    /// The client acknowledged the snapshot of `tick` (its new baseline).
    SnapshotAck {
        client: ClientId,
        tick: u32,
    },
    /// A fresh round-trip estimate from the session's clock sync.
    Rtt {
        client: ClientId,
        rtt_us: u64,
    },
    /// Persistence's answer to a `PersistenceEvent` (may come late, or more than once).
    PersistenceConfirmed {
        key: IdempotencyKey,
        outcome: PersistenceOutcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistenceOutcome {
    Committed,
    /// Refused for good (e.g. a stale fencing token): the loot goes back on the ground.
    Rejected,
    /// The database could not be reached: the claim is dropped, the player told so, and the loot
    /// is free again (a later pick-up reuses the loot's key, so a grant that did commit after all
    /// is replayed rather than doubled).
    Unavailable,
}

/// Effects the persistence service must make durable (write-behind; the zone never waits).
#[derive(Debug, Clone, PartialEq)]
pub enum PersistenceEvent {
    LootPickup {
        key: IdempotencyKey,
        character_id: u64,
        item_id: u32,
        quantity: u16,
    },
    /// A two-party trade both players agreed to: `a_character` gives its holding of `a_item`,
    /// `b_character` its holding of `b_item` (`0`: nothing), at once or not at all.
    Trade {
        key: IdempotencyKey,
        a_character_id: u64,
        b_character_id: u64,
        a_item: u32,
        b_item: u32,
    },
    Kill {
        key: IdempotencyKey,
        killer_character_id: Option<u64>,
        victim_entity: u32,
        victim_character_id: Option<u64>,
        tick: u64,
    },
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JoinRefusal {
    #[error("zone is full")]
    ZoneFull,
    #[error("client already in this zone")]
    AlreadyJoined,
    #[error("zone entity limit reached")]
    EntityLimit,
}

/// Messages for one client's reliable channel.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Joined {
        entity: u32,
    },
    JoinRefused {
        reason: JoinRefusal,
    },
    Chat {
        from_entity: u32,
        text: Arc<str>,
    },
    AttackResult {
        target: u32,
        hit: bool,
        rewind_us: u64,
        rewind_clamped: bool,
    },
    Died {
        killer_entity: Option<u32>,
    },
    Respawned,
    /// Persistence committed the pick-up: the inventory view changed.
    InventoryGranted {
        item_id: u32,
        quantity: u16,
    },
    PickUpRefused {
        loot: u32,
        reason: PickUpRefusal,
    },
    TradeOffered {
        from_entity: u32,
        give_item: u32,
        want_item: u32,
    },
    /// Persistence committed the trade: only now do both inventory views change.
    TradeCompleted {
        with_entity: u32,
        gave_item: u32,
        got_item: u32,
    },
    TradeRefused {
        with_entity: u32,
        reason: TradeRefusal,
    },
}

impl ClientEvent {
    /// The event as the protocol carries it to the client (`meridian_proto::messages::ServerEvent`).
    pub fn to_wire(&self) -> meridian_proto::messages::ServerEvent {
        use meridian_proto::messages::{ChatChannel, JoinRefused, ServerEvent};
        match self {
            ClientEvent::Joined { entity } => ServerEvent::Joined { entity: *entity },
            ClientEvent::JoinRefused { reason } => ServerEvent::JoinRefused {
                reason: match reason {
                    JoinRefusal::ZoneFull => JoinRefused::ZoneFull,
                    JoinRefusal::AlreadyJoined => JoinRefused::AlreadyJoined,
                    JoinRefusal::EntityLimit => JoinRefused::EntityLimit,
                },
            },
            // Zone chat is the only chat a zone relays.
            ClientEvent::Chat { from_entity, text } => ServerEvent::Chat {
                channel: ChatChannel::Zone,
                from_entity: *from_entity,
                text: text.clone(),
            },
            ClientEvent::Died { killer_entity } => ServerEvent::Died {
                killer_entity: *killer_entity,
            },
            ClientEvent::Respawned => ServerEvent::Respawned,
            ClientEvent::AttackResult { target, hit, .. } => ServerEvent::AttackResult {
                target: *target,
                hit: *hit,
            },
            ClientEvent::InventoryGranted { item_id, quantity } => ServerEvent::InventoryGranted {
                item_id: *item_id,
                quantity: *quantity,
            },
            ClientEvent::PickUpRefused { loot, reason } => ServerEvent::PickUpRefused {
                loot: *loot,
                reason: *reason,
            },
            ClientEvent::TradeOffered {
                from_entity,
                give_item,
                want_item,
            } => ServerEvent::TradeOffered {
                from_entity: *from_entity,
                give_item: *give_item,
                want_item: *want_item,
            },
            ClientEvent::TradeCompleted {
                with_entity,
                gave_item,
                got_item,
            } => ServerEvent::TradeCompleted {
                with_entity: *with_entity,
                gave_item: *gave_item,
                got_item: *got_item,
            },
            ClientEvent::TradeRefused { with_entity, reason } => ServerEvent::TradeRefused {
                with_entity: *with_entity,
                reason: *reason,
            },
        }
    }
}

/// One snapshot datagram payload for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotDatagram {
    pub client: ClientId,
    pub tick: u32,
    /// The newest client input tick this client's entity state reflects (see
    /// `InputBuffer::last_passed_tick`): what the client reconciles from.
    pub last_input_tick: Option<u32>,
    pub bytes: Vec<u8>,
}

/// What one `tick` call produced. Pass the same value back each call: buffers are reused.
#[derive(Debug, Default)]
pub struct ZoneOutput {
    pub snapshots: Vec<SnapshotDatagram>,
    pub client_events: Vec<(ClientId, ClientEvent)>,
    pub persistence: Vec<PersistenceEvent>,
    /// Fixed steps run by this call (0 when called early, >1 when catching up).
    pub steps: u32,
    spare_buffers: Vec<Vec<u8>>,
}

impl ZoneOutput {
    pub(super) fn recycle(&mut self) {
        for datagram in self.snapshots.drain(..) {
            let mut bytes = datagram.bytes;
            bytes.clear();
            self.spare_buffers.push(bytes);
        }
        self.client_events.clear();
        self.persistence.clear();
        self.steps = 0;
    }

    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        self.spare_buffers.pop().unwrap_or_default()
    }
}

/// Errors from the zone's direct (scripting/admin) API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ZoneError {
    #[error("zone entity limit {ENTITIES_PER_ZONE_MAX} reached")]
    EntityLimit,
    #[error("no entity {entity}")]
    UnknownEntity { entity: u32 },
}

/// Counters: every refusal, drop and degradation, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneCounters {
    pub steps: u64,
    pub steps_dropped: u64,
    pub inputs_applied: u64,
    pub inputs_late: u64,
    pub inputs_duplicate: u64,
    pub inputs_too_far_ahead: u64,
    pub inputs_missing: u64,
    /// Queued inputs dropped unplayed because the client ran too far ahead (see `CatchUp`).
    pub inputs_dropped_backlog: u64,
    pub inputs_unknown_client: u64,
    pub inputs_over_call_limit: u64,
    pub moves_rejected_speed_hack: u64,
    pub moves_rejected_teleport: u64,
    pub moves_rejected_malformed: u64,
    pub moves_blocked: u64,
    pub attacks_hit: u64,
    pub attacks_missed: u64,
    pub attacks_rewind_clamped: u64,
    pub attacks_refused: u64,
    pub kills: u64,
    pub respawns: u64,
    pub pickups_claimed: u64,
    pub pickups_refused: u64,
    /// Claims persistence could not make durable because the database was unreachable.
    pub loot_claims_unavailable: u64,
    pub loot_granted: u64,
    pub loot_claims_rejected: u64,
    pub loot_claims_retried: u64,
    pub loot_confirms_ignored: u64,
    pub loot_expired: u64,
    pub trades_offered: u64,
    pub trades_refused: u64,
    pub trades_committed: u64,
    pub trades_retried: u64,
    pub chat_relayed: u64,
    pub chat_dropped_rate: u64,
    pub chat_dropped_length: u64,
    pub chat_dropped_zone_limit: u64,
    pub joins: u64,
    pub joins_refused: u64,
    pub leaves: u64,
    /// Players frozen here and handed to another zone.
    pub handoffs_out: u64,
    /// Players admitted here from another zone.
    pub handoffs_in: u64,
    pub acks_unknown_client: u64,
    pub ticks_over_budget: u64,
    pub shed_level_raises: u64,
    pub ticks_shedding: u64,
    pub aoi_overflow_entities: u64,
    pub snapshots_sent: u64,
    pub snapshots_skipped_shedding: u64,
    pub snapshot_bytes: u64,
    pub snapshot_entities_sent: u64,
    pub snapshot_entities_left_out: u64,
    pub snapshot_removals_sent: u64,
    pub snapshot_removals_left_out: u64,
}
