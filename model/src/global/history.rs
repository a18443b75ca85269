//! What the history (ghost) variables record when something happens: the observer's side of
//! the Global Database, shared by the model's `step` and the reference implementation's
//! cluster, which calls these with what its nodes did. Properties and trace descriptions read
//! what it records; the implementation's nodes and clients never do (its clients keep their
//! own table of acknowledgements).

use super::config::GlobalConfig;
use super::region::holds;
use super::state::{
    F_ACK_PAST_GATE, F_ACK_UNREPLICATED, F_BLOCKED, F_FAILOVER_DONE, F_FAILOVER_LOST_DATA,
    F_LOST_WITHIN_RPO, F_RESUMED, F_SPLIT_BRAIN, GEpoch, GlobalState, Role, Txn, txn_bit,
};

/// Region `r` held its commits `pending` back because the gate was closed. That is the gate
/// blocking for lag (G3.s1) only when the region is the named primary and not cut off.
pub fn held_back(s: &mut GlobalState, r: usize, pending: &[Txn]) {
    if usize::from(s.primary) == r && !s.regions[r].cut_off {
        s.ghost.flags |= F_BLOCKED;
        s.ghost.blocked |= pending.iter().fold(0, |a, &x| a | txn_bit(x));
    }
}

/// Region `r` acknowledged its commits `pending` at its epoch, at the current time.
pub fn acknowledged(cfg: &GlobalConfig, s: &mut GlobalState, r: usize, pending: &[Txn]) {
    let e = s.regions[r].gepoch;
    if cfg.rpo > 0 && !s.some_secondary_within_rpo(cfg.rpo, r) {
        s.ghost.flags |= F_ACK_PAST_GATE;
    }
    for &txn in pending {
        let elsewhere = (0..s.regions.len()).any(|o| o != r && s.holds_commit(o, txn));
        if cfg.rpo > 0 && !elsewhere {
            s.ghost.flags |= F_ACK_UNREPLICATED;
        }
        s.ghost.acked[usize::from(txn) - 1] = e;
        s.ghost.ack_from[usize::from(e) - 1] |= 1 << r;
        if e < s.ghost.max_ack_epoch {
            s.ghost.flags |= F_SPLIT_BRAIN;
        }
        s.ghost.max_ack_epoch = s.ghost.max_ack_epoch.max(e);
        s.ghost.last_ack_t[usize::from(e) - 1] = s.t;
        if s.ghost.blocked & txn_bit(txn) != 0 {
            s.ghost.flags |= F_RESUMED;
        }
    }
}

/// A failover (old primary `p`) chose its target, to promote at epoch `e_next`. The RPO bound
/// (C5) is owed only when a secondary at least as caught up as every other is reachable
/// then: losing the primary and the best secondary together loses more, whatever the gate
/// did.
pub fn failover_chosen(s: &mut GlobalState, p: usize, e_next: GEpoch) {
    let secondaries = || {
        s.regions
            .iter()
            .enumerate()
            .filter(|&(i, x)| i != p && x.role == Role::Secondary)
            .map(|(_, x)| x)
    };
    let best = secondaries().map(|x| x.log.len()).max().unwrap_or(0);
    let best_reachable = secondaries()
        .filter(|x| x.up && !x.cut_off)
        .map(|x| x.log.len())
        .max()
        .unwrap_or(0);
    if best_reachable >= best {
        s.ghost.rpo_owed |= 1 << (e_next - 1);
    }
}

/// A failover that ended epoch `old_e` promoted region `t` at epoch `e`: what it lost.
pub fn failover_done(s: &mut GlobalState, t: usize, old_e: GEpoch, e: GEpoch) {
    s.ghost.by_failover |= 1 << (e - 1);
    s.ghost.flags |= F_FAILOVER_DONE;
    let log = &s.regions[t].log;
    let lost = |at: &dyn Fn(u8) -> bool| {
        (1..=s.begun).any(|x| {
            let a = s.ghost.acked[usize::from(x) - 1];
            a != 0 && at(a) && !holds(log, x)
        })
    };
    let (lost_any, lost_own) = (lost(&|_| true), lost(&|a| a == old_e));
    if lost_any {
        s.ghost.flags |= F_FAILOVER_LOST_DATA;
    }
    // C5's bound is about the epoch this failover ended; earlier losses are not its.
    if lost_own && s.ghost.rpo_owed & (1 << (e - 1)) != 0 {
        s.ghost.flags |= F_LOST_WITHIN_RPO;
    }
}
