//! The state of the failover model: segments, database instances, the metadata service's
//! epoch counter and truncation ranges, records in flight, and history (ghost) variables.
//!
//! Sets of epochs are bit sets (`EpochSet`, bit `e-1` = epoch `e`); a segment's records are one
//! byte per LSN holding the volume epoch of the incarnation that wrote it (0 = absent), as in
//! the quorum model, whose [`Trunc`] ranges and chain rule this model reuses.

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};

use super::config::{MAX_EPOCH, MAX_INSTANCES, MAX_SEGMENTS, MAX_TRUNCS};
use crate::quorum::config::MAX_LSN;
pub use crate::quorum::state::{Epoch, Lsn, Trunc};

mod pack;

/// Truncation ranges, oldest first: the metadata service's list, what a segment has installed,
/// and what travels in a message.
pub type Ranges = ArrayVec<Trunc, MAX_TRUNCS>;

/// A set of volume epochs: bit `e-1` for epoch `e`.
pub type EpochSet = u8;

/// The bit of epoch `e` in an [`EpochSet`].
pub fn epoch_bit(e: Epoch) -> EpochSet {
    debug_assert!((1..=MAX_EPOCH as Epoch).contains(&e));
    1 << (e - 1)
}

/// One storage segment.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Seg {
    /// Reachable and serving.
    pub up: bool,
    /// Its AZ.
    pub az: u8,
    /// The highest volume epoch installed here (durable): requests of older epochs are
    /// rejected.
    pub fence: Epoch,
    /// Truncation ranges of epochs up to this one are installed here (durable, except under
    /// `volatile-truncation`).
    pub trunc_epoch: Epoch,
    /// Segment complete LSN: the top of its gap-free chain, installed ranges counting as
    /// present.
    pub scl: Lsn,
    /// `recs[l-1]` = epoch of the incarnation that wrote LSN `l`, 0 if absent.
    pub recs: [Epoch; MAX_LSN],
}

impl Seg {
    /// The epoch of the record held for LSN `l`, 0 if none.
    pub fn rec(&self, l: Lsn) -> Epoch {
        self.recs[usize::from(l) - 1]
    }
}

/// Where a recovering instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Promoted; no epoch yet.
    Promoted,
    /// Holds epoch `epoch`; installing it (fencing).
    Fencing,
    /// Read the SCLs and computed the recovered VDL; writing the truncation range and
    /// repairing.
    Truncating {
        /// The recovered VDL.
        rvdl: Lsn,
    },
}

/// What a database instance is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The writer, open for writes at its epoch.
    Writer,
    /// A read replica.
    Replica,
    /// Running recovery after promotion.
    Recovering(Phase),
    /// Crashed (volatile state lost).
    Down,
}

/// A database instance (writer or replica).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Inst {
    /// Its role.
    pub role: Role,
    /// Cut off from the control plane while alive (a partition): the control plane takes it
    /// for dead; it keeps working and may still reach segments.
    pub cut_off: bool,
    /// Promotion tier (lower is preferred).
    pub tier: u8,
    /// Volume epoch it writes or recovers at (0 = none).
    pub epoch: Epoch,
    /// First LSN this incarnation allocates (its commits start here).
    pub base: Lsn,
    /// Next LSN to allocate.
    pub next_lsn: Lsn,
    /// Writer: highest LSN whose chain reached a write quorum (acks at its epoch).
    pub pgcl: Lsn,
    /// Writer: volume durable LSN, the highest consistency point at or below PGCL.
    pub vdl: Lsn,
    /// Replica: the VDL it has been told.
    pub known_vdl: Lsn,
    /// Replica: the epoch of the writer whose stream it follows (0 = none yet).
    pub follows: Epoch,
    /// Replica cache: `applied[l-1]` = epoch of the applied record of LSN `l`, 0 if not applied.
    pub applied: [Epoch; MAX_LSN],
    /// Writer: the transaction it has begun and not yet committed, named by the last LSN of
    /// its body MTR (0 = none). Volatile: a crash loses it.
    pub open_txn: Lsn,
}

impl Inst {
    /// A fresh replica with tier `tier`.
    pub fn replica(tier: u8) -> Self {
        Inst {
            role: Role::Replica,
            cut_off: false,
            tier,
            epoch: 0,
            base: 1,
            next_lsn: 1,
            pgcl: 0,
            vdl: 0,
            known_vdl: 0,
            follows: 0,
            applied: [0; MAX_LSN],
            open_txn: 0,
        }
    }
}

