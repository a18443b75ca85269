//! The control plane actor, with the metadata service: it decides the protection group's
//! membership and keeps the volume's truncation ranges.
//!
//! * **Membership** [V18 §4]. When told to replace member F (a failed disk, or heat
//!   management: the `Begin` input), it takes a spare G into F's AZ, empty, at the current
//!   epochs, and installs the dual configuration (the old quorum set and the new one) at the
//!   next membership epoch. G hydrates by gossip up to the highest SCL that the members of
//!   the old configuration report at the dual epoch (and at least the PGCL it knew when the
//!   change began), judged when it considers finalizing, once a read quorum of them has
//!   reported: a commit acknowledged before the change is held by a write quorum of the
//!   old configuration, which meets that read quorum, so its report covers the commit however
//!   late the writer's own news arrives. Once G's reports reach that target,
//!   `Finalize` installs the new set alone; if F is back
//!   first, `Revert` installs the old set alone and G discards its copy. Each bump goes to every
//!   segment it hears from (MC3), and a segment that starts learns the epoch in force (MC4).
//!   A bump goes ahead only when a write quorum of the sets it installs is up.
//! * **Metadata service.** It hands a new writer incarnation the volume (its truncation
//!   ranges, and whether it is new) and records each recovery's range before the writer
//!   installs it anywhere.
//!
//! It learns everything from messages: segments report their SCL after every change, and the
//! transport tells it when one crashes or loses its disk.

use crate::actor::{Effects, Id};
use crate::quorum::config::{MAX_SEGMENTS, Mutant, QuorumConfig};
use crate::quorum::state::{
    Cfg, Change, ControlState, Lsn, Membership, SegSet, Truncs, count, slots_of,
};
use crate::quorum::writer as rules;

use super::msg::{Ids, Msg, Storage, Timer};

/// The control plane of a new volume: every member in one quorum set at epoch 1, no ranges.
pub fn born(cfg: &QuorumConfig) -> ControlState {
    let members: SegSet = (0..cfg.members()).fold(0, |a, i| a | (1 << i));
    let spares: SegSet = (cfg.members()..cfg.slots()).fold(0, |a, i| a | (1 << i));
    let c = Cfg::single(members);
    let mut azs = [u8::MAX; MAX_SEGMENTS];
    for (i, az) in azs.iter_mut().enumerate().take(cfg.members()) {
        *az = (i / usize::from(cfg.segments_per_az)) as u8;
    }
    ControlState {
        mem: Membership {
            cfg: c,
            epoch: 1,
            prev: c,
            change: None,
        },
        truncs: Truncs::default(),
        reports: [0; MAX_SEGMENTS],
        azs,
        up: 0,
        lost: 0,
        spares,
        allocated: 0,
        writer_pgcl: 0,
        acked: 0,
        fresh: true,
    }
}

/// The periodic timers.
pub fn timers() -> Vec<Timer> {
    vec![Timer::Finalize, Timer::Revert]
}

/// The members of the configuration in force and a joining segment: whom segments gossip with.
pub fn gossipers(mem: &Membership) -> SegSet {
    mem.cfg.members() | mem.change.map_or(0, |c| 1 << c.g)
}

/// The PGCL the segments' reports show: the highest allocated LSN whose SCL a write quorum of
/// the configuration in force reported (above the log's end a chain only crosses annulled
/// ranges).
pub fn reported_pgcl(cfg: &QuorumConfig, st: &ControlState) -> Lsn {
    let placed = !st.spares & ((1u32 << MAX_SEGMENTS) - 1) as SegSet;
    let scls = slots_of(placed).map(|i| (i, st.reports[i]));
    rules::pgcl_from_scls(cfg, scls, st.allocated, &st.mem.cfg)
}

/// Install `cfg_new` at the next epoch and tell every segment it hears from.
fn bump(ids: Ids, st: &mut ControlState, cfg_new: Cfg, out: &mut impl Effects<Msg, Storage>) {
    st.mem.bump(cfg_new);
    announce(ids, st, out);
}

/// Tell every segment it hears from the epoch in force and whom to gossip with.
fn announce(ids: Ids, st: &ControlState, out: &mut impl Effects<Msg, Storage>) {
    let msg = Msg::Epoch {
        epoch: st.mem.epoch,
        gossipers: gossipers(&st.mem),
    };
    for i in slots_of(st.up) {
        out.send(ids.seg(i), msg);
    }
}

fn config(st: &ControlState) -> Msg {
    Msg::Config {
        epoch: st.mem.epoch,
        cfg: st.mem.cfg,
        joiner: st.mem.change.map(|c| (c.g, c.hydrated)),
    }
}

fn volume(st: &ControlState) -> Msg {
    Msg::Volume {
        truncs: st.truncs,
        fresh: st.fresh,
        epoch: st.mem.epoch,
        cfg: st.mem.cfg,
        joiner: st.mem.change.map(|c| (c.g, c.hydrated)),
        lost: st.lost,
    }
}

