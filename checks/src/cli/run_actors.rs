//! `quorate run quorum` and `quorate trace validate`: the model's own actors on the one
//! runtime (live on threads, UDP and files; with `--actors` on the deterministic
//! configuration), round after round, each round's logs written to its directory, read back
//! and replayed on the actor model ([`quorate_impl::quorum::actors`]).
//!
//! A round's directory holds `run.json` ([`RunLog`]: what the round ran, enough to rebuild the
//! model it is validated against) and `node-I.jsonl`, node `I`'s log.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quorate_impl::quorum::actors::live::LiveRound;
use quorate_impl::quorum::actors::{self, QuorumEvent, Round, Tally, VolumeEvent};
use quorate_impl::runtime::event::Event;
use quorate_impl::runtime::host::DiskIo;
use quorate_impl::runtime::logs;
use quorate_impl::runtime::validate::{Divergence, Validated};
use quorate_impl::runtime::volume::as_volume;
use quorate_model::actor::volume::InPg;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::Msg;
use serde::{Deserialize, Serialize};

use crate::protocols::quorum::QUORUM;
use crate::registry::UsageError;

use super::args::RunArgs;
use super::{Console, emit};

/// The format tag of `run.json`. Version 3 runs a volume of `pgs` protection groups (every
/// message, timer and save of a node's log tagged with its PG); version 2 logs what the
/// environment read before each act (`Saw`) and may be live; logs of versions 1 and 2 (one PG,
/// untagged) are read too.
pub const FORMAT: &str = "quorate-run-log/3";
/// The earlier formats, still read.
const FORMAT_2: &str = "quorate-run-log/2";
const FORMAT_1: &str = "quorate-run-log/1";

/// The most protection groups a volume of quorum rounds has.
pub const PGS_MAX: u16 = 64;

fn one() -> u16 {
    1
}

/// What a round ran: the header of its logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLog {
    /// [`FORMAT`].
    pub format: String,
    /// The protocol.
    pub protocol: String,
    /// The config preset.
    pub config: String,
    /// `--set` overrides, in order.
    pub sets: Vec<(String, String)>,
    /// The mutant planted in the actors, if any.
    pub mutant: Option<String>,
    /// The round's seed.
    pub seed: u64,
    /// Its scheduled steps at most (0 for a live round, which has none).
    pub steps: usize,
    /// How many nodes logged.
    pub nodes: usize,
    /// How many events each node logged, so that a log cut short is seen.
    pub events: Vec<usize>,
    /// Run live (threads, loopback sockets, log files, the wall clock) for `round_ms`
    /// milliseconds, instead of `steps` scheduled steps.
    #[serde(default)]
    pub live: bool,
    /// A live round's length.
    #[serde(default)]
    pub round_ms: u64,
    /// How many protection groups the volume has (1 before format 3).
    #[serde(default = "one")]
    pub pgs: u16,
}

impl RunLog {
    fn config(&self) -> Result<QuorumConfig, UsageError> {
        if ![FORMAT, FORMAT_2, FORMAT_1].contains(&self.format.as_str()) {
            return Err(UsageError(format!(
                "run.json has format '{}'; this quorate reads '{FORMAT}'",
                self.format
            )));
        }
        if self.protocol != "quorum" {
            return Err(UsageError(format!(
                "run.json is of protocol '{}'; only quorum runs its actors on the runtime so far",
                self.protocol
            )));
        }
        if !(1..=PGS_MAX).contains(&self.pgs) || self.format != FORMAT && self.pgs != 1 {
            return Err(UsageError(format!(
                "run.json says {} protection groups; a run has 1 to {PGS_MAX} (and 1 before \
                 format {FORMAT})",
                self.pgs
            )));
        }
        QUORUM.build(&self.config, &self.sets, self.mutant.as_deref())
    }
}

