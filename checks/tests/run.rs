//! `quorate run`: the reference implementation as a real cluster on loopback (UDP, threads,
//! files), with faults, then verification; Ctrl-C-free recovery of the files it leaves; and
//! one-line usage errors. Nothing here asserts speed: figures vary with the machine.

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

#[test]
fn a_cluster_with_faults_loses_no_acknowledged_commit_and_its_files_recover() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("faults");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "quorum",
        "--dir",
        d,
        "--seconds",
        "3",
        "--faults",
        "crash,az-outage,restart,garbage,failover",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.starts_with("seed 3 "), "the seed comes first: {err}");
    assert!(err.contains("t= 1.0s"), "progress once a second: {err}");
    let acked = figure(&out, "commits acknowledged");
    assert!(acked > 0, "{out}");
    assert!(out.contains("fault   "), "faults were injected: {out}");
    assert!(
        out.contains("failover: the next writer opened"),
        "a writer failover happened and completed: {out}"
    );
    assert!(!out.contains("NOT recovered"), "{out}");
    assert!(
        out.contains(&format!("verified              {acked} of {acked}")),
        "{out}"
    );
    assert!(out.contains("datagrams rejected"), "{out}");

    // Damage two logs: cut the end off one (a torn tail) and flip a byte of another.
    let seg = |i: usize, pg: u32| dir.join(format!("seg-{i}/pg-{pg}.log"));
    let torn = seg(1, 0);
    let bytes = fs::read(&torn).unwrap();
    fs::write(&torn, &bytes[..bytes.len() - 3]).unwrap();
    let rotten = seg(4, 1);
    let mut bytes = fs::read(&rotten).unwrap();
    bytes[20] ^= 0x40;
    fs::write(&rotten, &bytes).unwrap();
    let (code, out, err) = quorate(&["run", "quorum", "--dir", d, "--seconds", "0"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("recover A2 pg 0: torn tail cut off"), "{out}");
    assert!(out.contains("recover C1 pg 1: damaged log"), "{out}");
    assert!(out.contains("the segment is lost"), "{out}");
    assert_eq!(figure(&out, "commits acknowledged"), acked);
    assert!(
        out.contains(&format!("verified              {acked} of {acked}")),
        "{out}"
    );

    // A volume is not run over: only recovered and verified.
    let (code, _, err) = quorate(&["run", "quorum", "--dir", d, "--seconds", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("already holds a volume"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lost_segments_are_replaced_by_membership_changes_and_gossip_repairs() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("members");
    let d = dir.to_str().unwrap();
    let (code, out, err) = quorate(&[
        "run",
        "quorum",
        "--dir",
        d,
        "--seconds",
        "4",
        "--faults",
        "disk-loss,member-change,crash,restart",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let acked = figure(&out, "commits acknowledged");
    assert!(
        out.contains(&format!("verified              {acked} of {acked}")),
        "{out}"
    );
    // Seed 3 damages a segment at 0.4 s: its AZ's spare replaces it.
    assert!(
        out.contains("(its segment is lost); dual quorum sets"),
        "{out}"
    );
    assert!(
        figure(&out, "membership changes") > 0,
        "a change finalized: {out}"
    );
    assert!(out.contains("hydrated; members"), "{out}");
    assert!(
        figure(&out, "gossip") > 0,
        "records repaired from peers: {out}"
    );
    // Every membership installed is durable, and the files verify with it.
    let members = fs::read_to_string(dir.join("members.log")).unwrap();
    assert!(!members.is_empty());
    let (code, out, err) = quorate(&["run", "quorum", "--dir", d, "--seconds", "0"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(&format!("verified              {acked} of {acked}")),
        "{out}"
    );
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
