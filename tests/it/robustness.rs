//! Bad input gets an error, never a panic: every shipped scenario with its
//! numbers replaced by hostile values must parse to `Ok` or `Err`, and
//! whatever parses must simulate a short history without panicking.

use proptest::prelude::*;

use super::common::*;
use fleetsim::scenario::parse;
use fleetsim::simulation::{SimOptions, simulate};

/// Byte ranges of the numeric literals outside comments and strings.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("");
        let bytes = code.as_bytes();
        let mut i = 0;
        let mut in_string = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'"' {
                in_string = !in_string;
            }
            let starts = !in_string
                && (c.is_ascii_digit()
                    || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)));
            let after_ident = i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b'.'
                    || bytes[i - 1] == b'-');
            if starts && !after_ident {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'.' || bytes[j] == b'_')
                {
                    j += 1;
                }
                spans.push((offset + i, offset + j));
                i = j;
            } else {
                i += 1;
            }
        }
        offset += line.len();
    }
    spans
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        // Plausible values, so many mutants parse and get simulated.
        6 => (1u32..2000).prop_map(|v| v.to_string()),
        3 => (1u32..1000).prop_map(|v| format!("{}", v as f64 / 1000.0)),
        1 => Just("0".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("-0.5".to_string()),
        1 => Just("1e300".to_string()),
        1 => Just("nan".to_string()),
        1 => Just("inf".to_string()),
        1 => Just("0.000001".to_string()),
        1 => Just("4294967296".to_string()),
        1 => Just("\"x\"".to_string()),
        1 => Just("{ uniform = [5, 1] }".to_string()),
        1 => Just("{ uniform = [0.5, 0.9] }".to_string()),
        1 => Just("{ search = [] }".to_string()),
        1 => (0u32..100_000).prop_map(|v| v.to_string()),
    ]
}

fn scenarios() -> Vec<(String, String)> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    [
        "default.toml",
        "reference.toml",
        "always-on-vs-scale-to-zero.toml",
        "spot-heavy.toml",
        "owned-3y.toml",
        "published/p3-70b-2xa100.toml",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap()))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn hostile_numbers_never_panic(pick in 0usize..6, which in any::<prop::sample::Index>(), value in hostile(), which2 in any::<prop::sample::Index>(), value2 in hostile()) {
        let all = scenarios();
        let (name, text) = &all[pick];
        let spans = number_spans(text);
        prop_assume!(!spans.is_empty());
        let mut text = text.clone();
        // Two replacements, the later one first so the earlier offsets hold.
        let mut picks = [(which.index(spans.len()), value), (which2.index(spans.len()), value2)];
        picks.sort_by_key(|p| std::cmp::Reverse(p.0));
        let mut last = usize::MAX;
        for (k, v) in picks {
            if k == last { continue; }
            last = k;
            let (a, b) = spans[k];
            text.replace_range(a..b, &v);
        }
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
        let mut loader = |p: &str| {
        std::fs::File::open(dir.join(p))
            .map(|f| Box::new(f) as Box<dyn std::io::Read>)
            .map_err(|e| e.to_string())
    };
        match parse(&text, name, &mut loader) {
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains(name.as_str()), "error names the file: {msg}");
            }
            Ok(mut s) => {
                // A short history of every strategy must run (skipping the
                // replacements that only make it long: a huge but allowed
                // arrival rate or token count).
                s.horizon_s = s.horizon_s.min(20.0);
                if s.search.is_empty() && !light(&s) {
                    // Heavy but allowed: it must stop at the event budget
                    // (or finish) instead of running on.
                    let draws = fleetsim::montecarlo::draws_for(&s, 1, 0);
                    let budget = SimOptions { max_events: 20_000, ..SimOptions::default() };
                    for k in 0..s.strategies.len() {
                        let o = simulate(&s, k, &draws, 1, 0, &budget, &mut ());
                        // Finished (every request ended once) or stopped and flagged.
                        let arrived = o.by_name("requests_arrived").unwrap();
                        let ended = o.by_name("requests_completed").unwrap() + o.by_name("requests_overflowed").unwrap() + o.by_name("requests_dropped").unwrap();
                        prop_assert!(o.stopped_at_event_budget || arrived == ended, "{arrived} arrived, {ended} ended");
                    }
                }
                if s.search.is_empty() && light(&s) {
                    let draws = fleetsim::montecarlo::draws_for(&s, 1, 0);
                    for k in 0..s.strategies.len() {
                        let o = simulate(&s, k, &draws, 1, 0, &SimOptions::default(), &mut ());
                        let arrived = o.by_name("requests_arrived").unwrap();
                        let ended = o.by_name("requests_completed").unwrap() + o.by_name("requests_overflowed").unwrap() + o.by_name("requests_dropped").unwrap();
                        prop_assert_eq!(arrived, ended);
                    }
                }
            }
        }
    }
}

