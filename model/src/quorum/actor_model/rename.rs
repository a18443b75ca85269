//! Symmetry reduction for the actor model: segments within an AZ are interchangeable, and so
//! are AZs, as in the fast model ([`crate::quorum::symmetry`]). The order is the fast model's,
//! computed on the system's view (each segment's own fields, the quorum sets and roles it
//! holds, and the records in flight to it); the renaming then reaches every place a slot or an
//! AZ is named: actor states, storage, timers, and the messages in flight.
//!
//! stateright's own representative for an `ActorModel` sorts every actor state together,
//! which is unsound when actors play different roles; here only segments move.

use std::sync::Arc;

use stateright::actor::{Envelope, Id, Timers};

use crate::quorum::actors::msg::{Msg, Storage, Timer};
use crate::quorum::actors::node::NodeState;
use crate::quorum::config::MAX_SEGMENTS;
use crate::quorum::state::{
    AckInfo, ControlState, Ghost, Membership, Pending, SegSet, SegState, WriterState, permute_set,
};
use crate::quorum::symmetry::canonical_order;

use super::{ActorState, Sys, in_flight, network_of};

/// A renaming of segment slots (`perm[old] = new`) and of AZs (`az[old] = new`).
struct Renaming {
    slots: usize,
    perm: [usize; MAX_SEGMENTS],
    az: [u8; MAX_SEGMENTS],
}

impl Renaming {
    fn slot(&self, i: usize) -> usize {
        if i < self.slots { self.perm[i] } else { i }
    }
    fn id(&self, id: Id) -> Id {
        Id::from(self.slot(usize::from(id)))
    }
    fn set(&self, s: SegSet) -> SegSet {
        permute_set(s, &self.perm[..self.slots])
    }
    /// `s` renamed, its view rebuilt by `project`.
    fn apply(
        &self,
        s: &ActorState,
        project: impl Fn(&ActorState) -> crate::quorum::state::QuorumState,
    ) -> ActorState {
        let mut out = ActorState {
            sys: self.sys(&s.sys),
            budget: s.budget,
            lost: self.set(s.lost),
            ghost: self.ghost(&s.ghost),
            view: s.view.clone(),
        };
        out.view = Arc::new(project(&out));
        out
    }
    fn ghost(&self, g: &Ghost) -> Ghost {
        let mut out = *g;
        for old in 0..self.slots {
            out.lost_held[self.perm[old]] = g.lost_held[old];
        }
        out
    }
    fn az(&self, a: u8) -> u8 {
        self.az.get(usize::from(a)).copied().unwrap_or(a)
    }
    fn u8_slot(&self, i: u8) -> u8 {
        self.slot(usize::from(i)) as u8
    }

    fn mem(&self, m: &Membership) -> Membership {
        let perm = &self.perm[..self.slots];
        let mut out = *m;
        out.cfg = m.cfg.permute(perm);
        out.prev = m.prev.permute(perm);
        if let Some(c) = out.change.as_mut() {
            c.f = self.u8_slot(c.f);
            c.g = self.u8_slot(c.g);
            c.heard = permute_set(c.heard, perm);
        }
        out
    }

    fn msg(&self, m: Msg) -> Msg {
        let perm = &self.perm[..self.slots];
        let joiner = |j: Option<(u8, bool)>| j.map(|(g, h)| (self.u8_slot(g), h));
        match m {
            Msg::Epoch { epoch, gossipers } => Msg::Epoch {
                epoch,
                gossipers: self.set(gossipers),
            },
            Msg::Join {
                az,
                epoch,
                gossipers,
                vol,
                truncs,
            } => Msg::Join {
                az: self.az(az),
                epoch,
                gossipers: self.set(gossipers),
                vol,
                truncs,
            },
            Msg::Config {
                epoch,
                cfg,
                joiner: j,
            } => Msg::Config {
                epoch,
                cfg: cfg.permute(perm),
                joiner: joiner(j),
            },
            Msg::Volume {
                truncs,
                fresh,
                epoch,
                cfg,
                joiner: j,
                lost,
            } => Msg::Volume {
                truncs,
                fresh,
                epoch,
                cfg: cfg.permute(perm),
                joiner: joiner(j),
                lost: self.set(lost),
            },
            Msg::Begin { f } => Msg::Begin { f: self.u8_slot(f) },
            other => other,
        }
    }

    fn timer(&self, t: Timer) -> Timer {
        match t {
            Timer::Resend { seg, lsn } => Timer::Resend {
                seg: self.u8_slot(seg),
                lsn,
            },
            Timer::Install { seg } => Timer::Install {
                seg: self.u8_slot(seg),
            },
            Timer::Gossip { to, lsn } => Timer::Gossip {
                to: self.u8_slot(to),
                lsn,
            },
            other => other,
        }
    }

    fn seg(&self, s: &SegState) -> SegState {
        let mut out = *s;
        if !out.spare {
            out.az = self.az(out.az);
        }
        out.gossipers = self.set(s.gossipers);
        out
    }

