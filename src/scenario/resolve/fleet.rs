//! `[slo]`, `[api]` and each `[[strategy]]` with its autoscaler.

use super::*;

impl Resolver<'_, '_, '_> {
    pub(super) fn slo(&mut self, raw: RawSlo) -> R<Slo> {
        Ok(Slo {
            ttft_s: self.dur_or(
                "slo.ttft",
                raw.ttft.as_ref(),
                defaults::SLO_TTFT_S,
                Allowed::POSITIVE,
            )?,
            tpot_s: self.dur_or(
                "slo.tpot",
                raw.tpot.as_ref(),
                defaults::SLO_TPOT_S,
                Allowed::POSITIVE,
            )?,
            max_queue_s: match &raw.max_queue {
                Some(q) => Some(self.dur("slo.max_queue", q, Allowed::NON_NEGATIVE)?),
                None => None,
            },
            target: self
                .plain("slo.target", raw.target.as_ref(), Allowed::FRACTION)?
                .unwrap_or(defaults::SLO_TARGET),
            confidence: self
                .plain("slo.confidence", raw.confidence.as_ref(), Allowed::FRACTION)?
                .unwrap_or(defaults::SLO_CONFIDENCE),
        })
    }

    pub(super) fn api(&mut self, raw: RawApi) -> R<Api> {
        let nn = Allowed::AMOUNT;
        Ok(Api {
            input_per_m: self.num_or(
                "api.input_per_m",
                raw.input_per_m.as_ref(),
                defaults::API_INPUT_PER_M,
                nn,
            )?,
            output_per_m: self.num_or(
                "api.output_per_m",
                raw.output_per_m.as_ref(),
                defaults::API_OUTPUT_PER_M,
                nn,
            )?,
            latency_s: self.event_dur(
                "api.latency",
                raw.latency.as_ref(),
                defaults::API_LATENCY_S,
            )?,
            tpot_s: self.dur_or("api.tpot", raw.tpot.as_ref(), defaults::API_TPOT_S, nn)?,
        })
    }

    pub(super) fn strategy(&mut self, i: usize, raw: RawStrategy, engine: &Engine) -> R<Strategy> {
        let f = format!("strategy[{i}]");
        let name = raw.name.unwrap_or_else(|| format!("strategy-{}", i + 1));
        if name.is_empty() || name.contains([',', '"', '\n']) {
            return Err(self.invalid(
                &format!("{f}.name"),
                format!("\"{name}\""),
                "a non-empty name without commas, quotes or newlines",
                None,
            ));
        }
        let overflow = match raw.overflow.as_deref() {
            None | Some("drop") => Overflow::Drop,
            Some("api") => Overflow::Api,
            Some(o) => {
                return Err(self.invalid(
                    &format!("{f}.overflow"),
                    format!("\"{o}\""),
                    "\"api\" or \"drop\"",
                    None,
                ));
            }
        };
        let mut pools: Vec<Pool> = Vec::new();
        for (j, p) in raw.pools.into_iter().enumerate() {
            let pool = self.pool(&format!("{f}.pools[{j}]"), p, engine)?;
            let mut name = pool.name.clone();
            let mut k = 2;
            while pools.iter().any(|q| q.name == name) {
                name = format!("{}-{k}", pool.name);
                k += 1;
            }
            pools.push(Pool { name, ..pool });
        }
        if pools.is_empty() && overflow != Overflow::Api {
            return Err(self.invalid(
                &format!("{f}.pools"),
                "[]",
                "at least one pool, or overflow = \"api\" (the pure-API plan)",
                Some("A strategy with no capacity and no overflow could serve nothing.".into()),
            ));
        }
        let a = raw.autoscale;
        let af = format!("{f}.autoscale");
        let autoscale = Autoscale {
            interval_s: self.dur_or(
                &format!("{af}.interval"),
                a.as_ref().and_then(|a| a.interval.as_ref()),
                defaults::AUTOSCALE_INTERVAL_S,
                Allowed::at_least(0.1),
            )?,
            target_inflight_per_replica: self.num_or(
                &format!("{af}.target_inflight_per_replica"),
                a.as_ref()
                    .and_then(|a| a.target_inflight_per_replica.as_ref()),
                defaults::TARGET_INFLIGHT_PER_REPLICA,
                Allowed::POSITIVE,
            )?,
            target_queue_wait_s: match a.as_ref().and_then(|a| a.target_queue_wait.as_ref()) {
                Some(q) => {
                    Some(self.dur(&format!("{af}.target_queue_wait"), q, Allowed::POSITIVE)?)
                }
                None => None,
            },
            scale_down_delay_s: self.dur_or(
                &format!("{af}.scale_down_delay"),
                a.as_ref().and_then(|a| a.scale_down_delay.as_ref()),
                defaults::SCALE_DOWN_DELAY_S,
                Allowed::NON_NEGATIVE,
            )?,
        };
        Ok(Strategy {
            name,
            pools,
            overflow,
            autoscale,
        })
    }
}
