//! Uncertain numbers (SPEC §5): any number in a scenario may be a value, a
//! distribution drawn once per replication, or a search space for `size`.
//!
//! Two stages, as everywhere in `scenario`: [`Num`] is what the file says;
//! [`Param`] is the validated handle the simulation reads through a
//! replication's [`Draws`].

use std::fmt;

use rand::RngExt;
use rand_distr::{Distribution, LogNormal, Normal, Triangular};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::engine::rng::SimRng;
use crate::units::parse_duration;

/// A distribution over one number, drawn once per replication.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Uniform { low: f64, high: f64 },
    Triangular { low: f64, mode: f64, high: f64 },
    Normal { mean: f64, sd: f64 },
    LogNormal { median: f64, sigma: f64 },
}

impl Dist {
    /// Checks the distribution's own parameters; `Err` says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite());
        match *self {
            Dist::Uniform { low, high } => {
                if !finite(&[low, high]) {
                    Err("uniform bounds must be finite".into())
                } else if low > high {
                    Err(format!("uniform low {low} is above high {high}"))
                } else {
                    Ok(())
                }
            }
            Dist::Triangular { low, mode, high } => {
                if !finite(&[low, mode, high]) {
                    Err("triangular bounds must be finite".into())
                } else if !(low <= mode && mode <= high) {
                    Err(format!(
                        "triangular needs low <= mode <= high, got [{low}, {mode}, {high}]"
                    ))
                } else {
                    Ok(())
                }
            }
            Dist::Normal { mean, sd } => {
                if !finite(&[mean, sd]) {
                    Err("normal mean and sd must be finite".into())
                } else if sd < 0.0 {
                    Err(format!("normal sd {sd} is negative"))
                } else {
                    Ok(())
                }
            }
            Dist::LogNormal { median, sigma } => {
                if !finite(&[median, sigma]) {
                    Err("lognormal median and sigma must be finite".into())
                } else if median <= 0.0 {
                    Err(format!("lognormal median {median} must be > 0"))
                } else if sigma < 0.0 {
                    Err(format!("lognormal sigma {sigma} is negative"))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Smallest and largest value the distribution can produce.
    pub fn support(&self) -> (f64, f64) {
        match *self {
            Dist::Uniform { low, high } => (low, high),
            Dist::Triangular { low, high, .. } => (low, high),
            Dist::Normal { sd: 0.0, mean } => (mean, mean),
            Dist::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Dist::LogNormal { sigma: 0.0, median } => (median, median),
            Dist::LogNormal { .. } => (0.0, f64::INFINITY),
        }
    }

    /// A representative value (the median) used where one number is needed
    /// before any draw, e.g. to check that a model fits on the GPU.
    pub fn median(&self) -> f64 {
        match *self {
            Dist::Uniform { low, high } => 0.5 * (low + high),
            Dist::Triangular { low, mode, high } => {
                // Median of a triangular distribution.
                let mid = 0.5 * (low + high);
                if high == low {
                    low
                } else if mode >= mid {
                    low + ((high - low) * (mode - low) / 2.0).sqrt()
                } else {
                    high - ((high - low) * (high - mode) / 2.0).sqrt()
                }
            }
            Dist::Normal { mean, .. } => mean,
            Dist::LogNormal { median, .. } => median,
        }
    }

    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match *self {
            Dist::Uniform { low, high } if low == high => low,
            Dist::Uniform { low, high } => rng.random_range(low..high),
            Dist::Triangular { low, high, .. } if low == high => low,
            Dist::Triangular { low, mode, high } => Triangular::new(low, high, mode)
                .expect("checked triangular")
                .sample(rng),
            Dist::Normal { mean, sd } => Normal::new(mean, sd).expect("checked normal").sample(rng),
            Dist::LogNormal { median, sigma } => LogNormal::new(median.ln(), sigma)
                .expect("checked lognormal")
                .sample(rng),
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Dist::Uniform { low, high } => write!(f, "{{ uniform = [{low}, {high}] }}"),
            Dist::Triangular { low, mode, high } => {
                write!(f, "{{ triangular = [{low}, {mode}, {high}] }}")
            }
            Dist::Normal { mean, sd } => {
                write!(f, "{{ normal = {{ mean = {mean}, sd = {sd} }} }}")
            }
            Dist::LogNormal { median, sigma } => write!(
                f,
                "{{ lognormal = {{ median = {median}, sigma = {sigma} }} }}"
            ),
        }
    }
}

/// A number as written in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Value(f64),
    Dist(Dist),
    /// Candidate values for `fleetsim size`.
    Search(Vec<f64>),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Value(v) => write!(f, "{v}"),
            Num::Dist(d) => write!(f, "{d}"),
            Num::Search(vs) => write!(f, "{{ search = {vs:?} }}"),
        }
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Value(v)
    }
}

