//! Two-step trades between two players of one zone instance: A offers (its holding of one item for
//! B's holding of another, either side may be nothing), B accepts, and the zone asks persistence to
//! swap both at once (`PersistenceEvent::Trade`, one idempotency key, re-sent until answered like a
//! pick-up claim). Like pick-ups, a trade is pending state in the zone: both inventory views change,
//! and both players hear `TradeCompleted`, only after the commit; a refusal reaches both with its
//! reason. A player is in at most one pending trade at a time, so the holdings the zone checked at
//! accept time cannot be traded away twice meanwhile.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    ClientEvent, ClientId, IdempotencyKey, PENDING_CLAIMS_MAX, PersistenceEvent, PersistenceOutcome, TradeRefusal,
    Zone, ZoneOutput,
};

/// Open offers one zone instance keeps; more are refused as busy.
pub const TRADE_OFFERS_MAX: usize = 1_024;
/// An offer not accepted within this many ticks lapses (30 s at 20 Hz).
pub const TRADE_OFFER_TTL_TICKS: u64 = 600;

#[derive(Debug, Clone, Copy)]
struct Offer {
    give_item: u32,
    want_item: u32,
    expires_tick: u64,
}

#[derive(Debug, Clone, Copy)]
struct PendingTrade {
    a: ClientId,
    b: ClientId,
    a_entity: u32,
    b_entity: u32,
    a_character_id: u64,
    b_character_id: u64,
    a_item: u32,
    b_item: u32,
    retry_tick: u64,
}

