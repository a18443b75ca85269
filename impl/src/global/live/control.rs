//! The control plane of a live Global Database: a thread that polls every region it reaches
//! every [`CP_EVERY`], keeps the last report of each, and decides with the model's
//! control-plane functions (`quorate_model::global::region`) on what they report, one command
//! at a time:
//!
//! * **Unplanned failover** when the primary has not answered for [`FAIL_AFTER`]: the target
//!   is the most caught-up secondary that answered this poll ([`rules::failover_target`]);
//!   the old primary is fenced on the storage control path; the target is promoted at the
//!   next global epoch, cutting its log to a commit boundary; secondaries ahead of it are
//!   marked for a rebuild, and so is every secondary it cannot hear then (its last report may
//!   be older than its log: the model's control plane sees every log, this one does not). While it is under way the secondaries follow no one (detached).
//! * **Rebuild** of a marked secondary to the primary's log, and **rejoin** of an old primary
//!   that answers again, through its snapshot, once no operation is under way.
//! * **Planned switchover**, when the operator asks ([`Command`]): the primary is made
//!   read-only and drains; once it has appended the MARKER and the target holds it
//!   ([`rules::switchover_ready`]), the target is promoted and the old primary demoted. The
//!   operator may cancel it before the promotion.
//!
//! It answers every agent's "who is the primary?" ([`super::node::Whom`]) on its own socket.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quorate_model::global::config::Mutant;
use quorate_model::global::history;
use quorate_model::global::properties::region_name;
use quorate_model::global::region as rules;
use quorate_model::global::state::{
    F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_REBUILD_CUT, F_REJOINED, F_SWITCHOVER_CANCELLED,
    F_SWITCHOVER_DONE, GEpoch, Op, Rec, Role, txn_bit,
};
use quorate_model::global::step::init;

use super::node::{Ans, Req, Shared, Whom};
use super::observer::Seen;
use super::regions::Regions;
use crate::global::wire::{Msg, WireRec};
use crate::udp::Caller;

/// How often the control plane polls the regions and decides.
pub const CP_EVERY: Duration = Duration::from_millis(10);
/// How long the primary may be silent before the control plane fails over.
pub const FAIL_AFTER: Duration = Duration::from_millis(250);
/// How long it waits for a region's answer to a poll (once).
const POLL_WAIT: Duration = Duration::from_millis(25);

/// What the operator asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Switch over to a secondary (`pick` chooses among those eligible).
    Switchover {
        /// Chooses the target.
        pick: u64,
    },
    /// Cancel the switchover under way.
    Cancel,
}

/// What the control plane tells the agents: whom each region follows.
#[derive(Clone, Debug)]
pub struct Follow {
    /// The primary.
    pub primary: u8,
    /// What each region is doing.
    pub roles: Vec<Role>,
    /// A failover is under way: the secondaries are detached from the old primary.
    pub detached: bool,
}

impl Follow {
    /// As the model's initial state has it.
    pub fn new(cfg: &quorate_model::global::GlobalConfig) -> Self {
        let s = init(cfg);
        Follow {
            primary: s.primary,
            roles: s.regions.iter().map(|x| x.role).collect(),
            detached: false,
        }
    }

    /// The answer to region `r`: a secondary follows the primary (and sends it its lag
    /// reports) unless a failover is under way; a region being rebuilt, an old primary and
    /// the primary follow no one, as in the model only secondaries replicate and report.
    pub fn whom(&self, r: usize) -> Whom {
        let follows = self.roles.get(r) == Some(&Role::Secondary) && !self.detached;
        Whom {
            primary: follows.then_some(self.primary),
        }
    }
}

/// The control plane's table, as the round's end lifts it.
#[derive(Clone, Debug)]
pub struct Table {
    /// The current global epoch.
    pub gepoch: GEpoch,
    /// The region it names primary.
    pub primary: u8,
    /// The operation under way.
    pub op: Op,
    /// What it has each region doing.
    pub roles: Vec<Role>,
    /// Switchovers left.
    pub switchovers: u8,
    /// Failovers left.
    pub failovers: u8,
}

