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
use serde::{Deserialize, Serialize};

use crate::engine::rng::{Stream, stream};
use crate::metrics::Outcome;
use crate::scenario::{Draws, Scenario};
use crate::simulation::{Latencies, Observer, SimOptions, TimeSample, simulate_detailed};

/// What a summary needs to know about the run besides the replications:
/// enough to merge shards without the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub scenario: String,
    pub seed: u64,
    pub horizon_s: f64,
    pub strategies: Vec<String>,
    /// Uncertain inputs: (field path, distribution as written).
    pub inputs: Vec<(String, String)>,
    /// SLO targets (medians if uncertain), for reference lines.
    pub slo_ttft_s: f64,
    pub slo_tpot_s: f64,
    /// A plan passes when `slo_target` of its requests meet the SLO in
    /// `slo_confidence` of the replications.
    pub slo_target: f64,
    pub slo_confidence: f64,
}

impl RunMeta {
    pub fn of(scenario: &Scenario, seed: u64) -> RunMeta {
        RunMeta {
            scenario: scenario.name.clone(),
            seed,
            horizon_s: scenario.horizon_s,
            strategies: scenario.strategies.iter().map(|s| s.name.clone()).collect(),
            inputs: scenario
                .uncertain
                .inputs
                .iter()
                .map(|i| (i.name.clone(), i.dist.to_string()))
                .collect(),
            slo_ttft_s: scenario.slo.ttft_s.value(&scenario.uncertain.medians()),
            slo_tpot_s: scenario.slo.tpot_s.value(&scenario.uncertain.medians()),
            slo_target: scenario.slo.target,
            slo_confidence: scenario.slo.confidence,
        }
    }
}

/// One replication: its draws of the uncertain inputs and each strategy's outcome.
#[derive(Debug, Clone)]
pub struct Replication {
    pub index: u64,
    pub draws: Draws,
    pub outcomes: Vec<Outcome>,
}

/// Metric `m` of strategy `s` in every replication.
pub fn column(reps: &[Replication], s: usize, m: crate::metrics::Metric) -> Vec<f64> {
    reps.iter().map(|r| r.outcomes[s].get(m)).collect()
}

/// The draws of replication `index`.
pub fn draws_for(scenario: &Scenario, seed: u64, index: u64) -> Draws {
    scenario
        .uncertain
        .draw(&mut stream(seed, index, Stream::Params))
}

/// Points of a chart's time series: one strategy of replication 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategySeries {
    pub strategy: String,
    pub pools: Vec<String>,
    pub interval_s: f64,
    pub samples: Vec<TimeSample>,
}

#[derive(Default)]
struct Sampler(Vec<TimeSample>);

impl Observer for Sampler {
    fn on_sample(&mut self, s: &TimeSample) {
        self.0.push(s.clone());
    }
}

/// Replication 0 is sampled about 240 times over the horizon for the
/// report's time series, in every run, so results never depend on whether
/// (or on which shard) it ran.
fn sample_interval_s(scenario: &Scenario) -> f64 {
    (scenario.horizon_s / 240.0).max(1.0)
}

/// One replication, its latencies, and (replication 0 only) its time series.
pub type ReplicationRun = (Replication, Vec<Latencies>, Option<Vec<StrategySeries>>);

/// Runs replication `index`: every strategy on the same traffic.
pub fn run_replication(
    scenario: &Scenario,
    seed: u64,
    index: u64,
    options: &SimOptions,
) -> ReplicationRun {
    let draws = draws_for(scenario, seed, index);
    let n = scenario.strategies.len();
    let mut outcomes = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    let mut series = Vec::new();
    for (s, st) in scenario.strategies.iter().enumerate() {
        let (o, l) = if index == 0 {
            let interval_s = sample_interval_s(scenario);
            let sampled = SimOptions {
                sample_interval_s: Some(interval_s),
                ..options.clone()
            };
            let mut sampler = Sampler::default();
            let out = simulate_detailed(scenario, s, &draws, seed, index, &sampled, &mut sampler);
            series.push(StrategySeries {
                strategy: st.name.clone(),
                pools: st.pools.iter().map(|p| p.name.clone()).collect(),
                interval_s,
                samples: sampler.0,
            });
            out
        } else {
            simulate_detailed(scenario, s, &draws, seed, index, options, &mut ())
        };
        outcomes.push(o);
        latencies.push(l);
    }
    (
        Replication {
            index,
            draws,
            outcomes,
        },
        latencies,
        (index == 0).then_some(series),
    )
}

