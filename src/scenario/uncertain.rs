//! Uncertain numbers: any number in a scenario may be a value or a
//! distribution drawn once per replication (docs/model.md, "Monte Carlo").
//!
//! Two stages, as everywhere in `scenario`: [`super::number::Num`] is what
//! the file says; [`Param`] is the validated handle the simulation reads
//! through a replication's [`Draws`].

use std::fmt;

use rand::RngExt;
use rand_distr::{Distribution, LogNormal, Normal, Triangular};

use super::allowed::Allowed;
use crate::engine::rng::SimRng;

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
