//! The actions of the Global Database model and the pure `step` that applies one.
//!
//! `step(cfg, state, action)` returns the next state, or `None` when the action is not enabled
//! or changes nothing. No I/O, clock or RNG (the model's clock is a state variable that the
//! environment ticks). Action names follow `specs/global.md`.

use serde::{Deserialize, Serialize};

use super::config::{Fencing, GlobalConfig, Mutant};
use super::history;
use super::region as rules;
use super::state::{
    Budget, F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_REBUILD_CUT, F_REJOINED, F_SWITCHOVER_CANCELLED,
    F_SWITCHOVER_DONE, Ghost, GlobalState, Op, Rec, Region, Role,
};

/// One step of the system. Operator commands and faults are "environment" actions
/// ([`Action::is_environment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
            let Some(next) = rules::next_for(&x.log, &p.log) else {
                return false;
            };
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
            if rules::read_only_at_start(cfg) {
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
            let Some(m) = rules::marker(&x.log, x.log.is_full(), x.writable, x.gepoch) else {
                return false;
            };
            x.log.push(m);
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
            let (target_len, writable) = (s.regions[t].log.len(), s.regions[p].writable);
            if !rules::switchover_ready(cfg, marker, synced, target_len, writable) {
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
            let candidates: Vec<(usize, usize)> = s
                .regions
                .iter()
                .enumerate()
                .filter(|(_, x)| x.role == Role::Secondary && reachable(x))
                .map(|(i, x)| (i, x.log.len()))
                .collect();
            let Some(t) = rules::failover_target(cfg, &candidates) else {
                return false;
            };
            history::failover_chosen(s, p, rules::failover_epoch(cfg, s.gepoch));
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
            if rules::fences(cfg, ok) {
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
            // Roll back a transaction whose commit record never arrived.
            let log = &mut s.regions[t].log;
            let d = rules::promotion_point(cfg, log);
            if d < log.len() {
                s.ghost.flags |= F_HALF_TXN_DROPPED;
            }
            log.truncate(d);
            let old_e = s.gepoch;
            let e = rules::failover_epoch(cfg, s.gepoch);
            promote(s, t, e);
            s.regions[p].role = Role::Old;
            let new_log = s.regions[t].log.clone();
            for (i, x) in s.regions.iter_mut().enumerate() {
                // Only secondaries are rebuilt: an `Old` region from an earlier failover keeps
                // its unreplicated tail until it rejoins through a snapshot.
                let secondary = matches!(x.role, Role::Secondary | Role::Rebuilding);
                if i != t && secondary && rules::needs_rebuild(cfg, &x.log, &new_log) {
                    x.role = Role::Rebuilding;
                }
            }
            history::failover_done(s, t, old_e, e);
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
            let common = rules::rebuild_point(&x.log, &p);
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
            // It rejoins as the new primary's secondary, and its snapshot is of what the new
            // primary lacks: it must reach the new primary to learn that (MC16).
            let ready = s.op == Op::Idle && reachable(&s.regions[r]) && reachable(s.prim());
            if s.regions[r].role != Role::Old || !ready {
                return false;
            }
            // Snapshot the commits the new primary does not hold, then a new, empty volume.
            let p = &s.regions[usize::from(s.primary)].log;
            let (snapshot, keep) = rules::rejoin(cfg, &s.regions[r].log, |x| rules::holds(p, x));
            s.ghost.snapshot |= snapshot;
            let x = &mut s.regions[r];
            if !keep {
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
    if !x.up || !writes(x.role) {
        return false;
    }
    let draining = matches!(s.op, Op::Switchover { .. }) && r == usize::from(s.primary);
    let offer = (s.begun < cfg.txns).then_some(s.begun + 1);
    let full = x.log.is_full();
    let Some((rec, begins)) =
        rules::next_record(cfg, &x.log, full, x.writable, draining, x.gepoch, offer)
    else {
        return false;
    };
    if begins {
        s.begun += 1;
    }
    if rec.commit {
        s.ghost.ts[usize::from(rec.txn) - 1] = s.t;
    }
    s.regions[r].log.push(rec);
    true
}

/// Whether a region in `role` writes (and acknowledges): the primary, or an old primary that
/// nothing told otherwise.
pub fn writes(role: Role) -> bool {
    matches!(role, Role::Primary | Role::Old)
}

/// After every step: each writing region acknowledges the commits it wrote at its epoch, as
/// far as the RPO gate lets it. The gate needs the lag reports of the reachable secondaries,
/// which reach only the named primary, and only while it is not cut off.
fn settle(cfg: &GlobalConfig, s: &mut GlobalState) {
    for r in 0..s.regions.len() {
        let x = &s.regions[r];
        if !x.up || !writes(x.role) {
            continue;
        }
        let pending = rules::pending(&x.log, x.gepoch, |t| s.ghost.acked[usize::from(t) - 1] != 0);
        if pending.is_empty() {
            continue;
        }
        let reports = (usize::from(s.primary) == r && !x.cut_off).then(|| {
            s.regions
                .iter()
                .enumerate()
                .filter(|&(o, y)| o != r && y.role == Role::Secondary && reachable(y))
                .map(|(_, y)| y.log.as_slice())
                .collect::<Vec<&[Rec]>>()
        });
        let ts = |t: u8| s.ghost.ts[usize::from(t) - 1];
        if !rules::may_acknowledge(cfg, &x.log, reports.as_deref(), ts, s.t) {
            history::held_back(s, r, &pending);
            continue;
        }
        history::acknowledged(cfg, s, r, &pending);
    }
}

#[cfg(test)]
mod tests;
