//! How one session's game messages become zone inputs.
//!
//! Inputs: an `InputMessage` repeats the last few ticks (newest first) so that a lost datagram loses
//! no input. The host passes each client tick to the zone once: a tick it has already passed is a
//! redundant copy, expected and counted as `input_redundant`, never shown to the zone (whose jitter
//! buffer would count it as a duplicate, making a correct client look broken in the metrics). Ticks
//! are tracked in a 64-tick window below the newest one seen, so a reordered datagram that fills a
//! gap still delivers the ticks only it carries; a tick older than the window is passed on and the
//! zone's jitter buffer judges it (it is late there).
//!
//! Movement is quantised on the wire and decoded by `MoveInput::direction` / `yaw_radians`, the
//! functions the client's prediction uses too. The wire input carries no position, so the zone has
//! no claim to check. Actions and chat arrive on the reliable channel and ride on the client's next
//! new input tick (the zone's jitter buffer holds one `PlayerInput` per tick, and every tick already
//! carries movement): they wait at most one client tick. The input that carries an action is stamped
//! with the action's own arrival time, not the input's: lag compensation measures back from it, and
//! a shot must not look up to a tick younger than it was.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use meridian_proto::messages::{Action as WireAction, InputMessage, aim_direction};
use meridian_zone::{Action, ClientId, MoveIntent, PlayerInput, ZoneInput};

/// Actions (attacks, pick-ups, chat) a session may have waiting for its next input tick; more are
/// refused and counted by the caller.
pub const PENDING_ACTIONS_MAX: usize = 8;
/// Client ticks below the newest one for which the host remembers whether it passed them on.
pub const SEEN_TICKS_WINDOW: u32 = 64;

/// What one input message turned into.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expansion {
    /// Ticks passed to the zone.
    pub passed: u32,
    /// Copies of ticks already passed (the redundancy doing its job).
    pub redundant: u32,
}

/// Which client ticks were passed on: the newest, and a bit per tick in the window below it.
#[derive(Debug, Default, Clone, Copy)]
struct SeenTicks {
    newest: Option<u32>,
    /// Bit `i` set: tick `newest - 1 - i` was passed on.
    below: u64,
}

impl SeenTicks {
    /// Marks `tick` as passed; returns false if it already was.
    fn insert(&mut self, tick: u32) -> bool {
        let Some(newest) = self.newest else {
            self.newest = Some(tick);
            return true;
        };
        if tick == newest {
            return false;
        }
        if tick_after(tick, newest) {
            let shift = tick.wrapping_sub(newest);
            // The old newest becomes bit shift-1; everything slides down by `shift`.
            self.below = if shift >= SEEN_TICKS_WINDOW {
                0
            } else {
                (self.below << shift) | (1 << (shift - 1))
            };
            self.newest = Some(tick);
            return true;
        }
        let age = newest.wrapping_sub(tick);
        if age > SEEN_TICKS_WINDOW {
            // Out of the window: the zone's jitter buffer refuses or takes it, and counts it.
            return true;
        }
        let bit = 1u64 << (age - 1);
        let fresh = self.below & bit == 0;
        self.below |= bit;
        fresh
    }

    fn is_new_newest(&self, tick: u32) -> bool {
        self.newest.is_none_or(|newest| tick_after(tick, newest))
    }
}

/// Per-session state of the message → zone-input mapping.
#[derive(Debug, Default)]
pub struct SessionInputs {
    seen: SeenTicks,
    /// Waiting actions with their arrival times.
    pending_actions: VecDeque<(Action, u64)>,
}

/// Looks up an entity's present position, for an attack sent without an aim.
pub type AimLookup<'a> = &'a dyn Fn(u32) -> Option<[f32; 3]>;

impl SessionInputs {
    /// Expands one input message into zone inputs (pushed to `out`), each new tick once.
    pub fn on_input(
        &mut self,
        client: ClientId,
        input: &InputMessage,
        received_us: u64,
        out: &mut Vec<ZoneInput>,
    ) -> Expansion {
        let mut expansion = Expansion::default();
        // The newest tick takes a waiting action only if it is new (a reordered older message must
        // not take it and leave the newer tick without).
        let carries_action = self.seen.is_new_newest(input.newest_tick);
        for (age, tick_input) in input.inputs.iter().enumerate() {
            let client_tick = input.newest_tick.wrapping_sub(age as u32);
            if !self.seen.insert(client_tick) {
                expansion.redundant += 1;
                continue;
            }
            expansion.passed += 1;
            let movement = MoveIntent {
                direction: tick_input.direction(),
                yaw: tick_input.yaw_radians(),
                claimed_position_m: None,
            };
            let taken = if age == 0 && carries_action {
                self.pending_actions.pop_front()
            } else {
                None
            };
            let (action, received_us) = match taken {
                Some((action, action_received_us)) => (Some(action), action_received_us.min(received_us)),
                None => (None, received_us),
            };
            out.push(ZoneInput::Input {
                client,
                input: PlayerInput {
                    client_tick,
                    movement: Some(movement),
                    action,
                },
                received_us,
            });
        }
        expansion
    }

