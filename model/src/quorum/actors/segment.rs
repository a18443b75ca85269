//! The storage segment actor: one copy of the protection group's log.
//!
//! A segment stores the redo records the writer sends and those its peers gossip, each judged
//! by the rules of [`crate::quorum::segment`] (membership and volume epochs, annulled records),
//! and after every change it saves its durable state and tells the writer and the control plane
//! where it stands (an `Ack`: SCL, epochs, the LSNs it holds). It installs a new writer
//! incarnation's truncation ranges when told, answers recovery reads with the top of its chain,
//! learns the membership epoch from the control plane at every start and every bump, and copies
//! records it holds to peers (gossip) on its periodic timers. A spare waits for `Join`; a joiner
//! whose change is reverted erases its copy on `Retire`.

use crate::actor::{Effects, Id};
use crate::quorum::config::QuorumConfig;
use crate::quorum::segment::{self as rules, Epochs};
use crate::quorum::state::{Lsn, SegState, Segment, Truncs};

use super::msg::{Ids, Msg, Storage, Timer};

/// The segment of slot `slot` at birth: a member of its AZ at epochs 1/1, or an unused spare.
pub fn born(cfg: &QuorumConfig, slot: usize) -> SegState {
    let spare = slot >= cfg.members();
    SegState {
        core: Segment {
            up: !spare,
            lost: false,
            spare,
            az: if spare {
                u8::MAX
            } else {
                (slot / usize::from(cfg.segments_per_az)) as u8
            },
            mem_epoch: 1,
            vol_epoch: 1,
            scl: 0,
            recs: Default::default(),
        },
        cpls: 0,
        known: Truncs::default(),
        gossipers: 0,
    }
}

/// What survives a crash: everything but whom it gossips with.
pub fn durable(st: &SegState) -> SegState {
    SegState {
        gossipers: 0,
        ..*st
    }
}

/// The LSNs `st` holds, bit `l-1`.
pub fn held(st: &SegState) -> u8 {
    st.recs
        .iter()
        .enumerate()
        .filter(|(_, e)| **e != 0)
        .fold(0, |a, (k, _)| a | (1 << k))
}

/// The periodic timers: gossip of each LSN to each peer.
pub fn timers(cfg: &QuorumConfig, slot: usize) -> Vec<Timer> {
    let mut out = Vec::new();
    if cfg.gossip {
        for to in (0..cfg.slots()).filter(|&to| to != slot) {
            for lsn in 1..=cfg.lsns {
                out.push(Timer::Gossip { to: to as u8, lsn });
            }
        }
    }
    out
}

/// Start, or restart from `storage`: ask the control plane for the membership epoch, and tell
/// the writer and the control plane what it holds.
pub fn on_start(
    cfg: &QuorumConfig,
    ids: Ids,
    slot: usize,
    storage: Option<&Storage>,
    out: &mut impl Effects<Msg, Storage>,
) -> SegState {
    let st = match storage {
        Some(Storage::Segment(s)) => durable(s),
        None => born(cfg, slot),
    };
    if !st.spare && !st.lost {
        out.send(ids.control(), Msg::Hello);
        report(ids, &st, out);
    }
    st
}

/// Save, then ack to the writer and report to the control plane.
fn changed(ids: Ids, st: &SegState, out: &mut impl Effects<Msg, Storage>) {
    out.save(Storage::Segment(durable(st)));
    report(ids, st, out);
}

fn ack_of(st: &SegState) -> Msg {
    Msg::Ack {
        scl: st.scl,
        mem: st.mem_epoch,
        vol: st.vol_epoch,
        held: held(st),
    }
}

fn report(ids: Ids, st: &SegState, out: &mut impl Effects<Msg, Storage>) {
    let ack = ack_of(st);
    out.send(ids.writer(), ack);
    out.send(ids.control(), ack);
}

/// Keep an accepted record and its CPL flag.
fn keep(st: &mut SegState, seg: Segment, lsn: Lsn, cpl: bool) {
    st.core = seg;
    let bit = 1u16 << (lsn - 1);
    if cpl {
        st.cpls |= bit;
    } else {
        st.cpls &= !bit;
    }
}

