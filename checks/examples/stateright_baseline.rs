//! The "before" of the checker-speed figures: stateright 0.31's own checkers on Quorate's models
//! (the register benchmark, and the quorum model's `default` config with symmetry, which
//! stateright applies only under DFS). Prints unique states, seconds and unique states/s; peak
//! memory comes from `/usr/bin/time -f %M`. A benchmark, not a test.
//!
//! `cargo run --release -p quorate --example stateright_baseline -- register-bfs|register-dfs|quorum-dfs-sym`

use std::time::Instant;

use quorate_model::quorum::{QuorumConfig, QuorumModel, QuorumState};
use quorate_model::register::{RegisterConfig, RegisterModel};
use stateright::{Checker, Model};

/// The quorum representative for stateright's `symmetry_fn`, which takes a plain `fn`.
fn quorum_rep(s: &QuorumState) -> QuorumState {
    quorate_model::quorum::symmetry::representative(3, s)
}

fn report(what: &str, unique: usize, total: usize, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{what}: unique {unique} total {total} in {secs:.2} s = {:.0} unique/s",
        unique as f64 / secs
    );
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let t = Instant::now();
    match which.as_str() {
        "register-bfs" | "register-dfs" => {
            let m = RegisterModel {
                cfg: RegisterConfig::benchmark(),
            };
            // spawn_bfs and spawn_dfs return different types; report from each branch.
            if which.ends_with("bfs") {
                let c = m.checker().spawn_bfs().join();
                report(&which, c.unique_state_count(), c.state_count(), t);
            } else {
                let c = m.checker().spawn_dfs().join();
                report(&which, c.unique_state_count(), c.state_count(), t);
            }
        }
        "quorum-dfs-sym" => {
            let m = QuorumModel::new(QuorumConfig::preset("default").expect("preset"));
            let c = m.checker().symmetry_fn(quorum_rep).spawn_dfs().join();
            report(&which, c.unique_state_count(), c.state_count(), t);
        }
        _ => {
            eprintln!("usage: stateright_baseline register-bfs|register-dfs|quorum-dfs-sym");
            std::process::exit(2);
        }
    }
}
