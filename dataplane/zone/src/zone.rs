//! `Zone`: one zone instance (one layer) as a hecs world, stepped at a fixed rate by `tick`.
//!
//! Files: `interface` (what the zone is fed and returns) · `components` (the ECS components) ·
//! `sessions` (join and leave) · `playback` (inputs and movement, each step) · `npcs` · `combat`
//! (attacks with lag compensation, deaths, respawns) · `loot` (pick-ups and persistence) · `chat` ·
//! `snapshots` (replication). This file holds the `Zone` itself, its limits and the tick loop.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::config::{CATCH_UP_STEPS_MAX, ConfigError, ENTITIES_PER_ZONE_MAX, ZoneConfig};
use crate::input::{InputAdmission, InputBuffer};
use crate::lag::LagCompensationHistory;
use crate::replication::{ClientView, Replicator};
use crate::shedding::LoadShedding;

mod chat;
mod combat;
mod components;
mod ghosts;
mod handoff;
mod handoff_state;
pub use ghosts::GHOSTS_MAX;
pub use handoff_state::{HANDOFF_STATE_BYTES_MAX, HandoffStateError};
mod interface;
mod loot;
mod npcs;
mod persisted;
mod playback;
mod sessions;
mod snapshots;
mod trade;

pub(crate) use components::{Body, Kind, LootDrop, NetId, Vitals};
pub use handoff::{AdmitRefusal, FreezeRefusal, PlayerHandoff};
pub use interface::{
    ActorKind, ClientEvent, ClientId, IdempotencyKey, JoinRefusal, PartyId, PersistenceEvent, PersistenceOutcome,
    PickUpRefusal, SnapshotDatagram, TradeRefusal, ZoneCounters, ZoneError, ZoneInput, ZoneOutput,
};
use loot::PendingClaim;
pub use loot::PlayerState;
pub use persisted::{LootRecord, NpcRecord, ZoneStateExport};

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

/// One joined client: its player entity, input buffer, replication view and per-client limits.
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
    /// Committed inventory changes this view has seen (pick-ups, trades), carried by handoffs: a
    /// ticket says which version of the inventory the player left with and the new zone goes on
    /// from it.
    inventory_version: u64,
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
    trades: trade::Trades,
    chat_this_tick: u32,
    shedding: LoadShedding,
    counters: ZoneCounters,
    replicator: Replicator,
    client_order: Vec<ClientId>,
    /// (view order key, index among this tick's snapshots), reused across ticks.
    replication_order: Vec<(u64, u32)>,
    /// Neighbouring zones' entities near the border, as of their last tick (`set_ghosts`).
    ghosts: Vec<meridian_proto::snapshot::EntityState>,
}

/// The first entity id a zone hands out: 1, or the start of its own range.
fn first_net_id(config: &ZoneConfig) -> u32 {
    if config.entity_ids_by_zone {
        (config.zone_id << 16).max(1)
    } else {
        1
    }
}

impl Zone {
    /// A zone whose tick 0 is at `now_us`, or with `config.tick_epoch_us` at the cluster's tick
    /// origin (it then starts at the tick number current at `now_us`). `epoch` is the owner's
    /// assignment revision (fencing token).
    pub fn new(config: ZoneConfig, layer: u32, epoch: u64, now_us: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let replicator = Replicator::new(&config);
        let interval_us = config.tick_interval_us();
        let (origin_us, tick) = match config.tick_epoch_us {
            Some(epoch_us) => (epoch_us, now_us.saturating_sub(epoch_us) / interval_us),
            None => (now_us, 0),
        };
        Ok(Self {
            layer,
            epoch,
            world: hecs::World::new(),
            by_net_id: FxHashMap::default(),
            next_net_id: first_net_id(&config),
            next_serial: 1,
            clients: BTreeMap::new(),
            origin_us,
            tick,
            next_step_at_us: origin_us + (tick + 1) * interval_us,
            pending_claims: BTreeMap::new(),
            trades: trade::Trades::default(),
            chat_this_tick: 0,
            shedding: LoadShedding::default(),
            counters: ZoneCounters::default(),
            replicator,
            client_order: Vec::new(),
            replication_order: Vec::new(),
            ghosts: Vec::new(),
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

    /// How many committed inventory changes the client's view has seen (handoffs carry it).
    pub fn inventory_version(&self, client: ClientId) -> Option<u64> {
        self.clients.get(&client).map(|session| session.inventory_version)
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

    fn allocate(&mut self) -> Result<(u32, u64), ZoneError> {
        if self.by_net_id.len() >= ENTITIES_PER_ZONE_MAX {
            return Err(ZoneError::EntityLimit);
        }
        if self.config.entity_ids_by_zone {
            return self.allocate_in_range();
        }
        // Skip ids a handed-off player kept (`admit_player`): each id names one entity.
        while self.by_net_id.contains_key(&self.next_net_id) {
            self.next_net_id = self.next_net_id.checked_add(1).ok_or(ZoneError::EntityLimit)?;
        }
        let net_id = self.next_net_id;
        self.next_net_id = self.next_net_id.checked_add(1).ok_or(ZoneError::EntityLimit)?;
        let serial = self.next_serial;
        self.next_serial += 1;
        Ok((net_id, serial))
    }

    /// The next free id of the zone's own range, wrapping within it (id 0 is never used).
    fn allocate_in_range(&mut self) -> Result<(u32, u64), ZoneError> {
        let base = first_net_id(&self.config) & !0xffff;
        let next_in_range = |id: u32| base | (id.wrapping_add(1) & 0xffff);
        let mut tries = 0u32;
        while self.next_net_id == 0 || self.by_net_id.contains_key(&self.next_net_id) {
            self.next_net_id = next_in_range(self.next_net_id);
            tries += 1;
            if tries > 0x1_0000 {
                return Err(ZoneError::EntityLimit);
            }
        }
        let net_id = self.next_net_id;
        self.next_net_id = next_in_range(net_id);
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
                entity,
            } => {
                self.join(client, character_id, party, spawn_m, rtt_us, entity, out);
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
        self.tend_trades(out);
        let tick = self.tick;
        for (body, history) in self.world.query_mut::<(&Body, &mut LagCompensationHistory)>() {
            history.record(tick, body.position_m);
        }
    }
}

/// Helpers shared by the tests of the zone's files.
#[cfg(test)]
mod test_support {
    use super::*;
    use crate::input::{Action, PlayerInput};

    pub(super) const STEP_US: u64 = 50_000;

    pub(super) fn zone() -> Zone {
        Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap()
    }

    pub(super) fn join(client: u32, spawn_m: [f32; 3]) -> ZoneInput {
        ZoneInput::Join {
            client: ClientId(client),
            character_id: u64::from(client) * 10,
            party: None,
            spawn_m: Some(spawn_m),
            rtt_us: 0,
            entity: None,
        }
    }

    pub(super) fn input(client: u32, client_tick: u32, action: Option<Action>) -> ZoneInput {
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
    pub(super) fn drive(
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
}

#[cfg(test)]
mod tests {
    use super::test_support::{STEP_US, input, join, zone};
    use super::*;

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
