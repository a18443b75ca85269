//! What a protocol's fault table and workload see of the nodes, and what they may do to them,
//! in every configuration of the runtime: the deterministic one ([`super::sim::Sim`]) and the
//! live one ([`super::live::Live`]). A protocol writes its fault table once, against this
//! trait, and both configurations run it.
//!
//! What the environment reads of a node decides what it does to another (a disk is lost only
//! from a member of the control plane's configuration). So every read is noted with how many
//! events the node had logged, and every act is preceded in its node's log by those notes
//! ([`super::event::Event::Saw`]): the replay then takes the act only after the events its
//! choice rested on, as they happened.

use std::cell::RefCell;
use std::collections::BTreeMap;

use quorate_model::actor::Role;

use crate::durable::RecoverError;
use crate::rng::Rng;

/// Nodes running a protocol's actors, as the environment sees and drives them.
pub trait Cluster<R: Role> {
    /// How many nodes there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Forget what was read so far: a new draw of the environment begins.
    fn forget_reads(&mut self);
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
    /// Start node `i` from its disk.
    fn start(&mut self, i: usize) -> Result<(), RecoverError>;
    /// Node `i` crashes: its disk keeps what was synced and a random prefix of the rest.
    fn crash(&mut self, i: usize);
    /// Node `i`'s disk is gone; `reports` are sent on its behalf.
    fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>);
    /// Hand node `i` an input from the environment; its state just after handling it.
    fn input(&mut self, i: usize, msg: R::Msg) -> std::io::Result<Option<R::State>>;
}

/// What the environment has read since its draw began: for each node read, how many of its
/// events had happened (the most seen).
#[derive(Debug, Default)]
pub struct Reads(RefCell<BTreeMap<usize, usize>>);

impl Reads {
    /// Note a read of node `node` after its first `events` events.
    pub fn note(&self, node: usize, events: usize) {
        let mut r = self.0.borrow_mut();
        let e = r.entry(node).or_default();
        *e = (*e).max(events);
    }
    /// Forget every read.
    pub fn forget(&self) {
        self.0.borrow_mut().clear();
    }
    /// Every read, by node.
    pub fn list(&self) -> Vec<(usize, usize)> {
        self.0.borrow().iter().map(|(&n, &e)| (n, e)).collect()
    }
}
