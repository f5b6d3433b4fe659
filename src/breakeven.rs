//! `fleetsim breakeven`: sweep the monthly volume (demand scale) and find
//! where each self-hosted strategy's cost per 1M output tokens crosses the
//! API's, with an uncertainty interval.
//!
//! At each volume, every strategy runs the same replications (common random
//! numbers). The crossover is where the strategy's median cost per 1M
//! output tokens falls to the API's median, interpolated in log-log space;
//! its interval uses the strategy's p95 (pessimistic) and p5 (optimistic)
//! curves against the API median.

use serde::Serialize;

use crate::metrics::Metric;
use crate::montecarlo::{Progress, RunMeta, run_batch};
use crate::scenario::{Dist, Param, Scenario};
use crate::simulation::SimOptions;
pub use crate::stats::Band;
use crate::summary::column;
use crate::units::MONTH_S;
use crate::verdict::Verdict;

/// One volume of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// Multiplier applied to the scenario's demand.
    pub demand_multiplier: f64,
    /// Output tokens per month (30 days) at this demand, median.
    pub monthly_output_tokens: f64,
    /// Input plus output tokens per month, median.
    pub monthly_total_tokens: f64,
    /// The API's cost per 1M output tokens (input tokens included).
    pub api_per_m_output: Band,
    /// Per strategy: cost per 1M output tokens.
    pub strategies: Vec<Band>,
    /// Per strategy: whether it meets the SLO at this volume, as `run`'s
    /// verdict judges (target in `confidence` of replications, not
    /// overloaded).
    pub checks: Vec<VolumeCheck>,
}

/// A strategy at one volume against the SLO.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct VolumeCheck {
    pub passes: bool,
    pub prob_slo_met: f64,
    pub overloaded_share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Crossover {
    pub strategy: String,
    /// Monthly output tokens where the median cost meets the API's; `None`
    /// when it does not happen within the swept range.
    pub volume_p50: Option<f64>,
    /// Where the optimistic (p5) curve crosses: the earliest plausible volume.
    pub volume_low: Option<f64>,
    /// Where the pessimistic (p95) curve crosses: the latest plausible volume.
    pub volume_high: Option<f64>,
    /// The highest swept volume at which it meets the SLO (its capacity
    /// limit); `None` when it meets it at none.
    pub capacity_volume: Option<f64>,
    /// The median crossing lies beyond that limit: the fleet would break
    /// even only while failing its SLO.
    pub beyond_capacity: bool,
    /// Among the volumes where it meets the SLO, the one with the lowest
    /// median cost per 1M output tokens, and that cost.
    pub cheapest_passing: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakevenResult {
    pub scenario: String,
    pub seed: u64,
    pub replications: u64,
    pub strategies: Vec<String>,
    pub points: Vec<SweepPoint>,
    pub crossovers: Vec<Crossover>,
}

/// The scenario with its demand multiplied by `m` (an uncertain demand
/// keeps its shape, scaled).
pub fn scale_demand(base: &Scenario, m: f64) -> Scenario {
    let mut s = base.clone();
    match s.demand_scale {
        Param::Fixed(v) => s.demand_scale = Param::Fixed(v * m),
        Param::Drawn(i) => {
            let input = &mut s.uncertain.inputs[i];
            input.dist = match input.dist {
                Dist::Uniform { low, high } => Dist::Uniform {
                    low: low * m,
                    high: high * m,
                },
                Dist::Triangular { low, mode, high } => Dist::Triangular {
                    low: low * m,
                    mode: mode * m,
                    high: high * m,
                },
                Dist::Normal { mean, sd } => Dist::Normal {
                    mean: mean * m,
                    sd: sd * m,
                },
                Dist::LogNormal { median, sigma } => Dist::LogNormal {
                    median: median * m,
                    sigma,
                },
            };
        }
    }
    s
}

/// Log-spaced multipliers from `from` to `to`.
pub fn multipliers(from: f64, to: f64, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|k| (from.ln() + (to.ln() - from.ln()) * k as f64 / (steps - 1) as f64).exp())
        .collect()
}

/// First volume where `curve` falls to `api` or below, interpolated in log space.
fn crossing(points: &[(f64, f64, f64)]) -> Option<f64> {
    // (volume, strategy cost, api cost)
    for w in points.windows(2) {
        let (v0, c0, a0) = w[0];
        let (v1, c1, a1) = w[1];
        let d0 = c0.ln() - a0.ln();
        let d1 = c1.ln() - a1.ln();
        if !(d0.is_finite() && d1.is_finite()) {
            continue;
        }
        if d0 <= 0.0 {
            return Some(v0);
        }
        if d1 <= 0.0 {
            let t = d0 / (d0 - d1);
            return Some((v0.ln() + t * (v1.ln() - v0.ln())).exp());
        }
    }
    None
}

