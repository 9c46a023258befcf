//! Handing a player from one zone to another at a tick boundary: the old zone freezes the player
//! (removes it and returns everything the new zone needs to carry on), the new zone admits it with
//! that state. Nothing of the player's simulation is reset: the jitter buffer moves whole, with its
//! queued inputs and the last client tick played, so an input is applied exactly once across the
//! move; the lag-compensation history moves too (positions are world coordinates in every zone).

use std::collections::BTreeMap;

use super::components::{Body, Kind, NetId, PlayerOf, Vitals};
use super::{ActorKind, ClientId, ClientSession, PartyId, Zone};
use crate::input::InputBuffer;
use crate::lag::LagCompensationHistory;
use crate::replication::ClientView;

/// A frozen player in transit between two zones: its state, its pending inputs and its last input
/// tick (inside `inputs`), what the new zone admits.
#[derive(Debug, Clone)]
pub struct PlayerHandoff {
    pub client: ClientId,
    pub character_id: u64,
    pub party: Option<PartyId>,
    /// The entity id the player had in the old zone; the new zone keeps it when it is free there.
    pub entity: u32,
    pub position_m: [f32; 3],
    pub velocity_m_per_s: [f32; 3],
    pub yaw: f32,
    pub health: u16,
    pub health_max: u16,
    pub attack_ready_tick: u64,
    pub rtt_us: u64,
    pub last_direction: [f32; 2],
    pub inventory: BTreeMap<u32, u32>,
    /// Committed inventory changes the old zone's view had seen (see `Zone::inventory_version`).
    pub inventory_version: u64,
    /// The jitter buffer: queued (pending) inputs and the last client tick played.
    pub inputs: InputBuffer,
    pub(super) history: Box<LagCompensationHistory>,
}

impl PlayerHandoff {
    /// The newest client tick the old zone played (what its snapshots said last).
    pub fn last_input_tick(&self) -> Option<u32> {
        self.inputs.last_passed_tick()
    }

    /// Inputs received but not played yet; the new zone plays them.
    pub fn pending_inputs(&self) -> usize {
        self.inputs.queued_len()
    }
}

/// Why a zone would not let a player go now; the host tries again on a later tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeRefusal {
    UnknownClient,
    /// Dead, waiting to respawn: the respawn belongs to the zone that killed it.
    Dead,
    /// A loot claim or a trade waits for persistence: its answer comes back to this zone.
    AwaitingPersistence,
}

/// Why a zone could not admit a handed-off player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmitRefusal {
    AlreadyJoined,
    ZoneFull,
    EntityLimit,
}

impl Zone {
    /// Freezes `client` at this tick boundary: removes its player and returns its state. Refused
    /// (and nothing changes) while the player is dead or awaits persistence.
    pub fn freeze_player(&mut self, client: ClientId) -> Result<PlayerHandoff, FreezeRefusal> {
        let session = self.clients.get(&client).ok_or(FreezeRefusal::UnknownClient)?;
        let handle = session.entity;
        let vitals = *self
            .world
            .get::<&Vitals>(handle)
            .map_err(|_| FreezeRefusal::UnknownClient)?;
        if vitals.dead_until_tick.is_some() {
            return Err(FreezeRefusal::Dead);
        }
        if self.trades.is_busy(client) || self.pending_claims.values().any(|claim| claim.is_for(client)) {
            return Err(FreezeRefusal::AwaitingPersistence);
        }
        let session = self.clients.remove(&client).expect("looked up above");
        self.trades.forget(client);
        let body = *self.world.get::<&Body>(handle).expect("every player has a body");
        let history = self
            .world
            .get::<&LagCompensationHistory>(handle)
            .map(|history| Box::new((*history).clone()))
            .unwrap_or_default();
        self.despawn(session.net_id);
        self.counters.handoffs_out += 1;
        Ok(PlayerHandoff {
            client,
            character_id: session.character_id,
            party: session.party,
            entity: session.net_id,
            position_m: body.position_m,
            velocity_m_per_s: body.velocity_m_per_s,
            yaw: body.yaw,
            health: vitals.health,
            health_max: vitals.health_max,
            attack_ready_tick: vitals.attack_ready_tick,
            rtt_us: session.rtt_us,
            last_direction: session.last_direction,
            inventory: session.inventory,
            inventory_version: session.inventory_version,
            inputs: session.inputs,
            history,
        })
    }

