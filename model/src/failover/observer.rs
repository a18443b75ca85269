//! # The failover history, recorded in one place
//!
//! The properties read history (ghost) variables: which commits were acknowledged at which
//! epoch, which incarnations wrote, which transactions a later incarnation rolled back, and
//! event flags (a stale write rejected or accepted, a recovery that cut below an acknowledged
//! commit, a range that annulled a held record, a failover done). Nothing a node decides reads
//! them.
//!
//! They are recorded here, from what a node did: the model's compositions and the reference
//! implementation's runtimes call these functions at the same points, so a runtime cannot
//! forget a flag or record it differently. For a database instance the caller passes the
//! actor's state before and after one input and what it sent ([`instance`]); a writer's
//! acknowledgements after the segments' reports are the `Committed` it sent
//! ([`acknowledged`]); for a segment, its verdict on a record ([`record_delivered`]). The
//! functions decide what that means for the history.

use super::actors::instance::InstNode;
use super::actors::msg::Msg;
use super::state::{
    EpochSet, F_ACKED_AFTER_FAILOVER, F_ANNULLED, F_B3_BROKEN, F_B10_BROKEN, F_FAILOVER_DONE,
    F_STALE_REJECTED, Ghost, Inst, Lsn, Phase, Role, Seg, Trunc, Txns, epoch_bit,
};
use super::storage::Reject;
use crate::actor::Id;
use crate::quorum::config::MAX_LSN;

/// What the history reads of a database instance's state before an input: what it was doing,
/// the records sent and the transaction table.
#[derive(Clone, Copy, Debug)]
pub struct Was {
    /// The instance.
    pub inst: Inst,
    /// The records each epoch sent.
    pub sent: [EpochSet; MAX_LSN],
    /// The transaction table.
    pub txns: Txns,
}

impl Was {
    /// The parts of `st` the history reads.
    pub fn of(st: &InstNode) -> Was {
        Was {
            inst: st.inst,
            sent: st.stream.sent,
            txns: st.txns,
        }
    }
}

/// Database instance `index` handled one input: it was `before` and is `after`; it sent records
/// for the LSNs and epochs in `writes` (bit `e-1` of `writes[l-1]`) and the messages `msgs`;
/// the segments are `segs`. What that means for the history: an allocation, the commit of a
/// transaction, a recovery's VDL and range, an opening, a rollback, acknowledged commits.
pub fn instance(
    g: &mut Ghost,
    index: u8,
    before: &Was,
    after: &InstNode,
    writes: &[EpochSet; MAX_LSN],
    msgs: &[(Id, Msg)],
    segs: &[Seg],
) {
    let (b, a) = (&before.inst, &after.inst);
    if writes.iter().any(|&w| w != 0) {
        allocated(g, index, a.epoch);
    }
    let body = b.open_txn;
    if b.role == Role::Writer && body != 0 && a.open_txn == 0 && a.next_lsn > b.next_lsn {
        let begun_here = before.sent[usize::from(body) - 1] & epoch_bit(a.epoch) != 0;
        let already_ended = before.txns.done & (1 << (body - 1)) != 0;
        committed_txn(g, a.next_lsn - 1, begun_here, already_ended);
    }
    if let (Role::Recovering(Phase::Fencing), Role::Recovering(Phase::Truncating { rvdl })) =
        (b.role, a.role)
    {
        recovered(g, a.epoch, rvdl);
    }
    if matches!(b.role, Role::Recovering(_)) && a.role == Role::Writer {
        opened(g);
    }
    let aborted = after.txns.aborted & !before.txns.aborted;
    if aborted != 0 {
        rolled_back(g, aborted);
    }
    for (_, m) in msgs {
        match *m {
            Msg::AddTrunc { trunc } => range_written(g, trunc, segs),
            Msg::Committed { commits } => {
                acknowledged(g, a.epoch, commits);
            }
            _ => {}
        }
    }
}

/// Instance `inst`, writing at epoch `e`, allocated a mini-transaction.
pub fn allocated(g: &mut Ghost, inst: u8, e: u8) {
    g.wrote[usize::from(e) - 1] |= 1 << inst;
}

/// The commit MTR ending at `last` finished a transaction. It is an orphan's commit when that
/// transaction was active at a failure: its body was not written by this incarnation
/// (`begun_here` false), or a newer writer had already rolled it back (`already_ended`).
pub fn committed_txn(g: &mut Ghost, last: Lsn, begun_here: bool, already_ended: bool) {
    if !begun_here || already_ended {
        g.orphan_commits |= 1 << (last - 1);
    }
}

/// A segment handled a writer's record: `Ok(stale_accepted)` if it stored it (accepting an
/// epoch below its fence breaks B3), or the reason it refused. Returns whether the history
/// changed because of it (a refusal as stale is an event; other refusals are not).
pub fn write_handled(g: &mut Ghost, verdict: Result<bool, Reject>) -> bool {
    match verdict {
        Ok(stale_accepted) => {
            if stale_accepted {
                g.flags |= F_B3_BROKEN;
            }
            true
        }
        Err(Reject::Stale) => {
            g.flags |= F_STALE_REJECTED;
            true
        }
        Err(_) => false,
    }
}

