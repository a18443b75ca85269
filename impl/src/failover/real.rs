//! The real runtime of writer failover: the failover cluster ([`super::Cluster`]) with its
//! segment nodes as OS threads, each with its own UDP socket on 127.0.0.1 and its log in a
//! file (fsynced before every reply), driven by a seeded schedule of the model's events in
//! real time, then verified from the files.
//!
//! * [`UdpHost`] is a [`SegmentHost`]: every request to a segment is a datagram (the request,
//!   its id, the metadata service's ranges), every answer one back; a lost or late answer is
//!   retransmitted a few times, then the segment counts as unreachable for that event. A
//!   segment crash stops the node's thread (its file stays); a restart starts a new thread
//!   that recovers the segment from its file alone. Garbage datagrams sent to a node are
//!   rejected and counted by the node, never a panic.
//! * The instances, the control plane, the metadata service and the redo stream run in the
//!   coordinator (this thread), exactly as in the simulated cluster: the same code.
//! * A **round** is one volume of the model's size (its LSNs are the model's, at most 8), in
//!   `DIR/round-<n>/seg-<i>.log`: fresh segments, events until the schedule is quiescent or a
//!   bound is reached, then the verification: every segment node is stopped and recovered
//!   from its file, each must come back as it was (nothing synced is lost), and every
//!   `always` invariant of the failover model must hold on the cluster's state (B1: every
//!   acknowledged commit survives every failover). Rounds repeat until the time is up.

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::checkable::Kind;
use quorate_model::failover::FailoverConfig;
use quorate_model::failover::model::{all_properties, evaluate};
use quorate_model::failover::state::{Seg, Trunc};
use quorate_model::failover::step::{Action, actions, init};
use quorate_model::quorum::config::MAX_LSN;

use super::Cluster;
use super::host::SegmentHost;
use super::segment::{Handled, SegmentNode};
use super::wire::{Msg, WireTrunc};
use crate::durable::FileDisk;
use crate::rng::Rng;

/// What a coordinator asks a segment node.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Req {
    /// Handle this message, with the metadata service's ranges.
    Handle {
        /// The message.
        msg: Msg,
        /// Every truncation range.
        truncs: Vec<WireTrunc>,
    },
    /// Report what you hold.
    Report,
}

/// A request on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Request {
    id: u64,
    req: Req,
}

/// An answer on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reply {
    id: u64,
    handled: Option<Handled>,
    report: Option<Msg>,
}

/// How long the coordinator waits for an answer before it sends the request again.
const ANSWER_WAIT: Duration = Duration::from_millis(200);
/// Sends of one request before the segment counts as unreachable for this event.
const SENDS: usize = 3;

/// One segment's place.
#[derive(Debug)]
struct Place {
    az: u8,
    path: PathBuf,
    /// While the node runs: its address, its thread and its stop flag.
    running: Option<(SocketAddr, JoinHandle<()>, Arc<AtomicBool>)>,
    /// The observer's copy of the segment when it went down (its file holds the same: every
    /// entry is synced before a reply), for the model's view of a down segment.
    last: Seg,
}

/// Counters of one host.
#[derive(Debug, Default)]
pub struct HostStats {
    /// Requests sent (first sends).
    pub requests: Cell<u64>,
    /// Requests sent again after no answer came in time.
    pub resent: Cell<u64>,
    /// Requests that got no answer at all.
    pub unanswered: Cell<u64>,
    /// Datagrams the nodes rejected as garbage.
    pub rejected: Arc<AtomicU64>,
}

/// Segment nodes as threads with UDP sockets and log files.
#[derive(Debug)]
pub struct UdpHost {
    cfg: FailoverConfig,
    socket: UdpSocket,
    places: Vec<Place>,
    next_id: Cell<u64>,
    /// Counters.
    pub stats: HostStats,
}

