//! Integration tests: one crate, a module per behaviour.

mod common;

mod answers;

mod cli;
mod engine;
mod fleet;
mod hand_traces;
mod layering;
mod montecarlo;
mod queueing;
mod report;
mod robustness;
mod roofline;
mod workloads;
