//! Orchestration at the edge: read the scenario, run, write, print.
//! Owns every side effect the library core refuses to have (files,
//! terminal, progress bars, thread pools).

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{
    BreakevenArgs, CalibrateArgs, Cli, Command, MergeArgs, RunArgs, RunOptions, SizeArgs,
};
use fleetsim::breakeven;
use fleetsim::calibrate::{self, Measurement};
use fleetsim::montecarlo::shard::{Part, ShardSpec, fingerprint};
use fleetsim::montecarlo::{self, Progress};
use fleetsim::output::csv::{RequestCsv, replications_csv};
use fleetsim::output::html::report_html;
use fleetsim::output::json::summary_json;
use fleetsim::output::{OutputDir, table, write_atomically};
use fleetsim::plot;
use fleetsim::report::ReportData;
use fleetsim::scenario::{self, DEFAULT_SCENARIO, Scenario, ScenarioError, presets};
use fleetsim::serving::EngineFigures;
use fleetsim::simulation::{SimOptions, simulate};
use fleetsim::sizing::{self, SizingTarget};
use fleetsim::summary::{Precision, RunMeta, RunSummary};

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The user's input is wrong (exit 2); nothing was written.
    Input(String),
    /// Something else went wrong, e.g. a file could not be written (exit 1).
    Runtime(anyhow::Error),
}

impl From<Box<ScenarioError>> for Failure {
    fn from(e: Box<ScenarioError>) -> Self {
        Failure::Input(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

type Result<T> = std::result::Result<T, Failure>;

pub fn main_with(cli: Cli) -> Result<()> {
    match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Check { scenario }) => check(&scenario),
        Some(Command::Merge(args)) => merge(args),
        Some(Command::Size(args)) => size(args),
        Some(Command::Breakeven(args)) => breakeven(args),
        Some(Command::Calibrate(args)) => calibrate(args),
        Some(Command::Presets) => {
            print!("{}", presets_text());
            Ok(())
        }
    }
}

/// Reads and validates a scenario file (or the embedded default).
pub fn load_scenario(path: Option<&Path>) -> Result<Scenario> {
    load_scenario_text(path).map(|(s, _)| s)
}

/// The scenario and the text it was read from.
fn load_scenario_text(path: Option<&Path>) -> Result<(Scenario, String)> {
    match path {
        None => {
            let s = scenario::parse(DEFAULT_SCENARIO, "<embedded default scenario>", &mut |p| {
                Err(format!("the embedded scenario cannot read files ({p})"))
            })?;
            Ok((s, DEFAULT_SCENARIO.to_string()))
        }
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|e| {
                Failure::Input(format!("cannot read scenario {}: {e}", path.display()))
            })?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut loader = |rel: &str| -> std::result::Result<Vec<u8>, String> {
                let p = base.join(rel);
                fs::read(&p).map_err(|e| format!("{e} (looked for {})", p.display()))
            };
            let s = scenario::parse(&text, &path.display().to_string(), &mut loader)?;
            Ok((s, text))
        }
    }
}

/// Checks that every replication's draws give a servable engine, before
/// anything runs (an uncertain input could make the weights not fit).
fn check_draws(s: &Scenario, seed: u64, replications: u64) -> Result<()> {
    if s.uncertain.is_empty() {
        return Ok(());
    }
    let engines = std::iter::once(&s.engine).chain(
        s.strategies
            .iter()
            .flat_map(|st| st.pools.iter().map(|p| &p.engine)),
    );
    let engines: Vec<_> = engines.collect();
    for i in 0..replications {
        let d = montecarlo::draws_for(s, seed, i);
        let Some(f) = engines
            .iter()
            .map(|e| EngineFigures::new(e, &d))
            .find(|f| f.kv_capacity_tokens == 0)
        else {
            continue;
        };
        {
            return Err(Failure::Input(format!(
                "replication {i}: with the drawn inputs {:?} the model weights ({:.1} GB) do not fit in {:.1} GB of GPU memory; narrow the distributions",
                d.values,
                f.weight_bytes / 1e9,
                f.usable_memory_bytes / 1e9
            )));
        }
    }
    Ok(())
}

struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn progress_bar(quiet: bool) -> Bar {
    if quiet || !std::io::stderr().is_terminal() {
        return Bar(None);
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} replications {pos}/{len} [{bar:30}] {per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    Bar(Some(b))
}

fn run(args: RunArgs) -> Result<()> {
    let (mut scenario, text) = load_scenario_text(args.scenario.as_deref())?;
    if let Some(first) = scenario.search.first() {
        return Err(Failure::Input(format!(
            "`{}` is a search space ({:?}); `fleetsim run` needs one value per field (search spaces are for `fleetsim size`)",
            first.field, first.values
        )));
    }
    if let Some(seed) = args.seed {
        scenario.montecarlo.seed = seed;
    }
    if let Some(n) = args.replications {
        if n == 0 {
            return Err(Failure::Input(
                "--replications 0 is not allowed: expected an integer >= 1".into(),
            ));
        }
        scenario.montecarlo.replications = n;
    }
    if args.threads == Some(0) {
        return Err(Failure::Input(
            "--threads 0 is not allowed: expected an integer >= 1".into(),
        ));
    }
    let shard = args
        .shard
        .as_deref()
        .map(ShardSpec::parse)
        .transpose()
        .map_err(Failure::Input)?;
    if let Some(p) = args.until_precision
        && !(p > 0.0 && p < 1.0)
    {
        return Err(Failure::Input(format!(
            "--until-precision {p} is not allowed: expected a fraction between 0 and 1, e.g. 0.01"
        )));
    }
    if args.max_replications == Some(0) {
        return Err(Failure::Input(
            "--max-replications 0 is not allowed: expected an integer >= 1".into(),
        ));
    }
    if shard.is_some() && args.until_precision.is_some() {
        return Err(Failure::Input("--shard and --until-precision do not combine: a precision target needs every replication in one place; shard a fixed --replications count instead".into()));
    }
    if shard.is_some() && args.requests_out.is_some() {
        return Err(Failure::Input(
            "--requests-out is not available with --shard; use it on an unsharded run".into(),
        ));
    }
    let requests_strategy = match &args.requests_strategy {
        None => 0,
        Some(name) => scenario.strategies.iter().position(|s| &s.name == name).ok_or_else(|| {
            Failure::Input(format!(
                "--requests-strategy \"{name}\" is not a strategy of this scenario (it has: {})",
                scenario.strategies.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    let seed = scenario.montecarlo.seed;
    let n = scenario.montecarlo.replications;
    let cap = args.max_replications.unwrap_or(10_000).max(n);
    check_draws(
        &scenario,
        seed,
        if args.until_precision.is_some() {
            cap
        } else {
            n
        },
    )?;
    let meta = RunMeta::of(&scenario, seed);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let bar = progress_bar(args.quiet);
    let options = SimOptions::default();
    let run_indices = |indices: &[u64]| {
        pool.install(|| montecarlo::run_batch(&scenario, seed, indices, &options, &bar))
    };

    if let Some(shard) = shard {
        let indices = shard.indices(n);
        bar.start(indices.len() as u64);
        let batch = run_indices(&indices);
        bar.finish();
        let fp = run_fingerprint(&text, seed, n);
        let series = batch.timeseries.clone();
        let part = Part::new(fp, meta, n, shard, &batch, text.clone(), series);
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name).join("parts"));
        let path = dir.join(format!("part-{}-of-{}.json", shard.k, shard.n));
        write_atomically(&path, &part.to_bytes())?;
        if !args.quiet {
            println!(
                "Shard {}/{}: {} of {} replications. Wrote {}",
                shard.k,
                shard.n,
                batch.replications.len(),
                n,
                path.display()
            );
            println!(
                "When every shard is done: fleetsim merge {}/part-*-of-{}.json --out {}",
                dir.display(),
                shard.n,
                PathBuf::from("outputs").join(&scenario.name).display()
            );
        }
        return Ok(());
    }

    let (batch, precision) = match args.until_precision {
        None => {
            bar.start(n);
            (run_indices(&(0..n).collect::<Vec<_>>()), None)
        }
        Some(target) => {
            // Deterministic batches (never depending on the thread count):
            // the scenario's replications, then that many more (at least 10)
            // until the target or the cap.
            let step = n.max(10);
            let mut batch = montecarlo::Batch::default();
            let mut done = 0;
            let mut next = n.max(2);
            loop {
                bar.start(next);
                batch.extend(run_indices(&(done..next).collect::<Vec<_>>()));
                done = next;
                let achieved =
                    RunSummary::build(&meta, &batch.replications).cost_relative_half_width();
                if achieved <= target || done >= cap {
                    break (
                        batch,
                        Some(Precision {
                            target_relative_half_width: target,
                            achieved_relative_half_width: achieved,
                            reached: achieved <= target,
                        }),
                    );
                }
                next = (done + step).min(cap);
            }
        }
    };
    bar.finish();
    let mut summary = RunSummary::build(&meta, &batch.replications);
    summary.precision = precision;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name));
    let series = batch.timeseries.clone().unwrap_or_default();
    let data = ReportData::build(&meta, &summary, &batch, series, &text);
    let written = write_results(&out, &data, &batch, || {
        if let Some(path) = &args.requests_out {
            write_requests(&scenario, requests_strategy, seed, path)?;
        }
        Ok(())
    })?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        if let Some(p) = &summary.precision {
            println!(
                "\nPrecision: 95% CI half-width of mean total cost {:.2}% of the mean (target {:.2}%) after {} replications: {}",
                p.achieved_relative_half_width * 100.0,
                p.target_relative_half_width * 100.0,
                summary.replications,
                if p.reached {
                    "reached"
                } else {
                    "NOT reached (raise --max-replications)"
                }
            );
        }
        println!("\nWrote {}", written.display());
    }
    Ok(())
}

/// What a run's results depend on, to refuse merging parts of different runs.
fn run_fingerprint(text: &str, seed: u64, replications: u64) -> String {
    fingerprint(&[
        text.as_bytes(),
        &seed.to_le_bytes(),
        &replications.to_le_bytes(),
        env!("CARGO_PKG_VERSION").as_bytes(),
    ])
}

/// Writes every result file of a run into `out`, swapped in whole:
/// summary, replications, charts (SVG and PNG) and the HTML report.
/// `extra` runs before the swap (a failure there leaves `out` untouched).
fn write_results(
    out: &Path,
    data: &ReportData,
    batch: &montecarlo::Batch,
    extra: impl FnOnce() -> Result<()>,
) -> Result<PathBuf> {
    let figures = plot::report_figures(data).map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let dir = OutputDir::new(out)?;
    dir.add("summary.json", &summary_json(&data.summary))?;
    dir.add(
        "replications.csv",
        &replications_csv(&data.meta, &batch.replications),
    )?;
    for f in &figures {
        dir.add(&format!("{}.svg", f.name), f.svg.as_bytes())?;
        dir.add(&format!("{}.png", f.name), &f.png)?;
    }
    dir.add("report.html", &report_html(data, &figures))?;
    extra()?;
    Ok(dir.commit()?)
}

fn merge(args: MergeArgs) -> Result<()> {
    let mut parts = Vec::new();
    for p in &args.parts {
        let bytes = fs::read(p)
            .map_err(|e| Failure::Input(format!("cannot read part {}: {e}", p.display())))?;
        parts.push(
            Part::from_bytes(&bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?,
        );
    }
    let merged = montecarlo::shard::merge(&parts).map_err(Failure::Input)?;
    let summary = RunSummary::build(&merged.meta, &merged.batch.replications);
    let data = ReportData::build(
        &merged.meta,
        &summary,
        &merged.batch,
        merged.timeseries,
        &merged.scenario_text,
    );
    let written = write_results(&args.out, &data, &merged.batch, || Ok(()))?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        println!(
            "\nMerged {} parts. Wrote {}",
            parts.len(),
            written.display()
        );
    }
    Ok(())
}

/// Replays replication 0 of one strategy, streaming every request to `path`.
fn write_requests(scenario: &Scenario, strategy: usize, seed: u64, path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".requests.tmp-{}", std::process::id()));
    let file =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut csv = RequestCsv::new(BufWriter::new(file));
    let draws = montecarlo::draws_for(scenario, seed, 0);
    simulate(
        scenario,
        strategy,
        &draws,
        seed,
        0,
        &SimOptions::default(),
        &mut csv,
    );
    let failed = csv.error.take();
    let flushed = csv.into_inner().into_inner().map_err(|e| e.into_error());
    if let Some(e) = failed.or(flushed.err()) {
        let _ = fs::remove_file(&tmp);
        return Err(Failure::Runtime(
            anyhow!(e).context(format!("cannot write {}", path.display())),
        ));
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn check(path: &Path) -> Result<()> {
    let s = load_scenario(Some(path))?;
    let medians = s.uncertain.medians();
    let f = EngineFigures::new(&s.engine, &medians);
    println!("{}: valid", path.display());
    println!(
        "  horizon {} s, {} strategies, {} uncertain inputs",
        s.horizon_s,
        s.strategies.len(),
        s.uncertain.inputs.len()
    );
    println!(
        "  engine: {} on {} x {} ({}), weights {:.1} GB, KV {:.0} B/token, KV capacity {} tokens per replica",
        s.engine.model.name,
        f.tensor_parallel,
        s.engine.gpu.name,
        s.engine.precision.name(),
        f.weight_bytes / 1e9,
        f.kv_bytes_per_token,
        f.kv_capacity_tokens
    );
    for st in &s.strategies {
        let pools: Vec<String> = st
            .pools
            .iter()
            .map(|p| format!("{} ({})", p.name, p.kind.kind_name()))
            .collect();
        println!(
            "  strategy {}: {}",
            st.name,
            if pools.is_empty() {
                "API only".into()
            } else {
                pools.join(", ")
            }
        );
    }
    Ok(())
}

pub fn presets_text() -> String {
    let mut out =
        String::from("GPU presets (dense TFLOPS; link = GPU-to-GPU GB/s per direction)\n");
    out.push_str(&format!(
        "  {:<10} {:>6} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}  {}\n",
        "key", "mem GB", "TB/s", "bf16", "fp8", "fp4", "link", "TDP W", "source"
    ));
    for g in presets::gpus() {
        let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(
            "  {:<10} {:>6.0} {:>7.3} {:>7.0} {:>7} {:>7} {:>6.0} {:>6.0}  {}\n",
            g.key,
            g.memory_gb,
            g.hbm_tb_s,
            g.bf16_tflops,
            opt(g.fp8_tflops),
            opt(g.fp4_tflops),
            g.link_gb_s,
            g.tdp_watts,
            g.source
        ));
    }
    out.push_str("\nModel presets (parameters in billions; KV values per token per layer)\n");
    out.push_str(&format!(
        "  {:<16} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8}  {}\n",
        "key", "params", "active", "layers", "hidden", "KV/lyr", "experts", "source"
    ));
    for m in presets::models() {
        let experts = if m.is_moe() {
            format!("{}/{}", m.experts_per_token, m.experts)
        } else {
            "-".into()
        };
        out.push_str(&format!(
            "  {:<16} {:>7.1} {:>7.1} {:>6.0} {:>6.0} {:>6.0} {:>8}  {}\n",
            m.key,
            m.params_b,
            m.active_params_b,
            m.layers,
            m.hidden,
            m.kv_values_per_layer,
            experts,
            m.source
        ));
    }
    out
}

