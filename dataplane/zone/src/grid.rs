//! The uniform 2D interest grid. Rebuilt every tick from the entity table (O(entities)), then each
//! client reads only the cells around it, so a client's cost grows with what it can see rather than
//! with the zone's population.

use crate::config::{AOI_RADIUS_CELLS_MAX, ENTITIES_PER_ZONE_MAX, GRID_CELLS_PER_AXIS_MAX};

/// Slack (metres) around a cell's edges in the distance bounds of `area_by_distance`: covers the
/// rounding in `cell_of`'s division, so a position is always within its cell's slackened edges.
const BOUND_SLACK_M: f32 = 0.05;

/// A cell coordinate on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub x: u32,
    pub y: u32,
}

/// Dense grid of cells over the zone; each cell lists the indices (into the caller's per-tick entity
/// table) of the entities standing in it.
#[derive(Debug, Clone)]
pub struct InterestGrid {
    cell_m: f32,
    cells_x: u32,
    cells_y: u32,
    cells: Vec<Vec<u32>>,
    len: usize,
}

impl InterestGrid {
    pub fn new(cell_m: f32, cells: [u32; 2]) -> Self {
        assert!(cell_m.is_finite() && cell_m > 0.0);
        assert!(cells[0] > 0 && cells[0] <= GRID_CELLS_PER_AXIS_MAX);
        assert!(cells[1] > 0 && cells[1] <= GRID_CELLS_PER_AXIS_MAX);
        let count = cells[0] as usize * cells[1] as usize;
        Self {
            cell_m,
            cells_x: cells[0],
            cells_y: cells[1],
            cells: vec![Vec::new(); count],
            len: 0,
        }
    }

    pub fn cell_m(&self) -> f32 {
        self.cell_m
    }

    /// The cell holding a ground position; positions outside the grid clamp to the edge cells.
    pub fn cell_of(&self, x_m: f32, y_m: f32) -> Cell {
        let cx = (x_m / self.cell_m).floor();
        let cy = (y_m / self.cell_m).floor();
        // `as` saturates (NaN -> 0), then clamp into the grid.
        Cell {
            x: (cx.max(0.0) as u32).min(self.cells_x - 1),
            y: (cy.max(0.0) as u32).min(self.cells_y - 1),
        }
    }

    /// Empties every cell, keeping their allocations for the next rebuild.
    pub fn clear(&mut self) {
        for cell in &mut self.cells {
            cell.clear();
        }
        self.len = 0;
    }

