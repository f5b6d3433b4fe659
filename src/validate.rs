//! `fleetsim validate`: the simulator against latencies measured on real
//! GPUs with real serving engines (validation/runs.csv, shipped in the
//! binary). Each run is rebuilt as a scenario (engine limits, KV blocks,
//! token budget, the load as it was generated) and simulated; predicted
//! TTFT, E2E and ITL are compared with the measured ones, per run and load
//! stage, and summarized as absolute percentage errors.
//!
//! Pure: runs and traces come in as text, rows and summaries go out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics::{RequestEnd, RequestRecord};
use crate::montecarlo::draws_for;
use crate::scenario::{self, Scenario};
use crate::simulation::{Observer, SimOptions, simulate};
use crate::stats::percentile;

/// The measured runs shipped with fleetsim.
pub const RUNS_CSV: &str = include_str!("../validation/runs.csv");

/// Per-request traces some runs replay, by file name.
pub const TRACES: &[(&str, &str)] = &[
    (
        "codellama34b_mbt64.csv",
        include_str!("../validation/traces/codellama34b_mbt64.csv"),
    ),
    (
        "codellama34b_mbt4096.csv",
        include_str!("../validation/traces/codellama34b_mbt4096.csv"),
    ),
];

/// One measured run at one load level (a stage, a benchmark, a concurrency).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Run {
    pub run: String,
    pub dataset: String,
    /// Stage index, benchmark index, or concurrency (closed loop).
    pub stage: u32,
    pub status: String,
    pub model: String,
    pub precision: String,
    pub gpu: String,
    pub tp: u32,
    pub max_num_seqs: Option<u32>,
    pub max_num_batched_tokens: Option<u32>,
    pub block_tokens: Option<u32>,
    pub gpu_memory_utilization: Option<f64>,
    pub gpu_kv_blocks: Option<u64>,
    pub prefix_caching: Option<String>,
    /// `stages`, `trace` or `closed_loop`.
    pub load: String,
    /// `rate x seconds;…` for staged loads.
    pub stages: Option<String>,
    pub trace: Option<String>,
    pub benchmark: Option<u32>,
    pub concurrency: Option<u32>,
    pub prompt_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub shared_prefix_tokens: Option<u32>,
    pub prefix_groups: Option<u32>,
    pub ttft_mean_ms: f64,
    pub ttft_p90_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub e2e_mean_ms: Option<f64>,
    pub e2e_p90_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub itl_ms: Option<f64>,
    pub workload: String,
    pub engine: String,
    pub source: String,
    pub notes: String,
}

impl Run {
    /// Runs whose measurements count in accuracy figures.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Parses a runs file (the shipped one, or a user's in the same columns).
pub fn parse_runs(text: &str) -> Result<Vec<Run>, String> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.deserialize::<Run>().enumerate() {
        out.push(rec.map_err(|e| format!("row {}: {e}", i + 2))?);
    }
    Ok(out)
}

/// The measured metrics compared, in report order.
pub const METRICS: &[&str] = &[
    "ttft_mean",
    "ttft_p90",
    "ttft_p99",
    "e2e_mean",
    "e2e_p90",
    "e2e_p99",
    "itl_mean",
];

/// Latencies of one load level, ms (None where not measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latencies {
    pub ttft_mean: Option<f64>,
    pub ttft_p90: Option<f64>,
    pub ttft_p99: Option<f64>,
    pub e2e_mean: Option<f64>,
    pub e2e_p90: Option<f64>,
    pub e2e_p99: Option<f64>,
    pub itl_mean: Option<f64>,
}

impl Latencies {
    pub fn get(&self, metric: &str) -> Option<f64> {
        match metric {
            "ttft_mean" => self.ttft_mean,
            "ttft_p90" => self.ttft_p90,
            "ttft_p99" => self.ttft_p99,
            "e2e_mean" => self.e2e_mean,
            "e2e_p90" => self.e2e_p90,
            "e2e_p99" => self.e2e_p99,
            "itl_mean" => self.itl_mean,
            _ => None,
        }
    }

