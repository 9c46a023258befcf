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
//!
//! Files: `entity` (entity state and quantisation) · `codec` (the bit-level records of one entity) ·
//! `history` (remembered snapshots) · `delta_cache` (update records shared between clients) · `sender`
//! · `receiver`. The wire layout constants are here, shared by all of them.

use thiserror::Error;

pub use crate::DATAGRAM_BYTES_MAX;
use crate::bits::BitsError;

mod codec;
mod delta_cache;
mod entity;
mod history;
mod receiver;
mod sender;

pub use delta_cache::DeltaCache;
pub use entity::{EntityKind, EntityState, QuantisedEntity, quantise};
pub use receiver::SnapshotReceiver;
pub use sender::SnapshotSender;

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
/// The simulation tick the position predictor assumes: 50 ms, the default 20 Hz zone tick. It is part
/// of the wire format, so it stays 50 ms whatever rate a zone really ticks at.
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

const CHANGE_CODE_KEEP: (u64, u32) = (0b0, 1);
const CHANGE_CODE_UPDATE: (u64, u32) = (0b01, 2); // bits 1 then 0
const CHANGE_CODE_REMOVE: (u64, u32) = (0b011, 3); // bits 1, 1, 0
const CHANGE_CODE_REPLACE: (u64, u32) = (0b111, 3); // bits 1, 1, 1

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

// The codec's tests drive a sender and a receiver together (bytes, worlds, acks), so they live with
// the module that joins them rather than in either half.
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bits::exp_golomb_bits;
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
            Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            },
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
