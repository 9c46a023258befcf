//! Client inputs and the per-client jitter buffer that plays them back once each, in client-tick
//! order. Inputs are intents: the zone decides what they do.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Most inputs queued per client; a client further ahead than this is dropped and counted.
pub const INPUT_BUFFER_TICKS_MAX: u32 = 32;
/// Longest zone-chat message in bytes.
pub const CHAT_BYTES_MAX: usize = 256;

/// What the player wants to do with their body this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoveIntent {
    /// Desired direction on the ground plane (x, y); length ≤ 1 (1 = full speed).
    pub direction: [f32; 2],
    pub yaw: f32,
    /// Where the client's prediction put the player after this input, when its input format
    /// carries one; checked (a claim off by more than the teleport tolerance is counted), never
    /// trusted. Meridian's wire input is a direction only, so inputs from the node claim nothing:
    /// a client cannot even state a teleport there.
    pub claimed_position_m: Option<[f32; 3]>,
}

/// A discrete action riding on an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Hit-scan shot at `target` (an entity id) along `direction` from the shooter's position.
    Attack {
        target: u32,
        direction: [f32; 3],
    },
    PickUp {
        loot: u32,
    },
    Chat {
        text: Arc<str>,
    },
    /// Offer the player `target` (an entity id) this player's holding of `give_item` for its
    /// holding of `want_item` (`0`: nothing on that side).
    TradeOffer {
        target: u32,
        give_item: u32,
        want_item: u32,
    },
    /// Accept the offer the player `from` (an entity id) made.
    TradeAccept {
        from: u32,
    },
}

/// One tick of a client's input, stamped with the client's own tick counter.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerInput {
    pub client_tick: u32,
    pub movement: Option<MoveIntent>,
    pub action: Option<Action>,
}

/// What happened to an input offered to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputAdmission {
    Queued,
    /// Its tick was already played back (or skipped as lost).
    Late,
    /// The same client tick is already queued.
    Duplicate,
    /// More than `INPUT_BUFFER_TICKS_MAX` ahead of playback.
    TooFarAhead,
}

/// Result of one playback step.
#[derive(Debug, Clone, PartialEq)]
pub enum Playback {
    /// Still filling the jitter buffer.
    Filling,
    /// The input for the next client tick, with the server time it arrived at.
    Input { input: PlayerInput, arrival_us: u64 },
    /// The next client tick's input has not arrived; the tick is skipped (and a late arrival will be
    /// refused), so playback never stalls and nothing is applied twice.
    Missing { client_tick: u32 },
}

/// Server steps between two extra ("catch-up") plays. A client whose queue runs ahead can gain at
/// most 1/CATCH_UP_INTERVAL_STEPS extra movement that way; without this bound, a client sending more
/// inputs than ticks (a speed hack) would be played back faster than real time.
pub const CATCH_UP_INTERVAL_STEPS: u32 = 20;

/// What to do this step about a queue that runs ahead of playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Nothing: the queue is within its jitter allowance.
    None,
    /// Play one extra input this step (allowed once per `CATCH_UP_INTERVAL_STEPS`).
    PlayExtra,
    /// The oldest queued tick was dropped unplayed: the backlog shrinks without extra movement.
    DroppedOldest,
}

/// Per-client jitter buffer keyed by client tick.
#[derive(Debug, Clone)]
pub struct InputBuffer {
    queued: BTreeMap<u32, (PlayerInput, u64)>,
    /// Next client tick to play back; `None` until the first input fixes the start.
    next_tick: Option<u32>,
    jitter_ticks: u32,
    playing: bool,
    steps_since_catch_up: u32,
    /// The newest client tick playback has passed (played, extrapolated as missing, or dropped).
    last_passed_tick: Option<u32>,
    /// Extra plays the server owes this client (see [`InputBuffer::grant_catch_up`]); not carried
    /// in a handoff (a handoff is a tick boundary, not a delay).
    catch_up_credit: u32,
}

/// The whole state of a jitter buffer, to carry it to another zone (or node) in a handoff ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct InputBufferState {
    /// Queued inputs with their arrival times, in client-tick order.
    pub queued: Vec<(PlayerInput, u64)>,
    pub next_tick: Option<u32>,
    pub jitter_ticks: u32,
    pub playing: bool,
    pub steps_since_catch_up: u32,
    pub last_passed_tick: Option<u32>,
}

impl InputBuffer {
    pub fn state(&self) -> InputBufferState {
        InputBufferState {
            queued: self.queued.values().cloned().collect(),
            next_tick: self.next_tick,
            jitter_ticks: self.jitter_ticks,
            playing: self.playing,
            steps_since_catch_up: self.steps_since_catch_up,
            last_passed_tick: self.last_passed_tick,
        }
    }

