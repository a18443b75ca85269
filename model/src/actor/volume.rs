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
/// instances made this save (what a log of saves says was saved by whom).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Saved<S> {
    /// The PGs whose instances saved in the handler that made this save, in order.
    pub by: Vec<u16>,
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
    /// Pass the effects of the instances a handler ran on: one save of the node first, if any
    /// instance saved (so it is durable before their sends leave), naming every instance that
    /// saved; then their sends, in order.
    fn pass_on(
        instances: Vec<Instance<R::Msg, R::Storage>>,
        saved: &mut [Option<R::Storage>],
        out: &mut impl Effects<InPg<R::Msg>, Saved<R::Storage>>,
    ) {
        let mut by = Vec::new();
        let mut sends = Vec::new();
        for inst in instances {
            if let Some(s) = inst.save {
                saved[usize::from(inst.pg)] = Some(s);
                by.push(inst.pg);
            }
            let pg = inst.pg;
            sends.extend(
                inst.sends
                    .into_iter()
                    .map(|(dst, of)| (dst, InPg { pg, of })),
            );
        }
        if !by.is_empty() {
            out.save(Saved {
                by,
                parts: saved.to_vec(),
            });
        }
        for (dst, m) in sends {
            out.send(dst, m);
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
        let mut started = Vec::with_capacity(n);
        for pg in 0..self.pgs {
            let mut inst = Instance::new(pg);
            let from = saved[usize::from(pg)].clone();
            pgs.push(self.role.on_start(id, from.as_ref(), &mut inst));
            started.push(inst);
        }
        Self::pass_on(started, &mut saved, out);
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
        Self::pass_on(vec![inst], &mut state.saved, out);
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
        Self::pass_on(vec![inst], &mut state.saved, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Effect;

    /// A role that saves its start count at every start and echoes every message.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Counter;

    impl Role for Counter {
        type Msg = u8;
        type Timer = u8;
        type Storage = u8;
        type State = u8;
        fn timers(&self) -> Vec<u8> {
            vec![7]
        }
        fn on_start(&self, _: Id, storage: Option<&u8>, out: &mut impl Effects<u8, u8>) -> u8 {
            let n = storage.copied().unwrap_or(0) + 1;
            out.send(Id::from(9), n);
            out.save(n);
            n
        }
        fn on_msg(&self, _: Id, st: &mut u8, src: Id, msg: u8, out: &mut impl Effects<u8, u8>) {
            *st = msg;
            out.save(msg);
            out.send(src, msg);
        }
        fn on_timeout(&self, _: Id, _: &mut u8, _: &u8, _: &mut impl Effects<u8, u8>) {}
    }

    #[test]
    fn every_instance_saves_in_one_save_before_any_send() {
        let v = Volume {
            role: Counter,
            pgs: 3,
        };
        assert_eq!(v.timers().len(), 3);
        let mut fx: Vec<Effect<InPg<u8>, Saved<u8>>> = Vec::new();
        let mut st = v.on_start(Id::from(0), None, &mut fx);
        assert_eq!(st.pgs, vec![1, 1, 1]);
        // One save naming the three instances, then the three sends.
        assert_eq!(
            fx[0],
            Effect::Save(Saved {
                by: vec![0, 1, 2],
                parts: vec![Some(1), Some(1), Some(1)],
            })
        );
        assert_eq!(fx.len(), 4);
        // A message of PG 1 reaches PG 1's instance alone; its save keeps the others' parts.
        let mut fx = Vec::new();
        v.on_msg(
            Id::from(0),
            &mut st,
            Id::from(4),
            InPg { pg: 1, of: 5 },
            &mut fx,
        );
        assert_eq!(st.pgs, vec![1, 5, 1]);
        assert_eq!(
            fx,
            vec![
                Effect::Save(Saved {
                    by: vec![1],
                    parts: vec![Some(1), Some(5), Some(1)],
                }),
                Effect::Send(Id::from(4), InPg { pg: 1, of: 5 }),
            ]
        );
        // A restart gives each instance its own part back; a PG the volume lacks is ignored.
        let saved = Saved {
            by: vec![1],
            parts: vec![Some(1), Some(5)],
        };
        let st = v.on_start(Id::from(0), Some(&saved), &mut Vec::new());
        assert_eq!(st.pgs, vec![2, 6, 1]);
        let mut fx = Vec::new();
        let mut st2 = st.clone();
        v.on_msg(
            Id::from(0),
            &mut st2,
            Id::from(4),
            InPg { pg: 3, of: 5 },
            &mut fx,
        );
        assert_eq!((st2, fx), (st, Vec::new()));
    }
}
