//! The text rendering of one [`Report`]: a summary, a table of properties, a numbered shortest
//! counterexample per violated property (and, on request, witness traces), then a verdict line
//! that explains the exit code. Pure: returns a `String`, so it is tested without a terminal.

use crate::report::{PropertyReport, Report, Status};

use super::style::{Colour, Style, group, megabytes, rate, wrap};

/// What the text rendering needs beyond the report.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Colour escapes on or off.
    pub style: Style,
    /// Print the trace of every witnessed `sometimes` property too.
    pub witnesses: bool,
    /// `spec_id: doc` of the planted mutant, shown next to its name.
    pub mutant_doc: Option<String>,
}

/// Render `report` as the text `quorate check` prints on stdout.
pub fn render_report(report: &Report, opts: &RenderOptions) -> String {
    let mut out = summary(report, opts);
    out.push('\n');
    out.push_str(&property_table(&report.properties, opts.style));

    let violated: Vec<_> = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .collect();
    for (i, prop) in violated.iter().enumerate() {
        out.push('\n');
        out.push_str(&trace_block(
            "counterexample",
            i + 1,
            prop,
            "violates",
            opts.style,
        ));
    }

    let witnessed: Vec<_> = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Witnessed)
        .collect();
    if opts.witnesses {
        for (i, prop) in witnessed.iter().enumerate() {
            out.push('\n');
            out.push_str(&trace_block(
                "witness",
                i + 1,
                prop,
                "witnesses",
                opts.style,
            ));
        }
    } else if !witnessed.is_empty() {
        out.push('\n');
        let n = witnessed.len();
        let what = if n == 1 { "property" } else { "properties" };
        out.push_str(&format!(
            "({n} sometimes-{what} witnessed; --witnesses prints their traces)\n"
        ));
    }

    out.push('\n');
    out.push_str(&verdict(report, opts.style));
    out
}

fn summary(report: &Report, opts: &RenderOptions) -> String {
    let style = opts.style;
    let mut out = String::new();
    let row = |out: &mut String, label: &str, value: &str| {
        out.push_str(&wrap(value, &format!("  {label:<11} "), &" ".repeat(14)));
    };
    out.push_str(&style.paint(Colour::Bold, &format!("quorate check {}", report.protocol)));
    out.push('\n');
    row(&mut out, "config", &report.config);
    let mutant = match (&report.mutant, &opts.mutant_doc) {
        (Some(m), Some(doc)) => format!("{m} ({doc})"),
        (Some(m), None) => m.clone(),
        (None, _) => "none".to_string(),
    };
    row(&mut out, "mutant", &mutant);
    let params = if report.parameters.is_empty() {
        "(none)".to_string()
    } else {
        report.parameters.join(" ")
    };
    row(&mut out, "parameters", &params);
    let how = format!(
        "{}, {} thread{}, symmetry {}",
        report.strategy,
        report.threads,
        if report.threads == 1 { "" } else { "s" },
        if report.symmetry { "on" } else { "off" }
    );
    if report.complete {
        row(&mut out, "search", &format!("complete ({how})"));
    } else {
        // Wrap the plain text first: escapes must not count as columns.
        let mut line = String::new();
        let text = format!("INCOMPLETE ({how}): stopped early, unsettled properties are unknown");
        row(&mut line, "search", &text);
        out.push_str(&line.replacen("INCOMPLETE", &style.paint(Colour::Yellow, "INCOMPLETE"), 1));
    }
    row(
        &mut out,
        "states",
        &format!(
            "{} unique / {} total, depth {}",
            group(report.states_unique),
            group(report.states_total),
            report.max_depth
        ),
    );
    let mut time = format!(
        "{:.2} s, {} states/s",
        report.seconds,
        group(rate(report.states_total, report.seconds))
    );
    if let Some(bytes) = report.peak_memory_bytes {
        time.push_str(&format!(", peak memory {}", megabytes(bytes)));
    }
    row(&mut out, "time", &time);
    out
}

/// The word shown for a status and its colour.
pub fn status_word(status: Status) -> (&'static str, Colour) {
    match status {
        Status::Holds => ("holds", Colour::Green),
        Status::Witnessed => ("witnessed", Colour::Green),
        Status::Violated => ("VIOLATED", Colour::Red),
        Status::Unwitnessed => ("UNWITNESSED", Colour::Red),
        Status::Unknown => ("unknown", Colour::Yellow),
    }
}

