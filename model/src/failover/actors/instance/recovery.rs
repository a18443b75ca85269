//! Recovery: what a promoted instance does before it opens the volume at a new epoch.
//!
//! 1. It asks the metadata service for a new volume epoch (`Recover`), which answers with the
//!    epoch and the volume's ranges.
//! 2. It installs the epoch on the segments (`Fence`): from then on they refuse the old
//!    writer, so nothing it still sends can become durable.
//! 3. Once a write quorum is fenced ([`rules::may_read`]) it reads every segment's chain top
//!    (`ReadScl`) and acts on the first read quorum to answer: a write quorum meets every read
//!    quorum, so the highest top covers every acknowledged commit. The recovered VDL is the
//!    highest consistency point at or below it ([`rules::recovered_vdl`]).
//! 4. It asks the metadata service to record the truncation range of its epoch, the LAL LSNs
//!    above the recovered VDL ([`rules::truncation`]), and rebuilds the transaction table: a
//!    transaction whose commit record the range annuls is active again.
//! 5. It installs the range on the segments (`Install`, in [`super::writer`]) and opens
//!    (`TryOpen`) once its epoch fences a write quorum, a write quorum installed the range and
//!    every record at or below the recovered VDL is held by a write quorum
//!    ([`rules::may_open`]). Its LSNs start above every range.

use crate::actor::Effects;
use crate::failover::config::FailoverConfig;
use crate::failover::instance as rules;
use crate::failover::state::{Epoch, Inst, Lsn, Phase, Ranges, Role};

use super::super::msg::{Ids, Msg, Storage};
use super::InstNode;

/// The control plane routed the endpoint here: start recovery with fresh volatile state. Only
/// a replica, or a crashed instance restarting, is promoted: a late or repeated promotion
/// leaves a writer or a recovery as it is.
pub fn promoted(st: &mut InstNode) {
    if !matches!(st.inst.role, Role::Replica | Role::Down) {
        return;
    }
    st.inst = Inst {
        role: Role::Recovering(Phase::Promoted),
        ..Inst::replica(st.inst.tier)
    };
    st.reads.clear();
}

/// Ask the metadata service for a new volume epoch, while it has none.
pub fn ask_epoch(ids: Ids, st: &InstNode, out: &mut impl Effects<Msg, Storage>) {
    if st.inst.role == Role::Recovering(Phase::Promoted) {
        out.send(ids.metadata(), Msg::GetEpoch);
    }
}

/// The metadata service handed out `epoch`, with the volume's ranges: fence with it. Only the
/// first answer counts (a retry's answer is an epoch nobody uses).
pub fn on_epoch(st: &mut InstNode, epoch: Epoch, truncs: &Ranges) {
    if st.inst.role == Role::Recovering(Phase::Promoted) {
        st.inst.epoch = epoch;
        st.inst.role = Role::Recovering(Phase::Fencing);
        st.stream.truncs = truncs.clone();
    }
}

/// Install the recovery's epoch on segment `seg`, when it may ([`rules::may_fence`]).
pub fn fence(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &InstNode,
    seg: u8,
    out: &mut impl Effects<Msg, Storage>,
) {
    let Role::Recovering(phase) = st.inst.role else {
        return;
    };
    if rules::may_fence(cfg, phase) && usize::from(seg) < ids.segs {
        out.send(
            ids.seg(usize::from(seg)),
            Msg::Fence {
                epoch: st.inst.epoch,
            },
        );
    }
}

/// Read every segment's chain top, once enough segments are fenced; the ranges sent are the
/// volume's, so a stray record of an annulled range never counts.
pub fn read(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    out: &mut impl Effects<Msg, Storage>,
) {
    if st.inst.role != Role::Recovering(Phase::Fencing) {
        return;
    }
    let e = st.inst.epoch;
    if !rules::may_read(cfg, st.segs.iter().filter(|x| x.fence >= e).count()) {
        return;
    }
    st.reads.clear();
    for k in 0..ids.segs {
        out.send(
            ids.seg(k),
            Msg::ReadScl {
                epoch: e,
                truncs: st.stream.truncs.clone(),
            },
        );
    }
}

/// Segment `slot` answered the read of epoch `epoch` with chain top `top`. An answer counts
/// only to a read of this recovery's epoch that it may make (a write quorum fenced), once per
/// segment. On the read quorum's last answer: the recovered VDL, the range above it recorded
/// with the metadata service and known from then on (an install sends it even before the
/// service's answer), and the transaction table rebuilt.
pub fn on_scl(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    slot: u8,
    epoch: Epoch,
    top: Lsn,
    out: &mut impl Effects<Msg, Storage>,
) {
    let e = st.inst.epoch;
    let fenced = st.segs.iter().filter(|x| x.fence >= e).count();
    if st.inst.role != Role::Recovering(Phase::Fencing)
        || epoch != e
        || !rules::may_read(cfg, fenced)
        || st.reads.iter().any(|r| r.0 == slot)
    {
        return;
    }
    if st.reads.try_push((slot, top)).is_err() || st.reads.len() < usize::from(cfg.read_quorum) {
        return;
    }
    let s = &st.stream;
    let rvdl = rules::recovered_vdl(cfg, st.reads.iter().map(|r| r.1), s.cpls, &s.truncs);
    st.reads.clear();
    if let Some(t) = rules::truncation(cfg, rvdl, e) {
        out.send(ids.metadata(), Msg::AddTrunc { trunc: t });
        let x = st.txns;
        let commits = s.cpls & !x.bodies;
        st.txns.done =
            rules::txn_table_after_range(t, x.done, x.bodies, x.aborted, commits, &s.sent);
        if !st.stream.truncs.contains(&t) {
            // The volume holds at most as many ranges as the list (`FailoverConfig::validate`).
            let _ = st.stream.truncs.try_push(t);
        }
    }
    st.inst.role = Role::Recovering(Phase::Truncating { rvdl });
}

/// The metadata service's ranges, after it recorded this recovery's: a recovery takes them.
pub fn on_ranges(st: &mut InstNode, truncs: &Ranges) {
    if matches!(st.inst.role, Role::Recovering(_)) {
        st.stream.truncs = truncs.clone();
    }
}

/// Open for writes, once the volume is repaired ([`rules::may_open`]): PGCL and VDL at the
/// recovered VDL, LSNs above every range ([`rules::open_base`]), and no open transaction
/// (under `resume-orphan-txn`, the client's orphaned one).
pub fn try_open(cfg: &FailoverConfig, st: &mut InstNode) {
    let Role::Recovering(Phase::Truncating { rvdl }) = st.inst.role else {
        return;
    };
    let truncs = &st.stream.truncs;
    if !rules::may_open(cfg, st.inst.epoch, rvdl, &st.segs, truncs) {
        return;
    }
    let base = rules::open_base(cfg, rvdl, truncs);
    let adopted = rules::adopted(cfg, st.txns.orphans(st.inst.open_txn));
    let w = &mut st.inst;
    w.role = Role::Writer;
    w.pgcl = rvdl;
    w.vdl = rvdl;
    w.base = base;
    w.next_lsn = base;
    w.open_txn = adopted;
}
