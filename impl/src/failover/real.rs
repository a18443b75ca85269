//! The real runtime of writer failover: the failover cluster ([`super::Cluster`]) with its
//! segment nodes as OS threads, each with its own UDP socket on 127.0.0.1 and its log in a
//! file (fsynced before every reply), driven by a seeded schedule of the model's events in
//! real time, then verified from the files.
//!
//! * [`UdpHost`] is a [`SegmentHost`]: every request to a segment is a datagram (the request,
//!   its id, the metadata service's ranges), every answer one back from the node's address; a
//!   lost or late answer is asked for again three times, then the segment counts as
//!   unreachable for that event and the round fails (the node may have applied what the
//!   cluster counts as refused). A segment "crash" stops the node's thread (its file stays; every entry was
//!   synced before its reply); a restart starts a new thread that recovers the segment from
//!   its file alone, and the round fails unless it comes back exactly as it went down.
//!   Datagrams that do not parse, or whose fields are out of range, are rejected and counted
//!   by the node, never a panic; a node thread that dies anyway fails the round.
//! * The instances, the control plane, the metadata service and the redo stream run in the
//!   coordinator (this thread), exactly as in the simulated cluster: the same code.
//! * A **round** is one volume of the model's size (its LSNs are the model's, at most 8), in
//!   `DIR/round-<n>/seg-<i>.log`: fresh segments, then events (at most [`ROUND_EVENTS`], fewer
//!   if the schedule is quiescent or the time is up), with every `always` invariant of the
//!   failover model checked on the cluster's state after each (B1: every acknowledged commit
//!   survives every failover). At its end every segment node is stopped and recovered from its
//!   file directly (no network): each must come back as it went down, with no torn tail.
//!   Rounds repeat until the time is up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::model::{all_properties, evaluate};
use quorate_model::failover::state::{Seg, Trunc};
use quorate_model::failover::step::{Action, actions, init};
use quorate_model::quorum::config::MAX_LSN;

use super::Cluster;
use super::host::SegmentHost;
use super::segment::{Handled, SegmentNode};
use super::wire::{self, Msg, WireTrunc};
use crate::durable::FileDisk;
use crate::rng::Rng;
use crate::udp::{Caller, Outcome, SENDS, Served};

/// What a coordinator asks a segment node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Req {
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

/// A segment's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Answer {
    /// What it did with a `Handle`.
    pub handled: Option<Handled>,
    /// Its report, for a `Report`.
    pub report: Option<Msg>,
}

/// One segment's place.
#[derive(Debug)]
struct Place {
    az: u8,
    path: PathBuf,
    /// Its address once it first ran (a restart binds it again: its peers know it).
    addr: Option<std::net::SocketAddr>,
    /// While the node runs: its address, its thread (which hands the node back when it
    /// stops) and its stop flag.
    running: Option<Served<SegmentNode<FileDisk>>>,
    /// The segment as its node was when it stopped (its file must bring back the same: every
    /// entry is synced before a reply), for the model's view of a down segment.
    last: Seg,
}

/// Counters of one host.
#[derive(Debug, Default)]
pub struct HostStats {
    /// Datagrams the nodes rejected as garbage.
    pub rejected: Arc<AtomicU64>,
    /// What broke the round's guarantees: a node that died, a segment that did not come back
    /// from its file as it went down, a request left unanswered.
    pub failures: std::cell::RefCell<Vec<String>>,
}

impl HostStats {
    fn fail(&self, why: String) {
        self.failures.borrow_mut().push(why);
    }
}

/// Segment nodes as threads with UDP sockets and log files.
#[derive(Debug)]
pub struct UdpHost {
    cfg: FailoverConfig,
    caller: Caller,
    places: Vec<Place>,
    /// Counters.
    pub stats: HostStats,
}

/// One request to a segment node: parse-checked by the transport, range-checked here (a
/// datagram with a field out of range is rejected and counted), then handled by the segment
/// node, which logs and fsyncs before it returns.
fn serve_one(cfg: &FailoverConfig, node: &mut SegmentNode<FileDisk>, req: Req) -> Outcome<Answer> {
    match req {
        Req::Handle { msg, truncs } => {
            // The ranges are checked as a recovery read's would be.
            let ranges = Msg::ReadScl {
                truncs: truncs.clone(),
            };
            if wire::validate(&msg).is_err() || wire::validate(&ranges).is_err() {
                return Outcome::Reject;
            }
            let truncs: Vec<Trunc> = truncs.iter().map(|&t| t.into()).collect();
            match node.handle(cfg, &msg, &truncs) {
                Ok(h) => Outcome::Answer(Answer {
                    handled: Some(h),
                    report: None,
                }),
                Err(e) => Outcome::Fatal(format!("cannot write its log: {e}")),
            }
        }
        Req::Report => Outcome::Answer(Answer {
            handled: None,
            report: Some(node.report()),
        }),
    }
}

