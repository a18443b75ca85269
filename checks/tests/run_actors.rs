//! `quorate run quorum --actors` and `quorate trace validate`: the model's actors on the
//! deterministic runtime and on the live one (threads, loopback sockets, log files), every
//! round's logs read back and validated against the actor model;
//! a volume of several protection groups validates PG by PG, and the logs of one-PG runs of
//! the earlier format validate still; a mutant planted in the actors is caught on the
//! implementation by its property; a log damaged on disk (still decodable) fails validation;
//! bad input is one line and exit 2.

use std::fs;
use std::path::PathBuf;

#[path = "support/bin.rs"]
mod bin;
use bin::{figure, quorate};

fn scratch(name: &str) -> PathBuf {
    bin::scratch("actors", name)
}

#[test]
fn rounds_validate_from_their_files_and_validate_again_later() {
    let dir = scratch("rounds");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&["run", "quorum", "--actors", "--dir", d, "--rounds", "4"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.starts_with("seeds 1..=4 "),
        "the seeds come first: {err}"
    );
    assert!(err.contains("  round 3: "), "a line per round: {err}");
    assert!(figure(&out, "events validated") > 4_000, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    assert!(figure(&out, "faults") > 4, "{out}");
    for k in 1..=4 {
        assert!(dir.join(format!("round-{k}/run.json")).is_file());
        assert!(dir.join(format!("round-{k}/node-0.jsonl")).is_file());
    }
    let (code, out, _) = quorate(&["trace", "validate", d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("valid: 4 round(s)"), "{out}");
    let round = dir.join("round-2");
    let (code, out, _) = quorate(&["trace", "validate", round.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("valid: 1 round(s)"), "{out}");

    // A log cut short by its last event.
    let other = dir.join("round-3");
    let log0 = other.join("node-0.jsonl");
    let text = fs::read_to_string(&log0).unwrap();
    let cut = text.trim_end().rsplit_once('\n').unwrap().0.to_string() + "\n";
    fs::write(&log0, cut).unwrap();
    let (code, out, _) = quorate(&["trace", "validate", other.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cut short"), "{out}");

    // Damage that stays decodable: one acknowledgement's SCL changed by one digit.
    let log = round.join("node-3.jsonl");
    let text = fs::read_to_string(&log).unwrap();
    let at = text
        .find("\"scl\":")
        .expect("segment 3 acknowledged something");
    let digit = at + "\"scl\":".len();
    let mut bytes = text.into_bytes();
    bytes[digit] = if bytes[digit] == b'7' { b'6' } else { b'7' };
    fs::write(&log, bytes).unwrap();
    let (code, out, _) = quorate(&["trace", "validate", round.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("INVALID "), "{out}");
    assert!(
        out.contains("node 3"),
        "the first diverging event is segment 3's: {out}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_volume_of_protection_groups_validates_pg_by_pg() {
    let dir = scratch("volume");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run", "quorum", "--actors", "--dir", d, "--rounds", "3", "--pgs", "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("a volume of 3 protection group(s)"), "{out}");
    let head = fs::read_to_string(dir.join("round-2/run.json")).unwrap();
    assert!(head.contains("\"pgs\": 3"), "{head}");
    assert!(head.contains("quorate-run-log/3"), "{head}");
    // An event of a PG the volume does not have is refused, not left unread.
    let round = dir.join("round-2");
    let head = head.replace("\"pgs\": 3", "\"pgs\": 2");
    fs::write(round.join("run.json"), head).unwrap();
    let (code, out, _) = quorate(&["trace", "validate", round.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("an event of PG 2; the volume has 2"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}

/// A round of one PG written as the earlier format wrote it (untagged events, run.json of
/// format 2, no `pgs`) validates as before.
#[test]
fn logs_of_the_earlier_format_validate() {
    let dir = scratch("format2");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&["run", "quorum", "--actors", "--dir", d, "--rounds", "1"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let round = dir.join("round-1");
    let head: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(round.join("run.json")).unwrap()).unwrap();
    let nodes = head["nodes"].as_u64().unwrap();
    let mut old = head.clone();
    old["format"] = "quorate-run-log/2".into();
    old.as_object_mut().unwrap().remove("pgs");
    fs::write(round.join("run.json"), old.to_string()).unwrap();
    // Untag: {"pg":0,"of":X} becomes X; a save {"by":0,"parts":[X]} becomes X.
    fn untag(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(m) if m.contains_key("pg") && m.contains_key("of") => {
                untag(m["of"].clone())
            }
            Value::Object(m) if m.contains_key("by") && m.contains_key("parts") => {
                untag(m["parts"][0].clone())
            }
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect()),
            Value::Array(a) => Value::Array(a.into_iter().map(untag).collect()),
            other => other,
        }
    }
    for i in 0..nodes {
        let path = round.join(format!("node-{i}.jsonl"));
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(|l| untag(serde_json::from_str(l).unwrap()).to_string())
            .collect();
        fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let (code, out, err) = quorate(&["trace", "validate", round.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("valid: 1 round(s)"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_mutant_in_the_actors_is_caught_on_the_implementation_by_its_property() {
    let dir = scratch("mutant");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "quorum",
        "--actors",
        "--dir",
        d,
        "--rounds",
        "10",
        "--mutant",
        "read-below-scl",
    ]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let repeat = err
        .lines()
        .find(|l| l.contains("departs from the model"))
        .unwrap_or_else(|| panic!("the seed and the command that repeats it: {err}"));
    assert!(repeat.contains("--mutant read-below-scl"), "{repeat}");
    assert!(out.contains("violates a7_read_sound"), "{out}");
    let failed = out
        .split_whitespace()
        .nth(2)
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("FAIL round K: {out}"));
    let round = dir.join(format!("round-{failed}"));
    let (code, again, _) = quorate(&["trace", "validate", round.to_str().unwrap()]);
    assert_eq!(code, 1, "{again}");
    assert!(again.contains("violates a7_read_sound"), "{again}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn live_rounds_run_on_threads_sockets_and_files_and_validate() {
    let dir = scratch("live");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "quorum",
        "--actors",
        "--live",
        "--dir",
        d,
        "--rounds",
        "3",
        "--round-ms",
        "200",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.starts_with("seeds 1..=3 "),
        "the seeds come first: {err}"
    );
    assert!(err.contains("  round 2: 200 ms live, "), "{err}");
    assert!(figure(&out, "events validated") > 500, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    for k in 1..=3 {
        // Each node's disk is a log file beside its event log.
        assert!(dir.join(format!("round-{k}/node-0.disk")).is_file());
        let head = fs::read_to_string(dir.join(format!("round-{k}/run.json"))).unwrap();
        assert!(head.contains("\"live\": true"), "{head}");
    }
    let (code, out, _) = quorate(&["trace", "validate", d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("valid: 3 round(s)"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_exit_2_with_one_line() {
    let dir = scratch("bad");
    let d = dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["trace", "validate", "/nonexistent/quorate"],
            "cannot read",
        ),
        (
            vec!["run", "quorum", "--dir", d, "--seconds", "0"],
            "--seconds",
        ),
        (
            vec!["run", "quorum", "--dir", d, "--faults", "crash"],
            "--set",
        ),
        (
            vec!["run", "failover", "--actors", "--dir", d],
            "drop --actors",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--config", "nope"],
            "nope",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--rounds", "0"],
            "1 or more",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--paced"],
            "--paced",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--round-ms", "50"],
            "--live",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--pgs", "0"],
            "--pgs",
        ),
        (
            vec!["run", "quorum", "--actors", "--dir", d, "--pgs", "65"],
            "--pgs",
        ),
        (
            vec!["run", "global", "--pgs", "2", "--dir", d],
            "drop --pgs",
        ),
        (
            vec![
                "run",
                "quorum",
                "--actors",
                "--live",
                "--dir",
                d,
                "--round-ms",
                "0",
            ],
            "--round-ms",
        ),
    ];
    for (args, says) in cases {
        let (code, out, err) = quorate(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    fs::create_dir_all(dir.join("round-1")).unwrap();
    fs::write(dir.join("round-1/run.json"), "{\"format\": 3}").unwrap();
    let (code, _, err) = quorate(&["trace", "validate", d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a run log header"), "{err}");
    let (code, _, err) = quorate(&["run", "quorum", "--actors", "--dir", d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}
