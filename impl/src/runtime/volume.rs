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

/// Where a projection found a save that claims a PG and holds nothing of it (no volume writes
/// one): the node, the event's place in its log, and why.
pub type BadSave = (usize, usize, String);

/// The logs of protection group `pg` in `logs`, the logs of a volume's nodes.
pub fn project<M, T, S>(
    logs: &[Vec<VolumeEvent<M, T, S>>],
    pg: u16,
) -> Result<Projected<M, T, S>, BadSave>
where
    M: Clone,
    T: Clone,
    S: Clone + PartialEq,
{
    let kept: Vec<Vec<bool>> = logs.iter().map(|log| kept(log, pg)).collect();
    // How many of a node's events are in the projection after each of its first k events:
    // what an environment's note of the events it read (`Saw`) becomes.
    let counts: Vec<Vec<usize>> = kept
        .iter()
        .map(|k| {
            let mut n = 0;
            let mut at = vec![0];
            for &keep in k {
                n += usize::from(keep);
                at.push(n);
            }
            at
        })
        .collect();
    let origin: Vec<Vec<usize>> = kept
        .iter()
        .map(|k| (0..k.len()).filter(|&i| k[i]).collect())
        .collect();
    let mut out = Vec::with_capacity(logs.len());
    for (i, log) in logs.iter().enumerate() {
        let mut mine = Vec::with_capacity(origin[i].len());
        for &at in &origin[i] {
            let ours = |m: &InPg<M>| m.of.clone();
            mine.push(match &log[at] {
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
                        (i, at, format!("a save by PG {pg} that holds nothing of it"))
                    })?,
                },
                Event::Sent { dst, seq, msg } => Event::Sent {
                    dst: *dst,
                    seq: *seq,
                    msg: ours(msg),
                },
                Event::Saw { node, events } => Event::Saw {
                    node: *node,
                    events: counts
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
        out.push(mine);
    }
    Ok(Projected { logs: out, origin })
}

/// The logs of a one-PG run as the logs of a volume of that one PG.
pub fn as_volume<M, T, S>(logs: Logs<M, T, S>) -> Logs<InPg<M>, InPg<T>, Saved<S>> {
    let pg = 0;
    let whole = |s: S| Saved {
        by: vec![pg],
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

/// Which events of a node's log are part of PG `pg`'s log: its instance's inputs, sends and
/// saves, and what befell the node; a note of what the environment read (`Saw`) only if the act
/// it precedes is part of it.
fn kept<M, T, S>(log: &[VolumeEvent<M, T, S>], pg: u16) -> Vec<bool> {
    let mut out = vec![false; log.len()];
    let mut act_kept = true;
    for (k, e) in log.iter().enumerate().rev() {
        out[k] = match e {
            Event::Recv { msg, .. } | Event::Input { msg } | Event::Sent { msg, .. } => {
                msg.pg == pg
            }
            Event::Timer { timer } => timer.pg == pg,
            Event::Saved { storage } => storage.by.contains(&pg),
            Event::Saw { .. } => act_kept,
            Event::Start { .. } | Event::Crash | Event::Lost | Event::End { .. } => true,
        };
        if !matches!(e, Event::Saw { .. }) {
            act_kept = out[k];
        }
    }
    out
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
                Event::Saved { storage } => match storage.by.iter().max() {
                    Some(&pg) => pg,
                    None => {
                        return Err(Divergence {
                            node,
                            event,
                            what: format!("{e:?}"),
                            why: "a save by no PG".into(),
                        });
                    }
                },
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
        let p = project(logs, pg).map_err(|(node, event, why)| Divergence {
            node,
            event,
            what: format!("{:?}", logs[node][event]),
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
        total.steps += v.steps;
        total.states += v.states;
    }
    // Every event once (a crash or a start is in every PG's part).
    total.events = logs.iter().map(Vec::len).sum();
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = VolumeEvent<u8, u8, u8>;

    #[test]
    fn a_pg_keeps_its_own_events_the_node_s_and_the_saves_it_took_part_in() {
        let saved = |by: Vec<u16>| Saved {
            by,
            parts: vec![Some(1), Some(2)],
        };
        let log: Vec<E> = vec![
            Event::Start { storage: None },
            Event::Saved {
                storage: saved(vec![0, 1]),
            },
            Event::Saw { node: 0, events: 2 },
            Event::Input {
                msg: InPg { pg: 1, of: 9 },
            },
            Event::Saved {
                storage: saved(vec![1]),
            },
            Event::Sent {
                dst: 0,
                seq: 1,
                msg: InPg { pg: 1, of: 9 },
            },
            Event::Crash,
        ];
        let p0 = project(std::slice::from_ref(&log), 0).unwrap();
        assert_eq!(
            p0.logs[0],
            vec![
                Event::Start { storage: None },
                Event::Saved { storage: 1 },
                Event::Crash
            ],
            "PG 0 keeps the start's save it took part in, not the note of a read before PG 1's \
             input"
        );
        assert_eq!(p0.origin[0], vec![0, 1, 6]);
        let p1 = project(std::slice::from_ref(&log), 1).unwrap();
        assert_eq!(p1.logs[0].len(), 7);
        assert_eq!(p1.logs[0][2], Event::Saw { node: 0, events: 2 });
        // A save said to be PG 1's that holds nothing of it.
        let bad: Vec<E> = vec![Event::Saved {
            storage: Saved {
                by: vec![1],
                parts: vec![Some(1)],
            },
        }];
        assert_eq!(project(&[bad], 1).err().map(|e| (e.0, e.1)), Some((0, 0)));
    }
}
