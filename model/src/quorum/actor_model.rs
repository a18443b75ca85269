//! The actor model of the storage quorum: the same actors as the fast composition
//! ([`super::step`]), composed by stateright's `ActorModel` with an explicit network.
//!
//! Every message is an envelope in flight that any later step may deliver, in any order,
//! or (with `loss`) drop; with `duplicate` a delivered message stays in flight and may arrive
//! again. Every periodic timer of every running actor may fire at any step. Nothing is atomic
//! beyond one handler: a write reaches a segment, the segment's ack reaches the writer and the
//! control plane, and the writer's acknowledgement reaches the client, each a step of its own.
//! This is the semantics a run of the implementation is validated against.
//!
//! On top of stateright's `ActorModel` come what it lacks, as in the fast composition:
//!
//! * **fault budgets**: stateright's `max_crashes` bounds only crashes at the same time, so a
//!   writer that crashes and recovers again and again would never end; here segment crashes,
//!   disk losses, AZ outages and writer crashes each have a budget, and a restart is free;
//! * **environment inputs**: the control plane told to replace a member, and the client's
//!   requests, each delivered at once to the actor that takes them;
//! * **the history** the properties read, recorded by the same observer
//!   ([`super::actors::observer`]) after every handled input;
//! * **failed disks**: a lost disk's node never restarts, and the storage service reports it
//!   (`Lost`) to the writer and the control plane.
//!
//! Symmetry reduction renames segments within an AZ and AZs, as in the fast model
//! ([`rename`]).
//!
//! The volume starts settled: the initial state is the fast composition's (every actor started
//! and every message of the start delivered), with every timer armed and nothing in flight.
//! The properties are the fast model's, judged on the system seen as a [`QuorumState`]
//! ([`ActorState::view`]); the `eventually` ones are not judged here (a timer is always armed,
//! so no state is quiet).

pub mod rename;
pub mod replay;
#[cfg(test)]
mod tests;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stateright::actor::{
    ActorModel, ActorModelAction, ActorModelState, Envelope, Id, LossyNetwork, Network,
};
use stateright::{Model, Property as SrProperty};

use super::actors::msg::{Ids, Msg, Request, Storage, Timer};
use super::actors::node::{Node, NodeState};
use super::actors::observer::{self, Before, Input};
use super::actors::{segment, writer};
use super::config::QuorumConfig;
use super::model::{ROWS, describe_change};
use super::properties::seg_name;
use super::state::{Budget, Ghost, Net, QuorumState, SegSet, SegState, WriteMsg};
use super::step;
use crate::actor::Shim;
use crate::checkable::{Checkable, Kind, Property};

/// The actors, as stateright composes them.
pub type Actors = ActorModel<Shim<Node>, (), ()>;
/// stateright's state of the actors: their states, the network, timers, crashes, storage.
pub type Sys = ActorModelState<Shim<Node>, ()>;

/// The storage quorum as an actor model.
#[derive(Clone)]
pub struct QuorumActorModel {
    /// Its parameters (and mutant).
    pub cfg: QuorumConfig,
    actors: Actors,
    ids: Ids,
    /// Whether the bounds of [`QuorumActorModel::may_fire`] apply (they do when checking; a
    /// run of the implementation is validated without them).
    bounded: bool,
    /// Whether a fault may hit any segment's node, not only a placed member's
    /// ([`QuorumActorModel::for_volumes`]).
    anywhere: bool,
}

/// One state of the actor model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorState {
    /// The actors, the network, the timers, who has crashed, what each saved.
    pub sys: Sys,
    /// Fault budgets left.
    pub budget: Budget,
    /// Segments whose disk is gone.
    pub lost: SegSet,
    /// The history, recorded by the observer.
    pub ghost: Ghost,
    /// The system seen as the fast model's state, which the properties read (derived from the
    /// fields above; not hashed).
    pub view: Arc<QuorumState>,
}

/// One message in flight, as traces show it.
#[derive(Serialize)]
struct InFlight {
    src: u8,
    dst: u8,
    msg: Msg,
    copies: usize,
}