impl UdpHost {
    /// Fresh segments placed as the model's initial state places them, with their logs in
    /// `dir` (which must not hold them yet).
    pub fn start(cfg: &FailoverConfig, dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut host = UdpHost {
            cfg: cfg.clone(),
            caller: Caller::new()?,
            places: Vec::new(),
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
                addr: None,
                running: None,
                last,
            });
            host.launch(i, node)?;
        }
        Ok(host)
    }

    fn launch(&mut self, i: usize, node: SegmentNode<FileDisk>) -> Result<(), String> {
        let cfg = self.cfg.clone();
        let served = Served::spawn_at(
            format!("segment {i}"),
            self.places[i].addr,
            node,
            self.stats.rejected.clone(),
            move |node, req| serve_one(&cfg, node, req),
        )?;
        self.places[i].addr = Some(served.addr());
        self.places[i].running = Some(served);
        Ok(())
    }

    /// Every segment node's address, by slot (the same across restarts).
    pub fn addrs(&self) -> Vec<std::net::SocketAddr> {
        self.places
            .iter()
            .map(|p| p.addr.expect("every node ran once"))
            .collect()
    }

    /// Segment `i` as its node was when it last stopped.
    pub fn last(&self, i: usize) -> Seg {
        self.places[i].last
    }

    /// Send `req` to segment `i` and wait for its answer. A request left unanswered fails the
    /// round: the node may have applied it.
    fn call(&self, i: usize, req: Req) -> Option<Answer> {
        if !self.up(i) {
            return None;
        }
        let addr = self.places.get(i)?.running.as_ref()?.addr();
        let answer = self.caller.call(addr, &req);
        if answer.is_none() && self.up(i) {
            self.stats.fail(format!(
                "segment {i} left a request unanswered ({SENDS} sends)"
            ));
        }
        answer
    }

    /// The transport's counters: requests sent, sent again, unanswered.
    pub fn requests(&self) -> (u64, u64, u64) {
        let c = &self.caller;
        (c.requests.get(), c.resent.get(), c.unanswered.get())
    }

    /// Send `n` garbage datagrams to segment `i` (each must be rejected and counted).
    pub fn send_garbage(&self, i: usize, rng: &mut Rng, n: usize) {
        if let Some(p) = self.places.get(i).and_then(|p| p.running.as_ref()) {
            self.caller.send_garbage(p.addr(), rng, n);
        }
    }

    /// Stop every node (files stay).
    pub fn stop_all(&mut self) {
        for p in self.places.iter().filter_map(|p| p.running.as_ref()) {
            p.signal(); // all at once: each takes up to its read timeout to see it
        }
        for i in 0..self.places.len() {
            self.take_down(i);
        }
    }

    /// Every segment recovered from its file directly (no network), each compared with what
    /// its node held when it stopped; what differs, if anything. Every node must be down.
    pub fn recover_all_from_files(&self, cfg: &FailoverConfig) -> Result<(), String> {
        for (i, p) in self.places.iter().enumerate() {
            let seg = self.recover_file(cfg, i)?;
            if seg != p.last {
                return Err(format!(
                    "segment {i} came back from its file as {seg:?}, not as it went down: {:?}",
                    p.last
                ));
            }
        }
        Ok(())
    }

    /// Segment `i` as its file brings it back (down), or why it does not come back.
    fn recover_file(&self, cfg: &FailoverConfig, i: usize) -> Result<Seg, String> {
        let path = &self.places[i].path;
        let disk = FileDisk::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let node = SegmentNode::recover(cfg, i as u8, disk)
            .map_err(|(why, _)| format!("segment {i} does not recover: {why}"))?;
        if let Some(d) = &node.torn_tail {
            return Err(format!("segment {i}'s file has a torn tail: {d}"));
        }
        Ok(Seg {
            up: false,
            ..*node.seg()
        })
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
        if recs.len() != MAX_LSN {
            return None;
        }
        let mut seg = Seg {
            up: true,
            az: self.places[i].az,
            fence: *fence,
            trunc_epoch: *trunc_epoch,
            scl: *scl,
            ..Seg::default()
        };
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
        // A node whose thread ended by itself is not up (it died: see `take_down`).
        self.places
            .get(i)
            .and_then(|p| p.running.as_ref())
            .is_some_and(Served::running)
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
        let Some(served) = self.places[i].running.take() else {
            return false;
        };
        match served.stop() {
            Some(node) => {
                self.places[i].last = Seg {
                    up: false,
                    ..*node.seg()
                };
                true
            }
            None => {
                self.stats.fail(format!("segment {i}'s node died"));
                false
            }
        }
    }

    fn restart(&mut self, cfg: &FailoverConfig, i: usize) -> Result<(), String> {
        if self.places[i].running.is_some() {
            return Err(format!("segment {i} is running"));
        }
        let path = self.places[i].path.clone();
        let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let node = SegmentNode::recover(cfg, i as u8, disk)
            .map_err(|(why, _)| format!("{}: {why}", path.display()))?;
        let back = Seg {
            up: false,
            ..*node.seg()
        };
        if back != self.places[i].last || node.torn_tail.is_some() {
            self.stats.fail(format!(
                "segment {i} restarted from its file as {back:?}, not as it went down: {:?}",
                self.places[i].last
            ));
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
        // Down (or not answering, which fails the round): as it went down.
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
    /// Whether the run can start: a time above 0, a data directory that is new or empty.
    pub fn validate(&self) -> Result<(), String> {
        crate::rounds::check_start(self.seconds, &self.dir, "failover")
    }

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
        crate::rounds::quantile_ms(&self.latencies_us, q)
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
    rc.validate()?;
    let mut rng = Rng::new(rc.seed);
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = start;
    let limit = Duration::from_secs_f64(rc.seconds);
    while start.elapsed() < limit && !stop.load(Ordering::Relaxed) {
        let round = report.rounds;
        let dir = rc.dir.join(format!("round-{round}"));
        let host = match UdpHost::start(&cfg, &dir) {
            Ok(h) => h,
            Err(why) if round == 0 => return Err(why),
            Err(why) => {
                // The rounds already run stand; this one could not start.
                report
                    .failures
                    .push((round, format!("cannot start: {why}")));
                break;
            }
        };
        let mut cluster = Cluster::with_host(&cfg, host);
        let mut violated = None;
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
            if start.elapsed() >= limit {
                break; // the round ends with the time and is verified like any other
            }
            list.clear();
            actions(&cfg, &s, &mut list);
            if list.is_empty() {
                break;
            }
            // The workload and the protocol's own steps, with a fault now and then (a fault
            // at every step would leave the writer no time to commit anything).
            let took = crate::rounds::next_event(
                &list,
                Action::is_environment,
                FAULT_ODDS,
                &mut rng,
                stop,
                |a| cluster.apply(a),
            );
            let Some(a) = took else {
                break; // quiescent (or interrupted: the loop's next turn says so)
            };
            report.events += 1;
            let now = Instant::now();
            s = cluster.lift();
            for (l, w) in written_at.iter_mut().enumerate() {
                if w.is_none() && s.sent[l] != 0 {
                    *w = Some(now);
                }
            }
            if let Some((name, why)) = first_violation(&cfg, &s) {
                violated = Some(format!("after {a:?}: {name}: {why}"));
                break;
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
        let verdict = match violated {
            Some(why) => Err(why),
            None => verify(&cfg, &mut cluster),
        };
        if let Err(why) = verdict {
            report.failures.push((round, why));
        }
        let (sent, resent, unanswered) = cluster.host().requests();
        report.requests.0 += sent;
        report.requests.1 += resent;
        report.requests.2 += unanswered;
        report.rejected_datagrams += cluster.host().stats.rejected.load(Ordering::Relaxed);
        report.rounds += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// The first `always` invariant of the model `s` violates, with why.
fn first_violation(
    cfg: &FailoverConfig,
    s: &quorate_model::failover::FailoverState,
) -> Option<(&'static str, String)> {
    crate::rounds::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}

/// The end of a round: every invariant on the last state, every segment node stopped and
/// recovered from its file directly (it must come back as it went down), and nothing that
/// broke the round's guarantees on the way (a node that died, a restart that did not come back
/// as it went down, a request left unanswered).
fn verify(cfg: &FailoverConfig, cluster: &mut Cluster<UdpHost>) -> Result<(), String> {
    let last = cluster.lift();
    if let Some((name, why)) = first_violation(cfg, &last) {
        return Err(format!("{name}: {why}"));
    }
    cluster.host_mut().stop_all();
    if let Some(why) = cluster.host().stats.failures.borrow().first() {
        return Err(why.clone());
    }
    cluster.host().recover_all_from_files(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram that parses but carries a field out of range (LSN 0, a range at epoch 0)
    /// is rejected and counted by the node, which goes on serving.
    #[test]
    fn a_datagram_out_of_range_is_rejected_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("quorate-fo-garbage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = RunConfig {
            dir: dir.clone(),
            seconds: 1.0,
            faults: vec![],
            seed: 1,
        }
        .protocol();
        let mut host = UdpHost::start(&cfg, &dir).unwrap();
        let bad = [
            Req::Handle {
                msg: Msg::Write {
                    lsn: 0,
                    epoch: 1,
                    range: None,
                },
                truncs: vec![],
            },
            Req::Handle {
                msg: Msg::Fence { epoch: 2 },
                truncs: vec![WireTrunc {
                    epoch: 0,
                    lo: 1,
                    hi: 2,
                }],
            },
        ];
        let addr = host.places[0].running.as_ref().unwrap().addr();
        for (id, body) in bad.into_iter().enumerate() {
            let bytes = crate::codec::encode(&crate::udp::Envelope {
                id: 900 + id as u64,
                body,
            });
            host.caller.send_raw(addr, &bytes);
        }
        assert!(host.report(0).is_some(), "the node still serves");
        assert_eq!(host.stats.rejected.load(Ordering::Relaxed), 2);
        assert!(host.up(0));
        drop(host);
        let _ = std::fs::remove_dir_all(&dir);
    }

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
