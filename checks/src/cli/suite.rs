//! `quorate suite`: load and validate the suite file, run every entry with a note on stderr,
//! judge (see [`crate::suite::judge`]), print the table and optionally JUnit XML.

use std::io::Write;
use std::time::Instant;

use crate::engine::Options;
use crate::registry::{Protocol, UsageError};
use crate::suite::file::{self, Entry, Expect, Tier};
use crate::suite::judge::{Judgement, ProtocolInfo, RunResult, judge_tier, validate};
use crate::suite::junit::junit_xml;
use crate::suite::run::{preflight, run_entry};
use crate::suite::scenarios::{self, ScenarioResult};

use super::Console;
use super::args::SuiteArgs;
use super::check::default_threads;
use super::progress::{self, ProgressLine};
use super::style::{Colour, Style, group, wrap};

/// Run `quorate suite`; returns the exit code, or the usage error to print (exit 2).
pub fn run(
    args: &SuiteArgs,
    protocols: &[&dyn Protocol],
    console: &Console,
) -> Result<i32, UsageError> {
    let path = file::locate(&args.file)?;
    let name = path.display().to_string();
    let mut entries = file::load(&path)?;
    let infos: Vec<_> = protocols.iter().map(|p| ProtocolInfo::of(*p)).collect();
    if let Some(only) = &args.only {
        super::check::find(protocols, only)?;
    }
    // Every entry is checked and resolved, whatever --only and the tier select, so a typo
    // anywhere in the file is a bad file on every run.
    validate(&entries, &infos, &name)?;
    preflight(&entries, protocols, &name)?;
    if let Some(only) = &args.only {
        entries.retain(|e| &e.protocol == only);
        if entries.is_empty() {
            return Err(UsageError(format!(
                "{name}: no entries for protocol {only}"
            )));
        }
    }
    // Without --full the full tier is held back; the suite-wide rules still name its
    // protocols, so the CI tier must cover them on its own.
    let (entries, held): (Vec<Entry>, Vec<Entry>) = if args.full {
        (entries, Vec::new())
    } else {
        entries.into_iter().partition(|e| e.tier == Tier::Ci)
    };
    let held_back = held.len();
    if entries.is_empty() {
        return Err(UsageError(format!(
            "{name}: every selected entry is in the full tier; add --full to run them"
        )));
    }
    // Create the JUnit file up front: a bad path should fail before the suite runs, not after.
    let mut junit =
        match &args.junit {
            Some(p) => Some(std::fs::File::create(p).map_err(|e| {
                UsageError(format!("cannot write JUnit XML to {}: {e}", p.display()))
            })?),
            None => None,
        };

    let threads = args.threads.map_or_else(default_threads, |n| n as usize);
    let start = Instant::now();
    let mut results: Vec<RunResult> = Vec::with_capacity(entries.len());
    let mut seconds = Vec::with_capacity(entries.len());
    // One flag for the whole suite: after Ctrl-C the running entry stops and the rest are skipped.
    let stop = super::interrupt::stop_flag();
    for (i, e) in entries.iter().enumerate() {
        if stop
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
        {
            results.push(Err("skipped: the suite was interrupted".to_string()));
            seconds.push(0.0);
            continue;
        }
        let prefix = format!("[{}/{}] ", i + 1, entries.len());
        super::emit(&console.err, &format!("{prefix}{}\n", command_line(e)));
        let line = ProgressLine::new(console.err.clone(), true, prefix);
        let options = Options {
            threads,
            // Per-entry ticks only where they redraw in place; a log gets the note per entry.
            progress: console.err_is_terminal.then(|| line.callback()),
            progress_every: progress::EVERY_SECONDS,
            stop: stop.clone(),
            ..Options::default()
        };
        let t = Instant::now();
        results.push(run_entry(e, protocols, &options));
        line.finish();
        seconds.push(t.elapsed().as_secs_f64());
    }

    // The scenarios beside the suite file: replays, quick, after the checks.
    let mut scenario_results = Vec::new();
    for f in scenarios::find(&path) {
        let r = scenarios::run_one(&f, protocols);
        if args.only.as_ref().is_some_and(|o| *o != r.protocol) {
            continue;
        }
        super::emit(
            &console.err,
            &format!("[scenario] quorate trace replay {}\n", f.display()),
        );
        scenario_results.push(r);
    }

    let judgement = judge_tier(&entries, &results, &infos, &held);
    let table = render_table(
        &entries,
        &results,
        &seconds,
        &judgement,
        &infos,
        console.style(),
    );
    super::emit(&console.out, &table);
    let scenarios_ok = scenario_results.iter().all(|r| r.ok);
    if !scenario_results.is_empty() {
        super::emit(
            &console.out,
            &render_scenarios(&scenario_results, console.style()),
        );
    }
    if held_back > 0 {
        super::emit(
            &console.out,
            &format!(
                "CI tier: {held_back} {} of the full tier not run (quorate suite --full runs them)\n",
                if held_back == 1 { "entry" } else { "entries" }
            ),
        );
    }
    super::emit(
        &console.out,
        &format!("total time {:.2} s\n", start.elapsed().as_secs_f64()),
    );
    if let (Some(f), Some(p)) = (junit.as_mut(), &args.junit) {
        f.write_all(junit_xml(&entries, &judgement, &seconds, &scenario_results).as_bytes())
            .map_err(|e| UsageError(format!("cannot write JUnit XML to {}: {e}", p.display())))?;
    }
    Ok(if judgement.ok() && scenarios_ok { 0 } else { 1 })
}

