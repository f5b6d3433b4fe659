//! Distribution summaries: mean, standard deviation, 95% confidence
//! interval of the mean (Student t), percentiles, extremes.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Summary of one metric over replications. Undefined entries are NaN
/// (written as `null` in JSON): std and CI need two finite values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    /// Finite values summarized (replications where the metric is defined).
    pub n: usize,
}

/// The `q` quantile (0..=1) of sorted values, linear interpolation between
/// order statistics (Hyndman & Fan type 7, as numpy and R default to).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Two-sided 95% Student t critical value with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

impl Summary {
    /// Summarizes the finite values of `xs` (NaN entries are undefined
    /// metrics, e.g. TPOT when no request had two tokens, and are skipped).
    pub fn of(xs: &[f64]) -> Summary {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let nan = f64::NAN;
        if n == 0 {
            return Summary {
                mean: nan,
                std: nan,
                ci95_low: nan,
                ci95_high: nan,
                p5: nan,
                p25: nan,
                p50: nan,
                p75: nan,
                p95: nan,
                p99: nan,
                min: nan,
                max: nan,
                n: 0,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let (std, half) = if n >= 2 {
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            (sd, t95(n - 1) * sd / (n as f64).sqrt())
        } else {
            (nan, nan)
        };
        Summary {
            mean,
            std,
            ci95_low: mean - half,
            ci95_high: mean + half,
            p5: percentile(&v, 0.05),
            p25: percentile(&v, 0.25),
            p50: percentile(&v, 0.50),
            p75: percentile(&v, 0.75),
            p95: percentile(&v, 0.95),
            p99: percentile(&v, 0.99),
            min: v[0],
            max: v[n - 1],
            n,
        }
    }

    /// Half-width of the 95% CI relative to the mean.
    pub fn relative_half_width(&self) -> f64 {
        (self.ci95_high - self.ci95_low) / 2.0 / self.mean.abs()
    }
}

/// p5, p50, p95 of one quantity over replications (finite values, type-7
/// percentiles as in [`Summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

impl Band {
    pub fn of(xs: &[f64]) -> Band {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Band {
            p5: percentile(&v, 0.05),
            p50: percentile(&v, 0.5),
            p95: percentile(&v, 0.95),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, f64::NAN]);
        assert_eq!(s.n, 4);
        assert_eq!(s.mean, 2.5);
        assert!((s.std - 1.290_994_448_735_805_6).abs() < 1e-12);
        // t(0.975, 3) = 3.182446305...
        assert!((s.ci95_high - (2.5 + 3.182_446_305_284_263 * s.std / 2.0)).abs() < 1e-9);
        assert_eq!(s.p50, 2.5);
        assert_eq!(s.p25, 1.75);
        assert_eq!((s.min, s.max), (1.0, 4.0));
    }

    #[test]
    fn one_value_has_no_spread() {
        let s = Summary::of(&[7.0]);
        assert_eq!((s.mean, s.p5, s.p99), (7.0, 7.0, 7.0));
        assert!(s.std.is_nan() && s.ci95_low.is_nan());
    }

    proptest! {
        #[test]
        fn invariants(xs in proptest::collection::vec(-1e6f64..1e6, 2..200)) {
            let s = Summary::of(&xs);
            prop_assert!(s.min <= s.p5 && s.p5 <= s.p25 && s.p25 <= s.p50);
            prop_assert!(s.p50 <= s.p75 && s.p75 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max);
            prop_assert!(s.min <= s.mean + 1e-6 && s.mean <= s.max + 1e-6);
            prop_assert!(s.ci95_low <= s.mean && s.mean <= s.ci95_high);
            prop_assert!(s.std >= 0.0);
        }
    }
}
