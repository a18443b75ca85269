//! The live runtime of the Global Database: every region is two threads with their own UDP
//! sockets on 127.0.0.1 (its node, with its log in a file fsynced before every answer, and its
//! agent: the region's clients and its replication), and the control plane is a thread of its
//! own; all run on their own timers, with no schedule to pace them.
//!
//! * [`node`]: a region's node and agent. The primary's clients write a record of the
//!   workload every [`node::WRITE_EVERY`] and wait for its acknowledgement, which the node
//!   gives when the RPO gate lets it (on the lag reports of its secondaries); a secondary's
//!   agent sends its lag report to the primary and applies the record it answers with.
//! * [`control`]: the control plane. It polls every region it reaches; it fails over when the
//!   primary has been silent for [`control::FAIL_AFTER`] (fence, promote the most caught-up
//!   secondary, rebuild the secondaries ahead of it, let the old primary rejoin through its
//!   snapshot once it answers again), and switches over, or cancels, when the operator asks.
//! * [`regions`]: each region's place, and the storage control path to its volume.
//! * [`observer`]: the clock (model ticks of [`TICK`] real time) and the history, recorded on
//!   a linearised mirror of the cluster with the model's own observer functions.
//!
//! A **round** is one Global Database of the model's size (three regions, six transactions
//! of one record, the RPO gate at 2 ticks, two switchovers and two failovers at most) in
//! `DIR/round-<n>/`. The coordinator (this thread) plays the operator (switchovers, some
//! cancelled, at random moments of the workload) and the faults asked for: a region goes down
//! (its node and agent stop; it comes back from its file 100 to 600 ms later), a region is
//! cut off from the others and the control plane (healed 100 to 700 ms later), garbage
//! datagrams. A region down or cut off for longer than [`control::FAIL_AFTER`] while it is
//! the primary is failed over. The round ends when the workload is done and acknowledged, the
//! cluster is whole again and every secondary has caught up, or after [`ROUND_LIMIT`]. Then
//! every thread stops, every region is recovered from its file (it must come back as it went
//! down, and as the observer saw it), and the cluster's end state, with the history of what
//! was acknowledged, is lifted into the model's terms: every `always` invariant of the global
//! model must hold on it (C1: a switchover keeps every acknowledged commit; C2: one writer;
//! C3: secondaries are prefixes of the primary; C4: a rejoined old primary lost nothing
//! acknowledged that its snapshot did not save; C5: a failover loses only what the RPO
//! allows; ...).

pub mod control;
pub mod node;
pub mod observer;
pub mod regions;

use std::collections::{BTreeSet, VecDeque};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorate_model::global::GlobalConfig;
use quorate_model::global::model::{all_properties, evaluate};
use quorate_model::global::properties::region_name;
use quorate_model::global::region as rules;
use quorate_model::global::state::{GlobalState, Op, Role, Txn};
use quorate_model::global::step::{init, writes};

use super::real::{Fault, Progress, RunConfig};
use super::region::View;
use crate::rng::Rng;
use crate::udp::{Outcome, Served};
use control::Command;
use node::{Shared, Workload};
use observer::{Clock, Observer, Seen};
use regions::Regions;

/// One tick of the model's clock in real time (the RPO of 2 ticks is 400 ms). The clock stops
/// at the model's `max_time` (7 ticks, 1.4 s), past which lag cannot grow: most rounds end
/// before it, and the report counts the acknowledgements made after it.
pub const TICK: Duration = Duration::from_millis(200);
/// A round that has not finished by then ends anyway (and is verified like any other).
pub const ROUND_LIMIT: Duration = Duration::from_secs(5);
/// A fault or command that still cannot strike this long after the workload finished is given
/// up.
pub const GIVE_UP_AFTER: Duration = Duration::from_millis(300);