/// As traces show it: every actor (as the fast model's state shows them), who has crashed,
/// and the messages in flight.
impl Serialize for ActorState {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let flight: Vec<InFlight> = in_flight(&self.sys.network)
            .into_iter()
            .map(|(e, copies)| InFlight {
                src: ix(e.src),
                dst: ix(e.dst),
                msg: e.msg,
                copies,
            })
            .collect();
        let mut out = ser.serialize_struct("ActorState", 4)?;
        out.serialize_field("system", &*self.view)?;
        out.serialize_field("crashed", &self.sys.crashed)?;
        out.serialize_field("in_flight", &flight)?;
        out.serialize_field("lost", &self.lost)?;
        out.end()
    }
}

impl Hash for ActorState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.sys.hash(h);
        self.budget.hash(h);
        self.lost.hash(h);
        self.ghost.hash(h);
    }
}

impl std::ops::Deref for ActorState {
    type Target = QuorumState;
    fn deref(&self) -> &QuorumState {
        &self.view
    }
}

/// One step of the actor model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ActorAction {
    /// The network delivers `msg` from actor `src` to actor `dst`.
    Deliver {
        /// Sender.
        src: u8,
        /// Receiver.
        dst: u8,
        /// The message.
        msg: Msg,
    },
    /// The network delivers `msg` from `src` to `dst` a second time later (a copy).
    Duplicate {
        /// Sender.
        src: u8,
        /// Receiver.
        dst: u8,
        /// The message.
        msg: Msg,
    },
    /// The network loses `msg` from `src` to `dst`.
    Drop {
        /// Sender.
        src: u8,
        /// Receiver.
        dst: u8,
        /// The message.
        msg: Msg,
    },
    /// A timer of `actor` fires.
    Timeout {
        /// The actor.
        actor: u8,
        /// The timer.
        timer: Timer,
    },
    /// Segment `seg` crashes (its storage survives).
    Crash {
        /// Slot.
        seg: u8,
    },
    /// Segment `seg` restarts from its storage.
    Restart {
        /// Slot.
        seg: u8,
    },
    /// Segment `seg` loses its disk for good.
    DiskLoss {
        /// Slot.
        seg: u8,
    },
    /// Every segment of AZ `az` crashes at once.
    AzOutage {
        /// The AZ.
        az: u8,
    },
    /// The writer crashes.
    WriterCrash,
    /// A new writer incarnation starts.
    WriterRestart,
    /// The control plane is told to replace member `f`.
    Begin {
        /// The member.
        f: u8,
    },
    /// The application asks the client for something.
    Request(Request),
}

impl ActorAction {
    /// Faults and the environment's inputs (not protocol progress).
    pub fn is_environment(&self) -> bool {
        !matches!(
            self,
            ActorAction::Deliver { .. } | ActorAction::Timeout { .. }
        )
    }
}

fn id(i: u8) -> Id {
    Id::from(usize::from(i))
}

fn ix(i: Id) -> u8 {
    usize::from(i) as u8
}

impl QuorumActorModel {
    /// The actor model of `cfg` (validate it first).
    pub fn new(cfg: QuorumConfig) -> Self {
        let actors = ActorModel::new((), ())
            .actors(Node::all(&cfg).into_iter().map(Shim))
            .init_network(Network::new_unordered_nonduplicating([]))
            .lossy_network(LossyNetwork::No);
        let ids = Ids { slots: cfg.slots() };
        QuorumActorModel {
            cfg,
            actors,
            ids,
            bounded: true,
            anywhere: false,
        }
    }

    /// The actor model of `cfg` without the bounds on retransmissions and refreshes: the
    /// semantics a run of the implementation is validated against (its timers fire when they
    /// fire).
    pub fn unbounded(cfg: QuorumConfig) -> Self {
        QuorumActorModel {
            bounded: false,
            ..Self::new(cfg)
        }
    }

