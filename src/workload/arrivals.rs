//! Arrival processes: Poisson, Markov-modulated Poisson, diurnal
//! (non-homogeneous Poisson by thinning), renewal (gamma / Weibull gaps),
//! and trace replay. Each yields the next arrival time after the last one.

use std::f64::consts::PI;
use std::sync::Arc;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, Gamma, Weibull};
use statrs::function::gamma::ln_gamma;

use crate::engine::rng::SimRng;
use crate::scenario::trace::{TraceData, TraceRow};
use crate::scenario::{Arrivals, DiurnalProfile, Draws, RenewalFamily, Spacing};
use crate::units::{HOUR_S, Seconds};

/// An arrival process made concrete for one replication.
#[derive(Debug, Clone)]
pub enum ArrivalProcess {
    Poisson {
        rate: f64,
    },
    Mmpp {
        rates: Vec<f64>,
        mean_sojourn_s: Vec<f64>,
        state: usize,
        state_end_s: Seconds,
    },
    Diurnal {
        /// Rate by clock hour (already × demand scale).
        hourly: Option<[f64; 24]>,
        /// Sinusoid (mean, peak_to_mean, peak_hour), rates × demand scale.
        sinusoid: (f64, f64, f64),
        max_rate: f64,
        start_hour: f64,
    },
    Renewal {
        gaps: Gaps,
    },
    Trace {
        trace: Arc<TraceData>,
        next: usize,
        /// Multiplies trace times: time_scale / (rate_scale × demand_scale).
        time_factor: f64,
    },
    /// Closed loop: the times at which clients send their next request, in
    /// order (sends are queued by `client_returns`).
    ClosedLoop {
        think_s: Seconds,
        sends: std::collections::VecDeque<Seconds>,
    },
    Stages {
        /// (start, end, rate) of each stage, back to back.
        stages: Vec<(Seconds, Seconds, f64)>,
        spacing: Spacing,
        /// The stage of the next arrival, and how many it has had.
        stage: usize,
        count: u64,
    },
}

/// Inter-arrival gap distribution of a renewal process.
#[derive(Debug, Clone)]
pub enum Gaps {
    Fixed(f64),
    Gamma(Gamma<f64>),
    Weibull(Weibull<f64>),
}

/// Exponential(rate) draw.
#[inline]
fn exp_gap(rate: f64, rng: &mut SimRng) -> f64 {
    let e: f64 = Exp1.sample(rng);
    e / rate
}

