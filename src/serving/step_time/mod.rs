//! How long one iteration of a replica takes (docs/model.md, "Step-time models").
//!
//! - `linear`: `fixed + prefill × ΣP_new + decode × n_decode + kv × Σcontext`.
//! - `roofline`: `max(compute, memory) + tensor-parallel communication + overhead`,
//!   from the GPU's peak FLOPs and bandwidth scaled by `mfu` and `mbu`.
//!
//! [`StepModel`] is built once per replication (its inputs may be uncertain)
//! and evaluated in the hot loop: a handful of multiplications per iteration.

mod calibrated;

pub use calibrated::Calibrated;

use crate::scenario::{Draws, Engine, EngineFigures, StepTime, peak_flops};

/// What one iteration processes; all the step-time models need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IterationLoad {
    /// Prompt tokens prefilled in this iteration (including recomputation).
    pub prefill_tokens: u64,
    /// Attention (query, key) pairs of the prefill chunks:
    /// Σ chunk × (earlier context) + chunk × (chunk + 1) / 2.
    pub prefill_attention_pairs: f64,
    /// Sequences with a prefill chunk in this iteration.
    pub prefill_seqs: u64,
    /// Sequences producing a decode token (admitted in an earlier iteration).
    pub decode_seqs: u64,
    /// Σ context over the decode sequences.
    pub decode_context_tokens: u64,
    /// Σ context over every sequence in the iteration.
    pub context_tokens: u64,
}

/// The roofline model with every constant folded for the hot loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Roofline {
    /// 2 × active parameters.
    flops_per_token: f64,
    /// 4 × layers × hidden.
    flops_per_attention_pair: f64,
    /// 1 / (tp × peak × mfu).
    seconds_per_flop: f64,
    dense_bytes: f64,
    expert_bytes: f64,
    /// ln(1 − k/E); 0 for dense models.
    ln_expert_miss: f64,
    kv_bytes_per_token: f64,
    /// 1 / (tp × bandwidth × mbu).
    seconds_per_byte: f64,
    /// 2 × layers × all-reduce latency (0 without tensor parallelism).
    comm_fixed_s: f64,
    /// 2 × layers × hidden × 2 B × 2(tp − 1)/tp / link bandwidth.
    comm_per_token_s: f64,
    overhead_s: f64,
}

impl Roofline {
    pub fn new(engine: &Engine, draws: &Draws, mfu: f64, mbu: f64, overhead_s: f64) -> Self {
        let m = &engine.model;
        let g = &engine.gpu;
        let fig = EngineFigures::new(engine, draws);
        let tp = fig.tensor_parallel;
        let ln_expert_miss = if m.is_moe() {
            (1.0 - m.experts_per_token / m.experts).max(0.0).ln()
        } else {
            0.0
        };
        const ACTIVATION_BYTES: f64 = 2.0;
        let (comm_fixed_s, comm_per_token_s) = if tp > 1.0 {
            let layers_x2 = 2.0 * m.layers;
            (
                layers_x2 * g.allreduce_latency_us * 1e-6,
                layers_x2 * m.hidden * ACTIVATION_BYTES * 2.0 * (tp - 1.0)
                    / tp
                    / (g.link_gb_s * 1e9),
            )
        } else {
            (0.0, 0.0)
        };
        Roofline {
            flops_per_token: 2.0 * m.active_params_b * 1e9,
            flops_per_attention_pair: 4.0 * m.layers * m.hidden,
            seconds_per_flop: 1.0 / (tp * peak_flops(g, engine.precision) * mfu),
            dense_bytes: fig.dense_weight_bytes,
            expert_bytes: fig.expert_weight_bytes,
            ln_expert_miss,
            kv_bytes_per_token: fig.kv_bytes_per_token,
            seconds_per_byte: 1.0 / (tp * g.hbm_tb_s * 1e12 * mbu),
            comm_fixed_s,
            comm_per_token_s,
            overhead_s,
        }
    }

