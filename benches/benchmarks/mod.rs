pub mod engine;
pub mod montecarlo;