/// What a live run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seconds it ran.
    pub seconds: f64,
    /// Rounds run and verified.
    pub rounds: u64,
    /// Rounds that ran into [`ROUND_LIMIT`] before they finished.
    pub stalled: u64,
    /// Commits acknowledged.
    pub acked: u64,
    /// Commits acknowledged once the clock had stopped at `max_time` (the gate's lag no longer
    /// grows then).
    pub acked_at_clock_end: u64,
    /// Acknowledgements the RPO gate held back (answers of "held").
    pub held: u64,
    /// Switchovers completed.
    pub switchovers: u64,
    /// Switchovers cancelled.
    pub cancels: u64,
    /// Failovers completed.
    pub failovers: u64,
    /// Secondaries rebuilt.
    pub rebuilds: u64,
    /// Old primaries that rejoined through their snapshots.
    pub rejoins: u64,
    /// Faults injected.
    pub faults: u64,
    /// Returns from an outage (regions recovered from their files).
    pub returns: u64,
    /// Latencies from a commit's write to its acknowledgement, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Requests sent, sent again, unanswered.
    pub requests: (u64, u64, u64),
    /// Garbage datagrams the nodes rejected.
    pub rejected_datagrams: u64,
    /// The first round's notable events.
    pub first_events: Vec<String>,
    /// The first round that ran into [`ROUND_LIMIT`].
    pub stalled_round: Option<u64>,
    /// Its notable events.
    pub stalled_events: Vec<String>,
    /// Verification failures: the round and what failed.
    pub failures: Vec<(u64, String)>,
    /// The notable events of the first round that failed.
    pub failed_events: Vec<String>,
    /// The last round's notable events.
    last_events: Vec<String>,
    /// The run was interrupted.
    pub interrupted: bool,
}

impl Report {
    /// The `q` quantile of commit latency, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        crate::rounds::quantile_ms(&self.latencies_us, q)
    }
}

/// What the coordinator does at a moment of the workload: when this many transactions have
/// begun.
#[derive(Clone, Copy, Debug)]
enum Act {
    Fault(Fault),
    Switchover,
}

#[derive(Clone, Copy, Debug)]
struct Planned {
    act: Act,
    at_begun: u8,
}

