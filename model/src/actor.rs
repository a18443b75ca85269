//! # Actors: one state machine per node
//!
//! Every role of a protocol (a storage segment, the writer, the control plane, the client) is
//! one sans-IO state machine. It starts from what survived its last crash ([`Role::on_start`]
//! with its storage), and from then on it only reacts to inputs: a message from a peer
//! ([`Role::on_msg`]) or one of its timers firing ([`Role::on_timeout`]). It answers by writing
//! effects to a sink ([`Effects`]): messages to send, and the storage to save. A save must be
//! durable before any message the same handler sends leaves the node: that is what lets a
//! segment acknowledge a record it has only just stored.
//!
//! A handler reads no clock, does no I/O and draws no random number, so a protocol decision is
//! written once, in a handler or in a pure function a handler calls. Three things run the
//! handlers:
//!
//! * the **fast composition** of each protocol's checked model: one input to one actor (a
//!   delivery, a timer, a crash or restart, a fault, a client request), then every message it
//!   causes delivered at once, in a fixed order, each by its receiver's handler;
//! * the **actor model**, a stateright `ActorModel`: messages in an explicit network that may
//!   reorder, lose or duplicate them, and every interleaving explored;
//! * the **runtime** of `quorate-impl`: sockets, clocks and disks.
//!
//! Timers are *periodic*: a role names its timers once ([`Role::timers`]) and each one keeps
//! firing for as long as the actor runs; a handler decides from its state whether a firing does
//! anything. So no composition needs to track which timers are armed, and the fast composition
//! can offer every timer as an input at every step.
//!
//! [`Out`] is stateright's own command buffer seen as a sink, so the stateright `Actor` of a
//! protocol is a thin shim over the same handlers.

use std::fmt::Debug;
use std::hash::Hash;

pub mod volume;

pub use stateright::actor::Id;
use stateright::actor::{Actor, Out};

/// Where a handler writes what it does: messages to send and storage to save.
pub trait Effects<M, S> {
    /// Send `msg` to actor `dst`.
    fn send(&mut self, dst: Id, msg: M);
    /// Make `storage` what survives this actor's next crash. It is durable before any message
    /// sent by the same handler leaves the node.
    fn save(&mut self, storage: S);
}

impl<A: Actor> Effects<A::Msg, A::Storage> for Out<A> {
    fn send(&mut self, dst: Id, msg: A::Msg) {
        Out::send(self, dst, msg);
    }
    fn save(&mut self, storage: A::Storage) {
        Out::save(self, storage);
    }
}

/// A sink that keeps only the messages, for compositions that hold the storage as part of the
/// actor's state (the fast composition: a segment's state is its storage).
#[derive(Debug)]
pub struct Sends<M> {
    /// `(destination, message)` in the order the handler sent them.
    pub msgs: Vec<(Id, M)>,
}

impl<M> Default for Sends<M> {
    fn default() -> Self {
        Sends { msgs: Vec::new() }
    }
}

impl<M, S> Effects<M, S> for Sends<M> {
    fn send(&mut self, dst: Id, msg: M) {
        self.msgs.push((dst, msg));
    }
    fn save(&mut self, _storage: S) {}
}

/// A sink that keeps everything, in order: what the runtime and the trace validator compare.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect<M, S> {
    /// A message to an actor.
    Send(Id, M),
    /// Storage to make durable.
    Save(S),
}

impl<M, S> Effects<M, S> for Vec<Effect<M, S>> {
    fn send(&mut self, dst: Id, msg: M) {
        self.push(Effect::Send(dst, msg));
    }
    fn save(&mut self, storage: S) {
        self.push(Effect::Save(storage));
    }
}

/// One role of a protocol as a sans-IO state machine. All roles of a protocol share its
/// message, timer and storage types; each has a state type of its own.
pub trait Role {
    /// What actors send each other.
    type Msg: Clone + Debug + Eq + Hash + Ord;
    /// The names of timers.
    type Timer: Clone + Debug + Eq + Hash + Ord;
    /// What survives a crash.
    type Storage: Clone + Debug + PartialEq + Hash;
    /// The actor's whole state.
    type State: Clone + Debug + PartialEq + Hash;

