//! The one catalogue of metric names: every metric of a strategy in a
//! replication, with its key (as in `summary.json` and `replications.csv`),
//! its unit and a one-line meaning. Code refers to metrics by [`Metric`] and
//! [`PoolMetric`], so a misspelt name does not compile; names read from
//! users go through [`MetricKey::parse`], which refuses unknown ones.
//!
//! docs/outputs.md defines each metric precisely (a test checks that it
//! lists every key).

macro_rules! catalogue {
    (
        $(#[$meta:meta])* $vis:vis enum $name:ident {
            $( $variant:ident => $key:literal, $unit:literal, $about:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $( $variant ),* }

        impl $name {
            /// Every metric, in output order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),* ];
            pub const COUNT: usize = Self::ALL.len();

            /// The key in `summary.json` and `replications.csv`.
            pub const fn key(self) -> &'static str {
                match self { $( $name::$variant => $key ),* }
            }

            pub const fn unit(self) -> &'static str {
                match self { $( $name::$variant => $unit ),* }
            }

            /// One line on what it measures (docs/outputs.md says exactly how).
            pub const fn about(self) -> &'static str {
                match self { $( $name::$variant => $about ),* }
            }

            /// The metric with this key.
            pub fn from_key(key: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|m| m.key() == key)
            }

            /// Position in [`Self::ALL`] (and in value arrays).
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

catalogue! {
    /// A fleet-wide metric of one strategy in one replication.
    pub enum Metric {
        TotalCost => "total_cost_usd", "USD", "cost of every pool as billed, plus API overflow";
        CostPerMonth => "cost_per_month_usd", "USD per 30-day month", "total cost scaled from the horizon to 30 days";
        CostPerMOutput => "cost_per_m_output_tokens", "USD per 1M output tokens", "total cost per million output tokens served";
        ApiBaselineCost => "api_baseline_cost_usd", "USD", "what every arrived request would cost on the per-token API";
        Arrived => "requests_arrived", "requests", "requests that arrived before the horizon";
        Completed => "requests_completed", "requests", "requests served to their last token by a replica";
        Overflowed => "requests_overflowed", "requests", "requests sent to the API after waiting slo.max_queue (or with no pools)";
        Dropped => "requests_dropped", "requests", "requests that fit no KV cache, or timed out without overflow";
        InputTokens => "input_tokens", "tokens", "prompt tokens of completed and overflowed requests";
        OutputTokens => "output_tokens", "tokens", "output tokens of completed and overflowed requests";
        QueueWaitP50 => "queue_wait_p50_s", "s", "median wait from arrival to first admission (overflowed: time waited)";
        QueueWaitP99 => "queue_wait_p99_s", "s", "99th percentile of the queue wait";
        TtftP50 => "ttft_p50_s", "s", "median time to first token";
        TtftP99 => "ttft_p99_s", "s", "99th percentile of the time to first token";
        TpotP50 => "tpot_p50_s", "s", "median time per output token after the first (requests with O > 1)";
        TpotP99 => "tpot_p99_s", "s", "99th percentile of the time per output token";
        E2eP50 => "e2e_p50_s", "s", "median time from arrival to last token";
        E2eP99 => "e2e_p99_s", "s", "99th percentile of the time from arrival to last token";
        SloAttainment => "slo_attainment", "fraction of arrived", "share of arrived requests meeting both the TTFT and TPOT targets";
        GpuHours => "gpu_hours", "GPU-hours", "GPU time billed, all pools";
        BusyFraction => "busy_fraction", "fraction", "time in iterations over ready replica time (occupancy, not saturation)";
        MeanBatch => "mean_batch_size", "sequences", "batch size weighted by busy time";
        Throughput => "throughput_tokens_per_s", "tokens/s", "output tokens produced by replicas per second of makespan";
        ColdStarts => "cold_starts", "starts", "replicas requested after t = 0";
        Preemptions => "preemptions", "events", "running sequences preempted to free KV blocks";
        Interruptions => "interruptions", "events", "spot reclaims that found their replica alive";
        PeakReplicas => "peak_replicas", "replicas", "largest number of live replicas at any instant";
        ApiOverflowCost => "api_overflow_cost_usd", "USD", "what the API charged for overflowed requests";
        QueueWaitMean => "queue_wait_mean_s", "s", "exact mean of the queue wait";
        TtftMean => "ttft_mean_s", "s", "exact mean of the time to first token";
        TpotMean => "tpot_mean_s", "s", "exact mean of the time per output token";
        E2eMean => "e2e_mean_s", "s", "exact mean of the time from arrival to last token";
        MeanReplicas => "mean_replicas", "replicas", "time-average number of live replicas";
        Makespan => "makespan_s", "s", "time of the last departure";
        MeanInSystem => "mean_in_system", "requests", "time-average number of requests in the system, to the makespan";
        MeanSojourn => "mean_sojourn_s", "s", "mean time from arrival to departure over arrived requests";
        ApiBaselinePerMOutput => "api_baseline_per_m_output_tokens", "USD per 1M output tokens", "the API baseline per million output tokens";
        PrefixCacheHitRate => "prefix_cache_hit_rate", "fraction", "prompt tokens found in the prefix cache over prompt tokens admitted";
        InSystemTrend => "in_system_trend", "requests", "time-average requests in the system over the horizon's second half minus its first half";
        Overloaded => "overloaded", "0 or 1", "1 when the backlog grows through the horizon and outlasts it (the test is in docs/outputs.md)";
    }
}

