//! One serving engine instance running continuous batching, with the
//! exact reference semantics of docs/model.md ("Continuous batching").
//!
//! Lifecycle of one iteration:
//!
//! ```text
//!   start_iteration(now)                       finish_iteration(end)
//!   ├─ paged: grow KV of decoding seqs,        ├─ every decoding seq +1 token
//!   │  preempting the newest if needed         ├─ prefills progress; a completed
//!   ├─ prefill budget to continuing chunks     │  prompt yields its next token
//!   ├─ admit FIFO while batch, KV (and         │  (TTFT for a first token)
//!   │  chunk budget) allow; stop at the        └─ sequences at their last token
//!   │  first that does not fit                    leave and release their KV
//!   └─ duration from the step-time model
//! ```
//!
//! Work per iteration is O(1) plus O(log n) per admission and completion in
//! `reserve` mode: sums of context are kept incrementally, each sequence's
//! token count is derived from the iteration counter (`i − anchor`), and
//! completions come from a min-heap keyed by the iteration that finishes
//! them. `paged` mode adds a scan of the running batch per iteration to grow
//! KV blocks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

mod batch;

use super::inflight::{NIL, Phase, RequestTable, Slot};
use super::step_time::{IterationLoad, StepModel};
use crate::units::Seconds;

/// Batching limits of one replica, concrete for one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaConfig {
    pub max_batch: u32,
    pub kv_capacity_tokens: u64,
    /// `Some(block)`: paged KV in blocks of `block` tokens, preemption by
    /// recompute. `None`: the whole sequence is reserved at admission.
    pub paged_block_tokens: Option<u32>,
    /// `Some(n)`: at most n prompt tokens prefilled per iteration.
    pub chunk_tokens: Option<u32>,
    /// `Some`: the engine-faithful scheduler (`admission = "vllm"`), with
    /// `max_batch` as `max_num_seqs`; the two fields above are unused.
    pub vllm: Option<super::vllm::VllmLimits>,
}

impl ReplicaConfig {
    /// Whether a request could ever be served here (else it is dropped on arrival).
    pub fn fits(&self, prompt_tokens: u32, output_tokens: u32) -> bool {
        if let Some(limits) = &self.vllm {
            return super::vllm::fits(
                self.kv_capacity_tokens,
                limits,
                prompt_tokens,
                output_tokens,
            );
        }
        let total = prompt_tokens as u64 + output_tokens as u64;
        total <= self.kv_capacity_tokens && total <= self.usable_kv_tokens() + self.block_slack()
    }

    /// KV tokens that can actually be allocated (whole blocks when paged).
    pub fn usable_kv_tokens(&self) -> u64 {
        match self.paged_block_tokens {
            Some(b) => self.kv_capacity_tokens / b as u64 * b as u64,
            None => self.kv_capacity_tokens,
        }
    }

    /// A paged sequence needs KV for at most P + O − 1 tokens (the last token's
    /// KV is never written), so a full-block capacity may hold one token less.
    fn block_slack(&self) -> u64 {
        self.paged_block_tokens.map_or(0, |_| 1)
    }
}

/// Counters of one replica over a history.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplicaStats {
    /// Time spent in iterations.
    pub busy_s: Seconds,
    /// Σ iteration duration × sequences in the batch (for time-weighted mean batch).
    pub batch_seconds: f64,
    pub iterations: u64,
    pub preemptions: u64,
    pub output_tokens: u64,
    /// Engine-faithful mode: prompt tokens found in the prefix cache at
    /// admission, and prompt tokens admitted (recomputations included).
    pub prefix_hit_tokens: u64,
    pub prefix_query_tokens: u64,
}

