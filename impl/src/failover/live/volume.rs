//! The metadata service of a live failover cluster, a node on its own thread and socket: it
//! hands out volume epochs ([`rules::next_epoch`]), keeps every truncation range a recovery
//! wrote, and the log's mini-transaction boundaries (consistency points) and what each epoch
//! allocated, which a writer registers before it sends a record, so a recovery and a replica
//! judge with them. It is not a fault target (Aurora keeps it in a replicated store); it keeps
//! its state in memory for the round.
//!
//! [`History`] is not a node: it is what the run observes (acknowledgements to the client,
//! refusals, failovers, one line per notable event), read only by the verification and the
//! report, as the model's ghost variables are.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::config::MAX_EPOCH;
use quorate_model::failover::instance as rules;
use quorate_model::failover::state::{Epoch, EpochSet, Ghost, Lsn, Trunc, epoch_bit};
use quorate_model::quorum::config::MAX_LSN;

use crate::failover::wire::WireTrunc;
use crate::udp::Outcome;

/// A request to the metadata service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum VolReq {
    /// The next volume epoch, for a recovery.
    NextEpoch,
    /// Instance `inst`, writing at `epoch`, allocates the mini-transaction `first..=last`.
    Allocate {
        /// The writer.
        inst: u8,
        /// Its epoch.
        epoch: Epoch,
        /// The MTR's first LSN.
        first: Lsn,
        /// Its last LSN (a consistency point).
        last: Lsn,
    },
    /// A recovery's truncation range, durable before it installs it on segments.
    AddTrunc(WireTrunc),
    /// What the volume knows now.
    Snapshot,
}

/// What the metadata service knows, as it answers [`VolReq::Snapshot`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    /// The last epoch handed out.
    pub epoch_ctr: Epoch,
    /// Every truncation range, oldest first.
    pub truncs: Vec<WireTrunc>,
    /// Bit `l-1`: LSN `l` ends a mini-transaction.
    pub cpls: u16,
    /// `sent[l-1]`: the epochs that allocated LSN `l`.
    pub sent: Vec<EpochSet>,
    /// `wrote[e-1]`: the instances (bit) that allocated at epoch `e`.
    pub wrote: Vec<u8>,
}

impl Volume {
    /// A fresh volume, at epoch 1.
    pub fn new() -> Self {
        Volume {
            epoch_ctr: 1,
            truncs: Vec::new(),
            cpls: 0,
            sent: vec![0; MAX_LSN],
            wrote: vec![0; MAX_EPOCH],
        }
    }

    /// The ranges in the model's terms.
    pub fn ranges(&self) -> Vec<Trunc> {
        self.truncs.iter().map(|&t| t.into()).collect()
    }

    /// `sent` as the model's array.
    pub fn sent_array(&self) -> [EpochSet; MAX_LSN] {
        let mut a = [0; MAX_LSN];
        for (k, &e) in self.sent.iter().take(MAX_LSN).enumerate() {
            a[k] = e;
        }
        a
    }
}

/// The metadata service's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum VolAns {
    /// The epoch handed out (`None`: none is left).
    Epoch(Option<Epoch>),
    /// Done; the volume as it is now.
    Volume(Volume),
}

/// Serve one request (the node's handler). Fields out of range are rejected and counted.
pub fn serve(cfg: &FailoverConfig, v: &mut Volume, req: VolReq) -> Outcome<VolAns> {
    let epoch_ok = |e: Epoch| (1..=MAX_EPOCH as Epoch).contains(&e);
    let lsn_ok = |l: Lsn| (1..=MAX_LSN as Lsn).contains(&l);
    match req {
        VolReq::NextEpoch => {
            let e = rules::next_epoch(cfg, v.epoch_ctr);
            if usize::from(e) > MAX_EPOCH {
                return Outcome::Answer(VolAns::Epoch(None));
            }
            v.epoch_ctr = e;
            Outcome::Answer(VolAns::Epoch(Some(e)))
        }
        VolReq::Allocate {
            inst,
            epoch,
            first,
            last,
        } => {
            if !(epoch_ok(epoch) && lsn_ok(first) && lsn_ok(last) && first <= last && inst < 8) {
                return Outcome::Reject;
            }
            v.cpls |= 1 << (last - 1);
            for l in first..=last {
                v.sent[usize::from(l) - 1] |= epoch_bit(epoch);
            }
            v.wrote[usize::from(epoch) - 1] |= 1 << inst;
            Outcome::Answer(VolAns::Volume(v.clone()))
        }
        VolReq::AddTrunc(t) => {
            if !(epoch_ok(t.epoch) && t.lo >= 1 && t.lo <= t.hi) {
                return Outcome::Reject;
            }
            if !v.truncs.contains(&t) {
                v.truncs.push(t);
            }
            Outcome::Answer(VolAns::Volume(v.clone()))
        }
        VolReq::Snapshot => Outcome::Answer(VolAns::Volume(v.clone())),
    }
}

/// What the run observes (never read by a node's decisions, except the B10 check a recovery
/// makes against the acknowledgements, as the model's history does).
#[derive(Debug)]
pub struct History {
    start: Instant,
    inner: Mutex<Seen>,
}

/// The observations.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The model's history, recorded by its observer: acknowledgements by epoch and the event
    /// flags (`F_*`).
    pub ghost: Ghost,
    /// Latency of each acknowledgement, from its MTR's allocation, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Failovers completed (a recovering instance opened).
    pub failovers: u64,
    /// Promotions the control plane made.
    pub promotions: u64,
    /// Writes segments refused as stale (from a fenced-off writer).
    pub stale_refused: u64,
    /// The highest epoch whose writer (not cut off) has written and acknowledged its whole
    /// workload (0: none yet).
    pub finished: Epoch,
    /// The highest epoch the metadata service handed out to a recovery.
    pub handed_out: Epoch,
    /// LSNs allocated, by any writer.
    pub allocated: u64,
    /// Notable events: when, and what.
    pub events: Vec<(Duration, String)>,
}

impl Default for History {
    fn default() -> Self {
        History {
            start: Instant::now(),
            inner: Mutex::new(Seen::default()),
        }
    }
}

impl History {
    /// Change what is observed.
    pub fn with<T>(&self, f: impl FnOnce(&mut Seen) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of what is observed.
    pub fn seen(&self) -> Seen {
        self.with(|s| s.clone())
    }

    /// Note a notable event.
    pub fn event(&self, what: String) {
        let at = self.start.elapsed();
        self.with(|s| s.events.push((at, what)));
    }
}
