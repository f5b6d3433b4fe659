//! Raw schema → validated [`Scenario`]: defaults, range checks, presets,
//! trace loading (through the caller's loader) and consistency checks.
//!
//! Every error names the field path, the value, what is allowed, and the
//! line and column where the field is written.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

mod engine;
mod fleet;
mod hardware;
mod numbers;
mod pools;
mod workload;

use super::error::{Location, ScenarioError};
use super::locate::{line_col, locate, path_at};
use super::number::{Num, RawDur, RawNum};
use super::schema::*;
use super::trace::{TraceFormat, inline_trace, parse_lengths, parse_trace};
use super::uncertain::check_dist;
use super::*;

/// Opens a file named in a scenario (a trace), relative to the scenario.
/// The scenario layer reads from it but never opens files itself.
pub type FileLoader<'a> = dyn FnMut(&str) -> Result<Box<dyn std::io::Read>, String> + 'a;

/// Parses and validates a scenario. `origin` names the text in errors
/// (a file path, or `<embedded default>`).
pub fn parse(
    text: &str,
    origin: &str,
    loader: &mut FileLoader,
) -> Result<Scenario, Box<ScenarioError>> {
    parse_with_choices(text, origin, loader, &HashMap::new())
}

/// Like [`parse`], with some `{ search = [...] }` fields fixed to the given
/// values (field path → value), as `fleetsim size` does for each candidate.
pub fn parse_with_choices(
    text: &str,
    origin: &str,
    loader: &mut FileLoader,
    choices: &HashMap<String, f64>,
) -> Result<Scenario, Box<ScenarioError>> {
    parse_full(text, origin, loader, choices, 1.0)
}

/// Like [`parse`], for a caller that will multiply the demand by up to
/// `max_multiplier` (`fleetsim breakeven`): a trace keeps the rows the
/// scaled runs reach.
pub fn parse_for_demand(
    text: &str,
    origin: &str,
    loader: &mut FileLoader,
    max_multiplier: f64,
) -> Result<Scenario, Box<ScenarioError>> {
    parse_full(text, origin, loader, &HashMap::new(), max_multiplier)
}

fn parse_full(
    text: &str,
    origin: &str,
    loader: &mut FileLoader,
    choices: &HashMap<String, f64>,
    demand_headroom: f64,
) -> Result<Scenario, Box<ScenarioError>> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let (line, col, field) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                let field = path_at(text, span.start).or_else(|| key_at(text, span.start));
                (Some(l), Some(c), field)
            }
            None => (None, None, None),
        };
        Box::new(ScenarioError::Syntax {
            at: Location {
                origin: origin.to_string(),
                line,
                col,
            },
            field,
            message: e.message().trim().to_string(),
        })
    })?;
    let mut r = Resolver {
        text,
        origin: origin.to_string(),
        loader,
        uncertain: Uncertainties::default(),
        search: Vec::new(),
        choices,
        trace_reach_s: None,
        demand_headroom,
    };
    r.scenario(raw)
}

/// The key written at `offset` (`key = …`), for errors in text that does
/// not parse as a whole (a duplicate key).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let rest = text.get(offset..)?;
    let line = rest.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c)))
    .then(|| key.to_string())
}

struct Resolver<'t, 'l, 'c> {
    text: &'t str,
    origin: String,
    loader: &'l mut FileLoader<'l>,
    uncertain: Uncertainties,
    search: Vec<SearchSpace>,
    choices: &'c HashMap<String, f64>,
    /// Latest arrival time a run can reach, in simulated seconds at unit
    /// trace scales (horizon × demand_scale), when that is known before the
    /// workload: a trace keeps only the rows within it.
    trace_reach_s: Option<f64>,
    /// Largest factor the caller will multiply demand by after parsing.
    demand_headroom: f64,
}

type R<T> = Result<T, Box<ScenarioError>>;

/// Longest scenario or strategy name: it is printed and names files.
const MAX_NAME: usize = 100;

