//! The regions of a live round as the coordinator and the control plane reach them: each
//! region's place (its running node and agent, or its file while it is down), behind a lock,
//! so an outage, a return and a command on the storage control path never cross.
//!
//! The **storage control path** is how the control plane's commands reach a region's volume
//! whatever the network does: to the running node directly (a partition does not cut it), or,
//! while the region is down, to its file (the node is replayed from it, applies the command,
//! logs it, and stops again), as the model's fence and cancel reach a volume that is cut off
//! or down.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use quorate_model::global::properties::region_name;

use super::node::{self, Ans, Req, Running, Shared};
use crate::durable::FileDisk;
use crate::global::region::{RegionNode, View};
use crate::global::wire::Msg;
use crate::udp::Caller;

/// How long the storage control path waits for a running node (one send: a command handled
/// twice would be logged twice).
const CONTROL_WAIT: Duration = Duration::from_millis(2000);

/// One region's place.
#[derive(Debug)]
pub struct Slot {
    path: PathBuf,
    running: Option<Running>,
    /// The region as its node was when it last stopped (its file must bring back the same).
    pub last: View,
}

/// Every region's place.
#[derive(Debug)]
pub struct Regions {
    slots: Vec<Mutex<Slot>>,
    /// What broke the round's guarantees (a node that died, a file that came back wrong).
    pub failures: Mutex<Vec<String>>,
}

impl Regions {
    /// Fresh regions with their logs in `dir` (which must not hold them yet), started; the
    /// first primary as the model's initial state has it.
    pub fn start(sh: &Shared, dir: &std::path::Path, primary: u8) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut slots = Vec::new();
        for r in 0..sh.nodes.len() {
            let path = dir.join(format!("region-{r}.log"));
            let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let node = RegionNode::create(r as u8, r == usize::from(primary), disk)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let last = node.view().clone();
            sh.obs.lock().region(r, &last);
            let running = Some(node::spawn(sh, r, node)?);
            slots.push(Mutex::new(Slot {
                path,
                running,
                last,
            }));
        }
        Ok(Regions {
            slots,
            failures: Mutex::default(),
        })
    }

    /// How many regions.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn slot(&self, r: usize) -> MutexGuard<'_, Slot> {
        self.slots[r].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, why: String) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(why);
    }

    /// Whether region `r` runs.
    pub fn up(&self, r: usize) -> bool {
        self.slot(r).running.as_ref().is_some_and(Running::running)
    }

    /// Take region `r` down: its node and agent stop, its file stays. Whether it was up.
    pub fn take_down(&self, sh: &Shared, r: usize) -> bool {
        let mut slot = self.slot(r);
        let Some(running) = slot.running.take() else {
            return false;
        };
        match running.stop() {
            Some(node) => slot.last = node.view().clone(),
            None => self.fail(format!("{}'s node died", region_name(r))),
        }
        sh.obs.lock().state.regions[r].up = false;
        true
    }

    /// Signal every running region to stop (then [`Regions::take_down`] each: faster).
    pub fn signal_all(&self) {
        for r in 0..self.len() {
            if let Some(running) = &self.slot(r).running {
                running.signal();
            }
        }
    }

    /// Region `r` as its file brings it back, or why it does not come back.
    fn recover_file(slot: &Slot, r: usize) -> Result<RegionNode<FileDisk>, String> {
        let disk =
            FileDisk::open(&slot.path).map_err(|e| format!("{}: {e}", slot.path.display()))?;
        let node = RegionNode::recover(disk)
            .map_err(|(why, _)| format!("{} does not recover: {why}", region_name(r)))?;
        if let Some(d) = &node.torn_tail {
            return Err(format!("{}'s file has a torn tail: {d}", region_name(r)));
        }
        if *node.view() != slot.last {
            return Err(format!(
                "{} came back from its file as {:?}, not as it went down: {:?}",
                region_name(r),
                node.view(),
                slot.last
            ));
        }
        Ok(node)
    }

    /// Bring region `r` back from its file: it must come back as it went down.
    pub fn bring_back(&self, sh: &Shared, r: usize) -> Result<(), String> {
        let mut slot = self.slot(r);
        if slot.running.is_some() {
            return Ok(());
        }
        let node = Self::recover_file(&slot, r)?;
        slot.running = Some(node::spawn(sh, r, node)?);
        sh.obs.lock().state.regions[r].up = true;
        Ok(())
    }

    /// Every region recovered from its file directly; each must come back as its node was
    /// when it stopped. Every region must be down.
    pub fn recover_all_from_files(&self) -> Result<Vec<View>, String> {
        (0..self.len())
            .map(|r| Self::recover_file(&self.slot(r), r).map(|n| n.view().clone()))
            .collect()
    }

    /// A command on the storage control path to region `r`'s volume; its reply.
    pub fn control(&self, sh: &Shared, r: usize, msg: &Msg) -> Option<Msg> {
        let mut slot = self.slot(r);
        if let Some(running) = &slot.running
            && running.running()
        {
            let caller = Caller::with_patience(CONTROL_WAIT, 1).ok()?;
            let answer = caller.call::<Req, Ans>(sh.nodes[r], &Req::Msg(msg.clone()));
            sh.count(&caller);
            return match answer {
                Some(Ans::Reply(reply)) => reply,
                _ => {
                    self.fail(format!(
                        "{} left a command of the control plane unanswered",
                        region_name(r)
                    ));
                    None
                }
            };
        }
        let mut node = match Self::recover_file(&slot, r) {
            Ok(n) => n,
            Err(why) => {
                self.fail(why);
                return None;
            }
        };
        let mut seen = sh.obs.lock();
        let now = sh.clock.now();
        let reply = match node.handle(&sh.cfg, msg, now) {
            Ok(reply) => reply,
            Err(e) => {
                drop(seen);
                self.fail(format!(
                    "{}'s volume cannot be written: {e}",
                    region_name(r)
                ));
                return None;
            }
        };
        seen.handled(&sh.cfg, r, node.view(), reply.as_ref(), now);
        drop(seen);
        slot.last = node.view().clone();
        reply
    }
}
