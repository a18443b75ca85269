//! `quorate run quorum --replay TRACE`: a trace of the actor model (a counterexample the checker
//! found, or a scenario) carried out on the implementation: the model's own actors on the
//! deterministic runtime ([`quorate_impl::quorum::actors::drive`]), each step done to the nodes
//! it names. The trace is first replayed on the model (as `quorate trace replay` does: enabled
//! steps, recorded states, the first violation, the trace's `expect`). Then after every step the
//! runtime's nodes and messages in flight must be the model's, and its logs so far (written to
//! DIR and read back) are validated: they must violate a property exactly where the model does,
//! so the report names the step at which the implementation reaches the violation. A trace of
//! the fast composition is carried out step by step on the same nodes instead
//! ([`super::run_replay_fast`]).

use std::path::Path;

use quorate_impl::quorum::actors::drive::Driver;
use quorate_impl::quorum::actors::{self, QuorumEvent};
use quorate_impl::runtime::logs;
use quorate_model::quorum::actor_model::{ActorAction, QuorumActorModel};
use quorate_model::quorum::config::Composition;

use crate::protocols::quorum::QUORUM;
use crate::registry::UsageError;
use crate::trace::{Outcome, TraceFile, meets, outcome_words};
use stateright::Model;

use super::args::RunArgs;
use super::{Console, emit};

/// The seed of the runtime's crashes (how much of an unsynced write a crash keeps); a correct
/// node syncs before it replies, so it changes nothing a trace can see.
pub(super) const SEED: u64 = 1;

/// The trace's steps as actions of type `A` (`what` names the model, for the error), each with
/// the file's words for it.
pub(super) fn steps<A: serde::de::DeserializeOwned>(
    file: &TraceFile,
    trace: &Path,
    what: &str,
) -> Result<Vec<(A, Option<String>)>, UsageError> {
    file.steps
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let a = serde_json::from_value(s.action.clone()).map_err(|e| {
                UsageError(format!(
                    "step {} of {}: {e}; a step's action is one the {what} serialises",
                    k + 1,
                    trace.display()
                ))
            })?;
            Ok((a, s.text.clone()))
        })
        .collect()
}

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

