//! `fleetsim size`: search `{ search = [...] }` fields for the cheapest
//! strategy that meets an SLO target with a stated confidence.
//!
//! Every candidate runs the same replication indices with the same seed
//! (common random numbers), so differences between candidates are not
//! noise. A field under `strategy[i]` varies only strategy i; other search
//! fields vary every strategy.

use std::collections::HashMap;

use serde::Serialize;

use crate::metrics::Metric;
use crate::metrics::Outcome;
use crate::montecarlo::{Progress, run_strategy};
use crate::scenario::{Scenario, SearchSpace};
use crate::simulation::SimOptions;
use crate::stats::{Summary, percentile};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SizingTarget {
    /// Per-replication SLO attainment that counts as meeting the SLO.
    pub slo_attainment: f64,
    /// Required share of replications meeting it.
    pub confidence: f64,
}

/// One (strategy, assignment of its search fields) evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub rank: usize,
    pub strategy: String,
    /// Search field → chosen value.
    pub assignment: Vec<(String, f64)>,
    /// The assignment as a reader names it: `reserved × 5, on_demand ≤ 3`.
    pub label: String,
    pub cost_per_month_mean_usd: f64,
    pub cost_per_month_p5_usd: f64,
    pub cost_per_month_p50_usd: f64,
    pub cost_per_month_p95_usd: f64,
    pub slo_attainment_mean: f64,
    /// The attainment reached in `confidence` of replications (its
    /// 1 − confidence quantile): meets the target when ≥ it.
    pub slo_attainment_at_confidence: f64,
    /// Median over replications of the TTFT p99.
    pub ttft_p99_s: f64,
    /// Share of replications flagged overloaded.
    pub overloaded_share: f64,
    /// Share of replications with SLO attainment ≥ the target.
    pub prob_slo_met: f64,
    /// Meets the target in `confidence` of replications and is not
    /// overloaded: `run`'s verdict rule.
    pub meets_target: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizingResult {
    pub scenario: String,
    pub seed: u64,
    pub replications: u64,
    pub target: SizingTarget,
    /// Meeting candidates first, cheapest first; then the rest by P(SLO met).
    pub candidates: Vec<Candidate>,
}

impl SizingResult {
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first().filter(|c| c.meets_target)
    }
}

/// The search fields that vary strategy `s`.
fn fields_for(search: &[SearchSpace], s: usize) -> Vec<&SearchSpace> {
    let own = format!("strategy[{s}].");
    search
        .iter()
        .filter(|f| !f.field.starts_with("strategy[") || f.field.starts_with(&own))
        .collect()
}

/// All combinations of the given fields' values.
fn combinations(fields: &[&SearchSpace]) -> Vec<Vec<(String, f64)>> {
    let mut out: Vec<Vec<(String, f64)>> = vec![Vec::new()];
    for f in fields {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                f.values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((f.field.clone(), *v));
                    p
                })
            })
            .collect();
    }
    out
}

/// Builds the scenario with search fields fixed to the given values.
pub type MakeScenario<'a> = dyn Fn(&HashMap<String, f64>) -> Result<Scenario, String> + 'a;

/// How many simulations a search needs (candidates × replications).
pub fn candidate_count(base: &Scenario) -> usize {
    (0..base.strategies.len())
        .map(|s| combinations(&fields_for(&base.search, s)).len())
        .sum()
}

