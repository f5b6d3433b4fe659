//! Integration tests: one crate, a module per behaviour.

mod common;

mod answers;

mod cli;
mod docs;
mod engine;
mod engine_faithful;
mod fleet;
mod hand_traces;
mod layering;
mod montecarlo;
mod options;
mod output_safety;
mod queueing;
mod report;
mod resolve;
mod robustness;
mod roofline;
mod snapshots;
mod validation;
mod verdict;
mod workloads;