/// A plain or uncertain number field of the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNum(pub Num);

/// A duration field: a number of seconds, a string such as `"90s"`, or a
/// distribution over seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDur(pub Num);

impl<'de> Deserialize<'de> for RawNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor { durations: false })
            .map(RawNum)
    }
}

impl<'de> Deserialize<'de> for RawDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor { durations: true })
            .map(RawDur)
    }
}

struct NumVisitor {
    durations: bool,
}

fn int_to_f64<E: de::Error>(v: i128) -> Result<f64, E> {
    let f = v as f64;
    if f as i128 == v {
        Ok(f)
    } else {
        Err(E::custom(format!("{v} is too large to represent exactly")))
    }
}

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.durations {
            f.write_str(
                "a duration (seconds, or a string like \"90s\", \"5m\", \"2h\") or a distribution such as { uniform = [2.0, 3.0] }",
            )
        } else {
            f.write_str("a number or a distribution such as { uniform = [2.0, 3.0] }")
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        int_to_f64(v as i128).map(Num::Value)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        int_to_f64(v as i128).map(Num::Value)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num::Value(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
        if self.durations {
            parse_duration(v)
                .map(Num::Value)
                .map_err(|e| E::custom(format!("invalid duration \"{v}\": {e}")))
        } else {
            Err(E::invalid_type(de::Unexpected::Str(v), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an empty table is not a number; write e.g. { uniform = [2.0, 3.0] }",
            ));
        };
        let num = match key.as_str() {
            "uniform" => {
                let v: Vec<f64> = map.next_value()?;
                let [low, high] = v[..] else {
                    return Err(de::Error::custom(format!(
                        "uniform takes [low, high], got {} values",
                        v.len()
                    )));
                };
                Num::Dist(Dist::Uniform { low, high })
            }
            "triangular" => {
                let v: Vec<f64> = map.next_value()?;
                let [low, mode, high] = v[..] else {
                    return Err(de::Error::custom(format!(
                        "triangular takes [low, mode, high], got {} values",
                        v.len()
                    )));
                };
                Num::Dist(Dist::Triangular { low, mode, high })
            }
            "normal" => {
                let p: NormalParams = map.next_value()?;
                Num::Dist(Dist::Normal {
                    mean: p.mean,
                    sd: p.sd,
                })
            }
            "lognormal" => {
                let p: LogNormalParams = map.next_value()?;
                Num::Dist(Dist::LogNormal {
                    median: p.median,
                    sigma: p.sigma,
                })
            }
            "search" => {
                let v: Vec<SearchValue> = map.next_value()?;
                let mut out = Vec::with_capacity(v.len());
                for s in v {
                    out.push(match s {
                        SearchValue::Number(x) => x,
                        SearchValue::Text(t) if self.durations => {
                            parse_duration(&t).map_err(|e| {
                                de::Error::custom(format!("invalid duration \"{t}\": {e}"))
                            })?
                        }
                        SearchValue::Text(t) => {
                            return Err(de::Error::custom(format!(
                                "search values must be numbers, got \"{t}\""
                            )));
                        }
                    });
                }
                Num::Search(out)
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown distribution `{other}`; use uniform, triangular, normal, lognormal or search"
                )));
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a distribution table has exactly one key, found `{key}` and `{extra}`"
            )));
        }
        Ok(num)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Num, A::Error> {
        Err(de::Error::custom(
            "a list is not a number; for candidate values write { search = [1, 2, 3] }",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalParams {
    mean: f64,
    sd: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNormalParams {
    median: f64,
    sigma: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SearchValue {
    Number(f64),
    Text(String),
}

/// What values a numeric field accepts. Used to validate plain values and
/// the support of distributions, and to truncate unbounded draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowed {
    pub min: f64,
    pub min_inclusive: bool,
    pub max: f64,
    pub max_inclusive: bool,
    pub integer: bool,
}

impl Allowed {
    /// Any finite number ≥ 0.
    pub const NON_NEGATIVE: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: f64::INFINITY,
        max_inclusive: false,
        integer: false,
    };
    /// Any finite number > 0.
    pub const POSITIVE: Allowed = Allowed {
        min: 0.0,
        min_inclusive: false,
        max: f64::INFINITY,
        max_inclusive: false,
        integer: false,
    };
    /// A fraction in (0, 1].
    pub const FRACTION: Allowed = Allowed {
        min: 0.0,
        min_inclusive: false,
        max: 1.0,
        max_inclusive: true,
        integer: false,
    };
    /// A probability in [0, 1].
    pub const PROBABILITY: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: 1.0,
        max_inclusive: true,
        integer: false,
    };
    /// An integer ≥ 0.
    pub const COUNT: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: 4.0e9,
        max_inclusive: true,
        integer: true,
    };
    /// An integer ≥ 1.
    pub const POSITIVE_COUNT: Allowed = Allowed {
        min: 1.0,
        min_inclusive: true,
        max: 4.0e9,
        max_inclusive: true,
        integer: true,
    };

    /// An arrival rate, requests/s: up to a million (beyond any one
    /// deployment; larger values are typos, and would never finish).
    pub const RATE: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: 1e6,
        max_inclusive: true,
        integer: false,
    };

    pub fn between(min: f64, max: f64) -> Allowed {
        Allowed {
            min,
            min_inclusive: true,
            max,
            max_inclusive: true,
            integer: false,
        }
    }

    pub fn at_least(min: f64) -> Allowed {
        Allowed {
            min,
            min_inclusive: true,
            max: f64::INFINITY,
            max_inclusive: false,
            integer: false,
        }
    }

    pub fn contains(&self, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        let lo = if self.min_inclusive {
            v >= self.min
        } else {
            v > self.min
        };
        let hi = if self.max_inclusive {
            v <= self.max
        } else {
            v < self.max
        };
        lo && hi && (!self.integer || v.fract() == 0.0)
    }

    /// Like `contains`, but for the support of a distribution whose draws of
    /// integer fields are rounded.
    fn contains_support(&self, v: f64) -> bool {
        let r = if self.integer { v.round() } else { v };
        let mut relaxed = *self;
        relaxed.integer = false;
        relaxed.contains(r)
    }

    /// Brings a drawn value into range (rounding integer fields).
    fn clamp(&self, v: f64) -> f64 {
        let v = if self.integer { v.round() } else { v };
        // An open bound is approached by a step of 1 for integers, else by a
        // relative nudge; infinite bounds stay infinite.
        let nudge = |b: f64| {
            if self.integer {
                1.0
            } else {
                (b.abs() * 1e-12).max(1e-12)
            }
        };
        let lo = if self.min_inclusive || !self.min.is_finite() {
            self.min
        } else {
            self.min + nudge(self.min)
        };
        let hi = if self.max_inclusive || !self.max.is_finite() {
            self.max
        } else {
            self.max - nudge(self.max)
        };
        v.clamp(lo, hi.max(lo))
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.integer {
            "an integer"
        } else {
            "a number"
        };
        let lo = if self.min_inclusive { ">=" } else { ">" };
        let hi = if self.max_inclusive { "<=" } else { "<" };
        match (
            self.min.is_finite(),
            self.max.is_finite() && self.max < 4.0e9,
        ) {
            (true, true) => write!(f, "{kind} {lo} {} and {hi} {}", self.min, self.max),
            (true, false) => write!(f, "{kind} {lo} {}", self.min),
            (false, true) => write!(f, "{kind} {hi} {}", self.max),
            (false, false) => write!(f, "a finite {kind}"),
        }
    }
}

