//! `fleetsim size`, `breakeven` and `calibrate`.

use std::collections::HashMap;

use super::options;
use super::*;
use fleetsim::units::format_count;

/// Renders an answer command's chart and writes it with `<name>.json` into
/// `--out` (default `outputs/<scenario>-<name>`), swapped in whole.
fn write_answer<C: plot::Chart>(
    claim: &fleetsim::output::OutputClaim,
    name: &str,
    title: &str,
    value: &impl serde::Serialize,
    chart: &C,
) -> Result<PathBuf> {
    let fig = plot::figure(name, title, chart, plot::WIDTH, 560)
        .map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let mut dir = OutputDir::new(claim)?;
    let mut json = serde_json::to_vec_pretty(value)
        .with_context(|| format!("cannot serialize {name}.json"))?;
    json.push(b'\n');
    dir.add(&format!("{name}.json"), &json)?;
    dir.add(&format!("{name}.svg"), fig.svg.as_bytes())?;
    dir.add(&format!("{name}.png"), &fig.png)?;
    Ok(dir.commit()?)
}

pub(super) fn size(args: SizeArgs) -> Result<()> {
    let opts = Options::new(&args.run)?;
    let src = Source::read(Some(&args.scenario))?;
    let mut base = src.parse()?;
    opts.apply(&mut base);
    if base.search.is_empty() {
        return Err(Failure::Input(format!(
            "{}: nothing to search: write the fields to size as candidate lists, e.g. replicas = {{ search = [1, 2, 3, 4] }}",
            src.origin
        )));
    }
    let candidates = sizing::candidate_count(&base);
    if candidates > args.max_candidates {
        return Err(Failure::Input(format!(
            "the search has {candidates} candidates (every combination of {} search fields), more than --max-candidates {}; narrow the lists",
            base.search.len(),
            args.max_candidates
        )));
    }
    let (n, seed) = opts.search_budget(&base);
    let pool = opts.thread_pool()?;
    let claim = claim_output(&opts.out_dir(&format!("{}-sizing", base.name)))?;
    let bar = opts.progress();
    bar.start(candidates as u64 * n);
    let make = |choices: &HashMap<String, f64>| src.parse_with(choices).map_err(|e| e.to_string());
    let target = SizingTarget {
        slo_attainment: base.slo.target,
        confidence: base.slo.confidence,
    };
    opts.check_event_estimate(&base, &base.name)?;
    let options = opts.sim_options();
    let result = pool
        .install(|| sizing::size(&base, &make, target, n, seed, &options, &bar))
        .map_err(Failure::Input)?;
    bar.finish();
    let written = write_answer(
        &claim,
        "sizing",
        "Cost against SLO risk",
        &result,
        &plot::sizing::SizingChart { result: &result },
    )?;
    if !opts.quiet {
        let why_n = if args.run.replications.is_some() {
            "--replications".to_string()
        } else if n > base.montecarlo.replications {
            format!(
                "the scenario's {} raised to 20, the fewest a {:.0}% confidence can be judged on; --replications to change",
                base.montecarlo.replications,
                base.slo.confidence * 100.0
            )
        } else {
            "the scenario's".to_string()
        };
        println!(
            "{}: {} candidates x {} replications ({why_n}); a candidate passes when {:.0}% of its requests meet the SLO in >= {:.0}% of replications and it is not overloaded\n",
            base.name,
            candidates,
            n,
            base.slo.target * 100.0,
            base.slo.confidence * 100.0
        );
        println!(
            "{:>4}  {:<24}  {:<30}  {:>26}  {:>10}  {:>11}  {:>9}  passes",
            "rank",
            "strategy",
            "candidate",
            "cost / month p50 [p5-p95]",
            "P(SLO met)",
            format!("SLO at {:.0}%", base.slo.confidence * 100.0),
            "TTFT p99"
        );
        for c in result.candidates.iter().take(25) {
            println!(
                "{:>4}  {:<24}  {:<30}  {:>26}  {:>9.1}%  {:>10.2}%  {:>9}  {}",
                c.rank,
                c.strategy,
                c.label,
                format!(
                    "{} [{}-{}]",
                    format_usd(c.cost_per_month_p50_usd),
                    format_usd(c.cost_per_month_p5_usd),
                    format_usd(c.cost_per_month_p95_usd)
                ),
                c.prob_slo_met * 100.0,
                c.slo_attainment_at_confidence * 100.0,
                fleetsim::units::format_duration(c.ttft_p99_s),
                if c.meets_target {
                    "yes"
                } else if c.overloaded_share > 1.0 - base.slo.confidence {
                    "OVERLOADED"
                } else {
                    "no"
                }
            );
        }
        match result.best() {
            Some(b) => println!(
                "\nCheapest that meets the target: {} with {} ({}), {} per month (median; p5 {} - p95 {}).",
                b.strategy,
                b.label,
                sizing::describe(&b.assignment),
                format_usd(b.cost_per_month_p50_usd),
                format_usd(b.cost_per_month_p5_usd),
                format_usd(b.cost_per_month_p95_usd)
            ),
            None => println!("\nNo candidate meets the target; widen the search."),
        }
        println!("Wrote {}", written.display());
    }
    Ok(())
}