catalogue! {
    /// A metric of one pool of a strategy, keyed `pool.<pool name>.<key>`.
    pub enum PoolMetric {
        Cost => "cost_usd", "USD", "what this pool was billed";
        GpuHours => "gpu_hours", "GPU-hours", "this pool's billed GPU time";
        MeanReplicas => "mean_replicas", "replicas", "time-average number of this pool's live replicas";
        ReadyHours => "ready_hours", "replica-hours", "time this pool's replicas were ready or draining";
        PeakReplicas => "peak_replicas", "replicas", "largest number of this pool's live replicas";
        ColdStarts => "cold_starts", "starts", "this pool's replicas requested after t = 0";
        Interruptions => "interruptions", "events", "this pool's spot reclaims that found their replica alive";
    }
}

/// A metric named by a user or a file: fleet-wide, or of a named pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricKey {
    Fleet(Metric),
    Pool { pool: String, metric: PoolMetric },
}

impl MetricKey {
    /// Parses `total_cost_usd` or `pool.<name>.cost_usd`; `None` for a key
    /// that is not in the catalogue.
    pub fn parse(key: &str) -> Option<MetricKey> {
        if let Some(m) = Metric::from_key(key) {
            return Some(MetricKey::Fleet(m));
        }
        let (pool, field) = key.strip_prefix("pool.")?.rsplit_once('.')?;
        Some(MetricKey::Pool {
            pool: pool.to_string(),
            metric: PoolMetric::from_key(field)?,
        })
    }

    pub fn key(&self) -> String {
        match self {
            MetricKey::Fleet(m) => m.key().to_string(),
            MetricKey::Pool { pool, metric } => format!("pool.{pool}.{}", metric.key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_round_trip() {
        let mut keys: Vec<&str> = Metric::ALL.iter().map(|m| m.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Metric::COUNT);
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Metric::from_key(m.key()), Some(*m));
            assert_eq!(MetricKey::parse(m.key()), Some(MetricKey::Fleet(*m)));
            assert!(!m.unit().is_empty() && !m.about().is_empty());
        }
        for m in PoolMetric::ALL {
            let k = MetricKey::Pool {
                pool: "on.demand".into(),
                metric: *m,
            };
            assert_eq!(MetricKey::parse(&k.key()), Some(k));
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert_eq!(MetricKey::parse("total_cost"), None);
        assert_eq!(MetricKey::parse("pool.spot.cost"), None);
        assert_eq!(MetricKey::parse("pool.cost_usd"), None);
    }
}