    /// A buffer carrying on from `state`; `None` when the state breaks the buffer's limits.
    pub fn from_state(state: InputBufferState) -> Option<Self> {
        if state.jitter_ticks >= INPUT_BUFFER_TICKS_MAX || state.queued.len() > INPUT_BUFFER_TICKS_MAX as usize {
            return None;
        }
        let queued: BTreeMap<u32, (PlayerInput, u64)> = state
            .queued
            .into_iter()
            .map(|(input, arrival_us)| (input.client_tick, (input, arrival_us)))
            .collect();
        Some(Self {
            queued,
            next_tick: state.next_tick,
            jitter_ticks: state.jitter_ticks,
            playing: state.playing,
            steps_since_catch_up: state.steps_since_catch_up,
            last_passed_tick: state.last_passed_tick,
            catch_up_credit: 0,
        })
    }
}

impl InputBuffer {
    pub fn new(jitter_ticks: u32) -> Self {
        assert!(jitter_ticks < INPUT_BUFFER_TICKS_MAX);
        Self {
            queued: BTreeMap::new(),
            next_tick: None,
            jitter_ticks,
            playing: false,
            steps_since_catch_up: 0,
            last_passed_tick: None,
            catch_up_credit: 0,
        }
    }

    /// The server held this player for `ticks` (an aborted handoff froze it while its inputs kept
    /// coming): the backlog those ticks left is played back at up to two inputs per step until the
    /// credit is spent, instead of being dropped — the delay was the server's, so replaying it
    /// faster gives the player nothing it did not send. Bounded by the buffer's own size.
    pub fn grant_catch_up(&mut self, ticks: u32) {
        self.catch_up_credit = self.catch_up_credit.saturating_add(ticks).min(INPUT_BUFFER_TICKS_MAX);
    }

