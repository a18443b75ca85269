//! Tests of the engine on small models that implement both stateright's `Model` (so its own
//! checkers give reference counts) and `Checkable`.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use quorate_model::checkable::{Checkable, Kind, Property};
use stateright::{Checker, Model, Property as SrProperty};

use super::{Options, Outcome, Strategy, Trace, check, to_report};
use crate::report::Status;

// ---------------------------------------------------------------------------------------------
// Models

/// `n` interchangeable counters, each counting up to `max` and then resetting to 0 (so the
/// state graph has cycles). Optionally bounded by the sum of the counters.
#[derive(Clone)]
struct Counters {
    n: usize,
    max: u8,
    /// `sum_below` is violated once the counters sum to `target`.
    target: u32,
    symmetric: bool,
    bound: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CounterAction {
    Inc(usize),
    Reset(usize),
}

fn sum(s: &[u8]) -> u32 {
    s.iter().map(|&c| u32::from(c)).sum()
}

/// The symmetry representative of a counters state (a plain fn, as stateright's
/// `symmetry_fn` needs).
#[allow(clippy::ptr_arg)] // Must be a `fn(&State) -> State`.
fn sorted(s: &Vec<u8>) -> Vec<u8> {
    let mut s = s.clone();
    s.sort_unstable();
    s
}

impl Counters {
    fn new(n: usize, max: u8, target: u32) -> Self {
        Counters {
            n,
            max,
            target,
            symmetric: false,
            bound: None,
        }
    }
    fn symmetric(self) -> Self {
        Counters {
            symmetric: true,
            ..self
        }
    }
}

impl Model for Counters {
    type State = Vec<u8>;
    type Action = CounterAction;
    fn init_states(&self) -> Vec<Vec<u8>> {
        vec![vec![0; self.n]]
    }
    fn actions(&self, s: &Vec<u8>, actions: &mut Vec<CounterAction>) {
        for (i, &c) in s.iter().enumerate() {
            actions.push(if c < self.max {
                CounterAction::Inc(i)
            } else {
                CounterAction::Reset(i)
            });
        }
    }
    fn next_state(&self, s: &Vec<u8>, action: CounterAction) -> Option<Vec<u8>> {
        let mut s = s.clone();
        match action {
            CounterAction::Inc(i) => s[i] += 1,
            CounterAction::Reset(i) => s[i] = 0,
        }
        Some(s)
    }
    fn within_boundary(&self, s: &Vec<u8>) -> bool {
        self.bound.is_none_or(|b| sum(s) <= b)
    }
    fn properties(&self) -> Vec<SrProperty<Self>> {
        vec![
            SrProperty::always("sum_below", |m: &Self, s: &Vec<u8>| sum(s) < m.target),
            SrProperty::sometimes("some_two", |_, s: &Vec<u8>| s.contains(&2)),
            // Never discovered, so stateright explores everything.
            SrProperty::always("trivial", |_, _| true),
        ]
    }
}

impl Checkable for Counters {
    fn props(&self) -> Vec<Property<Self>> {
        #[allow(clippy::ptr_arg)] // Must be a `fn(&M, &State) -> String`.
        fn explain(_: &Counters, s: &Vec<u8>) -> String {
            format!("the counters sum to {}", sum(s))
        }
        let prop = |name, kind, condition: fn(&Self, &Vec<u8>) -> bool| Property {
            name,
            spec_id: "T1",
            kind,
            condition,
            explain,
            doc: "test",
        };
        vec![
            prop("sum_below", Kind::Always, |m, s| sum(s) < m.target),
            prop("some_two", Kind::Sometimes, |_, s| s.contains(&2)),
            prop("trivial", Kind::Always, |_, _| true),
            prop("impossible", Kind::Sometimes, |m, s| {
                s.iter().any(|&c| c > m.max)
            }),
            prop("starts_at_zero", Kind::Sometimes, |_, s| sum(s) == 0),
        ]
    }
    fn symmetry(&self) -> bool {
        self.symmetric
    }
    fn representative(&self, s: &Vec<u8>) -> Vec<u8> {
        sorted(s)
    }
}

/// A `w` x `h` sliding puzzle; `unsolved` is violated at the solution.
#[derive(Clone)]
struct Puzzle {
    w: usize,
    h: usize,
    init: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Dir {
    Up,
    Down,
    Left,
    Right,
}

impl Puzzle {
    fn goal(w: usize, h: usize) -> Vec<u8> {
        let mut g: Vec<u8> = (1..(w * h) as u8).collect();
        g.push(0);
        g
    }
    /// The goal scrambled by `moves` pseudo-random blank moves (so it is solvable).
    fn scrambled(w: usize, h: usize, moves: usize) -> Self {
        let mut p = Puzzle {
            w,
            h,
            init: Self::goal(w, h),
        };
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut last = None;
        for _ in 0..moves {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let dir = [Dir::Up, Dir::Down, Dir::Left, Dir::Right][(x >> 62) as usize];
            let undo = match dir {
                Dir::Up => Dir::Down,
                Dir::Down => Dir::Up,
                Dir::Left => Dir::Right,
                Dir::Right => Dir::Left,
            };
            if last == Some(undo) {
                continue;
            }
            if let Some(s) = p.next_state(&p.init, dir) {
                p.init = s;
                last = Some(dir);
            }
        }
        p
    }
}

impl Model for Puzzle {
    type State = Vec<u8>;
    type Action = Dir;
    fn init_states(&self) -> Vec<Vec<u8>> {
        vec![self.init.clone()]
    }
    fn actions(&self, _: &Vec<u8>, actions: &mut Vec<Dir>) {
        // Moves off the board are offered too: `next_state` returns `None` for them.
        actions.extend([Dir::Up, Dir::Down, Dir::Left, Dir::Right]);
    }
    fn next_state(&self, s: &Vec<u8>, dir: Dir) -> Option<Vec<u8>> {
        let blank = s.iter().position(|&c| c == 0)?;
        let (x, y) = (blank % self.w, blank / self.w);
        let to = match dir {
            Dir::Up if y > 0 => blank - self.w,
            Dir::Down if y + 1 < self.h => blank + self.w,
            Dir::Left if x > 0 => blank - 1,
            Dir::Right if x + 1 < self.w => blank + 1,
            _ => return None,
        };
        let mut s = s.clone();
        s.swap(blank, to);
        Some(s)
    }
    fn properties(&self) -> Vec<SrProperty<Self>> {
        vec![
            SrProperty::always("unsolved", |m: &Self, s: &Vec<u8>| {
                *s != Puzzle::goal(m.w, m.h)
            }),
            SrProperty::always("trivial", |_, _| true),
        ]
    }
}

impl Checkable for Puzzle {
    fn props(&self) -> Vec<Property<Self>> {
        vec![Property {
            name: "unsolved",
            spec_id: "P1",
            kind: Kind::Always,
            condition: |m, s| *s != Puzzle::goal(m.w, m.h),
            explain: |_, s| format!("solved: {s:?}"),
            doc: "test",
        }]
    }
}

/// A sender that sends one message over a link that may lose it once (a fault), optionally
/// retransmitting. `Noop` never changes anything and `Flap` is a fault that always can, so
/// neither may stop a state from being quiescent.
#[derive(Clone)]
struct Delivery {
    retry: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
struct Link {
    sent: bool,
    in_flight: bool,
    delivered: bool,
    lost: u8,
    flag: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
enum LinkAction {
    Send,
    Lose,
    Deliver,
    Retry,
    Noop,
    Flap,
}

impl Model for Delivery {
    type State = Link;
    type Action = LinkAction;
    fn init_states(&self) -> Vec<Link> {
        let link = Link {
            sent: false,
            in_flight: false,
            delivered: false,
            lost: 0,
            flag: false,
        };
        vec![link.clone(), Link { flag: true, ..link }]
    }
    fn actions(&self, _: &Link, actions: &mut Vec<LinkAction>) {
        use LinkAction::*;
        actions.extend([Send, Lose, Deliver, Retry, Noop, Flap]);
    }
    fn next_state(&self, s: &Link, action: LinkAction) -> Option<Link> {
        let mut s = s.clone();
        match action {
            LinkAction::Send if !s.sent => {
                s.sent = true;
                s.in_flight = true;
            }
            LinkAction::Lose if s.in_flight && s.lost < 1 => {
                s.in_flight = false;
                s.lost += 1;
            }
            LinkAction::Deliver if s.in_flight => {
                s.in_flight = false;
                s.delivered = true;
            }
            LinkAction::Retry if self.retry && s.sent && !s.in_flight && !s.delivered => {
                s.in_flight = true;
            }
            LinkAction::Noop => {}
            LinkAction::Flap => s.flag = !s.flag,
            _ => return None,
        }
        Some(s)
    }
    fn properties(&self) -> Vec<SrProperty<Self>> {
        vec![SrProperty::always("trivial", |_, _| true)]
    }
}

impl Checkable for Delivery {
    fn props(&self) -> Vec<Property<Self>> {
        vec![
            Property {
                name: "delivered",
                spec_id: "D1",
                kind: Kind::Eventually,
                condition: |_, s| s.delivered,
                explain: |_, s| format!("quiescent with delivered = {}", s.delivered),
                doc: "test",
            },
            Property {
                name: "lost_once",
                spec_id: "D1.s1",
                kind: Kind::Sometimes,
                condition: |_, s| s.lost == 1,
                explain: |_, s| format!("lost {} times", s.lost),
                doc: "test",
            },
            Property {
                name: "one_loss_at_most",
                spec_id: "D2",
                kind: Kind::Always,
                condition: |_, s| s.lost <= 1,
                explain: |_, s| format!("lost {} times", s.lost),
                doc: "test",
            },
        ]
    }
    fn is_fault(&self, action: &LinkAction) -> bool {
        matches!(action, LinkAction::Lose | LinkAction::Flap)
    }
    fn describe_action(&self, _: &Link, action: &LinkAction) -> String {
        format!("sender: {action:?}").to_lowercase()
    }
    fn describe_change(&self, before: &Link, after: &Link) -> Vec<String> {
        let mut changes = Vec::new();
        if before.in_flight != after.in_flight {
            changes.push(format!(
                "in_flight: {} -> {}",
                before.in_flight, after.in_flight
            ));
        }
        if before.lost != after.lost {
            changes.push(format!("lost: {} -> {}", before.lost, after.lost));
        }
        changes
    }
}

/// One counter that may only progress up to `limit`, beyond the boundary `bound`: the states at
/// the boundary can still act, so they are not quiescent and `at_limit` holds.
#[derive(Clone)]
struct Climb {
    bound: u8,
    limit: u8,
}

impl Model for Climb {
    type State = u8;
    type Action = ();
    fn init_states(&self) -> Vec<u8> {
        vec![0]
    }
    fn actions(&self, _: &u8, actions: &mut Vec<()>) {
        actions.push(());
    }
    fn next_state(&self, s: &u8, _: ()) -> Option<u8> {
        (*s < self.limit).then_some(s + 1)
    }
    fn within_boundary(&self, s: &u8) -> bool {
        *s <= self.bound
    }
    fn properties(&self) -> Vec<SrProperty<Self>> {
        vec![SrProperty::always("trivial", |_, _| true)]
    }
}

impl Checkable for Climb {
    fn props(&self) -> Vec<Property<Self>> {
        vec![Property {
            name: "at_limit",
            spec_id: "C1",
            kind: Kind::Eventually,
            condition: |m, s| *s == m.limit,
            explain: |_, s| format!("stopped at {s}"),
            doc: "test",
        }]
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// BFS with witness traces, so tests can check those too.
fn opts(threads: usize) -> Options {
    Options {
        threads,
        witness_traces: true,
        ..Options::default()
    }
}

/// DFS with witness traces.
fn dfs(threads: usize) -> Options {
    Options {
        threads,
        strategy: Strategy::Dfs,
        witness_traces: true,
        ..Options::default()
    }
}

fn prop_index<M: Checkable>(model: &M, name: &str) -> usize
where
    M::State: Clone + std::fmt::Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    model
        .props()
        .iter()
        .position(|p| p.name == name)
        .expect("property exists")
}

fn trace_of<'a, M: Checkable>(model: &M, outcome: &'a Outcome<M>, name: &str) -> &'a Trace<M>
where
    M::State: Clone + std::fmt::Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    outcome.properties[prop_index(model, name)]
        .trace
        .as_ref()
        .expect("a trace")
}

fn status_of<M: Checkable>(model: &M, outcome: &Outcome<M>, name: &str) -> Status
where
    M::State: Clone + std::fmt::Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    outcome.properties[prop_index(model, name)].status
}

/// Everything an outcome says except the wall time (and, for DFS, the depth of its deepest
/// path, which depends on how the workers split the work), for comparing runs.
fn summary<M: Checkable>(o: &Outcome<M>, strategy: Strategy) -> String
where
    M::State: Clone + std::fmt::Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    let props: Vec<String> = o
        .properties
        .iter()
        .map(|p| format!("{:?} {:?}", p.status, p.trace.as_ref().map(|t| &t.steps)))
        .collect();
    let depth = if strategy == Strategy::Bfs {
        o.max_depth
    } else {
        0
    };
    format!(
        "complete={} unique={} total={} depth={depth} {props:#?}",
        o.complete, o.states_unique, o.states_total
    )
}

/// Shortest number of steps from an initial state to a state satisfying `goal`, by a plain BFS
/// over concrete states (no symmetry, no fingerprints), inside the boundary.
fn shortest<M: Model>(model: &M, goal: impl Fn(&M::State) -> bool) -> Option<usize>
where
    M::State: Clone + Hash + Eq,
{
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    for s in model.init_states() {
        if model.within_boundary(&s) && seen.insert(s.clone()) {
            queue.push_back((s, 0));
        }
    }
    while let Some((s, d)) = queue.pop_front() {
        if goal(&s) {
            return Some(d);
        }
        for next in model.next_states(&s) {
            if model.within_boundary(&next) && seen.insert(next.clone()) {
                queue.push_back((next, d + 1));
            }
        }
    }
    None
}

/// Assert that `trace` is a real path of `model`.
fn assert_replays<M: Checkable>(model: &M, trace: &Trace<M>)
where
    M::State: Clone + std::fmt::Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    assert!(model.init_states().contains(&trace.init));
    let mut state = &trace.init;
    for (action, next) in &trace.steps {
        assert_eq!(model.next_state(state, action.clone()).as_ref(), Some(next));
        state = next;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn unique_counts_match_stateright_bfs_without_symmetry() {
    let bounded = Counters {
        bound: Some(5),
        ..Counters::new(3, 3, 9)
    };
    let cases = [
        (Counters::new(3, 3, 5), Some(64)),
        (Counters::new(4, 2, 5), Some(81)),
        (bounded, None),
    ];
    for (model, expected) in cases {
        let reference = model.clone().checker().spawn_bfs().join();
        for threads in [1, 2, 4] {
            let o = check(&model, &opts(threads));
            assert!(o.complete);
            assert_eq!(o.states_unique, reference.unique_state_count() as u64);
            assert_eq!(o.states_total, reference.state_count() as u64);
            if let Some(expected) = expected {
                assert_eq!(o.states_unique, expected);
            }
        }
    }
    let puzzle = Puzzle::scrambled(3, 2, 30);
    let reference = puzzle.clone().checker().spawn_bfs().join();
    assert_eq!(reference.unique_state_count(), 360);
    assert_eq!(check(&puzzle, &opts(2)).states_unique, 360);

    let delivery = Delivery { retry: true };
    let reference = delivery.clone().checker().spawn_bfs().join();
    assert_eq!(
        check(&delivery, &opts(2)).states_unique,
        reference.unique_state_count() as u64
    );
}

#[test]
fn unique_counts_match_stateright_dfs_with_symmetry() {
    for (n, max) in [(4, 3), (5, 2), (3, 4)] {
        let model = Counters::new(n, max, 100).symmetric();
        let reference = model
            .clone()
            .checker()
            .symmetry_fn(sorted)
            .spawn_dfs()
            .join();
        // Multisets of n counter values in 0..=max: C(n + max, n).
        let classes = (1..=u64::from(max)).fold(1, |acc, k| acc * (n as u64 + k) / k);
        assert_eq!(reference.unique_state_count() as u64, classes);
        for threads in [1, 2, 4] {
            let o = check(&model, &opts(threads));
            assert_eq!(o.states_unique, classes, "bfs, {threads} threads");
            let o = check(&model, &dfs(threads));
            assert_eq!(o.states_unique, classes, "dfs, {threads} threads");
        }
    }
}

#[test]
fn counterexamples_are_shortest_with_symmetry_and_threads() {
    let puzzle = Puzzle::scrambled(3, 3, 60);
    let goal = Puzzle::goal(3, 3);
    let distance = shortest(&puzzle, |s| *s == goal).expect("solvable");
    assert!(distance >= 10, "a scramble worth solving: {distance}");
    for threads in [1, 2, 4] {
        let o = check(&puzzle, &opts(threads));
        assert_eq!(o.states_unique, 181_440);
        let trace = trace_of(&puzzle, &o, "unsolved");
        assert_eq!(trace.steps.len(), distance, "{threads} threads");
        assert_eq!(trace.last_state(), &goal);
        assert_replays(&puzzle, trace);
    }

    for symmetric in [false, true] {
        let mut model = Counters::new(4, 3, 7);
        model.symmetric = symmetric;
        let want = shortest(&model, |s| sum(s) >= 7).expect("reachable");
        let want_two = shortest(&model, |s| s.contains(&2)).expect("reachable");
        for threads in [1, 2, 4] {
            let o = check(&model, &opts(threads));
            let trace = trace_of(&model, &o, "sum_below");
            assert_eq!(trace.steps.len(), want);
            assert_eq!(sum(trace.last_state()), 7);
            assert_replays(&model, trace);
            assert_eq!(trace_of(&model, &o, "some_two").steps.len(), want_two);
        }
    }
}

#[test]
fn stateright_bfs_reports_a_longer_counterexample() {
    let model = Counters::new(3, 3, 3);
    let reference = model.clone().checker().spawn_bfs().join();
    let theirs = reference
        .discovery("sum_below")
        .expect("stateright finds it")
        .into_actions()
        .len();
    let ours = trace_of(&model, &check(&model, &opts(1)), "sum_below")
        .steps
        .len();
    println!("sum_below: stateright BFS {theirs} steps, quorate {ours}");
    assert_eq!(ours, 3);
    assert!(theirs > ours, "stateright: {theirs} steps, quorate: {ours}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let counters = Counters::new(5, 3, 9);
    let symmetric = Counters::new(6, 3, 11).symmetric();
    let puzzle = Puzzle::scrambled(3, 3, 40);
    let delivery = Delivery { retry: false };
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        let run = |threads| Options {
            threads,
            strategy,
            witness_traces: true,
            ..Options::default()
        };
        let one = summary(&check(&counters, &run(1)), strategy);
        assert_eq!(one, summary(&check(&counters, &run(2)), strategy));
        assert_eq!(one, summary(&check(&counters, &run(4)), strategy));
        let one = summary(&check(&symmetric, &run(1)), strategy);
        assert_eq!(one, summary(&check(&symmetric, &run(2)), strategy));
        assert_eq!(one, summary(&check(&symmetric, &run(4)), strategy));
        let one = summary(&check(&delivery, &run(1)), strategy);
        assert_eq!(one, summary(&check(&delivery, &run(4)), strategy));
        if strategy == Strategy::Bfs {
            let one = summary(&check(&puzzle, &run(1)), strategy);
            assert_eq!(one, summary(&check(&puzzle, &run(2)), strategy));
            assert_eq!(one, summary(&check(&puzzle, &run(4)), strategy));
        }
    }
    // Thread 0 is also `threads: 0`.
    assert_eq!(
        summary(&check(&counters, &opts(0)), Strategy::Bfs),
        summary(&check(&counters, &opts(1)), Strategy::Bfs)
    );
}

#[test]
fn limits_end_the_search_incomplete() {
    let model = Counters::new(4, 3, 100);
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        for threads in [1, 2] {
            let base = Options {
                threads,
                strategy,
                ..Options::default()
            };
            let mut limited = vec![
                Options {
                    max_states: Some(20),
                    ..base.clone()
                },
                Options {
                    max_seconds: Some(0.0),
                    ..base.clone()
                },
                Options {
                    stop: Some(Arc::new(AtomicBool::new(true))),
                    ..base.clone()
                },
            ];
            if cfg!(target_os = "linux") {
                // Any process holds more than one byte: the first reading stops it.
                limited.push(Options {
                    max_memory: Some(1),
                    ..base.clone()
                });
            }
            for options in limited {
                let o = check(&model, &options);
                assert!(!o.complete);
                assert!(o.states_unique < 256);
                assert_eq!(status_of(&model, &o, "sum_below"), Status::Unknown);
                assert_eq!(status_of(&model, &o, "trivial"), Status::Unknown);
                assert_eq!(status_of(&model, &o, "impossible"), Status::Unknown);
                // Judged on the initial state before any limit applies.
                assert_eq!(status_of(&model, &o, "starts_at_zero"), Status::Witnessed);
            }
            let o = check(
                &model,
                &Options {
                    max_states: Some(1_000),
                    ..base.clone()
                },
            );
            assert!(o.complete);
            assert_eq!(o.states_unique, 256);
        }
    }
    // A state limit is checked within a level, not only between levels.
    let o = check(
        &Counters::new(8, 3, 100),
        &Options {
            max_states: Some(100),
            ..opts(1)
        },
    );
    assert!(
        !o.complete && o.states_unique < 2_000,
        "{}",
        o.states_unique
    );
}

#[test]
fn dfs_finds_the_same_states_and_shortest_traces() {
    let puzzle = Puzzle::scrambled(3, 3, 60);
    let goal = Puzzle::goal(3, 3);
    let distance = shortest(&puzzle, |s| *s == goal).expect("solvable");
    let bfs_outcome = check(&puzzle, &opts(1));
    for threads in [1, 2] {
        let o = check(&puzzle, &dfs(threads));
        assert!(o.complete);
        assert_eq!(o.states_unique, 181_440);
        assert_eq!(o.states_total, bfs_outcome.states_total);
        let trace = trace_of(&puzzle, &o, "unsolved");
        assert_eq!(trace.steps.len(), distance);
        // The shortening BFS applies the same tie-breaks as a full BFS.
        assert_eq!(
            trace.steps,
            trace_of(&puzzle, &bfs_outcome, "unsolved").steps
        );
    }
    let model = Counters::new(4, 3, 7).symmetric();
    let bfs_outcome = check(&model, &opts(2));
    let dfs_outcome = check(&model, &dfs(2));
    assert_eq!(bfs_outcome.states_unique, dfs_outcome.states_unique);
    for (b, d) in bfs_outcome.properties.iter().zip(&dfs_outcome.properties) {
        assert_eq!(b.status, d.status);
        assert_eq!(
            b.trace.as_ref().map(|t| &t.steps),
            d.trace.as_ref().map(|t| &t.steps)
        );
    }
    let delivery = Delivery { retry: false };
    let o = check(&delivery, &dfs(2));
    assert_eq!(trace_of(&delivery, &o, "delivered").steps.len(), 2);
}

#[test]
fn eventually_is_judged_at_quiescent_states() {
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        let options = Options {
            threads: 2,
            strategy,
            witness_traces: true,
            ..Options::default()
        };
        let lossy = Delivery { retry: false };
        let o = check(&lossy, &options);
        assert!(o.complete);
        assert_eq!(status_of(&lossy, &o, "delivered"), Status::Violated);
        let trace = trace_of(&lossy, &o, "delivered");
        let actions: Vec<_> = trace.steps.iter().map(|(a, _)| a.clone()).collect();
        assert_eq!(actions, [LinkAction::Send, LinkAction::Lose]);
        let last = trace.last_state();
        assert!(last.sent && !last.in_flight && !last.delivered);
        assert_replays(&lossy, trace);
        assert_eq!(status_of(&lossy, &o, "lost_once"), Status::Witnessed);
        assert_eq!(trace_of(&lossy, &o, "lost_once").steps.len(), 2);
        assert_eq!(status_of(&lossy, &o, "one_loss_at_most"), Status::Holds);

        let retrying = Delivery { retry: true };
        let o = check(&retrying, &options);
        assert_eq!(status_of(&retrying, &o, "delivered"), Status::Holds);
        assert!(o.properties[0].trace.is_none());

        // Progress that only leads outside the boundary still counts as progress.
        let climb = Climb { bound: 3, limit: 5 };
        let o = check(&climb, &options);
        assert_eq!(o.states_unique, 4);
        assert_eq!(o.properties[0].status, Status::Holds);
        let stuck = Climb { bound: 9, limit: 5 };
        let o = check(&stuck, &options);
        assert_eq!(o.properties[0].status, Status::Holds);
        assert_eq!(o.max_depth, 5);
    }
}