    /// [`QuorumActorModel::unbounded`], whose faults may also hit any segment's node, not only
    /// a placed member's: what one protection group of a volume is validated against. A node
    /// of a volume hosts a segment of every PG, a spare in one and a member in another, and its
    /// crash or lost disk takes them all (a spare's crash loses nothing it had; a retired copy
    /// restarts retired; a lost spare's disk reports `Lost` as a member's does).
    pub fn for_volumes(cfg: QuorumConfig) -> Self {
        QuorumActorModel {
            anywhere: true,
            ..Self::unbounded(cfg)
        }
    }

    /// The system after the fast composition's start: every actor's state, every timer armed,
    /// every segment's storage saved, nothing in flight.
    pub fn settled(&self) -> ActorState {
        let fast = step::init(&self.cfg);
        let nodes = Node::all(&self.cfg);
        let mut states: Vec<Arc<NodeState>> = Vec::with_capacity(nodes.len());
        let mut storages = Vec::with_capacity(nodes.len());
        for seg in &fast.segs {
            states.push(Arc::new(NodeState::Segment(*seg)));
            storages.push((!seg.spare).then(|| Storage::Segment(segment::durable(seg))));
        }
        states.push(Arc::new(NodeState::Writer(Box::new(fast.writer))));
        states.push(Arc::new(NodeState::Control(fast.control)));
        states.push(Arc::new(NodeState::Client));
        storages.extend([None, None, None]);
        let timers_set = nodes
            .iter()
            .map(|n| {
                let mut t = stateright::actor::Timers::new();
                for timer in crate::actor::Role::timers(n) {
                    t.set(timer);
                }
                t
            })
            .collect();
        let sys = Sys {
            actor_states: states,
            network: self.actors.init_network.clone(),
            timers_set,
            random_choices: vec![Default::default(); nodes.len()],
            crashed: vec![false; nodes.len()],
            history: (),
            actor_storages: storages,
        };
        let mut s = ActorState {
            sys,
            budget: fast.budget,
            lost: 0,
            ghost: fast.ghost,
            view: Arc::new(fast),
        };
        s.view = Arc::new(self.project(&s));
        s
    }

    /// The system seen as the fast model's state.
    pub fn project(&self, s: &ActorState) -> QuorumState {
        let ids = self.ids;
        let crashed = |i: usize| s.sys.crashed[i];
        let segs = (0..ids.slots)
            .map(|i| {
                let NodeState::Segment(x) = &*s.sys.actor_states[i] else {
                    unreachable!("slot {i} is a segment");
                };
                let mut x: SegState = *x;
                x.lost |= s.lost & (1 << i) != 0;
                x.up = !crashed(i) && !x.spare && !x.lost;
                if !x.up {
                    x = segment::durable(&x);
                }
                x
            })
            .collect();
        let w = usize::from(ids.writer());
        let NodeState::Writer(wr) = &*s.sys.actor_states[w] else {
            unreachable!("the writer");
        };
        let writer = if crashed(w) {
            writer::crashed(wr)
        } else {
            **wr
        };
        let NodeState::Control(control) = &*s.sys.actor_states[usize::from(ids.control())] else {
            unreachable!("the control plane");
        };
        let mut msgs: Vec<WriteMsg> = Vec::new();
        for (e, n) in in_flight(&s.sys.network) {
            if let Msg::Write { lsn, vol, mem, cpl } = e.msg {
                let m = WriteMsg {
                    dst: ix(e.dst),
                    lsn,
                    vol_epoch: vol,
                    mem_epoch: mem,
                    cpl,
                };
                msgs.extend(std::iter::repeat_n(m, n));
            }
        }
        msgs.sort_unstable();
        QuorumState {
            segs,
            writer,
            control: *control,
            net: Net::Explicit { msgs },
            budget: s.budget,
            ghost: s.ghost,
        }
    }

