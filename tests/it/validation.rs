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
