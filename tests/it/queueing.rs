//! The simulator against queueing theory that does not depend on it:
//! Pollaczek–Khinchine (M/D/1, M/G/1), Erlang C (M/M/c), M/M/1 under random
//! splitting, M/D/∞, and Little's law. Tolerances come from the run's own
//! confidence interval over independent replications, never from pinned
//! outputs.

use statrs::distribution::{ContinuousCDF, Normal};

use super::common::*;
use fleetsim::metrics::{Metric, RequestRecord};
use fleetsim::montecarlo::draws_for;
use fleetsim::simulation::{Observer, SimOptions, TimeSample, simulate};
use fleetsim::summary::RunSummary;

const REPS: u64 = 30;

/// Asserts that `theory` lies inside the run's 95% confidence interval for `metric`.
#[track_caller]
fn within_ci(summary: &RunSummary, metric: Metric, theory: f64) {
    let m = summary.metric(0, metric).expect("the run has replications");
    eprintln!(
        "{}: theory {theory:.6}, run mean {:.6}, 95% CI [{:.6}, {:.6}]",
        metric.key(),
        m.mean,
        m.ci95_low,
        m.ci95_high
    );
    assert!(
        m.ci95_low <= theory && theory <= m.ci95_high,
        "{}: theory {theory:.6} outside the run's 95% CI [{:.6}, {:.6}] (mean {:.6}, n {})",
        metric.key(),
        m.ci95_low,
        m.ci95_high,
        m.mean,
        m.n
    );
}

fn single_server(
    rate: f64,
    prompt: &str,
    output: &str,
    step: &str,
    horizon_s: f64,
    extra: &str,
) -> String {
    format!(
        "name = \"q\"\nhorizon = {horizon_s}\n[workload]\narrivals = {{ process = \"poisson\", rate = {rate} }}\nprompt_tokens = {prompt}\noutput_tokens = {output}\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 1\nkv_capacity_tokens = 100000000\nstep_time = {step}\n{extra}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n[montecarlo]\nseed = 1\n"
    )
}

// Linear step-time coefficients of the M/D/1 and M/G/1 tests.
const FIXED: f64 = 0.004;
const PREFILL: f64 = 2e-5;
const DECODE: f64 = 1e-4;
const KV: f64 = 1e-7;
const P: f64 = 200.0;

/// Service time of a request with O output tokens alone in a batch of one,
/// from the reference step formula (docs/model.md §3): the prefill iteration, then O − 1 decode
/// iterations with context P + j.
fn service_s(o: f64) -> f64 {
    let first = FIXED + PREFILL * P + KV * P;
    let decode = (o - 1.0) * (FIXED + DECODE + KV * P) + KV * (o - 1.0) * o / 2.0;
    first + decode
}

fn step() -> String {
    format!(
        "{{ model = \"linear\", fixed_s = {FIXED}, prefill_per_token_s = {PREFILL}, decode_per_seq_s = {DECODE}, kv_per_token_s = {KV} }}"
    )
}

#[test]
fn deterministic_service_matches_m_d_1() {
    // O = 30 fixed: S = 0.004 + 0.004 + 0.00002 + 29 × 0.00412 + 1e-7 × 435.
    let s = service_s(30.0);
    let rate = 0.7 / s;
    let text = single_server(rate, "200", "30", &step(), 20_000.0 * s / 0.7, "");
    let (_, _, summary) = run_toml(&text, REPS);
    // Pollaczek–Khinchine with deterministic service: Wq = ρ S / (2 (1 − ρ)).
    let wq = rate * s * s / (2.0 * (1.0 - 0.7));
    within_ci(&summary, Metric::QueueWaitMean, wq);
    within_ci(&summary, Metric::E2eMean, wq + s);
}

