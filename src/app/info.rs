//! `fleetsim check` and `fleetsim presets`.

use super::*;

pub(super) fn check(path: &Path) -> Result<()> {
    let s = load_scenario(Some(path))?;
    let medians = s.uncertain.medians();
    let f = EngineFigures::new(&s.engine, &medians);
    println!("{}: valid", path.display());
    println!(
        "  horizon {} s, {} strategies, {} uncertain inputs",
        s.horizon_s,
        s.strategies.len(),
        s.uncertain.inputs.len()
    );
    println!(
        "  engine: {} on {} x {} ({}), weights {:.1} GB, KV {:.0} B/token, KV capacity {} tokens per replica",
        s.engine.model.name,
        f.tensor_parallel,
        s.engine.gpu.name,
        s.engine.precision.name(),
        f.weight_bytes / 1e9,
        f.kv_bytes_per_token,
        f.kv_capacity_tokens
    );
    let notes = fleetsim::validate::Coverage::shipped().scenario_notes(&s);
    if notes.is_empty() {
        println!(
            "  fidelity: every engine figure is inside the validated range (README, \"Fidelity\")"
        );
    } else {
        println!("  fidelity: outside the validated range (README, \"Fidelity\"):");
        for n in &notes {
            println!("    - {n}");
        }
    }
    for st in &s.strategies {
        let pools: Vec<String> = st
            .pools
            .iter()
            .map(|p| format!("{} ({})", p.name, p.kind.kind_name()))
            .collect();
        println!(
            "  strategy {}: {}",
            st.name,
            if pools.is_empty() {
                "API only".into()
            } else {
                pools.join(", ")
            }
        );
    }
    Ok(())
}

pub fn presets_text() -> String {
    let mut out =
        String::from("GPU presets (dense TFLOPS; link = GPU-to-GPU GB/s per direction)\n");
    out.push_str(&format!(
        "  {:<10} {:>6} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}  {}\n",
        "key", "mem GB", "TB/s", "bf16", "fp8", "fp4", "link", "TDP W", "source"
    ));
    for g in presets::gpus() {
        let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(
            "  {:<10} {:>6.0} {:>7.3} {:>7.0} {:>7} {:>7} {:>6.0} {:>6.0}  {}\n",
            g.key,
            g.memory_gb,
            g.hbm_tb_s,
            g.bf16_tflops,
            opt(g.fp8_tflops),
            opt(g.fp4_tflops),
            g.link_gb_s,
            g.tdp_watts,
            g.source
        ));
    }
    out.push_str("\nModel presets (parameters in billions; KV values per token per layer)\n");
    out.push_str(&format!(
        "  {:<16} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8}  {}\n",
        "key", "params", "active", "layers", "hidden", "KV/lyr", "experts", "source"
    ));
    for m in presets::models() {
        let experts = if m.is_moe() {
            format!("{}/{}", m.experts_per_token, m.experts)
        } else {
            "-".into()
        };
        out.push_str(&format!(
            "  {:<16} {:>7.1} {:>7.1} {:>6.0} {:>6.0} {:>6.0} {:>8}  {}\n",
            m.key,
            m.params_b,
            m.active_params_b,
            m.layers,
            m.hidden,
            m.kv_values_per_layer,
            experts,
            m.source
        ));
    }
    // Every cited source, so the output stands on its own.
    let mut cited: Vec<String> = Vec::new();
    for s in presets::gpus()
        .iter()
        .map(|g| g.source.clone())
        .chain(presets::models().iter().map(|m| m.source.clone()))
    {
        for k in presets::sources::cited_keys(&s) {
            if !cited.contains(&k) {
                cited.push(k);
            }
        }
    }
    out.push_str("\nSources (docs/sources.md has every default's and price's sources too)\n");
    let index = presets::sources::source_index();
    for k in &cited {
        let text = index
            .iter()
            .find(|e| &e.key == k)
            .map_or("(not in the source index)", |e| e.text.as_str());
        out.push_str(&format!("  [{k}] {text}\n"));
    }
    out
}
