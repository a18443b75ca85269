//! The storage-quorum properties, named by their spec IDs in `specs/quorum.md`.
//!
//! Each invariant is a plain function of the configuration and a state, so the checker and the
//! reference implementation's tests call the very same code. Each returns `Ok(())` when it holds
//! and `Err(why)` with the witness in the protocol's words when it does not.

use super::config::{Mutant, QuorumConfig};
use super::segment;
use super::state::{
    F_A4_BROKEN, F_A5_BROKEN, Lsn, QuorumState, SegSet, WriterMode, count, slots_of,
};
use super::writer;

/// The name of segment slot `i`: AZ letter and index for members (`A1`, `B2`), `G<k>` for spares.
pub fn seg_name(cfg: &QuorumConfig, i: usize) -> String {
    let members = cfg.members();
    if i < members {
        let per = usize::from(cfg.segments_per_az);
        format!("{}{}", (b'A' + (i / per) as u8) as char, i % per + 1)
    } else {
        format!("G{}", i - members + 1)
    }
}

/// A set of slots as `{A1,B2,G1}`.
pub fn set_name(cfg: &QuorumConfig, set: SegSet) -> String {
    let names: Vec<_> = slots_of(set).map(|i| seg_name(cfg, i)).collect();
    format!("{{{}}}", names.join(","))
}

/// Result of an invariant: the explanation when violated.
pub use crate::table::Verdict;

/// A1 AckedReadable: every acknowledged commit is live (no truncation range covers it), and for
/// every live LSN at or below it, every read quorum of the configuration in force (counting a
/// joining member only once hydrated) contains a segment holding it.
pub fn a1_acked_readable(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    for c in 1..=s.max_acked() {
        if s.ghost.acked & (1 << (c - 1)) == 0 {
            continue;
        }
        if let Some(t) = s.control.truncs.iter().find(|t| t.lo <= c && c <= t.hi) {
            return Err(format!(
                "commit at LSN {c} was acknowledged, then annulled by the truncation range \
                 {}..={} of volume epoch {}",
                t.lo, t.hi, t.epoch
            ));
        }
    }
    let counted = s.read_counted(cfg.has(Mutant::LiteralDualRead)) & s.durable_set();
    let r = usize::from(cfg.read_quorum);
    for l in (1..=s.max_acked()).filter(|&l| !s.in_trunc(l)) {
        let holders = s.holders(l);
        for &q in s.control.mem.cfg.sets() {
            let missing = q & counted & !holders;
            if count(missing) >= r {
                let y: SegSet = slots_of(missing).take(r).fold(0, |a, i| a | (1 << i));
                return Err(format!(
                    "commit at LSN {} is acknowledged, but LSN {l} is held only by {} of quorum \
                     set {}; the read quorum {} misses it",
                    s.max_acked(),
                    set_name(cfg, holders & q),
                    set_name(cfg, q),
                    set_name(cfg, y)
                ));
            }
        }
    }
    Ok(())
}

/// A2: VDL <= VCL, VDL is a consistency point (or 0), and every live LSN at or below VCL has
/// reached a write quorum at some point.
pub fn a2_vdl_sound(_cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    let w = &s.writer;
    if w.vdl > w.vcl {
        return Err(format!("VDL {} is above VCL {}", w.vdl, w.vcl));
    }
    if s.cpl_at_or_below(w.vdl) != w.vdl {
        return Err(format!(
            "VDL {} is not a consistency point (CPLs: {:?}): a commit could be acknowledged \
             with part of its mini-transaction missing",
            w.vdl,
            (1..=s.max_allocated())
                .filter(|&l| s.is_cpl(l))
                .collect::<Vec<_>>()
        ));
    }
    for l in (1..=w.vcl.min(s.max_allocated())).filter(|&l| !s.in_trunc(l)) {
        if s.ghost.wq_reached & (1 << (l - 1)) == 0 {
            return Err(format!(
                "VCL {} but LSN {l} never reached a write quorum",
                w.vcl
            ));
        }
    }
    Ok(())
}

/// A3 SCL sound: every live LSN at or below a segment's SCL is in its records (or inside a
/// truncation range it has installed).
pub fn a3_scl_sound(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    for (i, x) in s
        .segs
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.lost && !x.spare)
    {
        for l in 1..=x.scl.min(super::config::MAX_LSN as Lsn) {
            let covered =
                segment::known(&s.control.truncs, x.vol_epoch).any(|t| t.lo <= l && l <= t.hi);
            if !x.holds(l) && !covered {
                return Err(format!(
                    "{} reports SCL {} but does not hold LSN {l}",
                    seg_name(cfg, i),
                    x.scl
                ));
            }
        }
    }
    Ok(())
}

