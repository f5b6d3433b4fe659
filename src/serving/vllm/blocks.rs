//! KV blocks of one replica and the automatic prefix cache, as vLLM V1
//! keeps them (docs/model.md, "Engine-faithful scheduling").
//!
//! Every block has a reference count. A block whose count drops to zero
//! keeps what it cached and joins the tail of a free queue; allocation takes
//! the head of that queue (least recently freed first) and forgets what the
//! block cached. A full block of a request is registered under a key that
//! names its content (see [`block_key`]); a request admitted later that
//! needs a block with the same key takes it (out of the free queue if need
//! be) instead of computing it again. As in vLLM, several blocks may cache
//! the same content (computed twice before either was shared); a lookup
//! returns the one cached first.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// "No block" in the free queue's links.
const NONE: u32 = u32::MAX;

/// Block keys are already well mixed: hash them by identity.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = k;
    }
}

/// Key → first block caching it (the others follow through `same`).
type KeyMap = HashMap<u64, u32, BuildHasherDefault<KeyHasher>>;

/// splitmix64: a key for (namespace, block index). Never 0 (0 means "no key").
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD6E8_FEB8_6659_FD93;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z.max(1)
}

/// The KV blocks of one replica.
#[derive(Debug, Clone)]
pub struct BlockPool {
    refcount: Vec<u32>,
    /// What a block caches (0: nothing).
    key: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Next block caching the same key, in the order they were cached.
    same: Vec<u32>,
    head: u32,
    tail: u32,
    /// Blocks with no reference: the free queue plus the blocks never used.
    free: u32,
    /// All blocks; those from `touched` on were never used. They sit at the
    /// head of the free queue in index order (as vLLM's initial queue), so
    /// they are handed out first, and their per-block state only exists
    /// once they are: memory follows what is used, not the capacity.
    total: u32,
    touched: u32,
    cached: KeyMap,
    caching: bool,
}

