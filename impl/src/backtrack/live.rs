//! The live runtime of Backtrack: the engine is a thread with its own UDP socket on
//! 127.0.0.1 and its log in a file (fsynced before every answer), with the proxy that holds
//! the client's connection; the client, two reader instances, the clock and the engine's
//! rewinder are threads of their own with their own sockets, each on its own timer
//! ([`actors`]). Nothing paces them.
//!
//! * [`engine`]: the engine, the client's connection, the redo stream to the readers, and the
//!   observer (a linearised mirror of the cluster on which the model's history functions run).
//! * [`actors`]: the client, the readers, the clock with the background eviction, the
//!   rewinder.
//!
//! A **round** is one cluster of the model's size (two keys, seven transactions, the clock to
//! 7 ticks of [`actors::TICK`], a window of 3, three backtracks, two readers) in
//! `DIR/round-<n>/engine.log`. The coordinator (this thread) plays the operator: it asks for
//! backtracks at random moments (to a random time up to now, with or without "use the earliest
//! time" and "force"), and the faults asked for: a crash of the engine during a rewind (it
//! restarts from its file 20 to 80 ms later, and must come back as a crash leaves it), memory
//! pressure (history evicted early), garbage datagrams. The round ends when the client has run
//! its workload, no rewind is under way, every planned backtrack has been asked, and the
//! readers have caught up; or after [`ROUND_LIMIT`]. Then every thread stops, the engine is
//! recovered from its file (it must come back as a crash leaves it), and the end state, with
//! the history the observer recorded, must satisfy every `always` invariant of the backtrack
//! model (D1: the rewound cluster shows the target time's data, and so do the readers'
//! caches; D2: no write of a transaction in flight at a backtrack is visible; D4: no
//! acknowledgement while paused; D7: a commit acknowledged after a resume is kept; ...).

pub mod actors;
pub mod engine;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::model::{all_properties, evaluate};
use quorate_model::backtrack::state::Mode;

use super::engine::EngineNode;
use super::real::{Fault, RunConfig};
use super::wire::Msg;
use crate::durable::FileDisk;
use crate::rng::Rng;
use crate::udp::{Caller, Served};
use actors::{Actor, Around};
use engine::{Ans, Ctx, Engine, Observer, Req, Seen};

/// A round that has not finished by then ends anyway (and is verified like any other).
pub const ROUND_LIMIT: Duration = Duration::from_secs(4);
/// How long a crashed engine stays down at most.
const DOWN_FOR: (u64, u64) = (20, 80);

/// What a live run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seconds it ran.
    pub seconds: f64,
    /// Rounds run and verified.
    pub rounds: u64,
    /// Rounds that ran into [`ROUND_LIMIT`].
    pub stalled: u64,
    /// Commits acknowledged to the client.
    pub acked: u64,
    /// Backtracks the engine accepted.
    pub backtracks: u64,
    /// Backtracks it rejected.
    pub rejected: u64,
    /// Rewinds that resumed.
    pub resumed: u64,
    /// Rewinds that crashed (the engine restarted from its file).
    pub crashes: u64,
    /// History evicted early by memory pressure.
    pub pressure: u64,
    /// Latencies from a commit to its acknowledgement's delivery, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Requests sent, sent again, unanswered.
    pub requests: (u64, u64, u64),
    /// Garbage datagrams rejected.
    pub rejected_datagrams: u64,
    /// The first round's notable events.
    pub first_events: Vec<String>,
    /// The notable events of the first round that failed.
    pub failed_events: Vec<String>,
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

/// What the coordinator does when the clock reaches a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Backtrack,
    Crash,
    Pressure,
}

#[derive(Clone, Copy, Debug)]
struct Planned {
    act: Act,
    at_tick: u8,
}

/// Run rounds until the time is up or `stop` is set; `progress` gets (elapsed, rounds,
/// backtracks) about once a second.
pub fn run(
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, u64, u64),
) -> Result<Report, String> {
    run_on(&rc.protocol(), rc, stop, progress)
}

