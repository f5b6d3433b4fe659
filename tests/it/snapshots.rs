//! Snapshots of the output files of a small scenario: `summary.json`,
//! `replications.csv` and the console table, byte for byte (insta; the
//! pinned files are in `tests/it/snapshots/`). Any change to a key, a
//! column, the formatting or a simulated number shows up here as a diff to
//! review; accept an intended one with `INSTA_UPDATE=always cargo test`
//! (or `cargo insta review`) and say why in the commit.

use super::common::*;

/// Two strategies on the reference engine with every feature that reaches
/// the outputs: an uncertain price, a reserved pool, an autoscaled
/// on-demand pool with API overflow, three replications.
const SCENARIO: &str = r#"name = "snap"
horizon = "10m"
[workload]
arrivals = { process = "mmpp", rates = [6.0, 1.0], mean_sojourn = ["1m", "2m"] }
prompt_tokens = { dist = "lognormal", median = 300, sigma = 0.5, max = 4000 }
output_tokens = { dist = "lognormal", median = 80, sigma = 0.7, max = 800 }
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 16
kv_capacity_tokens = 20000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 2e-5, decode_per_seq_s = 5e-4, kv_per_token_s = 1e-7 }
[slo]
ttft = "1s"
tpot = "50ms"
max_queue = "20s"
[api]
input_per_m = 0.5
output_per_m = 1.5
[[strategy]]
name = "reserved"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = { uniform = [2.0, 3.0] } } ]
[[strategy]]
name = "autoscaled"
overflow = "api"
autoscale = { interval = "10s", target_inflight_per_replica = 8, scale_down_delay = "1m" }
pools = [ { kind = "on_demand", min_replicas = 0, max_replicas = 2, price_per_gpu_hour = 3.0, provisioning = 20, load_time = 10 } ]
[montecarlo]
replications = 3
seed = 7
"#;

/// Runs the scenario once through the binary: (summary.json, replications.csv, stdout).
fn outputs() -> &'static (String, String, String) {
    static OUT: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_scenario(dir.path(), "snap.toml", SCENARIO);
        let out = fleetsim(dir.path(), &["run", "snap.toml", "--out", "o"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let read = |f: &str| std::fs::read_to_string(dir.path().join("o").join(f)).unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        // The last line names the (temporary) output directory.
        let stdout = stdout
            .lines()
            .filter(|l| !l.starts_with("Wrote "))
            .collect::<Vec<_>>()
            .join("\n");
        (read("summary.json"), read("replications.csv"), stdout)
    })
}

#[test]
fn summary_json() {
    insta::assert_snapshot!(outputs().0);
}

#[test]
fn replications_csv() {
    insta::assert_snapshot!(outputs().1);
}

#[test]
fn console_table() {
    insta::assert_snapshot!(outputs().2);
}
