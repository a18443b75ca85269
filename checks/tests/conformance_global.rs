//! Conformance of the Global Database reference implementation to the model.
//!
//! proptest generates schedules: workloads, operator commands and faults whose targets are
//! named by region, never by position in some list, so shrinking one event does not change
//! what the others mean. Each event is resolved to the model's [`Action`] and carried out by
//! the simulated cluster (`quorate_impl::global::Cluster`: region nodes with durable logs
//! deciding on what reaches them, the clients, the control plane, the network). Then:
//!
//! 1. every event the cluster carries out must be an enabled transition of the model (or
//!    change nothing the model sees), and every event the model enables must be carried out:
//!    there is no refusal for lack of knowledge;
//! 2. the cluster's state, lifted into the model's terms (down regions replayed from their
//!    disks, history recorded from what happened), must equal the model's after every step;
//! 3. every `always` invariant of the model holds on the lifted state;
//! 4. the schedules exercise every kind of event, and what is at stake in them: switchovers
//!    done and cancelled, failovers that lose data, old primaries rejoining through their
//!    snapshots, rebuilds that cut a log, and (per config) the RPO gate blocking and resuming,
//!    a half transaction dropped, a split brain under best-effort fencing.
//!
//! The run is seeded (`QUORATE_SEED`, default fixed), and a failure prints the seed and the
//! command that reproduces it first. Shrunk failures are persisted in
//! `checks/proptest-regressions/conformance_global.txt` (committed) and replayed first.

use proptest::prelude::*;

use quorate_impl::global::Cluster;
use quorate_model::global::GlobalConfig;
use quorate_model::global::state::{GlobalState, Op, Role};
use quorate_model::global::step::{Action, init, step};

#[path = "support/lockstep_global.rs"]
mod lockstep_global;
use lockstep_global::{Stepped, first_violation, lockstep};

/// A scheduled event: a model action, or a goal-directed event that picks its target from the
/// state, so random schedules get through whole operations often enough: `Write` (the
/// primary's client writes), `Replicate` (the first secondary that can take a record does),
/// `Switchover` (the switchover's next step: drain, then promote) and `Recover` (bring the
/// primary's region back if it is out, else the failover's next step: fence, promote, then
/// rebuild and rejoin what is left; under best-effort fencing the fence may fail).
#[derive(Clone, Debug)]
enum Ev {
    Act(Action),
    Write,
    Replicate,
    Switchover,
    Recover {
        /// With best-effort fencing, whether the fence it attempts takes effect.
        fence_ok: bool,
    },
}

