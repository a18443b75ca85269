//! `quorate explore`: stateright's Explorer for one protocol config, served on loopback.

use crate::registry::{Protocol, UsageError};

use super::Console;
use super::args::ExploreArgs;

/// Validate the request like `check` does, say where to look, then serve until interrupted.
pub fn run(
    args: &ExploreArgs,
    protocols: &[&dyn Protocol],
    console: &Console,
) -> Result<i32, UsageError> {
    let req = super::check::validate(
        protocols,
        &args.protocol,
        args.config.as_deref(),
        &args.sets,
        args.mutant.as_deref(),
    )?;
    // Build once to report bad parameter values before listening.
    req.protocol
        .resolve(&req.config, &req.sets, req.mutant.as_deref())?;
    super::emit(
        &console.err,
        &format!(
            "Explorer for {} (config {}{}) at http://{}/ - Ctrl-C stops it\n",
            req.protocol.name(),
            req.config,
            req.mutant
                .as_deref()
                .map(|m| format!(", mutant {m}"))
                .unwrap_or_default(),
            args.addr
        ),
    );
    req.protocol
        .explore(&req.config, &req.sets, req.mutant.as_deref(), args.addr)?;
    Ok(0)
}