    fn writer(&self, w: &WriterState) -> WriterState {
        let mut out = *w;
        out.cfg = w.cfg.permute(&self.perm[..self.slots]);
        out.lost = self.set(w.lost);
        let mut acks = [AckInfo::default(); MAX_SEGMENTS];
        for (old, a) in w.acks.iter().enumerate().take(self.slots) {
            acks[self.slot(old)] = *a;
        }
        out.acks = acks;
        if let Pending::Read(mut r) = w.pending {
            r.got = self.set(r.got);
            r.counted = self.set(r.counted);
            out.pending = Pending::Read(r);
        }
        out
    }

    fn control(&self, c: &ControlState) -> ControlState {
        let mut out = *c;
        out.mem = self.mem(&c.mem);
        for old in 0..self.slots {
            let new = self.slot(old);
            out.reports[new] = c.reports[old];
            out.azs[new] = if c.azs[old] == u8::MAX {
                u8::MAX
            } else {
                self.az(c.azs[old])
            };
        }
        out.up = self.set(c.up);
        out.lost = self.set(c.lost);
        out.spares = self.set(c.spares);
        out
    }

    fn node(&self, n: &NodeState) -> NodeState {
        match n {
            NodeState::Segment(s) => NodeState::Segment(self.seg(s)),
            NodeState::Writer(w) => NodeState::Writer(Box::new(self.writer(w))),
            NodeState::Control(c) => NodeState::Control(self.control(c)),
            NodeState::Client => NodeState::Client,
        }
    }

    fn sys(&self, s: &Sys) -> Sys {
        let n = s.actor_states.len();
        let mut states = s.actor_states.clone();
        let mut timers = s.timers_set.clone();
        let mut crashed = s.crashed.clone();
        let mut storages = s.actor_storages.clone();
        for old in 0..n {
            let new = self.slot(old);
            states[new] = Arc::new(self.node(&s.actor_states[old]));
            let mut t = Timers::new();
            for x in s.timers_set[old].iter() {
                t.set(self.timer(*x));
            }
            timers[new] = t;
            crashed[new] = s.crashed[old];
            storages[new] =
                s.actor_storages[old].map(|Storage::Segment(x)| Storage::Segment(self.seg(&x)));
        }
        let envelopes = in_flight(&s.network)
            .into_iter()
            .map(|(e, n)| {
                let e = Envelope {
                    src: self.id(e.src),
                    dst: self.id(e.dst),
                    msg: self.msg(e.msg),
                };
                (e, n)
            })
            .collect();
        Sys {
            actor_states: states,
            network: network_of(envelopes),
            timers_set: timers,
            random_choices: s.random_choices.clone(),
            crashed,
            history: (),
            actor_storages: storages,
        }
    }
}

/// Everything about slot `i` that survives renaming, hashed: its state (AZ blanked), whether
/// it has crashed, what it saved, the writer's ack of it, the control plane's view of it, the
/// quorum sets and roles it holds, and the messages to and from it (other segments named only
/// as "a segment"). Slots with equal signatures are interchangeable in all but rare states,
/// where a tie broken by index costs some reduction, never soundness.
pub fn signature(s: &ActorState, i: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let slots = s.view.segs.len();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut seg = s.view.segs[i];
    seg.az = 0;
    seg.gossipers = seg.gossipers.count_ones() as SegSet;
    seg.hash(&mut h);
    s.sys.crashed[i].hash(&mut h);
    s.sys.actor_storages[i]
        .map(|Storage::Segment(x)| (x.core.recs, x.core.scl, x.core.mem_epoch, x.core.vol_epoch))
        .hash(&mut h);
    s.view.writer.acks[i].hash(&mut h);
    let c = &s.view.control;
    let bit = 1u16 << i;
    (
        c.reports[i],
        c.up & bit != 0,
        c.lost & bit != 0,
        s.lost & bit != 0,
    )
        .hash(&mut h);
    let m = &c.mem;
    let w = &s.view.writer;
    let roles = [
        m.cfg.sets[0],
        m.cfg.sets[1],
        m.prev.sets[0],
        m.prev.sets[1],
        w.cfg.sets[0],
        w.cfg.sets[1],
        w.lost,
    ]
    .map(|x| x & bit != 0);
    roles.hash(&mut h);
    m.change
        .map(|ch| (usize::from(ch.f) == i, usize::from(ch.g) == i))
        .hash(&mut h);
    let end = |id: Id| {
        let x = usize::from(id);
        if x < slots {
            if x == i { 0u8 } else { 1 }
        } else {
            2 + (x - slots) as u8
        }
    };
    let mut msgs: Vec<(u8, u8, u64, usize)> = in_flight(&s.sys.network)
        .into_iter()
        .filter(|(e, _)| usize::from(e.src) == i || usize::from(e.dst) == i)
        .map(|(e, n)| {
            let mut mh = std::collections::hash_map::DefaultHasher::new();
            abstract_msg(&e.msg).hash(&mut mh);
            (end(e.src), end(e.dst), mh.finish(), n)
        })
        .collect();
    msgs.sort_unstable();
    msgs.hash(&mut h);
    h.finish()
}

