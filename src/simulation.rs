//! One replication of one strategy: the discrete-event loop.
//!
//! ```text
//!   TrafficSource ──Arrival──▶ router ──▶ replica queue ──▶ iterations ──▶ departure
//!        (one ahead)             │  no ready replica            ▲
//!                                └──▶ backlog ──(ReplicaUp)─────┘
//!   AutoscaleTick / ReplicaUp / Notice / Interrupt / IdleTimeout / QueueTimeout
//! ```
//!
//! Events pop by (time, class, sequence). At one instant: iteration ends
//! (class 0), then fleet events (1), then arrivals (2), then iteration starts
//! (3), so requests arriving exactly at an iteration boundary join it.
//!
//! Fast-forward: after an iteration starts, if it ends strictly before the
//! next calendar event, nothing can affect this replica in between, so the
//! iteration is finished inline and the next one started, without touching
//! the calendar. The result is identical to stepping through the calendar
//! (tested in `tests/engine.rs`).

use std::collections::VecDeque;

use crate::engine::calendar::Calendar;
use crate::engine::rng::{SimRng, Stream, stream};
use crate::engine::timers::Timers;
use crate::fleet::pool::{PoolRule, PoolRuntime};
use crate::metrics::outcome::M;
use crate::metrics::{
    LatencyHistogram, Outcome, OutcomeBuilder, PoolOutcome, RequestEnd, RequestRecord,
};
use crate::scenario::{Admission, Draws, EventDuration, Overflow, RouterKind, Scenario};
use crate::serving::inflight::Phase;
use crate::serving::{
    EngineFigures, Replica, ReplicaConfig, RequestTable, Router, Slot, StepModel,
};
use crate::units::{HOUR_S, MONTH_S, Seconds};
use crate::workload::{Request, TrafficSource};

/// Knobs that change how, not what, is simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Finish iterations inline when nothing can intervene (same results).
    pub fast_forward: bool,
    /// Report a [`TimeSample`] to the observer every this many seconds.
    pub sample_interval_s: Option<Seconds>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fast_forward: true,
            sample_interval_s: None,
        }
    }
}

/// One iteration of one replica, as seen by an [`Observer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationInfo {
    pub replica: usize,
    pub start_s: Seconds,
    pub end_s: Seconds,
    pub batch: u32,
    pub kv_used_tokens: u64,
    pub kv_capacity_tokens: u64,
}

/// Fleet state at a sampling instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeSample {
    pub t_s: Seconds,
    /// Arrivals since the previous sample.
    pub arrivals: u64,
    /// Requests waiting (in replica queues and the backlog).
    pub queue_depth: u64,
    pub in_system: u64,
    /// Live (requested, not released) replicas per pool, in pool order.
    pub live_by_pool: Vec<u32>,
    /// Busy share of ready replica time since the previous sample.
    pub busy_fraction: f64,
}

/// Hooks into a simulated history; every method has a no-op default.
pub trait Observer {
    fn on_request(&mut self, _record: &RequestRecord) {}
    fn on_iteration(&mut self, _info: &IterationInfo) {}
    fn on_sample(&mut self, _sample: &TimeSample) {}
}

impl Observer for () {}

/// Simulates strategy `strategy` of `scenario` in replication `replication`.
/// A pure function of its arguments.
pub fn simulate<O: Observer>(
    scenario: &Scenario,
    strategy: usize,
    draws: &Draws,
    seed: u64,
    replication: u64,
    options: &SimOptions,
    observer: &mut O,
) -> Outcome {
    simulate_detailed(
        scenario,
        strategy,
        draws,
        seed,
        replication,
        options,
        observer,
    )
    .0
}

/// Per-request latency distributions of one history (mergeable).
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    pub queue_wait: LatencyHistogram,
    pub ttft: LatencyHistogram,
    pub tpot: LatencyHistogram,
    pub e2e: LatencyHistogram,
}

impl Latencies {
    pub fn merge(&mut self, other: &Latencies) {
        self.queue_wait.merge(&other.queue_wait);
        self.ttft.merge(&other.ttft);
        self.tpot.merge(&other.tpot);
        self.e2e.merge(&other.e2e);
    }
}

/// [`simulate`], also returning the latency histograms.
pub fn simulate_detailed<O: Observer>(
    scenario: &Scenario,
    strategy: usize,
    draws: &Draws,
    seed: u64,
    replication: u64,
    options: &SimOptions,
    observer: &mut O,
) -> (Outcome, Latencies) {
    Sim::new(
        scenario,
        strategy,
        draws,
        seed,
        replication,
        options,
        observer,
    )
    .run()
}

/// Batching limits, step-time model and GPUs per replica of an engine.
fn replica_engine(
    engine: &crate::scenario::Engine,
    draws: &Draws,
) -> (ReplicaConfig, StepModel, f64) {
    let figures = EngineFigures::new(engine, draws);
    let chunk = engine.chunked_prefill_tokens.value(draws).round() as u32;
    let cfg = ReplicaConfig {
        max_batch: engine.max_batch.value(draws).round().max(1.0) as u32,
        kv_capacity_tokens: figures.kv_capacity_tokens,
        paged_block_tokens: (engine.admission == Admission::Paged)
            .then(|| engine.kv_block_tokens.value(draws).round().max(1.0) as u32),
        chunk_tokens: (chunk > 0).then_some(chunk),
    };
    (cfg, StepModel::new(engine, draws), figures.tensor_parallel)
}

