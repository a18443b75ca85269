//! The suite: judging rules as a pure function over canned reports from the fake protocol, and
//! `quorate suite` end to end (table, exit codes, JUnit, file errors) with the fakes.

#[path = "support/fake.rs"]
mod fake;

use std::path::PathBuf;

use quorate::cli::capture;
use quorate::engine::Options;
use quorate::registry::Protocol;
use quorate::suite::file::parse;
use quorate::suite::{Entry, Judgement, ProtocolInfo, RunResult, judge, validate};

const GREEN: &str = r#"
[[check]]
protocol = "toy"
config = "ci"
expect = "pass"
states_unique = 100

[[check]]
protocol = "toy"
config = "ci"
mutant = "w3r3"
expect = "violation"
property = "a1_acked_readable"
trace_len = 4

[[check]]
protocol = "toy"
config = "ci"
mutant = "nomono"
expect = "violation"
property = "c1_monotonic"
trace_len = 2

[[check]]
protocol = "toy"
config = "default"
set = ["write_quorum=3", "read_quorum=3"]
expect = "violation"
property = "a1_acked_readable"
"#;

fn infos() -> Vec<ProtocolInfo> {
    fake::protocols()
        .iter()
        .map(|p| ProtocolInfo::of(*p))
        .collect()
}

/// Run every entry against the fakes, as the suite runner would.
fn results(entries: &[Entry]) -> Vec<RunResult> {
    entries
        .iter()
        .map(|e| {
            fake::TOY
                .check(&e.config, &e.sets, e.mutant.as_deref(), &Options::default())
                .map_err(|u| u.0)
        })
        .collect()
}

fn judged(toml: &str) -> Judgement {
    let entries = parse(toml, "suite.toml").unwrap();
    judge(&entries, &results(&entries), &infos())
}

/// Drop the `n`th (1-based) entry of `GREEN`.
fn without_entry(n: usize) -> String {
    let mut parts: Vec<&str> = GREEN.split("[[check]]").collect();
    parts.remove(n);
    parts.join("[[check]]")
}

#[test]
fn green_suite_matches() {
    let j = judged(GREEN);
    assert!(j.ok(), "{j:?}");
    let got: Vec<_> = j.entries.iter().map(|v| v.got.as_str()).collect();
    assert_eq!(got, ["pass", "violates A1", "violates C1", "violates A1"]);
    assert!(j.entries.iter().all(|v| v.reasons.is_empty()));
}

#[test]
fn every_always_property_needs_a_mutant_kill() {
    // Without the `nomono` entry nothing kills C1; the only other A1 violation comes from a
    // --set entry, which is no mutant and so does not count as a kill either.
    let j = judged(&without_entry(3));
    assert!(!j.ok());
    assert!(j.entries.iter().all(|v| v.ok));
    assert_eq!(
        j.problems,
        [
            "no mutant kills toy/c1_monotonic (C1): add a mutant entry whose run violates it",
            "mutant toy/nomono has no suite entry: add one expecting the violation it causes",
        ]
    );

    let j = judged(&without_entry(2));
    assert!(j.problems[0].starts_with("no mutant kills toy/a1_acked_readable (A1)"));
    assert!(j.problems[1].starts_with("mutant toy/w3r3 has no suite entry"));
    // Sometimes and eventually properties are not expected to be killed.
    assert!(
        !j.problems
            .iter()
            .any(|p| p.contains("b1_") || p.contains("a1s1_"))
    );
}

#[test]
fn pins_must_be_equal() {
    let j = judged(&GREEN.replace("states_unique = 100", "states_unique = 99"));
    assert!(!j.ok());
    assert!(!j.entries[0].ok);
    assert_eq!(j.entries[0].got, "pass");
    assert_eq!(
        j.entries[0].reasons,
        [
            "states_unique pin: expected 99, got 100 (update the pin if the model change is intended)"
        ]
    );

    let j = judged(&GREEN.replace("trace_len = 4", "trace_len = 5"));
    assert!(!j.entries[1].ok);
    assert_eq!(
        j.entries[1].reasons,
        ["trace_len pin: expected 5, got 4 (shortest counterexample of a1_acked_readable)"]
    );
}

#[test]
fn expectations_must_match() {
    // A pass entry whose run violates.
    let toml = GREEN.replacen(
        "config = \"ci\"\nexpect = \"pass\"",
        "config = \"ci\"\nset = [\"read_quorum=1\"]\nexpect = \"pass\"",
        1,
    );
    let j = judged(&toml);
    assert!(!j.entries[0].ok);
    assert_eq!(j.entries[0].got, "violates A1");
    assert_eq!(
        j.entries[0].reasons,
        ["expected pass; violated: a1_acked_readable (A1)"]
    );

    // A violation entry naming a property that holds.
    let toml = GREEN.replace(
        "mutant = \"w3r3\"\nexpect = \"violation\"\nproperty = \"a1_acked_readable\"",
        "mutant = \"w3r3\"\nexpect = \"violation\"\nproperty = \"c1_monotonic\"",
    );
    let j = judged(&toml);
    assert!(!j.entries[1].ok);
    assert_eq!(
        j.entries[1].reasons,
        ["expected c1_monotonic (C1) violated, got holds"]
    );
}

