//! Conformance of the storage-quorum reference implementation to the model.
//!
//! proptest generates schedules: workloads and faults whose targets are named by identity
//! (a slot, an LSN, an AZ, a set of slots), never by position in some list, so shrinking one
//! event does not change what the others mean. Each event is resolved to the model's
//! [`Action`] and carried out by the simulated cluster (`quorate_impl::quorum::Cluster`). Then:
//!
//! 1. every event the cluster carries out must be an enabled transition of the model
//!    (`step` returns a state), and every event the model enables must be carried out, except
//!    those the implementation is allowed to refuse for lack of knowledge (listed, with why);
//! 2. the cluster's state, lifted into the model's terms (segments rebuilt from their disks
//!    when down), must equal the model's after every step;
//! 3. every `always` invariant of the model holds on the lifted state;
//! 4. the whole schedule is consumed (no event is silently dropped by the harness);
//! 5. the client history (commits as writes, read views as reads) is linearizable, by
//!    stateright's `LinearizabilityTester`, with an unacknowledged commit left in flight.
//!
//! The run is seeded (`QUORATE_SEED`, default fixed), and a failure prints the seed and the
//! command that reproduces it first. The shrunk schedule is also persisted in
//! `checks/proptest-regressions/conformance_quorum.txt` (committed) and replayed before new
//! cases on every run.

use proptest::prelude::*;

