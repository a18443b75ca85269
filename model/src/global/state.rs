//! The state of the Global Database model: one durable log per region (the quorum and failover
//! models cover what happens inside a region), the global epoch, the operation in progress,
//! the clock, and history (ghost) variables.

use arrayvec::ArrayVec;
use serde::Serialize;

use super::config::{MAX_LOG, MAX_REGIONS, MAX_TXNS};

/// A transaction id, `1..=txns`; 0 marks the switchover MARKER.
pub type Txn = u8;
/// A global epoch, `1..`.
pub type GEpoch = u8;

/// One log record: `(gepoch, txn, commit)`; LSN = its position in the log, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Rec {
    /// The global epoch of the primary that wrote it.
    pub gepoch: GEpoch,
    /// Its transaction, 0 for the MARKER.
    pub txn: Txn,
    /// The transaction's commit record (a data record otherwise). The MARKER counts as one:
    /// it ends no transaction, so a log may end at it.
    pub commit: bool,
}

impl Rec {
    /// Whether a log may end here: after a commit record or the MARKER.
    pub fn is_boundary(&self) -> bool {
        self.commit
    }
}

/// What a region is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Role {
    /// The primary: commits transactions and replicates its log.
    Primary,
    /// A secondary: applies the primary's log in order.
    Secondary,
    /// A secondary ahead of a newly promoted primary, waiting to be rebuilt to its point.
    Rebuilding,
    /// An old primary after an unplanned failover, until it rejoins as a secondary.
    Old,
}

/// One region's cluster, abstracted to its durable log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Region {
    /// Its role.
    pub role: Role,
    /// Running (false during an outage; the log survives).
    pub up: bool,
    /// Cut off from the other regions and the control plane, still running.
    pub cut_off: bool,
    /// Accepts commits.
    pub writable: bool,
    /// The global epoch it writes at (meaningful while it writes).
    pub gepoch: GEpoch,
    /// The durable log.
    pub log: ArrayVec<Rec, MAX_LOG>,
}

/// The operation the control plane is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Op {
    /// Nothing.
    Idle,
    /// A planned switchover to `target`: the primary is read-only; `marker` is the LSN of the
    /// MARKER once appended (0 before). Under Mc2, `synced` means the target was found caught
    /// up while the primary was still writable.
    Switchover {
        /// The region to promote.
        target: u8,
        /// The MARKER's LSN, 0 until appended.
        marker: u8,
        /// Mc2 only: the sync check passed.
        synced: bool,
    },
    /// An unplanned failover to `target`; `fenced` once the fence was attempted.
    Failover {
        /// The region to promote.
        target: u8,
        /// The fence attempt happened (whatever its outcome).
        fenced: bool,
    },
}

/// Remaining budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Budget {
    /// Switchovers left.
    pub switchovers: u8,
    /// Failovers left.
    pub failovers: u8,
    /// Outages left.
    pub outages: u8,
    /// Partitions left.
    pub partitions: u8,
}

/// History: read only by properties and trace descriptions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Ghost {
    /// `acked[x-1]`: the global epoch at which transaction `x` was acknowledged (0 = not).
    pub acked: [GEpoch; MAX_TXNS],
    /// `ack_from[e-1]`: the regions (bits) that acknowledged commits at epoch `e`.
    pub ack_from: [u8; 8],
    /// `ts[x-1]`: the clock when transaction `x`'s commit record was written.
    pub ts: [u8; MAX_TXNS],
    /// `last_ack_t[e-1]`: the clock at the last acknowledgement at epoch `e`.
    pub last_ack_t: [u8; 8],
    /// The highest epoch at which a commit was acknowledged.
    pub max_ack_epoch: GEpoch,
    /// Transactions saved in an old primary's snapshot before it rejoined (bits).
    pub snapshot: u8,
    /// Regions (bits) that rejoined as secondaries after being an old primary.
    pub rejoined: u8,
    /// Epochs (bits) created by a switchover.
    pub by_switchover: u8,
    /// Epochs (bits) created by a failover.
    pub by_failover: u8,
    /// Failover epochs (bits) for which a most-caught-up secondary was reachable when
    /// `FailoverStart` chose the target: those owe the RPO bound (C5).
    pub rpo_owed: u8,
    /// The log length each epoch's primary started from: `start[e-1]`.
    pub start: [u8; 8],
    /// Transactions (bits) whose acknowledgement the RPO gate held back because every
    /// secondary lagged (not because the primary was cut off).
    pub blocked: u8,
    /// Event flags, `F_*`.
    pub flags: u16,
}

