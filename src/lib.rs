//! fleetsim: a discrete-event, Monte Carlo capacity and cost simulator for
//! LLM inference fleets.
//!
//! A [`scenario::Scenario`] describes traffic, the serving engine, SLOs and
//! ways of buying GPUs (strategies). [`simulation::simulate`] runs one
//! replication of one strategy and returns a [`metrics::Outcome`]; the Monte
//! Carlo layer runs many replications in parallel and summarizes them.
//!
//! The core (everything but `output` and the binary) does no I/O.

pub mod breakeven;
pub mod calibrate;
pub mod engine;
pub mod fleet;
pub mod metrics;
pub mod montecarlo;
pub mod output;
pub mod plot;
pub mod report;
pub mod scenario;
pub mod serving;
pub mod simulation;
pub mod sizing;
pub mod stats;
pub mod summary;
pub mod units;
pub mod validate;
pub mod verdict;
pub mod workload;
