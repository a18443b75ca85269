//! One region of a Global Database, abstracted (as in the model) to its cluster's durable log
//! and the modes the control plane sets: it writes (as the primary, or as an old primary
//! that no fence stopped), acknowledges its commits when the RPO gate lets it, streams its
//! log to the secondaries that report to it, or applies what its primary streams. Every
//! decision is the model's (`quorate_model::global::region`), made on what this node holds
//! and what reaches it: its own log, this round's lag reports, and the clock (the `now` the
//! runtime gives every call).
//!
//! Its durable log holds inputs: `Created` (its region, epoch and mode), `Appended` (a record
//! it wrote or applied, with its commit time), `Mode` (writable, draining), `Fenced`,
//! `Promoted` (an epoch, and the log length it keeps), `Demoted` (read-only secondary),
//! `Rebuilt` (the log length it keeps) and `NewVolume` (a rejoin: the snapshot it saved and an
//! empty log, in one entry, so a crash cannot leave the old volume gone and the snapshot
//! unsaved). Each is synced before the node replies.
//! Replay applies entries without judging them again: they were judged when they arrived.
//! Damage on recovery follows [`crate::durable::reopen`].

use std::io;

use serde::{Deserialize, Serialize};

use quorate_model::global::GlobalConfig;
use quorate_model::global::config::{MAX_LOG, MAX_REGIONS, MAX_TXNS};
use quorate_model::global::region as rules;
use quorate_model::global::state::{GEpoch, Rec, Txn};

use super::wire::{Msg, Refusal, WireRec, check_epoch, check_rec};
use crate::durable::{Damage, Disk, DurableLog, RecoverError};

/// One durable log entry of a region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A new volume.
    Created {
        /// The region.
        region: u8,
        /// The global epoch it writes at.
        gepoch: GEpoch,
        /// It writes (the first primary).
        writes: bool,
    },
    /// A record written here or applied from the primary.
    Appended {
        /// The record.
        rec: WireRec,
    },
    /// The control plane set its mode.
    Mode {
        /// Accepts new transactions.
        writable: bool,
        /// A switchover drains it.
        draining: bool,
    },
    /// The failover's fence: no new commits.
    Fenced,
    /// Promoted to primary at `gepoch`, keeping the first `keep` records.
    Promoted {
        /// The new global epoch.
        gepoch: GEpoch,
        /// The log length kept.
        keep: u8,
    },
    /// Demoted to a read-only secondary (a switchover's old primary, or a rejoin on its own
    /// volume).
    Demoted,
    /// Rebuilt to the primary's point, keeping the first `keep` records.
    Rebuilt {
        /// The log length kept.
        keep: u8,
    },
    /// A rejoin: the transactions saved in the snapshot, then a new, empty volume at the same
    /// epoch, as a read-only secondary.
    NewVolume {
        /// The snapshot's transactions.
        snapshot: Vec<Txn>,
    },
}

/// What a region is, as its node knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// It writes and acknowledges (a primary, or an old primary nothing told otherwise).
    pub writes: bool,
    /// It accepts new transactions.
    pub writable: bool,
    /// A switchover drains it: its open transaction may still commit.
    pub draining: bool,
    /// The global epoch it writes at.
    pub gepoch: GEpoch,
    /// Its log.
    pub log: Vec<WireRec>,
}

impl View {
    /// Its log in the model's terms.
    pub fn recs(&self) -> Vec<Rec> {
        self.log.iter().map(WireRec::rec).collect()
    }

    fn ts(&self, x: Txn) -> u8 {
        self.log
            .iter()
            .find(|c| c.txn == x && c.commit)
            .map_or(0, |c| c.ts)
    }
}

/// A running region node.
#[derive(Debug)]
pub struct RegionNode<D: Disk> {
    /// Its region.
    pub region: u8,
    view: View,
    /// This round's lag reports: the logs of the secondaries that reported to it.
    reports: Vec<(u8, Vec<Rec>)>,
    log: DurableLog<Entry, D>,
    /// The torn tail dropped when it last recovered, if any (to report).
    pub torn_tail: Option<Damage>,
}

