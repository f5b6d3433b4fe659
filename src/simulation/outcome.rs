//! The end of a history: final billing and the metrics of the `Outcome`.

use super::*;

impl<O: Observer> Sim<'_, O> {
    // ----- the end ----------------------------------------------------------

    pub(super) fn finish(mut self) -> (Outcome, Latencies) {
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
                let s = *rep.engine.stats();
                self.acct.fixed_busy[p].push(s.busy_s);
                self.acct.busy_s += s.busy_s;
                self.acct.batch_seconds += s.batch_seconds;
                self.acct.preemptions += s.preemptions;
                self.acct.replica_output_tokens += s.output_tokens;
                self.acct.prefix_hit_tokens += s.prefix_hit_tokens;
                self.acct.prefix_query_tokens += s.prefix_query_tokens;
            } else {
                debug_assert!(self.replicas[r].engine.is_empty());
                self.release(r);
            }
        }
        for (p, busy) in self.acct.fixed_busy.iter().enumerate() {
            if self.pools[p].is_fixed() {
                self.pools[p].bill_fixed(self.horizon_s, busy);
            }
        }
        let b = &self.builder;
        let pool_cost: f64 = self.pools.iter().map(|p| p.cost_usd).sum();
        let api_cost = (b.api_input_tokens as f64 * self.api.input_per_m
            + b.api_output_tokens as f64 * self.api.output_per_m)
            / 1e6;
        let baseline = (b.arrived_input_tokens as f64 * self.api.input_per_m
            + b.arrived_output_tokens as f64 * self.api.output_per_m)
            / 1e6;
        let total = pool_cost + api_cost;
        let nan_div = |a: f64, d: f64| if d > 0.0 { a / d } else { f64::NAN };
        let mut v = vec![f64::NAN; Metric::COUNT];
        let mut set = |m: Metric, x: f64| v[m.index()] = x;
        set(Metric::TotalCost, total);
        set(Metric::CostPerMonth, total * MONTH_S / self.horizon_s);
        set(
            Metric::CostPerMOutput,
            nan_div(total * 1e6, b.output_tokens as f64),
        );
        set(Metric::ApiBaselineCost, baseline);
        set(Metric::Arrived, b.arrived as f64);
        set(Metric::Completed, b.completed as f64);
        set(Metric::Overflowed, b.overflowed as f64);
        set(Metric::Dropped, b.dropped as f64);
        set(Metric::InputTokens, b.input_tokens as f64);
        set(Metric::OutputTokens, b.output_tokens as f64);
        set(Metric::QueueWaitP50, b.queue_wait.quantile(0.5));
        set(Metric::QueueWaitP99, b.queue_wait.quantile(0.99));
        set(Metric::TtftP50, b.ttft.quantile(0.5));
        set(Metric::TtftP99, b.ttft.quantile(0.99));
        set(Metric::TpotP50, b.tpot.quantile(0.5));
        set(Metric::TpotP99, b.tpot.quantile(0.99));
        set(Metric::E2eP50, b.e2e.quantile(0.5));
        set(Metric::E2eP99, b.e2e.quantile(0.99));
        set(
            Metric::SloAttainment,
            nan_div(b.slo_met as f64, b.arrived as f64),
        );
        set(
            Metric::GpuHours,
            self.pools.iter().map(|p| p.billed_gpu_seconds).sum::<f64>() / HOUR_S,
        );
        set(
            Metric::BusyFraction,
            nan_div(self.acct.busy_s, self.acct.ready_seconds_at_last_departure),
        );
        set(
            Metric::MeanBatch,
            nan_div(self.acct.batch_seconds, self.acct.busy_s),
        );
        set(
            Metric::Throughput,
            nan_div(self.acct.replica_output_tokens as f64, makespan),
        );
        set(
            Metric::ColdStarts,
            self.pools.iter().map(|p| p.cold_starts).sum::<u64>() as f64,
        );
        set(Metric::Preemptions, self.acct.preemptions as f64);
        set(
            Metric::Interruptions,
            self.pools.iter().map(|p| p.interruptions).sum::<u64>() as f64,
        );
        set(Metric::PeakReplicas, self.acct.peak_live as f64);
        set(Metric::ApiOverflowCost, api_cost);
        set(Metric::QueueWaitMean, b.queue_wait.mean());
        set(Metric::TtftMean, b.ttft.mean());
        set(Metric::TpotMean, b.tpot.mean());
        set(Metric::E2eMean, b.e2e.mean());
        set(
            Metric::MeanReplicas,
            nan_div(self.pools.iter().map(|p| p.replica_seconds).sum(), t_end),
        );
        set(Metric::Makespan, makespan);
        set(Metric::MeanInSystem, b.mean_in_system(makespan));
        set(Metric::MeanSojourn, b.mean_sojourn_s());
        set(
            Metric::ApiBaselinePerMOutput,
            nan_div(baseline * 1e6, b.arrived_output_tokens as f64),
        );
        set(
            Metric::PrefixCacheHitRate,
            nan_div(
                self.acct.prefix_hit_tokens as f64,
                self.acct.prefix_query_tokens as f64,
            ),
        );
        let halves = b.in_system_halves();
        set(Metric::InSystemTrend, halves[1] - halves[0]);
        let over = crate::metrics::outcome::overloaded(halves, b.arrived, makespan, self.horizon_s);
        set(Metric::Overloaded, if over { 1.0 } else { 0.0 });
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
        (
            Outcome {
                values: v,
                pools,
                stopped_at_event_budget: false,
            },
            latencies,
        )
    }
}
