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
//!
//! **Membership** ([`control`](super::control)): each group's writer knows the membership the
//! control plane installed (refreshed at every bump) and writes to its members only; a
//! recovery reads R of either set of a dual configuration and repairs to a write quorum of
//! both. Records older than the incarnation's are not the writer's to resend: the segments'
//! background gossip spreads them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::state::{
    Epoch, Lsn, SegSet, Trunc, Writer, WriterMode, count, slots_of,
};
use quorate_model::quorum::step::init;
use quorate_model::quorum::writer as model_writer;

use super::super::wire::{Datagram, Msg, WireTrunc, decode_datagram, encode_datagram};
use super::super::writer::WriterNode;
use super::control::{ControlPlane, Members, Out, PgFacts};
use super::pg_config;
use crate::rng::Rng;

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
    /// The highest commit acknowledged to a client in it (what a joiner must hydrate to, at
    /// least).
    acked_top: Lsn,
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
    /// Set by the fault injector to change a membership (or revert a change); cleared here.
    pub member_change: Arc<AtomicBool>,
    /// Seed of the membership changes' choices.
    pub seed: u64,
}

/// What the control plane did, for the report.
#[derive(Clone, Debug, Default)]
pub struct ControlReport {
    /// One line per change begun, finalized or reverted.
    pub events: Vec<String>,
    /// Changes finalized.
    pub finalized: u64,
    /// Changes reverted.
    pub reverted: u64,
}

fn wire(t: &[Trunc]) -> Vec<WireTrunc> {
    t.iter().map(|&t| t.into()).collect()
}

fn send(sock: &UdpSocket, to: SocketAddr, pg: u32, msg: Msg) {
    let _ = sock.send_to(&encode_datagram(&Datagram { pg, msg }), to);
}

/// Send what the control plane decided, and refresh the writer of every group whose
/// membership it bumped (the model's WriterRefresh, at once: they share the process).
fn deliver(
    rig: &WriterRig,
    out: Out,
    control: &mut ControlPlane,
    pgs: &mut BTreeMap<u32, WriterPg>,
) {
    for (slot, pg, msg) in out {
        if let Some(&to) = rig.segments.get(usize::from(slot)) {
            send(&rig.sock, to, pg, msg);
        }
    }
    for n in control.take_bumped() {
        if let Some(pg) = pgs.get_mut(&n)
            && pg.node.w.mode == WriterMode::Open
        {
            let (epoch, cfg) = control.config(n);
            pg.node.w.mem_epoch = epoch;
            pg.node.w.cfg = cfg;
        }
    }
}

/// What the control plane needs to know of group `n` from the writer and the metadata service.
fn facts(
    cfg: &QuorumConfig,
    meta: &BTreeMap<u32, PgMeta>,
    pgs: &BTreeMap<u32, WriterPg>,
    n: u32,
) -> PgFacts {
    let m = meta.get(&n).cloned().unwrap_or_default();
    let (pgcl, max_allocated) = match pgs.get(&n) {
        Some(pg) => (pg.node.w.pgcl, pg.node.w.next_lsn.saturating_sub(1)),
        // Forgotten: complete, and every member held every record.
        None => (0, cfg.lsns),
    };
    PgFacts {
        vol_epoch: m.vol_epoch,
        truncs: m.truncs,
        pgcl,
        max_allocated,
        acked_top: m.acked_top,
    }
}

