//! The bit-packed delta snapshot codec: what a zone tells one client about the entities it can see.
//!
//! The server keeps one [`SnapshotSender`] per client. Each tick it is given the client's candidate
//! entities (best first) and a byte budget; it quantises them and writes them as deltas against the
//! newest snapshot the client acknowledged (the *baseline*), entering entities whole and leaving ones
//! as removals, until the budget is full. It remembers the last [`SNAPSHOT_HISTORY`] snapshots it sent
//! so that an ack for any of them can become the next baseline.
//!
//! The client keeps one [`SnapshotReceiver`]. It remembers the last [`SNAPSHOT_HISTORY`] worlds it
//! decoded, so it can decode a delta against any baseline the server may pick (the sender never picks
//! one older than [`SNAPSHOT_HISTORY`] ticks). Decoding is total and transactional: bad bytes give a
//! [`SnapshotError`] and leave the receiver as it was.
//!
//! Delta rule: a field is delta'd only against the acked baseline, never against a snapshot the client
//! may not have. Positions are predicted from the baseline's position and velocity over the baseline's
//! age in ticks (integer arithmetic, identical on both sides), so an entity moving at a steady velocity
//! costs a few bits per tick. The byte layout is specified in `schemas/PROTOCOL.md` ("Snapshot").

use std::collections::BTreeMap;

use thiserror::Error;

pub use crate::DATAGRAM_BYTES_MAX;
use crate::bits::{BitReader, BitRun, BitWriter, BitsError, exp_golomb_bits};

/// Entities one snapshot (and so one client's world) holds at most.
pub const SNAPSHOT_ENTITIES_MAX: usize = 128;
/// Snapshots each side remembers; also the oldest baseline (in ticks) the sender will delta against.
pub const SNAPSHOT_HISTORY: usize = 32;
/// Smallest budget `encode` accepts: the header, one change bit for each of 128 baseline entities,
/// the entry count, and one entering entity with the largest possible id code always fit, so a
/// client makes progress under any budget the caller may pick.
pub const SNAPSHOT_BUDGET_BYTES_MIN: usize = (HEADER_BITS_MAX
    + SNAPSHOT_ENTITIES_MAX
    + ENTRY_COUNT_BITS as usize
    + ENTRY_ID_BITS_MAX as usize
    + FULL_RECORD_BITS as usize)
    .div_ceil(8);
/// The simulation tick the position predictor assumes (DESIGN.md: fixed 20 Hz).
pub const SNAPSHOT_TICK_US: i64 = 50_000;

/// Zone coordinates are within ±`POSITION_RANGE_M` on every axis; positions outside are clamped.
pub const POSITION_RANGE_M: f32 = 8192.0;
/// Position resolution: 1/64 m.
pub const POSITION_UNITS_PER_M: f32 = 64.0;
pub const POSITION_BITS: u32 = 20;
/// Yaw resolution: a full turn in 2^10 steps (0.35 degrees).
pub const YAW_BITS: u32 = 10;
/// Velocity components are within ±64 m/s at 1/32 m/s; faster ones are clamped.
pub const VELOCITY_UNITS_PER_M_S: f32 = 32.0;
pub const VELOCITY_BITS: u32 = 12;
pub const KIND_BITS: u32 = 2;

const POSITION_Q_MAX: u32 = (1 << POSITION_BITS) - 1;
const VELOCITY_Q_MIN: i32 = -(1 << (VELOCITY_BITS - 1));
const VELOCITY_Q_MAX: i32 = (1 << (VELOCITY_BITS - 1)) - 1;
const YAW_STEPS: u32 = 1 << YAW_BITS;

const TICK_BITS: u32 = 32;
const BASELINE_AGE_BITS: u32 = 5; // age - 1, so ages 1..=32
const ENTRY_COUNT_BITS: u32 = 8;
const HEADER_BITS_MAX: usize = (TICK_BITS + 1 + BASELINE_AGE_BITS) as usize;
/// Exp-Golomb orders, tuned on the 64-entity benchmark (perf/benches/snapshot_codec.rs).
const POSITION_DELTA_ORDER: u32 = 0;
const ENTRY_ID_GAP_ORDER: u32 = 2;
/// The longest entry id code: Exp-Golomb (order 2) of `u32::MAX` (checked by a test).
const ENTRY_ID_BITS_MAX: u32 = 63;
/// A full entity record: kind, position, yaw, velocity, health, flags.
const FULL_RECORD_BITS: u32 = KIND_BITS + 3 * POSITION_BITS + YAW_BITS + 3 * VELOCITY_BITS + 16 + 16;
const FIELD_MASK_BITS: u32 = 5;
const FIELD_POSITION: u64 = 1 << 0;
const FIELD_YAW: u64 = 1 << 1;
const FIELD_VELOCITY: u64 = 1 << 2;
const FIELD_HEALTH: u64 = 1 << 3;
const FIELD_FLAGS: u64 = 1 << 4;