    /// What the observer needs of `actor`'s state in `s` (as the system shows it: a crashed
    /// actor's state is what survived its crash).
    fn before(&self, s: &ActorState, actor: usize) -> Before {
        let ids = self.ids;
        let v = &s.view;
        if actor < ids.slots {
            Before::segment(actor, &v.segs[actor])
        } else if actor == usize::from(ids.writer()) {
            Before::writer(&v.writer)
        } else if actor == usize::from(ids.control()) {
            Before::control(&v.control)
        } else {
            Before::Client
        }
    }

    /// Let stateright take `action`, then record the history of what `actor` handled.
    fn handle(
        &self,
        s: &ActorState,
        actor: usize,
        action: ActorModelAction<Msg, Timer, ()>,
    ) -> Option<ActorState> {
        let input_msg;
        let input_timer;
        let delivered = match &action {
            ActorModelAction::Deliver { src, dst, msg } => Some(Envelope {
                src: *src,
                dst: *dst,
                msg: *msg,
            }),
            _ => None,
        };
        let input = match &action {
            ActorModelAction::Deliver { src, msg, .. } => {
                input_msg = *msg;
                Input::Msg {
                    src: *src,
                    msg: &input_msg,
                }
            }
            ActorModelAction::Timeout(_, t) => {
                input_timer = *t;
                Input::Timer(&input_timer)
            }
            _ => Input::Start,
        };
        let before = self.before(s, actor);
        let sys = self.actors.next_state(&s.sys, action)?;
        let sent = sent(&s.sys.network, &sys.network, delivered);
        let mut next = ActorState {
            sys,
            budget: s.budget,
            lost: s.lost,
            ghost: s.ghost,
            view: s.view.clone(),
        };
        let view = self.project(&next);
        let mut ghost = next.ghost;
        observer::observe(&self.cfg, &mut ghost, before, input, sent.iter(), &view);
        next.ghost = ghost;
        next.view = Arc::new(QuorumState { ghost, ..view });
        Some(next)
    }

    /// `s` with envelopes added to the network (stateright's `send` is private to it).
    fn with_sent(&self, s: &Sys, extra: &[Envelope<Msg>]) -> Network<Msg> {
        let mut all = in_flight(&s.network);
        all.extend(extra.iter().map(|e| (*e, 1)));
        network_of(all)
    }

    /// An input from the environment, delivered at once to `dst`.
    fn input(&self, s: &ActorState, dst: Id, msg: Msg) -> Option<ActorState> {
        let env = Envelope { src: dst, dst, msg };
        let mut with = s.clone();
        with.sys.network = self.with_sent(&s.sys, &[env]);
        let action = ActorModelAction::Deliver { src: dst, dst, msg };
        self.handle(&with, usize::from(dst), action)
    }

    /// Whether `timer` of `actor` may fire now. Two bounds keep the network finite and the
    /// space small, neither hiding a behaviour:
    ///
    /// * a retransmission (a record resent or gossiped, ranges installed) waits until the
    ///   previous copy has arrived or been lost, as a timeout longer than a delivery would;
    ///   without this, copies would pile up in flight without end;
    /// * the writer asks for the configuration only when the control plane has a newer one: a
    ///   reply carrying the writer's own epoch is ignored whenever it arrives, so such a round
    ///   trip changes nothing but what is in flight, which no property reads.
    fn may_fire(&self, s: &ActorState, actor: Id, timer: &Timer) -> bool {
        if !self.bounded {
            return true;
        }
        let copy_in_flight = |dst: Id, same: &dyn Fn(&Msg) -> bool| {
            s.sys
                .network
                .iter_deliverable()
                .any(|e| e.src == actor && e.dst == dst && same(e.msg))
        };
        match *timer {
            Timer::Resend { seg, lsn } => !copy_in_flight(
                id(seg),
                &|m| matches!(*m, Msg::Write { lsn: l, .. } if l == lsn),
            ),
            Timer::Gossip { to, lsn } => !copy_in_flight(
                id(to),
                &|m| matches!(*m, Msg::Gossip { lsn: l, .. } if l == lsn),
            ),
            Timer::Install { seg } => {
                !copy_in_flight(id(seg), &|m| matches!(*m, Msg::Install { .. }))
            }
            Timer::Refresh => s.view.control.mem.epoch > s.view.writer.mem_epoch,
            _ => true,
        }
    }

