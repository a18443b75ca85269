//! A volume of protection groups on the one runtime: every node runs an instance of its role
//! for each PG (`Volume`), crashes take every instance down at once, and each PG's part of the
//! nodes' logs must validate on the one-PG actor model.

use quorate_impl::quorum::actors::validate_logs;
use quorate_impl::runtime::sim::{Sim, SimDisk};
use quorate_impl::runtime::volume::project;
use quorate_model::actor::Role;
use quorate_model::actor::volume::Volume;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::node::{Node, NodeState};

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

/// A seeded round of a volume of `pgs` PGs: deliveries, timers, and crashes and restarts of
/// segment node 0 and of the writer. Its nodes' logs, and how many commits each PG acked.
fn round<D: SimDisk>(pgs: u16, seed: u64, steps: usize) -> (Sim<Volume<Node>, D>, Vec<u16>) {
    let cfg = cfg();
    let roles = Node::all(&cfg)
        .into_iter()
        .map(|role| Volume { role, pgs })
        .collect();
    let mut sim: Sim<Volume<Node>, D> = Sim::new(roles, seed);
    for i in 0..sim.hosts.len() {
        sim.start(i).unwrap();
    }
    let w = cfg.slots();
    // Crashes within the config's budgets (each PG's run spends them all at once).
    let mut budget = [cfg.crashes, cfg.writer_crashes];
    for _ in 0..steps {
        let r = sim.rng.below(100);
        if r < 2 {
            let (i, b) = if sim.rng.chance(1, 2) { (0, 0) } else { (w, 1) };
            if sim.hosts[i].runs() {
                if budget[b] > 0 {
                    budget[b] -= 1;
                    sim.crash(i);
                }
            } else {
                sim.start(i).unwrap();
            }
        } else if r < 70 && !sim.network.is_empty() {
            let k = sim.rng.below(sim.network.len() as u64) as usize;
            sim.deliver(k, false).unwrap();
        } else {
            let i = sim.rng.below(sim.hosts.len() as u64) as usize;
            let timers = sim.hosts[i].role().timers();
            if sim.hosts[i].runs() && !timers.is_empty() {
                let t = timers[sim.rng.below(timers.len() as u64) as usize];
                sim.fire(i, &t).unwrap();
            }
        }
    }
    let acked = match sim.hosts[w].state() {
        Some(v) => v
            .pgs
            .iter()
            .map(|s| match s {
                NodeState::Writer(w) => w.vdl.into(),
                _ => 0,
            })
            .collect(),
        None => vec![0; usize::from(pgs)],
    };
    sim.finish();
    (sim, acked)
}

#[test]
fn every_protection_group_of_a_volume_validates_on_its_own() {
    let mut progress = 0;
    for seed in 0..10 {
        let (sim, vdl) = round::<quorate_impl::durable::MemDisk>(3, seed, 3000);
        let logs = sim.logs();
        for pg in 0..3 {
            let mine = project(&logs, pg).unwrap().logs;
            let v = validate_logs(&cfg(), &mine);
            assert!(v.is_ok(), "seed {seed}, PG {pg}: {}", v.unwrap_err());
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
        let (sim, _) = round::<Planted<NoSync>>(3, seed, 3000);
        let logs = sim.logs();
        (0..3).find_map(|pg| {
            validate_logs(&cfg(), &project(&logs, pg).unwrap().logs)
                .err()
                .map(|d| (seed, pg, d.to_string()))
        })
    });
    let (seed, pg, why) = caught.expect("some round catches the planted bug");
    println!("seed {seed}, PG {pg}: {why}");
    assert!(
        why.contains("storage") || why.contains("save"),
        "seed {seed}, PG {pg}: {why}"
    );
}
