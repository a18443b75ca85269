//! Durability with real files for the nodes that keep their own logs (the storage quorum's
//! actors are held to their disks by trace validation instead): a failover segment, a Global
//! Database region and a Backtrack engine each run on a log file in a temporary directory,
//! take a random sequence of requests (every reply comes after the fsync: replying is
//! acknowledging), are killed at a random point
//! (right after a reply, or in the middle of the next append, leaving a torn tail), may have a
//! byte of their file rot, and restart from the file alone. A node must come back exactly as
//! a crash leaves it (nothing it replied to is lost), a torn tail must be reported and cut
//! off (a second restart is clean), and corruption must be detected in one line (the node's
//! state is then lost: the runtimes treat it so).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use quorate_impl::durable::{Damage, FileDisk, RecoverError, frame};
use quorate_model::backtrack::BacktrackConfig;
use quorate_model::failover::FailoverConfig;
use quorate_model::global::GlobalConfig;

#[derive(Clone, Debug)]
enum Crash {
    /// Killed right after its last reply.
    AfterReply,
    /// Killed while appending the next entry: only its first `keep` bytes reached the file.
    Torn { keep: usize },
    /// Killed after its last reply, then one byte of the file rotted.
    Corrupt { at: usize },
}

fn crash() -> impl Strategy<Value = Crash> {
    prop_oneof![
        Just(Crash::AfterReply),
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

/// Do to the file at `path` what `crash` says (the node is already stopped).
fn befall(path: &Path, crash: &Crash) {
    match *crash {
        Crash::AfterReply => {}
        Crash::Torn { keep } => {
            // An entry cut short: its content does not matter, only that it is incomplete.
            let bytes = frame(&[b'x'; 48]);
            let mut f = OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(&bytes[..keep.min(bytes.len() - 1)]).unwrap();
        }
        Crash::Corrupt { at } => {
            let mut bytes = fs::read(path).unwrap();
            let at = at % bytes.len();
            bytes[at] ^= 0xA5;
            fs::write(path, bytes).unwrap();
        }
    }
}

/// Judge a restart: `got` is the recovered node's state and torn tail, or why it did not
/// recover; `expected` is the state a crash leaves.
fn judge<S: PartialEq + std::fmt::Debug>(
    crash: &Crash,
    got: Result<(S, Option<Damage>), RecoverError>,
    expected: &S,
) -> Result<bool, TestCaseError> {
    match (crash, got) {
        (Crash::Corrupt { .. }, Err(RecoverError::Damaged(d))) => {
            let line = d.to_string();
            prop_assert!(!line.contains('\n') && line.contains("byte"), "{}", line);
            Ok(false)
        }
        (Crash::Corrupt { at }, other) => {
            let got = other.map(|(s, _)| s);
            prop_assert!(false, "corruption at {} undetected: {:?}", at, got);
            unreachable!()
        }
        (c, Ok((state, torn))) => {
            prop_assert_eq!(&state, expected, "after {:?}", c);
            let was_torn = matches!(c, Crash::Torn { .. });
            prop_assert_eq!(torn.is_some(), was_torn, "torn tail reported iff torn");
            Ok(true)
        }
        (c, Err(why)) => {
            prop_assert!(false, "after {:?}: {}", c, why);
            unreachable!()
        }
    }
}

/// Crash the stopped node's file as `crash` says, restart it with `back`, and judge the
/// restart against `expected`; a restart that recovered must leave a clean file (a second
/// restart finds no torn tail).
fn restart<S: PartialEq + std::fmt::Debug>(
    path: &Path,
    crash: &Crash,
    expected: &S,
    back: impl Fn(&Path) -> Result<(S, Option<Damage>), RecoverError>,
) -> Result<(), TestCaseError> {
    befall(path, crash);
    if judge(crash, back(path), expected)? {
        let again = back(path).map_err(|e| e.to_string());
        prop_assert!(matches!(again, Ok((_, None))), "{:?}", again);
    }
    Ok(())
}

fn persistence(name: &'static str) -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(FileFailurePersistence::Direct(name)))
}

mod failover {
    use super::*;
    use quorate_impl::failover::segment::SegmentNode;
    use quorate_impl::failover::wire::Msg;

    /// Writes of the first incarnation, a fence by the next, and its writes after it.
    pub fn requests() -> impl Strategy<Value = Vec<Msg>> {
        let write = (1u8..=8, 1u8..=2).prop_map(|(lsn, epoch)| Msg::Write {
            lsn,
            epoch,
            range: None,
        });
        let fence = Just(Msg::Fence { epoch: 2 });
        proptest::collection::vec(prop_oneof![4 => write, 1 => fence], 0..16)
    }

    pub fn run(requests: &[Msg], crash: &Crash) -> Result<(), TestCaseError> {
        let cfg = FailoverConfig::base();
        let d = dir("failover");
        let path = d.join("seg-0.log");
        let mut node = SegmentNode::create(0, 0, FileDisk::open(&path).unwrap()).unwrap();
        for m in requests {
            // Refusals are replies too; the node synced whatever it changed first.
            node.handle(&cfg, m, &[]).unwrap();
        }
        let before = *node.seg();
        drop(node);
        restart(&path, crash, &before, |p| {
            SegmentNode::recover(&cfg, 0, FileDisk::open(p).unwrap())
                .map(|n| (*n.seg(), n.torn_tail.clone()))
                .map_err(|(e, _)| e)
        })?;
        fs::remove_dir_all(&d).unwrap();
        Ok(())
    }
}

mod global {
    use super::*;
    use quorate_impl::global::region::RegionNode;
    use quorate_impl::global::wire::Msg;

    /// A primary's writes (transactions offered or continued) and, maybe, its fence.
    pub fn requests() -> impl Strategy<Value = Vec<Msg>> {
        let write = proptest::option::of(1u8..=6).prop_map(|offer| Msg::Write { offer });
        proptest::collection::vec(prop_oneof![6 => write, 1 => Just(Msg::Fence)], 0..12)
    }

    pub fn run(requests: &[Msg], crash: &Crash) -> Result<(), TestCaseError> {
        let cfg = GlobalConfig::base();
        let d = dir("global");
        let path = d.join("region-0.log");
        let mut node = RegionNode::create(0, true, FileDisk::open(&path).unwrap()).unwrap();
        for (i, m) in requests.iter().enumerate() {
            // The clock advances every other request, up to its end.
            let now = (i as u8 / 2).min(quorate_model::global::config::MAX_CLOCK);
            node.handle(&cfg, m, now).unwrap();
        }
        let before = node.view().clone();
        drop(node);
        restart(&path, crash, &before, |p| {
            RegionNode::recover(FileDisk::open(p).unwrap())
                .map(|n| (n.view().clone(), n.torn_tail.clone()))
                .map_err(|(e, _)| e)
        })?;
        fs::remove_dir_all(&d).unwrap();
        Ok(())
    }
}

mod backtrack {
    use super::*;
    use quorate_impl::backtrack::engine::EngineNode;
    use quorate_impl::backtrack::wire::Msg;

    /// Transactions, the clock, eviction and backtracks (a rewind's progress included, which
    /// a crash interrupts).
    pub fn requests() -> impl Strategy<Value = Vec<Msg>> {
        let m = prop_oneof![
            3 => (1u8..=4).prop_map(|id| Msg::Begin { id }),
            3 => (0u8..2).prop_map(|key| Msg::Write { key }),
            3 => Just(Msg::Commit),
            1 => Just(Msg::Abort),
            3 => Just(Msg::Tick),
            1 => Just(Msg::Evict),
            2 => (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(to, use_earliest, force)| {
                Msg::Backtrack {
                    to,
                    use_earliest,
                    force,
                }
            }),
        ];
        proptest::collection::vec(m, 0..24)
    }

    pub fn run(requests: &[Msg], crash: &Crash) -> Result<(), TestCaseError> {
        let cfg = BacktrackConfig::base();
        let d = dir("backtrack");
        let path = d.join("engine.log");
        let mut node = EngineNode::create(FileDisk::open(&path).unwrap()).unwrap();
        for m in requests {
            node.handle(&cfg, m).unwrap();
        }
        // What survives a crash: a rewind in progress is interrupted, open work is gone.
        let expected = node.state().after_crash();
        drop(node);
        restart(&path, crash, &expected, |p| {
            EngineNode::recover(FileDisk::open(p).unwrap())
                .map(|n| (n.state().clone(), n.torn_tail.clone()))
                .map_err(|(e, _)| e)
        })?;
        fs::remove_dir_all(&d).unwrap();
        Ok(())
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 150,
        failure_persistence: persistence("../checks/proptest-regressions/durability_failover.txt"),
        ..Config::default()
    })]
    #[test]
    fn a_failover_segment_loses_nothing_it_replied_to(
        requests in failover::requests(),
        crash in crash(),
    ) {
        failover::run(&requests, &crash)?;
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 150,
        failure_persistence: persistence("../checks/proptest-regressions/durability_global.txt"),
        ..Config::default()
    })]
    #[test]
    fn a_region_loses_nothing_it_replied_to(
        requests in global::requests(),
        crash in crash(),
    ) {
        global::run(&requests, &crash)?;
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 150,
        failure_persistence: persistence("../checks/proptest-regressions/durability_backtrack.txt"),
        ..Config::default()
    })]
    #[test]
    fn an_engine_comes_back_as_a_crash_leaves_it(
        requests in backtrack::requests(),
        crash in crash(),
    ) {
        backtrack::run(&requests, &crash)?;
    }
}

