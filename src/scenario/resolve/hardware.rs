//! `engine.model` and `engine.gpu` (or a pool's `gpu`): a preset by name, a
//! preset with fields overridden, or a custom table with every figure.

use super::*;

impl Resolver<'_, '_, '_> {
    pub(super) fn model(&mut self, raw: Option<RawPresetRef<RawModel>>) -> R<ModelSpec> {
        const F: &str = "engine.model";
        let raw = match raw {
            None => RawModel {
                preset: Some(defaults::MODEL.into()),
                ..Default::default()
            },
            Some(RawPresetRef::Name(n)) => RawModel {
                preset: Some(n),
                ..Default::default()
            },
            Some(RawPresetRef::Table(t)) => t,
        };
        let field = if raw.preset.is_some() && raw.params_b.is_none() {
            F.to_string()
        } else {
            format!("{F}.preset")
        };
        let mut m = match &raw.preset {
            Some(key) => presets::model(key).ok_or_else(|| {
                self.invalid(&field, format!("\"{key}\""), format!("a model preset ({})", presets::model_keys().join(", ")), Some("Or describe the model in a table: model = { params_b = 8.0, layers = 32, hidden = 4096, kv_heads = 8, head_dim = 128 }.".into()))
            })?,
            None => {
                let need = |v: &Option<RawNum>, k: &str, r: &Self| v.is_none().then(|| r.missing(&format!("{F}.{k}"), "a custom model (no preset) needs params_b, layers, hidden, kv_heads and head_dim"));
                for (v, k) in [(&raw.params_b, "params_b"), (&raw.layers, "layers"), (&raw.hidden, "hidden"), (&raw.kv_heads, "kv_heads"), (&raw.head_dim, "head_dim")] {
                    if let Some(e) = need(v, k, self) {
                        return Err(e);
                    }
                }
                ModelSpec {
                    key: "custom".into(),
                    name: raw.name.clone().unwrap_or_else(|| "custom model".into()),
                    params_b: 0.0,
                    active_params_b: 0.0,
                    layers: 0.0,
                    hidden: 0.0,
                    kv_heads: 0.0,
                    head_dim: 0.0,
                    kv_values_per_layer: 0.0,
                    experts: 0.0,
                    experts_per_token: 0.0,
                    expert_params_b: 0.0,
                    vocab: 0.0,
                    tied_embeddings: false,
                    source: "scenario file".into(),
                }
            }
        };
        let preset_kv = m.kv_values_per_layer;
        let preset_default_kv = 2.0 * m.kv_heads * m.head_dim;
        let pos = Allowed::POSITIVE;
        let cnt = Allowed::POSITIVE_COUNT;
        let set = |r: &mut Self, v: &Option<RawNum>, k: &str, a: Allowed, dst: &mut f64| -> R<()> {
            if let Some(x) = r.plain(&format!("{F}.{k}"), v.as_ref(), a)? {
                *dst = x;
            }
            Ok(())
        };
        let had_active = raw.active_params_b.is_some();
        set(self, &raw.params_b, "params_b", pos, &mut m.params_b)?;
        if !had_active && raw.preset.is_none() {
            m.active_params_b = m.params_b;
        }
        set(
            self,
            &raw.active_params_b,
            "active_params_b",
            pos,
            &mut m.active_params_b,
        )?;
        set(self, &raw.layers, "layers", cnt, &mut m.layers)?;
        set(self, &raw.hidden, "hidden", cnt, &mut m.hidden)?;
        set(self, &raw.kv_heads, "kv_heads", cnt, &mut m.kv_heads)?;
        set(self, &raw.head_dim, "head_dim", cnt, &mut m.head_dim)?;
        m.kv_values_per_layer =
            if preset_kv != preset_default_kv && raw.kv_heads.is_none() && raw.head_dim.is_none() {
                preset_kv
            } else {
                2.0 * m.kv_heads * m.head_dim
            };
        set(
            self,
            &raw.kv_values_per_layer,
            "kv_values_per_layer",
            pos,
            &mut m.kv_values_per_layer,
        )?;
        set(
            self,
            &raw.experts,
            "experts",
            Allowed::COUNT,
            &mut m.experts,
        )?;
        set(
            self,
            &raw.experts_per_token,
            "experts_per_token",
            Allowed::COUNT,
            &mut m.experts_per_token,
        )?;
        set(
            self,
            &raw.expert_params_b,
            "expert_params_b",
            Allowed::NON_NEGATIVE,
            &mut m.expert_params_b,
        )?;
        set(self, &raw.vocab, "vocab", Allowed::COUNT, &mut m.vocab)?;
        if let Some(t) = raw.tied_embeddings {
            m.tied_embeddings = t;
        }
        if let Some(n) = raw.name {
            m.name = n;
        }
        if let Some(s) = raw.source {
            m.source = s;
        }
        if m.active_params_b > m.params_b {
            return Err(self.invalid(
                &format!("{F}.active_params_b"),
                m.active_params_b,
                format!("at most params_b ({})", m.params_b),
                None,
            ));
        }
        if m.is_moe() && !(m.experts_per_token >= 1.0 && m.experts_per_token <= m.experts) {
            return Err(self.invalid(
                &format!("{F}.experts_per_token"),
                m.experts_per_token,
                format!("between 1 and experts ({})", m.experts),
                None,
            ));
        }
        if m.expert_params_b > m.params_b {
            return Err(self.invalid(
                &format!("{F}.expert_params_b"),
                m.expert_params_b,
                format!("at most params_b ({})", m.params_b),
                None,
            ));
        }
        let embeddings_b = m.head_params_b() + m.lookup_params_b();
        if embeddings_b >= m.active_params_b {
            return Err(self.invalid(
                &format!("{F}.vocab"),
                m.vocab,
                format!(
                    "a vocabulary whose embedding and output head (vocab × hidden each, {embeddings_b:.3}B) are smaller than active_params_b ({})",
                    m.active_params_b
                ),
                None,
            ));
        }
        Ok(m)
    }

    pub(super) fn gpu(&mut self, field: &str, raw: Option<RawPresetRef<RawGpu>>) -> R<GpuSpec> {
        let f = field;
        let raw = match raw {
            None => RawGpu {
                preset: Some(defaults::GPU.into()),
                ..Default::default()
            },
            Some(RawPresetRef::Name(n)) => RawGpu {
                preset: Some(n),
                ..Default::default()
            },
            Some(RawPresetRef::Table(t)) => t,
        };
        let mut g = match &raw.preset {
            Some(key) => {
                let field = if raw.memory_gb.is_none() {
                    f.to_string()
                } else {
                    format!("{f}.preset")
                };
                presets::gpu(key).ok_or_else(|| {
                    self.invalid(
                        &field,
                        format!("\"{key}\""),
                        format!("a GPU preset ({})", presets::gpu_keys().join(", ")),
                        None,
                    )
                })?
            }
            None => {
                for (v, k) in [
                    (&raw.memory_gb, "memory_gb"),
                    (&raw.hbm_tb_s, "hbm_tb_s"),
                    (&raw.bf16_tflops, "bf16_tflops"),
                ] {
                    if v.is_none() {
                        return Err(self.missing(
                            &format!("{f}.{k}"),
                            "a custom GPU (no preset) needs memory_gb, hbm_tb_s and bf16_tflops",
                        ));
                    }
                }
                GpuSpec {
                    key: "custom".into(),
                    name: raw.name.clone().unwrap_or_else(|| "custom GPU".into()),
                    memory_gb: 0.0,
                    hbm_tb_s: 0.0,
                    bf16_tflops: 0.0,
                    fp8_tflops: None,
                    fp4_tflops: None,
                    link_gb_s: defaults::CUSTOM_GPU_LINK_GB_S,
                    allreduce_latency_us: defaults::CUSTOM_GPU_ALLREDUCE_US,
                    tdp_watts: defaults::CUSTOM_GPU_TDP_WATTS,
                    source: "scenario file".into(),
                }
            }
        };
        let pos = Allowed::POSITIVE;
        let set = |r: &mut Self, v: &Option<RawNum>, k: &str, a: Allowed| -> R<Option<f64>> {
            r.plain(&format!("{f}.{k}"), v.as_ref(), a)
        };
        if let Some(x) = set(self, &raw.memory_gb, "memory_gb", pos)? {
            g.memory_gb = x;
        }
        if let Some(x) = set(self, &raw.hbm_tb_s, "hbm_tb_s", pos)? {
            g.hbm_tb_s = x;
        }
        if let Some(x) = set(self, &raw.bf16_tflops, "bf16_tflops", pos)? {
            g.bf16_tflops = x;
        }
        if let Some(x) = set(self, &raw.fp8_tflops, "fp8_tflops", pos)? {
            g.fp8_tflops = Some(x);
        }
        if let Some(x) = set(self, &raw.fp4_tflops, "fp4_tflops", pos)? {
            g.fp4_tflops = Some(x);
        }
        if let Some(x) = set(self, &raw.link_gb_s, "link_gb_s", pos)? {
            g.link_gb_s = x;
        }
        if let Some(x) = set(
            self,
            &raw.allreduce_latency_us,
            "allreduce_latency_us",
            Allowed::NON_NEGATIVE,
        )? {
            g.allreduce_latency_us = x;
        }
        if let Some(x) = set(self, &raw.tdp_watts, "tdp_watts", pos)? {
            g.tdp_watts = x;
        }
        if let Some(n) = raw.name {
            g.name = n;
        }
        if let Some(s) = raw.source {
            g.source = s;
        }
        Ok(g)
    }
}
