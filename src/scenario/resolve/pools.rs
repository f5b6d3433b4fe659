//! Each pool of a strategy: its hardware, replica counts, start-up times
//! and billing terms, by kind.

use super::*;

/// The fields on-demand and spot pools share, as written.
pub(super) struct RawRental<'a> {
    min_replicas: Option<&'a RawNum>,
    max_replicas: &'a RawNum,
    price_per_gpu_hour: &'a RawNum,
    provisioning: Option<&'a RawDur>,
    load_time: Option<&'a RawDur>,
    min_billed: Option<&'a RawDur>,
    billing: Option<&'a str>,
}

impl Resolver<'_, '_, '_> {
    /// The rental terms of an on-demand or spot pool.
    pub(super) fn rental(&mut self, f: &str, raw: RawRental, engine: &Engine) -> R<Rental> {
        let (min_replicas, max_replicas) = self.min_max(f, raw.min_replicas, raw.max_replicas)?;
        Ok(Rental {
            min_replicas,
            max_replicas,
            price_per_gpu_hour: self.num(
                &format!("{f}.price_per_gpu_hour"),
                raw.price_per_gpu_hour,
                Allowed::AMOUNT,
            )?,
            startup: self.startup(f, raw.provisioning, raw.load_time, engine)?,
            min_billed_s: self.dur_or(
                &format!("{f}.min_billed"),
                raw.min_billed,
                defaults::MIN_BILLED_S,
                Allowed::NON_NEGATIVE,
            )?,
            billing: self.billing(f, raw.billing)?,
        })
    }

    pub(super) fn min_max(
        &mut self,
        f: &str,
        min: Option<&RawNum>,
        max: &RawNum,
    ) -> R<(Param, Param)> {
        let min_p = self.num_or(&format!("{f}.min_replicas"), min, 0.0, Allowed::REPLICAS0)?;
        let max_p = self.num(&format!("{f}.max_replicas"), max, Allowed::REPLICAS)?;
        let lo = match min_p {
            Param::Fixed(v) => v,
            Param::Drawn(i) => self.uncertain.inputs[i].dist.support().1,
        };
        let hi = match max_p {
            Param::Fixed(v) => v,
            Param::Drawn(i) => self.uncertain.inputs[i].dist.support().0,
        };
        if lo > hi {
            return Err(self.invalid(
                &format!("{f}.min_replicas"),
                lo,
                format!("at most max_replicas ({hi})"),
                None,
            ));
        }
        Ok((min_p, max_p))
    }

    pub(super) fn startup(
        &mut self,
        f: &str,
        provisioning: Option<&RawDur>,
        load: Option<&RawDur>,
        engine: &Engine,
    ) -> R<Startup> {
        let load_default = defaults::load_s(engine, &self.uncertain.medians());
        Ok(Startup {
            provisioning_s: self.event_dur(
                &format!("{f}.provisioning"),
                provisioning,
                defaults::PROVISIONING_S,
            )?,
            load_s: self.event_dur(&format!("{f}.load_time"), load, load_default)?,
        })
    }

    pub(super) fn billing(&self, f: &str, raw: Option<&str>) -> R<Billing> {
        match raw {
            None | Some("per_second") => Ok(Billing::PerSecond),
            Some("per_hour") => Ok(Billing::PerStartedHour),
            Some(b) => Err(self.invalid(
                &format!("{f}.billing"),
                format!("\"{b}\""),
                "\"per_second\" or \"per_hour\" (per started hour)",
                None,
            )),
        }
    }

    /// The engine of a pool's replicas: the scenario's, with the pool's own
    /// GPU and tensor parallelism if it gives them; the weights must fit.
    pub(super) fn pool_engine(&mut self, f: &str, raw: &mut RawPool, engine: &Engine) -> R<Engine> {
        let (gpu, tp) = raw.take_hardware();
        let mut e = engine.clone();
        let gpu_given = gpu.is_some();
        if let Some(g) = gpu {
            e.gpu = self.gpu(&format!("{f}.gpu"), Some(g))?;
        }
        let tp_given = tp.is_some();
        if let Some(tp) = tp {
            let allowed = Allowed {
                max: 64.0,
                ..Allowed::POSITIVE_COUNT
            };
            e.tensor_parallel = self.num(&format!("{f}.tensor_parallel"), &tp, allowed)?;
        }
        if gpu_given || tp_given {
            let field = if tp_given {
                format!("{f}.tensor_parallel")
            } else {
                format!("{f}.gpu")
            };
            self.check_weights_fit(&e, &field)?;
        }
        Ok(e)
    }

    pub(super) fn pool(&mut self, f: &str, mut raw: RawPool, engine: &Engine) -> R<Pool> {
        let nn = Allowed::AMOUNT;
        let engine = &self.pool_engine(f, &mut raw, engine)?;
        let (name, kind) = match raw {
            RawPool::Reserved {
                name,
                replicas,
                price_per_gpu_hour,
                ..
            } => (
                name,
                PoolKind::Reserved {
                    replicas: self.num(&format!("{f}.replicas"), &replicas, Allowed::REPLICAS)?,
                    price_per_gpu_hour: self.num(
                        &format!("{f}.price_per_gpu_hour"),
                        &price_per_gpu_hour,
                        nn,
                    )?,
                },
            ),
            RawPool::Owned {
                name,
                replicas,
                capex_per_gpu,
                amortization,
                idle_watts,
                busy_watts,
                pue,
                usd_per_kwh,
                ops_per_gpu_hour,
                ..
            } => {
                let tdp = engine.gpu.tdp_watts;
                (
                    name,
                    PoolKind::Owned {
                        replicas: self.num(
                            &format!("{f}.replicas"),
                            &replicas,
                            Allowed::REPLICAS,
                        )?,
                        capex_per_gpu: self.num(
                            &format!("{f}.capex_per_gpu"),
                            &capex_per_gpu,
                            nn,
                        )?,
                        amortization_s: self.dur(
                            &format!("{f}.amortization"),
                            &amortization,
                            Allowed::POSITIVE,
                        )?,
                        idle_watts: self.num_or(
                            &format!("{f}.idle_watts"),
                            idle_watts.as_ref(),
                            (defaults::IDLE_POWER_SHARE_OF_TDP * tdp).round(),
                            nn,
                        )?,
                        busy_watts: self.num_or(
                            &format!("{f}.busy_watts"),
                            busy_watts.as_ref(),
                            tdp,
                            nn,
                        )?,
                        pue: self.num_or(
                            &format!("{f}.pue"),
                            pue.as_ref(),
                            defaults::PUE,
                            Allowed::at_least(1.0),
                        )?,
                        usd_per_kwh: self.num_or(
                            &format!("{f}.usd_per_kwh"),
                            usd_per_kwh.as_ref(),
                            defaults::USD_PER_KWH,
                            nn,
                        )?,
                        ops_per_gpu_hour: self.num_or(
                            &format!("{f}.ops_per_gpu_hour"),
                            ops_per_gpu_hour.as_ref(),
                            0.0,
                            nn,
                        )?,
                    },
                )
            }
            RawPool::OnDemand {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_hour,
                provisioning,
                load_time,
                min_billed,
                billing,
                ..
            } => (
                name,
                PoolKind::OnDemand(self.rental(
                    f,
                    RawRental {
                        min_replicas: min_replicas.as_ref(),
                        max_replicas: &max_replicas,
                        price_per_gpu_hour: &price_per_gpu_hour,
                        provisioning: provisioning.as_ref(),
                        load_time: load_time.as_ref(),
                        min_billed: min_billed.as_ref(),
                        billing: billing.as_deref(),
                    },
                    engine,
                )?),
            ),
            RawPool::Spot {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_hour,
                provisioning,
                load_time,
                min_billed,
                billing,
                interruptions_per_hour,
                notice,
                ..
            } => (
                name,
                PoolKind::Spot {
                    rental: self.rental(
                        f,
                        RawRental {
                            min_replicas: min_replicas.as_ref(),
                            max_replicas: &max_replicas,
                            price_per_gpu_hour: &price_per_gpu_hour,
                            provisioning: provisioning.as_ref(),
                            load_time: load_time.as_ref(),
                            min_billed: min_billed.as_ref(),
                            billing: billing.as_deref(),
                        },
                        engine,
                    )?,
                    // At most one a second: beyond it no replica ever serves.
                    interruptions_per_hour: self.num(
                        &format!("{f}.interruptions_per_hour"),
                        &interruptions_per_hour,
                        Allowed::between(0.0, 3600.0),
                    )?,
                    notice_s: self.dur_or(
                        &format!("{f}.notice"),
                        notice.as_ref(),
                        defaults::SPOT_NOTICE_S,
                        nn,
                    )?,
                },
            ),
            RawPool::Serverless {
                name,
                min_replicas,
                max_replicas,
                price_per_gpu_second,
                price_per_gpu_hour,
                cold_start,
                container_start,
                load_gb_per_s,
                idle_timeout,
                bill_cold_start,
                ..
            } => {
                let (min_replicas, max_replicas) =
                    self.min_max(f, min_replicas.as_ref(), &max_replicas)?;
                let price = match (price_per_gpu_second, price_per_gpu_hour) {
                    (Some(s), None) => self.num(&format!("{f}.price_per_gpu_second"), &s, nn)?,
                    (None, Some(h)) => {
                        match self.num(&format!("{f}.price_per_gpu_hour"), &h, nn)? {
                            Param::Fixed(v) => Param::Fixed(v / crate::units::HOUR_S),
                            Param::Drawn(_) => {
                                return Err(self.invalid(&format!("{f}.price_per_gpu_hour"), "a distribution", "a plain number here; write an uncertain serverless price as price_per_gpu_second", None));
                            }
                        }
                    }
                    _ => {
                        return Err(self.invalid(
                            &format!("{f}.price_per_gpu_second"),
                            "missing or given twice",
                            "exactly one of price_per_gpu_second or price_per_gpu_hour",
                            None,
                        ));
                    }
                };
                let cold = match (&cold_start, &container_start, &load_gb_per_s) {
                    (Some(c), None, None) => self.event_dur(&format!("{f}.cold_start"), Some(c), 0.0)?,
                    (Some(_), _, _) => return Err(self.invalid(&format!("{f}.cold_start"), "given with container_start/load_gb_per_s", "either cold_start, or container_start with load_gb_per_s (derived from weight bytes)", None)),
                    (None, c, l) => {
                        let medians = self.uncertain.medians();
                        let weights = EngineFigures::new(engine, &medians).weight_bytes;
                        let c = self.dur_or(&format!("{f}.container_start"), c.as_ref(), defaults::CONTAINER_START_S, nn)?;
                        let l = self.num_or(&format!("{f}.load_gb_per_s"), l.as_ref(), defaults::LOAD_GB_PER_S, Allowed::POSITIVE)?;
                        match (c, l) {
                            (Param::Fixed(c), Param::Fixed(l)) => EventDuration::Fixed(c + weights / (l * 1e9)),
                            _ => return Err(self.invalid(&format!("{f}.container_start"), "a distribution", "plain numbers when the cold start is derived; write an uncertain cold start as cold_start = { lognormal = ... }", None)),
                        }
                    }
                };
                (
                    name,
                    PoolKind::Serverless {
                        min_replicas,
                        max_replicas,
                        price_per_gpu_second: price,
                        cold_start_s: cold,
                        idle_timeout_s: self.dur_or(
                            &format!("{f}.idle_timeout"),
                            idle_timeout.as_ref(),
                            defaults::IDLE_TIMEOUT_S,
                            nn,
                        )?,
                        bill_cold_start: bill_cold_start.unwrap_or(true),
                    },
                )
            }
        };
        Ok(Pool {
            name: name.unwrap_or_else(|| kind.kind_name().to_string()),
            kind,
            engine: engine.clone(),
        })
    }
}
