//! What a database instance and the control plane decide in the failover protocol: pure
//! functions from what that node knows to its decision. The actors' handlers
//! ([`super::actors`]) call them with what the actor knows; the reference implementation's
//! nodes call them with what they have heard (segment reports, fence acknowledgements, the
//! volume metadata), so both run one rule.
//!
//! * the writer: which LSNs its next mini-transaction gets ([`next_mtr`], bounded by the LSN
//!   allocation limit), how far its segments' reports prove the log durable ([`progress`]),
//!   and which commits that lets it acknowledge ([`acknowledged`]);
//! * a recovering instance: the recovered VDL from the SCLs of a read quorum
//!   ([`recovered_vdl`]), its truncation range ([`truncation`]), which finished transactions
//!   the range un-commits ([`reopened`]), whether it may open ([`may_open`]) and where its
//!   LSNs start ([`open_base`]);
//! * a replica: the next whole mini-transaction it may apply ([`next_apply`]);
//! * the control plane and the metadata service: whom to promote ([`promotion_choice`]) and the
//!   next volume epoch ([`next_epoch`]).

use super::config::{FailoverConfig, Mutant};
use super::state::{Epoch, EpochSet, Inst, Lsn, Phase, Role, Seg, Trunc, epoch_bit};
use crate::quorum::config::MAX_LSN;

fn bit(l: Lsn) -> u16 {
    1 << (l - 1)
}

/// Whether `l` lies inside any of `truncs`.
pub fn in_trunc(truncs: &[Trunc], l: Lsn) -> bool {
    truncs.iter().any(|t| t.lo <= l && l <= t.hi)
}

/// Whether a record of LSN `l` written at epoch `w` is annulled by one of `truncs`.
pub fn annulled(truncs: &[Trunc], l: Lsn, w: Epoch) -> bool {
    truncs.iter().any(|t| t.annuls(l, w))
}

/// The segments among `segs` (bit = index) holding a live copy of `l`: any epoch that no range
/// annuls.
pub fn holders(segs: &[Seg], truncs: &[Trunc], l: Lsn) -> u16 {
    segs.iter()
        .enumerate()
        .filter(|(_, s)| s.rec(l) != 0 && !annulled(truncs, l, s.rec(l)))
        .fold(0, |a, (i, _)| a | (1 << i))
}

/// The LSNs (first, last) of writer `w`'s next mini-transaction, or `None` if the workload is
/// done or the LSN allocation limit holds it back: it never allocates above VDL + LAL, so a
/// truncation range of LAL LSNs above any recovered VDL covers everything it may have sent.
pub fn next_mtr(cfg: &FailoverConfig, w: &Inst) -> Option<(Lsn, Lsn)> {
    if w.role != Role::Writer || w.next_lsn > cfg.lsns {
        return None;
    }
    let first = w.next_lsn;
    let last = (first + cfg.mtr_len - 1).min(cfg.lsns);
    if last > w.vdl.saturating_add(cfg.lal) && !cfg.has(Mutant::IgnoreLal) {
        return None;
    }
    Some((first, last))
}

/// Writer `w`'s PGCL and VDL after the reports `segs` (the segments it hears from, as they
/// are): the highest LSN it allocated whose chain reached a write quorum of segments at its
/// epoch, then the highest consistency point at or below it. Both only grow.
pub fn progress(
    cfg: &FailoverConfig,
    w: &Inst,
    segs: &[Seg],
    cpls: u16,
    truncs: &[Trunc],
) -> (Lsn, Lsn) {
    let wq = usize::from(cfg.write_quorum);
    let e = w.epoch;
    let senders = || {
        segs.iter()
            .filter(move |x| x.up && (x.fence == e || cfg.has(Mutant::NoFencing)))
    };
    let is_cpl = |l: Lsn| cpls & bit(l) != 0;
    let proven = if cfg.has(Mutant::AckOnCommitRecordQuorum) {
        (w.base..w.next_lsn)
            .rev()
            .find(|&l| is_cpl(l) && senders().filter(|x| x.rec(l) == e).count() >= wq)
    } else {
        (1..w.next_lsn)
            .rev()
            .find(|&l| senders().filter(|x| x.scl >= l).count() >= wq)
    }
    .unwrap_or(0);
    let pgcl = w.pgcl.max(proven);
    let vdl = if cfg.has(Mutant::AckOnCommitRecordQuorum) {
        w.vdl.max(proven)
    } else {
        w.vdl
            .max(crate::quorum::state::cpl_at_or_below(cpls, truncs, pgcl))
    };
    (pgcl, vdl)
}

