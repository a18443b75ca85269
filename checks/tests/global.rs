//! The Global Database model checked end to end: the engine agrees with stateright's own BFS
//! on state counts, every mutant is caught by its named property with a trace that replays
//! step for step, results do not depend on the thread count, and every focused config passes.
//! (Spec IDs and mutant coverage: `specs.rs`.)

#[path = "support/traces.rs"]
mod traces;

use quorate::engine::{self, Options};
use quorate::report::Status;
use quorate_model::checkable::Checkable;
use quorate_model::global::{GlobalConfig, GlobalModel, Mutant};
use stateright::{Checker, Model};

fn model(config: &str, mutant: Option<Mutant>) -> GlobalModel {
    let cfg = GlobalConfig::preset(config).unwrap().with_mutant(mutant);
    cfg.validate().unwrap();
    GlobalModel::new(cfg)
}

/// The config each mutant is caught on (as in `checks/suite.toml`).
fn config_of(m: Mutant) -> &'static str {
    match m {
        // On `ci` a two-record transaction left open on the old primary breaks C3 first.
        Mutant::PromoteWithoutMarker | Mutant::SyncThenReadOnly => "three",
        _ => "ci",
    }
}

#[test]
fn unique_counts_match_stateright_bfs() {
    for config in ["ci", "records"] {
        let m = model(config, None);
        let ours = engine::check(&m, &Options::default());
        assert!(ours.complete);
        let theirs = m.clone().checker().spawn_bfs().join();
        assert_eq!(
            ours.states_unique,
            theirs.unique_state_count() as u64,
            "{config}"
        );
    }
}

#[test]
fn every_mutant_is_caught_by_its_property_with_a_replayable_trace() {
    for mutant in Mutant::ALL {
        let m = model(config_of(mutant), Some(mutant));
        let property = mutant.caught_by();
        traces::replayed_violation(&m, property);
    }
}

#[test]
fn the_correct_protocol_passes_every_focused_config() {
    for config in [
        "ci",
        "rpo",
        "split-brain",
        "three",
        "records",
        "two-failovers",
    ] {
        let m = model(config, None);
        let outcome = engine::check(&m, &Options::default());
        assert!(outcome.complete, "{config}");
        for (p, o) in m.props().iter().zip(&outcome.properties) {
            assert!(
                matches!(o.status, Status::Holds | Status::Witnessed),
                "{config}: {} is {:?}",
                p.name,
                o.status
            );
        }
    }
}
