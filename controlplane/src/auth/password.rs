//! argon2id password hashes (PHC strings, salt from the OS CSPRNG) and the bounded slots that run
//! them off the async threads.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{Algorithm, Argon2, Params, Version, password_hash::PasswordHasher, password_hash::PasswordVerifier};
use tokio::sync::Semaphore;

use super::{config::Argon2Cost, error::ApiError};

fn hasher(cost: Argon2Cost) -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh salt; returns the PHC string stored in `accounts.password_hash`.
pub fn hash_password(cost: Argon2Cost, password: &str) -> Result<String, argon2::password_hash::Error> {
    let argon2 = hasher(cost).map_err(|_| argon2::password_hash::Error::ParamsInvalid)?;
    Ok(argon2.hash_password(password.as_bytes())?.to_string())
}

/// Checks `password` against a stored PHC string (its own parameters are used, so accounts hashed
/// under an older cost still log in).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Runs hashes on the blocking pool, at most `concurrency` at once and at most `waiters_max`
/// waiting: an argon2 hash holds a core and `memory_kib` for tens of milliseconds, so an
/// unbounded queue of them would exhaust memory and stretch every login's latency.
pub struct HashSlots {
    slots: Semaphore,
    waiting: AtomicUsize,
    waiters_max: usize,
    /// Requests turned away because `waiters_max` were already waiting.
    pub refused: AtomicUsize,
}

impl HashSlots {
    pub fn new(concurrency: usize, waiters_max: usize) -> Self {
        assert!(concurrency > 0);
        HashSlots {
            slots: Semaphore::new(concurrency),
            waiting: AtomicUsize::new(0),
            waiters_max,
            refused: AtomicUsize::new(0),
        }
    }

    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let waiter = Waiter(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.waiters_max {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::busy());
        }
        let permit = self.slots.acquire().await;
        drop(waiter);
        let _permit = permit.map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(work).await.map_err(|error| {
            tracing::error!(%error, "password hashing task failed");
            ApiError::internal()
        })
    }
}

/// Leaves the waiting count when dropped: also when the request is cancelled (the client went
/// away) while it waits, which would otherwise leak a place in the queue for good.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let phc = hash_password(Argon2Cost::TEST_ONLY, "correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsf", &phc));
        assert!(!verify_password("correct horse", "not a phc string"));
        // Salted: the same password hashes differently.
        assert_ne!(phc, hash_password(Argon2Cost::TEST_ONLY, "correct horse").unwrap());
    }

    #[tokio::test]
    async fn hash_slots_refuse_beyond_the_waiters_limit_and_free_cancelled_places() {
        let slots = Arc::new(HashSlots::new(1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let slots = slots.clone();
            async move { slots.run(move || hold.recv().ok()).await }
        });
        // Let the first job take the only slot.
        while slots.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.run(|| ()).await }
        });
        while slots.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = slots.run(|| ()).await.unwrap_err();
        assert_eq!(refused.code, "busy");
        assert_eq!(slots.refused.load(Ordering::Relaxed), 1);
        // Cancelling the waiter gives its place back.
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(slots.waiting.load(Ordering::Acquire), 0);
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), Some(()));
        assert_eq!(slots.run(|| 5).await.unwrap(), 5);
    }

    #[test]
    fn production_cost_is_owasp() {
        let phc = hash_password(Argon2Cost::PRODUCTION, "correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }
}
