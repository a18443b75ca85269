//! The real runtime: a storage-quorum cluster on loopback, one OS thread and one UDP socket
//! per node, durable logs in a data directory, a client workload, fault injection, and a
//! verification pass that reads every acknowledged commit back.
//!
//! A **volume** is a sequence of protection groups (PGs), as Aurora's volume grows by 10 GB
//! protection groups. Each PG runs exactly the model's protocol on its own LSNs, with the
//! model's own segment and writer functions; a PG holds `lsns` records (the model's encoding
//! caps it at 8) and, once the writer has allocated them all, the volume continues in the next
//! PG. There are nine nodes: the six initial members of every PG (`A1 A2 B1 B2 C1 C2`) and
//! one spare per AZ (`A3 B3 C3`). A node hosts the segment of slot `i` (its own number) of
//! every PG it is a member of, as an Aurora storage node hosts segments of many PGs, in
//! `DIR/seg-<slot>/pg-<n>.log`.
//!
//! * A **segment node** decodes each datagram (garbage, truncated and out-of-range ones are
//!   counted and dropped), applies it with `SegmentNode` (which logs and fsyncs before it
//!   returns), and replies with an ack carrying its SCL. A restarted node recovers every PG
//!   from its files: a torn tail is cut off and reported; a corrupted log costs the node that
//!   segment (renamed `*.damaged`, reported, never served again).
//! * The **writer** runs the client workload: it keeps up to `inflight_max` commits (one
//!   mini-transaction each) in flight, sends every record to the members of its PG (six, or
//!   seven during a membership change), folds acks in with the model's writer functions,
//!   acknowledges a commit once its PG's VDL covers it (and appends it to `DIR/acked.log`),
//!   and retransmits what a member has not acked of its own records, oldest first, a bounded
//!   number per round.
//! * The **fault injector** (main thread) crashes a segment node, takes an AZ (its three
//!   nodes) down, restarts what is down, sends garbage, fails the writer over, damages a
//!   segment's log or asks for a membership change, at seeded random moments, never taking
//!   more than two nodes down at once, or one AZ (AZ+1 for writes is the model's subject,
//!   not the workload's), and never damaging a second segment of a PG.
//!
//! * **Writer failover** (fault `failover`): see [`writer`]; the metadata service (volume
//!   epochs and truncation ranges) lives with it and outlives each incarnation.
//! * **Background gossip**: every [`GOSSIP_EVERY`] a segment node sends each peer a digest
//!   of what it holds of some PGs (those that changed lately, then a sweep over the rest); a
//!   peer pushes the records the digest lacks, with the model's gossip rule, and answers with
//!   its own digest where it lacks some of the sender's. This repairs what a node missed
//!   while down and hydrates a joining member.
//! * **Membership changes** (faults `disk-loss`, `member-change`): see [`control`]; the
//!   control plane replaces a member by its AZ's spare through dual quorum sets.

mod control;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::config::MAX_LSN;
use quorate_model::quorum::segment::Epochs;
use quorate_model::quorum::state::{Lsn, count};

use super::segment::SegmentNode;
use super::wire::{
    DIGEST_ENTRIES_MAX, Datagram, DigestEntry, Msg, decode_datagram, encode_datagram,
};
use crate::durable::{FileDisk, sync_dir_of};
use crate::rng::Rng;
use control::ControlPlane;
use writer::{ControlReport, WriterRig, WriterStats, writer_main};

/// A fault the injector may choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Kill one segment node (its files stay).
    Crash,
    /// Kill both segment nodes of one AZ.
    AzOutage,
    /// Restart a killed node from its files.
    Restart,
    /// Kill the writer incarnation; the next recovers every incomplete protection group
    /// (read quorum, truncation at a new volume epoch, install, repair) and opens.
    Failover,
    /// A disk fails under one segment: a recent group's log on a node is corrupted and the
    /// node restarts. Recovery finds the damage, the segment is lost, and the control plane
    /// replaces it by the spare of its AZ (a membership change).
    DiskLoss,
    /// The control plane moves a member of the group being written to the spare of its AZ
    /// (heat management), or reverts such a change in progress.
    MemberChange,
    /// Send a burst of bad datagrams to a node: random bytes, a valid datagram cut short, one
    /// with an out-of-range field, and writes at a membership or volume epoch the segment
    /// must refuse. The first three are counted and dropped by the decoder; the model's
    /// segment rules refuse the last. None may crash a node or change what it holds.
    Garbage,
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "crash" => Ok(Fault::Crash),
            "az-outage" => Ok(Fault::AzOutage),
            "restart" => Ok(Fault::Restart),
            "garbage" => Ok(Fault::Garbage),
            "failover" => Ok(Fault::Failover),
            "disk-loss" => Ok(Fault::DiskLoss),
            "member-change" => Ok(Fault::MemberChange),
            _ => Err(format!(
                "unknown fault '{s}'; the faults are crash, az-outage, restart, garbage, \
                 failover, disk-loss, member-change"
            )),
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The data directory (created if missing).
    pub dir: PathBuf,
    /// How long the workload runs; 0 with an existing volume only verifies it.
    pub seconds: f64,
    /// The faults to inject.
    pub faults: Vec<Fault>,
    /// Seed of the fault schedule.
    pub seed: u64,
    /// Commits in flight at once.
    pub inflight_max: usize,
}

