//! The database engine of a cluster that can backtrack: its pages, the transaction in flight,
//! the change buffer (the history a rewind reads) and the rewind itself. Every decision is
//! the model's (`quorate_model::backtrack::engine`): whether it serves, which time a request
//! goes to, what a backtrack drops, when it may resume.
//!
//! **What is durable.** The log holds `Committed` (a transaction's writes), `Ticked` (the pages
//! at the end of a wall tick, uncommitted writes included, and whether it was a consistent
//! time), `Evicted`, `Started` (a backtrack: its target time, the values it rewinds to and the
//! data it started from), `Progress` (a key the rewind has done), `Restarted` (a crashed rewind
//! starting again, with the keys it counts as done), `Resumed` (the rewound data, made durable
//! only now, and under Md2 the buffer with the history after the target thrown away) and,
//! under Md8 only, `Rewound` (a page written after a premature resume). Each is synced before the
//! engine replies. The transaction in flight is in memory only: a crash loses it, which the
//! protocol allows because a rewind, the only thing that can crash here, runs with none (under
//! Md1 and Md4 one can be open during a rewind, and a crash would lose what the model keeps:
//! their conformance runs use a config without crashes).
//!
//! **Crash and recovery.** A rewind writes pages in memory and logs only which keys it has
//! done; the rewound data becomes durable when it resumes. A crash therefore comes back, by
//! replaying the log, to a rewind in progress whose pages are the data it started from: the
//! model's `Crashed` mode, with the keys the crashed run had done (which only Md11 trusts).

use std::io;

use serde::{Deserialize, Serialize};

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::config::{MAX_KEYS, MAX_TIME, MAX_TXNS};
use quorate_model::backtrack::engine::{self as rules, Timeline};
use quorate_model::backtrack::state::{Mode, Open, Values};

use super::wire::{Msg, Refusal, check_values};
use crate::durable::{Damage, Disk, DurableLog, RecoverError};

/// One durable log entry of the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A new cluster.
    Created,
    /// Transaction `id` committed its writes to the keys `wrote`.
    Committed {
        /// The transaction.
        id: u8,
        /// Its keys (bits).
        wrote: u8,
    },
    /// A wall tick ended with these pages.
    Ticked {
        /// The pages, uncommitted writes included.
        pages: Values,
        /// Nothing was in flight and no rewind half done.
        consistent: bool,
    },
    /// The oldest history was evicted.
    Evicted,
    /// A backtrack started.
    Started {
        /// The consistent time it goes to.
        to: u8,
        /// The values it rewinds to.
        target: Values,
        /// The data it started from.
        before: Values,
    },
    /// The rewind did `key` (in memory; the value is not durable yet).
    Progress {
        /// The key.
        key: u8,
    },
    /// The crashed rewind started again, counting the keys `done` as done.
    Restarted {
        /// The keys (bits).
        done: u8,
    },
    /// The rewind resumed with this data.
    Resumed {
        /// The data.
        db: Values,
        /// Md2: the buffer as the resume left it, the history after the target thrown away.
        hist: Option<Vec<Option<Values>>>,
        /// Md8: the rewind still owed (target, keys done), if it resumed before finishing.
        left: Option<(Values, u8)>,
    },
    /// Md8: a key rewound after the resume, durably.
    Rewound {
        /// The key.
        key: u8,
        /// Its value.
        value: u8,
        /// It was the last key owed: the rewind is over.
        last: bool,
    },
}

/// The engine's state in the model's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// Wall ticks recorded: now.
    pub t: u8,
    /// The pages (committed data; during a rewind, the rewind's writes in memory).
    pub db: Values,
    /// The transaction in flight (memory only).
    pub open: Option<Open>,
    /// Serving, rewinding, or a crashed rewind.
    pub mode: Option<Mode>,
    /// The change buffer.
    pub hist: [Option<Values>; MAX_TIME + 1],
    /// Consistent times (bits).
    pub consistent: u8,
    /// The earliest reachable time E.
    pub earliest: u8,
    /// Md8: the rewind still owed after a premature resume.
    pub rewind_left: Option<(Values, u8)>,
}