fn config(name: &str) -> GlobalConfig {
    let mut cfg = GlobalConfig::base();
    let sets: &[&str] = match name {
        // Both operations, transactions of two records, two of each fault.
        "operations" => &[
            "regions=3",
            "txns=3",
            "txn_records=2",
            "switchovers=2",
            "failovers=2",
            "outages=2",
            "partitions=2",
            "max_time=4",
        ],
        // The RPO gate with a longer clock and more transactions.
        "rpo" => &[
            "regions=3",
            "txns=5",
            "rpo=2",
            "max_time=7",
            "switchovers=1",
            "failovers=2",
            "outages=2",
            "partitions=2",
        ],
        // Best-effort fencing: split brain is reachable (without the RPO gate, which would
        // keep an old primary, which no lag report reaches, from acknowledging).
        "split-brain" => &[
            "regions=3",
            "txns=3",
            "txn_records=2",
            "fencing=best-effort",
            "failovers=2",
            "outages=1",
            "partitions=2",
            "max_time=3",
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

fn ev_strategy(cfg: &GlobalConfig) -> impl Strategy<Value = Ev> {
    let region = 0..cfg.regions;
    let act = Ev::Act;
    let best_effort = cfg.fencing == quorate_model::global::config::Fencing::BestEffort;
    prop_oneof![
        10 => Just(Ev::Write),
        12 => Just(Ev::Replicate),
        4 => Just(Ev::Switchover),
        8 => any::<bool>().prop_map(move |ok| Ev::Recover { fence_ok: ok || !best_effort }),
        5 => region.clone().prop_map(move |region| act(Action::Write { region })),
        2 => region.clone().prop_map(move |region| act(Action::Replicate { region })),
        3 => Just(act(Action::Tick)),
        2 => region.clone().prop_map(move |target| act(Action::SwitchoverStart { target })),
        1 => Just(act(Action::Drain)),
        1 => Just(act(Action::SwitchoverPromote)),
        1 => Just(act(Action::SwitchoverCancel)),
        2 => Just(act(Action::FailoverStart)),
        1 => any::<bool>().prop_map(move |ok| act(Action::Fence { ok: ok || !best_effort })),
        1 => Just(act(Action::FailoverPromote)),
        1 => region.clone().prop_map(move |region| act(Action::Rebuild { region })),
        1 => region.clone().prop_map(move |region| act(Action::Rejoin { region })),
        2 => region.clone().prop_map(move |region| act(Action::Outage { region })),
        2 => region.clone().prop_map(move |region| act(Action::Return { region })),
        2 => region.clone().prop_map(move |region| act(Action::Partition { region })),
        2 => region.prop_map(move |region| act(Action::Heal { region })),
    ]
}

/// The model action an event names in state `s`, if it names one.
fn resolve(cfg: &GlobalConfig, s: &GlobalState, ev: &Ev) -> Option<Action> {
    let enabled = |a: Action| step(cfg, s, &a).is_some().then_some(a);
    let first = |f: &dyn Fn(u8) -> Action| (0..cfg.regions).find_map(|r| enabled(f(r)));
    match *ev {
        Ev::Act(a) => Some(a),
        Ev::Write => Some(Action::Write { region: s.primary }),
        Ev::Replicate => first(&|region| Action::Replicate { region }),
        Ev::Switchover => match s.op {
            Op::Switchover { .. } => {
                enabled(Action::Drain).or_else(|| enabled(Action::SwitchoverPromote))
            }
            _ => None,
        },
        Ev::Recover { fence_ok } => {
            let p = &s.regions[usize::from(s.primary)];
            let back = |r: u8| {
                let x = &s.regions[usize::from(r)];
                if !x.up {
                    Action::Return { region: r }
                } else {
                    Action::Heal { region: r }
                }
            };
            match s.op {
                Op::Failover { fenced: false, .. } => Some(Action::Fence { ok: fence_ok }),
                Op::Failover { .. } => enabled(Action::FailoverPromote),
                _ if p.up && !p.cut_off => {
                    first(&|region| match s.regions[usize::from(region)].role {
                        Role::Rebuilding => Action::Rebuild { region },
                        Role::Old if s.regions[usize::from(region)].up => Action::Rejoin { region },
                        _ => back(region),
                    })
                }
                _ => enabled(Action::FailoverStart).or_else(|| Some(back(s.primary))),
            }
        }
    }
}

/// What one run did, for the coverage check.
#[derive(Default)]
struct Tally {
    carried_out: usize,
    acked: usize,
    failovers: usize,
    switchovers: usize,
    /// Schedules in which each history flag was raised (`F_*`, by bit).
    flags: [usize; 16],
    kinds: std::collections::BTreeSet<String>,
}

fn kind_of(a: &Action) -> String {
    let d = format!("{a:?}");
    d.split([' ', '{']).next().unwrap_or("").to_string()
}

/// Run a schedule against the cluster and the model in lockstep.
fn run(cfg: &GlobalConfig, evs: &[Ev], tally: &mut Tally) -> Result<(), TestCaseError> {
    let mut model = init(cfg);
    let mut cluster = Cluster::new(cfg);
    prop_assert_eq!(&cluster.lift(), &model, "initial states differ");
    for (k, ev) in evs.iter().enumerate() {
        let Some(action) = resolve(cfg, &model, ev) else {
            continue;
        };
        match lockstep(cfg, &mut model, &mut cluster, &action) {
            Ok(Stepped::Done(lifted)) => {
                tally.carried_out += 1;
                tally.kinds.insert(kind_of(&action));
                match action {
                    Action::FailoverPromote => tally.failovers += 1,
                    Action::SwitchoverPromote => tally.switchovers += 1,
                    _ => {}
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
            Ok(Stepped::Refused) => {}
            Err(why) => return Err(TestCaseError::fail(format!("event {k}: {why}"))),
        }
    }
    tally.acked += model.ghost.acked.iter().filter(|&&e| e != 0).count();
    for (b, n) in tally.flags.iter_mut().enumerate() {
        *n += usize::from(model.ghost.flags & (1 << b) != 0);
    }
    Ok(())
}

/// Run `cases` seeded schedules of `cfg` in lockstep; on failure, panic with the seed and
/// the command (`test`, the test's name) that reproduces it, first.
fn run_schedules(cfg: &GlobalConfig, what: &str, test: &str, cases: u32) -> Tally {
    let (seed, mut runner) = lockstep_global::invariants::seeded_runner(
        cases,
        "proptest-regressions/conformance_global.txt",
    );
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = proptest::collection::vec(ev_strategy(cfg), 1..150);
    let result = runner.run(&strategy, |evs| run(cfg, &evs, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!(
            "seed {seed}: conformance of global {what} failed.\n\
             Reproduce with: QUORATE_SEED={seed} cargo test --release -p quorate \
             --test conformance_global {test}\n\
             {e}"
        );
    }
    tally.into_inner()
}

fn check(name: &str, cases: u32) {
    use quorate_model::global::state::{
        F_BLOCKED, F_FAILOVER_LOST_DATA, F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_REBUILD_CUT,
        F_REJOINED, F_RESUMED, F_SPLIT_BRAIN, F_SWITCHOVER_CANCELLED,
    };
    let cfg = config(name);
    let t = run_schedules(&cfg, &format!("config '{name}'"), name, cases);
    let n = |flag: u16| t.flags[flag.trailing_zeros() as usize];
    println!(
        "global {name}: {cases} schedules, {} events carried out in lockstep, {} switchovers \
         and {} failovers completed, {} commits acknowledged; schedules where a failover lost \
         an acknowledged commit {}, an old primary rejoined {}, a rebuild cut a log {}, the \
         gate blocked {} and resumed {}, split brain {}; action kinds: {:?}",
        t.carried_out,
        t.switchovers,
        t.failovers,
        t.acked,
        n(F_FAILOVER_LOST_DATA),
        n(F_REJOINED),
        n(F_REBUILD_CUT),
        n(F_BLOCKED),
        n(F_RESUMED),
        n(F_SPLIT_BRAIN),
        t.kinds
    );
    // No vacuous pass: every kind of event of the config ran ...
    let mut want = vec![
        "Write",
        "Replicate",
        "Tick",
        "FailoverStart",
        "Fence",
        "FailoverPromote",
        "Rebuild",
        "Rejoin",
        "Outage",
        "Return",
        "Partition",
        "Heal",
    ];
    if cfg.switchovers > 0 {
        want.extend([
            "SwitchoverStart",
            "Drain",
            "SwitchoverPromote",
            "SwitchoverCancel",
        ]);
    }
    for k in want {
        assert!(t.kinds.contains(k), "no schedule carried out a {k}");
    }
    assert!(t.failovers > cases as usize / 10, "too few failovers");
    // ... and what is at stake in them.
    let mut stakes = vec![
        (
            F_FAILOVER_LOST_DATA,
            "a failover losing an acknowledged commit",
        ),
        (F_REJOINED, "an old primary rejoining"),
        (F_REBUILD_CUT, "a rebuild cutting a log back"),
        (F_FENCED_LIVE, "a fence stopping a running old primary"),
    ];
    if cfg.switchovers > 0 {
        stakes.push((F_SWITCHOVER_CANCELLED, "a switchover cancelled"));
    }
    if cfg.rpo > 0 {
        stakes.extend([
            (F_BLOCKED, "the RPO gate holding a commit back"),
            (F_RESUMED, "a held-back commit acknowledged later"),
        ]);
    }
    if cfg.txn_records > 1 {
        stakes.push((
            F_HALF_TXN_DROPPED,
            "a half transaction dropped at promotion",
        ));
    }
    if cfg.fencing == quorate_model::global::config::Fencing::BestEffort {
        stakes.push((F_SPLIT_BRAIN, "a split brain"));
    }
    for (flag, what) in stakes {
        assert!(n(flag) > 0, "no schedule with {what}");
    }
    if cfg.switchovers > 0 {
        assert!(t.switchovers > cases as usize / 20, "too few switchovers");
    }
}

#[test]
fn operations() {
    check("operations", 2_000);
}

#[test]
fn rpo() {
    check("rpo", 2_000);
}

#[test]
fn split_brain() {
    check("split-brain", 2_000);
}

/// With every mutant planted, the implementation still follows the model step for step: its
/// nodes and control plane call the model's functions, which honour the planted bug, so the
/// bug is the same bug in both (the counterexample replay shows each one break its
/// property). 300 schedules per mutant.
#[test]
fn every_mutant_conforms() {
    use quorate_model::global::Mutant;
    for mutant in Mutant::ALL {
        let name = match mutant {
            Mutant::NoGate | Mutant::FailoverToMostLagged => "rpo",
            _ => "operations",
        };
        let cfg = config(name).with_mutant(Some(mutant));
        let what = format!("config '{name}' with mutant {mutant}");
        let t = run_schedules(&cfg, &what, "every_mutant_conforms", 300);
        assert!(t.failovers > 30, "{mutant}: only {} failovers", t.failovers);
    }
}

/// The schedule that found MC16 (`specs/global.md`): under Mc7 the new primary keeps the half
/// transaction it was promoted with and, cut off, commits it; the old primary must not rejoin
/// (and snapshot against a log no one can read) until the new primary is reachable. Both the
/// model and the cluster refuse the rejoin while it is cut off and take it once it heals.
#[test]
fn a_rejoin_waits_for_the_new_primary() {
    use quorate_model::global::Mutant;
    let cfg = config("operations").with_mutant(Some(Mutant::PromoteMidTxn));
    let mut model = init(&cfg);
    let mut cluster = Cluster::new(&cfg);
    let schedule = [
        Action::Write { region: 0 },
        Action::Replicate { region: 1 },
        Action::Partition { region: 0 },
        Action::Write { region: 0 },
        Action::FailoverStart,
        Action::Fence { ok: true },
        Action::FailoverPromote,
        Action::Partition { region: 1 },
        Action::Write { region: 1 },
        Action::Heal { region: 0 },
    ];
    for (k, a) in schedule.iter().enumerate() {
        match lockstep(&cfg, &mut model, &mut cluster, a) {
            Ok(Stepped::Done(_)) => {}
            other => panic!("step {k} ({a:?}) not carried out: {:?}", other.err()),
        }
    }
    let rejoin = Action::Rejoin { region: 0 };
    assert!(matches!(
        lockstep(&cfg, &mut model, &mut cluster, &rejoin),
        Ok(Stepped::Refused)
    ));
    for a in [Action::Heal { region: 1 }, rejoin] {
        assert!(matches!(
            lockstep(&cfg, &mut model, &mut cluster, &a),
            Ok(Stepped::Done(_))
        ));
    }
    assert_eq!(cluster.lift().ghost.snapshot, model.ghost.snapshot);
}
