//! The history (ghost) variables the properties read, recorded from what the actors do.
//!
//! Every composition (the fast one, the actor model, and the trace validator that replays a
//! runtime's log) calls [`observe`] once per input an actor handled, with the actor's state
//! before, the input, what it sent, and the whole system after. No handler and no runtime
//! writes a ghost variable; protocol code never reads one.
//!
//! * `acked`: the commits the writer acknowledged to the client (its `Committed` messages),
//!   and whether one was acknowledged while a whole AZ was down.
//! * `cpls` and `allocated`: the consistency points and the highest LSN any incarnation
//!   allocated (from the records it sent).
//! * `wq_reached`: the LSNs whose holders, each at its own moment, formed a write quorum of
//!   the configuration in force (checked whenever a segment's records or the configuration
//!   change). A segment acknowledges what it holds; if its disk is lost afterwards, what it
//!   held is kept in `lost_held` and still counts. Two runs that differ only in whether a
//!   disk was lost just before or just after another segment stored the same record leave
//!   the same segments holding it and the writer with the same acks, so they get the same
//!   verdict; a writer that counts an ack no segment could truthfully have sent still fails.
//! * flags: A4 (a consistency point of the writer moved backwards within one handler), A5 (a
//!   segment stored a record sent at a membership epoch other than its own), a recovery that
//!   reopened the volume, a change finalized or reverted.

use crate::actor::Id;
use crate::quorum::config::{MAX_LSN, MAX_SEGMENTS, QuorumConfig};
use crate::quorum::state::{
    ControlState, Epoch, F_A4_BROKEN, F_A5_BROKEN, F_ACKED_AZ_DOWN, F_FINALIZED, F_RECOVERED,
    F_REVERTED, Ghost, Lsn, Membership, QuorumState, SegSet, SegState, WriterMode, WriterState,
};

use super::msg::{Msg, Timer};

/// What an actor handled.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// It started (or restarted).
    Start,
    /// A message from `src`.
    Msg {
        /// Sender.
        src: Id,
        /// The message.
        msg: &'a Msg,
    },
    /// A timer fired.
    Timer(&'a Timer),
}

/// What the observer needs of the handling actor's state before the input.
#[derive(Clone, Copy, Debug)]
pub enum Before {
    /// Segment slot `slot`: its records and membership epoch.
    Segment {
        /// The slot.
        slot: usize,
        /// Its records.
        recs: [Epoch; MAX_LSN],
        /// Its membership epoch.
        mem_epoch: Epoch,
    },
    /// The writer: its mode and consistency points.
    Writer {
        /// Mode.
        mode: WriterMode,
        /// PGCL, VCL and VDL.
        points: (Lsn, Lsn, Lsn),
    },
    /// The control plane: its membership and how many truncation ranges it holds.
    Control {
        /// The membership.
        mem: Membership,
        /// The number of ranges.
        truncs: usize,
    },
    /// The client (no state).
    Client,
}

impl Before {
    /// Whether the actor's state still shows what this snapshot holds (then, with nothing
    /// sent, the input left nothing to record).
    pub fn unchanged(&self, sys: &QuorumState) -> bool {
        match *self {
            Before::Segment {
                slot,
                recs,
                mem_epoch,
            } => sys.segs[slot].recs == recs && sys.segs[slot].mem_epoch == mem_epoch,
            Before::Writer { mode, points } => {
                let w = &sys.writer;
                w.mode == mode && (w.pgcl, w.vcl, w.vdl) == points
            }
            Before::Control { mem, truncs } => {
                sys.control.mem == mem && sys.control.truncs.len() == truncs
            }
            Before::Client => true,
        }
    }

    /// Segment slot `slot` before the input.
    pub fn segment(slot: usize, s: &SegState) -> Self {
        Before::Segment {
            slot,
            recs: s.recs,
            mem_epoch: s.mem_epoch,
        }
    }
    /// The writer before the input.
    pub fn writer(w: &WriterState) -> Self {
        Before::Writer {
            mode: w.mode,
            points: (w.pgcl, w.vcl, w.vdl),
        }
    }
    /// The control plane before the input.
    pub fn control(c: &ControlState) -> Self {
        Before::Control {
            mem: c.mem,
            truncs: c.truncs.len(),
        }
    }
}

