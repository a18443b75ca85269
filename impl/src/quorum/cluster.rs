//! The simulated storage-quorum cluster: six (or more) segment nodes, a writer, the metadata
//! service and the network, driven one scheduled event at a time.
//!
//! An event is named by the model's own [`Action`] (targets by identity: a slot, an LSN, an AZ,
//! a message), and [`Cluster::apply`] carries it out the way the nodes would: the writer sends
//! datagrams, a segment decodes one, checks it with the model's segment rules, logs it
//! durably and acks, the writer folds the ack in. Every message between nodes goes through
//! the wire codec. A crash drops a node's memory and keeps its (simulated) disk; a restart
//! rebuilds the node from that disk alone. `apply` answers whether the cluster carried the
//! event out; a refused event changes nothing.
//!
//! Where the model makes a step atomic (its `MC` choices in `specs/quorum.md`), the event runs
//! the corresponding exchange to completion before the next event: a segment's ack reaches
//! the writer in the same event as the write it acknowledges; a crash breaks the writer's
//! connection to that segment at once; a recovery's read and its installs on every reachable
//! member are one event. Write datagrams are the exception: they stay in the network as the
//! model's in-flight records, to be delivered, lost or duplicated by later events.
//!
//! The control plane (membership) lives here too: it keeps the latest SCL each segment
//! reported, and a membership epoch bump reaches every segment that is up in the same event
//! (the model's MC3).

use quorate_model::quorum::config::{MAX_LSN, MAX_SEGMENTS, Messages};
use quorate_model::quorum::segment::Epochs;
use quorate_model::quorum::state::{
    Budget, Cfg, Change, ControlState, Epoch, Lsn, Membership, Net, QuorumState, Reads, SENT_CPL,
    SegSet, SegState, Segment, Trunc, WriteMsg, Writer, WriterMode, WriterState, count, slots_of,
};
use quorate_model::quorum::writer as model_writer;
use quorate_model::quorum::{Action, Mutant, QuorumConfig};

use super::segment::{RecoverError, SegmentNode};
use super::wire::{self, Msg, WireTrunc};
use super::writer::WriterNode;
use crate::durable::MemDisk;

/// One segment slot: its placement and, while it runs, its node.
#[derive(Debug)]
struct Slot {
    az: u8,
    spare: bool,
    lost: bool,
    /// The running node, or `None` while down.
    node: Option<SegmentNode<MemDisk>>,
    /// The disk while the node is down.
    disk: MemDisk,
    /// The segment's epochs when its disk was lost (the model keeps them).
    tombstone: Option<Segment>,
}

/// A write datagram in flight (explicit messages), or the newest copy of each LSN (instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    msg: WriteMsg,
    cpl: bool,
}

/// The simulated cluster.
#[derive(Debug)]
pub struct Cluster {
    cfg: QuorumConfig,
    slots: Vec<Slot>,
    writer: WriterNode,
    /// Metadata service: the membership and every truncation range (durable there).
    mem: Membership,
    truncs: Vec<Trunc>,
    /// Control plane: the latest SCL each segment reported (a down segment's stays: its
    /// records are on its disk).
    reports: [Option<Lsn>; MAX_SEGMENTS],
    /// Instant messages: per LSN, the newest copy sent.
    sent: [Option<InFlight>; MAX_LSN],
    /// Explicit messages: every datagram in flight, sorted.
    flight: Vec<InFlight>,
    /// Every consistency point any writer incarnation allocated (the MTR boundaries of the
    /// log; the model keeps them as state, the nodes spread them over records and memory).
    allocated_cpls: u16,
    /// The highest LSN any writer incarnation allocated (the end of the log).
    allocated: Lsn,
    /// Commits acknowledged to clients.
    acked: u16,
    /// The client's read view and the protection group's GC point.
    reads: Reads,
    /// The environment's fault budgets.
    budget: Budget,
    /// One line per event carried out, for the determinism check and for failures.
    log: Vec<String>,
    /// Datagrams rejected by the decoder.
    pub rejected_datagrams: u64,
}

fn wire(t: &[Trunc]) -> Vec<WireTrunc> {
    t.iter().map(|&t| t.into()).collect()
}

