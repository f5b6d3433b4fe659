//! Fleet economics against closed-form answers (docs/model.md §8): each pool's
//! billing, cold starts, interruptions, autoscaler bounds, API overflow.

use super::common::*;
use fleetsim::metrics::RequestEnd;
use fleetsim::simulation::{Observer, SimOptions, TimeSample, simulate};
use fleetsim::stats::Summary;

/// A linear engine whose iterations take exactly 1 s (plus nothing else),
/// with `tp` GPUs per replica and ample KV.
fn engine(tp: u32) -> String {
    format!(
        "[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\ntensor_parallel = {tp}\nmax_batch = 64\nkv_capacity_tokens = 1000000\nstep_time = {{ model = \"linear\", fixed_s = 1.0 }}\n"
    )
}

fn strategy_metric(text: &str, metric: &str) -> f64 {
    let (_, batch, _) = run_toml(text, 1);
    batch.replications[0].outcomes[0]
        .by_name(metric)
        .unwrap_or_else(|| panic!("no metric {metric}"))
}

#[test]
fn reserved_costs_replicas_times_gpus_times_rate_times_horizon() {
    for rate in ["3.0", "0.0"] {
        let text = format!(
            "name = \"r\"\nhorizon = 5000\n[workload]\narrivals = {{ process = \"poisson\", rate = {rate} }}\nprompt_tokens = 10\noutput_tokens = 3\n{}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 3, price_per_gpu_hour = 2.5 }} ]\n",
            engine(2)
        );
        let (_, batch, _) = run_toml(&text, 1);
        let o = &batch.replications[0].outcomes[0];
        let expect = 3.0 * 2.0 * 2.5 * 5000.0 / 3600.0;
        close(
            o.by_name("total_cost_usd").unwrap(),
            expect,
            1e-12 * expect.max(1.0),
            "reserved cost, exact",
        );
        close(
            o.by_name("gpu_hours").unwrap(),
            3.0 * 2.0 * 5000.0 / 3600.0,
            1e-9,
            "GPU-hours",
        );
        close(
            o.by_name("cost_per_month_usd").unwrap(),
            expect * 30.0 * 86400.0 / 5000.0,
            1e-12 * expect.max(1.0) * 30.0 * 86400.0 / 5000.0,
            "cost per month, exact",
        );
        close(
            o.by_name("pool.reserved.cost_usd").unwrap(),
            expect,
            1e-9,
            "cost by pool",
        );
    }
}

#[test]
fn owned_costs_capex_plus_power_by_busy_time_plus_ops() {
    // Ten requests 100 s apart, each 5 iterations of 1 s alone on one
    // 1-GPU replica: busy exactly 50 s of the 3600-s horizon.
    let rows: Vec<String> = (0..10).map(|i| format!("[{}.0, 1, 5]", i * 100)).collect();
    let text = format!(
        "name = \"o\"\nhorizon = 3600\n[workload]\narrivals = {{ process = \"trace\", requests = [{}] }}\n{}\n[[strategy]]\npools = [ {{ kind = \"owned\", replicas = 1, capex_per_gpu = 30000.0, amortization = \"3y\", idle_watts = 100.0, busy_watts = 700.0, pue = 1.3, usd_per_kwh = 0.12, ops_per_gpu_hour = 0.3 }} ]\n",
        rows.join(", "),
        engine(1)
    );
    let capex = 30000.0 / (3.0 * 365.0 * 86400.0) * 3600.0;
    let kwh = (700.0 * 50.0 + 100.0 * 3550.0) * 1.3 / 3.6e6;
    let expect = capex + kwh * 0.12 + 0.3;
    close(
        strategy_metric(&text, "total_cost_usd"),
        expect,
        1e-9,
        "owned cost",
    );
}

fn on_demand(billing: &str) -> String {
    // One request at t = 5; the autoscaler (every 10 s) requests a replica at
    // t = 10 (ready at once), it serves 2 s, and at t = 20 scales back down
    // (no delay): it lived 10 s.
    format!(
        "name = \"od\"\nhorizon = 60\n[workload]\narrivals = {{ process = \"trace\", requests = [[5.0, 1, 2]] }}\n{}\n[[strategy]]\nautoscale = {{ interval = \"10s\", target_inflight_per_replica = 1, scale_down_delay = 0 }}\npools = [ {{ kind = \"on_demand\", min_replicas = 0, max_replicas = 1, price_per_gpu_hour = 3.6, provisioning = 0, load_time = 0, min_billed = \"60s\", billing = \"{billing}\" }} ]\n",
        engine(2)
    )
}

