//! A volume's logs seen one protection group at a time.
//!
//! A node of a volume ([`quorate_model::actor::volume::Volume`]) runs an instance of its role
//! for every PG, and its log interleaves them: each message, timer and input carries its PG,
//! and each save holds every instance's last save. [`project`] takes out the log of one PG: its
//! instances' inputs and sends, the saves its instances made, and what befell
//! the whole node (starts, crashes, a lost disk, the round's end, with that PG's part of the
//! storage). Each PG's projection is a run of the one-PG protocol, and is validated as one.

use quorate_model::actor::volume::{InPg, Saved};

use super::event::Event;

/// One node's event of a volume.
pub type VolumeEvent<M, T, S> = Event<InPg<M>, InPg<T>, Saved<S>>;

/// Every node's log, node `i`'s at index `i`.
pub type Logs<M, T, S> = Vec<Vec<Event<M, T, S>>>;

fn part<S: Clone>(s: &Saved<S>, pg: u16) -> Option<S> {
    s.parts.get(usize::from(pg)).cloned().flatten()
}

/// The logs of protection group `pg` in `logs`, the logs of a volume's nodes; an error names a
/// save said to be by `pg`'s instance that holds nothing of it (no volume writes one).
pub fn project<M, T, S>(
    logs: &[Vec<VolumeEvent<M, T, S>>],
    pg: u16,
) -> Result<Logs<M, T, S>, String>
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
    logs.iter()
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