fn property_table(props: &[PropertyReport], style: Style) -> String {
    if props.is_empty() {
        return "  (this protocol declares no properties)\n".to_string();
    }
    let spec_w = props
        .iter()
        .map(|p| p.spec_id.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let name_w = props.iter().map(|p| p.name.len()).max().unwrap_or(0).max(8);
    let kind_w = props.iter().map(|p| p.kind.len()).max().unwrap_or(0).max(4);
    let mut out = style.paint(
        Colour::Bold,
        &format!(
            "  {:<spec_w$}  {:<name_w$}  {:<kind_w$}  status",
            "spec", "property", "kind"
        ),
    );
    out.push('\n');
    for p in props {
        let (word, colour) = status_word(p.status);
        out.push_str(&format!(
            "  {:<spec_w$}  {:<name_w$}  {:<kind_w$}  {}\n",
            p.spec_id,
            p.name,
            p.kind,
            style.paint(colour, word)
        ));
    }
    out
}

/// A numbered trace: heading, steps with their changes indented beneath, then the closing
/// `violates name (spec)` (or `witnesses`) line and the explanation.
fn trace_block(title: &str, n: usize, prop: &PropertyReport, verb: &str, style: Style) -> String {
    // `trace` starts with the initial state (step 0); `steps` holds steps 1.. only.
    let steps = if prop.steps.is_empty() {
        prop.trace.len().saturating_sub(1)
    } else {
        prop.steps.len()
    };
    let colour = if verb == "violates" {
        Colour::Red
    } else {
        Colour::Green
    };
    let mut out = style.paint(
        Colour::Bold,
        &format!(
            "{title} {n}: {} ({}), {steps} step{}, a shortest one",
            prop.name,
            prop.spec_id,
            if steps == 1 { "" } else { "s" }
        ),
    );
    out.push('\n');
    if steps == 0 {
        out.push_str("  (already in an initial state)\n");
    }
    let num_w = steps.to_string().len();
    if prop.steps.is_empty() {
        // No structured steps: the JSON trace strings are already numbered.
        for line in prop.trace.iter().skip(1) {
            out.push_str(&wrap(line, "  ", &" ".repeat(num_w + 4)));
        }
    } else {
        let changes_indent = " ".repeat(num_w + 6);
        for (i, step) in prop.steps.iter().enumerate() {
            let first = format!("  {:>num_w$}. ", i + 1);
            out.push_str(&wrap(&step.action, &first, &" ".repeat(first.len())));
            for change in &step.changes {
                out.push_str(&wrap(
                    change,
                    &changes_indent,
                    &format!("{changes_indent}  "),
                ));
            }
        }
    }
    out.push_str(&format!(
        "  {} {} ({})\n",
        style.paint(colour, verb),
        prop.name,
        prop.spec_id
    ));
    if let Some(explanation) = &prop.explanation {
        for paragraph in explanation.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&wrap(paragraph, "    ", "    "));
        }
    }
    out
}

/// The last line: what the exit code will be and why.
fn verdict(report: &Report, style: Style) -> String {
    let names = |status: Status| -> Vec<&str> {
        report
            .properties
            .iter()
            .filter(|p| p.status == status)
            .map(|p| p.name.as_str())
            .collect()
    };
    let violated = names(Status::Violated);
    let unwitnessed = names(Status::Unwitnessed);
    let mut reasons = Vec::new();
    if !violated.is_empty() {
        reasons.push(format!("violated: {}", violated.join(", ")));
    }
    if !unwitnessed.is_empty() {
        reasons.push(format!(
            "never witnessed (so their always-twins may pass vacuously): {}",
            unwitnessed.join(", ")
        ));
    }
    if !report.complete {
        reasons.push(if violated.is_empty() {
            "the search stopped early (a --max-states/--max-seconds/--max-memory limit or Ctrl-C)"
                .to_string()
        } else {
            "the search stopped after the first violating level; --keep-going explores the rest"
                .to_string()
        });
    }
    if reasons.is_empty() {
        let text = "complete search; every property holds or is witnessed (exit 0)";
        return wrap(
            text,
            &format!("{} ", style.paint(Colour::Green, "PASS:")),
            "  ",
        );
    }
    let word = if violated.is_empty() && unwitnessed.is_empty() {
        "INCOMPLETE:"
    } else {
        "FAIL:"
    };
    let colour = if word == "FAIL:" {
        Colour::Red
    } else {
        Colour::Yellow
    };
    // Wrap on plain text, then colour the leading word, so escapes never count as columns.
    let plain = wrap(&format!("{word} {} (exit 1)", reasons.join("; ")), "", "  ");
    plain.replacen(word, &style.paint(colour, word), 1)
}
