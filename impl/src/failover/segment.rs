//! A storage node holding one segment of the failover protocol: it judges every request with
//! the model's pure segment functions (`quorate_model::failover::storage`), logs what it
//! accepted durably (synced) *before* it replies, and after a restart rebuilds itself by
//! replaying that log.
//!
//! The log holds inputs: `Created` (its AZ), `Stored` (a record accepted from a writer or a
//! peer, with the epoch that wrote it), `Fenced` (a volume epoch installed), `Installed` (an
//! epoch and the truncation ranges up to it), `Learned` (ranges of an installed epoch found in
//! the metadata service, only when an epoch is handed out twice, mutant `epoch-reuse`) and
//! `ForgotRanges` (only under the mutant `volatile-truncation`: a restart dropped the
//! installed ranges). Replay applies accepted
//! inputs without judging them again: they were judged when they arrived, against what the
//! node knew then, and the log is in arrival order.
//!
//! The fence and the installed ranges are durable: a segment that forgot its fence would take
//! the old writer's records again after a restart, and one that forgot a range would count an
//! annulled stray in its chain (the mutant shows what that breaks).
//!
//! Damage on recovery follows [`crate::durable::reopen`]: a torn tail is cut off and
//! reported, anything else makes the segment lost.

use std::io;

use serde::{Deserialize, Serialize};

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::config::MAX_EPOCH;
use quorate_model::failover::state::{Epoch, Lsn, Seg, Trunc};
use quorate_model::failover::storage::{self, Reject};
use quorate_model::quorum::config::MAX_LSN;
use quorate_model::quorum::segment::chain_top;

use super::wire::{Msg, Refusal, WireTrunc};
use crate::durable::{Damage, Disk, DurableLog, RecoverError};

/// One durable log entry of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// The segment was created in `az`, at volume epoch 1.
    Created {
        /// Its AZ.
        az: u8,
    },
    /// A record was accepted.
    Stored {
        /// Its LSN.
        lsn: Lsn,
        /// The epoch of the incarnation that wrote it.
        epoch: Epoch,
    },
    /// Volume epoch `epoch` was installed (the fence).
    Fenced {
        /// The epoch.
        epoch: Epoch,
    },
    /// Volume epoch `epoch` and every range up to it were installed.
    Installed {
        /// The epoch.
        epoch: Epoch,
        /// The ranges the request carried.
        truncs: Vec<WireTrunc>,
    },
    /// A restart forgot the installed ranges (mutant `volatile-truncation` only).
    ForgotRanges,
    /// Ranges of epochs it had installed, learned from the metadata service after the fact
    /// (only when an epoch is handed out twice, mutant `epoch-reuse`).
    Learned {
        /// The ranges.
        truncs: Vec<WireTrunc>,
    },
}

/// What a segment did with a request (sent back as the reply on a real network).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handled {
    /// It changed (logged and synced); `stale_accepted` if it took a write of an epoch below
    /// its fence (only under `no-fencing`).
    Changed {
        /// A stale write was accepted.
        stale_accepted: bool,
    },
    /// Nothing to do: it already holds that, or the request asks for nothing new.
    Unchanged,
    /// It refused the request.
    Refused(Refusal),
    /// A read: the reply.
    Reply(Msg),
}

/// A running segment node.
#[derive(Debug)]
pub struct SegmentNode<D: Disk> {
    /// Its slot in the protection group.
    pub slot: u8,
    seg: Seg,
    /// Every truncation range it has been given (it judges with those of epochs it installed).
    truncs: Vec<Trunc>,
    log: DurableLog<Entry, D>,
    /// The torn tail dropped when it last recovered, if any (to report).
    pub torn_tail: Option<Damage>,
}

fn truncs_of(w: &[WireTrunc]) -> Vec<Trunc> {
    w.iter().map(|&t| t.into()).collect()
}

fn refusal(r: Reject) -> Refusal {
    match r {
        Reject::Stale => Refusal::Stale,
        Reject::NeedsEpoch => Refusal::NeedsEpoch,
        Reject::NeedsTruncation => Refusal::NeedsTruncation,
        Reject::Annulled => Refusal::Annulled,
    }
}