/// The commits (bit `l-1`) writer `w` acknowledges at VDL `vdl`: its own commit MTRs at or
/// below it. `commits` are the commit points of the log, `sent` what each epoch sent.
pub fn acknowledged(w: &Inst, vdl: Lsn, commits: u16, sent: &[EpochSet; MAX_LSN]) -> u16 {
    (w.base..w.next_lsn.min(vdl + 1))
        .filter(|&l| commits & bit(l) != 0 && sent[usize::from(l) - 1] & epoch_bit(w.epoch) != 0)
        .fold(0, |a, l| a | bit(l))
}

/// What writer `w`'s next mini-transaction is in the transaction table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnMtr {
    /// Every MTR commits (`txn_mtrs = 1`).
    Commits,
    /// The body of a new transaction: a consistency point with nothing to acknowledge.
    Body,
    /// The commit of the open transaction whose body ends at `body`.
    CommitOf {
        /// The body's last LSN.
        body: Lsn,
    },
}

/// Whether writer `w`'s next MTR begins a transaction, commits its open one, or (with one MTR
/// per transaction) simply commits.
pub fn txn_mtr(cfg: &FailoverConfig, w: &Inst) -> TxnMtr {
    if cfg.txn_mtrs == 1 {
        TxnMtr::Commits
    } else if w.open_txn == 0 {
        TxnMtr::Body
    } else {
        TxnMtr::CommitOf { body: w.open_txn }
    }
}

/// Whether the open writer `w` rolls back `orphans` (the transactions active at an older
/// incarnation's failure) now: it is open and reachable and there are some; never under
/// `no-undo`.
pub fn may_undo(cfg: &FailoverConfig, w: &Inst, orphans: u16) -> bool {
    w.role == Role::Writer && !w.cut_off && orphans != 0 && !cfg.has(Mutant::NoUndo)
}

/// Whether a recovery in `phase` may install its epoch on a segment: while fencing, before it
/// reads; under `fence-after-recovery-read` (the paper's literal order) also after the read;
/// never under `no-fencing`.
pub fn may_fence(cfg: &FailoverConfig, phase: Phase) -> bool {
    let late = cfg.has(Mutant::FenceAfterRecoveryRead) && matches!(phase, Phase::Truncating { .. });
    !cfg.has(Mutant::NoFencing) && (phase == Phase::Fencing || late)
}

/// Whether a recovery whose epoch `fenced` segments hold may read the SCLs: only once a write
/// quorum is fenced, so the old writer can make nothing durable after the read (not under
/// `no-fencing` or `fence-after-recovery-read`, which read first).
pub fn may_read(cfg: &FailoverConfig, fenced: usize) -> bool {
    let fence_first = !cfg.has(Mutant::NoFencing) && !cfg.has(Mutant::FenceAfterRecoveryRead);
    !fence_first || fenced >= usize::from(cfg.write_quorum)
}

/// The transaction table `done` (ended bodies, bit `l-1`) after recovery writes range `t`:
/// a transaction whose commit record the range annuls did not commit after all, so it is in
/// progress again and the open writer must roll it back (F2). `aborted` are the bodies
/// that ended by rollback, which no range reopens.
pub fn txn_table_after_range(
    t: Trunc,
    done: u16,
    bodies: u16,
    aborted: u16,
    commits: u16,
    sent: &[EpochSet; MAX_LSN],
) -> u16 {
    let ended = done & bodies & !aborted;
    done & !reopened(t, ended, commits, sent)
}

