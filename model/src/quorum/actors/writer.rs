//! The writer actor: the database instance that allocates LSNs, sends redo records to the
//! segments, proves durability from their acks, acknowledges commits, and recovers the volume
//! after a crash.
//!
//! * **Writing.** On its `NextMtr` timer an open writer allocates the next mini-transaction
//!   (within LAL of VDL) and sends each record to every member it knows. It records the ack of
//!   each member of its configuration; from the acks at its own epochs it proves PGCL, then VCL
//!   and VDL ([`crate::quorum::writer::advance_to`]), and acknowledges every commit VDL newly
//!   covers. It resends a record to a member whose ack shows it lacking (`Resend`), asks the
//!   control plane for the configuration in force (`Refresh`), and follows PGMRPL with the GC
//!   point.
//! * **Recovery.** A new incarnation asks the metadata service for the volume. A fresh volume it
//!   opens at once; otherwise it reads SCLs from every member and acts on the first read
//!   quorum to answer: the recovered VDL is the highest consistency point at or below the
//!   highest chain top, and everything above it is annulled by a truncation range at the next
//!   volume epoch, recorded in the metadata service before the writer installs it on every
//!   member. It opens (`TryOpen`) once it has checked with the control plane that its
//!   configuration is current, a write quorum has installed its range, and every record at or
//!   below the recovered VDL is held by a write quorum of installed segments (repair by gossip).
//!
//! A crash loses everything: the writer keeps no storage of its own.

use crate::actor::{Effects, Id};
use crate::quorum::config::{MAX_SEGMENTS, Mutant, QuorumConfig};
use crate::quorum::state::{
    AckInfo, Cfg, Epoch, Lsn, Pending, Reading, Reads, SegSet, Trunc, Truncs, Writer, WriterMode,
    WriterState, slots_of,
};
use crate::quorum::writer as rules;

use super::msg::{Ids, Msg, Request, Storage, Timer};

/// The writer before its first message: a new incarnation that knows nothing yet.
pub fn unborn() -> WriterState {
    WriterState {
        core: Writer {
            mode: WriterMode::Crashed,
            vol_epoch: 0,
            mem_epoch: 0,
            cfg: Cfg::default(),
            next_lsn: 0,
            pgcl: 0,
            vcl: 0,
            vdl: 0,
        },
        cpls: 0,
        truncs: Truncs::default(),
        acks: [AckInfo::default(); MAX_SEGMENTS],
        reads: Reads::default(),
        pending: Pending::None,
        lost: 0,
    }
}

/// A crashed incarnation as its records still in flight show it: their volume and membership
/// epochs, the members they were sent to, and how far it allocated. Nothing volatile survives.
pub fn crashed(st: &WriterState) -> WriterState {
    let mut out = unborn();
    out.core = Writer {
        mode: WriterMode::Crashed,
        pgcl: 0,
        vcl: 0,
        vdl: 0,
        ..st.core
    };
    out.reads.gc_point = st.reads.gc_point;
    out
}

/// The periodic timers.
pub fn timers(cfg: &QuorumConfig) -> Vec<Timer> {
    let mut out = vec![Timer::NextMtr, Timer::Refresh, Timer::TryOpen];
    for seg in 0..cfg.slots() as u8 {
        out.push(Timer::Install { seg });
        for lsn in 1..=cfg.lsns {
            out.push(Timer::Resend { seg, lsn });
        }
    }
    out
}

/// The volume epoch of the newest truncation range in `truncs` (1 for none).
fn last_epoch(truncs: &Truncs) -> Epoch {
    truncs.last().map_or(1, |t| t.epoch)
}

/// The truncation range a recovery that found `vdl` asks the metadata service to record: the
/// next volume epoch after the ranges it recovered from.
fn asked(cfg: &QuorumConfig, st: &WriterState, vdl: Lsn) -> Trunc {
    rules::truncation_range(cfg, vdl, last_epoch(&st.truncs) + 1)
}

/// Start a new incarnation: ask the metadata service for the volume.
pub fn on_start(ids: Ids, out: &mut impl Effects<Msg, Storage>) -> WriterState {
    let mut st = unborn();
    st.pending = Pending::Volume;
    out.send(ids.control(), Msg::GetVolume);
    st
}

