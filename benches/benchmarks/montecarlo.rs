//! Replications of the embedded default scenario (4 strategies, uncertain
//! demand, prices and efficiencies) on 1 and 2 threads: replications per
//! second and the parallel speed-up. (The README reports 1,000 replications
//! timed through the CLI; criterion samples 100 to keep `cargo bench` short.)

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use fleetsim::montecarlo::{NoProgress, run_batch};
use fleetsim::scenario::{DEFAULT_SCENARIO, parse};
use fleetsim::simulation::SimOptions;

fn replications(c: &mut Criterion) {
    let s = parse(DEFAULT_SCENARIO, "default", &mut |_| Err("no files".into()))
        .expect("default parses");
    let indices: Vec<u64> = (0..100).collect();
    let mut g = c.benchmark_group("montecarlo_default_100_replications");
    g.throughput(Throughput::Elements(indices.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| {
                pool.install(|| run_batch(&s, 42, &indices, &SimOptions::default(), &NoProgress))
            })
        });
    }
    g.finish();
}

criterion_group!(montecarlo, replications);