impl Resolver<'_, '_, '_> {
    fn at(&self, field: &str) -> Location {
        let (line, col) = locate(self.text, field).unzip();
        Location {
            origin: self.origin.clone(),
            line,
            col,
        }
    }

    fn invalid(
        &self,
        field: &str,
        value: impl Display,
        allowed: impl Display,
        hint: Option<String>,
    ) -> Box<ScenarioError> {
        Box::new(ScenarioError::Invalid {
            at: self.at(field),
            field: field.to_string(),
            value: crate::units::readable_value(&value.to_string()),
            allowed: allowed.to_string(),
            hint: hint.map(|h| crate::units::readable_numbers(&h)),
        })
    }

    fn missing(&self, field: &str, what: &str) -> Box<ScenarioError> {
        Box::new(ScenarioError::Missing {
            at: self.at(field),
            field: field.to_string(),
            what: what.to_string(),
        })
    }

    fn file_error(&self, field: &str, message: String) -> Box<ScenarioError> {
        Box::new(ScenarioError::File {
            at: self.at(field),
            field: field.to_string(),
            message,
        })
    }

    fn scenario(&mut self, raw: RawScenario) -> R<Scenario> {
        let name = raw
            .name
            .clone()
            .unwrap_or_else(|| defaults::NAME.to_string());
        if name.is_empty()
            || name.len() > MAX_NAME
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(self.invalid(
                "name",
                format!("\"{name}\""),
                "a name of 1 to 100 letters, digits, '-', '_' or '.' (it names the output directory)",
                None,
            ));
        }
        let demand_scale = self.num_or(
            "demand_scale",
            raw.demand_scale.as_ref(),
            1.0,
            Allowed::between(0.0, 1000.0),
        )?;
        // A fixed horizon and demand bound how far into a trace a run reads.
        if let (Some(RawDur(Num::Value(h))), Some(ds)) = (&raw.horizon, demand_scale.fixed()) {
            self.trace_reach_s = Some(h * ds * self.demand_headroom.max(1.0));
        }
        let Some(raw_workload) = raw.workload else {
            return Err(self.missing(
                "workload",
                "every scenario needs a [workload] with an `arrivals` process",
            ));
        };
        let workload = self.workload(raw_workload)?;
        let horizon_s = match &raw.horizon {
            Some(h) => match &h.0 {
                Num::Value(v) if (1.0..=defaults::MAX_HORIZON_S).contains(v) => *v,
                Num::Value(v) => {
                    return Err(self.invalid(
                        "horizon",
                        v,
                        "a duration of at least 1 s and at most 5 years, e.g. \"1h\"",
                        None,
                    ));
                }
                other => {
                    return Err(self.invalid("horizon", other, "a fixed duration such as \"1h\"", Some("The horizon is the billing period; make demand uncertain with demand_scale instead.".into())));
                }
            },
            None => match &workload.arrivals {
                Arrivals::Trace {
                    trace,
                    time_scale,
                    rate_scale,
                } => {
                    // Default: the trace's span at nominal scales, so the whole trace plays.
                    let ts = time_scale.fixed().unwrap_or(1.0);
                    let rs = rate_scale.fixed().unwrap_or(1.0);
                    let ds = demand_scale.fixed().filter(|d| *d > 0.0).unwrap_or(1.0);
                    // Arrivals stop strictly before the horizon; keep the last row in.
                    (trace.span_s() * ts / (rs * ds) + 1e-9).min(defaults::MAX_HORIZON_S)
                }
                // A staged load plays all its stages.
                Arrivals::Stages { stages, .. } => {
                    let medians = self.uncertain.medians();
                    let total: f64 = stages.iter().map(|(_, d)| d.value(&medians)).sum();
                    total.clamp(1e-9, defaults::MAX_HORIZON_S)
                }
                _ => defaults::HORIZON_S,
            },
        };
        let engine = self.engine(raw.engine)?;
        self.check_lengths_fit(&workload, &engine)?;
        let slo = self.slo(raw.slo.unwrap_or_default())?;
        let api = self.api(raw.api.unwrap_or_default())?;
        if raw.strategy.is_empty() {
            return Err(self.missing(
                "strategy",
                "give at least one [[strategy]], e.g. pools = [ { kind = \"reserved\", replicas = 2, price_per_gpu_hour = 2.0 } ]",
            ));
        }
        let mut strategies = Vec::new();
        for (i, s) in raw.strategy.into_iter().enumerate() {
            let st = self.strategy(i, s, &engine)?;
            if st.name.is_empty()
                || st.name.len() > MAX_NAME
                || st.name.chars().any(char::is_control)
            {
                return Err(self.invalid(
                    &format!("strategy[{i}].name"),
                    format!("{:?}", st.name.chars().take(40).collect::<String>()),
                    "a name of 1 to 100 characters, none of them control characters (it is printed and names chart files)",
                    None,
                ));
            }
            if let Some(o) = strategies.iter().find(|o: &&Strategy| {
                o.name != st.name && crate::units::slug(&o.name) == crate::units::slug(&st.name)
            }) {
                return Err(self.invalid(
                    &format!("strategy[{i}].name"),
                    format!("\"{}\"", st.name),
                    format!(
                        "a name whose chart files differ from strategy \"{}\"'s (both become timeseries_{}: names differ by more than characters other than letters, digits, '-' and '_')",
                        o.name,
                        crate::units::slug(&st.name)
                    ),
                    None,
                ));
            }
            if strategies.iter().any(|o: &Strategy| o.name == st.name) {
                return Err(self.invalid(
                    &format!("strategy[{i}].name"),
                    format!("\"{}\"", st.name),
                    "a name not used by another strategy",
                    None,
                ));
            }
            strategies.push(st);
        }
        let mc = raw.montecarlo.unwrap_or_default();
        let replications = match self.plain(
            "montecarlo.replications",
            mc.replications.as_ref(),
            Allowed::REPLICATIONS,
        )? {
            Some(v) => v as u64,
            None => defaults::REPLICATIONS,
        };
        Ok(Scenario {
            name,
            description: raw.description,
            horizon_s,
            demand_scale,
            workload,
            engine,
            slo,
            api,
            strategies,
            montecarlo: MonteCarlo {
                replications,
                seed: mc.seed.unwrap_or(defaults::SEED),
            },
            uncertain: std::mem::take(&mut self.uncertain),
            search: std::mem::take(&mut self.search),
        })
    }
}
