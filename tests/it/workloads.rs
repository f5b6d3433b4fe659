//! Arrival processes and token lengths against their defining statistics,
//! and trace replay in each supported format.

use std::path::Path;

use super::common::*;
use fleetsim::simulation::SimOptions;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// A cheap engine: every request finishes in one short iteration.
const FAST: &str = "[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 100000\nkv_capacity_tokens = 100000000000\nstep_time = { model = \"linear\", fixed_s = 0.001 }\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n";

fn with_arrivals(arrivals: &str, horizon: &str, extra: &str) -> String {
    format!(
        "name = \"w\"\nhorizon = \"{horizon}\"\n{extra}\n[workload]\narrivals = {arrivals}\nprompt_tokens = 10\noutput_tokens = 1\n{FAST}"
    )
}

/// A trace workload that takes its token lengths from the trace.
fn trace_only(arrivals: &str, horizon: &str, extra: &str) -> String {
    format!(
        "name = \"w\"\nhorizon = \"{horizon}\"\n{extra}\n[workload]\narrivals = {arrivals}\n{FAST}"
    )
}

fn arrival_times(text: &str, dir: &Path) -> Vec<(f64, u32, u32)> {
    let s = scenario_in(text, dir);
    let (_, recs) = records(&s, 0, &SimOptions::default());
    recs.iter()
        .map(|r| (r.arrival_s, r.prompt_tokens, r.output_tokens))
        .collect()
}

#[test]
fn poisson_count_and_demand_scale() {
    // N(T) ~ Poisson(λT): 36,000 ± 4 sd (sd = 190).
    let n = arrival_times(
        &with_arrivals("{ process = \"poisson\", rate = 10.0 }", "1h", ""),
        Path::new("."),
    )
    .len() as f64;
    close(n, 36_000.0, 4.0 * 190.0, "Poisson arrivals in an hour");
    let n2 = arrival_times(
        &with_arrivals(
            "{ process = \"poisson\", rate = 10.0 }",
            "1h",
            "demand_scale = 2.0",
        ),
        Path::new("."),
    )
    .len() as f64;
    close(n2, 72_000.0, 4.0 * 269.0, "demand_scale doubles the rate");
}

#[test]
fn mmpp_mean_rate_is_the_sojourn_weighted_average() {
    // Time share of each state ∝ its mean sojourn (uniform jumps between
    // states), so the long-run rate is Σ r_i s_i / Σ s_i.
    let text = with_arrivals(
        "{ process = \"mmpp\", rates = [20.0, 2.0, 8.0], mean_sojourn = [\"30s\", \"90s\", \"60s\"] }",
        "2h",
        "",
    );
    let (_, _, summary) = run_toml(&text, 30);
    let expect = (20.0 * 30.0 + 2.0 * 90.0 + 8.0 * 60.0) / 180.0 * 7200.0;
    let m = summary
        .metric(0, fleetsim::metrics::Metric::Arrived)
        .unwrap();
    assert!(
        m.ci95_low <= expect && expect <= m.ci95_high,
        "MMPP arrivals {expect} outside CI [{}, {}]",
        m.ci95_low,
        m.ci95_high
    );
}

#[test]
fn mmpp_starts_in_its_first_state() {
    // State 0 has rate 100 and lasts ~1000 s; state 1 is silent. In the first
    // 10 s, ~1000 arrivals (if it started in state 1 there would be almost none).
    let n = arrival_times(
        &with_arrivals(
            "{ process = \"mmpp\", rates = [100.0, 0.0], mean_sojourn = [\"1000s\", \"1000s\"] }",
            "10s",
            "",
        ),
        Path::new("."),
    )
    .len();
    assert!(n > 800, "{n} arrivals");
}

#[test]
fn diurnal_hourly_profile_puts_arrivals_in_their_hour() {
    let mut hourly = vec!["0.0"; 24];
    hourly[2] = "5.0";
    let text = with_arrivals(
        &format!(
            "{{ process = \"diurnal\", hourly = [{}] }}",
            hourly.join(", ")
        ),
        "1d",
        "",
    );
    let times = arrival_times(&text, Path::new("."));
    assert!(times.iter().all(|t| (7200.0..10_800.0).contains(&t.0)));
    close(
        times.len() as f64,
        18_000.0,
        4.0 * 134.0,
        "arrivals in hour 2",
    );
}

