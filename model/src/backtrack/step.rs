//! The actions of the Backtrack model and the pure `step` that applies one.
//!
//! `step(cfg, state, action)` returns the next state, or `None` when the action is not enabled
//! or changes nothing. No I/O, clock or RNG (the wall clock is a state variable that the
//! environment ticks). Action names follow `specs/backtrack.md`.

use serde::Serialize;

use super::config::{BacktrackConfig, MAX_TIME, Mutant};
use super::state::{
    BacktrackState, Budget, F_ACK_AFTER_RESUME, F_ACK_DROPPED, F_ACK_KEPT, F_ACK_UNACKED,
    F_ACK_WHILE_PAUSED, F_BACK_DONE, F_CACHE_REFILLED, F_COMMIT_RACED, F_EARLIEST_DONE,
    F_FORWARD_DONE, F_INFLIGHT_DROPPED, F_REJECTED, F_REJECTED_AT_STAKE, F_RESTART_DONE, Ghost,
    LastBacktrack, Mode, Open, Values, physical, txn_bit,
};

/// One step of the system. Client work, the clock, eviction, operator requests and faults are
/// "environment" actions ([`Action::is_environment`]); the rewind itself is progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Action {
    /// Client: begin the next transaction.
    Begin,
    /// Client: the open transaction writes `key` (visible only once it commits).
    Write {
        /// The key.
        key: u8,
    },
    /// The open transaction commits: its writes are durable and visible; the
    /// acknowledgement is on its way to the client.
    Commit,
    /// The commit's acknowledgement reaches the client (unless a backtrack closed the
    /// connection first).
    Ack,
    /// Client: roll the open transaction back.
    Abort,
    /// The wall clock ticks; the change buffer records the pages (uncommitted writes
    /// included) at the end of the tick ending.
    Tick,
    /// Background: evict the oldest history once it is older than the backtrack window.
    Evict,
    /// Memory pressure: evict the oldest history early (the earliest reachable time moves up).
    Pressure,
    /// Operator: backtrack the cluster to time `to` (`BacktrackDBCluster`), with
    /// `UseEarliestTimeOnPointInTimeUnavailable` and `Force` as given.
    Backtrack {
        /// The time asked for.
        to: u8,
        /// Use the earliest reachable time if `to` is before it.
        use_earliest: bool,
        /// Backtrack even with binary logging on.
        force: bool,
    },
    /// Rewind one key to the target's value.
    ApplyKey {
        /// The key.
        key: u8,
    },
    /// Fault: the cluster crashes during the rewind.
    Crash,
    /// The crashed rewind restarts from scratch (under Md11 from the keys it had done).
    Restart,
    /// The rewind is complete: readers drop their caches and the cluster serves again.
    Resume,
    /// Reader instance `reader` reads, filling its cache if it is empty.
    Read {
        /// The reader.
        reader: u8,
    },
}

impl Action {
    /// Actions that need not happen. A state where only these change anything is quiescent
    /// (bounded liveness is judged there): a backtrack in progress must end by itself.
    pub fn is_environment(&self) -> bool {
        !matches!(
            self,
            Action::ApplyKey { .. } | Action::Restart | Action::Resume
        )
    }
}

/// The one initial state: time 0, every key at its initial value, nothing in flight.
pub fn init(cfg: &BacktrackConfig) -> BacktrackState {
    BacktrackState {
        t: 0,
        db: Values::default(),
        open: None,
        pending: None,
        begun: 0,
        mode: Mode::Normal,
        hist: [None; MAX_TIME + 1],
        consistent: 0,
        earliest: 0,
        caches: Default::default(),
        rewind_left: None,
        budget: Budget {
            backtracks: cfg.backtracks,
            crashes: cfg.crashes,
            pressure: cfg.pressure,
        },
        ghost: Ghost::default(),
    }
}

/// Every action worth trying in `s` (a superset of the enabled ones; `step` decides).
pub fn actions(cfg: &BacktrackConfig, s: &BacktrackState, out: &mut Vec<Action>) {
    out.extend([
        Action::Begin,
        Action::Commit,
        Action::Ack,
        Action::Abort,
        Action::Tick,
    ]);
    for key in 0..cfg.keys {
        out.push(Action::Write { key });
        out.push(Action::ApplyKey { key });
    }
    out.extend([
        Action::Evict,
        Action::Pressure,
        Action::Crash,
        Action::Restart,
        Action::Resume,
    ]);
    if s.mode == Mode::Normal && s.budget.backtracks > 0 {
        for to in 0..=cfg.max_time {
            for use_earliest in [false, true] {
                for force in [false, true] {
                    if force && !cfg.binlog {
                        continue; // force changes nothing without binlog
                    }
                    out.push(Action::Backtrack {
                        to,
                        use_earliest,
                        force,
                    });
                }
            }
        }
    }
    for reader in 0..cfg.readers {
        out.push(Action::Read { reader });
    }
}