/// The command that repeats round `seed` of `log` (a live round runs again, but not the same).
fn repeat_command(log: &RunLog) -> String {
    if log.live {
        let mut cmd = format!(
            "quorate run quorum --actors --live --dir NEW_DIR --config {} --seed {} --rounds 1 \
             --round-ms {}",
            log.config, log.seed, log.round_ms
        );
        if log.pgs != 1 {
            cmd.push_str(&format!(" --pgs {}", log.pgs));
        }
        for (k, v) in &log.sets {
            cmd.push_str(&format!(" --set {k}={v}"));
        }
        if let Some(m) = &log.mutant {
            cmd.push_str(&format!(" --mutant {m}"));
        }
        return cmd;
    }
    let mut cmd = format!(
        "quorate run quorum --actors --dir NEW_DIR --config {} --seed {} --rounds 1 --steps {}",
        log.config, log.seed, log.steps
    );
    if log.pgs != 1 {
        cmd.push_str(&format!(" --pgs {}", log.pgs));
    }
    for (k, v) in &log.sets {
        cmd.push_str(&format!(" --set {k}={v}"));
    }
    if let Some(m) = &log.mutant {
        cmd.push_str(&format!(" --mutant {m}"));
    }
    cmd
}

/// What the rounds added up to.
#[derive(Default)]
struct Totals {
    validated: Validated,
    acked: usize,
    restarts: usize,
    faults: usize,
    garbage: u64,
    rejected: u64,
    io: DiskIo,
}

impl Totals {
    fn add(&mut self, logs: &[Vec<VolumeEvent>], v: &Validated, faults: usize) {
        self.validated.events += v.events;
        self.validated.steps += v.steps;
        self.validated.states += v.states;
        self.faults += faults;
        for e in logs.iter().flatten() {
            match e {
                Event::Sent {
                    msg:
                        InPg {
                            of: Msg::Committed { .. },
                            ..
                        },
                    ..
                } => self.acked += 1,
                Event::Start { storage: Some(_) } => self.restarts += 1,
                _ => {}
            }
        }
    }
}

