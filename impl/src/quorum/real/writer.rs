//! The real runtime's writer: the client workload, the writer incarnation that serves it, and
//! writer failover. The metadata service (every protection group's volume epoch and
//! truncation ranges) outlives an incarnation; everything else the writer knows dies with it.
//!
//! **Failover** (fault `failover`): the incarnation dies with its commits in flight (their
//! clients never hear back: the outcome is unknown). The next incarnation recovers every
//! protection group that was not complete, with the model's recovery rules:
//! 1. read the chain tops of a read quorum (`ReadScl`, every range known);
//! 2. the recovered VDL is the highest consistency point at or below the highest top; a
//!    truncation range at a new volume epoch annuls everything it may have allocated above;
//! 3. install the range on the segments (`Install`), which fences the dead incarnation;
//! 4. repair: while some record at or below the recovered VDL is on fewer than W installed
//!    segments, ask a segment holding it to gossip it (`Repair`) to one that does not;
//! 5. open. New commits go to a new protection group.
//!
//! A segment that was down during a recovery installs the range when it is back: the writer
//! answers its hello with `Install`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::state::{Epoch, Lsn, SegSet, Trunc, Writer, WriterMode};
use quorate_model::quorum::step::init;
use quorate_model::quorum::writer as model_writer;

use super::super::wire::{Datagram, Msg, WireTrunc, decode_datagram, encode_datagram};
use super::super::writer::WriterNode;
use super::pg_config;

/// What the writer shares with the main thread.
#[derive(Default)]
pub struct WriterStats {
    /// Commits acknowledged.
    pub acked: AtomicU64,
    /// Protection groups opened.
    pub pgs: AtomicU64,
    /// Commit latencies, microseconds.
    pub latencies_us: Mutex<Vec<u64>>,
    /// One line per failover: how long the volume was closed, what was recovered.
    pub failovers: Mutex<Vec<String>>,
}

/// The metadata service's record of one protection group.
#[derive(Clone, Debug, Default)]
struct PgMeta {
    /// Its volume epoch (1 until a recovery).
    vol_epoch: Epoch,
    /// Its truncation ranges.
    truncs: Vec<Trunc>,
}

/// One protection group as the writer incarnation sees it.
struct WriterPg {
    node: WriterNode,
    /// Commits in flight: their commit (last) LSN and when they began.
    pending: BTreeMap<Lsn, Instant>,
    /// The first LSN this incarnation allocated here (records below are repaired by gossip).
    own_from: Lsn,
}

/// Wires and knobs.
pub struct WriterRig {
    /// The writer's socket (the endpoint: it outlives incarnations).
    pub sock: UdpSocket,
    /// The segment nodes, by slot.
    pub segments: Vec<SocketAddr>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Set by the fault injector to kill the incarnation; cleared once the next one is open.
    pub failover: Arc<AtomicBool>,
    /// Shared figures.
    pub stats: Arc<WriterStats>,
    /// The client's record of acknowledged commits.
    pub acked_log: File,
    /// Commits in flight at once.
    pub inflight_max: usize,
}

fn wire(t: &[Trunc]) -> Vec<WireTrunc> {
    t.iter().map(|&t| t.into()).collect()
}

fn send(sock: &UdpSocket, to: SocketAddr, pg: u32, msg: Msg) {
    let _ = sock.send_to(&encode_datagram(&Datagram { pg, msg }), to);
}