#[test]
fn diurnal_sinusoid_keeps_its_mean_and_peaks_at_the_peak_hour() {
    let text = with_arrivals(
        "{ process = \"diurnal\", mean_rate = 2.0, peak_to_mean = 1.8, peak_hour = 14 }",
        "1d",
        "",
    );
    let times = arrival_times(&text, Path::new("."));
    close(
        times.len() as f64,
        172_800.0,
        4.0 * 416.0,
        "a day of arrivals",
    );
    // Each clock hour's count against its expectation, the integral of
    // 2 (1 + 0.8 cos(2π (t − 14)/24)) over the hour: Pearson's χ² with 24
    // degrees of freedom must stay under 51.18 (p = 0.001). A peak one hour
    // off already gives χ² in the thousands.
    let mut counts = [0.0f64; 24];
    for t in &times {
        counts[((t.0 / 3600.0) as usize).min(23)] += 1.0;
    }
    let w = 2.0 * std::f64::consts::PI / 24.0;
    let expected = |h: f64| {
        3600.0 * 2.0 * (1.0 + 0.8 / w * ((w * (h + 1.0 - 14.0)).sin() - (w * (h - 14.0)).sin()))
    };
    let chi2: f64 = (0..24)
        .map(|h| (counts[h] - expected(h as f64)).powi(2) / expected(h as f64))
        .sum();
    assert!(chi2 < 51.18, "hourly counts {counts:?}: χ² = {chi2:.1}");
}

fn gap_cv(times: &[(f64, u32, u32)]) -> (f64, f64) {
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (mean, sd / mean)
}

#[test]
fn renewal_gaps_have_the_requested_rate_and_cv() {
    for family in ["gamma", "weibull"] {
        for cv in [0.5, 2.0] {
            let text = with_arrivals(
                &format!(
                    "{{ process = \"renewal\", rate = 20.0, cv = {cv}, family = \"{family}\" }}"
                ),
                "2h",
                "",
            );
            let (mean, got) = gap_cv(&arrival_times(&text, Path::new(".")));
            close(mean, 0.05, 0.05 * 0.03, &format!("{family} mean gap"));
            close(got, cv, cv * 0.06, &format!("{family} CV"));
        }
    }
}

#[test]
fn traces_replay_in_every_format() {
    let dir = fixtures();
    let azure = arrival_times(
        &trace_only(
            "{ process = \"trace\", path = \"azure_small.csv\" }",
            "1h",
            "",
        ),
        dir,
    );
    assert_eq!(
        azure,
        vec![
            (0.0, 100, 10),
            (0.5, 200, 20),
            (1.25, 300, 30),
            (3.0, 400, 1)
        ]
    );
    let moon = arrival_times(
        &trace_only(
            "{ process = \"trace\", path = \"mooncake_small.jsonl.gz\" }",
            "1h",
            "",
        ),
        dir,
    );
    assert_eq!(moon, vec![(0.0, 1000, 50), (3.0, 2000, 60), (3.0, 10, 5)]);
    // BurstGPT: the failed row (0 response tokens) is skipped.
    let burst = arrival_times(
        &trace_only(
            "{ process = \"trace\", path = \"burstgpt_small.csv\", format = \"burstgpt\" }",
            "1h",
            "",
        ),
        dir,
    );
    assert_eq!(burst, vec![(0.0, 472, 18), (5.0, 417, 276), (12.0, 50, 7)]);
}

#[test]
fn trace_time_scales_and_given_lengths() {
    let dir = fixtures();
    // time_scale 2 stretches, rate_scale 4 compresses: net ×0.5; demand_scale 2: ×0.25.
    let t = arrival_times(
        &trace_only(
            "{ process = \"trace\", path = \"azure_small.csv\", time_scale = 2.0, rate_scale = 4.0 }",
            "1h",
            "demand_scale = 2.0",
        ),
        dir,
    );
    assert_eq!(
        t.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![0.0, 0.125, 0.3125, 0.75]
    );
    // A times-only trace takes its lengths from the workload (here fixed 10 / 1).
    let t = arrival_times(
        &with_arrivals(
            "{ process = \"trace\", path = \"times_only.csv\" }",
            "1h",
            "",
        ),
        dir,
    );
    assert_eq!(t.len(), 4);
    assert!(t.iter().all(|x| x.1 == 10 && x.2 == 1));
    // The horizon cuts the replay.
    let t = arrival_times(
        &trace_only(
            "{ process = \"trace\", path = \"azure_small.csv\" }",
            "1s",
            "",
        ),
        dir,
    );
    assert_eq!(t.len(), 2);
}

