//! Never lose a user's data: `--out` is a new folder, an empty one, or one
//! fleetsim wrote (its manifest lists fleetsim's files, and only those are
//! replaced); `--requests-out` never replaces a folder, device or link;
//! concurrent runs are locked out and the leftovers of dead runs removed.

use std::fs;
use std::path::Path;

use super::common::*;

const SCENARIO: &str = r#"name = "safe"
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
[montecarlo]
replications = 2
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path(), "s.toml", SCENARIO);
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_folder_of_the_user_s_own_files_is_refused_before_any_work() {
    let dir = setup();
    let proj = dir.path().join("proj");
    fs::create_dir(&proj).unwrap();
    fs::write(proj.join("notes.txt"), "mine").unwrap();
    let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "proj", "--quiet"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));
    assert_eq!(names(&proj), vec!["notes.txt"]);
    assert_eq!(fs::read_to_string(proj.join("notes.txt")).unwrap(), "mine");
    // A regular file given as --out stays as it was.
    fs::write(dir.path().join("afile"), "mine too").unwrap();
    let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "afile", "--quiet"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("afile")).unwrap(),
        "mine too"
    );
    // So do the other commands that write folders.
    for args in [
        &["validate", "--dataset", "D", "--out", "proj", "-q"][..],
        &["merge", "nonexistent.json", "--out", "proj"][..],
    ] {
        let out = fleetsim(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(names(&proj), vec!["notes.txt"], "{args:?}");
    }
    // Nothing is left beside them either.
    assert_eq!(names(dir.path()), vec!["afile", "proj", "s.toml"]);
}

#[test]
fn a_folder_fleetsim_wrote_is_updated_and_what_else_is_in_it_kept() {
    let dir = setup();
    let run = |text: &str| {
        write_scenario(dir.path(), "s.toml", text);
        let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "o", "--quiet"]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run(SCENARIO);
    let o = dir.path().join("o");
    assert!(o.join(".fleetsim-manifest.json").exists());
    assert!(o.join("timeseries_gpus.svg").exists());
    fs::write(o.join("my-analysis.txt"), "mine").unwrap();
    // The strategy is renamed: its old chart was fleetsim's and goes, the
    // user's file stays.
    run(&SCENARIO.replace("name = \"gpus\"", "name = \"fleet\""));
    assert!(o.join("timeseries_fleet.svg").exists());
    assert!(!o.join("timeseries_gpus.svg").exists());
    assert_eq!(
        fs::read_to_string(o.join("my-analysis.txt")).unwrap(),
        "mine"
    );
    let manifest = fs::read_to_string(o.join(".fleetsim-manifest.json")).unwrap();
    assert!(manifest.contains("timeseries_fleet.svg") && !manifest.contains("my-analysis"));
}

#[test]
fn merging_into_the_run_folder_keeps_its_parts() {
    let dir = setup();
    for k in ["1/2", "2/2"] {
        let out = fleetsim(dir.path(), &["run", "s.toml", "--shard", k, "--quiet"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let parts = dir.path().join("outputs/safe/parts");
    assert_eq!(names(&parts), vec!["part-1-of-2.json", "part-2-of-2.json"]);
    let out = fleetsim(
        dir.path(),
        &[
            "merge",
            "outputs/safe/parts/part-1-of-2.json",
            "outputs/safe/parts/part-2-of-2.json",
            "--out",
            "outputs/safe",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(&parts), vec!["part-1-of-2.json", "part-2-of-2.json"]);
    assert!(dir.path().join("outputs/safe/summary.json").exists());
}

#[test]
fn requests_out_never_replaces_a_folder_a_device_or_a_link() {
    let dir = setup();
    fs::create_dir(dir.path().join("d")).unwrap();
    fs::write(dir.path().join("target"), "mine").unwrap();
    std::os::unix::fs::symlink("target", dir.path().join("link")).unwrap();
    for bad in ["d", "link", "/dev/null"] {
        let out = fleetsim(
            dir.path(),
            &[
                "run",
                "s.toml",
                "--out",
                "o",
                "--quiet",
                "--requests-out",
                bad,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
    assert!(dir.path().join("d").is_dir());
    assert_eq!(
        fs::read_to_string(dir.path().join("target")).unwrap(),
        "mine"
    );
    assert!(!dir.path().join("o").exists(), "refused before any work");
    // A regular file the user names is theirs to overwrite.
    let out = fleetsim(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--out",
            "o",
            "--quiet",
            "--requests-out",
            "target",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        fs::read_to_string(dir.path().join("target"))
            .unwrap()
            .starts_with("id,")
    );
}

#[test]
fn a_live_run_locks_its_folder_and_a_dead_run_s_leftovers_are_removed() {
    let dir = setup();
    // A lock held by a live process (this test) refuses the run.
    fs::write(dir.path().join(".o.lock"), std::process::id().to_string()).unwrap();
    let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "o", "--quiet"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another fleetsim run"),
        "{}",
        stderr(&out)
    );
    // Left by processes that are gone (pids above any pid_max): a lock, a
    // staging folder and a temporary file are cleaned up, the run proceeds.
    let dead = "4000000000";
    fs::write(dir.path().join(".o.lock"), dead).unwrap();
    fs::create_dir(dir.path().join(format!(".o.staging-{dead}"))).unwrap();
    fs::write(
        dir.path().join(format!(".o.staging-{dead}/summary.json")),
        "{}",
    )
    .unwrap();
    fs::write(dir.path().join(format!(".o.tmp-{dead}")), "x").unwrap();
    let out = fleetsim(dir.path(), &["run", "s.toml", "--out", "o", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(dir.path()), vec!["o", "s.toml"]);
}

#[test]
fn a_shard_never_replaces_a_file_that_is_not_a_part() {
    // Found by the hostile-input campaign: `--shard 1/2 --out u` overwrote
    // the user's u/part-1-of-2.json.
    let dir = setup();
    fs::create_dir(dir.path().join("u")).unwrap();
    fs::write(dir.path().join("u/part-1-of-2.json"), "MYDATA").unwrap();
    let args = ["run", "s.toml", "--shard", "1/2", "--out", "u", "--quiet"];
    let out = fleetsim(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("u/part-1-of-2.json")).unwrap(),
        "MYDATA"
    );
    // An earlier part file is fleetsim's own: a re-run replaces it.
    fs::remove_file(dir.path().join("u/part-1-of-2.json")).unwrap();
    assert!(fleetsim(dir.path(), &args).status.success());
    assert!(fleetsim(dir.path(), &args).status.success());
}

#[test]
fn requests_inside_the_results_folder_are_refused_before_any_work() {
    // Found by the campaign: the run finished, then could not move its
    // results in (exit 1), or replaced the requests file with them.
    let dir = setup();
    for (out, req) in [("x", "x/req.csv"), ("f", "f"), ("y", "y/summary.json")] {
        let args = [
            "run",
            "s.toml",
            "--out",
            out,
            "--requests-out",
            req,
            "--quiet",
        ];
        let o = fleetsim(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{out} {req}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("inside the results folder"),
            "{}",
            stderr(&o)
        );
        assert!(!dir.path().join(out).exists(), "{out}: nothing written");
    }
}
