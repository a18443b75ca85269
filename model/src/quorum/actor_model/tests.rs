//! The actor model against the fast composition.

use stateright::Model;

use super::QuorumActorModel;
use crate::quorum::state::Net;
use crate::quorum::{QuorumConfig, step};

/// The actor model starts where the fast composition does: every actor started and every
/// message of the start delivered.
#[test]
fn the_start_is_the_fast_models() {
    for preset in ["actors", "actors-recovery"] {
        let cfg = QuorumConfig::preset(preset).unwrap();
        let fast = step::init(&cfg);
        let m = QuorumActorModel::new(cfg);
        let s = &m.init_states()[0];
        let v = &s.view;
        assert_eq!(v.segs, fast.segs, "{preset}");
        assert_eq!(v.writer, fast.writer, "{preset}");
        assert_eq!(v.control, fast.control, "{preset}");
        assert_eq!(v.ghost, fast.ghost, "{preset}");
        assert_eq!(v.net, Net::Explicit { msgs: Vec::new() }, "{preset}");
        assert_eq!(s.sys.network.len(), 0, "{preset}: nothing in flight");
    }
}
