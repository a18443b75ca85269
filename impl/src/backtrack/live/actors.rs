//! The threads around a live Backtrack engine, each with its own UDP socket and its own timer:
//!
//! * **the client**, every [`CLIENT_EVERY`]: begins its next transaction once its last
//!   commit's acknowledgement is taken (or its connection was closed), writes one or two keys,
//!   sometimes aborts, commits, and takes the acknowledgement from its connection. A request
//!   the paused engine refuses is asked again later; a transaction the engine no longer has
//!   (a backtrack dropped it in flight) is given up;
//! * **the readers**, every [`READER_EVERY`]: apply the engine's redo stream to their caches
//!   and, with an empty cache, read the engine's pages;
//! * **the clock**: a wall tick every [`TICK`], each followed by the background eviction of
//!   history older than the window;
//! * **the rewinder**, the engine's own background work during a rewind: every
//!   [`REWIND_EVERY`] it rewinds the next key, resumes once the model's rule lets it, and
//!   restarts a crashed rewind.
//!
//! Every request is sent once (a tick or a backtrack handled twice would happen twice) and
//! waits patiently; the engine may be down (a crashed rewind), and then nothing answers.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::engine as rules;
use quorate_model::backtrack::history;
use quorate_model::backtrack::state::Mode;

use super::engine::{Ans, Observer, Req};
use crate::backtrack::reader::ReaderNode;
use crate::backtrack::wire::Msg;
use crate::rng::Rng;
use crate::udp::Caller;

/// One wall tick of the model's clock.
pub const TICK: Duration = Duration::from_millis(50);
/// How often the client acts.
pub const CLIENT_EVERY: Duration = Duration::from_millis(8);
/// How often a reader acts.
pub const READER_EVERY: Duration = Duration::from_millis(5);
/// How often the rewinder acts.
pub const REWIND_EVERY: Duration = Duration::from_millis(4);
/// How long a thread waits for the engine's answer (an fsync on a loaded machine is slow;
/// the engine that is down answers nothing).
const WAIT: Duration = Duration::from_millis(300);

/// What every thread around the engine shares.
#[derive(Clone, Debug)]
pub struct Around {
    /// The protocol's parameters.
    pub cfg: BacktrackConfig,
    /// The engine's address (kept across its restarts).
    pub engine: SocketAddr,
    /// The observer.
    pub obs: Arc<Observer>,
    /// Datagrams rejected (by the readers).
    pub rejected: Arc<std::sync::atomic::AtomicU64>,
    /// Requests sent, sent again, unanswered.
    pub requests: Arc<[std::sync::atomic::AtomicU64; 3]>,
}

impl Around {
    fn count(&self, c: &Caller) {
        self.requests[0].fetch_add(c.requests.get(), Ordering::Relaxed);
        self.requests[1].fetch_add(c.resent.get(), Ordering::Relaxed);
        self.requests[2].fetch_add(c.unanswered.get(), Ordering::Relaxed);
    }

    fn ask(&self, c: &Caller, msg: Msg) -> Option<Msg> {
        match c.call::<Req, Ans>(self.engine, &Req::Msg(msg))? {
            Ans::Reply(m) => Some(m),
            _ => None,
        }
    }
}

