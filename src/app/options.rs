//! The typed options stage (like ripgrep's low → high arguments): what the
//! command line says, checked once, and the scenario source it names. Every
//! command that reads a scenario or runs replications goes through here, so
//! a flag means the same thing and is refused the same way everywhere.

use std::collections::HashMap;

use super::*;

/// A scenario's text, its name in messages, and where relative paths in it
/// (traces) resolve.
pub(super) struct Source {
    pub text: String,
    pub origin: String,
    /// `None` for the embedded default, which may not read files.
    base: Option<PathBuf>,
}

impl Source {
    /// Reads the scenario file, or takes the embedded default.
    pub fn read(path: Option<&Path>) -> Result<Source> {
        let Some(path) = path else {
            return Ok(Source {
                text: DEFAULT_SCENARIO.to_string(),
                origin: "<embedded default scenario>".into(),
                base: None,
            });
        };
        let bytes = fs::read(path)
            .map_err(|e| Failure::Input(format!("cannot read scenario {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let col = good.len() - good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
            Failure::Input(format!(
                "{}, line {line}, column {col}: the scenario is not UTF-8 text (save it as UTF-8)",
                path.display()
            ))
        })?;
        Ok(Source {
            text,
            origin: path.display().to_string(),
            base: Some(path.parent().map(Path::to_path_buf).unwrap_or_default()),
        })
    }

    /// Opens files the scenario names, relative to it.
    fn loader(
        &self,
    ) -> impl FnMut(&str) -> std::result::Result<Box<dyn std::io::Read>, String> + '_ {
        |rel: &str| -> std::result::Result<Box<dyn std::io::Read>, String> {
            match &self.base {
                Some(base) => {
                    let p = base.join(rel);
                    let f = fs::File::open(&p)
                        .map_err(|e| format!("{e} (looked for {})", p.display()))?;
                    if f.metadata().is_ok_and(|m| m.is_dir()) {
                        return Err(format!("{} is a folder, not a file", p.display()));
                    }
                    Ok(Box::new(f))
                }
                None => Err(format!("the embedded scenario cannot read files ({rel})")),
            }
        }
    }

    /// Parses the scenario, with some search fields fixed (`size`).
    pub fn parse_with(
        &self,
        choices: &HashMap<String, f64>,
    ) -> std::result::Result<Scenario, Box<ScenarioError>> {
        scenario::parse_with_choices(&self.text, &self.origin, &mut self.loader(), choices)
    }

    /// Parses the scenario for runs at up to `max_multiplier` × its demand.
    pub fn parse_for_demand(&self, max_multiplier: f64) -> Result<Scenario> {
        Ok(scenario::parse_for_demand(
            &self.text,
            &self.origin,
            &mut self.loader(),
            max_multiplier,
        )?)
    }

    pub fn parse(&self) -> Result<Scenario> {
        Ok(self.parse_with(&HashMap::new())?)
    }
}

/// Options of every command that runs replications, checked.
pub(super) struct Options {
    replications: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    /// Event budget of one history (`--max-events`).
    pub max_events: u64,
    /// `--slo-target` and `--confidence`, over the scenario's `[slo]`.
    pub slo_target: Option<f64>,
    pub confidence: Option<f64>,
}

/// Most replications a run may ask for: each keeps a row of metrics.
pub(super) const MAX_REPLICATIONS: u64 = 1_000_000;
/// Most worker threads: beyond this, threads only cost memory.
const MAX_THREADS: usize = 1024;

impl Options {
    pub fn new(o: &RunOptions) -> Result<Options> {
        if let Some(n) = o.replications
            && !(1..=MAX_REPLICATIONS).contains(&n)
        {
            return Err(Failure::Input(format!(
                "--replications {n} is not allowed: expected an integer from 1 to {MAX_REPLICATIONS}"
            )));
        }
        if let Some(t) = o.threads
            && !(1..=MAX_THREADS).contains(&t)
        {
            return Err(Failure::Input(format!(
                "--threads {t} is not allowed: expected an integer from 1 to {MAX_THREADS}"
            )));
        }
        if let Some(v) = o.slo_target {
            fraction("slo-target", v)?;
        }
        if let Some(v) = o.confidence {
            fraction("confidence", v)?;
        }
        if o.max_events == 0 {
            return Err(Failure::Input(
                "--max-events 0 is not allowed: expected an integer >= 1".into(),
            ));
        }
        Ok(Options {
            replications: o.replications,
            seed: o.seed,
            threads: o.threads,
            out: o.out.clone(),
            quiet: o.quiet,
            max_events: o.max_events,
            slo_target: o.slo_target,
            confidence: o.confidence,
        })
    }

    /// Refuses, before simulating, a history that cannot fit the event
    /// budget: every request that arrives is at least one event.
    pub fn check_event_estimate(&self, s: &Scenario, what: &str) -> Result<()> {
        match s.expected_arrivals() {
            Some(n) if n > self.max_events as f64 => Err(Failure::Input(format!(
                "{what}: about {} requests would arrive in one history (the arrival rate times the {} horizon), and each is at least one event, more than the budget of {} events per history (--max-events). Shorten the horizon, lower the demand, or raise --max-events",
                fleetsim::units::format_count(n),
                fleetsim::units::format_duration(s.horizon_s),
                self.max_events
            ))),
            _ => Ok(()),
        }
    }

