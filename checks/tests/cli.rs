//! The command line, driven in-process through `quorate::cli::capture` with fake protocols:
//! usage errors, help, JSON shape and the text rendering of a violation.

#[path = "support/fake.rs"]
mod fake;

use quorate::cli::{RenderOptions, Style, capture, render_report};
use quorate::engine::Options;
use quorate::registry::Protocol;

fn run(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["quorate"];
    argv.extend_from_slice(args);
    capture(argv, &fake::protocols())
}

/// Exit 2, nothing on stdout, exactly one `error: ...` line on stderr; returns that line.
fn usage_error(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 2, "{args:?}: exit code; stderr: {err}");
    assert!(out.is_empty(), "{args:?}: stdout should be empty: {out}");
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: one line on stderr: {err:?}"
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(err.ends_with('\n'));
    assert!(!err.contains("panicked"));
    err.trim_end().to_string()
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    assert_eq!(
        usage_error(&["check", "nope"]),
        "error: unknown protocol 'nope'; choose one of: toy, plain (see quorate list)"
    );
    assert_eq!(
        usage_error(&["check", "toy", "--set", "no_such_key=1"]),
        "error: unknown parameter 'no_such_key' for protocol toy; known: write_quorum, read_quorum (see quorate list)"
    );
    assert_eq!(
        usage_error(&["check", "toy", "--config", "huge"]),
        "error: unknown config 'huge' for protocol toy; known: ci, default (see quorate list)"
    );
    assert_eq!(
        usage_error(&["check", "toy", "--mutant", "no-such-mutant"]),
        "error: unknown mutant 'no-such-mutant' for protocol toy; known: w3r3, nomono (see quorate list)"
    );
    // Values are the protocol's to judge.
    assert_eq!(
        usage_error(&["check", "toy", "--set", "write_quorum=banana"]),
        "error: write_quorum must be a whole number in 1..=6, got 'banana'"
    );
    assert!(usage_error(&["check", "toy", "--set", "write_quorum"]).contains("expected KEY=VALUE"));
    assert!(usage_error(&["check", "toy", "--set", "=3"]).contains("expected KEY=VALUE"));
    assert!(usage_error(&["check", "toy", "--threads", "0"]).contains("at least 1"));
    assert!(usage_error(&["check", "toy", "--threads", "many"]).contains("--threads"));
    assert!(usage_error(&["check", "toy", "--max-states", "0"]).contains("--max-states"));
    assert!(usage_error(&["check", "toy", "--max-seconds", "-1"]).contains("positive number"));
    assert!(usage_error(&["check", "toy", "--max-states", "-5"]).contains("at least 1"));
    assert!(usage_error(&["check", "toy", "--strategy", "random"]).contains("random"));
    assert!(usage_error(&["check", "toy", "--format", "xml"]).contains("xml"));
    assert!(usage_error(&["check", "toy", "--formt", "json"]).contains("--format"));
    assert!(usage_error(&["check"]).contains("<PROTOCOL>"));
    assert!(usage_error(&["frobnicate"]).contains("frobnicate"));
    assert!(usage_error(&[]).contains("list, check, suite"));
    assert!(usage_error(&["list", "--format", "yaml"]).contains("yaml"));
}

#[test]
fn help_teaches_exit_codes_examples_and_geometry() {
    let (code, out, err) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(err.is_empty());
    for needle in [
        "Exit codes:",
        "  0 ",
        "  1 ",
        "  2 ",
        "quorate list",
        "quorate check quorum",
        "quorate suite",
    ] {
        assert!(out.contains(needle), "--help lacks {needle:?}:\n{out}");
    }

    let (code, out, _) = run(&["check", "--help"]);
    assert_eq!(code, 0);
    for needle in [
        "shortest",
        "--set write_quorum=3 --set read_quorum=3",
        "--config",
        "--mutant",
        "--threads",
        "--strategy",
        "--format",
        "--max-states",
        "--max-seconds",
        "--max-memory",
        "--witnesses",
    ] {
        assert!(
            out.contains(needle),
            "check --help lacks {needle:?}:\n{out}"
        );
    }

    for args in [
        &["--help"][..],
        &["-h"],
        &["list", "--help"],
        &["check", "--help"],
        &["check", "-h"],
        &["suite", "--help"],
        &["suite", "-h"],
        &["trace", "--help"],
        &["trace", "show", "--help"],
        &["trace", "replay", "--help"],
        &["explore", "--help"],
    ] {
        let (code, out, _) = run(args);
        assert_eq!(code, 0);
        for line in out.lines() {
            assert!(
                line.chars().count() <= 80,
                "{args:?}: line over 80 columns: {line}"
            );
        }
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("quorate "));
}

