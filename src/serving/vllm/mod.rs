//! One replica scheduled as vLLM V1 schedules (`admission = "vllm"`, the
//! default): a token budget per step, running requests first, chunked
//! prefill always on, paged KV with preemption by recompute, and an
//! automatic prefix cache (docs/model.md, "Engine-faithful scheduling").
//!
//! Each step:
//! 1. **Running** requests, in admission order, each get the tokens they
//!    still need (1 for a decoding sequence; the rest of the prompt, capped
//!    by the budget, for one still prefilling). Their new KV blocks are
//!    allocated; when none is free, the most recently admitted running
//!    request is preempted (blocks freed, back to the head of the queue, to
//!    be recomputed). A request that would have to preempt itself ends the
//!    loop.
//! 2. Only if nothing was preempted, **waiting** requests in FIFO order,
//!    while budget remains and fewer than `max_num_seqs` run: cached prefix
//!    blocks are taken (at most prompt − 1 tokens), the rest of the prompt
//!    is scheduled up to the budget, and its blocks are allocated; the first
//!    request that does not fit ends admission.
//!
//! A request's first token comes at the end of the step that computes its
//! last prompt token; each later step adds one.
//!
//! **Work per step.** A decoding sequence is not touched in a step where it
//! neither needs a new block nor finishes: its token count is derived from
//! the step counter (`step − anchor`), the context sum is kept
//! incrementally, and the steps where it needs a block or finishes come
//! from two min-heaps. When the budget cannot cover every running request,
//! the step walks the running list in order, as vLLM does. [`stepwise`]
//! walks it every step; the two give identical results (tested).

pub mod blocks;
pub mod stepwise;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::inflight::{NIL, Phase, RequestTable, Slot};
use super::replica::ReplicaStats;
use super::step_time::{IterationLoad, StepModel};
use crate::units::Seconds;
use crate::workload::Prefix;
use blocks::{BlockPool, mix};

/// The engine-faithful scheduler's limits, concrete for one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VllmLimits {
    /// Token budget of one step.
    pub max_num_batched_tokens: u32,
    pub block_tokens: u32,
    pub prefix_caching: bool,
    /// Asynchronous scheduling (vLLM ≥ 0.12's default): step k is formed
    /// while step k − 1 runs, so it only admits requests queued by the
    /// start of step k − 1.
    pub async_scheduling: bool,
}

impl VllmLimits {
    /// The limits of an engine in the engine-faithful mode, concrete for
    /// one replication; `None` in the reference modes.
    pub fn of(engine: &crate::scenario::Engine, draws: &crate::scenario::Draws) -> Option<Self> {
        (engine.admission == crate::scenario::Admission::Vllm).then(|| VllmLimits {
            max_num_batched_tokens: engine.max_num_batched_tokens.value(draws).round().max(1.0)
                as u32,
            block_tokens: engine.kv_block_tokens.value(draws).round().max(1.0) as u32,
            prefix_caching: engine.prefix_caching,
            async_scheduling: engine.async_scheduling,
        })
    }
}

/// Whether the free blocks cover every waiting request's (re)computed
/// tokens and a new prompt: the shared queue's test, for both schedulers.
fn blocks_free_for(
    pool: &BlockPool,
    block_tokens: u32,
    waiting: &VecDeque<Slot>,
    table: &RequestTable,
    prompt: u32,
) -> bool {
    let b = block_tokens as u64;
    let pending: u64 = waiting
        .iter()
        .map(|&s| (table[s].prompt_tokens as u64 + table[s].generated as u64).div_ceil(b))
        .sum();
    pending + (prompt as u64).div_ceil(b) <= pool.free() as u64
}

/// Times of the last step, for asynchronous scheduling: a request queued
/// after `start` is invisible to the step that follows it back to back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastStep {
    pub start: Seconds,
    pub end: Seconds,
}

impl LastStep {
    pub const NONE: LastStep = LastStep {
        start: f64::NEG_INFINITY,
        end: f64::NEG_INFINITY,
    };

    /// The latest queueing time a step formed at `now` can see: with
    /// asynchronous scheduling and running work in the step, the start of
    /// the previous step if it ended just now; otherwise `now` (an idle
    /// engine schedules at once).
    pub fn cutoff(&self, now: Seconds, limits: &VllmLimits, has_running_work: bool) -> Seconds {
        if limits.async_scheduling && has_running_work && self.end == now {
            self.start
        } else {
            now
        }
    }
}

