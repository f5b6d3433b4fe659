//! Replications → the run summary (`summary.json`, docs/outputs.md), plus paired
//! comparisons between strategies and sensitivity to uncertain inputs.
//!
//! Pure: takes outcomes, returns plain data. The struct is the contract:
//! field names here are the JSON keys.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::metrics::{Metric, MetricKey, PoolMetric};
use crate::montecarlo::{Replication, RunMeta};
use crate::stats::{PairedDifference, Summary, cvar, paired_difference, prob_less, spearman};
use crate::verdict::Verdict;

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    pub replications: u64,
    pub horizon_s: f64,
    /// The answer: the cheapest plan that meets the SLO, and why not the others.
    pub verdict: Verdict,
    pub strategies: Vec<StrategySummary>,
    /// Each uncertain input and the summary of its draws.
    pub uncertain_inputs: Vec<InputSummary>,
    /// Present when the run was asked for a precision target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Present when the run was interrupted: the summary covers the
    /// replications 0..completed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<Partial>,
    /// Nothing in the scenario is random: replications 0 and 1 were the
    /// same history, so one replication is the answer.
    pub deterministic: bool,
    pub fleetsim_version: String,
}

/// An interrupted run's extent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Partial {
    /// Replications 0..completed finished and are summarized.
    pub completed: u64,
    /// Replications the run was asked for.
    pub requested: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategySummary {
    pub name: String,
    /// Metric name → distribution over replications, in a fixed order.
    #[serde(serialize_with = "ordered_map")]
    pub metrics: Vec<(String, Summary)>,
    pub risk: Risk,
    /// Paired with the first strategy (common random numbers); absent for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_first: Option<Comparison>,
    /// Rank correlation of total cost with each uncertain input.
    pub sensitivity: Vec<Sensitivity>,
}

