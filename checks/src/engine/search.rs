//! What the BFS and the DFS share: fingerprints, the sharded visited set with batched insertion,
//! limits and progress, and the bookkeeping of discoveries.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use quorate_model::checkable::{Checkable, Kind, Property};

use super::{Options, Progress, StopAfter};

/// [`Checkable`] with the bounds its `where` clause spells out, in a form the compiler implies
/// wherever `M: Explore` is assumed (so the engine's internals need not repeat them).
pub(super) trait Explore:
    Checkable<State: Clone + Debug + Hash + Eq + Send + Sync, Action: Clone + Debug + Send + Sync>
{
}

impl<M> Explore for M where
    M: Checkable<
            State: Clone + Debug + Hash + Eq + Send + Sync,
            Action: Clone + Debug + Send + Sync,
        >
{
}

/// A model's state type.
pub(super) type State<M> = <M as stateright::Model>::State;

/// Number of visited-set shards: enough that a few workers rarely wait on one another.
pub(super) const SHARDS: usize = 64;

/// Shards are picked by fingerprint bits 51..57. The shard maps use the fingerprint itself as
/// the hash; hashbrown takes the bucket index from the low bits and its control tag from the top
/// seven, so neither is constant within a shard.
const SHARD_SHIFT: u32 = 51;

/// Successors a worker buffers before inserting them: large enough that each shard lock is
/// taken for dozens of states, small enough to stay in cache.
pub(super) const BATCH: usize = 4096;

/// The parent value stored for an initial state.
pub(super) const ROOT: u64 = 0;

/// The shard holding `fp`.
#[inline]
pub(super) fn shard_of(fp: u64) -> usize {
    ((fp >> SHARD_SHIFT) as usize) & (SHARDS - 1)
}

/// A hasher for keys that already are good hashes (fingerprints): it returns the key.
#[derive(Default, Clone, Copy)]
pub(super) struct FpHasher(u64);

impl Hasher for FpHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for fingerprint keys; this fallback keeps the hasher total.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One shard with parents: fingerprint -> encoded parent.
///
/// Parent encoding (fingerprints are always odd, see [`Search::fingerprint`]):
/// * `0` ([`ROOT`]): an initial state;
/// * odd: a *fresh* entry, inserted while the current BFS level is being built; the value is the
///   parent's fingerprint and may still be lowered to a smaller parent of the same level;
/// * even: a settled entry; the value is the parent's fingerprint with the low bit cleared.
pub(super) type FpMap = HashMap<u64, u64, BuildHasherDefault<FpHasher>>;

/// One shard without parents: the fingerprints only (8 bytes and a control byte per slot), for
/// the main breadth-first search, whose traces are rebuilt afterwards by a bounded rerun.
pub(super) type FpSet = HashSet<u64, BuildHasherDefault<FpHasher>>;

/// Decode a stored parent value: `None` for an initial state.
#[inline]
pub(super) fn decode_parent(value: u64) -> Option<u64> {
    (value != ROOT).then_some(value | 1)
}

/// What a visited-set shard must do; implemented with parents ([`FpMap`]) and without
/// ([`FpSet`]), so one search code serves both and each is compiled for its own table.
pub(super) trait Table: Default + Send {
    /// Whether entries record parents (and so need [`Visited::settle`] between levels).
    const PARENTS: bool;
    /// Insert `fp` reached from `parent` (see [`FpMap`] for `fresh`); true if it is new.
    fn offer(&mut self, fp: u64, parent: u64, fresh: bool) -> bool;
    /// Settle `fp`'s entry, if it has one.
    fn settle(&mut self, fp: u64);
}

impl Table for FpMap {
    const PARENTS: bool = true;

    #[inline]
    fn offer(&mut self, fp: u64, parent: u64, fresh: bool) -> bool {
        match self.entry(fp) {
            Entry::Vacant(e) => {
                e.insert(if fresh { parent } else { parent & !1 });
                true
            }
            Entry::Occupied(mut e) => {
                let v = e.get_mut();
                if fresh && *v & 1 == 1 && parent < *v {
                    *v = parent;
                }
                false
            }
        }
    }