    fn measured(r: &Run) -> Latencies {
        Latencies {
            ttft_mean: Some(r.ttft_mean_ms),
            ttft_p90: r.ttft_p90_ms,
            ttft_p99: r.ttft_p99_ms,
            e2e_mean: r.e2e_mean_ms,
            e2e_p90: r.e2e_p90_ms,
            e2e_p99: r.e2e_p99_ms,
            itl_mean: r.itl_ms,
        }
    }
}

/// One run and load level: measured against predicted.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub run: Run,
    pub measured: Latencies,
    pub predicted: Latencies,
    /// The simulated queue grew through the load level (the engine could
    /// not keep up).
    pub simulated_overload: bool,
    /// KV blocks the engine would derive from GPU memory (vs the run's).
    pub derived_kv_blocks: Option<u64>,
}

impl Row {
    /// Signed relative error of a metric (predicted / measured − 1).
    pub fn error(&self, metric: &str) -> Option<f64> {
        let m = self.measured.get(metric)?;
        let p = self.predicted.get(metric)?;
        (m > 0.0 && p.is_finite()).then(|| p / m - 1.0)
    }
}

/// A closed-loop run is simulated this long; its requests sent in the
/// first `CLOSED_LOOP_WARMUP_S` (clients starting together) are left out.
const CLOSED_LOOP_HORIZON_S: f64 = 900.0;
const CLOSED_LOOP_WARMUP_S: f64 = 120.0;

/// Users of inference-perf's shared-prefix workloads (prefix groups ×
/// users per group, from the workloads' definitions; validation/README.md).
fn users_of(workload: &str) -> Option<u32> {
    let name = workload.split_whitespace().next().unwrap_or("");
    match name {
        "general" | "general-lite" => Some(9 * 5),
        "codegen" => Some(11 * 4),
        "roleplay" => Some(10 * 5),
        "reasoning" | "reasoning-lite" => Some(23),
        _ => None,
    }
}

/// Whether the run's engine schedules asynchronously: vLLM's default from
/// 0.12 on; other engines and older vLLM schedule each step after the last.
fn async_scheduling(engine: &str) -> bool {
    let Some(version) = engine.strip_prefix("vLLM ") else {
        return false;
    };
    match version.split('.').collect::<Vec<_>>()[..] {
        [major, minor, ..] => match (major.parse::<u32>(), minor.parse::<u32>()) {
            (Ok(a), Ok(b)) => (a, b) >= (0, 12),
            _ => true,
        },
        // A build named without a version (a recent fork): the default.
        _ => true,
    }
}

