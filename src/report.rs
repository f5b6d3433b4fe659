//! What the charts and `report.html` show, assembled from a run's results.
//!
//! Pure data: plots and the HTML exporter read a [`ReportData`] and compute
//! nothing themselves. The time series are replication 0's, sampled while
//! it ran (see `montecarlo`).

use crate::metrics::{Metric, PoolMetric};
pub use crate::montecarlo::StrategySeries;
use crate::montecarlo::{Batch, RunMeta};
use crate::stats::percentile;
use crate::summary::{RunSummary, column, pool_column};
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
    /// The cost-per-month distributions, binned and as ECDFs, for the chart.
    pub cost_distribution: CostDistribution,
    /// Per strategy: (latency s, cumulative share) over all replications.
    pub ttft_cdf: Vec<Vec<(f64, f64)>>,
    pub tpot_cdf: Vec<Vec<(f64, f64)>>,
    /// Per strategy: (pool or "API overflow", mean cost per month).
    pub cost_breakdown: Vec<Vec<(String, f64)>>,
    pub timeseries: Vec<StrategySeries>,
    /// Engine figures outside the validated range (empty: all inside);
    /// `None` when unknown (a merge whose scenario cannot be re-read).
    pub fidelity: Option<Vec<String>>,
}

/// Bins of the cost histogram.
pub const COST_BINS: usize = 30;

/// Every strategy's cost per month over replications, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct CostDistribution {
    /// Axis range: every cost and the API baseline, padded.
    pub axis: std::ops::Range<f64>,
    /// Width of each of the [`COST_BINS`] equal bins from `axis.start`.
    pub bin_width: f64,
    /// Per strategy: the share of replications in each bin.
    pub histogram: Vec<Vec<f64>>,
    /// Per strategy: the empirical CDF as step points, from (axis.start, 0)
    /// to (axis.end, 1).
    pub ecdf: Vec<Vec<(f64, f64)>>,
    /// Median API baseline per month (NaN without replications).
    pub api_median: f64,
}

impl CostDistribution {
    fn of(cost_per_month: &[Vec<f64>], api_per_month: &[f64]) -> CostDistribution {
        let finite =
            |xs: &[f64]| -> Vec<f64> { xs.iter().copied().filter(|x| x.is_finite()).collect() };
        let all: Vec<f64> = cost_per_month
            .iter()
            .flatten()
            .chain(api_per_month)
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let axis = padded_range(lo, hi);
        let bin_width = (axis.end - axis.start) / COST_BINS as f64;
        let histogram = cost_per_month
            .iter()
            .map(|xs| {
                let v = finite(xs);
                let n = v.len().max(1) as f64;
                let mut h = vec![0.0; COST_BINS];
                for x in v {
                    let b = (((x - axis.start) / bin_width) as usize).min(COST_BINS - 1);
                    h[b] += 1.0 / n;
                }
                h
            })
            .collect();
        let ecdf = cost_per_month
            .iter()
            .map(|xs| {
                let mut v = finite(xs);
                v.sort_by(f64::total_cmp);
                let n = v.len() as f64;
                let mut pts = vec![(axis.start, 0.0)];
                for (k, x) in v.iter().enumerate() {
                    pts.push((*x, k as f64 / n));
                    pts.push((*x, (k + 1) as f64 / n));
                }
                pts.push((axis.end, 1.0));
                pts
            })
            .collect();
        let mut api = api_per_month.to_vec();
        api.sort_by(f64::total_cmp);
        CostDistribution {
            axis,
            bin_width,
            histogram,
            ecdf,
            api_median: percentile(&api, 0.5),
        }
    }
}

/// A range a chart can draw: padded by 5%, widened if empty or degenerate.
pub fn padded_range(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        (lo - pad)..(hi + pad)
    } else {
        let d = lo.abs().max(1.0) * 0.1;
        (lo - d)..(hi + d)
    }
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
        let cost_per_month: Vec<Vec<f64>> = (0..n)
            .map(|s| column(reps, s, Metric::CostPerMonth))
            .collect();
        let api_per_month: Vec<f64> = column(reps, 0, Metric::ApiBaselineCost)
            .iter()
            .map(|x| x * per_month)
            .collect();
        let cost_distribution = CostDistribution::of(&cost_per_month, &api_per_month);
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
                let pools = reps.first().map_or(&[][..], |r| &r.outcomes[s].pools[..]);
                let mut parts: Vec<(String, f64)> = pools
                    .iter()
                    .enumerate()
                    .map(|(p, pool)| {
                        let c = pool_column(reps, s, p, PoolMetric::Cost);
                        (pool.name.clone(), mean(&c) * per_month)
                    })
                    .collect();
                parts.push((
                    "API overflow".into(),
                    mean(&column(reps, s, Metric::ApiOverflowCost)) * per_month,
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
            cost_distribution,
            ttft_cdf,
            tpot_cdf,
            cost_breakdown,
            timeseries,
            fidelity: None,
        }
    }
}
