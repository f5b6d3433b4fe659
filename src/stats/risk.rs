//! Risk and comparison measures over replications.

use serde::Serialize;

use super::summary::{percentile, t95};

/// Share of pairs with `a[i] < b[i]` (e.g. cost below the API baseline).
pub fn prob_less(a: &[f64], b: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    if pairs.is_empty() {
        return f64::NAN;
    }
    pairs.iter().filter(|(x, y)| x < y).count() as f64 / pairs.len() as f64
}

/// Value-at-risk and conditional value-at-risk at level `q` of a cost:
/// VaR = the q quantile; CVaR = mean of the outcomes at or above it.
pub fn cvar(xs: &[f64], q: f64) -> (f64, f64) {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let var = percentile(&v, q);
    let tail: Vec<f64> = v.iter().copied().filter(|x| *x >= var).collect();
    (var, tail.iter().sum::<f64>() / tail.len() as f64)
}

/// Mean of paired differences `b − a` with its 95% CI.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDifference {
    pub mean: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub n: usize,
}

pub fn paired_difference(a: &[f64], b: &[f64]) -> PairedDifference {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| y - x)
        .filter(|x| x.is_finite())
        .collect();
    let n = d.len();
    if n == 0 {
        return PairedDifference {
            mean: f64::NAN,
            ci95_low: f64::NAN,
            ci95_high: f64::NAN,
            n,
        };
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let half = if n >= 2 {
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        t95(n - 1) * sd / (n as f64).sqrt()
    } else {
        f64::NAN
    };
    PairedDifference {
        mean,
        ci95_low: mean - half,
        ci95_high: mean + half,
        n,
    }
}

/// Average ranks (ties share the mean rank).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation; NaN if either side is constant or too short.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    if pairs.len() < 3 {
        return f64::NAN;
    }
    let ra = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let rb = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let n = ra.len() as f64;
    let ma = ra.iter().sum::<f64>() / n;
    let mb = rb.iter().sum::<f64>() / n;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        f64::NAN
    } else {
        cov / (va * vb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_and_cvar() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        let (var, cv) = cvar(&xs, 0.95);
        assert!((var - 95.05).abs() < 1e-9);
        // Mean of 96..=100.
        assert_eq!(cv, 98.0);
    }

    #[test]
    fn spearman_of_monotone_and_reversed() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&a, &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(spearman(&a, &[1.0, 1.0, 1.0, 1.0]).is_nan());
    }

    #[test]
    fn paired_difference_and_prob() {
        let d = paired_difference(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]);
        assert_eq!(d.mean, 1.0);
        assert_eq!(d.ci95_low, 1.0);
        assert_eq!(prob_less(&[1.0, 5.0], &[2.0, 3.0]), 0.5);
    }
}