    /// Admits a frozen player at this tick boundary. Returns its entity id here: the one it had when
    /// that is free in this zone, a new one otherwise (the client must then be told). Its replication
    /// view starts empty, so its first snapshot from this zone is a full one.
    pub fn admit_player(&mut self, handoff: PlayerHandoff) -> Result<u32, AdmitRefusal> {
        if self.clients.contains_key(&handoff.client) {
            return Err(AdmitRefusal::AlreadyJoined);
        }
        if self.clients.len() >= self.config.players_per_layer_max + self.config.party_overflow_slots {
            return Err(AdmitRefusal::ZoneFull);
        }
        let net_id = if self.by_net_id.contains_key(&handoff.entity) || handoff.entity == 0 {
            self.allocate().map_err(|_| AdmitRefusal::EntityLimit)?.0
        } else if self.by_net_id.len() >= crate::config::ENTITIES_PER_ZONE_MAX {
            return Err(AdmitRefusal::EntityLimit);
        } else {
            handoff.entity
        };
        let entity = self.world.spawn((
            NetId(net_id),
            Kind(ActorKind::Player),
            Body {
                position_m: handoff.position_m,
                yaw: handoff.yaw,
                velocity_m_per_s: handoff.velocity_m_per_s,
            },
            Vitals {
                health: handoff.health,
                health_max: handoff.health_max,
                dead_until_tick: None,
                attack_ready_tick: handoff.attack_ready_tick,
            },
            PlayerOf {
                client: handoff.client,
                character_id: handoff.character_id,
            },
            *handoff.history,
        ));
        self.by_net_id.insert(net_id, entity);
        self.clients.insert(
            handoff.client,
            ClientSession {
                entity,
                net_id,
                character_id: handoff.character_id,
                party: handoff.party,
                inputs: handoff.inputs,
                last_direction: handoff.last_direction,
                rtt_us: handoff.rtt_us,
                chat_window_start_tick: self.tick,
                chat_in_window: 0,
                inventory: handoff.inventory,
                inventory_version: handoff.inventory_version,
                view: ClientView::new(),
            },
        );
        self.counters.handoffs_in += 1;
        Ok(net_id)
    }
}

#[cfg(test)]
mod tests {
    use crate::input::{MoveIntent, PlayerInput};
    use crate::zone::test_support::{STEP_US, join};
    use crate::zone::*;

    fn walk(client: u32, client_tick: u32, received_us: u64) -> ZoneInput {
        ZoneInput::Input {
            client: ClientId(client),
            input: PlayerInput {
                client_tick,
                movement: Some(MoveIntent {
                    direction: [1.0, 0.0],
                    yaw: 0.5,
                    claimed_position_m: None,
                }),
                action: None,
            },
            received_us,
        }
    }