/// A region never logs what its recovery would refuse: a commit time past the clock's end is
/// an error (the node stops), and the file still recovers to what it acknowledged.
#[test]
fn a_region_refuses_to_log_what_its_recovery_would_reject() {
    use quorate_impl::global::region::RegionNode;
    use quorate_impl::global::wire::Msg;
    let cfg = GlobalConfig::base();
    let d = dir("global-clock");
    let path = d.join("region-0.log");
    let mut node = RegionNode::create(0, true, FileDisk::open(&path).unwrap()).unwrap();
    let late = quorate_model::global::config::MAX_CLOCK + 1;
    let mut refused = false;
    let mut before = node.view().clone();
    for i in 0..8u8 {
        // The first write begins a transaction (at any time), the next commits it (at `late`).
        let offer = Some(i % 6 + 1);
        match node.handle(&cfg, &Msg::Write { offer }, late) {
            Ok(_) => before = node.view().clone(),
            Err(e) => {
                assert!(e.to_string().contains("recovery would reject"), "{e}");
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "a commit at time {late} was logged");
    drop(node);
    let back = RegionNode::recover(FileDisk::open(&path).unwrap())
        .map_err(|(e, _)| e.to_string())
        .unwrap();
    assert_eq!(back.view(), &before);
    fs::remove_dir_all(&d).unwrap();
}
