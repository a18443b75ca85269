//! The state of the Backtrack model: the cluster's committed data, the transaction in flight,
//! the mode of a backtrack in progress, the change buffer (the history the rewind reads), the
//! reader instances' caches, and history (ghost) variables that state what each wall time
//! showed, independently of the buffer.

use serde::{Deserialize, Serialize};

use super::config::{MAX_KEYS, MAX_READERS, MAX_TIME};

/// The value of every key: the id of the transaction that last wrote it (0: the initial value).
/// `db` holds the committed values; [`physical`] adds the in-flight transaction's writes.
pub type Values = [u8; MAX_KEYS];

/// The transaction in flight (one at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Open {
    /// Its id, `1..=txns`.
    pub id: u8,
    /// The keys it has written (bits); its writes are not visible until it commits.
    pub wrote: u8,
}

/// What the cluster is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    /// Serving clients.
    Normal,
    /// Paused, rewinding to the consistent time `to`: `target` is the state the change buffer
    /// gives for it, `done` the keys already rewound (bits).
    Applying {
        /// The consistent time rewound to.
        to: u8,
        /// The values the buffer holds for `to`.
        target: Values,
        /// Keys rewound so far (in memory: a crash loses them).
        done: u8,
        /// The data when the rewind started (durable: what a crash falls back to).
        before: Values,
    },
    /// The rewind crashed: the keys it had rewound were not yet durable and are back at
    /// `before`. It restarts from scratch.
    Crashed {
        /// The consistent time being rewound to.
        to: u8,
        /// The values it rewinds to.
        target: Values,
        /// The data when the rewind started.
        before: Values,
        /// Keys it had rewound before the crash (only Md11 reads this).
        done: u8,
    },
}

/// Remaining budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Budget {
    /// Backtracks that may still be accepted.
    pub backtracks: u8,
    /// Crashes during a rewind.
    pub crashes: u8,
    /// Early evictions under pressure.
    pub pressure: u8,
}

/// The last accepted backtrack, as requested and as carried out (ghost).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LastBacktrack {
    /// Whether there was one.
    pub some: bool,
    /// `use_earliest` found no consistent time at or after E up to `asked` (= E) and went to
    /// the earliest consistent time after it.
    pub fallback: bool,
    /// The time requested (after `use_earliest` replaced a time before E by the earliest
    /// reachable one).
    pub asked: u8,
    /// The consistent time chosen.
    pub to: u8,
    /// The wall time it started at.
    pub at: u8,
    /// The earliest reachable time when it started.
    pub earliest: u8,
    /// The request as made: its time, `use_earliest`, `force`.
    pub req: u8,
    /// `use_earliest` was set.
    pub use_earliest: bool,
    /// `force` was set.
    pub force: bool,
    /// What the cluster showed at `to`: the target (from the ghost history, not the buffer).
    pub want: Values,
    /// The data when it started (after the transaction in flight was dropped).
    pub before: Values,
}

impl LastBacktrack {
    /// Whether the rewind changes the data (a backtrack to the state the cluster is in
    /// already puts nothing at stake).
    pub fn changes_data(&self) -> bool {
        self.want != self.before
    }
}

/// History: read only by properties and trace descriptions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Ghost {
    /// `seen[τ]`: the committed values at the end of wall tick `τ` (recorded by `Tick`).
    pub seen: [Values; MAX_TIME + 1],
    /// Transactions (bits) in flight when a backtrack started: never visible, never acked.
    pub dropped: u8,
    /// Transactions (bits) committed but not yet acknowledged when a backtrack started: the
    /// backtrack closed their connections, so they are never acknowledged.
    pub unacked: u8,
    /// Transactions (bits) acknowledged.
    pub acked: u8,
    /// Per key, the transaction whose write to it was acknowledged last since the last
    /// accepted backtrack started (0: none).
    pub acked_since: Values,
    /// The last accepted backtrack.
    pub last: LastBacktrack,
    /// The target time of the backtrack before the last, for "forward" (0 if none).
    pub prev_to: u8,
    /// Whether there was a backtrack before the last.
    pub prev_some: bool,
    /// The wall time the backtrack before the last ran at.
    pub prev_at: u8,
    /// Whether the backtrack before the last changed the data.
    pub prev_changed: bool,
    /// A commit was made since the last backtrack started (cleared when one starts).
    pub dirty: bool,
    /// E just after the last early eviction under pressure (0: none). E may lie inside the
    /// window up to here; anything beyond was evicted without pressure.
    pub pressured_to: u8,
    /// The last accepted backtrack's rewind crashed (and restarted).
    pub crashed: bool,
    /// ... and the crash lost keys it had already rewound.
    pub crash_reverted: bool,
    /// Event flags, `F_*`.
    pub flags: u16,
}

