//! The world layout: zones tile one seamless world as a grid of rectangles in world coordinates.
//!
//! Every zone simulates in world coordinates (the snapshot codec's frame), so a position means the
//! same thing in every zone and nothing is translated when a player crosses a border: the zone's
//! `world_size_m` is the whole world's extent, movement is clamped to the world, and a player may
//! stand a few metres past its zone's rectangle until the host hands it to the neighbour. The
//! layout says which zone owns which rectangle and when a position is far enough into a neighbour's
//! rectangle to hand the player over (`handoff_margin_m`, the hysteresis: a player walking along a
//! border inside the margin stays where it is, so it does not flap between two zones).

use thiserror::Error;

/// Most zones one layout tiles (columns × rows).
pub const LAYOUT_ZONES_MAX: usize = 4096;

/// A rectangle on the ground plane, `[min_m, max_m)` on x and y, world coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneRect {
    pub min_m: [f32; 2],
    pub max_m: [f32; 2],
}

impl ZoneRect {
    pub fn contains(&self, position_m: [f32; 3]) -> bool {
        (0..2).all(|axis| position_m[axis] >= self.min_m[axis] && position_m[axis] < self.max_m[axis])
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayoutError {
    #[error("a layout needs at least one column and one row, and at most {LAYOUT_ZONES_MAX} zones")]
    Shape,
    #[error("origin, zone size and handoff margin must be finite; sizes positive, origin and margin not negative")]
    Geometry,
    #[error("{zone_ids} zone ids for {cells} cells")]
    ZoneIds { zone_ids: usize, cells: usize },
    #[error("zone {zone_id} owns two cells")]
    DuplicateZone { zone_id: u32 },
    #[error("handoff margin {margin_m} m must be under half a zone's side ({half_side_m} m)")]
    Margin { margin_m: f32, half_side_m: f32 },
}

/// Zones tiling a world as `columns × rows` rectangles of `zone_size_m` from `origin_m`; cell
/// `(column, row)` is zone `zone_ids[row * columns + column]`. The world spans `[0, origin + extent)`
/// on each axis (the codec's and the movement rules' frame starts at 0); positions outside the grid
/// belong to the nearest cell.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldLayout {
    origin_m: [f32; 2],
    zone_size_m: [f32; 2],
    columns: u32,
    rows: u32,
    zone_ids: Vec<u32>,
    handoff_margin_m: f32,
}

impl WorldLayout {
    pub fn new(
        origin_m: [f32; 2],
        zone_size_m: [f32; 2],
        columns: u32,
        rows: u32,
        zone_ids: Vec<u32>,
        handoff_margin_m: f32,
    ) -> Result<Self, LayoutError> {
        let cells = columns as usize * rows as usize;
        if columns == 0 || rows == 0 || cells > LAYOUT_ZONES_MAX {
            return Err(LayoutError::Shape);
        }
        let finite = origin_m
            .iter()
            .chain(&zone_size_m)
            .chain([&handoff_margin_m])
            .all(|v| v.is_finite());
        if !finite
            || origin_m.iter().any(|v| *v < 0.0)
            || zone_size_m.iter().any(|v| *v <= 0.0)
            || handoff_margin_m < 0.0
        {
            return Err(LayoutError::Geometry);
        }
        if zone_ids.len() != cells {
            return Err(LayoutError::ZoneIds {
                zone_ids: zone_ids.len(),
                cells,
            });
        }
        for (index, zone_id) in zone_ids.iter().enumerate() {
            if zone_ids[..index].contains(zone_id) {
                return Err(LayoutError::DuplicateZone { zone_id: *zone_id });
            }
        }
        // With a margin of half a side or more, a player in the middle of a zone could be "inside
        // the neighbour by the margin" from both sides at once: no dead band is left.
        let half_side_m = zone_size_m[0].min(zone_size_m[1]) / 2.0;
        if handoff_margin_m >= half_side_m {
            return Err(LayoutError::Margin {
                margin_m: handoff_margin_m,
                half_side_m,
            });
        }
        Ok(Self {
            origin_m,
            zone_size_m,
            columns,
            rows,
            zone_ids,
            handoff_margin_m,
        })
    }

    pub fn zone_ids(&self) -> &[u32] {
        &self.zone_ids
    }

    pub fn handoff_margin_m(&self) -> f32 {
        self.handoff_margin_m
    }

    /// The world's extent, what every zone's `ZoneConfig::world_size_m` must be.
    pub fn world_size_m(&self) -> [f32; 2] {
        [
            self.origin_m[0] + self.zone_size_m[0] * self.columns as f32,
            self.origin_m[1] + self.zone_size_m[1] * self.rows as f32,
        ]
    }

    fn cell_at(&self, position_m: [f32; 3]) -> (u32, u32) {
        let index = |axis: usize, count: u32| {
            let cell = ((position_m[axis] - self.origin_m[axis]) / self.zone_size_m[axis]).floor();
            // `as` saturates (NaN -> 0); then clamp into the grid.
            (cell.max(0.0) as u32).min(count - 1)
        };
        (index(0, self.columns), index(1, self.rows))
    }

    /// The zone owning a position (the nearest cell's for one outside the grid).
    pub fn zone_at(&self, position_m: [f32; 3]) -> u32 {
        let (column, row) = self.cell_at(position_m);
        self.zone_ids[(row * self.columns + column) as usize]
    }