/// Reject an entry whose fields are out of range (it passed its checksum, so other code wrote
/// it, but it must not panic the node).
fn check(e: &Entry) -> Result<(), String> {
    let epoch_ok = |e: Epoch| (1..=MAX_EPOCH as Epoch).contains(&e);
    let truncs_ok = |t: &[WireTrunc]| {
        t.iter()
            .all(|t| t.lo >= 1 && t.lo <= t.hi && epoch_ok(t.epoch))
    };
    let ok = match e {
        Entry::Created { .. } | Entry::ForgotRanges => true,
        Entry::Learned { truncs } => truncs_ok(truncs),
        Entry::Stored { lsn, epoch } => (1..=MAX_LSN as Lsn).contains(lsn) && epoch_ok(*epoch),
        Entry::Fenced { epoch } => epoch_ok(*epoch),
        Entry::Installed { epoch, truncs } => epoch_ok(*epoch) && truncs_ok(truncs),
    };
    if ok {
        Ok(())
    } else {
        Err("a field out of range".into())
    }
}

impl<D: Disk> SegmentNode<D> {
    /// A new segment in `az` on an empty disk (one that holds a log must be recovered, never
    /// overwritten).
    pub fn create(slot: u8, az: u8, disk: D) -> io::Result<Self> {
        // A segment that holds a log must be recovered, never overwritten.
        let mut log = crate::durable::create(disk)?;
        let entry = Entry::Created { az };
        log.append_synced(&entry)?;
        let mut node = Self::blank(slot, log, None);
        node.replay(&entry);
        Ok(node)
    }

    fn blank(slot: u8, log: DurableLog<Entry, D>, torn_tail: Option<Damage>) -> Self {
        SegmentNode {
            slot,
            seg: Seg::default(),
            truncs: Vec::new(),
            log,
            torn_tail,
        }
    }

    /// Come back from `disk` by replaying its log. Under `volatile-truncation` the restart
    /// forgets the installed ranges (and logs that it did, so a later replay agrees).
    pub fn recover(cfg: &FailoverConfig, slot: u8, disk: D) -> Result<Self, (RecoverError, D)> {
        let mut node = Self::replayed(slot, disk)?;
        if !storage::keeps_ranges(cfg)
            && node.seg.trunc_epoch > 1
            && let Err(e) = node.commit(Entry::ForgotRanges)
        {
            return Err((RecoverError::Io(e), node.log.into_disk()));
        }
        Ok(node)
    }

    /// What `disk` holds, replayed: the segment as it went down, before a restart forgets
    /// anything.
    pub fn replayed(slot: u8, disk: D) -> Result<Self, (RecoverError, D)> {
        let got = crate::durable::reopen(disk)?;
        let mut node = Self::blank(slot, got.log, got.torn_tail);
        if !matches!(got.records.first(), Some(Entry::Created { .. })) {
            let why = "the first entry is not Created".to_string();
            return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
        }
        for (i, e) in got.records.iter().enumerate() {
            if let Err(why) = check(e) {
                let why = format!("entry {i} ({e:?}): {why}");
                return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
            }
            node.replay(e);
        }
        // What replayed must be durable before the node serves it.
        if let Err(e) = node.log.sync() {
            return Err((RecoverError::Io(e), node.log.into_disk()));
        }
        Ok(node)
    }

    /// Apply one logged input (no logging, no judging: it was accepted when it arrived).
    fn replay(&mut self, e: &Entry) {
        match e {
            Entry::Created { az } => {
                self.seg = Seg {
                    up: true,
                    az: *az,
                    fence: 1,
                    trunc_epoch: 1,
                    ..Seg::default()
                };
                self.truncs.clear();
            }
            Entry::Stored { lsn, epoch } => {
                self.seg = storage::store(&self.seg, *lsn, *epoch, &self.truncs);
            }
            Entry::Fenced { epoch } => self.seg = storage::fence(&self.seg, *epoch),
            Entry::Installed { epoch, truncs } => {
                for t in truncs_of(truncs) {
                    if !self.truncs.contains(&t) {
                        self.truncs.push(t);
                    }
                }
                self.seg = storage::install_truncation(&self.seg, *epoch, &self.truncs);
            }
            Entry::ForgotRanges => self.seg = storage::forget_ranges(&self.seg, &self.truncs),
            // Known from now on; the SCL is recomputed at the next change, as in the model.
            Entry::Learned { truncs } => self.truncs.extend(truncs_of(truncs)),
        }
    }

