//! Handing inputs to the failover actors that exist so far (segments, the metadata service,
//! the control plane, and the instance's redo stream) from the fast composition, and back.
//!
//! The fast state keeps a segment as its [`Seg`] alone: the ranges it has installed are taken to
//! be the metadata service's ranges up to its installed epoch. Ranges are written one per
//! recovery, in the order of the epochs handed out, and each install sends the whole list, so
//! that is what its installs told it, with one exception: under `epoch-reuse` a range may be
//! written at an epoch a segment had already installed, and this view counts it as installed
//! there too (as the step did before segments were actors). The metadata service's state is
//! the state's epoch counter and range list.

use arrayvec::ArrayVec;

use crate::actor::{Effects, Id};
use crate::failover::actors::control::{self, Control, Seen};
use crate::failover::actors::instance::{self, InstNode, Stream};
use crate::failover::actors::metadata::{self, Meta};
use crate::failover::actors::msg::{Beat, Ids, Msg, Storage, Timer};
use crate::failover::actors::segment::{self, SegNode};
use crate::failover::config::FailoverConfig;
use crate::failover::state::{Epoch, FailoverState, Role, Seg};

/// The actors' addresses in `cfg`'s cluster.
pub fn ids(cfg: &FailoverConfig) -> Ids {
    Ids {
        segs: cfg.segments(),
        insts: 1 + usize::from(cfg.replicas),
    }
}

/// Segment `k` as its actor holds it.
fn node(s: &FailoverState, k: usize) -> SegNode {
    let seg = s.segs[k];
    SegNode {
        seg,
        known: s
            .truncs
            .iter()
            .filter(|t| t.epoch <= seg.trunc_epoch)
            .copied()
            .collect(),
    }
}

/// What an actor sends in one handler, but a segment's reports: an answer to the requester (a
/// refusal, a chain top, an epoch), a repair copy to a peer, a promotion, a VDL. The reports go
/// to the instances, which in this composition read every segment's state itself, and that is
/// all a report says.
#[derive(Debug, Default)]
pub struct Answers(pub ArrayVec<(Id, Msg), 2>);

impl Effects<Msg, Storage> for Answers {
    fn send(&mut self, dst: Id, msg: Msg) {
        if !matches!(msg, Msg::Report { .. }) {
            self.0.push((dst, msg));
        }
    }
    fn save(&mut self, _storage: Storage) {}
}

/// Deliver `msg` from `src` to segment `k`; what it answered.
pub fn to_segment(
    cfg: &FailoverConfig,
    s: &mut FailoverState,
    k: usize,
    src: Id,
    msg: &Msg,
) -> Answers {
    let mut st = node(s, k);
    let mut out = Answers::default();
    segment::on_msg(cfg, ids(cfg), &mut st, src, msg, &mut out);
    s.segs[k] = Seg {
        up: s.segs[k].up,
        ..st.seg
    };
    out
}

/// Fire segment `k`'s repair timer for LSN `lsn` towards peer `to`, and deliver what it sends
/// (a copy of the record, if it holds one) to that peer. Whether the peer received one.
pub fn gossip(cfg: &FailoverConfig, s: &mut FailoverState, k: usize, to: usize, lsn: u8) -> bool {
    let mut out = Answers::default();
    segment::on_timeout(
        ids(cfg),
        &s.segs[k],
        &Timer::Gossip { to: to as u8, lsn },
        &mut out,
    );
    let from = ids(cfg).seg(k);
    let mut any = false;
    for (dst, msg) in out.0 {
        if let Some(t) = ids(cfg).seg_of(dst) {
            to_segment(cfg, s, t, from, &msg);
            any = true;
        }
    }
    any
}

/// Ask the metadata service, on behalf of instance `i`; its answer.
pub fn to_metadata(
    cfg: &FailoverConfig,
    s: &mut FailoverState,
    i: usize,
    msg: &Msg,
) -> Option<Msg> {
    let mut st = Meta {
        epoch_ctr: s.epoch_ctr,
        truncs: s.truncs.clone(),
    };
    let mut out = Answers::default();
    metadata::on_msg(cfg, &mut st, ids(cfg).inst(i), msg, &mut out);
    s.epoch_ctr = st.epoch_ctr;
    s.truncs = st.truncs;
    out.0.into_iter().next().map(|(_, m)| m)
}

/// The control plane as its actor holds it: the endpoint, and each instance as its heartbeats
/// and the transport show it (a crashed one as crashed, one cut off as silent).
fn control(s: &FailoverState) -> Control {
    Control {
        endpoint: s.endpoint,
        seen: s
            .insts
            .iter()
            .map(|&x| match x.role {
                Role::Down => Seen::Crashed { tier: x.tier },
                _ if x.cut_off => Seen::Silent(Beat::of(&x)),
                _ => Seen::Heard(Beat::of(&x)),
            })
            .collect(),
    }
}

/// Fire the control plane's watch timer: the instance it promotes, if any (the endpoint then
/// routes to it).
pub fn watch(cfg: &FailoverConfig, s: &mut FailoverState) -> Option<usize> {
    let mut st = control(s);
    let promoted = control::on_timeout(ids(cfg), &mut st, &Timer::Watch, &mut Answers::default());
    s.endpoint = st.endpoint;
    promoted.then(|| usize::from(st.endpoint))
}

/// Instance `i` as its actor holds it: the stream it knows is the volume's (every record sent,
/// the consistency points, the ranges), which the writers stream to every replica.
fn instance(s: &FailoverState, i: usize) -> InstNode {
    InstNode {
        inst: s.insts[i],
        stream: Stream {
            sent: s.sent,
            cpls: s.cpls,
            truncs: s.truncs.clone(),
        },
    }
}

/// Fire writer `w`'s stream timer towards instance `r`, and deliver what it sends.
pub fn stream(cfg: &FailoverConfig, s: &mut FailoverState, w: usize, r: usize) {
    let mut out = Answers::default();
    let mut st = instance(s, w);
    instance::on_timeout(
        cfg,
        ids(cfg),
        &mut st,
        &Timer::Stream { to: r as u8 },
        &mut out,
    );
    s.insts[w] = st.inst;
    for (dst, msg) in out.0 {
        if let Some(k) = ids(cfg).inst_of(dst) {
            let mut st = instance(s, k);
            instance::on_msg(&mut st, ids(cfg).inst(w), &msg);
            s.insts[k] = st.inst;
        }
    }
}

/// Fire instance `r`'s apply timer; whether it applied anything.
pub fn apply(cfg: &FailoverConfig, s: &mut FailoverState, r: usize) -> bool {
    let mut st = instance(s, r);
    let timer = Timer::Apply;
    instance::on_timeout(cfg, ids(cfg), &mut st, &timer, &mut Answers::default());
    let changed = st.inst != s.insts[r];
    s.insts[r] = st.inst;
    changed
}

/// The instance that writes at epoch `e`, to address a segment's answer to one of its
/// records: the open writer at that epoch, else W1 (the writer of that epoch is gone, and the
/// answer is lost with it).
pub fn writer_at(cfg: &FailoverConfig, s: &FailoverState, e: Epoch) -> Id {
    let i = s
        .insts
        .iter()
        .position(|x| x.role == Role::Writer && x.epoch == e)
        .unwrap_or(0);
    ids(cfg).inst(i)
}
