//! The real runtime's storage control plane: the membership of every protection group, with
//! the model's membership-change protocol (`specs/quorum.md` §5, MemBegin, MemFinalize,
//! MemRevert), kept with the metadata service in the writer's process (it outlives every
//! writer incarnation, as volume epochs and truncation ranges do).
//!
//! A group starts with the six members `A1 A2 B1 B2 C1 C2` at membership epoch 1. Each AZ has
//! one spare node (`A3 B3 C3`). Replacing member F by spare G (F's segment is lost, or the
//! fault `member-change` asks for it, as heat management would):
//! 1. **Begin.** The target is everything the group made durable: the PGCL the segments'
//!    latest reports show (a down segment's report stays, its records are on its disk), the
//!    PGCL the writer proved, and the highest commit acknowledged. G is sent `Join` (an empty
//!    segment at the group's volume epoch and ranges), and the dual configuration {old set, new
//!    set} is installed at the next epoch: written to `DIR/members.log` and fsynced, then sent
//!    (`Member`) to every member; G is born at that epoch. The writer refreshes at once, so its writes need a
//!    write quorum of both sets from here on, and a recovery reads R of either set, not
//!    counting G until it is hydrated.
//! 2. **Hydrate.** G fills by background gossip from its peers (and the writer's
//!    retransmissions of its own records).
//! 3. **Finalize** once G reports an SCL at or above the target: the new set alone, at the
//!    next epoch, and F is told to retire (it drops its segment for good, now or when it is
//!    back).
//! 4. **Revert** (a `member-change` while a change of a healthy member is in progress): the
//!    old set alone at the next epoch, and G retires.
//!
//! A segment that reports an older membership epoch (it was down during a bump) is sent the
//! current one, as the model's restarting segment learns it from the control plane. A spare
//! is used once per group: a retired segment never comes back.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::config::MAX_SEGMENTS;
use quorate_model::quorum::state::{Cfg, Change, Epoch, Lsn, Membership, SegSet, Trunc, slots_of};
use quorate_model::quorum::writer as model_writer;

use super::super::wire::{Msg, WireTrunc};
use super::{az_of, name};

/// The initial members of every group: slots 0..6.
pub const INITIAL: SegSet = 0b11_1111;
/// The spare nodes: slot `6 + az`.
pub const SPARES: [u8; 3] = [6, 7, 8];

/// What the writer's process knows of a group, for a change's target and a joiner's birth.
#[derive(Clone, Debug, Default)]
pub struct PgFacts {
    /// The group's volume epoch.
    pub vol_epoch: Epoch,
    /// Its truncation ranges.
    pub truncs: Vec<Trunc>,
    /// The PGCL the writer incarnation proved (0 if it is not tracking the group).
    pub pgcl: Lsn,
    /// The highest LSN allocated in the group.
    pub max_allocated: Lsn,
    /// The highest commit acknowledged to a client in the group.
    pub acked_top: Lsn,
}

/// One group's membership.
#[derive(Clone, Debug)]
pub struct Members {
    /// The membership (the model's own type and rules).
    pub mem: Membership,
    /// Slots that ever hosted the group: a spare is taken once.
    used: SegSet,
    /// Members whose segment is lost (a damaged log), to be replaced.
    lost: SegSet,
    /// Lost members that cannot be replaced (their AZ's spare served the group already): the
    /// group stays a member short.
    short: SegSet,
    /// Slots told to retire.
    retired: SegSet,
    /// The latest SCL each slot reported.
    reports: [Option<Lsn>; MAX_SEGMENTS],
    /// The membership epoch each slot last reported.
    epochs: [Option<Epoch>; MAX_SEGMENTS],
}

impl Members {
    fn initial() -> Self {
        let cfg = Cfg::single(INITIAL);
        Members {
            mem: Membership {
                cfg,
                epoch: 1,
                prev: cfg,
                change: None,
            },
            used: INITIAL,
            lost: 0,
            short: 0,
            retired: 0,
            reports: [None; MAX_SEGMENTS],
            epochs: [None; MAX_SEGMENTS],
        }
    }

