//! The simulated Global Database: region nodes with durable logs, the clients' workload, the
//! control plane and the network between regions, driven one scheduled event at a time.
//!
//! An event is named by the model's own [`Action`], and [`Cluster::apply`] carries it out the
//! way the nodes would: a client asks its region to write; a secondary reports what it holds
//! to the primary, which answers with the next record; the control plane polls the regions it
//! reaches and sends them its commands (switchover, fence, promotion, rebuild, rejoin),
//! deciding with the model's own control-plane functions on what they report. Every message
//! goes through the wire codec. An outage drops a node's memory and keeps its disk; a return
//! rebuilds the node from its disk alone.
//!
//! After every event a round runs, the model's eager `settle`: every reachable region reports
//! to the control plane, every reachable secondary sends its lag report to the primary (when
//! the primary is reachable), and the clients ask every running writer for the commits they
//! wait for; the writer acknowledges them, or holds them back, by the RPO gate on this round's
//! reports.
//!
//! **What the control plane knows.** It hears only regions it reaches, and keeps the last
//! report of each. That is exact for a secondary, whose log changes only while it is
//! reachable (by the stream, a rebuild or a rejoin, each followed by a round), and for a
//! region that is down. A primary that is cut off may write on, so every decision that reads
//! the primary's log (a rebuild, a rejoin's snapshot, a switchover) waits until it is
//! reachable and reads a fresh report (the model's MC16 for the rejoin).
//!
//! **The storage control path.** The fence and the operator's cancel of a switchover reach a
//! region's volume even when its region is cut off or down, as the model's do: reliable
//! fencing is that assumption, and the best-effort fence is a fence that fails.
//!
//! History the model keeps as ghost variables is recorded from what happened (the clients'
//! acknowledgements, the nodes' replies), with the model's own observer functions
//! (`quorate_model::global::history`) on the cluster's state.

use arrayvec::ArrayVec;

use quorate_model::global::config::Fencing;
use quorate_model::global::region as rules;
use quorate_model::global::state::{
    Budget, F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_REBUILD_CUT, F_REJOINED, F_SWITCHOVER_CANCELLED,
    F_SWITCHOVER_DONE, GEpoch, Ghost, GlobalState, Op, Rec, Region, Role, Txn, txn_bit,
};
use quorate_model::global::step::{Action, init};
use quorate_model::global::{GlobalConfig, Mutant, history};

use super::host::{RegionHost, SimHost};
use super::region::View;
use super::wire::{self, Msg, WireRec};

/// The control plane's state.
#[derive(Clone, Debug)]
struct ControlPlane {
    /// The current global epoch.
    gepoch: GEpoch,
    /// The region it names primary.
    primary: u8,
    /// The operation in progress.
    op: Op,
    /// What it has each region doing.
    roles: Vec<Role>,
    /// The last report of each region: its log and whether it is writable.
    known: Vec<(Vec<WireRec>, bool)>,
}

/// The cluster, its regions on host `H` (simulated unless said otherwise).
#[derive(Debug)]
pub struct Cluster<H: RegionHost = SimHost> {
    cfg: GlobalConfig,
    host: H,
    /// The network: regions cut off from the others and the control plane.
    cut_off: Vec<bool>,
    cp: ControlPlane,
    /// The clock every node reads.
    t: u8,
    /// The workload: transactions begun (the next id is `begun + 1`).
    begun: u8,
    budget: Budget,
    /// What happened, as observed.
    ghost: Ghost,
    /// Old primaries' snapshots: the region and the transactions saved.
    pub snapshots: Vec<(u8, Vec<Txn>)>,
    /// The clients: the transactions whose commit was acknowledged to them.
    acked: std::collections::BTreeSet<Txn>,
    /// One line per event carried out.
    log: Vec<String>,
    /// Datagrams rejected by the decoder.
    pub rejected_datagrams: u64,
}

fn recs(log: &[WireRec]) -> Vec<Rec> {
    log.iter().map(WireRec::rec).collect()
}

impl Cluster {
    /// A fresh Global Database under `cfg` (which must pass `validate`), on simulated disks.
    pub fn new(cfg: &GlobalConfig) -> Self {
        Cluster::with_host(cfg, SimHost::new(cfg.regions, init(cfg).primary))
    }
}

