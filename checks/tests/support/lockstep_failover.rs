//! One event carried out by the failover implementation and the model in lockstep: the check
//! that both the conformance test and the counterexample replay make at every step.

#![allow(dead_code)]

#[path = "invariants.rs"]
pub mod invariants;

use quorate_impl::failover::Cluster;
use quorate_model::failover::instance::may_open;
use quorate_model::failover::model::{all_properties, evaluate};
use quorate_model::failover::state::{FailoverState, Phase, Role, Seg};
use quorate_model::failover::step::{Action, step};
use quorate_model::failover::{FailoverConfig, Mutant};

/// Actions the implementation may refuse though the model enables them in state `s`, and why.
/// The model's recovery counts the fences, installed ranges and copies of segments that are
/// down; a recovering instance knows only what segments reported to it (a segment down since
/// before its promotion it has never heard). Only then: if the segments that are up suffice, it
/// must go on.
pub fn may_refuse(cfg: &FailoverConfig, s: &FailoverState, a: &Action) -> Option<&'static str> {
    let rec = s.insts.get(usize::from(s.endpoint))?;
    let up: Vec<Seg> = s.segs.iter().filter(|x| x.up).copied().collect();
    match (*a, rec.role) {
        (Action::ReadScl { .. }, Role::Recovering(Phase::Fencing)) => {
            let fence_first =
                !cfg.has(Mutant::NoFencing) && !cfg.has(Mutant::FenceAfterRecoveryRead);
            let fenced = up.iter().filter(|x| x.fence >= rec.epoch).count();
            (fence_first && fenced < usize::from(cfg.write_quorum))
                .then_some("recovery counts only the fences of segments that reported to it")
        }
        (Action::Open, Role::Recovering(Phase::Truncating { rvdl })) => {
            (!may_open(cfg, rec.epoch, rvdl, &up, &s.truncs))
                .then_some("recovery counts only what segments reported to it")
        }
        _ => None,
    }
}

/// How one lockstep event went.
pub enum Stepped {
    /// Both carried it out and agree; the cluster's state in the model's terms.
    Done(Box<FailoverState>),
    /// Neither did (or the implementation refused for a reason `may_refuse` allows, or the
    /// event changed nothing the model sees).
    Refused {
        /// Whether the model would have taken it (an allowed refusal).
        model_enabled: bool,
    },
}

/// Carry out `action` on `cluster` and the model at `model`; on agreement `model` moves on.
/// An error says how they diverged.
pub fn lockstep(
    cfg: &FailoverConfig,
    model: &mut FailoverState,
    cluster: &mut Cluster,
    action: &Action,
) -> Result<Stepped, String> {
    let next = step(cfg, model, action);
    let done = cluster.apply(action);
    let lifted = cluster.lift();
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
        // The model's `step` answers `None` also for an enabled action that changes nothing
        // (a replica told the VDL it knows); the cluster carries such an event out as a
        // no-op, which must leave it where the model is.
        (true, None) if lifted == *model => Ok(Stepped::Refused {
            model_enabled: false,
        }),
        (true, None) => Err(format!(
            "the cluster carried out {action:?}, which the model does not enable:\n  cluster \
             {lifted:?}\n  model   {model:?}"
        )),
        (false, Some(_)) => match may_refuse(cfg, model, action) {
            Some(_) => Ok(Stepped::Refused {
                model_enabled: true,
            }),
            None => Err(format!(
                "the cluster refused {action:?}, which the model enables in {model:?}"
            )),
        },
        (false, None) => Ok(Stepped::Refused {
            model_enabled: false,
        }),
    }
}

/// The first `always` property `s` violates, with why.
pub fn first_violation(cfg: &FailoverConfig, s: &FailoverState) -> Option<(&'static str, String)> {
    invariants::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}
