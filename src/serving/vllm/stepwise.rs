//! The engine-faithful scheduler stepped the obvious way: every step walks
//! every running request. Slow (O(running) per step), and kept as the
//! reference that the fast scheduler of `super` is tested against (same
//! results, bit for bit). See `super` for the scheduling rules.

use std::collections::VecDeque;

use super::blocks::BlockPool;
use super::{HashPool, LastStep, VllmLimits, block_key};
use crate::serving::inflight::{Phase, RequestTable, Slot};
use crate::serving::replica::ReplicaStats;
use crate::serving::step_time::{IterationLoad, StepModel};
use crate::units::Seconds;

#[derive(Debug, Clone)]
pub struct StepwiseVllm {
    max_num_seqs: u32,
    limits: VllmLimits,
    pool: BlockPool,
    hashes: HashPool,
    waiting: VecDeque<Slot>,
    /// In admission order.
    running: Vec<Slot>,
    /// This step's work: (slot, tokens scheduled).
    scheduled: Vec<(Slot, u32)>,
    /// Scratch: cached blocks found for the request being admitted.
    hits: Vec<u32>,
    busy: bool,
    last: LastStep,
    pub stats: ReplicaStats,
}

impl StepwiseVllm {
    pub fn new(
        max_num_seqs: u32,
        kv_capacity_tokens: u64,
        limits: VllmLimits,
        hashes: HashPool,
    ) -> Self {
        let blocks =
            (kv_capacity_tokens / limits.block_tokens as u64).min(u32::MAX as u64 - 1) as u32;
        StepwiseVllm {
            max_num_seqs,
            limits,
            pool: BlockPool::new(blocks, limits.prefix_caching),
            hashes,
            waiting: VecDeque::new(),
            running: Vec::new(),
            scheduled: Vec::new(),
            hits: Vec::new(),
            busy: false,
            last: LastStep::NONE,
            stats: ReplicaStats::default(),
        }
    }

    #[inline]
    pub fn load(&self) -> u32 {
        self.waiting.len() as u32 + self.running.len() as u32
    }
    pub fn running(&self) -> u32 {
        self.running.len() as u32
    }
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
    /// The waiting queue, head first.
    pub fn waiting_queue(&self) -> &VecDeque<Slot> {
        &self.waiting
    }
    pub fn is_busy(&self) -> bool {
        self.busy
    }
    pub fn is_empty(&self) -> bool {
        self.running.is_empty() && self.waiting.is_empty()
    }
    pub fn kv_used(&self) -> u64 {
        self.pool.used() as u64 * self.limits.block_tokens as u64
    }
    pub fn kv_capacity(&self) -> u64 {
        self.pool.total() as u64 * self.limits.block_tokens as u64
    }

    /// Whether one more request could start soon (for the shared queue):
    /// a sequence slot, and free blocks for its prompt beyond what waits.
    pub fn has_room_for(&self, table: &RequestTable, prompt: u32, _output: u32) -> bool {
        if self.load() >= self.max_num_seqs {
            return false;
        }
        super::blocks_free_for(
            &self.pool,
            self.limits.block_tokens,
            &self.waiting,
            table,
            prompt,
        )
    }

    pub fn enqueue(&mut self, slot: Slot) {
        self.waiting.push_back(slot);
    }

    pub fn remove_waiting(&mut self, slot: Slot) -> bool {
        if let Some(pos) = self.waiting.iter().position(|&s| s == slot) {
            self.waiting.remove(pos);
            true
        } else {
            false
        }
    }

    /// Frees a request's blocks, the last block first (so the end of a
    /// sequence is evicted before its shared beginning, as in vLLM).
    fn free_blocks(&mut self, slot: Slot, table: &mut RequestTable) {
        let r = &mut table[slot];
        for &b in r.blocks.iter().rev() {
            self.pool.release(b);
        }
        r.blocks.clear();
        r.registered = 0;
    }

    /// Takes a running request out: its KV is freed and it will recompute
    /// prompt + tokens produced so far when readmitted.
    fn take_out(&mut self, slot: Slot, table: &mut RequestTable) {
        self.register_full(slot, table);
        self.free_blocks(slot, table);
        let r = &mut table[slot];
        r.prefilled = 0;
        r.restarts += 1;
        r.phase = Phase::Queued;
    }

    /// Registers the request's blocks that are full.
    fn register_full(&mut self, slot: Slot, table: &mut RequestTable) {
        if !self.pool.caching() {
            return;
        }
        let block = self.limits.block_tokens;
        let r = &table[slot];
        let full = (r.prefilled / block).min(r.blocks.len() as u32);
        for i in r.registered..full {
            let key = block_key(r, i, block, &self.hashes);
            self.pool.register(r.blocks[i as usize], key);
        }
        table[slot].registered = full;
    }

    /// Allocates blocks so the request can hold `tokens` tokens of KV.
    fn grow(&mut self, slot: Slot, tokens: u32, table: &mut RequestTable) {
        let need = tokens.div_ceil(self.limits.block_tokens) as usize;
        while table[slot].blocks.len() < need {
            let b = self.pool.allocate();
            table[slot].blocks.push(b);
        }
    }

    fn blocks_needed(&self, held: usize, tokens: u32) -> u32 {
        (tokens.div_ceil(self.limits.block_tokens) as usize).saturating_sub(held) as u32
    }