/// Where the prefix hashes of trace rows live, and the tokens each names.
#[derive(Debug, Clone, Default)]
pub struct HashPool {
    pub hashes: std::sync::Arc<[u64]>,
    pub block_tokens: u32,
}

/// Namespace of a request's own (unshared) blocks.
const OWN: u64 = 1 << 63;

/// The cache key of block `b` (of `block` tokens) of a request.
fn block_key(r: &super::inflight::InFlight, b: u32, block: u32, pool: &HashPool) -> u64 {
    let end = (b as u64 + 1) * block as u64;
    match r.prefix {
        Prefix::Shared { key, tokens } if end <= tokens as u64 => mix(key, b as u64),
        // A conversation's system prompt is its group's; the rest of what
        // the next turn will repeat is the conversation's.
        Prefix::Session {
            group,
            group_tokens,
            ..
        } if group != 0 && end <= group_tokens as u64 => mix(group, b as u64),
        Prefix::Session { key, tokens, .. } if end <= tokens as u64 => mix(key, b as u64),
        Prefix::Hashes { start, len } if pool.block_tokens > 0 => {
            // Engine blocks inside trace block j are named by its hash.
            let per = (pool.block_tokens / block).max(1) as u64;
            let j = b as u64 / per;
            if j < len as u64 && end <= (j + 1) * pool.block_tokens as u64 {
                mix(pool.hashes[(start as u64 + j) as usize], b as u64 % per)
            } else {
                mix(OWN | r.id, b as u64)
            }
        }
        _ => mix(OWN | r.id, b as u64),
    }
}

/// How many leading blocks of a request other requests may share.
fn shared_blocks(r: &super::inflight::InFlight, block: u32, pool: &HashPool) -> u32 {
    match r.prefix {
        Prefix::None => 0,
        Prefix::Shared { tokens, .. } | Prefix::Session { tokens, .. } => tokens / block,
        Prefix::Hashes { len, .. } => {
            let per = (pool.block_tokens / block).max(1);
            len.saturating_mul(per)
        }
    }
}

/// Whether a request could ever run on `kv_capacity_tokens` of KV: its KV
/// (P + O − 1 tokens; the last token's is never written) fits all blocks.
pub fn fits(kv_capacity_tokens: u64, limits: &VllmLimits, prompt: u32, output: u32) -> bool {
    let b = limits.block_tokens as u64;
    let need = (prompt as u64 + output as u64)
        .saturating_sub(1)
        .div_ceil(b);
    need <= kv_capacity_tokens / b
}

#[derive(Debug, Clone)]
pub struct VllmReplica {
    max_num_seqs: u32,
    limits: VllmLimits,
    pool: BlockPool,
    hashes: HashPool,
    waiting: VecDeque<Slot>,
    /// Running requests in admission order (intrusive list through the table).
    head: Slot,
    tail: Slot,
    running: u32,
    /// Running requests still computing their prompt (or its recomputation), in admission order.
    prefilling: Vec<Slot>,
    decoding: u64,
    /// Σ (prompt + tokens produced) over decoding requests, at step start.
    decode_context: u64,
    /// Index of the current (or next) step.
    iter: u64,
    /// Admission counter, for admission order across structures.
    next_order: u64,
    /// (step that produces the last token, slot, epoch).
    finishing: BinaryHeap<Reverse<(u64, Slot, u32)>>,
    /// (step that needs another KV block, admission order, slot, epoch).
    boundary: BinaryHeap<Reverse<(u64, u64, Slot, u32)>>,
    /// This step: prefill chunks (slot, tokens) in admission order, and how
    /// many decoding requests produce a token.
    chunks: Vec<(Slot, u32)>,
    step_decoding: u64,
    step_decode_context: u64,
    busy: bool,
    last: LastStep,
    /// Scratch buffers.
    needs: Vec<(u64, Slot)>,
    hits: Vec<u32>,
    ended: Vec<(u64, Slot)>,
    pub stats: ReplicaStats,
}

