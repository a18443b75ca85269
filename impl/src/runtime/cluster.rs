//! What a protocol's fault table and workload see of the nodes, and what they may do to them,
//! in every configuration of the runtime: the deterministic one ([`super::sim::Sim`]) and the
//! live one ([`super::live::Live`]). A protocol writes its fault table once, against this
//! trait, and both configurations run it.
//!
//! What the environment reads of a node decides what it does to another (a disk is lost only
//! from a member of the control plane's configuration). So every node read is noted, and every
//! act is preceded in its node's log by a note of how many events each node read had logged by
//! then ([`super::event::Event::Saw`]). A draw's reads and acts are one moment of the run (the
//! deterministic configuration does nothing else in between; the live one holds every node),
//! so the replay takes the act after the events read and before any later event of the nodes
//! read.

use std::cell::RefCell;
use std::collections::BTreeSet;

use quorate_model::actor::Role;

use crate::rng::Rng;

/// Nodes running a protocol's actors, as the environment sees and drives them.
pub trait Cluster<R: Role> {
    /// How many nodes there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A draw of the environment begins: what was read before is forgotten, and (in the live
    /// configuration) every node holds still until [`Cluster::end_draw`], so that what is read
    /// and what is done in the draw are one moment of the run.
    fn begin_draw(&mut self);
    /// The draw is over: the nodes go on.
    fn end_draw(&mut self) {}
    /// Node `i`'s state while it runs (in the live configuration, as of its last event).
    fn state(&self, i: usize) -> Option<R::State>;
    /// Whether node `i` runs.
    fn runs(&self, i: usize) -> bool {
        self.state(i).is_some()
    }
    /// The last storage node `i` synced, if any.
    fn saved(&self, i: usize) -> Option<R::Storage>;
    /// Whether node `i`'s disk is gone for good.
    fn lost(&self, i: usize) -> bool;
    /// How many events node `i` has logged.
    fn events(&self, i: usize) -> usize;
    /// The environment's randomness.
    fn rng(&mut self) -> &mut Rng;
    /// Start node `i` from its disk (the error: why it could not).
    fn start(&mut self, i: usize) -> Result<(), String>;
    /// Node `i` crashes: its disk keeps what was synced and a random prefix of the rest.
    fn crash(&mut self, i: usize);
    /// Node `i`'s disk is gone; `reports` are sent on its behalf.
    fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>);
    /// Hand node `i` an input from the environment; its state just after handling it.
    fn input(&mut self, i: usize, msg: R::Msg) -> std::io::Result<Option<R::State>>;
}

/// The nodes the environment has read since its draw began. An act is logged after the
/// events each of them had logged by the moment of the act: those it read, and the acts of the
/// same draw before it (nothing else happens in a draw).
#[derive(Debug, Default)]
pub struct Reads(RefCell<BTreeSet<usize>>);

impl Reads {
    /// Note a read of node `node`.
    pub fn note(&self, node: usize) {
        self.0.borrow_mut().insert(node);
    }
    /// Forget every read.
    pub fn forget(&self) {
        self.0.borrow_mut().clear();
    }
    /// Every node read, and how many events it has logged by now (`events(node)`).
    pub fn list(&self, events: impl Fn(usize) -> usize) -> Vec<(usize, usize)> {
        self.0.borrow().iter().map(|&n| (n, events(n))).collect()
    }
}
