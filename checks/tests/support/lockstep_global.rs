//! One event carried out by the Global Database implementation and the model in lockstep: the check
//! that both the conformance test and the counterexample replay make at every step.

#![allow(dead_code)]

#[path = "invariants.rs"]
pub mod invariants;

use quorate_impl::global::Cluster;
use quorate_model::global::GlobalConfig;
use quorate_model::global::model::{all_properties, evaluate};
use quorate_model::global::state::GlobalState;
use quorate_model::global::step::{Action, step};

/// How one lockstep event went.
pub enum Stepped {
    /// Both carried it out and agree; the cluster's state in the model's terms.
    Done(Box<GlobalState>),
    /// Neither did (or the event changed nothing the model sees).
    Refused,
}

/// Carry out `action` on `cluster` and the model at `model`; on agreement `model` moves on.
/// An error says how they diverged.
pub fn lockstep(
    cfg: &GlobalConfig,
    model: &mut GlobalState,
    cluster: &mut Cluster,
    action: &Action,
) -> Result<Stepped, String> {
    let next = step(cfg, model, action);
    let done = cluster.apply(action);
    let lifted = cluster.lift();
    if let Some(d) = cluster.disagreements().first() {
        return Err(format!(
            "after {action:?} a node and the control plane disagree: {d}"
        ));
    }
    match (done, next) {
        (true, Some(next)) => {
            *model = next;
            if lifted != *model {
                return Err(format!(
                    "after {action:?} the cluster and the model disagree:\n  cluster {lifted:?}\n  \
                     model   {model:?}"
                ));
            }
            Ok(Stepped::Done(Box::new(lifted)))
        }
        // The model's `step` answers `None` also for an enabled action that changes nothing;
        // the cluster may carry such an event out as a no-op, which must leave it where the
        // model is.
        (true, None) if lifted == *model => Ok(Stepped::Refused),
        (true, None) => Err(format!(
            "the cluster carried out {action:?}, which the model does not enable:\n  cluster \
             {lifted:?}\n  model   {model:?}"
        )),
        // Every region decides on what reaches it, and what reaches it is what the model
        // reads: there is no refusal for lack of knowledge.
        (false, Some(_)) => Err(format!(
            "the cluster refused {action:?}, which the model enables in {model:?}"
        )),
        (false, None) => Ok(Stepped::Refused),
    }
}

/// The first `always` property `s` violates, with why.
pub fn first_violation(cfg: &GlobalConfig, s: &GlobalState) -> Option<(&'static str, String)> {
    invariants::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}
