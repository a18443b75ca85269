//! `quorate run backtrack`: the Backtrack implementation on loopback, round after round, each
//! verified from the file: live (`quorate_impl::backtrack::live`: the engine, the client, the
//! readers, the clock and the rewinder on their own timers), or with `--paced` on the model's
//! schedule (`quorate_impl::backtrack::real`).

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
    if !args.paced {
        let line = super::run_failover::seed_line("backtrack", args).replace(
            "(the schedule; reproduce",
            "(the operator's and the faults' plan; timing is real, so a rerun is alike, not \
             identical; rerun",
        );
        super::emit(err, &line);
        return live(&rc, console);
    }
    super::emit(
        err,
        &super::run_failover::seed_line("backtrack --paced", args),
    );
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

/// The live cluster: the engine and every thread around it on their own timers.
fn live(rc: &RunConfig, console: &Console) -> Result<i32, UsageError> {
    use quorate_impl::backtrack::live;
    let err = &console.err;
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = live::run(rc, &stop, &mut |elapsed, rounds, backtracks| {
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
    text.push_str(&format!(
        "rounds                {} (two keys, seven transactions each; {} stalled until the \
         round limit)\n\
         commits acknowledged  {}\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms (a commit to its acknowledgement's \
         delivery on the client's connection)\n\
         backtracks            {} accepted, {} rejected (outside the window, or binary \
         logging without --force), {} rewinds resumed\n\
         rewinds crashed       {} (the engine restarted from its file)\n\
         memory pressure       {} (history evicted early)\n\
         requests              {sent} to the engine, {resent} sent again, {unanswered} \
         unanswered (the engine is down while a crashed rewind restarts)\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.stalled,
        report.acked,
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.backtracks,
        report.rejected,
        report.resumed,
        report.crashes,
        report.pressure,
        report.rejected_datagrams,
    ));
    super::run_failover::events(
        &mut text,
        "round 0               what happened:",
        &report.first_events,
        20,
    );
    if let Some((n, _)) = report.failures.first() {
        let title = format!("round {n}               failed; what happened:");
        super::run_failover::events(&mut text, &title, &report.failed_events, 40);
    }
    let code = super::run_failover::live_verdict(
        &mut text,
        report.rounds,
        &report.failures,
        "the engine came back from its file as a crash leaves it",
    );
    super::emit(&console.out, &text);
    Ok(code)
}
