//! `quorate run quorum --replay TRACE`: a trace of the actor model (a counterexample the checker
//! found, or a scenario) carried out on the implementation: the model's own actors on the
//! deterministic runtime ([`quorate_impl::quorum::actors::drive`]), each step done to the nodes
//! it names. After every step the runtime must have in flight what the model has, and its logs
//! so far (written to DIR and read back) are validated against the model, so the report says at
//! which step the implementation reaches the trace's violation.

use std::path::Path;

use quorate_impl::quorum::actors::drive::Driver;
use quorate_impl::quorum::actors::{self, QuorumEvent};
use quorate_impl::runtime::logs;
use quorate_model::quorum::actor_model::{ActorAction, QuorumActorModel};
use quorate_model::quorum::config::Composition;

use crate::protocols::quorum::QUORUM;
use crate::registry::UsageError;
use crate::trace::{Expect, TraceFile};

use super::args::RunArgs;
use super::{Console, emit};

/// The seed of the runtime's crashes (how much of an unsynced write a crash keeps); a correct
/// node syncs before it replies, so it changes nothing a trace can see.
const SEED: u64 = 1;

/// What the runtime's logs, validated after a step, said.
enum Verdict {
    Valid,
    Violates(String, String),
    Departs(String),
}

fn verdict(
    cfg: &quorate_model::quorum::QuorumConfig,
    dir: &Path,
    logs_now: &[Vec<QuorumEvent>],
) -> Result<Verdict, UsageError> {
    logs::write(dir, logs_now).map_err(|e| {
        UsageError(format!(
            "cannot write the runtime's logs in {}: {e}; give a directory you can write",
            dir.display()
        ))
    })?;
    let read: Vec<Vec<QuorumEvent>> = logs::read(dir, logs_now.len()).map_err(UsageError)?;
    Ok(match actors::validate_logs(cfg, &read) {
        Ok(_) => Verdict::Valid,
        Err(d) => match d.why.strip_prefix("violates ") {
            Some(rest) => {
                let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
                Verdict::Violates(name.to_string(), why.to_string())
            }
            None => Verdict::Departs(d.to_string()),
        },
    })
}

/// `quorate run quorum --replay TRACE --dir DIR`.
pub fn run(args: &RunArgs, trace: &Path, console: &Console) -> Result<i32, UsageError> {
    if args.protocol != "quorum" {
        return Err(UsageError(format!(
            "--replay carries a trace out on quorum's actors; {} does not run on them yet",
            args.protocol
        )));
    }
    let file = TraceFile::read(trace).map_err(UsageError)?;
    if file.protocol != "quorum" {
        return Err(UsageError(format!(
            "{} is a trace of {}, not quorum; replay it with `quorate trace replay`",
            trace.display(),
            file.protocol
        )));
    }
    let config = file.config.clone().unwrap_or_else(|| "default".into());
    let sets = file.sets().map_err(UsageError)?;
    let cfg = QUORUM.build(&config, &sets, file.mutant.as_deref())?;
    if cfg.composition != Composition::Actors {
        return Err(UsageError(format!(
            "{} is a trace of the fast composition (config {config}), whose steps are not single \
             actor inputs; replay a trace of an actor preset, e.g. `quorate check quorum --config \
             actors --mutant read-below-scl --trace-out t.json`",
            trace.display()
        )));
    }
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(UsageError(format!(
            "{} is not empty; give a new directory (the runtime's logs are written there)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        UsageError(format!(
            "cannot create {}: {e}; give a directory you can write",
            dir.display()
        ))
    })?;
    let mut steps = Vec::with_capacity(file.steps.len());
    for (k, s) in file.steps.iter().enumerate() {
        let a: ActorAction = serde_json::from_value(s.action.clone()).map_err(|e| {
            UsageError(format!(
                "step {} of {}: {e}; a step's action is one the actor model serialises",
                k + 1,
                trace.display()
            ))
        })?;
        steps.push((a, s.text.clone()));
    }
    let mut out = format!(
        "replaying {} on the implementation: the model's actors on the deterministic runtime \
         (config {config}{}), logs in {}\n",
        trace.display(),
        file.mutant
            .as_deref()
            .map(|m| format!(", mutant {m}"))
            .unwrap_or_default(),
        dir.display()
    );
    let fail = |console: &Console, mut out: String, step: usize, why: String| {
        out.push_str(&format!(
            "FAIL at step {step}: the implementation departs from the trace: {why} (exit 1)\n"
        ));
        emit(&console.out, &out);
        Ok(1)
    };
    let model = QuorumActorModel::new(cfg.clone());
    let mut state = model.settled();
    let mut driver = match Driver::new(&cfg, SEED) {
        Ok(d) => d,
        Err(why) => return fail(console, out, 0, why),
    };
    out.push_str(&format!(
        "  start: {} nodes started, the start's messages delivered; every node in the model's \
         initial state\n",
        actors::nodes(&cfg)
    ));
    let mut reached: Option<(usize, String, String)> = None;
    for (k, (a, text)) in steps.iter().enumerate() {
        let step = k + 1;
        let next = match model.replay_step(&state, a.clone()) {
            Ok((n, _)) => n,
            Err(why) => {
                out.push_str(&format!(
                    "step {step} is not a step of the model: {why}; the trace is not a run of \
                     config {config} (check it with `quorate trace replay {}`) (exit 1)\n",
                    trace.display()
                ));
                emit(&console.out, &out);
                return Ok(1);
            }
        };
        if let Err(why) = driver.apply(a) {
            return fail(console, out, step, why);
        }
        state = next;
        let (ours, theirs) = (driver.in_flight(), Driver::model_in_flight(&state));
        if ours != theirs {
            return fail(
                console,
                out,
                step,
                format!("the runtime has {ours:?} in flight; the model has {theirs:?}"),
            );
        }
        let words = text.clone().unwrap_or_else(|| format!("{a:?}"));
        let v = verdict(&cfg, dir, &driver.round.logs())?;
        let note = match &v {
            Verdict::Valid => String::new(),
            Verdict::Violates(name, _) => format!("; the runtime's logs violate {name}"),
            Verdict::Departs(why) => return fail(console, out, step, why.clone()),
        };
        out.push_str(&format!(
            "  step {step}: {words} (in flight: {} message(s), as in the model){note}\n",
            ours.values().sum::<usize>()
        ));
        if let Verdict::Violates(name, why) = v {
            reached = Some((step, name, why));
            break;
        }
    }
    let expected = match &file.expect {
        Some(Expect::Violates { property, .. }) => Some(property.clone()),
        _ => None,
    };
    match (&reached, expected) {
        (Some((step, name, why)), Some(p)) if *name == p => {
            out.push_str(&format!(
                "result: the implementation reaches the trace's violation of {name} at step \
                 {step}: {why} (exit 0)\n"
            ));
            emit(&console.out, &out);
            Ok(0)
        }
        (None, None) => {
            out.push_str(&format!(
                "result: the implementation took all {} steps as the model does, and its logs \
                 validate (exit 0)\n",
                steps.len()
            ));
            emit(&console.out, &out);
            Ok(0)
        }
        (Some((step, name, why)), want) => fail(
            console,
            out,
            *step,
            format!(
                "its logs violate {name} ({why}); the trace expects {}",
                want.map_or("no violation".into(), |p| format!("a violation of {p}"))
            ),
        ),
        (None, Some(p)) => fail(
            console,
            out,
            steps.len(),
            format!("the trace violates {p}, and the runtime's logs do not"),
        ),
    }
}
