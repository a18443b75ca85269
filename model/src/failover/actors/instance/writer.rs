//! The writer: allocating mini-transactions, proving them durable, acknowledging commits,
//! undoing what an older incarnation left active, and installing its epoch on a segment that
//! missed it.
//!
//! It allocates only within LAL of its VDL ([`rules::next_mtr`]), so a truncation range of LAL
//! LSNs above any recovered VDL covers everything it may have sent and not made durable. A
//! segment's report counts as its ack only while the segment is fenced at the writer's own
//! epoch; PGCL is the highest LSN whose chain a write quorum holds, VDL the highest consistency
//! point at or below it ([`rules::progress`]). It acknowledges a commit once VDL covers it, and
//! only its own: a commit record an older incarnation sent is not its to acknowledge.

use crate::actor::Effects;
use crate::failover::config::FailoverConfig;
use crate::failover::instance::{self as rules, TxnMtr};
use crate::failover::state::{Inst, Lsn, Phase, Role, epoch_bit};

use super::super::msg::{Ids, Msg, Storage};
use super::{InstNode, Known};

fn bit(l: Lsn) -> u16 {
    1 << (l - 1)
}

/// Allocate the next mini-transaction, if the writer may, and send each record to every
/// segment, with the truncation range its own recovery wrote (a segment takes the record only
/// once it has installed that range). The transaction table notes a body, or the end of the
/// open transaction its commit finishes.
pub fn next_mtr(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    out: &mut impl Effects<Msg, Storage>,
) {
    let w = st.inst;
    let Some((first, last)) = rules::next_mtr(cfg, &w) else {
        return;
    };
    st.stream.cpls |= bit(last);
    let range = st
        .stream
        .truncs
        .iter()
        .find(|t| t.epoch == w.epoch)
        .copied();
    for lsn in first..=last {
        st.stream.sent[usize::from(lsn) - 1] |= epoch_bit(w.epoch);
        for k in 0..ids.segs {
            out.send(
                ids.seg(k),
                Msg::Write {
                    lsn,
                    epoch: w.epoch,
                    range,
                },
            );
        }
    }
    st.inst.next_lsn = last + 1;
    match rules::txn_mtr(cfg, &w) {
        TxnMtr::Commits => {}
        TxnMtr::Body => {
            st.txns.bodies |= bit(last);
            st.inst.open_txn = last;
        }
        TxnMtr::CommitOf { body } => {
            st.txns.done |= bit(body);
            st.inst.open_txn = 0;
        }
    }
}

/// Prove PGCL and VDL from the segments as `known` shows them, and acknowledge to the client
/// every commit of this incarnation at or below VDL. Nothing for an instance that is not an
/// open writer.
pub fn acknowledge(
    cfg: &FailoverConfig,
    ids: Ids,
    w: &mut Inst,
    known: Known<'_>,
    out: &mut impl Effects<Msg, Storage>,
) {
    if w.role != Role::Writer {
        return;
    }
    let (pgcl, vdl) = rules::progress(cfg, w, known.segs, known.cpls, known.truncs);
    let commits = known.cpls & !known.bodies;
    let acked = rules::acknowledged(w, vdl, commits, known.sent);
    w.pgcl = pgcl;
    w.vdl = vdl;
    if acked != 0 {
        out.send(ids.client(), Msg::Committed { commits: acked });
    }
}

/// Roll back every transaction active when an older incarnation failed
/// ([`rules::may_undo`]): each ends, by rollback.
pub fn undo(cfg: &FailoverConfig, st: &mut InstNode) {
    let orphans = st.txns.orphans(st.inst.open_txn);
    if rules::may_undo(cfg, &st.inst, orphans) {
        st.txns.done |= orphans;
        st.txns.aborted |= orphans;
    }
}

/// Install the instance's epoch and every range up to it on segment `seg`: a recovery after
/// writing its range, and the open writer for a segment that missed the install.
pub fn install(ids: Ids, st: &InstNode, seg: u8, out: &mut impl Effects<Msg, Storage>) {
    let x = &st.inst;
    let installs = matches!(
        x.role,
        Role::Writer | Role::Recovering(Phase::Truncating { .. })
    );
    if installs && usize::from(seg) < ids.segs {
        out.send(
            ids.seg(usize::from(seg)),
            Msg::Install {
                epoch: x.epoch,
                truncs: st.stream.truncs.clone(),
            },
        );
    }
}
