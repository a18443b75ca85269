//! The observer of a live Global Database round: the clock every node reads, and the history
//! the model keeps as ghost variables, recorded from what the nodes did.
//!
//! The observer holds a **mirror** of the cluster in the model's terms ([`GlobalState`]): each
//! region's durable view (updated by its node, in the same critical section as the entry it
//! logs), the control plane's table (updated by the control plane after each command), and
//! what the coordinator's faults did (up, cut off). Because every node changes its log while
//! it holds the observer's lock, the mirror is a linearisation of the cluster: the model's
//! observer functions ([`history`]) run on it at the moment an acknowledgement, a failover's
//! choice or its promotion happens, exactly as the model's `step` runs them on its state.
//!
//! Nothing in the protocol reads the observer: no node decides on it. It only records.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quorate_model::global::GlobalConfig;
use quorate_model::global::config::MAX_TXNS;
use quorate_model::global::history;
use quorate_model::global::state::{GlobalState, Rec, Txn};
use quorate_model::global::step::init;

use crate::global::region::View;
use crate::global::wire::{Msg, WireRec};

/// The clock of the model, in ticks of real time from the round's start, stopping at the
/// model's `max_time` (the lag the RPO gate measures is in these ticks).
#[derive(Debug)]
pub struct Clock {
    began: Instant,
    tick: Duration,
    max: u8,
}

impl Clock {
    /// A clock from now, one tick every `tick`, up to `max`.
    pub fn new(tick: Duration, max: u8) -> Self {
        Clock {
            began: Instant::now(),
            tick,
            max,
        }
    }

    /// The tick now.
    pub fn now(&self) -> u8 {
        let n = self.began.elapsed().as_nanos() / self.tick.as_nanos().max(1);
        n.min(u128::from(self.max)) as u8
    }

    /// Since the round began.
    pub fn elapsed(&self) -> Duration {
        self.began.elapsed()
    }
}

/// What the observer has seen so far.
#[derive(Debug)]
pub struct Seen {
    /// The mirror, in the model's terms.
    pub state: GlobalState,
    /// Notable events: when, and what.
    pub events: Vec<(Duration, String)>,
    /// When each transaction's commit record was written.
    written_at: [Option<Instant>; MAX_TXNS],
    /// Commit latencies, from the commit record's write to its acknowledgement (µs).
    pub latencies_us: Vec<u64>,
    /// Commits acknowledged.
    pub acked: u64,
    /// Commits acknowledged once the clock had stopped at `max_time`.
    pub acked_at_clock_end: u64,
    /// Commits the RPO gate held back (answers of `Held`).
    pub held: u64,
    /// Switchovers the control plane completed.
    pub switchovers: u64,
    /// Switchovers cancelled.
    pub cancels: u64,
    /// Failovers completed.
    pub failovers: u64,
    /// Secondaries rebuilt.
    pub rebuilds: u64,
    /// Old primaries that rejoined.
    pub rejoins: u64,
    began: Instant,
}

impl Seen {
    /// Note a notable event.
    pub fn event(&mut self, what: String) {
        self.events.push((self.began.elapsed(), what));
    }

    /// Region `r`'s node now holds `v` (it has just logged it).
    pub fn region(&mut self, r: usize, v: &View) {
        let x = &mut self.state.regions[r];
        x.writable = v.writable;
        x.gepoch = v.gepoch;
        x.log = v.recs().into_iter().collect();
    }

    /// Region `r`'s node has just logged what it did for a request, and holds `v`; its
    /// reply was `reply`, at clock `now`.
    pub fn handled(
        &mut self,
        cfg: &GlobalConfig,
        r: usize,
        v: &View,
        reply: Option<&Msg>,
        now: u8,
    ) {
        self.region(r, v);
        match reply {
            Some(Msg::Wrote { rec, begins }) => self.wrote(rec, *begins),
            Some(Msg::Acked { txns }) => self.acked(cfg, r, txns, now),
            Some(Msg::Held { txns }) => self.held(r, txns, now),
            // The log length the new primary starts from at its epoch (C6, C7), taken as it
            // logs its promotion: its clients may write at once.
            Some(Msg::Promoted { .. }) => {
                self.state.ghost.start[usize::from(v.gepoch) - 1] = v.log.len() as u8;
            }
            _ => {}
        }
    }

    /// A region wrote `rec` (beginning its transaction if `begins`).
    fn wrote(&mut self, rec: &WireRec, begins: bool) {
        if begins || rec.commit {
            self.state.begun = self.state.begun.max(rec.txn);
        }
        if rec.commit && rec.txn != 0 {
            self.state.ghost.ts[usize::from(rec.txn) - 1] = rec.ts;
            self.written_at[usize::from(rec.txn) - 1] = Some(Instant::now());
        }
    }

    /// Region `r` acknowledged `txns` at clock `now`.
    fn acked(&mut self, cfg: &GlobalConfig, r: usize, txns: &[Txn], now: u8) {
        self.state.t = now;
        history::acknowledged(cfg, &mut self.state, r, txns);
        for &x in txns {
            self.acked += 1;
            if now >= cfg.max_time {
                self.acked_at_clock_end += 1;
            }
            if let Some(w) = self.written_at[usize::from(x) - 1] {
                self.latencies_us.push(w.elapsed().as_micros() as u64);
            }
        }
    }

    /// Region `r`'s gate held `txns` back at clock `now`.
    fn held(&mut self, r: usize, txns: &[Txn], now: u8) {
        self.state.t = now;
        self.held += txns.len() as u64;
        history::held_back(&mut self.state, r, txns);
    }

    /// The log of region `r` in the mirror.
    pub fn log(&self, r: usize) -> &[Rec] {
        &self.state.regions[r].log
    }
}

/// The observer: what it has seen, behind one lock.
#[derive(Debug)]
pub struct Observer {
    seen: Mutex<Seen>,
}

impl Observer {
    /// Nothing seen yet: the mirror is the model's initial state.
    pub fn new(cfg: &GlobalConfig) -> Self {
        Observer {
            seen: Mutex::new(Seen {
                state: init(cfg),
                events: Vec::new(),
                written_at: [None; MAX_TXNS],
                latencies_us: Vec::new(),
                acked: 0,
                acked_at_clock_end: 0,
                held: 0,
                switchovers: 0,
                cancels: 0,
                failovers: 0,
                rebuilds: 0,
                rejoins: 0,
                began: Instant::now(),
            }),
        }
    }

    /// What it has seen, to read or to add to (a node holds this while it logs an entry).
    pub fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Note a notable event.
    pub fn event(&self, what: String) {
        self.lock().event(what);
    }
}
