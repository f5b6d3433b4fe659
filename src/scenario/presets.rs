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
    pub source: String,
}

impl ModelSpec {
    pub fn is_moe(&self) -> bool {
        self.experts > 0.0
    }
}

struct Gpu {
    key: &'static str,
    name: &'static str,
    memory_gb: f64,
    hbm_tb_s: f64,
    bf16: f64,
    fp8: Option<f64>,
    fp4: Option<f64>,
    link_gb_s: f64,
    allreduce_us: f64,
    tdp_watts: f64,
    source: &'static str,
}

const NVLINK_ALLREDUCE_US: f64 = 10.0;
const PCIE_ALLREDUCE_US: f64 = 25.0;

const GPUS: &[Gpu] = &[
    Gpu {
        key: "h100-sxm",
        name: "NVIDIA H100 SXM5 80GB",
        memory_gb: 80.0,
        hbm_tb_s: 3.35,
        bf16: 989.0,
        fp8: Some(1979.0),
        fp4: None,
        link_gb_s: 450.0,
        allreduce_us: NVLINK_ALLREDUCE_US,
        tdp_watts: 700.0,
        source: "NVIDIA H100 product brief [nv-h100-pb], Lockwood H100 page [klockwood-h100]; NVLink4 900 GB/s bidirectional; all-reduce 10 us assumed (Vidur [vidur-allreduce]: 20-45 us on 8x H100)",
    },
    Gpu {
        key: "h100-pcie",
        name: "NVIDIA H100 PCIe 80GB",
        memory_gb: 80.0,
        hbm_tb_s: 2.0,
        bf16: 756.0,
        fp8: Some(1513.0),
        fp4: None,
        link_gb_s: 64.0,
        allreduce_us: PCIE_ALLREDUCE_US,
        tdp_watts: 350.0,
        source: "NVIDIA H100 PCIe product brief [nv-h100-pb] (TFLOPS unverified); PCIe Gen5 x16 128 GB/s bidirectional; all-reduce 25 us assumed (see docs/sources.md)",
    },
    Gpu {
        key: "h200",
        name: "NVIDIA H200 SXM 141GB",
        memory_gb: 141.0,
        hbm_tb_s: 4.8,
        bf16: 989.0,
        fp8: Some(1979.0),
        fp4: None,
        link_gb_s: 450.0,
        allreduce_us: NVLINK_ALLREDUCE_US,
        tdp_watts: 700.0,
        source: "H200 spec pages [h200-pages] (secondary); NVLink4 900 GB/s bidirectional; all-reduce 10 us assumed (see docs/sources.md)",
    },
    Gpu {
        key: "b200",
        name: "NVIDIA B200 (HGX/DGX, 1000 W)",
        memory_gb: 180.0,
        hbm_tb_s: 8.0,
        bf16: 2250.0,
        fp8: Some(4500.0),
        fp4: Some(9000.0),
        link_gb_s: 900.0,
        allreduce_us: NVLINK_ALLREDUCE_US,
        tdp_watts: 1000.0,
        source: "Lockwood B200 page [klockwood-b200], TensorRT-LLM perf overview [trtllm-perf]; 180 GB usable in DGX B200; NVLink5 1.8 TB/s bidirectional; all-reduce 10 us assumed",
    },
    Gpu {
        key: "a100-80gb",
        name: "NVIDIA A100 SXM4 80GB",
        memory_gb: 80.0,
        hbm_tb_s: 2.039,
        bf16: 312.0,
        fp8: None,
        fp4: None,
        link_gb_s: 300.0,
        allreduce_us: NVLINK_ALLREDUCE_US,
        tdp_watts: 400.0,
        source: "Lockwood A100 page [klockwood-a100], Thunder Compute [thunder-a100]; no FP8 tensor cores; NVLink3 600 GB/s bidirectional; all-reduce 10 us assumed",
    },
    Gpu {
        key: "l40s",
        name: "NVIDIA L40S 48GB",
        memory_gb: 48.0,
        hbm_tb_s: 0.864,
        bf16: 362.0,
        fp8: Some(733.0),
        fp4: None,
        link_gb_s: 32.0,
        allreduce_us: PCIE_ALLREDUCE_US,
        tdp_watts: 350.0,
        source: "NVIDIA L40S datasheet [l40s-ds]; no NVLink, PCIe Gen4 x16 64 GB/s bidirectional; all-reduce 25 us assumed (see docs/sources.md)",
    },
    Gpu {
        key: "l4",
        name: "NVIDIA L4 24GB",
        memory_gb: 24.0,
        hbm_tb_s: 0.3,
        bf16: 121.0,
        fp8: Some(242.0),
        fp4: None,
        link_gb_s: 32.0,
        allreduce_us: PCIE_ALLREDUCE_US,
        tdp_watts: 72.0,
        source: "L4 spec pages [l4-pages] (secondary); no NVLink, PCIe Gen4 x16 64 GB/s bidirectional [l40s-ds]; all-reduce 25 us assumed (see docs/sources.md)",
    },
    Gpu {
        key: "rtx-4090",
        name: "NVIDIA GeForce RTX 4090 24GB",
        memory_gb: 24.0,
        hbm_tb_s: 1.008,
        bf16: 165.0,
        fp8: Some(330.0),
        fp4: None,
        link_gb_s: 32.0,
        allreduce_us: PCIE_ALLREDUCE_US,
        tdp_watts: 450.0,
        source: "RTX 4090 spec page [hmc-4090]; FP32-accumulate rates (FP16-accumulate is 2x); PCIe Gen4 x16 64 GB/s bidirectional [l40s-ds]; all-reduce 25 us assumed",
    },
    Gpu {
        key: "mi300x",
        name: "AMD Instinct MI300X 192GB",
        memory_gb: 192.0,
        hbm_tb_s: 5.3,
        bf16: 1307.0,
        fp8: Some(2615.0),
        fp4: None,
        link_gb_s: 448.0,
        allreduce_us: NVLINK_ALLREDUCE_US,
        tdp_watts: 750.0,
        source: "MI300X spec pages [codesota-mi300x], [amd-mi300x-pages] (secondary); Infinity Fabric 896 GB/s aggregate (unverified), half per direction; all-reduce 10 us assumed",
    },
];

