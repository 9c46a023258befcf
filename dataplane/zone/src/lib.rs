//! `meridian-zone` owns one zone's simulation: the ECS world of players, NPCs and loot, the fixed-step
//! tick, the area-of-interest grid, per-client priority and byte budget, input buffering and movement
//! validation, the lag-compensation history, combat, loot, chat and layering. It is sans-IO: the
//! caller passes the time and the inputs to `tick` and receives what to send; there are no sockets,
//! threads or clock reads here, so a seeded harness can step many zones and clients deterministically.
//!
//! The world is a `hecs` ECS rather than `bevy_ecs`: the zone needs archetype storage and queries,
//! not a scheduler, system params, change detection or a plugin/app layer (the tick is one explicit
//! function and the worker owns the threads). hecs is one small crate that builds in seconds on the
//! 2-core build box; bevy_ecs pulls in a much larger dependency tree for features this crate would
//! not use.
//!
//! Shape of a tick (`Zone::tick`): drain inputs into per-client jitter buffers (`InputBuffer`), run
//! the fixed steps that are due (movement under server rules, combat with lag compensation via
//! `LagCompensationHistory`, loot, chat, NPCs, respawns), then replicate once: rebuild the
//! `InterestGrid`, rank each client's area of interest and let `meridian_proto::snapshot` fill its
//! byte budget. `ZoneLayers` splits a crowded zone into layers, keeping parties together.
//! Coordinates follow the snapshot codec: x, y on the ground, z up, metres.
#![forbid(unsafe_code)]

pub mod config;
pub mod grid;
pub mod harness;
pub mod input;
pub mod lag;
pub mod layers;
pub mod load;
pub mod movement;
mod replication;
pub mod shedding;
pub mod world;
pub mod zone;

pub use config::TICK_EPOCH_US_DEFAULT;
pub use config::{Collider, ConfigError, SNAPSHOT_BUDGET_BYTES_MAX, ZoneConfig};
pub use grid::{Cell, InterestGrid};
pub use input::InputBufferState;
pub use input::{Action, CatchUp, InputAdmission, InputBuffer, MoveIntent, Playback, PlayerInput};
pub use lag::LagCompensationHistory;
pub use layers::{LayerError, RefusedHandoff, RouteError, ZoneLayers};
pub use movement::MoveRejection;
pub use shedding::LoadShedding;
pub use world::{LayoutError, WorldLayout, ZoneRect};
pub use zone::{
    ActorKind, AdmitRefusal, ClientEvent, ClientId, FreezeRefusal, IdempotencyKey, JoinRefusal, LootRecord, NpcRecord,
    PartyId, PersistenceEvent, PersistenceOutcome, PickUpRefusal, PlayerHandoff, PlayerState, SnapshotDatagram,
    TradeRefusal, Zone, ZoneCounters, ZoneError, ZoneInput, ZoneOutput, ZoneStateExport,
};
pub use zone::{HANDOFF_STATE_BYTES_MAX, HandoffStateError};
