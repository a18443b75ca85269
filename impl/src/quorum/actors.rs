//! The storage quorum on the runtime: the model's own actors ([`Node`]) as hosts, a seeded
//! schedule of deliveries, timers, faults and client requests, and the replay of a run's logs
//! on the model's actor semantics ([`QuorumActorModel`]).
//!
//! A round runs a volume of one or more protection groups ([`Volume`]): node `i` hosts the
//! instance of actor `i` of every PG (segment slot `i` of each, the writer of each, ...), so a
//! crash or a lost disk hits every PG at once, as on a storage node of Aurora's. Each fault is
//! drawn by the one-PG fault table on one PG's view of the nodes ([`PgView`]), and a round's
//! logs are validated PG by PG on the one-PG actor model.
//!
//! Nothing here decides anything about the protocol: the actors are the model's; this module
//! says which environment inputs exist (the fault table and the workload) and how a logged
//! event maps to a step of the actor model.

use quorate_model::actor::Id;
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actor_model::{ActorAction, ActorState, QuorumActorModel, in_flight};
use quorate_model::quorum::actors::msg::{Ids, Msg, Storage, Timer};
use quorate_model::quorum::actors::node::Node;
use quorate_model::quorum::config::Composition;

use quorate_model::actor::volume::Volume;

use crate::durable::MemDisk;
use crate::runtime::event::Event;
use crate::runtime::sim::{Sim, SimDisk};
use crate::runtime::validate::{self, Replay, Step, Validated};
use crate::runtime::volume::{self, PgView};

pub mod drive;
pub mod fast;
pub mod faults;
pub mod live;

pub use faults::{Faults, Tally};

/// The nodes of a volume of `pgs` protection groups under `cfg`, in id order.
pub fn volume(cfg: &QuorumConfig, pgs: u16) -> Vec<Volume<Node>> {
    Node::all(cfg)
        .into_iter()
        .map(|role| Volume { role, pgs })
        .collect()
}

/// What a node of a volume logs.
pub type VolumeEvent = volume::VolumeEvent<Msg, Timer, Storage>;

/// The PG the next fault is drawn on (no draw for a volume of one, so that its schedule is the
/// one-PG round's).
fn draw_pg(rng: &mut crate::rng::Rng, pgs: u16) -> u16 {
    if pgs > 1 {
        rng.below(u64::from(pgs)) as u16
    } else {
        0
    }
}

/// A storage quorum on the deterministic runtime, on disks of type `D`.
pub struct Round<D: SimDisk = MemDisk> {
    /// The protocol's parameters (the faults' budgets among them).
    pub cfg: QuorumConfig,
    /// How many protection groups the volume has.
    pub pgs: u16,
    /// The actors on their hosts, the network, the schedule.
    pub sim: Sim<Volume<Node>, D>,
    faults: Faults,
}

impl<D: SimDisk> Round<D> {
    /// Every actor of `cfg` started, one protection group, scheduled by `seed`.
    pub fn new(cfg: &QuorumConfig, seed: u64) -> Self {
        Self::volume(cfg, 1, seed)
    }

    /// Every actor of a volume of `pgs` protection groups under `cfg` started, scheduled by
    /// `seed`. The fault budgets are the volume's: a fault on a node hits every PG on it.
    pub fn volume(cfg: &QuorumConfig, pgs: u16, seed: u64) -> Self {
        let mut sim = Sim::new(volume(cfg, pgs), seed);
        for i in 0..sim.hosts.len() {
            sim.start(i).expect("a fresh simulated disk starts");
        }
        Round {
            cfg: cfg.clone(),
            pgs,
            sim,
            faults: Faults::new(cfg),
        }
    }