/// Apply `action` to `s`. `None` if it is not enabled or changes nothing.
pub fn step(cfg: &BacktrackConfig, s: &BacktrackState, action: &Action) -> Option<BacktrackState> {
    let mut n = s.clone();
    if !apply(cfg, &mut n, action) || n == *s {
        return None;
    }
    Some(n)
}

/// Whether clients are served: the cluster is `Normal`, or (Md4) never paused.
fn serving(cfg: &BacktrackConfig, s: &BacktrackState) -> bool {
    s.mode == Mode::Normal || (cfg.has(Mutant::NoPause) && matches!(s.mode, Mode::Applying { .. }))
}

fn all_keys(cfg: &BacktrackConfig) -> u8 {
    (1u8 << cfg.keys) - 1
}

fn apply(cfg: &BacktrackConfig, s: &mut BacktrackState, action: &Action) -> bool {
    match *action {
        Action::Begin => {
            if !serving(cfg, s) || s.open.is_some() || s.pending.is_some() || s.begun >= cfg.txns {
                return false;
            }
            s.begun += 1;
            s.open = Some(Open {
                id: s.begun,
                wrote: 0,
            });
            true
        }
        Action::Write { key } => {
            let bit = 1 << key;
            let serve = serving(cfg, s);
            match &mut s.open {
                Some(o) if serve && key < cfg.keys && o.wrote & bit == 0 => {
                    o.wrote |= bit;
                    true
                }
                _ => false,
            }
        }
        Action::Commit => commit(cfg, s),
        Action::Ack => ack(cfg, s),
        Action::Abort => {
            if !serving(cfg, s) || s.open.is_none() {
                return false;
            }
            s.open = None;
            true
        }
        Action::Tick => {
            if s.t >= cfg.max_time {
                return false;
            }
            let t = usize::from(s.t);
            // The buffer holds pages as they are, uncommitted changes included; what the
            // cluster showed is the committed data.
            s.hist[t] = Some(physical(s));
            s.ghost.seen[t] = s.db;
            // A consistent time: nothing in flight and no rewind half done.
            if s.open.is_none() && s.mode == Mode::Normal && s.rewind_left.is_none() {
                s.consistent |= 1 << t;
            }
            if s.ghost.last.some
                && s.ghost.last.changes_data()
                && s.ghost.acked_since.iter().any(|&x| x != 0)
            {
                s.ghost.flags |= F_ACK_KEPT;
            }
            s.t += 1;
            true
        }
        Action::Evict => {
            let outside = u16::from(s.earliest) + u16::from(cfg.window) < u16::from(s.t);
            let may = outside || (cfg.has(Mutant::EvictInsideWindow) && s.earliest < s.t);
            if s.mode != Mode::Normal || !may {
                return false;
            }
            evict_oldest(s);
            true
        }
        Action::Pressure => {
            if s.mode != Mode::Normal || s.budget.pressure == 0 || s.earliest >= s.t {
                return false;
            }
            s.budget.pressure -= 1;
            evict_oldest(s);
            s.ghost.pressured_to = s.earliest;
            true
        }
        Action::Backtrack {
            to,
            use_earliest,
            force,
        } => backtrack(cfg, s, to, use_earliest, force),
        Action::ApplyKey { key } => {
            let bit = 1 << key;
            if key >= cfg.keys {
                return false;
            }
            match (&mut s.mode, &mut s.rewind_left) {
                (Mode::Applying { target, done, .. }, _) if *done & bit == 0 => {
                    s.db[usize::from(key)] = target[usize::from(key)];
                    *done |= bit;
                    true
                }
                // Md8: the rest of a rewind the cluster resumed before finishing.
                (Mode::Normal, Some((target, done))) if *done & bit == 0 => {
                    s.db[usize::from(key)] = target[usize::from(key)];
                    *done |= bit;
                    if *done == all_keys(cfg) {
                        s.rewind_left = None;
                    }
                    true
                }
                _ => false,
            }
        }
        Action::Crash => {
            let Mode::Applying {
                to,
                target,
                done,
                before,
            } = s.mode
            else {
                return false;
            };
            if s.budget.crashes == 0 {
                return false;
            }
            s.budget.crashes -= 1;
            s.ghost.crashed = true;
            // The keys rewound so far were in memory only: they are back where they were.
            if s.db != before {
                s.ghost.crash_reverted = true;
            }
            s.db = before;
            s.mode = Mode::Crashed {
                to,
                target,
                before,
                done,
            };
            true
        }
        Action::Restart => {
            let Mode::Crashed {
                to,
                target,
                before,
                done,
            } = s.mode
            else {
                return false;
            };
            // Md11: trust the keys the crashed run had rewound, though the crash lost them.
            let done = if cfg.has(Mutant::RestartFromCheckpoint) {
                done
            } else {
                0
            };
            s.mode = Mode::Applying {
                to,
                target,
                done,
                before,
            };
            true
        }
        Action::Resume => resume(cfg, s),
        Action::Read { reader } => {
            let r = usize::from(reader);
            if reader >= cfg.readers || s.mode != Mode::Normal || s.caches[r].is_some() {
                return false;
            }
            s.caches[r] = Some(s.db);
            if s.ghost.last.some && !s.ghost.dirty && s.ghost.last.changes_data() {
                s.ghost.flags |= F_CACHE_REFILLED;
            }
            true
        }
    }
}

