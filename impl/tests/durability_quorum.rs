//! A storage-quorum segment node of the one runtime on a real log file: what a group commit
//! appended but had not synced may be lost at a crash, leaving a torn tail that the restart cuts
//! off, so the node comes back with its last synced save (or, if the whole append reached the
//! file, with it); a byte of the file rotted, or one digit of a record changed so that it still
//! decodes, and the node refuses to start from it.

use std::fs;
use std::path::PathBuf;

use quorate_impl::durable::{FileDisk, Volatile};
use quorate_impl::runtime::event::Event;
use quorate_impl::runtime::host::Host;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::{Ids, Msg, Storage};
use quorate_model::quorum::actors::node::Node;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quorate-dq-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write(lsn: u8) -> Msg {
    Msg::Write {
        lsn,
        vol: 1,
        mem: 1,
        cpl: true,
    }
}

/// The LSNs a segment's storage holds.
fn held(s: &Option<Storage>) -> Vec<u8> {
    match s {
        Some(Storage::Segment(x)) => (1..=8).filter(|&l| x.holds(l)).collect(),
        other => panic!("not a segment's storage: {other:?}"),
    }
}

/// A segment on a log file in `dir` that stored LSN 1 (synced) and then, in a group commit
/// never ended, LSN 2 (appended, not synced).
fn segment(dir: &std::path::Path) -> (Host<Node, FileDisk>, PathBuf) {
    let cfg = QuorumConfig::preset("ci").unwrap();
    let ids = Ids { slots: cfg.slots() };
    let node = Node::all(&cfg).remove(0);
    let path = dir.join("node-0.disk");
    let mut h = Host::new(0, node, FileDisk::open(&path).unwrap());
    h.start().unwrap();
    let writer = usize::from(ids.writer());
    h.deliver(writer, 1, write(1)).unwrap();
    assert_eq!(
        held(&h.saved().cloned()),
        vec![1],
        "LSN 1 stored and synced"
    );
    h.begin_batch();
    assert!(
        h.deliver(writer, 2, write(2)).unwrap().is_empty(),
        "held back"
    );
    assert_eq!(held(&h.saved().cloned()), vec![1], "LSN 2 not synced yet");
    (h, path)
}

/// What the node's last start read from its disk.
fn last_start(h: &Host<Node, FileDisk>) -> Option<Storage> {
    h.log
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Start { storage } => Some(*storage),
            _ => None,
        })
        .expect("a start is logged")
}

#[test]
fn a_crash_in_a_group_commit_loses_only_what_was_not_synced() {
    let dir = scratch("torn");
    for keep in [0, 5, 40, 10_000] {
        let (mut h, _) = segment(&dir);
        let before = h.log.len();
        h.crash(|d| d.crash(keep));
        assert_eq!(
            h.log.len(),
            before + 1,
            "only the crash is logged: {:?}",
            h.log
        );
        h.start().unwrap();
        // A crash may keep all of an unsynced append (the page cache wrote it out), never
        // less than what was synced.
        let want = if keep == 10_000 { vec![1, 2] } else { vec![1] };
        assert_eq!(
            held(&last_start(&h)),
            want,
            "keep {keep}: back at its last synced save"
        );
        // The torn tail is gone for good: a second restart reads the same.
        h.crash(|d| d.crash(0));
        h.start().unwrap();
        assert_eq!(
            held(&last_start(&h)),
            want,
            "keep {keep}: the second restart is clean"
        );
        fs::remove_dir_all(&dir).unwrap();
        fs::create_dir_all(&dir).unwrap();
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_rotten_or_redigited_log_is_refused() {
    let dir = scratch("rot");
    for damage in ["flip", "digit"] {
        let (mut h, path) = segment(&dir);
        let out = h.end_batch().unwrap();
        assert!(!out.is_empty(), "the ack of LSN 2 leaves after the sync");
        assert_eq!(held(&h.saved().cloned()), vec![1, 2]);
        h.crash(|d| d.crash(0));
        let mut bytes = fs::read(&path).unwrap();
        match damage {
            "flip" => {
                let at = bytes.len() / 2;
                bytes[at] ^= 0x20;
            }
            _ => {
                // The last record's first digit changed: still JSON, still a segment.
                let at = bytes.iter().rposition(|b| b.is_ascii_digit()).unwrap();
                bytes[at] = if bytes[at] == b'9' {
                    b'1'
                } else {
                    bytes[at] + 1
                };
            }
        }
        fs::write(&path, &bytes).unwrap();
        let err = h.start().expect_err("a damaged log is not started from");
        assert!(!err.to_string().is_empty(), "{damage}");
        fs::remove_dir_all(&dir).unwrap();
        fs::create_dir_all(&dir).unwrap();
    }
    let _ = fs::remove_dir_all(&dir);
}
