//! The database instance actor: the writer, a read replica, and a replica promoted to recover
//! the volume after the writer failed. One instance is each of these in turn.
//!
//! * **Writer** ([`writer`]): on its `NextMtr` timer (the client's next request) it allocates
//!   the next mini-transaction within LAL of its VDL and sends each record to every segment;
//!   from the segments' reports it proves PGCL and VDL and acknowledges its commits at or
//!   below VDL to the client; it rolls back the transactions an older incarnation left active
//!   (`Undo`), and installs its epoch on a segment that missed it.
//! * **Replica** ([`replica`]): it follows the newest writer's redo stream and applies whole
//!   mini-transactions up to the VDL it received, never above it [V17 §4.2.4].
//! * **Recovery** ([`recovery`]): the control plane's `Promote` makes a replica recover. It
//!   asks the metadata service for a new volume epoch, fences the segments with it, and once a
//!   write quorum is fenced reads the chain tops; on the first read quorum to answer it
//!   computes the recovered VDL, records the truncation range above it with the metadata
//!   service, installs the range on the segments and opens once the volume is repaired.
//!
//! An instance keeps no storage of its own: a crash loses everything and a restarted instance
//! is a replica. The log is on the segments and the epochs and ranges with the metadata
//! service. Two more parts of the volume's state an instance works on: the transaction table
//! and the log's shape (which epochs sent each LSN, which LSNs end a mini-transaction). In the
//! fast composition every instance reads and writes the volume's one copy of them. No actor
//! keeps them yet, so a run with instances apart would have to give them to one (the metadata
//! service is the candidate).

use arrayvec::ArrayVec;

use crate::actor::{Effects, Id};
use crate::failover::config::{FailoverConfig, MAX_EPOCH, MAX_SEGMENTS};
use crate::failover::state::{EpochSet, Inst, Lsn, Ranges, Seg, Trunc, Txns};
use crate::quorum::config::MAX_LSN;

use super::msg::{Ids, Msg, Storage, Timer};

pub mod recovery;
pub mod replica;
pub mod writer;

/// What an instance knows of the redo log: the records each epoch's writer sent, the
/// consistency points, and the truncation ranges that annul parts of it. A writer adds what it
/// sends; a replica learns it from the stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stream {
    /// `sent[l-1]`: the epochs whose writer sent a record for LSN `l`.
    pub sent: [EpochSet; MAX_LSN],
    /// Bit `l-1`: LSN `l` ends a mini-transaction.
    pub cpls: u16,
    /// The volume's ranges.
    pub truncs: Ranges,
}

/// An instance's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstNode {
    /// What it is doing, and its writer or replica positions.
    pub inst: Inst,
    /// The redo log as it knows it.
    pub stream: Stream,
    /// The volume's transaction table.
    pub txns: Txns,
    /// Each segment as its last report showed it, by slot: a writer's acks, a recovery's view.
    pub segs: ArrayVec<Seg, MAX_SEGMENTS>,
    /// Recovery: the chain tops read so far, by slot, in the order they arrived.
    pub reads: ArrayVec<(u8, Lsn), MAX_SEGMENTS>,
}

/// What a writer reads to prove durability and acknowledge: the segments as reported, the log
/// and the transaction bodies. Borrowed, so a composition that holds them once can lend them.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    /// Each segment as reported.
    pub segs: &'a [Seg],
    /// The records each epoch sent.
    pub sent: &'a [EpochSet; MAX_LSN],
    /// Consistency points.
    pub cpls: u16,
    /// Transaction bodies (consistency points that commit nothing).
    pub bodies: u16,
    /// The volume's ranges.
    pub truncs: &'a [Trunc],
}

impl InstNode {
    /// What it knows, as its writer handlers read it.
    pub fn known(&self) -> Known<'_> {
        Known {
            segs: &self.segs,
            sent: &self.stream.sent,
            cpls: self.stream.cpls,
            bodies: self.txns.bodies,
            truncs: &self.stream.truncs,
        }
    }
}

