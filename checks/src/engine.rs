//! Quorate's own exhaustive search over stateright's `Model` trait.
//!
//! # Why not stateright's checkers
//!
//! In stateright 0.31 breadth-first search keeps the *last* matching state, not the first (so
//! counterexamples are not shortest), applies symmetry only under DFS, and a depth bound with
//! several threads is not exhaustive. Quorate needs all three at once: reports must show a
//! *shortest* trace, found *with* symmetry reduction and *with* several threads, and the same run
//! must give the same answer whatever the thread count.
//!
//! # The algorithm: level-synchronous BFS over fingerprints
//!
//! * **Fingerprints.** Every state is canonicalised ([`Checkable::representative`] when
//!   [`Checkable::symmetry`] is on) and hashed with a fixed-seed 64-bit hash, so fingerprints
//!   are stable from run to run. The visited set of the main search holds the fingerprints and
//!   nothing else (8 bytes plus a control byte and table slack per state); only the current and
//!   the next frontier hold full states. It is split into 64 mutex-guarded shards, and every worker
//!   buffers a few thousand successors and inserts them shard by shard, so a lock is taken per
//!   batch rather than per state.
//! * **Levels.** Level `d` (the states `d` steps from an initial state) is expanded completely,
//!   by all workers, before level `d + 1` starts. A state's first insertion therefore happens at
//!   its true distance, so the level of a discovery is the length of a shortest trace to it.
//! * **Determinism.** Among several discoveries of a property at its smallest level the smallest
//!   fingerprint wins, so counts, verdicts and the discovered states do not depend on thread
//!   scheduling.
//! * **Properties.** `Always` and `Sometimes` are judged when a state is first inserted;
//!   `Eventually` is judged when a state is expanded, because only then is it known whether the
//!   state is *quiescent* (no non-fault action yields a different state). Successors outside
//!   [`stateright::Model::within_boundary`] are skipped exactly as stateright skips them (not
//!   counted, not visited), but they still count as a change for quiescence: the boundary cuts
//!   the search short, it does not stop the protocol, so judging liveness there would report a
//!   false violation. The search does not stop at a discovery: every property gets a verdict.
//! * **Traces.** Parent pointers would double the visited set (and memory bounds the state
//!   spaces Quorate can check), while traces are needed for a handful of states. So after the
//!   search, the discoveries that need a trace (violations always; witnesses only with
//!   [`Options::witness_traces`]) are found again by a *rerun* of the same BFS that also keeps a
//!   parent per fingerprint, bounded to the deepest of those discoveries and ended as soon as all
//!   are found. Among the parents at level `d` of a new state the smallest fingerprint wins (an
//!   entry inserted in the current level is marked *fresh* and its parent may still be lowered;
//!   the marks are cleared between levels), so traces do not depend on scheduling either. The
//!   rerun applies the same tie-breaks, so it discovers the very same states (this is
//!   asserted); its cost is at most that of the search up to the discovery level, and usually
//!   far less than parents for every state would cost. The discovered fingerprint is walked back
//!   to an initial one through the parent pointers, then *replayed* forwards from the concrete
//!   initial state: at each step the first action whose successor has the next fingerprint is
//!   taken. The result is a real, concrete trace even when fingerprints are of representatives.
//!   A rerun stopped by a limit leaves its discoveries without a trace (their status stands).
//! * **DFS.** [`Strategy::Dfs`] explores with a stack per worker (work is shared by handing the
//!   bottom half of a stack to an idle worker) over a visited set with parent pointers, which
//!   keeps the frontier small. Its discoveries are not shortest, so for the properties it
//!   discovered (and that need a trace) the same bounded rerun, bounded by the DFS trace length,
//!   supplies shortest traces. If that rerun is cut short by a limit, the DFS trace is reported
//!   instead. Counts and verdicts always come from the DFS itself.
//!
//! Limits (`max_states`, `max_seconds`, `max_memory`, `stop`) are checked by every worker after each chunk of
//! at most 1,024 frontier states (BFS) or every 64 expansions (DFS), so a search ends promptly
//! with `complete == false`. Progress is reported by worker 0, which runs on the calling thread.

mod bfs;
mod dfs;
mod search;
#[cfg(test)]
mod tests;
mod trace;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use quorate_model::checkable::{Checkable, Kind};

use crate::report::{PropertyReport, Report, Status, Step};

