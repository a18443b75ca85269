//! Scenarios of the failover step function, step by step: who is promoted, the order recovery
//! must follow, and fencing of a writer that is cut off but still writing.

use super::*;
use crate::failover::properties as p;
use crate::failover::state::F_STALE_REJECTED;

fn cfg(replicas: u8) -> FailoverConfig {
    let mut c = FailoverConfig::preset("default").unwrap();
    c.set("replicas", &replicas.to_string()).unwrap();
    c.validate().unwrap();
    c
}

/// Apply `a`, which must be enabled.
fn go(c: &FailoverConfig, s: &FailoverState, a: Action) -> FailoverState {
    step(c, s, &a).unwrap_or_else(|| panic!("{a:?} is not enabled"))
}

fn disabled(c: &FailoverConfig, s: &FailoverState, a: Action) {
    assert!(step(c, s, &a).is_none(), "{a:?} must not be enabled here");
}

/// W1 writes MTR {1,2} and it lands on every segment, so it is acknowledged at epoch 1.
fn committed(c: &FailoverConfig) -> FailoverState {
    let mut s = go(c, &init(c), Action::WriteMtr { inst: 0 });
    for seg in 0..6 {
        for lsn in 1..=2 {
            s = go(c, &s, Action::Deliver { seg, lsn, epoch: 1 });
        }
    }
    assert_eq!(s.ghost.acked[1], 1, "LSN 2 acknowledged at epoch 1");
    s
}

#[test]
fn promotion_prefers_the_lowest_tier_then_the_most_caught_up() {
    let c = cfg(2);
    let mut s = committed(&c);
    s.insts[2].known_vdl = 2; // R2 (tier 1) is ahead of R1 (tier 0)
    s.insts[2].follows = 1;
    let s1 = go(&c, &go(&c, &s, Action::WriterCrash), Action::Promote);
    assert_eq!(s1.endpoint, 1, "tier 0 wins over being caught up");
    s.insts[2].tier = 0;
    let s2 = go(&c, &go(&c, &s, Action::WriterCrash), Action::Promote);
    assert_eq!(
        s2.endpoint, 2,
        "within a tier, the most caught-up replica wins"
    );
}

#[test]
fn recovery_fences_before_reading_and_truncates_before_opening() {
    let c = cfg(1);
    let s = committed(&c);
    disabled(&c, &s, Action::Promote); // the writer is alive and reachable
    let s = go(&c, &s, Action::WriterCrash);
    disabled(&c, &s, Action::GetEpoch);
    let s = go(&c, &s, Action::Promote);
    let mut s = go(&c, &s, Action::GetEpoch);
    assert_eq!(s.insts[1].epoch, 2);
    for seg in 0..3 {
        s = go(&c, &s, Action::Fence { seg });
    }
    // Three of six fenced: not yet a write quorum, so no reading.
    disabled(&c, &s, Action::ReadScl { quorum: 0b111 });
    s = go(&c, &s, Action::Fence { seg: 3 });
    s = go(&c, &s, Action::ReadScl { quorum: 0b111000 });
    assert_eq!(
        s.truncs[0].lo, 3,
        "recovered VDL 2: the acknowledged commit is kept"
    );
    for seg in 0..3 {
        s = go(&c, &s, Action::WriteTrunc { seg });
    }
    disabled(&c, &s, Action::Open); // range on three segments only
    s = go(&c, &s, Action::WriteTrunc { seg: 3 });
    s = go(&c, &s, Action::Open);
    assert_eq!(s.insts[1].role, Role::Writer);
    assert_eq!(
        s.insts[1].next_lsn, 5,
        "new LSNs start above the range 3..=4"
    );
    for name in ["b1_no_lost_ack", "b9_truncation_before_writes"] {
        let check = crate::failover::model::evaluate(name, &c, &s).unwrap();
        assert!(check.is_ok(), "{name}: {check:?}");
    }
}

