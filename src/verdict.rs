//! The answer first: which plan to buy. Among the strategies that meet the
//! SLO with the stated confidence and are not overloaded, the one with the
//! lowest median cost per month; for every other strategy, why not.
//!
//! Pure: replications in, plain data out (the `verdict` object of
//! `summary.json`, docs/outputs.md).

use serde::Serialize;

use crate::metrics::Metric;
use crate::montecarlo::{Replication, RunMeta, column};
use crate::stats::{Band, prob_less};
use crate::units::format_usd;

/// Share of requests sent to the API above which a plan's line says so.
const OVERFLOW_NOTE_SHARE: f64 = 0.05;

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Share of requests that must meet the SLO in a replication.
    pub slo_target: f64,
    /// Share of replications that must reach it.
    pub confidence: f64,
    /// The cheapest plan that passes, if any.
    pub chosen: Option<String>,
    /// Its cost per month (p5, p50, p95).
    pub chosen_cost_per_month_usd: Option<Band>,
    /// One line of the answer: the choice, or that nothing passes.
    pub headline: String,
    pub strategies: Vec<PlanCheck>,
    /// What to do when nothing passes.
    pub hint: Option<String>,
}

/// One strategy against the SLO, the overload test and the chosen plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCheck {
    pub name: String,
    pub passes: bool,
    /// Share of replications whose SLO attainment reached the target.
    pub prob_slo_met: f64,
    /// Share of replications flagged overloaded (metric `overloaded`).
    pub overloaded_share: f64,
    /// Requests sent to the API over requests arrived, all replications.
    pub overflow_share: f64,
    pub cost_per_month_usd: Band,
    /// Paired: share of replications in which it cost less than the chosen
    /// plan (absent for the chosen plan, or when nothing passes).
    pub prob_cheaper_than_chosen: Option<f64>,
    /// Why it is, or is not, the answer, in words.
    pub why: String,
}

fn pct(x: f64) -> String {
    if x > 0.0 && x < 0.01 {
        "<1%".into()
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

impl Verdict {
    pub fn build(meta: &RunMeta, reps: &[Replication]) -> Verdict {
        let (target, confidence) = (meta.slo_target, meta.slo_confidence);
        let n = reps.len().max(1) as f64;
        let mut checks: Vec<PlanCheck> = (0..meta.strategies.len())
            .map(|s| {
                // A replication with no request breaks no SLO.
                let met = column(reps, s, Metric::SloAttainment)
                    .iter()
                    .filter(|a| a.is_nan() || **a >= target)
                    .count() as f64
                    / n;
                let overloaded = column(reps, s, Metric::Overloaded).iter().sum::<f64>() / n;
                let arrived: f64 = column(reps, s, Metric::Arrived).iter().sum();
                let overflowed: f64 = column(reps, s, Metric::Overflowed).iter().sum();
                PlanCheck {
                    name: meta.strategies[s].clone(),
                    passes: met >= confidence && overloaded <= 1.0 - confidence,
                    prob_slo_met: met,
                    overloaded_share: overloaded,
                    overflow_share: if arrived > 0.0 {
                        overflowed / arrived
                    } else {
                        0.0
                    },
                    cost_per_month_usd: Band::of(&column(reps, s, Metric::CostPerMonth)),
                    prob_cheaper_than_chosen: None,
                    why: String::new(),
                }
            })
            .collect();
        let chosen = checks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.passes)
            .min_by(|(_, a), (_, b)| {
                a.cost_per_month_usd
                    .p50
                    .total_cmp(&b.cost_per_month_usd.p50)
            })
            .map(|(i, _)| i);
        let slo = format!(
            "{} of requests within TTFT {} and TPOT {}",
            pct(target),
            crate::units::format_duration(meta.slo_ttft_s),
            crate::units::format_duration(meta.slo_tpot_s)
        );
        let chosen_cost = chosen.map(|c| column(reps, c, Metric::CostPerMonth));
        let chosen_p50 = chosen.map_or(f64::NAN, |c| checks[c].cost_per_month_usd.p50);
        for (s, c) in checks.iter_mut().enumerate() {
            let mut why = Vec::new();
            if Some(s) == chosen {
                why.push(format!(
                    "the cheapest plan that meets the SLO: {slo} in {} of replications",
                    pct(c.prob_slo_met)
                ));
            } else if !c.passes {
                if c.prob_slo_met < confidence {
                    why.push(format!(
                        "fails the SLO in {} of replications (at most {} may)",
                        pct(1.0 - c.prob_slo_met),
                        pct(1.0 - confidence)
                    ));
                }
                if c.overloaded_share > 0.0 {
                    why.push(format!(
                        "overloaded in {} of replications: its backlog grows through the horizon",
                        pct(c.overloaded_share)
                    ));
                }
            } else if let (Some(k), Some(base)) = (chosen, &chosen_cost) {
                let p = prob_less(&column(reps, s, Metric::CostPerMonth), base);
                c.prob_cheaper_than_chosen = Some(p);
                why.push(format!(
                    "meets the SLO but costs more: {} a month at the median, {} more than {}; cheaper in {} of replications",
                    format_usd(c.cost_per_month_usd.p50),
                    format_usd(c.cost_per_month_usd.p50 - chosen_p50),
                    meta.strategies[k],
                    pct(p)
                ));
            }
            if c.overflow_share >= 0.999 {
                why.push("serves every request on the API".into());
            } else if c.overflow_share > OVERFLOW_NOTE_SHARE {
                why.push(format!(
                    "sends {} of requests to the API",
                    pct(c.overflow_share)
                ));
            }
            c.why = why.join("; ");
        }
        let (headline, hint) = match chosen {
            Some(k) => {
                let b = checks[k].cost_per_month_usd;
                (
                    format!(
                        "Choose {}: {} a month (p5 {} – p95 {}), meeting the SLO ({slo}) in {} of replications.",
                        checks[k].name,
                        format_usd(b.p50),
                        format_usd(b.p5),
                        format_usd(b.p95),
                        pct(checks[k].prob_slo_met)
                    ),
                    None,
                )
            }
            None => (
                format!(
                    "No plan meets the SLO ({slo}) in {} of replications.",
                    pct(confidence)
                ),
                Some(
                    "Add capacity (replicas, an on-demand ceiling, API overflow with slo.max_queue), or let `fleetsim size` find the smallest fleet that passes: write replicas = { search = [...] } and run `fleetsim size`.".into(),
                ),
            ),
        };
        Verdict {
            slo_target: target,
            confidence,
            chosen: chosen.map(|k| checks[k].name.clone()),
            chosen_cost_per_month_usd: chosen.map(|k| checks[k].cost_per_month_usd),
            headline,
            strategies: checks,
            hint,
        }
    }
}
