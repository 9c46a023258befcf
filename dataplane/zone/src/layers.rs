//! Layering: a zone past its population limit opens another instance (a *layer*) of itself for new
//! arrivals. A party always lands in the layer where its members already are, using the layer's
//! party overflow slots if it is at its limit.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::config::{ConfigError, ZoneConfig};
use crate::zone::{AdmitRefusal, ClientId, FreezeRefusal, PartyId, PlayerHandoff, Zone, ZoneInput, ZoneOutput};

/// Most layers one zone may open.
pub const LAYERS_MAX: usize = 64;
/// Inputs one layer queues between two ticks (inputs, acks, RTT reports: a few per player per tick
/// in steady play). Past it inputs are refused; joins and leaves are not (each client has one of each,
/// so they are bounded by the population).
pub const LAYER_INPUTS_PER_TICK_MAX: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LayerError {
    #[error("all {LAYERS_MAX} layers are full")]
    LayersFull,
    #[error("client {0:?} is already placed")]
    AlreadyPlaced(ClientId),
    #[error("the party's layer has no overflow slot left")]
    PartyLayerFull,
}

/// Why `ZoneLayers::route` refused an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RouteError {
    #[error("client {0:?} is in no layer")]
    NotPlaced(ClientId),
    #[error("the layer already holds {LAYER_INPUTS_PER_TICK_MAX} inputs for its next tick")]
    QueueFull,
    #[error("no layer {0}")]
    NoLayer(usize),
}

/// A handed-off player a zone could not admit, given back whole so the host can return it to the
/// zone it came from.
#[derive(Debug)]
pub struct RefusedHandoff {
    pub handoff: PlayerHandoff,
    /// The inputs routed to it since its old layer's last tick.
    pub carried: Vec<ZoneInput>,
    pub refusal: AdmitRefusal,
}

/// All layers of one zone, and which client is in which.
pub struct ZoneLayers {
    config: ZoneConfig,
    epoch: u64,
    /// The time of the latest `tick` (or creation): a new layer starts its clock here.
    now_us: u64,
    layers: Vec<Zone>,
    placement: BTreeMap<ClientId, usize>,
    /// Joins admitted but not yet handed to a layer's `tick`; counted against its population.
    pending_joins: Vec<usize>,
    inputs: Vec<Vec<ZoneInput>>,
}

impl ZoneLayers {
    pub fn new(config: ZoneConfig, epoch: u64, now_us: u64) -> Result<Self, ConfigError> {
        let first = Zone::new(config.clone(), 0, epoch, now_us)?;
        Ok(Self {
            config,
            epoch,
            now_us,
            layers: vec![first],
            placement: BTreeMap::new(),
            pending_joins: vec![0],
            inputs: vec![Vec::new()],
        })
    }

    pub fn layers(&self) -> &[Zone] {
        &self.layers
    }

    pub fn layer_mut(&mut self, layer: usize) -> Option<&mut Zone> {
        self.layers.get_mut(layer)
    }

    pub fn layer_of(&self, client: ClientId) -> Option<usize> {
        self.placement.get(&client).copied()
    }

    fn population(&self, layer: usize) -> usize {
        self.layers[layer].player_count() + self.pending_joins[layer]
    }

    fn party_layer(&self, party: PartyId) -> Option<usize> {
        // Members already in a layer, or admitted this tick.
        (0..self.layers.len())
            .find(|&layer| self.layers[layer].has_party(party))
            .or_else(|| {
                self.inputs.iter().position(|inputs| {
                    inputs
                        .iter()
                        .any(|input| matches!(input, ZoneInput::Join { party: Some(p), .. } if *p == party))
                })
            })
    }

    /// Chooses a layer for an arrival and queues its join there. Returns the layer index.
    pub fn admit(
        &mut self,
        client: ClientId,
        character_id: u64,
        party: Option<PartyId>,
        spawn_m: Option<[f32; 3]>,
        rtt_us: u64,
    ) -> Result<usize, LayerError> {
        self.admit_keeping(client, character_id, party, spawn_m, rtt_us, None)
    }