    /// `s` with its view rebuilt.
    fn viewed(&self, mut s: ActorState) -> ActorState {
        s.view = Arc::new(self.project(&s));
        s
    }

    /// Segments `slots` crash: they stop, their timers with them.
    fn crash(&self, s: &ActorState, slots: &[usize]) -> ActorState {
        let mut n = s.clone();
        for &i in slots {
            n.sys.crashed[i] = true;
            n.sys.timers_set[i].cancel_all();
        }
        n.view = Arc::new(self.project(&n));
        n
    }
}

/// Every envelope in flight with its number of copies, in a stable order. (stateright's
/// `iter_all` yields a message sent `n > 1` times `n + 1` times, so it is not used.)
pub fn in_flight(net: &Network<Msg>) -> Vec<(Envelope<Msg>, usize)> {
    let mut out: Vec<(Envelope<Msg>, usize)> = match net {
        Network::UnorderedNonDuplicating(map) => map.iter().map(|(e, n)| (*e, *n)).collect(),
        Network::UnorderedDuplicating(set, _) => set.iter().map(|e| (*e, 1)).collect(),
        Network::Ordered(map) => map
            .iter()
            .flat_map(|(&(src, dst), q)| q.iter().map(move |&msg| (Envelope { src, dst, msg }, 1)))
            .collect(),
    };
    out.sort_unstable();
    out
}

/// A network holding `envelopes` (with their numbers of copies).
pub fn network_of(envelopes: Vec<(Envelope<Msg>, usize)>) -> Network<Msg> {
    Network::new_unordered_nonduplicating(
        envelopes
            .into_iter()
            .flat_map(|(e, n)| std::iter::repeat_n(e, n)),
    )
}

/// The messages a step sent: the copies in flight after it that were not before, less the
/// one it delivered.
fn sent(before: &Network<Msg>, after: &Network<Msg>, delivered: Option<Envelope<Msg>>) -> Vec<Msg> {
    sent_envelopes(before, after, delivered)
        .into_iter()
        .map(|e| e.msg)
        .collect()
}

/// [`sent`], with senders and receivers.
pub fn sent_envelopes(
    before: &Network<Msg>,
    after: &Network<Msg>,
    delivered: Option<Envelope<Msg>>,
) -> Vec<Envelope<Msg>> {
    let was = in_flight(before);
    let count = |e: &Envelope<Msg>| {
        let n = was.iter().find(|(x, _)| x == e).map_or(0, |(_, n)| *n);
        n - usize::from(delivered.as_ref() == Some(e) && n > 0)
    };
    let mut out = Vec::new();
    for (e, n) in in_flight(after) {
        out.extend(std::iter::repeat_n(e, n.saturating_sub(count(&e))));
    }
    out
}

impl Model for QuorumActorModel {
    type State = ActorState;
    type Action = ActorAction;

    fn init_states(&self) -> Vec<ActorState> {
        vec![self.settled()]
    }