/// Members of `cfg` that count toward a read quorum: all but a joiner that has not hydrated
/// (under Ma11, the literal rule, it counts at once).
fn counted(cfg: &QuorumConfig, c: &Cfg, joiner: Option<(u8, bool)>) -> SegSet {
    match joiner {
        Some((g, false)) if !cfg.has(Mutant::LiteralDualRead) => c.members() & !(1 << g),
        _ => c.members(),
    }
}

/// Learn configuration `c` at membership epoch `epoch`: forget the acks of segments that are
/// not members, and ask every member where it stands.
fn learn(
    ids: Ids,
    st: &mut WriterState,
    epoch: Epoch,
    c: Cfg,
    out: &mut impl Effects<Msg, Storage>,
) {
    st.mem_epoch = epoch;
    st.cfg = c;
    for (i, a) in st.acks.iter_mut().enumerate() {
        if c.members() & (1 << i) == 0 {
            *a = AckInfo::default();
        }
    }
    for i in slots_of(c.members()) {
        out.send(ids.seg(i), Msg::Probe);
    }
}

/// The acks that count now: segments it hears from at its membership and volume epochs,
/// as `(slot, SCL)`.
fn counting(cfg: &QuorumConfig, st: &WriterState) -> impl Iterator<Item = (usize, Lsn)> + Clone {
    let w = st.core;
    st.acks
        .iter()
        .enumerate()
        .filter(move |(_, a)| a.known && rules::counts_ack(cfg, &w, a.mem_epoch, a.vol_epoch))
        .map(|(i, a)| (i, a.scl))
}

/// Fold the acks in: prove PGCL, advance VCL and VDL, acknowledge the commits VDL newly covers,
/// and move the GC point up to PGMRPL.
fn advance(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut WriterState,
    out: &mut impl Effects<Msg, Storage>,
) {
    if st.mode != WriterMode::Open {
        return;
    }
    let top = st.next_lsn.saturating_sub(1);
    let proven = rules::pgcl_from_scls(cfg, counting(cfg, st), top, &st.cfg);
    let old = st.core;
    st.core = rules::advance_to(cfg, old, proven, st.cpls, &st.truncs);
    let newly = rules::newly_acked(old.vdl, st.vdl, st.cpls, &st.truncs);
    for lsn in (1..=16).filter(|l| newly & (1 << (l - 1)) != 0) {
        out.send(ids.client(), Msg::Committed { lsn });
    }
    if newly != 0 || st.pgcl != old.pgcl {
        progress(ids, st, newly, out);
    }
    if cfg.reads {
        let vdl = st.vdl;
        let pgmrpl = st.reads.view.map_or(vdl, |rp| rp.min(vdl));
        let to = if cfg.has(Mutant::GcIgnoresReaders) {
            vdl
        } else {
            pgmrpl
        };
        st.reads.gc_point = st.reads.gc_point.max(to);
    }
}

/// Tell the control plane how far the writer has got (`newly`: the commits just acknowledged).
fn progress(ids: Ids, st: &WriterState, newly: u16, out: &mut impl Effects<Msg, Storage>) {
    let msg = Msg::Progress {
        allocated: st.next_lsn.saturating_sub(1),
        pgcl: st.pgcl,
        acked: (16 - newly.leading_zeros()) as Lsn,
    };
    out.send(ids.control(), msg);
}

/// Whether the recovering writer may open: its range is installed on a write quorum of the
/// segments it hears from, and every live record at or below the recovered VDL is held by a
/// write quorum of them.
fn may_open(cfg: &QuorumConfig, st: &WriterState, vdl: Lsn) -> bool {
    let installed = |a: &AckInfo| a.known && a.vol_epoch == st.vol_epoch;
    let up = st
        .acks
        .iter()
        .enumerate()
        .filter(|(_, a)| installed(a))
        .fold(0, |m, (i, _)| m | (1 << i));
    if !st.cfg.is_write_quorum(up, cfg.write_quorum, SegSet::MAX) {
        return false;
    }
    let in_trunc = |l: Lsn| st.truncs.iter().any(|t| t.lo <= l && l <= t.hi);
    (1..=vdl).filter(|&l| !in_trunc(l)).all(|l| {
        let holders = st
            .acks
            .iter()
            .enumerate()
            .filter(|(_, a)| installed(a) && a.held & (1 << (l - 1)) != 0)
            .fold(0, |m, (i, _)| m | (1 << i));
        st.cfg
            .is_write_quorum(holders, cfg.write_quorum, SegSet::MAX)
    })
}

