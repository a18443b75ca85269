//! `quorate run`: the reference implementation as a local cluster on loopback, with a client
//! workload and fault injection, then a verification pass (`quorate_impl::quorum::real`).

use std::sync::atomic::AtomicBool;

use quorate_impl::quorum::real::{self, Fault, RunConfig};

use crate::registry::UsageError;

use super::Console;
use super::args::RunArgs;

/// Run, print progress and the closing figures; exit 0 if every acknowledged commit was read
/// back from every read quorum, 1 if some was not, 2 on bad usage.
pub fn run(args: &RunArgs, console: &Console) -> Result<i32, UsageError> {
    if args.actors {
        return super::run_actors::run(args, console);
    }
    if let Some(trace) = &args.replay {
        return super::run_replay::run(args, trace, console);
    }
    if !(args.seconds >= 0.0 && args.seconds.is_finite()) {
        return Err(UsageError(format!(
            "--seconds {} must be a number of seconds, 0 or more",
            args.seconds
        )));
    }
    match args.protocol.as_str() {
        "quorum" if args.paced => {
            return Err(UsageError(
                "--paced is for failover, global and backtrack; quorum runs only on its own \
                 timers: drop --paced"
                    .into(),
            ));
        }
        "quorum" => {}
        "failover" => return super::run_failover::run(args, console),
        "global" => return super::run_global::run(args, console),
        "backtrack" => return super::run_backtrack::run(args, console),
        other => {
            return Err(UsageError(format!(
                "`quorate run` runs protocols quorum, failover, global and backtrack, not \
                 '{other}'; run `quorate run quorum --dir DIR` (or failover, global, backtrack)"
            )));
        }
    }
    let mut faults = Vec::new();
    for f in args.faults.iter().filter(|f| !f.is_empty()) {
        faults.push(f.parse::<Fault>().map_err(UsageError)?);
    }
    faults.sort();
    faults.dedup();
    let cfg = RunConfig {
        dir: args.dir.clone(),
        seconds: args.seconds,
        faults,
        seed: args.seed,
        inflight_max: args.inflight,
    };
    let err = &console.err;
    if !cfg.faults.is_empty() {
        super::emit(
            err,
            &format!(
                "seed {} (the fault schedule; reproduce it with: quorate run quorum --dir NEW_DIR \
                 --seconds {} --faults {} --seed {})\n",
                args.seed,
                args.seconds,
                args.faults.join(","),
                args.seed
            ),
        );
    }
    let stop = super::interrupt::stop_flag()
        .unwrap_or_else(|| std::sync::Arc::new(AtomicBool::new(false)));
    let report = real::run(&cfg, &stop, &mut |p| {
        let rate = p.acked as f64 / p.elapsed.as_secs_f64().max(1e-9);
        let down = if p.down.is_empty() {
            "none".to_string()
        } else {
            p.down.join(" ")
        };
        super::emit(
            err,
            &format!(
                "  t={:>4.1}s  commits {:>8}  ({:>7.0}/s)  protection groups {:>6}  down: {down}\n",
                p.elapsed.as_secs_f64(),
                p.acked,
                rate,
                p.pgs
            ),
        );
    })
    .map_err(UsageError)?;
    let out = &console.out;
    let mut text = String::new();
    for f in &report.faults {
        text.push_str(&format!("fault   {f}\n"));
    }
    for r in &report.recovery {
        text.push_str(&format!("recover {r}\n"));
    }
    for m in &report.membership {
        text.push_str(&format!("member  {m}\n"));
    }
    if report.interrupted {
        text.push_str("interrupted: the workload stopped early; the files are recoverable\n");
    }
    let rate = if report.seconds > 0.0 {
        report.acked as f64 / report.seconds
    } else {
        0.0
    };
    text.push_str(&format!(
        "commits acknowledged  {}\n\
         commits/sec           {rate:.0}\n\
         commit latency        p50 {:.2} ms, p99 {:.2} ms\n\
         protection groups     {}\n\
         datagrams rejected    {} (garbage), {} requests refused (stale epochs)\n\
         membership changes    {} finalized, {} reverted\n\
         gossip                {} records repaired from peers, {} digests; {} of {} protection \
         groups identical on every member at the end\n",
        report.acked,
        report.latency_ms(0.5),
        report.latency_ms(0.99),
        report.pgs,
        report.rejected_datagrams,
        report.refused_requests,
        report.finalized,
        report.reverted,
        report.gossiped,
        report.digests,
        report.converged,
        report.verified_groups,
    ));
    let code = if report.missing.is_empty() {
        text.push_str(&format!(
            "verified              {} of {} acknowledged commits, each held by enough \
             segments for every read quorum (exit 0)\n",
            report.verified,
            report.verified + report.missing.len() as u64
        ));
        0
    } else {
        for (pg, l, holders) in report.missing.iter().take(10) {
            text.push_str(&format!(
                "MISSING  pg {pg} commit at LSN {l}: held by {holders} segments, too few for \
                 every read quorum\n"
            ));
        }
        text.push_str(&format!(
            "FAIL: {} of {} acknowledged commits are not readable from every read quorum \
             (exit 1)\n",
            report.missing.len(),
            report.verified + report.missing.len() as u64
        ));
        1
    };
    super::emit(out, &text);
    Ok(code)
}
