//! A database instance of a live failover cluster: a thread with its own UDP socket, running
//! on its own timers, deciding with the model's instance functions
//! ([`quorate_model::failover::instance`]) on what segments and the metadata service answer.
//!
//! * **Writer.** It allocates its next mini-transaction ([`rules::next_mtr`], bounded by the
//!   LSN allocation limit), registers it with the metadata service, sends each record to the
//!   segments that lack it (installing its epoch and truncation range first where a segment
//!   needs it), asks every segment for its report, advances PGCL and VDL
//!   ([`rules::progress`]) and acknowledges the commits at or below VDL
//!   ([`rules::acknowledged`]). It streams its epoch and VDL to the replicas.
//! * **Recovering** (after the control plane's `Promote`): a new epoch from the metadata
//!   service; fence every segment; once a write quorum shows the fence, read the chain tops of a
//!   read quorum ([`rules::recovered_vdl`]); write the truncation range
//!   ([`rules::truncation`]) to the metadata service, install it on the segments, repair every
//!   record at or below the recovered VDL to a write quorum; open once [`rules::may_open`].
//! * **Replica.** It takes the VDL the writer streams (never one of an older epoch than it
//!   follows) and applies whole mini-transactions up to it ([`rules::next_apply`]).
//!
//! A second thread of the node sends the control plane a heartbeat every
//! [`HEARTBEAT_EVERY`] with what the instance is doing, unless the instance is cut off (the
//! partition fault drops its heartbeats; it goes on working and may still reach segments).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::config::{MAX_EPOCH, MAX_INSTANCES};
use quorate_model::failover::instance as rules;
use quorate_model::failover::observer;
use quorate_model::failover::state::{Epoch, Inst, Lsn, Phase, Role};
use quorate_model::failover::storage::Reject;
use quorate_model::quorum::config::MAX_LSN;

use super::volume::{History, VolAns, VolReq, Volume};
use crate::failover::instance::InstanceNode;
use crate::failover::real::{Answer, Req};
use crate::failover::segment::Handled;
use crate::failover::wire::{self, Msg};
use crate::udp::Caller;

/// How often an instance tells the control plane it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(20);
/// How long an instance waits for a segment's answer before it asks again (twice in all): a
/// segment that is down costs it this much, not the coordinator's 2 s.
const SEGMENT_WAIT: Duration = Duration::from_millis(40);
/// How often a segment that did not answer is asked again.
const SILENT_RETRY: Duration = Duration::from_millis(50);
/// How often the writer streams its VDL to the replicas when it has not changed.
const VDL_EVERY: Duration = Duration::from_millis(30);
/// How long an instance waits for the metadata service (on loopback, never a fault target).
const VOLUME_WAIT: Duration = Duration::from_millis(1000);

/// The datagrams between instances and the control plane.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Ctl {
    /// Instance to control plane: alive, and what it is doing.
    Heartbeat {
        /// The instance.
        inst: u8,
        /// 0 writer, 1 replica, 2 recovering.
        role: u8,
        /// Its epoch (0: none).
        epoch: Epoch,
        /// Its promotion tier.
        tier: u8,
        /// Replica: the VDL it knows.
        known_vdl: Lsn,
    },
    /// Control plane to instance: you are promoted; recover the volume.
    Promote {
        /// The instance promoted.
        inst: u8,
    },
    /// Writer to replica: its epoch and VDL.
    Vdl {
        /// The writer's epoch.
        epoch: Epoch,
        /// Its VDL.
        vdl: Lsn,
    },
}