impl EngineState {
    /// Its mode (`Normal` unless a rewind is under way or crashed).
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Normal)
    }

    /// What a crash must bring the engine back to from its log: the transaction in flight is
    /// gone, and a rewind that had not resumed is crashed, on the data it started from, with
    /// the keys it had done.
    pub fn after_crash(&self) -> EngineState {
        let mut s = EngineState {
            open: None,
            ..self.clone()
        };
        if let Some(Mode::Applying {
            to,
            target,
            done,
            before,
        }) = s.mode
        {
            s.db = before;
            s.mode = Some(Mode::Crashed {
                to,
                target,
                before,
                done,
            });
        }
        s
    }

    fn timeline(&self) -> Timeline<'_> {
        Timeline {
            t: self.t,
            earliest: self.earliest,
            consistent: self.consistent,
            hist: &self.hist,
        }
    }

    /// The pages with the transaction in flight's writes on top.
    fn physical(&self) -> Values {
        let mut v = self.db;
        if let Some(o) = self.open {
            for (k, x) in v.iter_mut().enumerate() {
                if o.wrote & (1 << k) != 0 {
                    *x = o.id;
                }
            }
        }
        v
    }
}

/// A running engine.
#[derive(Debug)]
pub struct EngineNode<D: Disk> {
    state: EngineState,
    log: DurableLog<Entry, D>,
    /// The torn tail dropped when it last recovered, if any (to report).
    pub torn_tail: Option<Damage>,
}

/// Reject an entry whose fields are out of range or that the engine, in the state its replay
/// has reached, could not have written (it passed its checksum, so other code wrote it, but it
/// must not panic the engine).
fn check(e: &Entry, s: &EngineState) -> Result<(), String> {
    let keys_ok = |bits: u8| {
        (bits >> MAX_KEYS == 0)
            .then_some(())
            .ok_or(format!("keys {bits:#b} beyond the {MAX_KEYS} keys"))
    };
    let key_ok = |k: u8| {
        (usize::from(k) < MAX_KEYS)
            .then_some(())
            .ok_or(format!("key {k} out of range"))
    };
    let txn_ok = |x: u8| {
        (1..=MAX_TXNS)
            .contains(&usize::from(x))
            .then_some(())
            .ok_or(format!("transaction {x} out of range"))
    };
    match e {
        Entry::Created => Ok(()),
        Entry::Committed { id, wrote } => {
            txn_ok(*id)?;
            keys_ok(*wrote)
        }
        Entry::Ticked { pages, .. } => {
            if usize::from(s.t) >= MAX_TIME {
                return Err("a tick past the last time".into());
            }
            check_values(pages)
        }
        Entry::Evicted if s.earliest >= s.t => Err("evicts history it does not hold".into()),
        Entry::Evicted => Ok(()),
        Entry::Started { to, target, before } => {
            check_values(target)?;
            check_values(before)?;
            (*to <= s.t)
                .then_some(())
                .ok_or("a target in the future".into())
        }
        Entry::Progress { key } => key_ok(*key),
        Entry::Restarted { done } => keys_ok(*done),
        Entry::Resumed { db, left, hist } => {
            check_values(db)?;
            if let Some((target, done)) = left {
                check_values(target)?;
                keys_ok(*done)?;
            }
            match hist {
                Some(h) if h.len() != MAX_TIME + 1 => Err("a buffer of the wrong size".into()),
                Some(h) => h.iter().flatten().try_for_each(check_values),
                None => Ok(()),
            }
        }
        Entry::Rewound { key, value, .. } => {
            key_ok(*key)?;
            check_values(&[*value; MAX_KEYS])
        }
    }
}

impl<D: Disk> EngineNode<D> {
    /// A new cluster on an empty disk.
    pub fn create(disk: D) -> io::Result<Self> {
        let mut log = crate::durable::create(disk)?;
        log.append_synced(&Entry::Created)?;
        Ok(EngineNode {
            state: EngineState::default(),
            log,
            torn_tail: None,
        })
    }

    /// Come back from `disk` by replaying its log. A rewind that had not resumed comes back
    /// crashed, on the data it started from.
    pub fn recover(disk: D) -> Result<Self, (RecoverError, D)> {
        let got = crate::durable::reopen(disk)?;
        let mut node = EngineNode {
            state: EngineState::default(),
            log: got.log,
            torn_tail: got.torn_tail,
        };
        if got.records.first() != Some(&Entry::Created) {
            let why = "the first entry is not Created".to_string();
            return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
        }
        for (i, e) in got.records.iter().enumerate() {
            if let Err(why) = check(e, &node.state) {
                let why = format!("entry {i} ({e:?}): {why}");
                return Err((RecoverError::Inconsistent(why), node.log.into_disk()));
            }
            node.replay(e);
        }
        if let Some(Mode::Applying {
            to,
            target,
            done,
            before,
        }) = node.state.mode
        {
            node.state.db = before;
            node.state.mode = Some(Mode::Crashed {
                to,
                target,
                before,
                done,
            });
        }
        if let Err(e) = node.log.sync() {
            return Err((RecoverError::Io(e), node.log.into_disk()));
        }
        Ok(node)
    }

