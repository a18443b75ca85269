//! The invariants of the failover protocol (B1-B10) and its bounded liveness (F1), as pure
//! functions of the state that the checker and the reference implementation's tests both call.
//! Each returns `Err(why)` naming the instance, segment or LSN that breaks it.

use super::config::FailoverConfig;
use super::state::{F_B3_BROKEN, F_B10_BROKEN, FailoverState, Lsn, Role, epoch_bit};
use crate::quorum::config::MAX_LSN;

pub use crate::table::Verdict;

/// Segment name in the paper's style: AZ letter, then index within the AZ (`A1`, `B2`).
pub fn seg_name(cfg: &FailoverConfig, i: usize) -> String {
    let per = usize::from(cfg.segments_per_az);
    format!("{}{}", (b'A' + (i / per) as u8) as char, i % per + 1)
}

/// Instance name: `W1` for the first writer, then `R1`, `R2`.
pub fn inst_name(i: usize) -> String {
    if i == 0 { "W1".into() } else { format!("R{i}") }
}

fn lsns() -> impl Iterator<Item = Lsn> {
    1..=MAX_LSN as Lsn
}

/// B1 NoLostAck: no truncation range of a later epoch covers an acknowledged commit.
pub fn b1_no_lost_ack(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for l in lsns() {
        let acked = s.ghost.acked[usize::from(l) - 1];
        for t in &s.truncs {
            let older = acked & ((1u16 << (t.epoch - 1)) - 1) as u8;
            if older != 0 && t.lo <= l {
                return Err(format!(
                    "LSN {l} was acknowledged at epoch {}, but the epoch-{} recovery truncated \
                     LSNs {}..={}",
                    older.trailing_zeros() + 1,
                    t.epoch,
                    t.lo,
                    t.hi
                ));
            }
        }
    }
    Ok(())
}

/// B11 AckedDurable: every record of an acknowledged mini-transaction is held, as written by
/// the acknowledging incarnation, on at least a write quorum of segments (up or down).
pub fn b11_acked_durable(cfg: &FailoverConfig, s: &FailoverState) -> Verdict {
    for l in lsns() {
        let acked = s.ghost.acked[usize::from(l) - 1];
        if acked == 0 {
            continue;
        }
        let a = acked.trailing_zeros() as u8 + 1;
        // The MTR ending at `l`: the records the same incarnation sent after the previous
        // consistency point (LSNs below its first allocation lie in a range, not in the MTR).
        let start = (1..l).rev().find(|&k| s.is_cpl(k)).map_or(1, |k| k + 1);
        for k in (start..=l).filter(|&k| s.sent[usize::from(k) - 1] & epoch_bit(a) != 0) {
            let n = s.count(|x| x.rec(k) == a);
            if n < usize::from(cfg.write_quorum) {
                return Err(format!(
                    "the commit at LSN {l} was acknowledged at epoch {a}, but LSN {k} of its \
                     mini-transaction is on only {n} segments"
                ));
            }
        }
    }
    Ok(())
}

/// B2: at most one instance allocates (and so writes) at each volume epoch.
pub fn b2_one_writer_per_epoch(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for (k, &w) in s.ghost.wrote.iter().enumerate() {
        if w.count_ones() > 1 {
            let who: Vec<_> = (0..8)
                .filter(|i| w & (1 << i) != 0)
                .map(inst_name)
                .collect();
            return Err(format!(
                "{} all wrote at volume epoch {}",
                who.join(" and "),
                k + 1
            ));
        }
    }
    Ok(())
}

/// B3 StaleFenced: no segment accepts a write from an epoch older than its fence.
pub fn b3_stale_fenced(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    if s.ghost.flags & F_B3_BROKEN != 0 {
        Err("a segment fenced at a newer epoch accepted an older incarnation's write".into())
    } else {
        Ok(())
    }
}

