//! What the history (ghost) variables record when something happens: the observer's side of
//! Backtrack, shared by the model's `step` and the reference implementation's cluster, which
//! calls these with what its engine, readers and clients did. Nothing here decides anything
//! the engine does; properties and trace descriptions read what it records.

use super::config::BacktrackConfig;
use super::engine::Chosen;
use super::state::{
    BacktrackState, F_ACK_AFTER_RESUME, F_ACK_DROPPED, F_ACK_KEPT, F_ACK_UNACKED,
    F_ACK_WHILE_PAUSED, F_BACK_DONE, F_CACHE_REFILLED, F_COMMIT_RACED, F_EARLIEST_DONE,
    F_FORWARD_DONE, F_INFLIGHT_DROPPED, F_REJECTED, F_REJECTED_AT_STAKE, F_RESTART_DONE,
    LastBacktrack, Mode, Open, Values, txn_bit,
};

/// Wall tick `s.t` is ending: what the cluster showed during it is the committed data.
pub fn tick_ends(s: &mut BacktrackState) {
    s.ghost.seen[usize::from(s.t)] = s.db;
    let g = &mut s.ghost;
    if g.last.some && g.last.changes_data() && g.acked_since.iter().any(|&x| x != 0) {
        g.flags |= F_ACK_KEPT;
    }
}

/// Transaction `o` committed: an acknowledged write it overwrites is no longer owed (D7).
pub fn committed(cfg: &BacktrackConfig, s: &mut BacktrackState, o: Open) {
    for k in 0..usize::from(cfg.keys) {
        if o.wrote & (1 << k) != 0 {
            s.ghost.acked_since[k] = 0;
        }
    }
    s.ghost.dirty = true;
}

/// The acknowledgement of `o`'s commit reached its client.
pub fn acknowledged(cfg: &BacktrackConfig, s: &mut BacktrackState, o: Open) {
    let paused = s.mode != Mode::Normal;
    let g = &mut s.ghost;
    g.acked |= txn_bit(o.id);
    for k in 0..usize::from(cfg.keys) {
        if o.wrote & (1 << k) != 0 {
            g.acked_since[k] = o.id;
        }
    }
    if paused {
        g.flags |= F_ACK_WHILE_PAUSED;
    }
    if g.dropped & txn_bit(o.id) != 0 {
        g.flags |= F_ACK_DROPPED;
    }
    if g.unacked & txn_bit(o.id) != 0 {
        g.flags |= F_ACK_UNACKED;
    }
    if g.last.some && g.last.changes_data() && !paused {
        g.flags |= F_ACK_AFTER_RESUME;
    }
}

/// A backtrack request was rejected.
pub fn rejected(s: &mut BacktrackState) {
    s.ghost.flags |= F_REJECTED;
    if s.open.is_some_and(|o| o.wrote != 0) {
        s.ghost.flags |= F_REJECTED_AT_STAKE;
    }
}

/// A backtrack started with `o` in flight (dropped, unless a mutant keeps it).
pub fn inflight_at_start(s: &mut BacktrackState, o: Open) {
    s.ghost.dropped |= txn_bit(o.id);
    if o.wrote != 0 {
        s.ghost.flags |= F_INFLIGHT_DROPPED;
    }
}

/// A backtrack to `target` paused the engine while `o`'s acknowledgement was on its way: the
/// client is owed none, and if the rewind erases its write the commit raced it.
pub fn commit_at_start(cfg: &BacktrackConfig, s: &mut BacktrackState, o: Open, target: &Values) {
    s.ghost.unacked |= txn_bit(o.id);
    let erased = (0..usize::from(cfg.keys)).any(|k| o.wrote & (1 << k) != 0 && target[k] != o.id);
    if erased {
        s.ghost.flags |= F_COMMIT_RACED;
    }
}

/// A backtrack requested as `(req, use_earliest, force)` started for `chosen`, with the data
/// as it is now.
pub fn started(s: &mut BacktrackState, chosen: Chosen, req: u8, use_earliest: bool, force: bool) {
    // What the cluster showed at the target, from the history (not the buffer).
    let want = if chosen.to == s.t {
        s.db
    } else {
        s.ghost.seen[usize::from(chosen.to)]
    };
    let g = &mut s.ghost;
    g.prev_some = g.last.some;
    g.prev_to = g.last.to;
    g.prev_at = g.last.at;
    g.prev_changed = g.last.some && g.last.changes_data();
    g.last = LastBacktrack {
        some: true,
        fallback: chosen.fallback,
        asked: chosen.asked,
        to: chosen.to,
        at: s.t,
        earliest: s.earliest,
        req,
        use_earliest,
        force,
        want,
        before: s.db,
    };
    g.acked_since = Values::default();
    g.dirty = false;
    g.crashed = false;
    g.crash_reverted = false;
}

/// The rewind crashed; the data falls back to `before`.
pub fn crashed(s: &mut BacktrackState, before: &Values) {
    s.ghost.crashed = true;
    if s.db != *before {
        s.ghost.crash_reverted = true;
    }
}

/// The rewind to `to` resumed. The flags count only rewinds that change the data: a backtrack
/// to the state the cluster is in already would witness them with nothing at stake.
pub fn resumed(s: &mut BacktrackState, to: u8) {
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
}

/// A reader filled its cache.
pub fn cache_filled(s: &mut BacktrackState) {
    if s.ghost.last.some && !s.ghost.dirty && s.ghost.last.changes_data() {
        s.ghost.flags |= F_CACHE_REFILLED;
    }
}