/// A switchover completed.
pub const F_SWITCHOVER_DONE: u16 = 1 << 0;
/// A switchover was cancelled.
pub const F_SWITCHOVER_CANCELLED: u16 = 1 << 1;
/// A failover completed, and an acknowledged commit is not in the new primary's log.
pub const F_FAILOVER_LOST_DATA: u16 = 1 << 2;
/// An old primary rejoined as a secondary.
pub const F_REJOINED: u16 = 1 << 3;
/// A reachable primary's commit was held back by the RPO gate because every secondary lagged.
pub const F_BLOCKED: u16 = 1 << 4;
/// A commit the RPO gate held back for lag was later acknowledged.
pub const F_RESUMED: u16 = 1 << 5;
/// A commit was acknowledged at an epoch below one already acknowledged (split brain).
pub const F_SPLIT_BRAIN: u16 = 1 << 6;
/// A failover completed.
pub const F_FAILOVER_DONE: u16 = 1 << 8;
/// A failover's promotion dropped a transaction's data record whose commit never arrived.
pub const F_HALF_TXN_DROPPED: u16 = 1 << 9;
/// A failover that owes the RPO bound lost a commit acknowledged at the epoch it ended.
pub const F_LOST_WITHIN_RPO: u16 = 1 << 10;
/// A commit was acknowledged while no secondary held every commit older than the RPO (C5a).
pub const F_ACK_PAST_GATE: u16 = 1 << 11;
/// With the gate on, a commit was acknowledged before any other region held it.
pub const F_ACK_UNREPLICATED: u16 = 1 << 12;
/// A fence took effect on an old primary that was still running (cut off, not down).
pub const F_FENCED_LIVE: u16 = 1 << 13;
/// A rebuild cut a secondary's log back.
pub const F_REBUILD_CUT: u16 = 1 << 14;

/// The whole system state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct GlobalState {
    /// The regions, region 0 first.
    pub regions: ArrayVec<Region, MAX_REGIONS>,
    /// The current global epoch.
    pub gepoch: GEpoch,
    /// The region the control plane names primary (secondaries replicate from it).
    pub primary: u8,
    /// The operation in progress.
    pub op: Op,
    /// The clock.
    pub t: u8,
    /// Transactions begun so far (the next id is `begun + 1`).
    pub begun: u8,
    /// Budgets left.
    pub budget: Budget,
    /// History.
    pub ghost: Ghost,
}

impl GlobalState {
    /// The primary region.
    pub fn prim(&self) -> &Region {
        &self.regions[usize::from(self.primary)]
    }

    /// Whether `a` is a prefix of `b` (record for record).
    pub fn is_prefix(a: &[Rec], b: &[Rec]) -> bool {
        a.len() <= b.len() && a == &b[..a.len()]
    }

    /// Whether region `r`'s log holds transaction `x`'s commit record.
    pub fn holds_commit(&self, r: usize, x: Txn) -> bool {
        super::region::holds(&self.regions[r].log, x)
    }
}

impl GlobalState {
    /// C5a by its definition in protocols.md, independent of the gate
    /// ([`super::region::may_acknowledge`]): some
    /// secondary holds every commit in region `p`'s log that is at least `rpo` ticks old.
    pub fn some_secondary_within_rpo(&self, rpo: u8, p: usize) -> bool {
        let old_enough = |x: Txn| {
            u16::from(self.ghost.ts[usize::from(x) - 1]) + u16::from(rpo) <= u16::from(self.t)
        };
        self.regions.iter().enumerate().any(|(s, x)| {
            s != p
                && x.role == Role::Secondary
                && self.regions[p]
                    .log
                    .iter()
                    .filter(|c| c.commit && c.txn != 0 && old_enough(c.txn))
                    .all(|c| self.holds_commit(s, c.txn))
        })
    }
}

/// Transaction ids as a bit: bit `x-1`.
pub fn txn_bit(x: Txn) -> u8 {
    debug_assert!(x >= 1 && usize::from(x) <= MAX_TXNS);
    1 << (x - 1)
}
