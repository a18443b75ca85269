//! Counterexample replay on the reference implementation. For every mutant of the storage
//! quorum, `checks/regressions/quorum/<mutant>.json` holds the model checker's shortest
//! counterexample of the mutant's named property (regenerate them with
//! `bash checks/regressions/generate.sh`). Each is replayed through the conformance harness,
//! every step taken by the model and carried out on the nodes of the deterministic runtime,
//! which must stay where the model's actors are:
//!
//! * with the mutant (it lives in the model's actors, which the nodes run), every step must be
//!   taken and the nodes must violate the named property at the last step and not before, so
//!   the bug is real in the implementation too;
//! * on the correct protocol (the preset, no mutant), the trace must be rejected at some step
//!   (the correct protocol cannot take it), or every `always` property must hold on the nodes
//!   after every step.

#[path = "support/quorum_nodes.rs"]
mod quorum_nodes;

use quorate::trace::TraceFile;
use quorate_model::quorum::{Action, Mutant, QuorumConfig};
use quorum_nodes::QuorumNodes;
use quorum_nodes::conformance::{Outcome, invariants, replay};

/// The trace's config (preset and overrides, then the mutant) and its actions.
fn load(mutant: Mutant) -> (TraceFile, QuorumConfig, Vec<Action>) {
    let (file, actions) = invariants::load_trace("quorum", mutant.name());
    let mut cfg = QuorumConfig::preset(file.config.as_deref().unwrap_or("ci")).unwrap();
    for (k, v) in file.sets().unwrap() {
        cfg.set(&k, &v).unwrap();
    }
    let cfg = cfg.with_mutant(Some(mutant));
    cfg.validate().unwrap();
    (file, cfg, actions)
}

#[test]
fn every_mutant_counterexample_reproduces_on_the_implementation_with_the_mutant() {
    for mutant in Mutant::ALL {
        let (_, cfg, actions) = load(mutant);
        let property = mutant.caught_by();
        let outcome = replay(
            &QuorumNodes { cfg },
            invariants::seed(),
            &actions,
            Some(property),
        )
        .unwrap_or_else(|e| panic!("{mutant}: {e}"));
        assert_eq!(
            outcome,
            Outcome::Violated {
                step: actions.len(),
                property,
            },
            "{mutant}: the implementation with the mutant does not end the counterexample \
             violating its property"
        );
    }
}

#[test]
fn no_mutant_counterexample_breaks_the_correct_implementation() {
    for mutant in Mutant::ALL {
        let (file, _, actions) = load(mutant);
        let cfg = QuorumConfig::preset(file.config.as_deref().unwrap_or("ci")).unwrap();
        let outcome = replay(&QuorumNodes { cfg }, invariants::seed(), &actions, None)
            .unwrap_or_else(|e| panic!("{mutant}: {e}"));
        assert!(
            matches!(outcome, Outcome::Rejected { .. } | Outcome::Held),
            "{mutant}'s counterexample breaks the correct implementation: {outcome:?}"
        );
        println!("{mutant}: on the correct implementation, {outcome:?}");
    }
}
