//! A volume's logs seen one protection group at a time.
//!
//! A node of a volume ([`quorate_model::actor::volume::Volume`]) runs an instance of its role
//! for every PG, and its log interleaves them: each message, timer and input carries its PG,
//! and each save holds every instance's last save. [`project`] takes out the log of one PG: its
//! instances' inputs and sends, the saves its instances made, and what befell
//! the whole node (starts, crashes, a lost disk, the round's end, with that PG's part of the
//! storage). Each PG's projection is a run of the one-PG protocol, and is validated as one.

use quorate_model::actor::Role;
use quorate_model::actor::volume::{InPg, Saved, Volume};

use super::cluster::Cluster;
use super::event::Event;
use super::validate::{Divergence, Replay, Validated, validate};
use crate::rng::Rng;

/// One node's event of a volume.
pub type VolumeEvent<M, T, S> = Event<InPg<M>, InPg<T>, Saved<S>>;

/// Every node's log, node `i`'s at index `i`.
pub type Logs<M, T, S> = Vec<Vec<Event<M, T, S>>>;

/// The event type of a volume of the protocol that `R` replays.
pub type VolumeEventOf<R> =
    VolumeEvent<<R as Replay>::Msg, <R as Replay>::Timer, <R as Replay>::Storage>;

fn part<S: Clone>(s: &Saved<S>, pg: u16) -> Option<S> {
    s.parts.get(usize::from(pg)).cloned().flatten()
}

/// One protection group's part of a volume's logs.
pub struct Projected<M, T, S> {
    /// Its logs, node `i`'s at index `i`.
    pub logs: Logs<M, T, S>,
    /// Where each of its events is in the volume's log of the same node.
    pub origin: Vec<Vec<usize>>,
}

/// The logs of protection group `pg` in `logs`, the logs of a volume's nodes; an error names a
/// save said to be by `pg`'s instance that holds nothing of it (no volume writes one).
pub fn project<M, T, S>(
    logs: &[Vec<VolumeEvent<M, T, S>>],
    pg: u16,
) -> Result<Projected<M, T, S>, String>
where
    M: Clone,
    T: Clone,
    S: Clone + PartialEq,
{
    // How many of a node's events are in the projection after each of its first k events:
    // what an environment's note of the events it read (`Saw`) becomes.
    let kept: Vec<Vec<usize>> = logs
        .iter()
        .map(|log| {
            let mut n = 0;
            let mut at = vec![0];
            for e in log {
                n += usize::from(keeps(e, pg));
                at.push(n);
            }
            at
        })
        .collect();
    let origin = logs
        .iter()
        .map(|log| (0..log.len()).filter(|&k| keeps(&log[k], pg)).collect())
        .collect();
    let logs = logs
        .iter()
        .enumerate()
        .map(|(i, log)| {
            let mut out = Vec::new();
            for e in log.iter().filter(|e| keeps(e, pg)) {
                let ours = |m: &InPg<M>| m.of.clone();
                out.push(match e {
                    Event::Start { storage } => Event::Start {
                        storage: storage.as_ref().and_then(|s| part(s, pg)),
                    },
                    Event::Recv { src, seq, msg } => Event::Recv {
                        src: *src,
                        seq: *seq,
                        msg: ours(msg),
                    },
                    Event::Input { msg } => Event::Input { msg: ours(msg) },
                    Event::Timer { timer } => Event::Timer {
                        timer: timer.of.clone(),
                    },
                    Event::Saved { storage } => Event::Saved {
                        storage: part(storage, pg).ok_or_else(|| {
                            format!("node {i} logged a save of PG {pg} that holds nothing of it")
                        })?,
                    },
                    Event::Sent { dst, seq, msg } => Event::Sent {
                        dst: *dst,
                        seq: *seq,
                        msg: ours(msg),
                    },
                    Event::Saw { node, events } => Event::Saw {
                        node: *node,
                        events: kept
                            .get(*node)
                            .and_then(|k| k.get(*events).or(k.last()))
                            .copied()
                            .unwrap_or(0),
                    },
                    Event::Crash => Event::Crash,
                    Event::Lost => Event::Lost,
                    Event::End { storage } => Event::End {
                        storage: storage.as_ref().and_then(|s| part(s, pg)),
                    },
                });
            }
            Ok(out)
        })
        .collect::<Result<_, String>>()?;
    Ok(Projected { logs, origin })
}

/// The logs of a one-PG run as the logs of a volume of that one PG.
pub fn as_volume<M, T, S>(logs: Logs<M, T, S>) -> Logs<InPg<M>, InPg<T>, Saved<S>> {
    let pg = 0;
    let whole = |s: S| Saved {
        by: pg,
        parts: vec![Some(s)],
    };
    logs.into_iter()
        .map(|log| {
            log.into_iter()
                .map(|e| match e {
                    Event::Start { storage } => Event::Start {
                        storage: storage.map(whole),
                    },
                    Event::Recv { src, seq, msg } => Event::Recv {
                        src,
                        seq,
                        msg: InPg { pg, of: msg },
                    },
                    Event::Input { msg } => Event::Input {
                        msg: InPg { pg, of: msg },
                    },
                    Event::Timer { timer } => Event::Timer {
                        timer: InPg { pg, of: timer },
                    },
                    Event::Saved { storage } => Event::Saved {
                        storage: whole(storage),
                    },
                    Event::Sent { dst, seq, msg } => Event::Sent {
                        dst,
                        seq,
                        msg: InPg { pg, of: msg },
                    },
                    Event::Saw { node, events } => Event::Saw { node, events },
                    Event::Crash => Event::Crash,
                    Event::Lost => Event::Lost,
                    Event::End { storage } => Event::End {
                        storage: storage.map(whole),
                    },
                })
                .collect()
        })
        .collect()
}

