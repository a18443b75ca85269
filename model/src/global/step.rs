//! The actions of the Global Database model and the pure `step` that applies one.
//!
//! `step(cfg, state, action)` returns the next state, or `None` when the action is not enabled
//! or changes nothing. No I/O, clock or RNG (the model's clock is a state variable that the
//! environment ticks). Action names follow `specs/global.md`.

use serde::Serialize;

use super::config::{Fencing, GlobalConfig, Mutant};
use super::state::{
    Budget, F_ACK_PAST_GATE, F_ACK_UNREPLICATED, F_BLOCKED, F_FAILOVER_DONE, F_FAILOVER_LOST_DATA,
    F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_LOST_WITHIN_RPO, F_REBUILD_CUT, F_REJOINED, F_RESUMED,
    F_SPLIT_BRAIN, F_SWITCHOVER_CANCELLED, F_SWITCHOVER_DONE, Ghost, GlobalState, Op, Rec, Region,
    Role, txn_bit,
};

/// One step of the system. Operator commands and faults are "environment" actions
/// ([`Action::is_environment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Action {
    /// Region `region`, writable, appends the next record of its workload: a new transaction's
    /// data record (or its commit, with one record per transaction), or the open one's commit.
    Write {
        /// The writing region.
        region: u8,
    },
    /// Secondary `region` receives and applies the primary's next record (in order).
    Replicate {
        /// The secondary.
        region: u8,
    },
    /// The clock ticks.
    Tick,
    /// Operator: start a switchover to `target`; the primary goes read-only.
    SwitchoverStart {
        /// The secondary to promote.
        target: u8,
    },
    /// Switchover: the read-only primary appends the MARKER (under Mc2: check the target is
    /// caught up, then make the primary read-only).
    Drain,
    /// Switchover: the target holds the MARKER; promote it at the next global epoch, and the
    /// old primary becomes a secondary.
    SwitchoverPromote,
    /// Operator: cancel the switchover before promotion; the primary is writable again.
    SwitchoverCancel,
    /// Operator: unplanned failover (allow data loss): pick the target.
    FailoverStart,
    /// Failover: fence the old primary; `ok = false` (best-effort fencing only) is a fence
    /// that fails.
    Fence {
        /// Whether the fence takes effect.
        ok: bool,
    },
    /// Failover: promote the target from its last commit boundary at the next global epoch;
    /// secondaries ahead of it must be rebuilt.
    FailoverPromote,
    /// Rebuild secondary `region` to the new primary's point.
    Rebuild {
        /// The secondary.
        region: u8,
    },
    /// The returned old primary snapshots its unreplicated tail, takes a new volume and
    /// rejoins as a secondary.
    Rejoin {
        /// The old primary.
        region: u8,
    },
    /// Fault: region `region` goes down (its log survives).
    Outage {
        /// The region.
        region: u8,
    },
    /// A region that was down comes back.
    Return {
        /// The region.
        region: u8,
    },
    /// Fault: region `region` is cut off from the others and the control plane.
    Partition {
        /// The region.
        region: u8,
    },
    /// A partition heals.
    Heal {
        /// The region.
        region: u8,
    },
}

impl Action {
    /// Faults, the clock and the operator's commands: actions that need not happen. A state
    /// where only these change anything is quiescent (bounded liveness is judged there).
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            Action::Tick
                | Action::SwitchoverStart { .. }
                | Action::SwitchoverCancel
                | Action::FailoverStart
                | Action::Fence { ok: false }
                | Action::Outage { .. }
                | Action::Partition { .. }
        )
    }
}

/// The one initial state: region 0 is the primary at global epoch 1, nothing written.
pub fn init(cfg: &GlobalConfig) -> GlobalState {
    let regions = (0..cfg.regions)
        .map(|r| Region {
            role: if r == 0 {
                Role::Primary
            } else {
                Role::Secondary
            },
            up: true,
            cut_off: false,
            writable: r == 0,
            gepoch: 1,
            log: arrayvec::ArrayVec::new(),
        })
        .collect();
    GlobalState {
        regions,
        gepoch: 1,
        primary: 0,
        op: Op::Idle,
        t: 0,
        begun: 0,
        budget: Budget {
            switchovers: cfg.switchovers,
            failovers: cfg.failovers,
            outages: cfg.outages,
            partitions: cfg.partitions,
        },
        ghost: Ghost::default(),
    }
}