    /// Hosts that have not reported the current epoch.
    fn behind(&self) -> SegSet {
        slots_of(self.hosts() & !self.lost)
            .filter(|&i| self.epochs[i] != Some(self.mem.epoch))
            .fold(0, |a, i| a | (1 << i))
    }

    /// Members and the joiner: who is sent the group's epochs.
    fn hosts(&self) -> SegSet {
        self.mem.cfg.members() | self.mem.change.map_or(0, |c| 1 << c.g)
    }

    /// Members a read quorum may count: all but a joiner that has not hydrated.
    pub fn counted(&self) -> SegSet {
        match self.mem.change {
            Some(c) if !c.hydrated => self.mem.cfg.members() & !(1 << c.g),
            _ => self.mem.cfg.members(),
        }
    }
}

/// Messages the control plane sends: `(slot, pg, msg)`.
pub type Out = Vec<(u8, u32, Msg)>;

/// The control plane.
pub struct ControlPlane {
    cfg: QuorumConfig,
    groups: BTreeMap<u32, Members>,
    /// Groups with a change in progress, a lost member not yet replaced, or a host that has
    /// not reported the current epoch.
    active: BTreeSet<u32>,
    /// `DIR/members.log`: every membership installed, durable before it is sent.
    log: File,
    /// Groups whose membership changed since the writer last refreshed.
    bumped: Vec<u32>,
    /// One line per change begun, finalized or reverted.
    pub events: Vec<String>,
    /// Changes finalized.
    pub finalized: u64,
    /// Changes reverted.
    pub reverted: u64,
    /// Groups the fault injector must leave alone (a lost member, a change in progress).
    troubled: Arc<Mutex<BTreeSet<u32>>>,
}

fn wire(t: &[Trunc]) -> Vec<WireTrunc> {
    t.iter().map(|&t| t.into()).collect()
}

fn set_names(set: SegSet) -> String {
    slots_of(set).map(name).collect::<Vec<_>>().join(" ")
}

