//! Client-side prediction and server reconciliation of the local player.
//!
//! Every client tick the player's move intent is applied at once with the zone's own movement step
//! (`meridian_zone::movement::apply_move`, the function the server runs: same speed limit, world
//! bounds and colliders), and remembered with the position it led to. When the server's authoritative
//! position arrives together with the last input tick it had applied, the inputs up to that tick are
//! forgotten, the position is reset to the server's, and the inputs the server has not seen yet are
//! replayed on top of it. The distance between the position shown before and after that is the
//! *correction*; it is zero whenever client and server agree. The last applied input tick comes with
//! every snapshot (`ServerMessage::Snapshot::last_input_tick`); nothing here guesses it.

use std::collections::VecDeque;

use meridian_zone::config::Collider;
use meridian_zone::movement::{MoveRules, apply_move};
use meridian_zone::{MoveIntent, ZoneConfig};

use crate::stats::Histogram;

/// Unacknowledged inputs remembered (3.2 s at 20 Hz). When full, the oldest is dropped and counted:
/// a server that has not answered for that long will be corrected by the next snapshot anyway.
pub const PREDICTION_HISTORY_MAX: usize = 64;
/// Server positions are quantised to 1/64 m per axis (≤ 0.0136 m off in 3-D). After a correction the
/// prediction carries one snapshot's quantisation error and is compared with another's, so two such
/// errors (0.027 m) still count as agreement: closer than this the prediction is kept as is.
pub const CORRECTION_EPSILON_M: f32 = 0.03;
/// Correction distances are recorded in micrometres.
pub const MICROMETRES_PER_M: f32 = 1.0e6;

/// The movement rules of the zone the client is in: what the server's step needs, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct MovementModel {
    pub speed_m_per_s: f32,
    pub dt_s: f32,
    pub world_size_m: [f32; 2],
    pub colliders: Vec<Collider>,
    pub teleport_tolerance_m: f32,
}

impl MovementModel {
    pub fn from_zone(config: &ZoneConfig) -> Self {
        Self {
            speed_m_per_s: config.player_speed_m_per_s,
            dt_s: 1.0 / config.tick_hz as f32,
            world_size_m: config.world_size_m,
            colliders: config.colliders.clone(),
            teleport_tolerance_m: config.teleport_tolerance_m,
        }
    }

    /// One server step: the zone's own `apply_move`, so prediction and server agree by construction.
    pub fn step(&self, from_m: [f32; 3], direction: [f32; 2], yaw: f32) -> [f32; 3] {
        let rules = MoveRules {
            speed_m_per_s: self.speed_m_per_s,
            dt_s: self.dt_s,
            world_size_m: self.world_size_m,
            colliders: &self.colliders,
            teleport_tolerance_m: self.teleport_tolerance_m,
        };
        let intent = MoveIntent {
            direction,
            yaw,
            claimed_position_m: None,
        };
        apply_move(from_m, &intent, &rules).position_m
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct PendingInput {
    tick: u32,
    direction: [f32; 2],
    yaw: f32,
    position_after_m: [f32; 3],
}

/// What one reconciliation did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reconciliation {
    /// The input tick taken as the server's last applied one (`None`: none of ours yet).
    pub acked_tick: Option<u32>,
    /// Inputs replayed on top of the server's position.
    pub replayed: usize,
    /// How far the shown position moved; 0 when below `CORRECTION_EPSILON_M`.
    pub correction_m: f32,
}

/// Correction statistics for one client.
#[derive(Clone, Debug, Default)]
pub struct CorrectionStats {
    pub reconciliations: u64,
    /// Reconciliations that moved the player by at least `CORRECTION_EPSILON_M`.
    pub corrections: u64,
    pub last_correction_m: f32,
    /// Distances of the corrections (not of agreeing reconciliations), micrometres.
    pub distance_um: Histogram,
    /// Inputs forgotten unacknowledged because the history was full.
    pub history_overflows: u64,
}

/// Predicts the local player and reconciles it with the server.
#[derive(Clone, Debug)]
pub struct Predictor {
    model: MovementModel,
    /// Where the player is shown: the server's position plus every unacknowledged input.
    position_m: Option<[f32; 3]>,
    /// The position the last acknowledgement left the player at (before `pending`).
    acked_position_m: Option<[f32; 3]>,
    pending: VecDeque<PendingInput>,
    /// Newest input tick the server has applied; inputs are never replayed twice.
    acked_tick: Option<u32>,
    stats: CorrectionStats,
}

impl Predictor {
    pub fn new(model: MovementModel) -> Self {
        Self {
            model,
            position_m: None,
            acked_position_m: None,
            pending: VecDeque::with_capacity(PREDICTION_HISTORY_MAX),
            acked_tick: None,
            stats: CorrectionStats::default(),
        }
    }