/// The next volume epoch the metadata service hands out after `ctr` (under `epoch-reuse`, the
/// last one again).
pub fn next_epoch(cfg: &FailoverConfig, ctr: Epoch) -> Epoch {
    if cfg.has(Mutant::EpochReuse) {
        ctr
    } else {
        ctr + 1
    }
}

/// The recovered VDL from the chain tops of a read quorum: the highest consistency point at or
/// below the highest top (an acknowledged commit reached a write quorum, which meets every
/// read quorum).
pub fn recovered_vdl(
    cfg: &FailoverConfig,
    tops: impl Iterator<Item = Lsn>,
    cpls: u16,
    truncs: &[Trunc],
) -> Lsn {
    let top = if cfg.has(Mutant::RecoveryMinScl) {
        tops.min()
    } else {
        tops.max()
    }
    .unwrap_or(0);
    if cfg.has(Mutant::TruncateAtVcl) {
        top
    } else {
        crate::quorum::state::cpl_at_or_below(cpls, truncs, top)
    }
}

/// The truncation range of the recovery at epoch `e` with recovered VDL `rvdl`: the LAL LSNs
/// above it, which hold everything an older incarnation may have sent and not made durable.
/// `None` under `no-truncation`.
pub fn truncation(cfg: &FailoverConfig, rvdl: Lsn, e: Epoch) -> Option<Trunc> {
    (!cfg.has(Mutant::NoTruncation)).then(|| Trunc {
        epoch: e,
        lo: rvdl + 1,
        hi: rvdl.saturating_add(cfg.lal),
    })
}

/// Which ended transactions (body-end LSN bits, from `ended`: committed, not rolled back)
/// range `t` un-commits: the commit record that ended one is annulled, so recovery's rebuilt
/// transaction table shows it in progress again, and the open writer must roll it back. The
/// commit of a body is its incarnation's next commit MTR.
pub fn reopened(t: Trunc, ended: u16, commits: u16, sent: &[EpochSet; MAX_LSN]) -> u16 {
    let mut done = ended;
    let mut out = 0;
    while done != 0 {
        let b = done.trailing_zeros() as Lsn + 1;
        done &= done - 1;
        let older = sent[usize::from(b) - 1] & (epoch_bit(t.epoch) - 1);
        if older == 0 {
            continue;
        }
        let e = 8 - older.leading_zeros() as u8; // the body's epoch, older than the range's
        let commit = (b + 1..=MAX_LSN as Lsn)
            .find(|&c| commits & bit(c) != 0 && sent[usize::from(c) - 1] & epoch_bit(e) != 0);
        if commit.is_some_and(|c| t.annuls(c, e)) {
            out |= bit(b);
        }
    }
    out
}

/// Whether the instance recovering at epoch `e` with recovered VDL `rvdl` may open, judged on
/// the segments `segs` as it knows them: the new epoch fences a write quorum (not under
/// `no-fencing`), its range is installed at a write quorum, and every record at or below the
/// recovered VDL outside the ranges is at a write quorum (repair done).
pub fn may_open(cfg: &FailoverConfig, e: Epoch, rvdl: Lsn, segs: &[Seg], truncs: &[Trunc]) -> bool {
    let wq = usize::from(cfg.write_quorum);
    let count = |f: &dyn Fn(&Seg) -> bool| segs.iter().filter(|x| f(x)).count();
    if !cfg.has(Mutant::NoFencing) && count(&|x| x.fence >= e) < wq {
        return false;
    }
    if count(&|x| x.trunc_epoch >= e) < wq {
        return false;
    }
    (1..=rvdl).all(|l| in_trunc(truncs, l) || holders(segs, truncs, l).count_ones() as usize >= wq)
}

/// The first LSN the writer opening with recovered VDL `rvdl` allocates: above every durable
/// range, not only its own (a recovery that crashed after its read may have left a higher
/// range, and an LSN inside any range counts as present in every segment's chain).
pub fn open_base(cfg: &FailoverConfig, rvdl: Lsn, truncs: &[Trunc]) -> Lsn {
    let top = if cfg.has(Mutant::NoTruncation) {
        rvdl
    } else {
        truncs.iter().map(|t| t.hi).max().unwrap_or(0).max(rvdl)
    };
    top.saturating_add(1)
}

