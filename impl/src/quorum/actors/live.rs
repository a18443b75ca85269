//! The storage quorum on the live configuration of the runtime: the model's actors, each on
//! its own thread with a UDP socket on loopback and a log file, the timers on the wall clock,
//! and the same fault table as the deterministic rounds ([`Faults`]) drawn every few
//! milliseconds. A live round is not repeatable from its seed (the kernel and the threads
//! decide the interleaving), which is why its logs are validated: they say what happened.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quorate_model::actor::volume::{InPg, Volume};
use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::{Ids, Msg, Timer};
use quorate_model::quorum::actors::node::Node;

use super::{Faults, Tally, VolumeEvent, draw_pg, volume};
use crate::durable::{FileDisk, Volatile};
use crate::runtime::cluster::Cluster;
use crate::runtime::host::DiskIo;
use crate::runtime::live::Live;
use crate::runtime::volume::PgView;

/// How often each timer fires on the wall clock (each firing jittered by ±50%). The writer
/// allocates faster than it resends, so a record is usually acknowledged before it is sent
/// again; a membership change is reverted only after its joiner has had a few chances to
/// hydrate and be finalized.
pub fn period(t: &Timer) -> Duration {
    Duration::from_millis(match t {
        Timer::NextMtr => 5,
        Timer::Install { .. } | Timer::TryOpen => 10,
        Timer::Resend { .. } | Timer::Refresh | Timer::Finalize => 20,
        Timer::Gossip { .. } => 30,
        Timer::Revert => 100,
    })
}

/// What a finished live round gives back.
pub struct LiveOutcome {
    /// The faults drawn and taken.
    pub tally: Tally,
    /// Every node's log, node `i`'s at index `i`.
    pub logs: Vec<Vec<VolumeEvent>>,
    /// Datagrams the codec rejected.
    pub rejected: u64,
    /// Saves appended and syncs done (group commit makes fewer syncs than saves).
    pub io: DiskIo,
    /// Why the round stopped early: a node that met an I/O error or could not start again
    /// from its disk.
    pub failed: Option<String>,
}

/// A storage quorum of `pgs` protection groups on threads, loopback sockets and disks of type
/// `D`.
pub struct LiveRound<D: Volatile = FileDisk> {
    live: Live<Volume<Node>, D>,
    faults: Faults,
    pgs: u16,
    nodes: usize,
}

impl LiveRound<FileDisk> {
    /// The actors of a volume of `pgs` protection groups under `cfg`, node `i` on the log file
    /// `dir/node-I.disk` (created, empty).
    pub fn in_dir(cfg: &QuorumConfig, pgs: u16, dir: &Path, seed: u64) -> io::Result<Self> {
        let disks = (0..Node::all(cfg).len())
            .map(|i| FileDisk::open(&dir.join(format!("node-{i}.disk"))))
            .collect::<io::Result<Vec<_>>>()?;
        Self::new(cfg, pgs, disks, seed)
    }
}

impl<D: Volatile + Send + 'static> LiveRound<D> {
    /// The actors of `cfg` on `disks`, every one started: the control plane and the client
    /// first, then the segments (each says hello to the control plane), the writer last (so
    /// that what each asks at its start finds its peer listening). `seed` draws the faults.
    pub fn new(cfg: &QuorumConfig, pgs: u16, disks: Vec<D>, seed: u64) -> io::Result<Self> {
        let every = |t: &InPg<Timer>| period(&t.of);
        let mut live = Live::new(volume(cfg, pgs), disks, every, seed)?;
        let ids = Ids { slots: cfg.slots() };
        let order = [ids.control(), ids.client()]
            .into_iter()
            .map(usize::from)
            .chain(0..ids.slots)
            .chain([usize::from(ids.writer())]);
        for i in order {
            live.start(i)
                .map_err(|e| io::Error::other(format!("node {i} could not start: {e}")))?;
        }
        Ok(LiveRound {
            live,
            faults: Faults::new(cfg),
            pgs,
            nodes: Node::all(cfg).len(),
        })
    }

    /// Run for `length`, drawing a fault (or a client request) every `every`, then stop every
    /// node and collect the logs (the error: a node's thread that could not be stopped).
    pub fn run(self, length: Duration, every: Duration) -> Result<LiveOutcome, String> {
        self.run_until(length, every, &AtomicBool::new(false))
    }

    /// [`LiveRound::run`], ended early once `stop` is set (an interrupt): the round is then
    /// shorter, and as valid.
    pub fn run_until(
        mut self,
        length: Duration,
        every: Duration,
        stop: &AtomicBool,
    ) -> Result<LiveOutcome, String> {
        let mut tally = Tally::default();
        let end = Instant::now() + length;
        let mut failed = None;
        while Instant::now() < end && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(every);
            tally.steps += 1;
            let (pgs, pg) = (self.pgs, draw_pg(self.live.rng(), self.pgs));
            if self.live.rng().chance(1, 4) {
                let i = self.live.rng().below(self.nodes as u64) as usize;
                self.live.garbage(i, &InPg { pg, of: Msg::Probe });
                tally.garbage += 1;
            }
            let mut view = PgView {
                nodes: &mut self.live,
                pg,
                pgs,
            };
            if let Err(e) = self.faults.take(&mut view, &mut tally) {
                failed = Some(e.to_string());
                break;
            }
            if let Some(e) = self.live.failure() {
                failed = Some(e);
                break;
            }
        }
        let failed = failed.or_else(|| self.live.failure());
        let finished = self.live.finish()?;
        Ok(LiveOutcome {
            tally,
            logs: finished.logs,
            rejected: finished.rejected,
            io: finished.io,
            failed,
        })
    }
}
