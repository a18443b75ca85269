//! The state of one protection group, its writer and the network, as the checker explores it.
//!
//! Segment sets are bit sets (`SegSet`, bit `i` = segment slot `i`), LSNs are small integers
//! (`1..=MAX_LSN`), and a segment's records are one byte per LSN holding the volume epoch of the
//! writer incarnation that wrote it (0 = absent). Everything is a plain value with a derived,
//! deterministic `Hash`, so fingerprints are stable across runs.

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};

use super::config::{MAX_LSN, MAX_SEGMENTS, MAX_WRITER_CRASHES};

mod pack;

/// A set of segment slots.
pub type SegSet = u16;
/// A log sequence number; 0 means "none".
pub type Lsn = u8;
/// A membership or volume epoch.
pub type Epoch = u8;

/// Iterate the slots in a set, lowest first.
pub fn slots_of(set: SegSet) -> impl Iterator<Item = usize> + Clone {
    let mut rest = set;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            i
        })
    })
}

/// Number of slots in a set.
pub fn count(set: SegSet) -> usize {
    set.count_ones() as usize
}

/// A quorum configuration: one quorum set, or two during a membership change (write = W of
/// each, read = R of either).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Cfg {
    /// The quorum sets; `sets[1]` is meaningful only when `dual`.
    pub sets: [SegSet; 2],
    /// Whether two quorum sets are in force.
    pub dual: bool,
}

impl Cfg {
    /// A single-set configuration.
    pub fn single(set: SegSet) -> Self {
        Cfg {
            sets: [set, 0],
            dual: false,
        }
    }

    /// The quorum sets in force.
    pub fn sets(&self) -> &[SegSet] {
        if self.dual {
            &self.sets[..]
        } else {
            &self.sets[..1]
        }
    }

    /// Every member of any set.
    pub fn members(&self) -> SegSet {
        self.sets().iter().fold(0, |a, s| a | s)
    }

    /// `x` holds at least `w` members of every set (counting only `counted`).
    pub fn is_write_quorum(&self, x: SegSet, w: u8, counted: SegSet) -> bool {
        self.sets()
            .iter()
            .all(|q| count(q & x & counted) >= usize::from(w))
    }

    /// `y` holds at least `r` members of some set (counting only `counted`).
    pub fn is_read_quorum(&self, y: SegSet, r: u8, counted: SegSet) -> bool {
        self.sets()
            .iter()
            .any(|q| count(q & y & counted) >= usize::from(r))
    }

    /// Apply a slot permutation (`perm[old] = new`).
    pub fn permute(&self, perm: &[usize]) -> Self {
        let mut c = *self;
        for s in c.sets.iter_mut() {
            *s = permute_set(*s, perm);
        }
        c
    }
}

/// Apply a slot permutation to a set.
pub fn permute_set(set: SegSet, perm: &[usize]) -> SegSet {
    slots_of(set).fold(0, |a, i| a | (1 << perm[i]))
}

/// One storage segment (a copy of the protection group's log on one storage node).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Segment {
    /// Reachable and serving (false while crashed, in an AZ outage, or after disk loss).
    pub up: bool,
    /// The disk is gone for good; the segment never returns.
    pub lost: bool,
    /// Never used yet (a spare waiting to replace a member).
    pub spare: bool,
    /// The AZ it lives in (spares take the AZ of the member they replace).
    pub az: u8,
    /// Membership epoch this segment has seen (durable).
    pub mem_epoch: Epoch,
    /// Volume epoch this segment has seen, i.e. truncation ranges it has installed (durable).
    pub vol_epoch: Epoch,
    /// Segment complete LSN: the inclusive top of its gap-free chain (durable).
    pub scl: Lsn,
    /// `recs[l-1]` = volume epoch of the writer that wrote LSN `l`, 0 if absent (durable).
    pub recs: [Epoch; MAX_LSN],
}

impl Segment {
    /// Whether LSN `l` is held (in any epoch).
    pub fn holds(&self, l: Lsn) -> bool {
        self.recs[usize::from(l) - 1] != 0
    }

    /// The writer epoch of LSN `l`, 0 if absent.
    pub fn rec(&self, l: Lsn) -> Epoch {
        self.recs[usize::from(l) - 1]
    }
}

