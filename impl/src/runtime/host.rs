//! One actor on its node: its state, its disk, and the log of its I/O.
//!
//! A handler's effects are carried out in the one order that keeps an acknowledgement
//! honest: every save is appended, the disk is synced, and only then are the messages of the
//! same handler released. The disk holds the actor's storage as a log of snapshots; a restart
//! reads the last good one back (a torn tail, an append a crash cut short, is dropped).
//!
//! Group commit: between [`Host::begin_batch`] and [`Host::end_batch`] the node handles
//! several inputs, appending each save without a sync and holding every message back; the
//! batch ends with one sync, and only then are its events logged and its messages released.
//! A message may leave later than its handler ran (as a slow network delays it), never before
//! the save it depends on is durable, and a batch that never ends (the node fails) leaves no
//! trace: nothing of it was released.

use std::io;

use quorate_model::actor::{Effect, Id, Role};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::event::Event;
use crate::durable::{Disk, DurableLog, RecoverError, reopen};

/// A message released to the network: sender, receiver, the sender's number for it, content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing<M> {
    /// Sender.
    pub src: usize,
    /// Receiver.
    pub dst: usize,
    /// The sender's number for it.
    pub seq: u64,
    /// Content.
    pub msg: M,
}

/// The event type of role `R`.
pub type EventOf<R> = Event<<R as Role>::Msg, <R as Role>::Timer, <R as Role>::Storage>;

/// One actor, its disk and its I/O log.
pub struct Host<R: Role, D: Disk> {
    id: usize,
    role: R,
    state: Option<R::State>,
    disk: Option<DurableLog<R::Storage, D>>,
    /// Every event, in order.
    pub log: Vec<EventOf<R>>,
    seq: u64,
    /// The last storage synced.
    synced: Option<R::Storage>,
    /// The disk is gone for good.
    gone: bool,
    /// The batch being handled (group commit), if one is.
    batch: Option<Batch<R>>,
    /// Saves appended, and syncs done.
    pub io: DiskIo,
}

/// What a group commit holds back until its sync.
struct Batch<R: Role> {
    events: Vec<EventOf<R>>,
    out: Vec<Outgoing<R::Msg>>,
    /// The last save appended in the batch.
    saved: Option<R::Storage>,
}

/// How many saves a host appended and how many syncs made them durable (fewer with group
/// commit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskIo {
    /// Saves appended.
    pub saves: u64,
    /// Syncs.
    pub syncs: u64,
}