#[test]
fn empirical_lengths_from_a_pmf_file() {
    let text = format!(
        "name = \"e\"\nhorizon = \"1h\"\n[workload]\narrivals = {{ process = \"poisson\", rate = 5.0 }}\nprompt_tokens = {{ dist = \"empirical\", path = \"lengths_pmf.csv\" }}\noutput_tokens = {{ dist = \"empirical\", path = \"azure_small.csv\", column = \"output\" }}\n{FAST}"
    );
    let t = arrival_times(&text, fixtures());
    assert!(t.iter().all(|x| x.1 == 100 || x.1 == 300));
    assert!(t.iter().all(|x| [10, 20, 30, 1].contains(&x.2)));
    let share = t.iter().filter(|x| x.1 == 100).count() as f64 / t.len() as f64;
    close(share, 0.5, 0.02, "share of 100-token prompts");
}

#[test]
fn shipped_public_traces_load_whole() {
    // The real traces shipped in scenarios/traces/ load with every request
    // (counts from their sources' documentation), spanning about an hour.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces");
    for (path, n) in [
        ("azure_conv_2023.csv.gz", 19_366usize),
        ("azure_code_2023.csv.gz", 8_819),
        ("azure_conv_10min.csv.gz", 2_863),
        ("mooncake_conversation.jsonl.gz", 12_031),
    ] {
        let text = trace_only(
            &format!("{{ process = \"trace\", path = \"{path}\" }}"),
            "2h",
            "",
        );
        let t = arrival_times(&text, &dir);
        assert_eq!(t.len(), n, "{path}");
        let span = t.last().unwrap().0 - t.first().unwrap().0;
        assert!(span > 590.0 && span < 3700.0, "{path}: spans {span} s");
    }
}

#[test]
fn a_trace_keeps_only_what_the_horizon_reaches_and_runs_the_same() {
    // A 60-s horizon at rate_scale 4 reaches 240 s of a one-hour trace: the
    // rows past it are validated but not kept, and the replay is the same as
    // from the whole trace (parsed for up to 100x the demand, so complete).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces");
    let text = trace_only(
        "{ process = \"trace\", path = \"azure_conv_2023.csv.gz\", rate_scale = 4.0 }",
        "60s",
        "",
    );
    let cut = scenario_in(&text, &dir);
    let fleetsim::scenario::Arrivals::Trace { trace, .. } = &cut.workload.arrivals else {
        panic!("a trace workload")
    };
    assert!(
        !trace.complete && trace.requests == 19_366,
        "{}",
        trace.requests
    );
    assert!(trace.rows.len() < 2_000, "kept {} rows", trace.rows.len());
    assert!(cut.trace_covers_horizon());
    let mut loader = |p: &str| {
        std::fs::File::open(dir.join(p))
            .map(|f| Box::new(f) as Box<dyn std::io::Read>)
            .map_err(|e| e.to_string())
    };
    let whole = fleetsim::scenario::parse_for_demand(&text, "t.toml", &mut loader, 100.0).unwrap();
    let fleetsim::scenario::Arrivals::Trace { trace: all, .. } = &whole.workload.arrivals else {
        panic!("a trace workload")
    };
    assert!(all.complete && all.rows.len() == 19_366);
    let times = |s: &fleetsim::scenario::Scenario| {
        let (_, recs) = records(s, 0, &SimOptions::default());
        recs.iter()
            .map(|r| (r.arrival_s, r.prompt_tokens, r.output_tokens))
            .collect::<Vec<_>>()
    };
    let (a, b) = (times(&cut), times(&whole));
    assert!(a.len() > 1_000);
    assert_eq!(a, b);
    // A caller raising demand past what it parsed for is told so, and one
    // that parsed for it is covered (breakeven parses for its --to).
    assert!(!fleetsim::breakeven::scale_demand(&cut, 2.0).trace_covers_horizon());
    assert!(fleetsim::breakeven::scale_demand(&whole, 100.0).trace_covers_horizon());
}