    /// Log `e` durably, then apply it.
    fn commit(&mut self, e: Entry) -> io::Result<()> {
        self.log.append_synced(&e)?;
        self.replay(&e);
        Ok(())
    }

    /// Handle one request. A write carries its writer's own epoch's truncation range if its
    /// recovery wrote one: a segment takes that epoch's records only once it has installed
    /// that range. `meta` is the metadata service's list of ranges, which the
    /// segment consults before it judges a write, a repair or an install: a range of an epoch
    /// it has installed but was never sent (possible only when an epoch is handed out twice)
    /// is in force on it too.
    pub fn handle(
        &mut self,
        cfg: &FailoverConfig,
        msg: &Msg,
        meta: &[Trunc],
    ) -> io::Result<Handled> {
        if matches!(
            msg,
            Msg::Write { .. } | Msg::Gossip { .. } | Msg::Install { .. }
        ) {
            self.learn(meta)?;
        }
        match msg {
            Msg::Write { lsn, epoch, .. } | Msg::Gossip { lsn, epoch } => {
                let (lsn, epoch) = (*lsn, *epoch);
                let gossip = matches!(msg, Msg::Gossip { .. });
                let range: Option<Trunc> = match msg {
                    Msg::Write { range, .. } => range.map(Into::into),
                    _ => None,
                };
                if (gossip && self.seg.rec(lsn) != 0) || self.seg.rec(lsn) == epoch {
                    return Ok(Handled::Unchanged);
                }
                let verdict = if gossip {
                    storage::on_gossip(&self.seg, lsn, epoch, &self.truncs).map(|s| (s, false))
                } else {
                    let mut known = self.truncs.clone();
                    known.extend(range.filter(|t| !self.truncs.contains(t)));
                    storage::on_write(cfg, &self.seg, lsn, epoch, &known)
                };
                match verdict {
                    Ok((_, stale)) => {
                        self.commit(Entry::Stored { lsn, epoch })?;
                        Ok(Handled::Changed {
                            stale_accepted: stale,
                        })
                    }
                    Err(r) => Ok(Handled::Refused(refusal(r))),
                }
            }
            Msg::Fence { epoch } => {
                if !storage::fence_needed(&self.seg, *epoch) {
                    return Ok(Handled::Unchanged);
                }
                self.commit(Entry::Fenced { epoch: *epoch })?;
                Ok(Handled::Changed {
                    stale_accepted: false,
                })
            }
            Msg::Install { epoch, truncs } => {
                match storage::install_needed(&self.seg, *epoch) {
                    Err(r) => return Ok(Handled::Refused(refusal(r))),
                    Ok(false) => return Ok(Handled::Unchanged),
                    Ok(true) => {}
                }
                self.commit(Entry::Installed {
                    epoch: *epoch,
                    truncs: truncs.clone(),
                })?;
                Ok(Handled::Changed {
                    stale_accepted: false,
                })
            }
            Msg::ReadScl { truncs } => {
                let truncs = truncs_of(truncs);
                let top = chain_top(&self.seg.recs, truncs.iter());
                Ok(Handled::Reply(Msg::SclReply {
                    slot: self.slot,
                    top,
                }))
            }
            _ => Ok(Handled::Unchanged),
        }
    }

    /// Learn (durably) the ranges in `meta` of epochs it has installed and does not know.
    fn learn(&mut self, meta: &[Trunc]) -> io::Result<()> {
        let new: Vec<WireTrunc> = meta
            .iter()
            .filter(|t| t.epoch <= self.seg.trunc_epoch && !self.truncs.contains(t))
            .map(|&t| t.into())
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        self.commit(Entry::Learned { truncs: new })
    }

    /// What it reports to instances: its state as it is (everything in it is synced).
    pub fn report(&self) -> Msg {
        Msg::Report {
            slot: self.slot,
            fence: self.seg.fence,
            trunc_epoch: self.seg.trunc_epoch,
            scl: self.seg.scl,
            recs: self.seg.recs.to_vec(),
        }
    }

    /// The segment as the model sees it.
    pub fn seg(&self) -> &Seg {
        &self.seg
    }

