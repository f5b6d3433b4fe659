//! The Monte Carlo layer: reproducibility across threads and shards,
//! uncertain inputs, paired comparisons, sensitivity, precision targets.

use std::path::Path;

use super::common::*;

/// A cheap scenario with uncertain inputs and two strategies.
const UNCERTAIN: &str = r#"name = "mc"
horizon = "10m"
demand_scale = { lognormal = { median = 1.0, sigma = 0.3 } }
[workload]
arrivals = { process = "poisson", rate = 3.0 }
prompt_tokens = 200
output_tokens = { dist = "lognormal", median = 50, sigma = 0.8 }
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 32
kv_capacity_tokens = 100000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 2e-5, decode_per_seq_s = { uniform = [1e-4, 3e-4] } }
[[strategy]]
name = "base"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = { uniform = [2.0, 3.0] } } ]
[[strategy]]
name = "double"
pools = [ { kind = "reserved", replicas = 2, price_per_gpu_hour = { uniform = [2.0, 3.0] } } ]
"#;

fn write_scenario(dir: &Path, text: &str) {
    std::fs::write(dir.join("s.toml"), text).unwrap();
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = fleetsim(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn bytes(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn thread_count_does_not_change_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    for (out, threads) in [("t1", "1"), ("t2", "2"), ("t5", "5")] {
        run_ok(
            dir.path(),
            &[
                "run",
                "s.toml",
                "--replications",
                "24",
                "--threads",
                threads,
                "--quiet",
                "--out",
                out,
            ],
        );
    }
    for f in ["summary.json", "replications.csv"] {
        let one = bytes(dir.path(), &format!("t1/{f}"));
        assert_eq!(
            one,
            bytes(dir.path(), &format!("t2/{f}")),
            "{f}: 1 vs 2 threads"
        );
        assert_eq!(
            one,
            bytes(dir.path(), &format!("t5/{f}")),
            "{f}: 1 vs 5 threads"
        );
    }
}

#[test]
fn merged_shards_equal_the_unsharded_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    run_ok(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--replications",
            "10",
            "--quiet",
            "--out",
            "full",
        ],
    );
    for k in 1..=4 {
        let spec = format!("{k}/4");
        run_ok(
            dir.path(),
            &[
                "run",
                "s.toml",
                "--replications",
                "10",
                "--shard",
                &spec,
                "--quiet",
                "--out",
                "parts",
            ],
        );
    }
    let parts: Vec<String> = (1..=4)
        .rev()
        .map(|k| format!("parts/part-{k}-of-4.json"))
        .collect();
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--out", "merged", "--quiet"]);
    run_ok(dir.path(), &args);
    for f in ["summary.json", "replications.csv"] {
        assert_eq!(
            bytes(dir.path(), &format!("full/{f}")),
            bytes(dir.path(), &format!("merged/{f}")),
            "{f}"
        );
    }
}

#[test]
fn merging_parts_of_different_runs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    for (seed, out) in [("1", "a"), ("2", "b")] {
        for k in ["1/2", "2/2"] {
            run_ok(
                dir.path(),
                &[
                    "run",
                    "s.toml",
                    "--replications",
                    "4",
                    "--seed",
                    seed,
                    "--shard",
                    k,
                    "--quiet",
                    "--out",
                    out,
                ],
            );
        }
    }
    let refused = |args: &[&str], what: &str| {
        let out = fleetsim(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(what), "{}", stderr(&out));
        assert!(!dir.path().join("m").exists(), "nothing written");
    };
    refused(
        &[
            "merge",
            "a/part-1-of-2.json",
            "b/part-2-of-2.json",
            "--out",
            "m",
        ],
        "different runs",
    );
    refused(
        &["merge", "a/part-1-of-2.json", "--out", "m"],
        "shard 2/2 is missing",
    );
    refused(
        &[
            "merge",
            "a/part-1-of-2.json",
            "a/part-1-of-2.json",
            "--out",
            "m",
        ],
        "given twice",
    );
    refused(
        &["merge", "s.toml", "--out", "m"],
        "not a fleetsim part file",
    );
    refused(&["run", "s.toml", "--shard", "3/2"], "K/N");
}

