//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetsim::metrics::{Outcome, RequestRecord};
use fleetsim::montecarlo::{Batch, NoProgress, run_batch};
use fleetsim::scenario::{Scenario, parse};
use fleetsim::simulation::{Observer, SimOptions, simulate};
use fleetsim::summary::RunSummary;

/// The reference engine semantics (docs/model.md, "Continuous batching"),
/// for a test scenario's `[engine]`: whole-sequence KV reservation, no
/// chunked prefill. With an explicit `step_time`, a scenario built this way
/// keeps its meaning whatever the defaults become.
pub const REFERENCE: &str = "admission = \"reserve\"\nchunked_prefill_tokens = 0\n";

/// Every scenario a test builds names the engine semantics it means
/// (admission, chunking, step model), so that a change of defaults moves no
/// test silently. Shipped scenarios, which mean the product's defaults, are
/// read with [`shipped`] instead.
#[track_caller]
pub fn assert_pinned(text: &str) {
    let keys: &[&str] = if text.contains("admission = \"vllm\"") {
        // The engine-faithful mode always chunks, within its token budget.
        &["admission =", "max_num_batched_tokens =", "step_time ="]
    } else {
        &["admission =", "chunked_prefill_tokens =", "step_time ="]
    };
    for key in keys {
        assert!(
            text.contains(key),
            "a test scenario must say `{key} ...` in its [engine] (see common::REFERENCE):\n{text}"
        );
    }
}

/// A shipped scenario's text, from `scenarios/`.
pub fn shipped(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Writes a test scenario (pinned, see [`assert_pinned`]) into `dir`.
#[track_caller]
pub fn write_scenario(dir: &Path, file: &str, text: &str) -> PathBuf {
    assert_pinned(text);
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

/// Parses a scenario written in a test; trace paths resolve in `dir`.
#[track_caller]
pub fn scenario_in(text: &str, dir: &Path) -> Scenario {
    assert_pinned(text);
    parse_any(text, dir)
}

/// Parses any scenario text (a shipped one, or a test's own) without the
/// pinning check.
pub fn parse_any(text: &str, dir: &Path) -> Scenario {
    let mut loader = |p: &str| {
        std::fs::File::open(dir.join(p))
            .map(|f| Box::new(f) as Box<dyn std::io::Read>)
            .map_err(|e| e.to_string())
    };
    match parse(text, "test.toml", &mut loader) {
        Ok(s) => s,
        Err(e) => panic!("test scenario does not parse: {e}"),
    }
}

#[track_caller]
pub fn scenario(text: &str) -> Scenario {
    scenario_in(text, Path::new("."))
}

/// Runs replications 0..n of a test scenario and summarizes them.
#[track_caller]
pub fn run_toml(text: &str, n: u64) -> (Scenario, Batch, RunSummary) {
    run_scenario(scenario(text), n)
}

/// Runs replications 0..n of a parsed scenario and summarizes them.
pub fn run_scenario(s: Scenario, n: u64) -> (Scenario, Batch, RunSummary) {
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

/// Says on the terminal that a test could not run, and why. Written to the
/// process's stderr directly, past the harness's output capture, so a skip
/// is never silent.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}
