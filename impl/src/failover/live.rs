//! The live runtime of writer failover: every node of the cluster is a thread with its own UDP
//! socket on 127.0.0.1, running on its own timers, with no schedule to pace it.
//!
//! * six segment nodes ([`super::real::UdpHost`]: a log file each, fsynced before every
//!   answer; a restarted node recovers from its file and keeps its address);
//! * the database instances ([`node`]): the writer, which runs the client workload, and a
//!   replica, each with a heartbeat thread;
//! * the control plane ([`control`]), which replaces the endpoint's instance once its
//!   heartbeats stop;
//! * the metadata service ([`volume`]): epochs, truncation ranges, the log's consistency points.
//!
//! A **round** is one volume of the model's size (8 LSNs in MTRs of 2, every MTR a commit) in
//! `DIR/round-<n>/`. The coordinator (this thread) starts the nodes, injects the faults asked
//! for at random moments of the workload (it kills or cuts off the writer, crashes a recovering
//! instance or a replica, takes segments or an AZ down and brings them back, sends garbage), and
//! restarts a crashed instance as a replica after [`INSTANCE_RESTART_AFTER`]. The round ends
//! when the newest writer has made its whole workload durable and no one is recovering, or
//! after [`ROUND_LIMIT`]. Then every node is stopped, every segment is recovered from its file
//! (it must come back as it went down), and the cluster's end state, with the history of what
//! was acknowledged, is lifted into the model's terms: every `always` invariant of the failover
//! model must hold on it (B1: no truncation range covers an acknowledged commit; B11: every
//! acknowledged record is on a write quorum of the files; B2: one writer per epoch; ...).
//!
//! What the nodes cannot see of one another is only what the network loses; nothing in a
//! decision is read from the coordinator or from another node's memory. The history (what was
//! acknowledged, when) is an observer, as the model's ghost variables are.

pub mod control;
pub mod node;
pub mod volume;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorate_model::failover::FailoverConfig;
use quorate_model::failover::config::{MAX_EPOCH, MAX_TRUNCS};
use quorate_model::failover::model::{all_properties, evaluate};
use quorate_model::failover::properties::inst_name;
use quorate_model::failover::state::{FailoverState, Ghost, Inst, Role};
use quorate_model::failover::step::init;

use super::host::SegmentHost;
use super::instance::InstanceNode;
use super::real::{Fault, Progress, RunConfig, UdpHost};
use crate::rng::Rng;
use crate::udp::Served;
use node::{Peers, Running, Shared};
use volume::{History, Volume};

/// A round that has not finished by then ends anyway (and is verified like any other).
pub const ROUND_LIMIT: Duration = Duration::from_secs(4);
/// A fault that still cannot strike this long after the workload finished is given up (a
/// recovery crash in a round with no failover, say).
pub const GIVE_UP_AFTER: Duration = Duration::from_millis(100);
/// A crashed instance comes back as a replica after this long.
pub const INSTANCE_RESTART_AFTER: Duration = Duration::from_millis(300);

/// What a live run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seconds the workload ran.
    pub seconds: f64,
    /// Rounds run and verified.
    pub rounds: u64,
    /// Rounds that ran into [`ROUND_LIMIT`] before their newest writer finished its workload.
    pub stalled: u64,
    /// Commits acknowledged.
    pub acked: u64,
    /// Promotions the control plane made on missed heartbeats.
    pub promotions: u64,
    /// Failovers completed (a promoted instance opened at a new epoch).
    pub failovers: u64,
    /// Writes fenced segments refused as stale.
    pub stale_refused: u64,
    /// Faults injected.
    pub faults: u64,
    /// Segment restarts from their files.
    pub restarts: u64,
    /// Commit latencies (allocation to acknowledgement), in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Requests to segment nodes: sent, sent again, unanswered.
    pub requests: (u64, u64, u64),
    /// Datagrams rejected as garbage.
    pub rejected_datagrams: u64,
    /// The first round's notable events (what a reader looks at first).
    pub first_events: Vec<String>,
    /// The first round that ran into [`ROUND_LIMIT`], and its notable events.
    pub stalled_round: Option<u64>,
    /// Those events.
    pub stalled_events: Vec<String>,
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

/// One instance's place in the round.
struct Place {
    running: Option<Running>,
    /// Its state when it was stopped (a crash turns it into a down instance).
    last: InstanceNode,
    status: Arc<Mutex<Inst>>,
    cut_off: Arc<AtomicBool>,
    socket_addr: std::net::SocketAddr,
    down_since: Option<Instant>,
}

