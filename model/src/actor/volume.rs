//! # A volume of protection groups
//!
//! An Aurora volume is a concatenation of protection groups (PGs), each replicated on its own
//! segments; a storage node hosts segments of many PGs, and the database instance writes to
//! all of them. A protocol's actors are written for one PG. [`Volume`] makes a node of a volume
//! out of them: node `i` runs an instance of role `i` for every PG, and each message, timer and
//! save is tagged with its PG ([`InPg`]), so the instances of one PG talk only to each other.
//! What a node saves is the last save of every instance ([`Saved`]), so a restart gives each
//! instance its own storage back.
//!
//! A crash of the node is a crash of every instance on it, and a lost disk loses every
//! instance's storage: that is what couples the PGs. Otherwise each PG is a run of the one-PG
//! protocol, which is what the checker explores, so a run of a volume is judged PG by PG.

use serde::{Deserialize, Serialize};

use super::{Effects, Id, Role};

/// Something of protection group `pg`: a message, a timer, an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InPg<T> {
    /// The protection group.
    pub pg: u16,
    /// What it is.
    pub of: T,
}

/// What a node of a volume keeps over a crash: each instance's last save, by PG, and which
/// instance saved last (what a log of saves says was saved by whom).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Saved<S> {
    /// The PG whose instance made this save.
    pub by: u16,
    /// Each instance's last save, by PG.
    pub parts: Vec<Option<S>>,
}

/// The state of a node of a volume: each instance's state, and its last save, by PG.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct VolumeState<T, S> {
    /// Each PG's instance.
    pub pgs: Vec<T>,
    /// Each instance's last save.
    pub saved: Vec<Option<S>>,
}

/// Node `i` of a volume: an instance of `role` for each of `pgs` protection groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume<R> {
    /// The role every instance plays.
    pub role: R,
    /// How many protection groups the volume has.
    pub pgs: u16,
}

/// One instance's sink: its sends tagged with its PG, its save kept for the node's.
struct Instance<M, S> {
    pg: u16,
    sends: Vec<(Id, M)>,
    save: Option<S>,
}

impl<M, S> Instance<M, S> {
    fn new(pg: u16) -> Self {
        Instance {
            pg,
            sends: Vec::new(),
            save: None,
        }
    }
}

impl<M, S> Effects<M, S> for Instance<M, S> {
    fn send(&mut self, dst: Id, msg: M) {
        self.sends.push((dst, msg));
    }
    fn save(&mut self, storage: S) {
        self.save = Some(storage);
    }
}

impl<R: Role> Volume<R> {
    /// Pass an instance's effects on: the node's save first if the instance saved (so it is
    /// durable before the instance's sends leave), then its sends.
    fn pass_on(
        instance: Instance<R::Msg, R::Storage>,
        saved: &mut [Option<R::Storage>],
        out: &mut impl Effects<InPg<R::Msg>, Saved<R::Storage>>,
    ) {
        let pg = instance.pg;
        if let Some(s) = instance.save {
            saved[usize::from(pg)] = Some(s);
            out.save(Saved {
                by: pg,
                parts: saved.to_vec(),
            });
        }
        for (dst, of) in instance.sends {
            out.send(dst, InPg { pg, of });
        }
    }
}

impl<R: Role> Role for Volume<R> {
    type Msg = InPg<R::Msg>;
    type Timer = InPg<R::Timer>;
    type Storage = Saved<R::Storage>;
    type State = VolumeState<R::State, R::Storage>;

    fn timers(&self) -> Vec<Self::Timer> {
        let mine = self.role.timers();
        (0..self.pgs)
            .flat_map(|pg| mine.iter().map(move |t| InPg { pg, of: t.clone() }))
            .collect()
    }

    fn on_start(
        &self,
        id: Id,
        storage: Option<&Self::Storage>,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    ) -> Self::State {
        let n = usize::from(self.pgs);
        let mut saved: Vec<Option<R::Storage>> = vec![None; n];
        if let Some(Saved { parts, .. }) = storage {
            for (k, x) in parts.iter().take(n).enumerate() {
                saved[k].clone_from(x);
            }
        }
        let mut pgs = Vec::with_capacity(n);
        for pg in 0..self.pgs {
            let mut inst = Instance::new(pg);
            let from = saved[usize::from(pg)].clone();
            pgs.push(self.role.on_start(id, from.as_ref(), &mut inst));
            Self::pass_on(inst, &mut saved, out);
        }
        VolumeState { pgs, saved }
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Self::State,
        src: Id,
        msg: Self::Msg,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    ) {
        let Some(mine) = state.pgs.get_mut(usize::from(msg.pg)) else {
            return; // a PG this volume does not have: nothing to do
        };
        let mut inst = Instance::new(msg.pg);
        self.role.on_msg(id, mine, src, msg.of, &mut inst);
        Self::pass_on(inst, &mut state.saved, out);
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Self::State,
        timer: &Self::Timer,
        out: &mut impl Effects<Self::Msg, Self::Storage>,
    ) {
        let Some(mine) = state.pgs.get_mut(usize::from(timer.pg)) else {
            return;
        };
        let mut inst = Instance::new(timer.pg);
        self.role.on_timeout(id, mine, &timer.of, &mut inst);
        Self::pass_on(inst, &mut state.saved, out);
    }
}