    /// Its state.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Crash: memory is gone, the disk stays (every entry was synced before its reply).
    pub fn into_disk(self) -> D {
        self.log.into_disk()
    }

    fn replay(&mut self, e: &Entry) {
        let s = &mut self.state;
        match e {
            Entry::Created => *s = EngineState::default(),
            Entry::Committed { id, wrote } => {
                for (k, x) in s.db.iter_mut().enumerate() {
                    if wrote & (1 << k) != 0 {
                        *x = *id;
                    }
                }
                if s.open.is_some_and(|o| o.id == *id) {
                    s.open = None;
                }
            }
            Entry::Ticked { pages, consistent } => {
                s.hist[usize::from(s.t)] = Some(*pages);
                if *consistent {
                    s.consistent |= 1 << s.t;
                }
                s.t += 1;
            }
            Entry::Evicted => {
                s.hist[usize::from(s.earliest)] = None;
                s.earliest += 1;
            }
            Entry::Started { to, target, before } => {
                s.mode = Some(Mode::Applying {
                    to: *to,
                    target: *target,
                    done: 0,
                    before: *before,
                });
            }
            Entry::Progress { key } => {
                if let Some(Mode::Applying { target, done, .. }) = &mut s.mode {
                    s.db[usize::from(*key)] = target[usize::from(*key)];
                    *done |= 1 << key;
                }
            }
            Entry::Restarted { done } => {
                // The pages are already back where the rewind started: at the crash (live), or
                // at the end of recovery (replay), which ends a rewind that did not resume.
                if let Some(
                    Mode::Applying {
                        to, target, before, ..
                    }
                    | Mode::Crashed {
                        to, target, before, ..
                    },
                ) = s.mode
                {
                    s.mode = Some(Mode::Applying {
                        to,
                        target,
                        done: *done,
                        before,
                    });
                }
            }
            Entry::Resumed { db, left, hist } => {
                s.db = *db;
                if let Some(h) = hist {
                    for (x, y) in s.hist.iter_mut().zip(h) {
                        *x = *y;
                    }
                }
                // A complete rewind leaves what an earlier premature resume (Md8) still owes.
                if left.is_some() {
                    s.rewind_left = *left;
                }
                s.mode = None;
            }
            Entry::Rewound { key, value, last } => {
                s.db[usize::from(*key)] = *value;
                if let Some((_, done)) = &mut s.rewind_left {
                    *done |= 1 << key;
                }
                if *last {
                    s.rewind_left = None;
                }
            }
        }
    }

    fn commit(&mut self, e: Entry) -> io::Result<()> {
        self.log.append_synced(&e)?;
        self.replay(&e);
        Ok(())
    }