/// Whether a history is cheap enough to simulate in a property test.
fn light(s: &fleetsim::scenario::Scenario) -> bool {
    use fleetsim::scenario::{Arrivals, DiurnalProfile, LengthDist, Param};
    let m = s.uncertain.medians();
    let v = |p: &Param| p.value(&m);
    let rate = match &s.workload.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Renewal { rate, .. } => v(rate),
        Arrivals::Mmpp { rates, .. } => rates.iter().map(v).fold(0.0, f64::max),
        Arrivals::Diurnal {
            profile: DiurnalProfile::Hourly(h),
            ..
        } => h.iter().map(v).fold(0.0, f64::max),
        Arrivals::Diurnal {
            profile:
                DiurnalProfile::Sinusoid {
                    mean_rate,
                    peak_to_mean,
                    ..
                },
            ..
        } => v(mean_rate) * v(peak_to_mean),
        Arrivals::Stages { stages, .. } => stages.iter().map(|(r, _)| v(r)).fold(0.0, f64::max),
        Arrivals::Trace { .. } => 0.0,
        // Each client sends about once per request's latency: count a
        // client as one request per second.
        Arrivals::ClosedLoop { clients, .. } => v(clients),
    } * v(&s.demand_scale);
    let max_len = |d: &Option<LengthDist>| match d {
        Some(LengthDist::Fixed(p)) => v(p),
        Some(
            LengthDist::Uniform { max, .. }
            | LengthDist::LogNormal { max, .. }
            | LengthDist::Exponential { max, .. }
            | LengthDist::Empirical { max, .. },
        ) => v(max),
        None => 0.0,
    };
    // A single-sequence decode step, to skip engines that are merely slow.
    let step = fleetsim::serving::StepModel::new(&s.engine, &m);
    let one = step.iteration_s(&fleetsim::serving::IterationLoad {
        decode_seqs: 1,
        decode_context_tokens: 1000,
        context_tokens: 1000,
        ..Default::default()
    });
    rate <= 200.0 && max_len(&s.workload.output_tokens) <= 20_000.0 && one < 1.0
}

#[test]
fn number_spans_skip_comments_strings_and_names() {
    let spans = number_spans("a = 12 # 99\nname = \"llama-3.1-8b\"\nb = -3.5e2\nmax_batch = 256\n");
    let text = "a = 12 # 99\nname = \"llama-3.1-8b\"\nb = -3.5e2\nmax_batch = 256\n";
    let got: Vec<&str> = spans.iter().map(|&(a, b)| &text[a..b]).collect();
    assert_eq!(got, vec!["12", "-3.5e2", "256"]);
    assert!(!scenario_files_are_empty());
}

fn scenario_files_are_empty() -> bool {
    scenarios().iter().any(|(_, t)| t.is_empty())
}