    /// Queues an attack or pick-up for the next input tick. An attack goes in the direction the client
    /// aimed; one without an aim goes at the target's present position (`position_of` looks up
    /// entities). Returns false if `PENDING_ACTIONS_MAX` are already waiting.
    pub fn on_action(
        &mut self,
        action: WireAction,
        received_us: u64,
        own_position: Option<[f32; 3]>,
        position_of: AimLookup<'_>,
    ) -> bool {
        let action = match action {
            WireAction::Attack { target_id, aim, .. } => Action::Attack {
                target: target_id,
                direction: aim_direction(aim).unwrap_or_else(|| aim_at(own_position, position_of(target_id))),
            },
            WireAction::PickUp { loot_id } => Action::PickUp { loot: loot_id },
            WireAction::TradeOffer {
                target_id,
                give_item,
                want_item,
            } => Action::TradeOffer {
                target: target_id,
                give_item,
                want_item,
            },
            WireAction::TradeAccept { from_id } => Action::TradeAccept { from: from_id },
        };
        self.queue_action(action, received_us)
    }

    /// Queues a chat line for the next input tick. Returns false if the action queue is full.
    pub fn on_chat(&mut self, text: &str, received_us: u64) -> bool {
        self.queue_action(Action::Chat { text: Arc::from(text) }, received_us)
    }

    /// Whether actions or chat wait for the next input tick (a handoff waits for them to go).
    pub fn has_pending_actions(&self) -> bool {
        !self.pending_actions.is_empty()
    }

    /// The dedupe window (newest tick passed on, one bit per older tick), to carry the session to
    /// another host in a handoff ticket.
    pub fn seen_window(&self) -> Option<(u32, u64)> {
        self.seen.newest.map(|newest| (newest, self.seen.below))
    }

    /// A session's input state carrying on from [`Self::seen_window`] on another host.
    pub fn resume(seen: Option<(u32, u64)>) -> Self {
        Self {
            seen: SeenTicks {
                newest: seen.map(|(newest, _)| newest),
                below: seen.map_or(0, |(_, below)| below),
            },
            pending_actions: VecDeque::new(),
        }
    }

    fn queue_action(&mut self, action: Action, received_us: u64) -> bool {
        if self.pending_actions.len() >= PENDING_ACTIONS_MAX {
            return false;
        }
        self.pending_actions.push_back((action, received_us));
        true
    }
}

/// Whether client tick `a` comes after `b`, allowing for wrap-around.
fn tick_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < u32::MAX / 2
}

