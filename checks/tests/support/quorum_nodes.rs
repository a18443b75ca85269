//! The storage quorum in the conformance harness: the fast composition's steps carried out on
//! the nodes of the deterministic runtime (`quorate_impl::quorum::actors::fast`).

#![allow(dead_code)]

#[path = "conformance.rs"]
pub mod conformance;

use conformance::{Conformance, invariants};
use quorate_impl::quorum::actors::fast::FastDriver;
use quorate_model::quorum::model::{all_properties, evaluate};
use quorate_model::quorum::state::QuorumState;
use quorate_model::quorum::step::actions;
use quorate_model::quorum::{Action, QuorumConfig};

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
