//! The `quorate` command line: `list`, `check` and `suite`.
//!
//! Everything goes through [`run`], which takes the arguments, the protocols and a [`Console`]
//! and returns the exit code, so tests drive the whole CLI (with fake protocols and captured
//! output, see [`capture`]) without spawning processes or touching the real terminal.
//!
//! Exit codes: 0 success, 1 a failed check (violation, unwitnessed, incomplete, suite mismatch),
//! 2 bad usage or config, always with exactly one line on stderr.

mod args;
mod check;
mod explore;
mod interrupt;
mod list;
mod progress;
mod render;
mod run;
mod run_actors;
mod run_backtrack;
mod run_failover;
mod run_global;
mod run_replay;
mod run_replay_fast;
mod style;
mod suite;
mod trace;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use clap::Parser;
use clap::error::ErrorKind;

use crate::registry::{self, Protocol, UsageError};

pub use args::{Cli, Command, Format, parse_set};
pub use check::default_config;
pub use list::{ListJson, list_json, list_text};
pub use progress::format_tick;
pub use render::{RenderOptions, render_report};
pub use style::{Style, one_line};
pub use suite::render_table;

/// A writer shared between the CLI and the engine's progress callback (another thread).
pub type Shared = Arc<Mutex<dyn Write + Send>>;

/// Where output goes and what it is connected to.
#[derive(Clone)]
pub struct Console {
    /// Results (reports, tables, JSON).
    pub out: Shared,
    /// Progress, notes and errors.
    pub err: Shared,
    /// Whether stdout is a terminal (JSON then gets a trailing newline).
    pub out_is_terminal: bool,
    /// Whether stderr is a terminal (progress then redraws in place; JSON shows progress).
    pub err_is_terminal: bool,
    /// Whether to colour stdout: a terminal and `NO_COLOR` unset.
    pub colour: bool,
}

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio() -> Self {
        let out_is_terminal = std::io::stdout().is_terminal();
        Console {
            out: Arc::new(Mutex::new(std::io::stdout())),
            err: Arc::new(Mutex::new(std::io::stderr())),
            out_is_terminal,
            err_is_terminal: std::io::stderr().is_terminal(),
            colour: out_is_terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// The text style for stdout.
    pub fn style(&self) -> Style {
        Style {
            colour: self.colour,
        }
    }
}

/// Write `text` and flush. Errors (a closed pipe, as in `quorate list | head`) are ignored:
/// there is nobody left to tell, and panicking would be worse.
pub(crate) fn emit(sink: &Shared, text: &str) {
    let mut w = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
}

/// The binary's entry point: the real arguments, protocols and terminal. Returns the exit code.
pub fn main() -> i32 {
    run(
        std::env::args_os(),
        &registry::protocols(),
        &Console::stdio(),
    )
}

/// Run the CLI with `args` (including the program name) over `protocols`.
pub fn run<I, T>(args: I, protocols: &[&dyn Protocol], console: &Console) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e, console),
    };
    let result = match &cli.command {
        None => Err(UsageError(
            "no command given; use one of list, check, suite, trace, explore, run (see quorate --help)"
                .to_string(),
        )),
        Some(Command::List(a)) => {
            let text = match a.format {
                Format::Json => {
                    let mut s =
                        serde_json::to_string_pretty(&list_json(protocols)).unwrap_or_default();
                    s.push('\n');
                    s
                }
                Format::Text => list_text(protocols, console.style()),
            };
            emit(&console.out, &text);
            Ok(0)
        }
        Some(Command::Check(a)) => check::run(a, protocols, console),
        Some(Command::Suite(a)) => suite::run(a, protocols, console),
        Some(Command::Trace(a)) => trace::run(a, protocols, console),
        Some(Command::Explore(a)) => explore::run(a, protocols, console),
        Some(Command::Run(a)) => run::run(a, console),
    };
    result.unwrap_or_else(|e| usage_error(&e.0, console))
}

fn usage_error(message: &str, console: &Console) -> i32 {
    emit(&console.err, &format!("error: {}\n", one_line(message)));
    2
}

/// Help and version go to stdout with exit 0; real parse errors become one line on stderr with
/// exit 2, keeping clap's message and tips but not its multi-line layout.
fn clap_error(e: &clap::Error, console: &Console) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let text = if console.colour {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            emit(&console.out, &text);
            if !text.ends_with('\n') {
                emit(&console.out, "\n");
            }
            0
        }
        _ => {
            let rendered = e.render().to_string();
            emit(&console.err, &format!("{}\n", fold_clap_message(&rendered)));
            2
        }
    }
}

/// Fold clap's multi-line error into one line: continuation lines of a `...:` line join with a
/// space, other lines with `; `, and the closing "For more information" becomes a hint.
fn fold_clap_message(rendered: &str) -> String {
    let mut out = String::new();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = if line.starts_with("For more information") {
            line.trim_start_matches("For more information, ")
                .trim_end_matches('.')
        } else {
            line
        };
        if out.is_empty() {
            out.push_str(line);
        } else if out.ends_with(':') {
            out.push(' ');
            out.push_str(line);
        } else {
            out.push_str("; ");
            out.push_str(line);
        }
    }
    if !out.starts_with("error:") {
        out.insert_str(0, "error: ");
    }
    out
}

/// Run the CLI with captured output: `(exit code, stdout, stderr)`, no terminal, no colour.
pub fn capture<I, T>(args: I, protocols: &[&dyn Protocol]) -> (i32, String, String)
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let err = Arc::new(Mutex::new(Vec::<u8>::new()));
    let console = Console {
        out: out.clone(),
        err: err.clone(),
        out_is_terminal: false,
        err_is_terminal: false,
        colour: false,
    };
    let code = run(args, protocols, &console);
    let text = |b: &Arc<Mutex<Vec<u8>>>| {
        let bytes = b.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (code, text(&out), text(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_clap_errors_to_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  <PROTOCOL>\n\nUsage: quorate check <PROTOCOL>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            fold_clap_message(rendered),
            "error: the following required arguments were not provided: <PROTOCOL>; Usage: quorate check <PROTOCOL>; try '--help'"
        );
    }
}