/// A scenario file's text and where relative paths in it resolve.
struct Source {
    text: String,
    origin: String,
    base: PathBuf,
}

fn read_source(path: &Path) -> Result<Source> {
    let text = fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("cannot read scenario {}: {e}", path.display())))?;
    Ok(Source {
        text,
        origin: path.display().to_string(),
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    })
}

fn parse_source(
    src: &Source,
    choices: &HashMap<String, f64>,
) -> std::result::Result<Scenario, Box<ScenarioError>> {
    let mut loader = |rel: &str| -> std::result::Result<Vec<u8>, String> {
        let p = src.base.join(rel);
        fs::read(&p).map_err(|e| format!("{e} (looked for {})", p.display()))
    };
    scenario::parse_with_choices(&src.text, &src.origin, &mut loader, choices)
}

fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(Failure::Input(
            "--threads 0 is not allowed: expected an integer >= 1".into(),
        ));
    }
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?)
}

/// Replications and seed of a search command: at least 20 replications.
fn search_budget(o: &RunOptions, s: &Scenario) -> Result<(u64, u64)> {
    let n = match o.replications {
        Some(0) => {
            return Err(Failure::Input(
                "--replications 0 is not allowed: expected an integer >= 1".into(),
            ));
        }
        Some(n) => n,
        None => s.montecarlo.replications.max(20),
    };
    Ok((n, o.seed.unwrap_or(s.montecarlo.seed)))
}