use search::{Control, Explore, Found, FpMap, FpSet, Search, Visited};

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
    /// Stop (incomplete) once the process's resident memory reaches this many bytes, checked
    /// about twice a second: a partial report instead of the kernel's OOM kill.
    pub max_memory: Option<u64>,
    /// Called about every `progress_every` seconds from one thread.
    // The type is part of the fixed API that other modules use.
    #[allow(clippy::type_complexity)]
    pub progress: Option<Arc<dyn Fn(&Progress) + Send + Sync>>,
    /// Seconds between progress calls (default 2 when 0).
    pub progress_every: f64,
    /// Set to true (e.g. by a Ctrl-C handler) to stop early with a partial, incomplete result.
    pub stop: Option<Arc<AtomicBool>>,
    /// When to stop once something is violated (BFS only; DFS always exhausts).
    pub stop_after: StopAfter,
    /// Also build traces for witnessed `Sometimes` properties (the CLI's `--witnesses`).
    /// Violations always get one. Each trace costs a rerun of the search up to the discovery's
    /// level, so witnesses, which are rarely read, get none by default: their
    /// [`PropertyOutcome::trace`] is then `None` and their status still `Witnessed`.
    pub witness_traces: bool,
}

/// Whether the search goes on after a violation. The breadth-first search only ever stops at
/// the end of a level, so every violation found is still reported with a shortest trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StopAfter {
    /// Explore everything, so every property gets a final verdict.
    #[default]
    Exhaustive,
    /// Stop at the end of the first level in which an always/eventually property is violated
    /// (what TLC and SPIN do); other properties may stay unknown.
    FirstViolation,
    /// Stop at the end of the level in which the named property is violated.
    Violation(String),
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

impl<M: Checkable> Trace<M>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    /// The state the trace ends in.
    pub fn last_state(&self) -> &M::State {
        self.steps.last().map_or(&self.init, |(_, s)| s)
    }
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
    /// A shortest path to the first violating (or witnessing) state. `None` when nothing was
    /// discovered, for a witness unless [`Options::witness_traces`] is set, and when the rerun
    /// that rebuilds traces was stopped by a limit before reaching the state.
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
///
/// Under [`Strategy::Dfs`], `max_depth` is the depth of the deepest state on a DFS path (not a
/// shortest-path depth, and with several threads it varies from run to run), as in stateright.
pub fn check<M: Checkable>(model: &M, options: &Options) -> Outcome<M>
where
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    let search = Search::new(model, options.threads.max(1));
    let control = Control::new(options);
    let every_prop = vec![true; search.props.len()];

    // Which discoveries get a trace: violations always, witnesses only on request (each trace
    // costs a bounded rerun of the search, see `retrace`).
    let wants_trace = |found: &Found| -> Vec<bool> {
        found
            .iter()
            .zip(&search.props)
            .map(|(d, prop)| {
                d.is_some() && (prop.kind != Kind::Sometimes || options.witness_traces)
            })
            .collect()
    };

    let (run, traces) = match options.strategy {
        Strategy::Bfs => {
            let mut visited = Visited::<FpSet>::new();
            let run = bfs::run(&search, &control, &mut visited, &every_prop, None);
            // Free the fingerprints before the rerun builds its own set, with parents.
            drop(visited);
            let targets = wants_trace(&run.found);
            let mut traces: Vec<Option<Trace<M>>> = targets.iter().map(|_| None).collect();
            if let Some((short, rerun_halted, visited)) =
                retrace(&search, &control, &run.found, &targets)
            {
                for (p, slot) in traces.iter_mut().enumerate() {
                    let Some(d) = run.found[p].filter(|_| targets[p]) else {
                        continue;
                    };
                    // The rerun is the same level-synchronous search with the same tie-breaks,
                    // so unless a limit cut either run short it picks the very same state.
                    assert!(
                        control.halted() || rerun_halted || short[p] == Some(d),
                        "the trace rerun discovered {:?} where the search discovered {d:?}",
                        short[p]
                    );
                    *slot = trace::rebuild_visited(&search, &visited, d.fp);
                }
            }
            (run, traces)
        }
        Strategy::Dfs => {
            let visited = Visited::<FpMap>::new();
            let run = dfs::run(&search, &control, &visited);
            let targets = wants_trace(&run.found);
            let wanted: Found = run
                .found
                .iter()
                .zip(&targets)
                .map(|(d, &t)| d.filter(|_| t))
                .collect();
            // The DFS traces are the fallback should the shortening BFS be cut short.
            let mut traces = trace::rebuild_all(&search, &visited, &wanted);
            // Free the DFS's visited set before the BFS builds its own.
            drop(visited);
            if let Some((short, _, visited)) = retrace(&search, &control, &wanted, &targets) {
                for (slot, shorter) in traces
                    .iter_mut()
                    .zip(trace::rebuild_all(&search, &visited, &short))
                {
                    if shorter.is_some() {
                        *slot = shorter;
                    }
                }
            }
            (run, traces)
        }
    };

    let properties = search
        .props
        .iter()
        .zip(traces)
        .zip(&run.found)
        .map(|((prop, trace), found)| {
            let status = match (prop.kind, found.is_some(), run.complete) {
                (Kind::Sometimes, true, _) => Status::Witnessed,
                (Kind::Sometimes, false, true) => Status::Unwitnessed,
                (_, true, _) => Status::Violated,
                (_, false, true) => Status::Holds,
                (_, false, false) => Status::Unknown,
            };
            PropertyOutcome { status, trace }
        })
        .collect();

    Outcome {
        complete: run.complete,
        states_unique: run.unique,
        states_total: run.total,
        max_depth: run.max_depth,
        seconds: control.seconds(),
        properties,
    }
}

