//! `fleetsim validate`: simulate the measured runs, print the comparison
//! and the error summary, write them to `outputs/validation/`.

use fleetsim::validate::{self, METRICS, Row};

use super::*;

pub(super) fn validate(args: ValidateArgs) -> Result<()> {
    let text = match &args.runs {
        None => validate::RUNS_CSV.to_string(),
        Some(p) => fs::read_to_string(p)
            .map_err(|e| Failure::Input(format!("cannot read {}: {e}", p.display())))?,
    };
    let mut runs = validate::parse_runs(&text).map_err(Failure::Input)?;
    if let Some(ds) = &args.dataset {
        let keep: Vec<&str> = ds.split(',').map(str::trim).collect();
        let mut known: Vec<&str> = runs.iter().map(|r| r.dataset.as_str()).collect();
        known.sort();
        known.dedup();
        if let Some(bad) = keep.iter().find(|d| !known.contains(d)) {
            return Err(Failure::Input(format!(
                "--dataset {bad}: the runs hold no such dataset (they hold {})",
                known.join(", ")
            )));
        }
        runs.retain(|r| keep.contains(&r.dataset.as_str()));
    }
    if runs.is_empty() {
        return Err(Failure::Input(
            "no measured run to validate: the file holds none".into(),
        ));
    }
    let extra = args.engine.clone().unwrap_or_default();
    let claim = claim_output(
        &args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs/validation")),
    )?;
    let results = validate::validate(&runs, &extra);
    let mut rows: Vec<&Row> = Vec::new();
    let mut out = String::new();
    out.push_str(&format!(
        "{:<54} {:>2} {:>3}  {:>17} {:>17} {:>17} {:>17} {:>15}  {}\n",
        "run",
        "ds",
        "lvl",
        "TTFT mean ms",
        "TTFT p99 ms",
        "E2E mean ms",
        "E2E p99 ms",
        "ITL ms",
        "status"
    ));
    let cell = |r: &Row, m: &str| match (r.measured.get(m), r.predicted.get(m)) {
        (Some(a), Some(b)) => format!("{a:>7.1}/{b:<7.1}{:>+4.0}%", (b / a - 1.0) * 100.0),
        (None, Some(b)) => format!("      -/{b:<7.1}     "),
        _ => "-".into(),
    };
    for res in &results {
        match res {
            Ok(r) => {
                rows.push(r);
                let name: String = r
                    .run
                    .run
                    .chars()
                    .rev()
                    .take(54)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                out.push_str(&format!(
                    "{:<54} {:>2} {:>3}  {} {} {} {} {}  {}{}\n",
                    name,
                    r.run.dataset,
                    r.run.stage,
                    cell(r, "ttft_mean"),
                    cell(r, "ttft_p99"),
                    cell(r, "e2e_mean"),
                    cell(r, "e2e_p99"),
                    cell(r, "itl_mean"),
                    r.run.status,
                    if r.simulated_overload {
                        ", SIMULATED OVERLOAD"
                    } else {
                        ""
                    }
                ));
            }
            Err(skipped) => {
                let (r, e) = &**skipped;
                out.push_str(&format!(
                    "{:<54} {:>2} {:>3}  not simulated: {e}\n",
                    r.run, r.dataset, r.stage
                ))
            }
        }
    }
    let ok: Vec<&Row> = rows.iter().copied().filter(|r| r.run.is_ok()).collect();
    let mut summary = format!(
        "\nAbsolute error over the {} `ok` load levels (measured/predicted per row above):\n{:<12} {:>4} {:>11} {:>9} {:>12}\n",
        ok.len(),
        "metric",
        "n",
        "median APE",
        "mean APE",
        "median bias"
    );
    for m in METRICS {
        if let Some(s) = validate::error_stats(&ok, m) {
            summary.push_str(&format!(
                "{:<12} {:>4} {:>10.1}% {:>8.1}% {:>+11.1}%\n",
                m,
                s.n,
                s.median_ape * 100.0,
                s.mean_ape * 100.0,
                s.median_bias * 100.0
            ));
        }
    }
    for (title, key) in [
        (
            "dataset",
            Box::new(|r: &Row| r.run.dataset.clone()) as Box<dyn Fn(&Row) -> String>,
        ),
        (
            "model, TP",
            Box::new(|r: &Row| format!("{} tp{}", r.run.model, r.run.tp)),
        ),
        (
            "workload",
            Box::new(|r: &Row| r.run.workload.chars().take(24).collect()),
        ),
    ] {
        summary.push_str(&format!(
            "\nMedian APE by {title}:\n{:<26} {:>4} {:>10} {:>10} {:>10} {:>10}\n",
            "", "n", "TTFT mean", "E2E mean", "E2E p99", "ITL mean"
        ));
        for (g, rs) in validate::by_group(&ok, key) {
            let med = |m: &str| {
                validate::error_stats(&rs, m)
                    .map_or("-".to_string(), |s| format!("{:.1}%", s.median_ape * 100.0))
            };
            summary.push_str(&format!(
                "{:<26} {:>4} {:>10} {:>10} {:>10} {:>10}\n",
                g,
                rs.len(),
                med("ttft_mean"),
                med("e2e_mean"),
                med("e2e_p99"),
                med("itl_mean")
            ));
        }
    }
    let overloaded_wrongly = ok.iter().filter(|r| r.simulated_overload).count();
    summary.push_str(&format!(
        "\nLoad levels simulated as overloaded that were stable on the real engine: {overloaded_wrongly}\n"
    ));
    if !args.quiet {
        print!("{out}");
    }
    print!("{summary}");
    let mut outd = OutputDir::new(&claim)?;
    let mut json = serde_json::to_vec_pretty(&rows).context("cannot serialize validation.json")?;
    json.push(b'\n');
    outd.add("validation.json", &json)?;
    outd.add("validation.txt", format!("{out}{summary}").as_bytes())?;
    let written = outd.commit()?;
    if !args.quiet {
        println!("Wrote {}", written.display());
    }
    Ok(())
}
