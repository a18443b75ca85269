//! Where a Backtrack cluster's engine runs: [`SimEngine`] in process on a simulated disk (what
//! the tests drive), `real::UdpEngine` as a thread with its own UDP socket and log file. The
//! cluster talks to its engine only through [`EngineHost`], so the same cluster code runs on
//! both.

use quorate_model::backtrack::BacktrackConfig;

use super::engine::{EngineNode, EngineState};
use super::wire::Msg;
use crate::durable::MemDisk;

/// The engine, as the cluster reaches it.
pub trait EngineHost {
    /// Its state in the model's terms.
    fn state(&self) -> EngineState;
    /// Deliver `msg`; its reply (`None`: no answer).
    fn handle(&mut self, cfg: &BacktrackConfig, msg: &Msg) -> Option<Msg>;
    /// The engine crashes and restarts from its log alone; why not, if it cannot.
    fn crash(&mut self) -> Result<(), String>;
}

/// The engine in process, on a simulated disk.
#[derive(Debug)]
pub struct SimEngine {
    node: Option<EngineNode<MemDisk>>,
}

impl SimEngine {
    /// A fresh engine.
    pub fn new() -> Self {
        let node = EngineNode::create(MemDisk::default()).expect("a simulated disk does not fail");
        SimEngine { node: Some(node) }
    }

    fn node(&self) -> &EngineNode<MemDisk> {
        self.node.as_ref().expect("the engine runs")
    }
}

impl Default for SimEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineHost for SimEngine {
    fn state(&self) -> EngineState {
        self.node().state().clone()
    }

    fn handle(&mut self, cfg: &BacktrackConfig, msg: &Msg) -> Option<Msg> {
        let node = self.node.as_mut().expect("the engine runs");
        Some(
            node.handle(cfg, msg)
                .expect("a simulated disk does not fail"),
        )
    }

    fn crash(&mut self) -> Result<(), String> {
        let mut disk = self.node.take().expect("the engine runs").into_disk();
        disk.crash(0); // every entry was synced before its reply
        let node = EngineNode::recover(disk).map_err(|(why, _)| why.to_string())?;
        self.node = Some(node);
        Ok(())
    }
}
