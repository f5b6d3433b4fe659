//! Running a run's replications on many machines: `--shard K/N` computes
//! replication indices i with i mod N = K − 1 and writes a part file;
//! `merge` combines parts into exactly what the unsharded run produces.
//!
//! Part files store every float as its bit pattern, so nothing is lost in
//! text and the merged summary is byte-identical to the unsharded one.

use serde::{Deserialize, Serialize};

use super::{Batch, Replication, RunMeta, StrategySeries};
use crate::metrics::{LatencyHistogram, Metric, Outcome, PoolMetric, PoolOutcome};
use crate::scenario::Draws;
use crate::simulation::Latencies;

/// Shard K of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub k: u64,
    pub n: u64,
}

impl ShardSpec {
    /// Parses "K/N" with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        let bad = || {
            format!("--shard \"{text}\" is not allowed: expected K/N with 1 <= K <= N, e.g. 3/8")
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(ShardSpec { k, n })
    }

    /// This shard's replication indices among `0..total`.
    pub fn indices(&self, total: u64) -> Vec<u64> {
        (self.k - 1..total).step_by(self.n as usize).collect()
    }
}

/// 64-bit FNV-1a, to fingerprint what a run depends on.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xff]) {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PoolBits {
    name: String,
    kind: String,
    values: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OutcomeBits {
    values: Vec<u64>,
    pools: Vec<PoolBits>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ReplicationBits {
    index: u64,
    draws: Vec<u64>,
    outcomes: Vec<OutcomeBits>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HistogramBits {
    buckets: Vec<(u64, u64)>,
    sum_ns: [u64; 2],
    count: u64,
}

/// A shard's result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    format: String,
    /// The fleetsim version that wrote it (a merge names it on a mismatch).
    version: String,
    /// Metric names in the order of every outcome's values, and of every
    /// pool's: a file from a build with other metrics is refused.
    metrics: Vec<String>,
    pool_metrics: Vec<String>,
    /// Hash of the scenario text, seed and replication count.
    pub fingerprint: String,
    pub meta: RunMeta,
    pub total_replications: u64,
    pub shard: ShardSpec,
    replications: Vec<ReplicationBits>,
    /// Per strategy: queue wait, TTFT, TPOT, E2E.
    latencies: Vec<[HistogramBits; 4]>,
    /// The scenario as written, for the report.
    pub scenario_text: String,
    /// Replication 0's time series (shard 1 holds replication 0).
    pub timeseries: Option<Vec<StrategySeries>>,
    /// The finished replications 0..k−1 of an interrupted run (a resume
    /// file), not a shard: `run --resume` reads it, `merge` refuses it.
    #[serde(default)]
    pub prefix: bool,
    /// Replication 0's own latency histograms (the part that holds it).
    #[serde(default)]
    first_latencies: Option<Vec<[HistogramBits; 4]>>,
}

const FORMAT: &str = "fleetsim-part/2";

fn metric_names() -> Vec<String> {
    Metric::ALL.iter().map(|m| m.key().to_string()).collect()
}

fn pool_metric_names() -> Vec<String> {
    PoolMetric::ALL
        .iter()
        .map(|m| m.key().to_string())
        .collect()
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

fn unbits(xs: &[u64]) -> Vec<f64> {
    xs.iter().map(|x| f64::from_bits(*x)).collect()
}

/// A strategy's four histograms as stored in a part file, and back.
fn latencies_bits(l: &Latencies) -> [HistogramBits; 4] {
    [
        hist_bits(&l.queue_wait),
        hist_bits(&l.ttft),
        hist_bits(&l.tpot),
        hist_bits(&l.e2e),
    ]
}

fn latencies_of([q, t, p, e]: &[HistogramBits; 4]) -> Result<Latencies, String> {
    let h = |b: &HistogramBits| LatencyHistogram::from_parts(&b.buckets, b.sum_ns, b.count);
    Ok(Latencies {
        queue_wait: h(q)?,
        ttft: h(t)?,
        tpot: h(p)?,
        e2e: h(e)?,
    })
}

fn hist_bits(h: &LatencyHistogram) -> HistogramBits {
    let (buckets, sum_ns, count) = h.to_parts();
    HistogramBits {
        buckets,
        sum_ns,
        count,
    }
}

impl Part {
    pub fn new(
        fingerprint: String,
        meta: RunMeta,
        total: u64,
        shard: ShardSpec,
        batch: &Batch,
        scenario_text: String,
        timeseries: Option<Vec<StrategySeries>>,
    ) -> Part {
        Part {
            scenario_text,
            timeseries,
            prefix: false,
            first_latencies: None,
            format: FORMAT.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            metrics: metric_names(),
            pool_metrics: pool_metric_names(),
            fingerprint,
            meta,
            total_replications: total,
            shard,
            replications: batch
                .replications
                .iter()
                .map(|r| ReplicationBits {
                    index: r.index,
                    draws: bits(&r.draws.values),
                    outcomes: r
                        .outcomes
                        .iter()
                        .map(|o| OutcomeBits {
                            values: bits(&o.values),
                            pools: o
                                .pools
                                .iter()
                                .map(|p| PoolBits {
                                    name: p.name.clone(),
                                    kind: p.kind.to_string(),
                                    values: bits(&p.values()),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
            latencies: batch.latencies.iter().map(latencies_bits).collect(),
        }
    }

    /// Records replication 0's own histograms (`None` if it is not here).
    pub fn set_first_latencies(&mut self, latencies: Option<Vec<Latencies>>) {
        self.first_latencies = latencies.map(|ls| ls.iter().map(latencies_bits).collect());
    }

    /// The resume file of an interrupted run: its finished replications
    /// 0..k−1 (`batch` must hold exactly those).
    pub fn resume_file(
        fingerprint: String,
        meta: RunMeta,
        total: u64,
        batch: &Batch,
        scenario_text: String,
    ) -> Part {
        let mut part = Part::new(
            fingerprint,
            meta,
            total,
            ShardSpec { k: 1, n: 1 },
            batch,
            scenario_text,
            batch.timeseries.clone(),
        );
        part.prefix = true;
        part
    }

    /// The finished replications of a resume file, checked like a shard.
    pub fn resumed(&self) -> Result<Batch, String> {
        if !self.prefix {
            return Err("not a resume file (it is a shard's part file)".into());
        }
        self.check_contents()?;
        let mut batch = self.batch()?;
        batch.timeseries = self.timeseries.clone();
        Ok(batch)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a part always serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Part, String> {
        let part: Part =
            serde_json::from_slice(bytes).map_err(|e| format!("not a fleetsim part file: {e}"))?;
        if part.format != FORMAT {
            return Err(format!(
                "part format \"{}\" is not \"{FORMAT}\" (written by fleetsim {}); re-run the shard with this version",
                part.format, part.version
            ));
        }
        if part.metrics != metric_names() || part.pool_metrics != pool_metric_names() {
            return Err(format!(
                "the part's metrics are not this version's (written by fleetsim {}, this is {}); re-run the shard with this version",
                part.version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        Ok(part)
    }

    /// Checks what an edited file could get wrong: the replications are
    /// exactly this shard's, each with one outcome per strategy, every
    /// metric and every pool's metrics, one set of latencies per strategy.
    fn check_contents(&self) -> Result<(), String> {
        let me = format!("shard {}/{}", self.shard.k, self.shard.n);
        let expected = if self.prefix {
            // A resume file holds a prefix 0..k−1 that stops short of the total.
            let k = self.replications.len() as u64;
            if self.shard != (ShardSpec { k: 1, n: 1 }) || k == 0 || k >= self.total_replications {
                return Err(format!(
                    "the resume file holds {k} of {} replications: expected 1 to {}",
                    self.total_replications,
                    self.total_replications.saturating_sub(1)
                ));
            }
            (0..k).collect()
        } else {
            self.shard.indices(self.total_replications)
        };
        let got: Vec<u64> = self.replications.iter().map(|r| r.index).collect();
        if got != expected {
            return Err(format!(
                "{me} holds replications {} but should hold {}",
                list(&got),
                list(&expected)
            ));
        }
        let strategies = self.meta.strategies.len();
        for r in &self.replications {
            if r.outcomes.len() != strategies {
                return Err(format!(
                    "{me}, replication {}: {} outcomes for {strategies} strategies",
                    r.index,
                    r.outcomes.len()
                ));
            }
            if r.draws.len() != self.meta.inputs.len() {
                return Err(format!(
                    "{me}, replication {}: {} drawn inputs for {} uncertain inputs",
                    r.index,
                    r.draws.len(),
                    self.meta.inputs.len()
                ));
            }
            for o in &r.outcomes {
                if o.values.len() != Metric::COUNT {
                    return Err(format!(
                        "{me}, replication {}: {} metric values, expected {}",
                        r.index,
                        o.values.len(),
                        Metric::COUNT
                    ));
                }
            }
        }
        if self.latencies.len() != strategies {
            return Err(format!(
                "{me}: latencies for {} strategies, expected {strategies}",
                self.latencies.len()
            ));
        }
        // Every histogram's count is the sum of its buckets (no overflow).
        for (s, hs) in self.latencies.iter().enumerate() {
            for h in hs {
                let total = h
                    .buckets
                    .iter()
                    .try_fold(0u64, |acc, (_, n)| acc.checked_add(*n));
                if total != Some(h.count) {
                    return Err(format!(
                        "{me}: a latency histogram of strategy {} counts {} but its buckets hold {}",
                        self.meta.strategies.get(s).map_or("?", |x| x.as_str()),
                        h.count,
                        total.map_or("more than 2^64".into(), |t| t.to_string())
                    ));
                }
            }
        }
        // The pools of a strategy are the same in every replication.
        let first = self.replications.first();
        for r in &self.replications {
            for (s, o) in r.outcomes.iter().enumerate() {
                let names = |o: &OutcomeBits| -> Vec<(String, String)> {
                    o.pools
                        .iter()
                        .map(|p| (p.name.clone(), p.kind.clone()))
                        .collect()
                };
                if let Some(f) = first
                    && names(o) != names(&f.outcomes[s])
                {
                    return Err(format!(
                        "{me}, replication {}: the pools of strategy {} differ from replication {}'s",
                        r.index, s, f.index
                    ));
                }
            }
        }
        // Replication 0's time series and own histograms travel with the
        // part that holds it.
        let holds_zero = self.replications.iter().any(|r| r.index == 0);
        if let Some(first) = &self.first_latencies
            && (!holds_zero || first.len() != strategies)
        {
            return Err(format!(
                "{me}: replication 0's histograms do not match the part (it {} replication 0; {} strategies, expected {strategies})",
                if holds_zero { "holds" } else { "does not hold" },
                first.len()
            ));
        }
        match &self.timeseries {
            Some(ts) if !holds_zero => {
                return Err(format!(
                    "{me} holds a time series but not replication 0 ({} series)",
                    ts.len()
                ));
            }
            Some(ts) if ts.len() != strategies => {
                return Err(format!(
                    "{me}: time series for {} strategies, expected {strategies}",
                    ts.len()
                ));
            }
            None if holds_zero => {
                return Err(format!("{me} holds replication 0 but not its time series"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The pool (name, kind) lists of each strategy, for merging parts.
    fn pool_layout(&self) -> Vec<Vec<(String, String)>> {
        self.replications
            .first()
            .map(|r| {
                r.outcomes
                    .iter()
                    .map(|o| {
                        o.pools
                            .iter()
                            .map(|p| (p.name.clone(), p.kind.clone()))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn batch(&self) -> Result<Batch, String> {
        let kind = |k: &str| -> Result<&'static str, String> {
            ["reserved", "owned", "on_demand", "spot", "serverless"]
                .into_iter()
                .find(|x| *x == k)
                .ok_or_else(|| format!("pool kind \"{k}\" is not a kind of pool"))
        };
        let outcome = |o: &OutcomeBits| -> Result<Outcome, String> {
            let pools = o
                .pools
                .iter()
                .map(|p| {
                    let v: [f64; PoolMetric::COUNT] =
                        unbits(&p.values).try_into().map_err(|_| {
                            format!("pool \"{}\" has the wrong number of metric values", p.name)
                        })?;
                    Ok(PoolOutcome::from_values(p.name.clone(), kind(&p.kind)?, &v))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Outcome {
                values: unbits(&o.values),
                pools,
                // A shard refuses to write a part with a stopped history.
                stopped_at_event_budget: false,
            })
        };
        let replications = self
            .replications
            .iter()
            .map(|r| {
                Ok(Replication {
                    index: r.index,
                    draws: Draws {
                        values: unbits(&r.draws),
                    },
                    outcomes: r
                        .outcomes
                        .iter()
                        .map(outcome)
                        .collect::<Result<_, String>>()?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let latencies = self
            .latencies
            .iter()
            .map(latencies_of)
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Batch {
            replications,
            latencies,
            timeseries: self.timeseries.clone(),
        })
    }
}

/// Most replications a merged run may have (as a run may ask for).
const MAX_TOTAL: u64 = 1_000_000;

/// A short rendering of a list of replication indices.
fn list(v: &[u64]) -> String {
    let shown: Vec<String> = v.iter().take(5).map(u64::to_string).collect();
    format!(
        "[{}{}]",
        shown.join(", "),
        if v.len() > 5 { ", ..." } else { "" }
    )
}

/// A sharded run put back together.
pub struct Merged {
    pub meta: RunMeta,
    pub total_replications: u64,
    /// Nothing in the run was random: the batch holds replication 0 alone.
    pub deterministic: bool,
    pub batch: Batch,
    pub scenario_text: String,
    pub timeseries: Vec<StrategySeries>,
}

/// Combines the parts of one run. Every shard 1..N must be there once, all
/// from the same scenario, seed and replication count.
pub fn merge(parts: &[Part]) -> Result<Merged, String> {
    let first = parts.first().ok_or("no part files given")?;
    for p in parts {
        if p.fingerprint != first.fingerprint
            || p.meta != first.meta
            || p.total_replications != first.total_replications
        {
            return Err(format!(
                "parts come from different runs: shard {}/{} is of scenario \"{}\" (seed {}, {} replications, fingerprint {}) but shard {}/{} of \"{}\" (seed {}, {} replications, fingerprint {})",
                first.shard.k,
                first.shard.n,
                first.meta.scenario,
                first.meta.seed,
                first.total_replications,
                first.fingerprint,
                p.shard.k,
                p.shard.n,
                p.meta.scenario,
                p.meta.seed,
                p.total_replications,
                p.fingerprint
            ));
        }
        if p.shard.n != first.shard.n {
            return Err(format!(
                "parts were cut differently: {}/{} and {}/{}",
                first.shard.k, first.shard.n, p.shard.k, p.shard.n
            ));
        }
    }
    let n = first.shard.n;
    // An edited part must not make the merge allocate or index blindly.
    if first.total_replications == 0 || first.total_replications > MAX_TOTAL {
        return Err(format!(
            "the parts say the run has {} replications: expected 1 to {MAX_TOTAL}",
            first.total_replications
        ));
    }
    if n == 0 || n > first.total_replications.max(parts.len() as u64) {
        return Err(format!(
            "the parts say the run was cut into {n} shards: expected 1 to {} (its replications)",
            first.total_replications
        ));
    }
    let mut seen = vec![false; n as usize];
    for p in parts {
        if p.shard.k == 0 || p.shard.k > n {
            return Err(format!("shard {}/{n} is not a shard of {n}", p.shard.k));
        }
        if p.prefix {
            return Err(
                "a resume file of an interrupted run is not a shard: continue it with `fleetsim run --resume`".into(),
            );
        }
        if p.version != env!("CARGO_PKG_VERSION") {
            return Err(format!(
                "shard {}/{} was written by fleetsim {:?}, this is {}: merge with the version that ran the shards",
                p.shard.k,
                p.shard.n,
                p.version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        if std::mem::replace(&mut seen[(p.shard.k - 1) as usize], true) {
            return Err(format!("shard {}/{} is given twice", p.shard.k, n));
        }
        p.check_contents()?;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!("shard {}/{n} is missing", missing + 1));
    }
    let layout = first.pool_layout();
    if let Some(p) = parts
        .iter()
        .find(|p| !p.replications.is_empty() && p.pool_layout() != layout)
    {
        return Err(format!(
            "shard {}/{n}: its strategies' pools differ from shard {}/{n}'s",
            p.shard.k, first.shard.k
        ));
    }
    let mut sorted: Vec<&Part> = parts.iter().collect();
    sorted.sort_by_key(|p| p.shard.k);
    let mut batch = Batch::default();
    for p in sorted {
        batch.extend(p.batch()?);
    }
    batch.replications.sort_by_key(|r| r.index);
    if batch.replications.len() as u64 != first.total_replications {
        return Err(format!(
            "the parts hold {} replications, expected {}",
            batch.replications.len(),
            first.total_replications
        ));
    }
    let timeseries = parts
        .iter()
        .find(|p| p.shard.k == 1)
        .and_then(|p| p.timeseries.clone())
        .unwrap_or_default();
    // As an unsharded run: replications 0 and 1 the same history means
    // nothing is random, and replication 0 alone is the answer.
    let one = |i: usize| Batch {
        replications: vec![batch.replications[i].clone()],
        ..Batch::default()
    };
    let zero_latencies = parts
        .iter()
        .find(|p| p.shard.k == 1)
        .and_then(|p| p.first_latencies.as_ref());
    let deterministic = batch.replications.len() >= 2
        && zero_latencies.is_some()
        && crate::montecarlo::same_histories(&one(0), &one(1));
    if deterministic {
        let latencies = zero_latencies
            .expect("checked")
            .iter()
            .map(latencies_of)
            .collect::<Result<Vec<_>, String>>()?;
        batch.replications.truncate(1);
        batch.latencies = latencies;
    }
    Ok(Merged {
        meta: first.meta.clone(),
        total_replications: first.total_replications,
        deterministic,
        batch,
        scenario_text: first.scenario_text.clone(),
        timeseries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs() {
        assert_eq!(ShardSpec::parse("3/8"), Ok(ShardSpec { k: 3, n: 8 }));
        assert!(ShardSpec::parse("3/2").is_err());
        assert!(ShardSpec::parse("0/2").is_err());
        assert!(ShardSpec::parse("two").is_err());
        let all: Vec<u64> = (1..=3)
            .flat_map(|k| ShardSpec { k, n: 3 }.indices(10))
            .collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
