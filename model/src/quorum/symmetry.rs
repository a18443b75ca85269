//! Symmetry reduction: segments within an AZ are interchangeable, and so are AZs (every AZ has
//! the same number of segments and nothing in the protocol names an AZ).
//!
//! The representative sorts segments within each AZ by everything the state says about them
//! (their own fields, which quorum sets they belong to, whether they are the member being
//! replaced or the joiner, and the messages addressed to them), then sorts the AZs by their
//! sorted segment lists, and renames every slot reference (quorum-set bit sets, the change's
//! F and G, message destinations) by the resulting permutation. Two states that differ only by
//! such a renaming get the same representative. Unused spares are identical and stay last.
//!
//! This runs once per generated state, so it allocates nothing: a slot's key is its segment
//! packed into one integer (in the field order of `Segment`'s derived `Ord`) plus its roles
//! byte, with its messages compared as a slice (messages are kept sorted by destination, so a
//! slot's messages are contiguous). Slots with equal keys are interchangeable, so the sorts
//! need not be stable. When the state already is its own representative (common: the search
//! keeps representatives on its frontier) it is returned as is.

use std::cmp::Ordering;

use super::config::MAX_SEGMENTS;
use super::state::{AckInfo, Net, QuorumState, SegState, WriteMsg, permute_set};

/// The most AZs a representative groups (more than any geometry the config accepts).
const MAX_AZS: usize = MAX_SEGMENTS;

/// Everything about one slot that survives renaming, but its messages: the segment with its
/// AZ blanked, packed so that integer order is the derived `Ord` of `Segment` (fields in
/// declaration order, most significant first), then the slot's roles.
fn slot_key(s: &QuorumState, i: usize) -> u128 {
    let seg = &s.segs[i];
    let mut b = [0u8; 16];
    b[0] = u8::from(seg.up);
    b[1] = u8::from(seg.lost);
    b[2] = u8::from(seg.spare);
    // b[3]: the AZ, blanked.
    b[4] = seg.mem_epoch;
    b[5] = seg.vol_epoch;
    b[6] = seg.scl;
    b[7..15].copy_from_slice(&seg.recs);
    if seg.lost {
        // A lost disk holds nothing; what it held when lost (history the properties read)
        // takes the records' place.
        debug_assert_eq!(seg.recs, [0; 8], "a lost segment's records are erased");
        b[7] = s.ghost.lost_held[i];
    }
    b[15] = roles(s, i);
    u128::from_be_bytes(b)
}

/// Bit `k` for each quorum set (current, previous, the writer's) holding slot `i`; bits 6/7
/// for the member being replaced and the joiner.
fn roles(s: &QuorumState, i: usize) -> u8 {
    let bit = 1u16 << i;
    let m = &s.control.mem;
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
    roles
}

/// Slot keys and message ranges of one state, and the order they define.
struct Keys<'a> {
    keys: [u128; MAX_SEGMENTS],
    /// A further key per slot, compared after the rest (the actor model's signatures; 0 here).
    extra: [u64; MAX_SEGMENTS],
    /// `msgs[ranges[i].0..ranges[i].1]` are the messages addressed to slot `i`.
    ranges: [(u16, u16); MAX_SEGMENTS],
    msgs: &'a [WriteMsg],
}

impl<'a> Keys<'a> {
    fn new(s: &'a QuorumState, extra_of: Option<&dyn Fn(usize) -> u64>) -> Self {
        let n = s.segs.len();
        let mut keys = [0u128; MAX_SEGMENTS];
        let mut extra = [0u64; MAX_SEGMENTS];
        for (i, k) in keys.iter_mut().enumerate().take(n) {
            *k = slot_key(s, i);
            if let Some(f) = extra_of {
                extra[i] = f(i);
            }
        }
        let msgs: &[WriteMsg] = match &s.net {
            Net::Instant { .. } => &[],
            Net::Explicit { msgs } => msgs,
        };
        debug_assert!(msgs.is_sorted(), "messages are kept sorted");
        let mut ranges = [(0u16, 0u16); MAX_SEGMENTS];
        let mut at = 0usize;
        for (i, r) in ranges.iter_mut().enumerate().take(n) {
            let lo = at;
            while at < msgs.len() && usize::from(msgs[at].dst) == i {
                at += 1;
            }
            *r = (lo as u16, at as u16);
        }
        Keys {
            keys,
            extra,
            ranges,
            msgs,
        }
    }

