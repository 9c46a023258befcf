//! Game messages as the client SDK speaks them: the closed protocol of `meridian_proto::messages`
//! (layouts in `schemas/PROTOCOL.md`), re-exported, plus the quantisation of the player's wish into a
//! `MoveInput` (`MoveInput::direction` is the rule both the server and the prediction apply).

pub use meridian_proto::messages::{
    Action as ProtoAction, CHAT_TEXT_BYTES_MAX, ChatChannel, ClientMessage, INPUT_REDUNDANCY_MAX, InputMessage,
    JoinRefused, MessageError, MoveInput, PickUpRefusal, SNAPSHOT_MESSAGE_BYTES_MAX, ServerEvent, ServerMessage,
    TradeRefusal,
};

const AXIS_STEPS: f32 = 127.0;
const YAW_STEPS: f32 = 65_536.0;

/// The direction the server applies for a move input: ÷127 per axis, scaled to length ≤ 1.
pub fn move_direction(right: i8, forward: i8) -> [f32; 2] {
    MoveInput {
        move_right: right,
        move_forward: forward,
        ..MoveInput::default()
    }
    .direction()
}

/// Quantises a wished direction (x → `move_right`, y → `move_forward`, ground plane, world axes).
pub fn quantise_direction(direction: [f32; 2]) -> (i8, i8) {
    let axis = |value: f32| {
        if value.is_finite() {
            (value.clamp(-1.0, 1.0) * AXIS_STEPS).round() as i8
        } else {
            0
        }
    };
    (axis(direction[0]), axis(direction[1]))
}

pub fn quantise_yaw(yaw: f32) -> u16 {
    if !yaw.is_finite() {
        return 0;
    }
    let turns = yaw / std::f32::consts::TAU;
    ((turns - turns.floor()) * YAW_STEPS) as u32 as u16
}

pub fn yaw_radians(yaw: u16) -> f32 {
    MoveInput {
        yaw,
        ..MoveInput::default()
    }
    .yaw_radians()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_directions_are_what_the_server_applies() {
        assert_eq!(quantise_direction([1.0, 0.0]), (127, 0));
        assert_eq!(move_direction(127, 0), [1.0, 0.0]);
        assert_eq!(quantise_direction([f32::NAN, 5.0]), (0, 127));
        // A full diagonal is longer than 1 and is scaled back to the speed limit.
        let diagonal = move_direction(127, 127);
        let length = (diagonal[0] * diagonal[0] + diagonal[1] * diagonal[1]).sqrt();
        assert!((length - 1.0).abs() < 1e-6, "{length}");
        let (x, y) = quantise_direction([0.6, -0.8]);
        let applied = move_direction(x, y);
        assert!(
            (applied[0] - 0.6).abs() < 0.005 && (applied[1] + 0.8).abs() < 0.005,
            "{applied:?}"
        );
        assert!(applied[0] * applied[0] + applied[1] * applied[1] <= 1.0 + 1e-6);
        assert_eq!(move_direction(-128, 0), [-1.0, 0.0]);
        let yaw = yaw_radians(quantise_yaw(-std::f32::consts::FRAC_PI_2));
        assert!((yaw - 1.5 * std::f32::consts::PI).abs() < 1e-3, "{yaw}");
    }
}