impl VllmReplica {
    pub fn new(
        max_num_seqs: u32,
        kv_capacity_tokens: u64,
        limits: VllmLimits,
        hashes: HashPool,
    ) -> Self {
        let blocks =
            (kv_capacity_tokens / limits.block_tokens as u64).min(u32::MAX as u64 - 1) as u32;
        VllmReplica {
            max_num_seqs,
            limits,
            pool: BlockPool::new(blocks, limits.prefix_caching),
            hashes,
            waiting: VecDeque::new(),
            head: NIL,
            tail: NIL,
            running: 0,
            prefilling: Vec::new(),
            decoding: 0,
            decode_context: 0,
            iter: 0,
            next_order: 0,
            finishing: BinaryHeap::new(),
            boundary: BinaryHeap::new(),
            chunks: Vec::new(),
            step_decoding: 0,
            step_decode_context: 0,
            busy: false,
            last: LastStep::NONE,
            needs: Vec::new(),
            hits: Vec::new(),
            ended: Vec::new(),
            stats: ReplicaStats::default(),
        }
    }

    #[inline]
    pub fn load(&self) -> u32 {
        self.waiting.len() as u32 + self.running
    }
    pub fn running(&self) -> u32 {
        self.running
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
        self.running == 0 && self.waiting.is_empty()
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
        blocks_free_for(
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

    // ----- per-request bookkeeping -----------------------------------------

    /// Tokens a decoding request has produced by the start of the current step.
    #[inline]
    fn produced(&self, r: &super::inflight::InFlight) -> u32 {
        (self.iter as i64 - r.anchor) as u32
    }

    /// Tokens whose KV a request has computed, at the start of this step.
    fn computed(&self, r: &super::inflight::InFlight) -> u32 {
        match r.phase {
            Phase::Decoding => r.prompt_tokens + self.produced(r) - 1,
            _ => r.prefilled,
        }
    }

    /// Registers the request's full blocks in the prefix cache: only those
    /// other requests can share (`shared_only`), or all of them (before its
    /// KV is freed by a preemption, for its own recomputation). A request's
    /// own blocks are never looked up by another, so caching them while it
    /// runs or after it ends would change nothing.
    fn register_full(
        &mut self,
        slot: Slot,
        computed: u32,
        shared_only: bool,
        table: &mut RequestTable,
    ) {
        if !self.pool.caching() {
            return;
        }
        let block = self.limits.block_tokens;
        let r = &table[slot];
        let mut full = (computed / block).min(r.blocks.len() as u32);
        if shared_only {
            full = full.min(shared_blocks(r, block, &self.hashes));
        }
        for i in r.registered..full {
            let key = block_key(r, i, block, &self.hashes);
            self.pool.register(r.blocks[i as usize], key);
        }
        table[slot].registered = full;
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

    fn grow(&mut self, slot: Slot, tokens: u32, table: &mut RequestTable) {
        let need = tokens.div_ceil(self.limits.block_tokens) as usize;
        while table[slot].blocks.len() < need {
            let b = self.pool.allocate();
            table[slot].blocks.push(b);
        }
    }

    #[inline]
    fn blocks_needed(&self, held: usize, tokens: u32) -> u32 {
        (tokens.div_ceil(self.limits.block_tokens) as usize).saturating_sub(held) as u32
    }

    /// Makes a request decode from the next step on, with `produced` tokens.
    fn start_decoding(&mut self, slot: Slot, table: &mut RequestTable) {
        let next = self.iter + 1;
        let block = self.limits.block_tokens as u64;
        let r = &mut table[slot];
        r.phase = Phase::Decoding;
        r.anchor = next as i64 - r.generated as i64;
        self.decoding += 1;
        self.decode_context += (r.prompt_tokens + r.generated) as u64;
        // It produces its last token at step anchor + O − 1.
        let last = (r.anchor + r.output_tokens as i64 - 1) as u64;
        self.finishing.push(Reverse((last, slot, r.epoch)));
        // At step s it needs prompt + (s − anchor) tokens of KV.
        let room = r.blocks.len() as u64 * block;
        let need_at = (room as i64 - r.prompt_tokens as i64 + r.anchor + 1).max(next as i64) as u64;
        self.boundary
            .push(Reverse((need_at, r.order, slot, r.epoch)));
    }

    /// Takes a running request out (preemption or eviction): its full blocks
    /// are cached, its KV freed; it will recompute prompt + tokens produced.
    fn take_out(&mut self, slot: Slot, table: &mut RequestTable) {
        let computed = self.computed(&table[slot]);
        match table[slot].phase {
            Phase::Decoding => {
                let produced = self.produced(&table[slot]);
                self.decoding -= 1;
                self.decode_context -= (table[slot].prompt_tokens + produced) as u64;
                table[slot].generated = produced;
            }
            Phase::Prefilling => {
                if let Some(pos) = self.prefilling.iter().position(|&s| s == slot) {
                    self.prefilling.remove(pos);
                }
            }
            Phase::Queued | Phase::Done => unreachable!("not running"),
        }
        self.register_full(slot, computed, false, table);
        self.free_blocks(slot, table);
        let r = &mut table[slot];
        r.prefilled = 0;
        r.restarts += 1;
        r.epoch = r.epoch.wrapping_add(1);
        r.phase = Phase::Queued;
        self.unlink(slot, table);
    }

    fn preempt_tail(&mut self, table: &mut RequestTable) -> Slot {
        let victim = self.tail;
        debug_assert!(victim != NIL, "a running request to preempt");
        self.take_out(victim, table);
        self.waiting.push_front(victim);
        self.stats.preemptions += 1;
        victim
    }

    /// Makes room for `tokens` tokens of KV for a running request, preempting
    /// from the tail as needed. `false` if it had to preempt itself.
    fn reserve(&mut self, slot: Slot, tokens: u32, table: &mut RequestTable) -> bool {
        while self.blocks_needed(table[slot].blocks.len(), tokens) > self.pool.free() {
            if self.preempt_tail(table) == slot {
                return false;
            }
        }
        self.grow(slot, tokens, table);
        true
    }

    // ----- one step -----------------------------------------------------------

    /// Starts a step at `now` if there is work; returns when it ends.
    pub fn start_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        step: &StepModel,
    ) -> Option<Seconds> {
        debug_assert!(!self.busy, "step started twice");
        let i = self.iter;
        let budget = self.limits.max_num_batched_tokens as u64;
        self.chunks.clear();
        self.step_decoding = 0;
        self.step_decode_context = 0;
        let demand = self.decoding
            + self
                .prefilling
                .iter()
                .map(|&s| (table[s].prompt_tokens + table[s].generated - table[s].prefilled) as u64)
                .sum::<u64>();
        let (preempted, used) = if demand <= budget {
            self.schedule_running_whole(i, table)
        } else {
            self.schedule_running_walk(i, budget, table)
        };
        // Entries for this step that were not consumed are stale.
        while let Some(&Reverse((s, ..))) = self.boundary.peek() {
            if s > i {
                break;
            }
            self.boundary.pop();
        }
        if !preempted {
            let running_work = !self.chunks.is_empty() || self.step_decoding > 0;
            let cutoff = self.last.cutoff(now, &self.limits, running_work);
            self.admit(now, cutoff, budget - used, table);
        }
        if self.chunks.is_empty() && self.step_decoding == 0 {
            return None;
        }
        let mut load = IterationLoad {
            decode_seqs: self.step_decoding,
            decode_context_tokens: self.step_decode_context,
            context_tokens: self.step_decode_context,
            ..IterationLoad::default()
        };
        for &(slot, n) in &self.chunks {
            let before = table[slot].prefilled as u64;
            let n = n as u64;
            load.prefill_seqs += 1;
            load.prefill_tokens += n;
            load.prefill_attention_pairs += (n * before) as f64 + (n * (n + 1)) as f64 / 2.0;
            load.context_tokens += before + n;
        }
        let t = step.iteration_s(&load);
        debug_assert!(t.is_finite() && t >= 0.0, "bad step time {t}");
        self.busy = true;
        self.last = LastStep {
            start: now,
            end: now + t,
        };
        self.stats.busy_s += t;
        self.stats.batch_seconds += t * (self.step_decoding + self.chunks.len() as u64) as f64;
        self.stats.iterations += 1;
        Some(now + t)
    }

    /// Every running request fits the budget: schedule them all, and make
    /// room for those that need a block now (in admission order).
    /// Returns (preempted, tokens scheduled).
    fn schedule_running_whole(&mut self, i: u64, table: &mut RequestTable) -> (bool, u64) {
        let before = self.stats.preemptions;
        let mut needs = std::mem::take(&mut self.needs);
        needs.clear();
        while let Some(&Reverse((s, order, slot, epoch))) = self.boundary.peek() {
            if s > i {
                break;
            }
            self.boundary.pop();
            let r = &table[slot];
            if s == i && r.epoch == epoch && r.phase == Phase::Decoding {
                needs.push((order, slot));
            }
        }
        for &slot in &self.prefilling {
            needs.push((table[slot].order, slot));
        }
        needs.sort_unstable();
        for &(_, slot) in &needs {
            let r = &table[slot];
            let tokens = match r.phase {
                Phase::Decoding => r.prompt_tokens + self.produced(r),
                Phase::Prefilling => r.prompt_tokens + r.generated,
                Phase::Queued | Phase::Done => continue, // preempted meanwhile
            };
            if !self.reserve(slot, tokens, table) {
                break; // it had to preempt itself: the loop ends
            }
            if table[slot].phase == Phase::Decoding {
                self.push_boundary(slot, i + 1, table);
            }
        }
        self.needs = needs;
        self.step_decoding = self.decoding;
        self.step_decode_context = self.decode_context;
        let mut used = self.decoding;
        for &slot in &self.prefilling {
            let r = &table[slot];
            let n = r.prompt_tokens + r.generated - r.prefilled;
            used += n as u64;
            self.chunks.push((slot, n));
        }
        (self.stats.preemptions != before, used)
    }

    /// The budget binds: walk the running list in admission order as vLLM
    /// does; decoding requests past the end of the budget wait a step.
    fn schedule_running_walk(
        &mut self,
        i: u64,
        budget: u64,
        table: &mut RequestTable,
    ) -> (bool, u64) {
        let before = self.stats.preemptions;
        let mut left = budget;
        self.step_decoding = 0;
        self.step_decode_context = 0;
        let mut cur = self.head;
        while cur != NIL && left > 0 {
            let r = &table[cur];
            match r.phase {
                Phase::Decoding => {
                    let produced = self.produced(r);
                    let tokens = r.prompt_tokens + produced;
                    let held = r.blocks.len();
                    if !self.reserve(cur, tokens, table) {
                        break;
                    }
                    if table[cur].blocks.len() != held {
                        self.push_boundary(cur, i + 1, table);
                    }
                    self.step_decoding += 1;
                    self.step_decode_context += tokens as u64;
                    left -= 1;
                }
                Phase::Prefilling => {
                    let n = ((r.prompt_tokens + r.generated - r.prefilled) as u64).min(left) as u32;
                    let tokens = r.prefilled + n;
                    if !self.reserve(cur, tokens, table) {
                        break;
                    }
                    self.chunks.push((cur, n));
                    left -= n as u64;
                }
                Phase::Queued | Phase::Done => unreachable!("not running"),
            }
            cur = table[cur].next;
        }
        // Decoding requests the budget did not reach produce nothing this
        // step: their token count and timers shift by one step.
        while cur != NIL {
            let next = table[cur].next;
            if table[cur].phase == Phase::Decoding {
                let r = &mut table[cur];
                r.anchor += 1;
                r.epoch = r.epoch.wrapping_add(1);
                let last = (r.anchor + r.output_tokens as i64 - 1) as u64;
                self.finishing.push(Reverse((last, cur, r.epoch)));
                self.push_boundary(cur, i + 1, table);
            }
            cur = next;
        }
        (self.stats.preemptions != before, budget - left)
    }

    /// Schedules the step at which a decoding request next needs a block
    /// (at the earliest `from`).
    fn push_boundary(&mut self, slot: Slot, from: u64, table: &RequestTable) {
        let r = &table[slot];
        let room = (r.blocks.len() as u64 * self.limits.block_tokens as u64) as i64;
        // At step s it needs prompt + (s − anchor) tokens of KV.
        let at = (room - r.prompt_tokens as i64 + r.anchor + 1).max(from as i64) as u64;
        self.boundary.push(Reverse((at, r.order, slot, r.epoch)));
    }

    /// Admits waiting requests queued by `cutoff` while the budget and the
    /// blocks allow.
    fn admit(&mut self, now: Seconds, cutoff: Seconds, mut left: u64, table: &mut RequestTable) {
        let block = self.limits.block_tokens;
        while let Some(&slot) = self.waiting.front() {
            if left == 0 || self.running >= self.max_num_seqs || table[slot].queued_s > cutoff {
                break;
            }
            let target = table[slot].prompt_tokens + table[slot].generated;
            // Cached prefix: consecutive full blocks, at most target − 1 tokens.
            let mut hits = std::mem::take(&mut self.hits);
            hits.clear();
            let mut free_hits = 0;
            if self.pool.caching() {
                for b in 0..(target - 1) / block {
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
            let n = ((target - cached) as u64).min(left) as u32;
            if self.blocks_needed(hits.len(), cached + n) + free_hits > self.pool.free() {
                self.hits = hits;
                break;
            }
            self.waiting.pop_front();
            for &blk in &hits {
                self.pool.take(blk);
            }
            let order = self.next_order;
            self.next_order += 1;
            let r = &mut table[slot];
            r.blocks.clear();
            r.blocks.extend_from_slice(&hits);
            r.registered = hits.len() as u32;
            r.prefilled = cached;
            r.phase = Phase::Prefilling;
            r.order = order;
            if r.admitted_s.is_nan() {
                r.admitted_s = now;
            }
            self.hits = hits;
            self.stats.prefix_hit_tokens += cached as u64;
            self.stats.prefix_query_tokens += target as u64;
            self.grow(slot, cached + n, table);
            self.link_back(slot, table);
            self.prefilling.push(slot);
            self.chunks.push((slot, n));
            left -= n as u64;
        }
    }

    /// Ends the current step at `now`; finished requests are pushed to
    /// `done` in admission order.
    pub fn finish_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        done: &mut Vec<Slot>,
    ) {
        debug_assert!(self.busy, "no step to finish");
        let i = self.iter;
        self.decode_context += self.step_decoding;
        self.stats.output_tokens += self.step_decoding;
        let mut ended = std::mem::take(&mut self.ended);
        ended.clear();
        for k in 0..self.chunks.len() {
            let (slot, n) = self.chunks[k];
            let r = &mut table[slot];
            r.prefilled += n;
            let computed = r.prefilled;
            if computed < r.prompt_tokens + r.generated {
                self.register_full(slot, computed, true, table);
                continue; // a prompt chunk; no token yet
            }
            // The step computed every token so far: it samples the next one.
            r.generated += 1;
            if r.first_token_s.is_nan() {
                r.first_token_s = now;
            }
            self.stats.output_tokens += 1;
            if let Some(pos) = self.prefilling.iter().position(|&s| s == slot) {
                self.prefilling.remove(pos);
            }
            self.register_full(slot, computed, true, table);
            if table[slot].generated >= table[slot].output_tokens {
                ended.push((table[slot].order, slot));
            } else {
                self.start_decoding(slot, table);
            }
        }
        while let Some(&Reverse((s, slot, epoch))) = self.finishing.peek() {
            if s > i {
                break;
            }
            self.finishing.pop();
            let r = &table[slot];
            if r.epoch == epoch && r.phase == Phase::Decoding {
                debug_assert_eq!(s, i, "a completion was missed");
                ended.push((r.order, slot));
            }
        }
        ended.sort_unstable();
        for &(_, slot) in &ended {
            let r = &mut table[slot];
            if r.phase == Phase::Decoding {
                self.decoding -= 1;
                self.decode_context -= (r.prompt_tokens + r.output_tokens) as u64;
            }
            r.generated = r.output_tokens;
            let computed = r.prompt_tokens + r.output_tokens - 1;
            self.register_full(slot, computed, true, table);
            self.free_blocks(slot, table);
            table[slot].phase = Phase::Done;
            self.unlink(slot, table);
            done.push(slot);
        }
        self.ended = ended;
        self.iter += 1;
        self.step_decoding = 0;
        self.step_decode_context = 0;
        self.busy = false;
    }

    /// The replica disappears (spot interruption): the step in progress is
    /// lost, the cache with it, and every request is returned, running ones
    /// first in admission order, then the waiting ones in queue order.
    pub fn evict_all(&mut self, table: &mut RequestTable) -> Vec<Slot> {
        let mut out = Vec::with_capacity(self.load() as usize);
        while self.head != NIL {
            let s = self.head;
            self.take_out(s, table);
            out.push(s);
        }
        out.extend(self.waiting.drain(..));
        self.chunks.clear();
        self.prefilling.clear();
        self.finishing.clear();
        self.boundary.clear();
        self.step_decoding = 0;
        self.step_decode_context = 0;
        self.busy = false;
        self.pool.clear();
        debug_assert_eq!(
            (self.running, self.decoding, self.decode_context),
            (0, 0, 0)
        );
        out
    }

    fn link_back(&mut self, slot: Slot, table: &mut RequestTable) {
        table[slot].prev = self.tail;
        table[slot].next = NIL;
        if self.tail == NIL {
            self.head = slot;
        } else {
            table[self.tail].next = slot;
        }
        self.tail = slot;
        self.running += 1;
    }

    fn unlink(&mut self, slot: Slot, table: &mut RequestTable) {
        let (prev, next) = (table[slot].prev, table[slot].next);
        if prev == NIL {
            self.head = next;
        } else {
            table[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            table[next].prev = prev;
        }
        table[slot].prev = NIL;
        table[slot].next = NIL;
        self.running -= 1;
    }
}
