//! The validation suite (validation/runs.csv, measured on real engines):
//! the error the README's "Fidelity" section reports cannot regress. Each
//! bound is the reported median absolute percentage error over a dataset's
//! `ok` load levels (rounded to 0.1%, so 0.05% of slack).

use fleetsim::validate::{self, Row};

/// The step model fitted on dataset A only (`fleetsim calibrate --runs
/// shipped --dataset A --fit mfu,mbu,overhead_s,per_seq_s,allreduce_hop_s`),
/// for the out-of-sample figures.
const FIT_ON_A: &str = "step_time = { model = \"calibrated\", mfu = 0.6711, mbu = 0.8332, overhead_s = 1.3229e-3, per_seq_s = 1.149e-6, allreduce_hop_s = 3.935e-6 }";

fn ok_rows(datasets: &[&str], engine: &str) -> Vec<Row> {
    let runs: Vec<validate::Run> = validate::parse_runs(validate::RUNS_CSV)
        .unwrap()
        .into_iter()
        .filter(|r| datasets.contains(&r.dataset.as_str()) && r.is_ok())
        .collect();
    let rows: Vec<Row> = validate::validate(&runs, engine)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{} not simulated: {}", e.0.run, e.1)))
        .collect();
    assert_eq!(rows.len(), runs.len());
    rows
}

fn check(rows: &[Row], dataset: &str, bounds: &[(&str, f64)]) {
    let mine: Vec<&Row> = rows.iter().filter(|r| r.run.dataset == dataset).collect();
    assert!(!mine.is_empty(), "no row of dataset {dataset}");
    for (metric, reported) in bounds {
        let s = validate::error_stats(&mine, metric).unwrap();
        assert!(
            s.median_ape * 100.0 <= reported + 0.05,
            "dataset {dataset}: median APE of {metric} {:.2}% regressed past the reported {reported}%",
            s.median_ape * 100.0
        );
    }
    let over: Vec<&str> = mine
        .iter()
        .filter(|r| r.simulated_overload)
        .map(|r| r.run.run.as_str())
        .collect();
    assert!(
        over.is_empty(),
        "stable on the real engine, overloaded here: {over:?}"
    );
}

#[test]
fn shipped_defaults_keep_their_reported_error() {
    let rows = ok_rows(&["A", "C", "D", "E"], "");
    let m = |t: f64, e: f64, p: f64, i: f64| {
        [
            ("ttft_mean", t),
            ("e2e_mean", e),
            ("e2e_p99", p),
            ("itl_mean", i),
        ]
    };
    check(&rows, "A", &m(7.2, 3.4, 9.0, 3.3));
    check(&rows, "C", &m(9.0, 5.0, 8.5, 4.9));
    check(&rows, "D", &m(6.2, 3.9, 4.4, 2.9));
    check(&rows, "E", &[("ttft_mean", 10.7), ("itl_mean", 16.0)]);
}

#[test]
fn fitted_on_a_the_model_meets_the_targets_on_c() {
    let rows = ok_rows(&["C"], FIT_ON_A);
    // Reported out-of-sample figures; the targets (15, 8, 12, 8) are looser.
    check(
        &rows,
        "C",
        &[
            ("ttft_mean", 10.1),
            ("e2e_mean", 5.5),
            ("e2e_p99", 10.3),
            ("itl_mean", 5.6),
        ],
    );
}

#[test]
fn figures_outside_the_validated_range_are_named() {
    // The defaults are the point here, so these scenarios are not pinned.
    let scenario = |text: &str| {
        fleetsim::scenario::parse(text, "test.toml", &mut |_| Err("no files".into())).unwrap()
    };
    let coverage = validate::Coverage::shipped();
    assert!(coverage.gpus.contains("h100-sxm"));
    assert_eq!(
        coverage.tensor_parallel.iter().copied().collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    let with = |engine: &str, pools: &str| {
        scenario(&format!(
            "[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n[engine]\n{engine}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n[[strategy]]\nname = \"other\"\npools = [ {pools} ]\n"
        ))
    };
    let same_pool = "{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }";
    // Inside: a validated model, GPU, precision and TP with the defaults.
    let inside = with(
        "model = \"llama-3.1-70b\"\ngpu = \"h100-sxm\"\nprecision = \"bf16\"\ntensor_parallel = 4",
        same_pool,
    );
    assert_eq!(coverage.scenario_notes(&inside), Vec::<String>::new());
    // Each figure outside is named once, with the pool that brings it.
    let outside = with(
        "model = \"llama-3.1-405b\"\ngpu = \"h100-sxm\"\nprecision = \"int4\"\ntensor_parallel = 8\nstep_time = { model = \"roofline\" }",
        "{ name = \"b\", kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0, gpu = \"b200\" }",
    );
    let notes = coverage.scenario_notes(&outside);
    let has = |needle: &str| notes.iter().filter(|n| n.contains(needle)).count();
    assert_eq!(has("`roofline`"), 1, "{notes:?}");
    assert_eq!(has("precision int4"), 1, "{notes:?}");
    assert_eq!(has("tensor_parallel 8"), 1, "{notes:?}");
    assert_eq!(has("model llama-3.1-405b"), 1, "{notes:?}");
    assert_eq!(has("pool b: GPU b200"), 1, "{notes:?}");
    assert_eq!(notes.len(), 5, "{notes:?}");
    // Constants a scenario sets (even uncertain ones) are not the validated ones.
    let set = with(
        "step_time = { model = \"calibrated\", mfu = { uniform = [0.5, 0.7] } }",
        same_pool,
    );
    let notes = coverage.scenario_notes(&set);
    assert!(
        notes.len() == 1 && notes[0].contains("constants mfu set by the scenario"),
        "{notes:?}"
    );
    // The reference semantics are not a real engine.
    let reference = with("admission = \"reserve\"", same_pool);
    let notes = coverage.scenario_notes(&reference);
    assert!(
        notes.len() == 1 && notes[0].contains("scheduler `reserve`"),
        "{notes:?}"
    );
}
