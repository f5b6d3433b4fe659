//! The serving engine of one replica: continuous batching, KV admission,
//! step time, and the router that spreads requests over replicas.
//!
//! Knows nothing of money, pools or autoscaling; `fleet` builds on it.

pub mod inflight;
pub mod replica;
pub mod replica_engine;
pub mod router;
pub mod step_time;
pub mod vllm;

pub use inflight::{InFlight, Phase, RequestTable, Slot};
pub use replica::{Replica, ReplicaConfig, ReplicaStats};
pub use replica_engine::ReplicaEngine;
pub use router::Router;
pub use step_time::{IterationLoad, StepModel};
pub use vllm::{HashPool, VllmLimits};
