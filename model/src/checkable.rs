//! The contract between a protocol model and the Quorate checker.
//!
//! Every protocol is a [`stateright::Model`] (so stateright's own checkers and its Explorer keep
//! working) that also implements [`Checkable`]. `Checkable` adds what a demanding user of a model
//! checker needs and stateright 0.31 does not carry:
//!
//! * properties with a **spec ID** (`A1`, `B3`, ...) that ties code to `specs/*.md`, and an
//!   **explanation** built from the invariant's witness, in the protocol's words;
//! * **bounded liveness** ([`Kind::Eventually`]): the condition must hold in every *quiescent*
//!   state, one in which no protocol (non-fault) action can change anything any more. Fault
//!   budgets are finite, so every run quiesces; this is the "check terminal states" reading of
//!   liveness that stays sound on cyclic state graphs, unlike stateright's `eventually`;
//! * a **symmetry representative** that the Quorate engine applies under breadth-first search too,
//!   so counterexamples are shortest *and* symmetry-reduced;
//! * a fault classifier, so quiescence is "nothing left to do once faults stop".

use std::fmt::Debug;
use std::hash::Hash;

use stateright::Model;

/// How a property is judged over the reachable state graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Holds in every reachable state; a violation is reported with a shortest trace.
    Always,
    /// Holds in at least one reachable state (a witness), so a pass of its `always` twin is not
    /// vacuous. Unwitnessed after a complete search is a failure.
    Sometimes,
    /// Holds in every reachable quiescent state (bounded liveness).
    Eventually,
}

impl Kind {
    /// The lower-case name used in CLI and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Always => "always",
            Kind::Sometimes => "sometimes",
            Kind::Eventually => "eventually",
        }
    }
}

/// A named property of a protocol model.
pub struct Property<M: Model> {
    /// Snake-case name that starts with the lower-cased spec ID, e.g. `a1_acked_readable`.
    pub name: &'static str,
    /// The ID in `specs/<protocol>.md`, e.g. `A1` (sometimes twins use e.g. `A1.s1`).
    pub spec_id: &'static str,
    /// How the condition is judged.
    pub kind: Kind,
    /// The condition itself: `true` means "holds here" (for `Sometimes`: "witnessed here").
    pub condition: fn(&M, &M::State) -> bool,
    /// A one-paragraph explanation of the condition's value in this state, in protocol words:
    /// for a violation, which values break it (e.g. which acked LSN, which segments hold it,
    /// which read quorum misses it).
    pub explain: fn(&M, &M::State) -> String,
    /// One sentence for `quorate list` and `--help`.
    pub doc: &'static str,
}

// Manual impl: `M` itself need not be `Clone` (fn pointers and &'static str always are).
impl<M: Model> Clone for Property<M> {
    fn clone(&self) -> Self {
        Property {
            name: self.name,
            spec_id: self.spec_id,
            kind: self.kind,
            condition: self.condition,
            explain: self.explain,
            doc: self.doc,
        }
    }
}

/// A stateright model the Quorate engine can check.
pub trait Checkable: Model + Sync
where
    Self::State: Clone + Debug + Hash + Eq + Send + Sync,
    Self::Action: Clone + Debug + Send + Sync,
{
    /// Every property of the model, in a stable order.
    fn props(&self) -> Vec<Property<Self>>;

    /// Whether symmetry reduction is on for this model instance.
    fn symmetry(&self) -> bool {
        false
    }

    /// The canonical representative of `state`'s symmetry class. Two states related by a
    /// symmetry of the model must map to equal representatives. Called only when
    /// [`Checkable::symmetry`] is true. Must be deterministic (no hash-map iteration).
    fn representative(&self, state: &Self::State) -> Self::State {
        state.clone()
    }

    /// [`Checkable::representative`] taking the state by value, so a model can reuse it (and
    /// return it untouched when it already is canonical). The search calls this once per
    /// generated state and keeps the result; it must equal `representative(&state)`.
    fn canonical(&self, state: Self::State) -> Self::State {
        self.representative(&state)
    }

    /// Whether `action` is a fault injected by the environment (loss, crash, outage, ...)
    /// rather than protocol progress. A state is quiescent when no non-fault action changes it.
    fn is_fault(&self, _action: &Self::Action) -> bool {
        false
    }

    /// One line naming the actor and the action, e.g. `writer: send LSN 2 to all segments`.
    fn describe_action(&self, _state: &Self::State, action: &Self::Action) -> String {
        format!("{action:?}")
    }

    /// Short lines naming what `action` changed between `before` and `after` (a diff, not a
    /// dump). Default: nothing.
    fn describe_change(&self, _before: &Self::State, _after: &Self::State) -> Vec<String> {
        Vec::new()
    }

    /// The lifelines of `action` in a sequence diagram: who acts, and who receives, when the
    /// action carries something from one actor to another (a replicated record, a delivered
    /// write). Default: the actor is the text before the first `:` of
    /// [`Checkable::describe_action`], and nobody receives.
    fn lifelines(&self, state: &Self::State, action: &Self::Action) -> (String, Option<String>) {
        (actor_of(&self.describe_action(state, action)), None)
    }
}

/// The actor of an `actor: action` description (`system` when there is no `: `).
pub fn actor_of(description: &str) -> String {
    description
        .split_once(": ")
        .map_or("system", |(a, _)| a)
        .to_string()
}
