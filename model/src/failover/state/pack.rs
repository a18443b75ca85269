//! `Hash` for [`FailoverState`] by packing each part into one or two integers: the search
//! hashes every generated state, and a derived `Hash` makes one hasher call per field (about
//! a hundred and fifty here). Each packer destructures its struct, so a new field is a compile
//! error here rather than a silent collision, and each packing is injective, so `Hash` agrees
//! with `Eq`.

use std::hash::{Hash, Hasher};

use super::{Budget, FailoverState, Ghost, Inst, Phase, Role, Seg, Trunc};

impl Hash for FailoverState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let FailoverState {
            segs,
            insts,
            endpoint,
            epoch_ctr,
            truncs,
            sent,
            cpls,
            bodies,
            txn_done,
            aborted,
            budget,
            ghost,
        } = self;
        h.write_u8(segs.len() as u8);
        for x in segs {
            h.write_u128(seg(x));
        }
        h.write_u8(insts.len() as u8);
        for i in insts {
            let (a, b) = inst(i);
            h.write_u128(a);
            h.write_u64(b);
        }
        h.write_u8(truncs.len() as u8);
        for t in truncs {
            h.write_u32(trunc(t));
        }
        h.write_u64(u64::from_le_bytes(*sent));
        h.write_u128(
            u128::from(*endpoint)
                | u128::from(*epoch_ctr) << 8
                | u128::from(*cpls) << 16
                | u128::from(budget_word(budget)) << 32
                | u128::from(*bodies) << 72
                | u128::from(*txn_done) << 88
                | u128::from(*aborted) << 104,
        );
        let (acked, wrote, flags) = ghost_words(ghost);
        h.write_u64(acked);
        h.write_u64(wrote);
        h.write_u64(flags);
    }
}

fn seg(x: &Seg) -> u128 {
    // The symmetry key packs everything but the AZ into the top bytes; the AZ takes the last.
    super::super::symmetry::key(x) | u128::from(x.az)
}

/// 16 bits: a tag and the recovered VDL.
fn role(r: Role) -> u16 {
    match r {
        Role::Writer => 0,
        Role::Replica => 1,
        Role::Down => 2,
        Role::Recovering(Phase::Promoted) => 3,
        Role::Recovering(Phase::Fencing) => 4,
        Role::Recovering(Phase::Truncating { rvdl }) => 5 | u16::from(rvdl) << 8,
    }
}

fn inst(i: &Inst) -> (u128, u64) {
    let Inst {
        role: r,
        cut_off,
        tier,
        epoch,
        base,
        next_lsn,
        pgcl,
        vdl,
        known_vdl,
        follows,
        applied,
        open_txn,
    } = *i;
    let a = u128::from(role(r))
        | u128::from(cut_off) << 16
        | u128::from(tier) << 24
        | u128::from(epoch) << 32
        | u128::from(base) << 40
        | u128::from(next_lsn) << 48
        | u128::from(pgcl) << 56
        | u128::from(vdl) << 64
        | u128::from(known_vdl) << 72
        | u128::from(follows) << 80
        | u128::from(open_txn) << 88;
    (a, u64::from_le_bytes(applied))
}

fn trunc(t: &Trunc) -> u32 {
    let Trunc { epoch, lo, hi } = *t;
    u32::from_le_bytes([epoch, lo, hi, 0])
}

/// 40 bits.
fn budget_word(b: &Budget) -> u64 {
    let Budget {
        writer_failures,
        recovery_crashes,
        replica_crashes,
        seg_crashes,
        az_outages,
    } = *b;
    u64::from_le_bytes([
        writer_failures,
        recovery_crashes,
        replica_crashes,
        seg_crashes,
        az_outages,
        0,
        0,
        0,
    ])
}

fn ghost_words(g: &Ghost) -> (u64, u64, u64) {
    let Ghost {
        acked,
        wrote,
        flags,
        rolled_back,
        orphan_commits,
    } = *g;
    let words = u64::from(flags) | u64::from(rolled_back) << 16 | u64::from(orphan_commits) << 32;
    (u64::from_le_bytes(acked), u64::from_le_bytes(wrote), words)
}
