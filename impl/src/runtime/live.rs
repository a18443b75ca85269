//! The live configuration: every actor a [`Host`] on its own thread, with its own UDP socket on
//! loopback and its own disk (a log file synced with `fsync`), its timers on the wall clock.
//! Nothing is scheduled: the kernel decides the order datagrams arrive in and whether a full
//! socket buffer drops one, threads race, and a disk's `fsync` takes the time it takes.
//!
//! A datagram is a CRC-32 seal, then the sender's node number (`u32` LE) and its number for
//! the send (`u64` LE), then the message through the wire codec; a datagram whose seal does
//! not hold, that does not decode, or that does not come from the socket of the node it names
//! is counted and dropped. Datagrams that arrive together are handled as one group commit (one
//! sync for their saves, then their messages). A timer fires every period the protocol gives
//! it, with a seeded jitter of ±50% so that nodes do not march in step; a firing while the
//! node is down does nothing.
//!
//! The environment (a protocol's fault table and workload, through [`Cluster`]) works in
//! draws. A draw first holds every node (each thread finishes the handler it is in, publishes
//! its state and then only takes commands), so what the environment reads is a consistent cut,
//! every node as of its last event; then it acts, each act a command the node's thread carries
//! out and logs among its own events; then it lets every node go. A read and the act it decides
//! are thus one moment of the run, as in the deterministic configuration.
//!
//! At [`Live::finish`] every node stops, its disk drops what it never synced, and what the disk
//! then gives back is logged, as in the deterministic configuration: the logs validate the same.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quorate_model::actor::Role;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cluster::{Cluster, Reads};
use super::host::{DiskIo, EventOf, Host, Outgoing};
use crate::codec;
use crate::durable::Volatile;
use crate::rng::Rng;

/// How long a timer waits between firings, by timer (the protocol's choice).
pub type Periods<T> = fn(&T) -> Duration;

/// What the environment sees of one node: as of its last event.
struct View<R: Role> {
    state: Option<R::State>,
    saved: Option<R::Storage>,
    lost: bool,
    events: usize,
    /// Datagrams it refused (seal, codec or source).
    rejected: u64,
    /// The first I/O error it met; it handles no input after one (it still ends).
    failed: Option<String>,
}

/// What the environment asks a node's thread to do.
enum Command<M> {
    /// Finish the handler in progress, then take only commands until `Go`.
    Hold,
    Go,
    Start,
    Crash {
        keep: usize,
    },
    Lose {
        reports: Vec<(usize, M)>,
    },
    Input(M),
    End,
}

/// A command's answer: the node's state just after it, or why it could not be carried out.
type Reply<S> = Result<Option<S>, String>;

/// A command, the environment's reads it rests on (node, events seen), where to answer.
type Envelope<R> = (
    Command<<R as Role>::Msg>,
    Vec<(usize, usize)>,
    Sender<Reply<<R as Role>::State>>,
);

struct Node<R: Role, D: Volatile> {
    commands: Sender<Envelope<R>>,
    view: Arc<Mutex<View<R>>>,
    thread: Option<JoinHandle<Host<R, D>>>,
}

/// Actors on threads, UDP sockets on loopback and disks of type `D`.
pub struct Live<R: Role, D: Volatile> {
    nodes: Vec<Node<R, D>>,
    rng: Rng,
    reads: Reads,
    /// Where the nodes listen, and the socket garbage comes from.
    addrs: Arc<Vec<SocketAddr>>,
    outside: UdpSocket,
}

