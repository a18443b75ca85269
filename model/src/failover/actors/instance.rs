//! The database instance actor, as far as it is one: the redo stream from the writer to its
//! replicas, and a replica applying it.
//!
//! The writer streams its VDL and epoch to every replica (Aurora's VDL control records). A
//! replica follows the newest writer whose VDL it received, and applies whole
//! mini-transactions up to that VDL and no further
//! ([`crate::failover::instance::next_apply`]): it never shows half a mini-transaction, nor a
//! change that is not yet durable [V17 §4.2.4]. Each record it applies is the copy the
//! followed writer's history makes current: the newest epoch up to the one it follows whose
//! copy no range annuls (`specs/failover.md`, MC14).
//!
//! The rest of an instance's life (writing, acknowledging, heartbeats, recovering after a
//! promotion, undo) is still decided by the model's `step`.

use crate::actor::{Effects, Id};
use crate::failover::config::FailoverConfig;
use crate::failover::instance;
use crate::failover::state::{EpochSet, Inst, Ranges, Role};
use crate::quorum::config::MAX_LSN;

use super::msg::{Ids, Msg, Storage, Timer};

/// What a replica knows of the redo stream: the records each epoch's writer sent, the
/// consistency points, and the truncation ranges that annul parts of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stream {
    /// `sent[l-1]`: the epochs whose writer sent a record for LSN `l`.
    pub sent: [EpochSet; MAX_LSN],
    /// Bit `l-1`: LSN `l` ends a mini-transaction.
    pub cpls: u16,
    /// The volume's ranges.
    pub truncs: Ranges,
}

/// An instance's state: what it is doing, and the stream as it knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstNode {
    /// The instance.
    pub inst: Inst,
    /// The redo stream.
    pub stream: Stream,
}

/// Handle `msg` from `src`: a replica takes the VDL of the stream it receives
/// ([`instance::take_vdl`]). A promotion is still handled by the model's `step`.
pub fn on_msg(st: &mut InstNode, _src: Id, msg: &Msg) {
    if let Msg::Vdl { vdl, epoch } = *msg
        && st.inst.role == Role::Replica
    {
        (st.inst.follows, st.inst.known_vdl) = instance::take_vdl(&st.inst, vdl, epoch);
    }
}

/// Handle a firing of `timer`: the writer streams its VDL to a replica; a replica applies its
/// next whole mini-transaction.
pub fn on_timeout(
    cfg: &FailoverConfig,
    ids: Ids,
    st: &mut InstNode,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) {
    let x = st.inst;
    match *timer {
        Timer::Stream { to } if x.role == Role::Writer => out.send(
            ids.inst(usize::from(to)),
            Msg::Vdl {
                vdl: x.vdl,
                epoch: x.epoch,
            },
        ),
        Timer::Apply => {
            let s = &st.stream;
            if let Some(applied) = instance::next_apply(cfg, &x, &s.sent, s.cpls, &s.truncs) {
                st.inst.applied = applied;
            }
        }
        _ => {}
    }
}
