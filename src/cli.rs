//! Command-line definitions (clap). No logic here: `app` acts on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "fleetsim",
    version,
    about = "What will serving an LLM really cost? A discrete-event, Monte Carlo capacity and cost simulator for LLM inference fleets.",
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command, `fleetsim [SCENARIO] [OPTIONS]` is `fleetsim run`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a scenario (default: the embedded one) and write outputs/<name>/
    Run(RunArgs),
    /// Validate a scenario and print what it resolves to, without running it
    Check {
        /// Scenario file (TOML)
        scenario: PathBuf,
    },
    /// List the GPU and model presets with the public source of each figure
    Presets,
    /// Combine the part files of a sharded run (`run --shard K/N`) into outputs
    Merge(MergeArgs),
    /// Search `{ search = [...] }` fields for the cheapest strategy that meets an SLO target
    Size(SizeArgs),
    /// Sweep monthly volume and find where self-hosting breaks even with the API
    Breakeven(BreakevenArgs),
    /// Fit roofline efficiencies (mfu, mbu, overhead) to measured throughput
    Calibrate(CalibrateArgs),
    /// Compare the simulator with latencies measured on real GPUs and engines
    Validate(ValidateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    /// Measured runs (CSV, the columns of validation/runs.csv); default: the shipped ones
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Only these datasets (comma-separated letters, e.g. A,C)
    #[arg(long)]
    pub dataset: Option<String>,
    /// TOML lines added to every run's [engine], e.g. a step-time model to try
    #[arg(long, value_name = "TOML")]
    pub engine: Option<String>,
    /// Output directory (default: outputs/validation)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print only the summary
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options shared by commands that run replications.
#[derive(Debug, Args, Clone)]
pub struct RunOptions {
    /// Replications (default: the scenario's; size and breakeven use at least 20)
    #[arg(long)]
    pub replications: Option<u64>,
    /// Run seed (overrides [montecarlo] seed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores); results do not depend on it
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory (default: outputs/<scenario name>, or
    /// outputs/<scenario name>-<answer> for size and breakeven)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop any history after this many events (iteration ends, arrivals,
    /// fleet events) and refuse the run: what could never finish is stopped
    #[arg(long, value_name = "N", default_value_t = fleetsim::simulation::DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Share of requests that must meet the SLO in a replication (overrides
    /// [slo] target; default 0.99)
    #[arg(long, value_name = "FRACTION")]
    pub slo_target: Option<f64>,
    /// Share of replications that must reach --slo-target for a plan to pass
    /// (overrides [slo] confidence; default 0.95)
    #[arg(long, value_name = "FRACTION")]
    pub confidence: Option<f64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            replications: None,
            seed: None,
            threads: None,
            out: None,
            quiet: false,
            max_events: fleetsim::simulation::DEFAULT_MAX_EVENTS,
            slo_target: None,
            confidence: None,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct SizeArgs {
    /// Scenario file with `{ search = [...] }` fields
    pub scenario: PathBuf,
    /// Refuse searches with more candidates than this
    #[arg(long, default_value_t = 500)]
    pub max_candidates: usize,
    #[command(flatten)]
    pub run: RunOptions,
}

#[derive(Debug, Args, Clone)]
pub struct BreakevenArgs {
    /// Scenario file
    pub scenario: PathBuf,
    /// Smallest demand multiplier of the sweep
    #[arg(long, default_value_t = 0.1)]
    pub from: f64,
    /// Largest demand multiplier of the sweep
    #[arg(long, default_value_t = 10.0)]
    pub to: f64,
    /// Volumes in the sweep (log-spaced)
    #[arg(long, default_value_t = 9)]
    pub steps: usize,
    #[command(flatten)]
    pub run: RunOptions,
}

#[derive(Debug, Args, Clone)]
pub struct CalibrateArgs {
    /// Take the engine (model, GPU, precision, tensor parallelism) from this scenario
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Model preset (default llama-3.1-70b)
    #[arg(long)]
    pub model: Option<String>,
    /// GPU preset (default h100-sxm)
    #[arg(long)]
    pub gpu: Option<String>,
    /// Precision (default fp8)
    #[arg(long)]
    pub precision: Option<String>,
    /// GPUs per replica (default 2)
    #[arg(long)]
    pub tp: Option<u32>,
    /// Step model to fit without --scenario: calibrated (default) or roofline
    #[arg(long, value_name = "MODEL", value_parser = ["calibrated", "roofline"], conflicts_with = "scenario")]
    pub step_model: Option<String>,
    /// A measurement: c=CONCURRENCY,isl=PROMPT,osl=OUTPUT,tok_s=OUTPUT_TOKENS_PER_S (repeatable)
    #[arg(long = "point", value_name = "c=..,isl=..,osl=..,tok_s=..")]
    pub points: Vec<String>,
    /// Fit the calibrated step model to measured runs instead (CSV in the
    /// columns of validation/runs.csv; `shipped` for fleetsim's own)
    #[arg(long, value_name = "FILE")]
    pub runs: Option<String>,
    /// With --runs: fit on these datasets only (comma-separated, e.g. A)
    #[arg(long)]
    pub dataset: Option<String>,
    /// With --runs: also report the error on these datasets (out of sample)
    #[arg(long, value_name = "DATASETS")]
    pub score: Option<String>,
    /// With --runs: Nelder–Mead iterations
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// With --runs: the constants to fit (comma-separated; default all), the
    /// others keep their default or --start value
    #[arg(long, value_name = "NAMES")]
    pub fit: Option<String>,
    /// With --runs: start from these constants (e.g. "mfu = 0.7, mbu = 0.9")
    #[arg(long, value_name = "KEY = VALUE, ...")]
    pub start: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// Part files written by `fleetsim run --shard K/N`
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output directory for the merged results
    #[arg(long)]
    pub out: PathBuf,
    /// Print nothing but errors
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    /// Scenario file (TOML); without it, the embedded default scenario runs
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunOptions,
    /// Write one CSV row per request of replication 0 to this file
    #[arg(long, value_name = "FILE")]
    pub requests_out: Option<PathBuf>,
    /// Strategy whose requests --requests-out writes (default: the first)
    #[arg(long, value_name = "NAME")]
    pub requests_strategy: Option<String>,
    /// Run only shard K of N (replications i with i mod N = K-1) and write a part file
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Add replications in batches until the 95% CI half-width of mean total
    /// cost is within this fraction of the mean (e.g. 0.01), for every strategy
    #[arg(long, value_name = "FRACTION")]
    pub until_precision: Option<f64>,
    /// Cap on replications for --until-precision (default 10000)
    #[arg(long, value_name = "N")]
    pub max_replications: Option<u64>,
    /// Continue an interrupted run: keep the replications it finished (its
    /// results folder's resume.json) and run the rest
    #[arg(long)]
    pub resume: bool,
}
