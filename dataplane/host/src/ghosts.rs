//! Ghosts between neighbouring zones: after every tick each hosted zone exports the entities within
//! `ghost_margin_m` of each neighbour's rectangle (`Zone::export_ghosts`); a neighbour on this host
//! gets them directly, one on another host through a bounded per-tick batch the caller carries
//! ([`SessionHost::poll_ghost_batch`] → [`SessionHost::accept_ghosts`]). A zone shows the ghosts it
//! was given on its next tick (one tick behind their owner), under the owner's entity ids. A player
//! frozen in a handoff ticket is shown as a ghost of its old zone while in transit, so observers
//! there do not see it vanish for the tick the ticket takes.

use std::collections::{BTreeMap, VecDeque};

use meridian_proto::snapshot::EntityState;

use crate::SessionHost;

/// Ghost batches kept for the caller between polls; past it the newest are dropped and counted.
pub const GHOST_BATCHES_MAX: usize = 256;
/// A neighbour's ghosts not refreshed for this many ticks are dropped (it stopped or moved).
const GHOSTS_STALE_TICKS: u64 = 3;

/// One tick of one zone's ghosts for one neighbour on another host.
#[derive(Clone, Debug, PartialEq)]
pub struct GhostBatch {
    pub from_zone_id: u32,
    pub to_zone_id: u32,
    pub tick: u64,
    pub ghosts: Vec<EntityState>,
}

#[derive(Default)]
pub(crate) struct Ghosts {
    margin_m: Option<f32>,
    /// (to zone, from zone) → (tick, ghosts).
    received: BTreeMap<(u32, u32), (u64, Vec<EntityState>)>,
    outbox: VecDeque<GhostBatch>,
    scratch: Vec<EntityState>,
}

impl SessionHost {
    /// Shows every hosted zone's neighbours' entities within `margin_m` of the common border (the
    /// world layout says who neighbours whom). Needs the layout.
    pub fn set_ghost_margin(&mut self, margin_m: f32) {
        self.ghosts.margin_m = (margin_m.is_finite() && margin_m > 0.0).then_some(margin_m);
    }

    /// The next batch of ghosts for a zone on another host; keep polling until `None`.
    pub fn poll_ghost_batch(&mut self) -> Option<GhostBatch> {
        self.ghosts.outbox.pop_front()
    }

    /// Ghosts from another host's zone for a zone of this one, shown from its next tick. A batch
    /// older than one already held for that pair is ignored.
    pub fn accept_ghosts(&mut self, batch: GhostBatch) {
        let key = (batch.to_zone_id, batch.from_zone_id);
        if self
            .ghosts
            .received
            .get(&key)
            .is_some_and(|(tick, _)| *tick > batch.tick)
        {
            return;
        }
        self.ghosts.received.insert(key, (batch.tick, batch.ghosts));
        // Shown at once: the batch of the tick just run elsewhere arrives after this host ran its
        // own exchange for it, and must be in this zone's next snapshot.
        if let Some(index) = self.zones.iter().position(|zone| zone.zone_id == batch.to_zone_id) {
            self.show_ghosts(index);
        }
    }

    /// Gives zone `index` (every layer) its neighbours' ghosts plus its own players in transit.
    fn show_ghosts(&mut self, index: usize) {
        let mut shown = std::mem::take(&mut self.ghosts.scratch);
        shown.clear();
        let zone_id = self.zones[index].zone_id;
        for (_, (_, ghosts)) in self.ghosts.received.range((zone_id, 0)..=(zone_id, u32::MAX)) {
            shown.extend_from_slice(ghosts);
        }
        shown.extend(self.in_transit_ghosts(zone_id));
        for layer in 0..self.zones[index].layers.layers().len() {
            if let Some(zone) = self.zones[index].layers.layer_mut(layer) {
                self.counters.ghosts_dropped += zone.set_ghosts(&shown) as u64;
            }
        }
        self.ghosts.scratch = shown;
    }

    /// After a tick: exports each zone's border entities to its neighbours and gives every zone the
    /// ghosts it has for its next tick.
    pub(crate) fn exchange_ghosts(&mut self) {
        let (Some(margin_m), Some(layout)) = (self.ghosts.margin_m, self.layout.as_ref()) else {
            return;
        };
        let tick = self
            .zones
            .iter()
            .filter_map(|zone| zone.layers.layers().first())
            .map(|layer| layer.current_tick())
            .max()
            .unwrap_or(0);
        for from in 0..self.zones.len() {
            let from_zone_id = self.zones[from].zone_id;
            let Some(from_rect) = layout.rect_of(from_zone_id) else {
                continue;
            };
            for &to_zone_id in layout.zone_ids() {
                let Some(to_rect) = layout.rect_of(to_zone_id).filter(|_| to_zone_id != from_zone_id) else {
                    continue;
                };
                // Neighbours: rectangles that touch (share an edge or a corner).
                let touches = (0..2).all(|axis| {
                    from_rect.min_m[axis] <= to_rect.max_m[axis] && to_rect.min_m[axis] <= from_rect.max_m[axis]
                });
                if !touches {
                    continue;
                }
                let mut ghosts = std::mem::take(&mut self.ghosts.scratch);
                ghosts.clear();
                for layer in self.zones[from].layers.layers() {
                    layer.export_ghosts(&to_rect, margin_m, &mut ghosts);
                }
                if self.zones.iter().any(|zone| zone.zone_id == to_zone_id) {
                    let entry = self.ghosts.received.entry((to_zone_id, from_zone_id)).or_default();
                    entry.0 = tick;
                    entry.1.clear();
                    entry.1.extend_from_slice(&ghosts);
                } else if self.ghosts.outbox.len() >= GHOST_BATCHES_MAX {
                    self.counters.ghost_batches_dropped += 1;
                } else {
                    self.ghosts.outbox.push_back(GhostBatch {
                        from_zone_id,
                        to_zone_id,
                        tick,
                        ghosts: ghosts.clone(),
                    });
                }
                self.ghosts.scratch = ghosts;
            }
        }
        self.ghosts
            .received
            .retain(|_, (received_tick, _)| received_tick.saturating_add(GHOSTS_STALE_TICKS) >= tick);
        // Each zone's ghosts: its neighbours', plus its own players in transit (shown until the
        // new zone has them).
        for index in 0..self.zones.len() {
            self.show_ghosts(index);
        }
    }
}
