//! One replica's serving engine as a scenario describes it (model, GPU,
//! precision, batching limits, step-time model), and the static figures
//! derived from it: weight bytes, KV bytes per token, KV capacity.
//!
//! The figures live here, beside the description they are computed from,
//! because validation (does the model fit?) needs them as much as the
//! simulation does.

use super::presets::{GpuSpec, ModelSpec};
use super::uncertain::{Draws, Param};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Bf16,
    Fp8,
    Fp4,
    /// 4-bit weights computed at 16-bit (AWQ/GPTQ-style).
    Int4,
}

impl Precision {
    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "bf16" | "fp16" => Some(Precision::Bf16),
            "fp8" | "int8" => Some(Precision::Fp8),
            "fp4" | "nvfp4" => Some(Precision::Fp4),
            "int4" | "awq" | "gptq" => Some(Precision::Int4),
            _ => None,
        }
    }
    pub const NAMES: &'static str = "bf16, fp16, fp8, int8, fp4 or int4";

    /// Bytes per stored weight.
    pub fn weight_bytes(self) -> f64 {
        match self {
            Precision::Bf16 => 2.0,
            Precision::Fp8 => 1.0,
            Precision::Fp4 | Precision::Int4 => 0.5,
        }
    }

    /// KV-cache element size when `kv_dtype` is not given: FP8 (and lower)
    /// engines keep an FP8 cache (TensorRT-LLM does so automatically).
    pub fn default_kv_bytes(self) -> f64 {
        match self {
            Precision::Bf16 | Precision::Int4 => 2.0,
            Precision::Fp8 | Precision::Fp4 => 1.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Bf16 => "bf16",
            Precision::Fp8 => "fp8",
            Precision::Fp4 => "fp4",
            Precision::Int4 => "int4",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Reference: reserve the whole sequence's KV (P + O) at admission; no preemption.
    Reserve,
    /// Reference: vLLM-like paged KV, preemption by recompute.
    Paged,
    /// Engine-faithful (vLLM V1): token budget per step, chunked prefill,
    /// paged KV with recompute, prefix caching. The default.
    Vllm,
}

impl Admission {
    pub fn name(self) -> &'static str {
        match self {
            Admission::Reserve => "reserve",
            Admission::Paged => "paged",
            Admission::Vllm => "vllm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterKind {
    /// Fewest (waiting + running); ties to the lowest index.
    LeastLoaded,
    RoundRobin,
    Random,
    /// One fleet-wide FIFO; a replica takes the head when it can admit it.
    SharedQueue,
}

impl RouterKind {
    pub fn parse(s: &str) -> Option<RouterKind> {
        match s {
            "least_loaded" => Some(RouterKind::LeastLoaded),
            "round_robin" => Some(RouterKind::RoundRobin),
            "random" => Some(RouterKind::Random),
            "shared_queue" => Some(RouterKind::SharedQueue),
            _ => None,
        }
    }
    pub const NAMES: &'static str = "least_loaded, round_robin, random or shared_queue";
}

#[derive(Debug, Clone)]
pub enum StepTime {
    Linear {
        fixed_s: Param,
        prefill_per_token_s: Param,
        decode_per_seq_s: Param,
        kv_per_token_s: Param,
    },
    Roofline {
        mfu: Param,
        mbu: Param,
        overhead_s: Param,
    },
    /// The roofline with the terms measured engines show (docs/model.md,
    /// "The calibrated step model"): linear layers at max(compute, weight
    /// reads) with the output head computed only where logits are needed,
    /// routed experts as grouped GEMMs at their own efficiency, attention
    /// separately (KV reads for decode, quadratic FLOPs for prefill), ring
    /// all-reduce latency per hop, and a CPU cost per step and per
    /// sequence. Its defaults are fitted to vLLM on H100.
    Calibrated(CalibratedParams),
}

/// Bounds a calibrated constant may take in a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibratedKey {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
}

/// Declares the calibrated model's constants once: the plain values one
/// replication uses, the scenario's (possibly uncertain) numbers, their
/// names and bounds, so that parsing, fitting and printing share one list.
macro_rules! calibrated_constants {
    ($( $(#[doc = $doc:literal])* $field:ident in $min:literal ..= $max:literal; )*) => {
        /// The constants of the calibrated step model.
        #[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
        pub struct CalibratedConstants {
            $( $(#[doc = $doc])* pub $field: f64, )*
        }

        /// The calibrated constants as a scenario gives them.
        #[derive(Debug, Clone)]
        pub struct CalibratedParams {
            $( pub $field: Param, )*
        }

        impl CalibratedConstants {
            pub const KEYS: &'static [CalibratedKey] = &[
                $( CalibratedKey { name: stringify!($field), min: $min, max: $max }, )*
            ];

            /// The values in the order of `KEYS`.
            pub fn values(&self) -> Vec<f64> {
                vec![$( self.$field ),*]
            }

            /// Constants from values in the order of `KEYS`.
            pub fn from_values(x: &[f64]) -> Self {
                let mut it = x.iter().copied();
                CalibratedConstants { $( $field: it.next().expect("one value per key"), )* }
            }
        }

        impl CalibratedParams {
            /// Parameters in the order of `CalibratedConstants::KEYS`.
            pub fn from_params(p: Vec<Param>) -> Self {
                let mut it = p.into_iter();
                CalibratedParams { $( $field: it.next().expect("one parameter per key"), )* }
            }

            pub fn value(&self, draws: &Draws) -> CalibratedConstants {
                CalibratedConstants { $( $field: self.$field.value(draws), )* }
            }

            pub fn params(&self) -> Vec<&Param> {
                vec![$( &self.$field ),*]
            }
        }
    };
}

calibrated_constants! {
    /// Efficiency of dense GEMMs and attention FLOPs against the GPU's
    /// peak dense FLOP/s.
    mfu in 0.01 ..= 1.0;
    /// Efficiency of weight and KV reads against the GPU's memory bandwidth.
    mbu in 0.01 ..= 1.0;
    /// CPU time of one step (scheduling, kernel launch, output
    /// processing), seconds.
    overhead_s in 0.0 ..= 1.0;
    /// CPU time per sequence in a step (sampling, detokenisation,
    /// bookkeeping), seconds.
    per_seq_s in 0.0 ..= 0.01;
    /// Latency of one hop of a ring all-reduce between GPUs, seconds.
    allreduce_hop_s in 0.0 ..= 0.001;
    /// Efficiency of the routed experts' grouped GEMMs relative to `mfu`
    /// (each expert multiplies only its share of the tokens).
    moe_gemm_efficiency in 0.01 ..= 1.0;
}

/// One replica's serving engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub model: ModelSpec,
    pub gpu: GpuSpec,
    pub precision: Precision,
    /// Bytes per cached KV value.
    pub kv_bytes: f64,
    /// GPUs per replica.
    pub tensor_parallel: Param,
    pub gpu_memory_utilization: Param,
    pub max_batch: Param,
    /// `None`: derived from GPU memory minus weights.
    pub kv_capacity_tokens: Option<Param>,
    pub admission: Admission,
    pub kv_block_tokens: Param,
    /// Reference modes: 0 = off.
    pub chunked_prefill_tokens: Param,
    /// Engine-faithful mode: the token budget of one step.
    pub max_num_batched_tokens: Param,
    /// Engine-faithful mode: automatic prefix caching.
    pub prefix_caching: bool,
    /// Engine-faithful mode: asynchronous scheduling (vLLM ≥ 0.12 default).
    pub async_scheduling: bool,
    /// Engine-faithful mode: latency outside the engine's steps (HTTP,
    /// tokenization, detokenization, streaming), added to TTFT and E2E.
    pub front_end_latency_s: Param,
    /// σ of ln(front-end latency) across requests.
    pub front_end_spread: Param,
    pub router: RouterKind,
    pub step_time: StepTime,
}

/// Static figures of one replica: memory, weights, KV sizing.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineFigures {
    pub tensor_parallel: f64,
    pub gpu_memory_utilization: f64,
    /// All weights of one replica, bytes.
    pub weight_bytes: f64,
    /// Weights read every iteration (attention, shared layers), bytes.
    pub dense_weight_bytes: f64,
    /// Weights inside routed experts, bytes.
    pub expert_weight_bytes: f64,
    pub kv_bytes_per_token: f64,
    /// tp × memory × utilization, bytes.
    pub usable_memory_bytes: f64,
    /// (usable memory − weights) / KV bytes per token; may be ≤ 0 (does not fit).
    pub kv_capacity_tokens_derived: f64,
    /// The capacity used: the scenario's `kv_capacity_tokens`, else the derived one.
    pub kv_capacity_tokens: u64,
}

impl EngineFigures {
    pub fn new(engine: &Engine, draws: &Draws) -> Self {
        let m = &engine.model;
        let tp = engine.tensor_parallel.value(draws).round().max(1.0);
        let gmu = engine.gpu_memory_utilization.value(draws);
        let bytes = engine.precision.weight_bytes();
        let weight_bytes = m.params_b * 1e9 * bytes;
        let expert_weight_bytes = m.expert_params_b * 1e9 * bytes;
        let kv_bytes_per_token = m.layers * m.kv_values_per_layer * engine.kv_bytes;
        let usable = if engine.admission == Admission::Vllm {
            // As vLLM sizes its cache: the memory CUDA reports, × utilization,
            // minus what the engine keeps beside weights and KV.
            tp * (engine.gpu.memory_gb * super::defaults::GPU_VISIBLE_BYTES_PER_GB * gmu
                - super::defaults::ENGINE_RESERVE_BYTES_PER_GPU)
        } else {
            tp * engine.gpu.memory_gb * 1e9 * gmu
        };
        let derived = ((usable - weight_bytes) / kv_bytes_per_token).floor();
        let capacity = match engine.kv_capacity_tokens {
            Some(p) => p.value(draws).round().max(1.0) as u64,
            None => derived.max(0.0) as u64,
        };
        EngineFigures {
            tensor_parallel: tp,
            gpu_memory_utilization: gmu,
            weight_bytes,
            dense_weight_bytes: weight_bytes - expert_weight_bytes,
            expert_weight_bytes,
            kv_bytes_per_token,
            usable_memory_bytes: usable,
            kv_capacity_tokens_derived: derived,
            kv_capacity_tokens: capacity,
        }
    }
}

/// Peak dense FLOP/s of one GPU at a precision (falling back to the next
/// wider format the GPU has tensor cores for).
pub fn peak_flops(gpu: &GpuSpec, precision: Precision) -> f64 {
    let tflops = match precision {
        Precision::Bf16 | Precision::Int4 => gpu.bf16_tflops,
        Precision::Fp8 => gpu.fp8_tflops.unwrap_or(gpu.bf16_tflops),
        Precision::Fp4 => gpu.fp4_tflops.or(gpu.fp8_tflops).unwrap_or(gpu.bf16_tflops),
    };
    tflops * 1e12
}
