//! Glue for the `quorum` protocol: presets and `--set` overrides become a [`QuorumConfig`],
//! the engine checks the [`QuorumModel`], and the outcome becomes a [`Report`].

use quorate_model::checkable::Checkable;
use quorate_model::quorum::config::PRESETS;
use quorate_model::quorum::model::all_properties;
use quorate_model::quorum::{Mutant, QuorumConfig, QuorumModel};

use crate::engine::Options;
use crate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use crate::report::Report;

/// The storage-quorum protocol.
pub struct Quorum;

/// The registry entry.
pub static QUORUM: Quorum = Quorum;

impl Quorum {
    /// The validated configuration for `config` with `sets` applied and `mutant` planted.
    pub fn build(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<QuorumConfig, UsageError> {
        let mut cfg = QuorumConfig::preset(config).map_err(UsageError)?;
        let mutant = mutant
            .map(str::parse::<Mutant>)
            .transpose()
            .map_err(UsageError)?;
        // A geometry mutant fixes the quorum sizes; `--set` may still override them after.
        cfg = cfg.with_mutant(mutant);
        for (k, v) in sets {
            cfg.set(k, v).map_err(UsageError)?;
        }
        cfg.validate()
            .map_err(|e| UsageError(format!("quorum config '{config}': {e}")))?;
        Ok(cfg)
    }
}

impl Protocol for Quorum {
    fn name(&self) -> &'static str {
        "quorum"
    }

    fn summary(&self) -> &'static str {
        "storage quorum of one protection group: 6 segments over 3 AZs, write 4/6, read 3/6, \
         SCL/PGCL/VCL/VDL, gossip repair, membership change with epochs, AZ+1 faults"
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
        QuorumConfig::PARAMS
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
        let model = QuorumModel::new(cfg);
        debug_assert!(!model.props().is_empty());
        Ok(super::check_model(
            &model,
            ("quorum", config, mutant),
            parameters,
            options,
        ))
    }
}