struct Cp {
    sh: Shared,
    regions: Arc<Regions>,
    whom: Arc<Mutex<Follow>>,
    commands: Arc<Mutex<VecDeque<Command>>>,
    caller: Caller,
    t: Table,
    /// The last report of each region: its log and whether it is writable.
    known: Vec<(Vec<WireRec>, bool)>,
    /// When each region last answered.
    heard: Vec<Instant>,
    /// Which answered this poll.
    answered: Vec<bool>,
}

/// The running control plane.
pub struct Running {
    thread: JoinHandle<Table>,
    stop: Arc<AtomicBool>,
    /// The region it names primary now.
    pub primary: Arc<std::sync::atomic::AtomicU8>,
}

impl Running {
    /// Stop it: its table.
    pub fn stop(self) -> Option<Table> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok()
    }
}

/// Start the control plane's decisions (its "who is the primary?" answers are served from
/// `whom`).
pub fn spawn(
    sh: &Shared,
    regions: Arc<Regions>,
    whom: Arc<Mutex<Follow>>,
    commands: Arc<Mutex<VecDeque<Command>>>,
) -> Result<Running, String> {
    let init = init(&sh.cfg);
    let n = usize::from(sh.cfg.regions);
    let mut cp = Cp {
        sh: sh.clone(),
        regions,
        whom,
        commands,
        caller: Caller::with_patience(POLL_WAIT, 1)?,
        t: Table {
            gepoch: init.gepoch,
            primary: init.primary,
            op: init.op,
            roles: init.regions.iter().map(|x| x.role).collect(),
            switchovers: init.budget.switchovers,
            failovers: init.budget.failovers,
        },
        known: vec![(Vec::new(), false); n],
        heard: vec![Instant::now(); n],
        answered: vec![false; n],
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let primary = Arc::new(std::sync::atomic::AtomicU8::new(init.primary));
    let shown = primary.clone();
    let thread = thread::Builder::new()
        .name("control plane".into())
        .spawn(move || {
            cp.advertise();
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(CP_EVERY);
                cp.poll();
                cp.decide();
                cp.advertise();
                shown.store(cp.t.primary, Ordering::Relaxed);
            }
            cp.sh.count(&cp.caller);
            cp.t
        })
        .map_err(|e| e.to_string())?;
    Ok(Running {
        thread,
        stop,
        primary,
    })
}

fn recs(log: &[WireRec]) -> Vec<Rec> {
    log.iter().map(WireRec::rec).collect()
}

impl Cp {
    fn p(&self) -> usize {
        usize::from(self.t.primary)
    }

    /// Poll every region it reaches (a region cut off does not hear it).
    fn poll(&mut self) {
        let n = self.known.len();
        let targets: Vec<usize> = (0..n).filter(|&r| !self.sh.net.cut_off(r)).collect();
        let each: Vec<_> = targets
            .iter()
            .map(|&r| (self.sh.nodes[r], Req::Msg(Msg::Poll)))
            .collect();
        let answers = self.caller.call_each::<Req, Ans>(&each);
        self.answered = vec![false; n];
        for (&r, a) in targets.iter().zip(answers) {
            if let Some(Ans::Reply(Some(Msg::Report { log, writable, .. }))) = a
                && !self.sh.net.cut_off(r)
            {
                self.known[r] = (log, writable);
                self.heard[r] = Instant::now();
                self.answered[r] = true;
            }
        }
    }

    /// A fresh report of region `r`, if it answers now.
    fn fresh(&mut self, r: usize) -> Option<(Vec<WireRec>, bool)> {
        if self.sh.net.cut_off(r) {
            return None;
        }
        match self
            .caller
            .call::<Req, Ans>(self.sh.nodes[r], &Req::Msg(Msg::Poll))
        {
            Some(Ans::Reply(Some(Msg::Report { log, writable, .. }))) => {
                self.known[r] = (log, writable);
                self.heard[r] = Instant::now();
                Some(self.known[r].clone())
            }
            _ => None,
        }
    }

