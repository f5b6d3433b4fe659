//! `[engine]`: precision, batching limits, admission, router, step-time
//! model, and the checks that the weights and the requests fit.

use super::*;

impl Resolver<'_, '_, '_> {
    pub(super) fn engine(&mut self, raw: Option<RawEngine>) -> R<Engine> {
        const F: &str = "engine";
        let raw = raw.unwrap_or(RawEngine {
            model: None,
            gpu: None,
            precision: None,
            kv_dtype: None,
            tensor_parallel: None,
            gpu_memory_utilization: None,
            max_batch: None,
            kv_capacity_tokens: None,
            admission: None,
            kv_block_tokens: None,
            chunked_prefill_tokens: None,
            max_num_batched_tokens: None,
            prefix_caching: None,
            async_scheduling: None,
            front_end_latency: None,
            front_end_spread: None,
            router: None,
            step_time: None,
        });
        let model = self.model(raw.model)?;
        let gpu = self.gpu("engine.gpu", raw.gpu)?;
        let precision = match raw.precision.as_deref() {
            None => Precision::Fp8,
            Some(p) => Precision::parse(p).ok_or_else(|| {
                self.invalid(
                    &format!("{F}.precision"),
                    format!("\"{p}\""),
                    Precision::NAMES,
                    None,
                )
            })?,
        };
        let kv_bytes = match raw.kv_dtype.as_deref() {
            None => precision.default_kv_bytes(),
            Some("bf16" | "fp16") => 2.0,
            Some("fp8" | "int8") => 1.0,
            Some(p) => {
                return Err(self.invalid(
                    &format!("{F}.kv_dtype"),
                    format!("\"{p}\""),
                    "bf16, fp16, fp8 or int8",
                    None,
                ));
            }
        };
        let tp_written = raw.tensor_parallel.is_some();
        let tp_allowed = Allowed {
            max: 64.0,
            ..Allowed::POSITIVE_COUNT
        };
        let tensor_parallel = self.num_or(
            &format!("{F}.tensor_parallel"),
            raw.tensor_parallel.as_ref(),
            defaults::TENSOR_PARALLEL,
            tp_allowed,
        )?;
        let gmu = self.num_or(
            &format!("{F}.gpu_memory_utilization"),
            raw.gpu_memory_utilization.as_ref(),
            defaults::GPU_MEMORY_UTILIZATION,
            Allowed::FRACTION,
        )?;
        let admission = match raw.admission.as_deref() {
            None | Some("vllm") => Admission::Vllm,
            Some("reserve") => Admission::Reserve,
            Some("paged") => Admission::Paged,
            Some(a) => {
                return Err(self.invalid(
                    &format!("{F}.admission"),
                    format!("\"{a}\""),
                    "\"vllm\" (the default: scheduled as vLLM V1 schedules), \"reserve\" or \"paged\" (the reference semantics)",
                    None,
                ));
            }
        };
        let vllm = admission == Admission::Vllm;
        // Each mode's own keys are refused in the other, so a scenario never
        // sets a knob that does nothing.
        let only_reference = [(
            "chunked_prefill_tokens",
            raw.chunked_prefill_tokens.is_some(),
        )];
        let only_vllm = [
            (
                "max_num_batched_tokens",
                raw.max_num_batched_tokens.is_some(),
            ),
            ("prefix_caching", raw.prefix_caching.is_some()),
            ("async_scheduling", raw.async_scheduling.is_some()),
            ("front_end_latency", raw.front_end_latency.is_some()),
            ("front_end_spread", raw.front_end_spread.is_some()),
        ];
        for (key, given) in if vllm {
            &only_reference[..]
        } else {
            &only_vllm[..]
        } {
            if *given {
                return Err(self.invalid(
                    &format!("{F}.{key}"),
                    format!("given with admission = \"{}\"", admission.name()),
                    if vllm {
                        "no chunked_prefill_tokens with admission = \"vllm\" (it always chunks, within max_num_batched_tokens)"
                    } else {
                        "max_num_batched_tokens, prefix_caching, async_scheduling, front_end_latency and front_end_spread only with admission = \"vllm\""
                    },
                    None,
                ));
            }
        }
        let large_gpu = defaults::is_large_gpu(&gpu);
        let max_batch = self.num_or(
            &format!("{F}.max_batch"),
            raw.max_batch.as_ref(),
            if vllm {
                defaults::vllm_max_num_seqs(large_gpu)
            } else {
                defaults::MAX_BATCH
            },
            Allowed::POSITIVE_COUNT,
        )?;
        let kv_cap_allowed = Allowed {
            max: 1e15,
            ..Allowed::POSITIVE_COUNT
        };
        let kv_capacity_tokens = match &raw.kv_capacity_tokens {
            Some(v) => Some(self.num(&format!("{F}.kv_capacity_tokens"), v, kv_cap_allowed)?),
            None => None,
        };
        let kv_block_tokens = self.num_or(
            &format!("{F}.kv_block_tokens"),
            raw.kv_block_tokens.as_ref(),
            defaults::KV_BLOCK_TOKENS,
            Allowed {
                max: 1e6,
                ..Allowed::POSITIVE_COUNT
            },
        )?;
        let chunked = self.num_or(
            &format!("{F}.chunked_prefill_tokens"),
            raw.chunked_prefill_tokens.as_ref(),
            0.0,
            Allowed::COUNT,
        )?;
        let max_num_batched_tokens = self.num_or(
            &format!("{F}.max_num_batched_tokens"),
            raw.max_num_batched_tokens.as_ref(),
            defaults::vllm_max_num_batched_tokens(large_gpu),
            Allowed {
                max: 1e7,
                ..Allowed::POSITIVE_COUNT
            },
        )?;
        let front_end_latency_s = self.dur_or(
            &format!("{F}.front_end_latency"),
            raw.front_end_latency.as_ref(),
            defaults::FRONT_END_LATENCY_S,
            Allowed::between(0.0, 60.0),
        )?;
        let front_end_spread = self.num_or(
            &format!("{F}.front_end_spread"),
            raw.front_end_spread.as_ref(),
            defaults::FRONT_END_SPREAD,
            Allowed::between(0.0, 3.0),
        )?;
        let router = match raw.router.as_deref() {
            None => RouterKind::LeastLoaded,
            Some(r) => RouterKind::parse(r).ok_or_else(|| {
                self.invalid(
                    &format!("{F}.router"),
                    format!("\"{r}\""),
                    RouterKind::NAMES,
                    None,
                )
            })?,
        };
        let st = format!("{F}.step_time");
        let step_time = match raw.step_time {
            Some(RawStepTime::Linear {
                fixed_s,
                prefill_per_token_s,
                decode_per_seq_s,
                kv_per_token_s,
            }) => {
                // Coefficients beyond these bounds are typos (a step of
                // minutes) and would stall the simulation.
                let s = StepTime::Linear {
                    fixed_s: self.num_or(
                        &format!("{st}.fixed_s"),
                        fixed_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 10.0),
                    )?,
                    prefill_per_token_s: self.num_or(
                        &format!("{st}.prefill_per_token_s"),
                        prefill_per_token_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 0.1),
                    )?,
                    decode_per_seq_s: self.num_or(
                        &format!("{st}.decode_per_seq_s"),
                        decode_per_seq_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 1.0),
                    )?,
                    kv_per_token_s: self.num_or(
                        &format!("{st}.kv_per_token_s"),
                        kv_per_token_s.as_ref(),
                        0.0,
                        Allowed::between(0.0, 0.01),
                    )?,
                };
                if let StepTime::Linear {
                    fixed_s: Param::Fixed(a),
                    prefill_per_token_s: Param::Fixed(b),
                    decode_per_seq_s: Param::Fixed(c),
                    kv_per_token_s: Param::Fixed(d),
                } = s
                    && a + b + c + d == 0.0
                {
                    return Err(self.invalid(
                        &st,
                        "all-zero coefficients",
                        "at least one positive coefficient (an iteration must take time)",
                        None,
                    ));
                }
                s
            }
            Some(RawStepTime::Roofline {
                mfu,
                mbu,
                overhead_s,
            }) => StepTime::Roofline {
                // Below 1% efficiency or above 1 s of overhead a step takes
                // minutes: a typo that would stall the simulation.
                mfu: self.num_or(
                    &format!("{st}.mfu"),
                    mfu.as_ref(),
                    defaults::MFU,
                    Allowed::between(0.01, 1.0),
                )?,
                mbu: self.num_or(
                    &format!("{st}.mbu"),
                    mbu.as_ref(),
                    defaults::MBU,
                    Allowed::between(0.01, 1.0),
                )?,
                overhead_s: self.num_or(
                    &format!("{st}.overhead_s"),
                    overhead_s.as_ref(),
                    defaults::OVERHEAD_S,
                    Allowed::between(0.0, 1.0),
                )?,
            },
            None => self.calibrated(&st, &Default::default())?,
            Some(RawStepTime::Calibrated(given)) => self.calibrated(&st, &given)?,
        };
        let engine = Engine {
            model,
            gpu,
            precision,
            kv_bytes,
            tensor_parallel,
            gpu_memory_utilization: gmu,
            max_batch,
            kv_capacity_tokens,
            admission,
            kv_block_tokens,
            chunked_prefill_tokens: chunked,
            max_num_batched_tokens,
            prefix_caching: raw.prefix_caching.unwrap_or(true),
            async_scheduling: raw.async_scheduling.unwrap_or(defaults::ASYNC_SCHEDULING),
            front_end_latency_s,
            front_end_spread,
            router,
            step_time,
        };
        let field = if tp_written {
            format!("{F}.tensor_parallel")
        } else {
            format!("{F}.model")
        };
        self.check_weights_fit(&engine, &field)?;
        Ok(engine)
    }

    /// The weights must fit whenever the KV capacity is derived or the
    /// roofline needs them; the error points at `field`.
    pub(super) fn check_weights_fit(&self, engine: &Engine, field: &str) -> R<()> {
        let needs_fit = engine.kv_capacity_tokens.is_none()
            || matches!(engine.step_time, StepTime::Roofline { .. });
        if !needs_fit {
            return Ok(());
        }
        let medians = self.uncertain.medians();
        let figures = EngineFigures::new(engine, &medians);
        if figures.kv_capacity_tokens_derived < 1.0 {
            return Err(self.invalid(
                field,
                figures.tensor_parallel,
                format!(
                    "enough GPUs for the weights: {} at {} needs {:.1} GB of weights, but {} x {} x {:.2} memory utilization leaves {:.1} GB",
                    engine.model.name,
                    engine.precision.name(),
                    figures.weight_bytes / 1e9,
                    figures.tensor_parallel,
                    engine.gpu.key,
                    figures.gpu_memory_utilization,
                    figures.usable_memory_bytes / 1e9
                ),
                Some("Raise tensor_parallel, pick a larger GPU, or a lower precision.".into()),
            ));
        }
        Ok(())
    }

    pub(super) fn check_lengths_fit(&self, w: &Workload, e: &Engine) -> R<()> {
        let medians = self.uncertain.medians();
        let cap = EngineFigures::new(e, &medians).kv_capacity_tokens as f64;
        let min_of = |d: &Option<LengthDist>| -> f64 {
            match d {
                None => 1.0,
                Some(LengthDist::Fixed(p)) => p.value(&medians),
                Some(LengthDist::Uniform { min, .. })
                | Some(LengthDist::LogNormal { min, .. })
                | Some(LengthDist::Exponential { min, .. })
                | Some(LengthDist::Empirical { min, .. }) => min.value(&medians),
            }
        };
        let least = min_of(&w.prompt_tokens) + min_of(&w.output_tokens);
        if least > cap {
            let field = if matches!(w.prompt_tokens, Some(LengthDist::Fixed(_))) {
                "workload.prompt_tokens"
            } else {
                "engine.kv_capacity_tokens"
            };
            return Err(self.invalid(
                field,
                format!("prompt + output of at least {least} tokens"),
                format!("requests that fit the KV cache of {cap} tokens per replica"),
                Some("Every request would be rejected; raise kv_capacity_tokens (or GPU memory / tensor_parallel) or shorten the requests.".into()),
            ));
        }
        Ok(())
    }

    /// The calibrated step model, each constant the fitted default unless given.
    fn calibrated(
        &mut self,
        st: &str,
        given: &std::collections::BTreeMap<String, RawNum>,
    ) -> R<StepTime> {
        let keys = CalibratedConstants::KEYS;
        if let Some(unknown) = given
            .keys()
            .find(|k| !keys.iter().any(|c| c.name == k.as_str()))
        {
            let names: Vec<&str> = keys.iter().map(|c| c.name).collect();
            return Err(self.invalid(
                &format!("{st}.{unknown}"),
                unknown,
                format!("a constant of the calibrated model ({})", names.join(", ")),
                None,
            ));
        }
        let defaults = defaults::CALIBRATED.values();
        let mut params = Vec::with_capacity(keys.len());
        for (key, default) in keys.iter().zip(defaults) {
            params.push(self.num_or(
                &format!("{st}.{}", key.name),
                given.get(key.name),
                default,
                Allowed::between(key.min, key.max),
            )?);
        }
        Ok(StepTime::Calibrated(CalibratedParams::from_params(params)))
    }
}