/// The writer's main loop.
pub fn writer_main(rig: WriterRig) {
    let cfg = pg_config();
    let fresh = init(&cfg).writer;
    let mut meta: BTreeMap<u32, PgMeta> = BTreeMap::new();
    let mut pgs: BTreeMap<u32, WriterPg> = BTreeMap::new();
    let mut current = 0u32;
    let mut inflight = 0usize;
    let mut last_retransmit = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let _ = rig.sock.set_read_timeout(Some(Duration::from_millis(2)));
    let mut log = io::BufWriter::new(rig.acked_log.try_clone().expect("a file handle"));
    while !rig.stop.load(Ordering::SeqCst) {
        if rig.failover.load(Ordering::SeqCst) {
            let _ = log.flush();
            let line = failover(&rig, &cfg, &mut meta, &mut pgs, &mut current);
            inflight = 0;
            rig.stats.failovers.lock().unwrap().push(line);
            rig.failover.store(false, Ordering::SeqCst);
            continue;
        }
        // The client begins commits while it may.
        while inflight < rig.inflight_max {
            let pg = pgs.entry(current).or_insert_with(|| {
                rig.stats.pgs.fetch_add(1, Ordering::Relaxed);
                meta.entry(current).or_insert(PgMeta {
                    vol_epoch: 1,
                    truncs: Vec::new(),
                });
                WriterPg {
                    node: WriterNode::new(fresh),
                    pending: BTreeMap::new(),
                    own_from: 1,
                }
            });
            let w = pg.node.w;
            match model_writer::next_mtr(&cfg, &w) {
                Some((first, last)) => {
                    pg.node.cpls |= 1 << (last - 1);
                    pg.node.w.next_lsn = last + 1;
                    pg.pending.insert(last, Instant::now());
                    inflight += 1;
                    for lsn in first..=last {
                        let msg = Msg::Write {
                            lsn,
                            vol_epoch: w.vol_epoch,
                            mem_epoch: w.mem_epoch,
                            cpl: lsn == last,
                        };
                        for &to in &rig.segments {
                            send(&rig.sock, to, current, msg.clone());
                        }
                    }
                }
                None if w.next_lsn > cfg.lsns => current += 1,
                None => break, // the LSN allocation limit: wait for acks
            }
        }
        // Acks, until the client has room for more commits (the read returns at once while
        // there is any), or the incarnation dies mid-flight.
        for _ in 0..1024 {
            if rig.failover.load(Ordering::SeqCst) || inflight < rig.inflight_max / 2 {
                break;
            }
            let Ok((n, from)) = rig.sock.recv_from(&mut buf) else {
                break;
            };
            let Ok(d) = decode_datagram(&buf[..n]) else {
                continue;
            };
            // A segment back from a crash that missed a recovery installs its range now.
            if let Msg::Ack { vol_epoch, .. } = d.msg
                && let Some(m) = meta.get(&d.pg)
                && vol_epoch < m.vol_epoch
            {
                let msg = Msg::Install {
                    vol_epoch: m.vol_epoch,
                    truncs: wire(&m.truncs),
                };
                send(&rig.sock, from, d.pg, msg);
            }
            let Some(pg) = pgs.get_mut(&d.pg) else {
                continue;
            };
            // A segment that came back without this group (its log was damaged) no longer
            // holds what it acked: its acks stop counting.
            if let Msg::Held { slot, held: 0 } = d.msg {
                pg.node.disconnected(slot);
            }
            pg.node.on_msg(&d.msg);
            let newly = pg.node.advance(&cfg);
            for l in (1..=cfg.lsns).filter(|&l| newly & (1 << (l - 1)) != 0) {
                if let Some(began) = pg.pending.remove(&l) {
                    inflight -= 1;
                    rig.stats.acked.fetch_add(1, Ordering::Relaxed);
                    let us = began.elapsed().as_micros() as u64;
                    rig.stats.latencies_us.lock().unwrap().push(us);
                    let _ = writeln!(log, "{} {l}", d.pg);
                }
            }
        }
        if last_retransmit.elapsed() >= Duration::from_millis(50) {
            last_retransmit = Instant::now();
            repair_round(&rig, &cfg, &mut pgs, current);
        }
    }
    let _ = log.flush();
    drop(log);
    let _ = rig.acked_log.sync_all();
}

