//! Conformance of the failover reference implementation to the model.
//!
//! proptest generates schedules: workloads and faults whose targets are named by identity (an
//! instance, a segment, an LSN and which of its sent copies, a set of segments, an AZ), never
//! by position in some list, so shrinking one event does not change what the others mean.
//! Each event is resolved to the model's [`Action`] and carried out by the simulated cluster
//! (`quorate_impl::failover::Cluster`: segment nodes with durable logs, instances deciding on
//! what segments report, the control plane and the metadata service). Then:
//!
//! 1. every event the cluster carries out must be an enabled transition of the model (or
//!    change nothing the model sees), and every event the model enables must be carried out,
//!    except those the implementation may refuse for lack of knowledge (listed, with why, in
//!    `support/lockstep_failover.rs`);
//! 2. the cluster's state, lifted into the model's terms (down segments rebuilt from their
//!    disks, history recorded from what the nodes did), must equal the model's after every
//!    step;
//! 3. every `always` invariant of the model holds on the lifted state;
//! 4. the whole schedule is consumed, and the schedules exercise every kind of event.
//!
//! There is no linearizability check here, unlike the storage quorum's: the failover model
//! has no client reads at the writer, and a replica's reads are stale by design (it applies up
//! to the VDL it last heard). Acknowledged commits surviving every failover is checked on every
//! state instead, by B1 and B11.
//!
//! The run is seeded (`QUORATE_SEED`, default fixed), and a failure prints the seed and the
//! command that reproduces it first. Shrunk failures are persisted in
//! `checks/proptest-regressions/conformance_failover.txt` (committed) and replayed first.

use proptest::prelude::*;

use quorate_impl::failover::Cluster;
use quorate_model::failover::FailoverConfig;
use quorate_model::failover::state::FailoverState;
use quorate_model::failover::step::{Action, init};
use quorate_model::failover::storage::on_write;

#[path = "support/lockstep_failover.rs"]
mod lockstep_failover;
use lockstep_failover::{Stepped, first_violation, lockstep};

/// A scheduled event: a model action; a delivery named by which copy of the LSN it carries
/// (the one sent at the newest epoch, or at the oldest); or one of three goal-directed events
/// that pick their target from the state, so random schedules get through a whole recovery
/// and make commits durable often enough: `Recover` (the recovery's next step: promote, get
/// an epoch, fence the first unfenced segment that is up, read the first read quorum that is
/// up, install on the first segment that lacks the range, open), `Replicate` (deliver the
/// newest copy of the lowest LSN some segment that is up lacks and would take, to the first
/// such segment) and `Write` (the endpoint's instance writes).
#[derive(Clone, Debug)]
enum Op {
    Act(Action),
    Deliver {
        seg: u8,
        lsn: u8,
        newest: bool,
    },
    Recover,
    Replicate,
    /// The instance the endpoint routes to writes its next mini-transaction.
    Write,
}

