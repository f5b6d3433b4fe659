//! Statistics on plain samples (`&[f64]`): summaries with confidence
//! intervals, percentiles, risk measures, rank correlation. Knows nothing
//! of simulations.

pub mod optimize;
pub mod risk;
pub mod summary;

pub use risk::{PairedDifference, cvar, paired_difference, prob_less, spearman};
pub use summary::{Band, Summary, percentile};
