//! The seeded schedule every simulated cluster runs on: at every step it picks, with the
//! run's own [`Rng`], one of the events the model could take next (the candidates), and the
//! cluster carries it out if it can. The same seed gives the same run, byte for byte; nothing
//! else feeds it. Each protocol's `sim` module supplies the candidates and the cluster.

use crate::rng::Rng;

/// Run up to `events` events chosen by `seed`: `candidates` fills the events worth trying
/// now, `apply` carries one out (true) or refuses it. Returns how many were carried out; a
/// run stops early when nothing can be carried out (quiescent).
pub fn run<A: Copy>(
    seed: u64,
    events: usize,
    mut candidates: impl FnMut(&mut Vec<A>),
    mut apply: impl FnMut(&A) -> bool,
) -> usize {
    let mut rng = Rng::new(seed);
    let mut done = 0;
    let mut list: Vec<A> = Vec::new();
    while done < events {
        list.clear();
        candidates(&mut list);
        if list.is_empty() {
            break;
        }
        // Try the candidates from a random starting point; the first carried out is the event.
        let start = rng.below(list.len() as u64) as usize;
        let took = (0..list.len())
            .map(|k| list[(start + k) % list.len()])
            .any(|a| apply(&a));
        if !took {
            break;
        }
        done += 1;
    }
    done
}
