//! The model presets: architecture figures of each model (see the `source`
//! of each row and docs/sources.md).

pub(super) struct Model {
    pub(super) key: &'static str,
    pub(super) name: &'static str,
    pub(super) params_b: f64,
    pub(super) active_params_b: f64,
    pub(super) layers: f64,
    pub(super) hidden: f64,
    pub(super) kv_heads: f64,
    pub(super) head_dim: f64,
    pub(super) kv_values_per_layer: Option<f64>,
    pub(super) experts: f64,
    pub(super) experts_per_token: f64,
    pub(super) expert_params_b: f64,
    pub(super) source: &'static str,
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

pub(super) const MODELS: &[Model] = &[
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
