//! The simulated Backtrack cluster: the engine with its durable log, the reader instances,
//! the client and its connection, the operator, driven one scheduled event at a time.
//!
//! An event is named by the model's own [`Action`], and [`Cluster::apply`] carries it out the
//! way the nodes would: the client sends its transaction's requests, the engine answers and
//! streams its commits to the readers as redo; the operator's `BacktrackDBCluster` goes to
//! the engine, which decides with the model's functions and starts its rewind; the rewind's
//! steps (rewind a key, restart after a crash, resume) are the engine's own events. Every
//! message goes through the wire codec. A crash of the rewind restarts the engine from its disk
//! alone.
//!
//! **The client's connection.** A commit's acknowledgement is on its way to the client until
//! the `Ack` event delivers it, which happens only while the engine serves. The connection is
//! the network's, not the engine's memory: the engine closes it when a backtrack starts (the
//! acknowledgement is then never delivered), and it survives the engine's restart after a
//! crashed rewind (a proxy in front of the engine holds it; in the model the crash does not
//! touch it either).
//!
//! History the model keeps as ghost variables is recorded from what happened (commits,
//! acknowledgements delivered, the engine's answers) with the model's observer functions
//! (`quorate_model::backtrack::history`) on the cluster's state.

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::engine::Chosen;
use quorate_model::backtrack::history;
use quorate_model::backtrack::state::{BacktrackState, Budget, Ghost, Mode, Open};
use quorate_model::backtrack::step::{Action, init};

use super::engine::EngineState;
use super::host::{EngineHost, SimEngine};
use super::reader::ReaderNode;
use super::wire::{self, Msg};

/// The cluster, its engine on host `H` (simulated unless said otherwise).
#[derive(Debug)]
pub struct Cluster<H: EngineHost = SimEngine> {
    cfg: BacktrackConfig,
    host: H,
    readers: Vec<ReaderNode>,
    /// The client: transactions begun (the next id is `begun + 1`).
    begun: u8,
    /// The client's connection: a commit's acknowledgement on its way.
    pending: Option<Open>,
    budget: Budget,
    /// What happened, as observed.
    ghost: Ghost,
    /// One line per event carried out.
    log: Vec<String>,
    /// Datagrams rejected by the decoder.
    pub rejected_datagrams: u64,
}

impl Cluster {
    /// A fresh cluster under `cfg` (which must pass `validate`), on a simulated disk.
    pub fn new(cfg: &BacktrackConfig) -> Self {
        Cluster::with_host(cfg, SimEngine::new())
    }
}

impl<H: EngineHost> Cluster<H> {
    /// A fresh cluster under `cfg` with its engine on `host` (a fresh engine).
    pub fn with_host(cfg: &BacktrackConfig, host: H) -> Self {
        let init = init(cfg);
        Cluster {
            cfg: cfg.clone(),
            host,
            readers: vec![ReaderNode::default(); usize::from(cfg.readers)],
            begun: init.begun,
            pending: init.pending,
            budget: init.budget,
            ghost: Ghost::default(),
            log: Vec::new(),
            rejected_datagrams: 0,
        }
    }

