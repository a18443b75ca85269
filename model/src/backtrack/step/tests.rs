//! Scenarios of the Backtrack step function: back and forth on one timeline, what writes made
//! after a backtrack mean for a later one, rejected requests, and a crashed rewind.

use super::*;
use crate::backtrack::config::Mutant;
use crate::backtrack::model::evaluate;
use crate::backtrack::state::{
    F_COMMIT_RACED, F_FORWARD_DONE, F_REJECTED, F_REJECTED_AT_STAKE, F_RESTART_DONE,
};

/// One key, two readers off, no binlog, not a clone: the base with room for three backtracks.
fn cfg() -> BacktrackConfig {
    let mut c = BacktrackConfig::base();
    c.backtracks = 3;
    c.max_time = 5;
    c.readers = 0;
    c.validate().unwrap();
    c
}

fn go(c: &BacktrackConfig, s: &BacktrackState, a: Action) -> BacktrackState {
    step(c, s, &a).unwrap_or_else(|| panic!("{a:?} is not enabled"))
}

fn commit_x(c: &BacktrackConfig, s: &BacktrackState) -> BacktrackState {
    let s = go(c, s, Action::Begin);
    let s = go(c, &s, Action::Write { key: 0 });
    let s = go(c, &s, Action::Commit);
    go(c, &s, Action::Ack)
}

fn backtrack(c: &BacktrackConfig, s: &BacktrackState, to: u8) -> BacktrackState {
    let s = go(
        c,
        s,
        Action::Backtrack {
            to,
            use_earliest: false,
            force: false,
        },
    );
    let s = go(c, &s, Action::ApplyKey { key: 0 });
    go(c, &s, Action::Resume)
}

fn all_hold(c: &BacktrackConfig, s: &BacktrackState) {
    for name in [
        "d1_backtrack_shows_target",
        "d2_inflight_dropped",
        "d3_non_destructive",
        "d4_no_ack_during_backtrack",
        "d5_guards",
        "d6_window_kept",
        "d7_acked_after_resume_kept",
    ] {
        let v = evaluate(name, c, s).unwrap();
        assert!(v.is_ok(), "{name}: {v:?}");
    }
}

/// x=T1 at t=1, x=T2 at t=2; back to t=1 shows T1; forward to t=2 shows T2 again (the
/// rewind destroyed nothing); a write after the backtrack (T3 at t=3) is part of the
/// timeline from then on: back to t=2 does not show it.
#[test]
fn back_and_forth_on_the_timeline_that_was_live_then() {
    let c = cfg();
    let s = go(&c, &init(&c), Action::Tick); // t=1
    let s = commit_x(&c, &s); // x=T1
    let s = go(&c, &s, Action::Tick); // t=2; t=1 recorded x=T1
    let s = commit_x(&c, &s); // x=T2
    let s = go(&c, &s, Action::Tick); // t=3; t=2 recorded x=T2
    let s = backtrack(&c, &s, 1);
    assert_eq!(s.db[0], 1, "back to t=1 shows T1");
    all_hold(&c, &s);
    let s = backtrack(&c, &s, 2);
    assert_eq!(s.db[0], 2, "forward to t=2 shows T2 again");
    assert!(s.ghost.flags & F_FORWARD_DONE != 0);
    all_hold(&c, &s);
    let s = commit_x(&c, &s); // x=T3 at t=3, after two backtracks
    let s = go(&c, &s, Action::Tick); // t=4; t=3 recorded x=T3
    let s = backtrack(&c, &s, 2);
    assert_eq!(
        s.db[0], 2,
        "a backtrack before T3's commit does not show it"
    );
    let s = go(&c, &s, Action::Tick);
    assert_eq!(
        s.hist[3],
        Some([3, 0]),
        "but the buffer keeps it for a backtrack to t=3"
    );
    all_hold(&c, &s);
}