/// A progress line's content, once a second.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Time since the workload started.
    pub elapsed: Duration,
    /// Commits acknowledged so far.
    pub acked: u64,
    /// Protection groups opened so far.
    pub pgs: u32,
    /// Segment nodes down now, by name.
    pub down: Vec<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Commits acknowledged.
    pub acked: u64,
    /// Seconds the workload ran.
    pub seconds: f64,
    /// Commit latencies, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Protection groups the volume spans.
    pub pgs: u32,
    /// Acknowledged commits read back from every read quorum.
    pub verified: u64,
    /// Acknowledged commits some read quorum misses: `(pg, commit LSN, holders)`.
    pub missing: Vec<(u32, Lsn, usize)>,
    /// Datagrams the nodes rejected as garbage.
    pub rejected_datagrams: u64,
    /// Well-formed requests the segments refused by the protocol's rules (stale epochs).
    pub refused_requests: u64,
    /// Faults injected, one line each.
    pub faults: Vec<String>,
    /// What recovery found on restarts (torn tails cut, damaged logs), one line each.
    pub recovery: Vec<String>,
    /// Whether Ctrl-C ended the workload early.
    pub interrupted: bool,
    /// Records segments stored from their peers' gossip.
    pub gossiped: u64,
    /// Gossip digests the segments sent.
    pub digests: u64,
    /// Protection groups (of those verified) whose counted members all hold the same
    /// records at the end: gossip has converged there.
    pub converged: u64,
    /// Protection groups the verification read (those with an acknowledged commit).
    pub verified_groups: u64,
    /// The membership changes: one line per change begun, finalized or reverted.
    pub membership: Vec<String>,
    /// Membership changes finalized.
    pub finalized: u64,
    /// Membership changes reverted.
    pub reverted: u64,
}