impl ControlPlane {
    /// A control plane writing `DIR/members.log`.
    pub fn open(dir: &Path, troubled: Arc<Mutex<BTreeSet<u32>>>) -> io::Result<Self> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("members.log"))?;
        Ok(ControlPlane {
            cfg: super::pg_config(),
            groups: BTreeMap::new(),
            active: BTreeSet::new(),
            log,
            bumped: Vec::new(),
            events: Vec::new(),
            finalized: 0,
            reverted: 0,
            troubled,
        })
    }

    fn group(&mut self, pg: u32) -> &mut Members {
        self.groups.entry(pg).or_insert_with(Members::initial)
    }

    /// The group's membership epoch and configuration.
    pub fn config(&mut self, pg: u32) -> (Epoch, Cfg) {
        let m = &self.group(pg).mem;
        (m.epoch, m.cfg)
    }

    /// The group's membership, for a recovery.
    pub fn members(&mut self, pg: u32) -> Members {
        self.group(pg).clone()
    }

    /// Groups whose membership changed since the last call (the writer refreshes them).
    pub fn take_bumped(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.bumped)
    }

    /// Install `new` at the next epoch of group `pg`: durable first, then sent to every host
    /// (old and new).
    fn bump(&mut self, pg: u32, new: Cfg, out: &mut Out) -> io::Result<()> {
        let g = self.group(pg);
        let before = g.hosts();
        g.mem.bump(new);
        let (epoch, hosts) = (g.mem.epoch, before | g.hosts());
        let sets = if new.dual { new.sets } else { [new.sets[0], 0] };
        writeln!(self.log, "{pg} {epoch} {} {}", sets[0], sets[1])?;
        self.log.sync_data()?;
        for s in slots_of(hosts) {
            out.push((s as u8, pg, Msg::Member { epoch }));
        }
        self.bumped.push(pg);
        self.settle_trouble(pg);
        Ok(())
    }

    fn settle_trouble(&mut self, pg: u32) {
        let g = self.group(pg);
        let lost = g.lost & g.mem.cfg.members();
        // The injector must leave alone a group that is a member short or changing.
        let troubled = g.mem.change.is_some() || lost != 0;
        let active = g.mem.change.is_some() || lost & !g.short != 0 || g.behind() != 0;
        if active {
            self.active.insert(pg);
        } else {
            self.active.remove(&pg);
        }
        if troubled {
            self.troubled.lock().unwrap().insert(pg);
        } else {
            self.troubled.lock().unwrap().remove(&pg);
        }
    }

    /// Begin replacing member `f` of group `pg` by the spare of its AZ.
    pub fn begin(
        &mut self,
        pg: u32,
        f: u8,
        why: &str,
        facts: &PgFacts,
        out: &mut Out,
    ) -> io::Result<Result<(), String>> {
        let cfg = self.cfg.clone();
        let g = self.group(pg);
        if !g.mem.may_begin(f) {
            return Ok(Err(format!("pg {pg}: a change is in progress")));
        }
        let spare = SPARES[usize::from(az_of(usize::from(f)))];
        if g.used & (1 << spare) != 0 {
            return Ok(Err(format!(
                "pg {pg}: the spare {} of {}'s AZ was used already",
                name(usize::from(spare)),
                name(usize::from(f))
            )));
        }
        let counted = g.mem.cfg.members() & !g.lost;
        let scls = slots_of(counted).filter_map(|i| g.reports[i].map(|scl| (i, scl)));
        let shown = model_writer::pgcl_from_scls(&cfg, scls, facts.max_allocated, &g.mem.cfg);
        let target = shown.max(facts.pgcl).max(facts.acked_top);
        g.used |= 1 << spare;
        g.reports[usize::from(spare)] = None;
        g.mem.change = Some(Change {
            f,
            g: spare,
            target,
            // This control plane reads the writer's own figures (`facts`) when the change
            // begins, so its target needs no reports at the dual epoch.
            heard: SegSet::MAX,
            hydrated: false,
        });
        let (epoch, dual) = (g.mem.epoch, g.mem.dual_for(f, spare));
        self.bump(pg, dual, out)?;
        // G is born at the dual epoch (the bump's `Member` may reach it first: it ignores a
        // group it does not host).
        let join = Msg::Join {
            mem_epoch: epoch + 1,
            vol_epoch: facts.vol_epoch.max(1),
            truncs: wire(&facts.truncs),
        };
        out.push((spare, pg, join));
        self.events.push(format!(
            "pg {pg}: replace {} by {} ({why}); dual quorum sets at epoch {}, hydrate to LSN \
             {target}",
            name(usize::from(f)),
            name(usize::from(spare)),
            epoch + 1
        ));
        self.settle_trouble(pg);
        Ok(Ok(()))
    }

    /// Revert a change of a member that is not lost, if one is in progress.
    pub fn revert_one(&mut self, out: &mut Out) -> io::Result<bool> {
        let Some((pg, c)) = self.active.iter().find_map(|&pg| {
            let g = &self.groups[&pg];
            g.mem
                .change
                .filter(|c| g.lost & (1 << c.f) == 0)
                .map(|c| (pg, c))
        }) else {
            return Ok(false);
        };
        let old = self.group(pg).mem.cfg.sets[0];
        self.bump(pg, Cfg::single(old), out)?;
        let g = self.group(pg);
        g.mem.change = None;
        g.retired |= 1 << c.g;
        out.push((c.g, pg, Msg::Retire));
        self.reverted += 1;
        self.events.push(format!(
            "pg {pg}: revert the change of {}; {} retires (epoch {})",
            name(usize::from(c.f)),
            name(usize::from(c.g)),
            self.groups[&pg].mem.epoch
        ));
        self.settle_trouble(pg);
        Ok(true)
    }

    /// Fold in what a segment said of group `pg`.
    pub fn on_msg(
        &mut self,
        pg: u32,
        msg: &Msg,
        facts: &dyn Fn(u32) -> PgFacts,
        out: &mut Out,
    ) -> io::Result<()> {
        match *msg {
            Msg::Ack {
                slot,
                scl,
                mem_epoch,
                ..
            } if usize::from(slot) < MAX_SEGMENTS => {
                let g = self.group(pg);
                if g.hosts() & (1 << slot) == 0 {
                    // Not in the group (replaced, or a joiner reverted): retire, again if
                    // the first word was lost or it was down.
                    g.retired |= 1 << slot;
                    out.push((slot, pg, Msg::Retire));
                    return Ok(());
                }
                g.reports[usize::from(slot)] = Some(scl);
                let was_behind = g.behind() != 0;
                g.epochs[usize::from(slot)] = Some(mem_epoch);
                if mem_epoch < g.mem.epoch {
                    out.push((slot, pg, Msg::Member { epoch: g.mem.epoch }));
                }
                if was_behind && g.behind() == 0 {
                    self.settle_trouble(pg);
                }
                let g = self.group(pg);
                if let Some(c) = g.mem.change.as_mut()
                    && c.g == slot
                    && scl >= c.target
                {
                    c.hydrated = true;
                    self.finalize(pg, out)?;
                }
            }
            Msg::Held { slot, held: 0 } if usize::from(slot) < MAX_SEGMENTS => {
                // A segment that came back without the group: lost, if it was a member (or
                // the joiner).
                let g = self.group(pg);
                if g.hosts() & (1 << slot) != 0 && g.lost & (1 << slot) == 0 {
                    g.lost |= 1 << slot;
                    g.reports[usize::from(slot)] = None;
                    let joiner = g.mem.change.is_some_and(|c| c.g == slot);
                    self.events.push(format!(
                        "pg {pg}: the segment of {} is lost",
                        name(usize::from(slot))
                    ));
                    if joiner {
                        self.abort(pg, out)?;
                    }
                    self.settle_trouble(pg);
                    self.replace_lost(pg, &facts(pg), out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Begin replacing a lost member of `pg`, if none is in progress.
    fn replace_lost(&mut self, pg: u32, facts: &PgFacts, out: &mut Out) -> io::Result<()> {
        let g = self.group(pg);
        let lost = g.lost & g.mem.cfg.members() & !g.short;
        if g.mem.change.is_some() {
            return Ok(());
        }
        if let Some(f) = slots_of(lost).next()
            && let Err(why) = self.begin(pg, f as u8, "its segment is lost", facts, out)?
        {
            self.events
                .push(format!("{why}; pg {pg} stays a member short"));
            // Nothing will change this: stop trying (the group stays off the injector's list).
            self.group(pg).short |= 1 << f;
            self.settle_trouble(pg);
        }
        Ok(())
    }

    /// The joiner itself is lost: give the change up (the old set alone at the next epoch;
    /// the joiner retires). A lost F is then replaced afresh, if a spare is left.
    fn abort(&mut self, pg: u32, out: &mut Out) -> io::Result<()> {
        let Some(c) = self.group(pg).mem.change else {
            return Ok(());
        };
        let old = self.group(pg).mem.cfg.sets[0];
        self.bump(pg, Cfg::single(old), out)?;
        let g = self.group(pg);
        g.mem.change = None;
        g.retired |= 1 << c.g;
        g.lost &= !(1 << c.g);
        out.push((c.g, pg, Msg::Retire));
        self.reverted += 1;
        self.events.push(format!(
            "pg {pg}: the joiner {} is lost; the change of {} is given up (epoch {})",
            name(usize::from(c.g)),
            name(usize::from(c.f)),
            self.groups[&pg].mem.epoch
        ));
        self.settle_trouble(pg);
        Ok(())
    }

    fn finalize(&mut self, pg: u32, out: &mut Out) -> io::Result<()> {
        let g = self.group(pg);
        let Some(c) = g.mem.change else {
            return Ok(());
        };
        let new = g.mem.replacing(c.f, c.g);
        self.bump(pg, Cfg::single(new), out)?;
        let g = self.group(pg);
        g.mem.change = None;
        g.lost &= !(1 << c.f);
        g.retired |= 1 << c.f;
        out.push((c.f, pg, Msg::Retire));
        self.finalized += 1;
        self.events.push(format!(
            "pg {pg}: {} hydrated; members {} at epoch {}, {} retires",
            name(usize::from(c.g)),
            set_names(new),
            self.groups[&pg].mem.epoch,
            name(usize::from(c.f))
        ));
        self.settle_trouble(pg);
        Ok(())
    }

    /// Every few hundred milliseconds: ask a joiner again (its `Join` or its ack may have
    /// been lost, or it was down), and replace lost members once a change is over.
    pub fn tick(&mut self, facts: &dyn Fn(u32) -> PgFacts, out: &mut Out) -> io::Result<()> {
        let active: Vec<u32> = self.active.iter().copied().collect();
        for pg in active {
            let g = self.group(pg);
            // A host that missed a bump (its `Member` was dropped, or it was down).
            for s in slots_of(g.behind()) {
                out.push((s as u8, pg, Msg::Member { epoch: g.mem.epoch }));
            }
            match g.mem.change {
                Some(c) if g.reports[usize::from(c.g)].is_none() => {
                    let f = facts(pg);
                    let join = Msg::Join {
                        mem_epoch: g.mem.epoch,
                        vol_epoch: f.vol_epoch.max(1),
                        truncs: wire(&f.truncs),
                    };
                    out.push((c.g, pg, join));
                    out.push((c.g, pg, Msg::Member { epoch: g.mem.epoch }));
                }
                Some(c) if g.behind() & (1 << c.g) == 0 => {
                    // Asked again for its state: its acks of gossip may have been dropped.
                    out.push((c.g, pg, Msg::Member { epoch: g.mem.epoch }))
                }
                Some(_) => {}
                None => self.replace_lost(pg, &facts(pg), out)?,
            }
        }
        Ok(())
    }
}

/// A group's membership as `DIR/members.log` last recorded it: the configuration, and the
/// joiner of a change in progress (which no read counts: it had not hydrated, or the change
/// would have been finalized).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The configuration in force.
    pub cfg: Cfg,
    /// Members a read quorum counts.
    pub counted: SegSet,
}

/// Every group's last recorded membership (groups not named have the initial one).
pub fn read_members(dir: &Path) -> io::Result<BTreeMap<u32, Recorded>> {
    let f = match File::open(dir.join("members.log")) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    BufReader::new(f).read_to_string(&mut text)?;
    let mut out = BTreeMap::new();
    let bad = |n: usize, line: &str, why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line {n} ({line:?}) is not a membership: {why}"),
        )
    };
    // A last line without its newline was cut short by a crash: it was never sent.
    for (n, line) in text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .enumerate()
    {
        let (n, line) = (n + 1, line.trim_end());
        let v: Vec<u32> = line
            .split_whitespace()
            .map(|w| w.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| bad(n, line, "not numbers"))?;
        let [pg, _epoch, a, b] = v[..] else {
            return Err(bad(n, line, "not four numbers"));
        };
        let nodes: u32 = (1 << super::NODES) - 1;
        let size = INITIAL.count_ones();
        if a & !nodes != 0 || b & !nodes != 0 || a.count_ones() != size {
            return Err(bad(n, line, "a set is not six of the nine nodes"));
        }
        let (a, b) = (a as SegSet, b as SegSet);
        if b != 0 && (b.count_ones() != size || (a & !b).count_ones() != 1) {
            return Err(bad(
                n,
                line,
                "the new set is not the old one with one member replaced",
            ));
        }
        let rec = if b == 0 {
            Recorded {
                cfg: Cfg::single(a),
                counted: a,
            }
        } else {
            Recorded {
                cfg: Cfg {
                    sets: [a, b],
                    dual: true,
                },
                counted: (a | b) & !(b & !a),
            }
        };
        out.insert(pg, rec);
    }
    Ok(out)
}

/// A group's recorded membership, or the initial one.
pub fn recorded(all: &BTreeMap<u32, Recorded>, pg: u32) -> Recorded {
    all.get(&pg).copied().unwrap_or(Recorded {
        cfg: Cfg::single(INITIAL),
        counted: INITIAL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("quorate-control-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ack(slot: u8, scl: Lsn, mem_epoch: Epoch) -> Msg {
        Msg::Ack {
            slot,
            scl,
            held: (1u16 << scl) - 1,
            mem_epoch,
            vol_epoch: 1,
        }
    }

    fn facts(_: u32) -> PgFacts {
        PgFacts {
            vol_epoch: 1,
            truncs: Vec::new(),
            pgcl: 6,
            max_allocated: 8,
            acked_top: 6,
        }
    }

    fn sent(out: &Out, slot: u8, msg: &Msg) -> bool {
        out.iter().any(|(s, _, m)| *s == slot && m == msg)
    }

    #[test]
    fn a_lost_member_is_replaced_through_dual_sets_and_the_change_is_durable() {
        let dir = scratch("lost");
        let troubled: Arc<Mutex<BTreeSet<u32>>> = Arc::default();
        let mut cp = ControlPlane::open(&dir, troubled.clone()).unwrap();
        let mut out = Out::new();
        for s in 0..6 {
            cp.on_msg(7, &ack(s, 6, 1), &facts, &mut out).unwrap();
        }
        assert!(out.is_empty(), "{out:?}");
        // C1 (slot 4) comes back without the group: C3 (slot 8, same AZ) joins.
        cp.on_msg(7, &Msg::Held { slot: 4, held: 0 }, &facts, &mut out)
            .unwrap();
        let join = Msg::Join {
            mem_epoch: 2,
            vol_epoch: 1,
            truncs: Vec::new(),
        };
        assert!(sent(&out, 8, &join), "{out:?}");
        for s in [0, 1, 2, 3, 4, 5, 8] {
            assert!(sent(&out, s, &Msg::Member { epoch: 2 }), "{s}: {out:?}");
        }
        let (epoch, dual) = cp.config(7);
        let new = INITIAL & !(1 << 4) | (1 << 8);
        assert_eq!((epoch, dual.dual, dual.sets), (2, true, [INITIAL, new]));
        assert_eq!(cp.take_bumped(), vec![7]);
        assert!(troubled.lock().unwrap().contains(&7));
        // Durable before it is sent; the joiner counts for no read until it is hydrated.
        let rec = recorded(&read_members(&dir).unwrap(), 7);
        assert_eq!((rec.cfg, rec.counted), (dual, INITIAL));
        assert_eq!(cp.members(7).counted(), INITIAL);

        // A member that missed the bump is sent the epoch; the joiner short of the target
        // changes nothing.
        out.clear();
        cp.on_msg(7, &ack(2, 6, 1), &facts, &mut out).unwrap();
        assert!(sent(&out, 2, &Msg::Member { epoch: 2 }), "{out:?}");
        out.clear();
        cp.on_msg(7, &ack(8, 5, 2), &facts, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(cp.config(7).0, 2);

        // Hydrated to the target (the PGCL the writer proved, 6): finalize, C1 retires.
        cp.on_msg(7, &ack(8, 6, 2), &facts, &mut out).unwrap();
        let (epoch, single) = cp.config(7);
        assert_eq!((epoch, single), (3, Cfg::single(new)));
        assert!(sent(&out, 4, &Msg::Retire), "{out:?}");
        assert_eq!((cp.finalized, cp.reverted), (1, 0));
        assert!(!troubled.lock().unwrap().contains(&7));
        let rec = recorded(&read_members(&dir).unwrap(), 7);
        assert_eq!((rec.cfg, rec.counted), (single, new));
        // Retired for good: told again whenever it speaks.
        out.clear();
        cp.on_msg(7, &ack(4, 6, 1), &facts, &mut out).unwrap();
        assert!(sent(&out, 4, &Msg::Retire), "{out:?}");
        // Groups never changed have the initial membership.
        let rec = recorded(&read_members(&dir).unwrap(), 8);
        assert_eq!((rec.cfg, rec.counted), (Cfg::single(INITIAL), INITIAL));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lost_joiner_gives_the_change_up_and_a_group_without_a_spare_stays_short() {
        let dir = scratch("joiner");
        let troubled: Arc<Mutex<BTreeSet<u32>>> = Arc::default();
        let mut cp = ControlPlane::open(&dir, troubled.clone()).unwrap();
        let mut out = Out::new();
        // B2 (slot 3) is lost: B3 (slot 7) joins, then is lost too.
        cp.on_msg(5, &Msg::Held { slot: 3, held: 0 }, &facts, &mut out)
            .unwrap();
        assert!(cp.config(5).1.dual);
        out.clear();
        cp.on_msg(5, &Msg::Held { slot: 7, held: 0 }, &facts, &mut out)
            .unwrap();
        assert_eq!(cp.config(5), (3, Cfg::single(INITIAL)));
        assert!(sent(&out, 7, &Msg::Retire), "{out:?}");
        // B's spare served the group: B2 cannot be replaced, the group stays a member short
        // (and off the injector's list), and its further notices change nothing.
        assert!(cp.events.iter().any(|e| e.contains("stays a member short")));
        assert!(troubled.lock().unwrap().contains(&5));
        let lines = cp.events.len();
        out.clear();
        cp.on_msg(5, &Msg::Held { slot: 3, held: 0 }, &facts, &mut out)
            .unwrap();
        assert_eq!(cp.events.len(), lines);
        // A host that missed a bump is sent the epoch again at every tick until it reports it.
        for s in [0, 1, 2, 4] {
            cp.on_msg(5, &ack(s, 6, 3), &facts, &mut out).unwrap();
        }
        out.clear();
        cp.tick(&facts, &mut out).unwrap();
        assert_eq!(out, vec![(5, 5, Msg::Member { epoch: 3 })]);
        cp.on_msg(5, &ack(5, 6, 3), &facts, &mut out).unwrap();
        out.clear();
        cp.tick(&facts, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn members_log_lines_are_checked_and_a_torn_last_line_is_ignored() {
        let dir = scratch("log");
        let path = dir.join("members.log");
        let new = INITIAL & !1 | (1 << 6);
        std::fs::write(
            &path,
            format!("4 2 {INITIAL} {new}\n4 3 {new} 0\n4 4 {new} 1"),
        )
        .unwrap();
        let all = read_members(&dir).unwrap();
        assert_eq!(
            recorded(&all, 4).cfg,
            Cfg::single(new),
            "the torn line is not read"
        );
        for bad in [
            "4 2 1023 0\n".to_string(),           // ten nodes
            "4 2 7 0\n".to_string(),              // three members
            format!("4 2 {INITIAL} {INITIAL}\n"), // a dual line that replaces nobody
            "4 2 x 0\n".to_string(),
            "4 2 63\n".to_string(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let e = read_members(&dir).unwrap_err();
            assert!(
                e.to_string().contains("is not a membership"),
                "{bad:?}: {e}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_change_of_a_healthy_member_reverts_and_a_spare_serves_once() {
        let dir = scratch("revert");
        let mut cp = ControlPlane::open(&dir, Arc::default()).unwrap();
        let mut out = Out::new();
        cp.begin(3, 0, "heat management", &facts(3), &mut out)
            .unwrap()
            .unwrap();
        assert!(sent(&out, 6, &Msg::Member { epoch: 2 }));
        // A second change cannot begin while one is in progress.
        let busy = cp.begin(3, 2, "heat", &facts(3), &mut out).unwrap();
        assert!(busy.unwrap_err().contains("in progress"));
        out.clear();
        assert!(cp.revert_one(&mut out).unwrap());
        assert_eq!(cp.config(3), (3, Cfg::single(INITIAL)));
        assert!(sent(&out, 6, &Msg::Retire), "{out:?}");
        assert_eq!((cp.finalized, cp.reverted), (0, 1));
        assert!(!cp.revert_one(&mut out).unwrap(), "nothing left to revert");
        // A3 was used by this group: A1 cannot move there again.
        let again = cp.begin(3, 1, "heat", &facts(3), &mut out).unwrap();
        assert!(again.unwrap_err().contains("used already"));
        // Another AZ's spare is still free.
        cp.begin(3, 5, "heat", &facts(3), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(cp.config(3).0, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