#[test]
fn a_violation_needs_a_trace_and_errors_fail() {
    let entries = parse(GREEN, "suite.toml").unwrap();
    let mut results = results(&entries);
    results[1].as_mut().unwrap().properties[0].trace.clear();
    results[0] = Err("boom".to_string());
    let j = judge(&entries, &results, &infos());
    assert_eq!(j.entries[0].got, "error");
    assert_eq!(j.entries[0].reasons, ["the check did not run: boom"]);
    assert_eq!(
        j.entries[1].reasons,
        ["a1_acked_readable (A1) is violated but the report has no counterexample trace"]
    );
    assert_eq!(j.failed(), 2);
}

#[test]
fn an_incomplete_run_is_no_pass() {
    let entries = parse(GREEN, "suite.toml").unwrap();
    let mut results = results(&entries);
    results[0].as_mut().unwrap().complete = false;
    let j = judge(&entries, &results, &infos());
    assert_eq!(j.entries[0].got, "incomplete");
    assert_eq!(
        j.entries[0].reasons,
        ["expected pass; the search was incomplete"]
    );
}

#[test]
fn names_are_validated_before_running() {
    let check = |from: &str, to: &str| {
        let entries = parse(&GREEN.replacen(from, to, 1), "suite.toml").unwrap();
        validate(&entries, &infos(), "suite.toml").unwrap_err().0
    };
    assert_eq!(
        check("protocol = \"toy\"", "protocol = \"tory\""),
        "suite.toml: check #1 (tory ci): unknown protocol 'tory'; known: toy, plain"
    );
    assert!(check("config = \"ci\"", "config = \"cj\"").contains("unknown config 'cj'"));
    assert!(check("mutant = \"w3r3\"", "mutant = \"w4r4\"").contains(
        "check #2 (toy ci w4r4): unknown mutant 'w4r4' for protocol toy; known: w3r3, nomono"
    ));
    assert!(
        check("property = \"c1_monotonic\"", "property = \"c1_mono\"")
            .contains("check #3 (toy ci nomono): unknown property 'c1_mono'")
    );
}

// ----- `quorate suite` end to end -----

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("quorate-test-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn suite(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["quorate", "suite"];
    argv.extend_from_slice(args);
    capture(argv, &fake::protocols())
}

#[test]
fn suite_command_green() {
    let file = TempFile::new("green.toml", GREEN);
    let junit = TempFile::new("green.xml", "");
    let (code, out, err) = suite(&[file.path(), "--threads", "2", "--junit", junit.path()]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "  protocol  config   mutant  expected     got          unique  seconds"
    );
    assert!(lines[1].starts_with("  toy       ci       -       pass         pass            100"));
    assert!(lines[1].ends_with("  ok"));
    assert!(lines[2].starts_with("  toy       ci       w3r3    violates A1  violates A1"));
    assert!(out.contains("PASS: 4 entries, 4 ok, 0 failed, 0 suite-wide problems"));
    assert!(lines.last().unwrap().starts_with("total time "));
    // A progress note per entry on stderr, naming the command that reproduces it.
    assert!(err.contains("[1/4] quorate check toy --config ci\n"));
    assert!(err.contains(
        "[4/4] quorate check toy --config default --set write_quorum=3 --set read_quorum=3\n"
    ));

    let xml = std::fs::read_to_string(&junit.0).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_eq!(
        xml.matches("<testcase ").count(),
        5,
        "4 entries + suite-wide:\n{xml}"
    );
    assert!(xml.contains("failures=\"0\""));
    assert!(!xml.contains("<failure"));
    assert!(xml.contains("name=\"#2 toy ci w3r3 expect violation of a1_acked_readable\""));
}

#[test]
fn suite_command_reports_why_it_fails() {
    let text = without_entry(3).replace("states_unique = 100", "states_unique = 5");
    let file = TempFile::new("red.toml", &text);
    let junit = TempFile::new("red.xml", "");
    let (code, out, _) = suite(&[file.path(), "--junit", junit.path()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("  toy       ci       -       pass         pass            100"));
    assert!(out.contains("\n      - states_unique pin: expected 5, got 100 (update the pin"));
    assert!(out.contains("  FAIL no mutant kills toy/c1_monotonic (C1)"));
    assert!(out.contains("  FAIL mutant toy/nomono has no suite entry"));
    assert!(out.contains("FAIL: 3 entries, 2 ok, 1 failed, 2 suite-wide problems"));
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line}");
    }
    let xml = std::fs::read_to_string(&junit.0).unwrap();
    assert!(xml.contains("failures=\"2\""));
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains("message=\"got pass: states_unique pin: expected 5, got 100"));
    assert!(xml.contains("no mutant kills toy/c1_monotonic (C1)"));
}

