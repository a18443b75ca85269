//! The invariants of Backtrack (D1-D7) and its bounded liveness (L1-L2), as pure functions of
//! the state that the checker and the reference implementation's tests both call. Each returns
//! `Err(why)` naming the time, key, transaction or reader that breaks it.
//!
//! `S(τ)`, what the cluster showed at wall time `τ` on the timeline live then, is the ghost
//! `seen[τ]`, recorded by `Tick` independently of the change buffer the rewind reads.

use super::config::BacktrackConfig;
use super::state::{
    BacktrackState, F_ACK_DROPPED, F_ACK_UNACKED, F_ACK_WHILE_PAUSED, Mode, Values,
};

pub use crate::table::Verdict;

/// Key names in traces: `x`, `y`.
pub fn key_name(k: usize) -> &'static str {
    ["x", "y"].get(k).copied().unwrap_or("?")
}

/// A value in traces: `init` or the transaction that wrote it, `T2`.
pub fn value_name(v: u8) -> String {
    if v == 0 {
        "init".to_string()
    } else {
        format!("T{v}")
    }
}

/// Values in traces: `x=T1 y=init`.
pub fn values_name(cfg: &BacktrackConfig, v: &Values) -> String {
    (0..usize::from(cfg.keys))
        .map(|k| format!("{}={}", key_name(k), value_name(v[k])))
        .collect::<Vec<_>>()
        .join(" ")
}

/// D1: after a backtrack completes, the cluster shows `S(τ')` with `E <= τ' <= τ <= now`:
/// the chosen time is consistent, it is the *latest* reachable consistent time not after the
/// one asked for (with `use_earliest` past an inconsistent E, the *earliest* after it), the
/// data equals what the cluster showed at `τ'` (until the next commit), and every reader
/// instance shows the data.
pub fn d1_backtrack_shows_target(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    let l = &s.ghost.last;
    if !l.some {
        return Ok(());
    }
    // What the search could reach when the backtrack started: now, or a consistent time the
    // buffer held (`[E, at)`; consistency bits of past times never change), not below the
    // clone's creation.
    let floor = l.earliest.max(cfg.clone_time);
    let consistent = |tau: u8| s.consistent & (1 << tau) != 0;
    let reachable =
        |tau: u8| tau >= floor && (tau == l.at || (tau >= l.earliest && consistent(tau)));
    if l.to != l.at && !consistent(l.to) {
        return Err(format!(
            "the backtrack at t={} went to t={}, which is not a consistent time",
            l.at, l.to
        ));
    }
    let within = if l.fallback {
        l.earliest <= l.asked && l.asked < l.to && l.to <= l.at
    } else {
        l.earliest <= l.to && l.to <= l.asked && l.asked <= l.at
    };
    if !within {
        return Err(format!(
            "the backtrack asked at t={} for t={} went to t={}, outside [E={}, {}]",
            l.at, l.asked, l.to, l.earliest, l.asked
        ));
    }
    let skipped = if l.fallback {
        (l.asked..l.to).find(|&tau| reachable(tau))
    } else {
        (l.to + 1..=l.asked).find(|&tau| reachable(tau))
    };
    if let Some(tau) = skipped {
        return Err(format!(
            "the backtrack asked at t={} for t={} went to t={}, but t={tau} was a consistent \
             time nearer to the one asked for",
            l.at, l.asked, l.to
        ));
    }
    if s.mode != Mode::Normal {
        return Ok(());
    }
    if s.rewind_left.is_none() && !s.ghost.dirty && s.db != l.want {
        return Err(format!(
            "after the backtrack to t={} the cluster shows {}, but at t={} it showed {}",
            l.to,
            values_name(cfg, &s.db),
            l.to,
            values_name(cfg, &l.want)
        ));
    }
    for (r, c) in s.caches.iter().enumerate().take(usize::from(cfg.readers)) {
        if let Some(c) = c
            && *c != s.db
        {
            return Err(format!(
                "reader {} serves {} from its cache, but the cluster holds {}",
                r + 1,
                values_name(cfg, c),
                values_name(cfg, &s.db)
            ));
        }
    }
    Ok(())
}

/// D2: no write of a transaction that was in flight when a backtrack started is visible.
pub fn d2_inflight_dropped(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    for k in 0..usize::from(cfg.keys) {
        let v = s.db[k];
        if v != 0 && s.ghost.dropped & (1 << (v - 1)) != 0 {
            return Err(format!(
                "{} = T{v} is visible, but T{v} was in flight when a backtrack started and \
                 must have been dropped",
                key_name(k)
            ));
        }
    }
    Ok(())
}

/// D3 NonDestructive: a later backtrack to any time in `[E, now)`, back or forward, finds
/// what the cluster showed then: the change buffer agrees with `S(τ)` for every consistent
/// such `τ` (a backtrack goes only to consistent times; at the others the buffer's pages
/// also hold the uncommitted writes of the transaction in flight).
pub fn d3_non_destructive(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    let consistent = |tau: usize| s.consistent & (1 << tau) != 0;
    for tau in (usize::from(s.earliest)..usize::from(s.t)).filter(|&t| consistent(t)) {
        let seen = s.ghost.seen[tau];
        match s.hist[tau] {
            Some(h) if h == seen => {}
            Some(h) => {
                return Err(format!(
                    "a backtrack to t={tau} would show {}, but at t={tau} the cluster showed {}: \
                     the history after an earlier rewind is gone",
                    values_name(cfg, &h),
                    values_name(cfg, &seen)
                ));
            }
            None => {
                return Err(format!(
                    "t={tau} is within reach (E={}) but its history is gone",
                    s.earliest
                ));
            }
        }
    }
    Ok(())
}

