//! The engine of a live Backtrack cluster: [`EngineNode`] served on its own thread and UDP
//! socket, with its log in a file fsynced before every answer, and the proxy in front of it
//! that holds the client's connection.
//!
//! The engine decides everything with the model's functions, as in the simulated cluster (the
//! same `EngineNode::handle`). What the live runtime adds around it:
//!
//! * **The connection.** A commit's acknowledgement waits on the client's connection until the
//!   client takes it ([`Req::TakeAck`]), which the proxy allows only while the engine serves;
//!   the engine closes the connection when a backtrack starts (the acknowledgement is then
//!   never delivered). The connection is the proxy's, not the engine's memory: it survives the
//!   engine's restart after a crashed rewind, as the model's does.
//! * **The redo stream.** After a commit, and at a resume, the engine sends the readers the
//!   redo (or the order to drop their caches) as datagrams, in the order it logged them.
//! * **The observer.** Every request is handled while the observer's lock is held, and the
//!   mirror takes the engine's new state and what the model's history functions record for it
//!   (a tick's end, a commit, an acknowledgement, a backtrack's start, a resume).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::engine::{Chosen, serving};
use quorate_model::backtrack::history;
use quorate_model::backtrack::state::{BacktrackState, Mode, Open};
use quorate_model::backtrack::step::init;

use crate::backtrack::engine::{EngineNode, EngineState};
use crate::backtrack::wire::{self, Msg};
use crate::durable::FileDisk;
use crate::udp::{Outcome, Served};

/// What is asked of the engine (and of the proxy in front of it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Req {
    /// A message of the protocol.
    Msg(Msg),
    /// The client takes the acknowledgement waiting on its connection.
    TakeAck,
    /// What is your state? (the engine's own rewinder)
    State,
    /// Fault: crash now if a rewind is under way (the coordinator's crash, carried out at a
    /// moment the engine itself decides the rewind is still running).
    Crash,
}

/// The engine's (or the proxy's) answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Ans {
    /// The reply to a message.
    Reply(Msg),
    /// The acknowledgement of this commit, delivered.
    Acked(Open),
    /// The acknowledgement is still on its way (the engine does not serve now).
    NotYet,
    /// No acknowledgement waits: a backtrack closed the connection.
    Closed,
    /// Its state.
    State(Box<EngineState>),
    /// It crashed, mid-rewind, in this state (its memory is gone; its log stays).
    Crashed(Box<EngineState>),
    /// No rewind is under way: nothing to crash.
    NotApplying,
}

/// What the observer has seen: the mirror in the model's terms, and the round's counters.
#[derive(Debug)]
pub struct Seen {
    /// The mirror.
    pub state: BacktrackState,
    /// Notable events: when, and what.
    pub events: Vec<(std::time::Duration, String)>,
    /// Commits acknowledged to the client.
    pub acked: u64,
    /// Backtracks accepted.
    pub started: u64,
    /// Backtracks rejected.
    pub rejected: u64,
    /// Rewinds resumed.
    pub resumed: u64,
    /// Rewinds crashed.
    pub crashes: u64,
    /// History evicted early by memory pressure.
    pub pressure: u64,
    /// When each commit was made (to its acknowledgement's latency).
    committed_at: Vec<(u8, Instant)>,
    /// Commit latencies (µs).
    pub latencies_us: Vec<u64>,
    began: Instant,
}

impl Seen {
    /// Note a notable event.
    pub fn event(&mut self, what: String) {
        self.events.push((self.began.elapsed(), what));
    }

    /// The engine now holds `e`.
    pub fn engine(&mut self, e: &EngineState) {
        let s = &mut self.state;
        s.t = e.t;
        s.db = e.db;
        s.open = e.open;
        s.mode = e.mode();
        s.hist = e.hist;
        s.consistent = e.consistent;
        s.earliest = e.earliest;
        s.rewind_left = e.rewind_left;
    }
}

/// The observer: what it has seen, behind one lock.
#[derive(Debug)]
pub struct Observer {
    seen: Mutex<Seen>,
}

impl Observer {
    /// Nothing seen yet: the mirror is the model's initial state.
    pub fn new(cfg: &BacktrackConfig) -> Self {
        Observer {
            seen: Mutex::new(Seen {
                state: init(cfg),
                events: Vec::new(),
                acked: 0,
                started: 0,
                rejected: 0,
                resumed: 0,
                crashes: 0,
                pressure: 0,
                committed_at: Vec::new(),
                latencies_us: Vec::new(),
                began: Instant::now(),
            }),
        }
    }

    /// What it has seen.
    pub fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the engine's thread shares with the round.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The protocol's parameters.
    pub cfg: BacktrackConfig,
    /// The observer.
    pub obs: Arc<Observer>,
    /// The client's connection: a commit's acknowledgement on its way.
    pub connection: Arc<Mutex<Option<Open>>>,
    /// Where the readers listen for the redo stream.
    pub readers: Arc<Vec<SocketAddr>>,
    /// Datagrams rejected.
    pub rejected: Arc<AtomicU64>,
}

/// The engine served, with what it needs.
pub struct Engine {
    node: EngineNode<FileDisk>,
    redo: UdpSocket,
}

