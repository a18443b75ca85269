//! `quorate trace show|replay`: read a trace file, replay it against the model it names, and
//! print it (text, Mermaid or ITF) or say how the replay ended.

use serde_json::Value;

use crate::registry::{Protocol, UsageError};
use crate::trace::{Outcome, Replayed, TraceFile, itf, mermaid};

use super::args::{ShowFormat, TraceCommand};
use super::style::{Colour, Style, wrap};
use super::{Console, emit};

/// Run `trace show` or `trace replay`.
pub fn run(
    command: &TraceCommand,
    protocols: &[&dyn Protocol],
    console: &Console,
) -> Result<i32, UsageError> {
    match command {
        TraceCommand::Show(a) => {
            let (file, replayed) = load(&a.file, protocols)?;
            let text = match a.format {
                ShowFormat::Text => render_text(&file, &replayed, console.style()),
                ShowFormat::Mermaid => mermaid::render(&file, &replayed),
                ShowFormat::Itf => {
                    let doc = itf::render(&file, &replayed, &a.file.display().to_string())
                        .map_err(UsageError)?;
                    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
                    s.push('\n');
                    s
                }
            };
            emit(&console.out, &text);
            Ok(match replayed.outcome {
                Outcome::Valid { .. } | Outcome::Violates { .. } => 0,
                _ => 1,
            })
        }
        TraceCommand::Validate(a) => super::run_actors::validate(&a.dir, console),
        TraceCommand::Replay(a) => {
            let (file, replayed) = load(&a.file, protocols)?;
            let mut text = format!(
                "replayed {} of {} steps of {}\n",
                replayed.steps.len(),
                file.steps.len(),
                a.file.display()
            );
            text.push_str(&outcome_lines(&replayed, console.style()));
            if let (Some((k, other)), Some(named)) = (&replayed.earlier, &file.property) {
                text.push_str(&format!(
                    "  on the way: {other} fails first, at step {k} (the trace is of {})\n",
                    named.name
                ));
            }
            if let Some(expect) = &file.expect {
                let met = crate::trace::meets(&replayed.outcome, expect);
                text.push_str(&format!(
                    "  the file expects: {expect} ({})\n",
                    if met { "met" } else { "NOT met" }
                ));
            }
            emit(&console.out, &text);
            Ok(replayed.outcome.exit_code())
        }
    }
}

/// Read `path` and replay it; unreadable files and bad names are usage errors (exit 2).
pub fn load(
    path: &std::path::Path,
    protocols: &[&dyn Protocol],
) -> Result<(TraceFile, Replayed), UsageError> {
    let file = TraceFile::read(path).map_err(UsageError)?;
    let replayed = replay_file(&file, protocols)?;
    Ok((file, replayed))
}

/// Replay a parsed trace through the registry, with `check`'s checks of the names first (so a
/// typo gets the same one-line fix-it message).
pub fn replay_file(file: &TraceFile, protocols: &[&dyn Protocol]) -> Result<Replayed, UsageError> {
    let sets = file.sets().map_err(UsageError)?;
    let req = super::check::validate(
        protocols,
        &file.protocol,
        file.config.as_deref(),
        &sets,
        file.mutant.as_deref(),
    )?;
    crate::trace::property_known(req.protocol, file)?;
    req.protocol.replay(&req.config, file)
}

/// The whole trace as text: a heading, the numbered steps with their changes, and the end.
pub fn render_text(file: &TraceFile, replayed: &Replayed, style: Style) -> String {
    let mut title = format!(
        "trace of {}, config {}",
        file.protocol,
        file.config.as_deref().unwrap_or("default")
    );
    if let Some(m) = &file.mutant {
        title.push_str(&format!(", mutant {m}"));
    }
    let n = replayed.steps.len();
    title.push_str(&format!(", {n} step{}", if n == 1 { "" } else { "s" }));
    let mut out = style.paint(Colour::Bold, &title);
    out.push('\n');
    if let Some(d) = &file.description {
        out.push_str(&wrap(d, "  ", "  "));
    }
    if !file.parameters.is_empty() {
        out.push_str(&wrap(
            &file.parameters.join(" "),
            "  parameters  ",
            "              ",
        ));
    }
    let num_w = n.to_string().len();
    let changes_indent = " ".repeat(num_w + 6);
    for (i, step) in replayed.steps.iter().enumerate() {
        let first = format!("  {:>num_w$}. ", i + 1);
        let text = step.text.clone().unwrap_or_else(|| step.action.to_string());
        out.push_str(&wrap(&text, &first, &" ".repeat(first.len())));
        for change in &step.changes {
            out.push_str(&wrap(
                change,
                &changes_indent,
                &format!("{changes_indent}  "),
            ));
        }
    }
    out.push_str(&outcome_lines(replayed, style));
    out
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// How the replay ended, in a few lines.
pub fn outcome_lines(replayed: &Replayed, style: Style) -> String {
    let mut out = String::new();
    match &replayed.outcome {
        Outcome::Valid { quiescent } => {
            let text = format!(
                "a valid run of the model{}",
                if *quiescent {
                    "; it ends quiescent, and every eventually property holds there"
                } else {
                    ""
                }
            );
            out.push_str(&wrap(
                &text,
                &format!("  {} ", style.paint(Colour::Green, "valid:")),
                "    ",
            ));
        }
        Outcome::Violates {
            step,
            property,
            spec_id,
            kind,
            explanation,
        } => {
            let at = if *step == 0 {
                "in the initial state".to_string()
            } else {
                format!("after step {step}")
            };
            out.push_str(&format!(
                "  {} {property} ({spec_id}, {kind}) {at}\n",
                style.paint(Colour::Red, "violates")
            ));
            for paragraph in explanation.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&wrap(paragraph, "    ", "    "));
            }
        }
        Outcome::NotEnabled {
            step,
            action,
            enabled,
        } => {
            out.push_str(&wrap(
                &format!(
                    "step {step}, {}, is not a step the model can take here",
                    compact(action)
                ),
                &format!("  {} ", style.paint(Colour::Red, "not enabled:")),
                "    ",
            ));
            let shown: Vec<String> = enabled.iter().take(12).map(compact).collect();
            let more = enabled.len().saturating_sub(shown.len());
            let list = if shown.is_empty() {
                "nothing".to_string()
            } else if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            out.push_str(&wrap(&format!("enabled there: {list}"), "    ", "      "));
        }
        Outcome::StateMismatch {
            step,
            path,
            file,
            model,
        } => {
            let at = if *step == 0 {
                "the initial state".to_string()
            } else {
                format!("the state after step {step}")
            };
            out.push_str(&wrap(
                &format!(
                    "{at} differs at {path}: the file has {}, the model {}",
                    compact(file),
                    compact(model)
                ),
                &format!("  {} ", style.paint(Colour::Red, "state differs:")),
                "    ",
            ));
        }
    }
    out
}