const _: () = assert!(SNAPSHOT_HISTORY <= 1 << BASELINE_AGE_BITS);
const _: () = assert!(SNAPSHOT_ENTITIES_MAX < 1 << ENTRY_COUNT_BITS);
const _: () = assert!(SNAPSHOT_BUDGET_BYTES_MIN <= DATAGRAM_BYTES_MAX);
const _: () = assert!(FULL_RECORD_BITS <= crate::bits::BITS_PER_CALL_MAX * 4);

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeReport {
    pub bytes: usize,
    /// Candidates whose current (quantised) state the client will have after this snapshot, including
    /// unchanged ones that cost nothing.
    pub entities_sent: usize,
    /// Candidates left out for the budget, the entity limit, or as duplicates of an earlier id.
    pub entities_left_out: usize,
    pub removals_sent: usize,
    pub removals_left_out: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SnapshotError {
    #[error("snapshot payload of {bytes} bytes exceeds the datagram limit")]
    PayloadTooLarge { bytes: usize },
    #[error("snapshot bits: {0}")]
    Bits(#[from] BitsError),
    #[error("snapshot {tick} is delta'd against tick {baseline_tick}, which this client does not have")]
    BaselineUnknown { tick: u32, baseline_tick: u32 },
    #[error("snapshot {tick} names a baseline {age} ticks before tick 0")]
    BaselineBeforeTickZero { tick: u32, age: u32 },
    #[error("entity kind {value} is not defined")]
    EntityKindInvalid { value: u8 },
    #[error("entity id overflows u32 after id {previous_id}")]
    EntityIdOverflow { previous_id: u32 },
    #[error("entering entity {id} is already in the baseline")]
    EntryInBaseline { id: u32 },
    #[error("snapshot world would hold {entities} entities, more than the limit")]
    TooManyEntities { entities: usize },
    #[error("position delta of entity {id} leaves the zone range on axis {axis}")]
    PositionOutOfRange { id: u32, axis: usize },
}

/// An entity's state as it travels: integers, exactly what both ends agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct QuantisedState {
    kind: EntityKind,
    /// Units of 1/64 m from -8192 m, in `0..2^20`.
    position: [u32; 3],
    /// Steps of a full turn / 1024, in `0..1024`.
    yaw: u16,
    /// Units of 1/32 m/s, in `-2048..=2047`.
    velocity: [i16; 3],
    health: u16,
    flags: u16,
}

/// Rounds half away from zero without a libm call (`f64::round` is one on baseline x86-64). It agrees
/// with `f64::round` except for values within an ulp below a half (where adding 0.5 rounds up), which
/// only moves a quantisation boundary by that ulp; both ends use the server's result, so it stays
/// exact. `as` saturates and maps NaN to 0, so every float gives some integer.
fn round_to_i64(value: f64) -> i64 {
    if value >= 0.0 { (value + 0.5) as i64 } else { (value - 0.5) as i64 }
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
    const ZERO: QuantisedState = QuantisedState {
        kind: EntityKind::Player,
        position: [0; 3],
        yaw: 0,
        velocity: [0; 3],
        health: 0,
        flags: 0,
    };

    fn from_state(state: &EntityState) -> Self {
        QuantisedState {
            kind: state.kind,
            position: state.position.map(quantise_position),
            yaw: quantise_yaw(state.yaw),
            velocity: state.velocity.map(quantise_velocity),
            health: state.health,
            flags: state.flags,
        }
    }

    fn to_state(self, id: u32) -> EntityState {
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

/// Position predicted from the baseline: `position + velocity * age * tick`, in position units,
/// rounded half away from zero. Integer-only so both ends compute the same value.
fn predicted_position(baseline: &QuantisedState, age_ticks: u32, axis: usize) -> i64 {
    // units_pos = units_vel / 32 m/s * age * 0.05 s * 64 units/m
    let numerator =
        i64::from(baseline.velocity[axis]) * i64::from(age_ticks) * SNAPSHOT_TICK_US * POSITION_UNITS_PER_M as i64;
    let denominator = VELOCITY_UNITS_PER_M_S as i64 * 1_000_000;
    let displacement = if numerator >= 0 {
        (numerator + denominator / 2) / denominator
    } else {
        -((-numerator + denominator / 2) / denominator)
    };
    i64::from(baseline.position[axis]) + displacement
}

fn update_fields(baseline: &QuantisedState, current: &QuantisedState) -> u64 {
    let mut fields = 0;
    if current.position != baseline.position {
        fields |= FIELD_POSITION;
    }
    if current.yaw != baseline.yaw {
        fields |= FIELD_YAW;
    }
    if current.velocity != baseline.velocity {
        fields |= FIELD_VELOCITY;
    }
    if current.health != baseline.health {
        fields |= FIELD_HEALTH;
    }
    if current.flags != baseline.flags {
        fields |= FIELD_FLAGS;
    }
    fields
}

/// The change code and update record of `current` against `baseline`; `fields` is non-zero.
fn update_run(baseline: &QuantisedState, current: &QuantisedState, age_ticks: u32, fields: u64) -> BitRun {
    debug_assert!(fields != 0);
    let mut run = BitRun::new();
    run.push_bits(CHANGE_CODE_UPDATE.0, CHANGE_CODE_UPDATE.1);
    let position_only = fields == FIELD_POSITION;
    run.push_bits(u64::from(position_only), 1);
    if !position_only {
        run.push_bits(fields, FIELD_MASK_BITS);
    }
    if fields & FIELD_POSITION != 0 {
        for axis in 0..3 {
            let delta = i64::from(current.position[axis]) - predicted_position(baseline, age_ticks, axis);
            run.push_signed_exp_golomb(delta, POSITION_DELTA_ORDER);
        }
    }
    if fields & FIELD_YAW != 0 {
        run.push_bits(u64::from(current.yaw), YAW_BITS);
    }
    if fields & FIELD_VELOCITY != 0 {
        for axis in 0..3 {
            run.push_bits(velocity_to_wire(current.velocity[axis]), VELOCITY_BITS);
        }
    }
    if fields & FIELD_HEALTH != 0 {
        run.push_bits(u64::from(current.health), 16);
    }
    if fields & FIELD_FLAGS != 0 {
        run.push_bits(u64::from(current.flags), 16);
    }
    run
}

fn read_update_record(
    reader: &mut BitReader<'_>,
    id: u32,
    baseline: &QuantisedState,
    age_ticks: u32,
) -> Result<QuantisedState, SnapshotError> {
    let fields = if reader.read_bool()? {
        FIELD_POSITION
    } else {
        reader.read_bits(FIELD_MASK_BITS)?
    };
    let mut state = *baseline;
    if fields & FIELD_POSITION != 0 {
        for axis in 0..3 {
            let delta = reader.read_signed_exp_golomb(POSITION_DELTA_ORDER)?;
            let position = predicted_position(baseline, age_ticks, axis)
                .checked_add(delta)
                .filter(|position| (0..=i64::from(POSITION_Q_MAX)).contains(position))
                .ok_or(SnapshotError::PositionOutOfRange { id, axis })?;
            state.position[axis] = position as u32;
        }
    }
    if fields & FIELD_YAW != 0 {
        state.yaw = reader.read_bits(YAW_BITS)? as u16;
    }
    if fields & FIELD_VELOCITY != 0 {
        for axis in 0..3 {
            state.velocity[axis] = velocity_from_wire(reader.read_bits(VELOCITY_BITS)?);
        }
    }
    if fields & FIELD_HEALTH != 0 {
        state.health = reader.read_bits(16)? as u16;
    }
    if fields & FIELD_FLAGS != 0 {
        state.flags = reader.read_bits(16)? as u16;
    }
    Ok(state)
}

fn velocity_to_wire(units: i16) -> u64 {
    (i32::from(units) - VELOCITY_Q_MIN) as u64
}

fn velocity_from_wire(wire: u64) -> i16 {
    debug_assert!(wire < 1 << VELOCITY_BITS);
    (wire as i32 + VELOCITY_Q_MIN) as i16
}

fn write_full_record(writer: &mut BitWriter<'_>, state: &QuantisedState) {
    let start = writer.bits_written();
    writer.write_bits(state.kind as u64, KIND_BITS);
    for axis in 0..3 {
        writer.write_bits(u64::from(state.position[axis]), POSITION_BITS);
    }
    writer.write_bits(u64::from(state.yaw), YAW_BITS);
    for axis in 0..3 {
        writer.write_bits(velocity_to_wire(state.velocity[axis]), VELOCITY_BITS);
    }
    writer.write_bits(u64::from(state.health), 16);
    writer.write_bits(u64::from(state.flags), 16);
    debug_assert_eq!(writer.bits_written() - start, FULL_RECORD_BITS as usize);
}

fn read_full_record(reader: &mut BitReader<'_>) -> Result<QuantisedState, SnapshotError> {
    let kind_value = reader.read_bits(KIND_BITS)? as u8;
    let kind = EntityKind::from_u8(kind_value).ok_or(SnapshotError::EntityKindInvalid { value: kind_value })?;
    let mut position = [0u32; 3];
    for axis_position in &mut position {
        *axis_position = reader.read_bits(POSITION_BITS)? as u32;
    }
    let yaw = reader.read_bits(YAW_BITS)? as u16;
    let mut velocity = [0i16; 3];
    for axis_velocity in &mut velocity {
        *axis_velocity = velocity_from_wire(reader.read_bits(VELOCITY_BITS)?);
    }
    let health = reader.read_bits(16)? as u16;
    let flags = reader.read_bits(16)? as u16;
    Ok(QuantisedState {
        kind,
        position,
        yaw,
        velocity,
        health,
        flags,
    })
}

/// Exp-Golomb code of an entry id: the first is the id, later ones the gap `id - previous - 1`.
fn entry_id_bits(previous: Option<u32>, id: u32) -> u32 {
    exp_golomb_bits(u64::from(entry_id_gap(previous, id)), ENTRY_ID_GAP_ORDER)
}

fn entry_id_gap(previous: Option<u32>, id: u32) -> u32 {
    match previous {
        None => id,
        Some(previous) => {
            debug_assert!(id > previous);
            id - previous - 1
        }
    }
}

/// One snapshot as both ends remember it: its tick and the whole world it leaves the client with.
#[derive(Clone, Debug, Default)]
struct SnapshotRecord {
    tick: u32,
    /// Sorted by id, unique ids, at most `SNAPSHOT_ENTITIES_MAX`.
    entities: Vec<(u32, QuantisedState)>,
}

impl SnapshotRecord {
    fn find(&self, id: u32) -> Option<usize> {
        self.entities
            .binary_search_by_key(&id, |(entity_id, _)| *entity_id)
            .ok()
    }
}

/// A bounded ring of snapshot records, replaced oldest-tick first.
#[derive(Debug, Default)]
struct SnapshotHistory {
    records: Vec<SnapshotRecord>,
}

impl SnapshotHistory {
    fn find(&self, tick: u32) -> Option<&SnapshotRecord> {
        self.records.iter().find(|record| record.tick == tick)
    }

    fn position(&self, tick: u32) -> Option<usize> {
        self.records.iter().position(|record| record.tick == tick)
    }

    /// Like `store`, but moves `entities` in and hands back the replaced record's vector (contents
    /// unspecified) instead of copying.
    fn store_swap(&mut self, tick: u32, entities: &mut Vec<(u32, QuantisedState)>) -> bool {
        let Some(slot) = self.slot_for(tick) else {
            return false;
        };
        let record = &mut self.records[slot];
        record.tick = tick;
        std::mem::swap(&mut record.entities, entities);
        true
    }

    /// Stores `tick` with a copy of `entities`; drops the oldest tick when full. A tick older than
    /// everything in a full history is not stored. Returns whether it was stored.
    fn store(&mut self, tick: u32, entities: &[(u32, QuantisedState)]) -> bool {
        let Some(slot) = self.slot_for(tick) else {
            return false;
        };
        let record = &mut self.records[slot];
        record.tick = tick;
        record.entities.clear();
        record.entities.extend_from_slice(entities);
        true
    }

    /// The record `tick` goes into: its own, a new one, or the oldest when full (none if `tick` is
    /// older than everything in a full history).
    fn slot_for(&mut self, tick: u32) -> Option<usize> {
        debug_assert!(self.records.len() <= SNAPSHOT_HISTORY);
        if let Some(index) = self.position(tick) {
            Some(index)
        } else if self.records.len() < SNAPSHOT_HISTORY {
            self.records.push(SnapshotRecord::default());
            Some(self.records.len() - 1)
        } else {
            let (oldest_index, oldest) = self
                .records
                .iter()
                .enumerate()
                .min_by_key(|(_, record)| record.tick)
                .expect("history is full");
            (oldest.tick <= tick).then_some(oldest_index)
        }
    }
}

/// An entity's state in codec form (quantised), with its id. The zone quantises each entity once per
/// tick and hands every client's sender rows of the same table, instead of each sender quantising
/// every candidate again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantisedEntity {
    id: u32,
    state: QuantisedState,
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

/// Update records shared by all clients' encodes over one table of [`QuantisedEntity`] rows.
///
/// An update record is a pure function of the entity's current state, the client's baseline state
/// of it and the baseline's age. In steady state most clients acked the same recent tick, so they
/// need the same record for an entity: the first encode that needs it builds it, the others copy its
/// bits. One slot per row remembers the last record built (keyed by age and baseline state, checked
/// in full), so a hit always gives exactly the bits the encoder would have built.
#[derive(Debug, Default)]
pub struct DeltaCache {
    /// Bumped by `begin`; slots of an older epoch are empty.
    epoch: u32,
    slots: Vec<DeltaSlot>,
}

#[derive(Clone, Copy, Debug)]
struct DeltaSlot {
    epoch: u32,
    age_ticks: u32,
    baseline: QuantisedState,
    /// Change code and update record, ready to copy.
    run: BitRun,
}

impl DeltaCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every record: call whenever the table the rows index changes (once per tick).
    pub fn begin(&mut self, rows: usize) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: old slots could alias the new epoch, so clear them for real.
            self.slots.clear();
            self.epoch = 1;
        }
        if self.slots.len() < rows {
            self.slots.resize(
                rows,
                DeltaSlot {
                    epoch: 0,
                    age_ticks: 0,
                    baseline: QuantisedState::ZERO,
                    run: BitRun::new(),
                },
            );
        }
    }

    /// The change code and update record for `row` (current state `current`) against `baseline`
    /// at `age_ticks`; `fields` is `update_fields(baseline, current)`, non-zero.
    fn update_run(
        &mut self,
        row: u32,
        baseline: &QuantisedState,
        current: &QuantisedState,
        age_ticks: u32,
        fields: u64,
    ) -> BitRun {
        let epoch = self.epoch;
        let Some(slot) = self.slots.get_mut(row as usize) else {
            return update_run(baseline, current, age_ticks, fields);
        };
        if slot.epoch == epoch && slot.age_ticks == age_ticks && slot.baseline == *baseline {
            return slot.run;
        }
        let run = update_run(baseline, current, age_ticks, fields);
        *slot = DeltaSlot {
            epoch,
            age_ticks,
            baseline: *baseline,
            run,
        };
        run
    }
}

