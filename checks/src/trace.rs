//! Trace files (`specs/trace-format.md`): a counterexample, a witness or a hand-written
//! scenario as JSON, replayed step by step against the model, and shown as text, as a Mermaid
//! sequence diagram, or as ITF (the Informal Trace Format of Apalache and Quint).

mod file;
pub mod itf;
pub mod mermaid;
mod replay;

pub use file::{Expect, FORMAT, PropertyNote, TraceFile, TraceStep};
pub use replay::{Outcome, Replayed, describe_step, first_difference, record, replay};

use crate::registry::{Protocol, UsageError};

/// Replay a parsed trace through the registry: its protocol by name, its config (the
/// protocol's default when absent), its parameters and its mutant. Bad names are usage errors.
pub fn replay_with(protocols: &[&dyn Protocol], file: &TraceFile) -> Result<Replayed, UsageError> {
    let p = protocols
        .iter()
        .find(|p| p.name() == file.protocol)
        .ok_or_else(|| {
            let names: Vec<_> = protocols.iter().map(|p| p.name()).collect();
            UsageError(format!(
                "unknown protocol '{}'; choose one of: {}",
                file.protocol,
                names.join(", ")
            ))
        })?;
    property_known(*p, file)?;
    let config = file
        .config
        .clone()
        .unwrap_or_else(|| crate::cli::default_config(*p));
    p.replay(&config, file)
}

/// A trace that names the property it is of must name one of its protocol's (replay goes on to
/// that property's failure).
pub fn property_known(p: &dyn Protocol, file: &TraceFile) -> Result<(), UsageError> {
    match &file.property {
        Some(named) if !p.properties().iter().any(|x| x.name == named.name) => {
            Err(UsageError(format!(
                "the trace is of property '{}', which {} does not have; see `quorate list {}` \
                 for its properties",
                named.name, file.protocol, file.protocol
            )))
        }
        _ => Ok(()),
    }
}

/// Whether a replay's outcome is what a scenario expects.
pub fn meets(outcome: &Outcome, expect: &Expect) -> bool {
    match (outcome, expect) {
        (Outcome::Valid { .. }, Expect::Valid) => true,
        (
            Outcome::Violates { step, property, .. },
            Expect::Violates {
                property: want,
                step: at,
            },
        ) => property == want && at.is_none_or(|n| n == *step),
        (Outcome::NotEnabled { step, .. }, Expect::NotEnabled { step: want }) => step == want,
        _ => false,
    }
}

/// A replay's outcome in a few words, as the suite table shows it.
pub fn outcome_words(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Valid { .. } => "valid".to_string(),
        Outcome::Violates { step, property, .. } => format!("violates {property} at step {step}"),
        Outcome::NotEnabled { step, .. } => format!("step {step} not enabled"),
        Outcome::StateMismatch { step, path, .. } => {
            format!("state after step {step} differs at {path}")
        }
    }
}
