//! Loot and persistence: drops on the ground, pick-up claims made durable write-behind (the zone
//! never waits; claims are retried until persistence answers, and answered once), and expiry.

use super::components::{Body, Kind, LootDrop, NetId, Vitals};
use super::{
    ActorKind, ClientEvent, ClientId, IdempotencyKey, PENDING_CLAIMS_MAX, PersistenceEvent, PersistenceOutcome,
    PickUpRefusal, Zone, ZoneError, ZoneOutput,
};

/// One player's state as a checkpoint records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerState {
    pub client: ClientId,
    pub character_id: u64,
    pub position_m: [f32; 3],
    pub health: u16,
}

#[derive(Debug, Clone)]
pub(super) struct PendingClaim {
    loot_entity: u32,
    client: ClientId,
    character_id: u64,
    item_id: u32,
    quantity: u16,
    retry_tick: u64,
}

impl PendingClaim {
    pub(super) fn is_for(&self, client: ClientId) -> bool {
        self.client == client
    }
}

impl Zone {
    /// Every player's checkpointable state (write-behind checkpoints read it between ticks).
    pub fn player_states(&self) -> impl Iterator<Item = PlayerState> + '_ {
        self.clients.iter().filter_map(|(client, session)| {
            let position_m = self.world.get::<&Body>(session.entity).ok()?.position_m;
            let health = self
                .world
                .get::<&Vitals>(session.entity)
                .map_or(0, |vitals| vitals.health);
            Some(PlayerState {
                client: *client,
                character_id: session.character_id,
                position_m,
                health,
            })
        })
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

    pub(super) fn pick_up(&mut self, client: ClientId, loot: u32, out: &mut ZoneOutput) {
        let refuse = |zone: &mut Self, out: &mut ZoneOutput, reason: PickUpRefusal| {
            zone.counters.pickups_refused += 1;
            out.client_events
                .push((client, ClientEvent::PickUpRefused { loot, reason }));
        };
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let (player, character_id) = (session.entity, session.character_id);
        let Some(&loot_handle) = self.by_net_id.get(&loot) else {
            return refuse(self, out, PickUpRefusal::AlreadyClaimed);
        };
        let Ok(player_at) = self.world.get::<&Body>(player).map(|body| body.position_m) else {
            return;
        };
        let Ok(loot_at) = self.world.get::<&Body>(loot_handle).map(|body| body.position_m) else {
            return;
        };
        let distance = ((player_at[0] - loot_at[0]).powi(2) + (player_at[1] - loot_at[1]).powi(2)).sqrt();
        if distance > self.config.pickup_range_m {
            return refuse(self, out, PickUpRefusal::OutOfRange);
        }
        if self.pending_claims.len() >= PENDING_CLAIMS_MAX {
            return refuse(self, out, PickUpRefusal::Busy);
        }
        let claimed = match self.world.get::<&mut LootDrop>(loot_handle) {
            Ok(mut drop) if !drop.claimed => {
                drop.claimed = true;
                Some(*drop)
            }
            _ => None,
        };
        let Some(drop) = claimed else {
            return refuse(self, out, PickUpRefusal::AlreadyClaimed);
        };
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
    pub(super) fn confirm(&mut self, key: IdempotencyKey, outcome: PersistenceOutcome, out: &mut ZoneOutput) {
        let Some(claim) = self.pending_claims.remove(&key) else {
            if !self.confirm_trade(key, outcome, out) {
                self.counters.loot_confirms_ignored += 1;
            }
            return;
        };
        match outcome {
            PersistenceOutcome::Committed => {
                self.counters.loot_granted += 1;
                self.despawn(claim.loot_entity);
                if let Some(session) = self.clients.get_mut(&claim.client)
                    && session.character_id == claim.character_id
                {
                    *session.inventory.entry(claim.item_id).or_insert(0) += u32::from(claim.quantity);
                    session.inventory_version += 1;
                    out.client_events.push((
                        claim.client,
                        ClientEvent::InventoryGranted {
                            item_id: claim.item_id,
                            quantity: claim.quantity,
                        },
                    ));
                }
            }
            PersistenceOutcome::Rejected | PersistenceOutcome::Unavailable => {
                let reason = if outcome == PersistenceOutcome::Rejected {
                    self.counters.loot_claims_rejected += 1;
                    PickUpRefusal::Rejected
                } else {
                    self.counters.loot_claims_unavailable += 1;
                    PickUpRefusal::PersistenceUnavailable
                };
                if let Some(&handle) = self.by_net_id.get(&claim.loot_entity)
                    && let Ok(mut drop) = self.world.get::<&mut LootDrop>(handle)
                {
                    drop.claimed = false;
                }
                out.client_events.push((
                    claim.client,
                    ClientEvent::PickUpRefused {
                        loot: claim.loot_entity,
                        reason,
                    },
                ));
            }
        }
    }

    pub(super) fn tend_loot(&mut self, out: &mut ZoneOutput) {
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
}
