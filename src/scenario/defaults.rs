//! Every default a scenario gets for a field it does not write, and the
//! sanity bounds that refuse values which could only be typos, in one place.
//!
//! docs/model.md explains the model these feed; docs/sources.md gives the
//! public sources behind the engine and hardware figures.

use super::engine::{Engine, EngineFigures};
use super::uncertain::Draws;
use crate::units::{DAY_S, YEAR_S};

// ----- scenario and Monte Carlo ----------------------------------------------

/// Output directory name when the scenario has no `name`.
pub const NAME: &str = "scenario";
/// Horizon (and billing period) of a scenario without a trace: one hour.
pub const HORIZON_S: f64 = 3600.0;
/// Replications when the scenario does not say: enough for percentiles and
/// confidence intervals to mean something, small enough to run in seconds
/// on the shipped scenarios.
pub const REPLICATIONS: u64 = 100;
pub const SEED: u64 = 42;

// ----- workload ----------------------------------------------------------------

/// Default prompt lengths: lognormal, median 512 tokens, σ 0.8, in [1, 131072].
pub const PROMPT_MEDIAN: f64 = 512.0;
pub const PROMPT_SIGMA: f64 = 0.8;
/// Default output lengths: lognormal, median 200 tokens, σ 1.0, in [1, 4096].
pub const OUTPUT_MEDIAN: f64 = 200.0;
pub const OUTPUT_SIGMA: f64 = 1.0;
pub const OUTPUT_MAX: f64 = 4096.0;
/// Upper clamp of a lognormal length when the scenario gives no `max`.
pub const MAX_TOKENS: f64 = 131_072.0;
/// Sinusoidal diurnal profile: peak-to-mean ratio and clock hour of the peak.
pub const PEAK_TO_MEAN: f64 = 1.5;
pub const PEAK_HOUR: f64 = 14.0;

// ----- engine ------------------------------------------------------------------

pub const MODEL: &str = "llama-3.1-70b";
pub const GPU: &str = "h100-sxm";
pub const TENSOR_PARALLEL: f64 = 2.0;
/// vLLM's default share of GPU memory for weights, activations and KV.
pub const GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// Reference modes: vLLM's long-standing default `max_num_seqs`.
pub const MAX_BATCH: f64 = 256.0;
/// Engine-faithful mode: vLLM's OpenAI-server defaults (`EngineArgs.
/// get_batch_defaults`): GPUs with at least 70 GiB that are not A100s get
/// a budget of 8192 tokens per step and 1024 sequences, others 2048 and 256.
pub fn is_large_gpu(gpu: &super::presets::GpuSpec) -> bool {
    gpu.memory_gb >= 70.0 && !gpu.key.starts_with("a100")
}
pub fn vllm_max_num_seqs(large_gpu: bool) -> f64 {
    if large_gpu { 1024.0 } else { 256.0 }
}
pub fn vllm_max_num_batched_tokens(large_gpu: bool) -> f64 {
    if large_gpu { 8192.0 } else { 2048.0 }
}
/// Engine-faithful mode: latency outside the engine's steps (HTTP,
/// tokenisation, detokenisation, streaming), added to TTFT and E2E; each
/// request draws its own from a lognormal with this median and spread (σ of
/// the logarithm). Measured on vLLM per-request traces, not fitted: client −
/// server TTFT and E2E differ by a median of 10.0–10.5 ms, p90 14.5–17 ms
/// (σ = ln(15.7 / 10.2) / 1.2816 ≈ 0.34), mean 10.8–12.3 ms.
pub const FRONT_END_LATENCY_S: f64 = 0.0102;
pub const FRONT_END_SPREAD: f64 = 0.34;
/// Engine-faithful mode: vLLM schedules step k while step k − 1 runs
/// (asynchronous scheduling, the default since vLLM 0.12): a request that
/// arrives while a step runs waits for that step and the next.
pub const ASYNC_SCHEDULING: bool = true;
/// Engine-faithful mode: bytes CUDA reports per marketed GB of GPU memory.
/// Memory is marketed in binary units (an "80 GB" H100 holds 80 GiB), and
/// CUDA shows 81,559 of its 81,920 MiB (the driver keeps the rest).
pub const GPU_VISIBLE_BYTES_PER_GB: f64 = 1_073_741_824.0 * 81_559.0 / 81_920.0;
/// Engine-faithful mode: memory vLLM keeps on each GPU beside weights and KV
/// cache (peak activations of its profiling pass, CUDA graphs, sampler and
/// communication buffers). The median of what 13 H100 runs imply (their
/// reported KV blocks against their weights; 0.7–2.0 GB, more with large
/// vocabularies and token budgets), not a fitted constant.
pub const ENGINE_RESERVE_BYTES_PER_GPU: f64 = 1.7e9;
/// vLLM's default KV block size, tokens.
pub const KV_BLOCK_TOKENS: f64 = 16.0;
/// Default roofline efficiencies (docs/sources.md, "Engine defaults"): MBU
/// 0.55–0.75 for optimised engines with the per-step overhead modelled
/// separately (~1–2 ms), prefill MFU 29–38% on H100 FP8.
pub const MFU: f64 = 0.35;
pub const MBU: f64 = 0.7;
pub const OVERHEAD_S: f64 = 0.0015;

