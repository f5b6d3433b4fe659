//! Engine invariants over random small scenarios (proptest), and the
//! fast-forward path against iteration-by-iteration stepping.

use std::collections::HashMap;

use proptest::prelude::*;

use super::common::*;
use fleetsim::metrics::{RequestEnd, RequestRecord};
use fleetsim::simulation::{IterationInfo, Observer, SimOptions, simulate};

/// Checks invariants as the history unfolds.
#[derive(Default)]
struct Checker {
    records: Vec<RequestRecord>,
    /// Per replica: end of its last iteration.
    last_end: HashMap<usize, f64>,
    violations: Vec<String>,
    iterations: u64,
}

impl Observer for Checker {
    fn on_request(&mut self, r: &RequestRecord) {
        if r.done_s < r.arrival_s || r.done_s.is_nan() {
            self.violations.push(format!(
                "request {} leaves at {} before arriving at {}",
                r.id, r.done_s, r.arrival_s
            ));
        }
        if r.end == RequestEnd::Completed
            && !(r.arrival_s <= r.admit_s
                && r.admit_s < r.first_token_s
                && r.first_token_s <= r.done_s)
        {
            self.violations
                .push(format!("request {} times out of order: {r:?}", r.id));
        }
        self.records.push(*r);
    }

    fn on_iteration(&mut self, i: &IterationInfo) {
        self.iterations += 1;
        if i.kv_used_tokens > i.kv_capacity_tokens {
            self.violations.push(format!(
                "replica {} uses {} KV tokens of {}",
                i.replica, i.kv_used_tokens, i.kv_capacity_tokens
            ));
        }
        if i.end_s < i.start_s || i.end_s.is_nan() {
            self.violations.push(format!(
                "iteration ends at {} before it starts at {}",
                i.end_s, i.start_s
            ));
        }
        let last = self.last_end.entry(i.replica).or_insert(0.0);
        if i.start_s < *last {
            self.violations.push(format!(
                "replica {} starts an iteration at {} before its previous ended at {}",
                i.replica, i.start_s, last
            ));
        }
        *last = i.end_s;
    }
}

#[derive(Debug, Clone)]
struct Small {
    rate: f64,
    arrivals: u8,
    prompt_median: u32,
    output_median: u32,
    sigma: f64,
    max_batch: u32,
    kv: u32,
    paged: bool,
    block: u32,
    chunk: u32,
    router: &'static str,
    replicas: u32,
    seed: u64,
}

fn small() -> impl Strategy<Value = Small> {
    (
        (0.5f64..40.0, 0u8..4, 1u32..300, 1u32..60, 0.0f64..1.5),
        (
            1u32..16,
            200u32..4000,
            any::<bool>(),
            1u32..32,
            prop_oneof![Just(0u32), 1u32..128],
        ),
        (
            prop_oneof![
                Just("least_loaded"),
                Just("round_robin"),
                Just("random"),
                Just("shared_queue")
            ],
            1u32..4,
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (rate, arrivals, pm, om, sigma),
                (max_batch, kv, paged, block, chunk),
                (router, replicas, seed),
            )| Small {
                rate,
                arrivals,
                prompt_median: pm,
                output_median: om,
                sigma,
                max_batch,
                kv,
                paged,
                block,
                chunk,
                router,
                replicas,
                seed,
            },
        )
}