impl PendingTrade {
    fn event(&self, key: IdempotencyKey) -> PersistenceEvent {
        PersistenceEvent::Trade {
            key,
            a_character_id: self.a_character_id,
            b_character_id: self.b_character_id,
            a_item: self.a_item,
            b_item: self.b_item,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Trades {
    /// (offered to, offered by) → the offer; a new offer to the same player replaces the old one.
    offers: BTreeMap<(ClientId, ClientId), Offer>,
    pending: BTreeMap<IdempotencyKey, PendingTrade>,
    /// Players with a trade waiting for persistence.
    busy: BTreeSet<ClientId>,
}

impl Trades {
    /// Whether `client` has a trade waiting for persistence.
    pub(super) fn is_busy(&self, client: ClientId) -> bool {
        self.busy.contains(&client)
    }

    /// Drops the open offers to and from `client` (it left this zone instance).
    pub(super) fn forget(&mut self, client: ClientId) {
        self.offers.retain(|(to, by), _| *to != client && *by != client);
    }
}

impl Zone {
    fn client_by_entity(&self, entity: u32) -> Option<ClientId> {
        self.clients
            .iter()
            .find(|(_, session)| session.net_id == entity)
            .map(|(client, _)| *client)
    }

    fn holds(&self, client: ClientId, item: u32) -> bool {
        item == 0
            || self
                .clients
                .get(&client)
                .is_some_and(|session| session.inventory.get(&item).is_some_and(|quantity| *quantity > 0))
    }

    fn refuse_trade(&mut self, client: ClientId, with_entity: u32, reason: TradeRefusal, out: &mut ZoneOutput) {
        self.counters.trades_refused += 1;
        out.client_events
            .push((client, ClientEvent::TradeRefused { with_entity, reason }));
    }

    pub(super) fn offer_trade(
        &mut self,
        client: ClientId,
        target_entity: u32,
        give_item: u32,
        want_item: u32,
        out: &mut ZoneOutput,
    ) {
        let Some(own_entity) = self.client_entity(client) else {
            return;
        };
        let target = match self.client_by_entity(target_entity) {
            Some(target) if target != client => target,
            _ => return self.refuse_trade(client, target_entity, TradeRefusal::NotFound, out),
        };
        if (give_item == 0 && want_item == 0) || !self.holds(client, give_item) {
            return self.refuse_trade(client, target_entity, TradeRefusal::ItemsMissing, out);
        }
        let tick = self.tick;
        self.trades.offers.retain(|_, offer| offer.expires_tick > tick);
        if self.trades.offers.len() >= TRADE_OFFERS_MAX && !self.trades.offers.contains_key(&(target, client)) {
            return self.refuse_trade(client, target_entity, TradeRefusal::Busy, out);
        }
        self.trades.offers.insert(
            (target, client),
            Offer {
                give_item,
                want_item,
                expires_tick: tick + TRADE_OFFER_TTL_TICKS,
            },
        );
        self.counters.trades_offered += 1;
        out.client_events.push((
            target,
            ClientEvent::TradeOffered {
                from_entity: own_entity,
                give_item,
                want_item,
            },
        ));
    }

    pub(super) fn accept_trade(&mut self, client: ClientId, from_entity: u32, out: &mut ZoneOutput) {
        let Some(own_entity) = self.client_entity(client) else {
            return;
        };
        let tick = self.tick;
        let offer = self
            .client_by_entity(from_entity)
            .and_then(|from| Some((from, self.trades.offers.remove(&(client, from))?)))
            .filter(|(_, offer)| offer.expires_tick > tick);
        let Some((from, offer)) = offer else {
            return self.refuse_trade(client, from_entity, TradeRefusal::NotFound, out);
        };
        let refusal = if self.trades.busy.contains(&client)
            || self.trades.busy.contains(&from)
            || self.trades.pending.len() + self.pending_claims.len() >= PENDING_CLAIMS_MAX
        {
            Some(TradeRefusal::Busy)
        } else if !self.holds(from, offer.give_item) || !self.holds(client, offer.want_item) {
            Some(TradeRefusal::ItemsMissing)
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.refuse_trade(client, from_entity, reason, out);
            return self.refuse_trade(from, own_entity, reason, out);
        }
        let (Some(a), Some(b)) = (self.clients.get(&from), self.clients.get(&client)) else {
            return;
        };
        let serial = self.next_serial;
        self.next_serial += 1;
        let key = self.key(serial);
        let trade = PendingTrade {
            a: from,
            b: client,
            a_entity: from_entity,
            b_entity: own_entity,
            a_character_id: a.character_id,
            b_character_id: b.character_id,
            a_item: offer.give_item,
            b_item: offer.want_item,
            retry_tick: tick + u64::from(self.config.loot_confirm_retry_ticks),
        };
        self.trades.busy.insert(from);
        self.trades.busy.insert(client);
        out.persistence.push(trade.event(key));
        self.trades.pending.insert(key, trade);
    }

    /// Persistence answered `key`; false if it is not a pending trade (a late repeat, or a claim).
    pub(super) fn confirm_trade(
        &mut self,
        key: IdempotencyKey,
        outcome: PersistenceOutcome,
        out: &mut ZoneOutput,
    ) -> bool {
        let Some(trade) = self.trades.pending.remove(&key) else {
            return false;
        };
        self.trades.busy.remove(&trade.a);
        self.trades.busy.remove(&trade.b);
        let reason = match outcome {
            PersistenceOutcome::Committed => None,
            PersistenceOutcome::Rejected => Some(TradeRefusal::Rejected),
            PersistenceOutcome::Unavailable => Some(TradeRefusal::PersistenceUnavailable),
        };
        if let Some(reason) = reason {
            self.refuse_trade(trade.a, trade.b_entity, reason, out);
            self.refuse_trade(trade.b, trade.a_entity, reason, out);
            return true;
        }
        self.counters.trades_committed += 1;
        // Both holdings change hands in the views of whoever is still here as the same character.
        let take = |zone: &mut Self, client: ClientId, character_id: u64, item: u32| -> u32 {
            match zone.clients.get_mut(&client) {
                Some(session) if session.character_id == character_id && item != 0 => {
                    session.inventory_version += 1;
                    session.inventory.remove(&item).unwrap_or(0)
                }
                _ => 0,
            }
        };
        let from_a = take(self, trade.a, trade.a_character_id, trade.a_item);
        let from_b = take(self, trade.b, trade.b_character_id, trade.b_item);
        for (client, character_id, item, quantity) in [
            (trade.b, trade.b_character_id, trade.a_item, from_a),
            (trade.a, trade.a_character_id, trade.b_item, from_b),
        ] {
            if let Some(session) = self.clients.get_mut(&client)
                && session.character_id == character_id
                && item != 0
            {
                *session.inventory.entry(item).or_insert(0) += quantity;
                session.inventory_version += 1;
            }
        }
        out.client_events.push((
            trade.a,
            ClientEvent::TradeCompleted {
                with_entity: trade.b_entity,
                gave_item: trade.a_item,
                got_item: trade.b_item,
            },
        ));
        out.client_events.push((
            trade.b,
            ClientEvent::TradeCompleted {
                with_entity: trade.a_entity,
                gave_item: trade.b_item,
                got_item: trade.a_item,
            },
        ));
        true
    }

    /// Re-sends the trades persistence has not answered yet (same key: applied once).
    pub(super) fn tend_trades(&mut self, out: &mut ZoneOutput) {
        let tick = self.tick;
        let retry_ticks = u64::from(self.config.loot_confirm_retry_ticks.max(1));
        for (key, trade) in self.trades.pending.iter_mut() {
            if trade.retry_tick > tick {
                continue;
            }
            trade.retry_tick = tick + retry_ticks;
            self.counters.trades_retried += 1;
            out.persistence.push(trade.event(*key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ZoneInput;
    use super::super::test_support::{STEP_US, input, join, zone};
    use super::*;
    use crate::input::Action;

    /// A zone with players 1 and 2 side by side, and what it said since the last look.
    struct Scene {
        zone: Zone,
        out: ZoneOutput,
        now_us: u64,
        client_ticks: [u32; 3],
        events: Vec<(ClientId, ClientEvent)>,
        persistence: Vec<PersistenceEvent>,
    }

    impl Scene {
        fn new() -> Self {
            let mut scene = Scene {
                zone: zone(),
                out: ZoneOutput::default(),
                now_us: 0,
                client_ticks: [0; 3],
                events: Vec::new(),
                persistence: Vec::new(),
            };
            let joins = [join(1, [100.0, 100.0, 0.0]), join(2, [102.0, 100.0, 0.0])];
            scene.step(joins);
            scene
        }

        fn step(&mut self, inputs: impl IntoIterator<Item = ZoneInput>) {
            self.zone.tick(self.now_us, None, inputs, &mut self.out);
            self.events.append(&mut self.out.client_events);
            self.persistence.append(&mut self.out.persistence);
            self.now_us += STEP_US;
        }

        /// `client` acts, then both play a few quiet ticks (the input delay).
        fn act(&mut self, client: u32, action: Action) {
            let mut action = Some(action);
            for _ in 0..4 {
                let inputs = [1u32, 2].map(|c| {
                    let tick = self.client_ticks[c as usize];
                    self.client_ticks[c as usize] += 1;
                    let mut message = input(c, tick, if c == client { action.take() } else { None });
                    if let ZoneInput::Input { received_us, .. } = &mut message {
                        *received_us = self.now_us;
                    }
                    message
                });
                self.step(inputs);
            }
        }

        fn confirm(&mut self, key: IdempotencyKey, outcome: PersistenceOutcome) {
            self.step([ZoneInput::PersistenceConfirmed { key, outcome }]);
        }

        fn entity(&self, client: u32) -> u32 {
            self.zone.client_entity(ClientId(client)).unwrap()
        }

        fn inventory(&self, client: u32, item: u32) -> Option<u32> {
            self.zone.inventory(ClientId(client)).unwrap().get(&item).copied()
        }

        fn said(&self, client: u32, event: ClientEvent) -> bool {
            self.events.iter().any(|(c, e)| *c == ClientId(client) && *e == event)
        }

        fn take_trade_key(&mut self) -> IdempotencyKey {
            let keys: Vec<IdempotencyKey> = self
                .persistence
                .drain(..)
                .filter_map(|event| match event {
                    PersistenceEvent::Trade { key, .. } => Some(key),
                    _ => None,
                })
                .collect();
            assert!(!keys.is_empty(), "no trade reached persistence");
            assert!(keys.windows(2).all(|pair| pair[0] == pair[1]), "retries keep the key");
            keys[0]
        }
    }

    #[test]
    fn a_trade_is_pending_until_committed_and_refused_to_both_with_a_reason() {
        let mut scene = Scene::new();
        let (a, b) = (scene.entity(1), scene.entity(2));
        scene
            .zone
            .clients
            .get_mut(&ClientId(1))
            .unwrap()
            .inventory
            .insert(42, 3);
        scene.zone.clients.get_mut(&ClientId(2)).unwrap().inventory.insert(7, 1);

        scene.act(
            1,
            Action::TradeOffer {
                target: b,
                give_item: 42,
                want_item: 7,
            },
        );
        assert!(scene.said(
            2,
            ClientEvent::TradeOffered {
                from_entity: a,
                give_item: 42,
                want_item: 7
            }
        ));
        scene.act(2, Action::TradeAccept { from: a });
        match scene.persistence.first() {
            Some(PersistenceEvent::Trade {
                a_item: 42,
                b_item: 7,
                a_character_id: 10,
                b_character_id: 20,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        // Nothing moves before the commit, and another trade of either player is refused as busy.
        assert_eq!(scene.inventory(1, 42), Some(3));
        scene.act(
            1,
            Action::TradeOffer {
                target: b,
                give_item: 42,
                want_item: 0,
            },
        );
        scene.act(2, Action::TradeAccept { from: a });
        assert!(scene.said(
            2,
            ClientEvent::TradeRefused {
                with_entity: a,
                reason: TradeRefusal::Busy
            }
        ));
        assert!(scene.said(
            1,
            ClientEvent::TradeRefused {
                with_entity: b,
                reason: TradeRefusal::Busy
            }
        ));
        let key = scene.take_trade_key();

        scene.confirm(key, PersistenceOutcome::Committed);
        assert_eq!((scene.inventory(1, 42), scene.inventory(1, 7)), (None, Some(1)));
        assert_eq!((scene.inventory(2, 42), scene.inventory(2, 7)), (Some(3), None));
        assert!(scene.said(
            1,
            ClientEvent::TradeCompleted {
                with_entity: b,
                gave_item: 42,
                got_item: 7
            }
        ));
        assert!(scene.said(
            2,
            ClientEvent::TradeCompleted {
                with_entity: a,
                gave_item: 7,
                got_item: 42
            }
        ));
        // Each side's view saw two committed changes (one holding out, one in).
        assert_eq!(scene.zone.inventory_version(ClientId(1)), Some(2));
        assert_eq!(scene.zone.inventory_version(ClientId(2)), Some(2));
        // A repeated answer changes nothing.
        scene.confirm(key, PersistenceOutcome::Committed);
        assert_eq!(scene.inventory(2, 42), Some(3));
        assert_eq!(scene.zone.inventory_version(ClientId(2)), Some(2));
        assert_eq!(scene.zone.counters().trades_committed, 1);

        // Back the other way, with the database unreachable: both told why, nothing moves.
        scene.events.clear();
        scene.act(
            2,
            Action::TradeOffer {
                target: a,
                give_item: 42,
                want_item: 0,
            },
        );
        scene.act(1, Action::TradeAccept { from: b });
        let key = scene.take_trade_key();
        scene.confirm(key, PersistenceOutcome::Unavailable);
        let unavailable = TradeRefusal::PersistenceUnavailable;
        assert!(scene.said(
            1,
            ClientEvent::TradeRefused {
                with_entity: b,
                reason: unavailable
            }
        ));
        assert!(scene.said(
            2,
            ClientEvent::TradeRefused {
                with_entity: a,
                reason: unavailable
            }
        ));
        assert_eq!(scene.inventory(2, 42), Some(3));

        // Offering what one does not hold, nothing for nothing, or accepting no offer: refused.
        scene.events.clear();
        scene.act(
            1,
            Action::TradeOffer {
                target: b,
                give_item: 99,
                want_item: 0,
            },
        );
        scene.act(
            1,
            Action::TradeOffer {
                target: b,
                give_item: 0,
                want_item: 0,
            },
        );
        assert!(scene.said(
            1,
            ClientEvent::TradeRefused {
                with_entity: b,
                reason: TradeRefusal::ItemsMissing
            }
        ));
        scene.act(1, Action::TradeAccept { from: b });
        assert!(scene.said(
            1,
            ClientEvent::TradeRefused {
                with_entity: b,
                reason: TradeRefusal::NotFound
            }
        ));
        assert!(scene.persistence.is_empty());
    }
}
