//! `quorate check`: validate the request against what the protocol declares (so mistakes get a
//! one-line fix-it message before any search starts), run the search with progress on stderr,
//! then print the report as text or JSON.

use crate::engine::StopAfter;
use crate::engine::{Options, Strategy};
use crate::registry::{Protocol, UsageError};
use crate::report::Report;

use super::Console;
use super::args::{CheckArgs, Format, MemoryLimit, StrategyArg};
use super::progress::{self, ProgressLine};
use super::render::{RenderOptions, render_report};

/// The config used without `--config`: `default` if the protocol lists it, else its first
/// config (or `default` when it lists none, and the protocol decides).
pub fn default_config(p: &dyn Protocol) -> String {
    let configs = p.configs();
    if configs.iter().any(|c| c.name == "default") {
        return "default".to_string();
    }
    configs
        .first()
        .map_or_else(|| "default".to_string(), |c| c.name.to_string())
}

/// Worker threads when none are asked for: all available cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Look `name` up among `protocols`.
pub fn find<'a>(
    protocols: &[&'a dyn Protocol],
    name: &str,
) -> Result<&'a dyn Protocol, UsageError> {
    protocols
        .iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = protocols.iter().map(|p| p.name()).collect();
            UsageError(format!(
                "unknown protocol '{name}'; choose one of: {} (see quorate list)",
                names.join(", ")
            ))
        })
}

/// A validated `check` request.
pub struct Request<'a> {
    /// The protocol.
    pub protocol: &'a dyn Protocol,
    /// The config name.
    pub config: String,
    /// Overrides, one per key, the last `--set` of a key winning.
    pub sets: Vec<(String, String)>,
    /// The mutant.
    pub mutant: Option<String>,
}

/// Check names against the protocol's declarations. Values are left to the protocol, which
/// knows their ranges and reports them through `check`.
pub fn validate<'a>(
    protocols: &[&'a dyn Protocol],
    protocol: &str,
    config: Option<&str>,
    sets: &[(String, String)],
    mutant: Option<&str>,
) -> Result<Request<'a>, UsageError> {
    let p = find(protocols, protocol)?;
    let name = p.name();

    let configs = p.configs();
    let config = config.map_or_else(|| default_config(p), str::to_string);
    if !configs.is_empty() && !configs.iter().any(|c| c.name == config) {
        let known: Vec<_> = configs.iter().map(|c| c.name).collect();
        return Err(UsageError(format!(
            "unknown config '{config}' for protocol {name}; known: {} (see quorate list)",
            known.join(", ")
        )));
    }

    let params = p.params();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (key, value) in sets {
        if !params.iter().any(|x| x.key == key) {
            let known: Vec<_> = params.iter().map(|x| x.key).collect();
            let known = if known.is_empty() {
                "it takes no parameters".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(UsageError(format!(
                "unknown parameter '{key}' for protocol {name}; {known} (see quorate list)"
            )));
        }
        match merged.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => merged.push((key.clone(), value.clone())),
        }
    }

    if let Some(m) = mutant {
        let mutants = p.mutants();
        if !mutants.iter().any(|x| x.name == m) {
            let known: Vec<_> = mutants.iter().map(|x| x.name).collect();
            let known = if known.is_empty() {
                "it has none".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(UsageError(format!(
                "unknown mutant '{m}' for protocol {name}; {known} (see quorate list)"
            )));
        }
    }

    Ok(Request {
        protocol: p,
        config,
        sets: merged,
        mutant: mutant.map(str::to_string),
    })
}

