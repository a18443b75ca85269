//! A step of the fast composition carried out on the deterministic runtime's nodes, so that the
//! checker's fast presets (and the counterexamples they find) are held to the implementation.
//!
//! A fast step is one input to one actor and the run-to-completion of what it causes, under
//! instant delivery and in a fixed order ([`quorate_model::quorum::step`]). The model keeps a
//! tape of it ([`Handled`]): every start, delivery and timer it handed an actor, with what the
//! handler sent, and every crash and lost disk. [`FastDriver::step`] takes the model's step and
//! carries its tape out on the nodes, each input through the node's host (disk, codec, log):
//!
//! * a message a handler of the step sent must be in the runtime's network, sent by that node
//!   (through the codec), and is delivered from there; one the environment or the fast
//!   composition's network abstraction hands over (a request, a fault's report, a redo record
//!   in flight since an earlier step) is handed to the node directly;
//! * every node must send exactly what the model's handler sent, and be down exactly where the
//!   model's actor does not run;
//! * after the step every node that runs must be in its actor's state, and the disk of every
//!   node that is down, read as a restart would read it, must hold the durable part of it (so a
//!   sync that does nothing is seen at the crash, not only at the next restart).
//!
//! What the step sent but did not deliver is cleared from the runtime's network: the fast
//! composition keeps the redo records in its network abstraction and drops messages to nodes
//! that are down. The runtime's own network (order, loss, duplication) is held to the model by
//! the actor presets (`drive.rs`) and by trace validation, not here.

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::actors::msg::{Ids, Msg, Storage};
use quorate_model::quorum::actors::node::{Node, NodeState};
use quorate_model::quorum::actors::segment;
use quorate_model::quorum::state::{QuorumState, SegState};
use quorate_model::quorum::step::{Action, Handled, init_taped, step_taped, writer_runs};

use crate::codec;
use crate::durable::MemDisk;
use crate::runtime::host::Outgoing;
use crate::runtime::sim::{Sim, SimDisk};

/// The sender's number on a message the runtime's network did not carry (the fast
/// composition's network abstraction, or the environment, hands it over).
pub const HANDED_OVER: u64 = u64::MAX;

/// The nodes of a storage quorum on the deterministic runtime, driven by the fast composition.
pub struct FastDriver<D: SimDisk = MemDisk> {
    /// The protocol's parameters.
    pub cfg: QuorumConfig,
    /// The nodes and their disks.
    pub sim: Sim<Node, D>,
    ids: Ids,
}

/// A segment's state with the composition's run flag set aside (whether a node runs is
/// compared on its own), and only its durable part if `durable`.
fn unflagged(x: &SegState, durable: bool) -> SegState {
    let mut x = if durable { segment::durable(x) } else { *x };
    x.up = false;
    x
}

impl<D: SimDisk> FastDriver<D> {
    /// The nodes of `cfg` started as the model's initial state starts them, and that state.
    pub fn new(cfg: &QuorumConfig, seed: u64) -> Result<(Self, QuorumState), String> {
        let (s, tape) = init_taped(cfg);
        let ids = Ids { slots: cfg.slots() };
        let mut d = FastDriver {
            cfg: cfg.clone(),
            sim: Sim::new(Node::all(cfg), seed),
            ids,
        };
        // The control plane and the client are born running; their start sends nothing.
        for i in [usize::from(ids.control()), usize::from(ids.client())] {
            let out = d.sim.hosts[i].start().map_err(|e| e.to_string())?;
            d.expect_sent(i, "its start", &out, &[])?;
        }
        d.carry_out(&tape).map_err(|e| format!("the start: {e}"))?;
        d.same(&s).map_err(|e| format!("after the start: {e}"))?;
        Ok((d, s))
    }

    /// Take `a` from model state `s` on the model and on the nodes: the model's next state, or
    /// `None` where the model does not enable `a`; an error says where the nodes departed from
    /// the model.
    pub fn step(&mut self, s: &QuorumState, a: &Action) -> Result<Option<QuorumState>, String> {
        let Some((next, tape)) = step_taped(&self.cfg, s, a) else {
            return Ok(None);
        };
        self.carry_out(&tape)?;
        self.same(&next)?;
        Ok(Some(next))
    }

