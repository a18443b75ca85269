//! The failover segment and metadata actors on their own: what each input does to them and
//! what they send.

use super::metadata;
use super::msg::{Ids, Msg, Storage};
use super::segment::{self, SegNode};
use crate::actor::{Effect, Id};
use crate::failover::config::{FailoverConfig, Mutant};
use crate::failover::state::Trunc;
use crate::failover::storage::Reject;

const IDS: Ids = Ids { segs: 6, insts: 2 };

fn cfg() -> FailoverConfig {
    FailoverConfig::base()
}

fn handle(cfg: &FailoverConfig, st: &mut SegNode, src: Id, msg: Msg) -> Vec<Effect<Msg, Storage>> {
    let mut out = Vec::new();
    segment::on_msg(cfg, IDS, st, src, &msg, &mut out);
    out
}

/// The truncation range of epoch `epoch` over `lo..=hi`.
fn range(epoch: u8, lo: u8, hi: u8) -> Trunc {
    Trunc { epoch, lo, hi }
}

/// A list of ranges, as a message carries it.
fn ranges(ts: &[Trunc]) -> crate::failover::state::Ranges {
    ts.iter().copied().collect()
}

/// A record of LSN `lsn` from the writer at `epoch`, carrying that writer's range.
fn write(lsn: u8, epoch: u8, range: Option<Trunc>) -> Msg {
    Msg::Write { lsn, epoch, range }
}

/// An install of epoch `epoch` sending `truncs`.
fn install(epoch: u8, truncs: crate::failover::state::Ranges) -> Msg {
    Msg::Install { epoch, truncs }
}

/// One refusal, as the only thing a handler sent.
fn refused(to: Id, epoch: u8, reason: Reject) -> Vec<(Id, Msg)> {
    vec![(to, Msg::Refused { epoch, reason })]
}

fn sends(out: &[Effect<Msg, Storage>]) -> Vec<(Id, Msg)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Send(d, m) => Some((*d, m.clone())),
            Effect::Save(_) => None,
        })
        .collect()
}

#[test]
fn a_stored_record_is_saved_before_it_is_reported_to_every_instance() {
    let c = cfg();
    let mut st = segment::born(&c, 0);
    let out = handle(&c, &mut st, IDS.inst(0), write(1, 1, None));
    assert_eq!(st.seg.rec(1), 1);
    assert_eq!(st.seg.scl, 1);
    assert!(
        matches!(out[0], Effect::Save(Storage::Segment { .. })),
        "{out:?}"
    );
    let to: Vec<Id> = sends(&out).iter().map(|(d, _)| *d).collect();
    assert_eq!(to, vec![IDS.inst(0), IDS.inst(1)]);
    // The same record again changes nothing and says nothing.
    assert!(
        handle(
            &c,
            &mut st,
            IDS.inst(0),
            Msg::Write {
                lsn: 1,
                epoch: 1,
                range: None
            }
        )
        .is_empty()
    );
}

#[test]
fn a_fenced_segment_refuses_the_old_writer_and_tells_it_why() {
    let c = cfg();
    let mut st = segment::born(&c, 0);
    handle(&c, &mut st, IDS.inst(1), Msg::Fence { epoch: 2 });
    assert_eq!(st.seg.fence, 2);
    let out = handle(&c, &mut st, IDS.inst(0), write(1, 1, None));
    assert_eq!(st.seg.rec(1), 0);
    assert_eq!(sends(&out), refused(IDS.inst(0), 1, Reject::Stale));
    // Under no-fencing it takes the stale record.
    let bad = FailoverConfig::base().with_mutant(Some(Mutant::NoFencing));
    handle(&bad, &mut st, IDS.inst(0), write(1, 1, None));
    assert_eq!(st.seg.rec(1), 1);
}

#[test]
fn a_new_epochs_record_waits_for_its_range_and_the_range_annuls_strays() {
    let c = cfg();
    let t = range(2, 2, 3);
    let mut st = segment::born(&c, 0);
    handle(&c, &mut st, IDS.inst(0), write(2, 1, None));
    handle(&c, &mut st, IDS.inst(1), Msg::Fence { epoch: 2 });
    let out = handle(&c, &mut st, IDS.inst(1), write(4, 2, Some(t)));
    assert_eq!(
        sends(&out),
        refused(IDS.inst(1), 2, Reject::NeedsTruncation)
    );
    let truncs = ranges(&[t]);
    handle(&c, &mut st, IDS.inst(1), install(2, truncs.clone()));
    assert_eq!(st.seg.rec(2), 0, "the stray of epoch 1 is annulled");
    assert_eq!(st.known.as_slice(), &[t]);
    handle(&c, &mut st, IDS.inst(1), write(4, 2, Some(t)));
    assert_eq!(st.seg.rec(4), 2);
    // A repair copy of the annulled record is refused; a read judges with the reader's ranges.
    handle(&c, &mut st, IDS.seg(1), Msg::Gossip { lsn: 2, epoch: 1 });
    assert_eq!(st.seg.rec(2), 0);
    let out = handle(&c, &mut st, IDS.inst(1), Msg::ReadScl { epoch: 2, truncs });
    assert_eq!(
        sends(&out),
        vec![(IDS.inst(1), Msg::Scl { epoch: 2, top: 0 })],
        "LSN 1 is missing"
    );
}

