//! A region of a live Global Database: its node (the region's database, with its log in a
//! file) and its agent (the region's clients and its replication), two threads with their
//! own UDP sockets, on their own timers.
//!
//! * **The node** serves requests with [`RegionNode::handle`], the same code the simulated
//!   cluster runs, so every decision is the model's (`quorate_model::global::region`). It logs
//!   and fsyncs before it answers. Two rules are the live runtime's own, because here lag
//!   reports arrive on their own time instead of in the model's eager rounds: the reports
//!   the RPO gate reads are those of the last [`REPORT_WINDOW`] (an old report of a secondary
//!   that is gone must not open the gate), and a region that is neither writable nor draining
//!   (fenced, or a secondary) takes no lag report, and forgets those it had when it is fenced:
//!   in the model only the named primary hears lag reports.
//! * **The agent**, every [`AGENT_EVERY`]: if its region writes, writes the workload's next record at most every
//!   [`WRITE_EVERY`] and asks for the acknowledgement of the commits its clients wait for; if
//!   it does not, it asks the control plane whom its region follows (no one while it is cut
//!   off, while a failover is under way, or unless the control plane has it as a secondary:
//!   a region to be rebuilt sends no lag report, as in the model), sends its region's lag
//!   report to that primary and applies the record the primary answers with.
//!
//! A partition cuts a region off from the others and from the control plane: its agent and
//! the others' drop what they would send across it ([`Net`]). The storage control path (the
//! control plane's commands to a region's volume) does not cross the network between regions
//! and is not cut.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::global::GlobalConfig;
use quorate_model::global::state::Txn;

use super::observer::{Clock, Observer};
use crate::durable::FileDisk;
use crate::global::region::{RegionNode, View};
use crate::global::wire::{self, Msg};
use crate::udp::{Caller, Outcome, Served};

/// How long a lag report counts for the RPO gate.
pub const REPORT_WINDOW: Duration = Duration::from_millis(30);
/// How often an agent acts.
pub const AGENT_EVERY: Duration = Duration::from_millis(5);
/// How often a writing region's clients begin their next record (the workload of six spans
/// about half a second, so faults strike while it runs).
pub const WRITE_EVERY: Duration = Duration::from_millis(80);
/// How long an agent waits for another region's or the control plane's answer (twice in
/// all).
const AGENT_WAIT: Duration = Duration::from_millis(30);
/// How long an agent waits for its own node (an fsync on a loaded machine is slow).
const LOCAL_WAIT: Duration = Duration::from_millis(1000);

/// What is asked of a region node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Req {
    /// A message of the protocol.
    Msg(Msg),
    /// What are you? (the agent, about its own region)
    View,
}

/// A region node's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Ans {
    /// The reply to a message, if any.
    Reply(Option<Msg>),
    /// What it is.
    View(View),
}

/// The network between regions: who is cut off.
#[derive(Debug)]
pub struct Net {
    cut: Vec<AtomicBool>,
}