#[test]
fn json_is_exactly_the_report() {
    let (code, out, err) = run(&[
        "check",
        "toy",
        "--config",
        "ci",
        "--threads",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.is_empty(),
        "no progress on a non-terminal stderr in JSON mode: {err}"
    );
    let expected = fake::TOY
        .check(
            "ci",
            &[],
            None,
            &Options {
                threads: 3,
                ..Options::default()
            },
        )
        .unwrap();
    assert_eq!(out, serde_json::to_string_pretty(&expected).unwrap());

    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "protocol",
        "config",
        "mutant",
        "parameters",
        "complete",
        "states_unique",
        "states_total",
        "max_depth",
        "seconds",
        "properties",
    ] {
        assert!(j.get(key).is_some(), "missing {key}");
    }
    assert_eq!(j["mutant"], serde_json::Value::Null);
    assert_eq!(j["threads"], 3);
    for p in j["properties"].as_array().unwrap() {
        for key in ["name", "spec_id", "kind", "status", "trace"] {
            assert!(p.get(key).is_some(), "property lacks {key}: {p}");
        }
    }
}

#[test]
fn json_violation_exits_1_with_a_trace() {
    let (code, out, _) = run(&["check", "toy", "--mutant", "w3r3", "--format", "json"]);
    assert_eq!(code, 1);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["mutant"], "w3r3");
    assert_eq!(j["config"], "default", "default config when listed");
    let a1 = &j["properties"][0];
    assert_eq!(a1["status"], "violated");
    assert_eq!(a1["trace"][0], "0. initial state");
    assert_eq!(a1["trace"][1], "1. writer: send LSN 1 to all segments");
}

