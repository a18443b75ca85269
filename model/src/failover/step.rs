//! The actions of the failover model and the pure `step` that applies one.
//!
//! `step(cfg, state, action)` returns the next state, or `None` when the action is not enabled
//! or changes nothing. No I/O, clock or RNG: the checker explores it and the reference
//! implementation drives the same function. Action names follow `specs/failover.md`.
//!
//! Recovery actions (`GetEpoch` .. `Open`) act for the instance the endpoint routes to, which
//! the control plane promoted; there is at most one recovery at a time.

use serde::{Deserialize, Serialize};

use super::actors::msg::{Msg, Timer};
use super::config::{FailoverConfig, Mutant};
use super::observer;
use super::state::{
    Budget, EpochSet, FailoverState, Ghost, Inst, Lsn, Phase, Role, Seg, epoch_bit,
};
use super::storage;
use crate::quorum::config::MAX_LSN;
use route::All;

/// One step of the system. Faults are "environment" actions ([`Action::is_environment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// Writer `inst` allocates the next mini-transaction's LSNs and sends each record.
    WriteMtr {
        /// The writing instance.
        inst: u8,
    },
    /// The record of LSN `lsn` sent at epoch `epoch` reaches segment `seg`.
    Deliver {
        /// Destination.
        seg: u8,
        /// LSN.
        lsn: Lsn,
        /// The sender's epoch.
        epoch: u8,
    },
    /// Segment `from` copies LSN `lsn` to `to` (repair).
    Gossip {
        /// Sender.
        from: u8,
        /// Receiver.
        to: u8,
        /// LSN.
        lsn: Lsn,
    },
    /// Control plane: the writer is gone (crashed or unreachable); promote the best replica.
    Promote,
    /// Recovery: get a new volume epoch from the metadata service.
    GetEpoch,
    /// Recovery: install the new epoch on segment `seg`.
    Fence {
        /// The segment.
        seg: u8,
    },
    /// Recovery: read the SCLs of the read quorum `quorum` (bit set) and compute the
    /// recovered VDL and the truncation range.
    ReadScl {
        /// The responding segments.
        quorum: u16,
    },
    /// Recovery (or the writer, for a segment that missed it): install the epoch's truncation
    /// range on `seg`.
    WriteTrunc {
        /// The segment.
        seg: u8,
    },
    /// Recovery: open for writes.
    Open,
    /// The open writer rolls back every transaction that was active when an older
    /// incarnation failed (online undo, after `Open`).
    Undo,
    /// Replica `replica` learns the current writer's VDL from the stream.
    Sync {
        /// The replica.
        replica: u8,
    },
    /// Replica `replica` applies its next mini-transaction.
    Apply {
        /// The replica.
        replica: u8,
    },
    /// Fault: the writer crashes.
    WriterCrash,
    /// Fault: the writer is cut off from the control plane but keeps running.
    WriterPartition,
    /// Fault: the recovering instance crashes.
    RecoveryCrash,
    /// Fault: replica `replica` crashes.
    ReplicaCrash {
        /// The replica.
        replica: u8,
    },
    /// Fault: segment `seg` crashes.
    SegCrash {
        /// The segment.
        seg: u8,
    },
    /// Fault: every segment of AZ `az` goes down.
    AzOutage {
        /// The AZ.
        az: u8,
    },
    /// A crashed instance restarts as a replica.
    RestartInstance {
        /// The instance.
        inst: u8,
    },
    /// A crashed segment restarts.
    SegRestart {
        /// The segment.
        seg: u8,
    },
}

impl Action {
    /// Faults: actions that need not happen. A state where only these change anything is
    /// quiescent (bounded liveness is judged there). Restarts are not faults: a crash is
    /// transient, so a crashed segment or instance does come back, and a recovery whose only
    /// copy of a record sits on a crashed segment waits for it rather than failing F1.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            Action::WriterCrash
                | Action::WriterPartition
                | Action::RecoveryCrash
                | Action::ReplicaCrash { .. }
                | Action::SegCrash { .. }
                | Action::AzOutage { .. }
        )
    }
}