#[test]
fn lognormal_lengths_match_m_g_1() {
    // O = round(lognormal(median 20, σ 0.8)) clamped to [1, 400]: compute
    // E[S] and E[S²] exactly from that pmf.
    let (median, sigma, lo, hi) = (20.0f64, 0.8, 1u32, 400u32);
    let n = Normal::new(median.ln(), sigma).unwrap();
    let cdf = |x: f64| if x <= 0.0 { 0.0 } else { n.cdf(x.ln()) };
    let (mut es, mut es2) = (0.0, 0.0);
    for k in lo..=hi {
        let below = if k == lo { 0.0 } else { cdf(k as f64 - 0.5) };
        let above = if k == hi { 1.0 } else { cdf(k as f64 + 0.5) };
        let p = above - below;
        let s = service_s(k as f64);
        es += p * s;
        es2 += p * s * s;
    }
    let rate = 0.7 / es;
    let output = format!(
        "{{ dist = \"lognormal\", median = {median}, sigma = {sigma}, min = {lo}, max = {hi} }}"
    );
    let text = single_server(rate, "200", &output, &step(), 20_000.0 * es / 0.7, "");
    let (_, _, summary) = run_toml(&text, REPS);
    let wq = rate * es2 / (2.0 * (1.0 - rate * es));
    within_ci(&summary, Metric::QueueWaitMean, wq);
}

/// Service ≈ exponential: one prefill iteration of P tokens, P ≈ Exp(mean 1e5).
fn multi_server(
    router: &str,
    servers: u32,
    rate: f64,
    mean_service_s: f64,
    horizon_s: f64,
) -> String {
    let per_token = mean_service_s / 100_000.0;
    format!(
        "name = \"mmc\"\nhorizon = {horizon_s}\n[workload]\narrivals = {{ process = \"poisson\", rate = {rate} }}\nprompt_tokens = {{ dist = \"exponential\", mean = 100000 }}\noutput_tokens = 1\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 1\nkv_capacity_tokens = 100000000\nrouter = \"{router}\"\nstep_time = {{ model = \"linear\", prefill_per_token_s = {per_token} }}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = {servers}, price_per_gpu_hour = 1.0 }} ]\n[montecarlo]\nseed = 1\n"
    )
}

/// Erlang C: probability of waiting in M/M/c with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let last = term * a / c as f64 / (1.0 - a / c as f64);
    last / (sum + last)
}

#[test]
fn shared_queue_matches_m_m_c_erlang_c() {
    // One fleet-wide FIFO: a request waits until any of c servers frees,
    // which is exactly M/M/c.
    let (c, mean_s, rho) = (3u32, 1.0, 0.7);
    let lambda = rho * c as f64 / mean_s;
    let text = multi_server("shared_queue", c, lambda, mean_s, 8_000.0);
    let (_, _, summary) = run_toml(&text, REPS);
    let wq = erlang_c(c, lambda * mean_s) / (c as f64 / mean_s - lambda);
    within_ci(&summary, Metric::QueueWaitMean, wq);
}

#[test]
fn random_routing_is_c_independent_m_m_1_queues() {
    // Random splitting of a Poisson stream gives c Poisson streams of λ/c.
    let (c, mean_s, rho) = (3u32, 1.0, 0.7);
    let lambda = rho * c as f64 / mean_s;
    let text = multi_server("random", c, lambda, mean_s, 8_000.0);
    let (_, _, summary) = run_toml(&text, REPS);
    let wq = rho * mean_s / (1.0 - rho);
    within_ci(&summary, Metric::QueueWaitMean, wq);
}

#[test]
fn least_loaded_routing_lies_between_m_m_c_and_random_splitting() {
    // Per-replica FIFO queues with join-the-shortest-queue routing are not
    // M/M/c (a request can wait at one replica while another frees up), so
    // Erlang C does not apply. It is bounded below by the central queue and
    // above by random splitting; the run's CI must sit strictly between.
    let (c, mean_s, rho) = (3u32, 1.0, 0.7);
    let lambda = rho * c as f64 / mean_s;
    let text = multi_server("least_loaded", c, lambda, mean_s, 8_000.0);
    let (_, _, summary) = run_toml(&text, REPS);
    let m = summary.metric(0, Metric::QueueWaitMean).unwrap();
    let mmc = erlang_c(c, lambda * mean_s) / (c as f64 / mean_s - lambda);
    let random = rho * mean_s / (1.0 - rho);
    assert!(
        m.ci95_low > mmc && m.ci95_high < random,
        "JSQ wait CI [{}, {}] not within ({mmc}, {random})",
        m.ci95_low,
        m.ci95_high
    );
}

