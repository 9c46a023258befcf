//! The bit-level records of one entity: the update record (changed fields, positions as Exp-Golomb
//! deltas from the baseline's predicted position) and the full record (every field at its fixed
//! width), and the id codes of entering entities. Layout constants are in the parent module.

use super::entity::{EntityKind, QuantisedState};
use super::{
    CHANGE_CODE_UPDATE, ENTRY_ID_GAP_ORDER, FIELD_FLAGS, FIELD_HEALTH, FIELD_MASK_BITS, FIELD_POSITION, FIELD_VELOCITY,
    FIELD_YAW, FULL_RECORD_BITS, KIND_BITS, POSITION_BITS, POSITION_DELTA_ORDER, POSITION_Q_MAX, POSITION_UNITS_PER_M,
    SNAPSHOT_TICK_US, SnapshotError, VELOCITY_BITS, VELOCITY_Q_MIN, VELOCITY_UNITS_PER_M_S, YAW_BITS,
};
use crate::bits::{BitReader, BitRun, BitWriter, exp_golomb_bits};

/// Position predicted from the baseline: `position + velocity * age * tick`, in position units,
/// rounded half away from zero. Integer-only so both ends compute the same value.
pub(super) fn predicted_position(baseline: &QuantisedState, age_ticks: u32, axis: usize) -> i64 {
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

pub(super) fn update_fields(baseline: &QuantisedState, current: &QuantisedState) -> u64 {
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
pub(super) fn update_run(baseline: &QuantisedState, current: &QuantisedState, age_ticks: u32, fields: u64) -> BitRun {
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

pub(super) fn read_update_record(
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

pub(super) fn velocity_to_wire(units: i16) -> u64 {
    (i32::from(units) - VELOCITY_Q_MIN) as u64
}

pub(super) fn velocity_from_wire(wire: u64) -> i16 {
    debug_assert!(wire < 1 << VELOCITY_BITS);
    (wire as i32 + VELOCITY_Q_MIN) as i16
}

pub(super) fn write_full_record(writer: &mut BitWriter<'_>, state: &QuantisedState) {
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

pub(super) fn read_full_record(reader: &mut BitReader<'_>) -> Result<QuantisedState, SnapshotError> {
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
pub(super) fn entry_id_bits(previous: Option<u32>, id: u32) -> u32 {
    exp_golomb_bits(u64::from(entry_id_gap(previous, id)), ENTRY_ID_GAP_ORDER)
}

pub(super) fn entry_id_gap(previous: Option<u32>, id: u32) -> u32 {
    match previous {
        None => id,
        Some(previous) => {
            debug_assert!(id > previous);
            id - previous - 1
        }
    }
}
