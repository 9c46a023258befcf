//! Replication: per client, per tick, the entities in its area of interest are ranked (distance,
//! time since last sent, importance) and handed to the protocol crate's encoder, which fills the
//! client's byte budget best-first with deltas against the last snapshot that client acknowledged.
//!
//! Cost per client is the entities in its (2r+1)^2 cells plus, only when the budget cannot take
//! them all, a sort of at most `SNAPSHOT_ENTITIES_MAX` of them: it grows with what the client can
//! see, not with the zone. Entity states are quantised once per tick for all clients, and update
//! records are shared between clients that acked the same tick.

use meridian_proto::snapshot::{
    DeltaCache, EntityKind, EntityState, QuantisedEntity, SNAPSHOT_ENTITIES_MAX, SnapshotSender,
};
use rustc_hash::FxHashMap;

use crate::config::ZoneConfig;
use crate::grid::InterestGrid;
use crate::shedding::LoadShedding;
use crate::zone::{ActorKind, Body, FLAG_DEAD, FLAG_LOOT_CLAIMED, Kind, LootDrop, NetId, Vitals, ZoneCounters};

/// Staleness (ticks since last sent) stops growing here, so a never-sent entity is not infinitely urgent.
pub const STALENESS_TICKS_CAP: u32 = 32;
/// Importance weights. The client's own entity always goes first (it reconciles prediction with it).
pub const IMPORTANCE_SELF: f32 = 1.0e6;
pub const IMPORTANCE_PLAYER: f32 = 4.0;
pub const IMPORTANCE_NPC: f32 = 3.0;
pub const IMPORTANCE_LOOT: f32 = 2.0;

/// What the server remembers about one client's view: the codec's sender (baseline, history) and the
/// entities the encoder left out for the budget, with the tick each was first left out (the
/// staleness term of the priority: time since last sent). Everything else was sent last tick, so its
/// staleness is zero and costs no lookup; the map is empty whenever the budget fits everything.
#[derive(Debug, Default)]
pub(crate) struct ClientView {
    sender: SnapshotSender,
    starved_since_tick: FxHashMap<u32, u32>,
}

impl ClientView {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_ack(&mut self, tick: u32) {
        self.sender.on_ack(tick);
    }
}

/// Per-tick replication state shared by all clients of a zone: the entity table (states quantised
/// once per tick into codec form), the interest grid over it, the update records clients share
/// (`DeltaCache`: most clients acked the same recent tick, so they need the same bits for an
/// entity), and scratch buffers reused across clients and ticks.
#[derive(Debug)]
pub(crate) struct Replicator {
    grid: InterestGrid,
    table: Vec<QuantisedEntity>,
    delta_cache: DeltaCache,
    /// Ground position and id by row, packed for the AOI scan (no trip to `table`).
    ground_m: Vec<([f32; 2], u32)>,
    importance: Vec<f32>,
    row_by_id: FxHashMap<u32, u32>,
    /// (distance key, row, ring): the key is the squared distance's bits (monotonic for
    /// non-negative floats) above the entity id, so one integer compare orders by distance then id.
    near: Vec<(u64, u32, u32)>,
    /// The viewer's area as (distance bound, ring, cell), nearest first.
    area_cells: Vec<(u32, u32, u32)>,
    /// (rank key, row): the key is the priority's bits inverted (priorities are positive, so the
    /// highest sorts first) above the id, so ties break by id with one integer compare. Left
    /// unsorted: the encoder sorts it only when the order decides what fits.
    ranked: Vec<(u64, u32)>,
    left_out: Vec<u32>,
}

impl Replicator {
    pub fn new(config: &ZoneConfig) -> Self {
        Self {
            grid: InterestGrid::new(config.aoi_cell_m, config.grid_cells()),
            table: Vec::new(),
            delta_cache: DeltaCache::new(),
            ground_m: Vec::new(),
            importance: Vec::new(),
            row_by_id: FxHashMap::default(),
            near: Vec::new(),
            area_cells: Vec::new(),
            ranked: Vec::with_capacity(SNAPSHOT_ENTITIES_MAX),
            left_out: Vec::with_capacity(SNAPSHOT_ENTITIES_MAX),
        }
    }

    pub fn grid(&self) -> &InterestGrid {
        &self.grid
    }

