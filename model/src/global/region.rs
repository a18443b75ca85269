//! What one region (or the control plane) decides, as pure functions of what it knows: its
//! own log, the logs other regions report to it, the clock. The model's `step` calls these on
//! the whole state; the reference implementation's region nodes and control plane call the
//! same functions on what they hold and what reaches them (`quorate_impl::global`).
//!
//! * A writing region (the primary, or an old primary no fence stopped) appends the open
//!   transaction's commit, or begins the transaction the workload offers ([`next_record`]);
//!   during a switchover it drains and appends the MARKER ([`marker`]); it acknowledges its
//!   commits at its epoch ([`pending`]) when the RPO gate lets it ([`may_acknowledge`], on
//!   the logs its secondaries report).
//! * The primary streams a secondary the record after the secondary's log ([`next_for`]).
//! * The control plane picks a failover's target ([`failover_target`]) and its epoch
//!   ([`failover_epoch`]), a switchover's moment to promote ([`switchover_ready`]) and whether
//!   a fence stops the old primary ([`fences`]); the target cuts its log to a commit boundary
//!   ([`promotion_point`]); a secondary ahead of it is rebuilt ([`needs_rebuild`],
//!   [`rebuild_point`]); the old primary rejoins through a snapshot ([`rejoin`]).

use super::config::{GlobalConfig, Mutant};
use super::state::{GEpoch, GlobalState, Rec, Txn, txn_bit};

/// Whether `log` holds transaction `x`'s commit record.
pub fn holds(log: &[Rec], x: Txn) -> bool {
    log.iter().any(|c| c.txn == x && c.commit)
}

/// The transaction `log` leaves open: its last record is a data record.
pub fn open_txn(log: &[Rec]) -> Option<Txn> {
    log.last().filter(|c| !c.is_boundary()).map(|c| c.txn)
}

/// What a writing region at epoch `gepoch` appends next, and whether it begins a new
/// transaction (`offer`, the id the workload has for one, if any). The open transaction's
/// commit comes first. A switchover's drain lets the open transaction commit while read-only
/// stops new ones (a fenced old primary is not draining: it can commit nothing). `full`: the
/// log has no room.
pub fn next_record(
    cfg: &GlobalConfig,
    log: &[Rec],
    full: bool,
    writable: bool,
    draining: bool,
    gepoch: GEpoch,
    offer: Option<Txn>,
) -> Option<(Rec, bool)> {
    let open = open_txn(log);
    if full || !(writable || (draining && open.is_some())) {
        return None;
    }
    let (txn, commit, begins) = match open {
        Some(txn) => (txn, true, false),
        None if writable => (offer?, cfg.txn_records == 1, true),
        None => return None,
    };
    let rec = Rec {
        gepoch,
        txn,
        commit,
    };
    Some((rec, begins))
}

/// The MARKER a read-only primary draining for a switchover appends, if it may now: no
/// transaction may straddle it, so the log must be empty or end on a boundary.
pub fn marker(log: &[Rec], full: bool, writable: bool, gepoch: GEpoch) -> Option<Rec> {
    if writable || full || open_txn(log).is_some() {
        return None;
    }
    Some(Rec {
        gepoch,
        txn: 0,
        commit: true,
    })
}

/// The record the primary (log `leader`) streams next to a secondary whose log is
/// `follower`: the one after it, if the follower's log is a strict prefix of the leader's (a
/// secondary that diverged gets nothing until it is rebuilt).
pub fn next_for(follower: &[Rec], leader: &[Rec]) -> Option<Rec> {
    if follower.len() >= leader.len() || !GlobalState::is_prefix(follower, leader) {
        return None;
    }
    Some(leader[follower.len()])
}

/// Whether a switchover makes the primary read-only when it starts (under Mc2 only after its
/// check that the target is caught up).
pub fn read_only_at_start(cfg: &GlobalConfig) -> bool {
    !cfg.has(Mutant::SyncThenReadOnly)
}

/// Whether a switchover may promote its target now: the target holds the MARKER (`marker`,
/// its LSN, 0 before it is appended; `target_len`, the target's log length). Under Mc1 as
/// soon as the primary is read-only; under Mc2 once the sync check passed (`synced`) and the
/// primary is read-only.
pub fn switchover_ready(
    cfg: &GlobalConfig,
    marker: u8,
    synced: bool,
    target_len: usize,
    primary_writable: bool,
) -> bool {
    if cfg.has(Mutant::SyncThenReadOnly) {
        synced && !primary_writable
    } else if cfg.has(Mutant::PromoteWithoutMarker) {
        true
    } else {
        marker > 0 && target_len >= usize::from(marker)
    }
}

/// Whether a fence attempt that took effect (`ok`) stops the old primary (never under Mc3,
/// where the failover sends none).
pub fn fences(cfg: &GlobalConfig, ok: bool) -> bool {
    ok && !cfg.has(Mutant::NoFence)
}

