//! The Global Database's messages as they travel between nodes (JSON datagrams through
//! [`crate::codec`]), with a decoder that rejects out-of-range fields with a reason.
//!
//! The model's regions read each other's logs directly; these are the concrete messages that
//! do the same: a client's write and its wait for acknowledgements, a secondary's report of
//! what it holds (the primary's lag reports and the control plane's view), the records the
//! primary streams, and the control plane's commands (switchover, fence, promotion, rebuild,
//! rejoin).

use serde::{Deserialize, Serialize};

use quorate_model::global::config::{MAX_CLOCK, MAX_GEPOCH, MAX_LOG, MAX_REGIONS, MAX_TXNS};
use quorate_model::global::state::{GEpoch, Rec, Txn};

/// A log record as stored and sent: the model's record and its commit time (the clock when
/// its commit record was written; carried along so every region measures lag the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRec {
    /// The global epoch of the primary that wrote it.
    pub gepoch: GEpoch,
    /// Its transaction, 0 for the MARKER.
    pub txn: Txn,
    /// A commit record (or the MARKER).
    pub commit: bool,
    /// The clock when it was written.
    pub ts: u8,
}

impl WireRec {
    /// The record in the model's terms.
    pub fn rec(&self) -> Rec {
        Rec {
            gepoch: self.gepoch,
            txn: self.txn,
            commit: self.commit,
        }
    }
}

/// Why a node refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// There is nothing it may do now (nothing to write, no MARKER yet, not writing).
    Nothing,
    /// A streamed record that does not continue its log.
    OutOfOrder,
}

/// Every message of the Global Database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Client to region: write your next record; `offer` is the id of a new transaction, if
    /// the workload has one.
    Write {
        /// The new transaction's id.
        offer: Option<Txn>,
    },
    /// Region to client: what it wrote, and whether that began the offered transaction.
    Wrote {
        /// The record.
        rec: WireRec,
        /// It began the offered transaction.
        begins: bool,
    },
    /// Clients to region: we wait for these commits.
    AckRequest {
        /// The transactions not acknowledged yet.
        waiting: Vec<Txn>,
    },
    /// Region to clients: these commits are acknowledged.
    Acked {
        /// The transactions.
        txns: Vec<Txn>,
    },
    /// Region to clients: these commits are held back by the RPO gate.
    Held {
        /// The transactions.
        txns: Vec<Txn>,
    },
    /// Control plane to region: report what you hold.
    Poll,
    /// A region's report (to the control plane, and from a secondary to the primary: its lag
    /// report, to which the primary answers with the next record for it).
    Report {
        /// The reporting region.
        region: u8,
        /// Its global epoch.
        gepoch: GEpoch,
        /// Whether it accepts new transactions.
        writable: bool,
        /// Its log.
        log: Vec<WireRec>,
    },
    /// Primary to secondary: the record at `lsn`.
    Record {
        /// Its LSN (position in the log, from 1).
        lsn: u8,
        /// The record.
        rec: WireRec,
    },
    /// Control plane to region: accept new transactions or not; drain for a switchover.
    Mode {
        /// Accept new transactions.
        writable: bool,
        /// A switchover is draining it: the open transaction may still commit.
        draining: bool,
    },
    /// Control plane to the draining primary: append the MARKER.
    Drain,
    /// Region to control plane: the MARKER's LSN.
    Marker {
        /// Its LSN.
        lsn: u8,
    },
    /// Control plane to the old primary: the failover's fence (no new commits).
    Fence,
    /// Control plane to region: become the primary at `gepoch`; after a failover, first cut
    /// your log to its last commit boundary.
    Promote {
        /// The new global epoch.
        gepoch: GEpoch,
        /// An unplanned failover (the log may end mid-transaction).
        failover: bool,
    },
    /// Region to control plane: promoted; whether a half transaction was dropped.
    Promoted {
        /// A data record whose commit never arrived was dropped.
        dropped: bool,
    },
    /// Control plane to the old primary of a switchover: become a read-only secondary.
    Demote,
    /// Control plane to a secondary ahead of the new primary: cut back to its log.
    Rebuild {
        /// The primary's log.
        primary: Vec<WireRec>,
    },
    /// Region to control plane: rebuilt; whether records were cut.
    Rebuilt {
        /// Records were cut.
        cut: bool,
    },
    /// Control plane to a returned old primary: rejoin as a secondary; `primary_holds` are
    /// the commits the new primary holds.
    Rejoin {
        /// The transactions whose commit the new primary holds.
        primary_holds: Vec<Txn>,
    },
    /// Region to control plane: rejoined, with the transactions saved in its snapshot.
    Rejoined {
        /// The snapshot's transactions.
        snapshot: Vec<Txn>,
    },
    /// A command carried out, with nothing to report.
    Done,
    /// A request refused.
    Refused {
        /// Why.
        why: Refusal,
    },
}