/// Run `quorate check`; returns the exit code, or the usage error to print (exit 2).
pub fn run(
    args: &CheckArgs,
    protocols: &[&dyn Protocol],
    console: &Console,
) -> Result<i32, UsageError> {
    let req = validate(
        protocols,
        &args.protocol,
        args.config.as_deref(),
        &args.sets,
        args.mutant.as_deref(),
    )?;

    if let Some(name) = &args.trace_of {
        let props = req.protocol.properties();
        if !props.iter().any(|p| p.name == name) {
            let known: Vec<_> = props.iter().map(|p| p.name).collect();
            return Err(UsageError(format!(
                "unknown property '{name}' for --trace-of; known: {}",
                known.join(", ")
            )));
        }
    }
    if let Some(path) = &args.trace_out {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(UsageError(format!(
                "--trace-out {}: its directory does not exist; create it first",
                path.display()
            )));
        }
    }

    // JSON keeps stderr quiet unless someone is watching: its consumers are usually scripts.
    let show_progress = args.format == Format::Text || console.err_is_terminal;
    let line = ProgressLine::new(console.err.clone(), console.err_is_terminal, String::new());
    let options = Options {
        threads: args.threads.map_or_else(default_threads, |n| n as usize),
        strategy: match args.strategy {
            StrategyArg::Bfs => Strategy::Bfs,
            StrategyArg::Dfs => Strategy::Dfs,
        },
        max_states: args.max_states,
        max_seconds: args.max_seconds,
        max_memory: match args.max_memory {
            Some(MemoryLimit::Unlimited) => None,
            Some(MemoryLimit::Bytes(b)) => Some(b),
            None => default_memory_limit(),
        },
        progress: show_progress.then(|| line.callback()),
        progress_every: progress::EVERY_SECONDS,
        stop: super::interrupt::stop_flag(),
        witness_traces: args.witnesses || args.trace_of.is_some(),
        stop_after: if args.keep_going {
            StopAfter::Exhaustive
        } else {
            StopAfter::FirstViolation
        },
    };

    let result = req
        .protocol
        .check(&req.config, &req.sets, req.mutant.as_deref(), &options);
    line.finish();
    let report = result?;

    let text = match args.format {
        Format::Json => json(&report, console.out_is_terminal),
        Format::Text => {
            let mutant_doc = req.mutant.as_deref().and_then(|m| {
                let info = req.protocol.mutants().into_iter().find(|x| x.name == m)?;
                Some(format!("{}: {}", info.spec_id, info.doc))
            });
            render_report(
                &report,
                &RenderOptions {
                    style: console.style(),
                    witnesses: args.witnesses,
                    mutant_doc,
                },
            )
        }
    };
    super::emit(&console.out, &text);
    if let Some(path) = &args.trace_out {
        write_trace(&req, &report, args.trace_of.as_deref(), path, console)?;
    }
    Ok(report.exit_code())
}

/// Write the chosen trace of `report` to `path` (atomically: a temporary file, then a rename),
/// or say on stderr that there is none.
fn write_trace(
    req: &Request<'_>,
    report: &Report,
    trace_of: Option<&str>,
    path: &std::path::Path,
    console: &Console,
) -> Result<(), UsageError> {
    use crate::report::Status;
    use crate::trace::{Expect, FORMAT, PropertyNote, TraceFile};
    let chosen = report.properties.iter().find(|p| {
        p.recorded.is_some()
            && match trace_of {
                Some(name) => p.name == name,
                None => p.status == Status::Violated,
            }
    });
    let Some(prop) = chosen else {
        let what = trace_of.map_or_else(
            || "no property is violated".to_string(),
            |n| format!("{n} is neither violated nor witnessed"),
        );
        super::emit(
            &console.err,
            &format!("note: {what}; nothing written to {}\n", path.display()),
        );
        return Ok(());
    };
    let (init, steps) = prop.recorded.clone().expect("chosen for its trace");
    let settable: Vec<_> = req.protocol.params().iter().map(|p| p.key).collect();
    let parameters = report
        .parameters
        .iter()
        .filter(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, _)| settable.contains(&k))
        })
        .cloned()
        .collect();
    let violated = prop.status == Status::Violated;
    let file = TraceFile {
        format: FORMAT.to_string(),
        protocol: report.protocol.clone(),
        config: Some(report.config.clone()),
        parameters,
        mutant: report.mutant.clone(),
        description: None,
        expect: Some(if violated {
            Expect::Violates {
                property: prop.name.clone(),
                step: Some(steps.len()),
            }
        } else {
            Expect::Valid
        }),
        property: Some(PropertyNote {
            name: prop.name.clone(),
            spec_id: prop.spec_id.clone(),
            kind: prop.kind.clone(),
            status: if violated { "violated" } else { "witnessed" }.to_string(),
        }),
        init: Some(init),
        steps,
    };
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, file.to_json())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
    super::emit(
        &console.err,
        &format!(
            "trace of {} ({} steps) written to {}; `quorate trace show {}` shows it\n",
            prop.name,
            file.steps.len(),
            path.display(),
            path.display()
        ),
    );
    Ok(())
}

/// Exactly `to_string_pretty(report)`: a trailing newline is added only for a terminal, where
/// it keeps the prompt off the last line; piped output stays byte-exact.
fn json(report: &Report, terminal: bool) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
    if terminal {
        text.push('\n');
    }
    text
}

/// 90% of the memory available now (`MemAvailable` in `/proc/meminfo`) on top of what the
/// process already holds; `None` where that is unknown.
fn default_memory_limit() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line["MemAvailable:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024 / 10 * 9)
}
