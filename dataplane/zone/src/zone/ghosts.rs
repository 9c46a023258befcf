//! Ghosts: read-only copies of a neighbouring zone's entities near the common border, so a client
//! standing near it sees across with no pop-in. The zone that owns an entity exports its state every
//! tick ([`Zone::export_ghosts`], toward one neighbour's rectangle); the neighbour replicates it under
//! the owner's id ([`Zone::set_ghosts`]) beside its own entities and never simulates it (no
//! collisions, no hits: a shot at a ghost is refused like one at an unknown id). With ids from
//! per-zone ranges (`ZoneConfig::entity_ids_by_zone`) the id is unique in the world, so an observer
//! sees one entity — the ghost, then the same id as a local entity once it is handed over.

use meridian_proto::snapshot::{EntityKind, EntityState};

use super::components::{Body, Kind, LootDrop, NetId, Vitals};
use super::{ActorKind, FLAG_DEAD, FLAG_LOOT_CLAIMED, Zone};
use crate::world::ZoneRect;

/// Ghosts one zone shows at once (from all its neighbours); past it the rest are left out and the
/// count is returned to the caller.
pub const GHOSTS_MAX: usize = 1_024;

/// Squared distance on the ground from a point to a rectangle (0 inside it).
fn distance_sq_m(rect: &ZoneRect, position_m: [f32; 3]) -> f32 {
    let gap = |axis: usize| {
        (rect.min_m[axis] - position_m[axis])
            .max(position_m[axis] - rect.max_m[axis])
            .max(0.0)
    };
    gap(0) * gap(0) + gap(1) * gap(1)
}

impl Zone {
    /// Appends to `out` the state of every entity within `margin_m` of `toward` (a neighbour's
    /// rectangle, or inside it: a player past the border not yet handed over) as of this tick.
    pub fn export_ghosts(&self, toward: &ZoneRect, margin_m: f32, out: &mut Vec<EntityState>) {
        let margin_sq = margin_m * margin_m;
        let mut query = self
            .world
            .query::<(&NetId, &Kind, &Body, Option<&Vitals>, Option<&LootDrop>)>();
        for (net_id, kind, body, vitals, loot) in query.iter() {
            if distance_sq_m(toward, body.position_m) > margin_sq {
                continue;
            }
            let mut flags = 0;
            if vitals.is_some_and(|vitals| vitals.dead_until_tick.is_some()) {
                flags |= FLAG_DEAD;
            }
            if loot.is_some_and(|loot| loot.claimed) {
                flags |= FLAG_LOOT_CLAIMED;
            }
            out.push(EntityState {
                id: net_id.0,
                kind: match kind.0 {
                    ActorKind::Player => EntityKind::Player,
                    ActorKind::Npc => EntityKind::Npc,
                    ActorKind::Loot => EntityKind::Loot,
                },
                position: body.position_m,
                yaw: body.yaw,
                velocity: body.velocity_m_per_s,
                health: vitals.map_or(0, |vitals| vitals.health),
                flags,
            });
        }
    }

    /// Replaces the ghosts this zone shows from its next snapshot on. Returns how many were left out
    /// (beyond [`GHOSTS_MAX`]).
    pub fn set_ghosts(&mut self, ghosts: &[EntityState]) -> usize {
        self.ghosts.clear();
        let kept = ghosts.len().min(GHOSTS_MAX);
        self.ghosts.extend_from_slice(&ghosts[..kept]);
        ghosts.len() - kept
    }

    pub fn ghost_count(&self) -> usize {
        self.ghosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::test_support::{STEP_US, join};
    use crate::zone::*;

    fn zone(zone_id: u32) -> Zone {
        let config = ZoneConfig {
            zone_id,
            entity_ids_by_zone: true,
            ..ZoneConfig::default()
        };
        Zone::new(config, 0, 7, 0).unwrap()
    }

    #[test]
    fn border_entities_become_ghosts_next_door_under_ids_no_other_zone_uses() {
        let (mut west, mut east) = (zone(1), zone(2));
        let mut out = ZoneOutput::default();
        west.tick(
            STEP_US,
            None,
            [join(1, [250.0, 100.0, 0.0]), join(2, [100.0, 100.0, 0.0])],
            &mut out,
        );
        east.tick(STEP_US, None, [join(3, [300.0, 100.0, 0.0])], &mut out);
        let near = west.client_entity(ClientId(1)).unwrap();
        let far = west.client_entity(ClientId(2)).unwrap();
        let resident = east.client_entity(ClientId(3)).unwrap();
        assert_eq!(
            (near >> 16, far >> 16, resident >> 16),
            (1, 1, 2),
            "each zone's own range"
        );
        let east_rect = ZoneRect {
            min_m: [256.0, 0.0],
            max_m: [512.0, 256.0],
        };
        let mut ghosts = Vec::new();
        west.export_ghosts(&east_rect, 32.0, &mut ghosts);
        assert_eq!(
            ghosts.iter().map(|g| g.id).collect::<Vec<_>>(),
            vec![near],
            "6 m away: yes; 156 m: no"
        );
        assert_eq!(east.set_ghosts(&ghosts), 0);
        east.tick(2 * STEP_US, None, [], &mut out);
        assert_eq!(east.ghost_count(), 1);
        // A ghost is shown, not simulated: the zone has no entity under that id.
        assert_eq!(east.position(near), None);
        assert!(!out.snapshots[0].bytes.is_empty());
        // Handed over, the player keeps its id (free here: another zone's range).
        let frozen = west.freeze_player(ClientId(1)).unwrap();
        assert_eq!(east.admit_player(frozen), Ok(near));
        let too_many = vec![ghosts[0]; GHOSTS_MAX + 5];
        assert_eq!(east.set_ghosts(&too_many), 5);
        assert!(matches!(
            ZoneConfig {
                zone_id: 70_000,
                entity_ids_by_zone: true,
                ..ZoneConfig::default()
            }
            .validate(),
            Err(ConfigError::ZoneIdRange { zone_id: 70_000 })
        ));
    }
}
