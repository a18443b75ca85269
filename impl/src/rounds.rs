//! What the runtimes of failover, the Global Database and Backtrack share. The paced ones run
//! rounds of one model-sized system each on a seeded schedule of the model's events, check
//! every `always` invariant after every event, and verify each round from its files; the live
//! ones run the same rounds on the nodes' own timers and judge each round's end state. This
//! module holds the pieces of those loops that do not depend on the protocol.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use quorate_model::checkable::Kind;

use crate::rng::Rng;

/// Whether a run can start: a time above 0 and a data directory that is new or empty (each
/// round starts a fresh system in it; there is nothing to recover). `what` names the run.
pub fn check_start(seconds: f64, dir: &Path, what: &str) -> Result<(), String> {
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!(
            "--seconds must be more than 0 for a {what} run (each round starts fresh; there \
             is nothing to recover)"
        ));
    }
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty; give a new directory (a {what} run starts fresh rounds)",
            dir.display()
        ));
    }
    Ok(())
}

/// The next event of a round: among `list` (the model's actions now), one the system carries
/// out (`apply`), trying the environment's (`environment`: the clock, operator commands,
/// faults) first once in `odds` times when there are any, the protocol's own steps first
/// otherwise, each pool from a random start. `None` when nothing can be carried out (or
/// `stop` was set).
pub fn next_event<A: Copy>(
    list: &[A],
    environment: impl Fn(&A) -> bool,
    odds: u64,
    rng: &mut Rng,
    stop: &AtomicBool,
    mut apply: impl FnMut(&A) -> bool,
) -> Option<A> {
    let (env, steps): (Vec<A>, Vec<A>) = list.iter().partition(|a| environment(a));
    let env_first = !env.is_empty() && rng.chance(1, odds);
    let pools = if env_first {
        [&env, &steps]
    } else {
        [&steps, &env]
    };
    for pool in pools.into_iter().filter(|p| !p.is_empty()) {
        let k = rng.below(pool.len() as u64) as usize;
        let took = (0..pool.len())
            .map(|j| pool[(k + j) % pool.len()])
            .take_while(|_| !stop.load(Ordering::Relaxed))
            .find(|a| apply(a));
        if took.is_some() {
            return took;
        }
    }
    None
}

/// The first `always` property among `props` (a protocol's `all_properties()`) that
/// `evaluate` (its `evaluate(name, cfg, state)` on one state) says is violated, with why.
pub fn first_violation(
    props: Vec<(&'static str, &'static str, Kind, &'static str)>,
    evaluate: impl Fn(&str) -> Option<Result<(), String>>,
) -> Option<(&'static str, String)> {
    props
        .into_iter()
        .filter(|p| p.2 == Kind::Always)
        .find_map(|p| match evaluate(p.0) {
            Some(Err(why)) => Some((p.0, why)),
            _ => None,
        })
}

/// The `q` quantile of `sorted` microseconds, in milliseconds (0 if there are none).
pub fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// A live round's notable events as the report prints them: milliseconds since the round
/// began, then what happened.
pub fn event_lines(events: &[(std::time::Duration, String)]) -> Vec<String> {
    events
        .iter()
        .map(|(at, what)| format!("{:>7.1} ms  {what}", at.as_secs_f64() * 1000.0))
        .collect()
}

/// Send three datagrams of random bytes to `addr` from a fresh socket (a live runtime's
/// garbage fault: each must be rejected and counted, never a panic).
pub fn garbage(addr: std::net::SocketAddr, rng: &mut Rng) {
    if let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") {
        for _ in 0..3 {
            let len = 1 + rng.below(64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let _ = s.send_to(&bytes, addr);
        }
    }
}
