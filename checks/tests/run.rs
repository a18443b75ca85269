//! `quorate run`: the reference implementation as a real cluster on loopback (UDP, threads,
//! files), with faults: quorum's live rounds validated against the model, the other protocols'
//! rounds verified from their files; and one-line usage errors. Nothing here asserts speed:
//! figures vary with the machine.

use std::fs;
use std::path::PathBuf;

#[path = "support/bin.rs"]
mod bin;
use bin::{figure, quorate};

/// The runs take one at a time: each is a cluster of threads that fsync, and a run that
/// shares two cores with three others measures the machine, not the cluster.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    bin::scratch("run", name)
}

/// The first two numbers of the line that starts with `label`.
fn two(out: &str, label: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{out}"));
    let n: Vec<u64> = line[label.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

#[test]
fn a_quorum_run_validates_every_live_round_against_the_model() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("quorum");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "quorum",
        "--dir",
        d,
        "--seconds",
        "2",
        "--pgs",
        "4",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.starts_with("seeds 3, 4, ... until 2 s"),
        "the seeds come first: {err}"
    );
    assert!(
        err.contains("  round 3: 300 ms live"),
        "a line a round: {err}"
    );
    let rounds = figure(&out, "rounds");
    assert!(rounds >= 2, "{out}");
    assert!(out.contains("a volume of 4 protection group(s)"), "{out}");
    assert!(figure(&out, "events validated") > 1000, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    assert!(figure(&out, "faults") > 0, "{out}");
    // Garbage was sent and refused, and never more refused than sent (the live network does
    // not copy datagrams).
    let (sent, refused) = two(&out, "garbage datagrams");
    assert!(sent > 0 && refused > 0 && refused <= sent, "{out}");
    // Group commit: fewer syncs than saves.
    let (saves, syncs) = two(&out, "disk");
    assert!(syncs > 0 && syncs < saves, "{out}");
    assert!(
        out.contains("verified              every round's logs"),
        "{out}"
    );
    // Every round's logs are kept and validate again from their files.
    let (code, out, err) = quorate(&["trace", "validate", d]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // A directory with rounds in it is not run over.
    let (code, _, err) = quorate(&["run", "quorum", "--dir", d, "--seconds", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not empty"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failover_cluster_on_loopback_verifies_every_round_from_its_files() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("failover");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "failover",
        "--dir",
        d,
        "--seconds",
        "3",
        "--faults",
        "failover,crash,az-outage,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.starts_with("seed 3 "), "the seed comes first: {err}");
    assert!(err.contains("t= 1."), "progress once a second: {err}");
    let rounds = figure(&out, "rounds");
    assert!(rounds > 0, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    assert!(figure(&out, "failovers completed") > 0, "{out}");
    assert!(figure(&out, "segment restarts") > 0, "{out}");
    assert!(
        figure(&out, "datagrams rejected") > 0,
        "garbage was sent: {out}"
    );
    assert!(
        out.contains(&format!("verified              {rounds} rounds")),
        "{out}"
    );
    assert!(
        figure(&out, "promotions") > 0,
        "on missed heartbeats: {out}"
    );
    assert!(dir.join("round-0/seg-5.log").exists());
    // A run starts fresh volumes: a directory that holds some is refused.
    let (code, _, err) = quorate(&["run", "failover", "--dir", d, "--seconds", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not empty"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
    // Paced by the model's events instead: every invariant after every event.
    let (code, out, err) = quorate(&[
        "run",
        "failover",
        "--paced",
        "--dir",
        d,
        "--seconds",
        "2",
        "--faults",
        "failover,crash,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(figure(&out, "events") > 0, "{out}");
    assert!(figure(&out, "failovers completed") > 0, "{out}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_global_database_on_loopback_verifies_every_round_from_its_files() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("global");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "global",
        "--dir",
        d,
        "--seconds",
        "3",
        "--faults",
        "outage,partition,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.starts_with("seed 3 "), "the seed comes first: {err}");
    let rounds = figure(&out, "rounds");
    assert!(rounds > 0, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    assert!(figure(&out, "failovers completed") > 0, "{out}");
    assert!(figure(&out, "returns from outages") > 0, "{out}");
    assert!(
        figure(&out, "datagrams rejected") > 0,
        "garbage was sent: {out}"
    );
    assert!(
        out.contains(&format!("verified              {rounds} rounds")),
        "{out}"
    );
    assert!(out.contains("silent for"), "a failover on silence: {out}");
    assert!(dir.join("round-0/region-2.log").exists());
    fs::remove_dir_all(&dir).unwrap();
    // Paced by the model's events instead: every invariant after every event.
    let (code, out, err) = quorate(&[
        "run",
        "global",
        "--paced",
        "--dir",
        d,
        "--seconds",
        "2",
        "--faults",
        "outage,partition,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(figure(&out, "events") > 0, "{out}");
    assert!(figure(&out, "switchovers completed") > 0, "{out}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_backtrack_cluster_on_loopback_verifies_every_round_from_its_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("backtrack");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "backtrack",
        "--dir",
        d,
        "--seconds",
        "3",
        "--faults",
        "crash,pressure,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.starts_with("seed 3 "), "the seed comes first: {err}");
    let rounds = figure(&out, "rounds");
    assert!(rounds > 0, "{out}");
    assert!(figure(&out, "backtracks") > 0, "{out}");
    assert!(figure(&out, "rewinds crashed") > 0, "{out}");
    assert!(figure(&out, "commits acknowledged") > 0, "{out}");
    assert!(
        figure(&out, "datagrams rejected") > 0,
        "garbage was sent: {out}"
    );
    assert!(
        out.contains(&format!("verified              {rounds} rounds")),
        "{out}"
    );
    assert!(out.contains("the engine resumes"), "{out}");
    fs::remove_dir_all(&dir).unwrap();
    // Paced by the model's events instead: every invariant after every event.
    let (code, out, err) = quorate(&[
        "run",
        "backtrack",
        "--paced",
        "--dir",
        d,
        "--seconds",
        "2",
        "--faults",
        "crash,pressure,garbage",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(figure(&out, "events") > 0, "{out}");
    assert!(figure(&out, "backtracks completed") > 0, "{out}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_run_requests_exit_2_with_one_line() {
    let dir = scratch("usage");
    let d = dir.to_str().unwrap();
    for args in [
        &["run", "quorum", "--dir", d, "--faults", "meteor"][..],
        &["run", "quorum", "--dir", d, "--faults", "crash"],
        &["run", "quorum", "--dir", d, "--seconds", "0"],
        &["run", "quorum", "--dir", d, "--inflight", "8"],
        &["run", "quorum", "--dir", d, "--seconds", "1e20"],
        &["run", "quorum", "--dir", d, "--steps", "5"],
        &["run", "failover", "--dir", d, "--steps", "5"],
        &["run", "quorum", "--dir", d, "--pgs", "65"],
        &["run", "quorum", "--dir", d, "--config", "no-such-config"],
        &["run", "quorum", "--dir", d, "--actors", "--round-ms", "100"],
        &["run", "failover", "--dir", d, "--config", "ci"],
        &["run", "global", "--dir", d, "--pgs", "2"],
        &["run", "register", "--dir", d],
        &["run", "backtrack", "--dir", d, "--faults", "outage"],
        &["run", "global", "--dir", d, "--faults", "crash"],
        &["run", "global", "--dir", d, "--seconds", "0"],
        &["run", "failover", "--dir", d, "--faults", "restart"],
        &["run", "quorum", "--dir", d, "--seconds", "-1"],
        &["run", "quorum", "--dir", d, "--paced"],
        &["run", "quorum"],
    ] {
        let (code, out, err) = quorate(args);
        assert_eq!(code, 2, "quorate {args:?}: {err}");
        assert!(out.is_empty(), "quorate {args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "quorate {args:?}: {err}");
        assert!(err.starts_with("error: "), "quorate {args:?}: {err}");
    }
    let _ = fs::remove_dir_all(&dir);
}
