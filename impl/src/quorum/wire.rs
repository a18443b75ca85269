//! The storage-quorum messages as they travel between nodes: serde structs encoded as JSON
//! datagrams, and a decoder that rejects garbage, truncated or out-of-range datagrams with a
//! reason instead of panicking.
//!
//! The model's messages are implicit (the writer "sends" by marking an LSN sent, and acks are
//! folded in at once); these are the concrete messages the nodes exchange to do the same.

use serde::{Deserialize, Serialize};

use quorate_model::quorum::config::{MAX_LSN, MAX_SEGMENTS};
use quorate_model::quorum::state::{Epoch, Lsn, Trunc};

pub use crate::codec::DATAGRAM_BYTES_MAX;
use crate::codec::parse;

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

/// One protection group in a gossip digest: what the sending segment holds of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// The protection group.
    pub pg: u32,
    /// The sender's membership epoch in that group (gossip crosses no epoch).
    pub mem_epoch: Epoch,
    /// The sender's volume epoch in that group (the truncation ranges it has installed).
    pub vol_epoch: Epoch,
    /// The LSNs the sender holds, bit `l-1`.
    pub held: u16,
}

impl DigestEntry {
    /// The entry of group `pg` whose segment is `seg`, holding `held`.
    pub fn of(pg: u32, seg: &quorate_model::quorum::state::Segment, held: u16) -> Self {
        DigestEntry {
            pg,
            mem_epoch: seg.mem_epoch,
            vol_epoch: seg.vol_epoch,
            held,
        }
    }
}

/// The most protection groups one digest names (a digest fits well within one datagram).
pub const DIGEST_ENTRIES_MAX: usize = 128;

/// Every message of the storage-quorum protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Writer to segment: store redo record `lsn`.
    Write {
        /// The record's LSN.
        lsn: Lsn,
        /// Volume epoch of the writer incarnation that wrote it.
        vol_epoch: Epoch,
        /// Membership epoch the sender knows.
        mem_epoch: Epoch,
        /// Whether the record ends its mini-transaction (a consistency point).
        cpl: bool,
    },
    /// Segment to peer: a record for repair (gossip).
    Gossip {
        /// The record's LSN.
        lsn: Lsn,
        /// Volume epoch of the incarnation that wrote it.
        vol_epoch: Epoch,
        /// The sending segment's membership epoch.
        mem_epoch: Epoch,
        /// Whether the record ends its mini-transaction.
        cpl: bool,
    },
    /// Writer (recovery) to segment: install the truncation ranges of volume epoch `vol_epoch`.
    Install {
        /// The new volume epoch.
        vol_epoch: Epoch,
        /// Every truncation range up to it.
        truncs: Vec<WireTrunc>,
    },
    /// Recovery to segment: report your chain top computed with every range in `truncs`.
    ReadScl {
        /// Every truncation range the metadata service holds.
        truncs: Vec<WireTrunc>,
    },
    /// Segment to recovery: the chain top and the consistency points it holds below it.
    SclReply {
        /// The segment's slot.
        slot: u8,
        /// Its chain top with every range known.
        top: Lsn,
        /// Consistency points it holds, bit `l-1`.
        cpls: u16,
    },
    /// Writer (repair) to segment: gossip your copy of `lsn` to segment `to`.
    Repair {
        /// The LSN.
        lsn: Lsn,
        /// The segment that lacks it.
        to: u8,
    },
    /// Segment to peer (background gossip): what it holds of some protection groups. The peer
    /// pushes (`Gossip`) every record the sender lacks and, unless this is a `reply`, answers
    /// with its own digest of the groups where it lacks one of the sender's.
    Digest {
        /// The sending segment's slot.
        slot: u8,
        /// An answer to a digest (never answered again, so two peers do not ping-pong).
        reply: bool,
        /// The groups, at most [`DIGEST_ENTRIES_MAX`].
        entries: Vec<DigestEntry>,
    },
    /// Control plane to a spare: join the protection group as an empty segment at these epochs
    /// and ranges (the start of a membership change); it hydrates by gossip.
    Join {
        /// The membership epoch of the dual configuration the change installed.
        mem_epoch: Epoch,
        /// The group's volume epoch.
        vol_epoch: Epoch,
        /// Every truncation range up to it.
        truncs: Vec<WireTrunc>,
    },
    /// Control plane to segment: the group's membership epoch is now `epoch` (a bump, or a
    /// segment back from a crash that missed one). The segment answers with its ack.
    Member {
        /// The membership epoch.
        epoch: Epoch,
    },
    /// Control plane to a segment no longer in the group (the member replaced, or a joiner
    /// reverted): drop the segment for good and never take it back.
    Retire,
    /// Verification to segment: which LSNs do you hold?
    ReadHeld,
    /// Segment to verification: the LSNs it holds.
    Held {
        /// The segment's slot.
        slot: u8,
        /// The LSNs it holds, bit `l-1`.
        held: u16,
    },
    /// Segment to writer: its state after a change (an ack of a write, gossip or install, or
    /// a hello after a restart).
    Ack {
        /// The segment's slot.
        slot: u8,
        /// Its SCL.
        scl: Lsn,
        /// The live LSNs it holds, bit `l-1`.
        held: u16,
        /// Its membership epoch.
        mem_epoch: Epoch,
        /// Its volume epoch.
        vol_epoch: Epoch,
    },
}

