//! The zone's non-player state (NPCs, loot on the ground) as plain data, for the node to save
//! elsewhere (Redis) and for a later owner of the zone to restore from. The zone knows nothing of
//! where it goes: no I/O here.
//!
//! Ticks travel relative to the export (`dead_for_ticks`, `expires_in_ticks`) because a restored
//! zone starts its own tick count at 0: an NPC dead for three more seconds is dead for three more
//! seconds after the restore, whatever the new zone's tick is.

use super::components::{Body, LootDrop, NetId, NpcBrain, Vitals};
use super::{ActorKind, IdempotencyKey, Zone, ZoneError};

/// One NPC as exported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NpcRecord {
    pub entity: u32,
    pub health: u16,
    pub health_max: u16,
    pub position_m: [f32; 3],
    pub yaw: f32,
    pub home_m: [f32; 3],
    pub loot_item_id: u32,
    /// `Some(n)`: dead, respawns in `n` ticks.
    pub dead_for_ticks: Option<u64>,
}

/// One loot drop as exported, with the idempotency key its pick-up claim carries: a restored drop
/// keeps its key, so a claim the previous owner already committed is replayed, never granted twice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LootRecord {
    pub entity: u32,
    pub item_id: u32,
    pub quantity: u16,
    pub claimed: bool,
    pub position_m: [f32; 3],
    pub expires_in_ticks: u64,
    pub key_epoch: u64,
    pub key_serial: u64,
}

/// A zone's non-player state at one tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZoneStateExport {
    pub tick: u64,
    pub npcs: Vec<NpcRecord>,
    pub loot: Vec<LootRecord>,
}

impl Zone {
    /// The zone's NPCs and loot now, in entity order.
    pub fn export_state(&self) -> ZoneStateExport {
        let tick = self.tick;
        let mut npcs: Vec<NpcRecord> = self
            .world
            .query::<(&NetId, &Body, &Vitals, &NpcBrain)>()
            .iter()
            .map(|(net_id, body, vitals, brain)| NpcRecord {
                entity: net_id.0,
                health: vitals.health,
                health_max: vitals.health_max,
                position_m: body.position_m,
                yaw: body.yaw,
                home_m: brain.home_m,
                loot_item_id: brain.loot_item_id,
                dead_for_ticks: vitals.dead_until_tick.map(|until| until.saturating_sub(tick)),
            })
            .collect();
        let mut loot: Vec<LootRecord> = self
            .world
            .query::<(&NetId, &Body, &LootDrop)>()
            .iter()
            .map(|(net_id, body, drop)| LootRecord {
                entity: net_id.0,
                item_id: drop.item_id,
                quantity: drop.quantity,
                claimed: drop.claimed,
                position_m: body.position_m,
                expires_in_ticks: drop.expires_tick.saturating_sub(tick),
                key_epoch: drop.key.epoch,
                key_serial: drop.key.serial,
            })
            .collect();
        npcs.sort_unstable_by_key(|npc| npc.entity);
        loot.sort_unstable_by_key(|drop| drop.entity);
        ZoneStateExport { tick, npcs, loot }
    }

    /// Adds the exported NPCs and loot to this zone (new entity ids; loot keeps its keys). Meant
    /// for a zone that has just started, before players join. A loot drop that was claimed but not
    /// answered comes back unclaimed: the claim died with the previous owner, and its key makes a
    /// second claim a replay. Stops at the zone's entity limit (`EntityLimit`), keeping what fit.
    pub fn restore_state(&mut self, state: &ZoneStateExport) -> Result<(), ZoneError> {
        let tick = self.tick;
        for npc in &state.npcs {
            let entity = self.spawn_npc(npc.home_m, npc.loot_item_id)?;
            let handle = self.by_net_id[&entity];
            let (body, vitals) = self
                .world
                .query_one_mut::<(&mut Body, &mut Vitals)>(handle)
                .expect("a freshly spawned NPC has a body and vitals");
            body.position_m = npc.position_m;
            body.yaw = npc.yaw;
            vitals.health_max = npc.health_max.max(1);
            vitals.health = npc.health.min(vitals.health_max);
            vitals.dead_until_tick = npc.dead_for_ticks.map(|ticks| tick + ticks);
        }
        for drop in &state.loot {
            let (net_id, _serial) = self.allocate()?;
            let key = IdempotencyKey {
                zone_id: self.config.zone_id,
                layer: self.layer,
                epoch: drop.key_epoch,
                serial: drop.key_serial,
            };
            let handle = self.world.spawn((
                NetId(net_id),
                super::components::Kind(ActorKind::Loot),
                Body {
                    position_m: drop.position_m,
                    yaw: 0.0,
                    velocity_m_per_s: [0.0; 3],
                },
                LootDrop {
                    item_id: drop.item_id,
                    quantity: drop.quantity,
                    key,
                    claimed: false,
                    expires_tick: tick + drop.expires_in_ticks,
                },
            ));
            self.by_net_id.insert(net_id, handle);
        }
        // Keys this owner makes must not collide with restored ones of the same epoch.
        if let Some(highest) = state
            .loot
            .iter()
            .filter(|drop| drop.key_epoch == self.epoch)
            .map(|drop| drop.key_serial)
            .max()
        {
            self.next_serial = self.next_serial.max(highest + 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ZoneConfig;

    #[test]
    fn npcs_and_loot_survive_an_export_and_a_restore_into_a_fresh_zone() {
        let config = ZoneConfig::default();
        let mut old = Zone::new(config.clone(), 0, 7, 0).unwrap();
        old.spawn_npc([10.0, 20.0, 0.0], 5).unwrap();
        old.spawn_npc([30.0, 40.0, 0.0], 6).unwrap();
        old.spawn_loot([1.0, 2.0, 0.0], 9, 3).unwrap();
        let exported = old.export_state();
        assert_eq!(exported.npcs.len(), 2);
        assert_eq!(exported.loot.len(), 1);
        let mut new = Zone::new(config, 0, 8, 0).unwrap();
        new.restore_state(&exported).unwrap();
        let restored = new.export_state();
        assert_eq!(restored.npcs.len(), 2);
        let homes: Vec<_> = restored.npcs.iter().map(|npc| (npc.home_m, npc.loot_item_id)).collect();
        assert_eq!(homes, vec![([10.0, 20.0, 0.0], 5), ([30.0, 40.0, 0.0], 6)]);
        let drop = restored.loot[0];
        assert_eq!((drop.position_m, drop.item_id, drop.quantity), ([1.0, 2.0, 0.0], 9, 3));
        // The drop keeps the key the old owner gave it.
        assert_eq!(
            (drop.key_epoch, drop.key_serial),
            (exported.loot[0].key_epoch, exported.loot[0].key_serial)
        );
    }
}