    fn actions(&self, s: &ActorState, out: &mut Vec<ActorAction>) {
        let mut inner = Vec::new();
        self.actors.actions(&s.sys, &mut inner);
        for a in inner {
            match a {
                ActorModelAction::Deliver { src, dst, msg } => out.push(ActorAction::Deliver {
                    src: ix(src),
                    dst: ix(dst),
                    msg,
                }),
                ActorModelAction::Timeout(actor, timer) if self.may_fire(s, actor, &timer) => out
                    .push(ActorAction::Timeout {
                        actor: ix(actor),
                        timer,
                    }),
                _ => {}
            }
        }
        if s.budget.loss > 0 || s.budget.duplicate > 0 {
            for (e, _) in in_flight(&s.sys.network) {
                let (src, dst, msg) = (ix(e.src), ix(e.dst), e.msg);
                if s.budget.loss > 0 {
                    out.push(ActorAction::Drop { src, dst, msg });
                }
                if s.budget.duplicate > 0 {
                    out.push(ActorAction::Duplicate { src, dst, msg });
                }
            }
        }
        let (cfg, ids, v) = (&self.cfg, self.ids, &s.view);
        for (i, x) in v.segs.iter().enumerate() {
            let seg = i as u8;
            if x.spare || x.lost {
                continue;
            }
            if x.up && s.budget.crashes > 0 {
                out.push(ActorAction::Crash { seg });
            }
            if !x.up {
                out.push(ActorAction::Restart { seg });
            }
            if s.budget.disk_losses > 0 && v.control.mem.cfg.members() & (1 << i) != 0 {
                out.push(ActorAction::DiskLoss { seg });
            }
        }
        if s.budget.az_outages > 0 {
            out.extend((0..cfg.azs).map(|az| ActorAction::AzOutage { az }));
        }
        let w = usize::from(ids.writer());
        if s.sys.crashed[w] {
            out.push(ActorAction::WriterRestart);
        } else if s.budget.writer_crashes > 0 {
            out.push(ActorAction::WriterCrash);
        }
        if s.budget.member_changes > 0 {
            for f in super::state::slots_of(v.control.mem.cfg.members()) {
                out.push(ActorAction::Begin { f: f as u8 });
            }
        }
        if cfg.reads {
            out.push(ActorAction::Request(Request::OpenView));
            out.push(ActorAction::Request(Request::CloseView));
        }
    }

