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

mod fleet;
mod iterations;
mod outcome;
mod requests;
mod state;

use state::*;

use crate::engine::calendar::Calendar;
use crate::engine::rng::{SimRng, Stream, stream};
use crate::engine::timers::Timers;
use crate::fleet::pool::{PoolRule, PoolRuntime};
use crate::metrics::{
    LatencyHistogram, Metric, Outcome, OutcomeBuilder, PoolOutcome, RequestEnd, RequestRecord,
};
use crate::scenario::{
    Admission, Draws, EngineFigures, EventDuration, Overflow, RouterKind, Scenario,
};
use crate::serving::inflight::Phase;
use crate::serving::{
    HashPool, ReplicaConfig, ReplicaEngine, RequestTable, Router, Slot, StepModel, VllmLimits,
};
use crate::units::{HOUR_S, MONTH_S, Seconds};
use crate::workload::{Request, TrafficSource};

/// Knobs that change how, not what, is simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Finish iterations inline when nothing can intervene (same results).
    pub fast_forward: bool,
    /// Step the engine-faithful scheduler by walking every running request
    /// each step (its slow reference; same results).
    pub stepwise_vllm: bool,
    /// Report a [`TimeSample`] to the observer every this many seconds.
    pub sample_interval_s: Option<Seconds>,
    /// Stop a history after this many events (iteration ends and calendar
    /// events), marking its outcome: what could never finish is stopped,
    /// never left to run out of time or memory.
    pub max_events: u64,
    /// Stop a history (the same way) when more requests than this are in the
    /// system at once: each holds a few hundred bytes, so a backlog of
    /// millions is memory the machine may not have, and no plan worth
    /// costing queues that many.
    pub max_in_system: u64,
}

/// The default event budget of one history: about two minutes of one core.
pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000_000;
/// The default bound on requests in the system at once (~0.5 KB each, so
/// about 2 GB of a history's memory).
pub const DEFAULT_MAX_IN_SYSTEM: u64 = 4_000_000;

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fast_forward: true,
            stepwise_vllm: false,
            sample_interval_s: None,
            max_events: DEFAULT_MAX_EVENTS,
            max_in_system: DEFAULT_MAX_IN_SYSTEM,
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
    /// Requests in a replica's running batch, counted from the replicas
    /// (independently of `in_system`, which the request accounting keeps).
    pub running: u64,
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

#[derive(Debug, Clone, Copy)]
enum Event {
    IterationStart {
        replica: u32,
        epoch: u32,
    },
    Arrival,
    /// A conversation's next turn is sent.
    Turn,
    ReplicaUp {
        replica: u32,
        epoch: u32,
    },
    Notice {
        replica: u32,
        epoch: u32,
    },
    Interrupt {
        replica: u32,
        epoch: u32,
    },
    IdleTimeout {
        replica: u32,
        epoch: u32,
        idle: u32,
    },
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

impl<O: Observer> Sim<'_, O> {
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
        let mut events = 0u64;
        let mut stopped = false;
        loop {
            events += 1;
            if events > self.options.max_events
                || self.builder.in_system() > self.options.max_in_system
            {
                stopped = true;
                break;
            }
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
            if self.now >= self.horizon_s && self.arrivals.done && self.builder.in_system() == 0 {
                break;
            }
        }
        let (mut outcome, latencies) = self.finish();
        outcome.stopped_at_event_budget = stopped;
        (outcome, latencies)
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival => {
                let req = self.arrivals.pending.take().expect("an arrival is pending");
                self.next_arrival();
                self.on_arrival(req);
            }
            Event::Turn => {
                let turn = self.arrivals.turns.pop().expect("a turn is pending");
                self.on_arrival(turn.request);
            }
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
}
