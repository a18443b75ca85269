//! Scenarios of the Global Database step function.

use super::*;

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