/// Weibull shape k whose coefficient of variation is `cv`:
/// CV² = Γ(1+2/k)/Γ(1+1/k)² − 1, decreasing in k; solved by bisection on ln k.
pub fn weibull_shape_for_cv(cv: f64) -> f64 {
    let cv2 = |k: f64| (ln_gamma(1.0 + 2.0 / k) - 2.0 * ln_gamma(1.0 + 1.0 / k)).exp() - 1.0;
    let (mut lo, mut hi) = (0.02f64.ln(), 500f64.ln());
    let target = cv * cv;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cv2(mid.exp()) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

impl ArrivalProcess {
    pub fn new(spec: &Arrivals, demand_scale: f64, draws: &Draws, rng: &mut SimRng) -> Self {
        match spec {
            Arrivals::Poisson { rate } => ArrivalProcess::Poisson {
                rate: rate.value(draws) * demand_scale,
            },
            Arrivals::Mmpp {
                rates,
                mean_sojourn_s,
            } => {
                let mean_sojourn_s: Vec<f64> =
                    mean_sojourn_s.iter().map(|p| p.value(draws)).collect();
                // The process starts in its first listed state.
                let state_end_s = exp_gap(1.0 / mean_sojourn_s[0], rng);
                ArrivalProcess::Mmpp {
                    rates: rates
                        .iter()
                        .map(|p| p.value(draws) * demand_scale)
                        .collect(),
                    mean_sojourn_s,
                    state: 0,
                    state_end_s,
                }
            }
            Arrivals::Diurnal {
                profile,
                start_hour,
            } => {
                let start_hour = start_hour.value(draws);
                match profile {
                    DiurnalProfile::Hourly(h) => {
                        let mut hourly = [0.0; 24];
                        for (dst, p) in hourly.iter_mut().zip(h) {
                            *dst = p.value(draws) * demand_scale;
                        }
                        let max_rate = hourly.iter().cloned().fold(0.0, f64::max);
                        ArrivalProcess::Diurnal {
                            hourly: Some(hourly),
                            sinusoid: (0.0, 1.0, 0.0),
                            max_rate,
                            start_hour,
                        }
                    }
                    DiurnalProfile::Sinusoid {
                        mean_rate,
                        peak_to_mean,
                        peak_hour,
                    } => {
                        let mean = mean_rate.value(draws) * demand_scale;
                        let p2m = peak_to_mean.value(draws);
                        ArrivalProcess::Diurnal {
                            hourly: None,
                            sinusoid: (mean, p2m, peak_hour.value(draws)),
                            max_rate: mean * p2m,
                            start_hour,
                        }
                    }
                }
            }
            Arrivals::Renewal { rate, cv, family } => {
                let rate = rate.value(draws) * demand_scale;
                let cv = cv.value(draws);
                let mean = 1.0 / rate;
                let gaps = if !mean.is_finite() {
                    Gaps::Fixed(f64::INFINITY)
                } else if cv == 0.0 {
                    Gaps::Fixed(mean)
                } else {
                    match family {
                        RenewalFamily::Gamma => {
                            let shape = 1.0 / (cv * cv);
                            Gaps::Gamma(Gamma::new(shape, mean / shape).expect("validated gamma"))
                        }
                        RenewalFamily::Weibull => {
                            let k = weibull_shape_for_cv(cv);
                            let scale = mean / (ln_gamma(1.0 + 1.0 / k)).exp();
                            Gaps::Weibull(Weibull::new(scale, k).expect("validated weibull"))
                        }
                    }
                };
                ArrivalProcess::Renewal { gaps }
            }
            Arrivals::ClosedLoop { clients, think_s } => {
                let n = (clients.value(draws) * demand_scale).round().max(0.0) as usize;
                // Every client sends its first request at time 0.
                ArrivalProcess::ClosedLoop {
                    think_s: think_s.value(draws),
                    sends: std::iter::repeat_n(0.0, n).collect(),
                }
            }
            Arrivals::Stages { stages, spacing } => {
                let mut start = 0.0;
                let stages = stages
                    .iter()
                    .map(|(rate, duration)| {
                        let end = start + duration.value(draws);
                        let s = (start, end, rate.value(draws) * demand_scale);
                        start = end;
                        s
                    })
                    .collect();
                ArrivalProcess::Stages {
                    stages,
                    spacing: *spacing,
                    stage: 0,
                    count: 0,
                }
            }
            Arrivals::Trace {
                trace,
                time_scale,
                rate_scale,
            } => ArrivalProcess::Trace {
                trace: trace.clone(),
                next: 0,
                time_factor: time_scale.value(draws)
                    / (rate_scale.value(draws) * demand_scale.max(f64::MIN_POSITIVE)),
            },
        }
    }

    /// Instantaneous rate of a diurnal process at simulated time `t`.
    fn diurnal_rate(
        hourly: &Option<[f64; 24]>,
        sinusoid: (f64, f64, f64),
        start_hour: f64,
        t: Seconds,
    ) -> f64 {
        let h = (start_hour + t / HOUR_S).rem_euclid(24.0);
        match hourly {
            Some(rates) => rates[(h as usize).min(23)],
            None => {
                let (mean, p2m, peak) = sinusoid;
                (mean * (1.0 + (p2m - 1.0) * (2.0 * PI * (h - peak) / 24.0).cos())).max(0.0)
            }
        }
    }

    /// Closed loop: a client got its answer at `t` and sends again after its
    /// think time. Other processes ignore answers.
    pub fn client_returns(&mut self, t: Seconds) {
        if let ArrivalProcess::ClosedLoop { think_s, sends } = self {
            // Answers come in time order, so the queue stays sorted.
            sends.push_back(t + *think_s);
        }
    }

    /// Whether arrivals depend on departures (more may come after `next`
    /// returned `None`).
    pub fn awaits_departures(&self) -> bool {
        matches!(self, ArrivalProcess::ClosedLoop { .. })
    }

    /// The next arrival strictly after the previous one (at `last`), if it
    /// comes before `horizon`; trace replay also returns the recorded row.
    pub fn next(
        &mut self,
        last: Seconds,
        horizon: Seconds,
        rng: &mut SimRng,
    ) -> Option<(Seconds, Option<TraceRow>)> {
        let t = match self {
            ArrivalProcess::Poisson { rate } => {
                if *rate <= 0.0 {
                    return None;
                }
                last + exp_gap(*rate, rng)
            }
            ArrivalProcess::Mmpp {
                rates,
                mean_sojourn_s,
                state,
                state_end_s,
            } => {
                let mut t = last;
                loop {
                    let rate = rates[*state];
                    if rate > 0.0 {
                        let cand = t + exp_gap(rate, rng);
                        if cand < *state_end_s {
                            break cand;
                        }
                    }
                    // Memoryless: restart from the switch in the new state.
                    t = *state_end_s;
                    if t >= horizon {
                        return None;
                    }
                    let n = rates.len();
                    if n > 1 {
                        // Leave to one of the other states, uniformly.
                        let k = rng.random_range(0..n - 1);
                        *state = if k >= *state { k + 1 } else { k };
                    }
                    *state_end_s = t + exp_gap(1.0 / mean_sojourn_s[*state], rng);
                }
            }
            ArrivalProcess::Diurnal {
                hourly,
                sinusoid,
                max_rate,
                start_hour,
            } => {
                if *max_rate <= 0.0 {
                    return None;
                }
                let mut t = last;
                loop {
                    t += exp_gap(*max_rate, rng);
                    if t >= horizon {
                        return None;
                    }
                    let u: f64 = rng.random();
                    if u * *max_rate < Self::diurnal_rate(hourly, *sinusoid, *start_hour, t) {
                        break t;
                    }
                }
            }
            ArrivalProcess::Renewal { gaps } => {
                let gap = match gaps {
                    Gaps::Fixed(g) => *g,
                    Gaps::Gamma(d) => d.sample(rng),
                    Gaps::Weibull(d) => d.sample(rng),
                };
                last + gap
            }
            ArrivalProcess::ClosedLoop { sends, .. } => sends.pop_front()?,
            ArrivalProcess::Stages {
                stages,
                spacing,
                stage,
                count,
            } => loop {
                let &(start, end, rate) = stages.get(*stage)?;
                let cand = if rate <= 0.0 {
                    f64::INFINITY
                } else {
                    match spacing {
                        // The k-th arrival of a stage at start + k / rate.
                        Spacing::Constant => start + *count as f64 / rate,
                        Spacing::Poisson => last.max(start) + exp_gap(rate, rng),
                    }
                };
                if cand < end {
                    *count += 1;
                    break cand;
                }
                *stage += 1;
                *count = 0;
            },
            ArrivalProcess::Trace {
                trace,
                next,
                time_factor,
            } => {
                let row = *trace.rows.get(*next)?;
                *next += 1;
                let t = row.t * *time_factor;
                if t >= horizon {
                    return None;
                }
                return Some((t, Some(row)));
            }
        };
        (t < horizon).then_some((t, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weibull_shape_inverts_the_cv() {
        // k = 1 is exponential (CV 1); k = 2 has CV = sqrt(4/π − 1) ≈ 0.5227.
        assert!((weibull_shape_for_cv(1.0) - 1.0).abs() < 1e-9);
        assert!((weibull_shape_for_cv(0.522_723_200_877) - 2.0).abs() < 1e-6);
        let k = weibull_shape_for_cv(3.0);
        let cv = ((ln_gamma(1.0 + 2.0 / k) - 2.0 * ln_gamma(1.0 + 1.0 / k)).exp() - 1.0).sqrt();
        assert!((cv - 3.0).abs() < 1e-9);
    }
}