/// Replications in index order, each strategy's latencies pooled over them,
/// and replication 0's time series if it is among them.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub replications: Vec<Replication>,
    pub latencies: Vec<Latencies>,
    pub timeseries: Option<Vec<StrategySeries>>,
}

impl Batch {
    /// Appends another batch (indices must follow this one's).
    pub fn extend(&mut self, other: Batch) {
        self.replications.extend(other.replications);
        if self.timeseries.is_none() {
            self.timeseries = other.timeseries;
        }
        if self.latencies.is_empty() {
            self.latencies = other.latencies;
        } else {
            for (a, b) in self.latencies.iter_mut().zip(&other.latencies) {
                a.merge(b);
            }
        }
    }
}

/// Whether two one-replication batches are the same history: every metric
/// of every strategy and pool equal to the bit (NaN included).
pub fn same_histories(a: &Batch, b: &Batch) -> bool {
    let bits = |batch: &Batch| -> Vec<u64> {
        batch
            .replications
            .iter()
            .flat_map(|r| &r.outcomes)
            .flat_map(|o| {
                o.values
                    .iter()
                    .copied()
                    .chain(o.pools.iter().flat_map(|p| p.values()))
                    .map(f64::to_bits)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    a.replications.len() == b.replications.len()
        && a.replications.iter().all(|r| r.draws.values.is_empty())
        && bits(a) == bits(b)
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
        timeseries: None,
    };
    let mut batch = indices
        .par_iter()
        .fold(empty, |mut acc, &i| {
            let (rep, lat, series) = run_replication(scenario, seed, i, options);
            acc.replications.push(rep);
            if series.is_some() {
                acc.timeseries = series;
            }
            for (a, b) in acc.latencies.iter_mut().zip(&lat) {
                a.merge(b);
            }
            progress.advance(1);
            acc
        })
        .reduce(empty, |mut a, b| {
            a.replications.extend(b.replications);
            a.timeseries = a.timeseries.or(b.timeseries);
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

/// Like [`run_batch`], but stops starting replications once `stop` is set
/// (e.g. by Ctrl-C). The replications in progress finish, and the batch
/// keeps only the longest run of indices from the first one that all
/// finished: a contiguous prefix, so an interrupted sample is not biased
/// towards quick replications. Returns whether it was cut short.
///
/// Work goes in chunks of a few replications per thread, each merged in
/// index order, so memory does not grow with the number of replications
/// and an uninterrupted result is the same as [`run_batch`]'s.
pub fn run_batch_until(
    scenario: &Scenario,
    seed: u64,
    indices: &[u64],
    options: &SimOptions,
    progress: &dyn Progress,
    stop: &std::sync::atomic::AtomicBool,
) -> (Batch, bool) {
    use std::sync::atomic::Ordering;
    let n_strategies = scenario.strategies.len();
    let mut batch = Batch {
        replications: Vec::new(),
        latencies: vec![Latencies::default(); n_strategies],
        timeseries: None,
    };
    let chunk = (rayon::current_num_threads() * 8).max(1);
    for part in indices.chunks(chunk) {
        let runs: Vec<Option<ReplicationRun>> = part
            .par_iter()
            .map(|&i| {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
                let r = run_replication(scenario, seed, i, options);
                progress.advance(1);
                Some(r)
            })
            .collect();
        for run in runs {
            let Some((rep, lat, series)) = run else {
                // Everything after the first replication not run is dropped.
                batch.replications.sort_by_key(|r| r.index);
                return (batch, true);
            };
            batch.replications.push(rep);
            if series.is_some() {
                batch.timeseries = series;
            }
            for (a, b) in batch.latencies.iter_mut().zip(&lat) {
                a.merge(b);
            }
        }
        if stop.load(Ordering::SeqCst) {
            batch.replications.sort_by_key(|r| r.index);
            let cut = batch.replications.len() < indices.len();
            return (batch, cut);
        }
    }
    batch.replications.sort_by_key(|r| r.index);
    (batch, false)
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
