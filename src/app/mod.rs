//! Orchestration at the edge: read the scenario, run, write, print.
//! Owns every side effect the library core refuses to have (files,
//! terminal, progress bars, thread pools).

mod answers;
mod info;
mod options;
mod run;
mod validation;

use options::{Options, Source};

use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{
    BreakevenArgs, CalibrateArgs, Cli, Command, MergeArgs, RunArgs, RunOptions, SizeArgs,
    ValidateArgs,
};
use fleetsim::breakeven;
use fleetsim::calibrate::{self, Measurement};
use fleetsim::montecarlo::RunMeta;
use fleetsim::montecarlo::shard::{Part, ShardSpec, fingerprint};
use fleetsim::montecarlo::{self, Progress};
use fleetsim::output::csv::{RequestCsv, replications_csv};
use fleetsim::output::html::report_html;
use fleetsim::output::json::summary_json;
use fleetsim::output::{OutputDir, table, write_atomically};
use fleetsim::plot;
use fleetsim::report::ReportData;
use fleetsim::scenario::{self, DEFAULT_SCENARIO, Scenario, ScenarioError, presets};
use fleetsim::scenario::{Admission, EngineFigures};
use fleetsim::simulation::{SimOptions, simulate};
use fleetsim::sizing::{self, SizingTarget};
use fleetsim::summary::{Precision, RunSummary};
use fleetsim::units::format_usd;

/// Claims a results folder before any work: refused (exit 2) when it is a
/// file, a link, holds files fleetsim did not write, or another run is
/// writing it.
pub(super) fn claim_output(path: &Path) -> Result<fleetsim::output::OutputClaim> {
    fleetsim::output::OutputClaim::new(path).map_err(|e| Failure::Input(format!("--out: {e}")))
}

pub enum Failure {
    /// The user's input is wrong (exit 2); nothing was written.
    Input(String),
    /// Something else went wrong, e.g. a file could not be written (exit 1).
    Runtime(anyhow::Error),
    /// Stopped by a signal (exit 130), after writing what was finished.
    Interrupted(String),
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
        None => run::run(cli.run),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Check { scenario }) => info::check(&scenario),
        Some(Command::Merge(args)) => run::merge(args),
        Some(Command::Size(args)) => answers::size(args),
        Some(Command::Breakeven(args)) => answers::breakeven(args),
        Some(Command::Calibrate(args)) => answers::calibrate(args),
        Some(Command::Validate(args)) => validation::validate(args),
        Some(Command::Presets) => {
            print!("{}", info::presets_text());
            Ok(())
        }
    }
}

/// Reads and validates a scenario file (or the embedded default).
pub fn load_scenario(path: Option<&Path>) -> Result<Scenario> {
    Source::read(path)?.parse()
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
