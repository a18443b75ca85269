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
        mut node: N,
        rejected: Arc<AtomicU64>,
        mut handle: impl FnMut(&mut N, Q) -> Outcome<R> + Send + 'static,
    ) -> Result<Self, String>
    where
        Q: DeserializeOwned,
        R: Serialize,
    {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
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
                    let answer = match handle(&mut node, body) {
                        Outcome::Answer(r) => r,
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

    /// Stop it: the node as it was, or `None` if it had died.
    pub fn stop(self) -> Option<N> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

/// The coordinator's end: numbered requests, answers matched by number and address.
#[derive(Debug)]
pub struct Caller {
    socket: UdpSocket,
    next_id: Cell<u64>,
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
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
        socket
            .set_read_timeout(Some(ANSWER_WAIT))
            .map_err(|e| e.to_string())?;
        Ok(Caller {
            socket,
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
        for attempt in 0..SENDS {
            if attempt > 0 {
                self.resent.set(self.resent.get() + 1);
            }
            if self.socket.send_to(&bytes, addr).is_err() {
                continue;
            }
            let deadline = Instant::now() + ANSWER_WAIT;
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
