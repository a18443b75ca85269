//! Handing inputs to the failover actors (segments, database instances, the metadata service,
//! the control plane) from the fast composition, and their answers back.
//!
//! The fast state holds each actor as a view of the whole state, rebuilt for each input and
//! written back after it (`specs/failover.md`, section 12):
//!
//! * a segment is its [`Seg`]; the ranges it has installed are taken to be the metadata
//!   service's ranges up to its installed epoch. Ranges are written one per recovery, in the
//!   order of the epochs handed out, and each install sends the whole list, so that is what its
//!   installs told it, with one exception: under `epoch-reuse` a range may be written at an
//!   epoch a segment had already installed, and this view counts it as installed there too;
//! * a database instance is its [`crate::failover::state::Inst`], with the volume's log, ranges
//!   and transaction table as what it knows, and each segment as it is for its last report
//!   (reports are instant);
//! * the metadata service is the state's epoch counter and range list; the control plane is the
//!   endpoint and the instances as the state has them.

use arrayvec::ArrayVec;

use crate::actor::{Effects, Id};
use crate::failover::actors::control::{self, Control, Seen};
use crate::failover::actors::instance::{self, InstNode, Known, Stream, writer};
use crate::failover::actors::metadata::{self, Meta};
use crate::failover::actors::msg::{Beat, Ids, Msg, Storage, Timer};
use crate::failover::actors::segment::{self, SegNode};
use crate::failover::config::{FailoverConfig, MAX_SEGMENTS};
use crate::failover::observer;
use crate::failover::state::{Epoch, EpochSet, FailoverState, Role, Seg, copied, epoch_bit};
use crate::quorum::config::MAX_LSN;

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
/// refusal, a chain top, an epoch, the ranges), a repair copy to a peer, a promotion, a
/// writer's acknowledgements to the client. The reports go
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

/// Restart segment `k` from what it saved (its actor's `on_start`): under
/// `volatile-truncation` it forgets the ranges it installed. Its reports go to the instances,
/// which read the segment as it now is.
pub fn restart_segment(cfg: &FailoverConfig, s: &mut FailoverState, k: usize) {
    let st = node(s, k);
    let saved = Storage::Segment {
        seg: st.seg,
        known: st.known,
    };
    let back = segment::on_start(cfg, ids(cfg), k, Some(&saved), &mut Answers::default());
    s.segs[k] = back.seg;
}

