//! The actor model as a run of the implementation is replayed on it: from the start before
//! any message is delivered, one step per logged input, with what the step sent.

use std::sync::Arc;

use stateright::Model;
use stateright::actor::{Envelope, Id};

use super::{ActorAction, ActorState, QuorumActorModel, in_flight, network_of, sent_envelopes};
use crate::quorum::actors::msg::{Msg, Storage};
use crate::quorum::state::{Budget, Ghost};

impl QuorumActorModel {
    /// The state right after every actor started: what they sent at start is in flight, no
    /// fault budget spent, no history.
    pub fn unsettled(&self) -> ActorState {
        let sys = self
            .actors
            .init_states()
            .into_iter()
            .next()
            .expect("one initial state");
        let cfg = &self.cfg;
        let mut s = ActorState {
            sys,
            budget: Budget::granted(cfg),
            lost: 0,
            ghost: Ghost::default(),
            view: Arc::new(crate::quorum::step::init(cfg)),
        };
        s.view = Arc::new(self.project(&s));
        s
    }

    /// Take `action` as a replayed run took it: the next state and what it sent, or why the
    /// model does not allow it. A delivery or a timer the handler ignores is allowed and
    /// changes nothing but the message taken from the network.
    pub fn replay_step(
        &self,
        s: &ActorState,
        action: ActorAction,
    ) -> Result<(ActorState, Vec<Envelope<Msg>>), String> {
        let delivered = match &action {
            ActorAction::Deliver { src, dst, msg } => Some(Envelope {
                src: Id::from(usize::from(*src)),
                dst: Id::from(usize::from(*dst)),
                msg: *msg,
            }),
            _ => None,
        };
        if let Some(e) = delivered {
            if !s
                .sys
                .network
                .iter_deliverable()
                .any(|x| x.src == e.src && x.dst == e.dst && *x.msg == e.msg)
            {
                return Err(format!("{action:?}: no such message is in flight"));
            }
            if s.sys.crashed[usize::from(e.dst)] {
                return Err(format!("{action:?}: its receiver is down"));
            }
        }
        // What the handler may ignore must at least be an input the actor can take: a timer
        // it has armed, a change within the budget, a request when reads are on.
        match &action {
            ActorAction::Timeout { actor, timer } => {
                let a = usize::from(*actor);
                if s.sys.crashed.get(a).is_none_or(|c| *c) {
                    return Err(format!("{action:?}: the actor is down"));
                }
                if !s.sys.timers_set[a].iter().any(|t| t == timer) {
                    return Err(format!("{action:?}: the actor has no such timer armed"));
                }
            }
            ActorAction::Begin { .. } if s.budget.member_changes == 0 => {
                return Err(format!(
                    "{action:?}: no membership change is left in the budget"
                ));
            }
            ActorAction::Request(_) if !self.cfg.reads => {
                return Err(format!("{action:?}: the config has no client reads"));
            }
            _ => {}
        }
        match self.next_state(s, action.clone()) {
            Some(n) => {
                let sent = sent_envelopes(&s.sys.network, &n.sys.network, delivered);
                Ok((n, sent))
            }
            None => match (action, delivered) {
                // The handler changed nothing and sent nothing: the message is consumed.
                (ActorAction::Deliver { .. }, Some(e)) => {
                    let mut n = s.clone();
                    let mut all = in_flight(&s.sys.network);
                    if let Some(at) = all.iter().position(|(x, _)| *x == e) {
                        all[at].1 -= 1;
                        if all[at].1 == 0 {
                            all.remove(at);
                        }
                    }
                    n.sys.network = network_of(all);
                    Ok((self.viewed(n), Vec::new()))
                }
                (
                    ActorAction::Timeout { .. }
                    | ActorAction::Begin { .. }
                    | ActorAction::Request(_),
                    _,
                ) => Ok((s.clone(), Vec::new())),
                (a, _) => Err(format!("{a:?}: the model does not allow it here")),
            },
        }
    }

    /// What actor `i` saved last (what a restart must read back).
    pub fn saved(&self, s: &ActorState, i: usize) -> Option<Storage> {
        s.sys.actor_storages.get(i).copied().flatten()
    }

    /// The first `always` property `s` violates, with why.
    pub fn violation(&self, s: &ActorState) -> Option<(&'static str, String)> {
        use crate::checkable::{Checkable, Kind};
        self.props()
            .into_iter()
            .filter(|p| p.kind == Kind::Always)
            .find(|p| !(p.condition)(self, s))
            .map(|p| (p.name, (p.explain)(self, s)))
    }

    /// Whether actor `i` runs in `s`.
    pub fn runs(&self, s: &ActorState, i: usize) -> bool {
        !s.sys.crashed.get(i).copied().unwrap_or(true)
    }
}
