//! The terminal table of key figures per strategy.

use crate::metrics::Metric;
use crate::summary::RunSummary;
use crate::units::{format_duration, format_usd as money};
use crate::verdict::Verdict;

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "-".into()
    }
}

/// "median [p5–p95]" when there are several replications, else the value.
fn spread(s: &RunSummary, k: usize, metric: Metric, fmt: &dyn Fn(f64) -> String) -> String {
    match s.metric(k, metric) {
        None => "-".into(),
        Some(m) if s.replications > 1 && m.n > 1 => {
            format!("{} [{}–{}]", fmt(m.p50), fmt(m.p5), fmt(m.p95))
        }
        Some(m) => fmt(m.p50),
    }
}

/// One word per strategy for the table: chosen, passes, or why it fails.
fn status(v: &Verdict, k: usize) -> String {
    let c = &v.strategies[k];
    if v.chosen.as_deref() == Some(c.name.as_str()) {
        "CHOSEN".into()
    } else if c.passes {
        "passes".into()
    } else if c.overloaded_share > 1.0 - v.confidence {
        "OVERLOADED".into()
    } else {
        "fails SLO".into()
    }
}

/// The answer, then one line per other strategy.
pub fn verdict_block(v: &Verdict) -> String {
    let mut out = format!(
        "Verdict: {}
",
        v.headline
    );
    for c in &v.strategies {
        if v.chosen.as_deref() != Some(c.name.as_str()) {
            out.push_str(&format!("  - {}: {}\n", c.name, c.why));
        }
    }
    if let Some(h) = &v.hint {
        out.push_str(&format!("  {h}\n"));
    }
    out
}

pub fn render(summary: &RunSummary) -> String {
    let headers = [
        "strategy",
        "cost / month",
        "$ / 1M output tok",
        "TTFT p50 / p99",
        "TPOT p50",
        "SLO met",
        "P(< API)",
        "GPU-h",
        "verdict",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (k, st) in summary.strategies.iter().enumerate() {
        let med = |m: Metric| summary.metric(k, m).map_or(f64::NAN, |s| s.p50);
        let mean = |m: Metric| summary.metric(k, m).map_or(f64::NAN, |s| s.mean);
        rows.push(vec![
            st.name.clone(),
            spread(summary, k, Metric::CostPerMonth, &money),
            spread(summary, k, Metric::CostPerMOutput, &money),
            format!(
                "{} / {}",
                format_duration(med(Metric::TtftP50)),
                format_duration(med(Metric::TtftP99))
            ),
            format_duration(med(Metric::TpotP50)),
            pct(mean(Metric::SloAttainment)),
            pct(st.risk.prob_cheaper_than_api),
            format!("{:.1}", mean(Metric::GpuHours)),
            status(&summary.verdict, k),
        ]);
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s:<w$}", w = widths[c]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    let api = summary
        .metric(0, Metric::ApiBaselineCost)
        .map_or(f64::NAN, |m| {
            m.p50 * crate::units::MONTH_S / summary.horizon_s
        });
    out.push_str(&format!(
        "{}: {} replication{}, horizon {}, seed {}; API baseline (whole workload on the API): {} per month, median\n",
        summary.scenario,
        summary.replications,
        if summary.replications == 1 { "" } else { "s" },
        format_duration(summary.horizon_s),
        summary.seed,
        money(api)
    ));
    let (how, caution) = crate::units::month_extrapolation(summary.horizon_s);
    out.push_str(&format!("Per month: {how}.\n"));
    if let Some(c) = caution {
        out.push_str(&format!("{c}\n"));
    }
    out.push('\n');
    if summary.deterministic {
        out.push_str("Nothing in this scenario is random (replications 0 and 1 were the same history), so one replication is the whole answer: no spread to show.\n\n");
    }
    if let Some(p) = &summary.partial {
        out.push_str(&format!(
            "PARTIAL: interrupted after replications 0 to {} of {}.\n\n",
            p.completed.saturating_sub(1),
            p.requested
        ));
    }
    out.push_str(&verdict_block(&summary.verdict));
    out.push('\n');
    out.push_str(&line(headers.iter().map(|h| h.to_string()).collect()));
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}
