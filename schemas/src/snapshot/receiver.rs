//! The client side of the codec: one [`SnapshotReceiver`] decodes each snapshot against the baseline
//! it names and keeps the client's world.

use std::collections::BTreeMap;

use super::codec::{read_full_record, read_update_record};
use super::entity::{EntityState, QuantisedState};
use super::history::{SnapshotHistory, SnapshotRecord};
use super::{
    BASELINE_AGE_BITS, DATAGRAM_BYTES_MAX, ENTRY_COUNT_BITS, ENTRY_ID_GAP_ORDER, SNAPSHOT_ENTITIES_MAX, SnapshotError,
    TICK_BITS,
};
use crate::bits::BitReader;

/// Client side.
#[derive(Debug, Default)]
pub struct SnapshotReceiver {
    history: SnapshotHistory,
    world: BTreeMap<u32, EntityState>,
    latest_tick: Option<u32>,
    scratch: Vec<(u32, QuantisedState)>,
}

impl SnapshotReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one snapshot payload and applies it. Total: bad bytes give `Err` and change nothing.
    /// A snapshot older than the newest one applied is decoded and remembered (the server may delta
    /// against it) but does not change [`Self::world`].
    pub fn apply(&mut self, payload: &[u8]) -> Result<u32, SnapshotError> {
        let tick = decode_snapshot(&self.history, payload, &mut self.scratch)?;
        let stored = self.history.store(tick, &self.scratch);
        if stored && self.latest_tick.is_none_or(|latest| tick > latest) {
            self.latest_tick = Some(tick);
            // Update the map in place (entities that left go, the rest are overwritten, new ones
            // inserted) rather than rebuilding it: most entities persist from tick to tick, and
            // rebuilding freed and reallocated every node of the map per snapshot, which was a
            // fifth of a bot swarm's CPU. `scratch` is sorted by id.
            // Both are sorted by id, so one pass over the map with a cursor into `scratch` updates
            // the survivors and drops the rest; only ids the map lacked are inserted afterwards.
            let scratch = &self.scratch;
            let (mut cursor, mut updated) = (0, 0);
            self.world.retain(|id, slot| {
                while scratch.get(cursor).is_some_and(|(entity, _)| entity < id) {
                    cursor += 1;
                }
                match scratch.get(cursor) {
                    Some((entity, state)) if entity == id => {
                        *slot = state.to_state(*id);
                        updated += 1;
                        true
                    }
                    _ => false,
                }
            });
            if updated < scratch.len() {
                for (id, state) in scratch {
                    self.world.entry(*id).or_insert_with(|| state.to_state(*id));
                }
            }
            debug_assert_eq!(self.world.len(), scratch.len());
        }
        Ok(tick)
    }

    /// The client's world as of [`Self::latest_tick`], dequantised.
    pub fn world(&self) -> &BTreeMap<u32, EntityState> {
        &self.world
    }

    /// Tick of the newest snapshot applied (what the client acks).
    pub fn latest_tick(&self) -> Option<u32> {
        self.latest_tick
    }
}

/// Decodes `payload` against `history` into `world` (sorted by id). Returns the snapshot's tick.
fn decode_snapshot(
    history: &SnapshotHistory,
    payload: &[u8],
    world: &mut Vec<(u32, QuantisedState)>,
) -> Result<u32, SnapshotError> {
    if payload.len() > DATAGRAM_BYTES_MAX {
        return Err(SnapshotError::PayloadTooLarge { bytes: payload.len() });
    }
    world.clear();
    let mut reader = BitReader::new(payload);
    let tick = reader.read_bits(TICK_BITS)? as u32;
    let empty = SnapshotRecord::default();
    let (baseline, baseline_age) = if reader.read_bool()? {
        let age = reader.read_bits(BASELINE_AGE_BITS)? as u32 + 1;
        let baseline_tick = tick
            .checked_sub(age)
            .ok_or(SnapshotError::BaselineBeforeTickZero { tick, age })?;
        let baseline = history
            .find(baseline_tick)
            .ok_or(SnapshotError::BaselineUnknown { tick, baseline_tick })?;
        (baseline, age)
    } else {
        (&empty, 0)
    };
    debug_assert!(baseline.entities.len() <= SNAPSHOT_ENTITIES_MAX);
    for (id, previous) in &baseline.entities {
        if !reader.read_bool()? {
            world.push((*id, *previous));
        } else if !reader.read_bool()? {
            world.push((*id, read_update_record(&mut reader, *id, previous, baseline_age)?));
        } else if !reader.read_bool()? {
            // removed
        } else {
            world.push((*id, read_full_record(&mut reader)?));
        }
    }
    let entry_count = reader.read_bits(ENTRY_COUNT_BITS)? as usize;
    let entities = world.len() + entry_count;
    if entities > SNAPSHOT_ENTITIES_MAX {
        return Err(SnapshotError::TooManyEntities { entities });
    }
    let baseline_part = world.len();
    let mut previous_id: Option<u32> = None;
    for _ in 0..entry_count {
        let gap = reader.read_exp_golomb(ENTRY_ID_GAP_ORDER)?;
        let id = match previous_id {
            None => u32::try_from(gap).map_err(|_| SnapshotError::EntityIdOverflow { previous_id: 0 })?,
            Some(previous) => u64::from(previous)
                .checked_add(gap + 1)
                .and_then(|id| u32::try_from(id).ok())
                .ok_or(SnapshotError::EntityIdOverflow { previous_id: previous })?,
        };
        if baseline.find(id).is_some() {
            return Err(SnapshotError::EntryInBaseline { id });
        }
        world.push((id, read_full_record(&mut reader)?));
        previous_id = Some(id);
    }
    reader.finish()?;
    if baseline_part > 0 && entry_count > 0 {
        world.sort_unstable_by_key(|(id, _)| *id);
    }
    debug_assert!(world.windows(2).all(|pair| pair[0].0 < pair[1].0));
    Ok(tick)
}