#[test]
fn on_demand_bills_its_minimum_duration() {
    // 10 s used, 60 s billed, 2 GPUs at $0.001/GPU-s.
    let text = on_demand("per_second");
    close(
        strategy_metric(&text, "total_cost_usd"),
        60.0 * 2.0 * 0.001,
        1e-12,
        "minimum billed",
    );
    close(strategy_metric(&text, "cold_starts"), 1.0, 0.0, "one start");
    // The request waited for the tick and the replica: admitted at 10.
    let s = scenario(&text);
    let (_, recs) = records(&s, 0, &SimOptions::default());
    close(recs[0].admit_s, 10.0, 1e-12, "admission at the tick");
    // Per started hour: the same 10 s cost a whole hour.
    close(
        strategy_metric(&on_demand("per_hour"), "total_cost_usd"),
        3600.0 * 2.0 * 0.001,
        1e-9,
        "per started hour",
    );
}

#[test]
fn serverless_one_request_per_hour_cold_starts_every_time() {
    // Requests at 0, 1h, 2h, 3h; cold start 30 s, 5 one-second iterations,
    // idle timeout 300 s < 1 h gap: each request pays 30 + 5 + 300 s.
    let text = format!(
        "name = \"sl\"\nhorizon = \"4h\"\n[workload]\narrivals = {{ process = \"trace\", requests = [[0.0, 1, 5], [3600.0, 1, 5], [7200.0, 1, 5], [10800.0, 1, 5]] }}\n{}\n[[strategy]]\npools = [ {{ kind = \"serverless\", max_replicas = 4, price_per_gpu_second = 0.001, cold_start = 30, idle_timeout = \"5m\" }} ]\n",
        engine(2)
    );
    let (_, batch, _) = run_toml(&text, 1);
    let o = &batch.replications[0].outcomes[0];
    close(
        o.by_name("cold_starts").unwrap(),
        4.0,
        0.0,
        "one cold start per request",
    );
    close(
        o.by_name("total_cost_usd").unwrap(),
        4.0 * 335.0 * 2.0 * 0.001,
        1e-9,
        "cold start + service + idle timeout",
    );
    close(
        o.by_name("ttft_mean_s").unwrap(),
        31.0,
        1e-9,
        "TTFT includes the cold start",
    );
    // Not billing the cold start leaves service + idle.
    let text = text.replace(
        "idle_timeout = \"5m\"",
        "idle_timeout = \"5m\", bill_cold_start = false",
    );
    close(
        strategy_metric(&text, "total_cost_usd"),
        4.0 * 305.0 * 2.0 * 0.001,
        1e-9,
        "without the cold start",
    );
}

#[test]
fn zero_traffic_costs_nothing_on_serverless() {
    let text = format!(
        "name = \"z\"\nhorizon = \"1h\"\n[workload]\narrivals = {{ process = \"poisson\", rate = 0.0 }}\n{}\n[[strategy]]\npools = [ {{ kind = \"serverless\", max_replicas = 4, price_per_gpu_second = 0.001, cold_start = 30 }} ]\n",
        engine(1)
    );
    assert_eq!(strategy_metric(&text, "total_cost_usd"), 0.0);
    assert_eq!(strategy_metric(&text, "cold_starts"), 0.0);
}

#[test]
fn api_only_costs_exactly_the_baseline() {
    let text = "name = \"api\"\nhorizon = \"1h\"\n[workload]\narrivals = { process = \"poisson\", rate = 4.0 }\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nstep_time = { model = \"linear\", fixed_s = 1.0 }\n[api]\ninput_per_m = 0.5\noutput_per_m = 2.0\n[[strategy]]\noverflow = \"api\"\npools = []\n";
    let (_, batch, _) = run_toml(text, 3);
    for r in &batch.replications {
        let o = &r.outcomes[0];
        assert_eq!(
            o.by_name("total_cost_usd"),
            o.by_name("api_baseline_cost_usd")
        );
        assert_eq!(
            o.by_name("requests_overflowed"),
            o.by_name("requests_arrived")
        );
        assert!(o.by_name("total_cost_usd").unwrap() > 0.0);
    }
}