impl Ctl {
    /// Whether every field is in range.
    pub fn valid(&self) -> bool {
        let epoch_ok = |e: Epoch| usize::from(e) <= MAX_EPOCH;
        let lsn_ok = |l: Lsn| usize::from(l) <= MAX_LSN;
        match *self {
            Ctl::Heartbeat {
                inst,
                role,
                epoch,
                known_vdl,
                ..
            } => {
                usize::from(inst) < MAX_INSTANCES
                    && role <= 2
                    && epoch_ok(epoch)
                    && lsn_ok(known_vdl)
            }
            Ctl::Promote { inst } => usize::from(inst) < MAX_INSTANCES,
            Ctl::Vdl { epoch, vdl } => epoch >= 1 && epoch_ok(epoch) && lsn_ok(vdl),
        }
    }
}

/// Where everything a node talks to is.
#[derive(Debug)]
pub struct Peers {
    /// The segment nodes, by slot.
    pub segs: Vec<SocketAddr>,
    /// Their AZs.
    pub azs: Vec<u8>,
    /// The metadata service.
    pub volume: SocketAddr,
    /// The control plane.
    pub control: SocketAddr,
    /// Every instance, by index.
    pub insts: Vec<SocketAddr>,
}

/// What every node of the cluster shares: the peers, the history, the counters.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The protocol parameters.
    pub cfg: FailoverConfig,
    /// Where the nodes are.
    pub peers: Arc<Peers>,
    /// What the run observes.
    pub history: Arc<History>,
    /// Datagrams rejected as garbage or out of range, by any node.
    pub rejected: Arc<AtomicU64>,
    /// Requests to segment nodes: sent, sent again, unanswered.
    pub requests: Arc<[AtomicU64; 3]>,
}

/// A running instance node.
#[derive(Debug)]
pub struct Running {
    thread: JoinHandle<InstanceNode>,
    beat: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Running {
    /// Stop it (a crash, or the round's end): its state as it was.
    pub fn stop(self) -> InstanceNode {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.beat.join();
        self.thread
            .join()
            .expect("an instance thread does not panic")
    }
}

/// Start instance `id` in state `node` on `socket`; `status` shows what it does (for the
/// fault injector and the heartbeats), `cut_off` drops its heartbeats.
pub fn spawn(
    shared: &Shared,
    id: u8,
    node: InstanceNode,
    socket: UdpSocket,
    status: Arc<Mutex<Inst>>,
    cut_off: Arc<AtomicBool>,
) -> Result<Running, String> {
    let stop = Arc::new(AtomicBool::new(false));
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let beat_socket = socket.try_clone().map_err(|e| e.to_string())?;
    *status.lock().unwrap_or_else(|e| e.into_inner()) = node.inst;
    let beat = {
        let (stop, status, cut_off) = (stop.clone(), status.clone(), cut_off.clone());
        let control = shared.peers.control;
        thread::Builder::new()
            .name(format!("heartbeat {id}"))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !cut_off.load(Ordering::Relaxed) {
                        let x = *status.lock().unwrap_or_else(|e| e.into_inner());
                        let beat = heartbeat(id, &x);
                        let _ = beat_socket.send_to(&crate::codec::encode(&beat), control);
                    }
                    thread::sleep(HEARTBEAT_EVERY);
                }
            })
            .map_err(|e| e.to_string())?
    };
    let mut me = Instance {
        shared: shared.clone(),
        id,
        node,
        caller: Caller::with_patience(SEGMENT_WAIT, 2)?,
        meta: Caller::with_patience(VOLUME_WAIT, 1)?,
        socket,
        status,
        cut_off,
        vol: Volume::new(),
        alloc_at: [None; MAX_LSN],
        vdl_sent: (0, 0, Instant::now()),
        silent: vec![None; shared.peers.segs.len()],
    };
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name(format!("instance {id}"))
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                me.tick();
            }
            me.count_requests();
            me.node
        })
        .map_err(|e| e.to_string())?;
    Ok(Running { thread, beat, stop })
}

/// The heartbeat of instance `id` doing `x`.
fn heartbeat(id: u8, x: &Inst) -> Ctl {
    Ctl::Heartbeat {
        inst: id,
        role: match x.role {
            Role::Writer => 0,
            Role::Replica | Role::Down => 1,
            Role::Recovering(_) => 2,
        },
        epoch: x.epoch,
        tier: x.tier,
        known_vdl: x.known_vdl,
    }
}

