//! `quorate run`: the reference implementation as a local cluster on loopback. For quorum, the
//! model's own actors on the one runtime, round after round, every round's logs validated
//! against the model ([`super::run_actors`]); for the other protocols, their runtimes with a
//! client workload and fault injection, then a verification pass.

use crate::registry::UsageError;

use super::Console;
use super::args::RunArgs;

/// Run `args.protocol`: exit 0 when every round or the verification pass is good, 1 when one
/// is not, 2 on bad usage.
pub fn run(args: &RunArgs, console: &Console) -> Result<i32, UsageError> {
    if let Some(trace) = &args.replay {
        return super::run_replay::run(args, trace, console);
    }
    if !(args.seconds >= 0.0 && std::time::Duration::try_from_secs_f64(args.seconds).is_ok()) {
        return Err(UsageError(format!(
            "--seconds {} must be a number of seconds, 0 or more (and less than 1e19)",
            args.seconds
        )));
    }
    if args.inflight.is_some() {
        return Err(UsageError(
            "--inflight belonged to quorum's older runtime; quorum's writer now allocates on \
             its own timer and the other protocols never took it: drop --inflight"
                .into(),
        ));
    }
    match args.protocol.as_str() {
        "quorum" => quorum(args, console),
        "failover" | "global" | "backtrack" => {
            let quorum_only = [
                ("--actors", args.actors),
                ("--live", args.live),
                ("--rounds", args.rounds.is_some()),
                ("--steps", args.steps.is_some()),
                ("--config", args.config.is_some()),
                ("--set", !args.sets.is_empty()),
                ("--mutant", args.mutant.is_some()),
                ("--round-ms", args.round_ms.is_some()),
                ("--pgs", args.pgs.is_some()),
            ];
            if let Some((flag, _)) = quorum_only.iter().find(|(_, given)| *given) {
                return Err(UsageError(format!(
                    "{flag} is for quorum, which runs the model's actors; {} runs its own \
                     nodes: drop {flag}",
                    args.protocol
                )));
            }
            match args.protocol.as_str() {
                "failover" => super::run_failover::run(args, console),
                "global" => super::run_global::run(args, console),
                _ => super::run_backtrack::run(args, console),
            }
        }
        other => Err(UsageError(format!(
            "`quorate run` runs protocols quorum, failover, global and backtrack, not \
             '{other}'; run `quorate run quorum --dir DIR` (or failover, global, backtrack)"
        ))),
    }
}

/// `quorate run quorum`: live rounds for `--seconds`, or with `--actors` rounds on the
/// deterministic runtime.
fn quorum(args: &RunArgs, console: &Console) -> Result<i32, UsageError> {
    if args.paced {
        return Err(UsageError(
            "--paced is for failover, global and backtrack; quorum's rounds are validated \
             event by event already: drop --paced"
                .into(),
        ));
    }
    if args.faults.iter().any(|f| !f.is_empty()) {
        return Err(UsageError(format!(
            "--faults is for failover, global and backtrack; quorum draws its faults from its \
             config's budgets: drop --faults {} and pick them with --config (see `quorate \
             list`) or --set, e.g. --set crashes=2 --set disk_losses=1",
            args.faults.join(",")
        )));
    }
    if !args.actors && args.seconds <= 0.0 {
        return Err(UsageError(
            "--seconds must be more than 0 for quorum (rounds start until it is up); to check \
             a saved round again, run `quorate trace validate DIR/round-K`"
                .into(),
        ));
    }
    super::run_actors::run(args, console)
}
