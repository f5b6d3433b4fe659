//! The verdict and the overload flag, each with a positive control: an
//! overloaded plan is flagged and never chosen, a cheaper plan that fails
//! the SLO loses to a costlier one that passes, and the cheapest passing
//! plan wins.

use super::common::*;

/// The reference engine (a replica serves ~30 req/s of this traffic) at 40
/// req/s for 2,000 s.
fn plans(extra_strategies: &str) -> String {
    format!(
        r#"name = "v"
horizon = "2000s"
[workload]
arrivals = {{ process = "poisson", rate = 40.0 }}
prompt_tokens = {{ dist = "lognormal", median = 500, sigma = 0.5, min = 16, max = 4096 }}
output_tokens = {{ dist = "lognormal", median = 150, sigma = 0.6, min = 1, max = 1024 }}
[engine]
max_batch = 256
kv_capacity_tokens = 1_000_000
admission = "reserve"
chunked_prefill_tokens = 0
step_time = {{ model = "linear", fixed_s = 0.005, prefill_per_token_s = 2e-5, decode_per_seq_s = 1e-4, kv_per_token_s = 2e-8 }}
[slo]
ttft = "2s"
tpot = "100ms"
{extra_strategies}
[montecarlo]
replications = 4
"#
    )
}

const FOUR_PLANS: &str = r#"
[[strategy]]
name = "one-replica"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 2.0 } ]
[[strategy]]
name = "late-cheap"
autoscale = { interval = "10s", target_inflight_per_replica = 64, scale_down_delay = "10m" }
pools = [ { kind = "on_demand", min_replicas = 0, max_replicas = 3, price_per_gpu_hour = 0.5, provisioning = 600, load_time = 0 } ]
[[strategy]]
name = "two-replicas"
pools = [ { kind = "reserved", replicas = 2, price_per_gpu_hour = 2.0 } ]
[[strategy]]
name = "three-replicas"
pools = [ { kind = "reserved", replicas = 3, price_per_gpu_hour = 2.0 } ]
"#;

#[test]
fn the_cheapest_plan_that_passes_is_chosen_and_the_others_say_why_not() {
    let (_, _, summary) = run_toml(&plans(FOUR_PLANS), 4);
    let v = &summary.verdict;
    let check = |name: &str| v.strategies.iter().find(|c| c.name == name).unwrap();
    let (one, late, two, three) = (
        check("one-replica"),
        check("late-cheap"),
        check("two-replicas"),
        check("three-replicas"),
    );
    // The control plans are what they are meant to be.
    assert!(one.cost_per_month_usd.p50 < two.cost_per_month_usd.p50);
    assert!(late.cost_per_month_usd.p50 < two.cost_per_month_usd.p50);
    assert!(two.cost_per_month_usd.p50 < three.cost_per_month_usd.p50);
    // One replica at ~1.35x its capacity: flagged in every replication.
    assert_eq!(one.overloaded_share, 1.0, "{one:?}");
    assert!(!one.passes && one.why.contains("overloaded"), "{}", one.why);
    // Ten minutes without capacity fail the SLO, but the backlog shrinks
    // once replicas are up: not overloaded.
    assert_eq!(late.overloaded_share, 0.0, "{late:?}");
    assert!(
        !late.passes && late.why.contains("fails the SLO"),
        "{}",
        late.why
    );
    assert!(two.passes && three.passes);
    assert_eq!(v.chosen.as_deref(), Some("two-replicas"));
    assert!(three.why.contains("costs more"), "{}", three.why);
    assert_eq!(three.prob_cheaper_than_chosen, Some(0.0));
    assert!(
        v.headline.starts_with("Choose two-replicas"),
        "{}",
        v.headline
    );
    assert!(v.hint.is_none());
}

#[test]
fn when_nothing_passes_the_verdict_says_so_and_hints() {
    let only_failing = r#"
[[strategy]]
name = "one-replica"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 2.0 } ]
"#;
    let (_, _, summary) = run_toml(&plans(only_failing), 2);
    let v = &summary.verdict;
    assert!(v.chosen.is_none());
    assert!(
        v.headline.starts_with("No plan meets the SLO"),
        "{}",
        v.headline
    );
    assert!(
        v.hint
            .as_deref()
            .is_some_and(|h| h.contains("fleetsim size"))
    );
}

#[test]
fn a_stable_fleet_under_rising_load_is_not_overloaded() {
    // 10 then 30 req/s on three replicas (~90 req/s of capacity): the
    // backlog rises with the load, but stays ~λW and drains at once.
    let text = plans(
        r#"
[[strategy]]
name = "three-replicas"
pools = [ { kind = "reserved", replicas = 3, price_per_gpu_hour = 2.0 } ]
"#,
    )
    .replace(
        "{ process = \"poisson\", rate = 40.0 }",
        "{ process = \"stages\", stages = [[10.0, \"1000s\"], [30.0, \"1000s\"]] }",
    );
    let (_, batch, summary) = run_toml(&text, 2);
    assert_eq!(summary.verdict.strategies[0].overloaded_share, 0.0);
    assert!(summary.verdict.strategies[0].passes);
    for r in &batch.replications {
        let trend = r.outcomes[0].by_name("in_system_trend").unwrap();
        assert!(trend > 0.0, "the backlog does rise with the load: {trend}");
    }
}

#[test]
fn per_month_risk_figures_are_the_horizon_figures_scaled() {
    // One unit per table: VaR, CVaR and paired differences per month are
    // the per-horizon ones × (30 days / horizon), exactly.
    let (_, _, summary) = run_toml(&plans(FOUR_PLANS), 4);
    let k = 30.0 * 86_400.0 / 2000.0;
    for st in &summary.strategies {
        let r = &st.risk;
        assert!(
            (r.cost_var95_per_month_usd - r.cost_var95_usd * k).abs()
                < 1e-9 * r.cost_var95_per_month_usd.abs().max(1.0)
        );
        assert!(
            (r.cost_cvar95_per_month_usd - r.cost_cvar95_usd * k).abs()
                < 1e-9 * r.cost_cvar95_per_month_usd.abs().max(1.0)
        );
        if let Some(c) = &st.versus_first {
            let (a, b) = (
                c.cost_difference_per_month_usd.mean,
                c.cost_difference_usd.mean * k,
            );
            assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
    }
}