    fn next_state(&self, s: &ActorState, action: ActorAction) -> Option<ActorState> {
        let ids = self.ids;
        let slots = ids.slots;
        let in_flight = |src: u8, dst: u8, msg: &Msg| {
            s.sys
                .network
                .iter_deliverable()
                .any(|e| ix(e.src) == src && ix(e.dst) == dst && e.msg == msg)
        };
        match action {
            ActorAction::Deliver { src, dst, msg } => {
                if usize::from(dst) >= ids.count() || !in_flight(src, dst, &msg) {
                    return None;
                }
                let a = ActorModelAction::Deliver {
                    src: id(src),
                    dst: id(dst),
                    msg,
                };
                self.handle(s, usize::from(dst), a)
            }
            ActorAction::Drop { src, dst, msg } => {
                if s.budget.loss == 0 || !in_flight(src, dst, &msg) {
                    return None;
                }
                let env = Envelope {
                    src: id(src),
                    dst: id(dst),
                    msg,
                };
                let sys = self
                    .actors
                    .next_state(&s.sys, ActorModelAction::Drop(env))?;
                let mut n = s.clone();
                n.sys = sys;
                n.budget.loss -= 1;
                n.view = Arc::new(self.project(&n));
                Some(n)
            }
            ActorAction::Duplicate { src, dst, msg } => {
                // A run of the implementation is replayed without the budget: its network
                // may deliver any datagram twice.
                if (self.bounded && s.budget.duplicate == 0) || !in_flight(src, dst, &msg) {
                    return None;
                }
                let env = Envelope {
                    src: id(src),
                    dst: id(dst),
                    msg,
                };
                let mut n = s.clone();
                n.sys.network = self.with_sent(&s.sys, &[env]);
                n.budget.duplicate = n.budget.duplicate.saturating_sub(1);
                n.view = Arc::new(self.project(&n));
                Some(n)
            }
            ActorAction::Timeout { actor, timer } => {
                let a = usize::from(actor);
                let armed = a < ids.count() && s.sys.timers_set[a].iter().any(|t| *t == timer);
                if !armed || !self.may_fire(s, id(actor), &timer) {
                    return None;
                }
                self.handle(s, a, ActorModelAction::Timeout(id(actor), timer))
            }
            ActorAction::Crash { seg } => {
                let i = usize::from(seg);
                let x = s.view.segs.get(i)?;
                let runs = !s.sys.crashed[i] && s.lost & (1 << i) == 0;
                if s.budget.crashes == 0 || !(x.up || self.anywhere && runs) {
                    return None;
                }
                let mut n = self.crash(s, &[i]);
                n.budget.crashes -= 1;
                Some(self.viewed(n))
            }
            ActorAction::Restart { seg } => {
                let i = usize::from(seg);
                let x = s.view.segs.get(i)?;
                // A retired copy (lost, its disk still there) comes back retired.
                let gone = if self.bounded {
                    x.lost
                } else {
                    s.lost & (1 << i) != 0
                };
                if i >= slots || !s.sys.crashed[i] || gone {
                    return None;
                }
                self.handle(s, i, ActorModelAction::Recover(id(seg)))
            }
            ActorAction::DiskLoss { seg } => {
                let i = usize::from(seg);
                let x = s.view.segs.get(i)?;
                let member = s.view.control.mem.cfg.members() & (1 << i) != 0;
                let placed = member && !x.spare && !x.lost;
                if s.budget.disk_losses == 0 || s.lost & (1 << i) != 0 || self.bounded && !placed {
                    return None;
                }
                let mut n = self.crash(s, &[i]);
                observer::disk_lost(&mut n.ghost, i, &s.view);
                let NodeState::Segment(old) = &*n.sys.actor_states[i] else {
                    return None;
                };
                let mut erased = segment::durable(old);
                erased.lost = true;
                erased.up = false;
                erased.recs = Default::default();
                erased.scl = 0;
                erased.cpls = 0;
                n.sys.actor_states[i] = Arc::new(NodeState::Segment(erased));
                n.sys.actor_storages[i] = Some(Storage::Segment(erased));
                n.lost |= 1 << i;
                n.budget.disk_losses -= 1;
                // The storage service reports the failed disk.
                let reports = [ids.writer(), ids.control()].map(|dst| Envelope {
                    src: id(seg),
                    dst,
                    msg: Msg::Lost,
                });
                n.sys.network = self.with_sent(&n.sys, &reports);
                n.view = Arc::new(self.project(&n));
                Some(n)
            }
            ActorAction::AzOutage { az } => {
                let hit: Vec<usize> = (0..slots)
                    .filter(|&i| {
                        let x = &s.view.segs[i];
                        !x.spare && x.az == az && x.up
                    })
                    .collect();
                if s.budget.az_outages == 0 || hit.is_empty() {
                    return None;
                }
                let mut n = self.crash(s, &hit);
                n.budget.az_outages -= 1;
                Some(self.viewed(n))
            }
            ActorAction::WriterCrash => {
                let w = usize::from(ids.writer());
                if s.budget.writer_crashes == 0 || s.sys.crashed[w] {
                    return None;
                }
                let mut n = s.clone();
                n.sys.crashed[w] = true;
                n.sys.timers_set[w].cancel_all();
                n.budget.writer_crashes -= 1;
                n.view = Arc::new(self.project(&n));
                Some(n)
            }
            ActorAction::WriterRestart => {
                let w = usize::from(ids.writer());
                if !s.sys.crashed[w] {
                    return None;
                }
                self.handle(s, w, ActorModelAction::Recover(ids.writer()))
            }
            ActorAction::Begin { f } => {
                if s.budget.member_changes == 0 || s.view.control.mem.change.is_some() {
                    return None;
                }
                let mut n = self.input(s, ids.control(), Msg::Begin { f })?;
                n.view.control.mem.change?;
                n.budget.member_changes -= 1;
                Some(self.viewed(n))
            }
            ActorAction::Request(r) => {
                if !self.cfg.reads {
                    return None;
                }
                self.input(s, ids.client(), Msg::Request(r))
            }
        }
    }

    fn format_action(&self, action: &ActorAction) -> String {
        format!("{action:?}")
    }

    fn properties(&self) -> Vec<SrProperty<Self>> {
        crate::table::stateright_properties(self)
    }
}

crate::table::property_shims!(QuorumActorModel, ActorState, ROWS; 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);

