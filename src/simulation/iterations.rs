//! Running a replica's iterations: inline while nothing can intervene
//! (fast-forward), else through the replicas' timers.

use super::*;

impl<O: Observer> Sim<'_, O> {
    // ----- iterations -----------------------------------------------------

    /// Runs iterations of replica `r` from `now`: inline while nothing else
    /// can happen first, else through the calendar.
    pub(super) fn run_iterations(&mut self, r: usize) {
        loop {
            if self.waiting.shared {
                self.dispatch_shared();
            }
            let rep = &mut self.replicas[r];
            let Some(end) = rep.engine.start_iteration(
                self.now,
                &mut self.table,
                &self.engines.steps[rep.pool],
            ) else {
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
    pub(super) fn next_event_time(&self) -> Option<Seconds> {
        match (self.calendar.next_time(), self.ends.earliest()) {
            (Some(a), Some((_, b, _))) => Some(a.min(b)),
            (a, b) => a.or(b.map(|x| x.1)),
        }
    }

    /// After an iteration ended through the calendar.
    pub(super) fn continue_iterations(&mut self, r: usize) {
        if self.replicas[r].state == State::Released {
            return;
        }
        if self.next_event_time() == Some(self.now) {
            self.kick(r);
        } else {
            self.run_iterations(r);
        }
    }

    pub(super) fn finish_iteration(&mut self, r: usize) {
        self.scratch.done.clear();
        let mut done = std::mem::take(&mut self.scratch.done);
        self.replicas[r]
            .engine
            .finish_iteration(self.now, &mut self.table, &mut done);
        for &slot in &done {
            self.depart(slot, RequestEnd::Completed);
        }
        self.scratch.done = done;
        let rep = &self.replicas[r];
        if rep.state == State::Draining && rep.engine.is_empty() {
            self.release(r);
        }
    }

    /// Replica `r` has nothing to run.
    pub(super) fn on_idle(&mut self, r: usize) {
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
}