    /// The parts of one iteration's time: (compute, memory, communication).
    pub fn parts(&self, load: &IterationLoad) -> (f64, f64, f64) {
        let tokens = (load.prefill_tokens + load.decode_seqs) as f64;
        let pairs = load.decode_context_tokens as f64 + load.prefill_attention_pairs;
        let flops = self.flops_per_token * tokens + self.flops_per_attention_pair * pairs;
        let compute = flops * self.seconds_per_flop;
        let experts = if self.expert_bytes > 0.0 {
            // Expected share of experts touched when `tokens` tokens each pick k of E.
            self.expert_bytes * (1.0 - (self.ln_expert_miss * tokens).exp())
        } else {
            0.0
        };
        let bytes =
            self.dense_bytes + experts + self.kv_bytes_per_token * load.context_tokens as f64;
        let memory = bytes * self.seconds_per_byte;
        let comm = if self.comm_fixed_s > 0.0 || self.comm_per_token_s > 0.0 {
            self.comm_fixed_s + self.comm_per_token_s * tokens
        } else {
            0.0
        };
        (compute, memory, comm)
    }
}

/// A replication's step-time model.
#[derive(Debug, Clone, PartialEq)]
pub enum StepModel {
    Linear {
        fixed_s: f64,
        prefill_per_token_s: f64,
        decode_per_seq_s: f64,
        kv_per_token_s: f64,
    },
    Roofline(Roofline),
    Calibrated(Calibrated),
}

impl StepModel {
    pub fn new(engine: &Engine, draws: &Draws) -> Self {
        match &engine.step_time {
            StepTime::Linear {
                fixed_s,
                prefill_per_token_s,
                decode_per_seq_s,
                kv_per_token_s,
            } => StepModel::Linear {
                fixed_s: fixed_s.value(draws),
                prefill_per_token_s: prefill_per_token_s.value(draws),
                decode_per_seq_s: decode_per_seq_s.value(draws),
                kv_per_token_s: kv_per_token_s.value(draws),
            },
            StepTime::Roofline {
                mfu,
                mbu,
                overhead_s,
            } => StepModel::Roofline(Roofline::new(
                engine,
                draws,
                mfu.value(draws),
                mbu.value(draws),
                overhead_s.value(draws),
            )),
            StepTime::Calibrated(k) => {
                StepModel::Calibrated(Calibrated::new(engine, draws, k.value(draws)))
            }
        }
    }