/// Retransmit what segments have not acked (this incarnation's records) or have them
/// gossiped by a segment that holds them (older records), oldest first, a bounded number a
/// round; forget groups that are complete and everywhere.
fn repair_round(
    rig: &WriterRig,
    cfg: &QuorumConfig,
    pgs: &mut BTreeMap<u32, WriterPg>,
    current: u32,
) {
    let mut budget = 400usize;
    'pgs: for (&n, pg) in pgs.iter() {
        let w = pg.node.w;
        let allocated = w.next_lsn.saturating_sub(1).min(cfg.lsns);
        let in_trunc = |l: Lsn| pg.node.truncs.iter().any(|t| t.lo <= l && l <= t.hi);
        for (slot, &to) in rig.segments.iter().enumerate() {
            let held = pg.node.heard[slot].map_or(0, |a| a.held);
            for l in (1..=allocated).filter(|&l| held & (1 << (l - 1)) == 0 && !in_trunc(l)) {
                if budget == 0 {
                    break 'pgs;
                }
                budget -= 1;
                if l >= pg.own_from {
                    let msg = Msg::Write {
                        lsn: l,
                        vol_epoch: w.vol_epoch,
                        mem_epoch: w.mem_epoch,
                        cpl: pg.node.cpls & (1 << (l - 1)) != 0,
                    };
                    send(&rig.sock, to, n, msg);
                } else if let Some(h) = (0..rig.segments.len())
                    .find(|&h| pg.node.heard[h].is_some_and(|a| a.held & (1 << (l - 1)) != 0))
                {
                    let msg = Msg::Repair {
                        lsn: l,
                        to: slot as u8,
                    };
                    send(&rig.sock, rig.segments[h], n, msg);
                }
            }
        }
    }
    pgs.retain(|&n, pg| {
        let w = pg.node.w;
        let full = u16::MAX >> (16 - cfg.lsns);
        let live = full
            & !pg.node.truncs.iter().fold(0u16, |a, t| {
                (t.lo..=t.hi.min(cfg.lsns)).fold(a, |a, l| a | (1 << (l - 1)))
            });
        let done = w.next_lsn > cfg.lsns && w.mode == WriterMode::Open && pg.pending.is_empty();
        let everywhere = pg
            .node
            .heard
            .iter()
            .take(rig.segments.len())
            .all(|a| a.is_some_and(|a| a.held & live == live));
        n == current || !(done && everywhere)
    });
}

/// Kill the incarnation and bring up the next: recover every group that was not complete.
fn failover(
    rig: &WriterRig,
    cfg: &QuorumConfig,
    meta: &mut BTreeMap<u32, PgMeta>,
    pgs: &mut BTreeMap<u32, WriterPg>,
    current: &mut u32,
) -> String {
    let started = Instant::now();
    // The dead incarnation's memory is gone: what it had in flight, and what it knew.
    // Complete: open, every LSN allocated, nothing in flight (a group recovered before, with
    // its VDL below the top, is complete too: nothing is ever allocated in it again).
    let complete = |pg: &WriterPg| {
        pg.node.w.mode == WriterMode::Open && pg.node.w.next_lsn > cfg.lsns && pg.pending.is_empty()
    };
    let incomplete: Vec<u32> = pgs
        .iter()
        .filter(|(_, pg)| !complete(pg))
        .map(|(&n, _)| n)
        .collect();
    let lost: usize = pgs.values().map(|pg| pg.pending.len()).sum();
    pgs.clear();
    let mut failed = Vec::new();
    for &n in &incomplete {
        let m = meta.entry(n).or_default();
        match recover(rig, cfg, n, m) {
            Ok(node) => {
                let own_from = model_writer::truncated_top(&m.truncs).saturating_add(1);
                pgs.insert(
                    n,
                    WriterPg {
                        node,
                        pending: BTreeMap::new(),
                        own_from,
                    },
                );
            }
            Err(why) => failed.push(format!("pg {n}: {why}")),
        }
    }
    // New commits go to a new protection group.
    *current = meta.keys().next_back().map_or(0, |&n| n + 1);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut line = format!(
        "failover: the next writer opened in {ms:.0} ms, recovering {} protection groups; {lost} \
         commits in flight never heard back",
        incomplete.len()
    );
    if !failed.is_empty() {
        line.push_str(&format!("; NOT recovered: {}", failed.join(", ")));
    }
    line
}