impl Cluster {
    /// A fresh volume under `cfg` (which must pass `validate` and have no membership changes).
    pub fn new(cfg: &QuorumConfig) -> Self {
        let init = quorate_model::quorum::step::init(cfg);
        let slots = init
            .segs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let node = (!s.spare).then(|| {
                    SegmentNode::create(i as u8, s.az, 1, 1, &[], MemDisk::default())
                        .expect("a simulated disk does not fail")
                });
                Slot {
                    az: s.az,
                    spare: s.spare,
                    lost: false,
                    node,
                    disk: MemDisk::default(),
                    tombstone: None,
                }
            })
            .collect();
        let mut c = Cluster {
            cfg: cfg.clone(),
            slots,
            writer: WriterNode::new(init.writer.core),
            mem: init.control.mem,
            truncs: Vec::new(),
            reports: [None; MAX_SEGMENTS],
            sent: [None; MAX_LSN],
            flight: Vec::new(),
            allocated_cpls: 0,
            allocated: 0,
            acked: 0,
            reads: init.writer.reads,
            budget: init.budget,
            log: Vec::new(),
            rejected_datagrams: 0,
        };
        for i in 0..c.slots.len() {
            c.hello(i);
        }
        c
    }

    /// The event log so far, one line per event carried out.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    fn node(&self, i: usize) -> Option<&SegmentNode<MemDisk>> {
        self.slots[i].node.as_ref()
    }

    fn up(&self, i: usize) -> bool {
        self.slots[i].node.is_some()
    }

    fn up_set(&self) -> SegSet {
        (0..self.slots.len())
            .filter(|&i| self.up(i))
            .fold(0, |a, i| a | (1 << i))
    }

    /// Send `msg` from a segment to the writer through the codec.
    fn send_to_writer(&mut self, msg: &Msg) {
        match wire::decode(&wire::encode(msg)) {
            Ok(m) => self.writer.on_msg(&m),
            Err(_) => self.rejected_datagrams += 1,
        }
    }

    /// A segment tells the writer and the control plane its state (after any change, or a
    /// restart).
    fn hello(&mut self, i: usize) {
        if let Some(ack) = self.node(i).map(|n| n.ack()) {
            if let Msg::Ack { scl, mem_epoch, .. } = ack {
                self.reports[i] = Some(scl);
                self.mem.hear(i, scl, mem_epoch);
            }
            self.send_to_writer(&ack);
        }
    }

    /// Deliver a write or gossip datagram to segment `i`; true if it stored the record.
    fn store_at(&mut self, i: usize, msg: Msg) -> bool {
        let bytes = wire::encode(&msg);
        let Ok(msg) = wire::decode(&bytes) else {
            self.rejected_datagrams += 1;
            return false;
        };
        let (lsn, epochs, cpl, gossip) = match msg {
            Msg::Write {
                lsn,
                vol_epoch,
                mem_epoch,
                cpl,
            } => (lsn, (mem_epoch, vol_epoch), cpl, false),
            Msg::Gossip {
                lsn,
                vol_epoch,
                mem_epoch,
                cpl,
            } => (lsn, (mem_epoch, vol_epoch), cpl, true),
            _ => return false,
        };
        let cfg = self.cfg.clone();
        let Some(node) = self.slots[i].node.as_mut() else {
            return false;
        };
        let epochs = Epochs {
            mem: epochs.0,
            vol: epochs.1,
        };
        let stored = node
            .store(&cfg, lsn, epochs, cpl, gossip)
            .expect("a simulated disk does not fail")
            .is_ok();
        if stored {
            self.hello(i);
        }
        stored
    }

    /// The node of slot `i` goes down: memory gone, disk kept, the writer's connection broken.
    fn take_down(&mut self, i: usize) {
        if let Some(node) = self.slots[i].node.take() {
            self.slots[i].disk = node.into_disk();
            self.slots[i].disk.crash(0);
            self.writer.disconnected(i as u8);
        }
    }

    /// Carry out one scheduled event. Returns whether the cluster did; a refused event
    /// changes nothing.
    pub fn apply(&mut self, action: &Action) -> bool {
        let done = self.carry_out(action);
        if done {
            self.settle();
            self.log.push(format!("{action:?}"));
        }
        done
    }

    fn carry_out(&mut self, action: &Action) -> bool {
        let cfg = self.cfg.clone();
        let n = self.slots.len();
        match *action {
            Action::WriteMtr => self.write_mtr(),
            Action::Deliver { seg, lsn } => {
                let i = usize::from(seg);
                if cfg.messages != Messages::Instant || i >= n || lsn == 0 {
                    return false;
                }
                let Some(copy) = self.sent.get(usize::from(lsn) - 1).copied().flatten() else {
                    return false;
                };
                let Some(node) = self.node(i) else {
                    return false;
                };
                if node.seg().holds(lsn) {
                    return false;
                }
                let w = self.writer.w;
                // The incarnation that sent it resends with the membership epoch it knows now,
                // to members it knows; a dead incarnation's stray copy carries whatever epoch
                // the segment would accept and is judged on its volume epoch.
                let mem_epoch = if copy.msg.vol_epoch == w.vol_epoch {
                    if w.cfg.members() & (1 << i) == 0 {
                        return false;
                    }
                    w.mem_epoch
                } else {
                    node.seg().mem_epoch
                };
                let msg = Msg::Write {
                    lsn,
                    vol_epoch: copy.msg.vol_epoch,
                    mem_epoch,
                    cpl: copy.cpl,
                };
                self.store_at(i, msg)
            }
            Action::DeliverMsg { msg } => {
                let i = usize::from(msg.dst);
                if i >= n || !self.up(i) {
                    return false;
                }
                let Some(at) = self.flight.iter().position(|f| f.msg == msg) else {
                    return false;
                };
                let f = self.flight.remove(at);
                if !self.node(i).is_some_and(|x| x.seg().holds(msg.lsn)) {
                    self.store_at(
                        i,
                        Msg::Write {
                            lsn: msg.lsn,
                            vol_epoch: msg.vol_epoch,
                            mem_epoch: msg.mem_epoch,
                            cpl: f.cpl,
                        },
                    );
                }
                true
            }
            Action::Retransmit { seg, lsn } => self.retransmit(seg, lsn),
            Action::Lose { msg } => {
                if self.budget.loss == 0 {
                    return false;
                }
                let Some(at) = self.flight.iter().position(|f| f.msg == msg) else {
                    return false;
                };
                self.flight.remove(at);
                self.budget.loss -= 1;
                true
            }
            Action::Duplicate { msg } => {
                if self.budget.duplicate == 0 {
                    return false;
                }
                let Some(f) = self.flight.iter().find(|f| f.msg == msg).copied() else {
                    return false;
                };
                self.push_flight(f);
                self.budget.duplicate -= 1;
                true
            }
            Action::Gossip { from, to, lsn } => {
                let (fi, ti) = (usize::from(from), usize::from(to));
                if !cfg.gossip || fi >= n || ti >= n || fi == ti || lsn == 0 {
                    return false;
                }
                // Members gossip, and so does a joining member (it hydrates this way).
                let gossipers = self.mem.cfg.members() | self.mem.change.map_or(0, |c| 1 << c.g);
                if gossipers & (1 << fi) == 0 || gossipers & (1 << ti) == 0 {
                    return false;
                }
                let (Some(f), Some(t)) = (self.node(fi), self.node(ti)) else {
                    return false;
                };
                if !f.seg().holds(lsn) || t.seg().holds(lsn) {
                    return false;
                }
                let msg = Msg::Gossip {
                    lsn,
                    vol_epoch: f.seg().rec(lsn),
                    mem_epoch: f.seg().mem_epoch,
                    cpl: f.cpls() & (1 << (lsn - 1)) != 0,
                };
                self.store_at(ti, msg)
            }
            Action::WriterRefresh => {
                let w = &mut self.writer.w;
                if w.mem_epoch >= self.mem.epoch || w.mode == WriterMode::Crashed {
                    return false;
                }
                w.mem_epoch = self.mem.epoch;
                w.cfg = self.mem.cfg;
                true
            }
            Action::MemBegin { f, g } => self.mem_begin(f, g),
            Action::MemFinalize => self.mem_finalize(),
            Action::MemRevert => self.mem_revert(),
            Action::RecoveryRead { quorum } => self.recovery_read(quorum),
            Action::InstallTrunc { seg } => {
                let i = usize::from(seg);
                let w = self.writer.w;
                if w.mode == WriterMode::Crashed
                    || i >= n
                    || self.slots[i].spare
                    || w.cfg.members() & (1 << i) == 0
                {
                    return false; // a writer installs only on members it knows
                }
                let Some(a) = self.writer.acks[i] else {
                    return false; // down, or the writer has not heard from it
                };
                if a.vol_epoch >= w.vol_epoch {
                    return false;
                }
                self.install_at(i, w.vol_epoch);
                true
            }
            Action::Open => self.open(),
            Action::OpenView => {
                if self.reads.view.is_some() || self.writer.w.mode != WriterMode::Open {
                    return false;
                }
                self.reads.view = Some(self.writer.w.vdl);
                true
            }
            Action::CloseView => self.reads.view.take().is_some(),
            Action::Crash { seg } => {
                let i = usize::from(seg);
                if self.budget.crashes == 0 || i >= n || self.slots[i].spare || !self.up(i) {
                    return false;
                }
                self.take_down(i);
                self.budget.crashes -= 1;
                true
            }
            Action::Restart { seg } => self.restart(usize::from(seg)),
            Action::DiskLoss { seg } => {
                let i = usize::from(seg);
                if self.budget.disk_losses == 0
                    || i >= n
                    || self.slots[i].lost
                    || self.slots[i].spare
                    || self.mem.cfg.members() & (1 << i) == 0
                {
                    return false;
                }
                self.lose_disk(i);
                self.budget.disk_losses -= 1;
                true
            }
            Action::AzOutage { az } => {
                if self.budget.az_outages == 0 {
                    return false;
                }
                let hit: Vec<usize> = (0..n)
                    .filter(|&i| !self.slots[i].spare && self.slots[i].az == az && self.up(i))
                    .collect();
                for &i in &hit {
                    self.take_down(i);
                }
                if hit.is_empty() {
                    return false;
                }
                self.budget.az_outages -= 1;
                true
            }
            Action::WriterCrash => {
                if self.budget.writer_crashes == 0 || self.writer.w.mode == WriterMode::Crashed {
                    return false;
                }
                self.budget.writer_crashes -= 1;
                self.writer = self.writer.crashed();
                self.reads.view = None;
                true
            }
        }
    }

    fn push_flight(&mut self, f: InFlight) {
        let at = self.flight.partition_point(|x| x <= &f);
        self.flight.insert(at, f);
    }

    fn write_mtr(&mut self) -> bool {
        let w = self.writer.w;
        let Some((first, last)) = model_writer::next_mtr(&self.cfg, &w) else {
            return false;
        };
        let bit = 1 << (last - 1);
        self.writer.cpls |= bit;
        self.allocated_cpls |= bit;
        for lsn in first..=last {
            let cpl = lsn == last;
            match self.cfg.messages {
                Messages::Instant => {
                    let msg = WriteMsg {
                        dst: 0,
                        lsn,
                        vol_epoch: w.vol_epoch,
                        mem_epoch: w.mem_epoch,
                        cpl,
                    };
                    self.sent[usize::from(lsn) - 1] = Some(InFlight { msg, cpl });
                }
                Messages::Explicit => {
                    for dst in slots_of(w.cfg.members()) {
                        let msg = WriteMsg {
                            dst: dst as u8,
                            lsn,
                            vol_epoch: w.vol_epoch,
                            mem_epoch: w.mem_epoch,
                            cpl,
                        };
                        self.push_flight(InFlight { msg, cpl });
                    }
                }
            }
        }
        self.writer.w.next_lsn = last + 1;
        self.allocated = self.allocated.max(last);
        true
    }

    fn retransmit(&mut self, seg: u8, lsn: Lsn) -> bool {
        let i = usize::from(seg);
        let w = self.writer.w;
        if self.cfg.messages != Messages::Explicit || i >= self.slots.len() || lsn == 0 {
            return false;
        }
        let in_trunc = self.truncs.iter().any(|t| t.lo <= lsn && lsn <= t.hi);
        let mine = lsn < w.next_lsn && !in_trunc && lsn > model_writer::truncated_top(&self.truncs);
        // The retransmission timer of (seg, lsn) fires only once no copy is in flight.
        let in_flight = self
            .flight
            .iter()
            .any(|f| f.msg.dst == seg && f.msg.lsn == lsn);
        let Some(a) = self.writer.acks[i] else {
            return false;
        };
        if w.mode != WriterMode::Open
            || !mine
            || in_flight
            || a.held & (1 << (lsn - 1)) != 0
            || w.cfg.members() & (1 << i) == 0
            || a.mem_epoch != w.mem_epoch
            || a.vol_epoch != w.vol_epoch
        {
            return false;
        }
        let cpl = self.writer.cpls & (1 << (lsn - 1)) != 0;
        let msg = WriteMsg {
            dst: seg,
            lsn,
            vol_epoch: w.vol_epoch,
            mem_epoch: w.mem_epoch,
            cpl,
        };
        self.push_flight(InFlight { msg, cpl });
        true
    }

    /// The writer installs the ranges of volume epoch `vol_epoch` on segment `i` (up).
    fn install_at(&mut self, i: usize, vol_epoch: Epoch) {
        let cfg = self.cfg.clone();
        let msg = Msg::Install {
            vol_epoch,
            truncs: wire(&self.truncs),
        };
        let Ok(Msg::Install { vol_epoch, truncs }) = wire::decode(&wire::encode(&msg)) else {
            self.rejected_datagrams += 1;
            return;
        };
        let truncs: Vec<Trunc> = truncs.into_iter().map(Into::into).collect();
        if let Some(node) = self.slots[i].node.as_mut() {
            node.install(&cfg, &truncs, vol_epoch)
                .expect("a simulated disk does not fail");
            self.hello(i);
        }
    }

    /// A new writer incarnation reads SCLs from read quorum `quorum`, writes the truncation
    /// range to the metadata service and installs it on every reachable member.
    fn recovery_read(&mut self, quorum: SegSet) -> bool {
        if self.writer.w.mode != WriterMode::Crashed {
            return false;
        }
        let members = self.mem.cfg.members();
        let reachable = self.up_set() & members;
        if quorum == 0
            || quorum & !reachable != 0
            || !self
                .mem
                .cfg
                .is_read_quorum(quorum, self.cfg.read_quorum, self.read_counted())
        {
            return false;
        }
        let request = Msg::ReadScl {
            truncs: wire(&self.truncs),
        };
        let mut tops = Vec::new();
        let mut cpls = 0;
        for i in slots_of(quorum) {
            let Ok(Msg::ReadScl { truncs }) = wire::decode(&wire::encode(&request)) else {
                self.rejected_datagrams += 1;
                return false;
            };
            let truncs: Vec<Trunc> = truncs.into_iter().map(Into::into).collect();
            let reply = self.node(i).expect("reachable").scl_reply(&truncs);
            match wire::decode(&wire::encode(&reply)) {
                Ok(Msg::SclReply { top, cpls: c, .. }) => {
                    tops.push(top);
                    cpls |= c;
                }
                _ => {
                    self.rejected_datagrams += 1;
                    return false;
                }
            }
        }
        let vdl = model_writer::recovered_vdl_from(tops.into_iter(), cpls, &self.truncs);
        let epoch = self.writer.w.vol_epoch + 1;
        self.truncs
            .push(model_writer::truncation_range(&self.cfg, vdl, epoch));
        let mut w = self.writer.w;
        w.mode = WriterMode::Recovering { vdl };
        // A new incarnation: it allocates above every range once it opens, and the GC point
        // follows its VDL from then on.
        w.next_lsn = 0;
        self.reads.gc_point = 0;
        w.vol_epoch = epoch;
        w.mem_epoch = self.mem.epoch;
        w.cfg = self.mem.cfg;
        self.writer = WriterNode::new(w);
        self.writer.cpls = cpls;
        self.writer.truncs = self.truncs.clone();
        for i in slots_of(reachable) {
            self.install_at(i, epoch);
        }
        true
    }

    /// The recovering writer opens once its range is installed at a write quorum and every
    /// record at or below the recovered VDL is at a write quorum (as far as its acks show).
    fn open(&mut self) -> bool {
        let WriterMode::Recovering { vdl } = self.writer.w.mode else {
            return false;
        };
        let w = self.writer.w;
        if w.mem_epoch != self.mem.epoch {
            return false;
        }
        let current = |a: &Option<super::writer::AckInfo>| a.filter(|a| a.vol_epoch == w.vol_epoch);
        let installed = (0..self.slots.len())
            .filter(|&i| current(&self.writer.acks[i]).is_some())
            .fold(0, |a, i| a | (1 << i));
        let wq = self.cfg.write_quorum;
        if !w.cfg.is_write_quorum(installed, wq, SegSet::MAX) {
            return false;
        }
        // Only installed segments' acks count as copies: they have dropped annulled records.
        let holders = |l: Lsn| {
            (0..self.slots.len())
                .filter(|&i| {
                    current(&self.writer.acks[i]).is_some_and(|a| a.held & (1 << (l - 1)) != 0)
                })
                .fold(0, |a, i| a | (1 << i))
        };
        let in_trunc = |l: Lsn| self.truncs.iter().any(|t| t.lo <= l && l <= t.hi);
        if (1..=vdl).any(|l| !in_trunc(l) && !w.cfg.is_write_quorum(holders(l), wq, SegSet::MAX)) {
            return false;
        }
        let hi = model_writer::truncated_top(&self.truncs);
        let w = &mut self.writer.w;
        w.mode = WriterMode::Open;
        w.pgcl = vdl;
        w.vcl = vdl;
        w.vdl = vdl;
        w.next_lsn = w.next_lsn.max(hi.saturating_add(1));
        true
    }

    fn restart(&mut self, i: usize) -> bool {
        if i >= self.slots.len() || self.up(i) || self.slots[i].lost || self.slots[i].spare {
            return false;
        }
        let disk = std::mem::take(&mut self.slots[i].disk);
        match SegmentNode::recover(&self.cfg, i as u8, disk) {
            Ok(mut node) => {
                // A restarting segment learns the current membership epoch before serving.
                let epoch = node.seg().mem_epoch.max(self.mem.epoch);
                node.learn_mem_epoch(&self.cfg, epoch)
                    .expect("a simulated disk does not fail");
                self.slots[i].node = Some(node);
                self.hello(i);
            }
            Err((why, disk)) => {
                // The segment cannot vouch for what it acknowledged: it is lost.
                self.log.push(format!("segment {i} lost on restart: {why}"));
                self.slots[i].disk = disk;
                self.lose_disk(i);
            }
        }
        true
    }

    fn lose_disk(&mut self, i: usize) {
        let seg = self.segment(i);
        self.take_down(i);
        self.reports[i] = None;
        let slot = &mut self.slots[i];
        slot.disk = MemDisk::default();
        slot.lost = true;
        slot.tombstone = Some(Segment {
            up: false,
            lost: true,
            recs: [0; MAX_LSN],
            scl: 0,
            ..seg
        });
    }

    /// Members that count toward a read quorum: all but a joiner that has not hydrated (under
    /// Ma11, the literal rule, it counts at once).
    fn read_counted(&self) -> SegSet {
        let all = self.mem.cfg.members();
        match self.mem.change {
            Some(c) if !c.hydrated && !self.cfg.has(Mutant::LiteralDualRead) => all & !(1 << c.g),
            _ => all,
        }
    }

    /// The PGCL the segments' reports show now: the highest allocated LSN whose SCL is reached
    /// by a write quorum of the configuration in force, lost disks left out.
    fn true_pgcl(&self) -> Lsn {
        let durable = (0..self.slots.len())
            .filter(|&i| !self.slots[i].lost && !self.slots[i].spare)
            .filter_map(|i| self.reports[i].map(|scl| (i, scl)));
        model_writer::pgcl_from_scls(&self.cfg, durable, self.allocated, &self.mem.cfg)
    }

    /// Install configuration `cfg_new` at the next membership epoch: every segment that is up
    /// adopts it in this event.
    fn bump(&mut self, cfg_new: Cfg) {
        self.mem.bump(cfg_new);
        let epoch = self.mem.epoch;
        let cfg = self.cfg.clone();
        for i in 0..self.slots.len() {
            if self.slots[i].spare {
                continue;
            }
            if let Some(node) = self.slots[i].node.as_mut() {
                node.learn_mem_epoch(&cfg, epoch)
                    .expect("a simulated disk does not fail");
                self.hello(i);
            }
        }
    }

    /// The control plane starts replacing member `f` by spare `g`: G joins, empty, in F's AZ,
    /// and the dual configuration is installed (not under Ma3).
    fn mem_begin(&mut self, f: u8, g: u8) -> bool {
        let (fi, gi) = (usize::from(f), usize::from(g));
        if fi >= self.slots.len()
            || gi >= self.slots.len()
            || self.budget.member_changes == 0
            || !self.mem.may_begin(f)
            || !self.slots[gi].spare
        {
            return false;
        }
        // G must hydrate to everything the group made durable: what the segments show now,
        // what the writer proved, and what clients were told.
        let max_acked = (16 - self.acked.leading_zeros()) as Lsn;
        let target = self.true_pgcl().max(self.writer.w.pgcl).max(max_acked);
        let dual = self.mem.dual_for(f, g);
        let up = self.up_set() | (1 << gi);
        if !dual.is_write_quorum(up, self.cfg.write_quorum, SegSet::MAX) {
            return false;
        }
        self.budget.member_changes -= 1;
        let vol = self.truncs.last().map_or(1, |t| t.epoch);
        let az = self.slots[fi].az;
        let node =
            SegmentNode::create(g, az, self.mem.epoch, vol, &self.truncs, MemDisk::default())
                .expect("a simulated disk does not fail");
        let slot = &mut self.slots[gi];
        slot.spare = false;
        slot.az = az;
        slot.node = Some(node);
        self.hello(gi);
        self.mem.change = Some(Change {
            f,
            g,
            target,
            heard: 0,
            hydrated: false,
        });
        if !self.cfg.has(Mutant::NoDualQuorum) {
            self.bump(dual);
        }
        true
    }

    /// The control plane finalizes the change once G has hydrated (or at once, under Ma4).
    fn mem_finalize(&mut self) -> bool {
        let Some(mut c) = self.mem.change else {
            return false;
        };
        // Hydration is judged when the control plane considers finalizing.
        let g = usize::from(c.g);
        let hydrates =
            self.reports[g].is_some_and(|scl| c.hydrates(self.cfg.read_quorum, self.up(g), scl));
        if hydrates {
            c.hydrated = true;
            self.mem.change = Some(c);
        }
        let new = self.mem.replacing(c.f, c.g);
        let ready = c.hydrated || self.cfg.has(Mutant::FinalizeBeforeHydration);
        if !ready || count(self.up_set() & new) < usize::from(self.cfg.write_quorum) {
            return hydrates;
        }
        self.bump(Cfg::single(new));
        self.mem.change = None;
        true
    }

    /// The control plane reverts the change because F is back: G is discarded.
    fn mem_revert(&mut self) -> bool {
        let Some(c) = self.mem.change else {
            return false;
        };
        let old = self.mem.cfg.sets[0];
        let wq = usize::from(self.cfg.write_quorum);
        if !self.up(usize::from(c.f)) || count(self.up_set() & old) < wq {
            return false;
        }
        if self.mem.cfg.dual {
            self.bump(Cfg::single(old));
        }
        self.lose_disk(usize::from(c.g));
        self.mem.change = None;
        true
    }

    /// Derived bookkeeping after every event: the writer's consistency points and client
    /// acks, and garbage collection.
    fn settle(&mut self) {
        if self.writer.w.mode != WriterMode::Open {
            return;
        }

        let newly = self.writer.advance(&self.cfg) & !self.acked;
        self.acked |= newly;
        if self.cfg.reads {
            let vdl = self.writer.w.vdl;
            let pgmrpl = self.reads.view.map_or(vdl, |rp| rp.min(vdl));
            let to = if self.cfg.has(Mutant::GcIgnoresReaders) {
                vdl
            } else {
                pgmrpl
            };
            self.reads.gc_point = self.reads.gc_point.max(to);
        }
    }

    /// Slot `i`'s segment as the model sees it: the running node's, or rebuilt from its disk.
    fn segment(&self, i: usize) -> Segment {
        let slot = &self.slots[i];
        if let Some(node) = &slot.node {
            return *node.seg();
        }
        if let Some(t) = slot.tombstone {
            return t;
        }
        if slot.spare {
            return Segment {
                up: false,
                lost: false,
                spare: true,
                az: u8::MAX,
                mem_epoch: 1,
                vol_epoch: 1,
                scl: 0,
                recs: [0; MAX_LSN],
            };
        }
        match SegmentNode::recover(&self.cfg, i as u8, slot.disk.clone()) {
            Ok(node) => Segment {
                up: false,
                ..*node.seg()
            },
            Err((RecoverError::Damaged(_), _)) | Err(_) => Segment {
                up: false,
                ..Segment::default()
            },
        }
    }

    /// The cluster's state in the model's terms. What the model's actors learn from messages
    /// (a segment's installed ranges, CPL flags and gossip peers; the writer's acks; the control
    /// plane's view of who is up) and the history the nodes do not keep (the model's ghost,
    /// except the acknowledged commits, which clients saw, and the consistency points, which the
    /// records carry) come from `model`, the model's state at the same point.
    pub fn lift(&self, model: &QuorumState) -> QuorumState {
        let segs = (0..self.slots.len())
            .map(|i| SegState {
                core: self.segment(i),
                ..model.segs[i]
            })
            .collect();
        let net = match self.cfg.messages {
            Messages::Instant => {
                let mut sent = [0; MAX_LSN];
                for (l, c) in self.sent.iter().enumerate() {
                    sent[l] = c.map_or(0, |c| c.msg.vol_epoch | if c.cpl { SENT_CPL } else { 0 });
                }
                Net::Instant { sent }
            }
            Messages::Explicit => Net::Explicit {
                msgs: self
                    .flight
                    .iter()
                    .map(|f| WriteMsg {
                        cpl: f.cpl,
                        ..f.msg
                    })
                    .collect(),
            },
        };
        let mut ghost = model.ghost;
        ghost.acked = self.acked;
        ghost.cpls = self.allocated_cpls;
        let writer = WriterState {
            core: self.writer.w,
            reads: self.reads,
            ..model.writer
        };
        let control = ControlState {
            mem: self.mem,
            truncs: self.truncs.iter().copied().collect(),
            ..model.control
        };
        QuorumState {
            segs,
            writer,
            control,
            net,
            budget: self.budget,
            ghost,
        }
    }

    /// The writer's state.
    pub fn writer(&self) -> &Writer {
        &self.writer.w
    }

    /// Membership in force.
    pub fn membership(&self) -> Cfg {
        self.mem.cfg
    }

    /// Commits acknowledged to clients, bit `l-1`.
    pub fn acked(&self) -> u16 {
        self.acked
    }

    /// Slots whose node runs.
    pub fn up_slots(&self) -> SegSet {
        self.up_set()
    }

    /// Number of members up.
    pub fn members_up(&self) -> usize {
        count(self.up_set() & self.mem.cfg.members())
    }

    /// Damage the disk of down segment `i` (flip one byte at `offset` modulo its length);
    /// false if it is up, lost or empty.
    pub fn corrupt_disk(&mut self, i: usize, offset: usize) -> bool {
        let slot = &mut self.slots[i];
        if slot.node.is_some() || slot.lost || slot.durable_len() == 0 {
            return false;
        }
        let len = slot.disk.durable.len();
        slot.disk.durable[offset % len] ^= 0x5A;
        true
    }
}

impl Slot {
    fn durable_len(&self) -> usize {
        self.disk.durable.len()
    }
}