#[derive(Debug, Clone)]
pub struct Replica {
    cfg: ReplicaConfig,
    /// KV tokens that can be allocated.
    usable_kv: u64,
    waiting: VecDeque<Slot>,
    /// Running sequences in admission order (intrusive list through the table).
    head: Slot,
    tail: Slot,
    running: u32,
    /// Admitted sequences whose prompt is not yet fully prefilled, FIFO.
    prefilling: VecDeque<Slot>,
    decoding: u64,
    /// Σ (prompt + tokens produced) over decoding sequences, at iteration start.
    decode_context: u64,
    kv_used: u64,
    /// Index of the next (or current) iteration.
    iter: u64,
    /// (iteration that produces the last token, slot, epoch).
    finishing: BinaryHeap<Reverse<(u64, Slot, u32)>>,
    busy: bool,
    /// Prefill work of the current iteration: (slot, chunk tokens).
    scheduled: Vec<(Slot, u32)>,
    iter_decoding: u64,
    pub stats: ReplicaStats,
}

impl Replica {
    pub fn new(cfg: ReplicaConfig) -> Self {
        Replica {
            usable_kv: cfg.usable_kv_tokens(),
            cfg,
            waiting: VecDeque::new(),
            head: NIL,
            tail: NIL,
            running: 0,
            prefilling: VecDeque::new(),
            decoding: 0,
            decode_context: 0,
            kv_used: 0,
            iter: 0,
            finishing: BinaryHeap::new(),
            busy: false,
            scheduled: Vec::new(),
            iter_decoding: 0,
            stats: ReplicaStats::default(),
        }
    }

    pub fn config(&self) -> &ReplicaConfig {
        &self.cfg
    }

    /// Waiting + running: what the least-loaded router compares.
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

    /// An iteration is in progress.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// No work at all.
    pub fn is_empty(&self) -> bool {
        self.running == 0 && self.waiting.is_empty()
    }

    pub fn kv_used(&self) -> u64 {
        self.kv_used
    }

    pub fn kv_capacity(&self) -> u64 {
        self.usable_kv
    }

    /// Whether this replica could admit one more request now or at its next
    /// iteration, counting what already waits (used by the shared queue).
    pub fn has_room_for(&self, table: &RequestTable, prompt: u32, output: u32) -> bool {
        if self.running + self.waiting.len() as u32 >= self.cfg.max_batch {
            return false;
        }
        let pending: u64 = self
            .waiting
            .iter()
            .map(|&s| {
                self.kv_need(
                    table[s].prompt_tokens + table[s].generated,
                    table[s].output_tokens,
                    table[s].prompt_tokens,
                )
            })
            .sum();
        self.kv_used + pending + self.kv_need(prompt, output, prompt) <= self.usable_kv
    }

    pub fn enqueue(&mut self, slot: Slot) {
        self.waiting.push_back(slot);
    }

    /// Removes a waiting request (it timed out to overflow). O(queue length).
    pub fn remove_waiting(&mut self, slot: Slot) -> bool {
        if let Some(pos) = self.waiting.iter().position(|&s| s == slot) {
            self.waiting.remove(pos);
            true
        } else {
            false
        }
    }

    /// KV tokens a request takes at admission: the whole sequence when
    /// reserving, the blocks of its prefill target when paged.
    #[inline]
    fn kv_need(&self, target: u32, output: u32, prompt: u32) -> u64 {
        match self.cfg.paged_block_tokens {
            None => prompt as u64 + output as u64,
            Some(b) => (target as u64).div_ceil(b as u64) * b as u64,
        }
    }