/// As [`run`], with the protocol parameters `cfg` (a mutant planted in them, say).
pub fn run_on(
    cfg: &BacktrackConfig,
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, u64, u64),
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
        let mut events = Vec::new();
        let verdict = round(
            cfg,
            rc,
            &dir,
            &mut rng,
            &mut report,
            &mut events,
            &mut |r| {
                if stop.load(Ordering::Relaxed) {
                    r.interrupted = true;
                }
                if last_progress.elapsed() >= Duration::from_secs(1) {
                    last_progress = Instant::now();
                    progress(start.elapsed(), r.rounds, r.backtracks);
                }
                start.elapsed() >= limit || r.interrupted
            },
        );
        if report.first_events.is_empty() {
            report.first_events = events.clone();
        }
        match verdict {
            Err(why) if n == 0 && why.starts_with("cannot start") => return Err(why),
            Err(why) => {
                if report.failures.is_empty() {
                    report.failed_events = events;
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

/// The operator's backtracks and the faults of one round, each at a random tick.
fn plan(rc: &RunConfig, cfg: &BacktrackConfig, rng: &mut Rng) -> Vec<Planned> {
    let mut out = Vec::new();
    let at = |rng: &mut Rng| rng.below(u64::from(cfg.max_time) + 1) as u8;
    for _ in 0..1 + rng.below(u64::from(cfg.backtracks)) {
        out.push(Planned {
            act: Act::Backtrack,
            at_tick: at(rng),
        });
    }
    // A crash strikes the first rewind under way from its tick on: the tick of one of the
    // backtracks, so that most have a rewind to strike.
    let backtracks: Vec<u8> = out.iter().map(|p| p.at_tick).collect();
    for (f, act, budget) in [
        (Fault::Crash, Act::Crash, cfg.crashes),
        (Fault::Pressure, Act::Pressure, cfg.pressure),
    ] {
        if rc.faults.contains(&f) {
            for _ in 0..rng.below(u64::from(budget) + 1) {
                let at_tick = match act {
                    Act::Crash => backtracks[rng.below(backtracks.len() as u64) as usize],
                    _ => at(rng),
                };
                out.push(Planned { act, at_tick });
            }
        }
    }
    out.sort_by_key(|p| p.at_tick);
    out
}

/// One round: start, run with the operator and the faults, stop, verify. `tick` updates the
/// report's counters and says whether the run must end.
#[allow(clippy::too_many_arguments)]
fn round(
    cfg: &BacktrackConfig,
    rc: &RunConfig,
    dir: &std::path::Path,
    rng: &mut Rng,
    report: &mut Report,
    events: &mut Vec<String>,
    tick: &mut dyn FnMut(&mut Report) -> bool,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot start: {}: {e}", dir.display()))?;
    let path = dir.join("engine.log");
    let disk = FileDisk::open(&path).map_err(|e| format!("cannot start: {e}"))?;
    let node = EngineNode::create(disk).map_err(|e| format!("cannot start: {e}"))?;
    let reader_sockets: Vec<UdpSocket> = (0..cfg.readers)
        .map(|_| crate::udp::bind(None))
        .collect::<Result<_, _>>()?;
    let readers = reader_sockets
        .iter()
        .map(|s| s.local_addr().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = Ctx {
        cfg: cfg.clone(),
        obs: Arc::new(Observer::new(cfg)),
        connection: Arc::new(Mutex::new(None)),
        readers: Arc::new(readers.clone()),
        rejected: Arc::new(AtomicU64::new(0)),
    };
    let mut served: Option<Served<Engine>> = Some(engine::spawn(&ctx, None, node)?);
    let addr = served.as_ref().map(Served::addr).ok_or("no engine")?;
    let around = Around {
        cfg: cfg.clone(),
        engine: addr,
        obs: ctx.obs.clone(),
        rejected: ctx.rejected.clone(),
        requests: Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]),
    };
    let client_done = Arc::new(AtomicBool::new(false));
    // The client, the clock and the rewinder first; the readers after them.
    let mut actors: Vec<Actor> = vec![
        actors::client(&around, rng.next_u64(), client_done.clone())?,
        actors::clock(&around)?,
        actors::rewinder(&around)?,
    ];
    for (r, s) in reader_sockets.into_iter().enumerate() {
        actors.push(actors::reader(&around, r, s)?);
    }
    // One send, a patient wait: a backtrack handled twice would happen twice.
    let operator = Caller::with_patience(Duration::from_millis(3000), 1)?;
    let mut todo = plan(rc, cfg, rng);
    // Garbage draws from its own generator: how often it is sent depends on timing, and must
    // not shift what the seed fixes (the operator's and the faults' choices).
    let mut noise = Rng::new(rng.next_u64());
    let began = Instant::now();
    let mut last_garbage = began;
    let mut back_at: Option<Instant> = None;
    let mut crashed_as: Option<super::engine::EngineState> = None;
    let mut failures: Vec<String> = Vec::new();
    let mut done = false;
    loop {
        std::thread::sleep(Duration::from_millis(2));
        if tick(report) {
            done = true; // the run ends: the round is cut short, not stalled
            break;
        }
        if began.elapsed() >= ROUND_LIMIT {
            break;
        }
        let s = ctx.obs.lock().state.clone();
        // A crashed engine comes back from its file.
        if back_at.is_some_and(|t| Instant::now() >= t) {
            back_at = None;
            match restart(&ctx, &path, addr, crashed_as.take()) {
                Ok(e) => {
                    served = Some(e);
                    ctx.obs
                        .lock()
                        .event("the engine restarts from its file".into());
                }
                Err(why) => {
                    failures.push(why);
                    break;
                }
            }
        }
        let caught_up = s.caches[..usize::from(cfg.readers)]
            .iter()
            .all(|c| c.is_none_or(|c| c == s.db));
        let quiet = s.mode == Mode::Normal && s.rewind_left.is_none() && served.is_some();
        if todo.is_empty() && client_done.load(Ordering::Relaxed) && quiet && caught_up {
            done = true;
            break;
        }
        if rc.faults.contains(&Fault::Garbage)
            && last_garbage.elapsed() >= Duration::from_millis(30)
        {
            last_garbage = Instant::now();
            let mut to = readers.clone();
            to.push(addr);
            let k = noise.below(to.len() as u64) as usize;
            operator.send_garbage(to[k], &mut noise, 3);
        }
        let Some(k) = todo.iter().position(|p| p.at_tick <= s.t) else {
            continue;
        };
        let p = todo[k];
        let struck = match p.act {
            Act::Backtrack if served.is_some() => {
                let to = rng.below(u64::from(s.t) + 1) as u8;
                let msg = Msg::Backtrack {
                    to,
                    use_earliest: rng.chance(1, 2),
                    force: rng.chance(1, 4),
                };
                match operator.call::<Req, Ans>(addr, &Req::Msg(msg)) {
                    Some(Ans::Reply(Msg::Accepted { .. } | Msg::Rejected)) => true,
                    _ => s.t >= cfg.max_time && client_done.load(Ordering::Relaxed),
                }
            }
            Act::Crash if served.is_some() => {
                match operator.call::<Req, Ans>(addr, &Req::Crash) {
                    Some(Ans::Crashed(was)) => {
                        // The engine stopped itself right after its answer; its memory is
                        // gone, its log stays.
                        if let Some(e) = served.take() {
                            drop(e.stop());
                        }
                        crashed_as = Some(*was);
                        let down = DOWN_FOR.0 + rng.below(DOWN_FOR.1 - DOWN_FOR.0);
                        back_at = Some(Instant::now() + Duration::from_millis(down));
                        true
                    }
                    // Only a rewind can crash; one that never comes is given up at the end.
                    _ => s.t >= cfg.max_time && client_done.load(Ordering::Relaxed),
                }
            }
            Act::Pressure if served.is_some() => {
                if s.budget.pressure == 0 {
                    true
                } else {
                    // The engine's answer and what it did are recorded as it handles it.
                    let reply = operator.call::<Req, Ans>(addr, &Req::Msg(Msg::Pressure));
                    matches!(reply, Some(Ans::Reply(Msg::Done))) || s.t >= cfg.max_time
                }
            }
            _ => false,
        };
        if struck {
            todo.remove(k);
        }
    }
    // The round's end: the client, the clock and the rewinder stop first; the readers then
    // take what the engine streamed last (found by review: a last commit or resume could
    // reach the engine after the readers had stopped, leaving a cache behind the data), and
    // stop; the file is read back; the model's invariants.
    let readers_of = actors.split_off(3);
    for a in &actors {
        a.signal();
    }
    for a in actors {
        a.stop();
    }
    let drained = Instant::now();
    while drained.elapsed() < Duration::from_millis(500) {
        let s = ctx.obs.lock().state.clone();
        let caught_up = s.caches[..usize::from(cfg.readers)]
            .iter()
            .all(|c| c.is_none_or(|c| c == s.db));
        if caught_up || served.is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for a in &readers_of {
        a.signal();
    }
    for a in readers_of {
        a.stop();
    }
    if let Some(why) = failures.first() {
        return Err(why.clone());
    }
    if let Some(was) = crashed_as.take() {
        // Down at the end: it must still come back from its file.
        served = Some(restart(&ctx, &path, addr, Some(was))?);
    }
    let was = match served.take().and_then(Served::stop) {
        Some(e) => engine::state_of(&e),
        None => return Err("the engine died".into()),
    };
    let seen: std::sync::MutexGuard<'_, Seen> = ctx.obs.lock();
    report.acked += seen.acked;
    report.backtracks += seen.started;
    report.rejected += seen.rejected;
    report.resumed += seen.resumed;
    report.crashes += seen.crashes;
    report.pressure += seen.pressure;
    report.stalled += u64::from(!done);
    report.latencies_us.extend(&seen.latencies_us);
    report.rejected_datagrams += ctx.rejected.load(Ordering::Relaxed);
    let q = &around.requests;
    report.requests.0 += q[0].load(Ordering::Relaxed) + operator.requests.get();
    report.requests.1 += q[1].load(Ordering::Relaxed) + operator.resent.get();
    report.requests.2 += q[2].load(Ordering::Relaxed) + operator.unanswered.get();
    *events = crate::rounds::event_lines(&seen.events);
    if !done {
        events.push(format!(
            "the round did not finish in {} s",
            ROUND_LIMIT.as_secs()
        ));
    }
    let back = recover(&path)?;
    if back != was.after_crash() {
        return Err(format!(
            "the engine came back from its file as {back:?}, not as a crash leaves {was:?}"
        ));
    }
    let mut state = seen.state.clone();
    state.pending = *ctx.connection.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((name, why)) =
        crate::rounds::first_violation(all_properties(), |p| evaluate(p, cfg, &state))
    {
        return Err(format!("{name}: {why}"));
    }
    Ok(())
}

/// The engine as its file brings it back.
fn recover(path: &std::path::Path) -> Result<super::engine::EngineState, String> {
    let disk = FileDisk::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let node = EngineNode::recover(disk)
        .map_err(|(why, _)| format!("the engine does not recover: {why}"))?;
    if let Some(d) = &node.torn_tail {
        return Err(format!("the engine's file has a torn tail: {d}"));
    }
    Ok(node.state().clone())
}

/// Restart the engine from its file at its address; it must come back as a crash left it
/// (`was`: its state when it crashed).
fn restart(
    ctx: &Ctx,
    path: &std::path::Path,
    addr: std::net::SocketAddr,
    was: Option<super::engine::EngineState>,
) -> Result<Served<Engine>, String> {
    let disk = FileDisk::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let node = EngineNode::recover(disk)
        .map_err(|(why, _)| format!("the engine does not recover: {why}"))?;
    if let Some(was) = was
        && *node.state() != was.after_crash()
    {
        return Err(format!(
            "the engine came back from its file as {:?}, not as a crash leaves {was:?}",
            node.state()
        ));
    }
    engine::spawn(ctx, Some(addr), node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorate_model::backtrack::Mutant;

    fn rc(name: &str, seed: u64) -> RunConfig {
        let dir = std::env::temp_dir().join(format!("quorate-blive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        RunConfig {
            dir,
            seconds: 3.0,
            faults: vec![Fault::Crash, Fault::Pressure, Fault::Garbage],
            seed,
        }
    }

    /// The client commits, the operator backtracks, rewinds crash and restart from the file,
    /// and every round verifies.
    #[test]
    fn backtracks_on_their_own_timers_verify() {
        let rc = rc("ok", 3);
        let r = run(&rc, &AtomicBool::new(false), &mut |_, _, _| {}).unwrap();
        assert!(
            r.failures.is_empty(),
            "{:?}\n{}",
            r.failures,
            r.failed_events.join("\n")
        );
        assert!(r.rounds > 0 && r.acked > 0, "{r:?}");
        assert!(r.resumed > 0 && r.crashes > 0, "{r:?}");
        let _ = std::fs::remove_dir_all(&rc.dir);
    }

    /// The verification is not a formality: with background eviction that does not keep the
    /// backtrack window (Md5), the history a backtrack may need is gone (D6).
    #[test]
    fn eviction_inside_the_window_fails_the_round() {
        let rc = rc("evict", 3);
        let cfg = rc.protocol().with_mutant(Some(Mutant::EvictInsideWindow));
        let r = run_on(&cfg, &rc, &AtomicBool::new(false), &mut |_, _, _| {}).unwrap();
        assert!(
            r.failures
                .iter()
                .any(|(_, why)| why.starts_with("d6_window_kept")),
            "{:?}",
            r.failures
        );
        let _ = std::fs::remove_dir_all(&rc.dir);
    }
}
