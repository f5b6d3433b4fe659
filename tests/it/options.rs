//! Command-line options that other tests do not reach, and the exit codes:
//! 0 success, 1 a runtime failure (nothing half-written), 2 bad input.

use std::path::Path;

use super::common::*;

const TWO_STRATEGIES: &str = r#"name = "opts"
horizon = "2m"
[workload]
arrivals = { process = "poisson", rate = 2.0 }
prompt_tokens = 100
output_tokens = 10
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 8
kv_capacity_tokens = 100000
step_time = { model = "linear", fixed_s = 0.01, prefill_per_token_s = 1e-5 }
[[strategy]]
name = "gpus"
pools = [ { kind = "reserved", replicas = 1, price_per_gpu_hour = 2.0 } ]
[[strategy]]
name = "api"
overflow = "api"
pools = []
[montecarlo]
replications = 2
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), "s.toml", TWO_STRATEGIES);
    dir
}

#[test]
fn requests_strategy_picks_whose_requests_are_written() {
    let dir = setup();
    for (strategy, served_by_replica) in [("gpus", true), ("api", false)] {
        let out = fleetsim(
            dir.path(),
            &[
                "run",
                "s.toml",
                "--quiet",
                "--out",
                "o",
                "--requests-out",
                "r.csv",
                "--requests-strategy",
                strategy,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = read_requests_csv(&dir.path().join("r.csv"));
        assert!(rows.len() > 100, "{} rows", rows.len());
        // On the API no request is on a replica, nor admitted.
        assert!(
            rows.iter().all(|r| r[1].is_empty() != served_by_replica),
            "{strategy}: replica column"
        );
    }
    let out = fleetsim(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--requests-out",
            "r.csv",
            "--requests-strategy",
            "gpu",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"gpu\" is not a strategy") && stderr(&out).contains("gpus, api"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_a_command_a_scenario_file_is_run_and_quiet_prints_nothing() {
    let dir = setup();
    let out = fleetsim(dir.path(), &["s.toml", "--out", "a", "--replications", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("strategy") && stdout.contains("Wrote "),
        "{stdout}"
    );
    assert!(dir.path().join("a/summary.json").exists());
    for quiet in ["-q", "--quiet"] {
        let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "b", quiet]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            out.stdout.is_empty(),
            "{quiet}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn check_says_what_the_scenario_resolves_to() {
    let dir = setup();
    let out = fleetsim(dir.path(), &["check", "s.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "s.toml: valid",
        "horizon 120 s, 2 strategies, 0 uncertain inputs",
        "KV capacity 100000 tokens per replica",
        "strategy gpus: reserved (reserved)",
        "strategy api: API only",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
    assert!(!dir.path().join("outputs").exists(), "check writes nothing");
    std::fs::write(dir.path().join("bad.toml"), "[workload]\n").unwrap();
    let out = fleetsim(dir.path(), &["check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn shared_run_options_are_checked_the_same_by_every_command() {
    let dir = setup();
    std::fs::write(
        dir.path().join("size.toml"),
        TWO_STRATEGIES.replace("replicas = 1,", "replicas = { search = [1, 2] },"),
    )
    .unwrap();
    for (cmd, file) in [
        ("run", "s.toml"),
        ("size", "size.toml"),
        ("breakeven", "s.toml"),
    ] {
        for (flag, value) in [("--replications", "0"), ("--threads", "0")] {
            let out = fleetsim(dir.path(), &[cmd, file, flag, value]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {flag} {value}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains(&format!("{flag} 0 is not allowed")),
                "{cmd}: {}",
                stderr(&out)
            );
        }
    }
    // `size` refuses more candidates than --max-candidates before running
    // (two for the searched strategy, one for the API-only one).
    let out = fleetsim(dir.path(), &["size", "size.toml", "--max-candidates", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("3 candidates") && stderr(&out).contains("--max-candidates 1"),
        "{}",
        stderr(&out)
    );
    // Search spaces are only for `size`.
    for cmd in ["run", "breakeven"] {
        let out = fleetsim(dir.path(), &[cmd, "size.toml"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("is a search space"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn calibrate_takes_the_engine_from_a_scenario_or_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(
        dir.path(),
        "e.toml",
        &TWO_STRATEGIES
            .replace(
                "max_batch = 8",
                "model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"\nprecision = \"bf16\"\ntensor_parallel = 1\nmax_batch = 8",
            )
            .replace("model = \"linear\", fixed_s = 0.01, prefill_per_token_s = 1e-5", "model = \"calibrated\""),
    );
    let point = ["--point", "c=1,isl=128,osl=1024,tok_s=140"];
    // A linear step model has no efficiencies to fit.
    write_scenario(dir.path(), "s.toml", TWO_STRATEGIES);
    let out = fleetsim(
        dir.path(),
        &[&["calibrate", "--scenario", "s.toml"][..], &point].concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`linear`"), "{}", stderr(&out));
    let out = fleetsim(
        dir.path(),
        &[&["calibrate", "--scenario", "e.toml"][..], &point].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("model = \"llama-3.1-8b\"") && text.contains("precision = \"bf16\""),
        "{text}"
    );
    let out = fleetsim(
        dir.path(),
        &[
            &[
                "calibrate",
                "--model",
                "llama-3.1-8b",
                "--gpu",
                "h200",
                "--precision",
                "fp8",
                "--tp",
                "1",
            ][..],
            &point,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gpu = \"h200\"") && text.contains("precision = \"fp8\""),
        "{text}"
    );
    // The calibrated step model unless told otherwise.
    assert!(text.contains("model = \"calibrated\""), "{text}");
    // The default engine (70B on two H100s) with a point it can reach.
    let point_70b = ["--point", "c=1,isl=500,osl=2000,tok_s=52.9"];
    let out = fleetsim(
        dir.path(),
        &[&["calibrate", "--step-model", "roofline"][..], &point_70b].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("model = \"roofline\""));
    // A scenario brings its own step model: the flag would be ignored.
    let out = fleetsim(
        dir.path(),
        &[
            &[
                "calibrate",
                "--scenario",
                "e.toml",
                "--step-model",
                "roofline",
            ][..],
            &point,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = fleetsim(
        dir.path(),
        &[&["calibrate", "--precision", "fp7"][..], &point].concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_runtime_failure_exits_1_and_writes_nothing() {
    // The per-request file cannot be created (its parent is a regular
    // file): the machine refuses after the simulation, exit 1.
    let dir = setup();
    std::fs::write(dir.path().join("blocker"), "a file").unwrap();
    let out = fleetsim(
        dir.path(),
        &["run", "s.toml", "--requests-out", "blocker/req.csv"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("Error: ") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("blocker")).unwrap(),
        "a file",
        "the file in the way is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "s.toml" && n != "blocker")
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert!(!Path::new(&dir.path().join("outputs/opts")).exists());
    // An output folder that cannot exist (its parent is a file) is refused
    // before any work, as input.
    let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "blocker/results"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
