//! [`ZoneStateWriter`]: writes zone snapshots to Redis every few seconds, off the tick.
//!
//! The zone thread calls [`ZoneStateWriter::offer`] whenever it likes (typically once per write
//! period); the snapshot lands in its zone's slot, replacing any older one not yet written (newest
//! wins: only the newest state is worth writing). `offer` takes a mutex held only for a map insert by
//! either side, so it never waits on Redis. A background task takes every slot each period and saves
//! them. The slots are bounded by [`WRITER_ZONES_MAX`]; what does not fit is refused and counted
//! (a failed round putting its snapshots back can raise that to twice the bound, never more).
//!
//! Redis down: the first `Unavailable` ends the round (every write would wait for its timeout); the
//! snapshots go back into their slots unless a newer one arrived, and the next round retries.
//! A fenced write means another owner holds the zone: later offers of that zone with a token no newer
//! than the fenced one are refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::HotStateError;
use crate::snapshot::ZoneSnapshot;
use crate::zone_state::ZoneStateStore;

/// Zones one writer keeps a slot for: a node serves tens of zones; a thousand leaves room and bounds
/// the memory a runaway caller can pin (a slot holds one snapshot).
pub const WRITER_ZONES_MAX: usize = 1024;

/// What the writer has done, for metrics (`meridian_zone_state_*_total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterCounters {
    pub offered: u64,
    /// Offers that replaced an unwritten snapshot of the same zone.
    pub coalesced: u64,
    /// Offers refused because every slot was taken by other zones.
    pub refused_full: u64,
    /// Offers refused because the zone was fenced at a token no older than the offer's.
    pub refused_fenced: u64,
    pub writes_ok: u64,
    /// Writes that failed with `Unavailable` (and went back to their slot).
    pub writes_unavailable: u64,
    /// Writes skipped in a round after one failed with `Unavailable` (back to their slot, untried).
    pub writes_deferred: u64,
    pub writes_fenced: u64,
    /// Writes refused for another reason (an encoding limit, a Redis error): dropped, logged.
    pub writes_failed: u64,
    /// Duration of the last successful write, encoding included.
    pub last_write_us: u64,
}

#[derive(Default)]
struct Counters {
    offered: AtomicU64,
    coalesced: AtomicU64,
    refused_full: AtomicU64,
    refused_fenced: AtomicU64,
    writes_ok: AtomicU64,
    writes_unavailable: AtomicU64,
    writes_deferred: AtomicU64,
    writes_fenced: AtomicU64,
    writes_failed: AtomicU64,
    last_write_us: AtomicU64,
}

#[derive(Default)]
struct Slots {
    pending: HashMap<u32, ZoneSnapshot>,
    /// Zone → the newest token a write was fenced at.
    fenced: HashMap<u32, u64>,
}

struct Shared {
    slots: Mutex<Slots>,
    counters: Counters,
    stop: Notify,
}

/// Background zone-state writer (see the module comment). Dropping it stops the task without a
/// last write; [`ZoneStateWriter::shutdown`] writes what is pending first.
pub struct ZoneStateWriter {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl ZoneStateWriter {
    /// Starts the writer task on the current tokio runtime; it writes every `period`.
    pub fn spawn(store: ZoneStateStore, period: Duration) -> Self {
        let shared = Arc::new(Shared {
            slots: Mutex::new(Slots::default()),
            counters: Counters::default(),
            stop: Notify::new(),
        });
        let task = tokio::spawn(run(store, period, shared.clone()));
        Self {
            shared,
            task: Some(task),
        }
    }