#[derive(Debug, Clone, Copy)]
enum Event {
    IterationStart { replica: u32, epoch: u32 },
    Arrival,
    ReplicaUp { replica: u32, epoch: u32 },
    Notice { replica: u32, epoch: u32 },
    Interrupt { replica: u32, epoch: u32 },
    IdleTimeout { replica: u32, epoch: u32, idle: u32 },
    QueueTimeout,
    AutoscaleTick,
    Horizon,
    Sample,
}

const CLASS_FLEET: u8 = 1;
const CLASS_ARRIVAL: u8 = 2;
const CLASS_START: u8 = 3;

/// Where a request waits when it is on no replica.
const IN_BACKLOG: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Provisioning and loading the model.
    Starting,
    Ready,
    /// Takes no new requests; released when empty.
    Draining,
    Released,
}

struct ReplicaSlot {
    pool: usize,
    engine: Replica,
    state: State,
    /// Bumped at release; events of an earlier life are ignored.
    epoch: u32,
    requested_s: Seconds,
    ready_s: Option<Seconds>,
    start_pending: bool,
    idle: u32,
    idle_armed: bool,
}

struct Autoscaler {
    interval_s: Seconds,
    target: f64,
    target_queue_wait_s: Option<Seconds>,
    scale_down_delay_s: Seconds,
    below_target_since: Option<Seconds>,
}

struct Sim<'a, O: Observer> {
    now: Seconds,
    horizon_s: Seconds,
    options: &'a SimOptions,
    observer: &'a mut O,
    calendar: Calendar<Event>,
    /// Each busy replica's iteration end (class 0), outside the calendar.
    ends: Timers,
    table: RequestTable,
    replicas: Vec<ReplicaSlot>,
    free_replicas: Vec<u32>,
    pools: Vec<PoolRuntime>,
    router: Router,
    shared_queue: bool,
    backlog: VecDeque<Slot>,
    /// (deadline, slot, request id) in arrival order, for `slo.max_queue`.
    deadlines: VecDeque<(Seconds, Slot, u64)>,
    timeout_armed: bool,
    max_queue_s: Option<Seconds>,
    overflow: Overflow,
    pure_api: bool,
    api_latency: EventDuration,
    api_tpot_s: f64,
    api_input_per_m: f64,
    api_output_per_m: f64,
    traffic: TrafficSource,
    pending: Option<Request>,
    arrivals_done: bool,
    builder: OutcomeBuilder,
    /// Step-time model and batching limits of each pool's replicas.
    steps: Vec<StepModel>,
    pool_cfgs: Vec<ReplicaConfig>,
    /// Every pool runs the same engine (routing need not check fit).
    uniform_engines: bool,
    autoscaler: Option<Autoscaler>,
    provisioning_rng: SimRng,
    cold_start_rng: SimRng,
    interruption_rng: SimRng,
    api_rng: SimRng,
    done: Vec<Slot>,
    candidates: Vec<(usize, u32)>,
    // Fleet accounting.
    last_account_s: Seconds,
    ready_seconds_at_last_departure: f64,
    peak_live: u32,
    busy_s: f64,
    batch_seconds: f64,
    preemptions: u64,
    replica_output_tokens: u64,
    fixed_busy: Vec<Vec<Seconds>>,
    // Sampling.
    sample_arrivals: u64,
    sample_busy_s: f64,
    sample_ready_s: f64,
}

impl<'a, O: Observer> Sim<'a, O> {
    fn new(
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
        for p in &st.pools {
            let (cfg, step, gpus) = replica_engine(&p.engine, draws);
            pool_cfgs.push(cfg);
            steps.push(step);
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
            pure_api: pools.is_empty(),
            pools,
            router: Router::new(
                scenario.engine.router,
                stream(seed, replication, Stream::Routing),
            ),
            shared_queue,
            backlog: VecDeque::new(),
            deadlines: VecDeque::new(),
            timeout_armed: false,
            max_queue_s: scenario.slo.max_queue_s.map(|p| p.value(draws)),
            overflow: st.overflow,
            api_latency: scenario.api.latency_s.clone(),
            api_tpot_s: scenario.api.tpot_s.value(draws),
            api_input_per_m: scenario.api.input_per_m.value(draws),
            api_output_per_m: scenario.api.output_per_m.value(draws),
            traffic: TrafficSource::new(scenario, draws, seed, replication),
            pending: None,
            arrivals_done: false,
            builder: OutcomeBuilder::new(
                scenario.slo.ttft_s.value(draws),
                scenario.slo.tpot_s.value(draws),
            ),
            steps,
            pool_cfgs,
            uniform_engines,
            autoscaler,
            provisioning_rng: stream(seed, replication, Stream::Provisioning),
            cold_start_rng: stream(seed, replication, Stream::ColdStart),
            interruption_rng: stream(seed, replication, Stream::Interruptions),
            api_rng: stream(seed, replication, Stream::ApiLatency),
            done: Vec::new(),
            candidates: Vec::new(),
            last_account_s: 0.0,
            ready_seconds_at_last_departure: 0.0,
            peak_live: 0,
            busy_s: 0.0,
            batch_seconds: 0.0,
            preemptions: 0,
            replica_output_tokens: 0,
            fixed_busy: vec![Vec::new(); n_pools],
            sample_arrivals: 0,
            sample_busy_s: 0.0,
            sample_ready_s: 0.0,
        }
    }

