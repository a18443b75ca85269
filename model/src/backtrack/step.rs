//! The actions of the Backtrack model and the pure `step` that applies one.
//!
//! `step(cfg, state, action)` returns the next state, or `None` when the action is not enabled
//! or changes nothing. No I/O, clock or RNG (the wall clock is a state variable that the
//! environment ticks). Action names follow `specs/backtrack.md`.

use serde::{Deserialize, Serialize};

use super::config::{BacktrackConfig, MAX_TIME};
use super::engine::{self, Timeline};
use super::history;
use super::state::{BacktrackState, Budget, Ghost, Mode, Open, Values, physical};

/// One step of the system. Client work, the clock, eviction, operator requests and faults are
/// "environment" actions ([`Action::is_environment`]); the rewind itself is progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// Whether clients are served now.
fn serving(cfg: &BacktrackConfig, s: &BacktrackState) -> bool {
    engine::serving(cfg, &s.mode)
}

/// The buffer's view of time in `s`.
fn timeline(s: &BacktrackState) -> Timeline<'_> {
    Timeline {
        t: s.t,
        earliest: s.earliest,
        consistent: s.consistent,
        hist: &s.hist,
    }
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
            if engine::consistent_tick(s.open.is_some(), &s.mode, s.rewind_left.is_some()) {
                s.consistent |= 1 << t;
            }
            history::tick_ends(s);
            s.t += 1;
            true
        }
        Action::Evict => {
            if s.mode != Mode::Normal || !engine::may_evict(cfg, s.earliest, s.t) {
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
                    if *done == engine::all_keys(cfg) {
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
            // The keys rewound so far were in memory only: they are back where they were.
            history::crashed(s, &before);
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
            let done = engine::restart_keys(cfg, done);
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
            history::cache_filled(s);
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
            // Reader instances apply the redo stream to the pages they cache.
            for c in s.caches.iter_mut().flatten() {
                c[k] = o.id;
            }
        }
    }
    s.open = None;
    s.pending = Some(o);
    history::committed(cfg, s, o);
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
    history::acknowledged(cfg, s, o);
    true
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
    let Some(chosen) = engine::decide(cfg, &timeline(s), to, use_earliest, force) else {
        history::rejected(s);
        return true;
    };
    let tau = chosen.to;
    s.budget.backtracks -= 1;
    // Pause: close connections and drop the transaction in flight (not under Md1). A commit
    // whose acknowledgement is still on its way stays committed, but its client's connection
    // is gone: it is never acknowledged (under Md4 nothing is paused or closed).
    if let Some(o) = s.open {
        history::inflight_at_start(s, o);
        if engine::drops_inflight(cfg) {
            s.open = None;
        }
    }
    let target = if tau == s.t {
        s.db
    } else {
        s.hist[usize::from(tau)].expect("chosen times are buffered")
    };
    if let Some(o) = s.pending
        && engine::pauses(cfg)
    {
        // At stake: the rewind erases a write whose commit the client never heard of.
        history::commit_at_start(cfg, s, o, &target);
        // Md12: the connection stays open, so the acknowledgement may still arrive.
        if engine::closes_connections(cfg) {
            s.pending = None;
        }
    }
    history::started(s, chosen, to, use_earliest, force);
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
    if !engine::may_resume(cfg, done) {
        return false;
    }
    let complete = done == engine::all_keys(cfg);
    if !complete {
        s.rewind_left = Some((target, done));
    }
    s.mode = Mode::Normal;
    if engine::readers_drop_caches(cfg) {
        s.caches = Default::default();
    }
    engine::rewrite_history(cfg, &mut s.hist, to, s.t);
    history::resumed(s, to);
    true
}

#[cfg(test)]
mod tests;
