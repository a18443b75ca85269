//! The level-synchronous breadth-first search (see the parent module for why it is built so).

use std::sync::atomic::{AtomicUsize, Ordering};

use quorate_model::checkable::Kind;

use super::search::{
    Batch, Control, Explore, Found, RunResult, Search, State, Table, Visited, merge_found,
};

/// A level's states as the workers left them: one vector per worker, each entry the canonical
/// fingerprint and the first state seen of that class, in the form [`Search::keep`] gives
/// (the representative under symmetry). Traces are replayed from concrete initial states.
type Level<M> = Vec<Vec<(u64, State<M>)>>;

/// Frontier states a worker claims at a time: small enough for prompt limit checks and even
/// sharing between workers, large enough to make the claim (one atomic add) negligible.
const MAX_CHUNK: usize = 1024;

/// Explore `search.model` level by level and judge the properties flagged in `targets`.
///
/// The main search passes a visited set without parents ([`super::search::FpSet`]).
/// With `max_level`, the search is the rerun that rebuilds (BFS) or shortens (DFS) traces, over
/// a visited set with parents: states deeper than `max_level` are not inserted (states at
/// `max_level` are still expanded, to judge quiescence), and the search ends once every target
/// is discovered.
pub(super) fn run<M: Explore, T: Table>(
    search: &Search<M>,
    control: &Control,
    visited: &mut Visited<T>,
    targets: &[bool],
    max_level: Option<u64>,
) -> RunResult {
    let mut found: Found = vec![None; search.props.len()];
    // Properties still to judge, by kind: once a property is discovered at some level, deeper
    // levels cannot beat it, so it is dropped from the lists at the next level boundary (but
    // judged throughout its own level, where the smallest fingerprint must win).
    let pending = |found: &Found, eventually: bool| -> Vec<usize> {
        (0..search.props.len())
            .filter(|&p| targets[p] && found[p].is_none())
            .filter(|&p| (search.props[p].kind == Kind::Eventually) == eventually)
            .collect()
    };

    let (init, init_total) = search.init(visited, &pending(&found, false), &mut found);
    control
        .unique
        .fetch_add(init.len() as u64, Ordering::Relaxed);
    control.total.fetch_add(init_total, Ordering::Relaxed);

    let mut frontier: Level<M> = vec![init];
    let mut level = 0;
    let mut max_depth = 0;
    let mut complete = false;
    loop {
        if frontier.iter().all(Vec::is_empty) {
            complete = true;
            break;
        }
        max_depth = level;
        if max_level.is_some() && (0..targets.len()).all(|p| !targets[p] || found[p].is_some()) {
            break;
        }
        if control.should_stop() {
            break;
        }
        let judge = pending(&found, false);
        let eventual = pending(&found, true);
        let expand_only = max_level.is_some_and(|m| level >= m);
        let outs = expand_level(
            search,
            control,
            visited,
            &frontier,
            level,
            &judge,
            &eventual,
            expand_only,
        );
        // Only the current and the next level hold states.
        drop(frontier);
        let mut next: Level<M> = Vec::with_capacity(outs.len());
        for out in outs {
            merge_found(&mut found, &out.found);
            next.push(out.next);
        }
        let next_is_empty = next.iter().all(Vec::is_empty);
        if !next_is_empty {
            max_depth = level + 1;
        }
        if control.halted() {
            break;
        }
        if max_level.is_none() && control.stop_rule_met(search, &found) {
            // Not complete: the levels below were never explored.
            complete = next_is_empty;
            max_depth = level;
            frontier = next;
            let _ = &frontier;
            break;
        }
        if !next_is_empty {
            visited.settle(&next, search.threads);
        }
        frontier = next;
        level += 1;
    }
    RunResult {
        found,
        complete: complete && !control.halted(),
        unique: control.unique.load(Ordering::Relaxed),
        total: control.total.load(Ordering::Relaxed),
        max_depth,
    }
}

/// What one worker produced while expanding a level.
struct WorkerOut<M: Explore> {
    /// The new states it inserted (the next level's share).
    next: Vec<(u64, State<M>)>,
    /// Its discoveries.
    found: Found,
}

