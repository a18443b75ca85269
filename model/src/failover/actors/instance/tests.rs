//! The database instance actor on its own: a replica on the stream, a writer allocating,
//! proving and acknowledging, and a recovery from promotion to opening.

use super::super::msg::{Ids, Msg, Storage, Timer};
use super::{InstNode, Stream, on_msg, on_timeout};
use crate::actor::{Effect, Id};
use crate::failover::config::FailoverConfig;
use crate::failover::state::{Inst, Phase, Ranges, Role, Seg, Trunc, Txns};
use crate::quorum::config::MAX_LSN;

const IDS: Ids = Ids { segs: 6, insts: 2 };

/// The base config: 6 segments, write quorum 4, read quorum 3, MTRs of 2 records.
fn cfg() -> FailoverConfig {
    FailoverConfig::base()
}

/// Instance `x` knowing nothing of the log, with every segment fresh at epoch 1.
fn node(x: Inst) -> InstNode {
    InstNode {
        inst: x,
        stream: Stream {
            sent: [0; MAX_LSN],
            cpls: 0,
            truncs: Ranges::new(),
        },
        txns: Txns::default(),
        segs: (0..6).map(|_| fresh()).collect(),
        reads: Default::default(),
    }
}

fn fresh() -> Seg {
    Seg {
        up: true,
        fence: 1,
        trunc_epoch: 1,
        ..Seg::default()
    }
}

/// The open writer at epoch `e`, allocating from LSN `base`.
fn writer(e: u8, base: u8) -> InstNode {
    let mut w = Inst::replica(0);
    w.role = Role::Writer;
    w.epoch = e;
    w.base = base;
    w.next_lsn = base;
    node(w)
}

fn msg(c: &FailoverConfig, st: &mut InstNode, src: Id, m: Msg) -> Vec<Effect<Msg, Storage>> {
    let mut out = Vec::new();
    on_msg(c, IDS, st, src, &m, &mut out);
    out
}

fn fire(c: &FailoverConfig, st: &mut InstNode, t: Timer) -> Vec<Effect<Msg, Storage>> {
    let mut out = Vec::new();
    on_timeout(c, IDS, st, &t, &mut out);
    out
}

/// Segment `k` reports it holds LSNs `1..=scl` at epoch `e`, fenced at `fence`, with the
/// ranges up to `installed` installed.
fn report_at(
    c: &FailoverConfig,
    st: &mut InstNode,
    k: usize,
    scl: u8,
    e: u8,
    fence: u8,
    installed: u8,
) -> Vec<Effect<Msg, Storage>> {
    let mut seg = Seg {
        fence,
        trunc_epoch: installed,
        scl,
        ..fresh()
    };
    seg.recs[..usize::from(scl)].fill(e);
    msg(c, st, IDS.seg(k), Msg::Report { seg })
}

/// [`report_at`] of a segment that has installed its fence's ranges.
fn report(
    c: &FailoverConfig,
    st: &mut InstNode,
    k: usize,
    scl: u8,
    e: u8,
    fence: u8,
) -> Vec<Effect<Msg, Storage>> {
    report_at(c, st, k, scl, e, fence, fence)
}

#[test]
fn a_writer_sends_each_record_to_every_segment_and_stops_at_lal() {
    let mut c = cfg();
    c.lal = 2;
    c.lsns = 4;
    let mut w = writer(1, 1);
    let out = fire(&c, &mut w, Timer::NextMtr);
    let writes: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Send(
                d,
                Msg::Write {
                    lsn,
                    epoch: 1,
                    range: None,
                },
            ) => Some((*d, *lsn)),
            _ => None,
        })
        .collect();
    assert_eq!(writes.len(), 12, "LSNs 1 and 2 to six segments: {out:?}");
    assert!(writes.contains(&(IDS.seg(5), 2)));
    assert_eq!(w.inst.next_lsn, 3);
    assert_eq!(w.stream.cpls, 0b10, "LSN 2 ends the MTR");
    assert_eq!(&w.stream.sent[..3], &[1, 1, 0]);
    // VDL 0 + LAL 2 = 2: the next MTR (3-4) waits for durability.
    assert!(fire(&c, &mut w, Timer::NextMtr).is_empty());
    assert_eq!(w.inst.next_lsn, 3);
}