impl Checkable for QuorumActorModel {
    /// The fast model's properties but the `eventually` ones (no state is quiet: a timer is
    /// always armed).
    fn props(&self) -> Vec<Property<Self>> {
        ROWS.iter()
            .enumerate()
            .filter(|(_, r)| (r.applies)(&self.cfg) && r.kind != Kind::Eventually)
            .map(|(i, r)| Property {
                name: r.name,
                spec_id: r.spec_id,
                kind: r.kind,
                condition: CONDITIONS[i],
                explain: EXPLAINS[i],
                doc: r.doc,
            })
            .collect()
    }

    fn is_fault(&self, action: &ActorAction) -> bool {
        action.is_environment()
    }

    fn symmetry(&self) -> bool {
        self.cfg.symmetry
    }

    fn representative(&self, state: &ActorState) -> ActorState {
        self.canonical(state.clone())
    }

    fn canonical(&self, state: ActorState) -> ActorState {
        rename::canonical(self.cfg.azs, state, |s| self.project(s))
    }

    fn describe_action(&self, _s: &ActorState, a: &ActorAction) -> String {
        let name = |i: u8| self.actor_name(i);
        match a {
            ActorAction::Deliver { src, dst, msg } => {
                format!("{}: receive {msg:?} from {}", name(*dst), name(*src))
            }
            ActorAction::Drop { src, dst, msg } => {
                format!(
                    "network: lose {msg:?} from {} to {}",
                    name(*src),
                    name(*dst)
                )
            }
            ActorAction::Duplicate { src, dst, msg } => {
                format!(
                    "network: duplicate {msg:?} from {} to {}",
                    name(*src),
                    name(*dst)
                )
            }
            ActorAction::Timeout { actor, timer } => format!("{}: timer {timer:?}", name(*actor)),
            ActorAction::Crash { seg } => format!("fault: {} crashes", name(*seg)),
            ActorAction::Restart { seg } => format!("fault: {} restarts", name(*seg)),
            ActorAction::DiskLoss { seg } => format!("fault: {} loses its disk", name(*seg)),
            ActorAction::AzOutage { az } => {
                format!("fault: AZ {} goes down", (b'A' + az) as char)
            }
            ActorAction::WriterCrash => "fault: the writer crashes".into(),
            ActorAction::WriterRestart => "fault: a new writer incarnation starts".into(),
            ActorAction::Begin { f } => {
                format!("control plane: told to replace {}", name(*f))
            }
            ActorAction::Request(r) => format!("client: asked to {r:?}"),
        }
    }

    fn describe_change(&self, before: &ActorState, after: &ActorState) -> Vec<String> {
        let mut out = describe_change(&self.cfg, &before.view, &after.view);
        // The view counts only records in flight; say how many messages of any kind are.
        out.retain(|l| !l.ends_with("messages in flight"));
        let (b, a) = (before.sys.network.len(), after.sys.network.len());
        if a != b {
            out.push(format!("{a} messages in flight"));
        }
        out
    }

    fn lifelines(&self, _s: &ActorState, a: &ActorAction) -> (String, Option<String>) {
        match a {
            ActorAction::Deliver { src, dst, .. } => {
                (self.actor_name(*src), Some(self.actor_name(*dst)))
            }
            other => (
                crate::checkable::actor_of(&self.describe_action(_s, other)),
                None,
            ),
        }
    }
}

impl QuorumActorModel {
    /// An actor's name in traces: `A1`, `G1`, `writer`, `control plane`, `client`.
    pub fn actor_name(&self, i: u8) -> String {
        let ids = self.ids;
        let i = usize::from(i);
        if i < ids.slots {
            seg_name(&self.cfg, i)
        } else if i == usize::from(ids.writer()) {
            "writer".into()
        } else if i == usize::from(ids.control()) {
            "control plane".into()
        } else if i == usize::from(ids.client()) {
            "client".into()
        } else {
            format!("actor {i}")
        }
    }
}