    /// Tell the agents whom the secondaries follow.
    fn advertise(&self) {
        *self.whom.lock().unwrap_or_else(|e| e.into_inner()) = Follow {
            primary: self.t.primary,
            roles: self.t.roles.clone(),
            detached: matches!(self.t.op, Op::Failover { .. }),
        };
    }

    /// Copy the table to the observer's mirror, with `f` recording what happened.
    fn publish(&self, f: impl FnOnce(&mut Seen)) {
        let mut seen = self.sh.obs.lock();
        let s = &mut seen.state;
        s.gepoch = self.t.gepoch;
        s.primary = self.t.primary;
        s.op = self.t.op;
        for (x, &role) in s.regions.iter_mut().zip(&self.t.roles) {
            x.role = role;
        }
        s.budget.switchovers = self.t.switchovers;
        s.budget.failovers = self.t.failovers;
        f(&mut seen);
    }

    fn control(&self, r: usize, msg: &Msg) -> Option<Msg> {
        self.regions.control(&self.sh, r, msg)
    }

    fn command(&self) -> Option<Command> {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .front()
            .copied()
    }

    fn take_command(&self) {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
    }

    /// At most one step of one operation.
    fn decide(&mut self) {
        let p = self.p();
        match self.t.op {
            Op::Failover { fenced: false, .. } => self.fence(),
            Op::Failover { fenced: true, .. } => self.failover_promote(),
            Op::Switchover { .. } if self.command() == Some(Command::Cancel) => {
                self.take_command();
                self.cancel();
            }
            Op::Switchover { .. } => self.switchover_step(),
            Op::Idle => {
                if self.command() == Some(Command::Cancel) {
                    self.take_command(); // nothing to cancel
                }
                let silent = self.heard[p].elapsed();
                if silent >= FAIL_AFTER && self.t.failovers > 0 && !self.answered[p] {
                    self.failover_start(silent);
                } else if !self.repair()
                    && let Some(Command::Switchover { pick }) = self.command()
                    && self.switchover_start(pick)
                {
                    self.take_command();
                }
            }
        }
    }

    fn failover_start(&mut self, silent: Duration) {
        let p = self.p();
        // The secondaries it has heard from lately, by their last reports: while the primary
        // is silent they take nothing from it, so those reports are their logs (found by
        // review: counting only those that answered this one poll, a caught-up secondary that
        // missed it under load lost the choice to a lagging one).
        let candidates: Vec<(usize, usize)> = (0..self.known.len())
            .filter(|&r| self.t.roles[r] == Role::Secondary && self.heard[r].elapsed() < FAIL_AFTER)
            .map(|r| (r, self.known[r].0.len()))
            .collect();
        let Some(t) = rules::failover_target(&self.sh.cfg, &candidates) else {
            return;
        };
        let e_next = rules::failover_epoch(&self.sh.cfg, self.t.gepoch);
        self.t.failovers -= 1;
        self.t.op = Op::Failover {
            target: t as u8,
            fenced: false,
        };
        self.advertise(); // the secondaries are detached from the old primary from now
        self.publish(|seen| {
            history::failover_chosen(&mut seen.state, p, e_next);
            seen.event(format!(
                "control plane: {} silent for {} ms; fails over to {}",
                region_name(p),
                silent.as_millis(),
                region_name(t)
            ));
        });
    }

    fn fence(&mut self) {
        let Op::Failover { target, .. } = self.t.op else {
            return;
        };
        let p = self.p();
        let fences = rules::fences(&self.sh.cfg, true);
        let live = fences && self.regions.up(p);
        if fences && self.control(p, &Msg::Fence).is_none() {
            return; // tried again on the next turn
        }
        self.t.op = Op::Failover {
            target,
            fenced: true,
        };
        self.publish(|seen| {
            if live {
                seen.state.ghost.flags |= F_FENCED_LIVE;
            }
            if fences {
                seen.event(format!(
                    "control plane: fences {} on the storage control path",
                    region_name(p)
                ));
            }
        });
    }