/// Serve one segment until `stop`: decode each datagram (garbage is counted and dropped),
/// handle it with the segment node (which logs and fsyncs before it returns), answer.
fn serve(
    cfg: FailoverConfig,
    mut node: SegmentNode<FileDisk>,
    socket: UdpSocket,
    stop: Arc<AtomicBool>,
    rejected: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue; // the read timeout: look at the stop flag again
        };
        let Ok(Request { id, req }) = crate::codec::parse::<Request>(&buf[..n]) else {
            rejected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let reply = match req {
            Req::Handle { msg, truncs } => {
                let truncs: Vec<Trunc> = truncs.iter().map(|&t| t.into()).collect();
                match node.handle(&cfg, &msg, &truncs) {
                    Ok(h) => Reply {
                        id,
                        handled: Some(h),
                        report: None,
                    },
                    Err(e) => {
                        eprintln!("segment {}: cannot write its log: {e}; it stops", node.slot);
                        return;
                    }
                }
            }
            Req::Report => Reply {
                id,
                handled: None,
                report: Some(node.report()),
            },
        };
        let _ = socket.send_to(&crate::codec::encode(&reply), from);
    }
}

impl UdpHost {
    /// Fresh segments placed as the model's initial state places them, with their logs in
    /// `dir` (which must not hold them yet).
    pub fn start(cfg: &FailoverConfig, dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
        socket
            .set_read_timeout(Some(ANSWER_WAIT))
            .map_err(|e| e.to_string())?;
        let mut host = UdpHost {
            cfg: cfg.clone(),
            socket,
            places: Vec::new(),
            next_id: Cell::new(1),
            stats: HostStats::default(),
        };
        for (i, s) in init(cfg).segs.iter().enumerate() {
            let path = dir.join(format!("seg-{i}.log"));
            let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let node = SegmentNode::create(i as u8, s.az, disk)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let last = *node.seg();
            host.places.push(Place {
                az: s.az,
                path,
                running: None,
                last,
            });
            host.launch(i, node)?;
        }
        Ok(host)
    }

    fn launch(&mut self, i: usize, node: SegmentNode<FileDisk>) -> Result<(), String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let (cfg, flag, rejected) = (self.cfg.clone(), stop.clone(), self.stats.rejected.clone());
        let thread = thread::Builder::new()
            .name(format!("segment-{i}"))
            .spawn(move || serve(cfg, node, socket, flag, rejected))
            .map_err(|e| e.to_string())?;
        self.places[i].running = Some((addr, thread, stop));
        Ok(())
    }

    /// Send `req` to segment `i` and wait for its answer (sending again if none comes).
    fn call(&self, i: usize, req: Req) -> Option<Reply> {
        let (addr, ..) = self.places.get(i)?.running.as_ref()?;
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let bytes = crate::codec::encode(&Request { id, req });
        let s = &self.stats;
        s.requests.set(s.requests.get() + 1);
        let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
        for attempt in 0..SENDS {
            if attempt > 0 {
                s.resent.set(s.resent.get() + 1);
            }
            if self.socket.send_to(&bytes, addr).is_err() {
                continue;
            }
            let deadline = Instant::now() + ANSWER_WAIT;
            while Instant::now() < deadline {
                let Ok((n, _)) = self.socket.recv_from(&mut buf) else {
                    break;
                };
                match crate::codec::parse::<Reply>(&buf[..n]) {
                    Ok(r) if r.id == id => return Some(r),
                    _ => {} // a late answer to an earlier request: drop it
                }
            }
        }
        s.unanswered.set(s.unanswered.get() + 1);
        None
    }

    /// Send `n` garbage datagrams to segment `i` (each must be rejected and counted).
    pub fn send_garbage(&self, i: usize, rng: &mut Rng, n: usize) {
        let Some((addr, ..)) = self.places.get(i).and_then(|p| p.running.as_ref()) else {
            return;
        };
        for _ in 0..n {
            let len = 1 + rng.below(64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let _ = self.socket.send_to(&bytes, addr);
        }
    }

    /// Stop every node (files stay).
    pub fn stop_all(&mut self) {
        for i in 0..self.places.len() {
            self.take_down(i);
        }
    }

    fn seg_of(&self, i: usize, report: &Msg) -> Option<Seg> {
        let Msg::Report {
            fence,
            trunc_epoch,
            scl,
            recs,
            ..
        } = report
        else {
            return None;
        };
        let mut seg = Seg {
            up: true,
            az: self.places[i].az,
            fence: *fence,
            trunc_epoch: *trunc_epoch,
            scl: *scl,
            ..Seg::default()
        };
        if recs.len() != MAX_LSN {
            return None;
        }
        seg.recs.copy_from_slice(recs);
        Some(seg)
    }
}