#[test]
fn uncertain_inputs_are_drawn_once_per_replication_for_every_strategy() {
    let (_, batch, summary) = run_toml(UNCERTAIN, 60);
    let price = 2;
    for r in &batch.replications {
        assert_eq!(
            r.draws.values.len(),
            4,
            "demand, decode coefficient, two prices"
        );
        assert!((2.0..=3.0).contains(&r.draws.values[price]));
        // Reserved cost is exactly linear in the drawn price.
        let cost = r.outcomes[0].by_name("total_cost_usd").unwrap();
        close(
            cost,
            2.0 * r.draws.values[price] * 600.0 / 3600.0,
            1e-9,
            "cost from the drawn price",
        );
    }
    // The drawn price decides the base strategy's cost entirely.
    let s = &summary.strategies[0].sensitivity;
    let by_price = s
        .iter()
        .find(|x| {
            x.input.ends_with("pools[0].price_per_gpu_hour") && x.input.starts_with("strategy[0]")
        })
        .unwrap();
    close(
        by_price.spearman_total_cost,
        1.0,
        1e-12,
        "rank correlation of cost with price",
    );
    let demand = s.iter().find(|x| x.input == "demand_scale").unwrap();
    assert!(
        demand.spearman_total_cost.abs() < 0.4,
        "reserved cost does not depend on demand: {}",
        demand.spearman_total_cost
    );
    // Every strategy of a replication saw the same arrivals (same demand draw).
    for r in &batch.replications {
        assert_eq!(
            r.outcomes[0].by_name("requests_arrived"),
            r.outcomes[1].by_name("requests_arrived")
        );
    }
}

#[test]
fn paired_comparison_against_the_first_strategy() {
    let (_, batch, summary) = run_toml(UNCERTAIN, 40);
    let cmp = summary.strategies[1].versus_first.as_ref().unwrap();
    assert_eq!(cmp.baseline, "base");
    // Twice the replicas (each with its own uniform price draw): mean difference
    // = mean of (2 p2 − p1) × 10 min, with a CI from the paired differences.
    let diffs: Vec<f64> = batch
        .replications
        .iter()
        .map(|r| {
            r.outcomes[1].by_name("total_cost_usd").unwrap()
                - r.outcomes[0].by_name("total_cost_usd").unwrap()
        })
        .collect();
    let d = fleetsim::stats::Summary::of(&diffs);
    close(
        cmp.cost_difference_usd.mean,
        d.mean,
        1e-12,
        "mean paired difference",
    );
    close(
        cmp.cost_difference_usd.ci95_low,
        d.ci95_low,
        1e-12,
        "paired CI",
    );
    assert!(
        cmp.cost_difference_usd.ci95_low > 0.0,
        "twice the GPUs cost more"
    );
    assert_eq!(cmp.prob_cheaper, 0.0);
    assert!(
        cmp.slo_attainment_difference.mean >= 0.0,
        "more replicas never serve worse here"
    );
    assert!(summary.strategies[0].versus_first.is_none());
}

#[test]
fn until_precision_adds_replications_until_the_target() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    let stdout = run_ok(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--replications",
            "10",
            "--until-precision",
            "0.02",
            "--out",
            "p",
        ],
    );
    assert!(stdout.contains("reached"), "{stdout}");
    let s: serde_json::Value =
        serde_json::from_slice(&bytes(dir.path(), "p/summary.json")).unwrap();
    let p = &s["precision"];
    assert_eq!(p["reached"], true);
    assert!(p["achieved_relative_half_width"].as_f64().unwrap() <= 0.02);
    let n = s["replications"].as_u64().unwrap();
    assert!(n > 10 && n.is_multiple_of(10), "batches of 10: {n}");
    for st in s["strategies"].as_array().unwrap() {
        let m = &st["metrics"]["total_cost_usd"];
        let half = (m["ci95_high"].as_f64().unwrap() - m["ci95_low"].as_f64().unwrap()) / 2.0;
        assert!(half / m["mean"].as_f64().unwrap() <= 0.02);
    }
    // A cap below what the target needs: the summary says so.
    run_ok(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--replications",
            "10",
            "--until-precision",
            "0.001",
            "--max-replications",
            "20",
            "--quiet",
            "--out",
            "q",
        ],
    );
    let s: serde_json::Value =
        serde_json::from_slice(&bytes(dir.path(), "q/summary.json")).unwrap();
    assert_eq!(s["precision"]["reached"], false);
    assert_eq!(s["replications"], 20);
}

#[test]
fn no_progress_output_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    let out = fleetsim(
        dir.path(),
        &["run", "s.toml", "--replications", "4", "--out", "x"],
    );
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "stderr is a pipe here: {}",
        stderr(&out)
    );
}