    /// Rebuilds the entity table and the grid from the world: O(entities), once per tick.
    pub fn build_table(&mut self, world: &hecs::World, ghosts: &[EntityState]) {
        self.table.clear();
        self.ground_m.clear();
        self.importance.clear();
        self.row_by_id.clear();
        self.grid.clear();
        let mut query = world.query::<(&NetId, &Kind, &Body, Option<&Vitals>, Option<&LootDrop>)>();
        for (net_id, kind, body, vitals, loot) in query.iter() {
            let row = self.table.len() as u32;
            let (codec_kind, importance) = match kind.0 {
                ActorKind::Player => (EntityKind::Player, IMPORTANCE_PLAYER),
                ActorKind::Npc => (EntityKind::Npc, IMPORTANCE_NPC),
                ActorKind::Loot => (EntityKind::Loot, IMPORTANCE_LOOT),
            };
            let mut flags = 0;
            if vitals.is_some_and(|vitals| vitals.dead_until_tick.is_some()) {
                flags |= FLAG_DEAD;
            }
            if loot.is_some_and(|loot| loot.claimed) {
                flags |= FLAG_LOOT_CLAIMED;
            }
            self.table.push(QuantisedEntity::new(&EntityState {
                id: net_id.0,
                kind: codec_kind,
                position: body.position_m,
                yaw: body.yaw,
                velocity: body.velocity_m_per_s,
                health: vitals.map_or(0, |vitals| vitals.health),
                flags,
            }));
            self.importance.push(importance);
            self.ground_m.push(([body.position_m[0], body.position_m[1]], net_id.0));
            self.row_by_id.insert(net_id.0, row);
            self.grid.insert(row, body.position_m[0], body.position_m[1]);
        }
        // Read-only copies of a neighbouring zone's entities near the border, under their owner's
        // ids: ranked and sent like local ones (an id also present here is the local entity's).
        for ghost in ghosts {
            if self.row_by_id.contains_key(&ghost.id) {
                continue;
            }
            let row = self.table.len() as u32;
            self.table.push(QuantisedEntity::new(ghost));
            self.importance.push(match ghost.kind {
                EntityKind::Player => IMPORTANCE_PLAYER,
                EntityKind::Npc => IMPORTANCE_NPC,
                EntityKind::Loot => IMPORTANCE_LOOT,
            });
            self.ground_m.push(([ghost.position[0], ghost.position[1]], ghost.id));
            self.row_by_id.insert(ghost.id, row);
            self.grid.insert(row, ghost.position[0], ghost.position[1]);
        }
        self.delta_cache.begin(self.table.len());
    }

    /// Where the viewer stands in the interest grid, as a sort key (cell row, then column; viewers
    /// without an entity sort last). Encoding clients in this order runs overlapping views back to
    /// back, so the entity rows and shared update records they need are still in cache.
    pub fn view_order_key(&self, viewer: u32) -> u64 {
        match self.row_by_id.get(&viewer) {
            Some(&row) => {
                let ([x, y], _) = self.ground_m[row as usize];
                let cell = self.grid.cell_of(x, y);
                u64::from(cell.y) << 32 | u64::from(cell.x)
            }
            None => u64::MAX,
        }
    }

