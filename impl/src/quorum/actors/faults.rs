//! The storage quorum's environment: its fault table (segment crashes and restarts, AZ
//! outages, lost disks, writer crashes and restarts, membership changes begun, within the
//! config's budgets) and its workload (the client's read views; the writer writes on its own
//! timer). It is written once against [`Cluster`], so the deterministic and the live
//! configurations of the runtime inject the same faults.
//!
//! A fault is only taken where the actor model allows it (a disk is lost only from a member of
//! the control plane's configuration, an outage only takes segments that have their place),
//! because every run is replayed on that model.

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::{Ids, Msg, Request, Storage};
use quorate_model::quorum::actors::node::{Node, NodeState};
use quorate_model::quorum::state::{Budget, Change, ControlState, SegState};

use crate::runtime::cluster::Cluster;

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Deliveries, timer firings and faults carried out (the deterministic configuration's
    /// steps; the live one counts its fault draws).
    pub steps: usize,
    /// Faults (crashes, outages, lost disks, writer crashes, membership changes begun).
    pub faults: Vec<String>,
    /// Garbage datagrams sent to the nodes (random bytes, datagrams cut short or damaged so
    /// that they still decode), each of which a node must refuse unhandled.
    pub garbage: u64,
}

/// The faults a round may still inject, and the actors they hit.
pub struct Faults {
    cfg: QuorumConfig,
    ids: Ids,
    /// The faults the config's budgets still allow (messages are lost and duplicated by the
    /// network, not from a budget).
    budget: Budget,
}

fn segment<C: Cluster<Node>>(c: &C, i: usize) -> Option<SegState> {
    match c.state(i)? {
        NodeState::Segment(s) => Some(s),
        _ => None,
    }
}

/// Whether slot `i` holds a segment that has taken its place (not a spare, or a spare that has
/// joined): its running state's, or else what its disk last synced.
fn placed<C: Cluster<Node>>(c: &C, i: usize) -> bool {
    if let Some(s) = segment(c, i) {
        return !s.spare;
    }
    matches!(c.saved(i), Some(Storage::Segment(s)) if !s.spare)
}

/// Whether slot `i`'s disk is gone.
fn lost<C: Cluster<Node>>(c: &C, i: usize) -> bool {
    c.lost(i) || segment(c, i).is_some_and(|s| s.lost)
}

impl Faults {
    /// The full budgets of `cfg`.
    pub fn new(cfg: &QuorumConfig) -> Self {
        Faults {
            cfg: cfg.clone(),
            ids: Ids { slots: cfg.slots() },
            budget: Budget::granted(cfg),
        }
    }

    fn control<C: Cluster<Node>>(&self, c: &C) -> Option<ControlState> {
        match c.state(usize::from(self.ids.control()))? {
            NodeState::Control(s) => Some(s),
            _ => None,
        }
    }

    fn members<C: Cluster<Node>>(&self, c: &C) -> u16 {
        self.control(c).map_or(0, |s| s.mem.cfg.members())
    }

    fn change<C: Cluster<Node>>(&self, c: &C) -> Option<Change> {
        self.control(c).and_then(|s| s.mem.change)
    }

    /// Draw a fault or a client request and take it, if it is possible; `false` if none was
    /// taken.
    pub fn take<C: Cluster<Node>>(
        &mut self,
        c: &mut C,
        tally: &mut Tally,
    ) -> std::io::Result<bool> {
        c.begin_draw();
        let taken = self.draw(c, tally);
        c.end_draw();
        taken
    }

