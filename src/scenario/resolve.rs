//! Raw schema → validated [`Scenario`]: defaults, range checks, presets,
//! trace loading (through the caller's loader) and consistency checks.
//!
//! Every error names the field path, the value, what is allowed, and the
//! line and column where the field is written.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

use super::error::{Location, ScenarioError};
use super::locate::{line_col, locate, path_at};
use super::presets;
use super::schema::*;
use super::trace::{TraceFormat, inline_trace, parse_lengths, parse_trace};
use super::uncertain::{Allowed, Num, Param, RawDur, RawNum, Uncertainties, check_dist};
use super::*;
use crate::serving::step_time::EngineFigures;
use crate::units::HOUR_S;

/// Reads a file named in a scenario (a trace), relative to the scenario.
pub type FileLoader<'a> = dyn FnMut(&str) -> Result<Vec<u8>, String> + 'a;

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
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let (line, col, field) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c), path_at(text, span.start))
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
    };
    r.scenario(raw)
}

struct Resolver<'t, 'l, 'c> {
    text: &'t str,
    origin: String,
    loader: &'l mut FileLoader<'l>,
    uncertain: Uncertainties,
    search: Vec<SearchSpace>,
    choices: &'c HashMap<String, f64>,
}

type R<T> = Result<T, Box<ScenarioError>>;

