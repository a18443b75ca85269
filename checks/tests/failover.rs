//! The failover model checked end to end: the engine agrees with stateright's own checkers on
//! state counts, its counterexamples are as short as an independent breadth-first search can
//! find and replay step for step, and results do not depend on the thread count. (Spec IDs:
//! `specs.rs`.)

#[path = "support/traces.rs"]
mod traces;

use quorate::engine::{self, Options};
use quorate_model::failover::{FailoverConfig, FailoverModel, FailoverState, Mutant};
use stateright::{Checker, Model};

/// `default` with overrides: W1 and no replica, one writer failure (crash or partition).
fn model(sets: &[(&str, &str)], symmetry: bool) -> FailoverModel {
    let mut cfg = FailoverConfig::preset("default").unwrap();
    for (k, v) in sets {
        cfg.set(k, v).unwrap();
    }
    cfg.set("replicas", "0").unwrap();
    cfg.set("symmetry", if symmetry { "true" } else { "false" })
        .unwrap();
    cfg.validate().unwrap();
    FailoverModel::new(cfg)
}

/// 2 LSNs in one MTR: 140,591 states with symmetry.
fn small(symmetry: bool) -> FailoverModel {
    model(&[("lsns", "2")], symmetry)
}

/// 1 LSN: 134,705 states without symmetry, small enough for stateright's plain BFS.
fn tiny(symmetry: bool) -> FailoverModel {
    model(&[("lsns", "1"), ("mtr_len", "1"), ("lal", "1")], symmetry)
}

fn opts(threads: usize) -> Options {
    Options {
        threads,
        ..Options::default()
    }
}

fn rep(s: &FailoverState) -> FailoverState {
    quorate_model::failover::symmetry::representative(3, s)
}

#[test]
fn unique_counts_match_stateright_bfs_and_symmetric_dfs() {
    let plain = tiny(false);
    let ours = engine::check(&plain, &opts(2));
    assert!(ours.complete);
    let theirs = plain.clone().checker().spawn_bfs().join();
    assert_eq!(ours.states_unique, theirs.unique_state_count() as u64);
    let ours_sym = engine::check(&tiny(true), &opts(2));
    assert!(
        ours_sym.states_unique * 4 < ours.states_unique,
        "symmetry reduces: {} vs {}",
        ours_sym.states_unique,
        ours.states_unique
    );

    let sym = small(true);
    let ours_sym = engine::check(&sym, &opts(2));
    let theirs_sym = sym.clone().checker().symmetry_fn(rep).spawn_dfs().join();
    assert_eq!(
        ours_sym.states_unique,
        theirs_sym.unique_state_count() as u64
    );
}

#[test]
fn thread_count_changes_nothing() {
    let m = small(true);
    let one = engine::check(&m, &opts(1));
    let two = engine::check(&m, &opts(2));
    assert_eq!(
        (one.states_unique, one.states_total, one.max_depth),
        (two.states_unique, two.states_total, two.max_depth)
    );
}

#[test]
fn mutant_counterexamples_are_shortest_replayable_and_thread_independent() {
    for mutant in [
        Mutant::NoFencing,
        Mutant::TruncateAtVcl,
        Mutant::ReplicaAppliesAboveVdl,
        Mutant::IgnoreLal,
        Mutant::ReplicaPartialMtr,
        Mutant::EpochReuse,
    ] {
        let property = mutant.caught_by();
        let cfg = FailoverConfig::preset("ci")
            .unwrap()
            .with_mutant(Some(mutant));
        let model = FailoverModel::new(cfg);
        let length = traces::replayed_violation(&model, property);
        let plain = traces::shortest_by_plain_bfs(&model, property, length);
        assert_eq!(
            plain,
            Some(length),
            "{mutant}: the engine\'s trace has {length} steps; a plain BFS finds {plain:?}"
        );
    }
}
