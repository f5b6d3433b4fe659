//! Pools made concrete for one replication, and how each bills
//! (docs/model.md, "Pools, billing and the fleet").
//!
//! Billing rules are pure functions of a replica's lifetime (or, for fixed
//! pools, of the horizon and busy time), so they are tested in closed form.

use crate::scenario::{Billing, Draws, EventDuration, Pool, PoolKind};
use crate::units::{HOUR_S, Seconds};

#[derive(Debug, Clone, PartialEq)]
pub enum PoolRule {
    /// Committed rate for every second of the horizon.
    Reserved { price_per_gpu_s: f64 },
    /// Capex amortized over the horizon + power by busy fraction + ops.
    Owned {
        capex_per_gpu_s: f64,
        idle_watts: f64,
        busy_watts: f64,
        pue: f64,
        usd_per_kwh: f64,
        ops_per_gpu_s: f64,
    },
    OnDemand {
        price_per_gpu_s: f64,
        provisioning: EventDuration,
        load: EventDuration,
        min_billed_s: Seconds,
        billing: Billing,
    },
    Spot {
        price_per_gpu_s: f64,
        provisioning: EventDuration,
        load: EventDuration,
        min_billed_s: Seconds,
        billing: Billing,
        interruptions_per_s: f64,
        notice_s: Seconds,
    },
    Serverless {
        price_per_gpu_s: f64,
        cold_start: EventDuration,
        idle_timeout_s: Seconds,
        bill_cold_start: bool,
    },
}

/// A pool's rule, size limits and running totals in one replication.
#[derive(Debug, Clone)]
pub struct PoolRuntime {
    pub name: String,
    pub kind: &'static str,
    pub rule: PoolRule,
    pub gpus_per_replica: f64,
    /// Fixed pools: their size. Autoscaled pools: the floor.
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Replicas requested and not yet released (any state but draining).
    pub live: u32,
    /// Replicas ready or draining (able to run iterations).
    pub serving: u32,
    pub peak_live: u32,
    /// Σ live replica-seconds (for the time-weighted mean).
    pub replica_seconds: f64,
    /// Σ ready replica-seconds (exposure to spot interruptions).
    pub ready_seconds: f64,
    pub cost_usd: f64,
    pub billed_gpu_seconds: f64,
    pub cold_starts: u64,
    pub interruptions: u64,
}

impl PoolRuntime {
    pub fn new(pool: &Pool, gpus_per_replica: f64, draws: &Draws) -> Self {
        let count = |p: &crate::scenario::Param| p.value(draws).round().max(0.0) as u32;
        let per_s = |p: &crate::scenario::Param| p.value(draws) / HOUR_S;
        let (rule, min, max) = match &pool.kind {
            PoolKind::Reserved {
                replicas,
                price_per_gpu_hour,
            } => {
                let n = count(replicas);
                (
                    PoolRule::Reserved {
                        price_per_gpu_s: per_s(price_per_gpu_hour),
                    },
                    n,
                    n,
                )
            }
            PoolKind::Owned {
                replicas,
                capex_per_gpu,
                amortization_s,
                idle_watts,
                busy_watts,
                pue,
                usd_per_kwh,
                ops_per_gpu_hour,
            } => {
                let n = count(replicas);
                (
                    PoolRule::Owned {
                        capex_per_gpu_s: capex_per_gpu.value(draws) / amortization_s.value(draws),
                        idle_watts: idle_watts.value(draws),
                        busy_watts: busy_watts.value(draws),
                        pue: pue.value(draws),
                        usd_per_kwh: usd_per_kwh.value(draws),
                        ops_per_gpu_s: per_s(ops_per_gpu_hour),
                    },
                    n,
                    n,
                )
            }
            PoolKind::OnDemand(r) => (
                PoolRule::OnDemand {
                    price_per_gpu_s: per_s(&r.price_per_gpu_hour),
                    provisioning: r.startup.provisioning_s.clone(),
                    load: r.startup.load_s.clone(),
                    min_billed_s: r.min_billed_s.value(draws),
                    billing: r.billing,
                },
                count(&r.min_replicas),
                count(&r.max_replicas),
            ),
            PoolKind::Spot {
                rental: r,
                interruptions_per_hour,
                notice_s,
            } => (
                PoolRule::Spot {
                    price_per_gpu_s: per_s(&r.price_per_gpu_hour),
                    provisioning: r.startup.provisioning_s.clone(),
                    load: r.startup.load_s.clone(),
                    min_billed_s: r.min_billed_s.value(draws),
                    billing: r.billing,
                    interruptions_per_s: per_s(interruptions_per_hour),
                    notice_s: notice_s.value(draws),
                },
                count(&r.min_replicas),
                count(&r.max_replicas),
            ),
            PoolKind::Serverless {
                min_replicas,
                max_replicas,
                price_per_gpu_second,
                cold_start_s,
                idle_timeout_s,
                bill_cold_start,
            } => (
                PoolRule::Serverless {
                    price_per_gpu_s: price_per_gpu_second.value(draws),
                    cold_start: cold_start_s.clone(),
                    idle_timeout_s: idle_timeout_s.value(draws),
                    bill_cold_start: *bill_cold_start,
                },
                count(min_replicas),
                count(max_replicas),
            ),
        };
        PoolRuntime {
            name: pool.name.clone(),
            kind: pool.kind.kind_name(),
            rule,
            gpus_per_replica,
            min_replicas: min,
            max_replicas: max.max(min),
            live: 0,
            serving: 0,
            peak_live: 0,
            replica_seconds: 0.0,
            ready_seconds: 0.0,
            cost_usd: 0.0,
            billed_gpu_seconds: 0.0,
            cold_starts: 0,
            interruptions: 0,
        }
    }

