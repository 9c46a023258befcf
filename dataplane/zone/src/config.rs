//! Zone configuration and the hard limits it is checked against.

use meridian_proto::messages::SNAPSHOT_MESSAGE_BYTES_MAX;
use meridian_proto::snapshot::{SNAPSHOT_BUDGET_BYTES_MIN, SNAPSHOT_ENTITIES_MAX};

/// The largest snapshot payload one server snapshot message carries in one datagram: the most a
/// zone may encode for one client per tick.
pub const SNAPSHOT_BUDGET_BYTES_MAX: usize = SNAPSHOT_MESSAGE_BYTES_MAX;
use thiserror::Error;

/// Slowest fixed tick rate a zone may run at.
pub const TICK_HZ_MIN: u32 = 1;
/// Fastest fixed tick rate a zone may run at.
pub const TICK_HZ_MAX: u32 = 60;
/// Default tick rate: 20 Hz, a 50 ms step (docs/ARCHITECTURE.md, "Limits").
pub const TICK_HZ_DEFAULT: u32 = 20;
/// Hard ceiling on players in one zone instance, whatever the configured population limit.
pub const PLAYERS_PER_ZONE_MAX: usize = 16_384;
/// Hard ceiling on all entities (players, NPCs, loot) in one zone instance.
pub const ENTITIES_PER_ZONE_MAX: usize = 65_536;
/// Largest area-of-interest radius in cells (the AOI is a (2r+1)^2 block of cells).
pub const AOI_RADIUS_CELLS_MAX: u32 = 8;
/// Most cells along one axis of the interest grid.
pub const GRID_CELLS_PER_AXIS_MAX: u32 = 4096;
/// Most fixed steps one `tick` call may run to catch up after a late call; the rest are dropped and
/// counted, so a stalled caller cannot make the zone spiral.
pub const CATCH_UP_STEPS_MAX: u32 = 4;
/// Most colliders (static axis-aligned boxes) a zone may have.
pub const COLLIDERS_MAX: usize = 1024;

/// A static obstacle the server moves entities around: an axis-aligned box on the ground plane (x, y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Collider {
    pub min_m: [f32; 2],
    pub max_m: [f32; 2],
}

impl Collider {
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x > self.min_m[0] && x < self.max_m[0] && y > self.min_m[1] && y < self.max_m[1]
    }
}

