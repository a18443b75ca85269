//! One event carried out by the storage-quorum implementation and the model in lockstep: the
//! check that both the conformance test and the counterexample replay make at every step.

#![allow(dead_code)]

#[path = "invariants.rs"]
pub mod invariants;

use quorate_impl::quorum::Cluster;
use quorate_model::quorum::model::{all_properties, evaluate};
use quorate_model::quorum::state::{QuorumState, SegSet, WriterMode};
use quorate_model::quorum::step::step;
use quorate_model::quorum::{Action, QuorumConfig};

/// Actions the implementation may refuse though the model enables them in state `s`, and why.
pub fn may_refuse(cfg: &QuorumConfig, s: &QuorumState, a: &Action) -> Option<&'static str> {
    match *a {
        // The model's repair check counts copies on crashed (not lost) segments; the writer
        // knows only what installed, reachable segments acked, so it may wait longer. Only
        // then: if the copies on installed segments that are up suffice, it must open.
        Action::Open if open_needs_down_copies(cfg, s) => {
            Some("the writer counts only copies it has heard of")
        }
        // The model lets a writer install its truncation on any segment that is up, even one
        // a membership change removed; a new incarnation talks only to members it knows.
        Action::InstallTrunc { seg } if s.writer.cfg.members() & (1 << seg) == 0 => {
            Some("the writer installs only on members of its configuration")
        }
        _ => None,
    }
}

/// Whether the model's `Open` in `s` relies on copies held by segments that are down (or not
/// yet installed at the writer's volume epoch).
fn open_needs_down_copies(cfg: &QuorumConfig, s: &QuorumState) -> bool {
    let WriterMode::Recovering { vdl } = s.writer.mode else {
        return false;
    };
    let w = &s.writer;
    let seen = s
        .segs
        .iter()
        .enumerate()
        .filter(|(_, x)| x.up && x.vol_epoch == w.vol_epoch)
        .fold(0 as SegSet, |a, (i, _)| a | (1 << i));
    (1..=vdl).any(|l| {
        !s.in_trunc(l)
            && !w
                .cfg
                .is_write_quorum(s.holders(l) & seen, cfg.write_quorum, SegSet::MAX)
    })
}

/// How one lockstep event went.
pub enum Stepped {
    /// Both carried it out and agree; the cluster's state in the model's terms.
    Done(Box<QuorumState>),
    /// Neither did (or the implementation refused for a reason `may_refuse` allows).
    Refused {
        /// Whether the model would have taken it (an allowed refusal).
        model_enabled: bool,
    },
}

/// Carry out `action` on `cluster` and the model at `model`; on agreement `model` moves on.
/// An error says how they diverged.
pub fn lockstep(
    cfg: &QuorumConfig,
    model: &mut QuorumState,
    cluster: &mut Cluster,
    action: &Action,
) -> Result<Stepped, String> {
    let next = step(cfg, model, action);
    let done = cluster.apply(action);
    match (done, next) {
        (true, Some(next)) => {
            *model = next;
            let lifted = cluster.lift(model);
            if lifted != *model {
                return Err(format!(
                    "after {action:?} the cluster and the model disagree:\n  cluster {lifted:?}\n  \
                     model   {model:?}"
                ));
            }
            Ok(Stepped::Done(Box::new(lifted)))
        }
        (true, None) => Err(format!(
            "the cluster carried out {action:?}, which the model does not enable"
        )),
        (false, Some(_)) => match may_refuse(cfg, model, action) {
            Some(_) => Ok(Stepped::Refused {
                model_enabled: true,
            }),
            None => Err(format!(
                "the cluster refused {action:?}, which the model enables"
            )),
        },
        (false, None) => Ok(Stepped::Refused {
            model_enabled: false,
        }),
    }
}

/// The first `always` property `s` violates, with why.
pub fn first_violation(cfg: &QuorumConfig, s: &QuorumState) -> Option<(&'static str, String)> {
    invariants::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}