/// Expand every state of `frontier` (level `level`) with all workers; worker 0 runs on the
/// calling thread.
#[allow(clippy::too_many_arguments)]
fn expand_level<M: Explore, T: Table>(
    search: &Search<M>,
    control: &Control,
    visited: &Visited<T>,
    frontier: &Level<M>,
    level: u64,
    judge: &[usize],
    eventual: &[usize],
    expand_only: bool,
) -> Vec<WorkerOut<M>> {
    let size: usize = frontier.iter().map(Vec::len).sum();
    let chunk = (size / (search.threads * 8)).clamp(1, MAX_CHUNK);
    let chunks: Vec<(usize, usize, usize)> = frontier
        .iter()
        .enumerate()
        .flat_map(|(v, states)| {
            (0..states.len())
                .step_by(chunk)
                .map(move |lo| (v, lo, (lo + chunk).min(states.len())))
        })
        .collect();
    let next_chunk = AtomicUsize::new(0);
    let work = |worker: usize| {
        let mut expander = Expander {
            search,
            control,
            visited,
            level,
            judge,
            eventual,
            expand_only,
            out: WorkerOut {
                next: Vec::new(),
                found: vec![None; search.props.len()],
            },
            batch: Batch::new(),
        };
        let mut actions = Vec::new();
        loop {
            if worker == 0 {
                control.tick(level);
            }
            if control.should_stop() {
                break;
            }
            let i = next_chunk.fetch_add(1, Ordering::Relaxed);
            let Some(&(v, lo, hi)) = chunks.get(i) else {
                break;
            };
            let mut generated = 0;
            for (fp, state) in &frontier[v][lo..hi] {
                generated += expander.expand(*fp, state, &mut actions);
            }
            // Flushing per chunk keeps the unique count current for `max_states`.
            expander.flush();
            control.total.fetch_add(generated, Ordering::Relaxed);
        }
        expander.out
    };
    if search.threads == 1 || chunks.len() == 1 {
        return vec![work(0)];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let helpers: Vec<_> = (1..search.threads)
            .map(|w| scope.spawn(move || work(w)))
            .collect();
        let mut outs = vec![work(0)];
        outs.extend(
            helpers
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        outs
    })
}

/// One worker's expansion state for one level.
struct Expander<'a, 'm, 'o, M: Explore, T: Table> {
    search: &'a Search<'m, M>,
    control: &'a Control<'o>,
    visited: &'a Visited<T>,
    level: u64,
    judge: &'a [usize],
    eventual: &'a [usize],
    expand_only: bool,
    out: WorkerOut<M>,
    batch: Batch<State<M>>,
}

impl<M: Explore, T: Table> Expander<'_, '_, '_, M, T> {
    /// Generate the successors of `state` (fingerprint `fp`) into the batch and judge the
    /// `Eventually` properties if it is quiescent. Returns the number of successors generated.
    #[inline]
    fn expand(&mut self, fp: u64, state: &State<M>, actions: &mut Vec<M::Action>) -> u64 {
        let model = self.search.model;
        // Quiescence is only worth computing while an `Eventually` property is undecided.
        let mut quiescent = !self.eventual.is_empty();
        let mut generated = 0;
        model.actions(state, actions);
        for action in actions.drain(..) {
            let fault = quiescent && model.is_fault(&action);
            let Some(next) = model.next_state(state, action) else {
                continue;
            };
            if quiescent && !fault && next != *state {
                quiescent = false;
            }
            if !model.within_boundary(&next) {
                continue;
            }
            generated += 1;
            if self.expand_only {
                continue;
            }
            let (next_fp, next) = self.search.keep(next);
            self.batch.push(next_fp, fp, next);
            if self.batch.is_full() {
                self.flush();
            }
        }
        if quiescent {
            self.search
                .judge_quiescent(self.eventual, state, self.level, fp, &mut self.out.found);
        }
        generated
    }

    /// Insert the batch; judge the new states (they are at `level + 1`).
    fn flush(&mut self) {
        let before = self.out.next.len();
        let next = &mut self.out.next;
        let new = self
            .batch
            .flush(self.visited, true, |fp, s| next.push((fp, s)));
        self.control.unique.fetch_add(new, Ordering::Relaxed);
        if !self.judge.is_empty() {
            for (fp, state) in &self.out.next[before..] {
                self.search
                    .judge_new(self.judge, state, self.level + 1, *fp, &mut self.out.found);
            }
        }
    }
}