/// Everything that tunes one zone. `ZoneConfig::default()` holds the defaults listed in
/// docs/ARCHITECTURE.md ("Limits"); `validate` checks a config against the limits above before a zone
/// is built from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneConfig {
    /// Identifies the zone (the same for all its layers); part of every idempotency key.
    pub zone_id: u32,
    pub tick_hz: u32,
    /// The zone spans `[0, world_size_m[0]) x [0, world_size_m[1])` on the ground plane (x, y; z is
    /// height, as in the snapshot codec).
    pub world_size_m: [f32; 2],
    pub aoi_cell_m: f32,
    /// AOI radius in cells around the client's own cell (Chebyshev distance), before load shedding.
    pub aoi_radius_cells: u32,
    /// Most entities one client tracks at a time (at most the codec's `SNAPSHOT_ENTITIES_MAX`, since
    /// the encoder turns baseline entities beyond its first 128 candidates into removals); in a crowd
    /// the nearest ones win and the rest are counted as AOI overflow. This also bounds per-client cost
    /// in a world-boss fight.
    pub visible_entities_max: usize,
    /// Snapshot byte budget per client per tick (the encoder fills it best-first).
    pub snapshot_budget_bytes: usize,
    /// Population limit per layer; arrivals past it go to a new layer.
    pub players_per_layer_max: usize,
    /// Extra room a layer keeps so a party member can always follow their party in.
    pub party_overflow_slots: usize,
    pub player_speed_m_per_s: f32,
    pub npc_speed_m_per_s: f32,
    /// Distance between where the server put a player and where the client claims to be beyond which
    /// the move is counted as a teleport attempt (the server position stands).
    pub teleport_tolerance_m: f32,
    pub colliders: Vec<Collider>,
    /// Depth of the input jitter buffer in ticks: playback of a client's inputs starts once this many
    /// are queued, which absorbs that much arrival jitter.
    pub input_jitter_ticks: u32,
    pub player_health_max: u16,
    pub npc_health_max: u16,
    pub attack_damage: u16,
    pub attack_range_m: f32,
    /// Radius of the sphere a hit-scan ray must pass through to hit.
    pub hit_radius_m: f32,
    pub attack_cooldown_ticks: u32,
    /// Client-side interpolation delay the lag compensation assumes.
    pub interpolation_delay_us: u64,
    /// Furthest back in time a shot is rewound; slower shooters are checked at this age.
    pub rewind_max_us: u64,
    pub respawn_delay_ticks: u32,
    pub player_spawn_m: [f32; 3],
    /// Joins without a position of their own (no persisted one yet) spawn within this radius of
    /// `player_spawn_m`, each at a point fixed by its character id (uniform over the disc, clamped
    /// to the world). 0 spawns everyone on the one point — a crowd as dense as a world boss.
    pub player_spawn_radius_m: f32,
    pub pickup_range_m: f32,
    /// Ticks after which an unconfirmed loot claim is sent to persistence again (same key).
    pub loot_confirm_retry_ticks: u32,
    /// Ticks a loot drop lies on the ground before it despawns (unless claimed).
    pub loot_lifetime_ticks: u32,
    /// Zone chat: messages a client may send per `chat_window_ticks`.
    pub chat_messages_per_window: u32,
    pub chat_window_ticks: u32,
    /// Work time per tick (as measured by the caller) above which load shedding escalates.
    pub tick_work_budget_us: u64,
    /// The cluster's tick origin in server time (µs since the Unix epoch): tick `n` of every zone
    /// is due at `tick_epoch_us + n × tick interval`, so zones on different workers and nodes agree
    /// on the tick number at a given time (their clocks kept in step by NTP) and a handoff never
    /// lands in a zone whose ticks are behind. `None`: the zone counts from its own creation (tests
    /// of one zone, the harness). A zone created later starts at the current tick number.
    pub tick_epoch_us: Option<u64>,
    /// Entity ids from a range of the zone's own (`zone_id << 16`, 65,536 ids), disjoint from
    /// every other zone's (zone ids below 65,536): a player handed between zones keeps its id, and
    /// a ghost carries its owner's id, so a client sees one id for an entity before, during and
    /// after its handoff. Off: every zone counts from 1 (a handoff into a zone using the id then
    /// renames the player once, counted as a resync).
    pub entity_ids_by_zone: bool,
}

/// The node's default cluster tick origin: 2026-01-01 00:00:00 UTC. Recent enough that tick numbers
/// fit the wire's 32 bits for years (2³² ticks are 6.8 years at 20 Hz, 2.2 years at 60 Hz).
pub const TICK_EPOCH_US_DEFAULT: u64 = 1_767_225_600 * 1_000_000;

impl Default for ZoneConfig {
    fn default() -> Self {
        Self {
            zone_id: 1,
            tick_hz: TICK_HZ_DEFAULT,
            world_size_m: [1024.0, 1024.0],
            aoi_cell_m: 32.0,
            aoi_radius_cells: 1,
            visible_entities_max: SNAPSHOT_ENTITIES_MAX,
            snapshot_budget_bytes: SNAPSHOT_BUDGET_BYTES_MAX,
            players_per_layer_max: 2000,
            party_overflow_slots: 8,
            player_speed_m_per_s: 7.0,
            npc_speed_m_per_s: 4.0,
            teleport_tolerance_m: 3.0,
            colliders: Vec::new(),
            input_jitter_ticks: 2,
            player_health_max: 100,
            npc_health_max: 60,
            attack_damage: 20,
            attack_range_m: 60.0,
            hit_radius_m: 0.6,
            attack_cooldown_ticks: 4,
            interpolation_delay_us: 100_000,
            rewind_max_us: 400_000,
            respawn_delay_ticks: 100,
            player_spawn_m: [512.0, 512.0, 0.0],
            player_spawn_radius_m: 0.0,
            pickup_range_m: 3.0,
            loot_confirm_retry_ticks: 40,
            loot_lifetime_ticks: 1200,
            chat_messages_per_window: 5,
            chat_window_ticks: 100,
            tick_work_budget_us: 25_000,
            tick_epoch_us: None,
            entity_ids_by_zone: false,
        }
    }
}

