//! What values a numeric field accepts: ranges with open or closed ends,
//! integers or not. Validates plain values and the support of
//! distributions, and truncates unbounded draws.

use std::fmt;

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

    /// Prices and other amounts (watts, PUE, durations of a pool's terms):
    /// up to a billion. A price like 1e308 would turn every total into ∞.
    pub const AMOUNT: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: 1e9,
        max_inclusive: true,
        integer: false,
    };
    /// Replicas in a pool: each costs memory and events; a hundred thousand
    /// replicas of one model is beyond any fleet.
    pub const REPLICAS: Allowed = Allowed {
        min: 1.0,
        min_inclusive: true,
        max: 100_000.0,
        max_inclusive: true,
        integer: true,
    };
    /// A floor of replicas, which may be 0.
    pub const REPLICAS0: Allowed = Allowed {
        min: 0.0,
        min_inclusive: true,
        max: 100_000.0,
        max_inclusive: true,
        integer: true,
    };
    /// Replications: each keeps a row of metrics in memory.
    pub const REPLICATIONS: Allowed = Allowed {
        min: 1.0,
        min_inclusive: true,
        max: 1_000_000.0,
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
    pub(crate) fn contains_support(&self, v: f64) -> bool {
        let r = if self.integer { v.round() } else { v };
        let mut relaxed = *self;
        relaxed.integer = false;
        relaxed.contains(r)
    }

    /// Brings a drawn value into range (rounding integer fields).
    pub(crate) fn clamp(&self, v: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