    #[inline]
    fn settle(&mut self, fp: u64) {
        if let Some(v) = self.get_mut(&fp) {
            *v &= !1;
        }
    }
}

impl Table for FpSet {
    const PARENTS: bool = false;

    #[inline]
    fn offer(&mut self, fp: u64, _parent: u64, _fresh: bool) -> bool {
        self.insert(fp)
    }

    #[inline]
    fn settle(&mut self, _fp: u64) {}
}

/// The visited set: fingerprints (and, with [`FpMap`] shards, parent pointers) only, sharded
/// for concurrent insertion.
pub(super) struct Visited<T: Table = FpMap> {
    shards: Vec<Mutex<T>>,
}

impl<T: Table> Visited<T> {
    /// An empty set.
    pub(super) fn new() -> Self {
        Visited {
            shards: (0..SHARDS).map(|_| Mutex::new(T::default())).collect(),
        }
    }

    /// Lock shard `i`. A poisoned lock means a worker panicked; that panic is propagated by the
    /// thread scope anyway, so the data is still usable here.
    #[inline]
    pub(super) fn lock(&self, i: usize) -> MutexGuard<'_, T> {
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Insert an initial state's fingerprint; false if it is already there.
    pub(super) fn insert_root(&self, fp: u64) -> bool {
        self.lock(shard_of(fp)).offer(fp, ROOT, false)
    }

    /// Settle the fresh entries of the level just built (the fingerprints in `level`), so the
    /// next level cannot change their parents. Runs between levels, when no worker holds a
    /// shard, so it needs no locks; with several threads each takes a disjoint group of shards
    /// and skims the whole level for its own fingerprints. Without parents there is nothing to
    /// settle.
    pub(super) fn settle<S: Sync>(&mut self, level: &[Vec<(u64, S)>], threads: usize) {
        if !T::PARENTS {
            return;
        }
        let per_group = SHARDS.div_ceil(threads.max(1));
        let settle_group = |base: usize, group: &mut [Mutex<T>]| {
            let mut tables: Vec<&mut T> = group
                .iter_mut()
                .map(|m| m.get_mut().unwrap_or_else(PoisonError::into_inner))
                .collect();
            for &(fp, _) in level.iter().flatten() {
                let shard = shard_of(fp);
                if (base..base + tables.len()).contains(&shard) {
                    tables[shard - base].settle(fp);
                }
            }
        };
        if threads <= 1 {
            settle_group(0, &mut self.shards);
            return;
        }
        std::thread::scope(|scope| {
            let mut groups = self.shards.chunks_mut(per_group).enumerate();
            let (_, first) = groups.next().expect("at least one shard group");
            for (i, group) in groups {
                let settle_group = &settle_group;
                scope.spawn(move || settle_group(i * per_group, group));
            }
            settle_group(0, first);
        });
    }
}

impl Visited<FpMap> {
    /// The stored parent value of `fp`, if `fp` was visited.
    pub(super) fn parent_value(&self, fp: u64) -> Option<u64> {
        self.lock(shard_of(fp)).get(&fp).copied()
    }
}

/// What a search (BFS or DFS) returns.
pub(super) struct RunResult {
    /// The best discovery per property.
    pub(super) found: Found,
    /// Whether the whole reachable state space was explored.
    pub(super) complete: bool,
    /// Distinct states.
    pub(super) unique: u64,
    /// Generated states, duplicates and initial states included.
    pub(super) total: u64,
    /// Deepest level (BFS) or depth (DFS) reached.
    pub(super) max_depth: u64,
}

/// A worker's buffer of successors waiting to be inserted: the payloads in one pool, their
/// fingerprints bucketed by shard. Most successors are duplicates (nine in ten in the quorum
/// model), so a payload is written once, into the pool, and only new ones are moved out;
/// duplicates are dropped where they lie.
pub(super) struct Batch<X> {
    /// Per shard: (fingerprint, parent fingerprint, index into `pool`).
    buckets: Vec<Vec<(u64, u64, u32)>>,
    pool: Vec<Option<X>>,
    /// The shards with a non-empty bucket, so a small batch (the DFS flushes after every
    /// state) does not scan all of them.
    touched: Vec<usize>,
    /// Scratch for [`Batch::flush`]: whether each entry of a bucket was new.
    is_new: Vec<bool>,
}