/// Remaining fault budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Budget {
    /// Writer failures (crash or partition).
    pub writer_failures: u8,
    /// Crashes during recovery.
    pub recovery_crashes: u8,
    /// Replica crashes.
    pub replica_crashes: u8,
    /// Segment crashes.
    pub seg_crashes: u8,
    /// AZ outages.
    pub az_outages: u8,
}

/// History variables: read only by properties and trace descriptions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Ghost {
    /// `acked[l-1]`: the epochs at which the commit ending at LSN `l` was acknowledged.
    pub acked: [EpochSet; MAX_LSN],
    /// `wrote[e-1]`: the instances (bit `i`) that allocated LSNs at epoch `e`.
    pub wrote: [u8; MAX_EPOCH],
    /// Event flags, see the `F_*` constants.
    pub flags: u16,
    /// Bit `l-1`: the transaction whose body ends at LSN `l` was rolled back by a later
    /// incarnation's undo (it was active when its writer failed).
    pub rolled_back: u16,
    /// Bit `l-1`: the commit MTR ending at LSN `l` finishes a transaction that was active when
    /// its writer failed (begun by an older incarnation, or already rolled back).
    pub orphan_commits: u16,
}

/// A promoted instance opened the volume at a new epoch (a failover completed).
pub const F_FAILOVER_DONE: u16 = 1 << 0;
/// A commit was acknowledged at an epoch above 1 (after a failover).
pub const F_ACKED_AFTER_FAILOVER: u16 = 1 << 1;
/// A fenced segment rejected an older incarnation's write.
pub const F_STALE_REJECTED: u16 = 1 << 2;
/// B3 broken: a segment accepted a write of an epoch below its fence.
pub const F_B3_BROKEN: u16 = 1 << 3;
/// B10 broken: a recovery computed a VDL below an acknowledged commit of an older epoch.
pub const F_B10_BROKEN: u16 = 1 << 4;
/// A recovery annulled a record some segment held.
pub const F_ANNULLED: u16 = 1 << 5;

/// The whole system state. Its `Hash` is in [`pack`]: a few integer writes, not one per field;
/// its `Clone` copies each list in one block (the search clones every state it expands).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FailoverState {
    /// The protection group's segments.
    pub segs: ArrayVec<Seg, MAX_SEGMENTS>,
    /// Database instances: W1 first, then R1, R2.
    pub insts: ArrayVec<Inst, MAX_INSTANCES>,
    /// The instance the cluster endpoint routes to (the last one promoted).
    pub endpoint: u8,
    /// The metadata service's volume-epoch counter (the last epoch handed out).
    pub epoch_ctr: Epoch,
    /// Truncation ranges written by recoveries, oldest first (durable volume metadata).
    pub truncs: Ranges,
    /// `sent[l-1]`: the epochs at which some writer sent a record for LSN `l`. A sent record
    /// may land on any segment at any later time (instant messages, as in the quorum model).
    pub sent: [EpochSet; MAX_LSN],
    /// Bit `l-1`: LSN `l` is a consistency point (the last record of its MTR).
    pub cpls: u16,
    /// Bit `l-1`: the MTR ending at LSN `l` is a transaction body, not its commit (only with
    /// `txn_mtrs = 2`; otherwise every MTR commits).
    pub bodies: u16,
    /// Bit `l-1`: the transaction whose body ends at LSN `l` has ended (committed or rolled
    /// back). Durable: the volume's transaction table.
    pub txn_done: u16,
    /// Bit `l-1`: the transaction whose body ends at LSN `l` ended by rollback (the open
    /// writer's undo). Durable, with the transaction table: no truncation range reopens it.
    pub aborted: u16,
    /// Remaining fault budgets.
    pub budget: Budget,
    /// History.
    pub ghost: Ghost,
}

/// A copy of `v` in one block: its elements are plain data.
pub fn copied<T: Copy, const N: usize>(v: &ArrayVec<T, N>) -> ArrayVec<T, N> {
    let mut out = ArrayVec::new();
    // Same capacity, so the slice always fits.
    let _ = out.try_extend_from_slice(v);
    out
}

