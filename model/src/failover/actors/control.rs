//! The control plane actor: it watches the database instances and moves the cluster endpoint.
//!
//! It learns of each instance from heartbeats (`Status`: its role, promotion tier and the VDL
//! it knows) and from the transport: the instance's process is gone (`Crashed`), or its
//! heartbeats stopped arriving (`Silent`: a partition; the instance may still be running and
//! writing). The instances do not send heartbeats yet: in the fast composition the control
//! plane sees each instance as the state has it. When the instance the endpoint routes to no
//! longer serves (crashed, silent, or back as a replica), and no promoted instance is still
//! recovering, it promotes the best replica it hears from: lowest tier, then the highest VDL it
//! knows, then the lowest index ([`crate::failover::instance::promotion_choice`]); with none, a
//! crashed instance, which restarts and recovers itself (UG "High availability for Amazon
//! Aurora"). It then routes the endpoint to the promoted instance and tells it so.

use arrayvec::ArrayVec;

use crate::actor::{Effects, Id};
use crate::failover::config::MAX_INSTANCES;
use crate::failover::instance;
use crate::failover::state::{Inst, Role};

use super::msg::{Beat, Ids, Msg, Storage, Timer};

/// What the control plane knows of one instance. Heartbeats and the transport's news of an
/// instance reach it in order (one channel per instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// Its last heartbeat.
    Heard(Beat),
    /// Its process is gone; its tier is still known.
    Crashed {
        /// Promotion tier.
        tier: u8,
    },
    /// Its heartbeats stopped: its last one.
    Silent(Beat),
}

impl Seen {
    /// The instance as the promotion rule reads it: a crashed one is `Down`, a silent one cut
    /// off.
    pub fn as_inst(self) -> Inst {
        let (b, cut_off) = match self {
            Seen::Heard(b) => (b, false),
            Seen::Crashed { tier } => (
                Beat {
                    role: Role::Down,
                    tier,
                    known_vdl: 0,
                },
                false,
            ),
            Seen::Silent(b) => (b, true),
        };
        Inst {
            role: b.role,
            cut_off,
            known_vdl: b.known_vdl,
            ..Inst::replica(b.tier)
        }
    }
}

/// The control plane's state: where the endpoint routes, and what it knows of each instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Control {
    /// The instance the cluster endpoint routes to.
    pub endpoint: u8,
    /// What it knows of each instance, by index.
    pub seen: ArrayVec<Seen, MAX_INSTANCES>,
}

/// Handle `msg` from `src`: heartbeats and the transport's news about instances. A silence
/// after a crash changes nothing: the crash is the surer news.
pub fn on_msg(ids: Ids, st: &mut Control, src: Id, msg: &Msg) {
    let Some(i) = ids.inst_of(src).filter(|&i| i < st.seen.len()) else {
        return;
    };
    st.seen[i] = match (msg, st.seen[i]) {
        (Msg::Status(beat), _) => Seen::Heard(*beat),
        (Msg::Crashed, seen) => Seen::Crashed {
            tier: seen.as_inst().tier,
        },
        (Msg::Silent, Seen::Heard(beat) | Seen::Silent(beat)) => Seen::Silent(beat),
        _ => return,
    };
}

/// Handle a firing of `timer`: promote if the endpoint's instance no longer serves and no
/// promotion is still recovering ([`instance::to_promote`]). The promoted instance counts as
/// recovering from then on, until its own heartbeats say otherwise. Whether it promoted.
pub fn on_timeout(
    ids: Ids,
    st: &mut Control,
    timer: &Timer,
    out: &mut impl Effects<Msg, Storage>,
) -> bool {
    if *timer != Timer::Watch {
        return false;
    }
    let insts: ArrayVec<Inst, MAX_INSTANCES> = st.seen.iter().map(|s| s.as_inst()).collect();
    let Some(b) = instance::to_promote(&insts, usize::from(st.endpoint)) else {
        return false;
    };
    st.endpoint = b as u8;
    st.seen[b] = Seen::Heard(Beat {
        role: Role::Recovering(crate::failover::state::Phase::Promoted),
        tier: insts[b].tier,
        known_vdl: 0,
    });
    out.send(ids.inst(b), Msg::Promote);
    true
}