impl<X> Batch<X> {
    /// An empty batch.
    pub(super) fn new() -> Self {
        Batch {
            buckets: (0..SHARDS).map(|_| Vec::new()).collect(),
            pool: Vec::new(),
            touched: Vec::with_capacity(SHARDS),
            is_new: Vec::new(),
        }
    }

    /// Buffer a successor with fingerprint `fp` of the state with fingerprint `parent`.
    #[inline]
    pub(super) fn push(&mut self, fp: u64, parent: u64, payload: X) {
        let shard = shard_of(fp);
        let bucket = &mut self.buckets[shard];
        if bucket.is_empty() {
            self.touched.push(shard);
        }
        bucket.push((fp, parent, self.pool.len() as u32));
        self.pool.push(Some(payload));
    }

    /// Whether it is time to [`Batch::flush`].
    #[inline]
    pub(super) fn is_full(&self) -> bool {
        self.pool.len() >= BATCH
    }

    /// Insert every buffered successor, one lock per shard, and hand each new one to `on_new`
    /// (duplicates are dropped). With `fresh` (BFS), new entries are marked fresh and a fresh
    /// entry's parent is lowered to the smallest parent offered, which makes the BFS tree
    /// independent of thread scheduling. Returns the number of new states.
    pub(super) fn flush<T: Table>(
        &mut self,
        visited: &Visited<T>,
        fresh: bool,
        mut on_new: impl FnMut(u64, X),
    ) -> u64 {
        let mut new = 0;
        for &shard in &self.touched {
            let bucket = &mut self.buckets[shard];
            // Under the lock only the table is touched: the loop stays short, so the CPU can
            // overlap the cache misses of independent lookups, and other workers wait less.
            self.is_new.clear();
            let mut map = visited.lock(shard);
            for &(fp, parent, _) in bucket.iter() {
                self.is_new.push(map.offer(fp, parent, fresh));
            }
            drop(map);
            for (&(fp, _, at), &is_new) in bucket.iter().zip(&self.is_new) {
                if is_new && let Some(payload) = self.pool[at as usize].take() {
                    new += 1;
                    on_new(fp, payload);
                }
            }
            bucket.clear();
        }
        // Duplicates are dropped here, outside the lock.
        self.pool.clear();
        self.touched.clear();
        new
    }
}

/// Where a property was discovered: at `level` (BFS level or DFS depth), in the state with
/// fingerprint `fp`. Ordered by level, then fingerprint, so `min` picks the shortest and, among
/// equals, a scheduling-independent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Discovery {
    /// Steps from an initial state.
    pub(super) level: u64,
    /// The canonical state's fingerprint.
    pub(super) fp: u64,
}

/// The best discovery per property (index as in `props()`).
pub(super) type Found = Vec<Option<Discovery>>;

/// Keep the smaller of `slot` and `level`/`fp`.
#[inline]
pub(super) fn offer(slot: &mut Option<Discovery>, level: u64, fp: u64) {
    let d = Discovery { level, fp };
    if slot.is_none_or(|old| d < old) {
        *slot = Some(d);
    }
}

/// Merge `other` into `into`, keeping the smaller discovery of each property.
pub(super) fn merge_found(into: &mut Found, other: &Found) {
    for (slot, d) in into.iter_mut().zip(other) {
        if let Some(d) = d {
            offer(slot, d.level, d.fp);
        }
    }
}

/// The model and what every worker reads from it.
pub(super) struct Search<'m, M: Explore> {
    /// The model.
    pub(super) model: &'m M,
    /// `model.props()`, fetched once.
    pub(super) props: Vec<Property<M>>,
    /// `model.symmetry()`, fetched once.
    symmetry: bool,
    /// Fixed seeds: fingerprints are the same in every run of a build.
    hasher: ahash::RandomState,
    /// Worker threads (>= 1).
    pub(super) threads: usize,
}