pub(super) fn breakeven(args: BreakevenArgs) -> Result<()> {
    if !(args.from > 0.0 && args.to > args.from && args.from.is_finite() && args.to.is_finite())
        || args.steps < 2
    {
        return Err(Failure::Input(format!(
            "the break-even range --from {} --to {} --steps {} is empty: expected 0 < from < to and steps >= 2",
            args.from, args.to, args.steps
        )));
    }
    // Demand multipliers as scenarios bound demand_scale; steps as a chart can show.
    if args.from < 1e-6 || args.to > 1000.0 || args.steps > 1000 {
        return Err(Failure::Input(format!(
            "the break-even range --from {} --to {} --steps {} is not allowed: expected 1e-6 <= from < to <= 1000 and 2 <= steps <= 1000",
            args.from, args.to, args.steps
        )));
    }
    let opts = Options::new(&args.run)?;
    let base = Source::read(Some(&args.scenario))?.parse_for_demand(args.to)?;
    options::no_search_spaces(&base, "breakeven")?;
    // Parsed for the highest volume, so a trace holds every row it replays.
    let highest = breakeven::scale_demand(&base, args.to);
    opts.check_event_estimate(
        &highest,
        &format!("{} at {}x its demand", base.name, args.to),
    )?;
    if !highest.trace_covers_horizon() {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "internal error: the trace was cut before the highest volume's horizon"
        )));
    }
    if base.strategies.iter().all(|s| s.pools.is_empty()) {
        return Err(Failure::Input(
            "every strategy is API-only: there is nothing to break even".into(),
        ));
    }
    let (n, seed) = opts.search_budget(&base);
    let pool = opts.thread_pool()?;
    let claim = claim_output(&opts.out_dir(&format!("{}-breakeven", base.name)))?;
    let bar = opts.progress();
    bar.start(args.steps as u64 * n);
    let ms = breakeven::multipliers(args.from, args.to, args.steps);
    let options = opts.sim_options();
    let result = pool
        .install(|| breakeven::breakeven(&base, &ms, n, seed, &options, &bar))
        .map_err(Failure::Input)?;
    bar.finish();
    let written = write_answer(
        &claim,
        "breakeven",
        "Break-even against the API",
        &result,
        &plot::breakeven::BreakevenChart { result: &result },
    )?;
    if !opts.quiet {
        println!(
            "{}: {} volumes x {} replications; cost per 1M output tokens, median [p5-p95]; x = fails the SLO ({} of requests in {} of replications) or overloaded\n",
            base.name,
            args.steps,
            n,
            pct0(base.slo.target),
            pct0(base.slo.confidence)
        );
        let mut header = format!("{:>22}  {:>10}", "output tokens / month", "API");
        for st in &result.strategies {
            header.push_str(&format!("  {st:>26}"));
        }
        println!("{header}");
        for p in &result.points {
            let mut line = format!(
                "{:>22}  {:>10}",
                format_count(p.monthly_output_tokens),
                format_usd(p.api_per_m_output.p50)
            );
            for (b, c) in p.strategies.iter().zip(&p.checks) {
                line.push_str(&format!(
                    "  {:>26}",
                    format!(
                        "{} [{}-{}] {}",
                        format_usd(b.p50),
                        format_usd(b.p5),
                        format_usd(b.p95),
                        if c.passes { " " } else { "x" }
                    )
                ));
            }
            println!("{line}");
        }
        println!();
        let fmt = |v: Option<f64>| v.map_or("beyond the range".to_string(), format_count);
        let lowest = result.points.first().map(|p| p.monthly_output_tokens);
        for c in &result.crossovers {
            let mut line = if c.volume_p50.is_some() && c.volume_p50 == lowest {
                format!(
                    "{}: already cheaper than the API at the lowest volume swept ({} output tokens/month; lower --from to find the crossing)",
                    c.strategy,
                    fmt(c.volume_p50)
                )
            } else {
                format!(
                    "{}: breaks even with the API at {} output tokens/month (interval {} to {})",
                    c.strategy,
                    fmt(c.volume_p50),
                    fmt(c.volume_low),
                    fmt(c.volume_high)
                )
            };
            match (c.capacity_volume, c.beyond_capacity) {
                (None, _) => line.push_str("; it meets the SLO at no swept volume"),
                (Some(cap), true) => line.push_str(&format!(
                    "; BUT only past its capacity: it meets the SLO up to {} tokens/month",
                    format_count(cap)
                )),
                (Some(cap), false) => {
                    line.push_str(&format!("; meets the SLO up to {}", format_count(cap)))
                }
            }
            if let Some((v, cost)) = c.cheapest_passing {
                line.push_str(&format!(
                    "; cheapest while meeting it: {} per 1M output tokens at {}",
                    format_usd(cost),
                    format_count(v)
                ));
            }
            println!("{line}.");
        }
        println!("Wrote {}", written.display());
    }
    Ok(())
}

