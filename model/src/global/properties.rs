//! The invariants of the Global Database protocol (C1-C7) and its bounded liveness (G1-G3),
//! as pure functions of the state that the checker and the reference implementation's tests
//! both call. Each returns `Err(why)` naming the region, transaction or LSN that breaks it.

use super::config::{Fencing, GlobalConfig};
use super::state::{F_ACK_PAST_GATE, F_SPLIT_BRAIN, GlobalState, Op, Role, txn_bit};

pub use crate::table::Verdict;

/// Region name in traces: `us-east` (region 0, the first primary), `eu-west`, `ap-south`.
pub fn region_name(r: usize) -> String {
    ["us-east", "eu-west", "ap-south"]
        .get(r)
        .map_or_else(|| format!("region{r}"), |s| (*s).to_string())
}

fn epoch_bit(e: u8) -> u8 {
    1 << (e - 1)
}

/// C1: while the epoch a switchover created lasts, every commit acknowledged at the epoch
/// before it is in the new primary's log.
pub fn c1_switchover_keeps_acked(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let e = s.gepoch;
    if e < 2 || s.ghost.by_switchover & epoch_bit(e) == 0 {
        return Ok(());
    }
    let p = usize::from(s.primary);
    for x in 1..=s.begun {
        if s.ghost.acked[usize::from(x) - 1] == e - 1 && !s.holds_commit(p, x) {
            return Err(format!(
                "T{x} was acknowledged at epoch {} before the switchover, but the new primary \
                 {} (epoch {e}) does not have it",
                e - 1,
                region_name(p)
            ));
        }
    }
    Ok(())
}

/// C2 SingleWriter: at most one region is writable, during a switchover and, with reliable
/// fencing, at all times; the commits of each epoch are acknowledged by one region; and, with
/// reliable fencing, no commit is acknowledged at an epoch below one already acknowledged.
pub fn c2_single_writer(cfg: &GlobalConfig, s: &GlobalState) -> Verdict {
    c2a_one_writable(cfg, s)?;
    c2b_one_acker_per_epoch(cfg, s)?;
    c2c_no_ack_at_older_epoch(cfg, s)
}

/// C2 clause (a): at most one writable region, during a switchover and, with reliable
/// fencing, always.
pub fn c2a_one_writable(cfg: &GlobalConfig, s: &GlobalState) -> Verdict {
    if matches!(s.op, Op::Switchover { .. }) || cfg.fencing == Fencing::Reliable {
        let w: Vec<_> = (0..s.regions.len())
            .filter(|&r| s.regions[r].writable)
            .map(region_name)
            .collect();
        if w.len() > 1 {
            return Err(format!(
                "{} are both writable{}",
                w.join(" and "),
                if matches!(s.op, Op::Switchover { .. }) {
                    " during a switchover"
                } else {
                    ", though fencing is reliable"
                }
            ));
        }
    }
    Ok(())
}

/// C2 clause (b): the commits of each epoch are acknowledged by one region.
pub fn c2b_one_acker_per_epoch(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    for (k, &from) in s.ghost.ack_from.iter().enumerate() {
        if from.count_ones() > 1 {
            let who: Vec<_> = (0..8)
                .filter(|r| from & (1 << r) != 0)
                .map(region_name)
                .collect();
            return Err(format!(
                "{} both acknowledged commits at global epoch {}",
                who.join(" and "),
                k + 1
            ));
        }
    }
    Ok(())
}

/// C2 clause (c): with reliable fencing, no commit is acknowledged at an epoch below one
/// already acknowledged.
pub fn c2c_no_ack_at_older_epoch(cfg: &GlobalConfig, s: &GlobalState) -> Verdict {
    if cfg.fencing == Fencing::Reliable && s.ghost.flags & F_SPLIT_BRAIN != 0 {
        return Err(format!(
            "a commit was acknowledged at an older epoch after one at epoch {}: the old \
             primary was not fenced",
            s.ghost.max_ack_epoch
        ));
    }
    Ok(())
}

