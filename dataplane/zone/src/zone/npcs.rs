//! NPCs: spawned around a home point, they wander within `NPC_WANDER_RADIUS_M` of it.

use super::components::{Body, Kind, NetId, NpcBrain, Vitals};
use super::{ActorKind, NPC_WANDER_RADIUS_M, Zone, ZoneError};
use crate::lag::LagCompensationHistory;
use crate::movement::{MoveRules, step};

impl Zone {
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

    pub(super) fn wander_npcs(&mut self) {
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
}