pub(super) fn calibrate(args: CalibrateArgs) -> Result<()> {
    if args.runs.is_some() {
        return calibrate_runs(args);
    }
    let points = args
        .points
        .iter()
        .map(|p| Measurement::parse(p).map_err(|e| Failure::Input(format!("--point \"{p}\": {e}"))))
        .collect::<Result<Vec<_>>>()?;
    calibrate::check(&points).map_err(Failure::Input)?;
    let engine = match &args.scenario {
        Some(path) => load_scenario(Some(path))?.engine,
        None => {
            let text = format!(
                "[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n[engine]\nmodel = \"{}\"\ngpu = \"{}\"\nprecision = \"{}\"\ntensor_parallel = {}\nstep_time = {{ model = \"{}\" }}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n",
                args.model.as_deref().unwrap_or("llama-3.1-70b"),
                args.gpu.as_deref().unwrap_or("h100-sxm"),
                args.precision.as_deref().unwrap_or("fp8"),
                args.tp.unwrap_or(2),
                args.step_model.as_deref().unwrap_or("calibrated"),
            );
            scenario::parse(
                &text,
                "<calibrate options>",
                &mut |_| Err("no files".into()),
            )?
            .engine
        }
    };
    let fit = calibrate::fit(&engine, &points).map_err(Failure::Input)?;
    let e = fit.efficiencies;
    let kind = match engine.step_time {
        fleetsim::scenario::StepTime::Roofline { .. } => "roofline",
        _ => "calibrated",
    };
    println!(
        "Fitted {kind} step model for {} on {} x {} ({}):\n",
        engine.model.name,
        EngineFigures::new(&engine, &Default::default()).tensor_parallel,
        engine.gpu.name,
        engine.precision.name()
    );
    println!(
        "[engine]\nmodel = \"{}\"\ngpu = \"{}\"\nprecision = \"{}\"\ntensor_parallel = {}",
        engine.model.key,
        engine.gpu.key,
        engine.precision.name(),
        EngineFigures::new(&engine, &Default::default()).tensor_parallel
    );
    println!("{}\n", calibrate::step_time_line(&engine, e));
    println!(
        "{:>6} {:>7} {:>7} {:>12} {:>12} {:>9}",
        "c", "ISL", "OSL", "measured", "simulated", "residual"
    );
    for (m, sim) in &fit.rows {
        println!(
            "{:>6} {:>7} {:>7} {:>12.1} {:>12.1} {:>+8.1}%",
            m.concurrency,
            m.isl,
            m.osl,
            m.tokens_per_s,
            sim,
            (sim / m.tokens_per_s - 1.0) * 100.0
        );
    }
    println!("\nRMS relative error {:.1}%.", fit.rms_log_error * 100.0);
    Ok(())
}

