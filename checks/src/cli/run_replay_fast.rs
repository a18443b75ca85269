//! `quorate run quorum --replay TRACE` for a trace of the fast composition (every preset but the
//! actor ones): each step is taken by the model and carried out on the nodes of the
//! deterministic runtime ([`quorate_impl::quorum::actors::fast`]): every node handles exactly
//! the inputs the model's actor handles and sends exactly what it sends, and after the step
//! every node is where the model's actor is (one that is down has synced its durable part).
//! The property the model's replay ends on is judged on the nodes (their states, a down node's
//! disk) from the start and after every step: the nodes must violate it at the model's step and
//! not before; for a trace the model replays without a violation, every `always` property must
//! hold on the nodes throughout.
//!
//! A fast step is an input and its run-to-completion under instant delivery, not a sequence of
//! datagrams in one order of the actor model, so the nodes' logs are written to DIR for reading
//! but not validated against the actor model (rounds and actor traces are).

use std::path::Path;

use quorate_impl::quorum::actors::fast::FastDriver;
use quorate_impl::runtime::logs;
use quorate_model::checkable::Kind;
use quorate_model::quorum::model::{all_properties, evaluate};
use quorate_model::quorum::{Action, QuorumConfig};

use crate::registry::UsageError;
use crate::trace::TraceFile;

use super::run_replay::{SEED, fail};
use super::{Console, emit};

/// What the nodes, lifted into the model's terms, violate after `step` steps: the property the
/// model's replay ends on (`judged`: an `always` one at every step, another kind only at its
/// step), or with none, the first `always` property.
fn violated(
    cfg: &QuorumConfig,
    d: &FastDriver,
    s: &quorate_model::quorum::QuorumState,
    judged: Option<&(usize, String)>,
    step: usize,
) -> Option<(String, String)> {
    let lifted = d.lift(s);
    all_properties()
        .into_iter()
        .filter(|p| match judged {
            Some((at, name)) => p.0 == name && (p.2 == Kind::Always || step == *at),
            None => p.2 == Kind::Always,
        })
        .find_map(|p| match evaluate(p.0, cfg, &lifted) {
            Some(Err(why)) => Some((p.0.to_string(), why)),
            _ => None,
        })
}

/// Carry the fast trace `file` out on the nodes; `on_model` is the model's violation (step,
/// property), if any; `out` holds the report so far.
pub(super) fn run(
    cfg: &QuorumConfig,
    file: &TraceFile,
    trace: &Path,
    on_model: Option<(usize, String)>,
    dir: &Path,
    mut out: String,
    console: &Console,
) -> Result<i32, UsageError> {
    let steps: Vec<(Action, _)> = super::run_replay::steps(file, trace, "quorum model")?;
    let (mut driver, mut state) = match FastDriver::new(cfg, SEED) {
        Ok(x) => x,
        Err(why) => return fail(console, out, 0, why),
    };
    out.push_str(&format!(
        "  start: {} nodes started as the model's actors start; every node in its actor's state\n",
        driver.sim.hosts.len()
    ));
    let write_logs = |d: &FastDriver| {
        logs::write(dir, &d.sim.logs()).map_err(|e| {
            UsageError(format!(
                "cannot write the nodes' logs in {}: {e}; give a directory you can write",
                dir.display()
            ))
        })
    };
    // The nodes against the model after `step` steps: `Ok(Some(..))` when they reach the model's
    // violation there, an error report when they depart from it.
    let judge = |driver: &FastDriver,
                 state: &quorate_model::quorum::QuorumState,
                 step: usize|
     -> Result<Option<(String, String)>, String> {
        let ours = violated(cfg, driver, state, on_model.as_ref(), step);
        let theirs = on_model
            .as_ref()
            .filter(|(at, _)| *at == step)
            .map(|(_, p)| p.clone());
        if ours.as_ref().map(|(p, _)| p) != theirs.as_ref() {
            return Err(format!(
                "the nodes {}; the model {}",
                ours.map_or("violate nothing".into(), |(p, _)| format!("violate {p}")),
                theirs.map_or("violates nothing here".into(), |p| format!("violates {p}"))
            ));
        }
        Ok(ours)
    };
    let reached = |driver: &FastDriver, out: &mut String, name: String, why: String, step| {
        write_logs(driver)?;
        out.push_str(&format!(
            "result: the implementation's nodes reach the model's violation of {name} {}, as \
             the trace does: {why}; their logs are in {} (exit 0)\n",
            if step == 0 {
                "from the start".to_string()
            } else {
                format!("at step {step}")
            },
            dir.display()
        ));
        emit(&console.out, out);
        Ok(0)
    };
    match judge(&driver, &state, 0) {
        Err(why) => {
            write_logs(&driver)?;
            return fail(console, out, 0, why);
        }
        Ok(Some((name, why))) => return reached(&driver, &mut out, name, why, 0),
        Ok(None) => {}
    }
    let last = on_model.as_ref().map_or(steps.len(), |(k, _)| *k);
    for (k, (a, text)) in steps.iter().enumerate().take(last) {
        let step = k + 1;
        let next = match driver.step(&state, a) {
            Ok(Some(n)) => n,
            Ok(None) => {
                write_logs(&driver)?;
                return fail(
                    console,
                    out,
                    step,
                    "the model replayed this step and now refuses it".into(),
                );
            }
            Err(why) => {
                write_logs(&driver)?;
                return fail(console, out, step, why);
            }
        };
        state = next;
        let ours = match judge(&driver, &state, step) {
            Ok(o) => o,
            Err(why) => {
                write_logs(&driver)?;
                return fail(console, out, step, why);
            }
        };
        let words = text.clone().unwrap_or_else(|| format!("{a:?}"));
        out.push_str(&format!(
            "  step {step}: {words} (every node as in the model)\n"
        ));
        if let Some((name, why)) = ours {
            return reached(&driver, &mut out, name, why, step);
        }
    }
    write_logs(&driver)?;
    out.push_str(&format!(
        "result: the implementation's nodes took all {} steps as the model's actors do, and \
         nothing is violated, as on the model; their logs are in {} (exit 0)\n",
        steps.len(),
        dir.display()
    ));
    emit(&console.out, &out);
    Ok(0)
}
