//! The answer commands: `size`, `breakeven`, `calibrate`.

use std::path::Path;

use super::common::*;
use fleetsim::calibrate::{Efficiencies, Measurement, fit, simulate};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const SIZE: &str = r#"name = "sz"
horizon = "20m"
[workload]
arrivals = { process = "poisson", rate = 12.0 }
prompt_tokens = 300
output_tokens = { dist = "lognormal", median = 100, sigma = 0.6 }
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 16
kv_capacity_tokens = 200000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 2e-5, decode_per_seq_s = 1e-3 }
[slo]
ttft = "1s"
tpot = "60ms"
[[strategy]]
name = "reserved"
pools = [ { kind = "reserved", replicas = { search = [1, 2, 3, 4, 5] }, price_per_gpu_hour = 2.0 } ]
[montecarlo]
replications = 20
"#;

#[test]
fn size_finds_the_cheapest_fleet_that_meets_the_target() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SIZE);
    let out = fleetsim(
        dir.path(),
        &[
            "size",
            "s.toml",
            "--slo-target",
            "0.95",
            "--confidence",
            "0.9",
            "--out",
            "z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("z/sizing.json")).unwrap()).unwrap();
    let cands = v["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 5);
    let replicas = |c: &serde_json::Value| c["assignment"][0][1].as_f64().unwrap();
    let best = &cands[0];
    assert_eq!(best["meets_target"], true);
    // Minimal: every smaller fleet misses the target; more replicas cost more.
    for c in cands {
        let r = replicas(c);
        if r < replicas(best) {
            assert_eq!(c["meets_target"], false, "{r} replicas");
        }
        if c["meets_target"] == true && r > replicas(best) {
            assert!(
                c["cost_per_month_mean_usd"].as_f64() > best["cost_per_month_mean_usd"].as_f64()
            );
        }
    }
    // Reserved cost is closed-form: replicas × 2 GPUs × $2 × 720 h.
    close(
        best["cost_per_month_mean_usd"].as_f64().unwrap(),
        replicas(best) * 2.0 * 2.0 * 720.0,
        1e-6,
        "cost of the best fleet",
    );
    assert!(dir.path().join("z/sizing.svg").exists() && dir.path().join("z/sizing.png").exists());
    // It explains itself: labels, the median cost, the attainment reached in
    // the required share of replications, the tail latency, and no Rust text.
    let label = best["label"].as_str().unwrap();
    assert_eq!(label, format!("reserved × {}", replicas(best)));
    assert_eq!(
        best["cost_per_month_p50_usd"],
        best["cost_per_month_mean_usd"]
    );
    assert!(best["slo_attainment_at_confidence"].as_f64().unwrap() >= 0.95);
    assert!(best["ttft_p99_s"].as_f64().unwrap() < 1.0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("20 replications (the scenario's)"), "{text}");
    assert!(text.contains(label) && !text.contains("[(\""), "{text}");
}

#[test]
fn size_refuses_empty_or_missing_search_spaces() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "empty.toml",
        &SIZE.replace("{ search = [1, 2, 3, 4, 5] }", "{ search = [] }"),
    );
    let out = fleetsim(dir.path(), &["size", "empty.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("non-empty list") && stderr(&out).contains("line"),
        "{}",
        stderr(&out)
    );
    write(
        dir.path(),
        "none.toml",
        &SIZE.replace("{ search = [1, 2, 3, 4, 5] }", "2"),
    );
    let out = fleetsim(dir.path(), &["size", "none.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nothing to search"),
        "{}",
        stderr(&out)
    );
    // `run` will not guess a value for a search space.
    let out = fleetsim(dir.path(), &["run", "empty.toml"]);
    assert_eq!(out.status.code(), Some(2));
    write(dir.path(), "ok.toml", SIZE);
    let out = fleetsim(dir.path(), &["run", "ok.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fleetsim size"), "{}", stderr(&out));
}

#[test]
fn breakeven_of_a_fixed_fleet_is_its_monthly_cost_over_the_api_price() {
    // One reserved replica costs M = 2 GPUs × $3 × 720 h per month whatever
    // the volume; the API costs A = $1 × 400/100 + $2 = $6 per 1M output
    // tokens with fixed lengths. Cost per 1M output tokens, M/V, meets A at
    // V* = M / A × 1e6 tokens per month (a power law: exact in log-log; an
    // odd number of replications makes every median one replication, so
    // the median of M/V is M over the median V).
    let dir = tempfile::tempdir().unwrap();
    let text = r#"name = "be"
horizon = "30m"
[workload]
arrivals = { process = "poisson", rate = 2.0 }
prompt_tokens = 400
output_tokens = 100
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 256
kv_capacity_tokens = 1000000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 1e-6, decode_per_seq_s = 1e-5 }
[api]
input_per_m = 1.0
output_per_m = 2.0
[[strategy]]
name = "reserved"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 3.0 } ]
[[strategy]]
name = "api"
overflow = "api"
pools = []
"#;
    write(dir.path(), "b.toml", text);
    let out = fleetsim(
        dir.path(),
        &[
            "breakeven",
            "b.toml",
            "--from",
            "0.5",
            "--to",
            "20",
            "--steps",
            "6",
            "--replications",
            "9",
            "--out",
            "b",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("b/breakeven.json")).unwrap())
            .unwrap();
    for p in v["points"].as_array().unwrap() {
        close(
            p["api_per_m_output"]["p50"].as_f64().unwrap(),
            6.0,
            1e-9,
            "API price per 1M output tokens",
        );
    }
    let monthly = 2.0 * 3.0 * 720.0;
    let expect = monthly / 6.0 * 1e6;
    let c = &v["crossovers"][0];
    assert_eq!(c["strategy"], "reserved");
    let got = c["volume_p50"].as_f64().unwrap();
    assert!(
        (got / expect - 1.0).abs() < 1e-6,
        "break-even at {got:.4e} tokens/month, expected {expect:.4e}"
    );
    assert!(c["volume_low"].as_f64().unwrap() <= got && got <= c["volume_high"].as_f64().unwrap());
    assert!(dir.path().join("b/breakeven.png").exists());
    // An empty range is refused.
    let out = fleetsim(
        dir.path(),
        &["breakeven", "b.toml", "--from", "3", "--to", "2"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

#[test]
fn calibrate_recovers_known_efficiencies() {
    // Measurements made by the model itself with known efficiencies must be
    // fitted back: mfu from compute-bound points, mbu and overhead from
    // memory-bound ones; for the roofline and for the calibrated model
    // (whose other constants stay at their values).
    for (step_time, tp) in [
        ("{ model = \"roofline\" }", 1),
        ("{ model = \"calibrated\" }", 1),
        ("{ model = \"calibrated\", per_seq_s = 4e-6 }", 2),
    ] {
        recovers_known_efficiencies(step_time, tp);
    }
}

fn recovers_known_efficiencies(step_time: &str, tp: u32) {
    let s = scenario(&format!(
        "[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nstep_time = {step_time}\nmodel = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"\nprecision = \"fp8\"\ntensor_parallel = {tp}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n"
    ));
    let truth = Efficiencies {
        mfu: 0.5,
        mbu: 0.6,
        overhead_s: 0.003,
    };
    let shapes = [
        (1, 128, 1024),
        (1, 4000, 256),
        (64, 2000, 200),
        (256, 128, 512),
        (32, 8000, 100),
    ];
    let points: Vec<Measurement> = shapes
        .iter()
        .map(|&(c, isl, osl)| {
            let mut m = Measurement {
                concurrency: c,
                isl,
                osl,
                tokens_per_s: 1.0,
            };
            m.tokens_per_s = simulate(&s.engine, truth, &m);
            m
        })
        .collect();
    let f = fit(&s.engine, &points).unwrap();
    let e = f.efficiencies;
    eprintln!("{step_time}: fitted {e:?}, RMS {:.4}", f.rms_log_error);
    assert!(f.rms_log_error < 0.01, "residuals {}", f.rms_log_error);
    close(e.mfu, 0.5, 0.03, "mfu");
    close(e.mbu, 0.6, 0.03, "mbu");
    close(e.overhead_s, 0.003, 0.0005, "overhead");
}

#[test]
fn calibrate_predicts_published_70b_points_it_was_not_fitted_to() {
    // NIM v1.8.0, Llama-3.3-70B FP8 on 2 x H100 [nim-bench] (docs/sources.md):
    // fit the three efficiencies on four 5000/500 points (c = 1, 5, 25, 100),
    // then predict two points left out, a mid load of the same shape (c = 50,
    // 814 tok/s) and another shape (500/2000 at c = 1, 52.9 tok/s), within 5%.
    let s = scenario(
        "[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nstep_time = { model = \"roofline\" }\nmodel = \"llama-3.1-70b\"\ngpu = \"h100-sxm\"\nprecision = \"fp8\"\ntensor_parallel = 2\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n",
    );
    let point = |concurrency, isl, osl, tokens_per_s| Measurement {
        concurrency,
        isl,
        osl,
        tokens_per_s,
    };
    let fitted_on = [
        point(1, 5000, 500, 51.7),
        point(5, 5000, 500, 218.0),
        point(25, 5000, 500, 623.0),
        point(100, 5000, 500, 917.0),
    ];
    let f = fit(&s.engine, &fitted_on).unwrap();
    eprintln!(
        "fitted {:?}, in-sample RMS {:.3}",
        f.efficiencies, f.rms_log_error
    );
    for held_out in [point(50, 5000, 500, 814.0), point(1, 500, 2000, 52.9)] {
        let predicted = simulate(&s.engine, f.efficiencies, &held_out);
        let err = predicted / held_out.tokens_per_s - 1.0;
        eprintln!(
            "{held_out:?}: predicted {predicted:.1} ({:+.1}%)",
            err * 100.0
        );
        assert!(
            err.abs() < 0.05,
            "held-out {held_out:?}: predicted {predicted:.1} tok/s ({:+.1}%)",
            err * 100.0
        );
    }
}

#[test]
fn calibrate_fits_published_70b_points_and_refuses_impossible_ones() {
    let dir = tempfile::tempdir().unwrap();
    // NIM v1.8.0, Llama-3.3-70B FP8 on 2 x H100 [nim-bench] (docs/sources.md):
    // four points for three efficiencies, so the residuals can show a misfit.
    let out = fleetsim(
        dir.path(),
        &[
            "calibrate",
            "--model",
            "llama-3.1-70b",
            "--gpu",
            "h100-sxm",
            "--tp",
            "2",
            "--point",
            "c=1,isl=5000,osl=500,tok_s=51.7",
            "--point",
            "c=50,isl=5000,osl=500,tok_s=814",
            "--point",
            "c=100,isl=5000,osl=500,tok_s=917",
            "--point",
            "c=1,isl=500,osl=2000,tok_s=52.9",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("step_time = { model = \"calibrated\", mfu = "),
        "{text}"
    );
    let rms: f64 = text
        .split("RMS relative error ")
        .nth(1)
        .unwrap()
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rms < 5.0, "RMS {rms}%");
    for bad in [
        [
            "--point",
            "c=1,isl=100,osl=100,tok_s=50",
            "--point",
            "c=8,isl=100,osl=100,tok_s=20",
        ]
        .as_slice(),
        &["--point", "c=1,isl=100"],
        &[],
        // 100x what a 70B model on two H100s can stream: no efficiency fits.
        &["--point", "c=1,isl=500,osl=2000,tok_s=5290"],
        // One load measured twice, differently.
        &[
            "--point",
            "c=1,isl=100,osl=100,tok_s=50",
            "--point",
            "c=1,isl=100,osl=100,tok_s=60",
        ],
    ] {
        let mut args = vec!["calibrate"];
        args.extend(bad);
        let out = fleetsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn breakeven_never_offers_a_price_the_fleet_cannot_deliver() {
    // reference.toml: two replicas hold the SLO to ~1.7x its 15 req/s and
    // fail it beyond. The cost per token keeps falling past that point (the
    // positive control: the cheapest point overall fails); the cheapest
    // point breakeven offers is one that meets the SLO, and the capacity
    // limit lies between the passing and the failing volumes.
    let base = parse_any(&shipped("reference.toml"), std::path::Path::new("."));
    let ms = fleetsim::breakeven::multipliers(0.5, 4.0, 5);
    let r = fleetsim::breakeven::breakeven(
        &base,
        &ms,
        2,
        42,
        &fleetsim::simulation::SimOptions::default(),
        &fleetsim::montecarlo::NoProgress,
    )
    .unwrap();
    let cheapest_overall = r
        .points
        .iter()
        .min_by(|a, b| a.strategies[0].p50.total_cmp(&b.strategies[0].p50))
        .unwrap();
    assert!(!cheapest_overall.checks[0].passes, "the control must fail");
    let c = &r.crossovers[0];
    let cap = c.capacity_volume.expect("passes at low volume");
    let (v, cost) = c.cheapest_passing.unwrap();
    let at = r
        .points
        .iter()
        .find(|p| p.monthly_output_tokens == v)
        .unwrap();
    assert!(at.checks[0].passes && at.strategies[0].p50 == cost);
    assert!(v <= cap && cap < cheapest_overall.monthly_output_tokens);
    for p in &r.points {
        assert_eq!(p.checks[0].passes, p.monthly_output_tokens <= cap);
        assert!(p.monthly_total_tokens > p.monthly_output_tokens);
    }
}