#[test]
fn numbers_that_would_exhaust_time_or_memory_are_refused() {
    // Found by the hostile-input campaign: each hung or blew up memory
    // while `check` called it valid.
    let dir = tempfile::tempdir().unwrap();
    let base = shipped("reference.toml");
    let cases: [(&str, String, &[&str], &str); 8] = [
        (
            "replicas",
            base.replace("replicas = 2,", "replicas = 0x7fffffff,"),
            &[],
            "replicas",
        ),
        (
            "cv",
            base.replace(
                "{ process = \"poisson\", rate = 15.0 }",
                "{ process = \"renewal\", rate = 15.0, cv = 9.2e18 }",
            ),
            &[],
            "cv",
        ),
        (
            "replications",
            base.replace("replications = 1", "replications = 4000000000"),
            &[],
            "replications",
        ),
        (
            "horizon",
            base.replace("horizon = \"2000s\"", "horizon = 0.5"),
            &[],
            "horizon",
        ),
        (
            "price",
            base.replace("price_per_gpu_hour = 2.0", "price_per_gpu_hour = 1e308"),
            &[],
            "price_per_gpu_hour",
        ),
        (
            "threads",
            base.clone(),
            &["--threads", "100000"],
            "--threads",
        ),
        (
            "flag replications",
            base.clone(),
            &["--replications", "4000000000"],
            "--replications",
        ),
        (
            "event budget",
            base.clone(),
            &["--max-events", "1000"],
            "--max-events",
        ),
    ];
    for (what, text, flags, needle) in cases {
        assert!(
            !flags.is_empty() || text != base,
            "{what}: the replacement must apply"
        );
        std::fs::write(dir.path().join("s.toml"), &text).unwrap();
        let mut args = vec!["run", "s.toml", "--quiet", "--out", "o"];
        args.extend(flags);
        let out = fleetsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{what}: {}", stderr(&out));
        assert!(!dir.path().join("o").exists(), "{what}: nothing written");
    }
    std::fs::write(dir.path().join("s.toml"), &base).unwrap();
    for flags in [&["--to", "1e6"][..], &["--steps", "100000"]] {
        let mut args = vec!["breakeven", "s.toml", "--quiet"];
        args.extend(flags);
        let out = fleetsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
    }
}

#[test]
fn the_event_budget_holds_in_every_command() {
    // reference.toml: 15 req/s for 2,000 s, about 30,000 arrivals a history.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), shipped("reference.toml")).unwrap();
    std::fs::write(
        dir.path().join("size.toml"),
        shipped("size-reserved-fleet.toml"),
    )
    .unwrap();
    let cases: [(&[&str], &str); 5] = [
        // Refused before simulating: the arrivals alone exceed the budget.
        (
            &["run", "s.toml", "--max-events", "20000"],
            "about 30,000 requests would arrive",
        ),
        (
            &[
                "breakeven",
                "s.toml",
                "--to",
                "10",
                "--max-events",
                "200000",
            ],
            "about 300,000 requests would arrive",
        ),
        // Arrivals fit, the history does not: stopped, and no result.
        (
            &["run", "s.toml", "--max-events", "40000"],
            "was stopped at its budget",
        ),
        (
            &[
                "breakeven",
                "s.toml",
                "--from",
                "0.5",
                "--to",
                "1",
                "--steps",
                "2",
                "--max-events",
                "40000",
            ],
            "was stopped at its budget",
        ),
        // size-reserved-fleet: about 65,000 arrivals an hour.
        (
            &["size", "size.toml", "--max-events", "100000"],
            "was stopped at its budget",
        ),
    ];
    for (args, needle) in cases {
        let mut args = args.to_vec();
        args.extend(["--quiet", "--out", "o", "--replications", "2"]);
        let out = fleetsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(!dir.path().join("o").exists(), "{args:?}: nothing written");
    }
}