#[test]
fn a_cut_off_writer_keeps_writing_but_fenced_segments_reject_it() {
    let c = cfg(1);
    let s = go(&c, &init(&c), Action::WriterPartition);
    let s = go(&c, &s, Action::Promote);
    let mut s = go(&c, &s, Action::GetEpoch);
    for seg in 0..4 {
        s = go(&c, &s, Action::Fence { seg });
    }
    // The old writer, still running at epoch 1, writes MTR {1,2}.
    s = go(&c, &s, Action::WriteMtr { inst: 0 });
    let rejected = go(
        &c,
        &s,
        Action::Deliver {
            seg: 0,
            lsn: 1,
            epoch: 1,
        },
    );
    assert_eq!(rejected.segs[0].rec(1), 0);
    assert!(rejected.ghost.flags & F_STALE_REJECTED != 0);
    // An unfenced segment still takes it: only two such segments remain, never a quorum.
    let taken = go(
        &c,
        &s,
        Action::Deliver {
            seg: 5,
            lsn: 1,
            epoch: 1,
        },
    );
    assert_eq!(taken.segs[5].rec(1), 1);
    assert!(p::b3_stale_fenced(&c, &taken).is_ok());
}

/// Review finding: a recovery that crashed after its read leaves a range (2, 3..=4) above the
/// next recovery's (3, 1..=2). The new writer must allocate above both, or LSNs inside the older
/// range count as present in every chain and a commit is acknowledged with no copy anywhere.
#[test]
fn a_writer_after_a_crashed_recovery_allocates_above_every_range() {
    let mut c = cfg(2);
    for (k, v) in [("recovery_crashes", "1"), ("lsns", "6")] {
        c.set(k, v).unwrap();
    }
    c.validate().unwrap();
    let mut s = go(&c, &init(&c), Action::WriteMtr { inst: 0 });
    for lsn in 1..=2 {
        s = go(
            &c,
            &s,
            Action::Deliver {
                seg: 0,
                lsn,
                epoch: 1,
            },
        );
    }
    s = go(&c, &s, Action::WriterCrash);
    s = go(&c, &s, Action::Promote);
    s = go(&c, &s, Action::GetEpoch);
    for seg in 0..4 {
        s = go(&c, &s, Action::Fence { seg });
    }
    // A1 (slot 0) answers with its stray chain 1..=2: recovered VDL 2, range 3..=4.
    s = go(&c, &s, Action::ReadScl { quorum: 0b010101 });
    assert_eq!((s.truncs[0].lo, s.truncs[0].hi), (3, 4));
    s = go(&c, &s, Action::RecoveryCrash);
    s = go(&c, &s, Action::Promote);
    s = go(&c, &s, Action::GetEpoch);
    for seg in 0..4 {
        s = go(&c, &s, Action::Fence { seg });
    }
    // A2, B1, C1 have nothing: recovered VDL 0, range 1..=2.
    s = go(&c, &s, Action::ReadScl { quorum: 0b011010 });
    assert_eq!((s.truncs[1].lo, s.truncs[1].hi), (1, 2));
    for seg in 0..6 {
        s = go(&c, &s, Action::WriteTrunc { seg });
    }
    s = go(&c, &s, Action::Open);
    let w = usize::from(s.endpoint);
    assert_eq!(s.insts[w].next_lsn, 5, "above the older range 3..=4 too");
    s = go(&c, &s, Action::WriteMtr { inst: w as u8 });
    assert!(
        s.ghost.acked.iter().all(|&a| a & 0b100 == 0),
        "nothing acked unheld"
    );
    for name in [
        "b1_no_lost_ack",
        "b5_allocation_bounded",
        "b11_acked_durable",
    ] {
        let check = crate::failover::model::evaluate(name, &c, &s).unwrap();
        assert!(check.is_ok(), "{name}: {check:?}");
    }
}

/// Transactions of two MTRs (body LSN 1, commit LSN 2), one LSN per MTR.
fn txn_cfg() -> FailoverConfig {
    let c = FailoverConfig::preset("txns").unwrap();
    c.validate().unwrap();
    c
}

/// Deliver every record the writer sent at `epoch` for LSNs in `lsns` to segments `segs`.
fn land(
    c: &FailoverConfig,
    mut s: FailoverState,
    segs: std::ops::Range<u8>,
    lsns: std::ops::RangeInclusive<Lsn>,
    epoch: u8,
) -> FailoverState {
    for seg in segs {
        for lsn in lsns.clone() {
            s = go(c, &s, Action::Deliver { seg, lsn, epoch });
        }
    }
    s
}

