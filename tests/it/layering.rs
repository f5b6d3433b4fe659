//! ARCHITECTURE.md is the authority on layering: its `layers` block lists
//! the library's top-level modules from the bottom up, and a module may
//! refer only to modules of lower layers (never up, never sideways). This
//! test reads that block and every file under `src/`, resolves each
//! `crate::…`, `fleetsim::…` and `super::…` path (in `use` lines and inline
//! alike, comments and strings removed) to the top-level module it names,
//! and fails on any reference that breaks the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Layers from ARCHITECTURE.md: module → (layer, modules it must not use
/// even though they are lower).
fn layers() -> BTreeMap<String, (usize, BTreeSet<String>)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let block = text
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    let mut out = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let layer: usize = words.next().unwrap().parse().expect("a layer number");
        let words: Vec<&str> = words.collect();
        let banned: BTreeSet<String> = words
            .iter()
            .filter_map(|w| w.strip_prefix('-'))
            .map(String::from)
            .collect();
        for m in words.iter().filter(|w| !w.starts_with('-')) {
            let prev = out.insert(m.to_string(), (layer, banned.clone()));
            assert!(prev.is_none(), "{m} is listed twice in the layers block");
        }
    }
    out
}

/// The source without comments, string and char literals.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#') => {
                // Raw string r"…" or r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"')
                    || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
                {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(e) => {
                        out.push_str("' '");
                        i = e + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of each item of a use tree starting at `s`
/// (`x::…` gives x; `{a::b, c}` gives a and c).
fn first_segments(s: &str) -> Vec<String> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('{') {
        let mut depth = 1;
        let mut item_start = true;
        let mut out = Vec::new();
        for (k, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => item_start = true,
                c if item_start && depth == 1 && (c.is_ascii_alphabetic() || c == '_') => {
                    out.push(ident_at(&rest[k..]).to_string());
                    item_start = false;
                }
                _ => {}
            }
        }
        out
    } else {
        vec![ident_at(s).to_string()]
    }
}

/// Module path of a file under src/ (`src/plot/cost.rs` → [plot, cost];
/// `src/plot/mod.rs` → [plot]; `src/lib.rs` → []).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Top-level modules each file refers to, with the line of each reference.
fn references(file: &Path, rel: &Path) -> Vec<(String, usize)> {
    let code = code_only(&std::fs::read_to_string(file).unwrap());
    let here = module_path(rel);
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for prefix in ["crate::", "fleetsim::"] {
            let mut from = 0;
            while let Some(p) = line[from..].find(prefix) {
                let at = from + p;
                from = at + prefix.len();
                let before = line[..at].chars().last();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                for m in first_segments(&line[from..]) {
                    out.push((m, n + 1));
                }
            }
        }
        // `super::` chains: k of them from module a::b::c name a::b::c[..3-k];
        // only a chain reaching the crate root can name another module.
        let mut from = 0;
        while let Some(p) = line[from..].find("super::") {
            let at = from + p;
            let before = line[..at].chars().last();
            from = at + "super::".len();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut rest = &line[at..];
            let mut depth = 0;
            while let Some(r) = rest.strip_prefix("super::") {
                depth += 1;
                rest = r;
            }
            from = line.len() - rest.len();
            if depth == here.len() {
                for m in first_segments(rest) {
                    out.push((m, n + 1));
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (file, line, from, to) of every reference that breaks the layering.
fn violations() -> Vec<String> {
    let layers = layers();
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        // lib.rs and main.rs are the crate roots: they declare, not use.
        let Some(top) = module_path(rel).first().cloned() else {
            continue;
        };
        let Some((layer, banned)) = layers.get(&top) else {
            bad.push(format!(
                "{}: module `{top}` is not in ARCHITECTURE.md's layers block",
                rel.display()
            ));
            continue;
        };
        for (m, line) in references(f, rel) {
            if m == top || m == "self" {
                continue;
            }
            let Some((other, _)) = layers.get(&m) else {
                continue; // an item of the crate root, not a module
            };
            if other >= layer || banned.contains(&m) {
                bad.push(format!(
                    "src/{}:{line}: `{top}` (layer {layer}) uses `{m}` (layer {other}{})",
                    rel.display(),
                    if banned.contains(&m) {
                        ", banned for it"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    bad
}

#[test]
fn no_module_refers_to_a_layer_above_it() {
    let bad = violations();
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn every_top_level_module_is_placed_in_a_layer() {
    let layers = layers();
    let lib = std::fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(
                layers.contains_key(m),
                "src/lib.rs declares `{m}`, which ARCHITECTURE.md's layers block does not place"
            );
        }
    }
}

#[test]
fn the_checker_sees_use_lines_inline_paths_groups_and_super() {
    // The checker itself must be able to fail: each form of reference is found.
    let dir = tempfile::tempdir().unwrap();
    let src = "use crate::{alpha::X, beta};\n// crate::gamma in a comment\nlet s = \"crate::delta\";\nfn f() { crate::epsilon::g(); fleetsim::zeta::h(); }\nuse super::super::eta::Y;\n";
    let p = dir.path().join("x.rs");
    std::fs::write(&p, src).unwrap();
    // From src/plot/x.rs (module plot::x), super::super:: is the crate
    // root, so `eta` is another module; from src/plot/sub/x.rs it is `plot`.
    let refs: Vec<String> = references(&p, Path::new("plot/x.rs"))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(refs, ["alpha", "beta", "epsilon", "zeta", "eta"]);
    let refs: Vec<String> = references(&p, Path::new("plot/sub/x.rs"))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(
        refs,
        ["alpha", "beta", "epsilon", "zeta"],
        "super::super:: from plot::sub::x stays in plot"
    );
}
