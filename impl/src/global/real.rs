//! The real runtime of the Global Database: the Global Database cluster ([`super::Cluster`])
//! with its region nodes as OS threads, each with its own UDP socket on 127.0.0.1 and its log
//! in a file (fsynced before every reply), driven by a seeded schedule of the model's events
//! in real time, every invariant checked after every event, and every round verified from
//! the files.
//!
//! * [`UdpRegions`] is a [`RegionHost`] on the transport of [`crate::udp`]: every request to
//!   a region is a datagram answered by one; one left unanswered fails the round. An outage
//!   stops the node's thread (its file stays: every entry was synced before its reply); a
//!   return starts a new one that recovers the region from its file alone, and the round
//!   fails unless it comes back exactly as it went down. The storage control path (the fence,
//!   a cancelled switchover) reaches a down region's file directly. A datagram that does not
//!   parse or has a field out of range is rejected and counted by the node.
//! * The clients, the control plane and the network (partitions) run in the coordinator, as
//!   in the simulated cluster: the same code.
//! * A **round** is one Global Database of the model's size (three regions, six transactions
//!   of one record, the RPO gate at 2 ticks, two switchovers and two failovers) in
//!   `DIR/round-<n>/region-<r>.log`; at its end every region node is stopped and recovered
//!   from its file directly and must come back as it went down. Rounds repeat until the time
//!   is up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::global::GlobalConfig;
use quorate_model::global::config::MAX_TXNS;
use quorate_model::global::model::{all_properties, evaluate};
use quorate_model::global::state::GlobalState;
use quorate_model::global::step::{Action, actions, init};

use super::Cluster;
use super::host::RegionHost;
use super::region::{RegionNode, View};
use super::wire::{self, Msg};
use crate::durable::FileDisk;
use crate::rng::Rng;
use crate::udp::{Caller, Outcome, SENDS, Served};

/// What the coordinator asks a region node.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Req {
    /// Handle this message at this clock.
    Handle {
        /// The message.
        msg: Msg,
        /// The clock.
        now: u8,
    },
    /// What are you?
    View,
    /// A round starts: forget the last round's lag reports.
    NewRound,
}

/// A region's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Answer {
    /// The reply to a message, if any.
    Reply(Option<Msg>),
    /// What it is.
    View(View),
    /// Done.
    Done,
}

/// One region's place.
#[derive(Debug)]
struct Place {
    path: PathBuf,
    running: Option<Served<RegionNode<FileDisk>>>,
    /// The region as its node was when it stopped (its file must bring back the same).
    last: View,
}

/// Region nodes as threads with UDP sockets and log files.
#[derive(Debug)]
pub struct UdpRegions {
    cfg: GlobalConfig,
    caller: Caller,
    places: Vec<Place>,
    /// Datagrams the nodes rejected.
    pub rejected: Arc<AtomicU64>,
    /// What broke the round's guarantees.
    pub failures: std::cell::RefCell<Vec<String>>,
}

/// One request to a region node: range-checked (a message out of range is rejected and
/// counted), then handled by the node, which logs and fsyncs before it returns.
fn serve_one(cfg: &GlobalConfig, node: &mut RegionNode<FileDisk>, req: Req) -> Outcome<Answer> {
    match req {
        Req::Handle { msg, now } => {
            if wire::decode(&wire::encode(&msg)).is_err() || now > cfg.max_time {
                return Outcome::Reject;
            }
            match node.handle(cfg, &msg, now) {
                Ok(reply) => Outcome::Answer(Answer::Reply(reply)),
                Err(e) => Outcome::Fatal(format!("cannot write its log: {e}")),
            }
        }
        Req::View => Outcome::Answer(Answer::View(node.view().clone())),
        Req::NewRound => {
            node.new_round();
            Outcome::Answer(Answer::Done)
        }
    }
}