#[test]
fn a_writer_acknowledges_only_at_a_write_quorum_fenced_at_its_epoch() {
    let c = cfg();
    let mut w = writer(2, 1);
    // MTRs 1-2 and 3-4; the first was sent by epoch 1's writer only.
    w.stream.cpls = 0b1010;
    w.stream.sent[..2].fill(0b01);
    w.stream.sent[2..4].fill(0b10);
    w.inst.next_lsn = 5;
    for k in 0..3 {
        assert!(report(&c, &mut w, k, 4, 2, 2).is_empty());
    }
    // A fourth segment holds the records but is fenced at a newer epoch: no ack of ours.
    assert!(report(&c, &mut w, 3, 4, 2, 3).is_empty());
    assert_eq!(w.inst.vdl, 0);
    let out = report(&c, &mut w, 4, 4, 2, 2);
    assert_eq!(
        out,
        vec![Effect::Send(
            IDS.client(),
            Msg::Committed { commits: 0b1000 }
        )],
        "LSN 4 is this incarnation's commit; LSN 2 was sent by epoch 1's writer, not by it"
    );
    assert_eq!((w.inst.pgcl, w.inst.vdl), (4, 4));
    // A replica does nothing with a report but keep it.
    let mut r = node(Inst::replica(0));
    assert!(report(&c, &mut r, 0, 4, 2, 2).is_empty());
    assert_eq!(r.segs[0].scl, 4);
}

#[test]
fn a_writer_rolls_back_the_transactions_an_older_incarnation_left_active() {
    let mut c = cfg();
    c.txn_mtrs = 2;
    let mut w = writer(2, 5);
    w.txns = Txns {
        bodies: 0b0010,
        done: 0,
        aborted: 0,
    };
    assert!(fire(&c, &mut w, Timer::Undo).is_empty());
    assert_eq!(w.txns.done, 0b10);
    assert_eq!(w.txns.aborted, 0b10);
    // Its own open transaction is not an orphan.
    let mut w = writer(2, 5);
    w.inst.open_txn = 6;
    w.txns.bodies = 0b10_0000;
    fire(&c, &mut w, Timer::Undo);
    assert_eq!(w.txns.aborted, 0);
    // A body, then its commit, in the transaction table.
    let mut w = writer(1, 1);
    fire(&c, &mut w, Timer::NextMtr);
    assert_eq!((w.txns.bodies, w.inst.open_txn), (0b10, 2));
    w.inst.vdl = 2;
    fire(&c, &mut w, Timer::NextMtr);
    assert_eq!((w.txns.done, w.inst.open_txn), (0b10, 0));
}

