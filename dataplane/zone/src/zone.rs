//! `Zone`: one zone instance (one layer) as a hecs world, stepped at a fixed rate by `tick`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::config::{CATCH_UP_STEPS_MAX, ConfigError, ENTITIES_PER_ZONE_MAX, ZoneConfig};
use crate::input::{Action, CHAT_BYTES_MAX, CatchUp, InputAdmission, InputBuffer, MoveIntent, Playback, PlayerInput};
use crate::lag::{LagCompensationHistory, ray_hits_sphere, shooter_view_time_us};
use crate::movement::{MoveRejection, MoveRules, apply_move, step};
use crate::replication::{ClientView, Replicator};
use crate::shedding::LoadShedding;

/// Most loot claims waiting for persistence at once; more pick-ups are refused and counted.
pub const PENDING_CLAIMS_MAX: usize = 4096;
/// Most zone-chat messages relayed per tick; the rest are dropped and counted.
pub const CHAT_MESSAGES_PER_TICK_MAX: u32 = 64;
/// Most inputs one `tick` call accepts; the rest are dropped and counted.
pub const INPUTS_PER_CALL_MAX: usize = 262_144;
/// How far an NPC wanders from home.
pub const NPC_WANDER_RADIUS_M: f32 = 16.0;

/// Entity flag: dead, waiting to respawn.
pub const FLAG_DEAD: u16 = 1 << 0;
/// Entity flag: a loot drop someone has claimed (waiting for persistence).
pub const FLAG_LOOT_CLAIMED: u16 = 1 << 1;

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
    Rejected,
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
            ClientEvent::Chat { from_entity, text } => {
                ServerEvent::Chat { channel: ChatChannel::Zone, from_entity: *from_entity, text: text.clone() }
            }
            ClientEvent::Died { killer_entity } => ServerEvent::Died { killer_entity: *killer_entity },
            ClientEvent::Respawned => ServerEvent::Respawned,
            ClientEvent::AttackResult { target, hit, .. } => ServerEvent::AttackResult { target: *target, hit: *hit },
            ClientEvent::InventoryGranted { item_id, quantity } => {
                ServerEvent::InventoryGranted { item_id: *item_id, quantity: *quantity }
            }
            ClientEvent::PickUpRefused { loot } => ServerEvent::PickUpRefused { loot: *loot },
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
    fn recycle(&mut self) {
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
    pub loot_granted: u64,
    pub loot_claims_rejected: u64,
    pub loot_claims_retried: u64,
    pub loot_confirms_ignored: u64,
    pub loot_expired: u64,
    pub chat_relayed: u64,
    pub chat_dropped_rate: u64,
    pub chat_dropped_length: u64,
    pub chat_dropped_zone_limit: u64,
    pub joins: u64,
    pub joins_refused: u64,
    pub leaves: u64,
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

// ---- components ----

#[derive(Debug, Clone, Copy)]
pub(crate) struct NetId(pub u32);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind(pub ActorKind);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Body {
    pub position_m: [f32; 3],
    pub yaw: f32,
    pub velocity_m_per_s: [f32; 3],
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Vitals {
    pub health: u16,
    pub health_max: u16,
    pub dead_until_tick: Option<u64>,
    pub attack_ready_tick: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PlayerOf {
    pub client: ClientId,
    pub character_id: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NpcBrain {
    pub home_m: [f32; 3],
    pub target_m: [f32; 3],
    pub loot_item_id: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LootDrop {
    pub item_id: u32,
    pub quantity: u16,
    pub key: IdempotencyKey,
    pub claimed: bool,
    pub expires_tick: u64,
}

#[derive(Debug, Clone)]
struct PendingClaim {
    loot_entity: u32,
    client: ClientId,
    character_id: u64,
    item_id: u32,
    quantity: u16,
    retry_tick: u64,
}

struct ClientSession {
    entity: hecs::Entity,
    net_id: u32,
    character_id: u64,
    party: Option<PartyId>,
    inputs: InputBuffer,
    last_direction: [f32; 2],
    rtt_us: u64,
    chat_window_start_tick: u64,
    chat_in_window: u32,
    inventory: BTreeMap<u32, u32>,
    view: ClientView,
}

/// One zone instance (one layer): a hecs world stepped at a fixed rate.
pub struct Zone {
    config: ZoneConfig,
    layer: u32,
    epoch: u64,
    world: hecs::World,
    by_net_id: FxHashMap<u32, hecs::Entity>,
    next_net_id: u32,
    next_serial: u64,
    clients: BTreeMap<ClientId, ClientSession>,
    origin_us: u64,
    tick: u64,
    next_step_at_us: u64,
    pending_claims: BTreeMap<IdempotencyKey, PendingClaim>,
    chat_this_tick: u32,
    shedding: LoadShedding,
    counters: ZoneCounters,
    replicator: Replicator,
    client_order: Vec<ClientId>,
    /// (view order key, index among this tick's snapshots), reused across ticks.
    replication_order: Vec<(u64, u32)>,
}

impl Zone {
    /// A zone whose tick 0 is at `now_us`. `epoch` is the owner's assignment revision (fencing token).
    pub fn new(config: ZoneConfig, layer: u32, epoch: u64, now_us: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let replicator = Replicator::new(&config);
        Ok(Self {
            layer,
            epoch,
            world: hecs::World::new(),
            by_net_id: FxHashMap::default(),
            next_net_id: 1,
            next_serial: 1,
            clients: BTreeMap::new(),
            origin_us: now_us,
            tick: 0,
            next_step_at_us: now_us + config.tick_interval_us(),
            pending_claims: BTreeMap::new(),
            chat_this_tick: 0,
            shedding: LoadShedding::default(),
            counters: ZoneCounters::default(),
            replicator,
            client_order: Vec::new(),
            replication_order: Vec::new(),
            config,
        })
    }

    pub fn config(&self) -> &ZoneConfig {
        &self.config
    }

    pub fn layer(&self) -> u32 {
        self.layer
    }

    pub fn counters(&self) -> &ZoneCounters {
        &self.counters
    }

    pub fn current_tick(&self) -> u64 {
        self.tick
    }

    /// Server time of a tick.
    pub fn tick_time_us(&self, tick: u64) -> u64 {
        self.origin_us + tick * self.config.tick_interval_us()
    }

    pub fn shed_level(&self) -> u8 {
        self.shedding.level()
    }

    pub fn player_count(&self) -> usize {
        self.clients.len()
    }

    pub fn entity_count(&self) -> usize {
        self.by_net_id.len()
    }

    pub fn has_client(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    pub fn has_party(&self, party: PartyId) -> bool {
        self.clients.values().any(|session| session.party == Some(party))
    }

    /// The entity id of a client's player.
    pub fn client_entity(&self, client: ClientId) -> Option<u32> {
        self.clients.get(&client).map(|session| session.net_id)
    }

    /// The client's inventory as persistence has confirmed it (item id → quantity).
    pub fn inventory(&self, client: ClientId) -> Option<&BTreeMap<u32, u32>> {
        self.clients.get(&client).map(|session| &session.inventory)
    }

    pub fn position(&self, entity: u32) -> Option<[f32; 3]> {
        let handle = *self.by_net_id.get(&entity)?;
        self.world.get::<&Body>(handle).ok().map(|body| body.position_m)
    }

    pub fn health(&self, entity: u32) -> Option<u16> {
        let handle = *self.by_net_id.get(&entity)?;
        self.world.get::<&Vitals>(handle).ok().map(|vitals| vitals.health)
    }

    pub fn kind(&self, entity: u32) -> Option<ActorKind> {
        let handle = *self.by_net_id.get(&entity)?;
        self.world.get::<&Kind>(handle).ok().map(|kind| kind.0)
    }

    /// All entity ids, ascending.
    pub fn entity_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.by_net_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The entities in a client's area of interest right now (its cell and the cells within the AOI
    /// radius, nearest `visible_entities_max` kept), computed by a direct scan of the world: an
    /// independent check on what replication sends. O(entities); for tests and tools.
    pub fn area_of_interest(&self, client: ClientId) -> Vec<u32> {
        let Some(session) = self.clients.get(&client) else {
            return Vec::new();
        };
        let Some(center) = self.position(session.net_id) else {
            return Vec::new();
        };
        let grid = self.replicator.grid();
        let center_cell = grid.cell_of(center[0], center[1]);
        let mut inside: Vec<(f32, u32)> = Vec::new();
        for (net_id, body) in self.world.query::<(&NetId, &Body)>().iter() {
            let cell = grid.cell_of(body.position_m[0], body.position_m[1]);
            if crate::grid::InterestGrid::in_area(center_cell, self.config.aoi_radius_cells, cell) {
                let dx = body.position_m[0] - center[0];
                let dy = body.position_m[1] - center[1];
                inside.push((dx * dx + dy * dy, net_id.0));
            }
        }
        let cap = self.shedding.visible_entities_max(self.config.visible_entities_max);
        inside.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        inside.truncate(cap);
        let mut ids: Vec<u32> = inside.into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        ids
    }

    fn allocate(&mut self) -> Result<(u32, u64), ZoneError> {
        if self.by_net_id.len() >= ENTITIES_PER_ZONE_MAX {
            return Err(ZoneError::EntityLimit);
        }
        let net_id = self.next_net_id;
        self.next_net_id = self.next_net_id.checked_add(1).ok_or(ZoneError::EntityLimit)?;
        let serial = self.next_serial;
        self.next_serial += 1;
        Ok((net_id, serial))
    }

    fn key(&self, serial: u64) -> IdempotencyKey {
        IdempotencyKey {
            zone_id: self.config.zone_id,
            layer: self.layer,
            epoch: self.epoch,
            serial,
        }
    }

    /// Spawns an NPC that wanders around `home_m` and drops `loot_item_id` when killed.
    pub fn spawn_npc(&mut self, home_m: [f32; 3], loot_item_id: u32) -> Result<u32, ZoneError> {
        let (net_id, _) = self.allocate()?;
        let health = self.config.npc_health_max;
        let handle = self.world.spawn((
            NetId(net_id),
            Kind(ActorKind::Npc),
            Body {
                position_m: home_m,
                yaw: 0.0,
                velocity_m_per_s: [0.0; 3],
            },
            Vitals {
                health,
                health_max: health,
                dead_until_tick: None,
                attack_ready_tick: 0,
            },
            NpcBrain {
                home_m,
                target_m: home_m,
                loot_item_id,
            },
            LagCompensationHistory::default(),
        ));
        self.by_net_id.insert(net_id, handle);
        Ok(net_id)
    }

    /// Drops loot on the ground (NPC deaths call this; scripts may too).
    pub fn spawn_loot(&mut self, position_m: [f32; 3], item_id: u32, quantity: u16) -> Result<u32, ZoneError> {
        let (net_id, serial) = self.allocate()?;
        let key = self.key(serial);
        let handle = self.world.spawn((
            NetId(net_id),
            Kind(ActorKind::Loot),
            Body {
                position_m,
                yaw: 0.0,
                velocity_m_per_s: [0.0; 3],
            },
            LootDrop {
                item_id,
                quantity,
                key,
                claimed: false,
                expires_tick: self.tick + u64::from(self.config.loot_lifetime_ticks),
            },
        ));
        self.by_net_id.insert(net_id, handle);
        Ok(net_id)
    }

    /// Server-side relocation (script or GM command); not reachable from client input.
    pub fn teleport(&mut self, entity: u32, position_m: [f32; 3]) -> Result<(), ZoneError> {
        let handle = *self.by_net_id.get(&entity).ok_or(ZoneError::UnknownEntity { entity })?;
        let mut body = self
            .world
            .get::<&mut Body>(handle)
            .map_err(|_| ZoneError::UnknownEntity { entity })?;
        body.position_m = position_m;
        body.velocity_m_per_s = [0.0; 3];
        Ok(())
    }

    fn despawn(&mut self, entity: u32) {
        if let Some(handle) = self.by_net_id.remove(&entity) {
            let despawned = self.world.despawn(handle);
            debug_assert!(despawned.is_ok());
        }
    }

    /// Advances the zone to `now_us`: takes `inputs`, runs the fixed steps that are due (at most
    /// `CATCH_UP_STEPS_MAX`; older ones are dropped and counted), then replicates once.
    /// `last_tick_work_us` is the caller's measurement of how long the previous call took.
    pub fn tick(
        &mut self,
        now_us: u64,
        last_tick_work_us: Option<u64>,
        inputs: impl IntoIterator<Item = ZoneInput>,
        out: &mut ZoneOutput,
    ) {
        out.recycle();
        if let Some(work_us) = last_tick_work_us {
            if work_us > self.config.tick_work_budget_us {
                self.counters.ticks_over_budget += 1;
            }
            if self.shedding.observe(work_us, self.config.tick_work_budget_us) {
                self.counters.shed_level_raises += 1;
            }
        }
        for (index, input) in inputs.into_iter().enumerate() {
            if index >= INPUTS_PER_CALL_MAX {
                self.counters.inputs_over_call_limit += 1;
                continue;
            }
            self.take_input(now_us, input, out);
        }
        let interval = self.config.tick_interval_us();
        while now_us >= self.next_step_at_us {
            if out.steps == CATCH_UP_STEPS_MAX {
                let behind = (now_us - self.next_step_at_us) / interval + 1;
                self.counters.steps_dropped += behind;
                self.tick += behind;
                self.next_step_at_us += behind * interval;
                break;
            }
            self.step(out);
            self.next_step_at_us += interval;
            out.steps += 1;
        }
        if out.steps > 0 {
            if self.shedding.level() > 0 {
                self.counters.ticks_shedding += 1;
            }
            self.replicate(out);
        }
    }

    fn take_input(&mut self, now_us: u64, input: ZoneInput, out: &mut ZoneOutput) {
        match input {
            ZoneInput::Join {
                client,
                character_id,
                party,
                spawn_m,
                rtt_us,
            } => {
                self.join(client, character_id, party, spawn_m, rtt_us, out);
            }
            ZoneInput::Leave { client } => self.leave(client),
            ZoneInput::Input {
                client,
                input,
                received_us,
            } => {
                let Some(session) = self.clients.get_mut(&client) else {
                    self.counters.inputs_unknown_client += 1;
                    return;
                };
                match session.inputs.offer(input, received_us.min(now_us)) {
                    InputAdmission::Queued => {}
                    InputAdmission::Late => self.counters.inputs_late += 1,
                    InputAdmission::Duplicate => self.counters.inputs_duplicate += 1,
                    InputAdmission::TooFarAhead => self.counters.inputs_too_far_ahead += 1,
                }
            }
            ZoneInput::SnapshotAck { client, tick } => match self.clients.get_mut(&client) {
                Some(session) => session.view.on_ack(tick),
                None => self.counters.acks_unknown_client += 1,
            },
            ZoneInput::Rtt { client, rtt_us } => {
                if let Some(session) = self.clients.get_mut(&client) {
                    session.rtt_us = rtt_us;
                }
            }
            ZoneInput::PersistenceConfirmed { key, outcome } => self.confirm(key, outcome, out),
        }
    }

    fn join(
        &mut self,
        client: ClientId,
        character_id: u64,
        party: Option<PartyId>,
        spawn_m: Option<[f32; 3]>,
        rtt_us: u64,
        out: &mut ZoneOutput,
    ) {
        let refusal = if self.clients.contains_key(&client) {
            Some(JoinRefusal::AlreadyJoined)
        } else if self.clients.len() >= self.config.players_per_layer_max + self.config.party_overflow_slots {
            Some(JoinRefusal::ZoneFull)
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.counters.joins_refused += 1;
            out.client_events.push((client, ClientEvent::JoinRefused { reason }));
            return;
        }
        let Ok((net_id, _)) = self.allocate() else {
            self.counters.joins_refused += 1;
            out.client_events.push((
                client,
                ClientEvent::JoinRefused {
                    reason: JoinRefusal::EntityLimit,
                },
            ));
            return;
        };
        let position_m = spawn_m.unwrap_or_else(|| self.config.spawn_point(character_id));
        let health = self.config.player_health_max;
        let entity = self.world.spawn((
            NetId(net_id),
            Kind(ActorKind::Player),
            Body {
                position_m,
                yaw: 0.0,
                velocity_m_per_s: [0.0; 3],
            },
            Vitals {
                health,
                health_max: health,
                dead_until_tick: None,
                attack_ready_tick: 0,
            },
            PlayerOf { client, character_id },
            LagCompensationHistory::default(),
        ));
        self.by_net_id.insert(net_id, entity);
        self.clients.insert(
            client,
            ClientSession {
                entity,
                net_id,
                character_id,
                party,
                inputs: InputBuffer::new(self.config.input_jitter_ticks),
                last_direction: [0.0; 2],
                rtt_us,
                chat_window_start_tick: self.tick,
                chat_in_window: 0,
                inventory: BTreeMap::new(),
                view: ClientView::new(),
            },
        );
        self.counters.joins += 1;
        out.client_events.push((client, ClientEvent::Joined { entity: net_id }));
    }

    fn leave(&mut self, client: ClientId) {
        if let Some(session) = self.clients.remove(&client) {
            self.despawn(session.net_id);
            self.counters.leaves += 1;
        }
    }

    fn step(&mut self, out: &mut ZoneOutput) {
        self.tick += 1;
        self.counters.steps += 1;
        self.chat_this_tick = 0;
        self.respawn(out);
        self.client_order.clear();
        self.client_order.extend(self.clients.keys().copied());
        for index in 0..self.client_order.len() {
            let client = self.client_order[index];
            self.play_inputs(client, out);
        }
        self.wander_npcs();
        self.tend_loot(out);
        let tick = self.tick;
        for (body, history) in self.world.query_mut::<(&Body, &mut LagCompensationHistory)>() {
            history.record(tick, body.position_m);
        }
    }

    fn play_inputs(&mut self, client: ClientId, out: &mut ZoneOutput) {
        let Some(session) = self.clients.get_mut(&client) else {
            return;
        };
        let plays = match session.inputs.take_catch_up() {
            CatchUp::PlayExtra => 2,
            CatchUp::DroppedOldest => {
                self.counters.inputs_dropped_backlog += 1;
                1
            }
            CatchUp::None => 1,
        };
        for _ in 0..plays {
            let Some(session) = self.clients.get_mut(&client) else {
                return;
            };
            match session.inputs.pop() {
                Playback::Filling => {}
                Playback::Missing { .. } => {
                    self.counters.inputs_missing += 1;
                    let direction = session.last_direction;
                    self.extrapolate(client, direction);
                }
                Playback::Input { input, arrival_us } => {
                    self.counters.inputs_applied += 1;
                    self.apply_input(client, input, arrival_us, out);
                }
            }
        }
    }

    fn move_rules(&self, speed_m_per_s: f32) -> MoveRules<'_> {
        MoveRules {
            speed_m_per_s,
            dt_s: 1.0 / self.config.tick_hz as f32,
            world_size_m: self.config.world_size_m,
            colliders: &self.config.colliders,
            teleport_tolerance_m: self.config.teleport_tolerance_m,
        }
    }

    fn is_alive(&self, handle: hecs::Entity) -> bool {
        self.world
            .get::<&Vitals>(handle)
            .is_ok_and(|vitals| vitals.dead_until_tick.is_none())
    }

    /// A missing input: keep going the way the player was going (no claim to check).
    fn extrapolate(&mut self, client: ClientId, direction: [f32; 2]) {
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let handle = session.entity;
        if !self.is_alive(handle) {
            return;
        }
        let Ok(from) = self.world.get::<&Body>(handle).map(|body| body.position_m) else {
            return;
        };
        let (to, _) = step(from, direction, &self.move_rules(self.config.player_speed_m_per_s));
        if let Ok(mut body) = self.world.get::<&mut Body>(handle) {
            body.position_m = to;
        }
    }

    fn apply_input(&mut self, client: ClientId, input: PlayerInput, arrival_us: u64, out: &mut ZoneOutput) {
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let handle = session.entity;
        if !self.is_alive(handle) {
            return;
        }
        if let Some(intent) = input.movement {
            self.apply_move_intent(client, handle, &intent);
        }
        match input.action {
            None => {}
            Some(Action::Attack { target, direction }) => self.attack(client, target, direction, arrival_us, out),
            Some(Action::PickUp { loot }) => self.pick_up(client, loot, out),
            Some(Action::Chat { text }) => self.chat(client, text, out),
        }
    }

    fn apply_move_intent(&mut self, client: ClientId, handle: hecs::Entity, intent: &MoveIntent) {
        let Ok(from) = self.world.get::<&Body>(handle).map(|body| body.position_m) else {
            return;
        };
        let outcome = apply_move(from, intent, &self.move_rules(self.config.player_speed_m_per_s));
        match outcome.rejection {
            None => {}
            Some(MoveRejection::Malformed) => self.counters.moves_rejected_malformed += 1,
            Some(MoveRejection::SpeedHack) => self.counters.moves_rejected_speed_hack += 1,
            Some(MoveRejection::Teleport) => self.counters.moves_rejected_teleport += 1,
        }
        if outcome.blocked {
            self.counters.moves_blocked += 1;
        }
        let moved = !matches!(
            outcome.rejection,
            Some(MoveRejection::Malformed | MoveRejection::SpeedHack)
        );
        if let Some(session) = self.clients.get_mut(&client) {
            session.last_direction = if moved { intent.direction } else { [0.0; 2] };
        }
        if let Ok(mut body) = self.world.get::<&mut Body>(handle) {
            body.position_m = outcome.position_m;
            body.velocity_m_per_s = outcome.velocity_m_per_s;
            if moved {
                body.yaw = intent.yaw;
            }
        }
    }

    fn attack(&mut self, client: ClientId, target: u32, direction: [f32; 3], arrival_us: u64, out: &mut ZoneOutput) {
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let (shooter, shooter_net_id, rtt_us) = (session.entity, session.net_id, session.rtt_us);
        let tick = self.tick;
        let ready = self
            .world
            .get::<&Vitals>(shooter)
            .is_ok_and(|vitals| vitals.attack_ready_tick <= tick);
        let target_handle = self.by_net_id.get(&target).copied();
        let (Some(target_handle), true) = (target_handle, ready) else {
            self.counters.attacks_refused += 1;
            return;
        };
        if target == shooter_net_id || !self.is_alive(target_handle) {
            self.counters.attacks_refused += 1;
            return;
        }
        let now_us = self.tick_time_us(tick);
        // The shot was fired half a round trip before it arrived; the shooter was then looking at
        // the world as it was RTT/2 + interpolation delay earlier still (bounded by the rewind limit).
        let fire_us = arrival_us.saturating_sub(rtt_us / 2);
        let (view_us, clamped) = shooter_view_time_us(
            fire_us,
            rtt_us,
            self.config.interpolation_delay_us,
            now_us,
            self.config.rewind_max_us,
        );
        let view_tick = view_us.saturating_sub(self.origin_us) as f64 / self.config.tick_interval_us() as f64;
        let Ok(origin) = self.world.get::<&Body>(shooter).map(|body| body.position_m) else {
            return;
        };
        let Some(target_at) = self
            .world
            .get::<&LagCompensationHistory>(target_handle)
            .ok()
            .and_then(|h| h.position_at(view_tick))
        else {
            self.counters.attacks_refused += 1;
            return;
        };
        if clamped {
            self.counters.attacks_rewind_clamped += 1;
        }
        if let Ok(mut vitals) = self.world.get::<&mut Vitals>(shooter) {
            vitals.attack_ready_tick = tick + u64::from(self.config.attack_cooldown_ticks);
        }
        let hit = ray_hits_sphere(
            origin,
            direction,
            self.config.attack_range_m,
            target_at,
            self.config.hit_radius_m,
        );
        out.client_events.push((
            client,
            ClientEvent::AttackResult {
                target,
                hit,
                rewind_us: now_us - view_us,
                rewind_clamped: clamped,
            },
        ));
        if !hit {
            self.counters.attacks_missed += 1;
            return;
        }
        self.counters.attacks_hit += 1;
        let damage = self.config.attack_damage;
        let died = match self.world.get::<&mut Vitals>(target_handle) {
            Ok(mut vitals) => {
                vitals.health = vitals.health.saturating_sub(damage);
                vitals.health == 0
            }
            Err(_) => false,
        };
        if died {
            self.kill(target, target_handle, Some(client), out);
        }
    }

    fn kill(&mut self, victim: u32, handle: hecs::Entity, killer: Option<ClientId>, out: &mut ZoneOutput) {
        self.counters.kills += 1;
        let respawn_tick = self.tick + u64::from(self.config.respawn_delay_ticks);
        if let Ok(mut vitals) = self.world.get::<&mut Vitals>(handle) {
            vitals.health = 0;
            vitals.dead_until_tick = Some(respawn_tick);
        }
        let position = match self.world.get::<&mut Body>(handle) {
            Ok(mut body) => {
                body.velocity_m_per_s = [0.0; 3];
                body.position_m
            }
            Err(_) => return,
        };
        let killer_session = killer.and_then(|client| self.clients.get(&client));
        let killer_character_id = killer_session.map(|session| session.character_id);
        let killer_entity = killer_session.map(|session| session.net_id);
        let victim_player = self.world.get::<&PlayerOf>(handle).ok().map(|player| *player);
        let serial = self.next_serial;
        self.next_serial += 1;
        out.persistence.push(PersistenceEvent::Kill {
            key: self.key(serial),
            killer_character_id,
            victim_entity: victim,
            victim_character_id: victim_player.map(|player| player.character_id),
            tick: self.tick,
        });
        if let Some(player) = victim_player {
            out.client_events
                .push((player.client, ClientEvent::Died { killer_entity }));
        }
        let loot_item = self.world.get::<&NpcBrain>(handle).ok().map(|brain| brain.loot_item_id);
        if let Some(item_id) = loot_item {
            // A full zone simply drops no loot; the kill itself is already recorded.
            let _ = self.spawn_loot(position, item_id, 1);
        }
    }

    fn respawn(&mut self, out: &mut ZoneOutput) {
        let tick = self.tick;
        let spawn = self.config.player_spawn_m;
        let mut respawned: Vec<ClientId> = Vec::new();
        for (vitals, body, brain, player) in self
            .world
            .query_mut::<(&mut Vitals, &mut Body, Option<&NpcBrain>, Option<&PlayerOf>)>()
        {
            let Some(until) = vitals.dead_until_tick else { continue };
            if until > tick {
                continue;
            }
            vitals.dead_until_tick = None;
            vitals.health = vitals.health_max;
            body.position_m = brain.map_or(spawn, |brain| brain.home_m);
            body.velocity_m_per_s = [0.0; 3];
            if let Some(player) = player {
                respawned.push(player.client);
            }
            self.counters.respawns += 1;
        }
        for client in respawned {
            out.client_events.push((client, ClientEvent::Respawned));
        }
    }

    fn wander_npcs(&mut self) {
        let tick = self.tick;
        let rules = MoveRules {
            speed_m_per_s: self.config.npc_speed_m_per_s,
            dt_s: 1.0 / self.config.tick_hz as f32,
            world_size_m: self.config.world_size_m,
            colliders: &self.config.colliders,
            teleport_tolerance_m: self.config.teleport_tolerance_m,
        };
        for (net_id, body, brain, vitals) in self.world.query_mut::<(&NetId, &mut Body, &mut NpcBrain, &Vitals)>() {
            if vitals.dead_until_tick.is_some() {
                continue;
            }
            let dx = brain.target_m[0] - body.position_m[0];
            let dy = brain.target_m[1] - body.position_m[1];
            let distance = (dx * dx + dy * dy).sqrt();
            if distance < 0.5 {
                // Deterministic next waypoint: a hash of (entity, tick), no RNG state to carry.
                let hash = (u64::from(net_id.0) << 32 | (tick & 0xffff_ffff)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let angle = (hash >> 40) as f32 / (1u64 << 24) as f32 * std::f32::consts::TAU;
                let reach = ((hash >> 16) & 0xffff) as f32 / 65_535.0 * NPC_WANDER_RADIUS_M;
                brain.target_m = [
                    brain.home_m[0] + angle.cos() * reach,
                    brain.home_m[1] + angle.sin() * reach,
                    brain.home_m[2],
                ];
                body.velocity_m_per_s = [0.0; 3];
                continue;
            }
            let scale =
                (rules.speed_m_per_s * rules.dt_s).min(distance) / (rules.speed_m_per_s * rules.dt_s) / distance;
            let (to, blocked) = step(body.position_m, [dx * scale, dy * scale], &rules);
            body.velocity_m_per_s = [
                (to[0] - body.position_m[0]) / rules.dt_s,
                (to[1] - body.position_m[1]) / rules.dt_s,
                0.0,
            ];
            body.position_m = to;
            if blocked {
                brain.target_m = body.position_m;
            }
        }
    }

    fn pick_up(&mut self, client: ClientId, loot: u32, out: &mut ZoneOutput) {
        let refuse = |zone: &mut Self, out: &mut ZoneOutput| {
            zone.counters.pickups_refused += 1;
            out.client_events.push((client, ClientEvent::PickUpRefused { loot }));
        };
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let (player, character_id) = (session.entity, session.character_id);
        let Some(&loot_handle) = self.by_net_id.get(&loot) else {
            return refuse(self, out);
        };
        let Ok(player_at) = self.world.get::<&Body>(player).map(|body| body.position_m) else {
            return;
        };
        let Ok(loot_at) = self.world.get::<&Body>(loot_handle).map(|body| body.position_m) else {
            return;
        };
        let distance = ((player_at[0] - loot_at[0]).powi(2) + (player_at[1] - loot_at[1]).powi(2)).sqrt();
        if distance > self.config.pickup_range_m || self.pending_claims.len() >= PENDING_CLAIMS_MAX {
            return refuse(self, out);
        }
        let claimed = match self.world.get::<&mut LootDrop>(loot_handle) {
            Ok(mut drop) if !drop.claimed => {
                drop.claimed = true;
                Some(*drop)
            }
            _ => None,
        };
        let Some(drop) = claimed else { return refuse(self, out) };
        debug_assert!(!self.pending_claims.contains_key(&drop.key));
        self.pending_claims.insert(
            drop.key,
            PendingClaim {
                loot_entity: loot,
                client,
                character_id,
                item_id: drop.item_id,
                quantity: drop.quantity,
                retry_tick: self.tick + u64::from(self.config.loot_confirm_retry_ticks),
            },
        );
        self.counters.pickups_claimed += 1;
        out.persistence.push(PersistenceEvent::LootPickup {
            key: drop.key,
            character_id,
            item_id: drop.item_id,
            quantity: drop.quantity,
        });
    }

    /// Persistence answered. Only the first answer for a key does anything: the claim is gone after
    /// it, so a repeated or very late confirm can never grant the item twice.
    fn confirm(&mut self, key: IdempotencyKey, outcome: PersistenceOutcome, out: &mut ZoneOutput) {
        let Some(claim) = self.pending_claims.remove(&key) else {
            self.counters.loot_confirms_ignored += 1;
            return;
        };
        match outcome {
            PersistenceOutcome::Committed => {
                self.counters.loot_granted += 1;
                self.despawn(claim.loot_entity);
                if let Some(session) = self.clients.get_mut(&claim.client) {
                    if session.character_id == claim.character_id {
                        *session.inventory.entry(claim.item_id).or_insert(0) += u32::from(claim.quantity);
                        out.client_events.push((
                            claim.client,
                            ClientEvent::InventoryGranted {
                                item_id: claim.item_id,
                                quantity: claim.quantity,
                            },
                        ));
                    }
                }
            }
            PersistenceOutcome::Rejected => {
                self.counters.loot_claims_rejected += 1;
                if let Some(&handle) = self.by_net_id.get(&claim.loot_entity) {
                    if let Ok(mut drop) = self.world.get::<&mut LootDrop>(handle) {
                        drop.claimed = false;
                    }
                }
                out.client_events.push((
                    claim.client,
                    ClientEvent::PickUpRefused {
                        loot: claim.loot_entity,
                    },
                ));
            }
        }
    }

    fn tend_loot(&mut self, out: &mut ZoneOutput) {
        let tick = self.tick;
        let mut expired: Vec<u32> = Vec::new();
        for (net_id, drop) in self.world.query_mut::<(&NetId, &LootDrop)>() {
            if !drop.claimed && drop.expires_tick <= tick {
                expired.push(net_id.0);
            }
        }
        for loot in expired {
            self.counters.loot_expired += 1;
            self.despawn(loot);
        }
        let retry_ticks = u64::from(self.config.loot_confirm_retry_ticks.max(1));
        for (key, claim) in self.pending_claims.iter_mut() {
            if claim.retry_tick > tick {
                continue;
            }
            claim.retry_tick = tick + retry_ticks;
            self.counters.loot_claims_retried += 1;
            out.persistence.push(PersistenceEvent::LootPickup {
                key: *key,
                character_id: claim.character_id,
                item_id: claim.item_id,
                quantity: claim.quantity,
            });
        }
    }

    fn chat(&mut self, client: ClientId, text: Arc<str>, out: &mut ZoneOutput) {
        if text.len() > CHAT_BYTES_MAX || text.is_empty() {
            self.counters.chat_dropped_length += 1;
            return;
        }
        if self.chat_this_tick >= CHAT_MESSAGES_PER_TICK_MAX {
            self.counters.chat_dropped_zone_limit += 1;
            return;
        }
        let tick = self.tick;
        let window = u64::from(self.config.chat_window_ticks);
        let limit = self.config.chat_messages_per_window;
        let Some(session) = self.clients.get_mut(&client) else {
            return;
        };
        if tick >= session.chat_window_start_tick + window {
            session.chat_window_start_tick = tick;
            session.chat_in_window = 0;
        }
        if session.chat_in_window >= limit {
            self.counters.chat_dropped_rate += 1;
            return;
        }
        session.chat_in_window += 1;
        let from_entity = session.net_id;
        self.chat_this_tick += 1;
        self.counters.chat_relayed += 1;
        for listener in self.clients.keys() {
            out.client_events.push((
                *listener,
                ClientEvent::Chat {
                    from_entity,
                    text: Arc::clone(&text),
                },
            ));
        }
    }

    /// Datagrams go out in client order, but clients are encoded in interest-grid order: clients
    /// with overlapping views run back to back and find the entity rows and shared update records
    /// they need still in cache. Each client's bytes do not depend on the order.
    fn replicate(&mut self, out: &mut ZoneOutput) {
        let tick = self.tick;
        let snapshot_tick = tick as u32;
        self.replicator.build_table(&self.world);
        let first = out.snapshots.len();
        self.replication_order.clear();
        let mut sessions = Vec::with_capacity(self.clients.len());
        for (client, session) in self.clients.iter_mut() {
            if !self.shedding.sends_to(tick, client.0) {
                self.counters.snapshots_skipped_shedding += 1;
                continue;
            }
            let bytes = out.take_buffer();
            let key = self.replicator.view_order_key(session.net_id);
            self.replication_order.push((key, sessions.len() as u32));
            out.snapshots.push(SnapshotDatagram {
                client: *client,
                tick: snapshot_tick,
                last_input_tick: session.inputs.last_passed_tick(),
                bytes,
            });
            sessions.push(session);
        }
        self.replication_order.sort_unstable();
        for &(_, index) in &self.replication_order {
            let session = &mut sessions[index as usize];
            self.replicator.encode_for(
                &self.config,
                &self.shedding,
                session.net_id,
                &mut session.view,
                snapshot_tick,
                &mut out.snapshots[first + index as usize].bytes,
                &mut self.counters,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP_US: u64 = 50_000;

    fn zone() -> Zone {
        Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap()
    }

    fn join(client: u32, spawn_m: [f32; 3]) -> ZoneInput {
        ZoneInput::Join {
            client: ClientId(client),
            character_id: u64::from(client) * 10,
            party: None,
            spawn_m: Some(spawn_m),
            rtt_us: 0,
        }
    }

    fn input(client: u32, client_tick: u32, action: Option<Action>) -> ZoneInput {
        ZoneInput::Input {
            client: ClientId(client),
            input: PlayerInput {
                client_tick,
                movement: None,
                action,
            },
            received_us: 0,
        }
    }

    /// Feeds one input per tick for `ticks` ticks starting at client tick `from`, returning events.
    fn drive(
        zone: &mut Zone,
        out: &mut ZoneOutput,
        now_us: &mut u64,
        client: u32,
        from: u32,
        actions: Vec<Option<Action>>,
    ) -> Vec<(ClientId, ClientEvent)> {
        let mut events = Vec::new();
        for (offset, action) in actions.into_iter().enumerate() {
            *now_us += STEP_US;
            let received = input(client, from + offset as u32, action);
            let received = match received {
                ZoneInput::Input { client, input, .. } => ZoneInput::Input {
                    client,
                    input,
                    received_us: *now_us,
                },
                other => other,
            };
            zone.tick(*now_us, None, [received], out);
            events.append(&mut out.client_events);
        }
        events
    }

    #[test]
    fn join_spawns_a_player_and_leave_removes_it() {
        let mut zone = zone();
        let mut out = ZoneOutput::default();
        zone.tick(
            STEP_US,
            None,
            [join(1, [10.0, 10.0, 0.0]), join(1, [10.0, 10.0, 0.0])],
            &mut out,
        );
        assert_eq!(out.client_events[0], (ClientId(1), ClientEvent::Joined { entity: 1 }));
        assert_eq!(
            out.client_events[1],
            (
                ClientId(1),
                ClientEvent::JoinRefused {
                    reason: JoinRefusal::AlreadyJoined
                }
            )
        );
        assert_eq!(zone.position(1), Some([10.0, 10.0, 0.0]));
        assert_eq!(zone.kind(1), Some(ActorKind::Player));
        assert_eq!(out.snapshots.len(), 1);
        zone.tick(2 * STEP_US, None, [ZoneInput::Leave { client: ClientId(1) }], &mut out);
        assert_eq!(zone.player_count(), 0);
        assert_eq!(zone.position(1), None);
        assert!(out.snapshots.is_empty());
    }

    #[test]
    fn a_full_zone_refuses_joins() {
        let config = ZoneConfig {
            players_per_layer_max: 2,
            party_overflow_slots: 0,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        zone.tick(
            STEP_US,
            None,
            (1..=3).map(|client| join(client, [5.0, 5.0, 0.0])),
            &mut out,
        );
        assert_eq!(zone.player_count(), 2);
        assert_eq!(
            out.client_events[2],
            (
                ClientId(3),
                ClientEvent::JoinRefused {
                    reason: JoinRefusal::ZoneFull
                }
            )
        );
        assert_eq!(zone.counters().joins_refused, 1);
    }

    #[test]
    fn killing_an_npc_drops_loot_records_the_kill_and_it_respawns() {
        let config = ZoneConfig {
            respawn_delay_ticks: 10,
            attack_cooldown_ticks: 1,
            input_jitter_ticks: 1,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 0, 7, 0).unwrap();
        let npc = zone.spawn_npc([30.0, 20.0, 0.0], 99).unwrap();
        let mut out = ZoneOutput::default();
        let mut now = 0;
        zone.tick(now, None, [join(1, [20.0, 20.0, 0.0])], &mut out);
        // NPCs wander; aim at where it is each tick (rtt 0: no rewind beyond the interpolation delay,
        // so aim at its history position via a generous hit radius instead).
        zone.config.hit_radius_m = 30.0;
        // One quiet tick first so the NPC has a position history to rewind into.
        let mut shots = vec![None];
        shots.extend((0..3).map(|_| {
            Some(Action::Attack {
                target: npc,
                direction: [1.0, 0.0, 0.0],
            })
        }));
        let events = drive(&mut zone, &mut out, &mut now, 1, 0, shots);
        let hits = events
            .iter()
            .filter(|(_, e)| matches!(e, ClientEvent::AttackResult { hit: true, .. }))
            .count();
        assert_eq!(hits, 3, "{events:?}");
        assert_eq!(zone.counters().kills, 1, "60 health / 20 damage");
        assert_eq!(zone.health(npc), Some(0));
        let loot: Vec<u32> = zone
            .entity_ids()
            .into_iter()
            .filter(|id| zone.kind(*id) == Some(ActorKind::Loot))
            .collect();
        assert_eq!(loot.len(), 1);
        assert!(zone.counters().kills == 1);
        // A dead NPC cannot be shot again.
        let events = drive(
            &mut zone,
            &mut out,
            &mut now,
            1,
            4,
            vec![Some(Action::Attack {
                target: npc,
                direction: [1.0, 0.0, 0.0],
            })],
        );
        assert!(
            events
                .iter()
                .all(|(_, e)| !matches!(e, ClientEvent::AttackResult { .. }))
        );
        assert_eq!(zone.counters().attacks_refused, 1);
        drive(&mut zone, &mut out, &mut now, 1, 5, vec![None; 10]);
        assert_eq!(zone.health(npc), Some(60), "respawned at full health");
        let at = zone.position(npc).unwrap();
        let from_home = ((at[0] - 30.0).powi(2) + (at[1] - 20.0).powi(2)).sqrt();
        assert!(
            from_home < 2.0,
            "respawned at home (and wandered a few steps since): {at:?}"
        );
        assert_eq!(zone.counters().respawns, 1);
    }

    #[test]
    fn kill_emits_a_persistence_event_with_a_unique_key() {
        let config = ZoneConfig {
            attack_cooldown_ticks: 1,
            input_jitter_ticks: 1,
            hit_radius_m: 30.0,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 3, 7, 0).unwrap();
        let npc_a = zone.spawn_npc([30.0, 20.0, 0.0], 1).unwrap();
        let npc_b = zone.spawn_npc([30.0, 22.0, 0.0], 1).unwrap();
        let mut out = ZoneOutput::default();
        let mut now = 0;
        zone.tick(now, None, [join(1, [20.0, 20.0, 0.0])], &mut out);
        now += STEP_US;
        zone.tick(now, None, [], &mut out);
        let mut kills = Vec::new();
        for target in [npc_a, npc_b] {
            for offset in 0..3 {
                now += STEP_US;
                let client_tick = if target == npc_a { offset } else { 3 + offset };
                let shot = ZoneInput::Input {
                    client: ClientId(1),
                    input: PlayerInput {
                        client_tick,
                        movement: None,
                        action: Some(Action::Attack {
                            target,
                            direction: [1.0, 0.0, 0.0],
                        }),
                    },
                    received_us: now,
                };
                zone.tick(now, None, [shot], &mut out);
                kills.append(&mut out.persistence);
            }
        }
        let keys: Vec<IdempotencyKey> = kills
            .iter()
            .map(|event| match event {
                PersistenceEvent::Kill {
                    key,
                    killer_character_id,
                    ..
                } => {
                    assert_eq!(*killer_character_id, Some(10));
                    *key
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        assert!(keys.iter().all(|key| key.layer == 3 && key.epoch == 7));
    }

    #[test]
    fn zone_chat_reaches_everyone_and_is_rate_limited() {
        let config = ZoneConfig {
            chat_messages_per_window: 2,
            input_jitter_ticks: 1,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        let mut now = 0;
        zone.tick(
            now,
            None,
            [join(1, [1.0, 1.0, 0.0]), join(2, [900.0, 900.0, 0.0])],
            &mut out,
        );
        let say = |text: &str| Some(Action::Chat { text: Arc::from(text) });
        let long = "x".repeat(CHAT_BYTES_MAX + 1);
        let events = drive(
            &mut zone,
            &mut out,
            &mut now,
            1,
            0,
            vec![say("hi"), say(&long), say("again"), say("spam")],
        );
        let heard: Vec<(ClientId, Arc<str>)> = events
            .into_iter()
            .filter_map(|(client, event)| match event {
                ClientEvent::Chat { text, .. } => Some((client, text)),
                _ => None,
            })
            .collect();
        assert_eq!(heard.len(), 4, "two messages, two listeners (far away too: zone chat)");
        assert!(
            heard
                .iter()
                .any(|(client, text)| *client == ClientId(2) && &**text == "again")
        );
        assert_eq!(zone.counters().chat_dropped_length, 1);
        assert_eq!(zone.counters().chat_dropped_rate, 1);
    }

    #[test]
    fn a_late_call_catches_up_a_few_steps_and_drops_the_rest() {
        let mut zone = zone();
        let mut out = ZoneOutput::default();
        zone.tick(10 * STEP_US, None, [], &mut out);
        assert_eq!(out.steps, CATCH_UP_STEPS_MAX);
        assert_eq!(zone.counters().steps_dropped, 10 - u64::from(CATCH_UP_STEPS_MAX));
        assert_eq!(zone.current_tick(), 10);
        zone.tick(10 * STEP_US + 10, None, [], &mut out);
        assert_eq!(out.steps, 0, "called early: nothing due");
        zone.tick(11 * STEP_US, None, [], &mut out);
        assert_eq!((out.steps, zone.current_tick()), (1, 11));
    }

    #[test]
    fn over_budget_ticks_shed_load_and_shrink_far_aoi_first() {
        let config = ZoneConfig {
            visible_entities_max: 8,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        // One viewer, 12 NPCs at increasing distance, all in its AOI.
        let joins = [join(1, [500.0, 500.0, 0.0])];
        for index in 0..12 {
            zone.spawn_npc([500.0 + index as f32 * 2.0 + 1.0, 500.0, 0.0], 1)
                .unwrap();
        }
        zone.tick(STEP_US, None, joins, &mut out);
        assert_eq!(zone.area_of_interest(ClientId(1)).len(), 8);
        assert_eq!(zone.shed_level(), 0);
        for step in 2..=3 {
            zone.tick(step * STEP_US, Some(40_000), [], &mut out);
        }
        assert_eq!(zone.shed_level(), 2);
        assert_eq!(zone.counters().ticks_over_budget, 2);
        assert_eq!(zone.counters().shed_level_raises, 2);
        // Level 2 halves what a client tracks, dropping the farthest.
        let seen = zone.area_of_interest(ClientId(1));
        assert_eq!(seen.len(), 4);
        assert!(seen.contains(&1), "the viewer itself is nearest");
        zone.tick(4 * STEP_US, Some(40_000), [], &mut out);
        assert_eq!(zone.shed_level(), 3);
        let before = zone.counters().snapshots_skipped_shedding;
        zone.tick(5 * STEP_US, Some(40_000), [], &mut out);
        zone.tick(6 * STEP_US, Some(40_000), [], &mut out);
        assert_eq!(
            zone.counters().snapshots_skipped_shedding - before,
            1,
            "every other tick at level 3"
        );
    }

    #[test]
    fn unknown_clients_and_stray_acks_are_counted() {
        let mut zone = zone();
        let mut out = ZoneOutput::default();
        zone.tick(
            STEP_US,
            None,
            [
                input(9, 0, None),
                ZoneInput::SnapshotAck {
                    client: ClientId(9),
                    tick: 1,
                },
            ],
            &mut out,
        );
        assert_eq!(zone.counters().inputs_unknown_client, 1);
        assert_eq!(zone.counters().acks_unknown_client, 1);
    }
}