    /// Reserved and owned pools: a fixed number of replicas, always on.
    pub fn is_fixed(&self) -> bool {
        matches!(
            self.rule,
            PoolRule::Reserved { .. } | PoolRule::Owned { .. }
        )
    }

    pub fn is_serverless(&self) -> bool {
        matches!(self.rule, PoolRule::Serverless { .. })
    }

    /// Time from request to ready of a new replica, drawn per start:
    /// (provisioning from `provisioning_rng`, model load / cold start from
    /// `load_rng`). Fixed pools are ready at once.
    pub fn startup_parts(
        &self,
        provisioning_rng: &mut crate::engine::rng::SimRng,
        load_rng: &mut crate::engine::rng::SimRng,
    ) -> (Seconds, Seconds) {
        match &self.rule {
            PoolRule::OnDemand {
                provisioning, load, ..
            }
            | PoolRule::Spot {
                provisioning, load, ..
            } => (provisioning.sample(provisioning_rng), load.sample(load_rng)),
            PoolRule::Serverless { cold_start, .. } => (0.0, cold_start.sample(load_rng)),
            PoolRule::Reserved { .. } | PoolRule::Owned { .. } => (0.0, 0.0),
        }
    }

    /// Records the billing of one per-second replica's lifetime.
    pub fn bill_lifetime(
        &mut self,
        requested_s: Seconds,
        ready_s: Option<Seconds>,
        released_s: Seconds,
    ) {
        let (cost, gpu_s) = lifetime_cost(
            &self.rule,
            self.gpus_per_replica,
            requested_s,
            ready_s,
            released_s,
        );
        self.cost_usd += cost;
        self.billed_gpu_seconds += gpu_s;
    }

    /// Records the billing of a fixed pool over the horizon, given each
    /// replica's busy seconds.
    pub fn bill_fixed(&mut self, horizon_s: Seconds, busy_s: &[Seconds]) {
        let (cost, gpu_s) = fixed_cost(&self.rule, self.gpus_per_replica, horizon_s, busy_s);
        self.cost_usd += cost;
        self.billed_gpu_seconds += gpu_s;
    }
}

/// Cost and billed GPU-seconds of one per-second replica, requested at
/// `requested_s`, ready at `ready_s` (if it got there), released at `released_s`.
pub fn lifetime_cost(
    rule: &PoolRule,
    gpus: f64,
    requested_s: Seconds,
    ready_s: Option<Seconds>,
    released_s: Seconds,
) -> (f64, f64) {
    let lived = (released_s - requested_s).max(0.0);
    let billed = |min_billed: Seconds, billing: Billing| match billing {
        Billing::PerSecond => lived.max(min_billed),
        Billing::PerStartedHour => ((lived / HOUR_S).ceil().max(1.0) * HOUR_S).max(min_billed),
    };
    match rule {
        PoolRule::OnDemand {
            price_per_gpu_s,
            min_billed_s,
            billing,
            ..
        }
        | PoolRule::Spot {
            price_per_gpu_s,
            min_billed_s,
            billing,
            ..
        } => {
            let s = billed(*min_billed_s, *billing);
            (s * gpus * price_per_gpu_s, s * gpus)
        }
        PoolRule::Serverless {
            price_per_gpu_s,
            bill_cold_start,
            ..
        } => {
            let from = if *bill_cold_start {
                requested_s
            } else {
                ready_s.unwrap_or(released_s)
            };
            let s = (released_s - from).max(0.0);
            (s * gpus * price_per_gpu_s, s * gpus)
        }
        PoolRule::Reserved { .. } | PoolRule::Owned { .. } => (0.0, 0.0),
    }
}

