//! Many replications in parallel (rayon over replication indices).
//!
//! Replication i depends only on (scenario, run seed, i): its uncertain
//! inputs are drawn from stream (seed, i, Params), and every strategy is
//! simulated on the same traffic (common random numbers). Results are
//! gathered in index order, so the output is bit-identical for any thread
//! count or sharding.

pub mod progress;
pub mod shard;

pub use progress::{NoProgress, Progress};

use rayon::prelude::*;

use crate::engine::rng::{Stream, stream};
use crate::metrics::Outcome;
use crate::scenario::{Draws, Scenario};
use crate::simulation::{Latencies, SimOptions, simulate_detailed};

/// One replication: its draws of the uncertain inputs and each strategy's outcome.
#[derive(Debug, Clone)]
pub struct Replication {
    pub index: u64,
    pub draws: Draws,
    pub outcomes: Vec<Outcome>,
}

/// The draws of replication `index`.
pub fn draws_for(scenario: &Scenario, seed: u64, index: u64) -> Draws {
    scenario
        .uncertain
        .draw(&mut stream(seed, index, Stream::Params))
}

/// Runs replication `index`: every strategy on the same traffic.
pub fn run_replication(
    scenario: &Scenario,
    seed: u64,
    index: u64,
    options: &SimOptions,
) -> (Replication, Vec<Latencies>) {
    let draws = draws_for(scenario, seed, index);
    let (outcomes, latencies) = (0..scenario.strategies.len())
        .map(|s| simulate_detailed(scenario, s, &draws, seed, index, options, &mut ()))
        .unzip();
    (
        Replication {
            index,
            draws,
            outcomes,
        },
        latencies,
    )
}

/// Replications in index order, plus each strategy's latencies pooled over them.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub replications: Vec<Replication>,
    pub latencies: Vec<Latencies>,
}

impl Batch {
    /// Appends another batch (indices must follow this one's).
    pub fn extend(&mut self, other: Batch) {
        self.replications.extend(other.replications);
        if self.latencies.is_empty() {
            self.latencies = other.latencies;
        } else {
            for (a, b) in self.latencies.iter_mut().zip(&other.latencies) {
                a.merge(b);
            }
        }
    }
}

/// Runs the given replication indices in parallel on the current rayon pool.
pub fn run_batch(
    scenario: &Scenario,
    seed: u64,
    indices: &[u64],
    options: &SimOptions,
    progress: &dyn Progress,
) -> Batch {
    let n_strategies = scenario.strategies.len();
    let empty = || Batch {
        replications: Vec::new(),
        latencies: vec![Latencies::default(); n_strategies],
    };
    let mut batch = indices
        .par_iter()
        .fold(empty, |mut acc, &i| {
            let (rep, lat) = run_replication(scenario, seed, i, options);
            acc.replications.push(rep);
            for (a, b) in acc.latencies.iter_mut().zip(&lat) {
                a.merge(b);
            }
            progress.advance(1);
            acc
        })
        .reduce(empty, |mut a, b| {
            a.replications.extend(b.replications);
            for (x, y) in a.latencies.iter_mut().zip(&b.latencies) {
                x.merge(y);
            }
            a
        });
    // Histogram merging is integer addition (order-free); replications are
    // put back in index order.
    batch.replications.sort_by_key(|r| r.index);
    batch
}

/// Runs one strategy over the given replication indices, in parallel,
/// returning outcomes in index order (for searches that vary one strategy).
pub fn run_strategy(
    scenario: &Scenario,
    strategy: usize,
    seed: u64,
    indices: &[u64],
    options: &SimOptions,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    indices
        .par_iter()
        .map(|&i| {
            let draws = draws_for(scenario, seed, i);
            let o =
                crate::simulation::simulate(scenario, strategy, &draws, seed, i, options, &mut ());
            progress.advance(1);
            o
        })
        .collect()
}