/// Whether event `e` of a node is part of PG `pg`'s log.
fn keeps<M, T, S>(e: &VolumeEvent<M, T, S>, pg: u16) -> bool {
    match e {
        Event::Recv { msg, .. } | Event::Input { msg } | Event::Sent { msg, .. } => msg.pg == pg,
        Event::Timer { timer } => timer.pg == pg,
        Event::Saved { storage } => storage.by == pg,
        Event::Start { .. }
        | Event::Saw { .. }
        | Event::Crash
        | Event::Lost
        | Event::End { .. } => true,
    }
}

/// One protection group of a volume's nodes, as a fault table written for one PG sees them:
/// each node's instance of that PG. What the table does to a node (a crash, a restart, a lost
/// disk) it does to the whole node, every PG's instance; an input goes to that PG's instance.
pub struct PgView<'a, C> {
    /// The volume's nodes.
    pub nodes: &'a mut C,
    /// The protection group seen.
    pub pg: u16,
    /// How many protection groups the volume has (a lost disk is reported in each).
    pub pgs: u16,
}

impl<R, C> Cluster<R> for PgView<'_, C>
where
    R: Role,
    C: Cluster<Volume<R>>,
{
    fn len(&self) -> usize {
        self.nodes.len()
    }
    fn begin_draw(&mut self) {
        self.nodes.begin_draw();
    }
    fn end_draw(&mut self) {
        self.nodes.end_draw();
    }
    fn state(&self, i: usize) -> Option<R::State> {
        let v = self.nodes.state(i)?;
        v.pgs.into_iter().nth(usize::from(self.pg))
    }
    fn runs(&self, i: usize) -> bool {
        self.nodes.runs(i)
    }
    fn saved(&self, i: usize) -> Option<R::Storage> {
        part(&self.nodes.saved(i)?, self.pg)
    }
    fn lost(&self, i: usize) -> bool {
        self.nodes.lost(i)
    }
    fn events(&self, i: usize) -> usize {
        self.nodes.events(i)
    }
    fn rng(&mut self) -> &mut Rng {
        self.nodes.rng()
    }
    fn start(&mut self, i: usize) -> Result<(), String> {
        self.nodes.start(i)
    }
    fn crash(&mut self, i: usize) {
        self.nodes.crash(i);
    }
    fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>) {
        let every_pg = (0..self.pgs)
            .flat_map(|pg| {
                reports
                    .iter()
                    .map(move |(dst, of)| (*dst, InPg { pg, of: of.clone() }))
            })
            .collect();
        self.nodes.lose_disk(i, every_pg);
    }
    fn input(&mut self, i: usize, msg: R::Msg) -> std::io::Result<Option<R::State>> {
        let pg = self.pg;
        let after = self.nodes.input(i, InPg { pg, of: msg })?;
        Ok(after.and_then(|v| v.pgs.into_iter().nth(usize::from(pg))))
    }
}

/// Validate a volume of `pgs` protection groups PG by PG on `model`, the one-PG protocol's
/// replay: every PG's part of the logs must validate. A divergence names the PG and the event's
/// place in the volume's log; an event of a PG the volume does not have is one.
pub fn validate_volume<R: Replay>(
    model: &R,
    logs: &[Vec<VolumeEventOf<R>>],
    pgs: u16,
) -> Result<Validated, Divergence>
where
    R::Msg: Clone + std::fmt::Debug,
    R::Timer: Clone + std::fmt::Debug,
    R::Storage: Clone + std::fmt::Debug,
{
    for (node, log) in logs.iter().enumerate() {
        for (event, e) in log.iter().enumerate() {
            let pg = match e {
                Event::Recv { msg, .. } | Event::Input { msg } | Event::Sent { msg, .. } => msg.pg,
                Event::Timer { timer } => timer.pg,
                Event::Saved { storage } => storage.by,
                _ => continue,
            };
            if pg >= pgs {
                return Err(Divergence {
                    node,
                    event,
                    what: format!("{e:?}"),
                    why: format!("an event of PG {pg}; the volume has {pgs}"),
                });
            }
        }
    }
    let mut total = Validated::default();
    for pg in 0..pgs {
        let p = project(logs, pg).map_err(|why| Divergence {
            node: 0,
            event: 0,
            what: format!("PG {pg}"),
            why,
        })?;
        let v = validate(model, &p.logs).map_err(|d| Divergence {
            event: p.origin[d.node]
                .get(d.event)
                .copied()
                .unwrap_or(logs[d.node].len()),
            why: format!("PG {pg}: {}", d.why),
            ..d
        })?;
        total.events += v.events;
        total.steps += v.steps;
        total.states += v.states;
    }
    Ok(total)
}
