//! Seeded runs of the simulated Backtrack cluster, on the schedule of [`crate::sim`]: the
//! candidates are the model's actions in the cluster's current state (lifted).

use quorate_model::backtrack::BacktrackConfig;
use quorate_model::backtrack::step::{Action, actions};

use super::Cluster;

/// What a seeded run did.
#[derive(Debug)]
pub struct Run {
    /// The cluster at the end.
    pub cluster: Cluster,
    /// Events carried out.
    pub events: usize,
}

/// Run `events` scheduled events from a fresh cluster under `cfg`, chosen by `seed`.
pub fn run_seeded(cfg: &BacktrackConfig, seed: u64, events: usize) -> Run {
    let cluster = std::cell::RefCell::new(Cluster::new(cfg));
    let events = crate::sim::run(
        seed,
        events,
        |out: &mut Vec<Action>| actions(cfg, &cluster.borrow().lift(), out),
        |a| cluster.borrow_mut().apply(a),
    );
    Run {
        cluster: cluster.into_inner(),
        events,
    }
}