/// Reject an entry whose fields are out of range (it passed its checksum, so other code
/// wrote it, but it must not panic the node or make it write what its replay refuses).
fn check(e: &Entry) -> Result<(), String> {
    let keep_ok = |keep: u8| {
        (usize::from(keep) <= MAX_LOG)
            .then_some(())
            .ok_or(format!("keeps {keep} records (at most {MAX_LOG})"))
    };
    match e {
        Entry::Appended { rec } => check_rec(rec),
        Entry::Created { region, gepoch, .. } => {
            if usize::from(*region) >= MAX_REGIONS {
                return Err(format!("region {region} is out of range"));
            }
            check_epoch(*gepoch)
        }
        Entry::Promoted { gepoch, keep } => {
            check_epoch(*gepoch)?;
            keep_ok(*keep)
        }
        Entry::Rebuilt { keep } => keep_ok(*keep),
        Entry::NewVolume { snapshot } => {
            match snapshot
                .iter()
                .find(|&&x| x == 0 || usize::from(x) > MAX_TXNS)
            {
                Some(x) => Err(format!("transaction {x} is out of range")),
                None => Ok(()),
            }
        }
        Entry::Mode { .. } | Entry::Fenced | Entry::Demoted => Ok(()),
    }
}

impl<D: Disk> RegionNode<D> {
    /// A new region on an empty disk: the first primary if `writes`, else a secondary.
    pub fn create(region: u8, writes: bool, disk: D) -> io::Result<Self> {
        let log = crate::durable::create(disk)?;
        let mut node = Self::blank(region, log, None);
        node.commit(Entry::Created {
            region,
            gepoch: 1,
            writes,
        })?;
        Ok(node)
    }

    fn blank(region: u8, log: DurableLog<Entry, D>, torn_tail: Option<Damage>) -> Self {
        RegionNode {
            region,
            view: View::default(),
            reports: Vec::new(),
            log,
            torn_tail,
        }
    }

    /// Come back from `disk` by replaying its log.
    pub fn recover(disk: D) -> Result<Self, (RecoverError, D)> {
        let got = crate::durable::reopen(disk)?;
        let region = match got.records.first() {
            Some(Entry::Created { region, .. }) => *region,
            _ => {
                let why = "the first entry is not Created".to_string();
                return Err((RecoverError::Inconsistent(why), got.log.into_disk()));
            }
        };
        let mut node = Self::blank(region, got.log, got.torn_tail);
        for (i, e) in got.records.iter().enumerate() {
            let bad = check(e).err().or_else(|| {
                let over = matches!(e, Entry::Appended { .. }) && node.view.log.len() >= MAX_LOG;
                over.then(|| "the log is full".to_string())
            });
            if let Some(why) = bad {
                let why = format!("entry {i} ({e:?}): {why}");
                return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
            }
            node.replay(e);
        }
        if let Err(e) = node.log.sync() {
            return Err((RecoverError::Io(e), node.log.into_disk()));
        }
        Ok(node)
    }

    /// What it is now.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Its disk, for a crash (every entry is synced before a reply).
    pub fn into_disk(self) -> D {
        self.log.into_disk()
    }

    /// Forget the last round's lag reports (a round starts).
    pub fn new_round(&mut self) {
        self.reports.clear();
    }

    /// Forget the lag report of `region` (the live runtime's reports count for a while).
    pub fn forget_report(&mut self, region: u8) {
        self.reports.retain(|(r, _)| *r != region);
    }