/// The calibrated step model's constants (docs/model.md, "The calibrated
/// step model"): fitted with `fleetsim calibrate --runs shipped --dataset
/// A,C --fit mfu,mbu,overhead_s,per_seq_s,allreduce_hop_s` to the 39 `ok`
/// load levels of vLLM 0.15 / recent vLLM on H100 in validation/runs.csv
/// (README "Fidelity" gives the residuals). `moe_gemm_efficiency` is not
/// fitted (no run in the data computes large MoE prefills) and stays 1.
pub const CALIBRATED: super::engine::CalibratedConstants = super::engine::CalibratedConstants {
    mfu: 0.653,
    mbu: 0.810,
    overhead_s: 1.29e-3,
    per_seq_s: 1.9e-6,
    allreduce_hop_s: 3.77e-6,
    moe_gemm_efficiency: 1.0,
};
/// Default all-reduce latency of a custom GPU (PCIe-class link), µs.
pub const CUSTOM_GPU_ALLREDUCE_US: f64 = 25.0;
pub const CUSTOM_GPU_LINK_GB_S: f64 = 32.0;
pub const CUSTOM_GPU_TDP_WATTS: f64 = 700.0;

// ----- SLO and API ---------------------------------------------------------------

pub const SLO_TTFT_S: f64 = 2.0;
pub const SLO_TPOT_S: f64 = 0.1;
/// A plan passes when 99% of its requests meet the SLO in 95% of
/// replications (`run`'s verdict and `size` share these).
pub const SLO_TARGET: f64 = 0.99;
pub const SLO_CONFIDENCE: f64 = 0.95;
/// Per-token API prices, USD per 1M input / output tokens.
pub const API_INPUT_PER_M: f64 = 0.60;
pub const API_OUTPUT_PER_M: f64 = 3.60;
/// Time to first token and time per output token of an API call.
pub const API_LATENCY_S: f64 = 0.5;
pub const API_TPOT_S: f64 = 0.02;

// ----- fleet ---------------------------------------------------------------------

pub const AUTOSCALE_INTERVAL_S: f64 = 10.0;
pub const TARGET_INFLIGHT_PER_REPLICA: f64 = 32.0;
pub const SCALE_DOWN_DELAY_S: f64 = 300.0;
/// On-demand and spot: time from request to a booted machine.
pub const PROVISIONING_S: f64 = 180.0;
pub const MIN_BILLED_S: f64 = 60.0;
/// Spot interruption notice.
pub const SPOT_NOTICE_S: f64 = 120.0;
/// Serverless: scale-to-zero grace period.
pub const IDLE_TIMEOUT_S: f64 = 300.0;
/// Serverless cold start when derived: container start plus weights at
/// the load bandwidth.
pub const CONTAINER_START_S: f64 = 20.0;
pub const LOAD_GB_PER_S: f64 = 2.0;
/// Owned hardware: facility overhead and electricity price.
pub const PUE: f64 = 1.3;
pub const USD_PER_KWH: f64 = 0.12;
/// Owned hardware: idle power as a share of the GPU's TDP (busy power is the TDP).
pub const IDLE_POWER_SHARE_OF_TDP: f64 = 0.15;

/// Default model-load time of an on-demand or spot replica: 60 s of engine
/// start plus the weights at 2 GB/s (stock loaders; docs/sources.md).
pub fn load_s(engine: &Engine, draws: &Draws) -> f64 {
    60.0 + EngineFigures::new(engine, draws).weight_bytes / 2e9
}

// ----- sanity bounds ---------------------------------------------------------------

/// Longest horizon accepted: five years.
pub const MAX_HORIZON_S: f64 = 5.0 * YEAR_S;
/// Longest provisioning, model load, cold start or API latency accepted
/// (random draws are clamped here): longer is a typo that would stall a history.
pub const MAX_EVENT_DURATION_S: f64 = 30.0 * DAY_S;