fn config(name: &str) -> FailoverConfig {
    let mut cfg = FailoverConfig::base();
    let sets: &[&str] = match name {
        "partition" => &["lsns=4", "writer_failures=2", "seg_crashes=2"],
        "txns" => &[
            "lsns=4",
            "txn_mtrs=2",
            "mtr_len=1",
            "lal=1",
            "writer_failures=2",
            "recovery_crashes=1",
            "seg_crashes=1",
        ],
        "replicas" => &[
            "lsns=3",
            "replicas=2",
            "replica_crashes=2",
            "writer_failures=2",
            "seg_crashes=1",
            "az_outages=1",
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

fn op_strategy(cfg: &FailoverConfig) -> impl Strategy<Value = Op> {
    let n = cfg.segments() as u8;
    let insts = 1 + cfg.replicas;
    let r = usize::from(cfg.read_quorum);
    let segs: Vec<u8> = (0..n).collect();
    let seg = 0..n;
    let inst = 0..insts;
    let act = |a: Action| Op::Act(a);
    prop_oneof![
        2 => inst.clone().prop_map(move |inst| act(Action::WriteMtr { inst })),
        8 => Just(Op::Recover),
        5 => Just(Op::Write),
        14 => Just(Op::Replicate),
        8 => (seg.clone(), 1..=cfg.lsns, any::<bool>())
            .prop_map(|(seg, lsn, newest)| Op::Deliver { seg, lsn, newest }),
        4 => (seg.clone(), seg.clone(), 1..=cfg.lsns)
            .prop_map(|(from, to, lsn)| Op::Act(Action::Gossip { from, to, lsn })),
        3 => Just(Op::Act(Action::Promote)),
        3 => Just(Op::Act(Action::GetEpoch)),
        6 => seg.clone().prop_map(|seg| Op::Act(Action::Fence { seg })),
        3 => proptest::sample::subsequence(segs, r).prop_map(|q| Op::Act(Action::ReadScl {
            quorum: q.iter().fold(0, |a, &i| a | (1 << i)),
        })),
        5 => seg.clone().prop_map(|seg| Op::Act(Action::WriteTrunc { seg })),
        3 => Just(Op::Act(Action::Open)),
        2 => Just(Op::Act(Action::Undo)),
        3 => inst.clone().prop_map(|replica| Op::Act(Action::Sync { replica })),
        3 => inst.clone().prop_map(|replica| Op::Act(Action::Apply { replica })),
        1 => Just(Op::Act(Action::WriterCrash)),
        1 => Just(Op::Act(Action::WriterPartition)),
        1 => Just(Op::Act(Action::RecoveryCrash)),
        1 => inst.clone().prop_map(|replica| Op::Act(Action::ReplicaCrash { replica })),
        1 => seg.clone().prop_map(|seg| Op::Act(Action::SegCrash { seg })),
        1 => (0..cfg.azs).prop_map(|az| Op::Act(Action::AzOutage { az })),
        1 => inst.prop_map(|inst| Op::Act(Action::RestartInstance { inst })),
        2 => seg.prop_map(|seg| Op::Act(Action::SegRestart { seg })),
    ]
}

/// The model action an event names in state `s`, if it names one.
fn resolve(cfg: &FailoverConfig, s: &FailoverState, op: &Op) -> Option<Action> {
    let newest = |lsn: u8| {
        let sent = s.sent[usize::from(lsn) - 1];
        (sent != 0).then(|| 8 - sent.leading_zeros() as u8)
    };
    match *op {
        Op::Act(a) => Some(a),
        Op::Recover => next_recovery_step(cfg, s),
        Op::Write => Some(Action::WriteMtr { inst: s.endpoint }),
        // Only a copy the segment would take: a stale or annulled one is left to `Deliver`.
        Op::Replicate => (1..=cfg.lsns).find_map(|lsn| {
            let epoch = newest(lsn)?;
            let seg = s.segs.iter().position(|x| {
                x.up && x.rec(lsn) != epoch
                    && matches!(on_write(cfg, x, lsn, epoch, &s.truncs), Ok((_, false)))
            })?;
            Some(Action::Deliver {
                seg: seg as u8,
                lsn,
                epoch,
            })
        }),
        Op::Deliver { seg, lsn, newest } => {
            let sent = s.sent[usize::from(lsn) - 1];
            if sent == 0 {
                return None;
            }
            let epoch = if newest {
                8 - sent.leading_zeros() as u8
            } else {
                sent.trailing_zeros() as u8 + 1
            };
            Some(Action::Deliver { seg, lsn, epoch })
        }
    }
}

/// The next step of a failover in `s`, if one is under way or due.
fn next_recovery_step(cfg: &FailoverConfig, s: &FailoverState) -> Option<Action> {
    use quorate_model::failover::state::{Phase, Role};
    let e = s.insts.get(usize::from(s.endpoint))?;
    let up = |x: &&quorate_model::failover::state::Seg| x.up;
    let first = |f: &dyn Fn(&quorate_model::failover::state::Seg) -> bool| {
        s.segs.iter().position(|x| x.up && f(x)).map(|i| i as u8)
    };
    Some(match e.role {
        Role::Down => Action::Promote,
        Role::Writer if e.cut_off => Action::Promote,
        Role::Writer | Role::Replica => return None,
        Role::Recovering(Phase::Promoted) => Action::GetEpoch,
        Role::Recovering(Phase::Fencing) => {
            let fenced = s
                .segs
                .iter()
                .filter(up)
                .filter(|x| x.fence >= e.epoch)
                .count();
            match first(&|x| x.fence < e.epoch) {
                Some(seg) if fenced < usize::from(cfg.write_quorum) => Action::Fence { seg },
                _ => {
                    let quorum = s
                        .segs
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| x.up)
                        .take(usize::from(cfg.read_quorum))
                        .fold(0u16, |a, (i, _)| a | (1 << i));
                    Action::ReadScl { quorum }
                }
            }
        }
        Role::Recovering(Phase::Truncating { .. }) => {
            match first(&|x| x.fence < e.epoch || x.trunc_epoch < e.epoch) {
                Some(seg) => Action::WriteTrunc { seg },
                None => Action::Open,
            }
        }
    })
}

/// What one run did, for the coverage check.
#[derive(Default)]
struct Tally {
    carried_out: usize,
    refused_allowed: usize,
    acked: usize,
    failovers: usize,
    /// Schedules in which each history flag was raised (`F_*`, by bit).
    flags: [usize; 16],
    rolled_back: usize,
    kinds: std::collections::BTreeSet<String>,
}

fn kind_of(a: &Action) -> String {
    let d = format!("{a:?}");
    d.split([' ', '{']).next().unwrap_or("").to_string()
}

/// Run a schedule against the cluster and the model in lockstep.
fn run(cfg: &FailoverConfig, ops: &[Op], tally: &mut Tally) -> Result<(), TestCaseError> {
    let mut model = init(cfg);
    let mut cluster = Cluster::new(cfg);
    prop_assert_eq!(&cluster.lift(), &model, "initial states differ");
    for (k, op) in ops.iter().enumerate() {
        let Some(action) = resolve(cfg, &model, op) else {
            continue;
        };
        match lockstep(cfg, &mut model, &mut cluster, &action) {
            Ok(Stepped::Done(lifted)) => {
                tally.carried_out += 1;
                tally.kinds.insert(kind_of(&action));
                if action == Action::Open {
                    tally.failovers += 1;
                }
                // Under a mutant the invariants may fail (that is the bug); only agreement is
                // required then.
                if let Some((name, why)) =
                    first_violation(cfg, &lifted).filter(|_| cfg.mutant.is_none())
                {
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
    tally.acked += model.ghost.acked.iter().filter(|&&e| e != 0).count();
    for (b, n) in tally.flags.iter_mut().enumerate() {
        *n += usize::from(model.ghost.flags & (1 << b) != 0);
    }
    tally.rolled_back += model.ghost.rolled_back.count_ones() as usize;
    Ok(())
}

/// Run `cases` seeded schedules of `cfg` in lockstep; on failure, panic with the seed and
/// the command (`test`, the test's name) that reproduces it, first.
fn run_schedules(cfg: &FailoverConfig, what: &str, test: &str, cases: u32) -> Tally {
    let (seed, mut runner) = lockstep_failover::invariants::seeded_runner(
        cases,
        "proptest-regressions/conformance_failover.txt",
    );
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = proptest::collection::vec(op_strategy(cfg), 1..200);
    let result = runner.run(&strategy, |ops| run(cfg, &ops, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!(
            "seed {seed}: conformance of failover {what} failed.\n\
             Reproduce with: QUORATE_SEED={seed} cargo test --release -p quorate \
             --test conformance_failover {test}\n\
             {e}"
        );
    }
    tally.into_inner()
}

fn check(name: &str, cases: u32) {
    let cfg = config(name);
    let t = run_schedules(&cfg, &format!("config '{name}'"), name, cases);
    println!(
        "failover {name}: {cases} schedules, {} events carried out in lockstep, {} refusals \
         allowed, {} failovers completed, {} commits acknowledged; schedules with a commit \
         acknowledged after a failover {}, with a stale write refused {}; {} transactions \
         rolled back; action kinds: {:?}",
        t.carried_out,
        t.refused_allowed,
        t.failovers,
        t.acked,
        t.flags[1],
        t.flags[2],
        t.rolled_back,
        t.kinds
    );
    // No vacuous pass: the schedules must exercise every kind of event of the config.
    let mut want = vec![
        "WriteMtr",
        "Deliver",
        "Gossip",
        "Promote",
        "GetEpoch",
        "Fence",
        "ReadScl",
        "WriteTrunc",
        "Open",
        "WriterCrash",
        "WriterPartition",
        "SegCrash",
        "SegRestart",
        "RestartInstance",
    ];
    if cfg.replicas > 0 {
        want.extend(["Sync", "Apply"]);
    }
    if cfg.txn_mtrs > 1 {
        want.push("Undo");
    }
    if cfg.recovery_crashes > 0 {
        want.push("RecoveryCrash");
    }
    if cfg.replica_crashes > 0 {
        want.push("ReplicaCrash");
    }
    if cfg.az_outages > 0 {
        want.push("AzOutage");
    }
    for k in want {
        assert!(t.kinds.contains(k), "no schedule carried out a {k}");
    }
    assert!(
        t.failovers > cases as usize / 10,
        "too few failovers completed"
    );
    // ... and what is at stake in them: commits acknowledged by a promoted writer, an old
    // writer's record refused by a fenced segment, a stray record annulled by a range, and
    // (with transactions) a transaction rolled back after a failure.
    use quorate_model::failover::state::{F_ACKED_AFTER_FAILOVER, F_ANNULLED, F_STALE_REJECTED};
    for (flag, what) in [
        (
            F_ACKED_AFTER_FAILOVER,
            "a commit acknowledged after a failover",
        ),
        (F_STALE_REJECTED, "a stale write refused"),
        (F_ANNULLED, "a record annulled by a truncation range"),
    ] {
        let n = t.flags[flag.trailing_zeros() as usize];
        assert!(n > cases as usize / 100, "only {n} schedules with {what}");
    }
    if cfg.txn_mtrs > 1 {
        assert!(t.rolled_back > 0, "no transaction was rolled back");
    }
}

#[test]
fn partition() {
    check("partition", 2_000);
}

#[test]
fn txns() {
    check("txns", 2_000);
}

#[test]
fn replicas() {
    check("replicas", 2_000);
}

/// With every mutant planted, the implementation still follows the model step for step: its
/// nodes call the model's functions, which honour the planted bug, so the bug is the same bug
/// in both (the invariants are not required here; the counterexample replay shows each one
/// fail). 300 schedules per mutant, on the config whose features the mutant touches.
#[test]
fn every_mutant_conforms() {
    use quorate_model::failover::Mutant;
    for mutant in Mutant::ALL {
        let name = match mutant {
            Mutant::NoUndo | Mutant::ResumeOrphanTxn => "txns",
            Mutant::ReplicaAppliesAboveVdl | Mutant::ReplicaPartialMtr => "replicas",
            _ => "partition",
        };
        let cfg = config(name).with_mutant(Some(mutant));
        let what = format!("config '{name}' with mutant {mutant}");
        let t = run_schedules(&cfg, &what, "every_mutant_conforms", 300);
        assert!(t.failovers > 30, "{mutant}: only {} failovers", t.failovers);
    }
}