/// Handle one message.
pub fn on_msg(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut SegState,
    _src: Id,
    msg: Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    if st.lost {
        return;
    }
    match msg {
        Msg::Join {
            az,
            epoch,
            gossipers,
            vol,
            truncs,
        } if st.spare => {
            st.spare = false;
            st.az = az;
            st.mem_epoch = epoch;
            st.vol_epoch = vol;
            st.known = truncs.up_to(vol);
            // A fresh segment knows the volume's truncation ranges: its chain starts above them.
            st.scl = rules::chain_top(&st.recs, st.known.iter());
            st.gossipers = gossipers;
            changed(ids, st, out);
        }
        _ if st.spare => {}
        Msg::Write { lsn, vol, mem, cpl } if valid_lsn(lsn) && !st.holds(lsn) => {
            let epochs = Epochs { mem, vol };
            if let Ok(acc) = rules::on_write(cfg, &st.core, lsn, epochs, &st.known) {
                keep(st, acc.seg, lsn, cpl);
                changed(ids, st, out);
            }
        }
        Msg::Gossip { lsn, vol, mem, cpl } if valid_lsn(lsn) && !st.holds(lsn) => {
            let epochs = Epochs { mem, vol };
            if let Ok(acc) = rules::on_gossip(cfg, &st.core, lsn, epochs, &st.known) {
                keep(st, acc.seg, lsn, cpl);
                changed(ids, st, out);
            }
        }
        Msg::Install { vol, truncs } if vol > st.vol_epoch => {
            st.core = rules::install_truncation(cfg, &st.core, &truncs, vol);
            st.known = truncs.up_to(vol);
            st.cpls &= u16::from(held(st));
            changed(ids, st, out);
        }
        Msg::Probe => out.send(ids.writer(), ack_of(st)),
        Msg::ReadScl { truncs } => {
            let top = rules::chain_top(&st.recs, truncs.iter());
            let live = (1..=st.recs.len() as Lsn)
                .filter(|&l| st.holds(l) && !truncs.iter().any(|t| t.annuls(l, st.rec(l))))
                .fold(0u16, |a, l| a | (1 << (l - 1)));
            let reply = Msg::SclReply {
                top,
                cpls: st.cpls & live,
            };
            out.send(ids.writer(), reply);
        }
        Msg::Epoch { epoch, gossipers } => {
            if epoch >= st.mem_epoch {
                st.gossipers = gossipers;
            }
            if epoch > st.mem_epoch {
                st.mem_epoch = epoch;
                changed(ids, st, out);
            }
        }
        Msg::Retire => {
            st.lost = true;
            st.recs = Default::default();
            st.scl = 0;
            st.cpls = 0;
            st.gossipers = 0;
            out.save(Storage::Segment(durable(st)));
            out.send(ids.writer(), Msg::Lost);
            out.send(ids.control(), Msg::Lost);
        }
        _ => {}
    }
}

/// Handle a timer: gossip a record it holds to a peer it gossips with.
pub fn on_timeout(
    _cfg: &QuorumConfig,
    me: usize,
    st: &SegState,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) {
    let Timer::Gossip { to, lsn } = *timer else {
        return;
    };
    let both = (1u16 << me) | (1u16 << to);
    if st.spare || st.lost || !valid_lsn(lsn) || !st.holds(lsn) || st.gossipers & both != both {
        return;
    }
    let msg = Msg::Gossip {
        lsn,
        vol: st.rec(lsn),
        mem: st.mem_epoch,
        cpl: st.cpls & (1 << (lsn - 1)) != 0,
    };
    out.send(Id::from(usize::from(to)), msg);
}

/// An LSN the record encoding holds (messages from the wire may carry anything).
fn valid_lsn(lsn: Lsn) -> bool {
    (1..=crate::quorum::config::MAX_LSN as Lsn).contains(&lsn)
}
