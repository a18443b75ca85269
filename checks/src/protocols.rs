//! Glue from each protocol model in `quorate-model` to the [`crate::registry::Protocol`] trait.

pub mod backtrack;
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
    M::State: Clone + Debug + Hash + Eq + Send + Sync + serde::Serialize,
    M::Action: Clone + Debug + Send + Sync + serde::Serialize,
{
    let (protocol, config, mutant) = names;
    let outcome = engine::check(model, options);
    engine::to_report(
        model, &outcome, protocol, config, mutant, parameters, options,
    )
}

/// Serve stateright's Explorer for `model` on `addr`; blocks for as long as the process runs.
/// A busy or unusable address is a usage error (stateright itself would panic).
fn serve_explorer<M>(
    model: M,
    addr: std::net::SocketAddr,
) -> Result<(), crate::registry::UsageError>
where
    M: Checkable + Send + 'static,
    M::State: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync + PartialEq,
{
    // Probe the address first: stateright unwraps the bind.
    std::net::TcpListener::bind(addr).map_err(|e| {
        crate::registry::UsageError(format!(
            "cannot listen on {addr} ({e}); choose another with --addr 127.0.0.1:PORT"
        ))
    })?;
    let _ = model.checker().serve(addr);
    Ok(())
}
