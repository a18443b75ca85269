//! Conformance of the Backtrack reference implementation to the model.
//!
//! proptest generates schedules: the client's transactions, the clock, eviction and memory
//! pressure, the operator's backtracks, the rewind's steps, crashes and reads, with targets
//! named by key, reader and time, never by position in some list. Each event is resolved to
//! the model's [`Action`] and carried out by the simulated cluster
//! (`quorate_impl::backtrack::Cluster`: the engine with its durable log, reader instances, the
//! client's connection). Then:
//!
//! 1. every event the cluster carries out must be an enabled transition of the model (or
//!    change nothing the model sees), and every event the model enables must be carried out;
//! 2. the cluster's state, lifted into the model's terms, must equal the model's after every
//!    step (after a crash, the engine is rebuilt from its disk alone);
//! 3. every `always` invariant of the model holds on the lifted state;
//! 4. the schedules exercise every kind of event, and what is at stake in them: backtracks
//!    back and forth and to the earliest time, a transaction in flight dropped, a commit
//!    racing a backtrack, a crashed rewind restarted, acknowledgements after a resume that
//!    survive, readers refilling their caches, rejected requests.
//!
//! The run is seeded (`QUORATE_SEED`, default fixed), and a failure prints the seed and the
//! command that reproduces it first. Shrunk failures are persisted in
//! `checks/proptest-regressions/conformance_backtrack.txt` (committed) and replayed first.

use proptest::prelude::*;

use quorate_impl::backtrack::Cluster;
use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::state::{BacktrackState, Mode};
use quorate_model::backtrack::step::{Action, init, step};

#[path = "support/lockstep_backtrack.rs"]
mod lockstep_backtrack;
use lockstep_backtrack::{Stepped, first_violation, lockstep};

/// A scheduled event: a model action, or a goal-directed one that picks its target from the
/// state, so random schedules get through whole transactions and rewinds: `Txn` (the
/// client's next step: begin, write the first key not yet written, commit once every key is
/// written, or take the acknowledgement), `Rewind` (the rewind's next step: the first key not yet rewound, the
/// restart after a crash, the resume) and `Back` (a backtrack to `ago` ticks before now).
#[derive(Clone, Debug)]
enum Ev {
    Act(Action),
    Txn,
    Rewind,
    Back {
        ago: u8,
        use_earliest: bool,
        force: bool,
    },
}