/// A fault waiting for its moment: when this many LSNs have been allocated.
#[derive(Clone, Copy, Debug)]
struct Planned {
    fault: Fault,
    at_alloc: u64,
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
    cfg: &FailoverConfig,
    rc: &RunConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, String> {
    let cfg = cfg.clone();
    rc.validate()?;
    if cfg.txn_mtrs != 1 {
        return Err("the live runtime commits every MTR (txn_mtrs = 1)".into());
    }
    let mut rng = Rng::new(rc.seed);
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = start;
    let limit = Duration::from_secs_f64(rc.seconds);
    while start.elapsed() < limit && !stop.load(Ordering::Relaxed) {
        let n = report.rounds;
        let dir = rc.dir.join(format!("round-{n}"));
        let verdict = round(&cfg, rc, &dir, &mut rng, &mut report, &mut |r, seen| {
            let out = start.elapsed() >= limit;
            if stop.load(Ordering::Relaxed) {
                r.interrupted = true;
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(&Progress {
                    elapsed: start.elapsed(),
                    rounds: r.rounds,
                    acked: r.acked + seen.ghost.acked.iter().filter(|&&a| a != 0).count() as u64,
                    failovers: r.failovers + seen.failovers,
                });
            }
            out || r.interrupted
        });
        match verdict {
            Err(why) if n == 0 && why.starts_with("cannot start") => return Err(why),
            Err(why) => report.failures.push((n, why)),
            Ok(()) => {}
        }
        report.rounds += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// The faults of one round, each at a random moment of the workload.
fn plan(rc: &RunConfig, cfg: &FailoverConfig, rng: &mut Rng) -> Vec<Planned> {
    let mut out = Vec::new();
    let lsns = u64::from(cfg.lsns);
    let at = |rng: &mut Rng| rng.below(lsns + 1);
    for &f in &rc.faults {
        let times = match f {
            Fault::Failover => rng.below(u64::from(cfg.writer_failures) + 1),
            Fault::Crash => rng.below(u64::from(cfg.seg_crashes) + 1),
            Fault::AzOutage => rng.below(2),
            Fault::RecoveryCrash | Fault::ReplicaCrash => rng.below(2),
            Fault::Garbage => 0,
        };
        for _ in 0..times {
            out.push(Planned {
                fault: f,
                at_alloc: at(rng),
            });
        }
    }
    out.sort_by_key(|p| p.at_alloc);
    out
}

fn start_instance(shared: &Shared, id: usize, p: &mut Place) -> Result<(), String> {
    let socket = crate::udp::bind(Some(p.socket_addr))?;
    let r = node::spawn(
        shared,
        id as u8,
        p.last.clone(),
        socket,
        p.status.clone(),
        p.cut_off.clone(),
    )?;
    p.running = Some(r);
    p.down_since = None;
    Ok(())
}

fn crash_instance(p: &mut Place) {
    if let Some(r) = p.running.take() {
        p.last = r.stop().crashed();
        *p.status.lock().unwrap_or_else(|e| e.into_inner()) = p.last.inst;
        p.down_since = Some(Instant::now());
    }
}

/// One round: start, run with faults, stop, verify. `tick` updates the report's counters and
/// says whether the run must end.
fn round(
    cfg: &FailoverConfig,
    rc: &RunConfig,
    dir: &std::path::Path,
    rng: &mut Rng,
    report: &mut Report,
    tick: &mut dyn FnMut(&mut Report, &volume::Seen) -> bool,
) -> Result<(), String> {
    let mut host = UdpHost::start(cfg, dir).map_err(|e| format!("cannot start: {e}"))?;
    let history = Arc::new(History::default());
    let rejected = Arc::new(AtomicU64::new(0));
    let volume = {
        let cfg = cfg.clone();
        Served::spawn(
            "metadata service".into(),
            Volume::new(),
            rejected.clone(),
            move |v, r| volume::serve(&cfg, v, r),
        )
        .map_err(|e| format!("cannot start: {e}"))?
    };
    let init = init(cfg);
    let control_socket = crate::udp::bind(None)?;
    let inst_sockets: Vec<UdpSocket> = (0..init.insts.len())
        .map(|_| crate::udp::bind(None))
        .collect::<Result<_, _>>()?;
    let peers = Peers {
        segs: host.addrs(),
        azs: (0..host.len()).map(|i| host.az(i)).collect(),
        volume: volume.addr(),
        control: control_socket.local_addr().map_err(|e| e.to_string())?,
        insts: inst_sockets
            .iter()
            .map(|s| s.local_addr().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
    };
    let shared = Shared {
        cfg: cfg.clone(),
        peers: Arc::new(peers),
        history: history.clone(),
        rejected: rejected.clone(),
        requests: Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]),
    };
    let control = control::spawn(&shared, control_socket, init.insts.len(), init.endpoint)?;
    let mut places: Vec<Place> = Vec::new();
    for (i, (x, socket)) in init.insts.iter().zip(inst_sockets).enumerate() {
        let status = Arc::new(Mutex::new(*x));
        let cut_off = Arc::new(AtomicBool::new(false));
        let r = node::spawn(
            &shared,
            i as u8,
            InstanceNode::new(*x),
            socket,
            status.clone(),
            cut_off.clone(),
        )?;
        places.push(Place {
            running: Some(r),
            last: InstanceNode::new(*x),
            status,
            cut_off,
            socket_addr: shared.peers.insts[i],
            down_since: None,
        });
    }
    let mut faults = plan(rc, cfg, rng);
    // Garbage draws from its own generator: how often it is sent depends on timing, and must
    // not shift what the seed fixes.
    let mut noise = Rng::new(rng.next_u64());
    let mut seg_back: Vec<(usize, Instant)> = Vec::new();
    let began = Instant::now();
    let mut last_garbage = began;
    let mut failures = Vec::new();
    let mut finished = false;
    let mut finished_at: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(2));
        let seen = history.seen();
        if tick(report, &seen) {
            finished = true; // the run ends: the round is cut short, not stalled
            break;
        }
        if began.elapsed() >= ROUND_LIMIT {
            break;
        }
        let statuses: Vec<Inst> = places
            .iter()
            .map(|p| *p.status.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        // The newest epoch is the highest one handed out: a crashed writer's status says
        // nothing of its epoch (found by review: with it, a round ended right after a writer
        // crashed, before any promotion).
        let newest = statuses
            .iter()
            .map(|x| x.epoch)
            .max()
            .unwrap_or(0)
            .max(seen.handed_out);
        let recovering = statuses
            .iter()
            .any(|x| matches!(x.role, Role::Recovering(_)));
        let endpoint = usize::from(control.endpoint.load(Ordering::Relaxed));
        let e = statuses[endpoint];
        let serving = e.role == Role::Writer && e.epoch == newest && !e.cut_off;
        let all_up = places.iter().all(|p| p.running.is_some());
        let workload_done = seen.finished >= newest && serving && all_up;
        if workload_done && !recovering && seg_back.is_empty() && faults.is_empty() {
            finished = true;
            break;
        }
        // Segments and instances whose downtime is over come back.
        let now = Instant::now();
        for (i, _) in seg_back.iter().filter(|(_, t)| *t <= now) {
            match host.restart(cfg, *i) {
                Ok(()) => report.restarts += 1,
                Err(why) => failures.push(format!("segment {i} cannot restart: {why}")),
            }
        }
        seg_back.retain(|(_, t)| *t > now);
        for (i, p) in places.iter_mut().enumerate() {
            if p.down_since
                .is_some_and(|t| t.elapsed() >= INSTANCE_RESTART_AFTER)
            {
                p.last = InstanceNode::new(Inst::replica(p.last.inst.tier));
                match start_instance(&shared, i, p) {
                    Ok(()) => history.event(format!("{}: restarts as a replica", inst_name(i))),
                    // Not a `?`: the round's threads must still be stopped.
                    Err(why) => {
                        failures.push(format!("{} cannot restart: {why}", inst_name(i)));
                        p.down_since = None;
                    }
                }
            }
        }
        if rc.faults.contains(&Fault::Garbage)
            && last_garbage.elapsed() >= Duration::from_millis(40)
        {
            last_garbage = Instant::now();
            let mut addrs = shared.peers.segs.clone();
            addrs.extend(shared.peers.insts.iter().copied());
            addrs.push(shared.peers.volume);
            addrs.push(shared.peers.control);
            let k = noise.below(addrs.len() as u64) as usize;
            crate::rounds::garbage(addrs[k], &mut noise);
        }
        // Every fault whose moment has come strikes if it can now; one that still cannot once
        // the workload has been finished a while is given up.
        if workload_done && finished_at.is_none() {
            finished_at = Some(Instant::now());
        }
        let give_up = finished_at.is_some_and(|t| t.elapsed() >= GIVE_UP_AFTER);
        let endpoint = endpoint as u8;
        let mut k = 0;
        while k < faults.len() {
            let f = faults[k];
            if seen.allocated < f.at_alloc && finished_at.is_none() {
                k += 1;
                continue;
            }
            let struck = strike(
                f.fault,
                cfg,
                &mut host,
                &mut places,
                &statuses,
                endpoint,
                rng,
                &mut seg_back,
                &history,
            );
            if struck {
                report.faults += 1;
                faults.remove(k);
                break; // one at a time: the next sees what this one did
            } else if give_up {
                faults.remove(k);
            } else {
                k += 1;
            }
        }
    }
    // The round's end: every node stops; the files are read back; the model's invariants.
    let up: Vec<bool> = (0..host.len()).map(|i| host.up(i)).collect();
    let endpoint = control.endpoint.load(Ordering::Relaxed);
    control.stop();
    for p in &mut places {
        if let Some(r) = p.running.take() {
            p.last = r.stop();
        }
    }
    let vol = volume.stop().ok_or("the metadata service died")?;
    host.stop_all();
    let seen = history.seen();
    report.acked += seen.ghost.acked.iter().filter(|&&a| a != 0).count() as u64;
    report.promotions += seen.promotions;
    report.failovers += seen.failovers;
    report.stale_refused += seen.stale_refused;
    report.stalled += u64::from(!finished);
    report.latencies_us.extend(&seen.latencies_us);
    report.rejected_datagrams +=
        rejected.load(Ordering::Relaxed) + host.stats.rejected.load(Ordering::Relaxed);
    let r = &shared.requests;
    report.requests.0 += r[0].load(Ordering::Relaxed);
    report.requests.1 += r[1].load(Ordering::Relaxed);
    report.requests.2 += r[2].load(Ordering::Relaxed);
    if report.first_events.is_empty() || (!finished && report.stalled_events.is_empty()) {
        let lines: Vec<String> = crate::rounds::event_lines(&seen.events);
        if report.first_events.is_empty() {
            report.first_events = lines.clone();
        }
        if !finished && report.stalled_events.is_empty() {
            report.stalled_events = lines;
            report.stalled_round = Some(report.rounds);
        }
    }
    if let Some(why) = failures.first().or(host.stats.failures.borrow().first()) {
        return Err(why.clone());
    }
    host.recover_all_from_files(cfg)?;
    if vol.truncs.len() > MAX_TRUNCS {
        // More recoveries than the model's state holds (false suspicions under load): the
        // round cannot be judged in the model's terms (found by review: the lift panicked).
        return Err(format!(
            "{} truncation ranges, more than the model's {MAX_TRUNCS}: too many recoveries \
             in one round to judge",
            vol.truncs.len()
        ));
    }
    let state = lift(cfg, &host, &up, &places, endpoint, &vol, &seen.ghost);
    if let Some((name, why)) =
        crate::rounds::first_violation(all_properties(), |p| evaluate(p, cfg, &state))
    {
        return Err(format!("{name}: {why}"));
    }
    Ok(())
}

/// Inject `fault` now if it can strike; whether it did.
#[allow(clippy::too_many_arguments)]
fn strike(
    fault: Fault,
    cfg: &FailoverConfig,
    host: &mut UdpHost,
    places: &mut [Place],
    statuses: &[Inst],
    endpoint: u8,
    rng: &mut Rng,
    seg_back: &mut Vec<(usize, Instant)>,
    history: &History,
) -> bool {
    let back_in = |rng: &mut Rng, lo: u64, hi: u64| {
        Instant::now() + Duration::from_millis(lo + rng.below(hi - lo))
    };
    match fault {
        Fault::Failover => {
            let e = usize::from(endpoint);
            let x = statuses[e];
            if x.role != Role::Writer || x.cut_off || places[e].running.is_none() {
                return false;
            }
            // One instance at most is cut off: with every instance unreachable, no one could
            // be promoted until a partition heals, and partitions here do not heal.
            let one_cut = places.iter().any(|p| p.cut_off.load(Ordering::Relaxed));
            if cfg.partitions && !one_cut && rng.chance(1, 2) {
                places[e].cut_off.store(true, Ordering::Relaxed);
                history.event(format!(
                    "fault: {} is cut off from the control plane",
                    inst_name(e)
                ));
            } else {
                crash_instance(&mut places[e]);
                history.event(format!("fault: {} crashes", inst_name(e)));
            }
            true
        }
        Fault::RecoveryCrash | Fault::ReplicaCrash => {
            let want = |x: &Inst| match fault {
                Fault::RecoveryCrash => matches!(x.role, Role::Recovering(_)),
                _ => x.role == Role::Replica,
            };
            let Some(i) =
                (0..places.len()).find(|&i| want(&statuses[i]) && places[i].running.is_some())
            else {
                return false;
            };
            crash_instance(&mut places[i]);
            history.event(format!("fault: {} crashes", inst_name(i)));
            true
        }
        Fault::Crash => {
            let up: Vec<usize> = (0..host.len())
                .filter(|&i| host.up(i) && seg_back.iter().all(|(j, _)| *j != i))
                .collect();
            if up.is_empty() {
                return false;
            }
            let i = up[rng.below(up.len() as u64) as usize];
            host.take_down(i);
            seg_back.push((i, back_in(rng, 30, 200)));
            history.event(format!("fault: segment {i} crashes"));
            true
        }
        Fault::AzOutage => {
            let az = rng.below(u64::from(cfg.azs)) as u8;
            let hit: Vec<usize> = (0..host.len())
                .filter(|&i| host.az(i) == az && host.up(i))
                .collect();
            let at = back_in(rng, 100, 300);
            for &i in &hit {
                host.take_down(i);
                seg_back.push((i, at));
            }
            history.event(format!("fault: AZ {} goes down", (b'A' + az) as char));
            !hit.is_empty()
        }
        Fault::Garbage => true,
    }
}

/// The cluster's end state in the model's terms: segments as their files bring them back,
/// instances as they stopped, the metadata service's volume, and what was acknowledged.
#[allow(clippy::too_many_arguments)]
fn lift(
    cfg: &FailoverConfig,
    host: &UdpHost,
    up: &[bool],
    places: &[Place],
    endpoint: u8,
    vol: &Volume,
    ghost: &Ghost,
) -> FailoverState {
    let mut wrote = [0u8; MAX_EPOCH];
    for (k, &w) in vol.wrote.iter().take(MAX_EPOCH).enumerate() {
        wrote[k] = w;
    }
    FailoverState {
        segs: (0..host.len())
            .map(|i| quorate_model::failover::state::Seg {
                up: up[i],
                ..host.last(i)
            })
            .collect(),
        insts: places
            .iter()
            .map(|p| Inst {
                cut_off: p.cut_off.load(Ordering::Relaxed),
                ..p.last.inst
            })
            .collect(),
        endpoint,
        epoch_ctr: vol.epoch_ctr,
        truncs: vol.ranges().into_iter().collect(),
        sent: vol.sent_array(),
        cpls: vol.cpls,
        bodies: 0,
        txn_done: 0,
        aborted: 0,
        budget: init(cfg).budget,
        ghost: Ghost { wrote, ..*ghost },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorate_model::failover::Mutant;

    fn rc(name: &str) -> RunConfig {
        let dir = std::env::temp_dir().join(format!("quorate-live-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        RunConfig {
            dir,
            seconds: 3.0,
            faults: vec![Fault::Failover, Fault::Crash, Fault::Garbage],
            seed: 5,
        }
    }

    /// Writers fail, the control plane notices the silence and promotes, the promoted
    /// instance recovers and opens, and every round verifies.
    #[test]
    fn failovers_on_missed_heartbeats_lose_no_acknowledged_commit() {
        let rc = rc("ok");
        let r = run(&rc, &AtomicBool::new(false), &mut |_| {}).unwrap();
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert!(r.rounds > 0 && r.acked > 0, "{r:?}");
        assert!(r.promotions > 0 && r.failovers > 0, "{r:?}");
        let _ = std::fs::remove_dir_all(&rc.dir);
    }

    /// The verification is not a formality: with the metadata service handing out the old
    /// writer's epoch again, the promoted instance writes at the same epoch as the writer it
    /// replaced (B2), above a range of that same epoch that lies over the old writer's LSNs
    /// (B5, first in the table's order).
    #[test]
    fn an_epoch_handed_out_twice_fails_the_round() {
        let rc = rc("reuse");
        let cfg = rc.protocol().with_mutant(Some(Mutant::EpochReuse));
        let r = run_on(&cfg, &rc, &AtomicBool::new(false), &mut |_| {}).unwrap();
        assert!(
            r.failures.iter().any(|(_, why)| {
                why.starts_with("b2_one_writer_per_epoch")
                    || why.starts_with("b5_allocation_bounded")
            }),
            "{:?}",
            r.failures
        );
        let _ = std::fs::remove_dir_all(&rc.dir);
    }
}