/// Unit vector from the shooter to the target (straight ahead along x when either is unknown).
pub fn aim_at(from: Option<[f32; 3]>, to: Option<[f32; 3]>) -> [f32; 3] {
    let (Some(from), Some(to)) = (from, to) else {
        return [1.0, 0.0, 0.0];
    };
    let delta = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
    let length = (delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]).sqrt();
    if length < 1e-6 {
        [1.0, 0.0, 0.0]
    } else {
        [delta[0] / length, delta[1] / length, delta[2] / length]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_proto::messages::MoveInput;

    fn input_message(newest_tick: u32, count: usize) -> InputMessage {
        InputMessage {
            sequence: newest_tick,
            newest_tick,
            inputs: vec![MoveInput::default(); count],
        }
    }

    fn ticks(out: &[ZoneInput]) -> Vec<(u32, Option<Action>)> {
        out.iter()
            .filter_map(|i| match i {
                ZoneInput::Input { input, .. } => Some((input.client_tick, input.action.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_tick_reaches_the_zone_once_and_copies_are_counted_redundant() {
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        assert_eq!(
            session.on_input(ClientId(1), &input_message(10, 3), 0, &mut out),
            Expansion {
                passed: 3,
                redundant: 0
            }
        );
        assert_eq!(ticks(&out), vec![(10, None), (9, None), (8, None)]);
        out.clear();
        assert_eq!(
            session.on_input(ClientId(1), &input_message(11, 3), 0, &mut out),
            Expansion {
                passed: 1,
                redundant: 2
            }
        );
        assert_eq!(ticks(&out), vec![(11, None)]);
    }

    #[test]
    fn a_lost_datagram_is_filled_by_the_next_ones_copies() {
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        session.on_input(ClientId(1), &input_message(10, 3), 0, &mut out);
        out.clear();
        // The datagram with 11 was lost; 12 carries 12, 11, 10.
        let expansion = session.on_input(ClientId(1), &input_message(12, 3), 0, &mut out);
        assert_eq!(ticks(&out), vec![(12, None), (11, None)]);
        assert_eq!(
            expansion,
            Expansion {
                passed: 2,
                redundant: 1
            }
        );
    }

    #[test]
    fn a_reordered_datagram_delivers_only_the_ticks_nobody_else_carried() {
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        session.on_input(ClientId(1), &input_message(10, 1), 0, &mut out);
        // 20 arrives before 13..=19 (a burst reordered), with redundancy 3: 20, 19, 18.
        session.on_input(ClientId(1), &input_message(20, 3), 0, &mut out);
        out.clear();
        let expansion = session.on_input(ClientId(1), &input_message(17, 3), 0, &mut out);
        assert_eq!(ticks(&out), vec![(17, None), (16, None), (15, None)]);
        assert_eq!(expansion.redundant, 0);
        out.clear();
        assert_eq!(
            session.on_input(ClientId(1), &input_message(18, 3), 0, &mut out).passed,
            0
        );
    }

    #[test]
    fn a_jump_beyond_the_window_forgets_the_old_ticks() {
        let mut seen = SeenTicks::default();
        assert!(seen.insert(5));
        assert!(seen.insert(5 + SEEN_TICKS_WINDOW + 10));
        assert!(!seen.insert(5 + SEEN_TICKS_WINDOW + 10));
        // Far below the window: passed on for the zone to judge.
        assert!(seen.insert(5));
        // Wrap-around: u32::MAX then 0, 1.
        let mut seen = SeenTicks::default();
        assert!(seen.insert(u32::MAX));
        assert!(seen.insert(1));
        assert!(seen.insert(0));
        assert!(!seen.insert(u32::MAX));
    }

    #[test]
    fn an_action_rides_on_the_next_new_input_tick_exactly_once() {
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        session.on_input(ClientId(1), &input_message(10, 2), 0, &mut out);
        out.clear();
        assert!(session.on_chat("hi", 0));
        // A reordered, older input message does not take the action.
        session.on_input(ClientId(1), &input_message(9, 2), 0, &mut out);
        assert!(ticks(&out).iter().all(|(_, a)| a.is_none()));
        out.clear();
        session.on_input(ClientId(1), &input_message(11, 2), 0, &mut out);
        assert_eq!(ticks(&out), vec![(11, Some(Action::Chat { text: Arc::from("hi") }))]);
        out.clear();
        session.on_input(ClientId(1), &input_message(12, 2), 0, &mut out);
        assert!(
            ticks(&out).iter().all(|(_, a)| a.is_none()),
            "the action is delivered once"
        );
    }

    #[test]
    fn the_input_carrying_an_action_is_stamped_with_the_actions_arrival() {
        let mut session = SessionInputs::default();
        let mut out = Vec::new();
        session.on_input(ClientId(1), &input_message(10, 1), 1_000, &mut out);
        let nowhere = |_| None;
        assert!(session.on_action(WireAction::PickUp { loot_id: 4 }, 2_000, None, &nowhere));
        out.clear();
        session.on_input(ClientId(1), &input_message(11, 2), 40_000, &mut out);
        let stamps: Vec<u64> = out
            .iter()
            .map(|input| match input {
                ZoneInput::Input { received_us, .. } => *received_us,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            stamps,
            vec![2_000],
            "tick 11 carries the pick-up, stamped when it arrived"
        );
    }

    #[test]
    fn pending_actions_are_bounded() {
        let mut session = SessionInputs::default();
        let nowhere = |_| None;
        for loot_id in 0..PENDING_ACTIONS_MAX as u32 {
            assert!(session.on_action(WireAction::PickUp { loot_id }, 0, None, &nowhere));
        }
        assert!(!session.on_action(WireAction::PickUp { loot_id: 99 }, 0, None, &nowhere));
        assert!(!session.on_chat("one too many", 0));
    }

    #[test]
    fn an_attack_goes_where_the_client_aimed_or_at_the_target_without_an_aim() {
        let mut session = SessionInputs::default();
        let at = |_| Some([0.0, 5.0, 0.0]);
        let attack = |aim| WireAction::Attack {
            target_id: 9,
            skill_id: 0,
            aim,
        };
        assert!(session.on_action(attack([32_767, 0, 0]), 0, Some([0.0; 3]), &at));
        assert!(session.on_action(attack([0, 0, 0]), 0, Some([0.0; 3]), &at));
        let mut out = Vec::new();
        session.on_input(ClientId(1), &input_message(1, 1), 0, &mut out);
        session.on_input(ClientId(1), &input_message(2, 1), 0, &mut out);
        let directions: Vec<Option<Action>> = ticks(&out).into_iter().map(|(_, action)| action).collect();
        assert_eq!(
            directions,
            vec![
                Some(Action::Attack {
                    target: 9,
                    direction: [1.0, 0.0, 0.0]
                }),
                Some(Action::Attack {
                    target: 9,
                    direction: [0.0, 1.0, 0.0]
                }),
            ]
        );
    }

    #[test]
    fn aim_points_at_the_target() {
        assert_eq!(aim_at(Some([0.0, 0.0, 0.0]), Some([0.0, 2.0, 0.0])), [0.0, 1.0, 0.0]);
        assert_eq!(aim_at(None, Some([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0]);
        assert_eq!(aim_at(Some([1.0; 3]), Some([1.0; 3])), [1.0, 0.0, 0.0]);
    }
}
