//! Trace validation of the storage quorum's runs: seeded rounds of the model's actors on the
//! deterministic runtime must replay on the actor model, and a runtime bug planted in a
//! component (a disk that does not sync, a replay that drops a record, a decoder that loses a
//! fence) must make validation fail.

use quorate_impl::codec::{SEAL, damage_a_digit, parse, parse_sealed};
use quorate_impl::durable::{frame, unframe};
use quorate_impl::quorum::actors::Round;
use quorate_impl::runtime::event::Event;
use quorate_impl::runtime::sim::SimDisk;
use quorate_impl::runtime::validate::{Replay, Step, validate};
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

/// Garbage on the network (random bytes, datagrams cut short, datagrams with a digit changed so
/// that they still decode) is refused before any node handles it: the nodes' logs are as if it
/// never came, and the rounds validate. A datagram with a digit changed would be a message no
/// node sent (from a real sender) but for its seal.
#[test]
fn garbage_is_refused_unhandled_even_when_it_decodes() {
    let (mut sent, mut damaged) = (0, 0);
    for seed in 0..10 {
        let mut r: Round = Round::new(&cfg(), seed);
        let mut faults = Vec::new();
        for _ in 0..10 {
            let tally = r.steps(200).unwrap();
            sent += tally.garbage;
            faults.extend(tally.faults);
            // Every message in flight now, damaged so that it still decodes, then delivered.
            let flight: Vec<_> = r
                .sim
                .network
                .iter()
                .filter(|d| parse_sealed::<InPg<Msg>>(&d.bytes).is_ok())
                .cloned()
                .collect();
            let n = flight.len() as u64;
            damaged += flight.len();
            let (logs, refused) = (r.sim.logs(), r.sim.rejected);
            for mut d in flight {
                damage_a_digit(&mut d.bytes[SEAL..]);
                assert!(
                    parse::<InPg<Msg>>(&d.bytes[SEAL..]).is_ok(),
                    "{d:?} decodes"
                );
                assert!(parse_sealed::<InPg<Msg>>(&d.bytes).is_err());
                r.sim.network.push(d);
                r.sim.deliver(r.sim.network.len() - 1, false).unwrap();
            }
            assert_eq!(r.sim.rejected, refused + n, "seed {seed}");
            assert_eq!(r.sim.logs(), logs, "seed {seed}: a node handled garbage");
        }
        r.sim.finish();
        r.validate()
            .unwrap_or_else(|d| panic!("seed {seed} ({faults:?}): {d}"));
    }
    assert!(sent >= 100, "garbage sent: {sent}");
    assert!(damaged >= 10, "damaged datagrams delivered: {damaged}");
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

/// Rounds of `disk` with a membership change and three LSNs (a lost disk, its replacement,
/// the acks in flight around both) validate.
#[test]
fn rounds_with_a_lost_disk_and_its_replacement_validate() {
    let mut c = QuorumConfig::preset("disk").unwrap();
    c.set("member_changes", "1").unwrap();
    c.set("lsns", "3").unwrap();
    let mut lost = 0;
    for seed in 280..320 {
        let mut r: Round = Round::new(&c, seed);
        let tally = r.run(3000).unwrap();
        lost += tally
            .faults
            .iter()
            .filter(|f| f.contains("loses its disk"))
            .count();
        if let Err(d) = r.validate() {
            panic!("seed {seed} ({:?}): {d}", tally.faults);
        }
    }
    assert!(lost >= 10, "rounds with a lost disk: {lost}");
}

/// The environment's reads order the replay: an act is replayed only after the events its
/// choice rested on. A toy model of two nodes: node 1 arms on an input, and node 0's disk may be
/// lost only once node 1 is armed, as a fault table that reads node 1's state would choose. The
/// replay takes the lowest node that can go first, so without the note of what the environment
/// read it would take the loss first, where the model refuses it.
#[test]
fn what_the_environment_read_orders_the_replay() {
    let with = vec![
        vec![
            Ev::Start { storage: None },
            Ev::Saw { node: 1, events: 2 },
            Ev::Lost,
            Ev::End { storage: None },
        ],
        vec![
            Ev::Start { storage: None },
            Ev::Input { msg: 1 },
            Ev::End { storage: None },
        ],
    ];
    let v = validate(&Armed, &with).expect("the loss replays after what it read");
    assert_eq!(v.steps, 2);
    let blind: Vec<Vec<Ev>> = with
        .iter()
        .map(|l| {
            l.iter()
                .filter(|e| !matches!(e, Ev::Saw { .. }))
                .cloned()
                .collect()
        })
        .collect();
    let d = validate(&Armed, &blind).expect_err("without the note the loss comes first");
    assert_eq!((d.node, d.event), (0, 1), "{d}");
    assert!(d.why.contains("not armed"), "{d}");
}

type Ev = Event<u8, (), u8>;

/// The toy model: whether node 1 is armed, whether node 0's disk is lost.
struct Armed;

impl Replay for Armed {
    type Msg = u8;
    type Timer = ();
    type Storage = u8;
    type State = (bool, bool);
    fn start(&self) -> (bool, bool) {
        (false, false)
    }
    fn sent_at_start(&self, _: &(bool, bool), _: usize) -> Vec<(usize, u8)> {
        Vec::new()
    }
    fn deliver(&self, _: &(bool, bool), _: usize, _: usize, _: &u8) -> Step<Self> {
        Err("no messages".into())
    }
    fn timer(&self, _: &(bool, bool), _: usize, _: &()) -> Step<Self> {
        Err("no timers".into())
    }
    fn input(&self, s: &(bool, bool), i: usize, _: &u8) -> Step<Self> {
        match i {
            1 => Ok(((true, s.1), Vec::new())),
            _ => Err("only node 1 takes inputs".into()),
        }
    }
    fn crash(&self, _: &(bool, bool), _: usize) -> Step<Self> {
        Err("no crashes".into())
    }
    fn restart(&self, _: &(bool, bool), _: usize) -> Step<Self> {
        Err("no restarts".into())
    }
    fn lose(&self, s: &(bool, bool), i: usize) -> Step<Self> {
        match (i, s.0) {
            (0, true) => Ok(((s.0, true), Vec::new())),
            _ => Err("node 1 is not armed".into()),
        }
    }
    fn duplicate(&self, _: &(bool, bool), _: usize, _: usize, _: &u8) -> Step<Self> {
        Err("no copies".into())
    }
    fn saved(&self, _: &(bool, bool), _: usize) -> Option<u8> {
        None
    }
    fn violation(&self, _: &(bool, bool)) -> Option<(&'static str, String)> {
        None
    }
}