    pub fn model(&self) -> &MovementModel {
        &self.model
    }

    /// Where the local player is shown now (`None` until the server placed it).
    pub fn position_m(&self) -> Option<[f32; 3]> {
        self.position_m
    }

    pub fn stats(&self) -> &CorrectionStats {
        &self.stats
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Places the player where the server says it is and forgets all predictions (join, respawn,
    /// handoff).
    pub fn reset(&mut self, position_m: [f32; 3]) {
        self.position_m = Some(position_m);
        self.acked_position_m = Some(position_m);
        self.pending.clear();
    }

    /// Like `reset`, knowing the server had applied our inputs up to `acked_tick` (`None`: none yet)
    /// when it reported `position_m`; the caller then replays the later ones with `predict`.
    pub fn place(&mut self, position_m: [f32; 3], acked_tick: Option<u32>) {
        self.reset(position_m);
        self.acked_tick = acked_tick;
    }

    /// Applies the input of client tick `tick` locally and returns the intent to send (its claimed
    /// position is the predicted one). Before the player is placed, nothing moves and the claim is
    /// the origin.
    pub fn predict(&mut self, tick: u32, direction: [f32; 2], yaw: f32) -> MoveIntent {
        let Some(from) = self.position_m else {
            return MoveIntent {
                direction,
                yaw,
                claimed_position_m: None,
            };
        };
        debug_assert!(
            self.pending.back().is_none_or(|last| last.tick < tick),
            "client ticks must increase"
        );
        let to = self.model.step(from, direction, yaw);
        if self.pending.len() == PREDICTION_HISTORY_MAX {
            let dropped = self.pending.pop_front().expect("full");
            self.acked_position_m = Some(dropped.position_after_m);
            self.stats.history_overflows += 1;
        }
        self.pending.push_back(PendingInput {
            tick,
            direction,
            yaw,
            position_after_m: to,
        });
        self.position_m = Some(to);
        MoveIntent {
            direction,
            yaw,
            claimed_position_m: Some(to),
        }
    }

    /// Reconciles with the server's position after it applied every input up to `acked_tick`.
    pub fn reconcile(&mut self, server_position_m: [f32; 3], acked_tick: Option<u32>) -> Reconciliation {
        self.stats.reconciliations += 1;
        let Some(shown) = self.position_m else {
            self.reset(server_position_m);
            return Reconciliation {
                acked_tick,
                replayed: 0,
                correction_m: 0.0,
            };
        };
        if let Some(acked) = acked_tick {
            if self.acked_tick.is_some_and(|known| acked < known) {
                // An older snapshot arriving late: the newer one already reconciled.
                return Reconciliation {
                    acked_tick: self.acked_tick,
                    replayed: 0,
                    correction_m: 0.0,
                };
            }
            self.acked_tick = Some(acked);
            while self.pending.front().is_some_and(|input| input.tick <= acked) {
                self.pending.pop_front();
            }
        }
        let mut position = server_position_m;
        for input in self.pending.iter_mut() {
            position = self.model.step(position, input.direction, input.yaw);
            input.position_after_m = position;
        }
        self.acked_position_m = Some(server_position_m);
        let correction_m = distance_m(shown, position);
        let replayed = self.pending.len();
        if correction_m < CORRECTION_EPSILON_M {
            // Agreement up to quantisation: keep the unquantised prediction (and its history).
            self.rebase_pending(shown);
            return Reconciliation {
                acked_tick: self.acked_tick,
                replayed,
                correction_m: 0.0,
            };
        }
        self.position_m = Some(position);
        self.stats.corrections += 1;
        self.stats.last_correction_m = correction_m;
        self.stats.distance_um.record((correction_m * MICROMETRES_PER_M) as u64);
        Reconciliation {
            acked_tick: self.acked_tick,
            replayed,
            correction_m,
        }
    }

    /// After an agreeing reconciliation the replayed positions are within epsilon of the predicted
    /// ones; restore the predicted chain so that quantisation noise never accumulates.
    fn rebase_pending(&mut self, shown: [f32; 3]) {
        let Some(last) = self.pending.back() else { return };
        let offset = [
            shown[0] - last.position_after_m[0],
            shown[1] - last.position_after_m[1],
            shown[2] - last.position_after_m[2],
        ];
        for input in self.pending.iter_mut() {
            for (coordinate, delta) in input.position_after_m.iter_mut().zip(offset) {
                *coordinate += delta;
            }
        }
    }
}

pub fn distance_m(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use meridian_zone::movement::step;

    use super::*;

    fn model() -> MovementModel {
        MovementModel::from_zone(&ZoneConfig::default())
    }

    /// A stand-in server: applies each input with the zone's step and the given rules.
    struct Server {
        model: MovementModel,
        position_m: [f32; 3],
    }

    impl Server {
        fn apply(&mut self, direction: [f32; 2]) {
            let rules = MoveRules {
                speed_m_per_s: self.model.speed_m_per_s,
                dt_s: self.model.dt_s,
                world_size_m: self.model.world_size_m,
                colliders: &self.model.colliders,
                teleport_tolerance_m: self.model.teleport_tolerance_m,
            };
            self.position_m = step(self.position_m, direction, &rules).0;
        }
    }

    fn quantised(position: [f32; 3]) -> [f32; 3] {
        position.map(|v| (v * 64.0).round() / 64.0)
    }

    #[test]
    fn zero_latency_prediction_never_corrects() {
        let spawn = [100.0, 100.0, 0.0];
        let mut predictor = Predictor::new(model());
        predictor.reset(spawn);
        let mut server = Server {
            model: model(),
            position_m: spawn,
        };
        for tick in 0..200u32 {
            let angle = tick as f32 * 0.1;
            let direction = [angle.cos(), angle.sin()];
            let intent = predictor.predict(tick, direction, angle);
            server.apply(direction);
            assert_eq!(
                intent.claimed_position_m,
                Some(server.position_m),
                "prediction is the server's step"
            );
            let result = predictor.reconcile(quantised(server.position_m), Some(tick));
            assert_eq!(result.correction_m, 0.0, "tick {tick}");
            assert_eq!(result.replayed, 0);
        }
        assert_eq!(predictor.stats().corrections, 0);
        assert_eq!(predictor.stats().reconciliations, 200);
        assert_eq!(
            predictor.position_m(),
            Some(server.position_m),
            "quantisation never leaks into the prediction"
        );
    }

    #[test]
    fn latency_with_agreeing_server_replays_without_correction() {
        let spawn = [10.0, 10.0, 0.0];
        let mut predictor = Predictor::new(model());
        predictor.reset(spawn);
        let mut server = Server {
            model: model(),
            position_m: spawn,
        };
        let latency_ticks = 5u32;
        let mut server_positions = Vec::new();
        for tick in 0..100u32 {
            let direction = if (tick / 20) % 2 == 0 { [1.0, 0.0] } else { [0.0, -1.0] };
            predictor.predict(tick, direction, 0.0);
            server.apply(direction);
            server_positions.push(server.position_m);
            if tick >= latency_ticks {
                let acked = tick - latency_ticks;
                let result = predictor.reconcile(quantised(server_positions[acked as usize]), Some(acked));
                assert_eq!(result.correction_m, 0.0);
                assert_eq!(result.replayed, latency_ticks as usize);
            }
        }
        assert_eq!(predictor.stats().corrections, 0);
    }

    #[test]
    fn disagreeing_server_is_corrected_and_converges() {
        // The server has a wall the client does not know about: the client walks through it in its
        // prediction, the server stops the player. Reconciliation must pull the player back, and once
        // the player walks away from the wall the corrections stop.
        let spawn = [50.0, 50.0, 0.0];
        let wall = Collider {
            min_m: [52.0, 0.0],
            max_m: [60.0, 100.0],
        };
        let mut server_model = model();
        server_model.colliders.push(wall);
        let mut predictor = Predictor::new(model());
        predictor.reset(spawn);
        let mut server = Server {
            model: server_model,
            position_m: spawn,
        };
        let latency_ticks = 3u32;
        let mut history = Vec::new();
        let mut corrections_by_tick = Vec::new();
        for tick in 0..80u32 {
            let direction = if tick < 30 { [1.0, 0.0] } else { [-1.0, 0.0] };
            predictor.predict(tick, direction, 0.0);
            server.apply(direction);
            history.push(server.position_m);
            if tick >= latency_ticks {
                let acked = tick - latency_ticks;
                let result = predictor.reconcile(quantised(history[acked as usize]), Some(acked));
                corrections_by_tick.push((tick, result.correction_m));
            }
        }
        assert!(predictor.stats().corrections > 0, "the wall must cause corrections");
        assert!(
            predictor.stats().distance_um.max() > 300_000,
            "at least one step's worth of correction"
        );
        // Converged: no corrections well after turning around, and the prediction is the server's.
        assert!(
            corrections_by_tick
                .iter()
                .filter(|(tick, _)| *tick > 40)
                .all(|(_, c)| *c == 0.0)
        );
        let shown = predictor.position_m().unwrap();
        assert!(
            distance_m(shown, server.position_m) < CORRECTION_EPSILON_M,
            "{shown:?} vs {:?}",
            server.position_m
        );
    }

    #[test]
    fn placing_with_the_applied_tick_ignores_older_acknowledgements() {
        let spawn = [40.0, 40.0, 0.0];
        let mut server = Server {
            model: model(),
            position_m: spawn,
        };
        for _ in 0..=5 {
            server.apply([1.0, 0.0]);
        }
        // The server has applied ticks 0..=5; the client replays 6 and 7 on top of its position.
        let mut predictor = Predictor::new(model());
        predictor.place(quantised(server.position_m), Some(5));
        predictor.predict(6, [1.0, 0.0], 0.0);
        predictor.predict(7, [1.0, 0.0], 0.0);
        assert_eq!(predictor.pending_len(), 2);
        let stale = predictor.reconcile(quantised(spawn), Some(3));
        assert_eq!(
            stale,
            Reconciliation {
                acked_tick: Some(5),
                replayed: 0,
                correction_m: 0.0
            },
            "a late, older snapshot"
        );
        server.apply([1.0, 0.0]);
        let result = predictor.reconcile(quantised(server.position_m), Some(6));
        assert_eq!(
            (result.acked_tick, result.replayed, result.correction_m),
            (Some(6), 1, 0.0)
        );
        // Before the zone has passed any of our inputs, every pending input is replayed.
        let mut fresh = Predictor::new(model());
        fresh.place(spawn, None);
        fresh.predict(1, [0.0, 1.0], 0.0);
        let result = fresh.reconcile(spawn, None);
        assert_eq!(
            (result.acked_tick, result.replayed, result.correction_m),
            (None, 1, 0.0)
        );
    }

    #[test]
    fn history_is_bounded() {
        let mut predictor = Predictor::new(model());
        predictor.reset([5.0, 5.0, 0.0]);
        for tick in 0..(PREDICTION_HISTORY_MAX as u32 + 10) {
            predictor.predict(tick, [1.0, 0.0], 0.0);
        }
        assert_eq!(predictor.pending_len(), PREDICTION_HISTORY_MAX);
        assert_eq!(predictor.stats().history_overflows, 10);
    }
}
