//! Requests in flight: a slab shared by all replicas of one simulated history.
//!
//! Memory is bounded by the number of requests in the system at once, never
//! by the horizon: a slot is reused as soon as its request leaves.

use std::ops::{Index, IndexMut};

use crate::units::Seconds;
use crate::workload::{Prefix, Request};

/// Index of a request in the [`RequestTable`].
pub type Slot = u32;
/// "No slot" in the intrusive running list.
pub const NIL: Slot = Slot::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting in a queue (never admitted, or preempted / evicted).
    Queued,
    /// Admitted; its prompt (or recomputation) is being prefilled.
    Prefilling,
    /// Producing one token per iteration.
    Decoding,
    /// Finished, or left for the API, or dropped.
    Done,
}

/// One request and its progress.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub id: u64,
    pub arrival_s: Seconds,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// First admission into a batch; NaN until then.
    pub admitted_s: Seconds,
    /// End of the iteration that produced the first token; NaN until then.
    pub first_token_s: Seconds,
    /// The replica holding (or last holding) the request; `u32::MAX` if none.
    pub replica: u32,
    /// Tokens produced before the current residency (kept across preemption).
    pub generated: u32,
    /// Times this request lost its KV (preemption or interruption).
    pub restarts: u32,
    pub(crate) phase: Phase,
    /// While decoding, tokens produced by the start of iteration `i` = `i − anchor`.
    pub(crate) anchor: i64,
    /// Tokens to prefill in this residency: prompt + tokens already produced.
    pub(crate) prefill_target: u32,
    pub(crate) prefilled: u32,
    /// KV tokens held on the replica (reserved, or allocated blocks).
    pub(crate) kv_held: u64,
    pub(crate) prev: Slot,
    pub(crate) next: Slot,
    /// Bumped whenever the request leaves a batch, invalidating stale
    /// completion entries.
    pub(crate) epoch: u32,
    /// What the prompt shares with other requests (prefix caching).
    pub prefix: Prefix,
    /// Turns of its conversation still to come.
    pub turns_left: u32,
    /// Engine-faithful mode: KV blocks held, in token order.
    pub(crate) blocks: Vec<u32>,
    /// Engine-faithful mode: how many of `blocks` are registered in the prefix cache.
    pub(crate) registered: u32,
    /// Engine-faithful mode: admission order on its replica (renewed on readmission).
    pub(crate) order: u64,
    /// When it joined its replica's queue (asynchronous scheduling).
    pub(crate) queued_s: Seconds,
}

impl InFlight {
    pub fn new(r: &Request) -> Self {
        InFlight {
            id: r.id,
            arrival_s: r.arrival_s,
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            admitted_s: f64::NAN,
            first_token_s: f64::NAN,
            replica: u32::MAX,
            generated: 0,
            restarts: 0,
            phase: Phase::Queued,
            anchor: 0,
            prefill_target: 0,
            prefilled: 0,
            kv_held: 0,
            prev: NIL,
            next: NIL,
            epoch: 0,
            prefix: r.prefix,
            turns_left: r.turns_left,
            blocks: Vec::new(),
            registered: 0,
            order: 0,
            queued_s: r.arrival_s,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether it has ever been admitted into a batch.
    pub fn was_admitted(&self) -> bool {
        !self.admitted_s.is_nan()
    }
}

/// The slab of requests in flight.
#[derive(Debug, Default)]
pub struct RequestTable {
    slots: Vec<InFlight>,
    free: Vec<Slot>,
    live: usize,
}

impl RequestTable {
    pub fn insert(&mut self, r: &Request) -> Slot {
        self.live += 1;
        let mut entry = InFlight::new(r);
        if let Some(s) = self.free.pop() {
            // Keep the block list's allocation, and move the epoch on, so
            // that timers set for the slot's previous request never match.
            let old = &mut self.slots[s as usize];
            let mut blocks = std::mem::take(&mut old.blocks);
            blocks.clear();
            entry.blocks = blocks;
            entry.epoch = old.epoch.wrapping_add(1);
            self.slots[s as usize] = entry;
            s
        } else {
            self.slots.push(entry);
            (self.slots.len() - 1) as Slot
        }
    }

    /// Frees a slot; the caller has taken what it needs from it.
    pub fn release(&mut self, slot: Slot) {
        debug_assert!(self.live > 0);
        self.live -= 1;
        self.slots[slot as usize].phase = Phase::Done;
        self.free.push(slot);
    }

    /// Requests currently in flight.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Slots ever allocated (the high-water mark of requests in flight).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl Index<Slot> for RequestTable {
    type Output = InFlight;
    #[inline]
    fn index(&self, s: Slot) -> &InFlight {
        &self.slots[s as usize]
    }
}

impl IndexMut<Slot> for RequestTable {
    #[inline]
    fn index_mut(&mut self, s: Slot) -> &mut InFlight {
        &mut self.slots[s as usize]
    }
}