impl Drop for UdpHost {
    fn drop(&mut self) {
        self.stop_all();
    }
}

impl SegmentHost for UdpHost {
    fn len(&self) -> usize {
        self.places.len()
    }

    fn az(&self, i: usize) -> u8 {
        self.places[i].az
    }

    fn up(&self, i: usize) -> bool {
        self.places.get(i).is_some_and(|p| p.running.is_some())
    }

    fn handle(
        &mut self,
        _: &FailoverConfig,
        i: usize,
        msg: &Msg,
        truncs: &[Trunc],
    ) -> Option<Handled> {
        let truncs = truncs.iter().map(|&t| t.into()).collect();
        let req = Req::Handle {
            msg: msg.clone(),
            truncs,
        };
        self.call(i, req)?.handled
    }

    fn report(&mut self, i: usize) -> Option<Msg> {
        self.call(i, Req::Report)?.report
    }

    fn take_down(&mut self, i: usize) -> bool {
        if !self.up(i) {
            return false;
        }
        if let Some(seg) = self
            .call(i, Req::Report)
            .and_then(|r| self.seg_of(i, &r.report?))
        {
            self.places[i].last = Seg { up: false, ..seg };
        }
        let (_, thread, stop) = self.places[i].running.take().expect("up");
        stop.store(true, Ordering::Relaxed);
        let _ = thread.join();
        true
    }

    fn restart(&mut self, cfg: &FailoverConfig, i: usize) -> Result<(), String> {
        let path = self.places[i].path.clone();
        let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let node = SegmentNode::recover(cfg, i as u8, disk)
            .map_err(|(why, _)| format!("{}: {why}", path.display()))?;
        if let Some(d) = &node.torn_tail {
            eprintln!("segment {i}: torn tail cut off: {d}");
        }
        self.launch(i, node)
    }

    fn segment(&self, _: &FailoverConfig, i: usize) -> Seg {
        if self.up(i)
            && let Some(seg) = self
                .call(i, Req::Report)
                .and_then(|r| self.seg_of(i, &r.report?))
        {
            return seg;
        }
        self.places[i].last
    }
}

/// Which faults a run injects (each enables the model's events of that kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The writer crashes or is partitioned away: a failover.
    Failover,
    /// A segment node crashes (its file stays) and restarts from it.
    Crash,
    /// A whole AZ goes down.
    AzOutage,
    /// An instance crashes during recovery.
    RecoveryCrash,
    /// A replica crashes.
    ReplicaCrash,
    /// Garbage datagrams to a segment node.
    Garbage,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "failover" => Fault::Failover,
            "crash" => Fault::Crash,
            "az-outage" => Fault::AzOutage,
            "recovery-crash" => Fault::RecoveryCrash,
            "replica-crash" => Fault::ReplicaCrash,
            "garbage" => Fault::Garbage,
            _ => {
                return Err(format!(
                    "unknown fault '{s}'; use a comma-separated list of failover, crash, \
                     az-outage, recovery-crash, replica-crash, garbage"
                ));
            }
        })
    }
}

/// What a run is to do.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The data directory (rounds go in `round-<n>/`).
    pub dir: PathBuf,
    /// How long to run.
    pub seconds: f64,
    /// The faults to inject.
    pub faults: Vec<Fault>,
    /// The schedule's seed.
    pub seed: u64,
}

impl RunConfig {
    /// The protocol parameters every round runs: Aurora's geometry, 8 LSNs in MTRs of 2, a
    /// replica, and the budgets of the faults asked for.
    pub fn protocol(&self) -> FailoverConfig {
        let mut cfg = FailoverConfig::base();
        let has = |f| self.faults.contains(&f);
        let sets = [
            ("lsns", "8".to_string()),
            ("lal", "4".to_string()),
            (
                "writer_failures",
                if has(Fault::Failover) { "2" } else { "0" }.into(),
            ),
            (
                "seg_crashes",
                if has(Fault::Crash) { "2" } else { "0" }.into(),
            ),
            ("az_outages", u8::from(has(Fault::AzOutage)).to_string()),
            (
                "recovery_crashes",
                u8::from(has(Fault::RecoveryCrash)).to_string(),
            ),
            (
                "replica_crashes",
                u8::from(has(Fault::ReplicaCrash)).to_string(),
            ),
        ];
        for (k, v) in sets {
            cfg.set(k, &v).expect("a valid parameter");
        }
        cfg.validate().expect("a valid config");
        cfg
    }
}

