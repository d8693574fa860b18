//! A read-only multimap from integer keys to invoice positions: one hash probe and one
//! contiguous slice per lookup, so that the many probes of typo search stay cheap.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hasher for integer keys (the keys are not attacker-chosen in a way that
/// matters: a skewed table only costs time within one batch).
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u128(&mut self, n: u128) {
        // Split on purpose: the halves are hashed one after the other.
        #[expect(clippy::cast_possible_truncation, reason = "taking the low 64 bits")]
        let low = n as u64;
        self.write_u64(low);
        self.write_u64(u64::try_from(n >> 64).unwrap_or(u64::MAX));
    }
}

/// Keys to lists of positions.
#[derive(Debug, Clone)]
pub struct MultiIndex<K> {
    spans: HashMap<K, (u32, u32), BuildHasherDefault<IntHasher>>,
    values: Vec<u32>,
}

impl<K: Copy + Ord + std::hash::Hash> MultiIndex<K> {
    /// Builds the index from (key, position) pairs; each list comes out ascending and without
    /// duplicates.
    #[must_use]
    pub fn new(mut pairs: Vec<(K, u32)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        // Sized for the distinct keys, not the pairs: the typo index has millions of pairs.
        let keys = pairs.chunk_by(|a, b| a.0 == b.0).count();
        let mut spans = HashMap::with_capacity_and_hasher(keys, BuildHasherDefault::default());
        let mut values = Vec::with_capacity(pairs.len());
        for group in pairs.chunk_by(|a, b| a.0 == b.0) {
            let start = u32::try_from(values.len()).unwrap_or(u32::MAX);
            values.extend(group.iter().map(|(_, v)| *v));
            let len = u32::try_from(group.len()).unwrap_or(u32::MAX);
            spans.insert(group[0].0, (start, len));
        }
        Self { spans, values }
    }

    /// The positions under `key`, ascending.
    #[must_use]
    pub fn get(&self, key: K) -> &[u32] {
        self.spans.get(&key).map_or(&[], |&(start, len)| {
            &self.values[start as usize..(start + len) as usize]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_back_sorted_and_deduplicated() {
        let index = MultiIndex::new(vec![(7_u64, 3), (7, 1), (9, 2), (7, 3)]);
        assert_eq!(index.get(7), [1, 3]);
        assert_eq!(index.get(9), [2]);
        assert!(index.get(8).is_empty());
    }
}