impl<'m, M: Explore> Search<'m, M> {
    /// Prepare a search of `model` with `threads` workers.
    pub(super) fn new(model: &'m M, threads: usize) -> Self {
        Search {
            model,
            props: model.props(),
            symmetry: model.symmetry(),
            hasher: ahash::RandomState::with_seeds(
                0x5175_6f72_6174_6521,
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
                0xa409_3822_299f_31d0,
            ),
            threads: threads.max(1),
        }
    }

    /// A generated state in the form the search keeps (its canonical representative under
    /// symmetry, so successors of kept states are mostly canonical already and cheap to
    /// canonicalise), with its fingerprint.
    #[inline]
    pub(super) fn keep(&self, state: State<M>) -> (u64, State<M>) {
        if self.symmetry {
            let rep = self.model.canonical(state);
            (Self::fp_of(self.hasher.hash_one(&rep)), rep)
        } else {
            (Self::fp_of(self.hasher.hash_one(&state)), state)
        }
    }

    /// The fingerprint of `state`'s canonical representative. Always odd (the low bit of a
    /// stored parent marks fresh entries) and never 1 (so a settled parent is never [`ROOT`]).
    #[inline]
    pub(super) fn fingerprint(&self, state: &State<M>) -> u64 {
        let h = if self.symmetry {
            self.hasher.hash_one(self.model.representative(state))
        } else {
            self.hasher.hash_one(state)
        };
        Self::fp_of(h)
    }

    /// A hash made a fingerprint: odd and never 1.
    #[inline]
    fn fp_of(h: u64) -> u64 {
        (h | 1).max(3)
    }

    /// Judge the `Always`/`Sometimes` properties listed in `props` on a newly discovered state.
    #[inline]
    pub(super) fn judge_new(
        &self,
        props: &[usize],
        state: &State<M>,
        level: u64,
        fp: u64,
        found: &mut Found,
    ) {
        for &p in props {
            let prop = &self.props[p];
            let holds = (prop.condition)(self.model, state);
            // Always: discovered when false; Sometimes: discovered when true.
            if holds == (prop.kind == Kind::Sometimes) {
                offer(&mut found[p], level, fp);
            }
        }
    }

    /// Judge the `Eventually` properties listed in `props` on a quiescent state.
    #[inline]
    pub(super) fn judge_quiescent(
        &self,
        props: &[usize],
        state: &State<M>,
        level: u64,
        fp: u64,
        found: &mut Found,
    ) {
        for &p in props {
            if !(self.props[p].condition)(self.model, state) {
                offer(&mut found[p], level, fp);
            }
        }
    }

    /// Insert and judge the initial states (within the boundary, as stateright does). Returns
    /// the frontier of first concrete states per class and the number of initial states
    /// including duplicates.
    pub(super) fn init<T: Table>(
        &self,
        visited: &Visited<T>,
        judge: &[usize],
        found: &mut Found,
    ) -> (Vec<(u64, State<M>)>, u64) {
        let mut frontier = Vec::new();
        let mut total = 0;
        for s in self.model.init_states() {
            if !self.model.within_boundary(&s) {
                continue;
            }
            total += 1;
            let fp = self.fingerprint(&s);
            if visited.insert_root(fp) {
                self.judge_new(judge, &s, 0, fp, found);
                frontier.push((fp, s));
            }
        }
        (frontier, total)
    }
}

/// Why and when a search stops, plus the live counters progress reports.
pub(super) struct Control<'o> {
    start: Instant,
    max_states: Option<u64>,
    max_seconds: Option<f64>,
    max_memory: Option<u64>,
    /// Seconds (as f64 bits) of the last resident-memory reading ([`NEVER`] at first, so the
    /// first call reads it).
    last_memory_check: AtomicU64,
    stop: Option<&'o AtomicBool>,
    progress: Option<&'o (dyn Fn(&Progress) + Send + Sync)>,
    progress_every: f64,
    /// Seconds (as f64 bits) of the last progress call.
    last_progress: AtomicU64,
    /// When to stop after a violation.
    stop_after: StopAfter,
    /// Set once any limit is hit; every worker then winds down.
    halted: AtomicBool,
    /// Distinct states so far.
    pub(super) unique: AtomicU64,
    /// Generated states so far.
    pub(super) total: AtomicU64,
}

