//! What the storage-quorum actors send each other, their timers, what survives their crashes,
//! and their addresses.

use serde::{Deserialize, Serialize};

use crate::actor::Id;
use crate::quorum::state::{Cfg, Epoch, Lsn, SegSet, SegState, Trunc, Truncs};

/// Where every actor of one protection group lives: the segment slots first (members, then
/// spares), then the writer, the control plane and the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ids {
    /// Segment slots.
    pub slots: usize,
}

impl Ids {
    /// Segment slot `i`.
    pub fn seg(self, i: usize) -> Id {
        Id::from(i)
    }
    /// The writer (the database instance).
    pub fn writer(self) -> Id {
        Id::from(self.slots)
    }
    /// The control plane, with the metadata service.
    pub fn control(self) -> Id {
        Id::from(self.slots + 1)
    }
    /// The client.
    pub fn client(self) -> Id {
        Id::from(self.slots + 2)
    }
    /// How many actors there are.
    pub fn count(self) -> usize {
        self.slots + 3
    }
    /// The slot of `id`, if it is a segment.
    pub fn slot_of(self, id: Id) -> Option<usize> {
        let i = usize::from(id);
        (i < self.slots).then_some(i)
    }
}

/// A request from the application to the client actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Request {
    /// Open a read view at the current VDL.
    OpenView,
    /// Close the read view.
    CloseView,
}

/// Every message between the actors of one protection group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    // ---- writer -> segment
    /// Store redo record `lsn`, written by the incarnation of volume epoch `vol`, sent with the
    /// membership epoch `mem` its sender knows; `cpl` if it ends its mini-transaction.
    Write {
        /// LSN.
        lsn: Lsn,
        /// The writing incarnation's volume epoch.
        vol: Epoch,
        /// The sender's membership epoch.
        mem: Epoch,
        /// A consistency point.
        cpl: bool,
    },
    /// Install the truncation ranges of volume epoch `vol` (every range up to it).
    Install {
        /// The new volume epoch.
        vol: Epoch,
        /// Every range of the volume.
        truncs: Truncs,
    },
    /// Tell the writer where you stand (answered by an [`Msg::Ack`] to the writer alone).
    Probe,
    /// A recovery read: report the top of the chain with every range in `truncs` known.
    ReadScl {
        /// Every range of the volume.
        truncs: Truncs,
    },
    // ---- segment -> writer
    /// The answer to [`Msg::ReadScl`]: the chain top and the consistency points of the live
    /// records the segment holds.
    SclReply {
        /// Chain top.
        top: Lsn,
        /// CPL bits of live records held.
        cpls: u16,
    },
    // ---- segment -> writer and control plane
    /// A segment's state, sent at start and after every change: the writer's ack and the
    /// control plane's report.
    Ack {
        /// SCL.
        scl: Lsn,
        /// Membership epoch.
        mem: Epoch,
        /// Volume epoch.
        vol: Epoch,
        /// LSNs held, bit `l-1`.
        held: u8,
    },
    // ---- segment -> segment
    /// A peer's copy of record `lsn` (repair and hydration).
    Gossip {
        /// LSN.
        lsn: Lsn,
        /// The volume epoch of the incarnation that wrote the record.
        vol: Epoch,
        /// The sender's membership epoch.
        mem: Epoch,
        /// A consistency point.
        cpl: bool,
    },
    // ---- segment -> control plane
    /// A segment has started: which membership epoch is current?
    Hello,
    // ---- control plane -> segment
    /// The membership epoch in force, and whom to gossip with.
    Epoch {
        /// The epoch.
        epoch: Epoch,
        /// The members of the configuration and a joining segment.
        gossipers: SegSet,
    },
    /// A spare becomes a member: an empty segment in AZ `az` at the given epochs, knowing the
    /// volume's truncation ranges.
    Join {
        /// Its AZ.
        az: u8,
        /// The membership epoch.
        epoch: Epoch,
        /// Whom to gossip with.
        gossipers: SegSet,
        /// The volume epoch.
        vol: Epoch,
        /// Every range of the volume.
        truncs: Truncs,
    },
    /// A joiner whose change was reverted: discard the copy.
    Retire,
    // ---- operator -> control plane
    /// Begin replacing member `f` by a spare (a failed disk, or heat management).
    Begin {
        /// The member to replace.
        f: u8,
    },
    // ---- writer -> control plane (membership and the metadata service)
    /// What is the configuration in force?
    GetConfig,
    /// A new writer incarnation asks for the volume.
    GetVolume,
    /// How far the writer has got: the highest LSN it allocated (the end of the log), the PGCL
    /// it proved, and the highest commit it acknowledged. Sent whenever one of them moves.
    Progress {
        /// The highest LSN allocated.
        allocated: Lsn,
        /// The PGCL proven.
        pgcl: Lsn,
        /// The highest commit acknowledged.
        acked: Lsn,
    },
    /// Record a recovery's truncation range.
    AddTrunc {
        /// The range, at the new volume epoch.
        trunc: Trunc,
    },
    // ---- control plane -> writer
    /// The configuration in force; `joiner` is a joining segment and whether it has hydrated.
    Config {
        /// Membership epoch.
        epoch: Epoch,
        /// The configuration.
        cfg: Cfg,
        /// A joining segment, and whether it has hydrated.
        joiner: Option<(u8, bool)>,
    },
    /// The volume: its truncation ranges, whether no writer has opened it yet, and the
    /// configuration in force (as in [`Msg::Config`]).
    Volume {
        /// Every range, oldest first.
        truncs: Truncs,
        /// A new volume: open it at volume epoch 1 without recovery.
        fresh: bool,
        /// Membership epoch.
        epoch: Epoch,
        /// The configuration.
        cfg: Cfg,
        /// A joining segment, and whether it has hydrated.
        joiner: Option<(u8, bool)>,
        /// Slots whose copy is gone for good.
        lost: SegSet,
    },
    // ---- client <-> writer
    /// The application's request (from the environment to the client, then to the writer).
    Request(Request),
    /// A read view opened at read point `rp`.
    ViewOpened {
        /// The read point.
        rp: Lsn,
    },
    /// The commit whose mini-transaction ends at `lsn` is acknowledged.
    Committed {
        /// Its LSN.
        lsn: Lsn,
    },
    // ---- failure detection (from the transport, as if the peer sent it)
    /// The connection to the sender broke: it crashed.
    Disconnected,
    /// The sender's disk is gone for good.
    Lost,
}

/// The periodic timers of the actors (see [`crate::actor`]): each fires again and again, and
/// the handler decides from its state whether a firing does anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    // ---- writer
    /// Allocate the next mini-transaction and send its records.
    NextMtr,
    /// Send record `lsn` again to segment `seg` if it still lacks it.
    Resend {
        /// Slot.
        seg: u8,
        /// LSN.
        lsn: Lsn,
    },
    /// Ask the control plane for the configuration in force.
    Refresh,
    /// Install this incarnation's truncation ranges on segment `seg`.
    Install {
        /// Slot.
        seg: u8,
    },
    /// Open the volume if recovery is done.
    TryOpen,
    // ---- segment
    /// Copy record `lsn` to peer `to` if this segment holds it.
    Gossip {
        /// Peer slot.
        to: u8,
        /// LSN.
        lsn: Lsn,
    },
    // ---- control plane
    /// Finalize a membership change whose joiner has hydrated.
    Finalize,
    /// Revert a membership change whose replaced member is back.
    Revert,
}

/// What survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Storage {
    /// A segment's durable state (its volatile part zeroed).
    Segment(SegState),
}