/// The scenario a run is simulated as. `engine_extra` is added to its
/// `[engine]` (e.g. another step-time model).
pub fn scenario_text(r: &Run, engine_extra: &str) -> Result<String, String> {
    let mut t = "name = \"validate\"\n[workload]\n".to_string();
    match r.load.as_str() {
        "stages" => {
            let stages = r.stages.as_deref().ok_or("a staged run without stages")?;
            let list: Vec<String> = stages
                .split(';')
                .map(|s| {
                    let (rate, secs) = s.split_once('x').ok_or(format!("bad stage `{s}`"))?;
                    Ok(format!("{{ rate = {rate}, duration = {secs} }}"))
                })
                .collect::<Result<_, String>>()?;
            writeln!(
                t,
                "arrivals = {{ process = \"stages\", stages = [{}] }}",
                list.join(", ")
            )
            .unwrap();
            let p = r.prompt_tokens.ok_or("no prompt length")?;
            let o = r.output_tokens.ok_or("no output length")?;
            writeln!(t, "prompt_tokens = {p}\noutput_tokens = {o}").unwrap();
        }
        "trace" => {
            let f = r.trace.as_deref().ok_or("a trace run without its trace")?;
            writeln!(
                t,
                "arrivals = {{ process = \"trace\", path = \"{f}\", format = \"csv\" }}"
            )
            .unwrap();
        }
        "closed_loop" => {
            let c = r
                .concurrency
                .ok_or("a closed-loop run without its concurrency")?;
            let p = r.prompt_tokens.ok_or("no prompt length")?;
            let o = r.output_tokens.ok_or("no output length")?;
            writeln!(
                t,
                "arrivals = {{ process = \"closed_loop\", concurrency = {c} }}\nprompt_tokens = {p}\noutput_tokens = {o}"
            )
            .unwrap();
            t = t.replacen(
                "[workload]",
                &format!("horizon = \"{CLOSED_LOOP_HORIZON_S}s\"\n[workload]"),
                1,
            );
        }
        other => return Err(format!("load `{other}` is not simulated yet")),
    }
    if let (Some(g), Some(tok)) = (r.prefix_groups, r.shared_prefix_tokens)
        && g > 0
        && tok > 0
    {
        // The load generator (inference-perf's shared-prefix data) makes
        // one prompt per user and sends the users' prompts in turn, so each
        // prompt repeats whole, and is cached whole, a round later.
        let (g, tok) = match (r.load.as_str(), users_of(&r.workload), r.prompt_tokens) {
            ("stages", Some(users), Some(p)) => (users, p),
            _ => (g, tok),
        };
        writeln!(
            t,
            "shared_prefix = {{ groups = {g}, tokens = {tok}, assign = \"round_robin\" }}"
        )
        .unwrap();
    }
    writeln!(
        t,
        "[engine]\nadmission = \"vllm\"\nmodel = \"{}\"\ngpu = \"{}\"\nprecision = \"{}\"\ntensor_parallel = {}",
        r.model, r.gpu, r.precision, r.tp
    )
    .unwrap();
    if let Some(n) = r.max_num_seqs {
        writeln!(t, "max_batch = {n}").unwrap();
    }
    if let Some(n) = r.max_num_batched_tokens {
        writeln!(t, "max_num_batched_tokens = {n}").unwrap();
    }
    let block = r.block_tokens.unwrap_or(16);
    writeln!(t, "kv_block_tokens = {block}").unwrap();
    if let Some(b) = r.gpu_kv_blocks {
        writeln!(t, "kv_capacity_tokens = {}", b * block as u64).unwrap();
    }
    if let Some(u) = r.gpu_memory_utilization {
        writeln!(t, "gpu_memory_utilization = {u}").unwrap();
    }
    if let Some(p) = &r.prefix_caching {
        writeln!(t, "prefix_caching = {}", p == "on").unwrap();
    }
    writeln!(t, "async_scheduling = {}", async_scheduling(&r.engine)).unwrap();
    t.push_str(engine_extra);
    t.push_str("\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n[montecarlo]\nreplications = 1\nseed = 1\n");
    Ok(t)
}

/// Every request's record, and the load level it belongs to.
#[derive(Default)]
struct Collect(Vec<RequestRecord>);

impl Observer for Collect {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(*r);
    }
}