/// A validated numeric input: a fixed value or a slot in the replication's draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param {
    Fixed(f64),
    Drawn(usize),
}

impl Param {
    /// The value of this input in a replication.
    #[inline]
    pub fn value(self, draws: &Draws) -> f64 {
        match self {
            Param::Fixed(v) => v,
            Param::Drawn(i) => draws.values[i],
        }
    }

    /// The fixed value, or `None` for an uncertain input.
    pub fn fixed(self) -> Option<f64> {
        match self {
            Param::Fixed(v) => Some(v),
            Param::Drawn(_) => None,
        }
    }
}

impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Fixed(v)
    }
}

/// One uncertain input of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct UncertainInput {
    /// Field path as written in the file, e.g. `strategy[0].pools[0].price_per_gpu_hour`.
    pub name: String,
    pub dist: Dist,
    pub allowed: Allowed,
}

/// Every uncertain input of a scenario, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uncertainties {
    pub inputs: Vec<UncertainInput>,
}

/// The values of a scenario's uncertain inputs in one replication.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draws {
    pub values: Vec<f64>,
}

impl Uncertainties {
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Registers an uncertain input and returns its handle.
    pub fn add(&mut self, name: String, dist: Dist, allowed: Allowed) -> Param {
        self.inputs.push(UncertainInput {
            name,
            dist,
            allowed,
        });
        Param::Drawn(self.inputs.len() - 1)
    }

