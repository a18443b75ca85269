//! Trace validation of the storage quorum's runs: seeded rounds of the model's actors on the
//! deterministic runtime must replay on the actor model, and a runtime bug planted in a
//! component (a disk that does not sync, a replay that drops a record, a decoder that loses a
//! fence) must make validation fail.

use quorate_impl::durable::{frame, unframe};
use quorate_impl::quorum::actors::Round;
use quorate_impl::runtime::event::Event;
use quorate_impl::runtime::sim::SimDisk;
use quorate_model::actor::volume::{InPg, Saved};
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::{Msg, Storage};
use quorate_model::quorum::actors::node::NodeState;

#[path = "support/planted.rs"]
mod planted;
use planted::{NoSync, Plant, Planted, ShortReplay};

fn cfg() -> QuorumConfig {
    let mut c = QuorumConfig::preset("ci").unwrap();
    c.set("lsns", "3").unwrap();
    c.set("crashes", "2").unwrap();
    c
}

/// Seeds `0..n` of rounds on disks `D`: the first divergence, with its seed.
fn first_divergence<D: SimDisk>(n: u64) -> Option<(u64, String)> {
    (0..n).find_map(|seed| {
        let mut r: Round<D> = Round::new(&cfg(), seed);
        r.run(2000).unwrap();
        r.validate().err().map(|d| (seed, d.to_string()))
    })
}

#[test]
fn seeded_rounds_validate_and_make_progress() {
    let (mut acked, mut reopened, mut changes, mut events) = (0, 0, 0, 0);
    for seed in 0..30 {
        let mut r: Round = Round::new(&cfg(), seed);
        let tally = r.steps(2000).unwrap();
        let writer = cfg().slots();
        let log = &r.sim.hosts[writer].log;
        acked += log
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Sent {
                        msg: InPg {
                            of: Msg::Committed { .. },
                            ..
                        },
                        ..
                    }
                )
            })
            .count();
        let control = &r.sim.hosts[writer + 1];
        if let Some(NodeState::Control(c)) = control.state().map(|v| &v.pgs[0])
            && c.mem.epoch > 1
        {
            changes += 1;
        }
        if tally.faults.iter().any(|f| f == "restart the writer")
            && matches!(r.sim.hosts[writer].state().map(|v| &v.pgs[0]), Some(NodeState::Writer(w)) if w.mode == quorate_model::quorum::state::WriterMode::Open)
        {
            reopened += 1;
        }
        r.sim.finish();
        let v = r
            .validate()
            .unwrap_or_else(|d| panic!("seed {seed} ({:?}): {d}", tally.faults));
        events += v.events;
    }
    assert!(events > 30_000, "events {events}");
    assert!(acked >= 10, "commits acknowledged: {acked}");
    assert!(reopened >= 3, "recoveries that reopened: {reopened}");
    assert!(changes >= 3, "membership changes: {changes}");
}

#[test]
fn a_node_that_acks_before_its_sync_fails_validation() {
    let (seed, why) =
        first_divergence::<Planted<NoSync>>(30).expect("an unsynced save goes unseen");
    assert!(why.contains("its disk gave back"), "seed {seed}: {why}");
}

#[test]
fn a_replay_that_drops_a_record_fails_validation() {
    let (seed, why) =
        first_divergence::<Planted<ShortReplay>>(30).expect("a short replay goes unseen");
    assert!(why.contains("its disk gave back"), "seed {seed}: {why}");
}

/// A reader that decodes a segment's volume epoch one lower than written, with valid checksums
/// (a decoder bug: the fence of the newer incarnation is gone after a restart).
struct LosesFence;

impl Plant for LosesFence {
    fn read(all: Vec<u8>) -> Vec<u8> {
        unframe::<Saved<Storage>>(&all)
            .records
            .into_iter()
            .flat_map(|mut v| {
                for Storage::Segment(s) in v.parts.iter_mut().flatten() {
                    s.core.vol_epoch = s.core.vol_epoch.saturating_sub(1).max(1);
                }
                frame(&serde_json::to_vec(&v).unwrap())
            })
            .collect()
    }
}

#[test]
fn a_restart_that_drops_a_fence_fails_validation() {
    let (seed, why) =
        first_divergence::<Planted<LosesFence>>(60).expect("a lost fence goes unseen");
    assert!(why.contains("its disk gave back"), "seed {seed}: {why}");
}

/// The environment's reads order the replay: each act is replayed after the events its choice
/// rested on (a disk is lost only from a member of the control plane's configuration, read from
/// the control plane's state). Without those notes the replay may take an act at another
/// moment than it happened, where the model judges the run differently: among these seeds one
/// round (seed 299 as the actors stand) then fails, and with the notes every one replays. If
/// the actors change and no seed here needs the notes any more, widen the range.
#[test]
fn what_the_environment_read_orders_the_replay() {
    let mut c = QuorumConfig::preset("disk").unwrap();
    c.set("member_changes", "1").unwrap();
    c.set("lsns", "3").unwrap();
    let mut needed = Vec::new();
    for seed in 280..320 {
        let mut r: Round = Round::new(&c, seed);
        let tally = r.run(3000).unwrap();
        let logs = r.logs();
        if let Err(d) = quorate_impl::quorum::actors::validate_volume_logs(&c, &logs, 1) {
            panic!("seed {seed} ({:?}): {d}", tally.faults);
        }
        let blind: Vec<Vec<_>> = logs
            .iter()
            .map(|l| {
                l.iter()
                    .filter(|e| !matches!(e, Event::Saw { .. }))
                    .cloned()
                    .collect()
            })
            .collect();
        if quorate_impl::quorum::actors::validate_volume_logs(&c, &blind, 1).is_err() {
            needed.push(seed);
        }
    }
    assert!(
        !needed.is_empty(),
        "no round needed the environment's reads"
    );
}
