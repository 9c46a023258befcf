//! Counting decisions into the per-CPU array (no atomics: each CPU owns its copy).

use meridian_edge_common::EdgeCounter;

use crate::maps::EDGE_COUNTERS;

#[inline(always)]
pub fn count(counter: EdgeCounter) {
    if let Some(slot) = EDGE_COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: the pointer is this CPU's value of an existing slot, valid for the program's run;
        // no other CPU touches it and the program is not re-entered on this CPU meanwhile.
        unsafe { *slot += 1 };
    }
}
