//! Simulation machinery with no domain knowledge: the event calendar and
//! the per-replication random streams.

pub mod calendar;
pub mod rng;
