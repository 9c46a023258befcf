//! Snapshot building: once per tick call, every client's view is ranked and encoded into its byte
//! budget (see `crate::replication`).

use super::components::{Body, NetId};
use super::{ClientId, SnapshotDatagram, Zone, ZoneOutput};

impl Zone {
    /// The entities in a client's area of interest right now (its cell and the cells within the AOI
    /// radius, nearest `visible_entities_max` kept), computed by a direct scan of the world: an
    /// independent check on what replication sends. O(entities); for tests and tools.
    pub fn area_of_interest(&self, client: ClientId) -> Vec<u32> {
        let Some(session) = self.clients.get(&client) else {
            return Vec::new();
        };
        let Some(center) = self.position(session.net_id) else {
            return Vec::new();
        };
        let grid = self.replicator.grid();
        let center_cell = grid.cell_of(center[0], center[1]);
        let mut inside: Vec<(f32, u32)> = Vec::new();
        for (net_id, body) in self.world.query::<(&NetId, &Body)>().iter() {
            let cell = grid.cell_of(body.position_m[0], body.position_m[1]);
            if crate::grid::InterestGrid::in_area(center_cell, self.config.aoi_radius_cells, cell) {
                let dx = body.position_m[0] - center[0];
                let dy = body.position_m[1] - center[1];
                inside.push((dx * dx + dy * dy, net_id.0));
            }
        }
        let cap = self.shedding.visible_entities_max(self.config.visible_entities_max);
        inside.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        inside.truncate(cap);
        let mut ids: Vec<u32> = inside.into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        ids
    }

    /// Datagrams go out in client order, but clients are encoded in interest-grid order: clients
    /// with overlapping views run back to back and find the entity rows and shared update records
    /// they need still in cache. Each client's bytes do not depend on the order.
    pub(super) fn replicate(&mut self, out: &mut ZoneOutput) {
        let tick = self.tick;
        let snapshot_tick = tick as u32;
        self.replicator.build_table(&self.world, &self.ghosts);
        let first = out.snapshots.len();
        self.replication_order.clear();
        let mut sessions = Vec::with_capacity(self.clients.len());
        for (client, session) in self.clients.iter_mut() {
            if !self.shedding.sends_to(tick, client.0) {
                self.counters.snapshots_skipped_shedding += 1;
                continue;
            }
            let bytes = out.take_buffer();
            let key = self.replicator.view_order_key(session.net_id);
            self.replication_order.push((key, sessions.len() as u32));
            out.snapshots.push(SnapshotDatagram {
                client: *client,
                tick: snapshot_tick,
                last_input_tick: session.inputs.last_passed_tick(),
                bytes,
            });
            sessions.push(session);
        }
        self.replication_order.sort_unstable();
        for &(_, index) in &self.replication_order {
            let session = &mut sessions[index as usize];
            self.replicator.encode_for(
                &self.config,
                &self.shedding,
                session.net_id,
                &mut session.view,
                snapshot_tick,
                &mut out.snapshots[first + index as usize].bytes,
                &mut self.counters,
            );
        }
    }
}