/// C3 Prefix: every secondary's log is a prefix of the primary's (compared on LSN, epoch and
/// transaction). A secondary waiting to be rebuilt is exempt.
pub fn c3_secondary_prefix(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let p = s.prim();
    for (r, x) in s.regions.iter().enumerate() {
        if x.role == Role::Secondary && !GlobalState::is_prefix(&x.log, &p.log) {
            let lsn = x
                .log
                .iter()
                .zip(p.log.iter().map(Some).chain(std::iter::repeat(None)))
                .position(|(a, b)| Some(a) != b)
                .map_or(0, |i| i + 1);
            return Err(format!(
                "secondary {} diverges from primary {} at LSN {lsn}",
                region_name(r),
                region_name(usize::from(s.primary))
            ));
        }
    }
    Ok(())
}

/// C4: a rejoined old primary's log is a prefix of the new primary's, and every acknowledged
/// commit the new primary lacks was saved in the old primary's snapshot. Clause (a) is C3
/// for the rejoined regions, kept so that the message names the rejoin (Mc4); clause (b) is
/// what only C4 says (Mc9).
pub fn c4_rejoin_from_new_primary(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    if s.ghost.rejoined == 0 {
        return Ok(());
    }
    let p = usize::from(s.primary);
    for (r, x) in s.regions.iter().enumerate() {
        if s.ghost.rejoined & (1 << r) != 0
            && x.role == Role::Secondary
            && !GlobalState::is_prefix(&x.log, &s.regions[p].log)
        {
            return Err(format!(
                "{} rejoined as a secondary with records the primary {} never had",
                region_name(r),
                region_name(p)
            ));
        }
    }
    for x in 1..=s.begun {
        let acked = s.ghost.acked[usize::from(x) - 1];
        if acked != 0
            && acked < s.gepoch
            && !s.holds_commit(p, x)
            && s.ghost.snapshot & txn_bit(x) == 0
            && !s.regions.iter().any(|o| o.role == Role::Old)
        {
            return Err(format!(
                "T{x} was acknowledged at epoch {acked}, is not in the new primary's log, and \
                 no snapshot saved it"
            ));
        }
    }
    Ok(())
}

/// C5a (with the RPO gate on): at every acknowledgement, some secondary held every commit of
/// the acknowledging region that was at least `rpo` ticks old. Checked through a flag that
/// `settle` sets by this definition, independently of the gate it implements.
pub fn c5a_gate_at_ack(cfg: &GlobalConfig, s: &GlobalState) -> Verdict {
    if cfg.rpo > 0 && s.ghost.flags & F_ACK_PAST_GATE != 0 {
        return Err(format!(
            "a commit was acknowledged while every secondary lacked a commit at least {} \
             ticks old (the RPO)",
            cfg.rpo
        ));
    }
    Ok(())
}

/// C5 (with the RPO gate on): while the epoch a failover created lasts, every commit
/// acknowledged at the epoch it ended that the new primary lacks was committed less than
/// `rpo` ticks before that epoch's last acknowledgement: the failover lost at most the RPO.
/// Owed only when a most-caught-up secondary was reachable when `FailoverStart` chose the
/// target. Losses of an earlier failover are that failover's, not this one's.
pub fn c5_rpo_bound(cfg: &GlobalConfig, s: &GlobalState) -> Verdict {
    let e = s.gepoch;
    if cfg.rpo == 0 || e < 2 || s.ghost.rpo_owed & s.ghost.by_failover & epoch_bit(e) == 0 {
        return Ok(());
    }
    let p = usize::from(s.primary);
    for x in 1..=s.begun {
        let a = s.ghost.acked[usize::from(x) - 1];
        if a == 0 || a + 1 != e || s.holds_commit(p, x) {
            continue;
        }
        let ts = s.ghost.ts[usize::from(x) - 1];
        let last = s.ghost.last_ack_t[usize::from(a) - 1];
        if u16::from(ts) + u16::from(cfg.rpo) <= u16::from(last) {
            let holders: Vec<_> = (0..s.regions.len())
                .filter(|&r| r != p && s.holds_commit(r, x))
                .map(region_name)
                .collect();
            let held = match holders.len() {
                0 => String::new(),
                1 => format!(" ({} holds it)", holders[0]),
                _ => format!(" ({} hold it)", holders.join(" and ")),
            };
            return Err(format!(
                "the failover to {} lost T{x}{held}, committed at t={ts}, though epoch {a} \
                 acknowledged commits until t={last} and the RPO is {}",
                region_name(p),
                cfg.rpo
            ));
        }
    }
    Ok(())
}