/// A candidate's search values as a reader writes them:
/// `strategy[0].pools[0].replicas = 10, …`.
pub fn describe(assignment: &[(String, f64)]) -> String {
    assignment
        .iter()
        .map(|(field, v)| format!("{field} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evaluates every candidate. `make` builds the scenario with search fields
/// fixed to the given values (others at their first value).
pub fn size(
    base: &Scenario,
    make: &MakeScenario,
    target: SizingTarget,
    replications: u64,
    seed: u64,
    options: &SimOptions,
    progress: &dyn Progress,
) -> Result<SizingResult, String> {
    let indices: Vec<u64> = (0..replications).collect();
    let mut candidates = Vec::new();
    for s in 0..base.strategies.len() {
        for assignment in combinations(&fields_for(&base.search, s)) {
            let choices: HashMap<String, f64> = base
                .search
                .iter()
                .map(|f| (f.field.clone(), f.values[0]))
                .chain(assignment.iter().cloned())
                .collect();
            let scenario = make(&choices)?;
            let outcomes = run_strategy(&scenario, s, seed, &indices, options, progress);
            let label = label(&scenario, &assignment);
            if let Some(i) = outcomes.iter().position(|o| o.stopped_at_event_budget) {
                return Err(format!(
                    "candidate {} with {}: replication {i} was stopped at its budget ({} events, --max-events, or {} requests in the system at once); its figures would not be a result. Narrow the search, shorten the horizon, or raise --max-events",
                    scenario.strategies[s].name,
                    describe(&assignment),
                    options.max_events,
                    options.max_in_system
                ));
            }
            candidates.push(candidate(
                &scenario.strategies[s].name,
                assignment,
                label,
                &outcomes,
                target,
            ));
        }
    }
    candidates.sort_by(|a, b| {
        b.meets_target
            .cmp(&a.meets_target)
            .then(if a.meets_target {
                a.cost_per_month_p50_usd
                    .total_cmp(&b.cost_per_month_p50_usd)
            } else {
                b.prob_slo_met.total_cmp(&a.prob_slo_met)
            })
            .then(
                a.cost_per_month_p50_usd
                    .total_cmp(&b.cost_per_month_p50_usd),
            )
    });
    for (i, c) in candidates.iter_mut().enumerate() {
        c.rank = i + 1;
    }
    Ok(SizingResult {
        scenario: base.name.clone(),
        seed,
        replications,
        target,
        candidates,
    })
}

/// A candidate's search values by pool kind: `reserved × 5` for replicas,
/// `on_demand ≤ 3` / `≥ 1` for a ceiling / floor, `key = v` otherwise.
fn label(scenario: &Scenario, assignment: &[(String, f64)]) -> String {
    assignment
        .iter()
        .map(|(field, v)| {
            let key = field.rsplit('.').next().unwrap_or(field);
            let kind = field.split_once("].pools[").and_then(|(st, rest)| {
                let s: usize = st.strip_prefix("strategy[")?.parse().ok()?;
                let p: usize = rest.split(']').next()?.parse().ok()?;
                Some(
                    scenario
                        .strategies
                        .get(s)?
                        .pools
                        .get(p)?
                        .kind
                        .kind_name()
                        .to_string(),
                )
            });
            match (kind, key) {
                (Some(k), "replicas") => format!("{k} × {v}"),
                (Some(k), "max_replicas") => format!("{k} ≤ {v}"),
                (Some(k), "min_replicas") => format!("{k} ≥ {v}"),
                (Some(k), key) => format!("{k} {key} = {v}"),
                (None, _) => format!("{field} = {v}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn candidate(
    strategy: &str,
    assignment: Vec<(String, f64)>,
    label: String,
    outcomes: &[Outcome],
    target: SizingTarget,
) -> Candidate {
    let cost: Vec<f64> = outcomes
        .iter()
        .map(|o| o.get(Metric::CostPerMonth))
        .collect();
    let slo: Vec<f64> = outcomes
        .iter()
        .map(|o| o.get(Metric::SloAttainment))
        .collect();
    let c = Summary::of(&cost);
    let mut sorted = cost.clone();
    sorted.sort_by(f64::total_cmp);
    // A replication with no request breaks no SLO (as the verdict counts).
    let met = slo
        .iter()
        .filter(|x| x.is_nan() || **x >= target.slo_attainment)
        .count() as f64
        / slo.len().max(1) as f64;
    let overloaded = outcomes
        .iter()
        .map(|o| o.get(Metric::Overloaded))
        .sum::<f64>()
        / outcomes.len().max(1) as f64;
    let mut slo_sorted: Vec<f64> = slo
        .iter()
        .map(|x| if x.is_nan() { 1.0 } else { *x })
        .collect();
    slo_sorted.sort_by(f64::total_cmp);
    let ttft: Vec<f64> = outcomes.iter().map(|o| o.get(Metric::TtftP99)).collect();
    Candidate {
        rank: 0,
        strategy: strategy.to_string(),
        assignment,
        label,
        cost_per_month_mean_usd: c.mean,
        cost_per_month_p5_usd: percentile(&sorted, 0.05),
        cost_per_month_p50_usd: percentile(&sorted, 0.5),
        cost_per_month_p95_usd: percentile(&sorted, 0.95),
        slo_attainment_mean: Summary::of(&slo).mean,
        slo_attainment_at_confidence: percentile(&slo_sorted, 1.0 - target.confidence),
        ttft_p99_s: Summary::of(&ttft).p50,
        overloaded_share: overloaded,
        prob_slo_met: met,
        meets_target: met >= target.confidence && overloaded <= 1.0 - target.confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_cover_the_product() {
        let a = SearchSpace {
            field: "strategy[0].pools[0].replicas".into(),
            values: vec![1.0, 2.0],
        };
        let b = SearchSpace {
            field: "engine.max_batch".into(),
            values: vec![8.0, 16.0, 32.0],
        };
        let c = SearchSpace {
            field: "strategy[1].pools[0].max_replicas".into(),
            values: vec![4.0],
        };
        let all = [a, b, c];
        assert_eq!(combinations(&fields_for(&all, 0)).len(), 6);
        assert_eq!(combinations(&fields_for(&all, 1)).len(), 3);
        assert_eq!(combinations(&fields_for(&all, 2)).len(), 3);
    }
}
