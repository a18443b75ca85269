//! What the database engine decides, as pure functions of what it holds: its mode, its change
//! buffer (the history a rewind reads), the wall clock. The model's `step` calls these on the
//! whole state; the reference implementation's engine node calls the same functions on what
//! it holds (`quorate_impl::backtrack`).
//!
//! * Clients are served only while the engine is not rewinding ([`serving`]).
//! * A backtrack request passes the guards of `BacktrackDBCluster` and picks the consistent
//!   time to go to ([`decide`], on the buffer's [`Timeline`]).
//! * Starting, it drops the transaction in flight ([`drops_inflight`]) and closes the
//!   connections of commits whose acknowledgement is on its way ([`pauses`],
//!   [`closes_connections`]).
//! * It resumes once every key is rewound ([`may_resume`]); readers drop their caches
//!   ([`readers_drop_caches`]); the history after the target stays ([`rewrite_history`]
//!   does nothing but under Md2).
//! * A crashed rewind restarts from scratch ([`restart_keys`]).
//! * Background eviction keeps the backtrack window ([`may_evict`]); a wall tick is a
//!   consistent time when nothing is in flight and no rewind is half done ([`consistent_tick`]).

use super::config::{BacktrackConfig, MAX_TIME, Mutant};
use super::state::{Mode, Values};

/// What the change buffer tells the engine about time.
#[derive(Clone, Copy, Debug)]
pub struct Timeline<'a> {
    /// Now.
    pub t: u8,
    /// The earliest reachable time E.
    pub earliest: u8,
    /// The consistent times (bits).
    pub consistent: u8,
    /// The pages at the end of each buffered tick.
    pub hist: &'a [Option<Values>; MAX_TIME + 1],
}

/// What a backtrack request was decided to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// The time asked for (E's replacement under `use_earliest`).
    pub asked: u8,
    /// The consistent time chosen.
    pub to: u8,
    /// `use_earliest` found no consistent time in `[E, asked]` and took the earliest after.
    pub fallback: bool,
}

/// Whether clients are served: the engine is not rewinding, or (Md4) never paused.
pub fn serving(cfg: &BacktrackConfig, mode: &Mode) -> bool {
    *mode == Mode::Normal || (cfg.has(Mutant::NoPause) && matches!(mode, Mode::Applying { .. }))
}

/// Every key (bits).
pub fn all_keys(cfg: &BacktrackConfig) -> u8 {
    (1u8 << cfg.keys) - 1
}

/// The lowest time a backtrack may go to: E, and on a clone no earlier than its creation
/// (under Md9 the clone's creation is ignored).
pub fn floor(cfg: &BacktrackConfig, earliest: u8) -> u8 {
    if cfg.has(Mutant::IgnoreClone) {
        earliest
    } else {
        earliest.max(cfg.clone_time)
    }
}

/// Whether the engine can go to `tau`: a consistent time whose state the buffer holds (now
/// itself is consistent once the transaction in flight is dropped). Under Md10 any buffered
/// time will do.
pub fn reachable(cfg: &BacktrackConfig, tl: &Timeline, tau: u8) -> bool {
    let consistent = tl.consistent & (1 << tau) != 0 || cfg.has(Mutant::IgnoreConsistency);
    tau == tl.t || (consistent && tl.hist[usize::from(tau)].is_some())
}

/// The consistent time a backtrack to `asked` goes to: the latest reachable time in `[floor,
/// asked]`; under Md3 the earliest one at or after `asked`.
fn choose(cfg: &BacktrackConfig, tl: &Timeline, asked: u8) -> Option<u8> {
    if cfg.has(Mutant::RoundUp) {
        (asked..=tl.t).find(|&tau| reachable(cfg, tl, tau))
    } else {
        (floor(cfg, tl.earliest)..=asked)
            .rev()
            .find(|&tau| reachable(cfg, tl, tau))
    }
}

