//! A read replica: it follows the redo stream of the newest writer it hears from, and applies
//! whole mini-transactions up to the VDL it received
//! ([`crate::failover::instance::next_apply`]): it never shows half a mini-transaction, nor a
//! change that is not yet durable [V17 §4.2.4]. Each record it applies is the copy the followed
//! writer's history makes current: the newest epoch up to the one it follows whose copy no range
//! annuls (`specs/failover.md`, MC14). The writer's side of the stream is here too: it sends
//! its VDL and epoch to each replica (Aurora's VDL control records).

use crate::actor::Effects;
use crate::failover::config::FailoverConfig;
use crate::failover::instance as rules;
use crate::failover::state::{Epoch, Inst, Lsn, Role};

use super::super::msg::{Ids, Msg, Storage};
use super::InstNode;

/// A replica takes the VDL record `vdl` of the writer at `epoch` ([`rules::take_vdl`]).
pub fn on_vdl(st: &mut InstNode, vdl: Lsn, epoch: Epoch) {
    if st.inst.role == Role::Replica {
        (st.inst.follows, st.inst.known_vdl) = rules::take_vdl(&st.inst, vdl, epoch);
    }
}

/// The writer `x` sends its VDL and epoch to instance `to`.
pub fn stream(ids: Ids, x: &Inst, to: u8, out: &mut impl Effects<Msg, Storage>) {
    if x.role == Role::Writer && usize::from(to) < ids.insts {
        out.send(
            ids.inst(usize::from(to)),
            Msg::Vdl {
                vdl: x.vdl,
                epoch: x.epoch,
            },
        );
    }
}

/// A replica applies its next whole mini-transaction, if it may.
pub fn apply(cfg: &FailoverConfig, st: &mut InstNode) {
    let s = &st.stream;
    if let Some(applied) = rules::next_apply(cfg, &st.inst, &s.sent, s.cpls, &s.truncs) {
        st.inst.applied = applied;
    }
}