fn conn(ctx: &Ctx) -> MutexGuard<'_, Option<Open>> {
    ctx.connection.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(ctx: &Ctx, e: &mut Engine, req: Req) -> Outcome<Ans> {
    let cfg = &ctx.cfg;
    let msg = match req {
        Req::State => return Outcome::Answer(Ans::State(Box::new(e.node.state().clone()))),
        Req::TakeAck => {
            let mut seen = ctx.obs.lock();
            let mut c = conn(ctx);
            let Some(o) = *c else {
                return Outcome::Answer(Ans::Closed);
            };
            if !serving(cfg, &e.node.state().mode()) {
                return Outcome::Answer(Ans::NotYet);
            }
            *c = None;
            seen.state.pending = None;
            history::acknowledged(cfg, &mut seen.state, o);
            seen.acked += 1;
            if let Some(k) = seen.committed_at.iter().position(|(id, _)| *id == o.id) {
                let (_, at) = seen.committed_at.remove(k);
                seen.latencies_us.push(at.elapsed().as_micros() as u64);
            }
            return Outcome::Answer(Ans::Acked(o));
        }
        Req::Crash => {
            let mut seen = ctx.obs.lock();
            let was = e.node.state().clone();
            let Mode::Applying { before, .. } = was.mode() else {
                return Outcome::Answer(Ans::NotApplying);
            };
            if seen.state.budget.crashes == 0 {
                return Outcome::Answer(Ans::NotApplying);
            }
            seen.state.budget.crashes -= 1;
            history::crashed(&mut seen.state, &before);
            seen.engine(&was.after_crash());
            seen.crashes += 1;
            seen.event(format!(
                "fault: the engine crashes mid-rewind at t={}",
                was.t
            ));
            return Outcome::Last(Ans::Crashed(Box::new(was)));
        }
        Req::Msg(m) => m,
    };
    if wire::decode(&wire::encode(&msg)).is_err() {
        return Outcome::Reject;
    }
    let mut seen = ctx.obs.lock();
    let before = e.node.state().clone();
    // What the cluster showed during the tick ending, before the clock moves (kept only if
    // the engine records the tick).
    let ghost = seen.state.ghost;
    if matches!(msg, Msg::Tick) {
        history::tick_ends(&mut seen.state);
    }
    let reply = match e.node.handle(cfg, &msg) {
        Ok(r) => r,
        Err(err) => return Outcome::Fatal(format!("cannot write its log: {err}")),
    };
    seen.engine(e.node.state());
    let s = &mut seen.state;
    match (&msg, &reply) {
        (Msg::Tick, Msg::Done) => {}
        (Msg::Tick, _) => s.ghost = ghost,
        (Msg::Begin { id }, Msg::Done) => s.begun = s.begun.max(*id),
        (Msg::Commit, &Msg::Committed { id, wrote }) => {
            let o = Open { id, wrote };
            *conn(ctx) = Some(o);
            s.pending = Some(o);
            history::committed(cfg, s, o);
            seen.committed_at.push((id, Instant::now()));
            stream(ctx, &e.redo, &reply);
        }
        (&Msg::Backtrack { to: req, .. }, Msg::Rejected) => {
            history::rejected(s);
            seen.rejected += 1;
            seen.event(format!("operator: backtrack to t={req} rejected"));
        }
        (
            &Msg::Backtrack {
                to: req,
                use_earliest,
                force,
            },
            &Msg::Accepted {
                asked,
                to,
                fallback,
                target,
                paused,
                closed,
            },
        ) => {
            s.budget.backtracks = s.budget.backtracks.saturating_sub(1);
            if let Some(o) = before.open {
                history::inflight_at_start(s, o);
            }
            let mut c = conn(ctx);
            if let Some(o) = *c
                && paused
            {
                history::commit_at_start(cfg, s, o, &target);
                if closed {
                    *c = None; // the connection is closed: never acknowledged
                    s.pending = None;
                }
            }
            drop(c);
            let chosen = Chosen {
                asked,
                to,
                fallback,
            };
            history::started(s, chosen, req, use_earliest, force);
            seen.started += 1;
            seen.event(format!(
                "operator: backtrack at t={} to t={req}{}; the engine rewinds to t={to}",
                before.t,
                if use_earliest {
                    " (or the earliest time)"
                } else {
                    ""
                }
            ));
        }
        (Msg::Pressure, Msg::Done) => {
            s.budget.pressure = s.budget.pressure.saturating_sub(1);
            s.ghost.pressured_to = s.earliest;
            let earliest = s.earliest;
            seen.pressure += 1;
            seen.event(format!(
                "fault: memory pressure evicts history up to t={earliest}"
            ));
        }
        (Msg::Resume, Msg::Resumed { .. }) => {
            if let Mode::Applying { to, .. } = before.mode() {
                history::resumed(s, to);
                seen.resumed += 1;
                seen.event(format!("the engine resumes, rewound to t={to}"));
            }
            stream(ctx, &e.redo, &reply);
        }
        _ => {}
    }
    Outcome::Answer(Ans::Reply(reply))
}

/// Send the readers the redo stream's next message.
fn stream(ctx: &Ctx, socket: &UdpSocket, msg: &Msg) {
    let bytes = crate::codec::encode(msg);
    for &r in ctx.readers.iter() {
        let _ = socket.send_to(&bytes, r);
    }
}

/// Serve `node` at `at` (the engine's address, kept across its restarts).
pub fn spawn(
    ctx: &Ctx,
    at: Option<SocketAddr>,
    node: EngineNode<FileDisk>,
) -> Result<Served<Engine>, String> {
    let redo = crate::udp::bind(None)?;
    let c = ctx.clone();
    Served::spawn_at(
        "engine".into(),
        at,
        Engine { node, redo },
        ctx.rejected.clone(),
        move |e, req| serve(&c, e, req),
    )
}

/// The engine's state, from what `stop` returned.
pub fn state_of(e: &Engine) -> EngineState {
    e.node.state().clone()
}
