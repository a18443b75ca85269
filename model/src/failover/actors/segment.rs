//! The storage segment actor of the failover protocol: one copy of the protection group's log.
//!
//! A segment judges every request by the rules of [`crate::failover::storage`]: it keeps the
//! highest volume epoch installed on it (its fence) and refuses anything of an older one, so a
//! writer that has been replaced can make nothing durable here; it takes a new epoch's records
//! only once it has installed that epoch's truncation range; and it drops what an installed
//! range annuls. After every change it saves what it holds and reports it to every database
//! instance (a writer counts the report as its acks, a recovery as its view). It answers a
//! recovery read with the top of its chain, judged with the ranges the reader sends, and on its
//! periodic timers copies the records it holds to peers that lack them (repair).

use crate::actor::{Effects, Id};
use crate::failover::config::FailoverConfig;
use crate::failover::state::{Lsn, Ranges, Seg};
use crate::failover::storage::{self, Reject};
use crate::quorum::segment::chain_top;

use super::msg::{Ids, Msg, Storage, Timer};

/// A segment's state: the segment and the ranges it has installed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SegNode {
    /// The segment (its `up` flag belongs to whoever runs it).
    pub seg: Seg,
    /// Every range it has installed, oldest first.
    pub known: Ranges,
}

/// Segment `slot` at birth: empty, at volume epoch 1, in its AZ.
pub fn born(cfg: &FailoverConfig, slot: usize) -> SegNode {
    SegNode {
        seg: Seg {
            up: true,
            az: (slot / usize::from(cfg.segments_per_az)) as u8,
            fence: 1,
            trunc_epoch: 1,
            ..Seg::default()
        },
        known: Ranges::new(),
    }
}

/// The periodic timers: repair of each LSN to each peer.
pub fn timers(cfg: &FailoverConfig, slot: usize) -> Vec<Timer> {
    let mut out = Vec::new();
    for to in (0..cfg.segments()).filter(|&to| to != slot) {
        for lsn in 1..=cfg.lsns {
            out.push(Timer::Gossip { to: to as u8, lsn });
        }
    }
    out
}

/// What survives a crash: everything, except the installed ranges under
/// `volatile-truncation`.
pub fn durable(cfg: &FailoverConfig, st: &SegNode) -> SegNode {
    if storage::keeps_ranges(cfg) {
        st.clone()
    } else {
        SegNode {
            seg: storage::forget_ranges(&st.seg, &st.known),
            known: Ranges::new(),
        }
    }
}

/// Start, or restart from `saved`: report what it holds to every instance.
pub fn on_start(
    cfg: &FailoverConfig,
    ids: Ids,
    slot: usize,
    saved: Option<&Storage>,
    out: &mut impl Effects<Msg, Storage>,
) -> SegNode {
    let st = match saved {
        Some(Storage::Segment { seg, known }) => durable(
            cfg,
            &SegNode {
                seg: Seg { up: true, ..*seg },
                known: known.clone(),
            },
        ),
        _ => born(cfg, slot),
    };
    report(ids, &st, out);
    st
}

/// Handle `msg` from `src`.
pub fn on_msg(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut SegNode,
    src: Id,
    msg: &Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    let before = st.seg;
    match *msg {
        Msg::Write { lsn, epoch, range } if valid_lsn(lsn) => {
            let verdict = match storage::on_write(cfg, &st.seg, lsn, epoch, &st.known) {
                Ok(_) if storage::lacks_range(cfg, &st.known, range, epoch) => {
                    Err(Reject::NeedsTruncation)
                }
                v => v,
            };
            match verdict {
                Ok((next, _)) => st.seg = next,
                Err(reason) => out.send(src, Msg::Refused { epoch, reason }),
            }
        }
        // Repair fills holes only: a record held here is never replaced by a peer's copy.
        Msg::Gossip { lsn, epoch } if valid_lsn(lsn) && st.seg.rec(lsn) == 0 => {
            if let Ok(next) = storage::on_gossip(&st.seg, lsn, epoch, &st.known) {
                st.seg = next;
            }
        }
        Msg::Fence { epoch } if storage::fence_needed(&st.seg, epoch) => {
            st.seg = storage::fence(&st.seg, epoch);
        }
        Msg::Install { epoch, ref truncs } => {
            // An install of an epoch already installed still brings any range it lacks (one
            // sent before the recovery's own range was in the list).
            let new_range = truncs
                .iter()
                .any(|t| t.epoch <= epoch && !st.known.contains(t));
            match storage::install_needed(&st.seg, epoch) {
                Ok(needed) if needed || new_range => {
                    // Every range up to the epoch joins those installed; none is forgotten.
                    // The volume has at most as many ranges as the list holds
                    // (`FailoverConfig::validate`).
                    for t in truncs.iter().filter(|t| t.epoch <= epoch) {
                        if !st.known.contains(t) {
                            st.known.push(*t);
                        }
                    }
                    st.seg = storage::install_truncation(&st.seg, epoch, &st.known);
                }
                Ok(_) => {}
                Err(reason) => out.send(src, Msg::Refused { epoch, reason }),
            }
        }
        Msg::ReadScl { epoch, ref truncs } => {
            let top = chain_top(&st.seg.recs, truncs.iter());
            out.send(src, Msg::Scl { epoch, top });
        }
        _ => {}
    }
    if st.seg != before {
        out.save(Storage::Segment {
            seg: st.seg,
            known: st.known.clone(),
        });
        report(ids, st, out);
    }
}

/// Handle a firing of `timer`: copy a held record to the peer it names. Only the records
/// matter, so it takes the segment alone.
pub fn on_timeout(ids: Ids, seg: &Seg, timer: &Timer, out: &mut impl Effects<Msg, Storage>) {
    let Timer::Gossip { to, lsn } = *timer else {
        return;
    };
    if valid_lsn(lsn) && seg.rec(lsn) != 0 {
        out.send(
            ids.seg(usize::from(to)),
            Msg::Gossip {
                lsn,
                epoch: seg.rec(lsn),
            },
        );
    }
}

fn valid_lsn(lsn: Lsn) -> bool {
    (1..=crate::quorum::config::MAX_LSN as Lsn).contains(&lsn)
}

/// Tell every database instance where this segment stands.
fn report(ids: Ids, st: &SegNode, out: &mut impl Effects<Msg, Storage>) {
    for i in 0..ids.insts {
        out.send(ids.inst(i), Msg::Report { seg: st.seg });
    }
}