#[test]
fn bad_monte_carlo_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{UNCERTAIN}[montecarlo]\nreplications = 0\n"),
            "`montecarlo.replications` = 0 is not allowed",
        ),
        (
            UNCERTAIN.replace("{ uniform = [2.0, 3.0] }", "{ uniform = [3.0, 2.0] }"),
            "low 3 is above high 2",
        ),
        (
            UNCERTAIN.replace(
                "{ lognormal = { median = 1.0, sigma = 0.3 } }",
                "{ normal = { mean = 1.0, sd = -0.1 } }",
            ),
            "sd -0.1 is negative",
        ),
    ];
    for (text, what) in cases {
        write_scenario(dir.path(), &text);
        let out = fleetsim(dir.path(), &["run", "s.toml"]);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(what), "{}", stderr(&out));
        assert!(!dir.path().join("outputs").exists());
    }
    write_scenario(dir.path(), UNCERTAIN);
    for args in [
        ["--replications", "0"],
        ["--until-precision", "2"],
        ["--threads", "0"],
    ] {
        let mut a = vec!["run", "s.toml"];
        a.extend(args);
        let out = fleetsim(dir.path(), &a);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn edited_part_files_are_refused_never_merged_wrong_nor_a_panic() {
    // Found by the hostile-input campaign: edited parts that panicked or
    // were merged into wrong results.
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), UNCERTAIN);
    for k in ["1/2", "2/2"] {
        run_ok(
            dir.path(),
            &[
                "run",
                "s.toml",
                "--replications",
                "4",
                "--shard",
                k,
                "--quiet",
                "--out",
                "parts",
            ],
        );
    }
    let read = |k: u32| -> serde_json::Value {
        serde_json::from_slice(&bytes(dir.path(), &format!("parts/part-{k}-of-2.json"))).unwrap()
    };
    type Edit = fn(&mut serde_json::Value, &serde_json::Value);
    let edits: [(&str, Edit); 15] = [
        (
            "a time series in the part without replication 0",
            |p, other| {
                p["timeseries"] = other["timeseries"].clone();
            },
        ),
        ("a pool renamed in one replication", |p, _| {
            p["replications"][0]["outcomes"][0]["pools"][0]["name"] = "zzz".into();
        }),
        ("a histogram count that is not its buckets'", |p, _| {
            p["latencies"][0][1]["count"] = 3.into();
        }),
        ("bucket counts that overflow", |p, _| {
            let b = &mut p["latencies"][0][1]["buckets"];
            b[0][1] = serde_json::json!(1u64 << 63);
            b[1][1] = serde_json::json!(1u64 << 63);
        }),
        ("another writer version", |p, _| {
            p["version"] = "9.9.9".into()
        }),
        ("another format version", |p, _| {
            p["format"] = "fleetsim-part/1".into();
        }),
        ("two metrics swapped", |p, _| {
            p["metrics"].as_array_mut().unwrap().swap(0, 1);
        }),
        ("a pool metric renamed", |p, _| {
            p["pool_metrics"][0] = "gpu_seconds".into();
        }),
        ("an unknown pool kind", |p, _| {
            p["replications"][0]["outcomes"][0]["pools"][0]["kind"] = "leased".into();
        }),
        ("a replication of shard 1 given as shard 2's", |p, other| {
            p["replications"][0]["index"] = other["replications"][0]["index"].clone();
        }),
        ("a shortened metric list", |p, _| {
            p["replications"][0]["outcomes"][0]["values"]
                .as_array_mut()
                .unwrap()
                .pop();
        }),
        ("shard 0", |p, _| p["shard"]["k"] = 0.into()),
        ("an absurd shard count", |p, _| {
            p["shard"]["n"] = serde_json::json!(u64::MAX);
        }),
        ("a missing outcome", |p, _| {
            p["replications"][0]["outcomes"]
                .as_array_mut()
                .unwrap()
                .pop();
        }),
        ("missing latencies", |p, _| {
            p["latencies"].as_array_mut().unwrap().clear();
        }),
    ];
    for (what, edit) in edits {
        let mut p2 = read(2);
        edit(&mut p2, &read(1));
        std::fs::write(
            dir.path().join("parts/edited.json"),
            serde_json::to_vec(&p2).unwrap(),
        )
        .unwrap();
        let out = fleetsim(
            dir.path(),
            &[
                "merge",
                "parts/part-1-of-2.json",
                "parts/edited.json",
                "--out",
                "merged",
                "--quiet",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(
            !dir.path().join("merged").exists(),
            "{what}: nothing written"
        );
    }
    // The part holding replication 0 without its time series (the report
    // would silently lose every time-series chart).
    let mut p1 = read(1);
    p1["timeseries"] = serde_json::Value::Null;
    std::fs::write(
        dir.path().join("parts/edited.json"),
        serde_json::to_vec(&p1).unwrap(),
    )
    .unwrap();
    let out = fleetsim(
        dir.path(),
        &[
            "merge",
            "parts/edited.json",
            "parts/part-2-of-2.json",
            "--out",
            "merged",
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("time series"), "{}", stderr(&out));
}

/// Two valid part files of one run (shards 1/2 and 2/2), made once.
fn valid_parts() -> &'static (Vec<u8>, Vec<u8>) {
    static PARTS: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    PARTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_scenario(dir.path(), UNCERTAIN);
        for k in ["1/2", "2/2"] {
            run_ok(
                dir.path(),
                &[
                    "run",
                    "s.toml",
                    "--replications",
                    "3",
                    "--shard",
                    k,
                    "--quiet",
                    "--out",
                    "parts",
                ],
            );
        }
        (
            bytes(dir.path(), "parts/part-1-of-2.json"),
            bytes(dir.path(), "parts/part-2-of-2.json"),
        )
    })
}

