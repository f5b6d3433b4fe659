//! The repository stands alone: nothing in it, and nothing the binary
//! prints, refers to documents outside it; the docs cover every metric; the
//! source keys the shipped scenarios cite resolve in docs/sources.md.

use std::path::{Path, PathBuf};

use super::common::*;
use fleetsim::metrics::{Metric, PoolMetric};
use fleetsim::scenario::presets::sources::{cited_keys, source_index};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every text file of the repository (not build output or results).
fn repository_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if !["target", ".git", "outputs"].contains(&name.as_str()) {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let mut out = vec![Path::new(ROOT).join("outputs/README.md")];
    walk(Path::new(ROOT), &mut out);
    out.retain(|p| std::fs::read_to_string(p).is_ok());
    out
}

/// Names of documents that live outside the repository. Built from parts
/// so that this file does not match itself.
fn outside_references() -> Vec<String> {
    vec![
        ["SP", "EC"].concat(),
        ["calibration", ".md"].concat(),
        ["../", "shared"].concat(),
        ["shared", "/reference"].concat(),
        ["shared", "/traces"].concat(),
        ["shared", "/validation"].concat(),
    ]
}

#[test]
fn nothing_in_the_repository_refers_outside_it() {
    let mut hits = Vec::new();
    for p in repository_files() {
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, line) in text.lines().enumerate() {
            for r in outside_references() {
                let whole_word = line.match_indices(&r).any(|(i, _)| {
                    let after = line[i + r.len()..].chars().next();
                    r.len() > 4 || !after.is_some_and(|c| c.is_ascii_alphabetic())
                });
                if whole_word {
                    hits.push(format!(
                        "{}:{}: {line}",
                        p.strip_prefix(ROOT).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "references to documents outside the repository:\n{}",
        hits.join("\n")
    );
}

#[test]
fn nothing_the_binary_prints_refers_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["presets"][..],
        &["--help"],
        &["run", "--help"],
        &["check", "--help"],
    ] {
        let out = fleetsim(dir.path(), args);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for r in outside_references() {
            assert!(
                !text.contains(&r),
                "`fleetsim {}` prints {r}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn every_metric_is_defined_in_docs_outputs() {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/outputs.md")).unwrap();
    for m in Metric::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", m.key())),
            "docs/outputs.md lacks `{}`",
            m.key()
        );
    }
    for m in PoolMetric::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", m.key())),
            "docs/outputs.md lacks pool `{}`",
            m.key()
        );
    }
}

#[test]
fn source_keys_cited_by_the_shipped_scenarios_resolve() {
    let index = source_index();
    let mut cited = 0;
    for p in repository_files() {
        if p.extension().is_some_and(|e| e == "toml")
            && p.starts_with(Path::new(ROOT).join("scenarios"))
        {
            let text = std::fs::read_to_string(&p).unwrap();
            let comments: String = text
                .lines()
                .filter_map(|l| l.split_once('#').map(|(_, c)| c))
                .collect::<Vec<_>>()
                .join("\n");
            for key in cited_keys(&comments) {
                cited += 1;
                assert!(
                    index.iter().any(|e| e.key == key),
                    "{} cites [{key}], which docs/sources.md does not list",
                    p.display()
                );
            }
        }
    }
    assert!(cited >= 8, "the scenarios cite their prices ({cited} keys)");
}