/// B4 LSNUnique: all live copies of an LSN were written by the same incarnation.
pub fn b4_lsn_unique(cfg: &FailoverConfig, s: &FailoverState) -> Verdict {
    for l in lsns() {
        let mut first: Option<(usize, u8)> = None;
        for (i, x) in s.segs.iter().enumerate() {
            let w = x.rec(l);
            if w == 0 || s.annulled(l, w) {
                continue;
            }
            match first {
                None => first = Some((i, w)),
                Some((j, v)) if v != w => {
                    return Err(format!(
                        "LSN {l} is live at epoch {v} on {} and at epoch {w} on {}",
                        seg_name(cfg, j),
                        seg_name(cfg, i)
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// B5: every writer allocated at most VDL + LAL, and an epoch-`e` writer allocates only above
/// its truncation range.
pub fn b5_allocation_bounded(cfg: &FailoverConfig, s: &FailoverState) -> Verdict {
    for (i, w) in s.insts.iter().enumerate() {
        if w.role == Role::Writer && w.next_lsn > w.base {
            let top = w.next_lsn - 1;
            if top > w.vdl.saturating_add(cfg.lal) {
                return Err(format!(
                    "{} allocated LSN {top} with VDL {} and LAL {}",
                    inst_name(i),
                    w.vdl,
                    cfg.lal
                ));
            }
        }
    }
    // Epoch-e LSNs lie above every range of epoch <= e (its own, and any a crashed recovery
    // left behind), so no new record ever sits in a slot a range treats as present.
    for t in &s.truncs {
        for l in 1..=t.hi.min(MAX_LSN as Lsn) {
            let later = s.sent[usize::from(l) - 1] & !((1u16 << (t.epoch - 1)) - 1) as u8;
            if later != 0 {
                return Err(format!(
                    "LSN {l} was written at epoch {}, inside or below the epoch-{} range {}..={}",
                    later.trailing_zeros() + 1,
                    t.epoch,
                    t.lo,
                    t.hi
                ));
            }
        }
    }
    Ok(())
}

/// B6: every recovered VDL is a consistency point, so each mini-transaction is wholly kept or
/// wholly annulled.
pub fn b6_recovered_vdl_at_cpl(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for t in &s.truncs {
        let vdl = t.lo - 1;
        let at_point = vdl == 0 || s.is_cpl(vdl) || s.truncs.iter().any(|u| u.hi == vdl);
        if !at_point {
            return Err(format!(
                "the epoch-{} recovery kept LSN {vdl} but annulled the rest of its \
                 mini-transaction from LSN {}",
                t.epoch, t.lo
            ));
        }
    }
    Ok(())
}

/// B7 ReplicaNoPhantom: a replica applies only records at or below the VDL it knows, and none
/// of them is later annulled.
pub fn b7_replica_no_phantom(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for (i, r) in s.insts.iter().enumerate() {
        if r.role != Role::Replica {
            continue;
        }
        for l in lsns() {
            let e = r.applied[usize::from(l) - 1];
            if e == 0 {
                continue;
            }
            if l > r.known_vdl {
                return Err(format!(
                    "{} applied LSN {l} above the VDL {} it knows",
                    inst_name(i),
                    r.known_vdl
                ));
            }
            if s.annulled(l, e) {
                return Err(format!(
                    "{} shows LSN {l} (epoch {e}), which a recovery annulled",
                    inst_name(i)
                ));
            }
        }
    }
    Ok(())
}

/// B8: no replica shows part of a mini-transaction.
pub fn b8_replica_whole_mtrs(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for (i, r) in s.insts.iter().enumerate() {
        if r.role != Role::Replica {
            continue;
        }
        for l in lsns() {
            if r.applied[usize::from(l) - 1] == 0 || s.is_cpl(l) {
                continue;
            }
            // A non-final record applied: the rest of its MTR must be too.
            if let Some(end) = (l + 1..=MAX_LSN as Lsn).find(|&k| s.is_cpl(k))
                && (l + 1..=end).any(|k| r.applied[usize::from(k) - 1] == 0)
            {
                return Err(format!(
                    "{} shows LSN {l} but not the rest of its mini-transaction (up to LSN {end})",
                    inst_name(i)
                ));
            }
        }
    }
    Ok(())
}

/// B9: an open writer's truncation range is installed at a write quorum (so it was before the
/// first write of its epoch, and stays so).
pub fn b9_truncation_before_writes(cfg: &FailoverConfig, s: &FailoverState) -> Verdict {
    for (i, w) in s.insts.iter().enumerate() {
        if w.role != Role::Writer || s.trunc_of(w.epoch).is_none() {
            continue;
        }
        let n = s.count(|x| x.trunc_epoch >= w.epoch);
        if n < usize::from(cfg.write_quorum) {
            return Err(format!(
                "{} writes at epoch {} while its truncation range is installed on only {n} segments",
                inst_name(i),
                w.epoch
            ));
        }
    }
    Ok(())
}

/// B10: each recovered VDL is at least every commit acknowledged at an older epoch.
pub fn b10_recovery_keeps_acked(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    if s.ghost.flags & F_B10_BROKEN != 0 {
        Err("a recovery computed a VDL below a commit acknowledged before it".into())
    } else {
        Ok(())
    }
}

/// F1 (at quiescent states): with a write quorum of segments up and some instance alive and
/// reachable, the endpoint routes to an open, reachable writer.
pub fn f1_writer_elected(cfg: &FailoverConfig, s: &FailoverState) -> Verdict {
    let wq_up = s.count(|x| x.up) >= usize::from(cfg.write_quorum);
    let someone = s.insts.iter().any(|x| x.role != Role::Down && !x.cut_off);
    if !wq_up || !someone {
        return Ok(());
    }
    match s.current_writer() {
        Some(w) if !w.cut_off => Ok(()),
        _ => Err(format!(
            "no open writer: the endpoint routes to {} ({:?})",
            inst_name(usize::from(s.endpoint)),
            s.insts[usize::from(s.endpoint)].role
        )),
    }
}

/// F2 (at quiescent states): every transaction that was active when its writer failed has
/// been rolled back by the open writer.
pub fn f2_active_txns_rolled_back(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let Some(w) = s.current_writer().filter(|w| !w.cut_off) else {
        return Ok(());
    };
    let orphans = s.orphans(w);
    if orphans == 0 {
        return Ok(());
    }
    let l = orphans.trailing_zeros() + 1;
    Err(format!(
        "{} is open at epoch {}, but the transaction whose body ends at LSN {l} was active \
         when its writer failed and is still in progress",
        inst_name(usize::from(s.endpoint)),
        w.epoch
    ))
}

/// F2a: a transaction that was active when its writer failed is never acknowledged.
pub fn f2a_orphan_never_acked(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    for l in lsns() {
        let bit = 1u16 << (l - 1);
        let acked = s.ghost.acked[usize::from(l) - 1];
        if s.ghost.orphan_commits & bit != 0 && acked != 0 {
            return Err(format!(
                "the commit at LSN {l} was acknowledged at epoch {}, but its transaction was \
                 active when its writer failed and had to be rolled back",
                acked.trailing_zeros() + 1
            ));
        }
    }
    Ok(())
}