/// A request in the future, or with binlog on and no force,
/// changes nothing but the record of the rejection.
#[test]
fn rejected_requests_leave_the_cluster_as_it_was() {
    let mut c = cfg();
    c.binlog = true;
    let s = go(&c, &init(&c), Action::Tick);
    // Something at stake: a transaction with a write in flight, which a rejection must leave
    // alone (an accepted backtrack would drop it).
    let s = go(&c, &s, Action::Begin);
    let s = go(&c, &s, Action::Write { key: 0 });
    for (to, force) in [(3, true), (0, false)] {
        let r = go(
            &c,
            &s,
            Action::Backtrack {
                to,
                use_earliest: false,
                force,
            },
        );
        assert!(r.ghost.flags & F_REJECTED != 0);
        assert!(r.ghost.flags & F_REJECTED_AT_STAKE != 0);
        assert_eq!(r.open, s.open, "the transaction in flight goes on");
        let mut same = r.clone();
        same.ghost.flags = s.ghost.flags;
        assert_eq!(same, s, "nothing else changed");
    }
}

/// T1 commits x at t=1; at t=2 a backtrack to t=0 has rewound x (in memory).
fn rewound_one_key(c: &BacktrackConfig) -> BacktrackState {
    let s = go(c, &init(c), Action::Tick);
    let s = commit_x(c, &s);
    let s = go(c, &s, Action::Tick);
    let s = go(
        c,
        &s,
        Action::Backtrack {
            to: 0,
            use_earliest: false,
            force: false,
        },
    );
    go(c, &s, Action::ApplyKey { key: 0 })
}

/// A rewind that crashes restarts from scratch and converges on the target.
#[test]
fn a_crashed_rewind_restarts_and_converges() {
    let mut c = cfg();
    c.crashes = 1;
    let s = rewound_one_key(&c);
    assert_eq!(s.db[0], 0, "x rewound to init (in memory)");
    let s = go(&c, &s, Action::Crash);
    assert_eq!(s.db[0], 1, "the crash lost the rewound key: x is T1 again");
    assert!(s.ghost.crash_reverted);
    assert!(step(&c, &s, &Action::Resume).is_none(), "not while crashed");
    let s = go(&c, &s, Action::Restart);
    assert!(
        step(&c, &s, &Action::Resume).is_none(),
        "the restart rewinds every key again"
    );
    let s = go(&c, &s, Action::ApplyKey { key: 0 });
    let s = go(&c, &s, Action::Resume);
    assert_eq!(s.db[0], 0);
    assert!(s.ghost.flags & F_RESTART_DONE != 0);
    let v = evaluate("l2_restarted_rewind_converges", &c, &s).unwrap();
    assert!(v.is_ok(), "{v:?}");
}

/// At t=3, with t=1 not a consistent time: a transaction was in flight at its end (it rolled
/// back later).
fn t1_inconsistent(c: &BacktrackConfig) -> BacktrackState {
    [
        Action::Tick,
        Action::Begin,
        Action::Tick,
        Action::Abort,
        Action::Tick,
    ]
    .into_iter()
    .fold(init(c), |s, a| go(c, &s, a))
}

/// Review finding: on a clone created at t=1, a backtrack to t=1 while t=1 is not consistent
/// used to round down to t=0, before the clone existed. It is now rejected (nothing
/// consistent in `[1, 1]`), and under Md9 it goes to t=0, which D5 reports.
#[test]
fn a_clone_is_never_rewound_before_its_creation() {
    use crate::backtrack::properties::d5_guards;
    let run = |mutant: Option<Mutant>| {
        let mut cfg = BacktrackConfig::preset("ci").unwrap().with_mutant(mutant);
        cfg.binlog = false;
        let s = t1_inconsistent(&cfg);
        let s = go(
            &cfg,
            &s,
            Action::Backtrack {
                to: 1,
                use_earliest: false,
                force: true,
            },
        );
        (cfg, s)
    };
    let (cfg, s) = run(None);
    assert!(!s.ghost.last.some, "rejected, not rewound below the clone");
    assert_eq!(d5_guards(&cfg, &s), Ok(()));
    let (cfg, s) = run(Some(Mutant::IgnoreClone));
    assert_eq!(s.ghost.last.to, 0);
    assert!(
        d5_guards(&cfg, &s)
            .unwrap_err()
            .contains("before the clone was created")
    );
}