    /// Simulation options with this run's event budget.
    pub fn sim_options(&self) -> fleetsim::simulation::SimOptions {
        fleetsim::simulation::SimOptions {
            max_events: self.max_events,
            ..Default::default()
        }
    }

    /// `run`: the flags override the scenario's seed and replications.
    pub fn apply(&self, s: &mut Scenario) {
        if let Some(seed) = self.seed {
            s.montecarlo.seed = seed;
        }
        if let Some(n) = self.replications {
            s.montecarlo.replications = n;
        }
        if let Some(v) = self.slo_target {
            s.slo.target = v;
        }
        if let Some(v) = self.confidence {
            s.slo.confidence = v;
        }
    }

    /// `size` and `breakeven`: replications per candidate or volume (the
    /// flag, else the scenario's but at least 20) and the seed.
    pub fn search_budget(&self, s: &Scenario) -> (u64, u64) {
        let n = self
            .replications
            .unwrap_or_else(|| s.montecarlo.replications.max(20));
        (n, self.seed.unwrap_or(s.montecarlo.seed))
    }

    /// The worker threads (all cores unless `--threads`).
    pub fn thread_pool(&self) -> Result<rayon::ThreadPool> {
        Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads.unwrap_or(0))
            .build()
            .context("cannot start worker threads")?)
    }

    pub fn progress(&self) -> Bar {
        progress_bar(self.quiet)
    }

    /// `--out`, else `outputs/<default>`.
    pub fn out_dir(&self, default: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs").join(default))
    }
}

/// A flag that must be a fraction in (0, 1].
pub(super) fn fraction(flag: &str, v: f64) -> Result<()> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(Failure::Input(format!(
            "--{flag} {v} is not allowed: expected a fraction in (0, 1]"
        )))
    }
}

/// Commands other than `size` need one value per field.
pub(super) fn no_search_spaces(s: &Scenario, command: &str) -> Result<()> {
    match s.search.first() {
        None => Ok(()),
        Some(first) => Err(Failure::Input(format!(
            "`{}` is a search space ({:?}); `fleetsim {command}` needs one value per field (search spaces are for `fleetsim size`)",
            first.field, first.values
        ))),
    }
}

/// What only `run` takes, checked against each other and the scenario.
pub(super) struct RunFlags {
    pub shard: Option<ShardSpec>,
    pub until_precision: Option<f64>,
    /// Cap for `--until-precision`.
    pub max_replications: u64,
    /// `--requests-out` and the strategy (by index) whose requests it writes.
    pub requests_out: Option<(PathBuf, usize)>,
    /// `--resume`: continue from the results folder's resume file.
    pub resume: bool,
}

impl RunFlags {
    pub fn new(args: &RunArgs, scenario: &Scenario) -> Result<RunFlags> {
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
        if let Some(n) = args.max_replications
            && !(1..=MAX_REPLICATIONS).contains(&n)
        {
            return Err(Failure::Input(format!(
                "--max-replications {n} is not allowed: expected an integer from 1 to {MAX_REPLICATIONS}"
            )));
        }
        if shard.is_some() && args.until_precision.is_some() {
            return Err(Failure::Input("--shard and --until-precision do not combine: a precision target needs every replication in one place; shard a fixed --replications count instead".into()));
        }
        if args.resume && (shard.is_some() || args.until_precision.is_some()) {
            return Err(Failure::Input(
                "--resume continues a run of a fixed replication count; it does not combine with --shard or --until-precision".into(),
            ));
        }
        if shard.is_some() && args.requests_out.is_some() {
            return Err(Failure::Input(
                "--requests-out is not available with --shard; use it on an unsharded run".into(),
            ));
        }
        let strategy = match &args.requests_strategy {
            None => 0,
            Some(name) => scenario
                .strategies
                .iter()
                .position(|s| &s.name == name)
                .ok_or_else(|| {
                    Failure::Input(format!(
                        "--requests-strategy \"{name}\" is not a strategy of this scenario (it has: {})",
                        scenario
                            .strategies
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        };
        if let Some(p) = &args.requests_out {
            // A new file, or a regular file the user names (theirs to
            // overwrite); never a folder, a device or a link.
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Failure::Input(format!(
                        "--requests-out {} is a symbolic link; name the file itself",
                        p.display()
                    )));
                }
                Ok(m) if !m.is_file() => {
                    return Err(Failure::Input(format!(
                        "--requests-out {} exists and is not a regular file (a folder or a device); name a file",
                        p.display()
                    )));
                }
                _ => {}
            }
        }
        Ok(RunFlags {
            shard,
            until_precision: args.until_precision,
            max_replications: args.max_replications.unwrap_or(10_000),
            requests_out: args.requests_out.clone().map(|p| (p, strategy)),
            resume: args.resume,
        })
    }
}