/// C6: a primary promoted by a failover starts from a commit boundary (no half transaction).
pub fn c6_promoted_at_commit_boundary(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let e = s.gepoch;
    if e < 2 || s.ghost.by_failover & epoch_bit(e) == 0 {
        return Ok(());
    }
    let start = usize::from(s.ghost.start[usize::from(e) - 1]);
    match s.prim().log.get(start.wrapping_sub(1)) {
        Some(c) if !c.is_boundary() => Err(format!(
            "the new primary {} started at epoch {e} from LSN {start}, the data record of T{} \
             whose commit it never received",
            region_name(usize::from(s.primary)),
            c.txn
        )),
        _ => Ok(()),
    }
}

/// C7: an (LSN, epoch) pair names one record in every region, and a new primary never
/// rewrites an LSN at or below its starting point. Clause (b) holds by construction in this
/// model (logs only grow at the end, and a promotion only truncates); it is kept as a guard
/// for changes to `step`, and Mc8 breaks clause (a).
pub fn c7_lsn_epoch_unique(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    for (a, x) in s.regions.iter().enumerate() {
        for (b, y) in s.regions.iter().enumerate().skip(a + 1) {
            for (i, (c, d)) in x.log.iter().zip(y.log.iter()).enumerate() {
                if c.gepoch == d.gepoch && c != d {
                    return Err(format!(
                        "LSN {} at epoch {} is T{} in {} but T{} in {}",
                        i + 1,
                        c.gepoch,
                        c.txn,
                        region_name(a),
                        d.txn,
                        region_name(b)
                    ));
                }
            }
        }
    }
    let e = s.gepoch;
    let start = usize::from(s.ghost.start[usize::from(e) - 1]);
    if let Some(i) = s.prim().log[..start.min(s.prim().log.len())]
        .iter()
        .position(|c| c.gepoch >= e && e > 1)
    {
        return Err(format!(
            "the epoch-{e} primary rewrote LSN {}, at or below its starting point {start}",
            i + 1
        ));
    }
    Ok(())
}

/// G1 (at quiescent states): no switchover is left hanging.
pub fn g1_switchover_ends(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    match s.op {
        Op::Switchover { target, marker, .. } => Err(format!(
            "a switchover to {} is stuck (MARKER at LSN {marker})",
            region_name(usize::from(target))
        )),
        _ => Ok(()),
    }
}

/// G2 (at quiescent states): a returned old primary ends as a secondary. `Rejoin` is progress
/// and needs only a reachable old primary and no operation in progress, so no mutant here
/// breaks G2; it guards changes to those guards.
pub fn g2_old_primary_rejoins(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    match s
        .regions
        .iter()
        .position(|x| x.role == Role::Old && x.up && !x.cut_off)
    {
        Some(r) => Err(format!(
            "old primary {} is back but has not rejoined",
            region_name(r)
        )),
        None => Ok(()),
    }
}

/// G3 (at quiescent states): a running, reachable primary has acknowledged every commit it
/// wrote: commits blocked by the RPO gate resume once lag heals.
pub fn g3_blocked_commits_resume(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let p = s.prim();
    if p.role != Role::Primary || !p.up || p.cut_off {
        return Ok(());
    }
    match p.log.iter().find(|c| {
        c.commit && c.txn != 0 && c.gepoch == p.gepoch && s.ghost.acked[usize::from(c.txn) - 1] == 0
    }) {
        Some(c) => Err(format!(
            "T{} is committed on {} but never acknowledged",
            c.txn,
            region_name(usize::from(s.primary))
        )),
        None => Ok(()),
    }
}