    /// Starts an iteration at `now` if there is work; returns when it ends.
    pub fn start_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        step: &StepModel,
    ) -> Option<Seconds> {
        debug_assert!(!self.busy, "iteration started twice");
        let mut preempted = false;
        if let Some(block) = self.cfg.paged_block_tokens {
            preempted = self.grow_paged_kv(block, table);
        }
        let mut budget = self.cfg.chunk_tokens.map_or(u64::MAX, u64::from);
        self.scheduled.clear();
        // Prompts already being prefilled continue first, oldest first.
        for &slot in &self.prefilling {
            if budget == 0 {
                break;
            }
            let r = &table[slot];
            let chunk = ((r.prefill_target - r.prefilled) as u64).min(budget);
            budget -= chunk;
            self.scheduled.push((slot, chunk as u32));
        }
        // Admission, FIFO, stopping at the first request that does not fit.
        // As in vLLM, an iteration that had to preempt admits nothing new.
        if !preempted {
            while let Some(&slot) = self.waiting.front() {
                if self.running >= self.cfg.max_batch || budget == 0 {
                    break;
                }
                let r = &table[slot];
                let target = r.prompt_tokens + r.generated;
                let need = self.kv_need(target, r.output_tokens, r.prompt_tokens);
                if self.kv_used + need > self.usable_kv {
                    break;
                }
                self.waiting.pop_front();
                self.kv_used += need;
                let r = &mut table[slot];
                r.kv_held = need;
                if r.admitted_s.is_nan() {
                    r.admitted_s = now;
                }
                r.prefill_target = target;
                r.prefilled = 0;
                r.phase = Phase::Prefilling;
                self.link_back(slot, table);
                let chunk = (target as u64).min(budget);
                budget -= chunk;
                self.prefilling.push_back(slot);
                self.scheduled.push((slot, chunk as u32));
            }
        }
        if self.running == 0 {
            return None;
        }
        let mut load = IterationLoad {
            decode_seqs: self.decoding,
            decode_context_tokens: self.decode_context,
            context_tokens: self.decode_context,
            ..IterationLoad::default()
        };
        for &(slot, chunk) in &self.scheduled {
            let before = table[slot].prefilled as u64;
            let chunk = chunk as u64;
            load.prefill_tokens += chunk;
            load.prefill_attention_pairs +=
                (chunk * before) as f64 + (chunk * (chunk + 1)) as f64 / 2.0;
            load.context_tokens += before + chunk;
        }
        let t = step.iteration_s(&load);
        debug_assert!(t.is_finite() && t >= 0.0, "bad iteration time {t}");
        self.busy = true;
        self.iter_decoding = self.decoding;
        self.stats.busy_s += t;
        self.stats.batch_seconds += t * self.running as f64;
        self.stats.iterations += 1;
        Some(now + t)
    }

    /// Ends the current iteration at `now`; finished requests are pushed to `done`.
    pub fn finish_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        done: &mut Vec<Slot>,
    ) {
        debug_assert!(self.busy, "no iteration to finish");
        let i = self.iter;
        // Every sequence decoding at the start produced one token.
        self.decode_context += self.iter_decoding;
        self.stats.output_tokens += self.iter_decoding;
        for k in 0..self.scheduled.len() {
            let (slot, chunk) = self.scheduled[k];
            let r = &mut table[slot];
            r.prefilled += chunk;
            if r.prefilled < r.prefill_target {
                continue;
            }
            let front = self.prefilling.pop_front();
            debug_assert_eq!(front, Some(slot), "prefills complete in FIFO order");
            // The iteration that completes the prompt produces the next token.
            let produced = r.generated + 1;
            if r.first_token_s.is_nan() {
                r.first_token_s = now;
            }
            r.phase = Phase::Decoding;
            r.anchor = i as i64 + 1 - produced as i64;
            self.decoding += 1;
            self.decode_context += (r.prompt_tokens + produced) as u64;
            self.stats.output_tokens += 1;
            if produced >= r.output_tokens {
                self.complete(slot, table, done);
            } else {
                let last = (r.output_tokens as i64 + r.anchor - 1) as u64;
                self.finishing.push(Reverse((last, slot, r.epoch)));
            }
        }
        while let Some(&Reverse((last, slot, epoch))) = self.finishing.peek() {
            if last > i {
                break;
            }
            self.finishing.pop();
            let r = &table[slot];
            if r.epoch != epoch || r.phase != Phase::Decoding {
                continue; // preempted or evicted since
            }
            debug_assert_eq!(last, i, "a completion was missed");
            self.complete(slot, table, done);
        }
        self.iter += 1;
        self.busy = false;
    }

    fn complete(&mut self, slot: Slot, table: &mut RequestTable, done: &mut Vec<Slot>) {
        let r = &mut table[slot];
        self.decode_context -= (r.prompt_tokens + r.output_tokens) as u64;
        self.decoding -= 1;
        self.kv_used -= r.kv_held;
        r.kv_held = 0;
        r.generated = r.output_tokens;
        r.phase = Phase::Done;
        self.unlink(slot, table);
        done.push(slot);
    }
}
