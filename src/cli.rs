//! Command-line definitions (clap). No logic here: `app` acts on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "fleetsim",
    version,
    about = "What will serving an LLM really cost? A discrete-event, Monte Carlo capacity and cost simulator for LLM inference fleets.",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Output directory (default: outputs/<scenario name>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run seed (overrides [montecarlo] seed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of replications (overrides [montecarlo] replications)
    #[arg(long)]
    pub replications: Option<u64>,
    /// Worker threads (default: all cores); results do not depend on it
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print nothing but errors
    #[arg(long, short)]
    pub quiet: bool,
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
}
