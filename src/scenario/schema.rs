//! The scenario file as written: serde types mirroring the scenario format
//! (README "Scenario format") key for key.
//!
//! Nothing here is validated beyond types and field names (every table
//! denies unknown fields); `resolve` turns these into the checked
//! [`super::Scenario`]. Optional fields are `Option` so `resolve` can apply
//! documented defaults and say where a value came from.

use serde::Deserialize;

use super::number::{RawDur, RawNum};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Names the output directory `outputs/<name>/`.
    pub name: Option<String>,
    /// One line on what the scenario asks; shown in reports.
    pub description: Option<String>,
    /// Arrivals stop here; the billing period. Default: 1h (trace: its span).
    pub horizon: Option<RawDur>,
    /// Multiplies every arrival rate.
    pub demand_scale: Option<RawNum>,
    pub workload: Option<RawWorkload>,
    pub engine: Option<RawEngine>,
    pub slo: Option<RawSlo>,
    pub api: Option<RawApi>,
    #[serde(default)]
    pub strategy: Vec<RawStrategy>,
    pub montecarlo: Option<RawMonteCarlo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub arrivals: Option<RawArrivals>,
    pub prompt_tokens: Option<RawLength>,
    pub output_tokens: Option<RawLength>,
    /// System prompts shared within groups of requests.
    pub shared_prefix: Option<RawSharedPrefix>,
    /// Multi-turn conversations whose context grows.
    pub sessions: Option<RawSessions>,
}

/// Each arrival starts a conversation of `turns` turns; each later turn is
/// sent `think_time` after the previous answer, its prompt the whole
/// conversation so far plus a new message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub turns: RawLength,
    pub think_time: Option<RawDur>,
    /// A conversation ends when its next prompt would be longer.
    pub max_context: Option<RawNum>,
}

/// Each request belongs to one of `groups` groups, uniformly at random;
/// the first `tokens` of its prompt are the group's shared system prompt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSharedPrefix {
    pub groups: RawNum,
    pub tokens: RawNum,
    /// "random" (default) or "round_robin".
    pub assign: Option<String>,
}

/// One stage of a staged load: a rate held for a duration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub rate: RawNum,
    pub duration: RawDur,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "process", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawArrivals {
    /// Homogeneous Poisson process, `rate` requests/s.
    Poisson { rate: RawNum },
    /// Markov-modulated Poisson: per state a rate and a mean sojourn.
    Mmpp {
        rates: Vec<RawNum>,
        mean_sojourn: Vec<RawDur>,
    },
    /// Non-homogeneous Poisson over the day, by thinning.
    Diurnal {
        hourly: Option<Vec<RawNum>>,
        mean_rate: Option<RawNum>,
        peak_to_mean: Option<RawNum>,
        peak_hour: Option<RawNum>,
        /// Clock hour at simulated time 0 (default 0).
        start_hour: Option<RawNum>,
    },
    /// Stages run back to back, each a rate held for a duration, with
    /// evenly spaced (default) or Poisson arrivals: a load generator's sweep.
    Stages {
        stages: Vec<RawStage>,
        spacing: Option<String>,
    },
    /// A closed loop: `concurrency` clients, each sending its next request
    /// when the previous one is answered (after an optional think time),
    /// as a benchmark at fixed concurrency does.
    ClosedLoop {
        concurrency: RawNum,
        think_time: Option<RawDur>,
    },
    /// i.i.d. gaps with a given rate and coefficient of variation.
    Renewal {
        rate: RawNum,
        cv: RawNum,
        family: Option<String>,
    },
    /// Replay of a recorded trace (a file, or inline `requests`).
    Trace {
        path: Option<String>,
        format: Option<String>,
        /// Inline rows `[arrival_s, prompt_tokens, output_tokens]`.
        requests: Option<Vec<Vec<f64>>>,
        /// Stretches time: 2.0 replays at half speed.
        time_scale: Option<RawNum>,
        /// Compresses time: 2.0 replays twice as fast.
        rate_scale: Option<RawNum>,
    },
}

