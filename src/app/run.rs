//! `fleetsim run` and `fleetsim merge`: replications to result files.

use super::*;

pub(super) fn run(args: RunArgs) -> Result<()> {
    let (mut scenario, text) = load_scenario_text(args.scenario.as_deref())?;
    if let Some(first) = scenario.search.first() {
        return Err(Failure::Input(format!(
            "`{}` is a search space ({:?}); `fleetsim run` needs one value per field (search spaces are for `fleetsim size`)",
            first.field, first.values
        )));
    }
    if let Some(seed) = args.seed {
        scenario.montecarlo.seed = seed;
    }
    if let Some(n) = args.replications {
        if n == 0 {
            return Err(Failure::Input(
                "--replications 0 is not allowed: expected an integer >= 1".into(),
            ));
        }
        scenario.montecarlo.replications = n;
    }
    if args.threads == Some(0) {
        return Err(Failure::Input(
            "--threads 0 is not allowed: expected an integer >= 1".into(),
        ));
    }
    let shard = args
        .shard
        .as_deref()
        .map(ShardSpec::parse)
        .transpose()
        .map_err(Failure::Input)?;
    if let Some(p) = args.until_precision
        && !(p > 0.0 && p < 1.0)
    {
        return Err(Failure::Input(format!(
            "--until-precision {p} is not allowed: expected a fraction between 0 and 1, e.g. 0.01"
        )));
    }
    if args.max_replications == Some(0) {
        return Err(Failure::Input(
            "--max-replications 0 is not allowed: expected an integer >= 1".into(),
        ));
    }
    if shard.is_some() && args.until_precision.is_some() {
        return Err(Failure::Input("--shard and --until-precision do not combine: a precision target needs every replication in one place; shard a fixed --replications count instead".into()));
    }
    if shard.is_some() && args.requests_out.is_some() {
        return Err(Failure::Input(
            "--requests-out is not available with --shard; use it on an unsharded run".into(),
        ));
    }
    let requests_strategy = match &args.requests_strategy {
        None => 0,
        Some(name) => scenario.strategies.iter().position(|s| &s.name == name).ok_or_else(|| {
            Failure::Input(format!(
                "--requests-strategy \"{name}\" is not a strategy of this scenario (it has: {})",
                scenario.strategies.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    let seed = scenario.montecarlo.seed;
    let n = scenario.montecarlo.replications;
    let cap = args.max_replications.unwrap_or(10_000).max(n);
    check_draws(
        &scenario,
        seed,
        if args.until_precision.is_some() {
            cap
        } else {
            n
        },
    )?;
    let meta = RunMeta::of(&scenario, seed);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let bar = progress_bar(args.quiet);
    let options = SimOptions::default();
    let run_indices = |indices: &[u64]| {
        pool.install(|| montecarlo::run_batch(&scenario, seed, indices, &options, &bar))
    };

    if let Some(shard) = shard {
        let indices = shard.indices(n);
        bar.start(indices.len() as u64);
        let batch = run_indices(&indices);
        bar.finish();
        let fp = run_fingerprint(&text, seed, n);
        let series = batch.timeseries.clone();
        let part = Part::new(fp, meta, n, shard, &batch, text.clone(), series);
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name).join("parts"));
        let path = dir.join(format!("part-{}-of-{}.json", shard.k, shard.n));
        write_atomically(&path, &part.to_bytes())?;
        if !args.quiet {
            println!(
                "Shard {}/{}: {} of {} replications. Wrote {}",
                shard.k,
                shard.n,
                batch.replications.len(),
                n,
                path.display()
            );
            println!(
                "When every shard is done: fleetsim merge {}/part-*-of-{}.json --out {}",
                dir.display(),
                shard.n,
                PathBuf::from("outputs").join(&scenario.name).display()
            );
        }
        return Ok(());
    }

    let (batch, precision) = match args.until_precision {
        None => {
            bar.start(n);
            (run_indices(&(0..n).collect::<Vec<_>>()), None)
        }
        Some(target) => {
            // Deterministic batches (never depending on the thread count):
            // the scenario's replications, then that many more (at least 10)
            // until the target or the cap.
            let step = n.max(10);
            let mut batch = montecarlo::Batch::default();
            let mut done = 0;
            let mut next = n.max(2);
            loop {
                bar.start(next);
                batch.extend(run_indices(&(done..next).collect::<Vec<_>>()));
                done = next;
                let achieved =
                    RunSummary::build(&meta, &batch.replications).cost_relative_half_width();
                if achieved <= target || done >= cap {
                    break (
                        batch,
                        Some(Precision {
                            target_relative_half_width: target,
                            achieved_relative_half_width: achieved,
                            reached: achieved <= target,
                        }),
                    );
                }
                next = (done + step).min(cap);
            }
        }
    };
    bar.finish();
    let mut summary = RunSummary::build(&meta, &batch.replications);
    summary.precision = precision;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name));
    let series = batch.timeseries.clone().unwrap_or_default();
    let data = ReportData::build(&meta, &summary, &batch, series, &text);
    let written = write_results(&out, &data, &batch, || {
        if let Some(path) = &args.requests_out {
            write_requests(&scenario, requests_strategy, seed, path)?;
        }
        Ok(())
    })?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        if let Some(p) = &summary.precision {
            println!(
                "\nPrecision: 95% CI half-width of mean total cost {:.2}% of the mean (target {:.2}%) after {} replications: {}",
                p.achieved_relative_half_width * 100.0,
                p.target_relative_half_width * 100.0,
                summary.replications,
                if p.reached {
                    "reached"
                } else {
                    "NOT reached (raise --max-replications)"
                }
            );
        }
        println!("\nWrote {}", written.display());
    }
    Ok(())
}