    /// Draws every input once, in file order. Unbounded distributions are
    /// truncated to the field's allowed range by redrawing (a truncated
    /// distribution, documented in the README); integer fields are rounded.
    pub fn draw(&self, rng: &mut SimRng) -> Draws {
        let values = self
            .inputs
            .iter()
            .map(|input| {
                for _ in 0..1000 {
                    let v = input.dist.sample(rng);
                    let v = if input.allowed.integer { v.round() } else { v };
                    if input.allowed.contains(v) {
                        return v;
                    }
                }
                input.allowed.clamp(input.dist.median())
            })
            .collect();
        Draws { values }
    }

    /// The draws in which every input takes its median: used to check
    /// structural constraints (does the model fit?) before any run.
    pub fn medians(&self) -> Draws {
        Draws {
            values: self
                .inputs
                .iter()
                .map(|i| i.allowed.clamp(i.dist.median()))
                .collect(),
        }
    }
}

/// Checks a distribution against the field's allowed values. Bounded
/// distributions must lie inside the range; unbounded ones must at least
/// have their median inside it (draws outside are redrawn).
pub fn check_dist(dist: &Dist, allowed: &Allowed) -> Result<(), String> {
    dist.check()?;
    let (lo, hi) = dist.support();
    let median = dist.median();
    if !allowed.contains_support(median) {
        return Err(format!("its median {median} is outside the allowed range"));
    }
    let bounded = lo.is_finite() && hi.is_finite();
    if bounded && !(allowed.contains_support(lo) && allowed.contains_support(hi)) {
        return Err(format!(
            "its values range over [{lo}, {hi}], outside the allowed range"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Stream, stream};

    #[derive(Deserialize)]
    struct Doc {
        n: RawNum,
        d: RawDur,
    }

    fn parse(text: &str) -> Result<Doc, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn reads_values_durations_and_distributions() {
        let doc = parse("n = 3\nd = \"5m\"").unwrap();
        assert_eq!(doc.n.0, Num::Value(3.0));
        assert_eq!(doc.d.0, Num::Value(300.0));
        let doc = parse(
            "n = { uniform = [2.0, 3.0] }\nd = { lognormal = { median = 45.0, sigma = 0.5 } }",
        )
        .unwrap();
        assert_eq!(
            doc.n.0,
            Num::Dist(Dist::Uniform {
                low: 2.0,
                high: 3.0
            })
        );
        assert_eq!(
            doc.d.0,
            Num::Dist(Dist::LogNormal {
                median: 45.0,
                sigma: 0.5
            })
        );
        let doc = parse("n = { search = [1, 2, 4] }\nd = { search = [\"1m\", 120] }").unwrap();
        assert_eq!(doc.n.0, Num::Search(vec![1.0, 2.0, 4.0]));
        assert_eq!(doc.d.0, Num::Search(vec![60.0, 120.0]));
    }

    #[test]
    fn rejects_malformed_numbers_with_a_reason() {
        let e = parse("n = \"5m\"\nd = 1").err().unwrap().to_string();
        assert!(e.contains("a number or a distribution"), "{e}");
        let e = parse("n = { gauss = [1, 2] }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown distribution `gauss`"), "{e}");
        let e = parse("n = { uniform = [1] }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("uniform takes [low, high]"), "{e}");
        let e = parse("n = 1\nd = \"5 parsecs\"").err().unwrap().to_string();
        assert!(e.contains("invalid duration"), "{e}");
        let e = parse("n = { normal = { mean = 1.0, sd = 0.1, skew = 2 } }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("skew"), "{e}");
    }

    #[test]
    fn checks_distribution_parameters() {
        assert!(
            Dist::Uniform {
                low: 3.0,
                high: 2.0
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::Normal {
                mean: 1.0,
                sd: -0.1
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::Triangular {
                low: 1.0,
                mode: 0.5,
                high: 2.0
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::LogNormal {
                median: 0.0,
                sigma: 1.0
            }
            .check()
            .is_err()
        );
        assert!(
            check_dist(
                &Dist::Uniform {
                    low: 0.3,
                    high: 1.2
                },
                &Allowed::FRACTION
            )
            .is_err()
        );
        assert!(
            check_dist(
                &Dist::Uniform {
                    low: 0.3,
                    high: 0.6
                },
                &Allowed::FRACTION
            )
            .is_ok()
        );
    }

    #[test]
    fn medians_and_clamps_work_for_every_kind_of_range() {
        let ranges = [
            Allowed::NON_NEGATIVE,
            Allowed::POSITIVE,
            Allowed::FRACTION,
            Allowed::PROBABILITY,
            Allowed::COUNT,
            Allowed::POSITIVE_COUNT,
            Allowed::between(0.05, 50.0),
            Allowed::at_least(1.0),
        ];
        for a in ranges {
            for v in [-1e9, -1.0, 0.0, 0.5, 1.0, 7.3, 1e12, f64::INFINITY] {
                let c = a.clamp(v);
                assert!(c.is_finite() || v.is_infinite(), "{a:?} clamps {v} to {c}");
                if c.is_finite() {
                    assert!(
                        a.contains(c) || !a.integer && a.contains_support(c),
                        "{a:?}: {v} -> {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn draws_are_truncated_to_the_allowed_range() {
        let mut u = Uncertainties::default();
        u.add(
            "x".into(),
            Dist::Normal {
                mean: 0.05,
                sd: 0.1,
            },
            Allowed::POSITIVE,
        );
        let mut rng = stream(1, 0, Stream::Params);
        for _ in 0..2000 {
            let d = u.draw(&mut rng);
            assert!(d.values[0] > 0.0);
        }
    }
}
