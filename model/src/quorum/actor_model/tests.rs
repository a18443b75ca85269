//! The actor model against the fast composition.

use stateright::Model;

use super::{ActorAction, ActorState, QuorumActorModel};
use crate::quorum::actors::msg::{Msg, Timer};
use crate::quorum::properties::a2_vdl_sound;
use crate::quorum::state::Net;
use crate::quorum::{QuorumConfig, step};

/// The actor model starts where the fast composition does: every actor started and every
/// message of the start delivered.
#[test]
fn the_start_is_the_fast_models() {
    for preset in ["actors", "actors-recovery", "actors-disk"] {
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

/// A2 counts an acknowledgement that was true when sent, even if its segment's disk is lost
/// before a write quorum's other acks arrive, and still refuses a VCL that no write quorum's
/// acks could support.
#[test]
fn a2_counts_acks_true_when_sent_and_no_others() {
    let cfg = QuorumConfig::preset("actors-disk").unwrap();
    let m = QuorumActorModel::new(cfg.clone());
    let step = |s: &ActorState, a: ActorAction| m.next_state(s, a).expect("enabled");
    let write = Msg::Write {
        lsn: 1,
        vol: 1,
        mem: 1,
        cpl: true,
    };
    let ack = Msg::Ack {
        scl: 1,
        mem: 1,
        vol: 1,
        held: 1,
    };
    let deliver = |src: u8, dst: u8, msg: Msg| ActorAction::Deliver { src, dst, msg };
    let (a1, b1, writer) = (0u8, 1u8, 3u8);
    let s = m.init_states().remove(0);
    let s = step(
        &s,
        ActorAction::Timeout {
            actor: writer,
            timer: Timer::NextMtr,
        },
    );
    let s = step(&s, deliver(writer, a1, write));
    let lost = step(&s, ActorAction::DiskLoss { seg: a1 });
    assert_eq!(lost.ghost.lost_held[0], 1, "what A1's disk held when lost");
    assert_eq!(lost.ghost.wq_reached, 0);
    // A writer that claimed VCL 1 now would have counted A1 alone, not a write quorum.
    let mut claim = (*lost.view).clone();
    claim.writer.vcl = 1;
    assert!(
        a2_vdl_sound(&cfg, &claim).is_err(),
        "one ack is not a quorum"
    );
    let stored = step(&lost, deliver(writer, b1, write));
    assert_eq!(
        stored.ghost.wq_reached, 1,
        "A1 then B1: a write quorum of true acks"
    );
    assert_eq!(stored.ghost.lost_held, [0; 12], "nothing left to remember");
    let s = step(&stored, deliver(b1, writer, ack));
    let s = step(&s, deliver(a1, writer, ack));
    assert_eq!(s.view.writer.vcl, 1, "the writer counts both acks");
    assert!(a2_vdl_sound(&cfg, &s.view).is_ok());
}
