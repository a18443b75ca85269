//! The storage quorum in the conformance harness: the fast composition's steps carried out on
//! the nodes of the deterministic runtime (`quorate_impl::quorum::actors::fast`), and the actor
//! model's steps carried out on them datagram by datagram (`quorate_impl::quorum::actors::drive`).

#![allow(dead_code)]

#[path = "conformance.rs"]
pub mod conformance;

use conformance::{Conformance, invariants};
use quorate_impl::quorum::actors::drive::Driver;
use quorate_impl::quorum::actors::fast::FastDriver;
use quorate_model::quorum::actor_model::{ActorAction, ActorState, QuorumActorModel};
use quorate_model::quorum::model::{all_properties, evaluate};
use quorate_model::quorum::state::QuorumState;
use quorate_model::quorum::step::actions;
use quorate_model::quorum::{Action, QuorumConfig};
use stateright::Model;

/// A storage quorum under `cfg`.
pub struct QuorumNodes {
    /// The protocol's parameters (and mutant).
    pub cfg: QuorumConfig,
}

impl Conformance for QuorumNodes {
    type State = QuorumState;
    type Action = Action;
    type Nodes = FastDriver;

    fn start(&self, seed: u64) -> Result<(FastDriver, QuorumState), String> {
        FastDriver::new(&self.cfg, seed)
    }
    fn candidates(&self, s: &QuorumState) -> Vec<Action> {
        let mut out = Vec::new();
        actions(&self.cfg, s, &mut out);
        out
    }
    fn step(
        &self,
        nodes: &mut FastDriver,
        s: &QuorumState,
        a: &Action,
    ) -> Result<Option<QuorumState>, String> {
        nodes.step(s, a)
    }
    fn violation(
        &self,
        nodes: &FastDriver,
        s: &QuorumState,
        only: Option<&str>,
    ) -> Option<(&'static str, String)> {
        let lifted = nodes.lift(s);
        let props = all_properties()
            .into_iter()
            .filter(|p| only.is_none_or(|o| o == p.0))
            .collect();
        invariants::first_violation(props, |name| evaluate(name, &self.cfg, &lifted))
    }
}

/// The storage quorum's actor model (every message in flight, each delivery a step of its own)
/// in the conformance harness: each step carried out on the nodes of the deterministic runtime
/// by the driver of actor traces (`quorate_impl::quorum::actors::drive`), its datagrams through
/// the runtime's network and codec; after each, the nodes and the messages in flight must be
/// the model's.
pub struct QuorumActorNodes {
    /// The actor model (an actor preset's config).
    pub model: QuorumActorModel,
}

impl Conformance for QuorumActorNodes {
    type State = ActorState;
    type Action = ActorAction;
    type Nodes = Driver;

    fn start(&self, seed: u64) -> Result<(Driver, ActorState), String> {
        let d = Driver::new(&self.model.cfg, seed)?;
        Ok((d, self.model.settled()))
    }
    fn candidates(&self, s: &ActorState) -> Vec<ActorAction> {
        let mut out = Vec::new();
        self.model.actions(s, &mut out);
        out
    }
    fn step(
        &self,
        nodes: &mut Driver,
        s: &ActorState,
        a: &ActorAction,
    ) -> Result<Option<ActorState>, String> {
        let Some(next) = self.model.next_state(s, a.clone()) else {
            return Ok(None);
        };
        nodes.apply(a)?;
        nodes.same_nodes(&next)?;
        let (ours, theirs) = (nodes.in_flight(), Driver::model_in_flight(&next));
        if ours != theirs {
            return Err(format!(
                "the runtime has {ours:?} in flight; the model has {theirs:?}"
            ));
        }
        Ok(Some(next))
    }
    fn violation(
        &self,
        _nodes: &Driver,
        s: &ActorState,
        only: Option<&str>,
    ) -> Option<(&'static str, String)> {
        // The nodes and what is in flight are the model's (checked by `step`), so the model's
        // verdict on `s` is the nodes'.
        use quorate_model::checkable::{Checkable, Kind};
        self.model
            .props()
            .into_iter()
            .filter(|p| p.kind == Kind::Always && only.is_none_or(|o| o == p.name))
            .find(|p| !(p.condition)(&self.model, s))
            .map(|p| (p.name, (p.explain)(&self.model, s)))
    }
}