/// The one initial state: W1 is the writer at epoch 1, replicas follow it, nothing written.
pub fn init(cfg: &FailoverConfig) -> FailoverState {
    let segs = (0..cfg.segments())
        .map(|i| Seg {
            up: true,
            az: (i / usize::from(cfg.segments_per_az)) as u8,
            fence: 1,
            trunc_epoch: 1,
            scl: 0,
            recs: [0; MAX_LSN],
        })
        .collect();
    let mut insts: arrayvec::ArrayVec<Inst, { super::config::MAX_INSTANCES }> =
        arrayvec::ArrayVec::new();
    let mut w = Inst::replica(0);
    w.role = Role::Writer;
    w.epoch = 1;
    insts.push(w);
    for tier in 0..cfg.replicas {
        insts.push(Inst::replica(tier));
    }
    FailoverState {
        segs,
        insts,
        endpoint: 0,
        epoch_ctr: 1,
        truncs: arrayvec::ArrayVec::new(),
        sent: [0; MAX_LSN],
        cpls: 0,
        bodies: 0,
        txn_done: 0,
        aborted: 0,
        budget: Budget {
            writer_failures: cfg.writer_failures,
            recovery_crashes: cfg.recovery_crashes,
            replica_crashes: cfg.replica_crashes,
            seg_crashes: cfg.seg_crashes,
            az_outages: cfg.az_outages,
        },
        ghost: Ghost::default(),
    }
}

/// Every action worth trying in `s` (a superset of the enabled ones; `step` decides).
pub fn actions(cfg: &FailoverConfig, s: &FailoverState, out: &mut Vec<Action>) {
    let n = s.segs.len() as u8;
    for (i, inst) in s.insts.iter().enumerate() {
        let i = i as u8;
        match inst.role {
            Role::Writer => {
                if inst.next_lsn <= cfg.lsns {
                    out.push(Action::WriteMtr { inst: i });
                }
                if s.orphans(inst) != 0 {
                    out.push(Action::Undo);
                }
            }
            Role::Replica => {
                out.push(Action::Sync { replica: i });
                out.push(Action::Apply { replica: i });
                if s.budget.replica_crashes > 0 {
                    out.push(Action::ReplicaCrash { replica: i });
                }
            }
            Role::Down => {
                if i != s.endpoint {
                    out.push(Action::RestartInstance { inst: i });
                }
            }
            Role::Recovering(_) => {}
        }
    }
    for seg in 0..n {
        let x = &s.segs[usize::from(seg)];
        if !x.up {
            out.push(Action::SegRestart { seg });
            continue;
        }
        for lsn in 1..=cfg.lsns {
            let mut epochs: EpochSet = s.sent[usize::from(lsn) - 1];
            while epochs != 0 {
                let epoch = epochs.trailing_zeros() as u8 + 1;
                epochs &= epochs - 1;
                if x.rec(lsn) != epoch {
                    out.push(Action::Deliver { seg, lsn, epoch });
                }
            }
            if x.rec(lsn) != 0 {
                for to in (0..n).filter(|&t| t != seg) {
                    let y = &s.segs[usize::from(to)];
                    if y.up && y.rec(lsn) == 0 {
                        out.push(Action::Gossip { from: seg, to, lsn });
                    }
                }
            }
        }
        if s.budget.seg_crashes > 0 {
            out.push(Action::SegCrash { seg });
        }
    }
    out.push(Action::Promote);
    if let Some(e) = s.insts.get(usize::from(s.endpoint)) {
        // Fences and installs are offered only where they change the segment: it holds every
        // range up to the epoch it installed.
        let fences = |seg: u8| storage::fence_needed(&s.segs[usize::from(seg)], e.epoch);
        let installs =
            |seg: u8| storage::install_needed(&s.segs[usize::from(seg)], e.epoch) == Ok(true);
        match e.role {
            Role::Recovering(Phase::Promoted) => out.push(Action::GetEpoch),
            Role::Recovering(Phase::Fencing) => {
                for seg in (0..n).filter(|&k| fences(k)) {
                    out.push(Action::Fence { seg });
                }
                let up = s
                    .segs
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.up)
                    .fold(0u16, |a, (i, _)| a | (1 << i));
                for q in 1..(1u16 << n) {
                    if q & !up == 0 && q.count_ones() == u32::from(cfg.read_quorum) {
                        out.push(Action::ReadScl { quorum: q });
                    }
                }
            }
            Role::Recovering(Phase::Truncating { .. }) => {
                for seg in 0..n {
                    if installs(seg) {
                        out.push(Action::WriteTrunc { seg });
                    }
                    if cfg.has(Mutant::FenceAfterRecoveryRead) && fences(seg) {
                        out.push(Action::Fence { seg });
                    }
                }
                out.push(Action::Open);
            }
            Role::Writer => {
                for seg in (0..n).filter(|&k| installs(k)) {
                    out.push(Action::WriteTrunc { seg });
                }
            }
            _ => {}
        }
        if matches!(e.role, Role::Recovering(_)) && s.budget.recovery_crashes > 0 {
            out.push(Action::RecoveryCrash);
        }
        if e.role == Role::Writer && !e.cut_off && s.budget.writer_failures > 0 {
            out.push(Action::WriterCrash);
            if cfg.partitions {
                out.push(Action::WriterPartition);
            }
        }
    }
    if s.budget.az_outages > 0 {
        for az in 0..cfg.azs {
            out.push(Action::AzOutage { az });
        }
    }
}

