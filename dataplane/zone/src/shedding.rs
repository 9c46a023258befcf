//! Load shedding: the zone reads no clock, so the caller passes how long the previous tick's work
//! took. Over budget, the zone degrades what it sends, far entities first, instead of missing ticks.

/// Highest shedding level.
pub const SHED_LEVEL_MAX: u8 = 3;
/// Calm ticks (work under half the budget) since the last tick over budget before stepping one
/// level down. Ticks between half and the whole budget neither count nor reset the count: a zone
/// whose shed work sits there would otherwise never recover from one transient spike.
pub const CALM_TICKS_TO_RECOVER: u32 = 40;

/// What each level does, cumulatively:
/// 1. far entities (outside the client's own cell) lose priority 4x and the byte budget drops to 3/4;
/// 2. each client tracks only half as many entities (the nearest), so the AOI shrinks from its edge;
/// 3. snapshots go to each client every other tick (staggered across clients).
#[derive(Debug, Clone, Default)]
pub struct LoadShedding {
    level: u8,
    calm_ticks: u32,
}

impl LoadShedding {
    /// Feeds the measured work time of the previous tick. Returns true when the level rose.
    pub fn observe(&mut self, work_us: u64, budget_us: u64) -> bool {
        if work_us > budget_us {
            self.calm_ticks = 0;
            if self.level < SHED_LEVEL_MAX {
                self.level += 1;
                return true;
            }
        } else if work_us < budget_us / 2 {
            self.calm_ticks += 1;
            if self.calm_ticks >= CALM_TICKS_TO_RECOVER && self.level > 0 {
                self.level -= 1;
                self.calm_ticks = 0;
            }
        }
        false
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    /// Divides the priority of entities beyond the client's own cell.
    pub fn far_priority_divisor(&self) -> f32 {
        if self.level >= 1 { 4.0 } else { 1.0 }
    }

    pub fn budget_bytes(&self, configured: usize) -> usize {
        if self.level >= 1 {
            configured * 3 / 4
        } else {
            configured
        }
    }

    pub fn visible_entities_max(&self, configured: usize) -> usize {
        if self.level >= 2 {
            (configured / 2).max(1)
        } else {
            configured
        }
    }

    /// Whether a client gets a snapshot on this tick.
    pub fn sends_to(&self, tick: u64, client_id: u32) -> bool {
        self.level < 3 || (tick + u64::from(client_id)).is_multiple_of(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalates_over_budget_and_recovers_after_calm() {
        let mut shedding = LoadShedding::default();
        assert!(shedding.observe(30_000, 25_000));
        assert!(shedding.observe(30_000, 25_000));
        assert!(shedding.observe(30_000, 25_000));
        assert!(!shedding.observe(30_000, 25_000), "capped at the top level");
        assert_eq!(shedding.level(), SHED_LEVEL_MAX);
        for _ in 0..CALM_TICKS_TO_RECOVER - 1 {
            shedding.observe(1_000, 25_000);
        }
        assert_eq!(shedding.level(), SHED_LEVEL_MAX);
        shedding.observe(1_000, 25_000);
        assert_eq!(shedding.level(), SHED_LEVEL_MAX - 1);
    }

    #[test]
    fn work_between_half_and_the_budget_does_not_block_recovery() {
        let mut shedding = LoadShedding::default();
        shedding.observe(30_000, 25_000);
        assert_eq!(shedding.level(), 1);
        // Calm and middling ticks interleaved: the calm ones still add up.
        for _ in 0..CALM_TICKS_TO_RECOVER {
            shedding.observe(1_000, 25_000);
            shedding.observe(20_000, 25_000);
        }
        assert_eq!(shedding.level(), 0);
        // An over-budget tick does reset the count.
        shedding.observe(30_000, 25_000);
        for _ in 0..CALM_TICKS_TO_RECOVER - 1 {
            shedding.observe(1_000, 25_000);
        }
        shedding.observe(30_000, 25_000);
        assert_eq!(shedding.level(), 2);
    }

    #[test]
    fn levels_degrade_far_first_then_rate() {
        let mut shedding = LoadShedding::default();
        assert_eq!(shedding.budget_bytes(1200), 1200);
        assert!(shedding.sends_to(1, 0));
        shedding.observe(50_000, 25_000);
        assert_eq!(shedding.far_priority_divisor(), 4.0);
        assert_eq!(shedding.budget_bytes(1200), 900);
        assert_eq!(shedding.visible_entities_max(256), 256);
        shedding.observe(50_000, 25_000);
        assert_eq!(shedding.visible_entities_max(256), 128);
        assert!(shedding.sends_to(1, 0));
        shedding.observe(50_000, 25_000);
        assert_eq!((0..4).filter(|tick| shedding.sends_to(*tick, 7)).count(), 2);
    }
}
