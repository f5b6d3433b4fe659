//! The state of one history, grouped by concern, and how it is set up from
//! a scenario, a strategy and a replication's draws.

use super::*;
use rand::RngExt;

/// Batching limits, step-time model, GPUs per replica and front-end
/// latency of an engine.
pub(super) fn replica_engine(
    engine: &crate::scenario::Engine,
    draws: &Draws,
) -> (ReplicaConfig, StepModel, f64, FrontEnd) {
    let figures = EngineFigures::new(engine, draws);
    let chunk = engine.chunked_prefill_tokens.value(draws).round() as u32;
    let block = engine.kv_block_tokens.value(draws).round().max(1.0) as u32;
    let vllm = engine.admission == Admission::Vllm;
    let cfg = ReplicaConfig {
        max_batch: engine.max_batch.value(draws).round().max(1.0) as u32,
        kv_capacity_tokens: figures.kv_capacity_tokens,
        paged_block_tokens: (engine.admission == Admission::Paged).then_some(block),
        chunk_tokens: (chunk > 0 && !vllm).then_some(chunk),
        vllm: VllmLimits::of(engine, draws),
    };
    let front_end = if vllm {
        FrontEnd {
            median_s: engine.front_end_latency_s.value(draws),
            spread: engine.front_end_spread.value(draws),
        }
    } else {
        FrontEnd::NONE
    };
    (
        cfg,
        StepModel::new(engine, draws),
        figures.tensor_parallel,
        front_end,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Provisioning and loading the model.
    Starting,
    Ready,
    /// Takes no new requests; released when empty.
    Draining,
    Released,
}

pub(super) struct ReplicaSlot {
    pub(super) pool: usize,
    pub(super) engine: ReplicaEngine,
    pub(super) state: State,
    /// Bumped at release; events of an earlier life are ignored.
    pub(super) epoch: u32,
    pub(super) requested_s: Seconds,
    pub(super) ready_s: Option<Seconds>,
    pub(super) start_pending: bool,
    pub(super) idle: u32,
    pub(super) idle_armed: bool,
}

pub(super) struct Autoscaler {
    pub(super) interval_s: Seconds,
    pub(super) target: f64,
    pub(super) target_queue_wait_s: Option<Seconds>,
    pub(super) scale_down_delay_s: Seconds,
    pub(super) below_target_since: Option<Seconds>,
}

/// One history's state, grouped by concern.
pub(super) struct Sim<'a, O: Observer> {
    pub(super) now: Seconds,
    pub(super) horizon_s: Seconds,
    pub(super) options: &'a SimOptions,
    pub(super) observer: &'a mut O,
    pub(super) calendar: Calendar<Event>,
    /// Each busy replica's iteration end (class 0), outside the calendar.
    pub(super) ends: Timers,
    /// Requests in flight.
    pub(super) table: RequestTable,
    /// Replica slots (reused after release) and the free ones.
    pub(super) replicas: Vec<ReplicaSlot>,
    pub(super) free_replicas: Vec<u32>,
    pub(super) pools: Vec<PoolRuntime>,
    pub(super) engines: PoolEngines,
    pub(super) router: Router,
    pub(super) autoscaler: Option<Autoscaler>,
    pub(super) arrivals: ArrivalState,
    pub(super) waiting: Waiting,
    pub(super) api: ApiTerms,
    pub(super) rngs: FleetRngs,
    pub(super) acct: Accounting,
    pub(super) window: SampleWindow,
    pub(super) builder: OutcomeBuilder,
    pub(super) scratch: Scratch,
}

/// Step-time model and batching limits of each pool's replicas.
pub(super) struct PoolEngines {
    pub(super) steps: Vec<StepModel>,
    pub(super) configs: Vec<ReplicaConfig>,
    /// Latency outside the engine, added to each served request's TTFT and E2E.
    pub(super) front_end: Vec<FrontEnd>,
    /// Prefix hashes of the trace's rows, for the prefix cache.
    pub(super) hashes: HashPool,
    /// Every pool runs the same engine (routing need not check fit).
    pub(super) uniform: bool,
}