    fn draw<C: Cluster<Node>>(&mut self, c: &mut C, tally: &mut Tally) -> std::io::Result<bool> {
        let slots = self.ids.slots;
        let w = usize::from(self.ids.writer());
        let placed_or_down =
            |c: &C, i: usize| segment(c, i).is_some_and(|s| !s.spare) || !c.runs(i);
        let choice = c.rng().below(8);
        match choice {
            0 if self.budget.crashes > 0 => {
                let up: Vec<usize> = (0..slots)
                    .filter(|&i| segment(c, i).is_some_and(|s| !s.spare && !s.lost))
                    .collect();
                if let Some(&i) = up.get(c.rng().below(up.len().max(1) as u64) as usize) {
                    self.budget.crashes -= 1;
                    c.crash(i);
                    tally.faults.push(format!("crash segment {i}"));
                    return Ok(true);
                }
            }
            1 => {
                let down: Vec<usize> = (0..slots)
                    .filter(|&i| !c.runs(i) && placed_or_down(c, i) && !lost(c, i))
                    .filter(|&i| c.events(i) > 1)
                    .collect();
                if let Some(&i) = down.get(c.rng().below(down.len().max(1) as u64) as usize) {
                    start(c, i)?;
                    tally.faults.push(format!("restart segment {i}"));
                    return Ok(true);
                }
            }
            2 if self.budget.writer_crashes > 0 && c.runs(w) => {
                self.budget.writer_crashes -= 1;
                c.crash(w);
                tally.faults.push("crash the writer".into());
                return Ok(true);
            }
            3 if !c.runs(w) => {
                start(c, w)?;
                tally.faults.push("restart the writer".into());
                return Ok(true);
            }
            4 if self.budget.disk_losses > 0 => {
                let members = self.members(c);
                let hit: Vec<usize> = (0..slots)
                    .filter(|&i| members & (1 << i) != 0 && !lost(c, i) && placed(c, i))
                    .collect();
                if let Some(&i) = hit.get(c.rng().below(hit.len().max(1) as u64) as usize) {
                    self.budget.disk_losses -= 1;
                    self.lose_disk(c, i);
                    tally.faults.push(format!("segment {i} loses its disk"));
                    return Ok(true);
                }
            }
            5 if self.budget.member_changes > 0 => {
                let members = self.members(c);
                let f = members.trailing_zeros() as u8
                    + c.rng().below(u64::from(members.count_ones())) as u8;
                if members & (1 << f) != 0 {
                    let ctl = usize::from(self.ids.control());
                    let before = self.change(c);
                    let after = c.input(ctl, Msg::Begin { f })?;
                    let began =
                        matches!(after, Some(NodeState::Control(s)) if s.mem.change.is_some());
                    if before.is_none() && began {
                        self.budget.member_changes -= 1;
                        tally.faults.push(format!("replace segment {f}"));
                    }
                    return Ok(true);
                }
            }
            6 if self.cfg.reads => {
                let r = if c.rng().chance(1, 2) {
                    Request::OpenView
                } else {
                    Request::CloseView
                };
                c.input(usize::from(self.ids.client()), Msg::Request(r))?;
                return Ok(true);
            }
            7 if self.budget.az_outages > 0 => {
                let az = c.rng().below(u64::from(self.cfg.azs)) as u8;
                let hit = self.outage(c, az);
                if !hit.is_empty() {
                    self.budget.az_outages -= 1;
                    for i in hit {
                        c.crash(i);
                    }
                    tally.faults.push(format!("AZ {az} goes down"));
                    return Ok(true);
                }
            }
            _ => {}
        }
        Ok(false)
    }
}

impl Faults {
    /// Segment `i`'s disk is lost for good; the storage service tells the writer and the
    /// control plane.
    pub fn lose_disk<C: Cluster<Node>>(&self, c: &mut C, i: usize) {
        let reports = vec![
            (usize::from(self.ids.writer()), Msg::Lost),
            (usize::from(self.ids.control()), Msg::Lost),
        ];
        c.lose_disk(i, reports);
    }

    /// The segments an outage of AZ `az` takes down: those of the AZ that run in their place.
    pub fn outage<C: Cluster<Node>>(&self, c: &C, az: u8) -> Vec<usize> {
        (0..self.ids.slots)
            .filter(|&i| segment(c, i).is_some_and(|s| !s.spare && !s.lost && s.az == az))
            .collect()
    }
}

/// Restart node `i` from its disk. A node that cannot come back from what it synced is a
/// failure of the round, not a fault to take in stride.
fn start<C: Cluster<Node>>(c: &mut C, i: usize) -> std::io::Result<()> {
    c.start(i)
        .map_err(|e| std::io::Error::other(format!("node {i} could not start from its disk: {e}")))
}