/// The writer's main loop; what the control plane did when it stops.
pub fn writer_main(rig: WriterRig, mut control: ControlPlane) -> ControlReport {
    let cfg = pg_config();
    let mut rng = Rng::new(rig.seed ^ 0x6d65_6d62_6572);
    let mut last_tick = Instant::now();
    let fresh = init(&cfg).writer.core;
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
            let line = failover(&rig, &cfg, &mut meta, &mut pgs, &mut current, &mut control);
            inflight = 0;
            rig.stats.failovers.lock().unwrap().push(line);
            rig.failover.store(false, Ordering::SeqCst);
            continue;
        }
        if rig.member_change.swap(false, Ordering::SeqCst) {
            let mut out = Out::new();
            let reverted = control.revert_one(&mut out).unwrap_or(false);
            if !reverted {
                // Heat management: move a member of a recent group (being written, or filled lately).
                let pg = current.saturating_sub(rng.below(16) as u32);
                let (_, c) = control.config(pg);
                let members: Vec<usize> = slots_of(c.members()).collect();
                let f = members[rng.below(members.len() as u64) as usize] as u8;
                let known = facts(&cfg, &meta, &pgs, pg);
                match control.begin(pg, f, "heat management", &known, &mut out) {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => control.events.push(format!("{why}; no change")),
                    Err(_) => break, // the metadata service cannot write: stop
                }
            }
            deliver(&rig, out, &mut control, &mut pgs);
        }
        if last_tick.elapsed() >= Duration::from_millis(200) {
            last_tick = Instant::now();
            let mut out = Out::new();
            if control
                .tick(&|n| facts(&cfg, &meta, &pgs, n), &mut out)
                .is_err()
            {
                break;
            }
            deliver(&rig, out, &mut control, &mut pgs);
        }
        // The client begins commits while it may.
        while inflight < rig.inflight_max {
            let pg = pgs.entry(current).or_insert_with(|| {
                rig.stats.pgs.fetch_add(1, Ordering::Relaxed);
                meta.entry(current).or_insert(PgMeta {
                    vol_epoch: 1,
                    truncs: Vec::new(),
                    acked_top: 0,
                });
                // A new group's writer knows its membership from the control plane.
                let (mem_epoch, members) = control.config(current);
                let w = Writer {
                    mem_epoch,
                    cfg: members,
                    ..fresh
                };
                WriterPg {
                    node: WriterNode::new(w),
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
                        for s in slots_of(w.cfg.members()) {
                            send(&rig.sock, rig.segments[s], current, msg.clone());
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
            let mut out = Out::new();
            let told = control.on_msg(d.pg, &d.msg, &|n| facts(&cfg, &meta, &pgs, n), &mut out);
            if told.is_err() {
                break; // the metadata service cannot write
            }
            deliver(&rig, out, &mut control, &mut pgs);
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
                    if let Some(m) = meta.get_mut(&d.pg) {
                        m.acked_top = m.acked_top.max(l);
                    }
                }
            }
        }
        if last_retransmit.elapsed() >= Duration::from_millis(50) {
            last_retransmit = Instant::now();
            repair_round(&rig, &cfg, &meta, &mut pgs, current);
        }
    }
    let _ = log.flush();
    drop(log);
    let _ = rig.acked_log.sync_all();
    ControlReport {
        events: std::mem::take(&mut control.events),
        finalized: control.finalized,
        reverted: control.reverted,
    }
}

