//! The fleet: replica lifecycle (starting, ready, draining, released),
//! spot interruptions, serverless scaling, the autoscaler, and sampling.

use super::*;

impl<O: Observer> Sim<'_, O> {
    // ----- fleet ------------------------------------------------------------

    /// Integrates live and serving replica counts up to `t`.
    pub(super) fn account(&mut self, t: Seconds) {
        let dt = t - self.acct.last_s;
        if dt > 0.0 {
            for p in &mut self.pools {
                p.replica_seconds += p.live as f64 * dt;
                p.ready_seconds += p.serving as f64 * dt;
                self.window.ready_s += p.serving as f64 * dt;
            }
            self.acct.last_s = t;
        }
    }

    pub(super) fn set_state(&mut self, r: usize, state: State) {
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
        self.acct.peak_live = self.acct.peak_live.max(total);
    }

    /// Requests a new replica of pool `p`; `initial` ones are ready at t = 0.
    pub(super) fn add_replica(&mut self, p: usize, initial: bool) -> usize {
        let engine = ReplicaEngine::new(
            self.engines.configs[p],
            &self.engines.hashes,
            self.options.stepwise_vllm,
        );
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
            let (provisioning, load) =
                self.pools[p].startup_parts(&mut self.rngs.provisioning, &mut self.rngs.cold_start);
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

    pub(super) fn on_ready(&mut self, r: usize) {
        self.set_state(r, State::Ready);
        self.replicas[r].ready_s = Some(self.now);
        self.after_ready(r);
        // Requests that found no ready replica go now.
        if self.waiting.shared {
            self.dispatch_shared();
        } else {
            let waiting: Vec<Slot> = self.waiting.backlog.drain(..).collect();
            for slot in waiting {
                self.route(slot);
            }
        }
        if self.replicas[r].engine.is_empty() {
            self.on_idle(r);
        }
    }

    /// Starts the interruption clock of a spot replica.
    pub(super) fn after_ready(&mut self, r: usize) {
        let rep = &self.replicas[r];
        if let PoolRule::Spot {
            interruptions_per_s,
            notice_s,
            ..
        } = self.pools[rep.pool].rule
            && interruptions_per_s > 0.0
        {
            let u: f64 =
                rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.rngs.interruption);
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
    pub(super) fn release(&mut self, r: usize) {
        debug_assert!(self.replicas[r].engine.is_empty() && !self.replicas[r].engine.is_busy());
        self.set_state(r, State::Released);
        self.ends.clear(r);
        let rep = &mut self.replicas[r];
        rep.epoch = rep.epoch.wrapping_add(1);
        let pool = &mut self.pools[rep.pool];
        pool.bill_lifetime(rep.requested_s, rep.ready_s, self.now);
        let s = *rep.engine.stats();
        self.acct.busy_s += s.busy_s;
        self.acct.batch_seconds += s.batch_seconds;
        self.acct.preemptions += s.preemptions;
        self.acct.replica_output_tokens += s.output_tokens;
        self.acct.prefix_hit_tokens += s.prefix_hit_tokens;
        self.acct.prefix_query_tokens += s.prefix_query_tokens;
        self.free_replicas.push(r as u32);
    }

    /// A spot replica is reclaimed: its requests go back to the router and
    /// will be recomputed; nothing is lost.
    pub(super) fn interrupt(&mut self, r: usize) {
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
    pub(super) fn scale_serverless_on_demand(&mut self) {
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

    pub(super) fn on_autoscale_tick(&mut self) {
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
    pub(super) fn refill_floors(&mut self) {
        for p in 0..self.pools.len() {
            while !self.pools[p].is_fixed() && self.pools[p].live < self.pools[p].min_replicas {
                self.add_replica(p, false);
            }
        }
    }

    /// Longest wait among requests never admitted.
    pub(super) fn oldest_wait_s(&self) -> Seconds {
        let mut oldest = f64::INFINITY;
        if let Some(&s) = self.waiting.backlog.front() {
            oldest = oldest.min(self.table[s].arrival_s);
        }
        for r in &self.replicas {
            if let Some(s) = r
                .engine
                .waiting_queue()
                .iter()
                .copied()
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
    pub(super) fn scale_down(&mut self, mut n: u32) {
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

    pub(super) fn on_sample(&mut self) {
        self.account(self.now);
        let busy_now: f64 = self.acct.busy_s
            + self
                .replicas
                .iter()
                .filter(|r| r.state != State::Released)
                .map(|r| r.engine.stats().busy_s)
                .sum::<f64>();
        let busy = busy_now - self.window.busy_s;
        let sample = TimeSample {
            t_s: self.now,
            arrivals: self.window.arrivals,
            queue_depth: self.waiting.backlog.len() as u64
                + self
                    .replicas
                    .iter()
                    .filter(|r| r.state != State::Released)
                    .map(|r| r.engine.waiting() as u64)
                    .sum::<u64>(),
            running: self
                .replicas
                .iter()
                .filter(|r| r.state != State::Released)
                .map(|r| r.engine.running() as u64)
                .sum(),
            in_system: self.builder.in_system(),
            live_by_pool: self.pools.iter().map(|p| p.live).collect(),
            busy_fraction: if self.window.ready_s > 0.0 {
                (busy / self.window.ready_s).min(1.0)
            } else {
                0.0
            },
        };
        self.observer.on_sample(&sample);
        self.window.arrivals = 0;
        self.window.busy_s = busy_now;
        self.window.ready_s = 0.0;
        if let Some(dt) = self.options.sample_interval_s {
            self.calendar
                .schedule(self.now + dt, CLASS_FLEET, Event::Sample);
        }
    }
}
