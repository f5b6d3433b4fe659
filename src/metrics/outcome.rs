//! Per-request records and the per-(replication, strategy) [`Outcome`].
//!
//! Latency definitions follow vLLM's benchmark_serving: TTFT = first token −
//! arrival; E2E = last token − arrival; TPOT = (E2E − TTFT)/(O − 1), only
//! for O > 1; queue wait = first admission − arrival.

use super::catalogue::{Metric, MetricKey, PoolMetric};
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
    /// Latency outside the engine (engine-faithful mode; 0 otherwise),
    /// added to the TTFT and E2E the client sees.
    pub front_end_s: Seconds,
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
    pub fn get(&self, m: PoolMetric) -> f64 {
        match m {
            PoolMetric::Cost => self.cost_usd,
            PoolMetric::GpuHours => self.gpu_hours,
            PoolMetric::MeanReplicas => self.mean_replicas,
            PoolMetric::ReadyHours => self.ready_hours,
            PoolMetric::PeakReplicas => self.peak_replicas,
            PoolMetric::ColdStarts => self.cold_starts,
            PoolMetric::Interruptions => self.interruptions,
        }
    }

    /// Every value, in [`PoolMetric::ALL`] order.
    pub fn values(&self) -> [f64; PoolMetric::COUNT] {
        std::array::from_fn(|i| self.get(PoolMetric::ALL[i]))
    }

    /// A pool outcome from values in [`PoolMetric::ALL`] order.
    pub fn from_values(name: String, kind: &'static str, v: &[f64; PoolMetric::COUNT]) -> Self {
        let at = |m: PoolMetric| v[m.index()];
        PoolOutcome {
            name,
            kind,
            cost_usd: at(PoolMetric::Cost),
            gpu_hours: at(PoolMetric::GpuHours),
            mean_replicas: at(PoolMetric::MeanReplicas),
            ready_hours: at(PoolMetric::ReadyHours),
            peak_replicas: at(PoolMetric::PeakReplicas),
            cold_starts: at(PoolMetric::ColdStarts),
            interruptions: at(PoolMetric::Interruptions),
        }
    }
}

/// Every metric of one strategy in one replication.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Indexed by [`Metric::index`].
    pub values: Vec<f64>,
    pub pools: Vec<PoolOutcome>,
    /// The history was stopped at the event budget
    /// (`SimOptions::max_events`): its figures are not a result.
    pub stopped_at_event_budget: bool,
}

impl Outcome {
    pub fn get(&self, m: Metric) -> f64 {
        self.values[m.index()]
    }

    /// The value of a metric by key (pool metrics: `pool.<name>.<field>`);
    /// `None` for a key outside the catalogue or a pool it does not have.
    pub fn by_name(&self, name: &str) -> Option<f64> {
        self.value(&MetricKey::parse(name)?)
    }

    pub fn value(&self, key: &MetricKey) -> Option<f64> {
        match key {
            MetricKey::Fleet(m) => self.values.get(m.index()).copied(),
            MetricKey::Pool { pool, metric } => self
                .pools
                .iter()
                .find(|p| &p.name == pool)
                .map(|p| p.get(*metric)),
        }
    }

    /// Every metric as (key, value): the catalogue, then per-pool ones.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Metric::ALL
            .iter()
            .zip(&self.values)
            .map(|(m, v)| (m.key().to_string(), *v))
            .collect();
        for p in &self.pools {
            for m in PoolMetric::ALL {
                out.push((format!("pool.{}.{}", p.name, m.key()), p.get(*m)));
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
    /// Number-in-system integrals over the horizon's two halves, for the
    /// overload test (a backlog that grows through the horizon).
    horizon_s: f64,
    halves: [f64; 2],
}

/// Share of the horizon's arrivals by which the second half's mean backlog
/// must exceed the first half's, and share of the horizon the last
/// departure must come after it, for a history to count as overloaded.
pub const OVERLOAD_TREND_SHARE: f64 = 0.025;
pub const OVERLOAD_DRAIN_SHARE: f64 = 0.05;

/// Whether a history was overloaded: the number of requests in the system
/// grew through the horizon (its time-average over the second half exceeds
/// the first half's by more than 2.5% of the arrivals; a fleet at ρ = 1.05
/// from the start piles up 5% of them by the end, half of that on average
/// between the halves) and the backlog outlasted the horizon by more than
/// 5% of it. A stable fleet's backlog is about λ·W in both halves and
/// drains in about one request's latency; a load that merely rises within
/// the horizon passes unless its requests take minutes.
pub fn overloaded(halves: [f64; 2], arrived: u64, makespan_s: f64, horizon_s: f64) -> bool {
    halves[1] - halves[0] > OVERLOAD_TREND_SHARE * arrived as f64
        && makespan_s - horizon_s > OVERLOAD_DRAIN_SHARE * horizon_s
}

/// Length of [a, b] ∩ [lo, hi].
fn overlap(a: f64, b: f64, lo: f64, hi: f64) -> f64 {
    (b.min(hi) - a.max(lo)).max(0.0)
}

impl OutcomeBuilder {
    pub fn new(slo_ttft_s: f64, slo_tpot_s: f64, horizon_s: f64) -> Self {
        OutcomeBuilder {
            horizon_s,
            halves: [0.0; 2],
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
        let n = self.in_system as f64;
        self.area += n * (t - self.last_change_s);
        if self.last_change_s < self.horizon_s {
            let mid = self.horizon_s / 2.0;
            self.halves[0] += n * overlap(self.last_change_s, t, 0.0, mid);
            self.halves[1] += n * overlap(self.last_change_s, t, mid, self.horizon_s);
        }
        self.last_change_s = t;
    }

    /// Time-average number in system over the horizon's first and second
    /// halves.
    pub fn in_system_halves(&self) -> [f64; 2] {
        let mid = self.horizon_s / 2.0;
        let n = self.in_system as f64;
        let tail = |lo, hi| n * overlap(self.last_change_s, self.horizon_s, lo, hi);
        [
            (self.halves[0] + tail(0.0, mid)) / mid,
            (self.halves[1] + tail(mid, self.horizon_s)) / mid,
        ]
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
                let ttft = rec.first_token_s - rec.arrival_s + rec.front_end_s;
                let e2e = rec.done_s - rec.arrival_s + rec.front_end_s;
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
