//! The real runtime of Backtrack: the Backtrack cluster ([`super::Cluster`]) with its engine
//! as an OS thread with its own UDP socket on 127.0.0.1 and its log in a file (fsynced before
//! every reply), driven by a seeded schedule of the model's events in real time, every
//! invariant checked after every event, and every round verified from the file.
//!
//! * [`UdpEngine`] is an [`EngineHost`] on the transport of [`crate::udp`]: every request is a
//!   datagram answered by one; one left unanswered fails the round. A crash of the rewind
//!   stops the engine's thread and starts a new one that recovers from the file alone; the
//!   round fails unless it comes back as a crash must leave it (the transaction in flight
//!   gone, a rewind in progress crashed on the data it started from). A datagram that does not
//!   parse or has a field out of range is rejected and counted.
//! * The client, its connection, the reader instances and the operator run in the
//!   coordinator, as in the simulated cluster: the same code.
//! * A **round** is one cluster of the model's size (two keys, seven transactions, the clock
//!   to 7, a window of 3, three backtracks, two readers) in `DIR/round-<n>/engine.log`; at its
//!   end the engine is stopped and recovered from its file directly, and must come back as a
//!   crash must leave it. Rounds repeat until the time is up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::model::{all_properties, evaluate};
use quorate_model::backtrack::state::BacktrackState;
use quorate_model::backtrack::step::{Action, actions};

use super::Cluster;
use super::engine::{EngineNode, EngineState};
use super::host::EngineHost;
use super::wire::{self, Msg};
use crate::durable::FileDisk;
use crate::rng::Rng;
use crate::udp::{Caller, Outcome, SENDS, Served};

/// What the coordinator asks the engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Req {
    /// Handle this message.
    Handle(Msg),
    /// What is your state?
    State,
}

/// The engine's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Answer {
    /// The reply to a message.
    Reply(Msg),
    /// Its state.
    State(Box<EngineState>),
}

/// The engine as a thread with a UDP socket and a log file.
#[derive(Debug)]
pub struct UdpEngine {
    cfg: BacktrackConfig,
    path: PathBuf,
    caller: Caller,
    running: Option<Served<EngineNode<FileDisk>>>,
    /// Datagrams the engine rejected.
    pub rejected: Arc<AtomicU64>,
    /// What broke the round's guarantees.
    pub failures: std::cell::RefCell<Vec<String>>,
}

/// One request to the engine: range-checked (a message out of range is rejected and
/// counted), then handled by the engine, which logs and fsyncs before it returns.
fn serve_one(cfg: &BacktrackConfig, node: &mut EngineNode<FileDisk>, req: Req) -> Outcome<Answer> {
    match req {
        Req::Handle(msg) => {
            if wire::decode(&wire::encode(&msg)).is_err() {
                return Outcome::Reject;
            }
            match node.handle(cfg, &msg) {
                Ok(reply) => Outcome::Answer(Answer::Reply(reply)),
                Err(e) => Outcome::Fatal(format!("cannot write its log: {e}")),
            }
        }
        Req::State => Outcome::Answer(Answer::State(Box::new(node.state().clone()))),
    }
}

impl UdpEngine {
    /// A fresh engine with its log in `dir` (which must not hold one yet).
    pub fn start(cfg: &BacktrackConfig, dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("engine.log");
        let disk = FileDisk::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let node = EngineNode::create(disk).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut host = UdpEngine {
            cfg: cfg.clone(),
            path,
            caller: Caller::new()?,
            running: None,
            rejected: Arc::default(),
            failures: Default::default(),
        };
        host.launch(node)?;
        Ok(host)
    }

    fn launch(&mut self, node: EngineNode<FileDisk>) -> Result<(), String> {
        let cfg = self.cfg.clone();
        let served = Served::spawn(
            "engine".into(),
            node,
            self.rejected.clone(),
            move |n, req| serve_one(&cfg, n, req),
        )?;
        self.running = Some(served);
        Ok(())
    }

    fn fail(&self, why: String) {
        self.failures.borrow_mut().push(why);
    }

