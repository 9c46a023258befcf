//! Combat: hit-scan attacks judged against the target's past position (lag compensation), deaths
//! (with a persistence event and NPC loot) and respawns.

use super::components::{Body, NpcBrain, PlayerOf, Vitals};
use super::{ClientEvent, ClientId, PersistenceEvent, Zone, ZoneOutput};
use crate::lag::{LagCompensationHistory, ray_hits_sphere, shooter_view_time_us};

impl Zone {
    pub(super) fn attack(
        &mut self,
        client: ClientId,
        target: u32,
        direction: [f32; 3],
        arrival_us: u64,
        out: &mut ZoneOutput,
    ) {
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

    pub(super) fn respawn(&mut self, out: &mut ZoneOutput) {
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
}

#[cfg(test)]
mod tests {
    use crate::input::{Action, PlayerInput};
    use crate::zone::test_support::{STEP_US, drive, join};
    use crate::zone::*;

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
}