    /// Handle one request; its reply.
    pub fn handle(&mut self, cfg: &BacktrackConfig, msg: &Msg) -> io::Result<Msg> {
        let nothing = Msg::Refused {
            why: Refusal::Nothing,
        };
        let paused = Msg::Refused {
            why: Refusal::Paused,
        };
        let mode = self.state.mode();
        let serving = rules::serving(cfg, &mode);
        let normal = mode == Mode::Normal;
        Ok(match *msg {
            Msg::Begin { id } => {
                if !serving {
                    return Ok(paused);
                }
                if self.state.open.is_some() {
                    return Ok(nothing);
                }
                self.state.open = Some(Open { id, wrote: 0 });
                Msg::Done
            }
            Msg::Write { key } => {
                let bit = 1u8.checked_shl(u32::from(key)).unwrap_or(0);
                match &mut self.state.open {
                    _ if !serving => paused,
                    Some(o) if key < cfg.keys && o.wrote & bit == 0 => {
                        o.wrote |= bit;
                        Msg::Done
                    }
                    _ => nothing,
                }
            }
            Msg::Commit => {
                let Some(o) = self.state.open.filter(|o| o.wrote != 0) else {
                    return Ok(if serving { nothing } else { paused });
                };
                if !serving {
                    return Ok(paused);
                }
                self.commit(Entry::Committed {
                    id: o.id,
                    wrote: o.wrote,
                })?;
                Msg::Committed {
                    id: o.id,
                    wrote: o.wrote,
                }
            }
            Msg::Abort => {
                if !serving {
                    return Ok(paused);
                }
                if self.state.open.take().is_none() {
                    return Ok(nothing);
                }
                Msg::Done
            }
            Msg::Tick => {
                if self.state.t >= cfg.max_time {
                    return Ok(nothing);
                }
                let s = &self.state;
                let consistent =
                    rules::consistent_tick(s.open.is_some(), &mode, s.rewind_left.is_some());
                self.commit(Entry::Ticked {
                    pages: s.physical(),
                    consistent,
                })?;
                Msg::Done
            }
            Msg::Evict | Msg::Pressure => {
                let s = &self.state;
                let may = if matches!(msg, Msg::Evict) {
                    rules::may_evict(cfg, s.earliest, s.t)
                } else {
                    s.earliest < s.t
                };
                if !normal || !may {
                    return Ok(nothing);
                }
                self.commit(Entry::Evicted)?;
                Msg::Done
            }
            Msg::Backtrack {
                to,
                use_earliest,
                force,
            } => {
                if !normal {
                    return Ok(nothing);
                }
                let s = &self.state;
                let Some(chosen) = rules::decide(cfg, &s.timeline(), to, use_earliest, force)
                else {
                    return Ok(Msg::Rejected);
                };
                let target = if chosen.to == s.t {
                    s.db
                } else {
                    s.hist[usize::from(chosen.to)].expect("chosen times are buffered")
                };
                let before = s.db;
                self.commit(Entry::Started {
                    to: chosen.to,
                    target,
                    before,
                })?;
                // Pause: drop the transaction in flight (not under Md1; only once the start
                // is durable, so a failed append leaves it as it was), close the connections
                // of commits whose acknowledgement is on its way (the caller's network drops
                // them), rewind from the buffer.
                if rules::drops_inflight(cfg) {
                    self.state.open = None;
                }
                Msg::Accepted {
                    asked: chosen.asked,
                    to: chosen.to,
                    fallback: chosen.fallback,
                    target,
                    paused: rules::pauses(cfg),
                    closed: rules::closes_connections(cfg),
                }
            }
            Msg::ApplyKey { key } => {
                if key >= cfg.keys {
                    return Ok(nothing);
                }
                let bit = 1 << key;
                match (mode, self.state.rewind_left) {
                    (Mode::Applying { done, .. }, _) if done & bit == 0 => {
                        self.commit(Entry::Progress { key })?;
                    }
                    // Md8: the rest of a rewind the engine resumed before finishing.
                    (Mode::Normal, Some((target, done))) if done & bit == 0 => {
                        let value = target[usize::from(key)];
                        let last = done | bit == rules::all_keys(cfg);
                        self.commit(Entry::Rewound { key, value, last })?;
                    }
                    _ => return Ok(nothing),
                }
                Msg::Done
            }
            Msg::Restart => {
                let Mode::Crashed { done, .. } = mode else {
                    return Ok(nothing);
                };
                self.commit(Entry::Restarted {
                    done: rules::restart_keys(cfg, done),
                })?;
                Msg::Done
            }
            Msg::Resume => {
                let Mode::Applying {
                    to, target, done, ..
                } = mode
                else {
                    return Ok(nothing);
                };
                if !rules::may_resume(cfg, done) {
                    return Ok(nothing);
                }
                let left = (done != rules::all_keys(cfg)).then_some((target, done));
                let db = self.state.db;
                let mut hist = self.state.hist;
                rules::rewrite_history(cfg, &mut hist, to, self.state.t);
                let hist = (hist != self.state.hist).then(|| hist.to_vec());
                // One entry: the rewound data and what the resume does to the buffer.
                self.commit(Entry::Resumed { db, left, hist })?;
                Msg::Resumed {
                    drop: rules::readers_drop_caches(cfg),
                }
            }
            Msg::Read => {
                if !normal {
                    return Ok(paused);
                }
                Msg::Pages {
                    values: self.state.db,
                }
            }
            _ => nothing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::MemDisk;

    fn cfg() -> BacktrackConfig {
        let mut c = BacktrackConfig::base();
        c.set("keys", "2").unwrap();
        c
    }

    fn go(n: &mut EngineNode<MemDisk>, m: Msg) -> Msg {
        n.handle(&cfg(), &m).unwrap()
    }

    /// Commit T1 on both keys, tick, then start a backtrack to time 0 and rewind key 0.
    fn mid_rewind() -> EngineNode<MemDisk> {
        let mut n = EngineNode::create(MemDisk::default()).unwrap();
        go(&mut n, Msg::Tick); // time 0: the initial values, consistent
        go(&mut n, Msg::Begin { id: 1 });
        go(&mut n, Msg::Write { key: 0 });
        go(&mut n, Msg::Write { key: 1 });
        assert_eq!(go(&mut n, Msg::Commit), Msg::Committed { id: 1, wrote: 3 });
        let back = Msg::Backtrack {
            to: 0,
            use_earliest: false,
            force: false,
        };
        assert!(matches!(go(&mut n, back), Msg::Accepted { to: 0, .. }));
        assert_eq!(go(&mut n, Msg::ApplyKey { key: 0 }), Msg::Done);
        assert_eq!(n.state().db, [0, 1]);
        n
    }

    #[test]
    fn a_crash_mid_rewind_comes_back_crashed_on_the_data_it_started_from() {
        let n = mid_rewind();
        let mut disk = n.into_disk();
        disk.crash(0);
        let mut n = EngineNode::recover(disk).map_err(|e| e.0).unwrap();
        assert_eq!(n.state().db, [1, 1], "the rewound key was in memory only");
        assert!(matches!(n.state().mode(), Mode::Crashed { done: 1, .. }));
        assert_eq!(go(&mut n, Msg::Restart), Msg::Done);
        assert!(matches!(n.state().mode(), Mode::Applying { done: 0, .. }));
        go(&mut n, Msg::ApplyKey { key: 0 });
        go(&mut n, Msg::ApplyKey { key: 1 });
        assert_eq!(go(&mut n, Msg::Resume), Msg::Resumed { drop: true });
        let before = n.state().clone();
        let n = EngineNode::recover(n.into_disk()).map_err(|e| e.0).unwrap();
        assert_eq!(*n.state(), before, "the resumed data is durable");
        assert_eq!(n.state().db, [0, 0]);
    }

    #[test]
    fn clients_wait_while_the_engine_rewinds() {
        let mut n = mid_rewind();
        assert_eq!(
            go(&mut n, Msg::Begin { id: 2 }),
            Msg::Refused {
                why: Refusal::Paused
            }
        );
        assert_eq!(
            go(&mut n, Msg::Read),
            Msg::Refused {
                why: Refusal::Paused
            }
        );
        assert_eq!(
            go(&mut n, Msg::Resume),
            Msg::Refused {
                why: Refusal::Nothing
            },
            "not before every key is rewound"
        );
    }

    /// A log with entries the engine could not have written (found by review: they would
    /// panic it later) is refused on recovery, with where and why.
    #[test]
    fn entries_out_of_range_are_refused_on_recovery() {
        let log_of = |entries: &[Entry]| {
            let mut log = crate::durable::create(MemDisk::default()).unwrap();
            for e in entries {
                log.append_synced(e).unwrap();
            }
            log.into_disk()
        };
        let tick = Entry::Ticked {
            pages: [0, 0],
            consistent: true,
        };
        let cases = [
            vec![Entry::Created; 1]
                .into_iter()
                .chain(std::iter::repeat_n(tick.clone(), MAX_TIME + 1))
                .collect::<Vec<_>>(),
            vec![
                Entry::Created,
                Entry::Ticked {
                    pages: [200, 0],
                    consistent: true,
                },
            ],
            vec![Entry::Created, Entry::Committed { id: 0, wrote: 1 }],
            vec![Entry::Created, Entry::Progress { key: 9 }],
        ];
        for entries in cases {
            match EngineNode::recover(log_of(&entries)) {
                Err((RecoverError::Inconsistent(why), _)) => assert!(why.contains("entry")),
                other => panic!(
                    "{entries:?} recovered: {:?}",
                    other.map(|n| n.state().clone())
                ),
            }
        }
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_rotten_byte_makes_the_engine_lost() {
        let n = mid_rewind();
        let before = EngineNode::recover(n.into_disk()).map_err(|e| e.0).unwrap();
        let state = before.state().clone();
        let mut disk = before.into_disk();
        let good = disk.durable.len();
        let frame = crate::durable::frame(br#"{"Progress":{"key":1}}"#);
        disk.durable.extend_from_slice(&frame[..frame.len() / 2]);
        let n = EngineNode::recover(disk.clone()).map_err(|e| e.0).unwrap();
        assert!(n.torn_tail.is_some(), "the torn tail is reported");
        assert_eq!(*n.state(), state, "nothing synced is lost");
        disk.durable.truncate(good);
        disk.durable[good - 3] ^= 0x40;
        match EngineNode::recover(disk) {
            Err((RecoverError::Damaged(d), _)) => assert!(!d.torn_tail, "{d}"),
            other => panic!(
                "corruption not detected: {:?}",
                other.map(|n| n.state().clone())
            ),
        }
    }
}