impl Clone for FailoverState {
    fn clone(&self) -> Self {
        let FailoverState {
            segs,
            insts,
            endpoint,
            epoch_ctr,
            truncs,
            sent,
            cpls,
            bodies,
            txn_done,
            aborted,
            budget,
            ghost,
        } = self;
        FailoverState {
            segs: copied(segs),
            insts: copied(insts),
            endpoint: *endpoint,
            epoch_ctr: *epoch_ctr,
            truncs: copied(truncs),
            sent: *sent,
            cpls: *cpls,
            bodies: *bodies,
            txn_done: *txn_done,
            aborted: *aborted,
            budget: *budget,
            ghost: *ghost,
        }
    }
}

/// The volume's transaction table as an instance works on it (bit `l-1` names the transaction
/// whose body ends at LSN `l`): the bodies, the ones that ended, and those that ended by
/// rollback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Txns {
    /// Transaction bodies.
    pub bodies: u16,
    /// Ended (committed or rolled back).
    pub done: u16,
    /// Ended by rollback.
    pub aborted: u16,
}

impl Txns {
    /// The transactions begun and not ended, but `open` (the writer's own one, its body-end
    /// LSN, 0 for none): those active when an older incarnation failed.
    pub fn orphans(&self, open: Lsn) -> u16 {
        let own = if open > 0 { 1 << (open - 1) } else { 0 };
        self.bodies & !self.done & !own
    }
}

impl FailoverState {
    /// The transaction table.
    pub fn txns(&self) -> Txns {
        Txns {
            bodies: self.bodies,
            done: self.txn_done,
            aborted: self.aborted,
        }
    }

    /// Make `t` the transaction table.
    pub fn set_txns(&mut self, t: Txns) {
        self.bodies = t.bodies;
        self.txn_done = t.done;
        self.aborted = t.aborted;
    }

    /// Whether LSN `l` is a consistency point.
    pub fn is_cpl(&self, l: Lsn) -> bool {
        l > 0 && self.cpls & (1 << (l - 1)) != 0
    }

    /// The commit points of the log (consistency points that are not transaction bodies),
    /// bit `l-1`.
    pub fn commits(&self) -> u16 {
        self.cpls & !self.bodies
    }

    /// Whether LSN `l` ends a commit MTR (a consistency point that is not a transaction body):
    /// the commits the writer acknowledges.
    pub fn is_commit(&self, l: Lsn) -> bool {
        self.is_cpl(l) && self.bodies & (1 << (l - 1)) == 0
    }

    /// Transactions active when their writer failed and not yet ended, as body-end LSN bits:
    /// every begun, unfinished transaction except `writer`'s own open one.
    pub fn orphans(&self, writer: &Inst) -> u16 {
        self.txns().orphans(writer.open_txn)
    }

    /// Whether LSN `l` lies inside any truncation range.
    pub fn in_trunc(&self, l: Lsn) -> bool {
        self.truncs.iter().any(|t| t.lo <= l && l <= t.hi)
    }

    /// Whether a record of LSN `l` written at epoch `w` is annulled by a durable range.
    pub fn annulled(&self, l: Lsn, w: Epoch) -> bool {
        self.truncs.iter().any(|t| t.annuls(l, w))
    }

    /// The truncation range of epoch `e`, if one was written.
    pub fn trunc_of(&self, e: Epoch) -> Option<&Trunc> {
        self.truncs.iter().find(|t| t.epoch == e)
    }

    /// Highest consistency point at or below `l`: a CPL not annulled with its MTR, or the top
    /// of a truncation range (an annulled range is a complete, empty unit), as in the quorum
    /// model.
    pub fn cpl_at_or_below(&self, l: Lsn) -> Lsn {
        crate::quorum::state::cpl_at_or_below(self.cpls, &self.truncs, l)
    }

    /// Segments (bit `i`) holding a live copy of LSN `l` (any epoch not annulled).
    pub fn holders(&self, l: Lsn) -> u16 {
        super::instance::holders(&self.segs, &self.truncs, l)
    }

    /// The open writer the endpoint routes to, if any.
    pub fn current_writer(&self) -> Option<&Inst> {
        self.insts
            .get(usize::from(self.endpoint))
            .filter(|w| w.role == Role::Writer)
    }

    /// Number of segments satisfying `f`.
    pub fn count(&self, f: impl Fn(&Seg) -> bool) -> usize {
        self.segs.iter().filter(|s| f(s)).count()
    }
}
