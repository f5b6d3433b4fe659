//! Fleet economics: pools, how each bills, and their size limits.
//!
//! The replica lifecycle and the autoscaler run inside the event loop
//! (`simulation`); this module holds the pure rules they apply.

pub mod pool;

pub use pool::{PoolRule, PoolRuntime};
