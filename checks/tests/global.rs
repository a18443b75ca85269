//! The Global Database model checked end to end: the engine agrees with stateright's own BFS
//! on state counts, every mutant is caught by its named property with a trace that replays
//! step for step, results do not depend on the thread count, every `always` property is
//! named by a mutant, and the spec's IDs match the code's.

use std::collections::HashSet;

use quorate::engine::{self, Options, StopAfter};
use quorate::report::Status;
use quorate_model::checkable::{Checkable, Kind};
use quorate_model::global::model::{all_properties, evaluate};
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
        let index = m.props().iter().position(|p| p.name == property).unwrap();
        let mut lengths = Vec::new();
        for threads in [1, 2] {
            let options = Options {
                threads,
                stop_after: StopAfter::Violation(property.to_string()),
                ..Options::default()
            };
            let outcome = engine::check(&m, &options);
            let found = &outcome.properties[index];
            assert_eq!(found.status, Status::Violated, "{mutant}: {property}");
            let trace = found.trace.as_ref().unwrap();
            let mut s = m.init_states().remove(0);
            for (a, next) in &trace.steps {
                s = m.next_state(&s, *a).expect("every step is enabled");
                assert_eq!(&s, next);
            }
            assert!(evaluate(property, &m.cfg, &s).unwrap().is_err());
            lengths.push(trace.steps.len());
        }
        assert_eq!(lengths[0], lengths[1], "{mutant}: 1 vs 2 threads");
    }
}

#[test]
fn the_correct_protocol_passes_every_focused_config() {
    for config in ["ci", "rpo", "split-brain", "three", "records"] {
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

#[test]
fn every_always_property_is_named_by_a_mutant() {
    let named: HashSet<&str> = Mutant::ALL.iter().map(|m| m.caught_by()).collect();
    for (name, _, kind, _) in all_properties() {
        if kind == Kind::Always {
            assert!(named.contains(name), "no mutant names {name}");
        }
    }
}

/// Rows `| ID | name | third column | ... |` of the spec's Markdown tables.
fn spec_rows(spec: &str) -> Vec<(String, String, String)> {
    spec.lines()
        .filter_map(|l| {
            let cells: Vec<_> = l
                .trim()
                .strip_prefix('|')?
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            (cells.len() >= 3).then(|| {
                (
                    cells[0].to_string(),
                    cells[1].to_string(),
                    cells[2].to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn spec_ids_match_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/global.md");
    let spec = std::fs::read_to_string(path).expect("specs/global.md exists");
    let rows = spec_rows(&spec);
    let find = |id: &str| rows.iter().find(|(i, _, _)| i == id);
    for (name, id, kind, _) in all_properties() {
        let row = find(id).unwrap_or_else(|| panic!("specs/global.md lacks property {id}"));
        assert_eq!(row.1, name, "spec row {id} names another property");
        assert_eq!(row.2, kind.as_str(), "spec row {id} has another kind");
    }
    for m in Mutant::ALL {
        let row = find(m.spec_id())
            .unwrap_or_else(|| panic!("specs/global.md lacks mutant {}", m.spec_id()));
        assert_eq!(row.1, m.name(), "spec row {}", m.spec_id());
        assert_eq!(row.2, m.caught_by(), "spec row {}", m.spec_id());
    }
    let known: HashSet<&str> = all_properties()
        .iter()
        .map(|p| p.1)
        .chain(Mutant::ALL.iter().map(|m| m.spec_id()))
        .collect();
    for (id, _, _) in &rows {
        let looks_like_id = id.len() <= 6
            && id.starts_with(['C', 'G', 'M'])
            && id
                .chars()
                .nth(1)
                .is_some_and(|c| c.is_ascii_digit() || c == 'c');
        if looks_like_id {
            assert!(
                known.contains(id.as_str()),
                "specs/global.md has {id}, the code does not"
            );
        }
    }
}
