//! The simulated failover cluster: segment nodes with durable logs, database instances, the
//! control plane, the metadata service and the redo stream, driven one scheduled event at a
//! time.
//!
//! An event is named by the model's own [`Action`] (targets by identity: an instance, a
//! segment, an LSN and the epoch that sent it, a read quorum, an AZ), and [`Cluster::apply`]
//! carries it out the way the nodes would: a writer puts its records on the stream, the
//! network hands one to a segment, the segment judges it with the model's segment functions,
//! logs it and reports; a recovering instance asks the metadata service for an epoch, fences,
//! reads chain tops and decides with the model's recovery functions on what segments have told
//! it. Every message between nodes goes through the wire codec. A crash drops a node's memory
//! and keeps its disk; a restart rebuilds a segment from its disk alone.
//!
//! Where the model makes a step atomic, the event runs the exchange to completion: a request's
//! reply arrives in the same event, and after every event each segment that is up reports to
//! every instance that listens (the model's instant acks). Records sent stay on the stream:
//! the network may deliver any of them to any segment at any later time, as in the model.
//!
//! The volume's metadata lives here: the epoch counter and every truncation range (the
//! metadata service), the log's mini-transaction boundaries and the transaction table
//! (durable in the volume). History the model keeps as ghost variables is recorded from what
//! the nodes did (acknowledgements to clients, refusals, allocations) by the model's own
//! observer, never copied from the model's state.

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::config::{MAX_EPOCH, MAX_SEGMENTS};
use quorate_model::failover::instance::{self as rules, TxnMtr};
use quorate_model::failover::observer;
use quorate_model::failover::state::{
    Budget, EpochSet, FailoverState, Ghost, Inst, Lsn, Phase, Role, Seg, Trunc, epoch_bit,
};
use quorate_model::failover::step::{Action, init};
use quorate_model::quorum::config::MAX_LSN;

use super::host::{SegmentHost, SimHost};
use super::instance::InstanceNode;
use super::segment::Handled;
use super::wire::{self, Msg, WireTrunc};

/// The volume's durable metadata beyond the segments.
#[derive(Clone, Debug, Default)]
struct Volume {
    /// The metadata service's volume-epoch counter.
    epoch_ctr: u8,
    /// Every truncation range, oldest first (the metadata service).
    truncs: Vec<Trunc>,
    /// Consistency points: the last LSN of every mini-transaction allocated, bit `l-1`.
    cpls: u16,
    /// Transaction table: the MTRs that are transaction bodies, by their last LSN.
    bodies: u16,
    /// Transaction table: bodies whose transaction ended (committed or rolled back).
    done: u16,
    /// Transaction table: bodies whose transaction ended by rollback.
    rolled_back: u16,
}

fn bit(l: Lsn) -> u16 {
    1 << (l - 1)
}

/// The cluster, its segments on host `H` (simulated unless said otherwise).
#[derive(Debug)]
pub struct Cluster<H: SegmentHost = SimHost> {
    cfg: FailoverConfig,
    host: H,
    insts: Vec<InstanceNode>,
    /// Control plane: the instance the cluster endpoint routes to.
    endpoint: u8,
    vol: Volume,
    /// The redo stream: `sent[l-1]` = the epochs whose writer sent a record for LSN `l`.
    sent: [EpochSet; MAX_LSN],
    budget: Budget,
    /// What happened, as observed (the model's history variables).
    ghost: Ghost,
    /// One line per event carried out.
    log: Vec<String>,
    /// Datagrams rejected by the decoder.
    pub rejected_datagrams: u64,
}

impl Cluster {
    /// A fresh volume under `cfg` (which must pass `validate`), on simulated disks.
    pub fn new(cfg: &FailoverConfig) -> Self {
        let host = SimHost::new(init(cfg).segs.iter().map(|s| s.az));
        Cluster::with_host(cfg, host)
    }
}

impl<H: SegmentHost> Cluster<H> {
    /// A fresh volume under `cfg` on `host`, whose segments must be fresh and placed as the
    /// model's initial state places them.
    pub fn with_host(cfg: &FailoverConfig, host: H) -> Self {
        let init = init(cfg);
        let mut c = Cluster {
            cfg: cfg.clone(),
            host,
            insts: init.insts.iter().map(|&i| InstanceNode::new(i)).collect(),
            endpoint: init.endpoint,
            vol: Volume {
                epoch_ctr: init.epoch_ctr,
                ..Volume::default()
            },
            sent: [0; MAX_LSN],
            budget: init.budget,
            ghost: Ghost::default(),
            log: Vec::new(),
            rejected_datagrams: 0,
        };
        c.settle();
        c
    }