/// A commit was acknowledged while the cluster was not serving (`Applying` or `Crashed`).
pub const F_ACK_WHILE_PAUSED: u16 = 1 << 0;
/// A transaction in flight at a backtrack's start was acknowledged.
pub const F_ACK_DROPPED: u16 = 1 << 1;
/// A backtrack was accepted that its guards should have rejected.
pub const F_GUARD_BYPASSED: u16 = 1 << 2;
/// A backtrack request was rejected, leaving the cluster as it was.
pub const F_REJECTED: u16 = 1 << 3;
/// A backtrack to an earlier time completed.
pub const F_BACK_DONE: u16 = 1 << 4;
/// A backtrack forward (to a later time than the previous backtrack's) completed.
pub const F_FORWARD_DONE: u16 = 1 << 5;
/// A backtrack that used the earliest time (`use_earliest`) completed.
pub const F_EARLIEST_DONE: u16 = 1 << 6;
/// A backtrack dropped a transaction in flight.
pub const F_INFLIGHT_DROPPED: u16 = 1 << 7;
/// A commit was acknowledged after a backtrack resumed.
pub const F_ACK_AFTER_RESUME: u16 = 1 << 8;
/// A crashed rewind restarted and completed.
pub const F_RESTART_DONE: u16 = 1 << 9;
/// A reader cached the rewound state after a backtrack completed.
pub const F_CACHE_REFILLED: u16 = 1 << 10;
/// A write acknowledged after a resume was still visible a tick later.
pub const F_ACK_KEPT: u16 = 1 << 11;
/// A transaction committed but unacknowledged when a backtrack started was acknowledged.
pub const F_ACK_UNACKED: u16 = 1 << 12;
/// A backtrack was rejected while a transaction with writes was in flight.
pub const F_REJECTED_AT_STAKE: u16 = 1 << 13;
/// A commit was logged and a backtrack started before its acknowledgement reached the client.
pub const F_COMMIT_RACED: u16 = 1 << 14;

/// The whole system state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BacktrackState {
    /// The wall clock ("now").
    pub t: u8,
    /// The committed values.
    pub db: Values,
    /// The transaction in flight, if any.
    pub open: Option<Open>,
    /// A transaction committed (durable, visible) whose acknowledgement has not reached the
    /// client yet: the client waits for it before beginning the next.
    pub pending: Option<Open>,
    /// Transactions begun so far (the next id is `begun + 1`).
    pub begun: u8,
    /// Serving, or rewinding.
    pub mode: Mode,
    /// The change buffer: `hist[τ]` is the physical state at the end of wall tick `τ`,
    /// uncommitted writes of the transaction in flight included, for `earliest <= τ < t`
    /// (`None` once evicted). At a consistent time it equals the committed state.
    pub hist: [Option<Values>; MAX_TIME + 1],
    /// Wall ticks (bits) at whose end no transaction was in flight and no rewind was half
    /// done: the consistent times.
    pub consistent: u8,
    /// The earliest reachable time E.
    pub earliest: u8,
    /// Each reader instance's cache (`None`: empty).
    pub caches: [Option<Values>; MAX_READERS],
    /// Under Md8 only: the rewind still owed after a premature resume (target, keys done).
    pub rewind_left: Option<(Values, u8)>,
    /// Budgets left.
    pub budget: Budget,
    /// History.
    pub ghost: Ghost,
}

/// The physical data: the committed values with the in-flight transaction's writes on top
/// (pages hold uncommitted changes; the change buffer records them).
pub fn physical(s: &BacktrackState) -> Values {
    let mut v = s.db;
    if let Some(o) = s.open {
        for (k, x) in v.iter_mut().enumerate() {
            if o.wrote & (1 << k) != 0 {
                *x = o.id;
            }
        }
    }
    v
}

/// Transaction ids as a bit: bit `x-1`.
pub fn txn_bit(x: u8) -> u8 {
    debug_assert!((1..=8).contains(&x));
    1 << (x - 1)
}
