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
//! The writer actor ([`super::actors::writer`]) calls these on what its acks and the metadata
//! service told it; the properties call [`ack_senders`] to ask whom a writer would hear from.

use super::config::{Mutant, QuorumConfig};
use super::state::{
    Cfg, Epoch, Lsn, QuorumState, SegSet, Trunc, Writer, WriterMode, cpl_at_or_below,
};

/// Segments whose acks the writer counts: up, and at the writer's membership and volume
/// epochs (any membership epoch under Ma5).
pub fn ack_senders(cfg: &QuorumConfig, s: &QuorumState) -> SegSet {
    let w = &s.writer;
    s.segs
        .iter()
        .enumerate()
        .filter(|(_, seg)| seg.up && !seg.spare && counts_ack(cfg, w, seg.mem_epoch, seg.vol_epoch))
        .fold(0, |a, (i, _)| a | (1 << i))
}

/// The highest LSN `l <= max_allocated` such that the slots in `scls` (slot, reported SCL) with
/// SCL >= `l` form a write quorum of `quorum_cfg` (0 if none). The model passes the SCLs of the
/// segments it would hear from; the reference implementation passes the SCLs its acks carried.
pub fn pgcl_from_scls(
    cfg: &QuorumConfig,
    scls: impl Iterator<Item = (usize, Lsn)> + Clone,
    max_allocated: Lsn,
    quorum_cfg: &Cfg,
) -> Lsn {
    (1..=max_allocated)
        .rev()
        .find(|&l| {
            let at_l = scls
                .clone()
                .filter(|&(_, scl)| scl >= l)
                .fold(0, |a, (i, _)| a | (1 << i));
            quorum_cfg.is_write_quorum(at_l, cfg.write_quorum, SegSet::MAX)
        })
        .unwrap_or(0)
}

/// Whether the writer counts an ack carrying these epochs: the segment accepts the writer's
/// membership epoch (any, under Ma5) and volume epoch.
pub fn counts_ack(cfg: &QuorumConfig, w: &Writer, mem_epoch: Epoch, vol_epoch: Epoch) -> bool {
    (mem_epoch == w.mem_epoch || cfg.has(Mutant::IgnoreMembershipEpoch)) && vol_epoch == w.vol_epoch
}

/// The writer `w` after it proved PGCL `proven`, given the consistency points (`cpls`, bit
/// `l-1`) and truncation ranges it knows. The model and the reference implementation's writer
/// both call this.
pub fn advance_to(
    cfg: &QuorumConfig,
    mut w: Writer,
    proven: Lsn,
    cpls: u16,
    truncs: &[Trunc],
) -> Writer {
    w.pgcl = if cfg.has(Mutant::PgclNotMonotone) {
        proven
    } else {
        w.pgcl.max(proven)
    };
    w.vcl = w.pgcl;
    let vdl = if cfg.has(Mutant::VdlNotAtCpl) {
        w.vcl
    } else {
        cpl_at_or_below(cpls, truncs, w.vcl)
    };
    w.vdl = if cfg.has(Mutant::PgclNotMonotone) {
        vdl
    } else {
        w.vdl.max(vdl)
    };
    w
}

/// The LSNs `first..=last` of the next mini-transaction writer `w` may allocate, if any: it
/// must be open, have LSNs left, and stay within the LSN allocation limit (`last <= VDL + LAL`).
pub fn next_mtr(cfg: &QuorumConfig, w: &Writer) -> Option<(Lsn, Lsn)> {
    if w.mode != WriterMode::Open || w.next_lsn > cfg.lsns {
        return None;
    }
    let first = w.next_lsn;
    let last = (first + cfg.mtr_len - 1).min(cfg.lsns);
    // LAL: never allocate above VDL + LAL.
    (last <= w.vdl.saturating_add(cfg.lal)).then_some((first, last))
}

/// The commits (consistency points, bit `l-1`) that VDL moving from `old_vdl` to `new_vdl`
/// acknowledges: CPLs in between that no truncation range annulled.
pub fn newly_acked(old_vdl: Lsn, new_vdl: Lsn, cpls: u16, truncs: &[Trunc]) -> u16 {
    let in_trunc = |l: Lsn| truncs.iter().any(|t| t.lo <= l && l <= t.hi);
    (old_vdl + 1..=new_vdl)
        .filter(|&l| cpls & (1 << (l - 1)) != 0 && !in_trunc(l))
        .fold(0u16, |a, l| a | (1 << (l - 1)))
}

/// The truncation range a recovery at volume epoch `epoch` with recovered VDL `vdl` writes:
/// everything it may have allocated above `vdl` (up to VDL + LAL) is annulled.
pub fn truncation_range(cfg: &QuorumConfig, vdl: Lsn, epoch: Epoch) -> Trunc {
    Trunc {
        epoch,
        lo: vdl + 1,
        hi: vdl.saturating_add(cfg.lal),
    }
}

/// The highest LSN inside any truncation range (0 if none). A reopened writer allocates above
/// it, and retransmits only LSNs above it: a recovery that crashed after its read leaves a
/// range *above* the next recovery's, and inside that range every slot counts as present in
/// each segment's chain, so a record allocated there could be acknowledged on no copy at all.
pub fn truncated_top(truncs: &[Trunc]) -> Lsn {
    truncs.iter().map(|t| t.hi).max().unwrap_or(0)
}

/// The recovered VDL from the chain tops a read quorum reported (each computed with every
/// truncation range known), given the consistency points and truncation ranges.
pub fn recovered_vdl_from(tops: impl Iterator<Item = Lsn>, cpls: u16, truncs: &[Trunc]) -> Lsn {
    cpl_at_or_below(cpls, truncs, tops.max().unwrap_or(0))
}