/// What the encoder decided for one baseline entity. Updates and replacements point into the
/// sender's `changed` list (new state and, for updates, the bits), which keeps this small.
#[derive(Clone, Copy, Debug)]
enum BaselineChange {
    /// Not in this snapshot: the client keeps the baseline state (unchanged, or left out).
    Keep,
    /// The change code and update record are `changed[i].1`.
    Update(u32),
    Remove,
    /// Same id, different kind: sent whole.
    Replace(u32),
}

const CHANGE_CODE_KEEP: (u64, u32) = (0b0, 1);
const CHANGE_CODE_UPDATE: (u64, u32) = (0b01, 2); // bits 1 then 0
const CHANGE_CODE_REMOVE: (u64, u32) = (0b011, 3); // bits 1, 1, 0
const CHANGE_CODE_REPLACE: (u64, u32) = (0b111, 3); // bits 1, 1, 1

/// How a candidate takes part in one encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CandidateRole {
    /// First occurrence of one of the first `SNAPSHOT_ENTITIES_MAX` distinct ids.
    Considered,
    /// A repeat of an earlier candidate's id, or an id past the first `SNAPSHOT_ENTITIES_MAX`.
    Ignored,
}

/// No baseline entity (a candidate that would enter).
const BASELINE_INDEX_NONE: u32 = u32::MAX;

/// Server side, one per client.
#[derive(Debug, Default)]
pub struct SnapshotSender {
    /// Every snapshot sent that may still become the baseline; the baseline is one of them.
    history: SnapshotHistory,
    /// Tick of the acked snapshot (in `history`) the next encode deltas against.
    baseline_tick: Option<u32>,
    tick_last: Option<u32>,
    /// Vectors of records dropped from `history`, for the next snapshots to reuse.
    spare_worlds: Vec<Vec<(u32, QuantisedState)>>,
    // Scratch, reused each tick so the hot path does not allocate after warm-up.
    changes: Vec<BaselineChange>,
    /// New state (and update bits) of the baseline entities that change, in decision order.
    changed: Vec<(QuantisedState, BitRun)>,
    /// Per baseline entity: among the considered candidates (else it is removed).
    baseline_seen: Vec<bool>,
    entries: Vec<(u32, QuantisedState)>,
    /// Candidates as `id << 32 | index`, sorted: duplicates side by side, ready to merge with the
    /// baseline (sorted by id).
    by_id: Vec<u64>,
    roles: Vec<CandidateRole>,
    /// Per candidate: its baseline entity's index, or `BASELINE_INDEX_NONE`.
    baseline_index: Vec<u32>,
    world: Vec<(u32, QuantisedState)>,
    left_out_ids: Vec<u32>,
    /// For `encode`: its candidates quantised, ranked in the order given, and a cache private to
    /// the call.
    table: Vec<QuantisedEntity>,
    ranked: Vec<(u64, u32)>,
    cache: DeltaCache,
}