fn toml(c: &Small) -> String {
    let arrivals = match c.arrivals {
        0 => format!("{{ process = \"poisson\", rate = {} }}", c.rate),
        1 => format!(
            "{{ process = \"mmpp\", rates = [{}, {}], mean_sojourn = [\"5s\", \"10s\"] }}",
            c.rate * 2.0,
            c.rate / 4.0
        ),
        2 => format!("{{ process = \"renewal\", rate = {}, cv = 3.0 }}", c.rate),
        _ => format!(
            "{{ process = \"diurnal\", mean_rate = {}, peak_to_mean = 1.8, peak_hour = 0 }}",
            c.rate
        ),
    };
    format!(
        "name = \"prop\"\nhorizon = \"30s\"\n[workload]\narrivals = {arrivals}\nprompt_tokens = {{ dist = \"lognormal\", median = {}, sigma = {}, max = 5000 }}\noutput_tokens = {{ dist = \"lognormal\", median = {}, sigma = {}, max = 500 }}\n[engine]\nmax_batch = {}\nkv_capacity_tokens = {}\nadmission = \"{}\"\nkv_block_tokens = {}\nchunked_prefill_tokens = {}\nrouter = \"{}\"\nstep_time = {{ model = \"linear\", fixed_s = 0.003, prefill_per_token_s = 1e-5, decode_per_seq_s = 2e-4, kv_per_token_s = 1e-7 }}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = {}, price_per_gpu_hour = 1.0 }} ]\n[montecarlo]\nseed = {}\n",
        c.prompt_median,
        c.sigma,
        c.output_median,
        c.sigma,
        c.max_batch,
        c.kv,
        if c.paged { "paged" } else { "reserve" },
        c.block,
        c.chunk,
        c.router,
        c.replicas,
        c.seed
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_request_ends_once_and_nothing_breaks(c in small()) {
        let s = scenario(&toml(&c));
        let draws = fleetsim::montecarlo::draws_for(&s, c.seed, 0);
        let mut check = Checker::default();
        let out = simulate(&s, 0, &draws, c.seed, 0, &SimOptions::default(), &mut check);
        prop_assert!(check.violations.is_empty(), "{:?}", &check.violations[..check.violations.len().min(3)]);
        // Conservation: ids 0..arrived, each exactly once, and the counts add up.
        let arrived = out.by_name("requests_arrived").unwrap() as usize;
        let mut ids: Vec<u64> = check.records.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..arrived as u64).collect::<Vec<_>>());
        let ended = out.by_name("requests_completed").unwrap() + out.by_name("requests_overflowed").unwrap() + out.by_name("requests_dropped").unwrap();
        prop_assert_eq!(ended as usize, arrived);
        // Same seed ⇒ same result, bit for bit.
        let again = simulate(&s, 0, &draws, c.seed, 0, &SimOptions::default(), &mut ());
        prop_assert_eq!(format!("{:?}", out.values), format!("{:?}", again.values));
    }

    #[test]
    fn fast_forward_equals_single_stepping(c in small()) {
        let s = scenario(&toml(&c));
        let fast = SimOptions { fast_forward: true, ..SimOptions::default() };
        let slow = SimOptions { fast_forward: false, ..SimOptions::default() };
        let (a, ra) = records(&s, 0, &fast);
        let (b, rb) = records(&s, 0, &slow);
        prop_assert_eq!(format!("{:?}", a.values), format!("{:?}", b.values));
        prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
    }
}

#[test]
fn fast_forward_equals_single_stepping_on_the_reference_scenario() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/reference.toml"
    ))
    .unwrap();
    let s = scenario(&text);
    let (a, ra) = records(
        &s,
        0,
        &SimOptions {
            fast_forward: true,
            ..Default::default()
        },
    );
    let (b, rb) = records(
        &s,
        0,
        &SimOptions {
            fast_forward: false,
            ..Default::default()
        },
    );
    assert!(ra.len() > 20_000);
    assert_eq!(format!("{:?}", a.values), format!("{:?}", b.values));
    assert!(ra == rb || format!("{ra:?}") == format!("{rb:?}"));
}

#[test]
fn strategies_of_a_replication_see_the_same_traffic() {
    // Common random numbers: the same arrivals and lengths for every strategy.
    let text = "name = \"crn\"\nhorizon = \"60s\"\n[workload]\narrivals = { process = \"poisson\", rate = 5.0 }\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nkv_capacity_tokens = 1000000\nstep_time = { model = \"linear\", fixed_s = 0.01 }\n[[strategy]]\nname = \"one\"\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n[[strategy]]\nname = \"three\"\npools = [ { kind = \"reserved\", replicas = 3, price_per_gpu_hour = 1.0 } ]\n";
    let s = scenario(text);
    let draws = fleetsim::montecarlo::draws_for(&s, 42, 0);
    let arrivals = |k: usize| {
        let mut r = Records::default();
        simulate(&s, k, &draws, 42, 0, &SimOptions::default(), &mut r);
        let mut v: Vec<(u64, u64, u32, u32)> =
            r.0.iter()
                .map(|x| {
                    (
                        x.id,
                        x.arrival_s.to_bits(),
                        x.prompt_tokens,
                        x.output_tokens,
                    )
                })
                .collect();
        v.sort();
        v
    };
    assert!(arrivals(0).len() > 200);
    assert_eq!(arrivals(0), arrivals(1));
}