    /// Starts a step at `now` if there is work; returns when it ends.
    pub fn start_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        step: &StepModel,
    ) -> Option<Seconds> {
        debug_assert!(!self.busy, "step started twice");
        let mut budget = self.limits.max_num_batched_tokens;
        let mut preempted = false;
        self.scheduled.clear();
        // 1. Running requests, in admission order.
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 {
            let slot = self.running[i];
            let r = &table[slot];
            let want = r.prompt_tokens + r.generated - r.prefilled;
            let n = want.min(budget);
            let total = r.prefilled + n;
            loop {
                let need = self.blocks_needed(table[slot].blocks.len(), total);
                if need <= self.pool.free() {
                    break;
                }
                let victim = self.running.pop().expect("a running request");
                self.take_out(victim, table);
                self.waiting.push_front(victim);
                self.stats.preemptions += 1;
                preempted = true;
                if victim == slot {
                    break 'running;
                }
            }
            self.grow(slot, total, table);
            self.scheduled.push((slot, n));
            budget -= n;
            i += 1;
        }
        if !preempted {
            let cutoff = self
                .last
                .cutoff(now, &self.limits, !self.scheduled.is_empty());
            while let Some(&slot) = self.waiting.front() {
                if budget == 0
                    || self.running.len() as u32 >= self.max_num_seqs
                    || table[slot].queued_s > cutoff
                {
                    break;
                }
                let target = table[slot].prompt_tokens + table[slot].generated;
                let block = self.limits.block_tokens;
                // Cached prefix: consecutive full blocks, at most target − 1 tokens.
                let mut hits = std::mem::take(&mut self.hits);
                hits.clear();
                let mut free_hits = 0;
                if self.pool.caching() {
                    let max_blocks = (target - 1) / block;
                    for b in 0..max_blocks {
                        match self
                            .pool
                            .lookup(block_key(&table[slot], b, block, &self.hashes))
                        {
                            Some(blk) => {
                                free_hits += self.pool.is_free(blk) as u32;
                                hits.push(blk);
                            }
                            None => break,
                        }
                    }
                }
                let cached = hits.len() as u32 * block;
                let n = (target - cached).min(budget);
                let new_blocks = self.blocks_needed(hits.len(), cached + n);
                if new_blocks + free_hits > self.pool.free() {
                    self.hits = hits;
                    break;
                }
                self.waiting.pop_front();
                for &blk in &hits {
                    self.pool.take(blk);
                }
                let r = &mut table[slot];
                r.blocks.clear();
                r.blocks.extend_from_slice(&hits);
                r.registered = hits.len() as u32;
                r.prefilled = cached;
                r.phase = Phase::Prefilling;
                if r.admitted_s.is_nan() {
                    r.admitted_s = now;
                }
                self.hits = hits;
                self.stats.prefix_hit_tokens += cached as u64;
                self.stats.prefix_query_tokens += target as u64;
                self.grow(slot, cached + n, table);
                self.running.push(slot);
                self.scheduled.push((slot, n));
                budget -= n;
            }
        }
        if self.scheduled.is_empty() {
            return None;
        }
        let mut load = IterationLoad::default();
        for &(slot, n) in &self.scheduled {
            let r = &table[slot];
            let before = r.prefilled as u64;
            let n64 = n as u64;
            if r.phase == Phase::Decoding {
                load.decode_seqs += 1;
                load.decode_context_tokens += before + 1;
            } else {
                load.prefill_seqs += 1;
                load.prefill_tokens += n64;
                load.prefill_attention_pairs +=
                    (n64 * before) as f64 + (n64 * (n64 + 1)) as f64 / 2.0;
            }
            load.context_tokens += before + n64;
        }
        let t = step.iteration_s(&load);
        debug_assert!(t.is_finite() && t >= 0.0, "bad step time {t}");
        self.busy = true;
        self.last = LastStep {
            start: now,
            end: now + t,
        };
        self.stats.busy_s += t;
        self.stats.batch_seconds += t * self.scheduled.len() as f64;
        self.stats.iterations += 1;
        Some(now + t)
    }

    /// Ends the current step at `now`; finished requests are pushed to `done`.
    pub fn finish_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        done: &mut Vec<Slot>,
    ) {
        debug_assert!(self.busy, "no step to finish");
        let mut finished = false;
        for k in 0..self.scheduled.len() {
            let (slot, n) = self.scheduled[k];
            let r = &mut table[slot];
            let was_prefilling = r.phase == Phase::Prefilling;
            r.prefilled += n;
            if r.prefilled < r.prompt_tokens + r.generated {
                self.register_full(slot, table);
                continue; // a prompt chunk; no token yet
            }
            // The step computed every token so far: it samples the next one.
            r.generated += 1;
            r.phase = Phase::Decoding;
            if r.first_token_s.is_nan() {
                r.first_token_s = now;
            }
            self.stats.output_tokens += 1;
            let complete = r.generated >= r.output_tokens;
            // Prompt blocks are cached as they fill; a sequence's own decode
            // blocks only matter to itself, so they are cached when it leaves.
            if was_prefilling || complete {
                self.register_full(slot, table);
            }
            if complete {
                self.free_blocks(slot, table);
                table[slot].phase = Phase::Done;
                done.push(slot);
                finished = true;
            }
        }
        if finished {
            self.running.retain(|&s| table[s].phase != Phase::Done);
        }
        self.busy = false;
    }

    /// The replica disappears (spot interruption): the step in progress is
    /// lost, the cache with it, and every request is returned, running ones
    /// first in admission order, then the waiting ones in queue order.
    pub fn evict_all(&mut self, table: &mut RequestTable) -> Vec<Slot> {
        let mut out = Vec::with_capacity(self.load() as usize);
        for k in 0..self.running.len() {
            let slot = self.running[k];
            self.take_out(slot, table);
            out.push(slot);
        }
        self.running.clear();
        out.extend(self.waiting.drain(..));
        self.scheduled.clear();
        self.busy = false;
        self.pool.clear();
        out
    }
}
