//! The snapshots each end remembers, so that any acked one can serve as a baseline.

use super::SNAPSHOT_HISTORY;
use super::entity::QuantisedState;

/// One snapshot as both ends remember it: its tick and the whole world it leaves the client with.
#[derive(Clone, Debug, Default)]
pub(super) struct SnapshotRecord {
    pub(super) tick: u32,
    /// Sorted by id, unique ids, at most `SNAPSHOT_ENTITIES_MAX`.
    pub(super) entities: Vec<(u32, QuantisedState)>,
}

impl SnapshotRecord {
    pub(super) fn find(&self, id: u32) -> Option<usize> {
        self.entities
            .binary_search_by_key(&id, |(entity_id, _)| *entity_id)
            .ok()
    }
}

/// A bounded ring of snapshot records, replaced oldest-tick first.
#[derive(Debug, Default)]
pub(super) struct SnapshotHistory {
    pub(super) records: Vec<SnapshotRecord>,
}

impl SnapshotHistory {
    pub(super) fn find(&self, tick: u32) -> Option<&SnapshotRecord> {
        self.records.iter().find(|record| record.tick == tick)
    }

    pub(super) fn position(&self, tick: u32) -> Option<usize> {
        self.records.iter().position(|record| record.tick == tick)
    }

    /// Like `store`, but moves `entities` in and hands back the replaced record's vector (contents
    /// unspecified) instead of copying.
    pub(super) fn store_swap(&mut self, tick: u32, entities: &mut Vec<(u32, QuantisedState)>) -> bool {
        let Some(slot) = self.slot_for(tick) else {
            return false;
        };
        let record = &mut self.records[slot];
        record.tick = tick;
        std::mem::swap(&mut record.entities, entities);
        true
    }

    /// Stores `tick` with a copy of `entities`; drops the oldest tick when full. A tick older than
    /// everything in a full history is not stored. Returns whether it was stored.
    pub(super) fn store(&mut self, tick: u32, entities: &[(u32, QuantisedState)]) -> bool {
        let Some(slot) = self.slot_for(tick) else {
            return false;
        };
        let record = &mut self.records[slot];
        record.tick = tick;
        record.entities.clear();
        record.entities.extend_from_slice(entities);
        true
    }

    /// The record `tick` goes into: its own, a new one, or the oldest when full (none if `tick` is
    /// older than everything in a full history).
    pub(super) fn slot_for(&mut self, tick: u32) -> Option<usize> {
        debug_assert!(self.records.len() <= SNAPSHOT_HISTORY);
        if let Some(index) = self.position(tick) {
            Some(index)
        } else if self.records.len() < SNAPSHOT_HISTORY {
            self.records.push(SnapshotRecord::default());
            Some(self.records.len() - 1)
        } else {
            let (oldest_index, oldest) = self
                .records
                .iter()
                .enumerate()
                .min_by_key(|(_, record)| record.tick)
                .expect("history is full");
            (oldest.tick <= tick).then_some(oldest_index)
        }
    }
}