    fn call(&self, req: Req) -> Option<Answer> {
        let served = self.running.as_ref().filter(|s| s.running())?;
        let answer = self.caller.call(served.addr(), &req);
        if answer.is_none() {
            self.fail(format!(
                "the engine left a request unanswered ({SENDS} sends)"
            ));
        }
        answer
    }

    /// The transport's counters: requests sent, sent again, unanswered.
    pub fn requests(&self) -> (u64, u64, u64) {
        let c = &self.caller;
        (c.requests.get(), c.resent.get(), c.unanswered.get())
    }

    /// Send `n` garbage datagrams to the engine.
    pub fn send_garbage(&self, rng: &mut Rng, n: usize) {
        if let Some(s) = &self.running {
            self.caller.send_garbage(s.addr(), rng, n);
        }
    }

    /// Stop the engine: its state as it was (`None` if it had died).
    fn stop(&mut self) -> Option<EngineState> {
        let node = self.running.take()?.stop();
        if node.is_none() {
            self.fail("the engine died".into());
        }
        node.map(|n| n.state().clone())
    }

    /// The engine recovered from its file directly, or why it does not come back.
    fn recover_file(&self) -> Result<EngineNode<FileDisk>, String> {
        let disk =
            FileDisk::open(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        let node = EngineNode::recover(disk)
            .map_err(|(why, _)| format!("the engine does not recover: {why}"))?;
        if let Some(d) = &node.torn_tail {
            return Err(format!("the engine's file has a torn tail: {d}"));
        }
        Ok(node)
    }

    /// Stop the engine and recover it from its file: it must come back as a crash leaves it.
    pub fn check_file(&mut self) -> Result<(), String> {
        let Some(was) = self.stop() else {
            return Err("the engine died".into());
        };
        let back = self.recover_file()?.state().clone();
        if back != was.after_crash() {
            return Err(format!(
                "the engine came back from its file as {back:?}, not as a crash leaves {was:?}"
            ));
        }
        Ok(())
    }
}

impl Drop for UdpEngine {
    fn drop(&mut self) {
        if let Some(s) = self.running.take() {
            s.stop();
        }
    }
}

impl EngineHost for UdpEngine {
    fn state(&self) -> EngineState {
        match self.call(Req::State) {
            Some(Answer::State(s)) => *s,
            _ => EngineState::default(), // unanswered: the round fails
        }
    }

    fn handle(&mut self, _: &BacktrackConfig, msg: &Msg) -> Option<Msg> {
        match self.call(Req::Handle(msg.clone()))? {
            Answer::Reply(r) => Some(r),
            Answer::State(_) => None,
        }
    }