impl SnapshotSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tick of the baseline the next `encode` would delta against, if any.
    pub fn baseline_tick(&self) -> Option<u32> {
        self.baseline_tick
    }

    /// Ids of the candidates the last `encode` left out, best first (for the caller's priority
    /// accumulators).
    pub fn left_out_ids(&self) -> &[u32] {
        &self.left_out_ids
    }

    /// Encodes the snapshot of `tick` for this client into `out` (cleared first).
    ///
    /// `candidates` is everything the client may see this tick, best first; only the first
    /// `SNAPSHOT_ENTITIES_MAX` distinct ids are considered. Entities of the baseline that are not among
    /// the candidates are sent as removals. Records are added best first while they fit in
    /// `budget_bytes`; what does not fit is left out and reported.
    ///
    /// Panics if `tick` is not newer than the previous `encode`'s tick, or if `budget_bytes` is outside
    /// `SNAPSHOT_BUDGET_BYTES_MIN..=DATAGRAM_BYTES_MAX` (both are caller bugs).
    pub fn encode(
        &mut self,
        tick: u32,
        candidates: &[EntityState],
        budget_bytes: usize,
        out: &mut Vec<u8>,
    ) -> EncodeReport {
        let mut table = std::mem::take(&mut self.table);
        let mut ranked = std::mem::take(&mut self.ranked);
        let mut cache = std::mem::take(&mut self.cache);
        table.clear();
        table.extend(candidates.iter().map(QuantisedEntity::new));
        ranked.clear();
        ranked.extend((0..candidates.len() as u32).map(|index| (u64::from(index), index)));
        cache.begin(table.len());
        let report = self.encode_ranked(tick, &table, &mut ranked, &mut cache, budget_bytes, out);
        self.table = table;
        self.ranked = ranked;
        self.cache = cache;
        report
    }

    /// Like [`Self::encode`], with the candidates given as `(rank key, row of table)` in any order
    /// (the lowest key is the best; keys should be distinct) and update records shared through
    /// `cache` with other clients' encodes over the same table. The bytes are exactly those `encode`
    /// gives for the rows sorted by key. `ranked` is sorted in place only when the order matters:
    /// when the budget or the entity limit leaves something out, or ids repeat or exceed
    /// `SNAPSHOT_ENTITIES_MAX`; a client whose whole view fits costs no sort. `cache` must have been
    /// `begin`-ed since `table` last changed.
    pub fn encode_ranked(
        &mut self,
        tick: u32,
        table: &[QuantisedEntity],
        ranked: &mut [(u64, u32)],
        cache: &mut DeltaCache,
        budget_bytes: usize,
        out: &mut Vec<u8>,
    ) -> EncodeReport {
        assert!(budget_bytes <= DATAGRAM_BYTES_MAX);
        assert!(budget_bytes >= SNAPSHOT_BUDGET_BYTES_MIN);
        assert!(
            self.tick_last.is_none_or(|tick_last| tick > tick_last),
            "snapshot ticks must increase"
        );
        self.tick_last = Some(tick);
        out.clear();

        let baseline_record = self.baseline_record(tick);
        let has_baseline = baseline_record.is_some();
        let (baseline, baseline_age): (&[(u32, QuantisedState)], u32) = match baseline_record {
            Some(index) => {
                let record = &self.history.records[index];
                (&record.entities, tick - record.tick)
            }
            None => (&[], 0),
        };

        let budget_bits = budget_bytes * 8;
        let header_bits = TICK_BITS as usize
            + 1
            + if has_baseline {
                BASELINE_AGE_BITS as usize
            } else {
                0
            };
        self.left_out_ids.clear();
        // Fast path: the whole view in one merge by id, when it all fits. Then the order of the
        // candidates does not matter (every record costs more than nothing, so every prefix of any
        // order fits too, and the wire order is the baseline's and the ids'), and each record is
        // decided and written in wire order at once.
        let whole = encode_whole(
            WholeView {
                tick,
                baseline_age: has_baseline.then_some(baseline_age),
                baseline,
                table,
                ranked,
                budget_bits,
            },
            cache,
            &mut self.by_id,
            &mut self.world,
            &mut self.entries,
            out,
        );
        let mut report = match whole {
            Some(report) => report,
            None => {
                // Something is left out (or ids repeat, or there are too many): the order decides what goes,
                // so rank and decide best first.
                out.clear();
                if !ranked.is_sorted_by_key(|&(key, _)| key) {
                    ranked.sort_unstable_by_key(|&(key, _)| key);
                }
                let (bits_used, entities_in_world, report) = {
                    let mut bits_used =
                        header_bits + baseline.len() * CHANGE_CODE_KEEP.1 as usize + ENTRY_COUNT_BITS as usize;
                    debug_assert!(bits_used <= budget_bits);
                    let mut report = EncodeReport::default();
                    self.changes.clear();
                    self.changes.resize(baseline.len(), BaselineChange::Keep);
                    self.changed.clear();
                    self.entries.clear();
                    self.left_out_ids.clear();

                    // Candidates considered: the first SNAPSHOT_ENTITIES_MAX distinct ids (first occurrences).
                    // Sorting (id, index) puts each id's first occurrence first in its run.
                    let candidate_count = ranked.len();
                    assert!(candidate_count <= u32::MAX as usize);
                    self.by_id.clear();
                    self.by_id.extend(
                        ranked
                            .iter()
                            .enumerate()
                            .map(|(index, &(_, row))| u64::from(table[row as usize].id) << 32 | index as u64),
                    );
                    self.by_id.sort_unstable();
                    self.roles.clear();
                    self.roles.resize(candidate_count, CandidateRole::Ignored);
                    let mut previous_id = None;
                    for &key in &self.by_id {
                        let id = (key >> 32) as u32;
                        if previous_id != Some(id) {
                            self.roles[key as u32 as usize] = CandidateRole::Considered;
                            previous_id = Some(id);
                        }
                    }
                    let mut considered = 0;
                    for role in &mut self.roles {
                        if *role == CandidateRole::Considered {
                            if considered == SNAPSHOT_ENTITIES_MAX {
                                *role = CandidateRole::Ignored;
                            } else {
                                considered += 1;
                            }
                        }
                    }

                    // Match considered candidates with baseline entities (both by id) in one merge.
                    self.baseline_index.clear();
                    self.baseline_index.resize(candidate_count, BASELINE_INDEX_NONE);
                    self.baseline_seen.clear();
                    self.baseline_seen.resize(baseline.len(), false);
                    let mut cursor = 0;
                    for &key in &self.by_id {
                        let index = key as u32 as usize;
                        if self.roles[index] != CandidateRole::Considered {
                            continue;
                        }
                        let id = (key >> 32) as u32;
                        while cursor < baseline.len() && baseline[cursor].0 < id {
                            cursor += 1;
                        }
                        if cursor == baseline.len() {
                            break;
                        }
                        if baseline[cursor].0 == id {
                            self.baseline_index[index] = cursor as u32;
                            self.baseline_seen[cursor] = true;
                        }
                    }

                    // Removals first: they are small and free room in the client's world.
                    let mut entities_in_world = baseline.len();
                    for (index, &seen) in self.baseline_seen.iter().enumerate() {
                        if seen {
                            continue;
                        }
                        let extra_bits = (CHANGE_CODE_REMOVE.1 - CHANGE_CODE_KEEP.1) as usize;
                        if bits_used + extra_bits <= budget_bits {
                            bits_used += extra_bits;
                            self.changes[index] = BaselineChange::Remove;
                            entities_in_world -= 1;
                            report.removals_sent += 1;
                        } else {
                            report.removals_left_out += 1;
                        }
                    }

                    // Then candidates, best first, each taken if it fits.
                    for (index, &(_, row)) in ranked.iter().enumerate() {
                        let candidate = &table[row as usize];
                        if self.roles[index] != CandidateRole::Considered {
                            report.entities_left_out += 1;
                            self.left_out_ids.push(candidate.id);
                            continue;
                        }
                        let current = candidate.state;
                        let baseline_index = self.baseline_index[index];
                        let sent = if baseline_index != BASELINE_INDEX_NONE {
                            let previous = &baseline[baseline_index as usize].1;
                            if previous.kind != current.kind {
                                let extra_bits =
                                    (CHANGE_CODE_REPLACE.1 - CHANGE_CODE_KEEP.1 + FULL_RECORD_BITS) as usize;
                                if bits_used + extra_bits <= budget_bits {
                                    bits_used += extra_bits;
                                    self.changes[baseline_index as usize] =
                                        BaselineChange::Replace(self.changed.len() as u32);
                                    self.changed.push((current, BitRun::new()));
                                    true
                                } else {
                                    false
                                }
                            } else {
                                let fields = update_fields(previous, &current);
                                if fields == 0 {
                                    true // unchanged: the client already has it, at no cost
                                } else {
                                    let run = cache.update_run(row, previous, &current, baseline_age, fields);
                                    let extra_bits = (run.bits() - CHANGE_CODE_KEEP.1) as usize;
                                    if bits_used + extra_bits <= budget_bits {
                                        bits_used += extra_bits;
                                        self.changes[baseline_index as usize] =
                                            BaselineChange::Update(self.changed.len() as u32);
                                        self.changed.push((current, run));
                                        true
                                    } else {
                                        false
                                    }
                                }
                            }
                        } else {
                            match self.entries.binary_search_by_key(&candidate.id, |(id, _)| *id) {
                                Ok(_) => unreachable!("duplicates were filtered above"),
                                Err(position) => {
                                    if entities_in_world >= SNAPSHOT_ENTITIES_MAX {
                                        false
                                    } else {
                                        let previous = position.checked_sub(1).map(|p| self.entries[p].0);
                                        let next = self.entries.get(position).map(|(id, _)| *id);
                                        let mut id_bits = entry_id_bits(previous, candidate.id) as isize;
                                        if let Some(next) = next {
                                            id_bits += entry_id_bits(Some(candidate.id), next) as isize;
                                            id_bits -= entry_id_bits(previous, next) as isize;
                                        }
                                        let extra_bits = (FULL_RECORD_BITS as isize + id_bits) as usize;
                                        if bits_used + extra_bits <= budget_bits {
                                            bits_used += extra_bits;
                                            self.entries.insert(position, (candidate.id, current));
                                            entities_in_world += 1;
                                            true
                                        } else {
                                            false
                                        }
                                    }
                                }
                            }
                        };
                        if sent {
                            report.entities_sent += 1;
                        } else {
                            report.entities_left_out += 1;
                            self.left_out_ids.push(candidate.id);
                        }
                    }
                    debug_assert_eq!(report.entities_sent + report.entities_left_out, ranked.len());
                    debug_assert!(entities_in_world <= SNAPSHOT_ENTITIES_MAX);
                    (bits_used, entities_in_world, report)
                };

                // Write it out, and remember the world the client will have.
                self.world.clear();
                let mut writer = BitWriter::new(out);
                writer.write_bits(u64::from(tick), TICK_BITS);
                writer.write_bool(has_baseline);
                if has_baseline {
                    writer.write_bits(u64::from(baseline_age - 1), BASELINE_AGE_BITS);
                }
                for (change, (id, previous)) in self.changes.iter().zip(baseline) {
                    match change {
                        BaselineChange::Keep => {
                            writer.write_bits(CHANGE_CODE_KEEP.0, CHANGE_CODE_KEEP.1);
                            self.world.push((*id, *previous));
                        }
                        BaselineChange::Update(index) => {
                            let (current, run) = &self.changed[*index as usize];
                            writer.write_run(run);
                            self.world.push((*id, *current));
                        }
                        BaselineChange::Remove => {
                            writer.write_bits(CHANGE_CODE_REMOVE.0, CHANGE_CODE_REMOVE.1);
                        }
                        BaselineChange::Replace(index) => {
                            let (current, _) = &self.changed[*index as usize];
                            writer.write_bits(CHANGE_CODE_REPLACE.0, CHANGE_CODE_REPLACE.1);
                            write_full_record(&mut writer, current);
                            self.world.push((*id, *current));
                        }
                    }
                }
                write_entries_and_finish(writer, &self.entries, bits_used);
                assert!(out.len() <= budget_bytes);

                // Merge entries into the world (both sorted by id, disjoint).
                let baseline_part = self.world.len();
                self.world.extend_from_slice(&self.entries);
                if baseline_part > 0 && !self.entries.is_empty() {
                    self.world.sort_unstable_by_key(|(id, _)| *id);
                }
                debug_assert!(self.world.len() == entities_in_world);
                report
            }
        };
        self.remember_world(tick);
        report.bytes = out.len();
        report
    }

    /// Like [`Self::encode_ranked`] when the client's whole view fits the budget (then the order
    /// of `ranked` does not matter and its keys are not read): encodes it and returns the report.
    /// Otherwise returns `None` and changes nothing the next encode would not (`out` holds
    /// garbage); the caller then ranks its candidates and calls `encode_ranked`. This lets a
    /// caller skip computing priorities for clients whose view fits.
    pub fn encode_whole(
        &mut self,
        tick: u32,
        table: &[QuantisedEntity],
        ranked: &[(u64, u32)],
        cache: &mut DeltaCache,
        budget_bytes: usize,
        out: &mut Vec<u8>,
    ) -> Option<EncodeReport> {
        assert!(budget_bytes <= DATAGRAM_BYTES_MAX);
        assert!(budget_bytes >= SNAPSHOT_BUDGET_BYTES_MIN);
        assert!(
            self.tick_last.is_none_or(|tick_last| tick > tick_last),
            "snapshot ticks must increase"
        );
        let baseline_record = self.baseline_record(tick);
        let (baseline, baseline_age): (&[(u32, QuantisedState)], Option<u32>) = match baseline_record {
            Some(index) => {
                let record = &self.history.records[index];
                (&record.entities, Some(tick - record.tick))
            }
            None => (&[], None),
        };
        let report = encode_whole(
            WholeView {
                tick,
                baseline_age,
                baseline,
                table,
                ranked,
                budget_bits: budget_bytes * 8,
            },
            cache,
            &mut self.by_id,
            &mut self.world,
            &mut self.entries,
            out,
        )?;
        self.tick_last = Some(tick);
        self.left_out_ids.clear();
        self.remember_world(tick);
        Some(report)
    }

    /// The acked snapshot the encode of `tick` deltas against (its index in `history`), if any.
    /// A baseline too old for the client's history (or from the future) is useless from now on.
    /// A baseline still young enough is always still in `history` (it keeps SNAPSHOT_HISTORY
    /// ticks, newest first), so the lookup only fails for one about to be dropped anyway.
    fn baseline_record(&mut self, tick: u32) -> Option<usize> {
        let baseline_record = self
            .baseline_tick
            .filter(|&baseline_tick| {
                let age = tick.wrapping_sub(baseline_tick);
                age != 0 && age as usize <= SNAPSHOT_HISTORY
            })
            .and_then(|baseline_tick| self.history.position(baseline_tick));
        if baseline_record.is_none() {
            self.baseline_tick = None;
        }
        baseline_record
    }

    /// Moves `world` (the client's world after the snapshot of `tick`) into the history.
    fn remember_world(&mut self, tick: u32) {
        // No copy: `self.world` gets a spare vector back (the replaced record's, or one freed by
        // `on_ack`). Ticks increase, so `tick` is not stored yet.
        debug_assert!(self.history.position(tick).is_none());
        let stored = if self.history.records.len() < SNAPSHOT_HISTORY {
            let spare = self.spare_worlds.pop().unwrap_or_default();
            let entities = std::mem::replace(&mut self.world, spare);
            self.history.records.push(SnapshotRecord { tick, entities });
            true
        } else {
            self.history.store_swap(tick, &mut self.world)
        };
        debug_assert!(stored, "ticks increase, so the newest snapshot is always stored");
        if self
            .baseline_tick
            .is_some_and(|baseline_tick| self.history.position(baseline_tick).is_none())
        {
            // Only a baseline of age SNAPSHOT_HISTORY is ever replaced, and the next encode would
            // drop it for its age anyway.
            self.baseline_tick = None;
        }
    }

    /// The client acknowledged the snapshot of `tick`: it becomes the baseline if it is newer than the
    /// current one and still remembered. Unknown or stale acks are ignored.
    pub fn on_ack(&mut self, tick: u32) {
        if self.baseline_tick.is_some_and(|baseline_tick| baseline_tick >= tick) {
            return;
        }
        if self.history.position(tick).is_some() {
            self.baseline_tick = Some(tick);
            // Snapshots older than the baseline can never become it again (acks older than the
            // baseline are ignored, and once the baseline is too old to use, so are they), so their
            // records go back to the spare list: the history stays a few records long, its scans
            // short and the vectors reused warm.
            let mut index = 0;
            while index < self.history.records.len() {
                if self.history.records[index].tick < tick {
                    let record = self.history.records.swap_remove(index);
                    self.spare_worlds.push(record.entities);
                } else {
                    index += 1;
                }
            }
            debug_assert!(self.spare_worlds.len() <= SNAPSHOT_HISTORY);
        }
    }
}

