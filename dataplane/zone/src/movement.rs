//! Server-authoritative movement: a move intent becomes a step the server computes with its own
//! speed limit, world bounds and colliders. Impossible intents and claimed positions are rejected
//! with a reason the zone counts.

use crate::config::Collider;
use crate::input::MoveIntent;

/// Slack on the intent's direction length before it counts as a speed hack (float noise).
pub const DIRECTION_LENGTH_SLACK: f32 = 1.0e-3;

/// Why a move was not applied as the client asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveRejection {
    /// NaN or infinite numbers.
    Malformed,
    /// Direction longer than 1: asks for more than the server's speed limit.
    SpeedHack,
    /// The client claims a position the server's own step cannot reach.
    Teleport,
}

/// The outcome of one move: where the server put the entity, and what (if anything) it refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoveOutcome {
    pub position_m: [f32; 3],
    pub velocity_m_per_s: [f32; 3],
    pub rejection: Option<MoveRejection>,
    /// A collider or the world edge stopped part of the step.
    pub blocked: bool,
}

/// Limits the server applies to every move.
#[derive(Debug, Clone, Copy)]
pub struct MoveRules<'a> {
    pub speed_m_per_s: f32,
    pub dt_s: f32,
    pub world_size_m: [f32; 2],
    pub colliders: &'a [Collider],
    pub teleport_tolerance_m: f32,
}

/// Moves from `from_m` by `intent`. A malformed or speed-hack intent does not move the entity at all;
/// a teleport claim still moves it by the server's own step (the claim is ignored and counted).
pub fn apply_move(from_m: [f32; 3], intent: &MoveIntent, rules: &MoveRules<'_>) -> MoveOutcome {
    let stay = |rejection| MoveOutcome {
        position_m: from_m,
        velocity_m_per_s: [0.0; 3],
        rejection: Some(rejection),
        blocked: false,
    };
    let numbers = [intent.direction[0], intent.direction[1], intent.yaw];
    if !numbers
        .iter()
        .chain(intent.claimed_position_m.iter().flatten())
        .all(|v| v.is_finite())
    {
        return stay(MoveRejection::Malformed);
    }
    let length = (intent.direction[0] * intent.direction[0] + intent.direction[1] * intent.direction[1]).sqrt();
    if length > 1.0 + DIRECTION_LENGTH_SLACK {
        return stay(MoveRejection::SpeedHack);
    }
    let (to, blocked) = step(from_m, intent.direction, rules);
    let velocity = [(to[0] - from_m[0]) / rules.dt_s, (to[1] - from_m[1]) / rules.dt_s, 0.0];
    let off_m = |claim: [f32; 3]| ((claim[0] - to[0]).powi(2) + (claim[1] - to[1]).powi(2)).sqrt();
    let rejection = intent
        .claimed_position_m
        .is_some_and(|claim| off_m(claim) > rules.teleport_tolerance_m)
        .then_some(MoveRejection::Teleport);
    MoveOutcome {
        position_m: to,
        velocity_m_per_s: velocity,
        rejection,
        blocked,
    }
}

/// One server step along `direction` (length ≤ 1), axis by axis so entities slide along colliders.
pub fn step(from_m: [f32; 3], direction: [f32; 2], rules: &MoveRules<'_>) -> ([f32; 3], bool) {
    let reach = rules.speed_m_per_s * rules.dt_s;
    let mut position = from_m;
    let mut blocked = false;
    for (axis, (along, size_m)) in direction.iter().zip(rules.world_size_m).enumerate() {
        let wanted = position[axis] + along * reach;
        let bounded = wanted.clamp(0.0, size_m - f32::EPSILON * size_m);
        blocked |= bounded != wanted;
        let mut candidate = position;
        candidate[axis] = bounded;
        if rules.colliders.iter().any(|c| c.contains(candidate[0], candidate[1])) {
            blocked = true;
        } else {
            position = candidate;
        }
    }
    (position, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(colliders: &[Collider]) -> MoveRules<'_> {
        MoveRules {
            speed_m_per_s: 10.0,
            dt_s: 0.1,
            world_size_m: [100.0, 100.0],
            colliders,
            teleport_tolerance_m: 2.0,
        }
    }

    fn intent(direction: [f32; 2], claimed: [f32; 3]) -> MoveIntent {
        MoveIntent {
            direction,
            yaw: 0.0,
            claimed_position_m: Some(claimed),
        }
    }

    #[test]
    fn honest_move_goes_at_server_speed() {
        let outcome = apply_move([50.0, 50.0, 0.0], &intent([1.0, 0.0], [51.0, 50.0, 0.0]), &rules(&[]));
        assert_eq!(outcome.position_m, [51.0, 50.0, 0.0]);
        assert_eq!(outcome.rejection, None);
        assert!((outcome.velocity_m_per_s[0] - 10.0).abs() < 1e-3);
    }

    #[test]
    fn speed_hack_intent_does_not_move() {
        let outcome = apply_move([50.0, 50.0, 0.0], &intent([3.0, 0.0], [53.0, 50.0, 0.0]), &rules(&[]));
        assert_eq!(outcome.rejection, Some(MoveRejection::SpeedHack));
        assert_eq!(outcome.position_m, [50.0, 50.0, 0.0]);
    }

    #[test]
    fn teleport_claim_is_ignored_and_flagged() {
        let outcome = apply_move([50.0, 50.0, 0.0], &intent([1.0, 0.0], [90.0, 90.0, 0.0]), &rules(&[]));
        assert_eq!(outcome.rejection, Some(MoveRejection::Teleport));
        assert_eq!(outcome.position_m, [51.0, 50.0, 0.0]);
    }

    #[test]
    fn an_intent_without_a_claim_is_never_a_teleport() {
        let intent = MoveIntent {
            direction: [1.0, 0.0],
            yaw: 0.0,
            claimed_position_m: None,
        };
        let outcome = apply_move([50.0, 50.0, 0.0], &intent, &rules(&[]));
        assert_eq!(outcome.rejection, None);
        assert_eq!(outcome.position_m, [51.0, 50.0, 0.0]);
    }

    #[test]
    fn malformed_intent_is_rejected() {
        let outcome = apply_move(
            [50.0, 50.0, 0.0],
            &intent([f32::NAN, 0.0], [50.0, 50.0, 0.0]),
            &rules(&[]),
        );
        assert_eq!(outcome.rejection, Some(MoveRejection::Malformed));
    }

    #[test]
    fn colliders_block_and_entities_slide() {
        let wall = [Collider {
            min_m: [50.5, 0.0],
            max_m: [60.0, 100.0],
        }];
        let outcome = apply_move([50.0, 50.0, 0.0], &intent([0.6, 0.8], [50.0, 50.8, 0.0]), &rules(&wall));
        assert!(outcome.blocked);
        assert_eq!(outcome.position_m[0], 50.0, "x blocked by the wall");
        assert!((outcome.position_m[1] - 50.8).abs() < 1e-4, "y slides along it");
    }

    #[test]
    fn world_edge_clamps() {
        let (to, blocked) = step([0.5, 0.5, 0.0], [-1.0, 0.0], &rules(&[]));
        assert!(blocked);
        assert_eq!(to[0], 0.0);
    }
}
