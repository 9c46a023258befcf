//! Entity state on both sides of the codec: what the zone hands in ([`EntityState`], floats), what
//! travels ([`QuantisedState`], integers both ends agree on exactly), and the conversions between them.

use super::{
    POSITION_Q_MAX, POSITION_RANGE_M, POSITION_UNITS_PER_M, VELOCITY_Q_MAX, VELOCITY_Q_MIN, VELOCITY_UNITS_PER_M_S,
    YAW_STEPS,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntityKind {
    Player = 0,
    Npc = 1,
    Loot = 2,
}

impl EntityKind {
    pub fn from_u8(value: u8) -> Option<EntityKind> {
        match value {
            0 => Some(EntityKind::Player),
            1 => Some(EntityKind::Npc),
            2 => Some(EntityKind::Loot),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntityState {
    pub id: u32,
    pub kind: EntityKind,
    /// Metres; x, y horizontal, z height.
    pub position: [f32; 3],
    /// Radians.
    pub yaw: f32,
    /// Metres per second.
    pub velocity: [f32; 3],
    pub health: u16,
    pub flags: u16,
}

/// An entity's state as it travels: integers, exactly what both ends agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QuantisedState {
    pub(super) kind: EntityKind,
    /// Units of 1/64 m from -8192 m, in `0..2^20`.
    pub(super) position: [u32; 3],
    /// Steps of a full turn / 1024, in `0..1024`.
    pub(super) yaw: u16,
    /// Units of 1/32 m/s, in `-2048..=2047`.
    pub(super) velocity: [i16; 3],
    pub(super) health: u16,
    pub(super) flags: u16,
}

/// Rounds half away from zero without a libm call (`f64::round` is one on baseline x86-64). It agrees
/// with `f64::round` except for values within an ulp below a half (where adding 0.5 rounds up), which
/// only moves a quantisation boundary by that ulp; both ends use the server's result, so it stays
/// exact. `as` saturates and maps NaN to 0, so every float gives some integer.
fn round_to_i64(value: f64) -> i64 {
    if value >= 0.0 {
        (value + 0.5) as i64
    } else {
        (value - 0.5) as i64
    }
}

fn quantise_position(metres: f32) -> u32 {
    let units = round_to_i64((f64::from(metres) + f64::from(POSITION_RANGE_M)) * f64::from(POSITION_UNITS_PER_M));
    units.clamp(0, i64::from(POSITION_Q_MAX)) as u32
}

fn dequantise_position(units: u32) -> f32 {
    units as f32 / POSITION_UNITS_PER_M - POSITION_RANGE_M
}

fn quantise_yaw(radians: f32) -> u16 {
    let steps = round_to_i64(f64::from(radians) / std::f64::consts::TAU * f64::from(YAW_STEPS));
    steps.rem_euclid(i64::from(YAW_STEPS)) as u16
}

fn dequantise_yaw(steps: u16) -> f32 {
    (f64::from(steps) * std::f64::consts::TAU / f64::from(YAW_STEPS)) as f32
}

fn quantise_velocity(metres_per_s: f32) -> i16 {
    let units = round_to_i64(f64::from(metres_per_s) * f64::from(VELOCITY_UNITS_PER_M_S));
    units.clamp(i64::from(VELOCITY_Q_MIN), i64::from(VELOCITY_Q_MAX)) as i16
}

fn dequantise_velocity(units: i16) -> f32 {
    f32::from(units) / VELOCITY_UNITS_PER_M_S
}

impl QuantisedState {
    /// Placeholder for empty cache slots; never compared as a live state (slots carry an epoch).
    pub(super) const ZERO: QuantisedState = QuantisedState {
        kind: EntityKind::Player,
        position: [0; 3],
        yaw: 0,
        velocity: [0; 3],
        health: 0,
        flags: 0,
    };

    pub(super) fn from_state(state: &EntityState) -> Self {
        QuantisedState {
            kind: state.kind,
            position: state.position.map(quantise_position),
            yaw: quantise_yaw(state.yaw),
            velocity: state.velocity.map(quantise_velocity),
            health: state.health,
            flags: state.flags,
        }
    }

    pub(super) fn to_state(self, id: u32) -> EntityState {
        EntityState {
            id,
            kind: self.kind,
            position: self.position.map(dequantise_position),
            yaw: dequantise_yaw(self.yaw),
            velocity: self.velocity.map(dequantise_velocity),
            health: self.health,
            flags: self.flags,
        }
    }
}

/// What the client sees of `state` after a round trip through the codec.
pub fn quantise(state: &EntityState) -> EntityState {
    QuantisedState::from_state(state).to_state(state.id)
}

/// An entity's state in codec form (quantised), with its id. The zone quantises each entity once per
/// tick and hands every client's sender rows of the same table, instead of each sender quantising
/// every candidate again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantisedEntity {
    pub(super) id: u32,
    pub(super) state: QuantisedState,
}

impl QuantisedEntity {
    pub fn new(state: &EntityState) -> Self {
        QuantisedEntity {
            id: state.id,
            state: QuantisedState::from_state(state),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantise_is_idempotent_and_bounded() {
        let wild = EntityState {
            id: 1,
            kind: EntityKind::Npc,
            position: [f32::NAN, 1e9, -1e9],
            yaw: -7.0,
            velocity: [f32::INFINITY, -100.0, 0.015],
            health: 7,
            flags: 9,
        };
        let once = quantise(&wild);
        assert_eq!(quantise(&once), once);
        assert_eq!(
            once.position,
            [-POSITION_RANGE_M, 8192.0 - 1.0 / 64.0, -POSITION_RANGE_M]
        );
        assert_eq!(once.velocity, [2047.0 / 32.0, -64.0, 0.0]);
        assert!((0.0..std::f32::consts::TAU).contains(&once.yaw));
        let fine = EntityState {
            id: 3,
            kind: EntityKind::Player,
            position: [12.34, 10.0, 0.0],
            yaw: 1.0,
            velocity: [2.0, 0.0, 0.0],
            health: 100,
            flags: 0,
        };
        assert!((quantise(&fine).position[0] - 12.34).abs() <= 1.0 / 128.0);
        assert!((quantise(&fine).yaw - 1.0).abs() <= std::f32::consts::PI / 1024.0);
    }

    #[test]
    fn rounding_matches_std_round() {
        for value in [
            0.0,
            0.4999999,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.4999,
            1e15,
            -1e15,
            1048575.49,
            3.999_999_9,
        ] {
            assert_eq!(round_to_i64(value), value.round() as i64, "{value}");
        }
        assert_eq!(round_to_i64(f64::NAN), 0);
        assert_eq!(round_to_i64(f64::INFINITY), i64::MAX);
    }
}