    /// Hands the zone's newest snapshot to the writer; never waits for Redis. `false`: refused (the
    /// slots are full, or the zone was fenced at this token), and counted.
    pub fn offer(&self, snapshot: ZoneSnapshot) -> bool {
        let counters = &self.shared.counters;
        counters.offered.fetch_add(1, Ordering::Relaxed);
        let mut slots = self
            .shared
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots
            .fenced
            .get(&snapshot.zone_id)
            .is_some_and(|&fenced| snapshot.fencing_token <= fenced)
        {
            counters.refused_fenced.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let full = slots.pending.len() >= WRITER_ZONES_MAX;
        match slots.pending.get_mut(&snapshot.zone_id) {
            Some(slot) => {
                counters.coalesced.fetch_add(1, Ordering::Relaxed);
                *slot = snapshot;
            }
            None if full => {
                counters.refused_full.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            None => {
                slots.pending.insert(snapshot.zone_id, snapshot);
            }
        }
        true
    }

    pub fn counters(&self) -> WriterCounters {
        let c = &self.shared.counters;
        WriterCounters {
            offered: c.offered.load(Ordering::Relaxed),
            coalesced: c.coalesced.load(Ordering::Relaxed),
            refused_full: c.refused_full.load(Ordering::Relaxed),
            refused_fenced: c.refused_fenced.load(Ordering::Relaxed),
            writes_ok: c.writes_ok.load(Ordering::Relaxed),
            writes_unavailable: c.writes_unavailable.load(Ordering::Relaxed),
            writes_deferred: c.writes_deferred.load(Ordering::Relaxed),
            writes_fenced: c.writes_fenced.load(Ordering::Relaxed),
            writes_failed: c.writes_failed.load(Ordering::Relaxed),
            last_write_us: c.last_write_us.load(Ordering::Relaxed),
        }
    }

    /// Snapshots waiting for the next round.
    pub fn pending_zones(&self) -> usize {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pending
            .len()
    }

    /// Writes what is pending once more (bounded by the link's timeouts), then stops the task.
    pub async fn shutdown(mut self) {
        self.shared.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ZoneStateWriter {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(store: ZoneStateStore, period: Duration, shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await; // the first tick is immediate; the first write waits one period
    loop {
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            () = shared.stop.notified() => true,
        };
        write_round(&store, &shared).await;
        if stopping {
            return;
        }
    }
}

async fn write_round(store: &ZoneStateStore, shared: &Shared) {
    let taken = {
        let mut slots = shared.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut slots.pending)
    };
    let counters = &shared.counters;
    let mut unavailable = false;
    let mut put_back = Vec::new();
    for (zone_id, snapshot) in taken {
        if unavailable {
            counters.writes_deferred.fetch_add(1, Ordering::Relaxed);
            put_back.push(snapshot);
            continue;
        }
        let started = Instant::now();
        match store.save(zone_id, snapshot.fencing_token, &snapshot).await {
            Ok(()) => {
                counters.writes_ok.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                counters.last_write_us.store(micros, Ordering::Relaxed);
            }
            Err(HotStateError::Unavailable { reason }) => {
                counters.writes_unavailable.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(zone_id, %reason, "zone state write deferred: redis unavailable");
                unavailable = true;
                put_back.push(snapshot);
            }
            Err(HotStateError::Fenced {
                stored_token,
                offered_token,
                ..
            }) => {
                counters.writes_fenced.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    zone_id,
                    stored_token,
                    offered_token,
                    "zone state write fenced: zone has a newer owner"
                );
                let mut slots = shared.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let fenced = slots.fenced.entry(zone_id).or_insert(offered_token);
                *fenced = (*fenced).max(offered_token);
                // A snapshot offered meanwhile under the same stale token is as stale.
                if slots
                    .pending
                    .get(&zone_id)
                    .is_some_and(|s| s.fencing_token <= offered_token)
                {
                    slots.pending.remove(&zone_id);
                }
            }
            Err(error) => {
                counters.writes_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(zone_id, %error, "zone state write failed");
            }
        }
    }
    if !put_back.is_empty() {
        let mut slots = shared.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for snapshot in put_back {
            // A newer offer made while this round ran wins over the snapshot that failed.
            slots.pending.entry(snapshot.zone_id).or_insert(snapshot);
        }
    }
}