#[test]
fn a_promoted_instance_recovers_through_epoch_fence_read_range_and_open() {
    let c = cfg();
    let meta = IDS.metadata();
    let mut r = node(Inst::replica(1));
    r.stream.cpls = 0b1010;
    r.stream.sent[..4].fill(1);
    msg(&c, &mut r, IDS.control(), Msg::Promote);
    assert_eq!(r.inst.role, Role::Recovering(Phase::Promoted));
    assert_eq!(r.inst.tier, 1);
    assert_eq!(
        fire(&c, &mut r, Timer::Recover),
        vec![Effect::Send(meta, Msg::GetEpoch)]
    );
    // Nothing to fence or read before it has an epoch.
    assert!(fire(&c, &mut r, Timer::Fence { seg: 0 }).is_empty());
    assert!(fire(&c, &mut r, Timer::ReadScl).is_empty());
    let old = Trunc {
        epoch: 1,
        lo: 9,
        hi: 9,
    };
    let truncs: Ranges = [old].into_iter().collect();
    msg(
        &c,
        &mut r,
        meta,
        Msg::Epoch {
            epoch: 2,
            truncs: truncs.clone(),
        },
    );
    assert_eq!(
        (r.inst.role, r.inst.epoch),
        (Role::Recovering(Phase::Fencing), 2)
    );
    assert_eq!(r.stream.truncs, truncs, "the ranges came with the epoch");
    assert_eq!(
        fire(&c, &mut r, Timer::Fence { seg: 3 }),
        vec![Effect::Send(IDS.seg(3), Msg::Fence { epoch: 2 })]
    );
    // Three fenced of six: below the write quorum, so no read yet, and an answer to nobody's
    // read does not count.
    for k in 0..3 {
        report_at(&c, &mut r, k, 4, 1, 2, 1);
    }
    assert!(fire(&c, &mut r, Timer::ReadScl).is_empty());
    let scl = |epoch, top| Msg::Scl { epoch, top };
    for k in 0..3 {
        msg(&c, &mut r, IDS.seg(k), scl(2, 4));
    }
    assert_eq!(r.inst.role, Role::Recovering(Phase::Fencing));
    report_at(&c, &mut r, 3, 3, 1, 2, 1);
    let reads = fire(&c, &mut r, Timer::ReadScl);
    assert_eq!(reads.len(), 6, "every segment is asked");
    let read = Msg::ReadScl {
        epoch: 2,
        truncs: truncs.clone(),
    };
    assert_eq!(reads[0], Effect::Send(IDS.seg(0), read));
    // The first read quorum (3) to answer decides. A second answer of one segment, an answer
    // to an older epoch's read and one from an instance are ignored.
    assert!(msg(&c, &mut r, IDS.seg(3), scl(2, 3)).is_empty());
    assert!(msg(&c, &mut r, IDS.seg(3), scl(2, 4)).is_empty());
    assert!(msg(&c, &mut r, IDS.seg(1), scl(1, 4)).is_empty());
    assert!(msg(&c, &mut r, IDS.inst(0), scl(2, 4)).is_empty());
    assert!(msg(&c, &mut r, IDS.seg(5), scl(2, 0)).is_empty());
    assert_eq!(r.reads.as_slice(), &[(3, 3), (5, 0)]);
    let out = msg(&c, &mut r, IDS.seg(0), scl(2, 4));
    let range = Trunc {
        epoch: 2,
        lo: 5,
        hi: 4 + c.lal,
    };
    assert_eq!(
        out,
        vec![Effect::Send(meta, Msg::AddTrunc { trunc: range })]
    );
    assert_eq!(r.inst.role, Role::Recovering(Phase::Truncating { rvdl: 4 }));
    let all: Ranges = [old, range].into_iter().collect();
    assert_eq!(
        r.stream.truncs, all,
        "its own range is known before the service answers"
    );
    let install = Msg::Install {
        epoch: 2,
        truncs: all.clone(),
    };
    assert_eq!(
        fire(&c, &mut r, Timer::Install { seg: 4 }),
        vec![Effect::Send(IDS.seg(4), install)]
    );
    msg(&c, &mut r, meta, Msg::Ranges { truncs: all });
    // It opens only once a write quorum installed the range and holds LSNs 1-4: a write
    // quorum holds them, but only three have installed.
    report_at(&c, &mut r, 3, 4, 1, 2, 1);
    for k in 0..3 {
        report(&c, &mut r, k, 4, 1, 2);
    }
    fire(&c, &mut r, Timer::TryOpen);
    assert_eq!(r.inst.role, Role::Recovering(Phase::Truncating { rvdl: 4 }));
    report(&c, &mut r, 3, 4, 1, 2);
    fire(&c, &mut r, Timer::TryOpen);
    assert_eq!(r.inst.role, Role::Writer);
    assert_eq!((r.inst.vdl, r.inst.base), (4, old.hi.max(4 + c.lal) + 1));
}

#[test]
fn a_replica_follows_the_stream_and_applies_whole_mtrs_up_to_its_vdl() {
    let mut c = cfg();
    c.lsns = 4;
    let ids = Ids { segs: 6, insts: 2 };
    let mut writer = writer(1, 1);
    writer.inst.vdl = 2;
    // LSNs 1-4 sent at epoch 1; MTRs end at 2 and 4.
    writer.stream.sent[..4].fill(1);
    writer.stream.cpls = 0b1010;
    let mut replica = node(Inst::replica(0));
    replica.stream = writer.stream.clone();
    // Following nobody yet, it applies nothing.
    fire(&c, &mut replica, Timer::Apply);
    assert_eq!(replica.inst.applied, [0; MAX_LSN]);
    let out = fire(&c, &mut writer, Timer::Stream { to: 1 });
    assert_eq!(
        out,
        vec![Effect::Send(ids.inst(1), Msg::Vdl { vdl: 2, epoch: 1 })]
    );
    msg(&c, &mut replica, ids.inst(0), Msg::Vdl { vdl: 2, epoch: 1 });
    assert_eq!((replica.inst.known_vdl, replica.inst.follows), (2, 1));
    fire(&c, &mut replica, Timer::Apply);
    assert_eq!(
        &replica.inst.applied[..4],
        &[1, 1, 0, 0],
        "the first MTR, whole"
    );
    fire(&c, &mut replica, Timer::Apply);
    assert_eq!(
        &replica.inst.applied[..4],
        &[1, 1, 0, 0],
        "the next ends above its VDL"
    );
    // A writer does not take a stream's VDL; a replica does not stream.
    let w = writer.inst;
    msg(&c, &mut writer, ids.inst(1), Msg::Vdl { vdl: 0, epoch: 9 });
    assert_eq!(writer.inst, w);
    assert!(fire(&c, &mut replica, Timer::Stream { to: 0 }).is_empty());
}