/// Recover protection group `n` at the next volume epoch; the writer, open, on success.
fn recover(
    rig: &WriterRig,
    cfg: &QuorumConfig,
    n: u32,
    m: &mut PgMeta,
) -> Result<WriterNode, String> {
    let members = rig.segments.len();
    let r = usize::from(cfg.read_quorum);
    let wq = cfg.write_quorum;
    let mut buf = vec![0u8; 64 * 1024];
    // 1. A read quorum's chain tops.
    let mut tops: BTreeMap<u8, (Lsn, u16)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tops.len() < r {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {r} segments answered the recovery read",
                tops.len()
            ));
        }
        for &to in &rig.segments {
            send(
                &rig.sock,
                to,
                n,
                Msg::ReadScl {
                    truncs: wire(&m.truncs),
                },
            );
        }
        let until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < until {
            if let Ok((len, _)) = rig.sock.recv_from(&mut buf)
                && let Ok(d) = decode_datagram(&buf[..len])
                && d.pg == n
                && let Msg::SclReply { slot, top, cpls } = d.msg
            {
                tops.insert(slot, (top, cpls));
            }
        }
    }
    // The model's recovery read is over exactly R segments: the first R that answered.
    let quorum: Vec<(Lsn, u16)> = tops.values().take(r).copied().collect();
    let cpls = quorum.iter().fold(0u16, |a, &(_, c)| a | c);
    let vdl = model_writer::recovered_vdl_from(quorum.iter().map(|&(t, _)| t), cpls, &m.truncs);
    // 2. The range, durable in the metadata service before anything else happens.
    let Some(epoch) = m.vol_epoch.checked_add(1) else {
        return Err("the volume epoch is at its limit".into());
    };
    m.truncs
        .push(model_writer::truncation_range(cfg, vdl, epoch));
    m.vol_epoch = epoch;
    let all: SegSet = (0..members).fold(0, |a, i| a | (1 << i));
    let mut node = WriterNode::new(Writer {
        mode: WriterMode::Recovering { vdl },
        vol_epoch: epoch,
        mem_epoch: 1,
        cfg: quorate_model::quorum::state::Cfg::single(all),
        next_lsn: 1,
        pgcl: 0,
        vcl: 0,
        vdl: 0,
    });
    node.cpls = cpls;
    node.truncs = m.truncs.clone();
    // 3-4. Install (fencing the dead incarnation) and repair, until open.
    let in_trunc = |l: Lsn| m.truncs.iter().any(|t| t.lo <= l && l <= t.hi);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if Instant::now() > deadline {
            return Err(format!(
                "repair below the recovered VDL {vdl} did not finish"
            ));
        }
        let installed: Vec<usize> = (0..members)
            .filter(|&i| node.acks[i].is_some_and(|a| a.vol_epoch == epoch))
            .collect();
        let set: SegSet = installed.iter().fold(0, |a, &i| a | (1 << i));
        if node.w.cfg.is_write_quorum(set, wq, SegSet::MAX) {
            let holders = |l: Lsn| {
                installed
                    .iter()
                    .filter(|&&i| node.acks[i].is_some_and(|a| a.held & (1 << (l - 1)) != 0))
                    .count()
            };
            let missing: Vec<Lsn> = (1..=vdl)
                .filter(|&l| !in_trunc(l) && holders(l) < usize::from(wq))
                .collect();
            if missing.is_empty() {
                // 5. Open.
                let w = &mut node.w;
                w.mode = WriterMode::Open;
                w.pgcl = vdl;
                w.vcl = vdl;
                w.vdl = vdl;
                w.next_lsn = model_writer::truncated_top(&m.truncs).saturating_add(1);
                return Ok(node);
            }
            for l in missing {
                let bit = 1 << (l - 1);
                let Some(h) = installed
                    .iter()
                    .copied()
                    .find(|&i| node.acks[i].is_some_and(|a| a.held & bit != 0))
                else {
                    return Err(format!("no installed segment holds LSN {l}"));
                };
                for &t in installed
                    .iter()
                    .filter(|&&i| node.acks[i].is_some_and(|a| a.held & bit == 0))
                {
                    let msg = Msg::Repair {
                        lsn: l,
                        to: t as u8,
                    };
                    send(&rig.sock, rig.segments[h], n, msg);
                }
            }
        }
        let msg = Msg::Install {
            vol_epoch: epoch,
            truncs: wire(&m.truncs),
        };
        for (i, &to) in rig.segments.iter().enumerate() {
            if node.acks[i].is_none_or(|a| a.vol_epoch != epoch) {
                send(&rig.sock, to, n, msg.clone());
            }
        }
        let until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < until {
            if let Ok((len, _)) = rig.sock.recv_from(&mut buf)
                && let Ok(d) = decode_datagram(&buf[..len])
                && d.pg == n
            {
                node.on_msg(&d.msg);
            }
        }
    }
}