/// Rerun the breadth-first search with parent pointers, bounded to the deepest discovery in
/// `found` among `targets`, to rebuild shortest traces after a search that kept no parents.
///
/// Returns the rerun's discoveries, whether a limit stopped it, and its visited set; `None` if
/// no target was discovered. The rerun shares the search's clock and limits (fresh state count),
/// so a search that ran into `max_seconds` or `stop` gets no rerun to speak of: its discoveries
/// then keep their status (violated or witnessed) but have no trace.
fn retrace<M: Explore>(
    search: &Search<M>,
    control: &Control,
    found: &Found,
    targets: &[bool],
) -> Option<(Found, bool, Visited<FpMap>)> {
    let bound = found
        .iter()
        .zip(targets)
        .filter(|&(_, &t)| t)
        .filter_map(|(d, _)| d.map(|d| d.level))
        .max()?;
    let rerun_control = control.rerun();
    let mut visited = Visited::<FpMap>::new();
    let short = bfs::run(search, &rerun_control, &mut visited, targets, Some(bound));
    Some((short.found, rerun_control.halted(), visited))
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
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync + serde::Serialize,
    M::Action: Clone + std::fmt::Debug + Send + Sync + serde::Serialize,
{
    let properties = model
        .props()
        .iter()
        .zip(&outcome.properties)
        .map(|(prop, result)| {
            let mut steps = Vec::new();
            let mut explanation = None;
            if let Some(trace) = &result.trace {
                let mut before = &trace.init;
                for (action, after) in &trace.steps {
                    steps.push(Step {
                        action: model.describe_action(before, action),
                        changes: model.describe_change(before, after),
                    });
                    before = after;
                }
                explanation = Some((prop.explain)(model, trace.last_state()));
            }
            PropertyReport {
                name: prop.name.to_string(),
                spec_id: prop.spec_id.to_string(),
                kind: prop.kind.as_str().to_string(),
                status: result.status,
                // Step 0 names the initial state, so a violation in an initial state still has
                // a (one-line) trace.
                trace: result
                    .trace
                    .iter()
                    .map(|_| "0. initial state".to_string())
                    .chain(
                        steps
                            .iter()
                            .enumerate()
                            .map(|(i, step)| format!("{}. {}", i + 1, step.action)),
                    )
                    .collect(),
                steps,
                explanation,
                recorded: result
                    .trace
                    .as_ref()
                    .map(|t| crate::trace::record(model, &t.init, &t.steps)),
            }
        })
        .collect();

    Report {
        protocol: protocol.to_string(),
        config: config.to_string(),
        mutant: mutant.map(str::to_string),
        parameters,
        strategy: match options.strategy {
            Strategy::Bfs => "bfs",
            Strategy::Dfs => "dfs",
        }
        .to_string(),
        threads: options.threads.max(1),
        symmetry: model.symmetry(),
        complete: outcome.complete,
        states_unique: outcome.states_unique,
        states_total: outcome.states_total,
        max_depth: outcome.max_depth,
        seconds: outcome.seconds,
        peak_memory_bytes: search::proc_status_bytes("VmHWM:"),
        properties,
    }
}