/// Progress, once a second.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Since the start.
    pub elapsed: Duration,
    /// Rounds verified.
    pub rounds: u64,
    /// Commits acknowledged.
    pub acked: u64,
    /// Failovers completed.
    pub failovers: u64,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seconds the workload ran.
    pub seconds: f64,
    /// Rounds (volumes) run and verified.
    pub rounds: u64,
    /// Events carried out.
    pub events: u64,
    /// Commits acknowledged.
    pub acked: u64,
    /// Failovers completed (a recovering instance opened).
    pub failovers: u64,
    /// Segment crashes and restarts from files.
    pub restarts: u64,
    /// Latencies from a commit's write to its acknowledgement, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Requests sent to segment nodes, sent again, unanswered.
    pub requests: (u64, u64, u64),
    /// Garbage datagrams the nodes rejected.
    pub rejected_datagrams: u64,
    /// Verification failures: the round and what failed.
    pub failures: Vec<(u64, String)>,
    /// The run was interrupted.
    pub interrupted: bool,
}

impl Report {
    /// The `q` quantile of commit latency, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// One step in this many is a fault, when one is possible.
const FAULT_ODDS: u64 = 40;

/// Events per round at most (a round usually ends quiescent well before).
const ROUND_EVENTS: usize = 2_000;

/// Run rounds until the time is up or `stop` is set; `progress` is called about once a
/// second.
pub fn run(
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, String> {
    let cfg = rc.protocol();
    if rc.dir.exists() && std::fs::read_dir(&rc.dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty; give a new directory (a failover run starts fresh volumes)",
            rc.dir.display()
        ));
    }
    let mut rng = Rng::new(rc.seed);
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = start;
    let limit = Duration::from_secs_f64(rc.seconds);
    while start.elapsed() < limit && !stop.load(Ordering::Relaxed) {
        let round = report.rounds;
        let dir = rc.dir.join(format!("round-{round}"));
        let host = UdpHost::start(&cfg, &dir)?;
        let mut cluster = Cluster::with_host(&cfg, host);
        let mut written_at: [Option<Instant>; MAX_LSN] = [None; MAX_LSN];
        let mut acked = [false; MAX_LSN];
        let mut list = Vec::new();
        // The cluster's state in the model's terms, after the last event (one report from
        // every segment per event).
        let mut s = cluster.lift();
        for _ in 0..ROUND_EVENTS {
            if stop.load(Ordering::Relaxed) {
                report.interrupted = true;
                break;
            }
            list.clear();
            actions(&cfg, &s, &mut list);
            if list.is_empty() {
                break;
            }
            // The workload and the protocol's own steps, with a fault now and then (a fault
            // at every step would leave the writer no time to commit anything).
            let (faults, steps): (Vec<Action>, Vec<Action>) =
                list.iter().partition(|a| a.is_environment());
            let fault_first = !faults.is_empty() && rng.chance(1, FAULT_ODDS);
            let pools = if fault_first {
                [&faults, &steps]
            } else {
                [&steps, &faults]
            };
            let mut took = None;
            for pool in pools {
                if pool.is_empty() {
                    continue;
                }
                let k = rng.below(pool.len() as u64) as usize;
                took = (0..pool.len())
                    .map(|j| pool[(k + j) % pool.len()])
                    .find(|a| cluster.apply(a));
                if took.is_some() {
                    break;
                }
            }
            let Some(a) = took else {
                break; // quiescent
            };
            report.events += 1;
            let now = Instant::now();
            s = cluster.lift();
            for (l, w) in written_at.iter_mut().enumerate() {
                if w.is_none() && s.sent[l] != 0 {
                    *w = Some(now);
                }
            }
            match a {
                Action::Open => report.failovers += 1,
                Action::SegRestart { .. } => report.restarts += 1,
                _ => {}
            }
            if rc.faults.contains(&Fault::Garbage) && rng.chance(1, 50) {
                let i = rng.below(cluster.segments() as u64) as usize;
                cluster.host().send_garbage(i, &mut rng, 3);
            }
            for l in 0..MAX_LSN {
                if !acked[l] && s.ghost.acked[l] != 0 {
                    acked[l] = true;
                    report.acked += 1;
                    if let Some(w) = written_at[l] {
                        report
                            .latencies_us
                            .push(now.duration_since(w).as_micros() as u64);
                    }
                }
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(&Progress {
                    elapsed: start.elapsed(),
                    rounds: report.rounds,
                    acked: report.acked,
                    failovers: report.failovers,
                });
            }
        }
        if let Err(why) = verify(&cfg, &mut cluster) {
            report.failures.push((round, why));
        }
        let st = &cluster.host().stats;
        report.requests.0 += st.requests.get();
        report.requests.1 += st.resent.get();
        report.requests.2 += st.unanswered.get();
        report.rejected_datagrams += st.rejected.load(Ordering::Relaxed);
        report.rounds += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// The end of a round: stop every segment node, recover each from its file alone (it must come
/// back as it was), and hold the cluster's state to every `always` invariant of the model.
fn verify(cfg: &FailoverConfig, cluster: &mut Cluster<UdpHost>) -> Result<(), String> {
    let before = cluster.lift();
    cluster.host_mut().stop_all();
    for i in 0..cluster.segments() {
        cluster
            .host_mut()
            .restart(cfg, i)
            .map_err(|why| format!("segment {i} does not recover: {why}"))?;
    }
    let after = cluster.lift();
    for (i, (b, a)) in before.segs.iter().zip(&after.segs).enumerate() {
        let (b, a) = (Seg { up: true, ..*b }, Seg { up: true, ..*a });
        if b != a {
            return Err(format!(
                "segment {i} came back from its file as {a:?}, not as it was: {b:?}"
            ));
        }
    }
    // The invariants judge the round's last state, with each segment as its file holds it.
    let mut s = before;
    for (x, a) in s.segs.iter_mut().zip(&after.segs) {
        *x = Seg { up: x.up, ..*a };
    }
    for (name, _, kind, _) in all_properties() {
        if kind != Kind::Always {
            continue;
        }
        if let Some(Err(why)) = evaluate(name, cfg, &s) {
            return Err(format!("{name}: {why}"));
        }
    }
    cluster.host_mut().stop_all();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification is not a formality: a segment whose file lost an entry it had
    /// acknowledged does not come back as it was, and the round fails.
    #[test]
    fn a_segment_file_that_lost_an_entry_fails_the_round() {
        let dir = std::env::temp_dir().join(format!("quorate-fo-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rc = RunConfig {
            dir: dir.clone(),
            seconds: 0.0,
            faults: vec![],
            seed: 1,
        };
        let cfg = rc.protocol();
        let host = UdpHost::start(&cfg, &dir).unwrap();
        let mut cluster = Cluster::with_host(&cfg, host);
        assert!(cluster.apply(&Action::WriteMtr { inst: 0 }));
        let deliver = Action::Deliver {
            seg: 0,
            lsn: 1,
            epoch: 1,
        };
        assert!(cluster.apply(&deliver));
        assert_eq!(cluster.lift().segs[0].rec(1), 1);
        // Take the segment's last entry (the record) off its file behind its back, while it
        // runs: what it holds in memory is no longer what its file would bring back.
        let path = dir.join("seg-0.log");
        let bytes = std::fs::read(&path).unwrap();
        let first = crate::durable::unframe::<super::super::segment::Entry>(&bytes);
        assert_eq!(first.records.len(), 2);
        let created = crate::durable::frame(&crate::codec::encode(&first.records[0]));
        std::fs::write(&path, &created).unwrap();
        let verdict = verify(&cfg, &mut cluster);
        assert!(
            verdict
                .as_ref()
                .is_err_and(|why| why.contains("segment 0 came back")),
            "{verdict:?}"
        );
        drop(cluster);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