/// Every node of a JSON value, as a path of keys and indices.
fn paths(v: &serde_json::Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let mut p = here.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = here.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(v, |v, k| match v {
        serde_json::Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        _ => &mut v[k.as_str()],
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: super::robustness::fuzz_cases(1500), ..Default::default() })]

    /// Merge as strict as a file format: a part file edited anywhere (a
    /// value replaced by a hostile one, an element dropped or repeated, or
    /// raw bytes flipped or cut) is merged or refused, never a panic.
    #[test]
    fn merge_never_panics_on_an_edited_part(pick in 0usize..10_000, how in 0u8..4, value in 0usize..9, cut in 0usize..100_000) {
        use proptest::prelude::*;
        let (p1, p2) = valid_parts();
        let edited: Vec<u8> = match how {
            0..=2 => {
                let mut v: serde_json::Value = serde_json::from_slice(p2).unwrap();
                let mut all = Vec::new();
                paths(&v, Vec::new(), &mut all);
                let path = all[pick % all.len()].clone();
                let hostile = [
                    serde_json::json!(0), serde_json::json!(-1), serde_json::json!(u64::MAX),
                    serde_json::json!(1e308), serde_json::json!(0.5), serde_json::json!("x"),
                    serde_json::json!(null), serde_json::json!([]), serde_json::json!({}),
                ];
                match how {
                    0 => *node(&mut v, &path) = hostile[value].clone(),
                    _ => {
                        // Drop or repeat an array element one level up.
                        if let Some((last, parent)) = path.split_last()
                            && let serde_json::Value::Array(a) = node(&mut v, parent)
                            && let Ok(i) = last.parse::<usize>()
                        {
                            if how == 1 { a.remove(i); } else { let x = a[i].clone(); a.insert(i, x); }
                        }
                    }
                }
                serde_json::to_vec(&v).unwrap()
            }
            _ => {
                let mut b = p2.clone();
                let i = cut % b.len();
                if value % 2 == 0 { b.truncate(i); } else { b[i] ^= 1 << (value % 8); }
                b
            }
        };
        let parts: Result<Vec<_>, String> = [p1.as_slice(), edited.as_slice()]
            .iter()
            .map(|b| fleetsim::montecarlo::shard::Part::from_bytes(b))
            .collect();
        // Whatever is accepted is a whole, well-formed run.
        if let Ok(parts) = parts
            && let Ok(m) = fleetsim::montecarlo::shard::merge(&parts)
        {
            let idx: Vec<u64> = m.batch.replications.iter().map(|r| r.index).collect();
            prop_assert_eq!(idx, (0..m.total_replications).collect::<Vec<_>>());
            for r in &m.batch.replications {
                prop_assert_eq!(r.outcomes.len(), m.meta.strategies.len());
                for o in &r.outcomes {
                    prop_assert_eq!(o.values.len(), fleetsim::metrics::Metric::COUNT);
                }
            }
        }
    }
}