#[test]
fn repair_copies_held_records_to_peers_and_fills_holes_only() {
    let c = cfg();
    let mut a = segment::born(&c, 0);
    handle(&c, &mut a, IDS.inst(0), write(1, 1, None));
    let mut out = Vec::new();
    segment::on_timeout(
        IDS,
        &a.seg,
        &super::msg::Timer::Gossip { to: 3, lsn: 1 },
        &mut out,
    );
    assert_eq!(
        sends(&out),
        vec![(IDS.seg(3), Msg::Gossip { lsn: 1, epoch: 1 })]
    );
    let mut out = Vec::new();
    segment::on_timeout(
        IDS,
        &a.seg,
        &super::msg::Timer::Gossip { to: 3, lsn: 2 },
        &mut out,
    );
    assert!(out.is_empty(), "nothing held at LSN 2");
    // A held record is never replaced by a peer's copy.
    let mut b = segment::born(&c, 3);
    handle(&c, &mut b, IDS.inst(1), Msg::Fence { epoch: 2 });
    handle(&c, &mut b, IDS.inst(0), write(1, 2, None));
    assert_eq!(b.seg.rec(1), 2);
    let before = b.clone();
    assert!(handle(&c, &mut b, IDS.seg(0), Msg::Gossip { lsn: 1, epoch: 1 }).is_empty());
    assert_eq!(b, before);
}

