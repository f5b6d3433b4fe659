//! `cargo bench`: the engine's unit of merit is simulated requests per
//! wall-second per core (criterion's "elements per second" here, one thread).

use criterion::criterion_main;

mod benchmarks;

criterion_main!(
    benchmarks::engine::engine,
    benchmarks::montecarlo::montecarlo
);
