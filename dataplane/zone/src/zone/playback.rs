//! Each step plays every client's next buffered input (or extrapolates a missing one): movement
//! under the server's rules, then the input's action.

use super::components::{Body, Vitals};
use super::{ClientId, Zone, ZoneOutput};
use crate::input::{Action, CatchUp, MoveIntent, Playback, PlayerInput};
use crate::movement::{MoveRejection, MoveRules, apply_move, step};

impl Zone {
    pub(super) fn play_inputs(&mut self, client: ClientId, out: &mut ZoneOutput) {
        let Some(session) = self.clients.get_mut(&client) else {
            return;
        };
        let plays = match session.inputs.take_catch_up() {
            CatchUp::PlayExtra => 2,
            CatchUp::DroppedOldest => {
                self.counters.inputs_dropped_backlog += 1;
                1
            }
            CatchUp::None => 1,
        };
        for _ in 0..plays {
            let Some(session) = self.clients.get_mut(&client) else {
                return;
            };
            match session.inputs.pop() {
                Playback::Filling => {}
                Playback::Missing { .. } => {
                    self.counters.inputs_missing += 1;
                    let direction = session.last_direction;
                    self.extrapolate(client, direction);
                }
                Playback::Input { input, arrival_us } => {
                    self.counters.inputs_applied += 1;
                    self.apply_input(client, input, arrival_us, out);
                }
            }
        }
    }

    fn move_rules(&self, speed_m_per_s: f32) -> MoveRules<'_> {
        MoveRules {
            speed_m_per_s,
            dt_s: 1.0 / self.config.tick_hz as f32,
            world_size_m: self.config.world_size_m,
            colliders: &self.config.colliders,
            teleport_tolerance_m: self.config.teleport_tolerance_m,
        }
    }

    pub(super) fn is_alive(&self, handle: hecs::Entity) -> bool {
        self.world
            .get::<&Vitals>(handle)
            .is_ok_and(|vitals| vitals.dead_until_tick.is_none())
    }

    /// A missing input: keep going the way the player was going (no claim to check).
    fn extrapolate(&mut self, client: ClientId, direction: [f32; 2]) {
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let handle = session.entity;
        if !self.is_alive(handle) {
            return;
        }
        let Ok(from) = self.world.get::<&Body>(handle).map(|body| body.position_m) else {
            return;
        };
        let (to, _) = step(from, direction, &self.move_rules(self.config.player_speed_m_per_s));
        if let Ok(mut body) = self.world.get::<&mut Body>(handle) {
            body.position_m = to;
        }
    }

    fn apply_input(&mut self, client: ClientId, input: PlayerInput, arrival_us: u64, out: &mut ZoneOutput) {
        let Some(session) = self.clients.get(&client) else {
            return;
        };
        let handle = session.entity;
        if !self.is_alive(handle) {
            return;
        }
        if let Some(intent) = input.movement {
            self.apply_move_intent(client, handle, &intent);
        }
        match input.action {
            None => {}
            Some(Action::Attack { target, direction }) => self.attack(client, target, direction, arrival_us, out),
            Some(Action::PickUp { loot }) => self.pick_up(client, loot, out),
            Some(Action::Chat { text }) => self.chat(client, text, out),
            Some(Action::TradeOffer {
                target,
                give_item,
                want_item,
            }) => self.offer_trade(client, target, give_item, want_item, out),
            Some(Action::TradeAccept { from }) => self.accept_trade(client, from, out),
        }
    }

    fn apply_move_intent(&mut self, client: ClientId, handle: hecs::Entity, intent: &MoveIntent) {
        let Ok(from) = self.world.get::<&Body>(handle).map(|body| body.position_m) else {
            return;
        };
        let outcome = apply_move(from, intent, &self.move_rules(self.config.player_speed_m_per_s));
        match outcome.rejection {
            None => {}
            Some(MoveRejection::Malformed) => self.counters.moves_rejected_malformed += 1,
            Some(MoveRejection::SpeedHack) => self.counters.moves_rejected_speed_hack += 1,
            Some(MoveRejection::Teleport) => self.counters.moves_rejected_teleport += 1,
        }
        if outcome.blocked {
            self.counters.moves_blocked += 1;
        }
        let moved = !matches!(
            outcome.rejection,
            Some(MoveRejection::Malformed | MoveRejection::SpeedHack)
        );
        if let Some(session) = self.clients.get_mut(&client) {
            session.last_direction = if moved { intent.direction } else { [0.0; 2] };
        }
        if let Ok(mut body) = self.world.get::<&mut Body>(handle) {
            body.position_m = outcome.position_m;
            body.velocity_m_per_s = outcome.velocity_m_per_s;
            if moved {
                body.yaw = intent.yaw;
            }
        }
    }
}