/// Start, or restart after a crash, as a replica of promotion tier `tier` (the tier is
/// configuration; nothing else survives): it knows no log, no transaction and no segment yet.
pub fn on_start(ids: Ids, tier: u8) -> InstNode {
    InstNode {
        inst: Inst::replica(tier),
        stream: Stream {
            sent: [0; MAX_LSN],
            cpls: 0,
            truncs: Ranges::new(),
        },
        txns: Txns::default(),
        segs: (0..ids.segs.min(MAX_SEGMENTS))
            .map(|_| Seg::default())
            .collect(),
        reads: ArrayVec::new(),
    }
}

/// The periodic timers of instance `me` in a cluster of `ids`.
pub fn timers(ids: Ids, me: usize) -> Vec<Timer> {
    let mut out = vec![
        Timer::NextMtr,
        Timer::Undo,
        Timer::Recover,
        Timer::ReadScl,
        Timer::TryOpen,
        Timer::Apply,
    ];
    for seg in 0..ids.segs as u8 {
        out.push(Timer::Install { seg });
        out.push(Timer::Fence { seg });
    }
    for to in (0..ids.insts).filter(|&to| to != me) {
        out.push(Timer::Stream { to: to as u8 });
    }
    out
}

/// Handle `msg` from `src`.
pub fn on_msg(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    src: Id,
    msg: &Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    match *msg {
        // A message naming an LSN or an epoch the volume cannot have is ignored.
        Msg::Vdl { vdl, epoch } if valid_lsn(vdl) && valid_epoch(epoch) => {
            replica::on_vdl(st, vdl, epoch)
        }
        Msg::Report { seg } => {
            if let Some(slot) = ids.seg_of(src).filter(|&k| k < st.segs.len()) {
                st.segs[slot] = seg;
                let known = Known {
                    segs: &st.segs,
                    sent: &st.stream.sent,
                    cpls: st.stream.cpls,
                    bodies: st.txns.bodies,
                    truncs: &st.stream.truncs,
                };
                writer::acknowledge(cfg, ids, &mut st.inst, known, out);
            }
        }
        Msg::Promote if src == ids.control() => recovery::promoted(st),
        Msg::Epoch { epoch, ref truncs } if src == ids.metadata() && valid_epoch(epoch) => {
            recovery::on_epoch(st, epoch, truncs)
        }
        Msg::Scl { epoch, top } if valid_lsn(top) => {
            if let Some(slot) = ids.seg_of(src) {
                recovery::on_scl(cfg, ids, st, slot as u8, epoch, top, out);
            }
        }
        Msg::Ranges { ref truncs } if src == ids.metadata() => recovery::on_ranges(st, truncs),
        _ => {}
    }
}

fn valid_lsn(l: Lsn) -> bool {
    usize::from(l) <= MAX_LSN
}

fn valid_epoch(e: u8) -> bool {
    (1..=MAX_EPOCH).contains(&usize::from(e))
}

/// Handle a firing of `timer`.
pub fn on_timeout(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) {
    match *timer {
        Timer::NextMtr => writer::next_mtr(cfg, ids, st, out),
        Timer::Undo => writer::undo(cfg, st),
        Timer::Install { seg } => writer::install(ids, st, seg, out),
        Timer::Stream { to } => replica::stream(ids, &st.inst, to, out),
        Timer::Apply => replica::apply(cfg, st),
        Timer::Recover => recovery::ask_epoch(ids, st, out),
        Timer::Fence { seg } => recovery::fence(cfg, ids, st, seg, out),
        Timer::ReadScl => recovery::read(cfg, ids, st, out),
        Timer::TryOpen => recovery::try_open(cfg, st),
        Timer::Watch | Timer::Gossip { .. } => {}
    }
}

#[cfg(test)]
mod tests;