/// Review finding: with `use_earliest`, a time before E goes to the earliest time the cluster
/// can reach, even when E itself is not consistent (it used to be rejected).
#[test]
fn use_earliest_goes_to_the_first_consistent_time_after_e() {
    let mut cfg = BacktrackConfig::preset("ci").unwrap();
    cfg.binlog = false;
    cfg.clone_time = 0;
    let s = go(&cfg, &t1_inconsistent(&cfg), Action::Evict);
    assert_eq!(s.earliest, 1, "E moved up under pressure");
    assert_eq!(s.consistent & (1 << 1), 0, "t=1 is not consistent");
    let s = step(
        &cfg,
        &s,
        &Action::Backtrack {
            to: 0,
            use_earliest: true,
            force: true,
        },
    )
    .unwrap();
    assert!(s.ghost.last.some, "accepted");
    assert_eq!(s.ghost.last.to, 2, "the first consistent time after E");
    assert_eq!(s.ghost.last.asked, 1, "use_earliest asked for E");
    assert!(s.ghost.last.fallback);
    assert_eq!(
        evaluate("d1_backtrack_shows_target", &cfg, &s),
        Some(Ok(()))
    );
}

/// The buffer records pages as they are: at a time when a transaction is in flight it holds
/// that transaction's uncommitted write, and only the consistent-time rule keeps a backtrack
/// from bringing it back. Under Md10 it comes back (and it is a dropped transaction's, D2).
#[test]
fn the_consistent_time_rule_keeps_uncommitted_writes_out() {
    let run = |mutant: Option<Mutant>| {
        let c = cfg().with_mutant(mutant);
        let s = go(&c, &init(&c), Action::Tick); // t=1
        let s = go(&c, &s, Action::Begin);
        let s = go(&c, &s, Action::Write { key: 0 }); // T1 writes x, uncommitted
        let s = go(&c, &s, Action::Tick); // t=2; t=1 recorded with T1's write on the page
        assert_eq!(
            s.hist[1],
            Some([1, 0]),
            "the page holds T1's uncommitted write"
        );
        assert_eq!(s.ghost.seen[1], [0, 0], "but the cluster showed x=init");
        let s = backtrack(&c, &s, 1);
        (c, s)
    };
    let (c, s) = run(None);
    assert_eq!(
        s.ghost.last.to, 0,
        "t=1 is not consistent: the rewind goes to t=0"
    );
    assert_eq!(s.db[0], 0);
    all_hold(&c, &s);
    let (c, s) = run(Some(Mutant::IgnoreConsistency));
    assert_eq!(s.db[0], 1, "T1's uncommitted write is visible");
    assert!(evaluate("d2_inflight_dropped", &c, &s).unwrap().is_err());
    assert!(
        evaluate("d1_backtrack_shows_target", &c, &s)
            .unwrap()
            .is_err()
    );
}

/// A commit racing the start of a backtrack: T1 is committed (durable, visible) but its
/// acknowledgement has not reached the client when the backtrack closes the connections. It
/// is never acknowledged; a rewind to before it erases it without breaking any promise.
#[test]
fn a_commit_racing_a_backtrack_is_never_acknowledged() {
    let c = cfg();
    let s = go(&c, &init(&c), Action::Tick); // t=1
    let s = go(&c, &s, Action::Begin);
    let s = go(&c, &s, Action::Write { key: 0 });
    let s = go(&c, &s, Action::Commit);
    assert_eq!(s.db[0], 1, "committed and visible");
    let s = go(
        &c,
        &s,
        Action::Backtrack {
            to: 0,
            use_earliest: false,
            force: false,
        },
    );
    assert!(s.ghost.flags & F_COMMIT_RACED != 0);
    assert!(s.pending.is_none(), "the connection is closed");
    assert!(step(&c, &s, &Action::Ack).is_none(), "no acknowledgement");
    let s = go(&c, &s, Action::ApplyKey { key: 0 });
    let s = go(&c, &s, Action::Resume);
    assert_eq!(s.db[0], 0, "T1 is rewound away");
    assert_eq!(s.ghost.acked, 0);
    all_hold(&c, &s);
}

/// Md11: the restarted rewind trusts the keys the crashed run had rewound, though the crash
/// lost them, and resumes on pre-rewind data (D1).
#[test]
fn a_restart_that_trusts_lost_progress_resumes_on_old_data() {
    let mut c = cfg().with_mutant(Some(Mutant::RestartFromCheckpoint));
    c.crashes = 1;
    let s = rewound_one_key(&c);
    let s = go(&c, &s, Action::Crash);
    let s = go(&c, &s, Action::Restart);
    let s = go(&c, &s, Action::Resume);
    assert_eq!(s.db[0], 1, "x is still T1 after a backtrack to t=0");
    assert!(
        evaluate("d1_backtrack_shows_target", &c, &s)
            .unwrap()
            .is_err()
    );
}
