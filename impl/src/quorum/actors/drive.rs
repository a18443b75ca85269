//! A trace of the actor model carried out on the deterministic runtime: each step of the trace
//! (a delivery, a timer, a fault, a request) done to the nodes it names, with the model's own
//! actors handling it, so that a counterexample the checker found is seen to happen on the
//! implementation. The trace's mutant, if any, lives in the actors and comes along.
//!
//! The actor model's volume starts settled: every actor started and every message of the start
//! delivered. [`Driver::new`] starts the nodes and delivers what they send, oldest first, until
//! nothing is in flight, and checks that every node is then in the model's initial state; the
//! caller compares the nodes and what is in flight with the model's after each step.

use std::collections::BTreeMap;

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actor_model::{ActorAction, ActorState, QuorumActorModel, in_flight};
use quorate_model::quorum::actors::msg::{Ids, Msg};

use quorate_model::quorum::actors::node::Node;

use super::{Faults, QuorumEvent};
use crate::codec;
use crate::runtime::cluster::Cluster;
use crate::runtime::sim::Sim;

/// How many deliveries settling the volume may take at most (the start of a model-sized volume
/// takes a few dozen).
const SETTLE_MAX: usize = 10_000;

/// The nodes of one protection group driven by a trace instead of a schedule.
pub struct Driver {
    /// The nodes on the deterministic runtime.
    pub sim: Sim<Node>,
    faults: Faults,
    ids: Ids,
}

/// What is in flight, as (sender, receiver, message) with the number of copies.
pub type InFlight = BTreeMap<(usize, usize, Msg), usize>;

impl Driver {
    /// The actors of `cfg` started and settled, each node checked against `init`, the model's
    /// initial state.
    pub fn new(cfg: &QuorumConfig, seed: u64) -> Result<Self, String> {
        let mut sim = Sim::new(Node::all(cfg), seed);
        for i in 0..sim.hosts.len() {
            sim.start(i)
                .map_err(|e| format!("node {i} could not start: {e}"))?;
        }
        for _ in 0..SETTLE_MAX {
            if sim.network.is_empty() {
                break;
            }
            sim.deliver(0, false)
                .map_err(|e| format!("settling the volume: {e}"))?;
        }
        if !sim.network.is_empty() {
            return Err(format!(
                "the volume did not settle within {SETTLE_MAX} deliveries"
            ));
        }
        let init = QuorumActorModel::new(cfg.clone()).settled();
        let d = Driver {
            faults: Faults::new(cfg),
            ids: Ids { slots: cfg.slots() },
            sim,
        };
        d.same_nodes(&init)
            .map_err(|e| format!("after the start: {e}"))?;
        Ok(d)
    }

    /// Every node's state equals the model's in `s` (a crashed node runs nothing).
    pub fn same_nodes(&self, s: &ActorState) -> Result<(), String> {
        for (i, h) in self.sim.hosts.iter().enumerate() {
            let want = (!s.sys.crashed[i]).then(|| &*s.sys.actor_states[i]);
            if h.state() != want {
                return Err(format!(
                    "node {i} is in {:?}; the model has {:?}",
                    h.state(),
                    want
                ));
            }
        }
        Ok(())
    }

    /// What the runtime has in flight.
    pub fn in_flight(&self) -> InFlight {
        let mut out = InFlight::new();
        for d in &self.sim.network {
            if let Ok(m) = codec::parse_sealed::<Msg>(&d.bytes) {
                *out.entry((d.src, d.dst, m)).or_default() += 1;
            }
        }
        out
    }

    /// What the model has in flight in `s`.
    pub fn model_in_flight(s: &ActorState) -> InFlight {
        in_flight(&s.sys.network)
            .into_iter()
            .map(|(e, n)| ((usize::from(e.src), usize::from(e.dst), e.msg), n))
            .collect()
    }

    /// The datagram carrying `msg` from `src` to `dst`, if one is in flight.
    fn find(&self, src: u8, dst: u8, msg: &Msg) -> Result<usize, String> {
        self.sim
            .network
            .iter()
            .position(|d| {
                d.src == usize::from(src)
                    && d.dst == usize::from(dst)
                    && codec::parse_sealed::<Msg>(&d.bytes).as_ref() == Ok(msg)
            })
            .ok_or_else(|| {
                format!("no datagram {msg:?} from node {src} to node {dst} is in flight")
            })
    }

    /// Every node's log, node `i`'s at index `i`.
    pub fn logs(&self) -> Vec<Vec<QuorumEvent>> {
        self.sim.logs()
    }

    /// Carry out one step of the trace.
    pub fn apply(&mut self, a: &ActorAction) -> Result<(), String> {
        let sim = &mut self.sim;
        // Each step is a draw of its own: an act logs only what this step read.
        sim.begin_draw();
        let io = |e: std::io::Error| e.to_string();
        let w = usize::from(self.ids.writer());
        match a {
            ActorAction::Deliver { src, dst, msg } => {
                let k = self.find(*src, *dst, msg)?;
                self.sim.deliver(k, false).map_err(io)
            }
            ActorAction::Duplicate { src, dst, msg } => {
                // The network makes a second copy; neither is delivered yet.
                let k = self.find(*src, *dst, msg)?;
                let copy = self.sim.network[k].clone();
                self.sim.network.push(copy);
                Ok(())
            }
            ActorAction::Drop { src, dst, msg } => {
                let k = self.find(*src, *dst, msg)?;
                self.sim.lose(k);
                Ok(())
            }
            ActorAction::Timeout { actor, timer } => {
                sim.fire(usize::from(*actor), timer).map_err(io)
            }
            ActorAction::Crash { seg } => {
                Cluster::crash(sim, usize::from(*seg));
                Ok(())
            }
            ActorAction::Restart { seg } => Cluster::start(sim, usize::from(*seg)),
            ActorAction::DiskLoss { seg } => {
                self.faults.lose_disk(sim, usize::from(*seg));
                Ok(())
            }
            ActorAction::AzOutage { az } => {
                for i in self.faults.outage(sim, *az) {
                    Cluster::crash(sim, i);
                }
                Ok(())
            }
            ActorAction::WriterCrash => {
                Cluster::crash(sim, w);
                Ok(())
            }
            ActorAction::WriterRestart => Cluster::start(sim, w),
            ActorAction::Begin { f } => {
                Cluster::input(sim, usize::from(self.ids.control()), Msg::Begin { f: *f })
                    .map(|_| ())
                    .map_err(io)
            }
            ActorAction::Request(r) => {
                Cluster::input(sim, usize::from(self.ids.client()), Msg::Request(*r))
                    .map(|_| ())
                    .map_err(io)
            }
        }
    }
}
