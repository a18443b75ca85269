//! Trace validation of live rounds: the storage quorum's actors on threads, loopback sockets
//! and log files must replay on the actor model, and a runtime bug planted in the disk (a sync
//! that does nothing, a recovery that reads one record short) must make validation fail there
//! too.

use std::path::PathBuf;
use std::time::Duration;

use quorate_impl::durable::{Disk, FileDisk, Volatile, frame, unframe};
use quorate_impl::quorum::actors::live::LiveRound;
use quorate_impl::quorum::actors::validate_logs;
use quorate_impl::runtime::event::Event;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::Msg;

fn cfg() -> QuorumConfig {
    let mut c = QuorumConfig::preset("ci").unwrap();
    c.set("lsns", "3").unwrap();
    c.set("crashes", "2").unwrap();
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quorate-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn live_rounds_validate_and_acknowledge_commits() {
    let dir = scratch("ok");
    let (mut acked, mut events, mut faults) = (0, 0, 0);
    for seed in 0..4 {
        let round_dir = dir.join(format!("round-{seed}"));
        std::fs::create_dir_all(&round_dir).unwrap();
        let r = LiveRound::in_dir(&cfg(), &round_dir, seed).unwrap();
        let out = r
            .run(Duration::from_millis(300), Duration::from_millis(10))
            .unwrap();
        assert_eq!(out.failed, None, "seed {seed}");
        let v = validate_logs(&cfg(), &out.logs)
            .unwrap_or_else(|d| panic!("seed {seed} ({:?}): {d}", out.tally.faults));
        events += v.events;
        faults += out.tally.faults.len();
        acked += out
            .logs
            .iter()
            .flatten()
            .filter(|e| {
                matches!(
                    e,
                    Event::Sent {
                        msg: Msg::Committed { .. },
                        ..
                    }
                )
            })
            .count();
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(acked >= 4, "commits acknowledged: {acked}");
    assert!(faults >= 4, "faults: {faults}");
    assert!(events > 1000, "events: {events}");
}

/// A log file whose sync does nothing: a node acknowledges what a crash then loses.
struct NoSync(FileDisk);

impl Disk for NoSync {
    fn read_all(&self) -> std::io::Result<Vec<u8>> {
        self.0.read_all()
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.append(bytes)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn erase(&mut self) -> std::io::Result<()> {
        self.0.erase()
    }
    fn truncate(&mut self, len: usize) -> std::io::Result<()> {
        self.0.truncate(len)
    }
}

impl Volatile for NoSync {
    fn crash(&mut self, _keep: usize) {
        self.0.crash(0);
    }
}

#[test]
fn a_live_node_that_acks_before_its_sync_fails_validation() {
    let dir = scratch("nosync");
    let nodes = quorate_impl::quorum::actors::nodes(&cfg());
    let disks = (0..nodes)
        .map(|i| NoSync(FileDisk::open(&dir.join(format!("node-{i}.disk"))).unwrap()))
        .collect();
    let out = LiveRound::new(&cfg(), disks, 1)
        .unwrap()
        .run(Duration::from_millis(150), Duration::from_millis(10))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let why = validate_logs(&cfg(), &out.logs)
        .map(|v| v.events)
        .expect_err("an unsynced save goes unseen")
        .to_string();
    assert!(why.contains("its disk gave back"), "{why}");
}

/// A log file whose reader drops the last record (a recovery that reads one record short).
struct ShortReplay(FileDisk);

impl Disk for ShortReplay {
    fn read_all(&self) -> std::io::Result<Vec<u8>> {
        let mut records = unframe::<serde_json::Value>(&self.0.read_all()?).records;
        records.pop();
        Ok(records
            .iter()
            .flat_map(|r| frame(&serde_json::to_vec(r).unwrap()))
            .collect())
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.append(bytes)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.0.sync()
    }
    fn erase(&mut self) -> std::io::Result<()> {
        self.0.erase()
    }
    fn truncate(&mut self, len: usize) -> std::io::Result<()> {
        self.0.truncate(len)
    }
}

impl Volatile for ShortReplay {
    fn crash(&mut self, keep: usize) {
        self.0.crash(keep);
    }
}

#[test]
fn a_live_recovery_that_reads_a_record_short_fails_validation() {
    let dir = scratch("short");
    let nodes = quorate_impl::quorum::actors::nodes(&cfg());
    let disks = (0..nodes)
        .map(|i| ShortReplay(FileDisk::open(&dir.join(format!("node-{i}.disk"))).unwrap()))
        .collect();
    let out = LiveRound::new(&cfg(), disks, 2)
        .unwrap()
        .run(Duration::from_millis(200), Duration::from_millis(10))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let why = validate_logs(&cfg(), &out.logs)
        .map(|v| v.events)
        .expect_err("a short replay goes unseen")
        .to_string();
    assert!(why.contains("its disk gave back"), "{why}");
}