/// What a finished live run gives back.
pub struct Finished<R: Role> {
    /// Every node's log, node `i`'s at index `i`.
    pub logs: Vec<Vec<EventOf<R>>>,
    /// Datagrams the codec rejected, over all nodes.
    pub rejected: u64,
    /// Saves appended and syncs done, over all nodes (group commit makes fewer syncs).
    pub io: DiskIo,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A node thread that panicked leaves its view as it was; reading it is still sound.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R, D> Live<R, D>
where
    R: Role + Send + 'static,
    R::Msg: Serialize + DeserializeOwned + Send + 'static,
    R::Timer: Send + 'static,
    R::Storage: Serialize + DeserializeOwned + Send + 'static,
    R::State: Send + 'static,
    D: Volatile + Send + 'static,
{
    /// `roles` (actor `i` plays `roles[i]`, on `disks[i]`), each on its own thread with a
    /// socket bound on loopback, none started yet. `seed` draws the timers' jitter and the
    /// torn writes of crashes.
    pub fn new(
        roles: Vec<R>,
        disks: Vec<D>,
        periods: Periods<R::Timer>,
        seed: u64,
    ) -> io::Result<Self> {
        let outside = UdpSocket::bind("127.0.0.1:0")?;
        let sockets = roles
            .iter()
            .map(|_| UdpSocket::bind("127.0.0.1:0"))
            .collect::<io::Result<Vec<_>>>()?;
        let addrs = Arc::new(
            sockets
                .iter()
                .map(UdpSocket::local_addr)
                .collect::<io::Result<Vec<_>>>()?,
        );
        let mut rng = Rng::new(seed);
        let mut nodes = Vec::new();
        for (i, ((role, disk), socket)) in roles.into_iter().zip(disks).zip(sockets).enumerate() {
            let view = Arc::new(Mutex::new(View {
                state: None,
                saved: None,
                lost: false,
                events: 0,
                rejected: 0,
                failed: None,
            }));
            let (tx, rx) = mpsc::channel();
            let serve = Serve {
                host: Host::new(i, role, disk),
                socket,
                addrs: Arc::clone(&addrs),
                commands: rx,
                view: Arc::clone(&view),
                periods,
                rng: Rng::new(rng.next_u64()),
            };
            let thread = thread::Builder::new()
                .name(format!("node-{i}"))
                .spawn(move || serve.run())?;
            nodes.push(Node {
                commands: tx,
                view,
                thread: Some(thread),
            });
        }
        Ok(Live {
            nodes,
            rng,
            reads: Reads::default(),
            addrs,
            outside,
        })
    }

    /// Send node `dst` a garbage datagram from outside the cluster: random bytes, a datagram
    /// carrying `sample` cut short, one with a digit of it changed (still decodable, so only
    /// its seal refuses it), or a well-sealed one that names a node it does not come from.
    /// The node must refuse it before it handles anything, so it leaves no trace in the logs.
    pub fn garbage(&mut self, dst: usize, sample: &R::Msg) {
        let kind = self.rng.below(4);
        // A real sender, so that only the seal (or, for a sealed one, where it comes from)
        // stands between the node and a message no node sent.
        let src = dst as u32;
        let mut frame = Vec::with_capacity(HEADER + 64);
        frame.extend_from_slice(&src.to_le_bytes());
        frame.extend_from_slice(&u64::MAX.to_le_bytes());
        frame.extend_from_slice(&codec::encode(sample));
        let mut d = codec::seal(&frame);
        match kind {
            0 => d.truncate(self.rng.below(d.len() as u64) as usize),
            1 => codec::damage_a_digit(&mut d[codec::SEAL + HEADER..]),
            2 => {}
            _ => {
                d = (0..self.rng.below(64))
                    .map(|_| self.rng.below(256) as u8)
                    .collect();
            }
        }
        // A datagram the kernel refuses is lost, as the network may lose any.
        let _ = self.outside.send_to(&d, self.addrs[dst]);
    }

    /// Have node `i` carry out `c`, after logging what the environment read.
    fn command(&self, i: usize, c: Command<R::Msg>) -> Reply<R::State> {
        let (tx, rx) = mpsc::channel();
        // Every node is held in a draw, so the events a node has published are all it has.
        let saw = self.reads.list(|n| lock(&self.nodes[n].view).events);
        self.nodes[i]
            .commands
            .send((c, saw, tx))
            .map_err(|_| format!("node {i} has stopped"))?;
        rx.recv().map_err(|_| format!("node {i} has stopped"))?
    }

    /// Read node `i`'s view (noted in the draw's reads, with the events it covers).
    fn read<T>(&self, i: usize, f: impl FnOnce(&View<R>) -> T) -> T {
        self.reads.note(i);
        f(&lock(&self.nodes[i].view))
    }

    /// Send `c` to every node at once, then wait for every answer (a node that has stopped
    /// answers nothing, and what it published stays readable).
    fn command_all(&self, c: impl Fn() -> Command<R::Msg>) {
        let answers: Vec<_> = self
            .nodes
            .iter()
            .filter_map(|n| {
                let (tx, rx) = mpsc::channel();
                n.commands.send((c(), Vec::new(), tx)).ok().map(|()| rx)
            })
            .collect();
        for rx in answers {
            let _ = rx.recv();
        }
    }

    /// Hold every node (a draw begins): each finishes what it is handling and then takes only
    /// commands.
    fn hold_all(&self) {
        self.command_all(|| Command::Hold);
    }

    /// Let every node go on (a draw ends).
    fn go_all(&self) {
        self.command_all(|| Command::Go);
    }

    /// The first I/O error a node met, if any.
    pub fn failure(&self) -> Option<String> {
        self.nodes.iter().enumerate().find_map(|(i, n)| {
            lock(&n.view)
                .failed
                .clone()
                .map(|e| format!("node {i}: {e}"))
        })
    }

    /// End the run: every node stops, its disk drops what it never synced, and what the disk
    /// then gives back is logged.
    /// The error: the first node whose thread could not be ended (every other node is ended
    /// and joined all the same).
    pub fn finish(mut self) -> Result<Finished<R>, String> {
        for i in 0..self.nodes.len() {
            // A thread that is gone shows up when it is joined below.
            let _ = self.command(i, Command::End);
        }
        let mut rejected = 0;
        let mut io = DiskIo::default();
        let mut logs = Vec::new();
        let mut broken = None;
        for (i, n) in self.nodes.iter_mut().enumerate() {
            rejected += lock(&n.view).rejected;
            let joined = n.thread.take().map(JoinHandle::join);
            match joined {
                Some(Ok(host)) => {
                    io.saves += host.io.saves;
                    io.syncs += host.io.syncs;
                    logs.push(host.log);
                }
                _ => {
                    broken.get_or_insert(format!("node {i}'s thread panicked"));
                }
            }
        }
        match broken {
            Some(e) => Err(e),
            None => Ok(Finished { logs, rejected, io }),
        }
    }
}

impl<R, D> Cluster<R> for Live<R, D>
where
    R: Role + Send + 'static,
    R::Msg: Serialize + DeserializeOwned + Send + 'static,
    R::Timer: Send + 'static,
    R::Storage: Serialize + DeserializeOwned + Send + 'static,
    R::State: Send + 'static,
    D: Volatile + Send + 'static,
{
    fn len(&self) -> usize {
        self.nodes.len()
    }
    fn begin_draw(&mut self) {
        self.reads.forget();
        self.hold_all();
    }
    fn end_draw(&mut self) {
        self.go_all();
    }
    fn state(&self, i: usize) -> Option<R::State> {
        self.read(i, |v| v.state.clone())
    }
    fn saved(&self, i: usize) -> Option<R::Storage> {
        self.read(i, |v| v.saved.clone())
    }
    fn lost(&self, i: usize) -> bool {
        self.read(i, |v| v.lost)
    }
    fn events(&self, i: usize) -> usize {
        self.read(i, |v| v.events)
    }
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
    fn start(&mut self, i: usize) -> Result<(), String> {
        self.command(i, Command::Start).map(|_| ())
    }
    fn crash(&mut self, i: usize) {
        let keep = self.rng.below(64) as usize;
        // A node that has stopped has nothing left to crash.
        let _ = self.command(i, Command::Crash { keep });
    }
    fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>) {
        let _ = self.command(i, Command::Lose { reports });
    }
    fn input(&mut self, i: usize, msg: R::Msg) -> io::Result<Option<R::State>> {
        self.command(i, Command::Input(msg))
            .map_err(io::Error::other)
    }
}

