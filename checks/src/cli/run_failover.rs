//! `quorate run failover`: the failover implementation with its segment nodes on loopback
//! (`quorate_impl::failover::real`), round after round, each verified from the files.

use std::sync::atomic::AtomicBool;

use quorate_impl::failover::real::{self, Fault, RunConfig};

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
        let line = seed_line("failover", args).replace(
            "(the schedule; reproduce",
            "(the fault plan; timing is real, so a rerun is alike, not identical; rerun",
        );
        super::emit(err, &line);
        return live(&rc, console);
    }
    super::emit(err, &seed_line("failover --paced", args));
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = real::run(&rc, &stop, &mut |p| {
        super::emit(
            err,
            &format!(
                "  t={:>4.1}s  rounds {:>5}  commits {:>7}  failovers {:>5}\n",
                p.elapsed.as_secs_f64(),
                p.rounds,
                p.acked,
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
        "rounds                {} (one volume of 8 LSNs each)\n\
         events                {} ({:.0}/s)\n\
         commits acknowledged  {}\n\
         commits/sec           {:.0}\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms (a commit's first send to its \
         acknowledgement, on the schedule's pace)\n\
         failovers completed   {}\n\
         segment restarts      {} (from their files)\n\
         requests              {sent} to segment nodes, {resent} sent again, {unanswered} \
         unanswered\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.events,
        per_sec(report.events),
        report.acked,
        per_sec(report.acked),
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.failovers,
        report.restarts,
        report.rejected_datagrams,
    ));
    let code = verdict(&mut text, report.rounds, &report.failures);
    super::emit(&console.out, &text);
    Ok(code)
}

/// The live cluster: every node on its own timers, failures detected by missed heartbeats.
fn live(rc: &RunConfig, console: &Console) -> Result<i32, UsageError> {
    let err = &console.err;
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = quorate_impl::failover::live::run(rc, &stop, &mut |p| {
        super::emit(
            err,
            &format!(
                "  t={:>4.1}s  rounds {:>5}  commits {:>7}  failovers {:>5}\n",
                p.elapsed.as_secs_f64(),
                p.rounds,
                p.acked,
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
        "rounds                {} (one volume of 8 LSNs each; {} stalled until the round limit)\n\
         commits acknowledged  {}\n\
         commits/sec           {:.0}\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms (an MTR's allocation to its \
         acknowledgement)\n\
         promotions            {} (the control plane, on missed heartbeats)\n\
         failovers completed   {}\n\
         stale writes refused  {} (fenced segments, to a replaced writer)\n\
         faults injected       {}\n\
         segment restarts      {} (from their files)\n\
         requests              {sent} to segment nodes, {resent} sent again, {unanswered} \
         unanswered\n\
         datagrams rejected    {} (garbage)\n",
        report.rounds,
        report.stalled,
        report.acked,
        per_sec(report.acked),
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.promotions,
        report.failovers,
        report.stale_refused,
        report.faults,
        report.restarts,
        report.rejected_datagrams,
    ));
    events(
        &mut text,
        "round 0               what happened:",
        &report.first_events,
        20,
    );
    if let Some(n) = report.stalled_round {
        let title = format!(
            "round {n}               did not finish its workload in {} s; what happened:",
            quorate_impl::failover::live::ROUND_LIMIT.as_secs()
        );
        events(&mut text, &title, &report.stalled_events, 30);
    }
    let code = live_verdict(
        &mut text,
        report.rounds,
        &report.failures,
        "every segment came back from its file as it must",
    );
    super::emit(&console.out, &text);
    Ok(code)
}

/// The first line of a run of `protocol`: its seed and the command that reproduces it.
pub fn seed_line(protocol: &str, args: &RunArgs) -> String {
    let faults = if args.faults.is_empty() {
        String::new()
    } else {
        format!(" --faults {}", args.faults.join(","))
    };
    format!(
        "seed {} (the schedule; reproduce it with: quorate run {protocol} --dir NEW_DIR \
         --seconds {}{faults} --seed {})\n",
        args.seed, args.seconds, args.seed
    )
}

/// The verdict of a run of rounds, appended to `text`: exit 0 if every round verified, 1 if
/// one did not.
pub fn verdict(text: &mut String, rounds: u64, failures: &[(u64, String)]) -> i32 {
    if failures.is_empty() {
        text.push_str(&format!(
            "verified              {rounds} rounds: every node came back from its file as it \
             must, and every safety invariant held after every event (exit 0)\n"
        ));
        return 0;
    }
    for (round, why) in failures.iter().take(10) {
        text.push_str(&format!("FAIL  round {round}: {why}\n"));
    }
    text.push_str(&format!(
        "FAIL: {} of {rounds} rounds did not verify (exit 1)\n",
        failures.len()
    ));
    1
}

/// A list of a live round's events under `title`, at most `max` of them.
pub fn events(text: &mut String, title: &str, events: &[String], max: usize) {
    if events.is_empty() {
        return;
    }
    text.push_str(title);
    text.push('\n');
    for e in events.iter().take(max) {
        text.push_str(&format!("  {e}\n"));
    }
}

/// The verdict of a live run: exit 0 if every round verified (`came_back` says what its files
/// brought back), else the failures and exit 1.
pub fn live_verdict(
    text: &mut String,
    rounds: u64,
    failures: &[(u64, String)],
    came_back: &str,
) -> i32 {
    if !failures.is_empty() {
        return verdict(text, rounds, failures);
    }
    text.push_str(&format!(
        "verified              {rounds} rounds: {came_back}, and every safety invariant held \
         on the end state with every acknowledgement (exit 0)\n"
    ));
    0
}
