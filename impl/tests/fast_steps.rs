//! The fast composition's steps carried out on the nodes of the deterministic runtime
//! (`quorum::actors::fast`): with a correct runtime the nodes stay where the model's actors
//! are; with a runtime bug planted in the disk (a sync that does nothing, a recovery that reads
//! one record short) the disk of a crashed node no longer holds what its actor made durable,
//! and the driver says so at the crash, before any restart reads it.

use quorate_impl::quorum::actors::fast::FastDriver;
use quorate_impl::runtime::sim::SimDisk;
use quorate_model::quorum::{Action, QuorumConfig};

#[path = "support/planted.rs"]
mod planted;
use planted::{NoSync, Planted, ShortReplay};

fn cfg() -> QuorumConfig {
    let mut cfg = QuorumConfig::base();
    for (k, v) in [("lsns", "2"), ("crashes", "1"), ("az_outages", "0")] {
        cfg.set(k, v).unwrap();
    }
    cfg
}

/// A commit of two records on every segment, segment 0 crashed and restarted, on disks `D`:
/// the first step at which the nodes depart from the model, with why.
fn departure<D: SimDisk>() -> Option<(usize, String)> {
    let cfg = cfg();
    let (mut d, mut s) = FastDriver::<D>::new(&cfg, 7).expect("the volume starts");
    let mut script = vec![Action::WriteMtr];
    script.extend((0..6).flat_map(|seg| (1..=2).map(move |lsn| Action::Deliver { seg, lsn })));
    script.extend([Action::Crash { seg: 0 }, Action::Restart { seg: 0 }]);
    for (k, a) in script.iter().enumerate() {
        match d.step(&s, a) {
            Ok(Some(next)) => s = next,
            Ok(None) => panic!("step {} ({a:?}) is enabled", k + 1),
            Err(why) => return Some((k + 1, why)),
        }
    }
    None
}

#[test]
fn a_correct_runtime_follows_the_model_through_a_restart() {
    assert_eq!(departure::<quorate_impl::durable::MemDisk>(), None);
}

#[test]
fn a_node_that_acks_before_its_sync_departs_at_its_crash() {
    let (step, why) = departure::<Planted<NoSync>>().expect("the planted bug is caught");
    assert_eq!(step, 14, "{why}");
    assert!(
        why.starts_with("segment node 0 has nothing on its disk"),
        "{why}"
    );
}

#[test]
fn a_recovery_that_reads_one_record_short_departs_at_its_crash() {
    let (step, why) = departure::<Planted<ShortReplay>>().expect("the planted bug is caught");
    assert_eq!(step, 14, "{why}");
    assert!(why.starts_with("segment node 0 has on its disk"), "{why}");
}