/// What `encode_whole` encodes: one client's snapshot of `tick` against `baseline`.
struct WholeView<'a> {
    tick: u32,
    /// `Some(age)` with a baseline.
    baseline_age: Option<u32>,
    baseline: &'a [(u32, QuantisedState)],
    table: &'a [QuantisedEntity],
    ranked: &'a [(u64, u32)],
    budget_bits: usize,
}

/// The fast path of [`SnapshotSender::encode_ranked`]: every candidate and every removal, in one
/// merge of the candidates (sorted by id) with the baseline (sorted by id), written in wire order
/// as it goes, with `world` (the client's world after this snapshot, by id) and `entries` built
/// alongside. Gives up (`None`; `out`, `world` and `entries` then hold garbage) as soon as the
/// whole view cannot be sent: ids repeat, there are more than `SNAPSHOT_ENTITIES_MAX`, or the
/// budget or the entity limit would leave something out. When it succeeds, the bytes, the world
/// and the report are exactly the ranked path's for any order of the candidates.
fn encode_whole(
    view: WholeView<'_>,
    cache: &mut DeltaCache,
    by_id: &mut Vec<u64>,
    world: &mut Vec<(u32, QuantisedState)>,
    entries: &mut Vec<(u32, QuantisedState)>,
    out: &mut Vec<u8>,
) -> Option<EncodeReport> {
    let WholeView {
        tick,
        baseline_age,
        baseline,
        table,
        ranked,
        budget_bits,
    } = view;
    if ranked.len() > SNAPSHOT_ENTITIES_MAX {
        return None;
    }
    by_id.clear();
    by_id.extend(
        ranked
            .iter()
            .map(|&(_, row)| u64::from(table[row as usize].id) << 32 | u64::from(row)),
    );
    by_id.sort_unstable();
    if by_id.windows(2).any(|pair| pair[0] >> 32 == pair[1] >> 32) {
        return None;
    }
    let header_bits = TICK_BITS as usize
        + 1
        + if baseline_age.is_some() {
            BASELINE_AGE_BITS as usize
        } else {
            0
        };
    let mut bits_used = header_bits + baseline.len() * CHANGE_CODE_KEEP.1 as usize + ENTRY_COUNT_BITS as usize;
    debug_assert!(bits_used <= budget_bits);
    let age_ticks = baseline_age.unwrap_or(0);
    let mut report = EncodeReport::default();
    world.clear();
    entries.clear();
    out.clear();
    let mut writer = BitWriter::new(out);
    writer.write_bits(u64::from(tick), TICK_BITS);
    writer.write_bool(baseline_age.is_some());
    if let Some(age) = baseline_age {
        writer.write_bits(u64::from(age - 1), BASELINE_AGE_BITS);
    }
    // An entering candidate: costs its id gap (after the previous entry, in id order) and a full
    // record, written after the baseline part.
    let mut enter = |key: u64, bits_used: &mut usize, world: &mut Vec<(u32, QuantisedState)>| {
        let id = (key >> 32) as u32;
        let state = table[key as u32 as usize].state;
        *bits_used += (FULL_RECORD_BITS + entry_id_bits(entries.last().map(|(id, _)| *id), id)) as usize;
        entries.push((id, state));
        world.push((id, state));
    };
    let mut next = 0;
    for (id, previous) in baseline {
        while next < by_id.len() && ((by_id[next] >> 32) as u32) < *id {
            enter(by_id[next], &mut bits_used, world);
            next += 1;
        }
        if next < by_id.len() && (by_id[next] >> 32) as u32 == *id {
            let row = by_id[next] as u32;
            next += 1;
            let current = table[row as usize].state;
            if previous.kind != current.kind {
                bits_used += (CHANGE_CODE_REPLACE.1 - CHANGE_CODE_KEEP.1 + FULL_RECORD_BITS) as usize;
                writer.write_bits(CHANGE_CODE_REPLACE.0, CHANGE_CODE_REPLACE.1);
                write_full_record(&mut writer, &current);
                world.push((*id, current));
            } else {
                let fields = update_fields(previous, &current);
                if fields == 0 {
                    writer.write_bits(CHANGE_CODE_KEEP.0, CHANGE_CODE_KEEP.1);
                    world.push((*id, *previous));
                } else {
                    let run = cache.update_run(row, previous, &current, age_ticks, fields);
                    bits_used += (run.bits() - CHANGE_CODE_KEEP.1) as usize;
                    writer.write_run(&run);
                    world.push((*id, current));
                }
            }
        } else {
            bits_used += (CHANGE_CODE_REMOVE.1 - CHANGE_CODE_KEEP.1) as usize;
            writer.write_bits(CHANGE_CODE_REMOVE.0, CHANGE_CODE_REMOVE.1);
            report.removals_sent += 1;
        }
        if bits_used > budget_bits {
            return None;
        }
    }
    while next < by_id.len() {
        enter(by_id[next], &mut bits_used, world);
        next += 1;
    }
    if bits_used > budget_bits || world.len() > SNAPSHOT_ENTITIES_MAX {
        return None;
    }
    write_entries_and_finish(writer, entries, bits_used);
    debug_assert!(world.windows(2).all(|pair| pair[0].0 < pair[1].0));
    report.entities_sent = ranked.len();
    report.bytes = out.len();
    Some(report)
}

