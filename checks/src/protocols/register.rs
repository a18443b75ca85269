//! Glue for the `register` protocol: the quorum-register benchmark of
//! `../shared/bench/QuorumRegister.tla`, the yardstick for checker speed.

use quorate_model::register::{RegisterConfig, RegisterModel};

use crate::engine::Options;
use crate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use crate::report::Report;
use crate::trace::{Replayed, TraceFile};

/// The quorum-register benchmark.
pub struct Register;

/// The registry entry.
pub static REGISTER: Register = Register;

/// The one mutant: W=3 with R=3, whose quorums need not intersect.
const W3R3: &str = "w3r3";

impl Register {
    fn build(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<RegisterConfig, UsageError> {
        if config != "default" && config != "ci" {
            return Err(UsageError(format!(
                "unknown config '{config}' for protocol register; choose one of: default, ci"
            )));
        }
        let mut cfg = RegisterConfig::benchmark();
        match mutant {
            None => {}
            Some(W3R3) => cfg.write_quorum = 3,
            Some(other) => {
                return Err(UsageError(format!(
                    "unknown mutant '{other}' for protocol register; choose one of: {W3R3}"
                )));
            }
        }
        for (k, v) in sets {
            cfg.set(k, v).map_err(UsageError)?;
        }
        cfg.validate()
            .map_err(|e| UsageError(format!("register config '{config}': {e}")))?;
        Ok(cfg)
    }
}

impl Protocol for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn summary(&self) -> &'static str {
        "the checker-speed yardstick: QuorumRegister.tla state for state (6 replicas over 3 AZs, \
         one writer of K versions, one reader, one AZ crash, non-delivery)"
    }

    fn configs(&self) -> Vec<ConfigInfo> {
        vec![
            ConfigInfo {
                name: "default",
                doc: "W=4 R=3 K=2, no symmetry: 2,995,384 distinct states, as TLC and SPIN find",
            },
            // The same benchmark under the name every protocol's CI entry uses (a few seconds).
            ConfigInfo {
                name: "ci",
                doc: "the same as default (the benchmark takes seconds)",
            },
        ]
    }

    fn params(&self) -> Vec<ParamInfo> {
        RegisterConfig::PARAMS
            .iter()
            .map(|&(key, doc)| ParamInfo { key, doc })
            .collect()
    }

    fn properties(&self) -> Vec<PropInfo> {
        use quorate_model::checkable::Checkable;
        RegisterModel {
            cfg: RegisterConfig::benchmark(),
        }
        .props()
        .into_iter()
        .map(|p| PropInfo {
            name: p.name,
            spec_id: p.spec_id,
            kind: p.kind.as_str(),
            doc: p.doc,
        })
        .collect()
    }

    fn mutants(&self) -> Vec<MutantInfo> {
        vec![MutantInfo {
            name: W3R3,
            spec_id: "Mr1",
            caught_by: "r1_read_sees_last_ack",
            doc: "write quorum 3 with read quorum 3: a read can miss the acknowledged version (11 steps)",
        }]
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
        let model = RegisterModel { cfg };
        Ok(super::check_model(
            &model,
            ("register", config, mutant),
            cfg.describe(),
            options,
        ))
    }

    fn replay(&self, config: &str, file: &TraceFile) -> Result<Replayed, UsageError> {
        let sets = file.sets().map_err(UsageError)?;
        let cfg = self.build(config, &sets, file.mutant.as_deref())?;
        Ok(crate::trace::replay(&RegisterModel { cfg }, file))
    }

    fn explore(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        addr: std::net::SocketAddr,
    ) -> Result<(), UsageError> {
        let cfg = self.build(config, sets, mutant)?;
        super::serve_explorer(RegisterModel { cfg }, addr)
    }
}
