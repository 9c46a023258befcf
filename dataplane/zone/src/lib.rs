//! `meridian-zone` owns one zone's simulation: the ECS world of players, NPCs and loot, the fixed-step
//! tick, the area-of-interest grid, per-client priority and byte budget, input buffering and movement
//! validation, the lag-compensation history, combat, loot, chat and layering. It is sans-IO: the
//! caller passes the time and the inputs to `tick` and receives what to send; there are no sockets,
//! threads or clock reads here, so a seeded harness can step many zones and clients deterministically.
//! Nothing is implemented here yet (see the zone simulation issue).
#![forbid(unsafe_code)]