fn fraction_arg(name: &str, v: f64) -> Result<()> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(Failure::Input(format!(
            "--{name} {v} is not allowed: expected a fraction in (0, 1]"
        )))
    }
}

/// Writes an answer command's `<name>.json` and chart into `out`, swapped in whole.
fn write_answer(
    out: &Path,
    name: &str,
    value: &impl serde::Serialize,
    fig: &plot::Figure,
) -> Result<PathBuf> {
    let dir = OutputDir::new(out)?;
    let mut json = serde_json::to_vec_pretty(value)
        .with_context(|| format!("cannot serialize {name}.json"))?;
    json.push(b'\n');
    dir.add(&format!("{name}.json"), &json)?;
    dir.add(&format!("{name}.svg"), fig.svg.as_bytes())?;
    dir.add(&format!("{name}.png"), &fig.png)?;
    Ok(dir.commit()?)
}

fn size(args: SizeArgs) -> Result<()> {
    fraction_arg("slo-target", args.slo_target)?;
    fraction_arg("confidence", args.confidence)?;
    let src = read_source(&args.scenario)?;
    let base = parse_source(&src, &HashMap::new())?;
    if base.search.is_empty() {
        return Err(Failure::Input(format!(
            "{}: nothing to search: write the fields to size as candidate lists, e.g. replicas = {{ search = [1, 2, 3, 4] }}",
            src.origin
        )));
    }
    let candidates = sizing::candidate_count(&base);
    if candidates > args.max_candidates {
        return Err(Failure::Input(format!(
            "the search has {candidates} candidates (every combination of {} search fields), more than --max-candidates {}; narrow the lists",
            base.search.len(),
            args.max_candidates
        )));
    }
    let (n, seed) = search_budget(&args.run, &base)?;
    let pool = thread_pool(args.run.threads)?;
    let bar = progress_bar(args.run.quiet);
    bar.start(candidates as u64 * n);
    let make =
        |choices: &HashMap<String, f64>| parse_source(&src, choices).map_err(|e| e.to_string());
    let target = SizingTarget {
        slo_attainment: args.slo_target,
        confidence: args.confidence,
    };
    let result = pool
        .install(|| sizing::size(&base, &make, target, n, seed, &bar))
        .map_err(Failure::Input)?;
    bar.finish();
    let fig = plot::figure(
        "sizing",
        "Cost against SLO risk",
        &plot::sizing::SizingChart { result: &result },
        plot::WIDTH,
        560,
    )
    .map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let out = args
        .run
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("outputs").join(format!("{}-sizing", base.name)));
    let written = write_answer(&out, "sizing", &result, &fig)?;
    if !args.run.quiet {
        println!(
            "{}: {} candidates x {} replications; target: SLO attainment >= {} in >= {:.0}% of replications\n",
            base.name,
            candidates,
            n,
            args.slo_target,
            args.confidence * 100.0
        );
        println!(
            "{:>4}  {:<24}  {:<44}  {:>22}  {:>10}  meets",
            "rank", "strategy", "assignment", "cost / month [p5-p95]", "P(SLO met)"
        );
        for c in result.candidates.iter().take(25) {
            let assignment: Vec<String> = c
                .assignment
                .iter()
                .map(|(f, v)| format!("{}={v}", f.rsplit('.').next().unwrap_or(f)))
                .collect();
            println!(
                "{:>4}  {:<24}  {:<44}  {:>22}  {:>9.1}%  {}",
                c.rank,
                c.strategy,
                assignment.join(" "),
                format!(
                    "{} [{}-{}]",
                    table::money(c.cost_per_month_mean_usd),
                    table::money(c.cost_per_month_p5_usd),
                    table::money(c.cost_per_month_p95_usd)
                ),
                c.prob_slo_met * 100.0,
                if c.meets_target { "yes" } else { "no" }
            );
        }
        match result.best() {
            Some(b) => println!(
                "\nCheapest that meets the target: {} with {:?}, {} per month on average.",
                b.strategy,
                b.assignment,
                table::money(b.cost_per_month_mean_usd)
            ),
            None => println!("\nNo candidate meets the target; widen the search."),
        }
        println!("Wrote {}", written.display());
    }
    Ok(())
}

