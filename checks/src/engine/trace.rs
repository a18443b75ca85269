//! Rebuilding concrete traces from fingerprints and parent pointers.
//!
//! The visited set holds only fingerprints of canonical states, so a trace is found in two
//! passes: walk the parent pointers back to an initial fingerprint, then replay forwards from
//! the concrete initial state, taking at each step the first action (in the model's order) whose
//! successor has the next fingerprint. Under symmetry the replayed states may differ from the
//! ones the search expanded, but each is in the same class, so the trace is real and as short.

use super::Trace;
use super::search::{Explore, Found, Search, Visited, decode_parent};

/// The trace of every discovery in `found` (`None` where nothing was discovered).
pub(super) fn rebuild_all<M: Explore>(
    search: &Search<M>,
    visited: &Visited,
    found: &Found,
) -> Vec<Option<Trace<M>>> {
    found
        .iter()
        .map(|d| d.map(|d| rebuild(search, visited, d.fp)))
        .collect()
}

/// The trace from an initial state to the state with fingerprint `fp`.
fn rebuild<M: Explore>(search: &Search<M>, visited: &Visited, fp: u64) -> Trace<M> {
    let mut chain = vec![fp];
    let mut at = fp;
    while let Some(parent) = decode_parent(
        visited
            .parent_value(at)
            .expect("every fingerprint on a parent chain was visited"),
    ) {
        chain.push(parent);
        at = parent;
    }
    chain.reverse();
    replay(search, &chain)
}

/// Replay the fingerprint chain `chain` (initial state first) into concrete states.
fn replay<M: Explore>(search: &Search<M>, chain: &[u64]) -> Trace<M> {
    let model = search.model;
    let init = model
        .init_states()
        .into_iter()
        .find(|s| model.within_boundary(s) && search.fingerprint(s) == chain[0])
        .unwrap_or_else(|| nondeterministic(0));
    let mut steps: Vec<(M::Action, M::State)> = Vec::with_capacity(chain.len() - 1);
    let mut actions = Vec::new();
    for (i, &want) in chain.iter().enumerate().skip(1) {
        let state = steps.last().map_or(&init, |(_, s)| s);
        actions.clear();
        model.actions(state, &mut actions);
        let step = actions
            .iter()
            .find_map(|action| {
                let next = model.next_state(state, action.clone())?;
                (model.within_boundary(&next) && search.fingerprint(&next) == want)
                    .then(|| (action.clone(), next))
            })
            .unwrap_or_else(|| nondeterministic(i));
        steps.push(step);
    }
    Trace { init, steps }
}

/// The search saw a transition that replaying the model cannot reproduce.
fn nondeterministic(step: usize) -> ! {
    panic!(
        "cannot replay step {step} of a trace: the model's init_states/actions/next_state or \
         representative is not deterministic (or two states share a 64-bit fingerprint)"
    )
}

/// The trace to `fp`, or `None` if `visited` does not hold it (the search that filled `visited`
/// was stopped before reaching it).
pub(super) fn rebuild_visited<M: Explore>(
    search: &Search<M>,
    visited: &Visited,
    fp: u64,
) -> Option<Trace<M>> {
    visited.parent_value(fp)?;
    Some(rebuild(search, visited, fp))
}
