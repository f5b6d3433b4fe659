//! Scenarios: TOML text in, a validated [`Scenario`] out.
//!
//! Two stages (like ripgrep's low/high args): [`schema`] mirrors the file
//! with serde and denies unknown fields; [`resolve`] applies defaults and
//! checks every number, naming the field path, value, allowed range, line
//! and column on error. Nothing here reads files: the caller passes a
//! loader for trace files referenced by the scenario.

pub mod error;
pub mod locate;
pub mod presets;
pub mod resolve;
pub mod schema;
pub mod trace;
pub mod uncertain;

use std::sync::Arc;

pub use error::ScenarioError;
pub use presets::{GpuSpec, ModelSpec};
pub use resolve::{FileLoader, parse, parse_with_choices};
pub use trace::{EmpiricalLengths, TraceData};
pub use uncertain::{Dist, Draws, Param, Uncertainties};

use crate::units::Seconds;

/// The scenario run when `fleetsim run` gets no file: a bursty chat workload
/// on a 70B-class model on H100s.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.toml");

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// Arrivals stop at the horizon; it is also the billing period.
    pub horizon_s: Seconds,
    pub demand_scale: Param,
    pub workload: Workload,
    pub engine: Engine,
    pub slo: Slo,
    pub api: Api,
    pub strategies: Vec<Strategy>,
    pub montecarlo: MonteCarlo,
    /// Every uncertain input, in file order.
    pub uncertain: Uncertainties,
    /// Search spaces for `fleetsim size`: field path and candidate values.
    pub search: Vec<SearchSpace>,
}

/// A `{ search = [...] }` field.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    pub field: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub arrivals: Arrivals,
    /// `None` when a trace supplies the lengths.
    pub prompt_tokens: Option<LengthDist>,
    pub output_tokens: Option<LengthDist>,
}

#[derive(Debug, Clone)]
pub enum Arrivals {
    Poisson {
        rate: Param,
    },
    Mmpp {
        rates: Vec<Param>,
        mean_sojourn_s: Vec<Param>,
    },
    Diurnal {
        profile: DiurnalProfile,
        start_hour: Param,
    },
    Renewal {
        rate: Param,
        cv: Param,
        family: RenewalFamily,
    },
    Trace {
        trace: Arc<TraceData>,
        time_scale: Param,
        rate_scale: Param,
    },
}

#[derive(Debug, Clone)]
pub enum DiurnalProfile {
    /// Rate in each clock hour 0..24, requests/s.
    Hourly(Vec<Param>),
    /// `mean × (1 + (peak_to_mean − 1) cos(2π (h − peak_hour)/24))`, floored at 0.
    Sinusoid {
        mean_rate: Param,
        peak_to_mean: Param,
        peak_hour: Param,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalFamily {
    Gamma,
    Weibull,
}

/// A token-length distribution; draws are rounded and clamped to [min, max].
#[derive(Debug, Clone)]
pub enum LengthDist {
    Fixed(Param),
    Uniform {
        min: Param,
        max: Param,
    },
    LogNormal {
        median: Param,
        sigma: Param,
        min: Param,
        max: Param,
    },
    Exponential {
        mean: Param,
        min: Param,
        max: Param,
    },
    Empirical {
        table: Arc<EmpiricalLengths>,
        min: Param,
        max: Param,
    },
}

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
    /// Reserve the whole sequence's KV (P + O) at admission; no preemption.
    Reserve,
    /// vLLM-like paged KV, preemption by recompute.
    Paged,
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
    /// 0 = off.
    pub chunked_prefill_tokens: Param,
    pub router: RouterKind,
    pub step_time: StepTime,
}

#[derive(Debug, Clone)]
pub struct Slo {
    pub ttft_s: Param,
    pub tpot_s: Param,
    /// `None`: requests wait as long as it takes.
    pub max_queue_s: Option<Param>,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub input_per_m: Param,
    pub output_per_m: Param,
    /// Time to first token of an API call, drawn per call.
    pub latency_s: EventDuration,
    pub tpot_s: Param,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Api,
    Drop,
}

#[derive(Debug, Clone)]
pub struct Strategy {
    pub name: String,
    pub pools: Vec<Pool>,
    pub overflow: Overflow,
    pub autoscale: Autoscale,
}

#[derive(Debug, Clone)]
pub struct Autoscale {
    pub interval_s: Param,
    pub target_inflight_per_replica: Param,
    /// Scale up also when the oldest waiting request has waited this long.
    pub target_queue_wait_s: Option<Param>,
    pub scale_down_delay_s: Param,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    pub kind: PoolKind,
    /// The engine of this pool's replicas (the scenario's, or with the
    /// pool's own GPU / tensor parallelism).
    pub engine: Engine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    PerSecond,
    PerStartedHour,
}

/// Longest provisioning, model load, cold start or API latency accepted.
pub const MAX_EVENT_DURATION_S: Seconds = 30.0 * crate::units::DAY_S;

/// A duration drawn anew at every event it times (each replica start, each
/// API call), unlike an uncertain [`Param`] drawn once per replication.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDuration {
    Fixed(Seconds),
    Random(Dist),
}

impl EventDuration {
    /// A draw in seconds, clamped to [0, 30 days] (the tail of an unbounded
    /// distribution could otherwise stall a history).
    pub fn sample(&self, rng: &mut crate::engine::rng::SimRng) -> Seconds {
        match self {
            EventDuration::Fixed(v) => *v,
            EventDuration::Random(d) => d.sample(rng).clamp(0.0, MAX_EVENT_DURATION_S),
        }
    }

    /// The median, for reports.
    pub fn median(&self) -> Seconds {
        match self {
            EventDuration::Fixed(v) => *v,
            EventDuration::Random(d) => d.median().max(0.0),
        }
    }
}

/// How a per-second pool's replicas start: provisioning then model load,
/// each drawn per start.
#[derive(Debug, Clone)]
pub struct Startup {
    pub provisioning_s: EventDuration,
    pub load_s: EventDuration,
}

#[derive(Debug, Clone)]
pub enum PoolKind {
    Reserved {
        replicas: Param,
        price_per_gpu_hour: Param,
    },
    Owned {
        replicas: Param,
        capex_per_gpu: Param,
        amortization_s: Param,
        idle_watts: Param,
        busy_watts: Param,
        pue: Param,
        usd_per_kwh: Param,
        ops_per_gpu_hour: Param,
    },
    OnDemand {
        min_replicas: Param,
        max_replicas: Param,
        price_per_gpu_hour: Param,
        startup: Startup,
        min_billed_s: Param,
        billing: Billing,
    },
    Spot {
        min_replicas: Param,
        max_replicas: Param,
        price_per_gpu_hour: Param,
        startup: Startup,
        min_billed_s: Param,
        billing: Billing,
        interruptions_per_hour: Param,
        notice_s: Param,
    },
    Serverless {
        min_replicas: Param,
        max_replicas: Param,
        price_per_gpu_second: Param,
        cold_start_s: EventDuration,
        idle_timeout_s: Param,
        bill_cold_start: bool,
    },
}

impl PoolKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            PoolKind::Reserved { .. } => "reserved",
            PoolKind::Owned { .. } => "owned",
            PoolKind::OnDemand { .. } => "on_demand",
            PoolKind::Spot { .. } => "spot",
            PoolKind::Serverless { .. } => "serverless",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonteCarlo {
    pub replications: u64,
    pub seed: u64,
}