    pub fn insert(&mut self, index: u32, x_m: f32, y_m: f32) {
        debug_assert!(self.len < ENTITIES_PER_ZONE_MAX);
        let cell = self.cell_of(x_m, y_m);
        let slot = cell.y as usize * self.cells_x as usize + cell.x as usize;
        self.cells[slot].push(index);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Is `cell` within `radius` cells (Chebyshev) of `center`? This is the AOI membership rule.
    pub fn in_area(center: Cell, radius: u32, cell: Cell) -> bool {
        center.x.abs_diff(cell.x) <= radius && center.y.abs_diff(cell.y) <= radius
    }

    /// Calls `visit` for every cell within `radius` of `center`, nearest ring first, with the ring
    /// number (0 = own cell) and the indices in that cell.
    pub fn for_each_in_area(&self, center: Cell, radius: u32, mut visit: impl FnMut(u32, &[u32])) {
        self.for_each_cell_in_area(center, radius, |ring, _, _, slot| {
            visit(ring, &self.cells[slot as usize])
        });
    }

    /// The cells of `for_each_in_area` as `(bound, ring, slot)`, nearest first: `bound` is the bits
    /// of a lower bound on `dx * dx + dy * dy` (in f32, from `point`) for every position stored in
    /// the cell, so a caller that already holds enough nearer entities can skip the cell. Edge
    /// cells, which also hold the clamped positions outside the grid, are unbounded outward. Read
    /// a cell's indices with [`Self::cell_indices`].
    pub fn area_by_distance(&self, center: Cell, radius: u32, point: [f32; 2], out: &mut Vec<(u32, u32, u32)>) {
        out.clear();
        self.for_each_cell_in_area(center, radius, |ring, x, y, slot| {
            let gap_x = self.axis_gap(x, self.cells_x, point[0]);
            let gap_y = self.axis_gap(y, self.cells_y, point[1]);
            let bound = gap_x * gap_x + gap_y * gap_y;
            // Non-negative (or NaN, from a NaN point: then no cell is ever skipped as too far,
            // since 0 is used instead).
            let bound = if bound >= 0.0 { bound } else { 0.0 };
            out.push((bound.to_bits(), ring, slot));
        });
        out.sort_unstable();
    }

    /// The indices stored in the cell `slot` from [`Self::area_by_distance`].
    pub fn cell_indices(&self, slot: u32) -> &[u32] {
        &self.cells[slot as usize]
    }

    /// How far `point` is from the cell's slackened span on one axis (0 inside). Rounding is
    /// monotonic, so for any stored coordinate `p` in the cell, `|p - point|` as computed in f32 is
    /// at least this.
    fn axis_gap(&self, cell: u32, cells: u32, point: f32) -> f32 {
        let low = if cell == 0 {
            f32::NEG_INFINITY
        } else {
            cell as f32 * self.cell_m - BOUND_SLACK_M
        };
        let high = if cell + 1 == cells {
            f32::INFINITY
        } else {
            (cell + 1) as f32 * self.cell_m + BOUND_SLACK_M
        };
        if point < low {
            low - point
        } else if point > high {
            point - high
        } else {
            0.0
        }
    }

    fn for_each_cell_in_area(&self, center: Cell, radius: u32, mut visit: impl FnMut(u32, u32, u32, u32)) {
        assert!(radius <= AOI_RADIUS_CELLS_MAX);
        for ring in 0..=radius {
            let x0 = center.x.saturating_sub(ring);
            let x1 = (center.x + ring).min(self.cells_x - 1);
            let y0 = center.y.saturating_sub(ring);
            let y1 = (center.y + ring).min(self.cells_y - 1);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let on_ring = center.x.abs_diff(x) == ring || center.y.abs_diff(y) == ring;
                    if !on_ring {
                        continue;
                    }
                    visit(ring, x, y, y * self.cells_x + x);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_of_clamps_outside_positions() {
        let grid = InterestGrid::new(32.0, [4, 4]);
        assert_eq!(grid.cell_of(0.0, 0.0), Cell { x: 0, y: 0 });
        assert_eq!(grid.cell_of(33.0, 65.0), Cell { x: 1, y: 2 });
        assert_eq!(grid.cell_of(-5.0, 500.0), Cell { x: 0, y: 3 });
        assert_eq!(grid.cell_of(f32::NAN, f32::INFINITY), Cell { x: 0, y: 3 });
    }

    #[test]
    fn area_visits_each_cell_once_nearest_ring_first() {
        let mut grid = InterestGrid::new(10.0, [10, 10]);
        // One entity per cell, index = y * 10 + x.
        for y in 0..10u32 {
            for x in 0..10u32 {
                grid.insert(y * 10 + x, x as f32 * 10.0 + 5.0, y as f32 * 10.0 + 5.0);
            }
        }
        assert_eq!(grid.len(), 100);
        let center = Cell { x: 5, y: 5 };
        let mut seen = Vec::new();
        let mut rings = Vec::new();
        grid.for_each_in_area(center, 2, |ring, indices| {
            rings.push(ring);
            seen.extend_from_slice(indices);
        });
        assert_eq!(seen.len(), 25);
        assert!(rings.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen[0], 55);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 25);
        for index in seen {
            let cell = Cell {
                x: index % 10,
                y: index / 10,
            };
            assert!(InterestGrid::in_area(center, 2, cell));
        }
    }

    /// Each cell's bound is at most the computed distance of everything in it (clamped positions
    /// outside the grid and positions on cell edges included), cells come nearest first, and the
    /// cells are exactly those of `for_each_in_area`.
    #[test]
    fn area_bounds_are_below_every_stored_distance() {
        let mut grid = InterestGrid::new(10.0, [6, 6]);
        let positions = [
            (-3.0, 4.0),
            (9.999, 10.0),
            (10.0, 19.99),
            (35.0, 35.0),
            (59.9, 80.0),
            (25.0, 5.0),
            (0.0, 0.0),
            (20.0, 20.0),
            (19.999_998, 30.000_002),
        ];
        for (index, &(x, y)) in positions.iter().enumerate() {
            grid.insert(index as u32, x, y);
        }
        let mut cells = Vec::new();
        for point in [
            [12.0, 12.0],
            [0.5, 59.0],
            [30.0, 30.0],
            [-4.0, 3.0],
            [20.0, 20.0],
            [19.99, 40.01],
        ] {
            let center = grid.cell_of(point[0], point[1]);
            grid.area_by_distance(center, 2, point, &mut cells);
            assert!(cells.windows(2).all(|pair| pair[0].0 <= pair[1].0));
            let mut visited = Vec::new();
            for &(bound, _, slot) in &cells {
                for &index in grid.cell_indices(slot) {
                    let (x, y) = positions[index as usize];
                    let (dx, dy) = (x - point[0], y - point[1]);
                    assert!(
                        (dx * dx + dy * dy).to_bits() >= bound,
                        "{index} from {point:?} under its bound {}",
                        f32::from_bits(bound)
                    );
                    visited.push(index);
                }
            }
            let mut expected = Vec::new();
            grid.for_each_in_area(center, 2, |_, indices| expected.extend_from_slice(indices));
            visited.sort_unstable();
            expected.sort_unstable();
            assert_eq!(visited, expected);
        }
    }

    #[test]
    fn area_at_the_corner_is_cut_by_the_edge() {
        let mut grid = InterestGrid::new(10.0, [3, 3]);
        grid.insert(7, 1.0, 1.0);
        grid.insert(8, 25.0, 25.0);
        let mut seen = Vec::new();
        grid.for_each_in_area(Cell { x: 0, y: 0 }, 1, |_, indices| seen.extend_from_slice(indices));
        assert_eq!(seen, vec![7]);
        grid.clear();
        assert!(grid.is_empty());
    }
}
