//! Running suite entries through the [`Protocol`] trait: a pre-flight that resolves every entry
//! (so a bad parameter stops the suite before hours of checking), then one check per entry.

use crate::engine::{Options, StopAfter};
use crate::registry::{Protocol, UsageError};

use super::file::Entry;
use super::judge::RunResult;

/// Resolve every entry's config, overrides and mutant with its protocol, reporting the first
/// that does not resolve as a usage error naming the file and entry.
pub fn preflight(
    entries: &[Entry],
    protocols: &[&dyn Protocol],
    file: &str,
) -> Result<(), UsageError> {
    for e in entries {
        let p = lookup(protocols, &e.protocol)
            .map_err(|msg| UsageError(format!("{file}: {}: {msg}", e.label())))?;
        p.resolve(&e.config, &e.sets, e.mutant.as_deref())
            .map_err(|err| UsageError(format!("{file}: {}: {err}", e.label())))?;
    }
    Ok(())
}

/// Check one entry.
pub fn run_entry(e: &Entry, protocols: &[&dyn Protocol], options: &Options) -> RunResult {
    let p = lookup(protocols, &e.protocol)?;
    // A mutant entry needs only its named violation (found at the end of its shortest level);
    // a pass entry must explore everything.
    let options = Options {
        stop_after: match &e.property {
            Some(name) if e.mutant.is_some() => StopAfter::Violation(name.clone()),
            _ => StopAfter::Exhaustive,
        },
        ..options.clone()
    };
    p.check(&e.config, &e.sets, e.mutant.as_deref(), &options)
        .map_err(|err| err.0)
}

fn lookup<'a>(protocols: &[&'a dyn Protocol], name: &str) -> Result<&'a dyn Protocol, String> {
    protocols
        .iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| format!("unknown protocol '{name}'"))
}