impl<R, D> Host<R, D>
where
    R: Role,
    R::Storage: Serialize + DeserializeOwned,
    D: Disk,
{
    /// Actor `id` playing `role`, with `disk` (empty at birth), not started yet.
    pub fn new(id: usize, role: R, disk: D) -> Self {
        Host {
            id,
            role,
            state: None,
            disk: Some(DurableLog::new(disk)),
            log: Vec::new(),
            seq: 0,
            synced: None,
            gone: false,
            batch: None,
            io: DiskIo::default(),
        }
    }

    /// Its actor id.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Its role.
    pub fn role(&self) -> &R {
        &self.role
    }

    /// Its state while it runs.
    pub fn state(&self) -> Option<&R::State> {
        self.state.as_ref()
    }

    /// Whether it runs.
    pub fn runs(&self) -> bool {
        self.state.is_some()
    }

    /// The last storage it synced.
    pub fn saved(&self) -> Option<&R::Storage> {
        self.synced.as_ref()
    }

    /// What a start would read from its disk now (the last good record; a torn tail is what a
    /// start cuts off), without starting: the durable state of a node that is down. Damage
    /// other than a torn tail is an error, as at a start.
    pub fn on_disk(&self) -> Result<Option<R::Storage>, String> {
        let log = self.disk.as_ref().expect("a host always has its disk");
        let got = log.recover().map_err(|e| e.to_string())?;
        match got.damage {
            Some(d) if !d.torn_tail => Err(format!("damaged log: {d}")),
            _ => Ok(got.records.last().cloned()),
        }
    }

    /// Whether its disk is gone for good.
    pub fn lost(&self) -> bool {
        self.gone
    }

    /// Start from what its disk holds (its last good snapshot; nothing at birth). Damage other
    /// than a torn tail is an error: the node cannot vouch for what it acknowledged.
    pub fn start(&mut self) -> Result<Vec<Outgoing<R::Msg>>, RecoverError> {
        let disk = self
            .disk
            .take()
            .expect("a host always has its disk")
            .into_disk();
        let reopened = match reopen::<R::Storage, D>(disk) {
            Ok(r) => r,
            Err((e, disk)) => {
                self.disk = Some(DurableLog::new(disk));
                return Err(e);
            }
        };
        self.disk = Some(reopened.log);
        let storage = reopened.records.last().cloned();
        self.log.push(Event::Start {
            storage: storage.clone(),
        });
        let mut fx = Vec::new();
        let state = self
            .role
            .on_start(Id::from(self.id), storage.as_ref(), &mut fx);
        self.state = Some(state);
        self.commit(fx).map_err(RecoverError::Io)
    }

    /// Handle message `msg`, send number `seq` of node `src`.
    pub fn deliver(
        &mut self,
        src: usize,
        seq: u64,
        msg: R::Msg,
    ) -> io::Result<Vec<Outgoing<R::Msg>>> {
        if self.state.is_none() {
            return Ok(Vec::new());
        }
        self.record(Event::Recv {
            src,
            seq,
            msg: msg.clone(),
        });
        let state = self.state.as_mut().expect("it runs");
        let mut fx = Vec::new();
        self.role
            .on_msg(Id::from(self.id), state, Id::from(src), msg, &mut fx);
        self.commit(fx)
    }

    /// Handle an input from the environment (addressed to this actor, from itself).
    pub fn input(&mut self, msg: R::Msg) -> io::Result<Vec<Outgoing<R::Msg>>> {
        if self.state.is_none() {
            return Ok(Vec::new());
        }
        self.record(Event::Input { msg: msg.clone() });
        let state = self.state.as_mut().expect("it runs");
        let mut fx = Vec::new();
        let me = Id::from(self.id);
        self.role.on_msg(me, state, me, msg, &mut fx);
        self.commit(fx)
    }

    /// Fire `timer`.
    pub fn fire(&mut self, timer: &R::Timer) -> io::Result<Vec<Outgoing<R::Msg>>> {
        if self.state.is_none() {
            return Ok(Vec::new());
        }
        self.record(Event::Timer {
            timer: timer.clone(),
        });
        let state = self.state.as_mut().expect("it runs");
        let mut fx = Vec::new();
        self.role
            .on_timeout(Id::from(self.id), state, timer, &mut fx);
        self.commit(fx)
    }

    /// Log `e` now, or with its batch once the batch's sync is done.
    fn record(&mut self, e: EventOf<R>) {
        match self.batch.as_mut() {
            Some(b) => b.events.push(e),
            None => self.log.push(e),
        }
    }

    /// Start a group commit: the inputs handled until [`Host::end_batch`] share one sync.
    pub fn begin_batch(&mut self) {
        if self.batch.is_none() {
            self.batch = Some(Batch {
                events: Vec::new(),
                out: Vec::new(),
                saved: None,
            });
        }
    }

    /// End the group commit: one sync for every save of the batch, then its events are logged
    /// and its messages released.
    pub fn end_batch(&mut self) -> io::Result<Vec<Outgoing<R::Msg>>> {
        let Some(b) = self.batch.take() else {
            return Ok(Vec::new());
        };
        if let Some(storage) = b.saved {
            let disk = self.disk.as_mut().expect("a host always has its disk");
            disk.sync()?;
            self.io.syncs += 1;
            self.synced = Some(storage);
        }
        self.log.extend(b.events);
        Ok(b.out)
    }

    /// Give the batch up unsynced (the node failed): nothing of it is logged or released.
    pub fn drop_batch(&mut self) {
        self.batch = None;
    }

    /// Carry a handler's effects out: saves appended and synced, then sends released (in a
    /// batch, the sync and the release wait for its end).
    fn commit(&mut self, fx: Vec<Effect<R::Msg, R::Storage>>) -> io::Result<Vec<Outgoing<R::Msg>>> {
        let disk = self.disk.as_mut().expect("a host always has its disk");
        let mut saved = None;
        for e in &fx {
            if let Effect::Save(s) = e {
                disk.append(s)?;
                self.io.saves += 1;
                saved = Some(s.clone());
            }
        }
        if let Some(storage) = saved {
            if let Some(b) = self.batch.as_mut() {
                b.saved = Some(storage.clone());
            } else {
                disk.sync()?;
                self.io.syncs += 1;
                self.synced = Some(storage.clone());
            }
            // Logged as synced: at once, or with its batch after the batch's sync.
            self.record(Event::Saved { storage });
        }
        let mut out = Vec::new();
        for e in fx {
            if let Effect::Send(dst, msg) = e {
                self.seq += 1;
                let dst = usize::from(dst);
                self.record(Event::Sent {
                    dst,
                    seq: self.seq,
                    msg: msg.clone(),
                });
                out.push(Outgoing {
                    src: self.id,
                    dst,
                    seq: self.seq,
                    msg,
                });
            }
        }
        match self.batch.as_mut() {
            Some(b) => {
                b.out.append(&mut out);
                Ok(Vec::new())
            }
            None => Ok(out),
        }
    }

    /// The node dies: its state is gone; `crash_disk` decides what its disk keeps.
    pub fn crash(&mut self, crash_disk: impl FnOnce(&mut D)) {
        self.state = None;
        // A batch not yet synced dies with the node: nothing of it was released.
        self.batch = None;
        if let Some(d) = self.disk.as_mut() {
            crash_disk(d.disk_mut());
        }
        self.log.push(Event::Crash);
    }

    /// The node's disk is gone for good: it stops and never starts again.
    pub fn lose(&mut self, erase: impl FnOnce(&mut D)) {
        self.state = None;
        self.batch = None;
        self.gone = true;
        if let Some(d) = self.disk.as_mut() {
            erase(d.disk_mut());
        }
        self.log.push(Event::Lost);
    }

    /// The round is over: the node stops, its disk drops what was never synced
    /// (`crash_disk`), and what the disk then gives back is logged. A disk the node cannot
    /// recover from gives back nothing.
    pub fn end(&mut self, crash_disk: impl FnOnce(&mut D)) {
        self.state = None;
        self.batch = None;
        let mut disk = self
            .disk
            .take()
            .expect("a host always has its disk")
            .into_disk();
        crash_disk(&mut disk);
        let storage = match reopen::<R::Storage, D>(disk) {
            Ok(r) => {
                let last = r.records.last().cloned();
                self.disk = Some(r.log);
                last
            }
            Err((_, disk)) => {
                self.disk = Some(DurableLog::new(disk));
                None
            }
        };
        self.log.push(Event::End { storage });
    }

    /// Log that the environment, about to act on this node, had read node `node`'s state as of
    /// its first `events` events.
    pub fn saw(&mut self, node: usize, events: usize) {
        self.log.push(Event::Saw { node, events });
    }

    /// Release messages on the node's behalf (the storage service reporting its lost disk).
    pub fn send_for(&mut self, dst: usize, msg: R::Msg) -> Outgoing<R::Msg> {
        self.seq += 1;
        self.log.push(Event::Sent {
            dst,
            seq: self.seq,
            msg: msg.clone(),
        });
        Outgoing {
            src: self.id,
            dst,
            seq: self.seq,
            msg,
        }
    }

    /// The disk (to inspect or damage it in tests).
    pub fn disk_mut(&mut self) -> &mut D {
        self.disk
            .as_mut()
            .expect("a host always has its disk")
            .disk_mut()
    }
}