/// Run rounds until the time is up or `stop` is set; `progress` about once a second.
pub fn run(
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, String> {
    run_on(&rc.protocol(), rc, stop, progress)
}

/// As [`run`], with the protocol parameters `cfg` (a mutant planted in them, say: the
/// verification must then fail).
pub fn run_on(
    cfg: &GlobalConfig,
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, String> {
    rc.validate()?;
    let mut rng = Rng::new(rc.seed);
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = start;
    let limit = Duration::from_secs_f64(rc.seconds);
    while start.elapsed() < limit && !stop.load(Ordering::Relaxed) {
        let n = report.rounds;
        let dir = rc.dir.join(format!("round-{n}"));
        let verdict = round(cfg, rc, &dir, &mut rng, &mut report, &mut |r, seen| {
            if stop.load(Ordering::Relaxed) {
                r.interrupted = true;
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(&Progress {
                    elapsed: start.elapsed(),
                    rounds: r.rounds,
                    acked: r.acked + seen.acked,
                    switchovers: r.switchovers + seen.switchovers,
                    failovers: r.failovers + seen.failovers,
                });
            }
            start.elapsed() >= limit || r.interrupted
        });
        match verdict {
            Err(why) if n == 0 && why.starts_with("cannot start") => return Err(why),
            Err(why) => {
                if report.failures.is_empty() {
                    report.failed_events = std::mem::take(&mut report.last_events);
                }
                report.failures.push((n, why));
            }
            Ok(()) => {}
        }
        report.rounds += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// The operator's commands and the faults of one round, each at a random moment.
fn plan(rc: &RunConfig, cfg: &GlobalConfig, rng: &mut Rng) -> Vec<Planned> {
    let mut out = Vec::new();
    let at = |rng: &mut Rng| rng.below(u64::from(cfg.txns) + 1) as u8;
    for _ in 0..rng.below(u64::from(cfg.switchovers) + 1) {
        out.push(Planned {
            act: Act::Switchover,
            at_begun: at(rng),
        });
    }
    for &f in &rc.faults {
        let times = match f {
            Fault::Outage => rng.below(u64::from(cfg.outages) + 1),
            Fault::Partition => rng.below(u64::from(cfg.partitions) + 1),
            Fault::Garbage => 0,
        };
        for _ in 0..times {
            out.push(Planned {
                act: Act::Fault(f),
                at_begun: at(rng),
            });
        }
    }
    out.sort_by_key(|p| p.at_begun);
    out
}

/// What the coordinator's faults undo later: a region back up, or healed.
#[derive(Clone, Copy, Debug)]
enum Undo {
    Return(usize),
    Heal(usize),
    /// The operator cancels the switchover it asked for.
    Cancel,
}

/// The round's threads.
struct Round {
    sh: Shared,
    regions: Arc<Regions>,
    commands: Arc<Mutex<VecDeque<Command>>>,
    whom: Served<Arc<Mutex<control::Follow>>>,
    control: control::Running,
}

fn start(cfg: &GlobalConfig, dir: &std::path::Path) -> Result<Round, String> {
    let rejected = Arc::new(AtomicU64::new(0));
    let follow = Arc::new(Mutex::new(control::Follow::new(cfg)));
    let regions_n = usize::from(cfg.regions);
    let whom = Served::spawn(
        "control plane".into(),
        follow.clone(),
        rejected.clone(),
        move |f: &mut Arc<Mutex<control::Follow>>, r: u8| {
            if usize::from(r) >= regions_n {
                return Outcome::Reject;
            }
            let f = f.lock().unwrap_or_else(|e| e.into_inner());
            Outcome::Answer(f.whom(usize::from(r)))
        },
    )?;
    // Each region's address is fixed for the round: a region that comes back binds it again.
    let sockets: Vec<UdpSocket> = (0..cfg.regions)
        .map(|_| crate::udp::bind(None))
        .collect::<Result<_, _>>()?;
    let nodes = sockets
        .iter()
        .map(|s| s.local_addr().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    drop(sockets);
    let sh = Shared {
        cfg: cfg.clone(),
        clock: Arc::new(Clock::new(TICK, cfg.max_time)),
        obs: Arc::new(Observer::new(cfg)),
        net: Arc::new(node::Net::new(usize::from(cfg.regions))),
        nodes: Arc::new(nodes),
        control: whom.addr(),
        workload: Arc::new(Mutex::new(Workload::default())),
        rejected,
        requests: Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]),
    };
    let regions = Arc::new(Regions::start(&sh, dir, init(cfg).primary)?);
    let commands = Arc::new(Mutex::new(VecDeque::new()));
    let control = control::spawn(&sh, regions.clone(), follow, commands.clone())?;
    Ok(Round {
        sh,
        regions,
        commands,
        whom,
        control,
    })
}

/// Whether the round is done: the workload written and acknowledged, no operation under way,
/// every region up, reachable, a primary or a secondary, and caught up.
fn finished(cfg: &GlobalConfig, s: &GlobalState, begun: u8, acked: &BTreeSet<Txn>) -> bool {
    let p = s.prim();
    let settled = s.regions.iter().all(|x| {
        x.up && !x.cut_off && matches!(x.role, Role::Primary | Role::Secondary) && x.log == p.log
    });
    let pending = rules::pending(&p.log, p.gepoch, |x| acked.contains(&x));
    settled && s.op == Op::Idle && begun >= cfg.txns && pending.is_empty()
}

/// One round: start, run with the operator and the faults, stop, verify. `tick` updates the
/// report's counters and says whether the run must end.
fn round(
    cfg: &GlobalConfig,
    rc: &RunConfig,
    dir: &std::path::Path,
    rng: &mut Rng,
    report: &mut Report,
    tick: &mut dyn FnMut(&mut Report, &Seen) -> bool,
) -> Result<(), String> {
    let rd = start(cfg, dir).map_err(|e| format!("cannot start: {e}"))?;
    let sh = &rd.sh;
    let mut todo = plan(rc, cfg, rng);
    // Garbage draws from its own generator: how often it is sent depends on timing, and must
    // not shift what the seed fixes (the operator's and the faults' choices).
    let mut noise = Rng::new(rng.next_u64());
    let mut undo: Vec<(Undo, Instant)> = Vec::new();
    let began = Instant::now();
    let mut last_garbage = began;
    let mut done_at: Option<Instant> = None;
    let mut done = false;
    let mut failures: Vec<String> = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(2));
        // The clients' table first, then the mirror, never both at once: an agent holds the
        // table while its node, which takes the observer's lock, writes.
        let (begun, acked) = {
            let w = sh.workload.lock().unwrap_or_else(|e| e.into_inner());
            (w.begun, w.acked.clone())
        };
        let state = sh.obs.lock().state.clone();
        let over = finished(cfg, &state, begun, &acked);
        {
            let seen = sh.obs.lock();
            if tick(report, &seen) {
                done = true; // the run ends: the round is cut short, not stalled
                break;
            }
        }
        let queued = !rd
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if over && todo.is_empty() && undo.is_empty() && !queued {
            done = true;
            break;
        }
        if began.elapsed() >= ROUND_LIMIT {
            break;
        }
        // What the faults did is undone when its time comes.
        let now = Instant::now();
        for &(u, _) in undo.iter().filter(|(_, t)| *t <= now) {
            match u {
                Undo::Return(r) => match rd.regions.bring_back(sh, r) {
                    Ok(()) => {
                        report.returns += 1;
                        sh.obs
                            .event(format!("{} comes back from its file", region_name(r)));
                    }
                    Err(why) => failures.push(why),
                },
                Undo::Cancel => rd
                    .commands
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(Command::Cancel),
                Undo::Heal(r) => {
                    sh.net.set(r, false);
                    let mut seen = sh.obs.lock();
                    seen.state.regions[r].cut_off = false;
                    seen.event(format!("the partition of {} heals", region_name(r)));
                }
            }
        }
        undo.retain(|(_, t)| *t > now);
        if rc.faults.contains(&Fault::Garbage)
            && last_garbage.elapsed() >= Duration::from_millis(40)
        {
            last_garbage = Instant::now();
            let mut addrs: Vec<_> = sh.nodes.to_vec();
            addrs.push(sh.control);
            let k = noise.below(addrs.len() as u64) as usize;
            crate::rounds::garbage(addrs[k], &mut noise);
        }
        if begun >= cfg.txns && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let give_up = done_at.is_some_and(|t| t.elapsed() >= GIVE_UP_AFTER);
        if let Some(k) = todo.iter().position(|p| p.at_begun <= begun || give_up) {
            let p = todo[k];
            if strike(p.act, &rd, &state, rng, &mut undo) {
                report.faults += u64::from(matches!(p.act, Act::Fault(_)));
                todo.remove(k);
            } else if give_up {
                todo.remove(k);
            }
        }
    }
    // The round's end: every thread stops; the files are read back; the model's invariants.
    let table = rd.control.stop().ok_or("the control plane died")?;
    let up: Vec<bool> = sh.obs.lock().state.regions.iter().map(|x| x.up).collect();
    rd.regions.signal_all();
    for r in 0..rd.regions.len() {
        rd.regions.take_down(sh, r);
    }
    rd.whom.stop();
    let seen = sh.obs.lock();
    report.acked += seen.acked;
    report.held += seen.held;
    report.acked_at_clock_end += seen.acked_at_clock_end;
    report.switchovers += seen.switchovers;
    report.cancels += seen.cancels;
    report.failovers += seen.failovers;
    report.rebuilds += seen.rebuilds;
    report.rejoins += seen.rejoins;
    report.stalled += u64::from(!done);
    report.latencies_us.extend(&seen.latencies_us);
    report.rejected_datagrams += sh.rejected.load(Ordering::Relaxed);
    let q = &sh.requests;
    report.requests.0 += q[0].load(Ordering::Relaxed);
    report.requests.1 += q[1].load(Ordering::Relaxed);
    report.requests.2 += q[2].load(Ordering::Relaxed);
    let lines: Vec<String> = crate::rounds::event_lines(&seen.events);
    if report.first_events.is_empty() {
        report.first_events = lines.clone();
    }
    if !done && report.stalled_events.is_empty() {
        report.stalled_events = lines.clone();
        report.stalled_round = Some(report.rounds);
    }
    report.last_events = lines;
    failures.extend(
        rd.regions
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    if let Some(why) = failures.first() {
        return Err(why.clone());
    }
    let mirror = seen.state.clone();
    let observed: Vec<Vec<_>> = (0..mirror.regions.len())
        .map(|r| seen.log(r).to_vec())
        .collect();
    drop(seen); // the slots' locks come before the observer's
    let views = rd.regions.recover_all_from_files()?;
    let state = lift(&mirror, &up, &views, &table, sh.clock.now());
    for (r, v) in views.iter().enumerate() {
        if v.recs() != observed[r] {
            return Err(format!(
                "{}'s file holds {:?}, but the observer saw {:?}",
                region_name(r),
                v.recs(),
                observed[r]
            ));
        }
        if v.writes != writes(state.regions[r].role) {
            return Err(format!(
                "{} is {:?} but its node writes: {}",
                region_name(r),
                state.regions[r].role,
                v.writes
            ));
        }
    }
    if let Some((name, why)) =
        crate::rounds::first_violation(all_properties(), |p| evaluate(p, cfg, &state))
    {
        return Err(format!("{name}: {why}"));
    }
    Ok(())
}

/// Do `act` now if it can be done; whether it was.
fn strike(
    act: Act,
    rd: &Round,
    s: &GlobalState,
    rng: &mut Rng,
    undo: &mut Vec<(Undo, Instant)>,
) -> bool {
    let sh = &rd.sh;
    let later = |rng: &mut Rng, lo: u64, hi: u64| {
        Instant::now() + Duration::from_millis(lo + rng.below(hi - lo))
    };
    // The victim: the primary half the time, else any region the fault can strike.
    let victim = |rng: &mut Rng, ok: &dyn Fn(usize) -> bool| {
        let p = usize::from(s.primary);
        if ok(p) && rng.chance(1, 2) {
            return Some(p);
        }
        let all: Vec<usize> = (0..s.regions.len()).filter(|&r| ok(r)).collect();
        (!all.is_empty()).then(|| all[rng.below(all.len() as u64) as usize])
    };
    let busy = |r: usize| {
        undo.iter()
            .any(|(u, _)| matches!(u, Undo::Return(x) | Undo::Heal(x) if *x == r))
    };
    match act {
        Act::Switchover => {
            let pick = rng.next_u64();
            rd.commands
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(Command::Switchover { pick });
            // A third of them are cancelled, before the promotion or (too late) after it.
            if rng.chance(1, 3) {
                undo.push((Undo::Cancel, later(rng, 1, 60)));
            }
            true
        }
        Act::Fault(Fault::Outage) => {
            let Some(r) = victim(rng, &|r| s.regions[r].up && !busy(r)) else {
                return false;
            };
            if !rd.regions.take_down(sh, r) {
                return false;
            }
            {
                let mut seen = sh.obs.lock();
                seen.state.budget.outages = seen.state.budget.outages.saturating_sub(1);
                seen.event(format!("fault: {} goes down", region_name(r)));
            }
            undo.push((Undo::Return(r), later(rng, 100, 600)));
            true
        }
        Act::Fault(Fault::Partition) => {
            let ok = |r: usize| s.regions[r].up && !s.regions[r].cut_off && !busy(r);
            let Some(r) = victim(rng, &ok) else {
                return false;
            };
            sh.net.set(r, true);
            {
                let mut seen = sh.obs.lock();
                seen.state.regions[r].cut_off = true;
                seen.state.budget.partitions = seen.state.budget.partitions.saturating_sub(1);
                seen.event(format!("fault: {} is cut off", region_name(r)));
            }
            undo.push((Undo::Heal(r), later(rng, 100, 700)));
            true
        }
        Act::Fault(Fault::Garbage) => true,
    }
}

/// The end state in the model's terms: each region as its file brings it back (and up as it
/// was before the round's end stopped it), the control plane's table, and the history the
/// observer recorded.
fn lift(
    mirror: &GlobalState,
    up: &[bool],
    views: &[View],
    t: &control::Table,
    now: u8,
) -> GlobalState {
    let mut s = mirror.clone();
    for (r, (x, v)) in s.regions.iter_mut().zip(views).enumerate() {
        x.role = t.roles[r];
        x.up = up[r];
        x.writable = v.writable;
        x.gepoch = v.gepoch;
        x.log = v.recs().into_iter().collect();
    }
    s.gepoch = t.gepoch;
    s.primary = t.primary;
    s.op = t.op;
    s.budget.switchovers = t.switchovers;
    s.budget.failovers = t.failovers;
    s.t = now;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorate_model::global::Mutant;

    fn rc(name: &str, seed: u64) -> RunConfig {
        let dir = std::env::temp_dir().join(format!("quorate-glive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        RunConfig {
            dir,
            seconds: 4.0,
            faults: vec![Fault::Outage, Fault::Partition, Fault::Garbage],
            seed,
        }
    }

    /// Regions go down and are cut off; the control plane notices the primary's silence and
    /// fails over; the operator switches over; every round verifies.
    #[test]
    fn failovers_and_switchovers_on_their_own_timers_verify() {
        let rc = rc("ok", 3);
        let r = run(&rc, &AtomicBool::new(false), &mut |_| {}).unwrap();
        assert!(
            r.failures.is_empty(),
            "{:?}\n{}",
            r.failures,
            r.failed_events.join("\n")
        );
        assert!(r.rounds > 0 && r.acked > 0, "{r:?}");
        assert!(r.failovers > 0 && r.switchovers + r.cancels > 0, "{r:?}");
        let _ = std::fs::remove_dir_all(&rc.dir);
    }

    /// The verification is not a formality: with a failover promoting at the same global
    /// epoch (Mc8), the new primary writes LSNs at the epoch the old one wrote (C7), or both
    /// acknowledge at one epoch (C2), or a later switchover's new primary lacks a commit
    /// acknowledged at the epoch before its own, which the failover lost (C1: the reused
    /// epoch makes a loss the RPO allows look like one of the switchover). It takes a failover after the old primary acknowledged
    /// something: a run of 3 s has that in most rounds, a loaded machine may need another.
    #[test]
    fn a_failover_at_the_same_epoch_fails_the_round() {
        let mut failures = Vec::new();
        for attempt in 0..6 {
            let mut rc = rc(&format!("same-epoch-{attempt}"), 3 + attempt);
            rc.seconds = 3.0;
            let cfg = rc.protocol().with_mutant(Some(Mutant::PromoteSameEpoch));
            let r = run_on(&cfg, &rc, &AtomicBool::new(false), &mut |_| {}).unwrap();
            let _ = std::fs::remove_dir_all(&rc.dir);
            failures = r.failures;
            if !failures.is_empty() {
                break;
            }
        }
        assert!(
            failures.iter().any(|(_, why)| {
                [
                    "c7_lsn_epoch_unique",
                    "c2_single_writer",
                    "c1_switchover_keeps_acked",
                ]
                .iter()
                .any(|p| why.starts_with(p))
            }),
            "{failures:?}"
        );
    }
}