/// Why a config cannot be used; the caller's fault, not retryable without changing it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("zone id {zone_id} has no entity id range of its own (entity ids by zone need zone ids below 65536)")]
    ZoneIdRange { zone_id: u32 },
    #[error("tick rate {tick_hz} Hz outside {TICK_HZ_MIN}..={TICK_HZ_MAX}")]
    TickRate { tick_hz: u32 },
    #[error("world size must be positive and finite")]
    WorldSize,
    #[error("AOI cell size must be positive and finite")]
    CellSize,
    #[error("interest grid would have {cells} cells per axis, limit {GRID_CELLS_PER_AXIS_MAX}")]
    GridTooLarge { cells: u64 },
    #[error("AOI radius {cells} cells, limit {AOI_RADIUS_CELLS_MAX}")]
    AoiRadius { cells: u32 },
    #[error("population limit {players} outside 1..={PLAYERS_PER_ZONE_MAX}")]
    Population { players: usize },
    #[error("{colliders} colliders, limit {COLLIDERS_MAX}")]
    Colliders { colliders: usize },
    #[error("rewind limit {rewind_max_us} us exceeds the {history_us} us of position history kept")]
    Rewind { rewind_max_us: u64, history_us: u64 },
    #[error("visible_entities_max {entities} outside 1..={SNAPSHOT_ENTITIES_MAX}")]
    VisibleEntities { entities: usize },
    #[error("snapshot budget {bytes} B: must be in {}..={SNAPSHOT_BUDGET_BYTES_MAX} even at 3/4 when shedding", SNAPSHOT_BUDGET_BYTES_MIN * 4 / 3 + 1)]
    SnapshotBudget { bytes: usize },
    #[error("field {field} must be positive and finite")]
    NotPositive { field: &'static str },
}

impl ZoneConfig {
    /// Where a join without a position of its own appears: `player_spawn_m`, or a point of the
    /// spawn disc fixed by `character_id` (see `player_spawn_radius_m`).
    pub fn spawn_point(&self, character_id: u64) -> [f32; 3] {
        let center = self.player_spawn_m;
        if self.player_spawn_radius_m <= 0.0 {
            return center;
        }
        // SplitMix64 of the id: two independent 24-bit uniforms, for the angle and the area.
        let mut z = character_id.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let unit = |bits: u64| (bits & 0xff_ffff) as f32 / (1u32 << 24) as f32;
        let angle = unit(z) * std::f32::consts::TAU;
        let reach = unit(z >> 32).sqrt() * self.player_spawn_radius_m;
        let clamp = |value: f32, size: f32| value.clamp(0.0, size - f32::EPSILON * size);
        [
            clamp(center[0] + angle.cos() * reach, self.world_size_m[0]),
            clamp(center[1] + angle.sin() * reach, self.world_size_m[1]),
            center[2],
        ]
    }

    pub fn tick_interval_us(&self) -> u64 {
        1_000_000 / u64::from(self.tick_hz)
    }