/// A truncation range written by a recovery: records of LSN `lo..=hi` written by an
/// incarnation older than `epoch` are annulled. Durable in the metadata service.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Trunc {
    /// The volume epoch of the recovery that wrote it.
    pub epoch: Epoch,
    /// First annulled LSN (the recovered VDL + 1).
    pub lo: Lsn,
    /// Last annulled LSN (the recovered VDL + LAL).
    pub hi: Lsn,
}

impl Trunc {
    /// Whether a record of LSN `l` written at volume epoch `wepoch` is annulled by this range.
    pub fn annuls(&self, l: Lsn, wepoch: Epoch) -> bool {
        self.lo <= l && l <= self.hi && wepoch < self.epoch
    }
}

/// A membership change in progress: `f` is being replaced by the spare `g`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// The member being replaced.
    pub f: u8,
    /// The joining spare.
    pub g: u8,
    /// G is hydrated once its SCL reaches this: at least the PGCL when G was added, raised by
    /// every SCL a member of the old configuration reports at the dual configuration's epoch.
    pub target: Lsn,
    /// The members of the old configuration (G aside) that have reported their SCL at the
    /// dual configuration's epoch. Only once they make a read quorum does `target` cover every
    /// commit acknowledged before the change began: such a commit is held by a write quorum
    /// of the old configuration, which meets every read quorum of it.
    pub heard: SegSet,
    /// G's SCL has reached `target` and `heard` is a read quorum (sticky).
    pub hydrated: bool,
}

/// The protection group's membership, kept by the control plane and the segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Membership {
    /// The configuration in force.
    pub cfg: Cfg,
    /// Its epoch; every request carries the epoch its sender knows.
    pub epoch: Epoch,
    /// The configuration before the last epoch bump (for A9).
    pub prev: Cfg,
    /// A change in progress, if any.
    pub change: Option<Change>,
}

impl Change {
    /// Whether G hydrates now: G is up (`g_up`), the members heard at the dual epoch make a
    /// read quorum of `read_quorum`, and G's reported SCL `g_scl` reaches the target.
    pub fn hydrates(&self, read_quorum: u8, g_up: bool, g_scl: Lsn) -> bool {
        !self.hydrated
            && g_up
            && count(self.heard) >= usize::from(read_quorum)
            && g_scl >= self.target
    }
}

impl Membership {
    /// During a change and until G hydrates, the first report of each member of the old
    /// configuration at the dual configuration's epoch (SCL `scl` from slot `i`, sent at
    /// membership epoch `mem`) raises G's target: it shows everything that member held before
    /// the change began.
    pub fn hear(&mut self, i: usize, scl: Lsn, mem: Epoch) {
        let (epoch, members) = (self.epoch, self.cfg.members());
        if let Some(c) = self.change.as_mut() {
            let old = members & !(1 << c.g);
            if !c.hydrated && mem >= epoch && old & !c.heard & (1 << i) != 0 {
                c.heard |= 1 << i;
                c.target = c.target.max(scl);
            }
        }
    }

    /// Whether a change replacing member `f` may begin: none in progress, one quorum set in
    /// force, and `f` a member of it.
    pub fn may_begin(&self, f: u8) -> bool {
        self.change.is_none() && !self.cfg.dual && self.cfg.members() & (1 << f) != 0
    }

    /// The quorum set with member `f` replaced by `g`.
    pub fn replacing(&self, f: u8, g: u8) -> SegSet {
        (self.cfg.sets[0] & !(1 << f)) | (1 << g)
    }

    /// The dual configuration of a change replacing `f` by `g`: the old set and the new one.
    pub fn dual_for(&self, f: u8, g: u8) -> Cfg {
        Cfg {
            sets: [self.cfg.sets[0], self.replacing(f, g)],
            dual: true,
        }
    }

    /// Install `cfg_new` at the next membership epoch (the segments adopt it separately).
    pub fn bump(&mut self, cfg_new: Cfg) {
        self.prev = self.cfg;
        self.cfg = cfg_new;
        self.epoch += 1;
    }
}

/// Where the writer instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum WriterMode {
    /// Accepting commits.
    Open,
    /// Crashed; a new incarnation has not yet read a read quorum.
    Crashed,
    /// Recovering: it read SCLs and computed `vdl`; it installs truncation and repairs.
    Recovering {
        /// The recovered VDL.
        vdl: Lsn,
    },
}

