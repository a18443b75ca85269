//! Symmetry reduction: segments within an AZ are interchangeable, and so are AZs (every AZ has
//! the same number of segments and nothing in the protocol names an AZ).
//!
//! The representative sorts segments within each AZ by everything the state says about them
//! (their own fields, which quorum sets they belong to, whether they are the member being
//! replaced or the joiner, and the messages addressed to them), then sorts the AZs by their
//! sorted segment lists, and renames every slot reference (quorum-set bit sets, the change's
//! F and G, message destinations) by the resulting permutation. Two states that differ only by
//! such a renaming get the same representative. Unused spares are identical and stay last.

use super::state::{Net, QuorumState, Segment, WriteMsg};

/// Everything about one slot that survives renaming, with its AZ number blanked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SlotKey {
    seg: Segment,
    roles: u8,
    msgs: Vec<(u8, u8, u8)>,
}

fn slot_key(s: &QuorumState, i: usize) -> SlotKey {
    let bit = 1u16 << i;
    let m = &s.mem;
    let mut roles = 0u8;
    for (k, set) in [
        m.cfg.sets[0],
        m.cfg.sets[1],
        m.prev.sets[0],
        m.prev.sets[1],
        s.writer.cfg.sets[0],
        s.writer.cfg.sets[1],
    ]
    .into_iter()
    .enumerate()
    {
        if set & bit != 0 {
            roles |= 1 << k;
        }
    }
    if let Some(c) = m.change {
        if usize::from(c.f) == i {
            roles |= 1 << 6;
        }
        if usize::from(c.g) == i {
            roles |= 1 << 7;
        }
    }
    let msgs = match &s.net {
        Net::Instant { .. } => Vec::new(),
        Net::Explicit { msgs } => msgs
            .iter()
            .filter(|x| usize::from(x.dst) == i)
            .map(|x| (x.lsn, x.vol_epoch, x.mem_epoch))
            .collect(),
    };
    let mut seg = s.segs[i];
    seg.az = 0;
    SlotKey { seg, roles, msgs }
}

/// The canonical representative of `s` under the AZ and segment symmetries.
pub fn representative(azs: u8, s: &QuorumState) -> QuorumState {
    let n = s.segs.len();
    let keys: Vec<SlotKey> = (0..n).map(|i| slot_key(s, i)).collect();
    // Group live slots by AZ, sort each group, then sort the groups.
    let mut groups: Vec<Vec<usize>> = (0..azs)
        .map(|az| {
            let mut g: Vec<usize> = (0..n)
                .filter(|&i| !s.segs[i].spare && s.segs[i].az == az)
                .collect();
            g.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
            g
        })
        .collect();
    groups.sort_by(|a, b| {
        let ka = a.iter().map(|&i| &keys[i]);
        let kb = b.iter().map(|&i| &keys[i]);
        ka.cmp(kb)
    });
    let spares = (0..n).filter(|&i| s.segs[i].spare);
    let mut perm = vec![0usize; n];
    let mut order = Vec::with_capacity(n);
    let mut new_az = vec![u8::MAX; n];
    for (az, g) in groups.iter().enumerate() {
        for &i in g {
            new_az[i] = az as u8;
            order.push(i);
        }
    }
    order.extend(spares);
    for (new, &old) in order.iter().enumerate() {
        perm[old] = new;
    }
    let mut r = s.clone();
    r.segs = order
        .iter()
        .map(|&old| {
            let mut seg = s.segs[old];
            if !seg.spare {
                seg.az = new_az[old];
            }
            seg
        })
        .collect();
    r.mem.cfg = s.mem.cfg.permute(&perm);
    r.mem.prev = s.mem.prev.permute(&perm);
    r.writer.cfg = s.writer.cfg.permute(&perm);
    if let Some(c) = r.mem.change.as_mut() {
        c.f = perm[usize::from(c.f)] as u8;
        c.g = perm[usize::from(c.g)] as u8;
    }
    if let Net::Explicit { msgs } = &mut r.net {
        for m in msgs.iter_mut() {
            *m = WriteMsg {
                dst: perm[usize::from(m.dst)] as u8,
                ..*m
            };
        }
        msgs.sort();
    }
    r
}