    /// One scheduled step; `false` once nothing is left to do.
    pub fn step(&mut self, tally: &mut Tally) -> std::io::Result<bool> {
        tally.steps += 1;
        if self.sim.rng.chance(1, 60) {
            let (pgs, pg) = (self.pgs, draw_pg(&mut self.sim.rng, self.pgs));
            let mut view = PgView {
                nodes: &mut self.sim,
                pg,
                pgs,
            };
            if self.faults.take(&mut view, tally)? {
                return Ok(true);
            }
        }
        if self.sim.rng.chance(1, 80) {
            let i = self.sim.rng.below(self.sim.hosts.len() as u64) as usize;
            self.sim.garbage(i);
            tally.garbage += 1;
            return Ok(true);
        }
        let rng = &mut self.sim.rng;
        if !self.sim.network.is_empty() && rng.chance(2, 3) {
            let k = rng.below(self.sim.network.len() as u64) as usize;
            match rng.below(40) {
                0 => self.sim.lose(k),
                1 => self.sim.deliver(k, true)?,
                _ => self.sim.deliver(k, false)?,
            }
            return Ok(true);
        }
        let running: Vec<usize> = (0..self.sim.hosts.len())
            .filter(|&i| self.sim.hosts[i].runs())
            .collect();
        if running.is_empty() {
            return Ok(false);
        }
        let rng = &mut self.sim.rng;
        let i = running[rng.below(running.len() as u64) as usize];
        let timers = quorate_model::actor::Role::timers(self.sim.hosts[i].role());
        if timers.is_empty() {
            return Ok(true);
        }
        // A kind of timer first, then one of that kind: a writer's one `NextMtr` would
        // otherwise fire once in as many times as it has `Resend` timers.
        let mut kinds = Vec::new();
        for d in timers.iter().map(|t| std::mem::discriminant(&t.of)) {
            if !kinds.contains(&d) {
                kinds.push(d);
            }
        }
        let kind = kinds[self.sim.rng.below(kinds.len() as u64) as usize];
        let of_kind: Vec<_> = timers
            .iter()
            .filter(|t| std::mem::discriminant(&t.of) == kind)
            .collect();
        let t = *of_kind[self.sim.rng.below(of_kind.len() as u64) as usize];
        self.sim.fire(i, &t)?;
        Ok(true)
    }

    /// Run `steps` scheduled steps, then end the round ([`Sim::finish`]: every disk read back
    /// as a crash would leave it).
    pub fn run(&mut self, steps: usize) -> std::io::Result<Tally> {
        let tally = self.steps(steps)?;
        self.sim.finish();
        Ok(tally)
    }

    /// Run `steps` scheduled steps, leaving the nodes running.
    pub fn steps(&mut self, steps: usize) -> std::io::Result<Tally> {
        let mut tally = Tally::default();
        for _ in 0..steps {
            if !self.step(&mut tally)? {
                break;
            }
        }
        Ok(tally)
    }

    /// Replay this round's logs on the model, PG by PG.
    pub fn validate(&self) -> Result<Validated, validate::Divergence> {
        validate_volume_logs(&self.cfg, &self.sim.logs(), self.pgs)
    }

    /// Every node's log, node `i`'s at index `i`.
    pub fn logs(&self) -> Vec<Vec<VolumeEvent>> {
        self.sim.logs()
    }
}

/// What a quorum node logs.
pub type QuorumEvent = Event<Msg, Timer, Storage>;

/// How many nodes (hosts) a run of `cfg` has: every segment slot, the writer, the control
/// plane and the client.
pub fn nodes(cfg: &QuorumConfig) -> usize {
    Node::all(cfg).len()
}

/// Replay the logs of a run of `cfg` (node `i`'s at index `i`) on the actor model.
pub fn validate_logs(
    cfg: &QuorumConfig,
    logs: &[Vec<QuorumEvent>],
) -> Result<Validated, validate::Divergence> {
    validate::validate(&Replayer::new(cfg, false), logs)
}

/// Replay the logs of a run of a volume of `pgs` protection groups under `cfg` on the actor
/// model, PG by PG.
pub fn validate_volume_logs(
    cfg: &QuorumConfig,
    logs: &[Vec<VolumeEvent>],
    pgs: u16,
) -> Result<Validated, validate::Divergence> {
    volume::validate_volume(&Replayer::new(cfg, pgs > 1), logs, pgs)
}

/// The model a quorum run is replayed on: the actor model of its config without the checker's
/// bounds, with fault budgets as large as a run can spend.
pub struct Replayer {
    model: QuorumActorModel,
    ids: Ids,
}

