//! What a storage segment does with each request of the failover protocol: pure functions from
//! a segment's state and a request to its new state or a rejection. The chain rule (SCL) and
//! truncation ranges are the quorum model's ([`crate::quorum::segment`]).
//!
//! A segment keeps the highest volume epoch installed on it (its *fence*). It rejects a write
//! from an older epoch: that is all fencing is, with no leases [V18]. It accepts a write
//! of its own epoch only once it has installed that epoch's truncation range, so no record of
//! a new incarnation lands where an annulled stray could still be counted (B9).

use super::config::{FailoverConfig, Mutant};
use super::state::{Epoch, Lsn, Seg, Trunc};
use crate::quorum::config::MAX_LSN;
use crate::quorum::segment::{chain_top, known};

/// Why a segment refused a write.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Reject {
    /// The writer's epoch is older than the segment's fence.
    Stale,
    /// The writer's epoch is newer than anything installed here: install it first.
    NeedsEpoch,
    /// The writer's truncation range is not installed here yet.
    NeedsTruncation,
    /// The record is annulled by a range installed here.
    Annulled,
}

/// The SCL of `seg`: its chain, with the ranges it has installed counting as present.
pub fn scl(seg: &Seg, truncs: &[Trunc]) -> Lsn {
    chain_top(&seg.recs, known(truncs, seg.trunc_epoch))
}

/// A write of LSN `lsn` by the incarnation at epoch `e`. `Ok` carries the new segment and
/// whether it accepted a stale epoch (only under `no-fencing`).
pub fn on_write(
    cfg: &FailoverConfig,
    seg: &Seg,
    lsn: Lsn,
    e: Epoch,
    truncs: &[Trunc],
) -> Result<(Seg, bool), Reject> {
    let checks = !cfg.has(Mutant::NoFencing);
    if checks {
        if e < seg.fence {
            return Err(Reject::Stale);
        }
        if e > seg.fence {
            return Err(Reject::NeedsEpoch);
        }
        if truncs.iter().any(|t| t.epoch == e) && seg.trunc_epoch < e {
            return Err(Reject::NeedsTruncation);
        }
    }
    if known(truncs, seg.trunc_epoch).any(|t| t.annuls(lsn, e)) {
        return Err(Reject::Annulled);
    }
    Ok((store(seg, lsn, e, truncs), e < seg.fence))
}

/// Whether a segment that installed `known` must still refuse a record of epoch `e` whose
/// writer's own range is `range`: it has not installed that range yet (B9). This is
/// [`on_write`]'s `NeedsTruncation` rule for a segment that knows only the ranges it was sent:
/// the writer names its range, and the segment checks that it holds it. Not under
/// `no-fencing`, which skips every epoch check.
pub fn lacks_range(cfg: &FailoverConfig, known: &[Trunc], range: Option<Trunc>, e: Epoch) -> bool {
    !cfg.has(Mutant::NoFencing) && range.is_some_and(|t| t.epoch == e && !known.contains(&t))
}

/// A record of LSN `lsn` written at epoch `w`, copied from a peer (repair).
pub fn on_gossip(seg: &Seg, lsn: Lsn, w: Epoch, truncs: &[Trunc]) -> Result<Seg, Reject> {
    if known(truncs, seg.trunc_epoch).any(|t| t.annuls(lsn, w)) {
        return Err(Reject::Annulled);
    }
    Ok(store(seg, lsn, w, truncs))
}

/// Store the record of LSN `lsn` written at epoch `w` (already judged acceptable) and
/// recompute the SCL: what accepting a write or a repair does, and what replaying an accepted
/// one does.
pub fn store(seg: &Seg, lsn: Lsn, w: Epoch, truncs: &[Trunc]) -> Seg {
    let mut next = *seg;
    next.recs[usize::from(lsn) - 1] = w;
    next.scl = scl(&next, truncs);
    next
}

/// Whether a segment keeps its installed ranges over a crash: it does (they are durable),
/// except under `volatile-truncation`.
pub fn keeps_ranges(cfg: &FailoverConfig) -> bool {
    !cfg.has(Mutant::VolatileTruncation)
}

/// What a restart leaves of a segment that kept its installed ranges in memory only (the
/// mutant `volatile-truncation`): records and fence stay, the ranges are forgotten.
pub fn forget_ranges(seg: &Seg, truncs: &[Trunc]) -> Seg {
    let mut next = *seg;
    next.trunc_epoch = 1;
    next.scl = scl(&next, truncs);
    next
}

/// Whether a request to install epoch `e` (fence only) asks `seg` for anything new.
pub fn fence_needed(seg: &Seg, e: Epoch) -> bool {
    seg.fence < e
}

/// What `seg` does with a request to install epoch `e` and its ranges: `Err(Stale)` if it is
/// fenced at a newer epoch, `Ok(false)` if it has installed them already, `Ok(true)` if it
/// installs them.
pub fn install_needed(seg: &Seg, e: Epoch) -> Result<bool, Reject> {
    if seg.fence > e {
        Err(Reject::Stale)
    } else {
        Ok(!(seg.fence == e && seg.trunc_epoch >= e))
    }
}

/// Install epoch `e` (the fence) without any truncation range.
pub fn fence(seg: &Seg, e: Epoch) -> Seg {
    let mut next = *seg;
    next.fence = next.fence.max(e);
    next
}

/// Install epoch `e` and every truncation range up to it: drop the records they annul.
pub fn install_truncation(seg: &Seg, e: Epoch, truncs: &[Trunc]) -> Seg {
    let mut next = fence(seg, e);
    next.trunc_epoch = next.trunc_epoch.max(e);
    for l in 1..=MAX_LSN as Lsn {
        let w = next.rec(l);
        if w != 0 && known(truncs, next.trunc_epoch).any(|t| t.annuls(l, w)) {
            next.recs[usize::from(l) - 1] = 0;
        }
    }
    next.scl = scl(&next, truncs);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg() -> Seg {
        Seg {
            up: true,
            fence: 1,
            trunc_epoch: 1,
            ..Seg::default()
        }
    }

    #[test]
    fn a_fenced_segment_rejects_the_old_epoch() {
        let cfg = FailoverConfig::base();
        let s = fence(&seg(), 2);
        assert_eq!(on_write(&cfg, &s, 1, 1, &[]).err(), Some(Reject::Stale));
        let bad = FailoverConfig::base().with_mutant(Some(Mutant::NoFencing));
        let (got, stale) = on_write(&bad, &s, 1, 1, &[]).unwrap();
        assert!(stale && got.rec(1) == 1);
    }

    #[test]
    fn a_new_epoch_writes_only_after_its_range_is_installed() {
        let cfg = FailoverConfig::base();
        let truncs = [Trunc {
            epoch: 2,
            lo: 2,
            hi: 3,
        }];
        let mut s = seg();
        s.recs[1] = 1; // a stray LSN 2 from epoch 1
        let fenced = fence(&s, 2);
        assert_eq!(
            on_write(&cfg, &fenced, 4, 2, &truncs).err(),
            Some(Reject::NeedsTruncation)
        );
        let t = install_truncation(&fenced, 2, &truncs);
        assert_eq!(t.rec(2), 0, "the stray is annulled");
        assert_eq!(t.scl, 0, "LSN 1 is missing, so the chain is empty");
        let (w, _) = on_write(&cfg, &t, 4, 2, &truncs).unwrap();
        assert_eq!(w.rec(4), 2);
        assert_eq!(on_gossip(&t, 2, 1, &truncs).err(), Some(Reject::Annulled));
    }
}
