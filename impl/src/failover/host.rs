//! Where a failover cluster's segment nodes run: [`SimHost`] keeps them in process on
//! simulated disks (what the tests drive), `real::UdpHost` runs each as a thread with its own
//! UDP socket and log file. The cluster talks to its segments only through [`SegmentHost`],
//! so the same cluster code runs on both.

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::state::{Seg, Trunc};

use super::segment::{Handled, SegmentNode};
use super::wire::Msg;
use crate::durable::MemDisk;

/// The segment nodes of one protection group, as the cluster reaches them.
pub trait SegmentHost {
    /// How many segments.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Segment `i`'s AZ.
    fn az(&self, i: usize) -> u8;
    /// Whether segment `i`'s node runs.
    fn up(&self, i: usize) -> bool;
    /// Deliver a request to segment `i`; what it did (`None`: down, or no answer).
    fn handle(
        &mut self,
        cfg: &FailoverConfig,
        i: usize,
        msg: &Msg,
        truncs: &[Trunc],
    ) -> Option<Handled>;
    /// Segment `i`'s report of what it holds (`None`: down, or no answer).
    fn report(&mut self, i: usize) -> Option<Msg>;
    /// Take segment `i` down: its memory is gone, its log stays. Whether it was up.
    fn take_down(&mut self, i: usize) -> bool;
    /// Restart segment `i` from its log; why not, if it cannot come back.
    fn restart(&mut self, cfg: &FailoverConfig, i: usize) -> Result<(), String>;
    /// Segment `i` as the model sees it (a down one as it went down: its log replayed, before a
    /// restart forgets anything).
    fn segment(&self, cfg: &FailoverConfig, i: usize) -> Seg;
}

/// One segment's place: its AZ and, while it runs, its node.
#[derive(Debug)]
struct Slot {
    az: u8,
    node: Option<SegmentNode<MemDisk>>,
    /// The disk while the node is down.
    disk: MemDisk,
}

/// Segment nodes in process, on simulated disks.
#[derive(Debug)]
pub struct SimHost {
    slots: Vec<Slot>,
}

impl SimHost {
    /// Fresh segments in these AZs.
    pub fn new(azs: impl IntoIterator<Item = u8>) -> Self {
        let slots = azs
            .into_iter()
            .enumerate()
            .map(|(i, az)| Slot {
                az,
                node: Some(
                    SegmentNode::create(i as u8, az, MemDisk::default())
                        .expect("a simulated disk does not fail"),
                ),
                disk: MemDisk::default(),
            })
            .collect();
        SimHost { slots }
    }
}

impl SegmentHost for SimHost {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn az(&self, i: usize) -> u8 {
        self.slots[i].az
    }

    fn up(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.node.is_some())
    }

    fn handle(
        &mut self,
        cfg: &FailoverConfig,
        i: usize,
        msg: &Msg,
        truncs: &[Trunc],
    ) -> Option<Handled> {
        let node = self.slots.get_mut(i)?.node.as_mut()?;
        Some(
            node.handle(cfg, msg, truncs)
                .expect("a simulated disk does not fail"),
        )
    }

    fn report(&mut self, i: usize) -> Option<Msg> {
        Some(self.slots.get(i)?.node.as_ref()?.report())
    }

    fn take_down(&mut self, i: usize) -> bool {
        let Some(node) = self.slots[i].node.take() else {
            return false;
        };
        self.slots[i].disk = node.into_disk();
        self.slots[i].disk.crash(0);
        true
    }

    fn restart(&mut self, cfg: &FailoverConfig, i: usize) -> Result<(), String> {
        let disk = std::mem::take(&mut self.slots[i].disk);
        match SegmentNode::recover(cfg, i as u8, disk) {
            Ok(node) => {
                self.slots[i].node = Some(node);
                Ok(())
            }
            Err((why, disk)) => {
                self.slots[i].disk = disk;
                Err(why.to_string())
            }
        }
    }

    fn segment(&self, _: &FailoverConfig, i: usize) -> Seg {
        let slot = &self.slots[i];
        if let Some(node) = &slot.node {
            return *node.seg();
        }
        // Down: what its disk holds, as the model keeps a down segment until it restarts.
        match SegmentNode::replayed(i as u8, slot.disk.clone()) {
            Ok(node) => Seg {
                up: false,
                ..*node.seg()
            },
            Err(_) => Seg {
                up: false,
                az: slot.az,
                ..Seg::default()
            },
        }
    }
}