/// `quorate run quorum`: live rounds until `--seconds` are up (or `--rounds` of them), or
/// with `--actors` rounds on the deterministic runtime (live with `--live`).
pub fn run(args: &RunArgs, console: &Console) -> Result<i32, UsageError> {
    let live = args.live || !args.actors;
    // Without --actors the rounds run until the time is up, unless --rounds says fewer.
    let timed = !args.actors;
    let limit = args.rounds.unwrap_or(if timed { u64::MAX } else { 20 });
    let pgs = args.pgs.unwrap_or(if args.actors { 1 } else { 8 });
    let round_ms = args.round_ms.unwrap_or(300);
    let steps = args.steps.unwrap_or(2000);
    if args.steps.is_some() && live {
        return Err(UsageError(
            "--steps counts the scheduled steps of a deterministic round (--actors); a live \
             round lasts --round-ms: drop --steps, or use --actors without --live"
                .to_string(),
        ));
    }
    if limit == 0 || steps == 0 {
        return Err(UsageError(
            "--rounds and --steps must be 1 or more".to_string(),
        ));
    }
    if !(1..=PGS_MAX).contains(&pgs) {
        return Err(UsageError(format!(
            "--pgs must be 1 to {PGS_MAX} (protection groups in the volume)"
        )));
    }
    if args.round_ms.is_some() && !live {
        return Err(UsageError(
            "--round-ms is the length of a live round; with --actors add --live, or drop \
             --round-ms"
                .to_string(),
        ));
    }
    let config = args.config.clone().unwrap_or_else(|| "deep".into());
    let cfg = QUORUM.build(&config, &args.sets, args.mutant.as_deref())?;
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(UsageError(format!(
            "{} is not empty; give a new directory (each round writes its logs there)",
            dir.display()
        )));
    }
    let head = |seed| RunLog {
        format: FORMAT.into(),
        protocol: "quorum".into(),
        config: config.clone(),
        sets: args.sets.clone(),
        mutant: args.mutant.clone(),
        seed,
        steps: if live { 0 } else { steps },
        nodes: actors::nodes(&cfg),
        events: Vec::new(),
        live,
        round_ms: if live { round_ms } else { 0 },
        pgs,
    };
    let last = match args.seed.checked_add(limit - 1) {
        Some(last) => last,
        None if timed && args.rounds.is_none() => u64::MAX,
        None => {
            return Err(UsageError(format!(
                "--seed {} with --rounds {limit} runs past the last seed {}; give a lower \
                 --seed",
                args.seed,
                u64::MAX
            )));
        }
    };
    if live && !(1..=600_000).contains(&round_ms) {
        return Err(UsageError(
            "--round-ms must be 1 to 600000 (ten minutes)".to_string(),
        ));
    }
    emit(
        &console.err,
        &format!(
            "seeds {} (one a round; {} with: {})\n",
            if timed && args.rounds.is_none() {
                format!(
                    "{}, {}, ... until {} s are up",
                    args.seed,
                    args.seed.saturating_add(1),
                    args.seconds
                )
            } else {
                format!("{}..={last}", args.seed)
            },
            if live {
                "live rounds do not repeat from their seed, run one again"
            } else {
                "repeat a round"
            },
            repeat_command(&head(args.seed))
                .replace(&format!("--seed {}", args.seed), "--seed SEED")
        ),
    );
    let stop = super::interrupt::stop_flag().unwrap_or_else(|| AtomicBool::new(false).into());
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut rounds = 0;
    let mut progressed = 0;
    let mut interrupted = false;
    let mut out_of_time = false;
    let mut validating = std::time::Duration::ZERO;
    let until = Duration::from_secs_f64(args.seconds);
    for seed in args.seed..=last {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        if timed && rounds > 0 && started.elapsed() >= until {
            out_of_time = seed != last;
            break;
        }
        let mut log = head(seed);
        let round_dir = dir.join(format!("round-{seed}"));
        let (events, ran, rejected, io) = if live {
            run_live(&cfg, pgs, &round_dir, seed, round_ms, &stop)?
        } else {
            let mut round: Round = Round::volume(&cfg, pgs, seed);
            let ran = round.run(steps).map_err(|e| e.to_string());
            let io = round
                .sim
                .hosts
                .iter()
                .fold(DiskIo::default(), |a, h| DiskIo {
                    saves: a.saves + h.io.saves,
                    syncs: a.syncs + h.io.syncs,
                });
            (round.logs(), ran, round.sim.rejected, io)
        };
        log.events = events.iter().map(Vec::len).collect();
        write_round(&round_dir, &log, &events)?;
        let tally = match ran {
            Ok(tally) => tally,
            Err(e) => {
                emit(
                    &console.err,
                    &format!(
                        "seed {seed} failed; repeat it with: {}\n",
                        repeat_command(&log)
                    ),
                );
                emit(
                    &console.out,
                    &format!(
                        "FAIL round {seed}: {e}\n  its logs: {} (exit 1)\n",
                        round_dir.display()
                    ),
                );
                return Ok(1);
            }
        };
        let t = Instant::now();
        let (logs, outcome) = validate_dir(&round_dir)?;
        validating += t.elapsed();
        rounds += 1;
        match outcome {
            Ok(v) => {
                let acked = totals.acked;
                totals.add(&logs, &v, tally.faults.len());
                totals.garbage += tally.garbage;
                totals.rejected += rejected;
                totals.io.saves += io.saves;
                totals.io.syncs += io.syncs;
                if totals.acked > acked {
                    progressed += 1;
                }
                emit(
                    &console.err,
                    &format!(
                        "  round {seed}: {}, {} events valid; faults: {}\n",
                        if live {
                            format!("{round_ms} ms live")
                        } else {
                            format!("{} steps", tally.steps)
                        },
                        v.events,
                        if tally.faults.is_empty() {
                            "none".into()
                        } else {
                            tally.faults.join(", ")
                        }
                    ),
                );
            }
            Err(d) => {
                emit(
                    &console.err,
                    &format!(
                        "seed {seed} departs from the model; repeat it with: {}\n",
                        repeat_command(&log)
                    ),
                );
                emit(
                    &console.out,
                    &format!(
                        "FAIL round {seed} ({}): {d}\n  its logs: {} (check them again with \
                         `quorate trace validate {}`) (exit 1)\n",
                        if tally.faults.is_empty() {
                            "no faults".into()
                        } else {
                            tally.faults.join(", ")
                        },
                        round_dir.display(),
                        round_dir.display()
                    ),
                );
                return Ok(1);
            }
        }
    }
    let secs = validating.as_secs_f64().max(1e-9);
    let mut text = format!(
        "rounds                {rounds} (seeds {}..={}), a volume of {} protection \
         group(s), logs in {}\n\
         events validated      {} ({} inputs replayed on the actor model, {:.0} inputs/sec)\n\
         states judged         {} (every always property on each)\n\
         commits acknowledged  {} (rounds with one: {progressed} of {rounds})\n\
         faults                {} (restarts from disk: {})\n\
         garbage datagrams     {} sent, {} refused, none handled (the network may lose some, \
         and the deterministic one copies some)\n\
         disk                  {} saves made durable by {} syncs (each sync before the messages that depend on it)\n\
         time                  {:.1} s\n",
        args.seed,
        args.seed.saturating_add(rounds.max(1) - 1),
        pgs,
        dir.display(),
        totals.validated.events,
        totals.validated.steps,
        totals.validated.steps as f64 / secs,
        totals.validated.states,
        totals.acked,
        totals.faults,
        totals.restarts,
        totals.garbage,
        totals.rejected,
        totals.io.saves,
        totals.io.syncs,
        started.elapsed().as_secs_f64(),
    );
    if interrupted {
        text.push_str("interrupted: the rounds run so far are valid and their logs kept\n");
    }
    if out_of_time && args.rounds.is_some() {
        text.push_str(&format!(
            "stopped: the {} s of --seconds were up before --rounds {limit}\n",
            args.seconds
        ));
    }
    text.push_str(
        "verified              every round's logs, read back from its files, replay on the \
         model: inputs allowed, sends as the handlers', saves synced before sends, restarts \
         from the last synced save, every always property on every state (exit 0)\n",
    );
    emit(&console.out, &text);
    Ok(0)
}

