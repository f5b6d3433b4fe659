//! What the charts and `report.html` show, assembled from a run's results.
//!
//! Pure data: plots and the HTML exporter read a [`ReportData`] and compute
//! nothing themselves. The time series are replication 0's, sampled while
//! it ran (see `montecarlo`).

use crate::montecarlo::Batch;
pub use crate::montecarlo::StrategySeries;
use crate::summary::{RunMeta, RunSummary, column};
use crate::units::MONTH_S;

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub meta: RunMeta,
    pub summary: RunSummary,
    pub scenario_text: String,
    /// Per strategy: total cost per month in each replication.
    pub cost_per_month: Vec<Vec<f64>>,
    /// API baseline per month in each replication.
    pub api_per_month: Vec<f64>,
    /// Per strategy: (latency s, cumulative share) over all replications.
    pub ttft_cdf: Vec<Vec<(f64, f64)>>,
    pub tpot_cdf: Vec<Vec<(f64, f64)>>,
    /// Per strategy: (pool or "API overflow", mean cost per month).
    pub cost_breakdown: Vec<Vec<(String, f64)>>,
    pub timeseries: Vec<StrategySeries>,
}

fn mean(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl ReportData {
    pub fn build(
        meta: &RunMeta,
        summary: &RunSummary,
        batch: &Batch,
        timeseries: Vec<StrategySeries>,
        scenario_text: &str,
    ) -> ReportData {
        let reps = &batch.replications;
        let per_month = MONTH_S / meta.horizon_s;
        let n = meta.strategies.len();
        let cost_per_month = (0..n)
            .map(|s| column(reps, s, "cost_per_month_usd"))
            .collect();
        let api_per_month = column(reps, 0, "api_baseline_cost_usd")
            .iter()
            .map(|x| x * per_month)
            .collect();
        let cdf = |f: &dyn Fn(usize) -> Vec<(f64, f64)>| (0..n).map(f).collect::<Vec<_>>();
        let ttft_cdf = cdf(&|s| {
            batch
                .latencies
                .get(s)
                .map_or_else(Vec::new, |l| l.ttft.cdf_points(200))
        });
        let tpot_cdf = cdf(&|s| {
            batch
                .latencies
                .get(s)
                .map_or_else(Vec::new, |l| l.tpot.cdf_points(200))
        });
        let cost_breakdown = (0..n)
            .map(|s| {
                let mut parts: Vec<(String, f64)> = reps
                    .first()
                    .map(|r| {
                        r.outcomes[s]
                            .pools
                            .iter()
                            .map(|p| p.name.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .map(|pool| {
                        let c = column(reps, s, &format!("pool.{pool}.cost_usd"));
                        (pool, mean(&c) * per_month)
                    })
                    .collect();
                parts.push((
                    "API overflow".into(),
                    mean(&column(reps, s, "api_overflow_cost_usd")) * per_month,
                ));
                parts
            })
            .collect();
        ReportData {
            meta: meta.clone(),
            summary: summary.clone(),
            scenario_text: scenario_text.to_string(),
            cost_per_month,
            api_per_month,
            ttft_cdf,
            tpot_cdf,
            cost_breakdown,
            timeseries,
        }
    }
}