/// Load level (the benchmark column) of each request id of a replayed
/// trace; empty for other loads.
fn levels(r: &Run, trace_text: Option<&str>) -> Result<Vec<u32>, String> {
    match r.load.as_str() {
        "trace" => {
            // Rows sorted by time (stably), as the trace is replayed.
            let text = trace_text.ok_or("trace not found")?;
            let mut rows: Vec<(f64, u32)> = Vec::new();
            for line in text.lines().skip(1) {
                let cols: Vec<&str> = line.split(',').collect();
                let t: f64 = cols[0]
                    .parse()
                    .map_err(|_| format!("bad time `{}`", cols[0]))?;
                let b: u32 = cols[3]
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad benchmark `{}`", cols[3]))?;
                rows.push((t, b));
            }
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            Ok(rows.into_iter().map(|x| x.1).collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// Simulates a run; predicted latencies of its load level, and whether the
/// simulated queue grew through it.
pub fn simulate_run(r: &Run, engine_extra: &str) -> Result<(Latencies, bool, Option<u64>), String> {
    let text = scenario_text(r, engine_extra)?;
    let (s, records) = simulate_text(&text, &r.run)?;
    level_result(r, &s, &records)
}

/// One history of a run's scenario: every request's record.
fn simulate_text(text: &str, name: &str) -> Result<(Scenario, Vec<RequestRecord>), String> {
    let mut loader = |p: &str| -> Result<Box<dyn std::io::Read>, String> {
        TRACES
            .iter()
            .find(|(n, _)| *n == p)
            .map(|(_, t)| Box::new(t.as_bytes()) as Box<dyn std::io::Read>)
            .ok_or(format!("no trace {p}"))
    };
    let s = scenario::parse(text, name, &mut loader).map_err(|e| e.to_string())?;
    let draws = draws_for(&s, s.montecarlo.seed, 0);
    let mut c = Collect::default();
    simulate(
        &s,
        0,
        &draws,
        s.montecarlo.seed,
        0,
        &SimOptions::default(),
        &mut c,
    );
    Ok((s, c.0))
}

/// The predicted latencies of one load level of a simulated run.
fn level_result(
    r: &Run,
    s: &Scenario,
    records: &[RequestRecord],
) -> Result<(Latencies, bool, Option<u64>), String> {
    let trace_text = r
        .trace
        .as_deref()
        .and_then(|f| TRACES.iter().find(|(n, _)| *n == f).map(|(_, t)| *t));
    let level_of = levels(r, trace_text)?;
    // Stage windows of a staged load.
    let windows: Vec<(f64, f64)> = r
        .stages
        .as_deref()
        .unwrap_or("")
        .split(';')
        .filter(|x| !x.is_empty())
        .scan(0.0, |start, st| {
            let secs: f64 = st
                .split_once('x')
                .and_then(|(_, s)| s.parse().ok())
                .unwrap_or(0.0);
            let w = (*start, *start + secs);
            *start += secs;
            Some(w)
        })
        .collect();
    let in_level = |rec: &RequestRecord| -> bool {
        match r.load.as_str() {
            "trace" => level_of.get(rec.id as usize) == Some(&r.stage),
            "closed_loop" => rec.arrival_s >= CLOSED_LOOP_WARMUP_S,
            _ => windows
                .get(r.stage as usize)
                .is_some_and(|&(a, b)| rec.arrival_s >= a && rec.arrival_s < b),
        }
    };
    let mine: Vec<&RequestRecord> = records.iter().filter(|x| in_level(x)).collect();
    let served: Vec<&&RequestRecord> = mine
        .iter()
        .filter(|x| x.end == RequestEnd::Completed)
        .collect();
    if served.is_empty() {
        return Err("no request of this load level completed".into());
    }
    let ms = |x: f64| x * 1000.0;
    let mut ttft: Vec<f64> = served
        .iter()
        .map(|x| ms(x.first_token_s - x.arrival_s + x.front_end_s))
        .collect();
    let mut e2e: Vec<f64> = served
        .iter()
        .map(|x| ms(x.done_s - x.arrival_s + x.front_end_s))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (tm, em) = (mean(&ttft), mean(&e2e));
    let out_mean = served.iter().map(|x| x.output_tokens as f64).sum::<f64>() / served.len() as f64;
    ttft.sort_by(f64::total_cmp);
    e2e.sort_by(f64::total_cmp);
    let p = Latencies {
        ttft_mean: Some(tm),
        ttft_p90: Some(percentile(&ttft, 0.9)),
        ttft_p99: Some(percentile(&ttft, 0.99)),
        e2e_mean: Some(em),
        e2e_p90: Some(percentile(&e2e, 0.9)),
        e2e_p99: Some(percentile(&e2e, 0.99)),
        itl_mean: (out_mean > 1.0).then(|| (em - tm) / (out_mean - 1.0)),
    };
    // Overload: requests arriving late in the level wait far longer than
    // those arriving early (the queue grows through it).
    let waits: Vec<f64> = mine
        .iter()
        .filter(|x| x.end == RequestEnd::Completed)
        .map(|x| x.first_token_s - x.arrival_s)
        .collect();
    let k = (waits.len() / 5).max(1);
    let early = mean(&waits[..k]);
    let late = mean(&waits[waits.len() - k..]);
    let overloaded = r.load == "stages" && late > 1.0 && late > 3.0 * early;
    let derived = derived_kv_blocks(s);
    Ok((p, overloaded, derived))
}

/// The KV blocks fleetsim derives from GPU memory for a run's engine (the
/// scenario's explicit capacity left out).
fn derived_kv_blocks(s: &Scenario) -> Option<u64> {
    let mut e = s.engine.clone();
    e.kv_capacity_tokens = None;
    let f = crate::scenario::EngineFigures::new(&e, &Default::default());
    let block = e.kv_block_tokens.fixed()? as u64;
    Some(f.kv_capacity_tokens / block)
}

/// A load level's comparison, or the run and why it was not simulated.
pub type RowResult = Result<Row, Box<(Run, String)>>;

/// Simulates every run (those the engine can simulate). Load levels of one
/// run share its simulation.
pub fn validate(runs: &[Run], engine_extra: &str) -> Vec<RowResult> {
    use rayon::prelude::*;
    // Group the rows by the scenario they describe, in first-seen order.
    let mut groups: Vec<(Result<String, String>, Vec<usize>)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let text = scenario_text(r, engine_extra);
        match groups.iter_mut().find(|(t, _)| t.is_ok() && *t == text) {
            Some((_, rows)) => rows.push(i),
            None => groups.push((text, vec![i])),
        }
    }
    let mut out: Vec<Option<RowResult>> = Vec::new();
    out.resize_with(runs.len(), || None);
    let results: Vec<Vec<(usize, RowResult)>> = groups
        .par_iter()
        .map(|(text, rows)| {
            let sim = text
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|t| simulate_text(t, &runs[rows[0]].run));
            rows.iter()
                .map(|&i| {
                    let r = &runs[i];
                    let result = sim
                        .as_ref()
                        .map_err(Clone::clone)
                        .and_then(|(s, records)| level_result(r, s, records));
                    let row = match result {
                        Ok((predicted, simulated_overload, derived_kv_blocks)) => Ok(Row {
                            measured: Latencies::measured(r),
                            predicted,
                            simulated_overload,
                            derived_kv_blocks,
                            run: r.clone(),
                        }),
                        Err(e) => Err(Box::new((r.clone(), e))),
                    };
                    (i, row)
                })
                .collect()
        })
        .collect();
    for (i, row) in results.into_iter().flatten() {
        out[i] = Some(row);
    }
    out.into_iter()
        .map(|r| r.expect("every row simulated"))
        .collect()
}

/// Error statistics of one metric over a set of rows.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorStats {
    pub n: usize,
    /// Median and mean absolute percentage error.
    pub median_ape: f64,
    pub mean_ape: f64,
    /// Median signed error (positive: the simulator is slower).
    pub median_bias: f64,
}

pub fn error_stats(rows: &[&Row], metric: &str) -> Option<ErrorStats> {
    let mut e: Vec<f64> = rows.iter().filter_map(|r| r.error(metric)).collect();
    if e.is_empty() {
        return None;
    }
    let mut a: Vec<f64> = e.iter().map(|x| x.abs()).collect();
    a.sort_by(f64::total_cmp);
    e.sort_by(f64::total_cmp);
    Some(ErrorStats {
        n: a.len(),
        median_ape: percentile(&a, 0.5),
        mean_ape: a.iter().sum::<f64>() / a.len() as f64,
        median_bias: percentile(&e, 0.5),
    })
}

/// Error statistics per metric for rows grouped by `key`.
pub fn by_group<'a>(
    rows: &[&'a Row],
    key: impl Fn(&Row) -> String,
) -> BTreeMap<String, Vec<&'a Row>> {
    let mut out: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        out.entry(key(r)).or_default().push(r);
    }
    out
}

