//! Requests and answers over UDP on loopback, for the real runtimes whose coordinator drives
//! nodes one request at a time (`failover::real`, `global::real`).
//!
//! A node runs on its own thread with its own socket ([`Served`]): it parses each datagram as
//! an [`Envelope`] of its request type (one that does not parse is counted and dropped), hands
//! it to its handler, and sends the answer back to the sender. When it is told to stop it hands
//! its node back, so the caller sees exactly what the node held; a handler that meets an error
//! it cannot go on from ends the thread, and the node is gone (the caller sees it died).
//!
//! The coordinator's [`Caller`] numbers its requests, sends one, waits for the answer with the
//! same number from the node's address, and asks again three times before it gives up.

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// A request or an answer, with the request's number.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The request's number.
    pub id: u64,
    /// The request or the answer.
    pub body: T,
}

/// What a node's handler did with one request.
pub enum Outcome<R> {
    /// Answer with this.
    Answer(R),
    /// The request's fields are out of range: count it, drop it, answer nothing.
    Reject,
    /// The node cannot go on (its log cannot be written): it stops, gone.
    Fatal(String),
    /// Answer with this, then stop and hand the node back (a crash the node carries out
    /// itself, at a moment of its own: nothing is handled after it).
    Last(R),
}

/// How long the caller waits for an answer before it sends the request again (an fsync on a
/// busy machine can take hundreds of milliseconds).
pub const ANSWER_WAIT: Duration = Duration::from_millis(500);
/// Sends of one request before the caller gives up (2 s in all).
pub const SENDS: usize = 4;

/// A node serving on its own thread and socket.
#[derive(Debug)]
pub struct Served<N> {
    addr: SocketAddr,
    thread: JoinHandle<Option<N>>,
    stop: Arc<AtomicBool>,
}