    #[test]
    fn a_frozen_player_carries_on_in_the_new_zone_with_its_id_inputs_and_state() {
        let mut old = Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap();
        let mut new = Zone::new(
            ZoneConfig {
                zone_id: 2,
                ..ZoneConfig::default()
            },
            0,
            7,
            0,
        )
        .unwrap();
        let mut out = ZoneOutput::default();
        old.tick(STEP_US, None, [join(1, [100.0, 100.0, 0.0])], &mut out);
        // Ticks 0..6 arrive; playback (jitter 2) leaves some queued at the freeze.
        for tick in 0..6u32 {
            let now = (2 + u64::from(tick)) * STEP_US;
            old.tick(now, None, [walk(1, tick, now)], &mut out);
            new.tick(now, None, [], &mut out);
        }
        let played = old.position(1).unwrap();
        // Two committed pick-ups in the old zone's view.
        let session = old.clients.get_mut(&ClientId(1)).unwrap();
        session.inventory.insert(42, 2);
        session.inventory_version = 2;
        let handoff = old.freeze_player(ClientId(1)).unwrap();
        assert_eq!(handoff.inventory_version, 2);
        assert_eq!(old.player_count(), 0);
        assert_eq!(old.position(1), None);
        assert_eq!(handoff.position_m, played);
        let last = handoff.last_input_tick();
        assert!(last.is_some());
        let pending = handoff.pending_inputs();
        assert!(pending > 0, "the jitter buffer holds inputs not played yet");
        assert_eq!(new.admit_player(handoff), Ok(1), "the entity id is free: kept");
        assert_eq!(new.position(1), Some(played));
        assert_eq!(new.inventory(ClientId(1)).unwrap().get(&42), Some(&2));
        assert_eq!(
            new.inventory_version(ClientId(1)),
            Some(2),
            "the inventory's version carries on"
        );
        // A copy of a tick the old zone played is a duplicate here; the pending ones play.
        let now = 8 * STEP_US;
        new.tick(now, None, [walk(1, last.unwrap(), now), walk(1, 6, now)], &mut out);
        assert_eq!(new.counters().inputs_duplicate + new.counters().inputs_late, 1);
        assert!(new.position(1).unwrap()[0] > played[0], "pending inputs play on");
        assert_eq!(out.snapshots.len(), 1);
        assert_eq!(old.counters().handoffs_out, 1);
        assert_eq!(new.counters().handoffs_in, 1);
    }

    #[test]
    fn zones_on_the_cluster_tick_origin_agree_on_tick_numbers_whenever_they_started() {
        let epoch_us = 5_000_000;
        let config = ZoneConfig {
            tick_epoch_us: Some(epoch_us),
            ..ZoneConfig::default()
        };
        let mut early = Zone::new(config.clone(), 0, 7, epoch_us + 20_000).unwrap();
        let mut late = Zone::new(config, 0, 7, epoch_us + 3_337_000).unwrap();
        assert_eq!(early.current_tick(), 0);
        assert_eq!(late.current_tick(), 66, "starts at the tick current when it was made");
        let mut out = ZoneOutput::default();
        for now in (epoch_us..epoch_us + 6_000_000).step_by(10_000) {
            early.tick(now, None, [], &mut out);
            late.tick(now, None, [], &mut out);
            if now >= epoch_us + 3_400_000 {
                assert_eq!(early.current_tick(), late.current_tick(), "at {now}");
            }
        }
        assert_eq!(late.current_tick(), (6_000_000 - 10_000) / STEP_US);
        assert_eq!(late.tick_time_us(70), epoch_us + 70 * STEP_US);
    }

    #[test]
    fn a_taken_entity_id_is_replaced_and_never_handed_out_twice() {
        let mut old = Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap();
        let mut new = Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        old.tick(STEP_US, None, [join(1, [100.0, 100.0, 0.0])], &mut out);
        new.tick(STEP_US, None, [join(2, [300.0, 100.0, 0.0])], &mut out);
        assert_eq!(new.client_entity(ClientId(2)), Some(1));
        let handoff = old.freeze_player(ClientId(1)).unwrap();
        let entity = new.admit_player(handoff).unwrap();
        assert_ne!(entity, 1, "1 is taken here");
        // An id kept by a handoff is never handed out again by this zone.
        new.tick(2 * STEP_US, None, [join(3, [300.0, 100.0, 0.0])], &mut out);
        let third = new.client_entity(ClientId(3)).unwrap();
        assert!(third != entity && third != 1);
        assert_eq!(
            old.freeze_player(ClientId(9)).unwrap_err(),
            FreezeRefusal::UnknownClient
        );
    }
}
