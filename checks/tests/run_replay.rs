//! `quorate run quorum --replay TRACE`: a counterexample of an actor preset carried out on the
//! implementation reaches the same violation at the same step; the same trace without its
//! mutant does not (the correct actors on the runtime refuse to break the property); every
//! mutant's counterexample of the fast composition happens on the implementation's nodes at the
//! trace's step; a bad file or a protocol without actors is one line and exit 2.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "support/bin.rs"]
mod bin;
use bin::quorate;

fn scratch(name: &str) -> PathBuf {
    bin::scratch("replay", name)
}

/// `quorate run quorum --replay TRACE --dir LOGS`.
fn replay(trace: &Path, logs: &Path) -> (i32, String, String) {
    let (t, l) = (trace.to_str().unwrap(), logs.to_str().unwrap());
    quorate(&["run", "quorum", "--replay", t, "--dir", l])
}

/// A counterexample of `read-below-scl` on the `actors` preset, written by the checker.
fn counterexample(dir: &std::path::Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let trace = dir.join("t.json");
    let (code, out, err) = quorate(&[
        "check",
        "quorum",
        "--config",
        "actors",
        "--mutant",
        "read-below-scl",
        "--trace-out",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    trace
}

#[test]
fn a_counterexample_happens_on_the_implementation() {
    let dir = scratch("cx");
    let trace = counterexample(&dir);
    let logs = dir.join("logs");
    let (code, out, err) = replay(&trace, &logs);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mutant read-below-scl"), "{out}");
    assert!(out.contains("  step 4: "), "a line per step: {out}");
    assert!(
        out.contains("reaches the model's violation of a7_read_sound at step 5"),
        "{out}"
    );
    assert!(logs.join("node-0.jsonl").is_file());

    // The same steps with the mutant taken out: the correct actors take them all, on the
    // model and on the implementation, and break nothing.
    let text = fs::read_to_string(&trace).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("mutant");
    let fixed = dir.join("fixed.json");
    fs::write(&fixed, v.to_string()).unwrap();
    let (code, out, _) = replay(&fixed, &dir.join("logs2"));
    assert_eq!(code, 1, "the trace still expects the violation: {out}");
    assert!(
        out.contains("does not give what the trace expects"),
        "{out}"
    );
    v.as_object_mut().unwrap().remove("expect");
    fs::write(&fixed, v.to_string()).unwrap();
    let (code, out, _) = replay(&fixed, &dir.join("logs3"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("took all 5 steps as the model does"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}

/// A copy the network makes is a second datagram, not a delivery: after one is delivered the
/// other is still in flight, on the runtime as in the model.
#[test]
fn a_duplicated_datagram_stays_in_flight_until_delivered() {
    let dir = scratch("dup");
    fs::create_dir_all(&dir).unwrap();
    let write = r#"{"Write":{"lsn":1,"vol":1,"mem":1,"cpl":true}}"#;
    let trace = format!(
        r#"{{"format":"quorate-trace/1","protocol":"quorum","config":"actors",
        "parameters":["duplicate=1"],"steps":[
        {{"action":{{"Timeout":{{"actor":3,"timer":"NextMtr"}}}}}},
        {{"action":{{"Duplicate":{{"src":3,"dst":0,"msg":{write}}}}}}},
        {{"action":{{"Deliver":{{"src":3,"dst":0,"msg":{write}}}}}}}]}}"#
    );
    let t = dir.join("dup.json");
    fs::write(&t, trace).unwrap();
    let (code, out, err) = replay(&t, &dir.join("logs"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("took all 3 steps as the model does"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn every_fast_counterexample_happens_on_the_nodes_at_its_step() {
    let dir = scratch("fast");
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/quorum");
    let mut names: Vec<PathBuf> = fs::read_dir(&traces)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "one counterexample per mutant");
    for t in names {
        let file: serde_json::Value = serde_json::from_slice(&fs::read(&t).unwrap()).unwrap();
        let (property, step) = (&file["expect"]["property"], &file["expect"]["step"]);
        let logs = dir.join(t.file_stem().unwrap());
        let (code, out, err) = replay(&t, &logs);
        assert_eq!(code, 0, "{}: {out}{err}", t.display());
        let says = format!(
            "reach the model's violation of {} at step {step}",
            property.as_str().unwrap()
        );
        assert!(out.contains(&says), "{}: {out}", t.display());
        assert!(
            logs.join("node-0.jsonl").is_file(),
            "the nodes' logs are written"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn traces_it_cannot_replay_exit_2_with_one_line() {
    let dir = scratch("bad");
    let fast = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/regressions/quorum/read-below-scl.json"
    );
    let d = dir.join("logs");
    let d = d.to_str().unwrap();
    fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.json");
    fs::write(&junk, "{\"format\": \"quorate-trace/1\"").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "run",
                "quorum",
                "--replay",
                "/nonexistent/t.json",
                "--dir",
                d,
            ],
            "cannot read",
        ),
        (
            vec![
                "run",
                "quorum",
                "--replay",
                junk.to_str().unwrap(),
                "--dir",
                d,
            ],
            "junk.json",
        ),
        (
            vec!["run", "failover", "--replay", fast, "--dir", d],
            "does not run on them yet",
        ),
        (
            vec!["run", "quorum", "--replay", fast, "--actors", "--dir", d],
            "--actors",
        ),
        (
            vec!["run", "quorum", "--replay", fast, "--pgs", "2", "--dir", d],
            "--pgs",
        ),
    ];
    for (args, says) in cases {
        let (code, out, err) = quorate(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let _ = fs::remove_dir_all(&dir);
}
