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
//! * `wq_reached`: the LSNs a write quorum of the configuration in force has held at some
//!   point (checked whenever a segment's records or the configuration change).
//! * flags: A4 (a consistency point of the writer moved backwards within one handler), A5 (a
//!   segment stored a record sent at a membership epoch other than its own), a recovery that
//!   reopened the volume, a change finalized or reverted.

use crate::actor::Id;
use crate::quorum::config::QuorumConfig;
use crate::quorum::state::{
    ControlState, F_A4_BROKEN, F_A5_BROKEN, F_ACKED_AZ_DOWN, F_FINALIZED, F_RECOVERED, F_REVERTED,
    Ghost, QuorumState, SegSet, SegState, WriterMode, WriterState,
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

/// The handling actor's state before the input.
#[derive(Clone, Copy, Debug)]
pub enum Before<'a> {
    /// Segment slot `.0`.
    Segment(usize, &'a SegState),
    /// The writer.
    Writer(&'a WriterState),
    /// The control plane.
    Control(&'a ControlState),
    /// The client (no state).
    Client,
}

/// Record what one handled input means for the history. `sys` is the whole system after the
/// input (its own `ghost` is not read: `ghost` is the one being written).
pub fn observe<'m>(
    cfg: &QuorumConfig,
    ghost: &mut Ghost,
    before: Before<'_>,
    input: Input<'_>,
    sent: impl IntoIterator<Item = &'m Msg>,
    sys: &QuorumState,
) {
    match before {
        Before::Segment(i, b) => {
            let a = &sys.segs[i];
            if a.recs != b.recs {
                if let Input::Msg {
                    msg: Msg::Write { mem, .. } | Msg::Gossip { mem, .. },
                    ..
                } = input
                    && *mem != b.mem_epoch
                {
                    ghost.flags |= F_A5_BROKEN;
                }
                write_quorums(cfg, ghost, sys);
            }
        }
        Before::Writer(b) => {
            let a = &sys.writer;
            if a.pgcl < b.pgcl || a.vcl < b.vcl || a.vdl < b.vdl {
                ghost.flags |= F_A4_BROKEN;
            }
            if matches!(b.mode, WriterMode::Recovering { .. }) && a.mode == WriterMode::Open {
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
        Before::Control(b) => {
            let a = &sys.control;
            if b.mem.change.is_some() && a.mem.change.is_none() {
                match input {
                    Input::Timer(Timer::Finalize) => ghost.flags |= F_FINALIZED,
                    Input::Timer(Timer::Revert) => ghost.flags |= F_REVERTED,
                    _ => {}
                }
            }
            if a.mem.cfg != b.mem.cfg || a.truncs != b.truncs {
                write_quorums(cfg, ghost, sys);
            }
        }
        Before::Client => {}
    }
}

/// Record every allocated LSN that a write quorum of the configuration in force now holds.
pub fn write_quorums(cfg: &QuorumConfig, ghost: &mut Ghost, sys: &QuorumState) {
    for l in 1..=ghost.allocated {
        if ghost.wq_reached & (1 << (l - 1)) == 0
            && sys
                .mem()
                .cfg
                .is_write_quorum(sys.holders(l), cfg.write_quorum, SegSet::MAX)
        {
            ghost.wq_reached |= 1 << (l - 1);
        }
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