/// Retransmit to the members what they have not acked of this incarnation's records, oldest
/// first, a bounded number a round (older records are the segments' gossip to spread); tell a
/// member never heard from of the group's recoveries (its segment is born of the `Install`);
/// forget groups that are complete and on every member.
fn repair_round(
    rig: &WriterRig,
    cfg: &QuorumConfig,
    meta: &BTreeMap<u32, PgMeta>,
    pgs: &mut BTreeMap<u32, WriterPg>,
    current: u32,
) {
    let mut budget = 400usize;
    'pgs: for (&n, pg) in pgs.iter() {
        let w = pg.node.w;
        let allocated = w.next_lsn.saturating_sub(1).min(cfg.lsns);
        let in_trunc = |l: Lsn| pg.node.truncs.iter().any(|t| t.lo <= l && l <= t.hi);
        for slot in slots_of(w.cfg.members()) {
            let to = rig.segments[slot];
            if pg.node.heard[slot].is_none()
                && let Some(m) = meta.get(&n)
                && m.vol_epoch > 1
                && budget > 0
            {
                budget -= 1;
                let msg = Msg::Install {
                    vol_epoch: m.vol_epoch,
                    truncs: wire(&m.truncs),
                };
                send(&rig.sock, to, n, msg);
            }
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
        let everywhere = slots_of(w.cfg.members())
            .all(|i| pg.node.heard[i].is_some_and(|a| a.held & live == live));
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
    control: &mut ControlPlane,
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
        match recover(rig, cfg, n, m, &control.members(n)) {
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
    group: &Members,
) -> Result<WriterNode, String> {
    let r = usize::from(cfg.read_quorum);
    let wq = cfg.write_quorum;
    let (mem_epoch, members) = (group.mem.epoch, group.mem.cfg);
    let counted = group.counted();
    let mut buf = vec![0u8; 64 * 1024];
    // 1. A read quorum's chain tops: R counted members of one of the sets in force.
    let mut tops: BTreeMap<u8, (Lsn, u16)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let read_quorum = |tops: &BTreeMap<u8, (Lsn, u16)>| {
        let answered: SegSet = tops.keys().fold(0, |a, &i| a | (1 << i));
        members
            .sets()
            .iter()
            .map(|set| set & counted & answered)
            .find(|q| count(*q) >= r)
    };
    while read_quorum(&tops).is_none() {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of the members answered the recovery read; it needs {r} of one \
                 quorum set",
                tops.len()
            ));
        }
        for s in slots_of(members.members()) {
            let to = rig.segments[s];
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
                && members.members() & (1 << slot) != 0
            {
                tops.insert(slot, (top, cpls));
            }
        }
    }
    // The model's recovery read is over exactly R segments of one set.
    let q = read_quorum(&tops).expect("the loop ends on a read quorum");
    let quorum: Vec<(Lsn, u16)> = slots_of(q).take(r).map(|i| tops[&(i as u8)]).collect();
    let cpls = quorum.iter().fold(0u16, |a, &(_, c)| a | c);
    let vdl = model_writer::recovered_vdl_from(quorum.iter().map(|&(t, _)| t), cpls, &m.truncs);
    // 2. The range, durable in the metadata service before anything else happens.
    let Some(epoch) = m.vol_epoch.checked_add(1) else {
        return Err("the volume epoch is at its limit".into());
    };
    m.truncs
        .push(model_writer::truncation_range(cfg, vdl, epoch));
    m.vol_epoch = epoch;
    let mut node = WriterNode::new(Writer {
        mode: WriterMode::Recovering { vdl },
        vol_epoch: epoch,
        mem_epoch,
        cfg: members,
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
        // Installed, and at the group's membership epoch (a repair crosses no epoch).
        let installed: Vec<usize> = slots_of(members.members())
            .filter(|&i| {
                node.acks[i].is_some_and(|a| a.vol_epoch == epoch && a.mem_epoch == mem_epoch)
            })
            .collect();
        let set: SegSet = installed.iter().fold(0, |a, &i| a | (1 << i));
        if node.w.cfg.is_write_quorum(set, wq, SegSet::MAX) {
            let holders = |l: Lsn| {
                installed
                    .iter()
                    .filter(|&&i| node.acks[i].is_some_and(|a| a.held & (1 << (l - 1)) != 0))
                    .fold(0 as SegSet, |a, &i| a | (1 << i))
            };
            let missing: Vec<Lsn> = (1..=vdl)
                .filter(|&l| !in_trunc(l) && !members.is_write_quorum(holders(l), wq, SegSet::MAX))
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
        for i in slots_of(members.members()) {
            let to = rig.segments[i];
            match node.acks[i] {
                Some(a) if a.vol_epoch == epoch && a.mem_epoch < mem_epoch => {
                    // Back from a crash that missed a membership bump: the epoch first.
                    send(&rig.sock, to, n, Msg::Member { epoch: mem_epoch });
                }
                Some(a) if a.vol_epoch == epoch => {}
                _ => send(&rig.sock, to, n, msg.clone()),
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
