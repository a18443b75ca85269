//! A volume of protection groups on the one runtime: every node runs an instance of its role
//! for each PG (`Volume`), the quorum's fault table takes its faults on whole nodes (so a crash
//! takes every instance down at once), and each PG's part of the nodes' logs must validate on
//! the one-PG actor model.

use quorate_impl::quorum::actors::Round;
use quorate_impl::runtime::sim::SimDisk;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::node::NodeState;

#[path = "support/planted.rs"]
mod planted;
use planted::{NoSync, Planted};

fn cfg() -> QuorumConfig {
    let mut c = QuorumConfig::preset("ci").unwrap();
    for (k, v) in [("lsns", "3"), ("crashes", "3"), ("writer_crashes", "2")] {
        c.set(k, v).unwrap();
    }
    c
}

/// A seeded round of a volume of `pgs` PGs on disks `D`, ended, and the VDL each PG's writer
/// had reached before the end (0 for all if the writer was down).
fn round<D: SimDisk>(pgs: u16, seed: u64, steps: usize) -> (Round<D>, Vec<u8>) {
    let mut r: Round<D> = Round::volume(&cfg(), pgs, seed);
    r.steps(steps).unwrap();
    let vdl = match r.sim.hosts[cfg().slots()].state() {
        Some(v) => v
            .pgs
            .iter()
            .map(|s| match s {
                NodeState::Writer(w) => w.vdl,
                _ => 0,
            })
            .collect(),
        None => vec![0; usize::from(pgs)],
    };
    r.sim.finish();
    (r, vdl)
}

#[test]
fn every_protection_group_of_a_volume_validates_on_its_own() {
    let mut progress = 0;
    for seed in 0..10 {
        let (r, vdl) = round::<quorate_impl::durable::MemDisk>(3, seed, 3000);
        if let Err(d) = r.validate() {
            panic!("seed {seed}: {d}");
        }
        progress += vdl.iter().filter(|&&v| v > 0).count();
    }
    assert!(progress > 10, "the PGs make progress: {progress}");
}

/// A disk whose sync does nothing under a volume: some PG's part of the logs fails validation
/// (a node restarts without what it acknowledged).
#[test]
fn a_volume_node_that_acks_before_its_sync_fails_validation() {
    let caught = (0..20).find_map(|seed| {
        let (r, _) = round::<Planted<NoSync>>(3, seed, 3000);
        r.validate().err().map(|d| (seed, d.to_string()))
    });
    let (seed, why) = caught.expect("some round catches the planted bug");
    assert!(why.contains("its disk gave back"), "seed {seed}: {why}");
}
