//! Write-behind checkpoints: zones push character state (position, stats) into a bounded
//! [`CheckpointQueue`] on their tick; a task flushes it every `interval` (30 s by default) as one
//! `UPDATE … FROM unnest(…)` per shard. Nothing here waits on the database from the tick's side:
//! `push` takes a mutex held only for a map insert (the flush swaps the whole map out in O(1)).
//!
//! The queue is keyed by character: a newer state replaces the queued one (coalesced, counted), so
//! the queue never holds more than one state per character and a slow or absent database costs
//! memory bounded by `capacity`, not by time. A new character arriving when `capacity` characters
//! are queued is dropped and counted (its next push, one checkpoint later, carries it).
//!
//! Each state carries the zone's fencing token (a checkpoint from a zone's previous owner is not
//! written) and a sequence number that only grows per character (an older state never overwrites a
//! newer one, e.g. two zones during a hand-off).

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{Economy, EconomyError};

/// The default flush interval (the design's "checkpoints every 30 s").
pub const CHECKPOINT_INTERVAL_S: u64 = 30;
/// Character stats in a checkpoint, serialised, at most this many bytes (the column allows 8 KiB
/// of jsonb text, about twice serde's compact form).
pub const CHARACTER_STATS_BYTES_MAX: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharacterState {
    pub character_id: i64,
    pub zone_id: i64,
    pub fencing_token: i64,
    /// Grows with every state the zone produces for this character (the zone's tick number works).
    pub seq: i64,
    pub position: [f32; 3],
    pub stats: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Queued,
    /// Replaced the character's queued state.
    Coalesced,
    /// The queue held `capacity` other characters.
    Dropped,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointCounters {
    pub pushed: u64,
    pub coalesced: u64,
    pub dropped: u64,
    pub written: u64,
    /// Not written: stale fence, older sequence, or unknown character.
    pub skipped: u64,
    pub flush_failures: u64,
}

pub struct CheckpointQueue {
    capacity: usize,
    states: Mutex<HashMap<i64, CharacterState>>,
    pushed: AtomicU64,
    coalesced: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    skipped: AtomicU64,
    flush_failures: AtomicU64,
}

impl CheckpointQueue {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0);
        Self {
            capacity,
            states: Mutex::new(HashMap::with_capacity(capacity)),
            pushed: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            flush_failures: AtomicU64::new(0),
        }
    }

    /// Never waits on I/O. Newest state per character wins (by `seq`).
    pub fn push(&self, state: CharacterState) -> PushOutcome {
        self.pushed.fetch_add(1, Ordering::Relaxed);
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = Self::insert(&mut states, self.capacity, state);
        drop(states);
        match outcome {
            PushOutcome::Coalesced => self.coalesced.fetch_add(1, Ordering::Relaxed),
            PushOutcome::Dropped => self.dropped.fetch_add(1, Ordering::Relaxed),
            PushOutcome::Queued => 0,
        };
        outcome
    }

    fn insert(states: &mut HashMap<i64, CharacterState>, capacity: usize, state: CharacterState) -> PushOutcome {
        if let Some(queued) = states.get_mut(&state.character_id) {
            if state.seq >= queued.seq {
                *queued = state;
            }
            return PushOutcome::Coalesced;
        }
        if states.len() >= capacity {
            return PushOutcome::Dropped;
        }
        states.insert(state.character_id, state);
        PushOutcome::Queued
    }

    pub fn len(&self) -> usize {
        self.states.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything queued, leaving the queue empty.
    pub fn take(&self) -> Vec<CharacterState> {
        let taken = std::mem::take(&mut *self.states.lock().unwrap_or_else(|p| p.into_inner()));
        taken.into_values().collect()
    }

    /// Puts back states a failed flush could not write, unless a newer one arrived meanwhile.
    pub fn put_back(&self, states: Vec<CharacterState>) {
        let mut queued = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for state in states {
            if Self::insert(&mut queued, self.capacity, state) == PushOutcome::Dropped {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn counters(&self) -> CheckpointCounters {
        CheckpointCounters {
            pushed: self.pushed.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            flush_failures: self.flush_failures.load(Ordering::Relaxed),
        }
    }

    /// Takes the queue and writes it; the states of a shard that failed go back in the queue.
    pub async fn flush(&self, economy: &Economy) -> Result<FlushReport, EconomyError> {
        let states = self.take();
        if states.is_empty() {
            return Ok(FlushReport::default());
        }
        let (report, failed, error) = economy.write_checkpoint_partial(&states).await;
        self.written.fetch_add(report.written as u64, Ordering::Relaxed);
        self.skipped.fetch_add(report.skipped as u64, Ordering::Relaxed);
        match error {
            None => Ok(report),
            Some(error) => {
                // Only the failed shards' states go back; the others are written.
                self.flush_failures.fetch_add(1, Ordering::Relaxed);
                self.put_back(failed);
                Err(error)
            }
        }
    }

    /// Flushes every `interval` until `stop` resolves, then once more.
    pub async fn run(&self, economy: &Economy, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = &mut stop => break,
            }
            if let Err(error) = self.flush(economy).await {
                tracing::warn!(%error, "checkpoint flush failed; states kept for the next one");
            }
        }
        if let Err(error) = self.flush(economy).await {
            tracing::warn!(%error, "final checkpoint flush failed");
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub written: usize,
    pub skipped: usize,
}

impl Economy {
    /// One batched statement per shard, shards written concurrently.
    pub async fn write_checkpoint(&self, states: &[CharacterState]) -> Result<FlushReport, EconomyError> {
        let (report, _, error) = self.write_checkpoint_partial(states).await;
        match error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Writes what it can: returns the states of the shards that failed (to be retried) and the
    /// first error.
    async fn write_checkpoint_partial(
        &self,
        states: &[CharacterState],
    ) -> (FlushReport, Vec<CharacterState>, Option<EconomyError>) {
        let mut per_shard: Vec<Vec<&CharacterState>> = vec![Vec::new(); self.pools.len()];
        let mut oversized = 0;
        for state in states {
            let bytes = serde_json::to_vec(&state.stats).map_or(usize::MAX, |v| v.len());
            if bytes > CHARACTER_STATS_BYTES_MAX {
                oversized += 1;
                continue;
            }
            per_shard[self.shard_of(state.character_id)].push(state);
        }
        let batches: Vec<(usize, &Vec<&CharacterState>)> = per_shard
            .iter()
            .enumerate()
            .filter(|(_, batch)| !batch.is_empty())
            .collect();
        let writes = batches
            .iter()
            .map(|(shard, batch)| self.write_checkpoint_shard(*shard, batch));
        let mut report = FlushReport {
            written: 0,
            skipped: oversized,
        };
        let mut failed = Vec::new();
        let mut first_error = None;
        for (result, (_, batch)) in join_all(writes).await.into_iter().zip(batches.iter()) {
            match result {
                Ok(written) => {
                    report.written += written;
                    report.skipped += batch.len() - written;
                }
                Err(error) => {
                    failed.extend(batch.iter().map(|s| (*s).clone()));
                    first_error.get_or_insert(error);
                }
            }
        }
        (report, failed, first_error)
    }

    async fn write_checkpoint_shard(&self, shard: usize, batch: &[&CharacterState]) -> Result<usize, EconomyError> {
        let ids: Vec<i64> = batch.iter().map(|s| s.character_id).collect();
        let zones: Vec<i64> = batch.iter().map(|s| s.zone_id).collect();
        let tokens: Vec<i64> = batch.iter().map(|s| s.fencing_token).collect();
        let seqs: Vec<i64> = batch.iter().map(|s| s.seq).collect();
        let xs: Vec<f32> = batch.iter().map(|s| s.position[0]).collect();
        let ys: Vec<f32> = batch.iter().map(|s| s.position[1]).collect();
        let zs: Vec<f32> = batch.iter().map(|s| s.position[2]).collect();
        let stats: Vec<serde_json::Value> = batch.iter().map(|s| s.stats.clone()).collect();
        let client = self.client(shard).await?;
        let written = client
            .execute(
                "update characters c set last_zone = u.zone, position_x = u.x, position_y = u.y, position_z = u.z, \
                 stats = u.stats, version = u.seq \
                 from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::float4[], $6::float4[], \
                 $7::float4[], $8::jsonb[]) as u(id, zone, token, seq, x, y, z, stats) \
                 left join zone_fences f on f.zone_id = u.zone \
                 where c.id = u.id and c.version < u.seq and coalesce(f.token, 0) <= u.token",
                &[&ids, &zones, &tokens, &seqs, &xs, &ys, &zs, &stats],
            )
            .await?;
        Ok(written as usize)
    }

    /// The last checkpoint of every character whose last zone is `zone_id`, from every shard (a
    /// zone loads these when it starts, including after a fail-over).
    pub async fn load_characters(&self, zone_id: i64) -> Result<Vec<CharacterState>, EconomyError> {
        let mut states = Vec::new();
        for shard in 0..self.pools.len() {
            let client = self.client(shard).await?;
            let rows = client
                .query(
                    "select c.id, c.version, c.position_x, c.position_y, c.position_z, c.stats, \
                     coalesce(f.token, 0) from characters c left join zone_fences f on f.zone_id = c.last_zone \
                     where c.last_zone = $1 order by c.id",
                    &[&zone_id],
                )
                .await?;
            states.extend(rows.iter().map(|row| CharacterState {
                character_id: row.get(0),
                zone_id,
                fencing_token: row.get(6),
                seq: row.get(1),
                position: [row.get(2), row.get(3), row.get(4)],
                stats: row.get(5),
            }));
        }
        Ok(states)
    }
}

/// Awaits futures concurrently on this task (a handful per flush, one per shard).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in set.iter_mut().enumerate() {
            if outputs[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => outputs[index] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(character_id: i64, seq: i64) -> CharacterState {
        CharacterState {
            character_id,
            zone_id: 1,
            fencing_token: 1,
            seq,
            position: [seq as f32, 0.0, 0.0],
            stats: serde_json::json!({}),
        }
    }

    #[test]
    fn newest_state_per_character_wins_and_is_counted() {
        let queue = CheckpointQueue::new(2);
        assert_eq!(queue.push(state(1, 1)), PushOutcome::Queued);
        assert_eq!(queue.push(state(1, 3)), PushOutcome::Coalesced);
        assert_eq!(
            queue.push(state(1, 2)),
            PushOutcome::Coalesced,
            "an older state is absorbed"
        );
        assert_eq!(queue.push(state(2, 1)), PushOutcome::Queued);
        assert_eq!(queue.push(state(3, 1)), PushOutcome::Dropped);
        let counters = queue.counters();
        assert_eq!((counters.pushed, counters.coalesced, counters.dropped), (5, 2, 1));
        let mut taken = queue.take();
        taken.sort_by_key(|s| s.character_id);
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].seq, 3);
        assert!(queue.is_empty());
    }

    #[test]
    fn put_back_keeps_a_newer_push() {
        let queue = CheckpointQueue::new(8);
        queue.push(state(1, 1));
        let taken = queue.take();
        queue.push(state(1, 5));
        queue.put_back(taken);
        assert_eq!(queue.take()[0].seq, 5);
    }
}