    /// The periodic timers of this actor: each fires again and again while it runs.
    fn timers(&self) -> Vec<Self::Timer>;

    /// Start (or restart after a crash) from `storage`, the last one saved (`None` at birth).
    fn on_start(
        &self,
        id: Id,
        storage: Option<&Self::Storage>,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    ) -> Self::State;

    /// Handle `msg` from `src`.
    fn on_msg(
        &self,
        id: Id,
        state: &mut Self::State,
        src: Id,
        msg: Self::Msg,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    );

    /// Handle a firing of `timer`.
    fn on_timeout(
        &self,
        id: Id,
        state: &mut Self::State,
        timer: &Self::Timer,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    );
}

/// The stateright `Actor` of a [`Role`]: the same handlers, behind stateright's interface.
/// Every periodic timer is armed at start and again after each firing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shim<R>(pub R);

impl<R: Role> Actor for Shim<R> {
    type Msg = R::Msg;
    type State = R::State;
    type Timer = R::Timer;
    type Random = ();
    type Storage = R::Storage;

    fn on_start(&self, id: Id, storage: &Option<R::Storage>, o: &mut Out<Self>) -> R::State {
        for t in self.0.timers() {
            o.set_timer(t, stateright::actor::model_timeout());
        }
        self.0.on_start(id, storage.as_ref(), o)
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut std::borrow::Cow<R::State>,
        src: Id,
        msg: R::Msg,
        o: &mut Out<Self>,
    ) {
        let mut next = (**state).clone();
        self.0.on_msg(id, &mut next, src, msg, o);
        if next != **state {
            *state = std::borrow::Cow::Owned(next);
        }
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut std::borrow::Cow<R::State>,
        timer: &R::Timer,
        o: &mut Out<Self>,
    ) {
        let mut next = (**state).clone();
        self.0.on_timeout(id, &mut next, timer, o);
        if next != **state {
            *state = std::borrow::Cow::Owned(next);
        }
        o.set_timer(timer.clone(), stateright::actor::model_timeout());
    }
}

/// A first-in first-out queue that keeps its first 64 items inline and spills the rest to the
/// heap: the fast composition's sink and mailbox, which must not allocate on a typical step.
#[derive(Debug)]
pub struct Queue<T> {
    inline: arrayvec::ArrayVec<T, 64>,
    spill: Vec<T>,
    head: usize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            inline: arrayvec::ArrayVec::new(),
            spill: Vec::new(),
            head: 0,
        }
    }
}

impl<T: Clone> Queue<T> {
    /// Append an item.
    pub fn push(&mut self, item: T) {
        if self.spill.is_empty() && !self.inline.is_full() {
            self.inline.push(item);
        } else {
            self.spill.push(item);
        }
    }

    /// Take the oldest item not yet taken.
    pub fn pop(&mut self) -> Option<T> {
        let item = if self.head < self.inline.len() {
            self.inline[self.head].clone()
        } else {
            self.spill.get(self.head - self.inline.len())?.clone()
        };
        self.head += 1;
        if self.head == self.inline.len() + self.spill.len() {
            self.clear();
        }
        Some(item)
    }

    /// Every item not yet taken, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let skip = self.head;
        self.inline.iter().chain(self.spill.iter()).skip(skip)
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.head == self.inline.len() + self.spill.len()
    }

    /// Drop every item.
    pub fn clear(&mut self) {
        self.inline.clear();
        self.spill.clear();
        self.head = 0;
    }
}

impl<M: Clone, S> Effects<M, S> for Queue<(Id, M)> {
    fn send(&mut self, dst: Id, msg: M) {
        self.push((dst, msg));
    }
    fn save(&mut self, _storage: S) {}
}
