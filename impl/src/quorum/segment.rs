//! A storage node holding one segment: it applies each request with the model's pure segment
//! functions (`quorate_model::quorum::segment`), logs what it accepted durably *before* it
//! replies, and recovers after a restart by replaying that log through the same functions.
//!
//! The log holds inputs, not pages: `Created` (the segment's birth: its AZ and epochs),
//! `Stored` (a record accepted from the writer or a peer), `Installed` (truncation ranges of a
//! newer volume epoch) and `MemEpoch` (a membership epoch learned). Replaying the same inputs
//! through the same deterministic functions rebuilds the same segment, SCL included.
//!
//! Damage found on recovery is reported in one line, and handled by what it can mean:
//! * a **torn tail** (the last frame runs past the end of the file) is an append a crash cut
//!   short. The node syncs before it acks, so that record was never acknowledged: the tail is
//!   cut off and the segment comes back. Treating it as lost instead would turn every crash
//!   during a write into a disk loss, and an AZ losing power mid-write into an AZ of lost
//!   disks: beyond the AZ+1 fault model.
//! * **corruption** (a complete frame with a bad checksum, or an undecodable one) may have hit
//!   an acknowledged record. A segment that may have forgotten what it acknowledged must not
//!   vote, so it is treated as lost and the protection group rebuilds it from its peers.

use std::io;

use serde::{Deserialize, Serialize};

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::config::MAX_LSN;
use quorate_model::quorum::segment::{self, Epochs, Reject};
use quorate_model::quorum::state::{Epoch, Lsn, Segment, Trunc};

use super::wire::{Msg, WireTrunc};
use crate::durable::{Damage, Disk, DurableLog};

/// One durable log entry of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// The segment was created in `az` at these epochs, knowing these truncation ranges.
    Created {
        /// Its AZ.
        az: u8,
        /// Membership epoch at birth.
        mem_epoch: Epoch,
        /// Volume epoch at birth.
        vol_epoch: Epoch,
        /// Truncation ranges known at birth.
        truncs: Vec<WireTrunc>,
    },
    /// A record was accepted.
    Stored {
        /// Its LSN.
        lsn: Lsn,
        /// The epochs the request carried.
        vol_epoch: Epoch,
        /// The sender's membership epoch.
        mem_epoch: Epoch,
        /// Whether it ends its mini-transaction.
        cpl: bool,
        /// From a peer (gossip) rather than the writer.
        gossip: bool,
    },
    /// Truncation ranges of volume epoch `vol_epoch` were installed.
    Installed {
        /// The new volume epoch.
        vol_epoch: Epoch,
        /// Every range up to it.
        truncs: Vec<WireTrunc>,
    },
    /// A membership epoch was learned.
    MemEpoch {
        /// The epoch.
        epoch: Epoch,
    },
}

pub use crate::durable::RecoverError;

/// A running segment node.
#[derive(Debug)]
pub struct SegmentNode<D: Disk> {
    /// Its slot in the protection group.
    pub slot: u8,
    seg: Segment,
    truncs: Vec<Trunc>,
    cpls: u16,
    log: DurableLog<Entry, D>,
    /// The torn tail dropped when it last recovered, if any (to report).
    pub torn_tail: Option<Damage>,
    /// Group commit: appends wait for [`SegmentNode::sync`] (one fsync for a batch).
    group: bool,
    /// Appended since the last sync (group commit only): nothing may be acknowledged now.
    unsynced: bool,
}

fn truncs_of(w: &[WireTrunc]) -> Vec<Trunc> {
    w.iter().map(|&t| t.into()).collect()
}

fn wire(t: &[Trunc]) -> Vec<WireTrunc> {
    t.iter().map(|&t| t.into()).collect()
}

/// Reject an entry whose fields are out of the encoding's range (it passed its checksum, so it
/// was written by other code, but it must not panic the node).
fn check(e: &Entry) -> Result<(), String> {
    let lsn_ok = |l: Lsn| (1..=MAX_LSN as Lsn).contains(&l);
    let truncs_ok = |t: &[WireTrunc]| t.iter().all(|t| t.lo >= 1 && t.lo <= t.hi && t.epoch > 0);
    let ok = match e {
        Entry::Created {
            mem_epoch,
            vol_epoch,
            truncs,
            ..
        } => *mem_epoch > 0 && *vol_epoch > 0 && truncs_ok(truncs),
        Entry::Stored {
            lsn,
            vol_epoch,
            mem_epoch,
            ..
        } => lsn_ok(*lsn) && *vol_epoch > 0 && *mem_epoch > 0,
        Entry::Installed { vol_epoch, truncs } => *vol_epoch > 0 && truncs_ok(truncs),
        Entry::MemEpoch { epoch } => *epoch > 0,
    };
    if ok {
        Ok(())
    } else {
        Err("a field out of range".into())
    }
}