fn breakeven(args: BreakevenArgs) -> Result<()> {
    if !(args.from > 0.0 && args.to > args.from && args.from.is_finite() && args.to.is_finite())
        || args.steps < 2
    {
        return Err(Failure::Input(format!(
            "the break-even range --from {} --to {} --steps {} is empty: expected 0 < from < to and steps >= 2",
            args.from, args.to, args.steps
        )));
    }
    let src = read_source(&args.scenario)?;
    let base = parse_source(&src, &HashMap::new())?;
    if let Some(f) = base.search.first() {
        return Err(Failure::Input(format!(
            "`{}` is a search space; `fleetsim breakeven` needs one value per field",
            f.field
        )));
    }
    if base.strategies.iter().all(|s| s.pools.is_empty()) {
        return Err(Failure::Input(
            "every strategy is API-only: there is nothing to break even".into(),
        ));
    }
    let (n, seed) = search_budget(&args.run, &base)?;
    let pool = thread_pool(args.run.threads)?;
    let bar = progress_bar(args.run.quiet);
    bar.start(args.steps as u64 * n);
    let ms = breakeven::multipliers(args.from, args.to, args.steps);
    let result = pool.install(|| breakeven::breakeven(&base, &ms, n, seed, &bar));
    bar.finish();
    let fig = plot::figure(
        "breakeven",
        "Break-even against the API",
        &plot::breakeven::BreakevenChart { result: &result },
        plot::WIDTH,
        560,
    )
    .map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let out = args
        .run
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("outputs").join(format!("{}-breakeven", base.name)));
    let written = write_answer(&out, "breakeven", &result, &fig)?;
    if !args.run.quiet {
        println!(
            "{}: {} volumes x {} replications; cost per 1M output tokens, median [p5-p95]\n",
            base.name, args.steps, n
        );
        let mut header = format!("{:>14}  {:>14}", "tokens/month", "API");
        for st in &result.strategies {
            header.push_str(&format!("  {st:>24}"));
        }
        println!("{header}");
        for p in &result.points {
            let mut line = format!(
                "{:>14.3e}  {:>14}",
                p.monthly_output_tokens,
                table::money(p.api_per_m_output.p50)
            );
            for b in &p.strategies {
                line.push_str(&format!(
                    "  {:>24}",
                    format!(
                        "{} [{}-{}]",
                        table::money(b.p50),
                        table::money(b.p5),
                        table::money(b.p95)
                    )
                ));
            }
            println!("{line}");
        }
        println!();
        let fmt = |v: Option<f64>| v.map_or("beyond the range".to_string(), |x| format!("{x:.3e}"));
        for c in &result.crossovers {
            println!(
                "{}: breaks even with the API at {} output tokens/month (interval {} to {})",
                c.strategy,
                fmt(c.volume_p50),
                fmt(c.volume_low),
                fmt(c.volume_high)
            );
        }
        println!("Wrote {}", written.display());
    }
    Ok(())
}

