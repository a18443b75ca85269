//! `Hash` for [`QuorumState`] by packing: the search hashes every generated state (nine times
//! per distinct one in the default config), and a derived `Hash` makes one hasher call per
//! field, about sixty here. Packing each part into one or two integers makes it a dozen.
//!
//! Each packer destructures its struct, so adding a field is a compile error here rather than
//! a silent collision; and each packing is injective (every field has its own bits). What the
//! actors learned from messages is left out: in every reachable state it is a function of the
//! fields hashed, so equal hash input still means equal states (the search keeps fingerprints
//! only), and equal states still hash alike, as `Hash` must agree with `Eq`.

use std::hash::{Hash, Hasher};

use super::{
    Budget, Cfg, Change, Ghost, Membership, Net, QuorumState, Reads, Segment, Trunc, WriteMsg,
    Writer, WriterMode,
};
use crate::quorum::config::{MAX_LSN, MAX_SEGMENTS};

impl Hash for QuorumState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let QuorumState {
            segs,
            writer,
            control,
            net,
            budget,
            ghost,
        } = self;
        // What the actors learned from messages (a segment's installed ranges, CPL flags and
        // gossip peers; the writer's acks, ranges and CPLs; the control plane's view of who is
        // up) is a function of the fields hashed here in every reachable state, so it is left
        // out; `derived_fields_add_no_states` in the tests checks that on whole state spaces.
        h.write_u8(segs.len() as u8);
        for seg in segs {
            h.write_u128(segment(&seg.core));
        }
        h.write_u128(membership(&control.mem));
        h.write_u128(writer_word(&writer.core));
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
        let mut t = u128::from(control.truncs.len() as u8);
        for (k, x) in control.truncs.iter().enumerate() {
            t |= u128::from(trunc(x)) << (8 + 24 * k);
        }
        h.write_u128(t);
        h.write_u128(
            u128::from(ghost.cpls)
                | u128::from(reads_word(&writer.reads)) << 16
                | u128::from(budget_word(budget)) << 40,
        );
        h.write_u64(ghost_word(ghost));
        // Zero unless a disk was lost: most configurations never pay for it.
        if ghost.lost_held != [0; MAX_SEGMENTS] {
            h.write(&ghost.lost_held);
        }
    }
}

impl QuorumState {
    /// Whether `self` and `other` agree on every field the hash covers: in reachable states,
    /// whether they are equal (the fields left out follow from these).
    pub fn same_core(&self, other: &QuorumState) -> bool {
        self.segs.len() == other.segs.len()
            && self
                .segs
                .iter()
                .zip(&other.segs)
                .all(|(a, b)| a.core == b.core)
            && self.writer.core == other.writer.core
            && self.writer.reads == other.writer.reads
            && self.control.mem == other.control.mem
            && self.control.truncs == other.control.truncs
            && self.budget == other.budget
            && self.ghost == other.ghost
            && self.net == other.net
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

/// 42 bits, 0 for none.
fn change(c: &Option<Change>) -> u64 {
    match *c {
        None => 0,
        Some(Change {
            f,
            g,
            target,
            heard,
            hydrated,
        }) => {
            1 | u64::from(hydrated) << 1
                | u64::from(f) << 2
                | u64::from(g) << 10
                | u64::from(target) << 18
                | u64::from(heard) << 26
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
        cpl,
    } = *m;
    u32::from_le_bytes([dst, lsn | u8::from(cpl) << 7, vol_epoch, mem_epoch])
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

/// 56 bits (the CPL bits are hashed beside the reads, what lost disks held after the rest).
fn ghost_word(g: &Ghost) -> u64 {
    let Ghost {
        acked,
        wq_reached,
        flags,
        cpls: _,
        allocated,
        lost_held: _,
    } = *g;
    u64::from(acked)
        | u64::from(wq_reached) << 16
        | u64::from(flags) << 32
        | u64::from(allocated) << 48
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

    use stateright::Model;

    use crate::checkable::Checkable;
    use crate::quorum::{QuorumConfig, QuorumModel, QuorumState};

    /// Explore `preset` with `overrides` breadth first (symmetry on) keeping whole states, and
    /// count the distinct states and the distinct hashes: the hash leaves out what the actors
    /// learned from messages, so the two counts are equal only if that is a function of what
    /// it covers. If it were not, the search (which keeps fingerprints only) would merge
    /// different states, and which one it kept would depend on timing.
    fn distinct(preset: &str, overrides: &[&str]) -> (usize, usize) {
        let mut cfg = QuorumConfig::preset(preset).unwrap();
        for kv in overrides {
            let (k, v) = kv.split_once('=').unwrap();
            cfg.set(k, v).unwrap();
        }
        let model = QuorumModel::new(cfg);
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut states: HashSet<QuorumState> = HashSet::new();
        let mut hashes: HashSet<u64> = HashSet::new();
        let mut queue: VecDeque<QuorumState> = model
            .init_states()
            .into_iter()
            .map(|s| model.canonical(s))
            .collect();
        let mut actions = Vec::new();
        while let Some(s) = queue.pop_front() {
            if !states.insert(s.clone()) {
                continue;
            }
            hashes.insert(hasher.hash_one(&s));
            model.actions(&s, &mut actions);
            for a in actions.drain(..) {
                if let Some(n) = model.next_state(&s, a) {
                    queue.push_back(model.canonical(n));
                }
            }
        }
        (states.len(), hashes.len())
    }

    #[test]
    fn derived_fields_add_no_states() {
        for (preset, overrides) in [
            ("ci", &["lsns=1"][..]),
            ("default", &["lsns=2", "az_outages=0"][..]),
            ("disk", &["lsns=1"][..]),
            ("membership", &["lsns=1", "crashes=1"][..]),
            ("messages", &["lsns=1", "loss=1", "crashes=1"][..]),
            ("default", &["lsns=2", "reads=false", "crashes=0"][..]),
        ] {
            let (states, hashes) = distinct(preset, overrides);
            assert!(states > 1_000, "{preset}: only {states} states");
            assert_eq!(states, hashes, "{preset} {overrides:?}");
        }
    }
}