struct Instance {
    shared: Shared,
    id: u8,
    node: InstanceNode,
    caller: Caller,
    /// To the metadata service: one send, a patient wait (found by review: a request sent
    /// twice, `NextEpoch` or `AddTrunc`, was carried out twice).
    meta: Caller,
    socket: UdpSocket,
    status: Arc<Mutex<Inst>>,
    cut_off: Arc<AtomicBool>,
    /// The metadata service's volume as last heard.
    vol: Volume,
    /// Writer: when each of its MTRs (by last LSN) was allocated.
    alloc_at: [Option<Instant>; MAX_LSN],
    /// Writer: the epoch and VDL last streamed to the replicas, and when.
    vdl_sent: (Epoch, Lsn, Instant),
    /// When each segment last failed to answer (`None`: it answered).
    silent: Vec<Option<Instant>>,
}

impl Instance {
    fn tick(&mut self) {
        self.inbox();
        match self.node.inst.role {
            Role::Writer => self.write(),
            Role::Recovering(p) => self.recover(p),
            Role::Replica => self.apply(),
            Role::Down => thread::sleep(Duration::from_millis(5)),
        }
        let mut x = self.node.inst;
        x.cut_off = self.cut_off.load(Ordering::Relaxed);
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = x;
    }

    fn count_requests(&self) {
        let r = &self.shared.requests;
        for c in [&self.caller, &self.meta] {
            r[0].fetch_add(c.requests.get(), Ordering::Relaxed);
            r[1].fetch_add(c.resent.get(), Ordering::Relaxed);
            r[2].fetch_add(c.unanswered.get(), Ordering::Relaxed);
        }
    }

