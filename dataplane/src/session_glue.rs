//! How a node turns a session's game messages into zone inputs and a zone's output into messages.
//!
//! Inputs: an `InputMessage` repeats the last few ticks (newest first); each carried tick becomes one
//! `ZoneInput::Input` and the zone's jitter buffer drops the ones it already has (counted as
//! duplicates there), so a lost packet loses no input. Movement is quantised on the wire and decoded
//! by `MoveInput::direction` / `yaw_radians`, the functions the client's prediction uses too. The proto's input carries no
//! claimed position, so the claim is the server's own position (the zone checks claims, never
//! trusts them). Actions wait for the client's next input tick (see [`SessionInputs`]). An attack names a target, not a direction: the node aims at the target's current
//! position and the zone's lag compensation rewinds it.
#![forbid(unsafe_code)]

use std::sync::Arc;

use meridian_proto::messages::{Action as WireAction, ClientMessage};
use meridian_zone::{Action, ClientId, MoveIntent, PlayerInput, Zone, ZoneInput};

#[cfg(test)]
use meridian_proto::messages::{InputMessage, MoveInput};

/// Actions (attacks, pick-ups, chat) a session may have waiting for its next input tick; more are
/// refused and counted by the caller.
pub const PENDING_ACTIONS_MAX: usize = 8;

/// Per-session state of the message → zone-input mapping.
///
/// The zone's jitter buffer holds one `PlayerInput` per client tick, and every tick already carries
/// the client's movement (inputs are sent every tick, redundantly). An action arriving on the
/// reliable channel therefore rides on the next *new* input tick instead of a tick of its own, which
/// the buffer would refuse as a duplicate; it waits at most one client tick.
#[derive(Debug, Default)]
pub struct SessionInputs {
    newest_tick: Option<u32>,
    pending_actions: std::collections::VecDeque<Action>,
}

impl SessionInputs {
    /// Maps one decoded client message to zone inputs. Returns `false` if an action was refused
    /// because `PENDING_ACTIONS_MAX` are already waiting.
    pub fn on_message(
        &mut self,
        zone: &Zone,
        client: ClientId,
        message: ClientMessage,
        received_us: u64,
        out: &mut Vec<ZoneInput>,
    ) -> bool {
        match message {
            ClientMessage::Input(input) => {
                let is_new = self.newest_tick.is_none_or(|newest| tick_after(input.newest_tick, newest));
                if is_new {
                    self.newest_tick = Some(input.newest_tick);
                }
                for (age, tick_input) in input.inputs.iter().enumerate() {
                    let movement = MoveIntent {
                        direction: tick_input.direction(),
                        yaw: tick_input.yaw_radians(),
                        // The wire input carries no position: nothing to claim, nothing to check.
                        claimed_position_m: None,
                    };
                    let action = if age == 0 && is_new { self.pending_actions.pop_front() } else { None };
                    out.push(ZoneInput::Input {
                        client,
                        input: PlayerInput {
                            client_tick: input.newest_tick.wrapping_sub(age as u32),
                            movement: Some(movement),
                            action,
                        },
                        received_us,
                    });
                }
                true
            }
            ClientMessage::Action { action, .. } => {
                let action = match action {
                    WireAction::Attack { target_id, .. } => {
                        // Looked up only here: inputs (every tick, every client) need no position.
                        let own_position = zone.client_entity(client).and_then(|entity| zone.position(entity));
                        Action::Attack { target: target_id, direction: aim(own_position, zone.position(target_id)) }
                    }
                    WireAction::PickUp { loot_id } => Action::PickUp { loot: loot_id },
                };
                self.queue_action(action)
            }
            ClientMessage::Chat { text, .. } => self.queue_action(Action::Chat { text: Arc::from(text) }),
            ClientMessage::SnapshotAck { tick } => {
                out.push(ZoneInput::SnapshotAck { client, tick });
                true
            }
        }
    }

    fn queue_action(&mut self, action: Action) -> bool {
        if self.pending_actions.len() >= PENDING_ACTIONS_MAX {
            return false;
        }
        self.pending_actions.push_back(action);
        true
    }
}

/// Whether client tick `a` comes after `b`, allowing for wrap-around.
fn tick_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < u32::MAX / 2
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
    use meridian_zone::ZoneConfig;

    fn input_message(newest_tick: u32, count: usize) -> ClientMessage {
        ClientMessage::Input(InputMessage { sequence: newest_tick, newest_tick, inputs: vec![MoveInput::default(); count] })
    }

    fn actions(out: &[ZoneInput]) -> Vec<(u32, Option<Action>)> {
        out.iter()
            .filter_map(|i| match i {
                ZoneInput::Input { input, .. } => Some((input.client_tick, input.action.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn redundant_inputs_expand_to_one_zone_input_per_tick() {
        let zone = Zone::new(ZoneConfig::default(), 0, 1, 0).unwrap();
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        assert!(session.on_message(&zone, ClientId(1), input_message(10, 3), 0, &mut out));
        assert_eq!(actions(&out), vec![(10, None), (9, None), (8, None)]);
    }

    #[test]
    fn an_action_rides_on_the_next_new_input_tick_exactly_once() {
        let zone = Zone::new(ZoneConfig::default(), 0, 1, 0).unwrap();
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        session.on_message(&zone, ClientId(1), input_message(10, 2), 0, &mut out);
        out.clear();
        let chat = ClientMessage::Chat { channel: meridian_proto::messages::ChatChannel::Zone, text: "hi".into() };
        assert!(session.on_message(&zone, ClientId(1), chat, 0, &mut out));
        assert!(out.is_empty(), "the chat waits for the next input tick");
        // A reordered, older input message does not take the action.
        session.on_message(&zone, ClientId(1), input_message(9, 2), 0, &mut out);
        assert!(actions(&out).iter().all(|(_, a)| a.is_none()));
        out.clear();
        session.on_message(&zone, ClientId(1), input_message(11, 2), 0, &mut out);
        assert_eq!(actions(&out), vec![(11, Some(Action::Chat { text: Arc::from("hi") })), (10, None)]);
        out.clear();
        session.on_message(&zone, ClientId(1), input_message(12, 2), 0, &mut out);
        assert!(actions(&out).iter().all(|(_, a)| a.is_none()), "the action is delivered once");
    }

    #[test]
    fn pending_actions_are_bounded() {
        let zone = Zone::new(ZoneConfig::default(), 0, 1, 0).unwrap();
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        let pick = |loot_id| ClientMessage::Action { client_tick: 0, action: WireAction::PickUp { loot_id } };
        for loot in 0..PENDING_ACTIONS_MAX as u32 {
            assert!(session.on_message(&zone, ClientId(1), pick(loot), 0, &mut out));
        }
        assert!(!session.on_message(&zone, ClientId(1), pick(99), 0, &mut out));
    }

    #[test]
    fn aim_points_at_the_target() {
        assert_eq!(aim(Some([0.0, 0.0, 0.0]), Some([0.0, 2.0, 0.0])), [0.0, 1.0, 0.0]);
        assert_eq!(aim(None, Some([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0]);
        assert_eq!(aim(Some([1.0; 3]), Some([1.0; 3])), [1.0, 0.0, 0.0]);
    }
}