fn evict_oldest(s: &mut BacktrackState) {
    s.hist[usize::from(s.earliest)] = None;
    s.earliest += 1;
}

fn commit(cfg: &BacktrackConfig, s: &mut BacktrackState) -> bool {
    let Some(o) = s.open else {
        return false;
    };
    if !serving(cfg, s) || o.wrote == 0 {
        return false;
    }
    for k in 0..usize::from(cfg.keys) {
        if o.wrote & (1 << k) != 0 {
            s.db[k] = o.id;
            // An acknowledged write this commit overwrites is no longer owed (D7); this one is
            // owed once its acknowledgement arrives.
            s.ghost.acked_since[k] = 0;
            // Reader instances apply the redo stream to the pages they cache.
            for c in s.caches.iter_mut().flatten() {
                c[k] = o.id;
            }
        }
    }
    s.open = None;
    s.pending = Some(o);
    s.ghost.dirty = true;
    true
}

/// The acknowledgement of the pending commit reaches the client.
fn ack(cfg: &BacktrackConfig, s: &mut BacktrackState) -> bool {
    let Some(o) = s.pending else {
        return false;
    };
    if !serving(cfg, s) {
        return false;
    }
    s.pending = None;
    let g = &mut s.ghost;
    g.acked |= txn_bit(o.id);
    for k in 0..usize::from(cfg.keys) {
        if o.wrote & (1 << k) != 0 {
            g.acked_since[k] = o.id;
        }
    }
    if s.mode != Mode::Normal {
        g.flags |= F_ACK_WHILE_PAUSED;
    }
    if g.dropped & txn_bit(o.id) != 0 {
        g.flags |= F_ACK_DROPPED;
    }
    if g.unacked & txn_bit(o.id) != 0 {
        g.flags |= F_ACK_UNACKED;
    }
    if g.last.some && g.last.changes_data() && s.mode == Mode::Normal {
        g.flags |= F_ACK_AFTER_RESUME;
    }
    true
}

/// The lowest time a backtrack may go to: E, and on a clone no earlier than its creation
/// (under Md9 the clone's creation is ignored).
fn floor(cfg: &BacktrackConfig, s: &BacktrackState) -> u8 {
    if cfg.has(Mutant::IgnoreClone) {
        s.earliest
    } else {
        s.earliest.max(cfg.clone_time)
    }
}

/// Whether the cluster can go to `tau`: a consistent time whose state the buffer holds (`now`
/// itself is consistent once the transaction in flight is dropped). Under Md10 any buffered
/// time will do.
fn reachable(cfg: &BacktrackConfig, s: &BacktrackState, tau: u8) -> bool {
    let consistent = s.consistent & (1 << tau) != 0 || cfg.has(Mutant::IgnoreConsistency);
    tau == s.t || (consistent && s.hist[usize::from(tau)].is_some())
}

/// The consistent time a backtrack to `asked` goes to: the latest reachable time in
/// `[floor, asked]`; under Md3 the earliest one at or after `asked`.
fn choose(cfg: &BacktrackConfig, s: &BacktrackState, asked: u8) -> Option<u8> {
    if cfg.has(Mutant::RoundUp) {
        (asked..=s.t).find(|&tau| reachable(cfg, s, tau))
    } else {
        (floor(cfg, s)..=asked)
            .rev()
            .find(|&tau| reachable(cfg, s, tau))
    }
}