#[test]
fn suite_only_runs_one_protocol() {
    let text = format!(
        "{GREEN}\n[[check]]\nprotocol = \"plain\"\nconfig = \"small\"\nexpect = \"pass\"\n"
    );
    let file = TempFile::new("only.toml", &text);
    // With plain in the suite, its always-properties need kills and its mutants entries.
    let (code, out, _) = suite(&[file.path()]);
    assert_eq!(code, 1);
    assert!(out.contains("no mutant kills plain/a1_acked_readable"));
    let (code, out, _) = suite(&[file.path(), "--only", "toy"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 4 entries"));
}

#[test]
fn suite_runs_the_ci_tier_unless_full() {
    // The fourth entry moves to the full tier: the CI tier still kills every always property
    // and has an entry for every mutant, so it passes on its own.
    let text = GREEN.replace(
        "config = \"default\"\n",
        "config = \"default\"\ntier = \"full\"\n",
    );
    let file = TempFile::new("tiers.toml", &text);
    let (code, out, err) = suite(&[file.path()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS: 3 entries, 3 ok"), "{out}");
    assert!(out.contains("CI tier: 1 entry of the full tier not run (quorate suite --full"));
    assert!(err.contains("[3/3] "), "{err}");
    let (code, out, _) = suite(&[file.path(), "--full"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 4 entries, 4 ok"), "{out}");
    assert!(!out.contains("CI tier"));

    // A mutant whose only entry is in the full tier leaves the CI tier short: it fails, as it
    // must, rather than letting a planted bug go unchecked in CI.
    let text = GREEN.replace(
        "mutant = \"nomono\"\n",
        "mutant = \"nomono\"\ntier = \"full\"\n",
    );
    let file = TempFile::new("short.toml", &text);
    let (code, out, _) = suite(&[file.path()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL mutant toy/nomono has entries only in the full tier"),
        "{out}"
    );
    assert!(
        out.contains("FAIL no mutant of the CI tier kills toy/c1_monotonic"),
        "{out}"
    );
    let (code, out, _) = suite(&[file.path(), "--full"]);
    assert_eq!(code, 0, "{out}");

    // Entries of the full tier are still read and resolved without --full: a typo there is a
    // bad file in CI too.
    let file = TempFile::new(
        "fulltypo.toml",
        &GREEN.replace(
            "config = \"default\"\n",
            "config = \"default\"\ntier = \"full\"\nmutant = \"nope\"\n",
        ),
    );
    assert!(usage_error(&[file.path()]).contains("unknown mutant 'nope'"));
    // Selecting only full-tier entries without --full says how to run them.
    let text = format!(
        "{GREEN}\n[[check]]\nprotocol = \"plain\"\nconfig = \"small\"\nexpect = \"pass\"\ntier = \"full\"\n"
    );
    let file = TempFile::new("onlyfull.toml", &text);
    // A protocol whose entries are all in the full tier is still judged in CI: its mutants
    // need CI-tier entries.
    let (code, out, _) = suite(&[file.path()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("mutant plain/w3r3 has no suite entry"),
        "{out}"
    );
    assert!(
        out.contains("CI tier: 1 entry of the full tier not run"),
        "{out}"
    );
    assert!(usage_error(&[file.path(), "--only", "plain"]).contains("add --full to run them"));
}

fn usage_error(args: &[&str]) -> String {
    let (code, out, err) = suite(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.starts_with("error: "));
    err.trim_end().to_string()
}

#[test]
fn suite_usage_errors() {
    let file = TempFile::new(
        "typo.toml",
        &GREEN.replace("trace_len = 2", "trace_lenght = 2"),
    );
    assert_eq!(
        usage_error(&[file.path()]),
        format!(
            "error: {}: check #3 (toy ci nomono): unknown key 'trace_lenght'; known keys: protocol, config, mutant, expect, property, states_unique, trace_len, set, tier",
            file.path()
        )
    );

    let file = TempFile::new(
        "badset.toml",
        &GREEN.replace("write_quorum=3", "write_quorum=9"),
    );
    assert_eq!(
        usage_error(&[file.path()]),
        format!(
            "error: {}: check #4 (toy default): write_quorum must be a whole number in 1..=6, got '9'",
            file.path()
        )
    );

    let file = TempFile::new("names.toml", GREEN);
    assert!(usage_error(&[file.path(), "--only", "nope"]).contains("unknown protocol 'nope'"));
    assert!(
        usage_error(&[file.path(), "--only", "plain"]).contains("no entries for protocol plain")
    );
    assert!(usage_error(&["/no/such/suite.toml"]).contains("suite file not found"));
    assert!(
        usage_error(&[file.path(), "--junit", "/no/such/dir/junit.xml"])
            .contains("cannot write JUnit XML to /no/such/dir/junit.xml")
    );
    let file = TempFile::new("broken.toml", "[[check]]\nprotocol = \"toy\n");
    assert!(usage_error(&[file.path()]).contains("invalid TOML at line 2"));
}
