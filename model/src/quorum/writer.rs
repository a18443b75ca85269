//! What the writer computes: which acknowledgements count, the consistency points PGCL, VCL and
//! VDL, and the recovered VDL after a crash. Pure functions of the system state.
//!
//! * An ack carries the segment's SCL [V18 §2.3]. It counts only from a segment that accepts the
//!   writer's membership and volume epochs (the writer's requests would be rejected otherwise).
//! * PGCL is the highest LSN whose SCL reached a write quorum of *every* quorum set the writer
//!   knows; with one protection group VCL = PGCL; VDL is the highest consistency point (the last
//!   record of a mini-transaction) at or below VCL [V17 §4.1].
//! * The writer acknowledges a commit once VDL >= its commit LSN.
//! * Recovery reads SCLs from a read quorum, takes the *highest* (an acknowledged LSN reached a
//!   write quorum, which meets every read quorum), and sets the recovered VDL to the highest
//!   consistency point at or below it. Everything above is annulled by a truncation range.
//!
//! In the model the writer learns a segment's SCL when it computes (the "instant acks"
//! encoding of `state-space.md`): an ack never reports more than the segment holds, so a
//! writer with lagging acks would compute a lower PGCL, never a higher one.

use super::config::{Mutant, QuorumConfig};
use super::segment;
use super::state::{Cfg, Lsn, QuorumState, SegSet, Writer, slots_of};

/// Segments whose acks the writer counts: up, and at the writer's membership and volume
/// epochs (any membership epoch under Ma5).
pub fn ack_senders(cfg: &QuorumConfig, s: &QuorumState) -> SegSet {
    let w = &s.writer;
    s.segs
        .iter()
        .enumerate()
        .filter(|(_, seg)| {
            seg.up
                && !seg.spare
                && (seg.mem_epoch == w.mem_epoch || cfg.has(Mutant::IgnoreMembershipEpoch))
                && seg.vol_epoch == w.vol_epoch
        })
        .fold(0, |a, (i, _)| a | (1 << i))
}

/// The PGCL the writer can prove now: the highest allocated LSN `l` such that the segments it
/// hears from with SCL >= `l` form a write quorum of its configuration.
pub fn provable_pgcl(cfg: &QuorumConfig, s: &QuorumState) -> Lsn {
    pgcl_among(cfg, s, ack_senders(cfg, s), &s.writer.cfg)
}

/// The highest allocated LSN `l` such that the segments of `among` with SCL >= `l` form a write
/// quorum of `quorum_cfg` (0 if none).
fn pgcl_among(cfg: &QuorumConfig, s: &QuorumState, among: SegSet, quorum_cfg: &Cfg) -> Lsn {
    (1..=s.max_allocated())
        .rev()
        .find(|&l| {
            let at_l = slots_of(among)
                .filter(|&i| s.segs[i].scl >= l)
                .fold(0, |a, i| a | (1 << i));
            quorum_cfg.is_write_quorum(at_l, cfg.write_quorum, SegSet::MAX)
        })
        .unwrap_or(0)
}

/// The writer after recomputing its consistency points. PGCL only moves forward (it was
/// proven), except under Ma10; VDL snaps to a consistency point, except under Ma8.
pub fn advance(cfg: &QuorumConfig, s: &QuorumState) -> Writer {
    let mut w = s.writer;
    let proven = provable_pgcl(cfg, s);
    w.pgcl = if cfg.has(Mutant::PgclNotMonotone) {
        proven
    } else {
        w.pgcl.max(proven)
    };
    w.vcl = w.pgcl;
    let vdl = if cfg.has(Mutant::VdlNotAtCpl) {
        w.vcl
    } else {
        s.cpl_at_or_below(w.vcl)
    };
    w.vdl = if cfg.has(Mutant::PgclNotMonotone) {
        vdl
    } else {
        w.vdl.max(vdl)
    };
    w
}

/// The recovered VDL from the read quorum `y`: the highest consistency point at or below the
/// highest SCL in `y`, with every truncation range known (the metadata service holds them).
pub fn recovered_vdl(s: &QuorumState, y: SegSet) -> Lsn {
    let top = slots_of(y)
        .map(|i| segment::chain_top(&s.segs[i].recs, s.truncs.iter()))
        .max()
        .unwrap_or(0);
    s.cpl_at_or_below(top)
}

/// The true PGCL: the highest LSN whose chain is held, by SCL, at a write quorum of the
/// configuration in force (disk-lost segments excluded). A joining member hydrates to this.
pub fn true_pgcl(cfg: &QuorumConfig, s: &QuorumState) -> Lsn {
    pgcl_among(cfg, s, s.durable_set(), &s.mem.cfg)
}