/// Every action worth trying in `s` (a superset of the enabled ones; `step` decides).
pub fn actions(cfg: &GlobalConfig, s: &GlobalState, out: &mut Vec<Action>) {
    for r in 0..s.regions.len() as u8 {
        let x = &s.regions[usize::from(r)];
        out.push(Action::Write { region: r });
        match x.role {
            Role::Secondary => out.push(Action::Replicate { region: r }),
            Role::Rebuilding => out.push(Action::Rebuild { region: r }),
            Role::Old => out.push(Action::Rejoin { region: r }),
            Role::Primary => {}
        }
        if x.up {
            out.push(Action::Outage { region: r });
        } else {
            out.push(Action::Return { region: r });
        }
        if x.cut_off {
            out.push(Action::Heal { region: r });
        } else {
            out.push(Action::Partition { region: r });
        }
        out.push(Action::SwitchoverStart { target: r });
    }
    out.push(Action::Tick);
    out.push(Action::Drain);
    out.push(Action::SwitchoverPromote);
    out.push(Action::SwitchoverCancel);
    out.push(Action::FailoverStart);
    out.push(Action::Fence { ok: true });
    if cfg.fencing == Fencing::BestEffort {
        out.push(Action::Fence { ok: false });
    }
    out.push(Action::FailoverPromote);
}

/// Apply `action` to `s`. `None` if it is not enabled or changes nothing.
pub fn step(cfg: &GlobalConfig, s: &GlobalState, action: &Action) -> Option<GlobalState> {
    let mut n = s.clone();
    if !apply(cfg, &mut n, action) {
        return None;
    }
    settle(cfg, &mut n);
    if n == *s { None } else { Some(n) }
}

/// Whether region `r` is running and reachable.
fn reachable(x: &Region) -> bool {
    x.up && !x.cut_off
}

