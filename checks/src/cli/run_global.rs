//! `quorate run global`: the Global Database implementation on loopback, round after round,
//! each verified from the files: live (`quorate_impl::global::live`: every region and the
//! control plane on their own timers), or with `--paced` on the model's schedule
//! (`quorate_impl::global::real`).

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
    if !args.paced {
        let line = super::run_failover::seed_line("global", args).replace(
            "(the schedule; reproduce",
            "(the operator's and the faults' plan; timing is real, so a rerun is alike, not \
             identical; rerun",
        );
        super::emit(err, &line);
        return live(&rc, console);
    }
    super::emit(err, &super::run_failover::seed_line("global --paced", args));
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

/// The live cluster: every region and the control plane on their own timers, the primary's
/// failure found by its silence.
fn live(rc: &RunConfig, console: &Console) -> Result<i32, UsageError> {
    use quorate_impl::global::live;
    let err = &console.err;
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = live::run(rc, &stop, &mut |p| {
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
        "rounds                {} (three regions, six transactions each; {} stalled until the \
         round limit)\n\
         commits acknowledged  {} ({} once the clock had stopped at its end, where lag no \
         longer grows)\n\
         commits/sec           {:.0} (the clients write a record every {} ms)\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms (a commit's write to its \
         acknowledgement)\n\
         held by the RPO gate  {} answers (no lag report of the last {} ms under {} ms)\n\
         switchovers completed {} (and {} cancelled by the operator)\n\
         failovers completed   {} (the control plane, on {} ms of the primary's silence)\n\
         rebuilds              {} (secondaries ahead of a new primary, or unheard at its promotion)\n\
         rejoins               {} (old primaries, through their snapshots)\n\
         faults injected       {}\n\
         returns from outages  {} (regions recovered from their files)\n\
         requests              {sent} sent, {resent} sent again, {unanswered} unanswered \
         (a region down or cut off answers nothing)\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.stalled,
        report.acked,
        report.acked_at_clock_end,
        per_sec(report.acked),
        live::node::WRITE_EVERY.as_millis(),
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.held,
        live::node::REPORT_WINDOW.as_millis(),
        live::TICK.as_millis() * u128::from(rc.protocol().rpo),
        report.switchovers,
        report.cancels,
        report.failovers,
        live::control::FAIL_AFTER.as_millis(),
        report.rebuilds,
        report.rejoins,
        report.faults,
        report.returns,
        report.rejected_datagrams,
    ));
    super::run_failover::events(
        &mut text,
        "round 0               what happened:",
        &report.first_events,
        20,
    );
    if let Some(n) = report.stalled_round {
        let title = format!(
            "round {n}               did not finish in {} s; what happened:",
            live::ROUND_LIMIT.as_secs()
        );
        super::run_failover::events(&mut text, &title, &report.stalled_events, 30);
    }
    if let Some((n, _)) = report.failures.first() {
        let title = format!("round {n}               failed; what happened:");
        super::run_failover::events(&mut text, &title, &report.failed_events, 40);
    }
    let code = super::run_failover::live_verdict(
        &mut text,
        report.rounds,
        &report.failures,
        "every region came back from its file as it must",
    );
    super::emit(&console.out, &text);
    Ok(code)
}