    /// Queues an input that arrived at server time `arrival_us`.
    pub fn offer(&mut self, input: PlayerInput, arrival_us: u64) -> InputAdmission {
        let next = *self.next_tick.get_or_insert(input.client_tick);
        if input.client_tick < next {
            return InputAdmission::Late;
        }
        if input.client_tick - next >= INPUT_BUFFER_TICKS_MAX {
            return InputAdmission::TooFarAhead;
        }
        if self.queued.contains_key(&input.client_tick) {
            return InputAdmission::Duplicate;
        }
        self.queued.insert(input.client_tick, (input, arrival_us));
        debug_assert!(self.queued.len() <= INPUT_BUFFER_TICKS_MAX as usize);
        InputAdmission::Queued
    }

    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Plays back the next client tick. Call once per server step (twice when `take_catch_up` says
    /// `PlayExtra`).
    pub fn pop(&mut self) -> Playback {
        self.steps_since_catch_up = self.steps_since_catch_up.saturating_add(1);
        let Some(next) = self.next_tick else {
            return Playback::Filling;
        };
        if !self.playing {
            if (self.queued.len() as u32) < self.jitter_ticks.max(1) {
                return Playback::Filling;
            }
            self.playing = true;
        }
        self.next_tick = Some(next.wrapping_add(1));
        match self.queued.remove(&next) {
            Some((input, arrival_us)) => {
                self.last_passed_tick = Some(next);
                Playback::Input { input, arrival_us }
            }
            None => {
                if self.queued.is_empty() {
                    // The client stopped sending (or a burst was lost): refill before playing on,
                    // and do not count an unbounded run of missing ticks.
                    self.playing = false;
                    self.next_tick = Some(next);
                    return Playback::Filling;
                }
                self.last_passed_tick = Some(next);
                Playback::Missing { client_tick: next }
            }
        }
    }

    /// The newest client tick the server's simulation has passed: its input was applied, or it was
    /// missing (the server extrapolated) or dropped. A client replays only its inputs after it on
    /// top of the server's state (reconciliation). `None` before playback starts.
    pub fn last_passed_tick(&self) -> Option<u32> {
        self.last_passed_tick
    }

    /// The client runs ahead of the server (clock drift, a burst, or more inputs than ticks). Call
    /// once per step before `pop`: rarely it allows an extra play, otherwise it drops the oldest
    /// queued tick, so a backlog never turns into faster-than-real-time movement.
    pub fn take_catch_up(&mut self) -> CatchUp {
        if !self.playing || self.queued.len() as u32 <= self.jitter_ticks * 2 + 1 {
            return CatchUp::None;
        }
        if self.catch_up_credit > 0 {
            self.catch_up_credit -= 1;
            return CatchUp::PlayExtra;
        }
        if self.steps_since_catch_up >= CATCH_UP_INTERVAL_STEPS {
            self.steps_since_catch_up = 0;
            return CatchUp::PlayExtra;
        }
        if let Some(next) = self.next_tick {
            self.queued.remove(&next);
            self.next_tick = Some(next.wrapping_add(1));
            self.last_passed_tick = Some(next);
        }
        CatchUp::DroppedOldest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_passed_tick_follows_playback_including_missing_ticks() {
        let mut buffer = InputBuffer::new(1);
        assert_eq!(buffer.last_passed_tick(), None);
        buffer.offer(input(10), 0);
        buffer.offer(input(12), 0);
        assert_eq!(played_tick(buffer.pop()), Some(10));
        assert_eq!(buffer.last_passed_tick(), Some(10));
        assert_eq!(buffer.pop(), Playback::Missing { client_tick: 11 });
        assert_eq!(
            buffer.last_passed_tick(),
            Some(11),
            "an extrapolated tick is passed too"
        );
        assert_eq!(played_tick(buffer.pop()), Some(12));
        assert_eq!(buffer.last_passed_tick(), Some(12));
    }

    #[test]
    fn more_inputs_than_ticks_do_not_buy_more_playback() {
        // A speed hack: three inputs per server step for 400 steps.
        let mut buffer = InputBuffer::new(2);
        let (mut sent, mut played, mut dropped, mut refused) = (0u32, 0u32, 0u32, 0u32);
        for _step in 0..400 {
            for _ in 0..3 {
                if buffer.offer(input(sent), 0) == InputAdmission::TooFarAhead {
                    refused += 1;
                }
                sent += 1;
            }
            let plays = match buffer.take_catch_up() {
                CatchUp::PlayExtra => 2,
                CatchUp::DroppedOldest => {
                    dropped += 1;
                    1
                }
                CatchUp::None => 1,
            };
            for _ in 0..plays {
                if let Playback::Input { .. } = buffer.pop() {
                    played += 1;
                }
            }
        }
        assert!(
            played <= 400 + 400 / CATCH_UP_INTERVAL_STEPS,
            "played {played} inputs in 400 steps"
        );
        // The excess is refused at the door or dropped from the backlog, never played.
        assert!(
            dropped + refused >= sent - played - INPUT_BUFFER_TICKS_MAX,
            "dropped {dropped}, refused {refused}"
        );
        assert!(dropped > 0 && refused > 0);
    }

    fn input(client_tick: u32) -> PlayerInput {
        PlayerInput {
            client_tick,
            movement: None,
            action: None,
        }
    }

    fn played_tick(playback: Playback) -> Option<u32> {
        match playback {
            Playback::Input { input, .. } => Some(input.client_tick),
            _ => None,
        }
    }

    #[test]
    fn waits_for_jitter_depth_then_plays_in_order() {
        let mut buffer = InputBuffer::new(2);
        assert_eq!(buffer.offer(input(11), 0), InputAdmission::Queued);
        assert_eq!(buffer.pop(), Playback::Filling);
        // 10 arrives after 11 (reordered) but the start was fixed by 11: it is late.
        assert_eq!(buffer.offer(input(10), 0), InputAdmission::Late);
        assert_eq!(buffer.offer(input(12), 0), InputAdmission::Queued);
        assert_eq!(played_tick(buffer.pop()), Some(11));
        assert_eq!(played_tick(buffer.pop()), Some(12));
    }

    #[test]
    fn duplicates_and_replays_are_never_played_twice() {
        let mut buffer = InputBuffer::new(1);
        assert_eq!(buffer.offer(input(1), 0), InputAdmission::Queued);
        assert_eq!(buffer.offer(input(1), 0), InputAdmission::Duplicate);
        assert_eq!(played_tick(buffer.pop()), Some(1));
        assert_eq!(buffer.offer(input(1), 0), InputAdmission::Late);
        assert_eq!(buffer.pop(), Playback::Filling);
    }

    #[test]
    fn a_lost_input_is_skipped_and_refused_when_it_turns_up() {
        let mut buffer = InputBuffer::new(1);
        buffer.offer(input(1), 0);
        buffer.offer(input(3), 0);
        assert_eq!(played_tick(buffer.pop()), Some(1));
        assert_eq!(buffer.pop(), Playback::Missing { client_tick: 2 });
        assert_eq!(buffer.offer(input(2), 0), InputAdmission::Late);
        assert_eq!(played_tick(buffer.pop()), Some(3));
    }

    #[test]
    fn too_far_ahead_is_refused() {
        let mut buffer = InputBuffer::new(1);
        buffer.offer(input(100), 0);
        assert_eq!(
            buffer.offer(input(100 + INPUT_BUFFER_TICKS_MAX), 0),
            InputAdmission::TooFarAhead
        );
    }

    #[test]
    fn catch_up_when_client_runs_ahead() {
        let mut buffer = InputBuffer::new(2);
        for tick in 0..4 {
            buffer.offer(input(tick), 0);
        }
        assert_eq!(buffer.take_catch_up(), CatchUp::None, "not playing yet");
        for tick in 4..8 {
            buffer.offer(input(tick), 0);
        }
        assert_eq!(played_tick(buffer.pop()), Some(0));
        // 7 queued > 2 × jitter + 1, but an extra play was not earned yet: the oldest is dropped.
        assert_eq!(buffer.take_catch_up(), CatchUp::DroppedOldest);
        assert_eq!(played_tick(buffer.pop()), Some(2));
        for _ in 0..CATCH_UP_INTERVAL_STEPS {
            buffer.pop();
        }
        // Refill well ahead of playback (ticks already played back are refused as late).
        for tick in 8..40 {
            buffer.offer(input(tick), 0);
        }
        buffer.pop(); // the drained buffer refilled its jitter allowance and plays again
        assert_eq!(
            buffer.take_catch_up(),
            CatchUp::PlayExtra,
            "earned after CATCH_UP_INTERVAL_STEPS steps"
        );
    }
}
