//! The failover protocol's messages as they travel between nodes (JSON datagrams through
//! [`crate::codec`]), with a decoder that rejects out-of-range fields with a reason.
//!
//! The model's messages are implicit: a writer "sends" by marking an LSN sent at its epoch,
//! and segment acks are folded in at once. These are the concrete messages the nodes exchange
//! to do the same: redo records, fencing and truncation requests, recovery reads, segment
//! reports (what a segment holds, which writers and recoveries count), refusals, and the VDL
//! the writer streams to its replicas.

use serde::{Deserialize, Serialize};

use quorate_model::failover::config::{MAX_EPOCH, MAX_SEGMENTS};
use quorate_model::failover::state::{Epoch, Lsn};
use quorate_model::failover::storage::Reject;
use quorate_model::quorum::config::MAX_LSN;
use quorate_model::quorum::state::Trunc;

/// A truncation range on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTrunc {
    /// Volume epoch of the recovery that wrote it.
    pub epoch: Epoch,
    /// First annulled LSN.
    pub lo: Lsn,
    /// Last annulled LSN.
    pub hi: Lsn,
}

impl From<Trunc> for WireTrunc {
    fn from(t: Trunc) -> Self {
        WireTrunc {
            epoch: t.epoch,
            lo: t.lo,
            hi: t.hi,
        }
    }
}

impl From<WireTrunc> for Trunc {
    fn from(t: WireTrunc) -> Self {
        Trunc {
            epoch: t.epoch,
            lo: t.lo,
            hi: t.hi,
        }
    }
}

/// Why a segment refused a request (the model's [`Reject`](quorate_model::failover::storage::Reject)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The request's epoch is older than the segment's fence: the sender has been replaced.
    Stale,
    /// The request's epoch is newer than anything installed here.
    NeedsEpoch,
    /// The sender's truncation range is not installed here yet.
    NeedsTruncation,
    /// The record is annulled by a range installed here.
    Annulled,
}

impl From<Refusal> for Reject {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Stale => Reject::Stale,
            Refusal::NeedsEpoch => Reject::NeedsEpoch,
            Refusal::NeedsTruncation => Reject::NeedsTruncation,
            Refusal::Annulled => Reject::Annulled,
        }
    }
}

/// Every message of the failover protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Writer to segment: store redo record `lsn`, written by the incarnation at `epoch`.
    Write {
        /// The record's LSN.
        lsn: Lsn,
        /// The writer's volume epoch.
        epoch: Epoch,
        /// The truncation range its recovery wrote at that epoch, if any: the segment takes
        /// the record only once it has installed it.
        range: Option<WireTrunc>,
    },
    /// Segment to peer: a record for repair (gossip), with the epoch that wrote it.
    Gossip {
        /// The record's LSN.
        lsn: Lsn,
        /// The epoch of the incarnation that wrote it.
        epoch: Epoch,
    },
    /// Recovery to segment: install volume epoch `epoch` (reject every older request).
    Fence {
        /// The new volume epoch.
        epoch: Epoch,
    },
    /// Recovery (or the writer, for a segment that missed it) to segment: install epoch
    /// `epoch` and every truncation range up to it.
    Install {
        /// The volume epoch.
        epoch: Epoch,
        /// Every truncation range the metadata service holds.
        truncs: Vec<WireTrunc>,
    },
    /// Recovery to segment: report your chain top, judged with every range in `truncs`.
    ReadScl {
        /// Every truncation range the metadata service holds.
        truncs: Vec<WireTrunc>,
    },
    /// Segment to recovery: its chain top.
    SclReply {
        /// The segment's slot.
        slot: u8,
        /// Its chain top with every range known.
        top: Lsn,
    },
    /// Segment to instances: what it holds now (after every change; on reconnect).
    Report {
        /// The segment's slot.
        slot: u8,
        /// The highest volume epoch installed.
        fence: Epoch,
        /// Ranges of epochs up to this one are installed.
        trunc_epoch: Epoch,
        /// Its SCL.
        scl: Lsn,
        /// `recs[l-1]`: the epoch that wrote its record of LSN `l`, 0 if none.
        recs: Vec<Epoch>,
    },
    /// Segment to sender: the request was refused.
    Refused {
        /// The segment's slot.
        slot: u8,
        /// Why.
        why: Refusal,
    },
    /// Writer to replica: the writer's epoch and VDL (the replica applies up to it).
    Vdl {
        /// The writer's volume epoch.
        epoch: Epoch,
        /// Its VDL.
        vdl: Lsn,
    },
}