/// A request to backtrack to `to`, with `use_earliest` and `force`: where it goes, or `None`
/// if it is rejected. The guards of `BacktrackDBCluster` (D5) reject a time in the future,
/// one before a clone's creation, a cluster with binary logging on (unless `force`; under Md7
/// regardless) and a time before E. `use_earliest` replaces a time before E by the earliest
/// time the engine can reach: E, or on a clone no earlier than its creation; when that is not
/// consistent it goes to the earliest consistent time after it (not a rejection).
pub fn decide(
    cfg: &BacktrackConfig,
    tl: &Timeline,
    to: u8,
    use_earliest: bool,
    force: bool,
) -> Option<Chosen> {
    let asked = if to < tl.earliest && use_earliest {
        floor(cfg, tl.earliest)
    } else {
        to
    };
    let binlog_blocks = cfg.binlog && !force && !cfg.has(Mutant::IgnoreBinlog);
    let rejected = to > tl.t
        || (cfg.clone_time > 0 && asked < cfg.clone_time)
        || binlog_blocks
        || asked < tl.earliest;
    if rejected {
        return None;
    }
    if let Some(tau) = choose(cfg, tl, asked) {
        return Some(Chosen {
            asked,
            to: tau,
            fallback: false,
        });
    }
    if !(use_earliest && to < tl.earliest) {
        return None;
    }
    let tau = (asked..=tl.t).find(|&tau| reachable(cfg, tl, tau))?;
    Some(Chosen {
        asked,
        to: tau,
        fallback: true,
    })
}

/// Whether background eviction may drop the oldest history: it is older than the window
/// (under Md5 whenever there is any).
pub fn may_evict(cfg: &BacktrackConfig, earliest: u8, t: u8) -> bool {
    let outside = u16::from(earliest) + u16::from(cfg.window) < u16::from(t);
    outside || (cfg.has(Mutant::EvictInsideWindow) && earliest < t)
}

/// Whether a backtrack drops the transaction in flight (never under Md1).
pub fn drops_inflight(cfg: &BacktrackConfig) -> bool {
    !cfg.has(Mutant::KeepInflight)
}

/// Whether a backtrack pauses the engine (never under Md4: commits go on).
pub fn pauses(cfg: &BacktrackConfig) -> bool {
    !cfg.has(Mutant::NoPause)
}

/// Whether a backtrack closes the connection of a commit whose acknowledgement is on its way
/// (it pauses, and not under Md12).
pub fn closes_connections(cfg: &BacktrackConfig) -> bool {
    pauses(cfg) && !cfg.has(Mutant::KeepConnections)
}

/// Whether the rewind, with keys `done` rewound, may resume: all of them (any time under Md8).
pub fn may_resume(cfg: &BacktrackConfig, done: u8) -> bool {
    done == all_keys(cfg) || cfg.has(Mutant::ResumeBeforeApply)
}

/// Whether reader instances drop their caches at the resume (not under Md6).
pub fn readers_drop_caches(cfg: &BacktrackConfig) -> bool {
    !cfg.has(Mutant::ReadersKeepCache)
}

/// At the resume of a rewind to `to` at time `t`: the buffer is left as it is, but under Md2
/// the history after the target is thrown away, so the buffer says the cluster showed the
/// target's state all along.
pub fn rewrite_history(
    cfg: &BacktrackConfig,
    hist: &mut [Option<Values>; MAX_TIME + 1],
    to: u8,
    t: u8,
) {
    if !cfg.has(Mutant::DestructiveRewind) {
        return;
    }
    for tau in usize::from(to) + 1..usize::from(t) {
        if hist[tau].is_some() {
            hist[tau] = hist[usize::from(to)];
        }
    }
}

/// The keys a crashed rewind that restarts counts as done: none, since what it had rewound was
/// in memory only (under Md11 it trusts the keys `done` the crashed run had rewound).
pub fn restart_keys(cfg: &BacktrackConfig, done: u8) -> u8 {
    if cfg.has(Mutant::RestartFromCheckpoint) {
        done
    } else {
        0
    }
}

/// Whether the wall tick ending is a consistent time: no transaction in flight, no rewind in
/// progress or half done.
pub fn consistent_tick(inflight: bool, mode: &Mode, rewind_left: bool) -> bool {
    !inflight && *mode == Mode::Normal && !rewind_left
}