    pub fn grid_cells(&self) -> [u32; 2] {
        let x = (self.world_size_m[0] / self.aoi_cell_m).ceil() as u32;
        let z = (self.world_size_m[1] / self.aoi_cell_m).ceil() as u32;
        [x.max(1), z.max(1)]
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.entity_ids_by_zone && self.zone_id > u32::from(u16::MAX) {
            return Err(ConfigError::ZoneIdRange { zone_id: self.zone_id });
        }
        if !(TICK_HZ_MIN..=TICK_HZ_MAX).contains(&self.tick_hz) {
            return Err(ConfigError::TickRate { tick_hz: self.tick_hz });
        }
        if !self.world_size_m.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(ConfigError::WorldSize);
        }
        if !(self.aoi_cell_m.is_finite() && self.aoi_cell_m > 0.0) {
            return Err(ConfigError::CellSize);
        }
        for axis in 0..2 {
            let cells = (f64::from(self.world_size_m[axis]) / f64::from(self.aoi_cell_m)).ceil() as u64;
            if cells > u64::from(GRID_CELLS_PER_AXIS_MAX) {
                return Err(ConfigError::GridTooLarge { cells });
            }
        }
        if self.aoi_radius_cells == 0 || self.aoi_radius_cells > AOI_RADIUS_CELLS_MAX {
            return Err(ConfigError::AoiRadius {
                cells: self.aoi_radius_cells,
            });
        }
        let players = self.players_per_layer_max + self.party_overflow_slots;
        if self.players_per_layer_max == 0 || players > PLAYERS_PER_ZONE_MAX {
            return Err(ConfigError::Population { players });
        }
        if self.colliders.len() > COLLIDERS_MAX {
            return Err(ConfigError::Colliders {
                colliders: self.colliders.len(),
            });
        }
        let history_us = crate::lag::HISTORY_TICKS as u64 * self.tick_interval_us();
        if self.rewind_max_us >= history_us {
            return Err(ConfigError::Rewind {
                rewind_max_us: self.rewind_max_us,
                history_us,
            });
        }
        for (field, value) in [
            ("player_speed_m_per_s", self.player_speed_m_per_s),
            ("npc_speed_m_per_s", self.npc_speed_m_per_s),
            ("teleport_tolerance_m", self.teleport_tolerance_m),
            ("attack_range_m", self.attack_range_m),
            ("hit_radius_m", self.hit_radius_m),
            ("pickup_range_m", self.pickup_range_m),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::NotPositive { field });
            }
        }
        if !(self.player_spawn_radius_m.is_finite() && self.player_spawn_radius_m >= 0.0) {
            return Err(ConfigError::NotPositive {
                field: "player_spawn_radius_m",
            });
        }
        if self.visible_entities_max == 0 || self.visible_entities_max > SNAPSHOT_ENTITIES_MAX {
            return Err(ConfigError::VisibleEntities {
                entities: self.visible_entities_max,
            });
        }
        let budget = self.snapshot_budget_bytes;
        if budget > SNAPSHOT_BUDGET_BYTES_MAX || budget * 3 / 4 < SNAPSHOT_BUDGET_BYTES_MIN {
            return Err(ConfigError::SnapshotBudget { bytes: budget });
        }
        if self.chat_window_ticks == 0 {
            return Err(ConfigError::NotPositive {
                field: "chat_window_ticks",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_points_spread_over_the_disc_and_stay_fixed_per_character() {
        let config = ZoneConfig {
            player_spawn_radius_m: 400.0,
            ..ZoneConfig::default()
        };
        let center = config.player_spawn_m;
        let points: Vec<[f32; 3]> = (0..2_000u64).map(|id| config.spawn_point(id)).collect();
        assert_eq!(config.spawn_point(7), points[7], "fixed by the character id");
        let distance = |p: &[f32; 3]| ((p[0] - center[0]).powi(2) + (p[1] - center[1]).powi(2)).sqrt();
        assert!(
            points
                .iter()
                .all(|p| distance(p) <= 400.01 && p[0] >= 0.0 && p[0] < 1024.0)
        );
        // Uniform over the area: about a quarter fall within half the radius.
        let inner = points.iter().filter(|p| distance(p) < 200.0).count();
        assert!((400..600).contains(&inner), "{inner} of 2000 within half the radius");
        let point = ZoneConfig::default();
        assert_eq!(point.spawn_point(7), point.player_spawn_m, "radius 0 is the one point");
        let bad = ZoneConfig {
            player_spawn_radius_m: f32::NAN,
            ..ZoneConfig::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn default_config_is_valid_and_20_hz() {
        let config = ZoneConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.tick_interval_us(), 50_000);
        assert_eq!(config.grid_cells(), [32, 32]);
    }

    #[test]
    fn tick_rate_outside_limits_is_rejected() {
        let mut config = ZoneConfig {
            tick_hz: 61,
            ..ZoneConfig::default()
        };
        assert_eq!(config.validate(), Err(ConfigError::TickRate { tick_hz: 61 }));
        config.tick_hz = 60;
        // 60 Hz keeps HISTORY_TICKS * 16.6 ms of history, still above the 400 ms rewind.
        assert_eq!(config.validate(), Ok(()));
        config.tick_hz = 0;
        assert_eq!(config.validate(), Err(ConfigError::TickRate { tick_hz: 0 }));
    }

    #[test]
    fn rewind_beyond_history_is_rejected() {
        let config = ZoneConfig {
            rewind_max_us: 10_000_000,
            ..ZoneConfig::default()
        };
        assert!(matches!(config.validate(), Err(ConfigError::Rewind { .. })));
    }

    /// Regression (harness seed 0 of the lag-compensation sweep, first run): the default rewind limit
    /// was 200 ms, below the 75 ms + 100 ms interpolation a 150 ms-RTT shooter needs, plus the 75 ms
    /// the shot itself travels, so every 150 ms shot was clamped and missed.
    #[test]
    fn default_rewind_covers_a_150_ms_rtt_shooter() {
        let config = ZoneConfig::default();
        let needed_us = 150_000 + config.interpolation_delay_us;
        assert!(config.rewind_max_us >= needed_us);
    }

    #[test]
    fn collider_contains_is_strict() {
        let wall = Collider {
            min_m: [0.0, 0.0],
            max_m: [1.0, 1.0],
        };
        assert!(wall.contains(0.5, 0.5));
        assert!(!wall.contains(1.0, 0.5));
    }
}
