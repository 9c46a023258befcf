//! Update records shared between the clients' encodes of one tick.

use super::codec::update_run;
use super::entity::QuantisedState;
use crate::bits::BitRun;

/// Update records shared by all clients' encodes over one table of [`QuantisedEntity`](super::QuantisedEntity) rows.
///
/// An update record is a pure function of the entity's current state, the client's baseline state
/// of it and the baseline's age. In steady state most clients acked the same recent tick, so they
/// need the same record for an entity: the first encode that needs it builds it, the others copy its
/// bits. One slot per row remembers the last record built (keyed by age and baseline state, checked
/// in full), so a hit always gives exactly the bits the encoder would have built.
#[derive(Debug, Default)]
pub struct DeltaCache {
    /// Bumped by `begin`; slots of an older epoch are empty.
    epoch: u32,
    slots: Vec<DeltaSlot>,
}

#[derive(Clone, Copy, Debug)]
struct DeltaSlot {
    epoch: u32,
    age_ticks: u32,
    baseline: QuantisedState,
    /// Change code and update record, ready to copy.
    run: BitRun,
}

impl DeltaCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every record: call whenever the table the rows index changes (once per tick).
    pub fn begin(&mut self, rows: usize) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: old slots could alias the new epoch, so clear them for real.
            self.slots.clear();
            self.epoch = 1;
        }
        if self.slots.len() < rows {
            self.slots.resize(
                rows,
                DeltaSlot {
                    epoch: 0,
                    age_ticks: 0,
                    baseline: QuantisedState::ZERO,
                    run: BitRun::new(),
                },
            );
        }
    }

    /// The change code and update record for `row` (current state `current`) against `baseline`
    /// at `age_ticks`; `fields` is `update_fields(baseline, current)`, non-zero.
    pub(super) fn update_run(
        &mut self,
        row: u32,
        baseline: &QuantisedState,
        current: &QuantisedState,
        age_ticks: u32,
        fields: u64,
    ) -> BitRun {
        let epoch = self.epoch;
        let Some(slot) = self.slots.get_mut(row as usize) else {
            return update_run(baseline, current, age_ticks, fields);
        };
        if slot.epoch == epoch && slot.age_ticks == age_ticks && slot.baseline == *baseline {
            return slot.run;
        }
        let run = update_run(baseline, current, age_ticks, fields);
        *slot = DeltaSlot {
            epoch,
            age_ticks,
            baseline: *baseline,
            run,
        };
        run
    }
}