#[test]
fn durations_that_would_stall_a_history_are_refused() {
    // Found by the property test above: a provisioning delay of 1e300 s kept
    // the autoscaler ticking forever.
    let base = "name = \"s\"\n[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nkv_capacity_tokens = 100000\nstep_time = { model = \"linear\", fixed_s = 0.01 }\n";
    let cases = [
        (
            "[[strategy]]\npools = [ { kind = \"on_demand\", max_replicas = 2, price_per_gpu_hour = 1.0, provisioning = 1e300 } ]",
            "provisioning",
        ),
        (
            "[[strategy]]\npools = [ { kind = \"serverless\", max_replicas = 2, price_per_gpu_second = 0.001, cold_start = 1e12 } ]",
            "cold_start",
        ),
        (
            "[[strategy]]\npools = [ { kind = \"serverless\", max_replicas = 2, price_per_gpu_second = 0.001, cold_start = { lognormal = { median = 1e9, sigma = 1.0 } } } ]",
            "cold_start",
        ),
        (
            "horizon = 1e300\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]",
            "horizon",
        ),
    ];
    for (tail, field) in cases {
        let text = if tail.starts_with("horizon") {
            format!("{tail}\n{base}").replacen("[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n", "", 1) + "[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n"
        } else {
            format!("{base}{tail}\n")
        };
        let err = parse(&text, "s.toml", &mut |_| Err("no files".into()))
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn names_that_cannot_name_files_or_would_garble_a_terminal_are_refused() {
    let base = shipped("reference.toml");
    let two = base.replace(
        "[montecarlo]",
        "[[strategy]]\nname = \"always_on\"\npools = [ { kind = \"reserved\", replicas = 3, price_per_gpu_hour = 2.0 } ]\n\n[montecarlo]",
    );
    let long = "x".repeat(5_000_000);
    let cases = [
        // `always on` and `always_on` would write the same chart file.
        (
            two.replace("name = \"always-on\"", "name = \"always on\""),
            "strategy[1].name",
        ),
        (
            base.replace("name = \"always-on\"", "name = \"bad\\u001b[31m\""),
            "strategy[0].name",
        ),
        (
            base.replace("name = \"always-on\"", &format!("name = \"{long}\"")),
            "strategy[0].name",
        ),
        (
            base.replace(
                "name = \"reference\"",
                &format!("name = \"{}\"", &long[..101]),
            ),
            "`name`",
        ),
    ];
    for (text, field) in cases {
        let err = parse(&text, "s.toml", &mut |_| Err("no files".into()))
            .err()
            .unwrap_or_else(|| panic!("accepted a bad name for {field}"));
        assert!(err.to_string().contains(field), "{err}");
    }
    // Different file names stay allowed.
    assert!(parse(&two, "s.toml", &mut |_| Err("no files".into())).is_ok());
}

/// Cases per run of the fuzzing property tests (FLEETSIM_FUZZ_CASES raises
/// it for a longer campaign).
pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("FLEETSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first lines of each shipped trace format, and a plain CSV.
fn trace_seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/traces"));
    let mut seeds: Vec<Vec<u8>> = [
        "azure_conv_10min.csv.gz",
        "azure_code_2023.csv.gz",
        "mooncake_conversation.jsonl.gz",
    ]
    .iter()
    .map(|f| {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut fleetsim::scenario::trace::decompressing(
                std::fs::File::open(dir.join(f)).unwrap(),
            )
            .unwrap(),
            &mut raw,
        )
        .unwrap();
        raw.split(|&b| b == b'\n')
            .take(40)
            .collect::<Vec<_>>()
            .join(&b'\n')
    })
    .collect();
    seeds.push(
        b"arrival_s,prompt_tokens,output_tokens\n0.0,100,10\n0.5,200,20\n1.5,50,5\n".to_vec(),
    );
    seeds.push(b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n0,ChatGPT,472,18,490,Conversation log\n1,GPT-4,1087,0,1087,Conversation log\n".to_vec());
    seeds
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(2000), ..ProptestConfig::default() })]

    /// Every trace format, its bytes flipped, cut, duplicated or spliced
    /// with another format's: parsed or refused, never a panic; what
    /// parses is sorted and finite.
    #[test]
    fn mutated_traces_parse_or_are_refused(seed in 0usize..5, other in 0usize..5, at in any::<prop::sample::Index>(), at2 in any::<prop::sample::Index>(), how in 0u8..5, byte in any::<u8>()) {
        let seeds = trace_seeds();
        let mut b = seeds[seed].clone();
        let i = at.index(b.len());
        match how {
            0 => b[i] = byte,
            1 => b.truncate(i),
            2 => { let tail = b[i..].to_vec(); b.extend_from_slice(&tail); }
            3 => { let o = &seeds[other]; let j = at2.index(o.len()); b.splice(i..i, o[j..].iter().copied()); }
            _ => b.insert(i, byte),
        }
        if let Ok(t) = fleetsim::scenario::trace::parse_trace(&b[..], None, None) {
            let times: Vec<f64> = t.rows.iter().map(|r| r.t).collect();
            prop_assert!(times.iter().all(|x| x.is_finite()), "non-finite time");
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "unsorted");
        }
    }
}