    fn failover_promote(&mut self) {
        let Op::Failover { target, .. } = self.t.op else {
            return;
        };
        let (t, p) = (usize::from(target), self.p());
        if !self.answered[t] {
            return;
        }
        let (old_e, e) = (
            self.t.gepoch,
            rules::failover_epoch(&self.sh.cfg, self.t.gepoch),
        );
        let promote = Msg::Promote {
            gepoch: e,
            failover: true,
        };
        let Some(Msg::Promoted { dropped }) = self.control(t, &promote) else {
            return;
        };
        self.t.gepoch = e;
        self.t.roles[t] = Role::Primary;
        self.t.primary = t as u8;
        self.t.op = Op::Idle;
        self.t.roles[p] = Role::Old;
        let new_log = match self.fresh(t) {
            Some((log, _)) => recs(&log),
            None => recs(&self.known[t].0),
        };
        for r in 0..self.known.len() {
            let secondary = matches!(self.t.roles[r], Role::Secondary | Role::Rebuilding);
            if r == t || !secondary {
                continue;
            }
            // A secondary it cannot hear now may have taken a record from the old primary
            // after its last report: its log is unknown, so it is rebuilt when it answers again
            // (a rebuild cuts nothing from a log that is a prefix of the primary's).
            let Some((own, _)) = self.fresh(r) else {
                self.t.roles[r] = Role::Rebuilding;
                continue;
            };
            if rules::needs_rebuild(&self.sh.cfg, &recs(&own), &new_log) {
                self.t.roles[r] = Role::Rebuilding;
            }
        }
        self.publish(|seen| {
            let s = &mut seen.state;
            if dropped {
                s.ghost.flags |= F_HALF_TXN_DROPPED;
            }
            history::failover_done(s, t, old_e, e);
            seen.failovers += 1;
            seen.event(format!(
                "control plane: {} promoted at global epoch {e}{}",
                region_name(t),
                if dropped {
                    " (a half transaction dropped)"
                } else {
                    ""
                }
            ));
        });
    }

    /// Rebuild a marked secondary, or let an old primary rejoin; whether it tried.
    fn repair(&mut self) -> bool {
        let p = self.p();
        if !self.answered[p] {
            return false;
        }
        for r in 0..self.known.len() {
            if !self.answered[r] || r == p {
                continue;
            }
            match self.t.roles[r] {
                Role::Rebuilding => {
                    let Some((primary, _)) = self.fresh(p) else {
                        return true;
                    };
                    let Some(Msg::Rebuilt { cut }) = self.control(r, &Msg::Rebuild { primary })
                    else {
                        return true;
                    };
                    self.t.roles[r] = Role::Secondary;
                    self.publish(|seen| {
                        if cut {
                            seen.state.ghost.flags |= F_REBUILD_CUT;
                        }
                        seen.rebuilds += 1;
                        seen.event(format!("control plane: rebuilds {}", region_name(r)));
                    });
                    return true;
                }
                Role::Old => {
                    let Some((primary, _)) = self.fresh(p) else {
                        return true;
                    };
                    let primary_holds = primary
                        .iter()
                        .filter(|c| c.commit && c.txn != 0)
                        .map(|c| c.txn)
                        .collect();
                    let Some(Msg::Rejoined { snapshot }) =
                        self.control(r, &Msg::Rejoin { primary_holds })
                    else {
                        return true;
                    };
                    self.t.roles[r] = Role::Secondary;
                    self.publish(|seen| {
                        let s = &mut seen.state;
                        for &x in &snapshot {
                            s.ghost.snapshot |= txn_bit(x);
                        }
                        s.ghost.rejoined |= 1 << r;
                        s.ghost.flags |= F_REJOINED;
                        seen.rejoins += 1;
                        seen.event(format!(
                            "control plane: {} rejoins as a secondary, {} in its snapshot",
                            region_name(r),
                            snapshot.len()
                        ));
                    });
                    return true;
                }
                _ => {}
            }
        }
        false
    }