impl RunReport {
    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// The protocol parameters every PG runs: Aurora's geometry, 8 LSNs in MTRs of 2, a LAL that
/// lets the writer pipeline a whole PG.
pub fn pg_config() -> QuorumConfig {
    let mut cfg = QuorumConfig::base();
    for (k, v) in [
        ("lsns", "8"),
        ("mtr_len", "2"),
        ("lal", "8"),
        ("member_changes", "0"),
        ("messages", "explicit"),
    ] {
        cfg.set(k, v).expect("valid parameters");
    }
    cfg
}

/// Storage nodes: the six initial members of every group (`A1 A2 B1 B2 C1 C2`, slots 0..6)
/// and one spare per AZ (`A3 B3 C3`, slots 6..9).
pub const NODES: usize = 9;

/// The AZ of slot `i`.
fn az_of(i: usize) -> u8 {
    if i < 6 { (i / 2) as u8 } else { (i - 6) as u8 }
}

/// Segment name of slot `i`: `A1`, `A2`, `B1`, ... and the spares `A3`, `B3`, `C3`.
fn name(i: usize) -> String {
    let n = if i < 6 { i % 2 + 1 } else { 3 };
    format!("{}{n}", (b'A' + az_of(i)) as char)
}

/// How often a segment node sends its gossip digests.
const GOSSIP_EVERY: Duration = Duration::from_millis(50);

/// Shared counters of one node.
#[derive(Default)]
struct NodeStats {
    rejected: AtomicU64,
    refused: AtomicU64,
    /// Records this node stored from a peer's gossip.
    gossiped: AtomicU64,
    /// Digests this node sent.
    digests: AtomicU64,
    /// The node has recovered its files and serves (false from its start until then).
    serving: AtomicBool,
    recovery: Mutex<Vec<String>>,
}

struct NodeHandle {
    /// The node's socket, kept while the node is down: its port stays its own (nothing else
    /// on the machine can take it), and datagrams sent meanwhile wait in the socket's buffer,
    /// to be delivered late after a restart, as a network may.
    sock: UdpSocket,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn pg_path(dir: &Path, slot: usize, pg: u32) -> PathBuf {
    dir.join(format!("seg-{slot}")).join(format!("pg-{pg}.log"))
}

/// One segment node: recover, then serve until told to stop.
fn segment_main(
    slot: usize,
    sock: UdpSocket,
    dir: PathBuf,
    writer: Option<SocketAddr>,
    peers: Arc<Vec<SocketAddr>>,
    stop: Arc<AtomicBool>,
    stats: Arc<NodeStats>,
) {
    let cfg = pg_config();
    let home = dir.join(format!("seg-{slot}"));
    let _ = fs::create_dir_all(&home);
    let mut pgs: BTreeMap<u32, SegmentNode<FileDisk>> = BTreeMap::new();
    let mut lost: BTreeSet<u32> = BTreeSet::new();
    // Of those, the damaged ones not yet retired: the node says so until the control plane
    // retires them (a single hello may be dropped by a busy writer's socket).
    let mut damaged: BTreeSet<u32> = BTreeSet::new();
    let mut retired: BTreeSet<u32> = BTreeSet::new();
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(&home)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let n = p.file_name()?.to_str()?;
            // A damaged log, or a segment retired by a membership change: never served again.
            if let Some(pg) = n
                .strip_suffix(".log.damaged")
                .and_then(|n| n.strip_prefix("pg-"))
            {
                let pg = pg.parse().ok()?;
                lost.insert(pg);
                damaged.insert(pg);
                return None;
            }
            if let Some(pg) = n
                .strip_suffix(".retired")
                .and_then(|n| n.strip_prefix("pg-"))
            {
                let pg = pg.parse().ok()?;
                lost.insert(pg);
                retired.insert(pg);
                return None;
            }
            let pg = n.strip_prefix("pg-")?.strip_suffix(".log")?.parse().ok()?;
            Some((pg, p))
        })
        .collect();
    damaged.retain(|pg| !retired.contains(pg));
    found.sort();
    for (pg, path) in found {
        let disk = match FileDisk::open(&path) {
            Ok(d) => d,
            Err(e) => {
                stats.recovery.lock().unwrap().push(format!(
                    "{} pg {pg}: cannot open {}: {e}",
                    name(slot),
                    path.display()
                ));
                continue;
            }
        };
        match SegmentNode::recover(&cfg, slot as u8, disk) {
            Ok(node) => {
                if let Some(t) = &node.torn_tail {
                    stats.recovery.lock().unwrap().push(format!(
                        "{} pg {pg}: torn tail cut off ({t}); it was never acknowledged",
                        name(slot)
                    ));
                }
                pgs.insert(pg, node);
            }
            Err((why, _)) => {
                let damaged_pgs = &mut damaged;
                let damaged = path.with_extension("log.damaged");
                let _ = fs::rename(&path, &damaged).and_then(|()| sync_dir_of(&damaged));
                stats.recovery.lock().unwrap().push(format!(
                    "{} pg {pg}: {why}; the segment is lost (kept as {})",
                    name(slot),
                    damaged.display()
                ));
                lost.insert(pg);
                damaged_pgs.insert(pg);
            }
        }
    }
    let send = |to: SocketAddr, pg: u32, msg: Msg| {
        let _ = sock.send_to(&encode_datagram(&Datagram { pg, msg }), to);
    };
    // Hello: the writer learns what this node holds after a restart, and which segments it
    // lost (the writer must no longer count their old acks).
    let lost_notice = Msg::Held {
        slot: slot as u8,
        held: 0,
    };
    if let Some(w) = writer {
        // Losses first: they matter most, and a long hello overflows the writer's socket.
        for &pg in &damaged {
            send(w, pg, lost_notice.clone());
        }
        for (pg, node) in &pgs {
            send(w, *pg, node.ack());
        }
    }
    let mut last_notice = Instant::now();
    for node in pgs.values_mut() {
        node.set_group_commit(true);
    }
    let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
    stats.serving.store(true, Ordering::SeqCst);
    let mut buf = vec![0u8; 64 * 1024];
    // Background gossip: groups that changed lately are digested first, then the rest in turn.
    let mut spread = Gossip {
        recent: pgs.keys().rev().take(DIGEST_ENTRIES_MAX).copied().collect(),
        cursor: 0,
        last: Instant::now(),
    };
    while !stop.load(Ordering::SeqCst) {
        if let Some(w) = writer
            && last_notice.elapsed() >= Duration::from_secs(1)
        {
            last_notice = Instant::now();
            for &pg in damaged.iter().take(DIGEST_ENTRIES_MAX) {
                send(w, pg, lost_notice.clone());
            }
        }
        if spread.last.elapsed() >= GOSSIP_EVERY {
            spread.last = Instant::now();
            let entries = spread.next_entries(&pgs);
            if !entries.is_empty() {
                let msg = Msg::Digest {
                    slot: slot as u8,
                    reply: false,
                    entries,
                };
                for (i, &peer) in peers.iter().enumerate() {
                    if i != slot {
                        send(peer, 0, msg.clone());
                        stats.digests.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // Group commit: take every datagram that has arrived (up to a bound), apply them, make
        // them durable with one fsync per touched group, and only then reply.
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let mut batch = vec![(from, buf[..n].to_vec())];
        let _ = sock.set_nonblocking(true);
        while batch.len() < BATCH_MAX {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => batch.push((from, buf[..n].to_vec())),
                Err(_) => break,
            }
        }
        let _ = sock.set_nonblocking(false);
        let mut replies: Vec<Reply> = Vec::new();
        for (from, bytes) in batch {
            let d = match decode_datagram(&bytes) {
                Ok(d) => d,
                Err(_) => {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            // (A digest names its groups inside: it is judged entry by entry below.)
            if lost.contains(&d.pg) && !matches!(d.msg, Msg::Digest { .. }) {
                // It holds nothing of the group any more, and says so to a verification and
                // to the writer (whose retransmissions mean it still counts this segment: the
                // control plane learns the segment is lost, even if the hello was dropped).
                if d.msg == Msg::ReadHeld
                    || writer == Some(from)
                        && matches!(d.msg, Msg::Write { .. } | Msg::Member { .. })
                {
                    replies.push(Reply::Held(from, d.pg));
                }
                continue;
            }
            // The writer's endpoint is also the control plane's and the metadata service's:
            // only it may create a segment, change its membership epoch or retire it.
            let from_writer = writer == Some(from);
            // Acks go to the writer's endpoint (whoever asked: a peer's gossip, a recovery).
            let ack_to = writer.unwrap_or(from);
            if let Msg::Digest {
                slot: peer,
                reply,
                entries,
            } = &d.msg
            {
                if usize::from(*peer) == slot || usize::from(*peer) >= peers.len() {
                    continue;
                }
                let mut lacking = Vec::new();
                for e in entries {
                    if !pgs.contains_key(&e.pg)
                        && !lost.contains(&e.pg)
                        && e.mem_epoch == 1
                        && e.vol_epoch == 1
                        && e.held != 0
                        && control::INITIAL & (1 << slot) != 0
                    {
                        // A group this node never received (it was down, or its socket
                        // overflowed, while the group was written). At membership epoch 1
                        // every initial member hosts it: create the segment and ask for
                        // everything. Only at volume epoch 1 too, so that the segment needs
                        // no truncation range (after a recovery, the writer's `Install`
                        // creates it; after a change, only the control plane places one).
                        // Peers are trusted with this as they are with their records.
                        match new_segment(&dir, slot, e.pg, (1, 1, &[]), &stats) {
                            Ok(Some(node)) => {
                                pgs.insert(e.pg, node);
                                spread.recent.insert(e.pg);
                                if !reply {
                                    lacking.push(e.pg);
                                }
                            }
                            Ok(None) => {
                                lost.insert(e.pg);
                            }
                            Err(_) => return,
                        }
                        continue;
                    }
                    let Some(node) = pgs.get(&e.pg) else {
                        continue;
                    };
                    // Gossip crosses no membership epoch (the model's rule refuses it).
                    if node.seg().mem_epoch != e.mem_epoch {
                        continue;
                    }
                    let mine = node.held();
                    for l in (1..=MAX_LSN as Lsn).filter(|&l| mine & !e.held & (1 << (l - 1)) != 0)
                    {
                        replies.push(Reply::Push(from, e.pg, l));
                    }
                    if !reply && e.held & !mine != 0 {
                        lacking.push(e.pg);
                    }
                }
                if !lacking.is_empty() {
                    replies.push(Reply::Digest(from, lacking));
                }
                continue;
            }
            let request = match d.msg {
                Msg::Write {
                    lsn,
                    vol_epoch,
                    mem_epoch,
                    cpl,
                } => Some((lsn, vol_epoch, mem_epoch, cpl, false)),
                Msg::Gossip {
                    lsn,
                    vol_epoch,
                    mem_epoch,
                    cpl,
                } => Some((lsn, vol_epoch, mem_epoch, cpl, true)),
                _ => None,
            };
            if from_writer
                && matches!(
                    d.msg,
                    Msg::Write { .. } | Msg::Install { .. } | Msg::Join { .. }
                )
                && !pgs.contains_key(&d.pg)
            {
                // The first message of a protection group from the writer (which sends only to
                // members) or the control plane (a joiner): create its segment.
                let (mem_epoch, vol_epoch, truncs) = match &d.msg {
                    Msg::Write { mem_epoch, .. } => (*mem_epoch, 1, Vec::new()),
                    Msg::Join {
                        mem_epoch,
                        vol_epoch,
                        truncs,
                    } => (
                        *mem_epoch,
                        *vol_epoch,
                        truncs.iter().map(|&t| t.into()).collect(),
                    ),
                    _ => (1, 1, Vec::new()),
                };
                let born = (mem_epoch, vol_epoch, &truncs[..]);
                match new_segment(&dir, slot, d.pg, born, &stats) {
                    Ok(Some(node)) => {
                        pgs.insert(d.pg, node);
                        spread.recent.insert(d.pg);
                    }
                    Ok(None) => {
                        lost.insert(d.pg);
                        continue;
                    }
                    Err(_) => return, // a disk that fails kills the node
                }
            }
            if let Some((lsn, vol_epoch, mem_epoch, cpl, gossip)) = request {
                let Some(node) = pgs.get_mut(&d.pg) else {
                    continue; // a group it does not host (gossip creates none)
                };
                let epochs = Epochs {
                    mem: mem_epoch,
                    vol: vol_epoch,
                };
                // A copy of a record it holds, at its own epochs, is a retransmission: just ack
                // again. Anything else is judged by the model's rules.
                let seg = node.seg();
                let duplicate =
                    seg.holds(lsn) && epochs.mem == seg.mem_epoch && epochs.vol == seg.vol_epoch;
                let mut stored = false;
                if !duplicate {
                    match node.store(&cfg, lsn, epochs, cpl, gossip) {
                        Ok(Ok(())) => {
                            stored = true;
                            spread.recent.insert(d.pg);
                            if gossip {
                                stats.gossiped.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Err(_)) => {
                            stats.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        // An I/O error: the node dies rather than ack what it may have lost.
                        Err(_) => return,
                    }
                }
                // The writer waits for an ack of each write (again for a retransmission); of
                // gossip it needs to hear only what changed (a push racing the writer's own
                // write is common, and acking it would double the writer's load).
                if !gossip || stored {
                    replies.push(Reply::Ack(ack_to, d.pg));
                }
                continue;
            }
            match d.msg {
                Msg::Join { .. } if from_writer => replies.push(Reply::Ack(ack_to, d.pg)),
                Msg::Member { epoch } if from_writer => {
                    let Some(node) = pgs.get_mut(&d.pg) else {
                        continue; // a joiner's `Join` may come second
                    };
                    if node.seg().mem_epoch < epoch {
                        if node.learn_mem_epoch(&cfg, epoch).is_err() {
                            return;
                        }
                        spread.recent.insert(d.pg);
                    }
                    replies.push(Reply::Ack(ack_to, d.pg));
                }
                Msg::Retire if from_writer => {
                    // Durably out of the group: a stale write must never bring it back.
                    let path = pg_path(&dir, slot, d.pg);
                    let retired = path.with_extension("retired");
                    let done = if path.exists() {
                        fs::rename(&path, &retired)
                    } else {
                        File::create(&retired).map(drop)
                    };
                    if done.and_then(|()| sync_dir_of(&retired)).is_err() {
                        return;
                    }
                    pgs.remove(&d.pg);
                    lost.insert(d.pg);
                    damaged.remove(&d.pg);
                }
                Msg::Install { vol_epoch, truncs } if from_writer => {
                    let Some(node) = pgs.get_mut(&d.pg) else {
                        continue;
                    };
                    if node.seg().vol_epoch < vol_epoch {
                        let truncs: Vec<_> = truncs.into_iter().map(Into::into).collect();
                        if node.install(&cfg, &truncs, vol_epoch).is_err() {
                            return;
                        }
                    }
                    replies.push(Reply::Ack(ack_to, d.pg));
                }
                Msg::ReadScl { truncs } => {
                    let truncs: Vec<_> = truncs.into_iter().map(Into::into).collect();
                    replies.push(Reply::Scl(from, d.pg, truncs));
                }
                Msg::Repair { lsn, to } => {
                    if let Some(&peer) = peers.get(usize::from(to)) {
                        replies.push(Reply::Push(peer, d.pg, lsn));
                    }
                }
                Msg::ReadHeld => replies.push(Reply::Held(from, d.pg)),
                _ => {}
            }
        }
        // Durable first, then every reply (which reads the state).
        for node in pgs.values_mut() {
            if node.sync().is_err() {
                return; // an I/O error: the node dies rather than ack what it may have lost
            }
        }
        let mut acked = BTreeSet::new();
        for r in replies {
            match r {
                Reply::Ack(to, pg) => {
                    if acked.insert((to, pg))
                        && let Some(node) = pgs.get(&pg)
                    {
                        send(to, pg, node.ack());
                    }
                }
                Reply::Scl(to, pg, truncs) => {
                    let reply = match pgs.get(&pg) {
                        Some(node) => node.scl_reply(&truncs),
                        None => Msg::SclReply {
                            slot: slot as u8,
                            top: quorate_model::quorum::segment::chain_top(&[0; 8], truncs.iter()),
                            cpls: 0,
                        },
                    };
                    send(to, pg, reply);
                }
                Reply::Push(peer, pg, lsn) => {
                    if let Some(node) = pgs.get(&pg)
                        && node.seg().holds(lsn)
                    {
                        let msg = Msg::Gossip {
                            lsn,
                            vol_epoch: node.seg().rec(lsn),
                            mem_epoch: node.seg().mem_epoch,
                            cpl: node.cpls() & (1 << (lsn - 1)) != 0,
                        };
                        send(peer, pg, msg);
                    }
                }
                Reply::Digest(to, lacking) => {
                    let entries = lacking
                        .iter()
                        .filter_map(|pg| pgs.get(pg).map(|n| (pg, n)))
                        .map(|(&pg, n)| DigestEntry::of(pg, n.seg(), n.held()))
                        .take(DIGEST_ENTRIES_MAX)
                        .collect();
                    let msg = Msg::Digest {
                        slot: slot as u8,
                        reply: true,
                        entries,
                    };
                    send(to, 0, msg);
                    stats.digests.fetch_add(1, Ordering::Relaxed);
                }
                Reply::Held(to, pg) => {
                    let held = pgs.get(&pg).map_or(0, |n| n.held());
                    let msg = Msg::Held {
                        slot: slot as u8,
                        held,
                    };
                    send(to, pg, msg);
                }
            }
        }
    }
}

/// Create the segment of group `pg` on node `slot`, born at `(mem_epoch, vol_epoch, truncs)`:
/// `None` if a file is already there (a log this node could not recover at start: never
/// overwritten, the segment is lost), an error if the disk fails.
fn new_segment(
    dir: &Path,
    slot: usize,
    pg: u32,
    (mem_epoch, vol_epoch, truncs): (u8, u8, &[quorate_model::quorum::state::Trunc]),
    stats: &NodeStats,
) -> io::Result<Option<SegmentNode<FileDisk>>> {
    let path = pg_path(dir, slot, pg);
    if path.exists() {
        stats.recovery.lock().unwrap().push(format!(
            "{} pg {pg}: {} exists but was not recovered; the segment is lost",
            name(slot),
            path.display()
        ));
        return Ok(None);
    }
    let disk = FileDisk::open(&path)?;
    let mut node =
        SegmentNode::create(slot as u8, az_of(slot), mem_epoch, vol_epoch, truncs, disk)?;
    node.set_group_commit(true);
    Ok(Some(node))
}

/// The most datagrams one group commit takes.
const BATCH_MAX: usize = 64;

/// A segment node's background gossip: which groups its next digest names.
struct Gossip {
    /// Groups that changed since they were last digested.
    recent: BTreeSet<u32>,
    /// Where the sweep over every other group goes on.
    cursor: u32,
    /// When the last digest went out.
    last: Instant,
}

impl Gossip {
    /// The next digest: groups that changed lately, then the next ones of the sweep (so a peer
    /// that missed a whole group, being down when it was written, is found by the sweep).
    fn next_entries<D: crate::durable::Disk>(
        &mut self,
        pgs: &BTreeMap<u32, SegmentNode<D>>,
    ) -> Vec<DigestEntry> {
        let mut names: BTreeSet<u32> = BTreeSet::new();
        while names.len() < DIGEST_ENTRIES_MAX / 2 {
            let Some(pg) = self.recent.pop_last() else {
                break;
            };
            if pgs.contains_key(&pg) {
                names.insert(pg);
            }
        }
        let sweep: Vec<u32> = pgs
            .range(self.cursor..)
            .chain(pgs.range(..self.cursor))
            .map(|(&pg, _)| pg)
            .filter(|pg| !names.contains(pg))
            .take(DIGEST_ENTRIES_MAX - names.len())
            .collect();
        if let Some(&last) = sweep.last() {
            self.cursor = last.wrapping_add(1);
        }
        names.extend(sweep);
        names
            .iter()
            .map(|pg| DigestEntry::of(*pg, pgs[pg].seg(), pgs[pg].held()))
            .collect()
    }
}

/// A reply a segment node owes, sent once the batch it answers is durable.
enum Reply {
    /// Its state of a group, to the writer.
    Ack(SocketAddr, u32),
    /// Its chain top of a group, with these ranges known, to a recovery.
    Scl(SocketAddr, u32, Vec<quorate_model::quorum::state::Trunc>),
    /// Its copy of an LSN of a group, to a peer (repair).
    Push(SocketAddr, u32, Lsn),
    /// The LSNs it holds of a group, to the verification.
    Held(SocketAddr, u32),
    /// Its digest of these groups, to a peer whose digest showed it lacks records of theirs.
    Digest(SocketAddr, Vec<u32>),
}

/// Start segment node `slot` on `sock`.
fn spawn_node(
    slot: usize,
    sock: UdpSocket,
    dir: &Path,
    writer: Option<SocketAddr>,
    peers: Arc<Vec<SocketAddr>>,
    stats: Arc<NodeStats>,
) -> io::Result<NodeHandle> {
    let addr = sock.local_addr()?;
    let kept = sock.try_clone()?;
    let stop = Arc::new(AtomicBool::new(false));
    stats.serving.store(false, Ordering::SeqCst);
    let (d, s) = (dir.to_path_buf(), stop.clone());
    let thread = thread::Builder::new()
        .name(format!("segment-{}", name(slot)))
        .spawn(move || segment_main(slot, sock, d, writer, peers, s, stats))?;
    Ok(NodeHandle {
        sock: kept,
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Restart segment node `slot` on the socket it had.
fn restart_node(
    slot: usize,
    sock: &UdpSocket,
    dir: &Path,
    writer: Option<SocketAddr>,
    peers: Arc<Vec<SocketAddr>>,
    stats: Arc<NodeStats>,
) -> io::Result<NodeHandle> {
    spawn_node(slot, sock.try_clone()?, dir, writer, peers, stats)
}

impl NodeHandle {
    fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
    /// Down: killed, or its thread ended by itself (a disk error kills a node).
    fn is_down(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

/// Ask the nodes in `ask` which LSNs they hold of PG `pg`; `None` for a node that did not
/// answer (or was not asked).
fn read_held(sock: &UdpSocket, nodes: &[SocketAddr], pg: u32, ask: u16) -> Vec<Option<u16>> {
    let mut got = vec![None; nodes.len()];
    let asked = |i: usize| ask & (1 << i) != 0;
    let mut buf = vec![0u8; 64 * 1024];
    for _attempt in 0..5 {
        for (i, &to) in nodes.iter().enumerate() {
            if got[i].is_none() && asked(i) {
                let msg = Msg::ReadHeld;
                let _ = sock.send_to(&encode_datagram(&Datagram { pg, msg }), to);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        let pending = |got: &[Option<u16>]| (0..got.len()).any(|i| asked(i) && got[i].is_none());
        while pending(&got) && Instant::now() < deadline {
            if let Ok((n, _)) = sock.recv_from(&mut buf)
                && let Ok(d) = decode_datagram(&buf[..n])
                && d.pg == pg
                && let Msg::Held { slot, held } = d.msg
                && usize::from(slot) < got.len()
            {
                got[usize::from(slot)] = Some(held);
            }
        }
        if !pending(&got) {
            break;
        }
    }
    got
}

/// The acknowledged commits recorded in `DIR/acked.log`.
fn read_acked(dir: &Path) -> io::Result<Vec<(u32, Lsn)>> {
    let f = match File::open(dir.join("acked.log")) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line?;
        let mut it = line.split_whitespace();
        // A line cut short by a crash of the client is not an acknowledgement it made.
        if let (Some(pg), Some(l)) = (it.next(), it.next())
            && let (Ok(pg), Ok(l)) = (pg.parse(), l.parse())
        {
            out.push((pg, l));
        }
    }
    Ok(out)
}

/// Run the cluster: the workload with faults for `cfg.seconds` (or only recovery and
/// verification of an existing volume when `seconds` is 0), then the verification pass.
pub fn run(
    cfg: &RunConfig,
    interrupt: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunReport, String> {
    let dir = &cfg.dir;
    let existing = dir.join("acked.log").exists();
    if existing && cfg.seconds > 0.0 {
        return Err(format!(
            "{} already holds a volume; `--seconds 0` recovers and verifies it, or use a new \
             directory",
            dir.display()
        ));
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let members = NODES;
    let stats: Vec<Arc<NodeStats>> = (0..members).map(|_| Arc::default()).collect();
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let writer_sock = UdpSocket::bind(loopback).map_err(|e| format!("cannot bind: {e}"))?;
    let writer_addr = writer_sock.local_addr().map_err(|e| e.to_string())?;
    // Every node's socket first, so that each knows its peers (for gossip).
    let socks: Vec<UdpSocket> = (0..members)
        .map(|_| UdpSocket::bind(loopback))
        .collect::<io::Result<_>>()
        .map_err(|e| format!("cannot bind: {e}"))?;
    let addrs: Vec<SocketAddr> = socks
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<io::Result<_>>()
        .map_err(|e| e.to_string())?;
    let peers = Arc::new(addrs.clone());
    let mut nodes = Vec::new();
    for (slot, sock) in socks.into_iter().enumerate() {
        let n = spawn_node(
            slot,
            sock,
            dir,
            Some(writer_addr),
            peers.clone(),
            stats[slot].clone(),
        )
        .map_err(|e| format!("cannot start segment {}: {e}", name(slot)))?;
        nodes.push(n);
    }
    let mut report = RunReport::default();
    let wstats = Arc::new(WriterStats::default());
    if cfg.seconds > 0.0 {
        let acked_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("acked.log"))
            .map_err(|e| format!("cannot create acked.log: {e}"))?;
        let wstop = Arc::new(AtomicBool::new(false));
        let failover = Arc::new(AtomicBool::new(false));
        let member_change = Arc::new(AtomicBool::new(false));
        let troubled = Arc::new(Mutex::new(BTreeSet::new()));
        let damaged = Mutex::new(BTreeSet::new());
        let control = ControlPlane::open(dir, troubled.clone())
            .map_err(|e| format!("cannot create members.log: {e}"))?;
        let rig = WriterRig {
            sock: writer_sock,
            segments: addrs.clone(),
            stop: wstop.clone(),
            failover: failover.clone(),
            stats: wstats.clone(),
            acked_log,
            inflight_max: cfg.inflight_max.max(1),
            member_change: member_change.clone(),
            seed: cfg.seed,
        };
        let writer = thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer_main(rig, control))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut rng = Rng::new(cfg.seed);
        let mut next_fault = started + Duration::from_millis(300 + rng.below(700));
        let mut next_progress = started + Duration::from_secs(1);
        let end = started + Duration::from_secs_f64(cfg.seconds);
        while Instant::now() < end {
            if interrupt.load(Ordering::SeqCst) {
                report.interrupted = true;
                break;
            }
            thread::sleep(Duration::from_millis(20));
            let now = Instant::now();
            if !cfg.faults.is_empty() && now >= next_fault {
                next_fault = now + Duration::from_millis(300 + rng.below(900));
                let t = started.elapsed().as_secs_f64();
                let env = Env {
                    dir,
                    writer: writer_addr,
                    peers: &peers,
                    stats: &stats,
                    failover: &failover,
                    member_change: &member_change,
                    troubled: &troubled,
                    damaged: &damaged,
                };
                if let Some(line) = inject(&cfg.faults, &mut rng, &mut nodes, &env) {
                    report.faults.push(format!("t={t:.1}s {line}"));
                }
            }
            if now >= next_progress {
                next_progress += Duration::from_secs(1);
                progress(&Progress {
                    elapsed: started.elapsed(),
                    acked: wstats.acked.load(Ordering::Relaxed),
                    pgs: wstats.pgs.load(Ordering::Relaxed) as u32,
                    down: (0..nodes.len())
                        .filter(|&i| nodes[i].is_down())
                        .map(name)
                        .collect(),
                });
            }
        }
        report.seconds = started.elapsed().as_secs_f64();
        wstop.store(true, Ordering::SeqCst);
        let done: ControlReport = writer.join().unwrap_or_default();
        report.membership = done.events;
        report.finalized = done.finalized;
        report.reverted = done.reverted;
    }
    // Verification: every node up again, then every acknowledged commit read back.
    for (slot, n) in nodes.iter_mut().enumerate() {
        if n.is_down() {
            *n = restart_node(slot, &n.sock, dir, None, peers.clone(), stats[slot].clone())
                .map_err(|e| format!("cannot restart segment {}: {e}", name(slot)))?;
        }
    }
    // A node recovering thousands of files takes a while: ask nothing before every node
    // serves (an answer that comes after the verification moved on is not counted).
    let deadline = Instant::now() + Duration::from_secs(120);
    while (0..members).any(|i| !stats[i].serving.load(Ordering::SeqCst) && !nodes[i].is_down()) {
        if Instant::now() > deadline {
            return Err("the segment nodes did not recover their files within 120 s".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    if cfg.seconds > 0.0 {
        // The writer is gone: what the members still lack, only their gossip can bring.
        thread::sleep(Duration::from_secs(1));
    }
    let acked = read_acked(dir).map_err(|e| format!("cannot read acked.log: {e}"))?;
    let recorded =
        control::read_members(dir).map_err(|e| format!("cannot read members.log: {e}"))?;
    let verifier = UdpSocket::bind(loopback).map_err(|e| format!("cannot bind: {e}"))?;
    let _ = verifier.set_read_timeout(Some(Duration::from_millis(10)));
    let pcfg = pg_config();
    let r = usize::from(pcfg.read_quorum);
    let mut by_pg: BTreeMap<u32, Vec<Lsn>> = BTreeMap::new();
    for (pg, l) in &acked {
        by_pg.entry(*pg).or_default().push(*l);
    }
    for (pg, commits) in &by_pg {
        // The group's membership as the control plane last made it durable; a joiner whose
        // change was not finalized is not counted by any read.
        let rec = control::recorded(&recorded, *pg);
        let held = read_held(&verifier, &addrs, *pg, rec.cfg.members());
        let held_by = |mask: u16| {
            (0..members)
                .filter(|&i| held[i].is_some_and(|h| h & mask == mask))
                .fold(0u16, |a, i| a | (1 << i))
        };
        for &l in commits {
            let first = l + 1 - pcfg.mtr_len.min(l);
            let mask: u16 = (first..=l).fold(0, |a, x| a | (1 << (x - 1)));
            let holders = held_by(mask) & rec.counted;
            // Readable from every read quorum iff, in every quorum set, more than its counted
            // members minus R hold every record of the mini-transaction.
            let readable = rec.cfg.sets().iter().all(|set| {
                let c = set & rec.counted;
                count(holders & c) + r > count(c)
            });
            if readable {
                report.verified += 1;
            } else {
                report.missing.push((*pg, l, count(holders)));
            }
        }
        let mut copies = quorate_model::quorum::state::slots_of(rec.counted).map(|i| held[i]);
        let first = copies.next().flatten();
        if first.is_some() && copies.all(|h| h == first) {
            report.converged += 1;
        }
    }
    for n in nodes.iter_mut() {
        n.kill();
    }
    report.acked = if cfg.seconds > 0.0 {
        wstats.acked.load(Ordering::Relaxed)
    } else {
        acked.len() as u64
    };
    report.pgs = by_pg.keys().next_back().map_or(0, |p| p + 1);
    report.verified_groups = by_pg.len() as u64;
    let mut lat = std::mem::take(&mut *wstats.latencies_us.lock().unwrap());
    lat.sort_unstable();
    report.latencies_us = lat;
    report
        .faults
        .extend(wstats.failovers.lock().unwrap().iter().cloned());
    for st in &stats {
        report.rejected_datagrams += st.rejected.load(Ordering::Relaxed);
        report.refused_requests += st.refused.load(Ordering::Relaxed);
        report.gossiped += st.gossiped.load(Ordering::Relaxed);
        report.digests += st.digests.load(Ordering::Relaxed);
        report
            .recovery
            .extend(st.recovery.lock().unwrap().iter().cloned());
    }
    Ok(report)
}

/// What the fault injector needs besides the nodes.
struct Env<'a> {
    dir: &'a Path,
    writer: SocketAddr,
    peers: &'a Arc<Vec<SocketAddr>>,
    stats: &'a [Arc<NodeStats>],
    failover: &'a AtomicBool,
    member_change: &'a AtomicBool,
    troubled: &'a Mutex<BTreeSet<u32>>,
    /// PGs the injector has damaged a segment of (once per PG in a run).
    damaged: &'a Mutex<BTreeSet<u32>>,
}

/// Inject one fault, keeping at most two nodes down (or one AZ); the line that says what, if
/// any.
fn inject(faults: &[Fault], rng: &mut Rng, nodes: &mut [NodeHandle], env: &Env) -> Option<String> {
    let down: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].is_down()).collect();
    let fault = faults[rng.below(faults.len() as u64) as usize];
    match fault {
        Fault::Crash if down.len() < 2 => {
            let up: Vec<usize> = (0..nodes.len()).filter(|&i| !nodes[i].is_down()).collect();
            let i = up[rng.below(up.len() as u64) as usize];
            nodes[i].kill();
            Some(format!("crash {}", name(i)))
        }
        Fault::AzOutage if down.is_empty() => {
            // Every node of the AZ: its two initial members and its spare.
            let az = rng.below(3) as u8;
            for i in (0..nodes.len()).filter(|&i| az_of(i) == az) {
                nodes[i].kill();
            }
            Some(format!("AZ {} down", (b'A' + az) as char))
        }
        Fault::Restart if !down.is_empty() => {
            let i = down[rng.below(down.len() as u64) as usize];
            let (peers, stats) = (env.peers.clone(), env.stats[i].clone());
            match restart_node(i, &nodes[i].sock, env.dir, Some(env.writer), peers, stats) {
                Ok(n) => {
                    nodes[i] = n;
                    Some(format!("restart {}", name(i)))
                }
                Err(e) => Some(format!("restart {} failed: {e}", name(i))),
            }
        }
        // One failover at a time: the next incarnation must be open first.
        Fault::Failover if !env.failover.load(Ordering::SeqCst) => {
            env.failover.store(true, Ordering::SeqCst);
            Some("failover: the writer incarnation dies".to_string())
        }
        Fault::MemberChange if !env.member_change.load(Ordering::SeqCst) => {
            env.member_change.store(true, Ordering::SeqCst);
            Some("member change requested of the control plane".to_string())
        }
        Fault::DiskLoss if down.len() < 2 => {
            let up: Vec<usize> = (0..nodes.len()).filter(|&i| !nodes[i].is_down()).collect();
            let i = up[rng.below(up.len() as u64) as usize];
            // A recent group this node hosts, with no member lost and no change in progress
            // (a second loss in one group before its repair is beyond what the workload
            // injects, as AZ+1 is).
            let mut troubled = env.troubled.lock().unwrap().clone();
            troubled.extend(env.damaged.lock().unwrap().iter());
            let mut hosted: Vec<u32> = fs::read_dir(env.dir.join(format!("seg-{i}")))
                .ok()?
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    n.strip_prefix("pg-")?.strip_suffix(".log")?.parse().ok()
                })
                .filter(|pg| !troubled.contains(pg))
                .collect();
            hosted.sort_unstable();
            let recent = &hosted[hosted.len().saturating_sub(4)..];
            let pg = *recent.get(rng.below(recent.len().max(1) as u64) as usize)?;
            env.troubled.lock().unwrap().insert(pg);
            env.damaged.lock().unwrap().insert(pg);
            nodes[i].kill();
            // Whatever happens to the file, the node restarts.
            let path = pg_path(env.dir, i, pg);
            let written = fs::read(&path).and_then(|mut bytes| {
                let Some(last) = bytes.len().checked_sub(1) else {
                    return Err(io::Error::other("the file is empty"));
                };
                bytes[20.min(last)] ^= 0x40;
                fs::write(&path, &bytes)?;
                File::open(&path)?.sync_all()
            });
            let (peers, stats) = (env.peers.clone(), env.stats[i].clone());
            let restarted =
                restart_node(i, &nodes[i].sock, env.dir, Some(env.writer), peers, stats);
            let what = match (written, restarted) {
                (Ok(()), Ok(n)) => {
                    nodes[i] = n;
                    "the node restarts".to_string()
                }
                (Err(e), _) => format!("cannot damage the file: {e}"),
                (_, Err(e)) => format!("the restart failed: {e}"),
            };
            Some(format!(
                "disk loss under {}'s segment of pg {pg}; {what}",
                name(i)
            ))
        }
        Fault::Garbage => {
            let up: Vec<usize> = (0..nodes.len()).filter(|&i| !nodes[i].is_down()).collect();
            let i = *up.get(rng.below(up.len().max(1) as u64) as usize)?;
            let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
            let to = nodes[i].addr;
            let random: Vec<u8> = (0..64).map(|_| rng.below(256) as u8).collect();
            let write = |mem_epoch, vol_epoch| Datagram {
                pg: 0,
                msg: Msg::Write {
                    lsn: 1,
                    vol_epoch,
                    mem_epoch,
                    cpl: false,
                },
            };
            let valid = encode_datagram(&write(1, 1));
            let bad: [Vec<u8>; 5] = [
                random,
                valid[..valid.len() / 2].to_vec(),
                encode_datagram(&write(0, 1)), // epoch 0 is out of range
                encode_datagram(&write(200, 1)), // a membership epoch the segment never saw
                encode_datagram(&write(1, 9)), // a writer incarnation that never existed
            ];
            for b in &bad {
                let _ = sock.send_to(b, to);
            }
            Some(format!("garbage to {}", name(i)))
        }
        _ => None,
    }
}