#[test]
fn sometimes_is_witnessed_or_unwitnessed() {
    let model = Counters::new(3, 3, 5);
    for threads in [1, 3] {
        let o = check(&model, &opts(threads));
        assert_eq!(status_of(&model, &o, "some_two"), Status::Witnessed);
        assert_eq!(trace_of(&model, &o, "some_two").steps.len(), 2);
        assert_eq!(status_of(&model, &o, "starts_at_zero"), Status::Witnessed);
        assert!(trace_of(&model, &o, "starts_at_zero").steps.is_empty());
        assert_eq!(status_of(&model, &o, "impossible"), Status::Unwitnessed);
        assert_eq!(status_of(&model, &o, "trivial"), Status::Holds);
        assert_eq!(status_of(&model, &o, "sum_below"), Status::Violated);
        assert_eq!(o.max_depth, 9);
        assert!(
            o.properties[prop_index(&model, "impossible")]
                .trace
                .is_none()
        );
    }
}

#[test]
fn report_renders_traces() {
    let model = Delivery { retry: false };
    let options = Options {
        threads: 2,
        ..Options::default()
    };
    let outcome = check(&model, &options);
    let report = to_report(
        &model,
        &outcome,
        "delivery",
        "ci",
        Some("no_retry"),
        vec!["retry=false".into()],
        &options,
    );
    assert_eq!(report.strategy, "bfs");
    assert_eq!(report.threads, 2);
    assert!(!report.symmetry);
    assert!(report.complete);
    assert_eq!(report.states_unique, outcome.states_unique);
    assert_eq!(report.states_total, outcome.states_total);
    assert_eq!(report.mutant.as_deref(), Some("no_retry"));
    assert_eq!(report.exit_code(), 1);
    let delivered = &report.properties[0];
    assert_eq!(delivered.kind, "eventually");
    assert_eq!(delivered.spec_id, "D1");
    assert_eq!(delivered.status, Status::Violated);
    assert_eq!(
        delivered.trace,
        ["0. initial state", "1. sender: send", "2. sender: lose"]
    );
    assert_eq!(
        delivered.steps[1].changes,
        ["in_flight: true -> false", "lost: 0 -> 1"]
    );
    assert_eq!(
        delivered.explanation.as_deref(),
        Some("quiescent with delivered = false")
    );
    let holds = &report.properties[2];
    assert_eq!(holds.status, Status::Holds);
    assert!(holds.trace.is_empty() && holds.explanation.is_none());
    // Without `witness_traces` a witness keeps its status but gets no trace.
    let witnessed = &report.properties[prop_index(&model, "lost_once")];
    assert_eq!(witnessed.status, Status::Witnessed);
    assert!(witnessed.trace.is_empty() && witnessed.steps.is_empty());
    assert!(witnessed.explanation.is_none());

    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["strategy"], "bfs");
    assert_eq!(json["properties"][0]["status"], "violated");
    assert_eq!(json["properties"][0]["trace"][2], "2. sender: lose");
    assert!(json["properties"][0].get("steps").is_none());
    if cfg!(target_os = "linux") {
        assert!(report.peak_memory_bytes.unwrap_or(0) > 0);
    }
    let dfs_report = to_report(&model, &outcome, "d", "c", None, vec![], &dfs(0));
    assert_eq!(
        (dfs_report.strategy.as_str(), dfs_report.threads),
        ("dfs", 1)
    );
}

