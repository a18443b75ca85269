//! Trace files end to end, through the CLI: `check --trace-out` writes a counterexample that
//! `trace replay` reproduces, `trace show` renders it as text, Mermaid and ITF (read back with
//! the `itf` crate), bad files get exit code 2, and every scenario in `checks/scenarios/`
//! replays as it says, in the model's current words.

use std::path::{Path, PathBuf};

use quorate::cli::capture;
use quorate::registry::protocols;
use quorate::trace::{Expect, TraceFile, meets, replay_with};

fn quorate(args: &[&str]) -> (i32, String, String) {
    capture(
        std::iter::once("quorate").chain(args.iter().copied()),
        &protocols(),
    )
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("quorate-traces-{}-{name}", std::process::id()))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Check with `--trace-out`, then replay the file: the same property, at the same step.
fn round_trip(protocol: &str, config: &str, mutant: &str, property: &str) -> PathBuf {
    let out = temp(&format!("{protocol}-{mutant}.json"));
    let (code, _, err) = quorate(&[
        "check",
        protocol,
        "--config",
        config,
        "--mutant",
        mutant,
        "--threads",
        "2",
        "--trace-out",
        path_str(&out),
    ]);
    assert_eq!(code, 1, "{protocol} {mutant}: {err}");
    assert!(err.contains(&format!("trace of {property}")), "{err}");
    let file = TraceFile::read(&out).unwrap();
    assert!(
        matches!(&file.expect, Some(Expect::Violates { property: p, .. }) if p == property),
        "{:?}",
        file.expect
    );
    let (code, text, _) = quorate(&["trace", "replay", path_str(&out)]);
    assert_eq!(code, 1, "a violating trace replays with exit 1");
    assert!(text.contains(&format!("violates {property}")), "{text}");
    assert!(text.contains("(met)"), "{text}");
    out
}

