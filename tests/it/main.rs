//! Integration tests: one crate, a module per behaviour.

mod common;

mod cli;
mod engine;
mod hand_traces;
mod queueing;
mod roofline;
mod workloads;