const MAX_TOKENS_DEFAULT: f64 = 131_072.0;

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
            value: value.to_string(),
            allowed: allowed.to_string(),
            hint,
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

    /// Resolves a number that may be uncertain or a search space.
    fn param(&mut self, field: &str, num: &Num, allowed: Allowed) -> R<Param> {
        match num {
            Num::Value(v) => {
                if allowed.contains(*v) {
                    Ok(Param::Fixed(*v))
                } else {
                    Err(self.invalid(field, v, allowed, None))
                }
            }
            Num::Dist(d) => {
                if let Err(why) = check_dist(d, &allowed) {
                    return Err(self.invalid(
                        field,
                        d,
                        allowed,
                        Some(format!("The distribution is invalid: {why}.")),
                    ));
                }
                Ok(self.uncertain.add(field.to_string(), d.clone(), allowed))
            }
            Num::Search(values) => {
                if values.is_empty() {
                    return Err(self.invalid(
                        field,
                        num,
                        "a non-empty list of candidate values",
                        None,
                    ));
                }
                for v in values {
                    if !allowed.contains(*v) {
                        return Err(self.invalid(
                            field,
                            num,
                            allowed,
                            Some(format!("The candidate {v} is outside the allowed range.")),
                        ));
                    }
                }
                if let Some(&v) = self.choices.get(field) {
                    return Ok(Param::Fixed(v));
                }
                self.search.push(SearchSpace {
                    field: field.to_string(),
                    values: values.clone(),
                });
                Ok(Param::Fixed(values[0]))
            }
        }
    }

    fn num(&mut self, field: &str, raw: &RawNum, allowed: Allowed) -> R<Param> {
        self.param(field, &raw.0, allowed)
    }

    fn num_or(
        &mut self,
        field: &str,
        raw: Option<&RawNum>,
        default: f64,
        allowed: Allowed,
    ) -> R<Param> {
        match raw {
            Some(raw) => self.num(field, raw, allowed),
            None => Ok(Param::Fixed(default)),
        }
    }

    fn dur(&mut self, field: &str, raw: &RawDur, allowed: Allowed) -> R<Param> {
        self.param(field, &raw.0, allowed)
    }

    fn dur_or(
        &mut self,
        field: &str,
        raw: Option<&RawDur>,
        default: f64,
        allowed: Allowed,
    ) -> R<Param> {
        match raw {
            Some(raw) => self.dur(field, raw, allowed),
            None => Ok(Param::Fixed(default)),
        }
    }

    /// A duration drawn per event (replica start, API call): a value or a
    /// distribution over seconds, not registered as an uncertain input.
    fn event_dur(&mut self, field: &str, raw: Option<&RawDur>, default: f64) -> R<EventDuration> {
        // Longer than a month is a typo, and would stall the simulation.
        let allowed = Allowed::between(0.0, MAX_EVENT_DURATION_S);
        match raw.map(|r| &r.0) {
            None => Ok(EventDuration::Fixed(default)),
            Some(Num::Value(v)) if allowed.contains(*v) => Ok(EventDuration::Fixed(*v)),
            Some(Num::Value(v)) => {
                Err(self.invalid(field, v, "a duration >= 0 and at most 30 days", None))
            }
            Some(Num::Dist(d)) => match check_dist(d, &allowed) {
                Ok(()) => Ok(EventDuration::Random(d.clone())),
                Err(why) => Err(self.invalid(
                    field,
                    d,
                    "a distribution over seconds between 0 and 30 days",
                    Some(format!("The distribution is invalid: {why}.")),
                )),
            },
            Some(other) => Err(self.invalid(
                field,
                other,
                "a duration or a distribution (drawn at every start)",
                None,
            )),
        }
    }

    /// A number that must be written as a plain value (model and GPU figures
    /// are facts; uncertainty about speed goes into the step-time model).
    fn plain(&mut self, field: &str, raw: Option<&RawNum>, allowed: Allowed) -> R<Option<f64>> {
        match raw.map(|r| &r.0) {
            None => Ok(None),
            Some(Num::Value(v)) if allowed.contains(*v) => Ok(Some(*v)),
            Some(Num::Value(v)) => Err(self.invalid(field, v, allowed, None)),
            Some(other) => Err(self.invalid(
                field,
                other,
                "a plain number",
                Some("Model and GPU figures are fixed facts; express uncertainty about speed through the step-time model (e.g. mfu = { uniform = [0.35, 0.5] }).".into()),
            )),
        }
    }

    fn scenario(&mut self, raw: RawScenario) -> R<Scenario> {
        let name = raw.name.clone().unwrap_or_else(|| "scenario".to_string());
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(self.invalid(
                "name",
                format!("\"{name}\""),
                "a non-empty name of letters, digits, '-', '_' or '.' (it names the output directory)",
                None,
            ));
        }
        let demand_scale = self.num_or(
            "demand_scale",
            raw.demand_scale.as_ref(),
            1.0,
            Allowed::between(0.0, 1000.0),
        )?;
        let Some(raw_workload) = raw.workload else {
            return Err(self.missing(
                "workload",
                "every scenario needs a [workload] with an `arrivals` process",
            ));
        };
        let workload = self.workload(raw_workload)?;
        let horizon_s = match &raw.horizon {
            Some(h) => match &h.0 {
                Num::Value(v) if Allowed::POSITIVE.contains(*v) && *v <= MAX_HORIZON_S => *v,
                Num::Value(v) => {
                    return Err(self.invalid(
                        "horizon",
                        v,
                        "a duration > 0 and at most 5 years, e.g. \"1h\"",
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
                    (trace.span_s() * ts / (rs * ds) + 1e-9).min(MAX_HORIZON_S)
                }
                _ => HOUR_S,
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
            Allowed::POSITIVE_COUNT,
        )? {
            Some(v) => v as u64,
            None => DEFAULT_REPLICATIONS,
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
                seed: mc.seed.unwrap_or(42),
            },
            uncertain: std::mem::take(&mut self.uncertain),
            search: std::mem::take(&mut self.search),
        })
    }

    fn load(&mut self, field: &str, path: &str) -> R<Vec<u8>> {
        (self.loader)(path)
            .map_err(|e| self.file_error(field, format!("cannot read \"{path}\": {e}")))
    }

    fn workload(&mut self, raw: RawWorkload) -> R<Workload> {
        let Some(arrivals) = raw.arrivals else {
            return Err(self.missing(
                "workload.arrivals",
                "say how requests arrive, e.g. arrivals = { process = \"poisson\", rate = 15.0 }",
            ));
        };
        let arrivals = self.arrivals(arrivals)?;
        let trace_has_tokens =
            matches!(&arrivals, Arrivals::Trace { trace, .. } if trace.has_tokens);
        let prompt = match raw.prompt_tokens {
            Some(l) => Some(self.length("workload.prompt_tokens", l)?),
            None if trace_has_tokens => None,
            None => Some(LengthDist::LogNormal {
                median: 512.0.into(),
                sigma: 0.8.into(),
                min: 1.0.into(),
                max: MAX_TOKENS_DEFAULT.into(),
            }),
        };
        let output = match raw.output_tokens {
            Some(l) => Some(self.length("workload.output_tokens", l)?),
            None if trace_has_tokens => None,
            None => Some(LengthDist::LogNormal {
                median: 200.0.into(),
                sigma: 1.0.into(),
                min: 1.0.into(),
                max: 4096.0.into(),
            }),
        };
        Ok(Workload {
            arrivals,
            prompt_tokens: prompt,
            output_tokens: output,
        })
    }

    fn arrivals(&mut self, raw: RawArrivals) -> R<Arrivals> {
        const F: &str = "workload.arrivals";
        Ok(match raw {
            RawArrivals::Poisson { rate } => Arrivals::Poisson {
                rate: self.num(&format!("{F}.rate"), &rate, Allowed::RATE)?,
            },
            RawArrivals::Mmpp {
                rates,
                mean_sojourn,
            } => {
                if rates.is_empty() || rates.len() != mean_sojourn.len() {
                    return Err(self.invalid(
                        &format!("{F}.mean_sojourn"),
                        format!("{} sojourns for {} rates", mean_sojourn.len(), rates.len()),
                        "one mean sojourn per rate, at least one state",
                        None,
                    ));
                }
                let rates = rates
                    .iter()
                    .enumerate()
                    .map(|(i, r)| self.num(&format!("{F}.rates[{i}]"), r, Allowed::RATE))
                    .collect::<R<Vec<_>>>()?;
                let soj = mean_sojourn
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        self.dur(
                            &format!("{F}.mean_sojourn[{i}]"),
                            r,
                            Allowed::at_least(0.001),
                        )
                    })
                    .collect::<R<Vec<_>>>()?;
                Arrivals::Mmpp {
                    rates,
                    mean_sojourn_s: soj,
                }
            }
            RawArrivals::Diurnal {
                hourly,
                mean_rate,
                peak_to_mean,
                peak_hour,
                start_hour,
            } => {
                let start_hour = self.num_or(
                    &format!("{F}.start_hour"),
                    start_hour.as_ref(),
                    0.0,
                    hour_allowed(),
                )?;
                let profile = match (hourly, mean_rate) {
                    (Some(h), None) => {
                        if h.len() != 24 {
                            return Err(self.invalid(
                                &format!("{F}.hourly"),
                                format!("{} values", h.len()),
                                "exactly 24 hourly rates (requests/s), hour 0 first",
                                None,
                            ));
                        }
                        if peak_to_mean.is_some() || peak_hour.is_some() {
                            return Err(self.invalid(&format!("{F}.peak_to_mean"), "given with `hourly`", "either `hourly`, or `mean_rate` with `peak_to_mean` and `peak_hour`", None));
                        }
                        DiurnalProfile::Hourly(
                            h.iter()
                                .enumerate()
                                .map(|(i, r)| {
                                    self.num(&format!("{F}.hourly[{i}]"), r, Allowed::RATE)
                                })
                                .collect::<R<Vec<_>>>()?,
                        )
                    }
                    (None, Some(m)) => DiurnalProfile::Sinusoid {
                        mean_rate: self.num(&format!("{F}.mean_rate"), &m, Allowed::RATE)?,
                        peak_to_mean: self.num_or(
                            &format!("{F}.peak_to_mean"),
                            peak_to_mean.as_ref(),
                            1.5,
                            Allowed::between(1.0, 100.0),
                        )?,
                        peak_hour: self.num_or(
                            &format!("{F}.peak_hour"),
                            peak_hour.as_ref(),
                            14.0,
                            hour_allowed(),
                        )?,
                    },
                    _ => {
                        return Err(self.invalid(F, "a diurnal process", "either `hourly` (24 rates) or `mean_rate` (with optional `peak_to_mean`, `peak_hour`), not both or neither", None));
                    }
                };
                Arrivals::Diurnal {
                    profile,
                    start_hour,
                }
            }
            RawArrivals::Renewal { rate, cv, family } => {
                let family = match family.as_deref() {
                    None | Some("gamma") => RenewalFamily::Gamma,
                    Some("weibull") => RenewalFamily::Weibull,
                    Some(other) => {
                        return Err(self.invalid(
                            &format!("{F}.family"),
                            format!("\"{other}\""),
                            "\"gamma\" or \"weibull\"",
                            None,
                        ));
                    }
                };
                let cv_allowed = match family {
                    RenewalFamily::Gamma => Allowed::NON_NEGATIVE,
                    // Weibull CV below 0.05 needs shapes beyond the solver's bracket.
                    RenewalFamily::Weibull => Allowed::between(0.05, 50.0),
                };
                Arrivals::Renewal {
                    rate: self.num(
                        &format!("{F}.rate"),
                        &rate,
                        Allowed {
                            min_inclusive: false,
                            ..Allowed::RATE
                        },
                    )?,
                    cv: self.num(&format!("{F}.cv"), &cv, cv_allowed)?,
                    family,
                }
            }
            RawArrivals::Trace {
                path,
                format,
                requests,
                time_scale,
                rate_scale,
            } => {
                let format = match format.as_deref() {
                    None | Some("auto") => None,
                    Some(f) => Some(TraceFormat::parse(f).ok_or_else(|| {
                        self.invalid(
                            &format!("{F}.format"),
                            format!("\"{f}\""),
                            TraceFormat::NAMES,
                            None,
                        )
                    })?),
                };
                let trace = match (path, requests) {
                    (Some(p), None) => {
                        let bytes = self.load(&format!("{F}.path"), &p)?;
                        parse_trace(&bytes, format).map_err(|e| {
                            self.file_error(&format!("{F}.path"), format!("\"{p}\": {e}"))
                        })?
                    }
                    (None, Some(rows)) => inline_trace(&rows)
                        .map_err(|e| self.file_error(&format!("{F}.requests"), e))?,
                    _ => {
                        return Err(self.invalid(
                            F,
                            "a trace process",
                            "exactly one of `path` (a trace file) or `requests` (inline rows)",
                            None,
                        ));
                    }
                };
                Arrivals::Trace {
                    trace: Arc::new(trace),
                    time_scale: self.num_or(
                        &format!("{F}.time_scale"),
                        time_scale.as_ref(),
                        1.0,
                        Allowed::between(1e-6, 1e6),
                    )?,
                    rate_scale: self.num_or(
                        &format!("{F}.rate_scale"),
                        rate_scale.as_ref(),
                        1.0,
                        Allowed::between(1e-6, 1e6),
                    )?,
                }
            }
        })
    }

    fn length(&mut self, field: &str, raw: RawLength) -> R<LengthDist> {
        let tokens = Allowed::between(1.0, u32::MAX as f64);
        let sub = |k: &str| format!("{field}.{k}");
        let dist = match raw {
            RawLength::Fixed(v) => {
                let p = self.param(field, &Num::Value(v as f64), tokens)?;
                LengthDist::Fixed(p)
            }
            RawLength::Table(RawLengthTable::Fixed { value }) => {
                LengthDist::Fixed(self.num(&sub("value"), &value, tokens)?)
            }
            RawLength::Table(RawLengthTable::Uniform { min, max }) => LengthDist::Uniform {
                min: self.num(&sub("min"), &min, tokens)?,
                max: self.num(&sub("max"), &max, tokens)?,
            },
            RawLength::Table(RawLengthTable::Lognormal {
                median,
                sigma,
                min,
                max,
            }) => LengthDist::LogNormal {
                median: self.num(&sub("median"), &median, Allowed::POSITIVE)?,
                sigma: self.num(&sub("sigma"), &sigma, Allowed::NON_NEGATIVE)?,
                min: self.num_or(&sub("min"), min.as_ref(), 1.0, tokens)?,
                max: self.num_or(&sub("max"), max.as_ref(), MAX_TOKENS_DEFAULT, tokens)?,
            },
            RawLength::Table(RawLengthTable::Exponential { mean, min, max }) => {
                LengthDist::Exponential {
                    mean: self.num(&sub("mean"), &mean, Allowed::POSITIVE)?,
                    min: self.num_or(&sub("min"), min.as_ref(), 1.0, tokens)?,
                    max: self.num_or(&sub("max"), max.as_ref(), u32::MAX as f64, tokens)?,
                }
            }
            RawLength::Table(RawLengthTable::Empirical {
                path,
                format,
                column,
                min,
                max,
            }) => {
                let format = match format.as_deref() {
                    None | Some("auto") => None,
                    Some(f) => Some(TraceFormat::parse(f).ok_or_else(|| {
                        self.invalid(&sub("format"), format!("\"{f}\""), TraceFormat::NAMES, None)
                    })?),
                };
                let bytes = self.load(&sub("path"), &path)?;
                let table = parse_lengths(&bytes, format, column.as_deref())
                    .map_err(|e| self.file_error(&sub("path"), format!("\"{path}\": {e}")))?;
                LengthDist::Empirical {
                    table: Arc::new(table),
                    min: self.num_or(&sub("min"), min.as_ref(), 1.0, tokens)?,
                    max: self.num_or(&sub("max"), max.as_ref(), u32::MAX as f64, tokens)?,
                }
            }
        };
        // Bounds that are both fixed must be ordered.
        let bounds = match &dist {
            LengthDist::Uniform { min, max }
            | LengthDist::LogNormal { min, max, .. }
            | LengthDist::Exponential { min, max, .. }
            | LengthDist::Empirical { min, max, .. } => Some((*min, *max)),
            LengthDist::Fixed(_) => None,
        };
        if let Some((Param::Fixed(lo), Param::Fixed(hi))) = bounds
            && lo > hi
        {
            return Err(self.invalid(&sub("max"), hi, format!("a number >= min ({lo})"), None));
        }
        Ok(dist)
    }

    fn model(&mut self, raw: Option<RawPresetRef<RawModel>>) -> R<ModelSpec> {
        const F: &str = "engine.model";
        let raw = match raw {
            None => RawModel {
                preset: Some("llama-3.1-70b".into()),
                ..Default::default()
            },
            Some(RawPresetRef::Name(n)) => RawModel {
                preset: Some(n),
                ..Default::default()
            },
            Some(RawPresetRef::Table(t)) => t,
        };
        let field = if raw.preset.is_some() && raw.params_b.is_none() {
            F.to_string()
        } else {
            format!("{F}.preset")
        };
        let mut m = match &raw.preset {
            Some(key) => presets::model(key).ok_or_else(|| {
                self.invalid(&field, format!("\"{key}\""), format!("a model preset ({})", presets::model_keys().join(", ")), Some("Or describe the model in a table: model = { params_b = 8.0, layers = 32, hidden = 4096, kv_heads = 8, head_dim = 128 }.".into()))
            })?,
            None => {
                let need = |v: &Option<RawNum>, k: &str, r: &Self| v.is_none().then(|| r.missing(&format!("{F}.{k}"), "a custom model (no preset) needs params_b, layers, hidden, kv_heads and head_dim"));
                for (v, k) in [(&raw.params_b, "params_b"), (&raw.layers, "layers"), (&raw.hidden, "hidden"), (&raw.kv_heads, "kv_heads"), (&raw.head_dim, "head_dim")] {
                    if let Some(e) = need(v, k, self) {
                        return Err(e);
                    }
                }
                ModelSpec {
                    key: "custom".into(),
                    name: raw.name.clone().unwrap_or_else(|| "custom model".into()),
                    params_b: 0.0,
                    active_params_b: 0.0,
                    layers: 0.0,
                    hidden: 0.0,
                    kv_heads: 0.0,
                    head_dim: 0.0,
                    kv_values_per_layer: 0.0,
                    experts: 0.0,
                    experts_per_token: 0.0,
                    expert_params_b: 0.0,
                    source: "scenario file".into(),
                }
            }
        };
        let preset_kv = m.kv_values_per_layer;
        let preset_default_kv = 2.0 * m.kv_heads * m.head_dim;
        let pos = Allowed::POSITIVE;
        let cnt = Allowed::POSITIVE_COUNT;
        let set = |r: &mut Self, v: &Option<RawNum>, k: &str, a: Allowed, dst: &mut f64| -> R<()> {
            if let Some(x) = r.plain(&format!("{F}.{k}"), v.as_ref(), a)? {
                *dst = x;
            }
            Ok(())
        };
        let had_active = raw.active_params_b.is_some();
        set(self, &raw.params_b, "params_b", pos, &mut m.params_b)?;
        if !had_active && raw.preset.is_none() {
            m.active_params_b = m.params_b;
        }
        set(
            self,
            &raw.active_params_b,
            "active_params_b",
            pos,
            &mut m.active_params_b,
        )?;
        set(self, &raw.layers, "layers", cnt, &mut m.layers)?;
        set(self, &raw.hidden, "hidden", cnt, &mut m.hidden)?;
        set(self, &raw.kv_heads, "kv_heads", cnt, &mut m.kv_heads)?;
        set(self, &raw.head_dim, "head_dim", cnt, &mut m.head_dim)?;
        m.kv_values_per_layer =
            if preset_kv != preset_default_kv && raw.kv_heads.is_none() && raw.head_dim.is_none() {
                preset_kv
            } else {
                2.0 * m.kv_heads * m.head_dim
            };
        set(
            self,
            &raw.kv_values_per_layer,
            "kv_values_per_layer",
            pos,
            &mut m.kv_values_per_layer,
        )?;
        set(
            self,
            &raw.experts,
            "experts",
            Allowed::COUNT,
            &mut m.experts,
        )?;
        set(
            self,
            &raw.experts_per_token,
            "experts_per_token",
            Allowed::COUNT,
            &mut m.experts_per_token,
        )?;
        set(
            self,
            &raw.expert_params_b,
            "expert_params_b",
            Allowed::NON_NEGATIVE,
            &mut m.expert_params_b,
        )?;
        if let Some(n) = raw.name {
            m.name = n;
        }
        if let Some(s) = raw.source {
            m.source = s;
        }
        if m.active_params_b > m.params_b {
            return Err(self.invalid(
                &format!("{F}.active_params_b"),
                m.active_params_b,
                format!("at most params_b ({})", m.params_b),
                None,
            ));
        }
        if m.is_moe() && !(m.experts_per_token >= 1.0 && m.experts_per_token <= m.experts) {
            return Err(self.invalid(
                &format!("{F}.experts_per_token"),
                m.experts_per_token,
                format!("between 1 and experts ({})", m.experts),
                None,
            ));
        }
        if m.expert_params_b > m.params_b {
            return Err(self.invalid(
                &format!("{F}.expert_params_b"),
                m.expert_params_b,
                format!("at most params_b ({})", m.params_b),
                None,
            ));
        }
        Ok(m)
    }

    fn gpu(&mut self, field: &str, raw: Option<RawPresetRef<RawGpu>>) -> R<GpuSpec> {
        let f = field;
        let raw = match raw {
            None => RawGpu {
                preset: Some("h100-sxm".into()),
                ..Default::default()
            },
            Some(RawPresetRef::Name(n)) => RawGpu {
                preset: Some(n),
                ..Default::default()
            },
            Some(RawPresetRef::Table(t)) => t,
        };
        let mut g = match &raw.preset {
            Some(key) => {
                let field = if raw.memory_gb.is_none() {
                    f.to_string()
                } else {
                    format!("{f}.preset")
                };
                presets::gpu(key).ok_or_else(|| {
                    self.invalid(
                        &field,
                        format!("\"{key}\""),
                        format!("a GPU preset ({})", presets::gpu_keys().join(", ")),
                        None,
                    )
                })?
            }
            None => {
                for (v, k) in [
                    (&raw.memory_gb, "memory_gb"),
                    (&raw.hbm_tb_s, "hbm_tb_s"),
                    (&raw.bf16_tflops, "bf16_tflops"),
                ] {
                    if v.is_none() {
                        return Err(self.missing(
                            &format!("{f}.{k}"),
                            "a custom GPU (no preset) needs memory_gb, hbm_tb_s and bf16_tflops",
                        ));
                    }
                }
                GpuSpec {
                    key: "custom".into(),
                    name: raw.name.clone().unwrap_or_else(|| "custom GPU".into()),
                    memory_gb: 0.0,
                    hbm_tb_s: 0.0,
                    bf16_tflops: 0.0,
                    fp8_tflops: None,
                    fp4_tflops: None,
                    link_gb_s: 32.0,
                    allreduce_latency_us: 25.0,
                    tdp_watts: 700.0,
                    source: "scenario file".into(),
                }
            }
        };
        let pos = Allowed::POSITIVE;
        let set = |r: &mut Self, v: &Option<RawNum>, k: &str, a: Allowed| -> R<Option<f64>> {
            r.plain(&format!("{f}.{k}"), v.as_ref(), a)
        };
        if let Some(x) = set(self, &raw.memory_gb, "memory_gb", pos)? {
            g.memory_gb = x;
        }
        if let Some(x) = set(self, &raw.hbm_tb_s, "hbm_tb_s", pos)? {
            g.hbm_tb_s = x;
        }
        if let Some(x) = set(self, &raw.bf16_tflops, "bf16_tflops", pos)? {
            g.bf16_tflops = x;
        }
        if let Some(x) = set(self, &raw.fp8_tflops, "fp8_tflops", pos)? {
            g.fp8_tflops = Some(x);
        }
        if let Some(x) = set(self, &raw.fp4_tflops, "fp4_tflops", pos)? {
            g.fp4_tflops = Some(x);
        }
        if let Some(x) = set(self, &raw.link_gb_s, "link_gb_s", pos)? {
            g.link_gb_s = x;
        }
        if let Some(x) = set(
            self,
            &raw.allreduce_latency_us,
            "allreduce_latency_us",
            Allowed::NON_NEGATIVE,
        )? {
            g.allreduce_latency_us = x;
        }
        if let Some(x) = set(self, &raw.tdp_watts, "tdp_watts", pos)? {
            g.tdp_watts = x;
        }
        if let Some(n) = raw.name {
            g.name = n;
        }
        if let Some(s) = raw.source {
            g.source = s;
        }
        Ok(g)
    }

    fn engine(&mut self, raw: Option<RawEngine>) -> R<Engine> {
        const F: &str = "engine";
        let raw = raw.unwrap_or(RawEngine {
            model: None,
            gpu: None,
            precision: None,
            kv_dtype: None,
            tensor_parallel: None,
            gpu_memory_utilization: None,
            max_batch: None,
            kv_capacity_tokens: None,
            admission: None,
            kv_block_tokens: None,
            chunked_prefill_tokens: None,
            router: None,
            step_time: None,
        });
        let model = self.model(raw.model)?;
        let gpu = self.gpu("engine.gpu", raw.gpu)?;
        let precision = match raw.precision.as_deref() {
            None => Precision::Fp8,
            Some(p) => Precision::parse(p).ok_or_else(|| {
                self.invalid(
                    &format!("{F}.precision"),
                    format!("\"{p}\""),
                    Precision::NAMES,
                    None,
                )
            })?,
        };
        let kv_bytes = match raw.kv_dtype.as_deref() {
            None => precision.default_kv_bytes(),
            Some("bf16" | "fp16") => 2.0,
            Some("fp8" | "int8") => 1.0,
            Some(p) => {
                return Err(self.invalid(
                    &format!("{F}.kv_dtype"),
                    format!("\"{p}\""),
                    "bf16, fp16, fp8 or int8",
                    None,
                ));
            }
        };
        let tp_written = raw.tensor_parallel.is_some();
        let tp_allowed = Allowed {
            max: 64.0,
            ..Allowed::POSITIVE_COUNT
        };
        let tensor_parallel = self.num_or(
            &format!("{F}.tensor_parallel"),
            raw.tensor_parallel.as_ref(),
            2.0,
            tp_allowed,
        )?;
        let gmu = self.num_or(
            &format!("{F}.gpu_memory_utilization"),
            raw.gpu_memory_utilization.as_ref(),
            0.9,
            Allowed::FRACTION,
        )?;
        let max_batch = self.num_or(
            &format!("{F}.max_batch"),
            raw.max_batch.as_ref(),
            256.0,
            Allowed::POSITIVE_COUNT,
        )?;
        let kv_cap_allowed = Allowed {
            max: 1e15,
            ..Allowed::POSITIVE_COUNT
        };
        let kv_capacity_tokens = match &raw.kv_capacity_tokens {
            Some(v) => Some(self.num(&format!("{F}.kv_capacity_tokens"), v, kv_cap_allowed)?),
            None => None,
        };
        let admission = match raw.admission.as_deref() {
            None | Some("reserve") => Admission::Reserve,
            Some("paged") => Admission::Paged,
            Some(a) => {
                return Err(self.invalid(
                    &format!("{F}.admission"),
                    format!("\"{a}\""),
                    "\"reserve\" or \"paged\"",
                    None,
                ));
            }
        };
        let kv_block_tokens = self.num_or(
            &format!("{F}.kv_block_tokens"),
            raw.kv_block_tokens.as_ref(),
            16.0,
            Allowed {
                max: 1e6,
                ..Allowed::POSITIVE_COUNT
            },
        )?;
        let chunked = self.num_or(
            &format!("{F}.chunked_prefill_tokens"),
            raw.chunked_prefill_tokens.as_ref(),
            0.0,
            Allowed::COUNT,
        )?;
        let router = match raw.router.as_deref() {
            None => RouterKind::LeastLoaded,
            Some(r) => RouterKind::parse(r).ok_or_else(|| {
                self.invalid(
                    &format!("{F}.router"),
                    format!("\"{r}\""),
                    RouterKind::NAMES,
                    None,
                )
            })?,
        };
        let st = format!("{F}.step_time");
        let step_time = match raw.step_time {
            None => StepTime::Roofline {
                mfu: DEFAULT_MFU.into(),
                mbu: DEFAULT_MBU.into(),
                overhead_s: DEFAULT_OVERHEAD_S.into(),
            },
            Some(RawStepTime::Linear {
                fixed_s,
                prefill_per_token_s,
                decode_per_seq_s,
                kv_per_token_s,
            }) => {
                // Coefficients beyond these bounds are typos (a step of
                // minutes) and would stall the simulation.
                let s = StepTime::Linear {
                    fixed_s: self.num_or(
                        &format!("{st}.fixed_s"),
                        fixed_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 10.0),
                    )?,
                    prefill_per_token_s: self.num_or(
                        &format!("{st}.prefill_per_token_s"),
                        prefill_per_token_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 0.1),
                    )?,
                    decode_per_seq_s: self.num_or(
                        &format!("{st}.decode_per_seq_s"),
                        decode_per_seq_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 1.0),
                    )?,
                    kv_per_token_s: self.num_or(
                        &format!("{st}.kv_per_token_s"),
                        kv_per_token_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 0.01),
                    )?,
                };
                if let StepTime::Linear {
                    fixed_s: Param::Fixed(a),
                    prefill_per_token_s: Param::Fixed(b),
                    decode_per_seq_s: Param::Fixed(c),
                    kv_per_token_s: Param::Fixed(d),
                } = s
                    && a + b + c + d == 0.0
                {
                    return Err(self.invalid(
                        &st,
                        "all-zero coefficients",
                        "at least one positive coefficient (an iteration must take time)",
                        None,
                    ));
                }
                s
            }
            Some(RawStepTime::Roofline {
                mfu,
                mbu,
                overhead_s,
            }) => StepTime::Roofline {
                // Below 1% efficiency or above 1 s of overhead a step takes
                // minutes: a typo that would stall the simulation.
                mfu: self.num_or(
                    &format!("{st}.mfu"),
                    mfu.as_ref(),
                    DEFAULT_MFU,
                    Allowed::between(0.01, 1.0),
                )?,
                mbu: self.num_or(
                    &format!("{st}.mbu"),
                    mbu.as_ref(),
                    DEFAULT_MBU,
                    Allowed::between(0.01, 1.0),
                )?,
                overhead_s: self.num_or(
                    &format!("{st}.overhead_s"),
                    overhead_s.as_ref(),
                    DEFAULT_OVERHEAD_S,
                    Allowed::between(0.0, 1.0),
                )?,
            },
        };
        let engine = Engine {
            model,
            gpu,
            precision,
            kv_bytes,
            tensor_parallel,
            gpu_memory_utilization: gmu,
            max_batch,
            kv_capacity_tokens,
            admission,
            kv_block_tokens,
            chunked_prefill_tokens: chunked,
            router,
            step_time,
        };
        let field = if tp_written {
            format!("{F}.tensor_parallel")
        } else {
            format!("{F}.model")
        };
        self.check_weights_fit(&engine, &field)?;
        Ok(engine)
    }

    /// The weights must fit whenever the KV capacity is derived or the
    /// roofline needs them; the error points at `field`.
    fn check_weights_fit(&self, engine: &Engine, field: &str) -> R<()> {
        let needs_fit = engine.kv_capacity_tokens.is_none()
            || matches!(engine.step_time, StepTime::Roofline { .. });
        if !needs_fit {
            return Ok(());
        }
        let medians = self.uncertain.medians();
        let figures = EngineFigures::new(engine, &medians);
        if figures.kv_capacity_tokens_derived < 1.0 {
            return Err(self.invalid(
                field,
                figures.tensor_parallel,
                format!(
                    "enough GPUs for the weights: {} at {} needs {:.1} GB of weights, but {} x {} x {:.2} memory utilization leaves {:.1} GB",
                    engine.model.name,
                    engine.precision.name(),
                    figures.weight_bytes / 1e9,
                    figures.tensor_parallel,
                    engine.gpu.key,
                    figures.gpu_memory_utilization,
                    figures.usable_memory_bytes / 1e9
                ),
                Some("Raise tensor_parallel, pick a larger GPU, or a lower precision.".into()),
            ));
        }
        Ok(())
    }

    fn check_lengths_fit(&self, w: &Workload, e: &Engine) -> R<()> {
        let medians = self.uncertain.medians();
        let cap = EngineFigures::new(e, &medians).kv_capacity_tokens as f64;
        let min_of = |d: &Option<LengthDist>| -> f64 {
            match d {
                None => 1.0,
                Some(LengthDist::Fixed(p)) => p.value(&medians),
                Some(LengthDist::Uniform { min, .. })
                | Some(LengthDist::LogNormal { min, .. })
                | Some(LengthDist::Exponential { min, .. })
                | Some(LengthDist::Empirical { min, .. }) => min.value(&medians),
            }
        };
        let least = min_of(&w.prompt_tokens) + min_of(&w.output_tokens);
        if least > cap {
            let field = if matches!(w.prompt_tokens, Some(LengthDist::Fixed(_))) {
                "workload.prompt_tokens"
            } else {
                "engine.kv_capacity_tokens"
            };
            return Err(self.invalid(
                field,
                format!("prompt + output of at least {least} tokens"),
                format!("requests that fit the KV cache of {cap} tokens per replica"),
                Some("Every request would be rejected; raise kv_capacity_tokens (or GPU memory / tensor_parallel) or shorten the requests.".into()),
            ));
        }
        Ok(())
    }

    fn slo(&mut self, raw: RawSlo) -> R<Slo> {
        Ok(Slo {
            ttft_s: self.dur_or("slo.ttft", raw.ttft.as_ref(), 2.0, Allowed::POSITIVE)?,
            tpot_s: self.dur_or("slo.tpot", raw.tpot.as_ref(), 0.1, Allowed::POSITIVE)?,
            max_queue_s: match &raw.max_queue {
                Some(q) => Some(self.dur("slo.max_queue", q, Allowed::NON_NEGATIVE)?),
                None => None,
            },
        })
    }

    fn api(&mut self, raw: RawApi) -> R<Api> {
        let nn = Allowed::NON_NEGATIVE;
        Ok(Api {
            input_per_m: self.num_or("api.input_per_m", raw.input_per_m.as_ref(), 0.60, nn)?,
            output_per_m: self.num_or("api.output_per_m", raw.output_per_m.as_ref(), 3.60, nn)?,
            latency_s: self.event_dur("api.latency", raw.latency.as_ref(), 0.5)?,
            tpot_s: self.dur_or("api.tpot", raw.tpot.as_ref(), 0.02, nn)?,
        })
    }

    fn strategy(&mut self, i: usize, raw: RawStrategy, engine: &Engine) -> R<Strategy> {
        let f = format!("strategy[{i}]");
        let name = raw.name.unwrap_or_else(|| format!("strategy-{}", i + 1));
        if name.is_empty() || name.contains([',', '"', '\n']) {
            return Err(self.invalid(
                &format!("{f}.name"),
                format!("\"{name}\""),
                "a non-empty name without commas, quotes or newlines",
                None,
            ));
        }
        let overflow = match raw.overflow.as_deref() {
            None | Some("drop") => Overflow::Drop,
            Some("api") => Overflow::Api,
            Some(o) => {
                return Err(self.invalid(
                    &format!("{f}.overflow"),
                    format!("\"{o}\""),
                    "\"api\" or \"drop\"",
                    None,
                ));
            }
        };
        let mut pools: Vec<Pool> = Vec::new();
        for (j, p) in raw.pools.into_iter().enumerate() {
            let pool = self.pool(&format!("{f}.pools[{j}]"), p, engine)?;
            let mut name = pool.name.clone();
            let mut k = 2;
            while pools.iter().any(|q| q.name == name) {
                name = format!("{}-{k}", pool.name);
                k += 1;
            }
            pools.push(Pool { name, ..pool });
        }
        if pools.is_empty() && overflow != Overflow::Api {
            return Err(self.invalid(
                &format!("{f}.pools"),
                "[]",
                "at least one pool, or overflow = \"api\" (the pure-API plan)",
                Some("A strategy with no capacity and no overflow could serve nothing.".into()),
            ));
        }
        let a = raw.autoscale;
        let af = format!("{f}.autoscale");
        let autoscale = Autoscale {
            interval_s: self.dur_or(
                &format!("{af}.interval"),
                a.as_ref().and_then(|a| a.interval.as_ref()),
                10.0,
                Allowed::at_least(0.1),
            )?,
            target_inflight_per_replica: self.num_or(
                &format!("{af}.target_inflight_per_replica"),
                a.as_ref()
                    .and_then(|a| a.target_inflight_per_replica.as_ref()),
                32.0,
                Allowed::POSITIVE,
            )?,
            target_queue_wait_s: match a.as_ref().and_then(|a| a.target_queue_wait.as_ref()) {
                Some(q) => {
                    Some(self.dur(&format!("{af}.target_queue_wait"), q, Allowed::POSITIVE)?)
                }
                None => None,
            },
            scale_down_delay_s: self.dur_or(
                &format!("{af}.scale_down_delay"),
                a.as_ref().and_then(|a| a.scale_down_delay.as_ref()),
                300.0,
                Allowed::NON_NEGATIVE,
            )?,
        };
        Ok(Strategy {
            name,
            pools,
            overflow,
            autoscale,
        })
    }

    fn min_max(&mut self, f: &str, min: Option<&RawNum>, max: &RawNum) -> R<(Param, Param)> {
        let min_p = self.num_or(&format!("{f}.min_replicas"), min, 0.0, Allowed::COUNT)?;
        let max_p = self.num(&format!("{f}.max_replicas"), max, Allowed::POSITIVE_COUNT)?;
        let lo = match min_p {
            Param::Fixed(v) => v,
            Param::Drawn(i) => self.uncertain.inputs[i].dist.support().1,
        };
        let hi = match max_p {
            Param::Fixed(v) => v,
            Param::Drawn(i) => self.uncertain.inputs[i].dist.support().0,
        };
        if lo > hi {
            return Err(self.invalid(
                &format!("{f}.min_replicas"),
                lo,
                format!("at most max_replicas ({hi})"),
                None,
            ));
        }
        Ok((min_p, max_p))
    }

    fn startup(
        &mut self,
        f: &str,
        provisioning: Option<&RawDur>,
        load: Option<&RawDur>,
        engine: &Engine,
    ) -> R<Startup> {
        let load_default = default_load_s(engine, &self.uncertain.medians());
        Ok(Startup {
            provisioning_s: self.event_dur(&format!("{f}.provisioning"), provisioning, 180.0)?,
            load_s: self.event_dur(&format!("{f}.load_time"), load, load_default)?,
        })
    }

    fn billing(&self, f: &str, raw: Option<&str>) -> R<Billing> {
        match raw {
            None | Some("per_second") => Ok(Billing::PerSecond),
            Some("per_hour") => Ok(Billing::PerStartedHour),
            Some(b) => Err(self.invalid(
                &format!("{f}.billing"),
                format!("\"{b}\""),
                "\"per_second\" or \"per_hour\" (per started hour)",
                None,
            )),
        }
    }

    /// The engine of a pool's replicas: the scenario's, with the pool's own
    /// GPU and tensor parallelism if it gives them; the weights must fit.
    fn pool_engine(&mut self, f: &str, raw: &mut RawPool, engine: &Engine) -> R<Engine> {
        let (gpu, tp) = raw.take_hardware();
        let mut e = engine.clone();
        let gpu_given = gpu.is_some();
        if let Some(g) = gpu {
            e.gpu = self.gpu(&format!("{f}.gpu"), Some(g))?;
        }
        let tp_given = tp.is_some();
        if let Some(tp) = tp {
            let allowed = Allowed {
                max: 64.0,
                ..Allowed::POSITIVE_COUNT
            };
            e.tensor_parallel = self.num(&format!("{f}.tensor_parallel"), &tp, allowed)?;
        }
        if gpu_given || tp_given {
            let field = if tp_given {
                format!("{f}.tensor_parallel")
            } else {
                format!("{f}.gpu")
            };
            self.check_weights_fit(&e, &field)?;
        }
        Ok(e)
    }

    fn pool(&mut self, f: &str, mut raw: RawPool, engine: &Engine) -> R<Pool> {
        let nn = Allowed::NON_NEGATIVE;
        let engine = &self.pool_engine(f, &mut raw, engine)?;
        let (name, kind) = match raw {
            RawPool::Reserved {
                name,
                replicas,
                price_per_gpu_hour,
                ..
            } => (
                name,
                PoolKind::Reserved {
                    replicas: self.num(
                        &format!("{f}.replicas"),
                        &replicas,
                        Allowed::POSITIVE_COUNT,
                    )?,
                    price_per_gpu_hour: self.num(
                        &format!("{f}.price_per_gpu_hour"),
                        &price_per_gpu_hour,
                        nn,
                    )?,
                },
            ),
            RawPool::Owned {
                name,
                replicas,
                capex_per_gpu,
                amortization,
                idle_watts,
                busy_watts,
                pue,
                usd_per_kwh,
                ops_per_gpu_hour,
                ..
            } => {
                let tdp = engine.gpu.tdp_watts;
                (
                    name,
                    PoolKind::Owned {
                        replicas: self.num(
                            &format!("{f}.replicas"),
                            &replicas,
                            Allowed::POSITIVE_COUNT,
                        )?,
                        capex_per_gpu: self.num(
                            &format!("{f}.capex_per_gpu"),
                            &capex_per_gpu,
                            nn,
                        )?,
                        amortization_s: self.dur(
                            &format!("{f}.amortization"),
                            &amortization,
                            Allowed::POSITIVE,
                        )?,
                        idle_watts: self.num_or(
                            &format!("{f}.idle_watts"),
                            idle_watts.as_ref(),
                            (0.15 * tdp).round(),
                            nn,
                        )?,
                        busy_watts: self.num_or(
                            &format!("{f}.busy_watts"),
                            busy_watts.as_ref(),
                            tdp,
                            nn,
                        )?,
                        pue: self.num_or(
                            &format!("{f}.pue"),
                            pue.as_ref(),
                            1.3,
                            Allowed::at_least(1.0),
                        )?,
                        usd_per_kwh: self.num_or(
                            &format!("{f}.usd_per_kwh"),
                            usd_per_kwh.as_ref(),
                            0.12,
                            nn,
                        )?,
                        ops_per_gpu_hour: self.num_or(
                            &format!("{f}.ops_per_gpu_hour"),
                            ops_per_gpu_hour.as_ref(),
                            0.0,
                            nn,
                        )?,
                    },
                )
            }
            RawPool::OnDemand {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_hour,
                provisioning,
                load_time,
                min_billed,
                billing,
                ..
            } => {
                let (min_replicas, max_replicas) =
                    self.min_max(f, min_replicas.as_ref(), &max_replicas)?;
                (
                    name,
                    PoolKind::OnDemand {
                        min_replicas,
                        max_replicas,
                        price_per_gpu_hour: self.num(
                            &format!("{f}.price_per_gpu_hour"),
                            &price_per_gpu_hour,
                            nn,
                        )?,
                        startup: self.startup(
                            f,
                            provisioning.as_ref(),
                            load_time.as_ref(),
                            engine,
                        )?,
                        min_billed_s: self.dur_or(
                            &format!("{f}.min_billed"),
                            min_billed.as_ref(),
                            60.0,
                            nn,
                        )?,
                        billing: self.billing(f, billing.as_deref())?,
                    },
                )
            }
            RawPool::Spot {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_hour,
                provisioning,
                load_time,
                min_billed,
                billing,
                interruptions_per_hour,
                notice,
                ..
            } => {
                let (min_replicas, max_replicas) =
                    self.min_max(f, min_replicas.as_ref(), &max_replicas)?;
                (
                    name,
                    PoolKind::Spot {
                        min_replicas,
                        max_replicas,
                        price_per_gpu_hour: self.num(
                            &format!("{f}.price_per_gpu_hour"),
                            &price_per_gpu_hour,
                            nn,
                        )?,
                        startup: self.startup(
                            f,
                            provisioning.as_ref(),
                            load_time.as_ref(),
                            engine,
                        )?,
                        min_billed_s: self.dur_or(
                            &format!("{f}.min_billed"),
                            min_billed.as_ref(),
                            60.0,
                            nn,
                        )?,
                        billing: self.billing(f, billing.as_deref())?,
                        interruptions_per_hour: self.num(
                            &format!("{f}.interruptions_per_hour"),
                            &interruptions_per_hour,
                            nn,
                        )?,
                        notice_s: self.dur_or(
                            &format!("{f}.notice"),
                            notice.as_ref(),
                            120.0,
                            nn,
                        )?,
                    },
                )
            }
            RawPool::Serverless {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_second,
                price_per_gpu_hour,
                cold_start,
                container_start,
                load_gb_per_s,
                idle_timeout,
                bill_cold_start,
                ..
            } => {
                let (min_replicas, max_replicas) =
                    self.min_max(f, min_replicas.as_ref(), &max_replicas)?;
                let price = match (price_per_gpu_second, price_per_gpu_hour) {
                    (Some(s), None) => self.num(&format!("{f}.price_per_gpu_second"), &s, nn)?,
                    (None, Some(h)) => {
                        match self.num(&format!("{f}.price_per_gpu_hour"), &h, nn)? {
                            Param::Fixed(v) => Param::Fixed(v / HOUR_S),
                            Param::Drawn(_) => {
                                return Err(self.invalid(&format!("{f}.price_per_gpu_hour"), "a distribution", "a plain number here; write an uncertain serverless price as price_per_gpu_second", None));
                            }
                        }
                    }
                    _ => {
                        return Err(self.invalid(
                            &format!("{f}.price_per_gpu_second"),
                            "missing or given twice",
                            "exactly one of price_per_gpu_second or price_per_gpu_hour",
                            None,
                        ));
                    }
                };
                let cold = match (&cold_start, &container_start, &load_gb_per_s) {
                    (Some(c), None, None) => self.event_dur(&format!("{f}.cold_start"), Some(c), 0.0)?,
                    (Some(_), _, _) => return Err(self.invalid(&format!("{f}.cold_start"), "given with container_start/load_gb_per_s", "either cold_start, or container_start with load_gb_per_s (derived from weight bytes)", None)),
                    (None, c, l) => {
                        let medians = self.uncertain.medians();
                        let weights = EngineFigures::new(engine, &medians).weight_bytes;
                        let c = self.dur_or(&format!("{f}.container_start"), c.as_ref(), 20.0, nn)?;
                        let l = self.num_or(&format!("{f}.load_gb_per_s"), l.as_ref(), 2.0, Allowed::POSITIVE)?;
                        match (c, l) {
                            (Param::Fixed(c), Param::Fixed(l)) => EventDuration::Fixed(c + weights / (l * 1e9)),
                            _ => return Err(self.invalid(&format!("{f}.container_start"), "a distribution", "plain numbers when the cold start is derived; write an uncertain cold start as cold_start = { lognormal = ... }", None)),
                        }
                    }
                };
                (
                    name,
                    PoolKind::Serverless {
                        min_replicas,
                        max_replicas,
                        price_per_gpu_second: price,
                        cold_start_s: cold,
                        idle_timeout_s: self.dur_or(
                            &format!("{f}.idle_timeout"),
                            idle_timeout.as_ref(),
                            300.0,
                            nn,
                        )?,
                        bill_cold_start: bill_cold_start.unwrap_or(true),
                    },
                )
            }
        };
        Ok(Pool {
            name: name.unwrap_or_else(|| kind.kind_name().to_string()),
            kind,
            engine: engine.clone(),
        })
    }
}

fn hour_allowed() -> Allowed {
    Allowed {
        max: 24.0,
        max_inclusive: false,
        ..Allowed::NON_NEGATIVE
    }
}

/// Longest horizon accepted: five years.
pub const MAX_HORIZON_S: f64 = 5.0 * crate::units::YEAR_S;

/// Replications when the scenario does not say: enough for percentiles and
/// confidence intervals to mean something, small enough to run in seconds
/// on the shipped scenarios.
pub const DEFAULT_REPLICATIONS: u64 = 100;

/// Default roofline efficiencies; calibration.md §4 takeaways: MBU 0.55–0.75
/// for optimised engines with the per-step overhead modelled separately
/// (~1–2 ms), prefill MFU 29–38% on H100 FP8.
pub const DEFAULT_MFU: f64 = 0.35;
pub const DEFAULT_MBU: f64 = 0.7;
pub const DEFAULT_OVERHEAD_S: f64 = 0.0015;

/// Default model-load time of an on-demand or spot replica: weights at
/// 2 GB/s (stock loaders, calibration.md §6.1) plus 60 s of engine start.
fn default_load_s(engine: &Engine, draws: &Draws) -> f64 {
    60.0 + EngineFigures::new(engine, draws).weight_bytes / 2e9
}
