//! A bounded-memory, mergeable latency histogram (HDR, 2 significant digits:
//! quantiles within 1%) plus an exact integer-nanosecond sum for the mean.
//!
//! Memory is fixed (~45 KB) whatever the number of requests; merging is
//! integer addition, so merged results do not depend on merge order. Three
//! digits (~220 KB each, four per strategy) cost 7% of single-thread speed
//! and most of the two-thread speed-up through cache pressure.

use hdrhistogram::Histogram;

/// Largest recordable latency: 1e16 µs ≈ 317 years, far past the longest
/// horizon (5 years) plus any drain the event budget allows; larger values
/// would be recorded as this. The top buckets cost ~17 KB and no speed:
/// only buckets that are touched are in cache.
pub const MAX_US: u64 = 10_000_000_000_000_000;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum_ns: u128,
    count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            hist: Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds"),
            sum_ns: 0,
            count: 0,
        }
    }

    /// Records a latency in seconds (negative values are clamped to 0).
    #[inline]
    pub fn record(&mut self, seconds: f64) {
        let s = seconds.max(0.0);
        self.sum_ns += (s * 1e9).round() as u128;
        self.count += 1;
        self.hist
            .saturating_record(((s * 1e6).round() as u64).min(MAX_US));
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean (to the nanosecond) in seconds; NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum_ns as f64 / self.count as f64 / 1e9
        }
    }

    /// The `q` quantile (0..=1) in seconds, within 1%; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.hist.value_at_quantile(q) as f64 / 1e6
        }
    }

    /// Adds another histogram's observations.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.hist.add(&other.hist).expect("same bounds");
        self.sum_ns += other.sum_ns;
        self.count += other.count;
    }

    /// The exact content as plain numbers: (bucket value µs, count) pairs,
    /// the nanosecond sum (as two halves) and the count. For shard files.
    pub fn to_parts(&self) -> (Vec<(u64, u64)>, [u64; 2], u64) {
        let buckets = self
            .hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        (
            (buckets),
            [(self.sum_ns >> 64) as u64, self.sum_ns as u64],
            self.count,
        )
    }

    /// Rebuilds a histogram from [`to_parts`](Self::to_parts).
    pub fn from_parts(
        buckets: &[(u64, u64)],
        sum_ns: [u64; 2],
        count: u64,
    ) -> Result<Self, String> {
        let mut h = LatencyHistogram::new();
        for &(value, n) in buckets {
            h.hist
                .record_n(value.min(MAX_US), n)
                .map_err(|e| format!("bad histogram bucket {value}: {e:?}"))?;
        }
        h.sum_ns = ((sum_ns[0] as u128) << 64) | sum_ns[1] as u128;
        h.count = count;
        Ok(h)
    }

    /// (latency s, cumulative fraction) points for plotting a CDF.
    pub fn cdf_points(&self, max_points: usize) -> Vec<(f64, f64)> {
        if self.count == 0 {
            return Vec::new();
        }
        let n = max_points.max(2);
        (0..n)
            .map(|i| {
                let q = i as f64 / (n - 1) as f64;
                (self.quantile(q), q)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_is_exact_and_quantiles_close() {
        let mut h = LatencyHistogram::new();
        for i in 1..=1000 {
            h.record(i as f64 * 1e-3);
        }
        assert!((h.mean() - 0.5005).abs() < 1e-12);
        let p50 = h.quantile(0.5);
        assert!((p50 - 0.5).abs() / 0.5 < 1e-2, "{p50}");
        let p99 = h.quantile(0.99);
        assert!((p99 - 0.99).abs() / 0.99 < 1e-2, "{p99}");
    }

    #[test]
    fn merge_is_order_independent() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(0.1);
        a.record(2.0);
        b.record(0.3);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab.mean(), ba.mean());
        assert_eq!(ab.quantile(0.5), ba.quantile(0.5));
        assert_eq!(ab.count(), 3);
    }

    #[test]
    fn parts_round_trip_exactly() {
        let mut h = LatencyHistogram::new();
        for i in 0..5000 {
            h.record((i as f64).sqrt() * 0.0137);
        }
        let (b, s, n) = h.to_parts();
        let back = LatencyHistogram::from_parts(&b, s, n).unwrap();
        assert_eq!(back.to_parts(), (b, s, n));
        assert_eq!(back.quantile(0.99), h.quantile(0.99));
        assert_eq!(back.mean(), h.mean());
    }

    #[test]
    fn long_latencies_are_not_clipped() {
        // The campaign's case: waits of 30-48 h read as p50 = p99 = 27.8 h
        // under the old 1e11 µs bound. Now the whole 5-year horizon fits.
        let mut h = LatencyHistogram::new();
        for i in 0..=100 {
            h.record((30.0 + 18.0 * i as f64 / 100.0) * 3600.0);
        }
        assert!(
            (h.quantile(0.5) / 3600.0 - 39.0).abs() < 0.4,
            "{}",
            h.quantile(0.5)
        );
        assert!((h.quantile(0.99) / 3600.0 - 47.8).abs() < 0.5);
        let five_years = 5.0 * 365.25 * 86_400.0;
        h.record(five_years);
        assert!((h.quantile(1.0) / five_years - 1.0).abs() < 0.01);
    }

    #[test]
    fn empty_is_nan() {
        let h = LatencyHistogram::new();
        assert!(h.mean().is_nan() && h.quantile(0.5).is_nan());
    }
}