/// Writes the entries section (count, then each new entity's id gap and full record) and finishes
/// the payload, checking it against the size the encoder accounted for beforehand.
fn write_entries_and_finish(mut writer: BitWriter<'_>, entries: &[(u32, QuantisedState)], bits_used: usize) {
    writer.write_bits(entries.len() as u64, ENTRY_COUNT_BITS);
    let mut previous_id = None;
    for (id, current) in entries {
        writer.write_exp_golomb(u64::from(entry_id_gap(previous_id, *id)), ENTRY_ID_GAP_ORDER);
        write_full_record(&mut writer, current);
        previous_id = Some(*id);
    }
    let bits_written = writer.finish();
    assert_eq!(bits_written, bits_used, "encoder's size accounting disagrees with what it wrote");
}

/// Client side.
#[derive(Debug, Default)]
pub struct SnapshotReceiver {
    history: SnapshotHistory,
    world: BTreeMap<u32, EntityState>,
    latest_tick: Option<u32>,
    scratch: Vec<(u32, QuantisedState)>,
}

impl SnapshotReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one snapshot payload and applies it. Total: bad bytes give `Err` and change nothing.
    /// A snapshot older than the newest one applied is decoded and remembered (the server may delta
    /// against it) but does not change [`Self::world`].
    pub fn apply(&mut self, payload: &[u8]) -> Result<u32, SnapshotError> {
        let tick = decode_snapshot(&self.history, payload, &mut self.scratch)?;
        let stored = self.history.store(tick, &self.scratch);
        if stored && self.latest_tick.is_none_or(|latest| tick > latest) {
            self.latest_tick = Some(tick);
            // Update the map in place (entities that left go, the rest are overwritten, new ones
            // inserted) rather than rebuilding it: most entities persist from tick to tick, and
            // rebuilding freed and reallocated every node of the map per snapshot, which was a
            // fifth of a bot swarm's CPU. `scratch` is sorted by id.
            // Both are sorted by id, so one pass over the map with a cursor into `scratch` updates
            // the survivors and drops the rest; only ids the map lacked are inserted afterwards.
            let scratch = &self.scratch;
            let (mut cursor, mut updated) = (0, 0);
            self.world.retain(|id, slot| {
                while scratch.get(cursor).is_some_and(|(entity, _)| entity < id) {
                    cursor += 1;
                }
                match scratch.get(cursor) {
                    Some((entity, state)) if entity == id => {
                        *slot = state.to_state(*id);
                        updated += 1;
                        true
                    }
                    _ => false,
                }
            });
            if updated < scratch.len() {
                for (id, state) in scratch {
                    self.world.entry(*id).or_insert_with(|| state.to_state(*id));
                }
            }
            debug_assert_eq!(self.world.len(), scratch.len());
        }
        Ok(tick)
    }

    /// The client's world as of [`Self::latest_tick`], dequantised.
    pub fn world(&self) -> &BTreeMap<u32, EntityState> {
        &self.world
    }

    /// Tick of the newest snapshot applied (what the client acks).
    pub fn latest_tick(&self) -> Option<u32> {
        self.latest_tick
    }
}

