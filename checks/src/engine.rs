//! Quorate's own exhaustive search over stateright's `Model` trait.
//!
//! API CONTRACT (the bodies are to be written; signatures are fixed, other modules use them).
//!
//! Why not stateright's checkers: in 0.31 breadth-first search keeps the *last* matching state,
//! not the first (so counterexamples are not shortest), applies symmetry only under DFS, and a
//! depth bound with several threads is not exhaustive. This engine is a level-synchronous BFS:
//! level `d` is finished before level `d+1` starts, so the first level at which a property is
//! violated gives a shortest counterexample, with symmetry (canonical representatives are
//! fingerprinted) and with any number of threads.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use quorate_model::checkable::Checkable;

use crate::report::Report;

/// Search order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Level-synchronous breadth-first search.
    #[default]
    Bfs,
    /// Depth-first search (less memory on the frontier); a violation's trace is then shortened
    /// to a shortest one by a breadth-first search, so reports stay shortest.
    Dfs,
}

/// Progress of a running search, passed to [`Options::progress`].
#[derive(Clone, Debug)]
pub struct Progress {
    /// Distinct states so far.
    pub states_unique: u64,
    /// Generated states so far.
    pub states_total: u64,
    /// Current depth.
    pub depth: u64,
    /// Seconds since the start.
    pub seconds: f64,
    /// Resident memory in bytes, if known.
    pub memory_bytes: Option<u64>,
}

/// How to search.
#[derive(Clone, Default)]
pub struct Options {
    /// Worker threads (>= 1).
    pub threads: usize,
    /// Search order.
    pub strategy: Strategy,
    /// Stop (incomplete) after this many distinct states.
    pub max_states: Option<u64>,
    /// Stop (incomplete) after this many seconds.
    pub max_seconds: Option<f64>,
    /// Called about every `progress_every` seconds from one thread.
    pub progress: Option<Arc<dyn Fn(&Progress) + Send + Sync>>,
    /// Seconds between progress calls (default 2 when 0).
    pub progress_every: f64,
    /// Set to true (e.g. by a Ctrl-C handler) to stop early with a partial, incomplete result.
    pub stop: Option<Arc<AtomicBool>>,
}

/// A path from an initial state: `init`, then `(action, state after it)` per step.
#[derive(Clone, Debug)]
pub struct Trace<M: Checkable>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    /// The initial state.
    pub init: M::State,
    /// Each step's action and the state it leads to (concrete states, not representatives).
    pub steps: Vec<(M::Action, M::State)>,
}

/// The verdict on one property.
#[derive(Clone, Debug)]
pub struct PropertyOutcome<M: Checkable>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    /// Holds, Violated, Witnessed, Unwitnessed or Unknown.
    pub status: crate::report::Status,
    /// A shortest path to the first violating (or witnessing) state, when there is one.
    pub trace: Option<Trace<M>>,
}

/// The result of [`check`].
#[derive(Clone, Debug)]
pub struct Outcome<M: Checkable>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    /// Whether every reachable state was explored.
    pub complete: bool,
    /// Distinct (canonical, when symmetry is on) states.
    pub states_unique: u64,
    /// Generated states including duplicates and initial states.
    pub states_total: u64,
    /// Deepest BFS level reached, in steps from an initial state.
    pub max_depth: u64,
    /// Wall time.
    pub seconds: f64,
    /// One entry per property of `model.props()`, same order.
    pub properties: Vec<PropertyOutcome<M>>,
}

/// Search `model` exhaustively (unless stopped) and judge every property.
pub fn check<M: Checkable>(model: &M, options: &Options) -> Outcome<M>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    let _ = (model, options);
    todo!("engine")
}

/// Turn an outcome into the protocol-independent report, rendering traces with the model's
/// `describe_action`/`describe_change` and the property's `explain`.
pub fn to_report<M: Checkable>(
    model: &M,
    outcome: &Outcome<M>,
    protocol: &str,
    config: &str,
    mutant: Option<&str>,
    parameters: Vec<String>,
    options: &Options,
) -> Report
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    let _ = (model, outcome, protocol, config, mutant, parameters, options);
    todo!("engine report")
}