    /// The messages to slot `i`, without their destination.
    fn msgs_of(&self, i: usize) -> impl Iterator<Item = (u8, u8, u8)> + '_ {
        let (lo, hi) = self.ranges[i];
        self.msgs[usize::from(lo)..usize::from(hi)]
            .iter()
            .map(|m| (m.lsn, m.vol_epoch, m.mem_epoch))
    }

    fn cmp(&self, a: usize, b: usize) -> Ordering {
        self.keys[a]
            .cmp(&self.keys[b])
            .then_with(|| self.msgs_of(a).cmp(self.msgs_of(b)))
            .then_with(|| self.extra[a].cmp(&self.extra[b]))
    }

    /// Lexicographic order of two slot sequences by their keys.
    fn cmp_seq(&self, a: &[u8], b: &[u8]) -> Ordering {
        for (&x, &y) in a.iter().zip(b) {
            match self.cmp(usize::from(x), usize::from(y)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        a.len().cmp(&b.len())
    }
}

/// The slot permutation to the representative: `order[new] = old`, and the AZ each live slot
/// lands in (`u8::MAX` for spares, which keep theirs).
pub(crate) fn canonical_order(
    azs: u8,
    s: &QuorumState,
    extra: Option<&dyn Fn(usize) -> u64>,
) -> ([u8; MAX_SEGMENTS], [u8; MAX_SEGMENTS]) {
    let n = s.segs.len();
    let azs = usize::from(azs);
    assert!(
        n <= MAX_SEGMENTS && azs <= MAX_AZS,
        "geometry exceeds the encoding"
    );
    let keys = Keys::new(s, extra);
    // Group live slots by AZ, sort each group, then sort the groups.
    let mut groups = [[0u8; MAX_SEGMENTS]; MAX_AZS];
    let mut lens = [0usize; MAX_AZS];
    for (i, seg) in s.segs.iter().enumerate() {
        if !seg.spare {
            let az = usize::from(seg.az);
            groups[az][lens[az]] = i as u8;
            lens[az] += 1;
        }
    }
    for az in 0..azs {
        groups[az][..lens[az]].sort_unstable_by(|&a, &b| keys.cmp(usize::from(a), usize::from(b)));
    }
    let mut az_order = [0usize; MAX_AZS];
    for (k, a) in az_order.iter_mut().enumerate().take(azs) {
        *a = k;
    }
    az_order[..azs]
        .sort_unstable_by(|&x, &y| keys.cmp_seq(&groups[x][..lens[x]], &groups[y][..lens[y]]));
    let mut order = [0u8; MAX_SEGMENTS];
    let mut new_az = [u8::MAX; MAX_SEGMENTS];
    let mut at = 0;
    for (new, &az) in az_order[..azs].iter().enumerate() {
        for &i in &groups[az][..lens[az]] {
            new_az[usize::from(i)] = new as u8;
            order[at] = i;
            at += 1;
        }
    }
    for (i, seg) in s.segs.iter().enumerate() {
        if seg.spare {
            order[at] = i as u8;
            at += 1;
        }
    }
    debug_assert_eq!(at, n);
    (order, new_az)
}

/// The canonical representative of `s` under the AZ and segment symmetries, reusing `s`.
pub fn canonical(azs: u8, mut s: QuorumState) -> QuorumState {
    let n = s.segs.len();
    let (order, new_az) = canonical_order(azs, &s, None);
    let identity = (0..n).all(|new| {
        let old = usize::from(order[new]);
        old == new && (s.segs[old].spare || s.segs[old].az == new_az[old])
    });
    if identity {
        return s;
    }
    let mut perm = [0usize; MAX_SEGMENTS];
    for (new, &old) in order[..n].iter().enumerate() {
        perm[usize::from(old)] = new;
    }
    let mut segs = [SegState::default(); MAX_SEGMENTS];
    segs[..n].copy_from_slice(&s.segs);
    let mut acks = [AckInfo::default(); MAX_SEGMENTS];
    let mut reports = [0; MAX_SEGMENTS];
    let mut lost_held = [0; MAX_SEGMENTS];
    let mut azs = [u8::MAX; MAX_SEGMENTS];
    for (new, &old) in order[..n].iter().enumerate() {
        let old = usize::from(old);
        let mut seg = segs[old];
        if !seg.spare {
            seg.az = new_az[old];
        }
        s.segs[new] = seg;
        acks[new] = s.writer.acks[old];
        reports[new] = s.control.reports[old];
        lost_held[new] = s.ghost.lost_held[old];
        azs[new] = if seg.spare {
            s.control.azs[old]
        } else {
            new_az[old]
        };
    }
    s.writer.acks[..n].copy_from_slice(&acks[..n]);
    s.control.reports[..n].copy_from_slice(&reports[..n]);
    s.ghost.lost_held[..n].copy_from_slice(&lost_held[..n]);
    s.control.azs[..n].copy_from_slice(&azs[..n]);
    let perm = &perm[..n];
    for seg in s.segs.iter_mut() {
        seg.gossipers = permute_set(seg.gossipers, perm);
    }
    let c = &mut s.control;
    c.mem.cfg = c.mem.cfg.permute(perm);
    c.mem.prev = c.mem.prev.permute(perm);
    c.up = permute_set(c.up, perm);
    c.lost = permute_set(c.lost, perm);
    c.spares = permute_set(c.spares, perm);
    if let Some(ch) = c.mem.change.as_mut() {
        ch.f = perm[usize::from(ch.f)] as u8;
        ch.g = perm[usize::from(ch.g)] as u8;
        ch.heard = permute_set(ch.heard, perm);
    }
    s.writer.cfg = s.writer.cfg.permute(perm);
    s.writer.lost = permute_set(s.writer.lost, perm);
    debug_assert_eq!(
        s.writer.pending,
        Default::default(),
        "no request is pending between steps"
    );
    if let Net::Explicit { msgs } = &mut s.net {
        for m in msgs.iter_mut() {
            m.dst = perm[usize::from(m.dst)] as u8;
        }
        msgs.sort_unstable();
    }
    s
}

/// The canonical representative of `s` under the AZ and segment symmetries.
pub fn representative(azs: u8, s: &QuorumState) -> QuorumState {
    canonical(azs, s.clone())
}

#[cfg(test)]
mod tests;