/// The writer (database instance): allocates LSNs, tracks durability, acknowledges commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Writer {
    /// Life cycle.
    pub mode: WriterMode,
    /// Volume epoch of this incarnation.
    pub vol_epoch: Epoch,
    /// Membership epoch the writer knows.
    pub mem_epoch: Epoch,
    /// The configuration the writer knows.
    pub cfg: Cfg,
    /// Next LSN to allocate.
    pub next_lsn: Lsn,
    /// Protection-group complete LSN: highest LSN whose chain reached a write quorum.
    pub pgcl: Lsn,
    /// Volume complete LSN (one protection group: equal to PGCL).
    pub vcl: Lsn,
    /// Volume durable LSN: highest consistency point at or below VCL.
    pub vdl: Lsn,
}

/// Records in flight from writer to segments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Net {
    /// Instant mode: `sent[l-1]` = the volume epoch of the newest incarnation that sent LSN `l`
    /// (0 = never sent), with [`SENT_CPL`] set when the record ends its mini-transaction. Such a
    /// record may land on any member at any later time.
    Instant {
        /// Per LSN, the sender's volume epoch and the record's CPL flag.
        sent: [Epoch; MAX_LSN],
    },
    /// Explicit mode: a sorted multiset of write messages.
    Explicit {
        /// Sorted messages (duplicates allowed).
        msgs: Vec<WriteMsg>,
    },
}

/// In [`Net::Instant`]'s `sent`, the bit that marks a consistency point (epochs stay far below).
pub const SENT_CPL: u8 = 0x80;

/// One write message: LSN `lsn`, written by incarnation `vol_epoch`, sent with membership
/// epoch `mem_epoch`, to segment `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WriteMsg {
    /// Destination slot.
    pub dst: u8,
    /// The record's LSN.
    pub lsn: Lsn,
    /// The writer incarnation's volume epoch.
    pub vol_epoch: Epoch,
    /// The membership epoch the writer knew when sending.
    pub mem_epoch: Epoch,
    /// The record ends its mini-transaction (a consistency point).
    #[serde(default)]
    pub cpl: bool,
}

/// Remaining fault budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Budget {
    /// Transient segment crashes left.
    pub crashes: u8,
    /// Disk losses left.
    pub disk_losses: u8,
    /// AZ outages left.
    pub az_outages: u8,
    /// Membership changes left.
    pub member_changes: u8,
    /// Writer crashes left.
    pub writer_crashes: u8,
    /// Message losses left.
    pub loss: u8,
    /// Message duplications left.
    pub duplicate: u8,
}

impl Budget {
    /// The budgets `cfg` grants.
    pub fn granted(cfg: &crate::quorum::config::QuorumConfig) -> Self {
        Budget {
            crashes: cfg.crashes,
            disk_losses: cfg.disk_losses,
            az_outages: cfg.az_outages,
            member_changes: cfg.member_changes,
            writer_crashes: cfg.writer_crashes,
            loss: cfg.loss,
            duplicate: cfg.duplicate,
        }
    }
}

/// Client reads and garbage collection, as the writer keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Reads {
    /// The read point of the client's open read view, if one is open.
    pub view: Option<Lsn>,
    /// Protection-group GC point: records at or below it are coalesced into pages and no
    /// longer served as log versions.
    pub gc_point: Lsn,
}

/// Ghost (history) variables: written only by the observer
/// ([`crate::quorum::actors::observer`]) from what the actors did, read only by properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
pub struct Ghost {
    /// Commit (CPL) LSNs acknowledged to the client, bit `l-1` for LSN `l`.
    pub acked: u16,
    /// LSNs whose holders, each at its own moment, have formed a write quorum of the
    /// configuration in force: a segment that held a record and then lost its disk still
    /// counts for it (see `lost_held`).
    pub wq_reached: u16,
    /// Event flags, see the `F_*` constants.
    pub flags: u16,
    /// Bit `l-1` set: LSN `l` was allocated as a consistency point (the last record of its MTR).
    pub cpls: u16,
    /// The highest LSN any writer incarnation allocated (0 if none).
    pub allocated: Lsn,
    /// Per segment slot, bit `l-1`: the live LSNs its disk held when it was lost (0 for every
    /// segment that has its disk). An acknowledgement is true when sent; a disk lost after it
    /// is a failure the quorum is sized to survive, not a write that never reached a quorum.
    #[serde(serialize_with = "lost_held_by_slot")]
    pub lost_held: [u8; MAX_SEGMENTS],
}