    fn crash(&mut self) -> Result<(), String> {
        let was = self.stop().ok_or("the engine died")?;
        let node = self.recover_file()?;
        if *node.state() != was.after_crash() {
            self.fail(format!(
                "the engine restarted from its file as {:?}, not as a crash leaves {was:?}",
                node.state()
            ));
        }
        self.launch(node)
    }
}

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The engine crashes during a rewind (and restarts from its file).
    Crash,
    /// Memory pressure evicts history early.
    Pressure,
    /// Garbage datagrams to the engine.
    Garbage,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "crash" => Fault::Crash,
            "pressure" => Fault::Pressure,
            "garbage" => Fault::Garbage,
            _ => {
                return Err(format!(
                    "unknown fault '{s}'; use a comma-separated list of crash, pressure, garbage"
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
        crate::rounds::check_start(self.seconds, &self.dir, "backtrack")
    }

    /// The protocol parameters every round runs.
    pub fn protocol(&self) -> BacktrackConfig {
        let mut cfg = BacktrackConfig::base();
        let n = |f| if self.faults.contains(&f) { "2" } else { "0" };
        for (k, v) in [
            ("keys", "2"),
            ("txns", "7"),
            ("max_time", "7"),
            ("window", "3"),
            ("backtracks", "3"),
            ("readers", "2"),
            ("crashes", n(Fault::Crash)),
            ("pressure", n(Fault::Pressure)),
        ] {
            cfg.set(k, v).expect("a valid parameter");
        }
        cfg.validate().expect("a valid config");
        cfg
    }
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
    /// Backtracks completed (resumed).
    pub backtracks: u64,
    /// Rewinds that crashed and restarted from the file.
    pub crashes: u64,
    /// Requests sent to the engine, sent again, unanswered.
    pub requests: (u64, u64, u64),
    /// Garbage datagrams the engine rejected.
    pub rejected_datagrams: u64,
    /// Verification failures: the round and what failed.
    pub failures: Vec<(u64, String)>,
    /// The run was interrupted.
    pub interrupted: bool,
}

/// One step in this many is an environment event (the client, the clock, the operator, a
/// fault) when a rewind step is also possible: a rewind, once started, mostly runs on.
const ENVIRONMENT_ODDS: u64 = 3;

/// Events per round at most.
const ROUND_EVENTS: usize = 1_000;

/// The first `always` invariant of the model `s` violates, with why.
fn first_violation(cfg: &BacktrackConfig, s: &BacktrackState) -> Option<(&'static str, String)> {
    crate::rounds::first_violation(all_properties(), |name| evaluate(name, cfg, s))
}

/// Run rounds until the time is up or `stop` is set; `progress` gets (elapsed, rounds,
/// backtracks) about once a second.
pub fn run(
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, u64, u64),
) -> Result<Report, String> {
    rc.validate()?;
    let cfg = rc.protocol();
    let mut rng = Rng::new(rc.seed);
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = start;
    let limit = Duration::from_secs_f64(rc.seconds);
    while start.elapsed() < limit && !stop.load(Ordering::Relaxed) {
        let round = report.rounds;
        let host = match UdpEngine::start(&cfg, &rc.dir.join(format!("round-{round}"))) {
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
            s = cluster.lift();
            if let Some((name, why)) = first_violation(&cfg, &s) {
                violated = Some(format!("after {a:?}: {name}: {why}"));
                break;
            }
            match a {
                Action::Resume => report.backtracks += 1,
                Action::Crash => report.crashes += 1,
                _ => {}
            }
            if rc.faults.contains(&Fault::Garbage) && rng.chance(1, 30) {
                cluster.host().send_garbage(&mut rng, 3);
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(start.elapsed(), report.rounds, report.backtracks);
            }
        }
        report.acked += u64::from(s.ghost.acked.count_ones());
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
    Ok(report)
}

/// The end of a round: every invariant on the last state, the engine stopped and recovered
/// from its file directly (it must come back as a crash leaves it), and nothing that broke the
/// round's guarantees on the way.
fn verify(cfg: &BacktrackConfig, cluster: &mut Cluster<UdpEngine>) -> Result<(), String> {
    if let Some((name, why)) = first_violation(cfg, &cluster.lift()) {
        return Err(format!("{name}: {why}"));
    }
    let file = cluster.host_mut().check_file();
    if let Some(why) = cluster.host().failures.borrow().first() {
        return Err(why.clone());
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification is not a formality: an engine whose file lost a commit it had
    /// acknowledged does not come back as a crash leaves it, and the round fails.
    #[test]
    fn an_engine_file_that_lost_a_commit_fails_the_round() {
        let dir = std::env::temp_dir().join(format!("quorate-bt-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = RunConfig {
            dir: dir.clone(),
            seconds: 1.0,
            faults: vec![],
            seed: 1,
        }
        .protocol();
        let host = UdpEngine::start(&cfg, &dir).unwrap();
        let mut cluster = Cluster::with_host(&cfg, host);
        for a in [Action::Begin, Action::Write { key: 0 }, Action::Commit] {
            assert!(cluster.apply(&a), "{a:?}");
        }
        assert_eq!(cluster.lift().db[0], 1);
        // Take the commit off the engine's file while it runs.
        let path = dir.join("engine.log");
        let bytes = std::fs::read(&path).unwrap();
        let got = crate::durable::unframe::<super::super::engine::Entry>(&bytes);
        assert_eq!(got.records.len(), 2);
        let created = crate::durable::frame(&crate::codec::encode(&got.records[0]));
        std::fs::write(&path, &created).unwrap();
        let verdict = verify(&cfg, &mut cluster);
        assert!(
            verdict
                .as_ref()
                .is_err_and(|why| why.contains("came back from its file")),
            "{verdict:?}"
        );
        drop(cluster);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