impl UdpRegions {
    /// Fresh regions, the first primary as the model's initial state has it, with their logs
    /// in `dir` (which must not hold them yet).
    pub fn start(cfg: &GlobalConfig, dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut host = UdpRegions {
            cfg: cfg.clone(),
            caller: Caller::new()?,
            places: Vec::new(),
            rejected: Arc::default(),
            failures: Default::default(),
        };
        let primary = init(cfg).primary;
        for r in 0..cfg.regions {
            let path = dir.join(format!("region-{r}.log"));
            let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let node = RegionNode::create(r, r == primary, disk)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let last = node.view().clone();
            host.places.push(Place {
                path,
                running: None,
                last,
            });
            host.launch(usize::from(r), node)?;
        }
        Ok(host)
    }

    fn launch(&mut self, r: usize, node: RegionNode<FileDisk>) -> Result<(), String> {
        let cfg = self.cfg.clone();
        let served = Served::spawn(
            format!("region {r}"),
            node,
            self.rejected.clone(),
            move |node, req| serve_one(&cfg, node, req),
        )?;
        self.places[r].running = Some(served);
        Ok(())
    }

    fn fail(&self, why: String) {
        self.failures.borrow_mut().push(why);
    }

    fn call(&self, r: usize, req: Req) -> Option<Answer> {
        if !self.up(r) {
            return None;
        }
        let addr = self.places.get(r)?.running.as_ref()?.addr();
        let answer = self.caller.call(addr, &req);
        if answer.is_none() && self.up(r) {
            self.fail(format!(
                "region {r} left a request unanswered ({SENDS} sends)"
            ));
        }
        answer
    }

    /// The transport's counters: requests sent, sent again, unanswered.
    pub fn requests(&self) -> (u64, u64, u64) {
        let c = &self.caller;
        (c.requests.get(), c.resent.get(), c.unanswered.get())
    }

    /// Send `n` garbage datagrams to region `r`.
    pub fn send_garbage(&self, r: usize, rng: &mut Rng, n: usize) {
        if let Some(p) = self.places.get(r).and_then(|p| p.running.as_ref()) {
            self.caller.send_garbage(p.addr(), rng, n);
        }
    }

    /// Stop every node (files stay).
    pub fn stop_all(&mut self) {
        for r in 0..self.places.len() {
            self.take_down(r);
        }
    }

    /// Region `r` as its file brings it back, or why it does not come back.
    fn recover_file(&self, r: usize) -> Result<RegionNode<FileDisk>, String> {
        let path = &self.places[r].path;
        let disk = FileDisk::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let node = RegionNode::recover(disk)
            .map_err(|(why, _)| format!("region {r} does not recover: {why}"))?;
        if let Some(d) = &node.torn_tail {
            return Err(format!("region {r}'s file has a torn tail: {d}"));
        }
        Ok(node)
    }

    /// Every region recovered from its file directly, compared with what its node held when
    /// it stopped. Every node must be down.
    pub fn recover_all_from_files(&self) -> Result<(), String> {
        for r in 0..self.places.len() {
            let back = self.recover_file(r)?.view().clone();
            if back != self.places[r].last {
                return Err(format!(
                    "region {r} came back from its file as {back:?}, not as it went down: {:?}",
                    self.places[r].last
                ));
            }
        }
        Ok(())
    }
}

impl Drop for UdpRegions {
    fn drop(&mut self) {
        self.stop_all();
    }
}

impl RegionHost for UdpRegions {
    fn len(&self) -> usize {
        self.places.len()
    }

    fn up(&self, r: usize) -> bool {
        self.places
            .get(r)
            .and_then(|p| p.running.as_ref())
            .is_some_and(Served::running)
    }