/// Record what one handled input means for the history. `sys` is the whole system after the
/// input (its own `ghost` is not read: `ghost` is the one being written).
pub fn observe<'m>(
    cfg: &QuorumConfig,
    ghost: &mut Ghost,
    before: Before,
    input: Input<'_>,
    sent: impl IntoIterator<Item = &'m Msg>,
    sys: &QuorumState,
) {
    match before {
        Before::Segment {
            slot,
            recs,
            mem_epoch,
        } => {
            let a = &sys.segs[slot];
            if a.recs != recs {
                if let Input::Msg {
                    msg: Msg::Write { mem, .. } | Msg::Gossip { mem, .. },
                    ..
                } = input
                    && *mem != mem_epoch
                {
                    ghost.flags |= F_A5_BROKEN;
                }
                write_quorums(cfg, ghost, sys);
            }
        }
        Before::Writer {
            mode,
            points: (pgcl, vcl, vdl),
        } => {
            let a = &sys.writer;
            if a.pgcl < pgcl || a.vcl < vcl || a.vdl < vdl {
                ghost.flags |= F_A4_BROKEN;
            }
            if matches!(mode, WriterMode::Recovering { .. }) && a.mode == WriterMode::Open {
                ghost.flags |= F_RECOVERED;
            }
            ghost.allocated = ghost.allocated.max(a.next_lsn.saturating_sub(1));
            for m in sent {
                match *m {
                    Msg::Write { lsn, cpl: true, .. } => ghost.cpls |= 1 << (lsn - 1),
                    Msg::Committed { lsn } => {
                        let bit = 1u16 << (lsn - 1);
                        if ghost.acked & bit == 0 {
                            ghost.acked |= bit;
                            if some_az_down(cfg, sys) {
                                ghost.flags |= F_ACKED_AZ_DOWN;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Before::Control { mem, truncs } => {
            let a = &sys.control;
            if mem.change.is_some() && a.mem.change.is_none() {
                match input {
                    Input::Timer(Timer::Finalize) => ghost.flags |= F_FINALIZED,
                    Input::Timer(Timer::Revert) => ghost.flags |= F_REVERTED,
                    _ => {}
                }
            }
            if a.mem.cfg != mem.cfg || a.truncs.len() != truncs {
                write_quorums(cfg, ghost, sys);
            }
        }
        Before::Client => {}
    }
}

/// Record that segment `slot` of `sys` loses its disk now, with the records it holds (call
/// before they are erased). A disk loss is a fault, not an input a handler sees, so each
/// composition calls this where it applies one. A joiner the control plane retires (`Retire`)
/// needs no record: it is out of the configuration before it is told, so nothing it held can
/// count again.
pub fn disk_lost(ghost: &mut Ghost, slot: usize, sys: &QuorumState) {
    lost(ghost, slot, live_held(sys, &sys.segs[slot].recs), sys);
}

/// Keep `held` for a segment whose disk is gone. Only LSNs that have not yet reached a write
/// quorum are kept: for the others the history already says all A2 asks, and keeping them
/// would tell states apart that no property can.
fn lost(ghost: &mut Ghost, slot: usize, held: u8, sys: &QuorumState) {
    ghost.lost_held[slot] |= held & !(ghost.wq_reached as u8);
    forget(ghost, sys);
}

/// What a lost disk held can count again only while its segment is a member (it never
/// rejoins), and only for LSNs outside every truncation range (A2 skips those): forget the
/// rest, so that states no property tells apart stay one.
fn forget(ghost: &mut Ghost, sys: &QuorumState) {
    let members = sys.mem().cfg.members();
    let dead = (1..=MAX_LSN as Lsn)
        .filter(|&l| sys.in_trunc(l))
        .fold(0u8, |a, l| a | (1 << (l - 1)));
    for (i, h) in ghost.lost_held.iter_mut().enumerate() {
        if members & (1 << i) == 0 {
            *h = 0;
        }
        *h &= !dead;
    }
}

/// The LSNs `recs` holds that no truncation range of `sys` annuls, bit `l-1`.
fn live_held(sys: &QuorumState, recs: &[Epoch; MAX_LSN]) -> u8 {
    (1..=MAX_LSN as Lsn)
        .filter(|&l| {
            let e = recs[usize::from(l) - 1];
            e != 0 && !sys.annulled(l, e)
        })
        .fold(0, |a, l| a | (1 << (l - 1)))
}

/// Record every allocated LSN whose holders, now or when their disk was lost, form a write
/// quorum of the configuration in force.
pub fn write_quorums(cfg: &QuorumConfig, ghost: &mut Ghost, sys: &QuorumState) {
    let any_lost = ghost.lost_held != [0; MAX_SEGMENTS];
    for l in 1..=ghost.allocated {
        let bit = 1u8 << (l - 1);
        let lost = if any_lost {
            (0..sys.segs.len())
                .filter(|&i| ghost.lost_held[i] & bit != 0)
                .fold(0, |a: SegSet, i| a | (1 << i))
        } else {
            0
        };
        if ghost.wq_reached & (1 << (l - 1)) == 0
            && sys
                .mem()
                .cfg
                .is_write_quorum(sys.holders(l) | lost, cfg.write_quorum, SegSet::MAX)
        {
            ghost.wq_reached |= 1 << (l - 1);
            if any_lost {
                for h in &mut ghost.lost_held {
                    *h &= !bit;
                }
            }
        }
    }
    if any_lost {
        forget(ghost, sys);
    }
}

/// Whether every member of some AZ is down.
fn some_az_down(cfg: &QuorumConfig, s: &QuorumState) -> bool {
    (0..cfg.azs).any(|az| {
        s.segs
            .iter()
            .filter(|x| !x.spare && x.az == az)
            .all(|x| !x.up)
    })
}
