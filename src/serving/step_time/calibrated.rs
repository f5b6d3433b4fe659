//! The calibrated step model (docs/model.md, "The calibrated step model"):
//! the roofline with the terms a measured engine shows, each with a
//! physical meaning, and constants fitted to vLLM on H100.
//!
//! One iteration takes
//!
//! ```text
//! overhead + per_seq × sequences
//!   + max(dense FLOPs / (peak × mfu), dense weight bytes / (bandwidth × mbu))
//!   + max(expert FLOPs / (peak × mfu × moe_gemm_efficiency), expert bytes read / (bandwidth × mbu))
//!   + decode KV bytes / (bandwidth × mbu) + prefill attention FLOPs / (peak × mfu)
//!   + tensor-parallel all-reduces
//! ```
//!
//! where dense FLOPs count the output head only for positions that produce
//! logits (a prompt chunk needs none until its last token), and the input
//! embedding is a lookup, never computed nor read in full.

use crate::scenario::{CalibratedConstants, Draws, Engine, EngineFigures, peak_flops};

use super::IterationLoad;

/// Bytes of one activation value exchanged by the all-reduces (16-bit).
const ACTIVATION_BYTES: f64 = 2.0;

/// The calibrated model with every constant folded for the hot loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    /// 2 × dense parameters other than embeddings, × seconds per FLOP.
    s_per_token_dense: f64,
    /// 2 × output-head parameters, × seconds per FLOP.
    s_per_logit: f64,
    /// 2 × active expert parameters, × seconds per FLOP at the grouped
    /// GEMM's efficiency.
    s_per_token_expert: f64,
    /// 4 × layers × hidden, × seconds per FLOP.
    s_per_attention_pair: f64,
    /// Dense weights read every step (the input embedding excluded), ×
    /// seconds per byte.
    dense_read_s: f64,
    /// All routed experts' weights, × seconds per byte.
    expert_read_s: f64,
    /// ln(1 − k/E): the chance a token misses a given expert; 0 for dense models.
    ln_expert_miss: f64,
    /// KV bytes per token, × seconds per byte.
    s_per_context_token: f64,
    /// Fixed and per-token time of the step's all-reduces.
    comm_fixed_s: f64,
    comm_per_token_s: f64,
    overhead_s: f64,
    per_seq_s: f64,
}

impl Calibrated {
    pub fn new(engine: &Engine, draws: &Draws, k: CalibratedConstants) -> Self {
        let m = &engine.model;
        let g = &engine.gpu;
        let fig = EngineFigures::new(engine, draws);
        let tp = fig.tensor_parallel;
        let s_per_flop = 1.0 / (tp * peak_flops(g, engine.precision) * k.mfu);
        let s_per_byte = 1.0 / (tp * g.hbm_tb_s * 1e12 * k.mbu);
        let weight_bytes_per_param = engine.precision.weight_bytes();
        // Active parameters split into the routed experts' share, the output
        // head, the input embedding and the rest (attention, dense MLPs,
        // shared experts), which every token passes through.
        let dense_params_b = m.params_b - m.expert_params_b;
        let active_expert_b = (m.active_params_b - dense_params_b).max(0.0);
        let body_b = m.active_params_b - active_expert_b - m.head_params_b() - m.lookup_params_b();
        // Two all-reduces per layer; a ring all-reduce makes 2 (tp − 1)
        // latency hops and moves 2 (tp − 1) / tp of the data over each link.
        let (comm_fixed_s, comm_per_token_s) = if tp > 1.0 {
            let calls = 2.0 * m.layers;
            (
                calls * 2.0 * (tp - 1.0) * k.allreduce_hop_s,
                calls * m.hidden * ACTIVATION_BYTES * 2.0 * (tp - 1.0) / tp / (g.link_gb_s * 1e9),
            )
        } else {
            (0.0, 0.0)
        };
        Calibrated {
            s_per_token_dense: 2.0 * body_b * 1e9 * s_per_flop,
            s_per_logit: 2.0 * m.head_params_b() * 1e9 * s_per_flop,
            s_per_token_expert: 2.0 * active_expert_b * 1e9 * s_per_flop / k.moe_gemm_efficiency,
            s_per_attention_pair: 4.0 * m.layers * m.hidden * s_per_flop,
            dense_read_s: (dense_params_b - m.lookup_params_b())
                * 1e9
                * weight_bytes_per_param
                * s_per_byte,
            expert_read_s: fig.expert_weight_bytes * s_per_byte,
            ln_expert_miss: if m.is_moe() {
                (1.0 - m.experts_per_token / m.experts).max(0.0).ln()
            } else {
                0.0
            },
            s_per_context_token: fig.kv_bytes_per_token * s_per_byte,
            comm_fixed_s,
            comm_per_token_s,
            overhead_s: k.overhead_s,
            per_seq_s: k.per_seq_s,
        }
    }

    #[inline]
    pub fn iteration_s(&self, load: &IterationLoad) -> f64 {
        let tokens = (load.prefill_tokens + load.decode_seqs) as f64;
        let seqs = (load.prefill_seqs + load.decode_seqs) as f64;
        // Logits for every decode token and (an upper bound) every prompt
        // chunk in the step.
        let dense_flops_s = self.s_per_token_dense * tokens + self.s_per_logit * seqs;
        let dense = dense_flops_s.max(self.dense_read_s);
        let experts = if self.expert_read_s > 0.0 {
            // Each token picks k of E experts: the expected share of experts
            // touched (so read) by `tokens` tokens is 1 − (1 − k/E)^tokens.
            let read = self.expert_read_s * (1.0 - (self.ln_expert_miss * tokens).exp());
            (self.s_per_token_expert * tokens).max(read)
        } else {
            0.0
        };
        // Attention: decode reads the KV of its context; prefill is FLOPs.
        let attention = self.s_per_context_token * load.decode_context_tokens as f64
            + self.s_per_attention_pair * load.prefill_attention_pairs;
        let comm = self.comm_fixed_s + self.comm_per_token_s * tokens;
        self.overhead_s + self.per_seq_s * seqs + dense + experts + attention + comm
    }
}
