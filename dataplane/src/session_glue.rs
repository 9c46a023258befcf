//! How a node turns a session's game messages into zone inputs and a zone's output into messages.
//!
//! Inputs: an `InputMessage` repeats the last few ticks (newest first); each carried tick becomes one
//! `ZoneInput::Input` and the zone's jitter buffer drops the ones it already has (counted as
//! duplicates there), so a lost packet loses no input. Movement is quantised on the wire: the
//! direction is `move_direction(right, forward)` (÷127, clamped to length 1) and the yaw a full turn
//! in 65,536 steps; the client predicts with the same functions. The proto's input carries no
//! claimed position, so the claim is the server's own position (the zone checks claims, never
//! trusts them). An attack names a target, not a direction: the node aims at the target's current
//! position and the zone's lag compensation rewinds it.
#![forbid(unsafe_code)]

use std::sync::Arc;

use meridian_proto::messages::{Action as WireAction, ClientMessage};
use meridian_zone::{Action, ClientId, MoveIntent, PlayerInput, Zone, ZoneInput};

const AXIS_STEPS: f32 = 127.0;
const YAW_STEPS: f32 = 65_536.0;

/// The ground-plane direction a quantised move input asks for, at most length 1.
pub fn move_direction(right: i8, forward: i8) -> [f32; 2] {
    let x = f32::from(right.max(-127)) / AXIS_STEPS;
    let y = f32::from(forward.max(-127)) / AXIS_STEPS;
    let length = (x * x + y * y).sqrt();
    if length > 1.0 { [x / length, y / length] } else { [x, y] }
}

pub fn yaw_radians(yaw: u16) -> f32 {
    f32::from(yaw) / YAW_STEPS * std::f32::consts::TAU
}

/// Zone inputs for one decoded client message. `newest_input_tick` is the newest client tick seen
/// from this client (chat rides on it: the zone's buffer is keyed by client tick).
pub fn zone_inputs(
    zone: &Zone,
    client: ClientId,
    message: ClientMessage,
    received_us: u64,
    newest_input_tick: u32,
    out: &mut Vec<ZoneInput>,
) {
    let own_position = zone.client_entity(client).and_then(|entity| zone.position(entity));
    match message {
        ClientMessage::Input(input) => {
            let claimed_position_m = own_position.unwrap_or([0.0; 3]);
            for (age, tick_input) in input.inputs.iter().enumerate() {
                let movement = MoveIntent {
                    direction: move_direction(tick_input.move_right, tick_input.move_forward),
                    yaw: yaw_radians(tick_input.yaw),
                    claimed_position_m,
                };
                let client_tick = input.newest_tick.wrapping_sub(age as u32);
                out.push(ZoneInput::Input {
                    client,
                    input: PlayerInput { client_tick, movement: Some(movement), action: None },
                    received_us,
                });
            }
        }
        ClientMessage::Action { client_tick, action } => {
            let action = match action {
                WireAction::Attack { target_id, .. } => {
                    Action::Attack { target: target_id, direction: aim(own_position, zone.position(target_id)) }
                }
                WireAction::PickUp { loot_id } => Action::PickUp { loot: loot_id },
            };
            out.push(ZoneInput::Input {
                client,
                input: PlayerInput { client_tick, movement: None, action: Some(action) },
                received_us,
            });
        }
        ClientMessage::Chat { text, .. } => out.push(ZoneInput::Input {
            client,
            input: PlayerInput {
                client_tick: newest_input_tick,
                movement: None,
                action: Some(Action::Chat { text: Arc::from(text) }),
            },
            received_us,
        }),
    }
}

/// Unit vector from the shooter to the target (straight ahead along x when either is unknown).
fn aim(from: Option<[f32; 3]>, to: Option<[f32; 3]>) -> [f32; 3] {
    let (Some(from), Some(to)) = (from, to) else { return [1.0, 0.0, 0.0] };
    let delta = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
    let length = (delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]).sqrt();
    if length < 1e-6 { [1.0, 0.0, 0.0] } else { [delta[0] / length, delta[1] / length, delta[2] / length] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_directions_are_clamped_to_unit_length() {
        assert_eq!(move_direction(0, 127), [0.0, 1.0]);
        assert_eq!(move_direction(-128, 0), [-1.0, 0.0], "-128 is treated as -127");
        let diagonal = move_direction(127, 127);
        let length = (diagonal[0] * diagonal[0] + diagonal[1] * diagonal[1]).sqrt();
        assert!((length - 1.0).abs() < 1e-6, "diagonal full input is clamped: {diagonal:?}");
        assert!((yaw_radians(16_384) - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
    }

    #[test]
    fn aim_points_at_the_target() {
        assert_eq!(aim(Some([0.0, 0.0, 0.0]), Some([0.0, 2.0, 0.0])), [0.0, 1.0, 0.0]);
        assert_eq!(aim(None, Some([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0]);
        assert_eq!(aim(Some([1.0; 3]), Some([1.0; 3])), [1.0, 0.0, 0.0]);
    }
}
