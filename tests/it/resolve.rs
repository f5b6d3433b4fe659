//! Resolving a scenario: missing fields named, custom model and GPU tables
//! (with and without a preset to start from), per-pool hardware, and the
//! consistency checks between fields. Each error must name the field and,
//! where the field is written, its line.

use fleetsim::scenario::{EngineFigures, Scenario, ScenarioError, parse};

fn parse_text(text: &str) -> Result<Scenario, Box<ScenarioError>> {
    parse(text, "t.toml", &mut |p| Err(format!("no file {p}")))
}

/// Parses text that must be refused; returns the error.
#[track_caller]
fn refused(text: &str) -> ScenarioError {
    match parse_text(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => *e,
    }
}

/// Asserts the error names `field` (and, when given, `line`).
#[track_caller]
fn names(e: &ScenarioError, field: &str, line: Option<usize>) {
    assert_eq!(e.field(), Some(field), "{e}");
    assert_eq!(e.location().line, line, "{e}");
    let text = e.to_string();
    assert!(text.contains(field), "the message names the field: {text}");
    if let Some(l) = line {
        assert!(text.contains(&format!("line {l}")), "{text}");
    }
}

const WORKLOAD: &str = "[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n";
const STRATEGY: &str =
    "[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n";

fn with_engine(engine: &str) -> String {
    format!("{WORKLOAD}[engine]\n{engine}\n{STRATEGY}")
}

#[test]
fn missing_sections_and_fields_are_named() {
    let e = refused(STRATEGY);
    names(&e, "workload", None);
    assert!(e.to_string().contains("is missing"), "{e}");

    let e = refused(&format!("[workload]\nprompt_tokens = 10\n{STRATEGY}"));
    names(&e, "workload.arrivals", Some(1));

    let e = refused(WORKLOAD);
    names(&e, "strategy", None);
    assert!(e.to_string().contains("at least one [[strategy]]"), "{e}");
}

#[test]
fn a_custom_model_table_needs_every_figure_and_is_used() {
    // Without a preset, each of the five figures is required, by name.
    let full = "model = { name = \"tiny\", params_b = 1.0, layers = 16, hidden = 2048, kv_heads = 4, head_dim = 64 }";
    for missing in ["params_b", "layers", "hidden", "kv_heads", "head_dim"] {
        let table = full
            .replace(&format!("{missing} = "), "zzz = ")
            .replace(", zzz = 1.0", "")
            .replace(", zzz = 16", "")
            .replace(", zzz = 2048", "")
            .replace(", zzz = 4", "")
            .replace(", zzz = 64", "");
        let e = refused(&with_engine(&table));
        names(&e, &format!("engine.model.{missing}"), Some(4));
    }
    // The complete table resolves to exactly those figures: 1B params at
    // FP8 (1 GB), KV per token = 16 layers × 2 × 4 × 64 values × 1 B.
    let s = parse_text(&with_engine(&format!("{full}\ntensor_parallel = 1"))).unwrap();
    let m = &s.engine.model;
    assert_eq!(
        (m.name.as_str(), m.params_b, m.active_params_b),
        ("tiny", 1.0, 1.0)
    );
    let f = EngineFigures::new(&s.engine, &Default::default());
    assert_eq!(f.weight_bytes, 1e9);
    assert_eq!(f.kv_bytes_per_token, 16.0 * 2.0 * 4.0 * 64.0);
    // H100 as vLLM sizes it (the default mode): CUDA reports
    // 80 × 1,069,010,124.8 B, × 0.9, minus the 1.7 GB engine reserve and
    // 1 GB of weights, over 8,192 B per token.
    assert_eq!(
        f.kv_capacity_tokens,
        ((80.0 * 1_069_010_124.8 * 0.9 - 1.7e9 - 1e9) / 8192.0f64).floor() as u64
    );
}

#[test]
fn a_preset_model_with_overrides_keeps_the_rest() {
    let s = parse_text(&with_engine(
        "model = { preset = \"llama-3.1-8b\", layers = 16 }\ntensor_parallel = 1",
    ))
    .unwrap();
    let m = &s.engine.model;
    assert_eq!(
        (m.key.as_str(), m.layers, m.hidden),
        ("llama-3.1-8b", 16.0, 4096.0)
    );
    // KV per token follows the override: 16 layers × 2 × 8 × 128 × 1 B (FP8).
    let f = EngineFigures::new(&s.engine, &Default::default());
    assert_eq!(f.kv_bytes_per_token, 16.0 * 2.0 * 8.0 * 128.0);
}

#[test]
fn model_figures_must_be_consistent() {
    let e = refused(&with_engine(
        "model = { preset = \"llama-3.1-8b\", active_params_b = 9.0 }",
    ));
    names(&e, "engine.model.active_params_b", Some(4));
    let e = refused(&with_engine(
        "model = { preset = \"mixtral-8x7b\", experts_per_token = 9 }",
    ));
    names(&e, "engine.model.experts_per_token", Some(4));
    let e = refused(&with_engine(
        "model = { preset = \"llama-3.1-8b\", layers = { uniform = [30, 34] } }",
    ));
    names(&e, "engine.model.layers", Some(4));
    assert!(e.to_string().contains("plain number"), "{e}");
}

