//! `meridian-zone` owns one zone's simulation: the ECS world of players, NPCs and loot, the fixed-step
//! tick, the area-of-interest grid, per-client priority and byte budget, input buffering and movement
//! validation, the lag-compensation history, combat, loot, chat and layering. It is sans-IO: the
//! caller passes the time and the inputs to `tick` and receives what to send; there are no sockets,
//! threads or clock reads here, so a seeded harness can step many zones and clients deterministically.
#![forbid(unsafe_code)]

pub mod config;
pub mod grid;
pub mod input;
pub mod lag;

pub use config::{Collider, ConfigError, ZoneConfig};
pub use grid::{Cell, InterestGrid};
pub use input::{Action, InputAdmission, InputBuffer, MoveIntent, Playback, PlayerInput};
pub use lag::LagCompensationHistory;