/// A small engine-faithful (vLLM) scenario: tight KV and token budgets so
/// preemption, chunking and cache eviction all happen.
#[derive(Debug, Clone)]
struct SmallVllm {
    base: Small,
    budget: u32,
    groups: u32,
    prefix_tokens: u32,
    caching: bool,
    asynchronous: bool,
    front_end_spread: f64,
}

fn small_vllm() -> impl Strategy<Value = SmallVllm> {
    (
        small(),
        1u32..300,
        0u32..4,
        0u32..200,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0.0), Just(0.34)],
    )
        .prop_map(
            |(base, budget, groups, prefix_tokens, caching, asynchronous, front_end_spread)| {
                SmallVllm {
                    base,
                    budget,
                    groups,
                    prefix_tokens,
                    caching,
                    asynchronous,
                    front_end_spread,
                }
            },
        )
}

fn toml_vllm(c: &SmallVllm) -> String {
    let b = &c.base;
    let reference = toml(b);
    // Swap the engine section for the engine-faithful one.
    let start = reference.find("[engine]").unwrap();
    let end = reference.find("[[strategy]]").unwrap();
    let prefix = if c.groups > 0 {
        format!(
            "shared_prefix = {{ groups = {}, tokens = {} }}\n",
            c.groups, c.prefix_tokens
        )
    } else {
        String::new()
    };
    let engine = format!(
        "{prefix}[engine]\nadmission = \"vllm\"\nmax_batch = {}\nkv_capacity_tokens = {}\nkv_block_tokens = {}\nmax_num_batched_tokens = {}\nprefix_caching = {}\nasync_scheduling = {}\nfront_end_latency = 0.004\nfront_end_spread = {}\nrouter = \"{}\"\nstep_time = {{ model = \"linear\", fixed_s = 0.003, prefill_per_token_s = 1e-5, decode_per_seq_s = 2e-4, kv_per_token_s = 1e-7 }}\n",
        b.max_batch,
        b.kv,
        b.block,
        c.budget,
        c.caching,
        c.asynchronous,
        c.front_end_spread,
        b.router
    );
    format!("{}{engine}{}", &reference[..start], &reference[end..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_faithful_mode_keeps_every_invariant(c in small_vllm()) {
        let s = scenario(&toml_vllm(&c));
        let seed = c.base.seed;
        let draws = fleetsim::montecarlo::draws_for(&s, seed, 0);
        let mut check = Checker::default();
        let out = simulate(&s, 0, &draws, seed, 0, &SimOptions::default(), &mut check);
        prop_assert!(check.violations.is_empty(), "{:?}", &check.violations[..check.violations.len().min(3)]);
        let arrived = out.by_name("requests_arrived").unwrap() as usize;
        let mut ids: Vec<u64> = check.records.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..arrived as u64).collect::<Vec<_>>());
        let ended = out.by_name("requests_completed").unwrap() + out.by_name("requests_overflowed").unwrap() + out.by_name("requests_dropped").unwrap();
        prop_assert_eq!(ended as usize, arrived);
    }

    #[test]
    fn engine_faithful_fast_scheduler_equals_its_stepwise_reference(c in small_vllm()) {
        // The scheduler that touches only the requests needing work must give
        // exactly what walking every running request each step gives, with
        // and without fast-forward.
        let s = scenario(&toml_vllm(&c));
        let fast = SimOptions::default();
        let slow = SimOptions { stepwise_vllm: true, fast_forward: false, ..SimOptions::default() };
        let (a, ra) = records(&s, 0, &fast);
        let (b, rb) = records(&s, 0, &slow);
        prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
        prop_assert_eq!(format!("{:?}", a.values), format!("{:?}", b.values));
    }
}