/// `lost_held` as traces show it: the slots with something kept, each with its LSNs.
fn lost_held_by_slot<S: serde::Serializer>(
    held: &[u8; MAX_SEGMENTS],
    out: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let kept = held.iter().enumerate().filter(|(_, h)| **h != 0);
    let mut map = out.serialize_map(Some(kept.clone().count()))?;
    for (slot, &h) in kept {
        let lsns: Vec<Lsn> = (1..=8).filter(|l| h & (1 << (l - 1)) != 0).collect();
        map.serialize_entry(&slot, &lsns)?;
    }
    map.end()
}

/// A commit was acknowledged while every segment of some AZ was down.
pub const F_ACKED_AZ_DOWN: u16 = 1 << 0;
/// A membership change was finalized.
pub const F_FINALIZED: u16 = 1 << 2;
/// A membership change was reverted.
pub const F_REVERTED: u16 = 1 << 3;
/// A4 broken: a monotone value moved backwards.
pub const F_A4_BROKEN: u16 = 1 << 5;
/// A5 broken: a segment accepted a request with a stale epoch.
pub const F_A5_BROKEN: u16 = 1 << 6;
/// A writer recovery completed and reopened the volume.
pub const F_RECOVERED: u16 = 1 << 8;

/// Highest consistency point at or below `l` (0 if none), given the CPL bits (`l-1` for LSN
/// `l`) and the truncation ranges: a CPL inside a range no longer counts, a range top does
/// (see [`QuorumState::cpl_at_or_below`]). The failover model uses the same rule.
pub fn cpl_at_or_below(cpls: u16, truncs: &[Trunc], l: Lsn) -> Lsn {
    let in_trunc = |k: Lsn| truncs.iter().any(|t| t.lo <= k && k <= t.hi);
    (1..=l)
        .rev()
        .find(|&k| (cpls & (1 << (k - 1)) != 0 && !in_trunc(k)) || truncs.iter().any(|t| t.hi == k))
        .unwrap_or(0)
}

/// Truncation ranges, oldest first, inline: the metadata service's list, what a segment has
/// installed, and what travels in a message. At most one per writer recovery.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Truncs {
    len: u8,
    items: [Trunc; MAX_WRITER_CRASHES],
}

impl Truncs {
    /// Append a range; `false` (and no change) when the list is full.
    pub fn push(&mut self, t: Trunc) -> bool {
        let len = usize::from(self.len);
        if len == MAX_WRITER_CRASHES {
            return false;
        }
        self.items[len] = t;
        self.len += 1;
        true
    }

    /// The ranges of volume epochs up to `vol_epoch` (what a segment at that epoch knows).
    pub fn up_to(&self, vol_epoch: Epoch) -> Truncs {
        let mut out = Truncs::default();
        for t in self.iter().filter(|t| t.epoch <= vol_epoch) {
            out.push(*t);
        }
        out
    }
}