    /// Stop: the node's memory is gone, its disk stays.
    pub fn into_disk(self) -> D {
        self.log.into_disk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::MemDisk;

    fn node() -> SegmentNode<MemDisk> {
        SegmentNode::create(0, 0, MemDisk::default()).unwrap()
    }

    #[test]
    fn a_fence_survives_a_restart_and_rejects_the_old_writer() {
        let cfg = FailoverConfig::base();
        let mut n = node();
        let w = |lsn, epoch| Msg::Write {
            lsn,
            epoch,
            range: None,
        };
        assert_eq!(
            n.handle(&cfg, &w(1, 1), &[]).unwrap(),
            Handled::Changed {
                stale_accepted: false
            }
        );
        n.handle(&cfg, &Msg::Fence { epoch: 2 }, &[]).unwrap();
        let mut disk = n.into_disk();
        disk.crash(0);
        let mut n = SegmentNode::recover(&cfg, 0, disk)
            .map_err(|e| e.0)
            .unwrap();
        assert_eq!((n.seg().fence, n.seg().rec(1)), (2, 1));
        assert_eq!(
            n.handle(&cfg, &w(2, 1), &[]).unwrap(),
            Handled::Refused(Refusal::Stale)
        );
    }

    #[test]
    fn a_new_epoch_writes_only_after_its_range_is_installed() {
        let cfg = FailoverConfig::base();
        let mut n = node();
        n.handle(
            &cfg,
            &Msg::Write {
                lsn: 2,
                epoch: 1,
                range: None,
            },
            &[],
        )
        .unwrap();
        n.handle(&cfg, &Msg::Fence { epoch: 2 }, &[]).unwrap();
        let t = Trunc {
            epoch: 2,
            lo: 1,
            hi: 2,
        };
        let write = Msg::Write {
            lsn: 3,
            epoch: 2,
            range: Some(t.into()),
        };
        assert_eq!(
            n.handle(&cfg, &write, &[]).unwrap(),
            Handled::Refused(Refusal::NeedsTruncation)
        );
        let install = Msg::Install {
            epoch: 2,
            truncs: vec![t.into()],
        };
        n.handle(&cfg, &install, &[]).unwrap();
        assert_eq!(n.seg().rec(2), 0, "the stray is annulled");
        assert_eq!(
            n.handle(&cfg, &write, &[]).unwrap(),
            Handled::Changed {
                stale_accepted: false
            }
        );
        assert_eq!(n.seg().scl, 3);
        let before = *n.seg();
        let n = SegmentNode::recover(&cfg, 0, n.into_disk())
            .map_err(|e| e.0)
            .unwrap();
        assert_eq!(*n.seg(), before, "replay rebuilds the same segment");
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_rotten_byte_makes_the_segment_lost() {
        let cfg = FailoverConfig::base();
        let mut n = node();
        n.handle(
            &cfg,
            &Msg::Write {
                lsn: 1,
                epoch: 1,
                range: None,
            },
            &[],
        )
        .unwrap();
        n.handle(&cfg, &Msg::Fence { epoch: 2 }, &[]).unwrap();
        let before = *n.seg();
        let mut disk = n.into_disk();
        let good = disk.durable.len();
        // A crash in the middle of the next append: half a frame reached the disk.
        let frame = crate::durable::frame(br#"{"Stored":{"lsn":2,"epoch":2}}"#);
        disk.durable.extend_from_slice(&frame[..frame.len() / 2]);
        let n = SegmentNode::recover(&cfg, 0, disk.clone())
            .map_err(|e| e.0)
            .unwrap();
        assert!(n.torn_tail.is_some(), "the torn tail is reported");
        assert_eq!(*n.seg(), before, "nothing synced is lost");
        // A flipped byte inside a synced frame: the segment may have forgotten what it
        // acknowledged, so it does not come back.
        disk.durable.truncate(good);
        disk.durable[good - 3] ^= 0x40;
        match SegmentNode::recover(&cfg, 0, disk) {
            Err((RecoverError::Damaged(d), _)) => assert!(!d.torn_tail, "{d}"),
            other => panic!("corruption not detected: {:?}", other.map(|n| *n.seg())),
        }
    }
}
