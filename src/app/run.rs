//! `fleetsim run` and `fleetsim merge`: replications to result files.

use super::options::{self, RunFlags};
use super::*;

pub(super) fn run(args: RunArgs) -> Result<()> {
    let opts = Options::new(&args.run)?;
    let source = Source::read(args.scenario.as_deref())?;
    let mut scenario = source.parse()?;
    let text = source.text;
    options::no_search_spaces(&scenario, "run")?;
    opts.apply(&mut scenario);
    let flags = RunFlags::new(&args, &scenario)?;
    // The results folder is checked and locked before any work.
    let claim = match flags.shard {
        None => Some(claim_output(&opts.out_dir(&scenario.name))?),
        Some(_) => None,
    };
    if let (Some(c), Some((path, _))) = (&claim, &flags.requests_out) {
        // The results folder is replaced as a whole: a file inside it would
        // be lost, or would stop the results from being moved in.
        let inside =
            |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if inside(path).starts_with(inside(c.target())) {
            return Err(Failure::Input(format!(
                "--requests-out {} is inside the results folder {}: write it elsewhere",
                path.display(),
                c.target().display()
            )));
        }
    }
    let seed = scenario.montecarlo.seed;
    let n = scenario.montecarlo.replications;
    let cap = flags.max_replications.max(n);
    check_draws(
        &scenario,
        seed,
        if flags.until_precision.is_some() {
            cap
        } else {
            n
        },
    )?;
    let meta = RunMeta::of(&scenario, seed);
    opts.check_event_estimate(&scenario, &scenario.name)?;

    let pool = opts.thread_pool()?;
    let bar = opts.progress();
    let options = opts.sim_options();
    let run_indices = |indices: &[u64]| {
        pool.install(|| montecarlo::run_batch(&scenario, seed, indices, &options, &bar))
    };
    // An unsharded run keeps its finished replications when interrupted.
    let interrupt = |indices: &[u64]| {
        pool.install(|| {
            montecarlo::run_batch_until(&scenario, seed, indices, &options, &bar, &INTERRUPTED)
        })
    };

    if let Some(shard) = flags.shard {
        let dir = opts
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name).join("parts"));
        let path = dir.join(format!("part-{}-of-{}.json", shard.k, shard.n));
        check_part_target(&dir, &path)?;
        let indices = shard.indices(n);
        bar.start(indices.len() as u64);
        // Replication 0 alone first: its own histograms let a merge of a
        // scenario with nothing random keep just it, as an unsharded run does.
        let (first, rest) = indices.split_at(indices.len().min(1));
        let holds_zero = first == [0];
        let mut batch = run_indices(if holds_zero { first } else { &[] });
        let zero_latencies = holds_zero.then(|| batch.latencies.clone());
        batch.extend(run_indices(if holds_zero { rest } else { &indices }));
        bar.finish();
        check_event_budget(&scenario, &batch, opts.max_events)?;
        let fp = run_fingerprint(&text, seed, n);
        let series = batch.timeseries.clone();
        let mut part = Part::new(fp, meta, n, shard, &batch, text.clone(), series);
        part.set_first_latencies(zero_latencies);
        write_atomically(&path, &part.to_bytes())?;
        if !opts.quiet {
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

    let out = claim.as_ref().expect("claimed for an unsharded run");
    let fp = run_fingerprint(&text, seed, n);
    let resumed = if flags.resume {
        Some(read_resume_file(out.target(), &fp)?)
    } else {
        None
    };
    catch_interrupts();
    let mut deterministic = false;
    let (batch, precision, cut) = match flags.until_precision {
        None => {
            let mut batch = resumed.unwrap_or_default();
            let mut start = batch.replications.len() as u64;
            bar.start(n - start);
            // Nothing random in the scenario: replication 1 repeats 0, and so
            // would every other. One replication is the whole answer.
            let mut cut = false;
            if start == 0 && n >= 2 {
                let (first, c0) = interrupt(&[0]);
                let (second, c1) = interrupt(&[1]);
                cut = c0 || c1;
                let same = !cut && montecarlo::same_histories(&first, &second);
                batch.extend(first);
                if same {
                    deterministic = true;
                    start = n;
                } else {
                    batch.extend(second);
                    start = batch.replications.len() as u64;
                }
            }
            if !cut && start < n {
                let (more, c) = interrupt(&(start..n).collect::<Vec<_>>());
                batch.extend(more);
                cut = c;
            }
            (batch, None, cut)
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
                let (more, cut) = interrupt(&(done..next).collect::<Vec<_>>());
                batch.extend(more);
                done = next;
                let achieved =
                    RunSummary::build(&meta, &batch.replications).cost_relative_half_width();
                if achieved <= target || done >= cap || cut {
                    break (
                        batch,
                        Some(Precision {
                            target_relative_half_width: target,
                            achieved_relative_half_width: achieved,
                            reached: achieved <= target,
                        }),
                        cut,
                    );
                }
                next = (done + step).min(cap);
            }
        }
    };
    bar.finish();
    check_event_budget(&scenario, &batch, opts.max_events)?;
    let completed = batch.replications.len() as u64;
    if cut && completed == 0 {
        return Err(Failure::Interrupted(
            "interrupted before any replication finished; nothing written".into(),
        ));
    }
    let mut summary = RunSummary::build(&meta, &batch.replications);
    summary.precision = precision;
    summary.deterministic = deterministic;
    if cut {
        summary.partial = Some(fleetsim::summary::Partial {
            completed,
            requested: n.max(completed),
        });
    }
    let series = batch.timeseries.clone().unwrap_or_default();
    let mut data = ReportData::build(&meta, &summary, &batch, series, &text);
    data.fidelity = Some(fleetsim::validate::Coverage::shipped().scenario_notes(&scenario));
    // An interrupted run of a fixed count leaves what `--resume` continues from.
    let resume = (cut && precision.is_none())
        .then(|| Part::resume_file(fp.clone(), meta.clone(), n, &batch, text.clone()).to_bytes());
    let written = write_results(out, &data, &batch, resume.as_deref(), || {
        if let Some((path, strategy)) = &flags.requests_out {
            write_requests(&scenario, *strategy, seed, path)?;
        }
        Ok(())
    })?;
    if !opts.quiet {
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
        if let Some(notes) = data.fidelity.as_ref().filter(|n| !n.is_empty()) {
            println!(
                "\nFidelity: {} engine figure(s) outside the range validated against real vLLM runs (listed by `fleetsim check` and in the report).",
                notes.len()
            );
        }
        println!("\nWrote {}", written.display());
    }
    if let Some(p) = summary.partial {
        return Err(Failure::Interrupted(format!(
            "interrupted: wrote the {} of {} replications that finished (0 to {}) to {}, marked partial in summary.json{}",
            p.completed,
            p.requested,
            p.completed - 1,
            written.display(),
            if resume.is_some() {
                "; the same command with --resume runs the rest"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Set by the first Ctrl-C or SIGTERM: no new replication starts.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The first Ctrl-C (or SIGTERM, SIGHUP) lets the running replications
/// finish and writes what is done; a second one exits at once.
fn catch_interrupts() {
    use std::sync::atomic::Ordering;
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\nInterrupted: finishing the replications in progress, then writing the finished ones (again to quit at once)."
        );
    });
}

/// Refuses results in which a history was stopped at the event budget.
pub(super) fn check_event_budget(
    scenario: &Scenario,
    batch: &montecarlo::Batch,
    max_events: u64,
) -> Result<()> {
    for r in &batch.replications {
        if let Some(s) = r.outcomes.iter().position(|o| o.stopped_at_event_budget) {
            return Err(Failure::Input(format!(
                "replication {} of strategy \"{}\" was stopped at its budget, {max_events} events (--max-events) or {} requests in the system at once: at this demand and horizon the history would take too long or too much memory to simulate. Shorten the horizon, lower the demand, add capacity, or raise --max-events",
                r.index,
                scenario.strategies[s].name,
                fleetsim::simulation::DEFAULT_MAX_IN_SYSTEM
            )));
        }
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
/// A shard writes one file into a folder other shards share: the folder may
/// hold anything, but the part file may only replace an earlier part file.
fn check_part_target(dir: &std::path::Path, path: &std::path::Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Input(format!(
            "--out {} is not a folder: a shard writes its part file into a folder",
            dir.display()
        )));
    }
    match fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        // Any version's part file: its `format` names it.
        Ok(m)
            if m.is_file()
                && fs::read(path).is_ok_and(|b| {
                    serde_json::from_slice::<serde_json::Value>(&b).is_ok_and(|v| {
                        v["format"]
                            .as_str()
                            .is_some_and(|f| f.starts_with("fleetsim-part/"))
                    })
                }) =>
        {
            Ok(())
        }
        Ok(_) => Err(Failure::Input(format!(
            "{} exists and is not a fleetsim part file: it is not replaced; choose another --out",
            path.display()
        ))),
    }
}

/// The file an interrupted run leaves for `--resume`.
const RESUME_FILE: &str = "resume.json";

/// The finished replications of an interrupted run of this same run.
fn read_resume_file(dir: &std::path::Path, fingerprint: &str) -> Result<montecarlo::Batch> {
    let path = dir.join(RESUME_FILE);
    let bytes = fs::read(&path).map_err(|e| {
        Failure::Input(format!(
            "--resume: cannot read {} ({e}); an interrupted run leaves it in its results folder",
            path.display()
        ))
    })?;
    let part = Part::from_bytes(&bytes)
        .map_err(|e| Failure::Input(format!("--resume: {}: {e}", path.display())))?;
    if part.fingerprint != fingerprint {
        return Err(Failure::Input(format!(
            "--resume: {} is of another run: the scenario text, seed, replication count or fleetsim version differ from the interrupted one",
            path.display()
        )));
    }
    part.resumed()
        .map_err(|e| Failure::Input(format!("--resume: {}: {e}", path.display())))
}

pub(super) fn write_results(
    out: &fleetsim::output::OutputClaim,
    data: &ReportData,
    batch: &montecarlo::Batch,
    resume: Option<&[u8]>,
    extra: impl FnOnce() -> Result<()>,
) -> Result<PathBuf> {
    let figures = plot::report_figures(data).map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let mut dir = OutputDir::new(out)?;
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
    if let Some(bytes) = resume {
        dir.add(RESUME_FILE, bytes)?;
    }
    extra()?;
    Ok(dir.commit()?)
}

pub(super) fn merge(args: MergeArgs) -> Result<()> {
    let claim = claim_output(&args.out)?;
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
    let mut summary = RunSummary::build(&merged.meta, &merged.batch.replications);
    summary.deterministic = merged.deterministic;
    let mut data = ReportData::build(
        &merged.meta,
        &summary,
        &merged.batch,
        merged.timeseries,
        &merged.scenario_text,
    );
    // The scenario travels as text; one that needs its files (a trace)
    // cannot be re-read here, and its report then says nothing on fidelity.
    data.fidelity =
        fleetsim::scenario::parse(&merged.scenario_text, "<merged scenario>", &mut |_| {
            Err("no files".into())
        })
        .ok()
        .map(|s| fleetsim::validate::Coverage::shipped().scenario_notes(&s));
    let written = write_results(&claim, &data, &merged.batch, None, || Ok(()))?;
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
    let front_end = scenario.strategies[strategy]
        .pools
        .iter()
        .any(|p| p.engine.admission == Admission::Vllm);
    let mut csv = RequestCsv::new(BufWriter::new(file), front_end);
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