impl std::ops::Deref for Truncs {
    type Target = [Trunc];
    fn deref(&self) -> &[Trunc] {
        &self.items[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Truncs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Trunc> for Truncs {
    /// Ranges past the capacity are dropped (configs cap recoveries at the capacity).
    fn from_iter<I: IntoIterator<Item = Trunc>>(iter: I) -> Self {
        let mut out = Truncs::default();
        for t in iter {
            out.push(t);
        }
        out
    }
}

impl Serialize for Truncs {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Truncs {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = Vec::<Trunc>::deserialize(de)?;
        if v.len() > MAX_WRITER_CRASHES {
            return Err(serde::de::Error::custom(format!(
                "{} truncation ranges; at most {MAX_WRITER_CRASHES}",
                v.len()
            )));
        }
        Ok(v.into_iter().collect())
    }
}

/// A segment actor's whole state: its durable [`Segment`] (what [`SegState::core`] holds, and
/// what properties read through `Deref`), the consistency-point flags of the records it holds,
/// the truncation ranges it has installed, and whom it gossips with.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct SegState {
    /// Placement, epochs, SCL and records (durable).
    pub core: Segment,
    /// Bit `l-1` set: the record of LSN `l` it holds ends its mini-transaction (durable).
    pub cpls: u16,
    /// The truncation ranges of the volume epochs it has installed (durable).
    pub known: Truncs,
    /// The members of the configuration at its membership epoch, and a joining segment: whom
    /// it gossips with (volatile: learned again from the control plane at every start).
    pub gossipers: SegSet,
}

impl std::ops::Deref for SegState {
    type Target = Segment;
    fn deref(&self) -> &Segment {
        &self.core
    }
}

impl std::ops::DerefMut for SegState {
    fn deref_mut(&mut self) -> &mut Segment {
        &mut self.core
    }
}

/// What the writer last heard from one segment: its ack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AckInfo {
    /// The writer hears from this member: it acked since the writer learned its configuration
    /// and its connection has not broken since (a crash or a lost disk breaks it).
    pub known: bool,
    /// The segment's SCL.
    pub scl: Lsn,
    /// Its membership epoch.
    pub mem_epoch: Epoch,
    /// Its volume epoch.
    pub vol_epoch: Epoch,
    /// The LSNs it holds, bit `l-1`.
    pub held: u8,
}

impl AckInfo {
    /// How far along the segment's life this ack is: every change a segment makes raises it
    /// (its epochs and SCL only grow, and with them the same, it holds more), so an ack the
    /// network reordered behind a newer one is told apart.
    pub fn age(&self) -> (Epoch, Epoch, Lsn, u32) {
        (
            self.vol_epoch,
            self.mem_epoch,
            self.scl,
            self.held.count_ones(),
        )
    }
}

/// A recovery read in progress: the replies so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Reading {
    /// Slots that replied.
    pub got: SegSet,
    /// The highest chain top among them.
    pub top: Lsn,
    /// The consistency points of the live records they hold.
    pub cpls: u16,
    /// Members that count toward a read quorum (a joiner only once hydrated).
    pub counted: SegSet,
}

/// A request of the writer's waiting for its answer (within one run to completion in the fast
/// composition; across steps in the actor model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Pending {
    /// Nothing asked.
    #[default]
    None,
    /// A fresh incarnation asked the metadata service for the volume.
    Volume,
    /// Asked for the configuration in force to learn it ([`Pending::Refresh`]) or, before
    /// opening, to check that it is still current ([`Pending::Open`]).
    Refresh,
    /// See [`Pending::Refresh`].
    Open,
    /// Reading SCLs from a read quorum.
    Read(Reading),
    /// Asked the metadata service to record its truncation range, with the recovered VDL.
    Trunc(Lsn),
}

/// The writer actor's whole state: its consistency points and life cycle ([`Writer`], through
/// `Deref`), and what it knows from messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct WriterState {
    /// Mode, epochs, configuration, next LSN, PGCL, VCL, VDL.
    pub core: Writer,
    /// The consistency points it knows: its own, and those a recovery read reported.
    pub cpls: u16,
    /// Every truncation range of the volume, as the metadata service told it.
    pub truncs: Truncs,
    /// The latest ack of each segment slot.
    pub acks: [AckInfo; MAX_SEGMENTS],
    /// The client's read view and the GC point.
    pub reads: Reads,
    /// A request waiting for its answer.
    pub pending: Pending,
    /// Slots whose copy is gone for good: their acks never count again.
    pub lost: SegSet,
}

impl std::ops::Deref for WriterState {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.core
    }
}

impl std::ops::DerefMut for WriterState {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.core
    }
}

/// The control plane's whole state: the membership it decides, the metadata service's volume
/// (its truncation ranges), and what segments reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ControlState {
    /// The configuration in force, its epoch, the previous one, a change in progress.
    pub mem: Membership,
    /// Every truncation range of the volume, oldest first (durable in the metadata service).
    pub truncs: Truncs,
    /// The latest SCL each segment slot reported (0 for a lost one).
    pub reports: [Lsn; MAX_SEGMENTS],
    /// The AZ of each placed slot (`u8::MAX` for an unused spare).
    pub azs: [u8; MAX_SEGMENTS],
    /// Slots it hears from (running segments).
    pub up: SegSet,
    /// Slots whose copy is gone for good (a lost disk, a retired joiner): it never hears
    /// from them again.
    pub lost: SegSet,
    /// Spare slots not yet used.
    pub spares: SegSet,
    /// The highest LSN the writer allocated (the end of the log).
    pub allocated: Lsn,
    /// The PGCL the running writer proved (0 while none runs).
    pub writer_pgcl: Lsn,
    /// The highest commit ever acknowledged (durable in the metadata service).
    pub acked: Lsn,
    /// No writer has opened the volume yet.
    pub fresh: bool,
}