/// A message with its slot names replaced by counts (signatures must not depend on names).
fn abstract_msg(m: &Msg) -> Msg {
    let count = |x: SegSet| x.count_ones() as SegSet;
    match *m {
        Msg::Epoch { epoch, gossipers } => Msg::Epoch {
            epoch,
            gossipers: count(gossipers),
        },
        Msg::Join {
            az: _,
            epoch,
            gossipers,
            vol,
            truncs,
        } => Msg::Join {
            az: 0,
            epoch,
            gossipers: count(gossipers),
            vol,
            truncs,
        },
        other => other,
    }
}

/// The canonical representative of `s` (`s` itself when it already is one), with the fast
/// model's order computed on its view; `project` rebuilds the view of the renamed system.
pub fn canonical(
    azs: u8,
    s: ActorState,
    project: impl Fn(&ActorState) -> crate::quorum::state::QuorumState,
) -> ActorState {
    let n = s.view.segs.len();
    let sig = |i: usize| signature(&s, i);
    let (order, new_az) = canonical_order(azs, &s.view, Some(&sig));
    let identity = (0..n).all(|new| {
        let old = usize::from(order[new]);
        old == new && (s.view.segs[old].spare || s.view.segs[old].az == new_az[old])
    });
    if identity {
        return s;
    }
    let mut r = Renaming {
        slots: n,
        perm: [0; MAX_SEGMENTS],
        az: [u8::MAX; MAX_SEGMENTS],
    };
    for (new, &old) in order[..n].iter().enumerate() {
        r.perm[usize::from(old)] = new;
        let seg = &s.view.segs[usize::from(old)];
        if !seg.spare && usize::from(seg.az) < MAX_SEGMENTS {
            r.az[usize::from(seg.az)] = new_az[usize::from(old)];
        }
    }
    r.apply(&s, project)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};

    use stateright::Model;

    use super::*;
    use crate::checkable::Checkable;
    use crate::quorum::QuorumConfig;
    use crate::quorum::actor_model::QuorumActorModel;

    /// Rename the AZs of `s` by rotating them by `rot` (each AZ holds one slot here).
    fn rotated(m: &QuorumActorModel, s: &ActorState, rot: usize) -> ActorState {
        let n = s.view.segs.len();
        let mut r = Renaming {
            slots: n,
            perm: [0; MAX_SEGMENTS],
            az: [u8::MAX; MAX_SEGMENTS],
        };
        for i in 0..n {
            r.perm[i] = (i + rot) % n;
        }
        for a in 0..n {
            r.az[a] = ((a + rot) % n) as u8;
        }
        r.apply(s, |x| m.project(x))
    }

    /// On the first states of the `actors` and `actors-disk` presets (3 segments, one per AZ;
    /// the second with a lost disk whose records the history keeps): a representative is its
    /// own representative, and renaming the AZs almost never changes it (a tie the signatures
    /// cannot break costs reduction, not soundness: both representatives are renamings of the
    /// same state).
    #[test]
    fn representatives_are_canonical() {
        for preset in ["actors", "actors-disk"] {
            canonical_on(preset);
        }
    }

    fn canonical_on(preset: &str) {
        let mut cfg = QuorumConfig::preset(preset).unwrap();
        cfg.set("symmetry", "false").unwrap();
        let m = QuorumActorModel::new(cfg);
        let mut seen = HashSet::new();
        let mut queue: VecDeque<ActorState> = m.init_states().into();
        let mut actions = Vec::new();
        let (mut renamed, mut differ, mut kept) = (0, 0, 0);
        while let Some(s) = queue.pop_front() {
            if seen.len() >= 20_000 || !seen.insert(s.clone()) {
                continue;
            }
            kept += usize::from(s.ghost.lost_held.iter().any(|&h| h != 0));
            let c = m.canonical(s.clone());
            assert_eq!(m.canonical(c.clone()), c, "not idempotent: {s:?}");
            for rot in 1..3 {
                let other = rotated(&m, &s, rot);
                renamed += usize::from(other != s);
                differ += usize::from(m.canonical(other) != c);
            }
            m.actions(&s, &mut actions);
            for a in actions.drain(..) {
                if let Some(n) = m.next_state(&s, a) {
                    queue.push_back(n);
                }
            }
        }
        assert!(renamed > 10_000, "{preset}: renamings tried: {renamed}");
        assert!(
            differ * 100 < renamed,
            "{preset}: {differ} of {renamed} renamings change the representative"
        );
        if preset == "actors-disk" {
            assert!(kept > 0, "no state keeps what a lost disk held");
        }
    }
}