/// A token-length distribution, or a bare integer for a fixed length.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawLength {
    Fixed(u32),
    Table(RawLengthTable),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawLengthTable {
    Fixed {
        value: RawNum,
    },
    Uniform {
        min: RawNum,
        max: RawNum,
    },
    Lognormal {
        median: RawNum,
        sigma: RawNum,
        min: Option<RawNum>,
        max: Option<RawNum>,
    },
    Exponential {
        mean: RawNum,
        min: Option<RawNum>,
        max: Option<RawNum>,
    },
    /// Resampled from a trace's column, or from a `tokens,prob` PMF file.
    Empirical {
        path: String,
        format: Option<String>,
        column: Option<String>,
        min: Option<RawNum>,
        max: Option<RawNum>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    pub model: Option<RawPresetRef<RawModel>>,
    pub gpu: Option<RawPresetRef<RawGpu>>,
    pub precision: Option<String>,
    pub kv_dtype: Option<String>,
    pub tensor_parallel: Option<RawNum>,
    pub gpu_memory_utilization: Option<RawNum>,
    pub max_batch: Option<RawNum>,
    pub kv_capacity_tokens: Option<RawNum>,
    pub admission: Option<String>,
    pub kv_block_tokens: Option<RawNum>,
    pub chunked_prefill_tokens: Option<RawNum>,
    /// `admission = "vllm"`: token budget per step.
    pub max_num_batched_tokens: Option<RawNum>,
    /// `admission = "vllm"`: automatic prefix caching (default true).
    pub prefix_caching: Option<bool>,
    /// Step k is scheduled while step k − 1 runs (vLLM's default since 0.12).
    pub async_scheduling: Option<bool>,
    /// `admission = "vllm"`: per-request latency outside the engine.
    pub front_end_latency: Option<RawDur>,
    /// σ of the logarithm of each request's front-end latency (0: fixed).
    pub front_end_spread: Option<RawNum>,
    pub router: Option<String>,
    pub step_time: Option<RawStepTime>,
}

/// A preset by name, or a table that may start from a preset and override fields.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPresetRef<T> {
    Name(String),
    Table(T),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub preset: Option<String>,
    pub name: Option<String>,
    /// Total parameters, billions.
    pub params_b: Option<RawNum>,
    /// Parameters touched per token, billions (MoE); default = total.
    pub active_params_b: Option<RawNum>,
    pub layers: Option<RawNum>,
    pub hidden: Option<RawNum>,
    pub kv_heads: Option<RawNum>,
    pub head_dim: Option<RawNum>,
    /// KV values stored per token per layer (default 2 × kv_heads × head_dim;
    /// 576 for DeepSeek's multi-head latent attention).
    pub kv_values_per_layer: Option<RawNum>,
    pub experts: Option<RawNum>,
    pub experts_per_token: Option<RawNum>,
    /// Parameters in routed experts, billions (the rest is always read).
    pub expert_params_b: Option<RawNum>,
    /// Vocabulary size (config.json `vocab_size`).
    pub vocab: Option<RawNum>,
    /// Input embedding and output head share one matrix.
    pub tied_embeddings: Option<bool>,
    pub source: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGpu {
    pub preset: Option<String>,
    pub name: Option<String>,
    pub memory_gb: Option<RawNum>,
    pub hbm_tb_s: Option<RawNum>,
    pub bf16_tflops: Option<RawNum>,
    pub fp8_tflops: Option<RawNum>,
    pub fp4_tflops: Option<RawNum>,
    /// GPU-to-GPU bandwidth per direction, GB/s.
    pub link_gb_s: Option<RawNum>,
    pub allreduce_latency_us: Option<RawNum>,
    pub tdp_watts: Option<RawNum>,
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawStepTime {
    Linear {
        fixed_s: Option<RawNum>,
        prefill_per_token_s: Option<RawNum>,
        decode_per_seq_s: Option<RawNum>,
        kv_per_token_s: Option<RawNum>,
    },
    Roofline {
        mfu: Option<RawNum>,
        mbu: Option<RawNum>,
        overhead_s: Option<RawNum>,
    },
    /// Any of `CalibratedConstants::KEYS`; unknown keys are refused when
    /// the scenario is resolved (with the list of known ones).
    Calibrated(std::collections::BTreeMap<String, RawNum>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub ttft: Option<RawDur>,
    pub tpot: Option<RawDur>,
    pub max_queue: Option<RawDur>,
    /// Share of requests that must meet ttft and tpot in a replication.
    pub target: Option<RawNum>,
    /// Share of replications that must reach `target` for a plan to pass.
    pub confidence: Option<RawNum>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub input_per_m: Option<RawNum>,
    pub output_per_m: Option<RawNum>,
    /// Time to first token of an API call.
    pub latency: Option<RawDur>,
    /// Time per output token of an API call.
    pub tpot: Option<RawDur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    pub name: Option<String>,
    #[serde(default)]
    pub pools: Vec<RawPool>,
    pub overflow: Option<String>,
    pub autoscale: Option<RawAutoscale>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawPool {
    Reserved {
        name: Option<String>,
        /// This pool's GPU, if not the engine's.
        gpu: Option<RawPresetRef<RawGpu>>,
        /// This pool's GPUs per replica, if not the engine's.
        tensor_parallel: Option<RawNum>,
        replicas: RawNum,
        price_per_gpu_hour: RawNum,
    },
    Owned {
        name: Option<String>,
        /// This pool's GPU, if not the engine's.
        gpu: Option<RawPresetRef<RawGpu>>,
        /// This pool's GPUs per replica, if not the engine's.
        tensor_parallel: Option<RawNum>,
        replicas: RawNum,
        capex_per_gpu: RawNum,
        amortization: RawDur,
        idle_watts: Option<RawNum>,
        busy_watts: Option<RawNum>,
        pue: Option<RawNum>,
        usd_per_kwh: Option<RawNum>,
        ops_per_gpu_hour: Option<RawNum>,
    },
    OnDemand {
        name: Option<String>,
        /// This pool's GPU, if not the engine's.
        gpu: Option<RawPresetRef<RawGpu>>,
        /// This pool's GPUs per replica, if not the engine's.
        tensor_parallel: Option<RawNum>,
        min_replicas: Option<RawNum>,
        max_replicas: RawNum,
        price_per_gpu_hour: RawNum,
        provisioning: Option<RawDur>,
        load_time: Option<RawDur>,
        min_billed: Option<RawDur>,
        billing: Option<String>,
    },
    Spot {
        name: Option<String>,
        /// This pool's GPU, if not the engine's.
        gpu: Option<RawPresetRef<RawGpu>>,
        /// This pool's GPUs per replica, if not the engine's.
        tensor_parallel: Option<RawNum>,
        min_replicas: Option<RawNum>,
        max_replicas: RawNum,
        price_per_gpu_hour: RawNum,
        provisioning: Option<RawDur>,
        load_time: Option<RawDur>,
        min_billed: Option<RawDur>,
        billing: Option<String>,
        interruptions_per_hour: RawNum,
        notice: Option<RawDur>,
    },
    Serverless {
        name: Option<String>,
        /// This pool's GPU, if not the engine's.
        gpu: Option<RawPresetRef<RawGpu>>,
        /// This pool's GPUs per replica, if not the engine's.
        tensor_parallel: Option<RawNum>,
        min_replicas: Option<RawNum>,
        max_replicas: RawNum,
        price_per_gpu_second: Option<RawNum>,
        price_per_gpu_hour: Option<RawNum>,
        cold_start: Option<RawDur>,
        container_start: Option<RawDur>,
        load_gb_per_s: Option<RawNum>,
        idle_timeout: Option<RawDur>,
        bill_cold_start: Option<bool>,
    },
}

impl RawPool {
    /// Takes the pool's hardware overrides (GPU, tensor parallelism) out.
    pub fn take_hardware(&mut self) -> (Option<RawPresetRef<RawGpu>>, Option<RawNum>) {
        match self {
            RawPool::Reserved {
                gpu,
                tensor_parallel,
                ..
            }
            | RawPool::Owned {
                gpu,
                tensor_parallel,
                ..
            }
            | RawPool::OnDemand {
                gpu,
                tensor_parallel,
                ..
            }
            | RawPool::Spot {
                gpu,
                tensor_parallel,
                ..
            }
            | RawPool::Serverless {
                gpu,
                tensor_parallel,
                ..
            } => (gpu.take(), tensor_parallel.take()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscale {
    pub interval: Option<RawDur>,
    pub target_inflight_per_replica: Option<RawNum>,
    pub target_queue_wait: Option<RawDur>,
    pub scale_down_delay: Option<RawDur>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMonteCarlo {
    pub replications: Option<RawNum>,
    pub seed: Option<u64>,
}