    /// The rectangle of zone `zone_id`, if the layout has it.
    pub fn rect_of(&self, zone_id: u32) -> Option<ZoneRect> {
        let index = self.zone_ids.iter().position(|id| *id == zone_id)? as u32;
        let (column, row) = (index % self.columns, index / self.columns);
        let min_m = [
            self.origin_m[0] + self.zone_size_m[0] * column as f32,
            self.origin_m[1] + self.zone_size_m[1] * row as f32,
        ];
        Some(ZoneRect {
            min_m,
            max_m: [min_m[0] + self.zone_size_m[0], min_m[1] + self.zone_size_m[1]],
        })
    }

    /// The zone a player of `current` standing at `position_m` is to be handed to: the zone owning
    /// the position, once the position is more than `handoff_margin_m` inside that zone's rectangle
    /// across every border it shares with another zone (the world's outer edge needs no margin:
    /// nothing lies beyond it to flap with). `None`: stay.
    pub fn handoff_target(&self, current: u32, position_m: [f32; 3]) -> Option<u32> {
        let target = self.zone_at(position_m);
        if target == current {
            return None;
        }
        let (column, row) = self.cell_at(position_m);
        let rect = self.rect_of(target)?;
        let margin = self.handoff_margin_m;
        let cells = [(column, self.columns), (row, self.rows)];
        for (axis, (cell, count)) in cells.into_iter().enumerate() {
            let at = position_m[axis];
            if cell > 0 && at - rect.min_m[axis] <= margin {
                return None;
            }
            if cell + 1 < count && rect.max_m[axis] - at <= margin {
                return None;
            }
        }
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_by_one() -> WorldLayout {
        WorldLayout::new([0.0, 0.0], [256.0, 256.0], 2, 1, vec![1, 2], 4.0).unwrap()
    }

    #[test]
    fn positions_map_to_their_cells_and_outside_clamps() {
        let layout = WorldLayout::new([0.0, 0.0], [100.0, 50.0], 3, 2, vec![10, 11, 12, 20, 21, 22], 4.0).unwrap();
        assert_eq!(layout.world_size_m(), [300.0, 100.0]);
        assert_eq!(layout.zone_at([5.0, 5.0, 0.0]), 10);
        assert_eq!(layout.zone_at([150.0, 75.0, 0.0]), 21);
        assert_eq!(layout.zone_at([299.9, 99.9, 0.0]), 22);
        assert_eq!(layout.zone_at([-10.0, 500.0, 0.0]), 20, "outside: the nearest cell");
        assert_eq!(
            layout.rect_of(21),
            Some(ZoneRect {
                min_m: [100.0, 50.0],
                max_m: [200.0, 100.0]
            })
        );
        assert!(layout.rect_of(21).unwrap().contains([100.0, 50.0, 3.0]));
        assert!(!layout.rect_of(21).unwrap().contains([200.0, 50.0, 3.0]));
        assert_eq!(layout.rect_of(99), None);
    }

    #[test]
    fn a_handoff_needs_the_margin_past_the_border_and_walking_along_it_does_not_flap() {
        let layout = two_by_one();
        // Zone 1 owns x < 256. Inside the margin on either side: nobody moves.
        assert_eq!(layout.handoff_target(1, [259.0, 100.0, 0.0]), None);
        assert_eq!(layout.handoff_target(2, [253.0, 100.0, 0.0]), None);
        assert_eq!(layout.handoff_target(1, [260.5, 100.0, 0.0]), Some(2));
        assert_eq!(layout.handoff_target(2, [251.5, 100.0, 0.0]), Some(1));
        // Walking along the border, wobbling ±3.9 m across it, for its whole length.
        let mut zone = 1;
        for step in 0..2560 {
            let wobble = if step % 2 == 0 { 3.9 } else { -3.9 };
            let position = [256.0 + wobble, step as f32 * 0.1, 0.0];
            if let Some(target) = layout.handoff_target(zone, position) {
                zone = target;
            }
        }
        assert_eq!(zone, 1, "never handed off");
        // The world's outer edge needs no margin (y = 0 and y = 255.9 are not borders here).
        assert_eq!(layout.handoff_target(1, [300.0, 0.0, 0.0]), Some(2));
        assert_eq!(layout.handoff_target(1, [300.0, 255.9, 0.0]), Some(2));
    }

    #[test]
    fn corners_hand_off_only_past_both_margins() {
        let layout = WorldLayout::new([0.0, 0.0], [100.0, 100.0], 2, 2, vec![1, 2, 3, 4], 4.0).unwrap();
        assert_eq!(
            layout.handoff_target(1, [110.0, 102.0, 0.0]),
            None,
            "2 m into zone 4's y"
        );
        assert_eq!(layout.handoff_target(1, [110.0, 110.0, 0.0]), Some(4));
        assert_eq!(layout.handoff_target(1, [110.0, 90.0, 0.0]), Some(2));
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert_eq!(
            WorldLayout::new([0.0, 0.0], [100.0, 100.0], 0, 1, vec![], 4.0),
            Err(LayoutError::Shape)
        );
        assert_eq!(
            WorldLayout::new([0.0, 0.0], [100.0, 100.0], 2, 1, vec![1], 4.0),
            Err(LayoutError::ZoneIds { zone_ids: 1, cells: 2 })
        );
        assert_eq!(
            WorldLayout::new([0.0, 0.0], [100.0, 100.0], 2, 1, vec![1, 1], 4.0),
            Err(LayoutError::DuplicateZone { zone_id: 1 })
        );
        assert!(matches!(
            WorldLayout::new([0.0, 0.0], [100.0, 100.0], 2, 1, vec![1, 2], 50.0),
            Err(LayoutError::Margin { .. })
        ));
        assert_eq!(
            WorldLayout::new([f32::NAN, 0.0], [100.0, 100.0], 2, 1, vec![1, 2], 4.0),
            Err(LayoutError::Geometry)
        );
    }
}