fn backtrack(
    cfg: &BacktrackConfig,
    s: &mut BacktrackState,
    to: u8,
    use_earliest: bool,
    force: bool,
) -> bool {
    if s.mode != Mode::Normal || s.budget.backtracks == 0 || to > cfg.max_time {
        return false;
    }
    // The guards of BacktrackDBCluster (D5): a rejected request changes nothing but the
    // record that it was rejected.
    // `use_earliest` replaces a time before E by the earliest time the cluster can reach:
    // E, or on a clone no earlier than its creation.
    let asked = if to < s.earliest && use_earliest {
        floor(cfg, s)
    } else {
        to
    };
    let binlog_blocks = cfg.binlog && !force && !cfg.has(Mutant::IgnoreBinlog);
    let rejected = to > s.t
        || (cfg.clone_time > 0 && asked < cfg.clone_time)
        || binlog_blocks
        || asked < s.earliest;
    let mut chosen = if rejected {
        None
    } else {
        choose(cfg, s, asked)
    };
    // `use_earliest` asks for the earliest time the cluster can go to. When E itself is not
    // consistent, that is the earliest consistent time after it (not a rejection).
    let fallback = chosen.is_none() && !rejected && use_earliest && to < s.earliest;
    if fallback {
        chosen = (asked..=s.t).find(|&tau| reachable(cfg, s, tau));
    }
    let Some(tau) = chosen else {
        s.ghost.flags |= F_REJECTED;
        if s.open.is_some_and(|o| o.wrote != 0) {
            s.ghost.flags |= F_REJECTED_AT_STAKE;
        }
        return true;
    };
    s.budget.backtracks -= 1;
    // Pause: close connections and drop the transaction in flight (not under Md1). A commit
    // whose acknowledgement is still on its way stays committed, but its client's connection
    // is gone: it is never acknowledged (under Md4 nothing is paused or closed).
    if let Some(o) = s.open {
        s.ghost.dropped |= txn_bit(o.id);
        if o.wrote != 0 {
            s.ghost.flags |= F_INFLIGHT_DROPPED;
        }
        if !cfg.has(Mutant::KeepInflight) {
            s.open = None;
        }
    }
    let (target, want) = if tau == s.t {
        (s.db, s.db)
    } else {
        (
            s.hist[usize::from(tau)].expect("chosen times are buffered"),
            s.ghost.seen[usize::from(tau)],
        )
    };
    if let Some(o) = s.pending
        && !cfg.has(Mutant::NoPause)
    {
        s.ghost.unacked |= txn_bit(o.id);
        // At stake: the rewind erases a write whose commit the client never heard of.
        let erased =
            (0..usize::from(cfg.keys)).any(|k| o.wrote & (1 << k) != 0 && target[k] != o.id);
        if erased {
            s.ghost.flags |= F_COMMIT_RACED;
        }
        // Md12: the connection stays open, so the acknowledgement may still arrive.
        if !cfg.has(Mutant::KeepConnections) {
            s.pending = None;
        }
    }
    let g = &mut s.ghost;
    g.prev_some = g.last.some;
    g.prev_to = g.last.to;
    g.prev_at = g.last.at;
    g.prev_changed = g.last.some && g.last.changes_data();
    g.last = LastBacktrack {
        some: true,
        fallback,
        asked,
        to: tau,
        at: s.t,
        earliest: s.earliest,
        req: to,
        use_earliest,
        force,
        want,
        before: s.db,
    };
    g.acked_since = Values::default();
    g.dirty = false;
    g.crashed = false;
    g.crash_reverted = false;
    s.mode = Mode::Applying {
        to: tau,
        target,
        done: 0,
        before: s.db,
    };
    true
}

fn resume(cfg: &BacktrackConfig, s: &mut BacktrackState) -> bool {
    let Mode::Applying {
        to, target, done, ..
    } = s.mode
    else {
        return false;
    };
    let complete = done == all_keys(cfg);
    if !complete && !cfg.has(Mutant::ResumeBeforeApply) {
        return false;
    }
    if !complete {
        s.rewind_left = Some((target, done));
    }
    s.mode = Mode::Normal;
    if !cfg.has(Mutant::ReadersKeepCache) {
        s.caches = Default::default();
    }
    if cfg.has(Mutant::DestructiveRewind) {
        // The history after the target is thrown away: the buffer now says the cluster
        // showed the target's state all along.
        for tau in usize::from(to) + 1..usize::from(s.t) {
            if s.hist[tau].is_some() {
                s.hist[tau] = s.hist[usize::from(to)];
            }
        }
    }
    // The twins' flags count only rewinds that change the data: a backtrack to the state the
    // cluster is in already would witness them with nothing at stake.
    let g = &mut s.ghost;
    let changes = g.last.changes_data();
    if to < g.last.at && changes {
        g.flags |= F_BACK_DONE;
    }
    // Forward: back onto the timeline the previous (data-changing) backtrack left, to a time
    // after its target and before it ran.
    if g.prev_changed && g.prev_to < to && to < g.prev_at && changes {
        g.flags |= F_FORWARD_DONE;
    }
    if g.last.asked != g.last.req && changes {
        g.flags |= F_EARLIEST_DONE;
    }
    if g.crash_reverted {
        g.flags |= F_RESTART_DONE;
    }
    true
}

#[cfg(test)]
mod tests;
