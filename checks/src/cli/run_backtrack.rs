//! `quorate run backtrack`: the Backtrack implementation with its engine on loopback
//! (`quorate_impl::backtrack::real`), round after round, each verified from the file.

use std::sync::atomic::AtomicBool;

use quorate_impl::backtrack::real::{self, Fault, RunConfig};

use crate::registry::UsageError;

use super::Console;
use super::args::RunArgs;

/// Run, print progress and the closing figures; exit 0 if every round verified, 1 if one did
/// not, 2 on bad usage.
pub fn run(args: &RunArgs, console: &Console) -> Result<i32, UsageError> {
    let mut faults = Vec::new();
    for f in args.faults.iter().filter(|f| !f.is_empty()) {
        faults.push(f.parse::<Fault>().map_err(UsageError)?);
    }
    faults.sort();
    faults.dedup();
    let rc = RunConfig {
        dir: args.dir.clone(),
        seconds: args.seconds,
        faults,
        seed: args.seed,
    };
    rc.validate().map_err(UsageError)?;
    let err = &console.err;
    super::emit(err, &super::run_failover::seed_line("backtrack", args));
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = real::run(&rc, &stop, &mut |elapsed, rounds, backtracks| {
        super::emit(
            err,
            &format!(
                "  t={:>4.1}s  rounds {rounds:>5}  backtracks {backtracks:>6}\n",
                elapsed.as_secs_f64()
            ),
        );
    })
    .map_err(UsageError)?;
    let mut text = String::new();
    if report.interrupted {
        text.push_str("interrupted: the round in progress stopped early and was verified\n");
    }
    let (sent, resent, unanswered) = report.requests;
    let rate = if report.seconds > 0.0 {
        report.events as f64 / report.seconds
    } else {
        0.0
    };
    text.push_str(&format!(
        "rounds                {} (two keys, seven transactions each)\n\
         events                {} ({rate:.0}/s)\n\
         commits acknowledged  {}\n\
         backtracks completed  {}\n\
         rewinds crashed       {} (the engine restarted from its file)\n\
         requests              {sent} to the engine, {resent} sent again, {unanswered} \
         unanswered\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.events,
        report.acked,
        report.backtracks,
        report.crashes,
        report.rejected_datagrams,
    ));
    let code = super::run_failover::verdict(&mut text, report.rounds, &report.failures);
    super::emit(&console.out, &text);
    Ok(code)
}