#[test]
fn counterexamples_written_with_trace_out_replay_to_the_same_violation() {
    for (protocol, config, mutant, property) in [
        (
            "quorum",
            "ci",
            "gossip-ignores-truncation",
            "a6_no_resurrection",
        ),
        (
            "failover",
            "txns",
            "resume-orphan-txn",
            "f2a_orphan_never_acked",
        ),
        ("global", "ci", "no-gate", "c5a_gate_at_ack"),
        ("register", "ci", "w3r3", "r1_read_sees_last_ack"),
    ] {
        let path = round_trip(protocol, config, mutant, property);
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn a_witness_trace_is_a_valid_run() {
    let out = temp("witness.json");
    let (code, _, err) = quorate(&[
        "check",
        "global",
        "--config",
        "split-brain",
        "--threads",
        "2",
        "--trace-out",
        path_str(&out),
        "--trace-of",
        "c2s_split_brain",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, text, _) = quorate(&["trace", "replay", path_str(&out)]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid: a valid run"), "{text}");
    let _ = std::fs::remove_file(out);
}

#[derive(serde::Deserialize, Debug)]
struct GlobalView {
    gepoch: u8,
    t: u8,
    primary: u8,
    regions: Vec<RegionView>,
}

#[derive(serde::Deserialize, Debug)]
struct RegionView {
    writable: bool,
    log: Vec<RecView>,
}

#[derive(serde::Deserialize, Debug)]
struct RecView {
    gepoch: u8,
    txn: u8,
    commit: bool,
}

#[test]
fn show_renders_text_mermaid_and_itf_that_the_itf_crate_reads() {
    let path = round_trip("global", "ci", "no-gate", "c5a_gate_at_ack");
    let p = path_str(&path);

    let (code, text, _) = quorate(&["trace", "show", p]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("trace of global, config ci, mutant no-gate, 6 steps"),
        "{text}"
    );
    assert!(
        text.contains("  6. us-east: commit T2 at epoch 1"),
        "{text}"
    );
    assert!(
        text.contains("client: T2 acknowledged at epoch 1 (t = 2)"),
        "{text}"
    );
    assert!(
        text.contains("violates c5a_gate_at_ack (C5a, always) after step 6"),
        "{text}"
    );
    assert!(
        text.lines().all(|l| l.chars().count() <= 80),
        "80 columns:\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour off a terminal");

    let (code, mermaid, _) = quorate(&["trace", "show", p, "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(mermaid.starts_with("sequenceDiagram\n"), "{mermaid}");
    assert!(mermaid.contains("participant A0 as us-east"), "{mermaid}");
    assert!(
        mermaid.contains("Note over A2: 3. t = 1"),
        "faults and ticks are notes: {mermaid}"
    );
    assert!(
        mermaid.contains("A0-->>A1: T1 acknowledged"),
        "acks go to the client: {mermaid}"
    );
    assert!(
        mermaid.contains("violates c5a_gate_at_ack (C5a)"),
        "{mermaid}"
    );

    let (code, itf_text, _) = quorate(&["trace", "show", p, "--format", "itf"]);
    assert_eq!(code, 0);
    let trace: itf::Trace<GlobalView> =
        itf::trace_from_str(&itf_text).expect("ITF the itf crate reads");
    assert_eq!(trace.states.len(), 7, "the initial state and six steps");
    let last = &trace.states[6].value;
    assert_eq!((last.gepoch, last.t, last.primary), (1, 2, 0));
    assert!(last.regions[0].writable);
    let log: Vec<_> = last.regions[0]
        .log
        .iter()
        .map(|r| (r.gepoch, r.txn, r.commit))
        .collect();
    assert_eq!(
        log,
        [(1, 1, false), (1, 1, true), (1, 2, false), (1, 2, true)]
    );
    assert_eq!(
        trace.states[6].meta.other.get("action").map(String::as_str),
        Some("us-east: commit T2 at epoch 1")
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn bad_trace_files_are_usage_errors_with_one_line() {
    let missing = temp("missing.json");
    let (code, _, err) = quorate(&["trace", "replay", path_str(&missing)]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read trace file"), "{err}");

    let garbage = temp("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let (code, _, err) = quorate(&["trace", "show", path_str(&garbage)]);
    assert_eq!(code, 2);
    assert!(err.contains("not a quorate trace"), "{err}");

    let unknown = temp("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"format": "quorate-trace/1", "protocol": "global", "mutant": "no-such", "steps": []}"#,
    )
    .unwrap();
    let (code, _, err) = quorate(&["trace", "replay", path_str(&unknown)]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown mutant 'no-such'"), "{err}");
    for p in [garbage, unknown] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn trace_out_without_a_trace_writes_nothing_and_says_so() {
    let out = temp("none.json");
    let (code, _, err) = quorate(&[
        "check",
        "global",
        "--config",
        "records",
        "--threads",
        "2",
        "--trace-out",
        path_str(&out),
    ]);
    assert_eq!(code, 0);
    assert!(
        err.contains("no property is violated; nothing written"),
        "{err}"
    );
    assert!(!out.exists());

    let (code, _, err) = quorate(&[
        "check",
        "global",
        "--trace-out",
        path_str(&out),
        "--trace-of",
        "no_such_property",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown property 'no_such_property'"), "{err}");

    let (code, _, err) = quorate(&["check", "global", "--trace-out", "/no/such/dir/t.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("its directory does not exist"), "{err}");
}

/// Every scenario replays to the outcome it states, and the words it carries for its steps are
/// the model's words today (so the documentation in the files cannot go stale).
#[test]
fn every_scenario_replays_as_it_expects_in_the_models_words() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "scenarios for every protocol: {files:?}");
    let (mut valid, mut impossible) = (0, 0);
    for path in files {
        let file = TraceFile::read(&path).unwrap();
        let expect = file
            .expect
            .clone()
            .expect("every scenario states its outcome");
        assert!(
            file.description.is_some(),
            "{}: say what it shows",
            path.display()
        );
        let replayed = replay_with(&protocols(), &file).unwrap();
        assert!(
            meets(&replayed.outcome, &expect),
            "{}: expected {expect}, got {:?}",
            path.display(),
            replayed.outcome
        );
        for (i, (want, got)) in file.steps.iter().zip(&replayed.steps).enumerate() {
            if let Some(text) = &want.text {
                assert_eq!(
                    Some(text),
                    got.text.as_ref(),
                    "{} step {}",
                    path.display(),
                    i + 1
                );
            }
        }
        match expect {
            Expect::Valid => valid += 1,
            Expect::NotEnabled { .. } => impossible += 1,
            Expect::Violates { .. } => {}
        }
    }
    assert!(
        valid >= 4 && impossible >= 3,
        "valid {valid}, impossible {impossible}"
    );
}

/// A trace of a named property goes on to that property's failure, reports another that failed
/// first on the way, and hides nothing: if the named one never fails, the other is the outcome;
/// a named property the protocol does not have is a usage error.
#[test]
fn a_trace_of_a_named_property_reports_what_failed_on_the_way() {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/quorum");
    let w3r3 = regressions.join("w3r3.json");
    let (code, out, _) = quorate(&["trace", "replay", path_str(&w3r3)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("violates a1_acked_readable"), "{out}");
    assert!(
        out.contains("on the way: a9_quorums_intersect fails first, at step 0"),
        "{out}"
    );
    assert!(out.contains("(met)"), "{out}");

    // Named a property that never fails here: the one that does is the outcome.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w3r3).unwrap()).unwrap();
    v["property"]["name"] = "a8_gc_below_read_points".into();
    v.as_object_mut().unwrap().remove("expect");
    let other = temp("named-other.json");
    std::fs::write(&other, v.to_string()).unwrap();
    let (code, out, _) = quorate(&["trace", "replay", path_str(&other)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("violates a9_quorums_intersect (A9, always) in the initial state"),
        "{out}"
    );

    // A name the protocol does not have.
    v["property"]["name"] = "a2_vdl_snd".into();
    std::fs::write(&other, v.to_string()).unwrap();
    let (code, _, err) = quorate(&["trace", "replay", path_str(&other)]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'a2_vdl_snd'"), "{err}");
    let _ = std::fs::remove_file(&other);
}

/// Every stored counterexample (`checks/regressions/`, which the implementation's regression
/// tests replay by their actions alone) still replays on the model with the states it records
/// and meets its expectation: a change to the model's state or actions shows here, and says to
/// rerun `checks/regressions/generate.sh`.
#[test]
fn every_stored_counterexample_replays_with_the_models_states() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in &files {
        let (code, text, err) = quorate(&["trace", "replay", path_str(f)]);
        assert!(
            code == 1 && text.contains("(met)") && !text.contains("differs"),
            "{}: exit {code}, the trace no longer replays as recorded (rerun \
             checks/regressions/generate.sh after a change to the model):\n{text}{err}",
            f.display()
        );
    }
    assert!(
        files.len() >= 40,
        "only {} stored counterexamples",
        files.len()
    );
}