/// Restart instance `i` after its crash (its actor's `on_start`): a replica. What it learns
/// next (the stream, the segments' reports) is the state's, as for every instance.
pub fn restart_instance(cfg: &FailoverConfig, s: &mut FailoverState, i: usize) {
    s.insts[i] = instance::on_start(ids(cfg), s.insts[i].tier).inst;
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

/// Fire the control plane's watch timer, and deliver the promotion it sends: the instance it
/// promoted, if any (the endpoint now routes to it).
pub fn watch(cfg: &FailoverConfig, s: &mut FailoverState) -> Option<usize> {
    let mut st = control(s);
    let mut out = Answers::default();
    control::on_timeout(ids(cfg), &mut st, &Timer::Watch, &mut out);
    s.endpoint = st.endpoint;
    let mut promoted = None;
    for (dst, msg) in out.0 {
        if let Some(b) = ids(cfg).inst_of(dst) {
            to_instance(cfg, s, b, Input::Msg(ids(cfg).control(), msg), All);
            promoted = Some(b);
        }
    }
    promoted
}

/// Instance `i` as its actor holds it. The log it knows is the volume's (every record sent,
/// the consistency points, the ranges: a writer knows what it sent, a replica learns the rest
/// from the stream, a recovery the ranges from the metadata service), and so is the
/// transaction table; each segment's last report is the segment as it is (reports are
/// instant); no recovery read is half answered between steps.
fn instance(s: &FailoverState, i: usize) -> InstNode {
    InstNode {
        inst: s.insts[i],
        stream: Stream {
            sent: s.sent,
            cpls: s.cpls,
            truncs: copied(&s.truncs),
        },
        txns: s.txns(),
        segs: copied(&s.segs),
        reads: ArrayVec::new(),
    }
}

/// An input to an instance.
#[derive(Clone, Debug)]
pub enum Input {
    /// One of its timers fires.
    Timer(Timer),
    /// A message from an actor.
    Msg(Id, Msg),
}

/// Which segments the requests of one input reach in this step: all that are up, or only a
/// read quorum's (the first to answer a recovery read).
#[derive(Clone, Copy, Debug)]
pub enum Reach {
    /// Every segment that is up.
    All,
    /// The segments of this bit set.
    Only(u16),
}
pub use Reach::All;

/// What an instance sent in one handler: its records, folded into the epochs each LSN was
/// sent at (the fast state's network), and every other message in order.
#[derive(Debug, Default)]
pub struct InstOut {
    /// `writes[l-1]`: the epochs it sent a record of LSN `l` at.
    pub writes: [EpochSet; MAX_LSN],
    /// Everything else.
    pub msgs: ArrayVec<(Id, Msg), MAX_SEGMENTS>,
}

impl Effects<Msg, Storage> for InstOut {
    fn send(&mut self, dst: Id, msg: Msg) {
        match msg {
            Msg::Write { lsn, epoch, .. } => {
                if let Some(w) = usize::from(lsn)
                    .checked_sub(1)
                    .and_then(|k| self.writes.get_mut(k))
                {
                    *w |= epoch_bit(epoch);
                }
            }
            // One handler sends at most one message to each segment, or one other message.
            m => self.msgs.push((dst, m)),
        }
    }
    fn save(&mut self, _storage: Storage) {}
}

/// Hand `input` to instance `i`, record what it did with the observer, and deliver what it
/// sent: its records join the network, a request reaches its segment (if up and in `reach`)
/// or the metadata service at once, and every answer comes back to `i`, in order, before the
/// step ends; a stream record reaches its replica. Acknowledgements to the client are history
/// only. Between two inputs of one step the instance keeps its recovery reads; the rest of its
/// view is the state as it now is (reports are instant).
pub fn to_instance(
    cfg: &FailoverConfig,
    s: &mut FailoverState,
    i: usize,
    input: Input,
    reach: Reach,
) {
    let ids = ids(cfg);
    let me = ids.inst(i);
    let mut st = instance(s, i);
    // At most one answer per segment, or one from the metadata service, per input.
    let mut inputs = ArrayVec::<Input, MAX_SEGMENTS>::new();
    let mut input = input;
    loop {
        let before = observer::Was::of(&st);
        let mut out = InstOut::default();
        match &input {
            Input::Timer(t) => instance::on_timeout(cfg, ids, &mut st, t, &mut out),
            Input::Msg(src, m) => instance::on_msg(cfg, ids, &mut st, *src, m, &mut out),
        }
        s.insts[i] = st.inst;
        s.cpls = st.stream.cpls;
        s.set_txns(st.txns);
        for (sent, w) in s.sent.iter_mut().zip(out.writes) {
            *sent |= w;
        }
        observer::instance(
            &mut s.ghost,
            i as u8,
            &before,
            &st,
            &out.writes,
            &out.msgs,
            &s.segs,
        );
        let mut seen_changed = false;
        for (dst, msg) in &out.msgs {
            let dst = *dst;
            if let Some(k) = ids.seg_of(dst) {
                let reached = match reach {
                    Reach::All => true,
                    Reach::Only(set) => set & (1 << k) != 0,
                };
                if !reached || !s.segs[k].up {
                    continue;
                }
                let was = s.segs[k];
                for (to, answer) in to_segment(cfg, s, k, me, msg).0 {
                    if to == me {
                        inputs.push(Input::Msg(dst, answer));
                    }
                }
                seen_changed |= s.segs[k] != was;
            } else if dst == ids.metadata() {
                if let Some(answer) = to_metadata(cfg, s, i, msg) {
                    inputs.push(Input::Msg(dst, answer));
                }
                seen_changed = true;
            } else if let Some(r) = ids.inst_of(dst) {
                to_instance(cfg, s, r, Input::Msg(me, msg.clone()), All);
                seen_changed = true;
            }
        }
        if inputs.is_empty() {
            break;
        }
        input = inputs.remove(0);
        if seen_changed {
            // What the segments and the metadata service now hold reaches it at once.
            st = InstNode {
                reads: st.reads,
                ..instance(s, i)
            };
        }
    }
    debug_assert!(st.reads.is_empty(), "a recovery read left half answered");
}

/// Every open writer proves PGCL and VDL from the segments' reports and acknowledges its
/// commits ([`writer::acknowledge`]); the observer records the acknowledgements. Reports are
/// instant, so the segments as they are stand for the reports.
pub fn acknowledge(cfg: &FailoverConfig, s: &mut FailoverState) {
    for i in 0..s.insts.len() {
        let mut w = s.insts[i];
        if w.role != Role::Writer {
            continue;
        }
        let known = Known {
            segs: &s.segs,
            sent: &s.sent,
            cpls: s.cpls,
            bodies: s.bodies,
            truncs: &s.truncs,
        };
        let mut out = Answers::default();
        writer::acknowledge(cfg, ids(cfg), &mut w, known, &mut out);
        s.insts[i] = w;
        for (_, m) in &out.0 {
            if let Msg::Committed { commits } = *m {
                observer::acknowledged(&mut s.ghost, w.epoch, commits);
            }
        }
    }
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
