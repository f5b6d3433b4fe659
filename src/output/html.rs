//! `report.html`: one self-contained file (inline CSS and SVG, no network)
//! with the scenario, the key table per strategy, paired comparisons, risk
//! figures and every chart. Written as well-formed XHTML-compatible markup.

use std::fmt::Write;

use crate::metrics::Metric;
use crate::plot::Figure;
use crate::report::ReportData;
use crate::stats::Summary;
use crate::units::{format_duration, format_usd as money};
use crate::verdict::Verdict;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "–".into()
    }
}

fn spread(m: Option<&Summary>, f: &dyn Fn(f64) -> String) -> String {
    match m {
        Some(m) if m.n > 1 => format!(
            "{} <span class=\"dim\">[{} – {}]</span>",
            f(m.p50),
            f(m.p5),
            f(m.p95)
        ),
        Some(m) => f(m.p50),
        None => "–".into(),
    }
}

fn signed_money(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x < 0.0 {
        format!("−{}", money(-x))
    } else {
        format!("+{}", money(x))
    }
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{margin-bottom:0.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:0.2em}\
table{border-collapse:collapse;margin:1em 0;font-size:0.92em}th,td{border:1px solid #ddd;padding:0.35em 0.6em;text-align:right}\
th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}.dim{color:#777;font-size:0.9em}\
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:0.4em}svg{max-width:100%;height:auto}\
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:0.85em}.note{color:#555;font-size:0.92em}\
.verdict{border-left:6px solid;padding:0.2em 1em;margin:1em 0}.verdict h2{margin-top:0.4em;border:none}\
.verdict.pass{border-color:#2e7d32;background:#f1f8f1}.verdict.fail{border-color:#c62828;background:#fdf1f1}\
.headline{font-size:1.15em;font-weight:600}td.pass{color:#1b5e20;background:#e8f5e9}td.fail{color:#b71c1c;background:#ffebee}";

/// Strips what would make an inline SVG ill-formed inside HTML.
fn inline_svg(svg: &str) -> &str {
    let start = svg.find("<svg").unwrap_or(0);
    &svg[start..]
}

/// The answer at the top: the chosen plan, then why not each other one.
fn verdict_html(h: &mut String, v: &Verdict) {
    let class = if v.chosen.is_some() {
        "verdict pass"
    } else {
        "verdict fail"
    };
    let _ = writeln!(
        h,
        "<div class=\"{class}\" id=\"verdict\"><h2>Verdict</h2>\n<p class=\"headline\">{}</p>\n<ul>",
        escape(&v.headline)
    );
    for c in &v.strategies {
        if v.chosen.as_deref() != Some(c.name.as_str()) {
            let _ = writeln!(
                h,
                "<li><strong>{}</strong>: {}</li>",
                escape(&c.name),
                escape(&c.why)
            );
        }
    }
    h.push_str("</ul>\n");
    if let Some(hint) = &v.hint {
        let _ = writeln!(h, "<p>{}</p>", escape(hint));
    }
    h.push_str("</div>\n");
}

/// The verdict column: pass/fail colour for the SLO.
fn status_cell(v: &Verdict, k: usize) -> String {
    let c = &v.strategies[k];
    let (class, word) = if v.chosen.as_deref() == Some(c.name.as_str()) {
        ("pass", "chosen")
    } else if c.passes {
        ("pass", "passes")
    } else if c.overloaded_share > 1.0 - v.confidence {
        ("fail", "overloaded")
    } else {
        ("fail", "fails SLO")
    };
    format!("<td class=\"{class}\">{word}</td>")
}

pub fn report_html(d: &ReportData, figures: &[Figure]) -> Vec<u8> {
    let s = &d.summary;
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>fleetsim report: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>fleetsim report: {name}</h1>",
        name = escape(&s.scenario)
    );
    let _ = writeln!(
        h,
        "<p>{} replication{} of a {} horizon, seed {}. Every strategy sees the same simulated traffic in each replication (common random numbers); costs and latencies are distributions over replications, not point estimates.</p>",
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        escape(&format_duration(s.horizon_s)),
        s.seed
    );
    let (how, caution) = crate::units::month_extrapolation(s.horizon_s);
    let _ = writeln!(
        h,
        "<p class=\"note\">Per month: {}.{}</p>",
        escape(&how),
        caution.map_or(String::new(), |c| format!(" {}", escape(&c)))
    );
    if s.deterministic {
        h.push_str("<p class=\"note\">Nothing in this scenario is random (replications 0 and 1 were the same history), so one replication is the whole answer: the ranges below have no spread.</p>\n");
    }
    if let Some(p) = &s.partial {
        let _ = writeln!(
            h,
            "<p class=\"warn\"><strong>Partial result:</strong> the run was interrupted; these are replications 0 to {} of the {} asked for.</p>",
            p.completed.saturating_sub(1),
            p.requested
        );
    }
    if let Some(p) = &s.precision {
        let _ = writeln!(
            h,
            "<p>Precision target: 95% CI half-width of mean total cost within {:.2}% of the mean; achieved {:.2}% ({}).</p>",
            p.target_relative_half_width * 100.0,
            p.achieved_relative_half_width * 100.0,
            if p.reached { "reached" } else { "not reached" }
        );
    }
    let api = s
        .metric(0, Metric::ApiBaselineCost)
        .map(|m| m.p50 * crate::units::MONTH_S / s.horizon_s)
        .unwrap_or(f64::NAN);
    let _ = writeln!(
        h,
        "<p>API baseline (the whole workload on the per-token API): {} per month (median).</p>",
        escape(&money(api))
    );

    verdict_html(&mut h, &s.verdict);
    h.push_str("<h2>Key figures per strategy</h2>\n<table>\n<tr><th>strategy</th><th>cost / month<br/><span class=\"dim\">median [p5 – p95]</span></th><th>$ / 1M output tokens<br/><span class=\"dim\">median [p5 – p95]</span></th><th>TTFT p50 / p99</th><th>TPOT p50</th><th>SLO met</th><th>P(cheaper than API)</th><th>cost / month VaR95 / CVaR95</th><th>GPU-hours</th><th>verdict</th></tr>\n");
    for (k, st) in s.strategies.iter().enumerate() {
        let m = |name: Metric| s.metric(k, name);
        let med = |name: Metric| m(name).map_or(f64::NAN, |x| x.p50);
        let mean = |name: Metric| m(name).map_or(f64::NAN, |x| x.mean);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{:.1}</td>{}</tr>",
            escape(&st.name),
            spread(m(Metric::CostPerMonth), &money),
            spread(m(Metric::CostPerMOutput), &money),
            escape(&format_duration(med(Metric::TtftP50))),
            escape(&format_duration(med(Metric::TtftP99))),
            escape(&format_duration(med(Metric::TpotP50))),
            pct(mean(Metric::SloAttainment)),
            pct(st.risk.prob_cheaper_than_api),
            escape(&money(st.risk.cost_var95_per_month_usd)),
            escape(&money(st.risk.cost_cvar95_per_month_usd)),
            mean(Metric::GpuHours),
            status_cell(&s.verdict, k)
        );
    }
    h.push_str("</table>\n<p class=\"note\">VaR95 / CVaR95: the 95th percentile of the cost per month over replications, and the mean of the worst 5%. SLO met: share of arrived requests meeting both the TTFT and TPOT targets (dropped requests miss).</p>\n");

    // How far the replica model has been checked against real engines.
    match &d.fidelity {
        Some(notes) if notes.is_empty() => h.push_str(
            "<h2>Fidelity of the engine model</h2>\n<p>Every engine figure of this scenario is inside the range validated against measured vLLM runs on H100 (README, \"Fidelity\": median error of mean latencies 4–8%).</p>\n",
        ),
        Some(notes) => {
            h.push_str("<h2>Fidelity of the engine model</h2>\n<p>Outside the range validated against measured vLLM runs on H100 (README, \"Fidelity\"), so latencies and the capacity behind these costs carry more error than the validated 4–8%:</p>\n<ul>\n");
            for n in notes {
                let _ = writeln!(h, "<li>{}</li>", escape(n));
            }
            h.push_str("</ul>\n");
        }
        None => {}
    }

    if s.strategies.len() > 1 {
        h.push_str("<h2>Paired comparison with the first strategy</h2>\n<table>\n<tr><th>strategy</th><th>vs</th><th>cost difference per month<br/><span class=\"dim\">mean [95% CI]</span></th><th>SLO attainment difference<br/><span class=\"dim\">mean [95% CI]</span></th><th>P(cheaper)</th><th>P(SLO at least as good)</th></tr>\n");
        for st in s.strategies.iter().skip(1) {
            if let Some(c) = &st.versus_first {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{} <span class=\"dim\">[{} – {}]</span></td><td>{} <span class=\"dim\">[{} – {}]</span></td><td>{}</td><td>{}</td></tr>",
                    escape(&st.name),
                    escape(&c.baseline),
                    escape(&signed_money(c.cost_difference_per_month_usd.mean)),
                    escape(&signed_money(c.cost_difference_per_month_usd.ci95_low)),
                    escape(&signed_money(c.cost_difference_per_month_usd.ci95_high)),
                    pct(c.slo_attainment_difference.mean),
                    pct(c.slo_attainment_difference.ci95_low),
                    pct(c.slo_attainment_difference.ci95_high),
                    pct(c.prob_cheaper),
                    pct(c.prob_slo_at_least_as_good)
                );
            }
        }
        h.push_str("</table>\n");
    }

    if !s.uncertain_inputs.is_empty() {
        h.push_str("<h2>Uncertain inputs</h2>\n<table>\n<tr><th>input</th><th>distribution</th><th>drawn median [p5 – p95]</th>");
        for st in &s.strategies {
            let _ = write!(h, "<th>ρ with cost: {}</th>", escape(&st.name));
        }
        h.push_str("</tr>\n");
        for input in &s.uncertain_inputs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.4} [{:.4} – {:.4}]</td>",
                escape(&input.name),
                escape(&input.distribution),
                input.draws.p50,
                input.draws.p5,
                input.draws.p95
            );
            for st in &s.strategies {
                let r = st
                    .sensitivity
                    .iter()
                    .find(|x| x.input == input.name)
                    .map_or(f64::NAN, |x| x.spearman_total_cost);
                if r.is_finite() {
                    let _ = write!(h, "<td>{r:+.2}</td>");
                } else {
                    h.push_str("<td>–</td>");
                }
            }
            h.push_str("</tr>\n");
        }
        let _ = writeln!(
            h,
            "</table>\n<p class=\"note\">ρ: Spearman rank correlation between the input's draw and the strategy's total cost over replications. With {} replications, |ρ| below about {:.2} (2/√n) cannot be told from noise.</p>",
            s.replications,
            2.0 / (s.replications.max(1) as f64).sqrt()
        );
    }

    h.push_str("<h2>Charts</h2>\n");
    for f in figures {
        let _ = writeln!(
            h,
            "<figure id=\"{}\">\n<figcaption>{}</figcaption>\n{}\n</figure>",
            escape(&f.name),
            escape(&f.title),
            inline_svg(&f.svg)
        );
    }

    let _ = writeln!(
        h,
        "<h2>Scenario</h2>\n<pre>{}</pre>",
        escape(&d.scenario_text)
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">Generated by fleetsim {}.</p>\n</body>\n</html>",
        escape(&s.fleetsim_version)
    );
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
    }
}
