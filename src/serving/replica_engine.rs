//! The replica the simulation drives: the reference engine (`reserve`,
//! `paged`) or the engine-faithful one (`vllm`), behind one interface.

use super::inflight::{RequestTable, Slot};
use super::replica::{Replica, ReplicaConfig, ReplicaStats};
use super::step_time::StepModel;
use super::vllm::stepwise::StepwiseVllm;
use super::vllm::{HashPool, VllmReplica};
use crate::units::Seconds;

#[derive(Debug, Clone)]
pub enum ReplicaEngine {
    Reference(Replica),
    Vllm(VllmReplica),
    /// The engine-faithful scheduler's slow reference (tests compare).
    VllmStepwise(StepwiseVllm),
}

macro_rules! both {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            ReplicaEngine::Reference($r) => $e,
            ReplicaEngine::Vllm($r) => $e,
            ReplicaEngine::VllmStepwise($r) => $e,
        }
    };
}

impl ReplicaEngine {
    /// `stepwise`: use the engine-faithful scheduler's slow reference.
    pub fn new(cfg: ReplicaConfig, hashes: &HashPool, stepwise: bool) -> Self {
        match cfg.vllm {
            None => ReplicaEngine::Reference(Replica::new(cfg)),
            Some(limits) if stepwise => ReplicaEngine::VllmStepwise(StepwiseVllm::new(
                cfg.max_batch,
                cfg.kv_capacity_tokens,
                limits,
                hashes.clone(),
            )),
            Some(limits) => ReplicaEngine::Vllm(VllmReplica::new(
                cfg.max_batch,
                cfg.kv_capacity_tokens,
                limits,
                hashes.clone(),
            )),
        }
    }

    #[inline]
    pub fn load(&self) -> u32 {
        both!(self, r => r.load())
    }
    pub fn running(&self) -> u32 {
        both!(self, r => r.running())
    }
    pub fn waiting(&self) -> usize {
        both!(self, r => r.waiting())
    }
    /// The waiting queue, head first.
    pub fn waiting_queue(&self) -> &std::collections::VecDeque<Slot> {
        both!(self, r => r.waiting_queue())
    }
    #[inline]
    pub fn is_busy(&self) -> bool {
        both!(self, r => r.is_busy())
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        both!(self, r => r.is_empty())
    }
    pub fn kv_used(&self) -> u64 {
        both!(self, r => r.kv_used())
    }
    pub fn kv_capacity(&self) -> u64 {
        both!(self, r => r.kv_capacity())
    }
    pub fn stats(&self) -> &ReplicaStats {
        both!(self, r => &r.stats)
    }
    pub fn has_room_for(&self, table: &RequestTable, prompt: u32, output: u32) -> bool {
        both!(self, r => r.has_room_for(table, prompt, output))
    }
    pub fn enqueue(&mut self, slot: Slot) {
        both!(self, r => r.enqueue(slot))
    }
    pub fn remove_waiting(&mut self, slot: Slot) -> bool {
        both!(self, r => r.remove_waiting(slot))
    }
    #[inline]
    pub fn start_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        step: &StepModel,
    ) -> Option<Seconds> {
        both!(self, r => r.start_iteration(now, table, step))
    }
    #[inline]
    pub fn finish_iteration(
        &mut self,
        now: Seconds,
        table: &mut RequestTable,
        done: &mut Vec<Slot>,
    ) {
        both!(self, r => r.finish_iteration(now, table, done))
    }
    pub fn evict_all(&mut self, table: &mut RequestTable) -> Vec<Slot> {
        both!(self, r => r.evict_all(table))
    }
}