#[test]
fn refusals_name_the_line_and_read_well() {
    // Found by the hostile-input campaign: these named no line or field,
    // or printed 324 decimals.
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[u8], &str); 3] = [
        (
            b"name = \"a\"\nhorizon = \"1h\"\ndescription = \"caf\xe9\"\n",
            "line 3, column 19: the scenario is not UTF-8",
        ),
        (
            b"name = \"a\"\nname = \"b\"\n",
            "line 2, column 1: in `name`: duplicate key",
        ),
        (
            b"name = \"a\"\nhorizon = 5e-324\n[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n",
            "`horizon` = 5e-324 is not allowed",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(dir.path().join("s.toml"), text).unwrap();
        let out = fleetsim(dir.path(), &["check", "s.toml"]);
        assert_eq!(out.status.code(), Some(2), "{needle}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{needle}: {}", stderr(&out));
    }
    // Control characters never reach the terminal, a 5 MB name is not
    // echoed whole, and numbers inside distributions read as 1e308.
    let big = format!("name = \"{}\"\n", "n".repeat(5_000_000));
    let dist = "name = \"a\"\ndemand_scale = { lognormal = { median = 1e308, sigma = 0.2 } }\n[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n";
    for (text, needle) in [
        (
            "name = \"ref\\u0007\\u001b[31mX\"\n",
            "\"ref\\u{7}\\u{1b}[31mX\"",
        ),
        (big.as_str(), "(5000002 characters)"),
        (dist, "its median 1e308 is outside"),
    ] {
        std::fs::write(dir.path().join("s.toml"), text).unwrap();
        let out = fleetsim(dir.path(), &["check", "s.toml"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{needle}: {err}");
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(
            err.len() < 1_000 && !err.contains('\u{1b}'),
            "{}",
            err.len()
        );
    }
}

#[test]
fn a_backlog_past_the_memory_bound_stops_the_history() {
    // Found by the hostile-input campaign: 30M requests at one instant
    // (a 640 KB gzip) held 15.7 GB. The bound stops such a history, flagged,
    // as the event budget does; below it the same history finishes.
    let text = "name = \"burst\"\nhorizon = \"10s\"\n[workload]\narrivals = { process = \"poisson\", rate = 2000.0 }\nprompt_tokens = 100\noutput_tokens = 100\n[engine]\nadmission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 8\nkv_capacity_tokens = 100000\nstep_time = { model = \"linear\", fixed_s = 0.01 }\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n";
    let s = scenario(text);
    let draws = fleetsim::montecarlo::draws_for(&s, 1, 0);
    let bounded = SimOptions {
        max_in_system: 5_000,
        ..SimOptions::default()
    };
    let o = simulate(&s, 0, &draws, 1, 0, &bounded, &mut ());
    assert!(o.stopped_at_event_budget);
    let waiting = o.by_name("requests_arrived").unwrap() - o.by_name("requests_completed").unwrap();
    assert!(waiting <= 5_001.0, "{waiting} in the system when stopped");
    let o = simulate(&s, 0, &draws, 1, 0, &SimOptions::default(), &mut ());
    assert!(!o.stopped_at_event_budget);
    let arrived = o.by_name("requests_arrived").unwrap();
    assert!(arrived > 19_000.0 && o.by_name("requests_completed").unwrap() == arrived);
}

#[test]
fn validate_refuses_what_would_validate_nothing() {
    // Found by the campaign: both exited 0 having validated 0 levels.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.csv"), "").unwrap();
    for args in [
        &["validate", "--dataset", "ZZZ", "--quiet", "--out", "o"][..],
        &["validate", "--runs", "empty.csv", "--quiet", "--out", "o"],
    ] {
        let out = fleetsim(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!dir.path().join("o").exists());
    }
}