struct Model {
    key: &'static str,
    name: &'static str,
    params_b: f64,
    active_params_b: f64,
    layers: f64,
    hidden: f64,
    kv_heads: f64,
    head_dim: f64,
    kv_values_per_layer: Option<f64>,
    experts: f64,
    experts_per_token: f64,
    expert_params_b: f64,
    source: &'static str,
}

/// Defaults for a dense model; presets override what differs.
const DENSE: Model = Model {
    key: "",
    name: "",
    params_b: 0.0,
    active_params_b: 0.0,
    layers: 0.0,
    hidden: 0.0,
    kv_heads: 0.0,
    head_dim: 128.0,
    kv_values_per_layer: None,
    experts: 0.0,
    experts_per_token: 0.0,
    expert_params_b: 0.0,
    source: "",
};

const MODELS: &[Model] = &[
    Model {
        key: "llama-3.1-8b",
        name: "Llama-3.1-8B",
        params_b: 8.03,
        active_params_b: 8.03,
        layers: 32.0,
        hidden: 4096.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-llama-3.1-8b] (not re-fetched, unverified); layer count and GQA also in [inferencebench-405b]; see docs/sources.md",
        ..DENSE
    },
    Model {
        key: "llama-3.1-70b",
        name: "Llama-3.1-70B / 3.3-70B",
        params_b: 70.6,
        active_params_b: 70.6,
        layers: 80.0,
        hidden: 8192.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-llama-3.1-70b] (not re-fetched, unverified); layer count and GQA also in [inferencebench-405b]; see docs/sources.md",
        ..DENSE
    },
    Model {
        key: "llama-3.1-405b",
        name: "Llama-3.1-405B",
        params_b: 405.0,
        active_params_b: 405.0,
        layers: 126.0,
        hidden: 16384.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-llama-3.1-405b] (not re-fetched, unverified); layers, GQA and hidden size also in [inferencebench-405b]",
        ..DENSE
    },
    Model {
        key: "qwen3-8b",
        name: "Qwen3-8B",
        params_b: 8.19,
        active_params_b: 8.19,
        layers: 36.0,
        hidden: 4096.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-qwen3-8b], from memory (unverified); see docs/sources.md",
        ..DENSE
    },
    Model {
        key: "qwen3-32b",
        name: "Qwen3-32B",
        params_b: 32.8,
        active_params_b: 32.8,
        layers: 64.0,
        hidden: 5120.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-qwen3-32b] (64 layers, hidden 5120, 8 KV heads x 128), from memory (unverified)",
        ..DENSE
    },
    Model {
        key: "gemma-3-27b",
        name: "Gemma-3-27B",
        params_b: 27.4,
        active_params_b: 27.4,
        layers: 62.0,
        hidden: 5376.0,
        kv_heads: 16.0,
        head_dim: 128.0,
        source: "Hugging Face config.json [hf-gemma-3-27b], from memory (unverified); sliding-window layers treated as global, so KV per token is overstated at long context",
        ..DENSE
    },
    Model {
        key: "mixtral-8x7b",
        name: "Mixtral-8x7B",
        params_b: 46.7,
        active_params_b: 12.9,
        layers: 32.0,
        hidden: 4096.0,
        kv_heads: 8.0,
        head_dim: 128.0,
        kv_values_per_layer: None,
        experts: 8.0,
        experts_per_token: 2.0,
        // 32 layers × 8 experts × 3 × 4096 × 14336 (derived).
        expert_params_b: 45.1,
        source: "Hugging Face config.json [hf-mixtral-8x7b], from memory (unverified); expert parameters derived from 32 x 8 x 3 x 4096 x 14336",
    },
    Model {
        key: "qwen3-235b-a22b",
        name: "Qwen3-235B-A22B",
        params_b: 235.0,
        active_params_b: 22.0,
        layers: 94.0,
        hidden: 4096.0,
        kv_heads: 4.0,
        head_dim: 128.0,
        kv_values_per_layer: None,
        experts: 128.0,
        experts_per_token: 8.0,
        // 94 layers × 128 experts × 3 × 4096 × 1536 (derived).
        expert_params_b: 227.0,
        source: "Hugging Face config.json [hf-qwen3-235b-a22b], from memory (unverified); expert parameters derived from 94 x 128 x 3 x 4096 x 1536",
    },
    Model {
        key: "deepseek-v3",
        name: "DeepSeek-V3 / R1 (671B, 37B active)",
        params_b: 671.0,
        active_params_b: 37.0,
        layers: 61.0,
        hidden: 7168.0,
        kv_heads: 1.0,
        head_dim: 576.0,
        // Multi-head latent attention caches 512 latent + 64 RoPE values per layer.
        kv_values_per_layer: Some(576.0),
        experts: 256.0,
        experts_per_token: 8.0,
        // 58 MoE layers × 256 experts × 3 × 7168 × 2048 (derived).
        expert_params_b: 653.9,
        source: "Hugging Face config.json [hf-deepseek-v3], from memory (unverified); MLA KV = 576 values x 61 layers; expert parameters derived from 58 x 256 x 3 x 7168 x 2048",
    },
];

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
        source: m.source.into(),
    }
}

/// The GPU preset named `key`.
pub fn gpu(key: &str) -> Option<GpuSpec> {
    GPUS.iter().find(|g| g.key == key).map(gpu_spec)
}

/// The model preset named `key`.
pub fn model(key: &str) -> Option<ModelSpec> {
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