#[test]
fn a_restart_keeps_ranges_unless_they_were_volatile() {
    let c = cfg();
    let t = range(2, 1, 2);
    let mut st = segment::born(&c, 0);
    let truncs = ranges(&[t]);
    let out = handle(&c, &mut st, IDS.inst(1), install(2, truncs));
    let saved = out
        .iter()
        .find_map(|e| match e {
            Effect::Save(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    let mut reports = Vec::new();
    let back = segment::on_start(&c, IDS, 0, Some(&saved), &mut reports);
    assert_eq!(back, st);
    assert_eq!(
        sends(&reports).len(),
        2,
        "a report to each instance at start"
    );
    let bad = FailoverConfig::base().with_mutant(Some(Mutant::VolatileTruncation));
    let back = segment::on_start(&bad, IDS, 0, Some(&saved), &mut Vec::new());
    assert_eq!(back.seg.trunc_epoch, 1);
    assert!(back.known.is_empty());
}

#[test]
fn the_metadata_service_hands_out_fresh_epochs_and_keeps_ranges_durably() {
    let c = cfg();
    let mut st = metadata::on_start(None);
    let mut out = Vec::new();
    metadata::on_msg(&c, &mut st, IDS.inst(1), &Msg::GetEpoch, &mut out);
    assert_eq!(st.epoch_ctr, 2);
    assert!(matches!(
        out[0],
        Effect::Save(Storage::Metadata { epoch_ctr: 2, .. })
    ));
    assert_eq!(
        out[1],
        Effect::Send(
            IDS.inst(1),
            Msg::Epoch {
                epoch: 2,
                truncs: ranges(&[])
            }
        )
    );
    let t = range(2, 3, 4);
    let mut out = Vec::new();
    metadata::on_msg(
        &c,
        &mut st,
        IDS.inst(1),
        &Msg::AddTrunc { trunc: t },
        &mut out,
    );
    let Effect::Save(saved) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(metadata::on_start(Some(saved)), st);
    // Under epoch-reuse the same epoch comes back.
    let bad = FailoverConfig::base().with_mutant(Some(Mutant::EpochReuse));
    metadata::on_msg(&bad, &mut st, IDS.inst(0), &Msg::GetEpoch, &mut Vec::new());
    assert_eq!(st.epoch_ctr, 2);
}

#[test]
fn a_segment_that_installed_the_epoch_without_its_range_still_refuses_its_records() {
    // An install sent before the recovery's range was in the list: the epoch is installed,
    // the range is not, so the writer's records wait (B9) and a later install adds it.
    let c = cfg();
    let t = range(2, 2, 3);
    let old = range(1, 5, 6);
    let mut st = segment::born(&c, 0);
    let first = ranges(&[old]);
    handle(&c, &mut st, IDS.inst(1), install(2, first));
    assert_eq!(st.seg.trunc_epoch, 2);
    let out = handle(&c, &mut st, IDS.inst(1), write(4, 2, Some(t)));
    assert_eq!(
        sends(&out),
        refused(IDS.inst(1), 2, Reject::NeedsTruncation)
    );
    // A later install of the same epoch with only the new range adds it and keeps the old.
    let second = ranges(&[t]);
    handle(&c, &mut st, IDS.inst(1), install(2, second));
    assert_eq!(st.known.as_slice(), &[old, t]);
    handle(&c, &mut st, IDS.inst(1), write(4, 2, Some(t)));
    assert_eq!(st.seg.rec(4), 2);
}

fn control_of(insts: &[crate::failover::state::Inst]) -> super::control::Control {
    super::control::Control {
        endpoint: 0,
        seen: insts
            .iter()
            .map(|x| super::control::Seen::Heard(super::msg::Beat::of(x)))
            .collect(),
    }
}

#[test]
fn the_control_plane_promotes_only_when_the_endpoint_has_failed() {
    use super::control::{self, Seen};
    use super::msg::Timer;
    use crate::failover::state::{Inst, Role};
    let ids = Ids { segs: 6, insts: 3 };
    let mut w = Inst::replica(0);
    w.role = Role::Writer;
    w.epoch = 1;
    let (mut r1, mut r2) = (Inst::replica(0), Inst::replica(1));
    r1.known_vdl = 1;
    r2.known_vdl = 3;
    let mut st = control_of(&[w, r1, r2]);
    let mut out = Vec::new();
    assert!(
        !control::on_timeout(ids, &mut st, &Timer::Watch, &mut out),
        "W1 is alive"
    );
    // Its heartbeats stop: a partition. R1 (tier 0) wins over R2 (tier 1, further ahead).
    control::on_msg(ids, &mut st, ids.inst(0), &Msg::Silent);
    assert!(matches!(st.seen[0], Seen::Silent(_)));
    assert!(control::on_timeout(ids, &mut st, &Timer::Watch, &mut out));
    assert_eq!(st.endpoint, 1);
    assert_eq!(out, vec![Effect::Send(ids.inst(1), Msg::Promote)]);
    // While R1 recovers, nothing more; once it has crashed, R2 is next.
    let mut rec = r1;
    rec.role = Role::Recovering(crate::failover::state::Phase::Promoted);
    control::on_msg(
        ids,
        &mut st,
        ids.inst(1),
        &Msg::Status(super::msg::Beat::of(&rec)),
    );
    assert!(!control::on_timeout(
        ids,
        &mut st,
        &Timer::Watch,
        &mut Vec::new()
    ));
    control::on_msg(ids, &mut st, ids.inst(1), &Msg::Crashed);
    assert_eq!(st.seen[1], Seen::Crashed { tier: 0 });
    assert!(control::on_timeout(
        ids,
        &mut st,
        &Timer::Watch,
        &mut Vec::new()
    ));
    assert_eq!(st.endpoint, 2);
}

#[test]
fn with_no_replica_to_promote_a_crashed_instance_recovers_itself() {
    use super::control;
    use super::msg::Timer;
    use crate::failover::state::{Inst, Role};
    let ids = Ids { segs: 6, insts: 1 };
    let mut w = Inst::replica(0);
    w.role = Role::Writer;
    let mut st = control_of(&[w]);
    control::on_msg(ids, &mut st, ids.inst(0), &Msg::Silent);
    assert!(
        !control::on_timeout(ids, &mut st, &Timer::Watch, &mut Vec::new()),
        "a silent writer may still be running: nobody to promote"
    );
    control::on_msg(ids, &mut st, ids.inst(0), &Msg::Crashed);
    let mut out = Vec::new();
    assert!(control::on_timeout(ids, &mut st, &Timer::Watch, &mut out));
    assert_eq!(out, vec![Effect::Send(ids.inst(0), Msg::Promote)]);
}

#[test]
fn the_control_plane_keeps_a_crash_over_a_silence_and_waits_for_its_promotion() {
    use super::control::{self, Seen};
    use super::msg::{Beat, Timer};
    use crate::failover::state::{Inst, Role};
    let ids = Ids { segs: 6, insts: 3 };
    let mut w = Inst::replica(0);
    w.role = Role::Writer;
    let (r1, r2) = (Inst::replica(0), Inst::replica(1));
    let mut st = control_of(&[w, r1, r2]);
    control::on_msg(ids, &mut st, ids.inst(0), &Msg::Crashed);
    control::on_msg(ids, &mut st, ids.inst(0), &Msg::Silent);
    assert_eq!(
        st.seen[0],
        Seen::Crashed { tier: 0 },
        "the crash is the surer news"
    );
    assert!(control::on_timeout(
        ids,
        &mut st,
        &Timer::Watch,
        &mut Vec::new()
    ));
    assert_eq!(st.endpoint, 1);
    // Before R1's first heartbeat as a recovering instance, a second watch promotes nobody.
    assert!(!control::on_timeout(
        ids,
        &mut st,
        &Timer::Watch,
        &mut Vec::new()
    ));
    // R1 falls silent mid-recovery: it no longer blocks a promotion, and R2 is next.
    control::on_msg(ids, &mut st, ids.inst(1), &Msg::Silent);
    assert!(control::on_timeout(
        ids,
        &mut st,
        &Timer::Watch,
        &mut Vec::new()
    ));
    assert_eq!(st.endpoint, 2);
    // A silent instance heard again is heard.
    control::on_msg(ids, &mut st, ids.inst(1), &Msg::Status(Beat::of(&r1)));
    assert_eq!(st.seen[1], Seen::Heard(Beat::of(&r1)));
}