#[test]
fn progress_is_reported_from_the_calling_thread() {
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&calls);
        let options = Options {
            threads: 2,
            strategy,
            progress_every: 1e-6,
            progress: Some(Arc::new(move |p: &super::Progress| {
                seen.lock().unwrap().push((
                    std::thread::current().id(),
                    p.states_unique,
                    p.seconds,
                ));
            })),
            ..Options::default()
        };
        let o = check(&Counters::new(6, 3, 100), &options);
        let calls = calls.lock().unwrap();
        assert!(!calls.is_empty());
        assert!(
            calls
                .iter()
                .all(|(id, _, _)| *id == std::thread::current().id())
        );
        assert!(calls.iter().all(|(_, n, _)| *n <= o.states_unique));
        assert!(calls.windows(2).all(|w| w[0].2 <= w[1].2));
    }
}

/// A quick throughput figure: `cargo test --release -p quorate engine::tests::bench --
/// --ignored --nocapture` (set `QUORATE_BENCH=bfs2` etc. to run one configuration).
#[test]
#[ignore = "benchmark"]
fn bench() {
    let model = Counters::new(8, 5, 1_000);
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        for threads in [1, 2] {
            let name = format!("{strategy:?}{threads}").to_lowercase();
            if std::env::var("QUORATE_BENCH").is_ok_and(|only| only != name) {
                continue;
            }
            let o = check(
                &model,
                &Options {
                    threads,
                    strategy,
                    ..Options::default()
                },
            );
            println!(
                "quorate {strategy:?} threads={threads}: unique={} total={} depth={} {:.2}s \
                 -> {:.2} M unique/s, {:.2} M generated/s",
                o.states_unique,
                o.states_total,
                o.max_depth,
                o.seconds,
                o.states_unique as f64 / o.seconds / 1e6,
                o.states_total as f64 / o.seconds / 1e6,
            );
        }
    }
    if std::env::var("QUORATE_BENCH").is_ok_and(|only| only != "stateright") {
        return;
    }
    let start = std::time::Instant::now();
    let reference = model.checker().spawn_bfs().join();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "stateright Bfs threads=1: unique={} total={} {seconds:.2}s -> {:.2} M unique/s",
        reference.unique_state_count(),
        reference.state_count(),
        reference.unique_state_count() as f64 / seconds / 1e6,
    );
}

#[test]
fn witness_traces_are_built_on_request() {
    let model = Counters::new(3, 3, 5);
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        for threads in [1, 2] {
            let base = Options {
                threads,
                strategy,
                ..Options::default()
            };
            let without = check(&model, &base);
            let with = check(
                &model,
                &Options {
                    witness_traces: true,
                    ..base.clone()
                },
            );
            let some_two = prop_index(&model, "some_two");
            assert_eq!(without.properties[some_two].status, Status::Witnessed);
            assert!(without.properties[some_two].trace.is_none());
            assert_eq!(trace_of(&model, &with, "some_two").steps.len(), 2);
            // Violations get their trace either way, the same one.
            assert_eq!(
                trace_of(&model, &without, "sum_below").steps,
                trace_of(&model, &with, "sum_below").steps
            );
            assert_eq!(without.states_unique, with.states_unique);
            assert_eq!(without.states_total, with.states_total);
        }
    }
}