/// Handle one message.
pub fn on_msg(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut WriterState,
    src: Id,
    msg: Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    let slot = ids.slot_of(src);
    match msg {
        Msg::Volume {
            truncs,
            fresh,
            epoch,
            cfg: c,
            joiner,
            lost,
        } => match st.pending {
            Pending::Volume if fresh => {
                st.pending = Pending::None;
                st.lost = lost;
                st.truncs = truncs;
                st.mode = WriterMode::Open;
                st.vol_epoch = 1;
                st.next_lsn = 1;
                learn(ids, st, epoch, c, out);
            }
            Pending::Volume => {
                st.lost = lost;
                st.truncs = truncs;
                st.mem_epoch = epoch;
                st.cfg = c;
                st.pending = Pending::Read(Reading {
                    counted: counted(cfg, &c, joiner),
                    ..Reading::default()
                });
                for i in slots_of(c.members()) {
                    out.send(ids.seg(i), Msg::ReadScl { truncs });
                }
            }
            // Another incarnation's range took the epoch it asked for: recover again from the
            // volume as it now is.
            Pending::Trunc(vdl)
                if truncs.last() != Some(&asked(cfg, st, vdl))
                    && last_epoch(&truncs) >= asked(cfg, st, vdl).epoch =>
            {
                st.pending = Pending::Volume;
                out.send(ids.control(), Msg::GetVolume);
            }
            // Only the answer that shows the range it asked to record completes the recovery:
            // an earlier answer (a request the network repeated, delivered late) holds the
            // ranges it recovered from, and installing those would bring the annulled
            // records back to life. Such an answer falls through and is ignored.
            Pending::Trunc(vdl) if truncs.last() == Some(&asked(cfg, st, vdl)) => {
                st.pending = Pending::None;
                st.truncs = truncs;
                st.mode = WriterMode::Recovering { vdl };
                st.vol_epoch = truncs.last().map_or(1, |t| t.epoch);
                st.mem_epoch = epoch;
                st.cfg = c;
                for i in slots_of(c.members()) {
                    out.send(
                        ids.seg(i),
                        Msg::Install {
                            vol: st.vol_epoch,
                            truncs,
                        },
                    );
                }
            }
            _ => {}
        },
        Msg::SclReply { top, cpls } => {
            let (Pending::Read(mut r), Some(i)) = (st.pending, slot) else {
                return;
            };
            if st.cfg.members() & (1 << i) == 0 || r.got & (1 << i) != 0 {
                return;
            }
            r.got |= 1 << i;
            r.top = r.top.max(top);
            r.cpls |= cpls;
            if !st.cfg.is_read_quorum(r.got, cfg.read_quorum, r.counted) {
                st.pending = Pending::Read(r);
                return;
            }
            let vdl = rules::recovered_vdl_from(std::iter::once(r.top), r.cpls, &st.truncs);
            // Above VDL everything is annulled: keep only what the recovered volume keeps.
            st.cpls = r.cpls & ((1u32 << vdl) - 1) as u16;
            st.pending = Pending::Trunc(vdl);
            let trunc = asked(cfg, st, vdl);
            out.send(ids.control(), Msg::AddTrunc { trunc });
        }
        Msg::Ack {
            scl,
            mem,
            vol,
            held,
        } => {
            let Some(i) = slot else { return };
            let lost = st.lost & (1 << i) != 0;
            if st.mode == WriterMode::Crashed || st.cfg.members() & (1 << i) == 0 || lost {
                return;
            }
            let ack = AckInfo {
                known: true,
                scl,
                mem_epoch: mem,
                vol_epoch: vol,
                held,
            };
            // An ack that repeats what the writer knows, or that a newer one overtook, changes
            // nothing.
            let old = st.acks[i];
            if !old.known || ack.age() > old.age() {
                st.acks[i] = ack;
                advance(cfg, ids, st, out);
            }
        }
        Msg::Disconnected | Msg::Lost => {
            let Some(i) = slot else { return };
            if msg == Msg::Lost {
                st.lost |= 1 << i;
            }
            if st.acks[i] != AckInfo::default() {
                st.acks[i] = AckInfo::default();
                advance(cfg, ids, st, out);
            }
        }
        Msg::Config {
            epoch,
            cfg: c,
            joiner: _,
        } => {
            let pending = st.pending;
            if !matches!(pending, Pending::Refresh | Pending::Open) {
                return;
            }
            st.pending = Pending::None;
            if epoch > st.mem_epoch {
                // Stale: learn the configuration on a refresh; never open on a stale one.
                if pending == Pending::Refresh {
                    learn(ids, st, epoch, c, out);
                }
            } else if let (Pending::Open, WriterMode::Recovering { vdl }) = (pending, st.mode)
                && may_open(cfg, st, vdl)
            {
                // Above every range, not only the newest (see `writer::truncated_top`).
                let hi = rules::truncated_top(&st.truncs);
                st.mode = WriterMode::Open;
                st.pgcl = vdl;
                st.vcl = vdl;
                st.vdl = vdl;
                st.next_lsn = st.next_lsn.max(hi.saturating_add(1));
            }
            advance(cfg, ids, st, out);
        }
        Msg::Request(Request::OpenView)
            if st.reads.view.is_none() && st.mode == WriterMode::Open =>
        {
            let rp = st.vdl;
            st.reads.view = Some(rp);
            out.send(ids.client(), Msg::ViewOpened { rp });
            advance(cfg, ids, st, out);
        }
        Msg::Request(Request::CloseView) if st.reads.view.is_some() => {
            st.reads.view = None;
            advance(cfg, ids, st, out);
        }
        _ => {}
    }
}