/// A record of epoch `e` reached a segment that was `before`, which answered `replies`: a
/// refusal names its reason, and otherwise it stored the record (accepting an epoch below its
/// fence breaks B3). Returns what [`write_handled`] returns.
pub fn record_delivered(g: &mut Ghost, before: &Seg, e: u8, replies: &[(Id, Msg)]) -> bool {
    let refusal = replies.iter().find_map(|(_, m)| match m {
        Msg::Refused { reason, .. } => Some(*reason),
        _ => None,
    });
    write_handled(g, refusal.map_or(Ok(e < before.fence), Err))
}

/// A recovery at epoch `e` computed recovered VDL `rvdl`: B10 breaks if that is below a commit
/// an older epoch acknowledged.
pub fn recovered(g: &mut Ghost, e: u8, rvdl: Lsn) {
    let older: EpochSet = epoch_bit(e) - 1;
    let acked_before = (1..=MAX_LSN as Lsn)
        .rev()
        .find(|&l| g.acked[usize::from(l) - 1] & older != 0)
        .unwrap_or(0);
    if rvdl < acked_before {
        g.flags |= F_B10_BROKEN;
    }
}

/// A recovery wrote range `t` to the metadata service while the segments held `segs`: the
/// history notes when the range annuls a record some segment holds.
pub fn range_written<'a>(g: &mut Ghost, t: Trunc, segs: impl IntoIterator<Item = &'a Seg>) {
    let annuls_held = segs
        .into_iter()
        .any(|x| (1..=MAX_LSN as Lsn).any(|l| x.rec(l) != 0 && t.annuls(l, x.rec(l))));
    if annuls_held {
        g.flags |= F_ANNULLED;
    }
}

/// A recovering instance opened the volume for writes: a failover completed.
pub fn opened(g: &mut Ghost) {
    g.flags |= F_FAILOVER_DONE;
}

/// The open writer rolled back the transactions `orphans` (body-end LSN bits).
pub fn rolled_back(g: &mut Ghost, orphans: u16) {
    g.rolled_back |= orphans;
}

/// The writer at epoch `e` acknowledged the commits `acked` (bit `l-1`). Returns the ones
/// acknowledged at that epoch for the first time.
pub fn acknowledged(g: &mut Ghost, e: u8, acked: u16) -> u16 {
    let mut fresh = 0;
    for l in (1..=MAX_LSN as Lsn).filter(|&l| acked & (1 << (l - 1)) != 0) {
        let k = usize::from(l) - 1;
        if g.acked[k] & epoch_bit(e) == 0 {
            fresh |= 1 << k;
        }
        g.acked[k] |= epoch_bit(e);
        if g.flags & F_FAILOVER_DONE != 0 && e > 1 {
            g.flags |= F_ACKED_AFTER_FAILOVER;
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_below_an_older_epochs_ack_breaks_b10_and_only_then() {
        let mut g = Ghost::default();
        assert_eq!(acknowledged(&mut g, 1, 0b11), 0b11);
        assert_eq!(
            acknowledged(&mut g, 1, 0b11),
            0,
            "acknowledged before: nothing fresh"
        );
        recovered(&mut g, 2, 2);
        assert_eq!(g.flags & F_B10_BROKEN, 0, "recovered at the ack");
        recovered(&mut g, 2, 1);
        assert_ne!(
            g.flags & F_B10_BROKEN,
            0,
            "recovered below LSN 2, acked at epoch 1"
        );
        // An ack at the recovery's own epoch is not an older one's.
        let mut g = Ghost::default();
        acknowledged(&mut g, 2, 0b100);
        recovered(&mut g, 2, 0);
        assert_eq!(g.flags & F_B10_BROKEN, 0);
    }

    #[test]
    fn write_verdicts_set_b3_and_stale_flags() {
        let mut g = Ghost::default();
        assert!(write_handled(&mut g, Ok(false)));
        assert_eq!(g.flags, 0);
        assert!(!write_handled(&mut g, Err(Reject::NeedsTruncation)));
        assert_eq!(g.flags, 0);
        assert!(write_handled(&mut g, Err(Reject::Stale)));
        assert_eq!(g.flags, F_STALE_REJECTED);
        assert!(write_handled(&mut g, Ok(true)));
        assert_eq!(g.flags, F_STALE_REJECTED | F_B3_BROKEN);
    }

    #[test]
    fn a_range_over_a_held_record_is_noted() {
        let mut g = Ghost::default();
        let mut seg = Seg::default();
        seg.recs[2] = 1; // LSN 3 written at epoch 1
        range_written(
            &mut g,
            Trunc {
                epoch: 2,
                lo: 1,
                hi: 2,
            },
            [&seg],
        );
        assert_eq!(g.flags & F_ANNULLED, 0, "LSN 3 lies above the range");
        range_written(
            &mut g,
            Trunc {
                epoch: 2,
                lo: 3,
                hi: 4,
            },
            [&seg],
        );
        assert_ne!(g.flags & F_ANNULLED, 0);
    }

    #[test]
    fn orphan_commits_and_acks_after_failover() {
        let mut g = Ghost::default();
        committed_txn(&mut g, 2, true, false);
        assert_eq!(g.orphan_commits, 0);
        committed_txn(&mut g, 4, false, false);
        committed_txn(&mut g, 6, true, true);
        assert_eq!(g.orphan_commits, 0b10_1000);
        acknowledged(&mut g, 2, 0b1);
        assert_eq!(g.flags & F_ACKED_AFTER_FAILOVER, 0, "no failover done yet");
        opened(&mut g);
        acknowledged(&mut g, 2, 0b1);
        assert_ne!(g.flags & F_ACKED_AFTER_FAILOVER, 0);
    }
}
