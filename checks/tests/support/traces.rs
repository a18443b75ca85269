//! Shared by the protocol tests: a mutant's counterexample found with 1 and 2 threads,
//! replayed step by step from the initial state, and compared with an independent plain
//! breadth-first search.

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use quorate::engine::{self, Options, StopAfter};
use quorate::report::Status;
use quorate_model::checkable::Checkable;

/// The length of `m`'s counterexample for `property`, after checking that 1 and 2 threads find
/// one of the same length, that it replays (every step enabled and reaching the recorded
/// state) and that its last state violates the property.
pub fn replayed_violation<M>(m: &M, property: &str) -> usize
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    let props = m.props();
    let index = props.iter().position(|p| p.name == property).unwrap();
    let mut lengths = Vec::new();
    for threads in [1, 2] {
        let options = Options {
            threads,
            stop_after: StopAfter::Violation(property.to_string()),
            ..Options::default()
        };
        let outcome = engine::check(m, &options);
        let found = &outcome.properties[index];
        assert_eq!(found.status, Status::Violated, "{property}");
        let trace = found.trace.as_ref().unwrap();
        let mut s = m.init_states().remove(0);
        for (a, next) in &trace.steps {
            s = m.next_state(&s, a.clone()).expect("every step is enabled");
            assert_eq!(&s, next);
        }
        assert!(
            !(props[index].condition)(m, &s),
            "{property} fails at the end"
        );
        lengths.push(trace.steps.len());
    }
    assert_eq!(lengths[0], lengths[1], "{property}: 1 vs 2 threads");
    lengths[0]
}

/// The fewest steps to a state violating `property`, by a plain breadth-first search with no
/// symmetry, no fingerprints and no threads (up to `bound` steps): an independent yardstick
/// for the engine.
pub fn shortest_by_plain_bfs<M>(m: &M, property: &str, bound: usize) -> Option<usize>
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    let prop = m.props().into_iter().find(|p| p.name == property).unwrap();
    let violated = |s: &M::State| !(prop.condition)(m, s);
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    for s in m.init_states() {
        if violated(&s) {
            return Some(0);
        }
        seen.insert(s.clone());
        queue.push_back((s, 0));
    }
    let mut actions = Vec::new();
    while let Some((s, d)) = queue.pop_front() {
        if d == bound {
            continue;
        }
        actions.clear();
        m.actions(&s, &mut actions);
        for a in actions.drain(..) {
            let Some(n) = m.next_state(&s, a) else {
                continue;
            };
            if violated(&n) {
                return Some(d + 1);
            }
            if seen.insert(n.clone()) {
                queue.push_back((n, d + 1));
            }
        }
    }
    None
}
