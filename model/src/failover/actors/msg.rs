//! What the failover actors send each other, their timers, what survives their crashes, and
//! their addresses.

use serde::{Deserialize, Serialize};

use crate::actor::Id;
use crate::failover::state::{Epoch, Inst, Lsn, Ranges, Role, Seg, Trunc};
use crate::failover::storage::Reject;

/// Where every actor of one cluster lives: the segments first, then the database instances
/// (W1, R1, R2), then the metadata service, the control plane and the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ids {
    /// Segments.
    pub segs: usize,
    /// Database instances.
    pub insts: usize,
}

impl Ids {
    /// Segment `i`.
    pub fn seg(self, i: usize) -> Id {
        Id::from(i)
    }
    /// Database instance `i` (0 is W1).
    pub fn inst(self, i: usize) -> Id {
        Id::from(self.segs + i)
    }
    /// The metadata service.
    pub fn metadata(self) -> Id {
        Id::from(self.segs + self.insts)
    }
    /// The control plane.
    pub fn control(self) -> Id {
        Id::from(self.segs + self.insts + 1)
    }
    /// The client, whose commits the writer acknowledges.
    pub fn client(self) -> Id {
        Id::from(self.segs + self.insts + 2)
    }
    /// How many actors there are.
    pub fn count(self) -> usize {
        self.segs + self.insts + 3
    }
    /// The segment index of `id`, if it is a segment.
    pub fn seg_of(self, id: Id) -> Option<usize> {
        let i = usize::from(id);
        (i < self.segs).then_some(i)
    }
    /// The instance index of `id`, if it is a database instance.
    pub fn inst_of(self, id: Id) -> Option<usize> {
        let i = usize::from(id);
        (self.segs..self.segs + self.insts)
            .contains(&i)
            .then(|| i - self.segs)
    }
}

/// What an instance's heartbeat says: what the control plane's promotion rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Beat {
    /// What it is doing.
    pub role: Role,
    /// Its promotion tier.
    pub tier: u8,
    /// The VDL it knows (a replica's).
    pub known_vdl: Lsn,
}

impl Beat {
    /// The heartbeat of instance `x`.
    pub fn of(x: &Inst) -> Beat {
        Beat {
            role: x.role,
            tier: x.tier,
            known_vdl: x.known_vdl,
        }
    }
}

/// Every message between the failover actors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    // ---- instance -> segment
    /// Store redo record `lsn`, written by the incarnation at volume epoch `epoch`.
    Write {
        /// LSN.
        lsn: Lsn,
        /// The writing incarnation's volume epoch.
        epoch: Epoch,
        /// The truncation range of that epoch in the metadata service's list, if any (the one
        /// the writer's own recovery wrote): the segment takes the record only once it has
        /// installed it.
        range: Option<Trunc>,
    },
    /// Install volume epoch `epoch`: reject every request of an older one from now on.
    Fence {
        /// The new volume epoch.
        epoch: Epoch,
    },
    /// Install volume epoch `epoch` and every truncation range up to it.
    Install {
        /// The volume epoch.
        epoch: Epoch,
        /// Every range of the volume.
        truncs: Ranges,
    },
    /// A recovery read at volume epoch `epoch`: report the top of the chain with every range
    /// in `truncs` known.
    ReadScl {
        /// The reading recovery's epoch, echoed in the answer.
        epoch: Epoch,
        /// Every range of the volume.
        truncs: Ranges,
    },
    // ---- segment -> instance
    /// Where a segment stands, sent at start and after every change: its fence, installed
    /// epoch, SCL and records (a writer's acks, a recovery's view).
    Report {
        /// The segment.
        seg: Seg,
    },
    /// The answer to [`Msg::ReadScl`]: the chain top.
    Scl {
        /// The epoch of the read it answers.
        epoch: Epoch,
        /// Chain top.
        top: Lsn,
    },
    /// A request of epoch `epoch` was refused.
    Refused {
        /// The epoch of the refused request.
        epoch: Epoch,
        /// Why.
        reason: Reject,
    },
    // ---- segment -> segment
    /// A peer's copy of record `lsn` written at epoch `epoch` (repair).
    Gossip {
        /// LSN.
        lsn: Lsn,
        /// The epoch of the incarnation that wrote it.
        epoch: Epoch,
    },
    // ---- instance -> metadata service
    /// A promoted instance asks for a new volume epoch.
    GetEpoch,
    /// Record a recovery's truncation range (durable before the recovery installs it).
    AddTrunc {
        /// The range, at the recovery's epoch.
        trunc: Trunc,
    },
    // ---- metadata service -> instance
    /// The new volume epoch, and the volume's ranges.
    Epoch {
        /// The epoch handed out.
        epoch: Epoch,
        /// Every range, oldest first.
        truncs: Ranges,
    },
    /// Every range of the volume, after a recovery added one.
    Ranges {
        /// Every range, oldest first.
        truncs: Ranges,
    },
    // ---- instance -> control plane
    /// A heartbeat: what the instance is doing.
    Status(Beat),
    /// From the transport, as if the instance sent it: its process is gone (it crashed).
    Crashed,
    /// From the transport: the instance's heartbeats stopped arriving (a partition).
    Silent,
    // ---- control plane -> instance
    /// The endpoint now routes to you: recover the volume and open it.
    Promote,
    // ---- writer -> client
    /// The commits (bit `l-1`: the commit MTR ending at LSN `l`) the writer has made durable
    /// and acknowledges.
    Committed {
        /// Commit MTRs, by their last LSN.
        commits: u16,
    },
    // ---- writer -> replica
    /// The redo stream's VDL control record: the writer's VDL and epoch.
    Vdl {
        /// The writer's VDL.
        vdl: Lsn,
        /// The writer's volume epoch.
        epoch: Epoch,
    },
}

/// The periodic timers of the actors (see [`crate::actor`]): each fires again and again, and
/// the handler decides from its state whether a firing does anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// Control plane: promote a replica if the endpoint's instance has failed.
    Watch,
    /// Writer: allocate and send the next mini-transaction (the client's next request).
    NextMtr,
    /// Writer: roll back the transactions an older incarnation left active.
    Undo,
    /// Writer or recovery: install the volume epoch and its ranges on segment `seg` (again,
    /// for one that missed it).
    Install {
        /// The segment.
        seg: u8,
    },
    /// Promoted instance: ask the metadata service for a new volume epoch.
    Recover,
    /// Recovery: install the new epoch on segment `seg` (fence it).
    Fence {
        /// The segment.
        seg: u8,
    },
    /// Recovery: read the chain tops of the segments, once a write quorum is fenced.
    ReadScl,
    /// Recovery: open for writes, once the volume is repaired.
    TryOpen,
    /// Writer: send its VDL to instance `to` (a replica) on the redo stream.
    Stream {
        /// The instance.
        to: u8,
    },
    /// Replica: apply the next whole mini-transaction, if it may.
    Apply,
    /// Segment: copy record `lsn` to peer `to` if this segment holds it (repair).
    Gossip {
        /// Peer.
        to: u8,
        /// LSN.
        lsn: Lsn,
    },
}

/// What survives a crash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Storage {
    /// A segment's records, fence and installed epoch, and the ranges it installed.
    Segment {
        /// The segment.
        seg: Seg,
        /// The ranges it installed.
        known: Ranges,
    },
    /// The metadata service's epoch counter and ranges.
    Metadata {
        /// The last epoch handed out.
        epoch_ctr: Epoch,
        /// Every range, oldest first.
        truncs: Ranges,
    },
}
