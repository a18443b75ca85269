//! The allocation-free representative against the straightforward one it replaced, on every
//! state of small explorations, and its invariance under renaming.

use std::collections::{HashSet, VecDeque};

use stateright::Model;

use super::super::config::QuorumConfig;
use super::super::model::QuorumModel;
use super::canonical;

use super::super::state::{Net, QuorumState, Segment, WriteMsg, permute_set};

/// Everything about one slot that survives renaming, with its AZ number blanked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SlotKey {
    seg: Segment,
    /// What its disk held when it was lost (history).
    lost_held: u8,
    roles: u8,
    msgs: Vec<(u8, u8, u8)>,
}

fn slot_key(s: &QuorumState, i: usize) -> SlotKey {
    let bit = 1u16 << i;
    let m = s.mem();
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
    let mut seg = s.segs[i].core;
    seg.az = 0;
    SlotKey {
        seg,
        lost_held: s.ghost.lost_held[i],
        roles,
        msgs,
    }
}

/// The straightforward representative this module replaced, kept as the test oracle.
fn reference(azs: u8, s: &QuorumState) -> QuorumState {
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
    let az_of: Vec<u8> = (0..n)
        .map(|new| {
            let old = order[new];
            if s.segs[old].spare {
                s.segs[old].az
            } else {
                new_az[old]
            }
        })
        .collect();
    renamed(s, &perm, &az_of)
}

/// `s` with slot `old` renamed `perm[old]`, and the slot that lands at `new` in AZ `az_of[new]`.
fn renamed(s: &QuorumState, perm: &[usize], az_of: &[u8]) -> QuorumState {
    let n = s.segs.len();
    let mut r = s.clone();
    for old in 0..n {
        let new = perm[old];
        let mut seg = s.segs[old];
        if !seg.spare {
            seg.az = az_of[new];
        }
        seg.gossipers = permute_set(seg.gossipers, perm);
        r.segs[new] = seg;
        r.writer.acks[new] = s.writer.acks[old];
        r.control.reports[new] = s.control.reports[old];
        r.ghost.lost_held[new] = s.ghost.lost_held[old];
        r.control.azs[new] = if seg.spare {
            s.control.azs[old]
        } else {
            az_of[new]
        };
    }
    let c = &mut r.control;
    c.mem.cfg = s.control.mem.cfg.permute(perm);
    c.mem.prev = s.control.mem.prev.permute(perm);
    c.up = permute_set(s.control.up, perm);
    c.lost = permute_set(s.control.lost, perm);
    r.writer.lost = permute_set(s.writer.lost, perm);
    c.spares = permute_set(s.control.spares, perm);
    if let Some(ch) = c.mem.change.as_mut() {
        ch.f = perm[usize::from(ch.f)] as u8;
        ch.g = perm[usize::from(ch.g)] as u8;
        ch.heard = permute_set(ch.heard, perm);
    }
    r.writer.cfg = s.writer.cfg.permute(perm);
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

/// Up to `limit` concrete states of `preset` with the overrides, breadth first, no symmetry.
fn reachable(preset: &str, overrides: &[(&str, &str)], limit: usize) -> Vec<QuorumState> {
    let mut cfg = QuorumConfig::preset(preset).unwrap();
    for (k, v) in overrides {
        cfg.set(k, v).unwrap();
    }
    cfg.set("symmetry", "false").unwrap();
    cfg.validate().unwrap();
    let model = QuorumModel::new(cfg);
    let mut seen: HashSet<QuorumState> = HashSet::new();
    let mut queue: VecDeque<QuorumState> = model.init_states().into();
    let mut out = Vec::new();
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        if out.len() >= limit {
            break;
        }
        if !seen.insert(s.clone()) {
            continue;
        }
        model.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(n) = model.next_state(&s, a) {
                queue.push_back(n);
            }
        }
        out.push(s);
    }
    out
}

/// Rename slots by a permutation that maps AZs to AZs and keeps spares in place: rotate the
/// AZs by `rot` and reverse the slots inside each AZ.
fn rename(s: &QuorumState, azs: u8, rot: u8) -> QuorumState {
    let n = s.segs.len();
    let mut perm: Vec<usize> = (0..n).collect();
    let live: Vec<usize> = (0..n).filter(|&i| !s.segs[i].spare).collect();
    let mut by_az: Vec<Vec<usize>> = vec![Vec::new(); usize::from(azs)];
    for &i in &live {
        by_az[usize::from(s.segs[i].az)].push(i);
    }
    for az in 0..azs {
        let to = (az + rot) % azs;
        let from_slots = &by_az[usize::from(az)];
        let to_slots = &by_az[usize::from(to)];
        if from_slots.len() != to_slots.len() {
            return s.clone(); // unequal AZs: keep the test to renamings that exist
        }
        for (k, &old) in from_slots.iter().enumerate() {
            let new = to_slots[to_slots.len() - 1 - k];
            perm[old] = new;
        }
    }
    let az_of: Vec<u8> = (0..n).map(|new| s.segs[new].az).collect();
    renamed(s, &perm, &az_of)
}

/// Check `preset`'s first states; `covers` names what some of them must show, so the test
/// cannot pass on states that never exercise the feature.
fn agree_on(preset: &str, overrides: &[(&str, &str)], covers: fn(&QuorumState) -> bool) {
    let states = reachable(preset, overrides, 20_000);
    assert!(
        states.len() > 1_000,
        "{preset}: only {} states",
        states.len()
    );
    assert!(
        states.iter().any(covers),
        "{preset}: no state shows the feature"
    );
    for s in &states {
        let want = reference(3, s);
        assert_eq!(canonical(3, s.clone()), want, "{preset}: {s:?}");
        for rot in 0..3 {
            assert_eq!(
                canonical(3, rename(s, 3, rot)),
                want,
                "{preset} rot {rot}: {s:?}"
            );
        }
    }
}

#[test]
fn agrees_with_the_reference_with_explicit_messages() {
    agree_on(
        "messages",
        &[],
        |s| matches!(&s.net, Net::Explicit { msgs } if msgs.len() > 2),
    );
}

#[test]
fn agrees_with_the_reference_during_membership_changes() {
    agree_on("membership", &[], |s| {
        s.control.mem.change.is_some_and(|c| c.heard != 0) && s.control.mem.cfg.dual
    });
}

#[test]
fn agrees_with_the_reference_with_disk_loss() {
    agree_on("disk", &[], |s| s.ghost.lost_held.iter().any(|&h| h != 0));
}