/// D4: no commit is acknowledged while a backtrack is in progress; a transaction in flight
/// when a backtrack started is never acknowledged; nor is one whose acknowledgement was still
/// on its way then (the backtrack closed its connection).
pub fn d4_no_ack_during_backtrack(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    if s.ghost.flags & F_ACK_WHILE_PAUSED != 0 {
        return Err("a commit was acknowledged while a backtrack was rewinding the cluster".into());
    }
    if s.ghost.flags & F_ACK_DROPPED != 0 {
        return Err(
            "a transaction in flight when a backtrack started was later acknowledged".into(),
        );
    }
    if s.ghost.flags & F_ACK_UNACKED != 0 {
        return Err(
            "a commit whose acknowledgement was on its way when a backtrack closed the \
                    connections was acknowledged afterwards"
                .into(),
        );
    }
    Ok(())
}

/// D5 Guards: every accepted backtrack asked for a time not in the future, not before the
/// clone's creation, on a cluster without binlog unless forced, and not before E unless
/// `use_earliest` replaced it by E; and on a clone it went to no time before the clone's
/// creation (the search for a consistent time stops there).
pub fn d5_guards(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    let l = &s.ghost.last;
    if !l.some {
        return Ok(());
    }
    let why = if l.req > l.at {
        Some(format!("t={} is in the future (now {})", l.req, l.at))
    } else if cfg.clone_time > 0 && l.asked < cfg.clone_time {
        Some(format!(
            "t={} is before the clone was created (t={})",
            l.asked, cfg.clone_time
        ))
    } else if l.to < cfg.clone_time {
        Some(format!(
            "it rewound to t={}, before the clone was created (t={})",
            l.to, cfg.clone_time
        ))
    } else if cfg.binlog && !l.force {
        Some("binary logging is on and force was not given".to_string())
    } else if l.req < l.earliest && !l.use_earliest {
        Some(format!(
            "t={} is before the earliest reachable time {} and use_earliest was not given",
            l.req, l.earliest
        ))
    } else {
        None
    };
    match why {
        Some(w) => Err(format!(
            "a backtrack to t={} was accepted though {w}",
            l.req
        )),
        None => Ok(()),
    }
}

/// D6: the change buffer covers `[E, now)`, and E moves inside the window `[now - W, now]`
/// only when memory pressure evicted history early.
pub fn d6_window_kept(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    if let Some(tau) = (usize::from(s.earliest)..usize::from(s.t)).find(|&t| s.hist[t].is_none()) {
        return Err(format!(
            "t={tau} is within reach (E={}) but the buffer no longer holds it",
            s.earliest
        ));
    }
    let inside = s.earliest > 0 && u16::from(s.earliest) + u16::from(cfg.window) > u16::from(s.t);
    if inside && s.earliest > s.ghost.pressured_to {
        return Err(format!(
            "the earliest reachable time is t={} at t={}, inside the window of {} ticks, \
             beyond where memory pressure moved it (t={})",
            s.earliest, s.t, cfg.window, s.ghost.pressured_to
        ));
    }
    Ok(())
}

/// D7: a commit acknowledged after a backtrack stays visible until it is overwritten by a
/// later commit or rewound by a later backtrack.
pub fn d7_acked_after_resume_kept(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    for k in 0..usize::from(cfg.keys) {
        let a = s.ghost.acked_since[k];
        if a != 0 && s.db[k] != a {
            return Err(format!(
                "T{a}'s write of {} was acknowledged after the backtrack started, but {} is \
                 now {}",
                key_name(k),
                key_name(k),
                value_name(s.db[k])
            ));
        }
    }
    Ok(())
}

/// L1 (at quiescent states): a backtrack returns the cluster to normal service.
pub fn l1_backtrack_returns(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    match s.mode {
        Mode::Normal if s.rewind_left.is_none() => Ok(()),
        Mode::Normal => Err("the cluster serves with part of its rewind still owed".into()),
        Mode::Applying { to, .. } | Mode::Crashed { to, .. } => Err(format!(
            "a backtrack to t={to} never returns to normal service"
        )),
    }
}

/// L2 (at quiescent states): a rewind that crashed restarts and converges: the cluster ends
/// on the backtrack's target (unless a commit changed it since).
pub fn l2_restarted_rewind_converges(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    let l = &s.ghost.last;
    if !l.some || !s.ghost.crashed || s.ghost.dirty || s.mode != Mode::Normal {
        return Ok(());
    }
    if s.db != l.want {
        return Err(format!(
            "the restarted rewind to t={} ended at {}, not {}",
            l.to,
            values_name(cfg, &s.db),
            values_name(cfg, &l.want)
        ));
    }
    Ok(())
}
