//! Seeded runs of the simulated cluster: at every step the schedule picks, with the run's own
//! [`Rng`], one of the events the model could take next, and the cluster carries it out if it
//! can. The same seed gives the same run, byte for byte; nothing else feeds it.

use quorate_model::quorum::step::{actions, init};
use quorate_model::quorum::{Action, QuorumConfig};

use super::Cluster;
use crate::rng::Rng;

/// What a seeded run did.
#[derive(Debug)]
pub struct Run {
    /// The cluster at the end.
    pub cluster: Cluster,
    /// Events carried out.
    pub events: usize,
}

/// Run `events` scheduled events from a fresh volume under `cfg`, chosen by `seed`.
pub fn run_seeded(cfg: &QuorumConfig, seed: u64, events: usize) -> Run {
    let mut rng = Rng::new(seed);
    let mut cluster = Cluster::new(cfg);
    let ghost = init(cfg);
    let mut done = 0;
    let mut candidates: Vec<Action> = Vec::new();
    while done < events {
        candidates.clear();
        actions(cfg, &cluster.lift(&ghost), &mut candidates);
        if candidates.is_empty() {
            break;
        }
        // Try the candidates from a random starting point; the first the cluster carries out
        // is the event.
        let start = rng.below(candidates.len() as u64) as usize;
        let took = (0..candidates.len())
            .map(|k| candidates[(start + k) % candidates.len()])
            .any(|a| cluster.apply(&a));
        if !took {
            break; // quiescent: nothing left that the cluster can do
        }
        done += 1;
    }
    Run {
        cluster,
        events: done,
    }
}