// ----- what the validation covers ----------------------------------------------

/// The engine figures the shipped `ok` runs cover: the range inside which
/// the README's error figures apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Coverage {
    pub gpus: std::collections::BTreeSet<String>,
    pub precisions: std::collections::BTreeSet<String>,
    pub tensor_parallel: std::collections::BTreeSet<u32>,
    /// Model preset keys (aliases resolved).
    pub models: std::collections::BTreeSet<String>,
}

impl Coverage {
    /// What the shipped runs cover.
    pub fn shipped() -> Coverage {
        let runs = parse_runs(RUNS_CSV).expect("the shipped runs parse");
        Coverage::of(&runs)
    }

    pub fn of(runs: &[Run]) -> Coverage {
        let mut c = Coverage::default();
        for r in runs.iter().filter(|r| r.is_ok()) {
            c.gpus.insert(r.gpu.clone());
            c.precisions.insert(r.precision.clone());
            c.tensor_parallel.insert(r.tp);
            let model = crate::scenario::presets::model(&r.model)
                .map_or_else(|| r.model.clone(), |m| m.key);
            c.models.insert(model);
        }
        c
    }

    /// Figures of one engine outside what the runs cover, one line each;
    /// empty when the error figures of the README apply.
    pub fn unvalidated(&self, engine: &scenario::Engine, draws: &scenario::Draws) -> Vec<String> {
        use scenario::{Admission, StepTime};
        let list = |set: &std::collections::BTreeSet<String>| {
            set.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        let mut out = Vec::new();
        if engine.admission != Admission::Vllm {
            out.push(format!(
                "scheduler `{}`: fleetsim's reference semantics, not validated against a real engine (the default `vllm` is)",
                engine.admission.name()
            ));
        }
        match &engine.step_time {
            StepTime::Calibrated(p) => {
                let shipped = scenario::defaults::CALIBRATED.values();
                let set: Vec<&str> = scenario::CalibratedConstants::KEYS
                    .iter()
                    .zip(p.params())
                    .zip(shipped)
                    .filter(|((_, param), v)| **param != scenario::Param::Fixed(*v))
                    .map(|((k, _), _)| k.name)
                    .collect();
                if !set.is_empty() {
                    out.push(format!(
                        "step model constants {} set by the scenario: the validated figures are the defaults",
                        set.join(", ")
                    ));
                }
            }
            StepTime::Roofline { .. } => out.push(
                "step model `roofline`: not validated against measured latency (the default `calibrated` is)".into(),
            ),
            StepTime::Linear { .. } => out.push(
                "step model `linear`: its coefficients are the scenario's own, not validated".into(),
            ),
        }
        if !self.gpus.contains(&engine.gpu.key) {
            out.push(format!(
                "GPU {}: not validated (validated: {}); the same efficiencies are applied to its own FLOP/s and bandwidth",
                engine.gpu.key,
                list(&self.gpus)
            ));
        }
        let precision = engine.precision.name().to_string();
        if !self.precisions.contains(&precision) {
            out.push(format!(
                "precision {precision}: not validated (validated: {})",
                list(&self.precisions)
            ));
        }
        let tp = engine.tensor_parallel.value(draws).round().max(1.0) as u32;
        if !self.tensor_parallel.contains(&tp) {
            let tps: Vec<String> = self.tensor_parallel.iter().map(u32::to_string).collect();
            out.push(format!(
                "tensor_parallel {tp}: not validated (validated: {}); all-reduce latency is extrapolated",
                tps.join(", ")
            ));
        }
        if !self.models.contains(&engine.model.key) {
            out.push(format!(
                "model {}: not in the validation data",
                if engine.model.key == "custom" {
                    engine.model.name.as_str()
                } else {
                    engine.model.key.as_str()
                }
            ));
        }
        out
    }

    /// Unvalidated figures of every engine a scenario uses (the
    /// `[engine]` and each pool that runs other hardware), deduplicated.
    pub fn scenario_notes(&self, s: &Scenario) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |line: String| {
            if !out.contains(&line) {
                out.push(line);
            }
        };
        let draws = s.uncertain.medians();
        let base = self.unvalidated(&s.engine, &draws);
        for line in &base {
            add(line.clone());
        }
        for st in &s.strategies {
            for p in &st.pools {
                for line in self.unvalidated(&p.engine, &draws) {
                    add(format!("pool {}: {line}", p.name));
                }
            }
        }
        // A pool line that repeats an [engine] line says nothing new.
        out.retain(|l| match l.split_once(": ") {
            Some((head, rest)) if head.starts_with("pool ") => !base.iter().any(|b| b == rest),
            _ => true,
        });
        out
    }
}