#[test]
fn queue_timeouts_overflow_to_the_api_or_drop() {
    // One replica, max_batch 1, requests of 20 one-second iterations at 1/s:
    // hopelessly overloaded; anything waiting 5 s leaves.
    let base = |overflow: &str| {
        format!(
            "name = \"ov\"\nhorizon = 600\n[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\nprompt_tokens = 100\noutput_tokens = 20\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 1\nkv_capacity_tokens = 100000\nstep_time = {{ model = \"linear\", fixed_s = 1.0 }}\n[slo]\nmax_queue = \"5s\"\n[api]\ninput_per_m = 1.0\noutput_per_m = 10.0\n[[strategy]]\noverflow = \"{overflow}\"\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 0.0 }} ]\n"
        )
    };
    let s = scenario(&base("api"));
    let (o, recs) = records(&s, 0, &SimOptions::default());
    let over: Vec<_> = recs
        .iter()
        .filter(|r| r.end == RequestEnd::Overflowed)
        .collect();
    assert!(over.len() > 400, "{} overflowed", over.len());
    for r in &over {
        close(
            r.done_s - r.arrival_s,
            5.0,
            1e-9,
            "overflow after exactly max_queue",
        );
    }
    let tokens_cost: f64 = over
        .iter()
        .map(|r| (r.prompt_tokens as f64 * 1.0 + r.output_tokens as f64 * 10.0) / 1e6)
        .sum();
    close(
        o.by_name("api_overflow_cost_usd").unwrap(),
        tokens_cost,
        1e-12,
        "overflow priced per token",
    );
    close(
        o.by_name("total_cost_usd").unwrap(),
        tokens_cost,
        1e-12,
        "free replica + API overflow",
    );
    // Same traffic without an API: the same requests are dropped instead.
    let s = scenario(&base("drop"));
    let (d, _) = records(&s, 0, &SimOptions::default());
    assert_eq!(
        d.by_name("requests_dropped"),
        o.by_name("requests_overflowed")
    );
    assert_eq!(
        d.by_name("requests_completed"),
        o.by_name("requests_completed")
    );
}

#[test]
fn spot_interruptions_follow_their_poisson_rate_and_lose_nothing() {
    // Two spot replicas always wanted, 3 interruptions per replica-hour. The
    // count is Poisson with mean 3 × ready replica-hours: their difference
    // has mean 0 over replications.
    let text = "name = \"spot\"\nhorizon = \"10h\"\n[workload]\narrivals = { process = \"poisson\", rate = 2.0 }\nprompt_tokens = 200\noutput_tokens = { dist = \"lognormal\", median = 100, sigma = 0.5 }\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 64\nkv_capacity_tokens = 1000000\nstep_time = { model = \"linear\", fixed_s = 0.02, prefill_per_token_s = 1e-5 }\n[[strategy]]\npools = [ { kind = \"spot\", min_replicas = 2, max_replicas = 2, price_per_gpu_hour = 1.0, interruptions_per_hour = 3.0, notice = 0, provisioning = 30, load_time = 30 } ]\n";
    let (_, batch, _) = run_toml(text, 30);
    let mut diffs = Vec::new();
    for r in &batch.replications {
        let o = &r.outcomes[0];
        let n = o.by_name("interruptions").unwrap();
        let exposure = o.by_name("pool.spot.ready_hours").unwrap();
        diffs.push(n - 3.0 * exposure);
        let ended = o.by_name("requests_completed").unwrap()
            + o.by_name("requests_overflowed").unwrap()
            + o.by_name("requests_dropped").unwrap();
        assert_eq!(
            ended,
            o.by_name("requests_arrived").unwrap(),
            "conservation across interruptions"
        );
        assert_eq!(o.by_name("requests_dropped").unwrap(), 0.0);
        assert!(n > 20.0);
    }
    let d = Summary::of(&diffs);
    eprintln!(
        "interruptions − rate × exposure: mean {:.3}, 95% CI [{:.3}, {:.3}]",
        d.mean, d.ci95_low, d.ci95_high
    );
    assert!(
        d.ci95_low <= 0.0 && 0.0 <= d.ci95_high,
        "mean difference {} CI [{}, {}]",
        d.mean,
        d.ci95_low,
        d.ci95_high
    );
    // Interrupted requests were recomputed: some restarted.
    let s = scenario(text);
    let (_, recs) = records(&s, 0, &SimOptions::default());
    assert!(recs.iter().any(|r| r.restarts > 0));
}