    /// Ranks the viewer's area of interest and encodes its snapshot for `tick` into `bytes`.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_for(
        &mut self,
        config: &ZoneConfig,
        shedding: &LoadShedding,
        viewer: u32,
        view: &mut ClientView,
        tick: u32,
        bytes: &mut Vec<u8>,
        counters: &mut ZoneCounters,
    ) {
        self.near.clear();
        self.ranked.clear();
        if let Some(&viewer_row) = self.row_by_id.get(&viewer) {
            let (center, _) = self.ground_m[viewer_row as usize];
            let cell = self.grid.cell_of(center[0], center[1]);
            // A crowd: keep the nearest `cap` (keys are unique: ties by id, so the choice is
            // deterministic and stable). Cells go nearest first; once `cap` entities are held, a
            // cell whose distance bound is past the farthest of them is skipped and only nearer
            // entities are taken, so the scan and the selection stay near `cap` in a crowd.
            let cap = shedding
                .visible_entities_max(config.visible_entities_max)
                .min(SNAPSHOT_ENTITIES_MAX);
            self.grid
                .area_by_distance(cell, config.aoi_radius_cells, center, &mut self.area_cells);
            let mut in_area = 0usize;
            let mut farthest_kept = u64::MAX;
            for &(bound, ring, slot) in &self.area_cells {
                let rows = self.grid.cell_indices(slot);
                in_area += rows.len();
                if u64::from(bound) << 32 >= farthest_kept {
                    continue;
                }
                for &row in rows {
                    let (position, id) = self.ground_m[row as usize];
                    let dx = position[0] - center[0];
                    let dy = position[1] - center[1];
                    let key = u64::from((dx * dx + dy * dy).to_bits()) << 32 | u64::from(id);
                    if key < farthest_kept {
                        self.near.push((key, row, ring));
                    }
                }
                if self.near.len() > cap {
                    self.near.select_nth_unstable_by_key(cap - 1, |entry| entry.0);
                    self.near.truncate(cap);
                    farthest_kept = self.near[cap - 1].0;
                }
            }
            debug_assert!(self.near.len() <= cap);
            if in_area > cap {
                counters.aoi_overflow_entities += (in_area - cap) as u64;
            }
        }
        debug_assert!(self.near.len() <= SNAPSHOT_ENTITIES_MAX);
        let budget = shedding.budget_bytes(config.snapshot_budget_bytes);
        // Most views fit the budget whole, and then the order does not matter: try that first with
        // unranked rows, and only rank (priorities: a square root and divisions per entity) a view
        // the budget cuts. `encode_ranked` sorts `ranked` only if the order decides what fits.
        self.ranked.extend(self.near.iter().map(|&(_, row, _)| (0, row)));
        let whole = view
            .sender
            .encode_whole(tick, &self.table, &self.ranked, &mut self.delta_cache, budget, bytes);
        let report = match whole {
            Some(report) => report,
            None => {
                let far_divisor = shedding.far_priority_divisor();
                for (&(key, row, ring), ranked) in self.near.iter().zip(&mut self.ranked) {
                    let distance_sq = f32::from_bits((key >> 32) as u32);
                    let id = self.ground_m[row as usize].1;
                    let importance = if id == viewer {
                        IMPORTANCE_SELF
                    } else {
                        self.importance[row as usize]
                    };
                    let staleness = if view.starved_since_tick.is_empty() {
                        0
                    } else {
                        view.starved_since_tick.get(&id).map_or(0, |&since| {
                            tick.wrapping_sub(since).saturating_add(1).min(STALENESS_TICKS_CAP)
                        })
                    };
                    let nearness = 1.0 / (1.0 + distance_sq.sqrt() / config.aoi_cell_m);
                    let mut priority = importance * (1 + staleness) as f32 * nearness;
                    if ring > 0 {
                        priority /= far_divisor;
                    }
                    debug_assert!(priority.is_finite() && priority >= 0.0);
                    *ranked = (u64::from(!priority.to_bits()) << 32 | u64::from(id), row);
                }
                view.sender.encode_ranked(
                    tick,
                    &self.table,
                    &mut self.ranked,
                    &mut self.delta_cache,
                    budget,
                    bytes,
                )
            }
        };

        // Starved = left out this tick; keep the tick each was first left out.
        let left_out = view.sender.left_out_ids();
        if !view.starved_since_tick.is_empty() || !left_out.is_empty() {
            self.left_out.clear();
            self.left_out.extend_from_slice(left_out);
            self.left_out.sort_unstable();
            let still_starved = &self.left_out;
            view.starved_since_tick
                .retain(|id, _| still_starved.binary_search(id).is_ok());
            for &id in still_starved {
                view.starved_since_tick.entry(id).or_insert(tick);
            }
        }
        debug_assert!(view.starved_since_tick.len() <= SNAPSHOT_ENTITIES_MAX);

        counters.snapshots_sent += 1;
        counters.snapshot_bytes += report.bytes as u64;
        counters.snapshot_entities_sent += report.entities_sent as u64;
        counters.snapshot_entities_left_out += report.entities_left_out as u64;
        counters.snapshot_removals_sent += report.removals_sent as u64;
        counters.snapshot_removals_left_out += report.removals_left_out as u64;
    }
}

#[cfg(test)]
mod tests {
    use meridian_proto::snapshot::SnapshotReceiver;

    use crate::config::ZoneConfig;
    use crate::zone::{ClientId, Zone, ZoneInput, ZoneOutput};

    #[test]
    fn a_crowd_too_big_for_one_datagram_arrives_over_a_few_ticks_best_first() {
        let mut zone = Zone::new(ZoneConfig::default(), 0, 1, 0).unwrap();
        for index in 0..100 {
            let (dx, dy) = ((index % 10) as f32 * 2.0, (index / 10) as f32 * 2.0);
            zone.spawn_npc([490.0 + dx, 490.0 + dy, 0.0], 1).unwrap();
        }
        // NPCs wander; freeze them by giving them no room to go (they stay near home anyway).
        let mut receiver = SnapshotReceiver::new();
        let mut out = ZoneOutput::default();
        let join = ZoneInput::Join {
            client: ClientId(1),
            character_id: 1,
            party: None,
            spawn_m: Some([500.0, 500.0, 0.0]),
            rtt_us: 0,
            entity: None,
        };
        let mut inputs = vec![join];
        let mut first_sizes = Vec::new();
        for step in 1..=30u64 {
            zone.tick(step * 50_000, None, inputs.drain(..), &mut out);
            let snapshot = &out.snapshots[0];
            assert!(snapshot.bytes.len() <= 1200);
            let tick = receiver.apply(&snapshot.bytes).unwrap();
            if step == 1 {
                // The viewer's own entity is always first in line.
                assert!(receiver.world().contains_key(&zone.client_entity(ClientId(1)).unwrap()));
            }
            first_sizes.push(receiver.world().len());
            inputs.push(ZoneInput::SnapshotAck {
                client: ClientId(1),
                tick,
            });
        }
        assert!(
            first_sizes[0] < 101,
            "the first datagram cannot hold 101 full records: {first_sizes:?}"
        );
        assert_eq!(*first_sizes.last().unwrap(), 101, "{first_sizes:?}");
        assert!(zone.counters().snapshot_entities_left_out > 0);
    }
}