    /// [`Self::admit`], keeping entity id `entity` when it is free in the chosen layer (a session
    /// resumed after a failover).
    pub fn admit_keeping(
        &mut self,
        client: ClientId,
        character_id: u64,
        party: Option<PartyId>,
        spawn_m: Option<[f32; 3]>,
        rtt_us: u64,
        entity: Option<u32>,
    ) -> Result<usize, LayerError> {
        if self.placement.contains_key(&client) {
            return Err(LayerError::AlreadyPlaced(client));
        }
        let limit = self.config.players_per_layer_max;
        let layer = match party.and_then(|party| self.party_layer(party)) {
            Some(layer) => {
                if self.population(layer) >= limit + self.config.party_overflow_slots {
                    return Err(LayerError::PartyLayerFull);
                }
                layer
            }
            None => match (0..self.layers.len()).find(|&layer| self.population(layer) < limit) {
                Some(layer) => layer,
                None => self.open_layer()?,
            },
        };
        self.placement.insert(client, layer);
        self.pending_joins[layer] += 1;
        self.inputs[layer].push(ZoneInput::Join {
            client,
            character_id,
            party,
            spawn_m,
            rtt_us,
            entity,
        });
        Ok(layer)
    }

    fn open_layer(&mut self) -> Result<usize, LayerError> {
        if self.layers.len() >= LAYERS_MAX {
            return Err(LayerError::LayersFull);
        }
        let layer = self.layers.len();
        // The new layer's tick 0 is now: it has no past to catch up on.
        let zone = Zone::new(self.config.clone(), layer as u32, self.epoch, self.now_us)
            .expect("config was validated when the first layer was built");
        self.layers.push(zone);
        self.pending_joins.push(0);
        self.inputs.push(Vec::new());
        Ok(layer)
    }

    /// Routes an input to the client's layer. Inputs from unplaced clients are refused, and so are
    /// inputs past `LAYER_INPUTS_PER_TICK_MAX` (a leave never is).
    pub fn route(&mut self, client: ClientId, input: ZoneInput) -> Result<(), RouteError> {
        let &layer = self.placement.get(&client).ok_or(RouteError::NotPlaced(client))?;
        if matches!(input, ZoneInput::Leave { .. }) {
            self.placement.remove(&client);
        } else if self.inputs[layer].len() >= LAYER_INPUTS_PER_TICK_MAX {
            return Err(RouteError::QueueFull);
        }
        self.inputs[layer].push(input);
        Ok(())
    }

    /// Queues a control input (a persistence answer) for layer `layer`'s next tick. Such inputs get
    /// room beyond the clients' (`PENDING_CLAIMS_MAX` more: each answers a claim the layer made), so
    /// a burst of client inputs never crowds out an answer.
    pub fn route_control(&mut self, layer: usize, input: ZoneInput) -> Result<(), RouteError> {
        let inputs = self.inputs.get_mut(layer).ok_or(RouteError::NoLayer(layer))?;
        if inputs.len() >= LAYER_INPUTS_PER_TICK_MAX + crate::zone::PENDING_CLAIMS_MAX {
            return Err(RouteError::QueueFull);
        }
        inputs.push(input);
        Ok(())
    }

    /// Freezes `client` at this tick boundary for a handoff to another zone: its player leaves its
    /// layer, and the inputs routed to it since the layer's last tick come along (in order) for the
    /// new zone. Refused while its player is not yet in its layer (admitted this tick), is dead, or
    /// awaits persistence; nothing changes then.
    pub fn freeze(&mut self, client: ClientId) -> Result<(PlayerHandoff, Vec<ZoneInput>), FreezeRefusal> {
        let &layer = self.placement.get(&client).ok_or(FreezeRefusal::UnknownClient)?;
        let handoff = self.layers[layer].freeze_player(client)?;
        self.placement.remove(&client);
        let mut carried = Vec::new();
        self.inputs[layer].retain(|input| {
            let own = input_client(input) == Some(client);
            if own {
                carried.push(input.clone());
            }
            !own
        });
        Ok((handoff, carried))
    }

