//! Every actor of the protection group as one [`Role`] (the runtime and stateright's
//! `ActorModel`, through [`crate::actor::Shim`], need one type): a dispatch to the role's
//! handlers, nothing more.

use crate::actor::{Effects, Id, Role};
use crate::quorum::config::QuorumConfig;
use crate::quorum::state::{ControlState, SegState, WriterState};

use super::msg::{Ids, Msg, Storage, Timer};
use super::{client, control, segment, writer};

/// Which role an actor plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Segment slot `.0`.
    Segment(usize),
    /// The writer.
    Writer,
    /// The control plane.
    Control,
    /// The client.
    Client,
}

/// One actor of the protection group: its role, under a config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The protocol's parameters (and the mutant, which lives in the handlers).
    pub cfg: QuorumConfig,
    /// Where every actor lives.
    pub ids: Ids,
    /// Its role.
    pub kind: Kind,
}

impl Node {
    /// Every actor of a protection group under `cfg`, in id order.
    pub fn all(cfg: &QuorumConfig) -> Vec<Node> {
        let ids = Ids { slots: cfg.slots() };
        let kinds =
            (0..ids.slots)
                .map(Kind::Segment)
                .chain([Kind::Writer, Kind::Control, Kind::Client]);
        kinds
            .map(|kind| Node {
                cfg: cfg.clone(),
                ids,
                kind,
            })
            .collect()
    }
}

/// An actor's state, by role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum NodeState {
    /// A segment.
    Segment(SegState),
    /// The writer.
    Writer(Box<WriterState>),
    /// The control plane.
    Control(ControlState),
    /// The client.
    Client,
}

impl Role for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Storage = Storage;
    type State = NodeState;

    fn timers(&self) -> Vec<Timer> {
        match self.kind {
            Kind::Segment(i) => segment::timers(&self.cfg, i),
            Kind::Writer => writer::timers(&self.cfg),
            Kind::Control => control::timers(),
            Kind::Client => Vec::new(),
        }
    }

    fn on_start(
        &self,
        _id: Id,
        storage: Option<&Storage>,
        out: &mut impl Effects<Msg, Storage>,
    ) -> NodeState {
        match self.kind {
            Kind::Segment(i) => {
                NodeState::Segment(segment::on_start(&self.cfg, self.ids, i, storage, out))
            }
            Kind::Writer => NodeState::Writer(Box::new(writer::on_start(self.ids, out))),
            Kind::Control => NodeState::Control(control::born(&self.cfg)),
            Kind::Client => NodeState::Client,
        }
    }

    fn on_msg(
        &self,
        _id: Id,
        state: &mut NodeState,
        src: Id,
        msg: Msg,
        out: &mut impl Effects<Msg, Storage>,
    ) {
        let (cfg, ids) = (&self.cfg, self.ids);
        match state {
            NodeState::Segment(s) => segment::on_msg(cfg, ids, s, src, msg, out),
            NodeState::Writer(s) => writer::on_msg(cfg, ids, s, src, msg, out),
            NodeState::Control(s) => control::on_msg(cfg, ids, s, src, msg, out),
            NodeState::Client => client::on_msg(ids, src, msg, out),
        }
    }

    fn on_timeout(
        &self,
        _id: Id,
        state: &mut NodeState,
        timer: &Timer,
        out: &mut impl Effects<Msg, Storage>,
    ) {
        let (cfg, ids) = (&self.cfg, self.ids);
        match (state, self.kind) {
            (NodeState::Segment(s), Kind::Segment(i)) => segment::on_timeout(cfg, i, s, timer, out),
            (NodeState::Writer(s), _) => writer::on_timeout(cfg, ids, s, timer, out),
            (NodeState::Control(s), _) => control::on_timeout(cfg, ids, s, timer, out),
            _ => {}
        }
    }
}
