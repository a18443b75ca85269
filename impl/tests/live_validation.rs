//! Trace validation of live rounds: the storage quorum's actors on threads, loopback sockets
//! and log files, a volume of one and of three protection groups, must replay on the actor
//! model PG by PG, and a runtime bug planted in the disk (a sync that does nothing, a recovery
//! that reads one record short) must make validation fail there too.

use std::path::PathBuf;
use std::time::Duration;

use quorate_impl::durable::FileDisk;
use quorate_impl::quorum::actors::live::LiveRound;
use quorate_impl::quorum::actors::validate_volume_logs;
use quorate_impl::runtime::event::Event;
use quorate_model::actor::volume::InPg;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::Msg;

#[path = "support/planted.rs"]
mod planted;
use planted::{NoSync, Plant, Planted, ShortReplay};

fn cfg() -> QuorumConfig {
    let mut c = QuorumConfig::preset("ci").unwrap();
    c.set("lsns", "3").unwrap();
    c.set("crashes", "2").unwrap();
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quorate-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn live_rounds_validate_and_acknowledge_commits() {
    let dir = scratch("ok");
    let (mut acked, mut events, mut faults) = (0, 0, 0);
    let (mut garbage, mut refused) = (0, 0);
    let (mut saves, mut syncs) = (0, 0);
    let (mut recovered, mut changed) = (0, 0);
    let mut pg_acked = [0; 3];
    for seed in 0..4 {
        let pgs = if seed % 2 == 0 { 1 } else { 3 };
        let round_dir = dir.join(format!("round-{seed}"));
        std::fs::create_dir_all(&round_dir).unwrap();
        let r = LiveRound::in_dir(&cfg(), pgs, &round_dir, seed).unwrap();
        let out = r
            .run(Duration::from_millis(300), Duration::from_millis(10))
            .unwrap();
        assert_eq!(out.failed, None, "seed {seed}");
        let v = validate_volume_logs(&cfg(), &out.logs, pgs)
            .unwrap_or_else(|d| panic!("seed {seed} ({:?}): {d}", out.tally.faults));
        events += v.events;
        faults += out.tally.faults.len();
        // Garbage from outside (some of it damaged so that it still decodes) was refused
        // before any node handled it: a handled one would be a receipt validation refuses.
        garbage += out.tally.garbage;
        refused += out.rejected;
        saves += out.io.saves;
        syncs += out.io.syncs;
        // A writer that crashed and whose next incarnation recovered as far as installing its
        // truncation range (it read a read quorum and the metadata service recorded the
        // range), and a membership change that ended (the control plane announced the epoch
        // after the dual one).
        let writer = cfg().slots();
        let log = &out.logs[writer];
        if let Some(at) = log.iter().position(|e| matches!(e, Event::Crash))
            && log[at..].iter().any(|e| {
                matches!(
                    e,
                    Event::Sent {
                        msg: InPg {
                            of: Msg::Install { .. },
                            ..
                        },
                        ..
                    }
                )
            })
        {
            recovered += 1;
        }
        changed += usize::from(out.logs[writer + 1].iter().any(|e| {
            matches!(
                e,
                Event::Sent {
                    msg: InPg {
                        of: Msg::Epoch { epoch, .. },
                        ..
                    },
                    ..
                } if *epoch >= 3
            )
        }));
        for e in out.logs.iter().flatten() {
            if let Event::Sent {
                msg:
                    InPg {
                        pg,
                        of: Msg::Committed { .. },
                    },
                ..
            } = e
            {
                acked += 1;
                if pgs == 3 {
                    pg_acked[usize::from(*pg)] += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(acked >= 4, "commits acknowledged: {acked}");
    assert!(
        pg_acked.iter().all(|&n| n > 0),
        "every PG of a volume acknowledges commits: {pg_acked:?}"
    );
    assert!(faults >= 4, "faults: {faults}");
    assert!(events > 1000, "events: {events}");
    assert!(
        garbage >= 8 && refused > 0,
        "garbage {garbage}, refused {refused}"
    );
    // Group commit: datagrams that arrive together share a sync, and the rounds still
    // validate (no message left before the save it depends on was synced).
    assert!(syncs < saves, "{saves} saves, {syncs} syncs");
    assert!(
        recovered > 0,
        "no round's writer recovered to its truncation"
    );
    assert!(changed > 0, "no round's membership change ended");
}

/// One live round of 200 ms on log files with bug `P` planted: why validation refused it.
fn planted_round<P: Plant + Send + 'static>(name: &str) -> String {
    let dir = scratch(name);
    let nodes = quorate_impl::quorum::actors::nodes(&cfg());
    let disks = (0..nodes)
        .map(|i| Planted::<P, _>::new(FileDisk::open(&dir.join(format!("node-{i}.disk"))).unwrap()))
        .collect();
    let out = LiveRound::new(&cfg(), 2, disks, 1)
        .unwrap()
        .run(Duration::from_millis(200), Duration::from_millis(10))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    validate_volume_logs(&cfg(), &out.logs, 2)
        .map(|v| v.events)
        .expect_err("the planted bug goes unseen")
        .to_string()
}

#[test]
fn a_live_node_that_acks_before_its_sync_fails_validation() {
    let why = planted_round::<NoSync>("nosync");
    assert!(why.contains("its disk gave back"), "{why}");
}

#[test]
fn a_live_recovery_that_reads_a_record_short_fails_validation() {
    let why = planted_round::<ShortReplay>("short");
    assert!(why.contains("its disk gave back"), "{why}");
}
