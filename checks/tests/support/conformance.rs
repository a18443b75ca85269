//! One conformance harness for every protocol: the model and the implementation's nodes take
//! the same steps, and after each the nodes must be where the model's actors are.
//!
//! A protocol gives a [`Conformance`]: its model's initial state and candidate actions, and a
//! step that the model takes and the nodes then carry out (the implementation's own check of
//! its nodes against the model's actors is in the step). The harness does the rest, the same
//! for every protocol:
//!
//! * [`walk`]: a random walk, each step the first enabled candidate from a proptest-chosen
//!   index, with every `always` property judged on the nodes after every step;
//! * [`replay`]: a committed counterexample, step by step: where it is rejected, where a
//!   property first fails on the nodes, or that it ends with every property holding;
//! * [`check_walks`]: many walks on the run's seed, which a failure prints first, with the
//!   command that reproduces it.

#![allow(dead_code)]

use std::fmt::Debug;

use proptest::prelude::*;

#[path = "invariants.rs"]
pub mod invariants;

/// What a protocol gives the harness.
pub trait Conformance {
    /// The model's state.
    type State: Clone + Debug;
    /// The model's action.
    type Action: Clone + Debug;
    /// The implementation's nodes.
    type Nodes;

    /// The nodes started (on the runtime seeded by `seed`) and the model's initial state; an
    /// error if they do not start where the model does.
    fn start(&self, seed: u64) -> Result<(Self::Nodes, Self::State), String>;
    /// Actions worth trying in `s` (a superset of the enabled ones).
    fn candidates(&self, s: &Self::State) -> Vec<Self::Action>;
    /// Take `a` on the model from `s` and carry it out on the nodes: the model's next state,
    /// `None` (nodes untouched) if the model does not enable `a`, an error where the nodes
    /// depart from the model.
    fn step(
        &self,
        nodes: &mut Self::Nodes,
        s: &Self::State,
        a: &Self::Action,
    ) -> Result<Option<Self::State>, String>;
    /// The first `always` property (or only `only`, if given) the nodes violate in model
    /// state `s` (judged on the nodes' states, the composition's own parts taken from `s`),
    /// with why.
    fn violation(
        &self,
        nodes: &Self::Nodes,
        s: &Self::State,
        only: Option<&str>,
    ) -> Option<(&'static str, String)>;
}

/// A kind of action: its variant's name.
pub fn kind_of(a: &impl Debug) -> String {
    let d = format!("{a:?}");
    d.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

/// What one walk did.
pub struct Walk<A> {
    /// The actions taken, in order.
    pub taken: Vec<A>,
}

/// Walk from the initial state: at step `k` take the first enabled candidate from index
/// `picks[k]` on (wrapping), until the picks run out or nothing is enabled. `on_step` sees
/// every step (state before, action, state after). Every `always` property must hold on the
/// nodes after every step.
pub fn walk<C: Conformance>(
    c: &C,
    seed: u64,
    picks: &[u32],
    mut on_step: impl FnMut(&C::State, &C::Action, &C::State) -> Result<(), String>,
) -> Result<Walk<C::Action>, String> {
    let (mut nodes, mut s) = c.start(seed)?;
    let mut taken = Vec::new();
    for (k, &pick) in picks.iter().enumerate() {
        let cands = c.candidates(&s);
        let n = cands.len();
        let mut next = None;
        for j in 0..n {
            let a = &cands[(pick as usize + j) % n];
            if let Some(after) = c.step(&mut nodes, &s, a).map_err(|e| {
                format!(
                    "step {} ({a:?}): the nodes depart from the model: {e}",
                    k + 1
                )
            })? {
                next = Some((a.clone(), after));
                break;
            }
        }
        let Some((a, after)) = next else { break };
        on_step(&s, &a, &after).map_err(|e| format!("step {} ({a:?}): {e}", k + 1))?;
        if let Some((name, why)) = c.violation(&nodes, &after, None) {
            return Err(format!(
                "step {} ({a:?}): the implementation violates {name}: {why}",
                k + 1
            ));
        }
        taken.push(a);
        s = after;
    }
    Ok(Walk { taken })
}

/// How a replayed trace ended on the nodes.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Step `step` (from 1) is not enabled.
    Rejected {
        /// The step.
        step: usize,
    },
    /// After step `step` the nodes violate `property` (the first such step).
    Violated {
        /// The step.
        step: usize,
        /// The property.
        property: &'static str,
    },
    /// Every step was taken and every property held on the nodes after each.
    Held,
}

/// Replay `actions` from the initial state on the model and the nodes, judging every `always`
/// property, or only `only`.
pub fn replay<C: Conformance>(
    c: &C,
    seed: u64,
    actions: &[C::Action],
    only: Option<&str>,
) -> Result<Outcome, String> {
    let (mut nodes, mut s) = c.start(seed)?;
    for (k, a) in actions.iter().enumerate() {
        let Some(after) = c
            .step(&mut nodes, &s, a)
            .map_err(|e| format!("step {} ({a:?}): {e}", k + 1))?
        else {
            return Ok(Outcome::Rejected { step: k + 1 });
        };
        if let Some((property, _)) = c.violation(&nodes, &after, only) {
            return Ok(Outcome::Violated {
                step: k + 1,
                property,
            });
        }
        s = after;
    }
    Ok(Outcome::Held)
}

/// `cases` walks of up to `len` steps on the run's seed, each judged by [`walk`] and then by
/// `on_walk`; shrunk failures persist in `persist` (relative to `checks/`). A failure panics
/// with the seed first and `reproduce`, the command that runs it again.
pub fn check_walks(
    cases: u32,
    len: usize,
    persist: &'static str,
    reproduce: &str,
    on_walk: impl Fn(&[u32]) -> Result<(), String>,
) {
    let (seed, mut runner) = invariants::seeded_runner(cases, persist);
    let strategy = proptest::collection::vec(any::<u32>(), 1..len);
    let result = runner.run(&strategy, |picks| {
        on_walk(&picks).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!(
            "seed {seed}: conformance failed.\nReproduce with: QUORATE_SEED={seed} {reproduce}\n{e}"
        );
    }
}
