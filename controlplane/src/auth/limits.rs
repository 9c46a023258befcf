//! Failed-login window per account name (sans-IO: the caller passes `now_s`).
//!
//! Per-IP limits alone let a botnet try one password per address against one account; this
//! window caps the guesses an account can take whatever their source. It is keyed by the name as
//! submitted, lowercased (the database's uniqueness is case-insensitive too), so unknown names are
//! limited like known ones and the answer does not reveal which names exist.

use std::collections::HashMap;

/// Names tracked at once. An attacker spraying names fills it; then expired entries are pruned,
/// and if none expired the new failure is not tracked (counted in `untracked_failures`) rather
/// than evicting a name that is being attacked. 100,000 entries is a few MB.
pub const FAILURE_ENTRIES_MAX: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start_s: u64,
    failures: u32,
}

#[derive(Debug)]
pub struct LoginFailures {
    failures_max: u32,
    window_s: u64,
    entries_max: usize,
    entries: HashMap<String, Entry>,
    /// Failures not recorded because the table was full of live entries.
    pub untracked_failures: u64,
}

impl LoginFailures {
    pub fn new(failures_max: u32, window_s: u64) -> Self {
        Self::with_capacity(failures_max, window_s, FAILURE_ENTRIES_MAX)
    }

    pub fn with_capacity(failures_max: u32, window_s: u64, entries_max: usize) -> Self {
        assert!(failures_max > 0);
        assert!(window_s > 0);
        assert!(entries_max > 0);
        LoginFailures {
            failures_max,
            window_s,
            entries_max,
            entries: HashMap::new(),
            untracked_failures: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Err(retry_after_s)` while `key` has used up its failures in the current window.
    pub fn check(&self, key: &str, now_s: u64) -> Result<(), u64> {
        match self.entries.get(key) {
            Some(entry) if entry.failures >= self.failures_max => {
                let end_s = entry.window_start_s + self.window_s;
                if now_s < end_s { Err(end_s - now_s) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&mut self, key: &str, now_s: u64) {
        let window_s = self.window_s;
        if let Some(entry) = self.entries.get_mut(key) {
            if now_s >= entry.window_start_s + window_s {
                *entry = Entry {
                    window_start_s: now_s,
                    failures: 0,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
            return;
        }
        if self.entries.len() >= self.entries_max {
            self.entries.retain(|_, entry| now_s < entry.window_start_s + window_s);
        }
        if self.entries.len() >= self.entries_max {
            self.untracked_failures += 1;
            return;
        }
        self.entries.insert(
            key.to_owned(),
            Entry {
                window_start_s: now_s,
                failures: 1,
            },
        );
        debug_assert!(self.entries.len() <= self.entries_max);
    }

    /// A correct password clears the name's failures.
    pub fn record_success(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let mut failures = LoginFailures::new(3, 60);
        for now_s in [100, 101, 102] {
            assert_eq!(failures.check("bob", now_s), Ok(()));
            failures.record_failure("bob", now_s);
        }
        assert_eq!(failures.check("bob", 103), Err(57));
        assert_eq!(failures.check("alice", 103), Ok(()));
        assert_eq!(failures.check("bob", 159), Err(1));
        assert_eq!(failures.check("bob", 160), Ok(()));
        // A failure after the window starts a new one.
        failures.record_failure("bob", 160);
        assert_eq!(failures.check("bob", 161), Ok(()));
    }

    #[test]
    fn success_clears_the_failures() {
        let mut failures = LoginFailures::new(2, 60);
        failures.record_failure("bob", 0);
        failures.record_success("bob");
        failures.record_failure("bob", 1);
        assert_eq!(failures.check("bob", 2), Ok(()));
        assert!(failures.len() == 1);
    }

    #[test]
    fn table_is_bounded_and_prunes_expired_entries() {
        let mut failures = LoginFailures::with_capacity(1, 10, 2);
        failures.record_failure("a", 0);
        failures.record_failure("b", 0);
        failures.record_failure("c", 5);
        assert_eq!(failures.len(), 2);
        assert_eq!(failures.untracked_failures, 1);
        // "a" and "b" keep their block: a spray of names does not free an attacked one.
        assert_eq!(failures.check("a", 5), Err(5));
        failures.record_failure("c", 10);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures.check("c", 11), Err(9));
        assert_eq!(failures.check("a", 11), Ok(()));
    }
}
