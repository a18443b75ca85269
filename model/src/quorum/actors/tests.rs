//! Handler-level tests of two rules a validated run of the implementation found missing:
//! a joiner hydrates only to what a read quorum of the old configuration reports at the dual
//! epoch, and a recovering writer completes only on the record of its own truncation range.

use crate::actor::{Effect, Id};
use crate::quorum::QuorumConfig;
use crate::quorum::state::{ControlState, Pending, Trunc, Truncs, WriterMode};

use super::msg::{Ids, Msg, Storage, Timer};
use super::{control, writer};

type Out = Vec<Effect<Msg, Storage>>;

fn setup() -> (QuorumConfig, Ids, ControlState) {
    let cfg = QuorumConfig::preset("ci").unwrap();
    let ids = Ids { slots: cfg.slots() };
    let mut st = control::born(&cfg);
    let mut out = Out::new();
    for i in 0..cfg.members() {
        control::on_msg(&cfg, ids, &mut st, ids.seg(i), Msg::Hello, &mut out);
    }
    (cfg, ids, st)
}

fn ack(scl: u8, mem: u8) -> Msg {
    Msg::Ack {
        scl,
        mem,
        vol: 1,
        held: 0,
    }
}

#[test]
fn a_joiner_hydrates_only_to_what_a_read_quorum_reports_at_the_dual_epoch() {
    let (cfg, ids, mut st) = setup();
    let mut out = Out::new();
    // Nothing reported yet: the control plane knows of no commit when the change begins.
    control::on_msg(
        &cfg,
        ids,
        &mut st,
        Id::from(0),
        Msg::Begin { f: 0 },
        &mut out,
    );
    let c = st.mem.change.expect("the change began");
    let (g, dual) = (usize::from(c.g), st.mem.epoch);
    assert_eq!(c.target, 0);
    let finalize = |st: &mut ControlState| {
        control::on_timeout(&cfg, ids, st, &Timer::Finalize, &mut Out::new());
        st.mem.change.is_none_or(|c| c.hydrated)
    };
    // G reports at once; with no read quorum heard at the dual epoch it has not hydrated.
    control::on_msg(&cfg, ids, &mut st, ids.seg(g), ack(0, dual), &mut out);
    assert!(
        !finalize(&mut st),
        "hydrated on a target nobody vouched for"
    );
    // A report from before the change (its old epoch) does not count.
    control::on_msg(&cfg, ids, &mut st, ids.seg(1), ack(2, dual - 1), &mut out);
    assert_eq!(st.mem.change.unwrap().heard, 0);
    // A read quorum of the old configuration at the dual epoch: one holds LSN 2.
    for (i, scl) in [(1, 2), (2, 0), (3, 0)] {
        control::on_msg(&cfg, ids, &mut st, ids.seg(i), ack(scl, dual), &mut out);
    }
    assert_eq!(st.mem.change.unwrap().target, 2);
    assert!(!finalize(&mut st), "hydrated below a commit a member holds");
    control::on_msg(&cfg, ids, &mut st, ids.seg(g), ack(2, dual), &mut out);
    assert!(
        finalize(&mut st),
        "G caught up with the read quorum's reports"
    );
}

#[test]
fn the_metadata_service_records_a_range_only_at_a_new_epoch() {
    let (cfg, ids, mut st) = setup();
    let w = ids.writer();
    let t2 = Trunc {
        epoch: 2,
        lo: 1,
        hi: 2,
    };
    let mut out = Out::new();
    control::on_msg(&cfg, ids, &mut st, w, Msg::AddTrunc { trunc: t2 }, &mut out);
    let t3 = Trunc { epoch: 3, ..t2 };
    control::on_msg(&cfg, ids, &mut st, w, Msg::AddTrunc { trunc: t3 }, &mut out);
    // A repeated request of the first incarnation, and another range at a used epoch.
    control::on_msg(&cfg, ids, &mut st, w, Msg::AddTrunc { trunc: t2 }, &mut out);
    let other = Trunc { lo: 3, hi: 4, ..t3 };
    control::on_msg(
        &cfg,
        ids,
        &mut st,
        w,
        Msg::AddTrunc { trunc: other },
        &mut out,
    );
    assert_eq!(st.truncs.iter().copied().collect::<Vec<_>>(), vec![t2, t3]);
}

#[test]
fn a_recovering_writer_completes_only_on_the_record_of_its_own_range() {
    let cfg = QuorumConfig::preset("ci").unwrap();
    let ids = Ids { slots: cfg.slots() };
    let mut st = writer::unborn();
    st.pending = Pending::Trunc(0);
    let volume = |truncs: Truncs| Msg::Volume {
        truncs,
        fresh: false,
        epoch: 1,
        cfg: control::born(&cfg).mem.cfg,
        joiner: None,
        lost: 0,
    };
    let mine = crate::quorum::writer::truncation_range(&cfg, 0, 2);
    let c = ids.control();
    // A late answer to an earlier request: the ranges it recovered from (none). Ignored.
    let mut out = Out::new();
    writer::on_msg(&cfg, ids, &mut st, c, volume(Truncs::default()), &mut out);
    assert_eq!((st.pending, out.len()), (Pending::Trunc(0), 0));
    // Another incarnation's range at the epoch it asked for: it recovers again.
    let mut taken = Truncs::default();
    taken.push(Trunc { lo: 5, ..mine });
    writer::on_msg(&cfg, ids, &mut st, c, volume(taken), &mut out);
    assert_eq!(st.pending, Pending::Volume);
    assert!(matches!(out.as_slice(), [Effect::Send(to, Msg::GetVolume)] if *to == c));
    // Its own range: installed, the incarnation recovers at the new volume epoch.
    st.pending = Pending::Trunc(0);
    let mut recorded = Truncs::default();
    recorded.push(mine);
    writer::on_msg(&cfg, ids, &mut st, c, volume(recorded), &mut Out::new());
    assert_eq!(st.pending, Pending::None);
    assert_eq!(st.mode, WriterMode::Recovering { vdl: 0 });
    assert_eq!(st.vol_epoch, 2);
}
