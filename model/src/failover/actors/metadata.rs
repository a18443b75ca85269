//! The metadata service actor: the volume's epoch counter and its truncation ranges.
//!
//! A promoted instance asks it for a new volume epoch ([`crate::failover::instance::next_epoch`]:
//! one above the last handed out, so no two incarnations share one). A recovery records its
//! truncation range here before it installs it on any segment, so the range is durable and
//! every later recovery and every restarted segment judges the log with it. Both are saved
//! before the answer leaves.

use crate::actor::{Effects, Id};
use crate::failover::config::FailoverConfig;
use crate::failover::instance;
use crate::failover::state::{Epoch, Ranges};

use super::msg::{Msg, Storage};

/// The metadata service's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Meta {
    /// The last volume epoch handed out (the first writer's is 1).
    pub epoch_ctr: Epoch,
    /// Every range recorded, oldest first.
    pub truncs: Ranges,
}

/// Start, or restart from `saved`.
pub fn on_start(saved: Option<&Storage>) -> Meta {
    match saved {
        Some(Storage::Metadata { epoch_ctr, truncs }) => Meta {
            epoch_ctr: *epoch_ctr,
            truncs: truncs.clone(),
        },
        _ => Meta {
            epoch_ctr: 1,
            truncs: Ranges::new(),
        },
    }
}

/// Handle `msg` from `src`.
pub fn on_msg(
    cfg: &FailoverConfig,
    st: &mut Meta,
    src: Id,
    msg: &Msg,
    out: &mut impl Effects<Msg, Storage>,
) {
    match *msg {
        Msg::GetEpoch => {
            st.epoch_ctr = instance::next_epoch(cfg, st.epoch_ctr);
            save(st, out);
            out.send(
                src,
                Msg::Epoch {
                    epoch: st.epoch_ctr,
                    truncs: st.truncs.clone(),
                },
            );
        }
        Msg::AddTrunc { trunc } => {
            // One range per recovery, and the config bounds the recoveries by the list's
            // capacity (`FailoverConfig::validate`), so the list never overflows.
            st.truncs.push(trunc);
            save(st, out);
            out.send(
                src,
                Msg::Ranges {
                    truncs: st.truncs.clone(),
                },
            );
        }
        _ => {}
    }
}

fn save(st: &Meta, out: &mut impl Effects<Msg, Storage>) {
    out.save(Storage::Metadata {
        epoch_ctr: st.epoch_ctr,
        truncs: st.truncs.clone(),
    });
}