/// The report of a departure at `step`: exit 1.
pub(super) fn fail(
    console: &Console,
    mut out: String,
    step: usize,
    why: String,
) -> Result<i32, UsageError> {
    out.push_str(&format!(
        "FAIL at step {step}: the implementation departs from the model: {why} (exit 1)\n"
    ));
    emit(&console.out, &out);
    Ok(1)
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
    let dir = &args.dir;
    if dir.is_file() {
        return Err(UsageError(format!(
            "{} is a file; give a new directory (the runtime's logs are written there)",
            dir.display()
        )));
    }
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(UsageError(format!(
            "{} is not empty; give a new directory (the runtime's logs are written there)",
            dir.display()
        )));
    }
    // The model's own replay of the trace (enabled steps, recorded states, the first
    // violation) says what the implementation must do.
    let replayed = crate::trace::replay_with(&crate::registry::protocols(), &file)?;
    let mut out = format!(
        "replaying {} on the implementation: the model's actors on the deterministic runtime \
         (config {config}{}{}), logs in {}\n",
        trace.display(),
        file.mutant
            .as_deref()
            .map(|m| format!(", mutant {m}"))
            .unwrap_or_default(),
        if cfg.composition == Composition::Actors {
            ""
        } else {
            ", fast composition"
        },
        dir.display()
    );
    let on_model = match &replayed.outcome {
        Outcome::Valid { .. } => None,
        Outcome::Violates { step, property, .. } => Some((*step, property.clone())),
        other => {
            let met = file.expect.as_ref().is_some_and(|e| meets(other, e));
            out.push_str(&format!(
                "the trace is not a run of the model: {} (`quorate trace replay {}` shows it); \
                 {} (exit 1)\n",
                outcome_words(other),
                trace.display(),
                if met {
                    "as the trace expects, but a run of the implementation follows only runs of the model"
                } else {
                    "nothing to carry out"
                }
            ));
            emit(&console.out, &out);
            return Ok(1);
        }
    };
    if let Some(e) = &file.expect
        && !meets(&replayed.outcome, e)
    {
        out.push_str(&format!(
            "the model does not give what the trace expects: expected {e}, got {} (`quorate \
             trace replay {}` shows why) (exit 1)\n",
            outcome_words(&replayed.outcome),
            trace.display()
        ));
        emit(&console.out, &out);
        return Ok(1);
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        UsageError(format!(
            "cannot create {}: {e}; give a directory you can write",
            dir.display()
        ))
    })?;
    if cfg.composition != Composition::Actors {
        return super::run_replay_fast::run(&cfg, &file, trace, on_model, dir, out, console);
    }
    let steps: Vec<(ActorAction, _)> = steps(&file, trace, "actor model")?;
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
    // A violation in the initial state: the settled nodes' logs must show it.
    if let Some((0, want)) = &on_model {
        return match verdict(&cfg, dir, &driver.logs())? {
            Verdict::Violates(name, why) if name == *want => {
                out.push_str(&format!(
                    "result: the implementation reaches the model's violation of {name} from \
                     the start, as the trace does: {why} (exit 0)\n"
                ));
                emit(&console.out, &out);
                Ok(0)
            }
            Verdict::Violates(name, _) => fail(
                console,
                out,
                0,
                format!("its logs violate {name}; the model {want}"),
            ),
            Verdict::Departs(why) => fail(console, out, 0, why),
            Verdict::Valid => fail(
                console,
                out,
                0,
                format!("its logs validate; the model violates {want}"),
            ),
        };
    }
    // Up to the model's violation, or every step.
    let last = on_model.as_ref().map_or(steps.len(), |(k, _)| *k);
    for (k, (a, text)) in steps.iter().enumerate().take(last) {
        let step = k + 1;
        let Some(next) = model.next_state(&state, a.clone()) else {
            return fail(
                console,
                out,
                step,
                "the model replayed this step and now refuses it".into(),
            );
        };
        if let Err(why) = driver.apply(a) {
            return fail(console, out, step, why);
        }
        state = next;
        if let Err(why) = driver.same_nodes(&state) {
            return fail(console, out, step, why);
        }
        let (ours, theirs) = (driver.in_flight(), Driver::model_in_flight(&state));
        if ours != theirs {
            return fail(
                console,
                out,
                step,
                format!("the runtime has {ours:?} in flight; the model has {theirs:?}"),
            );
        }
        let words = replayed
            .steps
            .get(k)
            .and_then(|s| s.text.clone())
            .or_else(|| text.clone())
            .unwrap_or_else(|| format!("{a:?}"));
        let theirs = model.violation(&state).map(|(name, _)| name.to_string());
        let v = verdict(&cfg, dir, &driver.logs())?;
        let ours = match &v {
            Verdict::Valid => None,
            Verdict::Violates(name, _) => Some(name.clone()),
            Verdict::Departs(why) => return fail(console, out, step, why.clone()),
        };
        if ours != theirs {
            return fail(
                console,
                out,
                step,
                format!(
                    "its logs {}; the model {}",
                    ours.map_or("validate".into(), |p| format!("violate {p}")),
                    theirs.map_or("violates nothing here".into(), |p| format!("violates {p}"))
                ),
            );
        }
        out.push_str(&format!(
            "  step {step}: {words} (nodes and messages in flight as in the model){}\n",
            ours.map(|p| format!("; the runtime's logs violate {p}"))
                .unwrap_or_default()
        ));
        if let Verdict::Violates(name, why) = v {
            out.push_str(&format!(
                "result: the implementation reaches the model's violation of {name} at step \
                 {step}, as the trace does: {why} (exit 0)\n"
            ));
            emit(&console.out, &out);
            return Ok(0);
        }
    }
    // The round ends: every disk, unsynced bytes dropped, must give back the last save.
    driver.sim.finish();
    if let Verdict::Departs(why) | Verdict::Violates(_, why) = verdict(&cfg, dir, &driver.logs())? {
        return fail(
            console,
            out,
            steps.len(),
            format!("at the round's end: {why}"),
        );
    }
    out.push_str(&format!(
        "result: the implementation took all {} steps as the model does, its logs validate to \
         the round's end, and nothing is violated, as on the model (exit 0)\n",
        steps.len()
    ));
    emit(&console.out, &out);
    Ok(0)
}