impl Replayer {
    /// The replay model for runs of `cfg`; of one PG of a volume of several if `volume`
    /// ([`QuorumActorModel::for_volumes`]).
    pub fn new(cfg: &QuorumConfig, volume: bool) -> Self {
        let mut c = cfg.clone();
        c.composition = Composition::Actors;
        c.messages = quorate_model::quorum::Messages::Explicit;
        c.symmetry = false;
        c.loss = 0;
        // The network may deliver any datagram twice.
        c.duplicate = u8::MAX;
        // A node's log shows a crash, not its cause: an AZ outage is logged as a crash of
        // each segment it took down (its members, and a spare that joined), so the replay
        // allows those crashes too.
        let per_az = u8::try_from(c.slots().div_ceil(usize::from(c.azs.max(1)))).unwrap_or(u8::MAX);
        c.crashes = c
            .crashes
            .saturating_add(c.az_outages.saturating_mul(per_az));
        Replayer {
            ids: Ids { slots: c.slots() },
            model: if volume {
                QuorumActorModel::for_volumes(c)
            } else {
                QuorumActorModel::unbounded(c)
            },
        }
    }

    fn step(&self, s: &ActorState, a: ActorAction) -> Step<Self> {
        let (n, sent) = self.model.replay_step(s, a)?;
        Ok((
            n,
            sent.into_iter()
                .map(|e| (usize::from(e.dst), e.msg))
                .collect(),
        ))
    }
}

fn u(i: usize) -> u8 {
    u8::try_from(i).unwrap_or(u8::MAX)
}

impl Replay for Replayer {
    type Msg = Msg;
    type Timer = Timer;
    type Storage = Storage;
    type State = ActorState;

    fn start(&self) -> ActorState {
        self.model.unsettled()
    }

    fn sent_at_start(&self, s: &ActorState, i: usize) -> Vec<(usize, Msg)> {
        in_flight(&s.sys.network)
            .into_iter()
            .filter(|(e, _)| usize::from(e.src) == i)
            .flat_map(|(e, n)| std::iter::repeat_n((usize::from(e.dst), e.msg), n))
            .collect()
    }

    fn deliver(&self, s: &ActorState, src: usize, dst: usize, msg: &Msg) -> Step<Self> {
        let a = ActorAction::Deliver {
            src: u(src),
            dst: u(dst),
            msg: *msg,
        };
        self.step(s, a)
    }

    fn timer(&self, s: &ActorState, i: usize, timer: &Timer) -> Step<Self> {
        self.step(
            s,
            ActorAction::Timeout {
                actor: u(i),
                timer: *timer,
            },
        )
    }

    fn input(&self, s: &ActorState, i: usize, msg: &Msg) -> Step<Self> {
        match (*msg, Id::from(i)) {
            (Msg::Begin { f }, c) if c == self.ids.control() => {
                self.step(s, ActorAction::Begin { f })
            }
            (Msg::Request(r), c) if c == self.ids.client() => self.step(s, ActorAction::Request(r)),
            (m, _) => Err(format!(
                "actor {i} takes no input {m:?} from the environment"
            )),
        }
    }

    fn crash(&self, s: &ActorState, i: usize) -> Step<Self> {
        if i < self.ids.slots {
            self.step(s, ActorAction::Crash { seg: u(i) })
        } else if Id::from(i) == self.ids.writer() {
            self.step(s, ActorAction::WriterCrash)
        } else {
            Err(format!("actor {i} does not crash"))
        }
    }

    fn restart(&self, s: &ActorState, i: usize) -> Step<Self> {
        if i < self.ids.slots {
            self.step(s, ActorAction::Restart { seg: u(i) })
        } else if Id::from(i) == self.ids.writer() {
            self.step(s, ActorAction::WriterRestart)
        } else {
            Err(format!("actor {i} does not restart"))
        }
    }

    fn lose(&self, s: &ActorState, i: usize) -> Step<Self> {
        self.step(s, ActorAction::DiskLoss { seg: u(i) })
    }

    fn duplicate(&self, s: &ActorState, src: usize, dst: usize, msg: &Msg) -> Step<Self> {
        let a = ActorAction::Duplicate {
            src: u(src),
            dst: u(dst),
            msg: *msg,
        };
        self.step(s, a)
    }

    fn saved(&self, s: &ActorState, i: usize) -> Option<Storage> {
        self.model.saved(s, i)
    }

    fn violation(&self, s: &ActorState) -> Option<(&'static str, String)> {
        self.model.violation(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let cfg = QuorumConfig::preset("ci").unwrap();
        let run = |seed| {
            let mut r: Round = Round::new(&cfg, seed);
            r.run(500).unwrap();
            format!("{:?}", r.sim.logs())
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
