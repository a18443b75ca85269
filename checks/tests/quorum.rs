//! The storage-quorum model checked end to end: the engine agrees with stateright's own
//! checkers on state counts, its counterexamples are as short as an independent breadth-first
//! search can find, and results do not depend on the thread count. (Spec IDs: `specs.rs`.)

#[path = "support/traces.rs"]
mod traces;

use quorate::engine::{self, Options, StopAfter};
use quorate::registry::Protocol;
use quorate::report::Status;
use quorate_model::quorum::{Mutant, QuorumConfig, QuorumModel, QuorumState};
use stateright::{Checker, Model};

/// A small config: every fault but membership and writer crashes, 2 LSNs.
fn small(symmetry: bool) -> QuorumModel {
    let mut cfg = QuorumConfig::preset("ci").unwrap();
    cfg.set("member_changes", "0").unwrap();
    cfg.set("writer_crashes", "0").unwrap();
    cfg.set("symmetry", if symmetry { "true" } else { "false" })
        .unwrap();
    cfg.validate().unwrap();
    QuorumModel::new(cfg)
}

fn opts(threads: usize) -> Options {
    Options {
        threads,
        ..Options::default()
    }
}

fn rep(s: &QuorumState) -> QuorumState {
    quorate_model::quorum::symmetry::representative(3, s)
}

#[test]
fn unique_counts_match_stateright_bfs_and_symmetric_dfs() {
    let plain = small(false);
    let ours = engine::check(&plain, &opts(1));
    assert!(ours.complete);
    let theirs = plain.clone().checker().spawn_bfs().join();
    assert_eq!(ours.states_unique, theirs.unique_state_count() as u64);

    let sym = small(true);
    let ours_sym = engine::check(&sym, &opts(2));
    let theirs_sym = sym.clone().checker().symmetry_fn(rep).spawn_dfs().join();
    assert_eq!(
        ours_sym.states_unique,
        theirs_sym.unique_state_count() as u64
    );
    assert!(
        ours_sym.states_unique * 4 < ours.states_unique,
        "symmetry reduces: {} vs {}",
        ours_sym.states_unique,
        ours.states_unique
    );
}

#[test]
fn thread_count_changes_nothing() {
    let m = small(true);
    let one = engine::check(&m, &opts(1));
    let two = engine::check(&m, &opts(2));
    assert_eq!(one.states_unique, two.states_unique);
    assert_eq!(one.states_total, two.states_total);
    assert_eq!(one.max_depth, two.max_depth);
}

#[test]
fn mutant_counterexamples_are_shortest_with_symmetry_and_threads() {
    for (mutant, property) in [
        (Mutant::W3r3, "a1_acked_readable"),
        (Mutant::IgnoreMembershipEpoch, "a5_epochs_checked"),
        (Mutant::GossipIgnoresTruncation, "a6_no_resurrection"),
        (Mutant::PgclNotMonotone, "a4_monotone"),
        (Mutant::SclSkipsGaps, "a3_scl_sound"),
        (Mutant::LiteralDualRead, "a9_quorums_intersect"),
    ] {
        let cfg = QuorumConfig::preset("ci")
            .unwrap()
            .with_mutant(Some(mutant));
        let model = QuorumModel::new(cfg);
        let length = traces::replayed_violation(&model, property);
        let plain = traces::shortest_by_plain_bfs(&model, property, length);
        assert_eq!(
            plain,
            Some(length),
            "{mutant}: the engine\'s trace has {length} steps; a plain BFS finds {plain:?}"
        );
    }
}

#[test]
fn every_mutant_is_caught_by_its_named_property_in_ci() {
    let quorum = &quorate::protocols::quorum::QUORUM;
    for m in Mutant::ALL {
        let options = Options {
            threads: 2,
            stop_after: StopAfter::Violation(m.caught_by().to_string()),
            ..Options::default()
        };
        let report = quorum.check("ci", &[], Some(m.name()), &options).unwrap();
        let p = report
            .properties
            .iter()
            .find(|p| p.name == m.caught_by())
            .unwrap();
        assert_eq!(
            p.status,
            Status::Violated,
            "{m} must violate {}",
            m.caught_by()
        );
        assert!(p.trace.len() > 1, "{m}: a counterexample with steps");
        assert_eq!(report.exit_code(), 1);
    }
}