impl<'o> Control<'o> {
    /// Limits and progress from `options`; the clock starts now.
    pub(super) fn new(options: &'o Options) -> Self {
        Control {
            start: Instant::now(),
            max_states: options.max_states,
            max_seconds: options.max_seconds,
            max_memory: options.max_memory,
            last_memory_check: AtomicU64::new(NEVER.to_bits()),
            stop: options.stop.as_deref(),
            stop_after: options.stop_after.clone(),
            progress: options.progress.as_deref(),
            progress_every: if options.progress_every > 0.0 {
                options.progress_every
            } else {
                2.0
            },
            last_progress: AtomicU64::new(0f64.to_bits()),
            halted: AtomicBool::new(false),
            unique: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// The same limits, clock and progress with fresh counters, for the BFS that shortens DFS
    /// traces (its time counts against `max_seconds` too).
    pub(super) fn rerun(&self) -> Self {
        Control {
            start: self.start,
            max_states: self.max_states,
            max_seconds: self.max_seconds,
            max_memory: self.max_memory,
            last_memory_check: AtomicU64::new(NEVER.to_bits()),
            stop: self.stop,
            stop_after: self.stop_after.clone(),
            progress: self.progress,
            progress_every: self.progress_every,
            last_progress: AtomicU64::new(self.last_progress.load(Ordering::Relaxed)),
            halted: AtomicBool::new(false),
            unique: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Seconds since the start.
    pub(super) fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether the search must stop now; checks (and latches) every limit.
    pub(super) fn should_stop(&self) -> bool {
        if self.halted.load(Ordering::Relaxed) {
            return true;
        }
        let hit = self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            || self
                .max_states
                .is_some_and(|m| self.unique.load(Ordering::Relaxed) >= m)
            || self.max_seconds.is_some_and(|m| self.seconds() >= m)
            || self.max_memory.is_some_and(|m| self.memory_over(m));
        if hit {
            self.halted.store(true, Ordering::Relaxed);
        }
        hit
    }

    /// Whether resident memory has reached `limit` bytes. Reads `/proc` at most every half
    /// second (workers call this after every chunk); off Linux it never stops the search.
    fn memory_over(&self, limit: u64) -> bool {
        let now = self.seconds();
        let last = f64::from_bits(self.last_memory_check.load(Ordering::Relaxed));
        if now - last < 0.5 {
            return false;
        }
        self.last_memory_check
            .store(now.to_bits(), Ordering::Relaxed);
        proc_status_bytes("VmRSS:").is_some_and(|rss| rss >= limit)
    }

    /// Whether the options' [`StopAfter`] rule is met by the discoveries so far.
    pub(super) fn stop_rule_met<M: Explore>(&self, search: &Search<'_, M>, found: &Found) -> bool {
        let violated = |p: usize| found[p].is_some() && search.props[p].kind != Kind::Sometimes;
        match &self.stop_after {
            StopAfter::Exhaustive => false,
            StopAfter::FirstViolation => (0..found.len()).any(violated),
            StopAfter::Violation(name) => {
                (0..found.len()).any(|p| violated(p) && search.props[p].name == name)
            }
        }
    }

    /// Whether a limit stopped the search.
    pub(super) fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// Call the progress callback if it is due. Only the thread that called `check` calls this
    /// (worker 0 runs on it), so the callback is never run concurrently.
    pub(super) fn tick(&self, depth: u64) {
        let Some(progress) = self.progress else {
            return;
        };
        let now = self.seconds();
        let last = f64::from_bits(self.last_progress.load(Ordering::Relaxed));
        if now - last < self.progress_every {
            return;
        }
        self.last_progress.store(now.to_bits(), Ordering::Relaxed);
        progress(&Progress {
            states_unique: self.unique.load(Ordering::Relaxed),
            states_total: self.total.load(Ordering::Relaxed),
            depth,
            seconds: now,
            memory_bytes: proc_status_bytes("VmRSS:"),
        });
    }
}

/// A time before the search started.
const NEVER: f64 = -1.0;

/// A `kB` line of `/proc/self/status` (e.g. `VmRSS:`, `VmHWM:`) in bytes; `None` off Linux.
pub(super) fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