impl<D: Disk> SegmentNode<D> {
    /// A new segment on an empty disk.
    pub fn create(
        slot: u8,
        az: u8,
        mem_epoch: Epoch,
        vol_epoch: Epoch,
        truncs: &[Trunc],
        disk: D,
    ) -> io::Result<Self> {
        // A segment that holds a log must be recovered, never overwritten.
        let mut log = crate::durable::create(disk)?;
        let entry = Entry::Created {
            az,
            mem_epoch,
            vol_epoch,
            truncs: wire(truncs),
        };
        log.append_synced(&entry)?;
        let mut node = Self::blank(slot, log, None);
        node.replay(&QuorumConfig::base(), &entry)
            .expect("a birth always replays");
        Ok(node)
    }

    /// A node over `log` before any entry is replayed.
    fn blank(slot: u8, log: DurableLog<Entry, D>, torn_tail: Option<Damage>) -> Self {
        SegmentNode {
            slot,
            seg: Segment::default(),
            truncs: Vec::new(),
            cpls: 0,
            log,
            torn_tail,
            group: false,
            unsynced: false,
        }
    }

    /// Come back from `disk` by replaying its log.
    pub fn recover(cfg: &QuorumConfig, slot: u8, disk: D) -> Result<Self, (RecoverError, D)> {
        let got = crate::durable::reopen(disk)?;
        let (log, torn) = (got.log, got.torn_tail);
        let mut node = Self::blank(slot, log, torn);
        if !matches!(got.records.first(), Some(Entry::Created { .. })) {
            let why = "the first entry is not Created".to_string();
            return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
        }
        for (i, e) in got.records.iter().enumerate() {
            if let Err(why) = check(e).and_then(|()| node.replay(cfg, e)) {
                let why = format!("entry {i} ({e:?}) replays to {why}");
                return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
            }
        }
        // Whatever replayed must be durable before the node serves (and acks) it: an append
        // that reached the page cache but not the disk before the crash is synced now.
        if let Err(e) = node.log.sync() {
            return Err((RecoverError::Io(e), node.log.into_disk()));
        }
        Ok(node)
    }

    /// Apply one logged input to the in-memory segment (no logging).
    fn replay(&mut self, cfg: &QuorumConfig, e: &Entry) -> Result<(), String> {
        match e {
            Entry::Created {
                az,
                mem_epoch,
                vol_epoch,
                truncs,
            } => {
                let truncs = truncs_of(truncs);
                let recs = [0; MAX_LSN];
                self.seg = Segment {
                    up: true,
                    lost: false,
                    spare: false,
                    az: *az,
                    mem_epoch: *mem_epoch,
                    vol_epoch: *vol_epoch,
                    scl: segment::chain_top(&recs, segment::known(&truncs, *vol_epoch)),
                    recs,
                };
                self.truncs = truncs;
                self.cpls = 0;
            }
            Entry::Stored {
                lsn,
                vol_epoch,
                mem_epoch,
                cpl,
                gossip,
            } => {
                let epochs = Epochs {
                    mem: *mem_epoch,
                    vol: *vol_epoch,
                };
                let acc = if *gossip {
                    segment::on_gossip(cfg, &self.seg, *lsn, epochs, &self.truncs)
                } else {
                    segment::on_write(cfg, &self.seg, *lsn, epochs, &self.truncs)
                }
                .map_err(|r| format!("{r:?}"))?;
                self.seg = acc.seg;
                self.set_cpl(*lsn, *cpl);
            }
            Entry::Installed { vol_epoch, truncs } => {
                let truncs = truncs_of(truncs);
                self.seg = segment::install_truncation(cfg, &self.seg, &truncs, *vol_epoch);
                self.truncs = truncs
                    .into_iter()
                    .filter(|t| t.epoch <= *vol_epoch)
                    .collect();
                self.cpls &= self.held();
            }
            Entry::MemEpoch { epoch } => self.seg.mem_epoch = *epoch,
        }
        Ok(())
    }