/// `calibrate --runs`: fits the calibrated step model to measured runs and
/// reports its error, in and (with --score) out of sample.
fn calibrate_runs(args: CalibrateArgs) -> Result<()> {
    use fleetsim::validate;
    let path = args.runs.as_deref().unwrap_or("shipped");
    let text = if path == "shipped" {
        validate::RUNS_CSV.to_string()
    } else {
        fs::read_to_string(path).map_err(|e| Failure::Input(format!("cannot read {path}: {e}")))?
    };
    let all = validate::parse_runs(&text).map_err(Failure::Input)?;
    let pick = |sets: &Option<String>| -> Vec<validate::Run> {
        match sets {
            None => all.clone(),
            Some(s) => {
                let keep: Vec<&str> = s.split(',').map(str::trim).collect();
                all.iter()
                    .filter(|r| keep.contains(&r.dataset.as_str()))
                    .cloned()
                    .collect()
            }
        }
    };
    let train = pick(&args.dataset);
    let start = calibrate::constants_with(
        fleetsim::scenario::defaults::CALIBRATED,
        args.start.as_deref().unwrap_or(""),
    )
    .map_err(|e| Failure::Input(format!("--start: {e}")))?;
    let all_keys: Vec<&str> = fleetsim::scenario::CalibratedConstants::KEYS
        .iter()
        .map(|k| k.name)
        .collect();
    let free: Vec<&str> = match &args.fit {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        None => all_keys,
    };
    let fit = calibrate::fit_runs(&train, start, &free, args.iterations)
        .map_err(|e| Failure::Input(format!("--fit: {e}")))?;
    println!("{}", calibrate::calibrated_line(&fit.constants));
    let report = |name: &str, rows: &[validate::Row]| {
        let ok: Vec<&validate::Row> = rows.iter().filter(|r| r.run.is_ok()).collect();
        println!("\n{name}: {} ok load levels", ok.len());
        for m in validate::METRICS {
            if let Some(s) = validate::error_stats(&ok, m) {
                println!(
                    "  {:<10} median APE {:>5.1}%  mean APE {:>6.1}%  bias {:>+6.1}%",
                    m,
                    s.median_ape * 100.0,
                    s.mean_ape * 100.0,
                    s.median_bias * 100.0
                );
            }
        }
        let over = ok.iter().filter(|r| r.simulated_overload).count();
        println!("  simulated overloads of stable levels: {over}");
    };
    report("fitted on", &fit.rows);
    if args.score.is_some() {
        let test = pick(&args.score);
        let line = calibrate::calibrated_line(&fit.constants);
        let rows: Vec<validate::Row> = validate::validate(&test, &line)
            .into_iter()
            .filter_map(|r| r.ok())
            .collect();
        report("out of sample", &rows);
    }
    Ok(())
}

/// A share as a whole percentage: `99%`.
fn pct0(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}
