//! Numeric fields: plain values, uncertain numbers (registered for the
//! replication draws), search spaces (for `fleetsim size`) and durations
//! drawn per event, each checked against what the field allows.

use super::*;

impl Resolver<'_, '_, '_> {
    /// Resolves a number that may be uncertain or a search space.
    pub(super) fn param(&mut self, field: &str, num: &Num, allowed: Allowed) -> R<Param> {
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

    pub(super) fn num(&mut self, field: &str, raw: &RawNum, allowed: Allowed) -> R<Param> {
        self.param(field, &raw.0, allowed)
    }

    pub(super) fn num_or(
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

    pub(super) fn dur(&mut self, field: &str, raw: &RawDur, allowed: Allowed) -> R<Param> {
        self.param(field, &raw.0, allowed)
    }

    pub(super) fn dur_or(
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
    pub(super) fn event_dur(
        &mut self,
        field: &str,
        raw: Option<&RawDur>,
        default: f64,
    ) -> R<EventDuration> {
        // Longer than a month is a typo, and would stall the simulation.
        let allowed = Allowed::between(0.0, defaults::MAX_EVENT_DURATION_S);
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
    pub(super) fn plain(
        &mut self,
        field: &str,
        raw: Option<&RawNum>,
        allowed: Allowed,
    ) -> R<Option<f64>> {
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
}