#[test]
fn a_custom_gpu_table_needs_its_figures_and_is_used() {
    let full = "gpu = { name = \"toy\", memory_gb = 24, hbm_tb_s = 1.0, bf16_tflops = 100 }";
    for missing in ["memory_gb", "hbm_tb_s", "bf16_tflops"] {
        let table = match missing {
            "memory_gb" => full.replace("memory_gb = 24, ", ""),
            "hbm_tb_s" => full.replace("hbm_tb_s = 1.0, ", ""),
            _ => full.replace(", bf16_tflops = 100", ""),
        };
        let e = refused(&with_engine(&format!(
            "model = \"llama-3.1-8b\"\nprecision = \"fp8\"\ntensor_parallel = 1\n{table}"
        )));
        names(&e, &format!("engine.gpu.{missing}"), Some(7));
    }
    // 24 GB (as CUDA reports it) × 0.9 − 1.7 GB reserved − 8.03 GB of FP8
    // weights, over 64 KiB per token.
    let s = parse_text(&with_engine(&format!(
        "model = \"llama-3.1-8b\"\nprecision = \"fp8\"\ntensor_parallel = 1\n{full}"
    )))
    .unwrap();
    assert_eq!(s.engine.gpu.name, "toy");
    assert_eq!(s.engine.gpu.fp8_tflops, None, "no FP8 figure given");
    let f = EngineFigures::new(&s.engine, &Default::default());
    assert_eq!(
        f.kv_capacity_tokens,
        ((24.0 * 1_069_010_124.8 * 0.9 - 1.7e9 - 8.03e9) / 65_536.0f64).floor() as u64
    );
    // A preset with one figure overridden.
    let s = parse_text(&with_engine(
        "model = \"llama-3.1-8b\"\ntensor_parallel = 1\ngpu = { preset = \"h100-sxm\", memory_gb = 40 }",
    ))
    .unwrap();
    assert_eq!(
        (s.engine.gpu.memory_gb, s.engine.gpu.hbm_tb_s),
        (40.0, 3.35)
    );
}

#[test]
fn a_pool_runs_its_own_hardware_and_must_fit_it() {
    let text = format!(
        "{WORKLOAD}[engine]\nmodel = \"llama-3.1-70b\"\nprecision = \"fp8\"\ntensor_parallel = 2\n[[strategy]]\npools = [\n  {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }},\n  {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0, gpu = \"a100-80gb\", tensor_parallel = 4 }},\n]\n"
    );
    let s = parse_text(&text).unwrap();
    let pools = &s.strategies[0].pools;
    assert_eq!(pools[0].engine.gpu.key, "h100-sxm");
    assert_eq!(pools[1].engine.gpu.key, "a100-80gb");
    assert_eq!(
        EngineFigures::new(&pools[1].engine, &Default::default()).tensor_parallel,
        4.0
    );
    // 70 GB of FP8 weights do not fit one L4 (24 GB): the pool's field is named.
    let e = refused(&text.replace(
        "gpu = \"a100-80gb\", tensor_parallel = 4",
        "gpu = \"l4\", tensor_parallel = 1",
    ));
    names(&e, "strategy[0].pools[1].tensor_parallel", Some(10));
}

#[test]
fn fields_that_exclude_each_other_are_refused() {
    let e = refused(&format!(
        "[workload]\narrivals = {{ process = \"diurnal\", hourly = [{}], mean_rate = 2.0 }}\n{STRATEGY}",
        vec!["1.0"; 24].join(", ")
    ));
    names(&e, "workload.arrivals", Some(2));
    let e = refused(&format!(
        "[workload]\narrivals = {{ process = \"mmpp\", rates = [1.0, 2.0], mean_sojourn = [\"1m\"] }}\n{STRATEGY}"
    ));
    names(&e, "workload.arrivals.mean_sojourn", Some(2));
    let e = refused(&format!(
        "{WORKLOAD}[[strategy]]\npools = [ {{ kind = \"serverless\", max_replicas = 2, price_per_gpu_second = 0.001, price_per_gpu_hour = 3.6 }} ]\n"
    ));
    names(&e, "strategy[0].pools[0].price_per_gpu_second", Some(4));
    let e = refused(&format!(
        "{WORKLOAD}[[strategy]]\npools = [ {{ kind = \"on_demand\", min_replicas = 3, max_replicas = 2, price_per_gpu_hour = 3.0 }} ]\n"
    ));
    names(&e, "strategy[0].pools[0].min_replicas", Some(4));
    let e = refused(&format!(
        "{WORKLOAD}[[strategy]]\nname = \"a\"\n{}[[strategy]]\nname = \"a\"\n{}",
        &STRATEGY["[[strategy]]\n".len()..],
        &STRATEGY["[[strategy]]\n".len()..]
    ));
    names(&e, "strategy[1].name", Some(7));
}