    /// Admits a frozen player (from [`Self::freeze`] of another zone) into a layer with room, its
    /// party's if one is here, then queues its carried inputs there. Returns (layer, entity id).
    pub fn admit_frozen(
        &mut self,
        handoff: PlayerHandoff,
        carried: Vec<ZoneInput>,
    ) -> Result<(usize, u32), Box<RefusedHandoff>> {
        let client = handoff.client;
        if self.placement.contains_key(&client) {
            return Err(Box::new(RefusedHandoff {
                handoff,
                carried,
                refusal: AdmitRefusal::AlreadyJoined,
            }));
        }
        let limit = self.config.players_per_layer_max;
        let layer = match handoff.party.and_then(|party| self.party_layer(party)) {
            Some(layer) => layer,
            None => match (0..self.layers.len()).find(|&layer| self.population(layer) < limit) {
                Some(layer) => layer,
                None => match self.open_layer() {
                    Ok(layer) => layer,
                    Err(_) => {
                        return Err(Box::new(RefusedHandoff {
                            handoff,
                            carried,
                            refusal: AdmitRefusal::ZoneFull,
                        }));
                    }
                },
            },
        };
        let entity = match self.layers[layer].admit_player(handoff.clone()) {
            Ok(entity) => entity,
            Err(refusal) => {
                return Err(Box::new(RefusedHandoff {
                    handoff,
                    carried,
                    refusal,
                }));
            }
        };
        self.placement.insert(client, layer);
        // Carried inputs were within the old layer's bound; they may pass this one's by a few.
        self.inputs[layer].extend(carried);
        Ok((layer, entity))
    }

    /// Ticks every layer; `outputs[i]` receives layer i's output (resized as layers open).
    pub fn tick(&mut self, now_us: u64, last_tick_work_us: Option<u64>, outputs: &mut Vec<ZoneOutput>) {
        self.now_us = now_us;
        outputs.resize_with(self.layers.len(), ZoneOutput::default);
        for (layer, zone) in self.layers.iter_mut().enumerate() {
            zone.tick(
                now_us,
                last_tick_work_us,
                self.inputs[layer].drain(..),
                &mut outputs[layer],
            );
            self.pending_joins[layer] = 0;
        }
    }
}