/// The whole system state: every actor's state, the records in flight, the fault budgets and
/// the history. Its `Hash` is in [`pack`]: a few integer writes, not one per field, over what
/// no other field determines (see there).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct QuorumState {
    /// Segment slots: members first, then spares. Inline, like everything but explicit
    /// messages: the search clones a state per successor, and a heap block per clone cost
    /// more than the step itself. `up` is the composition's: whether the actor runs.
    pub segs: ArrayVec<SegState, MAX_SEGMENTS>,
    /// The writer actor.
    pub writer: WriterState,
    /// The control plane actor (with the metadata service).
    pub control: ControlState,
    /// Records in flight.
    pub net: Net,
    /// Remaining fault budgets.
    pub budget: Budget,
    /// History variables.
    pub ghost: Ghost,
}

impl QuorumState {
    /// The membership in force (the control plane's).
    pub fn mem(&self) -> &Membership {
        &self.control.mem
    }

    /// Every truncation range of the volume (the metadata service's).
    pub fn truncs(&self) -> &[Trunc] {
        &self.control.truncs
    }

    /// The client's read view and the GC point (the writer's).
    pub fn reads(&self) -> &Reads {
        &self.writer.reads
    }

    /// Whether LSN `l` is a consistency point.
    pub fn is_cpl(&self, l: Lsn) -> bool {
        l > 0 && self.ghost.cpls & (1 << (l - 1)) != 0
    }

    /// Highest consistency point at or below `l` (0 if none). A CPL inside a truncation range
    /// was annulled with its mini-transaction and no longer counts; the top of a truncation
    /// range does (MC): the annulled range is a complete, empty unit, so VDL may pass it and
    /// the first LSN after recovery (range top + 1) respects the LAL bound.
    pub fn cpl_at_or_below(&self, l: Lsn) -> Lsn {
        cpl_at_or_below(self.ghost.cpls, self.truncs(), l)
    }

    /// Highest commit LSN acknowledged to the client (0 if none).
    pub fn max_acked(&self) -> Lsn {
        (16 - self.ghost.acked.leading_zeros()) as Lsn
    }

    /// Highest LSN ever allocated.
    pub fn max_allocated(&self) -> Lsn {
        self.ghost.allocated
    }

    /// Whether a record of LSN `l` written at `wepoch` is annulled by any truncation range.
    pub fn annulled(&self, l: Lsn, wepoch: Epoch) -> bool {
        self.truncs().iter().any(|t| t.annuls(l, wepoch))
    }

    /// Whether LSN `l` lies inside any truncation range (whatever wrote it).
    pub fn in_trunc(&self, l: Lsn) -> bool {
        self.truncs().iter().any(|t| t.lo <= l && l <= t.hi)
    }

    /// Slots that are up.
    pub fn up_set(&self) -> SegSet {
        self.segs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.up)
            .fold(0, |a, (i, _)| a | (1 << i))
    }

    /// Slots whose disk is not lost (their durable records still exist somewhere).
    pub fn durable_set(&self) -> SegSet {
        self.segs
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.lost && !s.spare)
            .fold(0, |a, (i, _)| a | (1 << i))
    }

    /// Slots holding a live (not annulled) copy of LSN `l`, lost disks excluded.
    pub fn holders(&self, l: Lsn) -> SegSet {
        self.segs
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.lost && s.holds(l) && !self.annulled(l, s.rec(l)))
            .fold(0, |a, (i, _)| a | (1 << i))
    }

    /// Members that count toward a read quorum: every member but a joining spare that has not
    /// hydrated (the correct rule; `literal` counts it too).
    pub fn read_counted(&self, literal: bool) -> SegSet {
        read_counted(self.mem(), literal)
    }
}

/// Members of `mem`'s configuration that count toward a read quorum: every member but a
/// joining spare that has not hydrated (the correct rule; `literal` counts it too).
pub fn read_counted(mem: &Membership, literal: bool) -> SegSet {
    let all = mem.cfg.members();
    match mem.change {
        Some(c) if !c.hydrated && !literal => all & !(1 << c.g),
        _ => all,
    }
}