#[test]
fn a_closed_loop_keeps_its_clients_busy() {
    // 7 clients, 0.3 s think time, one replica that batches at most 3: the
    // clients queue, and the interactive response-time law N = X (R + Z)
    // must hold (throughput X, mean response R, think time Z).
    let text = "name = \"cl\"\nhorizon = \"2000s\"\n[workload]\narrivals = { process = \"closed_loop\", concurrency = 7, think_time = \"300ms\" }\nprompt_tokens = 10\noutput_tokens = 5\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 3\nkv_capacity_tokens = 100000000\nstep_time = { model = \"linear\", fixed_s = 0.05, decode_per_seq_s = 0.01 }\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n";
    let s = scenario(text);
    let (_, recs) = records(&s, 0, &SimOptions::default());
    let think = 0.3;
    // Exactly: 7 sends at 0, and every later send is an answer + think time.
    let mut sends: Vec<f64> = recs.iter().map(|r| r.arrival_s).collect();
    sends.sort_by(f64::total_cmp);
    assert!(sends[..7].iter().all(|&t| t == 0.0) && sends[7] > 0.0);
    let mut answers: Vec<f64> = recs
        .iter()
        .map(|r| r.done_s + think)
        .filter(|&t| t < 2000.0)
        .collect();
    answers.sort_by(f64::total_cmp);
    assert_eq!(sends.len() - 7, answers.len());
    for (a, b) in sends[7..].iter().zip(&answers) {
        close(*a, *b, 1e-9, "a client sends again after its think time");
    }
    // The law, over the requests sent in [200 s, 1800 s).
    let window: Vec<_> = recs
        .iter()
        .filter(|r| r.arrival_s >= 200.0 && r.arrival_s < 1800.0)
        .collect();
    let x = window.len() as f64 / 1600.0;
    let r = window.iter().map(|r| r.done_s - r.arrival_s).sum::<f64>() / window.len() as f64;
    // Queueing happened (7 clients, 3 batch slots), so the check is not trivial.
    assert!(r > 0.05 + 4.0 * 0.06, "response {r} s shows no queueing");
    close(x * (r + think), 7.0, 0.01 * 7.0, "N = X (R + Z)");
}

#[test]
fn the_arrival_estimate_matches_the_simulated_arrivals() {
    // The pre-run event check counts on expected_arrivals: on every shipped
    // scenario it must match what a history really brings, at the median
    // demand (each history's arrivals are divided by its demand draw).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let mut s = parse_any(&std::fs::read_to_string(&path).unwrap(), &dir);
        // A day is enough to see the mean rate (owned-3y runs a month), and
        // arrivals do not depend on the fleet: serve them all by the API.
        s.horizon_s = s.horizon_s.min(86_400.0);
        s.strategies[0].pools.clear();
        let Some(expected) = s.expected_arrivals() else {
            continue;
        };
        // MMPP's time in each state varies ~20% a day: 40 histories; the
        // others' counts are Poisson, within 1% in a few.
        let mmpp = matches!(
            s.workload.arrivals,
            fleetsim::scenario::Arrivals::Mmpp { .. }
        );
        let reps = if mmpp { 40 } else { 4 };
        let mut arrived = 0.0;
        for i in 0..reps {
            let draws = fleetsim::montecarlo::draws_for(&s, s.montecarlo.seed, i);
            let d = s.demand_scale.value(&draws) / s.demand_scale.value(&s.uncertain.medians());
            let o = fleetsim::simulation::simulate(
                &s,
                0,
                &draws,
                s.montecarlo.seed,
                i,
                &SimOptions::default(),
                &mut (),
            );
            arrived += o.by_name("requests_arrived").unwrap() / d;
        }
        let mean = arrived / reps as f64;
        let err = (mean - expected).abs() / expected;
        // Noise of the mean over 40 histories is ~2.5% (MMPP), and the
        // estimate is stationary while MMPP starts in its first state (+3%
        // on default.toml): 10% separates an estimate from a wrong one.
        assert!(
            err < 0.1,
            "{}: expected {expected}, simulated {mean}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 6, "{checked} scenarios checked");
}
