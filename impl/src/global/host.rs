//! Where a Global Database's region nodes run: [`SimHost`] keeps them in process on simulated
//! disks (what the tests drive), `real::UdpRegions` runs each as a thread with its own UDP
//! socket and log file. The cluster talks to its regions only through [`RegionHost`], so the
//! same cluster code runs on both.

use quorate_model::global::GlobalConfig;

use super::region::{RegionNode, View};
use super::wire::Msg;
use crate::durable::MemDisk;

/// The region nodes of one Global Database, as the cluster reaches them.
pub trait RegionHost {
    /// How many regions.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether region `r`'s node runs.
    fn up(&self, r: usize) -> bool;
    /// Deliver `msg` to region `r`'s running node at clock `now`; its reply (`None`: down, no
    /// reply, or no answer).
    fn handle(&mut self, cfg: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg>;
    /// Apply `msg` to the volume of region `r` while its node is down (the storage control
    /// path): its node is replayed from its log to apply it, and stops again.
    fn at_rest(&mut self, cfg: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg>;
    /// Region `r`'s node as it is (a down one as its log brings it back).
    fn view(&self, r: usize) -> View;
    /// Take region `r`'s node down: its memory is gone, its log stays. Whether it was up.
    fn take_down(&mut self, r: usize) -> bool;
    /// Bring region `r`'s node back from its log; why not, if it cannot come back.
    fn bring_back(&mut self, r: usize) -> Result<(), String>;
    /// A round starts: every running node forgets the last round's lag reports.
    fn new_round(&mut self);
}

/// One region's place: its node while it runs, its disk while it is down.
#[derive(Debug)]
struct Slot {
    node: Option<RegionNode<MemDisk>>,
    disk: MemDisk,
}

/// Region nodes in process, on simulated disks.
#[derive(Debug)]
pub struct SimHost {
    slots: Vec<Slot>,
}

impl SimHost {
    /// Fresh regions, `primary` the first primary.
    pub fn new(regions: u8, primary: u8) -> Self {
        let slots = (0..regions)
            .map(|r| Slot {
                node: Some(
                    RegionNode::create(r, r == primary, MemDisk::default())
                        .expect("a simulated disk does not fail"),
                ),
                disk: MemDisk::default(),
            })
            .collect();
        SimHost { slots }
    }
}

impl RegionHost for SimHost {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn up(&self, r: usize) -> bool {
        self.slots.get(r).is_some_and(|s| s.node.is_some())
    }

    fn handle(&mut self, cfg: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg> {
        let node = self.slots.get_mut(r)?.node.as_mut()?;
        node.handle(cfg, msg, now)
            .expect("a simulated disk does not fail")
    }

    fn at_rest(&mut self, cfg: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg> {
        let disk = std::mem::take(&mut self.slots[r].disk);
        let mut node = RegionNode::recover(disk).expect("a simulated disk does not fail");
        let reply = node
            .handle(cfg, msg, now)
            .expect("a simulated disk does not fail");
        self.slots[r].disk = node.into_disk();
        reply
    }

    fn view(&self, r: usize) -> View {
        match &self.slots[r].node {
            Some(n) => n.view().clone(),
            None => RegionNode::recover(self.slots[r].disk.clone())
                .expect("a simulated disk does not fail")
                .view()
                .clone(),
        }
    }

    fn take_down(&mut self, r: usize) -> bool {
        let Some(node) = self.slots[r].node.take() else {
            return false;
        };
        let mut disk = node.into_disk();
        disk.crash(0); // every entry was synced before its reply
        self.slots[r].disk = disk;
        true
    }

    fn bring_back(&mut self, r: usize) -> Result<(), String> {
        let disk = std::mem::take(&mut self.slots[r].disk);
        match RegionNode::recover(disk) {
            Ok(node) => {
                self.slots[r].node = Some(node);
                Ok(())
            }
            Err((why, disk)) => {
                self.slots[r].disk = disk;
                Err(why.to_string())
            }
        }
    }

    fn new_round(&mut self) {
        for s in &mut self.slots {
            if let Some(n) = s.node.as_mut() {
                n.new_round();
            }
        }
    }
}