#[derive(Default)]
struct Samples(Vec<TimeSample>);

impl Observer for Samples {
    fn on_sample(&mut self, s: &TimeSample) {
        self.0.push(s.clone());
    }
}

#[test]
fn the_autoscaler_stays_within_each_pools_bounds() {
    // Reserved base of 1, on-demand between 1 and 3, bursty traffic.
    let text = "name = \"as\"\nhorizon = \"2h\"\n[workload]\narrivals = { process = \"mmpp\", rates = [30.0, 1.0], mean_sojourn = [\"5m\", \"10m\"] }\nprompt_tokens = 500\noutput_tokens = 100\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 32\nkv_capacity_tokens = 1000000\nstep_time = { model = \"linear\", fixed_s = 0.01, prefill_per_token_s = 2e-5, decode_per_seq_s = 5e-4 }\n[[strategy]]\nautoscale = { interval = \"10s\", target_inflight_per_replica = 16, scale_down_delay = \"1m\" }\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 2.0 }, { kind = \"on_demand\", min_replicas = 1, max_replicas = 3, price_per_gpu_hour = 3.0, provisioning = { uniform = [30.0, 90.0] }, load_time = 20 } ]\n";
    let s = scenario(text);
    for rep in 0..5 {
        let draws = fleetsim::montecarlo::draws_for(&s, 42, rep);
        let mut samples = Samples::default();
        let opts = SimOptions {
            sample_interval_s: Some(5.0),
            ..SimOptions::default()
        };
        let o = simulate(&s, 0, &draws, 42, rep, &opts, &mut samples);
        let od: Vec<u32> = samples.0.iter().map(|x| x.live_by_pool[1]).collect();
        assert!(
            od.iter().all(|&n| (1..=3).contains(&n)),
            "on-demand live outside [1, 3]: {:?}",
            od.iter()
                .filter(|&&n| !(1..=3).contains(&n))
                .collect::<Vec<_>>()
        );
        assert!(
            samples.0.iter().all(|x| x.live_by_pool[0] == 1),
            "reserved stays 1"
        );
        assert_eq!(
            o.by_name("pool.on_demand.peak_replicas"),
            Some(3.0),
            "bursts scale up to the max"
        );
        assert!(od.contains(&1), "quiet spells scale back down");
        assert!(o.by_name("cold_starts").unwrap() >= 2.0);
    }
}

#[test]
fn a_warm_serverless_minimum_avoids_the_first_cold_start() {
    // One warm replica from t = 0 serves the hourly requests without cold
    // starts and bills the whole horizon; it is never released below the floor.
    let text = format!(
        "name = \"warm\"\nhorizon = \"2h\"\n[workload]\narrivals = {{ process = \"trace\", requests = [[10.0, 1, 5], [3610.0, 1, 5]] }}\n{}\n[[strategy]]\npools = [ {{ kind = \"serverless\", min_replicas = 1, max_replicas = 2, price_per_gpu_second = 0.001, cold_start = 30, idle_timeout = \"5m\" }} ]\n",
        engine(1)
    );
    let (_, batch, _) = run_toml(&text, 1);
    let o = &batch.replications[0].outcomes[0];
    assert_eq!(o.by_name("cold_starts"), Some(0.0));
    close(
        o.by_name("ttft_mean_s").unwrap(),
        1.0,
        1e-9,
        "no cold start in TTFT",
    );
    close(
        o.by_name("total_cost_usd").unwrap(),
        7200.0 * 0.001,
        1e-9,
        "the warm replica bills the horizon",
    );
}