/// What a run's results depend on, to refuse merging parts of different runs.
pub(super) fn run_fingerprint(text: &str, seed: u64, replications: u64) -> String {
    fingerprint(&[
        text.as_bytes(),
        &seed.to_le_bytes(),
        &replications.to_le_bytes(),
        env!("CARGO_PKG_VERSION").as_bytes(),
    ])
}

/// Writes every result file of a run into `out`, swapped in whole:
/// summary, replications, charts (SVG and PNG) and the HTML report.
/// `extra` runs before the swap (a failure there leaves `out` untouched).
pub(super) fn write_results(
    out: &Path,
    data: &ReportData,
    batch: &montecarlo::Batch,
    extra: impl FnOnce() -> Result<()>,
) -> Result<PathBuf> {
    let figures = plot::report_figures(data).map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let dir = OutputDir::new(out)?;
    dir.add("summary.json", &summary_json(&data.summary))?;
    dir.add(
        "replications.csv",
        &replications_csv(&data.meta, &batch.replications),
    )?;
    for f in &figures {
        dir.add(&format!("{}.svg", f.name), f.svg.as_bytes())?;
        dir.add(&format!("{}.png", f.name), &f.png)?;
    }
    dir.add("report.html", &report_html(data, &figures))?;
    extra()?;
    Ok(dir.commit()?)
}

pub(super) fn merge(args: MergeArgs) -> Result<()> {
    let mut parts = Vec::new();
    for p in &args.parts {
        let bytes = fs::read(p)
            .map_err(|e| Failure::Input(format!("cannot read part {}: {e}", p.display())))?;
        parts.push(
            Part::from_bytes(&bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?,
        );
    }
    let merged = montecarlo::shard::merge(&parts).map_err(Failure::Input)?;
    let summary = RunSummary::build(&merged.meta, &merged.batch.replications);
    let data = ReportData::build(
        &merged.meta,
        &summary,
        &merged.batch,
        merged.timeseries,
        &merged.scenario_text,
    );
    let written = write_results(&args.out, &data, &merged.batch, || Ok(()))?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        println!(
            "\nMerged {} parts. Wrote {}",
            parts.len(),
            written.display()
        );
    }
    Ok(())
}

/// Replays replication 0 of one strategy, streaming every request to `path`.
pub(super) fn write_requests(
    scenario: &Scenario,
    strategy: usize,
    seed: u64,
    path: &Path,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".requests.tmp-{}", std::process::id()));
    let file =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut csv = RequestCsv::new(BufWriter::new(file));
    let draws = montecarlo::draws_for(scenario, seed, 0);
    simulate(
        scenario,
        strategy,
        &draws,
        seed,
        0,
        &SimOptions::default(),
        &mut csv,
    );
    let failed = csv.error.take();
    let flushed = csv.into_inner().into_inner().map_err(|e| e.into_error());
    if let Some(e) = failed.or(flushed.err()) {
        let _ = fs::remove_file(&tmp);
        return Err(Failure::Runtime(
            anyhow!(e).context(format!("cannot write {}", path.display())),
        ));
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
