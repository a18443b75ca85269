//! The control plane actor: it watches the database instances and moves the cluster endpoint.
//!
//! Every instance sends it heartbeats with its role, promotion tier and the VDL it knows. The
//! transport tells it when an instance's process is gone (`Crashed`) and when its heartbeats
//! stop arriving (`Silent`: a partition; the instance may still be running and writing). When
//! the instance the endpoint routes to has failed either way, and no promoted instance is still
//! recovering, it promotes the best replica it hears from: lowest tier, then the highest VDL it
//! knows, then the lowest index ([`crate::failover::instance::promotion_choice`]); with none, a
//! crashed instance, which restarts and recovers itself (UG "High availability for Amazon
//! Aurora"). It then routes the endpoint to the promoted instance and tells it so.

use arrayvec::ArrayVec;

use crate::actor::{Effects, Id};
use crate::failover::config::MAX_INSTANCES;
use crate::failover::instance;
use crate::failover::state::{Inst, Role};

use super::msg::{Ids, Msg, Storage, Timer};

/// What the control plane knows of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// Its last heartbeat.
    Heard(Inst),
    /// Its process is gone; its tier is still known.
    Crashed {
        /// Promotion tier.
        tier: u8,
    },
    /// Its heartbeats stopped: its last one.
    Silent(Inst),
}

impl Seen {
    /// The instance as the promotion rule reads it: a crashed one is `Down`, a silent one cut
    /// off.
    pub fn as_inst(self) -> Inst {
        match self {
            Seen::Heard(x) => Inst {
                cut_off: false,
                ..x
            },
            Seen::Crashed { tier } => Inst {
                role: Role::Down,
                ..Inst::replica(tier)
            },
            Seen::Silent(x) => Inst { cut_off: true, ..x },
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

/// Handle `msg` from `src`: heartbeats and the transport's news about instances.
pub fn on_msg(ids: Ids, st: &mut Control, src: Id, msg: &Msg) {
    let Some(i) = ids.inst_of(src).filter(|&i| i < st.seen.len()) else {
        return;
    };
    let tier = st.seen[i].as_inst().tier;
    st.seen[i] = match *msg {
        Msg::Status { inst } => Seen::Heard(inst),
        Msg::Crashed => Seen::Crashed { tier },
        Msg::Silent => Seen::Silent(st.seen[i].as_inst()),
        _ => return,
    };
}

/// Handle a firing of `timer`: promote if the endpoint's instance has failed and no promotion
/// is still recovering. Whether it promoted.
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
    let Some(cur) = insts.get(usize::from(st.endpoint)) else {
        return false;
    };
    let failed = cur.role == Role::Down || cur.cut_off;
    let recovering = insts.iter().any(|x| matches!(x.role, Role::Recovering(_)));
    if !failed || recovering {
        return false;
    }
    let Some(b) = instance::promotion_choice(&insts) else {
        return false;
    };
    st.endpoint = b as u8;
    out.send(ids.inst(b), Msg::Promote);
    true
}