/// A thread around the engine.
pub struct Actor {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Actor {
    /// Tell it to stop, without waiting.
    pub fn signal(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop it.
    pub fn stop(self) {
        self.signal();
        let _ = self.thread.join();
    }
}

fn spawn(name: &str, f: impl FnOnce(&AtomicBool) + Send + 'static) -> Result<Actor, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name(name.into())
        .spawn(move || f(&flag))
        .map_err(|e| e.to_string())?;
    Ok(Actor { thread, stop })
}

/// What the client is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Ready to begin its next transaction.
    Idle,
    /// Its transaction is open, having written these keys.
    Open { wrote: u8 },
    /// It committed (or lost track of its transaction) and waits for its connection.
    Waiting,
}

/// Start the client; `done` is set once it has run its whole workload.
pub fn client(a: &Around, seed: u64, done: Arc<AtomicBool>) -> Result<Actor, String> {
    let a = a.clone();
    spawn("client", move |stop| {
        let Ok(c) = Caller::with_patience(WAIT, 1) else {
            return;
        };
        let mut rng = Rng::new(seed);
        let mut phase = Phase::Idle;
        let mut begun = 0u8;
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(CLIENT_EVERY);
            if stop.load(Ordering::Relaxed) {
                break; // told to stop while it slept: it does not act once more
            }
            phase = match phase {
                Phase::Idle if begun >= a.cfg.txns => {
                    done.store(true, Ordering::Relaxed);
                    Phase::Idle
                }
                Phase::Idle => match a.ask(&c, Msg::Begin { id: begun + 1 }) {
                    Some(Msg::Done) => {
                        begun += 1;
                        Phase::Open { wrote: 0 }
                    }
                    // No answer: it may have begun; the id is not offered again.
                    None => {
                        begun += 1;
                        Phase::Waiting
                    }
                    // A transaction of its own is still open (a begin whose answer was lost):
                    // roll it back.
                    Some(Msg::Refused {
                        why: crate::backtrack::wire::Refusal::Nothing,
                    }) => {
                        a.ask(&c, Msg::Abort);
                        Phase::Idle
                    }
                    _ => Phase::Idle,
                },
                Phase::Open { wrote } => {
                    let keys = a.cfg.keys;
                    let left: Vec<u8> = (0..keys).filter(|k| wrote & (1 << k) == 0).collect();
                    let commit = wrote != 0 && (left.is_empty() || rng.chance(1, 2));
                    let msg = if wrote != 0 && rng.chance(1, 12) {
                        Msg::Abort
                    } else if commit {
                        Msg::Commit
                    } else {
                        Msg::Write {
                            key: left[rng.below(left.len() as u64) as usize],
                        }
                    };
                    match (&msg, a.ask(&c, msg.clone())) {
                        (Msg::Write { key }, Some(Msg::Done)) => Phase::Open {
                            wrote: wrote | (1 << key),
                        },
                        (Msg::Abort, Some(Msg::Done)) => Phase::Idle,
                        (Msg::Commit, Some(Msg::Committed { .. })) => Phase::Waiting,
                        (
                            _,
                            Some(Msg::Refused {
                                why: crate::backtrack::wire::Refusal::Paused,
                            }),
                        ) => phase,
                        // The engine no longer has it (dropped by a backtrack), or no answer:
                        // the connection says whether a commit waits.
                        _ => Phase::Waiting,
                    }
                }
                Phase::Waiting => match c.call::<Req, Ans>(a.engine, &Req::TakeAck) {
                    Some(Ans::Acked(_) | Ans::Closed) => Phase::Idle,
                    _ => Phase::Waiting,
                },
            };
            if phase != Phase::Idle || begun < a.cfg.txns {
                done.store(false, Ordering::Relaxed);
            }
        }
        a.count(&c);
    })
}

/// Start reader `r`, listening for the redo stream on `socket`.
pub fn reader(a: &Around, r: usize, socket: UdpSocket) -> Result<Actor, String> {
    let a = a.clone();
    spawn(&format!("reader {}", r + 1), move |stop| {
        let Ok(c) = Caller::with_patience(WAIT, 1) else {
            return;
        };
        let _ = socket.set_read_timeout(Some(READER_EVERY));
        let mut node = ReaderNode::default();
        let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
        while !stop.load(Ordering::Relaxed) {
            // The redo stream, in the order the engine sent it.
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                match crate::backtrack::wire::decode(&buf[..n]) {
                    Ok(m @ (Msg::Committed { .. } | Msg::Resumed { .. })) => {
                        let mut seen = a.obs.lock();
                        node.handle(&m);
                        seen.state.caches[r] = node.cache;
                    }
                    _ => {
                        a.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = socket.set_read_timeout(Some(Duration::from_millis(1)));
            }
            let _ = socket.set_read_timeout(Some(READER_EVERY));
            if node.wants_pages()
                && let Some(pages @ Msg::Pages { .. }) = a.ask(&c, Msg::Read)
            {
                let mut seen = a.obs.lock();
                node.handle(&pages);
                seen.state.caches[r] = node.cache;
                history::cache_filled(&mut seen.state);
            }
        }
        a.count(&c);
    })
}

/// Start the clock (and the background eviction after every tick).
pub fn clock(a: &Around) -> Result<Actor, String> {
    let a = a.clone();
    spawn("clock", move |stop| {
        let Ok(c) = Caller::with_patience(WAIT, 1) else {
            return;
        };
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(TICK);
            if stop.load(Ordering::Relaxed) {
                break; // told to stop while it slept: it does not act once more
            }
            a.ask(&c, Msg::Tick);
            a.ask(&c, Msg::Evict);
        }
        a.count(&c);
    })
}

/// Start the rewinder.
pub fn rewinder(a: &Around) -> Result<Actor, String> {
    let a = a.clone();
    spawn("rewinder", move |stop| {
        let Ok(c) = Caller::with_patience(WAIT, 1) else {
            return;
        };
        let keys = a.cfg.keys;
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(REWIND_EVERY);
            if stop.load(Ordering::Relaxed) {
                break; // told to stop while it slept: it does not act once more
            }
            let Some(Ans::State(e)) = c.call::<Req, Ans>(a.engine, &Req::State) else {
                continue;
            };
            let next = |done: u8| (0..keys).find(|k| done & (1 << k) == 0);
            let msg = match (e.mode(), e.rewind_left) {
                (Mode::Applying { done, .. }, _) if rules::may_resume(&a.cfg, done) => Msg::Resume,
                (Mode::Applying { done, .. }, _) => match next(done) {
                    Some(key) => Msg::ApplyKey { key },
                    None => continue,
                },
                (Mode::Crashed { .. }, _) => Msg::Restart,
                (Mode::Normal, Some((_, done))) => match next(done) {
                    Some(key) => Msg::ApplyKey { key },
                    None => continue,
                },
                _ => continue,
            };
            a.ask(&c, msg);
        }
        a.count(&c);
    })
}
