//! Scenarios: TOML text in, a validated [`Scenario`] out.
//!
//! Two stages (like ripgrep's low/high args): [`schema`] mirrors the file
//! with serde and denies unknown fields; [`resolve`] applies the documented
//! [`defaults`] and checks every number, naming the field path, value,
//! allowed range, line and column on error. Nothing here reads files: the
//! caller passes a loader for trace files referenced by the scenario.
//!
//! The validated types are split by concern: [`workload`] (traffic),
//! [`engine`] (one replica and its derived figures), [`fleet`] (pools,
//! autoscaling, SLO, API); [`uncertain`] and [`number`] hold numbers that
//! may be distributions or search spaces; [`presets`] the GPU and model
//! figures with their sources; [`locate`] maps a field path to its line.

pub mod allowed;
pub mod defaults;
pub mod engine;
pub mod error;
pub mod fleet;
pub mod locate;
pub mod number;
pub mod presets;
pub mod resolve;
pub mod schema;
pub mod trace;
pub mod uncertain;
pub mod workload;

pub use allowed::Allowed;
pub use engine::{
    Admission, CalibratedConstants, CalibratedKey, CalibratedParams, Engine, EngineFigures,
    Precision, RouterKind, StepTime, peak_flops,
};
pub use error::ScenarioError;
pub use fleet::{
    Api, Autoscale, Billing, EventDuration, Overflow, Pool, PoolKind, Rental, Slo, Startup,
    Strategy,
};
pub use presets::{GpuSpec, ModelSpec};
pub use resolve::{FileLoader, parse, parse_for_demand, parse_with_choices};
pub use trace::{EmpiricalLengths, TraceData};
pub use uncertain::{Dist, Draws, Param, Uncertainties};
pub use workload::{
    Arrivals, DiurnalProfile, LengthDist, RenewalFamily, Sessions, SharedPrefix, Spacing, Workload,
};

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

impl Scenario {
    /// Requests expected to arrive in one history at the inputs' medians (a
    /// session's follow-up turns not counted), or `None` where the rate
    /// depends on the fleet (closed-loop clients). Used to refuse, before
    /// simulating, a history that cannot fit the event budget.
    pub fn expected_arrivals(&self) -> Option<f64> {
        let m = self.uncertain.medians();
        let v = |p: &Param| p.value(&m);
        let h = self.horizon_s;
        let ds = v(&self.demand_scale);
        let n = match &self.workload.arrivals {
            Arrivals::Poisson { rate } | Arrivals::Renewal { rate, .. } => v(rate) * h * ds,
            Arrivals::Mmpp {
                rates,
                mean_sojourn_s,
            } => {
                // States are visited in turn: the sojourn-weighted mean rate.
                let total: f64 = mean_sojourn_s.iter().map(v).sum();
                let weighted: f64 = rates
                    .iter()
                    .zip(mean_sojourn_s)
                    .map(|(r, s)| v(r) * v(s))
                    .sum();
                weighted / total * h * ds
            }
            Arrivals::Diurnal {
                profile: DiurnalProfile::Hourly(rates),
                ..
            } => rates.iter().map(v).sum::<f64>() / rates.len() as f64 * h * ds,
            // Flooring the cosine at 0 only raises the mean.
            Arrivals::Diurnal {
                profile: DiurnalProfile::Sinusoid { mean_rate, .. },
                ..
            } => v(mean_rate) * h * ds,
            Arrivals::Stages { stages, .. } => {
                let mut t = 0.0;
                let mut n = 0.0;
                for (rate, d) in stages {
                    let d = v(d).min((h - t).max(0.0));
                    n += v(rate) * d * ds;
                    t += d;
                }
                n
            }
            Arrivals::Trace {
                trace,
                time_scale,
                rate_scale,
            } => {
                let mult = v(time_scale) / (v(rate_scale) * ds.max(f64::MIN_POSITIVE));
                trace.rows.partition_point(|r| r.t * mult < h) as f64
            }
            Arrivals::ClosedLoop { .. } => return None,
        };
        Some(n)
    }

    /// Whether every arrival a run can make is in the trace rows kept at
    /// load (a trace keeps only the rows within the parsed horizon and
    /// demand; a caller that raises demand later must parse for it).
    pub fn trace_covers_horizon(&self) -> bool {
        match &self.workload.arrivals {
            Arrivals::Trace {
                trace,
                time_scale,
                rate_scale,
            } if !trace.complete => match (
                time_scale.fixed(),
                rate_scale.fixed(),
                self.demand_scale.fixed(),
            ) {
                (Some(ts), Some(rs), Some(ds)) if ts > 0.0 => {
                    self.horizon_s * ds * rs / ts <= trace.kept_s
                }
                _ => false,
            },
            _ => true,
        }
    }
}

/// A `{ search = [...] }` field.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    pub field: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonteCarlo {
    pub replications: u64,
    pub seed: u64,
}