impl<H: RegionHost> Cluster<H> {
    /// A fresh Global Database under `cfg` on `host`, whose regions must be fresh, the first
    /// primary as the model's initial state has it.
    pub fn with_host(cfg: &GlobalConfig, host: H) -> Self {
        let init = init(cfg);
        let mut c = Cluster {
            cfg: cfg.clone(),
            host,
            cut_off: vec![false; usize::from(cfg.regions)],
            cp: ControlPlane {
                gepoch: init.gepoch,
                primary: init.primary,
                op: init.op,
                roles: init.regions.iter().map(|x| x.role).collect(),
                known: vec![(Vec::new(), false); usize::from(cfg.regions)],
            },
            t: init.t,
            begun: init.begun,
            budget: init.budget,
            ghost: Ghost::default(),
            snapshots: Vec::new(),
            acked: std::collections::BTreeSet::new(),
            log: Vec::new(),
            rejected_datagrams: 0,
        };
        c.settle();
        c
    }

    /// The event log so far, one line per event carried out.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// The regions' host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The regions' host, to change.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// How many regions.
    pub fn regions(&self) -> usize {
        self.host.len()
    }

    fn up(&self, r: usize) -> bool {
        self.host.up(r)
    }

    fn reachable(&self, r: usize) -> bool {
        self.up(r) && !self.cut_off[r]
    }

    fn p(&self) -> usize {
        usize::from(self.cp.primary)
    }

    /// A datagram through the codec: the message as it arrives, or `None` if it was refused.
    fn transmit(&mut self, msg: &Msg) -> Option<Msg> {
        match wire::decode(&wire::encode(msg)) {
            Ok(m) => Some(m),
            Err(_) => {
                self.rejected_datagrams += 1;
                None
            }
        }
    }

    /// Send `msg` to region `r`'s node; its reply (`None`: down, or no reply).
    fn send(&mut self, r: usize, msg: &Msg) -> Option<Msg> {
        let msg = self.transmit(msg)?;
        let reply = self.host.handle(&self.cfg, r, &msg, self.t)?;
        self.transmit(&reply)
    }

    /// A command on the storage control path: it reaches region `r`'s volume whether the
    /// region is cut off or down (then its node is replayed from the disk to apply it).
    fn control(&mut self, r: usize, msg: &Msg) -> Option<Msg> {
        if self.up(r) {
            return self.send(r, msg);
        }
        let msg = self.transmit(msg)?;
        let reply = self.host.at_rest(&self.cfg, r, &msg, self.t)?;
        self.transmit(&reply)
    }

    /// What the control plane knows of region `r`: a fresh report if it reaches it, else the
    /// last one.
    fn known(&mut self, r: usize) -> (Vec<WireRec>, bool) {
        if self.reachable(r)
            && let Some(Msg::Report { log, writable, .. }) = self.send(r, &Msg::Poll)
        {
            self.cp.known[r] = (log, writable);
        }
        self.cp.known[r].clone()
    }

    /// Region `r`'s node as it is (replayed from its disk while it is down).
    fn view_of(&self, r: usize) -> View {
        self.host.view(r)
    }

    /// The cluster's state in the model's terms.
    pub fn lift(&self) -> GlobalState {
        let regions = (0..self.host.len())
            .map(|r| {
                let v = self.view_of(r);
                Region {
                    role: self.cp.roles[r],
                    up: self.up(r),
                    cut_off: self.cut_off[r],
                    writable: v.writable,
                    gepoch: v.gepoch,
                    log: v.recs().into_iter().collect::<ArrayVec<_, _>>(),
                }
            })
            .collect();
        GlobalState {
            regions,
            gepoch: self.cp.gepoch,
            primary: self.cp.primary,
            op: self.cp.op,
            t: self.t,
            begun: self.begun,
            budget: self.budget,
            ghost: self.ghost,
        }
    }

    /// Where a node's own idea of what it does disagrees with the control plane's table: a
    /// region that writes must be the primary or an old primary, and one that does not must
    /// be neither (the lifted state shows the table's roles; this shows what they hide).
    pub fn disagreements(&self) -> Vec<String> {
        (0..self.host.len())
            .filter_map(|r| {
                let writes = self.view_of(r).writes;
                let role = self.cp.roles[r];
                (writes != quorate_model::global::step::writes(role))
                    .then(|| format!("region {r} is {role:?} but its node writes: {writes}"))
            })
            .collect()
    }