/// The scenario table: one row per scenario, the reason beneath a mismatch, and a verdict.
pub fn render_scenarios(results: &[ScenarioResult], style: Style) -> String {
    let w_name = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let w_exp = results
        .iter()
        .map(|r| r.expected.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let w_got = results
        .iter()
        .map(|r| r.got.len())
        .max()
        .unwrap_or(0)
        .max(3);
    let mut out = String::from("\n");
    out.push_str(&style.paint(
        Colour::Bold,
        &format!(
            "  {:<w_name$}  {:<w_exp$}  {:<w_got$}",
            "scenario", "expected", "got"
        ),
    ));
    out.push('\n');
    for r in results {
        let (word, colour) = if r.ok {
            ("ok", Colour::Green)
        } else {
            ("FAIL", Colour::Red)
        };
        out.push_str(&format!(
            "  {:<w_name$}  {:<w_exp$}  {:<w_got$}  {}\n",
            r.name,
            r.expected,
            r.got,
            style.paint(colour, word)
        ));
        if let Some(reason) = &r.reason {
            out.push_str(&wrap(reason, "      - ", "        "));
        }
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    let verdict = if failed == 0 {
        style.paint(Colour::Green, "PASS:")
    } else {
        style.paint(Colour::Red, "FAIL:")
    };
    out.push_str(&format!(
        "\n{verdict} {} scenarios, {} ok, {failed} failed\n",
        results.len(),
        results.len() - failed
    ));
    out
}

/// The `quorate check` command that reproduces an entry.
pub fn command_line(e: &Entry) -> String {
    let mut s = format!("quorate check {} --config {}", e.protocol, e.config);
    if let Some(m) = &e.mutant {
        s.push_str(&format!(" --mutant {m}"));
    }
    for (k, v) in &e.sets {
        s.push_str(&format!(" --set {k}={v}"));
    }
    s
}

/// The suite table: one row per entry (with the reasons of a mismatch beneath it), then the
/// suite-wide problems and a verdict line.
pub fn render_table(
    entries: &[Entry],
    results: &[RunResult],
    seconds: &[f64],
    judgement: &Judgement,
    infos: &[ProtocolInfo],
    style: Style,
) -> String {
    let header = [
        "protocol", "config", "mutant", "expected", "got", "unique", "seconds", "",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for (i, (e, v)) in entries.iter().zip(&judgement.entries).enumerate() {
        let info = infos.iter().find(|x| x.name == e.protocol);
        let expected = match (e.expect, &e.property) {
            (Expect::Violation, Some(p)) => {
                format!("violates {}", info.map_or(p.as_str(), |x| x.spec_id(p)))
            }
            (expect, _) => expect.as_str().to_string(),
        };
        let unique = match results.get(i) {
            Some(Ok(r)) => group(r.states_unique),
            _ => "-".to_string(),
        };
        rows.push([
            e.protocol.clone(),
            e.config.clone(),
            e.mutant.clone().unwrap_or_else(|| "-".to_string()),
            expected,
            v.got.clone(),
            unique,
            format!("{:.2}", seconds.get(i).copied().unwrap_or(0.0)),
            if v.ok { "ok" } else { "FAIL" }.to_string(),
        ]);
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Numbers are right-aligned so their magnitudes line up.
    let line = |cells: [&str; 8]| -> String {
        let mut s = String::new();
        for (c, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if c == 7 {
                s.push_str(&format!("  {cell}"));
            } else if c == 5 || c == 6 {
                s.push_str(&format!("  {cell:>w$}"));
            } else {
                s.push_str(&format!("  {cell:<w$}"));
            }
        }
        s.trim_end().to_string() + "\n"
    };

    let mut out = style.paint(Colour::Bold, line(header).trim_end());
    out.push('\n');
    for (row, v) in rows.iter().zip(&judgement.entries) {
        let cells = [
            row[0].as_str(),
            &row[1],
            &row[2],
            &row[3],
            &row[4],
            &row[5],
            &row[6],
            "",
        ];
        let (word, colour) = if v.ok {
            ("ok", Colour::Green)
        } else {
            ("FAIL", Colour::Red)
        };
        out.push_str(line(cells).trim_end());
        out.push_str("  ");
        out.push_str(&style.paint(colour, word));
        out.push('\n');
        for reason in &v.reasons {
            out.push_str(&wrap(reason, "      - ", "        "));
        }
    }
    for problem in &judgement.problems {
        let text = wrap(problem, "  FAIL ", "       ");
        out.push_str(&text.replacen("FAIL", &style.paint(Colour::Red, "FAIL"), 1));
    }
    let failed = judgement.failed();
    let summary = format!(
        "{} entries, {} ok, {failed} failed, {} suite-wide problem{}",
        entries.len(),
        entries.len() - failed,
        judgement.problems.len(),
        if judgement.problems.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    let verdict = if judgement.ok() {
        style.paint(Colour::Green, "PASS:")
    } else {
        style.paint(Colour::Red, "FAIL:")
    };
    out.push_str(&format!("\n{verdict} {summary}\n"));
    out
}
