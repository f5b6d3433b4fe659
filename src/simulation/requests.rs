//! Arrivals, routing, the backlog and shared queue, departures, and queue
//! timeouts to the API.

use super::*;

impl<O: Observer> Sim<'_, O> {
    // ----- arrivals and routing -------------------------------------------

    pub(super) fn next_arrival(&mut self) {
        match self.arrivals.source.next_request() {
            Some(r) => {
                self.calendar
                    .schedule(r.arrival_s, CLASS_ARRIVAL, Event::Arrival);
                self.arrivals.pending = Some(r);
            }
            None => {
                self.arrivals.pending = None;
                // A closed loop's clients send again when answered.
                self.arrivals.done =
                    !(self.arrivals.source.awaits_departures() && self.now < self.horizon_s);
            }
        }
    }

    pub(super) fn on_arrival(&mut self, mut req: Request) {
        // Ids follow arrival order (conversations' turns are made earlier).
        req.id = self.arrivals.next_id;
        self.arrivals.next_id += 1;
        self.builder
            .on_arrival(self.now, req.prompt_tokens, req.output_tokens);
        self.window.arrivals += 1;
        let slot = self.table.insert(&req);
        if self.api.pure {
            self.depart(slot, RequestEnd::Overflowed);
            return;
        }
        if !self
            .engines
            .configs
            .iter()
            .any(|c| c.fits(req.prompt_tokens, req.output_tokens))
        {
            // It could never be admitted: rejected on arrival (docs/model.md §2.1).
            self.depart(slot, RequestEnd::Dropped);
            return;
        }
        if let Some(q) = self.waiting.max_queue_s {
            self.waiting
                .deadlines
                .push_back((self.now + q, slot, req.id));
            self.arm_timeout();
        }
        self.route(slot);
        self.scale_serverless_on_demand();
    }

    /// Sends a request to a ready replica, or to the backlog if none is ready.
    pub(super) fn route(&mut self, slot: Slot) {
        self.table[slot].replica = IN_BACKLOG;
        if self.waiting.shared {
            self.waiting.backlog.push_back(slot);
            self.dispatch_shared();
            return;
        }
        self.scratch.candidates.clear();
        let (p, o) = (
            self.table[slot].prompt_tokens,
            self.table[slot].output_tokens,
        );
        for (i, r) in self.replicas.iter().enumerate() {
            if r.state == State::Ready
                && (self.engines.uniform || self.engines.configs[r.pool].fits(p, o))
            {
                self.scratch.candidates.push((i, r.engine.load()));
            }
        }
        match self.router.pick(&self.scratch.candidates) {
            Some(r) => self.assign(r, slot),
            None => self.waiting.backlog.push_back(slot),
        }
    }

    /// Shared queue: replicas with room take requests from the head, FIFO.
    pub(super) fn dispatch_shared(&mut self) {
        while let Some(&head) = self.waiting.backlog.front() {
            let (p, o) = (
                self.table[head].prompt_tokens + self.table[head].generated,
                self.table[head].output_tokens,
            );
            self.scratch.candidates.clear();
            for (i, r) in self.replicas.iter().enumerate() {
                if r.state == State::Ready && r.engine.has_room_for(&self.table, p, o) {
                    self.scratch.candidates.push((i, r.engine.load()));
                }
            }
            let Some(r) = self.router.pick(&self.scratch.candidates) else {
                break;
            };
            self.waiting.backlog.pop_front();
            self.assign(r, head);
        }
    }

    pub(super) fn assign(&mut self, r: usize, slot: Slot) {
        self.table[slot].replica = r as u32;
        self.table[slot].queued_s = self.now;
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
    pub(super) fn kick(&mut self, r: usize) {
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

    // ----- departures -----------------------------------------------------

    pub(super) fn depart(&mut self, slot: Slot, end: RequestEnd) {
        let r = &self.table[slot];
        let end = match end {
            RequestEnd::Overflowed if self.api.overflow == Overflow::Drop && !self.api.pure => {
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
            front_end_s: if end == RequestEnd::Completed {
                self.engines.front_end[self.replicas[r.replica as usize].pool]
                    .sample(&mut self.rngs.front_end)
            } else {
                0.0
            },
        };
        let api = (end == RequestEnd::Overflowed)
            .then(|| (self.api.latency.sample(&mut self.rngs.api), self.api.tpot_s));
        self.observer.on_request(&record);
        self.builder.on_departure(&record, api);
        if r.turns_left > 0 && end != RequestEnd::Dropped {
            self.send_next_turn(slot, record.front_end_s);
        }
        if self.arrivals.source.awaits_departures() {
            // The client sees the answer after the front end.
            self.arrivals
                .source
                .client_returns(self.now + record.front_end_s);
            if self.arrivals.pending.is_none() && !self.arrivals.done {
                self.next_arrival();
            }
        }
        self.table.release(slot);
        self.account(self.now);
        self.acct.ready_seconds_at_last_departure =
            self.pools.iter().map(|p| p.ready_seconds).sum();
    }

    /// The user of a conversation reads the answer to the turn in `slot`
    /// and, after the think time, sends the next turn (none at or after the
    /// horizon, like every other arrival).
    fn send_next_turn(&mut self, slot: Slot, front_end_s: Seconds) {
        let r = &self.table[slot];
        let prev = Request {
            id: r.id,
            arrival_s: r.arrival_s,
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            prefix: r.prefix,
            turns_left: r.turns_left,
        };
        let think = self.arrivals.source.think_s().unwrap_or(0.0);
        let at = self.now + front_end_s + think;
        if at >= self.horizon_s {
            return;
        }
        if let Some(request) = self.arrivals.source.follow_up(&prev, at) {
            let seq = self.arrivals.turns_sent;
            self.arrivals.turns_sent += 1;
            self.arrivals.turns.push(PendingTurn { at, seq, request });
            self.calendar.schedule(at, CLASS_ARRIVAL, Event::Turn);
        }
    }

    pub(super) fn arm_timeout(&mut self) {
        if !self.waiting.timeout_armed
            && let Some(&(deadline, _, _)) = self.waiting.deadlines.front()
        {
            self.waiting.timeout_armed = true;
            self.calendar
                .schedule(deadline, CLASS_FLEET, Event::QueueTimeout);
        }
    }

    /// Requests that waited `slo.max_queue` without admission leave for the
    /// API (or are dropped).
    pub(super) fn on_queue_timeout(&mut self) {
        self.waiting.timeout_armed = false;
        while let Some(&(deadline, slot, id)) = self.waiting.deadlines.front() {
            if deadline > self.now {
                break;
            }
            self.waiting.deadlines.pop_front();
            let r = &self.table[slot];
            if r.id != id || r.phase() != Phase::Queued || r.was_admitted() {
                continue; // served, admitted, or the slot was reused
            }
            let where_ = r.replica;
            if where_ == IN_BACKLOG {
                if let Some(pos) = self.waiting.backlog.iter().position(|&s| s == slot) {
                    self.waiting.backlog.remove(pos);
                }
            } else {
                let removed = self.replicas[where_ as usize].engine.remove_waiting(slot);
                debug_assert!(removed, "timed-out request not found in its queue");
            }
            self.depart(slot, RequestEnd::Overflowed);
        }
        self.arm_timeout();
    }
}