    /// Record history with the model's observer functions, on the cluster's state.
    fn observe(&mut self, f: impl FnOnce(&mut GlobalState)) {
        let mut s = self.lift();
        f(&mut s);
        self.ghost = s.ghost;
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
            Action::Write { region } => self.write(usize::from(region)),
            Action::Replicate { region } => self.replicate(usize::from(region)),
            Action::Tick => {
                if self.t >= self.cfg.max_time {
                    return false;
                }
                self.t += 1;
                true
            }
            Action::SwitchoverStart { target } => self.switchover_start(usize::from(target)),
            Action::Drain => self.drain(),
            Action::SwitchoverPromote => self.switchover_promote(),
            Action::SwitchoverCancel => {
                if !matches!(self.cp.op, Op::Switchover { .. }) {
                    return false;
                }
                let p = self.p();
                let mode = Msg::Mode {
                    writable: true,
                    draining: false,
                };
                self.control(p, &mode);
                self.cp.op = Op::Idle;
                self.ghost.flags |= F_SWITCHOVER_CANCELLED;
                true
            }
            Action::FailoverStart => self.failover_start(),
            Action::Fence { ok } => self.fence(ok),
            Action::FailoverPromote => self.failover_promote(),
            Action::Rebuild { region } => self.rebuild(usize::from(region)),
            Action::Rejoin { region } => self.rejoin(usize::from(region)),
            Action::Outage { region } => {
                let r = usize::from(region);
                if !self.up(r) || self.budget.outages == 0 {
                    return false;
                }
                self.budget.outages -= 1;
                self.host.take_down(r);
                true
            }
            Action::Return { region } => {
                let r = usize::from(region);
                if self.up(r) {
                    return false;
                }
                match self.host.bring_back(r) {
                    Ok(()) => true,
                    Err(why) => {
                        // A damaged log: the region stays down (reported).
                        self.log.push(format!("region {r} cannot come back: {why}"));
                        false
                    }
                }
            }
            Action::Partition { region } => {
                let r = usize::from(region);
                if self.cut_off[r] || !self.up(r) || self.budget.partitions == 0 {
                    return false;
                }
                self.budget.partitions -= 1;
                self.cut_off[r] = true;
                true
            }
            Action::Heal { region } => {
                let r = usize::from(region);
                if !self.cut_off[r] {
                    return false;
                }
                self.cut_off[r] = false;
                true
            }
        }
    }

    /// A client in region `r` asks it to write; the workload offers a new transaction if it
    /// has one left.
    fn write(&mut self, r: usize) -> bool {
        let offer = (self.begun < self.cfg.txns).then_some(self.begun + 1);
        let Some(Msg::Wrote { rec, begins }) = self.send(r, &Msg::Write { offer }) else {
            return false;
        };
        if begins {
            self.begun += 1;
        }
        if rec.commit && rec.txn != 0 {
            self.ghost.ts[usize::from(rec.txn) - 1] = rec.ts;
        }
        true
    }

    /// Secondary `r` reports to the primary, which streams it the next record. A failover
    /// detaches the secondaries from the old primary when it starts.
    fn replicate(&mut self, r: usize) -> bool {
        let p = self.p();
        let detached = matches!(self.cp.op, Op::Failover { .. });
        if self.cp.roles[r] != Role::Secondary
            || !self.reachable(r)
            || !self.reachable(p)
            || detached
        {
            return false;
        }
        let Some(report) = self.send(r, &Msg::Poll) else {
            return false;
        };
        let Some(record @ Msg::Record { .. }) = self.send(p, &report) else {
            return false;
        };
        matches!(self.send(r, &record), Some(Msg::Done))
    }

    fn switchover_start(&mut self, t: usize) -> bool {
        let p = self.p();
        let roles_ok = self
            .cp
            .roles
            .iter()
            .all(|x| matches!(x, Role::Primary | Role::Secondary));
        let ok = self.cp.op == Op::Idle
            && self.budget.switchovers > 0
            && t != p
            && self.cp.roles[p] == Role::Primary
            && self.reachable(p)
            && self.cp.roles[t] == Role::Secondary
            && self.reachable(t)
            && roles_ok;
        if !ok || !self.known(p).1 {
            return false;
        }
        self.budget.switchovers -= 1;
        let mode = Msg::Mode {
            writable: !rules::read_only_at_start(&self.cfg),
            draining: true,
        };
        self.control(p, &mode);
        self.cp.op = Op::Switchover {
            target: t as u8,
            marker: 0,
            synced: false,
        };
        true
    }

    fn drain(&mut self) -> bool {
        let Op::Switchover {
            target,
            marker: 0,
            synced,
        } = self.cp.op
        else {
            return false;
        };
        let p = self.p();
        if !self.reachable(p) {
            return false;
        }
        if self.cfg.has(Mutant::SyncThenReadOnly) {
            // "Wait until the target is synchronized, then make the primary read-only."
            let (own, writable) = self.known(p);
            if !synced {
                if recs(&self.known(usize::from(target)).0) != recs(&own) {
                    return false;
                }
                self.cp.op = Op::Switchover {
                    target,
                    marker: 0,
                    synced: true,
                };
                return true;
            }
            if !writable {
                return false;
            }
            let mode = Msg::Mode {
                writable: false,
                draining: true,
            };
            return self.control(p, &mode).is_some();
        }
        let Some(Msg::Marker { lsn }) = self.send(p, &Msg::Drain) else {
            return false;
        };
        self.cp.op = Op::Switchover {
            target,
            marker: lsn,
            synced,
        };
        true
    }

    /// Region `t` is the primary at epoch `e` (its node already promoted).
    fn promoted(&mut self, t: usize, e: GEpoch) {
        let len = self.known(t).0.len();
        self.cp.gepoch = e;
        self.cp.roles[t] = Role::Primary;
        self.cp.primary = t as u8;
        self.cp.op = Op::Idle;
        self.ghost.start[usize::from(e) - 1] = len as u8;
    }

    fn switchover_promote(&mut self) -> bool {
        let Op::Switchover {
            target,
            marker,
            synced,
        } = self.cp.op
        else {
            return false;
        };
        let (t, p) = (usize::from(target), self.p());
        if !self.reachable(t) || !self.reachable(p) {
            return false;
        }
        let (target_len, writable) = (self.known(t).0.len(), self.known(p).1);
        if !rules::switchover_ready(&self.cfg, marker, synced, target_len, writable) {
            return false;
        }
        let e = self.cp.gepoch + 1;
        let promote = Msg::Promote {
            gepoch: e,
            failover: false,
        };
        if !matches!(self.send(t, &promote), Some(Msg::Promoted { .. })) {
            return false;
        }
        if !matches!(self.send(p, &Msg::Demote), Some(Msg::Done)) {
            return false;
        }
        self.promoted(t, e);
        self.cp.roles[p] = Role::Secondary;
        self.ghost.by_switchover |= 1 << (e - 1);
        self.ghost.flags |= F_SWITCHOVER_DONE;
        true
    }

    fn failover_start(&mut self) -> bool {
        let p = self.p();
        if self.cp.op != Op::Idle || self.budget.failovers == 0 || self.reachable(p) {
            return false;
        }
        let mut candidates = Vec::new();
        for r in 0..self.host.len() {
            if self.cp.roles[r] == Role::Secondary && self.reachable(r) {
                candidates.push((r, self.known(r).0.len()));
            }
        }
        let Some(t) = rules::failover_target(&self.cfg, &candidates) else {
            return false;
        };
        let e_next = rules::failover_epoch(&self.cfg, self.cp.gepoch);
        self.observe(|s| history::failover_chosen(s, p, e_next));
        self.budget.failovers -= 1;
        self.cp.op = Op::Failover {
            target: t as u8,
            fenced: false,
        };
        true
    }

    fn fence(&mut self, ok: bool) -> bool {
        let Op::Failover {
            target,
            fenced: false,
        } = self.cp.op
        else {
            return false;
        };
        if !ok && self.cfg.fencing != Fencing::BestEffort {
            return false;
        }
        if rules::fences(&self.cfg, ok) {
            let p = self.p();
            if self.up(p) {
                self.ghost.flags |= F_FENCED_LIVE; // cut off, still running
            }
            self.control(p, &Msg::Fence);
        }
        self.cp.op = Op::Failover {
            target,
            fenced: true,
        };
        true
    }

    fn failover_promote(&mut self) -> bool {
        let Op::Failover {
            target,
            fenced: true,
        } = self.cp.op
        else {
            return false;
        };
        let (t, p) = (usize::from(target), self.p());
        if !self.reachable(t) {
            return false;
        }
        let (old_e, e) = (
            self.cp.gepoch,
            rules::failover_epoch(&self.cfg, self.cp.gepoch),
        );
        let promote = Msg::Promote {
            gepoch: e,
            failover: true,
        };
        let Some(Msg::Promoted { dropped }) = self.send(t, &promote) else {
            return false;
        };
        if dropped {
            self.ghost.flags |= F_HALF_TXN_DROPPED;
        }
        self.promoted(t, e);
        self.cp.roles[p] = Role::Old;
        let new_log = recs(&self.known(t).0);
        for r in 0..self.host.len() {
            let secondary = matches!(self.cp.roles[r], Role::Secondary | Role::Rebuilding);
            if r == t || !secondary {
                continue;
            }
            let own = recs(&self.known(r).0);
            if rules::needs_rebuild(&self.cfg, &own, &new_log) {
                self.cp.roles[r] = Role::Rebuilding;
            }
        }
        self.observe(|s| history::failover_done(s, t, old_e, e));
        true
    }

    fn rebuild(&mut self, r: usize) -> bool {
        let p = self.p();
        if self.cp.roles[r] != Role::Rebuilding || !self.reachable(r) || !self.reachable(p) {
            return false;
        }
        let primary = self.known(p).0;
        let Some(Msg::Rebuilt { cut }) = self.send(r, &Msg::Rebuild { primary }) else {
            return false;
        };
        if cut {
            self.ghost.flags |= F_REBUILD_CUT;
        }
        self.cp.roles[r] = Role::Secondary;
        true
    }

    fn rejoin(&mut self, r: usize) -> bool {
        let p = self.p();
        let ready = self.cp.op == Op::Idle && self.reachable(r) && self.reachable(p);
        if self.cp.roles[r] != Role::Old || !ready {
            return false;
        }
        let primary_holds = self
            .known(p)
            .0
            .iter()
            .filter(|c| c.commit && c.txn != 0)
            .map(|c| c.txn)
            .collect();
        let Some(Msg::Rejoined { snapshot }) = self.send(r, &Msg::Rejoin { primary_holds }) else {
            return false;
        };
        for &x in &snapshot {
            self.ghost.snapshot |= txn_bit(x);
        }
        self.snapshots.push((r as u8, snapshot));
        self.cp.roles[r] = Role::Secondary;
        self.ghost.rejoined |= 1 << r;
        self.ghost.flags |= F_REJOINED;
        true
    }

    /// The round after every event (the model's `settle`): reports, lag reports, and the
    /// clients' wait for acknowledgements.
    fn settle(&mut self) {
        let p = self.p();
        self.host.new_round();
        for r in 0..self.host.len() {
            if !self.reachable(r) {
                continue;
            }
            let Some(report @ Msg::Report { .. }) = self.send(r, &Msg::Poll) else {
                continue;
            };
            if let Msg::Report { log, writable, .. } = &report {
                self.cp.known[r] = (log.clone(), *writable);
            }
            if r != p && self.cp.roles[r] == Role::Secondary && self.reachable(p) {
                self.send(p, &report); // a lag report; the record it answers with is not sent
            }
        }
        for r in 0..self.host.len() {
            let waiting: Vec<Txn> = (1..=self.begun)
                .filter(|x| !self.acked.contains(x))
                .collect();
            match self.send(r, &Msg::AckRequest { waiting }) {
                Some(Msg::Acked { txns }) => {
                    self.acked.extend(&txns);
                    let cfg = self.cfg.clone();
                    self.observe(|s| history::acknowledged(&cfg, s, r, &txns));
                }
                Some(Msg::Held { txns }) => self.observe(|s| history::held_back(s, r, &txns)),
                _ => {}
            }
        }
    }
}