/// Cost and GPU-seconds of a fixed pool over the horizon. Owned hardware
/// pays amortized capex, ops, and power: busy watts for each replica's busy
/// time (capped at the horizon), idle watts for the rest, times PUE.
pub fn fixed_cost(
    rule: &PoolRule,
    gpus: f64,
    horizon_s: Seconds,
    busy_s: &[Seconds],
) -> (f64, f64) {
    let gpu_s = busy_s.len() as f64 * gpus * horizon_s;
    match rule {
        PoolRule::Reserved { price_per_gpu_s } => (gpu_s * price_per_gpu_s, gpu_s),
        PoolRule::Owned {
            capex_per_gpu_s,
            idle_watts,
            busy_watts,
            pue,
            usd_per_kwh,
            ops_per_gpu_s,
        } => {
            let joules: f64 = busy_s
                .iter()
                .map(|b| {
                    let busy = b.clamp(0.0, horizon_s);
                    gpus * (busy_watts * busy + idle_watts * (horizon_s - busy))
                })
                .sum();
            let kwh = joules * pue / 3.6e6;
            let cost = gpu_s * (capex_per_gpu_s + ops_per_gpu_s) + kwh * usd_per_kwh;
            (cost, gpu_s)
        }
        _ => (0.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_demand(min_billed_s: f64, billing: Billing) -> PoolRule {
        PoolRule::OnDemand {
            price_per_gpu_s: 3.6 / HOUR_S,
            provisioning: EventDuration::Fixed(0.0),
            load: EventDuration::Fixed(0.0),
            min_billed_s,
            billing,
        }
    }

    #[test]
    fn on_demand_bills_per_second_with_a_minimum() {
        let r = on_demand(60.0, Billing::PerSecond);
        // 30 s used, 60 s billed, 2 GPUs at $3.60/h = $0.001/s each.
        let (c, g) = lifetime_cost(&r, 2.0, 100.0, Some(110.0), 130.0);
        assert!((c - 0.12).abs() < 1e-12 && g == 120.0);
        let (c, _) = lifetime_cost(&r, 2.0, 100.0, Some(110.0), 400.0);
        assert!((c - 0.6).abs() < 1e-12);
    }

    #[test]
    fn per_started_hour_rounds_up() {
        let r = on_demand(0.0, Billing::PerStartedHour);
        let (c, _) = lifetime_cost(&r, 1.0, 0.0, Some(10.0), 3601.0);
        assert!((c - 7.2).abs() < 1e-9);
    }

    #[test]
    fn serverless_can_skip_the_cold_start() {
        let rule = |bill| PoolRule::Serverless {
            price_per_gpu_s: 0.001,
            cold_start: EventDuration::Fixed(45.0),
            idle_timeout_s: 300.0,
            bill_cold_start: bill,
        };
        assert!((lifetime_cost(&rule(true), 1.0, 0.0, Some(45.0), 400.0).0 - 0.4).abs() < 1e-12);
        assert!((lifetime_cost(&rule(false), 1.0, 0.0, Some(45.0), 400.0).0 - 0.355).abs() < 1e-12);
    }

    #[test]
    fn owned_power_follows_busy_fraction() {
        let rule = PoolRule::Owned {
            capex_per_gpu_s: 0.0,
            idle_watts: 100.0,
            busy_watts: 700.0,
            pue: 1.5,
            usd_per_kwh: 0.10,
            ops_per_gpu_s: 0.0,
        };
        // One replica of 1 GPU, busy half of one hour: 0.4 kWh × 1.5 × $0.10.
        let (c, _) = fixed_cost(&rule, 1.0, 3600.0, &[1800.0]);
        assert!((c - 0.06).abs() < 1e-12, "{c}");
    }
}
