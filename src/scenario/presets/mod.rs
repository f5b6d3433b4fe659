//! GPU and model presets, each figure with its public source.
//!
//! Source keys in brackets resolve in the source index of `docs/sources.md`;
//! figures marked "unverified" there are marked so here too. A scenario can
//! override any field (`gpu = { preset = "h100-sxm", hbm_tb_s = 3.0 }`).

/// One GPU's figures. Throughputs are dense (no sparsity).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSpec {
    pub key: String,
    pub name: String,
    pub memory_gb: f64,
    /// HBM/GDDR bandwidth, TB/s (1e12 B/s).
    pub hbm_tb_s: f64,
    pub bf16_tflops: f64,
    /// `None`: no FP8 tensor cores; FP8 weights compute at the BF16 rate.
    pub fp8_tflops: Option<f64>,
    /// `None`: no FP4 tensor cores; falls back to FP8, then BF16.
    pub fp4_tflops: Option<f64>,
    /// GPU-to-GPU bandwidth per direction, GB/s (NVLink, or PCIe without it).
    pub link_gb_s: f64,
    /// Fixed latency of one all-reduce call, microseconds.
    pub allreduce_latency_us: f64,
    pub tdp_watts: f64,
    pub source: String,
}

/// One model's architecture figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub key: String,
    pub name: String,
    /// Total parameters, billions.
    pub params_b: f64,
    /// Parameters used per token, billions (= total for dense models).
    pub active_params_b: f64,
    pub layers: f64,
    pub hidden: f64,
    pub kv_heads: f64,
    pub head_dim: f64,
    /// KV values cached per token per layer: 2 × kv_heads × head_dim for
    /// standard attention, the latent width for multi-head latent attention.
    pub kv_values_per_layer: f64,
    /// Routed experts (0 for dense models).
    pub experts: f64,
    pub experts_per_token: f64,
    /// Parameters inside routed experts, billions.
    pub expert_params_b: f64,
    /// Vocabulary size; 0 when unknown (the embedding and output head are
    /// then counted as ordinary weights).
    pub vocab: f64,
    /// One matrix serves as input embedding and output head.
    pub tied_embeddings: bool,
    pub source: String,
}

impl ModelSpec {
    pub fn is_moe(&self) -> bool {
        self.experts > 0.0
    }

    /// Parameters of the output head (vocab × hidden), billions: computed
    /// only for positions that produce logits.
    pub fn head_params_b(&self) -> f64 {
        self.vocab * self.hidden / 1e9
    }

    /// Parameters of the input embedding that is not also the output head,
    /// billions: a table lookup, neither computed nor read in full.
    pub fn lookup_params_b(&self) -> f64 {
        if self.tied_embeddings {
            0.0
        } else {
            self.head_params_b()
        }
    }
}

mod gpus;
mod models;
pub mod sources;

use gpus::{GPUS, Gpu};
use models::{MODELS, Model};

fn gpu_spec(g: &Gpu) -> GpuSpec {
    GpuSpec {
        key: g.key.into(),
        name: g.name.into(),
        memory_gb: g.memory_gb,
        hbm_tb_s: g.hbm_tb_s,
        bf16_tflops: g.bf16,
        fp8_tflops: g.fp8,
        fp4_tflops: g.fp4,
        link_gb_s: g.link_gb_s,
        allreduce_latency_us: g.allreduce_us,
        tdp_watts: g.tdp_watts,
        source: g.source.into(),
    }
}

fn model_spec(m: &Model) -> ModelSpec {
    ModelSpec {
        key: m.key.into(),
        name: m.name.into(),
        params_b: m.params_b,
        active_params_b: m.active_params_b,
        layers: m.layers,
        hidden: m.hidden,
        kv_heads: m.kv_heads,
        head_dim: m.head_dim,
        kv_values_per_layer: m
            .kv_values_per_layer
            .unwrap_or(2.0 * m.kv_heads * m.head_dim),
        experts: m.experts,
        experts_per_token: m.experts_per_token,
        expert_params_b: m.expert_params_b,
        vocab: m.vocab,
        tied_embeddings: m.tied_embeddings,
        source: m.source.into(),
    }
}

/// The GPU preset named `key`.
pub fn gpu(key: &str) -> Option<GpuSpec> {
    GPUS.iter().find(|g| g.key == key).map(gpu_spec)
}

/// Other names people use for a model preset, and the preset they mean.
pub const MODEL_ALIASES: &[(&str, &str)] = &[
    ("llama-3.3-70b", "llama-3.1-70b"),
    ("llama-3-70b", "llama-3.1-70b"),
    ("llama-3.1-8b-instruct", "llama-3.1-8b"),
    ("codellama-34b-instruct", "codellama-34b"),
    ("qwen2.5-7b-instruct", "qwen2.5-7b"),
    ("mistral-nemo-instruct-2407", "mistral-nemo-12b"),
    ("llama-4-scout-17b-16e", "llama-4-scout"),
];

/// The model preset named `key` (or one of its aliases).
pub fn model(key: &str) -> Option<ModelSpec> {
    let key = MODEL_ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, k)| *k);
    MODELS.iter().find(|m| m.key == key).map(model_spec)
}

pub fn gpus() -> Vec<GpuSpec> {
    GPUS.iter().map(gpu_spec).collect()
}

pub fn models() -> Vec<ModelSpec> {
    MODELS.iter().map(model_spec).collect()
}

pub fn gpu_keys() -> Vec<&'static str> {
    GPUS.iter().map(|g| g.key).collect()
}

pub fn model_keys() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_bytes_match_published_configs() {
        // KV/token BF16: 131,072 B for 8B, 327,680 B for 70B (docs/sources.md, "Model presets").
        let kv = |m: &ModelSpec| m.layers * m.kv_values_per_layer * 2.0;
        assert_eq!(kv(&model("llama-3.1-8b").unwrap()), 131_072.0);
        assert_eq!(kv(&model("llama-3.1-70b").unwrap()), 327_680.0);
        assert_eq!(kv(&model("llama-3.1-405b").unwrap()), 516_096.0);
        // DeepSeek MLA: 576 values x 61 layers x 2 B = 70,272 B (≈ 68.6 KiB).
        assert_eq!(kv(&model("deepseek-v3").unwrap()), 70_272.0);
    }

    #[test]
    fn moe_active_parameters_are_consistent() {
        for m in models().iter().filter(|m| m.is_moe()) {
            let dense = m.params_b - m.expert_params_b;
            let active = dense + m.expert_params_b * m.experts_per_token / m.experts;
            let rel = (active - m.active_params_b).abs() / m.active_params_b;
            assert!(
                rel < 0.12,
                "{}: derived active {active:.1}B vs {}",
                m.key,
                m.active_params_b
            );
        }
    }

    #[test]
    fn every_preset_cites_a_source() {
        assert!(gpus().iter().all(|g| !g.source.is_empty()));
        assert!(models().iter().all(|m| !m.source.is_empty()));
        assert_eq!(gpus().len(), 9);
    }
}