#[test]
fn batch_independent_step_time_is_m_d_infinity() {
    // Unlimited batch, every iteration takes f whatever its size: a request
    // waits for the iteration in progress (uniform residual when the replica
    // never idles), then runs O iterations. Time in system is in
    // [O f, (O + 1) f], its mean (O + 1/2) f, and the mean number in system
    // is λ times that (M/G/∞).
    let (f_s, o, rate) = (0.01, 20.0, 200.0);
    let text = format!(
        "name = \"mdinf\"\nhorizon = 300\n[workload]\narrivals = {{ process = \"poisson\", rate = {rate} }}\nprompt_tokens = 10\noutput_tokens = {o}\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 100000\nkv_capacity_tokens = 100000000\nstep_time = {{ model = \"linear\", fixed_s = {f_s} }}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n[montecarlo]\nseed = 1\n"
    );
    let (s, _, summary) = run_toml(&text, REPS);
    let mean_t = (o + 0.5) * f_s;
    within_ci(&summary, Metric::E2eMean, mean_t);
    within_ci(&summary, Metric::MeanInSystem, rate * mean_t);
    let (_, recs) = records(&s, 0, &Default::default());
    for r in &recs {
        let t = r.done_s - r.arrival_s;
        assert!(
            t >= o * f_s - 1e-9 && t <= (o + 1.0) * f_s + 1e-9,
            "request {} took {t}",
            r.id
        );
    }
}

/// Little's law, measured two independent ways in one history: L from the
/// replicas' own state (requests queued + running, sampled every `dt`), W
/// from each request's record (departure − arrival).
#[derive(Default)]
struct LittleProbe {
    in_system_samples: Vec<f64>,
    sojourn_sum_s: f64,
    departures: u64,
}

impl Observer for LittleProbe {
    fn on_sample(&mut self, s: &TimeSample) {
        self.in_system_samples
            .push((s.queue_depth + s.running) as f64);
    }
    fn on_request(&mut self, r: &RequestRecord) {
        self.sojourn_sum_s += r.done_s - r.arrival_s;
        self.departures += 1;
    }
}

#[test]
fn littles_law_holds_between_replica_state_and_request_records() {
    // ∫ N(t) dt over the history = Σ sojourns (every request that arrived
    // departs before the history ends). The left side is a Riemann sum of
    // the number the replicas hold, sampled every dt; the right side comes
    // from the request records. They share no accounting: a request a
    // replica keeps after its departure, or a departure time off by an
    // iteration, breaks the equality. Tolerance: 5 standard deviations of
    // the sampling error (each request's entry and exit fall uniformly
    // between samples: variance dt²/6 per request).
    let dt = 0.01;
    let cases = [
        single_server(
            3.0,
            "100",
            "{ dist = \"lognormal\", median = 50, sigma = 1.0 }",
            &step(),
            2000.0,
            "",
        ),
        multi_server("least_loaded", 2, 1.5, 1.0, 2000.0),
        shipped("reference.toml"),
        single_server(
            5.0,
            "{ dist = \"uniform\", min = 1, max = 400 }",
            "20",
            &step(),
            500.0,
            "",
        )
        .replace("kv_capacity_tokens = 100000000", "kv_capacity_tokens = 300"),
    ];
    let options = SimOptions {
        sample_interval_s: Some(dt),
        ..SimOptions::default()
    };
    for text in cases {
        let s = scenario(&text);
        for replication in 0..3 {
            let draws = draws_for(&s, s.montecarlo.seed, replication);
            let mut probe = LittleProbe::default();
            let o = simulate(
                &s,
                0,
                &draws,
                s.montecarlo.seed,
                replication,
                &options,
                &mut probe,
            );
            let area = probe.in_system_samples.iter().sum::<f64>() * dt;
            let n = probe.departures as f64;
            assert_eq!(n, o.get(Metric::Arrived), "every arrival departs");
            let tol = 5.0 * (n / 6.0).sqrt() * dt;
            eprintln!(
                "{}: ∫N dt {area:.3} vs Σ sojourn {:.3} (tolerance {tol:.3})",
                s.name, probe.sojourn_sum_s
            );
            close(area, probe.sojourn_sum_s, tol, "Little's law: ∫N dt = Σ W");
        }
    }
}
