//! The server side of the codec: one [`SnapshotSender`] per client decides what fits the budget and
//! writes it against the client's acked baseline.

use super::codec::{entry_id_bits, entry_id_gap, update_fields, write_full_record};
use super::delta_cache::DeltaCache;
use super::entity::{EntityState, QuantisedEntity, QuantisedState};
use super::history::{SnapshotHistory, SnapshotRecord};
use super::{
    BASELINE_AGE_BITS, CHANGE_CODE_KEEP, CHANGE_CODE_REMOVE, CHANGE_CODE_REPLACE, DATAGRAM_BYTES_MAX, ENTRY_COUNT_BITS,
    ENTRY_ID_GAP_ORDER, EncodeReport, FULL_RECORD_BITS, SNAPSHOT_BUDGET_BYTES_MIN, SNAPSHOT_ENTITIES_MAX,
    SNAPSHOT_HISTORY, TICK_BITS,
};
use crate::bits::{BitRun, BitWriter};

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
        let header_bits = TICK_BITS as usize + 1 + if has_baseline { BASELINE_AGE_BITS as usize } else { 0 };
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
    assert_eq!(
        bits_written, bits_used,
        "encoder's size accounting disagrees with what it wrote"
    );
}
