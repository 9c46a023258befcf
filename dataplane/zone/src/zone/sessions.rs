//! Players joining and leaving: a join spawns the player's entity and its session (input buffer,
//! replication view), a leave removes both.

use std::collections::BTreeMap;

use super::components::{Body, Kind, NetId, PlayerOf, Vitals};
use super::{ActorKind, ClientEvent, ClientId, ClientSession, JoinRefusal, PartyId, Zone, ZoneOutput};
use crate::input::InputBuffer;
use crate::lag::LagCompensationHistory;
use crate::replication::ClientView;

impl Zone {
    #[allow(clippy::too_many_arguments)] // the fields of `ZoneInput::Join`, unpacked by `take_input`
    pub(super) fn join(
        &mut self,
        client: ClientId,
        character_id: u64,
        party: Option<PartyId>,
        spawn_m: Option<[f32; 3]>,
        rtt_us: u64,
        keep_entity: Option<u32>,
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
        // A kept id must be free and non-zero; `allocate` skips ids taken this way later.
        let kept = keep_entity
            .filter(|id| *id != 0 && !self.by_net_id.contains_key(id))
            .filter(|_| self.by_net_id.len() < crate::config::ENTITIES_PER_ZONE_MAX);
        let Ok(net_id) = kept.map_or_else(|| self.allocate().map(|(net_id, _)| net_id), Ok) else {
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
                inventory_version: 0,
                view: ClientView::new(),
            },
        );
        self.counters.joins += 1;
        out.client_events.push((client, ClientEvent::Joined { entity: net_id }));
    }

    pub(super) fn leave(&mut self, client: ClientId) {
        if let Some(session) = self.clients.remove(&client) {
            self.despawn(session.net_id);
            self.counters.leaves += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::zone::test_support::{STEP_US, join, zone};
    use crate::zone::*;

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
    fn a_join_keeps_a_free_entity_id_and_never_hands_one_out_twice() {
        let mut zone = zone();
        let mut out = ZoneOutput::default();
        let keeping = |client: u32, entity: u32| match join(client, [10.0, 10.0, 0.0]) {
            ZoneInput::Join {
                client,
                character_id,
                party,
                spawn_m,
                rtt_us,
                ..
            } => ZoneInput::Join {
                client,
                character_id,
                party,
                spawn_m,
                rtt_us,
                entity: Some(entity),
            },
            other => other,
        };
        // 5 is free: kept. 5 again is taken, and 0 names no entity: new ids, which skip 5.
        zone.tick(STEP_US, None, [keeping(1, 5), keeping(2, 5), keeping(3, 0)], &mut out);
        let joined: Vec<_> = out.client_events.clone();
        assert_eq!(joined[0], (ClientId(1), ClientEvent::Joined { entity: 5 }));
        let (ClientEvent::Joined { entity: second }, ClientEvent::Joined { entity: third }) =
            (joined[1].1.clone(), joined[2].1.clone())
        else {
            panic!("{joined:?}")
        };
        assert!(second != 5 && third != 5 && second != third, "{joined:?}");
        assert_eq!(zone.client_entity(ClientId(1)), Some(5));
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
}