    fn replay(&mut self, e: &Entry) {
        let v = &mut self.view;
        match e {
            Entry::Created { gepoch, writes, .. } => {
                *v = View {
                    writes: *writes,
                    writable: *writes,
                    draining: false,
                    gepoch: *gepoch,
                    log: Vec::new(),
                };
            }
            Entry::Appended { rec } => v.log.push(*rec),
            Entry::Mode { writable, draining } => {
                v.writable = *writable;
                v.draining = *draining;
            }
            Entry::Fenced => v.writable = false,
            Entry::Promoted { gepoch, keep } => {
                v.log.truncate(usize::from(*keep));
                v.writes = true;
                v.writable = true;
                v.draining = false;
                v.gepoch = *gepoch;
            }
            Entry::Demoted => {
                v.writes = false;
                v.writable = false;
                v.draining = false;
            }
            Entry::Rebuilt { keep } => {
                v.log.truncate(usize::from(*keep));
                v.writable = false;
            }
            Entry::NewVolume { .. } => {
                v.log.clear();
                v.writes = false;
                v.writable = false;
                v.draining = false;
            }
        }
    }

    fn commit(&mut self, e: Entry) -> io::Result<()> {
        // Never log what recovery would refuse (a clock past its end, say): the node would
        // not come back. An error here stops the node, loudly.
        check(&e).map_err(|why| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to log an entry recovery would reject: {why}"),
            )
        })?;
        self.log.append_synced(&e)?;
        self.replay(&e);
        Ok(())
    }

    fn report(&self) -> Msg {
        Msg::Report {
            region: self.region,
            gepoch: self.view.gepoch,
            writable: self.view.writable,
            log: self.view.log.clone(),
        }
    }

    /// Handle one request; the reply (`None` when there is none to send). `now` is the clock.
    pub fn handle(&mut self, cfg: &GlobalConfig, msg: &Msg, now: u8) -> io::Result<Option<Msg>> {
        let refused = |why| Ok(Some(Msg::Refused { why }));
        let full = self.view.log.len() >= MAX_LOG;
        let recs = self.view.recs();
        Ok(Some(match msg {
            Msg::Write { offer } => {
                let v = &self.view;
                let next = v
                    .writes
                    .then(|| {
                        rules::next_record(
                            cfg, &recs, full, v.writable, v.draining, v.gepoch, *offer,
                        )
                    })
                    .flatten();
                let Some((r, begins)) = next else {
                    return refused(Refusal::Nothing);
                };
                let rec = WireRec {
                    gepoch: r.gepoch,
                    txn: r.txn,
                    commit: r.commit,
                    ts: now,
                };
                self.commit(Entry::Appended { rec })?;
                Msg::Wrote { rec, begins }
            }
            Msg::AckRequest { waiting } => {
                if !self.view.writes {
                    return refused(Refusal::Nothing);
                }
                let pending = rules::pending(&recs, self.view.gepoch, |x| !waiting.contains(&x));
                if pending.is_empty() {
                    return Ok(None);
                }
                let reports: Vec<&[Rec]> = self.reports.iter().map(|(_, l)| l.as_slice()).collect();
                let ts = |x| self.view.ts(x);
                if rules::may_acknowledge(cfg, &recs, Some(&reports), ts, now) {
                    Msg::Acked { txns: pending }
                } else {
                    Msg::Held { txns: pending }
                }
            }
            Msg::Poll => self.report(),
            Msg::Report { region, log, .. } => {
                // A secondary's lag report; the answer is the next record it lacks.
                let follower: Vec<Rec> = log.iter().map(WireRec::rec).collect();
                let next = rules::next_for(&follower, &recs).map(|_| Msg::Record {
                    lsn: follower.len() as u8 + 1,
                    rec: self.view.log[follower.len()],
                });
                self.reports.retain(|(r, _)| r != region);
                self.reports.push((*region, follower));
                return Ok(next);
            }
            Msg::Record { lsn, rec } => {
                if self.view.writes || usize::from(*lsn) != self.view.log.len() + 1 || full {
                    return refused(Refusal::OutOfOrder);
                }
                if rec.ts > now {
                    return refused(Refusal::Nothing); // a commit time ahead of this clock
                }
                self.commit(Entry::Appended { rec: *rec })?;
                Msg::Done
            }
            Msg::Mode { writable, draining } => {
                self.commit(Entry::Mode {
                    writable: *writable,
                    draining: *draining,
                })?;
                Msg::Done
            }
            Msg::Drain => {
                let v = &self.view;
                if !v.draining {
                    return refused(Refusal::Nothing);
                }
                let Some(m) = rules::marker(&recs, full, v.writable, v.gepoch) else {
                    return refused(Refusal::Nothing);
                };
                let rec = WireRec {
                    gepoch: m.gepoch,
                    txn: m.txn,
                    commit: m.commit,
                    ts: now,
                };
                self.commit(Entry::Appended { rec })?;
                Msg::Marker {
                    lsn: self.view.log.len() as u8,
                }
            }
            Msg::Fence => {
                self.commit(Entry::Fenced)?;
                Msg::Done
            }
            Msg::Promote { gepoch, failover } => {
                let keep = if *failover {
                    rules::promotion_point(cfg, &recs)
                } else {
                    recs.len()
                };
                self.commit(Entry::Promoted {
                    gepoch: *gepoch,
                    keep: keep as u8,
                })?;
                Msg::Promoted {
                    dropped: keep < recs.len(),
                }
            }
            Msg::Demote => {
                self.commit(Entry::Demoted)?;
                Msg::Done
            }
            Msg::Rebuild { primary } => {
                let primary: Vec<Rec> = primary.iter().map(WireRec::rec).collect();
                let keep = rules::rebuild_point(&recs, &primary);
                self.commit(Entry::Rebuilt { keep: keep as u8 })?;
                Msg::Rebuilt {
                    cut: keep < recs.len(),
                }
            }
            Msg::Rejoin { primary_holds } => {
                let (bits, keep) = rules::rejoin(cfg, &recs, |x| primary_holds.contains(&x));
                let snapshot: Vec<Txn> = (1..=MAX_TXNS as Txn)
                    .filter(|x| bits & (1 << (x - 1)) != 0)
                    .collect();
                if keep {
                    self.commit(Entry::Demoted)?;
                } else {
                    // The snapshot and the new, empty volume in one entry: a crash keeps both
                    // or neither.
                    self.commit(Entry::NewVolume {
                        snapshot: snapshot.clone(),
                    })?;
                }
                Msg::Rejoined { snapshot }
            }
            Msg::Wrote { .. }
            | Msg::Acked { .. }
            | Msg::Held { .. }
            | Msg::Marker { .. }
            | Msg::Promoted { .. }
            | Msg::Rebuilt { .. }
            | Msg::Rejoined { .. }
            | Msg::Done
            | Msg::Refused { .. } => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::MemDisk;

    fn cfg() -> GlobalConfig {
        GlobalConfig::base()
    }

    fn primary() -> RegionNode<MemDisk> {
        RegionNode::create(0, true, MemDisk::default()).unwrap()
    }

    fn write(n: &mut RegionNode<MemDisk>, offer: Option<Txn>) -> Option<Msg> {
        n.handle(&cfg(), &Msg::Write { offer }, 0).unwrap()
    }

    #[test]
    fn a_fence_survives_an_outage_and_stops_new_commits() {
        let mut n = primary();
        assert!(matches!(
            write(&mut n, Some(1)),
            Some(Msg::Wrote { begins: true, .. })
        ));
        n.handle(&cfg(), &Msg::Fence, 0).unwrap();
        let mut disk = n.into_disk();
        disk.crash(0);
        let mut n = RegionNode::recover(disk).map_err(|e| e.0).unwrap();
        assert_eq!((n.view().writable, n.view().log.len()), (false, 1));
        assert_eq!(
            write(&mut n, Some(2)),
            Some(Msg::Refused {
                why: Refusal::Nothing
            })
        );
    }

    #[test]
    fn a_secondary_takes_only_the_next_record() {
        let mut p = primary();
        write(&mut p, Some(1));
        write(&mut p, Some(2));
        let mut s = RegionNode::create(1, false, MemDisk::default()).unwrap();
        let report = s.handle(&cfg(), &Msg::Poll, 0).unwrap().unwrap();
        let Some(rec @ Msg::Record { lsn: 1, .. }) = p.handle(&cfg(), &report, 0).unwrap() else {
            panic!("the primary streams LSN 1 first");
        };
        let Msg::Record { rec: r1, .. } = rec else {
            unreachable!()
        };
        let skip = Msg::Record { lsn: 2, rec: r1 };
        assert_eq!(
            s.handle(&cfg(), &skip, 0).unwrap(),
            Some(Msg::Refused {
                why: Refusal::OutOfOrder
            })
        );
        assert_eq!(s.handle(&cfg(), &rec, 0).unwrap(), Some(Msg::Done));
        let before = s.view().clone();
        let s = RegionNode::recover(s.into_disk()).map_err(|e| e.0).unwrap();
        assert_eq!(*s.view(), before, "replay rebuilds the same region");
    }

    #[test]
    fn a_rejoin_takes_a_new_volume_and_reports_its_snapshot() {
        let mut n = primary();
        write(&mut n, Some(1));
        write(&mut n, Some(2));
        let rejoin = Msg::Rejoin {
            primary_holds: vec![1],
        };
        assert_eq!(
            n.handle(&cfg(), &rejoin, 0).unwrap(),
            Some(Msg::Rejoined { snapshot: vec![2] })
        );
        assert!(n.view().log.is_empty() && !n.view().writes);
        let n = RegionNode::recover(n.into_disk()).map_err(|e| e.0).unwrap();
        assert!(n.view().log.is_empty(), "the old volume is gone");
    }

    /// Entries the node could not have written (found by review: an epoch past the model's
    /// would make it write what its own replay refuses) are refused on recovery; a streamed
    /// record timed ahead of the node's clock is refused (its lag would underflow).
    #[test]
    fn out_of_range_entries_and_records_are_refused() {
        let mut log = crate::durable::create(MemDisk::default()).unwrap();
        let bad = Entry::Created {
            region: 0,
            gepoch: 50,
            writes: true,
        };
        log.append_synced(&bad).unwrap();
        assert!(matches!(
            RegionNode::recover(log.into_disk()),
            Err((RecoverError::Inconsistent(_), _))
        ));
        let mut s = RegionNode::create(1, false, MemDisk::default()).unwrap();
        let rec = WireRec {
            gepoch: 1,
            txn: 1,
            commit: true,
            ts: 3,
        };
        let early = Msg::Record { lsn: 1, rec };
        assert_eq!(
            s.handle(&cfg(), &early, 2).unwrap(),
            Some(Msg::Refused {
                why: Refusal::Nothing
            })
        );
        assert_eq!(s.handle(&cfg(), &early, 3).unwrap(), Some(Msg::Done));
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_rotten_byte_makes_the_region_lost() {
        let mut n = primary();
        write(&mut n, Some(1));
        let before = n.view().clone();
        let mut disk = n.into_disk();
        let good = disk.durable.len();
        let frame = crate::durable::frame(br#"{"Fenced":null}"#);
        disk.durable.extend_from_slice(&frame[..frame.len() / 2]);
        let n = RegionNode::recover(disk.clone()).map_err(|e| e.0).unwrap();
        assert!(n.torn_tail.is_some(), "the torn tail is reported");
        assert_eq!(*n.view(), before, "nothing synced is lost");
        disk.durable.truncate(good);
        disk.durable[good - 3] ^= 0x40;
        match RegionNode::recover(disk) {
            Err((RecoverError::Damaged(d), _)) => assert!(!d.torn_tail, "{d}"),
            other => panic!(
                "corruption not detected: {:?}",
                other.map(|n| n.view().clone())
            ),
        }
    }
}