/// The traffic source and the one arrival it has announced.
pub(super) struct ArrivalState {
    pub(super) source: TrafficSource,
    pub(super) pending: Option<Request>,
    /// No arrival left before the horizon.
    pub(super) done: bool,
    /// Conversations' next turns, earliest first (by time, then by the
    /// order they were sent in), each with an `Event::Turn` in the calendar.
    pub(super) turns: std::collections::BinaryHeap<PendingTurn>,
    pub(super) turns_sent: u64,
    /// Ids in arrival order.
    pub(super) next_id: u64,
}

/// A conversation's next turn, waiting for its send time.
pub(super) struct PendingTurn {
    pub(super) at: Seconds,
    pub(super) seq: u64,
    pub(super) request: Request,
}

impl PartialEq for PendingTurn {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for PendingTurn {}
impl PartialOrd for PendingTurn {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PendingTurn {
    /// Reversed: the max-heap pops the earliest turn.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.total_cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// Requests no replica holds: the fleet backlog (or shared queue), and
/// their `slo.max_queue` deadlines.
pub(super) struct Waiting {
    pub(super) backlog: VecDeque<Slot>,
    /// `router = "shared_queue"`: the backlog is the fleet-wide FIFO.
    pub(super) shared: bool,
    pub(super) max_queue_s: Option<Seconds>,
    /// (deadline, slot, request id) in arrival order.
    pub(super) deadlines: VecDeque<(Seconds, Slot, u64)>,
    pub(super) timeout_armed: bool,
}

/// The strategy's overflow rule and the API's terms in this replication.
pub(super) struct ApiTerms {
    pub(super) overflow: Overflow,
    /// No pools: every request goes to the API.
    pub(super) pure: bool,
    pub(super) latency: EventDuration,
    pub(super) tpot_s: f64,
    pub(super) input_per_m: f64,
    pub(super) output_per_m: f64,
}

/// One random stream per kind of fleet event.
pub(super) struct FleetRngs {
    pub(super) provisioning: SimRng,
    pub(super) cold_start: SimRng,
    pub(super) interruption: SimRng,
    pub(super) api: SimRng,
    pub(super) front_end: SimRng,
}

/// A pool's latency outside the engine: lognormal across requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct FrontEnd {
    pub(super) median_s: Seconds,
    /// σ of the logarithm; 0 for a fixed latency.
    pub(super) spread: f64,
}

impl FrontEnd {
    pub(super) const NONE: FrontEnd = FrontEnd {
        median_s: 0.0,
        spread: 0.0,
    };