/// R1 takes over after W1 crashed: every step of recovery up to `Open`, reading `quorum`.
fn take_over(c: &FailoverConfig, s: FailoverState, quorum: u16) -> FailoverState {
    let mut s = go(
        c,
        &go(c, &go(c, &s, Action::WriterCrash), Action::Promote),
        Action::GetEpoch,
    );
    for seg in 0..4 {
        s = go(c, &s, Action::Fence { seg });
    }
    s = go(c, &s, Action::ReadScl { quorum });
    for seg in 0..6 {
        s = go(c, &s, Action::WriteTrunc { seg });
    }
    go(c, &s, Action::Open)
}

#[test]
fn only_the_commit_mtr_is_acknowledged_and_a_crash_leaves_the_body_to_roll_back() {
    let c = txn_cfg();
    let s = go(&c, &init(&c), Action::WriteMtr { inst: 0 });
    assert_eq!(s.insts[0].open_txn, 1, "the body opens a transaction");
    let s = land(&c, s, 0..6, 1..=1, 1);
    assert_eq!(s.insts[0].vdl, 1, "the body is durable");
    assert_eq!(s.ghost.acked[0], 0, "but a body is not a commit");
    let s = take_over(&c, s, 0b000111);
    assert!(
        p::f2_active_txns_rolled_back(&c, &s).is_err(),
        "open with a txn in progress"
    );
    disabled(&c, &s, Action::WriteMtr { inst: 0 }); // W1 is down
    let s = go(&c, &s, Action::Undo);
    assert_eq!(s.ghost.rolled_back, 0b1);
    assert!(p::f2_active_txns_rolled_back(&c, &s).is_ok());
    disabled(&c, &s, Action::Undo);
}

/// A commit record written but annulled by the recovery did not commit: the transaction is in
/// progress again and the new writer rolls it back.
#[test]
fn a_transaction_whose_commit_record_is_truncated_is_rolled_back() {
    let c = txn_cfg();
    let s = go(&c, &init(&c), Action::WriteMtr { inst: 0 });
    let s = land(&c, s, 0..6, 1..=1, 1);
    let s = go(&c, &s, Action::WriteMtr { inst: 0 }); // the commit, LSN 2
    assert_eq!(s.txn_done, 0b1, "W1 committed it");
    let s = land(&c, s, 0..1, 2..=2, 1); // on A1 only: not acknowledged
    assert_eq!(s.ghost.acked[1], 0);
    // The read quorum misses A1: recovered VDL 1, range 2..=2 annuls the commit.
    let s = take_over(&c, s, 0b111000);
    assert_eq!((s.truncs[0].lo, s.truncs[0].hi), (2, 2));
    assert_eq!(s.txn_done, 0, "its commit is gone");
    let s = go(&c, &s, Action::Undo);
    assert_eq!(s.ghost.rolled_back, 0b1);
}

#[test]
fn a_cut_off_writer_that_commits_after_the_rollback_is_never_acknowledged() {
    let c = txn_cfg();
    let s = go(&c, &init(&c), Action::WriteMtr { inst: 0 });
    let s = land(&c, s, 0..6, 1..=1, 1);
    let mut s = go(&c, &go(&c, &s, Action::WriterPartition), Action::Promote);
    s = go(&c, &s, Action::GetEpoch);
    for seg in 0..4 {
        s = go(&c, &s, Action::Fence { seg });
    }
    s = go(&c, &s, Action::ReadScl { quorum: 0b000111 });
    for seg in 0..4 {
        s = go(&c, &s, Action::WriteTrunc { seg }); // C1 and C2 keep epoch 1
    }
    s = go(&c, &go(&c, &s, Action::Open), Action::Undo);
    // W1, still running at epoch 1, commits the transaction R1 rolled back.
    s = go(&c, &s, Action::WriteMtr { inst: 0 });
    assert_eq!(s.ghost.orphan_commits, 0b10);
    // Only the two unfenced segments take it: never a quorum, never acknowledged.
    let s = land(&c, s, 4..6, 2..=2, 1);
    assert_eq!(s.ghost.acked[1], 0);
    assert!(p::f2a_orphan_never_acked(&c, &s).is_ok());
}
