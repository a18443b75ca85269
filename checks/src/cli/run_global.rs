//! `quorate run global`: the Global Database implementation with its region nodes on
//! loopback (`quorate_impl::global::real`), round after round, each verified from the files.

use std::sync::atomic::AtomicBool;

use quorate_impl::global::real::{self, Fault, RunConfig};

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
    super::emit(err, &super::run_failover::seed_line("global", args));
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = real::run(&rc, &stop, &mut |p| {
        super::emit(
            err,
            &format!(
                "  t={:>4.1}s  rounds {:>5}  commits {:>7}  switchovers {:>5}  failovers {:>5}\n",
                p.elapsed.as_secs_f64(),
                p.rounds,
                p.acked,
                p.switchovers,
                p.failovers
            ),
        );
    })
    .map_err(UsageError)?;
    let mut text = String::new();
    if report.interrupted {
        text.push_str("interrupted: the round in progress stopped early and was verified\n");
    }
    let per_sec = |n: u64| {
        if report.seconds > 0.0 {
            n as f64 / report.seconds
        } else {
            0.0
        }
    };
    let (sent, resent, unanswered) = report.requests;
    text.push_str(&format!(
        "rounds                {} (three regions, six transactions each)\n\
         events                {} ({:.0}/s)\n\
         commits acknowledged  {}\n\
         commits/sec           {:.0}\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms (a commit's write to its \
         acknowledgement, on the schedule's pace)\n\
         switchovers completed {}\n\
         failovers completed   {}\n\
         rejoins               {} (old primaries, through their snapshots)\n\
         returns from outages  {} (regions recovered from their files)\n\
         requests              {sent} to region nodes, {resent} sent again, {unanswered} \
         unanswered\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.events,
        per_sec(report.events),
        report.acked,
        per_sec(report.acked),
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.switchovers,
        report.failovers,
        report.rejoins,
        report.returns,
        report.rejected_datagrams,
    ));
    let code = super::run_failover::verdict(&mut text, report.rounds, &report.failures);
    super::emit(&console.out, &text);
    Ok(code)
}
