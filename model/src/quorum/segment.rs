//! What one storage segment does with each request: pure functions from a segment's durable
//! state and a request to its new state or a rejection. The checker and (later) the reference
//! implementation's storage nodes both call these.
//!
//! A segment keeps the records it receives and its SCL, the top of its gap-free chain
//! [V18 §2.3]. An LSN inside a truncation range the segment has installed counts as present in
//! the chain (the range was annulled, and new LSNs are allocated above it), so installing a
//! truncation never moves the SCL backwards. Every request carries the sender's membership
//! epoch and volume epoch; a segment rejects a stale one [V18 §4: "stale ones are rejected"].

use super::config::{MAX_LSN, Mutant, QuorumConfig};
use super::state::{Epoch, Lsn, Segment, Trunc};

/// Why a segment refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The request's membership epoch is not the segment's.
    StaleMembership,
    /// The request comes from an older writer incarnation (fenced).
    StaleVolume,
    /// The request comes from a newer incarnation whose truncation the segment has not
    /// installed yet; the writer must install it first.
    NeedsTruncation,
    /// The record is annulled by a truncation range the segment knows.
    Annulled,
    /// Read point above the segment's SCL.
    BelowReadPoint,
    /// Read point below the protection group's GC point.
    Collected,
}

/// A write or gossip request's epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epochs {
    /// The sender's membership epoch.
    pub mem: Epoch,
    /// The volume epoch of the writer incarnation that wrote the record.
    pub vol: Epoch,
}

/// The outcome of an accepted request: the new segment state, and whether accepting broke A5
/// (it can only under a mutant; the flag lets the checker see it).
pub struct Accepted {
    /// New state.
    pub seg: Segment,
    /// The request's epochs were stale and it was accepted anyway.
    pub a5_broken: bool,
}

/// Truncation ranges a segment knows: those of epochs it has installed.
pub fn known(truncs: &[Trunc], vol_epoch: Epoch) -> impl Iterator<Item = &Trunc> + Clone {
    truncs.iter().filter(move |t| t.epoch <= vol_epoch)
}

/// The top of the gap-free chain of `recs`, treating LSNs inside `ranges` as present.
pub fn chain_top<'a>(
    recs: &[Epoch; MAX_LSN],
    ranges: impl Iterator<Item = &'a Trunc> + Clone,
) -> Lsn {
    let mut top = 0;
    for l in 1..=MAX_LSN as Lsn {
        let annulled_slot = ranges.clone().any(|t| t.lo <= l && l <= t.hi);
        let held = recs[usize::from(l) - 1] != 0
            && !ranges
                .clone()
                .any(|t| t.annuls(l, recs[usize::from(l) - 1]));
        if held || annulled_slot {
            top = l;
        } else {
            break;
        }
    }
    top
}

/// The SCL a segment computes after its records changed.
fn recompute_scl(cfg: &QuorumConfig, seg: &Segment, truncs: &[Trunc]) -> Lsn {
    if cfg.has(Mutant::SclSkipsGaps) {
        // Ma9: the highest record held, across any gap.
        let top = (1..=MAX_LSN as Lsn)
            .rev()
            .find(|&l| seg.holds(l))
            .unwrap_or(0);
        return top.max(seg.scl);
    }
    chain_top(&seg.recs, known(truncs, seg.vol_epoch))
}

/// Store a record sent by the writer.
pub fn on_write(
    cfg: &QuorumConfig,
    seg: &Segment,
    lsn: Lsn,
    epochs: Epochs,
    truncs: &[Trunc],
) -> Result<Accepted, Reject> {
    let ignore_membership = cfg.has(Mutant::IgnoreMembershipEpoch);
    if epochs.mem != seg.mem_epoch && !ignore_membership {
        return Err(Reject::StaleMembership);
    }
    if epochs.vol < seg.vol_epoch {
        return Err(Reject::StaleVolume);
    }
    if epochs.vol > seg.vol_epoch {
        return Err(Reject::NeedsTruncation);
    }
    Ok(store(cfg, seg, lsn, epochs, truncs))
}

/// Keep record `lsn` (written at `epochs.vol`) and advance the SCL over it.
fn store(
    cfg: &QuorumConfig,
    seg: &Segment,
    lsn: Lsn,
    epochs: Epochs,
    truncs: &[Trunc],
) -> Accepted {
    let mut next = *seg;
    next.recs[usize::from(lsn) - 1] = epochs.vol;
    next.scl = recompute_scl(cfg, &next, truncs);
    Accepted {
        seg: next,
        a5_broken: epochs.mem != seg.mem_epoch,
    }
}

