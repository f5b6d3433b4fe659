//! Per-request records and the per-(replication, strategy) [`Outcome`].
//!
//! Latency definitions follow vLLM's benchmark_serving: TTFT = first token −
//! arrival; E2E = last token − arrival; TPOT = (E2E − TTFT)/(O − 1), only
//! for O > 1; queue wait = first admission − arrival.

use super::latency::LatencyHistogram;
use crate::units::Seconds;

/// How a request left the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEnd {
    /// Served by a replica.
    Completed,
    /// Waited `slo.max_queue` and went to the API.
    Overflowed,
    /// Could not be served: too large for the KV cache, or timed out without overflow.
    Dropped,
}

impl RequestEnd {
    pub fn name(self) -> &'static str {
        match self {
            RequestEnd::Completed => "completed",
            RequestEnd::Overflowed => "overflowed",
            RequestEnd::Dropped => "dropped",
        }
    }
}

/// One request's history (the row of `--requests-out`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRecord {
    pub id: u64,
    /// Replica that served it (last one, if it was moved).
    pub replica: Option<u32>,
    pub arrival_s: Seconds,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// First admission; NaN if never admitted.
    pub admit_s: Seconds,
    pub first_token_s: Seconds,
    /// When it left the system (last token, overflow, or drop).
    pub done_s: Seconds,
    pub end: RequestEnd,
    /// Times it lost its KV (preemption, interruption) and was recomputed.
    pub restarts: u32,
}

/// One pool's share of a strategy's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOutcome {
    pub name: String,
    pub kind: &'static str,
    pub cost_usd: f64,
    pub gpu_hours: f64,
    /// Time-weighted live replicas over the horizon.
    pub mean_replicas: f64,
    /// Replica-hours ready to serve (exposure to spot interruptions).
    pub ready_hours: f64,
    pub peak_replicas: f64,
    pub cold_starts: f64,
    pub interruptions: f64,
}

impl PoolOutcome {
    /// (field, value) pairs, named as in `pool.<name>.<field>`.
    pub fn fields(&self) -> [(&'static str, f64); 7] {
        [
            ("cost_usd", self.cost_usd),
            ("gpu_hours", self.gpu_hours),
            ("mean_replicas", self.mean_replicas),
            ("ready_hours", self.ready_hours),
            ("peak_replicas", self.peak_replicas),
            ("cold_starts", self.cold_starts),
            ("interruptions", self.interruptions),
        ]
    }
}

/// Every metric of one strategy in one replication (SPEC §7 keys and more).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub values: Vec<f64>,
    pub pools: Vec<PoolOutcome>,
}

/// Metric keys in output order. The first block is SPEC §7's list.
pub const METRIC_NAMES: &[&str] = &[
    "total_cost_usd",
    "cost_per_month_usd",
    "cost_per_m_output_tokens",
    "api_baseline_cost_usd",
    "requests_arrived",
    "requests_completed",
    "requests_overflowed",
    "requests_dropped",
    "input_tokens",
    "output_tokens",
    "queue_wait_p50_s",
    "queue_wait_p99_s",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
    "e2e_p50_s",
    "e2e_p99_s",
    "slo_attainment",
    "gpu_hours",
    "busy_fraction",
    "mean_batch_size",
    "throughput_tokens_per_s",
    "cold_starts",
    "preemptions",
    "interruptions",
    "peak_replicas",
    // Beyond SPEC §7:
    "api_overflow_cost_usd",
    "queue_wait_mean_s",
    "ttft_mean_s",
    "tpot_mean_s",
    "e2e_mean_s",
    "mean_replicas",
    "makespan_s",
    "mean_in_system",
    "mean_sojourn_s",
    "api_baseline_per_m_output_tokens",
];

/// Index of each metric in [`Outcome::values`].
#[derive(Debug, Clone, Copy)]
#[repr(usize)]
pub enum M {
    TotalCost,
    CostPerMonth,
    CostPerMOutput,
    ApiBaselineCost,
    Arrived,
    Completed,
    Overflowed,
    Dropped,
    InputTokens,
    OutputTokens,
    QueueWaitP50,
    QueueWaitP99,
    TtftP50,
    TtftP99,
    TpotP50,
    TpotP99,
    E2eP50,
    E2eP99,
    SloAttainment,
    GpuHours,
    BusyFraction,
    MeanBatch,
    Throughput,
    ColdStarts,
    Preemptions,
    Interruptions,
    PeakReplicas,
    ApiOverflowCost,
    QueueWaitMean,
    TtftMean,
    TpotMean,
    E2eMean,
    MeanReplicas,
    Makespan,
    MeanInSystem,
    MeanSojourn,
    ApiBaselinePerMOutput,
}

impl Outcome {
    pub fn get(&self, m: M) -> f64 {
        self.values[m as usize]
    }

    /// The value of a metric by name (pool metrics: `pool.<name>.<field>`).
    pub fn by_name(&self, name: &str) -> Option<f64> {
        // Without building every name: this runs per replication and metric.
        if let Some(i) = METRIC_NAMES.iter().position(|n| *n == name) {
            return self.values.get(i).copied();
        }
        let (pool, field) = name.strip_prefix("pool.")?.rsplit_once('.')?;
        let p = self.pools.iter().find(|p| p.name == pool)?;
        p.fields()
            .into_iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    /// Every metric as (name, value): the fixed list, then per-pool ones.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = METRIC_NAMES
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        for p in &self.pools {
            for (field, v) in p.fields() {
                out.push((format!("pool.{}.{field}", p.name), v));
            }
        }
        out
    }
}

