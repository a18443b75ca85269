//! Conformance of the storage-quorum reference implementation to the model, through the
//! conformance harness (`support/conformance.rs`): proptest chooses random walks of the fast
//! composition (each step the first enabled action from a chosen index), the model takes each
//! step and the nodes of the deterministic runtime carry it out
//! (`quorate_impl::quorum::actors::fast`). Then:
//!
//! 1. every node handles exactly the inputs the model's actor handles and sends exactly what it
//!    sends, and after every step every node is where the model's actor is (one that is down
//!    has synced the durable part);
//! 2. every `always` property of the model holds on the nodes' states after every step;
//! 3. the client history (commits as writes, read views as reads), as the one observer records
//!    it from the inputs the nodes handled, is linearizable, by stateright's
//!    `LinearizabilityTester`, with an unacknowledged commit left in flight;
//! 4. the walks exercise every kind of action of the config (no vacuous pass).
//!
//! The run is seeded (`QUORATE_SEED`, default fixed), and a failure prints the seed and the
//! command that reproduces it first. Shrunk walks are also persisted in
//! `checks/proptest-regressions/conformance_quorum.txt` (committed) and replayed before new
//! cases on every run.

use std::cell::RefCell;
use std::collections::BTreeSet;

use quorate_model::quorum::state::QuorumState;
use quorate_model::quorum::{Action, QuorumConfig};
use stateright::semantics::register::{Register, RegisterOp, RegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

#[path = "support/quorum_nodes.rs"]
mod quorum_nodes;
use quorum_nodes::QuorumNodes;
use quorum_nodes::conformance::{check_walks, invariants, kind_of, walk};

fn config(name: &str) -> QuorumConfig {
    let mut cfg = QuorumConfig::base();
    let sets: &[&str] = match name {
        "instant" => &[
            "lsns=4",
            "member_changes=0",
            "reads=true",
            "crashes=3",
            "writer_crashes=2",
            "disk_losses=1",
        ],
        "explicit" => &[
            "lsns=3",
            "messages=explicit",
            "loss=3",
            "duplicate=2",
            "member_changes=0",
            "reads=true",
            "crashes=2",
            "writer_crashes=2",
        ],
        "membership" => &[
            "lsns=3",
            "reads=true",
            "crashes=2",
            "writer_crashes=1",
            "disk_losses=1",
            "member_changes=1",
        ],
        _ => unreachable!(),
    };
    for kv in sets {
        let (k, v) = kv.split_once('=').unwrap();
        cfg.set(k, v).unwrap();
    }
    cfg.validate().unwrap();
    cfg
}

/// The client history of a run, for stateright's linearizability tester: the volume as a
/// register whose value is the last commit. A commit is a write, invoked when the writer
/// allocates its mini-transaction and returned when the client gets its acknowledgement; a
/// commit never acknowledged (its writer crashed) stays in flight forever, as a timed-out
/// operation must. `OpenView` is a read: it returns the last commit at or below its read point.
struct History {
    tester: LinearizabilityTester<u32, Register<u8>>,
    /// The client thread of each commit in flight, by commit LSN.
    threads: std::collections::BTreeMap<u8, u32>,
    next_thread: u32,
}

/// The reader's thread (writes get their own, one per commit).
const READER: u32 = 0;

impl History {
    fn new() -> Self {
        History {
            tester: LinearizabilityTester::new(Register(0)),
            threads: Default::default(),
            next_thread: READER + 1,
        }
    }

    /// Record what the event from `before` to `after` did to the client history.
    fn record(
        &mut self,
        before: &QuorumState,
        a: &Action,
        after: &QuorumState,
    ) -> Result<(), String> {
        let bits = |x: u16| (1..=16u8).filter(move |l| x & (1 << (l - 1)) != 0);
        for l in bits(after.ghost.cpls & !before.ghost.cpls) {
            let t = self.next_thread;
            self.next_thread += 1;
            self.threads.insert(l, t);
            self.tester.on_invoke(t, RegisterOp::Write(l))?;
        }
        for l in bits(after.ghost.acked & !before.ghost.acked) {
            let t = self
                .threads
                .remove(&l)
                .ok_or(format!("commit {l} acked, never begun"))?;
            self.tester.on_return(t, RegisterRet::WriteOk)?;
        }
        if *a == Action::OpenView
            && let Some(rp) = after.writer.reads.view
        {
            let last = (1..=rp)
                .rev()
                .find(|&l| after.is_cpl(l) && !after.in_trunc(l))
                .unwrap_or(0);
            self.tester
                .on_invret(READER, RegisterOp::Read, RegisterRet::ReadOk(last))?;
        }
        Ok(())
    }
}

/// What the walks did, for the coverage check.
#[derive(Default)]
struct Tally {
    steps: usize,
    commits: usize,
    reads: usize,
    kinds: BTreeSet<String>,
}

/// One walk on the model and the nodes, with the client history checked at its end.
fn run(nodes: &QuorumNodes, picks: &[u32], tally: &mut Tally) -> Result<(), String> {
    let mut history = History::new();
    let done = walk(nodes, invariants::seed(), picks, |before, a, after| {
        if *a == Action::OpenView {
            tally.reads += 1;
        }
        history.record(before, a, after)
    })?;
    if !history.tester.is_consistent() {
        return Err(format!(
            "the client history is not linearizable: {:?}",
            history.tester
        ));
    }
    tally.steps += done.taken.len();
    tally.commits += history.next_thread as usize - 1;
    tally.kinds.extend(done.taken.iter().map(kind_of));
    Ok(())
}

fn check(name: &str, cases: u32) {
    let nodes = QuorumNodes { cfg: config(name) };
    let tally = RefCell::new(Tally::default());
    check_walks(
        cases,
        120,
        "proptest-regressions/conformance_quorum.txt",
        &format!("cargo test --release -p quorate --test conformance_quorum {name}"),
        |picks| run(&nodes, picks, &mut tally.borrow_mut()),
    );
    let t = tally.into_inner();
    println!(
        "quorum {name}: {cases} walks, {} steps carried out by the nodes, {} commits and {} \
         reads in linearizable client histories; action kinds: {:?}",
        t.steps, t.commits, t.reads, t.kinds
    );
    let cfg = &nodes.cfg;
    let mut want = vec![
        "WriteMtr",
        "Gossip",
        "Crash",
        "Restart",
        "AzOutage",
        "WriterCrash",
        "RecoveryRead",
        "InstallTrunc",
        "Open",
        "OpenView",
        "CloseView",
    ];
    if cfg.member_changes > 0 {
        want.extend(["MemBegin", "MemFinalize", "MemRevert", "WriterRefresh"]);
    }
    if cfg.messages == quorate_model::quorum::Messages::Explicit {
        want.extend(["DeliverMsg", "Lose", "Duplicate", "Retransmit"]);
    } else {
        want.extend(["Deliver", "DiskLoss"]);
    }
    for k in want {
        assert!(t.kinds.contains(k), "no walk carried out a {k}");
    }
}

#[test]
fn instant() {
    check("instant", 2_000);
}

#[test]
fn explicit() {
    check("explicit", 2_000);
}

#[test]
fn membership() {
    check("membership", 2_000);
}

/// The history check is not vacuous: with write and read quorums that need not intersect
/// (3/6 and 3/6, mutant Ma1), a commit acknowledged on three segments is lost when the next
/// writer recovers from the other three, and a read after it no longer sees it. The
/// linearizability tester alone rejects the history.
#[test]
fn the_history_check_catches_a_lost_acknowledged_commit() {
    use quorate_model::quorum::Mutant;
    let mut cfg = config("instant").with_mutant(Some(Mutant::W3r3));
    cfg.lsns = 2;
    let mut script = vec![Action::WriteMtr];
    for seg in 0..3 {
        for lsn in 1..=2 {
            script.push(Action::Deliver { seg, lsn });
        }
    }
    script.extend([
        Action::WriterCrash,
        Action::RecoveryRead { quorum: 0b11_1000 },
        Action::Open,
        Action::OpenView,
    ]);
    let nodes = QuorumNodes { cfg };
    let (mut driver, mut s) = quorum_nodes::conformance::Conformance::start(&nodes, 1).unwrap();
    let mut history = History::new();
    let mut verdict = Ok(());
    for a in &script {
        let after = quorum_nodes::conformance::Conformance::step(&nodes, &mut driver, &s, a)
            .unwrap()
            .unwrap_or_else(|| panic!("{a:?} is enabled"));
        verdict = verdict.and(history.record(&s, a, &after));
        s = after;
    }
    assert!(verdict.is_ok(), "{verdict:?}");
    assert!(
        !history.tester.is_consistent(),
        "the lost commit's history passed: {:?}",
        history.tester
    );
    // The walk's own checks stop it earlier: A9 (the geometry's quorums do not intersect).
    let picks: Vec<u32> = vec![0; 3];
    let err = run(&nodes, &picks, &mut Tally::default()).unwrap_err();
    assert!(err.contains("violates a9_quorums_intersect"), "{err}");
}
