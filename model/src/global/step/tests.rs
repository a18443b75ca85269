//! Scenarios of the Global Database step function.

use super::*;
use crate::global::state::{F_ACK_PAST_GATE, F_BLOCKED, F_FAILOVER_LOST_DATA, F_RESUMED};

/// The base: two regions, one-record transactions, no RPO gate, reliable fencing.
fn cfg() -> GlobalConfig {
    let c = GlobalConfig::base();
    c.validate().unwrap();
    c
}

fn go(c: &GlobalConfig, s: &GlobalState, a: Action) -> GlobalState {
    step(c, s, &a).unwrap_or_else(|| panic!("{a:?} is not enabled"))
}

fn disabled(c: &GlobalConfig, s: &GlobalState, a: Action) {
    assert!(step(c, s, &a).is_none(), "{a:?} must not be enabled here");
}

#[test]
fn a_switchover_waits_for_the_marker_and_loses_nothing() {
    let c = cfg();
    let s = go(&c, &init(&c), Action::Write { region: 0 });
    assert_eq!(s.ghost.acked[0], 1, "T1 acknowledged at epoch 1");
    let s = go(&c, &s, Action::SwitchoverStart { target: 1 });
    disabled(&c, &s, Action::Write { region: 0 }); // read-only
    let s = go(&c, &s, Action::Drain);
    disabled(&c, &s, Action::SwitchoverPromote); // the target lacks the MARKER
    let s = go(&c, &s, Action::Replicate { region: 1 });
    disabled(&c, &s, Action::SwitchoverPromote);
    let s = go(&c, &s, Action::Replicate { region: 1 });
    let s = go(&c, &s, Action::SwitchoverPromote);
    assert_eq!((s.primary, s.gepoch), (1, 2));
    assert_eq!(s.regions[0].role, Role::Secondary);
    let s = go(&c, &s, Action::Write { region: 1 });
    assert_eq!(s.ghost.acked[1], 2);
    for name in [
        "c1_switchover_keeps_acked",
        "c3_secondary_prefix",
        "c7_lsn_epoch_unique",
    ] {
        let v = crate::global::model::evaluate(name, &c, &s).unwrap();
        assert!(v.is_ok(), "{name}: {v:?}");
    }
}

#[test]
fn a_failover_promotes_the_most_caught_up_and_the_old_primary_rejoins_from_a_snapshot() {
    let c = cfg();
    let s = go(&c, &init(&c), Action::Write { region: 0 });
    let s = go(&c, &s, Action::Write { region: 0 }); // T2, never replicated
    let s = go(&c, &s, Action::Replicate { region: 1 }); // T1 only
    let s = go(&c, &s, Action::Outage { region: 0 });
    let s = go(&c, &s, Action::FailoverStart);
    let s = go(&c, &s, Action::Fence { ok: true });
    let s = go(&c, &s, Action::FailoverPromote);
    assert_eq!((s.primary, s.gepoch), (1, 2));
    assert!(s.ghost.flags & F_FAILOVER_LOST_DATA != 0, "T2 was lost");
    disabled(&c, &s, Action::Rejoin { region: 0 }); // still down
    let s = go(&c, &s, Action::Return { region: 0 });
    disabled(&c, &s, Action::Write { region: 0 }); // fenced
    let s = go(&c, &s, Action::Rejoin { region: 0 });
    assert_eq!(s.ghost.snapshot, 0b10, "T2 saved in the snapshot");
    assert!(s.regions[0].log.is_empty(), "a new volume");
    for name in ["c3_secondary_prefix", "c4_rejoin_from_new_primary"] {
        let v = crate::global::model::evaluate(name, &c, &s).unwrap();
        assert!(v.is_ok(), "{name}: {v:?}");
    }
}

