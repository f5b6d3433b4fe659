//! `fleetsim calibrate`: fit a step model's efficiencies (mfu, mbu, per-step
//! overhead) to measured throughput, such as "33 tokens/s single stream,
//! 620 tokens/s at 100 concurrent". The step model is the engine's: the
//! calibrated model (its other constants keep their values) or the
//! roofline.
//!
//! Each measurement is reproduced by a closed loop on one replica: `c`
//! requests of ISL/OSL always in flight (a finished request is replaced at
//! once), started staggered so the batch is not in lockstep; throughput is
//! output tokens per second after the first wave. The fit minimizes the
//! mean squared log error with Nelder–Mead over a bounded transform, with a
//! faint pull toward the engine's own figures so parameters the data cannot identify
//! (e.g. mfu from single-stream points alone) stay where they were.

use crate::scenario::{CalibratedConstants, CalibratedKey, CalibratedParams, defaults};
use crate::scenario::{Draws, Engine, EngineFigures, Param, StepTime};
use crate::serving::vllm::VllmLimits;
use crate::serving::{Replica, ReplicaConfig, RequestTable, StepModel};
use crate::stats::optimize::nelder_mead;
use crate::validate;
use crate::workload::Request;

/// One published or measured throughput figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub concurrency: u32,
    pub isl: u32,
    pub osl: u32,
    pub tokens_per_s: f64,
}

impl Measurement {
    /// Parses `c=100,isl=5000,osl=500,tok_s=920` (commas or spaces).
    pub fn parse(text: &str) -> Result<Measurement, String> {
        let mut c = None;
        let mut isl = None;
        let mut osl = None;
        let mut tps = None;
        for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not key=value"))?;
            let num: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("`{v}` is not a number (in `{part}`)"))?;
            let slot = match k.trim() {
                "c" | "concurrency" => &mut c,
                "isl" => &mut isl,
                "osl" => &mut osl,
                "tok_s" | "tokens_per_s" => &mut tps,
                other => return Err(format!("unknown key `{other}`: use c, isl, osl, tok_s")),
            };
            if slot.replace(num).is_some() {
                return Err(format!("`{}` is given twice", k.trim()));
            }
        }
        let int = |v: Option<f64>, name: &str, min: f64| -> Result<u32, String> {
            let v = v.ok_or_else(|| format!("`{name}` is missing"))?;
            if v.fract() == 0.0 && v >= min && v <= 1e7 {
                Ok(v as u32)
            } else {
                Err(format!(
                    "{name} = {v} is not allowed: expected an integer >= {min}"
                ))
            }
        };
        let m = Measurement {
            concurrency: int(c, "c", 1.0)?,
            isl: int(isl, "isl", 1.0)?,
            osl: int(osl, "osl", 1.0)?,
            tokens_per_s: tps.ok_or("`tok_s` is missing")?,
        };
        if !(m.tokens_per_s.is_finite() && m.tokens_per_s > 0.0) {
            return Err(format!(
                "tok_s = {} is not allowed: expected a number > 0",
                m.tokens_per_s
            ));
        }
        Ok(m)
    }
}

/// The three figures a throughput fit sets: compute and memory
/// efficiency and the CPU time of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficiencies {
    pub mfu: f64,
    pub mbu: f64,
    pub overhead_s: f64,
}

impl Efficiencies {
    /// The engine's own figures (uncertain ones at their central value),
    /// where the fit starts and what it leans toward when the points cannot
    /// tell (e.g. mfu from single-stream points alone).
    pub fn of(engine: &Engine) -> Result<Efficiencies, String> {
        let draws = Draws::default();
        match &engine.step_time {
            StepTime::Roofline {
                mfu,
                mbu,
                overhead_s,
            } => Ok(Efficiencies {
                mfu: mfu.value(&draws),
                mbu: mbu.value(&draws),
                overhead_s: overhead_s.value(&draws),
            }),
            StepTime::Calibrated(p) => {
                let k = p.value(&draws);
                Ok(Efficiencies {
                    mfu: k.mfu,
                    mbu: k.mbu,
                    overhead_s: k.overhead_s,
                })
            }
            StepTime::Linear { .. } => Err(
                "calibrate fits the calibrated or the roofline step model; this engine uses `linear`"
                    .into(),
            ),
        }
    }