impl<N: Send + 'static> Served<N> {
    /// Serve `node` on a new thread named `name`; datagrams that do not parse, or that the
    /// handler rejects, are counted in `rejected`.
    pub fn spawn<Q, R>(
        name: String,
        node: N,
        rejected: Arc<AtomicU64>,
        handle: impl FnMut(&mut N, Q) -> Outcome<R> + Send + 'static,
    ) -> Result<Self, String>
    where
        Q: DeserializeOwned,
        R: Serialize,
    {
        Self::spawn_at(name, None, node, rejected, handle)
    }

    /// As [`Served::spawn`], on address `at` if given (a node that restarts keeps the address
    /// its peers know), a fresh one otherwise.
    pub fn spawn_at<Q, R>(
        name: String,
        at: Option<SocketAddr>,
        mut node: N,
        rejected: Arc<AtomicU64>,
        mut handle: impl FnMut(&mut N, Q) -> Outcome<R> + Send + 'static,
    ) -> Result<Self, String>
    where
        Q: DeserializeOwned,
        R: Serialize,
    {
        let socket = bind(at)?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
                while !flag.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue; // the read timeout: look at the stop flag again
                    };
                    let Ok(Envelope { id, body }) = crate::codec::parse::<Envelope<Q>>(&buf[..n])
                    else {
                        rejected.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let (answer, last) = match handle(&mut node, body) {
                        Outcome::Answer(r) => (r, false),
                        Outcome::Last(r) => (r, true),
                        Outcome::Reject => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Outcome::Fatal(why) => {
                            eprintln!("{name}: {why}; it stops");
                            return None;
                        }
                    };
                    let bytes = crate::codec::encode(&Envelope { id, body: answer });
                    let _ = socket.send_to(&bytes, from);
                    if last {
                        break;
                    }
                }
                Some(node)
            })
            .map_err(|e| e.to_string())?;
        Ok(Served { addr, thread, stop })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether its thread still runs (it ends by itself only when the node died).
    pub fn running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Tell it to stop, without waiting (to stop many at once, then [`Served::stop`] each).
    pub fn signal(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop it: the node as it was, or `None` if it had died.
    pub fn stop(self) -> Option<N> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

/// A socket on loopback: on `at` if given (the port was just given up by a node that stopped,
/// so a few tries cover the moment the OS takes to free it), a fresh port otherwise.
pub fn bind(at: Option<SocketAddr>) -> Result<UdpSocket, String> {
    let Some(addr) = at else {
        return UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"));
    };
    let mut last = String::new();
    for _ in 0..50 {
        match UdpSocket::bind(addr) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
        thread::sleep(Duration::from_millis(2));
    }
    Err(format!("cannot bind {addr} again: {last}"))
}

/// The coordinator's end: numbered requests, answers matched by number and address.
#[derive(Debug)]
pub struct Caller {
    socket: UdpSocket,
    next_id: Cell<u64>,
    /// How long it waits for an answer before it sends again.
    wait: Duration,
    /// Sends of one request before it gives up.
    sends: usize,
    /// Requests sent (first sends).
    pub requests: Cell<u64>,
    /// Requests sent again after no answer came in time.
    pub resent: Cell<u64>,
    /// Requests that got no answer at all.
    pub unanswered: Cell<u64>,
}

impl Caller {
    /// A caller on a fresh socket.
    pub fn new() -> Result<Self, String> {
        Self::with_patience(ANSWER_WAIT, SENDS)
    }

    /// A caller that waits `wait` for each answer and sends a request `sends` times at most
    /// (a node with its own timers cannot wait 2 s for a segment that is down).
    pub fn with_patience(wait: Duration, sends: usize) -> Result<Self, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
        socket
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        Ok(Caller {
            socket,
            wait,
            sends: sends.max(1),
            next_id: Cell::new(1),
            requests: Cell::new(0),
            resent: Cell::new(0),
            unanswered: Cell::new(0),
        })
    }

    /// Send `body` to the node at `addr` and wait for its answer (asking again if none comes);
    /// `None` if none came.
    pub fn call<Q: Serialize, R: DeserializeOwned>(&self, addr: SocketAddr, body: &Q) -> Option<R> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let bytes = crate::codec::encode(&Envelope { id, body });
        self.requests.set(self.requests.get() + 1);
        let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
        for attempt in 0..self.sends {
            if attempt > 0 {
                self.resent.set(self.resent.get() + 1);
            }
            if self.socket.send_to(&bytes, addr).is_err() {
                continue;
            }
            let deadline = Instant::now() + self.wait;
            while Instant::now() < deadline {
                let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                    break;
                };
                match crate::codec::parse::<Envelope<R>>(&buf[..n]) {
                    Ok(a) if a.id == id && from == addr => return Some(a.body),
                    _ => {} // a late answer to an earlier request, or not from the node
                }
            }
        }
        self.unanswered.set(self.unanswered.get() + 1);
        None
    }

    /// Send `body` to every node in `addrs` at once and wait for their answers together
    /// (asking again those that did not answer); each node's answer, `None` where none came.
    pub fn call_all<Q: Serialize, R: DeserializeOwned>(
        &self,
        addrs: &[SocketAddr],
        body: &Q,
    ) -> Vec<Option<R>> {
        let each: Vec<(SocketAddr, &Q)> = addrs.iter().map(|&a| (a, body)).collect();
        self.call_each(&each)
    }

    /// Send each request to its node at once and wait for the answers together (asking again
    /// those that did not answer); each request's answer, `None` where none came.
    pub fn call_each<Q: Serialize, R: DeserializeOwned>(
        &self,
        each: &[(SocketAddr, Q)],
    ) -> Vec<Option<R>> {
        let first = self.next_id.get();
        self.next_id.set(first + each.len() as u64);
        let mut out: Vec<Option<R>> = each.iter().map(|_| None).collect();
        let datagrams: Vec<Vec<u8>> = each
            .iter()
            .enumerate()
            .map(|(k, (_, body))| {
                crate::codec::encode(&Envelope {
                    id: first + k as u64,
                    body,
                })
            })
            .collect();
        self.requests.set(self.requests.get() + each.len() as u64);
        let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
        for attempt in 0..self.sends {
            let missing: Vec<usize> = (0..each.len()).filter(|&k| out[k].is_none()).collect();
            if missing.is_empty() {
                break;
            }
            for &k in &missing {
                if attempt > 0 {
                    self.resent.set(self.resent.get() + 1);
                }
                let _ = self.socket.send_to(&datagrams[k], each[k].0);
            }
            let deadline = Instant::now() + self.wait;
            while Instant::now() < deadline && out.iter().any(Option::is_none) {
                let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                    break;
                };
                let Ok(a) = crate::codec::parse::<Envelope<R>>(&buf[..n]) else {
                    continue;
                };
                let k = a.id.wrapping_sub(first) as usize;
                if k < each.len() && each[k].0 == from && out[k].is_none() {
                    out[k] = Some(a.body);
                }
            }
        }
        let unanswered = out.iter().filter(|a| a.is_none()).count() as u64;
        self.unanswered.set(self.unanswered.get() + unanswered);
        out
    }

    /// Send `n` datagrams of random bytes to `addr` (each must be rejected and counted).
    pub fn send_garbage(&self, addr: SocketAddr, rng: &mut Rng, n: usize) {
        for _ in 0..n {
            let len = 1 + rng.below(64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let _ = self.socket.send_to(&bytes, addr);
        }
    }

    /// Send raw bytes to `addr` (for tests of what a node rejects).
    pub fn send_raw(&self, addr: SocketAddr, bytes: &[u8]) {
        let _ = self.socket.send_to(bytes, addr);
    }
}