    /// Duration of one iteration, seconds.
    #[inline]
    pub fn iteration_s(&self, load: &IterationLoad) -> f64 {
        match self {
            StepModel::Linear {
                fixed_s,
                prefill_per_token_s,
                decode_per_seq_s,
                kv_per_token_s,
            } => {
                fixed_s
                    + prefill_per_token_s * load.prefill_tokens as f64
                    + decode_per_seq_s * load.decode_seqs as f64
                    + kv_per_token_s * load.context_tokens as f64
            }
            StepModel::Roofline(r) => {
                let (compute, memory, comm) = r.parts(load);
                compute.max(memory) + comm + r.overhead_s
            }
            StepModel::Calibrated(c) => c.iteration_s(load),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Param, parse};

    fn engine(extra: &str) -> Engine {
        let text = format!(
            "[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n[engine]\n{extra}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n"
        );
        parse(&text, "test", &mut |_| Err("no files".into()))
            .unwrap()
            .engine
    }

    #[test]
    fn linear_is_the_spec_formula() {
        let e = engine(
            "step_time = { model = \"linear\", fixed_s = 0.005, prefill_per_token_s = 2e-5, decode_per_seq_s = 1e-4, kv_per_token_s = 2e-8 }\nkv_capacity_tokens = 1000000",
        );
        let m = StepModel::new(&e, &Draws::default());
        let load = IterationLoad {
            prefill_tokens: 512,
            decode_seqs: 3,
            context_tokens: 2000,
            ..Default::default()
        };
        let expect = 0.005 + 2e-5 * 512.0 + 1e-4 * 3.0 + 2e-8 * 2000.0;
        assert_eq!(m.iteration_s(&load), expect);
    }

    #[test]
    fn kv_capacity_matches_hand_derivation() {
        // Reference modes (docs/model.md, "KV capacity"): 70B FP8 on 2×H100 at 0.9 leaves
        // 2 × 80 GB × 0.9 − 70.6 GB for KV, at 160 KiB per token.
        let model = "model = \"llama-3.1-70b\"\ngpu = \"h100-sxm\"\nprecision = \"fp8\"\ntensor_parallel = 2";
        let e = engine(&format!(
            "admission = \"reserve\"\nchunked_prefill_tokens = 0\n{model}"
        ));
        let f = EngineFigures::new(&e, &Draws::default());
        assert_eq!(f.kv_bytes_per_token, 163_840.0);
        let expect: f64 = ((2.0 * 80e9 * 0.9) - 70.6e9) / 163_840.0;
        assert_eq!(f.kv_capacity_tokens, expect.floor() as u64);
        // Engine-faithful mode, as vLLM sizes it: CUDA reports 81,559 MiB of
        // the 80 GiB, × 0.9, minus 1.7 GB per GPU, minus the weights:
        // 2 × (85,520,809,984 × 0.9 − 1.7e9) − 70.6e9 = 79,937,457,971 bytes
        // = 487,899 tokens.
        let e = engine(model);
        let f = EngineFigures::new(&e, &Draws::default());
        assert_eq!(f.kv_capacity_tokens, 487_899);
    }

    #[test]
    fn moe_reads_more_experts_as_tokens_grow() {
        let e = engine(
            "model = \"mixtral-8x7b\"\ngpu = \"h100-sxm\"\ntensor_parallel = 1\nstep_time = { model = \"roofline\" }",
        );
        let StepModel::Roofline(r) = StepModel::new(&e, &Draws::default()) else {
            panic!("roofline expected")
        };
        let mem = |t: u64| {
            r.parts(&IterationLoad {
                decode_seqs: t,
                ..Default::default()
            })
            .1
        };
        // One token touches 2 of 8 experts: dense + 1/4 of expert bytes.
        let one = (r.dense_bytes + r.expert_bytes * 0.25) * r.seconds_per_byte;
        assert!((mem(1) - one).abs() < 1e-12);
        assert!(mem(4) > mem(1) && mem(64) > mem(4));
        let all = (r.dense_bytes + r.expert_bytes) * r.seconds_per_byte;
        assert!((mem(1000) - all).abs() / all < 1e-9);
    }

    #[test]
    fn tensor_parallel_adds_communication() {
        let e1 = engine(
            "model = \"llama-3.1-8b\"\ntensor_parallel = 1\nstep_time = { model = \"roofline\" }",
        );
        let e2 = engine(
            "model = \"llama-3.1-8b\"\ntensor_parallel = 2\nstep_time = { model = \"roofline\" }",
        );
        let load = IterationLoad {
            decode_seqs: 1,
            context_tokens: 100,
            decode_context_tokens: 100,
            ..Default::default()
        };
        let StepModel::Roofline(r1) = StepModel::new(&e1, &Draws::default()) else {
            panic!()
        };
        let StepModel::Roofline(r2) = StepModel::new(&e2, &Draws::default()) else {
            panic!()
        };
        assert_eq!(r1.parts(&load).2, 0.0);
        assert!(r2.parts(&load).2 > 0.0);
        // Memory time halves with two GPUs sharing the weights.
        assert!((r1.parts(&load).1 / r2.parts(&load).1 - 2.0).abs() < 1e-9);
        assert!(matches!(e2.tensor_parallel, Param::Fixed(v) if v == 2.0));
    }
}