    /// Every datagram waiting: a promotion, the writer's VDL.
    fn inbox(&mut self) {
        let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
        while let Ok((n, _)) = self.socket.recv_from(&mut buf) {
            let msg = match crate::codec::parse::<Ctl>(&buf[..n]) {
                Ok(m) if m.valid() => m,
                _ => {
                    self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let x = &mut self.node.inst;
            match msg {
                Ctl::Promote { inst } if inst == self.id && x.role == Role::Replica => {
                    self.node = InstanceNode::new(Inst {
                        role: Role::Recovering(Phase::Promoted),
                        ..Inst::replica(x.tier)
                    });
                    self.event("promoted: recovers the volume".into());
                }
                Ctl::Vdl { epoch, vdl } if x.role == Role::Replica => {
                    (x.follows, x.known_vdl) = rules::take_vdl(x, vdl, epoch);
                }
                _ => {}
            }
        }
    }

    fn event(&self, what: String) {
        let name = quorate_model::failover::properties::inst_name(usize::from(self.id));
        self.shared.history.event(format!("{name}: {what}"));
    }

    /// Ask the metadata service; the volume it answers with becomes what this node knows.
    fn volume(&mut self, req: VolReq) -> Option<VolAns> {
        let ans: Option<VolAns> = self.meta.call(self.shared.peers.volume, &req);
        if let Some(VolAns::Volume(v)) = &ans {
            self.vol = v.clone();
        }
        ans
    }

    /// Send each `(slot, msg)` to its segment at once; what each did.
    fn send(&self, each: &[(usize, Msg)]) -> Vec<Option<Handled>> {
        let truncs = self.vol.truncs.clone();
        let reqs: Vec<(SocketAddr, Req)> = each
            .iter()
            .map(|(k, msg)| {
                (
                    self.shared.peers.segs[*k],
                    Req::Handle {
                        msg: msg.clone(),
                        truncs: truncs.clone(),
                    },
                )
            })
            .collect();
        let answers: Vec<Option<Answer>> = self.caller.call_each(&reqs);
        answers.into_iter().map(|a| a?.handled).collect()
    }

    /// Send `msg` to every segment.
    fn send_all(&self, msg: &Msg) -> Vec<Option<Handled>> {
        let each: Vec<(usize, Msg)> = (0..self.shared.peers.segs.len())
            .map(|k| (k, msg.clone()))
            .collect();
        self.send(&each)
    }

    /// Ask the segments for their reports; only this round's count as up (the others stay as
    /// last reported, marked down). A segment that
    /// did not answer last time is asked again only every [`SILENT_RETRY`], so one that is
    /// down does not cost every round its full wait.
    fn refresh(&mut self) {
        let now = Instant::now();
        let ask: Vec<usize> = (0..self.shared.peers.segs.len())
            .filter(|&k| self.silent[k].is_none_or(|t| now.duration_since(t) >= SILENT_RETRY))
            .collect();
        let addrs: Vec<SocketAddr> = ask.iter().map(|&k| self.shared.peers.segs[k]).collect();
        let answers: Vec<Option<Answer>> = self.caller.call_all(&addrs, &Req::Report);
        for k in 0..self.shared.peers.segs.len() {
            self.node.lost_contact(k);
        }
        for (&k, a) in ask.iter().zip(answers) {
            match a.and_then(|a| a.report) {
                Some(r) if wire::validate(&r).is_ok() => {
                    self.node.on_report(&r, self.shared.peers.azs[k]);
                    self.silent[k] = None;
                }
                _ => self.silent[k] = Some(now),
            }
        }
    }

    /// What the segments did with the writer's records (`sent[i]` answered by `done[i]`), in
    /// the history's terms; its other requests are not records.
    fn observe(&self, sent: &[(usize, Msg)], done: &[Option<Handled>]) {
        let records = sent.iter().zip(done);
        for h in records.filter_map(|((_, m), h)| matches!(m, Msg::Write { .. }).then_some(h)) {
            let Some(h) = h else { continue };
            let verdict = match h {
                Handled::Changed { stale_accepted } => Ok(*stale_accepted),
                Handled::Refused(r) => Err((*r).into()),
                Handled::Unchanged | Handled::Reply(_) => continue,
            };
            self.shared.history.with(|s| {
                observer::write_handled(&mut s.ghost, verdict);
                if verdict == Err(Reject::Stale) {
                    s.stale_refused += 1;
                }
            });
        }
    }

    fn write(&mut self) {
        let cfg = self.shared.cfg.clone();
        let w = self.node.inst;
        let e = w.epoch;
        if let Some((first, last)) = rules::next_mtr(&cfg, &w) {
            let req = VolReq::Allocate {
                inst: self.id,
                epoch: e,
                first,
                last,
            };
            if let Some(VolAns::Volume(_)) = self.volume(req) {
                self.node.inst.next_lsn = last + 1;
                self.alloc_at[usize::from(last) - 1] = Some(Instant::now());
                let n = u64::from(last - first + 1);
                self.shared.history.with(|s| s.allocated += n);
            }
        }
        let w = self.node.inst;
        let range = self
            .vol
            .ranges()
            .into_iter()
            .find(|t| t.epoch == e)
            .map(Into::into);
        let mut each = Vec::new();
        for k in 0..self.shared.peers.segs.len() {
            let Some(s) = self.node.report_of(k) else {
                continue; // down or not heard from: its report says when it is back
            };
            if s.fence < e || s.trunc_epoch < e {
                each.push((
                    k,
                    Msg::Install {
                        epoch: e,
                        truncs: self.vol.truncs.clone(),
                    },
                ));
            }
            for l in (w.base..w.next_lsn).filter(|&l| s.rec(l) != e) {
                each.push((
                    k,
                    Msg::Write {
                        lsn: l,
                        epoch: e,
                        range,
                    },
                ));
            }
        }
        let done = self.send(&each);
        self.observe(&each, &done);
        self.refresh();
        let w = self.node.inst;
        let truncs = self.vol.ranges();
        let (pgcl, vdl) = rules::progress(&cfg, &w, &self.node.view(), self.vol.cpls, &truncs);
        self.node.inst.pgcl = pgcl;
        self.node.inst.vdl = vdl;
        // Every MTR commits (the live runtime runs `txn_mtrs = 1`).
        let acked = rules::acknowledged(&w, vdl, self.vol.cpls, &self.vol.sent_array());
        let now = Instant::now();
        let alloc_at = self.alloc_at;
        let fresh = self.shared.history.with(|s| {
            let fresh = observer::acknowledged(&mut s.ghost, e, acked);
            for k in (0..MAX_LSN).filter(|&k| fresh & (1 << k) != 0) {
                if let Some(at) = alloc_at[k] {
                    s.latencies_us
                        .push(now.duration_since(at).as_micros() as u64);
                }
            }
            let fresh = fresh.count_ones();
            // Everything allocated, and all of it its own durable (or nothing left to write).
            let all_durable =
                w.next_lsn > cfg.lsns && (w.next_lsn == w.base || vdl + 1 >= w.next_lsn);
            if all_durable && !self.cut_off.load(Ordering::Relaxed) {
                s.finished = s.finished.max(e);
            }
            fresh
        });
        let (se, sv, at) = self.vdl_sent;
        if (se, sv) != (e, vdl) || at.elapsed() >= VDL_EVERY {
            let msg = crate::codec::encode(&Ctl::Vdl { epoch: e, vdl });
            for (k, addr) in self.shared.peers.insts.iter().enumerate() {
                if k != usize::from(self.id) {
                    let _ = self.socket.send_to(&msg, addr);
                }
            }
            self.vdl_sent = (e, vdl, Instant::now());
        }
        if fresh == 0 && each.is_empty() {
            // Nothing new (found by review: testing `acked`, which holds every commit ever
            // acknowledged, kept an idle writer polling its segments without a pause).
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn recover(&mut self, phase: Phase) {
        let cfg = self.shared.cfg.clone();
        match phase {
            Phase::Promoted => match self.volume(VolReq::NextEpoch) {
                Some(VolAns::Epoch(Some(e))) => {
                    self.shared
                        .history
                        .with(|s| s.handed_out = s.handed_out.max(e));
                    self.node.inst.epoch = e;
                    self.node.inst.role = Role::Recovering(Phase::Fencing);
                    self.event(format!("epoch {e}: fences the segments"));
                }
                Some(VolAns::Epoch(None)) => thread::sleep(Duration::from_millis(50)),
                _ => {}
            },
            Phase::Fencing => {
                let e = self.node.inst.epoch;
                if rules::may_fence(&cfg, Phase::Fencing) {
                    self.send_all(&Msg::Fence { epoch: e });
                }
                self.refresh();
                let view = self.node.view();
                if !rules::may_read(&cfg, view.iter().filter(|x| x.fence >= e).count()) {
                    return; // fence before reading: try again
                }
                if self.volume(VolReq::Snapshot).is_none() {
                    return;
                }
                // A read quorum among the segments that answered.
                let quorum: Vec<usize> = (0..self.shared.peers.segs.len())
                    .filter(|&k| self.node.report_of(k).is_some())
                    .take(usize::from(cfg.read_quorum))
                    .collect();
                if quorum.len() < usize::from(cfg.read_quorum) {
                    return;
                }
                let read = Msg::ReadScl {
                    truncs: self.vol.truncs.clone(),
                };
                let each: Vec<(usize, Msg)> = quorum.iter().map(|&k| (k, read.clone())).collect();
                let mut tops = Vec::new();
                for h in self.send(&each) {
                    match h {
                        Some(Handled::Reply(Msg::SclReply { top, .. })) => tops.push(top),
                        _ => return, // one did not answer: read again
                    }
                }
                let truncs = self.vol.ranges();
                let rvdl = rules::recovered_vdl(&cfg, tops.into_iter(), self.vol.cpls, &truncs);
                self.shared
                    .history
                    .with(|s| observer::recovered(&mut s.ghost, e, rvdl));
                if let Some(t) = rules::truncation(&cfg, rvdl, e) {
                    if self.volume(VolReq::AddTrunc(t.into())).is_none() {
                        return; // not durable yet: read again
                    }
                    self.shared
                        .history
                        .with(|s| observer::range_written(&mut s.ghost, t, &view));
                }
                self.node.inst.role = Role::Recovering(Phase::Truncating { rvdl });
                self.event(format!(
                    "recovered VDL {rvdl}; installs its range and repairs"
                ));
            }
            Phase::Truncating { rvdl } => {
                let e = self.node.inst.epoch;
                let truncs = self.vol.ranges();
                let mut each: Vec<(usize, Msg)> = (0..self.shared.peers.segs.len())
                    .filter(|&k| self.node.report_of(k).is_none_or(|s| s.trunc_epoch < e))
                    .map(|k| {
                        (
                            k,
                            Msg::Install {
                                epoch: e,
                                truncs: self.vol.truncs.clone(),
                            },
                        )
                    })
                    .collect();
                // Repair: every record at or below the recovered VDL to a write quorum.
                let reports: Vec<(usize, quorate_model::failover::state::Seg)> =
                    (0..self.shared.peers.segs.len())
                        .filter_map(|k| Some((k, self.node.report_of(k)?)))
                        .collect();
                for l in (1..=rvdl).filter(|&l| !rules::in_trunc(&truncs, l)) {
                    let live = |s: &quorate_model::failover::state::Seg| {
                        s.rec(l) != 0 && !rules::annulled(&truncs, l, s.rec(l))
                    };
                    let Some(w) = reports.iter().find(|(_, s)| live(s)).map(|(_, s)| s.rec(l))
                    else {
                        continue;
                    };
                    for (k, _) in reports.iter().filter(|(_, s)| s.rec(l) == 0) {
                        each.push((*k, Msg::Gossip { lsn: l, epoch: w }));
                    }
                }
                self.send(&each);
                self.refresh();
                if !rules::may_open(&cfg, e, rvdl, &self.node.view(), &truncs) {
                    return;
                }
                let base = rules::open_base(&cfg, rvdl, &truncs);
                let w = &mut self.node.inst;
                w.role = Role::Writer;
                w.pgcl = rvdl;
                w.vdl = rvdl;
                w.base = base;
                w.next_lsn = base;
                w.open_txn = 0;
                self.node.begun_here = false;
                self.shared.history.with(|s| {
                    observer::opened(&mut s.ghost);
                    s.failovers += 1;
                });
                self.event(format!("opened at epoch {e}, writes from LSN {base}"));
            }
        }
    }

    fn apply(&mut self) {
        let x = self.node.inst;
        let top = (1..=MAX_LSN as Lsn)
            .rev()
            .find(|&l| x.applied[usize::from(l) - 1] != 0)
            .unwrap_or(0);
        if x.follows == 0 || x.known_vdl <= top {
            thread::sleep(Duration::from_millis(1));
            return;
        }
        if self.volume(VolReq::Snapshot).is_none() {
            return;
        }
        let (sent, truncs) = (self.vol.sent_array(), self.vol.ranges());
        let before = self.node.inst.applied;
        while let Some(applied) = rules::next_apply(
            &self.shared.cfg,
            &self.node.inst,
            &sent,
            self.vol.cpls,
            &truncs,
        ) {
            self.node.inst.applied = applied;
        }
        // A replica that cannot move (its next MTR is above what it may apply) asks the
        // metadata service again only after a pause.
        let stuck = self.node.inst.applied == before;
        thread::sleep(Duration::from_millis(if stuck { 5 } else { 1 }));
    }
}