/// A round's logs, how it went, how many datagrams its nodes refused, and their disks' saves
/// and syncs.
type Ran = (Vec<Vec<VolumeEvent>>, Result<Tally, String>, u64, DiskIo);

/// One live round in `dir`: the nodes' disks are files there, beside their logs.
fn run_live(
    cfg: &QuorumConfig,
    pgs: u16,
    dir: &Path,
    seed: u64,
    round_ms: u64,
    stop: &AtomicBool,
) -> Result<Ran, UsageError> {
    let unusable = |e: std::io::Error| {
        UsageError(format!(
            "cannot run a live round in {}: {e}; give a directory you can write, on a machine \
             that can bind UDP sockets on 127.0.0.1",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let round = LiveRound::in_dir(cfg, pgs, dir, seed).map_err(unusable)?;
    let out = match round.run_until(
        Duration::from_millis(round_ms),
        Duration::from_millis(LIVE_FAULT_EVERY_MS),
        stop,
    ) {
        Ok(out) => out,
        // The implementation failed, not the request: the round fails (exit 1).
        Err(e) => {
            let why = format!("a live round could not be stopped: {e}");
            return Ok((Vec::new(), Err(why), 0, DiskIo::default()));
        }
    };
    let ran = match out.failed {
        Some(e) => Err(e),
        None => Ok(out.tally),
    };
    Ok((out.logs, ran, out.rejected, out.io))
}

/// How often a live round draws a fault or a client request.
const LIVE_FAULT_EVERY_MS: u64 = 10;

fn write_round(dir: &Path, log: &RunLog, events: &[Vec<VolumeEvent>]) -> Result<(), UsageError> {
    let unusable = |e: std::io::Error| {
        UsageError(format!(
            "cannot write the round's logs in {}: {e}; give a directory you can write",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let head = serde_json::to_vec_pretty(log).expect("a run log serializes");
    std::fs::write(dir.join("run.json"), head).map_err(unusable)?;
    logs::write(dir, events).map_err(unusable)
}

type Outcome = (Vec<Vec<VolumeEvent>>, Result<Validated, Divergence>);

/// Read a round's directory and validate it.
fn validate_dir(dir: &Path) -> Result<Outcome, UsageError> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e} (give a round's directory, as `quorate run quorum` \
             writes it)",
            path.display()
        ))
    })?;
    let log: RunLog = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{} is not a run log header: {e}", path.display())))?;
    let cfg = log.config()?;
    if log.nodes != actors::nodes(&cfg) {
        return Err(UsageError(format!(
            "{} says {} nodes, but its config has {}",
            path.display(),
            log.nodes,
            actors::nodes(&cfg)
        )));
    }
    // Logs before format 3 are of one PG, untagged.
    let events: Vec<Vec<VolumeEvent>> = if log.format == FORMAT {
        logs::read::<VolumeEvent>(dir, log.nodes).map_err(UsageError)?
    } else {
        as_volume(logs::read::<QuorumEvent>(dir, log.nodes).map_err(UsageError)?)
    };
    if log.format == FORMAT_1
        && events
            .iter()
            .flatten()
            .any(|e| matches!(e, Event::Saw { .. }))
    {
        return Err(UsageError(format!(
            "{} is of format {FORMAT_1}, yet its logs note reads, which only {FORMAT_2} and later define (a \
             read then counted events at the read, not at the act); run the round again",
            path.display()
        )));
    }
    let counts: Vec<usize> = events.iter().map(Vec::len).collect();
    if let Some(node) = (0..log.nodes).find(|&i| log.events.get(i) != Some(&counts[i])) {
        let cut = Divergence {
            node,
            event: counts[node],
            what: "end of log".into(),
            why: format!(
                "the log holds {} events, and run.json says the node logged {}: the log was \
                 cut short or added to",
                counts[node],
                log.events
                    .get(node)
                    .map_or("no count".to_string(), |n| n.to_string())
            ),
        };
        return Ok((events, Err(cut)));
    }
    let outcome = actors::validate_volume_logs(&cfg, &events, log.pgs);
    Ok((events, outcome))
}

/// The round directories `dir` stands for: itself if it holds `run.json`, else its `round-K`
/// directories in order of K.
fn rounds_in(dir: &Path) -> Result<Vec<PathBuf>, UsageError> {
    if dir.join("run.json").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e}; give a round's directory or a run's",
            dir.display()
        ))
    })?;
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let k = name.strip_prefix("round-")?.parse().ok()?;
            Some((k, e.path()))
        })
        .collect();
    if let Some((_, p)) = found.iter().find(|(_, p)| !p.join("run.json").is_file()) {
        return Err(UsageError(format!(
            "{} has no run.json; a round's directory holds the run.json its run wrote",
            p.display()
        )));
    }
    found.sort();
    if found.is_empty() {
        return Err(UsageError(format!(
            "{} holds neither run.json nor round-K directories with one; give a directory \
             `quorate run quorum` wrote",
            dir.display()
        )));
    }
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// `quorate trace validate DIR`.
pub fn validate(dir: &Path, console: &Console) -> Result<i32, UsageError> {
    let started = Instant::now();
    let mut total = Validated::default();
    let rounds = rounds_in(dir)?;
    for round in &rounds {
        let (_, outcome) = validate_dir(round)?;
        match outcome {
            Ok(v) => {
                total.events += v.events;
                total.steps += v.steps;
                total.states += v.states;
            }
            Err(d) => {
                emit(
                    &console.out,
                    &format!(
                        "INVALID {}: {d}\n(the run departs from the model there; exit 1)\n",
                        round.display()
                    ),
                );
                return Ok(1);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    emit(
        &console.out,
        &format!(
            "valid: {} round(s) in {}: {} events, {} inputs replayed on the actor model \
             ({:.0} inputs/sec), every always property held on {} states (exit 0)\n",
            rounds.len(),
            dir.display(),
            total.events,
            total.steps,
            total.steps as f64 / secs,
            total.states
        ),
    );
    Ok(0)
}