    /// `engine` with these figures in its step model.
    fn apply(&self, engine: &Engine) -> Engine {
        let mut engine = engine.clone();
        engine.step_time = match &engine.step_time {
            StepTime::Calibrated(p) => {
                let mut k = p.value(&Draws::default());
                k.mfu = self.mfu;
                k.mbu = self.mbu;
                k.overhead_s = self.overhead_s;
                StepTime::Calibrated(CalibratedParams::from_params(
                    k.values().into_iter().map(Param::Fixed).collect(),
                ))
            }
            _ => StepTime::Roofline {
                mfu: Param::Fixed(self.mfu),
                mbu: Param::Fixed(self.mbu),
                overhead_s: Param::Fixed(self.overhead_s),
            },
        };
        engine
    }
}

impl Default for Efficiencies {
    /// The roofline's defaults.
    fn default() -> Self {
        Efficiencies {
            mfu: defaults::MFU,
            mbu: defaults::MBU,
            overhead_s: defaults::OVERHEAD_S,
        }
    }
}

/// `step_time = { ... }` for an engine whose step model now has `e`.
pub fn step_time_line(engine: &Engine, e: Efficiencies) -> String {
    match &engine.step_time {
        StepTime::Calibrated(p) => {
            let k = p.value(&Draws::default());
            let d = defaults::CALIBRATED;
            // Only what differs from the defaults, so the line stays short.
            let mut extra = String::new();
            for ((key, v), dv) in CalibratedConstants::KEYS
                .iter()
                .zip(k.values())
                .zip(d.values())
                .skip(3)
            {
                if v != dv {
                    extra.push_str(&format!(", {} = {v:.4e}", key.name));
                }
            }
            format!(
                "step_time = {{ model = \"calibrated\", mfu = {:.3}, mbu = {:.3}, overhead_s = {:.5}{extra} }}",
                e.mfu, e.mbu, e.overhead_s
            )
        }
        _ => format!(
            "step_time = {{ model = \"roofline\", mfu = {:.3}, mbu = {:.3}, overhead_s = {:.5} }}",
            e.mfu, e.mbu, e.overhead_s
        ),
    }
}

/// The result of a fit, with each measurement's simulated value.
#[derive(Debug, Clone)]
pub struct Fit {
    pub efficiencies: Efficiencies,
    pub rows: Vec<(Measurement, f64)>,
    /// Root mean squared relative (log) error.
    pub rms_log_error: f64,
}

