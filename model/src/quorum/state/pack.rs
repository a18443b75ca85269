//! `Hash` for [`QuorumState`] by packing: the search hashes every generated state (nine times
//! per distinct one in the default config), and a derived `Hash` makes one hasher call per
//! field, about sixty here. Packing each part into one or two integers makes it a dozen.
//!
//! Each packer destructures its struct, so adding a field is a compile error here rather than
//! a silent collision; and each packing is injective (every field has its own bits), so equal
//! hash input still means equal states, as `Hash` must agree with `Eq`.

use std::hash::{Hash, Hasher};

use super::{
    Budget, Cfg, Change, Ghost, Membership, Net, QuorumState, Reads, Segment, Trunc, WriteMsg,
    Writer, WriterMode,
};
use crate::quorum::config::MAX_LSN;

impl Hash for QuorumState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let QuorumState {
            segs,
            mem,
            writer,
            net,
            truncs,
            cpls,
            reads,
            budget,
            ghost,
        } = self;
        h.write_u8(segs.len() as u8);
        for seg in segs {
            h.write_u128(segment(seg));
        }
        h.write_u128(membership(mem));
        h.write_u128(writer_word(writer));
        match net {
            Net::Instant { sent } => h.write_u64(u64::from_le_bytes(*sent)),
            Net::Explicit { msgs } => {
                h.write_u64(u64::MAX);
                h.write_usize(msgs.len());
                for m in msgs {
                    h.write_u32(msg(m));
                }
            }
        }
        let mut t = u128::from(truncs.len() as u8);
        for (k, x) in truncs.iter().enumerate() {
            t |= u128::from(trunc(x)) << (8 + 24 * k);
        }
        h.write_u128(t);
        h.write_u128(
            u128::from(*cpls)
                | u128::from(reads_word(reads)) << 16
                | u128::from(budget_word(budget)) << 40,
        );
        h.write_u64(ghost_word(ghost));
    }
}

// The packing of the truncation ranges must fit.
const _: () = assert!(8 + 24 * crate::quorum::config::MAX_WRITER_CRASHES <= 128);
// A segment's records fit beside its five other bytes.
const _: () = assert!(5 + MAX_LSN <= 16);

fn segment(s: &Segment) -> u128 {
    let Segment {
        up,
        lost,
        spare,
        az,
        mem_epoch,
        vol_epoch,
        scl,
        recs,
    } = *s;
    let mut b = [0u8; 16];
    b[0] = u8::from(up) | u8::from(lost) << 1 | u8::from(spare) << 2;
    b[1] = az;
    b[2] = mem_epoch;
    b[3] = vol_epoch;
    b[4] = scl;
    b[5..5 + MAX_LSN].copy_from_slice(&recs);
    u128::from_le_bytes(b)
}

/// 33 bits.
fn cfg(c: &Cfg) -> u64 {
    let Cfg { sets, dual } = *c;
    u64::from(sets[0]) | u64::from(sets[1]) << 16 | u64::from(dual) << 32
}

/// 26 bits, 0 for none.
fn change(c: &Option<Change>) -> u32 {
    match *c {
        None => 0,
        Some(Change {
            f,
            g,
            target,
            hydrated,
        }) => {
            1 | u32::from(hydrated) << 1
                | u32::from(f) << 2
                | u32::from(g) << 10
                | u32::from(target) << 18
        }
    }
}

fn membership(m: &Membership) -> u128 {
    let Membership {
        cfg: now,
        epoch,
        prev,
        change: ch,
    } = m;
    u128::from(cfg(now))
        | u128::from(*epoch) << 33
        | u128::from(cfg(prev)) << 41
        | u128::from(change(ch)) << 74
}

fn writer_word(w: &Writer) -> u128 {
    let Writer {
        mode,
        vol_epoch,
        mem_epoch,
        cfg: known,
        next_lsn,
        pgcl,
        vcl,
        vdl,
    } = w;
    let mode = match *mode {
        WriterMode::Open => 0u128,
        WriterMode::Crashed => 1,
        WriterMode::Recovering { vdl } => 2 | u128::from(vdl) << 2,
    };
    mode | u128::from(*vol_epoch) << 10
        | u128::from(*mem_epoch) << 18
        | u128::from(cfg(known)) << 26
        | u128::from(*next_lsn) << 59
        | u128::from(*pgcl) << 67
        | u128::from(*vcl) << 75
        | u128::from(*vdl) << 83
}

fn msg(m: &WriteMsg) -> u32 {
    let WriteMsg {
        dst,
        lsn,
        vol_epoch,
        mem_epoch,
    } = *m;
    u32::from_le_bytes([dst, lsn, vol_epoch, mem_epoch])
}

/// 24 bits.
fn trunc(t: &Trunc) -> u32 {
    let Trunc { epoch, lo, hi } = *t;
    u32::from_le_bytes([epoch, lo, hi, 0])
}

/// 17 bits.
fn reads_word(r: &Reads) -> u32 {
    let Reads { view, gc_point } = *r;
    let view = view.map_or(0, |v| 1 | u32::from(v) << 1);
    view | u32::from(gc_point) << 9
}

/// 56 bits.
fn budget_word(b: &Budget) -> u64 {
    let Budget {
        crashes,
        disk_losses,
        az_outages,
        member_changes,
        writer_crashes,
        loss,
        duplicate,
    } = *b;
    u64::from_le_bytes([
        crashes,
        disk_losses,
        az_outages,
        member_changes,
        writer_crashes,
        loss,
        duplicate,
        0,
    ])
}

/// 48 bits.
fn ghost_word(g: &Ghost) -> u64 {
    let Ghost {
        acked,
        wq_reached,
        flags,
    } = *g;
    u64::from(acked) | u64::from(wq_reached) << 16 | u64::from(flags) << 32
}