/// A message on the real network: the protection group it is about, and the message. A volume
/// is a sequence of protection groups, each running the model's protocol on its own LSNs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// The protection group.
    pub pg: u32,
    /// The message.
    pub msg: Msg,
}

/// Encode a datagram for the wire.
pub fn encode_datagram(d: &Datagram) -> Vec<u8> {
    crate::codec::encode(d)
}

/// Decode and validate a datagram from the wire.
pub fn decode_datagram(bytes: &[u8]) -> Result<Datagram, String> {
    let d: Datagram = parse(bytes)?;
    validate(&d.msg)?;
    Ok(d)
}

/// Encode a message as one datagram.
pub fn encode(msg: &Msg) -> Vec<u8> {
    crate::codec::encode(msg)
}

/// Decode and validate one datagram; the error says what was wrong with it.
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let msg: Msg = parse(bytes)?;
    validate(&msg)?;
    Ok(msg)
}

fn lsn_ok(l: Lsn) -> bool {
    (1..=MAX_LSN as Lsn).contains(&l)
}

fn validate(msg: &Msg) -> Result<(), String> {
    let ok = match msg {
        Msg::Write {
            lsn,
            vol_epoch,
            mem_epoch,
            ..
        }
        | Msg::Gossip {
            lsn,
            vol_epoch,
            mem_epoch,
            ..
        } => lsn_ok(*lsn) && *vol_epoch > 0 && *mem_epoch > 0,
        Msg::Install { vol_epoch, truncs } => {
            *vol_epoch > 0
                && truncs
                    .iter()
                    .all(|t| t.epoch > 0 && t.lo >= 1 && t.lo <= t.hi)
        }
        Msg::ReadScl { truncs } => truncs
            .iter()
            .all(|t| t.epoch > 0 && t.lo >= 1 && t.lo <= t.hi),
        Msg::SclReply { slot, top, .. } => {
            usize::from(*slot) < MAX_SEGMENTS && *top <= MAX_LSN as Lsn
        }
        Msg::Ack { slot, scl, .. } => usize::from(*slot) < MAX_SEGMENTS && *scl <= MAX_LSN as Lsn,
        Msg::Repair { lsn, to } => lsn_ok(*lsn) && usize::from(*to) < MAX_SEGMENTS,
        Msg::Digest { slot, entries, .. } => {
            usize::from(*slot) < MAX_SEGMENTS
                && entries.len() <= DIGEST_ENTRIES_MAX
                && entries.iter().all(|e| e.mem_epoch > 0 && e.vol_epoch > 0)
        }
        Msg::Join {
            mem_epoch,
            vol_epoch,
            truncs,
        } => {
            *mem_epoch > 0
                && *vol_epoch > 0
                && truncs
                    .iter()
                    .all(|t| t.epoch > 0 && t.lo >= 1 && t.lo <= t.hi)
        }
        Msg::Member { epoch } => *epoch > 0,
        Msg::Retire | Msg::ReadHeld => true,
        Msg::Held { slot, .. } => usize::from(*slot) < MAX_SEGMENTS,
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
        let m = Msg::Install {
            vol_epoch: 2,
            truncs: vec![WireTrunc {
                epoch: 2,
                lo: 3,
                hi: 4,
            }],
        };
        assert_eq!(decode(&encode(&m)), Ok(m));
    }

    #[test]
    fn garbage_is_rejected_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\xff\x00garbage").is_err());
        let good = encode(&Msg::Write {
            lsn: 1,
            vol_epoch: 1,
            mem_epoch: 1,
            cpl: true,
        });
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let bad = br#"{"Write":{"lsn":0,"vol_epoch":1,"mem_epoch":1,"cpl":true}}"#;
        assert!(decode(bad).unwrap_err().contains("out of range"));
        assert!(decode(&vec![b' '; DATAGRAM_BYTES_MAX + 1]).is_err());
    }

    #[test]
    fn a_full_digest_fits_in_a_datagram_and_a_longer_one_is_refused() {
        let entry = DigestEntry {
            pg: u32::MAX,
            mem_epoch: u8::MAX,
            vol_epoch: u8::MAX,
            held: u16::MAX,
        };
        let full = Msg::Digest {
            slot: 8,
            reply: true,
            entries: vec![entry; DIGEST_ENTRIES_MAX],
        };
        let bytes = encode_datagram(&Datagram {
            pg: u32::MAX,
            msg: full.clone(),
        });
        assert!(bytes.len() <= DATAGRAM_BYTES_MAX, "{} bytes", bytes.len());
        assert_eq!(decode(&encode(&full)), Ok(full));
        let long = Msg::Digest {
            slot: 8,
            reply: false,
            entries: vec![entry; DIGEST_ENTRIES_MAX + 1],
        };
        assert!(decode(&encode(&long)).unwrap_err().contains("out of range"));
        assert!(decode(&encode(&Msg::Member { epoch: 0 })).is_err());
    }
}