/// A failover's target among `candidates`, the reachable secondaries as `(region, log
/// length)`: the most caught up, the lowest region on a tie (the most lagged under Mc5).
pub fn failover_target(cfg: &GlobalConfig, candidates: &[(usize, usize)]) -> Option<usize> {
    let c = candidates.iter().copied();
    let chosen = if cfg.has(Mutant::FailoverToMostLagged) {
        c.min_by_key(|&(i, len)| (len, i))
    } else {
        c.max_by_key(|&(i, len)| (len, std::cmp::Reverse(i)))
    };
    chosen.map(|(i, _)| i)
}

/// The global epoch a failover promotes at, from the current one (the same one under Mc8).
pub fn failover_epoch(cfg: &GlobalConfig, gepoch: GEpoch) -> GEpoch {
    if cfg.has(Mutant::PromoteSameEpoch) {
        gepoch
    } else {
        gepoch + 1
    }
}

/// How much of its log a failover's target keeps: up to its last boundary, so a transaction
/// whose commit record never arrived is rolled back (all of it under Mc7).
pub fn promotion_point(cfg: &GlobalConfig, log: &[Rec]) -> usize {
    if cfg.has(Mutant::PromoteMidTxn) {
        return log.len();
    }
    log.iter()
        .rposition(|c| c.is_boundary())
        .map_or(0, |i| i + 1)
}

/// Whether a secondary whose log is `own` must be rebuilt to a new primary's log `primary`:
/// it holds records the new primary lacks (never under Mc6).
pub fn needs_rebuild(cfg: &GlobalConfig, own: &[Rec], primary: &[Rec]) -> bool {
    !GlobalState::is_prefix(own, primary) && !cfg.has(Mutant::NoRebuild)
}

/// How much of its log a secondary being rebuilt keeps: the longest common prefix with the
/// primary's.
pub fn rebuild_point(own: &[Rec], primary: &[Rec]) -> usize {
    own.iter().zip(primary).take_while(|(a, b)| a == b).count()
}

/// What a returned old primary does to rejoin: the transactions (bits) it saves in its
/// snapshot, the commits in its log the new primary does not hold (`primary_holds`, none
/// under Mc9), and whether it keeps its own volume (only under Mc4; otherwise it takes a new,
/// empty one).
pub fn rejoin(cfg: &GlobalConfig, own: &[Rec], primary_holds: impl Fn(Txn) -> bool) -> (u8, bool) {
    let tail = own
        .iter()
        .filter(|c| c.commit && c.txn != 0 && !primary_holds(c.txn))
        .fold(0u8, |a, c| a | txn_bit(c.txn));
    let snapshot = if cfg.has(Mutant::RejoinWithoutSnapshot) {
        0
    } else {
        tail
    };
    (snapshot, cfg.has(Mutant::RejoinOwnVolume))
}

/// The commits a writing region at epoch `gepoch` has not acknowledged yet (`acked`), in log
/// order: its own commits at its epoch, never the MARKER or a replicated one.
pub fn pending(log: &[Rec], gepoch: GEpoch, acked: impl Fn(Txn) -> bool) -> Vec<Txn> {
    log.iter()
        .filter(|c| c.commit && c.txn != 0 && c.gepoch == gepoch && !acked(c.txn))
        .map(|c| c.txn)
        .collect()
}

/// Replication lag of a secondary whose log is `follower` behind the log `leader` at time
/// `now`: now minus the commit time (`ts`) of the oldest commit in `leader` the follower does
/// not hold; 0 if none. Every commit counts, acknowledged or not (MC6 in `specs/global.md`), so
/// the gate bounds what a failover can lose.
pub fn lag(leader: &[Rec], follower: &[Rec], ts: impl Fn(Txn) -> u8, now: u8) -> u8 {
    leader
        .iter()
        .filter(|c| c.commit && c.txn != 0 && !holds(follower, c.txn))
        .map(|c| now - ts(c.txn))
        .max()
        .unwrap_or(0)
}

/// Whether a writing region with log `own` may acknowledge now. With the RPO gate on it needs
/// the lag reports of its secondaries (`reports`: the logs of the reachable secondaries,
/// `None` when no report reaches it: it is not the named primary, or it is cut off), and some
/// secondary must lag by less than `rpo` ticks. Under Mc10 it acknowledges whatever the gate
/// says.
pub fn may_acknowledge(
    cfg: &GlobalConfig,
    own: &[Rec],
    reports: Option<&[&[Rec]]>,
    ts: impl Fn(Txn) -> u8,
    now: u8,
) -> bool {
    if cfg.rpo == 0 || cfg.has(Mutant::NoGate) {
        return true;
    }
    reports.is_some_and(|logs| logs.iter().any(|f| lag(own, f, &ts, now) < cfg.rpo))
}