    /// `s` with every actor's state the node's (a node that is down contributes what its disk
    /// synced): the implementation in the model's terms, for judging properties on it. The
    /// composition's own parts (the network abstraction, budgets, history) are the model's.
    pub fn lift(&self, s: &QuorumState) -> QuorumState {
        let mut out = s.clone();
        // Whether a segment runs or has lost its copy is the composition's flag, which
        // [`FastDriver::same`] holds to the nodes; a lost copy has nothing left to lift.
        for (i, x) in out.segs.iter_mut().enumerate().filter(|(_, x)| !x.lost) {
            let h = &self.sim.hosts[i];
            let mine = match (h.state(), h.on_disk()) {
                (Some(NodeState::Segment(y)), _) => *y,
                (None, Ok(Some(Storage::Segment(y)))) => segment::durable(&y),
                _ => continue,
            };
            let up = x.up;
            *x = mine;
            x.up = up;
        }
        if let Some(NodeState::Writer(w)) = self.sim.hosts[usize::from(self.ids.writer())].state() {
            out.writer = **w;
        }
        if let Some(NodeState::Control(c)) = self.sim.hosts[usize::from(self.ids.control())].state()
        {
            out.control = *c;
        }
        out
    }

    fn io(i: usize, what: &str, e: impl std::fmt::Display) -> String {
        format!("node {i}, {what}: {e}")
    }

    /// Carry out one tape.
    fn carry_out(&mut self, tape: &[Handled]) -> Result<(), String> {
        for h in tape {
            match h {
                Handled::Start { actor, sent, .. } => {
                    let i = usize::from(*actor);
                    let out = self.sim.hosts[i]
                        .start()
                        .map_err(|e| Self::io(i, "starting from its disk", e))?;
                    self.expect_sent(i, "its start", &out, sent)?;
                    self.sim.post(out);
                }
                Handled::Msg {
                    src,
                    dst,
                    msg,
                    by_handler,
                    sent,
                } => {
                    let (s, d) = (usize::from(*src), usize::from(*dst));
                    let what = format!("{msg:?} from node {s}");
                    let seq = if *by_handler {
                        self.take(s, d, msg)?
                    } else {
                        HANDED_OVER
                    };
                    // What is handed over goes through the codec too, as a datagram would.
                    let msg = codec::parse_sealed::<Msg>(&codec::encode_sealed(msg))
                        .map_err(|e| Self::io(d, &what, e))?;
                    let out = if !self.sim.hosts[d].runs() && msg == Msg::Retire {
                        self.retire_down(s, seq, d)?
                    } else {
                        self.runs(d, &what)?;
                        let host = &mut self.sim.hosts[d];
                        let r = if s == d {
                            host.input(msg)
                        } else {
                            host.deliver(s, seq, msg)
                        };
                        r.map_err(|e| Self::io(d, &what, e))?
                    };
                    self.expect_sent(d, &what, &out, sent)?;
                    self.sim.post(out);
                }
                Handled::Timer { actor, timer, sent } => {
                    let i = usize::from(*actor);
                    let what = format!("timer {timer:?}");
                    self.runs(i, &what)?;
                    let out = self.sim.hosts[i]
                        .fire(timer)
                        .map_err(|e| Self::io(i, &what, e))?;
                    self.expect_sent(i, &what, &out, sent)?;
                    self.sim.post(out);
                }
                Handled::Crash { actor } => self.sim.crash(usize::from(*actor)),
                Handled::DiskLoss { actor } => {
                    let i = usize::from(*actor);
                    let mut erased = Ok(());
                    self.sim.hosts[i].lose(|d| erased = d.erase());
                    erased.map_err(|e| Self::io(i, "erasing its lost disk", e))?;
                }
            }
        }
        // What the step did not deliver is the model's network abstraction's, or lost.
        self.sim.network.clear();
        Ok(())
    }

    /// A retirement reaches a joiner's copy even while its node is down (the copy is discarded
    /// either way): the node is woken from its disk to take it (from `src`, its send `seq`) and
    /// stopped again. What its waking sent is not part of the step: its log shows those sends
    /// released and the network losing them.
    fn retire_down(
        &mut self,
        src: usize,
        seq: u64,
        d: usize,
    ) -> Result<Vec<Outgoing<Msg>>, String> {
        let host = &mut self.sim.hosts[d];
        host.start()
            .map_err(|e| Self::io(d, "waking to retire", e))?;
        let out = host
            .deliver(src, seq, Msg::Retire)
            .map_err(|e| Self::io(d, "retiring", e))?;
        self.sim.crash(d);
        Ok(out)
    }