#[test]
fn a_replica_takes_the_newest_writers_vdl_and_ignores_an_older_one() {
    let c = cfg();
    let mut r = node(Inst::replica(0));
    let w2 = IDS.inst(1);
    msg(&c, &mut r, w2, Msg::Vdl { vdl: 4, epoch: 2 });
    assert_eq!((r.inst.follows, r.inst.known_vdl), (2, 4));
    msg(&c, &mut r, w2, Msg::Vdl { vdl: 3, epoch: 2 });
    assert_eq!(r.inst.known_vdl, 4, "a late record of the same stream");
    msg(&c, &mut r, IDS.inst(0), Msg::Vdl { vdl: 6, epoch: 1 });
    assert_eq!(
        (r.inst.follows, r.inst.known_vdl),
        (2, 4),
        "an older writer's stream"
    );
    msg(&c, &mut r, IDS.inst(0), Msg::Vdl { vdl: 2, epoch: 3 });
    assert_eq!(
        (r.inst.follows, r.inst.known_vdl),
        (3, 2),
        "a newer writer's stream"
    );
}

#[test]
fn a_recovery_reopens_a_transaction_whose_commit_its_range_annuls_but_not_a_rolled_back_one() {
    let mut c = cfg();
    c.txn_mtrs = 2;
    c.lsns = 8;
    c.mtr_len = 1;
    c.lal = 3; // the range will be LSNs 2-4: both commits
    let mut r = node(Inst::replica(0));
    // Epoch 1 wrote body 1, commit 2, body 3, commit 4: both committed, and transaction 3
    // was also rolled back by an undo, which nothing reopens.
    r.stream.sent[..4].fill(1);
    r.stream.cpls = 0b1111;
    r.txns = Txns {
        bodies: 0b0101,
        done: 0b0101,
        aborted: 0b0100,
    };
    msg(&c, &mut r, IDS.control(), Msg::Promote);
    let epoch = Msg::Epoch {
        epoch: 2,
        truncs: Ranges::new(),
    };
    msg(&c, &mut r, IDS.metadata(), epoch);
    for k in 0..4 {
        report(&c, &mut r, k, 1, 1, 2);
    }
    fire(&c, &mut r, Timer::ReadScl);
    for k in 0..3 {
        msg(&c, &mut r, IDS.seg(k), Msg::Scl { epoch: 2, top: 1 });
    }
    assert_eq!(r.inst.role, Role::Recovering(Phase::Truncating { rvdl: 1 }));
    assert_eq!(
        r.txns.done, 0b0100,
        "the range from LSN 2 annuls transaction 1's commit; transaction 3 stays rolled back"
    );
}

#[test]
fn a_promotion_resets_only_a_replica_or_a_crashed_instance_and_only_from_the_control_plane() {
    let c = cfg();
    let mut w = writer(2, 1);
    let was = w.inst;
    msg(&c, &mut w, IDS.control(), Msg::Promote);
    assert_eq!(w.inst, was, "a late promotion leaves the writer open");
    let mut r = node(Inst::replica(0));
    msg(&c, &mut r, IDS.inst(0), Msg::Promote);
    assert_eq!(r.inst.role, Role::Replica, "not from the control plane");
    // An epoch that is not the metadata service's, or out of range, is ignored.
    msg(&c, &mut r, IDS.control(), Msg::Promote);
    let epoch = |epoch| Msg::Epoch {
        epoch,
        truncs: Ranges::new(),
    };
    msg(&c, &mut r, IDS.seg(0), epoch(2));
    msg(&c, &mut r, IDS.metadata(), epoch(0));
    assert_eq!(r.inst.role, Role::Recovering(Phase::Promoted));
    // Chain tops beyond any LSN are ignored, not a panic.
    msg(&c, &mut r, IDS.seg(0), Msg::Scl { epoch: 2, top: 255 });
    assert!(r.reads.is_empty());
}