    /// The segments' host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The segments' host, to change.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// The event log so far, one line per event carried out.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    fn up(&self, i: usize) -> bool {
        self.host.up(i)
    }

    fn up_set(&self) -> u16 {
        (0..self.host.len())
            .filter(|&i| self.up(i))
            .fold(0, |a, i| a | (1 << i))
    }

    fn wire_truncs(&self) -> Vec<WireTrunc> {
        self.vol.truncs.iter().map(|&t| t.into()).collect()
    }

    /// Send `msg` to segment `i` through the codec; what it did with it.
    fn send_segment(&mut self, i: usize, msg: &Msg) -> Option<Handled> {
        let msg = match wire::decode(&wire::encode(msg)) {
            Ok(m) => m,
            Err(_) => {
                self.rejected_datagrams += 1;
                return None;
            }
        };
        self.host.handle(&self.cfg, i, &msg, &self.vol.truncs)
    }

    /// A request that changes segment `i` (a write, gossip, fence or install): whether it did.
    fn change(&mut self, i: usize, msg: &Msg) -> bool {
        matches!(self.send_segment(i, msg), Some(Handled::Changed { .. }))
    }

    /// The endpoint instance, if it is recovering, with its phase.
    fn recovering(&self) -> Option<(usize, Phase)> {
        let i = usize::from(self.endpoint);
        match self.insts.get(i)?.inst.role {
            Role::Recovering(p) => Some((i, p)),
            _ => None,
        }
    }

    /// Transactions active when their writer failed and not yet ended (body-end LSN bits),
    /// as the transaction table shows them to writer `w`: every unfinished one but its own.
    fn orphans(&self, w: &Inst) -> u16 {
        let own = if w.open_txn > 0 { bit(w.open_txn) } else { 0 };
        self.vol.bodies & !self.vol.done & !own
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
        match *action {
            Action::WriteMtr { inst } => self.write_mtr(usize::from(inst)),
            Action::Deliver { seg, lsn, epoch } => self.deliver(usize::from(seg), lsn, epoch),
            Action::Gossip { from, to, lsn } => {
                let (f, t) = (usize::from(from), usize::from(to));
                if f == t || !self.up(f) || !(1..=MAX_LSN as Lsn).contains(&lsn) {
                    return false;
                }
                let w = self.host.segment(&self.cfg, f).rec(lsn);
                w != 0 && self.change(t, &Msg::Gossip { lsn, epoch: w })
            }
            Action::Promote => self.promote(),
            Action::GetEpoch => {
                let Some((i, Phase::Promoted)) = self.recovering() else {
                    return false;
                };
                let e = rules::next_epoch(&self.cfg, self.vol.epoch_ctr);
                self.vol.epoch_ctr = e;
                let x = &mut self.insts[i].inst;
                x.epoch = e;
                x.role = Role::Recovering(Phase::Fencing);
                true
            }
            Action::Fence { seg } => {
                let Some((i, phase)) = self.recovering() else {
                    return false;
                };
                if !rules::may_fence(&self.cfg, phase) {
                    return false;
                }
                let epoch = self.insts[i].inst.epoch;
                self.change(usize::from(seg), &Msg::Fence { epoch })
            }
            Action::ReadScl { quorum } => self.read_scl(quorum),
            Action::WriteTrunc { seg } => {
                let Some(x) = self.insts.get(usize::from(self.endpoint)).map(|n| n.inst) else {
                    return false;
                };
                let may = matches!(x.role, Role::Recovering(Phase::Truncating { .. }))
                    || (x.role == Role::Writer && !x.cut_off);
                let msg = Msg::Install {
                    epoch: x.epoch,
                    truncs: self.wire_truncs(),
                };
                may && self.change(usize::from(seg), &msg)
            }
            Action::Open => self.open(),
            Action::Undo => {
                let i = usize::from(self.endpoint);
                let Some(w) = self.insts.get(i).map(|n| n.inst) else {
                    return false;
                };
                let orphans = self.orphans(&w);
                if !rules::may_undo(&self.cfg, &w, orphans) {
                    return false;
                }
                self.vol.done |= orphans;
                self.vol.rolled_back |= orphans;
                observer::rolled_back(&mut self.ghost, orphans);
                true
            }
            Action::Sync { replica } => {
                let r = usize::from(replica);
                let Some(w) = self.insts.get(usize::from(self.endpoint)).map(|n| n.inst) else {
                    return false;
                };
                if w.role != Role::Writer
                    || w.cut_off
                    || self
                        .insts
                        .get(r)
                        .is_none_or(|x| x.inst.role != Role::Replica)
                {
                    return false;
                }
                let msg = Msg::Vdl {
                    epoch: w.epoch,
                    vdl: w.vdl,
                };
                let Ok(Msg::Vdl { epoch, vdl }) = wire::decode(&wire::encode(&msg)) else {
                    self.rejected_datagrams += 1;
                    return false;
                };
                let x = &mut self.insts[r].inst;
                x.known_vdl = vdl;
                x.follows = epoch;
                true
            }
            Action::Apply { replica } => {
                let r = usize::from(replica);
                let Some(x) = self.insts.get(r).map(|n| n.inst) else {
                    return false;
                };
                match rules::next_apply(&self.cfg, &x, &self.sent, self.vol.cpls, &self.vol.truncs)
                {
                    Some(applied) => {
                        self.insts[r].inst.applied = applied;
                        true
                    }
                    None => false,
                }
            }
            Action::WriterCrash | Action::WriterPartition => {
                let i = usize::from(self.endpoint);
                let w = self.insts[i].inst;
                let partition = *action == Action::WriterPartition;
                if w.role != Role::Writer
                    || w.cut_off
                    || self.budget.writer_failures == 0
                    || (partition && !self.cfg.partitions)
                {
                    return false;
                }
                self.budget.writer_failures -= 1;
                if partition {
                    self.insts[i].inst.cut_off = true;
                } else {
                    self.insts[i] = self.insts[i].crashed();
                }
                true
            }
            Action::RecoveryCrash => {
                let Some((i, _)) = self.recovering() else {
                    return false;
                };
                if self.budget.recovery_crashes == 0 {
                    return false;
                }
                self.budget.recovery_crashes -= 1;
                self.insts[i] = self.insts[i].crashed();
                true
            }
            Action::ReplicaCrash { replica } => {
                let r = usize::from(replica);
                if self
                    .insts
                    .get(r)
                    .is_none_or(|x| x.inst.role != Role::Replica)
                    || self.budget.replica_crashes == 0
                {
                    return false;
                }
                self.budget.replica_crashes -= 1;
                self.insts[r] = self.insts[r].crashed();
                true
            }
            Action::RestartInstance { inst } => {
                let i = usize::from(inst);
                if self.insts.get(i).is_none_or(|x| x.inst.role != Role::Down)
                    || inst == self.endpoint
                {
                    return false;
                }
                self.insts[i] = InstanceNode::new(Inst::replica(self.insts[i].inst.tier));
                true
            }
            Action::SegCrash { seg } => {
                let i = usize::from(seg);
                if !self.up(i) || self.budget.seg_crashes == 0 {
                    return false;
                }
                self.budget.seg_crashes -= 1;
                self.take_down(i);
                true
            }
            Action::SegRestart { seg } => self.restart(usize::from(seg)),
            Action::AzOutage { az } => {
                if self.budget.az_outages == 0 {
                    return false;
                }
                let hit: Vec<usize> = (0..self.host.len())
                    .filter(|&i| self.host.az(i) == az && self.up(i))
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
        }
    }

    /// Writer `i` allocates its next mini-transaction and puts its records on the stream.
    fn write_mtr(&mut self, i: usize) -> bool {
        let Some(node) = self.insts.get(i) else {
            return false;
        };
        let w = node.inst;
        let Some((first, last)) = rules::next_mtr(&self.cfg, &w) else {
            return false;
        };
        self.vol.cpls |= bit(last);
        for l in first..=last {
            self.sent[usize::from(l) - 1] |= epoch_bit(w.epoch);
        }
        observer::allocated(&mut self.ghost, i as u8, w.epoch);
        let node = &mut self.insts[i];
        node.inst.next_lsn = last + 1;
        match rules::txn_mtr(&self.cfg, &w) {
            TxnMtr::Commits => {}
            TxnMtr::Body => {
                // A transaction's body: nothing to acknowledge yet.
                self.vol.bodies |= bit(last);
                node.inst.open_txn = last;
                node.begun_here = true;
            }
            TxnMtr::CommitOf { body } => {
                let ended = self.vol.done & bit(body) != 0;
                observer::committed_txn(&mut self.ghost, last, node.begun_here, ended);
                self.vol.done |= bit(body);
                node.inst.open_txn = 0;
                node.begun_here = false;
            }
        }
        true
    }

    /// The network hands the record of `lsn` sent at `epoch` to segment `i`.
    fn deliver(&mut self, i: usize, lsn: Lsn, epoch: u8) -> bool {
        if !(1..=MAX_LSN as Lsn).contains(&lsn)
            || epoch == 0
            || usize::from(epoch) > MAX_EPOCH
            || self.sent[usize::from(lsn) - 1] & epoch_bit(epoch) == 0
        {
            return false;
        }
        // The writer of that epoch knows its own epoch's truncation range, if any.
        let range = self
            .vol
            .truncs
            .iter()
            .find(|t| t.epoch == epoch)
            .map(|&t| t.into());
        let verdict = match self.send_segment(i, &Msg::Write { lsn, epoch, range }) {
            Some(Handled::Changed { stale_accepted }) => Ok(stale_accepted),
            Some(Handled::Refused(r)) => Err(r.into()),
            _ => return false,
        };
        observer::write_handled(&mut self.ghost, verdict)
    }

    /// The control plane finds the endpoint's instance down or unreachable and promotes the
    /// best replica (with none, a crashed instance restarts and recovers itself).
    fn promote(&mut self) -> bool {
        let insts: Vec<Inst> = self.insts.iter().map(|x| x.inst).collect();
        let Some(b) = rules::to_promote(&insts, usize::from(self.endpoint)) else {
            return false;
        };
        let tier = insts[b].tier;
        self.insts[b] = InstanceNode::new(Inst {
            role: Role::Recovering(Phase::Promoted),
            ..Inst::replica(tier)
        });
        self.endpoint = b as u8;
        true
    }

    /// The recovering instance reads the chain tops of read quorum `quorum`, computes the
    /// recovered VDL and writes its truncation range to the metadata service.
    fn read_scl(&mut self, quorum: u16) -> bool {
        let Some((i, Phase::Fencing)) = self.recovering() else {
            return false;
        };
        let cfg = self.cfg.clone();
        let e = self.insts[i].inst.epoch;
        if quorum & !self.up_set() != 0 || quorum.count_ones() != u32::from(cfg.read_quorum) {
            return false;
        }
        let fenced = self.insts[i].view().iter().filter(|x| x.fence >= e).count();
        if !rules::may_read(&cfg, fenced) {
            return false;
        }
        let request = Msg::ReadScl {
            truncs: self.wire_truncs(),
        };
        let mut tops = Vec::new();
        for k in (0..self.host.len()).filter(|&k| quorum & (1 << k) != 0) {
            let reply = match self.send_segment(k, &request) {
                Some(Handled::Reply(r)) => r,
                _ => return false,
            };
            match wire::decode(&wire::encode(&reply)) {
                Ok(Msg::SclReply { top, .. }) => tops.push(top),
                _ => {
                    self.rejected_datagrams += 1;
                    return false;
                }
            }
        }
        let rvdl = rules::recovered_vdl(&cfg, tops.into_iter(), self.vol.cpls, &self.vol.truncs);
        observer::recovered(&mut self.ghost, e, rvdl);
        if let Some(t) = rules::truncation(&cfg, rvdl, e) {
            let held: Vec<Seg> = (0..self.host.len()).map(|k| self.segment(k)).collect();
            observer::range_written(&mut self.ghost, t, &held);
            self.vol.truncs.push(t);
            let v = &self.vol;
            let commits = v.cpls & !v.bodies;
            self.vol.done = rules::txn_table_after_range(
                t,
                v.done,
                v.bodies,
                v.rolled_back,
                commits,
                &self.sent,
            );
        }
        self.insts[i].inst.role = Role::Recovering(Phase::Truncating { rvdl });
        true
    }

    /// The recovering instance opens for writes once the segments it hears from show its
    /// epoch fenced, its range installed and the log repaired, each at a write quorum.
    fn open(&mut self) -> bool {
        let Some((i, Phase::Truncating { rvdl })) = self.recovering() else {
            return false;
        };
        let cfg = &self.cfg;
        let e = self.insts[i].inst.epoch;
        if !rules::may_open(cfg, e, rvdl, &self.insts[i].view(), &self.vol.truncs) {
            return false;
        }
        let base = rules::open_base(cfg, rvdl, &self.vol.truncs);
        let adopted = rules::adopted(cfg, self.orphans(&self.insts[i].inst));
        let node = &mut self.insts[i];
        let w = &mut node.inst;
        w.role = Role::Writer;
        w.pgcl = rvdl;
        w.vdl = rvdl;
        w.base = base;
        w.next_lsn = base;
        w.open_txn = adopted;
        node.begun_here = false;
        observer::opened(&mut self.ghost);
        true
    }

    /// Segment `i` goes down: memory gone, disk kept, connections broken.
    fn take_down(&mut self, i: usize) {
        if self.host.take_down(i) {
            for x in &mut self.insts {
                x.lost_contact(i);
            }
        }
    }

    fn restart(&mut self, i: usize) -> bool {
        if i >= self.host.len() || self.up(i) {
            return false;
        }
        match self.host.restart(&self.cfg, i) {
            Ok(()) => true,
            Err(why) => {
                // A damaged log: the segment stays down (reported).
                self.log.push(format!("segment {i} cannot restart: {why}"));
                false
            }
        }
    }

    /// After every event: each segment that is up reports to every instance that listens;
    /// each writer advances PGCL and VDL on those reports and acknowledges the commits at or
    /// below its VDL.
    fn settle(&mut self) {
        let mut reports = Vec::new();
        for k in 0..self.host.len() {
            let Some(report) = self.host.report(k) else {
                continue;
            };
            match wire::decode(&wire::encode(&report)) {
                Ok(r) => reports.push((k, self.host.az(k), r)),
                Err(_) => self.rejected_datagrams += 1,
            }
        }
        for x in self.insts.iter_mut().filter(|x| x.listens()) {
            // Only this round's reports count as up: a segment whose report did not arrive
            // stays as it last reported, marked down.
            for k in 0..MAX_SEGMENTS {
                x.lost_contact(k);
            }
            for (_, az, r) in &reports {
                x.on_report(r, *az);
            }
        }
        let commits = self.vol.cpls & !self.vol.bodies;
        for k in 0..self.insts.len() {
            let w = self.insts[k].inst;
            if w.role != Role::Writer {
                continue;
            }
            let view = self.insts[k].view();
            let (pgcl, vdl) =
                rules::progress(&self.cfg, &w, &view, self.vol.cpls, &self.vol.truncs);
            self.insts[k].inst.pgcl = pgcl;
            self.insts[k].inst.vdl = vdl;
            let acked = rules::acknowledged(&w, vdl, commits, &self.sent);
            observer::acknowledged(&mut self.ghost, w.epoch, acked);
        }
    }

    /// Segment `i` as the model sees it: the running node's, or rebuilt from its disk.
    fn segment(&self, i: usize) -> Seg {
        self.host.segment(&self.cfg, i)
    }

    /// The cluster's state in the model's terms.
    pub fn lift(&self) -> FailoverState {
        let ghost = self.ghost;
        FailoverState {
            segs: (0..self.host.len()).map(|i| self.segment(i)).collect(),
            insts: self.insts.iter().map(|x| x.inst).collect(),
            endpoint: self.endpoint,
            epoch_ctr: self.vol.epoch_ctr,
            truncs: self.vol.truncs.iter().copied().collect(),
            sent: self.sent,
            cpls: self.vol.cpls,
            bodies: self.vol.bodies,
            txn_done: self.vol.done,
            aborted: self.vol.rolled_back,
            budget: self.budget,
            ghost,
        }
    }

    /// Segments whose node runs (bit = slot).
    pub fn up_slots(&self) -> u16 {
        self.up_set()
    }

    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.host.len().min(MAX_SEGMENTS)
    }
}