    fn runs(&self, i: usize, what: &str) -> Result<(), String> {
        if self.sim.hosts[i].runs() {
            Ok(())
        } else {
            Err(format!(
                "node {i} is down, but the model's actor handles {what}"
            ))
        }
    }

    /// Take the datagram carrying `msg` from `src` to `dst` out of the network, decoded; its
    /// sender's number.
    fn take(&mut self, src: usize, dst: usize, msg: &Msg) -> Result<u64, String> {
        let net = &mut self.sim.network;
        let k = net
            .iter()
            .position(|d| {
                d.src == src
                    && d.dst == dst
                    && codec::parse_sealed::<Msg>(&d.bytes).as_ref() == Ok(msg)
            })
            .ok_or_else(|| {
                format!("node {src} sent no {msg:?} to node {dst}, which the model's actor did")
            })?;
        Ok(net.remove(k).seq)
    }

    fn expect_sent(
        &self,
        i: usize,
        what: &str,
        out: &[Outgoing<Msg>],
        want: &[(u8, Msg)],
    ) -> Result<(), String> {
        let got: Vec<(usize, Msg)> = out.iter().map(|o| (o.dst, o.msg)).collect();
        let want: Vec<(usize, Msg)> = want.iter().map(|&(d, m)| (usize::from(d), m)).collect();
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "node {i}, on {what}, sent {got:?}; the model's actor sent {want:?}"
            ))
        }
    }

    /// Every node is where the model's actor is in `s`.
    pub fn same(&self, s: &QuorumState) -> Result<(), String> {
        for (i, x) in s.segs.iter().enumerate() {
            let h = &self.sim.hosts[i];
            // A running node's state is compared; only a node that is down is read from disk.
            let disk = if h.runs() {
                None
            } else {
                h.on_disk()
                    .map_err(|e| format!("segment node {i}'s disk: {e}"))?
            };
            let on_disk = match &disk {
                Some(Storage::Segment(y)) => Some(y),
                _ => None,
            };
            if x.lost {
                // Its disk is gone (nothing on it), or it took a retirement and holds nothing
                // any more (its node, if it still runs, takes no part).
                let retired = |y: Option<&SegState>| y.is_some_and(|y| y.lost);
                let state = match h.state() {
                    Some(NodeState::Segment(y)) => Some(y),
                    _ => None,
                };
                let erased = h.lost() && disk.is_none();
                let gone = erased || retired(state) || (state.is_none() && retired(on_disk));
                if !gone {
                    return Err(format!(
                        "segment node {i} has its copy; the model's segment lost it"
                    ));
                }
                continue;
            }
            let runs = x.up || x.spare;
            if h.runs() != runs {
                return Err(format!(
                    "segment node {i} {}, but the model's segment {}",
                    if h.runs() { "runs" } else { "is down" },
                    if runs { "runs" } else { "is down" }
                ));
            }
            let (mine, how) = match (h.state(), on_disk) {
                (Some(NodeState::Segment(y)), _) => (*y, "is in"),
                (None, Some(y)) => (*y, "has on its disk"),
                // A node whose disk holds nothing starts again from its birth.
                (None, None) => (
                    segment::born(&self.cfg, i),
                    "has nothing on its disk, so is at",
                ),
                (Some(other), _) => return Err(format!("segment node {i} is in {other:?}")),
            };
            if unflagged(&mine, !runs) != unflagged(x, !runs) {
                return Err(format!(
                    "segment node {i} {how} {mine:?}; the model's segment is in {x:?}"
                ));
            }
        }
        let w = usize::from(self.ids.writer());
        let want = writer_runs(&s.writer).then(|| NodeState::Writer(Box::new(s.writer)));
        if self.sim.hosts[w].state() != want.as_ref() {
            return Err(format!(
                "the writer node is in {:?}; the model's writer in {want:?}",
                self.sim.hosts[w].state()
            ));
        }
        let c = usize::from(self.ids.control());
        let want = NodeState::Control(s.control);
        if self.sim.hosts[c].state() != Some(&want) {
            return Err(format!(
                "the control plane node is in {:?}; the model's in {want:?}",
                self.sim.hosts[c].state()
            ));
        }
        Ok(())
    }
}