/// Encode a message as one datagram.
pub fn encode(msg: &Msg) -> Vec<u8> {
    crate::codec::encode(msg)
}

/// Decode and validate one datagram; the error says what was wrong with it.
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let msg: Msg = crate::codec::parse(bytes)?;
    validate(&msg)?;
    Ok(msg)
}

/// Whether every field of `msg` is in range (what [`decode`] checks after parsing).
pub fn validate(msg: &Msg) -> Result<(), String> {
    let lsn_ok = |l: Lsn| (1..=MAX_LSN as Lsn).contains(&l);
    let top_ok = |l: Lsn| l <= MAX_LSN as Lsn;
    let epoch_ok = |e: Epoch| (1..=MAX_EPOCH as Epoch).contains(&e);
    let slot_ok = |s: u8| usize::from(s) < MAX_SEGMENTS;
    let truncs_ok = |t: &[WireTrunc]| {
        t.iter()
            .all(|t| t.lo >= 1 && t.lo <= t.hi && epoch_ok(t.epoch))
    };
    let ok = match msg {
        Msg::Write { lsn, epoch, range } => {
            lsn_ok(*lsn) && epoch_ok(*epoch) && truncs_ok(range.as_slice())
        }
        Msg::Gossip { lsn, epoch } => lsn_ok(*lsn) && epoch_ok(*epoch),
        Msg::Fence { epoch } => epoch_ok(*epoch),
        Msg::Install { epoch, truncs } => epoch_ok(*epoch) && truncs_ok(truncs),
        Msg::ReadScl { truncs } => truncs_ok(truncs),
        Msg::SclReply { slot, top } => slot_ok(*slot) && top_ok(*top),
        Msg::Report {
            slot,
            fence,
            trunc_epoch,
            scl,
            recs,
        } => {
            slot_ok(*slot)
                && epoch_ok(*fence)
                && epoch_ok(*trunc_epoch)
                && top_ok(*scl)
                && recs.len() == MAX_LSN
                && recs.iter().all(|&e| e == 0 || epoch_ok(e))
        }
        Msg::Refused { slot, .. } => slot_ok(*slot),
        Msg::Vdl { epoch, vdl } => epoch_ok(*epoch) && top_ok(*vdl),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("out of range: {msg:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msgs = [
            Msg::Write {
                lsn: 3,
                epoch: 2,
                range: None,
            },
            Msg::Install {
                epoch: 2,
                truncs: vec![WireTrunc {
                    epoch: 2,
                    lo: 3,
                    hi: 4,
                }],
            },
            Msg::Report {
                slot: 5,
                fence: 2,
                trunc_epoch: 1,
                scl: 2,
                recs: vec![1, 1, 0, 0, 0, 0, 0, 0],
            },
            Msg::Refused {
                slot: 0,
                why: Refusal::Stale,
            },
        ];
        for m in msgs {
            assert_eq!(decode(&encode(&m)), Ok(m));
        }
    }

    #[test]
    fn garbage_is_rejected_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\xff\x00garbage").is_err());
        let good = encode(&Msg::Write {
            lsn: 1,
            epoch: 1,
            range: None,
        });
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "truncated at {cut}");
        }
        for bad in [
            &br#"{"Write":{"lsn":0,"epoch":1,"range":null}}"#[..],
            br#"{"Write":{"lsn":1,"epoch":9,"range":null}}"#,
            br#"{"Report":{"slot":0,"fence":1,"trunc_epoch":1,"scl":0,"recs":[1]}}"#,
        ] {
            assert!(decode(bad).unwrap_err().contains("out of range"));
        }
    }
}