/// Streaming accumulation of request-level metrics; memory is constant.
#[derive(Debug, Clone)]
pub struct OutcomeBuilder {
    slo_ttft_s: f64,
    slo_tpot_s: f64,
    pub queue_wait: LatencyHistogram,
    pub ttft: LatencyHistogram,
    pub tpot: LatencyHistogram,
    pub e2e: LatencyHistogram,
    pub arrived: u64,
    pub completed: u64,
    pub overflowed: u64,
    pub dropped: u64,
    pub slo_met: u64,
    /// Tokens of requests served (by replicas or the API).
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Tokens sent to the API as overflow.
    pub api_input_tokens: u64,
    pub api_output_tokens: u64,
    /// Tokens of every arrived request (the API baseline).
    pub arrived_input_tokens: u64,
    pub arrived_output_tokens: u64,
    sojourn_ns: u128,
    pub last_departure_s: f64,
    in_system: u64,
    area: f64,
    last_change_s: f64,
}

impl OutcomeBuilder {
    pub fn new(slo_ttft_s: f64, slo_tpot_s: f64) -> Self {
        OutcomeBuilder {
            slo_ttft_s,
            slo_tpot_s,
            queue_wait: LatencyHistogram::new(),
            ttft: LatencyHistogram::new(),
            tpot: LatencyHistogram::new(),
            e2e: LatencyHistogram::new(),
            arrived: 0,
            completed: 0,
            overflowed: 0,
            dropped: 0,
            slo_met: 0,
            input_tokens: 0,
            output_tokens: 0,
            api_input_tokens: 0,
            api_output_tokens: 0,
            arrived_input_tokens: 0,
            arrived_output_tokens: 0,
            sojourn_ns: 0,
            last_departure_s: 0.0,
            in_system: 0,
            area: 0.0,
            last_change_s: 0.0,
        }
    }

    /// Integrates the number in system up to `t` (for the time-average L).
    fn advance(&mut self, t: Seconds) {
        debug_assert!(t >= self.last_change_s - 1e-9, "time went backwards");
        self.area += self.in_system as f64 * (t - self.last_change_s);
        self.last_change_s = t;
    }

    pub fn on_arrival(&mut self, t: Seconds, prompt_tokens: u32, output_tokens: u32) {
        self.advance(t);
        self.in_system += 1;
        self.arrived += 1;
        self.arrived_input_tokens += prompt_tokens as u64;
        self.arrived_output_tokens += output_tokens as u64;
    }

    /// A request left the system. `api` is (TTFT, TPOT) of an API-served request.
    pub fn on_departure(&mut self, rec: &RequestRecord, api: Option<(f64, f64)>) {
        self.advance(rec.done_s);
        debug_assert!(self.in_system > 0);
        self.in_system -= 1;
        self.last_departure_s = self.last_departure_s.max(rec.done_s);
        self.sojourn_ns += ((rec.done_s - rec.arrival_s).max(0.0) * 1e9).round() as u128;
        let o = rec.output_tokens;
        let (ttft, tpot) = match rec.end {
            RequestEnd::Dropped => {
                self.dropped += 1;
                return;
            }
            RequestEnd::Completed => {
                self.completed += 1;
                self.queue_wait.record(rec.admit_s - rec.arrival_s);
                let ttft = rec.first_token_s - rec.arrival_s;
                let e2e = rec.done_s - rec.arrival_s;
                self.e2e.record(e2e);
                let tpot = (o > 1).then(|| (e2e - ttft) / (o - 1) as f64);
                (ttft, tpot)
            }
            RequestEnd::Overflowed => {
                self.overflowed += 1;
                let (api_ttft, api_tpot) = api.unwrap_or((0.0, 0.0));
                let waited = rec.done_s - rec.arrival_s;
                self.queue_wait.record(waited);
                let ttft = waited + api_ttft;
                self.e2e.record(ttft + api_tpot * (o.max(1) - 1) as f64);
                self.api_input_tokens += rec.prompt_tokens as u64;
                self.api_output_tokens += o as u64;
                (ttft, (o > 1).then_some(api_tpot))
            }
        };
        self.ttft.record(ttft);
        if let Some(t) = tpot {
            self.tpot.record(t);
        }
        self.input_tokens += rec.prompt_tokens as u64;
        self.output_tokens += o as u64;
        if ttft <= self.slo_ttft_s && tpot.is_none_or(|t| t <= self.slo_tpot_s) {
            self.slo_met += 1;
        }
    }

    /// Requests currently in the system.
    pub fn in_system(&self) -> u64 {
        self.in_system
    }

    /// Time-average number in system over [0, t_end].
    pub fn mean_in_system(&self, t_end: Seconds) -> f64 {
        if t_end <= 0.0 {
            return f64::NAN;
        }
        let tail = self.in_system as f64 * (t_end - self.last_change_s).max(0.0);
        (self.area + tail) / t_end
    }

    /// Mean time from arrival to departure over every arrived request.
    pub fn mean_sojourn_s(&self) -> f64 {
        if self.arrived == 0 {
            f64::NAN
        } else {
            self.sojourn_ns as f64 / self.arrived as f64 / 1e9
        }
    }
}