fn calibrate(args: CalibrateArgs) -> Result<()> {
    let points = args
        .points
        .iter()
        .map(|p| Measurement::parse(p).map_err(|e| Failure::Input(format!("--point \"{p}\": {e}"))))
        .collect::<Result<Vec<_>>>()?;
    calibrate::check(&points).map_err(Failure::Input)?;
    let engine = match &args.scenario {
        Some(path) => load_scenario(Some(path))?.engine,
        None => {
            let text = format!(
                "[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n[engine]\nmodel = \"{}\"\ngpu = \"{}\"\nprecision = \"{}\"\ntensor_parallel = {}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n",
                args.model.as_deref().unwrap_or("llama-3.1-70b"),
                args.gpu.as_deref().unwrap_or("h100-sxm"),
                args.precision.as_deref().unwrap_or("fp8"),
                args.tp.unwrap_or(2)
            );
            scenario::parse(
                &text,
                "<calibrate options>",
                &mut |_| Err("no files".into()),
            )?
            .engine
        }
    };
    let fit = calibrate::fit(&engine, &points).map_err(Failure::Input)?;
    let e = fit.efficiencies;
    println!(
        "Fitted roofline efficiencies for {} on {} x {} ({}):\n",
        engine.model.name,
        EngineFigures::new(&engine, &Default::default()).tensor_parallel,
        engine.gpu.name,
        engine.precision.name()
    );
    println!(
        "[engine]\nmodel = \"{}\"\ngpu = \"{}\"\nprecision = \"{}\"\ntensor_parallel = {}",
        engine.model.key,
        engine.gpu.key,
        engine.precision.name(),
        EngineFigures::new(&engine, &Default::default()).tensor_parallel
    );
    println!(
        "step_time = {{ model = \"roofline\", mfu = {:.3}, mbu = {:.3}, overhead_s = {:.5} }}\n",
        e.mfu, e.mbu, e.overhead_s
    );
    println!(
        "{:>6} {:>7} {:>7} {:>12} {:>12} {:>9}",
        "c", "ISL", "OSL", "measured", "simulated", "residual"
    );
    for (m, sim) in &fit.rows {
        println!(
            "{:>6} {:>7} {:>7} {:>12.1} {:>12.1} {:>+8.1}%",
            m.concurrency,
            m.isl,
            m.osl,
            m.tokens_per_s,
            sim,
            (sim / m.tokens_per_s - 1.0) * 100.0
        );
    }
    println!("\nRMS relative error {:.1}%.", fit.rms_log_error * 100.0);
    Ok(())
}