pub fn breakeven(
    base: &Scenario,
    multipliers: &[f64],
    replications: u64,
    seed: u64,
    options: &SimOptions,
    progress: &dyn Progress,
) -> Result<BreakevenResult, String> {
    let indices: Vec<u64> = (0..replications).collect();
    let n = base.strategies.len();
    let per_month = MONTH_S / base.horizon_s;
    let points: Vec<SweepPoint> = multipliers
        .iter()
        .map(|&m| {
            let s = scale_demand(base, m);
            let batch = run_batch(&s, seed, &indices, options, progress);
            let reps = &batch.replications;
            if let Some(r) = reps
                .iter()
                .find(|r| r.outcomes.iter().any(|o| o.stopped_at_event_budget))
            {
                return Err(format!(
                    "at {m}x the demand, replication {} was stopped at its budget ({} events, --max-events, or {} requests in the system at once); its figures would not be a result. Lower --to, shorten the horizon, or raise --max-events",
                    r.index, options.max_events, options.max_in_system
                ));
            }
            let api = column(reps, 0, Metric::ApiBaselinePerMOutput);
            let volume: Vec<f64> = column(reps, 0, Metric::OutputTokens)
                .iter()
                .map(|t| t * per_month)
                .collect();
            let total: Vec<f64> = column(reps, 0, Metric::InputTokens)
                .iter()
                .zip(column(reps, 0, Metric::OutputTokens))
                .map(|(i, o)| (i + o) * per_month)
                .collect();
            let verdict = Verdict::build(&RunMeta::of(&s, seed), reps);
            Ok(SweepPoint {
                demand_multiplier: m,
                monthly_total_tokens: Band::of(&total).p50,
                checks: verdict
                    .strategies
                    .iter()
                    .map(|c| VolumeCheck {
                        passes: c.passes,
                        prob_slo_met: c.prob_slo_met,
                        overloaded_share: c.overloaded_share,
                    })
                    .collect(),
                monthly_output_tokens: Band::of(&volume).p50,
                api_per_m_output: Band::of(&api),
                strategies: (0..n)
                    .map(|k| Band::of(&column(reps, k, Metric::CostPerMOutput)))
                    .collect(),
            })
        })
        .collect::<Result<_, String>>()?;
    let crossovers = (0..n)
        .filter(|&k| !base.strategies[k].pools.is_empty())
        .map(|k| {
            let curve = |pick: fn(&Band) -> f64| -> Vec<(f64, f64, f64)> {
                points
                    .iter()
                    .map(|p| {
                        (
                            p.monthly_output_tokens,
                            pick(&p.strategies[k]),
                            p.api_per_m_output.p50,
                        )
                    })
                    .collect()
            };
            let passing = points.iter().filter(|p| p.checks[k].passes);
            let capacity_volume = passing
                .clone()
                .map(|p| p.monthly_output_tokens)
                .reduce(f64::max);
            let cheapest_passing = passing
                .map(|p| (p.monthly_output_tokens, p.strategies[k].p50))
                .filter(|(_, c)| c.is_finite())
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let volume_p50 = crossing(&curve(|b| b.p50));
            Crossover {
                strategy: base.strategies[k].name.clone(),
                volume_p50,
                volume_low: crossing(&curve(|b| b.p5)),
                volume_high: crossing(&curve(|b| b.p95)),
                beyond_capacity: match (volume_p50, capacity_volume) {
                    (Some(v), Some(cap)) => v > cap,
                    (Some(_), None) => true,
                    _ => false,
                },
                capacity_volume,
                cheapest_passing,
            }
        })
        .collect();
    Ok(BreakevenResult {
        scenario: base.name.clone(),
        seed,
        replications,
        strategies: base.strategies.iter().map(|s| s.name.clone()).collect(),
        points,
        crossovers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_interpolates_in_log_space() {
        // Cost falls as 1/volume: 10 at 1, 1 at 100; the API costs 2.
        let pts = [(1.0, 10.0, 2.0), (100.0, 1.0, 2.0)];
        let v = crossing(&pts).unwrap();
        // ln c = ln 10 − ln v / 2 ⇒ c = 2 at v = 25.
        assert!((v - 25.0).abs() < 1e-9, "{v}");
        assert_eq!(crossing(&[(1.0, 10.0, 2.0), (2.0, 9.0, 2.0)]), None);
        assert_eq!(crossing(&[(1.0, 1.0, 2.0), (2.0, 1.0, 2.0)]), Some(1.0));
    }

    #[test]
    fn multipliers_are_log_spaced() {
        let m = multipliers(0.1, 10.0, 3);
        assert!(
            (m[0] - 0.1).abs() < 1e-12 && (m[1] - 1.0).abs() < 1e-12 && (m[2] - 10.0).abs() < 1e-9
        );
    }
}