fn ordered_map<S: Serializer>(pairs: &[(String, Summary)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Risk {
    /// Share of replications whose total cost is below the API baseline.
    pub prob_cheaper_than_api: f64,
    /// 95th percentile of total cost.
    pub cost_var95_usd: f64,
    /// Mean total cost in the worst 5% of replications.
    pub cost_cvar95_usd: f64,
    /// The same two, per 30-day month (× 30 days / horizon), to sit beside
    /// the per-month costs.
    pub cost_var95_per_month_usd: f64,
    pub cost_cvar95_per_month_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    /// This strategy's total cost minus the baseline's, per replication.
    pub cost_difference_usd: PairedDifference,
    /// The same per 30-day month.
    pub cost_difference_per_month_usd: PairedDifference,
    pub slo_attainment_difference: PairedDifference,
    /// Share of replications where this strategy costs less.
    pub prob_cheaper: f64,
    /// Share of replications where its SLO attainment is at least as high.
    pub prob_slo_at_least_as_good: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub input: String,
    pub spearman_total_cost: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub name: String,
    pub distribution: String,
    pub draws: Summary,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Precision {
    /// Target: 95% CI half-width of mean total cost ÷ mean.
    pub target_relative_half_width: f64,
    /// Worst achieved over the strategies.
    pub achieved_relative_half_width: f64,
    pub reached: bool,
}

/// The values of metric `m` of strategy `s` across replications.
pub use crate::montecarlo::column;

/// The values of metric `m` of pool `pool` (by position) of strategy `s`.
pub fn pool_column(reps: &[Replication], s: usize, pool: usize, m: PoolMetric) -> Vec<f64> {
    reps.iter()
        .map(|r| r.outcomes[s].pools[pool].get(m))
        .collect()
}

impl RunSummary {
    pub fn build(meta: &RunMeta, reps: &[Replication]) -> RunSummary {
        let n_strategies = meta.strategies.len();
        let per_month = crate::units::MONTH_S / meta.horizon_s;
        let strategies = (0..n_strategies)
            .map(|s| {
                let names: Vec<String> = reps
                    .first()
                    .map(|r| {
                        r.outcomes[s]
                            .metrics()
                            .into_iter()
                            .map(|(n, _)| n)
                            .collect()
                    })
                    .unwrap_or_default();
                // One pass: metrics of every replication as a table.
                let table: Vec<Vec<f64>> = reps
                    .iter()
                    .map(|r| {
                        r.outcomes[s]
                            .metrics()
                            .into_iter()
                            .map(|(_, v)| v)
                            .collect()
                    })
                    .collect();
                let col = |j: usize| -> Vec<f64> { table.iter().map(|row| row[j]).collect() };
                let metrics: Vec<(String, Summary)> = names
                    .iter()
                    .enumerate()
                    .map(|(j, n)| (n.clone(), Summary::of(&col(j))))
                    .collect();
                let cost = column(reps, s, Metric::TotalCost);
                let api = column(reps, s, Metric::ApiBaselineCost);
                let (var, cv) = cvar(&cost, 0.95);
                let versus_first = (s > 0).then(|| {
                    let base_cost = column(reps, 0, Metric::TotalCost);
                    let base_slo = column(reps, 0, Metric::SloAttainment);
                    let slo = column(reps, s, Metric::SloAttainment);
                    Comparison {
                        baseline: meta.strategies[0].clone(),
                        cost_difference_usd: paired_difference(&base_cost, &cost),
                        cost_difference_per_month_usd: paired_difference(
                            &base_cost.iter().map(|c| c * per_month).collect::<Vec<_>>(),
                            &cost.iter().map(|c| c * per_month).collect::<Vec<_>>(),
                        ),
                        slo_attainment_difference: paired_difference(&base_slo, &slo),
                        prob_cheaper: prob_less(&cost, &base_cost),
                        prob_slo_at_least_as_good: 1.0 - prob_less(&slo, &base_slo),
                    }
                });
                let sensitivity = meta
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(k, (name, _))| {
                        let xs: Vec<f64> = reps.iter().map(|r| r.draws.values[k]).collect();
                        Sensitivity {
                            input: name.clone(),
                            spearman_total_cost: spearman(&xs, &cost),
                        }
                    })
                    .collect();
                // Cheaper than the API only while serving every request (a
                // fleet that drops requests is not a cheaper way to serve
                // them); undefined for a plan that is the API.
                let dropped = column(reps, s, Metric::Dropped);
                let arrived: f64 = column(reps, s, Metric::Arrived).iter().sum();
                let overflowed: f64 = column(reps, s, Metric::Overflowed).iter().sum();
                let prob_cheaper_than_api = if arrived > 0.0 && overflowed >= 0.999 * arrived {
                    f64::NAN
                } else {
                    let served_cost: Vec<f64> = cost
                        .iter()
                        .zip(&dropped)
                        .map(|(c, d)| if *d > 0.0 { f64::MAX } else { *c })
                        .collect();
                    prob_less(&served_cost, &api)
                };
                StrategySummary {
                    name: meta.strategies[s].clone(),
                    metrics,
                    risk: Risk {
                        prob_cheaper_than_api,
                        cost_var95_usd: var,
                        cost_cvar95_usd: cv,
                        cost_var95_per_month_usd: var * per_month,
                        cost_cvar95_per_month_usd: cv * per_month,
                    },
                    versus_first,
                    sensitivity,
                }
            })
            .collect();
        let uncertain_inputs = meta
            .inputs
            .iter()
            .enumerate()
            .map(|(k, (name, dist))| InputSummary {
                name: name.clone(),
                distribution: dist.clone(),
                draws: Summary::of(&reps.iter().map(|r| r.draws.values[k]).collect::<Vec<_>>()),
            })
            .collect();
        RunSummary {
            scenario: meta.scenario.clone(),
            seed: meta.seed,
            replications: reps.len() as u64,
            horizon_s: meta.horizon_s,
            verdict: Verdict::build(meta, reps),
            strategies,
            uncertain_inputs,
            precision: None,
            partial: None,
            deterministic: false,
            fleetsim_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The summary of metric `m` of strategy `s`.
    pub fn metric(&self, s: usize, m: Metric) -> Option<&Summary> {
        self.metric_by_key(s, &MetricKey::Fleet(m))
    }

    /// The summary of a metric named by key (fleet-wide or of a pool).
    pub fn metric_by_key(&self, s: usize, key: &MetricKey) -> Option<&Summary> {
        let key = key.key();
        self.strategies
            .get(s)?
            .metrics
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, m)| m)
    }

    /// Worst relative CI half-width of mean total cost over strategies.
    pub fn cost_relative_half_width(&self) -> f64 {
        (0..self.strategies.len())
            .filter_map(|s| self.metric(s, Metric::TotalCost))
            .map(|m| {
                if m.mean == 0.0 && m.std == 0.0 {
                    0.0
                } else {
                    m.relative_half_width()
                }
            })
            .fold(
                0.0,
                |a: f64, b| if b.is_nan() { f64::INFINITY } else { a.max(b) },
            )
    }
}