#[test]
fn default_config_is_default_else_first_and_later_set_wins() {
    let (_, out, _) = run(&["check", "plain", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["config"], "small");

    let (code, out, _) = run(&[
        "check",
        "toy",
        "--set",
        "write_quorum=3",
        "--set",
        "read_quorum=3",
        "--set",
        "write_quorum=4",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "the last write_quorum=4 wins: 4 + 3 > 6 keeps A1");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["parameters"][1], "write_quorum=4");
}

#[test]
fn text_report_of_a_violation() {
    let (code, out, err) = run(&[
        "check",
        "toy",
        "--config",
        "ci",
        "--set",
        "write_quorum=3",
        "--set",
        "read_quorum=3",
        "--threads",
        "2",
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err, "150 states  50 unique  depth 4  75 states/s  32 MB  2 s\n",
        "text mode: progress on stderr, one line per tick when not a terminal"
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let lines: Vec<&str> = out.lines().collect();
    let has = |needle: &str| {
        assert!(
            lines.iter().any(|l| l.trim_end() == needle),
            "missing line {needle:?} in:\n{out}"
        )
    };
    has("quorate check toy");
    has("  config      ci");
    has("  mutant      none");
    has("  parameters  config=ci write_quorum=3 read_quorum=3");
    has("  search      complete (bfs, 2 threads, symmetry on)");
    has("  states      100 unique / 300 total, depth 9");
    has("  time        0.50 s, 600 states/s, peak memory 64 MB");
    has("  spec   property              kind        status");
    has("  A1     a1_acked_readable     always      VIOLATED");
    has("  A1.s1  a1s1_something_acked  sometimes   witnessed");
    has("  C1     c1_monotonic          always      holds");
    has("counterexample 1: a1_acked_readable (A1), 4 steps, a shortest one");
    has("  1. writer: send LSN 1 to all segments");
    has("       in flight: LSN 1 to a1 a2 b1 b2 c1 c2");
    has("  4. segment b1: store LSN 1 and ack");
    has("       writer acks LSN 1 (write quorum 3 of 6)");
    has("  violates a1_acked_readable (A1)");
    has("FAIL: violated: a1_acked_readable (exit 1)");
    assert!(
        out.contains("    LSN 1 was acked with write quorum {a1, a2, b1}, but the read quorum")
    );
    assert!(out.contains("--witnesses prints their traces"));
    assert!(!out.contains("witness 1:"));
    for line in &lines {
        assert!(line.chars().count() <= 80, "over 80 columns: {line}");
    }
    // The changes come right after their step.
    let step = lines.iter().position(|l| l.starts_with("  2. ")).unwrap();
    assert_eq!(lines[step + 1].trim(), "a1 holds LSN 1");
    assert_eq!(lines[step + 2].trim(), "writer has 1 ack");
}

#[test]
fn text_report_numbers_every_violation_and_shows_witnesses_on_request() {
    let (code, out, _) = run(&[
        "check",
        "toy",
        "--mutant",
        "nomono",
        "--set",
        "write_quorum=2",
        "--witnesses",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("mutant      nomono (Mc1: the durable LSN is recomputed"));
    assert!(out.contains("counterexample 1: a1_acked_readable (A1)"));
    assert!(out.contains("counterexample 2: c1_monotonic (C1), 2 steps"));
    assert!(out.contains("witness 1: a1s1_something_acked (A1.s1), 2 steps"));
    assert!(out.contains("  witnesses a1s1_something_acked (A1.s1)"));
    assert!(out.contains("FAIL: violated: a1_acked_readable, c1_monotonic (exit 1)"));
}

#[test]
fn clean_and_incomplete_text_reports() {
    let (code, out, _) = run(&["check", "toy", "--config", "ci"]);
    assert_eq!(code, 0);
    assert!(out.contains("PASS: complete search; every property holds or is witnessed (exit 0)"));
    assert!(!out.contains("counterexample"));

    let (code, out, _) = run(&["check", "toy", "--max-states", "10"]);
    assert_eq!(code, 1);
    assert!(out.contains("  search      INCOMPLETE (bfs"));
    assert!(out.contains("  C1     c1_monotonic          always      unknown"));
    assert!(out.contains("INCOMPLETE: the search stopped early"));
}

#[test]
fn colour_only_when_asked() {
    let report = fake::TOY
        .check(
            "ci",
            &[("read_quorum".into(), "2".into())],
            None,
            &Options::default(),
        )
        .unwrap();
    let plain = render_report(&report, &RenderOptions::default());
    assert!(!plain.contains('\x1b'));
    let coloured = render_report(
        &report,
        &RenderOptions {
            style: Style { colour: true },
            ..RenderOptions::default()
        },
    );
    assert!(coloured.contains("\x1b[1;31mVIOLATED\x1b[0m"));
    assert!(coloured.contains("\x1b[32mholds\x1b[0m"));
}

#[test]
fn list_json_shape() {
    let (code, out, err) = run(&["list", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let toy = &j["protocols"][0];
    assert_eq!(toy["name"], "toy");
    assert_eq!(
        toy["summary"],
        "a toy quorum with canned results, for tests"
    );
    assert_eq!(toy["configs"], serde_json::json!(["ci", "default"]));
    assert_eq!(toy["default_config"], "default");
    assert_eq!(toy["config_docs"]["ci"], "small: 100 states");
    assert_eq!(
        toy["config_parameters"]["ci"],
        serde_json::json!(["config=ci", "write_quorum=4", "read_quorum=3"])
    );
    assert_eq!(toy["params"][0]["key"], "write_quorum");
    assert!(toy["params"][0]["doc"].is_string());
    assert_eq!(
        toy["properties"][0],
        serde_json::json!({"name": "a1_acked_readable", "spec_id": "A1", "kind": "always", "doc": "an acked write is readable"})
    );
    assert_eq!(toy["mutants"][1]["name"], "nomono");
    assert_eq!(toy["mutants"][1]["spec_id"], "Mc1");
    assert_eq!(toy["mutants"][1]["caught_by"], "c1_monotonic");
    assert_eq!(j["protocols"][1]["default_config"], "small");
}

#[test]
fn list_text_names_everything() {
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, 0);
    for needle in [
        "toy: a toy quorum with canned results, for tests",
        "configs (--config NAME; default is 'default')",
        "    ci       small: 100 states",
        "             config=ci write_quorum=4 read_quorum=3",
        "    write_quorum  segments that must ack a write, 1..=6",
        "    A1.s1  sometimes   a1s1_something_acked",
        "    w3r3    Ma1  caught by a1_acked_readable",
        "plain: a toy quorum",
    ] {
        assert!(out.contains(needle), "list lacks {needle:?}:\n{out}");
    }
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line}");
    }
}