/// Review finding: with two failovers, the second promotion used to mark the first failover's
/// old primary `Rebuilding`, and `Rebuild` then cut its acknowledged, unreplicated tail with no
/// snapshot. An `Old` region must stay `Old` until it rejoins through a snapshot.
#[test]
fn a_second_failover_leaves_the_first_old_primary_to_rejoin_with_its_snapshot() {
    let mut c = cfg();
    c.regions = 3;
    c.failovers = 2;
    c.validate().unwrap();
    let s = go(&c, &init(&c), Action::Write { region: 0 }); // T1 acked at epoch 1, nowhere else
    let s = go(&c, &s, Action::Outage { region: 0 });
    let s = go(&c, &s, Action::FailoverStart);
    let s = go(&c, &s, Action::Fence { ok: true });
    let s = go(&c, &s, Action::FailoverPromote); // eu-west at epoch 2, without T1
    let s = go(&c, &s, Action::Partition { region: 1 });
    let s = go(&c, &s, Action::FailoverStart);
    let s = go(&c, &s, Action::Fence { ok: true });
    let s = go(&c, &s, Action::FailoverPromote); // ap-south at epoch 3
    assert_eq!((s.primary, s.gepoch), (2, 3));
    assert_eq!(
        s.regions[0].role,
        Role::Old,
        "us-east still owes its snapshot"
    );
    let s = go(&c, &s, Action::Return { region: 0 });
    disabled(&c, &s, Action::Rebuild { region: 0 });
    let s = go(&c, &s, Action::Rejoin { region: 0 });
    assert_eq!(s.ghost.snapshot & 1, 1, "T1 saved in the snapshot");
    let v = crate::global::model::evaluate("c4_rejoin_from_new_primary", &c, &s).unwrap();
    assert!(v.is_ok(), "{v:?}");
}

/// Every clause of C2 can fail on a reachable state under Mc3 (no fence). The checker reports
/// clause (a) first, at the promotion; this walks on until the unfenced old primary also
/// acknowledges at the older epoch (clause c).
#[test]
fn without_a_fence_the_old_primary_breaks_each_clause_of_c2() {
    use crate::global::properties::{c2a_one_writable, c2c_no_ack_at_older_epoch};
    let c = cfg().with_mutant(Some(Mutant::NoFence));
    let s = go(&c, &init(&c), Action::Write { region: 0 });
    let s = go(&c, &s, Action::Partition { region: 0 }); // still running
    let s = go(&c, &s, Action::FailoverStart);
    let s = go(&c, &s, Action::Fence { ok: true }); // does nothing under Mc3
    let s = go(&c, &s, Action::FailoverPromote);
    assert!(c2a_one_writable(&c, &s).is_err(), "two writable regions");
    assert!(c2c_no_ack_at_older_epoch(&c, &s).is_ok());
    let s = go(&c, &s, Action::Write { region: 1 }); // T2 acked at epoch 2
    let s = go(&c, &s, Action::Write { region: 0 }); // T3 acked at epoch 1, after it
    assert_eq!((s.ghost.acked[1], s.ghost.acked[2]), (2, 1));
    let v = c2c_no_ack_at_older_epoch(&c, &s);
    assert!(v.is_err(), "split brain under reliable fencing: {v:?}");
}

/// C2 clause (b) can fail: under Mc8 (the new primary keeps the old epoch) and no fence,
/// two regions acknowledge at one epoch.
#[test]
fn two_regions_acking_at_one_epoch_break_c2b() {
    use crate::global::properties::c2b_one_acker_per_epoch;
    let mut c = cfg().with_mutant(Some(Mutant::PromoteSameEpoch));
    c.fencing = Fencing::BestEffort;
    let s = go(&c, &init(&c), Action::Write { region: 0 });
    let s = go(&c, &s, Action::Partition { region: 0 });
    let s = go(&c, &s, Action::FailoverStart);
    let s = go(&c, &s, Action::Fence { ok: false });
    let s = go(&c, &s, Action::FailoverPromote);
    let s = go(&c, &s, Action::Write { region: 1 });
    let v = c2b_one_acker_per_epoch(&c, &s);
    assert!(
        v.is_err(),
        "us-east and eu-west both acked at epoch 1: {v:?}"
    );
}

/// The gate holds back a reachable primary's commit only for lag, and G3.s1 counts a resume
/// only for a commit that was held back for lag (a partition alone does not witness it).
#[test]
fn a_commit_blocked_by_lag_resumes_when_a_secondary_catches_up() {
    let mut c = cfg();
    c.rpo = 2;
    c.validate().unwrap();
    let s = go(&c, &init(&c), Action::Write { region: 0 }); // T1 at t=0, acked (lag 0)
    let s = go(&c, &s, Action::Tick);
    let s = go(&c, &s, Action::Tick); // eu-west now lags T1 by 2 ticks
    let s = go(&c, &s, Action::Write { region: 0 }); // T2 blocked
    assert_eq!(s.ghost.acked[1], 0);
    assert!(s.ghost.flags & F_BLOCKED != 0 && s.ghost.blocked == 0b10);
    let s = go(&c, &s, Action::Replicate { region: 1 }); // T1 reaches eu-west
    assert_eq!(s.ghost.acked[1], 1, "T2 acknowledged once the lag healed");
    assert!(s.ghost.flags & F_RESUMED != 0);
    assert!(s.ghost.flags & F_ACK_PAST_GATE == 0);
}