/// The transaction the opening writer takes over (its body-end LSN, 0 = none): none, except
/// under `resume-orphan-txn`, where the client's open transaction follows the endpoint to the
/// new writer.
pub fn adopted(cfg: &FailoverConfig, orphans: u16) -> Lsn {
    if cfg.has(Mutant::ResumeOrphanTxn) && orphans != 0 {
        16 - orphans.leading_zeros() as Lsn
    } else {
        0
    }
}

/// Whom the control plane promotes now, seeing the instances as `insts` with the endpoint at
/// `endpoint`: nobody while the endpoint's instance serves (an open writer or a recovery, and
/// reachable) or while another promoted instance is still recovering; otherwise
/// [`promotion_choice`].
pub fn to_promote(insts: &[Inst], endpoint: usize) -> Option<usize> {
    let cur = insts.get(endpoint)?;
    let serving = matches!(cur.role, Role::Writer | Role::Recovering(_)) && !cur.cut_off;
    let recovering = insts
        .iter()
        .any(|x| matches!(x.role, Role::Recovering(_)) && !x.cut_off);
    if serving || recovering {
        return None;
    }
    promotion_choice(insts)
}

/// What replica `x` follows and the VDL it knows after the stream's VDL record `vdl` from the
/// writer at epoch `e`: a newer writer's stream replaces the one it followed, the same
/// writer's VDL only grows, and an older writer's is ignored.
pub fn take_vdl(x: &Inst, vdl: Lsn, e: Epoch) -> (Epoch, Lsn) {
    if e > x.follows {
        (e, vdl)
    } else if e == x.follows {
        (e, x.known_vdl.max(vdl))
    } else {
        (x.follows, x.known_vdl)
    }
}

/// The instance the control plane promotes: the best live replica it can reach (lowest tier,
/// then the highest VDL it knows, then the lowest index); with none, a crashed instance,
/// which restarts and recovers itself.
pub fn promotion_choice(insts: &[Inst]) -> Option<usize> {
    insts
        .iter()
        .enumerate()
        .filter(|(_, x)| x.role == Role::Replica && !x.cut_off)
        .min_by_key(|(i, x)| (x.tier, std::cmp::Reverse(x.known_vdl), *i))
        .map(|(i, _)| i)
        .or_else(|| insts.iter().position(|x| x.role == Role::Down))
}

/// What replica `x` has applied after its next mini-transaction, or `None` if it cannot apply
/// one: the records after the last it applied (skipping annulled ranges) up to the next
/// consistency point, all at once, and only when that point is at or below the VDL it knows.
/// Each record as the followed writer's history makes it current (`specs/failover.md`, MC14):
/// the newest epoch up to the one followed whose copy no range annuls.
pub fn next_apply(
    cfg: &FailoverConfig,
    x: &Inst,
    sent: &[EpochSet; MAX_LSN],
    cpls: u16,
    truncs: &[Trunc],
) -> Option<[Epoch; MAX_LSN]> {
    if x.role != Role::Replica || x.follows == 0 {
        return None;
    }
    let last_applied = (1..=MAX_LSN as Lsn)
        .rev()
        .find(|&l| x.applied[usize::from(l) - 1] != 0)
        .unwrap_or(0);
    let start = (last_applied + 1..=cfg.lsns).find(|&l| !in_trunc(truncs, l))?;
    let mtr_end = (start..=cfg.lsns).find(|&l| cpls & bit(l) != 0)?;
    if mtr_end > x.known_vdl && !cfg.has(Mutant::ReplicaAppliesAboveVdl) {
        return None;
    }
    let end = if cfg.has(Mutant::ReplicaPartialMtr) {
        start
    } else {
        mtr_end
    };
    let mut applied = x.applied;
    for l in start..=end {
        let s = sent[usize::from(l) - 1];
        let epoch = (1..=x.follows)
            .rev()
            .find(|&e| s & epoch_bit(e) != 0 && !annulled(truncs, l, e))?;
        applied[usize::from(l) - 1] = epoch;
    }
    Some(applied)
}
