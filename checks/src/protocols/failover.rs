//! Glue for the `failover` protocol: presets and `--set` overrides become a
//! [`FailoverConfig`], the engine checks the [`FailoverModel`], and the outcome becomes a
//! [`Report`].

use quorate_model::checkable::Checkable;
use quorate_model::failover::config::PRESETS;
use quorate_model::failover::model::all_properties;
use quorate_model::failover::{FailoverConfig, FailoverModel, Mutant};

use crate::engine::Options;
use crate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use crate::report::Report;

/// The writer-failover protocol.
pub struct Failover;

/// The registry entry.
pub static FAILOVER: Failover = Failover;

impl Failover {
    /// The validated configuration for `config` with `sets` applied and `mutant` planted.
    pub fn build(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<FailoverConfig, UsageError> {
        let mut cfg = FailoverConfig::preset(config).map_err(UsageError)?;
        let mutant = mutant
            .map(str::parse::<Mutant>)
            .transpose()
            .map_err(UsageError)?;
        cfg = cfg.with_mutant(mutant);
        for (k, v) in sets {
            cfg.set(k, v).map_err(UsageError)?;
        }
        cfg.validate()
            .map_err(|e| UsageError(format!("failover config '{config}': {e}")))?;
        Ok(cfg)
    }
}

impl Protocol for Failover {
    fn name(&self) -> &'static str {
        "failover"
    }

    fn summary(&self) -> &'static str {
        "writer failover and crash recovery: promote a replica, volume epochs fence the old \
         writer, recovery truncates above the recovered VDL, replicas apply only up to VDL"
    }

    fn configs(&self) -> Vec<ConfigInfo> {
        PRESETS
            .iter()
            .map(|p| ConfigInfo {
                name: p.name,
                doc: p.doc,
            })
            .collect()
    }

    fn params(&self) -> Vec<ParamInfo> {
        FailoverConfig::PARAMS
            .iter()
            .map(|&(key, doc)| ParamInfo { key, doc })
            .collect()
    }

    fn properties(&self) -> Vec<PropInfo> {
        all_properties()
            .into_iter()
            .map(|(name, spec_id, kind, doc)| PropInfo {
                name,
                spec_id,
                kind: kind.as_str(),
                doc,
            })
            .collect()
    }

    fn mutants(&self) -> Vec<MutantInfo> {
        Mutant::ALL
            .iter()
            .map(|m| MutantInfo {
                name: m.name(),
                spec_id: m.spec_id(),
                caught_by: m.caught_by(),
                doc: m.doc(),
            })
            .collect()
    }

    fn resolve(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<Vec<String>, UsageError> {
        Ok(self.build(config, sets, mutant)?.describe())
    }

    fn check(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        options: &Options,
    ) -> Result<Report, UsageError> {
        let cfg = self.build(config, sets, mutant)?;
        let parameters = cfg.describe();
        let model = FailoverModel::new(cfg);
        debug_assert!(!model.props().is_empty());
        Ok(super::check_model(
            &model,
            ("failover", config, mutant),
            parameters,
            options,
        ))
    }
}
