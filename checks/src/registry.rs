//! The protocols `quorate` knows, behind one object-safe trait so the CLI and the suite need not
//! be generic over each model type.

use crate::engine::Options;
use crate::report::Report;
use crate::trace::{Replayed, TraceFile};

/// A named configuration preset of a protocol.
#[derive(Clone, Debug)]
pub struct ConfigInfo {
    /// e.g. `ci`, `default`, `deep`.
    pub name: &'static str,
    /// One sentence: what it covers and roughly how long it takes.
    pub doc: &'static str,
}

/// A parameter settable with `--set KEY=VALUE`.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// e.g. `write_quorum`.
    pub key: &'static str,
    /// What it means, its unit and its range.
    pub doc: &'static str,
}

/// A property as `quorate list` shows it.
#[derive(Clone, Debug)]
pub struct PropInfo {
    /// e.g. `a1_acked_readable`.
    pub name: &'static str,
    /// e.g. `A1`.
    pub spec_id: &'static str,
    /// `always`, `sometimes` or `eventually`.
    pub kind: &'static str,
    /// One sentence.
    pub doc: &'static str,
}

/// A deliberate bug the checker must catch.
#[derive(Clone, Debug)]
pub struct MutantInfo {
    /// e.g. `w3r3`.
    pub name: &'static str,
    /// e.g. `Ma1`.
    pub spec_id: &'static str,
    /// The property that must catch it, e.g. `a1_acked_readable`.
    pub caught_by: &'static str,
    /// One sentence: what the bug is.
    pub doc: &'static str,
}

/// Why a request could not be run: bad usage or config (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// One protocol, as the CLI and suite see it.
pub trait Protocol: Sync {
    /// e.g. `quorum`.
    fn name(&self) -> &'static str;
    /// One sentence for `quorate list`.
    fn summary(&self) -> &'static str;
    /// Config presets; the first is used when `--config` is not given... unless one is
    /// named `default`, which then is.
    fn configs(&self) -> Vec<ConfigInfo>;
    /// Parameters settable with `--set`.
    fn params(&self) -> Vec<ParamInfo>;
    /// Every property, in order.
    fn properties(&self) -> Vec<PropInfo>;
    /// Every mutant.
    fn mutants(&self) -> Vec<MutantInfo>;
    /// The effective parameters of a config after overrides, as `key=value` (for `list`,
    /// reports and the suite), or a usage error.
    fn resolve(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<Vec<String>, UsageError>;
    /// Build the model for `config` with `sets` applied and `mutant` planted, and check it.
    fn check(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        options: &Options,
    ) -> Result<Report, UsageError>;
    /// Replay a trace file against the model it names (its config, parameters and mutant).
    fn replay(&self, config: &str, file: &TraceFile) -> Result<Replayed, UsageError> {
        let _ = (config, file);
        Err(UsageError(format!(
            "protocol {} cannot replay traces",
            self.name()
        )))
    }
    /// Serve stateright's Explorer for the model on `addr` (blocks until the process ends).
    fn explore(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        addr: std::net::SocketAddr,
    ) -> Result<(), UsageError> {
        let _ = (config, sets, mutant, addr);
        Err(UsageError(format!(
            "protocol {} has no Explorer view",
            self.name()
        )))
    }
}

/// Every protocol `quorate` knows, in `list` order.
pub fn protocols() -> Vec<&'static dyn Protocol> {
    vec![
        &crate::protocols::quorum::QUORUM,
        &crate::protocols::failover::FAILOVER,
        &crate::protocols::global::GLOBAL,
        &crate::protocols::backtrack::BACKTRACK,
        &crate::protocols::register::REGISTER,
    ]
}

/// Look a protocol up by name.
pub fn find(name: &str) -> Result<&'static dyn Protocol, UsageError> {
    protocols()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = protocols().iter().map(|p| p.name()).collect();
            UsageError(format!(
                "unknown protocol '{name}'; choose one of: {} (see `quorate list`)",
                names.join(", ")
            ))
        })
}
