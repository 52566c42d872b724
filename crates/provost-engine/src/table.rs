//! Name → dense id, in flat open-addressed slots: a lookup reads one slot (8 bytes: 32 bits of
//! the hash and the id) and then the record the id names, where the caller compares the name.
//! Split into `Arc`ed shards like `ShardedMap`, so a writer copies only the shard it touches.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;

const SHARD_BITS: u32 = 10;
const SHARDS: usize = 1 << SHARD_BITS;
const EMPTY: u64 = u64::MAX;

#[derive(Clone, Default)]
struct Shard {
    /// `(low 32 bits of the hash) << 32 | id`; a power-of-two length, or none yet.
    slots: Vec<u64>,
    len: usize,
}

impl Shard {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask()
    }

    fn place(&mut self, slot: u64) {
        let mut i = self.home((slot >> 32) as u32);
        while self.slots[i] != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = slot;
    }

    fn position(&self, wanted: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home((wanted >> 32) as u32);
        loop {
            match self.slots[i] {
                EMPTY => return None,
                slot if slot == wanted => return Some(i),
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; capacity]);
        for slot in old.into_iter().filter(|s| *s != EMPTY) {
            self.place(slot);
        }
    }
}

/// A hint to fetch `value`'s cache line; nothing on processors without one.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(value);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Maps hashes to ids; the caller owns the keys and confirms a candidate id by its key.
#[derive(Clone)]
pub(crate) struct IdTable {
    shards: Vec<Arc<Shard>>,
    hasher: RandomState,
    len: usize,
}

impl Default for IdTable {
    fn default() -> Self {
        let empty = Arc::new(Shard::default());
        IdTable {
            shards: vec![empty; SHARDS],
            hasher: RandomState::default(),
            len: 0,
        }
    }
}

fn split(hash: u64) -> (usize, u32) {
    ((hash >> (64 - SHARD_BITS)) as usize, hash as u32)
}

impl IdTable {
    pub fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Asks the processor to start reading the slot `hash` would be found at, so that two
    /// lookups (a check's subject and scope) wait for memory side by side, not one after the other.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let (shard, tag) = split(hash);
        let shard = &self.shards[shard];
        if !shard.slots.is_empty() {
            prefetch(&shard.slots[shard.home(tag)]);
        }
    }

    /// The first id stored under `hash`'s tag, unconfirmed: the one to prefetch.
    #[inline]
    pub fn first_candidate(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The id stored under `hash` for which `is` holds (the caller compares its key).
    #[inline]
    pub fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let (shard, tag) = split(hash);
        let shard = &self.shards[shard];
        if shard.slots.is_empty() {
            return None;
        }
        let mut i = shard.home(tag);
        loop {
            let slot = shard.slots[i];
            if slot == EMPTY {
                return None;
            }
            if (slot >> 32) as u32 == tag && is(slot as u32) {
                return Some(slot as u32);
            }
            i = (i + 1) & shard.mask();
        }
    }

    /// Adds `id` under `hash` (the caller has checked that its key is not there yet).
    pub fn insert(&mut self, hash: u64, id: u32) {
        let (shard, tag) = split(hash);
        let shard = Arc::make_mut(&mut self.shards[shard]);
        if (shard.len + 1) * 4 > shard.slots.len() * 3 {
            shard.grow();
        }
        shard.place(u64::from(tag) << 32 | u64::from(id));
        shard.len += 1;
        self.len += 1;
    }

    /// Removes `id` from under `hash`; backward-shift deletion keeps every probe run unbroken.
    pub fn remove(&mut self, hash: u64, id: u32) -> bool {
        let (shard, tag) = split(hash);
        let wanted = u64::from(tag) << 32 | u64::from(id);
        let Some(mut hole) = self.shards[shard].position(wanted) else {
            return false;
        };
        let shard = Arc::make_mut(&mut self.shards[shard]);
        let mask = shard.mask();
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            let slot = shard.slots[next];
            if slot == EMPTY {
                break;
            }
            let home = shard.home((slot >> 32) as u32);
            // The entry may fill the hole unless its home lies cyclically in (hole, next].
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                shard.slots[hole] = slot;
                hole = next;
            }
        }
        shard.slots[hole] = EMPTY;
        shard.len -= 1;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_not_what_was_removed() {
        let mut table = IdTable::default();
        let keys: Vec<String> = (0..20_000).map(|i| format!("k{i}")).collect();
        for (id, key) in keys.iter().enumerate() {
            table.insert(table.hash(key), id as u32);
        }
        let before = table.clone();
        for id in (0..keys.len()).step_by(3) {
            assert!(table.remove(table.hash(&keys[id]), id as u32));
        }
        for (id, key) in keys.iter().enumerate() {
            let found = table.find(table.hash(key), |c| keys[c as usize] == *key);
            assert_eq!(found, (id % 3 != 0).then_some(id as u32), "{key}");
            let kept = before.find(before.hash(key), |c| keys[c as usize] == *key);
            assert_eq!(kept, Some(id as u32), "a clone is a snapshot");
        }
        assert_eq!(table.len(), keys.len() - keys.len().div_ceil(3));
        // Colliding hashes: every id under one hash is told apart by its key.
        let mut same = IdTable::default();
        for id in 0..50 {
            same.insert(7, id);
        }
        assert!(same.remove(7, 10));
        for id in 0..50 {
            assert_eq!(same.find(7, |c| c == id).is_some(), id != 10);
        }
    }
}
