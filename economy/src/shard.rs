//! Which shard holds a character: jump consistent hashing over the shard list (Lamping and Veach,
//! "A Fast, Minimal Memory, Consistent Hash Algorithm"). Going from N to N+1 shards moves only the
//! characters that now map to the new shard (about 1/(N+1) of them), and nothing moves between old
//! shards, which is what the add-a-shard procedure (`rebalance`) relies on. Eight lines of
//! arithmetic, so written here rather than taken from a crate.

/// Shards one map may hold; the gid and the decision log name shards by index.
pub const SHARDS_MAX: usize = 64;

/// The shard index of `key` among `buckets` shards.
pub fn jump_hash(key: u64, buckets: usize) -> usize {
    debug_assert!(buckets > 0);
    let mut key = key;
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = (((b + 1) as f64) * ((1u64 << 31) as f64 / (((key >> 33) + 1) as f64))) as i64;
    }
    b as usize
}

/// The shards' connection strings, in a fixed order (index = shard id), and the map's version.
/// Shards are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    pub version: i64,
    pub urls: Vec<String>,
}

impl ShardMap {
    pub fn new(version: i64, urls: Vec<String>) -> Self {
        assert!(!urls.is_empty(), "a shard map needs at least one shard");
        assert!(urls.len() <= SHARDS_MAX, "at most {SHARDS_MAX} shards");
        Self { version, urls }
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    pub fn shard_of(&self, character_id: i64) -> usize {
        jump_hash(character_id as u64, self.urls.len())
    }

    /// The map with one more shard, next version.
    pub fn with_shard(&self, url: String) -> Self {
        let mut urls = self.urls.clone();
        urls.push(url);
        Self::new(self.version + 1, urls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_shard_moves_only_to_the_new_shard() {
        let mut moved = 0;
        for id in 0..10_000u64 {
            let before = jump_hash(id, 2);
            let after = jump_hash(id, 3);
            if before != after {
                assert_eq!(after, 2, "id {id} moved between old shards");
                moved += 1;
            }
        }
        // About a third moves.
        assert!((2_800..3_900).contains(&moved), "moved {moved}");
    }

    #[test]
    fn two_shards_both_used() {
        let on_zero = (1..=1000i64).filter(|id| jump_hash(*id as u64, 2) == 0).count();
        assert!((400..600).contains(&on_zero), "{on_zero}");
    }
}