/// Decodes `payload` against `history` into `world` (sorted by id). Returns the snapshot's tick.
fn decode_snapshot(
    history: &SnapshotHistory,
    payload: &[u8],
    world: &mut Vec<(u32, QuantisedState)>,
) -> Result<u32, SnapshotError> {
    if payload.len() > DATAGRAM_BYTES_MAX {
        return Err(SnapshotError::PayloadTooLarge { bytes: payload.len() });
    }
    world.clear();
    let mut reader = BitReader::new(payload);
    let tick = reader.read_bits(TICK_BITS)? as u32;
    let empty = SnapshotRecord::default();
    let (baseline, baseline_age) = if reader.read_bool()? {
        let age = reader.read_bits(BASELINE_AGE_BITS)? as u32 + 1;
        let baseline_tick = tick
            .checked_sub(age)
            .ok_or(SnapshotError::BaselineBeforeTickZero { tick, age })?;
        let baseline = history
            .find(baseline_tick)
            .ok_or(SnapshotError::BaselineUnknown { tick, baseline_tick })?;
        (baseline, age)
    } else {
        (&empty, 0)
    };
    debug_assert!(baseline.entities.len() <= SNAPSHOT_ENTITIES_MAX);
    for (id, previous) in &baseline.entities {
        if !reader.read_bool()? {
            world.push((*id, *previous));
        } else if !reader.read_bool()? {
            world.push((*id, read_update_record(&mut reader, *id, previous, baseline_age)?));
        } else if !reader.read_bool()? {
            // removed
        } else {
            world.push((*id, read_full_record(&mut reader)?));
        }
    }
    let entry_count = reader.read_bits(ENTRY_COUNT_BITS)? as usize;
    let entities = world.len() + entry_count;
    if entities > SNAPSHOT_ENTITIES_MAX {
        return Err(SnapshotError::TooManyEntities { entities });
    }
    let baseline_part = world.len();
    let mut previous_id: Option<u32> = None;
    for _ in 0..entry_count {
        let gap = reader.read_exp_golomb(ENTRY_ID_GAP_ORDER)?;
        let id = match previous_id {
            None => u32::try_from(gap).map_err(|_| SnapshotError::EntityIdOverflow { previous_id: 0 })?,
            Some(previous) => u64::from(previous)
                .checked_add(gap + 1)
                .and_then(|id| u32::try_from(id).ok())
                .ok_or(SnapshotError::EntityIdOverflow { previous_id: previous })?,
        };
        if baseline.find(id).is_some() {
            return Err(SnapshotError::EntryInBaseline { id });
        }
        world.push((id, read_full_record(&mut reader)?));
        previous_id = Some(id);
    }
    reader.finish()?;
    if baseline_part > 0 && entry_count > 0 {
        world.sort_unstable_by_key(|(id, _)| *id);
    }
    debug_assert!(world.windows(2).all(|pair| pair[0].0 < pair[1].0));
    Ok(tick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    fn entity(id: u32, x: f32) -> EntityState {
        EntityState {
            id,
            kind: EntityKind::Player,
            position: [x, 10.0, 0.0],
            yaw: 1.0,
            velocity: [2.0, 0.0, 0.0],
            health: 100,
            flags: 0,
        }
    }

    fn quantised_map(candidates: &[EntityState]) -> BTreeMap<u32, EntityState> {
        candidates.iter().map(|state| (state.id, quantise(state))).collect()
    }

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
        let fine = entity(3, 12.34);
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

    #[test]
    fn budget_minimum_covers_the_longest_entry() {
        assert_eq!(
            exp_golomb_bits(u64::from(u32::MAX), ENTRY_ID_GAP_ORDER),
            ENTRY_ID_BITS_MAX
        );
        let mut sender = SnapshotSender::new();
        let mut out = Vec::new();
        let report = sender.encode(1, &[entity(u32::MAX, 0.0)], SNAPSHOT_BUDGET_BYTES_MIN, &mut out);
        assert_eq!(report.entities_sent, 1);
    }

    #[test]
    fn full_snapshot_round_trips() {
        let candidates: Vec<_> = (0..10).map(|i| entity(i * 7 + 3, i as f32)).collect();
        let mut sender = SnapshotSender::new();
        let mut receiver = SnapshotReceiver::new();
        let mut out = Vec::new();
        let report = sender.encode(1, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        assert_eq!(report.entities_sent, 10);
        assert_eq!(report.entities_left_out, 0);
        assert_eq!(report.bytes, out.len());
        assert_eq!(receiver.apply(&out), Ok(1));
        assert_eq!(receiver.latest_tick(), Some(1));
        assert_eq!(receiver.world(), &quantised_map(&candidates));
    }

    #[test]
    fn delta_moves_removals_entries_and_kind_change() {
        let mut candidates: Vec<_> = (0..20).map(|i| entity(i, i as f32)).collect();
        let mut sender = SnapshotSender::new();
        let mut receiver = SnapshotReceiver::new();
        let mut out = Vec::new();
        sender.encode(10, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        let full_bytes = out.len();
        receiver.apply(&out).unwrap();
        sender.on_ack(receiver.latest_tick().unwrap());
        assert_eq!(sender.baseline_tick(), Some(10));

        // Everyone moves one tick at 2 m/s: predicted exactly, so a few bits each.
        for state in &mut candidates {
            state.position[0] += 0.1;
        }
        let report = sender.encode(11, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        assert!(
            report.bytes * 10 < full_bytes,
            "delta {} vs full {}",
            report.bytes,
            full_bytes
        );
        assert_eq!(receiver.apply(&out), Ok(11));
        assert_eq!(receiver.world(), &quantised_map(&candidates));

        // Remove 5, add 3, change a kind and health; still delta'd against tick 10 (no new ack).
        candidates.retain(|state| state.id % 4 != 0);
        candidates.push(entity(1000, 5.0));
        candidates.push(entity(40, 6.0));
        candidates.push(entity(u32::MAX, 7.0));
        candidates[0].kind = EntityKind::Loot;
        candidates[1].health = 3;
        candidates[2].flags = 0xbeef;
        candidates[3].velocity = [0.0, -3.0, 1.0];
        candidates[4].yaw = 3.0;
        let report = sender.encode(12, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        assert_eq!(report.removals_sent, 5);
        assert_eq!(report.entities_sent, candidates.len());
        assert_eq!(receiver.apply(&out), Ok(12));
        assert_eq!(receiver.world(), &quantised_map(&candidates));
    }

    #[test]
    fn budget_is_filled_best_first_and_reported() {
        let candidates: Vec<_> = (0..100).map(|i| entity(i, i as f32)).collect();
        let mut sender = SnapshotSender::new();
        let mut receiver = SnapshotReceiver::new();
        let mut out = Vec::new();
        let report = sender.encode(1, &candidates, 300, &mut out);
        assert!(report.bytes <= 300);
        assert!(report.entities_sent > 0);
        assert_eq!(report.entities_sent + report.entities_left_out, 100);
        assert_eq!(sender.left_out_ids().len(), report.entities_left_out);
        // Best first: the sent ones are a prefix (all entries cost the same here).
        assert_eq!(sender.left_out_ids()[0], report.entities_sent as u32);
        receiver.apply(&out).unwrap();
        let expected = quantised_map(&candidates[..report.entities_sent]);
        assert_eq!(receiver.world(), &expected);
    }

    #[test]
    fn duplicate_and_excess_candidates_are_left_out() {
        let mut candidates: Vec<_> = (0..130).map(|i| entity(i, 0.0)).collect();
        candidates.insert(1, entity(0, 50.0));
        let mut sender = SnapshotSender::new();
        let mut out = Vec::new();
        let report = sender.encode(1, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        assert_eq!(report.entities_sent + report.entities_left_out, 131);
        assert!(sender.left_out_ids().contains(&0) || report.entities_sent < 128);
        let mut receiver = SnapshotReceiver::new();
        receiver.apply(&out).unwrap();
        assert!(receiver.world().len() <= SNAPSHOT_ENTITIES_MAX);
        assert_eq!(receiver.world()[&0], quantise(&entity(0, 0.0)));
    }

    #[test]
    fn unknown_baseline_is_a_typed_error_and_changes_nothing() {
        let candidates: Vec<_> = (0..5).map(|i| entity(i, i as f32)).collect();
        let mut sender = SnapshotSender::new();
        let mut out = Vec::new();
        sender.encode(1, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        sender.on_ack(1);
        sender.encode(2, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        let mut receiver = SnapshotReceiver::new();
        assert_eq!(
            receiver.apply(&out),
            Err(SnapshotError::BaselineUnknown {
                tick: 2,
                baseline_tick: 1
            })
        );
        assert_eq!(receiver.latest_tick(), None);
        assert!(receiver.world().is_empty());
    }

    #[test]
    fn truncated_and_padded_payloads_are_rejected() {
        let candidates: Vec<_> = (0..5).map(|i| entity(i, i as f32)).collect();
        let mut sender = SnapshotSender::new();
        let mut out = Vec::new();
        sender.encode(1, &candidates, DATAGRAM_BYTES_MAX, &mut out);
        for cut in 0..out.len() {
            let mut receiver = SnapshotReceiver::new();
            assert!(receiver.apply(&out[..cut]).is_err(), "cut at {cut}");
            assert!(receiver.world().is_empty());
        }
        let mut longer = out.clone();
        longer.push(0);
        assert!(matches!(
            SnapshotReceiver::new().apply(&longer),
            Err(SnapshotError::Bits(BitsError::TrailingBytes { trailing_bytes: 1 }))
        ));
        assert!(matches!(
            SnapshotReceiver::new().apply(&vec![0u8; DATAGRAM_BYTES_MAX + 1]),
            Err(SnapshotError::PayloadTooLarge { .. })
        ));
    }

    /// Test vector quoted in PROTOCOL.md: tick 7, no baseline, one player entity.
    #[test]
    fn snapshot_test_vector() {
        let state = EntityState {
            id: 5,
            kind: EntityKind::Player,
            position: [0.0, 0.0, 0.0],
            yaw: 0.0,
            velocity: [0.0, 0.0, 0.0],
            health: 100,
            flags: 1,
        };
        let mut sender = SnapshotSender::new();
        let mut out = Vec::new();
        sender.encode(7, &[state], DATAGRAM_BYTES_MAX, &mut out);
        let hex: String = out.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, SNAPSHOT_VECTOR_HEX);
        let mut receiver = SnapshotReceiver::new();
        assert_eq!(receiver.apply(&out), Ok(7));
        assert_eq!(receiver.world()[&5], quantise(&state));
    }
    const SNAPSHOT_VECTOR_HEX: &str = "07000000020c000008008000000800000220009201040000";

    /// A proptest runner with a fixed seed (runs are reproducible) that stores no failure files.
    fn seeded_runner(cases: u32, seed: u8) -> TestRunner {
        TestRunner::new_with_rng(
            Config { cases, failure_persistence: None, ..Config::default() },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        )
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut runner = seeded_runner(2000, 7);
        runner
            .run(&proptest::collection::vec(any::<u8>(), 0..300), |bytes| {
                let mut receiver = SnapshotReceiver::new();
                let _ = receiver.apply(&bytes);
                Ok(())
            })
            .unwrap();
    }

    /// One step of the lossy-network model.
    #[derive(Clone, Debug)]
    enum NetStep {
        /// Server ticks: entities move / enter / leave per the seed, a snapshot is queued.
        Tick { motion_seed: u64 },
        /// Deliver the queued snapshot at this index (mod queue length), or drop it.
        Deliver { index: usize, drop: bool },
        /// Deliver the queued ack at this index (mod queue length), or drop it.
        Ack { index: usize, drop: bool },
    }

    fn net_step() -> impl Strategy<Value = NetStep> {
        prop_oneof![
            any::<u64>().prop_map(|motion_seed| NetStep::Tick { motion_seed }),
            (any::<usize>(), any::<bool>()).prop_map(|(index, drop)| NetStep::Deliver { index, drop }),
            (any::<usize>(), any::<bool>()).prop_map(|(index, drop)| NetStep::Ack { index, drop }),
        ]
    }

    fn next_random(state: &mut u64) -> u64 {
        // splitmix64
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn step_world(world: &mut Vec<EntityState>, motion_seed: u64) {
        let mut random = motion_seed;
        for state in world.iter_mut() {
            let r = next_random(&mut random);
            if r.is_multiple_of(5) {
                state.velocity = [((r >> 8) % 17) as f32 - 8.0, ((r >> 16) % 17) as f32 - 8.0, 0.0];
                state.yaw = ((r >> 24) % 628) as f32 / 100.0;
            }
            if r.is_multiple_of(11) {
                state.health = state.health.saturating_sub(7);
            }
            if r.is_multiple_of(13) {
                state.flags ^= 1 << ((r >> 32) % 16);
            }
            for axis in 0..3 {
                state.position[axis] += state.velocity[axis] * 0.05;
            }
        }
        let r = next_random(&mut random);
        if r.is_multiple_of(4) && !world.is_empty() {
            world.remove((r >> 8) as usize % world.len());
        }
        if r.is_multiple_of(3) && world.len() < 40 {
            let id = ((r >> 16) % 200) as u32;
            if world.iter().all(|state| state.id != id) {
                world.push(EntityState {
                    id,
                    kind: EntityKind::from_u8(((r >> 40) % 3) as u8).unwrap(),
                    position: [((r >> 24) % 200) as f32 - 100.0, 3.0, 1.0],
                    yaw: 0.5,
                    velocity: [1.0, -1.0, 0.0],
                    health: 1000,
                    flags: 0,
                });
            }
        }
        // The caller's priority order is arbitrary; rotate it so best-first is exercised.
        if !world.is_empty() {
            let len = world.len();
            world.rotate_left((r >> 48) as usize % len);
        }
    }

    /// One lossy-network case: `steps` drive the server's world, the snapshot queue and the ack queue.
    /// Every snapshot the client applies as its newest must leave each entity it carried exactly at
    /// the server's quantised state; after the chaos, a quiet network must converge to the whole set.
    fn lossy_network_case(
        steps: Vec<NetStep>,
        budget_bytes: usize,
        deltas_encoded: &std::sync::atomic::AtomicUsize,
    ) -> Result<(), TestCaseError> {
        type Packet = (u32, Vec<u8>, BTreeMap<u32, EntityState>);
        let mut sender = SnapshotSender::new();
        let mut receiver = SnapshotReceiver::new();
        let mut world: Vec<EntityState> = (0..24).map(|i| entity(i * 3, i as f32)).collect();
        let mut tick = 0u32;
        let mut snapshots: Vec<Packet> = Vec::new();
        let mut acks: Vec<u32> = Vec::new();
        let apply = |receiver: &mut SnapshotReceiver,
                     acks: &mut Vec<u32>,
                     (sent_tick, payload, sent): &Packet|
         -> Result<(), TestCaseError> {
            let was_latest = receiver.latest_tick();
            prop_assert_eq!(receiver.apply(payload), Ok(*sent_tick));
            if was_latest.is_none_or(|latest| *sent_tick > latest) {
                prop_assert_eq!(receiver.latest_tick(), Some(*sent_tick));
                for (id, state) in sent {
                    prop_assert_eq!(
                        receiver.world().get(id),
                        Some(state),
                        "entity {} at tick {}",
                        id,
                        sent_tick
                    );
                }
                prop_assert!(receiver.world().len() <= SNAPSHOT_ENTITIES_MAX);
            }
            acks.push(receiver.latest_tick().unwrap());
            Ok(())
        };
        let encode = |sender: &mut SnapshotSender, tick: u32, world: &[EntityState]| -> Result<Packet, TestCaseError> {
            if sender.baseline_tick().is_some() {
                deltas_encoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let mut out = Vec::new();
            let report = sender.encode(tick, world, budget_bytes, &mut out);
            prop_assert!(out.len() <= budget_bytes);
            if budget_bytes == DATAGRAM_BYTES_MAX {
                prop_assert_eq!(report.entities_left_out, 0);
                prop_assert_eq!(report.removals_left_out, 0);
            }
            let sent: BTreeMap<u32, EntityState> = world
                .iter()
                .filter(|state| !sender.left_out_ids().contains(&state.id))
                .map(|state| (state.id, quantise(state)))
                .collect();
            Ok((tick, out, sent))
        };
        for step in steps {
            match step {
                NetStep::Tick { motion_seed } => {
                    tick += 1;
                    step_world(&mut world, motion_seed);
                    snapshots.push(encode(&mut sender, tick, &world)?);
                }
                NetStep::Deliver { index, drop } => {
                    if !snapshots.is_empty() {
                        let index = index % snapshots.len();
                        // Keep duplicates possible: only dropped packets leave the queue.
                        if drop {
                            snapshots.remove(index);
                        } else {
                            let packet = snapshots[index].clone();
                            apply(&mut receiver, &mut acks, &packet)?;
                        }
                    }
                }
                NetStep::Ack { index, drop } => {
                    if !acks.is_empty() {
                        let ack = acks.remove(index % acks.len());
                        if !drop {
                            sender.on_ack(ack);
                        }
                    }
                }
            }
            // Old packets eventually leave the network.
            if snapshots.len() > 40 {
                snapshots.remove(0);
            }
        }
        // Then the network turns perfect and the world stands still: whatever the budget, the client
        // converges to the whole candidate set within a few ticks.
        for _ in 0..40 {
            tick += 1;
            let packet = encode(&mut sender, tick, &world)?;
            apply(&mut receiver, &mut acks, &packet)?;
            sender.on_ack(receiver.latest_tick().unwrap());
        }
        prop_assert_eq!(receiver.world(), &quantised_map(&world));
        Ok(())
    }

    /// After any pattern of loss, reorder and duplication of snapshots and acks, every snapshot that
    /// the client applies as its newest leaves its world equal to the server's quantised candidates.
    #[test]
    fn lossy_reordering_network_converges() {
        let deltas_encoded = std::sync::atomic::AtomicUsize::new(0);
        let mut runner = seeded_runner(256, 42);
        runner
            .run(&proptest::collection::vec(net_step(), 1..200), |steps| {
                lossy_network_case(steps, DATAGRAM_BYTES_MAX, &deltas_encoded)
            })
            .unwrap();
        // The model must exercise deltas, not only full snapshots.
        assert!(deltas_encoded.into_inner() > 1000);
    }

    /// The same under a tight byte budget: entities that fit are exact, the rest catch up later.
    #[test]
    fn lossy_network_with_tight_budget_keeps_sent_entities_exact() {
        let deltas_encoded = std::sync::atomic::AtomicUsize::new(0);
        let mut runner = seeded_runner(256, 43);
        runner
            .run(
                &(
                    proptest::collection::vec(net_step(), 1..200),
                    SNAPSHOT_BUDGET_BYTES_MIN..400usize,
                ),
                |(steps, budget_bytes)| lossy_network_case(steps, budget_bytes, &deltas_encoded),
            )
            .unwrap();
        assert!(deltas_encoded.into_inner() > 1000);
    }

    /// Clients encoding ranked rows of one quantised table (in any order) through a shared
    /// `DeltaCache` get exactly the bytes, reports and left-out ids of their own `encode` of the
    /// best-first list, whatever mix of baselines (ack delays), windows and budgets they have, and
    /// every snapshot decodes.
    #[test]
    fn shared_delta_cache_gives_the_bytes_of_encode() {
        const CLIENTS: usize = 6;
        let mut random = 11u64;
        let mut world: Vec<EntityState> = (0..36).map(|i| entity(i * 3, i as f32)).collect();
        let mut shared: Vec<SnapshotSender> = (0..CLIENTS).map(|_| SnapshotSender::new()).collect();
        let mut alone: Vec<SnapshotSender> = (0..CLIENTS).map(|_| SnapshotSender::new()).collect();
        let mut receivers: Vec<SnapshotReceiver> = (0..CLIENTS).map(|_| SnapshotReceiver::new()).collect();
        let mut cache = DeltaCache::new();
        let (mut shared_bytes, mut alone_bytes) = (Vec::new(), Vec::new());
        for tick in 1..=300u32 {
            step_world(&mut world, next_random(&mut random));
            let table: Vec<QuantisedEntity> = world.iter().map(QuantisedEntity::new).collect();
            cache.begin(table.len());
            for client in 0..CLIENTS {
                // Each client sees most of the world, in its own order, sometimes with a repeat.
                let mut rows: Vec<u32> = (0..table.len() as u32)
                    .filter(|row| !(*row as usize + client).is_multiple_of(5))
                    .collect();
                let shift = client % rows.len().max(1);
                rows.rotate_left(shift);
                if tick % 7 == 0 && !rows.is_empty() {
                    rows.push(rows[0]);
                }
                let candidates: Vec<EntityState> = rows.iter().map(|&row| world[row as usize]).collect();
                let budget = [DATAGRAM_BYTES_MAX, 200, SNAPSHOT_BUDGET_BYTES_MIN][client % 3];
                // Ranked in a scrambled order with keys giving the best-first order back.
                let mut ranked: Vec<(u64, u32)> = rows
                    .iter()
                    .enumerate()
                    .map(|(index, &row)| (index as u64, row))
                    .collect();
                let shift = (tick as usize) % ranked.len().max(1);
                ranked.rotate_left(shift);
                ranked.reverse();
                // Odd clients try the whole view first, as the zone does.
                let whole = if client % 2 == 1 {
                    shared[client].encode_whole(tick, &table, &ranked, &mut cache, budget, &mut shared_bytes)
                } else {
                    None
                };
                let shared_report = match whole {
                    Some(report) => report,
                    None => {
                        shared[client].encode_ranked(tick, &table, &mut ranked, &mut cache, budget, &mut shared_bytes)
                    }
                };
                let alone_report = alone[client].encode(tick, &candidates, budget, &mut alone_bytes);
                assert_eq!(shared_bytes, alone_bytes, "client {client} tick {tick}");
                assert_eq!(shared_report, alone_report);
                assert_eq!(shared[client].left_out_ids(), alone[client].left_out_ids());
                assert_eq!(receivers[client].apply(&shared_bytes), Ok(tick));
                let delay = (client % 4) as u32;
                if tick > delay && !next_random(&mut random).is_multiple_of(5) {
                    shared[client].on_ack(tick - delay);
                    alone[client].on_ack(tick - delay);
                }
                assert_eq!(shared[client].baseline_tick(), alone[client].baseline_tick());
            }
        }
    }

    /// The bandwidth target: 64 visible entities moving at 20 Hz, acks arriving 3 ticks late, stay
    /// within 200 bytes per snapshot (4 KB/s per client).
    #[test]
    fn moving_crowd_meets_bandwidth_target() {
        let mut random = 5u64;
        let mut world: Vec<EntityState> = (0..64)
            .map(|i| EntityState {
                id: 100 + i * 5,
                kind: if i % 4 == 0 {
                    EntityKind::Npc
                } else {
                    EntityKind::Player
                },
                position: [(i % 8) as f32 * 6.0, (i / 8) as f32 * 6.0, 0.0],
                yaw: 0.0,
                velocity: [0.0; 3],
                health: 1000,
                flags: 0,
            })
            .collect();
        let mut sender = SnapshotSender::new();
        let mut receiver = SnapshotReceiver::new();
        let mut out = Vec::new();
        let mut bytes_total = 0;
        let ticks = 400;
        for tick in 1..=ticks {
            for state in &mut world {
                // A new heading about every 1.5 s, walking or running.
                if next_random(&mut random).is_multiple_of(30) {
                    let heading = (next_random(&mut random) % 6283) as f32 / 1000.0;
                    let speed = [0.0, 1.5, 5.0][(next_random(&mut random) % 3) as usize];
                    state.velocity = [speed * heading.cos(), speed * heading.sin(), 0.0];
                    state.yaw = heading;
                }
                for axis in 0..3 {
                    state.position[axis] += state.velocity[axis] * 0.05;
                }
            }
            let report = sender.encode(tick, &world, DATAGRAM_BYTES_MAX, &mut out);
            assert_eq!(report.entities_left_out, 0);
            if tick > 1 {
                bytes_total += report.bytes;
            }
            receiver.apply(&out).unwrap();
            assert_eq!(receiver.world(), &quantised_map(&world));
            if tick >= 3 {
                sender.on_ack(tick - 2);
            }
        }
        let bytes_per_snapshot = bytes_total / (ticks as usize - 1);
        assert!(bytes_per_snapshot <= 200, "{bytes_per_snapshot} bytes per snapshot");
    }
}