    fn switchover_start(&mut self, pick: u64) -> bool {
        let p = self.p();
        let roles_ok = self
            .t
            .roles
            .iter()
            .all(|x| matches!(x, Role::Primary | Role::Secondary));
        let targets: Vec<usize> = (0..self.known.len())
            .filter(|&r| r != p && self.t.roles[r] == Role::Secondary && self.answered[r])
            .collect();
        let ok = self.t.switchovers > 0
            && self.t.roles[p] == Role::Primary
            && self.answered[p]
            && roles_ok
            && !targets.is_empty()
            && self.known[p].1;
        if !ok {
            return false;
        }
        let t = targets[(pick % targets.len() as u64) as usize];
        let mode = Msg::Mode {
            writable: !rules::read_only_at_start(&self.sh.cfg),
            draining: true,
        };
        if self.control(p, &mode).is_none() {
            return false;
        }
        self.t.switchovers -= 1;
        self.t.op = Op::Switchover {
            target: t as u8,
            marker: 0,
            synced: false,
        };
        self.publish(|seen| {
            seen.event(format!(
                "operator: switchover from {} to {}; {} drains",
                region_name(p),
                region_name(t),
                region_name(p)
            ));
        });
        true
    }

    fn cancel(&mut self) {
        let p = self.p();
        let mode = Msg::Mode {
            writable: true,
            draining: false,
        };
        if self.control(p, &mode).is_none() {
            return;
        }
        self.t.op = Op::Idle;
        self.publish(|seen| {
            seen.state.ghost.flags |= F_SWITCHOVER_CANCELLED;
            seen.cancels += 1;
            seen.event("operator: cancels the switchover".into());
        });
    }

    fn switchover_step(&mut self) {
        let Op::Switchover {
            target,
            marker,
            synced,
        } = self.t.op
        else {
            return;
        };
        let (t, p) = (usize::from(target), self.p());
        if !self.answered[p] {
            return;
        }
        if marker == 0 && !(self.sh.cfg.has(Mutant::SyncThenReadOnly) && synced) {
            if self.sh.cfg.has(Mutant::SyncThenReadOnly) {
                // "Wait until the target is synchronized, then make the primary read-only."
                if self.answered[t] && recs(&self.known[t].0) == recs(&self.known[p].0) {
                    self.t.op = Op::Switchover {
                        target,
                        marker: 0,
                        synced: true,
                    };
                    self.publish(|_| {});
                }
                return;
            }
            let Some(Msg::Marker { lsn }) = self.control(p, &Msg::Drain) else {
                return; // its open transaction has not committed yet
            };
            self.t.op = Op::Switchover {
                target,
                marker: lsn,
                synced,
            };
            self.publish(|seen| {
                seen.event(format!(
                    "control plane: {} appended the MARKER at LSN {lsn}",
                    region_name(p)
                ))
            });
            return;
        }
        if self.sh.cfg.has(Mutant::SyncThenReadOnly) && self.known[p].1 {
            let mode = Msg::Mode {
                writable: false,
                draining: true,
            };
            self.control(p, &mode);
            return;
        }
        if !self.answered[t] {
            return;
        }
        let (target_len, writable) = (self.known[t].0.len(), self.known[p].1);
        if !rules::switchover_ready(&self.sh.cfg, marker, synced, target_len, writable) {
            return;
        }
        let e = self.t.gepoch + 1;
        let promote = Msg::Promote {
            gepoch: e,
            failover: false,
        };
        if !matches!(self.control(t, &promote), Some(Msg::Promoted { .. })) {
            return;
        }
        self.control(p, &Msg::Demote);
        self.t.gepoch = e;
        self.t.roles[t] = Role::Primary;
        self.t.primary = t as u8;
        self.t.op = Op::Idle;
        self.t.roles[p] = Role::Secondary;
        self.publish(|seen| {
            let s = &mut seen.state;
            s.ghost.by_switchover |= 1 << (e - 1);
            s.ghost.flags |= F_SWITCHOVER_DONE;
            seen.switchovers += 1;
            seen.event(format!(
                "control plane: switchover done; {} is the primary at global epoch {e}",
                region_name(t)
            ));
        });
    }
}
