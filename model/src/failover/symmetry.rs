//! Symmetry reduction: segments within an AZ are interchangeable, and so are AZs. Nothing in
//! the failover state names a segment except its slot (instances, ranges and messages refer to
//! LSNs and epochs only), so the representative sorts segments within each AZ by everything
//! they hold, then sorts the AZs by their sorted lists, and renumbers the AZs.
//!
//! It runs once per generated state, so it allocates nothing: each segment is packed into one
//! integer key (its AZ left out), and the state is returned untouched when already canonical.

use super::config::MAX_SEGMENTS;
use super::state::{FailoverState, Seg};
use crate::quorum::config::MAX_LSN;

/// Everything about a segment but its AZ, packed so that equal keys mean equal segments.
pub(super) fn key(x: &Seg) -> u128 {
    // The last byte stays free: the packed hash puts the AZ there.
    const { assert!(4 + MAX_LSN < 16, "a segment and its AZ pack into 16 bytes") };
    let Seg {
        up,
        az: _,
        fence,
        trunc_epoch,
        scl,
        recs,
    } = *x;
    let mut b = [0u8; 16];
    b[0] = u8::from(up);
    b[1] = fence;
    b[2] = trunc_epoch;
    b[3] = scl;
    b[4..4 + MAX_LSN].copy_from_slice(&recs);
    u128::from_be_bytes(b)
}

/// The canonical representative of `s`, reusing it (returned untouched when canonical).
pub fn canonical(azs: u8, mut s: FailoverState) -> FailoverState {
    let n = s.segs.len();
    let azs = usize::from(azs);
    let mut keys = [0u128; MAX_SEGMENTS];
    for (k, x) in keys.iter_mut().zip(&s.segs) {
        *k = key(x);
    }
    // Slots per AZ (slots are laid out AZ by AZ), each AZ's slots sorted by key.
    let per = n / azs.max(1);
    let mut groups = [[0u8; MAX_SEGMENTS]; MAX_SEGMENTS];
    for (az, g) in groups.iter_mut().enumerate().take(azs) {
        for (j, slot) in g.iter_mut().enumerate().take(per) {
            *slot = (az * per + j) as u8;
        }
        g[..per].sort_unstable_by_key(|&i| keys[usize::from(i)]);
    }
    let mut az_order = [0usize; MAX_SEGMENTS];
    for (k, a) in az_order.iter_mut().enumerate().take(azs) {
        *a = k;
    }
    let list = |az: usize| groups[az][..per].iter().map(|&i| keys[usize::from(i)]);
    az_order[..azs].sort_unstable_by(|&a, &b| list(a).cmp(list(b)));
    let identity = az_order[..azs].iter().enumerate().all(|(new, &az)| {
        new == az
            && groups[az][..per]
                .iter()
                .enumerate()
                .all(|(j, &i)| usize::from(i) == az * per + j)
    });
    if identity {
        return s;
    }
    let old = s.segs.clone();
    for (new_az, &az) in az_order[..azs].iter().enumerate() {
        for (j, &i) in groups[az][..per].iter().enumerate() {
            s.segs[new_az * per + j] = Seg {
                az: new_az as u8,
                ..old[usize::from(i)]
            };
        }
    }
    s
}

/// The canonical representative of `s`.
pub fn representative(azs: u8, s: &FailoverState) -> FailoverState {
    canonical(azs, s.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};

    use stateright::Model;

    use super::*;
    use crate::failover::{FailoverConfig, FailoverModel};

    /// Up to `limit` states of `preset`, breadth first, without symmetry.
    fn reachable(preset: &str, limit: usize) -> Vec<FailoverState> {
        let mut cfg = FailoverConfig::preset(preset).unwrap();
        cfg.set("symmetry", "false").unwrap();
        let model = FailoverModel::new(cfg);
        let mut seen = HashSet::new();
        let mut queue: VecDeque<FailoverState> = model.init_states().into();
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

    /// Rotate the AZs by `rot` and reverse the slots within each AZ.
    fn rename(s: &FailoverState, azs: usize, rot: usize) -> FailoverState {
        let per = s.segs.len() / azs;
        let mut r = s.clone();
        for (i, x) in s.segs.iter().enumerate() {
            let (az, j) = (i / per, i % per);
            let to = (az + rot) % azs;
            r.segs[to * per + (per - 1 - j)] = Seg { az: to as u8, ..*x };
        }
        r
    }

    #[test]
    fn renamed_states_share_one_representative_that_is_a_renaming() {
        let states = reachable("ci", 20_000);
        assert!(states.iter().any(|s| s.segs.iter().any(|x| !x.up)));
        assert!(states.iter().any(|s| s.segs.iter().any(|x| x.fence > 1)));
        for s in &states {
            let c = canonical(3, s.clone());
            assert_eq!(canonical(3, c.clone()), c, "idempotent");
            let mut a: Vec<u128> = s.segs.iter().map(key).collect();
            let mut b: Vec<u128> = c.segs.iter().map(key).collect();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "the representative holds the same segments");
            assert_eq!((&c.insts, &c.truncs), (&s.insts, &s.truncs));
            for rot in 0..3 {
                assert_eq!(canonical(3, rename(s, 3, rot)), c, "rotation {rot}: {s:?}");
            }
        }
    }
}