/// Handle a timer.
pub fn on_timeout(
    cfg: &QuorumConfig,
    ids: Ids,
    st: &mut WriterState,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) {
    if st.mode == WriterMode::Crashed || st.pending != Pending::None {
        return;
    }
    match *timer {
        Timer::NextMtr => {
            let Some((first, last)) = rules::next_mtr(cfg, &st.core) else {
                return;
            };
            st.cpls |= 1 << (last - 1);
            for lsn in first..=last {
                let msg = Msg::Write {
                    lsn,
                    vol: st.vol_epoch,
                    mem: st.mem_epoch,
                    cpl: lsn == last,
                };
                for i in slots_of(st.cfg.members()) {
                    out.send(ids.seg(i), msg);
                }
            }
            st.next_lsn = last + 1;
            progress(ids, st, 0, out);
        }
        Timer::Resend { seg, lsn } => {
            let i = usize::from(seg);
            if i < MAX_SEGMENTS && may_resend(cfg, st, i, lsn) {
                let msg = Msg::Write {
                    lsn,
                    vol: st.vol_epoch,
                    mem: st.mem_epoch,
                    cpl: st.cpls & (1 << (lsn - 1)) != 0,
                };
                out.send(ids.seg(i), msg);
            }
        }
        Timer::Refresh => {
            st.pending = Pending::Refresh;
            out.send(ids.control(), Msg::GetConfig);
        }
        Timer::TryOpen => {
            if matches!(st.mode, WriterMode::Recovering { .. }) {
                st.pending = Pending::Open;
                out.send(ids.control(), Msg::GetConfig);
            }
        }
        Timer::Install { seg } => {
            let i = usize::from(seg);
            let installs = i < MAX_SEGMENTS && {
                let a = st.acks[i];
                a.known && a.vol_epoch < st.vol_epoch
            };
            if installs {
                let msg = Msg::Install {
                    vol: st.vol_epoch,
                    truncs: st.truncs,
                };
                out.send(ids.seg(i), msg);
            }
        }
        _ => {}
    }
}

/// Whether the writer sends its record `lsn` again to segment `i`: it is open, the record is
/// its own (allocated by this incarnation, above every truncation range), `i` is a member it
/// hears from at its own epochs, and `i`'s ack shows it lacking the record.
pub fn may_resend(cfg: &QuorumConfig, st: &WriterState, i: usize, lsn: Lsn) -> bool {
    let a = st.acks[i];
    let in_trunc = st.truncs.iter().any(|t| t.lo <= lsn && lsn <= t.hi);
    st.mode == WriterMode::Open
        && (1..st.next_lsn).contains(&lsn)
        && !in_trunc
        && lsn > rules::truncated_top(&st.truncs)
        && st.cfg.members() & (1 << i) != 0
        && a.known
        && a.held & (1 << (lsn - 1)) == 0
        && rules::counts_ack(cfg, &st.core, a.mem_epoch, a.vol_epoch)
}