fn apply(cfg: &GlobalConfig, s: &mut GlobalState, action: &Action) -> bool {
    match *action {
        Action::Write { region } => write(cfg, s, usize::from(region)),
        Action::Replicate { region } => {
            let r = usize::from(region);
            let (x, p) = (&s.regions[r], s.prim());
            // A failover detaches the secondaries from the old primary when it starts: the
            // target was chosen as the most caught up, and must stay so (MC in the spec).
            let detached = matches!(s.op, Op::Failover { .. });
            if x.role != Role::Secondary || !reachable(x) || !reachable(p) || detached {
                return false;
            }
            if x.log.len() >= p.log.len() || !GlobalState::is_prefix(&x.log, &p.log) {
                return false;
            }
            let next = p.log[x.log.len()];
            s.regions[r].log.push(next);
            true
        }
        Action::Tick => {
            if s.t >= cfg.max_time {
                return false;
            }
            s.t += 1;
            true
        }
        Action::SwitchoverStart { target } => {
            let (t, p) = (usize::from(target), usize::from(s.primary));
            let ok = s.op == Op::Idle
                && s.budget.switchovers > 0
                && t != p
                && s.regions[p].role == Role::Primary
                && s.regions[p].writable
                && reachable(&s.regions[p])
                && s.regions[t].role == Role::Secondary
                && reachable(&s.regions[t])
                && s.regions
                    .iter()
                    .all(|x| matches!(x.role, Role::Primary | Role::Secondary));
            if !ok {
                return false;
            }
            s.budget.switchovers -= 1;
            if !cfg.has(Mutant::SyncThenReadOnly) {
                s.regions[p].writable = false; // read-only, then drain
            }
            s.op = Op::Switchover {
                target,
                marker: 0,
                synced: false,
            };
            true
        }
        Action::Drain => {
            let Op::Switchover {
                target,
                marker: 0,
                synced,
            } = s.op
            else {
                return false;
            };
            let p = usize::from(s.primary);
            if !reachable(&s.regions[p]) {
                return false;
            }
            if cfg.has(Mutant::SyncThenReadOnly) {
                // "Wait until the target is synchronized, then make the primary read-only."
                let t = &s.regions[usize::from(target)];
                if !synced {
                    if t.log != s.regions[p].log {
                        return false;
                    }
                    s.op = Op::Switchover {
                        target,
                        marker: 0,
                        synced: true,
                    };
                    return true;
                }
                if !s.regions[p].writable {
                    return false;
                }
                s.regions[p].writable = false;
                return true;
            }
            let x = &mut s.regions[p];
            if x.writable || x.log.is_full() || x.log.last().is_some_and(|c| !c.is_boundary()) {
                return false; // drain: no transaction may straddle the MARKER
            }
            x.log.push(Rec {
                gepoch: x.gepoch,
                txn: 0,
                commit: true,
            });
            s.op = Op::Switchover {
                target,
                marker: x.log.len() as u8,
                synced,
            };
            true
        }
        Action::SwitchoverPromote => {
            let Op::Switchover {
                target,
                marker,
                synced,
            } = s.op
            else {
                return false;
            };
            let (t, p) = (usize::from(target), usize::from(s.primary));
            if !reachable(&s.regions[t]) || !reachable(&s.regions[p]) {
                return false;
            }
            let ready = if cfg.has(Mutant::SyncThenReadOnly) {
                synced && !s.regions[p].writable
            } else if cfg.has(Mutant::PromoteWithoutMarker) {
                true // as soon as the primary is read-only
            } else {
                marker > 0 && s.regions[t].log.len() >= usize::from(marker)
            };
            if !ready {
                return false;
            }
            let e = s.gepoch + 1;
            promote(s, t, e);
            let old = &mut s.regions[p];
            old.role = Role::Secondary;
            old.writable = false;
            s.ghost.by_switchover |= 1 << (e - 1);
            s.ghost.flags |= F_SWITCHOVER_DONE;
            true
        }
        Action::SwitchoverCancel => {
            if !matches!(s.op, Op::Switchover { .. }) {
                return false;
            }
            s.regions[usize::from(s.primary)].writable = true;
            s.op = Op::Idle;
            s.ghost.flags |= F_SWITCHOVER_CANCELLED;
            true
        }
        Action::FailoverStart => {
            let p = usize::from(s.primary);
            if s.op != Op::Idle || s.budget.failovers == 0 || reachable(&s.regions[p]) {
                return false;
            }
            let candidates = s
                .regions
                .iter()
                .enumerate()
                .filter(|(_, x)| x.role == Role::Secondary && reachable(x));
            // The most caught-up reachable secondary (lowest index on a tie).
            let target = if cfg.has(Mutant::FailoverToMostLagged) {
                candidates.min_by_key(|(i, x)| (x.log.len(), *i))
            } else {
                candidates.max_by_key(|(i, x)| (x.log.len(), std::cmp::Reverse(*i)))
            };
            let Some((t, _)) = target else {
                return false;
            };
            // The RPO bound (C5) is owed only when a secondary at least as caught up as every
            // other is reachable when the target is chosen: losing the primary and the best
            // secondary together loses more, whatever the gate did.
            let secondaries = || {
                s.regions
                    .iter()
                    .enumerate()
                    .filter(|&(i, x)| i != p && x.role == Role::Secondary)
                    .map(|(_, x)| x)
            };
            let best = secondaries().map(|x| x.log.len()).max().unwrap_or(0);
            let best_reachable = secondaries()
                .filter(|x| reachable(x))
                .map(|x| x.log.len())
                .max()
                .unwrap_or(0);
            let e_next = if cfg.has(Mutant::PromoteSameEpoch) {
                s.gepoch
            } else {
                s.gepoch + 1
            };
            if best_reachable >= best {
                s.ghost.rpo_owed |= 1 << (e_next - 1);
            }
            s.budget.failovers -= 1;
            s.op = Op::Failover {
                target: t as u8,
                fenced: false,
            };
            true
        }
        Action::Fence { ok } => {
            let Op::Failover {
                target,
                fenced: false,
            } = s.op
            else {
                return false;
            };
            if !ok && cfg.fencing != Fencing::BestEffort {
                return false;
            }
            if ok && !cfg.has(Mutant::NoFence) {
                let old = &mut s.regions[usize::from(s.primary)];
                if old.up {
                    s.ghost.flags |= F_FENCED_LIVE; // cut off, still running: C2 is at stake
                }
                old.writable = false;
            }
            s.op = Op::Failover {
                target,
                fenced: true,
            };
            true
        }
        Action::FailoverPromote => {
            let Op::Failover {
                target,
                fenced: true,
            } = s.op
            else {
                return false;
            };
            let (t, p) = (usize::from(target), usize::from(s.primary));
            if !reachable(&s.regions[t]) {
                return false;
            }
            if !cfg.has(Mutant::PromoteMidTxn) {
                // Roll back a transaction whose commit record never arrived.
                let log = &mut s.regions[t].log;
                let d = log
                    .iter()
                    .rposition(|c| c.is_boundary())
                    .map_or(0, |i| i + 1);
                if d < log.len() {
                    s.ghost.flags |= F_HALF_TXN_DROPPED;
                }
                log.truncate(d);
            }
            let old_e = s.gepoch;
            let e = if cfg.has(Mutant::PromoteSameEpoch) {
                s.gepoch
            } else {
                s.gepoch + 1
            };
            promote(s, t, e);
            s.regions[p].role = Role::Old;
            let new_log = s.regions[t].log.clone();
            for (i, x) in s.regions.iter_mut().enumerate() {
                // Only secondaries are rebuilt: an `Old` region from an earlier failover keeps
                // its unreplicated tail until it rejoins through a snapshot.
                let secondary = matches!(x.role, Role::Secondary | Role::Rebuilding);
                let ahead = !GlobalState::is_prefix(&x.log, &new_log);
                if i != t && secondary && ahead && !cfg.has(Mutant::NoRebuild) {
                    x.role = Role::Rebuilding;
                }
            }
            s.ghost.by_failover |= 1 << (e - 1);
            s.ghost.flags |= F_FAILOVER_DONE;
            let lost = |at: &dyn Fn(u8) -> bool| {
                (1..=s.begun).any(|x| {
                    let a = s.ghost.acked[usize::from(x) - 1];
                    a != 0 && at(a) && !s.holds_commit(t, x)
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
            true
        }
        Action::Rebuild { region } => {
            let r = usize::from(region);
            if s.regions[r].role != Role::Rebuilding
                || !reachable(&s.regions[r])
                || !reachable(s.prim())
            {
                return false;
            }
            let p = s.prim().log.clone();
            let x = &mut s.regions[r];
            let common = x.log.iter().zip(&p).take_while(|(a, b)| a == b).count();
            if common < x.log.len() {
                s.ghost.flags |= F_REBUILD_CUT;
            }
            x.log.truncate(common);
            x.role = Role::Secondary;
            x.writable = false;
            true
        }
        Action::Rejoin { region } => {
            let r = usize::from(region);
            if s.regions[r].role != Role::Old || !reachable(&s.regions[r]) || s.op != Op::Idle {
                return false;
            }
            // Snapshot the commits the new primary does not hold, then a new, empty volume.
            let p = usize::from(s.primary);
            let tail = s.regions[r]
                .log
                .iter()
                .filter(|c| c.commit && c.txn != 0)
                .filter(|c| !s.holds_commit(p, c.txn))
                .fold(0u8, |a, c| a | txn_bit(c.txn));
            if !cfg.has(Mutant::RejoinWithoutSnapshot) {
                s.ghost.snapshot |= tail;
            }
            let x = &mut s.regions[r];
            if !cfg.has(Mutant::RejoinOwnVolume) {
                x.log.clear();
            }
            x.role = Role::Secondary;
            x.writable = false;
            s.ghost.rejoined |= 1 << r;
            s.ghost.flags |= F_REJOINED;
            true
        }
        Action::Outage { region } => {
            let x = &mut s.regions[usize::from(region)];
            if !x.up || s.budget.outages == 0 {
                return false;
            }
            s.budget.outages -= 1;
            x.up = false;
            true
        }
        Action::Return { region } => {
            let x = &mut s.regions[usize::from(region)];
            if x.up {
                return false;
            }
            x.up = true;
            true
        }
        Action::Partition { region } => {
            let x = &mut s.regions[usize::from(region)];
            if x.cut_off || !x.up || s.budget.partitions == 0 {
                return false;
            }
            s.budget.partitions -= 1;
            x.cut_off = true;
            true
        }
        Action::Heal { region } => {
            let x = &mut s.regions[usize::from(region)];
            if !x.cut_off {
                return false;
            }
            x.cut_off = false;
            true
        }
    }
}

/// Region `t` becomes the primary at global epoch `e`.
fn promote(s: &mut GlobalState, t: usize, e: u8) {
    s.gepoch = e;
    let x = &mut s.regions[t];
    x.role = Role::Primary;
    x.writable = true;
    x.gepoch = e;
    s.ghost.start[usize::from(e) - 1] = x.log.len() as u8;
    s.primary = t as u8;
    s.op = Op::Idle;
}

/// A writable region appends its next record: the open transaction's commit, or a new
/// transaction (its data record, or its commit with one record per transaction).
fn write(cfg: &GlobalConfig, s: &mut GlobalState, r: usize) -> bool {
    let x = &s.regions[r];
    let open = x.log.last().filter(|c| !c.is_boundary()).map(|c| c.txn);
    // A switchover's drain lets the open transaction commit; read-only stops new ones. (A
    // fenced old primary is not draining: it can commit nothing.)
    let draining = matches!(s.op, Op::Switchover { .. }) && r == usize::from(s.primary);
    let may_write = x.writable || (draining && open.is_some());
    if !x.up || !may_write || !matches!(x.role, Role::Primary | Role::Old) || x.log.is_full() {
        return false;
    }
    let (txn, commit) = match open {
        Some(txn) => (txn, true),
        None if s.begun < cfg.txns && x.writable => {
            s.begun += 1;
            (s.begun, cfg.txn_records == 1)
        }
        None => return false,
    };
    let e = x.gepoch;
    if commit {
        s.ghost.ts[usize::from(txn) - 1] = s.t;
    }
    s.regions[r].log.push(Rec {
        gepoch: e,
        txn,
        commit,
    });
    true
}

/// After every step: each writing region acknowledges the commits it wrote at its epoch, as
/// far as the RPO gate lets it.
fn settle(cfg: &GlobalConfig, s: &mut GlobalState) {
    for r in 0..s.regions.len() {
        let x = &s.regions[r];
        if !x.up || !matches!(x.role, Role::Primary | Role::Old) {
            continue;
        }
        let e = x.gepoch;
        let pending: Vec<u8> = x
            .log
            .iter()
            .filter(|c| c.commit && c.txn != 0 && c.gepoch == e)
            .filter(|c| s.ghost.acked[usize::from(c.txn) - 1] == 0)
            .map(|c| c.txn)
            .collect();
        if pending.is_empty() {
            continue;
        }
        if !s.gate_open(cfg.rpo, r) && !cfg.has(Mutant::NoGate) {
            // Held back for lag (G3.s1) only when the gate, not a partition, is the reason.
            if usize::from(s.primary) == r && !s.regions[r].cut_off {
                s.ghost.flags |= F_BLOCKED;
                s.ghost.blocked |= pending.iter().fold(0, |a, &x| a | txn_bit(x));
            }
            continue;
        }
        if cfg.rpo > 0 && !s.some_secondary_within_rpo(cfg.rpo, r) {
            s.ghost.flags |= F_ACK_PAST_GATE;
        }
        for txn in pending {
            if cfg.rpo > 0 && !(0..s.regions.len()).any(|o| o != r && s.holds_commit(o, txn)) {
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
}

#[cfg(test)]
mod tests;