/// Begin replacing member `f` by the lowest spare, if a change may begin and the dual
/// configuration's bump would reach a write quorum.
fn begin(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut ControlState,
    f: u8,
    out: &mut impl Effects<Msg, Storage>,
) {
    if usize::from(f) >= MAX_SEGMENTS || st.spares == 0 || !st.mem.may_begin(f) {
        return;
    }
    let g = st.spares.trailing_zeros() as u8;
    // G must hydrate to everything the group made durable: what the segments' reports show
    // now, the PGCL the writer proved, and every commit acknowledged (a lost disk can lower the
    // first below the others).
    let target = reported_pgcl(cfg, st).max(st.writer_pgcl).max(st.acked);
    let dual = st.mem.dual_for(f, g);
    if !dual.is_write_quorum(st.up | (1 << g), cfg.write_quorum, SegSet::MAX) {
        return;
    }
    let (fi, gi) = (usize::from(f), usize::from(g));
    st.spares &= !(1 << g);
    st.azs[gi] = st.azs[fi];
    st.up |= 1 << g;
    st.mem.change = Some(Change {
        f,
        g,
        target,
        heard: 0,
        hydrated: false,
    });
    let join = Msg::Join {
        az: st.azs[gi],
        epoch: st.mem.epoch,
        gossipers: gossipers(&st.mem),
        vol: st.truncs.last().map_or(1, |t| t.epoch),
        truncs: st.truncs,
    };
    out.send(ids.seg(gi), join);
    if cfg.has(Mutant::NoDualQuorum) {
        // Ma3: no dual configuration; G only joins the gossip.
        announce(ids, st, out);
    } else {
        bump(ids, st, dual, out);
    }
}

/// Handle one message.
pub fn on_msg(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut ControlState,
    src: Id,
    msg: Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    let slot = ids.slot_of(src);
    match (msg, slot) {
        (Msg::Hello, Some(i)) if st.lost & (1 << i) == 0 => {
            st.up |= 1 << i;
            let reply = Msg::Epoch {
                epoch: st.mem.epoch,
                gossipers: gossipers(&st.mem),
            };
            out.send(src, reply);
        }
        // A report counts from a segment it hears from (not one it retired).
        (Msg::Ack { scl, mem, .. }, Some(i)) if st.up & (1 << i) != 0 => {
            // A segment's SCL only grows: a report overtaken by a newer one changes nothing.
            st.reports[i] = st.reports[i].max(scl);
            st.mem.hear(i, scl, mem);
        }
        (Msg::Disconnected, Some(i)) => st.up &= !(1 << i),
        // The disk is gone, and what it held with it.
        (Msg::Lost, Some(i)) => {
            st.up &= !(1 << i);
            st.lost |= 1 << i;
            st.reports[i] = 0;
        }
        (Msg::Begin { f }, _) => begin(cfg, ids, st, f, out),
        (
            Msg::Progress {
                allocated,
                pgcl,
                acked,
            },
            _,
        ) => {
            st.allocated = st.allocated.max(allocated);
            st.writer_pgcl = pgcl;
            st.acked = st.acked.max(acked);
        }
        // The writer crashed: the PGCL it proved is gone with it (its acknowledged commits are
        // not).
        (Msg::Disconnected, None) if src == ids.writer() => st.writer_pgcl = 0,
        (Msg::GetConfig, _) => out.send(src, config(st)),
        (Msg::GetVolume, _) => {
            out.send(src, volume(st));
            st.fresh = false;
        }
        (Msg::AddTrunc { trunc }, _) => {
            // Volume epochs only grow: a range at an epoch already used (a request the
            // network repeated, or one from an incarnation that has since died) is not
            // recorded; the answer shows the writer what is.
            if trunc.epoch > st.truncs.last().map_or(1, |t| t.epoch) {
                st.truncs.push(trunc);
            }
            out.send(src, volume(st));
        }
        _ => {}
    }
}

/// Handle a timer: finalize or revert a change in progress.
pub fn on_timeout(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut ControlState,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) {
    let Some(mut c) = st.mem.change else { return };
    let w = usize::from(cfg.write_quorum);
    match timer {
        Timer::Finalize => {
            // Hydration is judged here, on every report received so far, and not as each
            // arrives: whether G has hydrated must not depend on the order reports came in.
            // A G it knows is gone (its connection broke, or its disk was lost) has not
            // hydrated.
            let g = usize::from(c.g);
            if c.hydrates(cfg.read_quorum, st.up & (1 << g) != 0, st.reports[g]) {
                c.hydrated = true;
                st.mem.change = Some(c);
            }
            let new = st.mem.replacing(c.f, c.g);
            let ready = c.hydrated || cfg.has(Mutant::FinalizeBeforeHydration);
            if ready && count(st.up & new) >= w {
                st.mem.change = None;
                bump(ids, st, Cfg::single(new), out);
            }
        }
        Timer::Revert => {
            let old = st.mem.cfg.sets[0];
            if st.up & (1 << c.f) != 0 && count(st.up & old) >= w {
                st.mem.change = None;
                if st.mem.cfg.dual {
                    bump(ids, st, Cfg::single(old), out);
                } else {
                    announce(ids, st, out);
                }
                // G is discarded: its copy never counts again.
                st.up &= !(1 << c.g);
                st.reports[usize::from(c.g)] = 0;
                out.send(ids.seg(usize::from(c.g)), Msg::Retire);
            }
        }
        _ => {}
    }
}
