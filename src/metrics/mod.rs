//! What one strategy did in one replication: per-request records, streaming
//! accumulators with bounded memory, and the final [`Outcome`].

pub mod catalogue;
pub mod latency;
pub mod outcome;

pub use catalogue::{Metric, MetricKey, PoolMetric};
pub use latency::LatencyHistogram;
pub use outcome::{Outcome, OutcomeBuilder, PoolOutcome, RequestEnd, RequestRecord};