/// A4: PGCL, VCL and VDL never move backwards within a writer incarnation (segment SCLs and
/// both epochs only move forward by construction; see the spec).
pub fn a4_monotone(_cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    if s.ghost.flags & F_A4_BROKEN != 0 {
        return Err(format!(
            "the writer's consistency points moved backwards (now PGCL {}, VCL {}, VDL {})",
            s.writer.pgcl, s.writer.vcl, s.writer.vdl
        ));
    }
    Ok(())
}

/// A5: a segment accepts a write or gossiped record only at its own membership epoch and at a
/// volume epoch no older than its own.
pub fn a5_epochs_checked(_cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    if s.ghost.flags & F_A5_BROKEN != 0 {
        return Err(format!(
            "a segment accepted a request carrying a stale membership epoch (current epoch {}, \
             writer knows {})",
            s.control.mem.epoch, s.writer.mem_epoch
        ));
    }
    Ok(())
}

/// A6 NoResurrection: no segment that knows a truncation range holds a record it annuls.
pub fn a6_no_resurrection(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    for (i, x) in s.segs.iter().enumerate().filter(|(_, x)| !x.lost) {
        for t in segment::known(&s.control.truncs, x.vol_epoch) {
            for l in t.lo..=t.hi.min(super::config::MAX_LSN as Lsn) {
                if x.holds(l) && t.annuls(l, x.rec(l)) {
                    return Err(format!(
                        "{} knows truncation range {}..={} (volume epoch {}) yet holds LSN {l} \
                         written at volume epoch {}: an annulled record is back",
                        seg_name(cfg, i),
                        t.lo,
                        t.hi,
                        t.epoch,
                        x.rec(l)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A read the protocol would serve now: read point, segment slot, what it returns, and what
/// it should return (bit `l-1` per LSN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServedRead {
    /// The read point.
    pub rp: Lsn,
    /// The serving segment's slot.
    pub seg: usize,
    /// LSNs returned.
    pub got: u16,
    /// The live LSNs at or below `rp`.
    pub want: u16,
}

/// Every read the protocol would serve in `s`: at the open view's read point and at VDL, from
/// each segment that counts toward a read quorum and is at the current epochs. Reads change no
/// state, so the model judges them as observations of each state instead of as actions.
pub fn servable_reads(cfg: &QuorumConfig, s: &QuorumState) -> Vec<ServedRead> {
    let mut out = Vec::new();
    if s.writer.mode != WriterMode::Open {
        return out;
    }
    let counted = s.read_counted(cfg.has(Mutant::LiteralDualRead));
    let mut points = vec![s.writer.vdl];
    if let Some(v) = s.writer.reads.view
        && v != s.writer.vdl
    {
        points.push(v);
    }
    for rp in points.into_iter().filter(|&rp| rp > 0) {
        let want = (1..=rp)
            .filter(|&l| !s.in_trunc(l))
            .fold(0u16, |a, l| a | (1 << (l - 1)));
        for (i, x) in s.segs.iter().enumerate() {
            let eligible = x.up
                && counted & (1 << i) != 0
                && x.mem_epoch == s.control.mem.epoch
                && x.vol_epoch == s.writer.vol_epoch;
            if !eligible {
                continue;
            }
            if let Ok(got) = segment::serve_read(cfg, x, rp, s.writer.reads.gc_point) {
                out.push(ServedRead {
                    rp,
                    seg: i,
                    got,
                    want,
                });
            }
        }
    }
    out
}

/// A7: a read at read point rp is served only by a segment with SCL >= rp, only at rp >= the
/// GC point, and returns exactly the live records at or below rp.
pub fn a7_read_sound(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    for r in servable_reads(cfg, s) {
        let x = &s.segs[r.seg];
        if r.got != r.want || x.scl < r.rp || r.rp < s.writer.reads.gc_point {
            let lsns = |bits: u16| {
                (1..=16u8)
                    .filter(|l| bits & (1 << (l - 1)) != 0)
                    .collect::<Vec<_>>()
            };
            return Err(format!(
                "{} (SCL {}) serves a read at read point {} and returns LSNs {:?}; the live \
                 records at or below {} are {:?}",
                seg_name(cfg, r.seg),
                x.scl,
                r.rp,
                lsns(r.got),
                r.rp,
                lsns(r.want)
            ));
        }
    }
    Ok(())
}

/// A8: the GC point never passes the read point of an open read view (PGMRPL).
pub fn a8_gc_below_read_points(_cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    match s.writer.reads.view {
        Some(rp) if s.writer.reads.gc_point > rp => Err(format!(
            "GC point {} is above the open read view's read point {rp}",
            s.writer.reads.gc_point
        )),
        _ => Ok(()),
    }
}

/// A9: every write quorum of the previous configuration meets every read quorum of the one in
/// force, where a member that joined in this configuration counts only once hydrated (then it
/// holds everything the previous configuration made durable).
pub fn a9_quorums_intersect(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    let now = s.control.mem.cfg;
    let prev = s.control.mem.prev;
    let counted = s.read_counted(cfg.has(Mutant::LiteralDualRead));
    let hydrated_joiners = match s.control.mem.change {
        Some(c) if c.hydrated => (1 << c.g) & !prev.members(),
        None => now.members() & !prev.members(),
        _ => 0,
    };
    let r = usize::from(cfg.read_quorum);
    let w = usize::from(cfg.write_quorum);
    for &q in now.sets() {
        let pool = q & counted & !hydrated_joiners;
        // Every R-subset of the pool: is there a previous write quorum avoiding it?
        let mut y: u32 = 0;
        loop {
            let ys = y as SegSet;
            if ys & !pool == 0 && count(ys) == r && prev.sets().iter().all(|&p| count(p & !ys) >= w)
            {
                return Err(format!(
                    "read quorum {} of {} shares no member with some write quorum of the \
                     previous configuration {}",
                    set_name(cfg, ys),
                    set_name(cfg, q),
                    prev.sets()
                        .iter()
                        .map(|&p| set_name(cfg, p))
                        .collect::<Vec<_>>()
                        .join(" + ")
                ));
            }
            // The next submask of `pool`, in increasing order; back to 0 after the last.
            y = (y | !u32::from(pool)).wrapping_add(1) & u32::from(pool);
            if y == 0 {
                break;
            }
        }
    }
    Ok(())
}

/// L1: once quiescent, with a write quorum reachable at the writer's epochs and no change in
/// progress, every LSN is allocated and VDL reached the last live consistency point.
pub fn l1_writes_complete(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    let w = &s.writer;
    let reachable = writer::ack_senders(cfg, s);
    if w.mode != WriterMode::Open
        || w.mem_epoch != s.control.mem.epoch
        || s.control.mem.change.is_some()
        || !w
            .cfg
            .is_write_quorum(reachable, cfg.write_quorum, SegSet::MAX)
    {
        return Ok(());
    }
    let last_cpl = s.cpl_at_or_below(s.max_allocated());
    if w.next_lsn <= cfg.lsns || w.vdl < last_cpl {
        return Err(format!(
            "nothing more happens, a write quorum {} is up, yet next LSN {} (of {}) and VDL {} \
             (last consistency point {last_cpl})",
            set_name(cfg, reachable),
            w.next_lsn,
            cfg.lsns,
            w.vdl
        ));
    }
    Ok(())
}

/// L2: once quiescent, every up member holds every live LSN up to the last acknowledged
/// commit (repair by gossip has finished).
pub fn l2_repair_completes(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    for i in slots_of(s.control.mem.cfg.members() & s.up_set()) {
        for l in (1..=s.max_acked()).filter(|&l| !s.in_trunc(l)) {
            if !s.segs[i].holds(l) {
                return Err(format!(
                    "nothing more happens, yet {} (up) still lacks acknowledged LSN {l}",
                    seg_name(cfg, i)
                ));
            }
        }
    }
    Ok(())
}

/// L3: once quiescent with every surviving segment up, no membership change is left half done.
pub fn l3_membership_settles(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    let Some(c) = s.control.mem.change else {
        return Ok(());
    };
    let all_up = s.segs.iter().all(|x| x.up || x.lost || x.spare);
    if all_up {
        return Err(format!(
            "every segment is up and nothing more happens, yet the change replacing {} by {} \
             is stuck (G hydrated: {}, target LSN {})",
            seg_name(cfg, usize::from(c.f)),
            seg_name(cfg, usize::from(c.g)),
            c.hydrated,
            c.target
        ));
    }
    Ok(())
}

/// L4: once quiescent, with a write quorum reachable, every reachable member's SCL equals PGCL.
pub fn l4_scl_converges(cfg: &QuorumConfig, s: &QuorumState) -> Verdict {
    let w = &s.writer;
    let reachable = writer::ack_senders(cfg, s) & w.cfg.members();
    if w.mode != WriterMode::Open
        || !w
            .cfg
            .is_write_quorum(reachable, cfg.write_quorum, SegSet::MAX)
    {
        return Ok(());
    }
    for i in slots_of(reachable) {
        let scl = s.segs[i].scl.min(s.max_allocated());
        if scl != w.pgcl {
            return Err(format!(
                "nothing more happens, yet {} has SCL {scl} while PGCL is {}",
                seg_name(cfg, i),
                w.pgcl
            ));
        }
    }
    Ok(())
}
