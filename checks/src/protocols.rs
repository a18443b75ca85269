//! Glue from each protocol model in `quorate-model` to the [`crate::registry::Protocol`] trait.

pub mod failover;
pub mod global;
pub mod presets;
pub mod quorum;
pub mod register;

use std::fmt::Debug;
use std::hash::Hash;

use quorate_model::checkable::Checkable;

use crate::engine::{self, Options};
use crate::report::Report;

/// Search `model` and report it: the one sequence every protocol's `check` ends with.
fn check_model<M: Checkable>(
    model: &M,
    names: (&str, &str, Option<&str>),
    parameters: Vec<String>,
    options: &Options,
) -> Report
where
    M::State: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    let (protocol, config, mutant) = names;
    let outcome = engine::check(model, options);
    engine::to_report(
        model, &outcome, protocol, config, mutant, parameters, options,
    )
}
