//! The `fleetsim` binary: outputs per the output contract (docs/outputs.md), and bad input rejected with
//! a clear message, exit code 2 and nothing written.

use std::path::Path;

use super::common::*;

const CONTRACT_METRICS: &[&str] = &[
    "total_cost_usd",
    "cost_per_month_usd",
    "cost_per_m_output_tokens",
    "api_baseline_cost_usd",
    "requests_arrived",
    "requests_completed",
    "requests_overflowed",
    "requests_dropped",
    "input_tokens",
    "output_tokens",
    "queue_wait_p50_s",
    "queue_wait_p99_s",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
    "e2e_p50_s",
    "e2e_p99_s",
    "slo_attainment",
    "gpu_hours",
    "busy_fraction",
    "mean_batch_size",
    "throughput_tokens_per_s",
    "cold_starts",
    "preemptions",
    "interruptions",
    "peak_replicas",
];

const STAT_KEYS: &[&str] = &[
    "mean",
    "std",
    "ci95_low",
    "ci95_high",
    "p5",
    "p25",
    "p50",
    "p75",
    "p95",
    "p99",
    "min",
    "max",
];

#[test]
fn default_run_writes_the_spec_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsim(dir.path(), &["--help"]);
    assert!(out.status.success());
    let out = fleetsim(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cost / month"),
        "the table is printed: {stdout}"
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("outputs/default/summary.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "scenario",
        "seed",
        "replications",
        "horizon_s",
        "strategies",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks `{key}`");
    }
    assert_eq!(summary["scenario"], "default");
    let strategies = summary["strategies"].as_array().unwrap();
    assert!(!strategies.is_empty());
    for st in strategies {
        assert!(st["name"].is_string());
        for m in CONTRACT_METRICS {
            let stats = st["metrics"]
                .get(*m)
                .unwrap_or_else(|| panic!("metric `{m}` missing"));
            for k in STAT_KEYS {
                assert!(stats.get(*k).is_some(), "`{m}` lacks `{k}`");
            }
        }
        for k in ["prob_cheaper_than_api", "cost_var95_usd", "cost_cvar95_usd"] {
            assert!(st["risk"].get(k).is_some(), "risk lacks `{k}`");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("outputs/default/replications.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("replication,strategy,"));
    for m in CONTRACT_METRICS {
        assert!(
            header.split(',').any(|c| c == *m),
            "replications.csv lacks `{m}`"
        );
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_result() {
    let dir = tempfile::tempdir().unwrap();
    let scen = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/reference.toml");
    let run = |out: &str, seed: &str| {
        let o = fleetsim(
            dir.path(),
            &["run", scen, "--quiet", "--out", out, "--seed", seed],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "--quiet prints nothing");
        std::fs::read(dir.path().join(out).join("summary.json")).unwrap()
    };
    let a = run("a", "7");
    assert_eq!(a, run("b", "7"));
    assert_ne!(a, run("c", "8"));
}

/// Runs a bad scenario; returns stderr after checking exit 2 and no outputs.
fn rejected(text: &str, files: &[(&str, &[u8])]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let out = fleetsim(dir.path(), &["run", "bad.toml"]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2, got {:?}: {err}",
        out.status.code()
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "no panic: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one paragraph: {err}");
    assert!(
        !dir.path().join("outputs").exists()
            || std::fs::read_dir(dir.path().join("outputs"))
                .unwrap()
                .next()
                .is_none(),
        "nothing written to outputs/"
    );
    err
}

const GOOD_TAIL: &str =
    "[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 2.0 } ]\n";

fn with_workload(workload: &str, engine: &str) -> String {
    format!("name = \"bad\"\n[workload]\n{workload}\n[engine]\n{engine}\n{GOOD_TAIL}")
}

const POISSON: &str = "arrivals = { process = \"poisson\", rate = 1.0 }";

#[test]
fn unknown_field_names_the_field_and_line() {
    let err = rejected(&with_workload(POISSON, "max_bacth = 8"), &[]);
    assert!(err.contains("max_bacth") && err.contains("line 5"), "{err}");
}

#[test]
fn wrong_type_is_explained() {
    let err = rejected(&with_workload(POISSON, "max_batch = \"lots\""), &[]);
    assert!(
        err.contains("engine.max_batch") && err.contains("line 5") && err.contains("a number"),
        "{err}"
    );
}

#[test]
fn negative_and_non_finite_numbers_are_refused() {
    let err = rejected(
        &with_workload("arrivals = { process = \"poisson\", rate = -1.0 }", ""),
        &[],
    );
    assert!(
        err.contains("workload.arrivals.rate")
            && err.contains("-1")
            && err.contains(">= 0")
            && err.contains("line 3"),
        "{err}"
    );
    let err = rejected(&with_workload(POISSON, "max_batch = nan"), &[]);
    assert!(
        err.contains("engine.max_batch") && err.contains("NaN"),
        "{err}"
    );
    let err = rejected(&with_workload(POISSON, "gpu_memory_utilization = inf"), &[]);
    assert!(
        err.contains("gpu_memory_utilization") && err.contains("<= 1"),
        "{err}"
    );
}

#[test]
fn zero_replicas_is_refused() {
    let text = format!(
        "name = \"bad\"\n[workload]\n{POISSON}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 0, price_per_gpu_hour = 2.0 }} ]\n"
    );
    let err = rejected(&text, &[]);
    assert!(
        err.contains("strategy[0].pools[0].replicas")
            && err.contains(">= 1")
            && err.contains("line 5"),
        "{err}"
    );
}

#[test]
fn a_model_that_does_not_fit_is_refused() {
    let err = rejected(
        &with_workload(
            POISSON,
            "model = \"llama-3.1-405b\"\ngpu = \"h100-sxm\"\nprecision = \"fp8\"\ntensor_parallel = 2",
        ),
        &[],
    );
    assert!(
        err.contains("405") && err.contains("GB") && err.contains("tensor_parallel"),
        "{err}"
    );
}

#[test]
fn a_prompt_larger_than_the_kv_cache_is_refused() {
    let err = rejected(
        &with_workload(
            &format!("{POISSON}\nprompt_tokens = 5000\noutput_tokens = 10"),
            "kv_capacity_tokens = 4096",
        ),
        &[],
    );
    assert!(
        err.contains("workload.prompt_tokens") && err.contains("4096"),
        "{err}"
    );
}

#[test]
fn empty_and_malformed_traces_are_refused() {
    let trace = "arrivals = { process = \"trace\", path = \"t.csv\" }";
    let err = rejected(&with_workload(trace, ""), &[("t.csv", b"")]);
    assert!(
        err.contains("workload.arrivals.path") && err.contains("t.csv"),
        "{err}"
    );
    let err = rejected(
        &with_workload(trace, ""),
        &[(
            "t.csv",
            b"TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n",
        )],
    );
    assert!(err.contains("line 2") && err.contains("yesterday"), "{err}");
    let err = rejected(&with_workload(trace, ""), &[]);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn unknown_presets_list_the_known_ones() {
    let err = rejected(&with_workload(POISSON, "gpu = \"h1000\""), &[]);
    assert!(
        err.contains("h1000") && err.contains("h100-sxm") && err.contains("mi300x"),
        "{err}"
    );
}

#[test]
fn missing_scenario_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsim(dir.path(), &["run", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.toml"));
    assert!(!Path::new(&dir.path().join("outputs")).exists());
}

#[test]
fn presets_lists_every_gpu_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsim(dir.path(), &["presets"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "h100-sxm",
        "h200",
        "b200",
        "a100-80gb",
        "l40s",
        "l4",
        "rtx-4090",
        "mi300x",
        "llama-3.1-8b",
        "llama-3.1-70b",
        "llama-3.1-405b",
        "mixtral-8x7b",
        "deepseek-v3",
        "qwen3-32b",
        "gemma-3-27b",
    ] {
        assert!(text.contains(key), "presets lacks {key}");
    }
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    let mut n = 0;
    for entry in walk(dir) {
        let out = fleetsim(dir, &["check", entry.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {}",
            entry.display(),
            stderr(&out)
        );
        n += 1;
    }
    assert!(n >= 4, "only {n} scenarios");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn with_pools(pools: &str) -> String {
    format!("name = \"bad\"\n[workload]\n{POISSON}\n[[strategy]]\n{pools}\n")
}

#[test]
fn fleet_mistakes_are_refused() {
    let err = rejected(&with_pools("pools = []"), &[]);
    assert!(
        err.contains("strategy[0].pools")
            && err.contains("overflow = \"api\"")
            && err.contains("line 5"),
        "{err}"
    );
    let err = rejected(
        &with_pools(
            "pools = [ { kind = \"on_demand\", min_replicas = 4, max_replicas = 2, price_per_gpu_hour = 2.0 } ]",
        ),
        &[],
    );
    assert!(
        err.contains("min_replicas")
            && err.contains("at most max_replicas (2)")
            && err.contains("line 5"),
        "{err}"
    );
    let err = rejected(
        &with_pools("pools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = -2.0 } ]"),
        &[],
    );
    assert!(
        err.contains("price_per_gpu_hour") && err.contains("-2") && err.contains(">= 0"),
        "{err}"
    );
    let err = rejected(
        &with_pools(
            "pools = [ { kind = \"serverless\", max_replicas = 2, price_per_gpu_second = 0.001, gpu = \"l4\", tensor_parallel = 1 } ]",
        ),
        &[],
    );
    assert!(
        err.contains("strategy[0].pools[0].tensor_parallel")
            && err.contains("weights")
            && err.contains("l4"),
        "{err}"
    );
    let err = rejected(
        &with_pools("pools = [ { kind = \"preemptible\", replicas = 1 } ]"),
        &[],
    );
    assert!(
        err.contains("preemptible") && err.contains("spot") && err.contains("serverless"),
        "{err}"
    );
}

#[test]
fn unwritable_standard_output_ends_with_exit_1_and_no_panic() {
    use std::process::{Command, Stdio};
    // A full disk: one line on stderr.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .arg("presets")
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: cannot write to standard output") && err.lines().count() == 1,
        "{err}"
    );
    // A closed pipe (`| head`): silent. The reading end is closed before
    // the program starts, so its first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .arg("presets")
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_interrupted_run_writes_the_replications_that_finished() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let text = shipped("reference.toml").replace("replications = 1", "replications = 100000");
    std::fs::write(dir.path().join("long.toml"), text).unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(["run", "long.toml", "--quiet", "--out", "o"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let signal = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -INT");
    };
    let child = start();
    std::thread::sleep(std::time::Duration::from_secs(2));
    signal(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("o/summary.json")).unwrap()).unwrap();
    let done = summary["partial"]["completed"].as_u64().unwrap();
    assert_eq!(summary["partial"]["requested"].as_u64(), Some(100000));
    assert!(done > 0 && done < 100000, "{done}");
    assert_eq!(summary["replications"].as_u64(), Some(done));
    // The finished replications are 0..done, with no gap.
    let csv = std::fs::read_to_string(dir.path().join("o/replications.csv")).unwrap();
    let mut idx: Vec<u64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    idx.dedup();
    assert_eq!(idx, (0..done).collect::<Vec<_>>());
    let html = std::fs::read_to_string(dir.path().join("o/report.html")).unwrap();
    assert!(html.contains("Partial result"));
    // A second signal ends the run at once.
    let child = start();
    std::thread::sleep(std::time::Duration::from_millis(500));
    signal(child.id());
    std::thread::sleep(std::time::Duration::from_millis(50));
    signal(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
}

#[test]
fn resume_continues_an_interrupted_run_to_the_same_result() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let text = shipped("reference.toml").replace("replications = 1", "replications = 80");
    std::fs::write(dir.path().join("s.toml"), text).unwrap();
    let args = ["run", "s.toml", "--quiet", "--threads", "1", "--out"];
    // Interrupted after some replications finished (waits longer on a slow machine).
    let mut wait_ms = 1000;
    let done = loop {
        let child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(args)
            .arg("o")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        let ok = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -INT");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
        if dir.path().join("o/resume.json").exists() {
            assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
            let summary: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.path().join("o/summary.json")).unwrap())
                    .unwrap();
            break summary["partial"]["completed"].as_u64().unwrap();
        }
        wait_ms *= 2;
        assert!(wait_ms < 30_000, "no replication finished");
    };
    assert!(done > 0 && done < 80, "{done}");
    // A resume of another run is refused, and leaves the folder as it was.
    let mut other = args.to_vec();
    other.extend(["o", "--resume", "--seed", "7"]);
    let out = fleetsim(dir.path(), &other);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("another run"), "{}", stderr(&out));
    assert!(dir.path().join("o/resume.json").exists());
    let out = fleetsim(
        dir.path(),
        &["merge", "o/resume.json", "--out", "m", "--quiet"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a shard"), "{}", stderr(&out));
    // Resumed: the whole run, byte for byte what an uninterrupted one writes.
    let mut resume = args.to_vec();
    resume.extend(["o", "--resume"]);
    let out = fleetsim(dir.path(), &resume);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !dir.path().join("o/resume.json").exists(),
        "a finished run has no resume file"
    );
    let mut whole = args.to_vec();
    whole.push("whole");
    assert!(fleetsim(dir.path(), &whole).status.success());
    for f in ["summary.json", "replications.csv", "report.html"] {
        assert!(
            std::fs::read(dir.path().join("o").join(f)).unwrap()
                == std::fs::read(dir.path().join("whole").join(f)).unwrap(),
            "{f} differs after --resume"
        );
    }
}

#[test]
fn a_scenario_with_nothing_random_runs_one_replication_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let det = r#"name = "det"
[workload]
arrivals = { process = "trace", requests = [[0.0, 100, 10], [1.0, 200, 20], [2.5, 50, 5]] }
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 8
kv_capacity_tokens = 100000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 1e-5 }
[[strategy]]
name = "r"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 2.0 } ]
[montecarlo]
replications = 30
"#;
    // The positive control: an on-demand replica whose start time is drawn.
    let random = det.replace(
        r#"pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 2.0 } ]"#,
        "autoscale = { interval = \"1s\", target_inflight_per_replica = 1 }\npools = [ { kind = \"on_demand\", min_replicas = 0, max_replicas = 1, price_per_gpu_hour = 2.0, provisioning = { uniform = [1.0, 5.0] }, load_time = 0 } ]",
    );
    assert_ne!(det, random);
    for (text, n, deterministic) in [(det.to_string(), 1, true), (random, 30, false)] {
        std::fs::write(dir.path().join("s.toml"), &text).unwrap();
        let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "o"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("o/summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["replications"].as_u64(), Some(n));
        assert_eq!(summary["deterministic"].as_bool(), Some(deterministic));
        let said =
            String::from_utf8_lossy(&out.stdout).contains("Nothing in this scenario is random");
        assert_eq!(said, deterministic);
    }
}
