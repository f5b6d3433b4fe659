//! Simulation machinery with no domain knowledge: the event calendar and
//! the per-replication random streams, and per-slot timers.

pub mod calendar;
pub mod rng;
pub mod timers;