    pub(super) fn sample(&self, rng: &mut SimRng) -> Seconds {
        if self.spread > 0.0 && self.median_s > 0.0 {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            self.median_s * (self.spread * z).exp()
        } else {
            self.median_s
        }
    }
}

/// Integrals and counters behind the fleet metrics.
pub(super) struct Accounting {
    /// Pools' replica-time is integrated up to here.
    pub(super) last_s: Seconds,
    pub(super) ready_seconds_at_last_departure: f64,
    pub(super) peak_live: u32,
    /// Busy time and batch-seconds of released replicas (live ones keep their own).
    pub(super) busy_s: f64,
    pub(super) batch_seconds: f64,
    pub(super) preemptions: u64,
    pub(super) replica_output_tokens: u64,
    /// Prompt tokens found in prefix caches, and prompt tokens admitted.
    pub(super) prefix_hit_tokens: u64,
    pub(super) prefix_query_tokens: u64,
    /// Per fixed pool: each replica's busy time (for power billing).
    pub(super) fixed_busy: Vec<Vec<Seconds>>,
}

/// What happened since the previous time-series sample.
#[derive(Default)]
pub(super) struct SampleWindow {
    pub(super) arrivals: u64,
    pub(super) busy_s: f64,
    pub(super) ready_s: f64,
}

/// Buffers reused across events, to avoid allocating in the hot loop.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) done: Vec<Slot>,
    pub(super) candidates: Vec<(usize, u32)>,
}

impl<'a, O: Observer> Sim<'a, O> {
    pub(super) fn new(
        scenario: &'a Scenario,
        strategy: usize,
        draws: &Draws,
        seed: u64,
        replication: u64,
        options: &'a SimOptions,
        observer: &'a mut O,
    ) -> Self {
        let st = &scenario.strategies[strategy];
        // Each pool's replicas run the pool's engine (its own GPU / TP if given).
        let mut pool_cfgs = Vec::with_capacity(st.pools.len());
        let mut steps = Vec::with_capacity(st.pools.len());
        let mut pools = Vec::with_capacity(st.pools.len());
        let mut front_ends = Vec::with_capacity(st.pools.len());
        for p in &st.pools {
            let (cfg, step, gpus, front_end) = replica_engine(&p.engine, draws);
            pool_cfgs.push(cfg);
            steps.push(step);
            front_ends.push(front_end);
            pools.push(PoolRuntime::new(p, gpus, draws));
        }
        let uniform_engines = pool_cfgs.windows(2).all(|w| w[0] == w[1]);
        let autoscaled = pools.iter().any(|p| !p.is_fixed());
        let a = &st.autoscale;
        let autoscaler = autoscaled.then(|| Autoscaler {
            interval_s: a.interval_s.value(draws),
            target: a.target_inflight_per_replica.value(draws),
            target_queue_wait_s: a.target_queue_wait_s.map(|p| p.value(draws)),
            scale_down_delay_s: a.scale_down_delay_s.value(draws),
            below_target_since: None,
        });
        let n_pools = pools.len();
        let shared_queue = scenario.engine.router == RouterKind::SharedQueue;
        Sim {
            now: 0.0,
            horizon_s: scenario.horizon_s,
            options,
            observer,
            calendar: Calendar::new(),
            ends: Timers::new(),
            table: RequestTable::default(),
            replicas: Vec::new(),
            free_replicas: Vec::new(),
            api: ApiTerms {
                overflow: st.overflow,
                pure: pools.is_empty(),
                latency: scenario.api.latency_s.clone(),
                tpot_s: scenario.api.tpot_s.value(draws),
                input_per_m: scenario.api.input_per_m.value(draws),
                output_per_m: scenario.api.output_per_m.value(draws),
            },
            pools,
            engines: PoolEngines {
                steps,
                configs: pool_cfgs,
                front_end: front_ends,
                hashes: match &scenario.workload.arrivals {
                    crate::scenario::Arrivals::Trace { trace, .. } => HashPool {
                        hashes: trace.hash_pool.clone(),
                        block_tokens: trace.hash_block_tokens,
                    },
                    _ => HashPool::default(),
                },
                uniform: uniform_engines,
            },
            router: Router::new(
                scenario.engine.router,
                stream(seed, replication, Stream::Routing),
            ),
            autoscaler,
            arrivals: ArrivalState {
                source: TrafficSource::new(scenario, draws, seed, replication),
                pending: None,
                done: false,
                turns: Default::default(),
                turns_sent: 0,
                next_id: 0,
            },
            waiting: Waiting {
                backlog: VecDeque::new(),
                shared: shared_queue,
                max_queue_s: scenario.slo.max_queue_s.map(|p| p.value(draws)),
                deadlines: VecDeque::new(),
                timeout_armed: false,
            },
            rngs: FleetRngs {
                provisioning: stream(seed, replication, Stream::Provisioning),
                cold_start: stream(seed, replication, Stream::ColdStart),
                interruption: stream(seed, replication, Stream::Interruptions),
                api: stream(seed, replication, Stream::ApiLatency),
                front_end: stream(seed, replication, Stream::FrontEnd),
            },
            acct: Accounting {
                last_s: 0.0,
                ready_seconds_at_last_departure: 0.0,
                peak_live: 0,
                busy_s: 0.0,
                batch_seconds: 0.0,
                preemptions: 0,
                replica_output_tokens: 0,
                prefix_hit_tokens: 0,
                prefix_query_tokens: 0,
                fixed_busy: vec![Vec::new(); n_pools],
            },
            window: SampleWindow::default(),
            builder: OutcomeBuilder::new(
                scenario.slo.ttft_s.value(draws),
                scenario.slo.tpot_s.value(draws),
                scenario.horizon_s,
            ),
            scratch: Scratch::default(),
        }
    }
}