    fn handle(&mut self, _: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg> {
        let req = Req::Handle {
            msg: msg.clone(),
            now,
        };
        match self.call(r, req)? {
            Answer::Reply(reply) => reply,
            _ => None,
        }
    }

    fn at_rest(&mut self, cfg: &GlobalConfig, r: usize, msg: &Msg, now: u8) -> Option<Msg> {
        let mut node = match self.recover_file(r) {
            Ok(n) => n,
            Err(why) => {
                self.fail(why);
                return None;
            }
        };
        let reply = match node.handle(cfg, msg, now) {
            Ok(reply) => reply,
            Err(e) => {
                self.fail(format!("region {r}'s volume cannot be written: {e}"));
                return None;
            }
        };
        self.places[r].last = node.view().clone();
        reply
    }

    fn view(&self, r: usize) -> View {
        if self.up(r)
            && let Some(Answer::View(v)) = self.call(r, Req::View)
        {
            return v;
        }
        self.places[r].last.clone()
    }

    fn take_down(&mut self, r: usize) -> bool {
        let Some(served) = self.places[r].running.take() else {
            return false;
        };
        match served.stop() {
            Some(node) => {
                self.places[r].last = node.view().clone();
                true
            }
            None => {
                self.fail(format!("region {r}'s node died"));
                false
            }
        }
    }

    fn bring_back(&mut self, r: usize) -> Result<(), String> {
        if self.places[r].running.is_some() {
            return Err(format!("region {r} is running"));
        }
        let node = self.recover_file(r)?;
        if *node.view() != self.places[r].last {
            self.fail(format!(
                "region {r} came back from its file as {:?}, not as it went down: {:?}",
                node.view(),
                self.places[r].last
            ));
        }
        self.launch(r, node)
    }

    fn new_round(&mut self) {
        for r in 0..self.places.len() {
            if self.up(r) {
                self.call(r, Req::NewRound);
            }
        }
    }
}

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A region goes down (its log stays) and returns.
    Outage,
    /// A region is cut off from the others and the control plane, and heals.
    Partition,
    /// Garbage datagrams to a region node.
    Garbage,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "outage" => Fault::Outage,
            "partition" => Fault::Partition,
            "garbage" => Fault::Garbage,
            _ => {
                return Err(format!(
                    "unknown fault '{s}'; use a comma-separated list of outage, partition, \
                     garbage"
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
        crate::rounds::check_start(self.seconds, &self.dir, "global")
    }

    /// The protocol parameters every round runs.
    pub fn protocol(&self) -> GlobalConfig {
        let mut cfg = GlobalConfig::base();
        let n = |f| if self.faults.contains(&f) { "2" } else { "0" };
        for (k, v) in [
            ("regions", "3"),
            ("txns", "6"),
            ("rpo", "2"),
            ("max_time", "7"),
            ("switchovers", "2"),
            ("failovers", "2"),
            ("outages", n(Fault::Outage)),
            ("partitions", n(Fault::Partition)),
        ] {
            cfg.set(k, v).expect("a valid parameter");
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
    /// Switchovers completed.
    pub switchovers: u64,
    /// Failovers completed.
    pub failovers: u64,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seconds it ran.
    pub seconds: f64,
    /// Rounds run and verified.
    pub rounds: u64,
    /// Events carried out.
    pub events: u64,
    /// Commits acknowledged.
    pub acked: u64,
    /// Switchovers completed.
    pub switchovers: u64,
    /// Failovers completed.
    pub failovers: u64,
    /// Old primaries that rejoined through a snapshot.
    pub rejoins: u64,
    /// Returns from an outage (regions recovered from their files).
    pub returns: u64,
    /// Latencies from a commit's write to its acknowledgement, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Requests sent to region nodes, sent again, unanswered.
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

/// One step in this many is an environment event (the clock, an operator command, a fault),
/// when one is possible.
const ENVIRONMENT_ODDS: u64 = 8;

/// Events per round at most.
const ROUND_EVENTS: usize = 1_000;

/// The first `always` invariant of the model `s` violates, with why.
fn first_violation(cfg: &GlobalConfig, s: &GlobalState) -> Option<(&'static str, String)> {
    crate::rounds::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}

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
        let host = match UdpRegions::start(&cfg, &rc.dir.join(format!("round-{round}"))) {
            Ok(h) => h,
            Err(why) if round == 0 => return Err(why),
            Err(why) => {
                report
                    .failures
                    .push((round, format!("cannot start: {why}")));
                break;
            }
        };
        let mut cluster = Cluster::with_host(&cfg, host);
        let mut violated = None;
        let mut written_at: [Option<Instant>; MAX_TXNS] = [None; MAX_TXNS];
        let mut acked = [false; MAX_TXNS];
        let mut list = Vec::new();
        let mut s = cluster.lift();
        for _ in 0..ROUND_EVENTS {
            if stop.load(Ordering::Relaxed) {
                report.interrupted = true;
                break;
            }
            if start.elapsed() >= limit {
                break;
            }
            list.clear();
            actions(&cfg, &s, &mut list);
            let took = crate::rounds::next_event(
                &list,
                Action::is_environment,
                ENVIRONMENT_ODDS,
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
            if let Some((name, why)) = first_violation(&cfg, &s) {
                violated = Some(format!("after {a:?}: {name}: {why}"));
                break;
            }
            match a {
                Action::SwitchoverPromote => report.switchovers += 1,
                Action::FailoverPromote => report.failovers += 1,
                Action::Rejoin { .. } => report.rejoins += 1,
                Action::Return { .. } => report.returns += 1,
                _ => {}
            }
            for x in 0..usize::from(cfg.txns) {
                let txn = x as u8 + 1;
                let held = (0..s.regions.len()).any(|r| s.holds_commit(r, txn));
                if written_at[x].is_none() && held {
                    written_at[x] = Some(now);
                }
                if !acked[x] && s.ghost.acked[x] != 0 {
                    acked[x] = true;
                    report.acked += 1;
                    if let Some(w) = written_at[x] {
                        report
                            .latencies_us
                            .push(now.duration_since(w).as_micros() as u64);
                    }
                }
            }
            if rc.faults.contains(&Fault::Garbage) && rng.chance(1, 30) {
                let r = rng.below(cluster.regions() as u64) as usize;
                cluster.host().send_garbage(r, &mut rng, 3);
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(&Progress {
                    elapsed: start.elapsed(),
                    rounds: report.rounds,
                    acked: report.acked,
                    switchovers: report.switchovers,
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
        report.rejected_datagrams += cluster.host().rejected.load(Ordering::Relaxed);
        report.rounds += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// The end of a round: every invariant on the last state, every region node stopped and
/// recovered from its file directly (it must come back as it went down), and nothing that
/// broke the round's guarantees on the way.
fn verify(cfg: &GlobalConfig, cluster: &mut Cluster<UdpRegions>) -> Result<(), String> {
    if let Some((name, why)) = first_violation(cfg, &cluster.lift()) {
        return Err(format!("{name}: {why}"));
    }
    cluster.host_mut().stop_all();
    if let Some(why) = cluster.host().failures.borrow().first() {
        return Err(why.clone());
    }
    cluster.host().recover_all_from_files()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification is not a formality: a region whose file lost an entry it had
    /// acknowledged does not come back as it went down, and the round fails.
    #[test]
    fn a_region_file_that_lost_an_entry_fails_the_round() {
        let dir = std::env::temp_dir().join(format!("quorate-gl-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = RunConfig {
            dir: dir.clone(),
            seconds: 1.0,
            faults: vec![],
            seed: 1,
        }
        .protocol();
        let host = UdpRegions::start(&cfg, &dir).unwrap();
        let mut cluster = Cluster::with_host(&cfg, host);
        assert!(cluster.apply(&Action::Write { region: 0 }));
        assert_eq!(cluster.lift().regions[0].log.len(), 1);
        // Take the region's last entry (the record) off its file while it runs.
        let path = dir.join("region-0.log");
        let bytes = std::fs::read(&path).unwrap();
        let got = crate::durable::unframe::<super::super::region::Entry>(&bytes);
        assert_eq!(got.records.len(), 2);
        let created = crate::durable::frame(&crate::codec::encode(&got.records[0]));
        std::fs::write(&path, &created).unwrap();
        let verdict = verify(&cfg, &mut cluster);
        assert!(
            verdict
                .as_ref()
                .is_err_and(|why| why.contains("region 0 came back")),
            "{verdict:?}"
        );
        drop(cluster);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