fn config(name: &str) -> BacktrackConfig {
    let mut cfg = BacktrackConfig::base();
    let sets: &[&str] = match name {
        // Two keys and two readers, a long clock, three backtracks, two crashes, pressure.
        "timeline" => &[
            "keys=2",
            "txns=5",
            "max_time=7",
            "window=3",
            "backtracks=3",
            "crashes=2",
            "pressure=2",
            "readers=2",
        ],
        // The guards: binlog on (force needed), a clone created at 2.
        "guards" => &[
            "keys=1",
            "txns=4",
            "max_time=6",
            "window=2",
            "backtracks=3",
            "crashes=1",
            "pressure=1",
            "readers=1",
            "binlog=true",
            "clone_time=2",
        ],
        // `timeline` without crashes: for the mutants that keep a transaction in flight
        // during a rewind (Md1, Md4), which the engine holds in memory only.
        "no-crash" => &[
            "keys=2",
            "txns=5",
            "max_time=7",
            "window=3",
            "backtracks=3",
            "pressure=2",
            "readers=2",
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

fn ev_strategy(cfg: &BacktrackConfig) -> impl Strategy<Value = Ev> {
    let key = 0..cfg.keys;
    let reader = 0..cfg.readers.max(1);
    let time = 0..=cfg.max_time;
    let act = Ev::Act;
    prop_oneof![
        14 => Just(Ev::Txn),
        10 => Just(Ev::Rewind),
        4 => (0..4u8, any::<bool>(), any::<bool>()).prop_map(|(ago, use_earliest, force)| {
            Ev::Back { ago, use_earliest, force }
        }),
        2 => (time, any::<bool>(), any::<bool>()).prop_map(move |(to, use_earliest, force)| {
            act(Action::Backtrack { to, use_earliest, force })
        }),
        1 => Just(act(Action::Begin)),
        1 => key.clone().prop_map(move |key| act(Action::Write { key })),
        1 => Just(act(Action::Commit)),
        1 => Just(act(Action::Ack)),
        1 => Just(act(Action::Abort)),
        6 => Just(act(Action::Tick)),
        2 => Just(act(Action::Evict)),
        1 => Just(act(Action::Pressure)),
        1 => key.prop_map(move |key| act(Action::ApplyKey { key })),
        2 => Just(act(Action::Crash)),
        1 => Just(act(Action::Restart)),
        1 => Just(act(Action::Resume)),
        3 => reader.prop_map(move |reader| act(Action::Read { reader })),
    ]
}

/// The model action an event names in state `s`, if it names one.
fn resolve(cfg: &BacktrackConfig, s: &BacktrackState, ev: &Ev) -> Option<Action> {
    let enabled = |a: Action| step(cfg, s, &a).is_some().then_some(a);
    match *ev {
        Ev::Act(a) => Some(a),
        Ev::Txn => match (s.open, s.pending) {
            (_, Some(_)) => Some(Action::Ack),
            (None, None) => Some(Action::Begin),
            (Some(o), None) => (0..cfg.keys)
                .find(|k| o.wrote & (1 << k) == 0)
                .map(|key| Action::Write { key })
                .or(Some(Action::Commit)),
        },
        Ev::Rewind => match s.mode {
            Mode::Crashed { .. } => Some(Action::Restart),
            Mode::Applying { .. } | Mode::Normal => (0..cfg.keys)
                .find_map(|key| enabled(Action::ApplyKey { key }))
                .or(Some(Action::Resume)),
        },
        Ev::Back {
            ago,
            use_earliest,
            force,
        } => Some(Action::Backtrack {
            to: s.t.saturating_sub(ago),
            use_earliest,
            force: force || cfg.binlog,
        }),
    }
}

/// What one run did, for the coverage check.
#[derive(Default)]
struct Tally {
    carried_out: usize,
    backtracks: usize,
    crashes: usize,
    acked: usize,
    /// Schedules in which each history flag was raised (`F_*`, by bit).
    flags: [usize; 16],
    kinds: std::collections::BTreeSet<String>,
}

fn kind_of(a: &Action) -> String {
    let d = format!("{a:?}");
    d.split([' ', '{']).next().unwrap_or("").to_string()
}

/// Run a schedule against the cluster and the model in lockstep.
fn run(cfg: &BacktrackConfig, evs: &[Ev], tally: &mut Tally) -> Result<(), TestCaseError> {
    let mut model = init(cfg);
    let mut cluster = Cluster::new(cfg);
    prop_assert_eq!(&cluster.lift(), &model, "initial states differ");
    for (k, ev) in evs.iter().enumerate() {
        let Some(action) = resolve(cfg, &model, ev) else {
            continue;
        };
        let was_normal = model.mode == Mode::Normal;
        match lockstep(cfg, &mut model, &mut cluster, &action) {
            Ok(Stepped::Done(lifted)) => {
                tally.carried_out += 1;
                tally.kinds.insert(kind_of(&action));
                match action {
                    Action::Backtrack { .. } if was_normal && lifted.mode != Mode::Normal => {
                        tally.backtracks += 1
                    }
                    Action::Crash => tally.crashes += 1,
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
    tally.acked += model.ghost.acked.count_ones() as usize;
    for (b, n) in tally.flags.iter_mut().enumerate() {
        *n += usize::from(model.ghost.flags & (1 << b) != 0);
    }
    Ok(())
}

/// Run `cases` seeded schedules of `cfg` in lockstep; on failure, panic with the seed and
/// the command (`test`, the test's name) that reproduces it, first.
fn run_schedules(cfg: &BacktrackConfig, what: &str, test: &str, cases: u32) -> Tally {
    let (seed, mut runner) = lockstep_backtrack::invariants::seeded_runner(
        cases,
        "proptest-regressions/conformance_backtrack.txt",
    );
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = proptest::collection::vec(ev_strategy(cfg), 1..150);
    let result = runner.run(&strategy, |evs| run(cfg, &evs, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!(
            "seed {seed}: conformance of backtrack {what} failed.\n\
             Reproduce with: QUORATE_SEED={seed} cargo test --release -p quorate \
             --test conformance_backtrack {test}\n\
             {e}"
        );
    }
    tally.into_inner()
}

fn check(name: &str, cases: u32) {
    use quorate_model::backtrack::state::{
        F_ACK_AFTER_RESUME, F_ACK_KEPT, F_BACK_DONE, F_CACHE_REFILLED, F_COMMIT_RACED,
        F_EARLIEST_DONE, F_FORWARD_DONE, F_INFLIGHT_DROPPED, F_REJECTED, F_REJECTED_AT_STAKE,
        F_RESTART_DONE,
    };
    let cfg = config(name);
    let t = run_schedules(&cfg, &format!("config '{name}'"), name, cases);
    let n = |flag: u16| t.flags[flag.trailing_zeros() as usize];
    println!(
        "backtrack {name}: {cases} schedules, {} events carried out in lockstep, {} backtracks \
         accepted, {} rewinds crashed, {} commits acknowledged; schedules with a backtrack back \
         {}, forward {}, to the earliest time {}, a transaction in flight dropped {}, a commit \
         racing a backtrack {}, a crashed rewind restarted {}, an ack after a resume kept {}; \
         action kinds: {:?}",
        t.carried_out,
        t.backtracks,
        t.crashes,
        t.acked,
        n(F_BACK_DONE),
        n(F_FORWARD_DONE),
        n(F_EARLIEST_DONE),
        n(F_INFLIGHT_DROPPED),
        n(F_COMMIT_RACED),
        n(F_RESTART_DONE),
        n(F_ACK_KEPT),
        t.kinds
    );
    // No vacuous pass: every kind of event of the config ran ...
    let mut want = vec![
        "Begin",
        "Write",
        "Commit",
        "Ack",
        "Abort",
        "Tick",
        "Evict",
        "Backtrack",
        "ApplyKey",
        "Resume",
        "Read",
    ];
    if cfg.crashes > 0 {
        want.extend(["Crash", "Restart"]);
    }
    if cfg.pressure > 0 {
        want.push("Pressure");
    }
    for k in want {
        assert!(t.kinds.contains(k), "no schedule carried out a {k}");
    }
    assert!(t.backtracks > cases as usize / 2, "too few backtracks");
    // ... and what is at stake in them.
    let mut stakes = vec![
        (F_BACK_DONE, "a backtrack back"),
        (F_FORWARD_DONE, "a backtrack forward"),
        (F_INFLIGHT_DROPPED, "a transaction in flight dropped"),
        (F_COMMIT_RACED, "a commit racing a backtrack"),
        (F_ACK_AFTER_RESUME, "an acknowledgement after a resume"),
        (F_ACK_KEPT, "an acknowledged write after a resume kept"),
        (F_CACHE_REFILLED, "a reader refilling its cache"),
        (F_REJECTED, "a rejected request"),
        (
            F_REJECTED_AT_STAKE,
            "a request rejected with writes in flight",
        ),
    ];
    if cfg.crashes > 0 {
        stakes.push((F_RESTART_DONE, "a crashed rewind restarted"));
    }
    if cfg.pressure > 0 {
        stakes.push((F_EARLIEST_DONE, "a backtrack to the earliest time"));
    }
    for (flag, what) in stakes {
        assert!(n(flag) > 0, "no schedule with {what}");
    }
}

#[test]
fn timeline() {
    check("timeline", 2_000);
}

#[test]
fn guards() {
    check("guards", 2_000);
}

/// With every mutant planted, the implementation still follows the model step for step: its
/// engine calls the model's functions, which honour the planted bug, so the bug is the same
/// bug in both (the counterexample replay shows each one break its property). 300 schedules
/// per mutant, on a config with the feature the mutant touches.
#[test]
fn every_mutant_conforms() {
    use quorate_model::backtrack::Mutant;
    for mutant in Mutant::ALL {
        let name = match mutant {
            Mutant::KeepInflight | Mutant::NoPause => "no-crash",
            Mutant::IgnoreBinlog | Mutant::IgnoreClone => "guards",
            _ => "timeline",
        };
        let cfg = config(name).with_mutant(Some(mutant));
        let what = format!("config '{name}' with mutant {mutant}");
        let t = run_schedules(&cfg, &what, "every_mutant_conforms", 300);
        assert!(
            t.backtracks > 100,
            "{mutant}: only {} backtracks",
            t.backtracks
        );
    }
}
