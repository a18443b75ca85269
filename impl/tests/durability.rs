//! Durability with real files: a segment node on a log file in a temporary directory accepts
//! writes, is killed at a random point (after an ack, or between writing a record and syncing
//! it, leaving a torn tail), optionally has a byte of its file corrupted, and restarts from
//! the file alone. Nothing it acknowledged may be lost, a torn tail must be reported and cut
//! off, and corruption must be detected (the segment is then treated as lost).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use quorate_impl::durable::{FileDisk, frame};
use quorate_impl::quorum::segment::{Entry, RecoverError, SegmentNode};
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::segment::Epochs;

#[derive(Clone, Debug)]
enum Crash {
    /// Killed right after its last ack.
    AfterAck,
    /// Killed while appending the next record: only its first `keep` bytes reached the file.
    Torn { keep: usize },
    /// Killed after its last ack, then one byte of the file rotted.
    Corrupt { at: usize },
}

fn crash() -> impl Strategy<Value = Crash> {
    prop_oneof![
        Just(Crash::AfterAck),
        (1usize..60).prop_map(|keep| Crash::Torn { keep }),
        (0usize..10_000).prop_map(|at| Crash::Corrupt { at }),
    ]
}

fn dir(case: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quorate-durability-{}-{case}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

proptest! {
    #![proptest_config(Config {
        cases: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "../checks/proptest-regressions/durability.txt",
        ))),
        ..Config::default()
    })]

    #[test]
    fn nothing_acknowledged_is_lost(
        lsns in proptest::sample::subsequence((1u8..=8).collect::<Vec<_>>(), 0..=8)
            .prop_shuffle(),
        crash in crash(),
    ) {
        let cfg = QuorumConfig::base();
        let d = dir("case");
        let path = d.join("segment-0.log");
        let mut node = SegmentNode::create(0, 0, 1, 1, &[], FileDisk::open(&path).unwrap())
            .unwrap();
        let e = Epochs { mem: 1, vol: 1 };
        for &l in &lsns {
            // The node syncs before `store` returns: returning is the ack.
            node.store(&cfg, l, e, l % 2 == 0, false).unwrap().unwrap();
        }
        let before = *node.seg();
        drop(node);
        match crash {
            Crash::AfterAck => {}
            Crash::Torn { keep } => {
                let next = Entry::Stored { lsn: 8, vol_epoch: 1, mem_epoch: 1, cpl: true, gossip: false };
                let bytes = frame(&serde_json::to_vec(&next).unwrap());
                let keep = keep.min(bytes.len() - 1);
                let mut f = OpenOptions::new().append(true).open(&path).unwrap();
                f.write_all(&bytes[..keep]).unwrap();
            }
            Crash::Corrupt { at } => {
                let mut bytes = fs::read(&path).unwrap();
                let at = at % bytes.len();
                bytes[at] ^= 0xA5;
                fs::write(&path, bytes).unwrap();
            }
        }
        let got = SegmentNode::recover(&cfg, 0, FileDisk::open(&path).unwrap());
        match (crash, got) {
            (Crash::Corrupt { .. }, Err((RecoverError::Damaged(d), _))) => {
                // One clear line: what, where.
                let line = d.to_string();
                prop_assert!(!line.contains('\n') && line.contains("byte"), "{}", line);
            }
            (Crash::Corrupt { at }, other) => {
                prop_assert!(false, "corruption at {} undetected: {:?}", at, other.map(|n| *n.seg()));
            }
            (c, Ok(node)) => {
                prop_assert_eq!(*node.seg(), before, "after {:?}", c);
                for &l in &lsns {
                    prop_assert!(node.seg().holds(l), "acknowledged LSN {} lost after {:?}", l, c);
                }
                let torn = matches!(c, Crash::Torn { .. });
                prop_assert_eq!(node.torn_tail.is_some(), torn, "torn tail reported iff torn");
                // The cut tail is gone from the file: a second restart is clean.
                drop(node);
                let again = SegmentNode::recover(&cfg, 0, FileDisk::open(&path).unwrap())
                    .map_err(|(e, _)| e.to_string()).unwrap();
                prop_assert!(again.torn_tail.is_none());
            }
            (c, Err((why, _))) => prop_assert!(false, "after {:?}: {}", c, why),
        }
        fs::remove_dir_all(&d).unwrap();
    }
}

/// Group commit: appends wait for one sync; nothing is acknowledged before it (the node refuses
/// to ack), and a crash before it loses only what was never acknowledged.
#[test]
fn group_commit_acks_only_after_the_sync() {
    use quorate_impl::durable::MemDisk;
    let cfg = QuorumConfig::base();
    let e = Epochs { mem: 1, vol: 1 };
    let mut node = SegmentNode::create(0, 0, 1, 1, &[], MemDisk::default()).unwrap();
    node.set_group_commit(true);
    node.store(&cfg, 1, e, false, false).unwrap().unwrap();
    node.store(&cfg, 2, e, true, false).unwrap().unwrap();
    let early = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.ack()));
    assert!(early.is_err(), "an ack before the sync is refused");
    // A crash now loses both records: neither was acknowledged.
    let mut disk = node.into_disk();
    let mut crashed = disk.clone();
    crashed.crash(0);
    let back = SegmentNode::recover(&cfg, 0, crashed)
        .map_err(|(e, _)| e.to_string())
        .unwrap();
    assert!(!back.seg().holds(1) && !back.seg().holds(2));
    // Synced, they survive.
    quorate_impl::durable::Disk::sync(&mut disk).unwrap();
    let back = SegmentNode::recover(&cfg, 0, disk)
        .map_err(|(e, _)| e.to_string())
        .unwrap();
    assert!(back.seg().holds(1) && back.seg().holds(2));
    assert_eq!(back.seg().scl, 2);
}