impl BlockPool {
    pub fn new(blocks: u32, caching: bool) -> Self {
        BlockPool {
            refcount: Vec::new(),
            key: Vec::new(),
            prev: Vec::new(),
            next: Vec::new(),
            same: Vec::new(),
            head: NONE,
            tail: NONE,
            free: blocks,
            total: blocks,
            touched: 0,
            cached: KeyMap::default(),
            caching,
        }
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    /// Blocks that can be allocated now (cached or empty).
    pub fn free(&self) -> u32 {
        self.free
    }

    pub fn used(&self) -> u32 {
        self.total() - self.free
    }

    pub fn caching(&self) -> bool {
        self.caching
    }

    /// Appends a released block to the free queue.
    fn push_back(&mut self, b: u32) {
        let i = b as usize;
        self.prev[i] = self.tail;
        self.next[i] = NONE;
        if self.tail == NONE {
            self.head = b;
        } else {
            self.next[self.tail as usize] = b;
        }
        self.tail = b;
        self.free += 1;
    }

    fn unlink(&mut self, b: u32) {
        let i = b as usize;
        let (p, n) = (self.prev[i], self.next[i]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[i] = NONE;
        self.next[i] = NONE;
        self.free -= 1;
    }

    /// Takes the least recently freed block, forgetting what it cached.
    /// The caller has checked that one is free.
    pub fn allocate(&mut self) -> u32 {
        if self.touched < self.total {
            // A block never used before: first in the queue.
            let b = self.touched;
            self.touched += 1;
            self.refcount.push(1);
            self.key.push(0);
            self.prev.push(NONE);
            self.next.push(NONE);
            self.same.push(NONE);
            self.free -= 1;
            return b;
        }
        let b = self.head;
        debug_assert!(b != NONE, "no free block");
        self.unlink(b);
        let i = b as usize;
        if self.key[i] != 0 {
            self.forget(b);
        }
        self.refcount[i] = 1;
        b
    }

    /// The block caching `key`, if any.
    pub fn lookup(&self, key: u64) -> Option<u32> {
        if !self.caching {
            return None;
        }
        self.cached.get(&key).copied()
    }

    /// Whether a cached block is free (taking it uses up a free block).
    pub fn is_free(&self, b: u32) -> bool {
        self.refcount[b as usize] == 0
    }

    /// Takes a reference to a cached block (out of the free queue if it was there).
    pub fn take(&mut self, b: u32) {
        let i = b as usize;
        if self.refcount[i] == 0 {
            self.unlink(b);
        }
        self.refcount[i] += 1;
    }

    /// Drops a reference; a block left with none joins the free queue's tail
    /// and keeps what it cached.
    pub fn release(&mut self, b: u32) {
        let i = b as usize;
        debug_assert!(self.refcount[i] > 0, "block released twice");
        self.refcount[i] -= 1;
        if self.refcount[i] == 0 {
            self.push_back(b);
        }
    }

    /// Registers a full block under `key` (after any other block caching
    /// the same content). A block that already caches something keeps it.
    pub fn register(&mut self, b: u32, key: u64) {
        if !self.caching || self.key[b as usize] != 0 {
            return;
        }
        self.key[b as usize] = key;
        self.same[b as usize] = NONE;
        match self.cached.get(&key) {
            None => {
                self.cached.insert(key, b);
            }
            Some(&first) => {
                let mut last = first;
                while self.same[last as usize] != NONE {
                    last = self.same[last as usize];
                }
                self.same[last as usize] = b;
            }
        }
    }

    /// A block being reused forgets what it cached.
    fn forget(&mut self, b: u32) {
        let i = b as usize;
        let key = self.key[i];
        let first = self.cached[&key];
        if first == b {
            match self.same[i] {
                NONE => {
                    self.cached.remove(&key);
                }
                next => {
                    self.cached.insert(key, next);
                }
            }
        } else {
            let mut p = first;
            while self.same[p as usize] != b {
                p = self.same[p as usize];
            }
            self.same[p as usize] = self.same[i];
        }
        self.same[i] = NONE;
        self.key[i] = 0;
    }

    /// Forgets everything (the replica is gone).
    pub fn clear(&mut self) {
        let n = self.total();
        *self = BlockPool::new(n, self.caching);
    }

    /// Free blocks from the head of the queue, for tests.
    #[cfg(test)]
    fn free_order(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (self.touched..self.total).collect();
        let mut b = self.head;
        while b != NONE {
            out.push(b);
            b = self.next[b as usize];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_takes_the_least_recently_freed_block_and_forgets_it() {
        let mut p = BlockPool::new(3, true);
        let a = p.allocate();
        let b = p.allocate();
        assert_eq!((a, b, p.free()), (0, 1, 1));
        p.register(a, 11);
        p.register(b, 22);
        // Freed last block first (as vLLM frees a request's blocks).
        p.release(b);
        p.release(a);
        assert_eq!(p.free_order(), vec![2, 1, 0]);
        assert_eq!(p.lookup(11), Some(0));
        // Block 2 (empty) goes first, then 1, which forgets key 22.
        assert_eq!(p.allocate(), 2);
        assert_eq!(p.allocate(), 1);
        assert_eq!(p.lookup(22), None);
        assert_eq!(p.lookup(11), Some(0));
        // A hit on a free cached block takes it out of the queue.
        assert!(p.is_free(0));
        p.take(0);
        assert_eq!((p.free(), p.used()), (0, 3));
    }

    #[test]
    fn a_shared_block_is_freed_when_its_last_user_leaves() {
        let mut p = BlockPool::new(2, true);
        let a = p.allocate();
        p.register(a, 7);
        p.take(a);
        p.release(a);
        assert_eq!(p.free(), 1, "still held by one request");
        p.release(a);
        assert_eq!(p.free(), 2);
        assert_eq!(p.lookup(7), Some(a), "cached while free");
    }

    #[test]
    fn copies_of_one_content_are_found_first_cached_first() {
        let mut p = BlockPool::new(3, true);
        let (a, b) = (p.allocate(), p.allocate());
        p.register(a, 5);
        p.register(b, 5);
        assert_eq!(p.lookup(5), Some(a));
        p.release(a);
        p.release(b);
        // Block 2 first, then a: a forgets, and b is found.
        assert_eq!(p.allocate(), 2);
        assert_eq!(p.allocate(), a);
        assert_eq!(p.lookup(5), Some(b));
        assert_eq!(p.allocate(), b);
        assert_eq!(p.lookup(5), None);
    }

    #[test]
    fn without_caching_nothing_is_found() {
        let mut p = BlockPool::new(2, false);
        let a = p.allocate();
        p.register(a, 7);
        assert_eq!(p.lookup(7), None);
    }
}
