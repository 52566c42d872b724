//! Copy-on-write containers: readers share them through `Arc`s, a writer copies only what it touches.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

use ahash::{AHashMap, RandomState};

const SHARDS: usize = 1024;

/// A hash map split into shards behind `Arc`s. Cloning it copies 1024 pointers; changing one
/// key copies only that key's shard, and only if a reader still holds the old one.
#[derive(Clone)]
pub(crate) struct ShardedMap<K, V> {
    shards: Vec<Arc<AHashMap<K, V>>>,
    router: RandomState,
}

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    pub fn new() -> Self {
        ShardedMap {
            shards: (0..SHARDS).map(|_| Arc::new(AHashMap::new())).collect(),
            router: RandomState::with_seeds(0x5eed, 0x1dea, 0xc0de, 0xfeed),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.router.hash_one(key) >> 40) as usize % SHARDS
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[self.shard(key)].get(key)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.shard(key);
        if !self.shards[i].contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.shards[i]).get_mut(key)
    }

    pub fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = self.shard(&key);
        Arc::make_mut(&mut self.shards[i])
            .entry(key)
            .or_insert_with(make)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.shard(key);
        if !self.shards[i].contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.shards[i]).remove(key)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }
}

const CHUNK: usize = 1024;

/// An append-mostly vector in `Arc`ed chunks, copied a chunk at a time on write.
#[derive(Clone)]
pub(crate) struct ChunkedVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> ChunkedVec<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        Arc::make_mut(self.chunks.get_mut(i / CHUNK)?).get_mut(i % CHUNK)
    }

    pub fn push(&mut self, value: T) -> usize {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let last = self.chunks.len() - 1;
        Arc::make_mut(&mut self.chunks[last]).push(value);
        self.len += 1;
        self.len - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_is_a_snapshot() {
        let mut map: ShardedMap<String, u32> = ShardedMap::new();
        for i in 0..5000 {
            map.entry_or_insert_with(format!("k{i}"), || i);
        }
        let before = map.clone();
        *map.get_mut("k7").unwrap() = 70;
        map.remove("k8");
        assert_eq!(before.get("k7"), Some(&7));
        assert_eq!(before.get("k8"), Some(&8));
        assert_eq!(map.get("k7"), Some(&70));
        assert_eq!(map.get("k8"), None);
        assert_eq!(map.len(), 4999);

        let mut v = ChunkedVec::default();
        for i in 0..3000 {
            v.push(i);
        }
        let old = v.clone();
        *v.get_mut(2500).unwrap() = 0;
        assert_eq!(old.get(2500), Some(&2500));
        assert_eq!(v.get(2500), Some(&0));
        assert_eq!(v.len(), 3000);
    }
}
