//! A cache of compiled templates bounded by bytes, not entries: a few large
//! inline contents must not hold more memory than many small ones. Each
//! entry is charged an estimate of its size (its key and source, times a
//! factor for the compiled form); the least recently used go first.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// What an entry is charged per byte of its source: the parsed form keeps
/// the text and a tree around it.
pub(crate) const COMPILED_FACTOR: usize = 4;

pub(crate) struct ByteCache<K, V> {
    budget: usize,
    used: usize,
    clock: u64,
    entries: HashMap<K, (V, usize, u64)>,
    /// last use → key, oldest first.
    order: BTreeMap<u64, K>,
}

impl<K: Hash + Eq + Clone, V: Clone> ByteCache<K, V> {
    pub(crate) fn new(budget: usize) -> Self {
        ByteCache {
            budget,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        self.clock += 1;
        let now = self.clock;
        let (v, _, used_at) = self.entries.get_mut(key)?;
        let old = std::mem::replace(used_at, now);
        if let Some(k) = self.order.remove(&old) {
            self.order.insert(now, k);
        }
        Some(v.clone())
    }

    /// Keeps `value`, charged `cost` bytes, dropping the least recently used
    /// entries to stay within the budget. An entry larger than the whole
    /// budget is not kept.
    pub(crate) fn insert(&mut self, key: K, value: V, cost: usize) {
        self.remove(&key);
        if cost > self.budget {
            return;
        }
        while self.used + cost > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, c, _)) = self.entries.remove(&oldest) {
                self.used -= c;
            }
        }
        self.clock += 1;
        self.order.insert(self.clock, key.clone());
        self.entries.insert(key, (value, cost, self.clock));
        self.used += cost;
    }

    fn remove(&mut self, key: &K) {
        if let Some((_, c, at)) = self.entries.remove(key) {
            self.used -= c;
            self.order.remove(&at);
        }
    }

    /// Bytes charged to the entries kept.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_its_byte_budget_dropping_the_least_recently_used() {
        let mut c = ByteCache::new(1000);
        c.insert("a", 1, 400);
        c.insert("b", 2, 400);
        assert_eq!(c.get(&"a"), Some(1)); // a is now the most recent
        c.insert("c", 3, 400);
        assert_eq!(c.used(), 800);
        assert_eq!(c.get(&"b"), None, "b was the least recently used");
        assert_eq!(c.get(&"a"), Some(1));
        assert_eq!(c.get(&"c"), Some(3));
        c.insert("huge", 4, 5000);
        assert_eq!(c.get(&"huge"), None, "larger than the budget: not kept");
        assert_eq!(c.len(), 2);
        c.insert("a", 5, 100);
        assert_eq!(c.used(), 500, "a replaced, charged anew");
        for i in 0..1000 {
            c.insert(if i % 2 == 0 { "x" } else { "y" }, i, 300);
            assert!(c.used() <= 1000);
        }
    }
}
