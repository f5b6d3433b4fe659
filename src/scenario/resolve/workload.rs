//! `[workload]`: arrival processes, traces, token-length distributions.

use super::*;

impl Resolver<'_, '_, '_> {
    pub(super) fn load(&mut self, field: &str, path: &str) -> R<Box<dyn std::io::Read>> {
        (self.loader)(path)
            .map_err(|e| self.file_error(field, format!("cannot read \"{path}\": {e}")))
    }

    pub(super) fn workload(&mut self, raw: RawWorkload) -> R<Workload> {
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
                median: defaults::PROMPT_MEDIAN.into(),
                sigma: defaults::PROMPT_SIGMA.into(),
                min: 1.0.into(),
                max: defaults::MAX_TOKENS.into(),
            }),
        };
        let output = match raw.output_tokens {
            Some(l) => Some(self.length("workload.output_tokens", l)?),
            None if trace_has_tokens => None,
            None => Some(LengthDist::LogNormal {
                median: defaults::OUTPUT_MEDIAN.into(),
                sigma: defaults::OUTPUT_SIGMA.into(),
                min: 1.0.into(),
                max: defaults::OUTPUT_MAX.into(),
            }),
        };
        let shared_prefix = match raw.shared_prefix {
            None => None,
            Some(s) => Some(SharedPrefix {
                groups: self.num(
                    "workload.shared_prefix.groups",
                    &s.groups,
                    Allowed {
                        max: 1e9,
                        ..Allowed::POSITIVE_COUNT
                    },
                )?,
                tokens: self.num(
                    "workload.shared_prefix.tokens",
                    &s.tokens,
                    Allowed::between(0.0, u32::MAX as f64),
                )?,
                round_robin: match s.assign.as_deref() {
                    None | Some("random") => false,
                    Some("round_robin") => true,
                    Some(a) => {
                        return Err(self.invalid(
                            "workload.shared_prefix.assign",
                            format!("\"{a}\""),
                            "\"random\" (each request joins a group at random, the default) or \"round_robin\" (in turn)",
                            None,
                        ));
                    }
                },
            }),
        };
        let sessions = match raw.sessions {
            None => None,
            Some(s) => {
                if prompt.is_none() || output.is_none() {
                    return Err(self.invalid(
                        "workload.sessions",
                        "a trace's own lengths",
                        "prompt_tokens and output_tokens given as distributions: each turn draws a new message and an answer",
                        None,
                    ));
                }
                Some(Sessions {
                    turns: self.length("workload.sessions.turns", s.turns)?,
                    think_s: match s.think_time {
                        Some(d) => self.dur(
                            "workload.sessions.think_time",
                            &d,
                            Allowed::between(0.0, 86_400.0),
                        )?,
                        None => 0.0.into(),
                    },
                    max_context: self.num_or(
                        "workload.sessions.max_context",
                        s.max_context.as_ref(),
                        defaults::MAX_TOKENS,
                        Allowed::between(1.0, u32::MAX as f64),
                    )?,
                })
            }
        };
        Ok(Workload {
            arrivals,
            prompt_tokens: prompt,
            output_tokens: output,
            shared_prefix,
            sessions,
        })
    }

    pub(super) fn arrivals(&mut self, raw: RawArrivals) -> R<Arrivals> {
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
                            defaults::PEAK_TO_MEAN,
                            Allowed::between(1.0, 100.0),
                        )?,
                        peak_hour: self.num_or(
                            &format!("{F}.peak_hour"),
                            peak_hour.as_ref(),
                            defaults::PEAK_HOUR,
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
            RawArrivals::Stages { stages, spacing } => {
                if stages.is_empty() {
                    return Err(self.invalid(
                        &format!("{F}.stages"),
                        "[]",
                        "at least one stage, e.g. stages = [ { rate = 8.0, duration = \"10m\" } ]",
                        None,
                    ));
                }
                let spacing = match spacing.as_deref() {
                    None | Some("constant") => Spacing::Constant,
                    Some("poisson") => Spacing::Poisson,
                    Some(s) => {
                        return Err(self.invalid(
                            &format!("{F}.spacing"),
                            format!("\"{s}\""),
                            "\"constant\" (evenly spaced, the default) or \"poisson\"",
                            None,
                        ));
                    }
                };
                let stages = stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        Ok((
                            self.num(&format!("{F}.stages[{i}].rate"), &s.rate, Allowed::RATE)?,
                            self.dur(
                                &format!("{F}.stages[{i}].duration"),
                                &s.duration,
                                Allowed::between(0.0, defaults::MAX_HORIZON_S),
                            )?,
                        ))
                    })
                    .collect::<R<Vec<_>>>()?;
                Arrivals::Stages { stages, spacing }
            }
            RawArrivals::ClosedLoop {
                concurrency,
                think_time,
            } => Arrivals::ClosedLoop {
                clients: self.num(
                    &format!("{F}.concurrency"),
                    &concurrency,
                    Allowed {
                        max: 1e6,
                        ..Allowed::POSITIVE_COUNT
                    },
                )?,
                think_s: match &think_time {
                    Some(t) => self.dur(
                        &format!("{F}.think_time"),
                        t,
                        Allowed::between(0.0, defaults::MAX_HORIZON_S),
                    )?,
                    None => Param::Fixed(0.0),
                },
            },
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
                    // Gamma shapes below 1e-4 (CV above 100) stall the sampler.
                    RenewalFamily::Gamma => Allowed::between(0.0, 100.0),
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
                        let src = self.load(&format!("{F}.path"), &p)?;
                        // Trace seconds a run reaches: times are scaled by
                        // time_scale / (rate_scale × demand_scale). The margin
                        // keeps the row that rounding could put at the horizon.
                        let fixed = |n: &Option<RawNum>| match n {
                            None => Some(1.0),
                            Some(RawNum(Num::Value(v))) => Some(*v),
                            Some(_) => None,
                        };
                        let (ts, rs) = (fixed(&time_scale), fixed(&rate_scale));
                        let keep = match (self.trace_reach_s, ts, rs) {
                            (Some(reach), Some(ts), Some(rs)) if ts > 0.0 => {
                                Some(reach * rs / ts * (1.0 + 1e-9) + 1.0)
                            }
                            _ => None,
                        };
                        parse_trace(src, format, keep).map_err(|e| {
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

    pub(super) fn length(&mut self, field: &str, raw: RawLength) -> R<LengthDist> {
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
                max: self.num_or(&sub("max"), max.as_ref(), defaults::MAX_TOKENS, tokens)?,
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
                let src = self.load(&sub("path"), &path)?;
                let table = parse_lengths(src, format, column.as_deref())
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
}

fn hour_allowed() -> Allowed {
    Allowed {
        max: 24.0,
        max_inclusive: false,
        ..Allowed::NON_NEGATIVE
    }
}