    fn run(mut self) -> (Outcome, Latencies) {
        // Capacity present from the start: fixed pools, and the floors of
        // autoscaled pools (warm before the horizon begins).
        for p in 0..self.pools.len() {
            for _ in 0..self.pools[p].min_replicas {
                self.add_replica(p, true);
            }
        }
        self.next_arrival();
        self.calendar
            .schedule(self.horizon_s, CLASS_FLEET, Event::Horizon);
        if let Some(a) = &self.autoscaler {
            self.calendar
                .schedule(a.interval_s, CLASS_FLEET, Event::AutoscaleTick);
        }
        if let Some(dt) = self.options.sample_interval_s {
            self.calendar.schedule(dt, CLASS_FLEET, Event::Sample);
        }
        loop {
            // The earliest of the calendar and the replicas' iteration ends
            // (class 0), by (time, class, sequence).
            let end = self.ends.earliest();
            let cal = self.calendar.peek_key();
            let end_first = match (end, cal) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((_, te, se)), Some((tc, cc, sc))) => {
                    te.total_cmp(&tc).then(0.cmp(&cc)).then(se.cmp(&sc)).is_lt()
                }
            };
            if end_first {
                let (r, t, _) = end.expect("checked");
                debug_assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
                self.now = t;
                self.ends.clear(r);
                self.finish_iteration(r);
                self.continue_iterations(r);
            } else {
                let (t, event) = self.calendar.pop().expect("checked");
                debug_assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
                self.now = t;
                self.handle(event);
            }
            if self.now >= self.horizon_s && self.arrivals_done && self.builder.in_system() == 0 {
                break;
            }
        }
        self.finish()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(),
            Event::IterationStart { replica, epoch } => {
                let r = replica as usize;
                if self.replicas[r].epoch == epoch {
                    self.replicas[r].start_pending = false;
                    if !self.replicas[r].engine.is_busy() {
                        self.run_iterations(r);
                    }
                }
            }
            Event::ReplicaUp { replica, epoch } => {
                let r = replica as usize;
                if self.replicas[r].epoch == epoch && self.replicas[r].state == State::Starting {
                    self.on_ready(r);
                }
            }
            Event::Notice { replica, epoch } => {
                let r = replica as usize;
                if self.replicas[r].epoch == epoch && self.replicas[r].state == State::Ready {
                    self.set_state(r, State::Draining);
                    self.refill_floors();
                    if self.replicas[r].engine.is_empty() && !self.replicas[r].engine.is_busy() {
                        self.release(r);
                    }
                }
            }
            Event::Interrupt { replica, epoch } => {
                let r = replica as usize;
                if self.replicas[r].epoch == epoch && self.replicas[r].state != State::Released {
                    self.interrupt(r);
                }
            }
            Event::IdleTimeout {
                replica,
                epoch,
                idle,
            } => {
                let r = replica as usize;
                let slot = &self.replicas[r];
                if slot.epoch == epoch
                    && slot.idle == idle
                    && slot.state == State::Ready
                    && slot.engine.is_empty()
                    && !slot.engine.is_busy()
                    && self.pools[slot.pool].live > self.pools[slot.pool].min_replicas
                {
                    self.release(r);
                } else if slot.epoch == epoch && slot.idle == idle {
                    self.replicas[r].idle_armed = false;
                }
            }
            Event::QueueTimeout => self.on_queue_timeout(),
            Event::AutoscaleTick => self.on_autoscale_tick(),
            Event::Horizon => {}
            Event::Sample => self.on_sample(),
        }
    }

    // ----- arrivals and routing -------------------------------------------

    fn next_arrival(&mut self) {
        match self.traffic.next_request() {
            Some(r) => {
                self.calendar
                    .schedule(r.arrival_s, CLASS_ARRIVAL, Event::Arrival);
                self.pending = Some(r);
            }
            None => {
                self.pending = None;
                self.arrivals_done = true;
            }
        }
    }

    fn on_arrival(&mut self) {
        let req = self.pending.take().expect("an arrival is pending");
        self.next_arrival();
        self.builder
            .on_arrival(self.now, req.prompt_tokens, req.output_tokens);
        self.sample_arrivals += 1;
        let slot = self.table.insert(&req);
        if self.pure_api {
            self.depart(slot, RequestEnd::Overflowed);
            return;
        }
        if !self
            .pool_cfgs
            .iter()
            .any(|c| c.fits(req.prompt_tokens, req.output_tokens))
        {
            // It could never be admitted: rejected on arrival (SPEC §2).
            self.depart(slot, RequestEnd::Dropped);
            return;
        }
        if let Some(q) = self.max_queue_s {
            self.deadlines.push_back((self.now + q, slot, req.id));
            self.arm_timeout();
        }
        self.route(slot);
        self.scale_serverless_on_demand();
    }

    /// Sends a request to a ready replica, or to the backlog if none is ready.
    fn route(&mut self, slot: Slot) {
        self.table[slot].replica = IN_BACKLOG;
        if self.shared_queue {
            self.backlog.push_back(slot);
            self.dispatch_shared();
            return;
        }
        self.candidates.clear();
        let (p, o) = (
            self.table[slot].prompt_tokens,
            self.table[slot].output_tokens,
        );
        for (i, r) in self.replicas.iter().enumerate() {
            if r.state == State::Ready && (self.uniform_engines || r.engine.config().fits(p, o)) {
                self.candidates.push((i, r.engine.load()));
            }
        }
        match self.router.pick(&self.candidates) {
            Some(r) => self.assign(r, slot),
            None => self.backlog.push_back(slot),
        }
    }

    /// Shared queue: replicas with room take requests from the head, FIFO.
    fn dispatch_shared(&mut self) {
        while let Some(&head) = self.backlog.front() {
            let (p, o) = (
                self.table[head].prompt_tokens + self.table[head].generated,
                self.table[head].output_tokens,
            );
            self.candidates.clear();
            for (i, r) in self.replicas.iter().enumerate() {
                if r.state == State::Ready && r.engine.has_room_for(&self.table, p, o) {
                    self.candidates.push((i, r.engine.load()));
                }
            }
            let Some(r) = self.router.pick(&self.candidates) else {
                break;
            };
            self.backlog.pop_front();
            self.assign(r, head);
        }
    }

    fn assign(&mut self, r: usize, slot: Slot) {
        self.table[slot].replica = r as u32;
        let rep = &mut self.replicas[r];
        rep.engine.enqueue(slot);
        if rep.idle_armed {
            rep.idle = rep.idle.wrapping_add(1);
            rep.idle_armed = false;
        }
        self.kick(r);
    }

    /// Makes an idle replica start an iteration at this instant, after any
    /// other arrivals at the same instant have been routed.
    fn kick(&mut self, r: usize) {
        let rep = &mut self.replicas[r];
        if rep.start_pending
            || rep.engine.is_busy()
            || !matches!(rep.state, State::Ready | State::Draining)
        {
            return;
        }
        rep.start_pending = true;
        let epoch = rep.epoch;
        self.calendar.schedule(
            self.now,
            CLASS_START,
            Event::IterationStart {
                replica: r as u32,
                epoch,
            },
        );
    }

    // ----- iterations -----------------------------------------------------

    /// Runs iterations of replica `r` from `now`: inline while nothing else
    /// can happen first, else through the calendar.
    fn run_iterations(&mut self, r: usize) {
        loop {
            if self.shared_queue {
                self.dispatch_shared();
            }
            let rep = &mut self.replicas[r];
            let Some(end) =
                rep.engine
                    .start_iteration(self.now, &mut self.table, &self.steps[rep.pool])
            else {
                self.on_idle(r);
                return;
            };
            let rep = &self.replicas[r];
            self.observer.on_iteration(&IterationInfo {
                replica: r,
                start_s: self.now,
                end_s: end,
                batch: rep.engine.running(),
                kv_used_tokens: rep.engine.kv_used(),
                kv_capacity_tokens: rep.engine.kv_capacity(),
            });
            let inline =
                self.options.fast_forward && self.next_event_time().is_none_or(|t| end < t);
            if !inline {
                let seq = self.calendar.take_seq();
                self.ends.set(r, end, seq);
                return;
            }
            self.now = end;
            self.finish_iteration(r);
            if self.replicas[r].state == State::Released {
                return;
            }
            // Departures may have scheduled work at this instant; let it go first.
            if self.next_event_time() == Some(self.now) {
                self.kick(r);
                return;
            }
        }
    }

    /// Time of the next event of any kind.
    fn next_event_time(&self) -> Option<Seconds> {
        match (self.calendar.next_time(), self.ends.earliest()) {
            (Some(a), Some((_, b, _))) => Some(a.min(b)),
            (a, b) => a.or(b.map(|x| x.1)),
        }
    }

    /// After an iteration ended through the calendar.
    fn continue_iterations(&mut self, r: usize) {
        if self.replicas[r].state == State::Released {
            return;
        }
        if self.next_event_time() == Some(self.now) {
            self.kick(r);
        } else {
            self.run_iterations(r);
        }
    }

    fn finish_iteration(&mut self, r: usize) {
        self.done.clear();
        let mut done = std::mem::take(&mut self.done);
        self.replicas[r]
            .engine
            .finish_iteration(self.now, &mut self.table, &mut done);
        for &slot in &done {
            self.depart(slot, RequestEnd::Completed);
        }
        self.done = done;
        let rep = &self.replicas[r];
        if rep.state == State::Draining && rep.engine.is_empty() {
            self.release(r);
        }
    }

    /// Replica `r` has nothing to run.
    fn on_idle(&mut self, r: usize) {
        let rep = &mut self.replicas[r];
        match rep.state {
            State::Draining => self.release(r),
            State::Ready => {
                if let PoolRule::Serverless { idle_timeout_s, .. } = self.pools[rep.pool].rule
                    && !rep.idle_armed
                {
                    rep.idle_armed = true;
                    let ev = Event::IdleTimeout {
                        replica: r as u32,
                        epoch: rep.epoch,
                        idle: rep.idle,
                    };
                    self.calendar
                        .schedule(self.now + idle_timeout_s, CLASS_FLEET, ev);
                }
            }
            State::Starting | State::Released => {}
        }
    }

    // ----- departures -----------------------------------------------------

    fn depart(&mut self, slot: Slot, end: RequestEnd) {
        let r = &self.table[slot];
        let end = match end {
            RequestEnd::Overflowed if self.overflow == Overflow::Drop && !self.pure_api => {
                RequestEnd::Dropped
            }
            e => e,
        };
        let record = RequestRecord {
            id: r.id,
            replica: (r.replica != IN_BACKLOG).then_some(r.replica),
            arrival_s: r.arrival_s,
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            admit_s: if end == RequestEnd::Completed {
                r.admitted_s
            } else {
                f64::NAN
            },
            first_token_s: if end == RequestEnd::Completed {
                r.first_token_s
            } else {
                f64::NAN
            },
            done_s: self.now,
            end,
            restarts: r.restarts,
        };
        let api = (end == RequestEnd::Overflowed)
            .then(|| (self.api_latency.sample(&mut self.api_rng), self.api_tpot_s));
        self.observer.on_request(&record);
        self.builder.on_departure(&record, api);
        self.table.release(slot);
        self.account(self.now);
        self.ready_seconds_at_last_departure = self.pools.iter().map(|p| p.ready_seconds).sum();
    }

    fn arm_timeout(&mut self) {
        if !self.timeout_armed
            && let Some(&(deadline, _, _)) = self.deadlines.front()
        {
            self.timeout_armed = true;
            self.calendar
                .schedule(deadline, CLASS_FLEET, Event::QueueTimeout);
        }
    }

    /// Requests that waited `slo.max_queue` without admission leave for the
    /// API (or are dropped).
    fn on_queue_timeout(&mut self) {
        self.timeout_armed = false;
        while let Some(&(deadline, slot, id)) = self.deadlines.front() {
            if deadline > self.now {
                break;
            }
            self.deadlines.pop_front();
            let r = &self.table[slot];
            if r.id != id || r.phase() != Phase::Queued || r.was_admitted() {
                continue; // served, admitted, or the slot was reused
            }
            let where_ = r.replica;
            if where_ == IN_BACKLOG {
                if let Some(pos) = self.backlog.iter().position(|&s| s == slot) {
                    self.backlog.remove(pos);
                }
            } else {
                let removed = self.replicas[where_ as usize].engine.remove_waiting(slot);
                debug_assert!(removed, "timed-out request not found in its queue");
            }
            self.depart(slot, RequestEnd::Overflowed);
        }
        self.arm_timeout();
    }

    // ----- fleet ------------------------------------------------------------

    /// Integrates live and serving replica counts up to `t`.
    fn account(&mut self, t: Seconds) {
        let dt = t - self.last_account_s;
        if dt > 0.0 {
            for p in &mut self.pools {
                p.replica_seconds += p.live as f64 * dt;
                p.ready_seconds += p.serving as f64 * dt;
                self.sample_ready_s += p.serving as f64 * dt;
            }
            self.last_account_s = t;
        }
    }

    fn set_state(&mut self, r: usize, state: State) {
        self.account(self.now);
        let rep = &mut self.replicas[r];
        let pool = &mut self.pools[rep.pool];
        let live = |s: State| matches!(s, State::Starting | State::Ready);
        let serving = |s: State| matches!(s, State::Ready | State::Draining);
        match (live(rep.state), live(state)) {
            (true, false) => pool.live -= 1,
            (false, true) => {
                pool.live += 1;
                pool.peak_live = pool.peak_live.max(pool.live);
            }
            _ => {}
        }
        match (serving(rep.state), serving(state)) {
            (true, false) => pool.serving -= 1,
            (false, true) => pool.serving += 1,
            _ => {}
        }
        rep.state = state;
        let total: u32 = self.pools.iter().map(|p| p.live).sum();
        self.peak_live = self.peak_live.max(total);
    }

    /// Requests a new replica of pool `p`; `initial` ones are ready at t = 0.
    fn add_replica(&mut self, p: usize, initial: bool) -> usize {
        let engine = Replica::new(self.pool_cfgs[p]);
        let r = match self.free_replicas.pop() {
            Some(r) => {
                let old = &mut self.replicas[r as usize];
                old.pool = p;
                old.engine = engine;
                old.state = State::Released;
                old.requested_s = self.now;
                old.ready_s = None;
                old.start_pending = false;
                old.idle_armed = false;
                r as usize
            }
            None => {
                self.replicas.push(ReplicaSlot {
                    pool: p,
                    engine,
                    state: State::Released,
                    epoch: 0,
                    requested_s: self.now,
                    ready_s: None,
                    start_pending: false,
                    idle: 0,
                    idle_armed: false,
                });
                self.replicas.len() - 1
            }
        };
        if initial {
            self.set_state(r, State::Ready);
            self.replicas[r].ready_s = Some(self.now);
            self.after_ready(r);
        } else {
            self.set_state(r, State::Starting);
            let (provisioning, load) = match &self.pools[p].rule {
                PoolRule::Serverless { cold_start, .. } => {
                    (0.0, cold_start.sample(&mut self.cold_start_rng))
                }
                PoolRule::OnDemand {
                    provisioning, load, ..
                }
                | PoolRule::Spot {
                    provisioning, load, ..
                } => (
                    provisioning.sample(&mut self.provisioning_rng),
                    load.sample(&mut self.cold_start_rng),
                ),
                PoolRule::Reserved { .. } | PoolRule::Owned { .. } => (0.0, 0.0),
            };
            self.pools[p].cold_starts += 1;
            let epoch = self.replicas[r].epoch;
            self.calendar.schedule(
                self.now + provisioning + load,
                CLASS_FLEET,
                Event::ReplicaUp {
                    replica: r as u32,
                    epoch,
                },
            );
        }
        r
    }

    fn on_ready(&mut self, r: usize) {
        self.set_state(r, State::Ready);
        self.replicas[r].ready_s = Some(self.now);
        self.after_ready(r);
        // Requests that found no ready replica go now.
        if self.shared_queue {
            self.dispatch_shared();
        } else {
            let waiting: Vec<Slot> = self.backlog.drain(..).collect();
            for slot in waiting {
                self.route(slot);
            }
        }
        if self.replicas[r].engine.is_empty() {
            self.on_idle(r);
        }
    }

    /// Starts the interruption clock of a spot replica.
    fn after_ready(&mut self, r: usize) {
        let rep = &self.replicas[r];
        if let PoolRule::Spot {
            interruptions_per_s,
            notice_s,
            ..
        } = self.pools[rep.pool].rule
            && interruptions_per_s > 0.0
        {
            let u: f64 =
                rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.interruption_rng);
            let at = self.now + u / interruptions_per_s;
            let epoch = rep.epoch;
            if notice_s > 0.0 {
                self.calendar.schedule(
                    (at - notice_s).max(self.now),
                    CLASS_FLEET,
                    Event::Notice {
                        replica: r as u32,
                        epoch,
                    },
                );
            }
            self.calendar.schedule(
                at,
                CLASS_FLEET,
                Event::Interrupt {
                    replica: r as u32,
                    epoch,
                },
            );
        }
    }

    /// Ends a replica's life now and bills it.
    fn release(&mut self, r: usize) {
        debug_assert!(self.replicas[r].engine.is_empty() && !self.replicas[r].engine.is_busy());
        self.set_state(r, State::Released);
        self.ends.clear(r);
        let rep = &mut self.replicas[r];
        rep.epoch = rep.epoch.wrapping_add(1);
        let pool = &mut self.pools[rep.pool];
        pool.bill_lifetime(rep.requested_s, rep.ready_s, self.now);
        let s = rep.engine.stats;
        self.busy_s += s.busy_s;
        self.batch_seconds += s.batch_seconds;
        self.preemptions += s.preemptions;
        self.replica_output_tokens += s.output_tokens;
        rep.engine.stats = Default::default();
        self.free_replicas.push(r as u32);
    }

    /// A spot replica is reclaimed: its requests go back to the router and
    /// will be recomputed; nothing is lost.
    fn interrupt(&mut self, r: usize) {
        let p = self.replicas[r].pool;
        self.pools[p].interruptions += 1;
        let evicted = self.replicas[r].engine.evict_all(&mut self.table);
        self.release(r);
        self.refill_floors();
        for slot in evicted {
            self.route(slot);
        }
        self.scale_serverless_on_demand();
    }

    /// Serverless pools start a replica per request when every live replica
    /// is full (in-flight requests exceed target × live replicas).
    fn scale_serverless_on_demand(&mut self) {
        let Some(a) = &self.autoscaler else { return };
        let live: u32 = self.pools.iter().map(|p| p.live).sum();
        if (self.builder.in_system() as f64) <= a.target * live as f64 {
            return;
        }
        if let Some(p) = (0..self.pools.len()).find(|&p| {
            self.pools[p].is_serverless() && self.pools[p].live < self.pools[p].max_replicas
        }) {
            self.add_replica(p, false);
        }
    }

    fn on_autoscale_tick(&mut self) {
        let Some(a) = &self.autoscaler else { return };
        let (interval, target, queue_target, delay) = (
            a.interval_s,
            a.target,
            a.target_queue_wait_s,
            a.scale_down_delay_s,
        );
        let live: u32 = self.pools.iter().map(|p| p.live).sum();
        let in_flight = self.builder.in_system() as f64;
        let mut desired = (in_flight / target).ceil() as u32;
        if let Some(q) = queue_target
            && self.oldest_wait_s() > q
        {
            desired = desired.max(live + 1);
        }
        self.refill_floors();
        let live: u32 = self.pools.iter().map(|p| p.live).sum();
        if desired > live {
            let mut need = desired - live;
            for p in 0..self.pools.len() {
                while need > 0
                    && !self.pools[p].is_fixed()
                    && self.pools[p].live < self.pools[p].max_replicas
                {
                    self.add_replica(p, false);
                    need -= 1;
                }
            }
            self.autoscaler.as_mut().unwrap().below_target_since = None;
        } else if desired < live {
            let since = *self
                .autoscaler
                .as_mut()
                .unwrap()
                .below_target_since
                .get_or_insert(self.now);
            if self.now - since >= delay {
                self.scale_down(live - desired);
                self.autoscaler.as_mut().unwrap().below_target_since = None;
            }
        } else {
            self.autoscaler.as_mut().unwrap().below_target_since = None;
        }
        self.calendar
            .schedule(self.now + interval, CLASS_FLEET, Event::AutoscaleTick);
    }

    /// Requests replacements for autoscaled pools below their floor (after
    /// an interruption or its notice), so a pool never stays under its minimum.
    fn refill_floors(&mut self) {
        for p in 0..self.pools.len() {
            while !self.pools[p].is_fixed() && self.pools[p].live < self.pools[p].min_replicas {
                self.add_replica(p, false);
            }
        }
    }

    /// Longest wait among requests never admitted.
    fn oldest_wait_s(&self) -> Seconds {
        let mut oldest = f64::INFINITY;
        if let Some(&s) = self.backlog.front() {
            oldest = oldest.min(self.table[s].arrival_s);
        }
        for r in &self.replicas {
            if let Some(s) = r
                .engine
                .waiting_slots()
                .find(|&s| !self.table[s].was_admitted())
            {
                oldest = oldest.min(self.table[s].arrival_s);
            }
        }
        if oldest.is_finite() {
            self.now - oldest
        } else {
            0.0
        }
    }

    /// Removes up to `n` replicas from autoscaled (non-serverless) pools, last
    /// pool first, never below a pool's floor: starting ones are cancelled
    /// first, then idle ones released, then busy ones drained.
    fn scale_down(&mut self, mut n: u32) {
        for p in (0..self.pools.len()).rev() {
            if self.pools[p].is_fixed() || self.pools[p].is_serverless() {
                continue;
            }
            for pass in 0..3 {
                for r in (0..self.replicas.len()).rev() {
                    if n == 0 || self.pools[p].live <= self.pools[p].min_replicas {
                        break;
                    }
                    let rep = &self.replicas[r];
                    if rep.pool != p {
                        continue;
                    }
                    let idle = rep.engine.is_empty() && !rep.engine.is_busy();
                    match (pass, rep.state) {
                        (0, State::Starting) => self.release(r),
                        (1, State::Ready) if idle => self.release(r),
                        (2, State::Ready) => self.set_state(r, State::Draining),
                        _ => continue,
                    }
                    n -= 1;
                }
            }
        }
    }

    fn on_sample(&mut self) {
        self.account(self.now);
        let busy_now: f64 = self.busy_s
            + self
                .replicas
                .iter()
                .filter(|r| r.state != State::Released)
                .map(|r| r.engine.stats.busy_s)
                .sum::<f64>();
        let busy = busy_now - self.sample_busy_s;
        let sample = TimeSample {
            t_s: self.now,
            arrivals: self.sample_arrivals,
            queue_depth: self.backlog.len() as u64
                + self
                    .replicas
                    .iter()
                    .filter(|r| r.state != State::Released)
                    .map(|r| r.engine.waiting() as u64)
                    .sum::<u64>(),
            in_system: self.builder.in_system(),
            live_by_pool: self.pools.iter().map(|p| p.live).collect(),
            busy_fraction: if self.sample_ready_s > 0.0 {
                (busy / self.sample_ready_s).min(1.0)
            } else {
                0.0
            },
        };
        self.observer.on_sample(&sample);
        self.sample_arrivals = 0;
        self.sample_busy_s = busy_now;
        self.sample_ready_s = 0.0;
        if let Some(dt) = self.options.sample_interval_s {
            self.calendar
                .schedule(self.now + dt, CLASS_FLEET, Event::Sample);
        }
    }

    // ----- the end ----------------------------------------------------------

    fn finish(mut self) -> (Outcome, Latencies) {
        let t_end = self.now.max(self.horizon_s);
        self.now = t_end;
        self.account(t_end);
        let makespan = self.builder.last_departure_s;
        for r in 0..self.replicas.len() {
            let rep = &self.replicas[r];
            if rep.state == State::Released {
                continue;
            }
            let p = rep.pool;
            if self.pools[p].is_fixed() {
                let s = rep.engine.stats;
                self.fixed_busy[p].push(s.busy_s);
                self.busy_s += s.busy_s;
                self.batch_seconds += s.batch_seconds;
                self.preemptions += s.preemptions;
                self.replica_output_tokens += s.output_tokens;
            } else {
                debug_assert!(self.replicas[r].engine.is_empty());
                self.release(r);
            }
        }
        for (p, busy) in self.fixed_busy.iter().enumerate() {
            if self.pools[p].is_fixed() {
                self.pools[p].bill_fixed(self.horizon_s, busy);
            }
        }
        let b = &self.builder;
        let pool_cost: f64 = self.pools.iter().map(|p| p.cost_usd).sum();
        let api_cost = (b.api_input_tokens as f64 * self.api_input_per_m
            + b.api_output_tokens as f64 * self.api_output_per_m)
            / 1e6;
        let baseline = (b.arrived_input_tokens as f64 * self.api_input_per_m
            + b.arrived_output_tokens as f64 * self.api_output_per_m)
            / 1e6;
        let total = pool_cost + api_cost;
        let nan_div = |a: f64, d: f64| if d > 0.0 { a / d } else { f64::NAN };
        let mut v = vec![f64::NAN; crate::metrics::outcome::METRIC_NAMES.len()];
        let mut set = |m: M, x: f64| v[m as usize] = x;
        set(M::TotalCost, total);
        set(M::CostPerMonth, total * MONTH_S / self.horizon_s);
        set(
            M::CostPerMOutput,
            nan_div(total * 1e6, b.output_tokens as f64),
        );
        set(M::ApiBaselineCost, baseline);
        set(M::Arrived, b.arrived as f64);
        set(M::Completed, b.completed as f64);
        set(M::Overflowed, b.overflowed as f64);
        set(M::Dropped, b.dropped as f64);
        set(M::InputTokens, b.input_tokens as f64);
        set(M::OutputTokens, b.output_tokens as f64);
        set(M::QueueWaitP50, b.queue_wait.quantile(0.5));
        set(M::QueueWaitP99, b.queue_wait.quantile(0.99));
        set(M::TtftP50, b.ttft.quantile(0.5));
        set(M::TtftP99, b.ttft.quantile(0.99));
        set(M::TpotP50, b.tpot.quantile(0.5));
        set(M::TpotP99, b.tpot.quantile(0.99));
        set(M::E2eP50, b.e2e.quantile(0.5));
        set(M::E2eP99, b.e2e.quantile(0.99));
        set(
            M::SloAttainment,
            nan_div(b.slo_met as f64, b.arrived as f64),
        );
        set(
            M::GpuHours,
            self.pools.iter().map(|p| p.billed_gpu_seconds).sum::<f64>() / HOUR_S,
        );
        set(
            M::BusyFraction,
            nan_div(self.busy_s, self.ready_seconds_at_last_departure),
        );
        set(M::MeanBatch, nan_div(self.batch_seconds, self.busy_s));
        set(
            M::Throughput,
            nan_div(self.replica_output_tokens as f64, makespan),
        );
        set(
            M::ColdStarts,
            self.pools.iter().map(|p| p.cold_starts).sum::<u64>() as f64,
        );
        set(M::Preemptions, self.preemptions as f64);
        set(
            M::Interruptions,
            self.pools.iter().map(|p| p.interruptions).sum::<u64>() as f64,
        );
        set(M::PeakReplicas, self.peak_live as f64);
        set(M::ApiOverflowCost, api_cost);
        set(M::QueueWaitMean, b.queue_wait.mean());
        set(M::TtftMean, b.ttft.mean());
        set(M::TpotMean, b.tpot.mean());
        set(M::E2eMean, b.e2e.mean());
        set(
            M::MeanReplicas,
            nan_div(self.pools.iter().map(|p| p.replica_seconds).sum(), t_end),
        );
        set(M::Makespan, makespan);
        set(M::MeanInSystem, b.mean_in_system(makespan));
        set(M::MeanSojourn, b.mean_sojourn_s());
        set(
            M::ApiBaselinePerMOutput,
            nan_div(baseline * 1e6, b.arrived_output_tokens as f64),
        );
        let pools = self
            .pools
            .iter()
            .map(|p| PoolOutcome {
                name: p.name.clone(),
                kind: p.kind,
                cost_usd: p.cost_usd,
                gpu_hours: p.billed_gpu_seconds / HOUR_S,
                mean_replicas: p.replica_seconds / t_end,
                ready_hours: p.ready_seconds / HOUR_S,
                peak_replicas: p.peak_live as f64,
                cold_starts: p.cold_starts as f64,
                interruptions: p.interruptions as f64,
            })
            .collect();
        let b = self.builder;
        let latencies = Latencies {
            queue_wait: b.queue_wait,
            ttft: b.ttft,
            tpot: b.tpot,
            e2e: b.e2e,
        };
        // Sums of no terms are −0.0 in Rust; report them as 0.
        for x in v.iter_mut() {
            *x += 0.0;
        }
        (Outcome { values: v, pools }, latencies)
    }
}
