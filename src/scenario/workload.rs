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