impl Net {
    /// `n` regions, none cut off.
    pub fn new(n: usize) -> Self {
        Net {
            cut: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Whether region `r` is cut off.
    pub fn cut_off(&self, r: usize) -> bool {
        self.cut[r].load(Ordering::Relaxed)
    }

    /// Cut region `r` off, or heal it.
    pub fn set(&self, r: usize, cut: bool) {
        self.cut[r].store(cut, Ordering::Relaxed);
    }

    /// Whether a datagram from region `a` reaches region `b`.
    pub fn link(&self, a: usize, b: usize) -> bool {
        a == b || (!self.cut_off(a) && !self.cut_off(b))
    }
}

/// The clients' side of the workload, shared by every region's clients: the next transaction
/// id, and the commits acknowledged to them.
#[derive(Debug, Default)]
pub struct Workload {
    /// Transactions begun (the next id is `begun + 1`).
    pub begun: u8,
    /// Commits acknowledged.
    pub acked: BTreeSet<Txn>,
}

/// What every thread of a round shares.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The protocol's parameters.
    pub cfg: GlobalConfig,
    /// The clock.
    pub clock: Arc<Clock>,
    /// The observer.
    pub obs: Arc<Observer>,
    /// The network.
    pub net: Arc<Net>,
    /// The region nodes' addresses (a restarted node keeps its own).
    pub nodes: Arc<Vec<SocketAddr>>,
    /// The control plane's address.
    pub control: SocketAddr,
    /// The clients.
    pub workload: Arc<Mutex<Workload>>,
    /// Datagrams rejected.
    pub rejected: Arc<AtomicU64>,
    /// Requests: sent, sent again, unanswered.
    pub requests: Arc<[AtomicU64; 3]>,
}

impl Shared {
    /// Add a caller's counters to the round's.
    pub fn count(&self, c: &Caller) {
        self.requests[0].fetch_add(c.requests.get(), Ordering::Relaxed);
        self.requests[1].fetch_add(c.resent.get(), Ordering::Relaxed);
        self.requests[2].fetch_add(c.unanswered.get(), Ordering::Relaxed);
    }
}

/// A region node as the live runtime serves it.
#[derive(Debug)]
pub struct Live {
    /// The node.
    pub node: RegionNode<FileDisk>,
    /// When each region's lag report last came.
    reported: Vec<Option<Instant>>,
}

/// One request to region `r`'s node: range-checked, then handled while the observer's lock is
/// held (so the mirror sees every entry in the order the nodes logged them).
fn serve(sh: &Shared, r: usize, live: &mut Live, req: Req) -> Outcome<Ans> {
    let msg = match req {
        Req::View => return Outcome::Answer(Ans::View(live.node.view().clone())),
        Req::Msg(m) => m,
    };
    if wire::decode(&wire::encode(&msg)).is_err() {
        return Outcome::Reject;
    }
    for (q, at) in live.reported.iter_mut().enumerate() {
        if at.is_some_and(|t| t.elapsed() >= REPORT_WINDOW) {
            live.node.forget_report(q as u8);
            *at = None;
        }
    }
    let v = live.node.view();
    if let Msg::Report { region, .. } = msg {
        if !v.writable && !v.draining {
            return Outcome::Answer(Ans::Reply(None));
        }
        if let Some(at) = live.reported.get_mut(usize::from(region)) {
            *at = Some(Instant::now());
        }
    }
    let mut seen = sh.obs.lock();
    let now = sh.clock.now();
    let reply = match live.node.handle(&sh.cfg, &msg, now) {
        Ok(reply) => reply,
        Err(e) => return Outcome::Fatal(format!("cannot write its log: {e}")),
    };
    seen.handled(&sh.cfg, r, live.node.view(), reply.as_ref(), now);
    drop(seen);
    if matches!(msg, Msg::Fence) {
        live.node.new_round(); // a fenced region forgets the lag reports it had
        live.reported.iter_mut().for_each(|at| *at = None);
    }
    Outcome::Answer(Ans::Reply(reply))
}

/// A running region: its node and its agent.
#[derive(Debug)]
pub struct Running {
    node: Served<Live>,
    agent: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Running {
    /// Tell the agent to stop, without waiting (to stop many at once, then [`Running::stop`]
    /// each).
    pub fn signal(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop both, the agent first (it may be waiting for its node): the node as it was, or
    /// `None` if it had died.
    pub fn stop(self) -> Option<RegionNode<FileDisk>> {
        self.signal();
        let _ = self.agent.join();
        self.node.stop().map(|l| l.node)
    }

    /// Whether the node still runs.
    pub fn running(&self) -> bool {
        self.node.running()
    }
}

/// Start region `r`: `node` served on its address, and its agent.
pub fn spawn(sh: &Shared, r: usize, node: RegionNode<FileDisk>) -> Result<Running, String> {
    let s = sh.clone();
    let served = Served::spawn_at(
        format!("region {r}"),
        Some(sh.nodes[r]),
        Live {
            node,
            reported: vec![None; sh.nodes.len()],
        },
        sh.rejected.clone(),
        move |live, req| serve(&s, r, live, req),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let s = sh.clone();
    let agent = thread::Builder::new()
        .name(format!("region {r} agent"))
        .spawn(move || agent(&s, r, &flag))
        .map_err(|e| e.to_string())?;
    Ok(Running {
        node: served,
        agent,
        stop,
    })
}

/// The control plane's answer to a region's "whom do I follow?".
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Whom {
    /// The primary, if the secondaries follow one now.
    pub primary: Option<u8>,
}

fn agent(sh: &Shared, r: usize, stop: &AtomicBool) {
    // Its own node is on loopback and answers unless it is stopping: one send, a patient
    // wait (a write sent twice would be written twice). The other regions and the control
    // plane may be cut off: a short wait, and one send again (what it asks them is
    // idempotent).
    let (Ok(caller), Ok(remote)) = (
        Caller::with_patience(LOCAL_WAIT, 1),
        Caller::with_patience(AGENT_WAIT, 2),
    ) else {
        return;
    };
    let own = sh.nodes[r];
    let mut last_write: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(AGENT_EVERY);
        let Some(Ans::View(v)) = caller.call::<Req, Ans>(own, &Req::View) else {
            continue;
        };
        if v.writes {
            if last_write.is_none_or(|t| t.elapsed() >= WRITE_EVERY) {
                last_write = Some(Instant::now());
                write(sh, &caller, own);
            }
            acknowledge(sh, &caller, own);
            continue;
        }
        let whom = if !sh.net.cut_off(r) {
            remote.call::<u8, Whom>(sh.control, &(r as u8))
        } else {
            None
        };
        let Some(p) = whom.and_then(|w| w.primary).map(usize::from) else {
            continue;
        };
        if p == r || p >= sh.nodes.len() || !sh.net.link(r, p) {
            continue;
        }
        let Some(Ans::Reply(Some(Msg::Report {
            region,
            gepoch,
            writable,
            log,
        }))) = caller.call::<Req, Ans>(own, &Req::Msg(Msg::Poll))
        else {
            continue;
        };
        let report = Msg::Report {
            region,
            gepoch,
            writable,
            log,
        };
        if let Some(Ans::Reply(Some(rec @ Msg::Record { .. }))) =
            remote.call::<Req, Ans>(sh.nodes[p], &Req::Msg(report))
            && sh.net.link(r, p)
        {
            caller.call::<Req, Ans>(own, &Req::Msg(rec));
        }
    }
    sh.count(&caller);
    sh.count(&remote);
}

/// The clients write their next record; a new transaction if the workload has one left.
fn write(sh: &Shared, caller: &Caller, own: SocketAddr) {
    let mut w = sh.workload.lock().unwrap_or_else(|e| e.into_inner());
    let offer = (w.begun < sh.cfg.txns).then_some(w.begun + 1);
    match caller.call::<Req, Ans>(own, &Req::Msg(Msg::Write { offer })) {
        Some(Ans::Reply(Some(Msg::Wrote { begins: true, .. }))) => w.begun += 1,
        // No answer: the node may have begun it; the id is not offered again.
        None if offer.is_some() => w.begun += 1,
        _ => {}
    }
}

/// The clients ask for the acknowledgement of the commits they wait for.
fn acknowledge(sh: &Shared, caller: &Caller, own: SocketAddr) {
    let waiting: Vec<Txn> = {
        let w = sh.workload.lock().unwrap_or_else(|e| e.into_inner());
        (1..=w.begun).filter(|x| !w.acked.contains(x)).collect()
    };
    if waiting.is_empty() {
        return;
    }
    if let Some(Ans::Reply(Some(Msg::Acked { txns }))) =
        caller.call::<Req, Ans>(own, &Req::Msg(Msg::AckRequest { waiting }))
    {
        let mut w = sh.workload.lock().unwrap_or_else(|e| e.into_inner());
        w.acked.extend(txns);
    }
}