/// Simulated output tokens/s of one measurement's closed loop.
pub fn simulate(engine: &Engine, e: Efficiencies, m: &Measurement) -> f64 {
    let engine = e.apply(engine);
    let draws = Draws::default();
    let step = StepModel::new(&engine, &draws);
    let figures = EngineFigures::new(&engine, &draws);
    let c = m.concurrency;
    // The engine's own scheduler; the benchmark's clients set the batch,
    // up to the engine's limit (beyond it, requests wait their turn).
    let vllm = VllmLimits::of(&engine, &draws);
    let engine_batch = engine.max_batch.value(&draws).round().max(1.0) as u32;
    let mut replica = Replica::new(ReplicaConfig {
        max_batch: if vllm.is_some() {
            c.min(engine_batch)
        } else {
            c
        },
        kv_capacity_tokens: figures.kv_capacity_tokens,
        paged_block_tokens: None,
        chunk_tokens: None,
        vllm,
    });
    let mut table = RequestTable::default();
    let mut id = 0u64;
    let mut add = |table: &mut RequestTable, replica: &mut Replica, t: f64, o: u32| {
        let slot = table.insert(&Request {
            id,
            arrival_s: t,
            prompt_tokens: m.isl,
            output_tokens: o,
            prefix: Default::default(),
            turns_left: 0,
        });
        id += 1;
        replica.enqueue(slot);
    };
    // A staggered first wave: request i stops after a share i/c of OSL.
    for i in 0..c {
        add(
            &mut table,
            &mut replica,
            0.0,
            1 + (m.osl as u64 * i as u64 / c as u64) as u32,
        );
    }
    let first_wave = c as u64;
    let mut done_first = 0u64;
    let mut now = 0.0;
    let mut window: Option<(f64, u64)> = None;
    let mut completed_full = 0u64;
    let mut done = Vec::new();
    // Enough full requests after the first wave for a stable average.
    let target = (4 * c as u64).max(8);
    while completed_full < target {
        let Some(end) = replica.start_iteration(now, &mut table, &step) else {
            break;
        };
        now = end;
        done.clear();
        replica.finish_iteration(now, &mut table, &mut done);
        for &slot in &done {
            let first = table[slot].id < first_wave;
            table.release(slot);
            if first {
                done_first += 1;
                if done_first == first_wave {
                    window = Some((now, replica.stats.output_tokens));
                }
            } else if window.is_some() {
                completed_full += 1;
            }
            add(&mut table, &mut replica, now, m.osl);
        }
    }
    match window {
        Some((t0, tokens0)) if now > t0 => {
            (replica.stats.output_tokens - tokens0) as f64 / (now - t0)
        }
        _ => f64::NAN,
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    // A start outside the search range (a scenario's own figure) starts at its edge.
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

const MAX_OVERHEAD_S: f64 = 0.02;

fn from_raw(x: &[f64]) -> Efficiencies {
    Efficiencies {
        mfu: 0.02 + 0.98 * sigmoid(x[0]),
        mbu: 0.02 + 0.98 * sigmoid(x[1]),
        overhead_s: MAX_OVERHEAD_S * sigmoid(x[2]),
    }
}

fn to_raw(e: Efficiencies) -> [f64; 3] {
    [
        logit((e.mfu - 0.02) / 0.98),
        logit((e.mbu - 0.02) / 0.98),
        logit(e.overhead_s / MAX_OVERHEAD_S),
    ]
}

/// Checks that the measurements can be fitted at all.
pub fn check(points: &[Measurement]) -> Result<(), String> {
    if points.is_empty() {
        return Err(
            "give at least one measured point, e.g. --point c=1,isl=500,osl=2000,tok_s=52.9".into(),
        );
    }
    let single = points
        .iter()
        .filter(|p| p.concurrency == 1)
        .map(|p| p.tokens_per_s)
        .fold(0.0, f64::max);
    if let Some(bad) = points
        .iter()
        .find(|p| p.concurrency > 1 && p.tokens_per_s < single)
    {
        return Err(format!(
            "cannot be fitted: the aggregate throughput at concurrency {} ({} tok/s) is below the single-stream throughput ({single} tok/s); batching never lowers a replica's total output rate",
            bad.concurrency, bad.tokens_per_s
        ));
    }
    for (i, a) in points.iter().enumerate() {
        if let Some(b) = points[i + 1..]
            .iter()
            .find(|b| (a.concurrency, a.isl, a.osl) == (b.concurrency, b.isl, b.osl))
        {
            return Err(format!(
                "cannot be fitted: c={},isl={},osl={} is given twice ({} and {} tok/s); give each load once (average repeated measurements)",
                a.concurrency, a.isl, a.osl, a.tokens_per_s, b.tokens_per_s
            ));
        }
    }
    Ok(())
}

/// Largest factor between a fitted and a measured throughput that is still a
/// fit: beyond it the model cannot reach the point with any efficiency in
/// (2%, 100%) and overhead in [0, 20 ms], and the constants would mislead.
const MAX_FIT_RATIO: f64 = 1.5;

/// Fits mfu, mbu and overhead to the measurements.
pub fn fit(engine: &Engine, points: &[Measurement]) -> Result<Fit, String> {
    check(points)?;
    if EngineFigures::new(engine, &Draws::default()).kv_capacity_tokens == 0 {
        return Err("the model's weights do not fit this GPU configuration".into());
    }
    let defaults = to_raw(Efficiencies::of(engine)?);
    let objective = |x: &[f64]| -> f64 {
        let e = from_raw(x);
        let err: f64 = points
            .iter()
            .map(|m| {
                let s = simulate(engine, e, m);
                if s.is_finite() && s > 0.0 {
                    (s / m.tokens_per_s).ln().powi(2)
                } else {
                    1e3
                }
            })
            .sum::<f64>()
            / points.len() as f64;
        let pull: f64 = x.iter().zip(&defaults).map(|(a, b)| (a - b).powi(2)).sum();
        err + 1e-5 * pull
    };
    let starts = [
        defaults,
        [defaults[0] + 1.5, defaults[1] - 1.0, defaults[2] - 1.5],
        [defaults[0] - 1.5, defaults[1] + 1.0, defaults[2] + 1.0],
    ];
    let best = starts
        .iter()
        .map(|s| nelder_mead(&objective, s, 0.8, 250))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("three starts");
    let e = from_raw(&best.0);
    let rows: Vec<(Measurement, f64)> = points
        .iter()
        .map(|m| (*m, simulate(engine, e, m)))
        .collect();
    if let Some((m, s)) = rows
        .iter()
        .find(|(m, s)| !s.is_finite() || (s / m.tokens_per_s).ln().abs() > MAX_FIT_RATIO.ln())
    {
        return Err(format!(
            "cannot be fitted: at c={},isl={},osl={} the closest the model comes is {s:.1} tok/s against {} measured; the point is outside what this model, GPU and precision can do (check the point and the [engine] it was measured on)",
            m.concurrency, m.isl, m.osl, m.tokens_per_s
        ));
    }
    let rms = (rows
        .iter()
        .map(|(m, s)| (s / m.tokens_per_s).ln().powi(2))
        .sum::<f64>()
        / rows.len() as f64)
        .sqrt();
    Ok(Fit {
        efficiencies: e,
        rows,
        rms_log_error: rms,
    })
}

// ----- the calibrated step model, from measured runs ------------------------

/// The calibrated model's constants fitted to measured runs.
#[derive(Debug, Clone)]
pub struct RunsFit {
    pub constants: CalibratedConstants,
    /// Mean absolute log error (each term capped) at the optimum.
    pub objective: f64,
    pub rows: Vec<validate::Row>,
}

/// Metrics the fit matches, equally weighted.
pub const FIT_METRICS: &[&str] = &[
    "ttft_mean",
    "ttft_p90",
    "e2e_mean",
    "e2e_p90",
    "e2e_p99",
    "itl_mean",
];

/// The step_time line of a calibrated model with these constants.
pub fn calibrated_line(k: &CalibratedConstants) -> String {
    let pairs: Vec<String> = CalibratedConstants::KEYS
        .iter()
        .zip(k.values())
        .map(|(key, v)| format!("{} = {v:.6e}", key.name))
        .collect();
    format!(
        "step_time = {{ model = \"calibrated\", {} }}",
        pairs.join(", ")
    )
}

/// `base` with the constants of a `key = value, ...` list replaced.
pub fn constants_with(
    base: CalibratedConstants,
    list: &str,
) -> Result<CalibratedConstants, String> {
    let keys = CalibratedConstants::KEYS;
    let mut v = base.values();
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not `name = value`"))?;
        let (name, value) = (name.trim(), value.trim());
        let i = keys.iter().position(|k| k.name == name).ok_or_else(|| {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            format!(
                "unknown constant `{name}` (the calibrated model has {})",
                names.join(", ")
            )
        })?;
        let x: f64 = value
            .parse()
            .map_err(|_| format!("`{value}` is not a number"))?;
        if !(keys[i].min..=keys[i].max).contains(&x) {
            return Err(format!(
                "{name} = {x} is outside {} ..= {}",
                keys[i].min, keys[i].max
            ));
        }
        v[i] = x;
    }
    Ok(CalibratedConstants::from_values(&v))
}

/// The optimiser searches an unbounded space: each free constant is
/// `min + (max − min) × sigmoid(x)`, which also behaves like a log scale
/// near `min` (where time constants live).
fn to_unbounded(value: f64, key: &CalibratedKey) -> f64 {
    let f = ((value - key.min) / (key.max - key.min)).clamp(1e-6, 1.0 - 1e-6);
    (f / (1.0 - f)).ln()
}

fn from_unbounded(x: f64, key: &CalibratedKey) -> f64 {
    key.min + (key.max - key.min) / (1.0 + (-x).exp())
}

/// Mean absolute log error of predictions (robust: it tracks the median error) over the `ok` rows; a term is
/// capped at ln 3 so that one overloaded run cannot dominate.
pub fn runs_objective(rows: &[validate::Row]) -> f64 {
    let cap = 2f64.ln();
    let mut sum = 0.0;
    let mut n = 0usize;
    for r in rows.iter().filter(|r| r.run.is_ok()) {
        for m in FIT_METRICS {
            if let Some(e) = r.error(m) {
                sum += (1.0 + e).max(1e-9).ln().abs().min(cap);
                n += 1;
            }
        }
    }
    if n == 0 {
        f64::INFINITY
    } else {
        sum / n as f64
    }
}

/// Fits the calibrated step model's constants named in `free` (the others
/// keep their value in `start`) to measured runs: their TTFT, E2E and ITL
/// at every load level.
pub fn fit_runs(
    runs: &[validate::Run],
    start: CalibratedConstants,
    free: &[&str],
    iterations: usize,
) -> Result<RunsFit, String> {
    // Only `ok` load levels count; overloaded runs would only cost time.
    let runs: Vec<validate::Run> = runs.iter().filter(|r| r.is_ok()).cloned().collect();
    let runs = &runs[..];
    if runs.is_empty() {
        return Err("no `ok` run to fit".into());
    }
    let keys = CalibratedConstants::KEYS;
    let mut index = Vec::with_capacity(free.len());
    for name in free {
        match keys.iter().position(|k| k.name == *name) {
            Some(i) => index.push(i),
            None => {
                let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
                return Err(format!(
                    "unknown constant `{name}` (the calibrated model has {})",
                    names.join(", ")
                ));
            }
        }
    }
    let base = start.values();
    let constants_of = |x: &[f64]| {
        let mut v = base.clone();
        for (&i, &xi) in index.iter().zip(x) {
            v[i] = from_unbounded(xi, &keys[i]);
        }
        CalibratedConstants::from_values(&v)
    };
    let evaluate = |k: &CalibratedConstants| -> Vec<validate::Row> {
        validate::validate(runs, &calibrated_line(k))
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    };
    let x0: Vec<f64> = index
        .iter()
        .map(|&i| to_unbounded(base[i], &keys[i]))
        .collect();
    let objective = |x: &[f64]| runs_objective(&evaluate(&constants_of(x)));
    let (x, v) = nelder_mead(&objective, &x0, 0.4, iterations);
    let constants = constants_of(&x);
    Ok(RunsFit {
        constants,
        objective: v,
        rows: evaluate(&constants),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points() {
        let m = Measurement::parse("c=100,isl=5000,osl=500,tok_s=920").unwrap();
        assert_eq!(
            (m.concurrency, m.isl, m.osl, m.tokens_per_s),
            (100, 5000, 500, 920.0)
        );
        assert!(Measurement::parse("c=0,isl=1,osl=1,tok_s=1").is_err());
        assert!(Measurement::parse("c=1,isl=1,osl=1").is_err());
        assert!(Measurement::parse("c=1,isl=1,osl=1,tok_s=-3").is_err());
        // A key given twice is a typo, not a choice.
        assert!(
            Measurement::parse("c=1,c=2,isl=1,osl=1,tok_s=3")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn aggregate_below_single_stream_cannot_be_fitted() {
        let single = Measurement::parse("c=1 isl=100 osl=100 tok_s=50").unwrap();
        let agg = Measurement::parse("c=64 isl=100 osl=100 tok_s=40").unwrap();
        assert!(
            check(&[single, agg])
                .unwrap_err()
                .contains("cannot be fitted")
        );
        assert!(check(&[]).is_err());
        let again = Measurement::parse("c=1 isl=100 osl=100 tok_s=55").unwrap();
        assert!(check(&[single, again]).unwrap_err().contains("twice"));
    }
}
