//! Glue for the `quorum` protocol (work in progress).

use crate::engine::Options;
use crate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use crate::report::Report;

/// The storage-quorum protocol.
pub struct Quorum;

/// The registry entry.
pub static QUORUM: Quorum = Quorum;

impl Protocol for Quorum {
    fn name(&self) -> &'static str {
        "quorum"
    }
    fn summary(&self) -> &'static str {
        "storage quorum"
    }
    fn configs(&self) -> Vec<ConfigInfo> {
        vec![]
    }
    fn params(&self) -> Vec<ParamInfo> {
        vec![]
    }
    fn properties(&self) -> Vec<PropInfo> {
        vec![]
    }
    fn mutants(&self) -> Vec<MutantInfo> {
        vec![]
    }
    fn resolve(
        &self,
        _config: &str,
        _sets: &[(String, String)],
        _mutant: Option<&str>,
    ) -> Result<Vec<String>, UsageError> {
        Err(UsageError("quorum: not built yet".into()))
    }
    fn check(
        &self,
        _config: &str,
        _sets: &[(String, String)],
        _mutant: Option<&str>,
        _options: &Options,
    ) -> Result<Report, UsageError> {
        Err(UsageError("quorum: not built yet".into()))
    }
}