/// Store a record gossiped by a peer (repair, or hydration of a joining member).
pub fn on_gossip(
    cfg: &QuorumConfig,
    seg: &Segment,
    lsn: Lsn,
    epochs: Epochs,
    truncs: &[Trunc],
) -> Result<Accepted, Reject> {
    if epochs.mem != seg.mem_epoch && !cfg.has(Mutant::IgnoreMembershipEpoch) {
        return Err(Reject::StaleMembership);
    }
    let annulled = known(truncs, seg.vol_epoch).any(|t| t.annuls(lsn, epochs.vol));
    if annulled && !cfg.has(Mutant::GossipIgnoresTruncation) {
        return Err(Reject::Annulled);
    }
    Ok(store(cfg, seg, lsn, epochs, truncs))
}

/// Install the truncation ranges of a newer volume epoch: drop every record they annul.
pub fn install_truncation(
    cfg: &QuorumConfig,
    seg: &Segment,
    truncs: &[Trunc],
    vol_epoch: Epoch,
) -> Segment {
    let mut next = *seg;
    next.vol_epoch = vol_epoch;
    for l in 1..=MAX_LSN as Lsn {
        let w = next.rec(l);
        if w != 0 && known(truncs, vol_epoch).any(|t| t.annuls(l, w)) {
            next.recs[usize::from(l) - 1] = 0;
        }
    }
    next.scl = recompute_scl(cfg, &next, truncs).max(seg.scl);
    next
}

/// Serve a read at read point `rp`: the live LSNs at or below `rp` the segment holds, as a bit
/// set (bit `l-1`).
pub fn serve_read(
    cfg: &QuorumConfig,
    seg: &Segment,
    rp: Lsn,
    gc_point: Lsn,
) -> Result<u16, Reject> {
    if seg.scl < rp && !cfg.has(Mutant::ReadBelowScl) {
        return Err(Reject::BelowReadPoint);
    }
    if rp < gc_point {
        return Err(Reject::Collected);
    }
    Ok((1..=rp)
        .filter(|&l| seg.holds(l))
        .fold(0, |a, l| a | (1 << (l - 1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg() -> Segment {
        Segment {
            up: true,
            lost: false,
            spare: false,
            az: 0,
            mem_epoch: 1,
            vol_epoch: 1,
            scl: 0,
            recs: [0; MAX_LSN],
        }
    }

    #[test]
    fn scl_stops_at_a_gap_and_fills_it() {
        let cfg = QuorumConfig::base();
        let e = Epochs { mem: 1, vol: 1 };
        let s = on_write(&cfg, &seg(), 2, e, &[]).unwrap().seg;
        assert_eq!(s.scl, 0, "LSN 1 is missing");
        let s = on_write(&cfg, &s, 1, e, &[]).unwrap().seg;
        assert_eq!(s.scl, 2);
    }

    #[test]
    fn stale_epochs_are_rejected() {
        let cfg = QuorumConfig::base();
        let mut s = seg();
        s.mem_epoch = 2;
        s.vol_epoch = 2;
        assert_eq!(
            on_write(&cfg, &s, 1, Epochs { mem: 1, vol: 2 }, &[]).err(),
            Some(Reject::StaleMembership)
        );
        assert_eq!(
            on_write(&cfg, &s, 1, Epochs { mem: 2, vol: 1 }, &[]).err(),
            Some(Reject::StaleVolume)
        );
        assert_eq!(
            on_write(&cfg, &s, 1, Epochs { mem: 2, vol: 3 }, &[]).err(),
            Some(Reject::NeedsTruncation)
        );
    }

    #[test]
    fn truncation_annuls_and_the_chain_crosses_the_range() {
        let cfg = QuorumConfig::base();
        let e = Epochs { mem: 1, vol: 1 };
        let s = on_write(&cfg, &seg(), 1, e, &[]).unwrap().seg;
        let s = on_write(&cfg, &s, 3, e, &[]).unwrap().seg;
        let truncs = [Trunc {
            epoch: 2,
            lo: 2,
            hi: 3,
        }];
        let s = install_truncation(&cfg, &s, &truncs, 2);
        assert!(!s.holds(3), "annulled record dropped");
        assert_eq!(s.scl, 3, "the annulled range counts as present");
        let s = on_write(&cfg, &s, 4, Epochs { mem: 1, vol: 2 }, &truncs)
            .unwrap()
            .seg;
        assert_eq!(s.scl, 4);
        assert_eq!(
            on_gossip(&cfg, &s, 3, e, &truncs).err(),
            Some(Reject::Annulled),
            "an annulled record is not accepted again"
        );
    }

    #[test]
    fn reads_need_scl_at_the_read_point() {
        let cfg = QuorumConfig::base();
        let s = on_write(&cfg, &seg(), 1, Epochs { mem: 1, vol: 1 }, &[])
            .unwrap()
            .seg;
        assert_eq!(serve_read(&cfg, &s, 1, 0), Ok(0b1));
        assert_eq!(serve_read(&cfg, &s, 2, 0), Err(Reject::BelowReadPoint));
        assert_eq!(serve_read(&cfg, &s, 1, 2), Err(Reject::Collected));
    }
}