    fn set_cpl(&mut self, lsn: Lsn, cpl: bool) {
        let bit = 1 << (lsn - 1);
        if cpl {
            self.cpls |= bit;
        } else {
            self.cpls &= !bit;
        }
    }

    /// Log `e` durably (under group commit: at the next [`SegmentNode::sync`]), then apply it.
    fn commit(&mut self, cfg: &QuorumConfig, e: Entry) -> io::Result<()> {
        if self.group {
            self.log.append(&e)?;
            self.unsynced = true;
        } else {
            self.log.append_synced(&e)?;
        }
        self.replay(cfg, &e)
            .map_err(|why| io::Error::other(format!("logged entry did not apply: {why}")))
    }

    /// A write or gossip request: check it with the model's segment rules, then log and apply.
    /// `Ok(false)`: the model's rules rejected it (nothing changes).
    pub fn store(
        &mut self,
        cfg: &QuorumConfig,
        lsn: Lsn,
        epochs: Epochs,
        cpl: bool,
        gossip: bool,
    ) -> io::Result<Result<(), Reject>> {
        let verdict = if gossip {
            segment::on_gossip(cfg, &self.seg, lsn, epochs, &self.truncs)
        } else {
            segment::on_write(cfg, &self.seg, lsn, epochs, &self.truncs)
        };
        if let Err(r) = verdict {
            return Ok(Err(r));
        }
        let e = Entry::Stored {
            lsn,
            vol_epoch: epochs.vol,
            mem_epoch: epochs.mem,
            cpl,
            gossip,
        };
        self.commit(cfg, e)?;
        Ok(Ok(()))
    }

    /// Install the truncation ranges of volume epoch `vol_epoch`.
    pub fn install(
        &mut self,
        cfg: &QuorumConfig,
        truncs: &[Trunc],
        vol_epoch: Epoch,
    ) -> io::Result<()> {
        let e = Entry::Installed {
            vol_epoch,
            truncs: wire(truncs),
        };
        self.commit(cfg, e)
    }

    /// Learn membership epoch `epoch`.
    pub fn learn_mem_epoch(&mut self, cfg: &QuorumConfig, epoch: Epoch) -> io::Result<()> {
        if epoch == self.seg.mem_epoch {
            return Ok(());
        }
        self.commit(cfg, Entry::MemEpoch { epoch })
    }

    /// Turn group commit on: appends are synced together by [`SegmentNode::sync`], which the
    /// runtime must call before it sends any reply (replies read the state).
    pub fn set_group_commit(&mut self, on: bool) {
        self.group = on;
    }

    /// Make every append durable (group commit).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.log.sync()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// The segment as the model sees it.
    pub fn seg(&self) -> &Segment {
        &self.seg
    }

    /// The consistency points among the records it holds, bit `l-1`.
    pub fn cpls(&self) -> u16 {
        self.cpls
    }

    /// The LSNs it holds, bit `l-1`.
    pub fn held(&self) -> u16 {
        (1..=MAX_LSN as Lsn)
            .filter(|&l| self.seg.holds(l))
            .fold(0, |a, l| a | (1 << (l - 1)))
    }

    /// Its ack: what the writer learns of it. Only what is durable may be reported.
    pub fn ack(&self) -> Msg {
        assert!(!self.unsynced, "a segment acks only after it has synced");
        Msg::Ack {
            slot: self.slot,
            scl: self.seg.scl,
            held: self.held(),
            mem_epoch: self.seg.mem_epoch,
            vol_epoch: self.seg.vol_epoch,
        }
    }

    /// Its answer to a recovery read with every range in `truncs` known.
    pub fn scl_reply(&self, truncs: &[Trunc]) -> Msg {
        assert!(!self.unsynced, "a segment reports only after it has synced");
        let top = segment::chain_top(&self.seg.recs, truncs.iter());
        let below = if top == 0 { 0 } else { u16::MAX >> (16 - top) };
        Msg::SclReply {
            slot: self.slot,
            top,
            cpls: self.cpls & below,
        }
    }

    /// Stop: the node's memory is gone, its disk stays.
    pub fn into_disk(self) -> D {
        self.log.into_disk()
    }

    /// The log, to damage it in tests.
    pub fn log_mut(&mut self) -> &mut DurableLog<Entry, D> {
        &mut self.log
    }
}
