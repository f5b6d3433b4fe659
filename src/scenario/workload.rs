//! The traffic a scenario describes: arrival processes and token-length
//! distributions, validated (see `resolve`). The engines that generate
//! requests from these live in `crate::workload`.

use std::sync::Arc;

use super::trace::{EmpiricalLengths, TraceData};
use super::uncertain::Param;

#[derive(Debug, Clone)]
pub struct Workload {
    pub arrivals: Arrivals,
    /// `None` when a trace supplies the lengths.
    pub prompt_tokens: Option<LengthDist>,
    pub output_tokens: Option<LengthDist>,
    pub shared_prefix: Option<SharedPrefix>,
    pub sessions: Option<Sessions>,
}

/// Multi-turn conversations (docs/model.md §7.5).
#[derive(Debug, Clone)]
pub struct Sessions {
    /// Turns per conversation (at least 1).
    pub turns: LengthDist,
    /// From an answer to the next turn.
    pub think_s: Param,
    /// The longest prompt a turn may have: the conversation ends before.
    pub max_context: Param,
}

/// System prompts shared within groups: each request joins one of `groups`
/// uniformly at random, and the first `tokens` of its prompt are its group's.
#[derive(Debug, Clone, Copy)]
pub struct SharedPrefix {
    pub groups: Param,
    pub tokens: Param,
    /// Requests join the groups in turn (request i: group i mod groups),
    /// as a load generator cycling through its users does.
    pub round_robin: bool,
}

/// How arrivals are placed within a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// Evenly, 1/rate apart (a constant-rate load generator).
    Constant,
    Poisson,
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
    /// Fixed concurrency: each client sends again `think_s` after its
    /// previous request is answered (demand_scale scales the clients).
    ClosedLoop {
        clients: Param,
        think_s: Param,
    },
    /// (rate, duration) stages back to back.
    Stages {
        stages: Vec<(Param, Param)>,
        spacing: Spacing,
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