use quorate_impl::quorum::Cluster;
use quorate_model::quorum::state::{Net, QuorumState, SegSet, WriteMsg};
use quorate_model::quorum::step::init;
use quorate_model::quorum::{Action, QuorumConfig};
use stateright::semantics::register::{Register, RegisterOp, RegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

#[path = "support/lockstep_quorum.rs"]
mod lockstep_quorum;
use lockstep_quorum::{Stepped, first_violation, lockstep};

/// A scheduled event, by identity.
#[derive(Clone, Debug)]
enum Op {
    Write,
    Deliver { seg: u8, lsn: u8 },
    Lose { seg: u8, lsn: u8 },
    Duplicate { seg: u8, lsn: u8 },
    Retransmit { seg: u8, lsn: u8 },
    Gossip { from: u8, to: u8, lsn: u8 },
    Crash { seg: u8 },
    Restart { seg: u8 },
    DiskLoss { seg: u8 },
    AzOutage { az: u8 },
    WriterCrash,
    RecoveryRead { quorum: SegSet },
    InstallTrunc { seg: u8 },
    Open,
    MemBegin { f: u8, g: u8 },
    MemFinalize,
    MemRevert,
    WriterRefresh,
    OpenView,
    CloseView,
}

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

fn op_strategy(cfg: &QuorumConfig) -> impl Strategy<Value = Op> {
    let n = cfg.slots() as u8;
    let l = cfg.lsns;
    let members: Vec<u8> = (0..cfg.members() as u8).collect();
    let r = usize::from(cfg.read_quorum);
    let seg = 0..n;
    let lsn = 1..=l;
    prop_oneof![
        6 => Just(Op::Write),
        12 => (seg.clone(), lsn.clone()).prop_map(|(seg, lsn)| Op::Deliver { seg, lsn }),
        2 => (seg.clone(), lsn.clone()).prop_map(|(seg, lsn)| Op::Lose { seg, lsn }),
        1 => (seg.clone(), lsn.clone()).prop_map(|(seg, lsn)| Op::Duplicate { seg, lsn }),
        3 => (seg.clone(), lsn.clone()).prop_map(|(seg, lsn)| Op::Retransmit { seg, lsn }),
        6 => (seg.clone(), seg.clone(), lsn.clone())
            .prop_map(|(from, to, lsn)| Op::Gossip { from, to, lsn }),
        2 => seg.clone().prop_map(|seg| Op::Crash { seg }),
        3 => seg.clone().prop_map(|seg| Op::Restart { seg }),
        1 => seg.clone().prop_map(|seg| Op::DiskLoss { seg }),
        1 => (0..cfg.azs).prop_map(|az| Op::AzOutage { az }),
        2 => Just(Op::WriterCrash),
        4 => proptest::sample::subsequence(members, r).prop_map(|q| Op::RecoveryRead {
            quorum: q.iter().fold(0, |a, &i| a | (1 << i)),
        }),
        4 => seg.clone().prop_map(|seg| Op::InstallTrunc { seg }),
        4 => Just(Op::Open),
        1 => Just(Op::OpenView),
        1 => Just(Op::CloseView),
        2 => (seg.clone(), seg.clone()).prop_map(|(f, g)| Op::MemBegin { f, g }),
        2 => Just(Op::MemFinalize),
        1 => Just(Op::MemRevert),
        2 => Just(Op::WriterRefresh),
    ]
}

/// The first in-flight message to `seg` carrying `lsn` (explicit messages).
fn in_flight(s: &QuorumState, seg: u8, lsn: u8) -> Option<WriteMsg> {
    match &s.net {
        Net::Explicit { msgs } => msgs.iter().find(|m| m.dst == seg && m.lsn == lsn).copied(),
        Net::Instant { .. } => None,
    }
}

/// The model action an event names in state `s`, if it names one.
fn resolve(cfg: &QuorumConfig, s: &QuorumState, op: &Op) -> Option<Action> {
    use quorate_model::quorum::Messages;
    let explicit = cfg.messages == Messages::Explicit;
    Some(match *op {
        Op::Write => Action::WriteMtr,
        Op::Deliver { seg, lsn } if explicit => Action::DeliverMsg {
            msg: in_flight(s, seg, lsn)?,
        },
        Op::Deliver { seg, lsn } => Action::Deliver { seg, lsn },
        Op::Lose { seg, lsn } => Action::Lose {
            msg: in_flight(s, seg, lsn)?,
        },
        Op::Duplicate { seg, lsn } => Action::Duplicate {
            msg: in_flight(s, seg, lsn)?,
        },
        Op::Retransmit { seg, lsn } if explicit => Action::Retransmit { seg, lsn },
        Op::Retransmit { .. } => return None,
        Op::Gossip { from, to, lsn } => Action::Gossip { from, to, lsn },
        Op::Crash { seg } => Action::Crash { seg },
        Op::Restart { seg } => Action::Restart { seg },
        Op::DiskLoss { seg } => Action::DiskLoss { seg },
        Op::AzOutage { az } => Action::AzOutage { az },
        Op::WriterCrash => Action::WriterCrash,
        Op::RecoveryRead { quorum } => Action::RecoveryRead { quorum },
        Op::InstallTrunc { seg } => Action::InstallTrunc { seg },
        Op::Open => Action::Open,
        Op::OpenView => Action::OpenView,
        Op::CloseView => Action::CloseView,
        Op::MemBegin { f, g } => Action::MemBegin { f, g },
        Op::MemFinalize => Action::MemFinalize,
        Op::MemRevert => Action::MemRevert,
        Op::WriterRefresh => Action::WriterRefresh,
    })
}

/// What one run did, for the coverage check.
#[derive(Default)]
struct Tally {
    carried_out: usize,
    refused_allowed: usize,
    commits: usize,
    reads: usize,
    kinds: std::collections::BTreeSet<String>,
}

fn kind_of(a: &Action) -> String {
    let d = format!("{a:?}");
    d.split([' ', '{']).next().unwrap_or("").to_string()
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
        after: &QuorumState,
        a: &Action,
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

/// Run a schedule against the cluster and the model in lockstep.
fn run(cfg: &QuorumConfig, ops: &[Op], tally: &mut Tally) -> Result<(), TestCaseError> {
    run_checking(cfg, ops, tally, true)
}

/// [`run`], with the invariant checks optional (to show the history check alone at work).
fn run_checking(
    cfg: &QuorumConfig,
    ops: &[Op],
    tally: &mut Tally,
    invariants: bool,
) -> Result<(), TestCaseError> {
    let mut model = init(cfg);
    let mut cluster = Cluster::new(cfg);
    let mut history = History::new();
    prop_assert_eq!(&cluster.lift(&model), &model, "initial states differ");
    for (k, op) in ops.iter().enumerate() {
        let Some(action) = resolve(cfg, &model, op) else {
            continue;
        };
        let before = model.clone();
        match lockstep(cfg, &mut model, &mut cluster, &action) {
            Ok(Stepped::Done(lifted)) => {
                tally.carried_out += 1;
                tally.kinds.insert(kind_of(&action));
                history
                    .record(&before, &lifted, &action)
                    .map_err(|e| TestCaseError::fail(format!("event {k}: history: {e}")))?;
                if action == Action::OpenView {
                    tally.reads += 1;
                }
                if let Some((name, why)) = first_violation(cfg, &lifted).filter(|_| invariants) {
                    return Err(TestCaseError::fail(format!(
                        "after event {k} ({action:?}) the implementation violates {name}: {why}"
                    )));
                }
            }
            Ok(Stepped::Refused { model_enabled }) => {
                if model_enabled {
                    tally.refused_allowed += 1;
                }
            }
            Err(why) => return Err(TestCaseError::fail(format!("event {k}: {why}"))),
        }
    }
    if !history.tester.is_consistent() {
        return Err(TestCaseError::fail(format!(
            "the client history is not linearizable: {:?}",
            history.tester
        )));
    }
    tally.commits += history.next_thread as usize - 1;
    Ok(())
}

fn check(name: &str, cases: u32) {
    let cfg = config(name);
    let (seed, mut runner) = lockstep_quorum::invariants::seeded_runner(
        cases,
        "proptest-regressions/conformance_quorum.txt",
    );
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = proptest::collection::vec(op_strategy(&cfg), 1..120);
    let result = runner.run(&strategy, |ops| run(&cfg, &ops, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!(
            "seed {seed}: conformance of quorum config '{name}' failed.\n\
             Reproduce with: QUORATE_SEED={seed} cargo test --release -p quorate \
             --test conformance_quorum {name}\n\
             {e}"
        );
    }
    let t = tally.into_inner();
    println!(
        "quorum {name}: {cases} schedules, {} events carried out in lockstep, {} refusals \
         allowed, {} commits and {} reads in linearizable client histories; action kinds: {:?}",
        t.carried_out, t.refused_allowed, t.commits, t.reads, t.kinds
    );
    // No vacuous pass: the schedules must exercise every kind of event of the config.
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
        assert!(t.kinds.contains(k), "no schedule carried out a {k}");
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
/// writer recovers from the other three, and a read after it no longer sees it. With the
/// invariant checks off, the linearizability tester alone rejects the history.
#[test]
fn the_history_check_catches_a_lost_acknowledged_commit() {
    use quorate_model::quorum::Mutant;
    let mut cfg = config("instant").with_mutant(Some(Mutant::W3r3));
    cfg.lsns = 2;
    let mut ops = vec![Op::Write];
    for seg in 0..3 {
        for lsn in 1..=2 {
            ops.push(Op::Deliver { seg, lsn });
        }
    }
    ops.extend([
        Op::WriterCrash,
        Op::RecoveryRead { quorum: 0b11_1000 },
        Op::InstallTrunc { seg: 0 },
        Op::Open,
        Op::OpenView,
    ]);
    let mut tally = Tally::default();
    let err = run_checking(&cfg, &ops, &mut tally, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not linearizable"), "{err}");
    // With them on, an invariant fails first (A9: the geometry's quorums do not intersect).
    let err = run(&cfg, &ops, &mut Tally::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("violates a9_quorums_intersect"), "{err}");
}