    /// The event log so far, one line per event carried out.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    fn engine(&self) -> EngineState {
        self.host.state()
    }

    /// The engine's host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The engine's host, to change.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// A datagram through the codec: the message as it arrives, or `None` if it was refused.
    fn transmit(&mut self, msg: &Msg) -> Option<Msg> {
        match wire::decode(&wire::encode(msg)) {
            Ok(m) => Some(m),
            Err(_) => {
                self.rejected_datagrams += 1;
                None
            }
        }
    }

    /// Send `msg` to the engine; its reply.
    fn send(&mut self, msg: &Msg) -> Option<Msg> {
        let msg = self.transmit(msg)?;
        let reply = self.host.handle(&self.cfg, &msg)?;
        self.transmit(&reply)
    }

    /// Send `msg` to every reader.
    fn stream_to_readers(&mut self, msg: &Msg) {
        if let Some(msg) = self.transmit(msg) {
            for r in &mut self.readers {
                r.handle(&msg);
            }
        }
    }

    /// The cluster's state in the model's terms.
    pub fn lift(&self) -> BacktrackState {
        let e = self.engine();
        let mut caches = [None; quorate_model::backtrack::config::MAX_READERS];
        for (c, r) in caches.iter_mut().zip(&self.readers) {
            *c = r.cache;
        }
        BacktrackState {
            t: e.t,
            db: e.db,
            open: e.open,
            pending: self.pending,
            begun: self.begun,
            mode: e.mode(),
            hist: e.hist,
            consistent: e.consistent,
            earliest: e.earliest,
            caches,
            rewind_left: e.rewind_left,
            budget: self.budget,
            ghost: self.ghost,
        }
    }

    /// Record history with the model's observer functions, on the cluster's state.
    fn observe(&mut self, f: impl FnOnce(&mut BacktrackState)) {
        let mut s = self.lift();
        f(&mut s);
        self.ghost = s.ghost;
    }

    /// Carry out one scheduled event. Returns whether the cluster did; a refused event
    /// changes nothing.
    pub fn apply(&mut self, action: &Action) -> bool {
        let done = self.carry_out(action);
        if done {
            self.log.push(format!("{action:?}"));
        }
        done
    }

    fn done(reply: Option<Msg>) -> bool {
        matches!(reply, Some(Msg::Done))
    }

    fn carry_out(&mut self, action: &Action) -> bool {
        let cfg = self.cfg.clone();
        match *action {
            Action::Begin => {
                // The client begins only once its last commit is acknowledged.
                if self.pending.is_some() || self.begun >= cfg.txns {
                    return false;
                }
                let id = self.begun + 1;
                if !Self::done(self.send(&Msg::Begin { id })) {
                    return false;
                }
                self.begun = id;
                true
            }
            Action::Write { key } => Self::done(self.send(&Msg::Write { key })),
            Action::Commit => {
                let Some(Msg::Committed { id, wrote }) = self.send(&Msg::Commit) else {
                    return false;
                };
                self.stream_to_readers(&Msg::Committed { id, wrote });
                let o = Open { id, wrote };
                self.pending = Some(o);
                self.observe(|s| history::committed(&cfg, s, o));
                true
            }
            Action::Ack => {
                let serving =
                    quorate_model::backtrack::engine::serving(&cfg, &self.engine().mode());
                let Some(o) = self.pending.filter(|_| serving) else {
                    return false;
                };
                self.pending = None;
                self.observe(|s| history::acknowledged(&cfg, s, o));
                true
            }
            Action::Abort => Self::done(self.send(&Msg::Abort)),
            Action::Tick => {
                if self.engine().t >= cfg.max_time {
                    return false;
                }
                // What the cluster showed during the tick ending, before the clock moves (kept
                // only if the engine records the tick).
                let ghost = self.ghost;
                self.observe(history::tick_ends);
                let done = Self::done(self.send(&Msg::Tick));
                if !done {
                    self.ghost = ghost;
                }
                done
            }
            Action::Evict => Self::done(self.send(&Msg::Evict)),
            Action::Pressure => {
                if self.budget.pressure == 0 || !Self::done(self.send(&Msg::Pressure)) {
                    return false;
                }
                self.budget.pressure -= 1;
                self.ghost.pressured_to = self.engine().earliest;
                true
            }
            Action::Backtrack {
                to,
                use_earliest,
                force,
            } => self.backtrack(to, use_earliest, force),
            Action::ApplyKey { key } => Self::done(self.send(&Msg::ApplyKey { key })),
            Action::Crash => {
                let Mode::Applying { before, .. } = self.engine().mode() else {
                    return false;
                };
                if self.budget.crashes == 0 {
                    return false;
                }
                self.budget.crashes -= 1;
                self.observe(|s| history::crashed(s, &before));
                if let Err(why) = self.host.crash() {
                    // A damaged log: the engine is lost (reported).
                    self.log.push(format!("the engine cannot restart: {why}"));
                }
                true
            }
            Action::Restart => Self::done(self.send(&Msg::Restart)),
            Action::Resume => {
                let Mode::Applying { to, .. } = self.engine().mode() else {
                    return false;
                };
                let Some(resumed @ Msg::Resumed { .. }) = self.send(&Msg::Resume) else {
                    return false;
                };
                self.stream_to_readers(&resumed);
                self.observe(|s| history::resumed(s, to));
                true
            }
            Action::Read { reader } => {
                let r = usize::from(reader);
                if r >= self.readers.len() || !self.readers[r].wants_pages() {
                    return false;
                }
                let Some(pages @ Msg::Pages { .. }) = self.send(&Msg::Read) else {
                    return false;
                };
                if let Some(pages) = self.transmit(&pages) {
                    self.readers[r].handle(&pages);
                }
                self.observe(history::cache_filled);
                true
            }
        }
    }

    fn backtrack(&mut self, to: u8, use_earliest: bool, force: bool) -> bool {
        let cfg = self.cfg.clone();
        if self.budget.backtracks == 0 || to > cfg.max_time {
            return false;
        }
        let open = self.engine().open;
        let request = Msg::Backtrack {
            to,
            use_earliest,
            force,
        };
        let (asked, chosen_to, fallback, target, paused, closed) = match self.send(&request) {
            Some(Msg::Rejected) => {
                self.observe(history::rejected);
                return true;
            }
            Some(Msg::Accepted {
                asked,
                to,
                fallback,
                target,
                paused,
                closed,
            }) => (asked, to, fallback, target, paused, closed),
            _ => return false,
        };
        self.budget.backtracks -= 1;
        if let Some(o) = open {
            self.observe(|s| history::inflight_at_start(s, o));
        }
        if let Some(o) = self.pending
            && paused
        {
            self.observe(|s| history::commit_at_start(&cfg, s, o, &target));
            if closed {
                self.pending = None; // the connection is closed: never acknowledged
            }
        }
        let chosen = Chosen {
            asked,
            to: chosen_to,
            fallback,
        };
        // The data it started from is the engine's `before`: the pages now.
        self.observe(|s| history::started(s, chosen, to, use_earliest, force));
        true
    }
}
