//! How a strategy buys and scales capacity: pools and their billing terms,
//! the autoscaler, the overflow rule, the SLO and the per-token API.

use super::defaults::MAX_EVENT_DURATION_S;
use super::engine::Engine;
use super::uncertain::{Dist, Param};
use crate::units::Seconds;

#[derive(Debug, Clone)]
pub struct Slo {
    pub ttft_s: Param,
    pub tpot_s: Param,
    /// `None`: requests wait as long as it takes.
    pub max_queue_s: Option<Param>,
    /// A plan passes when at least `target` of its requests meet ttft and
    /// tpot in at least `confidence` of the replications.
    pub target: f64,
    pub confidence: f64,
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

/// The terms on-demand and spot pools share: rented per second (or per
/// started hour) between a floor and a ceiling of replicas.
#[derive(Debug, Clone)]
pub struct Rental {
    pub min_replicas: Param,
    pub max_replicas: Param,
    pub price_per_gpu_hour: Param,
    pub startup: Startup,
    pub min_billed_s: Param,
    pub billing: Billing,
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
    OnDemand(Rental),
    Spot {
        rental: Rental,
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
            PoolKind::OnDemand(_) => "on_demand",
            PoolKind::Spot { .. } => "spot",
            PoolKind::Serverless { .. } => "serverless",
        }
    }
}