/// Whether `e` is a global epoch (1 up to the most the model has).
pub fn check_epoch(e: GEpoch) -> Result<(), String> {
    match usize::from(e) {
        1..=MAX_GEPOCH => Ok(()),
        _ => Err(format!("global epoch {e} is out of range 1..={MAX_GEPOCH}")),
    }
}

/// Encode a message as one datagram.
pub fn encode(msg: &Msg) -> Vec<u8> {
    crate::codec::encode(msg)
}

/// Decode one datagram, rejecting garbage and out-of-range fields with a reason.
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let msg: Msg = crate::codec::parse(bytes)?;
    check(&msg)?;
    Ok(msg)
}

fn check_txn(x: Txn) -> Result<(), String> {
    match usize::from(x) {
        1..=MAX_TXNS => Ok(()),
        _ => Err(format!("transaction {x} is out of range 1..={MAX_TXNS}")),
    }
}

/// A record's fields are in range (the MARKER is txn 0, a commit; its time is on the clock).
pub fn check_rec(r: &WireRec) -> Result<(), String> {
    check_epoch(r.gepoch)?;
    if r.ts > MAX_CLOCK {
        return Err(format!(
            "commit time {} is past the clock's end {MAX_CLOCK}",
            r.ts
        ));
    }
    if r.txn == 0 && !r.commit {
        return Err("a MARKER is a boundary".into());
    }
    if r.txn != 0 {
        check_txn(r.txn)?;
    }
    Ok(())
}

fn check_log(log: &[WireRec]) -> Result<(), String> {
    if log.len() > MAX_LOG {
        return Err(format!(
            "a log of {} records (at most {MAX_LOG})",
            log.len()
        ));
    }
    log.iter().try_for_each(check_rec)
}

fn check_txns(txns: &[Txn]) -> Result<(), String> {
    if txns.len() > MAX_TXNS {
        return Err(format!("{} transactions (at most {MAX_TXNS})", txns.len()));
    }
    txns.iter().try_for_each(|&x| check_txn(x))
}

fn check_lsn(lsn: u8) -> Result<(), String> {
    match usize::from(lsn) {
        1..=MAX_LOG => Ok(()),
        _ => Err(format!("LSN {lsn} is out of range 1..={MAX_LOG}")),
    }
}

fn check(msg: &Msg) -> Result<(), String> {
    match msg {
        Msg::Write { offer } => offer.map_or(Ok(()), check_txn),
        Msg::Wrote { rec, .. } => check_rec(rec),
        Msg::AckRequest { waiting, .. } => check_txns(waiting),
        Msg::Acked { txns } | Msg::Held { txns } => check_txns(txns),
        Msg::Rejoin { primary_holds: t } | Msg::Rejoined { snapshot: t } => check_txns(t),
        Msg::Report {
            region,
            gepoch,
            log,
            ..
        } => {
            if usize::from(*region) >= MAX_REGIONS {
                return Err(format!("region {region} is out of range"));
            }
            check_epoch(*gepoch)?;
            check_log(log)
        }
        Msg::Record { lsn, rec } => {
            check_lsn(*lsn)?;
            check_rec(rec)
        }
        Msg::Marker { lsn } => check_lsn(*lsn),
        Msg::Promote { gepoch, .. } => check_epoch(*gepoch),
        Msg::Rebuild { primary } => check_log(primary),
        Msg::Poll
        | Msg::Mode { .. }
        | Msg::Drain
        | Msg::Fence
        | Msg::Promoted { .. }
        | Msg::Demote
        | Msg::Rebuilt { .. }
        | Msg::Done
        | Msg::Refused { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_and_bad_fields_are_refused() {
        let rec = WireRec {
            gepoch: 2,
            txn: 3,
            commit: true,
            ts: 1,
        };
        let msgs = [
            Msg::Write { offer: Some(1) },
            Msg::Report {
                region: 1,
                gepoch: 1,
                writable: false,
                log: vec![rec],
            },
            Msg::Record { lsn: 1, rec },
            Msg::Rejoin {
                primary_holds: vec![1, 2],
            },
            Msg::Refused {
                why: Refusal::OutOfOrder,
            },
        ];
        for m in msgs {
            assert_eq!(decode(&encode(&m)), Ok(m));
        }
        let bad = [
            Msg::Write { offer: Some(0) },
            Msg::Record { lsn: 0, rec },
            Msg::Promote {
                gepoch: 0,
                failover: true,
            },
            Msg::Record {
                lsn: 1,
                rec: WireRec {
                    txn: 0,
                    commit: false,
                    ..rec
                },
            },
            Msg::Record {
                lsn: 1,
                rec: WireRec { ts: 200, ..rec },
            },
            Msg::Report {
                region: 3,
                gepoch: 1,
                writable: false,
                log: vec![],
            },
        ];
        for m in bad {
            assert!(decode(&encode(&m)).is_err(), "{m:?} must be refused");
        }
        assert!(decode(b"{\"Write\":").is_err());
    }
}