/// Apply `action` to `s`. `None` if it is not enabled or changes nothing.
pub fn step(cfg: &FailoverConfig, s: &FailoverState, action: &Action) -> Option<FailoverState> {
    let mut n = s.clone();
    if !apply(cfg, &mut n, action) {
        return None;
    }
    settle(cfg, &mut n);
    if n == *s { None } else { Some(n) }
}

/// The endpoint instance, if it is recovering, with its phase.
fn recovering(s: &FailoverState) -> Option<(usize, Phase)> {
    let i = usize::from(s.endpoint);
    match s.insts.get(i)?.role {
        Role::Recovering(p) => Some((i, p)),
        _ => None,
    }
}

fn apply(cfg: &FailoverConfig, s: &mut FailoverState, action: &Action) -> bool {
    match *action {
        Action::WriteMtr { inst } => {
            if s.insts.get(usize::from(inst)).map(|x| x.role) != Some(Role::Writer) {
                return false;
            }
            route::to_instance(cfg, s, usize::from(inst), timer(Timer::NextMtr), All);
            true
        }
        Action::Deliver { seg, lsn, epoch } => {
            let i = usize::from(seg);
            let x = s.segs[i];
            if !x.up || s.sent[usize::from(lsn) - 1] & epoch_bit(epoch) == 0 || x.rec(lsn) == epoch
            {
                return false;
            }
            let src = route::writer_at(cfg, s, epoch);
            let write = Msg::Write {
                lsn,
                epoch,
                range: s.trunc_of(epoch).copied(),
            };
            let replies = route::to_segment(cfg, s, i, src, &write);
            observer::record_delivered(&mut s.ghost, &x, epoch, &replies.0)
        }
        Action::Gossip { from, to, lsn } => {
            let (a, b) = (s.segs[usize::from(from)], s.segs[usize::from(to)]);
            if from == to || !a.up || !b.up {
                return false;
            }
            route::gossip(cfg, s, usize::from(from), usize::from(to), lsn)
        }
        Action::Promote => route::watch(cfg, s).is_some(),
        Action::GetEpoch => {
            let Some((i, Phase::Promoted)) = recovering(s) else {
                return false;
            };
            route::to_instance(cfg, s, i, timer(Timer::Recover), All);
            true
        }
        Action::Fence { seg } => {
            let Some((i, _)) = recovering(s) else {
                return false;
            };
            if !s.segs[usize::from(seg)].up {
                return false;
            }
            route::to_instance(cfg, s, i, timer(Timer::Fence { seg }), All);
            true
        }
        Action::ReadScl { quorum } => {
            // The first read quorum to answer is the composition's choice: every one that is
            // up is tried.
            let Some((i, Phase::Fencing)) = recovering(s) else {
                return false;
            };
            let up = s
                .segs
                .iter()
                .enumerate()
                .filter(|(_, x)| x.up)
                .fold(0u16, |a, (k, _)| a | (1 << k));
            if quorum & !up != 0 || quorum.count_ones() != u32::from(cfg.read_quorum) {
                return false;
            }
            route::to_instance(cfg, s, i, timer(Timer::ReadScl), route::Reach::Only(quorum));
            true
        }
        Action::WriteTrunc { seg } => {
            // The endpoint's instance: a recovery, or the open writer while the control plane
            // hears it.
            let i = usize::from(s.endpoint);
            let Some(inst) = s.insts.get(i) else {
                return false;
            };
            if inst.cut_off || !s.segs[usize::from(seg)].up {
                return false;
            }
            route::to_instance(cfg, s, i, timer(Timer::Install { seg }), All);
            true
        }
        Action::Open => {
            let Some((i, Phase::Truncating { .. })) = recovering(s) else {
                return false;
            };
            route::to_instance(cfg, s, i, timer(Timer::TryOpen), All);
            true
        }
        Action::Undo => {
            if s.current_writer().is_none() {
                return false;
            }
            route::to_instance(cfg, s, usize::from(s.endpoint), timer(Timer::Undo), All);
            true
        }
        Action::Sync { replica } => {
            // The endpoint's writer streams to the replica; a partitioned writer's stream does
            // not arrive.
            let Some(w) = s.current_writer().copied() else {
                return false;
            };
            if w.cut_off {
                return false;
            }
            let to = Timer::Stream { to: replica };
            route::to_instance(cfg, s, usize::from(s.endpoint), timer(to), All);
            true
        }
        Action::Apply { replica } => {
            route::to_instance(cfg, s, usize::from(replica), timer(Timer::Apply), All);
            true
        }
        Action::WriterCrash | Action::WriterPartition => {
            let i = usize::from(s.endpoint);
            let w = s.insts[i];
            if w.role != Role::Writer || w.cut_off || s.budget.writer_failures == 0 {
                return false;
            }
            if *action == Action::WriterPartition && !cfg.partitions {
                return false;
            }
            s.budget.writer_failures -= 1;
            if *action == Action::WriterCrash {
                s.insts[i] = down(w);
            } else {
                s.insts[i].cut_off = true;
            }
            true
        }
        Action::RecoveryCrash => {
            let Some((i, _)) = recovering(s) else {
                return false;
            };
            if s.budget.recovery_crashes == 0 {
                return false;
            }
            s.budget.recovery_crashes -= 1;
            s.insts[i] = down(s.insts[i]);
            true
        }
        Action::ReplicaCrash { replica } => {
            let r = usize::from(replica);
            if s.insts[r].role != Role::Replica || s.budget.replica_crashes == 0 {
                return false;
            }
            s.budget.replica_crashes -= 1;
            s.insts[r] = down(s.insts[r]);
            true
        }
        Action::RestartInstance { inst } => {
            let i = usize::from(inst);
            if s.insts[i].role != Role::Down || inst == s.endpoint {
                return false;
            }
            route::restart_instance(cfg, s, i);
            true
        }
        Action::SegCrash { seg } => {
            let x = &mut s.segs[usize::from(seg)];
            if !x.up || s.budget.seg_crashes == 0 {
                return false;
            }
            s.budget.seg_crashes -= 1;
            x.up = false;
            true
        }
        Action::SegRestart { seg } => {
            if s.segs[usize::from(seg)].up {
                return false;
            }
            route::restart_segment(cfg, s, usize::from(seg));
            true
        }
        Action::AzOutage { az } => {
            if s.budget.az_outages == 0 {
                return false;
            }
            let mut any = false;
            for x in s.segs.iter_mut().filter(|x| x.az == az && x.up) {
                x.up = false;
                any = true;
            }
            if any {
                s.budget.az_outages -= 1;
            }
            any
        }
    }
}

/// An instance after a crash: its volatile state is gone.
fn down(i: Inst) -> Inst {
    Inst {
        role: Role::Down,
        cut_off: false,
        ..Inst::replica(i.tier)
    }
}

/// After every step: each writer learns the acks of the segments that accept its epoch and
/// advances PGCL and VDL; commits at or below VDL are acknowledged (instant acks, as in the
/// quorum model: an ack never reports more than the segment holds).
fn settle(cfg: &FailoverConfig, s: &mut FailoverState) {
    route::acknowledge(cfg, s);
}

/// An instance's timer as the input it is.
fn timer(t: Timer) -> route::Input {
    route::Input::Timer(t)
}

mod route;

#[cfg(test)]
mod tests;