/// The client an input is for (`None`: a control input such as a persistence answer).
fn input_client(input: &ZoneInput) -> Option<ClientId> {
    match input {
        ZoneInput::Join { client, .. }
        | ZoneInput::Leave { client }
        | ZoneInput::Input { client, .. }
        | ZoneInput::SnapshotAck { client, .. }
        | ZoneInput::Rtt { client, .. } => Some(*client),
        ZoneInput::PersistenceConfirmed { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_config() -> ZoneConfig {
        ZoneConfig {
            players_per_layer_max: 3,
            party_overflow_slots: 2,
            ..ZoneConfig::default()
        }
    }

    #[test]
    fn arrivals_past_the_limit_open_a_new_layer() {
        let mut layers = ZoneLayers::new(small_config(), 1, 0).unwrap();
        let placed: Vec<usize> = (0..7)
            .map(|id| layers.admit(ClientId(id), u64::from(id), None, None, 0).unwrap())
            .collect();
        assert_eq!(placed, vec![0, 0, 0, 1, 1, 1, 2]);
        let mut outputs = Vec::new();
        layers.tick(50_000, None, &mut outputs);
        assert_eq!(layers.layers().len(), 3);
        assert_eq!(layers.layers()[0].player_count(), 3);
        assert_eq!(layers.layers()[2].player_count(), 1);
        assert_eq!(outputs.len(), 3);
    }

    #[test]
    fn parties_stay_together_past_the_limit() {
        let mut layers = ZoneLayers::new(small_config(), 1, 0).unwrap();
        let party = PartyId(9);
        assert_eq!(layers.admit(ClientId(1), 1, Some(party), None, 0), Ok(0));
        assert_eq!(layers.admit(ClientId(2), 2, None, None, 0), Ok(0));
        assert_eq!(layers.admit(ClientId(3), 3, None, None, 0), Ok(0));
        let mut outputs = Vec::new();
        layers.tick(50_000, None, &mut outputs);
        // Layer 0 is at its limit: a stranger goes to a new layer, party members follow into layer 0.
        assert_eq!(layers.admit(ClientId(4), 4, None, None, 0), Ok(1));
        assert_eq!(layers.admit(ClientId(5), 5, Some(party), None, 0), Ok(0));
        assert_eq!(layers.admit(ClientId(6), 6, Some(party), None, 0), Ok(0));
        assert_eq!(
            layers.admit(ClientId(7), 7, Some(party), None, 0),
            Err(LayerError::PartyLayerFull)
        );
        layers.tick(100_000, None, &mut outputs);
        assert_eq!(layers.layers()[0].player_count(), 5);
        // Layer 1 opened at 50 ms, so by 100 ms it has run one step (not two from time zero).
        assert_eq!(layers.layers()[1].current_tick(), 1);
        assert!(layers.layers()[0].has_party(party));
        assert!(!layers.layers()[1].has_party(party));
    }

    #[test]
    fn a_new_party_forming_in_one_tick_lands_together() {
        let mut layers = ZoneLayers::new(small_config(), 1, 0).unwrap();
        for id in 0..3 {
            layers.admit(ClientId(id), u64::from(id), None, None, 0).unwrap();
        }
        let party = PartyId(4);
        assert_eq!(layers.admit(ClientId(10), 10, Some(party), None, 0), Ok(1));
        for id in 11..14 {
            assert_eq!(layers.admit(ClientId(id), u64::from(id), Some(party), None, 0), Ok(1));
        }
    }

    #[test]
    fn leave_frees_the_slot_and_unplaced_inputs_are_refused() {
        let mut layers = ZoneLayers::new(small_config(), 1, 0).unwrap();
        layers.admit(ClientId(1), 1, None, None, 0).unwrap();
        let mut outputs = Vec::new();
        layers.tick(50_000, None, &mut outputs);
        assert_eq!(
            layers.route(ClientId(1), ZoneInput::Leave { client: ClientId(1) }),
            Ok(())
        );
        layers.tick(100_000, None, &mut outputs);
        assert_eq!(layers.layers()[0].player_count(), 0);
        assert_eq!(layers.layer_of(ClientId(1)), None);
        assert_eq!(
            layers.route(ClientId(1), ZoneInput::Leave { client: ClientId(1) }),
            Err(RouteError::NotPlaced(ClientId(1)))
        );
    }

    #[test]
    fn inputs_past_the_bound_are_refused_but_a_leave_is_not() {
        let mut layers = ZoneLayers::new(small_config(), 1, 0).unwrap();
        layers.admit(ClientId(1), 1, None, None, 0).unwrap();
        let ack = ZoneInput::SnapshotAck {
            client: ClientId(1),
            tick: 0,
        };
        // The join itself is queued too.
        for _ in 1..LAYER_INPUTS_PER_TICK_MAX {
            assert_eq!(layers.route(ClientId(1), ack.clone()), Ok(()));
        }
        assert_eq!(layers.route(ClientId(1), ack), Err(RouteError::QueueFull));
        assert_eq!(
            layers.route(ClientId(1), ZoneInput::Leave { client: ClientId(1) }),
            Ok(())
        );
        let mut outputs = Vec::new();
        layers.tick(50_000, None, &mut outputs);
        assert_eq!(layers.layers()[0].player_count(), 0, "the leave was applied");
    }
}