/// One node's thread: its host, its socket, the commands it takes.
struct Serve<R: Role, D: Volatile> {
    host: Host<R, D>,
    socket: UdpSocket,
    addrs: Arc<Vec<SocketAddr>>,
    commands: Receiver<Envelope<R>>,
    view: Arc<Mutex<View<R>>>,
    periods: Periods<R::Timer>,
    rng: Rng,
}

/// Bytes of a datagram's header (inside its seal): sender and sequence number.
const HEADER: usize = 12;
/// The most datagrams one group commit takes.
const BATCH_MAX: usize = 64;
/// The longest a node waits for a datagram before it looks at its commands again.
const POLL: Duration = Duration::from_millis(1);

impl<R, D> Serve<R, D>
where
    R: Role,
    R::Msg: Serialize + DeserializeOwned,
    R::Storage: Serialize + DeserializeOwned,
    D: Volatile,
{
    fn run(mut self) -> Host<R, D> {
        let timers = self.host.role().timers();
        let now = Instant::now();
        let mut due: Vec<Instant> = timers.iter().map(|t| now + self.jitter(t)).collect();
        let mut buf = vec![0u8; codec::DATAGRAM_BYTES_MAX + codec::SEAL + HEADER + 1];
        self.publish();
        loop {
            if self.commands_until_idle() {
                return self.host;
            }
            let now = Instant::now();
            for (k, t) in timers.iter().enumerate() {
                if due[k] <= now {
                    due[k] = now + self.jitter(t);
                    if self.fit() && self.host.runs() {
                        let out = self.host.fire(t);
                        self.release(out);
                    }
                }
            }
            let next = due.iter().min().copied().unwrap_or(now + POLL);
            let wait = next
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_micros(50), POLL);
            let _ = self.socket.set_read_timeout(Some(wait));
            if let Ok((n, from)) = self.socket.recv_from(&mut buf)
                && self.fit()
            {
                // Group commit: every datagram that has arrived by now (up to a bound) is
                // handled, then one sync makes all their saves durable before any of their
                // messages leaves.
                self.host.begin_batch();
                self.receive(&buf[..n], from);
                let _ = self.socket.set_nonblocking(true);
                for _ in 1..BATCH_MAX {
                    let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                        break;
                    };
                    if !self.fit() {
                        break;
                    }
                    self.receive(&buf[..n], from);
                }
                let _ = self.socket.set_nonblocking(false);
                if self.fit() {
                    let out = self.host.end_batch();
                    self.release(out);
                } else {
                    // A node that met an I/O error releases nothing more.
                    self.host.drop_batch();
                }
            }
        }
    }

    /// Take the commands waiting, and while held every command until `Go`; `true` once the
    /// node has ended.
    fn commands_until_idle(&mut self) -> bool {
        let mut held = false;
        loop {
            let next = if held {
                self.commands.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                self.commands.try_recv()
            };
            match next {
                Ok((Command::End, _, reply)) => {
                    self.host.end(|d| d.crash(0));
                    self.publish();
                    let _ = reply.send(Ok(None));
                    return true;
                }
                Ok((Command::Hold, _, reply)) => {
                    held = true;
                    let _ = reply.send(Ok(None));
                }
                Ok((Command::Go, _, reply)) => {
                    held = false;
                    let _ = reply.send(Ok(None));
                }
                Ok((c, saw, reply)) => {
                    let r = self.obey(c, saw);
                    self.publish();
                    let r = r.map(|out| {
                        self.send(out);
                        self.host.state().cloned()
                    });
                    let _ = reply.send(r);
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => {
                    self.host.end(|d| d.crash(0));
                    return true;
                }
            }
        }
    }

    /// Whether the node has met no I/O error.
    fn fit(&self) -> bool {
        lock(&self.view).failed.is_none()
    }

    /// Note the node's first I/O error: it handles no input after it.
    fn fail(&self, e: String) {
        lock(&self.view).failed.get_or_insert(e);
    }

    /// The timer's next wait: its period, jittered by ±50%.
    fn jitter(&mut self, t: &R::Timer) -> Duration {
        let p = (self.periods)(t);
        p / 2 + p.mul_f64(self.rng.below(1000) as f64 / 1000.0)
    }

    /// Carry out an act, logged after the reads it rests on (`saw`); what it releases is sent
    /// by the caller once the node's state is published.
    fn obey(
        &mut self,
        c: Command<R::Msg>,
        saw: Vec<(usize, usize)>,
    ) -> Result<Vec<Outgoing<R::Msg>>, String> {
        if let Some(e) = lock(&self.view).failed.clone() {
            return Err(format!("the node met an I/O error earlier: {e}"));
        }
        for (n, e) in saw {
            self.host.saw(n, e);
        }
        match c {
            Command::Start => self.host.start().map_err(|e| {
                let e = e.to_string();
                // A start whose first effects could not be carried out leaves the node
                // running with them undone: it must handle nothing more.
                if self.host.runs() {
                    self.fail(e.clone());
                }
                e
            }),
            Command::Crash { keep } => {
                self.host.crash(|d| d.crash(keep));
                Ok(Vec::new())
            }
            Command::Lose { reports } => {
                self.host.lose(|d| {
                    let _ = d.erase();
                });
                Ok(reports
                    .into_iter()
                    .map(|(dst, msg)| self.host.send_for(dst, msg))
                    .collect())
            }
            Command::Input(msg) => self.host.input(msg).map_err(|e| {
                self.fail(e.to_string());
                e.to_string()
            }),
            Command::Hold | Command::Go | Command::End => Ok(Vec::new()),
        }
    }

    /// Handle a datagram that came from `from`: refused unless its seal holds, it decodes, and
    /// it comes from the socket of the node it names (the seal is a checksum, not a
    /// signature).
    fn receive(&mut self, bytes: &[u8], from: SocketAddr) {
        let bytes = codec::unseal(bytes).unwrap_or_default();
        let decoded = (bytes.len() >= HEADER)
            .then(|| {
                let src = u32::from_le_bytes(bytes[..4].try_into().ok()?) as usize;
                let seq = u64::from_le_bytes(bytes[4..HEADER].try_into().ok()?);
                let msg = codec::parse::<R::Msg>(&bytes[HEADER..]).ok()?;
                (self.addrs.get(src) == Some(&from)).then_some((src, seq, msg))
            })
            .flatten();
        let Some((src, seq, msg)) = decoded else {
            lock(&self.view).rejected += 1;
            return;
        };
        let out = self.host.deliver(src, seq, msg);
        self.release(out);
    }

    /// Publish the node's state, then send what a handler released; after an I/O error the
    /// node handles nothing more (a node whose disk fails cannot vouch for what it would
    /// acknowledge).
    fn release(&mut self, out: io::Result<Vec<Outgoing<R::Msg>>>) {
        self.publish();
        match out {
            Ok(out) => self.send(out),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn send(&mut self, out: Vec<Outgoing<R::Msg>>) {
        for o in out {
            let mut d = Vec::with_capacity(HEADER + 64);
            d.extend_from_slice(&u32::try_from(o.src).unwrap_or(u32::MAX).to_le_bytes());
            d.extend_from_slice(&o.seq.to_le_bytes());
            d.extend_from_slice(&codec::encode(&o.msg));
            // A datagram the kernel refuses is lost, as the network may lose any.
            let _ = self.socket.send_to(&codec::seal(&d), self.addrs[o.dst]);
        }
    }

    fn publish(&self) {
        let mut v = lock(&self.view);
        v.state = self.host.state().cloned();
        v.saved = self.host.saved().cloned();
        v.lost = self.host.lost();
        v.events = self.host.log.len();
    }
}
