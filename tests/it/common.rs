//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetsim::metrics::{Outcome, RequestRecord};
use fleetsim::montecarlo::{Batch, NoProgress, run_batch};
use fleetsim::scenario::{Scenario, parse};
use fleetsim::simulation::{Observer, SimOptions, simulate};
use fleetsim::summary::RunSummary;

/// Parses a scenario written in a test; trace paths resolve in `dir`.
pub fn scenario_in(text: &str, dir: &Path) -> Scenario {
    let mut loader = |p: &str| std::fs::read(dir.join(p)).map_err(|e| e.to_string());
    match parse(text, "test.toml", &mut loader) {
        Ok(s) => s,
        Err(e) => panic!("test scenario does not parse: {e}"),
    }
}

pub fn scenario(text: &str) -> Scenario {
    scenario_in(text, Path::new("."))
}

/// Runs replications 0..n of a scenario and summarizes them.
pub fn run_toml(text: &str, n: u64) -> (Scenario, Batch, RunSummary) {
    let s = scenario(text);
    let indices: Vec<u64> = (0..n).collect();
    let batch = run_batch(
        &s,
        s.montecarlo.seed,
        &indices,
        &SimOptions::default(),
        &NoProgress,
    );
    let summary = RunSummary::build(
        &fleetsim::montecarlo::RunMeta::of(&s, s.montecarlo.seed),
        &batch.replications,
    );
    (s, batch, summary)
}

/// Collects every request record of one simulated history.
#[derive(Default)]
pub struct Records(pub Vec<RequestRecord>);

impl Observer for Records {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(*r);
    }
}

/// One replication of strategy 0, with its per-request records sorted by id.
pub fn records(
    s: &Scenario,
    replication: u64,
    options: &SimOptions,
) -> (Outcome, Vec<RequestRecord>) {
    let draws = fleetsim::montecarlo::draws_for(s, s.montecarlo.seed, replication);
    let mut rec = Records::default();
    let out = simulate(
        s,
        0,
        &draws,
        s.montecarlo.seed,
        replication,
        options,
        &mut rec,
    );
    rec.0.sort_by_key(|r| r.id);
    (out, rec.0)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fleetsim"))
}

/// Runs the binary in `dir` with `args`.
pub fn fleetsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses the per-request CSV into rows of fields.
pub fn read_requests_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("requests CSV exists");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,replica,arrival_s,prompt_tokens,output_tokens,admit_s,first_token_s,done_s")
    );
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    rows.sort_by_key(|r| r[0].parse::<u64>().unwrap());
    rows
}

pub fn f(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: `{s}`"))
}

/// Asserts |a − b| ≤ tol with a readable message.
#[track_caller]
pub fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, expected {b} (tolerance {tol})"
    );
}

/// Directory of the shared public traces, if present beside the project.
pub fn shared_traces() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/traces");
    p.is_dir().then_some(p)
}
